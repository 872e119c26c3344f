"""What a run records of its world: code, environment, system use, output.

- :func:`capture_git` / :func:`read_git`: commit, branch, remote and
  uncommitted changes, into the run's ``code/`` folder;
- :func:`capture_environment` / :func:`read_environment`: Python, packages,
  platform, CPU, GPUs and container facts, into the run's ``env/`` folder;
- :class:`SystemSampler` / :func:`sample_system`: CPU, memory and GPU use
  while the run is live;
- :class:`OutputTee` / :class:`StreamPump`: copies of what the run prints, in
  its log file.

Each capture writes its files into a folder it is given and returns plain,
JSON-ready facts. None raises for a problem of the environment (no git, no GPU,
no psutil): it records what was unavailable and why. This package knows nothing
of the store. Its modules are imported on first use, so ``import
runlab.capture`` costs nothing until a capture runs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runlab.capture.environment import capture_environment, read_environment
    from runlab.capture.git import capture_git, read_git
    from runlab.capture.output import OutputTee, StreamPump
    from runlab.capture.system import SystemSampler, sample_system

__all__ = [
    "OutputTee",
    "StreamPump",
    "SystemSampler",
    "capture_environment",
    "capture_git",
    "read_environment",
    "read_git",
    "sample_system",
]

_MODULES = {
    "capture_git": "git",
    "read_git": "git",
    "capture_environment": "environment",
    "read_environment": "environment",
    "SystemSampler": "system",
    "sample_system": "system",
    "OutputTee": "output",
    "StreamPump": "output",
}


def __getattr__(name: str) -> Any:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
