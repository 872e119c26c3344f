"""JSON that strict parsers read: one place turns runlab values into JSON.

Non-finite floats are written as the strings ``"NaN"``, ``"Infinity"`` and
``"-Infinity"`` (documented in docs/json.md); NumPy and PyTorch scalars become
plain numbers; datetimes become ISO 8601 strings.
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Any

import orjson

__all__ = ["dumps", "jsonable", "loads", "loads_compact"]

_NONFINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def jsonable(value: Any) -> Any:
    """Return ``value`` with every part turned into strict-JSON types."""
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        if math.isnan(value):
            return "NaN"
        return "Infinity" if value > 0 else "-Infinity"
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    item = getattr(value, "item", None)
    if callable(item):
        # NumPy scalars and 0-d arrays/tensors carry their Python value in item().
        return jsonable(item())
    return str(value)


def dumps(value: Any, *, indent: int | None = None) -> str:
    """Serialise ``value`` as strict JSON (no bare NaN or Infinity tokens).

    orjson does the work (several times the standard library's speed on the
    index's thousands of records); ``indent`` is 2 or None with it. A value
    orjson refuses (an integer beyond 64 bits) goes through the standard
    library instead.
    """
    plain = jsonable(value)
    try:
        option = orjson.OPT_INDENT_2 if indent else 0
        return orjson.dumps(plain, option=option).decode("utf-8")
    except (TypeError, orjson.JSONEncodeError):
        return json.dumps(plain, indent=indent, ensure_ascii=False, allow_nan=False)


def loads(text: str | bytes) -> Any:
    """Parse JSON written by :func:`dumps`; non-finite markers stay strings.

    orjson reads an integer beyond 64 bits as a float. Where that matters,
    read what :func:`dumps` wrote compactly with :func:`loads_compact`.
    """
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        # orjson refuses integers beyond 64 bits, which the fallback may write.
        return json.loads(text)


def loads_compact(text: str) -> Any:
    """:func:`loads` for text :func:`dumps` wrote without ``indent``, exactly.

    Only text that held an integer beyond 64 bits was written by the standard
    library, whose separators have a space (``": "``) where orjson's compact
    output has none: that text is read back by the standard library, which
    keeps such integers whole. (A string holding ``": "`` also takes that
    slower road, to the same result.)
    """
    if '": ' in text:
        return json.loads(text)
    return loads(text)


def to_float(value: Any) -> float | None:
    """Read a metric value written by :func:`jsonable` back into a float."""
    if value is None:
        return None
    if isinstance(value, str):
        return _NONFINITE.get(value)
    return float(value)
