"""report.html: one self-contained page with the tables, figures, configs and notes.

The page loads nothing: styles are inline, figures are PNG data URIs, and a
content security policy forbids every other source. All text from runs (names,
config values, notes) is escaped. Notes are Markdown rendered with raw HTML
off and links and images left as the text written, so no note can add a
script, a remote image or a link out of the page.
"""

from __future__ import annotations

import base64
import functools
import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from markdown_it import MarkdownIt

from runlab.report.groups import NO_VALUE, ResultTable, format_key_value, key_value
from runlab.report.spec import ReportSpec
from runlab.report.tables import body_rows, format_number, header_row

__all__ = ["PageRun", "render_page"]

_POLICY = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
_STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 60em;
       padding: 0 1em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { padding: 0.25em 0.7em; text-align: left; vertical-align: top; }
thead th { border-top: 2px solid #222; border-bottom: 1px solid #222; }
tbody tr:last-child td { border-bottom: 2px solid #222; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
figure { display: inline-block; margin: 0 1.5em 1.5em 0; }
figure img { width: 330px; }
figcaption, .fine, footer { color: #555; font-size: 12px; }
.note { border-left: 3px solid #ccc; padding-left: 1em; margin-bottom: 1em; }
code { font-size: 13px; }
"""


@dataclass(frozen=True)
class PageRun:
    """A run as the page lists it: its record, group label and notes."""

    record: Mapping[str, Any]
    group: str
    notes: str


def render_page(
    spec: ReportSpec,
    table: ResultTable,
    figures: Sequence[tuple[str, Path]],
    runs: Sequence[PageRun],
    footer: str,
) -> str:
    """Return the whole page.

    Args:
        spec: what was asked (title, filter, grouping, aggregate).
        table: the results.
        figures: ``(metric, PNG path)`` per figure, inlined in that order.
        runs: the runs involved, in table order.
        footer: where the report came from, one line.
    """
    title = _e(spec.title)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_POLICY}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{title}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{title}</h1>",
        f'<p class="fine">{_e(_summary(spec, table))}</p>',
        "<h2>Results</h2>",
        _results_table(table, spec.aggregate),
        *_figures(figures, spec.aggregate),
        "<h2>Runs</h2>",
        _runs_table(table, runs),
        *_notes(runs),
        f"<footer>{_e(footer)}</footer>",
        "</body></html>",
    ]
    return "\n".join(part for part in parts if part) + "\n"


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _summary(spec: ReportSpec, table: ResultTable) -> str:
    runs = sum(len(g.records) for g in table.groups)
    spread = "min–max" if spec.aggregate == "minmax" else "± std (ddof 1)"
    which = f"filter: {spec.filter}" if spec.filter.strip() else "all runs of the store"
    mixed = [
        f"{g.label} mixes runs that differ in {', '.join(g.mixed)}."
        for g in table.groups
        if g.mixed
    ]
    return " ".join(
        [
            f"{runs} run(s) ({which}) in {len(table.groups)} group(s) by "
            f"{', '.join(spec.by)}. Cells: mean {spread} over each group's runs; "
            "the best mean of each column is bold; n counts the runs.",
            *(f"Warning: group {text}" for text in mixed),
        ]
    )


def _results_table(table: ResultTable, aggregate: str) -> str:
    keys = len(table.key_columns)
    head = "".join(
        f'<th class="{_kind(i, keys)}">{_e(h)}</th>'
        for i, h in enumerate(header_row(table))
    )
    rows = []
    for cells in body_rows(table, aggregate):
        tds = []
        for i, (text, rest, bold) in enumerate(cells):
            first = f"<strong>{_e(text)}</strong>" if bold else _e(text)
            tds.append(f'<td class="{_kind(i, keys)}">{first}{_e(rest)}</td>')
        rows.append(f"<tr>{''.join(tds)}</tr>")
    return _table(head, rows)


def _kind(index: int, keys: int) -> str:
    return "key" if index < keys else "num"


def _table(head: str, rows: Sequence[str]) -> str:
    return (
        f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _figures(figures: Sequence[tuple[str, Path]], aggregate: str) -> list[str]:
    if not figures:
        return []
    band = "min to max" if aggregate == "minmax" else "± std"
    parts = ["<h2>Figures</h2>"]
    for metric, png in figures:
        data = base64.b64encode(png.read_bytes()).decode("ascii")
        parts.append(
            f'<figure><img src="data:image/png;base64,{data}" alt="{_e(metric)}">'
            f"<figcaption>{_e(metric)} by step: each group's mean, band {band}"
            "</figcaption></figure>"
        )
    return parts


def _runs_table(table: ResultTable, runs: Sequence[PageRun]) -> str:
    """Each run: id, name, group, status, then the config keys that vary, metrics."""
    varying = _varying_keys([r.record for r in runs])
    keys = [k for k in table.key_columns if k != "group"]
    keys += [k for k in varying if k not in keys]
    columns = ["run", "name", "group", "status", *keys]
    columns += [c.label for c in table.columns]
    head = "".join(f"<th>{_e(c)}</th>" for c in columns)
    rows = []
    for run in runs:
        cells = [run.record["id"], run.record.get("name") or NO_VALUE, run.group]
        cells.append(run.record.get("status") or NO_VALUE)
        cells += [_config_cell(run.record, key) for key in keys]
        cells += [_metric_cell(run.record, c.name, c.summary) for c in table.columns]
        rows.append("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in cells) + "</tr>")
    return _table(head, rows)


def _varying_keys(records: Sequence[Mapping[str, Any]]) -> list[str]:
    flats = [r.get("config_flat") or {} for r in records]
    keys = list(dict.fromkeys(k for flat in flats for k in flat))
    return [k for k in keys if len({repr(flat.get(k)) for flat in flats}) > 1]


def _config_cell(record: Mapping[str, Any], key: str) -> str:
    return format_key_value(key_value(record, key))


def _metric_cell(record: Mapping[str, Any], name: str, summary: str) -> str:
    value = ((record.get("metrics") or {}).get(name) or {}).get(summary)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return format_number(float(value))
    return NO_VALUE if value is None else str(value)


def _notes(runs: Sequence[PageRun]) -> list[str]:
    noted = [run for run in runs if run.notes.strip()]
    if not noted:
        return []
    parts = ["<h2>Notes</h2>"]
    for run in noted:
        name = run.record.get("name")
        heading = run.record["id"] + (f" ({name})" if name else "")
        parts.append(f'<div class="note"><h3>{_e(heading)}</h3>')
        parts.append(_markdown().render(run.notes) + "</div>")
    return parts


@functools.cache
def _markdown() -> MarkdownIt:
    # As the web page renders notes (HTML off), but links and images stay
    # text: the report must hold no reference to anything outside it.
    renderer = MarkdownIt("commonmark", {"html": False})
    return renderer.enable(["table", "strikethrough"]).disable(
        ["link", "image", "autolink"]
    )
