"""runlab: track, find and compare machine-learning experiments.

The public API, imported lazily so that ``import runlab`` stays cheap::

    import runlab
    run = runlab.start(config="config.yaml")
    run.log({"train/loss": 0.3}, step=1)
    run.finish()
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runlab.preview import data_preview
    from runlab.run import Run, active_run, log, start
    from runlab.store import Store, StoredRun, open_store

__all__ = [
    "Run",
    "Store",
    "StoredRun",
    "active_run",
    "data_preview",
    "load_run",
    "log",
    "open_store",
    "start",
]

__version__ = "0.1.0"

_LAZY = {
    "Run": "runlab.run",
    "start": "runlab.run",
    "log": "runlab.run",
    "active_run": "runlab.run",
    "data_preview": "runlab.preview",
    "Store": "runlab.store",
    "StoredRun": "runlab.store",
    "open_store": "runlab.store",
}


def load_run(ref: str, store: str | None = None) -> StoredRun:
    """Return the run named by id, unique id prefix or name, from the store."""
    from runlab.store import open_store

    return open_store(store).load_run(ref)


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'runlab' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
