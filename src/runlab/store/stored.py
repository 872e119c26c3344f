"""The read side of a run: what ``runlab.load_run`` and ``Store.runs`` give back."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runlab.store import layout
from runlab.store.checkpoints import BEST, read_checkpoints
from runlab.store.files import read_json
from runlab.store.media import MediaItem, list_media, read_media
from runlab.store.series import Series, read_manifest, read_series

if TYPE_CHECKING:
    from runlab.config import ConfigView

__all__ = ["StoredRun", "iso_time"]


def iso_time(seconds: float | None) -> str | None:
    """Return epoch seconds as local ISO 8601 with its UTC offset."""
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds).astimezone().isoformat(timespec="seconds")


class StoredRun:
    """A run as found in the store: its record plus lazy access to its files.

    Attributes:
        id, name, status, tags: from the record.
        path: the run folder.
        record: the full record (see :mod:`runlab.store.record`).
    """

    def __init__(self, path: Path, record: dict[str, Any]) -> None:
        self.path = path
        self.record = record
        self.id: str = record["id"]
        self.name: str | None = record.get("name")
        self.status: str = record.get("status") or "unreadable"
        self.tags: list[str] = list(record.get("tags") or [])

    def __repr__(self) -> str:
        return f"<StoredRun {self.id} {self.name or ''} {self.status}>"

    @property
    def config(self) -> ConfigView:
        """The resolved config the code saw, with attribute access."""
        from runlab.config import ConfigView

        return ConfigView(self.record.get("config") or {})

    @property
    def summary(self) -> dict[str, dict[str, Any]]:
        """Per-metric ``last``, ``min``, ``max``, ``count`` and ``last_step``."""
        return dict(self.record.get("metrics") or {})

    @property
    def started(self) -> str | None:
        return iso_time(self.record.get("started"))

    @property
    def ended(self) -> str | None:
        return iso_time(self.record.get("ended"))

    @property
    def notes(self) -> str:
        """The run's notes (its README.md), or an empty string."""
        try:
            return (self.path / layout.NOTES_FILE).read_text(encoding="utf-8")
        except FileNotFoundError:
            return ""

    @property
    def git(self) -> dict[str, Any]:
        """What git said at start: commit, branch, remote, dirty, ..."""
        return _read_dict(self.path / layout.CODE_DIR / "git.json")

    @property
    def environment(self) -> dict[str, Any]:
        """Python, packages, OS, CPU, memory, GPUs and container facts."""
        return _read_dict(self.path / layout.ENV_DIR / "environment.json")

    @property
    def meta(self) -> dict[str, Any]:
        """The raw run.json: command, cwd, host, pid, exit code, times."""
        return _read_dict(self.path / layout.RUN_FILE)

    def metric_names(self) -> list[str]:
        """Names of the metrics this run logged, in first-logged order."""
        return list(read_manifest(self.path / layout.METRICS_DIR))

    def metric(self, name: str) -> Series:
        """Read one metric series (``.steps``, ``.times``, ``.values``).

        Raises:
            KeyError: the run has no metric called ``name``.
        """
        try:
            return read_series(self.path / layout.METRICS_DIR, name)
        except KeyError:
            known = ", ".join(repr(n) for n in self.metric_names()[:10]) or "none"
            raise KeyError(
                f"Run {self.id} has no metric {name!r}; it has: {known}."
            ) from None

    def media_names(self) -> list[tuple[str, str]]:
        """Names of the media this run logged, with their kind, first-logged first."""
        return [(m["name"], m["kind"]) for m in list_media(self.path)]

    def media(self, name: str) -> list[MediaItem]:
        """What was logged under ``name`` (images, histograms...), sorted by step.

        Each :class:`~runlab.store.media.MediaItem` has ``step``, ``time``,
        ``path`` (the file, or None for a histogram) and ``data`` (the kind's
        fields: ``width``, ``edges``, ``columns``...).

        Raises:
            KeyError: the run logged nothing under ``name``.
        """
        items = read_media(self.path, name)
        if not items:
            names = [n for n, _ in self.media_names()]
            known = ", ".join(repr(n) for n in names[:10]) or "none"
            more = f" and {len(names) - 10} more" if len(names) > 10 else ""
            raise KeyError(
                f"Run {self.id} has no media {name!r}; it has: {known}{more}."
            )
        return items

    def checkpoints(self) -> dict[str, Any]:
        """The checkpoint index: best, last and the per-epoch files kept."""
        return read_checkpoints(self.path / layout.CHECKPOINT_DIR)

    def best_checkpoint(self) -> Path | None:
        """Path of ``checkpoint_best.pt``, or None when no scored save exists."""
        path = self.path / layout.CHECKPOINT_DIR / BEST
        return path if path.exists() else None

    def last_checkpoint(self) -> Path | None:
        """Path of ``checkpoint_last.pt``, or None."""
        path = self.path / layout.CHECKPOINT_DIR / "checkpoint_last.pt"
        return path if path.exists() else None


def _read_dict(path: Path) -> dict[str, Any]:
    try:
        data = read_json(path)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
