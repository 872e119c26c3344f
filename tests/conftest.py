"""Fixtures shared by the run, launch and CLI tests.

- ``store``: a store folder inside ``tmp_path`` (not created).
- ``runlab_env``: isolates a test from the developer's environment: RUNLAB_DIR
  points at ``store``, system sampling is off, heartbeats are fast, no
  distributed-rank or attach variables leak in, and git sees no user config and
  no repository above ``tmp_path``. Not autouse: modules opt in with
  ``pytestmark = pytest.mark.usefixtures("runlab_env")``.
- ``runlab_cli``: runs the real command line (``python -m runlab``) in a
  subprocess and returns the finished process with text output.
- ``runlab_popen``: starts it without waiting, for tests that send signals.
- ``runlab_json``: runs a ``--json`` command and parses its output as strict
  JSON (a bare NaN or Infinity fails the test).
- ``run_git``: runs git in a folder and returns what it printed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

RunlabCli = Callable[..., "subprocess.CompletedProcess[str]"]
RunlabPopen = Callable[..., "subprocess.Popen[str]"]

_LEAKY = ("RUNLAB_RUN_DIR", "RANK", "LOCAL_RANK", "RUNLAB_ALL_RANKS", "RUNLAB_URI")


@pytest.fixture(autouse=True)
def _outside_this_checkout(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Every test runs in its own folder, where git finds no repository above.

    Runs capture git from the working directory and leave a snapshot ref in
    the repository they find: never in this checkout.
    """
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))


@pytest.fixture
def store(tmp_path: Path) -> Path:
    """The store folder of the test; runs are created in it on first use."""
    return tmp_path / "experiments"


@pytest.fixture
def runlab_env(monkeypatch: pytest.MonkeyPatch, store: Path, tmp_path: Path) -> None:
    """Point runlab at ``store`` and keep the caller's environment out."""
    # In-process runs capture git from the working directory: not this checkout.
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RUNLAB_DIR", str(store))
    monkeypatch.setenv("RUNLAB_SYSTEM_METRICS", "0")
    monkeypatch.setenv("RUNLAB_HEARTBEAT_S", "0.5")
    for var in _LEAKY:
        monkeypatch.delenv(var, raising=False)
    # Git must not read the developer's config nor find the checkout above us.
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    for role in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{role}_NAME", "Test")
        monkeypatch.setenv(f"GIT_{role}_EMAIL", "test@example.com")


def _environment(extra: Mapping[str, str | None] | None) -> dict[str, str]:
    env = dict(os.environ)
    for key, value in (extra or {}).items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


@pytest.fixture
def runlab_cli(tmp_path: Path) -> RunlabCli:
    """Return ``runlab_cli(*args, cwd=None, env=None, timeout=120)``.

    ``env`` entries are added to the current environment (None removes one);
    ``cwd`` defaults to ``tmp_path`` so that no enclosing checkout is captured.
    """

    def run(
        *args: str,
        cwd: Path | None = None,
        env: Mapping[str, str | None] | None = None,
        timeout: float = 120,
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "runlab", *args],
            cwd=cwd or tmp_path,
            env=_environment(env),
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    return run


@pytest.fixture
def runlab_popen(tmp_path: Path) -> RunlabPopen:
    """Return ``runlab_popen(*args, cwd=None, env=None, **popen)``: a running ``runlab``.

    stdout and stderr are pipes in text mode; further keyword arguments go to
    ``subprocess.Popen``; the caller waits for it.
    """

    def start(
        *args: str,
        cwd: Path | None = None,
        env: Mapping[str, str | None] | None = None,
        **popen: Any,
    ) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "runlab", *args],
            cwd=cwd or tmp_path,
            env=_environment(env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            **popen,
        )

    return start


@pytest.fixture
def run_git() -> Callable[..., str]:
    """Return ``run_git(folder, *args)``: git's stdout, stripped; fails on an error.

    Pair it with ``runlab_env``, which keeps the developer's git config out.
    """

    def run(folder: Path, *args: str) -> str:
        done = subprocess.run(
            ["git", "-C", str(folder), *args],
            check=True,
            capture_output=True,
            text=True,
        )
        return done.stdout.strip()

    return run


def _refuse_constant(token: str) -> float:
    raise AssertionError(f"bare {token} in JSON output: strict parsers refuse it")


@pytest.fixture
def runlab_json(runlab_cli: RunlabCli) -> Callable[..., Any]:
    """Return ``runlab_json(*args, **cli)``: ``runlab ARGS --json``, parsed strictly.

    The command must exit 0; keyword arguments go to ``runlab_cli``.
    """

    def run(*args: str, **cli: Any) -> Any:
        done = runlab_cli(*args, "--json", **cli)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout, parse_constant=_refuse_constant)

    return run
