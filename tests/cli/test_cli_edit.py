"""``runlab note``, ``tag``, ``rm``, ``reindex``, and the help of every command."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

import runlab

pytestmark = pytest.mark.usefixtures("runlab_env")

COMMANDS = [
    "run",
    "ls",
    "show",
    "compare",
    "checkout",
    "diff",
    "reproduce",
    "note",
    "tag",
    "rm",
    "restore",
    "reindex",
    "doctor",
    "env",
    "journal",
    "report",
    "sweep",
    "ui",
]


def make_run(name: str, **config: Any) -> str:
    with runlab.start(config=config, name=name) as run:
        run.log({"loss": 0.5})
    return run.id


def names_listed(runlab_cli: Any) -> list[str]:
    done = runlab_cli("ls", "--json")
    assert done.returncode == 0, done.stderr
    return [r["name"] for r in json.loads(done.stdout)]


def test_note_appends_to_the_run_readme(runlab_cli: Any, store: Path) -> None:
    run_id = make_run("base")

    done = runlab_cli("note", "base", "Diverged after epoch 30.")

    path = store / run_id / "README.md"
    assert (done.returncode, done.stdout) == (0, f"Noted in {path}\n")
    assert path.read_text().endswith("\n\nDiverged after epoch 30.\n")
    assert runlab.load_run(run_id).notes == path.read_text()


def test_an_empty_note_is_refused(runlab_cli: Any, store: Path) -> None:
    run_id = make_run("base")

    done = runlab_cli("note", "base", "  ")

    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == "Error: A note needs some text; the note was not added.\n"
    assert not (store / run_id / "README.md").exists()


def test_tag_adds_and_remove_takes_away(runlab_cli: Any, store: Path) -> None:
    run_id = make_run("base")

    added = runlab_cli("tag", "base", "paper", "baseline", "paper")
    removed = runlab_cli("tag", run_id, "paper", "--remove")

    assert added.stdout == f"{run_id} tags: paper, baseline\n"
    assert removed.stdout == f"{run_id} tags: baseline\n"
    listed = json.loads(runlab_cli("ls", "tag:baseline", "--json").stdout)
    assert [(r["id"], r["tags"]) for r in listed] == [(run_id, ["baseline"])]
    last = runlab_cli("tag", run_id, "baseline", "--remove")
    assert last.stdout == f"{run_id} tags: (none)\n"
    assert last.stderr == ""
    never = runlab_cli("tag", run_id, "neverhad", "--remove")
    assert never.returncode == 0
    assert never.stderr == f"Warning: run {run_id} had no tag 'neverhad'.\n"


def test_rm_moves_the_run_to_trash_and_out_of_ls(runlab_cli: Any, store: Path) -> None:
    gone, kept = make_run("gone"), make_run("kept")

    done = runlab_cli("rm", "gone")

    assert (done.returncode, done.stdout) == (
        0, f"Moved {gone} to {store / '.trash' / gone}\n",
    )  # fmt: skip
    assert (store / ".trash" / gone / "run.json").exists()
    assert not (store / gone).exists()
    assert names_listed(runlab_cli) == ["kept"]
    assert (store / kept).is_dir()


def test_rm_purge_deletes_a_trashed_run_for_good(runlab_cli: Any, store: Path) -> None:
    run_id = make_run("gone")
    assert runlab_cli("rm", run_id).returncode == 0

    done = runlab_cli("rm", "--purge", run_id)

    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"Purged {run_id} (")
    assert list((store / ".trash").iterdir()) == []
    assert names_listed(runlab_cli) == []


def test_a_trashed_run_says_where_it_is_and_comes_back(
    runlab_cli: Any, store: Path
) -> None:
    run_id = make_run("lr0.01")
    assert runlab_cli("rm", "lr0.01").returncode == 0

    shown = runlab_cli("show", "lr0.01")
    restored = runlab_cli("restore", "lr0.01")
    again = runlab_cli("restore", "lr0.01")

    assert shown.returncode == 1
    assert shown.stderr == (
        f"Error: Run 'lr0.01' is in the trash of {store}; bring it back with "
        f"`runlab restore {run_id}`.\n"
    )
    assert restored.stdout == f"Restored {run_id}\n", restored.stderr
    assert names_listed(runlab_cli) == ["lr0.01"]
    assert again.returncode == 1
    assert again.stderr == f"Error: 'lr0.01' matches no trashed run in {store}.\n"


def test_rm_purge_of_a_live_run(runlab_cli: Any, store: Path) -> None:
    run_id = make_run("gone")

    done = runlab_cli("rm", "--purge", "gone")

    assert done.returncode == 0, done.stderr
    assert not (store / run_id).exists()
    assert names_listed(runlab_cli) == []


def test_rm_unknown_run_is_an_error_and_removes_nothing(
    runlab_cli: Any, store: Path
) -> None:
    make_run("kept")

    done = runlab_cli("rm", "kept", "nope")

    assert done.returncode == 1
    assert done.stderr == f"Error: No run 'nope' in {store}; see `runlab ls`.\n"
    assert names_listed(runlab_cli) == ["kept"]


@pytest.mark.parametrize("command", ["note", "tag", "rm"])
def test_edit_of_an_unknown_run_is_an_error(
    runlab_cli: Any, store: Path, command: str
) -> None:
    make_run("kept")

    done = runlab_cli(command, "nope", "text")

    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == f"Error: No run 'nope' in {store}; see `runlab ls`.\n"


def break_run(store: Path) -> str:
    broken = store / "261203-000000-dead"
    broken.mkdir(parents=True)
    (broken / "run.json").write_text("")
    return broken.name


def test_reindex_rebuilds_the_same_listing(runlab_cli: Any, store: Path) -> None:
    make_run("a", lr=0.1)
    make_run("b", lr=0.01)
    broken = break_run(store)
    (store / ".runlab" / "index.sqlite").unlink()
    before = runlab_cli("ls", "--json")

    done = runlab_cli("reindex")
    after = runlab_cli("ls", "--json")

    assert (done.returncode, done.stdout) == (0, f"Indexed 3 run(s) in {store}\n")
    assert after.stdout == before.stdout
    records = json.loads(after.stdout)
    assert [r["name"] for r in records] == ["a", "b", None]
    unreadable = records[2]
    assert (unreadable["id"], unreadable["status"]) == (broken, "unreadable")
    assert unreadable["error"] == (f"{store / broken / 'run.json'}: the file is empty")
    assert after.stderr == ""


def test_ls_table_warns_of_an_unreadable_run(runlab_cli: Any, store: Path) -> None:
    make_run("a")
    broken = break_run(store)
    assert runlab_cli("reindex").returncode == 0

    done = runlab_cli("ls")

    assert done.returncode == 0
    assert done.stderr.splitlines() == [
        f"2 run(s) in {store}",
        f"Warning: run {broken} is unreadable: "
        f"{store / broken / 'run.json'}: the file is empty",
    ]


def test_ls_lists_an_unreadable_run_added_after_the_index(
    runlab_cli: Any, store: Path
) -> None:
    make_run("a")
    broken = break_run(store)

    records = json.loads(runlab_cli("ls", "--json").stdout)

    assert [(r["id"], r["status"]) for r in records][1:] == [(broken, "unreadable")]


def test_ls_shows_a_run_broken_after_indexing_as_unreadable(
    runlab_cli: Any, store: Path
) -> None:
    run_id = make_run("a")
    (store / run_id / "run.json").write_text("{")

    (record,) = json.loads(runlab_cli("ls", "--json").stdout)

    assert record["status"] == "unreadable"


def test_store_set_tags_adds_a_repeated_tag_once(store: Path) -> None:
    run_id = make_run("base")

    assert runlab.open_store(store).set_tags(run_id, add=["x", "x"]) == ["x"]


def test_main_help_lists_every_command(runlab_cli: Any) -> None:
    done = runlab_cli("--help")

    assert done.returncode == 0
    section = done.stdout.split("Commands:\n", 1)[1]
    assert [
        line.split()[0] for line in section.splitlines() if line.strip()
    ] == COMMANDS
    assert "Example:" in done.stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_help_shows_an_example(runlab_cli: Any, command: str) -> None:
    done = runlab_cli(command, "--help")

    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"Usage: runlab {command} ")
    example = done.stdout.split("Example:\n", 1)[1].splitlines()[0]
    assert example.strip().startswith("runlab ")


def test_unknown_command_is_a_usage_error(runlab_cli: Any) -> None:
    done = runlab_cli("lss")

    assert done.returncode == 2
    assert done.stderr.endswith("Error: No such command 'lss'.\n")


def test_rm_refuses_a_running_run_unless_forced(runlab_cli: Any, store: Path) -> None:
    import os
    import socket

    run = runlab.start(name="busy")
    try:
        done = runlab_cli("rm", "busy")
        assert done.returncode == 1
        assert done.stderr == (
            f"Error: Run {run.id} is still running (pid {os.getpid()} on "
            f"{socket.gethostname()}); stop it first, or move it to the trash "
            "with --force, which stops it.\n"
        )
        assert (store / run.id / "run.json").exists()
    finally:
        run.finish()
    assert runlab_cli("rm", "busy").returncode == 0
    assert not (store / run.id).exists()


def test_rm_force_stops_a_running_script_before_trashing_its_run(
    runlab_cli: Any, store: Path, tmp_path: Path
) -> None:
    import subprocess
    import sys

    script = tmp_path / "train.py"
    script.write_text(
        "import time, runlab\nrun = runlab.start(name='live')\n"
        "for step in range(600):\n"
        "    run.log({'loss': 1.0 / (step + 1)}, step=step)\n"
        "    if step == 2: print('logging', flush=True)\n"
        "    time.sleep(0.05)\n"
        "run.finish()\n"
    )
    script_env = {**os.environ, "RUNLAB_DIR": str(store)}
    child = subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, env=script_env,
    )  # fmt: skip
    assert child.stdout is not None and child.stdout.readline() == "logging\n"
    (run_id,) = [p.name for p in store.iterdir() if not p.name.startswith(".")]

    done = runlab_cli("rm", "live", "--force")
    _, script_err = child.communicate(timeout=60)

    assert done.returncode == 0, done.stderr
    assert f"Run {run_id} is running; sending SIGTERM to its process" in done.stderr
    assert child.returncode == -15
    assert "Traceback" not in script_err
    assert not (store / run_id).exists()
    trashed = store / ".trash" / run_id
    meta = json.loads((trashed / "run.json").read_text())
    assert (meta["status"], meta["error"]) == ("killed", "SIGTERM")
    assert runlab_cli("restore", run_id).returncode == 0


def test_resume_refuses_a_run_that_is_still_running() -> None:
    run = runlab.start(name="live")
    try:
        with pytest.raises(runlab.errors.RunlabError, match="is still running"):
            runlab.start(resume="live")
    finally:
        run.finish()


@pytest.mark.parametrize("tag", ["", "a,b", "two\nlines"])
def test_tag_refuses_a_tag_that_cannot_be_listed(runlab_cli: Any, tag: str) -> None:
    make_run("base")

    done = runlab_cli("tag", "base", tag)

    assert done.returncode == 1
    assert done.stderr == (
        f"Error: Tag {tag!r} is not allowed: a tag is non-empty text without "
        "commas or line breaks.\n"
    )


def test_run_name_spanning_lines_is_refused_before_anything_is_written(
    runlab_cli: Any, store: Path
) -> None:
    done = runlab_cli("run", "--name", "a\nb", "--", "true")

    assert done.returncode == 1
    assert done.stderr.endswith(
        "Error: Run name 'a\\nb' is not allowed: give a non-empty, single-line name.\n"
    )
    assert not any(p.name[0].isdigit() for p in store.glob("*"))
