"""The index: one SQLite database over all runs of a store, rebuilt from folders.

Contract:
- The folders are the truth; the index is a cache of one *record* per run (the
  dict described in :mod:`runlab.store.record`) and can always be rebuilt from
  them (:meth:`runlab.store.Store.reindex`). Each row keeps the *stamp* of the
  run.json it was built from (inode, size, mtime), so the store can tell which
  rows are stale without reading the files.
- SQLite runs in WAL mode with a busy timeout, so many processes can write
  short transactions at once and readers never block writers.
- Schema changes are named migrations, recorded in the ``migrations`` table.

Limit: SQLite's locking needs a local file system. On a network file system
several hosts writing one index at once may corrupt it; it is then set aside
and rebuilt from the folders on the next open. (A PostgreSQL index for shared
stores is planned, not built.)
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from runlab import _json
from runlab.errors import StoreError, StoreLocked

__all__ = ["RunIndex"]

logger = logging.getLogger(__name__)

BUSY_TIMEOUT_S = 30.0

MIGRATIONS: list[tuple[str, str]] = [
    (
        "0001_runs",
        """
        CREATE TABLE runs (
            id TEXT PRIMARY KEY,
            name TEXT,
            status TEXT,
            started REAL,
            record TEXT NOT NULL,
            updated REAL NOT NULL
        );
        CREATE INDEX runs_name ON runs(name);
        CREATE INDEX runs_started ON runs(started);
        """,
    ),
    ("0002_run_file_stamp", "ALTER TABLE runs ADD COLUMN stamp TEXT"),
]


class RunIndex:
    """SQLite index of a store's runs, kept in ``<store>/.runlab/index.sqlite``."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        """Open a short-lived connection, migrated, and translate driver errors."""
        conn = self._open()
        try:
            yield conn
            conn.commit()
        except sqlite3.OperationalError as err:
            if "locked" in str(err) or "busy" in str(err):
                raise StoreLocked(
                    f"The index {self.path} stayed locked for {BUSY_TIMEOUT_S:.0f} s; "
                    "another process holds it. Try again."
                ) from err
            raise StoreError(f"Index {self.path}: {err}.") from err
        finally:
            conn.close()

    def _open(self) -> sqlite3.Connection:
        try:
            return self._open_once()
        except sqlite3.OperationalError as err:
            raise StoreError(
                f"Cannot open the index {self.path}: {_open_failure(err, self.path)}."
            ) from err
        except sqlite3.DatabaseError as err:
            # Not a database any more (a bad copy, a disk fault): the index is
            # only a cache of the folders, so set it aside and start afresh.
            aside = self.path.with_name(f"{self.path.name}.corrupt-{int(time.time())}")
            logger.warning("The index %s is corrupt (%s); moved it to %s and rebuilding.",
                           self.path, err, aside.name)  # fmt: skip
            try:
                os.replace(self.path, aside)
                return self._open_once()
            except (OSError, sqlite3.Error) as again:
                raise StoreError(
                    f"Cannot open the index {self.path}: {again}."
                ) from err

    def _open_once(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S)
        except OSError as err:
            raise StoreError(f"Cannot open the index {self.path}: {err}.") from err
        try:
            _prepare(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    def upsert(
        self, records: Iterable[dict[str, Any]], stamps: Mapping[str, str] | None = None
    ) -> None:
        """Insert or replace the records of some runs in one transaction.

        Args:
            stamps: run id to the stamp of the run.json each record was read from.
        """
        rows = [_row(r, stamps) for r in records]
        with self.connect() as conn:
            conn.executemany(f"INSERT OR REPLACE INTO runs {_COLUMNS}", rows)

    def remove(self, run_ids: Iterable[str]) -> None:
        """Drop runs from the index (their folders are handled by the store)."""
        with self.connect() as conn:
            conn.executemany("DELETE FROM runs WHERE id = ?", [(i,) for i in run_ids])

    def records(self) -> list[dict[str, Any]]:
        """Return every run's record, oldest first."""
        with self.connect() as conn:
            # Ids sort by the second only; runs started within one come by time.
            rows = conn.execute(
                "SELECT record FROM runs ORDER BY started, id"
            ).fetchall()
        return [_revive(row[0]) for row in rows]

    def stamps(self) -> dict[str, str | None]:
        """Return every indexed run id with the stamp its record was built from."""
        with self.connect() as conn:
            return dict(conn.execute("SELECT id, stamp FROM runs").fetchall())

    def ids(self) -> list[str]:
        """Return every indexed run id, sorted."""
        with self.connect() as conn:
            return [r[0] for r in conn.execute("SELECT id FROM runs ORDER BY id")]

    def get(self, run_id: str) -> dict[str, Any] | None:
        """Return one run's record, or None."""
        with self.connect() as conn:
            row = conn.execute(
                "SELECT record FROM runs WHERE id = ?", (run_id,)
            ).fetchone()
        return _revive(row[0]) if row else None

    def find(self, ref: str) -> list[str]:
        """Return the ids of runs whose id starts with ``ref`` or whose name is it."""
        pattern = ref.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        with self.connect() as conn:
            rows = conn.execute(
                "SELECT id FROM runs WHERE id = ? OR name = ? OR id LIKE ? ESCAPE '\\'"
                " ORDER BY id",
                (ref, ref, pattern + "%"),
            ).fetchall()
        return [r[0] for r in rows]

    def replace_all(
        self, records: Iterable[dict[str, Any]], stamps: Mapping[str, str] | None = None
    ) -> None:
        """Replace the whole index with ``records`` in one transaction."""
        rows = [_row(r, stamps) for r in records]
        with self.connect() as conn:
            conn.execute("DELETE FROM runs")
            conn.executemany(f"INSERT INTO runs {_COLUMNS}", rows)


def _open_failure(err: sqlite3.Error, path: Path) -> str:
    # SQLite says "unable to open database file" for a read-only store too.
    try:
        read_only = bool(os.statvfs(path.parent).f_flag & os.ST_RDONLY)
    except OSError:
        read_only = False
    return "the store is on a read-only file system" if read_only else str(err)


def _revive(text: str) -> dict[str, Any]:
    from runlab.store.record import revive_metrics

    record: dict[str, Any] = _json.loads_compact(text)
    record["metrics"] = revive_metrics(record.get("metrics"))
    return record


_COLUMNS = (
    "(id, name, status, started, record, updated, stamp) VALUES (?, ?, ?, ?, ?, ?, ?)"
)


def _row(record: dict[str, Any], stamps: Mapping[str, str] | None) -> tuple[Any, ...]:
    return (
        record["id"],
        record.get("name"),
        record.get("status"),
        record.get("started"),
        _json.dumps(record),
        time.time(),
        (stamps or {}).get(record["id"]),
    )


def _prepare(conn: sqlite3.Connection) -> None:
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(
        "CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied REAL)"
    )
    if _pending(conn):
        _migrate(conn)


def _pending(conn: sqlite3.Connection) -> list[tuple[str, str]]:
    done = {r[0] for r in conn.execute("SELECT name FROM migrations")}
    return [(name, sql) for name, sql in MIGRATIONS if name not in done]


def _migrate(conn: sqlite3.Connection) -> None:
    # Take the write lock first, then look again: of many processes opening a
    # new store at once, exactly one applies each migration.
    conn.execute("BEGIN IMMEDIATE")
    for name, sql in _pending(conn):
        for statement in filter(str.strip, sql.split(";")):
            conn.execute(statement)
        conn.execute("INSERT INTO migrations VALUES (?, ?)", (name, time.time()))
        logger.info("Applied index migration %s.", name)
    conn.commit()
