"""How the values of a ``log()`` call become points: steps and numbers checked.

Plain ints and floats pass as they are; NumPy and torch scalars (anything with
``item()`` and one element) become Python numbers, float32 ones keeping their
short decimal form; arrays and non-numbers are sorted out for a clear error.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping
from typing import Any

from runlab._numbers import is_narrow_float, shortest_float32

__all__ = ["I64", "as_number", "as_step", "split_metrics"]

I64 = 2**63


def as_step(step: Any) -> int:
    if isinstance(step, bool):  # an int to Python, never meant as a step
        raise TypeError(f"A step must be an integer, not bool ({step}).")
    try:
        value = operator.index(step)
    except TypeError:
        raise TypeError(
            f"A step must be an integer, not {type(step).__name__}."
        ) from None
    if not -I64 <= value < I64:
        raise ValueError(f"Step {value} does not fit in 64 bits.")
    return value


def split_metrics(
    metrics: Mapping[str, Any],
) -> tuple[dict[str, Any], list[str], list[str]]:
    """Sort a log() call into plain numbers, refused arrays and non-numbers."""
    clean: dict[str, Any] = {}
    arrays: list[str] = []
    bad: list[str] = []
    for name, value in metrics.items():
        if not isinstance(name, str):
            raise TypeError(
                f"Metric names must be strings, not {type(name).__name__} ({name!r})."
            )
        number = as_number(value)
        if number is not None:
            clean[name] = number
        elif element_count(value) not in (None, 1):
            arrays.append(f"{name!r} ({element_count(value)} elements)")
        else:
            bad.append(f"{name!r} = {shorten(repr(value))} ({type(value).__name__})")
    return clean, arrays, bad


def shorten(text: str, width: int = 40) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def element_count(value: Any) -> int | None:
    numel = getattr(value, "numel", None)
    if callable(numel):
        return int(numel())
    size = getattr(value, "size", None)
    return size if isinstance(size, int) else None


def as_number(value: Any) -> float | int | None:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)):
        return value
    item = getattr(value, "item", None)
    if not callable(item) or element_count(value) not in (None, 1):
        return None
    try:
        number = item()
    except (TypeError, ValueError, RuntimeError):
        return None
    if isinstance(number, bool):
        return int(number)
    if isinstance(number, int):
        return number
    if isinstance(number, float):
        return shortest_float32(number) if is_narrow_float(value) else number
    return None
