"""Time the web page of ``runlab ui`` on big stores: its API, its table, its charts.

Usage (from the checkout, after ``cd frontend && npm run build``)::

    python bench/ui.py           # 10,000 runs; 50 runs x 100,000 points (full)
    python bench/ui.py --quick   # 100 runs; 5 runs x 10,000 points, a fast check

The stores are made once with runlab's API (``bench/ui_store.py``) and kept
under ``bench/.ui-stores/``. Every figure comes from the real server, started as
``python -m runlab ui --store S --port 0``: API answers timed with an HTTP
client, and the page timed in headless Chromium (Playwright driving Debian's
``/usr/bin/chromium``) from navigation start to the page's own ready marks.
The full run writes ``bench/results/ui.json`` and the last section of
``docs/benchmarks.md``; ``--quick`` writes ``bench/results/ui-quick.json``.
No timing is asserted: the exit code is 1 only when an answer or a page was
not what the stores hold.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import select
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote

from playwright.sync_api import TimeoutError as PlaywrightTimeout
from ui_store import DROPPED, StoreSpec, ensure_store, holding_stores

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
SECTION = "## The web page (`make bench-ui`)"

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
VIEWPORT = {"width": 1280, "height": 720}
WHERE = "optim.lr < 0.001 and optim.name = adam"
SORT = "-metric.val/acc.max"
# Longer than the server keeps its records (1 s); the page polls every 3 s.
PAUSE_S, PAUSED_REPS = 1.5, 3
API_TARGET_S, TABLE_TARGET_S, CHARTS_TARGET_S = 0.3, 1.5, 2.0


FLOOR = StoreSpec("runs", 1, 20)


@dataclass(frozen=True)
class Scale:
    """The stores and repetitions of one run of this bench."""

    name: str
    runs: StoreSpec  # the table's store
    series: StoreSpec  # the charts' store
    floor: StoreSpec = FLOOR  # the table without data
    api_reps: int = 20
    page_reps: int = 5


SCALES = {
    "full": Scale(
        "full", StoreSpec("runs", 10_000, 20), StoreSpec("series", 50, 100_000)
    ),
    "quick": Scale("quick", StoreSpec("runs", 100, 20), StoreSpec("series", 5, 10_000)),
}


class ServerError(RuntimeError):
    """The server did not start, or answered an error."""


# --- The server -----------------------------------------------------------------


@dataclass
class Server:
    """A running ``runlab ui`` and a keep-alive HTTP client to it."""

    proc: subprocess.Popen[str]
    url: str
    start_s: float
    client: Any

    def get(self, path: str) -> tuple[float, bytes]:
        """Seconds to the whole body of ``path``, and the body."""
        began = time.perf_counter()
        response = self.client.get(path)
        body: bytes = response.content
        took = time.perf_counter() - began
        if response.status_code != 200:
            raise ServerError(
                f"GET {path} answered {response.status_code}: {body[:300]!r}"
            )
        return took, body

    def rss_mb(self) -> float:
        import psutil

        return float(psutil.Process(self.proc.pid).memory_info().rss) / 2**20


@contextlib.contextmanager
def serve(store: Path) -> Iterator[Server]:
    """Start ``runlab ui`` on ``store`` on a free port; stop it on leaving."""
    import httpx2

    env = {k: v for k, v in os.environ.items() if k not in DROPPED}
    command = [sys.executable, "-m", "runlab", "ui"]
    command += ["--store", str(store), "--port", "0"]
    with tempfile.TemporaryFile("w+") as log:
        began = time.perf_counter()
        proc = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=log, text=True, env=env
        )
        try:
            url = _first_url(proc, log)
            start_s = time.perf_counter() - began
            with httpx2.Client(base_url=url, timeout=120) as client:
                yield Server(proc, url, start_s, client)
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _first_url(proc: subprocess.Popen[str], log: IO[str]) -> str:
    """The URL in the server's first line of output ("runlab ui: STORE at URL")."""
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], 60)
    line = proc.stdout.readline() if ready else ""
    found = re.search(r"https?://\S+", line)
    if found is None:
        log.seek(0)
        raise ServerError(f"runlab ui printed {line!r}; its log: {log.read()[-2000:]}")
    return found.group(0)


# --- API answers ----------------------------------------------------------------

Check = Callable[[Any], dict[str, Any]]


def time_api(store: Path, path: str, reps: int, check: Check) -> dict[str, Any]:
    """A fresh server's first answer to ``path``, then ``reps`` warm ones.

    Warm requests follow each other on one keep-alive connection, as a page's
    do; the server rereads the store when its records are over a second old,
    so the slowest warm answers include such a reread. Then a few requests
    after a pause, as the page's polls come, which always find them stale.
    """
    with serve(store) as server:
        first, body = server.get(path)
        # The page shell is HTML; every other route answers JSON.
        facts = check(body if path == "/" else json.loads(body))
        warm = [server.get(path)[0] for _ in range(reps)]
        paused = []
        for _ in range(PAUSED_REPS):
            time.sleep(PAUSE_S)
            paused.append(server.get(path)[0])
        rss = server.rss_mb()
    return {
        "path": path if len(path) < 120 else path[:100] + "...",
        "first_s": first,
        "warm_s": warm,
        "median_s": statistics.median(warm),
        "max_s": max(warm),
        "paused_s": paused,
        "paused_median_s": statistics.median(paused),
        "bytes": len(body),
        "server_rss_mb": rss,
        "server_start_s": server.start_s,
        **facts,
    }


def api_figures(scale: Scale, ids: dict[str, list[str]]) -> dict[str, Any]:
    """The table's three routes and one run on the runs store; the series."""
    runs, reps, one = scale.runs.path, scale.api_reps, ids["runs"][0]
    filtered = f"/api/runs?where={quote(WHERE, safe='')}&sort={quote(SORT, safe='')}"
    series = f"/api/series?runs={','.join(ids['series'])}&width=1000"
    return {
        "shell": time_api(runs, "/", reps, _expect_shell),
        "runs": time_api(runs, "/api/runs", reps, _expect_total(scale.runs.runs)),
        "runs_filtered": time_api(runs, filtered, reps, _expect_rows),
        "columns": time_api(runs, "/api/columns", reps, _expect_columns),
        "run": time_api(runs, f"/api/runs/{one}", reps, _expect_run(one)),
        "series": time_api(
            scale.series.path, series, reps, _expect_series(len(ids["series"]))
        ),
    }


def _expect_shell(body: Any) -> dict[str, Any]:
    if b"<script" not in body:
        raise AssertionError(f"GET / answered no page: {body[:200]!r}.")
    return {}


def _expect_total(total: int) -> Check:
    def check(data: Any) -> dict[str, Any]:
        if data["total"] != total or len(data["rows"]) != min(100, total):
            raise AssertionError(
                f"/api/runs answered {data['total']} runs, not {total}."
            )
        return {"rows": len(data["rows"]), "total": data["total"]}

    return check


def _expect_rows(data: Any) -> dict[str, Any]:
    if not data["rows"]:
        raise AssertionError(f"/api/runs?where={WHERE} answered no rows.")
    return {"rows": len(data["rows"]), "total": data["total"]}


def _expect_columns(data: Any) -> dict[str, Any]:
    if "optim.lr" not in data["config"] or "val/acc" not in data["metrics"]:
        raise AssertionError(f"/api/columns lacks optim.lr or val/acc: {data}.")
    return {}


def _expect_run(run_id: str) -> Check:
    def check(data: Any) -> dict[str, Any]:
        if data["run"]["id"] != run_id or "val/loss" not in data["metrics"]:
            raise AssertionError(f"/api/runs/{run_id} answered another run.")
        return {}

    return check


def _expect_series(runs: int) -> Check:
    def check(data: Any) -> dict[str, Any]:
        losses = [s for s in data["series"] if s["metric"] == "train/loss"]
        if len(losses) != runs or any(s["shown"] != len(s["y"]) for s in losses):
            raise AssertionError(f"/api/series answered {len(losses)} of {runs} runs.")
        return {
            "series": len(data["series"]),
            "points_shown": sum(s["shown"] for s in data["series"]),
            "points_total": sum(s["total"] for s in data["series"]),
        }

    return check


def run_ids(store: Path, limit: int) -> list[str]:
    """The ids of the first ``limit`` runs of a store, newest first."""
    with serve(store) as server:
        _, body = server.get(f"/api/runs?limit={limit}&columns=")
    return [row["id"] for row in json.loads(body)["rows"]]


# --- The page in Chromium -------------------------------------------------------

# Each returns performance.now() (milliseconds since navigation start) once the
# page is ready, else false; Playwright polls it at every animation frame.
TABLE_READY = "() => document.body.dataset.ready === '1' && performance.now()"
CHARTS_READY = """(runs) => {
  const charts = document.getElementById('charts');
  if (!charts || charts.dataset.chartsReady !== '1') return false;
  const panel = charts.querySelector('.panel[data-metric="train/loss"]');
  return panel !== null && panel.dataset.series === String(runs) && performance.now();
}"""
# What the ready page shows, and how long its main API answer took to arrive.
TABLE_FACTS = """() => ({
  rows: document.querySelectorAll('#runs-table tbody tr').length,
  total: Number(document.getElementById('total')?.dataset.total),
  api_ms: performance.getEntriesByType('resource')
    .filter((e) => new URL(e.name).pathname === '/api/runs')
    .map((e) => e.responseEnd - e.startTime)[0] ?? null,
})"""
CHART_FACTS = """() => {
  const panel = document.querySelector('#charts .panel[data-metric="train/loss"]');
  return {
    shown: Number(panel.dataset.shown), total: Number(panel.dataset.total),
    panels: document.querySelectorAll('#charts .panel').length,
    api_ms: performance.getEntriesByType('resource')
      .filter((e) => new URL(e.name).pathname === '/api/series')
      .map((e) => e.responseEnd - e.startTime)[0] ?? null,
  };
}"""


@dataclass(frozen=True)
class Readiness:
    """How to tell a page is ready, and what to read from it then."""

    script: str
    arg: Any
    facts: str


TABLE = Readiness(TABLE_READY, None, TABLE_FACTS)


@contextlib.contextmanager
def browser() -> Iterator[Any]:
    """Headless Debian Chromium through Playwright."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield chromium
        finally:
            chromium.close()


def load_page(chromium: Any, url: str, ready: Readiness) -> dict[str, Any]:
    """Open ``url`` in a fresh context (empty cache); time it until ready."""
    context = chromium.new_context(viewport=VIEWPORT)
    errors: list[str] = []
    try:
        page = context.new_page()
        page.on(
            "console", lambda m: errors.append(m.text) if m.type == "error" else None
        )
        page.on("pageerror", lambda err: errors.append(str(err)))
        page.goto(url, wait_until="commit")
        try:
            handle = page.wait_for_function(
                ready.script, arg=ready.arg, polling="raf", timeout=120_000
            )
        except PlaywrightTimeout:
            raise AssertionError(f"{url} was not ready in 120 s: {errors}") from None
        ready_ms = float(handle.json_value())
        facts = page.evaluate(ready.facts)
    finally:
        context.close()
    return {"ready_ms": ready_ms, "facts": facts, "errors": errors}


def time_page(
    chromium: Any, store: Path, path: str, reps: int, ready: Readiness = TABLE
) -> dict[str, Any]:
    """Load ``path`` ``reps + 1`` times, each in a fresh browser context.

    The first load, just after the server started, is kept apart: it pays
    for the server's first read of the store.
    """
    with serve(store) as server:
        url = server.url.rstrip("/") + path
        loads = [load_page(chromium, url, ready) for _ in range(reps + 1)]
    times = [load["ready_ms"] / 1000 for load in loads[1:]]
    # None where the browser kept no timing of the request.
    fetches = [f / 1000 for f in (load["facts"]["api_ms"] for load in loads[1:]) if f]
    return {
        "first_s": loads[0]["ready_ms"] / 1000,
        "times_s": times,
        "median_s": statistics.median(times),
        "max_s": max(times),
        "api_median_s": statistics.median(fetches) if fetches else None,
        "facts": loads[-1]["facts"],
        "console_errors": sorted({e for load in loads for e in load["errors"]}),
    }


def page_figures(scale: Scale, ids: dict[str, list[str]]) -> dict[str, Any]:
    """The table of the runs store and of one run; the charts of the long runs."""
    selected = "/?selected=" + ",".join(ids["series"])
    charts = Readiness(CHARTS_READY, len(ids["series"]), CHART_FACTS)
    reps = scale.page_reps
    with browser() as chromium:
        found = {
            "chromium": chromium.version,
            "table": time_page(chromium, scale.runs.path, "/", reps),
            "table_floor": time_page(chromium, scale.floor.path, "/", reps),
            "charts": time_page(chromium, scale.series.path, selected, reps, charts),
        }
    table, charts_facts = found["table"]["facts"], found["charts"]["facts"]
    if table["total"] != scale.runs.runs:
        raise AssertionError(
            f"The table shows {table['total']} runs, not {scale.runs.runs}."
        )
    if charts_facts["total"] != scale.series.runs * scale.series.points:
        raise AssertionError(
            f"The train/loss panel counts {charts_facts['total']} points."
        )
    return found


# --- Targets and the report -----------------------------------------------------

ROUTES = {
    "shell": "`GET /` (the floor: the page's shell, a small file; not a target)",
    "runs": "`GET /api/runs` (the first page of {runs} runs)",
    "runs_filtered": "`GET /api/runs?where=...&sort=...` ({runs} runs)",
    "columns": "`GET /api/columns` ({runs} runs)",
    "run": "`GET /api/runs/{{id}}` (one run of {runs})",
    "series": "`GET /api/series` ({series} runs x {points} points, width 1000)",
}


CHARTS_TARGET = "{series} curves of {points} points drawn under 2 s"


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets, each judged on the median and the slowest figure."""
    words = _words(results)
    rows = [
        _judge(f"{ROUTES[key].format(**words)} under 300 ms", figure, API_TARGET_S)
        for key, figure in results["api"].items()
        if key != "shell"
    ]
    pages = (
        ("table", f"table ready under 1.5 s with {words['runs']} runs", TABLE_TARGET_S),
        ("charts", CHARTS_TARGET.format(**words), CHARTS_TARGET_S),
    )
    rows += [_judge(text, results["page"][key], limit) for key, text, limit in pages]
    return rows


def _judge(target: str, figure: dict[str, Any], limit: float) -> dict[str, Any]:
    """Met when the median is under ``limit``; the other figures over it are named."""
    others = {
        "the slowest": figure["max_s"],
        "after a pause": figure.get("paused_median_s"),
        "the first after start": figure["first_s"],
    }
    over = [name for name, value in others.items() if value and value >= limit]
    if figure["median_s"] >= limit:
        verdict = "**missed**"
    else:
        verdict = "met" + (
            f" by the median (over it: {', '.join(over)})" if over else ""
        )
    return {
        "target": target,
        "limit_s": limit,
        "median_s": figure["median_s"],
        "verdict": verdict,
        **{key: figure.get(key) for key in ("max_s", "paused_median_s", "first_s")},
    }


def _words(results: dict[str, Any]) -> dict[str, str]:
    spec = results["stores"]
    return {
        "runs": f"{spec['runs']['spec']['runs']:,}",
        "series": f"{spec['series']['spec']['runs']:,}",
        "points": f"{spec['series']['spec']['points']:,}",
    }


def _s(seconds: float | None) -> str:
    """Seconds as the house figures do: milliseconds below a second."""
    if seconds is None:
        return "n/a"
    if seconds < 1:
        return (
            f"{seconds * 1000:.3g} ms"
            if seconds >= 0.01
            else f"{seconds * 1000:.2f} ms"
        )
    return f"{seconds:.3g} s"


def _size(count: int) -> str:
    return f"{count:,} bytes" if count < 1024 else f"{count / 1024:,.0f} KiB"


def render_section(results: dict[str, Any]) -> str:
    """The Markdown section for docs/benchmarks.md, from its heading down."""
    parts = [
        _intro(results),
        _targets_table(results),
        _api_table(results),
        _page_table(results),
        _machine_table(results),
        NOTES.format(pause=PAUSE_S),
    ]
    return "\n\n".join(parts) + "\n"


INTRO = """{section}

`runlab ui` on two stores made with runlab's own API, measured by `bench/ui.py`
on {started}; the whole run took {minutes:.1f} minutes.
{making}
Rerun it with `make bench-ui`, or `python bench/ui.py --quick` for a check on
small stores.

- The runs store: {runs} runs made by 2 processes with `runlab.start`/`log`/
  `finish` (system metrics off), each with 8 config keys (6 varying), 3 to 5
  metrics of 20 points, 1 or 2 tags, a git branch and commit.
- The series store: {series} runs, each with `train/loss` at every one of
  {points} steps and `val/acc` every 100 steps.
- The API: a fresh `python -m runlab ui --store S --port 0` for each route; its
  first answer, then {api_reps} more on one keep-alive connection (httpx2), each
  timed to the last byte of the body.
- The page: headless Chromium {chromium} (Playwright, Debian's build), a fresh
  browser context (empty cache) for each load, viewport {viewport}; the time
  from navigation start to the table ready (`document.body.dataset.ready`) or
  to the charts drawn (`#charts` ready and its `train/loss` panel holding all
  {series} runs), read in the page at the first animation frame that sees it.
  One load after the server starts, kept apart, then {page_reps} timed ones."""


def _intro(results: dict[str, Any]) -> str:
    meta, page = results["meta"], results["page"]
    return INTRO.format(
        section=SECTION,
        started=meta["started"],
        minutes=meta["total_s"] / 60,
        making=_making(results["stores"]),
        api_reps=len(results["api"]["runs"]["warm_s"]),
        chromium=page["chromium"],
        viewport=f"{VIEWPORT['width']}x{VIEWPORT['height']}",
        page_reps=len(page["table"]["times_s"]),
        **_words(results),
    )


def _making(stores: dict[str, Any]) -> str:
    """How long making the stores took, and whether this run made them."""
    runs, series = stores["runs"], stores["series"]
    took = f"{runs['make_s']:.0f} s (runs) and {series['make_s']:.0f} s (series)"
    small = " (in `bench/.venv-runs`)" if ".venv-runs" in runs["python"] else ""
    if runs["reused"] and series["reused"]:
        return f"The stores were kept from the run that made them{small}, in {took}."
    return f"Making the stores{small} took {took}."


def _targets_table(results: dict[str, Any]) -> str:
    lines = [
        "### The targets",
        "",
        "| target | median | slowest | after a pause | first after start | result |",
        "|---|---|---|---|---|---|",
    ]
    for row in results["targets"]:
        lines.append(
            f"| {row['target']} | {_s(row['median_s'])} | {_s(row['max_s'])} | "
            f"{_s(row['paused_median_s'])} | {_s(row['first_s'])} | {row['verdict']} |"
        )
    return "\n".join(lines)


def _api_table(results: dict[str, Any]) -> str:
    words = _words(results)
    lines = [
        "### API answers",
        "",
        "| route | median | slowest | after a pause | first after start | body "
        "| server RSS after |",
        "|---|---|---|---|---|---|---|",
    ]
    for key, figure in results["api"].items():
        lines.append(
            f"| {ROUTES[key].format(**words)} | {_s(figure['median_s'])} | "
            f"{_s(figure['max_s'])} | {_s(figure['paused_median_s'])} | "
            f"{_s(figure['first_s'])} | {_size(figure['bytes'])} | "
            f"{figure['server_rss_mb']:.0f} MB |"
        )
    api = results["api"]
    lines += [
        "",
        _share(
            api["series"]["points_shown"],
            api["series"]["points_total"],
            "The series answer holds",
        ),
        f"The server starts (process start to its URL printed) in "
        f"{_s(api['runs']['server_start_s'])}. The filter is `{WHERE}`, "
        f"the sort `{SORT}` ({api['runs_filtered']['total']:,} runs match).",
    ]
    return "\n".join(lines)


def _share(shown: int, total: int, lead: str) -> str:
    """Points drawn against points on disk, as a sentence."""
    part = shown / total if total else 0.0
    return f"{lead} {shown:,} of the {total:,} points on disk ({part:.1%})."


def _page_table(results: dict[str, Any]) -> str:
    page, words = results["page"], _words(results)
    rows = (
        (f"table, {words['runs']} runs", page["table"]),
        ("table, 1 run (the floor: the page without data)", page["table_floor"]),
        (f"charts of {words['series']} selected runs", page["charts"]),
    )
    lines = [
        "### The page in Chromium",
        "",
        "| page | median | slowest | first after start | of which the API answer |",
        "|---|---|---|---|---|",
    ]
    for label, figure in rows:
        lines.append(
            f"| {label} | {_s(figure['median_s'])} | {_s(figure['max_s'])} | "
            f"{_s(figure['first_s'])} | {_s(figure['api_median_s'])} |"
        )
    charts, table = page["charts"]["facts"], page["table"]["facts"]
    lines += [
        "",
        _share(charts["shown"], charts["total"], "The `train/loss` panel draws"),
        f"The page has {charts['panels']} chart panels; the table shows "
        f"{table['rows']} rows and a total of {table['total']:,} runs.",
    ]
    errors = sorted(
        {e for f in page.values() if isinstance(f, dict) for e in f["console_errors"]}
    )
    if errors:
        lines += [
            "",
            "Errors in the browser console: " + "; ".join(f"`{e}`" for e in errors),
        ]
    return "\n".join(lines)


def _machine_table(results: dict[str, Any]) -> str:
    meta = results["meta"]
    machine = meta["machine"]
    rows = {
        "CPU": machine["cpu"],
        "cores": machine["cores"],
        "RAM": f"{machine['ram_gib']} GiB",
        "load average at start": ", ".join(
            f"{x:.2f}" for x in machine["load_avg_at_start"]
        ),
        "load average at the end": ", ".join(
            f"{x:.2f}" for x in meta["load_avg_at_end"]
        ),
        "python": machine["python"],
        **meta["versions"],
        "Chromium": results["page"]["chromium"],
    }
    lines = ["### Machine and versions", "", "|  |  |", "|---|---|"]
    lines += [f"| {key} | {value} |" for key, value in rows.items()]
    return "\n".join(lines)


NOTES = """### How to read these figures

- A target is met when the median is under it; the result names the other
  figures that are over it: the slowest repetition, the median of the answers
  after a pause, the first answer (or page) after the server starts.
- The server keeps the store's records for 1 s. The first answer after it
  starts reads them; a warm answer rereads them when they are older, so the
  slowest warm answer is usually such a reread; "after a pause" is the median
  of 3 answers each {pause} s after the one before: each rereads, as the page's
  poll (every 3 s) does, and as a click to sort or filter after a pause does.
- `GET /` is the floor of the API: the page's shell, a small file that reads
  nothing of the store; its time is that of any answer of this server (routing,
  its guard, the connection), which every other figure includes.
- "Of which the API answer" is the browser's own resource timing of the page's
  main request (`/api/runs` for the table, `/api/series` for the charts); the
  rest is the page's script: loading, parsing and drawing.
- The machine is shared and noisy; every figure is from this one run."""


def write_section(doc: Path, results: dict[str, Any]) -> None:
    """Replace this bench's section of ``doc`` (its last), or append it."""
    text = doc.read_text() if doc.exists() else "# Benchmarks\n"
    head = text.split(SECTION, 1)[0].rstrip("\n")
    doc.write_text(head + "\n\n" + render_section(results))


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
        "versions": {
            "runlab": metadata.version("runlab"),
            "playwright": metadata.version("playwright"),
            "runlab checkout": checkout,
        },
    }


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="small stores: a fast check"
    )
    parser.add_argument("--out", type=Path, help="the JSON results to write")
    parser.add_argument(
        "--doc", type=Path, help="the Markdown file whose last section to write"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    scale = SCALES["quick" if args.quick else "full"]
    try:
        with holding_stores():
            return run_bench(args, scale)
    except RuntimeError as err:
        print(f"Error: {err}", file=sys.stderr)
        return 1


def run_bench(args: argparse.Namespace, scale: Scale) -> int:
    """Make or reuse the stores, time everything, write the results."""
    began = time.perf_counter()
    results: dict[str, Any] = {"meta": meta(scale)}

    # The stores first: made once, then kept while their parameters hold.
    results["stores"] = {
        "runs": ensure_store(scale.runs),
        "series": ensure_store(scale.series),
        "floor": ensure_store(scale.floor),
    }
    say(began, "the stores are ready; timing the API")
    ids = {
        "runs": run_ids(scale.runs.path, 1),
        "series": run_ids(scale.series.path, scale.series.runs),
    }

    # A wrong answer ends the run: its timings would mean nothing.
    try:
        results["api"] = api_figures(scale, ids)
        say(began, "the API is timed; timing the page in Chromium")
        results["page"] = page_figures(scale, ids)
    except (AssertionError, ServerError) as err:
        results["error"] = str(err)
    results["meta"]["total_s"] = time.perf_counter() - began
    results["meta"]["load_avg_at_end"] = os.getloadavg()
    if "error" not in results:
        results["targets"] = targets(results)
    write_outputs(args, scale, results)
    return 1 if "error" in results else 0


def write_outputs(
    args: argparse.Namespace, scale: Scale, results: dict[str, Any]
) -> None:
    full = scale.name == "full"
    out = args.out or BENCH / "results" / (
        "ui.json" if full else f"ui-{scale.name}.json"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1, default=str))
    doc = args.doc or (ROOT / "docs" / "benchmarks.md" if full else None)
    if "error" in results:
        print(f"FAILED: {results['error']}", file=sys.stderr)
        doc = None
    elif doc is not None:
        write_section(doc, results)
    if "targets" in results:
        print(_targets_table(results), file=sys.stderr)
    print(f"Wrote {out}" + (f" and {doc}" if doc else "") + ".", file=sys.stderr)


def say(began: float, text: str) -> None:
    print(f"[{time.perf_counter() - began:6.1f} s] {text}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
