"""Run folders, metric series, checkpoints, the index and queries over them."""

from __future__ import annotations

from runlab.store.store import Store, open_store
from runlab.store.stored import StoredRun

__all__ = ["Store", "StoredRun", "open_store"]
