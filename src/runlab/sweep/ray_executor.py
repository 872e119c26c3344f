"""Trials as Ray tasks on an existing Ray cluster (``--executor ray``).

Each trial is one Ray task asking for ``cpus_per_trial`` CPUs and
``gpus_per_trial`` GPUs. The task runs the trial's ``runlab run`` command line
as a child process on whichever node Ray picks, waits for it and returns its
exit code; the wrapper records the run in the store as it does locally.

What a cluster needs (the executor cannot check it from the driver):

- runlab installed on every node, at the same path as on the machine that
  starts the sweep: the command line starts with that machine's Python
  (``sys.executable``), and Ray imports this module on the workers;
- the store, the sweep's folder and the working directory on a file system
  every node shares, at the same paths;
- the trial's environment is the Ray worker's (as its node started it) plus
  ``TrialLaunch.env``: the driver's own environment does not travel.

Stopping: ``terminate`` cancels the task without force. Ray raises
KeyboardInterrupt in the task, which sends SIGTERM to its wrapper, waits up to
``TASK_GRACE_S`` seconds, then SIGKILLs it, and returns the wrapper's code.
Ray does not retry a trial's task (``max_retries=0``): retries are the
runner's, each a new run.

Ray is an optional extra (``pip install runlab[ray]``) and is imported only
when the first trial is submitted.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import signal
import socket
import subprocess
import time
from typing import Any

from runlab.errors import ConfigError, RunlabError
from runlab.sweep.executor import Ended, TrialLaunch

__all__ = ["RayExecutor"]

logger = logging.getLogger(__name__)

HEAD_TIMEOUT_S = 5.0  # to reach the head's port before Ray is asked to join
TASK_GRACE_S = 10.0  # from SIGTERM to SIGKILL of a cancelled trial's wrapper
WAIT_STEP_S = 0.1  # how often the task wakes to let a cancellation in
# The code reported for a trial whose task Ray cancelled before it started or
# lost with its worker or node: the runner reads it as killed.
CANCELLED_CODE = -signal.SIGTERM
LOST_CODE = -signal.SIGKILL
SPAWN_FAILED_CODE = 127  # the command could not start, as a shell says


class RayExecutor:
    """Trials as Ray tasks on the cluster at ``address``, ``parallel`` at a time.

    Args:
        address: the Ray head's address (``HOST:PORT``, or ``auto``).
        parallel: how many trials may run (or wait for resources) at once.
        gpus_per_trial: GPUs each task asks Ray for; the trial's
            ``CUDA_VISIBLE_DEVICES`` holds the ids Ray gave it.
        cpus_per_trial: CPUs each task asks Ray for.

    ``submit`` returns no GPU ids: Ray chooses them when the task starts, on a
    node the driver does not know yet.
    """

    name = "ray"

    def __init__(
        self,
        address: str,
        parallel: int,
        gpus_per_trial: int = 0,
        cpus_per_trial: float = 1,
    ) -> None:
        self.address = address
        self.slots = max(1, parallel)
        self.gpus_per_trial = max(0, gpus_per_trial)
        self.cpus_per_trial = cpus_per_trial
        self._ray: Any = None
        self._task: Any = None
        self._pending: dict[int, Any] = {}  # trial index -> its task's ObjectRef

    def free_slots(self) -> int:
        return self.slots - len(self._pending)

    def submit(self, launch: TrialLaunch) -> list[str]:
        task = self._remote_task()
        args = (launch.argv, launch.cwd, launch.env, launch.output)
        self._pending[launch.index] = task.remote(*args, self.gpus_per_trial > 0)
        logger.debug("Submitted trial %d to Ray at %s.", launch.index, self.address)
        return []

    def poll(self, timeout: float) -> list[Ended]:
        if not self._pending:
            return []
        refs = list(self._pending.values())
        ready, _ = self._ray.wait(refs, num_returns=1, timeout=timeout)
        if ready:
            # Everything else that is done too, without waiting again.
            ready, _ = self._ray.wait(refs, num_returns=len(refs), timeout=0)
        done = set(ready)
        ended = [
            Ended(index, self._exit_code(index, ref))
            for index, ref in self._pending.items()
            if ref in done
        ]
        for item in ended:
            del self._pending[item.trial]
        return ended

    def terminate(self, index: int) -> None:
        ref = self._pending.get(index)
        if ref is not None:
            self._ray.cancel(ref, force=False)

    def stop_all(self, grace: float) -> list[Ended]:
        for index in list(self._pending):
            self.terminate(index)
        ended = self.poll(0)
        deadline = time.monotonic() + grace
        while self._pending and time.monotonic() < deadline:
            ended += self.poll(min(0.2, max(0.0, deadline - time.monotonic())))
        for index, ref in self._pending.items():
            # Killing the worker reaches the wrapper as SIGTERM (its
            # parent-death signal); the wrapper still marks its run killed.
            logger.warning(
                "Trial %d did not stop in %.0f s; killing its Ray worker.", index, grace
            )
            self._ray.cancel(ref, force=True)
        deadline = time.monotonic() + 5.0
        while self._pending and time.monotonic() < deadline:
            ended += self.poll(0.2)
        return ended

    # Ray --------------------------------------------------------------------

    def _remote_task(self) -> Any:
        """Connect on first use and return the trial task with its resources."""
        if self._task is None:
            self._ray = _connect(self.address)
            self._task = self._ray.remote(
                num_cpus=self.cpus_per_trial,
                num_gpus=self.gpus_per_trial,
                max_retries=0,
            )(run_trial_task)
        return self._task

    def _exit_code(self, index: int, ref: Any) -> int:
        """The wrapper's exit code, or a stand-in when Ray lost or refused the task."""
        exceptions = self._ray.exceptions
        try:
            return int(self._ray.get(ref))
        except exceptions.TaskCancelledError:
            return CANCELLED_CODE
        except exceptions.RayTaskError as error:
            logger.warning("Trial %d failed in its Ray task: %s", index, error)
            return 1
        except exceptions.RayError as error:
            logger.warning("Ray lost trial %d (%s); counting it killed.", index, error)
            return LOST_CODE


def check_cluster(address: str) -> None:
    """Ray can be imported and something listens at ``address`` (cheap checks).

    Raises:
        ConfigError: Ray is not installed.
        RunlabError: nothing answers at a ``HOST:PORT`` address.
    """
    if importlib.util.find_spec("ray") is None:
        raise ConfigError(
            "--executor ray needs Ray, which is not installed; "
            "install it with: pip install 'runlab[ray]'"
        )
    _check_head_answers(address)


def _connect(address: str) -> Any:
    """Import Ray and join the cluster at ``address``; return the ray module."""
    check_cluster(address)
    import ray

    try:
        ray.init(
            address=address,
            ignore_reinit_error=True,
            log_to_driver=False,
            logging_level=logging.WARNING,
        )
    except (ConnectionError, RuntimeError, ValueError) as error:
        raise RunlabError(
            f"Cannot join the Ray cluster at {address}: {error}. "
            "Start it with `ray start --head` or check --address."
        ) from error
    return ray


def _check_head_answers(address: str) -> None:
    """Fail fast on a ``HOST:PORT`` where nothing listens.

    Ray itself retries such an address for minutes before it gives up.
    Other forms (``auto``, ``ray://...``) are left to Ray.
    """
    host, _, port = address.rpartition(":")
    if not host or "/" in address or not port.isdigit():
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), HEAD_TIMEOUT_S).close()
    except OSError as error:
        raise RunlabError(
            f"No Ray head answers at {address} ({error}). Start one with "
            f"`ray start --head --port {port}` there, or check --address."
        ) from error


# The task, run on a Ray worker ----------------------------------------------


def run_trial_task(
    argv: list[str],
    cwd: str,
    env: dict[str, str],
    output: str | None,
    wants_gpus: bool,
) -> int:
    """Run one trial's wrapper on this worker and return its exit code.

    A cancellation (KeyboardInterrupt or Ray's TaskCancelledError) stops the
    wrapper: SIGTERM, up to ``TASK_GRACE_S`` seconds, then SIGKILL.
    """
    import ray

    full_env = dict(os.environ, **env)
    if wants_gpus:
        full_env["CUDA_VISIBLE_DEVICES"] = ",".join(map(str, ray.get_gpu_ids()))
    child = None
    try:
        child = _start_child(argv, cwd, full_env, output)
        return _wait_child(child)
    except OSError as error:
        _note_failure(output, f"runlab: cannot start {argv[0]!r} in {cwd}: {error}")
        return SPAWN_FAILED_CODE
    except (KeyboardInterrupt, ray.exceptions.TaskCancelledError):
        return CANCELLED_CODE if child is None else _stop_child(child)


def _start_child(
    argv: list[str], cwd: str, env: dict[str, str], output: str | None
) -> subprocess.Popen[bytes]:
    from runlab.launch import die_with_parent

    sink = open(output, "ab") if output else subprocess.DEVNULL  # noqa: SIM115
    try:
        # A session of its own: signals meant for the Ray worker stay there;
        # the parent-death signal stops the wrapper if the worker is killed.
        return subprocess.Popen(
            argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=sink,
            stderr=subprocess.STDOUT, start_new_session=True,
            preexec_fn=die_with_parent(),
        )  # fmt: skip
    finally:
        if sink is not subprocess.DEVNULL:
            sink.close()  # type: ignore[union-attr]


def _wait_child(child: subprocess.Popen[bytes]) -> int:
    # Short waits: Ray's cancellation arrives between bytecodes, and a long
    # blocking wait would hold it back until the trial ended by itself.
    while True:
        try:
            return child.wait(timeout=WAIT_STEP_S)
        except subprocess.TimeoutExpired:
            continue


def _stop_child(child: subprocess.Popen[bytes]) -> int:
    if child.poll() is None:
        child.send_signal(signal.SIGTERM)
    try:
        return child.wait(timeout=TASK_GRACE_S)
    except (subprocess.TimeoutExpired, KeyboardInterrupt):
        # A second cancellation skips the rest of the grace period.
        child.kill()
        return child.wait()


def _note_failure(output: str | None, message: str) -> None:
    if output is None:
        return
    # An output file that cannot be written is why the start failed, at times.
    with contextlib.suppress(OSError), open(output, "a", encoding="utf-8") as sink:
        sink.write(message + "\n")
