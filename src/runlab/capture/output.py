"""Copy what a run prints into its log file while it still reaches the terminal.

Two tools, one for each way a run starts:

- :class:`OutputTee` works inside the training process, for a script that calls
  ``runlab.start()`` without the ``runlab run`` wrapper. It replaces
  ``sys.stdout`` and ``sys.stderr`` with text streams that write to the
  original stream and append the same text, UTF-8 encoded, to the log file.
  It sees only what goes through those Python objects: output written at
  file-descriptor level, by C extensions, CUDA libraries or subprocesses, and
  bytes written to ``sys.stdout.buffer``, reach the terminal but not the log.
  The ``runlab run`` wrapper captures all of it.
- :class:`StreamPump` works in the wrapper: it copies a child process's pipe,
  byte for byte, to the terminal and the log file.

Both write each piece through to the operating system as it comes, so a run
killed with SIGKILL loses at most the line it was writing. Carriage returns
(progress bars) are kept as they are.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO, Any, BinaryIO, Protocol, TextIO

from runlab._threads import daemon_thread

__all__ = ["OutputTee", "StreamPump"]

logger = logging.getLogger(__name__)

_CHUNK = 65536


class OutputTee:
    """Tee ``sys.stdout`` and ``sys.stderr`` into a log file, in-process.

    Between :meth:`start` and :meth:`stop`, everything written to
    ``sys.stdout`` or ``sys.stderr`` still reaches the original stream and is
    also appended to ``log_path``. Writes from several threads are serialised,
    so lines of the two streams do not interleave mid-write in the log.

    Objects that kept a reference to a tee stream (a logging handler made while
    it was installed) may write to it after :meth:`stop`; such writes go to the
    original stream only. A log file that fails (disk full) stops receiving
    text, with one warning; nothing raises into the program.
    """

    def __init__(self, log_path: str | os.PathLike[str]) -> None:
        self.log_path = Path(log_path)
        self._lock = threading.RLock()
        self._file: IO[bytes] | None = None
        self._stdout: _TeeStream | None = None
        self._stderr: _TeeStream | None = None

    @property
    def is_started(self) -> bool:
        return self._file is not None

    def start(self) -> None:
        """Install the tee streams; does nothing if they are installed already.

        Raises:
            OSError: the log file cannot be opened for appending.
        """
        with self._lock:
            if self._file is not None:
                return
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
            self._stdout = _TeeStream(sys.stdout, self)
            self._stderr = _TeeStream(sys.stderr, self)
            sys.stdout, sys.stderr = self._stdout, self._stderr

    def stop(self) -> None:
        """Put the original streams back and close the log file."""
        with self._lock:
            # Someone may have replaced the streams after start (a test runner's
            # capture); their replacement stays, only ours is taken away.
            if self._stdout is not None and sys.stdout is self._stdout:
                sys.stdout = self._stdout.original
            if self._stderr is not None and sys.stderr is self._stderr:
                sys.stderr = self._stderr.original
            self._close_file()

    def _append(self, text: str) -> None:
        """Append ``text`` to the log file; the caller holds the lock."""
        if self._file is None or not text:
            return
        try:
            self._file.write(text.encode("utf-8", "backslashreplace"))
            self._file.flush()
        except (OSError, ValueError) as exc:
            self._close_file()
            # The tee is off now, so this warning cannot recurse into the log.
            logger.warning("Stopped copying output to %s: %s.", self.log_path, exc)

    def _close_file(self) -> None:
        file, self._file = self._file, None
        if file is None:
            return
        try:
            file.close()
        except OSError as exc:
            logger.debug("Closing %s failed: %s.", self.log_path, exc)


class _TeeStream(io.TextIOBase):
    """A text stream that writes to ``original`` and to its tee's log file.

    Attributes it does not define (``buffer``, ``name``, ``line_buffering``,
    ``reconfigure``) are those of the original stream.
    """

    def __init__(self, original: TextIO | None, tee: OutputTee) -> None:
        super().__init__()
        self.original = original
        self._tee = tee

    def write(self, s: str) -> int:
        with self._tee._lock:
            self._tee._append(s)
            if self.original is None:
                return len(s)
            return self.original.write(s)

    def writelines(self, lines: Iterable[str]) -> None:  # type: ignore[override]
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        if self.original is not None:
            self.original.flush()

    def close(self) -> None:
        # Closing the tee (io's finaliser does) must never close the terminal
        # stream behind it, nor raise when that stream is gone at exit.
        with contextlib.suppress(OSError, ValueError):
            self.flush()

    @property
    def closed(self) -> bool:
        return False

    def isatty(self) -> bool:
        return self.original is not None and self.original.isatty()

    def fileno(self) -> int:
        if self.original is None:
            raise io.UnsupportedOperation("fileno")
        return self.original.fileno()

    def writable(self) -> bool:
        return True

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.original, "encoding", None) or "utf-8"

    @property
    def errors(self) -> str:  # type: ignore[override]
        return getattr(self.original, "errors", None) or "strict"

    def __getattr__(self, name: str) -> Any:
        # Read through __dict__: __getattr__ may run before __init__ sets it.
        original = self.__dict__.get("original")
        if original is None:
            raise AttributeError(name)
        return getattr(original, name)


class Sink(Protocol):
    """Where a pump writes: a binary file, a terminal, a :class:`LineSink`."""

    def write(self, chunk: bytes, /) -> Any: ...

    def flush(self) -> Any: ...


class StreamPump:
    """Copy a binary stream to several sinks, chunk by chunk, on a thread.

    The ``runlab run`` wrapper gives it the child's stdout (or stderr) pipe and
    sinks such as ``sys.stdout.buffer`` and the run's ``log.txt``. Each chunk
    is written to every sink and flushed at once. A sink that fails (a closed
    terminal) is dropped with one warning and the others go on, so the child
    never blocks on a full pipe. The source is read to its end and left open
    for its owner to close; the sinks are never closed.
    """

    def __init__(self, source: BinaryIO, sinks: Sequence[Sink]) -> None:
        self.source = source
        self.sinks = list(sinks)
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start copying on a daemon thread; does nothing if already started."""
        if self._thread is not None:
            return
        self._thread = daemon_thread(self._pump, "runlab-stream-pump")
        self._thread.start()

    def join(self, timeout: float | None = None) -> None:
        """Wait until the source reaches its end, or ``timeout`` seconds pass."""
        if self._thread is not None:
            self._thread.join(timeout)

    def _pump(self) -> None:
        fd = self.source.fileno()
        while True:
            try:
                chunk = os.read(fd, _CHUNK)
            except OSError:
                # A pseudo-terminal reports EIO once the child side closes.
                break
            if not chunk:
                break
            self._write(chunk)

    def _write(self, chunk: bytes) -> None:
        for sink in list(self.sinks):
            try:
                sink.write(chunk)
                sink.flush()
            except (OSError, ValueError) as exc:
                self.sinks.remove(sink)
                logger.warning(
                    "Stopped copying output to %s: %s.", _describe(sink), exc
                )


class LineSink:
    """A sink that passes on whole lines only, so two pumps never split a line.

    The wrapper pumps the child's stdout and stderr into one ``log.txt``. An
    unbuffered child writes ``print("x")`` as ``x`` and then a newline; two
    pumps copying chunk by chunk could put the other stream's text between
    them. Each pump gets its own ``LineSink`` over the shared file and lock: it
    keeps a partial line until a newline or a carriage return (a progress bar)
    ends it, and writes the rest on :meth:`close`.
    """

    def __init__(self, target: BinaryIO, lock: threading.Lock) -> None:
        self.target = target
        self.name = getattr(target, "name", "log")
        self._lock = lock
        self._partial = b""

    def write(self, chunk: bytes) -> int:
        data = self._partial + chunk
        cut = max(data.rfind(b"\n"), data.rfind(b"\r")) + 1
        self._partial = data[cut:]
        if cut:
            with self._lock:
                self.target.write(data[:cut])
        return len(chunk)

    def flush(self) -> None:
        with self._lock:
            self.target.flush()

    def close(self) -> None:
        """Write a last line that had no ending; the target stays open."""
        if self._partial:
            with self._lock:
                self.target.write(self._partial)
                self.target.flush()
            self._partial = b""


def _describe(sink: Sink) -> str:
    return str(getattr(sink, "name", None) or sink)
