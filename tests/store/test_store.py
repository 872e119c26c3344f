"""The store over real run folders: listing, lookup, edits, crashes, concurrency."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

import runlab
from runlab.errors import RunNotFound, StoreError
from runlab.store import Store, open_store
from runlab.store.files import read_json, write_json


@pytest.fixture(autouse=True)
def _quiet_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNLAB_SYSTEM_METRICS", "0")
    monkeypatch.delenv("RUNLAB_RUN_DIR", raising=False)
    monkeypatch.delenv("RUNLAB_DIR", raising=False)


def _make_run(store: Path, name: str | None = None, **options: Any) -> str:
    run = runlab.start(store=store, name=name, **options)
    run.log({"loss": 1.0, "acc": 0.5}, step=1)
    run.finish()
    return run.id


def _make_runs(store: Path) -> list[str]:
    ids = [
        _make_run(store, "alpha", config={"lr": 0.1}, tags=["base"]),
        _make_run(store, "beta", config={"lr": 0.01}),
        _make_run(store, "gamma", config={"lr": 0.001}, tags=["base"]),
    ]
    return ids


def _dead_pid() -> int:
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(child.stdout)


def _set_meta(store: Path, run_id: str, **changes: Any) -> None:
    meta = read_json(store / run_id / "run.json")
    meta.update(changes)
    write_json(store / run_id / "run.json", meta)


def test_records_lists_runs_oldest_first_with_their_facts(tmp_path: Path) -> None:
    ids = _make_runs(tmp_path)

    records = open_store(tmp_path).records()

    assert [r["id"] for r in records] == ids
    assert [r["name"] for r in records] == ["alpha", "beta", "gamma"]
    assert {r["status"] for r in records} == {"finished"}
    assert records[0]["config"] == {"lr": 0.1}
    assert records[0]["metrics"]["loss"]["count"] == 1


def test_records_filters_and_sorts(tmp_path: Path) -> None:
    _make_runs(tmp_path)
    store = open_store(tmp_path)

    assert [r["name"] for r in store.records("tag:base")] == ["alpha", "gamma"]
    assert [r["name"] for r in store.records("lr < 0.05", sort=["lr"])] == [
        "gamma",
        "beta",
    ]
    assert [r["name"] for r in store.records(sort=["-lr"])] == [
        "alpha",
        "beta",
        "gamma",
    ]
    assert [r.name for r in store.runs("name = 'b*'")] == ["beta"]


def test_resolve_by_full_id_unique_prefix_and_name(tmp_path: Path) -> None:
    ids = _make_runs(tmp_path)
    store = open_store(tmp_path)

    assert store.resolve(ids[1]) == ids[1]
    assert store.resolve(ids[2][:-1]) == ids[2]
    assert store.resolve("beta") == ids[1]
    assert store.resolve("  gamma ") == ids[2]


def test_resolve_ambiguous_prefix_lists_the_matches(tmp_path: Path) -> None:
    ids = _make_runs(tmp_path)
    store = open_store(tmp_path)
    common = ids[0]
    while not all(i.startswith(common) for i in ids):
        common = common[:-1]

    with pytest.raises(RunNotFound) as caught:
        store.resolve(common)

    assert str(caught.value) == (
        f"'{common}' matches 3 runs ({', '.join(sorted(ids))}); give more of the id."
    )


def test_resolve_unknown_ref_says_where_it_looked(tmp_path: Path) -> None:
    _make_runs(tmp_path)

    with pytest.raises(RunNotFound) as caught:
        open_store(tmp_path).resolve("delta")

    assert str(caught.value) == f"No run 'delta' in {tmp_path}; see `runlab ls`."


def test_resolve_on_a_missing_store_creates_nothing(tmp_path: Path) -> None:
    store = open_store(tmp_path / "typo")

    with pytest.raises(RunNotFound):
        store.resolve("alpha")

    assert not (tmp_path / "typo").exists()
    assert store.records() == []


def test_set_tags_adds_and_removes_and_updates_the_index(tmp_path: Path) -> None:
    run_id = _make_run(tmp_path, "alpha", tags=["a", "b"])
    store = open_store(tmp_path)

    tags = store.set_tags("alpha", add=["c", "a"], remove=["b"])

    assert tags == ["a", "c"]
    assert read_json(tmp_path / run_id / "run.json")["tags"] == ["a", "c"]
    assert [r["tags"] for r in store.records()] == [["a", "c"]]
    assert [r["id"] for r in store.records("tag:c")] == [run_id]


def test_set_tags_adds_a_tag_repeated_in_one_call_once(tmp_path: Path) -> None:
    run_id = _make_run(tmp_path, "alpha")

    assert open_store(tmp_path).set_tags(run_id, add=["x", "y", "x"]) == ["x", "y"]


def test_add_note_appends_a_timestamped_paragraph(tmp_path: Path) -> None:
    run_id = _make_run(tmp_path, "alpha", notes="First.")
    store = open_store(tmp_path)

    path = store.add_note(run_id[:-1], "  Second, with lr 0.1.  ", when=1_800_000_000.0)

    text = path.read_text(encoding="utf-8")
    assert path == tmp_path / run_id / "README.md"
    assert re.fullmatch(
        r"\n\*\*\S+\*\*\n\nFirst\.\n"
        r"\n\*\*2027-01-15T\d\d:\d\d:00[+-]\d\d:\d\d\*\*\n\nSecond, with lr 0\.1\.\n",
        text,
    ), text
    assert store.load_run(run_id).notes == text


def test_trash_run_moves_the_folder_and_drops_it_from_the_index(tmp_path: Path) -> None:
    ids = _make_runs(tmp_path)
    store = open_store(tmp_path)

    target = store.trash_run("beta")

    assert target == tmp_path / ".trash" / ids[1]
    assert (target / "run.json").is_file()
    assert not (tmp_path / ids[1]).exists()
    assert [r["name"] for r in store.records()] == ["alpha", "gamma"]


def test_purge_run_deletes_and_returns_the_bytes_freed(tmp_path: Path) -> None:
    ids = _make_runs(tmp_path)
    store = open_store(tmp_path)
    size = sum(p.stat().st_size for p in (tmp_path / ids[0]).rglob("*") if p.is_file())
    store.trash_run(ids[1])

    assert store.purge_run("alpha") == size
    assert store.purge_run(ids[1]) > 0
    assert not (tmp_path / ids[0]).exists()
    assert not (tmp_path / ".trash" / ids[1]).exists()
    assert [r["name"] for r in store.records()] == ["gamma"]


def test_reindex_after_deleting_the_index_gives_identical_records(
    tmp_path: Path,
) -> None:
    _make_runs(tmp_path)
    store = open_store(tmp_path)
    before = json.dumps(store.records(), sort_keys=True)
    (tmp_path / ".runlab" / "index.sqlite").unlink()

    assert store.reindex() == 3
    assert json.dumps(store.records(), sort_keys=True) == before


def test_deleted_index_is_rebuilt_on_the_next_listing(tmp_path: Path) -> None:
    _make_runs(tmp_path)
    store = open_store(tmp_path)
    before = json.dumps(store.records(), sort_keys=True)
    for path in (tmp_path / ".runlab").iterdir():
        path.unlink()

    assert json.dumps(Store(tmp_path).records(), sort_keys=True) == before
    assert (tmp_path / ".runlab" / "index.sqlite").is_file()


def test_empty_and_broken_run_json_list_as_unreadable(tmp_path: Path) -> None:
    ids = _make_runs(tmp_path)
    (tmp_path / ids[1] / "run.json").write_text("", encoding="utf-8")
    (tmp_path / ids[2] / "run.json").write_text('{"status": [', encoding="utf-8")

    records = open_store(tmp_path).records()

    assert [(r["name"], r["status"]) for r in records] == [
        ("alpha", "finished"),
        (None, "unreadable"),
        (None, "unreadable"),
    ]
    assert records[1]["error"] == f"{tmp_path / ids[1] / 'run.json'}: the file is empty"
    assert records[2]["error"] == (
        f"{tmp_path / ids[2] / 'run.json'}: invalid JSON: "
        "Expecting value: line 1 column 13 (char 12)"
    )


def test_run_folders_copied_in_or_removed_by_hand_are_noticed(tmp_path: Path) -> None:
    ids = _make_runs(tmp_path)
    other = tmp_path / "other"
    copied = _make_run(other, "delta")
    os.replace(other / copied, tmp_path / copied)
    import shutil

    shutil.rmtree(tmp_path / ids[0])

    names = [r["name"] for r in open_store(tmp_path).records()]

    assert names == ["beta", "gamma", "delta"]
    assert open_store(tmp_path).resolve("delta") == copied


def test_running_run_whose_local_process_is_gone_is_crashed_and_recorded(
    tmp_path: Path,
) -> None:
    run_id = _make_run(tmp_path, "alpha")
    now = time.time()
    _set_meta(
        tmp_path,
        run_id,
        status="running",
        ended=None,
        heartbeat=now,
        host=socket.gethostname(),
        pid=_dead_pid(),
    )

    records = open_store(tmp_path).records()

    assert records[0]["status"] == "crashed"
    assert records[0]["ended"] == now
    meta = read_json(tmp_path / run_id / "run.json")
    assert (meta["status"], meta["ended"]) == ("crashed", now)
    assert open_store(tmp_path).records("status = crashed")[0]["id"] == run_id


def test_running_run_on_another_host_with_an_old_heartbeat_is_crashed(
    tmp_path: Path,
) -> None:
    old, fresh = _make_run(tmp_path, "old"), _make_run(tmp_path, "fresh")
    now = time.time()
    _set_meta(
        tmp_path,
        old,
        status="running",
        host="elsewhere",
        pid=1,
        heartbeat=now - 31,
        heartbeat_interval=10.0,
    )
    _set_meta(
        tmp_path,
        fresh,
        status="running",
        host="elsewhere",
        pid=1,
        heartbeat=now,
        heartbeat_interval=10.0,
    )

    records = open_store(tmp_path).records()

    assert [r["status"] for r in records] == ["crashed", "running"]
    assert read_json(tmp_path / old / "run.json")["status"] == "crashed"
    assert read_json(tmp_path / fresh / "run.json")["status"] == "running"


def test_load_run_shows_a_dead_running_run_as_crashed(tmp_path: Path) -> None:
    run_id = _make_run(tmp_path, "alpha")
    _set_meta(
        tmp_path,
        run_id,
        status="running",
        host=socket.gethostname(),
        pid=_dead_pid(),
        heartbeat=time.time(),
    )

    run = open_store(tmp_path).load_run("alpha")

    assert run.status == "crashed"
    assert run.meta["status"] == "crashed"


CREATE = textwrap.dedent(
    """
    import sys, runlab
    run = runlab.start(store=sys.argv[1], name=f"w{sys.argv[2]}")
    run.log({"x": 1.0}, step=0)
    run.finish()
    print(run.id)
    """
)


def _spawn_runs(store: Path, count: int) -> list[str]:
    env = {**os.environ, "RUNLAB_SYSTEM_METRICS": "0"}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CREATE, str(store), str(k)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for k in range(count)
    ]
    outputs = [p.communicate(timeout=240) for p in procs]
    assert [p.returncode for p in procs] == [0] * count, [e for _o, e in outputs]
    assert [e for _o, e in outputs] == [""] * count
    return [o.strip() for o, _e in outputs]


def test_sixteen_processes_create_runs_on_one_fresh_store(tmp_path: Path) -> None:
    store = tmp_path / "fresh"

    ids = _spawn_runs(store, 16)
    records = open_store(store).records()

    assert len(set(ids)) == 16
    assert sorted(r["id"] for r in records) == sorted(ids)
    assert sorted(r["name"] for r in records) == sorted(f"w{k}" for k in range(16))
    assert all(r["metrics"]["x"]["count"] == 1 for r in records)


def test_ten_runs_made_in_the_same_second_get_ten_ids(tmp_path: Path) -> None:
    from runlab.store.layout import make_run_dir

    now = 1_800_000_000.0
    made = [make_run_dir(tmp_path, now) for _ in range(10)]

    assert len({run_id for run_id, _path in made}) == 10
    assert len({run_id[:13] for run_id, _path in made}) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(i for i, _p in made)


READER = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    path, stop = Path(sys.argv[1]), Path(sys.argv[2])
    reads = bad = 0
    while reads < 1000 or not stop.exists():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            bad += not isinstance(data, dict) or "id" not in data
        except ValueError:
            bad += 1
        reads += 1
    print(reads, bad)
    """
)


def test_set_tags_racing_a_reader_never_shows_a_partial_run_json(
    tmp_path: Path,
) -> None:
    run_id = _make_run(tmp_path, "alpha")
    stop = tmp_path / "stop"
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(tmp_path / run_id / "run.json"), str(stop)],
        stdout=subprocess.PIPE,
        text=True,
    )
    store = open_store(tmp_path)
    for i in range(1000):
        store.set_tags(run_id, add=[f"t{i % 7}"], remove=[f"t{(i + 3) % 7}"])
    stop.touch()
    reads, bad = map(int, reader.communicate(timeout=120)[0].split())

    assert reader.returncode == 0
    assert reads >= 1000
    assert bad == 0


def test_run_json_keeps_the_permissions_of_an_ordinary_file(tmp_path: Path) -> None:
    run_id = _make_run(tmp_path, "alpha")
    umask = os.umask(0o022)
    os.umask(umask)

    mode = (tmp_path / run_id / "run.json").stat().st_mode & 0o777

    assert mode == 0o666 & ~umask


def test_trashing_over_an_old_trashed_copy_raises_store_error(tmp_path: Path) -> None:
    run_id = _make_run(tmp_path, "alpha")
    (tmp_path / ".trash" / run_id).mkdir(parents=True)

    with pytest.raises(StoreError) as caught:
        open_store(tmp_path).trash_run(run_id)

    assert str(caught.value) == (
        f"Cannot move run {run_id} to the trash: {tmp_path / '.trash' / run_id} "
        "already exists. Delete the old copy there first, or check the store's "
        "permissions."
    )
    assert (tmp_path / run_id / "run.json").is_file()


def test_stored_run_reads_metrics_summary_and_checkpoints(tmp_path: Path) -> None:
    run = runlab.start(store=tmp_path, name="alpha")
    for step in range(3):
        run.log({"val/acc@5": step / 10}, step=step)
    run.checkpoint({"w": 1}, epoch=0, score=0.5)
    run.finish()

    stored = open_store(tmp_path).load_run("alpha")

    assert stored.metric_names() == ["val/acc@5"]
    assert stored.metric("val/acc@5").values.tolist() == [0.0, 0.1, 0.2]
    assert stored.summary["val/acc@5"]["max"] == 0.2
    assert stored.best_checkpoint() == tmp_path / run.id / "state_dict" / (
        "checkpoint_best.pt"
    )
    assert stored.checkpoints()["best"]["score"] == 0.5
    with pytest.raises(KeyError) as caught:
        stored.metric("loss")
    assert caught.value.args[0] == (
        f"Run {run.id} has no metric 'loss'; it has: 'val/acc@5'."
    )
