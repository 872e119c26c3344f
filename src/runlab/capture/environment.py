"""Record the software and hardware a run runs on.

:func:`capture_environment` writes two files into the run's ``env/`` folder:

- ``environment.json``: the facts it returns, with the keys ``python``,
  ``packages``, ``platform``, ``host``, ``cpu``, ``memory_total_bytes``,
  ``gpus``, ``cuda``, ``cuda_visible_devices``, ``container`` and ``conda``;
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
bindings are not installed. It never imports torch: torch's CUDA version is read
only from a torch the process has already imported.
"""

from __future__ import annotations

import importlib.metadata
import json
import logging
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from runlab import _json
from runlab._atomic import write_text_atomic
from runlab.capture.git import strip_credentials

__all__ = [
    "capture_environment",
    "detect_container",
    "format_requirements",
    "list_packages",
    "package_differences",
    "read_cuda",
    "read_environment",
]

logger = logging.getLogger(__name__)

ENVIRONMENT_FILE = "environment.json"
REQUIREMENTS_FILE = "requirements.txt"

_MIB = 1024 * 1024
# podman and systemd-nspawn name their container in a lower-case variable.
_CONTAINER_VAR = "container"
_NVIDIA_SMI_QUERY = "index,name,memory.total,driver_version"
# nvidia-smi prints the highest CUDA version its driver supports only in its banner.
_SMI_CUDA = re.compile(r"CUDA Version:\s*([0-9][0-9.]*)")

# Where containers leave their traces; module constants so that tests can point
# them at files of their own.
CONTAINERENV_PATH = Path("/run/.containerenv")
DOCKERENV_PATH = Path("/.dockerenv")
CGROUP_PATH = Path("/proc/1/cgroup")
MOUNTINFO_PATH = Path("/proc/self/mountinfo")
K8S_NAMESPACE_PATH = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
# Variables that launchers, CI systems and image builds commonly set.
_IMAGE_VARS = ("CONTAINER_IMAGE", "IMAGE_NAME", "DOCKER_IMAGE")
_DIGEST_VARS = ("CONTAINER_IMAGE_DIGEST", "IMAGE_DIGEST")
_DOCKER_ID = re.compile(r"/docker/containers/([0-9a-f]{64})/|docker[-/]([0-9a-f]{64})")


# Keys every package entry has, even when None.
_KEPT = frozenset({"name", "version", "editable", "source"})
_REMOTE_KEYS = r"^remote\..*\.url$"

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
    gpus = list_gpus()
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
        "gpus": gpus,
        "cuda": read_cuda(gpus),
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
    or local path it was installed from, when recorded in ``direct_url.json``).
    An editable install from a git work tree adds ``commit``, ``remote`` (the
    URL of its ``origin``, else of its first remote, without credentials) and
    ``subdirectory`` (its folder inside the work tree) where known. A VCS install
    adds ``vcs`` (``git``, ``hg``, ...), ``commit`` and ``subdirectory`` where
    recorded. Keys that would be empty are left out. When a name is installed
    twice on ``sys.path``, the one imported wins.
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
    if vcs_info:
        entry["vcs"] = str(vcs_info.get("vcs") or "git")
        commit = vcs_info.get("commit_id")
        entry["commit"] = str(commit) if commit else None
        entry["subdirectory"] = direct.get("subdirectory")
    elif entry["editable"] and entry["source"]:
        entry.update(_read_checkout(entry["source"]))
    return {
        key: value for key, value in entry.items() if value is not None or key in _KEPT
    }


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


def _read_checkout(source: str) -> dict[str, str]:
    """Return commit, remote and subdirectory of the git work tree at ``source``.

    Empty when ``source`` is no folder, git is missing, or the tree has no commit.
    """
    if not os.path.isdir(source) or shutil.which("git") is None:
        return {}
    commit = _git_output(source, "rev-parse", "-q", "--verify", "HEAD")
    if not commit:
        return {}
    found = {"commit": commit}
    remote = _pick_remote(_git_output(source, "config", "--get-regexp", _REMOTE_KEYS))
    if remote:
        found["remote"] = strip_credentials(remote)
    prefix = _git_output(source, "rev-parse", "--show-prefix")
    if prefix:
        found["subdirectory"] = prefix.rstrip("/")
    return found


def _pick_remote(config: str | None) -> str | None:
    """Return origin's URL from ``git config`` lines, else the first remote's."""
    urls = dict(
        line.split(" ", 1) for line in (config or "").splitlines() if " " in line
    )
    return urls.get("remote.origin.url") or next(iter(urls.values()), None)


def _git_output(folder: str, *args: str) -> str | None:
    """Return what git printed in ``folder``, stripped, or None when it failed."""
    try:
        proc = subprocess.run(
            ["git", "-C", folder, *args],
            capture_output=True,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "LC_ALL": "C", "GIT_OPTIONAL_LOCKS": "0"},
            timeout=2.0,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    text = proc.stdout.decode("utf-8", "replace").strip()
    return text if proc.returncode == 0 else None


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


def read_cuda(gpus: list[dict[str, Any]]) -> dict[str, str | None]:
    """Return the NVIDIA driver and CUDA versions as far as they can be known.

    ``driver`` comes from the GPUs listed; ``driver_cuda`` is the highest CUDA
    version that driver supports (from NVML, else the banner of ``nvidia-smi``),
    read only when a GPU was listed; ``torch_cuda`` is the CUDA version torch was
    built with, read only when torch is already imported, since importing it
    takes seconds and may start CUDA.
    """
    torch = sys.modules.get("torch")
    torch_cuda = getattr(getattr(torch, "version", None), "cuda", None)
    return {
        "driver": next((g.get("driver") for g in gpus if g.get("driver")), None),
        "driver_cuda": _read_driver_cuda() if gpus else None,
        "torch_cuda": str(torch_cuda) if torch_cuda else None,
    }


def _read_driver_cuda() -> str | None:
    try:
        import pynvml
    except ImportError:
        return _read_smi_cuda()
    try:
        pynvml.nvmlInit()
        try:
            version = int(pynvml.nvmlSystemGetCudaDriverVersion())
        finally:
            pynvml.nvmlShutdown()
    except Exception as exc:  # NVML raises its own error types
        logger.debug("NVML could not tell the CUDA version: %s.", exc)
        return _read_smi_cuda()
    # NVML encodes 12.4 as 12040.
    return f"{version // 1000}.{version % 1000 // 10}"


def _read_smi_cuda() -> str | None:
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return None
    try:
        proc = subprocess.run([exe], capture_output=True, text=True, timeout=5.0)
    except (OSError, subprocess.SubprocessError) as exc:
        logger.debug("nvidia-smi could not run: %s.", exc)
        return None
    found = _SMI_CUDA.search(proc.stdout)
    return found.group(1) if found else None


def detect_container() -> dict[str, Any]:
    """Return whether this process runs in a container, of which kind, from which image.

    Kubernetes is told by its service variables, podman by ``/run/.containerenv``,
    docker by ``/.dockerenv`` or the cgroup of process 1. The result has
    ``in_container``, ``kind`` and, each None where the container does not
    expose it:

    - ``image``: the image name, from ``CONTAINER_IMAGE``, ``IMAGE_NAME`` or
      ``DOCKER_IMAGE``, else podman's ``image=``;
    - ``digest``: the image's registry digest (``sha256:...``), from
      ``CONTAINER_IMAGE_DIGEST`` or ``IMAGE_DIGEST``, or from an image named
      by digest (``name@sha256:...``);
    - ``image_id``: the local image id, from podman's ``imageid=``;
    - ``id`` and ``name``: the container's, from podman, the mounts docker makes,
      or Kubernetes' pod name and namespace.
    """
    kind = _container_kind()
    podman = _read_containerenv()
    image = _first_variable(_IMAGE_VARS) or podman.get("image")
    digest = _first_variable(_DIGEST_VARS)
    if digest is None and image and "@sha256:" in image:
        digest = image.split("@", 1)[1]
    found: dict[str, Any] = {
        "in_container": kind is not None or bool(os.environ.get(_CONTAINER_VAR)),
        "kind": kind,
        "image": image,
        "digest": digest,
        "image_id": _as_digest(podman.get("imageid")),
        "id": podman.get("id") or (_read_docker_id() if kind == "docker" else None),
        "name": podman.get("name"),
    }
    if kind == "kubernetes":
        found["name"] = _read_pod_name()
    return found


def _container_kind() -> str | None:
    if os.environ.get("KUBERNETES_SERVICE_HOST"):
        return "kubernetes"
    if CONTAINERENV_PATH.exists() or os.environ.get(_CONTAINER_VAR) == "podman":
        return "podman"
    if DOCKERENV_PATH.exists():
        return "docker"
    cgroup = _read_text(CGROUP_PATH) or ""
    if "kubepods" in cgroup:
        return "kubernetes"
    return "docker" if "docker" in cgroup or "containerd" in cgroup else None


def _read_containerenv() -> dict[str, str]:
    """Return the ``key="value"`` lines podman writes into ``/run/.containerenv``."""
    facts: dict[str, str] = {}
    for line in (_read_text(CONTAINERENV_PATH) or "").splitlines():
        key, sep, value = line.partition("=")
        if sep and value.strip().strip('"'):
            facts[key.strip()] = value.strip().strip('"')
    return facts


def _read_docker_id() -> str | None:
    # Docker bind-mounts /etc/hostname and friends from the container's own folder.
    for path in (MOUNTINFO_PATH, CGROUP_PATH):
        found = _DOCKER_ID.search(_read_text(path) or "")
        if found:
            return found.group(1) or found.group(2)
    return None


def _read_pod_name() -> str | None:
    pod = os.environ.get("HOSTNAME") or socket.gethostname()
    namespace = (_read_text(K8S_NAMESPACE_PATH) or "").strip()
    return f"{namespace}/{pod}" if namespace and pod else pod or None


def _first_variable(names: tuple[str, ...]) -> str | None:
    return next((os.environ[n] for n in names if os.environ.get(n)), None)


def _as_digest(image_id: str | None) -> str | None:
    if image_id and re.fullmatch(r"[0-9a-f]{64}", image_id):
        return f"sha256:{image_id}"
    return image_id


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
