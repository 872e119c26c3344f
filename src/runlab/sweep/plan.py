"""The trial plan: the points of a grid or random sweep, and each trial's inputs.

A point is ``{dotted key: value}`` in the sweep file's order. With ``seeds``,
every point is repeated once per seed, the seed varying fastest, so trial
``index = point * len(seeds) + k`` runs point ``point`` with ``seeds[k]``.

A trial's config is the base config with each dotted key set nested
(:func:`trial_config`); with ``args: flags`` it also gets ``--key=value``
arguments (:func:`flag_args`). Optuna sweeps have no plan ahead of time: their
points come one by one from :class:`runlab.sweep.search.OptunaSearch`.
"""

from __future__ import annotations

import copy
import itertools
import json
import logging
import math
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from runlab.config import set_dotted
from runlab.errors import ConfigError
from runlab.sweep.spec import Choice, Fixed, Parameter, SweepSpec

__all__ = [
    "TrialPoint",
    "draw_value",
    "flag_args",
    "format_flag_value",
    "plan_trials",
    "trial_config",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrialPoint:
    """One trial: its place in the sweep, its parameter values and its seed."""

    index: int
    params: dict[str, Any]
    seed: int | None = None


def plan_trials(spec: SweepSpec) -> list[TrialPoint]:
    """Return every trial of a grid or random sweep, in order.

    A grid is the cartesian product of its parameters in file order, the last
    varying fastest (a fixed value is a one-value axis). A random sweep draws
    ``spec.trials`` points from ``random.Random(spec.sampler_seed)``, so the
    same file gives the same points.

    Raises:
        ValueError: ``spec.method`` is optuna, whose points are asked one by one.
    """
    if spec.method == "grid":
        points = _grid_points(spec.parameters)
    elif spec.method == "random":
        points = _random_points(spec.parameters, spec.trials or 0, spec.sampler_seed)
    else:
        raise ValueError(
            f"Sweep {spec.path} uses method {spec.method}, which has no plan ahead "
            "of time; ask OptunaSearch for each point."
        )
    seeds: tuple[int | None, ...] = spec.seeds or (None,)
    return [
        TrialPoint(i * len(seeds) + k, copy.deepcopy(params), seed)
        for i, params in enumerate(points)
        for k, seed in enumerate(seeds)
    ]


def _grid_points(parameters: Mapping[str, Parameter]) -> list[dict[str, Any]]:
    axes = [_grid_axis(name, parameter) for name, parameter in parameters.items()]
    names = list(parameters)
    return [
        dict(zip(names, values, strict=True)) for values in itertools.product(*axes)
    ]


def _grid_axis(name: str, parameter: Parameter) -> tuple[Any, ...]:
    if isinstance(parameter, Choice):
        return parameter.values
    if isinstance(parameter, Fixed):
        return (parameter.value,)
    raise ValueError(f"Parameter '{name}' is a range; a grid needs a list of values.")


def _random_points(
    parameters: Mapping[str, Parameter], count: int, sampler_seed: int
) -> list[dict[str, Any]]:
    rng = random.Random(sampler_seed)
    return [
        {name: draw_value(parameter, rng) for name, parameter in parameters.items()}
        for _ in range(count)
    ]


def draw_value(parameter: Parameter, rng: random.Random) -> Any:
    """Draw one value of ``parameter`` with ``rng``.

    A choice is picked uniformly; a range uniformly between its bounds, in log
    space when ``log``; an int range gives each whole number in it (log: each
    in proportion to its width in log space). A fixed value is returned as is.
    """
    if isinstance(parameter, Choice):
        return rng.choice(parameter.values)
    if isinstance(parameter, Fixed):
        return parameter.value
    low, high = parameter.min, parameter.max
    if parameter.int and not parameter.log:
        return rng.randint(int(low), int(high))
    if parameter.int:
        # Each integer owns [n - 0.5, n + 0.5) in the space drawn from.
        low, high = low - 0.5, high + 0.5
    value = (
        math.exp(rng.uniform(math.log(low), math.log(high)))
        if parameter.log
        else rng.uniform(low, high)
    )
    if parameter.int:
        return min(max(round(value), int(parameter.min)), int(parameter.max))
    # exp(log(x)) can land a hair outside the bounds.
    return min(max(value, parameter.min), parameter.max)


def trial_config(
    base: Mapping[str, Any],
    params: Mapping[str, Any],
    seed: int | None = None,
    seeds_key: str = "seed",
) -> dict[str, Any]:
    """Return a copy of ``base`` with each dotted param, and the seed, set nested.

    ``optim.lr`` sets ``{"optim": {"lr": ...}}``, creating missing sections
    and replacing what was there; ``layers.0.units`` reaches into a list.
    ``seed``, when not None, is set at ``seeds_key``. Values are copied with
    their types; ``base`` is not changed.

    Raises:
        ConfigError: a key runs through a value that is not a mapping or list,
            or the base config holds a key written with a dot that the param
            would shadow (``"optim.lr": 0.1`` at the top level).
    """
    config = copy.deepcopy(dict(base))
    values = dict(params)
    if seed is not None:
        values[seeds_key] = seed
    for key, value in values.items():
        _refuse_dotted_keys(config, key)
        set_dotted(config, key, copy.deepcopy(value))
    return config


def _refuse_dotted_keys(config: Mapping[str, Any], key: str) -> None:
    # set_dotted would write into a literal "optim.lr" key when the base has
    # one; a trial's config must hold the nested form the sweep promises.
    parts = key.split(".")
    node: Any = config
    for depth in range(len(parts)):
        if isinstance(node, Mapping):
            for end in range(depth + 2, len(parts) + 1):
                literal = ".".join(parts[depth:end])
                if literal in node:
                    raise ConfigError(
                        f"The base config holds the key '{literal}' written with a "
                        f"dot, which sweep parameter '{key}' would shadow; write it "
                        "nested in the base config."
                    )
            node = node.get(parts[depth])
        elif isinstance(node, list) and parts[depth].isdigit():
            index = int(parts[depth])
            node = node[index] if index < len(node) else None
        else:
            return


def flag_args(
    params: Mapping[str, Any], seed: int | None = None, seeds_key: str = "seed"
) -> list[str]:
    """Return ``--key=value`` arguments for the params, then the seed if any.

    Values are written by :func:`format_flag_value`, so a script reading them
    with argparse ``type=int``, ``type=float`` or ``type=json.loads`` gets the
    same values back.
    """
    values = dict(params)
    if seed is not None:
        values[seeds_key] = seed
    return [f"--{key}={format_flag_value(value)}" for key, value in values.items()]


def format_flag_value(value: Any) -> str:
    """Write one value for the command line.

    Ints as digits; floats by ``repr`` (``0.001``, ``1e-05``, ``inf``, ``nan``:
    ``float()`` reads each back exactly); booleans as ``true``/``false`` and
    None as ``null``, as YAML and JSON write them (argparse's ``type=bool``
    would read any non-empty text as True, so a script parses these itself);
    strings as they are; lists and mappings as compact JSON.
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if value is None:
        return "null"
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
