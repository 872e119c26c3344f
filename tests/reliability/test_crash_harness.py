"""SIGKILL at random moments: a killed training process never breaks its run.

A real script logs two metrics every few milliseconds (``value = step * 0.5``,
``half = step * 0.25``), saves checkpoints under a keep-best-and-top-k policy
and writes notes, printing after every ``log()`` the step and the time. It is
killed with SIGKILL after a random delay, 50 times, in three lanes at once
(each lane its own store, so that the index checks of one lane never see a
live run of another). After each kill:

- the store opens and lists the run as ``crashed``;
- each series holds steps 0, 1, 2, ... without a gap and exactly the values
  logged, and it lost at most what was logged in the last 1.5 s before the
  kill (the writer flushes once a second; the figures say how much it lost);
- every JSON file, the config, the manifest and every checkpoint loads, and
  checkpoints.json names only files that exist;
- ``Store.reindex()`` gives the very records the index gave.

The figures of each kill are printed at the end (``pytest -s``) and written to
the JSON file named by ``RUNLAB_CRASH_REPORT`` when it is set; set
``RUNLAB_CRASH_SEED`` to replay the kill moments of an earlier session.
"""

from __future__ import annotations

import json
import os
import pickle
import random
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from runlab.config import load_config
from runlab.store import open_store
from runlab.store.series import RECORD_SIZE, read_manifest, read_series

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("runlab_env")]

KILLS = 50
LANES = 3
# Delays cover the first flush (about 1 s after start) and the one after it.
DELAY_S = (0.05, 2.05)
# The writer flushes once a second; its own write and the scheduling of three
# lanes on two cores add up to about 0.2 s (1.17 s is the most seen).
FLUSH_WINDOW_S = 1.5

VICTIM = """
import sys, time
import runlab

run = runlab.start(
    config={"checkpoint": {"every": 2, "top_k": 2}, "lr": 0.1}, name=sys.argv[1]
)
print("started", run.id, flush=True)
step = 0
while True:
    run.log({"value": step * 0.5, "half": step * 0.25})
    print(step, repr(time.time()), flush=True)
    if step % 40 == 39:
        state = {"step": step, "weights": list(range(step % 997))}
        run.checkpoint(state, epoch=step // 40, score=float(step % 7))
    if step % 150 == 0:
        run.note(f"Reached step {step}.")
    step += 1
    time.sleep(0.003)
"""


@dataclass
class KillFigures:
    """What one kill did to its run; the lead quotes these."""

    kill: int
    run: str
    delay_s: float
    logged: int = 0
    stored: int = 0
    lost: int = 0
    logged_last_window: int = 0
    lost_span_s: float = 0.0
    since_flush_s: float | None = None
    checkpoints: int = 0
    torn_files: int = 0
    temp_files: int = 0
    problems: list[str] = field(default_factory=list)


@dataclass
class Victim:
    """A started victim process and what it printed."""

    proc: subprocess.Popen[bytes]
    out: Path
    run_id: str


# -- the victim ---------------------------------------------------------------------


def start_victim(script: Path, store: Path, name: str, out: Path) -> Victim:
    env = {**os.environ, "RUNLAB_DIR": str(store), "RUNLAB_HEARTBEAT_S": "0.2"}
    with open(out, "wb") as stdout:
        proc = subprocess.Popen(
            [sys.executable, "-u", str(script), name],
            cwd=script.parent, env=env, stdout=stdout, stderr=subprocess.PIPE,
        )  # fmt: skip
    return Victim(proc, out, wait_started(proc, out))


def wait_started(proc: subprocess.Popen[bytes], out: Path) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        first = out.read_text().split("\n", 1)
        if len(first) == 2 and first[0].startswith("started "):
            return first[0].split()[1]
        if proc.poll() is not None:
            raise AssertionError(f"victim ended early: {proc.communicate()[1]!r}")
        time.sleep(0.005)
    raise AssertionError("victim did not start within 60 s")


def printed_points(out: Path) -> list[tuple[int, float]]:
    """Return (step, time) of every whole line the victim printed after a log()."""
    text = out.read_text()
    lines = text.split("\n")[1:-1]  # the first says started; the last is partial
    return [(int(s), float(t)) for s, t in (line.split() for line in lines)]


# -- the checks ---------------------------------------------------------------------


def check_series(
    run_dir: Path, out: Path, figures: KillFigures, kill_time: float
) -> None:
    printed = printed_points(out)
    figures.logged = len(printed)
    names = read_manifest(run_dir / "metrics")
    stored = [
        check_one_series(run_dir, names, name, factor, printed)
        for name, factor in (("value", 0.5), ("half", 0.25))
    ]
    figures.stored = min(stored)
    figures.torn_files = sum(
        p.stat().st_size % RECORD_SIZE != 0 for p in run_dir.glob("metrics/*.bin")
    )
    # One point may be logged and stored before its line was printed.
    assert figures.stored <= figures.logged + 1, (figures.stored, figures.logged)
    figures.lost = max(0, figures.logged - figures.stored)
    if figures.lost:
        figures.lost_span_s = round(kill_time - printed[figures.stored][1], 3)
    figures.logged_last_window = sum(
        1 for _s, t in printed if t >= kill_time - FLUSH_WINDOW_S
    )
    bins = list((run_dir / "metrics").glob("*.bin"))
    if bins:
        figures.since_flush_s = kill_time - max(p.stat().st_mtime for p in bins)
    assert figures.lost <= figures.logged_last_window, asdict(figures)


def check_one_series(
    run_dir: Path,
    names: dict[str, str],
    name: str,
    factor: float,
    printed: list[tuple[int, float]],
) -> int:
    if name not in names:
        return 0
    # Read as users read it: a torn last record is left out.
    series = read_series(run_dir / "metrics", name)
    assert np.array_equal(series.steps, np.arange(len(series))), f"{name}: gaps"
    assert np.array_equal(series.values, series.steps * factor), f"{name}: values"
    # Each point was stamped before its line was printed.
    seen = min(len(series), len(printed))
    printed_times = np.array([t for _s, t in printed[:seen]])
    assert (series.times[:seen] <= printed_times).all(), f"{name}: times differ"
    return len(series)


def check_files(run_dir: Path, figures: KillFigures) -> None:
    temp = [p for p in run_dir.rglob(".*") if p.is_file()]
    figures.temp_files = len(temp)
    for path in run_dir.rglob("*.json"):
        json.loads(path.read_text(encoding="utf-8"))
    load_config(run_dir / "config.yaml")
    manifest = run_dir / "metrics" / "names.jsonl"
    if manifest.exists():
        for line in manifest.read_text(encoding="utf-8").splitlines():
            json.loads(line)
    (run_dir / "log.txt").read_text(encoding="utf-8")
    if (run_dir / "README.md").exists():
        (run_dir / "README.md").read_text(encoding="utf-8")
    check_checkpoints(run_dir / "state_dict", figures)


def check_checkpoints(folder: Path, figures: KillFigures) -> None:
    files = sorted(folder.glob("checkpoint*.pt"))
    figures.checkpoints = len(files)
    for path in files:
        with open(path, "rb") as handle:
            state = pickle.load(handle)
        assert state["weights"] == list(range(state["step"] % 997)), path
    index = folder / "checkpoints.json"
    if index.exists():
        kept = json.loads(index.read_text())
        listed = [kept["best"], kept["last"], *kept["epochs"]]
        for entry in filter(None, listed):
            assert (folder / entry["file"]).exists(), f"{entry['file']} is listed, gone"


def check_store(store: Path, run_id: str) -> None:
    opened = open_store(store)
    before = opened.records()
    (record,) = [r for r in before if r["id"] == run_id]
    assert record["status"] == "crashed", record["status"]
    opened.reindex()
    after = opened.records()
    assert json.dumps(after, sort_keys=True) == json.dumps(before, sort_keys=True)


# -- one kill, one lane -------------------------------------------------------------


def kill_once(script: Path, lane_dir: Path, kill: int, delay: float) -> KillFigures:
    store = lane_dir / "experiments"
    out = lane_dir / f"out-{kill}.txt"
    victim = start_victim(script, store, f"kill-{kill}", out)
    figures = KillFigures(kill, victim.run_id, round(delay, 3))
    time.sleep(delay)
    kill_time = time.time()
    os.kill(victim.proc.pid, signal.SIGKILL)
    _, err = victim.proc.communicate(timeout=60)
    steps: list[Callable[[], None]] = [
        lambda: check_series(store / victim.run_id, out, figures, kill_time),
        lambda: check_files(store / victim.run_id, figures),
        lambda: check_store(store, victim.run_id),
    ]
    if err:
        figures.problems.append(f"stderr before the kill: {err.decode()!r}")
    for step in steps:
        try:
            step()
        except Exception as exc:  # every kill is reported, not only the first
            figures.problems.append(f"{type(exc).__name__}: {exc}")
    return figures


def run_lane(
    script: Path, lane_dir: Path, kills: list[tuple[int, float]]
) -> list[KillFigures]:
    lane_dir.mkdir()
    return [kill_once(script, lane_dir, kill, delay) for kill, delay in kills]


def check_listing(runlab_cli: Any, store: Path, figures: list[KillFigures]) -> None:
    done = runlab_cli("ls", "--json", env={"RUNLAB_DIR": str(store)})
    assert done.returncode == 0, done.stderr
    listed = {r["id"]: r for r in json.loads(done.stdout)}
    assert sorted(listed) == sorted(f.run for f in figures)
    for f in figures:
        record = listed[f.run]
        assert record["status"] == "crashed"
        count = record["metrics"].get("value", {}).get("count", 0)
        # The summary is rewritten after the points: it may lag them by a flush.
        assert count <= f.stored


# -- report ---------------------------------------------------------------------------


def report(figures: list[KillFigures], seed: int, seconds: float) -> dict[str, Any]:
    lost = [f.lost for f in figures]
    since = [f.since_flush_s for f in figures if f.since_flush_s is not None]
    return {
        "kills": len(figures),
        "survived": sum(not f.problems for f in figures),
        "seed": seed,
        "seconds": round(seconds, 1),
        "kills_after_a_flush": sum(f.stored > 0 for f in figures),
        "points_logged": sum(f.logged for f in figures),
        "points_stored": sum(f.stored for f in figures),
        "max_points_lost": max(lost),
        "max_seconds_of_logging_lost": max(f.lost_span_s for f in figures),
        "max_seconds_since_flush": round(max(since), 3) if since else None,
        "torn_metric_files": sum(f.torn_files for f in figures),
        "temp_files_left": sum(f.temp_files for f in figures),
        "per_kill": [asdict(f) for f in figures],
    }


def print_report(summary: dict[str, Any]) -> None:
    print(f"\nCrash harness (seed {summary['seed']}, {summary['seconds']} s):")
    print(" kill  delay  logged stored  lost  window  lost_s  since_flush  ckpts  temp")
    for f in summary["per_kill"]:
        since = "-" if f["since_flush_s"] is None else f"{f['since_flush_s']:.3f}"
        print(
            f" {f['kill']:>4} {f['delay_s']:>6.3f} {f['logged']:>7} {f['stored']:>6}"
            f" {f['lost']:>5} {f['logged_last_window']:>7} {f['lost_span_s']:>7.3f}"
            f" {since:>12}"
            f" {f['checkpoints']:>6} {f['temp_files']:>5}"
            f"  {'; '.join(f['problems'])}"
        )
    shown = {k: v for k, v in summary.items() if k != "per_kill"}
    print(json.dumps(shown, indent=1))


# -- the test -------------------------------------------------------------------------


def test_fifty_sigkills_leave_every_run_crashed_readable_and_reindexable(
    tmp_path: Path, runlab_cli: Any
) -> None:
    script = tmp_path / "victim.py"
    script.write_text(textwrap.dedent(VICTIM))
    seed = int(
        os.environ.get("RUNLAB_CRASH_SEED") or random.SystemRandom().randrange(10**9)
    )
    rng = random.Random(seed)
    delays = [(k, rng.uniform(*DELAY_S)) for k in range(KILLS)]
    lanes = [delays[i::LANES] for i in range(LANES)]

    began = time.monotonic()
    with ThreadPoolExecutor(LANES) as pool:
        jobs = [
            pool.submit(run_lane, script, tmp_path / f"lane{i}", kills)
            for i, kills in enumerate(lanes)
        ]
        by_lane = [job.result() for job in jobs]
    for i, lane in enumerate(by_lane):
        check_listing(runlab_cli, tmp_path / f"lane{i}" / "experiments", lane)
    figures = sorted((f for lane in by_lane for f in lane), key=lambda f: f.kill)
    summary = report(figures, seed, time.monotonic() - began)
    print_report(summary)
    if os.environ.get("RUNLAB_CRASH_REPORT"):
        Path(os.environ["RUNLAB_CRASH_REPORT"]).write_text(
            json.dumps(summary, indent=2)
        )

    failed = [
        f"kill {f.kill} (run {f.run}): {f.problems}" for f in figures if f.problems
    ]
    assert not failed, f"seed {seed}:\n" + "\n".join(failed)
    assert summary["kills_after_a_flush"] >= KILLS // 5
