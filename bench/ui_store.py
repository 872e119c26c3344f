"""The stores of the web page benchmark, made once with runlab's own API and kept.

Two kinds of store, each made by a few worker processes calling
``runlab.start`` / ``Run.log`` / ``Run.finish`` (system metrics off)::

    runs    many short runs: 8 config keys (6 of them varying), 3 to 5 metrics
            of 20 points, tags, a name; the table's load
    series  few long runs: ``train/loss`` at every step, ``val/acc`` every
            100 steps; the charts' load

A store is kept under ``bench/.ui-stores/`` with a marker file beside it that
records its parameters; :func:`ensure_store` reuses a store whose marker says it
was completed with the same parameters and remakes any other. The workers run in
a small git repository made for them (so that runs carry a branch and a commit,
as real runs do) and, where ``bench/.venv-runs`` exists, in that small
environment, because each run records the installed packages and that costs
about 20 ms a run in an environment of a hundred packages.

Run as a script, this module is the worker (it needs runlab alone)::

    python bench/ui_store.py runs|series STORE FIRST COUNT POINTS
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import json
import math
import os
import random
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
STORES = BENCH / ".ui-stores"
# Bumped when what a worker writes changes, so that kept stores are remade.
STORE_FORMAT = 1

OPTIMIZERS = ("adam", "adamw", "sgd")
RATES = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2)
BATCHES = (32, 64, 128, 256)
WIDTHS = (64, 128, 256, 512)
DEPTHS = (2, 4, 6)
METRICS = ("train/loss", "train/acc", "val/loss", "val/acc", "val/f1")
# Dropped from the workers' environment: they would point runlab elsewhere.
DROPPED = ("RUNLAB_DIR", "RUNLAB_RUN_DIR", "PYTHONDONTWRITEBYTECODE")


@dataclass(frozen=True)
class StoreSpec:
    """What one store holds; two specs that are equal make the same store."""

    kind: str  # "runs" or "series"
    runs: int
    points: int  # per metric and run
    processes: int = 2
    format: int = STORE_FORMAT

    @property
    def name(self) -> str:
        if self.kind == "runs":
            return f"runs-{self.runs}x{self.points}"
        return f"series-{self.runs}x{self.points}"

    @property
    def path(self) -> Path:
        return STORES / self.name


# --- The parent: reuse or make --------------------------------------------


@contextlib.contextmanager
def holding_stores() -> Iterator[None]:
    """Hold the stores for this process: a second bench would remake them under it.

    Raises:
        RuntimeError: another process holds them.
    """
    STORES.mkdir(parents=True, exist_ok=True)
    with open(STORES / ".lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RuntimeError(
                f"Another bench uses {STORES}; wait for it to end, then run again."
            ) from None
        yield


def ensure_store(spec: StoreSpec) -> dict[str, Any]:
    """Return the marker of a complete store for ``spec``, making it if needed.

    A store without a marker, or with one of other parameters, is removed and
    made afresh. The marker is written last, so an interrupted making is
    never taken for a complete store.
    """
    marker = _marker_path(spec)
    if marker.exists():
        found = json.loads(marker.read_text())
        if found.get("spec") == asdict(spec) and spec.path.is_dir():
            found["reused"] = True
            return found
    marker.unlink(missing_ok=True)
    shutil.rmtree(spec.path, ignore_errors=True)
    made = make_store(spec)
    marker.write_text(json.dumps(made, indent=1))
    made["reused"] = False
    return made


def make_store(spec: StoreSpec) -> dict[str, Any]:
    """Make the store of ``spec`` with worker processes; a progress bar shows it."""
    from rich.progress import Progress

    python, repo = workers_python(), _repository()
    parts = _split(spec.runs, spec.processes)
    errors: list[str] = []
    began = time.perf_counter()
    with Progress() as progress:
        task = progress.add_task(f"Making {spec.name}", total=spec.runs)
        threads = [
            _start_worker(
                spec, python, repo, part, lambda: progress.advance(task), errors
            )
            for part in parts
        ]
        for thread in threads:
            thread.join()
    if errors:
        raise RuntimeError(f"Workers failed making {spec.path}: {'; '.join(errors)}.")
    return {
        "spec": asdict(spec),
        "path": str(spec.path),
        "make_s": time.perf_counter() - began,
        "python": python,
        "made": time.strftime("%Y-%m-%d %H:%M:%S %z"),
    }


def workers_python() -> str:
    """``bench/.venv-runs``'s interpreter where it imports this checkout's runlab."""
    small = BENCH / ".venv-runs" / "bin" / "python"
    if small.exists():
        probe = subprocess.run(
            [str(small), "-c", "import runlab; print(runlab.__file__)"],
            capture_output=True,
            text=True,
        )
        if probe.returncode == 0 and Path(probe.stdout.strip()).is_relative_to(
            BENCH.parent
        ):
            return str(small)
    return sys.executable


def _split(total: int, parts: int) -> list[tuple[int, int]]:
    bounds = [i * total // parts for i in range(parts + 1)]
    return [(a, b - a) for a, b in itertools.pairwise(bounds) if b > a]


def _repository() -> Path:
    """A one-commit git repository for the workers to run in."""
    repo = STORES / "repo"
    if (repo / ".git").is_dir():
        return repo
    repo.mkdir(parents=True, exist_ok=True)
    (repo / "train.py").write_text("print('the bench trains nothing')\n")
    git = ["git", "-c", "user.name=bench", "-c", "user.email=bench@localhost"]
    git += ["-c", "commit.gpgsign=false"]
    for args in (["init", "-q", "-b", "main"], ["add", "."], ["commit", "-qm", "x"]):
        subprocess.run(git + args, cwd=repo, check=True)
    return repo


def _start_worker(
    spec: StoreSpec,
    python: str,
    repo: Path,
    part: tuple[int, int],
    advance: Callable[[], None],
    errors: list[str],
) -> threading.Thread:
    """A thread that runs one worker and advances the bar on each line it prints."""
    first, count = part
    env = {k: v for k, v in os.environ.items() if k not in DROPPED}
    env["RUNLAB_SYSTEM_METRICS"] = "0"
    command = [python, __file__, spec.kind, str(spec.path), str(first), str(count)]
    command.append(str(spec.points))

    def follow() -> None:
        with subprocess.Popen(
            command, cwd=repo, env=env, stdout=subprocess.PIPE, text=True
        ) as proc:
            assert proc.stdout is not None
            for _line in proc.stdout:
                advance()
        if proc.returncode != 0:
            errors.append(
                f"runs {first} to {first + count - 1}: exit {proc.returncode}"
            )

    thread = threading.Thread(target=follow, name=f"runs {first}-{first + count}")
    thread.start()
    return thread


def _marker_path(spec: StoreSpec) -> Path:
    return STORES / f"{spec.name}.complete.json"


# --- The worker: runs through runlab's API --------------------------------


def config_for(r: int) -> dict[str, Any]:
    """The config of run ``r`` of a runs store: 8 keys, 6 of them varying."""
    return {
        "optim": {"name": OPTIMIZERS[r % 3], "lr": RATES[r // 3 % 5]},
        "batch": BATCHES[r // 15 % 4],
        "seed": r % 7,
        "model": {"width": WIDTHS[r // 60 % 4], "depth": DEPTHS[r // 240 % 3]},
        "epochs": 20,
        "data": "cifar10",
    }


def make_runs(store: str, first: int, count: int, points: int) -> None:
    """Make runs ``first`` to ``first + count`` of a runs store; a line per run."""
    import runlab

    for r in range(first, first + count):
        config = config_for(r)
        tags = [config["optim"]["name"]] + (["baseline"] if r % 10 == 0 else [])
        name = f"{config['optim']['name']}-w{config['model']['width']}-{r}"
        run = runlab.start(config=config, name=name, tags=tags, store=store)
        metrics = METRICS[: 3 + r % 3]
        rate = 0.05 + 0.3 * math.log10(config["optim"]["lr"] * 1e4 + 1)
        for step in range(points):
            decay = math.exp(-rate * step)
            run.log({m: _value(m, decay, r) for m in metrics}, step=step)
        run.finish()
        print(r, flush=True)


def _value(metric: str, decay: float, r: int) -> float:
    wiggle = (r * 7919 % 1000) / 10000
    return 2.3 * decay + wiggle if metric.endswith("loss") else 1 - decay - wiggle


def make_series(store: str, first: int, count: int, points: int) -> None:
    """Make long runs: ``train/loss`` every step, ``val/acc`` every 100 steps."""
    import runlab

    for r in range(first, first + count):
        noise = random.Random(r)
        run = runlab.start(
            config={"seed": r, "optim": {"lr": RATES[r % 5]}},
            name=f"long-{r}",
            store=store,
        )
        log = run.log
        for step in range(points):
            loss = 2.3 * math.exp(-step / (points / 4)) + 0.05 * noise.random()
            if step % 100 == 99:
                log({"train/loss": loss, "val/acc": 1 - loss / 2.5}, step=step)
            else:
                log({"train/loss": loss}, step=step)
        run.finish()
        print(r, flush=True)


WORKERS: dict[str, Callable[[str, int, int, int], None]] = {
    "runs": make_runs,
    "series": make_series,
}


if __name__ == "__main__":
    kind, store_arg, first_arg, count_arg, points_arg = sys.argv[1:6]
    WORKERS[kind](store_arg, int(first_arg), int(count_arg), int(points_arg))
