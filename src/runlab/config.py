"""Run configs: dotted overrides, flat views, merging and the argparse bridge.

A config is plain nested data: dicts with ``str`` keys, lists, and ``str``,
``int``, ``float``, ``bool`` or ``None`` leaves. Every function here takes and
returns that shape, so a config can go to YAML, JSON and the index unchanged.

YAML files are read and written by :func:`load_config`, :func:`loads_config`,
:func:`dump_config` and :func:`dumps_config`, re-exported from
:mod:`runlab._yaml`, whose docstring states the YAML 1.2 rules they follow.

A dotted key (``optim.lr``, ``layers.0.units``) addresses nested dicts and list
items. Reading it also finds a literal key holding a dot; writing a key that
does not exist always nests. :func:`flatten_config` refuses a config where a
literal dotted key and a nested path spell the same flat key.
"""

from __future__ import annotations

import argparse
import copy
import difflib
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, NamedTuple

from runlab._plain import to_plain, to_plain_mapping
from runlab.errors import ConfigError

__all__ = [
    "ConfigView",
    "Override",
    "apply_overrides",
    "config_from_namespace",
    "dump_config",
    "dumps_config",
    "fill_parser_defaults",
    "flatten_config",
    "get_dotted",
    "load_config",
    "loads_config",
    "loose_overrides",
    "merge_config",
    "namespace_to_config",
    "overrides_no_flag_reads",
    "parse_override",
    "parser_config_paths",
    "set_dotted",
    "to_config_dict",
]


# The YAML functions live in runlab._yaml, which imports ruamel.yaml (about 10
# ms); these doors import it on first use, so reading a config view or a
# cached config costs nothing of it.


def load_config(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a YAML 1.2 config file; see :func:`runlab._yaml.load_config`."""
    from runlab import _yaml

    return _yaml.load_config(path)


def loads_config(text: str, source: str = "<string>") -> dict[str, Any]:
    """Read a YAML 1.2 config from text; see :func:`runlab._yaml.loads_config`."""
    from runlab import _yaml

    return _yaml.loads_config(text, source)


def dump_config(config: Mapping[str, Any], path: str | os.PathLike[str]) -> None:
    """Write a config as YAML 1.2, atomically; see :func:`runlab._yaml.dump_config`."""
    from runlab import _yaml

    _yaml.dump_config(config, path)


def dumps_config(config: Mapping[str, Any]) -> str:
    """Return a config as YAML 1.2 text; see :func:`runlab._yaml.dumps_config`."""
    from runlab import _yaml

    return _yaml.dumps_config(config)


def _copy_tree(value: Any) -> Any:
    """Deep-copy mappings (as dicts) and lists; leaves are copied as they are."""
    if isinstance(value, Mapping):
        return {key: _copy_tree(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy_tree(item) for item in value]
    return copy.deepcopy(value)


# -- dotted keys and overrides -------------------------------------------------


class Override(NamedTuple):
    """One change to a config from the command line.

    Attributes:
        key: the dotted key, e.g. ``optim.lr`` or ``layers.0.units``.
        value: the parsed YAML value (``None`` for a removal).
        is_new: written ``+key=value``; the key may be missing and is then added.
        is_delete: written ``~key``; the key is removed.
    """

    key: str
    value: Any = None
    is_new: bool = False
    is_delete: bool = False


def parse_override(text: str) -> Override:
    """Parse ``key=value``, ``+key=value`` or ``~key``.

    The value is read as a YAML 1.2 flow value: ``[64,64]`` is a list of ints,
    ``0.01`` a float, ``'1'`` the string "1", ``null`` None, and nothing after
    ``=`` the empty string. Text YAML would read as a block (``a: b``, ``- x``)
    or cut at a comment (``fix #12``) is kept as the string written.

    Raises:
        ConfigError: no ``=``, an empty key or key part, or a malformed value.
    """
    stripped = text.strip()
    if stripped.startswith("~"):
        if "=" in stripped:
            raise ConfigError(
                f"Override '{text}' both removes and sets a key; "
                "write ~key to remove it."
            )
        return Override(_checked_key(stripped[1:].strip(), text), is_delete=True)
    is_new = stripped.startswith("+")
    key, sep, raw = (stripped[1:] if is_new else stripped).partition("=")
    if not sep:
        raise ConfigError(
            f"Override '{text}' has no '='; write key=value, +key=value to add a key, "
            "or ~key to remove one."
        )
    return Override(_checked_key(key.strip(), text), _override_value(raw, text), is_new)


def _checked_key(key: str, text: str) -> str:
    if not key:
        raise ConfigError(f"Override '{text}' has an empty key; write key=value.")
    if "" in key.split("."):
        raise ConfigError(
            f"Override '{text}' has an empty part in key '{key}'; "
            "separate names with single dots."
        )
    return key


def _override_value(raw: str, text: str) -> Any:
    from runlab._yaml import loads_flow_value

    return loads_flow_value(raw, f"Override '{text}'")


def apply_overrides(
    config: Mapping[str, Any], overrides: Sequence[str], *, source: str = "the config"
) -> dict[str, Any]:
    """Return a new config with each override applied in order.

    ``optim.lr=0.01`` sets ``config["optim"]["lr"]`` (never a literal key
    ``"optim.lr"``); ``layers.0.units=8`` reaches into lists; ``+key=value``
    adds a key, creating missing parents; ``~key`` removes one. ``config`` is
    not changed.

    Raises:
        ConfigError: an override is malformed, or names a key that does not
            exist without ``+`` (the message suggests close keys from ``source``).
    """
    result: dict[str, Any] = _copy_tree(config)
    for text in overrides:
        override = parse_override(text)
        if override.is_new:
            set_dotted(result, override.key, override.value)
            continue
        path = _find_path(result, override.key.split("."))
        if path is None:
            raise _missing_key_error(result, override, source)
        parent = _walk(result, path[:-1])
        if override.is_delete:
            del parent[path[-1]]
        else:
            parent[path[-1]] = override.value
    return result


def _missing_key_error(
    config: Mapping[str, Any], override: Override, source: str
) -> ConfigError:
    key = override.key
    known = [name for name, _ in _iter_leaves(config, "")]
    close = difflib.get_close_matches(key, known, n=3)
    hint = "; did you mean '" + "' or '".join(close) + "'?" if close else "."
    if override.is_delete:
        return ConfigError(
            f"Config key '{key}' does not exist in {source}{hint} "
            f"Nothing to remove with ~{key}."
        )
    return ConfigError(
        f"Config key '{key}' does not exist in {source}{hint} Use +{key}=... to add it."
    )


def get_dotted(config: Mapping[str, Any], key: str) -> Any:
    """Return the value at dotted ``key``; raise ``KeyError`` when it is missing."""
    path = _find_path(config, key.split("."))
    if path is None:
        raise KeyError(key)
    return _walk(config, path)


def set_dotted(config: dict[str, Any], key: str, value: Any) -> None:
    """Set dotted ``key`` to ``value`` in place, creating missing parent dicts.

    An existing key is found as :func:`get_dotted` finds it; a missing one is
    always created nested. A list index may be one past the end to append.

    Raises:
        ConfigError: the path runs through a value that is not a dict or list,
            or uses a list index that is not a number in range.
    """
    path = _find_path(config, key.split("."))
    if path is not None:
        _walk(config, path[:-1])[path[-1]] = value
        return
    parts = key.split(".")
    node: Any = config
    for depth, part in enumerate(parts[:-1]):
        node = _step_or_create(node, part, key, parts[:depth])
    _put(node, parts[-1], value, key, parts[:-1])


def _step_or_create(node: Any, part: str, key: str, above: list[str]) -> Any:
    if isinstance(node, dict):
        return node.setdefault(part, {})
    if isinstance(node, list) and _is_index(part, len(node)):
        return node[int(part)]
    raise _unreachable(node, part, key, above)


def _put(node: Any, part: str, value: Any, key: str, above: list[str]) -> None:
    if isinstance(node, dict):
        node[part] = value
    elif isinstance(node, list) and part == str(len(node)):
        node.append(value)
    elif isinstance(node, list) and _is_index(part, len(node)):
        node[int(part)] = value
    else:
        raise _unreachable(node, part, key, above)


def _unreachable(node: Any, part: str, key: str, above: list[str]) -> ConfigError:
    where = f"'{'.'.join(above)}'" if above else "the top level"
    if isinstance(node, list):
        problem = (
            f"{where} is a list of {len(node)} items and '{part}' is not an index in it"
        )
    else:
        problem = f"{where} holds a {type(node).__name__}, not a mapping"
    return ConfigError(f"Cannot set config key '{key}': {problem}.")


def _find_path(node: Any, parts: Sequence[str]) -> list[Any] | None:
    """Resolve key parts to dict keys and list indices, or None when missing.

    Nested keys are tried first; a literal key holding dots (``"optim.lr"``)
    matches only when no nested path does.
    """
    if not parts:
        return []
    for size in range(1, len(parts) + 1):
        step = _child_step(node, ".".join(parts[:size]))
        if step is None:
            continue
        rest = _find_path(node[step], parts[size:])
        if rest is not None:
            return [step, *rest]
    return None


def _child_step(node: Any, name: str) -> Any:
    if isinstance(node, Mapping):
        return name if name in node else None
    if isinstance(node, list) and _is_index(name, len(node)):
        return int(name)
    return None


def _is_index(text: str, length: int) -> bool:
    return text.isascii() and text.isdigit() and int(text) < length


def _walk(node: Any, path: Sequence[Any]) -> Any:
    for step in path:
        node = node[step]
    return node


# -- flat views and merging ----------------------------------------------------


def flatten_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``{dotted path: leaf}``, list items by index (``layers.0.units``).

    Empty dicts and lists are leaves holding their empty value.

    Raises:
        ConfigError: two paths spell the same flat key, as a literal key
            ``"optim.lr"`` next to ``optim: {lr: ...}`` does.
    """
    flat: dict[str, Any] = {}
    for key, value in _iter_leaves(config, ""):
        if key in flat:
            raise ConfigError(
                f"Config keys are ambiguous: '{key}' is both a key holding a dot "
                "and a nested path; rename the key."
            )
        flat[key] = value
    return flat


def _iter_leaves(node: Any, prefix: str) -> Iterator[tuple[str, Any]]:
    items = node.items() if isinstance(node, Mapping) else enumerate(node)
    for key, value in items:
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, (Mapping, list, tuple)) and value:
            yield from _iter_leaves(value, path)
        elif isinstance(value, (Mapping, list, tuple)):
            yield path, {} if isinstance(value, Mapping) else []
        else:
            yield path, value


def merge_config(
    primary: Mapping[str, Any], fallback: Mapping[str, Any]
) -> dict[str, Any]:
    """Return a deep merge: ``primary`` wins, ``fallback`` fills missing keys.

    Dicts present in both are merged key by key; any other value in
    ``primary`` (a list included) replaces the fallback's whole. Keys keep
    ``primary``'s order, then the fallback's extra keys follow.
    """
    result: dict[str, Any] = _copy_tree(primary)
    for key, value in fallback.items():
        if key not in result:
            result[key] = _copy_tree(value)
        elif isinstance(result[key], dict) and isinstance(value, Mapping):
            result[key] = merge_config(result[key], value)
    return result


# -- attribute access ----------------------------------------------------------


class ConfigView(Mapping[str, Any]):
    """Read-only view of a nested config with attribute access.

    ``view.optim.lr`` and ``view["optim"]["lr"]`` read the same value; nested
    dicts come back as views and lists as new lists whose dicts are views.
    Keys that are not identifiers, or that share a name with a Mapping method
    (``items``, ``keys``, ``values``, ``get``, ``to_dict``), are read with ``view[key]``.
    The view shares the dict it wraps; :meth:`to_dict` returns a copy.
    """

    __slots__ = ("_data", "_path")

    def __init__(self, data: Mapping[str, Any], path: str = "") -> None:
        object.__setattr__(self, "_data", data)
        object.__setattr__(self, "_path", path)

    def __getitem__(self, key: str) -> Any:
        return _view_of(self._data[key], self._child(key))

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in ConfigView.__slots__:
            raise AttributeError(name)
        if name in self._data:
            return self[name]
        close = difflib.get_close_matches(name, [str(key) for key in self._data], n=3)
        hint = (
            "; did you mean '" + "' or '".join(self._child(c) for c in close) + "'?"
            if close
            else "."
        )
        raise AttributeError(f"Config has no key '{self._child(name)}'{hint}")

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(
            "ConfigView is read-only; change a copy made with to_dict()."
        )

    def __dir__(self) -> list[str]:
        names = {str(key) for key in self._data if str(key).isidentifier()}
        return sorted(set(super().__dir__()) | names)

    def __repr__(self) -> str:
        return f"ConfigView({self._data!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (ConfigView, (self._data, self._path))

    def to_dict(self) -> dict[str, Any]:
        """Return a deep copy of the config as plain dicts and lists."""
        return dict(_copy_tree(self._data))

    def _child(self, key: str) -> str:
        return f"{self._path}.{key}" if self._path else str(key)


def _view_of(value: Any, path: str) -> Any:
    if isinstance(value, Mapping):
        return ConfigView(value, path)
    if isinstance(value, (list, tuple)):
        return [_view_of(item, f"{path}.{i}") for i, item in enumerate(value)]
    return value


# -- argparse and user input ---------------------------------------------------


def config_from_namespace(namespace: argparse.Namespace) -> dict[str, Any]:
    """Return ``vars(namespace)`` as plain config data.

    Paths become strings, tuples and sets lists, enums their value, NumPy
    scalars plain numbers, functions (``set_defaults(func=...)``) their dotted
    name, and any other object its ``str()``.
    """
    return {
        key: to_plain(value, key, strict=False)
        for key, value in vars(namespace).items()
    }


def fill_parser_defaults(
    parser: argparse.ArgumentParser, config: Mapping[str, Any]
) -> None:
    """Set the defaults of ``parser``'s arguments from ``config``.

    An argument matches a config key equal to its ``dest``, or a nested key
    whose dotted path with ``.`` and ``-`` replaced by ``_`` equals it
    (``optim.lr`` feeds ``--optim-lr``, dest ``optim_lr``). String defaults are
    still converted by the argument's ``type``, as argparse does. A required
    argument that the config provides is no longer required. Subcommand
    parsers are filled too; config keys with no argument are ignored.

    Raises:
        ConfigError: a config value is not one of an argument's ``choices``.
    """
    paths = parser_config_paths(parser, config)
    found = {}
    for action in _own_actions(parser):
        if action.dest not in paths:
            continue
        value = copy.deepcopy(get_dotted(config, paths[action.dest]))
        _check_choices(action, paths[action.dest], value)
        found[action.dest] = value
        action.required = False
    if found:
        parser.set_defaults(**found)
    for sub in _subparsers(list(parser._actions)):
        fill_parser_defaults(sub, config)


def parser_config_paths(
    parser: argparse.ArgumentParser, config: Mapping[str, Any]
) -> dict[str, str]:
    """Map each argument ``dest`` of ``parser`` that the config feeds to its key path."""
    by_dest = _paths_by_dest(config)
    return {
        action.dest: by_dest[action.dest]
        for action in _own_actions(parser)
        if action.dest in by_dest
    }


def loose_overrides(meta: Mapping[str, Any]) -> dict[str, str]:
    """The overrides a run's ``run.json`` records from ``runlab run`` without
    ``-c``, by key: only the script knows the config they are laid over.

    ``+key=value`` adds a key on purpose and is left out.
    """
    if meta.get("config_file"):
        return {}
    texts = meta.get("overrides") or []
    return {parse_override(t).key: t for t in texts if not t.startswith("+")}


def overrides_no_flag_reads(
    parser: argparse.ArgumentParser, config: Mapping[str, Any], keys: Sequence[str]
) -> dict[str, str | None]:
    """The override ``keys`` that feed no argument of ``parser`` (nor of its
    sub-commands), each with the closest argument's ``dest`` or None.

    An unmodified argparse script run through ``runlab run lrr=0.2`` would
    otherwise train on its default ``lr`` while the config records ``lrr``.
    """
    import difflib

    parsers = [parser, *_subparsers(list(parser._actions))]
    fed: set[str] = set()
    dests: set[str] = set()
    for one in parsers:
        fed.update(parser_config_paths(one, config).values())
        dests.update(a.dest for a in _own_actions(one) if a.dest != "help")
    unread: dict[str, str | None] = {}
    for key in keys:
        if any(path == key or path.startswith(f"{key}.") for path in fed):
            continue
        wanted = key.replace(".", "_").replace("-", "_")
        close = difflib.get_close_matches(wanted, sorted(dests), n=1)
        unread[key] = close[0] if close else None
    return unread


def namespace_to_config(
    namespace: argparse.Namespace,
    parser: argparse.ArgumentParser,
    config: Mapping[str, Any],
) -> dict[str, Any]:
    """Return parsed flags as config: a flag fed by a nested key goes back there.

    ``--optim-lr 0.9`` fed by ``optim: {lr: ...}`` is recorded as
    ``{"optim": {"lr": 0.9}}``, not as a second key ``optim_lr``.
    """
    flags = config_from_namespace(namespace)
    paths = parser_config_paths(parser, config)
    result: dict[str, Any] = {}
    for dest, value in flags.items():
        set_dotted(result, paths.get(dest, dest), value)
    return result


def _own_actions(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    # argparse keeps its arguments in the private `_actions`; there is no public list.
    return [a for a in parser._actions if a.default is not argparse.SUPPRESS]


def _check_choices(action: argparse.Action, path: str, value: Any) -> None:
    if action.choices is None:
        return
    values = value if isinstance(value, list) else [value]
    bad = [v for v in values if v not in action.choices]
    if bad:
        flag = "/".join(action.option_strings) or action.dest
        allowed = ", ".join(repr(c) for c in action.choices)
        raise ConfigError(
            f"Config key '{path}' = {bad[0]!r} is not a choice of {flag} ({allowed})."
        )


def _paths_by_dest(config: Mapping[str, Any]) -> dict[str, str]:
    paths: dict[str, str] = {}
    for key, _value in _iter_mapping_leaves(config, ""):
        paths.setdefault(key.replace(".", "_").replace("-", "_"), key)
    paths.update({str(key): str(key) for key in config})  # exact keys win
    return paths


def _iter_mapping_leaves(
    node: Mapping[str, Any], prefix: str
) -> Iterator[tuple[str, Any]]:
    # Unlike flatten_config, lists stay whole: they feed nargs="+" arguments.
    for key, value in node.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping) and value:
            yield from _iter_mapping_leaves(value, path)
        else:
            yield path, value


def _subparsers(actions: list[argparse.Action]) -> list[argparse.ArgumentParser]:
    found: dict[int, argparse.ArgumentParser] = {}
    for action in actions:
        if isinstance(action, argparse._SubParsersAction):
            found.update({id(sub): sub for sub in action.choices.values()})
    return list(found.values())


def to_config_dict(
    config: str | os.PathLike[str] | Mapping[str, Any] | argparse.Namespace | None,
) -> dict[str, Any]:
    """Turn what a user passes as ``runlab.start(config=...)`` into plain data.

    Args:
        config: a YAML file path, a mapping (a :class:`ConfigView`, an OmegaConf
            ``DictConfig`` or any object with ``to_container()`` included), a
            dataclass instance, an ``argparse.Namespace``, or None for ``{}``.

    Returns:
        A new dict with str keys and plain values, as :func:`config_from_namespace`
        makes them.

    Raises:
        ConfigError: the file cannot be loaded, or ``config`` is another type.
    """
    if config is None:
        return {}
    if isinstance(config, (str, os.PathLike)):
        return load_config(config)
    if isinstance(config, argparse.Namespace):
        return config_from_namespace(config)
    if isinstance(config, ConfigView):
        return config.to_dict()
    container = _container_of(config)
    if isinstance(container, Mapping):
        return to_plain_mapping(container, "", strict=False)
    raise ConfigError(
        f"Cannot use a {type(config).__name__} as a run config; pass a YAML file path, "
        "a mapping, a dataclass instance, an argparse.Namespace or None."
    )


def _container_of(config: Any) -> Any:
    omegaconf = sys.modules.get("omegaconf")  # only present if the user imported it
    if omegaconf is not None and isinstance(config, omegaconf.DictConfig):
        return omegaconf.OmegaConf.to_container(config, resolve=True)
    to_container = getattr(config, "to_container", None)
    if callable(to_container):
        return to_container()
    # A dataclass instance means the caller imported dataclasses already.
    dataclasses = sys.modules.get("dataclasses")
    if (
        dataclasses
        and dataclasses.is_dataclass(config)
        and not isinstance(config, type)
    ):
        return dataclasses.asdict(config)
    return config
