"""The sweeps: ``GET /api/sweeps`` (every sweep) and ``GET /api/sweeps/{id}``.

A sweep's page shows its trials beside their runs, so the answer for one
sweep is its ``state.json`` (as :meth:`SweepState.to_dict` gives it) with,
for each trial, the fields of its latest run that the page shows: status,
times and metric summaries. The sweep file's ``objective`` comes along, read
from the copy of the file kept in the sweep's folder.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from starlette.requests import Request

from runlab.config import loads_config
from runlab.errors import RunlabError, RunNotFound
from runlab.server._http import JSONResponse
from runlab.server.catalog import Record, RunCatalog
from runlab.server.runs import run_duration
from runlab.store.store import Store
from runlab.sweep import state as sweep_state
from runlab.sweep.session import stale_view
from runlab.sweep.state import SweepState

__all__ = [
    "get_sweep",
    "list_sweeps",
    "read_objective",
    "sweep_payload",
    "sweeps_payload",
]

logger = logging.getLogger(__name__)

SUMMARIES = ("last", "min", "max")
SWEEP_FILE = "sweep.yaml"
LIST_FIELDS = ("id", "name", "file", "method", "created", "executor")
RUN_FIELDS = ("id", "name", "status", "started", "ended", "exit_code")


def list_sweeps(request: Request) -> JSONResponse:
    store: Store = request.app.state.store
    sweeps = sweep_state.list_sweeps(store.path)
    for sweep in sweeps:
        stale_view(sweep)  # trials of a runner that died show as killed
    return JSONResponse(sweeps_payload(sweeps))


def get_sweep(request: Request) -> JSONResponse:
    """One sweep by id, unique id prefix or name; 404 (SweepNotFound) else."""
    store: Store = request.app.state.store
    catalog: RunCatalog = request.app.state.catalog
    sweep = sweep_state.read_sweep(store.path, request.path_params["sweep_id"])
    stale_view(sweep)
    run_ids = [t.run_id for t in sweep.trials if t.run_id is not None]
    records = _find_records(catalog, run_ids)
    objective = read_objective(sweep)
    return JSONResponse(sweep_payload(sweep, records, objective, time.time()))


def sweeps_payload(sweeps: Iterable[SweepState]) -> dict[str, Any]:
    """Each sweep's head and counts by state, newest first."""
    newest = sorted(sweeps, key=lambda s: (s.created, s.id), reverse=True)
    heads = []
    for sweep in newest:
        head = {field: getattr(sweep, field) for field in LIST_FIELDS}
        head["trials"] = len(sweep.trials)
        head["counts"] = sweep.counts()
        heads.append(head)
    return {"sweeps": heads}


def sweep_payload(
    sweep: SweepState,
    records: Mapping[str, Record],
    objective: dict[str, Any] | None,
    now: float,
) -> dict[str, Any]:
    """The sweep's state, each trial with its run's fields, and what to plot.

    Each trial gains ``run``: its latest run's ``id``, ``name``, ``status``,
    ``started``, ``ended``, ``exit_code``, ``duration`` and ``metrics``
    (name -> summaries), or None when it has no run or the run is gone.

    Args:
        records: the trials' run records by run id (missing ones are gone).
        objective: the sweep file's ``objective``, normalized, or None.
        now: the time a running run's duration is measured to.
    """
    data = sweep.to_dict()
    for trial in data["trials"]:
        run_ids = trial.get("run_ids") or []
        record = records.get(run_ids[-1]) if run_ids else None
        trial["run"] = None if record is None else _run_fields(record, now)
    data["parameters"] = swept_parameters(sweep)
    data["objective"] = objective
    data["metrics"] = _metric_names(records.values())
    return data


def swept_parameters(sweep: SweepState) -> list[str]:
    """The trials' parameter names in file order, then ``seed`` when seeded."""
    names: dict[str, None] = {}
    for trial in sweep.trials:
        names.update(dict.fromkeys(trial.params))
    if any(trial.seed is not None for trial in sweep.trials):
        names.setdefault("seed")
    return list(names)


def read_objective(sweep: SweepState) -> dict[str, Any] | None:
    """The ``objective`` of the sweep file copied into the sweep's folder.

    Returns ``{"metric", "summary", "goal"}`` (summary ``last`` when the file
    names none or one the page cannot show), or None when the file has no
    objective or cannot be read: the page then simply has no default metric.
    """
    path = sweep.folder / SWEEP_FILE
    try:
        spec = loads_config(path.read_text(encoding="utf-8"), source=str(path))
    except (OSError, UnicodeDecodeError, RunlabError) as err:
        logger.warning("Sweep %s: cannot read its objective (%s).", sweep.id, err)
        return None
    objective = spec.get("objective")
    if not isinstance(objective, dict) or not isinstance(objective.get("metric"), str):
        return None
    summary = objective.get("summary")
    goal = objective.get("goal")
    return {
        "metric": objective["metric"],
        "summary": summary if summary in SUMMARIES else "last",
        "goal": goal if isinstance(goal, str) else None,
    }


def _find_records(catalog: RunCatalog, run_ids: Sequence[str]) -> dict[str, Record]:
    found = {}
    for run_id in run_ids:
        try:
            found[run_id] = catalog.get(run_id)
        except RunNotFound:
            # Deleted, or moved to the trash: the trial shows no run.
            logger.debug("Run %s of a sweep trial is not in the store.", run_id)
    return found


def _run_fields(record: Record, now: float) -> dict[str, Any]:
    fields = {field: record.get(field) for field in RUN_FIELDS}
    fields["duration"] = run_duration(record, now)
    fields["metrics"] = record.get("metrics") or {}
    return fields


def _metric_names(records: Iterable[Record]) -> list[str]:
    """Metric names of the runs, sorted, with ``sys/...`` after the rest."""
    names = {name for record in records for name in record.get("metrics") or {}}
    return sorted(names, key=lambda name: (name.startswith("sys/"), name))
