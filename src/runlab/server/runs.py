"""The runs table: ``GET /api/runs`` (rows of a page) and ``GET /api/columns``."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from starlette.requests import Request

from runlab.server._http import HTTPError, JSONResponse, int_param, list_param
from runlab.server.catalog import Record, RunCatalog
from runlab.store.hints import unknown_keys
from runlab.store.query import resolve_field

__all__ = [
    "columns_payload",
    "list_columns",
    "list_runs",
    "rows_payload",
    "run_duration",
]

DEFAULT_SORT = ("-started",)
ROW_FIELDS = (
    "id", "name", "status", "started", "ended", "tags", "experiment", "sweep",
    "branch", "commit", "dirty", "exit_code",
)  # fmt: skip
SUMMARIES = ("last", "min", "max", "count", "last_step")
# Run fields the table can add as columns (the rest it always shows).
FIELD_COLUMNS = ("ended", "experiment", "sweep", "trial", "host", "exit_code")
MAX_DEFAULT_CONFIG = 6
MAX_DEFAULT_METRICS = 4
MAX_COLUMN_KEYS = 2000


def list_runs(request: Request) -> JSONResponse:
    catalog: RunCatalog = request.app.state.catalog
    where = request.query_params.get("where", "")
    sort = list_param(request, "sort") or list(DEFAULT_SORT)
    offset = int_param(request, "offset", 0, 0, 10**9)
    limit = int_param(request, "limit", 100, 1, 1000)
    chosen = catalog.select(where, sort)
    _check_sort(catalog, sort)
    # "-" alone asks for no optional columns; no parameter, for the defaults.
    columns = [c for c in list_param(request, "columns", limit=200) if c != "-"]
    if "columns" not in request.query_params:
        key = ("default-columns", where)
        columns = catalog.remember(key, lambda: default_columns(chosen))
    return JSONResponse(rows_payload(chosen, columns, offset, limit))


def _check_sort(catalog: RunCatalog, sort: Sequence[str]) -> None:
    """Refuse a sort key no run of the store has: a typo would sort nothing.

    Checked against every run, not the filtered ones, so that narrowing the
    filter to runs without the sorted key does not turn into an error.
    """
    unknown = catalog.remember(
        ("unknown-sort", tuple(sort)), lambda: unknown_keys(catalog.records(), sort)
    )
    if not unknown:
        return
    key, close = next(iter(unknown.items()))
    if close and key.startswith("config.") and not close.startswith("config."):
        close = f"config.{close}"  # spelled as the page spells its columns
    hint = f"; did you mean '{close}'?" if close else "."
    raise HTTPError(
        400,
        f"Parameter 'sort': no run has '{key}' (a run field, config key, or "
        f"metric.NAME.SUMMARY){hint}",
    )


def list_columns(request: Request) -> JSONResponse:
    catalog: RunCatalog = request.app.state.catalog
    where = request.query_params.get("where", "")
    chosen = catalog.select(where, ())
    # Computed over every matching run: kept until the store is read again.
    payload = catalog.remember(("columns", where), lambda: columns_payload(chosen))
    return JSONResponse(payload)


def rows_payload(
    records: Sequence[Record], columns: Sequence[str], offset: int, limit: int
) -> dict[str, Any]:
    """One page of the table: the rows from ``offset`` and the true total."""
    now = time.time()
    rows = [_row(r, columns, now) for r in records[offset : offset + limit]]
    running = sum(1 for r in records if r.get("status") == "running")
    return {
        "total": len(records),
        "offset": offset,
        "limit": limit,
        "running": running,
        "columns": list(columns),
        "rows": rows,
    }


def columns_payload(records: Sequence[Record]) -> dict[str, Any]:
    """The config keys and metrics the runs hold, and the default columns."""
    config: dict[str, None] = {}
    metrics: dict[str, None] = {}
    for record in records:
        config.update(dict.fromkeys(record.get("config_flat") or {}))
        metrics.update(dict.fromkeys(record.get("metrics") or {}))
    return {
        "config": sorted(config)[:MAX_COLUMN_KEYS],
        "metrics": sorted(metrics)[:MAX_COLUMN_KEYS],
        "summaries": list(SUMMARIES),
        "fields": list(FIELD_COLUMNS),
        "default": default_columns(records),
    }


def default_columns(records: Sequence[Record]) -> list[str]:
    """Config keys whose value differs between runs, then a few metrics' last.

    The keys come in the order the oldest runs list them, whatever the order
    of ``records``: the table and the column chooser agree, and a new run
    does not reshuffle the columns.
    """
    seen: dict[str, Any] = {}
    varying: dict[str, None] = {}
    metrics: dict[str, None] = {}
    oldest_first = sorted(records, key=lambda r: (r.get("started") or 0, r["id"]))
    for record in oldest_first:
        for key, value in (record.get("config_flat") or {}).items():
            if key not in seen:
                seen[key] = value
            elif seen[key] != value:
                varying[key] = None
        metrics.update(dict.fromkeys(record.get("metrics") or {}))
    if len(records) == 1:
        varying = dict.fromkeys(seen)
    keys = [key for key in seen if key in varying]
    chosen = [f"config.{key}" for key in keys[:MAX_DEFAULT_CONFIG]]
    plain = [m for m in metrics if not m.startswith("sys/")]
    chosen += [f"metric.{m}.last" for m in sorted(plain)[:MAX_DEFAULT_METRICS]]
    return chosen


def _row(record: Record, columns: Sequence[str], now: float) -> dict[str, Any]:
    row = {field: record.get(field) for field in ROW_FIELDS}
    row["duration"] = run_duration(record, now)
    values = {}
    for column in columns:
        values[column] = (
            row["duration"] if column == "duration" else resolve_field(record, column)
        )
    row["values"] = values
    return row


def run_duration(record: Record, now: float) -> float | None:
    """Seconds from start to end, or to ``now`` for a running run."""
    started = record.get("started")
    if not isinstance(started, (int, float)):
        return None
    ended = record.get("ended")
    if record.get("status") == "running" or not isinstance(ended, (int, float)):
        return now - started if record.get("status") == "running" else None
    return float(ended - started)
