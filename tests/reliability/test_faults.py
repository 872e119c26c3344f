"""Faults around a run: a full disk, a read-only store, conda missing or failing.

The disk and the read-only store are real: a small tmpfs is mounted for each
test (and remounted read-only where asked), which needs root; elsewhere these
tests skip with the reason, and CI, which runs as root, runs them.

The git cases (git missing from PATH, a repository without commits, a
detached HEAD, no repository) are tested through ``runlab run`` in
tests/test_launch.py and unit by unit in tests/capture/test_capture_git.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import runlab
from runlab.store import open_store
from runlab.store.series import read_manifest, read_series

pytestmark = pytest.mark.usefixtures("runlab_env")

PY = sys.executable
METRICS = 50
STEPS = 1200
READ_ONLY = (
    "is on a read-only file system. Remount it writable, or copy the store, "
    "to change its runs."
)


def mount_tmpfs(where: Path, size: str) -> None:
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (CI runs these tests as root)")
    where.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
        capture_output=True, text=True,
    )  # fmt: skip
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")


def unmount(where: Path) -> None:
    # Lazily: a process of a failed test may still hold a file open there.
    subprocess.run(["umount", "-l", str(where)], check=True)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MB file system of its own, unmounted after the test."""
    disk = tmp_path / "disk"
    mount_tmpfs(disk, "2m")
    yield disk
    unmount(disk)


def fill(disk: Path, leave_kb: int) -> None:
    free_kb = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize // 1024
    (disk / "filler").write_bytes(b"\0" * max(0, free_kb - leave_kb) * 1024)


# -- disk full ------------------------------------------------------------------------

FILLER = """
import sys, time
from pathlib import Path
import runlab

go, done = Path(sys.argv[1]), Path(sys.argv[2])
metrics, steps = int(sys.argv[3]), int(sys.argv[4])
run = runlab.start(config={"lr": 0.1}, name="full")
print("started", run.id, flush=True)
while not go.exists():
    time.sleep(0.01)
names = [f"metric_{'x' * 150}_{k}" for k in range(metrics)]
for step in range(steps):
    run.log({name: step * 0.5 for name in names})
    if step % 100 == 99:
        time.sleep(0.2)
done.write_text(str(step + 1))
"""


def start_filler(
    tmp_path: Path, disk: Path, wrapped: bool
) -> tuple[subprocess.Popen[str], str]:
    script = tmp_path / "filler.py"
    script.write_text(textwrap.dedent(FILLER))
    marks = [str(tmp_path / "go"), str(tmp_path / "done"), str(METRICS), str(STEPS)]
    command = [PY, str(script), *marks]
    if wrapped:
        command = [PY, "-m", "runlab", "run", "--", *command]
    env = {**os.environ, "RUNLAB_DIR": str(disk / "experiments")}
    proc = subprocess.Popen(
        command, cwd=tmp_path, env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None
    started = proc.stdout.readline()
    assert started.startswith("started "), started
    return proc, started.split()[1]


def check_points_before_the_loss(run_dir: Path, from_step: int) -> None:
    """Every series holds steps 0, 1, ... up to at least the step before the loss."""
    names = read_manifest(run_dir / "metrics")
    assert len(names) == METRICS
    for name in names:
        series = read_series(run_dir / "metrics", name)
        assert np.array_equal(series.steps, np.arange(len(series)))
        assert np.array_equal(series.values, series.steps * 0.5)
        assert len(series) >= from_step


def test_full_disk_warns_once_goes_on_and_records_the_loss_from_its_step(
    tmp_path: Path, small_disk: Path
) -> None:
    proc, run_id = start_filler(tmp_path, small_disk, wrapped=False)
    fill(small_disk, leave_kb=900)
    (tmp_path / "go").touch()
    _out, err = proc.communicate(timeout=120)

    assert proc.returncode == 0, err
    assert (tmp_path / "done").read_text() == str(STEPS)
    run_dir = small_disk / "experiments" / run_id
    meta = json.loads((run_dir / "run.json").read_text())
    lost = meta["lost"]
    assert err.splitlines() == [
        f"Cannot write metrics of run {run_id} (No space left on device); "
        f"dropping points from step {lost['from_step']} on."
    ]
    assert meta["status"] == "finished"
    assert lost["reason"] == "[Errno 28] No space left on device"
    assert 0 < lost["from_step"] < STEPS
    assert 0 < lost["points"] <= (STEPS - lost["from_step"]) * METRICS
    check_points_before_the_loss(run_dir, lost["from_step"])
    assert open_store(small_disk / "experiments").load_run(run_id).status == "finished"


def test_full_disk_under_runlab_run_records_the_loss_too(
    tmp_path: Path, small_disk: Path
) -> None:
    proc, run_id = start_filler(tmp_path, small_disk, wrapped=True)
    fill(small_disk, leave_kb=900)
    (tmp_path / "go").touch()
    _out, err = proc.communicate(timeout=120)

    assert proc.returncode == 0, err
    assert (tmp_path / "done").read_text() == str(STEPS)
    run_dir = small_disk / "experiments" / run_id
    meta = json.loads((run_dir / "run.json").read_text())
    from_step = meta["lost"]["from_step"]
    assert (meta["status"], meta["exit_code"]) == ("finished", 0)
    assert 0 < from_step < STEPS
    assert err.splitlines() == [
        f"runlab: run in {small_disk / 'experiments'}",
        f"Cannot write metrics of run {run_id} (No space left on device); "
        f"dropping points from step {from_step} on.",
        f"runlab: run {run_id} ended with exit code 0",
    ]
    check_points_before_the_loss(run_dir, from_step)


# -- a read-only store ------------------------------------------------------------------


@pytest.fixture
def read_only_store(tmp_path: Path) -> Iterator[tuple[Path, list[str]]]:
    """A store with runs 'a' and 'b' on a tmpfs remounted read-only."""
    disk = tmp_path / "disk"
    mount_tmpfs(disk, "8m")
    store = disk / "experiments"
    ids = []
    for name, lr in (("a", 0.1), ("b", 0.01)):
        run = runlab.start(config={"lr": lr}, name=name, store=store)
        run.log({"loss": lr * 2})
        run.finish()
        ids.append(run.id)
    subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
    yield store, ids
    unmount(disk)


def test_reading_commands_work_on_a_read_only_store(
    read_only_store: tuple[Path, list[str]], runlab_cli: Any
) -> None:
    store, (a, b) = read_only_store
    env = {"RUNLAB_DIR": str(store)}

    listed = runlab_cli("ls", "--json", env=env)
    shown = runlab_cli("show", "a", "--json", env=env)
    compared = runlab_cli("compare", "a", b, env=env)

    for done in (listed, shown, compared):
        assert done.returncode == 0, done.stderr
        assert "Traceback" not in done.stderr
    assert [(r["id"], r["name"], r["status"]) for r in json.loads(listed.stdout)] == [
        (a, "a", "finished"), (b, "b", "finished"),
    ]  # fmt: skip
    record = json.loads(shown.stdout)
    assert (record["id"], record["config"], record["metrics"]["loss"]["last"]) == (
        a, {"lr": 0.1}, 0.2,
    )  # fmt: skip
    assert "lr" in compared.stdout and "0.01" in compared.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("note", "a", "hello"), "Cannot add a note to run {a}: the store {store} "),
        (("tag", "a", "best"), "Cannot update run {a}: the store {store} "),
        (("rm", "a"), "Cannot move run {a} to the trash: the store {store} "),
        (("rm", "--purge", "a"), "Cannot delete run {a}: the store {store} "),
    ],
)
def test_writing_commands_fail_with_one_line_on_a_read_only_store(
    read_only_store: tuple[Path, list[str]],
    runlab_cli: Any,
    args: tuple[str, ...],
    message: str,
) -> None:
    store, (a, _b) = read_only_store

    done = runlab_cli(*args, env={"RUNLAB_DIR": str(store)})

    assert done.returncode == 1
    expected = "Error: " + message.format(a=a, store=store) + READ_ONLY
    assert done.stderr.splitlines() == [expected]
    assert open_store(store).load_run("a").tags == []


def test_run_on_a_read_only_store_fails_with_one_line_naming_it(
    read_only_store: tuple[Path, list[str]], runlab_cli: Any
) -> None:
    store, _ids = read_only_store

    done = runlab_cli("run", "--", PY, "-c", "print(1)", env={"RUNLAB_DIR": str(store)})

    assert done.returncode == 1
    intro, error = done.stderr.splitlines()
    assert intro == f"runlab: run in {store}"
    assert error.startswith(
        f"Error: Cannot create a run in {store}: [Errno 30] Read-only file system: "
    )
    assert len(open_store(store).run_ids_on_disk()) == 2


def test_reindex_on_a_read_only_store_fails_with_one_line_naming_it(
    read_only_store: tuple[Path, list[str]], runlab_cli: Any
) -> None:
    store, _ids = read_only_store

    done = runlab_cli("reindex", env={"RUNLAB_DIR": str(store)})

    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"Error: Cannot open the index {store}/.runlab/index.sqlite: "
        "the store is on a read-only file system."
    ]


# -- conda --------------------------------------------------------------------------------


@pytest.mark.parametrize("conda", ["missing", "failing"])
def test_run_with_conda_missing_or_failing_starts_and_says_why(
    runlab_cli: Any, store: Path, tmp_path: Path, conda: str
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    if conda == "failing":
        fake = bin_dir / "conda"
        fake.write_text("#!/bin/sh\necho 'conda: broken install' >&2\nexit 1\n")
        fake.chmod(0o755)
    path = os.pathsep.join([str(bin_dir), os.path.dirname(PY), "/usr/bin", "/bin"])

    done = runlab_cli(
        "run",
        "--",
        PY,
        "-c",
        "print(1)",
        env={"PATH": path, "CONDA_PREFIX": None, "CONDA_EXE": None},
    )

    assert done.returncode == 0, done.stderr
    (stored,) = open_store(store).runs()
    assert stored.status == "finished"
    info = stored.environment["conda"]
    assert info["available"] is False
    assert info["reason"] == (
        "conda not found on PATH" if conda == "missing" else "conda: broken install"
    )
