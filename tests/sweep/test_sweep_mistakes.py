"""`runlab sweep` given mistakes: each is said plainly and leaves the store alone."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from runlab.store import open_store
from runlab.sweep.session import is_running, stale_view
from runlab.sweep.state import SweepNotFound, list_sweeps, read_sweep

pytestmark = pytest.mark.usefixtures("runlab_env")

PY = sys.executable
NOOP = f'{PY} -c "import runlab; runlab.start().finish()"'


def sweep_file(folder: Path, body: str, name: str = "sweep.yaml") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


def refused(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode != 0, done.stdout
    assert "Traceback" not in done.stderr
    return done.stderr


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_sweep_makes_its_store_with_a_gitignore(
    runlab_cli: Callable[..., Any], tmp_path: Path, store: Path
) -> None:
    sweep = sweep_file(
        tmp_path, f"command: {NOOP}\nmethod: grid\nparameters: {{k: [0]}}\n"
    )

    done = runlab_cli("sweep", str(sweep))

    assert done.returncode == 0, done.stderr
    assert (store / ".gitignore").read_text().splitlines()[-1] == "*"


def test_ray_with_no_head_listening_writes_no_sweep(
    runlab_cli: Callable[..., Any], tmp_path: Path, store: Path
) -> None:
    sweep = sweep_file(
        tmp_path, f"command: {NOOP}\nmethod: grid\nparameters: {{k: [0]}}\n"
    )
    address = f"127.0.0.1:{free_port()}"

    err = refused(
        runlab_cli("sweep", str(sweep), "--executor", "ray", "--address", address)
    )

    assert f"No Ray head answers at {address}" in err
    assert not (store / "sweeps").exists()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--address", "127.0.0.1:6379"], "--address is the Ray head's, but the sweep"),
        (["--gpus", ","], "',' names no GPU"),
        (["--gpus", "a,b"], "--gpus has 'a', which is not a GPU"),
    ],
)
def test_options_that_mean_nothing_are_refused(
    runlab_cli: Callable[..., Any],
    tmp_path: Path,
    store: Path,
    options: list[str],
    message: str,
) -> None:
    sweep = sweep_file(
        tmp_path, f"command: {NOOP}\nmethod: grid\nparameters: {{k: [0]}}\n"
    )

    err = refused(runlab_cli("sweep", str(sweep), *options))

    assert message in err
    assert not (store / "sweeps").exists()


def test_gpu_uuids_are_accepted(
    runlab_cli: Callable[..., Any], tmp_path: Path, store: Path
) -> None:
    sweep = sweep_file(
        tmp_path, f"command: {NOOP}\nmethod: grid\nparameters: {{k: [0]}}\n"
    )

    done = runlab_cli("sweep", str(sweep), "--gpus", "GPU-8a1f,1")

    assert done.returncode == 0, done.stderr
    (state,) = list_sweeps(store)
    assert state.trials[0].gpus == ["GPU-8a1f"]


def test_resume_from_another_folder_finds_a_relative_command(
    runlab_cli: Callable[..., Any], tmp_path: Path, store: Path
) -> None:
    script = tmp_path / "run.sh"
    script.write_text(f"#!/bin/sh\nexec {NOOP}\n")
    script.chmod(0o755)
    sweep = sweep_file(
        tmp_path, "command: ./run.sh\nmethod: grid\nparameters: {k: [0, 1]}\n"
    )
    assert runlab_cli("sweep", str(sweep)).returncode == 0
    (state,) = list_sweeps(store)
    state.trials[1].state = "killed"
    state.save()
    elsewhere = tmp_path / "sub"
    elsewhere.mkdir()

    done = runlab_cli("sweep", "resume", state.id, cwd=elsewhere)

    assert done.returncode == 0, done.stderr
    assert [t.state for t in read_sweep(store, state.id).trials] == ["finished"] * 2


SLOW = "import time, runlab\nrun = runlab.start()\nrun.log({'x': 1.0}, step=0)\ntime.sleep(600)\n"


@pytest.mark.slow
def test_a_sweep_whose_process_died_shows_its_trials_killed(
    runlab_cli: Callable[..., Any],
    runlab_popen: Callable[..., subprocess.Popen[str]],
    runlab_json: Callable[..., Any],
    tmp_path: Path,
    store: Path,
) -> None:
    script = tmp_path / "slow.py"
    script.write_text(SLOW)
    sweep = sweep_file(
        tmp_path, f"command: {PY} {script}\nmethod: grid\nparameters: {{k: [0]}}\n"
    )
    proc = runlab_popen("sweep", str(sweep))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        states = list_sweeps(store)
        if states and states[0].trials[0].run_ids:
            break
        time.sleep(0.2)
    (state,) = list_sweeps(store)
    assert is_running(state)
    assert not stale_view(state)

    proc.kill()  # SIGKILL: the runner cannot save anything
    proc.communicate(timeout=30)
    status = runlab_json("sweep", "status", state.id)
    listed = runlab_cli("sweep", "ls")

    assert not is_running(read_sweep(store, state.id))
    assert [t["state"] for t in status["trials"]] == ["killed"]
    assert "(1 killed)" in listed.stdout
    assert f"runlab sweep resume {state.id}" in listed.stderr
    # Reading changed nothing on disk: the file is the runner's to write.
    on_disk = json.loads((state.folder / "state.json").read_text())
    assert on_disk["trials"][0]["state"] == "running"
    # The trial's wrapper notices its runner is gone and ends its run killed.
    run = open_store(store)
    deadline = time.monotonic() + 30
    while run.load_run(state.trials[0].run_ids[0]).status == "running":
        assert time.monotonic() < deadline, "the orphaned trial kept running"
        time.sleep(0.2)
    assert run.load_run(state.trials[0].run_ids[0]).status == "killed"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('{"id": 5}', "its id 5 is not its folder's name"),
        ("{trunc", "cannot be read"),
        ('["x"]', "it holds no JSON object"),
    ],
)
def test_a_broken_state_file_is_named_and_other_sweeps_still_answer(
    runlab_cli: Callable[..., Any],
    tmp_path: Path,
    store: Path,
    text: str,
    problem: str,
) -> None:
    sweep = sweep_file(
        tmp_path, f"command: {NOOP}\nmethod: grid\nname: good\nparameters: {{k: [0]}}\n"
    )
    assert runlab_cli("sweep", str(sweep)).returncode == 0
    broken = store / "sweeps" / "sw-261204-000000-beef"
    broken.mkdir()
    (broken / "state.json").write_text(text)

    err = refused(runlab_cli("sweep", "status", broken.name))
    good = runlab_cli("sweep", "status", "good")
    with pytest.raises(SweepNotFound) as caught:
        read_sweep(store, broken.name)

    assert f"{broken / 'state.json'} cannot be read" in err
    assert problem in str(caught.value) or problem == "cannot be read"
    assert good.returncode == 0, good.stderr
    assert "Traceback" not in good.stderr


def test_sweep_ls_shows_the_sweeps_name(
    runlab_cli: Callable[..., Any], tmp_path: Path
) -> None:
    sweep = sweep_file(
        tmp_path,
        f"command: {NOOP}\nmethod: grid\nname: lr-search\nparameters: {{k: [0]}}\n",
    )
    assert runlab_cli("sweep", str(sweep)).returncode == 0

    listed = runlab_cli("sweep", "ls").stdout

    assert "  lr-search  grid" in listed


LOGS_ACC = "import runlab\nrun = runlab.start()\nrun.log({'val/acc': 0.5}, step=0)\nrun.finish()\n"


@pytest.mark.slow
def test_an_objective_no_trial_logs_is_named_with_the_closest_metric(
    runlab_cli: Callable[..., Any], tmp_path: Path
) -> None:
    pytest.importorskip("optuna")
    script = tmp_path / "acc.py"
    script.write_text(LOGS_ACC)
    sweep = sweep_file(
        tmp_path,
        f"""\
        command: {PY} {script}
        method: optuna
        trials: 1
        parameters: {{x: {{min: 0.0, max: 1.0}}}}
        objective: {{metric: val/accc, summary: max, goal: maximize}}
        """,
    )

    done = runlab_cli("sweep", str(sweep), timeout=300)

    assert "logged no metric 'val/accc', the sweep's objective; did you mean " in (
        done.stderr
    )
    assert "'val/acc'? it logged val/acc." in done.stderr
