"""The metric buffer: logging puts points on a queue; a thread writes them.

Contract:
- :meth:`MetricBuffer.put` never touches the disk. It appends one entry to a
  ``collections.deque`` (thread-safe without a lock in CPython) and returns.
- A daemon thread drains the queue about once a second (``flush_interval``),
  or as soon as more than ``soft_limit`` entries wait, groups points by metric
  and appends them to the series files, then hands them to the OS.
  :meth:`MetricBuffer.close` drains everything left.
- Memory stays bounded: when more than ``max_pending`` entries wait (the disk
  cannot keep up), ``put`` blocks the caller until the writer has caught up
  below half of that. No point is dropped. With the defaults (10,000 and
  100,000 calls), the queue holds a few MB while the writer keeps up, and
  about 30 MB at most for calls of one scalar (about 100 MB for calls of ten).
- When writing fails (disk full, read-only), the buffer logs one warning,
  drops further points, and records in ``lost`` how many and from which step.
  ``put`` never raises for it.
- A point that cannot be stored (an int too large for a float, a step beyond
  64 bits, a name that is not valid Unicode) is skipped alone, with one
  warning per metric; the other points, of its metric too, are written.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

from runlab._threads import daemon_thread
from runlab._values import I64
from runlab.store.series import MAIN_OWNER, SeriesWriter

__all__ = ["MetricBuffer"]

logger = logging.getLogger(__name__)

Entry = tuple[int, float, dict[str, Any]]

BATCH_SIZE = 20_000


class MetricBuffer:
    """Queue plus background writer for the metric series of one run."""

    def __init__(
        self,
        metrics_dir: Path,
        *,
        owner: str = MAIN_OWNER,
        flush_interval: float = 1.0,
        max_pending: int = 100_000,
        soft_limit: int = 10_000,
        label: str = "",
    ) -> None:
        self.metrics_dir = metrics_dir
        self.flush_interval = flush_interval
        self.max_pending = max_pending
        self.soft_limit = min(soft_limit, max_pending)
        self.label = label or metrics_dir.parent.name
        self.lost: dict[str, Any] | None = None
        self._owner = owner
        self._queue: deque[Entry] = deque()
        self._writer: SeriesWriter | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._drained = threading.Condition()
        self._begun = 0
        self._cycles = 0
        self._skipped_names: set[str] = set()
        self._thread = daemon_thread(self._loop, f"runlab-writer-{self.label}")
        self._thread.start()

    def put(self, step: int, when: float, metrics: dict[str, Any]) -> None:
        """Queue the points of one ``log()`` call (values already plain numbers)."""
        self._queue.append((step, when, metrics))
        if len(self._queue) > self.soft_limit:
            self.nudge()

    def nudge(self) -> None:
        """Wake the writer early; block while more than ``max_pending`` wait."""
        if not self._wake.is_set():
            self._wake.set()
        if len(self._queue) > self.max_pending:
            self._wait_for_room()

    def flush(self, timeout: float = 30.0) -> None:
        """Write everything queued so far, and wait until it reached the OS."""
        with self._drained:
            # A cycle running now may have taken its batch before our last put;
            # the next one to begin surely drains it.
            target = self._begun + 1
            self._wake.set()
            self._drained.wait_for(
                lambda: self._cycles >= target or not self._thread.is_alive(),
                timeout=timeout,
            )

    def summary(self) -> dict[str, dict[str, Any]]:
        """Per-metric summary of what was written so far."""
        return self._writer.summary() if self._writer else {}

    def close(self) -> None:
        """Drain the queue, flush and close the files; the thread ends."""
        self._stop.set()
        self._wake.set()
        self._thread.join()

    def _wait_for_room(self) -> None:
        self._wake.set()
        while len(self._queue) > self.max_pending // 2 and self._thread.is_alive():
            time.sleep(0.001)

    def _loop(self) -> None:
        while not self._stop.is_set():
            if len(self._queue) <= self.soft_limit:
                self._wake.wait(self.flush_interval)
            self._wake.clear()
            self._drain()
        self._drain()
        self._close_writer()

    def _drain(self) -> None:
        with self._drained:
            self._begun += 1
        # Everything queued when the cycle began, in slices: a slice's columns
        # and arrays are freed before the next, so memory stays flat.
        left = len(self._queue)
        while left:
            taken = min(left, BATCH_SIZE)
            self._write([self._queue.popleft() for _ in range(taken)])
            left -= taken
        with self._drained:
            self._cycles += 1
            self._drained.notify_all()

    def _write(self, batch: list[Entry]) -> None:
        if self.lost is not None:
            self.lost["points"] += sum(len(m) for _s, _t, m in batch)
            return
        columns = _columns(batch)
        try:
            writer = self._open_writer()
            for name, (steps, times, values) in columns.items():
                try:
                    writer.append(name, steps, times, values)
                except _BAD_POINT as err:
                    self._append_storable(writer, name, steps, times, values, err)
            writer.flush()
        except (OSError, ValueError, TypeError, OverflowError) as err:
            # Anything left uncaught would end the writer thread silently.
            self._record_loss(batch, err)

    def _append_storable(
        self,
        writer: SeriesWriter,
        name: str,
        steps: list[int],
        times: list[float],
        values: list[Any],
        err: Exception,
    ) -> None:
        """Append the points of ``name`` that can be stored; say which cannot."""
        keep = [i for i in range(len(steps)) if _storable(steps[i], values[i])]
        skipped = len(steps) - len(keep)
        if keep:
            try:
                writer.append(
                    name,
                    [steps[i] for i in keep],
                    [times[i] for i in keep],
                    [values[i] for i in keep],
                )
            except _BAD_POINT as name_err:  # the name itself cannot be stored
                err, skipped = name_err, len(steps)
        if skipped and name not in self._skipped_names:
            self._skipped_names.add(name)
            logger.warning(
                "Run %s: skipped %d point(s) of metric %r that cannot be stored "
                "(%s); the other points are kept.",
                self.label, skipped, name, err,
            )  # fmt: skip

    def _open_writer(self) -> SeriesWriter:
        if self._writer is None:
            self._writer = SeriesWriter(self.metrics_dir, owner=self._owner)
        return self._writer

    def _record_loss(self, batch: list[Entry], err: Exception) -> None:
        first_step = batch[0][0]
        logger.warning(
            "Cannot write metrics of run %s (%s); dropping points from step %d on.",
            self.label, getattr(err, "strerror", None) or err, first_step,
        )  # fmt: skip
        self.lost = {
            "from_step": first_step,
            "since": time.time(),
            "reason": str(err),
            "points": sum(len(m) for _s, _t, m in batch),
        }

    def _close_writer(self) -> None:
        if self._writer is None:
            return
        try:
            self._writer.close()
        except OSError as err:
            # After a loss the one warning has been given already.
            log = logger.debug if self.lost else logger.warning
            log("Closing metric files of run %s failed: %s", self.label, err)


Columns = dict[str, tuple[list[int], list[float], list[Any]]]

# What a point (or a name) that cannot be stored raises while it is packed;
# nothing has been written when it does. A full disk raises OSError instead.
_BAD_POINT = (OverflowError, ValueError, TypeError)


def _storable(step: int, value: Any) -> bool:
    if not -I64 <= step < I64:
        return False
    try:
        float(value)
    except (OverflowError, TypeError, ValueError):
        return False
    return True


def _columns(batch: list[Entry]) -> Columns:
    """Turn queued calls into one (steps, times, values) column per metric.

    Calls in a row that log the same names (the usual training loop) are
    transposed together with ``zip``, in C, instead of point by point; each
    metric's points keep the order they were logged in.
    """
    columns: Columns = {}
    keys: tuple[str, ...] = ()
    steps: list[int] = []
    times: list[float] = []
    rows: list[tuple[Any, ...]] = []
    for step, when, metrics in batch:
        names = tuple(metrics)
        if names != keys:
            _extend(columns, keys, steps, times, rows)
            keys, steps, times, rows = names, [], [], []
        steps.append(step)
        times.append(when)
        rows.append(tuple(metrics.values()))
    _extend(columns, keys, steps, times, rows)
    return columns


def _extend(
    columns: Columns,
    keys: tuple[str, ...],
    steps: list[int],
    times: list[float],
    rows: list[tuple[Any, ...]],
) -> None:
    for name, values in zip(keys, zip(*rows, strict=True), strict=True):
        column = columns.get(name)
        if column is None:
            column = columns[name] = ([], [], [])
        column[0].extend(steps)
        column[1].extend(times)
        column[2].extend(values)
