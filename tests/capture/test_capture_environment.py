from __future__ import annotations

import importlib.util
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy
import pytest

from runlab.capture.environment import capture_environment, read_environment


def make_dist(
    site: Path, name: str, version: str, direct_url: dict[str, object]
) -> None:
    """Write the metadata an installer leaves for a package installed from a folder."""
    info = site / f"{name}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    )
    (info / "direct_url.json").write_text(json.dumps(direct_url))


def test_capture_environment_pins_numpy_in_requirements(tmp_path: Path) -> None:
    capture_environment(tmp_path)

    lines = (tmp_path / "requirements.txt").read_text().splitlines()
    assert f"numpy=={numpy.__version__}" in lines


def test_capture_environment_records_this_python(tmp_path: Path) -> None:
    info = capture_environment(tmp_path)

    assert info["python"] == {
        "version": platform.python_version(),
        "implementation": platform.python_implementation(),
        "executable": sys.executable,
    }


def test_capture_environment_writes_what_it_returns(tmp_path: Path) -> None:
    info = capture_environment(tmp_path / "env")

    assert json.loads((tmp_path / "env" / "environment.json").read_text()) == info
    assert read_environment(tmp_path / "env") == info


def test_read_environment_returns_none_without_environment_json(tmp_path: Path) -> None:
    assert read_environment(tmp_path) is None


def test_capture_environment_gives_every_package_a_version(tmp_path: Path) -> None:
    info = capture_environment(tmp_path)

    packages = info["packages"]
    assert len(packages) > 10
    assert all(p["name"] and p["version"] for p in packages)
    assert all(not p["version"].startswith("file:") for p in packages)
    names = [p["name"].lower() for p in packages]
    assert names == sorted(names)


def test_capture_environment_pins_folder_installs_and_marks_editables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source_b = tmp_path / "src" / "pkg_b"
    source_b.mkdir(parents=True)
    git_env = {
        **os.environ,
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    subprocess.run(["git", "init", "-q", str(source_b)], check=True, env=git_env)
    identity = ["-c", "user.name=T", "-c", "user.email=t@example.com"]
    commit_args = ["commit", "-q", "--allow-empty", "-m", "first"]
    subprocess.run(
        ["git", "-C", str(source_b), *identity, *commit_args], check=True, env=git_env
    )
    commit = subprocess.run(
        ["git", "-C", str(source_b), "rev-parse", "HEAD"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    site = tmp_path / "site"
    make_dist(site, "pkg_a", "1.0", {"url": "file:///build/pkg_a", "dir_info": {}})
    make_dist(
        site, "pkg_b", "0.3", {"url": source_b.as_uri(), "dir_info": {"editable": True}}
    )
    monkeypatch.syspath_prepend(str(site))

    info = capture_environment(tmp_path / "env")

    requirements = (tmp_path / "env" / "requirements.txt").read_text()
    assert "\npkg_a==1.0\n" in requirements
    assert (
        f"\n# pkg_b==0.3 installed editable at commit {commit}\n-e {source_b}\n"
        in requirements
    )
    by_name = {p["name"]: p for p in info["packages"]}
    assert by_name["pkg_a"] == {
        "name": "pkg_a",
        "version": "1.0",
        "editable": False,
        "source": "/build/pkg_a",
    }
    assert by_name["pkg_b"] == {
        "name": "pkg_b",
        "version": "0.3",
        "editable": True,
        "source": str(source_b),
        "commit": commit,
    }


def test_capture_environment_records_cuda_visible_devices(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1,3")

    info = capture_environment(tmp_path)

    assert info["cuda_visible_devices"] == "1,3"


def test_capture_environment_records_container_image_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONTAINER_IMAGE", "ghcr.io/lab/train:1.2")

    info = capture_environment(tmp_path)

    assert info["container"]["image"] == "ghcr.io/lab/train:1.2"
    assert info["container"]["kind"] in (None, "docker", "podman", "kubernetes")


@pytest.mark.skipif(
    importlib.util.find_spec("pynvml") is not None,
    reason="with pynvml installed, GPUs are read through NVML, not nvidia-smi",
)
def test_capture_environment_reads_gpus_from_nvidia_smi(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    smi = bin_dir / "nvidia-smi"
    smi.write_text(
        "#!/bin/sh\n"
        "echo '0, NVIDIA H100 80GB HBM3, 81559, 550.54.15'\n"
        "echo '1, NVIDIA H100 80GB HBM3, 81559, 550.54.15'\n"
    )
    smi.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")

    info = capture_environment(tmp_path / "env")

    assert info["gpus"] == [
        {
            "index": i,
            "name": "NVIDIA H100 80GB HBM3",
            "memory_total_bytes": 81559 * 1024 * 1024,
            "driver": "550.54.15",
        }
        for i in (0, 1)
    ]


def test_capture_environment_records_hardware_facts(tmp_path: Path) -> None:
    info = capture_environment(tmp_path)

    assert info["cpu"]["count"] == os.cpu_count()
    assert info["memory_total_bytes"] > 0
    assert info["platform"]["system"] == platform.system()
    assert info["host"] == platform.node()


def test_capture_environment_takes_under_a_second(tmp_path: Path) -> None:
    started = time.perf_counter()
    capture_environment(tmp_path)
    assert time.perf_counter() - started < 1.0


def test_conda_environment_is_exported_where_conda_answers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from runlab.capture.environment import read_conda

    fake = tmp_path / "conda"
    fake.write_text('#!/bin/sh\necho "name: demo"\necho "args: $*"\n')
    fake.chmod(0o755)
    monkeypatch.setenv("CONDA_EXE", str(fake))
    monkeypatch.setenv("CONDA_PREFIX", "/opt/envs/demo")

    info = read_conda(tmp_path / "env")

    assert info == {
        "available": True, "reason": None, "prefix": "/opt/envs/demo", "file": "conda.yaml",
    }  # fmt: skip
    assert (tmp_path / "env" / "conda.yaml").read_text() == (
        "name: demo\nargs: env export --no-builds -p /opt/envs/demo\n"
    )
