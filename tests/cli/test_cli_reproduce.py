"""``runlab checkout``, ``runlab diff`` and ``runlab reproduce`` on real repositories.

Every run is a real ``runlab run`` in a subprocess, in a git repository made in
``tmp_path``; git sees no user config (``runlab_env``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest

from runlab.launch import launch
from runlab.store import open_store

pytestmark = pytest.mark.usefixtures("runlab_env")

PY = sys.executable
MIB = 1024 * 1024
DIGITS = Path(__file__).parents[2] / "examples" / "digits"


def git(repo: Path, *args: str) -> str:
    # No optional locks: a plain `git status` may rewrite the index, which
    # would hide whether runlab touched it.
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0"}
    done = subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, env=env
    )
    return done.stdout.decode().strip()


def repo_state(repo: Path) -> dict[str, Any]:
    """What no runlab command may change in the user's repository."""
    index = repo / ".git" / "index"
    return {
        "index": (index.read_bytes(), index.stat().st_mtime_ns),
        "head": git(repo, "rev-parse", "HEAD"),
        "symbolic": git(repo, "symbolic-ref", "-q", "HEAD"),
        "branches": git(repo, "branch", "--list"),
        "status": git(repo, "status", "--porcelain", "--untracked-files=all"),
    }


def files_of(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` but git's own, by relative path."""
    found = {}
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if relative.parts[0] == ".git" or not path.is_file():
            continue
        found[relative.as_posix()] = path.read_bytes()
    return found


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A repository with a committed script on ``main``."""
    path = tmp_path / "project"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    (path / "train.py").write_text("print('training')\n")
    (path / "model.py").write_text("LAYERS = 2\n")
    (path / ".gitignore").write_text("*.log\n")
    git(path, "add", ".")
    git(path, "commit", "-q", "-m", "first")
    return path


def start_run(runlab_cli: Any, cwd: Path, *words: str, script: str = "train.py") -> str:
    """``runlab run WORDS -- python SCRIPT`` in ``cwd``; return the run id."""
    id_file = cwd.parent / "run-id.txt"
    done = runlab_cli(
        "run", "--id-file", str(id_file), *words, "--", PY, script, cwd=cwd
    )
    assert done.returncode == 0, done.stderr
    return id_file.read_text().strip()


def git_json(store: Path, run_id: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (store / run_id / "code" / "git.json").read_text()
    )
    return data


def meta_of(store: Path, run_id: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((store / run_id / "run.json").read_text())
    return data


def only_new_run(store: Path, known: set[str]) -> str:
    (new,) = {p.name for p in store.iterdir() if p.name[0].isdigit()} - known
    return new


# -- checkout --------------------------------------------------------------------


def test_checkout_restores_the_exact_files_after_new_commits_and_a_deleted_branch(
    runlab_cli: Any, project: Path, store: Path, tmp_path: Path
) -> None:
    git(project, "switch", "-q", "-c", "idea")
    (project / "train.py").write_text("print('edited, not committed')\n")
    (project / "helper.py").write_text("def help(): ...\n")
    (project / "data.bin").write_bytes(b"\0" * (2 * MIB))
    expected = {k: v for k, v in files_of(project).items() if k != "data.bin"}
    before = repo_state(project)
    run_id = start_run(runlab_cli, project)
    assert repo_state(project) == before
    # Later work: the idea is committed, rebased away and its branch deleted.
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "idea")
    git(project, "switch", "-q", "main")
    (project / "model.py").write_text("LAYERS = 8\n")
    git(project, "commit", "-q", "-am", "more layers")
    git(project, "branch", "-q", "-D", "idea")
    git(project, "gc", "-q", "--prune=now")
    before = repo_state(project)

    done = runlab_cli("checkout", run_id, str(tmp_path / "out"))

    assert done.returncode == 0, done.stderr
    assert files_of(tmp_path / "out") == expected
    assert repo_state(project) == before
    snapshot = git_json(store, run_id)["snapshot"]
    assert done.stdout.splitlines() == [
        f"Wrote the code of run {run_id} (snapshot {snapshot[:12]}) into "
        f"{tmp_path / 'out'}, as a git worktree detached at that commit.",
        f"Left out of the snapshot of run {run_id}:",
        f"  data.bin (untracked binary file larger than 1 MiB, {2 * MIB} bytes)",
    ]
    assert git_json(store, run_id)["snapshot_left_out"] == [
        {
            "path": "data.bin",
            "bytes": 2 * MIB,
            "reason": "untracked binary file larger than 1 MiB",
        }
    ]
    assert git(tmp_path / "out", "rev-parse", "HEAD") == snapshot


def test_checkout_files_writes_plain_files_without_git(
    runlab_cli: Any, project: Path, tmp_path: Path
) -> None:
    (project / "helper.py").write_text("untracked\n")
    run_id = start_run(runlab_cli, project)
    target = tmp_path / "plain"
    target.mkdir()

    done = runlab_cli("checkout", run_id, str(target), "--files")

    assert done.returncode == 0, done.stderr
    assert "as plain files." in done.stdout
    assert not (target / ".git").exists()
    assert files_of(target) == files_of(project)


def test_checkout_into_a_folder_that_is_not_empty_is_an_error(
    runlab_cli: Any, project: Path, tmp_path: Path
) -> None:
    run_id = start_run(runlab_cli, project)
    target = tmp_path / "busy"
    target.mkdir()
    (target / "keep.txt").write_text("mine\n")

    done = runlab_cli("checkout", run_id, str(target))

    assert done.returncode == 1
    assert done.stderr == (
        f"Error: {target} already exists and is not an empty folder; "
        "give a new path or an empty folder.\n"
    )
    assert [p.name for p in target.iterdir()] == ["keep.txt"]


def test_checkout_says_so_when_the_repository_is_gone(
    runlab_cli: Any, project: Path, store: Path, tmp_path: Path
) -> None:
    run_id = start_run(runlab_cli, project)
    shutil.move(project, tmp_path / "moved")

    done = runlab_cli("checkout", run_id, str(tmp_path / "out"))

    snapshot = git_json(store, run_id)["snapshot"]
    assert done.returncode == 1
    assert done.stderr == (
        f"Error: The code of run {run_id} is commit {snapshot[:12]} of the "
        f"repository at {project}, which is gone or no longer holds it; restore "
        "that repository and try again.\n"
    )
    assert not (tmp_path / "out").exists()


def test_purge_deletes_the_snapshot_ref_and_trash_keeps_it(
    runlab_cli: Any, project: Path, store: Path
) -> None:
    (project / "train.py").write_text("print('edited')\n")
    kept, purged = start_run(runlab_cli, project), start_run(runlab_cli, project)
    refs = f"refs/runlab/runs/{kept}", f"refs/runlab/runs/{purged}"
    assert git(
        project, "for-each-ref", "--format=%(refname)", "refs/runlab"
    ).split() == sorted(refs)
    before = repo_state(project)

    trashed = runlab_cli("rm", kept)
    done = runlab_cli("rm", "--purge", purged)

    assert trashed.returncode == 0, trashed.stderr
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[1] == f"  and its code snapshot ref in {project}"
    assert git(
        project, "for-each-ref", "--format=%(refname)", "refs/runlab"
    ).split() == [refs[0]]
    assert repo_state(project) == before
    # The trashed run's code is still there, and goes with it when purged.
    assert runlab_cli("rm", "--purge", kept).returncode == 0
    assert git(project, "for-each-ref", "--format=%(refname)", "refs/runlab") == ""


def test_run_outside_a_repository_records_why_it_has_no_snapshot(
    runlab_cli: Any, store: Path, tmp_path: Path
) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "train.py").write_text("print('hi')\n")
    run_id = start_run(runlab_cli, plain)

    done = runlab_cli("checkout", run_id, str(tmp_path / "out"))

    facts = git_json(store, run_id)
    assert (facts["snapshot"], facts["snapshot_reason"]) == (
        None,
        "not a git repository",
    )
    assert done.returncode == 1
    assert done.stderr == (
        f"Error: Run {run_id} recorded no code to go back to: not a git repository.\n"
    )


# -- diff ------------------------------------------------------------------------


def fake_packages(store: Path, run_id: str) -> None:
    """Change the package list the run recorded, as if installed elsewhere.

    env/environment.json is the recorded file that diff and reproduce read, so
    editing it stands in for a second virtual environment.
    """
    path = store / run_id / "env" / "environment.json"
    env = json.loads(path.read_text())
    packages = [p for p in env["packages"] if p["name"] != "numpy"]
    for package in packages:
        if package["name"] == "click":
            package["version"] = "0.0.1"
    packages.append(
        {"name": "fakepkg", "version": "9.9", "editable": False, "source": None}
    )
    env["packages"] = packages
    path.write_text(json.dumps(env))


def two_branch_runs(runlab_cli: Any, project: Path, store: Path) -> tuple[str, str]:
    first = start_run(runlab_cli, project, "lr=0.1", "batch=32")
    git(project, "switch", "-q", "-c", "idea")
    (project / "model.py").write_text("LAYERS = 4\n")
    git(project, "commit", "-q", "-am", "deeper")
    (project / "train.py").write_text("print('training harder')\n")
    second = start_run(runlab_cli, project, "lr=0.2", "layers=4")
    fake_packages(store, second)
    return first, second


def test_diff_of_runs_on_two_branches_shows_code_config_and_packages(
    runlab_cli: Any, project: Path, store: Path
) -> None:
    a, b = two_branch_runs(runlab_cli, project, store)
    before = repo_state(project)

    done = runlab_cli("diff", a, b)

    assert done.returncode == 0, done.stderr
    assert repo_state(project) == before
    out = done.stdout
    snap_a, snap_b = (git_json(store, r)["snapshot"][:12] for r in (a, b))
    assert out.startswith(
        f"== Code: {a} (snapshot {snap_a}) -> {b} (snapshot {snap_b})\n"
        " model.py | 2 +-\n train.py | 2 +-\n"
        " 2 files changed, 2 insertions(+), 2 deletions(-)\n\n"
        "diff --git a/model.py b/model.py\n"
    )
    assert "-print('training')\n+print('training harder')\n" in out
    config = out.split("\n== Config: 3 keys differ\n", 1)[1].split("\n\n")[0]
    assert config.splitlines() == [
        "  lr: 0.1 -> 0.2",
        f"  batch: 32 (only in {a})",
        f"  layers: 4 (only in {b})",
    ]
    assert out.split("\n== Environment\n", 1)[1].splitlines() == [
        "  + fakepkg 9.9",
        f"  - numpy {version('numpy')}",
        f"  ~ click {version('click')} -> 0.0.1",
    ]


def test_diff_json_has_code_config_and_packages(
    runlab_json: Any, runlab_cli: Any, project: Path, store: Path
) -> None:
    a, b = two_branch_runs(runlab_cli, project, store)

    diff = runlab_json("diff", a, b)

    assert diff["runs"] == [a, b]
    assert diff["code"]["a"] == {
        "commit": git_json(store, a)["snapshot"],
        "snapshot": True,
    }
    assert "+print('training harder')" in diff["code"]["patch"]
    assert diff["config"] == [
        {"key": "lr", "a": 0.1, "b": 0.2, "in": "both"},
        {"key": "batch", "a": 32, "b": None, "in": "a"},
        {"key": "layers", "a": None, "b": 4, "in": "b"},
    ]
    assert diff["packages"]["added"] == [{"name": "fakepkg", "version": "9.9"}]
    assert diff["packages"]["removed"] == [
        {"name": "numpy", "version": version("numpy")}
    ]
    assert diff["packages"]["changed"] == [
        {"name": "click", "before": version("click"), "after": "0.0.1"}
    ]
    assert diff["packages"]["notes"] == []
    assert diff["python"][0] == diff["python"][1]


def test_diff_of_a_run_without_snapshot_compares_its_commit_and_says_so(
    runlab_json: Any, runlab_cli: Any, project: Path, store: Path
) -> None:
    a, b = two_branch_runs(runlab_cli, project, store)
    # A run recorded before snapshots existed: git.json without them.
    path = store / a / "code" / "git.json"
    facts = {k: v for k, v in json.loads(path.read_text()).items()
             if not k.startswith("snapshot")}  # fmt: skip
    path.write_text(json.dumps(facts))

    diff = runlab_json("diff", a, b)

    assert diff["code"]["a"] == {"commit": facts["commit"], "snapshot": False}
    assert diff["code"]["notes"] == [
        f"Run {a} has no snapshot (it was recorded before snapshots): using the "
        "commit it started from."
    ]


# -- reproduce -------------------------------------------------------------------


def test_reproduce_dry_run_prints_every_step_and_changes_nothing(
    runlab_cli: Any, project: Path, store: Path
) -> None:
    # The script by its absolute path: it is moved into the new worktree, while
    # the interpreter, outside the work tree, stays.
    run_id = start_run(runlab_cli, project, "lr=0.1", script=str(project / "train.py"))
    before = (
        repo_state(project),
        git(project, "worktree", "list"),
        sorted(p.name for p in store.rglob("*")),
    )

    done = runlab_cli("reproduce", run_id, "--dry-run")

    assert done.returncode == 0, done.stderr
    assert (
        repo_state(project),
        git(project, "worktree", "list"),
        sorted(p.name for p in store.rglob("*")),
    ) == before
    worktree = store / ".runlab" / "reproduce" / f"{run_id}-1"
    snapshot = git_json(store, run_id)["snapshot"]
    assert done.stdout.splitlines() == [
        f"Dry run: nothing is changed. Reproducing run {run_id} would:",
        f"  1. add a git worktree of {project} at {worktree},",
        f"     detached at the snapshot {snapshot}",
        f"  2. run in {worktree}",
        f"  3. the command: {PY} {worktree / 'train.py'}",
        f"  4. with the config of run {run_id}:",
        "       lr: 0.1",
        f"  5. as a new run in {store} with reproduces: {run_id}",
        f"The installed packages are those of run {run_id}.",
    ]


def test_reproduce_says_which_packages_differ_and_exits_with_the_run_code(
    runlab_cli: Any, project: Path, store: Path
) -> None:
    (project / "fail.py").write_text("import sys; print('failing'); sys.exit(3)\n")
    id_file = project.parent / "id.txt"
    runlab_cli("run", "--id-file", str(id_file), "--", PY, "fail.py", cwd=project)
    run_id = id_file.read_text().strip()
    fake_packages(store, run_id)
    known = {p.name for p in store.iterdir()}

    done = runlab_cli("reproduce", run_id)

    assert done.returncode == 3
    assert done.stdout == "failing\n"
    lines = done.stderr.splitlines()
    first = lines.index(
        f"Packages differ from run {run_id} "
        "(+ only here, - only in the run, ~ other version):"
    )
    new = only_new_run(store, known)
    worktree = store / ".runlab" / "reproduce" / f"{run_id}-1"
    assert lines[first + 1 :] == [
        f"  + numpy {version('numpy')}",
        "  - fakepkg 9.9",
        f"  ~ click 0.0.1 -> {version('click')}",
        f"runlab: run {new} (reproduces {run_id}) ended with exit code 3",
        f"Its worktree stays at {worktree} with what the command wrote;",
        f"remove it with: git worktree remove --force {worktree}",
    ]
    assert meta_of(store, new)["reproduces"] == run_id
    assert git(worktree, "rev-parse", "HEAD") == git_json(store, run_id)["snapshot"]
    git(project, "worktree", "remove", "--force", str(worktree))
    assert not worktree.exists()


def test_reproduce_refuses_a_run_with_uncommitted_changes_and_no_snapshot(
    runlab_cli: Any, project: Path, store: Path
) -> None:
    (project / "train.py").write_text("print('changed')\n")
    run_id = start_run(runlab_cli, project)
    path = store / run_id / "code" / "git.json"
    facts = json.loads(path.read_text())
    facts.update(snapshot=None, snapshot_reason="git update-ref failed")
    path.write_text(json.dumps(facts))

    done = runlab_cli("reproduce", run_id)

    assert done.returncode == 1
    assert done.stderr == (
        f"Error: Run {run_id} has no snapshot (git update-ref failed) and started "
        "with uncommitted changes, so its exact code is unknown; check out its "
        f"commit with `runlab checkout {run_id} PATH` and apply its code/diff.patch.\n"
    )


@pytest.mark.slow
def test_reproduce_of_a_digits_run_gives_the_same_accuracy(
    runlab_cli: Any, runlab_json: Any, tmp_path: Path
) -> None:
    project = tmp_path / "digits-project"
    project.mkdir()
    git(project, "init", "-q", "-b", "main")
    shutil.copytree(DIGITS, project / "digits")
    git(project, "add", ".")
    git(project, "commit", "-q", "-m", "digits")
    # The store in the work tree, as by default; its .gitignore hides it.
    store = project / "experiments"
    env = {"RUNLAB_DIR": str(store)}
    # An uncommitted edit, undone after the run: only the snapshot has it.
    script = project / "digits" / "train.py"
    script.write_text(script.read_text() + "print('from the snapshot')\n")
    first = runlab_cli("run", "-c", "config.yaml", "epochs=3", "--", PY, "train.py",
                       cwd=project / "digits", env=env)  # fmt: skip
    assert first.returncode == 0, first.stderr
    git(project, "checkout", "-q", "--", "digits/train.py")
    (run_id,) = [p.name for p in store.iterdir() if p.name[0].isdigit()]
    before = repo_state(project)

    done = runlab_cli("reproduce", run_id, cwd=project, env=env)

    assert done.returncode == 0, done.stderr
    assert done.stdout.endswith("from the snapshot\n")
    assert repo_state(project) == before
    new = only_new_run(store, {run_id})
    meta = meta_of(store, new)
    assert meta["reproduces"] == run_id
    worktree = store / ".runlab" / "reproduce" / f"{run_id}-1"
    assert meta["cwd"] == str(worktree / "digits")
    compared = runlab_json("compare", run_id, new, cwd=project, env=env)
    accuracy = [summary["last"] for summary in compared["metrics"]["val/acc"]]
    assert accuracy[0] == accuracy[1] > 0.5
    assert compared["config"] == {}


def test_launch_runs_the_command_in_the_given_folder(
    store: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "elsewhere"
    folder.mkdir()

    run_id, code = launch(
        open_store(store), [PY, "-c", "import os; print(os.getcwd())"],
        config={}, system_metrics=False, cwd=folder,
    )  # fmt: skip

    assert code == 0
    assert capfd.readouterr().out == f"{folder}\n"
    assert meta_of(store, run_id)["cwd"] == str(folder)


def test_reproduce_takes_the_next_folder_when_another_claimed_its_own(
    runlab_cli: Any, project: Path, store: Path
) -> None:
    # Two reproductions of one run plan the same folder; the second to make
    # it moves on to the next, with the command's paths moved along.
    from runlab.reproduce import plan_reproduction, reproduce_run

    run_id = start_run(runlab_cli, project, script=str(project / "train.py"))
    plan = plan_reproduction(open_store(store), run_id)
    planned = plan.worktree
    planned.mkdir(parents=True)  # the other reproduction got there first

    new_id, code = reproduce_run(open_store(store), plan)

    assert code == 0
    assert plan.worktree == planned.with_name(f"{run_id}-2")
    assert plan.command == [PY, str(plan.worktree / "train.py")]
    assert plan.cwd == plan.worktree
    assert (plan.worktree / "train.py").read_text() == "print('training')\n"
    assert open_store(store).load_run(new_id).meta["reproduces"] == run_id
