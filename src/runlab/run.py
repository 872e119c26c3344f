"""A run's life inside the training script: start, log, checkpoint, note, finish.

Contract:
- ``start()`` attaches to the run that ``runlab run`` made when the process was
  started by it (``RUNLAB_RUN_DIR``); otherwise it makes a new run and owns it.
- ``log()`` is the hot path: it checks and converts the values, puts them on an
  in-memory queue and returns; it never waits for the disk (see
  :mod:`runlab.store.buffer`).
- ``log_image()``, ``log_histogram()``, ``log_table()`` and ``log_text()``
  write into the run's ``media/`` in the calling thread (see
  :mod:`runlab.store.media`), off the metrics queue.
- A finished run accepts no points, checkpoints, notes or media
  (:class:`RunFinished`).
- Points the writer had to drop (a full disk) are recorded under ``lost`` in
  run.json, by the owner or, under ``runlab run``, by the attached script.
- An uncaught exception marks the run ``failed``, SIGINT and SIGTERM ``killed``,
  and the end of the interpreter ``finished``. A process that dies otherwise is
  shown ``crashed`` by readers (see :mod:`runlab.owner`).
- Under distributed training, ranks other than 0 (``RANK``/``LOCAL_RANK``) get
  a run whose calls do nothing, unless ``RUNLAB_ALL_RANKS=1``.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from runlab._attach import (
    check_loose_overrides,
    fill_name,
    merge_into_run_config,
    record_loss,
)
from runlab._hooks import ProcessHooks, die_of, holding_sigint
from runlab._values import I64, as_step, split_metrics
from runlab.errors import RunFinished, RunlabError
from runlab.owner import RunOwner
from runlab.store import layout
from runlab.store.buffer import MetricBuffer
from runlab.store.store import Store, format_note, open_store

if TYPE_CHECKING:
    import argparse

    from runlab.config import ConfigView
    from runlab.store.checkpoints import CheckpointKeeper
    from runlab.store.media import MediaItem, MediaWriter
    from runlab.store.series import Series

__all__ = ["Run", "active_run", "log", "start"]

logger = logging.getLogger(__name__)

_now = time.time
_SYSTEM_PREFIX = "sys/"
_active: Run | None = None


def start(
    config: Any = None,
    *,
    name: str | None = None,
    tags: Iterable[str] = (),
    notes: str | None = None,
    store: str | os.PathLike[str] | None = None,
    resume: str | None = None,
) -> Run:
    """Start (or attach to, or resume) a run and return it.

    Args:
        config: a YAML path, a dict, an argparse Namespace, or None.
        name: a human name; ``runlab ls`` and other commands accept it as a RUN.
        tags: labels to filter on (``tag:baseline``); a single string is one tag.
        notes: a first paragraph for the run's README.md.
        store: the store folder; else RUNLAB_DIR, else ``experiments/`` at the
            top of the git repository, else ``./experiments``.
        resume: id, id prefix or name of a run to continue.

    Example:
        >>> run = runlab.start(config="config.yaml")  # doctest: +SKIP
        >>> run.log({"train/loss": 0.3}, step=1)  # doctest: +SKIP
    """
    from runlab.config import flatten_config, to_config_dict
    from runlab.store.checkpoints import policy_from_config

    global _active
    if isinstance(tags, str):
        tags = [tags]  # one tag, never one per character
    given = to_config_dict(config)
    flatten_config(given)  # an ambiguous config is refused before a run exists
    policy_from_config(given)  # so is a checkpoint policy that cannot work
    if _is_other_rank():
        return Run._disabled(given)
    attach = os.environ.get("RUNLAB_RUN_DIR")
    if attach and resume is None:
        run = Run._attach(Path(attach), given, name=name, tags=tags, notes=notes)
    elif resume is not None:
        run = Run._resume(open_store(store), resume)
    else:
        run = Run._create(open_store(store), given, name=name, tags=tags, notes=notes)
    _active = run
    return run


def active_run() -> Run | None:
    """Return the run this process started last, if it is still open."""
    return _active if _active is not None and not _active.is_finished else None


def log(metrics: Mapping[str, Any], step: int | None = None) -> None:
    """Log to the active run, starting (or attaching to) one if there is none."""
    run = active_run() or start()
    run.log(metrics, step)


def _is_other_rank() -> bool:
    if os.environ.get("RUNLAB_ALL_RANKS") == "1":
        return False
    for var in ("RANK", "LOCAL_RANK"):
        value = os.environ.get(var)
        if value not in (None, "", "0"):
            return True
    return False


class Run:
    """A run being written by this process. Make one with :func:`start`."""

    def __init__(
        self,
        store: Store | None,
        path: Path | None,
        config: dict[str, Any],
        *,
        owner: RunOwner | None = None,
        first_step: int = 0,
    ) -> None:
        self.store = store
        self.path = path
        self.id = path.name if path else ""
        self._config = config
        self._owner = owner
        self._step = first_step - 1
        self._finished = path is None
        self._status: str | None = None
        self._error: str | None = None
        self._exit_code: int | None = None
        self._lock = threading.Lock()
        self._keeper: CheckpointKeeper | None = None
        self._media_writer: MediaWriter | None = None
        self._buffer = MetricBuffer(path / layout.METRICS_DIR) if path else None
        self._queue: Any = self._buffer._queue if self._buffer else None
        self._soft_limit = self._buffer.soft_limit if self._buffer else 0
        self._hooks = ProcessHooks(self) if path else None
        self._tee: Any = None
        self._sampler: Any = None

    # Construction -------------------------------------------------------------

    @classmethod
    def _create(
        cls,
        store: Store,
        config: dict[str, Any],
        *,
        name: str | None,
        tags: Iterable[str],
        notes: str | None,
    ) -> Run:
        owner = RunOwner.create(
            store, config=config, name=name, tags=list(tags), notes=notes
        )
        run = cls(store, owner.path, config, owner=owner)
        run._own()
        return run

    @classmethod
    def _resume(cls, store: Store, ref: str) -> Run:
        stored = store.load_run(ref)
        if stored.status == "running":
            meta = stored.meta
            raise RunlabError(
                f"Run {stored.id} is still running (pid {meta.get('pid')} on "
                f"{meta.get('host')}); stop it before resuming it."
            )
        owner = RunOwner.reopen(store, stored.id)
        # System samples count their own steps; only logged points say where
        # training stopped.
        steps = [
            m.get("last_step")
            for name, m in stored.summary.items()
            if not name.startswith(_SYSTEM_PREFIX)
        ]
        first = max((s for s in steps if s is not None), default=-1) + 1
        run = cls(
            store, stored.path, stored.config.to_dict(), owner=owner, first_step=first
        )
        run._own()
        return run

    @classmethod
    def _attach(
        cls,
        path: Path,
        given: dict[str, Any],
        *,
        name: str | None,
        tags: Iterable[str],
        notes: str | None,
    ) -> Run:
        store = Store(path.parent)
        check_loose_overrides(path, given)
        run = cls(store, path, merge_into_run_config(path, given))
        if name:
            fill_name(store, path, name)
        if tags:
            store.set_tags(path.name, add=list(dict.fromkeys(tags)))
        if notes:
            run.note(notes)
        return run

    @classmethod
    def _disabled(cls, config: dict[str, Any]) -> Run:
        return cls(None, None, config)

    def _own(self) -> None:
        from runlab.capture.output import OutputTee

        assert self._owner is not None and self.path is not None
        self._owner.start_capture()
        self._owner.start_heartbeat()
        self._tee = OutputTee(self.path / layout.LOG_FILE)
        self._tee.start()
        if os.environ.get("RUNLAB_SYSTEM_METRICS", "1") != "0":
            self._start_sampler()

    def _start_sampler(self) -> None:
        from runlab.capture.system import SystemSampler

        counter = iter(range(I64))

        def put(values: dict[str, float]) -> None:
            if self._buffer is not None and not self._finished:
                self._buffer.put(next(counter), time.time(), values)

        self._sampler = SystemSampler(put, interval=_sample_interval())
        self._sampler.start()

    # Reading ------------------------------------------------------------------

    @property
    def config(self) -> ConfigView:
        """The resolved config: ``run.config.optim.lr`` or ``run.config["optim"]``."""
        from runlab.config import ConfigView

        return ConfigView(self._config)

    def update_config(self, values: Mapping[str, Any]) -> None:
        """Add or change config keys (derived values, say) and save the config.

        ``values`` is nested (``{"optim": {"lr": 0.1}}``) and wins over what the
        config holds; keys it does not name are kept.
        """
        from runlab.config import merge_config, to_config_dict

        given = to_config_dict(values)
        if self.path is None:
            self._config = merge_config(given, self._config)
        else:
            self._check_open("config changes")
            self._config = merge_into_run_config(self.path, given, given_wins=True)

    def parse_args(
        self, parser: argparse.ArgumentParser, args: Sequence[str] | None = None
    ) -> argparse.Namespace:
        """Parse flags with the run's config as defaults; record what was parsed.

        Keys of the config that match a parser's ``dest`` (``lr``, or
        ``optim.lr`` for ``optim_lr``) become its defaults, flags given on the
        command line win, and the parsed values are saved into the run's
        config, so it holds what the script used.

        Example:
            >>> run = runlab.start(config="defaults.yaml")  # doctest: +SKIP
            >>> args = run.parse_args(parser)  # doctest: +SKIP
        """
        from runlab.config import (
            fill_parser_defaults,
            merge_config,
            namespace_to_config,
        )

        fill_parser_defaults(parser, self._config)
        namespace = parser.parse_args(args)
        flags = namespace_to_config(namespace, parser, self._config)
        if self.path is None:
            self._config = merge_config(flags, self._config)
        else:
            self._config = merge_into_run_config(self.path, flags, given_wins=True)
        return namespace

    @property
    def name(self) -> str | None:
        return self.store.load_run(self.id).name if self.store and self.id else None

    @property
    def is_finished(self) -> bool:
        return self._finished

    @property
    def step(self) -> int:
        """The step of the last point logged (-1 before any)."""
        return self._step

    def metric(self, name: str) -> Series:
        """Read back a metric series, flushing what is queued first."""
        if self._buffer is not None and not self._finished:
            self._buffer.flush()
        return self._stored().metric(name)

    def _stored(self) -> Any:
        if self.store is None:
            raise RunlabError("This run is disabled on this rank and stores nothing.")
        return self.store.load_run(self.id)

    def __repr__(self) -> str:
        state = "finished" if self._finished else "running"
        return f"<Run {self.id or 'disabled'} {state}>"

    # Writing ------------------------------------------------------------------

    def log(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        """Record metric values at a step (the last step + 1 when omitted).

        Values may be Python, NumPy or PyTorch scalars (0-d or one-element
        tensors) and bools; NaN and +/-inf are kept as such. Names may hold
        ``/``, spaces and any Unicode.

        Raises:
            TypeError: a value is not a number (the others of the call are
                still recorded), or a name is not a string.
            RunFinished: the run was finished.
        """
        if self._finished:
            if self.path is None:
                return
            raise RunFinished(f"Run {self.id} is finished and accepts no more points.")
        if step is None:
            step = self._step + 1
            if step >= I64:
                raise ValueError(
                    f"The next step, {step}, does not fit in 64 bits; pass step=."
                )
        elif type(step) is not int or not -I64 <= step < I64:
            step = as_step(step)
        try:
            items = metrics.items()
        except AttributeError:
            raise TypeError(
                "run.log() takes a dict of metric names to numbers, "
                f"not {type(metrics).__name__}."
            ) from None
        self._step = step
        for name, value in items:
            if (type(value) is not float and type(value) is not int) or type(
                name
            ) is not str:
                self._log_slow(step, metrics)
                return
        # MetricBuffer.put, inlined: this is the hot path.
        queue = self._queue
        queue.append((step, _now(), dict(metrics)))
        if len(queue) > self._soft_limit:
            self._buffer.nudge()  # type: ignore[union-attr]

    def _log_slow(self, step: int, metrics: Mapping[str, Any]) -> None:
        clean, arrays, bad = split_metrics(metrics)
        if clean:
            self._buffer.put(step, time.time(), clean)  # type: ignore[union-attr]
        if arrays:
            # Reported, not raised: a stray tensor must not end a long training
            # job. One report: a Python warning, which the script may filter.
            warnings.warn(
                f"runlab skipped {', '.join(arrays)}: log one number per metric.",
                RuntimeWarning,
                stacklevel=3,
            )
        if bad:
            raise TypeError(
                f"Metric values must be numbers; got {', '.join(bad)} at step {step}."
            )

    def checkpoint(
        self,
        obj_or_path: Any,
        *,
        epoch: int,
        score: float | None = None,
        mode: str | None = None,
    ) -> Path | None:
        """Save a checkpoint and keep best, last and every N under the policy.

        The policy comes from the config's ``checkpoint`` section (``every``,
        ``top_k``, ``mode``) unless ``mode`` is given here.

        Returns:
            the path of ``checkpoint_last.pt`` (None on a disabled rank).
        """
        if self.path is None:
            return None
        self._check_open("checkpoints")
        return self._checkpoints(mode).save(obj_or_path, epoch=epoch, score=score)

    def best_checkpoint(self) -> Path | None:
        """Path of the best checkpoint so far, or None."""
        path = (
            self.path / layout.CHECKPOINT_DIR / "checkpoint_best.pt"
            if self.path
            else None
        )
        return path if path is not None and path.exists() else None

    def last_checkpoint(self) -> Path | None:
        """Path of the last checkpoint, or None (after ``resume``, the one to load)."""
        path = (
            self.path / layout.CHECKPOINT_DIR / "checkpoint_last.pt"
            if self.path
            else None
        )
        return path if path is not None and path.exists() else None

    def note(self, text: str) -> None:
        """Append a timestamped paragraph to the run's README.md."""
        if self.path is None:
            return
        self._check_open("notes")
        from runlab.store.files import locked

        with (
            locked(self.path),
            open(self.path / layout.NOTES_FILE, "a", encoding="utf-8") as f,
        ):
            f.write(format_note(text))

    # Media ----------------------------------------------------------------------

    def log_image(
        self,
        name: str,
        image: Any,
        step: int | None = None,
        caption: str | None = None,
    ) -> MediaItem | None:
        """Save an image as a PNG in the run's ``media/`` at a step.

        ``image`` is a NumPy array (HW, HWC or CHW; uint8, bool, or floats in
        [0, 1]), a PIL image, a torch tensor or a Matplotlib figure. ``step``
        defaults to the step of the last point logged (0 before any), so an
        image logged after ``log(...)`` lands at that point's step; media
        never move the step ``log`` counts from.

        Returns:
            the item as indexed (None on a disabled rank).

        Raises:
            MediaError: the image is a batch (4-D), empty, holds NaN, has no
                axis of 1, 3 or 4 channels, has values outside its type's
                range, or is of a type not listed above.
            RunFinished: the run was finished.
            StoreError: the file system refused the write (a full disk, say);
                the same holds for the other ``log_*`` media methods.
        """
        writer = self._media("images")
        if writer is None:
            return None
        return writer.write_image(
            name, image, step=self._media_step(step), caption=caption
        )

    def log_histogram(
        self,
        name: str,
        values: Any,
        step: int | None = None,
        bins: int | Sequence[float] = 64,
    ) -> MediaItem | None:
        """Record a histogram of ``values`` (stored as bins, not raw values).

        The finite values are binned as ``numpy.histogram`` bins them, into
        ``bins`` equal bins or between given edges; NaN and infinities are
        counted apart. ``values`` is a list, a NumPy array or a torch tensor
        of any shape. ``step`` defaults as in :meth:`log_image`.

        Raises:
            MediaError: the values are not numbers, or ``bins`` is not 1 to
                10,000 or a list of increasing edges.
            RunFinished: the run was finished.
        """
        writer = self._media("histograms")
        if writer is None:
            return None
        return writer.write_histogram(
            name, values, step=self._media_step(step), bins=bins
        )

    def log_table(
        self,
        name: str,
        rows: Any,
        step: int | None = None,
        columns: Sequence[Any] | None = None,
    ) -> MediaItem | None:
        """Save a table at a step: a list of dicts or lists, or a DataFrame.

        Dict rows give the union of their keys as columns, list rows the
        ``columns`` given (else ``c0``, ``c1``...); ``columns`` picks and
        orders the columns of dicts and DataFrames. ``step`` defaults as in
        :meth:`log_image`.

        Raises:
            MediaError: the rows are of another kind, or of unequal lengths.
            RunFinished: the run was finished.
        """
        writer = self._media("tables")
        if writer is None:
            return None
        return writer.write_table(
            name, rows, step=self._media_step(step), columns=columns
        )

    def log_text(
        self, name: str, text: str, step: int | None = None
    ) -> MediaItem | None:
        """Save a text (generated samples, say) at a step, as UTF-8.

        ``step`` defaults as in :meth:`log_image`.

        Raises:
            MediaError: ``text`` is not a str.
            RunFinished: the run was finished.
        """
        writer = self._media("text")
        if writer is None:
            return None
        return writer.write_text(name, text, step=self._media_step(step))

    def _media(self, what: str) -> MediaWriter | None:
        if self.path is None:
            return None
        self._check_open(what)
        if self._media_writer is None:
            from runlab.store.media import MediaWriter

            with self._lock:
                if self._media_writer is None:
                    self._media_writer = MediaWriter(self.path)
        return self._media_writer

    def _media_step(self, step: Any) -> int:
        return max(self._step, 0) if step is None else as_step(step)

    def finish(self, status: str = "finished") -> None:
        """Flush everything and record the final status. Safe to call twice."""
        with self._lock:
            if self._finished:
                return
            self._finished = True
        exiting = self._hooks is not None and self._hooks.exiting
        with holding_sigint(replay=not exiting):
            self._close(self._status or status)

    def _close(self, status: str) -> None:
        global _active
        if self._sampler is not None:
            self._sampler.stop()
        lost = None
        if self._buffer is not None:
            self._buffer.close()
            lost = self._buffer.lost
        if self._owner is not None:
            self._owner.finish(
                status, exit_code=self._exit_code, error=self._error, lost=lost
            )
        elif lost and self.path is not None:
            record_loss(self.path, lost)
        if self._tee is not None:
            self._tee.stop()
        if _active is self:
            _active = None
        if self._hooks is not None:
            self._hooks.remove()
            if self._hooks.die_after_close is not None:
                die_of(self._hooks.die_after_close)

    def _note_exit(self, status: object) -> None:
        """Record how ``sys.exit(status)`` ends the process: code 0 finishes."""
        if status is None or status == 0:
            self._exit_code = 0
            return
        self._exit_code = status if isinstance(status, int) else 1
        self._status = "failed"
        self._error = f"exit code {status}" if isinstance(status, int) else str(status)

    def _check_open(self, what: str) -> None:
        if self._finished:
            raise RunFinished(f"Run {self.id} is finished and accepts no more {what}.")

    def _checkpoints(self, mode: str | None) -> CheckpointKeeper:
        from runlab.store.checkpoints import CheckpointKeeper, policy_from_config

        if self._keeper is None or (mode and mode != self._keeper.policy.mode):
            policy = policy_from_config(self._config, mode)
            assert self.path is not None
            self._keeper = CheckpointKeeper(self.path / layout.CHECKPOINT_DIR, policy)
        return self._keeper

    # Context manager ------------------------------------------------------------

    def __enter__(self) -> Run:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if kind is None:
            self.finish()
        else:
            self._fail(kind, error, tb)
            self.finish()

    def _fail(
        self,
        kind: type[BaseException],
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if issubclass(kind, KeyboardInterrupt):
            self._status = "killed"
            self._error = "KeyboardInterrupt"
            return
        self._status = "failed"
        import traceback

        self._error = "".join(traceback.format_exception_only(kind, error)).strip()


def _sample_interval() -> float:
    from runlab._env import seconds_from_env

    return seconds_from_env("RUNLAB_SYSTEM_INTERVAL_S", 5.0, minimum=0.5)
