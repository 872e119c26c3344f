"""Turning what users pass as a config (dicts, Namespaces, NumPy values,
paths, enums) into plain data: str keys; str, int, float, bool, None, lists and
dicts as values. Kept apart from runlab._yaml so that it costs no YAML import.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from pathlib import PurePath
from typing import Any

from runlab._numbers import is_narrow_float, shorten_floats
from runlab.errors import ConfigError

__all__ = ["to_plain", "to_plain_mapping"]

_SUPPORTED = "strings, numbers, booleans, null, lists and mappings"


def to_plain(value: Any, path: str, *, strict: bool) -> Any:
    """Return ``value`` as plain config data, converting friendly types.

    With ``strict``, an object with no faithful plain form raises ConfigError;
    otherwise it becomes its ``str()`` (a function becomes its dotted name).
    ``path`` is the dotted key of ``value``, named in errors.
    """
    if isinstance(value, Enum):
        value = value.value
    if value is None or type(value) in (str, int, float, bool):
        return value
    if isinstance(value, (bool, int, float, str)):
        return _plain_scalar(value)
    if isinstance(value, Mapping):
        return to_plain_mapping(value, path, strict=strict)
    if isinstance(value, (list, tuple, set, frozenset)):
        return _plain_list(value, path, strict=strict)
    if isinstance(value, PurePath):
        return str(value)
    tolist = getattr(value, "tolist", None)
    if callable(tolist):  # NumPy and PyTorch scalars and arrays
        plain = tolist()
        if is_narrow_float(value):
            plain = shorten_floats(plain)
        return to_plain(plain, path, strict=strict)
    return _unknown(value, path, strict=strict)


def to_plain_mapping(
    value: Mapping[Any, Any], path: str, *, strict: bool
) -> dict[str, Any]:
    """Return ``value`` as a dict with ``str`` keys and plain values.

    Raises:
        ConfigError: two keys read as the same string, or (with ``strict``) a
            value has no faithful plain form.
    """
    result: dict[str, Any] = {}
    for key, item in value.items():
        name = key if isinstance(key, str) else str(to_plain(key, path, strict=False))
        child = f"{path}.{name}" if path else name
        if name in result:
            raise ConfigError(
                f"Config keys at '{child}' collide: two keys both read as '{name}'."
            )
        result[name] = to_plain(item, child, strict=strict)
    return result


def _plain_scalar(value: bool | int | float | str) -> bool | int | float | str:
    # Subclasses (np.float64 is a float) would otherwise reach YAML as objects.
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    return str.__str__(value)


def _plain_list(
    value: list[Any] | tuple[Any, ...] | set[Any] | frozenset[Any],
    path: str,
    *,
    strict: bool,
) -> list[Any]:
    items = _ordered(value) if isinstance(value, (set, frozenset)) else value
    return [
        to_plain(item, f"{path}.{i}" if path else str(i), strict=strict)
        for i, item in enumerate(items)
    ]


def _ordered(items: set[Any] | frozenset[Any]) -> list[Any]:
    try:
        return sorted(items)
    except TypeError:
        return sorted(items, key=repr)


def _unknown(value: Any, path: str, *, strict: bool) -> Any:
    if strict:
        raise ConfigError(
            f"Config value at '{path}' is a {type(value).__name__}, which a config "
            f"cannot store; convert it to one of {_SUPPORTED}."
        )
    if callable(value) and hasattr(value, "__qualname__"):
        return f"{getattr(value, '__module__', None) or '?'}.{value.__qualname__}"
    return str(value)
