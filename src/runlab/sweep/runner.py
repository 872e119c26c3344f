"""Run a sweep: start trials on an executor, follow them, keep the state.

One loop does everything, so the state has one writer: it starts trials while
slots are free, collects the ones that ended, decides their state (retrying
failures), feeds Optuna, and saves ``state.json`` after each change. Ctrl-C
(or SIGTERM) stops the trials in order and leaves a state that
``runlab sweep resume`` continues.
"""

from __future__ import annotations

import difflib
import logging
import math
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from runlab.config import dump_config, load_config
from runlab.store import layout
from runlab.store.series import read_series
from runlab.store.store import Store
from runlab.sweep.executor import Ended, Executor, TrialLaunch
from runlab.sweep.plan import flag_args, trial_config
from runlab.sweep.spec import SweepSpec
from runlab.sweep.state import DONE_STATES, SweepState, TrialState

__all__ = ["SweepInterrupted", "SweepRunner"]

logger = logging.getLogger(__name__)

GRACE_S = 10.0
POLL_S = 0.2
# Exit codes of a wrapper whose run was stopped by a signal (128 + SIGTERM/SIGINT).
KILLED_CODES = frozenset([-signal.SIGTERM, -signal.SIGINT, -signal.SIGKILL, 130, 143])


class SweepInterrupted(Exception):
    """The sweep was stopped by Ctrl-C or SIGTERM; its state is saved."""


@dataclass
class _Running:
    trial: TrialState
    id_file: Path
    pruning: bool = False
    noted: bool = False  # this attempt's run id is in trial.run_ids
    reported: dict[str, int] = field(default_factory=dict)


class SweepRunner:
    """Runs the not-yet-done trials of ``state`` on ``executor``.

    Args:
        search: an Optuna search for ``method: optuna``; it proposes trials
            until ``spec.trials`` exist.
        progress: called after every change with the state, to draw a bar.
    """

    def __init__(
        self,
        store: Store,
        spec: SweepSpec,
        state: SweepState,
        executor: Executor,
        *,
        retries: int = 0,
        search: Any = None,
        progress: Callable[[SweepState], None] | None = None,
    ) -> None:
        self.store = store
        self.spec = spec
        self.state = state
        self.executor = executor
        self.retries = retries
        self.search = search
        self.progress = progress or (lambda _state: None)
        self.base = load_config(spec.config) if spec.config else {}
        self._running: dict[int, _Running] = {}
        self._requests: list[int] = []
        self._queue = [t for t in state.trials if t.state not in DONE_STATES]

    def run(self) -> SweepState:
        """Run until every trial is done; raise SweepInterrupted on a signal."""
        with _stop_requests() as requests:
            self._requests = requests
            try:
                self._loop()
            except (KeyboardInterrupt, _StopRequested):
                self._stop()
                raise SweepInterrupted(self.state.id) from None
        return self.state

    # The loop ---------------------------------------------------------------

    def _loop(self) -> None:
        self.progress(self.state)
        while True:
            if self._requests:
                raise _StopRequested
            while self.executor.free_slots() > 0 and self._has_next():
                self._start(self._next_trial())
            if not self._running:
                return
            for ended in self.executor.poll(POLL_S):
                self._collect(ended)
            self._note_new_runs()
            if self.search is not None and self.spec.prune:
                self._feed_pruner()

    def _has_next(self) -> bool:
        if self._queue:
            return True
        wanted = self.spec.trials or 0
        return self.search is not None and len(self.state.trials) < wanted

    def _next_trial(self) -> TrialState:
        if self._queue:
            trial = self._queue.pop(0)
            if self.search is not None:
                # A resumed or retried point is a new Optuna trial, so that
                # its points reach the pruner.
                self.search.resume(trial.index)
            return trial
        point = self.search.ask()
        trial = TrialState(index=point.index, params=point.params, seed=point.seed)
        self.state.trials.append(trial)
        return trial

    def _start(self, trial: TrialState) -> None:
        config_path = self.state.trial_config_path(trial.index)
        config = trial_config(self.base, trial.params, trial.seed, self.spec.seeds_key)
        dump_config(config, config_path)
        id_file = self.state.folder / "trials" / f"{trial.index}.id"
        id_file.unlink(missing_ok=True)
        launch = TrialLaunch(
            index=trial.index,
            argv=self._argv(trial, config_path, id_file),
            cwd=self.state.cwd or str(Path.cwd()),
            gpus=self.spec.gpus_per_trial,
            output=str(self.state.folder / "trials" / f"{trial.index}.out"),
        )
        trial.gpus = self.executor.submit(launch)
        trial.state, trial.attempts = "running", trial.attempts + 1
        trial.started, trial.ended, trial.exit_code = time.time(), None, None
        self._running[trial.index] = _Running(trial, id_file)
        self._changed()

    def _argv(self, trial: TrialState, config_path: Path, id_file: Path) -> list[str]:
        name = f"{self.state.name or self.state.id}-{trial.index}"
        argv = [
            sys.executable, "-m", "runlab", "run", "--store", str(self.store.path),
            "-c", str(config_path), "--name", name, "--sweep", self.state.id,
            "--trial", str(trial.index), "--id-file", str(id_file), "--",
            *self.spec.command,
        ]  # fmt: skip
        if self.spec.args == "flags":
            argv += flag_args(trial.params, trial.seed, self.spec.seeds_key)
        return argv

    def _collect(self, ended: Ended) -> None:
        running = self._running.pop(ended.trial)
        trial = running.trial
        trial.exit_code, trial.ended = ended.exit_code, time.time()
        self._note_run_id(running)
        trial.state = self._outcome(running, ended.exit_code)
        if trial.state == "failed" and trial.attempts <= self.retries:
            logger.info("Trial %d failed; retrying it.", trial.index)
            trial.state = "pending"
            self._queue.insert(0, trial)
        elif self.search is not None:
            if self.spec.prune and trial.state == "finished":
                # Points flushed after the last look: the pruner compares later
                # trials with this one's whole curve.
                self._feed(running)
            trial.objective = self._objective(trial)
            self.search.tell(trial.index, trial.objective, trial.state)
        elif self.spec.objective is not None:
            trial.objective = self._objective(trial)
        self._changed()

    def _outcome(self, running: _Running, code: int) -> str:
        if running.pruning:
            return "pruned"
        if code == 0:
            return "finished"
        return "killed" if code in KILLED_CODES else "failed"

    def _note_new_runs(self) -> None:
        """Record the run of each trial that made one since the last look."""
        fresh = [r for r in self._running.values() if not r.noted]
        for running in fresh:
            self._note_run_id(running)
        if any(r.noted for r in fresh):
            self._changed()

    def _note_run_id(self, running: _Running) -> None:
        try:
            run_id = running.id_file.read_text(encoding="utf-8").strip()
        except OSError:
            return  # the wrapper stopped before making its run
        if run_id and not running.noted:
            running.trial.run_ids.append(run_id)
            running.noted = True

    def _objective(self, trial: TrialState) -> float | None:
        goal = self.spec.objective
        if goal is None or trial.run_id is None or trial.state != "finished":
            return None
        try:
            summaries = self.store.load_run(trial.run_id).summary
        except (KeyError, OSError):
            return None
        value = (summaries.get(goal.metric) or {}).get(goal.summary)
        if isinstance(value, (int, float)) and not math.isnan(value):
            return float(value)
        if goal.metric not in summaries:
            logged = sorted(summaries)
            close = difflib.get_close_matches(goal.metric, logged, n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            logger.warning(
                "Trial %d (run %s) logged no metric '%s', the sweep's objective; "
                "%sit logged %s. Correct objective.metric in %s.",
                trial.index, trial.run_id, goal.metric, hint,
                ", ".join(logged[:10]) or "no metrics", self.spec.path,
            )  # fmt: skip
        else:
            logger.warning(
                "Trial %d (run %s) has no usable %s of '%s' (%s).",
                trial.index, trial.run_id, goal.summary, goal.metric, value,
            )  # fmt: skip
        return None

    def _changed(self) -> None:
        self.state.save()
        self.progress(self.state)

    # Pruning ----------------------------------------------------------------

    def _feed_pruner(self) -> None:
        for running in self._running.values():
            if not running.pruning:
                self._feed(running)

    def _feed(self, running: _Running) -> None:
        """Report the trial's new points of the objective to the pruner."""
        goal = self.spec.objective
        assert goal is not None
        self._note_run_id(running)
        run_id = running.trial.run_id
        if not running.noted or run_id is None:
            return
        metrics = self.store.run_dir(run_id) / layout.METRICS_DIR
        try:
            series = read_series(metrics, goal.metric).superseded()
        except (KeyError, OSError, ValueError):
            return
        self._report(running, series.steps.tolist(), series.values.tolist())

    def _report(self, running: _Running, steps: list[int], values: list[float]) -> None:
        last = running.reported.get("step", -(2**63))
        for step, value in zip(steps, values, strict=True):
            if step <= last:
                continue
            running.reported["step"] = step
            if self.search.report(running.trial.index, step, value):
                logger.info("Pruning trial %d at step %d.", running.trial.index, step)
                running.pruning = True
                self.executor.terminate(running.trial.index)
                return

    # Stopping ---------------------------------------------------------------

    def _stop(self) -> None:
        """Stop the running trials: SIGTERM, then SIGKILL after the grace time."""
        logger.warning("Stopping %d running trials.", len(self._running))
        try:
            ended = self.executor.stop_all(GRACE_S)
        except KeyboardInterrupt:
            # A second Ctrl-C: no more waiting.
            ended = self.executor.stop_all(0.0)
        for item in ended:
            if item.trial in self._running:
                self._collect(item)
        for running in self._running.values():
            running.trial.state = "killed"
        self._running.clear()
        self._changed()


class _StopRequested(Exception):
    """Ctrl-C or SIGTERM arrived; the loop noticed it between two steps."""


@contextmanager
def _stop_requests() -> Iterator[list[int]]:
    """Note Ctrl-C and SIGTERM instead of raising wherever the code happens to be.

    The loop looks at the list between steps, so a signal never cuts a trial's
    start or a state save in two. A second signal, while the trials are being
    stopped, raises KeyboardInterrupt: no more waiting.
    """
    requests: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield requests  # signal handlers belong to the main thread
        return

    def note(signum: int, frame: FrameType | None) -> None:
        requests.append(signum)
        if len(requests) > 1:
            raise KeyboardInterrupt

    caught = (signal.SIGINT, signal.SIGTERM)
    previous = {s: signal.signal(s, note) for s in caught}
    try:
        yield requests
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
