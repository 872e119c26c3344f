"""``runlab run``: wrap any command as a tracked run.

The wrapper owns the run (see :mod:`runlab.owner`): it creates the folder,
captures git and the environment, tees the child's stdout and stderr into
``log.txt``, samples system use as ``sys/...`` metrics, keeps the heartbeat and
records the exit code. The child finds the run through ``RUNLAB_RUN_DIR``; a
Python child also gets a start-up hook (``runlab/_hook/sitecustomize.py``) that
records the flags its argparse parser read into the run's config.

Exit status: 0 is ``finished``; death by a signal, or a SIGINT/SIGTERM sent to
the wrapper, is ``killed``; any other code is ``failed``. The wrapper exits
with the child's code (128 + signal number when it died of a signal).
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import Any, BinaryIO, cast

from runlab._env import seconds_from_env
from runlab.owner import RunOwner
from runlab.store import layout
from runlab.store.buffer import MetricBuffer
from runlab.store.store import Store

__all__ = ["HOOK_DIR", "die_with_parent", "launch"]

logger = logging.getLogger(__name__)

HOOK_DIR = Path(__file__).parent / "_hook"


def launch(
    store: Store,
    command: Sequence[str],
    *,
    config: dict[str, Any],
    name: str | None = None,
    tags: Sequence[str] = (),
    notes: str | None = None,
    system_metrics: bool = True,
    extra: dict[str, Any] | None = None,
    on_created: Callable[[str], None] | None = None,
    cwd: str | os.PathLike[str] | None = None,
) -> tuple[str, int]:
    """Run ``command`` as a new tracked run; return the run id and exit code.

    The config must already be resolved (file plus overrides): a bad config is
    reported before anything is written to the store. SIGTERM and SIGINT are
    held from before the run folder exists until its final status is written,
    so a signal never leaves a run marked ``running`` (see :class:`_Signals`).
    ``on_created`` is called with the run id once its folder exists. ``cwd``
    is the folder the command runs in, and git is captured from (default:
    this process's); run.json records it.
    """
    if cwd is not None:
        extra = {**(extra or {}), "cwd": os.fspath(cwd)}
    with _Signals() as signals:
        owner = RunOwner.create(
            store, config=config, name=name, tags=tags, notes=notes,
            command=list(command), extra=extra,
        )  # fmt: skip
        if on_created is not None:
            on_created(owner.run_id)
        with open(owner.path / layout.LOG_FILE, "ab", buffering=0) as log_file:
            # The child starts before any thread of ours exists, so that the
            # hook that ties its life to ours runs in a single-threaded fork.
            child, failure = _spawn(owner.path, command, signals, log_file, cwd)
            owner.start_capture(cwd)
            owner.start_heartbeat()
            sampler = _start_sampler(owner.path) if system_metrics else None
            outcome = _supervise(child, signals, log_file) if child else failure
            if sampler is not None:
                sampler[0].stop()
                sampler[1].close()
        code, status, error = outcome
        owner.finish(status, exit_code=code, error=error)
    return owner.run_id, code


class _Signals:
    """Catches SIGTERM, SIGINT and SIGHUP for the wrapper's life, passes them on.

    A signal is sent on to the child while it runs; one that comes before the
    child starts keeps it from starting. Ctrl-C at a terminal reaches every
    process of the foreground group, the child included, so when the wrapper
    is in that group SIGINT is not sent again: a second KeyboardInterrupt
    would hit the child while it cleans up. (A SIGINT sent to the wrapper alone
    by ``kill`` is then only recorded.) A third signal kills the child with
    SIGKILL, for a child that ignores the first two.
    """

    _CAUGHT = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
    ESCALATE_AFTER = 3

    def __init__(self) -> None:
        self.received: list[int] = []
        self.child: subprocess.Popen[bytes] | None = None
        self._previous: dict[int, Any] = {}
        self._terminal_sends_sigint = _is_terminal_foreground()

    def __enter__(self) -> _Signals:
        # A SIGHUP ignored (nohup) stays ignored: the run outlives the terminal.
        caught = [
            s
            for s in self._CAUGHT
            if s != signal.SIGHUP or signal.getsignal(s) != signal.SIG_IGN
        ]
        self._previous = {s: signal.signal(s, self._on_signal) for s in caught}
        return self

    def __exit__(self, *exc_info: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    def adopt(self, child: subprocess.Popen[bytes]) -> None:
        """Forward to ``child`` from now on, and what came while it started."""
        self.child = child
        for signum in self.received:
            self._forward(signum)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.received.append(signum)
        child = self.child
        if len(self.received) >= self.ESCALATE_AFTER and child and child.poll() is None:
            # The child ignored the signals so far: stop it for good.
            child.kill()
            return
        self._forward(signum)

    def _forward(self, signum: int) -> None:
        child = self.child
        if child is None or child.poll() is not None:
            return
        if signum == signal.SIGINT and self._terminal_sends_sigint:
            return
        child.send_signal(signum)


def _is_terminal_foreground() -> bool:
    """Tell whether this process is in its terminal's foreground process group."""
    try:
        fd = os.open("/dev/tty", os.O_RDONLY | os.O_NOCTTY)
    except OSError:
        return False
    try:
        return os.tcgetpgrp(fd) == os.getpgrp()
    except OSError:
        return False
    finally:
        os.close(fd)


Outcome = tuple[int, str, str | None]


def _spawn(
    run_dir: Path,
    command: Sequence[str],
    signals: _Signals,
    log_file: BinaryIO,
    cwd: str | os.PathLike[str] | None = None,
) -> tuple[subprocess.Popen[bytes] | None, Outcome]:
    """Start the child; on failure return None and the outcome to record."""
    if signals.received:
        name = signal.Signals(signals.received[0]).name
        return None, (128 + signals.received[0], "killed", f"{name} before the start")
    try:
        child = subprocess.Popen(
            list(command), env=_child_env(run_dir), stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, preexec_fn=die_with_parent(), cwd=cwd,
        )  # fmt: skip
    except OSError as err:
        return None, (127, "failed", _report_no_start(command, err, log_file))
    signals.adopt(child)
    return child, (0, "running", None)


def die_with_parent() -> Callable[[], None] | None:
    """A pre-exec hook asking Linux to send the child SIGTERM if we die.

    Without it a ``kill -9`` of the wrapper leaves the training running,
    untracked. Elsewhere (no prctl) the child outlives the wrapper.
    """
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def hook() -> None:
        prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # the parent died before the line above
            os._exit(1)

    return hook


def _supervise(
    child: subprocess.Popen[bytes], signals: _Signals, log_file: BinaryIO
) -> Outcome:
    """Tee the child's output into the log until it ends; return its outcome."""
    from runlab.capture.output import LineSink, StreamPump

    assert child.stdout is not None and child.stderr is not None
    lock = threading.Lock()
    logs = [LineSink(log_file, lock), LineSink(log_file, lock)]
    pumps = [
        StreamPump(cast(BinaryIO, child.stdout), [sys.stdout.buffer, logs[0]]),
        StreamPump(cast(BinaryIO, child.stderr), [sys.stderr.buffer, logs[1]]),
    ]
    for pump in pumps:
        pump.start()
    _wait_responsively(child)
    for pump in pumps:
        pump.join()
    for sink in logs:
        sink.close()
    child.stdout.close()
    child.stderr.close()
    return _outcome(child.returncode, signals.received[0] if signals.received else None)


def _wait_responsively(child: subprocess.Popen[bytes]) -> None:
    """Wait for the child while staying able to run signal handlers.

    The kernel may hand SIGTERM or SIGINT to any thread of the wrapper (the
    heartbeat, the output pumps); a main thread blocked in ``waitpid`` would
    then not see it until the child ends. Short waits let Python run the
    handler, and so pass the signal on, within a fraction of a second.
    """
    while True:
        try:
            child.wait(timeout=0.25)
            return
        except subprocess.TimeoutExpired:
            continue


def _report_no_start(command: Sequence[str], err: OSError, log_file: BinaryIO) -> str:
    # Said where the child's own error would have been: terminal and log.
    message = f"Cannot start {command[0]!r}: {err.strerror or err}."
    for sink in (log_file, sys.stderr.buffer):
        sink.write((message + "\n").encode())
        sink.flush()
    return message


def _outcome(code: int, signalled: int | None) -> tuple[int, str, str | None]:
    if code < 0:
        name = signal.Signals(-code).name
        return 128 - code, "killed", f"killed by {name}"
    if signalled is not None:
        return code, "killed", f"stopped after {signal.Signals(signalled).name}"
    if code == 0:
        return 0, "finished", None
    return code, "failed", f"exit code {code}"


def _child_env(run_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["RUNLAB_RUN_DIR"] = str(run_dir)
    env["RUNLAB_DIR"] = str(run_dir.parent)
    # The child's output goes through a pipe; unbuffered keeps stdout and
    # stderr in the order the terminal would have shown them.
    env.setdefault("PYTHONUNBUFFERED", "1")
    paths = [str(HOOK_DIR), *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
    env["PYTHONPATH"] = os.pathsep.join(paths)
    return env


def _start_sampler(run_dir: Path) -> tuple[Any, MetricBuffer]:
    from runlab.capture.system import SystemSampler

    buffer = MetricBuffer(run_dir / layout.METRICS_DIR, owner="sys", label=run_dir.name)
    counter = iter(range(2**62))

    def put(values: dict[str, float]) -> None:
        buffer.put(next(counter), time.time(), values)

    interval = seconds_from_env("RUNLAB_SYSTEM_INTERVAL_S", 5.0, minimum=0.5)
    sampler = SystemSampler(put, interval=interval)
    sampler.start()
    return sampler, buffer
