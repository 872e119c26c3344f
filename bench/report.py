"""Turn the results of one benchmark run into docs/benchmarks.md and a chart.

Every figure is the median of the repetitions of that run; every ratio is
"this tool's figure / runlab's figure" from the same run (above 1: runlab is
cheaper or faster).
"""

from __future__ import annotations

from pathlib import Path
from statistics import median
from typing import Any

from figures import (
    TIMEOUT,
    fmt,
    import_cost,
    label,
    med,
    ok_runs,
    ordered,
    query_s,
    ratio,
    read_s,
    start_s,
    table,
    us_per_point,
    why,
)
from targets import target_rows

# Sections ----------------------------------------------------------------------


def section_targets(results: dict[str, Any]) -> str:
    rows = [
        [t, f, {True: "met", False: "**missed**", None: "not measured"}[m]]
        for t, f, m in target_rows(results)
    ]
    return "## The targets\n\n" + table(["target", "figure (this run)", "result"], rows)


def section_machine(results: dict[str, Any]) -> str:
    meta = results["meta"]
    m, v = meta["machine"], meta["versions"]
    rows = [
        ["CPU", m["cpu"]],
        ["cores", str(m["cores"])],
        ["RAM", f"{m['ram_gib']} GiB"],
        ["platform", m["platform"]],
        [
            "load average at start",
            ", ".join(f"{x:.2f}" for x in m["load_avg_at_start"]),
        ],
        [
            "load average at the end",
            ", ".join(f"{x:.2f}" for x in m.get("load_avg_at_end", ())),
        ],
    ]
    rows += [[name, version] for name, version in v.items() if name != "executable"]
    env = [[k, f"`{v}`"] for k, v in meta["env_set"].items()]
    env += [[k, "removed"] for k in meta["env_dropped"] if k != "MLFLOW_TRACKING_URI"]
    env += [
        [
            "MLFLOW_TRACKING_URI",
            "`file://<store>/mlruns` or `sqlite:///<store>/mlflow.db`, per run",
        ],
        [
            "MLFLOW_ALLOW_FILE_STORE",
            "`true` for the file store (MLflow 3 refuses it otherwise)",
        ],
        ["HOME, TMPDIR", "a sandbox per tool, to see what it writes outside its store"],
        ["RUNLAB_SYSTEM_METRICS", "`0` only for the helper that makes the 10,000 runs"],
    ]
    left = "".join(f"- {k} left out: {r}\n" for k, r in meta["left_out"].items())
    return (
        "## Machine and versions\n\n"
        + table(["", ""], rows)
        + "\n## Environment of every measured process\n\n"
        + table(["variable", "value"], env)
        + "\nThe sources of runlab are compiled (`compileall`) and each tool is imported once "
        "before any timing, so start-up figures load `.pyc` files, as installed packages do.\n"
        + (f"\n{left}" if left else "")
    )


def section_startup(results: dict[str, Any]) -> str:
    imports = results.get("imports", {})
    base_wall, _ = import_cost(results, "runlab")
    base_rss = median(imports["runlab"]["rss"]) if "runlab" in imports else None
    rows = []
    for row in imports:
        if row == "(bare interpreter)":
            continue
        wall, rss = import_cost(results, row)
        rows.append(
            [
                f"`{row}`",
                fmt(wall, "ms"),
                ratio(wall, base_wall),
                fmt(rss, "MB"),
                fmt(median(imports[row]["rss"]), "MB"),
                ratio(median(imports[row]["rss"]), base_rss),
            ]
        )
    bare = results.get("imports", {}).get("(bare interpreter)")
    note = (
        f"A bare interpreter (`python -c pass`) takes {fmt(median(bare['wall']) * 1000, 'ms')}"
        f" and {fmt(median(bare['rss']), 'MB')} peak RSS; the figures are over that.\n"
        if bare
        else ""
    )
    helps = results.get("help", {})
    mine = median(helps["runlab"]["wall"]) if "runlab" in helps else None
    help_rows = [
        [
            f"`{c['command']}`",
            fmt(median(c["wall"]) * 1000, "ms"),
            ratio(median(c["wall"]), mine),
        ]
        for c in helps.values()
    ]
    return (
        "## Start-up\n\nImport in a fresh process, median of "
        f"{results['meta']['scale']['import_reps']}:\n\n"
        + table(
            ["import", "time", "vs runlab", "added RSS", "peak RSS", "vs runlab"], rows
        )
        + "\n"
        + note
        + "\nThe command line's help, whole process:\n\n"
        + table(["command", "time", "vs runlab"], help_rows)
    )


def section_logging(results: dict[str, Any]) -> str:
    scale = results["meta"]["scale"]
    parts = [
        "## Logging\n\nMicroseconds per point in the calling thread, the loop only; "
        "`finish` (flush and close) timed apart. Peers stop logging after "
        f"{scale['peer_budget_s']:g} s and are measured on what they logged. "
        "Bytes per point: the whole store folder after finish, divided by the points.\n"
    ]
    for shape, words in (
        ("narrow", f"{scale['log_steps']:,} steps x 1 scalar"),
        ("wide", f"{scale['wide_steps']:,} steps x 10 scalars"),
    ):
        mine = us_per_point(results, shape, "runlab")
        rows = []
        for tool, runs in ordered(results.get("log", {}).get(shape, {}), results):
            cost = us_per_point(results, shape, tool)
            check = results.get("verify", {}).get(shape, {}).get(tool, {})
            rows.append(
                [
                    label(tool),
                    fmt(cost, "µs"),
                    ratio(cost, mine),
                    fmt(med(runs, lambda r: r["points"]), ""),
                    fmt(med(runs, lambda r: r["start_s"]), "s"),
                    fmt(med(runs, lambda r: r["finish_s"]), "s"),
                    fmt(med(runs, lambda r: r["bytes"] / r["points"]), ""),
                    "ok" if "checked" in check else check.get("error", "not run")[:80],
                    str(len(runs)),
                ]
            )
        parts.append(
            f"\n### {words}\n\n"
            + table(
                [
                    "tool",
                    "per point",
                    "vs runlab",
                    "points",
                    "start",
                    "finish",
                    "bytes/point",
                    "read back",
                    "repetitions",
                ],
                rows,
            )
        )
    series = med(
        results.get("log", {}).get("narrow", {}).get("runlab"),
        lambda r: r["series_bytes"] / r["points"],
    )
    parts.append(
        f"\nrunlab's series file alone holds {fmt(series, 'bytes')} per point; the rest "
        "of its folder is the run's metadata, environment and system metrics.\n"
    )
    return "".join(parts)


def section_reading(results: dict[str, Any]) -> str:
    parts = [
        "## Reading one series in a fresh process\n\nThe read is timed inside the process "
        "after the import; the whole process (interpreter, import, read, check) apart.\n"
    ]
    for size, cells in results.get("read", {}).items():
        mine = read_s(results, int(size), "runlab")
        rows = []
        for tool, cell in ordered(cells, results):
            value = read_s(results, int(size), tool)
            rows.append(
                [
                    label(tool),
                    fmt(value, "s"),
                    ratio(value, mine),
                    fmt(read_s(results, int(size), tool, "process_s"), "s"),
                    why(cell)
                    or why(cell.get("reads"))
                    or ("ok" if value is not None else "failed"),
                ]
            )
        parts.append(
            f"\n### {int(size):,} points\n\n"
            + table(
                ["tool", "read", "vs runlab", "whole process", "read back / why not"],
                rows,
            )
        )
    return "".join(parts)


def section_runs(results: dict[str, Any]) -> str:
    runs = results["meta"]["scale"]["runs"]
    rows = []
    for tool, cell in ordered(results.get("runs", {}), results):
        if "queries" not in cell:
            rows.append([label(tool)] + [""] * 7 + [why(cell)])
            continue
        figures = [
            query_s(results, tool, k)
            for k in ("open_s", "list_s", "filter_s", "last_s")
        ]
        base = [query_s(results, "runlab", k) for k in ("list_s", "filter_s", "last_s")]
        index = cell["create"].get("index_s")
        rows.append(
            [
                label(tool),
                fmt(cell["create"]["create_s"], "s"),
                fmt(index, "s"),
                fmt(figures[0], "s"),
                *(
                    f"{fmt(v, 's')} ({ratio(v, b)})" if v is not None else "n/a"
                    for v, b in zip(figures[1:], base, strict=True)
                ),
                "",
                "ok" if ok_runs(cell["queries"]) else why(cell["queries"]),
            ]
        )
    return (
        f"## {runs} runs: 10-key config, 5 metrics x 100 steps\n\nCreated once; then, in "
        "each fresh process: open the store, list all runs, filter on `cfg.k3 = 5`, and "
        "read the last value of `m0` of every run (every answer checked).\n\n"
        + table(
            [
                "tool",
                "create",
                "index",
                "open",
                "list",
                "filter",
                "last values",
                "",
                "checked / why not",
            ],
            rows,
        )
    )


def section_many(results: dict[str, Any]) -> str:
    count = results["meta"]["scale"]["many_runs"]
    rows = []
    mine = results.get("many", {}).get("runlab", {})
    base = median(mine["ls"]) if mine.get("ls") else None
    for tool, cell in ordered(results.get("many", {}), results):
        ls = median(cell["ls"]) if cell.get("ls") else None
        reindex = median(cell["reindex"]) if cell.get("reindex") else None
        if ls is None and reindex is None:
            rows.append([label(tool), "", "", "", why(cell) or cell.get("error", "")])
            continue
        rows.append(
            [
                label(tool),
                fmt(ls, "s"),
                ratio(ls, base),
                fmt(reindex, "s"),
                cell.get("error", ""),
            ]
        )
    made = mine.get("create", {})
    note = (
        f"\nrunlab's {count:,} runs were made by {made.get('processes')} processes calling "
        f"`runlab.start`/`log`/`finish` (system metrics off), in "
        f"{fmt(made.get('create_s'), 's')}, with `{made.get('python')}`: "
        "`bench/.venv-runs` holds runlab and its dependencies only, because each run "
        "records the installed packages, which in the bench's own environment (about "
        "200 packages) takes most of a run's cost (see the 200-run table's create "
        "column).\n"
        if made
        else ""
    )
    return (
        f"## {count:,} runs\n\n`runlab ls 'cfg.k3 = 5' --sort -m0.last` (a table of "
        f"{count // 10:,} rows) and `runlab reindex`, each as a whole process; peers' "
        "equivalent query as a whole process where they could make the runs in time.\n\n"
        + table(
            ["tool", "ls with filter and sort", "vs runlab", "reindex", "why not"], rows
        )
        + note
    )


def section_memory(results: dict[str, Any]) -> str:
    rows = []
    for shape, cells in results.get("memory", {}).items():
        for tool, cell in ordered(cells, results):
            if "added_mb" not in cell:
                rows.append(
                    [
                        label(tool),
                        shape,
                        "",
                        "",
                        "",
                        "",
                        why(cell) or cell.get("error", ""),
                    ]
                )
                continue
            rate = cell["points"] / (cell["loop_s"] + cell["finish_s"])
            rows.append(
                [
                    label(tool),
                    shape,
                    f"{cell['points']:,}",
                    f"{cell['added_mb']:.0f} MB",
                    fmt(cell["loop_s"], "s"),
                    fmt(cell["finish_s"], "s"),
                    f"{rate:,.0f} points/s",
                ]
            )
    return (
        "## Memory while logging many points\n\nPeak RSS of the process over its RSS once "
        "the run was started (one process each).\n\n"
        + table(
            ["tool", "shape", "points", "added", "loop", "finish", "end to end"], rows
        )
        + section_flush(results)
    )


def section_flush(results: dict[str, Any]) -> str:
    points = results["meta"]["scale"]["flush_points"]
    rows = [
        [
            label(tool),
            fmt(med(runs, lambda r: r["loop_s"]), "s"),
            fmt(med(runs, lambda r: r["finish_s"]), "s"),
            str(len(ok_runs(runs))),
        ]
        for tool, runs in ordered(results.get("flush", {}), results)
        if isinstance(runs, list)
    ]
    return (
        f"\n`finish()` right after logging {points:,} points, ten a call, in a fresh run: "
        "the writer drains the queue about once a second, so the points logged in the "
        "first second are all still queued when finish() begins.\n\n"
        + table(["tool", "logging", "finish", "repetitions"], rows)
    )


def section_start(results: dict[str, Any]) -> str:
    mine = start_s(results, "runlab")
    rows = []
    for tool, runs in ordered(results.get("start", {}), results):
        value = start_s(results, tool)
        rows.append(
            [
                label(tool),
                fmt(value, "s"),
                ratio(value, mine),
                fmt(med(runs, lambda r: r.get("finish_s")), "s"),
                why(runs),
            ]
        )
    return (
        "## The first run's start, inside a git repository\n\nA fresh store each time; the "
        "repository has 52 files, one changed and one untracked. `start` is "
        "`runlab.start()`, `mlflow.start_run()` + `log_params`, `wandb.init()`, "
        "`aim.Run()` + config, `SummaryWriter()`.\n\n"
        + table(["tool", "start", "vs runlab", "finish", "why not"], rows)
    )


def section_footprint(results: dict[str, Any]) -> str:
    rows = []
    for tool, foot in results.get("footprint", {}).items():
        outside = ", ".join(foot["outside"][:4]) + (
            " ..." if len(foot["outside"]) > 4 else ""
        )
        locks = ", ".join(sorted({Path(p).name for p in foot["lock_files"]})[:4])
        rows.append(
            [
                label(tool),
                str(len(foot["processes"])),
                f"{len(foot['lock_files'])} {locks}".strip(),
                f"{len(foot['outside'])} {outside}".strip(),
                "yes" if foot["repo"] else "no",
            ]
        )
    return (
        "## Footprint after all phases\n\nHelper processes still alive (found by a tag in "
        "their environment), lock, journal and temporary files left in the stores, files "
        "written to the tool's HOME, TMPDIR or working folder, and whether the git "
        "repository of the start phase changed.\n\n"
        + table(
            [
                "tool",
                "helpers left",
                "lock files",
                "files outside the store",
                "repository changed",
            ],
            rows,
        )
    )


NOTES = """## How to read these figures

- The machine is shared and noisy: figures are medians of the repetitions of
  this one run, and every ratio compares figures of this same run.
- The floors: `list` appends `(step, time.time(), metrics)` per call and pickles
  the list at finish; `csv` writes one line per call to a buffered file. Every
  tool is called through the same loop, which builds the call's dict of
  metrics, so the floors carry the same harness cost as the trackers.
- MLflow: the logging phase uses `mlflow.log_metric` (one scalar) and
  `mlflow.log_metrics` (ten); the series to read and the 200 runs are written
  with `MlflowClient.log_batch` (1,000 points a call), MLflow's fast path.
- W&B: offline mode. W&B has no API that reads an offline run, so it is left
  out of reading and querying; its logged points are checked by decoding the
  run's `.wandb` file with the protobuf messages of W&B's own package.
- Aim: closed runs become queryable only after Aim indexes them (`aim up` does
  it in the background); the bench runs `aim storage reindex` and shows that
  time in the "index" column.
- TensorBoard: tensorboardX writes event files; TensorBoard's
  `EventAccumulator` reads them, asked for every point (by default it keeps a
  sample of 10,000 per tag). Event files store float32, so the check compares
  with float32 values. The 200-run listing loads every run's events with
  `EventMultiplexer` (the "open" column); there is no filter outside the server.
- runlab's "last values" in the 200-run table reads `run.config` and
  `run.summary` of every run; its first `run.config` in a process imports the
  YAML module.
- The start-up "finish" column of runlab includes waiting for the capture of
  git and the installed packages, which runs in the background from start.
"""


def render(results: dict[str, Any]) -> str:
    meta = results["meta"]
    scale = meta["scale"]
    head = (
        f"# Benchmarks\n\nrunlab side by side with MLflow, W&B, Aim and a TensorBoard "
        f"writer, and two floors, measured by `bench/run.py` ({scale['name']} scale) on "
        f"{meta['started']}; the whole run took {meta.get('total_s', 0) / 60:.1f} minutes. "
        "Rerun it with `make bench` (full scale: 15 to 25 minutes on 2 cores, with the "
        "load of the machine) or "
        "`make bench-smoke` (tiny scale, read-back checks only).\n\n"
        f"Repetitions: {scale['reps']} for runlab and the floors, {scale['peer_reps']} for "
        f"peers, {scale['import_reps']} for start-up; each phase of a peer is stopped after "
        f"{scale['cap_s']:.0f} s.\n\n![Cost per logged point](bench_log_cost.png)\n\n"
    )
    sections = (
        section_targets,
        section_startup,
        section_logging,
        section_reading,
        section_runs,
        section_many,
        section_memory,
        section_start,
        section_footprint,
        section_machine,
    )
    return head + "\n".join(s(results) for s in sections) + "\n" + NOTES


def failures(results: dict[str, Any]) -> list[str]:
    """Every read-back check or worker that failed (not a peer stopped at the cap)."""
    found: list[str] = []

    def walk(node: Any, path: list[str]) -> None:
        if isinstance(node, dict):
            error = node.get("error")
            if isinstance(error, str) and not error.startswith(TIMEOUT):
                found.append(f"{' '.join(path)}: {error}")
            for key, value in node.items():
                walk(value, [*path, str(key)])
        elif isinstance(node, list):
            for value in node:
                walk(value, path)

    walk({k: v for k, v in results.items() if k not in ("meta", "errors")}, [])
    return found + list(results.get("errors", []))


def chart(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tools = list(results.get("log", {}).get("narrow", {}))
    fig, ax = plt.subplots(figsize=(9, 4.5), dpi=110)
    width = 0.38
    for offset, shape, words in (
        (-width / 2, "narrow", "1 scalar per call"),
        (width / 2, "wide", "10 scalars per call"),
    ):
        values = [us_per_point(results, shape, t) or 0 for t in tools]
        bars = ax.bar(
            [i + offset for i in range(len(tools))], values, width, label=words
        )
        ax.bar_label(bars, labels=[fmt(v, "") if v else "" for v in values], fontsize=7)
    ax.set_yscale("log")
    ax.set_xticks(
        range(len(tools)),
        [label(t) for t in tools],
        rotation=20,
        ha="right",
        fontsize=8,
    )
    ax.set_ylabel("µs per point (log scale)")
    ax.set_title("Cost of logging one point, in the calling thread (lower is better)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


# bench/sweep.py and bench/ui.py own their sections, at the end of the document.
KEPT_SECTIONS = ("## Sweeps (`make bench-sweep`)", "## The web page (`make bench-ui`)")


def _kept_tail(doc: Path) -> str:
    """The sections other benchmarks wrote, kept across rewrites."""
    try:
        text = doc.read_text()
    except FileNotFoundError:
        return ""
    found = [at for at in (text.find(h) for h in KEPT_SECTIONS) if at >= 0]
    return "\n" + text[min(found) :] if found else ""


def write(
    results: dict[str, Any], doc: Path | None, chart_path: Path | None
) -> list[str]:
    """Write the report and the chart; return the failed checks."""
    if doc is not None:
        doc.parent.mkdir(parents=True, exist_ok=True)
        doc.write_text(render(results) + _kept_tail(doc))
    if chart_path is not None:
        try:
            chart(results, chart_path)
        except ImportError:
            print("matplotlib is not importable here: no chart.")
    return failures(results)
