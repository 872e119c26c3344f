"""Small files of a run folder, written so that a reader never sees half of one.

Every metadata file (run.json, summaries, manifests kept whole) is written to a
temporary file beside it, flushed to disk, and renamed over the old one, which
POSIX makes atomic. Read-modify-write cycles on one run's files take an
exclusive ``flock`` on the run folder itself, so no lock file is left behind.

One exception, asked for by the caller: when the disk is full there is no room
for the copy written aside, and ``update_json(..., in_place_when_full=True)``
then overwrites the file in the blocks it already has (only if the new text
fits in them). A reader may see that one write half done; the run's final
status is worth that risk.

Limit: ``flock`` is advisory and, on some network file systems (older NFS), not
shared between machines; two hosts updating the same run's tags at the same
instant may then lose one update. Metric series are unaffected (one writer).
"""

from __future__ import annotations

import contextlib
import copy
import errno
import fcntl
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from runlab import _json
from runlab._atomic import write_text_atomic

__all__ = ["locked", "read_json", "update_json", "write_json", "write_text_atomic"]


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


def update_json(
    path: Path,
    change: Callable[[dict[str, Any]], None],
    *,
    in_place_when_full: bool = False,
) -> dict[str, Any]:
    """Apply ``change`` to the JSON object in ``path`` under the folder's lock.

    Args:
        in_place_when_full: on a full disk, overwrite the file where it lies
            rather than fail (see the module's docstring).

    Raises:
        ValueError: the file does not hold a JSON object.
        OSError: the file cannot be read or written.
    """
    with locked(path.parent):
        data = read_json(path)
        if not isinstance(data, dict):
            raise ValueError(f"{path} does not hold a JSON object")
        before = copy.deepcopy(data)
        change(data)
        # A change that changes nothing leaves the file (and its stamp) alone.
        if data != before:
            try:
                write_json(path, data)
            except OSError as err:
                if not in_place_when_full or err.errno not in _FULL:
                    raise
                _overwrite_in_place(path, _json.dumps(data, indent=2) + "\n", err)
    return dict(data)


_FULL = (errno.ENOSPC, errno.EDQUOT)


def _overwrite_in_place(path: Path, text: str, full: OSError) -> None:
    """Rewrite ``path`` within its allocated blocks; else raise ``full``."""
    data = text.encode("utf-8")
    with open(path, "r+b") as handle:
        # Writing past the blocks it holds would need the room there is not.
        if len(data) > os.fstat(handle.fileno()).st_blocks * 512:
            raise full
        handle.write(data)
        handle.truncate()
        handle.flush()
        os.fsync(handle.fileno())
