"""Optuna sweeps: each point asked of Optuna's sampler, each result told back.

:class:`OptunaSearch` wraps one Optuna study. Optuna is an optional
dependency (``pip install runlab[optuna]``), imported only when a search
starts. The study lives in memory, or in an Optuna journal file
(``JournalStorage`` over ``JournalFileBackend``) when a path is given, so that
a resumed sweep continues the same study: its sampler sees every earlier
result, and trial indices go on from the last one asked.

Trial indices are runlab's; each Optuna trial records its index in the user
attribute ``runlab_index``. An index run again (a resumed trial) gets a fresh
Optuna trial holding the same parameters, because Optuna never reopens a
finished trial.

The journal file is locked with symbolic links, so it needs a file system
that has them, and one process writing it at a time.
"""

from __future__ import annotations

import copy
import json
import logging
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runlab.sweep.plan import TrialPoint
from runlab.sweep.spec import Choice, Fixed, Range, SweepSpec

if TYPE_CHECKING:
    import optuna

__all__ = ["OptunaSearch"]

logger = logging.getLogger(__name__)

_INDEX_ATTR = "runlab_index"
_STUDY_NAME = "runlab-sweep"
_SCALARS = (str, int, float, bool, type(None))


class OptunaSearch:
    """Asks Optuna for the points of an optuna sweep and tells it the results.

    One process drives a search: it asks a point, runs the trial, reports
    the trial's metric points while it runs (when ``spec.prune``), then tells
    its end. Trials may run at the same time; each is told by its index.
    """

    def __init__(self, spec: SweepSpec, storage_path: Path | None = None) -> None:
        """Open the study, in memory or in the journal file ``storage_path``.

        Raises:
            ValueError: ``spec`` is not an optuna sweep with an objective.
            ModuleNotFoundError: Optuna is not installed.
        """
        if spec.method != "optuna" or spec.objective is None:
            raise ValueError(
                f"Sweep {spec.path} uses method {spec.method}; OptunaSearch "
                "needs method optuna and an objective."
            )
        lib = _import_optuna()
        self.spec = spec
        self._goal = spec.objective.goal
        self._states = lib.trial.TrialState
        self._study = lib.create_study(
            storage=_storage(storage_path),
            study_name=_STUDY_NAME,
            direction=spec.objective.goal,
            pruner=(
                lib.pruners.MedianPruner() if spec.prune else lib.pruners.NopPruner()
            ),
            load_if_exists=True,
        )
        earlier = self._study.get_trials(deepcopy=False)
        # A resumed study gets a sampler seeded past its first run, so that its
        # first random points are not the ones the first run tried.
        self._study.sampler = lib.samplers.TPESampler(
            seed=spec.sampler_seed + len(earlier)
        )
        self._numbers = _latest_numbers(earlier)
        self._next_index = max(self._numbers, default=-1) + 1
        self._running: dict[int, optuna.Trial] = {}
        self._reported: dict[int, set[int]] = {}

    def ask(self) -> TrialPoint:
        """Return a new point from the sampler, with the next trial index."""
        index = self._next_index
        self._next_index += 1
        trial = self._study.ask()
        trial.set_user_attr(_INDEX_ATTR, index)
        return self._open(index, trial)

    def resume(self, index: int) -> TrialPoint:
        """Return trial ``index``'s point again, as a new running Optuna trial.

        For a trial that runs again after a stop or a failure, so that its
        reports reach the pruner. A trial running in this search is returned
        as it is; an Optuna trial left running by a process that died is
        marked failed first.

        Raises:
            KeyError: ``index`` was never asked of this study.
        """
        if index in self._running:
            return self._point(index, self._running[index].params)
        frozen = self._frozen(index)
        if frozen.state == self._states.RUNNING:
            self._study.tell(frozen.number, state=self._states.FAIL)
        self._study.enqueue_trial(frozen.params, user_attrs={_INDEX_ATTR: index})
        return self._open(index, self._study.ask())

    def tell(self, index: int, value: float | None, state: str) -> None:
        """Record how trial ``index`` ended.

        Args:
            index: the trial, as asked.
            value: its objective (``spec.objective``'s summary of the metric);
                used for ``finished`` only.
            state: ``finished`` (complete, with ``value``; with no value or
                NaN it counts as failed), ``failed`` or ``killed`` (failed),
                or ``pruned``.

        A trial told before (an index run again without :meth:`resume`) is
        recorded as a new Optuna trial with the same parameters.

        Raises:
            ValueError: ``state`` is none of those.
            KeyError: ``index`` was never asked of this study.
        """
        outcome = self._outcome(index, value, state)
        trial = self._trial_to_tell(index)
        self._reported.pop(index, None)
        if outcome == self._states.COMPLETE:
            self._study.tell(trial, value)
        else:
            self._study.tell(trial, state=outcome)

    def report(self, index: int, step: int, value: float) -> bool:
        """Report trial ``index``'s metric at ``step``; return whether to prune it.

        Always False unless ``spec.prune``. A step reported before, a NaN or
        an infinite value, and a trial not running are ignored.
        """
        trial = self._running.get(index)
        if not self.spec.prune or trial is None or not math.isfinite(value):
            return False
        steps = self._reported.setdefault(index, set())
        # Optuna warns on a step reported twice; a runner rereads points.
        if step not in steps:
            steps.add(step)
            trial.report(value, step)
        return bool(trial.should_prune())

    def best(self) -> tuple[int, float] | None:
        """Return the index and objective of the best finished trial, or None."""
        complete = self._study.get_trials(
            deepcopy=False, states=(self._states.COMPLETE,)
        )
        scored = [
            (float(t.value), t.user_attrs[_INDEX_ATTR])
            for t in complete
            if t.value is not None and _INDEX_ATTR in t.user_attrs
        ]
        if not scored:
            return None
        pick = max if self._goal == "maximize" else min
        value, index = pick(scored, key=lambda pair: pair[0])
        return int(index), value

    def _open(self, index: int, trial: optuna.Trial) -> TrialPoint:
        self._running[index] = trial
        self._numbers[index] = trial.number
        suggested = {
            name: self._suggest(trial, name, parameter)
            for name, parameter in self.spec.parameters.items()
            if not isinstance(parameter, Fixed)
        }
        point = self._point(index, suggested)
        logger.debug("Asked Optuna for trial %d: %s.", index, point.params)
        return point

    def _point(self, index: int, suggested: dict[str, Any]) -> TrialPoint:
        """Build the point from Optuna's values, adding the fixed ones."""
        params = {}
        for name, parameter in self.spec.parameters.items():
            if isinstance(parameter, Fixed):
                params[name] = copy.deepcopy(parameter.value)
            elif isinstance(parameter, Choice) and _needs_json(parameter):
                params[name] = json.loads(suggested[name])
            else:
                params[name] = suggested[name]
        return TrialPoint(index, params, None)

    @staticmethod
    def _suggest(trial: optuna.Trial, name: str, parameter: Choice | Range) -> Any:
        if isinstance(parameter, Choice):
            return trial.suggest_categorical(name, _categories(parameter))
        if parameter.int:
            low, high = int(parameter.min), int(parameter.max)
            return trial.suggest_int(name, low, high, log=parameter.log)
        return trial.suggest_float(
            name, parameter.min, parameter.max, log=parameter.log
        )

    def _outcome(self, index: int, value: float | None, state: str) -> Any:
        if state == "finished" and (value is None or math.isnan(value)):
            # The runner has said why (the metric's name, or its value).
            logger.info(
                "Trial %d finished without a value of its objective; "
                "telling Optuna it failed.",
                index,
            )
            return self._states.FAIL
        outcomes = {
            "finished": self._states.COMPLETE,
            "failed": self._states.FAIL,
            "killed": self._states.FAIL,
            "pruned": self._states.PRUNED,
        }
        if state not in outcomes:
            raise ValueError(
                f"Trial {index} cannot end as '{state}'; "
                "use finished, failed, killed or pruned."
            )
        return outcomes[state]

    def _trial_to_tell(self, index: int) -> optuna.Trial | int:
        if index not in self._running:
            frozen = self._frozen(index)
            if frozen.state == self._states.RUNNING:
                # Asked by a process that stopped before telling: tell it now.
                return frozen.number
            self.resume(index)
        return self._running.pop(index)

    def _frozen(self, index: int) -> optuna.trial.FrozenTrial:
        if index not in self._numbers:
            raise KeyError(f"Trial {index} was never asked of this Optuna study.")
        number = self._numbers[index]
        trials = self._study.get_trials(deepcopy=False)
        return next(trial for trial in trials if trial.number == number)


def _import_optuna() -> Any:
    try:
        import optuna
    except ModuleNotFoundError as err:
        raise ModuleNotFoundError(
            "Sweeps with method optuna need Optuna; "
            "install it with: pip install 'runlab[optuna]'."
        ) from err
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def _storage(path: Path | None) -> Any:
    if path is None:
        return None
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    return JournalStorage(JournalFileBackend(str(path)))


def _latest_numbers(trials: list[optuna.trial.FrozenTrial]) -> dict[int, int]:
    """Map each runlab trial index to its latest Optuna trial number."""
    numbers: dict[int, int] = {}
    for trial in trials:
        index = trial.user_attrs.get(_INDEX_ATTR)
        if isinstance(index, int):
            numbers[index] = max(numbers.get(index, -1), trial.number)
    return numbers


def _categories(choice: Choice) -> list[Any]:
    # Optuna's categories are scalars; lists and mappings travel as JSON text.
    if _needs_json(choice):
        return [json.dumps(value) for value in choice.values]
    return list(choice.values)


def _needs_json(choice: Choice) -> bool:
    return not all(isinstance(value, _SCALARS) for value in choice.values)
