"""``runlab run``: the wrapper owns the run; the child logs into it.

Every test goes through the real command line in a subprocess, and wraps a real
child process.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

import runlab
from runlab.store import open_store

pytestmark = pytest.mark.usefixtures("runlab_env")

PY = sys.executable
ARGPARSE_SCRIPT = (
    Path(__file__).parents[1] / "examples" / "argparse_script" / "train.py"
)


def run_dirs(store: Path) -> list[Path]:
    if not store.exists():
        return []
    return sorted(p for p in store.iterdir() if p.is_dir() and p.name[0].isdigit())


def only_run(store: Path) -> Path:
    (folder,) = run_dirs(store)
    return folder


def meta_of(run_dir: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((run_dir / "run.json").read_text())
    return data


# -- exit status -----------------------------------------------------------------


def test_run_exit_0_is_finished(runlab_cli: Any, store: Path) -> None:
    done = runlab_cli("run", "--", PY, "-c", "print('hi')")

    assert done.returncode == 0, done.stderr
    folder = only_run(store)
    meta = meta_of(folder)
    assert (meta["status"], meta["exit_code"]) == ("finished", 0)
    assert meta["command"] == [PY, "-c", "print('hi')"]
    assert done.stderr.splitlines() == [
        f"runlab: run in {store}",
        f"runlab: run {folder.name} ended with exit code 0",
    ]


def test_run_exit_3_is_failed_and_the_wrapper_exits_3(
    runlab_cli: Any, store: Path
) -> None:
    done = runlab_cli("run", "--", PY, "-c", "import sys; sys.exit(3)")

    assert done.returncode == 3
    meta = meta_of(only_run(store))
    assert (meta["status"], meta["exit_code"], meta["error"]) == (
        "failed", 3, "exit code 3",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("program", "why"),
    [
        ("no-such-command-xyz", "is not on PATH"),
        ("./train.pyy", "is not an executable file"),
    ],
)
def test_run_of_a_missing_command_makes_no_run_and_exits_127(
    runlab_cli: Any, store: Path, program: str, why: str
) -> None:
    done = runlab_cli("run", "--", program, "--flag")

    assert done.returncode == 127
    assert (
        done.stderr == f"Error: Cannot start '{program}': it {why}; no run was made.\n"
    )
    assert not store.exists()


def test_a_command_that_cannot_start_is_a_failed_run_with_127(
    runlab_cli: Any, store: Path, tmp_path: Path
) -> None:
    script = tmp_path / "not-a-program"
    script.write_text("#!/no/such/interpreter\n")
    script.chmod(0o755)

    done = runlab_cli("run", "--", str(script))

    assert done.returncode == 127
    folder = only_run(store)
    meta = meta_of(folder)
    assert (meta["status"], meta["exit_code"]) == ("failed", 127)
    assert meta["error"].startswith(f"Cannot start '{script}'")
    assert meta["error"] in done.stderr


def test_run_child_output_goes_to_log_and_terminal(
    runlab_cli: Any, store: Path
) -> None:
    code = "import sys; print('to out'); print('to err', file=sys.stderr)"
    done = runlab_cli("run", "--", PY, "-c", code)

    assert done.returncode == 0
    assert done.stdout == "to out\n"
    assert "to err\n" in done.stderr
    log = (only_run(store) / "log.txt").read_text()
    assert sorted(log.splitlines()) == ["to err", "to out"]


# -- signals ---------------------------------------------------------------------

SLEEPER = "import os, time; print(os.getpid(), flush=True); time.sleep(60)"


def test_child_killed_from_outside_is_recorded_killed(
    runlab_popen: Any, store: Path
) -> None:
    wrapper = runlab_popen("run", "--", PY, "-c", SLEEPER)
    child = int(wrapper.stdout.readline())
    os.kill(child, signal.SIGKILL)

    wrapper.communicate(timeout=60)
    assert wrapper.returncode == 128 + signal.SIGKILL
    meta = meta_of(only_run(store))
    assert (meta["status"], meta["exit_code"], meta["error"]) == (
        "killed", 137, "killed by SIGKILL",
    )  # fmt: skip


def test_sigterm_to_the_wrapper_is_forwarded_and_recorded_killed(
    runlab_popen: Any, store: Path
) -> None:
    wrapper = runlab_popen("run", "--", PY, "-c", SLEEPER)
    child = int(wrapper.stdout.readline())
    wrapper.send_signal(signal.SIGTERM)

    wrapper.communicate(timeout=60)
    assert wrapper.returncode == 128 + signal.SIGTERM
    meta = meta_of(only_run(store))
    assert (meta["status"], meta["error"]) == ("killed", "killed by SIGTERM")
    with pytest.raises(ProcessLookupError):
        os.kill(child, 0)


def test_sigint_to_a_wrapper_without_terminal_is_forwarded(
    runlab_popen: Any, store: Path
) -> None:
    # Its own session: no terminal could have signalled the child already.
    wrapper = runlab_popen("run", "--", PY, "-c", SLEEPER, start_new_session=True)
    child = int(wrapper.stdout.readline())
    wrapper.send_signal(signal.SIGINT)

    wrapper.communicate(timeout=60)
    assert wrapper.returncode == 128 + signal.SIGINT
    meta = meta_of(only_run(store))
    assert (meta["status"], meta["error"]) == ("killed", "killed by SIGINT")
    with pytest.raises(ProcessLookupError):
        os.kill(child, 0)


def test_sigterm_to_the_wrapper_of_a_logging_script_keeps_its_points(
    runlab_popen: Any, store: Path, tmp_path: Path
) -> None:
    script = tmp_path / "train.py"
    script.write_text(
        "import time, runlab\nrun = runlab.start()\n"
        "run.log({'loss': 1.0}); run.log({'loss': 0.5})\n"
        "print('logged', flush=True)\ntime.sleep(60)\n"
    )
    wrapper = runlab_popen("run", "--", PY, str(script))
    assert wrapper.stdout.readline() == "logged\n"
    wrapper.send_signal(signal.SIGTERM)

    wrapper.communicate(timeout=60)
    assert wrapper.returncode == 143
    stored = runlab.load_run(only_run(store).name)
    assert stored.status == "killed"
    assert stored.metric("loss").values.tolist() == [1.0, 0.5]


def hangup_as_a_terminal_leaves_it() -> None:
    """In the child: SIGHUP as a login shell leaves it (a CI under nohup ignores it)."""
    signal.signal(signal.SIGHUP, signal.SIG_DFL)


LOGGING_SLEEPER = (
    "import time, runlab\nrun = runlab.start()\n"
    "run.log({'loss': 1.0}); run.log({'loss': 0.5})\n"
    "print('logged', flush=True)\ntime.sleep(60)\n"
)


def test_sighup_of_a_closed_terminal_ends_the_run_killed_with_its_points(
    runlab_popen: Any, store: Path, tmp_path: Path
) -> None:
    # A hangup reaches the whole group: the wrapper and the script both.
    script = tmp_path / "train.py"
    script.write_text(LOGGING_SLEEPER)
    wrapper = runlab_popen(
        "run", "--", PY, str(script), start_new_session=True,
        preexec_fn=hangup_as_a_terminal_leaves_it,
    )  # fmt: skip
    assert wrapper.stdout.readline() == "logged\n"
    os.killpg(wrapper.pid, signal.SIGHUP)

    wrapper.communicate(timeout=60)
    assert wrapper.returncode == 128 + signal.SIGHUP
    stored = runlab.load_run(only_run(store).name)
    assert (stored.status, stored.meta["error"]) == ("killed", "killed by SIGHUP")
    assert stored.metric("loss").values.tolist() == [1.0, 0.5]


def test_sighup_to_a_script_alone_closes_its_run(store: Path, tmp_path: Path) -> None:
    script = tmp_path / "train.py"
    script.write_text(LOGGING_SLEEPER)
    child = subprocess.Popen(
        [PY, str(script)], stdout=subprocess.PIPE, text=True,
        env={**os.environ, "RUNLAB_DIR": str(store)},
        preexec_fn=hangup_as_a_terminal_leaves_it,
    )  # fmt: skip
    assert child.stdout is not None
    assert child.stdout.readline() == "logged\n"
    child.send_signal(signal.SIGHUP)

    child.communicate(timeout=60)
    assert child.returncode == -signal.SIGHUP
    stored = runlab.load_run(only_run(store).name)
    assert (stored.status, stored.meta["error"]) == ("killed", "SIGHUP")
    assert stored.metric("loss").values.tolist() == [1.0, 0.5]


FORKING = """\
import os, sys, time, runlab
run = runlab.start()
if os.fork() == 0:
    sys.exit(0)  # a forked worker exits through the same hooks
os.wait()
run.log({'loss': 1.0})
print('logged', flush=True)
time.sleep(60)
"""


def test_under_nohup_a_hangup_leaves_the_run_going(
    runlab_popen: Any, store: Path, tmp_path: Path
) -> None:
    script = tmp_path / "train.py"
    script.write_text(LOGGING_SLEEPER.replace("time.sleep(60)", "time.sleep(1)"))
    wrapper = runlab_popen(
        "run", "--", PY, str(script), start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN),
    )  # fmt: skip
    assert wrapper.stdout.readline() == "logged\n"
    os.killpg(wrapper.pid, signal.SIGHUP)

    wrapper.communicate(timeout=60)
    assert wrapper.returncode == 0
    assert runlab.load_run(only_run(store).name).status == "finished"


def test_a_forked_child_exiting_leaves_its_parents_run_running(
    store: Path, tmp_path: Path
) -> None:
    script = tmp_path / "fork.py"
    script.write_text(FORKING)
    parent = subprocess.Popen(
        [PY, str(script)], stdout=subprocess.PIPE, text=True,
        env={**os.environ, "RUNLAB_DIR": str(store)},
    )  # fmt: skip
    assert parent.stdout is not None
    assert parent.stdout.readline() == "logged\n"

    assert runlab.load_run(only_run(store).name).status == "running"
    parent.kill()
    parent.communicate(timeout=60)
    assert runlab.load_run(only_run(store).name).status == "crashed"


# -- config from the script ---------------------------------------------------


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    path = tmp_path / "cfg.yaml"
    path.write_text("optim:\n  lr: 0.1\n  momentum: 0.9\nbatch: 32\n")
    return path


def test_unmodified_argparse_script_gets_its_flags_as_config(
    runlab_cli: Any, store: Path
) -> None:
    done = runlab_cli(
        "run", "--", PY, str(ARGPARSE_SCRIPT), "--lr", "0.05", "--epochs", "3"
    )

    assert done.returncode == 0, done.stderr
    folder = only_run(store)
    assert runlab.load_run(folder.name).config.to_dict() == {
        "lr": 0.05, "epochs": 3, "momentum": 0.0, "seed": 0,
    }  # fmt: skip
    log = (folder / "log.txt").read_text()
    assert log.startswith("epoch 0 loss ")
    assert log.splitlines()[-1].startswith("final rmse ")


def test_an_override_no_flag_of_an_argparse_script_reads_is_said(
    runlab_cli: Any, store: Path
) -> None:
    done = runlab_cli("run", "lrr=0.2", "epochs=1", "--", PY, str(ARGPARSE_SCRIPT))

    assert done.returncode == 0, done.stderr
    assert (
        "runlab: override 'lrr=0.2' matches no flag of the script; did you mean "
        "'lr'? The config records it, but the script does not see it.\n"
    ) in done.stderr
    assert "'epochs=1'" not in done.stderr
    config = runlab.load_run(only_run(store).name).config.to_dict()
    assert (config["lr"], config["lrr"], config["epochs"]) == (0.1, 0.2, 1)


def test_argparse_flags_do_not_replace_keys_the_wrapper_config_has(
    runlab_cli: Any, store: Path
) -> None:
    done = runlab_cli("run", "+seed=7", "--", PY, str(ARGPARSE_SCRIPT), "--epochs", "1")

    assert done.returncode == 0, done.stderr
    config = runlab.load_run(only_run(store).name).config.to_dict()
    assert config == {"seed": 7, "lr": 0.1, "epochs": 1, "momentum": 0.0}


FLAG_PRINTER = """
import argparse
parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float, default=0.1)
parser.add_argument("--seed", type=int, default=0)
print(vars(parser.parse_args()))
"""


def test_wrapper_config_feeds_argparse_defaults_and_flags_win(
    runlab_cli: Any, store: Path, tmp_path: Path
) -> None:
    script = tmp_path / "flags.py"
    script.write_text(FLAG_PRINTER)
    config = tmp_path / "flags.yaml"
    config.write_text("lr: 0.25\nseed: 7\nnote: kept\n")

    done = runlab_cli("run", "-c", str(config), "--", PY, str(script), "--seed", "3")

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "{'lr': 0.25, 'seed': 3}"
    stored = runlab.load_run(only_run(store).name)
    assert stored.config.to_dict() == {"lr": 0.25, "seed": 3, "note": "kept"}


ATTACHING = """
import json, runlab
run = runlab.start(config={"optim": {"lr": 0.5, "wd": 0.1}, "extra": 1},
                   name="from-script", tags=["inner"])
run.log({"loss": 0.25})
print(json.dumps({"id": run.id, "config": run.config.to_dict()}))
"""


def test_script_under_the_wrapper_attaches_to_its_run(
    runlab_cli: Any, store: Path, cfg: Path, tmp_path: Path
) -> None:
    script = tmp_path / "attach.py"
    script.write_text(textwrap.dedent(ATTACHING))

    done = runlab_cli("run", "-c", str(cfg), "--tag", "outer", "--", PY, str(script))

    assert done.returncode == 0, done.stderr
    folder = only_run(store)
    seen = json.loads(done.stdout)
    expected = {
        "optim": {"lr": 0.1, "momentum": 0.9, "wd": 0.1}, "batch": 32, "extra": 1,
    }  # fmt: skip
    assert seen == {"id": folder.name, "config": expected}
    stored = runlab.load_run(folder.name)
    assert stored.config.to_dict() == expected
    assert (stored.status, stored.tags) == ("finished", ["outer", "inner"])
    assert stored.name == "from-script"
    assert stored.metric("loss").values.tolist() == [0.25]


@pytest.mark.slow
def test_ten_runs_started_at_once_get_ten_ids(runlab_popen: Any, store: Path) -> None:
    procs = [runlab_popen("run", f"+i={i}", "--", "true") for i in range(10)]
    for proc in procs:
        proc.communicate(timeout=120)
        assert proc.returncode == 0

    folders = run_dirs(store)
    assert len({f.name for f in folders}) == 10
    configs = sorted((f / "config.yaml").read_text() for f in folders)
    assert configs == sorted(f"i: {i}\n" for i in range(10))


# -- git capture through a real run ------------------------------------------------


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    )
    return done.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    (path / ".gitignore").write_text("experiments/\n")
    git(path, "add", ".")
    git(path, "commit", "-q", "-m", "first")
    return path


def run_and_read_git(
    runlab_cli: Any, store: Path, cwd: Path, **env: str
) -> dict[str, Any]:
    done = runlab_cli("run", "--", PY, "-c", "print(1)", cwd=cwd, env=env)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    folder = only_run(store)
    assert meta_of(folder)["status"] == "finished"
    return runlab.load_run(folder.name).git


def test_run_outside_any_repository_records_git_absent(
    runlab_cli: Any, store: Path, tmp_path: Path
) -> None:
    info = run_and_read_git(runlab_cli, store, tmp_path)

    assert (info["available"], info["repo"], info["reason"]) == (
        False, False, "not a git repository",
    )  # fmt: skip


def test_run_on_a_detached_head_records_commit_without_branch(
    runlab_cli: Any, store: Path, repo: Path
) -> None:
    git(repo, "checkout", "-q", "--detach")

    info = run_and_read_git(runlab_cli, store, repo)

    assert info["commit"] == git(repo, "rev-parse", "HEAD")
    assert (info["branch"], info["detached"], info["available"]) == (None, True, True)


def test_run_in_a_repository_without_commits_starts(
    runlab_cli: Any, store: Path, tmp_path: Path
) -> None:
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    git(fresh, "init", "-q")

    info = run_and_read_git(runlab_cli, store, fresh)

    assert (info["repo"], info["commit"], info["has_commits"]) == (True, None, False)
    assert info["reason"] == "repository has no commits"


def test_run_without_git_on_path_starts(
    runlab_cli: Any, store: Path, repo: Path, tmp_path: Path
) -> None:
    empty_bin = tmp_path / "bin"
    empty_bin.mkdir()
    assert shutil.which("git", path=str(empty_bin)) is None

    info = run_and_read_git(runlab_cli, store, repo, PATH=str(empty_bin))

    assert (info["available"], info["reason"]) == (False, "git not found on PATH")


def test_heartbeat_keeps_a_long_wrapped_run_running(
    runlab_popen: Any, runlab_cli: Any, store: Path
) -> None:
    wrapper = runlab_popen(
        "run", "--", PY, "-c", "import time; print(1, flush=True); time.sleep(2)",
        env={"RUNLAB_HEARTBEAT_S": "0.2"},
    )  # fmt: skip
    assert wrapper.stdout.readline() == "1\n"
    first = meta_of(only_run(store))["heartbeat"]
    time.sleep(1.0)

    listed = json.loads(runlab_cli("ls", "--json").stdout)
    assert [r["status"] for r in listed] == ["running"]
    assert meta_of(only_run(store))["heartbeat"] > first
    wrapper.communicate(timeout=60)
    assert wrapper.returncode == 0


def test_argparse_flags_of_rank_1_are_not_recorded(
    runlab_cli: Any, store: Path
) -> None:
    done = runlab_cli(
        "run", "--", PY, str(ARGPARSE_SCRIPT), "--epochs", "1", env={"RANK": "1"}
    )

    assert done.returncode == 0, done.stderr
    assert (only_run(store) / "config.yaml").read_text() == "{}\n"


COUNT_SIGINT = """
import signal, time
count = 0
def on_sigint(signum, frame):
    global count
    count += 1
signal.signal(signal.SIGINT, on_sigint)
print("ready", flush=True)
time.sleep(1.5)
print("sigints", count, flush=True)
"""

IN_TERMINAL = (
    "import fcntl, os, sys, termios; os.setsid(); "
    "fcntl.ioctl(0, termios.TIOCSCTTY, 0); os.execv(sys.argv[1], sys.argv[1:])"
)


def read_until(fd: int, marker: bytes, timeout: float = 30) -> bytes:
    import select

    seen = b""
    deadline = time.time() + timeout
    while marker not in seen:
        assert time.time() < deadline, seen
        if select.select([fd], [], [], 0.1)[0]:
            try:
                seen += os.read(fd, 4096)
            except OSError:  # the terminal closed: every process has exited
                break
    return seen


def test_ctrl_c_at_a_terminal_reaches_the_child_once(
    store: Path, tmp_path: Path
) -> None:
    # The wrapper and its child share the terminal's foreground group, so ^C
    # signals both; the wrapper must not send the child a second one.
    script = tmp_path / "count.py"
    script.write_text(COUNT_SIGINT)
    main, side = os.openpty()
    wrapper = subprocess.Popen(
        [PY, "-c", IN_TERMINAL, PY, "-m", "runlab", "run", "--", PY, str(script)],
        stdin=side, stdout=side, stderr=side, cwd=tmp_path,
    )  # fmt: skip
    os.close(side)
    try:
        read_until(main, b"ready")
        os.write(main, b"\x03")
        output = read_until(main, b"ended with exit code")
        assert wrapper.wait(timeout=60) == 0
    finally:
        os.close(main)

    assert b"sigints 1" in output
    meta = meta_of(only_run(store))
    assert (meta["status"], meta["error"]) == ("killed", "stopped after SIGINT")


LOGGER = """
import time, runlab
run = runlab.start()
for step in range(100000):
    run.log({"loss": 1.0 / (step + 1)}, step=step)
    if step == 50:
        print("ready", flush=True)
    if step >= 50:
        time.sleep(0.01)
"""


def test_sigint_to_the_whole_group_without_terminal_ends_cleanly(
    runlab_popen: Any, store: Path, tmp_path: Path
) -> None:
    # killpg: the script gets SIGINT from the group, and again passed on by
    # the wrapper (no terminal, so it cannot tell); the second may come while
    # runlab closes the run, which must not be cut short or print its insides.
    script = tmp_path / "train.py"
    script.write_text(LOGGER)
    wrapper = runlab_popen("run", "--", PY, str(script), start_new_session=True)
    assert wrapper.stdout.readline() == "ready\n"
    time.sleep(0.3)
    os.killpg(wrapper.pid, signal.SIGINT)

    _, err = wrapper.communicate(timeout=60)

    assert wrapper.returncode != 0
    assert err.count("KeyboardInterrupt") == 1, err
    for inside in ("Error in sys.excepthook", "Exception ignored", "runlab/"):
        assert inside not in err, err
    run = open_store(store).load_run(only_run(store).name)
    assert run.status == "killed"
    steps = run.metric("loss").steps
    assert steps.tolist() == list(range(len(steps))) and len(steps) > 50


def test_child_does_not_outlive_a_wrapper_killed_with_sigkill(
    runlab_popen: Any, store: Path
) -> None:
    wrapper = runlab_popen("run", "--", PY, "-c", SLEEPER)
    child = int(wrapper.stdout.readline())
    wrapper.kill()
    wrapper.communicate(timeout=30)

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        os.kill(child, signal.SIGKILL)
        pytest.fail("the child kept running after its wrapper was killed")
    assert runlab.load_run(only_run(store).name).status == "crashed"


def test_a_stopped_wrapper_is_still_running_not_crashed(
    runlab_popen: Any, store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUNLAB_HEARTBEAT_S", "0.1")
    wrapper = runlab_popen("run", "--", PY, "-c", SLEEPER)
    child = int(wrapper.stdout.readline())
    wrapper.send_signal(signal.SIGSTOP)
    try:
        time.sleep(1.0)  # ten missed beats
        assert runlab.load_run(only_run(store).name).status == "running"
    finally:
        wrapper.send_signal(signal.SIGCONT)
        os.kill(child, signal.SIGKILL)
        wrapper.communicate(timeout=30)


def test_the_default_store_inside_a_repository_never_makes_it_dirty(
    runlab_cli: Any, tmp_path: Path
) -> None:
    path = tmp_path / "project"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    (path / "train.py").write_text("print(1)\n")
    git(path, "add", ".")
    git(path, "commit", "-q", "-m", "first")
    env = {"RUNLAB_DIR": None, "RUNLAB_SYSTEM_METRICS": "0"}

    for _ in range(2):
        done = runlab_cli("run", "--", PY, "train.py", cwd=path, env=env)
        assert done.returncode == 0, done.stderr

    second = run_dirs(path / "experiments")[-1]
    info = runlab.load_run(second.name, store=str(path / "experiments")).git
    assert (info["dirty"], info["untracked_count"]) == (False, 0)
    assert git(path, "status", "--porcelain") == ""
    assert (path / "experiments" / ".gitignore").read_text().endswith("\n*\n")


NESTED_FLAGS = """
import argparse
parser = argparse.ArgumentParser()
parser.add_argument("--optim-lr", type=float, default=0.1)
parser.add_argument("--data", required=True)
parser.add_argument("--act", choices=["relu", "gelu"], default="relu")
print(vars(parser.parse_args()))
"""


def test_flag_fed_by_a_nested_key_is_recorded_back_at_that_key(
    runlab_cli: Any, store: Path, tmp_path: Path
) -> None:
    script = tmp_path / "nested.py"
    script.write_text(NESTED_FLAGS)
    config = tmp_path / "nested.yaml"
    config.write_text("optim:\n  lr: 0.5\ndata: /data/x\n")

    done = runlab_cli(
        "run", "-c", str(config), "--", PY, str(script), "--optim-lr", "0.9"
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "{'optim_lr': 0.9, 'data': '/data/x', 'act': 'relu'}"
    saved = runlab.load_run(only_run(store).name).config.to_dict()
    assert saved == {"optim": {"lr": 0.9}, "data": "/data/x", "act": "relu"}


def test_config_value_outside_an_arguments_choices_fails_like_argparse(
    runlab_cli: Any, store: Path, tmp_path: Path
) -> None:
    script = tmp_path / "nested.py"
    script.write_text(NESTED_FLAGS)
    config = tmp_path / "bad.yaml"
    config.write_text("data: /d\nact: tanh\n")

    done = runlab_cli("run", "-c", str(config), "--", PY, str(script))

    assert done.returncode == 2
    assert done.stderr.splitlines()[-2] == (
        "nested.py: error: runlab config: Config key 'act' = 'tanh' is not a choice "
        "of --act ('relu', 'gelu')."
    )
    assert runlab.load_run(only_run(store).name).status == "failed"


DEFAULTS_SCRIPT = """
import runlab
from runlab.store import open_store
run = runlab.start(config={"optim": {"lr": 0.1, "momentum": 0.9}, "epochs": 3})
print(run.config.to_dict())
"""


def test_overrides_without_a_config_file_lay_over_the_scripts_config(
    runlab_cli: Any, store: Path, tmp_path: Path
) -> None:
    script = tmp_path / "defaults.py"
    script.write_text(DEFAULTS_SCRIPT)

    done = runlab_cli("run", "optim.lr=0.5", "optim.lrr=2", "--", PY, str(script))

    assert done.returncode == 0, done.stderr
    expected = {"optim": {"lr": 0.5, "lrr": 2, "momentum": 0.9}, "epochs": 3}
    assert done.stdout.strip() == str(expected)
    assert (
        "Override 'optim.lrr=2' names no key of the script's config; did you mean "
        "'optim.lr'? It was added as a new key; write +optim.lrr=2 to say so."
    ) in done.stderr
    meta = meta_of(only_run(store))
    assert (meta["config_file"], meta["overrides"]) == (
        None,
        ["optim.lr=0.5", "optim.lrr=2"],
    )
    assert meta["invocation"][:2] == ["runlab", "run"]


def test_a_checkpoint_policy_that_cannot_work_is_refused_before_a_run(
    runlab_cli: Any, store: Path
) -> None:
    done = runlab_cli("run", "checkpoint.every=ten", "--", PY, "-c", "pass")

    assert done.returncode == 1
    assert done.stderr == (
        "Error: Config key checkpoint.every is 'ten'; give a whole number of "
        "epochs (0 keeps no per-epoch checkpoints).\n"
    )
    assert not store.exists()
