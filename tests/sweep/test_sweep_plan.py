"""Tests for runlab.sweep.plan: grid and random points, seeds, trial configs, flags."""

from __future__ import annotations

import argparse
import copy
import json
import math
from pathlib import Path
from typing import Any

import pytest

from runlab.errors import ConfigError
from runlab.sweep.plan import (
    TrialPoint,
    flag_args,
    format_flag_value,
    plan_trials,
    trial_config,
)
from runlab.sweep.spec import Choice, SweepSpec, loads_sweep


def sweep(tmp_path: Path, body: str) -> SweepSpec:
    return loads_sweep("command: python train.py\n" + body, tmp_path / "s.yaml")


def test_grid_is_the_product_in_file_order_with_the_last_parameter_fastest(
    tmp_path: Path,
) -> None:
    spec = sweep(
        tmp_path,
        "method: grid\nparameters:\n  optim.lr: [0.1, 0.01]\n"
        "  data.augment: true\n  model.width: [32, 64, 128]\n",
    )

    trials = plan_trials(spec)

    assert [(t.index, t.params, t.seed) for t in trials] == [
        (0, {"optim.lr": 0.1, "data.augment": True, "model.width": 32}, None),
        (1, {"optim.lr": 0.1, "data.augment": True, "model.width": 64}, None),
        (2, {"optim.lr": 0.1, "data.augment": True, "model.width": 128}, None),
        (3, {"optim.lr": 0.01, "data.augment": True, "model.width": 32}, None),
        (4, {"optim.lr": 0.01, "data.augment": True, "model.width": 64}, None),
        (5, {"optim.lr": 0.01, "data.augment": True, "model.width": 128}, None),
    ]
    assert [list(t.params) for t in trials[:1]] == [
        ["optim.lr", "data.augment", "model.width"]
    ]


def test_grid_of_fixed_values_only_is_one_trial(tmp_path: Path) -> None:
    spec = sweep(tmp_path, "method: grid\nparameters: {a: 1, b: x}\n")

    assert plan_trials(spec) == [TrialPoint(0, {"a": 1, "b": "x"}, None)]


def test_seeds_repeat_each_point_with_the_seed_varying_fastest(
    tmp_path: Path,
) -> None:
    spec = sweep(tmp_path, "method: grid\nparameters: {a: [1, 2]}\nseeds: [7, 8, 9]\n")

    trials = plan_trials(spec)

    assert [(t.index, t.params["a"], t.seed) for t in trials] == [
        (0, 1, 7),
        (1, 1, 8),
        (2, 1, 9),
        (3, 2, 7),
        (4, 2, 8),
        (5, 2, 9),
    ]


def test_points_do_not_share_list_values(tmp_path: Path) -> None:
    spec = sweep(
        tmp_path, "method: grid\nparameters: {layers: [[64, 64]]}\nseeds: [0, 1]\n"
    )
    first, second = plan_trials(spec)

    first.params["layers"].append(1)

    assert second.params["layers"] == [64, 64]
    assert spec.parameters["layers"] == Choice(([64, 64],))


RANDOM = """\
method: random
trials: 300
sampler_seed: {seed}
parameters:
  optim.lr: {{min: 1.0e-4, max: 1.0e-1, log: true}}
  model.width: {{min: 1, max: 4, int: true}}
  model.depth: {{min: 2, max: 64, int: true, log: true}}
  optim.momentum: {{min: 0.5, max: 0.9}}
  optim.name: [sgd, adam, lion]
  data.augment: true
"""


def test_random_points_are_the_same_for_the_same_sampler_seed(
    tmp_path: Path,
) -> None:
    first = plan_trials(sweep(tmp_path, RANDOM.format(seed=3)))
    again = plan_trials(sweep(tmp_path, RANDOM.format(seed=3)))
    other = plan_trials(sweep(tmp_path, RANDOM.format(seed=4)))

    assert first == again
    assert [t.params for t in first] != [t.params for t in other]
    assert [t.index for t in first] == list(range(300))


def test_random_points_stay_within_their_ranges(tmp_path: Path) -> None:
    trials = plan_trials(sweep(tmp_path, RANDOM.format(seed=0)))
    column = {name: [t.params[name] for t in trials] for name in trials[0].params}

    assert all(1e-4 <= lr <= 1e-1 for lr in column["optim.lr"])
    assert all(0.5 <= m <= 0.9 for m in column["optim.momentum"])
    assert set(column["model.width"]) == {1, 2, 3, 4}
    assert all(type(w) is int for w in column["model.width"])
    assert all(type(d) is int and 2 <= d <= 64 for d in column["model.depth"])
    assert set(column["optim.name"]) == {"sgd", "adam", "lion"}
    assert set(column["data.augment"]) == {True}


def test_log_ranges_are_uniform_in_log_space(tmp_path: Path) -> None:
    trials = plan_trials(sweep(tmp_path, RANDOM.format(seed=1)))
    lrs = [t.params["optim.lr"] for t in trials]
    depths = [t.params["model.depth"] for t in trials]

    # Uniform in log space puts half the draws below the geometric middle;
    # uniform in linear space would put about 3% there for lr, 15% for depth.
    assert 0.4 < sum(lr < math.sqrt(1e-4 * 1e-1) for lr in lrs) / len(lrs) < 0.6
    assert 0.4 < sum(d < math.sqrt(2 * 64) for d in depths) / len(depths) < 0.6


def test_random_seeds_repeat_each_drawn_point(tmp_path: Path) -> None:
    spec = sweep(
        tmp_path,
        "method: random\ntrials: 2\nparameters: {a: {min: 0, max: 1}}\nseeds: [0, 1]\n",
    )

    trials = plan_trials(spec)

    assert [t.seed for t in trials] == [0, 1, 0, 1]
    assert trials[0].params == trials[1].params != trials[2].params


def test_plan_trials_refuses_optuna_whose_points_are_asked(tmp_path: Path) -> None:
    spec = sweep(
        tmp_path,
        "method: optuna\ntrials: 3\nparameters: {a: [1]}\n"
        "objective: {metric: loss, goal: minimize}\n",
    )

    with pytest.raises(ValueError, match="ask OptunaSearch for each point"):
        plan_trials(spec)


BASE: dict[str, Any] = {
    "optim": {"lr": 1.0, "name": "sgd"},
    "layers": [{"units": 8}, {"units": 16}],
    "epochs": 3,
}


def test_trial_config_sets_dotted_params_nested_and_leaves_base_untouched() -> None:
    base = copy.deepcopy(BASE)

    config = trial_config(
        base,
        {
            "optim.lr": 0.01,
            "model.encoder.width": 64,
            "layers.1.units": 32,
            "data.sizes": [1, 2],
            "flag": None,
        },
        seed=5,
        seeds_key="train.seed",
    )

    assert config == {
        "optim": {"lr": 0.01, "name": "sgd"},
        "layers": [{"units": 8}, {"units": 32}],
        "epochs": 3,
        "model": {"encoder": {"width": 64}},
        "data": {"sizes": [1, 2]},
        "flag": None,
        "train": {"seed": 5},
    }
    assert base == BASE
    assert not any("." in key for key in _all_keys(config))


def test_trial_config_without_seed_adds_no_seed_key() -> None:
    assert "seed" not in trial_config({}, {"a": 1}, seed=None)
    assert trial_config({}, {"a": 1}, seed=0) == {"a": 1, "seed": 0}


def test_trial_config_copies_param_values() -> None:
    params = {"data.sizes": [1, 2]}

    config = trial_config({}, params)
    config["data"]["sizes"].append(3)

    assert params == {"data.sizes": [1, 2]}


def test_trial_config_refuses_a_key_through_a_plain_value() -> None:
    with pytest.raises(ConfigError) as caught:
        trial_config({"optim": "adam"}, {"optim.lr": 0.1})

    assert str(caught.value) == (
        "Cannot set config key 'optim.lr': 'optim' holds a str, not a mapping."
    )


def test_trial_config_refuses_a_base_key_written_with_a_dot() -> None:
    with pytest.raises(ConfigError) as caught:
        trial_config({"model": {"enc.width": 3}}, {"model.enc.width": 4})

    assert str(caught.value) == (
        "The base config holds the key 'enc.width' written with a dot, which "
        "sweep parameter 'model.enc.width' would shadow; write it nested in the "
        "base config."
    )


def _all_keys(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [k for key, value in node.items() for k in [key, *_all_keys(value)]]
    if isinstance(node, list):
        return [k for item in node for k in _all_keys(item)]
    return []


def _read_bool(text: str) -> bool:
    return {"true": True, "false": False}[text]


def test_flag_args_round_trip_through_argparse() -> None:
    params = {
        "optim.lr": 1e-05,
        "optim.momentum": 0.1 + 0.2,
        "optim.shift": -0.5,
        "model.width": 12345678901234567890,
        "model.name": "wide net",
        "model.layers": [64, 64],
        "data.augment": False,
        "data.mix": {"a": 0.5, "b": None},
    }
    parser = argparse.ArgumentParser()
    parser.add_argument("--optim.lr", type=float)
    parser.add_argument("--optim.momentum", type=float)
    parser.add_argument("--optim.shift", type=float)
    parser.add_argument("--model.width", type=int)
    parser.add_argument("--model.name")
    parser.add_argument("--model.layers", type=json.loads)
    parser.add_argument("--data.augment", type=_read_bool)
    parser.add_argument("--data.mix", type=json.loads)
    parser.add_argument("--train.seed", type=int)

    args = flag_args(params, seed=3, seeds_key="train.seed")
    parsed = vars(parser.parse_args(args))

    assert parsed == {**params, "train.seed": 3}
    assert args[0] == "--optim.lr=1e-05"
    assert args[-1] == "--train.seed=3"


def test_flag_args_without_seed_are_the_params_in_order() -> None:
    assert flag_args({"b": 1, "a": "x"}) == ["--b=1", "--a=x"]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (True, "true"),
        (False, "false"),
        (None, "null"),
        (3, "3"),
        (0.001, "0.001"),
        (1e-05, "1e-05"),
        (float("inf"), "inf"),
        ("plain text", "plain text"),
        ([1, "a", None], '[1,"a",null]'),
        ({"k": [1.5]}, '{"k":[1.5]}'),
    ],
)
def test_format_flag_value_writes_each_type_readably(value: Any, text: str) -> None:
    assert format_flag_value(value) == text


def test_format_flag_value_writes_nan_that_float_reads_back() -> None:
    assert math.isnan(float(format_flag_value(float("nan"))))
