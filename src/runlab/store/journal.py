"""The journal: the project's diary, one dated Markdown file per entry.

Entries live in ``<store>/journal/<entry id>.md``, readable in a file browser.
A new entry's id is ``YYYY-MM-DD-HHMMSS-xxxx``: local time to the second (as
run ids are) plus four random hex digits. Its file is a small front matter
block, then the text as written::

    ---
    created: 2026-12-03T15:12:07.481+01:00
    updated: 2026-12-03T15:20:00.002+01:00
    tags: [idea, lr]
    ---
    the Markdown text

Contract:
- Files are read tolerantly. Any ``*.md`` file in the folder is an entry whose
  id is its name less ``.md``. One without front matter (written by hand) was
  created and updated at its modification time and has no tags. One whose
  front matter is not a YAML mapping is read whole as text, with a warning
  naming it; a bad date falls back to the modification time. A listing never
  fails over one bad file.
- Writes are atomic: a reader sees an entry whole or not at all. A new entry is
  written aside and hard-linked to its name, which fails if the name exists, so
  two processes never take the same id. Where the file system has no hard links
  (FAT, some network shares) the name is reserved with an exclusive create
  instead, and a listing at that instant may see an empty entry.
- Entry ids given by callers are checked before any path is built: a name with
  ``/``, a leading dot or a control character (``../x``) is not found. Entry
  files that are symbolic links to somewhere outside the folder are skipped.
- Updates keep ``created`` and set ``updated``; keys other than ``created``,
  ``updated`` and ``tags`` that a person added to the front matter are dropped
  when the entry is next updated.

Run mentions (:class:`RunMentions`, :func:`find_mentions`, :func:`link_mentions`)
find run ids and names in an entry's text; see :class:`RunMentions`.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from runlab._atomic import write_text_atomic
from runlab._yaml import loads_config
from runlab.errors import ConfigError, RunlabError, StoreError
from runlab.store import layout
from runlab.store.files import locked

__all__ = [
    "JOURNAL_DIR",
    "Journal",
    "JournalEntry",
    "JournalEntryNotFound",
    "JournalError",
    "is_entry_id",
    "new_entry_id",
]

logger = logging.getLogger(__name__)

JOURNAL_DIR = "journal"
TITLE_CHARS = 80

_BAD_ID = re.compile(r"[/\\\x00-\x1f\x7f]")
_FRONT_END = re.compile(r"^(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.MULTILINE)
_LEADING_BLANK_LINES = re.compile(r"\A(?:[ \t]*\n)+")
_PLAIN_TAG = re.compile(r"[A-Za-z][\w.+/-]*")
_YAML_WORDS = frozenset({"true", "false", "null", "yes", "no", "on", "off", "y", "n"})
# Errors that mean "this file system has no hard links", not "the name is taken".
_NO_LINKS = frozenset({errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS})


class JournalEntryNotFound(RunlabError, KeyError):
    """No journal entry has the id given (or the id cannot name one)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "Journal entry not found."


class JournalError(RunlabError, ValueError):
    """A journal entry was given text or tags it cannot hold."""


@dataclass(frozen=True)
class JournalEntry:
    """One journal entry as read from its file; times are seconds since the epoch."""

    id: str
    path: Path
    created: float
    updated: float
    tags: tuple[str, ...]
    text: str

    @property
    def title(self) -> str:
        """The first non-empty line, without heading marks, cut at 80 characters."""
        for line in self.text.splitlines():
            line = line.strip().lstrip("#").strip()
            if line:
                return line[:TITLE_CHARS].rstrip()
        return ""

    def to_dict(self) -> dict[str, Any]:
        """The entry as plain JSON data (the web API's ENTRY less html and runs)."""
        return {
            "id": self.id,
            "title": self.title,
            "created": self.created,
            "updated": self.updated,
            "tags": list(self.tags),
            "text": self.text,
        }


def new_entry_id(now: float | None = None) -> str:
    """Return a fresh entry id: local time to the second plus 4 random hex."""
    stamp = time.strftime("%Y-%m-%d-%H%M%S", time.localtime(now))
    return f"{stamp}-{os.urandom(2).hex()}"


def is_entry_id(name: str) -> bool:
    """Tell whether ``name`` can name an entry file inside the journal folder.

    Accepts the ids :func:`new_entry_id` makes and the names of files written
    by hand; refuses anything that could lead out of the folder or hide there.
    """
    return (
        isinstance(name, str)
        and 0 < len(name) <= 200
        and not name.startswith(".")
        and not _BAD_ID.search(name)
    )


class Journal:
    """The journal folder of a store; see the module's docstring for the contract."""

    def __init__(self, store_path: Path) -> None:
        self.store_path = store_path
        self.path = store_path / JOURNAL_DIR

    def __repr__(self) -> str:
        return f"<Journal {self.path}>"

    # Reading ---------------------------------------------------------------

    def list_entries(self) -> list[JournalEntry]:
        """Return every entry, newest (by creation time) first."""
        entries = [entry for entry in self._read_all() if entry is not None]
        return sorted(entries, key=lambda e: (e.created, e.id), reverse=True)

    def get_entry(self, entry_id: str) -> JournalEntry:
        """Return the entry ``entry_id``.

        Raises:
            JournalEntryNotFound: no such entry, or the id cannot name one.
            StoreError: the entry's file exists but cannot be read.
        """
        path = self._entry_path(entry_id)
        try:
            return self._read_entry(path)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise self._not_found(entry_id) from None
        except OSError as err:
            raise StoreError(f"Cannot read journal entry {path}: {err}.") from err

    def search(self, words: str) -> list[JournalEntry]:
        """Return the entries holding every word of ``words``, newest first.

        A word matches case-insensitively anywhere in the text or a tag (``lr``
        finds ``lr=0.1`` and ``LRs``). No words at all match every entry.
        """
        wanted = [word.casefold() for word in words.split()]
        return [entry for entry in self.list_entries() if _holds(entry, wanted)]

    # Writing ---------------------------------------------------------------

    def add_entry(
        self, text: str, tags: Sequence[str] = (), when: float | None = None
    ) -> JournalEntry:
        """Write a new entry and return it as read back.

        Args:
            text: Markdown; blank lines around it are dropped.
            tags: words to find it by (checked as run tags are).
            when: its creation time (default now), which also dates its id.

        Raises:
            JournalError: the text is empty or a tag is not allowed.
            StoreError: the journal folder cannot be written.
        """
        body, checked = _check_text(text), _check_tags(tags)
        stamp = time.time() if when is None else when
        content = _format_entry(stamp, stamp, checked, body)
        try:
            path = self._publish(content, stamp)
        except OSError as err:
            raise _write_error(
                f"Cannot add a journal entry in {self.path}", err
            ) from err
        logger.info("Added journal entry %s.", path.stem)
        return self._read_entry(path)

    def update_entry(
        self, entry_id: str, text: str, tags: Sequence[str] | None = None
    ) -> JournalEntry:
        """Replace an entry's text (and tags, unless None); keep its creation time.

        An update that changes neither text nor tags leaves the file alone.

        Raises:
            JournalEntryNotFound: no such entry.
            JournalError: the text is empty or a tag is not allowed.
            StoreError: the entry cannot be written.
        """
        body = _check_text(text)
        checked = None if tags is None else _check_tags(tags)
        self.get_entry(entry_id)
        try:
            # The lock makes the read-modify-write whole against other updaters.
            with locked(self.path):
                old = self.get_entry(entry_id)
                new_tags = old.tags if checked is None else checked
                if (body, new_tags) != (old.text, old.tags):
                    content = _format_entry(old.created, time.time(), new_tags, body)
                    write_text_atomic(old.path, content)
        except OSError as err:
            raise _write_error(f"Cannot update journal entry {entry_id}", err) from err
        return self.get_entry(entry_id)

    # Helpers ---------------------------------------------------------------

    def _entry_path(self, entry_id: str) -> Path:
        if not is_entry_id(entry_id):
            raise self._not_found(entry_id)
        path = self.path / f"{entry_id}.md"
        if not self._is_inside(path):
            raise self._not_found(entry_id)
        return path

    def _not_found(self, entry_id: str) -> JournalEntryNotFound:
        return JournalEntryNotFound(f"No journal entry {entry_id!r} in {self.path}.")

    def _is_inside(self, path: Path) -> bool:
        """False for a link that leads out of the journal folder."""
        if not path.is_symlink():
            return True
        return path.resolve().parent == self.path.resolve()

    def _read_all(self) -> Iterator[JournalEntry | None]:
        try:
            names = sorted(e.name for e in os.scandir(self.path) if e.is_file())
        except FileNotFoundError:
            return
        for name in names:
            if name.endswith(".md") and is_entry_id(name[:-3]):
                yield self._read_listed(self.path / name)

    def _read_listed(self, path: Path) -> JournalEntry | None:
        """Read one entry for a listing; None (and a log line) if it cannot be."""
        if not self._is_inside(path):
            logger.warning(
                "Skipping journal file %s: it links outside %s.", path, self.path
            )
            return None
        try:
            return self._read_entry(path)
        except FileNotFoundError:
            logger.debug("Journal file %s vanished while listing.", path)
        except OSError as err:
            logger.warning("Skipping journal file %s: %s.", path, err)
        return None

    def _read_entry(self, path: Path) -> JournalEntry:
        raw = path.read_text(encoding="utf-8-sig", errors="replace")
        mtime = path.stat().st_mtime
        front, body = _split_front_matter(raw, path)
        created = _read_time(front.get("created"), mtime, path)
        updated = _read_time(front.get("updated"), created, path)
        tags = _read_tags(front.get("tags"), path)
        return JournalEntry(path.stem, path, created, updated, tags, _tidy(body))

    def _publish(self, content: str, when: float) -> Path:
        """Write ``content`` under a fresh entry id; return the new file's path."""
        if not self.path.is_dir():
            layout.create_store_dir(self.store_path)
            self.path.mkdir(exist_ok=True)
        staging = self.path / f".new-{os.urandom(4).hex()}.md.tmp"
        write_text_atomic(staging, content)
        try:
            for _ in range(1000):
                target = self.path / f"{new_entry_id(when)}.md"
                with contextlib.suppress(FileExistsError):
                    _link_exclusive(staging, target)
                    return target
        finally:
            with contextlib.suppress(FileNotFoundError):
                staging.unlink()
        raise FileExistsError(f"Could not find a free entry id in {self.path}.")


# Entry files -----------------------------------------------------------------


def _check_text(text: str) -> str:
    if not isinstance(text, str) or not text.strip():
        raise JournalError("A journal entry needs some text; give it a line or more.")
    return _tidy(text)


def _check_tags(tags: Sequence[str]) -> tuple[str, ...]:
    if isinstance(tags, str):
        raise JournalError(f"Tags {tags!r} must be a list of words, not one string.")
    try:
        return tuple(layout.check_tags(tags))
    except ValueError as err:
        raise JournalError(str(err)) from None


def _tidy(text: str) -> str:
    """Drop blank lines before the text and white space after it."""
    return _LEADING_BLANK_LINES.sub("", text).rstrip()


def _holds(entry: JournalEntry, words: Sequence[str]) -> bool:
    haystack = "\n".join((entry.text, *entry.tags)).casefold()
    return all(word in haystack for word in words)


def _format_entry(
    created: float, updated: float, tags: Sequence[str], text: str
) -> str:
    shown = ", ".join(_format_tag(tag) for tag in tags)
    return (
        f"---\ncreated: {_format_time(created)}\nupdated: {_format_time(updated)}\n"
        f"tags: [{shown}]\n---\n{text}\n"
    )


def _format_time(when: float) -> str:
    # Milliseconds keep entries written in one second in order; the offset
    # makes local time unambiguous.
    local = datetime.fromtimestamp(when).astimezone()
    return local.isoformat(timespec="milliseconds")


def _format_tag(tag: str) -> str:
    """A tag as a YAML flow item: bare when YAML reads it back as the same text."""
    if _PLAIN_TAG.fullmatch(tag) and tag.lower() not in _YAML_WORDS:
        return tag
    return json.dumps(tag, ensure_ascii=False)


def _split_front_matter(raw: str, path: Path) -> tuple[dict[str, Any], str]:
    """Return the front matter (``{}`` if none or malformed) and the text after it."""
    first, _, rest = raw.partition("\n")
    if first.rstrip() != "---":
        return {}, raw
    end = _FRONT_END.search(rest)
    if end is None:
        logger.warning(
            "Journal file %s has an unclosed front matter; reading it as text.", path
        )
        return {}, raw
    try:
        return loads_config(rest[: end.start()], source=str(path)), rest[end.end() :]
    except ConfigError as err:
        logger.warning(
            "Journal file %s has a malformed front matter (%s); reading it as text.",
            path,
            err,
        )
        return {}, raw


def _read_time(value: Any, default: float, path: Path) -> float:
    if value is None:
        return default
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    try:
        text = str(value).strip()
        # Python 3.10 reads no "Z"; naive times are local, as people write them.
        text = text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text
        return datetime.fromisoformat(text).timestamp()
    except (ValueError, OverflowError, OSError):
        logger.warning(
            "Journal file %s has a bad date %r; using its file time.", path, value
        )
        return default


def _read_tags(value: Any, path: Path) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list):
        logger.warning(
            "Journal file %s has tags that are not a list; ignoring them.", path
        )
        return ()
    words = (_tag_text(item).strip() for item in value)
    return tuple(dict.fromkeys(word for word in words if word))


def _tag_text(item: Any) -> str:
    if isinstance(item, bool) or item is None:
        return json.dumps(item)
    return str(item)


def _link_exclusive(source: Path, target: Path) -> None:
    """Give ``source``'s content the name ``target``; FileExistsError if taken."""
    try:
        os.link(source, target)
    except FileExistsError:
        raise
    except OSError as err:
        if err.errno not in _NO_LINKS:
            raise
        os.close(os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
        os.replace(source, target)


def _write_error(what: str, err: OSError) -> StoreError:
    if err.errno == errno.EROFS:
        return StoreError(
            f"{what}: the store is on a read-only file system. Remount it "
            "writable, or copy the store, to write in its journal."
        )
    return StoreError(f"{what}: {err}.")
