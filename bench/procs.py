"""Fresh processes for the bench: their environment, their timing, what they leave.

Every phase runs in a new process. Each tool gets a sandbox (its own HOME,
TMPDIR and working folder) so that the footprint check can see what a tool
wrote outside its store, and a tag in its environment, so that helper
processes it leaves behind can be found afterwards.
"""

from __future__ import annotations

import json
import os
import platform
import re
import resource
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from registry import TOOLS_DIR, Tool

TAG_VAR = "RUNLAB_BENCH_TAG"
# Set for every child: peers offline and quiet, telemetry off; MLflow's store
# comes per run from the tool's store_env.
PEER_ENV = {
    "WANDB_MODE": "offline",
    "WANDB_SILENT": "true",
    "WANDB_ERROR_REPORTING": "false",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
}
# Dropped from the children's environment: the first recompiles every source
# at each start; the others would point runlab at another store or run.
DROPPED = (
    "PYTHONDONTWRITEBYTECODE",
    "RUNLAB_DIR",
    "RUNLAB_RUN_DIR",
    "MLFLOW_TRACKING_URI",
)


def base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in DROPPED}
    env.update(PEER_ENV)
    return env


@dataclass
class Sandbox:
    """One tool's HOME, TMPDIR and working folder, and its process tag."""

    root: Path
    tag: str
    stores: list[Path] = field(default_factory=list)

    def __post_init__(self) -> None:
        for part in ("home", "tmp", "cwd"):
            (self.root / part).mkdir(parents=True, exist_ok=True)

    @property
    def cwd(self) -> Path:
        return self.root / "cwd"

    def env(self, tool: Tool, store: Path) -> dict[str, str]:
        env = base_env()
        env.update(HOME=str(self.root / "home"), TMPDIR=str(self.root / "tmp"))
        env[TAG_VAR] = self.tag
        env.update(tool.store_env(store))
        return env

    def store(self, name: str) -> Path:
        path = self.root / "stores" / name
        self.stores.append(path)
        return path


@dataclass
class Outcome:
    """What one worker process gave back."""

    result: dict[str, Any]
    wall_s: float
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return not self.timed_out and "error" not in self.result


def run_worker(
    tool: Tool,
    phase: str,
    box: Sandbox,
    store: Path,
    *,
    cap_s: float,
    cwd: Path | None = None,
    extra_env: dict[str, str] | None = None,
    python: str | None = None,
    **options: Any,
) -> Outcome:
    """Run one phase of a tool's worker in a fresh process, stopped after ``cap_s``."""
    out = box.root / f"result-{phase}-{time.monotonic_ns()}.json"
    command = [
        python or sys.executable,
        str(TOOLS_DIR / tool.worker),
        phase,
        "--dir",
        str(store),
        "--out",
        str(out),
    ]
    for name, value in options.items():
        command += [f"--{name}", str(value)]
    env = box.env(tool, store) | (extra_env or {})
    wall, code, timed_out = timed_run(command, env, cwd or box.cwd, cap_s)
    if timed_out:
        return Outcome({"error": f"stopped after {cap_s:.0f} s"}, wall, timed_out=True)
    try:
        result = json.loads(out.read_text())
    except (OSError, ValueError):
        result = {"error": f"the worker exited with {code} and wrote no result"}
    return Outcome(result, wall)


def timed_run(
    command: list[str], env: dict[str, str], cwd: Path, cap_s: float
) -> tuple[float, int, bool]:
    """Run a command to its end; return wall seconds, exit code, and a timeout flag."""
    begin = time.perf_counter()
    proc = subprocess.Popen(
        command,
        env=env,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        _out, err = proc.communicate(timeout=cap_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return time.perf_counter() - begin, -9, True
    wall = time.perf_counter() - begin
    if proc.returncode and err:
        sys.stderr.write(err.decode(errors="replace")[-2000:])
    return wall, proc.returncode, False


def measure_process(
    command: list[str], env: dict[str, str], cwd: Path
) -> tuple[float, float, str]:
    """Wall seconds and peak RSS (MiB) of a process, plus its stderr.

    Output goes to files (as it would to a pipe that is read), and the process is
    reaped with ``wait4`` to get its own resource use.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        begin = time.perf_counter()
        proc = subprocess.Popen(command, env=env, cwd=cwd, stdout=out, stderr=err)
        _pid, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - begin
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        text = err.read().decode(errors="replace")
    if proc.returncode:
        raise RuntimeError(f"{command} exited {proc.returncode}: {text[-500:]}")
    return wall, usage.ru_maxrss / 1024.0, text


def tagged_processes(tag: str) -> list[dict[str, Any]]:
    """Live processes whose environment carries ``tag``: helpers left behind."""
    needle = f"{TAG_VAR}={tag}".encode()
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/environ", "rb") as environ:
                if needle not in environ.read().split(b"\0"):
                    continue
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        found.append(
            {"pid": int(pid), "command": cmdline.decode(errors="replace")[:120]}
        )
    return found


def end_processes(pids: list[int]) -> None:
    """End helper processes the bench's own workers started, one pid at a time."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
    time.sleep(0.5)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            continue


LOCKISH = re.compile(r"(lock|\.tmp$|-wal$|-shm$|-journal$)", re.IGNORECASE)


def lock_files(stores: list[Path]) -> list[str]:
    """Files in the stores that look like locks, journals or temporary files."""
    found = []
    for store in stores:
        for root, dirs, files in os.walk(store):
            for name in files + dirs:
                if LOCKISH.search(name):
                    found.append(str(Path(root, name).relative_to(store.parent)))
    return found


def files_outside(box: Sandbox) -> list[str]:
    """Files a tool wrote in its HOME, TMPDIR or working folder."""
    found = []
    for part in ("home", "tmp", "cwd"):
        for root, _dirs, files in os.walk(box.root / part):
            found += [str(Path(root, f).relative_to(box.root)) for f in files]
    return sorted(found)


def machine_facts() -> dict[str, Any]:
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ram_gib": round(pages / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_avg_at_start": os.getloadavg(),
        "page_size": resource.getpagesize(),
    }
