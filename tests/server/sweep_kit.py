"""A store holding one sweep whose trials are real runs, for the sweep tests.

``make_sweep_store(store, tmp)`` writes a grid sweep over ``optim.lr`` (four
values spanning three decades) and ``model.act`` (two words), every trial
with seed 0, plus one trial still pending; each of the eight grid trials is
run by the real ``runlab run --sweep ID --trial I`` wrapping a script that
logs ``train/loss`` and ``val/acc`` (best for ``act=relu``, lr 0.01). The
sweep's state then records each trial's run and state, as `runlab sweep`
would. Imported by test_api_sweeps.py and test_browser_sweeps.py.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from runlab.config import dump_config
from runlab.sweep.state import TrialState, create_sweep, read_sweep

LEARNING_RATES = (0.0001, 0.001, 0.01, 0.1)
ACTIVATIONS = ("relu", "tanh")
GRID = [(lr, act) for lr in LEARNING_RATES for act in ACTIVATIONS]
SWEEP_NAME = "lr-act-grid"
SWEEP_FILE = """\
command: python train.py
method: grid
name: lr-act-grid
parameters:
  optim.lr: [0.0001, 0.001, 0.01, 0.1]
  model.act: [relu, tanh]
seeds: [0]
objective: {metric: val/acc, summary: max, goal: maximize}
"""
TRIAL_SCRIPT = """\
import math, runlab
run = runlab.start()
lr, act = run.config["optim"]["lr"], run.config["model"]["act"]
best = 0.9 - 0.1 * abs(math.log10(lr) + 2) - (0.2 if act == "tanh" else 0.0)
for step in range(5):
    run.log({"train/loss": 1.0 / (1 + step * lr * 100)}, step=step)
    run.log({"val/acc": best * (step + 1) / 5}, step=step)
"""
_LEAKY = ("RUNLAB_RUN_DIR", "RUNLAB_DIR", "RANK", "LOCAL_RANK", "RUNLAB_URI")


@dataclass
class SweepStore:
    """The sweep's id and its trials' run ids, by trial index."""

    sweep_id: str
    run_ids: dict[int, str]

    @property
    def trial_count(self) -> int:
        return len(GRID) + 1


def best_val_acc(lr: float, act: str) -> float:
    """The ``val/acc`` max that TRIAL_SCRIPT logs for a point."""
    return 0.9 - 0.1 * abs(math.log10(lr) + 2) - (0.2 if act == "tanh" else 0.0)


def make_sweep_store(store: Path, tmp: Path) -> SweepStore:
    """Create the sweep described in the module docstring; return its ids."""
    trials = [
        TrialState(index=i, params={"optim.lr": lr, "model.act": act}, seed=0)
        for i, (lr, act) in enumerate(GRID)
    ]
    trials.append(
        TrialState(index=len(GRID), params={"optim.lr": 0.5, "model.act": "gelu"})
    )
    sweep = create_sweep(
        store, file_text=SWEEP_FILE, file=str(tmp / "sweep.yaml"), method="grid",
        name=SWEEP_NAME, trials=trials,
    )  # fmt: skip
    run_ids = _run_trials(store, tmp, sweep.id, trials[: len(GRID)])

    # Record what the runner would have: each trial's run and its end.
    sweep = read_sweep(store, sweep.id)
    for trial in sweep.trials:
        if trial.index in run_ids:
            trial.run_ids = [run_ids[trial.index]]
            trial.state, trial.attempts, trial.exit_code = "finished", 1, 0
    sweep.save()
    return SweepStore(sweep.id, run_ids)


def _run_trials(
    store: Path, tmp: Path, sweep_id: str, trials: list[TrialState]
) -> dict[int, str]:
    """Run the trials at once through `runlab run`; return index -> run id."""
    script = tmp / "train_trial.py"
    script.write_text(TRIAL_SCRIPT, encoding="utf-8")
    started = []
    for trial in trials:
        config = tmp / f"trial-{trial.index}.yaml"
        lr, act = trial.params["optim.lr"], trial.params["model.act"]
        dump_config({"optim": {"lr": lr}, "model": {"act": act}, "seed": 0}, config)
        id_file = tmp / f"trial-{trial.index}.id"
        command = [
            sys.executable, "-m", "runlab", "run", "--store", str(store),
            "-c", str(config), "--sweep", sweep_id, "--trial", str(trial.index),
            "--id-file", str(id_file), "--", sys.executable, str(script),
        ]  # fmt: skip
        process = subprocess.Popen(
            command, cwd=tmp, env=_child_env(tmp), stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        started.append((trial.index, process, id_file))
    run_ids = {}
    for index, process, id_file in started:
        out, err = process.communicate(timeout=120)
        if process.returncode != 0:
            raise RuntimeError(f"Trial {index} failed:\n{out}\n{err}")
        run_ids[index] = id_file.read_text(encoding="utf-8").strip()
    return run_ids


def _child_env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _LEAKY}
    env.update(
        RUNLAB_SYSTEM_METRICS="0",
        GIT_CEILING_DIRECTORIES=str(tmp),
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_CONFIG_NOSYSTEM="1",
    )
    return env
