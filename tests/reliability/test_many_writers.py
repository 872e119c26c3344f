"""Many writers on one store: every run and every point arrives, nothing is locked.

16 processes each make two runs one after the other and log 10,000 points into
each, while another process lists the store in a loop and the test runs
``runlab ls --json`` now and then, all on one fresh store. Afterwards the store
holds 32 finished runs with every point exactly as logged, and no process said
"database is locked", printed a traceback, or warned at all.

Runs started in the same second getting distinct ids is tested in
tests/test_launch.py (ten ``runlab run`` at once) and tests/store/test_store.py
(ten folders made in one second).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import runlab
from runlab.store import open_store

pytestmark = pytest.mark.usefixtures("runlab_env")

WRITERS = 16
RUNS_EACH = 2
POINTS = 10_000

WRITER = """
import sys, time
from pathlib import Path
import runlab

store, k, go = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
while not go.exists():
    time.sleep(0.005)
for r in range(2):
    run = runlab.start(store=store, name=f"w{k}-r{r}", config={"writer": k, "run": r})
    base = (2 * k + r) * 100_000
    for i in range(10_000):
        run.log({"loss": base + i * 0.5}, step=i)
        if i % 20 == 0:
            time.sleep(0.001)
    run.finish()
    print(run.id, flush=True)
"""

LISTER = """
import json, sys, time
from pathlib import Path
from runlab.store import open_store

store, go, stop = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
while not go.exists():
    time.sleep(0.005)
listings, seen, unreadable = 0, set(), []
while not stop.exists():
    for record in open_store(store).records():
        seen.add(record["id"])
        if record["status"] == "unreadable":
            unreadable.append([record["id"], record["error"]])
    listings += 1
print(json.dumps({"listings": listings, "seen": len(seen), "unreadable": unreadable}))
"""


def spawn(script: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(script), *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ,
    )  # fmt: skip


def list_while_writing(runlab_cli: Any, store: Path, times: int) -> list[int]:
    """Run ``runlab ls --json`` ``times`` times; return how many runs each saw."""
    counts = []
    for _ in range(times):
        done = runlab_cli("ls", "--json", env={"RUNLAB_DIR": str(store)})
        assert (done.returncode, done.stderr) == (0, "")
        counts.append(len(json.loads(done.stdout)))
        time.sleep(0.3)
    return counts


def check_run(store: Path, record: dict[str, Any]) -> None:
    config = record["config"]
    base = (2 * config["writer"] + config["run"]) * 100_000
    series = open_store(store).load_run(record["id"]).metric("loss")
    assert np.array_equal(series.steps, np.arange(POINTS))
    assert np.array_equal(series.values, base + np.arange(POINTS) * 0.5)
    assert record["metrics"]["loss"]["count"] == POINTS


@pytest.mark.slow
def test_sixteen_writers_and_a_lister_lose_no_run_no_point_and_see_no_lock(
    tmp_path: Path, store: Path, runlab_cli: Any
) -> None:
    go, stop = tmp_path / "go", tmp_path / "stop"
    writers = [spawn(WRITER, str(store), str(k), str(go)) for k in range(WRITERS)]
    lister = spawn(LISTER, str(store), str(go), str(stop))
    go.touch()
    seen_by_cli = list_while_writing(runlab_cli, store, 3)
    outputs = [w.communicate(timeout=240) for w in writers]
    stop.touch()
    listed, lister_err = lister.communicate(timeout=60)

    errors = [err for _out, err in outputs] + [lister_err]
    assert [w.returncode for w in writers] == [0] * WRITERS, errors
    assert (lister.returncode, errors) == (0, [""] * (WRITERS + 1))
    ids = [line for out, _err in outputs for line in out.split()]
    records = open_store(store).records()
    assert len(set(ids)) == WRITERS * RUNS_EACH
    assert sorted(r["id"] for r in records) == sorted(ids)
    assert {r["status"] for r in records} == {"finished"}
    for record in records:
        check_run(store, record)
    seen = json.loads(listed)
    print(f"\nMany writers: {len(records)} runs x {POINTS} points; lister {seen};"
          f" runlab ls saw {seen_by_cli} runs")  # fmt: skip
    assert seen["listings"] > 0
    assert seen["unreadable"] == []


def test_a_run_folder_still_without_run_json_is_listed_once_it_is_old(
    store: Path,
) -> None:
    whole = runlab.start(store=store, name="whole")
    whole.finish()
    # What a lister sees between the owner's mkdir and its first run.json.
    starting = store / "261203-120000-abcd"
    starting.mkdir()

    assert [r["id"] for r in open_store(store).records()] == [whole.id]
    long_ago = time.time() - 60
    os.utime(starting, (long_ago, long_ago))
    records = {r["id"]: r for r in open_store(store).records()}
    assert (records[starting.name]["status"], records[starting.name]["error"]) == (
        "unreadable", f"{starting / 'run.json'}: the file is missing",
    )  # fmt: skip
