"""``runlab show`` and ``runlab compare``."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

import pytest

import runlab

pytestmark = pytest.mark.usefixtures("runlab_env")


def table_rows(text: str) -> list[list[str]]:
    return [
        [c.strip() for c in line.split("│")[1:-1]]
        for line in text.splitlines()
        if line.startswith("│")
    ]


@pytest.fixture
def finished(store: Path) -> str:
    with runlab.start(
        config={"optim": {"lr": 1e-3}, "layers": [64, 32], "tag": "no"},
        name="base",
        tags=["paper"],
        notes="first try",
    ) as run:
        for value in (math.nan, math.inf, -math.inf, 0.5):
            run.log({"loss": value})
    return run.id


def test_show_prints_facts_config_types_and_metrics(
    runlab_cli: Any, finished: str, store: Path
) -> None:
    done = runlab_cli("show", "base")

    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == f"{finished} (base)  finished"
    assert f"  folder     {store / finished}" in lines
    assert "  tags       paper" in lines
    assert "  git        not recorded (not a git repository)" in lines
    rows = table_rows(done.stdout)
    assert ["optim.lr", "0.001", "float"] in rows
    assert ["layers.0", "64", "int"] in rows
    assert ["tag", "no", "str"] in rows
    assert ["loss", "0.5", "-inf", "inf", "4", "3"] in rows
    assert lines[-1] == "first try"


def test_show_json_holds_git_environment_notes_and_checkpoints(
    runlab_cli: Any, finished: str
) -> None:
    done = runlab_cli("show", finished[:13], "--json")

    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout, parse_constant=lambda t: pytest.fail(t))
    assert (data["id"], data["name"], data["status"]) == (finished, "base", "finished")
    assert data["config"] == {"optim": {"lr": 0.001}, "layers": [64, 32], "tag": "no"}
    assert data["metrics"]["loss"]["min"] == "-Infinity"
    assert data["git"]["reason"] == "not a git repository"
    version = ".".join(map(str, sys.version_info[:3]))
    assert data["environment"]["python"]["version"] == version
    assert data["meta"]["status"] == "finished"
    assert data["notes"].endswith("\n\nfirst try\n")
    assert data["checkpoints"] == {"best": None, "last": None, "epochs": []}


def test_show_unknown_run_is_an_error(
    runlab_cli: Any, finished: str, store: Path
) -> None:
    done = runlab_cli("show", "nope")

    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == f"Error: No run 'nope' in {store}; see `runlab ls`.\n"


def test_show_ambiguous_prefix_names_the_matches(runlab_cli: Any, store: Path) -> None:
    ids = []
    for _ in range(2):
        with runlab.start() as run:
            ids.append(run.id)
    prefix = ids[0][:2]

    done = runlab_cli("show", prefix)

    assert done.returncode == 1
    assert done.stderr == (
        f"Error: '{prefix}' matches 2 runs ({', '.join(sorted(ids))}); "
        "give more of the id.\n"
    )


def test_compare_lists_only_the_config_keys_that_differ(
    runlab_cli: Any, store: Path
) -> None:
    ids = []
    for lr in (0.1, 0.01):
        with runlab.start(config={"optim": {"lr": lr}, "batch": 32}) as run:
            run.log({"acc": lr * 5})
        ids.append(run.id)

    done = runlab_cli("compare", *ids)

    assert done.returncode == 0, done.stderr
    rows = table_rows(done.stdout)
    assert [r[0] for r in rows] == [
        "status", "optim.lr", "acc.last", "acc.max", "acc.min",
    ]  # fmt: skip
    assert rows[1] == ["optim.lr", "0.1", "0.01"]
    data = json.loads(runlab_cli("compare", *ids, "--json").stdout)
    assert data["runs"] == ids
    assert data["config"] == {"optim.lr": [0.1, 0.01]}


def test_compare_identical_configs_says_so(runlab_cli: Any, store: Path) -> None:
    ids = []
    for _ in range(2):
        with runlab.start(config={"batch": 32}) as run:
            ids.append(run.id)

    done = runlab_cli("compare", *ids)

    assert done.returncode == 0
    assert done.stderr == "The runs' configs are identical.\n"
    rows = table_rows(runlab_cli("compare", *ids, "--all").stdout)
    assert ["batch", "32", "32"] in rows


def test_compare_unknown_run_is_an_error(
    runlab_cli: Any, finished: str, store: Path
) -> None:
    done = runlab_cli("compare", finished, "zzz")

    assert done.returncode == 1
    assert done.stderr == f"Error: No run 'zzz' in {store}; see `runlab ls`.\n"
