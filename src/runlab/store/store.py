"""The store: a folder of run folders plus the index over them.

Contract:
- Each run lives in ``<store>/<run id>/`` and is written by its own process(es)
  only; the store touches a run's files for user edits (tags, notes, status
  repairs) under the run folder's lock.
- The index is refreshed from a run's folder at start, periodically, at finish
  and on every user edit; :meth:`Store.reindex` rebuilds it from all folders.
  Before listing or looking up runs, the store also brings it in line with the
  folders: runs copied in, removed by hand or whose run.json changed since it
  was indexed (one ``stat`` per run) are re-read, so the index never hides the
  state of a folder, broken ones included.
- Listing shows the *live* status: a ``running`` run whose process is gone is
  shown ``crashed`` and, where the store is writable, recorded as such; its
  record is then read afresh, so points flushed after its last heartbeat count.
- A run folder without run.json that changed in the last ``CREATING_S``
  seconds is a run being created (its owner writes run.json just after the
  folder): listings and the index leave it out until it is whole. Later it
  lists as ``unreadable``.
- ``rm`` moves a run to ``<store>/.trash/``; ``purge`` deletes its bytes.
- A store on a read-only file system is read as usual (from its folders when
  the index cannot be opened); each change to it raises a :class:`StoreError`
  that says the store is read-only.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import shutil
import signal
import socket
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from runlab._atomic import write_text_atomic
from runlab.errors import RunNotFound, StoreError
from runlab.store import layout
from runlab.store.files import update_json
from runlab.store.index import RunIndex
from runlab.store.record import build_record, live_status
from runlab.store.stored import StoredRun

__all__ = ["Store", "open_store", "started_order"]

logger = logging.getLogger(__name__)

Progress = Callable[[int, int], None]

CREATING_S = 30.0


def open_store(path: str | os.PathLike[str] | None = None) -> Store:
    """Open the store at ``path`` (else RUNLAB_DIR, else the git top or cwd)."""
    return Store(layout.resolve_store_path(path))


class Store:
    """A folder of runs and its index."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.index = RunIndex(path / layout.INDEX_DIR / "index.sqlite")

    def __repr__(self) -> str:
        return f"<Store {self.path}>"

    def run_dir(self, run_id: str) -> Path:
        return self.path / run_id

    def run_ids_on_disk(self) -> list[str]:
        """Ids of every run folder, sorted; the index is not consulted."""
        if not self.path.is_dir():
            return []
        return sorted(e.name for e in os.scandir(self.path) if layout.is_run_id(e.name))

    # Reading ---------------------------------------------------------------

    def records(
        self, where: str | None = None, sort: Sequence[str] = ()
    ) -> list[dict[str, Any]]:
        """Return the records of runs matching filter ``where``, sorted by ``sort``.

        Raises:
            FilterSyntaxError: ``where`` is not a valid filter.
        """
        from runlab.store.query import parse_filter, sort_records

        matcher = parse_filter(where or "")
        records = self._live(self._indexed_records())
        chosen = [r for r in records if matcher.matches(r)]
        if not sort:
            return chosen
        return [dict(r) for r in sort_records(chosen, list(sort))]

    def runs(
        self, where: str | None = None, sort: Sequence[str] = ()
    ) -> Iterator[StoredRun]:
        """Iterate the runs matching filter ``where`` (see :meth:`records`)."""
        for record in self.records(where, sort):
            yield StoredRun(self.run_dir(record["id"]), record)

    def run_stamps(self) -> dict[str, str]:
        """A stamp per run folder that changes whenever its run.json does.

        Equal stamps mean :meth:`records` would answer as before, but for
        the live status of running runs (see :meth:`refresh_status`).
        """
        return self._settled_stamps() if self.path.is_dir() else {}

    def refresh_status(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Decide again, in place, whether the running runs of ``records`` still run."""
        return self._live(records)

    def resolve(self, ref: str) -> str:
        """Return the id of the run named by id, unique id prefix, or name.

        Raises:
            RunNotFound: no run, or several, match ``ref``.
        """
        ref = ref.strip()
        if layout.is_run_id(ref) and self.run_dir(ref).is_dir():
            return ref
        # Looking up a run in a mistyped store must not create that store.
        if not ref or not self.path.is_dir():
            raise RunNotFound(f"No run '{ref}' in {self.path}; see `runlab ls`.")
        with contextlib.suppress(StoreError):
            # A read-only store can still answer from the index it has.
            self._sync_index()
        try:
            matches = self.index.find(ref)
        except StoreError:
            # No index to open (a read-only store whose index was never
            # opened there): the folders answer, as they do for listings.
            matches = self._find_in_folders(ref)
        exact = [m for m in matches if m == ref]
        if exact or len(matches) == 1:
            return (exact or matches)[0]
        if not matches:
            trashed = self._find_in_trash(ref)
            if len(trashed) == 1:
                raise RunNotFound(
                    f"Run '{ref}' is in the trash of {self.path}; bring it back "
                    f"with `runlab restore {trashed[0]}`."
                )
            raise RunNotFound(f"No run '{ref}' in {self.path}; see `runlab ls`.")
        shown = ", ".join(matches[:5]) + (", ..." if len(matches) > 5 else "")
        raise RunNotFound(
            f"'{ref}' matches {len(matches)} runs ({shown}); give more of the id."
        )

    def load_run(self, ref: str) -> StoredRun:
        """Return the run named by ``ref``, read fresh from its folder."""
        run_id = self.resolve(ref)
        record = self._live_record(run_id)
        return StoredRun(self.run_dir(run_id), record)

    # Writing ---------------------------------------------------------------

    def index_run(self, run_id: str) -> dict[str, Any]:
        """Read a run's folder and put its record in the index."""
        # Stamp first: a run.json changed while we read it then looks stale.
        stamp = self._run_stamp(run_id)
        record = build_record(self.run_dir(run_id))
        self.index.upsert([record], {run_id: stamp})
        return record

    def reread_runs(self, run_ids: Sequence[str]) -> list[dict[str, Any]]:
        """Re-read the folders of ``run_ids`` into the index; return their records.

        The records are as :meth:`records` lists them (read back from the
        index, live status decided); a run whose folder is gone has none.
        """
        records = []
        for run_id in run_ids:
            if not self.run_dir(run_id).is_dir():
                continue
            self.index_run(run_id)
            record = self.index.get(run_id)
            if record is not None:
                records.append(record)
        return self._live(records)

    def reindex(self, progress: Progress | None = None) -> int:
        """Rebuild the index from the run folders; return how many runs it holds."""
        stamps = self._settled_stamps()
        ids = list(stamps)
        records = []
        for done, run_id in enumerate(ids, 1):
            records.append(build_record(self.run_dir(run_id)))
            if progress:
                progress(done, len(ids))
        self.index.replace_all(records, stamps)
        logger.info("Reindexed %d runs in %s.", len(records), self.path)
        return len(records)

    def set_tags(
        self, ref: str, add: Sequence[str] = (), remove: Sequence[str] = ()
    ) -> list[str]:
        """Add and remove tags of a run; return its tags afterwards.

        Raises:
            StoreError: a tag to add is empty or holds a comma or line break.
        """
        run_id = self.resolve(ref)
        try:
            add = layout.check_tags(add)
        except ValueError as err:
            raise StoreError(str(err)) from None

        def change(meta: dict[str, Any]) -> None:
            tags = [t for t in meta.get("tags") or [] if t not in remove]
            meta["tags"] = tags + [t for t in dict.fromkeys(add) if t not in tags]

        meta = self._update_meta(run_id, change)
        self.index_run(run_id)
        return list(meta["tags"])

    def add_note(self, ref: str, text: str, when: float | None = None) -> Path:
        """Append a timestamped paragraph to a run's README.md."""
        from runlab.store.files import locked

        if not text.strip():
            raise StoreError("A note needs some text; the note was not added.")
        run_id = self.resolve(ref)
        path = self.run_dir(run_id) / layout.NOTES_FILE
        try:
            with locked(path.parent), open(path, "a", encoding="utf-8") as notes:
                notes.write(format_note(text, when))
        except OSError as err:
            raise self._write_error(f"Cannot add a note to run {run_id}", err) from err
        return path

    def set_notes(self, ref: str, text: str) -> Path:
        """Replace a run's README.md with ``text`` (the page's note editor)."""
        from runlab.store.files import locked

        run_id = self.resolve(ref)
        path = self.run_dir(run_id) / layout.NOTES_FILE
        try:
            # The lock orders this with a running script's run.note() appends.
            with locked(path.parent):
                write_text_atomic(path, text, durable=True)
        except OSError as err:
            raise self._write_error(
                f"Cannot write the notes of run {run_id}", err
            ) from err
        return path

    def trash_run(self, ref: str, *, force: bool = False) -> Path:
        """Move a run to the store's trash folder and drop it from the index.

        With ``force``, a run still running on this host is stopped first
        (see :meth:`stop_run`).

        Raises:
            StoreError: the run is still running (unless ``force``): its
                process would go on writing into a folder that is gone.
        """
        run_id = self.resolve(ref)
        if force:
            self.stop_run(run_id)
        else:
            self._refuse_if_running(run_id, "move it to the trash")
        target = self.path / layout.TRASH_DIR / run_id
        try:
            target.parent.mkdir(exist_ok=True)
            # os.replace would merge into an empty folder of the same name.
            if target.exists():
                raise FileExistsError(f"{target} already exists")
            os.replace(self.run_dir(run_id), target)
        except OSError as err:
            what = f"Cannot move run {run_id} to the trash"
            if err.errno == errno.EROFS:
                raise self._write_error(what, err) from err
            raise StoreError(
                f"{what}: {err}. Delete the old copy there first, or check the "
                "store's permissions."
            ) from err
        self.index.remove([run_id])
        return target

    def stop_run(self, run_id: str, grace: float = 15.0) -> bool:
        """Stop the process of a running run: SIGTERM, then SIGKILL after ``grace``.

        Returns whether there was a process to stop. The run ends ``killed``
        (its process or wrapper marks it so).

        Raises:
            StoreError: the run runs on another host, where no signal reaches.
        """
        record = self._live_record(run_id)
        if record.get("status") != "running":
            return False
        pid, host = record.get("pid"), record.get("host")
        if host != socket.gethostname() or type(pid) is not int or pid <= 0:
            raise StoreError(
                f"Run {run_id} is running on {host} (pid {pid}); stop it there first."
            )
        for signum, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
            logger.warning(
                "Run %s is running; sending %s to its process %d.",
                run_id, signal.Signals(signum).name, pid,
            )  # fmt: skip
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline:
                record = self._live_record(run_id)
                if record.get("status") != "running":
                    return True
                time.sleep(0.1)
        raise StoreError(f"Run {run_id} (pid {pid}) did not stop; it is left as it is.")

    def _live_record(self, run_id: str) -> dict[str, Any]:
        """The run's record read from its folder, its status decided now."""
        return self._live([build_record(self.run_dir(run_id))])[0]

    def _refuse_if_running(self, run_id: str, doing: str) -> None:
        record = self._live_record(run_id)
        if record.get("status") == "running":
            raise StoreError(
                f"Run {run_id} is still running (pid {record.get('pid')} on "
                f"{record.get('host')}); stop it first, or {doing} with --force, "
                "which stops it."
            )

    def purge_run(self, ref: str, *, force: bool = False) -> int:
        """Delete a run's folder (or its trashed copy) for good; return bytes freed."""
        run_id = self.resolve_any(ref)
        if self.run_dir(run_id).is_dir():
            if force:
                self.stop_run(run_id)
            else:
                self._refuse_if_running(run_id, "delete it")
        folders = [self.run_dir(run_id), self.path / layout.TRASH_DIR / run_id]
        freed = 0
        for folder in folders:
            if folder.is_dir():
                freed += _folder_bytes(folder)
                try:
                    shutil.rmtree(folder)
                except OSError as err:
                    raise self._write_error(f"Cannot delete run {run_id}", err) from err
        self.index.remove([run_id])
        return freed

    def restore_run(self, ref: str) -> str:
        """Move a trashed run (by id, unique id prefix or name) back; return its id.

        Raises:
            RunNotFound: no trashed run, or several, match ``ref``.
            StoreError: a run of that id is in the store again, or the move failed.
        """
        found = self._find_in_trash(ref.strip())
        if len(found) != 1:
            what = "no trashed run" if not found else f"{len(found)} trashed runs"
            raise RunNotFound(f"'{ref}' matches {what} in {self.path}.")
        run_id = found[0]
        if self.run_dir(run_id).exists():
            raise StoreError(
                f"Run {run_id} is in the store and in its trash; remove one by hand."
            )
        try:
            os.replace(self.path / layout.TRASH_DIR / run_id, self.run_dir(run_id))
        except OSError as err:
            raise self._write_error(f"Cannot restore run {run_id}", err) from err
        self.index_run(run_id)
        return run_id

    def _find_in_trash(self, ref: str) -> list[str]:
        """Ids of trashed runs whose id, id prefix or name is ``ref``."""
        trash = self.path / layout.TRASH_DIR
        if not ref or not trash.is_dir():
            return []
        ids = sorted(p.name for p in trash.iterdir() if layout.is_run_id(p.name))
        if ref in ids:
            return [ref]
        named = [i for i in ids if _trashed_name(trash / i) == ref]
        return named or [i for i in ids if i.startswith(ref)]

    def resolve_any(self, ref: str) -> str:
        """Like :meth:`resolve`, but also finds runs already in the trash."""
        try:
            return self.resolve(ref)
        except RunNotFound:
            trashed = self.path / layout.TRASH_DIR / ref
            if layout.is_run_id(ref) and trashed.is_dir():
                return ref
            raise

    # Helpers -----------------------------------------------------------------

    def _update_meta(
        self, run_id: str, change: Callable[[dict[str, Any]], None]
    ) -> dict[str, Any]:
        try:
            return update_json(self.run_dir(run_id) / layout.RUN_FILE, change)
        except OSError as err:
            raise self._write_error(f"Cannot update run {run_id}", err) from err
        except ValueError as err:
            raise StoreError(f"Cannot update run {run_id}: {err}.") from err

    def _write_error(self, what: str, err: OSError) -> StoreError:
        """Say why a change to the store failed; a read-only store in so many words."""
        if err.errno == errno.EROFS:
            return StoreError(
                f"{what}: the store {self.path} is on a read-only file system. "
                "Remount it writable, or copy the store, to change its runs."
            )
        return StoreError(f"{what}: {err}.")

    def _find_in_folders(self, ref: str) -> list[str]:
        found = []
        for run_id in self._settled_stamps():
            if (
                run_id.startswith(ref)
                or build_record(self.run_dir(run_id))["name"] == ref
            ):
                found.append(run_id)
        return found

    def _run_stamp(self, run_id: str) -> str:
        # An atomic rewrite makes a new inode, so this changes with every write.
        try:
            stat = os.stat(self.run_dir(run_id) / layout.RUN_FILE)
        except OSError:
            return "missing"
        return f"{stat.st_ino}:{stat.st_size}:{stat.st_mtime_ns}"

    def _settled_stamps(self) -> dict[str, str]:
        """Return the stamp of every run folder, less those being created."""
        stamps = {i: self._run_stamp(i) for i in self.run_ids_on_disk()}
        now = time.time()
        for run_id in [i for i, stamp in stamps.items() if stamp == "missing"]:
            with contextlib.suppress(OSError):
                if now - self.run_dir(run_id).stat().st_mtime < CREATING_S:
                    del stamps[run_id]
        return stamps

    def _sync_index(self) -> None:
        """Re-read the runs whose folder changed since indexed; drop vanished ones."""
        on_disk = self._settled_stamps()
        indexed = self.index.stamps()
        stale = [i for i, stamp in on_disk.items() if indexed.get(i) != stamp]
        if stale:
            records = [build_record(self.run_dir(i)) for i in stale]
            self.index.upsert(records, on_disk)
        gone = [i for i in indexed if i not in on_disk]
        if gone:
            self.index.remove(gone)

    def _indexed_records(self) -> list[dict[str, Any]]:
        if not self.path.is_dir():
            return []
        try:
            self._sync_index()
            return self.index.records()
        except StoreError:
            # An index we cannot open (read-only store, say) is no reason not to list.
            logger.warning("Reading runs from their folders: the index is unavailable.")
            records = [build_record(self.run_dir(i)) for i in self._settled_stamps()]
            return sorted(records, key=started_order)

    def _live(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        now = time.time()
        for record in records:
            status = live_status(record, now)
            if status == record.get("status"):
                continue
            record["status"] = status
            if status == "crashed":
                record["ended"] = record.get("heartbeat") or record.get("started")
                # The indexed row predates the crash: points flushed after the
                # last heartbeat are only in the folder, which is read afresh.
                record.update(self._record_crash(record))
        return records

    def _record_crash(self, record: dict[str, Any]) -> dict[str, Any]:
        """Mark a dead run crashed in its run.json; return its fresh record, or {}."""

        def change(meta: dict[str, Any]) -> None:
            if meta.get("status") == "running" and live_status(meta) == "crashed":
                meta["status"] = "crashed"
                meta["ended"] = meta.get("heartbeat") or meta.get("started")

        try:
            self._update_meta(record["id"], change)
            return self.index_run(record["id"])
        except (StoreError, OSError) as err:
            logger.debug("Could not record run %s as crashed: %s", record["id"], err)
            return {}


def format_note(text: str, when: float | None = None) -> str:
    """Return a note paragraph headed by its local time with offset."""
    stamp = datetime.fromtimestamp(time.time() if when is None else when).astimezone()
    return f"\n**{stamp.isoformat(timespec='seconds')}**\n\n{text.strip()}\n"


def _trashed_name(folder: Path) -> str | None:
    try:
        name = json.loads((folder / layout.RUN_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return name.get("name") if isinstance(name, dict) else None


def started_order(record: dict[str, Any]) -> tuple[float, str]:
    """The order of :meth:`Store.records`: by start time, then id; no time first."""
    started = record.get("started")
    number = started if isinstance(started, (int, float)) else float("-inf")
    return (float(number), str(record["id"]))


def _folder_bytes(folder: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(folder):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(root, name)).st_size
    return total
