"""Runs grouped by config keys, and each group's metric summaries aggregated.

Grouping follows the web page's "group by", with the rules of
:mod:`runlab.store.grouping`: a config key takes the run's value, a run field
(``branch``, ``status``) takes the record's value, and ``~seed`` takes every
config key but the seeds. Several keys make one group per combination.

Aggregation, per group and metric column, over the runs that have that
summary: the mean, the standard deviation with ddof=1 (None for a single
run), the minimum and the maximum. NaN or infinite summaries make the mean
NaN or infinite, as NumPy computes it; such a mean is never "best".

A group whose runs differ in a config key it is not grouped by (seeds aside)
averages different configs: the table keeps it, names those keys in
``RunGroup.mixed`` and warns.
"""

from __future__ import annotations

import difflib
import json
import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from runlab._json import to_float
from runlab.report.spec import MetricColumn, ReportError, ReportSpec
from runlab.store.grouping import (
    ALL_BUT_SEED,
    KeyItems,
    config_value,
    freeze_value,
    seedless_items,
    varying_items,
)
from runlab.store.query import RESERVED_FIELDS, resolve_field

__all__ = [
    "ResultTable",
    "RunGroup",
    "Stats",
    "build_table",
    "format_key_value",
    "group_runs",
    "key_value",
    "summarize",
]

logger = logging.getLogger(__name__)

Record = Mapping[str, Any]
NO_VALUE = "–"
# Summaries that count rather than score: no "best" among them.
UNRANKED = frozenset(["count", "last_step"])
# A spread this small next to the mean is float rounding, shown as 0.
NOISE = 1e-12


@dataclass(frozen=True)
class RunGroup:
    """The runs that share one key; ``label`` names only what varies."""

    key: KeyItems
    label: str
    records: tuple[Record, ...]
    # Config keys, seeds aside, whose values differ among the group's runs.
    mixed: tuple[str, ...] = ()

    @property
    def run_ids(self) -> list[str]:
        return [str(r["id"]) for r in self.records]


@dataclass(frozen=True)
class Stats:
    """One group's aggregate of one metric column; None where undefined."""

    values: tuple[float, ...]
    mean: float | None
    std: float | None
    low: float | None
    high: float | None

    @property
    def n(self) -> int:
        return len(self.values)


@dataclass(frozen=True)
class ResultTable:
    """The results table: a row per group, a column per metric.

    ``key_columns`` head the first columns and ``key_cells[row]`` fills them;
    ``stats[row][column]`` aggregates ``columns[column]``; ``best[column]``
    holds the rows whose mean is best (empty when fewer than two groups
    have a finite mean).
    """

    columns: tuple[MetricColumn, ...]
    groups: tuple[RunGroup, ...]
    key_columns: tuple[str, ...]
    key_cells: tuple[tuple[str, ...], ...]
    stats: tuple[tuple[Stats, ...], ...]
    best: tuple[frozenset[int], ...]


def build_table(records: Sequence[Record], spec: ReportSpec) -> ResultTable:
    """Group ``records`` by ``spec.by`` and aggregate ``spec.metrics``.

    Raises:
        ReportError: no records, or a metric column that no record has.
    """
    if not records:
        raise ReportError("There are no runs to report on.")
    for column in spec.metrics:
        _check_present(records, column)
    for key in spec.by:
        _check_key(records, key)
    groups = group_runs(records, spec.by)
    _warn_mixed(groups, spec.by)
    key_columns, key_cells = _key_table(groups, spec.by)
    stats = tuple(
        tuple(summarize(_values(g, column)) for column in spec.metrics) for g in groups
    )
    best = tuple(
        frozenset()
        if column.summary in UNRANKED
        else _best_rows([row[i] for row in stats], spec.is_minimized(column))
        for i, column in enumerate(spec.metrics)
    )
    return ResultTable(spec.metrics, groups, key_columns, key_cells, stats, best)


def group_runs(records: Iterable[Record], by: Sequence[str]) -> tuple[RunGroup, ...]:
    """Return the groups of ``records`` by the keys ``by``, sorted by key value."""
    members: dict[KeyItems, list[Record]] = {}
    for record in records:
        members.setdefault(_group_key(record, by), []).append(record)
    keys = sorted(members, key=_key_order)
    labels = _group_labels(keys)
    return tuple(
        RunGroup(key, label, tuple(members[key]), _mixed_keys(members[key], by))
        for key, label in zip(keys, labels, strict=True)
    )


def summarize(values: Sequence[float]) -> Stats:
    """Aggregate ``values``: mean, std (ddof=1), min and max, as NumPy computes them."""
    if not values:
        return Stats((), None, None, None, None)
    array = np.asarray(values, dtype=np.float64)
    # An infinite summary makes inf - inf inside std: NaN is the answer, not a warning.
    with np.errstate(invalid="ignore", over="ignore"):
        std = float(np.std(array, ddof=1)) if len(array) > 1 else None
        mean = float(np.mean(array))
    if std is not None and std <= NOISE * abs(mean):
        std = 0.0  # equal values, off by rounding (0.19 ± 3.4e-17)
    return Stats(
        tuple(float(v) for v in array),
        mean,
        std,
        float(np.min(array)),
        float(np.max(array)),
    )


# -- grouping ------------------------------------------------------------------


def _group_key(record: Record, by: Sequence[str]) -> KeyItems:
    items: dict[str, Any] = {}
    for key in by:
        if key == ALL_BUT_SEED:
            items.update(seedless_items(record.get("config_flat") or {}))
        else:
            items[key] = freeze_value(key_value(record, key))
    return tuple(items.items())


def _mixed_keys(records: Sequence[Record], by: Sequence[str]) -> tuple[str, ...]:
    """The config keys, but seeds and the ``by`` keys, that differ among ``records``."""
    if len(records) < 2 or ALL_BUT_SEED in by:
        return ()
    configs = [dict(seedless_items(r.get("config_flat") or {})) for r in records]
    names = dict.fromkeys(k for config in configs for k in config)
    grouped = tuple(f"{key}." for key in by)
    varying = [
        name
        for name in names
        if name not in by
        and not name.startswith(grouped)
        and len({repr(config.get(name, NO_VALUE)) for config in configs}) > 1
    ]
    return tuple(sorted(varying))


def _warn_mixed(groups: Sequence[RunGroup], by: Sequence[str]) -> None:
    for group in groups:
        if not group.mixed:
            continue
        shown = ", ".join(group.mixed[:6])
        more = f" and {len(group.mixed) - 6} more" if len(group.mixed) > 6 else ""
        logger.warning(
            "Group %s mixes runs whose configs differ in %s%s; its numbers "
            "average different configs. Group by those keys too (--by KEY), or "
            "by every key but the seed (--by %s).",
            group.label, shown, more, ALL_BUT_SEED,
        )  # fmt: skip


def key_value(record: Record, key: str) -> Any:
    """The value a group key ``key`` (not ``~seed``) takes for ``record``."""
    if key in RESERVED_FIELDS:
        return resolve_field(record, key)
    return config_value(record.get("config_flat") or {}, key)


def _key_order(key: KeyItems) -> tuple[Any, ...]:
    return tuple(_value_order(value) for _, value in key)


def _value_order(value: Any) -> tuple[Any, ...]:
    """Numbers, then booleans, then text, then lists (item by item), then the rest."""
    if isinstance(value, bool):
        return (1, float(value), "", ())
    if isinstance(value, (int, float)):
        return (0, math.inf if math.isnan(value) else value, "", ())
    if isinstance(value, str):
        return (2, 0.0, value, ())
    if isinstance(value, tuple):
        return (3, 0.0, "", tuple(_value_order(item) for item in value))
    return (4, 0.0, format_key_value(value), ())


def _group_labels(keys: Sequence[KeyItems]) -> list[str]:
    """A label per key naming the items not shared by every key (``all`` if none)."""
    labels = []
    for key in varying_items(keys):
        items = [f"{k}={format_key_value(v)}" for k, v in key]
        labels.append(", ".join(items) or "all")
    return labels


def _key_table(
    groups: Sequence[RunGroup], by: Sequence[str]
) -> tuple[tuple[str, ...], tuple[tuple[str, ...], ...]]:
    """The key columns: every ``by`` key, but only the varying ones of ``~seed``."""
    dicts = [dict(g.key) for g in groups]
    names = list(dict.fromkeys(k for d in dicts for k in d))
    if ALL_BUT_SEED in by:
        explicit = set(by)
        names = [
            k
            for k in names
            if k in explicit or len({repr(d.get(k, NO_VALUE)) for d in dicts}) > 1
        ]
    if not names:
        return ("group",), tuple(("all",) for _ in groups)
    cells = tuple(
        tuple(format_key_value(d[k]) if k in d else NO_VALUE for k in names)
        for d in dicts
    )
    return tuple(names), cells


def format_key_value(value: Any) -> str:
    """A key value as a table shows it: text as is, None as "–", else JSON."""
    if value is None:
        return NO_VALUE
    if isinstance(value, str):
        return value
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


# -- aggregation ---------------------------------------------------------------


def _values(group: RunGroup, column: MetricColumn) -> list[float]:
    values, missing = [], []
    for record in group.records:
        value = _number(resolve_field(record, f"metric.{column.label}"))
        if value is None:
            missing.append(str(record["id"]))
            continue
        values.append(value)
        if not math.isfinite(value):
            logger.warning(
                "Run %s has %s = %s: group %s's mean of it is not finite.",
                record["id"], column.label, value, group.label,
            )  # fmt: skip
    if missing:
        logger.warning(
            "Group %s: run(s) %s have no %s; the group's %s is over %d run(s).",
            group.label,
            ", ".join(missing),
            column.label,
            column.label,
            len(values),
        )
    return values


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float, str)):
        try:
            return to_float(value)
        except (TypeError, ValueError):
            return None
    return None


def _check_present(records: Sequence[Record], column: MetricColumn) -> None:
    for record in records:
        if _number(resolve_field(record, f"metric.{column.label}")) is not None:
            return
    names = sorted({m for r in records for m in (r.get("metrics") or {})})
    shown = ", ".join(n for n in names if not n.startswith("sys/"))[:300]
    raise ReportError(
        f"No selected run has metric '{column.name}' with a {column.summary} "
        f"summary; their metrics are: {shown or 'none'}."
    )


def _check_key(records: Sequence[Record], key: str) -> None:
    """Refuse a group key that no run has a value for: it would make one group."""
    if key == ALL_BUT_SEED or key in RESERVED_FIELDS:
        return
    if any(key_value(record, key) is not None for record in records):
        return
    flat_keys = sorted({k for r in records for k in (r.get("config_flat") or {})})
    inside = [k for k in flat_keys if k.startswith(f"{key}.")]
    if inside:
        keys = ", ".join(inside[:8])
        hint = f"it is a section; group by one of its keys: {keys}."
    else:
        close = difflib.get_close_matches(key, flat_keys, n=3)
        hint = f"did you mean {' or '.join(close)}?" if close else "see runlab show."
    raise ReportError(f"No selected run has a value for --by key '{key}'; {hint}")


def _best_rows(stats: Sequence[Stats], minimize: bool) -> frozenset[int]:
    """The rows of the best finite mean, when at least two rows have a mean."""
    if sum(1 for s in stats if s.mean is not None) < 2:
        return frozenset()
    means = {
        i: s.mean for i, s in enumerate(stats) if s.mean is not None and _finite(s.mean)
    }
    if not means:
        return frozenset()
    best = min(means.values()) if minimize else max(means.values())
    return frozenset(i for i, mean in means.items() if mean == best)


def _finite(value: float) -> bool:
    return math.isfinite(value)
