"""W&B in offline mode through its public API: ``wandb.init``, ``Run.log``.

W&B has no API that reads an offline run back (``wandb.Api`` asks the server,
after ``wandb sync``), and no local query over runs. So W&B takes no part in the
read and run-listing phases, and the bench checks what it wrote by decoding the
run's ``.wandb`` file itself: W&B's record log (a 7-byte header, 32 KiB blocks
of length-prefixed chunks) holding the protobuf ``Record`` messages that W&B's
own package defines. That reader is the bench's, not W&B's, so it is not timed.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import struct
import time
from collections.abc import Iterator
from typing import Any

import _harness as h

T0 = time.perf_counter()
import wandb  # noqa: E402

IMPORT_S = time.perf_counter() - T0
BLOCK = 32768
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def _logger(run: Any, width: int) -> Any:
    log = run.log
    if width == 1:
        return lambda row, step: log({"loss": row[0]}, step=step)
    return h.wide_logger(log, step_keyword=True)


def log_phase(args: argparse.Namespace) -> dict[str, Any]:
    rows = h.rows_for(args.steps, args.width)
    begin = time.perf_counter()
    run = wandb.init(project="bench", dir=args.dir)
    start_s = time.perf_counter() - begin
    steps, loop_s = h.timed_loop(_logger(run, args.width), rows, args.budget)
    ref = run.id
    begin = time.perf_counter()
    run.finish()
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


def _chunks(data: bytes) -> Iterator[bytes]:
    """The records of a W&B record log, joined from their block fragments."""
    if data[:4] != b":W&B":
        raise AssertionError("not a W&B run file")
    pos, pending = 7, b""
    while pos + 7 <= len(data):
        left = BLOCK - pos % BLOCK
        _crc, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        if left < 7 or (length == 0 and kind == 0):
            pos += left  # the rest of a block is padding
            continue
        chunk, pos = data[pos + 7 : pos + 7 + length], pos + 7 + length
        if kind in (FULL, FIRST):
            pending = chunk
        else:
            pending += chunk
        if kind in (FULL, LAST):
            yield pending


def _history(folder: str, ref: str) -> list[dict[str, Any]]:
    from wandb.proto import wandb_internal_pb2

    (path,) = glob.glob(os.path.join(folder, "wandb", f"*-{ref}", f"run-{ref}.wandb"))
    with open(path, "rb") as source:
        data = source.read()
    rows = []
    for raw in _chunks(data):
        record = wandb_internal_pb2.Record()
        record.ParseFromString(raw)
        if record.WhichOneof("record_type") == "history":
            rows.append(
                {
                    i.nested_key[0] if i.nested_key else i.key: json.loads(i.value_json)
                    for i in record.history.item
                }
            )
    return rows


def verify_phase(args: argparse.Namespace) -> dict[str, Any]:
    rows = _history(args.dir, args.ref)
    checked = 0
    for j, name in enumerate(h.names_for(args.width)):
        steps = [row["_step"] for row in rows if name in row]
        values = [row[name] for row in rows if name in row]
        checked += h.check_series(steps, values, args.steps, j, what=name)
    return {"checked": checked}


def write_phase(args: argparse.Namespace) -> dict[str, Any]:
    run = wandb.init(project="bench", dir=args.dir)
    for i in range(args.steps):
        run.log({"loss": h.value(i)}, step=i)
    ref = run.id
    run.finish()
    return {"ref": ref, "points": args.steps}


def start_phase(args: argparse.Namespace) -> dict[str, Any]:
    begin = time.perf_counter()
    run = wandb.init(project="bench", dir=args.dir, config={"cfg": h.config_for(0)})
    start_s = time.perf_counter() - begin
    run.log({"loss": 1.0}, step=0)
    begin = time.perf_counter()
    run.finish()
    return {
        "start_s": start_s,
        "finish_s": time.perf_counter() - begin,
        "import_s": IMPORT_S,
    }


if __name__ == "__main__":
    h.main(globals())
