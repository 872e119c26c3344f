"""Tests for runlab.sweep.search: a real Optuna study asked and told by index."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import optuna
import pytest
from optuna.storages.journal import JournalFileBackend, JournalStorage
from optuna.trial import TrialState

from runlab.sweep.search import OptunaSearch
from runlab.sweep.spec import SweepSpec, loads_sweep

QUADRATIC = """\
command: python f.py
method: optuna
trials: 12
sampler_seed: {seed}
prune: {prune}
objective: {{metric: f, summary: last, goal: {goal}}}
parameters:
  x: {{min: -3, max: 3}}
  y: {{min: -3, max: 3}}
"""


def optuna_spec(
    tmp_path: Path, *, seed: int = 0, prune: bool = False, goal: str = "minimize"
) -> SweepSpec:
    text = QUADRATIC.format(seed=seed, prune=str(prune).lower(), goal=goal)
    return loads_sweep(text, tmp_path / "sweep.yaml")


def quadratic(params: dict[str, Any]) -> float:
    return float((params["x"] - 2) ** 2 + (params["y"] + 1) ** 2)


def stored_states(path: Path) -> list[TrialState]:
    storage = JournalStorage(JournalFileBackend(str(path)))
    (name,) = optuna.study.get_all_study_names(storage)
    study = optuna.load_study(study_name=name, storage=storage)
    return [trial.state for trial in study.get_trials(deepcopy=False)]


def test_twelve_trials_find_a_value_near_the_known_minimum(tmp_path: Path) -> None:
    search = OptunaSearch(optuna_spec(tmp_path, seed=0))
    values = {}

    for _ in range(12):
        point = search.ask()
        values[point.index] = quadratic(point.params)
        search.tell(point.index, values[point.index], "finished")

    best = search.best()
    assert best is not None
    assert best == (min(values, key=values.__getitem__), min(values.values()))
    # The minimum is 0 at (2, -1); random points in the box average about 16.
    assert best[1] < 1.0


def test_the_same_sampler_seed_asks_the_same_points(tmp_path: Path) -> None:
    def points(seed: int) -> list[dict[str, Any]]:
        search = OptunaSearch(optuna_spec(tmp_path, seed=seed))
        asked = []
        for _ in range(12):
            point = search.ask()
            search.tell(point.index, quadratic(point.params), "finished")
            asked.append(point.params)
        return asked

    assert points(5) == points(5)
    assert points(5) != points(6)


def test_asked_points_follow_each_parameter_kind(tmp_path: Path) -> None:
    spec = loads_sweep(
        textwrap.dedent(
            """\
        command: python f.py
        method: optuna
        trials: 30
        objective: {metric: loss, goal: minimize}
        parameters:
          model.layers: [[64, 64], [128], {kind: mlp}]
          optim.name: [sgd, adam]
          model.width: {min: 8, max: 512, log: true, int: true}
          optim.lr: {min: 1.0e-5, max: 1.0e-1, log: true}
          data.augment: true
        """
        ),
        tmp_path / "sweep.yaml",
    )
    search = OptunaSearch(spec)

    points = [search.ask() for _ in range(30)]

    assert [p.index for p in points] == list(range(30))
    assert all(p.seed is None for p in points)
    assert all(list(p.params) == list(spec.parameters) for p in points)
    layers = [p.params["model.layers"] for p in points]
    assert all(value in ([64, 64], [128], {"kind": "mlp"}) for value in layers)
    assert {p.params["optim.name"] for p in points} == {"sgd", "adam"}
    widths = [p.params["model.width"] for p in points]
    assert all(type(w) is int and 8 <= w <= 512 for w in widths)
    assert all(1e-5 <= p.params["optim.lr"] <= 1e-1 for p in points)
    assert all(p.params["data.augment"] is True for p in points)


def test_tell_maps_trial_states_to_optuna_states(tmp_path: Path) -> None:
    journal = tmp_path / "optuna.journal"
    search = OptunaSearch(optuna_spec(tmp_path), storage_path=journal)
    outcomes = [
        (1.5, "finished"),
        (None, "failed"),
        (None, "killed"),
        (None, "pruned"),
        (None, "finished"),
        (float("nan"), "finished"),
    ]

    for value, state in outcomes:
        search.tell(search.ask().index, value, state)

    assert stored_states(journal) == [
        TrialState.COMPLETE,
        TrialState.FAIL,
        TrialState.FAIL,
        TrialState.PRUNED,
        TrialState.FAIL,
        TrialState.FAIL,
    ]
    assert search.best() == (0, 1.5)


def test_tell_refuses_an_unknown_state(tmp_path: Path) -> None:
    search = OptunaSearch(optuna_spec(tmp_path))
    index = search.ask().index

    with pytest.raises(ValueError) as caught:
        search.tell(index, 1.0, "done")

    assert str(caught.value) == (
        "Trial 0 cannot end as 'done'; use finished, failed, killed or pruned."
    )


def test_tell_of_an_index_never_asked_raises_key_error(tmp_path: Path) -> None:
    search = OptunaSearch(optuna_spec(tmp_path))

    with pytest.raises(KeyError, match="Trial 4 was never asked"):
        search.tell(4, 1.0, "finished")


def test_best_is_none_until_a_trial_finishes_and_follows_the_goal(
    tmp_path: Path,
) -> None:
    search = OptunaSearch(optuna_spec(tmp_path, goal="maximize"))
    first, second = search.ask(), search.ask()
    assert search.best() is None

    search.tell(first.index, 2.0, "finished")
    search.tell(second.index, 5.0, "finished")

    assert search.best() == (1, 5.0)


def test_report_prunes_a_trial_far_behind_the_median(tmp_path: Path) -> None:
    search = OptunaSearch(optuna_spec(tmp_path, prune=True))
    # The median pruner judges only once five trials have finished.
    for _ in range(5):
        index = search.ask().index
        assert not any(search.report(index, step, 1.0) for step in range(4))
        search.tell(index, 1.0, "finished")
    behind, ahead = search.ask().index, search.ask().index

    assert search.report(behind, 0, 9.0) is True
    assert search.report(behind, 0, 9.0) is True  # a step read again is ignored
    assert search.report(ahead, 0, 0.5) is False
    search.tell(behind, None, "pruned")
    assert search.report(behind, 1, 9.0) is False  # no longer running


def test_report_never_prunes_when_the_sweep_does_not_ask_for_it(
    tmp_path: Path,
) -> None:
    search = OptunaSearch(optuna_spec(tmp_path, prune=False))
    for _ in range(5):
        index = search.ask().index
        search.report(index, 0, 1.0)
        search.tell(index, 1.0, "finished")
    index = search.ask().index

    assert search.report(index, 0, 1000.0) is False


def test_a_study_in_a_journal_file_continues_after_a_restart(tmp_path: Path) -> None:
    journal = tmp_path / "optuna.journal"
    spec = optuna_spec(tmp_path)
    first = OptunaSearch(spec, storage_path=journal)
    asked = [first.ask() for _ in range(3)]
    first.tell(0, 4.0, "finished")
    first.tell(1, None, "killed")  # index 2 stays running: its runner died

    again = OptunaSearch(spec, storage_path=journal)
    resumed = again.resume(1)
    again.tell(1, 0.5, "finished")
    again.tell(2, 3.0, "finished")
    following = again.ask()

    assert resumed == asked[1]
    assert following.index == 3
    assert following.params not in [point.params for point in asked]
    assert again.best() == (1, 0.5)
    # Index 1 ran again as a new Optuna trial; index 2 was told where it was.
    assert stored_states(journal) == [
        TrialState.COMPLETE,
        TrialState.FAIL,
        TrialState.COMPLETE,
        TrialState.COMPLETE,
        TrialState.RUNNING,
    ]


def test_optuna_search_refuses_a_grid_sweep(tmp_path: Path) -> None:
    spec = loads_sweep(
        "command: x\nmethod: grid\nparameters: {a: [1]}\n", tmp_path / "s.yaml"
    )

    with pytest.raises(ValueError, match="needs method optuna and an objective"):
        OptunaSearch(spec)
