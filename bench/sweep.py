"""Time what ``runlab sweep`` adds to each trial, from launch to its first point.

Usage (from the checkout, with the repository's ``.venv``)::

    python bench/sweep.py           # 20 direct starts; 20 trials at --parallel 1 and 4
    python bench/sweep.py --quick   # 5 of each, a fast check

One tiny script is started in two ways, with the same Python, in a throwaway
folder, with ``RUNLAB_SYSTEM_METRICS=0``:

- directly (``subprocess.Popen([python, script])``, ``RUNLAB_DIR`` set): from
  the moment before ``Popen`` to the script's first logged point;
- as the trials of a grid sweep (``runlab sweep FILE --parallel N``): from each
  trial's ``started`` in ``state.json`` to its first logged point.

The script records ``time.time()`` on its first line as the metric ``t0``, so
each span splits into the time before the script's interpreter ran and the
script's own work. Overhead = median of the sweep's trials - median of the
direct starts. The full run writes ``bench/results/sweep.json`` and its section
of ``docs/benchmarks.md``; ``--quick`` writes ``bench/results/sweep-quick.json``.
No timing is asserted: the exit code is 1 only when a start or a trial failed.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import runlab

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
SECTION = "## Sweeps (`make bench-sweep`)"
# The web page's section runs to the end of the document (bench/ui.py and
# bench/report.py both rely on that), so this one goes before it.
BEFORE = "## The web page (`make bench-ui`)"
TARGET_S = 0.3

SCRIPT = """\
import time; T0 = time.time()
import runlab
run = runlab.start()
run.log({"x": 1.0, "t0": T0}, step=0)
print(run.id)
run.finish()
"""
# Dropped from every child's environment: the first recompiles every source at
# each start; the others would point runlab at another store or run.
DROPPED = ("PYTHONDONTWRITEBYTECODE", "RUNLAB_DIR", "RUNLAB_RUN_DIR")


@dataclass(frozen=True)
class Scale:
    """How many direct starts and sweep trials one run of this bench makes."""

    name: str
    reps: int
    trials: int
    parallel: tuple[int, ...] = (1, 4)


SCALES = {"full": Scale("full", 20, 20), "quick": Scale("quick", 5, 5)}


class BenchFailed(Exception):
    """A start or a trial did not end as it should; its figures mean nothing."""


# --- Measuring ------------------------------------------------------------------


def child_env(**extra: str) -> dict[str, str]:
    """This environment, less what would skew or misdirect a child, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k not in DROPPED}
    env["RUNLAB_SYSTEM_METRICS"] = "0"
    return env | extra


def first_point(store: Path, run_id: str) -> tuple[float, float, float]:
    """The run's creation time, its script's T0, and the time of its first point."""
    run = runlab.open_store(store).load_run(run_id)
    t0 = float(run.metric("t0").values[0])
    return float(run.record["started"]), t0, float(run.metric("x").times[0])


def direct_start(folder: Path, script: Path, store: Path) -> dict[str, float]:
    """Start the script once as a plain process; return its timeline."""
    launch = time.time()
    child = subprocess.Popen(
        [sys.executable, str(script)], cwd=folder, env=child_env(RUNLAB_DIR=str(store)),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    spawned = time.time()
    out, err = child.communicate(timeout=60)
    if child.returncode != 0:
        raise BenchFailed(f"The direct start exited {child.returncode}: {err!r}")
    created, t0, first = first_point(store, out.decode().strip())
    return {
        "launch": launch, "spawned": spawned, "t0": t0, "created": created,
        "first": first,
    }  # fmt: skip


def direct_starts(folder: Path, script: Path, reps: int) -> dict[str, Any]:
    """``reps`` direct starts after one that warms the caches; their figures."""
    store = folder / "direct-store"
    direct_start(folder, script, store)  # writes the bytecode and page caches
    starts = [direct_start(folder, script, store) for _ in range(reps)]
    spans = {
        "launch_to_first_s": [s["first"] - s["launch"] for s in starts],
        "launch_to_t0_s": [s["t0"] - s["launch"] for s in starts],
        "t0_to_first_s": [s["first"] - s["t0"] for s in starts],
        "t0_to_created_s": [s["created"] - s["t0"] for s in starts],
        "popen_s": [s["spawned"] - s["launch"] for s in starts],
    }
    return {"starts": starts, **summarize(spans)}


def sweep_file(folder: Path, script: Path, trials: int) -> Path:
    """A grid sweep of ``trials`` points, each running the script."""
    path = folder / "sweep.yaml"
    spec = {
        "command": [sys.executable, str(script)],
        "method": "grid",
        "parameters": {"i": list(range(trials))},
    }
    path.write_text(json.dumps(spec, indent=1))  # JSON is YAML
    return path


def run_sweep(folder: Path, file: Path, store: Path, parallel: int) -> dict[str, Any]:
    """Run ``runlab sweep`` once; return its state and how long it took."""
    argv = [sys.executable, "-m", "runlab", "sweep", str(file)]
    argv += ["--parallel", str(parallel), "--store", str(store)]
    began = time.time()
    done = subprocess.run(argv, cwd=folder, env=child_env(), capture_output=True)
    wall = time.time() - began
    if done.returncode != 0:
        raise BenchFailed(f"runlab sweep exited {done.returncode}: {done.stderr!r}")
    (state_file,) = (store / "sweeps").glob("*/state.json")
    return {"began": began, "wall_s": wall, "state": json.loads(state_file.read_text())}


def trial_spans(store: Path, state: dict[str, Any]) -> list[dict[str, float]]:
    """Each trial's timeline: submitted, run made, script's T0, first point, end."""
    spans = []
    for trial in state["trials"]:
        if trial["state"] != "finished" or len(trial["run_ids"]) != 1:
            raise BenchFailed(f"Trial {trial['index']} ended {trial['state']}.")
        created, t0, first = first_point(store, trial["run_ids"][0])
        spans.append(
            {"started": trial["started"], "created": created, "t0": t0,
             "first": first, "ended": trial["ended"]}
        )  # fmt: skip
    return spans


def sweep_figures(
    folder: Path, script: Path, scale: Scale, parallel: int
) -> dict[str, Any]:
    """One sweep of ``scale.trials`` trials at ``parallel``; its figures."""
    work = folder / f"parallel-{parallel}"
    work.mkdir()
    store = work / "store"
    run = run_sweep(work, sweep_file(work, script, scale.trials), store, parallel)
    trials = sorted(trial_spans(store, run["state"]), key=lambda t: t["started"])
    spans = {
        "started_to_first_s": [t["first"] - t["started"] for t in trials],
        "started_to_t0_s": [t["t0"] - t["started"] for t in trials],
        "started_to_created_s": [t["created"] - t["started"] for t in trials],
        "created_to_t0_s": [t["t0"] - t["created"] for t in trials],
        "t0_to_first_s": [t["first"] - t["t0"] for t in trials],
        "started_to_ended_s": [t["ended"] - t["started"] for t in trials],
    }
    # The gap from one trial's end to the next one's start, one slot at a time.
    gaps = [b["started"] - a["ended"] for a, b in itertools.pairwise(trials)]
    return {
        "parallel": parallel,
        "trials": trials,
        "wall_s": run["wall_s"],
        "first_submit_s": trials[0]["started"] - run["began"],
        **summarize(spans),
        "gap_s": spread(gaps) if parallel == 1 else None,
    }


def spread(values: Sequence[float]) -> dict[str, float]:
    """Median, p90 (nearest rank), min and max of ``values``."""
    ordered = sorted(values)
    p90 = ordered[max(0, -(-9 * len(ordered) // 10) - 1)]
    return {
        "median": statistics.median(ordered),
        "p90": p90,
        "min": ordered[0],
        "max": ordered[-1],
    }


def summarize(spans: dict[str, list[float]]) -> dict[str, Any]:
    return {name: {"values": v, **spread(v)} for name, v in spans.items()}


# --- The section of docs/benchmarks.md ------------------------------------------


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def med_p90(figure: dict[str, Any]) -> str:
    return f"{ms(figure['median'])} / {ms(figure['p90'])}"


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The overhead per trial at each ``--parallel``, against the target."""
    direct = results["direct"]["launch_to_first_s"]["median"]
    rows = []
    for sweep in results["sweeps"]:
        trial = sweep["started_to_first_s"]["median"]
        rows.append(
            {"parallel": sweep["parallel"], "overhead_s": trial - direct,
             "trial_s": trial, "direct_s": direct,
             "met": trial - direct < TARGET_S}
        )  # fmt: skip
    return rows


INTRO = """{section}

What `runlab sweep` adds to each trial, measured by `bench/sweep.py` on
{started}; the whole run took {total:.0f} s. Rerun it with `make bench-sweep`,
or `python bench/sweep.py --quick` for a check with {quick} of each.

The script, started both ways with the same Python ({python}) in a throwaway
folder, with `RUNLAB_SYSTEM_METRICS=0`:

```python
{script}```

- Direct: `subprocess.Popen([python, script])` with `RUNLAB_DIR` set, {reps}
  times after one start not counted (it writes the bytecode caches); from the
  moment before `Popen` to the time of the point `x` as stored.
- Sweep: a grid of {trials} trials, `runlab sweep FILE --parallel N`; from each
  trial's `started` in `state.json` to the time of its point `x`.
- The overhead is the sweep's median less the direct median."""


def render_intro(results: dict[str, Any]) -> str:
    meta = results["meta"]
    return INTRO.format(
        section=SECTION,
        started=meta["started"],
        total=meta["total_s"],
        quick=SCALES["quick"].reps,
        python=meta["machine"]["python"],
        script=SCRIPT,
        reps=len(results["direct"]["starts"]),
        trials=len(results["sweeps"][0]["trials"]),
    )


def render_targets(results: dict[str, Any]) -> str:
    lines = ["### The target", "", "| target | result | met? |", "|---|---|---|"]
    for row in targets(results):
        lines.append(
            f"| overhead per trial under {ms(TARGET_S)}, `--parallel "
            f"{row['parallel']}` | {ms(row['overhead_s'])} ({ms(row['trial_s'])} "
            f"a trial - {ms(row['direct_s'])} direct) | "
            f"{'met' if row['met'] else '**missed**'} |"
        )
    return "\n".join([*lines, "", render_before_t0(results)])


def render_before_t0(results: dict[str, Any]) -> str:
    """The other reading: the wrapper alone, and the script's own work apart."""
    direct = results["direct"]
    before = [
        f"{ms(s['started_to_t0_s']['median'] - direct['launch_to_t0_s']['median'])}"
        f" at `--parallel {s['parallel']}`"
        for s in results["sweeps"]
    ]
    work = [
        f"{ms(s['t0_to_first_s']['median'])} at `--parallel {s['parallel']}`"
        for s in results["sweeps"]
    ]
    return (
        "Counting only what comes before the script's first line (a trial's "
        "`started` to T0, less the direct start's launch to T0), the wrapper "
        f"adds {' and '.join(before)}. The script's own work (T0 to the first "
        f"point) took {ms(direct['t0_to_first_s']['median'])} direct, "
        f"{' and '.join(work)} in the sweeps (medians)."
    )


def render_breakdown(results: dict[str, Any]) -> str:
    """Median / p90 of each span, direct and in each sweep."""
    sweeps = results["sweeps"]
    head = "| span (median / p90) | direct |" + "".join(
        f" sweep, `--parallel {s['parallel']}` |" for s in sweeps
    )
    lines = ["### Where the time goes", "", head, "|---|---|" + "---|" * len(sweeps)]
    for label, direct_key, sweep_key in BREAKDOWN:
        direct = results["direct"].get(direct_key)
        cells = [med_p90(direct) if direct else ""]
        cells += [med_p90(s[sweep_key]) if sweep_key else "" for s in sweeps]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += ["", *render_walls(results)]
    return "\n".join(lines)


BREAKDOWN = (
    ("launch (direct) or `started` (trial) to the first point",
     "launch_to_first_s", "started_to_first_s"),
    ("launch or `started` to the script's T0", "launch_to_t0_s", "started_to_t0_s"),
    ("- trial: `started` to the run made by `runlab run`", None,
     "started_to_created_s"),
    ("- trial: run made to the script's T0 (spawn, interpreter, hook)", None,
     "created_to_t0_s"),
    ("T0 to the first point (the script's own work)", "t0_to_first_s",
     "t0_to_first_s"),
    ("- of which T0 to the run made (direct: import + create)",
     "t0_to_created_s", None),
    ("a trial's whole life (`started` to `ended`)", None, "started_to_ended_s"),
)  # fmt: skip


def render_walls(results: dict[str, Any]) -> list[str]:
    """Whole-sweep times, between-trial gaps and the cost of the launch call."""
    lines = []
    for sweep in results["sweeps"]:
        n = len(sweep["trials"])
        lines.append(
            f"- `--parallel {sweep['parallel']}`: the sweep took "
            f"{sweep['wall_s']:.2f} s for {n} trials ({ms(sweep['wall_s'] / n)} a "
            f"trial); its first trial was submitted {ms(sweep['first_submit_s'])} "
            "after `runlab sweep` was launched."
        )
        if sweep["gap_s"]:
            lines.append(
                f"- `--parallel 1`: from a trial's end to the next one's start, "
                f"{med_p90(sweep['gap_s'])} (median / p90)."
            )
    popen = results["direct"]["popen_s"]
    lines.append(
        f"- The direct start's `Popen` call took {med_p90(popen)}; a trial's "
        "`started` is taken after its `Popen` returns, so the sweep's spans miss "
        "that much (the wrapper's fork and exec)."
    )
    return lines


def render_machine(results: dict[str, Any]) -> str:
    meta = results["meta"]
    machine = meta["machine"]
    rows = {
        "CPU": machine["cpu"],
        "cores": machine["cores"],
        "RAM": f"{machine['ram_gib']} GiB",
        "load average at start": _loads(machine["load_avg_at_start"]),
        "load average at the end": _loads(meta["load_avg_at_end"]),
        "python": machine["python"],
        **meta["versions"],
    }
    lines = ["### Machine and versions", "", "|  |  |", "|---|---|"]
    return "\n".join(lines + [f"| {k} | {v} |" for k, v in rows.items()])


def _loads(values: Sequence[float]) -> str:
    return ", ".join(f"{x:.2f}" for x in values)


NOTES = """### How to read these figures

- Times are wall-clock (`time.time()`) read in different processes of one
  machine; the point's time is the one `run.log` stamped, as stored.
- With `--parallel 4` the trials start 4 at a time and compete for the
  machine's cores, with each other and with their wrappers; the spans then
  hold that waiting too.
- The script's own work differs a little between the two ways: started
  directly, `runlab.start()` makes the run; in a trial it attaches to the run
  that `runlab run` made (`RUNLAB_RUN_DIR`).
- A trial's child starts before the wrapper's capture of git and the installed
  packages, which then runs in a thread of the wrapper while the script works.
- The machine is shared and noisy; every figure is from this one run."""


def render_section(results: dict[str, Any]) -> str:
    """The Markdown section for docs/benchmarks.md, from its heading down."""
    parts = [
        render_intro(results),
        render_targets(results),
        render_breakdown(results),
        render_machine(results),
        NOTES,
    ]
    return "\n\n".join(parts) + "\n"


def write_section(doc: Path, results: dict[str, Any]) -> None:
    """Replace this bench's section of ``doc``, or put it before the web page's.

    The section runs from its heading to the next ``## `` heading or the end;
    the rest of the document is kept as it is.
    """
    text = doc.read_text() if doc.exists() else "# Benchmarks\n"
    section = render_section(results)
    at = text.find(SECTION)
    if at >= 0:
        end = re.search(r"^## ", text[at + len(SECTION) :], re.MULTILINE)
        tail = text[at + len(SECTION) + end.start() :] if end else ""
        doc.write_text(text[:at] + section + ("\n" + tail if tail else ""))
        return
    at = text.find(BEFORE)
    if at >= 0:
        doc.write_text(text[:at] + section + "\n" + text[at:])
    else:
        doc.write_text(text.rstrip("\n") + "\n\n" + section)


# --- The whole run --------------------------------------------------------------


def meta(scale: Scale) -> dict[str, Any]:
    import procs

    checkout = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    return {
        "scale": scale.name,
        "started": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "machine": procs.machine_facts(),
        "executable": sys.executable,
        "versions": {"runlab": metadata.version("runlab"), "runlab checkout": checkout},
    }


def run_bench(scale: Scale) -> dict[str, Any]:
    """Time the direct starts, then a sweep at each ``--parallel``."""
    began = time.perf_counter()
    results: dict[str, Any] = {"meta": meta(scale)}
    with tempfile.TemporaryDirectory(prefix="runlab-bench-sweep-") as tmp:
        folder = Path(tmp)
        script = folder / "first_point.py"
        script.write_text(SCRIPT)
        results["direct"] = direct_starts(folder, script, scale.reps)
        say(began, f"{scale.reps} direct starts timed")
        results["sweeps"] = []
        for parallel in scale.parallel:
            results["sweeps"].append(sweep_figures(folder, script, scale, parallel))
            say(began, f"a sweep of {scale.trials} trials at --parallel {parallel}")
    results["meta"]["total_s"] = time.perf_counter() - began
    results["meta"]["load_avg_at_end"] = os.getloadavg()
    results["targets"] = targets(results)
    return results


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="5 of each: a fast check")
    parser.add_argument("--out", type=Path, help="the JSON results to write")
    parser.add_argument("--doc", type=Path, help="the Markdown file to write into")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    scale = SCALES["quick" if args.quick else "full"]
    try:
        results = run_bench(scale)
    except (BenchFailed, subprocess.TimeoutExpired) as err:
        print(f"FAILED: {err}", file=sys.stderr)
        return 1
    full = scale.name == "full"
    out = args.out or BENCH / "results" / ("sweep.json" if full else "sweep-quick.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1))
    doc = args.doc or (ROOT / "docs" / "benchmarks.md" if full else None)
    if doc is not None:
        write_section(doc, results)
    print(render_targets(results), file=sys.stderr)
    print(f"Wrote {out}" + (f" and {doc}" if doc else "") + ".", file=sys.stderr)
    return 0


def say(began: float, text: str) -> None:
    print(f"[{time.perf_counter() - began:6.1f} s] {text}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
