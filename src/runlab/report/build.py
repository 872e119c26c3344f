"""Making a report: select runs, aggregate, draw, write every file, record how.

:func:`build_report` writes into the spec's ``out`` folder (created if
missing; files of the same names are replaced; files that an earlier report
there listed in its report.json and this one does not write are removed;
other files are left alone):

- ``table.md``, ``table.tex``, ``table.csv``: the results table;
- ``<metric>.png`` and ``<metric>.pdf`` per figure (see
  :func:`runlab.report.figures.figure_stem` for the file name);
- ``report.html``: the whole report in one self-contained page;
- ``report.json``: how it was made: the spec, the run ids of each group with
  their aggregates, the runs' commits, the runlab, Python, NumPy and
  Matplotlib versions, the git commit of the working folder (and whether it
  had uncommitted changes), and the time. ``table.tex`` and ``table.md``
  carry the same facts in a comment, ``report.html`` in its footer.

Runs whose folder cannot be read are left out with a warning; running runs
are kept, with a warning that their numbers may still change. Add
``status = finished`` to the filter to leave them out.
"""

from __future__ import annotations

import importlib.util
import logging
import platform
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from runlab import _json
from runlab._atomic import write_text_atomic
from runlab.report import figures as drawing
from runlab.report import tables
from runlab.report.groups import ResultTable, RunGroup, Stats, build_table
from runlab.report.html import PageRun, render_page
from runlab.report.spec import ReportError, ReportSpec
from runlab.store.series import Series
from runlab.store.store import Store
from runlab.store.stored import StoredRun, iso_time

__all__ = ["Report", "build_report"]

logger = logging.getLogger(__name__)

GIT_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Report:
    """What :func:`build_report` made: its table, files and report.json data."""

    out: Path
    table: ResultTable
    files: tuple[Path, ...]
    record: dict[str, Any]
    markdown: str


def build_report(store: Store, spec: ReportSpec, now: float | None = None) -> Report:
    """Make the report ``spec`` asks for from the runs of ``store``.

    Args:
        store: where the runs are.
        spec: the request; ``spec.out`` is the folder to write.
        now: the time to record (default: now).

    Raises:
        FilterSyntaxError: the filter does not parse.
        ReportError: no run matches, a metric or figure no run has, two
            figures that would share a file, or an ``out`` that cannot be
            written.
    """
    # Everything is checked before the first file is written.
    records = _usable(store.records(spec.filter, sort=["started", "id"]), store)
    if not records:
        raise _no_runs(store, spec.filter)
    table = build_table(records, spec)
    runs = {r["id"]: StoredRun(store.run_dir(r["id"]), r) for r in records}
    _check_figures(spec.figures)
    curves = {m: _read_curves(m, table.groups, runs) for m in spec.figures}
    _make_folder(spec.out)
    earlier = _earlier_files(spec.out)

    # Figures first: the page inlines them.
    drawn = [_draw(m, table.groups, c, spec) for m, c in curves.items()]
    record = _provenance(store, spec, table, now)
    texts = _texts(spec, table, record, runs, [paths[0] for paths in drawn])

    # report.json last, listing every file of this report.
    files = [*(p for paths in drawn for p in paths), *(spec.out / n for n in texts)]
    files.append(spec.out / "report.json")
    record["files"] = [p.name for p in files]
    texts["report.json"] = _json.dumps(record, indent=2) + "\n"
    for name, text in texts.items():
        _write(spec.out / name, text)
    _remove_stale(spec.out, earlier - set(record["files"]))
    logger.info("Wrote a report of %d run(s) to %s.", len(records), spec.out)
    return Report(spec.out, table, tuple(files), record, texts["table.md"])


def _texts(
    spec: ReportSpec,
    table: ResultTable,
    record: dict[str, Any],
    runs: dict[str, StoredRun],
    pngs: Sequence[Path],
) -> dict[str, str]:
    """The tables and the page, by file name; each carries where it came from."""
    comment = _comment(record)
    page_runs = [
        PageRun(r, group.label, runs[r["id"]].notes)
        for group in table.groups
        for r in group.records
    ]
    footer = " ".join(comment.splitlines()[:2])
    figures = list(zip(spec.figures, pngs, strict=True))
    return {
        "table.md": tables.render_markdown(table, spec.aggregate, comment),
        "table.tex": tables.render_latex(table, spec.aggregate, comment),
        "table.csv": tables.render_csv(table, spec.aggregate),
        "report.html": render_page(spec, table, figures, page_runs, footer),
    }


def _usable(records: list[dict[str, Any]], store: Store) -> list[dict[str, Any]]:
    kept = []
    for record in records:
        status = record.get("status")
        if status == "unreadable":
            logger.warning(
                "Leaving run %s out of the report: it is unreadable (%s).",
                record["id"],
                record.get("error"),
            )
            continue
        if status == "running":
            logger.warning(
                "Run %s is still running; its numbers in the report may change.",
                record["id"],
            )
        kept.append(record)
    if records and not kept:
        raise ReportError(
            f"Every run the filter selects in {store.path} is unreadable."
        )
    return kept


def _no_runs(store: Store, where: str) -> ReportError:
    if not where.strip():
        return ReportError(f"The store {store.path} has no runs to report on.")
    quoted = "'" + where.replace("'", "'\\''") + "'"
    return ReportError(
        f"The filter {where!r} selects no runs in {store.path}; "
        f"check it with `runlab ls {quoted}`."
    )


def _check_figures(metrics: Sequence[str]) -> None:
    """Refuse figures that would share a file, or that Matplotlib is missing for."""
    seen: dict[str, str] = {}
    for metric in metrics:
        stem = drawing.figure_stem(metric)
        if stem in seen:
            raise ReportError(
                f"Figures of '{seen[stem]}' and '{metric}' would both be {stem}.png; "
                "draw one of them in another report."
            )
        seen[stem] = metric
    if metrics and importlib.util.find_spec("matplotlib") is None:
        raise ReportError(
            "Figures need Matplotlib, which is not installed: pip install "
            "'runlab[report]', or ask for no figures (--no-figures, figures: [])."
        )


def _make_folder(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ReportError(
            f"Cannot make the report folder {out}: {err.strerror or err}; "
            "give another --out."
        ) from err


def _earlier_files(out: Path) -> set[str]:
    """The files an earlier report in ``out`` listed in its report.json."""
    try:
        earlier = _json.loads((out / "report.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return set()
    files = earlier.get("files") if isinstance(earlier, dict) else None
    if not isinstance(files, list):
        return set()
    # Plain names only: a hand-edited list must not reach outside the folder.
    return {
        f
        for f in files
        if isinstance(f, str) and f == Path(f).name and not f.startswith(".")
    }


def _remove_stale(out: Path, names: set[str]) -> None:
    """Delete the files of an earlier report that this one did not write again."""
    for name in sorted(names):
        try:
            (out / name).unlink(missing_ok=True)
        except OSError as err:
            logger.warning("Cannot remove %s of an earlier report: %s", name, err)
            continue
        logger.info("Removed %s, left by an earlier report in %s.", name, out)


def _write(path: Path, text: str) -> None:
    try:
        write_text_atomic(path, text, durable=False)
    except OSError as err:
        raise ReportError(
            f"Cannot write {path}: {err.strerror or err}; give another --out."
        ) from err


# -- figures -------------------------------------------------------------------


def _read_curves(
    metric: str, groups: Sequence[RunGroup], runs: dict[str, StoredRun]
) -> list[list[Series]]:
    """For each group, the non-empty series of ``metric`` its runs logged."""
    curves = []
    for group in groups:
        found = []
        for run_id in group.run_ids:
            series = _series(runs[run_id], metric)
            if series is None or not len(series):
                continue
            found.append(series)
            bad = int((~np.isfinite(series.values)).sum())
            if bad:
                logger.warning(
                    "Run %s logged %d non-finite value(s) of %s; the figure's "
                    "line for group %s leaves them out.", run_id, bad, metric,
                    group.label,
                )  # fmt: skip
        curves.append(found)
    if not any(curves):
        raise ReportError(
            f"No selected run logged metric '{metric}', so it cannot be drawn; "
            "check the names in `runlab show RUN` or drop it from the figures."
        )
    return curves


def _draw(
    metric: str,
    groups: Sequence[RunGroup],
    curves: list[list[Series]],
    spec: ReportSpec,
) -> list[Path]:
    try:
        return drawing.draw_metric(metric, groups, curves, spec.aggregate, spec.out)
    except OSError as err:
        raise ReportError(
            f"Cannot write the figure of '{metric}' into {spec.out}: "
            f"{err.strerror or err}."
        ) from err


def _series(run: StoredRun, metric: str) -> Series | None:
    try:
        return run.metric(metric)
    except KeyError:
        return None
    except (OSError, ValueError) as err:
        logger.warning("Cannot read metric %r of run %s: %s", metric, run.id, err)
        return None


# -- provenance ----------------------------------------------------------------


def _provenance(
    store: Store, spec: ReportSpec, table: ResultTable, now: float | None
) -> dict[str, Any]:
    """report.json's content, less the file list."""
    made = time.time() if now is None else now
    return {
        "title": spec.title,
        "filter": spec.filter,
        "spec": spec.to_dict(),
        "created": iso_time(made),
        "runlab_version": _version("runlab"),
        "versions": {
            "python": platform.python_version(),
            "numpy": _version("numpy"),
            "matplotlib": _version("matplotlib"),
        },
        "store": str(store.path),
        "cwd": str(Path.cwd()),
        "git": _cwd_git(Path.cwd()),
        "groups": [_group_record(table, row) for row in range(len(table.groups))],
        "runs": {
            r["id"]: {k: r.get(k) for k in ("name", "status", "commit", "branch")}
            for g in table.groups
            for r in g.records
        },
    }


def _group_record(table: ResultTable, row: int) -> dict[str, Any]:
    group = table.groups[row]
    return {
        "label": group.label,
        "key": dict(group.key),
        "runs": group.run_ids,
        "mixed_keys": list(group.mixed),
        "metrics": {
            column.label: _stats_record(stats)
            for column, stats in zip(table.columns, table.stats[row], strict=True)
        },
    }


def _stats_record(stats: Stats) -> dict[str, Any]:
    return {
        "mean": stats.mean,
        "std": stats.std,
        "min": stats.low,
        "max": stats.high,
        "n": stats.n,
    }


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _cwd_git(folder: Path) -> dict[str, Any] | None:
    """The commit checked out in ``folder`` and whether tracked files changed.

    None when ``folder`` is in no git repository, the repository has no
    commit, or git cannot be run.
    """
    head = _git(folder, "rev-parse", "HEAD")
    if head is None:
        return None
    status = _git(folder, "status", "--porcelain", "--untracked-files=no")
    return {"commit": head.strip(), "dirty": None if status is None else bool(status)}


def _git(folder: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_S,
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        logger.debug("git %s failed in %s: %s", " ".join(args), folder, err)
        return None
    return done.stdout if done.returncode == 0 else None


def _comment(record: dict[str, Any]) -> str:
    """The provenance as a few lines: who made it when, from where, which runs."""
    git = record["git"]
    code = "no git repository"
    if git:
        code = f"git {git['commit'][:12]}" + (
            " with uncommitted changes" if git["dirty"] else ""
        )
    where = _one_line(record["filter"]) or "(all runs)"
    lines = [
        f"Made by runlab {record['runlab_version']} on {record['created']} "
        f"in {record['cwd']} ({code}).",
        f"Store {record['store']}, filter: {where}.",
    ]
    for group in record["groups"]:
        lines.append(f"{_one_line(group['label'])}: {' '.join(group['runs'])}")
    return "\n".join(lines)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())
