"""``runlab journal``: add, edit, ls, show and search, through the real command line."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import runlab

pytestmark = pytest.mark.usefixtures("runlab_env")

ADDED = re.compile(r"Added journal entry (\S+?)(?:; it mentions (.*))?\.\n")


def make_run(name: str, notes: str | None = None) -> str:
    with runlab.start(config={"lr": 0.1}, name=name, notes=notes) as run:
        run.log({"loss": 0.5})
    return run.id


def add_entry(runlab_cli: Any, *args: str) -> str:
    done = runlab_cli("journal", "add", *args)
    assert done.returncode == 0, done.stderr
    match = ADDED.fullmatch(done.stdout)
    assert match, done.stdout
    return match.group(1)


def runlab_with_input(tmp_path: Path, text: str, *args: str) -> Any:
    return subprocess.run(
        [sys.executable, "-m", "runlab", *args],
        cwd=tmp_path,
        input=text,
        capture_output=True,
        text=True,
        timeout=60,
    )


def editor_script(tmp_path: Path, body: str) -> str:
    """An $EDITOR command: a Python script that runs ``body`` on the file's path."""
    script = tmp_path / "editor.py"
    script.write_text(
        "import sys\nfrom pathlib import Path\npath = Path(sys.argv[1])\n"
        + textwrap.dedent(body)
    )
    return f"{sys.executable} {script}"


def test_add_writes_an_entry_file_and_names_the_runs_it_mentions(
    runlab_cli: Any, store: Path
) -> None:
    run_id = make_run("lr-0.1")

    done = runlab_cli("journal", "add", "lr-0.1 diverged; try warmup.", "--tag", "lr")

    entry_id = ADDED.fullmatch(done.stdout).group(1)  # type: ignore[union-attr]
    assert done.stdout == f"Added journal entry {entry_id}; it mentions {run_id}.\n"
    text = (store / "journal" / f"{entry_id}.md").read_text()
    assert text.endswith("tags: [lr]\n---\nlr-0.1 diverged; try warmup.\n")


def test_add_dash_reads_the_text_from_standard_input(
    runlab_cli: Any, tmp_path: Path
) -> None:
    done = runlab_with_input(tmp_path, "# From a pipe\n\nbody\n", "journal", "add", "-")

    assert done.returncode == 0, done.stderr
    entry_id = ADDED.fullmatch(done.stdout).group(1)  # type: ignore[union-attr]
    shown = json.loads(runlab_cli("journal", "show", entry_id, "--json").stdout)
    assert (shown["title"], shown["text"]) == ("From a pipe", "# From a pipe\n\nbody")


def test_add_of_empty_text_is_an_error(runlab_cli: Any) -> None:
    done = runlab_cli("journal", "add", "  ")

    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == (
        "Error: A journal entry needs some text; give it a line or more.\n"
    )


def test_ls_lists_id_date_tags_mentions_and_title_newest_first(
    runlab_cli: Any,
) -> None:
    run_id = make_run("base")
    first = add_entry(runlab_cli, "# Plan\nbaseline first", "--tag", "plan")
    second = add_entry(runlab_cli, f"base ({run_id}) done", "--tag", "result")

    done = runlab_cli("journal", "ls")

    lines = done.stdout.splitlines()
    assert lines[0].split() == ["id", "created", "tags", "runs", "title"]
    assert [line.split()[0] for line in lines[1:]] == [second, first]
    assert lines[1].split()[3:] == ["result", "1", "base", f"({run_id})", "done"]
    assert lines[2].split()[3:] == ["plan", "0", "Plan"]
    assert done.stderr.startswith("2 journal entries in ")


def test_ls_json_and_tag_filter(runlab_json: Any, runlab_cli: Any) -> None:
    run_id = make_run("base")
    add_entry(runlab_cli, "unrelated", "--tag", "misc")
    wanted = add_entry(runlab_cli, "base is the baseline", "--tag", "plan")

    listed = runlab_json("journal", "ls", "--tag", "plan")

    assert [e["id"] for e in listed] == [wanted]
    entry = listed[0]
    assert (entry["title"], entry["tags"], entry["runs"]) == (
        "base is the baseline", ["plan"], [run_id],
    )  # fmt: skip
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d", entry["created"]
    )
    assert "text" not in entry


def test_show_prints_the_text_then_the_runs_with_their_status(
    runlab_cli: Any,
) -> None:
    run_id = make_run("lr-0.1")
    entry_id = add_entry(runlab_cli, f"lr-0.1 and {run_id[:6]}x are unrelated")

    done = runlab_cli("journal", "show", entry_id[:-2])

    lines = done.stdout.splitlines()
    assert lines[0].startswith(f"{entry_id}  ")
    assert lines[1:] == [
        "",
        f"lr-0.1 and {run_id[:6]}x are unrelated",
        "",
        "Runs mentioned: 1",
        f"{run_id}  lr-0.1  finished",
    ]


def test_show_json_lists_the_runs_mentioned(runlab_json: Any, runlab_cli: Any) -> None:
    run_id = make_run("lr-0.1")
    entry_id = add_entry(runlab_cli, "lr-0.1 was best", "--tag", "result")

    shown = runlab_json("journal", "show", entry_id)

    assert shown["runs"] == [{"id": run_id, "name": "lr-0.1", "status": "finished"}]
    assert (shown["text"], shown["tags"]) == ("lr-0.1 was best", ["result"])


def test_show_of_an_unknown_entry_is_an_error(runlab_cli: Any, store: Path) -> None:
    done = runlab_cli("journal", "show", "1999-01")

    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == (
        f"Error: No journal entry '1999-01' in {store / 'journal'}; "
        "see `runlab journal ls`.\n"
    )


def test_an_ambiguous_prefix_is_an_error_that_lists_the_entries(
    runlab_cli: Any,
) -> None:
    first = add_entry(runlab_cli, "one")
    second = add_entry(runlab_cli, "two")

    done = runlab_cli("journal", "show", "2")

    assert done.returncode == 1
    assert done.stderr == (
        f"Error: '2' matches 2 journal entries ({second}, {first}); "
        "give more of the id.\n"
    )


def test_edit_with_text_replaces_it_and_keeps_the_date(
    runlab_cli: Any, runlab_json: Any
) -> None:
    entry_id = add_entry(runlab_cli, "draft", "--tag", "idea")
    before = runlab_json("journal", "show", entry_id)

    done = runlab_cli("journal", "edit", entry_id, "--text", "final")
    again = runlab_cli("journal", "edit", entry_id, "--text", "final")

    assert done.stdout == f"Updated journal entry {entry_id}.\n"
    assert again.stdout == f"Journal entry {entry_id} is unchanged.\n"
    after = runlab_json("journal", "show", entry_id)
    assert (after["text"], after["tags"]) == ("final", ["idea"])
    assert after["created"] == before["created"]


def test_edit_with_tags_alone_changes_only_the_tags_without_an_editor(
    runlab_cli: Any, runlab_json: Any
) -> None:
    entry_id = add_entry(runlab_cli, "the text", "--tag", "idea")
    no_editor = {"EDITOR": "false", "VISUAL": None}

    tagged = runlab_cli("journal", "edit", entry_id, "--tag", "lr", "--tag", "warmup",
                        env=no_editor)  # fmt: skip
    shown = runlab_json("journal", "show", entry_id)
    cleared = runlab_cli("journal", "edit", entry_id, "--no-tags", env=no_editor)
    both = runlab_cli("journal", "edit", entry_id, "--no-tags", "--tag", "x")

    assert tagged.stdout == f"Updated journal entry {entry_id}.\n", tagged.stderr
    assert (shown["text"], shown["tags"]) == ("the text", ["lr", "warmup"])
    assert cleared.returncode == 0, cleared.stderr
    assert runlab_json("journal", "show", entry_id)["tags"] == []
    assert both.returncode == 2
    assert "Give --tag or --no-tags, not both." in both.stderr


def test_edit_opens_the_editor_on_the_text(
    runlab_cli: Any, runlab_json: Any, tmp_path: Path
) -> None:
    entry_id = add_entry(runlab_cli, "first line")
    editor = editor_script(
        tmp_path,
        """
        text = path.read_text()
        path.write_text(text.replace("first", "edited") + "second line\\n")
        """,
    )

    done = runlab_cli(
        "journal", "edit", entry_id, env={"EDITOR": editor, "VISUAL": None}
    )

    assert (done.returncode, done.stdout) == (
        0, f"Updated journal entry {entry_id}.\n",
    )  # fmt: skip
    shown = runlab_json("journal", "show", entry_id)
    assert shown["text"] == "edited line\nsecond line"


def test_edit_closed_without_saving_leaves_the_entry(
    runlab_cli: Any, runlab_json: Any, tmp_path: Path
) -> None:
    entry_id = add_entry(runlab_cli, "keep me")
    editor = editor_script(tmp_path, "pass\n")

    done = runlab_cli(
        "journal", "edit", entry_id, env={"EDITOR": editor, "VISUAL": None}
    )

    assert done.stdout == f"Journal entry {entry_id} is unchanged.\n"
    assert runlab_json("journal", "show", entry_id)["text"] == "keep me"


def test_add_without_text_takes_it_from_the_editor(
    runlab_cli: Any, runlab_json: Any, tmp_path: Path
) -> None:
    editor = editor_script(
        tmp_path, 'path.write_text("# Written\\nin the editor\\n")\n'
    )

    done = runlab_cli("journal", "add", env={"EDITOR": editor, "VISUAL": None})

    entry_id = ADDED.fullmatch(done.stdout).group(1)  # type: ignore[union-attr]
    assert runlab_json("journal", "show", entry_id)["title"] == "Written"


def test_search_finds_entries_and_run_notes_together(
    runlab_cli: Any, runlab_json: Any
) -> None:
    noted = make_run("warm", notes="Linear warmup over 5 epochs fixed the spikes.")
    make_run("cold", notes="No warm start here.")
    entry_id = add_entry(runlab_cli, "Idea: try WARMUP for lr 0.1.")
    add_entry(runlab_cli, "Nothing to see.")

    done = runlab_cli("journal", "search", "warmup")
    hits = runlab_json("journal", "search", "warmup")

    entry_line, note_line = done.stdout.splitlines()
    assert entry_line == f"entry  {entry_id}     Idea: try WARMUP for lr 0.1."
    assert re.fullmatch(
        rf"note   {noted} \(warm\)  \*\*\S+\*\* Linear warmup over 5 epochs "
        r"fixed the spikes\.",
        note_line,
    )
    assert [(h["kind"], h["id"]) for h in hits] == [
        ("entry", entry_id), ("note", noted),
    ]  # fmt: skip
    assert hits[0]["snippet"] == "Idea: try WARMUP for lr 0.1."
    assert hits[1]["name"] == "warm"
    assert "warmup over 5 epochs" in hits[1]["snippet"]
    assert done.stderr == "2 match(es) for 'warmup'\n"


def test_search_needs_every_word(runlab_cli: Any, runlab_json: Any) -> None:
    make_run("warm", notes="warmup helped")
    entry_id = add_entry(runlab_cli, "warmup and lr together")

    hits = runlab_json("journal", "search", "warmup", "LR")

    assert [(h["kind"], h["id"]) for h in hits] == [("entry", entry_id)]


@pytest.mark.parametrize("command", ["add", "edit", "ls", "show", "search"])
def test_every_journal_command_help_shows_an_example(
    runlab_cli: Any, command: str
) -> None:
    done = runlab_cli("journal", command, "--help")

    assert done.stdout.startswith(f"Usage: runlab journal {command} ")
    example = done.stdout.split("Example:\n", 1)[1].splitlines()[0]
    assert example.strip().startswith(f"runlab journal {command} ")
