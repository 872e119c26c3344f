"""Config YAML: reading and writing YAML 1.2, and the plain data it holds.

A config is plain nested data: dicts with ``str`` keys, lists, and ``str``,
``int``, ``float``, ``bool`` or ``None`` leaves. :func:`to_plain` turns friendlier
types (paths, tuples, enums, NumPy scalars) into that shape.

YAML is read as YAML 1.2: ``1e-3`` is a float, ``no``/``off``/``ON`` are strings,
``08`` is the int 8, and only ``true``/``false`` are booleans. Keys are kept as
written (``1:`` gives the key ``"1"``). Duplicate keys, malformed YAML and
non-mapping documents raise :class:`~runlab.errors.ConfigError` with the file,
line and column. Written YAML quotes every string that YAML 1.1 or 1.2 would
read as something else, so :func:`dump_config` then :func:`load_config` gives
back the same values with the same types. A file that declares ``%YAML 1.1``
is read by the 1.1 rules it asks for. Files are replaced atomically.

:mod:`runlab.config` re-exports the public readers and writers; import them from
there.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from ruamel.yaml.reader import ReaderError
from ruamel.yaml.resolver import VersionedResolver, implicit_resolvers

from runlab._plain import to_plain, to_plain_mapping
from runlab.errors import ConfigError

__all__ = [
    "dump_config",
    "dumps_config",
    "key_lines",
    "load_config",
    "loads_config",
    "loads_flow_value",
    "to_plain",
    "to_plain_mapping",
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
    return loads_config(_read_text(name), source=name)


def loads_config(text: str, source: str = "<string>") -> dict[str, Any]:
    """Read a YAML 1.2 config from ``text``; ``source`` names it in errors.

    Behaves as :func:`load_config` once the text is read.
    """
    yaml = _yaml_reader()
    try:
        root = yaml.compose(text)
        if root is None:
            return {}
        return _TreeBuilder(source, yaml).mapping(_top_mapping(root, source), ())
    except YAMLError as err:
        raise _syntax_error(err, text, source) from err
    except RecursionError as err:
        raise ConfigError(
            f"{source}: the config is nested too deeply to read."
        ) from err


def loads_flow_value(raw: str, source: str) -> Any:
    """Read ``raw`` as one YAML 1.2 flow value; ``source`` names it in errors.

    Empty text, and text YAML would read as a block (``a: b``, ``- x``) or cut
    at a comment (``fix #12``), come back as the string written.

    Raises:
        ConfigError: ``<source> has a malformed value: <problem>.``, or the
            value holds an unsupported tag or an alias loop.
    """
    yaml = _yaml_reader()
    try:
        node = yaml.compose(raw)
        is_block = isinstance(node, (MappingNode, SequenceNode)) and not node.flow_style
        if node is None or is_block or node.end_mark.index < len(raw.rstrip()):
            return raw
        return _TreeBuilder(source, yaml, has_lines=False).value(node, ())
    except YAMLError as err:
        problem = _yaml_problem(err, raw)[2]
        raise ConfigError(f"{source} has a malformed value: {problem}.") from err


def _read_text(name: str) -> str:
    try:
        return Path(name).read_text(encoding="utf-8-sig")
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


def _yaml_reader() -> YAML:
    # The pure-Python loader: ruamel's C loader implements YAML 1.1 only.
    yaml = YAML(typ="safe", pure=True)
    yaml.Resolver = _Resolver
    yaml.version = (1, 2)
    return yaml


# YAML 1.2's core schema reads `.5e1` and `+.5e1` as floats; ruamel's 1.2 pattern
# wants a signed exponent after a leading dot, so these would stay strings.
_DOT_FLOAT = re.compile(r"^[-+]?\.[0-9_]+[eE][-+]?[0-9]+$")


class _Resolver(VersionedResolver):
    """ruamel's resolver with the whole of YAML 1.2's float pattern."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Fill 1.2's table with ruamel's own patterns first: it is only filled
        # lazily while the table is absent, so adding ours alone would hide them.
        for versions, tag, regexp, first in implicit_resolvers:
            if (1, 2) in versions:
                self.add_version_implicit_resolver((1, 2), tag, regexp, first)
        self.add_version_implicit_resolver((1, 2), _FLOAT, _DOT_FLOAT, list("-+."))


def _top_mapping(root: Node, source: str) -> MappingNode:
    if isinstance(root, MappingNode):
        return root
    kind = "list" if isinstance(root, SequenceNode) else "single value"
    raise ConfigError(
        f"{source}: the top level is a {kind}, not a mapping; "
        "write the config as 'key: value' lines."
    )


def _syntax_error(err: YAMLError, text: str, source: str) -> ConfigError:
    line, column, problem = _yaml_problem(err, text)
    where = f"{source}:{line}:{column}" if line else source
    return ConfigError(f"{where}: {problem}")


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


def key_lines(text: str) -> dict[tuple[str, ...], int]:
    """Return the 1-based line of every mapping key in ``text``, by key path.

    The path is the keys from the top down, as :func:`loads_config` spells
    them (``("parameters", "optim.lr")``); keys inside lists and merge keys
    are left out, and a mapping reached twice through an alias lists its keys
    under one path only. Call it on text :func:`loads_config` has accepted;
    other text gives ``{}``.
    """
    try:
        root = _yaml_reader().compose(text)
    except YAMLError:
        return {}
    lines: dict[tuple[str, ...], int] = {}
    pending: list[tuple[Node, tuple[str, ...]]] = [(root, ())]
    seen: set[int] = set()
    while pending:
        node, path = pending.pop()
        # An alias repeats a node: walk it once, which also ends alias loops.
        if not isinstance(node, MappingNode) or id(node) in seen:
            continue
        seen.add(id(node))
        for key_node, value_node in node.value:
            if isinstance(key_node, ScalarNode) and key_node.tag != _MERGE:
                key_path = (*path, str(key_node.value))
                lines.setdefault(key_path, key_node.start_mark.line + 1)
                pending.append((value_node, key_path))
    return lines


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
    node = _to_node(to_plain(config, "", strict=True))
    yaml = YAML(typ="safe", pure=True)
    yaml.allow_unicode = True
    # Long strings stay on one line, so diffs between run configs stay readable.
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    stream = io.StringIO()
    yaml.serialize(node, stream)
    return stream.getvalue()


_BREAKS_1_1 = frozenset("\x85\u2028\u2029")
_RESOLVERS = (VersionedResolver(version=(1, 1)), _Resolver(version=(1, 2)))


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
