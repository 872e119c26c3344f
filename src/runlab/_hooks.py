"""The process hooks of a run that owns its process: exit, exceptions, SIGTERM."""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from types import FrameType, TracebackType
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from runlab.run import Run

__all__ = ["ProcessHooks", "die_of", "holding_sigint"]

# Seconds within which a second SIGINT is taken for a copy of the first.
DUPLICATE_S = 0.5


class ProcessHooks:
    """Marks the run at interpreter exit, on uncaught exceptions and on SIGTERM."""

    def __init__(self, run: Run) -> None:
        self.run = run
        self._old_excepthook = sys.excepthook
        self._old_sigterm: Any = None
        self._old_sighup: Any = None
        self._old_exit = sys.exit
        # The signal to die of once the run has closed (None: none came).
        self.die_after_close: int | None = None
        # Only the process that started the run ends it: a forked child (a
        # data-loader worker, say) exits through the same hooks.
        self._pid = os.getpid()
        # The interpreter is ending (at exit, or an uncaught exception).
        self.exiting = False
        sys.excepthook = self._excepthook
        # sys.exit(3), and argparse's exit on a bad flag, never reach the
        # excepthook; note their code on the way out.
        sys.exit = self._exit
        atexit.register(self._at_exit)
        self._old_sigint: Any = None
        self._last_sigint: float | None = None
        if threading.current_thread() is threading.main_thread():
            self._old_sigterm = signal.signal(signal.SIGTERM, self._on_sigterm)
            self._old_sigint = signal.signal(signal.SIGINT, self._on_sigint)
            # A closed terminal or a dropped ssh session; left alone when the
            # script runs under nohup (SIG_IGN) or handles it itself.
            if signal.getsignal(signal.SIGHUP) == signal.SIG_DFL:
                self._old_sighup = signal.signal(signal.SIGHUP, self._on_sigterm)

    def remove(self) -> None:
        if sys.excepthook == self._excepthook:
            sys.excepthook = self._old_excepthook
        if sys.exit == self._exit:
            sys.exit = self._old_exit
        atexit.unregister(self._at_exit)
        if (
            self._old_sigterm is not None
            and threading.current_thread() is threading.main_thread()
        ):
            signal.signal(signal.SIGTERM, self._old_sigterm)
            self._old_sigterm = None
            if self._old_sighup is not None:
                signal.signal(signal.SIGHUP, self._old_sighup)
                self._old_sighup = None
            if signal.getsignal(signal.SIGINT) == self._on_sigint:
                signal.signal(signal.SIGINT, self._old_sigint)

    def _excepthook(
        self, kind: type[BaseException], error: BaseException, tb: TracebackType | None
    ) -> None:
        if os.getpid() != self._pid:
            self._old_excepthook(kind, error, tb)
            return
        self.exiting = True
        with holding_sigint(replay=False):
            self.run._fail(kind, error, tb)
        self._old_excepthook(kind, error, _cut_own_frame(tb))

    def _exit(self, status: object = None) -> NoReturn:
        if os.getpid() == self._pid:
            self.run._note_exit(status)
        self._old_exit(status)  # type: ignore[arg-type]
        raise AssertionError("sys.exit returned")  # pragma: no cover

    def _at_exit(self) -> None:
        if os.getpid() != self._pid:
            return
        self.exiting = True
        if self.run._exit_code is None and self.run._status is None:
            self.run._exit_code = 0
        self.run.finish()

    def _on_sigint(self, signum: int, frame: FrameType | None) -> None:
        # Without a terminal, a SIGINT sent to the whole process group reaches
        # the script twice: directly, and passed on by `runlab run`. The copy
        # must not interrupt the handling of the first (its traceback, the
        # run's last points), so a second one that soon after is dropped.
        now = time.monotonic()
        if self._last_sigint is not None and now - self._last_sigint < DUPLICATE_S:
            return
        self._last_sigint = now
        old = self._old_sigint
        if callable(old):
            old(signum, frame)
        elif old != signal.SIG_IGN:
            signal.default_int_handler(signum, frame)

    def _on_sigterm(self, signum: int, frame: FrameType | None) -> None:
        """SIGTERM, or SIGHUP: mark the run killed, close it, die of the signal."""
        if os.getpid() != self._pid:
            die_of(signum)  # a forked child: not its run to close
        if self.run.is_finished:
            # The run is closing on this very thread (at exit, say): dying now
            # would cut its last points off, so die once it has closed.
            self.die_after_close = signum
            return
        self.run._status = "killed"
        self.run._error = signal.Signals(signum).name
        if signum == signal.SIGTERM and callable(self._old_sigterm):
            # The script (or a library) set its own handler before runlab
            # started, to save a checkpoint say: it runs, and decides whether
            # the process ends. The run is marked killed whenever it closes.
            self._old_sigterm(signum, frame)
            return
        self.run.finish()
        die_of(signum)


def die_of(signum: int) -> None:
    """End the process by ``signum``, so that its parent sees what happened."""
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


@contextlib.contextmanager
def holding_sigint(replay: bool = True) -> Iterator[None]:
    """Let no SIGINT interrupt the block: a run's last points and status.

    A Ctrl-C often arrives twice (from the terminal, and passed on by a
    wrapper); the second must not cut the flush of the first's run short. A
    SIGINT that came inside is raised once the block is done with ``replay``;
    without, as when the process is ending anyway, it is dropped.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    try:
        old = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    except (ValueError, OSError):  # no signals here (an embedded interpreter)
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)
    if caught and replay and callable(old):
        old(signal.SIGINT, None)


def _cut_own_frame(tb: TracebackType | None) -> TracebackType | None:
    """End a KeyboardInterrupt's traceback where the script was, not in our handler."""
    own = ProcessHooks._on_sigint.__code__
    previous, current = None, tb
    while current is not None:
        if current.tb_frame.f_code is own and previous is not None:
            previous.tb_next = None
            break
        previous, current = current, current.tb_next
    return tb
