"""``runlab doctor``: the table, the summary line, --fix, --json and exit codes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import runlab
from runlab.store.files import read_json, write_json

pytestmark = pytest.mark.usefixtures("runlab_env")

COPY_ID = "991231-235959-beef"
FIELDS = ["kind", "run_id", "path", "detail", "fixable", "action"]


def make_run(store: Path, name: str) -> str:
    with runlab.start(store=store, name=name, config={"lr": 0.1}) as run:
        for step in (1, 2, 3):
            run.log({"loss": 1.0 / step, "acc": 0.5}, step=step)
    return run.id


def dead_pid() -> int:
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(child.stdout)


def damage_store(store: Path) -> dict[str, str]:
    """Make six runs and do one kind of real damage to each; return their ids."""
    names = ("torn", "names", "empty", "dead", "gone", "kept")
    ids = {name: make_run(store, name) for name in names}
    os.truncate(store / ids["torn"] / "metrics" / "loss.bin", 3 * 24 - 7)
    with open(store / ids["names"] / "metrics" / "names.jsonl", "a") as handle:
        handle.write('{"name": "val/ac')
    (store / ids["empty"] / "run.json").write_text("")
    meta = read_json(store / ids["dead"] / "run.json")
    write_json(store / ids["dead"] / "run.json", {**meta, "status": "running",
               "pid": dead_pid(), "ended": None})  # fmt: skip
    shutil.rmtree(store / ids["gone"])
    shutil.copytree(store / ids["kept"], store / COPY_ID)
    temp = store / ids["kept"] / ".run.json.k3j9x.tmp"
    temp.write_text("{")
    os.utime(temp, (time.time() - 7200, time.time() - 7200))
    return ids


def table_rows(lines: list[str]) -> list[tuple[str, ...]]:
    """The kind, run and last column of each row of a drawn table."""
    rows = []
    for line in lines:
        cells = [cell.strip() for cell in line.strip().strip("│").split("│")]
        if line.startswith("│") and cells[0]:
            rows.append((cells[0], cells[1], cells[-1]))
    return rows


def doctor_json(runlab_cli: Any) -> list[dict[str, Any]]:
    done = runlab_cli("doctor", "--json")
    return list(json.loads(done.stdout))


def test_doctor_on_a_healthy_store_says_so(runlab_cli: Any, store: Path) -> None:
    make_run(store, "a"), make_run(store, "b")

    done = runlab_cli("doctor")

    assert (done.returncode, done.stdout) == (
        0,
        "Store is healthy: 2 run(s) checked.\n",
    )


def test_doctor_reports_every_problem_in_a_table(runlab_cli: Any, store: Path) -> None:
    ids = damage_store(store)

    done = runlab_cli("doctor")

    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert lines[-1] == (
        "8 problem(s) found, 7 fixable; run `runlab doctor --fix` to repair them."
    )
    assert lines[1].split() == ["┃", "kind", "┃", "run", "┃", "detail", "┃",
                                "fixable", "┃"]  # fmt: skip
    assert sorted(table_rows(lines)) == sorted([
        ("dead-running", ids["dead"], "yes"), ("missing-row", COPY_ID, "yes"),
        ("orphan-row", ids["gone"], "yes"), ("stale-row", ids["empty"], "yes"),
        ("stray-temp", ids["kept"], "yes"), ("torn-manifest", ids["names"], "yes"),
        ("torn-series", ids["torn"], "yes"), ("unreadable", ids["empty"], "no"),
    ])  # fmt: skip


def test_doctor_fix_repairs_all_but_the_unreadable_run(
    runlab_cli: Any, store: Path
) -> None:
    ids = damage_store(store)

    done = runlab_cli("doctor", "--fix")

    assert done.returncode == 1, done.stderr
    lines = done.stdout.splitlines()
    assert lines[-1] == "Fixed 7 problem(s); 1 problem(s) remain."
    assert lines[1].split()[-2:] == ["fixed", "┃"]
    rows = {(kind, run): outcome for kind, run, outcome in table_rows(lines)}
    assert rows[("unreadable", ids["empty"])] == "no"
    assert rows[("torn-series", ids["torn"])] == (
        "cut 17 byte(s) of a torn record; 2 whole record(s) kept"
    )
    assert rows[("orphan-row", ids["gone"])] == "dropped the index row"
    assert len(rows) == 8
    left = doctor_json(runlab_cli)
    assert [(f["kind"], f["run_id"], f["fixable"]) for f in left] == [
        ("unreadable", ids["empty"], False)
    ]
    loss = runlab.load_run(ids["torn"]).metric("loss")
    assert (loss.steps.tolist(), loss.values.tolist()) == ([1, 2], [1.0, 0.5])
    assert read_json(store / ids["dead"] / "run.json")["status"] == "crashed"
    assert not (store / ids["kept"] / ".run.json.k3j9x.tmp").exists()


def test_after_fix_ls_agrees_with_a_reindexed_store(
    runlab_cli: Any, store: Path
) -> None:
    damage_store(store)
    assert runlab_cli("doctor", "--fix").returncode == 1

    fixed = runlab_cli("ls", "--json")
    reindexed = runlab_cli("reindex")
    rebuilt = runlab_cli("ls", "--json")

    assert (fixed.returncode, reindexed.returncode, rebuilt.returncode) == (0, 0, 0)
    assert json.loads(fixed.stdout) == json.loads(rebuilt.stdout)
    assert len(json.loads(fixed.stdout)) == 6


def test_doctor_fix_exits_0_when_everything_was_fixable(
    runlab_cli: Any, store: Path
) -> None:
    run_id = make_run(store, "torn")
    os.truncate(store / run_id / "metrics" / "acc.bin", 30)

    fixed = runlab_cli("doctor", "--fix")
    again = runlab_cli("doctor")

    assert fixed.returncode == 0, fixed.stderr
    assert fixed.stdout.splitlines()[-1] == "Fixed 1 problem(s); 0 problem(s) remain."
    assert (again.returncode, again.stdout) == (
        0,
        "Store is healthy: 1 run(s) checked.\n",
    )


def test_doctor_json_prints_each_finding_as_an_object(
    runlab_cli: Any, store: Path
) -> None:
    run_id = make_run(store, "torn")
    os.truncate(store / run_id / "metrics" / "acc.bin", 30)

    found = runlab_cli("doctor", "--json")
    fixed = runlab_cli("doctor", "--json", "--fix")

    finding = {
        "kind": "torn-series",
        "run_id": run_id,
        "path": f"{run_id}/metrics/acc.bin",
        "detail": "metrics/acc.bin ends in a torn record (6 byte(s))",
        "fixable": True,
        "action": None,
    }
    assert (found.returncode, json.loads(found.stdout)) == (1, [finding])
    action = "cut 6 byte(s) of a torn record; 1 whole record(s) kept"
    assert (fixed.returncode, json.loads(fixed.stdout)) == (
        0, [{**finding, "action": action}],
    )  # fmt: skip
    assert list(json.loads(found.stdout)[0]) == FIELDS


def test_doctor_with_only_unfixable_problems_says_none_fixable(
    runlab_cli: Any, store: Path
) -> None:
    run_id = make_run(store, "broken")
    (store / run_id / "config.yaml").write_text("lr: [0.1\n")
    assert runlab_cli("reindex").returncode == 0

    done = runlab_cli("doctor", "--fix")

    assert done.returncode == 1
    assert done.stdout.splitlines()[-1] == "Fixed 0 problem(s); 1 problem(s) remain."
    assert runlab_cli("doctor").stdout.splitlines()[-1] == (
        "1 problem(s) found, none fixable."
    )


def test_doctor_on_a_missing_store_is_one_error_line(
    runlab_cli: Any, tmp_path: Path
) -> None:
    missing = tmp_path / "nope"

    done = runlab_cli("doctor", "--store", str(missing))

    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == (
        f"Error: No store at {missing}; give the store folder with --store or "
        "RUNLAB_DIR.\n"
    )
    assert not missing.exists()
