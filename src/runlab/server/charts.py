"""Curves for the charts: ``GET /api/series`` and ``GET /api/groups``.

Series are read from the run folders on each request (they grow while a run
runs) and thinned to about the panel's width, so one answer stays small
whatever the length of the run.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
from starlette.requests import Request

from runlab.server import series as thinning
from runlab.server._http import HTTPError, JSONResponse, int_param, list_param
from runlab.server.catalog import Record, RunCatalog
from runlab.store import layout
from runlab.store.series import Series, read_manifest, read_series

__all__ = ["get_groups", "get_metric", "get_series"]

logger = logging.getLogger(__name__)

X_KINDS = ("step", "time", "relative")
BANDS = ("minmax", "std")
MAX_RUNS = 100
# Fields of a run, not of its config, that runs may be grouped by.
RECORD_KEYS = frozenset(["branch", "commit", "experiment", "host", "status", "sweep"])


def get_series(request: Request) -> JSONResponse:
    records, metrics, x_kind, width = _chart_params(request)
    try:
        after = thinning.parse_after(request.query_params.get("after", ""))
    except ValueError as err:
        raise HTTPError(400, str(err)) from None
    answer = []
    for record in records:
        origin = _origin(record)
        for series in _read_metrics(request, record, metrics):
            payload = thinning.series_payload(
                series,
                x_kind=x_kind,
                width=width,
                after_step=after.get(record["id"]),
                origin=origin,
            )
            payload["run"] = record["id"]
            answer.append(payload)
    return JSONResponse({"x": x_kind, "series": answer}, plain=True)


def get_metric(request: Request) -> JSONResponse:
    """One whole series, unthinned, as a script would fetch it."""
    store = request.app.state.store
    run = store.load_run(request.path_params["run_id"])
    name = request.path_params["name"]
    try:
        series = run.metric(name)
    except KeyError as err:
        raise HTTPError(404, str(err.args[0]), "MetricNotFound") from None
    summary = run.summary.get(name) or {}
    return JSONResponse(
        {
            "run": run.id,
            "name": name,
            "steps": series.steps.tolist(),
            "times": series.times.tolist(),
            "values": series.values.tolist(),
            "last": summary.get("last"),
            "min": summary.get("min"),
            "max": summary.get("max"),
        }
    )


def get_groups(request: Request) -> JSONResponse:
    records, metrics, x_kind, width = _chart_params(request)
    by = request.query_params.get("by", "").strip()
    band = request.query_params.get("band", "minmax")
    if not by:
        raise HTTPError(400, "Parameter 'by' names a config key, or ~seed.")
    if band not in BANDS:
        raise HTTPError(400, f"Parameter 'band' must be one of {', '.join(BANDS)}.")
    groups = _group_runs(records, by)
    labels = thinning.group_labels(list(groups))
    panels: dict[str, list[dict[str, Any]]] = {}
    curves = _curves_by_metric(request, records, metrics, x_kind)
    for metric, by_run in curves.items():
        panels[metric] = []
        for (key, members), label in zip(groups.items(), labels, strict=True):
            runs = [r["id"] for r in members if r["id"] in by_run]
            if not runs:
                continue
            shape = thinning.group_curves(
                [by_run[i] for i in runs], width=width, band=band
            )
            key_dict = {k: v for k, v in key}
            panels[metric].append(
                {"label": label, "key": key_dict, "runs": runs, **shape}
            )
    return JSONResponse({"x": x_kind, "by": by, "band": band, "metrics": panels})


def _chart_params(request: Request) -> tuple[list[Record], list[str], str, int]:
    catalog: RunCatalog = request.app.state.catalog
    ids = list_param(request, "runs", limit=MAX_RUNS)
    if not ids:
        raise HTTPError(400, "Parameter 'runs' lists no run ids.")
    metrics = list_param(request, "metrics")
    x_kind = request.query_params.get("x", "step")
    if x_kind not in X_KINDS:
        raise HTTPError(400, f"Parameter 'x' must be one of {', '.join(X_KINDS)}.")
    width = int_param(request, "width", 1000, 10, 10000)
    return catalog.get_many(ids), metrics, x_kind, width


def _read_metrics(
    request: Request, record: Record, wanted: Sequence[str]
) -> list[Series]:
    folder = request.app.state.store.run_dir(record["id"]) / layout.METRICS_DIR
    names = list(wanted) or list(read_manifest(folder))
    found = []
    for name in names:
        try:
            found.append(read_series(folder, name).superseded())
        except KeyError:
            continue  # this run did not log that metric: no line for it
        except (OSError, ValueError) as err:
            logger.warning(
                "Cannot read metric %r of run %s: %s", name, record["id"], err
            )
    return found


def _curves_by_metric(
    request: Request, records: Sequence[Record], metrics: Sequence[str], x_kind: str
) -> dict[str, dict[str, tuple[np.ndarray, np.ndarray]]]:
    curves: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]] = {}
    for record in records:
        origin = _origin(record)
        for series in _read_metrics(request, record, metrics):
            x = _x_values(series, x_kind, origin)
            curves.setdefault(series.name, {})[record["id"]] = (x, series.values)
    return curves


def _x_values(series: Series, x_kind: str, origin: float | None) -> np.ndarray:
    if x_kind == "step":
        return series.steps.astype(np.float64)
    if x_kind == "time":
        return series.times
    start = origin if origin is not None else (series.times[0] if len(series) else 0.0)
    return series.times - start


def _origin(record: Record) -> float | None:
    started = record.get("started")
    return float(started) if isinstance(started, (int, float)) else None


def _group_runs(
    records: Sequence[Record], by: str
) -> dict[tuple[Any, ...], list[Record]]:
    groups: dict[tuple[Any, ...], list[Record]] = {}
    for record in records:
        if by in RECORD_KEYS:
            # Runs grouped by where they came from: their branch, say.
            key: tuple[Any, ...] = ((by, record.get(by)),)
        else:
            key = thinning.group_key(record.get("config_flat") or {}, by)
        groups.setdefault(key, []).append(record)
    return groups
