"""A TensorBoard writer (tensorboardX) read back with TensorBoard's own reader.

Event files keep scalars as float32, so the read-back check compares with each
value rounded to float32. TensorBoard's ``EventAccumulator`` keeps a sample of
10,000 points per tag unless told otherwise; the bench asks it for all of them
(``size_guidance={"scalars": 0}``). TensorBoard has no query over runs outside
its server's hparams plugin, so it takes no part in the filtering phase.
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

import _harness as h

T0 = time.perf_counter()
from tensorboardX import SummaryWriter  # noqa: E402

IMPORT_S = time.perf_counter() - T0
RUN = "run"


def _logger(writer: Any, width: int) -> Any:
    add = writer.add_scalar
    if width == 1:
        return lambda row, step: add("loss", row[0], step)
    names = h.WIDE

    def log(row: tuple[float, ...], step: int) -> None:
        for name, value in zip(names, row, strict=True):
            add(name, value, step)

    return log


def log_phase(args: argparse.Namespace) -> dict[str, Any]:
    rows = h.rows_for(args.steps, args.width)
    begin = time.perf_counter()
    writer = SummaryWriter(logdir=os.path.join(args.dir, RUN))
    start_s = time.perf_counter() - begin
    steps, loop_s = h.timed_loop(_logger(writer, args.width), rows, args.budget)
    begin = time.perf_counter()
    writer.close()
    finish_s = time.perf_counter() - begin
    return {
        "ref": RUN,
        "steps": steps,
        "points": steps * args.width,
        "loop_s": loop_s,
        "start_s": start_s,
        "finish_s": finish_s,
        "import_s": IMPORT_S,
        "bytes": h.dir_bytes(args.dir),
    }


def _accumulator(path: str) -> Any:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    reader = EventAccumulator(path, size_guidance={"scalars": 0})
    reader.Reload()
    return reader


def _series(reader: Any, name: str) -> tuple[list[int], list[float]]:
    events = reader.Scalars(name)
    return [e.step for e in events], [e.value for e in events]


def verify_phase(args: argparse.Namespace) -> dict[str, Any]:
    reader = _accumulator(os.path.join(args.dir, args.ref))
    checked = 0
    for j, name in enumerate(h.names_for(args.width)):
        steps, values = _series(reader, name)
        checked += h.check_series(
            steps, values, args.steps, j, convert=h.as_float32, what=name
        )
    return {"checked": checked}


def write_phase(args: argparse.Namespace) -> dict[str, Any]:
    writer = SummaryWriter(logdir=os.path.join(args.dir, RUN))
    for i in range(args.steps):
        writer.add_scalar("loss", h.value(i), i)
    writer.close()
    return {"ref": RUN, "points": args.steps}


def read_phase(args: argparse.Namespace) -> dict[str, Any]:
    begin = time.perf_counter()
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    import_s = time.perf_counter() - begin
    begin = time.perf_counter()
    reader = EventAccumulator(
        os.path.join(args.dir, args.ref), size_guidance={"scalars": 0}
    )
    reader.Reload()
    steps, values = _series(reader, "loss")
    read_s = time.perf_counter() - begin
    checked = h.check_series(steps, values, args.steps, convert=h.as_float32)
    return {"read_s": read_s, "import_s": IMPORT_S + import_s, "checked": checked}


def create_phase(args: argparse.Namespace) -> dict[str, Any]:
    begin = time.perf_counter()
    for r in range(args.runs):
        writer = SummaryWriter(logdir=os.path.join(args.dir, f"run{r:05d}"))
        config = {f"cfg.{k}": v for k, v in h.config_for(r).items()}
        writer.add_hparams(config, {"hparam/m0": h.last_value(r)}, name=".")
        for step in range(h.RUN_STEPS):
            for j in range(h.RUN_METRICS):
                writer.add_scalar(f"m{j}", h.value(step, j, r), step)
        writer.close()
    return {"create_s": time.perf_counter() - begin, "runs": args.runs}


def query_phase(args: argparse.Namespace) -> dict[str, Any]:
    from tensorboard.backend.event_processing.event_multiplexer import EventMultiplexer

    begin = time.perf_counter()
    mux = EventMultiplexer(size_guidance={"scalars": 0})
    mux.AddRunsFromDirectory(args.dir)
    mux.Reload()
    open_s = time.perf_counter() - begin

    begin = time.perf_counter()
    listed = [run for run in mux.Runs() if run.startswith("run")]
    list_s = time.perf_counter() - begin
    h.check_equal(len(listed), args.runs, "runs listed")

    begin = time.perf_counter()
    last = {int(run[3:]): mux.Scalars(run, "m0")[-1].value for run in listed}
    last_s = time.perf_counter() - begin
    expected = {r: h.as_float32(h.last_value(r)) for r in range(args.runs)}
    h.check_equal(last, expected, "last m0")
    return {"open_s": open_s, "list_s": list_s, "filter_s": None, "last_s": last_s}


def start_phase(args: argparse.Namespace) -> dict[str, Any]:
    begin = time.perf_counter()
    writer = SummaryWriter(logdir=os.path.join(args.dir, RUN))
    start_s = time.perf_counter() - begin
    writer.add_scalar("loss", 1.0, 0)
    begin = time.perf_counter()
    writer.close()
    return {
        "start_s": start_s,
        "finish_s": time.perf_counter() - begin,
        "import_s": IMPORT_S,
    }


if __name__ == "__main__":
    h.main(globals())
