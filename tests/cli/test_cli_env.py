"""``runlab env``: files that rebuild a run's environment, printed or written."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy
import pytest

import runlab
from runlab.config import loads_config

pytestmark = pytest.mark.usefixtures("runlab_env")

REPO = Path(__file__).resolve().parents[2]
DIGITS = REPO / "examples" / "digits"


@pytest.fixture
def run_id() -> str:
    with runlab.start(config={"lr": 0.1}, name="base") as run:
        run.log({"loss": 0.5})
    return run.id


def test_env_prints_the_requirements_of_a_run(runlab_cli: Any, run_id: str) -> None:
    done = runlab_cli("env", "base")

    assert (done.returncode, done.stderr) == (0, "")
    lines = done.stdout.splitlines()
    assert lines[0].startswith(f"# Requirements of run {run_id}: CPython ")
    assert f"numpy=={numpy.__version__}" in lines


def test_env_output_writes_the_file_and_says_where(
    runlab_cli: Any, run_id: str, tmp_path: Path
) -> None:
    printed = runlab_cli("env", run_id, "--format", "conda").stdout

    done = runlab_cli("env", run_id, "--format", "conda", "-o", "rebuild/env.yml")

    path = tmp_path / "rebuild" / "env.yml"
    assert (done.returncode, done.stdout) == (
        0, f"Wrote the conda environment of run {run_id} to rebuild/env.yml\n",
    )  # fmt: skip
    assert path.read_text() == printed
    assert f"name: runlab-{run_id}\n" in printed


def test_env_dockerfile_output_writes_its_requirements_beside_it(
    runlab_cli: Any, run_id: str, tmp_path: Path
) -> None:
    done = runlab_cli("env", run_id, "--format", "dockerfile", "-o", "out/Dockerfile")

    assert (done.returncode, done.stdout) == (0, (
        f"Wrote the Dockerfile of run {run_id} to out/Dockerfile\n"
        "Wrote the requirements it installs to out/requirements.txt\n"
    ))  # fmt: skip
    requirements = runlab_cli("env", run_id).stdout
    assert (tmp_path / "out" / "requirements.txt").read_text() == requirements
    dockerfile = (tmp_path / "out" / "Dockerfile").read_text()
    assert "\nCOPY requirements.txt .\n" in dockerfile


def test_env_of_an_unknown_run_is_one_error_line(runlab_cli: Any, store: Path) -> None:
    runlab.start().finish()

    done = runlab_cli("env", "nope")

    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == f"Error: No run 'nope' in {store}; see `runlab ls`.\n"


def test_env_of_a_run_without_environment_says_why(
    runlab_cli: Any, run_id: str, store: Path
) -> None:
    recorded = store / run_id / "env" / "environment.json"
    recorded.unlink()

    done = runlab_cli("env", run_id, "--format", "dockerfile")

    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == (
        f"Error: Run {run_id} has no recorded environment ({recorded} is missing or "
        "unreadable); it may still be starting, or its capture failed: see its "
        "log.txt.\n"
    )


def test_env_output_that_cannot_be_written_is_one_error_line(
    runlab_cli: Any, run_id: str, tmp_path: Path
) -> None:
    (tmp_path / "taken").write_text("a file, not a folder")

    done = runlab_cli("env", run_id, "-o", "taken/requirements.txt")

    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == (
        "Error: Cannot write taken/requirements.txt: File exists; choose another "
        "path with -o.\n"
    )


def test_env_help_names_the_formats_and_gives_an_example(runlab_cli: Any) -> None:
    done = runlab_cli("env", "--help")

    assert "[requirements|conda|dockerfile]" in done.stdout
    assert (
        "  Example:\n"
        "    runlab env 261203-1512 --format dockerfile -o rebuild/Dockerfile\n\n"
    ) in done.stdout


# -- the digits example, installed for real ------------------------------------


def make_venv(folder: Path, *packages: str) -> Path:
    """Create a virtual environment with ``packages``; return its Python."""
    subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True)
    python = folder / "bin" / "python"
    if packages:
        pip(python, "install", "-q", *packages)
    return python


def pip(python: Path, *args: str) -> None:
    # pip's cache is shared with the developer's: a second run installs offline.
    done = subprocess.run(
        [str(python), "-m", "pip", *args], capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_digits_requirements_and_dockerfile_install_in_a_fresh_venv(
    runlab_cli: Any, tmp_path: Path
) -> None:
    # A small venv with runlab and scikit-learn runs one epoch of the example.
    trained = make_venv(tmp_path / "trained", "-e", str(REPO), "scikit-learn")
    project = tmp_path / "project"
    shutil.copytree(DIGITS, project)
    wrapped = [str(trained.parent / "runlab"), "run", "-c", "config.yaml", "epochs=1"]
    done = subprocess.run(
        [*wrapped, "--", str(trained), "train.py"],
        cwd=project, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    (run,) = runlab.open_store().runs()
    assert run.summary["val/acc"]["count"] == 1

    # Its requirements and Dockerfile, written by the command under test.
    written = [
        runlab_cli("env", run.id, "--format", "requirements", "-o", "req.txt"),
        runlab_cli("env", run.id, "--format", "dockerfile", "-o", "image/Dockerfile"),
    ]
    assert [w.returncode for w in written] == [0, 0], [w.stderr for w in written]
    requirements = (tmp_path / "req.txt").read_text()
    assert (tmp_path / "image" / "requirements.txt").read_text() == requirements
    assert "\n# left out runlab==" in requirements

    # The Dockerfile: the run's Python as base, its command with its config
    # (epochs=1 included) as CMD.
    version = run.environment["python"]["version"]
    dockerfile = (tmp_path / "image" / "Dockerfile").read_text()
    steps = [
        line.split(" ", 1) for line in dockerfile.splitlines() if line[:1] not in "#"
    ]
    assert [word for word, _ in steps] == [
        "FROM",
        "WORKDIR",
        "COPY",
        "RUN",
        "COPY",
        "CMD",
    ]
    assert steps[0][1] == f"python:{version}-slim"
    assert json.loads(steps[-1][1]) == [
        "runlab", "run", "-c", "run-config.yaml", "--", "python", "train.py",
    ]  # fmt: skip
    config = (tmp_path / "image" / "run-config.yaml").read_text()
    assert loads_config(config) == loads_config((run.path / "config.yaml").read_text())
    assert loads_config(config)["epochs"] == 1

    # A second fresh venv installs the requirements and imports scikit-learn.
    rebuilt = make_venv(tmp_path / "rebuilt")
    pip(rebuilt, "install", "-q", "-r", str(tmp_path / "req.txt"))
    check = "import sklearn, json; print(json.dumps(sklearn.__version__))"
    versions = [
        subprocess.run([str(py), "-c", check], capture_output=True, text=True).stdout
        for py in (trained, rebuilt)
    ]
    assert json.loads(versions[1]) == json.loads(versions[0])
