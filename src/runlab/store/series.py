"""Metric series: append-only files of fixed-size records, one file per metric.

Contract:
- A series is append-only. Each point is one 24-byte little-endian record:
  step (int64), wall time (float64, seconds since the Unix epoch, UTC) and value
  (float64). NaN and +/-inf are stored as such; steps are exact 64-bit integers.
- ``metrics/names.jsonl`` maps each metric name (any Unicode, ``/``, spaces) to
  its file; it is append-only too, one JSON object a line.
- A torn record at the end of a file (a crash mid-write) is ignored by readers,
  with a warning naming the file, and cut off by the next writer before it
  appends, so the series goes on after the last whole record.
- ``metrics/summary.json`` holds, per name, ``last``, ``min``, ``max`` (NaN
  ignored), ``count`` and ``last_step``; it is rewritten atomically on flush.

NumPy is imported when a series is first written or read, never at import.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from runlab.store.files import write_json

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "RECORD_SIZE",
    "Series",
    "SeriesWriter",
    "read_manifest",
    "read_series",
    "read_summary",
]

logger = logging.getLogger(__name__)

RECORD_SIZE = 24
MANIFEST = "names.jsonl"
SUMMARY = "summary.json"
MAIN_OWNER = "main"
_MAX_OPEN_FILES = 128
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _dtype() -> np.dtype[Any]:
    import numpy as np

    return np.dtype([("step", "<i8"), ("time", "<f8"), ("value", "<f8")])


class Series:
    """One metric's points, as NumPy arrays: ``steps`` int64, the rest float64."""

    __slots__ = ("name", "steps", "times", "values")

    def __init__(
        self,
        name: str,
        steps: np.ndarray[Any, Any],
        times: np.ndarray[Any, Any],
        values: np.ndarray[Any, Any],
    ) -> None:
        self.name = name
        self.steps = steps
        self.times = times
        self.values = values

    def __repr__(self) -> str:
        return f"<Series {self.name!r}: {len(self.steps)} points>"

    def __len__(self) -> int:
        return len(self.steps)

    def superseded(self) -> Series:
        """Return the points left when a lower step replaces the points after it.

        This is the convention for resumed training: logging step 100 after
        step 150 means the attempt restarted, so the old 100..150 tail is
        hidden. Here the raw points stay on disk; this is only a view.
        """
        import numpy as np

        steps = self.steps
        # The usual case, a run never restarted: nothing hidden, nothing copied
        # (copying three long arrays costs more than reading them).
        if len(steps) < 2 or bool((steps[1:] > steps[:-1]).all()):
            return self
        # Keep a point only if every later point has a strictly greater step.
        later_min = np.minimum.accumulate(self.steps[::-1])[::-1]
        keep = np.ones(len(self.steps), dtype=bool)
        keep[:-1] = self.steps[:-1] < later_min[1:]
        return Series(self.name, self.steps[keep], self.times[keep], self.values[keep])


def series_file_name(name: str, taken: set[str], owner: str = "main") -> str:
    """Return a safe, unique file name for metric ``name``.

    A plain lowercase name keeps its spelling (``loss.bin``); any other name is
    slugged and given 8 hex digits of its hash, so ``a/b`` and ``a_b`` differ.
    A writer other than the main one prefixes its files (``sys~...``): the two
    processes never pick one file, even for the same metric name.
    """
    slug = _SAFE.sub("_", name).strip("._")[:80] or "metric"
    plain = owner == MAIN_OWNER and slug == name and name.lower() == name
    if plain and f"{slug}.bin" not in taken:
        return f"{slug}.bin"
    prefix = "" if owner == MAIN_OWNER else f"{owner}~"
    import hashlib

    digest = hashlib.sha1(name.encode("utf-8")).hexdigest()
    for width in range(8, 41):
        candidate = f"{prefix}{slug}~{digest[:width]}.bin"
        if candidate not in taken:
            return candidate
    raise ValueError(f"No free file name for metric {name!r}.")


def _owned_files(metrics_dir: Path, base: str) -> list[Path]:
    # Each writer of a run (the script, and the wrapper's system sampler) keeps
    # its own manifest and summary, so two processes never rewrite one file.
    stem, suffix = base.split(".", 1)
    if not metrics_dir.is_dir():
        return []
    return sorted(metrics_dir.glob(f"{stem}*.{suffix}"))


def read_manifest(metrics_dir: Path, owner: str | None = None) -> dict[str, str]:
    """Return the metric name to file map of a run; a torn line is skipped.

    Args:
        owner: read only that writer's manifest; None merges all of them.
    """
    names: dict[str, str] = {}
    paths = (
        [metrics_dir / owned(MANIFEST, owner)]
        if owner
        else _owned_files(metrics_dir, MANIFEST)
    )
    for path in paths:
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            continue
        # Decode line by line: a crash can cut a line inside a UTF-8 character.
        for line in filter(None, raw.split(b"\n")):
            try:
                entry = json.loads(line.decode("utf-8"))
                names[entry["name"]] = entry["file"]
            except (ValueError, KeyError, TypeError):
                logger.warning("Skipping a torn line in %s.", path)
    return names


def read_summary(
    metrics_dir: Path, owner: str | None = None
) -> dict[str, dict[str, Any]]:
    """Return the per-metric summary of a run (empty when none was written).

    ``last``, ``min`` and ``max`` are floats (NaN and infinities included) or None.
    """
    summary: dict[str, dict[str, Any]] = {}
    paths = (
        [metrics_dir / owned(SUMMARY, owner)]
        if owner
        else _owned_files(metrics_dir, SUMMARY)
    )
    for path in paths:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            continue
        if isinstance(data, dict):
            summary.update(
                (name, _revive(entry))
                for name, entry in data.items()
                if isinstance(entry, dict)
            )
    return summary


def _revive(entry: dict[str, Any]) -> dict[str, Any]:
    # JSON holds NaN and infinities as "NaN", "Infinity", "-Infinity".
    for key in ("last", "min", "max"):
        if key in entry:
            entry[key] = _to_float(entry[key])
    return entry


def owned(base: str, owner: str | None) -> str:
    """Return a writer's own variant of a file name: names.jsonl, names.sys.jsonl."""
    if not owner or owner == MAIN_OWNER:
        return base
    stem, suffix = base.split(".", 1)
    return f"{stem}.{owner}.{suffix}"


def _empty() -> np.ndarray[Any, Any]:
    import numpy as np

    return np.empty(0, dtype=_dtype())


def read_series(metrics_dir: Path, name: str) -> Series:
    """Read the whole series ``name`` with one array read.

    Raises:
        KeyError: the run has no metric of that name.
    """
    import numpy as np

    file = read_manifest(metrics_dir).get(name)
    if file is None:
        raise KeyError(name)
    path = metrics_dir / file
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        size = 0
    torn = size % RECORD_SIZE
    if torn:
        logger.warning(
            "Ignoring a torn record (%d bytes) at the end of %s.", torn, path
        )
    count = size // RECORD_SIZE
    records = np.fromfile(path, dtype=_dtype(), count=count) if count else _empty()
    # Views into the one array read: no copies (their stride is the record).
    return Series(name, records["step"], records["time"], records["value"])


class _Summary:
    """Running summary of one series: last, min, max, count, last_step."""

    __slots__ = ("count", "last", "last_step", "max", "min")

    def __init__(self, data: dict[str, Any] | None = None) -> None:
        data = data or {}
        self.count: int = int(data.get("count", 0))
        self.last: float | None = _to_float(data.get("last"))
        self.last_step: int | None = data.get("last_step")
        self.min: float | None = _to_float(data.get("min"))
        self.max: float | None = _to_float(data.get("max"))

    def update(self, steps: Sequence[int], values: np.ndarray[Any, Any]) -> None:
        import numpy as np

        self.count += len(values)
        self.last = float(values[-1])
        self.last_step = int(steps[-1])
        seen = values[~np.isnan(values)]
        if len(seen):
            low, high = float(seen.min()), float(seen.max())
            self.min = low if self.min is None else min(self.min, low)
            self.max = high if self.max is None else max(self.max, high)

    def as_dict(self) -> dict[str, Any]:
        return {
            "last": self.last,
            "min": self.min,
            "max": self.max,
            "count": self.count,
            "last_step": self.last_step,
        }


def _to_float(value: Any) -> float | None:
    from runlab._json import to_float

    return to_float(value)


class SeriesWriter:
    """Appends points to the series files of one run folder's ``metrics/``.

    Used by one thread of one process at a time (the run's background writer).
    Points reach the OS on :meth:`flush`; ``fsync`` happens on :meth:`close`,
    so a killed process loses nothing already flushed, and a power loss at most
    what the OS had not yet written.
    """

    def __init__(self, metrics_dir: Path, owner: str = MAIN_OWNER) -> None:
        self.metrics_dir = metrics_dir
        self.owner = owner
        self._files = read_manifest(metrics_dir, owner)
        self._taken = set(read_manifest(metrics_dir).values())
        self._summaries = {
            name: _Summary(data)
            for name, data in read_summary(metrics_dir, owner).items()
        }
        self._handles: dict[str, IO[bytes]] = {}
        self._dirty = False

    def append(
        self,
        name: str,
        steps: Sequence[int],
        times: Sequence[float],
        values: Sequence[float],
    ) -> None:
        """Append points to series ``name``, creating it on first use."""
        import numpy as np

        records = np.empty(len(steps), dtype=_dtype())
        records["step"] = steps
        records["time"] = times
        records["value"] = values
        self._handle(name).write(records.tobytes())
        self._summary(name).update(steps, records["value"])
        self._dirty = True

    def flush(self) -> None:
        """Hand written points to the OS and rewrite the summary if it changed."""
        for handle in self._handles.values():
            handle.flush()
        if self._dirty:
            summary = {name: s.as_dict() for name, s in self._summaries.items()}
            write_json(self.metrics_dir / owned(SUMMARY, self.owner), summary)
            self._dirty = False

    def close(self) -> None:
        """Flush, fsync and close every file."""
        self.flush()
        for handle in self._handles.values():
            os.fsync(handle.fileno())
            handle.close()
        self._handles.clear()

    def summary(self) -> dict[str, dict[str, Any]]:
        """Return the current summary of every series."""
        return {name: s.as_dict() for name, s in self._summaries.items()}

    def _summary(self, name: str) -> _Summary:
        summary = self._summaries.get(name)
        if summary is None:
            summary = self._summaries[name] = _Summary()
        return summary

    def _handle(self, name: str) -> IO[bytes]:
        handle = self._handles.get(name)
        if handle is not None:
            return handle
        if len(self._handles) >= _MAX_OPEN_FILES:
            # Many metrics: close idle files rather than run out of descriptors.
            for other in self._handles.values():
                other.close()
            self._handles.clear()
        handle = self._handles[name] = self._open(name)
        return handle

    def _open(self, name: str) -> IO[bytes]:
        self.metrics_dir.mkdir(parents=True, exist_ok=True)
        file = self._files.get(name)
        if file is None:
            file = series_file_name(name, self._taken, self.owner)
            self._register(name, file)
        path = self.metrics_dir / file
        handle = open(path, "ab")  # noqa: SIM115 - kept open across batches
        torn = handle.tell() % RECORD_SIZE
        if torn:
            logger.warning("Cutting a torn record (%d bytes) off %s.", torn, path)
            handle.truncate(handle.tell() - torn)
            handle.seek(0, os.SEEK_END)
        return handle

    def _register(self, name: str, file: str) -> None:
        line = json.dumps({"name": name, "file": file}, ensure_ascii=False) + "\n"
        with open(self.metrics_dir / owned(MANIFEST, self.owner), "ab+") as manifest:
            # A crash may have left half a line; start ours on a fresh one.
            if manifest.tell():
                manifest.seek(-1, os.SEEK_END)
                if manifest.read(1) != b"\n":
                    line = "\n" + line
            manifest.write(line.encode("utf-8"))
        self._files[name] = file
        self._taken.add(file)
