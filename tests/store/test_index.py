"""The SQLite index: records in and out, lookups, migrations, many writers."""

from __future__ import annotations

import logging
import math
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from runlab.store.index import MIGRATIONS, RunIndex


def _record(run_id: str, name: str | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "id": run_id,
        "name": name,
        "status": "finished",
        "started": 1.0,
        "tags": [],
        "metrics": {},
        **extra,
    }


def test_upsert_then_records_and_get_give_back_the_records(tmp_path: Path) -> None:
    index = RunIndex(tmp_path / ".runlab" / "index.sqlite")
    index.upsert([_record("261203-000002-bbbb", "b"), _record("261203-000001-aaaa")])

    assert [r["id"] for r in index.records()] == [
        "261203-000001-aaaa",
        "261203-000002-bbbb",
    ]
    assert index.get("261203-000002-bbbb") == _record("261203-000002-bbbb", "b")
    assert index.get("nope") is None
    assert index.ids() == ["261203-000001-aaaa", "261203-000002-bbbb"]


def test_a_config_int_beyond_64_bits_comes_back_whole(tmp_path: Path) -> None:
    # orjson alone would read it back as a float; the record would then never
    # equal its folder's, and the doctor would find a stale row forever.
    index = RunIndex(tmp_path / "index.sqlite")
    big = 123456789012345678901234567890
    record = _record("261203-000001-aaaa", config={"big": big, "small": 2**63 - 1})
    index.upsert([record])

    back = index.get("261203-000001-aaaa")

    assert back == record
    assert type(back["config"]["big"]) is int  # type: ignore[index]


def test_upsert_replaces_a_record(tmp_path: Path) -> None:
    index = RunIndex(tmp_path / "index.sqlite")
    index.upsert([_record("261203-000001-aaaa", "old")])
    index.upsert([_record("261203-000001-aaaa", "new")])

    assert [r["name"] for r in index.records()] == ["new"]


def test_non_finite_metric_summaries_come_back_as_floats(tmp_path: Path) -> None:
    index = RunIndex(tmp_path / "index.sqlite")
    metrics = {"loss": {"last": math.nan, "min": -math.inf, "max": math.inf}}
    index.upsert([_record("261203-000001-aaaa", metrics=metrics)])

    loss = index.records()[0]["metrics"]["loss"]

    assert math.isnan(loss["last"])
    assert (loss["min"], loss["max"]) == (-math.inf, math.inf)


def test_find_matches_prefix_or_exact_name_and_escapes_wildcards(
    tmp_path: Path,
) -> None:
    index = RunIndex(tmp_path / "index.sqlite")
    index.upsert(
        [
            _record("261203-000001-aaaa", "lr_1"),
            _record("261203-000002-bbbb", "lr-1"),
            _record("261204-000001-cccc", "%"),
        ]
    )

    assert index.find("261203") == ["261203-000001-aaaa", "261203-000002-bbbb"]
    assert index.find("lr_1") == ["261203-000001-aaaa"]
    assert index.find("2612_3") == []
    assert index.find("%") == ["261204-000001-cccc"]


def test_remove_and_replace_all(tmp_path: Path) -> None:
    index = RunIndex(tmp_path / "index.sqlite")
    index.upsert([_record("261203-000001-aaaa"), _record("261203-000002-bbbb")])
    index.remove(["261203-000001-aaaa"])

    assert index.ids() == ["261203-000002-bbbb"]

    index.replace_all([_record("261203-000003-cccc")])

    assert index.ids() == ["261203-000003-cccc"]


def test_new_index_is_wal_and_records_its_migrations(tmp_path: Path) -> None:
    index = RunIndex(tmp_path / "index.sqlite")
    index.ids()

    conn = sqlite3.connect(tmp_path / "index.sqlite")
    try:
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
        applied = [
            r[0] for r in conn.execute("SELECT name FROM migrations ORDER BY name")
        ]
    finally:
        conn.close()

    assert mode == "wal"
    assert applied == [name for name, _sql in MIGRATIONS]


WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from runlab.store.index import RunIndex

    index = RunIndex(Path(sys.argv[1]))
    k = int(sys.argv[2])
    for i in range(20):
        index.upsert([{"id": f"261203-{k:06d}-{i:04x}", "name": None, "metrics": {}}])
    """
)


def test_sixteen_processes_create_and_fill_one_fresh_index(tmp_path: Path) -> None:
    path = tmp_path / ".runlab" / "index.sqlite"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path), str(k)],
            stderr=subprocess.PIPE,
            text=True,
        )
        for k in range(16)
    ]
    errors = [p.communicate(timeout=120)[1] for p in procs]

    assert [p.returncode for p in procs] == [0] * 16, errors
    assert len(RunIndex(path).ids()) == 16 * 20


def test_a_corrupt_index_is_set_aside_and_rebuilt(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from runlab.store import open_store

    store = open_store(tmp_path)
    store.index.upsert([{"id": "261203-120000-abcd", "metrics": {}}])
    store.index.path.write_bytes(b"garbage, not a database")

    with caplog.at_level(logging.WARNING, logger="runlab.store.index"):
        assert store.index.ids() == []

    asides = list(store.index.path.parent.glob("index.sqlite.corrupt-*"))
    assert [p.read_bytes() for p in asides] == [b"garbage, not a database"]
    assert "is corrupt (file is not a database)" in caplog.text
