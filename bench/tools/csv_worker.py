"""The other floor: append one CSV line per call (step, wall time, values) to a file.

Python buffers the writes; finishing closes the file. Reading parses every line.
"""

from __future__ import annotations

import argparse
import os
import time
from typing import IO, Any

import _harness as h

IMPORT_S = 0.0
FILE = "run.csv"


def _logger(out: IO[str], width: int) -> Any:
    write = out.write

    def log(metrics: dict[str, float], step: int) -> None:
        write(f"{step},{time.time()!r},{','.join(map(repr, metrics.values()))}\n")

    if width == 1:
        return lambda row, step: log({"loss": row[0]}, step)
    return h.wide_logger(log)


def log_phase(args: argparse.Namespace) -> dict[str, Any]:
    values = h.rows_for(args.steps, args.width)
    out = open(os.path.join(args.dir, FILE), "w")  # noqa: SIM115 - closed by finish
    out.write("step,time," + ",".join(h.names_for(args.width)) + "\n")
    steps, loop_s = h.timed_loop(_logger(out, args.width), values, args.budget)
    begin = time.perf_counter()
    out.close()
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


def _load(folder: str, width: int) -> tuple[list[int], list[list[float]]]:
    steps: list[int] = []
    columns: list[list[float]] = [[] for _ in range(width)]
    with open(os.path.join(folder, FILE)) as source:
        next(source)
        for line in source:
            parts = line.split(",")
            steps.append(int(parts[0]))
            for j in range(width):
                columns[j].append(float(parts[2 + j]))
    return steps, columns


def verify_phase(args: argparse.Namespace) -> dict[str, Any]:
    steps, columns = _load(args.dir, args.width)
    checked = 0
    for j, name in enumerate(h.names_for(args.width)):
        checked += h.check_series(steps, columns[j], args.steps, j, what=name)
    return {"checked": checked}


def write_phase(args: argparse.Namespace) -> dict[str, Any]:
    result = log_phase(args)
    return {"ref": result["ref"], "points": result["points"]}


def read_phase(args: argparse.Namespace) -> dict[str, Any]:
    begin = time.perf_counter()
    steps, columns = _load(args.dir, 1)
    read_s = time.perf_counter() - begin
    checked = h.check_series(steps, columns[0], args.steps)
    return {"read_s": read_s, "import_s": IMPORT_S, "checked": checked}


if __name__ == "__main__":
    h.main(globals())
