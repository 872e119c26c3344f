"""Run configs: YAML files, dotted overrides, flat views and the argparse bridge.

A config is plain nested data: dicts with ``str`` keys, lists, and ``str``,
``int``, ``float``, ``bool`` or ``None`` leaves. Every function here takes and
returns that shape, so a config can go to YAML, JSON and the index unchanged.

YAML is read as YAML 1.2: ``1e-3`` is a float, ``no``/``off``/``ON`` are strings,
``08`` is the int 8, and only ``true``/``false`` are booleans. Keys are kept as
written (``1:`` gives the key ``"1"``). Duplicate keys, malformed YAML and
non-mapping documents raise :class:`~runlab.errors.ConfigError` with the file,
line and column. Written YAML quotes every string that YAML 1.1 or 1.2 would
read as something else, so :func:`dump_config` then :func:`load_config` gives
back the same values with the same types. A file that declares ``%YAML 1.1``
is read by the 1.1 rules it asks for.

A dotted key (``optim.lr``, ``layers.0.units``) addresses nested dicts and list
items. Reading it also finds a literal key holding a dot; writing a key that
does not exist always nests. :func:`flatten_config` refuses a config where a
literal dotted key and a nested path spell the same flat key.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import dataclasses
import difflib
import io
import math
import os
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path, PurePath
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from ruamel.yaml.reader import ReaderError
from ruamel.yaml.resolver import VersionedResolver

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
    "merge_config",
    "parse_override",
    "set_dotted",
    "to_config_dict",
]

_TAG = "tag:yaml.org,2002:"
_STR, _INT, _FLOAT, _BOOL, _NULL = (
    _TAG + t for t in ("str", "int", "float", "bool", "null")
)
_MAP, _SEQ, _MERGE = _TAG + "map", _TAG + "seq", _TAG + "merge"
# Plain scalars YAML 1.2 types as timestamps or `=` have no plain-data meaning
# here, so they stay the text the user wrote.
_TEXT_TAGS = frozenset({_STR, _TAG + "timestamp", _TAG + "value", _MERGE})
_SUPPORTED = "strings, numbers, booleans, null, lists and mappings"


# -- loading -------------------------------------------------------------------


def load_config(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a YAML 1.2 config file into plain nested data.

    Args:
        path: the YAML file; UTF-8, with or without a byte-order mark.

    Returns:
        The top-level mapping as a dict (``{}`` for an empty file).

    Raises:
        ConfigError: the file is missing or unreadable, the YAML is malformed
            (the message reads ``<path>:<line>:<column>: <problem>``), a
            mapping repeats a key, or the top level is not a mapping.
    """
    name = os.fspath(path)
    try:
        text = Path(name).read_text(encoding="utf-8-sig")
    except FileNotFoundError as err:
        raise ConfigError(f"Config file '{name}' does not exist.") from err
    except IsADirectoryError as err:
        raise ConfigError(
            f"Config file '{name}' is a folder; pass a YAML file."
        ) from err
    except UnicodeDecodeError as err:
        raise ConfigError(
            f"Config file '{name}' is not UTF-8 text (byte {err.start}); "
            "save it as UTF-8."
        ) from err
    except OSError as err:
        raise ConfigError(
            f"Config file '{name}' cannot be read: {err.strerror}."
        ) from err
    return loads_config(text, source=name)


def loads_config(text: str, source: str = "<string>") -> dict[str, Any]:
    """Read a YAML 1.2 config from ``text``; ``source`` names it in errors.

    Behaves as :func:`load_config` once the text is read.
    """
    yaml = _yaml_reader()
    try:
        root = yaml.compose(text)
        if root is None:
            return {}
        if not isinstance(root, MappingNode):
            kind = "list" if isinstance(root, SequenceNode) else "single value"
            raise ConfigError(
                f"{source}: the top level is a {kind}, not a mapping; "
                "write the config as 'key: value' lines."
            )
        return _TreeBuilder(source, yaml).mapping(root, ())
    except YAMLError as err:
        line, column, problem = _yaml_problem(err, text)
        where = f"{source}:{line}:{column}" if line else source
        raise ConfigError(f"{where}: {problem}") from err
    except RecursionError as err:
        raise ConfigError(
            f"{source}: the config is nested too deeply to read."
        ) from err


def _yaml_reader() -> YAML:
    # The pure-Python loader: ruamel's C loader implements YAML 1.1 only.
    yaml = YAML(typ="safe", pure=True)
    yaml.version = (1, 2)
    return yaml


def _yaml_problem(err: YAMLError, text: str) -> tuple[int, int, str]:
    """Return the 1-based line and column (0, 0 if unknown) and the problem."""
    if isinstance(err, MarkedYAMLError):
        mark = err.problem_mark or err.context_mark
        problem = _one_line(err.problem or err.context or str(err))
        return (mark.line + 1, mark.column + 1, problem) if mark else (0, 0, problem)
    if isinstance(err, ReaderError):
        before = text[: err.position]
        code = ord(err.character) if isinstance(err.character, str) else err.character
        line, column = before.count("\n") + 1, len(before) - before.rfind("\n")
        return line, column, f"unacceptable character #x{code:04x}"
    return 0, 0, _one_line(str(err))


def _one_line(text: str) -> str:
    return " ".join(text.split("\n")).strip()


class _TreeBuilder:
    """Builds plain data from a composed node tree, checking keys on the way.

    Building from nodes rather than letting ruamel construct objects keeps the
    line of every key, so duplicates name both lines and their dotted path.
    """

    def __init__(self, source: str, yaml: YAML, *, has_lines: bool = True) -> None:
        self.source = source
        self.has_lines = has_lines
        self._open: set[int] = set()
        self._scalars = yaml.constructor

    def value(self, node: Node, path: tuple[str, ...]) -> Any:
        if isinstance(node, ScalarNode):
            return self.scalar(node)
        if id(node) in self._open:
            raise ConfigError(
                self._at(node, f"'{_dotted(path)}' contains itself via an alias.")
            )
        self._open.add(id(node))
        try:
            if isinstance(node, MappingNode):
                return self.mapping(node, path)
            if isinstance(node, SequenceNode):
                return self.sequence(node, path)
            raise self._unsupported(node)
        finally:
            self._open.discard(id(node))

    def mapping(self, node: MappingNode, path: tuple[str, ...]) -> dict[str, Any]:
        self._check_tag(node, _MAP)
        result: dict[str, Any] = {}
        lines: dict[str, int] = {}
        merged: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                self._merge_into(merged, value_node, path)
                continue
            key = self.key(key_node, path)
            line = key_node.start_mark.line + 1
            if key in lines:
                where = f"'{_dotted((*path, key))}' at lines {lines[key]} and {line}"
                raise ConfigError(
                    f"{self.source}: duplicate key {where}; remove one of them."
                )
            lines[key] = line
            result[key] = self.value(value_node, (*path, key))
        return {**merged, **result} if merged else result

    def _merge_into(
        self, merged: dict[str, Any], node: Node, path: tuple[str, ...]
    ) -> None:
        # `<<: *base` and `<<: [*a, *b]`: keys written here win, then earlier sources.
        sources = node.value if isinstance(node, SequenceNode) else [node]
        for source in sources:
            if not isinstance(source, MappingNode):
                raise ConfigError(
                    self._at(
                        source,
                        "'<<' must be followed by a mapping or a list of mappings.",
                    )
                )
            for key, value in self.value(source, path).items():
                merged.setdefault(key, value)

    def sequence(self, node: SequenceNode, path: tuple[str, ...]) -> list[Any]:
        self._check_tag(node, _SEQ)
        return [self.value(item, (*path, str(i))) for i, item in enumerate(node.value)]

    def key(self, node: Node, path: tuple[str, ...]) -> str:
        if not isinstance(node, ScalarNode):
            where = f"under '{_dotted(path)}'" if path else "at the top level"
            raise ConfigError(
                self._at(node, f"a key {where} is a list or mapping; use a plain key.")
            )
        # The key as written, so `1:` is "1" and `true:` is "true", never a bool.
        return str(node.value)

    def scalar(self, node: ScalarNode) -> Any:
        tag = node.tag
        if tag in _TEXT_TAGS:
            return str(node.value)
        if tag == _NULL:
            return None
        if tag in (_INT, _FLOAT, _BOOL):
            return self._scalars.construct_object(node)
        raise self._unsupported(node)

    def _check_tag(self, node: Node, expected: str) -> None:
        if node.tag != expected:
            raise self._unsupported(node)

    def _unsupported(self, node: Node) -> ConfigError:
        tag = _short_tag(node.tag)
        return ConfigError(
            self._at(node, f"unsupported tag '{tag}'; a config holds {_SUPPORTED}.")
        )

    def _at(self, node: Node, problem: str) -> str:
        if not self.has_lines:
            return f"{self.source}: {problem}"
        mark = node.start_mark
        return f"{self.source}:{mark.line + 1}:{mark.column + 1}: {problem}"


def _short_tag(tag: str | None) -> str:
    tag = tag or "?"
    return "!!" + tag[len(_TAG) :] if tag.startswith(_TAG) else tag


def _dotted(path: Sequence[str]) -> str:
    return ".".join(path)


# -- dumping -------------------------------------------------------------------


def dump_config(config: Mapping[str, Any], path: str | os.PathLike[str]) -> None:
    """Write ``config`` as YAML 1.2 to ``path``, replacing it atomically.

    The text goes to a temporary file in the same folder, is synced to disk, then
    renamed over ``path``: a reader sees the old file or the new one, never half.

    Raises:
        ConfigError: a value is not plain data (see :func:`dumps_config`), or
            the file cannot be written.
    """
    text = dumps_config(config)
    target = Path(os.fspath(path))
    try:
        _write_atomically(target, text)
    except OSError as err:
        raise ConfigError(
            f"Cannot write config file '{target}': {err.strerror}."
        ) from err


def dumps_config(config: Mapping[str, Any]) -> str:
    """Return ``config`` as block-style YAML 1.2 text, keys in insertion order.

    Strings that YAML 1.1 or 1.2 would read as another type (``"no"``,
    ``"1e-3"``, ``"08"``, ``"null"``) are quoted; floats always carry a dot or
    are ``.nan``/``.inf``/``-.inf``. Paths, tuples, enums and NumPy scalars are
    written as strings, lists and plain values.

    Raises:
        ConfigError: a value has a type YAML cannot store faithfully.
    """
    node = _to_node(_plain(config, "", strict=True))
    yaml = YAML(typ="safe", pure=True)
    yaml.allow_unicode = True
    # Long strings stay on one line, so diffs between run configs stay readable.
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    stream = io.StringIO()
    yaml.serialize(node, stream)
    return stream.getvalue()


_BREAKS_1_1 = frozenset("\x85\u2028\u2029")
_RESOLVERS = (VersionedResolver(version=(1, 1)), VersionedResolver(version=(1, 2)))


def _to_node(value: Any) -> Node:
    if isinstance(value, dict):
        pairs = [(_to_node(key), _to_node(item)) for key, item in value.items()]
        return MappingNode(_MAP, pairs, flow_style=False)
    if isinstance(value, list):
        return SequenceNode(_SEQ, [_to_node(item) for item in value], flow_style=False)
    if isinstance(value, bool):
        return ScalarNode(_BOOL, "true" if value else "false")
    if isinstance(value, int):
        return ScalarNode(_INT, str(value))
    if isinstance(value, float):
        return ScalarNode(_FLOAT, _float_text(value))
    if value is None:
        return ScalarNode(_NULL, "null")
    return ScalarNode(_STR, value, style=_string_style(value))


def _string_style(text: str) -> str | None:
    if any(char in _BREAKS_1_1 for char in text):
        # Escape them: ruamel reads these as line breaks inside quotes and folds them.
        return '"'
    return "'" if _reads_as_other_type(text) else None


def _reads_as_other_type(text: str) -> bool:
    # Quote for YAML 1.1 readers too (PyYAML turns a plain `no` into False).
    return any(
        resolver.resolve(ScalarNode, text, (True, False)) != _STR
        for resolver in _RESOLVERS
    )


def _float_text(value: float) -> str:
    if math.isnan(value):
        return ".nan"
    if math.isinf(value):
        return ".inf" if value > 0 else "-.inf"
    text = repr(value)
    if "e" in text and "." not in text:
        # YAML 1.1 wants a dot in the mantissa: 1e+16 would be read back as text.
        text = text.replace("e", ".0e")
    return text


def _write_atomically(target: Path, text: str) -> None:
    mode = target.stat().st_mode & 0o777 if target.exists() else 0o644
    fd, temp = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"
    )
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, mode)
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    _sync_folder(target.parent)


def _sync_folder(folder: Path) -> None:
    # Makes the rename itself durable; some platforms cannot, hence best effort.
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# -- plain data ----------------------------------------------------------------


def _plain(value: Any, path: str, *, strict: bool) -> Any:
    """Return ``value`` as plain config data, converting friendly types.

    With ``strict``, an object with no faithful plain form raises ConfigError;
    otherwise it becomes its ``str()`` (a function becomes its dotted name).
    """
    if isinstance(value, Enum):
        value = value.value
    if value is None or type(value) in (str, int, float, bool):
        return value
    # Subclasses (np.float64 is a float) would otherwise reach YAML as objects.
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, (int, float)):
        return int(value) if isinstance(value, int) else float(value)
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, Mapping):
        return _plain_mapping(value, path, strict=strict)
    if isinstance(value, (list, tuple, set, frozenset)):
        items = _ordered(value) if isinstance(value, (set, frozenset)) else value
        return [
            _plain(item, f"{path}.{i}" if path else str(i), strict=strict)
            for i, item in enumerate(items)
        ]
    if isinstance(value, PurePath):
        return str(value)
    tolist = getattr(value, "tolist", None)
    if callable(tolist):  # NumPy and PyTorch scalars and arrays
        return _plain(tolist(), path, strict=strict)
    return _unknown(value, path, strict=strict)


def _plain_mapping(
    value: Mapping[Any, Any], path: str, *, strict: bool
) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, item in value.items():
        name = key if isinstance(key, str) else str(_plain(key, path, strict=False))
        child = f"{path}.{name}" if path else name
        if name in result:
            raise ConfigError(
                f"Config keys at '{child}' collide: two keys both read as '{name}'."
            )
        result[name] = _plain(item, child, strict=strict)
    return result


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


def _copy_tree(value: Any) -> Any:
    """Deep-copy mappings (as dicts) and lists; leaves are copied as they are."""
    if isinstance(value, Mapping):
        return {key: _copy_tree(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy_tree(item) for item in value]
    return copy.deepcopy(value)


# -- dotted keys and overrides -------------------------------------------------


@dataclass(frozen=True)
class Override:
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
    yaml = _yaml_reader()
    try:
        node = yaml.compose(raw)
        is_block = isinstance(node, (MappingNode, SequenceNode)) and not node.flow_style
        if node is None or is_block or node.end_mark.index < len(raw.rstrip()):
            return raw
        return _TreeBuilder(f"Override '{text}'", yaml, has_lines=False).value(node, ())
    except YAMLError as err:
        problem = _yaml_problem(err, raw)[2]
        raise ConfigError(
            f"Override '{text}' has a malformed value: {problem}."
        ) from err


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
    where = f"'{_dotted(above)}'" if above else "the top level"
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
        key: _plain(value, key, strict=False) for key, value in vars(namespace).items()
    }


def fill_parser_defaults(
    parser: argparse.ArgumentParser, config: Mapping[str, Any]
) -> None:
    """Set the defaults of ``parser``'s arguments from ``config``.

    An argument matches a config key equal to its ``dest``, or a nested key
    whose dotted path with ``.`` and ``-`` replaced by ``_`` equals it
    (``optim.lr`` feeds ``--optim-lr``, dest ``optim_lr``). String defaults are
    still converted by the argument's ``type``, as argparse does. Subcommand
    parsers are filled too; config keys with no argument are ignored.
    """
    by_dest = _values_by_dest(config)
    # argparse keeps its arguments in the private `_actions`; there is no public list.
    actions = list(parser._actions)
    found = {
        action.dest: copy.deepcopy(by_dest[action.dest])
        for action in actions
        if action.default is not argparse.SUPPRESS and action.dest in by_dest
    }
    if found:
        parser.set_defaults(**found)
    for sub in _subparsers(actions):
        fill_parser_defaults(sub, config)


def _values_by_dest(config: Mapping[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key, value in _iter_mapping_leaves(config, ""):
        values.setdefault(key.replace(".", "_").replace("-", "_"), value)
    values.update({str(key): value for key, value in config.items()})  # exact keys win
    return values


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
        return _plain_mapping(container, "", strict=False)
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
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        return dataclasses.asdict(config)
    return config
