"""Series for the charts: thinning, live-update cursors and run groups.

Pure NumPy, no web code. The routes ``GET /api/series`` and ``GET /api/groups``
(docs/web.md) call these functions and encode what they return.

Contract:
- A series longer than ``2 * width`` points is thinned: its x range is cut into
  ``width`` equal buckets, and each non-empty bucket keeps its first and last
  point, its minimum and its maximum (finite values only, first occurrence on
  ties) and its first non-finite point. So spikes, gaps and marks survive, and
  at most ``5 * width`` points are kept (``4 * width`` when all are finite).
- Kept points stay in the order they were logged.
- Returned payloads hold plain Python ints, floats, strings and None, never
  NumPy scalars; a non-finite value is None in a series array and is listed in
  ``marks`` by name (``"NaN"``, ``"Infinity"``, ``"-Infinity"``).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from runlab.store.grouping import (
    ALL_BUT_SEED,
    KeyItems,
    config_value,
    freeze_value,
    seedless_items,
    varying_items,
)
from runlab.store.series import Series

__all__ = [
    "group_curves",
    "group_key",
    "group_label",
    "group_labels",
    "parse_after",
    "series_payload",
    "thin_indices",
]

logger = logging.getLogger(__name__)

X_KINDS = ("step", "time", "relative")
BANDS = ("minmax", "std")

Curve = tuple[np.ndarray, np.ndarray]


# -- thinning ------------------------------------------------------------------


def thin_indices(x: np.ndarray, y: np.ndarray, width: int) -> np.ndarray:
    """Return the sorted int64 indices of the points to draw at ``width`` buckets.

    Args:
        x: finite, non-decreasing positions (steps or times). A clock that
            steps back is tolerated: buckets follow the running maximum of x.
        y: values, NaN and infinities allowed.
        width: the number of buckets, at least 1. Bucket ``k`` holds the
            points with ``x[0] + k * span / width <= x < x[0] + (k + 1) *
            span / width``; the last one holds ``x[-1]`` too.

    Returns:
        Every index when ``len(x) <= 2 * width``; else, per non-empty bucket,
        the first and last point, the first minimum and first maximum of the
        finite values, and the first non-finite point.

    Runs in O(n + width log n) NumPy operations, with no Python loop over
    points or buckets.
    """
    _check_width(width)
    count = len(x)
    if count <= 2 * width:
        return np.arange(count, dtype=np.int64)

    starts = _bucket_starts(x, width)
    ends = np.append(starts[1:], count) - 1
    finite = np.isfinite(y)
    # Fresh arrays of n floats cost more in page faults than in arithmetic:
    # a copy of y is made only when some values are not finite.
    all_finite = bool(finite.all())
    keep = np.zeros(count, dtype=bool)
    keep[starts] = True
    keep[ends] = True

    for reduce, filler in ((np.minimum, np.inf), (np.maximum, -np.inf)):
        clean = y if all_finite else np.where(finite, y, filler)
        keep[_first_extremes(clean, starts, reduce)] = True
    if not all_finite:
        keep[_first_flagged(~finite, starts)] = True
    return np.flatnonzero(keep).astype(np.int64, copy=False)


def _check_width(width: int) -> None:
    if width < 1:
        raise ValueError(f"Chart width {width} is too small; give 1 or more.")


def _bucket_starts(x: np.ndarray, width: int) -> np.ndarray:
    """Return the first index of each non-empty bucket, ascending."""
    # Float positions: int64 steps far apart would overflow when subtracted.
    position = x.astype(np.float64, copy=False)
    if not np.all(position[1:] >= position[:-1]):
        position = np.maximum.accumulate(position)
    low, high = position[0], position[-1]
    edges = low + (high - low) * (np.arange(width) / width)
    starts = np.searchsorted(position, edges, side="left")
    # An empty bucket shares the next one's start; keep each start once.
    return starts[_is_first_of_run(starts)]


def _is_first_of_run(labels: np.ndarray) -> np.ndarray:
    """Flag each element that differs from the one before it (the first too)."""
    first = np.empty(len(labels), dtype=bool)
    if len(labels):
        first[0] = True
        np.not_equal(labels[1:], labels[:-1], out=first[1:])
    return first


def _first_flagged(flags: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Return the first index where ``flags`` holds, of each bucket that has one."""
    hits = np.flatnonzero(flags)
    bucket = np.searchsorted(starts, hits, side="right")
    return hits[_is_first_of_run(bucket)]


def _first_extremes(
    clean: np.ndarray, starts: np.ndarray, reduce: np.ufunc
) -> np.ndarray:
    """Return the first index of each bucket's minimum (or maximum) of ``clean``.

    ``clean`` holds no NaN: non-finite values were replaced by the number that
    never wins the reduction, so they tie only in a bucket without finite
    values, and such a bucket is left out.
    """
    extreme = reduce.reduceat(clean, starts)
    sizes = np.diff(starts, append=len(clean))
    firsts = _first_flagged(clean == np.repeat(extreme, sizes), starts)
    return firsts[np.isfinite(extreme)]


# -- one series ----------------------------------------------------------------


def series_payload(
    series: Series,
    *,
    x_kind: str,
    width: int,
    after_step: int | None,
    origin: float | None,
) -> dict[str, Any]:
    """Return one series as ``GET /api/series`` shows it, less the run id.

    Args:
        series: the points as read; superseded points are hidden here.
        x_kind: ``"step"`` (ints), ``"time"`` (epoch seconds) or
            ``"relative"`` (seconds since ``origin``).
        width: the panel's width in buckets (see :func:`thin_indices`).
        after_step: return only points with a greater step (live updates);
            None for all. What remains is thinned like a whole series.
        origin: the run's first point time across its metrics; None uses
            this series' own first time.

    Returns:
        ``metric``, ``x``, ``y`` (None where non-finite), ``total`` (points
        after superseded ones are hidden), ``shown``, ``last_step`` (of the
        whole series, None when empty) and ``marks``.

    Raises:
        ValueError: ``x_kind`` or ``width`` is not one of the accepted values.
    """
    if x_kind not in X_KINDS:
        raise ValueError(
            f"Unknown x {x_kind!r} for series {series.name!r}; "
            "use step, time or relative."
        )
    visible = _visible(series)
    total = len(visible)
    x = _x_values(visible, x_kind, origin)
    start = 0 if after_step is None else _first_after(visible.steps, after_step)
    x, y = x[start:], visible.values[start:]

    kept = thin_indices(x, y, width)
    return {
        "metric": series.name,
        "x": x[kept].tolist(),
        "y": _nullable(y[kept]),
        "total": total,
        "shown": len(kept),
        "last_step": int(visible.steps[-1]) if total else None,
        "marks": _marks(x[kept], y[kept]),
    }


def _visible(series: Series) -> Series:
    # Most series never resumed: a quick check skips superseded()'s full pass.
    steps = series.steps
    return series if np.all(steps[1:] > steps[:-1]) else series.superseded()


def _x_values(series: Series, x_kind: str, origin: float | None) -> np.ndarray:
    if x_kind == "step":
        return series.steps
    if x_kind == "time" or not len(series):
        return series.times
    zero = float(series.times[0]) if origin is None else origin
    return series.times - zero


def _first_after(steps: np.ndarray, after_step: int) -> int:
    # Superseded steps rise strictly, so a binary search finds the cut.
    return int(np.searchsorted(steps, after_step, side="right"))


def _nullable(values: np.ndarray) -> list[float | None]:
    """Return the values as Python floats, None where non-finite."""
    plain = values.astype(object)
    plain[~np.isfinite(values)] = None
    result: list[float | None] = plain.tolist()
    return result


def _marks(x: np.ndarray, y: np.ndarray) -> list[dict[str, Any]]:
    where = np.flatnonzero(~np.isfinite(y))
    return [{"x": x[i].item(), "value": _nonfinite_name(float(y[i]))} for i in where]


# A group's marks are a hint of where runs broke, not a full list.
MAX_MARKS = 1000


def _nonfinite_name(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def parse_after(text: str) -> dict[str, int]:
    """Parse the ``after`` query, ``RUN_ID:STEP,RUN_ID:STEP``, into a dict.

    Blank items (a trailing comma) are skipped; an empty text gives ``{}``.

    Raises:
        ValueError: an item is not ``RUN_ID:STEP`` with an integer step, or
            names a run twice.
    """
    cursors: dict[str, int] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        run_id, step = _parse_cursor(item)
        if run_id in cursors:
            raise ValueError(
                f"The 'after' query names run {run_id!r} twice; give one step per run."
            )
        cursors[run_id] = step
    return cursors


def _parse_cursor(item: str) -> tuple[str, int]:
    run_id, _, step = (part.strip() for part in item.rpartition(":"))
    if not run_id or not _is_integer(step):
        raise ValueError(
            f"Bad 'after' item {item!r}: expected RUN_ID:STEP with a whole "
            "number step, for example after=261203-151207-a3f9:120."
        )
    return run_id, int(step)


def _is_integer(text: str) -> bool:
    digits = text[1:] if text[:1] in "+-" else text
    return digits.isascii() and digits.isdigit()


# -- groups --------------------------------------------------------------------


def group_curves(curves: Sequence[Curve], *, width: int, band: str) -> dict[str, Any]:
    """Return the mean and band of runs' curves on one grid of ``width`` x values.

    Args:
        curves: one ``(x, y)`` per run, x non-decreasing. Non-finite values
            are left out before interpolating, and break the group's line.
        width: the number of grid points, at least 1.
        band: ``"minmax"`` (lowest and highest run) or ``"std"`` (mean minus
            and plus the standard deviation across runs, ddof 0).

    Returns:
        ``x``, ``mean``, ``lo`` and ``hi`` lists, None where no run has data
        or where a member's points around that x are NaN or infinite; and
        ``marks``, the x and kind of the members' non-finite points. The grid
        spans the runs' overlap; when they do not overlap, it spans their
        union and each run counts only within its own range. With no finite
        points at all, every list is empty.

    Raises:
        ValueError: ``band`` or ``width`` is not one of the accepted values.
    """
    if band not in BANDS:
        raise ValueError(f"Unknown band {band!r}; use minmax or std.")
    _check_width(width)
    curves = [_finite_x(c) for c in curves]
    marks = _group_marks(curves)
    curves = [(x, y) for x, y in curves if np.isfinite(y).any()]
    if not curves:
        return {"x": [], "mean": [], "lo": [], "hi": [], "marks": marks}

    grid = _common_grid(curves, width)
    table = np.stack([_on_grid(grid, x, y) for x, y in curves])
    # A run that went NaN or infinite must not look healthy in its group:
    # the group's line breaks wherever a member's points around it are bad.
    broken = np.logical_or.reduce([_bad_near(grid, x, y) for x, y in curves])
    mean, lo, hi = _mean_and_band(table, band)
    for column in (mean, lo, hi):
        column[broken] = np.nan
    return {
        "x": grid.tolist(),
        "mean": _nullable(mean),
        "lo": _nullable(lo),
        "hi": _nullable(hi),
        "marks": marks,
    }


def _finite_x(curve: Curve) -> Curve:
    x = np.asarray(curve[0], dtype=np.float64)
    y = np.asarray(curve[1], dtype=np.float64)
    keep = np.isfinite(x)
    return x[keep], y[keep]


def _on_grid(grid: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The curve's finite points interpolated on ``grid``; NaN outside its range."""
    good = np.isfinite(y)
    return np.interp(grid, x[good], y[good], left=np.nan, right=np.nan)


def _bad_near(grid: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Grid points whose neighbouring raw points include a non-finite one."""
    bad = ~np.isfinite(y)
    if not bad.any():
        return np.zeros(len(grid), dtype=bool)
    after = np.clip(np.searchsorted(x, grid, side="left"), 0, len(x) - 1)
    # On a raw point, only that point counts; between two, both do.
    exact = x[after] == grid
    before = np.where(exact, after, np.clip(after - 1, 0, len(x) - 1))
    inside = (grid >= x[0]) & (grid <= x[-1])
    return inside & (bad[before] | bad[after])


def _group_marks(curves: Sequence[Curve]) -> list[dict[str, Any]]:
    """Where members' values were NaN or infinite (at most MAX_MARKS)."""
    marks: dict[float, str] = {}
    for x, y in curves:
        for at in np.flatnonzero(~np.isfinite(y))[:MAX_MARKS].tolist():
            marks.setdefault(float(x[at]), _nonfinite_name(float(y[at])))
    return [{"x": at, "value": kind} for at, kind in sorted(marks.items())[:MAX_MARKS]]


def _common_grid(curves: Sequence[Curve], width: int) -> np.ndarray:
    starts = [float(x[0]) for x, _y in curves]
    ends = [float(x[-1]) for x, _y in curves]
    low, high = max(starts), min(ends)
    if low >= high:
        # No overlap (or a single shared x): spread over all the runs instead.
        low, high = min(starts), max(ends)
    return np.linspace(low, high, width)


def _mean_and_band(
    table: np.ndarray, band: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return mean, lo and hi per column, NaN where a column has no data.

    Counts are taken by hand rather than with nanmean and nanstd, which warn
    on a column of NaN only.
    """
    present = ~np.isnan(table)
    count = present.sum(axis=0)
    has_data = count > 0
    mean = _divide(np.where(present, table, 0.0).sum(axis=0), count, has_data)
    if band == "minmax":
        return mean, np.fmin.reduce(table, axis=0), np.fmax.reduce(table, axis=0)

    squares = np.where(present, (table - mean) ** 2, 0.0).sum(axis=0)
    spread = np.sqrt(_divide(squares, count, has_data))
    return mean, mean - spread, mean + spread


def _divide(total: np.ndarray, count: np.ndarray, has_data: np.ndarray) -> np.ndarray:
    return np.divide(total, count, out=np.full(len(total), np.nan), where=has_data)


def group_key(config_flat: Mapping[str, Any], by: str) -> KeyItems:
    """Return the hashable group key of a run's flat config.

    Args:
        config_flat: ``{dotted key: value}`` as stored in the run's record.
        by: a config key (``"optim.lr"``), giving ``(("optim.lr", value),)``
            with None when the run lacks the key; or ``"~seed"``, giving every
            item but the seeds (see :mod:`runlab.store.grouping`).

    Non-finite floats become the strings ``"NaN"``, ``"Infinity"`` and
    ``"-Infinity"``, so keys still encode as strict JSON.
    """
    if by == ALL_BUT_SEED:
        items = seedless_items(config_flat)
    else:
        items = ((by, freeze_value(config_value(config_flat, by))),)
    return tuple((key, _named_nonfinite(value)) for key, value in items)


def _named_nonfinite(value: Any) -> Any:
    if isinstance(value, tuple):
        return tuple(_named_nonfinite(item) for item in value)
    if isinstance(value, float) and not math.isfinite(value):
        return _nonfinite_name(value)
    return value


def group_label(key_items: KeyItems) -> str:
    """Return ``"optim.lr=0.01"`` or ``"a=1, b=x"``; ``"all"`` for no items."""
    if not key_items:
        return "all"
    return ", ".join(f"{key}={_label_value(value)}" for key, value in key_items)


def _label_value(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def group_labels(keys: Sequence[KeyItems]) -> list[str]:
    """Return a label per group key, naming only the items that vary among them.

    So ``~seed`` groups read ``optim.lr=0.1`` rather than the whole config,
    and groups that differ in nothing are labelled ``"all"``.
    """
    return [group_label(key) for key in varying_items(keys)]
