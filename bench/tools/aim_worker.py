"""Aim through its public API: ``aim.Run``, ``Run.track``, ``aim.Repo``.

Aim makes a closed run queryable only once its index is rebuilt (``aim up`` does
it in the background); the bench runs ``aim storage reindex`` and reports that
time apart, as Aim's indexing.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from typing import Any

import _harness as h

T0 = time.perf_counter()
from aim import Repo, Run  # noqa: E402
from aim.storage.context import Context  # noqa: E402

IMPORT_S = time.perf_counter() - T0
FILTER = "run.cfg.k3 == 5"


def _logger(run: Any, width: int) -> Any:
    track = run.track
    if width == 1:
        return lambda row, step: track(row[0], name="loss", step=step)
    return h.wide_logger(track, step_keyword=True)


def log_phase(args: argparse.Namespace) -> dict[str, Any]:
    rows = h.rows_for(args.steps, args.width)
    begin = time.perf_counter()
    run = Run(repo=args.dir)
    start_s = time.perf_counter() - begin
    steps, loop_s = h.timed_loop(_logger(run, args.width), rows, args.budget)
    ref = run.hash
    begin = time.perf_counter()
    run.close()
    finish_s = time.perf_counter() - begin
    return {
        "ref": ref,
        "steps": steps,
        "points": steps * args.width,
        "loop_s": loop_s,
        "start_s": start_s,
        "finish_s": finish_s,
        "import_s": IMPORT_S,
        "bytes": h.dir_bytes(args.dir),
    }


def _index(folder: str) -> float:
    """Rebuild Aim's index with its own command; return the seconds it took."""
    aim = os.path.join(os.path.dirname(sys.executable), "aim")
    begin = time.perf_counter()
    subprocess.run(
        [aim, "storage", "--repo", folder, "reindex", "--yes"],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - begin


def _series(folder: str, ref: str, name: str) -> tuple[list[int], list[float]]:
    run = Repo(folder).get_run(ref)
    if run is None:
        raise AssertionError(f"Aim finds no run {ref} in {folder}")
    steps, columns = run.get_metric(name, Context({})).data.numpy()
    return steps.tolist(), columns[0].tolist()


def verify_phase(args: argparse.Namespace) -> dict[str, Any]:
    index_s = _index(args.dir)
    checked = 0
    for j, name in enumerate(h.names_for(args.width)):
        steps, values = _series(args.dir, args.ref, name)
        checked += h.check_series(steps, values, args.steps, j, what=name)
    return {"checked": checked, "index_s": index_s}


def write_phase(args: argparse.Namespace) -> dict[str, Any]:
    run = Run(repo=args.dir)
    for i in range(args.steps):
        run.track(h.value(i), name="loss", step=i)
    ref = run.hash
    run.close()
    return {"ref": ref, "points": args.steps, "index_s": _index(args.dir)}


def read_phase(args: argparse.Namespace) -> dict[str, Any]:
    begin = time.perf_counter()
    steps, values = _series(args.dir, args.ref, "loss")
    read_s = time.perf_counter() - begin
    checked = h.check_series(steps, values, args.steps)
    return {"read_s": read_s, "import_s": IMPORT_S, "checked": checked}


def create_phase(args: argparse.Namespace) -> dict[str, Any]:
    begin = time.perf_counter()
    for r in range(args.runs):
        run = Run(repo=args.dir)
        run["cfg"] = h.config_for(r)
        for step in range(h.RUN_STEPS):
            run.track(
                {f"m{j}": h.value(step, j, r) for j in range(h.RUN_METRICS)}, step=step
            )
        run.close()
    create_s = time.perf_counter() - begin
    return {"create_s": create_s, "index_s": _index(args.dir), "runs": args.runs}


def _last(run: Any) -> tuple[int, float]:
    _steps, columns = run.get_metric("m0", Context({})).data.numpy()
    return run["cfg"]["k0"], float(columns[0][-1])


def query_phase(args: argparse.Namespace) -> dict[str, Any]:
    begin = time.perf_counter()
    repo = Repo(args.dir)
    open_s = time.perf_counter() - begin

    begin = time.perf_counter()
    listed = list(repo.iter_runs())
    list_s = time.perf_counter() - begin
    h.check_equal(len(listed), args.runs, "runs listed")

    begin = time.perf_counter()
    chosen = [found.run for found in repo.query_runs(FILTER, report_mode=0).iter_runs()]
    filter_s = time.perf_counter() - begin
    found = sorted(run["cfg"]["k0"] for run in chosen)
    h.check_equal(found, h.matching_runs(args.runs), "runs with cfg.k3 = 5")

    begin = time.perf_counter()
    last = dict(_last(run) for run in repo.iter_runs())
    last_s = time.perf_counter() - begin
    h.check_equal(last, {r: h.last_value(r) for r in range(args.runs)}, "last m0")
    return {"open_s": open_s, "list_s": list_s, "filter_s": filter_s, "last_s": last_s}


def start_phase(args: argparse.Namespace) -> dict[str, Any]:
    begin = time.perf_counter()
    run = Run(repo=args.dir)
    run["cfg"] = h.config_for(0)
    start_s = time.perf_counter() - begin
    run.track(1.0, name="loss", step=0)
    begin = time.perf_counter()
    run.close()
    return {
        "start_s": start_s,
        "finish_s": time.perf_counter() - begin,
        "import_s": IMPORT_S,
    }


if __name__ == "__main__":
    h.main(globals())
