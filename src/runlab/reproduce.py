"""Rebuild a run's code, tell two runs apart, and run one again.

The code of a run is its snapshot (see :mod:`runlab.capture.snapshot`): a
commit in the run's repository, kept by ``refs/runlab/runs/<id>``. A run
recorded before snapshots existed, or whose snapshot failed, falls back to the
commit it started from; that holds its exact code only when the work tree was
clean, which :func:`plan_reproduction` insists on.

The repository is looked for where the run's ``git.json`` and ``run.json`` say
it was: the work-tree root, the run's working folder, and the repository's git
folder. A repository that was moved, deleted or re-cloned without the
``refs/runlab/`` refs no longer holds the code; the error says so.

Nothing here changes the user's work tree, index, ``HEAD`` or branches: code
comes back as a new detached worktree (or as plain files), and diffs compare
commits.
"""

from __future__ import annotations

import io
import logging
import math
import os
import platform
import re
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runlab import _json
from runlab.capture.snapshot import GitCommandFailed, run_git, snapshot_ref
from runlab.errors import RunlabError
from runlab.store import layout
from runlab.store.store import Store
from runlab.store.stored import StoredRun

__all__ = [
    "Reproduction",
    "RunCode",
    "add_worktree",
    "checkout_run",
    "delete_snapshot_ref",
    "diff_code",
    "diff_config",
    "diff_runs",
    "find_run_code",
    "plan_reproduction",
    "reproduce_run",
]

logger = logging.getLogger(__name__)

REPRODUCE_DIR = "reproduce"
# Fixed prefixes and no external tools, whatever the user's git config says.
_DIFF_ARGS = ["--no-color", "--no-ext-diff", "--no-textconv",
              "--src-prefix=a/", "--dst-prefix=b/"]  # fmt: skip


@dataclass(frozen=True)
class RunCode:
    """Where the code of one run lives.

    Attributes:
        run_id: the run.
        commit: its snapshot, else the commit it started from.
        is_snapshot: whether ``commit`` is the snapshot.
        dirty: whether the work tree had uncommitted changes at the start.
        note: why ``commit`` is not a snapshot; None when it is.
        repo: a folder where git finds ``commit``; None when none does.
        root: the work-tree root recorded at the start.
        left_out: the files the snapshot left out (``path``, ``bytes``,
            ``reason``), at most 1,000 of them.
        left_out_count: how many files it left out.
    """

    run_id: str
    commit: str
    is_snapshot: bool
    dirty: bool
    note: str | None
    repo: Path | None
    root: Path | None
    left_out: tuple[dict[str, Any], ...] = ()
    left_out_count: int = 0

    def require_repo(self) -> Path:
        """Return :attr:`repo`, or raise an error that says where it was."""
        if self.repo is not None:
            return self.repo
        where = f"the repository at {self.root}" if self.root else "its repository"
        raise RunlabError(
            f"The code of run {self.run_id} is commit {self.commit[:12]} of {where}, "
            "which is gone or no longer holds it; restore that repository and "
            "try again."
        )


def find_run_code(stored: StoredRun) -> RunCode:
    """Return where the code of ``stored`` lives.

    Raises:
        RunlabError: the run recorded neither a snapshot nor a commit.
    """
    git, meta = stored.git, stored.meta
    commit, note = git.get("snapshot"), None
    if not commit:
        reason = git.get("snapshot_reason") or "it was recorded before snapshots"
        commit, note = git.get("commit"), f"no snapshot ({reason})"
    if not commit:
        why = git.get("reason") or "nothing about git was recorded"
        raise RunlabError(f"Run {stored.id} recorded no code to go back to: {why}.")
    root = Path(git["root"]) if git.get("root") else None
    places = [
        root, meta.get("cwd"), *_git_dir_places(git.get("snapshot_repo")),
        # A moved repository: the store is often inside it, and so are we.
        stored.path.parent, Path.cwd(),
    ]  # fmt: skip
    return RunCode(
        run_id=stored.id, commit=commit, is_snapshot=note is None,
        dirty=bool(git.get("dirty")), note=note,
        repo=_first_holding(places, commit), root=root,
        left_out=tuple(git.get("snapshot_left_out") or ()),
        left_out_count=int(git.get("snapshot_left_out_count") or 0),
    )  # fmt: skip


def _git_dir_places(git_dir: str | None) -> list[Path]:
    if not git_dir:
        return []
    # The main work tree sits above ".git"; git also answers in the folder itself.
    path = Path(git_dir)
    return [path.parent, path] if path.name == ".git" else [path]


def _first_holding(places: list[Any], *commits: str) -> Path | None:
    """The first of ``places`` where git finds every one of ``commits``."""
    for place in places:
        if place and Path(place).is_dir() and all(_holds(place, c) for c in commits):
            return Path(place)
    return None


def _holds(place: str | os.PathLike[str], commit: str) -> bool:
    try:
        run_git(place, ["cat-file", "-e", f"{commit}^{{commit}}"], timeout=10)
    except GitCommandFailed:
        return False
    return True


def delete_snapshot_ref(code: RunCode) -> bool:
    """Delete the ref that keeps the snapshot of ``code``; return whether it went.

    For a run purged from the store: git never prunes refs by itself, so its
    snapshot would stay in the repository for good. The ref goes only while it
    still points at the run's snapshot; the commit itself goes at git's next
    garbage collection, unless a branch or another ref still reaches it.
    """
    if not code.is_snapshot or code.repo is None:
        return False
    try:
        ref = snapshot_ref(code.run_id)
        run_git(code.repo, ["update-ref", "-d", ref, code.commit], timeout=10)
    except GitCommandFailed as err:
        logger.debug("Could not delete the snapshot ref of %s: %s", code.run_id, err)
        return False
    return True


# Checkout ------------------------------------------------------------------


def checkout_run(
    store: Store, ref: str, path: str | os.PathLike[str], *, files: bool = False
) -> tuple[RunCode, Path]:
    """Write the code of run ``ref`` into ``path``; return its code and the path.

    ``path`` becomes a new git worktree detached at the code's commit, or with
    ``files`` a folder of plain files (``git archive``). It must not exist or
    be empty.

    Raises:
        RunNotFound: no run matches ``ref``.
        RunlabError: ``path`` is not empty, or the repository is gone.
    """
    code = find_run_code(store.load_run(ref))
    target = _check_empty(Path(path))
    repo = code.require_repo()
    if files:
        _extract(repo, code.commit, target)
    else:
        add_worktree(repo, code.commit, target)
    logger.info("Wrote the code of run %s into %s.", code.run_id, target)
    return code, target


def _check_empty(path: Path) -> Path:
    target = path.expanduser().absolute()
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise RunlabError(
            f"{target} already exists and is not an empty folder; "
            "give a new path or an empty folder."
        )
    return target


def add_worktree(repo: Path, commit: str, target: Path) -> None:
    """Add ``target`` as a worktree of ``repo`` detached at ``commit``."""
    # A worktree folder deleted by hand stays registered until pruned, and
    # would block adding one at the same path.
    run_git(repo, ["worktree", "prune"], timeout=60)
    run_git(repo, ["worktree", "add", "--detach", str(target), commit], timeout=300)


def _extract(repo: Path, commit: str, target: Path) -> None:
    archive = run_git(repo, ["archive", "--format=tar", commit], timeout=300)
    target.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:") as tar:
        # The "tar" filter keeps modes and links but nothing outside target.
        tar.extractall(target, filter="tar")


# Diff ----------------------------------------------------------------------


def diff_runs(store: Store, ref_a: str, ref_b: str) -> dict[str, Any]:
    """Compare two runs: code, then config, then environment.

    Returns:
        ``runs`` (the two ids); ``code`` (``a`` and ``b``: ``commit`` and
        ``snapshot``; ``stat`` and ``patch`` as git prints them; ``notes``);
        ``config`` (see :func:`diff_config`); ``packages`` (``added``,
        ``removed``, ``changed`` from A to B, and ``notes``); ``python``
        (the two versions).

    Raises:
        RunNotFound: a run reference matches no run.
    """
    a, b = store.load_run(ref_a), store.load_run(ref_b)
    return {
        "runs": [a.id, b.id],
        "code": diff_code(a, b),
        "config": diff_config(
            a.record.get("config_flat") or {}, b.record.get("config_flat") or {}
        ),
        "packages": _diff_packages(a, b),
        "python": [_python_version(a.environment), _python_version(b.environment)],
    }


def diff_code(a: StoredRun, b: StoredRun) -> dict[str, Any]:
    """The code diff of two runs; ``notes`` say what is missing or approximate."""
    result: dict[str, Any] = {
        "a": None,
        "b": None,
        "stat": "",
        "patch": "",
        "notes": [],
    }
    codes = []
    for key, stored in (("a", a), ("b", b)):
        try:
            code = find_run_code(stored)
        except RunlabError as err:
            result["notes"].append(str(err))
            continue
        result[key] = {"commit": code.commit, "snapshot": code.is_snapshot}
        if code.note:
            dirty = "; its uncommitted changes are not shown" if code.dirty else ""
            note = f"using the commit it started from{dirty}"
            result["notes"].append(f"Run {stored.id} has {code.note}: {note}.")
        codes.append(code)
    if len(codes) == 2:
        _fill_patch(result, codes[0], codes[1])
    return result


def _fill_patch(result: dict[str, Any], a: RunCode, b: RunCode) -> None:
    repo = _first_holding([a.repo, b.repo], a.commit, b.commit)
    if repo is None:
        result["notes"].append(
            f"No repository holds the code of both runs {a.run_id} and {b.run_id}; "
            "restore the repository they were run in."
        )
        return
    span = [a.commit, b.commit, "--"]
    stat = run_git(repo, ["diff", "--stat", *_DIFF_ARGS, *span], timeout=120)
    patch = run_git(repo, ["diff", *_DIFF_ARGS, *span], timeout=300)
    result["stat"] = stat.decode("utf-8", "replace")
    result["patch"] = patch.decode("utf-8", "replace")


def diff_config(a: dict[str, Any], b: dict[str, Any]) -> list[dict[str, Any]]:
    """The flat config keys that differ between ``a`` and ``b``, in their order.

    Each entry has ``key``, ``a`` and ``b`` (None where the key is absent), and
    ``in``: ``both``, or ``a`` or ``b`` for a key only one config has.
    """
    rows = []
    for key in [*a, *(k for k in b if k not in a)]:
        if key in a and key in b and _same(a[key], b[key]):
            continue
        where = "both" if key in a and key in b else ("a" if key in a else "b")
        rows.append({"key": key, "a": a.get(key), "b": b.get(key), "in": where})
    return rows


def _same(x: Any, y: Any) -> bool:
    # 1, 1.0 and true are different configs; NaN equals NaN here.
    if isinstance(x, float) and isinstance(y, float) and math.isnan(x):
        return math.isnan(y)
    return type(x) is type(y) and _json.dumps(x) == _json.dumps(y)


def _diff_packages(a: StoredRun, b: StoredRun) -> dict[str, Any]:
    from runlab.capture.environment import package_differences

    lists, notes = [], []
    for stored in (a, b):
        packages = stored.environment.get("packages")
        if not isinstance(packages, list):
            notes.append(f"Run {stored.id} recorded no package list.")
        lists.append(packages if isinstance(packages, list) else [])
    found = package_differences(lists[0], lists[1]) if not notes else {}
    empty: dict[str, Any] = {"added": [], "removed": [], "changed": []}
    return {**empty, **found, "notes": notes}


def _python_version(environment: dict[str, Any]) -> str | None:
    python = environment.get("python")
    return python.get("version") if isinstance(python, dict) else None


# Reproduce -----------------------------------------------------------------


@dataclass
class Reproduction:
    """Every step of running a run again, worked out before anything is done.

    Attributes:
        run_id: the run to reproduce.
        code: where its code lives.
        worktree: the new worktree to add.
        cwd: the folder the command runs in, inside ``worktree``.
        command: the command, with absolute paths into the old work tree
            moved into ``worktree``.
        config: the run's resolved config, given to the new run.
        experiment: the experiment the new run is filed under, as the old.
        packages: the package differences from the run's environment to this
            one (``added``, ``removed``, ``changed``); None when the run
            recorded no packages.
        python: the run's Python version and this one's.
        notes: what the plan had to make do with.
    """

    run_id: str
    code: RunCode
    worktree: Path
    cwd: Path
    command: list[str]
    config: dict[str, Any]
    experiment: str | None
    packages: dict[str, list[dict[str, Any]]] | None
    python: tuple[str | None, str]
    notes: list[str] = field(default_factory=list)


def plan_reproduction(store: Store, ref: str) -> Reproduction:
    """Work out how to run ``ref`` again, changing nothing.

    Raises:
        RunNotFound: no run matches ``ref``.
        RunlabError: the run recorded no command, its exact code is not
            known (no snapshot and uncommitted changes), or the repository
            is gone.
    """
    from runlab.config import load_config

    stored = store.load_run(ref)
    meta = stored.meta
    command = meta.get("command")
    if not isinstance(command, list) or not command:
        raise RunlabError(f"Run {stored.id} recorded no command to run again.")
    code = find_run_code(stored)
    _refuse_inexact(code)
    repo = code.require_repo()

    worktree = _free_folder(store.path / layout.INDEX_DIR / REPRODUCE_DIR, stored.id)
    inside = _relative_cwd(code, meta.get("cwd"))
    config_file = stored.path / layout.CONFIG_FILE
    packages, python = _environment_change(stored.environment)
    plan = Reproduction(
        run_id=stored.id, code=code, worktree=worktree, cwd=worktree / inside,
        command=_moved_command(command, code, repo, worktree),
        config=load_config(config_file) if config_file.exists() else {},
        experiment=meta.get("experiment"), packages=packages, python=python,
    )  # fmt: skip
    if code.note:
        clean = f"its work tree was clean, so commit {code.commit[:12]} is its code"
        plan.notes.append(f"Run {stored.id} has {code.note}; {clean}.")
    if packages is None:
        plan.notes.append(f"Run {stored.id} recorded no packages to compare with.")
    return plan


def _refuse_inexact(code: RunCode) -> None:
    if not code.is_snapshot and code.dirty:
        raise RunlabError(
            f"Run {code.run_id} has {code.note} and started with uncommitted "
            "changes, so its exact code is unknown; check out its commit with "
            f"`runlab checkout {code.run_id} PATH` and apply its code/diff.patch."
        )


def _free_folder(parent: Path, run_id: str) -> Path:
    """``parent/<run_id>-<n>`` for the first ``n`` from 1 not yet taken."""
    n = 1
    while (parent / f"{run_id}-{n}").exists():
        n += 1
    return parent / f"{run_id}-{n}"


def _claim_worktree(plan: Reproduction) -> None:
    """Make the plan's worktree folder, or the next free one if another took it.

    Two reproductions of one run at once would otherwise pick the same
    folder; ``mkdir`` lets exactly one of them have it.
    """
    plan.worktree.parent.mkdir(parents=True, exist_ok=True)
    while True:
        try:
            plan.worktree.mkdir()
            return
        except FileExistsError:
            old = plan.worktree
            new = _free_folder(old.parent, plan.run_id)
            # Paths inside the old folder end there, at a "/" or at a space.
            inside = re.compile(re.escape(str(old)) + r"(?=/|\s|$)")
            plan.command = [inside.sub(str(new), arg) for arg in plan.command]
            plan.cwd = new / plan.cwd.relative_to(old)
            plan.worktree = new


def _relative_cwd(code: RunCode, cwd: Any) -> Path:
    """The run's working folder relative to its work-tree root ("." when unknown)."""
    if not cwd or code.root is None:
        return Path()
    for folder, root in (
        (Path(cwd), code.root),
        (Path(cwd).resolve(), code.root.resolve()),
    ):
        if folder.is_relative_to(root):
            return folder.relative_to(root)
    return Path()


def _moved_command(
    command: list[str], code: RunCode, repo: Path, worktree: Path
) -> list[str]:
    """Point absolute paths into the old work tree at the same files in ``worktree``.

    Only paths the code's commit holds are moved: an interpreter in an ignored
    virtual environment inside the work tree stays where it is.
    """
    if code.root is None:
        return list(command)
    moved = []
    for word in command:
        path = Path(word)
        if path.is_absolute() and path.is_relative_to(code.root):
            inside = path.relative_to(code.root).as_posix()
            if _commit_holds(repo, code.commit, inside):
                word = str(worktree / inside)
        moved.append(word)
    return moved


def _commit_holds(repo: Path, commit: str, inside: str) -> bool:
    try:
        run_git(repo, ["cat-file", "-e", f"{commit}:{inside}"], timeout=10)
    except GitCommandFailed:
        return False
    return True


def _environment_change(
    environment: dict[str, Any],
) -> tuple[dict[str, list[dict[str, Any]]] | None, tuple[str | None, str]]:
    from runlab.capture.environment import list_packages, package_differences

    python = (_python_version(environment), platform.python_version())
    recorded = environment.get("packages")
    if not isinstance(recorded, list):
        return None, python
    return package_differences(recorded, list_packages()), python


def reproduce_run(store: Store, plan: Reproduction) -> tuple[str, int]:
    """Carry out ``plan``: add the worktree, then run the command as a new run.

    The new run is recorded in ``store`` with ``reproduces: <run id>`` in its
    ``run.json``, and the run's config as its own. Returns the new run's id and
    the command's exit code.

    Raises:
        GitCommandFailed: the worktree could not be added.
    """
    from runlab.launch import launch

    _claim_worktree(plan)
    add_worktree(plan.code.require_repo(), plan.code.commit, plan.worktree)
    # A working folder that held only ignored files is not in the snapshot.
    plan.cwd.mkdir(parents=True, exist_ok=True)
    extra: dict[str, Any] = {"reproduces": plan.run_id}
    if plan.experiment:
        extra["experiment"] = plan.experiment
    # The same switch as for `runlab run` and runlab.start().
    sampling = os.environ.get("RUNLAB_SYSTEM_METRICS", "1") != "0"
    return launch(
        store, plan.command, config=plan.config, extra=extra, cwd=plan.cwd,
        system_metrics=sampling,
    )  # fmt: skip
