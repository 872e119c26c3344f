"""The run filter language, field lookup and sorting of runs.

A filter selects runs for ``runlab ls 'FILTER'`` and the web page's filter box::

    optim.lr < 0.1 and val/acc.max > 0.9
    (status = failed or status = crashed) and not tag:baseline
    name = 'lr-*' and started > 2026-12-01T08:00
    `loss (train)`.last < 0.5 and resume is null

Everything here is pure: it works on *records*, plain dicts describing one run
each (``id``, ``name``, ``status``, ``started``, ``ended``, ``tags``, ``sweep``,
``branch``, ``commit``, ``host``, ``config``, ``config_flat`` and ``metrics``, the
last mapping a metric name to its ``last``, ``min``, ``max``, ``count`` and
``last_step`` summaries).

Grammar (keywords are case-insensitive)::

    expr       := and_expr ("or" and_expr)*
    and_expr   := not_expr ("and" not_expr)*
    not_expr   := "not" not_expr | atom
    atom       := "(" expr ")" | "tag:" NAME | FIELD OP VALUE
                | FIELD "is" ["not"] "null"
    OP         := = == != < <= > >= ~

A FIELD is a bare word of letters, digits and ``_ . / @ - :`` that does not
start with a digit or ``-`` and is not ``and``/``or``, or any name in backticks;
the two join (```loss (train)`.last``). A VALUE is a number (``1e-3``, ``-2``,
``inf``, ``nan``), a quoted string with backslash escapes, ``true``, ``false``,
``null``, an ISO 8601 date or datetime (UTC unless it carries an offset), or a
bare word taken as a string; a bare word that starts like a date must be one
(quote it to compare it as text). A tag NAME may be quoted and may be a glob
(``tag:base*``).

Semantics, in brief: a comparison with a missing field is false, except ``!=``,
which is always the negation of ``=``; numbers compare numerically and NaN
equals only ``nan``; booleans equal only ``true``/``false``; a string with
``* ? [`` is a glob for ``=``/``!=``; a string field compared with a number is
read as a float when it can be; ``started``/``ended`` compare with dates as
epoch seconds; ``~`` searches ``str(field)`` with a regular expression.
``tags = x``, ``tags != x`` and ``tags ~ x`` test each tag, like ``tag:x``. List
values (config leaves such as ``[en, de]``) have no literal in the language, so
``=`` never matches them and ``!=`` always does.

Limits: filters nest at most 50 levels of parentheses and ``not``; a regular
expression is trusted to finish quickly on each value.
"""

from __future__ import annotations

import fnmatch
import functools
import math
import operator
import re
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any, NamedTuple

from runlab.errors import FilterSyntaxError

__all__ = ["Filter", "parse_filter", "resolve_field", "sort_records"]

Record = Mapping[str, Any]
Predicate = Callable[[Record], bool]
Test = Callable[[Any], bool]

RESERVED_FIELDS = frozenset(
    {
        "id", "name", "status", "started", "ended", "duration",
        "tags", "experiment", "sweep", "trial", "branch", "commit", "host",
        "exit_code",
    }
)  # fmt: skip
METRIC_SUMMARIES = frozenset(["last", "min", "max", "count", "last_step"])

_MAX_DEPTH = 50
_OPERATORS = ("=", "==", "!=", "<", "<=", ">", ">=", "~")
_OPERATOR_LIST = "= != < <= > >= ~"
_ORDERINGS: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}

_FIELD_WORD = re.compile(r"(?![\d-])[\w./@:-]+")
_FIELD_TAIL = re.compile(r"[\w./@:-]+")
_VALUE_WORD = re.compile(r"[\w./@:+*?\[\]-]+")
_OPERATOR_RUN = re.compile(r"[=!<>~]+")
_NUMBER = re.compile(r"[+-]?(?:\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_SPECIAL_FLOAT = re.compile(r"[+-]?(?:inf|infinity|nan)", re.IGNORECASE)
_DATE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})"
    r"(?:[Tt](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6})\d*)?)?"
    r"([Zz]|[+-]\d{2}:?\d{2})?)?"
)
_GLOB_CHARS = frozenset("*?[")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'", '"': '"'}


# --- Syntax tree -----------------------------------------------------------


class _Value(NamedTuple):
    """A literal as written: its kind, its Python value and its raw text."""

    kind: str  # number | string | bool | null | date
    data: Any
    raw: str
    position: int


class _Compare(NamedTuple):
    field: str
    op: str
    value: _Value


class _IsNull(NamedTuple):
    field: str
    negated: bool


class _Tag(NamedTuple):
    pattern: str


class _Not(NamedTuple):
    operand: _Node


class _Junction(NamedTuple):
    op: str  # and | or
    operands: tuple[_Node, ...]


_Node = _Compare | _IsNull | _Tag | _Not | _Junction


# --- Public API ------------------------------------------------------------


class Filter:
    """A parsed filter, compiled once into a predicate over records."""

    def __init__(
        self, text: str, predicate: Predicate, fields: tuple[str, ...] = ()
    ) -> None:
        self.text = text
        self._predicate = predicate
        self.fields = fields  # the field names it reads, in order, once each

    def matches(self, record: Record) -> bool:
        """Return whether ``record`` passes this filter."""
        return self._predicate(record)

    def __repr__(self) -> str:
        return f"Filter({self.text!r})"


def parse_filter(text: str) -> Filter:
    """Parse a filter and compile it for fast matching.

    Args:
        text: the filter; empty or whitespace-only text matches every run.

    Returns:
        A :class:`Filter` whose ``matches`` takes a record.

    Raises:
        FilterSyntaxError: the text is not a valid filter; the error's
            ``position`` points at the offending token.
    """
    node = _Parser(text).parse()
    if node is None:
        return Filter(text, _match_all)
    fields = tuple(dict.fromkeys(_fields_of(node)))
    return Filter(text, _compile(node, text), fields)


def _fields_of(node: _Node) -> Iterator[str]:
    if isinstance(node, (_Compare, _IsNull)):
        yield node.field
    elif isinstance(node, _Not):
        yield from _fields_of(node.operand)
    elif isinstance(node, _Junction):
        for operand in node.operands:
            yield from _fields_of(operand)


def resolve_field(record: Record, key: str) -> Any:
    """Return the value that ``key`` names in ``record``, or None.

    Lookup order: the reserved fields (``id``, ``name``, ``status``,
    ``started``, ``ended``, ``duration``, ``tags``, ``sweep``, ``branch``,
    ``commit``, ``host``, ``exit_code``); then the config, either as
    ``config.<path>`` or as a bare path (a path naming a section returns the
    nested dict or list); then a metric summary ``<metric>.<summary>`` with
    summary one of ``last``, ``min``, ``max``, ``count``, ``last_step`` (the
    metric name may hold dots). A config key wins over a metric of the same
    spelling; ``metric.<metric>.<summary>`` always reads the metric.
    """
    return _getter(key)(record)


def sort_records(records: Iterable[Record], keys: Sequence[str]) -> list[Record]:
    """Sort records by several fields, the first key most significant.

    A key prefixed with ``-`` sorts descending. Within one field, numbers come
    first (compared numerically), then booleans, then strings (lexically), then
    other values such as lists; missing values, None and NaN come last. This
    group order holds in both directions: only the order inside a group flips.
    The sort is stable, so equal records keep their given order.
    """
    result = list(records)
    for key in reversed(keys):
        descending = key.startswith("-")
        get = _getter(key[1:] if descending else key)
        if descending:
            result.sort(key=lambda r: _descending_key(get(r)), reverse=True)
        else:
            result.sort(key=lambda r: _sort_key(get(r)))
    return result


# --- Field lookup ----------------------------------------------------------


@functools.lru_cache(maxsize=1024)
def _getter(key: str) -> Callable[[Record], Any]:
    """Build (once per key) a function that reads ``key`` from a record."""
    if key == "duration":
        return _duration
    if key in RESERVED_FIELDS:
        return lambda record: record.get(key)
    if key.startswith("metric."):
        # Explicit: a metric summary even where a config key has that spelling.
        name, _, wanted = key[len("metric.") :].rpartition(".")
        return lambda record: _metric_summary(record, name, wanted)

    paths = [key]
    if key.startswith("config."):
        paths.insert(0, key[len("config.") :])
    metric, _, summary = key.rpartition(".")
    if summary not in METRIC_SUMMARIES:
        metric = ""

    def get(record: Record) -> Any:
        for path in paths:
            found, value = _config_value(record, path)
            if found:
                return value
        if metric:
            return _metric_summary(record, metric, summary)
        return None

    return get


def _duration(record: Record) -> Any:
    started: Any = record.get("started")
    ended: Any = record.get("ended")
    if _is_number(started) and _is_number(ended):
        return ended - started
    return None


def _config_value(record: Record, path: str) -> tuple[bool, Any]:
    flat = record.get("config_flat")
    if isinstance(flat, Mapping) and path in flat:
        return True, flat[path]

    # A path naming a section is not in config_flat, which holds leaves only.
    node = record.get("config")
    for part in path.split("."):
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        elif isinstance(node, list) and _is_index(part, len(node)):
            node = node[int(part)]
        else:
            return False, None
    return True, node


def _is_index(part: str, length: int) -> bool:
    return part.isascii() and part.isdecimal() and len(part) < 10 and int(part) < length


def _metric_summary(record: Record, metric: str, summary: str) -> Any:
    metrics = record.get("metrics")
    if not isinstance(metrics, Mapping):
        return None
    summaries = metrics.get(metric)
    if not isinstance(summaries, Mapping):
        return None
    return summaries.get(summary)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# --- Sorting ---------------------------------------------------------------


def _sort_key(value: Any) -> tuple[int, Any]:
    if _is_number(value):
        return (4, 0) if math.isnan(value) else (0, value)
    if isinstance(value, bool):
        return 1, value
    if isinstance(value, str):
        return 2, value
    if value is None:
        return 4, 0
    return 3, repr(value)


def _descending_key(value: Any) -> tuple[int, Any]:
    # Sorted with reverse=True: negating the group keeps numbers first and
    # missing values last, while values inside a group come out descending.
    group, inner = _sort_key(value)
    return -group, inner


# --- Parser ----------------------------------------------------------------


class _Parser:
    """Recursive descent over the text; each rule scans its own tokens."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.depth = 0
        self.previous = ""

    def parse(self) -> _Node | None:
        if not self.text.strip():
            return None
        node = self._or()
        self._skip_space()
        if self.pos < len(self.text):
            if self.text[self.pos] == ")":
                raise self._error(f"Unmatched ')' at position {self.pos}.")
            raise self._expected("'and', 'or' or the end of the filter")
        return node

    def _or(self) -> _Node:
        operands = [self._and()]
        while self._keyword("or"):
            operands.append(self._and())
        return operands[0] if len(operands) == 1 else _Junction("or", tuple(operands))

    def _and(self) -> _Node:
        operands = [self._not()]
        while self._keyword("and"):
            operands.append(self._not())
        return operands[0] if len(operands) == 1 else _Junction("and", tuple(operands))

    def _not(self) -> _Node:
        self._skip_space()
        start = self.pos
        if not self._keyword("not"):
            return self._atom()
        self._enter(start)
        node = _Not(self._not())
        self.depth -= 1
        return node

    def _atom(self) -> _Node:
        self._skip_space()
        if self.text.startswith("(", self.pos):
            return self._group()
        if self.text[self.pos : self.pos + 4].lower() == "tag:":
            return self._tag()
        field = self._field()
        if self._keyword("is"):
            return self._is_null(field)
        op = self._operator()
        return _Compare(field, op, self._value(op))

    def _group(self) -> _Node:
        opened = self.pos
        self._enter(opened)
        self._advance(1)
        node = self._or()
        self._skip_space()
        if self.pos >= len(self.text):
            raise self._error(
                f"Unclosed parenthesis opened at position {opened}.", opened
            )
        if self.text[self.pos] != ")":
            raise self._expected("'and', 'or' or ')'")
        self._advance(1)
        self.depth -= 1
        return node

    def _tag(self) -> _Node:
        self._advance(4)
        if self.text.startswith(("'", '"'), self.pos):
            return _Tag(self._quoted())
        match = _VALUE_WORD.match(self.text, self.pos)
        if match is None:
            raise self._expected("a tag name")
        self._advance(match.end() - self.pos)
        return _Tag(match.group())

    def _field(self) -> str:
        start = self.pos
        match = _FIELD_WORD.match(self.text, start)
        if match and match.group().lower() in ("and", "or"):
            match = None
        if match is None and not self.text.startswith("`", start):
            raise self._expected("a field name, 'tag:', 'not' or '('")

        # Backtick parts and bare parts join: `loss (train)`.last is one name.
        pieces: list[str] = []
        while True:
            if self.text.startswith("`", self.pos):
                pieces.append(self._backticked())
            elif match := _FIELD_TAIL.match(self.text, self.pos):
                pieces.append(match.group())
                self._advance(match.end() - self.pos)
            else:
                break
        self.previous = self.text[start : self.pos]
        return "".join(pieces)

    def _backticked(self) -> str:
        opened = self.pos
        end = self.text.find("`", opened + 1)
        if end < 0:
            raise self._error(
                f"Unclosed backtick name opened at position {opened}.", opened
            )
        if end == opened + 1:
            raise self._error(f"Empty backtick name at position {opened}.", opened)
        self._advance(end + 1 - opened)
        return self.text[opened + 1 : end]

    def _is_null(self, field: str) -> _Node:
        negated = self._keyword("not")
        if not self._keyword("null"):
            wanted = "'null'" if negated else "'null' or 'not null'"
            raise self._expected(wanted)
        return _IsNull(field, negated)

    def _operator(self) -> str:
        self._skip_space()
        match = _OPERATOR_RUN.match(self.text, self.pos)
        if match is None:
            raise self._expected(f"an operator ({_OPERATOR_LIST} or 'is null')")
        if match.group() not in _OPERATORS:
            raise self._error(
                f"Unknown operator '{match.group()}' at position {self.pos}; "
                f"use one of {_OPERATOR_LIST} ."
            )
        self._advance(len(match.group()))
        return "=" if match.group() == "==" else match.group()

    def _value(self, op: str) -> _Value:
        self._skip_space()
        start = self.pos
        if self.text.startswith(("'", '"'), start):
            data = self._quoted()
            return _Value("string", data, data, start)
        match = _VALUE_WORD.match(self.text, start)
        if match is None or match.group().lower() in ("and", "or", "not"):
            raise self._expected("a value")
        self._advance(match.end() - start)
        value = self._classify(match.group(), start)
        if value.kind in ("bool", "null") and op not in ("=", "!=", "~"):
            raise self._error(
                f"Cannot compare with '{value.raw}' using '{op}' at position {start}; "
                f"use = or != (or 'is null').",
                start,
            )
        return value

    def _classify(self, word: str, start: int) -> _Value:
        lowered = word.lower()
        if _NUMBER.fullmatch(word):
            return _Value("number", _to_number(word), word, start)
        if _SPECIAL_FLOAT.fullmatch(word):
            return _Value("number", float(lowered), word, start)
        if lowered in ("true", "false"):
            return _Value("bool", lowered == "true", word, start)
        if lowered == "null":
            return _Value("null", None, word, start)
        date = _DATE.match(word)
        if date is None:
            return _Value("string", word, word, start)
        if date.end() < len(word):
            raise self._error(
                f"Invalid date '{word}' at position {start}; write a date as "
                "2026-12-01, 2026-12-01T08:00, 2026-12-01T08:00:00Z or "
                "2026-12-01T08:00:00+02:00, or quote it to compare it as text.",
                start,
            )
        return _Value("date", self._epoch(date, start), word, start)

    def _epoch(self, date: re.Match[str], start: int) -> float:
        year, month, day, hour, minute, second, fraction, offset = date.groups()
        try:
            moment = datetime(
                int(year), int(month), int(day),
                int(hour or 0), int(minute or 0), int(second or 0),
                int((fraction or "0").ljust(6, "0")),
                tzinfo=_timezone(offset),
            )  # fmt: skip
            return moment.timestamp()
        except (ValueError, OverflowError) as error:
            reason = str(error).rstrip(".")
            raise self._error(
                f"Invalid date '{date.group()}' at position {start}: {reason}.",
                start,
            ) from None

    def _quoted(self) -> str:
        opened, quote = self.pos, self.text[self.pos]
        chars: list[str] = []
        index = opened + 1
        while index < len(self.text) and self.text[index] != quote:
            char = self.text[index]
            if char == "\\" and index + 1 < len(self.text):
                index += 1
                # Unknown escapes keep their backslash, so regexes read as typed.
                char = _ESCAPES.get(self.text[index], "\\" + self.text[index])
            chars.append(char)
            index += 1
        if index >= len(self.text):
            raise self._error(f"Unclosed string opened at position {opened}.", opened)
        self._advance(index + 1 - opened)
        return "".join(chars)

    def _keyword(self, word: str) -> bool:
        self._skip_space()
        match = _FIELD_WORD.match(self.text, self.pos)
        if match is None or match.group().lower() != word:
            return False
        self._advance(len(word))
        return True

    def _enter(self, position: int) -> None:
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise self._error(
                f"Filter nests too deeply at position {position}; use at most "
                f"{_MAX_DEPTH} levels of parentheses and 'not'.",
                position,
            )

    def _advance(self, count: int) -> None:
        self.previous = self.text[self.pos : self.pos + count]
        self.pos += count

    def _skip_space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def _expected(self, what: str) -> FilterSyntaxError:
        after = f" after {_quote(self.previous)}" if self.previous else ""
        return self._error(f"Expected {what}{after} at position {self.pos}.")

    def _error(self, message: str, position: int | None = None) -> FilterSyntaxError:
        where = self.pos if position is None else position
        return FilterSyntaxError(message, self.text, where)


def _quote(token: str) -> str:
    # Quoted strings and backtick names already carry their quotes.
    return token if token[0] in "'\"`" else f"'{token}'"


def _timezone(offset: str | None) -> timezone:
    if offset is None or offset in "Zz":
        return timezone.utc
    sign = -1 if offset[0] == "-" else 1
    digits = offset[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:])
    if hours > 23 or minutes > 59:
        raise ValueError(f"UTC offset {offset} is out of range; use -23:59 to +23:59")
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


# --- Compiler --------------------------------------------------------------


def _match_all(record: Record) -> bool:
    return True


def _compile(node: _Node, text: str) -> Predicate:
    """Turn a syntax tree into nested closures, so matching never re-parses."""
    if isinstance(node, _Junction):
        parts = tuple(_compile(operand, text) for operand in node.operands)
        if node.op == "and":
            return lambda record: all(part(record) for part in parts)
        return lambda record: any(part(record) for part in parts)
    if isinstance(node, _Not):
        inner = _compile(node.operand, text)
        return lambda record: not inner(record)
    if isinstance(node, _Tag):
        return _bind(_getter("tags"), _tags_test(node.pattern, "="))
    if isinstance(node, _IsNull):
        negated = node.negated
        get = _getter(node.field)
        return lambda record: (get(record) is None) is not negated
    return _bind(_getter(node.field), _compare_test(node, text))


def _bind(get: Callable[[Record], Any], test: Test) -> Predicate:
    return lambda record: test(get(record))


# What the fixed fields can be compared with; a value outside it matches no run
# ever, which is a mistake to say rather than an empty answer.
_STATUSES = ("running", "finished", "failed", "killed", "crashed", "unreadable")
_TIME_FIELDS = frozenset(["started", "ended"])


def _check_value(node: _Compare, text: str) -> None:
    field, value = node.field, node.value
    if node.op == "~":
        return
    is_word = value.kind == "string" and not _GLOB_CHARS & set(value.data)
    if field == "status" and is_word and value.data not in _STATUSES:
        import difflib  # only for the message: its import is not free

        close = difflib.get_close_matches(value.data, _STATUSES, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else "."
        raise FilterSyntaxError(
            f"'{value.raw}' is not a run status ({', '.join(_STATUSES)}){hint}",
            text,
            value.position,
        )
    if field in _TIME_FIELDS and value.kind not in ("date", "number", "null"):
        raise FilterSyntaxError(
            f"{field} is a time: compare it with a date (2026-12-04, "
            f"2026-12-04T17:21) or seconds since 1970, not '{value.raw}'.",
            text,
            value.position,
        )
    if field == "duration" and value.kind not in ("number", "null"):
        raise FilterSyntaxError(
            f"duration is in seconds: compare it with a number (duration > 600), "
            f"not '{value.raw}'.",
            text,
            value.position,
        )


def _compare_test(node: _Compare, text: str) -> Test:
    value = node.value
    _check_value(node, text)
    if node.op == "!=":
        equal = _compare_test(_Compare(node.field, "=", value), text)
        return lambda field: not equal(field)
    if node.field == "tags" and node.op in ("=", "~"):
        return _tags_test(value.raw, node.op, text, value.position)
    if node.op == "~":
        return _regex_test(_compile_regex(value.raw, text, value.position))
    if value.kind == "number":
        return _number_test(node.op, value.data)
    if value.kind == "date":
        return _date_test(node.op, value.data, value.raw)
    if value.kind == "bool":
        flag = value.data
        return lambda field: isinstance(field, bool) and field is flag
    if value.kind == "null":
        return lambda field: field is None
    return _string_test(node.op, value.data)


def _number_test(op: str, number: float) -> Test:
    if op == "=" and isinstance(number, float) and math.isnan(number):
        return lambda field: isinstance(field, float) and math.isnan(field)
    compare = _ORDERINGS.get(op, operator.eq)

    def test(field: Any) -> bool:
        if isinstance(field, str):
            field = _to_float(field)
        if not _is_number(field):
            return False
        return bool(compare(field, number))

    return test


def _date_test(op: str, epoch: float, raw: str) -> Test:
    compare = _ORDERINGS.get(op, operator.eq)

    def test(field: Any) -> bool:
        # Text fields hold dates as written; ISO text sorts like the time it names.
        if isinstance(field, str):
            return bool(compare(field, raw))
        return _is_number(field) and bool(compare(field, epoch))

    return test


def _string_test(op: str, text: str) -> Test:
    if op == "=" and _GLOB_CHARS.intersection(text):
        pattern = re.compile(fnmatch.translate(text))
        return lambda field: isinstance(field, str) and bool(pattern.match(field))
    compare = _ORDERINGS.get(op, operator.eq)
    number = _to_float(text)

    def test(field: Any) -> bool:
        if isinstance(field, str):
            return bool(compare(field, text))
        if number is not None and _is_number(field):
            return bool(compare(field, number))
        return False

    return test


def _tags_test(pattern: str, op: str, text: str = "", position: int = 0) -> Test:
    if op == "~":
        find = _compile_regex(pattern, text, position).search
    elif _GLOB_CHARS.intersection(pattern):
        find = re.compile(fnmatch.translate(pattern)).match
    else:
        find = re.compile(re.escape(pattern) + r"\Z").match

    def test(tags: Any) -> bool:
        if not isinstance(tags, (list, tuple)):
            return False
        return any(isinstance(tag, str) and find(tag) for tag in tags)

    return test


def _regex_test(regex: re.Pattern[str]) -> Test:
    return lambda field: field is not None and bool(regex.search(str(field)))


def _compile_regex(pattern: str, text: str, position: int) -> re.Pattern[str]:
    try:
        # A valid pattern such as '[[a]' draws a FutureWarning about syntax
        # Python may change one day; the user wrote it on purpose.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            return re.compile(pattern)
    # re.compile raises more than re.error on pathological patterns
    # (RecursionError, OverflowError); every bad pattern is the user's typo.
    except Exception as error:
        reason = error.msg if isinstance(error, re.error) else str(error)
        raise FilterSyntaxError(
            f"Invalid regular expression '{pattern}' at position {position}: {reason}.",
            text,
            position,
        ) from None


def _to_number(word: str) -> float:
    if word.lstrip("+-").isdecimal():
        try:
            return int(word)
        except ValueError:  # over Python's limit on digits; a float still reads it
            pass
    return float(word)


def _to_float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None
