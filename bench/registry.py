"""The tools on the bench, the sizes of each scale, and the issue's targets.

Each tool is one worker script under ``bench/tools/`` and the phases it can
take part in; a phase a tool cannot do has a reason, printed in the report.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
TOOLS_DIR = BENCH / "tools"

ALL_PHASES = (
    "log",
    "verify",
    "write",
    "read",
    "create",
    "query",
    "ls",
    "start",
    "memory",
    "flush",
)


def _no_env(_store: Path) -> dict[str, str]:
    return {}


@dataclass(frozen=True)
class Tool:
    """A tracker (or a floor) and how the bench drives it."""

    key: str
    label: str
    worker: str
    module: str | None = None  # what must be importable; None for the floors
    phases: tuple[str, ...] = ALL_PHASES
    why_not: dict[str, str] = field(default_factory=dict)
    store_env: Callable[[Path], dict[str, str]] = _no_env
    floor: bool = False
    # True where the read phase writes its series with a batch call, so the
    # logging phase's cost per point says nothing about how long that takes.
    batch_write: bool = False

    @property
    def is_peer(self) -> bool:
        return not self.floor and self.key != "runlab"

    def reason(self, phase: str) -> str:
        return self.why_not.get(phase, "not applicable")


def _mlflow_files(store: Path) -> dict[str, str]:
    return {
        "MLFLOW_TRACKING_URI": f"file://{store}/mlruns",
        "MLFLOW_ALLOW_FILE_STORE": "true",
    }


def _mlflow_sqlite(store: Path) -> dict[str, str]:
    return {"MLFLOW_TRACKING_URI": f"sqlite:///{store}/mlflow.db"}


_FLOOR_RUNS = "a floor has no runs"
_WANDB_READ = "W&B has no API that reads an offline run (wandb.Api asks the server)"
_WANDB_RUNS = "W&B has no local query over offline runs"
_TB_FILTER = "TensorBoard filters on hparams only in its server's plugin"

TOOLS: dict[str, Tool] = {
    tool.key: tool
    for tool in (
        Tool("runlab", "runlab", "runlab_worker.py", module="runlab"),
        Tool(
            "list",
            "list (floor)",
            "list_worker.py",
            floor=True,
            phases=("log", "verify", "write", "read", "memory"),
            why_not=dict.fromkeys(("create", "query", "ls", "start"), _FLOOR_RUNS),
        ),
        Tool(
            "csv",
            "csv (floor)",
            "csv_worker.py",
            floor=True,
            phases=("log", "verify", "write", "read"),
            why_not=dict.fromkeys(("create", "query", "ls", "start"), _FLOOR_RUNS),
        ),
        Tool(
            "mlflow-file",
            "MLflow (file store)",
            "mlflow_worker.py",
            module="mlflow",
            phases=("log", "verify", "write", "read", "create", "query", "ls", "start"),
            store_env=_mlflow_files,
            batch_write=True,
        ),
        Tool(
            "mlflow-sqlite",
            "MLflow (SQLite store)",
            "mlflow_worker.py",
            module="mlflow",
            phases=("log", "verify", "write", "read", "create", "query", "ls", "start"),
            store_env=_mlflow_sqlite,
            batch_write=True,
        ),
        Tool(
            "wandb",
            "W&B (offline)",
            "wandb_worker.py",
            module="wandb",
            phases=("log", "verify", "start"),
            why_not={
                "read": _WANDB_READ,
                "create": _WANDB_RUNS,
                "query": _WANDB_RUNS,
                "ls": _WANDB_RUNS,
            },
        ),
        Tool(
            "aim",
            "Aim",
            "aim_worker.py",
            module="aim",
            phases=("log", "verify", "write", "read", "create", "query", "start"),
            why_not={"ls": "no command line query; see the 200-run filter"},
        ),
        Tool(
            "tensorboardx",
            "TensorBoard (tensorboardX)",
            "tensorboardx_worker.py",
            module="tensorboardX",
            phases=("log", "verify", "write", "read", "create", "query", "start"),
            why_not={"ls": _TB_FILTER},
        ),
    )
}

# What `import X` and `X --help` mean for each row of the start-up tables.
IMPORTS: dict[str, tuple[str, str]] = {
    "runlab": ("runlab", "import runlab"),
    "mlflow": ("mlflow", "import mlflow"),
    "wandb": ("wandb", "import wandb"),
    "aim": ("aim", "import aim"),
    "tensorboardX": ("tensorboardX", "import tensorboardX"),
    "tensorboard reader": (
        "tensorboard",
        "from tensorboard.backend.event_processing import event_accumulator",
    ),
}
CLIS: dict[str, tuple[str, str]] = {
    "runlab": ("runlab", "runlab"),
    "mlflow": ("mlflow", "mlflow"),
    "wandb": ("wandb", "wandb"),
    "aim": ("aim", "aim"),
    "tensorboard": ("tensorboard", "tensorboard"),
}


@dataclass(frozen=True)
class Scale:
    """How big each phase is, and how often it repeats."""

    name: str
    log_steps: int
    wide_steps: int
    read_sizes: tuple[int, ...]
    peer_read_sizes: tuple[int, ...]  # the tiny scale spares the peers' slow starts
    runs: int
    many_runs: int
    memory_points: int
    flush_points: int  # logged ten a call, then finish() is timed
    reps: int  # runlab and the floors
    peer_reps: int
    import_reps: int
    peer_budget_s: float  # a peer's logging loop stops after this long
    cap_s: float  # a peer's phase (one process) is stopped after this long
    runlab_cap_s: float
    create_procs: int  # processes that make the many runs side by side
    slow_reps: int  # `runlab reindex` (a peer reads 1,000,000 points once)
    foresee_s: float  # a peer's series is not written when that would take longer


SCALES = {
    "full": Scale(
        name="full",
        log_steps=100_000,
        wide_steps=10_000,
        read_sizes=(100_000, 1_000_000),
        peer_read_sizes=(100_000, 1_000_000),
        runs=200,
        many_runs=10_000,
        memory_points=10_000_000,
        flush_points=1_000_000,
        reps=5,
        peer_reps=3,
        import_reps=5,
        peer_budget_s=3.0,
        cap_s=120.0,
        runlab_cap_s=600.0,
        create_procs=2,
        slow_reps=3,
        foresee_s=60.0,
    ),
    "tiny": Scale(
        name="tiny",
        log_steps=2_000,
        wide_steps=200,
        read_sizes=(1_000, 5_000),
        peer_read_sizes=(1_000,),
        runs=20,
        many_runs=60,
        memory_points=20_000,
        flush_points=20_000,
        reps=2,
        peer_reps=1,
        import_reps=1,
        peer_budget_s=0.5,
        cap_s=60.0,
        runlab_cap_s=60.0,
        create_procs=2,
        slow_reps=1,
        foresee_s=30.0,
    ),
}
