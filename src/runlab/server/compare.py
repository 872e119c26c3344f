"""Two or more runs side by side: ``GET /api/compare``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from starlette.requests import Request

from runlab.server._http import HTTPError, JSONResponse, list_param
from runlab.server.catalog import Record, RunCatalog

__all__ = ["compare_payload", "get_compare"]

SUMMARIES = ("last", "min", "max")
_MISSING = object()


def get_compare(request: Request) -> JSONResponse:
    catalog: RunCatalog = request.app.state.catalog
    ids = list_param(request, "runs", limit=100)
    if len(ids) < 2:
        raise HTTPError(400, "Compare needs two or more runs in 'runs'.")
    return JSONResponse(compare_payload(catalog.get_many(ids)))


def compare_payload(records: Sequence[Record]) -> dict[str, Any]:
    """The config keys that differ and those that agree, and metric summaries."""
    flats = [r.get("config_flat") or {} for r in records]
    keys = list(dict.fromkeys(k for flat in flats for k in flat))
    differ, same = [], []
    for key in keys:
        values = [flat.get(key, _MISSING) for flat in flats]
        if all(v is not _MISSING and v == values[0] for v in values):
            same.append({"key": key, "value": values[0]})
        else:
            shown = [None if v is _MISSING else v for v in values]
            differ.append({"key": key, "values": shown})
    return {
        "runs": [_head(r) for r in records],
        "differ": differ,
        "same": same,
        "metrics": _metric_rows(records),
    }


def _head(record: Record) -> dict[str, Any]:
    fields = ("id", "name", "status", "started", "ended", "tags", "branch", "commit")
    return {field: record.get(field) for field in fields}


def _metric_rows(records: Sequence[Record]) -> list[dict[str, Any]]:
    names = sorted({m for r in records for m in (r.get("metrics") or {})})
    rows = []
    for name in names:
        values = []
        for record in records:
            summary = (record.get("metrics") or {}).get(name)
            values.append(
                {s: summary.get(s) for s in SUMMARIES} if summary is not None else None
            )
        rows.append({"name": name, "values": values})
    return rows
