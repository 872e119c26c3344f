"""The sweep file: reading and checking it into a :class:`SweepSpec`.

The file format is the contract of docs/sweeps.md. Reading is strict: every
mistake raises :class:`~runlab.errors.ConfigError` before any trial starts,
with a message of the form ``<file>:<line>: <problem>; <what to do>`` (the
line is left out where there is none, as for a missing key).

A parameter's value decides its kind: a list is a :class:`Choice`, a mapping
is a :class:`Range`, anything else is a :class:`Fixed` value. A fixed list or
mapping is therefore written as a one-item list (``[[64, 64]]``) or as
dotted keys (``data.aug.flip: true``).
"""

from __future__ import annotations

import difflib
import logging
import math
import os
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from runlab._yaml import key_lines, loads_config
from runlab.errors import ConfigError

__all__ = [
    "Choice",
    "Fixed",
    "Objective",
    "Parameter",
    "Range",
    "SweepSpec",
    "is_dotted_key",
    "load_sweep",
    "loads_sweep",
]

logger = logging.getLogger(__name__)

Method = Literal["grid", "random", "optuna"]
Summary = Literal["last", "min", "max"]
Goal = Literal["maximize", "minimize"]

METHODS: tuple[Method, ...] = ("grid", "random", "optuna")
SUMMARIES: tuple[Summary, ...] = ("last", "min", "max")
GOALS: tuple[Goal, ...] = ("maximize", "minimize")
ARGS = ("config", "flags")
KEYS = (
    "command",
    "config",
    "method",
    "parameters",
    "seeds",
    "seeds_key",
    "trials",
    "objective",
    "prune",
    "args",
    "gpus_per_trial",
    "name",
    "sampler_seed",
)
_REQUIRED_HINTS = {
    "command": "add the training command, e.g. command: python train.py",
    "method": "add method: grid, random or optuna",
    "parameters": (
        "add the config keys to sweep, e.g. parameters: {optim.lr: [0.1, 0.01]}"
    ),
}
_RANGE_KEYS = ("min", "max", "log", "int")
# More trials than this is a typo (trials: 100000000000) or a grid that
# multiplies out of hand; planning them would fill memory before one starts.
MAX_TRIALS = 10_000
_OBJECTIVE_KEYS = ("metric", "summary", "goal")
_OBJECTIVE_EXAMPLE = "objective: {metric: val/acc, summary: max, goal: maximize}"
_KEY_PART = r"[A-Za-z0-9_][A-Za-z0-9_-]*"
_DOTTED_KEY = re.compile(rf"{_KEY_PART}(\.{_KEY_PART})*")


@dataclass(frozen=True)
class Choice:
    """A list of values: a grid runs each, random and optuna pick one."""

    values: tuple[Any, ...]


@dataclass(frozen=True)
class Range:
    """Numbers from ``min`` to ``max`` (both included), for random and optuna.

    ``log`` samples uniformly in log space (``min > 0``); ``int`` gives whole
    numbers, and ``min`` and ``max`` are then ints.
    """

    min: float
    max: float
    log: bool = False
    int: bool = False


@dataclass(frozen=True)
class Fixed:
    """One value every trial gets."""

    value: Any


Parameter = Choice | Range | Fixed


@dataclass(frozen=True)
class Objective:
    """What a trial scores: ``metric``'s ``summary`` (last, min or max), and the goal."""

    metric: str
    goal: Goal
    summary: Summary = "last"


@dataclass(frozen=True)
class SweepSpec:
    """A checked sweep file; see docs/sweeps.md for what each key means.

    ``path`` is the file as given; ``config`` is absolute and exists;
    ``parameters`` keeps the file's order, which sets the order of a grid.
    ``trials`` is set exactly for random and optuna; ``seeds`` is never set
    with optuna (a trial's objective comes from one run).
    """

    path: Path
    command: list[str]
    method: Method
    parameters: dict[str, Parameter]
    config: Path | None = None
    seeds: tuple[int, ...] | None = None
    seeds_key: str = "seed"
    trials: int | None = None
    objective: Objective | None = None
    prune: bool = False
    args: Literal["config", "flags"] = "config"
    gpus_per_trial: int = 1
    name: str | None = None
    sampler_seed: int = 0


def load_sweep(path: str | os.PathLike[str]) -> SweepSpec:
    """Read and check the sweep file at ``path``.

    Raises:
        ConfigError: the file cannot be read, is not YAML, or breaks a rule of
            docs/sweeps.md; the message names the file, the line and the key.
    """
    name = os.fspath(path)
    try:
        text = Path(name).read_text(encoding="utf-8-sig")
    except FileNotFoundError as err:
        raise ConfigError(f"Sweep file '{name}' does not exist.") from err
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"Sweep file '{name}' cannot be read: {err}.") from err
    return loads_sweep(text, name)


def loads_sweep(text: str, source_path: str | os.PathLike[str]) -> SweepSpec:
    """Check sweep file ``text``; ``source_path`` names it and anchors ``config``.

    Raises:
        ConfigError: as :func:`load_sweep`.
    """
    source = os.fspath(source_path)
    data = loads_config(text, source)
    return _SweepReader(source, data, key_lines(text)).read()


def is_dotted_key(name: str) -> bool:
    """Whether ``name`` is a key a sweep may set: ``optim.lr``, ``layers.0.units``."""
    return _DOTTED_KEY.fullmatch(name) is not None


class _SweepReader:
    """Checks the plain data of one sweep file, key by key."""

    def __init__(
        self, source: str, data: dict[str, Any], lines: dict[tuple[str, ...], int]
    ) -> None:
        self.source = source
        self.data = data
        self.lines = lines

    def error(self, path: tuple[str, ...], problem: str) -> ConfigError:
        """Return the error for ``problem`` at the deepest known line of ``path``."""
        for depth in range(len(path), 0, -1):
            line = self.lines.get(path[:depth])
            if line is not None:
                return ConfigError(f"{self.source}:{line}: {problem}")
        return ConfigError(f"{self.source}: {problem}")

    def read(self) -> SweepSpec:
        self._check_keys()
        method = self._method()
        params = _ParameterReader(self, method)
        parameters = params.read(self.data["parameters"])
        self._check_base_keys(params.written, self._config())
        seeds = self._seeds(method)
        seeds_key = self._seeds_key(parameters, seeds)
        self._check_size(method, parameters, seeds)
        objective = self._objective(method)
        spec = SweepSpec(
            path=Path(self.source),
            command=self._command(),
            method=method,
            parameters=parameters,
            config=self._config(),
            seeds=seeds,
            seeds_key=seeds_key,
            trials=self._trials(method),
            objective=objective,
            prune=self._prune(method),
            args=self._one_of(("args",), self.data.get("args", "config"), ARGS),
            gpus_per_trial=self._whole("gpus_per_trial", 1, least=0),
            name=self._name(),
            sampler_seed=self._whole("sampler_seed", 0, least=None),
        )
        logger.debug("Read sweep file %s: %s.", self.source, spec)
        return spec

    def _check_keys(self) -> None:
        for key in self.data:
            if key not in KEYS:
                close = difflib.get_close_matches(key, KEYS, n=1)
                hint = (
                    f"did you mean '{close[0]}'?"
                    if close
                    else f"a sweep file takes {', '.join(KEYS)}."
                )
                raise self.error((key,), f"unknown key '{key}'; {hint}")
        for key, hint in _REQUIRED_HINTS.items():
            if key not in self.data:
                raise self.error((), f"missing key '{key}'; {hint}.")

    def _one_of(
        self, path: tuple[str, ...], value: Any, options: tuple[str, ...]
    ) -> Any:
        if isinstance(value, str) and value in options:
            return value
        what = " ".join(path)
        listed = ", ".join(options)
        close = difflib.get_close_matches(str(value), options, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else "."
        raise self.error(path, f"{what} '{value}' is not one of {listed}{hint}")

    def _method(self) -> Method:
        method: Method = self._one_of(("method",), self.data["method"], METHODS)
        return method

    def _command(self) -> list[str]:
        value = self.data["command"]
        example = "e.g. command: python train.py"
        if isinstance(value, str):
            try:
                words = shlex.split(value)
            except ValueError as err:
                raise self.error(
                    ("command",), f"command cannot be split: {err}; check its quotes."
                ) from err
        elif isinstance(value, list) and all(_is_word(item) for item in value):
            words = [str(item) for item in value]
        else:
            raise self.error(
                ("command",),
                f"command must be a string or a list of strings, {example}.",
            )
        if not words:
            raise self.error(
                ("command",), f"command is empty; write it out, {example}."
            )
        return words

    def _check_base_keys(self, written: dict[str, str], base: Path | None) -> None:
        """Refuse a parameter the base config lacks, unless written ``+name``.

        A typo (``optim.lrr``) would otherwise run every trial on the base
        config's value of the key meant.
        """
        for key, name in written.items():
            self._check_base_key(("parameters", name), f"parameter '{key}'", name)

    def _check_base_key(self, where: tuple[str, ...], what: str, name: str) -> None:
        base = self._config()
        if base is None or name.startswith("+"):
            return
        from runlab.config import flatten_config, load_config

        known = list(flatten_config(load_config(base)))
        if any(
            k == name or k.startswith(f"{name}.") or name.startswith(f"{k}.")
            for k in known
        ):
            return
        close = difflib.get_close_matches(name, known, n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise self.error(
            where,
            f"{what} is not a key of the base config {base.name}; "
            f"{hint}write '+{name}' to add it as a new key.",
        )

    def _check_size(
        self,
        method: Method,
        parameters: dict[str, Parameter],
        seeds: tuple[int, ...] | None,
    ) -> None:
        """Refuse more than MAX_TRIALS trials before any is planned."""
        repeats = len(seeds) if seeds else 1
        if method == "grid":
            points = math.prod(
                len(p.values) for p in parameters.values() if isinstance(p, Choice)
            )
            where: tuple[str, ...] = ("parameters",)
            what = f"the grid has {points:,} points"
        else:
            points = self._whole("trials", 1, least=1)
            where, what = ("trials",), f"trials is {points:,}"
        total = points * repeats
        if total <= MAX_TRIALS:
            return
        times = f" x {repeats} seeds = {total:,} trials" if repeats > 1 else ""
        raise self.error(
            where,
            f"{what}{times}, more than the {MAX_TRIALS:,} a sweep may hold; "
            "sweep fewer values, or split it into several sweeps.",
        )

    def _config(self) -> Path | None:
        value = self.data.get("config")
        if value is None:
            return None
        if not isinstance(value, str) or not value:
            raise self.error(
                ("config",), "config must be a file path, e.g. config: base.yaml."
            )
        path = (Path(self.source).parent / value).resolve()
        if path.is_dir():
            raise self.error(
                ("config",), f"config '{value}' is a folder; give a YAML file."
            )
        if not path.is_file():
            raise self.error(
                ("config",),
                f"config file '{value}' does not exist (looked for {path}); "
                "give a path relative to the sweep file's folder.",
            )
        return path

    def _seeds(self, method: Method) -> tuple[int, ...] | None:
        value = self.data.get("seeds")
        if value is None:
            return None
        if not isinstance(value, list) or not all(_is_int(seed) for seed in value):
            raise self.error(
                ("seeds",), "seeds must be a list of integers, e.g. seeds: [0, 1, 2]."
            )
        if not value:
            raise self.error(
                ("seeds",), "seeds is empty; list at least one seed or remove it."
            )
        repeated = [seed for i, seed in enumerate(value) if seed in value[:i]]
        if repeated:
            raise self.error(
                ("seeds",), f"seeds repeat {repeated[0]}; list each seed once."
            )
        if method == "optuna":
            raise self.error(
                ("seeds",),
                "seeds does not work with method optuna, which scores each point "
                "by one run; remove seeds.",
            )
        return tuple(value)

    def _seeds_key(
        self, parameters: dict[str, Parameter], seeds: tuple[int, ...] | None
    ) -> str:
        written = self.data.get("seeds_key", "seed")
        value = written.removeprefix("+") if isinstance(written, str) else written
        if not isinstance(value, str) or not is_dotted_key(value):
            raise self.error(
                ("seeds_key",),
                f"seeds_key '{value}' is not a valid config key; {_KEY_RULE}.",
            )
        if "seeds_key" in self.data:
            if seeds is None:
                raise self.error(
                    ("seeds_key",),
                    "seeds_key names the key the seeds set, but there are no "
                    "seeds; add seeds: [0, 1, 2] or remove seeds_key.",
                )
            self._check_base_key(("seeds_key",), f"seeds_key '{value}'", written)
        clash = next((name for name in parameters if _overlaps(name, value)), None)
        if seeds is not None and clash is not None:
            raise self.error(
                ("parameters", clash),
                f"parameter '{clash}' overlaps the seeds key '{value}'; "
                "remove it from parameters or set seeds_key to another key.",
            )
        return value

    def _trials(self, method: Method) -> int | None:
        if "trials" not in self.data:
            if method == "grid":
                return None
            raise self.error(
                ("method",),
                f"method {method} needs trials: how many points to try, e.g. trials: 20.",
            )
        if method == "grid":
            raise self.error(
                ("trials",),
                "trials does not apply to method grid, which runs every point; "
                "remove it or use method random.",
            )
        return self._whole("trials", 1, least=1)

    def _whole(self, key: str, default: int, *, least: int | None) -> int:
        value = self.data.get(key, default)
        if _is_int(value) and (least is None or value >= least):
            return int(value)
        bound = f" of at least {least}" if least is not None else ""
        raise self.error(
            (key,), f"{key} must be a whole number{bound} (got {value!r})."
        )

    def _objective(self, method: Method) -> Objective | None:
        value = self.data.get("objective")
        if value is None:
            if method == "optuna":
                raise self.error(
                    ("method",),
                    f"method optuna needs an objective, e.g. {_OBJECTIVE_EXAMPLE}.",
                )
            return None
        if not isinstance(value, dict):
            raise self.error(
                ("objective",),
                f"objective must be a mapping, e.g. {_OBJECTIVE_EXAMPLE}.",
            )
        for key in value:
            if key not in _OBJECTIVE_KEYS:
                raise self.error(
                    ("objective", key),
                    _unknown_in("objective", key, _OBJECTIVE_KEYS),
                )
        metric = value.get("metric")
        if not isinstance(metric, str) or not metric:
            raise self.error(
                ("objective", "metric"),
                "objective needs a metric name, e.g. metric: val/acc.",
            )
        if "goal" not in value:
            raise self.error(
                ("objective",), "objective needs a goal: maximize or minimize."
            )
        summary = self._one_of(
            ("objective", "summary"), value.get("summary", "last"), SUMMARIES
        )
        goal = self._one_of(("objective", "goal"), value["goal"], GOALS)
        return Objective(metric=metric, summary=summary, goal=goal)

    def _prune(self, method: Method) -> bool:
        value = self.data.get("prune", False)
        if not isinstance(value, bool):
            raise self.error(
                ("prune",), f"prune must be true or false (got {value!r})."
            )
        if value and method != "optuna":
            raise self.error(
                ("prune",),
                "prune works with method optuna only; remove it or use method optuna.",
            )
        return value

    def _name(self) -> str | None:
        value = self.data.get("name")
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            raise self.error(
                ("name",), f"name must be a non-empty string (got {value!r})."
            )
        if "\n" in value or "\r" in value:
            raise self.error(("name",), f"name must be one line (got {value!r}).")
        return value


_KEY_RULE = "join names of letters, digits, '_' and '-' with single dots, e.g. optim.lr"


class _ParameterReader:
    """Turns the ``parameters`` mapping into :data:`Parameter` values."""

    def __init__(self, reader: _SweepReader, method: Method) -> None:
        self.reader = reader
        self.method = method

    def read(self, value: Any) -> dict[str, Parameter]:
        if not isinstance(value, dict):
            raise self.reader.error(
                ("parameters",),
                "parameters must be a mapping of config keys to values, "
                "e.g. optim.lr: [0.1, 0.01].",
            )
        if not value:
            raise self.reader.error(
                ("parameters",),
                "parameters is empty; name at least one config key to sweep.",
            )
        # "+name" adds a key the base config lacks; the name is the key.
        self.written = {str(name).removeprefix("+"): str(name) for name in value}
        parameters = {
            key: self.parameter(name, value[name]) for key, name in self.written.items()
        }
        self.check_overlaps(list(parameters))
        return parameters

    def parameter(self, written: str, value: Any) -> Parameter:
        where = ("parameters", written)
        name = written.removeprefix("+")
        if not is_dotted_key(name):
            raise self.reader.error(
                where, f"parameter '{name}' is not a valid config key; {_KEY_RULE}."
            )
        if isinstance(value, list):
            if not value:
                raise self.reader.error(
                    where,
                    f"parameter '{name}' is an empty list; give at least one value.",
                )
            return Choice(tuple(value))
        if isinstance(value, dict):
            if not set(value) & set(_RANGE_KEYS):
                raise self.reader.error(
                    where,
                    f"parameter '{name}' is a mapping, read as a range, but has "
                    "none of min, max, log, int; to set a fixed mapping write it "
                    f"in a one-item list ({name}: [{{...}}]) or set each key "
                    f"({name}.KEY: VALUE).",
                )
            return self.range(name, value)
        if value is None:
            raise self.reader.error(
                where,
                f"parameter '{name}' has no value; give a list of values, a range "
                "or a fixed value (write [null] to set null on purpose).",
            )
        return Fixed(value)

    def range(self, name: str, value: dict[str, Any]) -> Range:
        where = ("parameters", name)
        if self.method == "grid":
            raise self.reader.error(
                where, f"parameter '{name}' is a range; a grid needs a list of values."
            )
        for key in value:
            if key not in _RANGE_KEYS:
                raise self.reader.error(
                    (*where, key), _unknown_in(f"parameter '{name}'", key, _RANGE_KEYS)
                )
        flags = {key: self.flag(name, value, key) for key in ("log", "int")}
        low, high = (
            self.bound(name, value, key, flags["int"]) for key in ("min", "max")
        )
        if low >= high:
            raise self.reader.error(
                where,
                f"parameter '{name}' has min {low} >= max {high}; make min the smaller.",
            )
        if flags["log"] and low <= 0:
            raise self.reader.error(
                where,
                f"parameter '{name}' is a log range, so its min must be above 0 (got {low}).",
            )
        return Range(low, high, log=flags["log"], int=flags["int"])

    def flag(self, name: str, value: dict[str, Any], key: str) -> bool:
        flag = value.get(key, False)
        if not isinstance(flag, bool):
            raise self.reader.error(
                ("parameters", name, key),
                f"parameter '{name}' has {key}: {flag!r}; write true or false.",
            )
        return flag

    def bound(self, name: str, value: dict[str, Any], key: str, is_int: bool) -> float:
        where = ("parameters", name, key)
        if key not in value:
            raise self.reader.error(
                where[:2],
                f"parameter '{name}' is a range without '{key}'; "
                "write {min: ..., max: ...}, or a list for a choice.",
            )
        bound = value[key]
        is_number = isinstance(bound, (int, float)) and not isinstance(bound, bool)
        if not is_number or not math.isfinite(bound):
            raise self.reader.error(
                where,
                f"parameter '{name}' has {key} {bound!r}; a range's bounds are numbers.",
            )
        if is_int and bound != int(bound):
            raise self.reader.error(
                where,
                f"parameter '{name}' is an int range, so its {key} must be a whole "
                f"number (got {bound}).",
            )
        return int(bound) if is_int else bound

    def check_overlaps(self, names: list[str]) -> None:
        for i, name in enumerate(names):
            for other in names[:i]:
                if _overlaps(name, other):
                    inner, outer = sorted((name, other), key=len, reverse=True)
                    raise self.reader.error(
                        ("parameters", name),
                        f"parameter '{inner}' is inside parameter '{outer}'; "
                        "sweep one or the other.",
                    )


def _overlaps(name: str, other: str) -> bool:
    """Whether setting one dotted key would overwrite or run through the other."""
    return name == other or name.startswith(other + ".") or other.startswith(name + ".")


def _unknown_in(what: str, key: str, options: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(key, options, n=1)
    hint = f"did you mean '{close[0]}'?" if close else f"it takes {', '.join(options)}."
    return f"{what} has unknown key '{key}'; {hint}"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_word(value: Any) -> bool:
    # `[python, train.py, --epochs, 3]`: numbers are words of the command too.
    return isinstance(value, (str, int, float)) and not isinstance(value, bool)
