"""The phases of the benchmark, each tool in fresh processes, results as plain dicts.

A phase a tool cannot take part in gets ``{"skip": reason}``; a peer phase that
would run past the cap is not started when its length can be foreseen from
an earlier phase (the reason names the estimate), and is stopped at the cap
otherwise (``{"skip": "timeout ..."}``).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import procs
from registry import CLIS, IMPORTS, TOOLS, Scale, Tool

SHAPES = ("narrow", "wide")


def importable(module: str | None) -> bool:
    return module is None or importlib.util.find_spec(module) is not None


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


@dataclass
class Bench:
    """One run of the benchmark: its scale, its tools, its folders, its results."""

    scale: Scale
    tools: list[Tool]
    work: Path
    results: dict[str, Any] = field(default_factory=dict)
    boxes: dict[str, procs.Sandbox] = field(default_factory=dict)
    began: float = field(default_factory=time.perf_counter)

    def __post_init__(self) -> None:
        for tool in self.tools:
            tag = f"{tool.key}-{uuid.uuid4().hex[:8]}"
            self.boxes[tool.key] = procs.Sandbox(self.work / tool.key, tag)

    def say(self, text: str) -> None:
        print(
            f"[{time.perf_counter() - self.began:7.1f} s] {text}",
            file=sys.stderr,
            flush=True,
        )

    def taking_part(self, phase: str) -> list[Tool]:
        return [t for t in self.tools if phase in t.phases]

    def reps(self, tool: Tool) -> int:
        return self.scale.peer_reps if tool.is_peer else self.scale.reps

    def cap(self, tool: Tool) -> float:
        return self.scale.cap_s if tool.is_peer else self.scale.runlab_cap_s

    def worker(
        self, tool: Tool, phase: str, store: Path, **options: Any
    ) -> procs.Outcome:
        outcome = procs.run_worker(
            tool,
            phase,
            self.boxes[tool.key],
            store,
            cap_s=options.pop("cap", self.cap(tool)),
            **options,
        )
        if not outcome.ok:
            self.say(f"  {tool.key} {phase}: {outcome.result.get('error')}")
        return outcome

    def skips(self, phase: str) -> dict[str, Any]:
        return {
            t.key: {"skip": t.reason(phase)}
            for t in self.tools
            if phase not in t.phases
        }


# Start-up ------------------------------------------------------------------------


def prepare(bench: Bench) -> None:
    """Compile the sources and import every tool once, so timings find .pyc files."""
    env = procs.base_env()
    import runlab

    source = Path(runlab.__file__).parent
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(source)], check=True, env=env
    )
    for module, statement in IMPORTS.values():
        if importable(module):
            subprocess.run(
                [sys.executable, "-c", statement],
                env=env,
                check=True,
                cwd=bench.work,
                capture_output=True,
            )


def run_imports(bench: Bench) -> None:
    """``python -c "import X"`` less ``python -c "pass"``, and the peak RSS of both."""
    rows = {label: stmt for label, (mod, stmt) in IMPORTS.items() if importable(mod)}
    rows = {"(bare interpreter)": "pass", **rows}
    found: dict[str, dict[str, list[float]]] = {
        k: {"wall": [], "rss": []} for k in rows
    }
    for _rep in range(bench.scale.import_reps):
        for label, statement in rows.items():
            wall, rss, _err = procs.measure_process(
                [sys.executable, "-c", statement], procs.base_env(), bench.work
            )
            found[label]["wall"].append(wall)
            found[label]["rss"].append(rss)
    bench.results["imports"] = found
    bench.say("imports timed")


def cli_command(script: str) -> list[str] | None:
    """The console script next to this interpreter; runlab falls back to -m."""
    path = Path(sys.executable).parent / script
    if path.exists():
        return [str(path)]
    return [sys.executable, "-m", "runlab"] if script == "runlab" else None


def run_help(bench: Bench) -> None:
    found: dict[str, Any] = {}
    for label, (module, script) in CLIS.items():
        command = cli_command(script) if importable(module) else None
        if command is None:
            continue
        walls = [
            procs.measure_process([*command, "--help"], procs.base_env(), bench.work)[0]
            for _ in range(bench.scale.import_reps)
        ]
        shown = " ".join([Path(command[0]).name, *command[1:], "--help"])
        found[label] = {"wall": walls, "command": shown}
    bench.results["help"] = found
    bench.say("--help timed")


# Logging ---------------------------------------------------------------------------


def shape_size(bench: Bench, shape: str) -> tuple[int, int]:
    return (
        (bench.scale.log_steps, 1)
        if shape == "narrow"
        else (bench.scale.wide_steps, 10)
    )


def run_logging(bench: Bench) -> None:
    """Log each shape in fresh processes; check the first repetition read back."""
    logged: dict[str, dict[str, Any]] = {s: {} for s in SHAPES}
    checked: dict[str, dict[str, Any]] = {s: {} for s in SHAPES}
    for shape in SHAPES:
        steps, width = shape_size(bench, shape)
        tools = bench.taking_part("log")
        for rep in range(max(bench.reps(t) for t in tools)):
            for tool in (t for t in tools if rep < bench.reps(t)):
                store = bench.boxes[tool.key].store(f"log-{shape}-{rep}")
                budget = bench.scale.peer_budget_s if tool.is_peer else 1e9
                out = bench.worker(
                    tool, "log", store, steps=steps, width=width, budget=budget
                )
                logged[shape].setdefault(tool.key, []).append(out.result)
                if rep == 0 and out.ok:
                    checked[shape][tool.key] = bench.worker(
                        tool,
                        "verify",
                        store,
                        steps=out.result["steps"],
                        width=width,
                        ref=out.result["ref"],
                    ).result
        bench.say(f"logging, {shape}: done")
    bench.results["log"] = logged
    bench.results["verify"] = checked


def cost_per_point(bench: Bench, tool: str, shape: str = "narrow") -> float | None:
    """Median µs per point of a tool in the logging phase."""
    runs = bench.results.get("log", {}).get(shape, {}).get(tool, [])
    costs = [
        r["loop_s"] / r["points"] * 1e6
        for r in runs
        if "error" not in r and r["points"]
    ]
    return median(costs)


# Reading ---------------------------------------------------------------------------


def foreseen_s(
    bench: Bench, tool: Tool, size: int, before: tuple[int, float] | None
) -> float | None:
    """How long writing ``size`` points will take, where it can be foreseen."""
    if before is not None:
        return before[1] * size / before[0]
    cost = None if tool.batch_write else cost_per_point(bench, tool.key)
    return cost * size / 1e6 if cost is not None else None


def run_reading(bench: Bench) -> None:
    found: dict[str, dict[str, Any]] = {
        str(n): bench.skips("read") for n in bench.scale.read_sizes
    }
    for tool in bench.taking_part("read"):
        before = None
        for size in bench.scale.read_sizes:
            if tool.is_peer and size not in bench.scale.peer_read_sizes:
                found[str(size)][tool.key] = {
                    "skip": f"{bench.scale.name} scale: not run"
                }
                continue
            cell = found[str(size)][tool.key] = read_series(bench, tool, size, before)
            if "write_s" in cell:
                before = (size, cell["write_s"])
    bench.results["read"] = found
    bench.say("reading: done")


def read_series(
    bench: Bench, tool: Tool, size: int, before: tuple[int, float] | None
) -> dict[str, Any]:
    """Write one series (untimed), then read it back in fresh processes."""
    guess = foreseen_s(bench, tool, size, before)
    if tool.is_peer and guess is not None and guess > bench.scale.foresee_s:
        return {
            "skip": f"writing {size:,} points would take about {guess:.0f} s, over "
            f"the {bench.scale.foresee_s:.0f} s allowed"
        }
    store = bench.boxes[tool.key].store(f"read-{size}")
    written = bench.worker(tool, "write", store, steps=size)
    if not written.ok:
        return {"skip": f"writing failed: {written.result.get('error')}"}
    reads = []
    slow = tool.is_peer and size >= 1_000_000
    for _rep in range(1 if slow else bench.reps(tool)):
        out = bench.worker(tool, "read", store, steps=size, ref=written.result["ref"])
        reads.append(out.result | {"process_s": out.wall_s})
    return {"write_s": written.wall_s, "reads": reads, "write": written.result}


# Many runs -------------------------------------------------------------------------


def run_runs(bench: Bench) -> None:
    """200 runs: create them, then list, filter and read last values in fresh processes."""
    found = bench.skips("create")
    for tool in bench.taking_part("create"):
        store = bench.boxes[tool.key].store("runs")
        made = bench.worker(tool, "create", store, runs=bench.scale.runs)
        if not made.ok:
            found[tool.key] = {"skip": f"creating failed: {made.result.get('error')}"}
            continue
        queries = [
            bench.worker(tool, "query", store, runs=bench.scale.runs).result
            for _ in range(bench.reps(tool))
        ]
        found[tool.key] = {
            "create": made.result,
            "queries": queries,
            "store": str(store),
        }
    bench.results["runs"] = found
    bench.say("200 runs: done")


def make_runlab_runs(bench: Bench, store: Path) -> dict[str, Any]:
    """Make the many runs with runlab.start/finish, in parallel processes.

    They run in the small environment of ``bench/.venv-runs`` (runlab and its
    dependencies) where there is one: each run records the installed packages,
    and in the bench's own environment of ~200 packages that alone takes most
    of a run's 80 ms. Without it they run here.
    """
    tool, n, procs_n = TOOLS["runlab"], bench.scale.many_runs, bench.scale.create_procs
    python = runs_python()
    parts = [(i * n // procs_n, (i + 1) * n // procs_n) for i in range(procs_n)]
    begin = time.perf_counter()
    with ThreadPoolExecutor(procs_n) as pool:
        outs = list(
            pool.map(
                lambda part: bench.worker(
                    tool,
                    "create",
                    store,
                    first=part[0],
                    runs=part[1] - part[0],
                    extra_env={"RUNLAB_SYSTEM_METRICS": "0"},
                    python=python,
                ),
                parts,
            )
        )
    wall = time.perf_counter() - begin
    errors = [o.result.get("error") for o in outs if not o.ok]
    return {"create_s": wall, "processes": procs_n, "errors": errors, "python": python}


def runs_python() -> str:
    small = Path(__file__).resolve().parent / ".venv-runs" / "bin" / "python"
    return str(small) if small.exists() else sys.executable


def runlab_cli(
    bench: Bench, args: list[str], reps: int, expect: str | None = None
) -> list[float]:
    """Wall seconds of a runlab command, as a whole process, ``reps`` times."""
    command = cli_command("runlab")
    assert command is not None
    box = bench.boxes["runlab"]
    walls = []
    for _ in range(reps):
        wall, _rss, err = procs.measure_process(
            command + args, box.env(TOOLS["runlab"], box.cwd), box.cwd
        )
        if expect is not None and expect not in err:
            raise AssertionError(f"runlab {args[0]} said {err!r}; expected {expect!r}")
        walls.append(wall)
    return walls


def run_many(bench: Bench) -> None:
    """10,000 runs: `runlab ls FILTER --sort KEY` and `runlab reindex` as whole processes."""
    found = bench.skips("ls")
    if "runlab" in bench.boxes:
        store = bench.boxes["runlab"].store("many")
        made = make_runlab_runs(bench, store)
        bench.say(
            f"  made {bench.scale.many_runs} runlab runs in {made['create_s']:.1f} s"
        )
        matching = bench.scale.many_runs // 10
        ls = ["ls", "cfg.k3 = 5", "--sort", "-m0.last", "--store", str(store)]
        found["runlab"] = {"create": made}
        try:
            found["runlab"]["ls"] = runlab_cli(
                bench, ls, bench.scale.reps, expect=f"{matching} run(s) in"
            )
        except AssertionError as err:
            found["runlab"]["error"] = str(err)
        found["runlab"]["reindex"] = runlab_cli(
            bench, ["reindex", "--store", str(store)], bench.scale.slow_reps
        )
    for tool in (t for t in bench.taking_part("ls") if t.key != "runlab"):
        found[tool.key] = (
            peer_many(bench, tool)
            if bench.scale.name == "full"
            else {"skip": f"{bench.scale.name} scale: not run"}
        )
    bench.results["many"] = found
    bench.say("10,000 runs: done")


def peer_many(bench: Bench, tool: Tool) -> dict[str, Any]:
    runs = bench.results["runs"].get(tool.key, {})
    if "create" not in runs:
        return {"skip": "the 200-run phase did not finish"}
    guess = runs["create"]["create_s"] * bench.scale.many_runs / bench.scale.runs
    if guess > bench.scale.cap_s:
        return {
            "skip": f"creating {bench.scale.many_runs:,} runs would take about "
            f"{guess:.0f} s (from its 200 runs), over the "
            f"{bench.scale.cap_s:.0f} s cap"
        }
    store = bench.boxes[tool.key].store("many")
    made = bench.worker(tool, "create", store, runs=bench.scale.many_runs)
    if not made.ok:
        return {"skip": f"creating failed: {made.result.get('error')}"}
    outs = [
        bench.worker(tool, "ls", store, runs=bench.scale.many_runs)
        for _ in range(bench.reps(tool))
    ]
    return {"create": made.result, "ls": [o.wall_s for o in outs if o.ok]}


# Memory and start ------------------------------------------------------------------


def run_memory(bench: Bench) -> None:
    """Peak memory of a process that logs many points, in both shapes (one run each)."""
    found: dict[str, dict[str, Any]] = {}
    points = bench.scale.memory_points
    for shape in SHAPES:
        width = 1 if shape == "narrow" else 10
        found[shape] = bench.skips("memory")
        for tool in bench.taking_part("memory"):
            store = bench.boxes[tool.key].store(f"memory-{shape}")
            found[shape][tool.key] = bench.worker(
                tool, "memory", store, steps=points // width, width=width
            ).result
        for tool in bench.tools:
            cost = cost_per_point(bench, tool.key, shape)
            if tool.is_peer and cost is not None:
                found[shape][tool.key] = {
                    "skip": f"not run: {points:,} points would take about "
                    f"{cost * points / 1e6:,.0f} s at its {cost:.0f} µs a point"
                }
    bench.results["memory"] = found
    bench.say("memory: done")


def run_flush(bench: Bench) -> None:
    """finish() with about 1,000,000 points queued: logged before the writer's first drain."""
    found = bench.skips("flush")
    calls = bench.scale.flush_points // 10
    for tool in bench.taking_part("flush"):
        found[tool.key] = [
            bench.worker(
                tool, "flush", bench.boxes[tool.key].store(f"flush-{rep}"), steps=calls
            ).result
            for rep in range(bench.reps(tool))
        ]
    bench.results["flush"] = found
    bench.say("flush: done")


def make_git_repo(path: Path) -> None:
    """A small project in git, with a change and an untracked file, as users have."""
    path.mkdir(parents=True)
    git = ["git", "-c", "user.name=bench", "-c", "user.email=bench@example.invalid"]
    subprocess.run([*git, "init", "-q"], cwd=path, check=True)
    for i in range(50):
        (path / f"module_{i}.py").write_text(f"VALUE = {i}\n" * 40)
    (path / "data.txt").write_text("x" * 200_000)
    subprocess.run([*git, "add", "."], cwd=path, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "start"], cwd=path, check=True)
    (path / "module_0.py").write_text("VALUE = -1\n")
    (path / "notes.txt").write_text("untracked\n")


def git_status(path: Path) -> str:
    return subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"],
        cwd=path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def run_start(bench: Bench) -> None:
    """The first run's start in a git repository: runlab.start() against the peers'."""
    repo = bench.work / "project"
    make_git_repo(repo)
    status = git_status(repo)
    found = bench.skips("start")
    changed: dict[str, str] = {}
    tools = bench.taking_part("start")
    for rep in range(max(bench.reps(t) for t in tools)):
        for tool in (t for t in tools if rep < bench.reps(t)):
            store = bench.boxes[tool.key].store(f"start-{rep}")
            found.setdefault(tool.key, []).append(
                bench.worker(tool, "start", store, cwd=repo).result
            )
            if git_status(repo) != status:
                changed[tool.key] = git_status(repo)
                subprocess.run(["git", "clean", "-fdq"], cwd=repo, check=True)
    bench.results["start"] = found
    bench.results["repo_changed"] = changed
    bench.say("start: done")


def run_footprint(bench: Bench) -> None:
    """Helpers left running, lock files left behind, files written outside the stores."""
    time.sleep(1.0)
    found = {}
    for key, box in bench.boxes.items():
        left = procs.tagged_processes(box.tag)
        procs.end_processes([p["pid"] for p in left])
        found[key] = {
            "processes": left,
            "lock_files": procs.lock_files([s for s in box.stores if s.exists()]),
            "outside": procs.files_outside(box),
            "repo": bench.results.get("repo_changed", {}).get(key, ""),
        }
    bench.results["footprint"] = found


def cleanup(work: Path) -> None:
    shutil.rmtree(work, ignore_errors=True)


def versions(tools: list[Tool]) -> dict[str, str]:
    from importlib import metadata

    names = {
        "runlab",
        "numpy",
        "mlflow",
        "wandb",
        "aim",
        "tensorboardX",
        "tensorboard",
        "protobuf",
        "SQLAlchemy",
        "matplotlib",
    }
    found = {}
    for name in sorted(names):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    found["runlab checkout"] = checkout()
    found["python"] = sys.version.split()[0]
    found["executable"] = sys.executable
    found["PYTHONDONTWRITEBYTECODE (bench's own)"] = os.environ.get(
        "PYTHONDONTWRITEBYTECODE", ""
    )
    return found


def checkout() -> str:
    """The commit of the runlab checkout, marked when files differ from it."""
    done = subprocess.run(
        ["git", "describe", "--always", "--dirty"],
        cwd=Path(__file__).resolve().parent,
        capture_output=True,
        text=True,
    )
    return done.stdout.strip() or "unknown"
