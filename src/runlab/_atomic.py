"""Writing a file so that a reader never sees half of it.

Shared by the store and capture: a temporary file beside the target, flushed
to disk and renamed over it, which POSIX makes atomic.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

__all__ = ["current_umask", "stage_file", "write_text_atomic"]


def write_text_atomic(path: Path, text: str, *, durable: bool = True) -> None:
    """Replace ``path`` with ``text`` in one step (temp file, fsync, rename).

    The new file keeps the old one's permissions, or gets the usual ones
    (0o666 less the umask), not the owner-only mode of a temporary file.
    ``durable=False`` skips the fsync, for caches that can be rebuilt.
    """
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, _file_mode(path))
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def stage_file(folder: Path, write: Callable[[IO[bytes]], object], prefix: str) -> Path:
    """A new hidden file in ``folder`` holding what ``write`` wrote, on disk.

    The file has the usual permissions (0o666 less the umask), is fsynced, and
    is the caller's to rename into place; when ``write`` fails, no file stays.
    """
    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=folder)
    try:
        os.fchmod(fd, 0o666 & ~current_umask())
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return Path(tmp)


def _file_mode(path: Path) -> int:
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return 0o666 & ~current_umask()


def current_umask() -> int:
    # Linux shows the umask in /proc; elsewhere os.umask must set it to read it.
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
