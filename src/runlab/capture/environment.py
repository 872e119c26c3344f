"""Record the software and hardware a run runs on.

:func:`capture_environment` writes two files into the run's ``env/`` folder:

- ``environment.json``: the facts it returns, with the keys ``python``,
  ``packages``, ``platform``, ``host``, ``cpu``, ``memory_total_bytes``,
  ``gpus``, ``cuda_visible_devices`` and ``container``;
- ``requirements.txt``: one ``name==version`` line per installed distribution,
  sorted by name. An editable install is written as a comment line with its
  version followed by ``-e <source>`` where its source is known.

Packages are read from the installed distributions' metadata, never from
``pip freeze``, so every entry has a version even when it was installed from a
local folder or by conda (``pip freeze`` prints ``name @ file:///...`` there).
Distributions whose metadata lacks a name or a version are left out.

The capture never raises for a problem of the environment: a fact that cannot be
read is recorded as None (or an empty list) and logged at DEBUG. It takes a few
tens of milliseconds, plus up to a second for ``nvidia-smi`` when NVML's Python
bindings are not installed.
"""

from __future__ import annotations

import importlib.metadata
import json
import logging
import os
import platform
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from runlab import _json
from runlab._atomic import write_text_atomic

__all__ = [
    "capture_environment",
    "format_requirements",
    "list_packages",
    "package_differences",
    "read_environment",
]

logger = logging.getLogger(__name__)

ENVIRONMENT_FILE = "environment.json"
REQUIREMENTS_FILE = "requirements.txt"

_MIB = 1024 * 1024
# podman and systemd-nspawn name their container in a lower-case variable.
_CONTAINER_VAR = "container"
_NVIDIA_SMI_QUERY = "index,name,memory.total,driver_version"


CONDA_FILE = "conda.yaml"
CONDA_TIMEOUT_S = 30.0


def read_conda(env_dir: Path) -> dict[str, Any]:
    """Export the conda environment into ``env_dir/conda.yaml`` where conda exists.

    Returns ``available`` and, when it is False, the ``reason`` (conda missing,
    or the first line conda printed when it failed); never raises for conda.
    """
    prefix = os.environ.get("CONDA_PREFIX")
    conda = os.environ.get("CONDA_EXE") or shutil.which("conda")
    if not conda:
        return {
            "available": False,
            "reason": "conda not found on PATH",
            "prefix": prefix,
        }
    command = [
        conda,
        "env",
        "export",
        "--no-builds",
        *(["-p", prefix] if prefix else []),
    ]
    try:
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=CONDA_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        return {
            "available": False,
            "reason": f"conda did not answer: {err}",
            "prefix": prefix,
        }
    if done.returncode != 0:
        said = done.stderr.strip() or done.stdout.strip() or f"exit {done.returncode}"
        return {"available": False, "reason": said.splitlines()[0], "prefix": prefix}
    env_dir.mkdir(parents=True, exist_ok=True)
    (env_dir / CONDA_FILE).write_text(done.stdout, encoding="utf-8")
    return {"available": True, "reason": None, "prefix": prefix, "file": CONDA_FILE}


def capture_environment(env_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """Record Python, packages, platform, CPU, memory, GPUs and container facts.

    Args:
        env_dir: the folder to write ``environment.json`` and
            ``requirements.txt`` into; created if missing.

    Returns:
        The facts written to ``environment.json``.

    Raises:
        OSError: ``env_dir`` cannot be created or written.
    """
    packages = list_packages()
    info: dict[str, Any] = {
        "python": {
            "version": platform.python_version(),
            "implementation": platform.python_implementation(),
            "executable": sys.executable,
        },
        "packages": packages,
        "platform": _read_platform(),
        "host": socket.gethostname(),
        "cpu": {"count": os.cpu_count(), "model": _read_cpu_model()},
        "memory_total_bytes": _read_memory_total(),
        "gpus": list_gpus(),
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
        "container": detect_container(),
        "conda": read_conda(Path(env_dir)),
    }

    folder = Path(env_dir)
    folder.mkdir(parents=True, exist_ok=True)
    text = _json.dumps(info, indent=2) + "\n"
    # Atomically: a run killed meanwhile has no environment.json, not half of one.
    write_text_atomic(folder / ENVIRONMENT_FILE, text)
    (folder / REQUIREMENTS_FILE).write_text(
        format_requirements(packages), encoding="utf-8"
    )
    return info


def read_environment(env_dir: str | os.PathLike[str]) -> dict[str, Any] | None:
    """Return the facts :func:`capture_environment` wrote into ``env_dir``, or None.

    None also stands for an ``environment.json`` that cannot be read or parsed;
    a warning names the file.
    """
    path = Path(env_dir) / ENVIRONMENT_FILE
    try:
        value = _json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        logger.warning("Cannot read %s (%s); ignoring it.", path, exc)
        return None
    return value if isinstance(value, dict) else None


def list_packages() -> list[dict[str, Any]]:
    """Return the installed distributions, sorted by lower-cased name.

    Each entry has ``name``, ``version``, ``editable`` and ``source`` (the URL
    or local path it was installed from, when recorded in ``direct_url.json``);
    an editable install from a git work tree, or a VCS install, adds ``commit``.
    When a name is installed twice on ``sys.path``, the one imported wins.
    """
    seen: dict[str, dict[str, Any]] = {}
    for dist in importlib.metadata.distributions():
        name, version = dist.metadata["Name"], dist.version
        if not name or not version:
            logger.debug("Skipping a distribution without name or version at %s.", dist)
            continue
        key = _normalise(name)
        if key not in seen:
            seen[key] = _describe(dist, name, version)
    return sorted(seen.values(), key=lambda p: _normalise(p["name"]))


def format_requirements(packages: list[dict[str, Any]]) -> str:
    """Return ``requirements.txt`` text for entries shaped as :func:`list_packages`."""
    lines: list[str] = []
    for package in packages:
        pinned = f"{package['name']}=={package['version']}"
        if not (package["editable"] and package["source"]):
            lines.append(pinned)
            continue
        commit = package.get("commit")
        at = f" at commit {commit}" if commit else ""
        lines.append(f"# {pinned} installed editable{at}")
        lines.append(f"-e {package['source']}")
    return "".join(line + "\n" for line in lines)


def package_differences(
    before: list[dict[str, Any]], after: list[dict[str, Any]]
) -> dict[str, list[dict[str, Any]]]:
    """What changed from the packages ``before`` to ``after`` (both as listed).

    Returns ``added`` and ``removed`` (``name``, ``version``) and ``changed``
    (``name``, ``before``, ``after``: versions, with the commit of an editable
    or VCS install when it differs), each sorted by name.
    """
    old = {_normalise(p["name"]): p for p in before}
    new = {_normalise(p["name"]): p for p in after}
    added = [_brief(new[k]) for k in sorted(new.keys() - old.keys())]
    removed = [_brief(old[k]) for k in sorted(old.keys() - new.keys())]
    changed = []
    for key in sorted(old.keys() & new.keys()):
        was, now = _pin(old[key]), _pin(new[key])
        if was != now:
            changed.append({"name": new[key]["name"], "before": was, "after": now})
    return {"added": added, "removed": removed, "changed": changed}


def _brief(package: dict[str, Any]) -> dict[str, Any]:
    return {"name": package["name"], "version": _pin(package)}


def _pin(package: dict[str, Any]) -> str:
    commit = package.get("commit")
    return (
        f"{package['version']} ({commit[:12]})" if commit else str(package["version"])
    )


def _normalise(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def _describe(
    dist: importlib.metadata.Distribution, name: str, version: str
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": name,
        "version": version,
        "editable": False,
        "source": None,
    }
    direct = _read_direct_url(dist)
    if direct is None:
        return entry
    entry["source"] = _url_to_source(str(direct.get("url") or "")) or None
    dir_info = direct.get("dir_info") or {}
    entry["editable"] = bool(dir_info.get("editable"))
    vcs_info = direct.get("vcs_info") or {}
    commit = vcs_info.get("commit_id")
    if commit is None and entry["editable"] and entry["source"]:
        commit = _read_commit(entry["source"])
    if commit:
        entry["commit"] = str(commit)
    return entry


def _read_direct_url(dist: importlib.metadata.Distribution) -> dict[str, Any] | None:
    """Return the PEP 610 record of a distribution installed from a URL or folder."""
    try:
        text = dist.read_text("direct_url.json")
        value = json.loads(text) if text else None
    except (OSError, ValueError) as exc:
        logger.debug(
            "Unreadable direct_url.json for %s: %s.", dist.metadata["Name"], exc
        )
        return None
    return value if isinstance(value, dict) else None


def _url_to_source(url: str) -> str:
    """Return a local path for a ``file:`` URL and the URL itself otherwise."""
    parts = urlsplit(url)
    if parts.scheme != "file":
        return url
    return unquote(parts.path)


def _read_commit(source: str) -> str | None:
    """Return the commit checked out at an editable install's source folder."""
    if not os.path.isdir(source) or shutil.which("git") is None:
        return None
    try:
        proc = subprocess.run(
            ["git", "-C", source, "rev-parse", "-q", "--verify", "HEAD"],
            capture_output=True,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "LC_ALL": "C", "GIT_OPTIONAL_LOCKS": "0"},
            timeout=2.0,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = proc.stdout.decode("ascii", "replace").strip()
    return commit if proc.returncode == 0 and commit else None


def _read_platform() -> dict[str, str]:
    return {
        "system": platform.system(),
        "release": platform.release(),
        "machine": platform.machine(),
        "platform": platform.platform(),
    }


def _read_cpu_model() -> str | None:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() in ("model name", "Model", "cpu model"):
                    return value.strip() or None
    except OSError:
        pass
    return platform.processor() or None


def _read_memory_total() -> int | None:
    try:
        import psutil

        return int(psutil.virtual_memory().total)
    except Exception as exc:  # psutil missing or unsupported here: try /proc
        logger.debug("psutil could not read total memory: %s.", exc)
    try:
        with open("/proc/meminfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def list_gpus() -> list[dict[str, Any]]:
    """Return the NVIDIA GPUs seen through NVML, else ``nvidia-smi``, else none.

    Each entry has ``index``, ``name``, ``memory_total_bytes`` and ``driver``.
    The list covers every GPU on the machine, whatever CUDA_VISIBLE_DEVICES says.
    """
    gpus = _list_gpus_nvml()
    if gpus is None:
        gpus = _list_gpus_smi()
    return gpus or []


def _list_gpus_nvml() -> list[dict[str, Any]] | None:
    try:
        import pynvml
    except ImportError:
        return None
    try:
        pynvml.nvmlInit()
    except Exception as exc:  # NVML raises its own error types for no driver/GPU
        logger.debug("NVML is not usable: %s.", exc)
        return None
    try:
        driver = _text(pynvml.nvmlSystemGetDriverVersion())
        return [
            _describe_nvml_gpu(pynvml, i, driver)
            for i in range(pynvml.nvmlDeviceGetCount())
        ]
    except Exception as exc:
        logger.debug("NVML failed while listing GPUs: %s.", exc)
        return None
    finally:
        pynvml.nvmlShutdown()


def _describe_nvml_gpu(pynvml: Any, index: int, driver: str) -> dict[str, Any]:
    handle = pynvml.nvmlDeviceGetHandleByIndex(index)
    return {
        "index": index,
        "name": _text(pynvml.nvmlDeviceGetName(handle)),
        "memory_total_bytes": int(pynvml.nvmlDeviceGetMemoryInfo(handle).total),
        "driver": driver,
    }


def _text(value: str | bytes) -> str:
    # Older pynvml releases return bytes, newer ones str.
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def _list_gpus_smi() -> list[dict[str, Any]] | None:
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return None
    args = [exe, f"--query-gpu={_NVIDIA_SMI_QUERY}", "--format=csv,noheader,nounits"]
    try:
        proc = subprocess.run(args, capture_output=True, text=True, timeout=5.0)
    except (OSError, subprocess.SubprocessError) as exc:
        logger.debug("nvidia-smi could not run: %s.", exc)
        return None
    if proc.returncode != 0:
        logger.debug("nvidia-smi failed: %s", proc.stderr.strip())
        return None
    return [gpu for line in proc.stdout.splitlines() if (gpu := _parse_smi_line(line))]


def _parse_smi_line(line: str) -> dict[str, Any] | None:
    fields = [field.strip() for field in line.split(",")]
    if len(fields) != 4:
        return None
    index, name, memory_mib, driver = fields
    try:
        return {
            "index": int(index),
            "name": name,
            "memory_total_bytes": int(float(memory_mib) * _MIB),
            "driver": driver,
        }
    except ValueError:
        return None


def detect_container() -> dict[str, Any]:
    """Return whether this process runs in a container, of which kind, from which image.

    Kubernetes is told by its service variables, podman by ``/run/.containerenv``
    (which also names the image), docker by ``/.dockerenv`` or the cgroup of
    process 1. ``image`` comes from ``CONTAINER_IMAGE`` when set.
    """
    kind = _container_kind()
    image = os.environ.get("CONTAINER_IMAGE") or _read_podman_image()
    in_container = kind is not None or bool(os.environ.get(_CONTAINER_VAR))
    return {"in_container": in_container, "kind": kind, "image": image}


def _container_kind() -> str | None:
    if os.environ.get("KUBERNETES_SERVICE_HOST"):
        return "kubernetes"
    if (
        os.path.exists("/run/.containerenv")
        or os.environ.get(_CONTAINER_VAR) == "podman"
    ):
        return "podman"
    if os.path.exists("/.dockerenv"):
        return "docker"
    try:
        cgroup = Path("/proc/1/cgroup").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    if "kubepods" in cgroup:
        return "kubernetes"
    return "docker" if "docker" in cgroup or "containerd" in cgroup else None


def _read_podman_image() -> str | None:
    try:
        text = Path("/run/.containerenv").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "image":
            return value.strip().strip('"') or None
    return None
