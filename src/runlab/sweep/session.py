"""Start or resume a sweep from the command line: plan, executor, progress bar."""

from __future__ import annotations

import fcntl
import importlib.util
import os
import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from runlab.errors import ConfigError, RunlabError
from runlab.store.store import Store
from runlab.sweep.executor import Executor, LocalExecutor
from runlab.sweep.runner import SweepRunner
from runlab.sweep.spec import SweepSpec, load_sweep, loads_sweep
from runlab.sweep.state import (
    DONE_STATES,
    SweepState,
    TrialState,
    create_sweep,
    read_sweep,
)

__all__ = ["is_running", "make_executor", "resume_sweep", "stale_view", "start_sweep"]

OPTUNA_FILE = "optuna.sqlite"
LOCK_FILE = "lock"


def start_sweep(
    store: Store,
    file: Path,
    *,
    parallel: int = 1,
    gpus: Sequence[str] = (),
    executor: str = "local",
    address: str | None = None,
    retries: int = 0,
    progress: bool = True,
) -> SweepState:
    """Read ``file``, plan its trials, and run them all.

    Raises:
        ConfigError: the sweep file (or its base config) is wrong; nothing
            was written to the store.
        SweepInterrupted: stopped by Ctrl-C or SIGTERM; the state is saved.
    """
    from runlab.sweep.plan import plan_trials

    spec = load_sweep(file)
    check_gpus(gpus, spec.gpus_per_trial)
    points = [] if spec.method == "optuna" else plan_trials(spec)
    # Every mistake that can be seen now is said before the store is touched.
    _check_ready(spec, points, Path.cwd())
    _check_executor(executor, address)
    state = create_sweep(
        store.path,
        file_text=file.read_text(encoding="utf-8"),
        file=str(file.resolve()),
        method=spec.method,
        name=spec.name,
        trials=[TrialState(p.index, dict(p.params), p.seed) for p in points],
        executor=executor,
        cwd=os.getcwd(),
        options=_options(parallel, gpus, executor, address, retries),
    )
    with holding_sweep(state):
        runner = _runner(store, spec, state, executor, address, parallel, gpus, retries)
        return _run(runner, progress)


def resume_sweep(
    store: Store,
    ref: str,
    *,
    parallel: int | None = None,
    gpus: Sequence[str] | None = None,
    executor: str | None = None,
    address: str | None = None,
    retries: int | None = None,
    progress: bool = True,
) -> SweepState:
    """Run the trials of sweep ``ref`` that did not finish (see docs/sweeps.md).

    An option left None is what the sweep was last run with.
    """
    state = read_sweep(store.path, ref)
    text = (state.folder / "sweep.yaml").read_text(encoding="utf-8")
    spec = loads_sweep(text, Path(state.file))
    was = state.options
    gpus = list(was.get("gpus") or []) if gpus is None else list(gpus)
    executor = executor or was.get("executor") or "local"
    if address is None and executor == was.get("executor"):
        address = was.get("address")
    parallel = parallel or was.get("parallel") or (len(gpus) if gpus else 1)
    retries = was.get("retries", 0) if retries is None else retries
    check_gpus(gpus, spec.gpus_per_trial)
    # The trials run where the sweep was started, wherever it is resumed from.
    _check_ready(spec, [], Path(state.cwd) if state.cwd else Path.cwd())
    _check_executor(executor, address)
    with holding_sweep(state):
        state = read_sweep(store.path, state.id)  # as its last runner left it
        for trial in state.trials:
            # A trial still marked running lost its runner: it did not finish.
            if trial.state == "running":
                trial.state = "killed"
        state.options = _options(parallel, gpus, executor, address, retries)
        state.save()
        runner = _runner(store, spec, state, executor, address, parallel, gpus, retries)
        return _run(runner, progress)


def _options(
    parallel: int,
    gpus: Sequence[str],
    executor: str,
    address: str | None,
    retries: int,
) -> dict[str, Any]:
    return {"parallel": parallel, "gpus": list(gpus), "executor": executor,
            "address": address, "retries": retries}  # fmt: skip


def check_gpus(gpus: Sequence[str], per_trial: int) -> None:
    """Refuse GPU lists no trial could use as asked."""
    odd = [g for g in gpus if not _is_gpu_id(g)]
    if odd:
        raise RunlabError(
            f"--gpus has '{odd[0]}', which is not a GPU: give indices as "
            "nvidia-smi numbers them (--gpus 0,1) or GPU UUIDs (GPU-...)."
        )
    repeated = sorted({g for g in gpus if list(gpus).count(g) > 1})
    if repeated:
        raise RunlabError(f"--gpus names GPU {', '.join(repeated)} more than once.")
    if gpus and per_trial > len(gpus):
        raise RunlabError(
            f"Each trial asks for {per_trial} GPUs (gpus_per_trial) but --gpus "
            f"gives {len(gpus)}."
        )


def _is_gpu_id(text: str) -> bool:
    # What CUDA_VISIBLE_DEVICES takes: an index, or a GPU or MIG UUID.
    return text.isdigit() or text.startswith(("GPU-", "MIG-"))


def is_running(state: SweepState) -> bool:
    """Whether a process is running the sweep now (it holds the sweep's lock)."""
    try:
        lock = open(state.folder / LOCK_FILE, encoding="utf-8")  # noqa: SIM115
    except OSError:
        return False
    with lock:
        try:
            fcntl.flock(lock.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(lock.fileno(), fcntl.LOCK_UN)
        return False


def stale_view(state: SweepState) -> bool:
    """Show trials left ``running`` by a runner that died as ``killed``.

    Changes ``state`` in memory only (the file is the runner's to write) and
    returns whether any trial was changed.
    """
    stale = [t for t in state.trials if t.state == "running"]
    if not stale or is_running(state):
        return False
    for trial in stale:
        trial.state = "killed"
    return True


@contextmanager
def holding_sweep(state: SweepState) -> Iterator[None]:
    """Be the only process running this sweep, or say which one is.

    Raises:
        RunlabError: another process holds the sweep.
    """
    path = state.folder / LOCK_FILE
    with open(path, "a+", encoding="utf-8") as lock:
        try:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            holder = lock.read().strip() or "another process"
            raise RunlabError(
                f"Sweep {state.id} is being run by pid {holder}; wait for it, "
                "or stop it (Ctrl-C) before resuming."
            ) from None
        lock.seek(0)
        lock.truncate()
        lock.write(str(os.getpid()))
        lock.flush()
        yield


def _check_ready(spec: SweepSpec, points: Sequence[Any], cwd: Path) -> None:
    """The command can start in ``cwd``, the extras are there, every config builds."""
    from runlab.config import load_config
    from runlab.sweep.plan import trial_config

    program = spec.command[0]
    if "/" not in program and shutil.which(program) is None:
        raise RunlabError(f"{spec.path}: command '{program}' is not found on PATH.")
    if "/" in program and not (cwd / program).exists():
        raise RunlabError(
            f"{spec.path}: command '{program}' does not exist (in {cwd}, where "
            "the trials run)."
        )
    if spec.method == "optuna" and importlib.util.find_spec("optuna") is None:
        raise RunlabError(
            f"{spec.path}: method optuna needs Optuna: pip install 'runlab[optuna]'."
        )
    base = load_config(spec.config) if spec.config else {}
    for point in points:
        try:
            trial_config(base, point.params, point.seed, spec.seeds_key)
        except (ConfigError, ValueError, TypeError) as err:
            raise RunlabError(f"{spec.path}: trial {point.index}: {err}") from None


def _check_executor(executor: str, address: str | None) -> None:
    """An address goes with Ray; Ray is installed and its head answers."""
    if executor != "ray":
        if address is not None:
            raise RunlabError(
                f"--address is the Ray head's, but the sweep runs on the {executor} "
                "executor; add --executor ray to run it on Ray."
            )
        return
    from runlab.sweep.ray_executor import check_cluster

    assert address is not None
    check_cluster(address)


def make_executor(
    kind: str,
    *,
    parallel: int,
    gpus: Sequence[str] = (),
    gpus_per_trial: int = 1,
    address: str | None = None,
) -> Executor:
    """The executor named ``kind`` ("local" or "ray")."""
    if kind == "ray":
        from runlab.sweep.ray_executor import RayExecutor

        assert address is not None
        wanted = gpus_per_trial if gpus else 0
        return RayExecutor(address, parallel, gpus_per_trial=wanted)
    return LocalExecutor(parallel, gpus, gpus_per_trial)


def _runner(
    store: Store,
    spec: SweepSpec,
    state: SweepState,
    executor: str,
    address: str | None,
    parallel: int,
    gpus: Sequence[str],
    retries: int,
) -> SweepRunner:
    search = None
    if spec.method == "optuna":
        from runlab.sweep.search import OptunaSearch

        search = OptunaSearch(spec, state.folder / OPTUNA_FILE)
    chosen = make_executor(
        executor, parallel=parallel, gpus=gpus,
        gpus_per_trial=spec.gpus_per_trial, address=address,
    )  # fmt: skip
    state.executor = chosen.name
    return SweepRunner(store, spec, state, chosen, retries=retries, search=search)


def _run(runner: SweepRunner, progress: bool) -> SweepState:
    if not progress:
        return runner.run()
    with _ProgressBar(_planned(runner)) as bar:
        runner.progress = bar.update
        return runner.run()


def _planned(runner: SweepRunner) -> int:
    if runner.spec.method == "optuna":
        return max(runner.spec.trials or 0, len(runner.state.trials))
    return len(runner.state.trials)


class _ProgressBar:
    """Done / running / failed / left, and the time left, on stderr."""

    def __init__(self, total: int) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.total = total
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TimeElapsedColumn(),
            TextColumn("elapsed,"),
            TimeRemainingColumn(),
            TextColumn("to go"),
            console=Console(stderr=True),
        )
        self.task = self.progress.add_task("sweep", total=total)

    def __enter__(self) -> _ProgressBar:
        self.progress.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.progress.stop()

    def update(self, state: SweepState) -> None:
        counts = state.counts()
        done = sum(counts[s] for s in DONE_STATES) + counts["failed"]
        left = max(0, self.total - done - counts["running"])
        text = (
            f"{done}/{self.total} done · {counts['running']} running · "
            f"{counts['failed']} failed · {left} left"
        )
        if counts["killed"]:
            text += f" · {counts['killed']} killed"
        self.progress.update(self.task, completed=done, description=text)
