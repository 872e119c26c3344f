"""runlab through its public API: ``runlab.start``, ``Run.log``, ``open_store``."""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import _harness as h

T0 = time.perf_counter()
import runlab  # noqa: E402 - timed: the import is part of the figures

IMPORT_S = time.perf_counter() - T0


def _logger(run: Any, width: int) -> Any:
    log = run.log
    if width == 1:
        return lambda row, step: log({"loss": row[0]}, step)
    return h.wide_logger(log)


def log_phase(args: argparse.Namespace) -> dict[str, Any]:
    rows = h.rows_for(args.steps, args.width)
    begin = time.perf_counter()
    run = runlab.start(store=args.dir)
    start_s = time.perf_counter() - begin
    steps, loop_s = h.timed_loop(_logger(run, args.width), rows, args.budget)
    begin = time.perf_counter()
    run.finish()
    finish_s = time.perf_counter() - begin
    series = _series_bytes(run.path / "metrics", h.names_for(args.width))
    return {
        "ref": run.id,
        "steps": steps,
        "points": steps * args.width,
        "loop_s": loop_s,
        "start_s": start_s,
        "finish_s": finish_s,
        "import_s": IMPORT_S,
        "bytes": h.dir_bytes(args.dir),
        "series_bytes": series,
        "children": _children(),
    }


def _series_bytes(metrics: Path, names: tuple[str, ...]) -> int:
    """Bytes of the logged series' files, found through the documented names.jsonl."""
    entries = [
        json.loads(line)
        for line in (metrics / "names.jsonl").read_text().splitlines()
        if line
    ]
    files = {e["name"]: e["file"] for e in entries}
    return sum((metrics / files[name]).stat().st_size for name in names)


def _children() -> list[str]:
    """Processes this one started that are still alive: helpers left behind."""
    me = str(os.getpid())
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[1] == me:
            found.append(pid)
    return found


def verify_phase(args: argparse.Namespace) -> dict[str, Any]:
    run = runlab.open_store(args.dir).load_run(args.ref)
    checked = 0
    for j, name in enumerate(h.names_for(args.width)):
        series = run.metric(name)
        checked += h.check_series(
            series.steps.tolist(), series.values.tolist(), args.steps, j, what=name
        )
    return {"checked": checked}


def write_phase(args: argparse.Namespace) -> dict[str, Any]:
    result = log_phase(args)
    return {
        "ref": result["ref"],
        "points": result["points"],
        "finish_s": result["finish_s"],
    }


def read_phase(args: argparse.Namespace) -> dict[str, Any]:
    begin = time.perf_counter()
    run = runlab.load_run(args.ref, store=args.dir)
    series = run.metric("loss")
    read_s = time.perf_counter() - begin
    checked = h.check_series(series.steps.tolist(), series.values.tolist(), args.steps)
    return {"read_s": read_s, "import_s": IMPORT_S, "checked": checked}


def create_phase(args: argparse.Namespace) -> dict[str, Any]:
    begin = time.perf_counter()
    for r in range(args.first, args.first + args.runs):
        run = runlab.start(config={"cfg": h.config_for(r)}, store=args.dir)
        for step in range(h.RUN_STEPS):
            run.log({f"m{j}": h.value(step, j, r) for j in range(h.RUN_METRICS)}, step)
        run.finish()
    return {"create_s": time.perf_counter() - begin, "runs": args.runs}


def query_phase(args: argparse.Namespace) -> dict[str, Any]:
    begin = time.perf_counter()
    store = runlab.open_store(args.dir)
    open_s = time.perf_counter() - begin

    begin = time.perf_counter()
    listed = store.records()
    list_s = time.perf_counter() - begin
    h.check_equal(len(listed), args.runs, "runs listed")

    begin = time.perf_counter()
    chosen = store.records("cfg.k3 = 5")
    filter_s = time.perf_counter() - begin
    found = sorted(r["config"]["cfg"]["k0"] for r in chosen)
    h.check_equal(found, h.matching_runs(args.runs), "runs with cfg.k3 = 5")

    begin = time.perf_counter()
    last = {run.config.cfg.k0: run.summary["m0"]["last"] for run in store.runs()}
    last_s = time.perf_counter() - begin
    h.check_equal(last, {r: h.last_value(r) for r in range(args.runs)}, "last m0")
    return {"open_s": open_s, "list_s": list_s, "filter_s": filter_s, "last_s": last_s}


def start_phase(args: argparse.Namespace) -> dict[str, Any]:
    begin = time.perf_counter()
    run = runlab.start(config={"cfg": h.config_for(0)}, store=args.dir)
    start_s = time.perf_counter() - begin
    run.log({"loss": 1.0}, 0)
    begin = time.perf_counter()
    run.finish()
    return {
        "start_s": start_s,
        "finish_s": time.perf_counter() - begin,
        "import_s": IMPORT_S,
    }


def flush_phase(args: argparse.Namespace) -> dict[str, Any]:
    """finish() right after logging, ten scalars a call, within the first second."""
    import numpy as np

    run = runlab.start(store=args.dir)
    log = run.log
    begin = time.perf_counter()
    for i in range(args.steps):
        log(dict.fromkeys(h.WIDE, float(i)), i)
    loop_s = time.perf_counter() - begin
    begin = time.perf_counter()
    run.finish()
    finish_s = time.perf_counter() - begin
    series = runlab.load_run(run.id, store=args.dir).metric("m9")
    expected = np.arange(args.steps)
    ok = bool((series.steps == expected).all() and (series.values == expected).all())
    h.check_equal((len(series), ok), (args.steps, True), "m9 read back")
    return {"points": args.steps * len(h.WIDE), "loop_s": loop_s, "finish_s": finish_s}


def memory_phase(args: argparse.Namespace) -> dict[str, Any]:
    import numpy as np

    run = runlab.start(store=args.dir)
    base = h.rss_mb()
    log = run.log
    begin = time.perf_counter()
    if args.width == 1:
        for i in range(args.steps):
            log({"loss": float(i)}, i)
    else:
        for i in range(args.steps):
            x = float(i)
            log(
                {
                    "loss": x,
                    "m1": x,
                    "m2": x,
                    "m3": x,
                    "m4": x,
                    "m5": x,
                    "m6": x,
                    "m7": x,
                    "m8": x,
                    "m9": x,
                },
                i,
            )
    loop_s = time.perf_counter() - begin
    begin = time.perf_counter()
    run.finish()
    finish_s = time.perf_counter() - begin
    peak = h.peak_rss_mb()
    series = runlab.load_run(run.id, store=args.dir).metric("loss")
    expected = np.arange(args.steps)
    ok = bool((series.steps == expected).all() and (series.values == expected).all())
    h.check_equal((len(series), ok), (args.steps, True), "10M series read back")
    return {
        "base_mb": base,
        "peak_mb": peak,
        "added_mb": peak - base,
        "points": args.steps * args.width,
        "loop_s": loop_s,
        "finish_s": finish_s,
        "checked": args.steps,
    }


if __name__ == "__main__":
    h.main(globals())
