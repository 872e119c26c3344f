"""A run's *record*: the one flat description of a run that lists, filters and
the index share, built from the files of its folder.

A record is a plain dict::

    {"id", "name", "status", "started", "ended", "heartbeat", "host", "pid",
     "tags", "experiment", "sweep", "branch", "commit", "dirty", "command",
     "exit_code",
     "config" (nested), "config_flat" (leaf path -> value),
     "metrics" (name -> {"last", "min", "max", "count", "last_step"}),
     "error" (only for an unreadable folder)}

Times are float seconds since the Unix epoch. A run whose ``run.json`` cannot
be read gets status ``unreadable`` and an ``error`` naming the file and the
reason, so one broken folder never hides the others.

The *live* status of a run marked ``running`` is decided when it is read: it is
``crashed`` when its process is gone from this host, or when its heartbeat is
older than three intervals (another host, or a reused pid).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import time
from pathlib import Path
from typing import Any

from runlab import _json
from runlab._atomic import write_text_atomic
from runlab._json import to_float
from runlab.errors import RunlabError
from runlab.store import layout
from runlab.store.files import read_json
from runlab.store.series import read_summary

__all__ = ["build_record", "is_process_alive", "live_status", "revive_metrics"]

logger = logging.getLogger(__name__)

STALE_BEATS = 3
DEFAULT_HEARTBEAT_S = 10.0


def build_record(run_dir: Path) -> dict[str, Any]:
    """Read a run folder into a record; never raises for a broken folder."""
    run_file = run_dir / layout.RUN_FILE
    try:
        meta = read_json(run_file)
        if not isinstance(meta, dict) or "id" not in meta:
            raise ValueError("it does not hold a run object with an 'id'")
    except (OSError, ValueError) as err:
        return _unreadable(run_dir, f"{run_file}: {_reason(err)}")
    record = _from_meta(meta)
    record["id"] = run_dir.name
    _add_config(record, run_dir)
    record["metrics"] = revive_metrics(read_summary(run_dir / layout.METRICS_DIR))
    _add_git(record, run_dir)
    return record


def _from_meta(meta: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "name", "status", "started", "ended", "heartbeat", "heartbeat_interval",
        "host", "pid", "pid_start", "experiment", "sweep", "trial", "command", "cwd",
        "exit_code", "reproduces", "error",
    )  # fmt: skip
    record = {key: meta.get(key) for key in keys}
    record["tags"] = list(meta.get("tags") or [])
    return record


def _add_config(record: dict[str, Any], run_dir: Path) -> None:
    from runlab.config import flatten_config

    path = run_dir / layout.CONFIG_FILE
    try:
        config = _read_config(path)
        flat = flatten_config(config)
    except RunlabError as err:
        logger.warning("Run %s: %s", run_dir.name, err)
        config, flat = {}, {}
        record["error"] = str(err)
    record["config"] = config
    record["config_flat"] = flat


CONFIG_CACHE = ".config.cache.json"


def _read_config(path: Path) -> dict[str, Any]:
    """Read config.yaml, through a JSON copy while the YAML is unchanged.

    Parsing YAML is most of the cost of reading a run; the copy beside it is
    keyed by the YAML file's inode, size and time, so any rewrite (always a
    new inode) or hand edit makes it stale. A store we cannot write to simply
    goes without the copy.
    """
    try:
        stat = path.stat()
    except FileNotFoundError:
        return {}
    key = f"{stat.st_ino}:{stat.st_size}:{stat.st_mtime_ns}"
    cache = path.with_name(CONFIG_CACHE)
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        cached = _json.loads(cache.read_bytes())
        if cached["key"] == key:
            return dict(cached["config"])
    from runlab.config import load_config

    config = load_config(path)
    if _json.jsonable(config) == config:  # NaN or inf would come back as text
        with contextlib.suppress(OSError, ValueError, TypeError):
            text = _json.dumps({"key": key, "config": config})
            write_text_atomic(cache, text, durable=False)
    return config


def _add_git(record: dict[str, Any], run_dir: Path) -> None:
    try:
        git = read_json(run_dir / layout.CODE_DIR / "git.json")
    except (OSError, ValueError):
        git = {}
    if not isinstance(git, dict):
        git = {}
    record["branch"] = git.get("branch")
    record["commit"] = git.get("commit")
    # Whether the run started with uncommitted changes (None: not known).
    dirty = git.get("dirty")
    record["dirty"] = dirty if isinstance(dirty, bool) else None


def _unreadable(run_dir: Path, error: str) -> dict[str, Any]:
    started = None
    with contextlib.suppress(OSError):
        started = run_dir.stat().st_mtime
    return {
        "id": run_dir.name, "name": None, "status": "unreadable", "started": started,
        "ended": None, "heartbeat": None, "host": None, "pid": None, "tags": [],
        "experiment": None, "sweep": None, "branch": None, "commit": None,
        "dirty": None, "command": None,
        "exit_code": None, "config": {}, "config_flat": {}, "metrics": {},
        "error": error,
    }  # fmt: skip


def _reason(err: Exception) -> str:
    if isinstance(err, FileNotFoundError):
        return "the file is missing"
    if isinstance(err, json.JSONDecodeError):
        if not err.doc.strip():
            return "the file is empty"
        return f"invalid JSON: {err}"
    return str(err)


def revive_metrics(metrics: Any) -> dict[str, dict[str, Any]]:
    """Turn the JSON markers "NaN", "Infinity", "-Infinity" back into floats."""
    if not isinstance(metrics, dict):
        return {}
    for summary in metrics.values():
        if not isinstance(summary, dict):
            continue
        for key in ("last", "min", "max"):
            if isinstance(summary.get(key), str):
                summary[key] = to_float(summary[key])
    return metrics


def is_process_alive(pid: int) -> bool:
    """Tell whether a process with ``pid`` exists on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def live_status(record: dict[str, Any], now: float | None = None) -> str:
    """Return the status to show: ``running`` turns ``crashed`` when it is dead.

    On the run's own host the process decides: alive (the same pid, started at
    the same moment, so not a reused pid) means running, however late the
    heartbeat (a process stopped with SIGSTOP, or swapping, is not dead). On
    another host only the heartbeat can tell: three missed beats mean crashed.
    """
    status = record.get("status") or "unreadable"
    if status != "running":
        return str(status)
    pid = record.get("pid")
    if record.get("host") == socket.gethostname() and type(pid) is int and pid > 0:
        return (
            "running" if _is_same_process(pid, record.get("pid_start")) else "crashed"
        )
    now = time.time() if now is None else now
    interval = _number(record.get("heartbeat_interval")) or DEFAULT_HEARTBEAT_S
    beat = _number(record.get("heartbeat")) or _number(record.get("started")) or now
    return "crashed" if now - beat > STALE_BEATS * interval else "running"


def _is_same_process(pid: int, start: Any) -> bool:
    if not is_process_alive(pid):
        return False
    if type(start) is not int:
        return True
    return process_start_ticks(pid) in (None, start)


def process_start_ticks(pid: int) -> int | None:
    """When process ``pid`` started, in clock ticks since boot (Linux), else None.

    Stored beside the pid, it tells the run's own process from a later process
    that was given the same pid.
    """
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
        return int(fields[19])
    except (OSError, IndexError, ValueError):
        return None


def _number(value: Any) -> float | None:
    # A hand-edited run.json must not take the listing down.
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None
