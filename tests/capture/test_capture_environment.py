from __future__ import annotations

import importlib.util
import json
import os
import platform
import subprocess
import sys
import time
import types
from pathlib import Path

import numpy
import pytest

from runlab.capture import environment
from runlab.capture.environment import (
    capture_environment,
    detect_container,
    read_environment,
)


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


# -- editable checkouts: remote and subdirectory -------------------------------


def git(folder: Path, *args: str) -> str:
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    identity = ["-c", "user.name=T", "-c", "user.email=t@example.com"]
    done = subprocess.run(
        ["git", "-C", str(folder), *identity, *args],
        check=True, capture_output=True, text=True, env=env,
    )  # fmt: skip
    return done.stdout.strip()


def test_editable_install_records_its_checkouts_remote_without_credentials(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checkout = tmp_path / "mono"
    source = checkout / "python"
    source.mkdir(parents=True)
    git(checkout, "init", "-q")
    git(checkout, "commit", "-q", "--allow-empty", "-m", "first")
    git(checkout, "remote", "add", "upstream", "https://example.com/other.git")
    git(checkout, "remote", "add", "origin", "https://bob:s3cret@example.com/mono.git")
    site = tmp_path / "site"
    make_dist(
        site, "pkg_m", "2.0", {"url": source.as_uri(), "dir_info": {"editable": True}}
    )
    monkeypatch.syspath_prepend(str(site))

    info = capture_environment(tmp_path / "env")

    (entry,) = [p for p in info["packages"] if p["name"] == "pkg_m"]
    assert entry == {
        "name": "pkg_m", "version": "2.0", "editable": True, "source": str(source),
        "commit": git(checkout, "rev-parse", "HEAD"),
        "remote": "https://example.com/mono.git", "subdirectory": "python",
    }  # fmt: skip


def test_vcs_install_records_its_vcs_commit_and_subdirectory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    direct_url = {
        "url": "https://example.com/lab/tools.git",
        "vcs_info": {
            "vcs": "git",
            "commit_id": "ab" * 20,
            "requested_revision": "main",
        },
        "subdirectory": "py",
    }
    make_dist(site, "lab_tools", "0.9", direct_url)
    monkeypatch.syspath_prepend(str(site))

    info = capture_environment(tmp_path / "env")

    (entry,) = [p for p in info["packages"] if p["name"] == "lab_tools"]
    assert entry == {
        "name": "lab_tools", "version": "0.9", "editable": False,
        "source": "https://example.com/lab/tools.git", "vcs": "git",
        "commit": "ab" * 20, "subdirectory": "py",
    }  # fmt: skip


# -- CUDA ----------------------------------------------------------------------

SMI_BANNER = """\
+-----------------------------------------------------------------------------------------+
| NVIDIA-SMI 550.54.15              Driver Version: 550.54.15      CUDA Version: 12.4     |
|-----------------------------------------+------------------------+----------------------+
"""


@pytest.mark.skipif(
    importlib.util.find_spec("pynvml") is not None,
    reason="with pynvml installed, CUDA's version is read through NVML, not nvidia-smi",
)
def test_cuda_and_driver_versions_are_read_from_nvidia_smi(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "banner.txt").write_text(SMI_BANNER)
    smi = bin_dir / "nvidia-smi"
    smi.write_text(
        "#!/bin/sh\n"
        f'if [ $# -eq 0 ]; then cat "{bin_dir}/banner.txt"; exit 0; fi\n'
        "echo '0, NVIDIA H200, 143771, 550.54.15'\n"
    )
    smi.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delitem(sys.modules, "torch", raising=False)

    info = capture_environment(tmp_path / "env")

    assert info["gpus"][0]["name"] == "NVIDIA H200"
    assert info["cuda"] == {
        "driver": "550.54.15",
        "driver_cuda": "12.4",
        "torch_cuda": None,
    }


def test_cuda_version_of_an_imported_torch_is_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A stand-in for a CUDA build of torch, which this machine does not have.
    torch = types.ModuleType("torch")
    torch.version = types.SimpleNamespace(cuda="12.1")  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "torch", torch)
    monkeypatch.setenv("PATH", str(tmp_path))  # no nvidia-smi

    info = capture_environment(tmp_path / "env")

    assert info["cuda"] == {"driver": None, "driver_cuda": None, "torch_cuda": "12.1"}


def test_capture_environment_never_imports_torch(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from runlab.capture.environment import capture_environment\n"
        f"info = capture_environment({str(tmp_path)!r})\n"
        "print('torch' in sys.modules, info['cuda']['torch_cuda'])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )

    assert done.stdout == "False None\n"


# -- containers ----------------------------------------------------------------

CONTAINER_VARS = (
    "container", "KUBERNETES_SERVICE_HOST", "CONTAINER_IMAGE", "IMAGE_NAME",
    "DOCKER_IMAGE", "CONTAINER_IMAGE_DIGEST", "IMAGE_DIGEST",
)  # fmt: skip
DOCKER_ID = "3f4e" * 16


@pytest.fixture
def no_container(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point every container trace at a missing file; return a folder for real ones."""
    traces = tmp_path / "traces"
    traces.mkdir()
    for name in ("CONTAINERENV", "DOCKERENV", "CGROUP", "MOUNTINFO", "K8S_NAMESPACE"):
        monkeypatch.setattr(environment, f"{name}_PATH", traces / name.lower())
    for var in CONTAINER_VARS:
        monkeypatch.delenv(var, raising=False)
    return traces


def test_outside_a_container_nothing_is_claimed(no_container: Path) -> None:
    (no_container / "cgroup").write_text("0::/init.scope\n")

    assert detect_container() == {
        "in_container": False, "kind": None, "image": None, "digest": None,
        "image_id": None, "id": None, "name": None,
    }  # fmt: skip


def test_podman_containerenv_names_image_image_id_and_container(
    no_container: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = no_container / "containerenv"
    path.write_text(
        'engine="podman-4.9.3"\nname="train-7"\nid="' + "c0" * 32 + '"\n'
        'image="quay.io/lab/train:2.1"\nimageid="' + "9a" * 32 + '"\nrootless=1\n'
    )
    monkeypatch.setattr(environment, "CONTAINERENV_PATH", path)

    assert detect_container() == {
        "in_container": True, "kind": "podman", "image": "quay.io/lab/train:2.1",
        "digest": None, "image_id": "sha256:" + "9a" * 32, "id": "c0" * 32,
        "name": "train-7",
    }  # fmt: skip


def test_empty_containerenv_of_an_unprivileged_podman_still_tells_podman(
    no_container: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = no_container / "containerenv"
    path.write_text("")
    monkeypatch.setattr(environment, "CONTAINERENV_PATH", path)

    found = detect_container()

    assert (found["kind"], found["image"], found["id"]) == ("podman", None, None)


def test_image_variables_give_name_and_digest(
    no_container: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IMAGE_NAME", "ghcr.io/lab/train:1.2")
    monkeypatch.setenv("IMAGE_DIGEST", "sha256:" + "e1" * 32)

    found = detect_container()

    assert (found["image"], found["digest"]) == (
        "ghcr.io/lab/train:1.2",
        "sha256:" + "e1" * 32,
    )


def test_an_image_named_by_digest_gives_its_digest(
    no_container: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONTAINER_IMAGE", "ghcr.io/lab/train@sha256:" + "77" * 32)

    assert detect_container()["digest"] == "sha256:" + "77" * 32


def test_docker_container_id_is_read_from_its_mounts(
    no_container: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (no_container / "dockerenv").write_text("")
    mountinfo = no_container / "mountinfo"
    mountinfo.write_text(
        "1203 1180 0:52 / / rw,relatime - overlay overlay rw\n"
        f"1215 1203 254:1 /var/lib/docker/containers/{DOCKER_ID}/hostname "
        "/etc/hostname rw,relatime - ext4 /dev/vda1 rw\n"
    )
    monkeypatch.setattr(environment, "DOCKERENV_PATH", no_container / "dockerenv")
    monkeypatch.setattr(environment, "MOUNTINFO_PATH", mountinfo)

    found = detect_container()

    assert (found["in_container"], found["kind"], found["id"]) == (
        True,
        "docker",
        DOCKER_ID,
    )


def test_kubernetes_pod_is_named_with_its_namespace(
    no_container: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (no_container / "k8s_namespace").write_text("vision\n")
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")
    monkeypatch.setenv("HOSTNAME", "train-5c9f-x2x7")

    found = detect_container()

    assert (found["kind"], found["name"]) == ("kubernetes", "vision/train-5c9f-x2x7")
