"""`runlab sweep` end to end: real trials, real runs, a real store."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from runlab.store import open_store
from runlab.sweep.state import TrialState, create_sweep, read_sweep

pytestmark = pytest.mark.usefixtures("runlab_env")

DIGITS = Path(__file__).resolve().parents[2] / "examples" / "digits"
PY = sys.executable


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def sweep_file(folder: Path, body: str) -> Path:
    return write(folder, "sweep.yaml", body)


def ok(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    return done.stdout


def sweep_runs(store: Path, sweep_id: str) -> list[dict[str, Any]]:
    return open_store(store).records(f"sweep = {sweep_id}", sort=["trial"])


def only_sweep(store: Path) -> Any:
    (folder,) = (store / "sweeps").iterdir()
    return read_sweep(store, folder.name)


@pytest.mark.slow
def test_digits_grid_of_6_with_parallel_2_gives_exactly_the_grid(
    runlab_cli: Callable[..., Any], tmp_path: Path, store: Path
) -> None:
    sweep = sweep_file(
        tmp_path,
        f"""\
        command: {PY} {DIGITS / "train.py"}
        config: {DIGITS / "config.yaml"}
        method: grid
        parameters:
          optim.lr: [0.1, 0.01, 0.001]
          model.hidden: [[32], [64]]
          epochs: 2
        """,
    )

    ok(runlab_cli("sweep", str(sweep), "--parallel", "2", timeout=600))

    state = only_sweep(store)
    runs = sweep_runs(store, state.id)
    seen = [(r["config"]["optim"]["lr"], r["config"]["model"]["hidden"]) for r in runs]
    grid = [(lr, h) for lr in (0.1, 0.01, 0.001) for h in ([32], [64])]
    assert seen == grid
    assert [r["status"] for r in runs] == ["finished"] * 6
    assert all(r["config"]["epochs"] == 2 for r in runs)
    assert state.counts()["finished"] == 6


BLOCKER = """\
import os, pathlib, sys, time, runlab
run = runlab.start()
run.log({"x": float(run.config.x)}, step=0)
if run.config.x >= 2 and pathlib.Path(sys.argv[1]).exists():
    print("blocking", flush=True)
    time.sleep(600)
run.finish()
"""


@pytest.mark.slow
def test_interrupted_sweep_resumes_only_the_trials_left(
    runlab_cli: Callable[..., Any],
    runlab_popen: Callable[..., subprocess.Popen[str]],
    tmp_path: Path,
    store: Path,
) -> None:
    script = write(tmp_path, "blocker.py", BLOCKER)
    marker = write(tmp_path, "block", "")
    sweep = sweep_file(
        tmp_path,
        f"""\
        command: {PY} {script} {marker}
        method: grid
        parameters:
          x: [0, 1, 2, 3, 4, 5]
        """,
    )
    proc = runlab_popen("sweep", str(sweep))
    state = _wait_for(
        store, lambda s: s.counts()["running"] == 1 and s.trials[2].run_ids
    )
    _wait_for(store, lambda s: _logged(store, s.trials[2].run_ids))
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)

    state = read_sweep(store, state.id)
    assert proc.returncode == 130
    assert f"runlab sweep resume {state.id}" in err
    assert [t.state for t in state.trials] == ["finished"] * 2 + ["killed"] + [
        "pending"
    ] * 3
    killed_run = open_store(store).load_run(state.trials[2].run_id)
    assert killed_run.status == "killed"

    marker.unlink()
    ok(runlab_cli("sweep", "resume", state.id, timeout=300))

    state = read_sweep(store, state.id)
    assert [t.state for t in state.trials] == ["finished"] * 6
    assert [len(t.run_ids) for t in state.trials] == [1, 1, 2, 1, 1, 1]
    assert len(sweep_runs(store, state.id)) == 7


NAP = """\
import time, runlab
run = runlab.start()
time.sleep(1.5)
run.log({"x": float(run.config.x)}, step=0)
run.finish()
"""


@pytest.mark.slow
def test_resume_runs_with_the_options_the_sweep_last_ran_with(
    runlab_cli: Callable[..., Any], tmp_path: Path, store: Path
) -> None:
    script = write(tmp_path, "nap.py", NAP)
    body = f"command: {PY} {script}\nmethod: grid\nparameters:\n  x: [0, 1]\n"
    sweep = sweep_file(tmp_path, body)
    last = {"parallel": 2, "gpus": [], "executor": "local", "address": None}
    state = create_sweep(
        store, file_text=body, file=str(sweep), method="grid", name=None,
        trials=[TrialState(0, {"x": 0}), TrialState(1, {"x": 1})],
        options={**last, "retries": 1},
    )  # fmt: skip

    ok(runlab_cli("sweep", "resume", state.id, timeout=120))

    state = read_sweep(store, state.id)
    assert [t.state for t in state.trials] == ["finished", "finished"]
    first, second = state.trials
    assert first.started < second.ended and second.started < first.ended  # side by side
    assert state.options == {**last, "retries": 1}
    ok(runlab_cli("sweep", "resume", state.id, "--retries", "0", timeout=60))
    assert read_sweep(store, state.id).options == {**last, "retries": 0}


def _logged(store: Path, run_ids: list[str]) -> bool:
    return bool(run_ids) and (store / run_ids[-1] / "metrics" / "summary.json").exists()


def _wait_for(store: Path, check: Callable[[Any], Any], timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (store / "sweeps").is_dir() and any((store / "sweeps").iterdir()):
            state = only_sweep(store)
            if check(state):
                return state
        time.sleep(0.1)
    raise AssertionError("the sweep did not reach the expected state in time")


GPU_PROBE = """\
import os, time, runlab
run = runlab.start()
run.log({"seen": 1.0}, step=0)
run.note(os.environ.get("CUDA_VISIBLE_DEVICES", "<unset>"))
time.sleep(0.8)
run.finish()
"""


@pytest.mark.slow
def test_gpu_slots_give_each_trial_one_gpu_never_shared(
    runlab_cli: Callable[..., Any], tmp_path: Path, store: Path
) -> None:
    script = write(tmp_path, "probe.py", GPU_PROBE)
    sweep = sweep_file(
        tmp_path,
        f"""\
        command: {PY} {script}
        method: grid
        parameters:
          k: [0, 1, 2, 3]
        """,
    )

    ok(runlab_cli("sweep", str(sweep), "--gpus", "0,1", timeout=300))

    state = only_sweep(store)
    runs = [open_store(store).load_run(t.run_id) for t in state.trials]
    seen = [run.notes.strip().splitlines()[-1] for run in runs]
    assert all(s in ("0", "1") for s in seen), seen
    assert [t.gpus for t in state.trials] == [[s] for s in seen]
    spans = [
        (r.record["started"], r.record["ended"], s)
        for r, s in zip(runs, seen, strict=True)
    ]
    for i, (start_a, end_a, gpu_a) in enumerate(spans):
        for start_b, end_b, gpu_b in spans[i + 1 :]:
            overlap = start_a < end_b and start_b < end_a
            assert not (overlap and gpu_a == gpu_b), (spans, i)
    # The two slots did run at the same time.
    assert any(
        a[0] < b[1] and b[0] < a[1] for i, a in enumerate(spans) for b in spans[i + 1 :]
    )


@pytest.mark.slow
def test_ten_trials_started_at_once_get_ten_distinct_runs(
    runlab_cli: Callable[..., Any], tmp_path: Path, store: Path
) -> None:
    sweep = sweep_file(
        tmp_path,
        f"""\
        command: {PY} -c "import runlab; runlab.start().finish()"
        method: grid
        parameters:
          k: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
        """,
    )

    ok(runlab_cli("sweep", str(sweep), "--parallel", "10", timeout=300))

    state = only_sweep(store)
    run_ids = [t.run_id for t in state.trials]
    assert len(set(run_ids)) == 10
    assert sorted(r["config"]["k"] for r in sweep_runs(store, state.id)) == list(
        range(10)
    )


FAILING = """\
import runlab
run = runlab.start()
print("about to fail on trial", run.config.k)
raise SystemExit(3 if run.config.k == 1 else 0)
"""


def test_failed_trial_is_retried_then_reported_with_its_log(
    runlab_cli: Callable[..., Any], tmp_path: Path, store: Path
) -> None:
    script = write(tmp_path, "failing.py", FAILING)
    sweep = sweep_file(
        tmp_path,
        f"""\
        command: {PY} {script}
        method: grid
        parameters:
          k: [0, 1]
        """,
    )

    done = runlab_cli("sweep", str(sweep), "--retries", "2", timeout=300)

    state = only_sweep(store)
    assert done.returncode == 1
    assert [t.state for t in state.trials] == ["finished", "failed"]
    assert state.trials[1].attempts == 3
    assert len(state.trials[1].run_ids) == 3
    assert "about to fail on trial 1" in done.stderr
    assert "1 failed" in done.stderr


def test_status_and_ls_in_json(
    runlab_cli: Callable[..., Any], runlab_json: Callable[..., Any], tmp_path: Path
) -> None:
    sweep = sweep_file(
        tmp_path,
        f"""\
        command: {PY} -c "import runlab; runlab.start().finish()"
        method: grid
        name: tiny
        parameters:
          k: [0, 1]
        seeds: [7]
        """,
    )
    ok(runlab_cli("sweep", str(sweep)))

    [listed] = runlab_json("sweep", "ls")
    status = runlab_json("sweep", "status", "tiny")

    assert listed["name"] == "tiny"
    assert listed["counts"]["finished"] == 2
    assert [t["params"] for t in status["trials"]] == [{"k": 0}, {"k": 1}]
    assert [t["seed"] for t in status["trials"]] == [7, 7]
    runs = runlab_json("ls", f"sweep = {listed['id']}")
    assert sorted(r["config"]["seed"] for r in runs) == [7, 7]
    assert sorted(r["trial"] for r in runs) == [0, 1]


def test_bad_sweep_file_is_one_line_and_writes_nothing(
    runlab_cli: Callable[..., Any], tmp_path: Path, store: Path
) -> None:
    sweep = sweep_file(tmp_path, "command: echo\nmethod: grid\nparamters: {}\n")

    done = runlab_cli("sweep", str(sweep))

    assert done.returncode == 1
    assert done.stderr.startswith("Error: ")
    assert "paramters" in done.stderr
    assert not (store / "sweeps").exists()


def test_unknown_sweep_is_an_error(runlab_cli: Callable[..., Any]) -> None:
    done = runlab_cli("sweep", "status", "sw-nope")
    assert done.returncode == 1
    assert "No sweep 'sw-nope'" in done.stderr


QUADRATIC = """\
import runlab
run = runlab.start()
x, y = run.config.x, run.config.y
run.log({"f": (x - 2) ** 2 + (y + 1) ** 2}, step=0)
run.finish()
"""


@pytest.mark.slow
def test_optuna_sweep_of_12_trials_finds_the_known_best(
    runlab_cli: Callable[..., Any], tmp_path: Path, store: Path
) -> None:
    script = write(tmp_path, "quadratic.py", QUADRATIC)
    sweep = sweep_file(
        tmp_path,
        f"""\
        command: {PY} {script}
        method: optuna
        parameters:
          x: {{min: -3.0, max: 3.0}}
          y: {{min: -3.0, max: 3.0}}
        trials: 12
        sampler_seed: 0
        objective: {{metric: f, summary: last, goal: minimize}}
        """,
    )

    ok(runlab_cli("sweep", str(sweep), timeout=600))

    state = only_sweep(store)
    values = [t.objective for t in state.trials]
    assert len(state.trials) == 12
    assert all(v is not None for v in values)
    best = min(values)
    # The minimum is 0 at (2, -1); the run's own config holds the point tried.
    winner = state.trials[values.index(best)]
    assert best < 1.0
    assert (winner.params["x"] - 2) ** 2 + (
        winner.params["y"] + 1
    ) ** 2 == pytest.approx(best)


def test_flags_reach_an_unmodified_argparse_script(
    runlab_cli: Callable[..., Any], tmp_path: Path, store: Path
) -> None:
    script = DIGITS.parent / "argparse_script" / "train.py"
    sweep = sweep_file(
        tmp_path,
        f"""\
        command: {PY} {script}
        method: grid
        args: flags
        parameters:
          lr: [0.01, 0.2]
          epochs: 3
        """,
    )

    ok(runlab_cli("sweep", str(sweep), timeout=300))

    runs = sweep_runs(store, only_sweep(store).id)
    assert [(r["config"]["lr"], r["config"]["epochs"]) for r in runs] == [
        (0.01, 3),
        (0.2, 3),
    ]
    invocations = [open_store(store).load_run(r["id"]).meta["command"] for r in runs]
    assert invocations[0][-2:] == ["--lr=0.01", "--epochs=3"]


SLOW_CURVE = """\
import time, runlab
run = runlab.start()
for step in range(40):
    run.log({"f": run.config.x}, step=step)
    time.sleep(0.05)
run.finish()
"""


@pytest.mark.slow
def test_optuna_pruner_stops_trials_worse_than_the_median(
    runlab_cli: Callable[..., Any], tmp_path: Path, store: Path
) -> None:
    script = write(tmp_path, "curve.py", SLOW_CURVE)
    sweep = sweep_file(
        tmp_path,
        f"""\
        command: {PY} {script}
        method: optuna
        parameters:
          x: {{min: 0.0, max: 1.0}}
        trials: 9
        sampler_seed: 0
        prune: true
        objective: {{metric: f, summary: last, goal: minimize}}
        """,
    )

    ok(runlab_cli("sweep", str(sweep), timeout=600))

    state = only_sweep(store)
    pruned = [t for t in state.trials if t.state == "pruned"]
    finished = [t for t in state.trials if t.state == "finished"]
    assert pruned, [(t.state, t.params) for t in state.trials]
    assert len(pruned) + len(finished) == 9
    # The median pruner waits for 5 finished trials, then stops the worse ones,
    # whose runs end killed, short of their 40 steps.
    assert all(t.index >= 5 for t in pruned)
    for trial in pruned:
        run = open_store(store).load_run(trial.run_id)
        assert run.status == "killed"
        assert run.summary["f"]["count"] < 40
        best_finished = min(t.params["x"] for t in finished)
        assert trial.params["x"] > best_finished
