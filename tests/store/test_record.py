"""Records built from run folders, and the live status of running runs."""

from __future__ import annotations

import json
import math
import os
import socket
import subprocess
import sys
from pathlib import Path

from runlab.store.record import (
    build_record,
    is_process_alive,
    live_status,
    revive_metrics,
)
from runlab.store.series import SeriesWriter

NOW = 1_800_000_000.0


def _dead_pid() -> int:
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(child.stdout)


def _running(**changes: object) -> dict[str, object]:
    record: dict[str, object] = {
        "status": "running",
        "started": NOW - 100,
        "heartbeat": NOW - 5,
        "heartbeat_interval": 10.0,
        "host": socket.gethostname(),
        "pid": os.getpid(),
    }
    record.update(changes)
    return record


def _write_run(folder: Path, meta: object) -> Path:
    folder.mkdir(parents=True)
    text = meta if isinstance(meta, str) else json.dumps(meta)
    (folder / "run.json").write_text(text, encoding="utf-8")
    return folder


def test_record_holds_meta_config_metrics_and_git(tmp_path: Path) -> None:
    run = _write_run(
        tmp_path / "261203-101010-abcd",
        {
            "id": "261203-101010-abcd",
            "name": "base",
            "status": "finished",
            "started": NOW,
            "ended": NOW + 5,
            "tags": ["a"],
            "host": "h",
            "pid": 3,
        },
    )
    (run / "config.yaml").write_text("optim:\n  lr: 0.001\n", encoding="utf-8")
    (run / "code").mkdir()
    (run / "code" / "git.json").write_text(
        '{"branch": "main", "commit": "c0ffee", "dirty": true}'
    )
    writer = SeriesWriter(run / "metrics")
    writer.append("loss", [0, 1], [NOW, NOW], [0.5, math.nan])
    writer.close()

    record = build_record(run)

    assert record["id"] == "261203-101010-abcd"
    assert (record["name"], record["status"], record["tags"]) == (
        "base",
        "finished",
        ["a"],
    )
    assert record["config"] == {"optim": {"lr": 0.001}}
    assert record["config_flat"] == {"optim.lr": 0.001}
    assert (record["branch"], record["commit"]) == ("main", "c0ffee")
    assert record["dirty"] is True
    assert math.isnan(record["metrics"]["loss"]["last"])
    assert record["metrics"]["loss"]["min"] == 0.5
    assert record["error"] is None


def test_empty_run_json_is_unreadable_naming_the_file(tmp_path: Path) -> None:
    run = _write_run(tmp_path / "261203-101010-0001", "")

    record = build_record(run)

    assert record["status"] == "unreadable"
    assert record["error"] == f"{run / 'run.json'}: the file is empty"
    assert record["metrics"] == {} and record["tags"] == []


def test_broken_run_json_is_unreadable_with_the_parse_error(tmp_path: Path) -> None:
    run = _write_run(tmp_path / "261203-101010-0002", '{"status": [')

    record = build_record(run)

    assert record["status"] == "unreadable"
    assert record["error"] == (
        f"{run / 'run.json'}: invalid JSON: Expecting value: line 1 column 13 (char 12)"
    )


def test_missing_run_json_and_a_json_list_are_unreadable(tmp_path: Path) -> None:
    missing = tmp_path / "261203-101010-0003"
    missing.mkdir()
    listed = _write_run(tmp_path / "261203-101010-0004", "[1, 2]")

    assert build_record(missing)["error"] == (
        f"{missing / 'run.json'}: the file is missing"
    )
    assert build_record(listed)["error"] == (
        f"{listed / 'run.json'}: it does not hold a run object with an 'id'"
    )


def test_live_status_of_a_live_local_process_is_running() -> None:
    assert live_status(_running(), NOW) == "running"


def test_live_status_of_a_dead_local_process_is_crashed() -> None:
    assert live_status(_running(pid=_dead_pid()), NOW) == "crashed"


def test_live_status_on_another_host_follows_the_heartbeat() -> None:
    fresh = _running(host="elsewhere", pid=1, heartbeat=NOW - 29)
    stale = _running(host="elsewhere", pid=1, heartbeat=NOW - 31)

    assert live_status(fresh, NOW) == "running"
    assert live_status(stale, NOW) == "crashed"


def test_live_status_leaves_final_statuses_alone() -> None:
    assert live_status(_running(status="finished", pid=_dead_pid()), NOW) == "finished"
    assert live_status({"status": None}, NOW) == "unreadable"


def test_live_status_ignores_a_nonsense_pid_or_heartbeat() -> None:
    assert live_status(_running(pid=-1), NOW) == "running"
    assert live_status(_running(pid="12"), NOW) == "running"
    assert live_status(_running(heartbeat="x", started=NOW - 1), NOW) == "running"


def test_is_process_alive() -> None:
    assert is_process_alive(os.getpid())
    assert not is_process_alive(_dead_pid())


def test_revive_metrics_turns_markers_into_floats() -> None:
    revived = revive_metrics(
        {"x": {"last": "NaN", "min": "-Infinity", "max": "Infinity"}}
    )

    assert math.isnan(revived["x"]["last"])
    assert (revived["x"]["min"], revived["x"]["max"]) == (-math.inf, math.inf)
    assert revive_metrics(None) == {}
    assert revive_metrics({"x": 3}) == {"x": 3}


def test_config_is_read_through_a_cache_that_a_rewrite_makes_stale(
    tmp_path: Path,
) -> None:
    from runlab.config import dump_config
    from runlab.store.record import CONFIG_CACHE

    run_dir = tmp_path / "261203-120000-abcd"
    run_dir.mkdir()
    (run_dir / "run.json").write_text(
        '{"id": "261203-120000-abcd", "status": "finished"}'
    )
    dump_config({"lr": 0.1, "nan": float("nan")}, run_dir / "config.yaml")
    assert math.isnan(build_record(run_dir)["config"]["nan"])
    assert not (run_dir / CONFIG_CACHE).exists()  # NaN would not survive JSON

    dump_config({"lr": 0.1}, run_dir / "config.yaml")
    assert build_record(run_dir)["config"] == {"lr": 0.1}
    assert (run_dir / CONFIG_CACHE).exists()
    assert build_record(run_dir)["config"] == {"lr": 0.1}

    dump_config({"lr": 0.2}, run_dir / "config.yaml")
    assert build_record(run_dir)["config"] == {"lr": 0.2}
