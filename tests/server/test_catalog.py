"""The server's cached view of a store: fresh after max_age, cheap when unchanged."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

import runlab
from runlab.server.catalog import RunCatalog
from runlab.store import open_store


@pytest.fixture(autouse=True)
def _quiet(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNLAB_SYSTEM_METRICS", "0")
    monkeypatch.delenv("RUNLAB_RUN_DIR", raising=False)


def _finished_run(store: Path, name: str) -> str:
    with runlab.start(store=store, name=name) as run:
        run.log({"loss": 1.0}, step=0)
    return run.id


def test_unchanged_store_keeps_the_same_records(tmp_path: Path) -> None:
    store = tmp_path / "experiments"
    _finished_run(store, "a")
    catalog = RunCatalog(open_store(store), max_age=0.0)

    first = catalog.records()
    again = catalog.records()

    assert again is first
    assert [r["name"] for r in again] == ["a"]


def test_new_run_and_changed_tags_show_after_max_age(tmp_path: Path) -> None:
    store = tmp_path / "experiments"
    _finished_run(store, "a")
    catalog = RunCatalog(open_store(store), max_age=0.05)
    assert len(catalog.records()) == 1

    second = _finished_run(store, "b")
    open_store(store).set_tags(second, add=["new"])
    time.sleep(0.1)

    assert sorted(r["name"] for r in catalog.records()) == ["a", "b"]
    assert catalog.get("b")["tags"] == ["new"]


def test_selection_is_filtered_and_sorted(tmp_path: Path) -> None:
    store = tmp_path / "experiments"
    for name in ("c", "a", "b"):
        _finished_run(store, name)
    catalog = RunCatalog(open_store(store))

    chosen = catalog.select("name != b", ["name"])

    assert [r["name"] for r in chosen] == ["a", "c"]
