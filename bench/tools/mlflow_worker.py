"""MLflow through its public API; the store (files or SQLite) comes from
MLFLOW_TRACKING_URI, which the driver sets per run.

The 200 runs are created with ``MlflowClient.log_batch`` (one call per run: its
10 params and 500 points), MLflow's own fast path; the logging phase uses
``mlflow.log_metric`` / ``mlflow.log_metrics``, the calls a training loop makes.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import _harness as h

T0 = time.perf_counter()
import mlflow  # noqa: E402
from mlflow import MlflowClient  # noqa: E402
from mlflow.entities import Metric, Param  # noqa: E402

IMPORT_S = time.perf_counter() - T0
BATCH = 1000  # MLflow's limit of metrics per log_batch call
FILTER = "params.`cfg.k3` = '5'"


def _logger(width: int) -> Any:
    if width == 1:
        log_metric = mlflow.log_metric
        return lambda row, step: log_metric("loss", row[0], step=step)
    log_metrics = mlflow.log_metrics
    return h.wide_logger(log_metrics, step_keyword=True)


def log_phase(args: argparse.Namespace) -> dict[str, Any]:
    rows = h.rows_for(args.steps, args.width)
    begin = time.perf_counter()
    run = mlflow.start_run()
    start_s = time.perf_counter() - begin
    steps, loop_s = h.timed_loop(_logger(args.width), rows, args.budget)
    begin = time.perf_counter()
    mlflow.end_run()
    finish_s = time.perf_counter() - begin
    return {
        "ref": run.info.run_id,
        "steps": steps,
        "points": steps * args.width,
        "loop_s": loop_s,
        "start_s": start_s,
        "finish_s": finish_s,
        "import_s": IMPORT_S,
        "bytes": h.dir_bytes(args.dir),
    }


def _history(run_id: str, name: str) -> tuple[list[int], list[float]]:
    points = MlflowClient().get_metric_history(run_id, name)
    points = sorted(points, key=lambda p: (p.step, p.timestamp))
    return [p.step for p in points], [p.value for p in points]


def verify_phase(args: argparse.Namespace) -> dict[str, Any]:
    checked = 0
    for j, name in enumerate(h.names_for(args.width)):
        steps, values = _history(args.ref, name)
        checked += h.check_series(steps, values, args.steps, j, what=name)
    return {"checked": checked}


def write_phase(args: argparse.Namespace) -> dict[str, Any]:
    client = MlflowClient()
    run = mlflow.start_run()
    now = int(time.time() * 1000)
    for part in h.chunks(args.steps, BATCH):
        metrics = [Metric("loss", h.value(i), now, i) for i in part]
        client.log_batch(run.info.run_id, metrics=metrics)
    mlflow.end_run()
    return {"ref": run.info.run_id, "points": args.steps}


def read_phase(args: argparse.Namespace) -> dict[str, Any]:
    begin = time.perf_counter()
    steps, values = _history(args.ref, "loss")
    read_s = time.perf_counter() - begin
    checked = h.check_series(steps, values, args.steps)
    return {"read_s": read_s, "import_s": IMPORT_S, "checked": checked}


def create_phase(args: argparse.Namespace) -> dict[str, Any]:
    client = MlflowClient()
    begin = time.perf_counter()
    for r in range(args.runs):
        run = mlflow.start_run()
        params = [Param(f"cfg.{k}", str(v)) for k, v in h.config_for(r).items()]
        now = int(time.time() * 1000)
        metrics = [
            Metric(f"m{j}", h.value(step, j, r), now, step)
            for step in range(h.RUN_STEPS)
            for j in range(h.RUN_METRICS)
        ]
        for part in h.chunks(len(metrics), BATCH):
            client.log_batch(
                run.info.run_id,
                metrics=metrics[part.start : part.stop],
                params=params if part.start == 0 else [],
            )
        mlflow.end_run()
    return {"create_s": time.perf_counter() - begin, "runs": args.runs}


def _search(where: str = "", order: list[str] | None = None) -> list[Any]:
    runs: list[Any] = mlflow.search_runs(
        search_all_experiments=True,
        filter_string=where,
        order_by=order,
        output_format="list",
        max_results=100_000,
    )
    return runs


def query_phase(args: argparse.Namespace) -> dict[str, Any]:
    begin = time.perf_counter()
    client = MlflowClient()
    client.search_experiments()
    open_s = time.perf_counter() - begin

    begin = time.perf_counter()
    listed = _search()
    list_s = time.perf_counter() - begin
    h.check_equal(len(listed), args.runs, "runs listed")

    begin = time.perf_counter()
    chosen = _search(FILTER)
    filter_s = time.perf_counter() - begin
    found = sorted(int(r.data.params["cfg.k0"]) for r in chosen)
    h.check_equal(found, h.matching_runs(args.runs), "runs with cfg.k3 = 5")

    begin = time.perf_counter()
    last = {int(r.data.params["cfg.k0"]): r.data.metrics["m0"] for r in _search()}
    last_s = time.perf_counter() - begin
    h.check_equal(last, {r: h.last_value(r) for r in range(args.runs)}, "last m0")
    return {"open_s": open_s, "list_s": list_s, "filter_s": filter_s, "last_s": last_s}


def ls_phase(args: argparse.Namespace) -> dict[str, Any]:
    chosen = _search(FILTER, ["metrics.m0 DESC"])
    h.check_equal(len(chosen), len(h.matching_runs(args.runs)), "runs listed")
    return {"listed": len(chosen)}


def start_phase(args: argparse.Namespace) -> dict[str, Any]:
    begin = time.perf_counter()
    mlflow.start_run()
    mlflow.log_params({f"cfg.{k}": v for k, v in h.config_for(0).items()})
    start_s = time.perf_counter() - begin
    mlflow.log_metric("loss", 1.0, step=0)
    begin = time.perf_counter()
    mlflow.end_run()
    return {
        "start_s": start_s,
        "finish_s": time.perf_counter() - begin,
        "import_s": IMPORT_S,
    }


if __name__ == "__main__":
    h.main(globals())
