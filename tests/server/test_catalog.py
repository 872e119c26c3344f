"""The server's cached view of a store: fresh after max_age, cheap when unchanged."""

from __future__ import annotations

import json
import shutil
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


def _edit_run_json(store: Path, run_id: str, **fields: object) -> None:
    """Change run.json by hand, as no runlab command would: the index is not told."""
    path = store / run_id / "run.json"
    meta = json.loads(path.read_text())
    meta.update(fields)
    path.write_text(json.dumps(meta))


def test_a_changed_run_is_reread_alone(tmp_path: Path) -> None:
    store = tmp_path / "experiments"
    ids = [_finished_run(store, name) for name in ("a", "b", "c")]
    catalog = RunCatalog(open_store(store), max_age=0.0)
    before = {r["id"]: r for r in catalog.records()}

    _edit_run_json(store, ids[1], name="b2")
    after = catalog.records()

    assert [r["name"] for r in after] == ["a", "b2", "c"]
    # The other two records are the very same objects: they were not reread.
    assert after[0] is before[ids[0]] and after[2] is before[ids[2]]
    assert catalog.get("b2")["id"] == ids[1]
    assert open_store(store).index.get(ids[1])["name"] == "b2"


def test_new_and_deleted_runs_keep_the_start_order(tmp_path: Path) -> None:
    store = tmp_path / "experiments"
    ids = [_finished_run(store, name) for name in ("a", "b")]
    catalog = RunCatalog(open_store(store), max_age=0.0)
    assert [r["name"] for r in catalog.records()] == ["a", "b"]

    third = _finished_run(store, "c")
    _edit_run_json(store, third, started=0.0)  # as if it started first
    shutil.rmtree(store / ids[0])

    assert [r["name"] for r in catalog.records()] == ["c", "b"]
    assert [r["name"] for r in catalog.select("", ["name"])] == ["b", "c"]


def test_many_changed_runs_are_read_in_one_go(tmp_path: Path) -> None:
    store = tmp_path / "experiments"
    ids = [_finished_run(store, name) for name in ("a", "b", "c")]
    catalog = RunCatalog(open_store(store), max_age=0.0)
    before = catalog.records()

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("runlab.server.catalog.REREAD_LIMIT", 1)
        _edit_run_json(store, ids[0], name="a2")
        _edit_run_json(store, ids[2], name="c2")
        after = catalog.records()

    assert [r["name"] for r in after] == ["a2", "b", "c2"]
    assert not any(r is s for r, s in zip(after, before, strict=True))
