"""Checks of a LaTeX table: compiled by pdflatex where present, else parsed."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

__all__ = ["check_latex_by_parsing", "compile_latex"]


def compile_latex(table: str, folder: Path) -> None:
    (folder / "table.tex").write_text(table)
    (folder / "doc.tex").write_text(
        "\\documentclass{article}\n\\usepackage[T1]{fontenc}\n"
        "\\usepackage{booktabs}\n\\begin{document}\n\\input{table.tex}\n"
        "\\end{document}\n"
    )
    done = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "doc.tex"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout[-2000:]
    assert (folder / "doc.pdf").read_bytes().startswith(b"%PDF")


def check_latex_by_parsing(table: str, body_rows: int) -> None:
    """Booktabs rules, matched environments and braces, one column count.

    A row may not open with ``[``: after ``\\`` or ``\\midrule`` LaTeX would
    read it as an optional argument.
    """
    lines = [line for line in table.splitlines() if not line.startswith("%")]
    head = re.fullmatch(r"\\begin\{tabular\}\{([lcr]+)\}", lines[0])
    assert head, lines[0]
    assert lines[-1] == r"\end{tabular}"
    assert (lines[1], lines[3], lines[-2]) == (r"\toprule", r"\midrule", r"\bottomrule")
    rows = [line for line in lines if line.endswith(r" \\")]
    assert len(rows) == 1 + body_rows
    for row in rows:
        assert not row.startswith("["), row
        assert len(re.split(r"(?<!\\)&", row[:-3])) == len(head.group(1)), row
        assert len(re.findall(r"(?<!\\)\$", row)) % 2 == 0, row
    depth = 0
    for char in re.sub(r"\\[{}%&$#_]", "", table):
        depth += {"{": 1, "}": -1}.get(char, 0)
        assert depth >= 0
    assert depth == 0
    opened = re.findall(r"\\(begin|end)\{(\w+)\}", table)
    assert opened == [("begin", "tabular"), ("end", "tabular")]
