"""Turn a recorded environment into files that rebuild it elsewhere.

Three formats, each from the ``environment.json`` that
:func:`~runlab.capture.environment.capture_environment` wrote:

- ``requirements``: a pip requirements file, one ``name==version`` pin per
  package. An editable or VCS install becomes ``name @ git+<remote>@<commit>``
  when it can be fetched from a remote; otherwise it is a ``# left out ...``
  comment that says what it was and where it came from, so the file still
  installs. pip itself is left out (every environment brings its own).
- ``conda``: an ``environment.yml`` named ``runlab-<run id>`` with the run's
  Python and the requirements as its ``pip:`` section; where the run recorded a
  conda export, that export is the base and only its pip section is rewritten.
- ``dockerfile``: ``FROM python:<version>-slim``, the requirements installed
  from a ``requirements.txt`` beside it, and the run's command as ``CMD``.

Limits: a package that no index serves (a private wheel, a distribution's own
build) is pinned all the same and fails to install elsewhere; an editable
checkout with uncommitted changes is pinned to its commit, without them.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from runlab._atomic import write_text_atomic
from runlab.capture.environment import CONDA_FILE, read_environment
from runlab.errors import RunlabError

__all__ = [
    "FORMATS",
    "format_conda_file",
    "format_dockerfile",
    "format_envfile",
    "format_requirement",
    "format_requirements_file",
    "write_envfile",
]

logger = logging.getLogger(__name__)

FORMATS = ("requirements", "conda", "dockerfile")
REQUIREMENTS_NAME = "requirements.txt"
# The config `runlab run -c` gave a run, written beside its Dockerfile.
CONFIG_NAME = "run-config.yaml"

# Installers a fresh environment brings along, whichever version it is.
_SKIPPED = frozenset({"pip"})
# PyTorch publishes its CPU, CUDA and ROCm builds (torch 2.3.0+cu121) on its own
# index only, so pins with such a label need that index to install.
_TORCH_NAMES = frozenset({"torch", "torchvision", "torchaudio"})
_TORCH_LABEL = re.compile(r"\+(cpu|cu\d+|rocm[\d.]+)$")
_TORCH_INDEX = "https://download.pytorch.org/whl/"
_FETCHABLE_SCHEMES = frozenset({"http", "https", "ssh", "git", "git+ssh"})
# user@host:path, git's short form of an ssh URL.
_SCP_LIKE = re.compile(r"^(?P<user>[\w.-]+@)?(?P<host>[\w.-]+):(?P<path>[^/].*)$")
_PLAIN_YAML = re.compile(r"^[A-Za-z0-9_][^#:'\"{}\[\],&*!|>%@`]*$")
_YAML_WORDS = frozenset({"null", "true", "false", "yes", "no", "on", "off", "y", "n"})
_YAML_NUMBER = re.compile(r"^[-+]?(\d[\d_]*)?\.?\d*([eE][-+]?\d+)?$")
_PYTHON_EXE = re.compile(r"python(\d+(\.\d+)*)?$")


def format_envfile(
    fmt: str,
    run_id: str,
    env_dir: str | os.PathLike[str],
    *,
    command: Sequence[str] | None = None,
    cwd: str | None = None,
    config: str | None = None,
) -> str:
    """Return the text of a ``fmt`` file that rebuilds run ``run_id``'s environment.

    Args:
        fmt: one of :data:`FORMATS`.
        run_id: the run's id, named in the file.
        env_dir: the run's ``env/`` folder.
        command: the run's command line, the Dockerfile's ``CMD``.
        cwd: the folder the run started in, named in the Dockerfile.
        config: the run's config (YAML text) when ``runlab run`` gave it to
            the command: the Dockerfile then runs the command through
            ``runlab run -c`` with that config (written beside it).

    Raises:
        RunlabError: ``fmt`` is unknown, or the run recorded no environment.
    """
    if fmt not in FORMATS:
        known = ", ".join(FORMATS)
        raise RunlabError(
            f"Unknown environment file format {fmt!r}; use one of {known}."
        )
    environment = _load_environment(run_id, Path(env_dir))
    if fmt == "requirements":
        return format_requirements_file(run_id, environment)
    if fmt == "conda":
        export = _read_conda_export(Path(env_dir), environment)
        return format_conda_file(run_id, environment, export)
    return format_dockerfile(
        run_id, environment, command=command, cwd=cwd, with_config=config is not None
    )


def write_envfile(
    fmt: str,
    run_id: str,
    env_dir: str | os.PathLike[str],
    path: str | os.PathLike[str],
    *,
    command: Sequence[str] | None = None,
    cwd: str | None = None,
    config: str | None = None,
) -> list[Path]:
    """Write a ``fmt`` file to ``path`` (atomically); return the paths written.

    A Dockerfile gets its ``requirements.txt`` written beside it, second in the
    list, and ``config`` (see :func:`format_envfile`) as ``run-config.yaml``
    third, replacing files that are there. Missing folders are created.

    Raises:
        RunlabError: as :func:`format_envfile`, or ``path`` cannot be written.
    """
    target = Path(path)
    text = format_envfile(fmt, run_id, env_dir, command=command, cwd=cwd, config=config)
    files = {target: text}
    if fmt == "dockerfile":
        beside = target.parent / REQUIREMENTS_NAME
        extras = {beside: format_envfile("requirements", run_id, env_dir)}
        if config is not None:
            extras[target.parent / CONFIG_NAME] = config
        if target in extras:
            raise RunlabError(
                f"Cannot write the Dockerfile to {target}: its {target.name} "
                f"goes there. Name it {target.parent / 'Dockerfile'} instead."
            )
        files.update(extras)
    for file, text in files.items():
        _write_file(file, text)
    return list(files)


def format_requirement(package: dict[str, Any]) -> str:
    """Return one requirements line for a package entry of ``environment.json``.

    A pin, a ``name @ <vcs>+<url>@<commit>`` reference, or a comment that starts
    with ``# left out`` where the package cannot be fetched from elsewhere.
    """
    name, version = package["name"], package["version"]
    commit = package.get("commit")
    if package.get("editable"):
        url = _fetchable_url(package.get("remote"))
        if commit and url:
            return _vcs_requirement(name, "git", url, commit, package)
        return f"# left out {name}=={version}: {_editable_origin(package)}"
    if commit and package.get("source"):
        vcs = str(package.get("vcs") or "git")
        url = _fetchable_url(package["source"])
        if url:
            return _vcs_requirement(name, vcs, url, commit, package)
        where = f"{package['source']} at commit {commit}"
        return f"# left out {name}=={version}: {vcs} install from {where}, a local path"
    return f"{name}=={version}"


def format_requirements_file(run_id: str, environment: dict[str, Any]) -> str:
    """Return a pip requirements file for the packages of ``environment``."""
    lines = [
        f"# Requirements of run {run_id}: {_describe_python(environment)}.",
        f"# Install them with: python -m pip install -r {REQUIREMENTS_NAME}",
        *_requirement_lines(environment),
    ]
    return "".join(line + "\n" for line in lines)


def format_conda_file(
    run_id: str, environment: dict[str, Any], export: str | None = None
) -> str:
    """Return a conda ``environment.yml`` for ``environment``.

    Args:
        run_id: the run's id; the environment is named ``runlab-<run id>``.
        environment: the facts of ``environment.json``.
        export: the text of the run's ``conda env export``, the base when given
            and readable as YAML.
    """
    base = _parse_conda_export(export) if export else None
    if export and base is None:
        logger.warning(
            "The conda export of run %s is unreadable; not using it.", run_id
        )
    lines = [f"# Conda environment of run {run_id}: {_describe_python(environment)}."]
    if base is not None:
        lines.append("# Based on the conda export recorded with the run; its pip")
        lines.append(
            "# installs from folders and git are rewritten to install elsewhere."
        )
    lines.append("# Create it with: conda env create -f environment.yml")
    lines.append(f"name: runlab-{run_id}")
    lines += _conda_body(environment, base)
    return "".join(line + "\n" for line in lines)


def format_dockerfile(
    run_id: str,
    environment: dict[str, Any],
    *,
    command: Sequence[str] | None = None,
    cwd: str | None = None,
    with_config: bool = False,
) -> str:
    """Return a Dockerfile on the run's Python that installs its requirements.

    It copies ``requirements.txt`` from its own folder, then that folder, where
    the run's code is to be placed, into ``/app``, and runs the run's command;
    ``with_config``, through ``runlab run -c run-config.yaml``.

    Raises:
        RunlabError: the environment records no Python version.
    """
    version = _python_version(run_id, environment)
    tag = f"runlab-{run_id}"
    lines = [
        f"# Rebuilds the environment of run {run_id}: {_describe_python(environment)}.",
        f"# It installs the {REQUIREMENTS_NAME} beside it; write both with",
        f"#   runlab env {run_id} --format dockerfile -o <folder>/Dockerfile",
        "# then, in that folder:",
        f"#   docker build -t {tag} . && docker run --rm {tag}",
        *_notes_on_hardware(environment, version),
        f"FROM python:{version}-slim",
        "WORKDIR /app",
        f"COPY {REQUIREMENTS_NAME} .",
        f"RUN pip install --no-cache-dir -r {REQUIREMENTS_NAME}",
        *_notes_on_left_out(environment),
        *_code_lines(environment, command, cwd, with_config),
    ]
    return "".join(line + "\n" for line in lines)


def _requirement_lines(environment: dict[str, Any]) -> list[str]:
    packages = [
        p
        for p in environment.get("packages") or []
        if p["name"].lower() not in _SKIPPED
    ]
    indexes = sorted(
        {f"--extra-index-url {url}" for p in packages if (url := _torch_index(p))}
    )
    return indexes + [format_requirement(p) for p in packages]


def _torch_index(package: dict[str, Any]) -> str | None:
    if package["name"].lower() not in _TORCH_NAMES or package.get("source"):
        return None
    label = _TORCH_LABEL.search(str(package["version"]))
    return _TORCH_INDEX + label.group(1) if label else None


def _vcs_requirement(
    name: str, vcs: str, url: str, commit: str, package: dict[str, Any]
) -> str:
    prefix = "" if url.startswith(f"{vcs}+") else f"{vcs}+"
    subdirectory = package.get("subdirectory")
    fragment = f"#subdirectory={subdirectory}" if subdirectory else ""
    return f"{name} @ {prefix}{url}@{commit}{fragment}"


def _fetchable_url(location: str | None) -> str | None:
    """Return ``location`` as a URL another machine can fetch, or None for a path."""
    if not location:
        return None
    scp = _SCP_LIKE.match(location)
    if scp and "://" not in location:
        return f"ssh://{scp['user'] or ''}{scp['host']}/{scp['path']}"
    scheme = urlsplit(location).scheme.lower()
    base = scheme.split("+", 1)[1] if scheme.startswith("git+") else scheme
    return location if base in _FETCHABLE_SCHEMES else None


def _editable_origin(package: dict[str, Any]) -> str:
    source = package.get("source") or "an unrecorded folder"
    commit, remote = package.get("commit"), package.get("remote")
    if not commit:
        return f"editable install from {source}, not a git checkout with a commit"
    if remote:
        return (
            f"editable install from {source} at commit {commit}, "
            f"whose remote {remote} is a local path"
        )
    return f"editable install from {source} at commit {commit}, with no git remote"


def _describe_python(environment: dict[str, Any]) -> str:
    python = environment.get("python") or {}
    system = environment.get("platform") or {}
    version = python.get("version") or "unknown"
    implementation = python.get("implementation") or "Python"
    where = " ".join(str(system[k]) for k in ("system", "machine") if system.get(k))
    return f"{implementation} {version}" + (f" on {where}" if where else "")


def _python_version(run_id: str, environment: dict[str, Any]) -> str:
    version = str((environment.get("python") or {}).get("version") or "")
    if not re.fullmatch(r"\d+\.\d+\.\d+\w*", version):
        raise RunlabError(
            f"Run {run_id} recorded no Python version (found {version or 'none'}), "
            "so no base image can be chosen; use --format requirements instead."
        )
    return version


def _conda_body(environment: dict[str, Any], base: dict[str, Any] | None) -> list[str]:
    if base is None:
        version = (environment.get("python") or {}).get("version")
        channels = ["conda-forge"]
        conda = [f"python={version}" if version else "python", "pip"]
        pip = _requirement_lines(environment)
    else:
        channels = [str(c) for c in base.get("channels") or []] or ["conda-forge"]
        conda = [str(d) for d in base["dependencies"] if not isinstance(d, dict)]
        pip = _rewrite_pip(base["pip"], environment)
    lines = ["channels:", *(f"  - {_yaml_text(c)}" for c in channels)]
    lines += ["dependencies:", *(f"  - {_yaml_text(d)}" for d in conda)]
    if pip:
        lines.append("  - pip:")
        lines += [
            f"      {p}" if p.startswith("#") else f"      - {_yaml_text(p)}"
            for p in pip
        ]
    return lines


def _parse_conda_export(text: str) -> dict[str, Any] | None:
    """Return an export's channels, conda dependencies and pip list, or None."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        data = YAML(typ="safe", pure=True).load(text)
    except YAMLError as err:
        logger.debug("Conda export is not YAML: %s.", err)
        return None
    if not isinstance(data, dict) or not isinstance(data.get("dependencies"), list):
        return None
    dependencies: list[Any] = data["dependencies"]
    pips = [d["pip"] for d in dependencies if isinstance(d, dict) and "pip" in d]
    pip: list[Any] = pips[0] if pips and isinstance(pips[0], list) else []
    return {"channels": data.get("channels"), "dependencies": dependencies, "pip": pip}


def _rewrite_pip(entries: list[Any], environment: dict[str, Any]) -> list[str]:
    """Swap the export's pip lines of editable and git installs for fetchable ones."""
    recorded = {_normalise(p["name"]): p for p in environment.get("packages") or []}
    lines = []
    for entry in map(str, entries):
        found = re.match(r"(?:-e\s+)?([A-Za-z0-9][A-Za-z0-9._-]*)", entry)
        package = recorded.get(_normalise(found.group(1))) if found else None
        if package and (package.get("editable") or package.get("commit")):
            lines.append(format_requirement(package))
        elif entry.startswith("-e ") or "file:" in entry:
            lines.append(f"# left out {entry}: a local path")
        else:
            lines.append(entry)
    return lines


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _yaml_text(text: str) -> str:
    # Plain when YAML 1.1 and 1.2 read it back as the same string, else quoted.
    plain = _PLAIN_YAML.match(text) and text.lower() not in _YAML_WORDS
    return text if plain and not _YAML_NUMBER.match(text) else json.dumps(text)


def _notes_on_hardware(environment: dict[str, Any], version: str) -> list[str]:
    notes = []
    implementation = (environment.get("python") or {}).get("implementation")
    if implementation and implementation != "CPython":
        notes.append(f"# The run used {implementation}; this image has CPython.")
    container = environment.get("container") or {}
    if container.get("image"):
        digest = f" ({container['digest']})" if container.get("digest") else ""
        notes.append(f"# The run itself ran in the image {container['image']}{digest}.")
    gpus = environment.get("gpus") or []
    cuda = environment.get("cuda") or {}
    cuda_version = cuda.get("torch_cuda") or cuda.get("driver_cuda")
    if gpus and cuda_version:
        names = ", ".join(sorted({str(g.get("name")) for g in gpus}))
        count = f"{len(gpus)} GPU" + ("s" if len(gpus) > 1 else "")
        driver = f", driver {cuda['driver']}" if cuda.get("driver") else ""
        notes += [
            f"# The run had {count} ({names}){driver}, CUDA {cuda_version}.",
            f"# For the GPU, build FROM an nvidia/cuda:{cuda_version}.x runtime image",
            f"# with Python {version} instead, and start it with docker run --gpus all.",
        ]
    return notes


def _notes_on_left_out(environment: dict[str, Any]) -> list[str]:
    packages = environment.get("packages") or []
    left_out = [
        p["name"] for p in packages if format_requirement(p).startswith("# left out")
    ]
    if not left_out:
        return []
    return [
        f"# Not in {REQUIREMENTS_NAME}, being installed from local folders: "
        f"{', '.join(left_out)}.",
        "# Copy their source here and pip install it if the command needs them.",
    ]


# Folders an image has too: paths there need no copying.
_SYSTEM_DIRS = ("/usr/", "/bin/", "/sbin/", "/dev/", "/proc/", "/etc/")


def _code_lines(
    environment: dict[str, Any],
    command: Sequence[str] | None,
    cwd: str | None,
    with_config: bool,
) -> list[str]:
    where = f" in {cwd}" if cwd else ""
    lines = [
        f"# The run started{where}: put the files its command needs in this folder.",
        "COPY . .",
    ]
    if not command:
        return [*lines, "# The run recorded no command: add a CMD."]
    program, outside = _paths_into_app(_portable_command(environment, command), cwd)
    if outside:
        lines += [
            f"# The command names {', '.join(outside)}, outside the folder the run",
            "# started in: copy those files into this folder and change the CMD.",
        ]
    if with_config:
        lines += [
            f"# runlab run gave the command the run's config, {CONFIG_NAME} (written",
            "# beside this file by -o); runlab must be installed for it.",
        ]
        program = ["runlab", "run", "-c", CONFIG_NAME, "--", *program]
    return [*lines, f"CMD {json.dumps(program)}"]


def _paths_into_app(command: list[str], cwd: str | None) -> tuple[list[str], list[str]]:
    """Make absolute paths under ``cwd`` relative: the image's ``/app`` is that
    folder. Returns the command and the paths of the run's machine left as they
    were (system folders aside)."""
    base = cwd.rstrip("/") + "/" if cwd and os.path.isabs(cwd) else None
    moved, outside = [], []
    for word in command:
        # A path may stand alone or follow an option's "=": --data=/x/y.
        option, eq, value = word.rpartition("=") if "=" in word else ("", "", word)
        if base and (value + "/").startswith(base):
            value = os.path.relpath(value, cwd)
        elif value.startswith("/") and not value.startswith(_SYSTEM_DIRS):
            outside.append(value)
        moved.append(f"{option}{eq}{value}")
    return moved, outside


def _portable_command(environment: dict[str, Any], command: Sequence[str]) -> list[str]:
    """Return ``command`` with the run's own interpreter and scripts named plainly."""
    executable = str((environment.get("python") or {}).get("executable") or "")
    program = str(command[0])
    name = os.path.basename(program)
    if _PYTHON_EXE.fullmatch(name) or program == executable:
        program = "python"
    elif executable and os.path.dirname(program) == os.path.dirname(executable):
        program = name
    return [program, *map(str, command[1:])]


def _load_environment(run_id: str, env_dir: Path) -> dict[str, Any]:
    environment = read_environment(env_dir)
    if environment is None:
        raise RunlabError(
            f"Run {run_id} has no recorded environment ({env_dir / 'environment.json'} "
            "is missing or unreadable); it may still be starting, or its capture "
            "failed: see its log.txt."
        )
    return environment


def _read_conda_export(env_dir: Path, environment: dict[str, Any]) -> str | None:
    recorded = (environment.get("conda") or {}).get("file")
    for name in (recorded, CONDA_FILE, "conda.yml"):
        if name and (env_dir / name).is_file():
            return (env_dir / name).read_text(encoding="utf-8", errors="replace")
    return None


def _write_file(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(path, text)
    except OSError as err:
        raise RunlabError(
            f"Cannot write {path}: {err.strerror or err}; choose another path with -o."
        ) from err
