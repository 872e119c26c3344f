"""Keep the exact code a run starts from, as a commit under a runlab ref.

:func:`snapshot_code` turns the work tree of the repository that holds the
run's folder (committed files, uncommitted changes and untracked, non-ignored
files) into a commit made with git's plumbing, and points
``refs/runlab/runs/<run id>`` at it. Neither the work tree, the index, ``HEAD``
nor any branch changes: the tree is built in a temporary index file, and the
commit's only parent is ``HEAD`` (none in a repository without commits). The
ref keeps the commit alive through rebases, branch deletions and ``git gc``.

What it leaves out, and lists in ``snapshot_left_out`` (``path``, ``bytes``,
``reason``):

- a changed or untracked file over ``max_file_bytes`` (default 10 MiB); a
  changed tracked file left out keeps its version in ``HEAD``;
- an untracked binary file (a NUL byte in its first 8,000 bytes, as git
  decides) over ``max_binary_bytes`` (default 1 MiB): most often a data set
  or a model file that would bloat the repository;
- a changed or untracked file that would take the new content past
  ``max_total_bytes`` (default 100 MiB), in the order git lists them (changed
  tracked files first): an untracked folder of data that ``.gitignore`` misses
  must not copy gigabytes into ``.git`` at every run;
- an untracked nested git repository, and a file this process cannot read;
- the folders given in ``exclude`` (the store, when it lives in the work tree);
  these are not listed.

The facts go into the run's ``code/git.json``, beside those of
:func:`runlab.capture.git.capture_git` (which writes the file first): ``snapshot``
(the commit, or None), ``snapshot_ref``, ``snapshot_repo`` (the repository's
git folder, where the commit lives), ``snapshot_left_out`` and
``snapshot_reason`` (why there is no snapshot: not a repository, git missing, a
git command that failed). ``snapshot_left_out`` lists at most 1,000 files;
``snapshot_left_out_count`` counts them all. Like the other captures it never
raises for a problem of the environment.

Limit: the wrapped command starts before the snapshot is taken, so a file the
command writes into the work tree in its first moments may be in it.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runlab import _json
from runlab._atomic import write_text_atomic
from runlab.capture.git import GIT_FILE, read_git
from runlab.errors import RunlabError

__all__ = [
    "GitCommandFailed",
    "find_repository",
    "run_git",
    "snapshot_code",
    "snapshot_ref",
]

logger = logging.getLogger(__name__)

MIB = 1024 * 1024
MAX_FILE_BYTES = 10 * MIB
MAX_BINARY_BYTES = 1 * MIB
MAX_TOTAL_BYTES = 100 * MIB
MAX_LISTED = 1000
_UNTRACKED = ["ls-files", "-z", "--others", "--exclude-standard"]
# Git calls a file binary when one of its first 8,000 bytes is NUL.
_BINARY_PROBE = 8000
_IDENTITY = {
    "GIT_AUTHOR_NAME": "runlab",
    "GIT_AUTHOR_EMAIL": "runlab@localhost",
    "GIT_COMMITTER_NAME": "runlab",
    "GIT_COMMITTER_EMAIL": "runlab@localhost",
}


class GitCommandFailed(RunlabError):
    """A git command could not start, took too long, or failed."""


@dataclass(frozen=True)
class _Limits:
    file: int
    binary: int
    total: int


def snapshot_ref(run_id: str) -> str:
    """Return the ref that keeps the snapshot of run ``run_id``."""
    return f"refs/runlab/runs/{run_id}"


def snapshot_code(
    cwd: str | os.PathLike[str],
    code_dir: str | os.PathLike[str],
    run_id: str,
    *,
    exclude: Sequence[str | os.PathLike[str]] = (),
    max_file_bytes: int = MAX_FILE_BYTES,
    max_binary_bytes: int = MAX_BINARY_BYTES,
    max_total_bytes: int = MAX_TOTAL_BYTES,
    timeout: float = 30.0,
) -> dict[str, Any]:
    """Commit the work tree holding ``cwd`` under ``refs/runlab/runs/<run_id>``.

    Args:
        cwd: the folder the run starts in; any folder inside the work tree.
        code_dir: the run's ``code/`` folder; its ``git.json`` gains the facts.
        run_id: the run the snapshot belongs to; names the ref.
        exclude: folders left out of the snapshot (the store).
        max_file_bytes: the largest changed or untracked file kept.
        max_binary_bytes: the largest untracked binary file kept.
        max_total_bytes: the most bytes of changed and untracked files kept.
        timeout: seconds each git command may take.

    Returns:
        The facts added to ``git.json``: ``snapshot``, ``snapshot_ref``,
        ``snapshot_repo``, ``snapshot_left_out``, ``snapshot_left_out_count``
        and ``snapshot_reason``.

    Raises:
        OSError: ``code_dir`` cannot be written.
    """
    facts: dict[str, Any] = {
        "snapshot": None,
        "snapshot_ref": None,
        "snapshot_repo": None,
        "snapshot_left_out": [],
        "snapshot_left_out_count": 0,
        "snapshot_reason": None,
    }
    limits = _Limits(max_file_bytes, max_binary_bytes, max_total_bytes)
    try:
        facts.update(_snapshot(Path(cwd), run_id, exclude, limits, timeout))
    except GitCommandFailed as exc:
        facts["snapshot_reason"] = str(exc)
        logger.warning("No code snapshot for run %s: %s", run_id, exc)
    _record(Path(code_dir), facts)
    return facts


def _snapshot(
    cwd: Path,
    run_id: str,
    exclude: Sequence[str | os.PathLike[str]],
    limits: _Limits,
    timeout: float,
) -> dict[str, Any]:
    if shutil.which("git") is None:
        return {"snapshot_reason": "git not found on PATH"}
    root = find_repository(cwd, timeout=timeout)
    if root is None:
        logger.info("No code snapshot: %s is not in a git repository.", cwd)
        return {"snapshot_reason": "not a git repository"}
    head = _read_head(root, timeout)
    specs = _exclusions(root, exclude)
    repo = _common_dir(root, timeout)

    changed = _list_changed(root, head, specs, timeout)
    untracked = _list_paths(root, _UNTRACKED, specs, timeout)
    kept, left_out = _sort_out(root, changed, untracked, limits)
    tree = _write_tree(root, head, kept, timeout)
    commit = _commit_tree(root, tree, head, run_id, timeout)

    ref = snapshot_ref(run_id)
    run_git(root, ["update-ref", "-m", f"runlab: run {run_id}", ref, commit],
            timeout=timeout)  # fmt: skip
    logger.info("Code of run %s kept as commit %s (%s).", run_id, commit[:12], ref)
    return {
        "snapshot": commit,
        "snapshot_ref": ref,
        "snapshot_repo": repo,
        "snapshot_left_out": left_out[:MAX_LISTED],
        "snapshot_left_out_count": len(left_out),
    }


def find_repository(cwd: Path, *, timeout: float = 10.0) -> Path | None:
    """Return the top of the work tree holding ``cwd``, or None outside one.

    Raises:
        GitCommandFailed: git failed for another reason than "not a repository".
    """
    try:
        out = run_git(cwd, ["rev-parse", "--show-toplevel"], timeout=timeout)
    except GitCommandFailed as exc:
        if "not a git repository" in str(exc).lower():
            return None
        raise
    return Path(os.fsdecode(out.strip()))


def _read_head(root: Path, timeout: float) -> str | None:
    try:
        out = run_git(root, ["rev-parse", "-q", "--verify", "HEAD^{commit}"],
                      timeout=timeout)  # fmt: skip
    except GitCommandFailed:
        return None  # no commits yet: the snapshot starts from an empty tree
    return out.decode("ascii").strip()


def _common_dir(root: Path, timeout: float) -> str:
    """The repository's own git folder, shared by all its worktrees."""
    out = run_git(root, ["rev-parse", "--git-common-dir"], timeout=timeout)
    return str((root / os.fsdecode(out.strip())).resolve())


def _exclusions(root: Path, folders: Sequence[str | os.PathLike[str]]) -> list[str]:
    """Git pathspecs leaving out each of ``folders`` that lies inside ``root``."""
    specs = []
    for folder in folders:
        try:
            inside = Path(folder).resolve().relative_to(root.resolve())
        except ValueError:
            continue
        if inside.parts:
            specs.append(f":(exclude){inside.as_posix()}")
    return specs


def _list_changed(
    root: Path, head: str | None, specs: list[str], timeout: float
) -> list[bytes]:
    """Tracked paths whose work-tree content differs from ``head`` (all without)."""
    if head is None:
        return _list_paths(root, ["ls-files", "-z"], specs, timeout)
    args = ["diff", "--name-only", "-z", "--no-renames", "--no-ext-diff", head]
    return _list_paths(root, args, specs, timeout)


def _list_paths(
    root: Path, args: list[str], specs: list[str], timeout: float
) -> list[bytes]:
    out = run_git(root, [*args, "--", ".", *specs], timeout=timeout)
    return [path for path in out.split(b"\0") if path]


def _sort_out(
    root: Path,
    changed: list[bytes],
    untracked: list[bytes],
    limits: _Limits,
) -> tuple[list[bytes], list[dict[str, Any]]]:
    """Split the paths into those to snapshot and those left out (with why)."""
    kept: list[bytes] = []
    left_out: list[dict[str, Any]] = []
    total = 0
    candidates = [(p, True) for p in changed] + [(p, False) for p in untracked]
    for path, is_tracked in candidates:
        reason, size = _why_left_out(root, path, is_tracked, limits)
        if reason is None and total + (size or 0) > limits.total:
            reason = (
                f"the changed and untracked files kept reached {_mib(limits.total)}"
            )
        if reason is None:
            kept.append(path)
            total += size or 0
            continue
        if is_tracked:
            reason += "; the snapshot keeps its version in HEAD, if any"
        name = path.decode("utf-8", "replace").rstrip("/")
        left_out.append({"path": name, "bytes": size, "reason": reason})
    return kept, left_out


def _why_left_out(
    root: Path, path: bytes, is_tracked: bool, limits: _Limits
) -> tuple[str | None, int | None]:
    """Why ``path`` stays out of the snapshot, and its size; None when it goes in."""
    if path.endswith(b"/"):
        return "a nested git repository", None
    full = root / os.fsdecode(path)
    try:
        is_link = full.is_symlink()
        size = 0 if is_link else full.lstat().st_size
    except FileNotFoundError:
        return None, None  # deleted: the snapshot records the deletion
    except OSError as exc:
        return f"unreadable ({exc.strerror})", None
    if not is_link and full.is_file() and not os.access(full, os.R_OK):
        return "unreadable (permission denied)", size
    if size > limits.file:
        return f"larger than {_mib(limits.file)}", size
    if not is_tracked and size > limits.binary and _is_binary(full):
        return f"untracked binary file larger than {_mib(limits.binary)}", size
    return None, size


def _is_binary(path: Path) -> bool:
    try:
        with open(path, "rb") as file:
            return b"\0" in file.read(_BINARY_PROBE)
    except OSError:
        return False


def _mib(size: int) -> str:
    return f"{size / MIB:g} MiB"


def _write_tree(
    root: Path, head: str | None, paths: list[bytes], timeout: float
) -> str:
    """Build HEAD's tree plus ``paths`` as in the work tree, in a private index."""
    with tempfile.TemporaryDirectory(prefix="runlab-snapshot-") as folder:
        # Never the repository's own index: the user may be staging meanwhile.
        env = {"GIT_INDEX_FILE": str(Path(folder) / "index")}
        if head is not None:
            run_git(root, ["read-tree", head], timeout=timeout, env=env)
        listing = b"".join(path + b"\0" for path in paths)
        run_git(root, ["update-index", "--add", "--remove", "-z", "--stdin"],
                timeout=timeout, env=env, stdin=listing)  # fmt: skip
        out = run_git(root, ["write-tree"], timeout=timeout, env=env)
    return out.decode("ascii").strip()


def _commit_tree(
    root: Path, tree: str, head: str | None, run_id: str, timeout: float
) -> str:
    message = (
        f"runlab: code of run {run_id}\n\n"
        f"The work tree at the start of run {run_id}, uncommitted changes and "
        "untracked files included.\n"
    )
    parent = ["-p", head] if head is not None else []
    # A fixed identity, so that the user's config does not matter. Being
    # plumbing, commit-tree signs only when asked: no passphrase prompt here.
    args = ["commit-tree", *parent, "-m", message, tree]
    out = run_git(root, args, timeout=timeout, env=_IDENTITY)
    return out.decode("ascii").strip()


def _record(code: Path, facts: Mapping[str, Any]) -> None:
    """Add ``facts`` to ``git.json``, replacing it in one step."""
    code.mkdir(parents=True, exist_ok=True)
    info = read_git(code) or {}
    info.update(facts)
    write_text_atomic(code / GIT_FILE, _json.dumps(info, indent=2) + "\n")


def run_git(
    cwd: str | os.PathLike[str],
    args: list[str],
    *,
    timeout: float = 30.0,
    env: Mapping[str, str] | None = None,
    stdin: bytes | None = None,
) -> bytes:
    """Run ``git -C cwd ARGS`` and return its stdout.

    Git runs without a terminal prompt and without optional locks (it must not
    take ``index.lock`` while the user works in the same repository), in the C
    locale so that its messages can be matched.

    Raises:
        GitCommandFailed: git could not start, ran over ``timeout`` seconds,
            or exited with an error; the message is git's first line.
    """
    full_env = {**os.environ, "LC_ALL": "C", "GIT_TERMINAL_PROMPT": "0",
                "GIT_OPTIONAL_LOCKS": "0", **(env or {})}  # fmt: skip
    try:
        proc = subprocess.run(
            ["git", "-C", os.fspath(cwd), *args],
            input=stdin,
            stdin=None if stdin is not None else subprocess.DEVNULL,
            capture_output=True,
            env=full_env,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as exc:
        raise GitCommandFailed(f"git {args[0]} took over {timeout:g} s") from exc
    except OSError as exc:
        raise GitCommandFailed(f"git could not be started ({exc})") from exc
    if proc.returncode != 0:
        said = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        # The cause is git's "fatal:" or "error:" line; others only narrate.
        causes = [s for s in said if s.startswith(("fatal: ", "error: "))]
        line = (causes or said or [f"exit code {proc.returncode}"])[0]
        line = line.removeprefix("fatal: ").removeprefix("error: ")
        raise GitCommandFailed(f"git {args[0]} failed in {cwd}: {line}")
    return proc.stdout
