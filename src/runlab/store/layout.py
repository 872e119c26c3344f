"""Where things live: the store's location, run ids and the files of a run folder.

A store is a folder (default ``./experiments`` or ``experiments/`` at the top of
the enclosing git repository, else ``RUNLAB_DIR``, else the one given). Each run
is a sub-folder named by its id, ``yymmdd-HHMMSS-xxxx``: sortable by start time,
and unique without coordination because the four hex digits come from
``os.urandom`` and the folder is created with an exclusive ``mkdir`` (a clash is
retried with new digits).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterable
from pathlib import Path

__all__ = [
    "CHECKPOINT_DIR",
    "CODE_DIR",
    "CONFIG_FILE",
    "ENV_DIR",
    "INDEX_DIR",
    "LOG_FILE",
    "MEDIA_DIR",
    "METRICS_DIR",
    "NOTES_FILE",
    "RUN_FILE",
    "TRASH_DIR",
    "check_name",
    "check_tags",
    "is_run_id",
    "make_run_dir",
    "new_run_id",
    "resolve_store_path",
]

RUN_FILE = "run.json"
CONFIG_FILE = "config.yaml"
LOG_FILE = "log.txt"
NOTES_FILE = "README.md"
METRICS_DIR = "metrics"
CHECKPOINT_DIR = "state_dict"
CODE_DIR = "code"
ENV_DIR = "env"
MEDIA_DIR = "media"
INDEX_DIR = ".runlab"
TRASH_DIR = ".trash"

_BAD_TAG = re.compile(r"[,\x00-\x1f\x7f]")
_RUN_ID = re.compile(r"^\d{6}-\d{6}-[0-9a-f]{4}$")


def new_run_id(now: float | None = None) -> str:
    """Return a fresh run id: local start time to the second plus 4 random hex."""
    stamp = time.strftime("%y%m%d-%H%M%S", time.localtime(now))
    return f"{stamp}-{os.urandom(2).hex()}"


def is_run_id(name: str) -> bool:
    """Tell whether a folder name has the shape of a run id."""
    return bool(_RUN_ID.match(name))


def make_run_dir(store: Path, now: float | None = None) -> tuple[str, Path]:
    """Create a new, empty run folder in ``store`` and return its id and path.

    The exclusive ``mkdir`` is what makes ids unique across processes: two
    processes that draw the same id cannot both create the folder.
    """
    if not store.is_dir():
        create_store_dir(store)
    for _ in range(1000):
        run_id = new_run_id(now)
        path = store / run_id
        try:
            path.mkdir()
        except FileExistsError:
            continue
        return run_id, path
    raise FileExistsError(f"Could not find a free run id in {store}.")


def create_store_dir(store: Path) -> None:
    """Create a store folder holding a ``.gitignore`` that ignores it whole.

    Runs are data, not source: inside a git work tree they would otherwise show
    as untracked files in ``git status`` and in every later run's git record.
    """
    store.mkdir(parents=True, exist_ok=True)
    ignore = store / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# A runlab store: run folders are data, not source.\n*\n")


# Tags are labels shown in tables, not notes: notes go in README.md.
MAX_TAG_CHARS = 100


def check_tags(tags: Iterable[str]) -> list[str]:
    """Return ``tags`` without repeats, or raise for one that cannot be a tag.

    Raises:
        ValueError: a tag is empty, longer than ``MAX_TAG_CHARS``, or holds a
            comma or a control character (tables and CSV join tags with commas).
    """
    for tag in tags:
        if not isinstance(tag, str) or not tag.strip() or _BAD_TAG.search(tag):
            raise ValueError(
                f"Tag {tag!r} is not allowed: a tag is non-empty text without "
                "commas or line breaks."
            )
        if len(tag) > MAX_TAG_CHARS:
            raise ValueError(
                f"Tag {tag[:20]!r}... is {len(tag)} characters long; "
                f"a tag holds at most {MAX_TAG_CHARS}."
            )
    return list(dict.fromkeys(tags))


def check_name(name: str | None) -> str | None:
    """Return a run name, or raise for one that is empty or spans lines."""
    if name is not None and (
        not name.strip() or _BAD_TAG.search(name.replace(",", ""))
    ):
        raise ValueError(
            f"Run name {name!r} is not allowed: give a non-empty, single-line name."
        )
    return name


def find_git_root(start: Path) -> Path | None:
    """Return the top folder of the git repository holding ``start``, if any."""
    for folder in (start, *start.parents):
        if (folder / ".git").exists():
            return folder
    return None


def resolve_store_path(store: str | os.PathLike[str] | None = None) -> Path:
    """Return the store folder: ``store``, else RUNLAB_DIR, else git top, else cwd.

    Args:
        store: an explicit path (``--store`` or ``store=``), which wins.
    """
    if store is not None:
        return Path(store).expanduser().resolve()
    env = os.environ.get("RUNLAB_DIR")
    if env:
        return Path(env).expanduser().resolve()
    cwd = Path.cwd()
    root = find_git_root(cwd)
    return (root or cwd).resolve() / "experiments"
