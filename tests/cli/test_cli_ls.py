"""``runlab ls``: the table, JSON and CSV, filters, sorting, columns, limits."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

import runlab

pytestmark = pytest.mark.usefixtures("runlab_env")

PUBLIC_FIELDS = [
    "id", "name", "status", "started", "ended", "duration", "tags", "experiment",
    "sweep", "trial", "branch", "commit", "host", "exit_code", "config", "metrics",
]  # fmt: skip


def make_run(
    name: str,
    config: dict[str, Any],
    losses: Sequence[float] = (),
    tags: Sequence[str] = (),
) -> str:
    with runlab.start(config=config, name=name, tags=tags) as run:
        for loss in losses:
            run.log({"loss": loss})
    return run.id


def refuse_constant(token: str) -> float:
    raise AssertionError(f"bare {token} in JSON output")


def ls_json(runlab_cli: Any, *args: str) -> list[dict[str, Any]]:
    done = runlab_cli("ls", "--json", *args)
    assert done.returncode == 0, done.stderr
    data: list[dict[str, Any]] = json.loads(done.stdout, parse_constant=refuse_constant)
    return data


@pytest.fixture
def three(store: Path) -> list[str]:
    return [
        make_run("a", {"optim": {"lr": 0.1}, "depth": 2}, [1.0, 0.5], ["base"]),
        make_run("b", {"optim": {"lr": 2}, "depth": 2}, [0.9, 0.1]),
        make_run("c", {"optim": {"lr": 1e-3}, "depth": 2}, [0.7, 0.3]),
    ]


def test_ls_table_lists_runs_with_varying_config_and_metrics(
    runlab_cli: Any, three: list[str], store: Path
) -> None:
    done = runlab_cli("ls")

    assert done.returncode == 0
    assert done.stderr == f"3 run(s) in {store}\n"
    # Piped, the table is plain text: columns two spaces apart.
    header, *rows = [re.split(r"\s{2,}", line) for line in done.stdout.splitlines()]
    assert header == [
        "id", "name", "status", "started", "duration", "tags", "optim.lr", "loss.last",
    ]  # fmt: skip
    assert [(r[0], r[1], r[2], r[5], r[6], r[7]) for r in rows] == [
        (three[0], "a", "finished", "base", "0.1", "0.5"),
        (three[1], "b", "finished", "-", "2", "0.1"),
        (three[2], "c", "finished", "-", "0.001", "0.3"),
    ]


def test_ls_json_has_the_public_fields_with_nested_typed_config(
    runlab_cli: Any, three: list[str]
) -> None:
    records = ls_json(runlab_cli)

    assert [list(r) for r in records] == [PUBLIC_FIELDS] * 3
    first = records[0]
    assert (first["id"], first["name"], first["status"]) == (three[0], "a", "finished")
    assert first["tags"] == ["base"]
    assert first["config"] == {"optim": {"lr": 0.1}, "depth": 2}
    assert [type(r["config"]["optim"]["lr"]) for r in records] == [float, int, float]
    assert first["metrics"] == {
        "loss": {"last": 0.5, "min": 0.5, "max": 1.0, "count": 2, "last_step": 1}
    }
    assert first["started"] == runlab.load_run(three[0]).started
    assert first["started"] <= first["ended"]


def test_ls_json_writes_non_finite_numbers_as_strings(runlab_cli: Any) -> None:
    make_run("nan", {}, [math.nan, math.inf, -math.inf, 0.5])

    (record,) = ls_json(runlab_cli)

    assert record["metrics"]["loss"] == {
        "last": 0.5, "min": "-Infinity", "max": "Infinity", "count": 4, "last_step": 3,
    }  # fmt: skip


def test_ls_json_writes_a_nan_last_as_the_string_nan(runlab_cli: Any) -> None:
    make_run("nan", {}, [0.5, math.nan])

    (record,) = ls_json(runlab_cli)

    assert record["metrics"]["loss"]["last"] == "NaN"


def test_ls_csv_prints_a_header_and_one_line_per_run(
    runlab_cli: Any, three: list[str]
) -> None:
    done = runlab_cli("ls", "--csv", "--columns", "id,name,optim.lr,loss.min,tags")

    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "id,name,optim.lr,loss.min,tags",
        f"{three[0]},a,0.1,0.5,base",
        f"{three[1]},b,2,0.1,",
        f"{three[2]},c,0.001,0.3,",
    ]


def test_ls_csv_keeps_every_digit_of_a_float(runlab_cli: Any) -> None:
    make_run("third", {"lr": 1 / 3}, [2 / 3])

    done = runlab_cli("ls", "--csv", "--columns", "name,lr,loss.last")

    assert done.stdout.splitlines()[1] == "third,0.3333333333333333,0.6666666666666666"


def test_ls_sorts_by_a_metric_descending(runlab_cli: Any, three: list[str]) -> None:
    records = ls_json(runlab_cli, "--sort", "-loss.max")

    assert [r["name"] for r in records] == ["a", "b", "c"]
    records = ls_json(runlab_cli, "--sort", "loss.last")
    assert [r["name"] for r in records] == ["b", "c", "a"]


def test_ls_sorts_numeric_config_values_numerically(
    runlab_cli: Any, three: list[str]
) -> None:
    make_run("d", {"optim": {"lr": 10}, "depth": 2})

    records = ls_json(runlab_cli, "--sort", "optim.lr")

    assert [r["config"]["optim"]["lr"] for r in records] == [0.001, 0.1, 2, 10]


def test_ls_limit_keeps_the_first_runs(runlab_cli: Any, three: list[str]) -> None:
    assert [r["name"] for r in ls_json(runlab_cli, "--limit", "2")] == ["a", "b"]
    assert ls_json(runlab_cli, "--limit", "0") == []


def test_ls_columns_picks_the_table_columns(runlab_cli: Any, three: list[str]) -> None:
    done = runlab_cli("ls", "--columns", "name,optim.lr", "--sort", "-optim.lr")

    assert done.returncode == 0, done.stderr
    cells = [re.split(r"\s{2,}", line) for line in done.stdout.splitlines()]
    assert cells == [["name", "optim.lr"], ["b", "2"], ["a", "0.1"], ["c", "0.001"]]


def test_ls_filter_by_config_tag_and_metric(runlab_cli: Any, three: list[str]) -> None:
    assert [r["name"] for r in ls_json(runlab_cli, "optim.lr < 0.5")] == ["a", "c"]
    assert [r["name"] for r in ls_json(runlab_cli, "tag:base")] == ["a"]
    assert [r["name"] for r in ls_json(runlab_cli, "loss.min < 0.2")] == ["b"]


def test_ls_bad_filter_is_an_error_with_a_caret(
    runlab_cli: Any, three: list[str]
) -> None:
    done = runlab_cli("ls", "optim.lr <")

    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr == (
        "Error: Expected a value after '<' at position 10.\n  optim.lr <\n            ^\n"
    )


def test_ls_on_an_empty_store_lists_nothing(runlab_cli: Any, store: Path) -> None:
    done = runlab_cli("ls", "--json")

    assert (done.returncode, done.stdout) == (0, "[]\n")
    assert not store.exists()


def test_ls_of_a_mistyped_store_says_it_is_missing(
    runlab_cli: Any, tmp_path: Path
) -> None:
    missing = tmp_path / "experimnts"
    a_file = tmp_path / "train.py"
    a_file.write_text("pass\n")

    typo = runlab_cli("ls", "--store", str(missing))
    wrong_env = runlab_cli("ls", env={"RUNLAB_DIR": str(a_file)})

    assert (typo.returncode, typo.stdout) == (1, "")
    assert typo.stderr == (
        f"Error: No store at {missing}: the folder does not exist; check --store.\n"
    )
    assert wrong_env.returncode == 1
    assert wrong_env.stderr == (
        f"Error: The store {a_file} is a file, not a folder; check RUNLAB_DIR.\n"
    )
    assert not missing.exists()


def test_ls_shows_the_column_it_sorts_by(runlab_cli: Any) -> None:
    for value in (0.3, 0.9):
        with runlab.start(name=f"acc-{value}") as run:
            run.log({"acc": value})

    done = runlab_cli("ls", "--sort", "-acc.max")

    header = done.stdout.splitlines()[0].split()
    assert header[-1] == "acc.max"
    assert done.stdout.splitlines()[1].split()[1] == "acc-0.9"


def test_ls_warns_of_keys_no_run_has_naming_the_closest(
    runlab_cli: Any, three: list[str]
) -> None:
    nothing = runlab_cli("ls", "optim.lrr < 0.5")
    listed = runlab_cli(
        "ls", "depth = 2", "--sort", "-loss.mn", "--columns", "name,optim.lr,zzz"
    )
    fine = runlab_cli("ls", "optim.lr < 0.5", "--sort", "-loss.min")

    warning, count = nothing.stderr.splitlines()
    assert warning == "Warning: no run has 'optim.lrr'; did you mean 'optim.lr'?"
    assert count.startswith("0 run(s) in ")
    assert listed.stderr.splitlines()[:2] == [
        "Warning: no listed run has 'loss.mn'; did you mean 'loss.min'?",
        "Warning: no listed run has 'zzz'",
    ]
    assert "Warning" not in fine.stderr


def test_ls_shows_the_columns_it_filters_by_even_when_constant(
    runlab_cli: Any, three: list[str]
) -> None:
    done = runlab_cli("ls", "depth = 2 and optim.lr < 1")

    assert done.returncode == 0, done.stderr
    header = re.split(r"\s{2,}", done.stdout.splitlines()[0])
    assert "depth" in header and "optim.lr" in header
