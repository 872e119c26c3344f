"""Checkpoints of a run: best, last and one every N epochs, in ``state_dict/``.

Contract:
- ``checkpoint_last.pt`` is always the latest save; ``checkpoint_best.pt`` the
  save with the best score (``mode`` "max" or "min"; saves without a score never
  become best); ``checkpoint_e_<epoch>.pt`` is kept every ``every`` epochs, and
  with ``top_k`` only the k best-scoring of those stay.
- Each file is written aside and renamed, so a crash leaves the previous file.
- ``checkpoints.json`` lists what is kept: file, epoch, score, time. A file
  dropped by ``top_k`` is deleted only after the index stops naming it, so a
  crash never leaves the index naming a missing file.

Objects from PyTorch are saved with ``torch.save``; any other object with
pickle; a path to an existing file is copied as it is.
"""

from __future__ import annotations

import contextlib
import math
import operator
import os
import shutil
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from runlab._atomic import stage_file
from runlab._json import to_float
from runlab.errors import ConfigError
from runlab.store.files import read_json, write_json

__all__ = ["CheckpointKeeper", "CheckpointPolicy", "read_checkpoints"]

INDEX_FILE = "checkpoints.json"
BEST = "checkpoint_best.pt"
LAST = "checkpoint_last.pt"


class CheckpointPolicy:
    """What to keep. ``every`` 0 keeps no per-epoch files; ``top_k`` None keeps all."""

    __slots__ = ("every", "mode", "top_k")

    def __init__(
        self, every: int = 0, top_k: int | None = None, mode: str = "max"
    ) -> None:
        if mode not in ("max", "min"):
            raise ValueError(f"Checkpoint mode must be 'max' or 'min', not {mode!r}.")
        if every < 0 or (top_k is not None and top_k < 1):
            raise ValueError("Checkpoint 'every' must be >= 0 and 'top_k' >= 1.")
        self.every = every
        self.top_k = top_k
        self.mode = mode

    def __repr__(self) -> str:
        return f"CheckpointPolicy(every={self.every}, top_k={self.top_k}, mode={self.mode!r})"

    def is_better(self, score: float, best: float | None) -> bool:
        if math.isnan(score):
            return False
        if best is None:
            return True
        return score > best if self.mode == "max" else score < best


def policy_from_config(
    config: Mapping[str, Any], mode: str | None = None
) -> CheckpointPolicy:
    """The policy of a config's ``checkpoint`` section (``every``, ``top_k``, ``mode``).

    A section that is not a mapping is the script's own setting and ignored;
    its other keys are the script's too.

    Raises:
        ConfigError: ``every``, ``top_k`` or ``mode`` has a value that cannot
            be a policy; the message names the key.
    """
    section = config.get("checkpoint")
    options = dict(section) if isinstance(section, Mapping) else {}
    every = options.get("every", 0)
    top_k = options.get("top_k")
    chosen = mode or options.get("mode", "max")
    if every is None:
        every = 0
    if not _is_whole(every) or every < 0:
        raise ConfigError(
            f"Config key checkpoint.every is {every!r}; give a whole number of "
            "epochs (0 keeps no per-epoch checkpoints)."
        )
    if top_k is not None and (not _is_whole(top_k) or top_k < 1):
        raise ConfigError(
            f"Config key checkpoint.top_k is {top_k!r}; give a whole number of at "
            "least 1, or leave it out to keep every per-epoch checkpoint."
        )
    if chosen not in ("max", "min"):
        raise ConfigError(
            f"Config key checkpoint.mode is {chosen!r}; give max (a higher score "
            "is better) or min."
        )
    top = None if top_k is None else operator.index(top_k)
    return CheckpointPolicy(every=operator.index(every), top_k=top, mode=chosen)


def _is_whole(value: Any) -> bool:
    """An int, or an integer of NumPy or torch (anything ``operator.index`` takes)."""
    if isinstance(value, bool):
        return False
    try:
        operator.index(value)
    except TypeError:
        return False
    return True


def read_checkpoints(folder: Path) -> dict[str, Any]:
    """Return the checkpoint index of a run (empty lists when none).

    Scores are floats again (JSON keeps NaN and infinities as strings) or None.
    """
    try:
        data = read_json(folder / INDEX_FILE)
    except (OSError, ValueError):
        data = None
    if not isinstance(data, dict):
        return {"best": None, "last": None, "epochs": []}
    data.setdefault("best", None)
    data.setdefault("last", None)
    data.setdefault("epochs", [])
    for entry in [data["best"], data["last"], *data["epochs"]]:
        if isinstance(entry, dict):
            entry["score"] = to_float(entry.get("score"))
    return data


class CheckpointKeeper:
    """Saves checkpoints into one run's ``state_dict/`` under a policy."""

    def __init__(self, folder: Path, policy: CheckpointPolicy) -> None:
        self.folder = folder
        self.policy = policy
        self._index = read_checkpoints(folder)
        self._dropped: list[str] = []

    def save(self, obj: Any, *, epoch: int, score: float | None = None) -> Path:
        """Save ``obj`` for ``epoch`` and apply the policy; return the last file."""
        if not _is_whole(epoch):
            raise TypeError(
                f"A checkpoint's epoch must be a whole number, not {epoch!r}."
            )
        self.folder.mkdir(parents=True, exist_ok=True)
        entry = {
            "epoch": operator.index(epoch),
            "score": _score(score),
            "time": time.time(),
        }
        staged = self._stage(obj)
        try:
            self._keep_epoch(staged, entry)
            self._keep_best(staged, entry)
            os.replace(staged, self.folder / LAST)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(staged)
        self._index["last"] = {**entry, "file": LAST}
        write_json(self.folder / INDEX_FILE, self._index)
        self._delete_dropped()
        return self.folder / LAST

    def best_path(self) -> Path | None:
        """Return the best checkpoint's path, or None before any scored save."""
        return self.folder / BEST if self._index.get("best") else None

    def _stage(self, obj: Any) -> Path:
        is_file = _is_file_reference(obj)

        def write(handle: IO[bytes]) -> None:
            if is_file:
                with open(obj, "rb") as source:
                    shutil.copyfileobj(source, handle)
            elif _is_torch_object(obj):
                import torch

                torch.save(obj, handle)
            else:
                import pickle

                pickle.dump(obj, handle, protocol=pickle.HIGHEST_PROTOCOL)

        # An object that cannot be pickled, say, leaves no half-written file.
        return stage_file(self.folder, write, prefix=".ckpt.")

    def _keep_best(self, staged: Path, entry: dict[str, Any]) -> None:
        best = self._index.get("best")
        score = entry["score"]
        if score is None or not self.policy.is_better(score, best and best["score"]):
            return
        _copy_atomic(staged, self.folder / BEST)
        self._index["best"] = {**entry, "file": BEST}

    def _keep_epoch(self, staged: Path, entry: dict[str, Any]) -> None:
        every = self.policy.every
        if not every or entry["epoch"] % every:
            return
        name = f"checkpoint_e_{entry['epoch']}.pt"
        _copy_atomic(staged, self.folder / name)
        epochs = [e for e in self._index["epochs"] if e["file"] != name]
        epochs.append({**entry, "file": name})
        self._index["epochs"] = self._prune(epochs)

    def _prune(self, epochs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        top_k = self.policy.top_k
        if top_k is None or len(epochs) <= top_k:
            return epochs
        sign = -1.0 if self.policy.mode == "max" else 1.0

        def rank(e: dict[str, Any]) -> float:
            score = e["score"]
            return math.inf if score is None or math.isnan(score) else sign * score

        ranked = sorted(epochs, key=rank)
        self._dropped.extend(e["file"] for e in ranked[top_k:])
        kept = {e["file"] for e in ranked[:top_k]}
        return [e for e in epochs if e["file"] in kept]

    def _delete_dropped(self) -> None:
        # A save that failed before its index was written may have left a name
        # here that a later save kept again.
        listed = {e["file"] for e in self._index["epochs"]}
        while self._dropped:
            name = self._dropped.pop()
            if name not in listed:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.folder / name)


def _copy_atomic(source: Path, target: Path) -> None:
    # A hard link costs no space: best, last and an epoch file saved at the
    # same step share one copy. It is safe because no checkpoint file is ever
    # written in place; each new save is a new file renamed over the old name.
    tmp = target.with_name(f".{target.name}.tmp")
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp)
    try:
        os.link(source, tmp)
    except OSError:
        shutil.copyfile(source, tmp)
    os.replace(tmp, target)


_FILE_SUFFIXES = (".pt", ".pth", ".bin", ".ckpt", ".safetensors", ".pkl", ".h5", ".npz")


def _is_file_reference(obj: Any) -> bool:
    """Tell whether ``obj`` names a file to copy (raising if it names none).

    A Path always does; a str does when it is an existing file, or when it
    looks like a path (a folder separator, a checkpoint suffix) and so must
    be one. Any other str is an object to pickle.
    """
    if not isinstance(obj, (str, os.PathLike)):
        return False
    path = Path(obj)
    looks_like_path = (
        not isinstance(obj, str) or os.sep in obj or obj.endswith(_FILE_SUFFIXES)
    )
    if path.is_file():
        return True
    if looks_like_path or path.is_dir():
        _check_source_file(path)
    return False


def _check_source_file(path: Path) -> None:
    if path.is_dir():
        raise IsADirectoryError(
            f"Checkpoint {path} is a folder; save it as one file (an archive, "
            "or the state_dict object itself)."
        )
    if not path.is_file():
        raise FileNotFoundError(
            f"Checkpoint file {path} does not exist; pass an existing file, or "
            "the object to save."
        )


def _score(score: Any) -> float | None:
    if score is None:
        return None
    item = getattr(score, "item", None)
    return float(item() if callable(item) else score)


def _is_torch_object(obj: Any) -> bool:
    # Only look at torch if the user's program already imported it.
    if "torch" not in sys.modules:
        return False
    # A user's model subclasses torch.nn.Module from outside torch.
    if any((c.__module__ or "").startswith("torch") for c in type(obj).__mro__):
        return True
    if isinstance(obj, dict):
        return any(_is_torch_object(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return any(_is_torch_object(v) for v in obj)
    return False
