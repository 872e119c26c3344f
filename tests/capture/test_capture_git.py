from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from runlab.capture.git import capture_git, read_git, strip_credentials


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
    proc = subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True
    )
    return proc.stdout.decode().strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    (path / "a.txt").write_text("one\n")
    (path / ".gitignore").write_text("*.log\n")
    git(path, "add", ".")
    git(path, "commit", "-q", "-m", "first")
    return path


def capture(cwd: Path, tmp_path: Path, **kwargs: int) -> tuple[dict[str, Any], Path]:
    code = tmp_path / "run" / "code"
    return capture_git(cwd, code, **kwargs), code


def test_capture_git_clean_repo_records_commit_and_branch(
    repo: Path, tmp_path: Path
) -> None:
    info, code = capture(repo, tmp_path)

    assert info == {
        "available": True,
        "reason": None,
        "repo": True,
        "root": str(repo),
        "commit": git(repo, "rev-parse", "HEAD"),
        "branch": "main",
        "detached": False,
        "has_commits": True,
        "remote": None,
        "dirty": False,
        "patch_bytes": 0,
        "patch_truncated": False,
        "patch_files": [],
        "untracked_count": 0,
    }
    assert (code / "diff.patch").read_bytes() == b""
    assert (code / "untracked.txt").read_bytes() == b""


def test_capture_git_writes_git_json_that_read_git_returns(
    repo: Path, tmp_path: Path
) -> None:
    info, code = capture(repo, tmp_path)

    assert json.loads((code / "git.json").read_text()) == info
    assert read_git(code) == info


def test_read_git_returns_none_without_git_json(tmp_path: Path) -> None:
    assert read_git(tmp_path) is None


def test_capture_git_dirty_tracked_file_goes_into_patch(
    repo: Path, tmp_path: Path
) -> None:
    (repo / "a.txt").write_text("two\n")

    info, code = capture(repo, tmp_path)

    patch = (code / "diff.patch").read_text()
    assert patch.startswith("diff --git a/a.txt b/a.txt\n")
    assert patch.endswith("--- a/a.txt\n+++ b/a.txt\n@@ -1 +1 @@\n-one\n+two\n")
    assert info["dirty"] is True
    assert info["patch_bytes"] == len(patch.encode())
    assert info["patch_truncated"] is False


def test_capture_git_patch_applies_to_the_commit(repo: Path, tmp_path: Path) -> None:
    (repo / "a.txt").write_text("two\n")
    _, code = capture(repo, tmp_path)
    git(repo, "checkout", "-q", "--", "a.txt")

    git(repo, "apply", str(code / "diff.patch"))

    assert (repo / "a.txt").read_text() == "two\n"


def test_capture_git_lists_untracked_files_but_not_ignored_ones(
    repo: Path, tmp_path: Path
) -> None:
    (repo / "new.txt").write_text("new\n")
    (repo / "sub").mkdir()
    (repo / "sub" / "x.bin").write_bytes(b"\0" * 1000)
    (repo / "debug.log").write_text("ignored\n")

    info, code = capture(repo, tmp_path)

    assert (code / "untracked.txt").read_text() == "new.txt\nsub/x.bin\n"
    assert info["untracked_count"] == 2
    assert info["dirty"] is True
    assert info["patch_bytes"] == 0


def test_capture_git_from_a_subfolder_records_the_whole_repository(
    repo: Path, tmp_path: Path
) -> None:
    (repo / "sub").mkdir()
    (repo / "top.txt").write_text("untracked at the root\n")
    (repo / "a.txt").write_text("two\n")

    info, code = capture(repo / "sub", tmp_path)

    assert info["root"] == str(repo)
    assert (code / "untracked.txt").read_text() == "top.txt\n"
    assert "+++ b/a.txt" in (code / "diff.patch").read_text()


def test_capture_git_caps_untracked_list_at_10000_paths(
    repo: Path, tmp_path: Path
) -> None:
    many = repo / "many"
    many.mkdir()
    for i in range(10_005):
        (many / f"{i:05d}").touch()

    info, code = capture(repo, tmp_path)

    lines = (code / "untracked.txt").read_text().splitlines()
    assert info["untracked_count"] == 10_005
    assert len(lines) == 10_000
    assert lines[-1] == "many/09999"


def test_capture_git_does_not_inline_binary_changes(repo: Path, tmp_path: Path) -> None:
    (repo / "blob.bin").write_bytes(b"\0\1\2" * 100)
    git(repo, "add", "blob.bin")
    git(repo, "commit", "-q", "-m", "blob")
    (repo / "blob.bin").write_bytes(b"\0\3\4" * 100)

    info, code = capture(repo, tmp_path)

    patch = (code / "diff.patch").read_bytes()
    assert b"Binary files a/blob.bin and b/blob.bin differ\n" in patch
    assert b"\0" not in patch
    assert info["dirty"] is True


def test_capture_git_truncates_patch_on_a_line_boundary(
    repo: Path, tmp_path: Path
) -> None:
    (repo / "a.txt").write_text("".join(f"line {i}\n" for i in range(100)))
    full_info, _ = capture(repo, tmp_path / "full")

    info, code = capture(repo, tmp_path, max_patch_bytes=200)

    patch = (code / "diff.patch").read_bytes()
    assert info["patch_truncated"] is True
    assert info["patch_bytes"] == full_info["patch_bytes"]
    assert full_info["patch_truncated"] is False
    assert 0 < len(patch) <= 200
    assert patch.endswith(b"\n")
    assert patch.startswith(b"diff --git a/a.txt b/a.txt\n")


@pytest.mark.parametrize(
    ("url", "recorded"),
    [
        ("https://user:tok@github.com/a/b.git", "https://github.com/a/b.git"),
        ("https://ghp_secret@github.com/a/b.git", "https://github.com/a/b.git"),
        ("git@github.com:a/b.git", "git@github.com:a/b.git"),
        (
            "ssh://git:pw@host.example:2222/a/b.git",
            "ssh://git@host.example:2222/a/b.git",
        ),
        ("https://github.com/a/b.git", "https://github.com/a/b.git"),
    ],
)
def test_capture_git_strips_credentials_from_remote(
    repo: Path, tmp_path: Path, url: str, recorded: str
) -> None:
    git(repo, "remote", "add", "origin", url)

    info, code = capture(repo, tmp_path)

    assert info["remote"] == recorded
    assert "tok" not in (code / "git.json").read_text()


def test_strip_credentials_keeps_url_without_user_part() -> None:
    assert strip_credentials("file:///srv/repos/a.git") == "file:///srv/repos/a.git"


def test_capture_git_repository_without_commits(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "fresh"
    path.mkdir()
    git(path, "init", "-q", "-b", "trunk")
    (path / "staged.txt").write_text("hello\n")
    git(path, "add", "staged.txt")
    (path / "loose.txt").write_text("loose\n")

    with caplog.at_level(logging.INFO):
        info, code = capture(path, tmp_path)

    assert info == {
        "available": False,
        "reason": "repository has no commits",
        "repo": True,
        "root": str(path),
        "commit": None,
        "branch": "trunk",
        "detached": False,
        "has_commits": False,
        "remote": None,
        "dirty": True,
        "patch_bytes": len((code / "diff.patch").read_bytes()),
        "patch_truncated": False,
        "patch_files": [
            {
                "path": "staged.txt",
                "status": "A",
                "bytes": len((code / "diff.patch").read_bytes()),
                "included": True,
                "binary": False,
            }
        ],
        "untracked_count": 1,
    }
    assert (
        "+++ b/staged.txt\n@@ -0,0 +1 @@\n+hello\n" in (code / "diff.patch").read_text()
    )
    assert (code / "untracked.txt").read_text() == "loose.txt\n"
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_capture_git_detached_head(
    repo: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    git(repo, "checkout", "-q", "--detach")

    info, _ = capture(repo, tmp_path)

    assert info["available"] is True
    assert info["reason"] is None
    assert info["commit"] == git(repo, "rev-parse", "HEAD")
    assert info["branch"] is None
    assert info["detached"] is True
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_capture_git_outside_a_repository(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()

    info, code = capture(plain, tmp_path)

    assert info == {
        "available": False,
        "reason": "not a git repository",
        "repo": False,
        "root": None,
        "commit": None,
        "branch": None,
        "detached": False,
        "has_commits": False,
        "remote": None,
        "dirty": False,
        "patch_bytes": 0,
        "patch_truncated": False,
        "patch_files": [],
        "untracked_count": 0,
    }
    assert sorted(p.name for p in code.iterdir()) == [
        "diff.patch",
        "git.json",
        "untracked.txt",
    ]
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_capture_git_without_git_on_path(
    repo: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))

    info, code = capture(repo, tmp_path)

    assert info["available"] is False
    assert info["reason"] == "git not found on PATH"
    assert info["repo"] is False
    assert info["commit"] is None
    assert read_git(code) == info
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_capture_git_in_a_missing_folder_records_why(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    info, _ = capture(tmp_path / "gone", tmp_path)

    assert info["available"] is False
    assert info["repo"] is False
    assert "cannot change to" in info["reason"]
    assert len([r for r in caplog.records if r.levelno >= logging.WARNING]) == 1


def test_capture_git_leaves_out_excluded_folders(repo: Path, tmp_path: Path) -> None:
    store = repo / "runs"
    (store / "261203-120000-abcd").mkdir(parents=True)
    (store / "261203-120000-abcd" / "run.json").write_text("{}")
    (repo / "new.py").write_text("x = 1\n")

    info = capture_git(repo, tmp_path / "code", exclude=[store, tmp_path / "elsewhere"])

    assert (info["untracked_count"], info["dirty"]) == (1, True)
    assert (tmp_path / "code" / "untracked.txt").read_text() == "new.py\n"


def test_capture_git_lists_every_changed_file_with_its_part_of_the_patch(
    repo: Path, tmp_path: Path
) -> None:
    (repo / "sp ace.txt").write_text("x\n")
    (repo / "ü.txt").write_text("y\n")
    (repo / "old.txt").write_text("".join(f"{i}\n" for i in range(100)))
    (repo / "blob.bin").write_bytes(b"\0\1")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "more")
    (repo / "sp ace.txt").write_text("x\nz\n")
    (repo / "ü.txt").write_text("y\nz\n")
    git(repo, "mv", "old.txt", "new.txt")
    (repo / "a.txt").unlink()
    (repo / "blob.bin").write_bytes(b"\0\2")

    info, _ = capture(repo, tmp_path)
    cut, cut_code = capture(repo, tmp_path / "cut", max_patch_bytes=150)

    files = {f["path"]: f for f in info["patch_files"]}
    assert {p: (f["status"], f["included"]) for p, f in files.items()} == {
        "a.txt": ("D", True), "blob.bin": ("M", True), "new.txt": ("R", True),
        "sp ace.txt": ("M", True), "ü.txt": ("M", True),
    }  # fmt: skip
    assert files["new.txt"]["old_path"] == "old.txt"
    assert sum(f["bytes"] for f in files.values()) == info["patch_bytes"]
    assert (files["blob.bin"]["binary"], files["blob.bin"]["size"]) == (True, 2)
    assert files["blob.bin"]["sha256"] == hashlib.sha256(b"\0\2").hexdigest()
    kept = [f["path"] for f in cut["patch_files"] if f["included"]]
    assert kept == ["a.txt"]
    assert (cut_code / "diff.patch").read_bytes().count(b"diff --git") == 1
    left_out = {f["path"]: f for f in cut["patch_files"] if not f["included"]}
    assert "a.txt" not in left_out
    assert left_out["ü.txt"]["sha256"] == hashlib.sha256(b"y\nz\n").hexdigest()


def test_capture_git_measures_parts_across_read_chunks(
    repo: Path, tmp_path: Path
) -> None:
    for i in range(400):
        (repo / f"f{i:03}.txt").write_text("".join(f"old {j:02}\n" for j in range(40)))
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "many")
    for i in range(400):
        (repo / f"f{i:03}.txt").write_text("".join(f"new {j:02}\n" for j in range(40)))

    info, _ = capture(repo, tmp_path, max_patch_bytes=100_000)

    files = info["patch_files"]
    assert len(files) == 400
    assert sum(f["bytes"] for f in files) == info["patch_bytes"] > 200_000
    one = capture(repo, tmp_path / "one")[0]["patch_files"][7]["bytes"]
    assert {f["bytes"] for f in files} == {one}
    included = [f["included"] for f in files]
    assert included == sorted(included, reverse=True)
    assert sum(included) == 100_000 // one
