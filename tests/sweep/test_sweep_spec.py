"""Tests for runlab.sweep.spec: reading sweep files, and the words of each error."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from runlab.errors import ConfigError
from runlab.sweep.spec import (
    Choice,
    Fixed,
    Objective,
    Range,
    SweepSpec,
    is_dotted_key,
    load_sweep,
    loads_sweep,
)

FULL = """\
command: python train.py --epochs 3 --note "two words"
config: conf/base.yaml
method: random
parameters:
  optim.lr: [0.1, 0.01, 0.001]
  model.width: {min: 32, max: 256, log: true, int: true}
  optim.momentum: {min: 0.5, max: 0.99}
  +data.augment: true
seeds: [0, 1, 2]
seeds_key: train.seed
trials: 20
objective: {metric: val/acc, summary: max, goal: maximize}
args: flags
gpus_per_trial: 2
name: lr-search
sampler_seed: 7
"""


def write_sweep(folder: Path, text: str) -> Path:
    path = folder / "sweep.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def sweep_error(folder: Path, text: str) -> str:
    path = write_sweep(folder, text)
    with pytest.raises(ConfigError) as caught:
        load_sweep(path)
    return str(caught.value).replace(str(path), "sweep.yaml")


def test_load_sweep_reads_every_key(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    base = "optim: {lr: 1.0, momentum: 0.9}\nmodel: {width: 64}\ntrain: {seed: 0}\n"
    (tmp_path / "conf" / "base.yaml").write_text(base)

    spec = load_sweep(write_sweep(tmp_path, FULL))

    assert spec == SweepSpec(
        path=tmp_path / "sweep.yaml",
        command=["python", "train.py", "--epochs", "3", "--note", "two words"],
        method="random",
        parameters={
            "optim.lr": Choice((0.1, 0.01, 0.001)),
            "model.width": Range(32, 256, log=True, int=True),
            "optim.momentum": Range(0.5, 0.99),
            "data.augment": Fixed(True),
        },
        config=(tmp_path / "conf" / "base.yaml").resolve(),
        seeds=(0, 1, 2),
        seeds_key="train.seed",
        trials=20,
        objective=Objective(metric="val/acc", goal="maximize", summary="max"),
        prune=False,
        args="flags",
        gpus_per_trial=2,
        name="lr-search",
        sampler_seed=7,
    )
    assert list(spec.parameters) == [
        "optim.lr",
        "model.width",
        "optim.momentum",
        "data.augment",
    ]


@pytest.mark.parametrize(
    ("parameter", "message"),
    [
        (
            "optim.lrr: [0.1, 0.01]",
            "sweep.yaml:5: parameter 'optim.lrr' is not a key of the base config "
            "base.yaml; did you mean 'optim.lr'? write '+optim.lrr' to add it as a "
            "new key.",
        ),
        (
            "width: [1, 2]",
            "sweep.yaml:5: parameter 'width' is not a key of the base config "
            "base.yaml; write '+width' to add it as a new key.",
        ),
    ],
)
def test_a_parameter_the_base_config_lacks_is_an_error(
    tmp_path: Path, parameter: str, message: str
) -> None:
    (tmp_path / "base.yaml").write_text("optim: {lr: 1.0}\nlayers: [{units: 8}]\n")
    text = (
        "command: python t.py\nconfig: base.yaml\nmethod: grid\n"
        f"parameters:\n  {parameter}\n"
    )

    with pytest.raises(ConfigError) as caught:
        load_sweep(write_sweep(tmp_path, text))

    assert str(caught.value) == f"{tmp_path}/{message}"


def test_a_seeds_key_the_base_config_lacks_is_an_error_unless_added(
    tmp_path: Path,
) -> None:
    (tmp_path / "base.yaml").write_text("seed: 0\noptim: {lr: 0.1}\n")
    text = HEAD + "config: base.yaml\nmethod: grid\nparameters: {optim.lr: [1]}\n"
    text += "seeds: [0, 1]\nseeds_key: {key}\n"

    typo = sweep_error(tmp_path, text.replace("{key}", "train.sed"))
    added = load_sweep(write_sweep(tmp_path, text.replace("{key}", "'+train.seed'")))

    assert typo == (
        "sweep.yaml:6: seeds_key 'train.sed' is not a key of the base config "
        "base.yaml; write '+train.sed' to add it as a new key."
    )
    assert added.seeds_key == "train.seed"
    close = sweep_error(tmp_path, text.replace("{key}", "sed"))
    assert "did you mean 'seed'?" in close


def test_base_keys_sections_and_list_items_are_known(tmp_path: Path) -> None:
    (tmp_path / "base.yaml").write_text("optim: {lr: 1.0}\nlayers: [{units: 8}]\n")
    text = """\
        command: python t.py
        config: base.yaml
        method: grid
        parameters:
          optim: [{lr: 0.1}]
          layers.0.units: [4, 16]
          +data.augment: [true]
        """

    spec = load_sweep(write_sweep(tmp_path, text))

    assert list(spec.parameters) == ["optim", "layers.0.units", "data.augment"]


def test_load_sweep_fills_defaults_for_optional_keys(tmp_path: Path) -> None:
    spec = load_sweep(
        write_sweep(
            tmp_path,
            """\
            command: python train.py
            method: grid
            parameters: {optim.lr: [0.1]}
            """,
        )
    )

    assert (spec.config, spec.seeds, spec.seeds_key, spec.trials) == (
        None,
        None,
        "seed",
        None,
    )
    assert (spec.objective, spec.prune, spec.args) == (None, False, "config")
    assert (spec.gpus_per_trial, spec.name, spec.sampler_seed) == (1, None, 0)


def test_command_as_a_list_is_kept_word_for_word(tmp_path: Path) -> None:
    spec = load_sweep(
        write_sweep(
            tmp_path,
            """\
            command: [python, "my script.py", --epochs, 3]
            method: grid
            parameters: {optim.lr: [0.1]}
            """,
        )
    )

    assert spec.command == ["python", "my script.py", "--epochs", "3"]


def test_config_is_found_next_to_the_sweep_file_not_in_the_working_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "sweeps").mkdir()
    (tmp_path / "sweeps" / "base.yaml").write_text("a: 1\n")
    monkeypatch.chdir(tmp_path)
    text = "command: x\nconfig: base.yaml\nmethod: grid\nparameters: {a: [1]}\n"

    spec = loads_sweep(text, Path("sweeps/sweep.yaml"))

    assert spec.config == tmp_path / "sweeps" / "base.yaml"
    assert spec.path == Path("sweeps/sweep.yaml")


def test_int_range_with_whole_float_bounds_holds_ints(tmp_path: Path) -> None:
    spec = load_sweep(
        write_sweep(
            tmp_path,
            """\
            command: python train.py
            method: random
            trials: 3
            parameters:
              model.width: {min: 1.0e1, max: 2.0e2, int: true}
            """,
        )
    )

    width = spec.parameters["model.width"]
    assert width == Range(10, 200, int=True)
    assert isinstance(width, Range) and type(width.min) is int


def test_lists_may_hold_any_yaml_values(tmp_path: Path) -> None:
    spec = load_sweep(
        write_sweep(
            tmp_path,
            """\
            command: python train.py
            method: grid
            parameters:
              model.layers: [[64, 64], [128], {kind: mlp}, null]
            """,
        )
    )

    assert spec.parameters["model.layers"] == Choice(
        ([64, 64], [128], {"kind": "mlp"}, None)
    )


HEAD = "command: python train.py\n"

ERRORS = {
    "unknown key with a close match": (
        """\
        command: python train.py
        method: grid
        parameters:
          optim.lr: [0.1, 0.01]
          model.width: [32, 64]
        seeds: [0]
        paramters: {}
        """,
        "sweep.yaml:7: unknown key 'paramters'; did you mean 'parameters'?",
    ),
    "unknown key without a close match": (
        HEAD + "method: grid\nparameters: {a: [1]}\nzzz: 1\n",
        "sweep.yaml:4: unknown key 'zzz'; a sweep file takes command, config, "
        "method, parameters, seeds, seeds_key, trials, objective, prune, args, "
        "gpus_per_trial, name, sampler_seed.",
    ),
    "missing command": (
        "method: grid\nparameters: {a: [1]}\n",
        "sweep.yaml: missing key 'command'; add the training command, "
        "e.g. command: python train.py.",
    ),
    "missing method": (
        HEAD + "parameters: {a: [1]}\n",
        "sweep.yaml: missing key 'method'; add method: grid, random or optuna.",
    ),
    "missing parameters": (
        HEAD + "method: grid\n",
        "sweep.yaml: missing key 'parameters'; add the config keys to sweep, "
        "e.g. parameters: {optim.lr: [0.1, 0.01]}.",
    ),
    "empty file": (
        "",
        "sweep.yaml: missing key 'command'; add the training command, "
        "e.g. command: python train.py.",
    ),
    "unknown method": (
        HEAD + "method: grd\nparameters: {a: [1]}\n",
        "sweep.yaml:2: method 'grd' is not one of grid, random, optuna; "
        "did you mean 'grid'?",
    ),
    "grid holding a range": (
        """\
        command: python train.py
        method: grid
        parameters:
          optim.lr: [0.1, 0.01]
          model.width: {min: 32, max: 256}
        """,
        "sweep.yaml:5: parameter 'model.width' is a range; a grid needs a list "
        "of values.",
    ),
    "range with min above max": (
        HEAD + "method: random\ntrials: 4\nparameters:\n"
        "  optim.lr: {min: 0.1, max: 0.01}\n",
        "sweep.yaml:5: parameter 'optim.lr' has min 0.1 >= max 0.01; "
        "make min the smaller.",
    ),
    "range with min equal to max": (
        HEAD + "method: random\ntrials: 4\nparameters:\n  a: {min: 3, max: 3}\n",
        "sweep.yaml:5: parameter 'a' has min 3 >= max 3; make min the smaller.",
    ),
    "log range from zero": (
        HEAD + "method: random\ntrials: 4\nparameters:\n"
        "  optim.lr: {min: 0, max: 1, log: true}\n",
        "sweep.yaml:5: parameter 'optim.lr' is a log range, so its min must be "
        "above 0 (got 0).",
    ),
    "int range with a fractional bound": (
        HEAD + "method: random\ntrials: 4\nparameters:\n"
        "  model.width: {min: 32.5, max: 256, int: true}\n",
        "sweep.yaml:5: parameter 'model.width' is an int range, so its min must "
        "be a whole number (got 32.5).",
    ),
    "range with an unknown key": (
        HEAD + "method: random\ntrials: 4\nparameters:\n"
        "  model.width:\n    min: 32\n    max: 256\n    lgo: true\n",
        "sweep.yaml:8: parameter 'model.width' has unknown key 'lgo'; "
        "did you mean 'log'?",
    ),
    "range without max": (
        HEAD + "method: random\ntrials: 4\nparameters:\n  a: {min: 1}\n",
        "sweep.yaml:5: parameter 'a' is a range without 'max'; "
        "write {min: ..., max: ...}, or a list for a choice.",
    ),
    "range with a text bound": (
        HEAD + "method: random\ntrials: 4\nparameters:\n  a: {min: low, max: 1}\n",
        "sweep.yaml:5: parameter 'a' has min 'low'; a range's bounds are numbers.",
    ),
    "range with a non-boolean log": (
        HEAD + "method: random\ntrials: 4\nparameters:\n"
        "  a: {min: 1, max: 2, log: yes}\n",
        "sweep.yaml:5: parameter 'a' has log: 'yes'; write true or false.",
    ),
    "random without trials": (
        HEAD + "method: random\nparameters: {a: [1, 2]}\n",
        "sweep.yaml:2: method random needs trials: how many points to try, "
        "e.g. trials: 20.",
    ),
    "optuna without trials": (
        HEAD + "method: optuna\nparameters: {a: [1, 2]}\n"
        "objective: {metric: loss, goal: minimize}\n",
        "sweep.yaml:2: method optuna needs trials: how many points to try, "
        "e.g. trials: 20.",
    ),
    "optuna without objective": (
        HEAD + "method: optuna\ntrials: 5\nparameters: {a: [1, 2]}\n",
        "sweep.yaml:2: method optuna needs an objective, e.g. objective: "
        "{metric: val/acc, summary: max, goal: maximize}.",
    ),
    "trials below one": (
        HEAD + "method: random\ntrials: 0\nparameters: {a: [1, 2]}\n",
        "sweep.yaml:3: trials must be a whole number of at least 1 (got 0).",
    ),
    "trials with a grid": (
        HEAD + "method: grid\ntrials: 5\nparameters: {a: [1, 2]}\n",
        "sweep.yaml:3: trials does not apply to method grid, which runs every "
        "point; remove it or use method random.",
    ),
    "empty list": (
        HEAD + "method: grid\nparameters:\n  optim.lr: []\n",
        "sweep.yaml:4: parameter 'optim.lr' is an empty list; give at least one value.",
    ),
    "parameter name with an empty part": (
        HEAD + "method: grid\nparameters:\n  b: [1]\n  optim..lr: [1]\n",
        "sweep.yaml:5: parameter 'optim..lr' is not a valid config key; join "
        "names of letters, digits, '_' and '-' with single dots, e.g. optim.lr.",
    ),
    "parameter name with a space": (
        HEAD + "method: grid\nparameters:\n  'optim lr': [1]\n",
        "sweep.yaml:4: parameter 'optim lr' is not a valid config key; join "
        "names of letters, digits, '_' and '-' with single dots, e.g. optim.lr.",
    ),
    "parameter inside another": (
        HEAD + "method: grid\nparameters:\n  optim: [{lr: 1}]\n  optim.lr: [1]\n",
        "sweep.yaml:5: parameter 'optim.lr' is inside parameter 'optim'; "
        "sweep one or the other.",
    ),
    "empty parameters": (
        HEAD + "method: grid\nparameters: {}\n",
        "sweep.yaml:3: parameters is empty; name at least one config key to sweep.",
    ),
    "parameters as a list": (
        HEAD + "method: grid\nparameters: [optim.lr]\n",
        "sweep.yaml:3: parameters must be a mapping of config keys to values, "
        "e.g. optim.lr: [0.1, 0.01].",
    ),
    "seeds not a list": (
        HEAD + "method: grid\nparameters: {a: [1]}\nseeds: 3\n",
        "sweep.yaml:4: seeds must be a list of integers, e.g. seeds: [0, 1, 2].",
    ),
    "seeds holding a float": (
        HEAD + "method: grid\nparameters: {a: [1]}\nseeds: [0, 1.5]\n",
        "sweep.yaml:4: seeds must be a list of integers, e.g. seeds: [0, 1, 2].",
    ),
    "seeds holding a boolean": (
        HEAD + "method: grid\nparameters: {a: [1]}\nseeds: [0, true]\n",
        "sweep.yaml:4: seeds must be a list of integers, e.g. seeds: [0, 1, 2].",
    ),
    "empty seeds": (
        HEAD + "method: grid\nparameters: {a: [1]}\nseeds: []\n",
        "sweep.yaml:4: seeds is empty; list at least one seed or remove it.",
    ),
    "repeated seed": (
        HEAD + "method: grid\nparameters: {a: [1]}\nseeds: [0, 1, 0]\n",
        "sweep.yaml:4: seeds repeat 0; list each seed once.",
    ),
    "seeds with optuna": (
        HEAD + "method: optuna\ntrials: 5\nparameters: {a: [1]}\nseeds: [0, 1]\n"
        "objective: {metric: loss, goal: minimize}\n",
        "sweep.yaml:5: seeds does not work with method optuna, which scores each "
        "point by one run; remove seeds.",
    ),
    "parameter at the seeds key": (
        HEAD + "method: grid\nparameters:\n  a: [1]\n  train.seed: [1]\n"
        "seeds: [0]\nseeds_key: train\n",
        "sweep.yaml:5: parameter 'train.seed' overlaps the seeds key 'train'; "
        "remove it from parameters or set seeds_key to another key.",
    ),
    "bad seeds key": (
        HEAD + "method: grid\nparameters: {a: [1]}\nseeds_key: 'a b'\n",
        "sweep.yaml:4: seeds_key 'a b' is not a valid config key; join names of "
        "letters, digits, '_' and '-' with single dots, e.g. optim.lr.",
    ),
    "bad args": (
        HEAD + "method: grid\nparameters: {a: [1]}\nargs: flag\n",
        "sweep.yaml:4: args 'flag' is not one of config, flags; did you mean 'flags'?",
    ),
    "negative gpus per trial": (
        HEAD + "method: grid\nparameters: {a: [1]}\ngpus_per_trial: -1\n",
        "sweep.yaml:4: gpus_per_trial must be a whole number of at least 0 (got -1).",
    ),
    "prune without optuna": (
        HEAD + "method: random\ntrials: 2\nparameters: {a: [1]}\nprune: true\n",
        "sweep.yaml:5: prune works with method optuna only; remove it or use "
        "method optuna.",
    ),
    "prune not a boolean": (
        HEAD + "method: grid\nparameters: {a: [1]}\nprune: 'no'\n",
        "sweep.yaml:4: prune must be true or false (got 'no').",
    ),
    "objective with an unknown key": (
        HEAD + "method: grid\nparameters: {a: [1]}\nobjective:\n"
        "  metric: loss\n  gaol: minimize\n",
        "sweep.yaml:6: objective has unknown key 'gaol'; did you mean 'goal'?",
    ),
    "objective with an unknown summary": (
        HEAD + "method: grid\nparameters: {a: [1]}\nobjective:\n"
        "  metric: loss\n  summary: mean\n  goal: minimize\n",
        "sweep.yaml:6: objective summary 'mean' is not one of last, min, max.",
    ),
    "objective without a goal": (
        HEAD + "method: grid\nparameters: {a: [1]}\nobjective: {metric: loss}\n",
        "sweep.yaml:4: objective needs a goal: maximize or minimize.",
    ),
    "objective without a metric": (
        HEAD + "method: grid\nparameters: {a: [1]}\nobjective: {goal: minimize}\n",
        "sweep.yaml:4: objective needs a metric name, e.g. metric: val/acc.",
    ),
    "command with an open quote": (
        "command: python 'train.py\nmethod: grid\nparameters: {a: [1]}\n",
        "sweep.yaml:1: command cannot be split: No closing quotation; "
        "check its quotes.",
    ),
    "empty command": (
        "command: ''\nmethod: grid\nparameters: {a: [1]}\n",
        "sweep.yaml:1: command is empty; write it out, e.g. command: python train.py.",
    ),
    "command as a mapping": (
        "command: {run: x}\nmethod: grid\nparameters: {a: [1]}\n",
        "sweep.yaml:1: command must be a string or a list of strings, "
        "e.g. command: python train.py.",
    ),
    "config that does not exist": (
        HEAD + "config: missing.yaml\nmethod: grid\nparameters: {a: [1]}\n",
        "sweep.yaml:2: config file 'missing.yaml' does not exist (looked for "
        "{folder}/missing.yaml); give a path relative to the sweep file's folder.",
    ),
    "name that is empty": (
        HEAD + "method: grid\nparameters: {a: [1]}\nname: ''\n",
        "sweep.yaml:4: name must be a non-empty string (got '').",
    ),
    "name on two lines": (
        HEAD + 'method: grid\nparameters: {a: [1]}\nname: "one\\ntwo"\n',
        "sweep.yaml:4: name must be one line (got 'one\\ntwo').",
    ),
    "a fixed mapping written bare": (
        HEAD + "method: grid\nparameters:\n  optim: {lr: 0.5, decay: 0}\n",
        "sweep.yaml:4: parameter 'optim' is a mapping, read as a range, but has "
        "none of min, max, log, int; to set a fixed mapping write it in a "
        "one-item list (optim: [{...}]) or set each key (optim.KEY: VALUE).",
    ),
    "a parameter without a value": (
        HEAD + "method: grid\nparameters:\n  optim.lr:\n",
        "sweep.yaml:4: parameter 'optim.lr' has no value; give a list of values, "
        "a range or a fixed value (write [null] to set null on purpose).",
    ),
    "a grid too big to plan": (
        HEAD
        + "method: grid\nparameters:\n"
        + "".join(f"  k{i}: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]\n" for i in range(7)),
        "sweep.yaml:3: the grid has 10,000,000 points, more than the 10,000 a "
        "sweep may hold; sweep fewer values, or split it into several sweeps.",
    ),
    "a mistyped trial count": (
        HEAD + "method: random\ntrials: 100000000000\nparameters: {a: [1]}\n",
        "sweep.yaml:3: trials is 100,000,000,000, more than the 10,000 a sweep "
        "may hold; sweep fewer values, or split it into several sweeps.",
    ),
    "seeds that push a grid over the limit": (
        HEAD
        + "method: grid\nseeds: [0, 1, 2]\nparameters:\n  a: {values}\n".replace(
            "{values}", str(list(range(4000)))
        ),
        "sweep.yaml:4: the grid has 4,000 points x 3 seeds = 12,000 trials, more "
        "than the 10,000 a sweep may hold; sweep fewer values, or split it into "
        "several sweeps.",
    ),
    "seeds_key without seeds": (
        HEAD + "method: grid\nparameters: {a: [1]}\nseeds_key: train.seed\n",
        "sweep.yaml:4: seeds_key names the key the seeds set, but there are no "
        "seeds; add seeds: [0, 1, 2] or remove seeds_key.",
    ),
    "malformed yaml": (
        HEAD + "method: [grid\n",
        "sweep.yaml:3:1: expected ',' or ']', but got '<stream end>'",
    ),
}


@pytest.mark.parametrize("case", list(ERRORS))
def test_sweep_file_mistake_raises_config_error_naming_line_and_key(
    tmp_path: Path, case: str
) -> None:
    text, message = ERRORS[case]

    found = sweep_error(tmp_path, text)

    assert found == message.replace("{folder}", str(tmp_path.resolve()))


def test_load_sweep_of_a_missing_file_names_it(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"

    with pytest.raises(ConfigError) as caught:
        load_sweep(path)

    assert str(caught.value) == f"Sweep file '{path}' does not exist."


def test_config_error_is_a_value_error_for_callers_that_catch_those(
    tmp_path: Path,
) -> None:
    with pytest.raises(ValueError, match="missing key 'method'"):
        loads_sweep("command: x\nparameters: {a: [1]}\n", tmp_path / "s.yaml")


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("optim.lr", True),
        ("layers.0.units", True),
        ("model-width", True),
        ("_private.x", True),
        ("optim..lr", False),
        (".lr", False),
        ("lr.", False),
        ("optim lr", False),
        ("+lr", False),
        ("lr=1", False),
        ("", False),
    ],
)
def test_is_dotted_key_accepts_only_names_joined_by_single_dots(
    name: str, valid: bool
) -> None:
    assert is_dotted_key(name) is valid
