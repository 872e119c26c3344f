"""Background threads that leave signals to the main thread.

Linux hands a process-directed signal (SIGTERM from a scheduler, SIGINT from
``kill``) to any thread that does not block it. Python runs signal handlers in
the main thread only, and only between bytecodes; if the kernel picks one of
runlab's threads while the main thread waits in a system call, the handler
(and so the "killed" status) is late by as long as that call lasts. runlab's
threads therefore block SIGINT and SIGTERM, so the kernel always picks the
main thread, whose blocking call is then interrupted at once.

A subprocess started from such a thread inherits the blocked mask; runlab's
threads only start short-lived helpers (``git``) with time-outs.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["daemon_thread"]

_MAIN_THREAD_SIGNALS = {signal.SIGINT, signal.SIGTERM}


def daemon_thread(
    target: Callable[..., Any], name: str, args: tuple[Any, ...] = ()
) -> threading.Thread:
    """Return an unstarted daemon thread that runs ``target`` with signals blocked."""

    def run() -> None:
        signal.pthread_sigmask(signal.SIG_BLOCK, _MAIN_THREAD_SIGNALS)
        target(*args)

    return threading.Thread(target=run, name=name, daemon=True)
