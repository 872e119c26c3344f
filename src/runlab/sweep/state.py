"""A sweep's state on disk: ``<store>/sweeps/<id>/state.json``, one writer.

The process running a sweep is the only one that writes its state; it
rewrites ``state.json`` atomically after every change of a trial, so a sweep
killed at any moment can be resumed from the last state written. Readers
(``runlab sweep status``, the web page) may read it at any time.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from runlab import _json
from runlab._atomic import write_text_atomic
from runlab.errors import RunlabError, StoreError
from runlab.store.layout import create_store_dir

__all__ = [
    "DONE_STATES",
    "STATES",
    "SWEEPS_DIR",
    "SweepNotFound",
    "SweepState",
    "TrialState",
    "create_sweep",
    "list_sweeps",
    "read_sweep",
]

logger = logging.getLogger(__name__)

SWEEPS_DIR = "sweeps"
STATE_FILE = "state.json"
STATES = ("pending", "running", "finished", "failed", "killed", "pruned")
# A resumed sweep runs every trial not in one of these.
DONE_STATES = frozenset(["finished", "pruned"])
_SWEEP_ID = re.compile(r"^sw-\d{6}-\d{6}-[0-9a-f]{4}$")


class SweepNotFound(RunlabError, KeyError):
    """No sweep, or several, match the id or id prefix given."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "Sweep not found."


@dataclass
class TrialState:
    """One trial: its point, and what became of it."""

    index: int
    params: dict[str, Any]
    seed: int | None = None
    state: str = "pending"
    run_ids: list[str] = field(default_factory=list)
    attempts: int = 0
    gpus: list[str] = field(default_factory=list)
    exit_code: int | None = None
    objective: float | None = None
    started: float | None = None
    ended: float | None = None

    @property
    def run_id(self) -> str | None:
        """The run of the latest attempt."""
        return self.run_ids[-1] if self.run_ids else None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrialState:
        """The trial ``data`` describes; ValueError when it is not one."""
        if not isinstance(data, dict):
            raise ValueError(f"a trial is {data!r}, not an object")
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        trial = cls(**known)
        if not isinstance(trial.index, int) or trial.state not in STATES:
            raise ValueError(f"trial {trial.index!r} has state {trial.state!r}")
        if not isinstance(trial.params, dict) or not isinstance(trial.run_ids, list):
            raise ValueError(f"trial {trial.index} has malformed params or run_ids")
        trial.objective = _json.to_float(trial.objective)
        return trial


@dataclass
class SweepState:
    """A sweep: where it lives, how it was asked for, and its trials."""

    id: str
    folder: Path
    file: str
    method: str
    created: float
    name: str | None = None
    executor: str = "local"
    cwd: str = ""
    trials: list[TrialState] = field(default_factory=list)
    # How it was last run (parallel, gpus, executor, address, retries): what
    # a resume does unless told otherwise.
    options: dict[str, Any] = field(default_factory=dict)

    def save(self) -> None:
        """Write ``state.json`` in one step (temp file and rename)."""
        data = {k: v for k, v in asdict(self).items() if k != "folder"}
        try:
            write_text_atomic(self.folder / STATE_FILE, _json.dumps(data, indent=2))
        except OSError as err:
            raise StoreError(
                f"Cannot save the state of sweep {self.id}: {err}."
            ) from err

    def counts(self) -> dict[str, int]:
        """How many trials are in each state, every state named."""
        counts = dict.fromkeys(STATES, 0)
        for trial in self.trials:
            counts[trial.state] = counts.get(trial.state, 0) + 1
        return counts

    def trial_config_path(self, index: int) -> Path:
        return self.folder / "trials" / f"{index}.yaml"

    def to_dict(self) -> dict[str, Any]:
        """The state as JSON-ready data, with the counts."""
        data = {k: v for k, v in asdict(self).items() if k != "folder"}
        data["counts"] = self.counts()
        return data


def new_sweep_id(now: float | None = None) -> str:
    """A sweep id: ``sw-`` and the local start time, as run ids, plus 4 hex."""
    stamp = time.strftime("%y%m%d-%H%M%S", time.localtime(now))
    return f"sw-{stamp}-{os.urandom(2).hex()}"


def create_sweep(
    store_path: Path,
    *,
    file_text: str,
    file: str,
    method: str,
    name: str | None,
    trials: Iterable[TrialState],
    executor: str = "local",
    cwd: str = "",
    options: dict[str, Any] | None = None,
) -> SweepState:
    """Make the sweep's folder with a copy of its file, and its first state."""
    root = store_path / SWEEPS_DIR
    try:
        if not store_path.exists():
            create_store_dir(store_path)  # with its .gitignore, as for a run
        root.mkdir(parents=True, exist_ok=True)
        while True:
            sweep_id = new_sweep_id()
            with contextlib.suppress(FileExistsError):
                (root / sweep_id).mkdir()
                break
        folder = root / sweep_id
        (folder / "trials").mkdir()
        write_text_atomic(folder / "sweep.yaml", file_text)
    except OSError as err:
        raise StoreError(f"Cannot make a sweep in {root}: {err}.") from err
    state = SweepState(
        id=sweep_id, folder=folder, file=file, method=method, created=time.time(),
        name=name, executor=executor, cwd=cwd, trials=list(trials),
        options=dict(options or {}),
    )  # fmt: skip
    state.save()
    return state


def read_sweep(store_path: Path, ref: str) -> SweepState:
    """The sweep named by its id, a unique id prefix, or its name.

    Raises:
        SweepNotFound: none, or several, match.
    """
    sweeps = list_sweeps(store_path)
    exact = [s for s in sweeps if ref in (s.id, s.name)]
    matches = exact or [s for s in sweeps if s.id.startswith(ref)]
    if len(matches) == 1:
        return matches[0]
    where = store_path / SWEEPS_DIR
    if not matches and _SWEEP_ID.match(ref) and (where / ref).is_dir():
        try:
            _load(where / ref)
        except _UNREADABLE as err:
            raise SweepNotFound(
                f"Sweep {ref}'s {where / ref / STATE_FILE} cannot be read: {err}."
            ) from None
    if not matches:
        raise SweepNotFound(f"No sweep '{ref}' in {where}; see `runlab sweep ls`.")
    shown = ", ".join(s.id for s in matches[:5])
    raise SweepNotFound(f"'{ref}' matches {len(matches)} sweeps ({shown}); give more.")


def list_sweeps(store_path: Path) -> list[SweepState]:
    """Every readable sweep of the store, oldest first."""
    root = store_path / SWEEPS_DIR
    if not root.is_dir():
        return []
    found = []
    for folder in sorted(root.iterdir()):
        if not _SWEEP_ID.match(folder.name) or not (folder / STATE_FILE).is_file():
            continue
        try:
            found.append(_load(folder))
        except _UNREADABLE as err:
            logger.warning(
                "Skipping sweep %s: its state cannot be read (%s).", folder, err
            )
    return found


_UNREADABLE = (OSError, ValueError, TypeError, KeyError, AttributeError)


def _load(folder: Path) -> SweepState:
    data = _json.loads((folder / STATE_FILE).read_bytes())
    if not isinstance(data, dict):
        raise ValueError("it holds no JSON object")
    if data.get("id") != folder.name:
        raise ValueError(f"its id {data.get('id')!r} is not its folder's name")
    trials = [TrialState.from_dict(t) for t in data.get("trials") or []]
    for key in ("name", "file", "method", "cwd"):
        if data.get(key) is not None and not isinstance(data[key], str):
            raise ValueError(f"its {key} {data[key]!r} is not text")
    return SweepState(
        id=data["id"], folder=folder, file=data.get("file", ""),
        method=data.get("method", ""), created=float(data.get("created") or 0),
        name=data.get("name"), executor=data.get("executor", "local"),
        cwd=data.get("cwd", ""), trials=trials,
        options=dict(data.get("options") or {}),
    )  # fmt: skip
