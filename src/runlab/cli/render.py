"""Turning records into what a person or a program reads: tables, JSON, CSV.

Rich is imported only when a table is drawn.
"""

from __future__ import annotations

import csv
import io
import math
import sys
import time
from collections.abc import Sequence
from typing import Any

import click

from runlab import _json
from runlab.store.query import resolve_field
from runlab.store.stored import iso_time

__all__ = [
    "default_columns",
    "echo_csv",
    "echo_json",
    "echo_table",
    "format_value",
    "public_record",
]

SUMMARIES = ("last", "min", "max", "count", "last_step")


def public_record(record: dict[str, Any]) -> dict[str, Any]:
    """The JSON shape of a run for ``ls --json`` and ``show --json``."""
    started, ended = record.get("started"), record.get("ended")
    public = {
        "id": record["id"],
        "name": record.get("name"),
        "status": record.get("status"),
        "started": iso_time(started),
        "ended": iso_time(ended),
        "duration": _duration(record),
        "tags": list(record.get("tags") or []),
        "experiment": record.get("experiment"),
        "sweep": record.get("sweep"),
        "trial": record.get("trial"),
        "branch": record.get("branch"),
        "commit": record.get("commit"),
        "host": record.get("host"),
        "exit_code": record.get("exit_code"),
        "config": record.get("config") or {},
        "metrics": {
            name: {key: summary.get(key) for key in SUMMARIES}
            for name, summary in (record.get("metrics") or {}).items()
        },
    }
    if record.get("error"):
        public["error"] = record["error"]
    if started is None and ended is None:
        public["started"] = None
    return public


def _duration(record: dict[str, Any]) -> float | None:
    started = record.get("started")
    if started is None:
        return None
    end = record.get("ended") or (
        time.time() if record.get("status") == "running" else None
    )
    return None if end is None else round(end - started, 3)


def echo_json(data: Any) -> None:
    """Print strict JSON (non-finite numbers as "NaN", "Infinity", "-Infinity")."""
    click.echo(_json.dumps(data, indent=2))


def format_value(value: Any) -> str:
    """Show a value compactly: floats to 6 significant digits, None as '-'."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return f"{value:.6g}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return _json.dumps(value)
    return str(value)


def cell(record: dict[str, Any], column: str) -> Any:
    """The value of ``column`` for a record, with times and durations readable."""
    if column in ("started", "ended"):
        seconds = record.get(column)
        return (
            time.strftime("%m-%d %H:%M", time.localtime(seconds)) if seconds else None
        )
    if column == "duration":
        seconds = _duration(record)
        return None if seconds is None else _human_duration(seconds)
    if column == "tags":
        return ",".join(record.get("tags") or []) or None
    if column == "name":
        return record.get("name")
    return resolve_field(record, column)


def _human_duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def default_columns(
    records: Sequence[dict[str, Any]], max_config: int = 5
) -> list[str]:
    """id, name, status, times, tags, the config keys that vary, key metrics."""
    columns = ["id", "name", "status", "started", "duration", "tags"]
    varying = varying_config_keys(records)[:max_config]
    metrics: list[str] = []
    for record in records:
        for name in record.get("metrics") or {}:
            if not name.startswith("sys/") and name not in metrics:
                metrics.append(name)
    return columns + varying + [f"{m}.last" for m in metrics[:4]]


def varying_config_keys(records: Sequence[dict[str, Any]]) -> list[str]:
    """Config leaf keys whose values are not the same in every record."""
    keys: list[str] = []
    for record in records:
        for key in record.get("config_flat") or {}:
            if key not in keys:
                keys.append(key)
    if len(records) < 2:
        return keys
    first = [r.get("config_flat") or {} for r in records]
    return [k for k in keys if len({_json.dumps(f.get(k)) for f in first}) > 1]


def echo_table(
    records: Sequence[dict[str, Any]], columns: Sequence[str], title: str | None = None
) -> None:
    """Draw a table of ``columns`` for ``records``.

    Rich draws it on a terminal. Piped output, and any listing over
    ``PLAIN_ROWS`` rows, is printed as plain aligned text instead: Rich needs
    about half a second per thousand rows, which a listing of 10,000 runs
    would turn into seconds.
    """
    if len(records) > PLAIN_ROWS or not sys.stdout.isatty():
        echo_plain_table(records, columns)
        return
    from rich.table import Table

    table = Table(title=title, header_style="bold")
    for column in columns:
        fixed = column in ("id", "started", "status", "duration")
        table.add_column(column, overflow="fold", no_wrap=fixed)
    for record in records:
        table.add_row(*(_styled(column, cell(record, column)) for column in columns))
    console().print(table)


PLAIN_ROWS = 500


def echo_plain_table(records: Sequence[dict[str, Any]], columns: Sequence[str]) -> None:
    """Print columns left-aligned and separated by two spaces, one run a line."""
    rows = [[_one_line(format_value(cell(r, c))) for c in columns] for r in records]
    widths = [
        max([len(c), *(len(row[i]) for row in rows)]) for i, c in enumerate(columns)
    ]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()
    ]
    lines += [
        "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    click.echo("\n".join(lines))


def _one_line(text: str) -> str:
    return text.replace("\n", " ").replace("\r", " ")


def console() -> Any:
    """A Rich console; piped output gets a wide page instead of 80 columns."""
    from rich.console import Console

    screen = Console()
    return screen if screen.is_terminal else Console(width=240)


def _styled(column: str, value: Any) -> str:
    from rich.markup import escape

    text = escape(format_value(value))
    if column == "status":
        colour = {"finished": "green", "running": "cyan", "failed": "red",
                  "killed": "yellow", "crashed": "magenta"}.get(str(value))  # fmt: skip
        return f"[{colour}]{text}[/]" if colour else text
    return text


def echo_csv(records: Sequence[dict[str, Any]], columns: Sequence[str]) -> None:
    """Print ``columns`` of ``records`` as CSV (times as ISO 8601)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for record in records:
        writer.writerow([_csv_value(record, column) for column in columns])
    click.echo(out.getvalue(), nl=False)


def _csv_value(record: dict[str, Any], column: str) -> str:
    if column in ("started", "ended"):
        return iso_time(record.get(column)) or ""
    value = cell(record, column) if column != "duration" else _duration(record)
    if isinstance(value, float) and math.isfinite(value):
        return repr(value)  # full precision: CSV is read by programs
    return "" if value is None else format_value(value)
