"""``runlab run`` as a command line: config files, overrides and their errors.

What the wrapper does with the child (exit codes, signals, git) is in
tests/test_launch.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.usefixtures("runlab_env")


def run_dirs(store: Path) -> list[Path]:
    if not store.exists():
        return []
    return sorted(p for p in store.iterdir() if p.is_dir() and p.name[0].isdigit())


def only_run(store: Path) -> Path:
    (folder,) = run_dirs(store)
    return folder


def snapshot(folder: Path) -> list[str]:
    if not folder.exists():
        return []
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    path = tmp_path / "cfg.yaml"
    path.write_text("optim:\n  lr: 0.1\n  momentum: 0.9\nbatch: 32\n")
    return path


def test_run_override_is_nested_in_config_yaml(
    runlab_cli: Any, store: Path, cfg: Path
) -> None:
    done = runlab_cli(
        "run", "-c", str(cfg), "optim.lr=0.01", "+new.key=1", "--", "true"
    )

    assert done.returncode == 0, done.stderr
    text = (only_run(store) / "config.yaml").read_text()
    assert text == ("optim:\n  lr: 0.01\n  momentum: 0.9\nbatch: 32\nnew:\n  key: 1\n")
    assert "optim.lr" not in text


def test_run_unknown_override_key_stops_before_creating_a_run(
    runlab_cli: Any, store: Path, cfg: Path
) -> None:
    done = runlab_cli("run", "-c", str(cfg), "optim.lrr=0.01", "--", "true")

    assert done.returncode == 1
    assert done.stderr == (
        f"Error: Config key 'optim.lrr' does not exist in {cfg}; did you mean "
        "'optim.lr'? Use +optim.lrr=... to add it.\n"
    )
    assert done.stdout == ""
    assert snapshot(store) == []


def test_run_override_without_config_file_becomes_the_config(
    runlab_cli: Any, store: Path
) -> None:
    done = runlab_cli("run", "lr=0.1", "model.layers=[64,64]", "--", "true")

    assert done.returncode == 0, done.stderr
    (folder,) = [p for p in store.iterdir() if p.name[0].isdigit()]
    assert (folder / "config.yaml").read_text() == (
        "lr: 0.1\nmodel:\n  layers:\n    - 64\n    - 64\n"
    )


def test_run_malformed_yaml_is_one_error_line_and_no_run(
    runlab_cli: Any, store: Path, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("optim:\n  lr: [0.1\nbatch: 3\n")

    done = runlab_cli("run", "-c", str(bad), "--", "true")

    assert done.returncode == 1
    lines = done.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"Error: {bad}:3:")
    assert "Traceback" not in done.stderr
    assert not store.exists()


def test_run_duplicate_keys_are_refused_with_both_lines(
    runlab_cli: Any, store: Path, tmp_path: Path
) -> None:
    dup = tmp_path / "dup.yaml"
    dup.write_text("data:\n  seq_len: 512\n  batch: 32\n  seq_len: 4096\n")

    done = runlab_cli("run", "-c", str(dup), "--", "true")

    assert done.returncode == 1
    assert done.stderr == (
        f"Error: {dup}: duplicate key 'data.seq_len' at lines 2 and 4; "
        "remove one of them.\n"
    )
    assert not store.exists()


def test_run_b01_floats_are_found_by_ls_and_shown_as_float(
    runlab_cli: Any, tmp_path: Path
) -> None:
    path = tmp_path / "b01.yaml"
    path.write_text("lr: 1e-3\nweight_decay: 5e-4\neps: 1.0e-8\nbudget: 1e+6\n")
    assert (
        runlab_cli("run", "-c", str(path), "--name", "b01", "--", "true").returncode
        == 0
    )
    assert runlab_cli("run", "-c", str(path), "lr=0.5", "--", "true").returncode == 0

    listed = runlab_cli("ls", "lr < 0.01", "--json")
    shown = runlab_cli("show", "b01")

    (record,) = json.loads(listed.stdout)
    assert record["name"] == "b01"
    assert record["config"] == {
        "lr": 0.001, "weight_decay": 0.0005, "eps": 1e-08, "budget": 1000000.0,
    }  # fmt: skip
    rows = [line.split() for line in shown.stdout.splitlines()]
    assert ["│", "lr", "│", "0.001", "│", "float", "│"] in rows
    assert ["│", "budget", "│", "1e+06", "│", "float", "│"] in rows


def test_run_without_command_is_a_usage_error(runlab_cli: Any, store: Path) -> None:
    done = runlab_cli("run", "lr=1")

    assert done.returncode == 2
    assert done.stderr.endswith("Error: Give the command to run after '--'.\n")
    assert not store.exists()


def test_run_positional_that_is_not_an_override_points_to_dash_dash(
    runlab_cli: Any, store: Path
) -> None:
    done = runlab_cli("run", "python", "train.py")

    assert done.returncode == 1
    assert done.stderr == (
        "Error: 'python' is not an override (key=value); put the command after '--'.\n"
    )
    assert not store.exists()


def test_run_missing_config_file_is_one_error_line(
    runlab_cli: Any, store: Path, tmp_path: Path
) -> None:
    done = runlab_cli("run", "-c", "nope.yaml", "--", "true")

    assert done.returncode == 1
    assert done.stderr == "Error: Config file 'nope.yaml' does not exist.\n"
    assert not store.exists()


def test_run_records_name_tags_and_notes(runlab_cli: Any, store: Path) -> None:
    done = runlab_cli(
        "run", "--name", "base", "--tag", "a", "--tag", "b", "--notes", "why",
        "--", "true",
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    folder = only_run(store)
    meta = json.loads((folder / "run.json").read_text())
    assert (meta["name"], meta["tags"]) == ("base", ["a", "b"])
    assert (folder / "README.md").read_text().endswith("\n\nwhy\n")


def test_run_dash_dash_inside_the_command_reaches_the_child(
    runlab_cli: Any, store: Path
) -> None:
    import sys

    code = "import sys; print(sys.argv[1:])"
    done = runlab_cli("run", "--", sys.executable, "-c", code, "--", "x=1")

    assert done.returncode == 0, done.stderr
    assert done.stdout == "['--', 'x=1']\n"
    assert (only_run(store) / "config.yaml").read_text() == "{}\n"


@pytest.mark.parametrize(
    ("switch", "env", "sampled"),
    [([], "1", True), (["--no-system-metrics"], "1", False), ([], "0", False)],
)
def test_run_samples_system_use_unless_switched_off(
    runlab_cli: Any, store: Path, switch: list[str], env: str, sampled: bool
) -> None:
    import sys

    done = runlab_cli(
        "run", *switch, "--", sys.executable, "-c", "import time; time.sleep(0.6)",
        env={"RUNLAB_SYSTEM_METRICS": env, "RUNLAB_SYSTEM_INTERVAL_S": "0.1"},
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    listed = json.loads(runlab_cli("ls", "--json").stdout)
    names = set(listed[0]["metrics"])
    assert ("sys/cpu_percent" in names) is sampled
