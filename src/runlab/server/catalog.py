"""The server's view of the store's runs: records held in memory a short while.

A page polls every few seconds and pages through thousands of runs; reading
the index for each request would cost tens of milliseconds each time. The
catalog re-reads the store at most once per ``max_age`` seconds (only the runs
whose run.json changed, when they are few), and keeps the last filtered and
sorted selection so that paging does not refilter.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar, cast

from runlab.errors import RunNotFound, StoreError
from runlab.store.query import parse_filter, sort_records
from runlab.store.store import Store, started_order

__all__ = ["RunCatalog"]

Record = dict[str, Any]
T = TypeVar("T")
MEMO_SIZE = 64
# Beyond this many changed runs, one read of the whole index is cheaper.
REREAD_LIMIT = 200


class RunCatalog:
    """Records of a store, refreshed when older than ``max_age`` seconds."""

    def __init__(self, store: Store, max_age: float = 1.0) -> None:
        self.store = store
        self.max_age = max_age
        self._lock = threading.Lock()
        self._records: list[Record] = []
        self._stamps: dict[str, str] | None = None
        self._by_id: dict[str, Record] = {}
        self._read_at = -1.0
        self._generation = 0
        self._selection: tuple[tuple[Any, ...], list[Record]] | None = None
        self._memo: dict[tuple[Any, ...], Any] = {}

    def records(self) -> list[Record]:
        """Every run's record, at most ``max_age`` seconds old."""
        with self._lock:
            if time.monotonic() - self._read_at > self.max_age:
                self._refresh()
            return self._records

    def select(self, where: str, sort: Sequence[str]) -> list[Record]:
        """Records matching filter ``where``, sorted by ``sort``.

        Raises:
            FilterSyntaxError: ``where`` is not a valid filter.
        """
        matcher = parse_filter(where)
        records = self.records()
        key = (self._generation, where, tuple(sort))
        cached = self._selection
        if cached is not None and cached[0] == key:
            return cached[1]
        chosen = [r for r in records if matcher.matches(r)]
        if sort:
            # sort_records returns the same dicts, typed as read-only mappings.
            chosen = cast(list[Record], sort_records(chosen, list(sort)))
        self._selection = (key, chosen)
        return chosen

    def remember(self, key: tuple[Any, ...], compute: Callable[[], T]) -> T:
        """``compute()``, kept until the records are read again."""
        full = (self._generation, *key)
        if full not in self._memo:
            stale = any(k[0] != self._generation for k in self._memo)
            if stale or len(self._memo) >= MEMO_SIZE:
                self._memo = {}
            self._memo[full] = compute()
        return cast(T, self._memo[full])

    def get(self, ref: str) -> Record:
        """The record of the run named by id, id prefix or name.

        Raises:
            RunNotFound: no run, or several, match ``ref``.
        """
        self.records()
        record = self._by_id.get(ref)
        if record is None:
            record = self._by_id.get(self.store.resolve(ref))
        if record is None:
            # Created after the last refresh: read the store again now.
            with self._lock:
                self._refresh()
            record = self._by_id.get(self.store.resolve(ref))
        if record is None:
            raise RunNotFound(f"No run '{ref}' in {self.store.path}.")
        return record

    def get_many(self, refs: Sequence[str]) -> list[Record]:
        """Records of several runs, in the order given."""
        return [self.get(ref) for ref in refs]

    def forget(self) -> None:
        """Read the store afresh at the next request (after a change here)."""
        with self._lock:
            self._read_at = -1.0

    def _refresh(self) -> None:
        # Stating the run files is a third of a full read: when none changed,
        # only the running runs' status needs deciding again.
        stamps = self.store.run_stamps()
        if stamps == self._stamps:
            self.store.refresh_status(self._records)
        else:
            # A running run's heartbeat changes its run.json every few
            # seconds: reread that run, not the 10,000 others.
            changed = self._reread_changed(stamps)
            self._records = changed if changed is not None else self.store.records()
            self._by_id = {r["id"]: r for r in self._records}
            self._stamps = stamps
            # Selections and column lists made from the old records go stale.
            self._generation += 1
        self._read_at = time.monotonic()

    def _reread_changed(self, stamps: dict[str, str]) -> list[Record] | None:
        """The records with only the changed runs reread; None: read them all."""
        old = self._stamps
        if old is None:
            return None
        changed = [i for i, stamp in stamps.items() if old.get(i) != stamp]
        gone = old.keys() - stamps.keys()
        if len(changed) + len(gone) > REREAD_LIMIT:
            return None
        try:
            fresh = self.store.reread_runs(changed)
        except (StoreError, OSError):
            return None  # a read-only store, say: the full read copes
        dropped = gone.union(changed)
        records = [r for r in self._records if r["id"] not in dropped]
        records.extend(fresh)
        records.sort(key=started_order)
        self.store.refresh_status(records)
        return records
