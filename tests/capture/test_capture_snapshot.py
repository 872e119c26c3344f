from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from runlab.capture.git import capture_git
from runlab.capture.snapshot import snapshot_code

RUN_ID = "261203-151207-a3f9"
REF = f"refs/runlab/runs/{RUN_ID}"


@pytest.fixture(autouse=True)
def isolated_git(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Keep the user's git config and any enclosing repository out of the tests."""
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    for role in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{role}_NAME", "Test")
        monkeypatch.setenv(f"GIT_{role}_EMAIL", "test@example.com")


def git(repo: Path, *args: str) -> str:
    # No optional locks: a plain `git status` may rewrite the index, which
    # would hide whether the snapshot touched it.
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0"}
    proc = subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, env=env
    )
    return proc.stdout.decode().strip()


def blob(repo: Path, commit: str, path: str) -> bytes:
    proc = subprocess.run(
        ["git", "-C", str(repo), "cat-file", "blob", f"{commit}:{path}"],
        check=True,
        capture_output=True,
    )
    return proc.stdout


def tree_paths(repo: Path, commit: str) -> list[str]:
    return git(repo, "ls-tree", "-r", "--name-only", commit).splitlines()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    (path / "train.py").write_text("print('one')\n")
    (path / "gone.py").write_text("old\n")
    (path / ".gitignore").write_text("*.log\n")
    git(path, "add", ".")
    git(path, "commit", "-q", "-m", "first")
    return path


def snapshot(repo: Path, tmp_path: Path, **kwargs: Any) -> dict[str, Any]:
    return snapshot_code(repo, tmp_path / "run" / "code", RUN_ID, **kwargs)


def repo_state(repo: Path) -> dict[str, Any]:
    index = repo / ".git" / "index"
    return {
        "index": (index.read_bytes(), index.stat().st_mtime_ns),
        "head": git(repo, "rev-parse", "HEAD"),
        "symbolic": git(repo, "symbolic-ref", "HEAD"),
        "branches": git(repo, "branch", "--list"),
        "status": git(repo, "status", "--porcelain", "--untracked-files=all"),
    }


def test_snapshot_holds_uncommitted_edits_and_untracked_files(
    repo: Path, tmp_path: Path
) -> None:
    (repo / "train.py").write_text("print('two')\n")
    (repo / "gone.py").unlink()
    (repo / "model").mkdir()
    (repo / "model" / "net.py").write_text("LAYERS = 3\n")
    (repo / "debug.log").write_text("ignored\n")

    facts = snapshot(repo, tmp_path)

    commit = facts["snapshot"]
    assert tree_paths(repo, commit) == [".gitignore", "model/net.py", "train.py"]
    assert blob(repo, commit, "train.py") == b"print('two')\n"
    assert blob(repo, commit, "model/net.py") == b"LAYERS = 3\n"
    assert git(repo, "rev-parse", REF) == commit


def test_snapshot_changes_no_index_head_branch_or_work_tree(
    repo: Path, tmp_path: Path
) -> None:
    (repo / "train.py").write_text("print('two')\n")
    (repo / "staged.py").write_text("staged\n")
    git(repo, "add", "staged.py")
    (repo / "new.py").write_text("new\n")
    before = repo_state(repo)

    facts = snapshot(repo, tmp_path)

    assert facts["snapshot"] is not None
    assert repo_state(repo) == before
    assert blob(repo, facts["snapshot"], "staged.py") == b"staged\n"


def test_snapshot_commit_has_head_as_parent_and_a_fixed_author(
    repo: Path, tmp_path: Path
) -> None:
    facts = snapshot(repo, tmp_path)

    fields = git(repo, "log", "-1", "--format=%P|%an <%ae>|%cn <%ce>|%s", REF)
    assert fields.split("|") == [
        git(repo, "rev-parse", "HEAD"),
        "runlab <runlab@localhost>",
        "runlab <runlab@localhost>",
        f"runlab: code of run {RUN_ID}",
    ]
    assert facts["snapshot_ref"] == REF
    assert facts["snapshot_repo"] == str((repo / ".git").resolve())


def test_snapshot_survives_branch_deletion_and_gc(repo: Path, tmp_path: Path) -> None:
    git(repo, "switch", "-q", "-c", "idea")
    (repo / "idea.py").write_text("idea\n")
    facts = snapshot(repo, tmp_path)
    git(repo, "switch", "-q", "main")
    git(repo, "branch", "-q", "-D", "idea")

    git(repo, "gc", "-q", "--prune=now")

    assert blob(repo, facts["snapshot"], "idea.py") == b"idea\n"


def test_snapshot_leaves_out_untracked_binary_files_over_the_limit(
    repo: Path, tmp_path: Path
) -> None:
    (repo / "weights.bin").write_bytes(b"\0" * 2000)
    (repo / "small.bin").write_bytes(b"\0" * 10)
    (repo / "notes.txt").write_text("x" * 2000)

    facts = snapshot(repo, tmp_path, max_binary_bytes=1000)

    assert facts["snapshot_left_out"] == [
        {
            "path": "weights.bin",
            "bytes": 2000,
            "reason": "untracked binary file larger than 0.000953674 MiB",
        }
    ]
    paths = tree_paths(repo, facts["snapshot"])
    assert "small.bin" in paths and "notes.txt" in paths
    assert "weights.bin" not in paths


def test_snapshot_leaves_out_large_files_and_keeps_the_committed_version(
    repo: Path, tmp_path: Path
) -> None:
    (repo / "train.py").write_text("y" * 3000)
    (repo / "data.csv").write_text("z" * 3000)

    facts = snapshot(repo, tmp_path, max_file_bytes=2048)

    assert facts["snapshot_left_out"] == [
        {
            "path": "train.py",
            "bytes": 3000,
            "reason": "larger than 0.00195312 MiB; the snapshot keeps its "
            "version in HEAD, if any",
        },
        {"path": "data.csv", "bytes": 3000, "reason": "larger than 0.00195312 MiB"},
    ]
    assert blob(repo, facts["snapshot"], "train.py") == b"print('one')\n"
    assert "data.csv" not in tree_paths(repo, facts["snapshot"])


def test_snapshot_stops_taking_new_files_at_the_total_limit(
    repo: Path, tmp_path: Path
) -> None:
    (repo / "train.py").write_text("t" * 600)
    for name in ("a.txt", "b.txt", "c.txt"):
        (repo / name).write_text(name * 100)

    facts = snapshot(repo, tmp_path, max_total_bytes=1700)

    reason = "the changed and untracked files kept reached 0.00162125 MiB"
    assert facts["snapshot_left_out"] == [
        {"path": "c.txt", "bytes": 500, "reason": reason}
    ]
    assert tree_paths(repo, facts["snapshot"]) == [
        ".gitignore", "a.txt", "b.txt", "gone.py", "train.py",
    ]  # fmt: skip


def test_snapshot_lists_at_most_1000_left_out_files_and_counts_them_all(
    repo: Path, tmp_path: Path
) -> None:
    (repo / "data").mkdir()
    for n in range(1005):
        (repo / "data" / f"{n:04}.bin").write_bytes(b"\0\1")

    facts = snapshot(repo, tmp_path, max_binary_bytes=1)

    assert len(facts["snapshot_left_out"]) == 1000
    assert facts["snapshot_left_out_count"] == 1005
    assert facts["snapshot_left_out"][-1]["path"] == "data/0999.bin"


def test_snapshot_lists_a_nested_repository_as_left_out(
    repo: Path, tmp_path: Path
) -> None:
    (repo / "vendor").mkdir()
    git(repo / "vendor", "init", "-q")
    (repo / "vendor" / "lib.py").write_text("lib\n")

    facts = snapshot(repo, tmp_path)

    assert facts["snapshot_left_out"] == [
        {"path": "vendor", "bytes": None, "reason": "a nested git repository"}
    ]
    assert facts["snapshot"] is not None


def test_snapshot_leaves_out_excluded_folders(repo: Path, tmp_path: Path) -> None:
    (repo / "experiments" / "run1").mkdir(parents=True)
    (repo / "experiments" / "run1" / "run.json").write_text("{}")
    (repo / "kept.py").write_text("kept\n")

    facts = snapshot(repo, tmp_path, exclude=[repo / "experiments"])

    assert tree_paths(repo, facts["snapshot"]) == [
        ".gitignore",
        "gone.py",
        "kept.py",
        "train.py",
    ]
    assert facts["snapshot_left_out"] == []


def test_snapshot_keeps_executable_bits_and_symbolic_links(
    repo: Path, tmp_path: Path
) -> None:
    script = repo / "run.sh"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    (repo / "link.py").symlink_to("train.py")

    facts = snapshot(repo, tmp_path)

    listing = git(repo, "ls-tree", facts["snapshot"], "run.sh", "link.py")
    modes = {line.split("\t")[1]: line.split()[0] for line in listing.splitlines()}
    assert modes == {"run.sh": "100755", "link.py": "120000"}


def test_snapshot_in_a_repository_without_commits_has_no_parent(
    tmp_path: Path,
) -> None:
    repo = tmp_path / "fresh"
    repo.mkdir()
    git(repo, "init", "-q")
    (repo / "a.py").write_text("a\n")
    (repo / "b.py").write_text("b\n")
    git(repo, "add", "a.py")

    facts = snapshot(repo, tmp_path)

    assert git(repo, "log", "-1", "--format=%P", facts["snapshot"]) == ""
    assert tree_paths(repo, facts["snapshot"]) == ["a.py", "b.py"]


def test_snapshot_from_a_subfolder_covers_the_whole_work_tree(
    repo: Path, tmp_path: Path
) -> None:
    (repo / "sub").mkdir()
    (repo / "top.py").write_text("top\n")

    facts = snapshot_code(repo / "sub", tmp_path / "code", RUN_ID)

    assert "top.py" in tree_paths(repo, facts["snapshot"])


def test_snapshot_facts_join_the_git_json_of_capture_git(
    repo: Path, tmp_path: Path
) -> None:
    code = tmp_path / "run" / "code"
    captured = capture_git(repo, code)

    facts = snapshot_code(repo, code, RUN_ID)

    assert json.loads((code / "git.json").read_text()) == {**captured, **facts}
    assert [p.name for p in code.iterdir() if p.name.endswith(".tmp")] == []


def test_snapshot_outside_a_repository_records_why(tmp_path: Path) -> None:
    folder = tmp_path / "plain"
    folder.mkdir()

    facts = snapshot_code(folder, tmp_path / "code", RUN_ID)

    assert facts == {
        "snapshot": None,
        "snapshot_ref": None,
        "snapshot_repo": None,
        "snapshot_left_out": [],
        "snapshot_left_out_count": 0,
        "snapshot_reason": "not a git repository",
    }
    saved = json.loads((tmp_path / "code" / "git.json").read_text())
    assert saved["snapshot_reason"] == "not a git repository"


def test_snapshot_without_git_on_path_records_why(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "no-git"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))

    facts = snapshot(repo, tmp_path)

    assert (facts["snapshot"], facts["snapshot_reason"]) == (
        None,
        "git not found on PATH",
    )


def test_snapshot_records_a_failing_git_command_instead_of_raising(
    repo: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # A ref below the snapshot's name makes git refuse to create it.
    git(repo, "update-ref", f"{REF}/older", "HEAD")

    facts = snapshot(repo, tmp_path)

    assert facts["snapshot"] is None
    assert facts["snapshot_reason"].startswith(f"git update-ref failed in {repo}: ")
    assert f"No code snapshot for run {RUN_ID}: git update-ref" in caplog.text
