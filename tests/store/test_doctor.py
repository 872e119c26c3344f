"""The store doctor over real stores damaged for real: what it finds, what it repairs."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import runlab
from runlab.errors import StoreError
from runlab.store import open_store
from runlab.store.doctor import Finding, check_store, fix_findings
from runlab.store.files import read_json, write_json
from runlab.store.stored import iso_time

pytestmark = pytest.mark.usefixtures("runlab_env")

COPY_ID = "991231-235959-beef"
ADVICE = "repair it by hand, or move the run to the trash: `runlab rm {}`"


def make_run(store: Path, name: str) -> str:
    run = runlab.start(store=store, name=name, config={"lr": 0.1})
    for step in (1, 2, 3):
        run.log({"loss": 1.0 / step, "acc": 0.5}, step=step)
    run.finish()
    return run.id


def dead_pid() -> int:
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(child.stdout)


def set_meta(store: Path, run_id: str, **changes: Any) -> dict[str, Any]:
    meta: dict[str, Any] = read_json(store / run_id / "run.json")
    meta.update(changes)
    write_json(store / run_id / "run.json", meta)
    return meta


def stray_temp(
    folder: Path, name: str = ".run.json.k3j9x.tmp", age_s: float = 7200
) -> Path:
    path = folder / name
    path.write_text("{")
    then = time.time() - age_s
    os.utime(path, (then, then))
    return path


def kinds(findings: list[Finding]) -> list[tuple[str, str | None]]:
    return sorted((f.kind, f.run_id) for f in findings)


def test_check_finds_nothing_in_a_healthy_store(store: Path) -> None:
    make_run(store, "a"), make_run(store, "b")

    assert check_store(open_store(store)) == []


def test_check_on_a_missing_store_raises_and_creates_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "nope"

    with pytest.raises(StoreError) as caught:
        check_store(open_store(missing))

    assert str(caught.value) == (
        f"No store at {missing}; give the store folder with --store or RUNLAB_DIR."
    )
    assert not missing.exists()


def test_dead_running_run_is_recorded_crashed_at_its_last_heartbeat(
    store: Path,
) -> None:
    run_id = make_run(store, "dead")
    meta = set_meta(store, run_id, status="running", pid=dead_pid(), ended=None)
    target = open_store(store)

    findings = check_store(target)
    repaired = fix_findings(target, findings)

    beat = iso_time(meta["heartbeat"])
    found = Finding(
        "dead-running",
        run_id,
        run_id,
        f"marked running, but its process is gone; last heartbeat {beat}",
        True,
    )
    assert findings == [found]
    action = f"recorded as crashed, ended at the last heartbeat ({beat})"
    assert repaired == [dataclasses.replace(found, action=action)]
    after = read_json(store / run_id / "run.json")
    assert (after["status"], after["ended"]) == ("crashed", meta["heartbeat"])
    assert (target.index.get(run_id) or {})["status"] == "crashed"
    assert check_store(target) == []


def test_check_changes_nothing_it_finds(store: Path) -> None:
    run_id = make_run(store, "dead")
    set_meta(store, run_id, status="running", pid=dead_pid())
    shutil.rmtree(store / ".runlab")

    findings = check_store(open_store(store))

    assert kinds(findings) == [("dead-running", run_id), ("missing-row", run_id)]
    assert read_json(store / run_id / "run.json")["status"] == "running"
    assert not (store / ".runlab").exists()


def test_torn_series_is_cut_to_its_whole_records(
    store: Path, caplog: pytest.LogCaptureFixture
) -> None:
    run_id = make_run(store, "torn")
    series = store / run_id / "metrics" / "loss.bin"
    os.truncate(series, 3 * 24 - 7)
    target = open_store(store)

    findings = check_store(target)
    repaired = fix_findings(target, findings)

    assert [(f.kind, f.path, f.detail) for f in findings] == [
        ("torn-series", f"{run_id}/metrics/loss.bin",
         "metrics/loss.bin ends in a torn record (17 byte(s))"),
    ]  # fmt: skip
    assert [r.action for r in repaired] == [
        "cut 17 byte(s) of a torn record; 2 whole record(s) kept"
    ]
    assert series.stat().st_size == 48
    with caplog.at_level(logging.WARNING):
        loss = runlab.load_run(run_id).metric("loss")
    assert (loss.steps.tolist(), loss.values.tolist()) == ([1, 2], [1.0, 0.5])
    assert caplog.records == []
    assert check_store(target) == []


def test_torn_manifest_line_is_dropped_and_the_rest_kept(store: Path) -> None:
    run_id = make_run(store, "manifest")
    manifest = store / run_id / "metrics" / "names.jsonl"
    whole = manifest.read_bytes()
    with open(manifest, "ab") as handle:
        handle.write(b'{"name": "val/ac')
    target = open_store(store)

    findings = check_store(target)
    repaired = fix_findings(target, findings)

    assert [(f.kind, f.path, f.detail) for f in findings] == [
        ("torn-manifest", f"{run_id}/metrics/names.jsonl",
         "metrics/names.jsonl: line(s) 3 do not parse"),
    ]  # fmt: skip
    assert [r.action for r in repaired] == ["rewrote it without 1 torn line(s)"]
    assert manifest.read_bytes() == whole
    assert sorted(runlab.load_run(run_id).metric_names()) == ["acc", "loss"]


def test_empty_run_json_is_unreadable_and_its_row_is_refreshed(store: Path) -> None:
    run_id = make_run(store, "empty")
    (store / run_id / "run.json").write_text("")
    target = open_store(store)

    findings = check_store(target)
    repaired = fix_findings(target, findings)

    advice = ADVICE.format(run_id)
    assert findings[0] == Finding(
        "unreadable", run_id, f"{run_id}/run.json",
        f"run.json: the file is empty; {advice}", False,
    )  # fmt: skip
    assert [(f.kind, f.run_id, f.path, f.fixable) for f in findings[1:]] == [
        ("stale-row", run_id, None, True)
    ]
    assert findings[1].detail.startswith("index row differs from the folder in: ")
    assert findings[1].detail.endswith(" more")
    assert [(r.kind, r.action) for r in repaired] == [
        ("stale-row", "re-indexed the run")
    ]
    assert (target.index.get(run_id) or {})["status"] == "unreadable"
    assert [f.kind for f in check_store(target)] == ["unreadable"]


def test_unparsable_config_is_unreadable_and_not_fixable(store: Path) -> None:
    run_id = make_run(store, "config")
    (store / run_id / "config.yaml").write_text("lr: [0.1\n")
    target = open_store(store)
    target.reindex()

    findings = check_store(target)

    assert [(f.kind, f.path, f.fixable) for f in findings] == [
        ("unreadable", f"{run_id}/config.yaml", False)
    ]
    assert findings[0].detail.startswith("config.yaml:2:1: ")
    assert findings[0].detail.endswith(f"; {ADVICE.format(run_id)}")
    assert fix_findings(target, findings) == []


def test_row_of_a_deleted_folder_is_dropped(store: Path) -> None:
    gone, kept = make_run(store, "gone"), make_run(store, "kept")
    shutil.rmtree(store / gone)
    target = open_store(store)

    findings = check_store(target)
    repaired = fix_findings(target, findings)

    assert findings == [
        Finding("orphan-row", gone, None, "index row without a run folder", True)
    ]
    assert [r.action for r in repaired] == ["dropped the index row"]
    assert target.index.ids() == [kept]


def test_folder_copied_in_is_indexed(store: Path) -> None:
    run_id = make_run(store, "original")
    shutil.copytree(store / run_id, store / COPY_ID)
    target = open_store(store)

    findings = check_store(target)
    repaired = fix_findings(target, findings)

    assert findings == [
        Finding("missing-row", COPY_ID, COPY_ID, "run folder not in the index", True)
    ]
    assert [r.action for r in repaired] == ["indexed the folder"]
    assert (target.index.get(COPY_ID) or {})["name"] == "original"
    assert check_store(target) == []


def test_row_older_than_its_run_json_is_reindexed(store: Path) -> None:
    run_id = make_run(store, "before")
    set_meta(store, run_id, name="after", tags=["late"])
    target = open_store(store)

    findings = check_store(target)
    fix_findings(target, findings)

    assert [(f.kind, f.detail) for f in findings] == [
        ("stale-row", "index row differs from the folder in: name, tags")
    ]
    assert (target.index.get(run_id) or {})["name"] == "after"


def test_only_old_temp_files_outside_the_trash_are_stray(store: Path) -> None:
    run_id, trashed = make_run(store, "kept"), make_run(store, "trashed")
    open_store(store).trash_run(trashed)
    old = stray_temp(store / run_id)
    fresh = stray_temp(store / run_id, ".config.yaml.a1b2.tmp", age_s=60)
    in_trash = stray_temp(store / ".trash" / trashed)
    top = stray_temp(store, ".stray.tmp", age_s=3 * 3600)
    target = open_store(store)

    findings = check_store(target)
    repaired = fix_findings(target, findings)

    assert [(f.run_id, f.path, f.detail) for f in findings] == [
        (None, ".stray.tmp",
         ".stray.tmp: temporary file of an interrupted write, 3.0 h old"),
        (run_id, f"{run_id}/.run.json.k3j9x.tmp",
         ".run.json.k3j9x.tmp: temporary file of an interrupted write, 2.0 h old"),
    ]  # fmt: skip
    assert [r.action for r in repaired] == ["deleted it", "deleted it"]
    assert (old.exists(), top.exists(), fresh.exists(), in_trash.exists()) == (
        False, False, True, True,
    )  # fmt: skip


def test_a_live_run_is_left_alone(store: Path) -> None:
    run = runlab.start(store=store, name="live")
    try:
        run.log({"loss": 1.0}, step=1)
        (store / run.id / "metrics").mkdir(exist_ok=True)
        (store / run.id / "metrics" / "half.bin").write_bytes(b"\0" * 30)

        findings = check_store(open_store(store))
    finally:
        run.finish()

    assert findings == []


def test_fix_skips_findings_that_no_longer_hold(store: Path) -> None:
    run_id = make_run(store, "gone")
    shutil.copytree(store / run_id, store / COPY_ID)
    shutil.rmtree(store / run_id)
    temp = stray_temp(store)
    target = open_store(store)
    findings = check_store(target)

    target.index.remove([run_id])
    target.index_run(COPY_ID)
    temp.unlink()

    assert [f.kind for f in findings] == ["orphan-row", "missing-row", "stray-temp"]
    assert fix_findings(target, findings) == []


def test_fix_leaves_nothing_fixable_and_the_index_as_reindex_builds_it(
    store: Path,
) -> None:
    ids = {name: make_run(store, name) for name in ("torn", "names", "empty", "dead")}
    os.truncate(store / ids["torn"] / "metrics" / "acc.bin", 3 * 24 - 7)
    with open(store / ids["names"] / "metrics" / "names.jsonl", "a") as handle:
        handle.write('{"name"')
    (store / ids["empty"] / "run.json").write_text("{")
    set_meta(store, ids["dead"], status="running", pid=dead_pid())
    shutil.copytree(store / ids["torn"], store / COPY_ID)
    stray_temp(store / ids["names"] / "metrics")
    target = open_store(store)

    findings = check_store(target)
    fix_findings(target, findings)
    left = check_store(target)
    fixed_index = sorted(target.index.records(), key=lambda r: r["id"])
    target.reindex()

    assert len(findings) == 8
    assert [(f.kind, f.fixable) for f in left] == [("unreadable", False)]
    rebuilt = sorted(target.index.records(), key=lambda r: r["id"])
    assert json.dumps(fixed_index, sort_keys=True) == json.dumps(
        rebuilt, sort_keys=True
    )


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_a_folder_that_cannot_be_read_is_unreadable_and_the_rest_checked(
    store: Path,
) -> None:
    locked, torn = make_run(store, "locked"), make_run(store, "torn")
    summary = store / locked / "metrics" / "summary.json"
    summary.chmod(0)
    os.truncate(store / torn / "metrics" / "acc.bin", 30)

    try:
        findings = check_store(open_store(store))
    finally:
        summary.chmod(0o644)

    assert sorted((f.kind, f.run_id, f.path) for f in findings) == [
        ("torn-series", torn, f"{torn}/metrics/acc.bin"),
        ("unreadable", locked, locked),
    ]
    unreadable = next(f for f in findings if f.kind == "unreadable")
    assert unreadable.detail == (
        "[Errno 13] Permission denied: 'metrics/summary.json'; " + ADVICE.format(locked)
    )
