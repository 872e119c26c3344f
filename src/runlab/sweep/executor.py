"""Where trials run: the executor contract, and the local executor.

An executor starts trial commands and says when they end. The runner owns
the sweep's state; an executor knows only trial indexes and processes. A trial
is always a ``runlab run`` wrapper around the user's command, so the wrapper
records the run, its log and its status wherever the trial runs.

Contract (every executor):

- ``free_slots()``: how many more trials may start now.
- ``submit(launch)``: start one trial; return the GPU ids it was given.
- ``poll(timeout)``: wait up to ``timeout`` seconds; return the trials that
  ended since the last call, with their exit codes.
- ``terminate(index)``: ask one trial to stop (SIGTERM to its wrapper, which
  passes it on and records the run as killed).
- ``stop_all(grace)``: terminate every trial, wait up to ``grace`` seconds,
  then kill what is left; return what ended.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import IO, NamedTuple, Protocol

from runlab.launch import die_with_parent

__all__ = ["Ended", "Executor", "LocalExecutor", "TrialLaunch"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrialLaunch:
    """One trial to start: its command line and where its messages go."""

    index: int
    argv: list[str]
    cwd: str
    env: dict[str, str] = field(default_factory=dict)
    gpus: int = 0
    output: str | None = None  # a file for the wrapper's own stdout and stderr


class Ended(NamedTuple):
    """A trial that ended, by its index in the sweep."""

    trial: int
    exit_code: int


class Executor(Protocol):
    name: str

    def free_slots(self) -> int: ...

    def submit(self, launch: TrialLaunch) -> list[str]: ...

    def poll(self, timeout: float) -> list[Ended]: ...

    def terminate(self, index: int) -> None: ...

    def stop_all(self, grace: float) -> list[Ended]: ...


class LocalExecutor:
    """Trials as child processes of this machine, ``parallel`` at a time.

    With ``gpus``, each slot owns ``gpus_per_trial`` of the ids and a trial
    sees exactly its slot's ids in ``CUDA_VISIBLE_DEVICES``; the number of
    slots is then at most ``len(gpus) // gpus_per_trial``.
    """

    name = "local"

    def __init__(
        self, parallel: int, gpus: Sequence[str] = (), gpus_per_trial: int = 1
    ) -> None:
        self._free_gpus = list(gpus)
        self._gpus_per_trial = max(1, gpus_per_trial)
        limit = len(self._free_gpus) // self._gpus_per_trial if gpus else parallel
        self.slots = max(1, min(parallel, limit) if gpus else parallel)
        self._running: dict[int, tuple[subprocess.Popen[bytes], list[str]]] = {}

    def free_slots(self) -> int:
        return self.slots - len(self._running)

    def submit(self, launch: TrialLaunch) -> list[str]:
        env = dict(os.environ, **launch.env)
        given: list[str] = []
        if self._free_gpus:
            given = self._free_gpus[: self._gpus_per_trial]
            del self._free_gpus[: self._gpus_per_trial]
            env["CUDA_VISIBLE_DEVICES"] = ",".join(given)
        output = _open_output(launch.output)
        try:
            # A session of its own: Ctrl-C at the terminal reaches the sweep,
            # which then stops the trials in order, not every process at once.
            child = subprocess.Popen(
                launch.argv, cwd=launch.cwd, env=env, stdin=subprocess.DEVNULL,
                stdout=output, stderr=subprocess.STDOUT, start_new_session=True,
                preexec_fn=die_with_parent(),
            )  # fmt: skip
        finally:
            if output is not subprocess.DEVNULL:
                output.close()  # type: ignore[union-attr]
        self._running[launch.index] = (child, given)
        return given

    def poll(self, timeout: float) -> list[Ended]:
        deadline = time.monotonic() + timeout
        while True:
            ended = self._reap()
            if ended or time.monotonic() >= deadline or not self._running:
                return ended
            time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))

    def terminate(self, index: int) -> None:
        entry = self._running.get(index)
        if entry is not None and entry[0].poll() is None:
            entry[0].send_signal(signal.SIGTERM)

    def stop_all(self, grace: float) -> list[Ended]:
        for index in list(self._running):
            self.terminate(index)
        ended = self.poll(0)
        deadline = time.monotonic() + grace
        while self._running and time.monotonic() < deadline:
            ended += self.poll(0.1)
        for child, _gpus in self._running.values():
            logger.warning(
                "Trial process %d did not stop in %.0f s; killing it.", child.pid, grace
            )
            child.kill()
        return ended + self.poll(5.0)

    def _reap(self) -> list[Ended]:
        ended = []
        for index, (child, gpus) in list(self._running.items()):
            code = child.poll()
            if code is not None:
                del self._running[index]
                self._free_gpus.extend(gpus)
                ended.append(Ended(index, code))
        return ended


def _open_output(path: str | None) -> IO[bytes] | int:
    if path is None:
        return subprocess.DEVNULL
    return open(path, "ab")
