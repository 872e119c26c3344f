"""Requirements files, conda files and Dockerfiles made from recorded environments."""

from __future__ import annotations

import json
import platform
from pathlib import Path
from typing import Any

import numpy
import pytest
from ruamel.yaml import YAML

import runlab
from runlab.capture.envfile import (
    format_conda_file,
    format_dockerfile,
    format_envfile,
    format_requirement,
    format_requirements_file,
    write_envfile,
)
from runlab.errors import RunlabError

RUN = "261203-151207-a3f9"
C1, C2, C3, C4, C5, C6, C7 = (f"{d}" * 40 for d in "1234567")
PYTHON = {
    "version": "3.11.7",
    "implementation": "CPython",
    "executable": "/home/ada/proj/.venv/bin/python",
}
PLATFORM = {"system": "Linux", "release": "6.8.0", "machine": "x86_64"}
# The instructions a Dockerfile may use.
DOCKER_INSTRUCTIONS = frozenset({
    "FROM", "RUN", "CMD", "LABEL", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT",
    "VOLUME", "USER", "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL",
})  # fmt: skip


def package(name: str, version: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "version": version,
        "editable": False,
        "source": None,
        **extra,
    }


PACKAGES = [
    package("numpy", "1.26.4"),
    package("pip", "24.0"),
    package("setuptools", "69.5.1"),
    package("torch", "2.3.0+cu121"),
    package("lab-tools", "0.9", source="https://example.com/lab/tools.git",
            vcs="git", commit=C1, subdirectory="py"),
    package("hgpkg", "1.0", source="https://hg.example.com/hgpkg", vcs="hg", commit=C2),
    package("localvcs", "0.1", source="/srv/repos/localvcs", vcs="git", commit=C3),
    package("mono", "2.0", editable=True, source="/home/ada/mono/python", commit=C4,
            remote="https://example.com/mono.git", subdirectory="python"),
    package("scpkg", "0.2", editable=True, source="/home/ada/scpkg", commit=C5,
            remote="git@github.com:ada/scpkg.git"),
    package("nolink", "0.3", editable=True, source="/home/ada/nolink", commit=C6),
    package("mirror", "0.4", editable=True, source="/home/ada/mirror", commit=C7,
            remote="/srv/git/mirror.git"),
    package("scratch", "0.0.1", editable=True, source="/home/ada/scratch"),
    package("wheelhouse", "3.1", source="/tmp/build/wheelhouse"),
]  # fmt: skip
ENVIRONMENT = {"python": PYTHON, "platform": PLATFORM, "packages": PACKAGES}

LEFT_OUT = [
    f"# left out localvcs==0.1: git install from /srv/repos/localvcs at commit {C3}, "
    "a local path",
    f"# left out nolink==0.3: editable install from /home/ada/nolink at commit {C6}, "
    "with no git remote",
    f"# left out mirror==0.4: editable install from /home/ada/mirror at commit {C7}, "
    "whose remote /srv/git/mirror.git is a local path",
    "# left out scratch==0.0.1: editable install from /home/ada/scratch, not a git "
    "checkout with a commit",
]
REQUIREMENT_LINES = f"""\
--extra-index-url https://download.pytorch.org/whl/cu121
numpy==1.26.4
setuptools==69.5.1
torch==2.3.0+cu121
lab-tools @ git+https://example.com/lab/tools.git@{C1}#subdirectory=py
hgpkg @ hg+https://hg.example.com/hgpkg@{C2}
# left out localvcs==0.1: git install from /srv/repos/localvcs at commit {C3}, a local path
mono @ git+https://example.com/mono.git@{C4}#subdirectory=python
scpkg @ git+ssh://git@github.com/ada/scpkg.git@{C5}
# left out nolink==0.3: editable install from /home/ada/nolink at commit {C6}, with no git remote
# left out mirror==0.4: editable install from /home/ada/mirror at commit {C7}, whose remote /srv/git/mirror.git is a local path
# left out scratch==0.0.1: editable install from /home/ada/scratch, not a git checkout with a commit
wheelhouse==3.1
"""  # noqa: E501


def parse_dockerfile(text: str) -> list[tuple[str, str]]:
    """Return a Dockerfile's (instruction, arguments) steps; fail where Docker would."""
    steps: list[tuple[str, str]] = []
    pending = ""
    for number, line in enumerate(text.splitlines(), 1):
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        pending += line.rstrip()
        if pending.endswith("\\"):
            pending = pending[:-1] + " "
            continue
        word, _, arguments = pending.strip().partition(" ")
        assert word in DOCKER_INSTRUCTIONS, f"line {number}: unknown {word!r}"
        assert arguments.strip(), f"line {number}: {word} without arguments"
        steps.append((word, arguments.strip()))
        pending = ""
    assert not pending, "the file ends inside a continued line"
    assert next(w for w, _ in steps if w != "ARG") == "FROM", "FROM must come first"
    return steps


def check_dockerfile(text: str, python_version: str) -> list[str]:
    """Parse ``text``, check its base image, and return its CMD as a list."""
    steps = parse_dockerfile(text)
    assert dict(steps)["FROM"] == f"python:{python_version}-slim"
    (cmd,) = [arguments for word, arguments in steps if word == "CMD"]
    command = json.loads(cmd)
    assert isinstance(command, list) and all(isinstance(a, str) for a in command)
    return command


def write_env_dir(folder: Path, environment: dict[str, Any]) -> Path:
    folder.mkdir(parents=True)
    (folder / "environment.json").write_text(json.dumps(environment))
    return folder


# -- requirements --------------------------------------------------------------


def test_requirements_pin_packages_and_write_editables_and_vcs_as_fetchable() -> None:
    text = format_requirements_file(RUN, ENVIRONMENT)

    assert text == (
        f"# Requirements of run {RUN}: CPython 3.11.7 on Linux x86_64.\n"
        "# Install them with: python -m pip install -r requirements.txt\n"
        + REQUIREMENT_LINES
    )


def test_requirements_never_hold_a_bare_local_path() -> None:
    lines = format_requirements_file(RUN, ENVIRONMENT).splitlines()

    assert not [ln for ln in lines if not ln.startswith("#") and "/home/" in ln]
    assert not [ln for ln in lines if not ln.startswith("#") and "file:" in ln]


def test_scp_like_and_git_plus_remotes_become_pip_urls() -> None:
    scp = package("a", "1", editable=True, source="/x", commit=C1, remote="host:a.git")
    plus = package("b", "1", source="git+https://h/b.git", vcs="git", commit=C2)

    assert format_requirement(scp) == f"a @ git+ssh://host/a.git@{C1}"
    assert format_requirement(plus) == f"b @ git+https://h/b.git@{C2}"


# -- a real run ----------------------------------------------------------------


@pytest.fixture
def recorded(runlab_env: None) -> runlab.StoredRun:
    with runlab.start(config={"lr": 0.1}) as run:
        run.log({"loss": 0.5})
    return runlab.load_run(run.id)


def test_requirements_of_a_real_run_pin_numpy_and_drop_pip(
    recorded: runlab.StoredRun,
) -> None:
    text = format_envfile("requirements", recorded.id, recorded.path / "env")

    lines = text.splitlines()
    assert lines[:2] == [
        f"# Requirements of run {recorded.id}: CPython {platform.python_version()} "
        f"on {platform.system()} {platform.machine()}.",
        "# Install them with: python -m pip install -r requirements.txt",
    ]
    assert f"numpy=={numpy.__version__}" in lines
    assert not [line for line in lines if line.lower().startswith("pip==")]
    packages = recorded.environment["packages"]
    assert len(lines) >= len(packages) + 1


def test_dockerfile_of_a_real_run_parses_and_runs_its_command(
    recorded: runlab.StoredRun,
) -> None:
    meta = recorded.meta

    text = format_envfile(
        "dockerfile", recorded.id, recorded.path / "env",
        command=meta["command"], cwd=meta["cwd"],
    )  # fmt: skip

    command = check_dockerfile(text, platform.python_version())
    assert command == ["python", *meta["command"][1:]]
    assert Path(meta["command"][0]).name.startswith("python")


def test_conda_file_of_a_real_run_reads_back_as_yaml(
    recorded: runlab.StoredRun,
) -> None:
    text = format_envfile("conda", recorded.id, recorded.path / "env")

    data = YAML(typ="safe").load(text)
    assert data["name"] == f"runlab-{recorded.id}"
    assert data["dependencies"][:2] == [f"python={platform.python_version()}", "pip"]
    assert f"numpy=={numpy.__version__}" in data["dependencies"][2]["pip"]


# -- conda ---------------------------------------------------------------------


def test_conda_file_without_export_pins_python_and_lists_pip_requirements() -> None:
    text = format_conda_file(RUN, ENVIRONMENT)

    assert text == (
        f"# Conda environment of run {RUN}: CPython 3.11.7 on Linux x86_64.\n"
        "# Create it with: conda env create -f environment.yml\n"
        f"name: runlab-{RUN}\n"
        "channels:\n  - conda-forge\n"
        "dependencies:\n  - python=3.11.7\n  - pip\n  - pip:\n"
        '      - "--extra-index-url https://download.pytorch.org/whl/cu121"\n'
        "      - numpy==1.26.4\n"
        "      - setuptools==69.5.1\n"
        "      - torch==2.3.0+cu121\n"
        f'      - "lab-tools @ git+https://example.com/lab/tools.git@{C1}#subdirectory=py"\n'
        f'      - "hgpkg @ hg+https://hg.example.com/hgpkg@{C2}"\n'
        f"      {LEFT_OUT[0]}\n"
        f'      - "mono @ git+https://example.com/mono.git@{C4}#subdirectory=python"\n'
        f'      - "scpkg @ git+ssh://git@github.com/ada/scpkg.git@{C5}"\n'
        f"      {LEFT_OUT[1]}\n      {LEFT_OUT[2]}\n      {LEFT_OUT[3]}\n"
        "      - wheelhouse==3.1\n"
    )
    data = YAML(typ="safe").load(text)
    assert data["dependencies"][2]["pip"][4] == (
        f"lab-tools @ git+https://example.com/lab/tools.git@{C1}#subdirectory=py"
    )


CONDA_EXPORT = """\
name: demo
channels:
  - pytorch
  - conda-forge
dependencies:
  - python=3.11.7
  - numpy=1.26.4
  - pip=24.0
  - pip:
    - mono==2.0
    - nolink==0.3
    - requests==2.32.3
    - -e /home/ada/other
prefix: /opt/conda/envs/demo
"""


def test_conda_file_builds_on_the_recorded_export(tmp_path: Path) -> None:
    conda = {"available": True, "reason": None, "prefix": None, "file": "conda.yaml"}
    env_dir = write_env_dir(tmp_path / "env", {**ENVIRONMENT, "conda": conda})
    (env_dir / "conda.yaml").write_text(CONDA_EXPORT)

    text = format_envfile("conda", RUN, env_dir)

    assert text == (
        f"# Conda environment of run {RUN}: CPython 3.11.7 on Linux x86_64.\n"
        "# Based on the conda export recorded with the run; its pip\n"
        "# installs from folders and git are rewritten to install elsewhere.\n"
        "# Create it with: conda env create -f environment.yml\n"
        f"name: runlab-{RUN}\n"
        "channels:\n  - pytorch\n  - conda-forge\n"
        "dependencies:\n  - python=3.11.7\n  - numpy=1.26.4\n  - pip=24.0\n"
        "  - pip:\n"
        f'      - "mono @ git+https://example.com/mono.git@{C4}#subdirectory=python"\n'
        f"      # left out nolink==0.3: editable install from /home/ada/nolink at "
        f"commit {C6}, with no git remote\n"
        "      - requests==2.32.3\n"
        "      # left out -e /home/ada/other: a local path\n"
    )


def test_unreadable_conda_export_falls_back_to_python_and_pip(tmp_path: Path) -> None:
    text = format_conda_file(RUN, {"python": PYTHON, "packages": []}, "a: [b\n")

    assert YAML(typ="safe").load(text) == {
        "name": f"runlab-{RUN}",
        "channels": ["conda-forge"],
        "dependencies": ["python=3.11.7", "pip"],
    }


# -- Dockerfile ----------------------------------------------------------------

GPU = {"name": "NVIDIA H100 80GB HBM3", "memory_total_bytes": 85520809984}


def test_dockerfile_word_for_word_with_gpus_and_a_container_image() -> None:
    environment = {
        **ENVIRONMENT,
        "gpus": [{"index": 0, **GPU}, {"index": 1, **GPU}],
        "cuda": {"driver": "550.54.15", "driver_cuda": "12.4", "torch_cuda": None},
        "container": {
            "image": "ghcr.io/lab/train:1.2",
            "digest": "sha256:" + "e1" * 32,
        },
    }
    command = [PYTHON["executable"], "train.py", "--lr", "0.1"]

    text = format_dockerfile(RUN, environment, command=command, cwd="/home/ada/proj")

    assert text == (
        f"# Rebuilds the environment of run {RUN}: CPython 3.11.7 on Linux x86_64.\n"
        "# It installs the requirements.txt beside it; write both with\n"
        f"#   runlab env {RUN} --format dockerfile -o <folder>/Dockerfile\n"
        "# then, in that folder:\n"
        f"#   docker build -t runlab-{RUN} . && docker run --rm runlab-{RUN}\n"
        f"# The run itself ran in the image ghcr.io/lab/train:1.2 (sha256:{'e1' * 32}).\n"
        "# The run had 2 GPUs (NVIDIA H100 80GB HBM3), driver 550.54.15, CUDA 12.4.\n"
        "# For the GPU, build FROM an nvidia/cuda:12.4.x runtime image\n"
        "# with Python 3.11.7 instead, and start it with docker run --gpus all.\n"
        "FROM python:3.11.7-slim\n"
        "WORKDIR /app\n"
        "COPY requirements.txt .\n"
        "RUN pip install --no-cache-dir -r requirements.txt\n"
        "# Not in requirements.txt, being installed from local folders: "
        "localvcs, nolink, mirror, scratch.\n"
        "# Copy their source here and pip install it if the command needs them.\n"
        "# The run started in /home/ada/proj: put the files its command needs in "
        "this folder.\n"
        "COPY . .\n"
        'CMD ["python", "train.py", "--lr", "0.1"]\n'
    )
    assert check_dockerfile(text, "3.11.7") == ["python", "train.py", "--lr", "0.1"]


@pytest.mark.parametrize(
    ("program", "written"),
    [
        ("/usr/bin/python3.11", "python"),
        ("python3", "python"),
        ("/home/ada/proj/.venv/bin/torchrun", "torchrun"),
        ("/usr/local/bin/train.sh", "/usr/local/bin/train.sh"),
        ("bash", "bash"),
    ],
)
def test_dockerfile_names_the_runs_own_programs_plainly(
    program: str, written: str
) -> None:
    text = format_dockerfile(RUN, ENVIRONMENT, command=[program, "a b"])

    assert check_dockerfile(text, "3.11.7") == [written, "a b"]


def test_dockerfile_moves_paths_of_the_run_folder_into_app_and_names_others() -> None:
    command = [
        "python", "/home/ada/proj/train.py", "--data=/home/ada/proj/data",
        "/home/ada/proj", "--out", "/scratch/ada/out", "/usr/share/dict/words",
    ]  # fmt: skip

    text = format_dockerfile(RUN, ENVIRONMENT, command=command, cwd="/home/ada/proj")

    assert check_dockerfile(text, "3.11.7") == [
        "python", "train.py", "--data=data", ".", "--out", "/scratch/ada/out",
        "/usr/share/dict/words",
    ]  # fmt: skip
    assert (
        "# The command names /scratch/ada/out, outside the folder the run\n"
        "# started in: copy those files into this folder and change the CMD.\n"
    ) in text


def test_dockerfile_prefers_torchs_cuda_and_says_when_no_command_was_recorded() -> None:
    environment = {
        "python": {**PYTHON, "version": "3.12.4"},
        "gpus": [{"index": 0, **GPU}],
        "cuda": {"driver": None, "driver_cuda": "12.4", "torch_cuda": "12.1"},
    }

    text = format_dockerfile(RUN, environment)

    assert "# The run had 1 GPU (NVIDIA H100 80GB HBM3), CUDA 12.1.\n" in text
    assert text.endswith("COPY . .\n# The run recorded no command: add a CMD.\n")
    assert dict(parse_dockerfile(text))["FROM"] == "python:3.12.4-slim"


def test_dockerfile_without_a_python_version_is_refused() -> None:
    with pytest.raises(RunlabError) as caught:
        format_dockerfile(RUN, {"packages": []}, command=["python"])

    assert str(caught.value) == (
        f"Run {RUN} recorded no Python version (found none), so no base image can "
        "be chosen; use --format requirements instead."
    )


# -- writing -------------------------------------------------------------------


def test_write_dockerfile_writes_its_requirements_beside_it(tmp_path: Path) -> None:
    env_dir = write_env_dir(tmp_path / "env", ENVIRONMENT)

    written = write_envfile(
        "dockerfile", RUN, env_dir, tmp_path / "out" / "Dockerfile", command=["python"]
    )

    assert written == [
        tmp_path / "out" / "Dockerfile",
        tmp_path / "out" / "requirements.txt",
    ]
    assert written[1].read_text() == format_requirements_file(RUN, ENVIRONMENT)
    assert check_dockerfile(written[0].read_text(), "3.11.7") == ["python"]


def test_a_dockerfile_named_requirements_txt_is_refused(tmp_path: Path) -> None:
    env_dir = write_env_dir(tmp_path / "env", ENVIRONMENT)

    with pytest.raises(RunlabError) as caught:
        write_envfile("dockerfile", RUN, env_dir, tmp_path / "requirements.txt")

    assert str(caught.value) == (
        f"Cannot write the Dockerfile to {tmp_path / 'requirements.txt'}: its "
        f"requirements.txt goes there. Name it {tmp_path / 'Dockerfile'} instead."
    )
    assert not (tmp_path / "requirements.txt").exists()


def test_a_run_without_environment_is_an_error_that_says_why(tmp_path: Path) -> None:
    with pytest.raises(RunlabError) as caught:
        format_envfile("conda", RUN, tmp_path / "env")

    assert str(caught.value) == (
        f"Run {RUN} has no recorded environment ({tmp_path / 'env' / 'environment.json'}"
        " is missing or unreadable); it may still be starting, or its capture failed:"
        " see its log.txt."
    )


def test_an_unknown_format_is_named_with_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(RunlabError) as caught:
        format_envfile("pipfile", RUN, tmp_path)

    assert str(caught.value) == (
        "Unknown environment file format 'pipfile'; use one of requirements, conda, "
        "dockerfile."
    )
