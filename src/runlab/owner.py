"""The owner of a run: the one process that creates it, beats, and finishes it.

A run is owned by ``runlab run`` (the wrapper) when a command is wrapped, or by
the script itself when it calls ``runlab.start()`` on its own. The owner alone
writes ``run.json`` (apart from user edits under the folder lock), captures git
and the environment, keeps the heartbeat, and records the final status (on a
full disk too: run.json is then overwritten where it lies, with any ``lost``
points recorded).

Heartbeat: every ``RUNLAB_HEARTBEAT_S`` seconds (default 10) the owner stamps
``run.json`` and refreshes the index. Readers call a running run ``crashed``
once three beats are missed, or at once when its pid is gone on this host.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from runlab._threads import daemon_thread
from runlab.errors import StoreError
from runlab.store import layout
from runlab.store.files import update_json, write_json
from runlab.store.store import Store, format_note
from runlab.store.stored import iso_time

__all__ = ["FINAL_STATUSES", "RunOwner", "heartbeat_interval"]

logger = logging.getLogger(__name__)

CAPTURE_PAUSE_S = 0.1
FINAL_STATUSES = ("finished", "failed", "killed", "crashed")


def heartbeat_interval() -> float:
    """Seconds between beats, from RUNLAB_HEARTBEAT_S (default 10)."""
    from runlab._env import seconds_from_env

    return seconds_from_env("RUNLAB_HEARTBEAT_S", 10.0, minimum=0.05)


class RunOwner:
    """Creates or reopens a run folder and keeps its life facts in run.json."""

    def __init__(self, store: Store, run_id: str) -> None:
        self.store = store
        self.run_id = run_id
        self.path = store.run_dir(run_id)
        self.interval = heartbeat_interval()
        self._stop = threading.Event()
        self._beater: threading.Thread | None = None
        self._capture: threading.Thread | None = None

    @classmethod
    def create(
        cls,
        store: Store,
        *,
        config: Mapping[str, Any],
        name: str | None = None,
        tags: Sequence[str] = (),
        notes: str | None = None,
        command: Sequence[str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> RunOwner:
        """Make a new run folder with run.json, config.yaml and notes."""
        from runlab.config import dump_config

        try:
            tags, name = layout.check_tags(tags), layout.check_name(name)
        except ValueError as err:
            raise StoreError(str(err)) from None
        now = time.time()
        try:
            run_id, path = layout.make_run_dir(store.path, now)
        except OSError as err:
            raise StoreError(f"Cannot create a run in {store.path}: {err}.") from err
        owner = cls(store, run_id)
        dump_config(config, path / layout.CONFIG_FILE)
        if notes:
            (path / layout.NOTES_FILE).write_text(
                format_note(notes, now), encoding="utf-8"
            )
        write_json(
            path / layout.RUN_FILE, owner._first_meta(now, name, tags, command, extra)
        )
        # The index learns of the run from the capture thread (and any listing
        # finds an unindexed folder by itself): start() need not wait for SQLite.
        logger.info("Created run %s.", run_id)
        return owner

    @classmethod
    def reopen(cls, store: Store, run_id: str) -> RunOwner:
        """Take over an existing run to resume it: running again, same folder."""
        owner = cls(store, run_id)
        now = time.time()

        def change(meta: dict[str, Any]) -> None:
            meta["resumes"] = [
                *meta.get("resumes", []),
                {"at": now, "was": meta.get("status")},
            ]
            meta.update(status="running", ended=None, exit_code=None, heartbeat=now)
            meta.update(
                pid=os.getpid(), host=socket.gethostname(), pid_start=_own_start()
            )
            meta.pop("error", None)
            meta["heartbeat_interval"] = owner.interval

        update_json(owner.path / layout.RUN_FILE, change)
        owner._index()
        logger.info("Resumed run %s.", run_id)
        return owner

    def _first_meta(
        self,
        now: float,
        name: str | None,
        tags: Sequence[str],
        command: Sequence[str] | None,
        extra: Mapping[str, Any] | None,
    ) -> dict[str, Any]:
        return {
            "id": self.run_id,
            "name": name,
            "status": "running",
            "started": now,
            "started_iso": iso_time(now),
            "ended": None,
            "heartbeat": now,
            "heartbeat_interval": self.interval,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "pid_start": _own_start(),
            "command": list(command if command is not None else _own_command()),
            "cwd": os.getcwd(),
            "tags": list(dict.fromkeys(tags)),
            "exit_code": None,
            **(extra or {}),
        }

    def start_capture(self, cwd: str | os.PathLike[str] | None = None) -> None:
        """Index the run, then record git and the environment, on a thread.

        The thread first lets the caller get on for a moment (its imports would
        otherwise hold the interpreter while ``start()`` is returning); a
        :meth:`finish` cuts that pause short.
        """
        where = Path(cwd or os.getcwd())
        self._capture = daemon_thread(self._run_capture, "runlab-capture", (where,))
        self._capture.start()

    def _run_capture(self, cwd: Path) -> None:
        self._stop.wait(CAPTURE_PAUSE_S)
        self._index()
        from runlab.capture.environment import capture_environment
        from runlab.capture.git import capture_git
        from runlab.capture.snapshot import snapshot_code

        code_dir = self.path / layout.CODE_DIR
        try:
            capture_git(cwd, code_dir, exclude=[self.store.path])
            # After capture_git, whose git.json the snapshot's facts join.
            snapshot_code(cwd, code_dir, self.run_id, exclude=[self.store.path])
            capture_environment(self.path / layout.ENV_DIR)
        except Exception as err:  # capture must never take the run down
            logger.warning(
                "Capturing git/environment for run %s failed: %s", self.run_id, err
            )

    def start_heartbeat(self) -> None:
        """Stamp run.json and refresh the index every interval until finish."""
        self._beater = daemon_thread(self._beat, "runlab-heartbeat")
        self._beater.start()

    def _beat(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                update_json(self.path / layout.RUN_FILE, _stamp)
                self._index()
            except (OSError, ValueError, StoreError) as err:
                logger.debug("Heartbeat of run %s failed: %s", self.run_id, err)

    def finish(
        self,
        status: str,
        *,
        exit_code: int | None = None,
        error: str | None = None,
        lost: Mapping[str, Any] | None = None,
    ) -> None:
        """Record the final status and end time; stop the heartbeat."""
        self._stop.set()
        if self._capture is not None:
            self._capture.join(timeout=60)
        now = time.time()

        def change(meta: dict[str, Any]) -> None:
            meta.update(
                status=status, ended=now, ended_iso=iso_time(now), heartbeat=now
            )
            meta["exit_code"] = exit_code
            if error:
                meta["error"] = error
            if lost:
                meta["lost"] = dict(lost)

        # On a full disk the final status and the loss are still recorded.
        update_json(self.path / layout.RUN_FILE, change, in_place_when_full=True)
        self._index()
        logger.info("Run %s %s.", self.run_id, status)

    def _index(self) -> None:
        try:
            self.store.index_run(self.run_id)
        except StoreError as err:
            # The folder is the truth, and the next listing re-reads it (its
            # run.json changed): no news for the training script's user, who
            # on a full disk has had the one warning from the metric writer.
            logger.debug("Index update for run %s failed: %s", self.run_id, err)


def _own_command() -> list[str]:
    # orig_argv keeps the interpreter and its flags: ["python", "-u", "train.py"].
    return list(getattr(sys, "orig_argv", None) or [sys.executable, *sys.argv])


def _own_start() -> int | None:
    from runlab.store.record import process_start_ticks

    return process_start_ticks(os.getpid())


def _stamp(meta: dict[str, Any]) -> None:
    meta["heartbeat"] = time.time()
    if meta.get("status") == "crashed":
        # A reader judged us dead (we were stopped, or its clock ran ahead);
        # the owner beating again is proof of life.
        meta.update(status="running", ended=None)
