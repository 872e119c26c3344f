"""What every tool worker shares: the values it logs, its command line, its output.

Contract:
- A worker is one script per tool, run by ``bench/run.py`` in a fresh process
  as ``python bench/tools/<tool>_worker.py PHASE --dir D --out FILE ...``. It
  uses only that tool's public API, and writes one JSON object to ``--out``:
  the phase's figures, or ``{"error": ...}`` with exit code 1.
- The points are deterministic: point ``i`` of metric ``j`` of run ``r`` is
  :func:`value`, a float64 that needs all 17 digits, so a reader that loses
  precision fails the check. Read-back checks compare every point, no sampling.
- Timing uses ``time.perf_counter`` around the calls under test only; building
  the values and checking them afterwards is outside the timed span.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import struct
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

Handler = Callable[[argparse.Namespace], dict[str, Any]]

# A metric name per column of the wide shape; the narrow shape logs "loss".
NARROW = ("loss",)
WIDE = tuple(f"m{j}" for j in range(10))
CONFIG_KEYS = 10
RUN_METRICS = 5
RUN_STEPS = 100
# How often the logging loop looks at the clock for its time budget.
BUDGET_CHECK_EVERY = 1000


def wide_logger(
    log: Callable[..., Any], *, step_keyword: bool = False
) -> Callable[[tuple[float, ...], int], Any]:
    """Return ``(row, step) -> log({m0: ..., m9: ...}, step)`` for the wide phase.

    The ten-metric dict is built afresh in each call, as a training loop does,
    and every tool's worker uses this one function, so each pays the same cost
    for it. ``step_keyword`` passes the step as ``step=``.
    """
    m = WIDE
    if step_keyword:
        return lambda row, step: log(
            {m[0]: row[0], m[1]: row[1], m[2]: row[2], m[3]: row[3], m[4]: row[4],
             m[5]: row[5], m[6]: row[6], m[7]: row[7], m[8]: row[8], m[9]: row[9]},
            step=step,
        )  # fmt: skip
    return lambda row, step: log(
        {m[0]: row[0], m[1]: row[1], m[2]: row[2], m[3]: row[3], m[4]: row[4],
         m[5]: row[5], m[6]: row[6], m[7]: row[7], m[8]: row[8], m[9]: row[9]},
        step,
    )  # fmt: skip


def value(i: int, j: int = 0, r: int = 0) -> float:
    """Point ``i`` of metric ``j`` of run ``r``: a float with a full mantissa."""
    return ((i * 2654435761 + j * 40503 + r * 7919) % 1_000_003) / 997.0 - 500.0


def as_float32(x: float) -> float:
    """``x`` rounded to float32, for tools that store values as float32."""
    return float(struct.unpack("<f", struct.pack("<f", x))[0])


def names_for(width: int) -> tuple[str, ...]:
    return NARROW if width == 1 else WIDE[:width]


def rows_for(steps: int, width: int) -> list[tuple[float, ...]]:
    """The values to log, prepared before the timed loop."""
    return [tuple(value(i, j) for j in range(width)) for i in range(steps)]


def config_for(r: int) -> dict[str, Any]:
    """The 10-key config of run ``r``: ``k3`` takes 10 values, ``k0`` names the run."""
    return {
        "k0": r,
        "k1": 0.001 * (r % 7 + 1),
        "k2": f"model-{r % 4}",
        "k3": r % 10,
        "k4": r % 2 == 0,
        "k5": 32 * (r % 5 + 1),
        "k6": "adam" if r % 3 else "sgd",
        "k7": 0.5,
        "k8": r * 11 % 13,
        "k9": "baseline",
    }


def matching_runs(runs: int) -> list[int]:
    """Run numbers whose ``k3`` is 5: what the filter must return."""
    return [r for r in range(runs) if r % 10 == 5]


def last_value(r: int, j: int = 0) -> float:
    """The last point of metric ``m<j>`` of run ``r`` (step RUN_STEPS - 1)."""
    return value(RUN_STEPS - 1, j, r)


def check_series(
    steps: Sequence[int],
    values: Sequence[float],
    n: int,
    j: int = 0,
    *,
    r: int = 0,
    convert: Callable[[float], float] = float,
    what: str = "series",
) -> int:
    """Check that a series read back holds exactly points 0..n-1; return n.

    Raises:
        AssertionError: naming the first point that differs.
    """
    if len(steps) != n or len(values) != n:
        raise AssertionError(f"{what}: read {len(values)} points, wrote {n}")
    for i in range(n):
        expected = convert(value(i, j, r))
        if int(steps[i]) != i or float(values[i]) != expected:
            raise AssertionError(
                f"{what}: point {i} read as step {steps[i]} value {values[i]!r}, "
                f"wrote step {i} value {expected!r}"
            )
    return n


def check_equal(got: Any, expected: Any, what: str) -> None:
    if got != expected:
        raise AssertionError(f"{what}: got {got!r}, expected {expected!r}")


def dir_bytes(path: str | os.PathLike[str]) -> int:
    """Bytes of every regular file under ``path``."""
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            full = os.path.join(root, name)
            if not os.path.islink(full):
                total += os.path.getsize(full)
    return total


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB (Linux: KiB units)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def rss_mb() -> float:
    """Resident memory now, in MiB, from /proc (no psutil needed)."""
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def timed_loop(
    log: Callable[[tuple[float, ...], int], None],
    rows: list[tuple[float, ...]],
    budget_s: float,
) -> tuple[int, float]:
    """Call ``log(row, step)`` for each row until done or past the budget.

    Returns:
        how many steps were logged, and the seconds the calls took.
    """
    done = 0
    start = time.perf_counter()
    for begin in range(0, len(rows), BUDGET_CHECK_EVERY):
        for step in range(begin, min(begin + BUDGET_CHECK_EVERY, len(rows))):
            log(rows[step], step)
        done = min(begin + BUDGET_CHECK_EVERY, len(rows))
        if time.perf_counter() - start > budget_s:
            break
    return done, time.perf_counter() - start


def chunks(n: int, size: int) -> Iterator[range]:
    for begin in range(0, n, size):
        yield range(begin, min(begin + size, n))


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("phase")
    parser.add_argument("--dir", required=True, help="the tool's store folder")
    parser.add_argument("--out", required=True, help="where to write the JSON result")
    parser.add_argument("--steps", type=int, default=0)
    parser.add_argument("--width", type=int, default=1)
    parser.add_argument("--runs", type=int, default=0)
    parser.add_argument("--first", type=int, default=0, help="number of the first run")
    parser.add_argument("--budget", type=float, default=1e9)
    parser.add_argument(
        "--ref", default="", help="the run to read, as the tool names it"
    )
    return parser.parse_args(argv)


def main(names: Mapping[str, Any]) -> None:
    """Run the phase named on the command line and write its result.

    A worker passes its ``globals()``; phase ``log`` runs its ``log_phase``.
    """
    args = parse_args(sys.argv[1:])
    handler: Handler | None = names.get(f"{args.phase}_phase")
    if handler is None:
        raise SystemExit(f"This worker has no phase {args.phase!r}.")
    Path(args.dir).mkdir(parents=True, exist_ok=True)
    try:
        result = handler(args)
        code = 0
    except Exception as err:
        result = {
            "error": f"{type(err).__name__}: {err}",
            "trace": traceback.format_exc(),
        }
        code = 1
    result["phase"] = args.phase
    Path(args.out).write_text(json.dumps(result, indent=1))
    # Peers' exit hooks (flush threads, helper services) still run after this.
    sys.exit(code)
