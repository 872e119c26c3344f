"""The process hooks of a run that owns its process: exit, exceptions, SIGTERM."""

from __future__ import annotations

import atexit
import os
import signal
import sys
import threading
from types import FrameType, TracebackType
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from runlab.run import Run

__all__ = ["ProcessHooks", "die_of_sigterm"]


class ProcessHooks:
    """Marks the run at interpreter exit, on uncaught exceptions and on SIGTERM."""

    def __init__(self, run: Run) -> None:
        self.run = run
        self._old_excepthook = sys.excepthook
        self._old_sigterm: Any = None
        self._old_exit = sys.exit
        self.die_after_close = False
        sys.excepthook = self._excepthook
        # sys.exit(3), and argparse's exit on a bad flag, never reach the
        # excepthook; note their code on the way out.
        sys.exit = self._exit
        atexit.register(self._at_exit)
        if threading.current_thread() is threading.main_thread():
            self._old_sigterm = signal.signal(signal.SIGTERM, self._on_sigterm)

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

    def _excepthook(
        self, kind: type[BaseException], error: BaseException, tb: TracebackType | None
    ) -> None:
        self.run._fail(kind, error, tb)
        self._old_excepthook(kind, error, tb)

    def _exit(self, status: object = None) -> NoReturn:
        self.run._note_exit(status)
        self._old_exit(status)  # type: ignore[arg-type]
        raise AssertionError("sys.exit returned")  # pragma: no cover

    def _at_exit(self) -> None:
        if self.run._exit_code is None and self.run._status is None:
            self.run._exit_code = 0
        self.run.finish()

    def _on_sigterm(self, signum: int, frame: FrameType | None) -> None:
        if self.run.is_finished:
            # The run is closing on this very thread (at exit, say): dying now
            # would cut its last points off, so die once it has closed.
            self.die_after_close = True
            return
        self.run._status = "killed"
        self.run._error = "SIGTERM"
        if callable(self._old_sigterm):
            # The script (or a library) set its own handler before runlab
            # started, to save a checkpoint say: it runs, and decides whether
            # the process ends. The run is marked killed whenever it closes.
            self._old_sigterm(signum, frame)
            return
        self.run.finish()
        die_of_sigterm()


def die_of_sigterm() -> None:
    """End the process by SIGTERM, so that its parent sees what happened."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)
