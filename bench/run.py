"""Run runlab side by side with its peers and two floors; write the results.

Usage (from the checkout; ``make bench`` sets up bench/.venv and runs the full scale)::

    python bench/run.py                      # full scale: docs/benchmarks.md and the chart
    python bench/run.py --scale tiny         # every phase at toy sizes, in about a minute
    python bench/run.py --scale tiny --tools runlab,list,csv --out /tmp/b

Peers that are not importable are left out, with the reason printed. Every
phase runs in a fresh process and checks what it reads back against what was
written; the exit code is 1 when any check failed, and no timing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import phases
import procs
import report
from registry import BENCH, SCALES, TOOLS

ROOT = BENCH.parent


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", choices=sorted(SCALES), default="full")
    parser.add_argument(
        "--tools",
        default=",".join(TOOLS),
        help="comma-separated, from: " + ", ".join(TOOLS),
    )
    parser.add_argument(
        "--out",
        type=Path,
        help="folder for results.json (and the report at tiny scale)",
    )
    parser.add_argument("--doc", type=Path, help="the Markdown report to write")
    parser.add_argument("--chart", type=Path, help="the PNG chart to write")
    parser.add_argument(
        "--keep", action="store_true", help="keep the stores for a look"
    )
    return parser.parse_args(argv)


def choose_tools(names: str) -> tuple[list[Any], dict[str, str]]:
    chosen, left_out = [], {}
    for name in filter(None, (n.strip() for n in names.split(","))):
        tool = TOOLS.get(name)
        if tool is None:
            raise SystemExit(f"Unknown tool {name!r}; choose from {', '.join(TOOLS)}.")
        if phases.importable(tool.module):
            chosen.append(tool)
        else:
            left_out[name] = f"{tool.module} is not importable here"
            print(f"Skipping {name}: {left_out[name]}.", file=sys.stderr)
    if "runlab" not in [t.key for t in chosen]:
        raise SystemExit("runlab must be importable: install it (pip install -e .).")
    return chosen, left_out


def run_all(bench: phases.Bench) -> None:
    phases.prepare(bench)
    for step in (
        phases.run_imports,
        phases.run_help,
        phases.run_logging,
        phases.run_reading,
        phases.run_runs,
        phases.run_many,
        phases.run_memory,
        phases.run_flush,
        phases.run_start,
        phases.run_footprint,
    ):
        started = time.perf_counter()
        try:
            step(bench)
        except Exception as err:
            # One broken phase must not cost the others, nor the report.
            bench.say(f"{step.__name__} failed: {err!r}")
            bench.results.setdefault("errors", []).append(f"{step.__name__}: {err!r}")
        bench.results.setdefault("phase_s", {})[step.__name__] = (
            time.perf_counter() - started
        )


def outputs(args: argparse.Namespace) -> tuple[Path, Path | None, Path | None]:
    full = args.scale == "full"
    out = args.out or (BENCH / "results")
    doc = args.doc or (
        ROOT / "docs" / "benchmarks.md" if full else out / "benchmarks.md"
    )
    chart = args.chart or (
        ROOT / "docs" / "bench_log_cost.png" if full else out / "bench_log_cost.png"
    )
    return out, doc, chart


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    tools, left_out = choose_tools(args.tools)
    scale = SCALES[args.scale]
    work = Path(tempfile.mkdtemp(prefix="runlab-bench-"))
    bench = phases.Bench(scale, tools, work)
    bench.results["meta"] = {
        "scale": scale.__dict__,
        "machine": procs.machine_facts(),
        "versions": phases.versions(tools),
        "env_set": procs.PEER_ENV,
        "env_dropped": list(procs.DROPPED),
        "left_out": left_out,
        "tools": [t.key for t in tools],
        "started": time.strftime("%Y-%m-%d %H:%M:%S %z"),
    }
    try:
        run_all(bench)
    finally:
        if not args.keep:
            phases.cleanup(work)
    bench.results["meta"]["total_s"] = time.perf_counter() - bench.began
    bench.results["meta"]["versions"]["runlab checkout at the end"] = phases.checkout()
    bench.results["meta"]["machine"]["load_avg_at_end"] = os.getloadavg()
    out, doc, chart = outputs(args)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"results-{scale.name}.json").write_text(
        json.dumps(bench.results, indent=1, default=str)
    )
    failures = report.write(bench.results, doc, chart)
    for failure in failures:
        print(f"FAILED: {failure}", file=sys.stderr)
    print(
        f"Wrote {doc} and {chart} in {bench.results['meta']['total_s']:.0f} s.",
        file=sys.stderr,
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
