"""The results table as Markdown, LaTeX (booktabs) and CSV.

Numbers in Markdown, LaTeX and HTML are shown with three significant digits
(:func:`format_number`): ``0.958``, ``0.0412``, ``12.3``; digits before the
decimal point are never dropped (``1235``), and magnitudes under 1e-4 or
from 1e6 up are written ``1.23e-05``. A cell reads ``mean ± std`` (std with
ddof=1; a group of one run shows its mean alone) or ``mean (min–max)``; the
best mean of each column is bold. CSV keeps full precision (the shortest
text that reads back as the same float) and leaves a missing std empty.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable, Sequence

from runlab.report.groups import NO_VALUE, ResultTable, Stats

__all__ = [
    "cell_parts",
    "format_number",
    "render_csv",
    "render_latex",
    "render_markdown",
]

_LATEX_ESCAPES = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
    # After \\ or \midrule, a cell opening with [ would be read as an option.
    "[": "{[}",
    "]": "{]}",
    "–": "--",
    "±": r"$\pm$",
}


def format_number(value: float | None) -> str:
    """Show ``value`` with three significant digits (see the module docstring)."""
    if value is None:
        return NO_VALUE
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if value == 0:
        return "0"
    magnitude = math.floor(math.log10(abs(value)))
    if magnitude < -4 or magnitude >= 6:
        return f"{value:.2e}"
    decimals = max(0, 2 - magnitude)
    text = f"{value:.{decimals}f}"
    # Rounding may carry into a new digit (0.9996 -> 1.000): keep 3 digits.
    if decimals and len(text.lstrip("-").replace(".", "").lstrip("0")) > 3:
        text = f"{value:.{decimals - 1}f}"
    return text


def cell_parts(stats: Stats, aggregate: str) -> tuple[str, str]:
    """The mean as text, and what follows it: ``" ± 0.004"``, ``" (0.95–0.96)"``."""
    mean = format_number(stats.mean)
    if stats.n < 2:
        return mean, ""
    if aggregate == "minmax":
        return mean, f" ({format_number(stats.low)}–{format_number(stats.high)})"
    return mean, f" ± {format_number(stats.std)}"


def header_row(table: ResultTable) -> list[str]:
    """Column titles: the key columns, each metric's label, then ``n``."""
    return [*table.key_columns, *(c.label for c in table.columns), "n"]


Cell = tuple[str, str, bool]


def body_rows(table: ResultTable, aggregate: str) -> list[list[Cell]]:
    """Cells as ``(text, text after it, whether the text is bold)``, unescaped.

    A metric cell's first part is its mean, bold when best in its column;
    key cells and ``n`` have nothing after and are never bold.
    """
    rows = []
    for row, group in enumerate(table.groups):
        cells: list[Cell] = [(key, "", False) for key in table.key_cells[row]]
        for column, stats in enumerate(table.stats[row]):
            mean, rest = cell_parts(stats, aggregate)
            cells.append((mean, rest, row in table.best[column]))
        cells.append((str(len(group.records)), "", False))
        rows.append(cells)
    return rows


def render_markdown(table: ResultTable, aggregate: str, comment: str = "") -> str:
    """A GitHub-flavoured Markdown table, with ``comment`` as an HTML comment."""
    head = [_markdown_escape(cell) for cell in header_row(table)]
    lines = [f"<!-- {_comment_text(comment)} -->"] if comment else []
    lines += [_markdown_line(head), _markdown_line(_alignments(table))]
    for cells in body_rows(table, aggregate):
        lines.append(
            _markdown_line([_render(c, _markdown_escape, "**", "**") for c in cells])
        )
    return "\n".join(lines) + "\n"


def render_latex(table: ResultTable, aggregate: str, comment: str = "") -> str:
    r"""A booktabs tabular (``\usepackage{booktabs}``), ``comment`` in ``%`` lines."""
    head = [latex_escape(cell) for cell in header_row(table)]
    spec = "l" * len(table.key_columns) + "r" * (len(table.columns) + 1)
    lines = [f"% {line}" for line in comment.splitlines()]
    lines += [rf"\begin{{tabular}}{{{spec}}}", r"\toprule", _latex_line(head)]
    lines.append(r"\midrule")
    for cells in body_rows(table, aggregate):
        lines.append(
            _latex_line([_render(c, latex_escape, r"\textbf{", "}") for c in cells])
        )
    lines += [r"\bottomrule", r"\end{tabular}"]
    return "\n".join(lines) + "\n"


def render_csv(table: ResultTable, aggregate: str) -> str:
    """One row per group: the key columns, two columns per metric, then ``n``."""
    spread = ("min", "max") if aggregate == "minmax" else ("std",)
    head = list(table.key_columns)
    for column in table.columns:
        head += [f"{column.label} mean", *(f"{column.label} {s}" for s in spread)]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*head, "n"])
    for row, group in enumerate(table.groups):
        cells = list(table.key_cells[row])
        for stats in table.stats[row]:
            numbers = (stats.low, stats.high) if aggregate == "minmax" else (stats.std,)
            cells += [_exact(stats.mean), *(_exact(n) for n in numbers)]
        writer.writerow([*cells, len(group.records)])
    return out.getvalue()


def latex_escape(text: str) -> str:
    """Escape the characters LaTeX treats specially, for text mode."""
    return "".join(_LATEX_ESCAPES.get(char, char) for char in text)


def _exact(value: float | None) -> str:
    return "" if value is None else repr(value)


def _comment_text(comment: str) -> str:
    # "--" may not occur inside an HTML comment.
    return " ".join(comment.split()).replace("--", "- -")


def _alignments(table: ResultTable) -> list[str]:
    return ["---"] * len(table.key_columns) + ["---:"] * (len(table.columns) + 1)


def _markdown_line(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _markdown_escape(text: str) -> str:
    """Keep a cell one cell: escape pipes and Markdown marks, flatten lines."""
    flat = " ".join(text.splitlines())
    return "".join(f"\\{c}" if c in "\\|*_`[]<>" else c for c in flat)


def _latex_line(cells: Sequence[str]) -> str:
    return " & ".join(cells) + r" \\"


def _render(cell: Cell, escape: Callable[[str], str], start: str, end: str) -> str:
    """Escape a cell's parts, wrapping the first in ``start``/``end`` if bold."""
    text, rest, bold = cell
    first = f"{start}{escape(text)}{end}" if bold else escape(text)
    return first + escape(rest)
