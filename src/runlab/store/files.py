"""Small files of a run folder, written so that a reader never sees half of one.

Every metadata file (run.json, summaries, manifests kept whole) is written to a
temporary file beside it, flushed to disk, and renamed over the old one, which
POSIX makes atomic. Read-modify-write cycles on one run's files take an
exclusive ``flock`` on the run folder itself, so no lock file is left behind.

Limit: ``flock`` is advisory and, on some network file systems (older NFS), not
shared between machines; two hosts updating the same run's tags at the same
instant may then lose one update. Metric series are unaffected (one writer).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from runlab import _json

__all__ = ["locked", "read_json", "update_json", "write_json", "write_text_atomic"]


def write_text_atomic(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` in one step (temp file, fsync, rename)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_json(path: Path, data: Any) -> None:
    """Write ``data`` as strict, indented JSON, atomically."""
    write_text_atomic(path, _json.dumps(data, indent=2) + "\n")


def read_json(path: Path) -> Any:
    """Read a JSON file; raises OSError or ValueError on a missing or bad file."""
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


@contextlib.contextmanager
def locked(folder: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``folder`` (a run folder) for a read-modify-write."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def update_json(path: Path, change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    """Apply ``change`` to the JSON object in ``path`` under the folder's lock."""
    with locked(path.parent):
        data = read_json(path)
        change(data)
        write_json(path, data)
    return dict(data)
