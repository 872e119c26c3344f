"""The floor: append each call's (step, wall time, metrics) to a Python list.

Finishing pickles the list to one file, so that the read phase has something a
fresh process can load; reading unpickles it.
"""

from __future__ import annotations

import argparse
import os
import pickle
import time
from typing import Any

import _harness as h

IMPORT_S = 0.0
FILE = "run.pkl"


def _logger(rows: list[Any], width: int) -> Any:
    def log(metrics: dict[str, float], step: int) -> None:
        rows.append((step, time.time(), metrics))

    if width == 1:
        return lambda row, step: log({"loss": row[0]}, step)
    return h.wide_logger(log)


def _finish(rows: list[Any], folder: str) -> None:
    with open(os.path.join(folder, FILE), "wb") as out:
        pickle.dump(rows, out, protocol=pickle.HIGHEST_PROTOCOL)


def log_phase(args: argparse.Namespace) -> dict[str, Any]:
    values = h.rows_for(args.steps, args.width)
    rows: list[Any] = []
    steps, loop_s = h.timed_loop(_logger(rows, args.width), values, args.budget)
    begin = time.perf_counter()
    _finish(rows, args.dir)
    finish_s = time.perf_counter() - begin
    return {
        "ref": FILE,
        "steps": steps,
        "points": steps * args.width,
        "loop_s": loop_s,
        "start_s": 0.0,
        "finish_s": finish_s,
        "import_s": IMPORT_S,
        "bytes": h.dir_bytes(args.dir),
    }


def _load(folder: str) -> list[Any]:
    with open(os.path.join(folder, FILE), "rb") as source:
        rows: list[Any] = pickle.load(source)
    return rows


def verify_phase(args: argparse.Namespace) -> dict[str, Any]:
    rows = _load(args.dir)
    checked = 0
    for j, name in enumerate(h.names_for(args.width)):
        steps = [row[0] for row in rows]
        values = [row[2][name] for row in rows]
        checked += h.check_series(steps, values, args.steps, j, what=name)
    return {"checked": checked}


def write_phase(args: argparse.Namespace) -> dict[str, Any]:
    result = log_phase(args)
    return {"ref": result["ref"], "points": result["points"]}


def read_phase(args: argparse.Namespace) -> dict[str, Any]:
    begin = time.perf_counter()
    rows = _load(args.dir)
    steps = [row[0] for row in rows]
    values = [row[2]["loss"] for row in rows]
    read_s = time.perf_counter() - begin
    checked = h.check_series(steps, values, args.steps)
    return {"read_s": read_s, "import_s": IMPORT_S, "checked": checked}


def memory_phase(args: argparse.Namespace) -> dict[str, Any]:
    rows: list[Any] = []
    base = h.rss_mb()
    begin = time.perf_counter()
    if args.width == 1:
        for i in range(args.steps):
            rows.append((i, time.time(), {"loss": float(i)}))
    else:
        for i in range(args.steps):
            x = float(i)
            rows.append(
                (
                    i,
                    time.time(),
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
                )
            )
    loop_s = time.perf_counter() - begin
    peak = h.peak_rss_mb()
    ok = all(row[0] == i and row[2]["loss"] == i for i, row in enumerate(rows))
    h.check_equal((len(rows), ok), (args.steps, True), "list read back")
    return {
        "base_mb": base,
        "peak_mb": peak,
        "added_mb": peak - base,
        "points": args.steps * args.width,
        "loop_s": loop_s,
        "finish_s": 0.0,
        "checked": args.steps,
    }


if __name__ == "__main__":
    h.main(globals())
