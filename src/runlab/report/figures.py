"""Figures for papers: a metric against the step, one mean line per group.

Each group is drawn as the mean of its runs at each step, over the runs that
logged that step, with a band: mean ± std (ddof=1, where two or more runs
logged the step) or the runs' min to max. A run's NaN or infinite value is
left out of the step's mean and band; where every run of the group is
non-finite the line breaks. A diverged seed never looks healthy: its group's
legend says how many of its runs went non-finite (the report warns, naming
them).
Resumed runs are read as the web page shows them: a step logged again hides
the older points from there on.

Figures are drawn by Matplotlib's object API on the Agg canvas, never through
pyplot, so a report changes no global backend and opens no window. Sizes fit
one column of a two-column paper: 3.3 in wide, 8 pt text (9 pt titles). The
PNG is 300 dpi; the PDF embeds TrueType fonts (journals refuse Type 3) and
carries no creation date, so the same data gives the same file.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from runlab.report.groups import RunGroup
from runlab.store.series import Series

__all__ = ["Band", "draw_metric", "figure_stem", "group_band"]

logger = logging.getLogger(__name__)

WIDTH_IN = 3.3
HEIGHT_IN = 2.3
PNG_DPI = 300
# Typed Any: Matplotlib's stubs spell rc keys as literals, checked at run time.
PAPER_STYLE: Any = {
    "font.size": 8,
    "axes.labelsize": 8,
    "axes.titlesize": 9,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 8,
    "lines.linewidth": 1.2,
    "axes.linewidth": 0.6,
    "pdf.fonttype": 42,
    "ps.fonttype": 42,
}
_LINE_STYLES = ("-", "--", ":", "-.")
# Anything but letters, digits, "_", "." and "-": safe in file systems and in
# LaTeX's \includegraphics.
_UNSAFE = re.compile(r"[^\w.-]|[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class Band:
    """One group's curve: steps, the mean and the band's edges (NaN: no value).

    ``diverged`` holds the indexes of the runs with a non-finite value.
    """

    steps: np.ndarray
    mean: np.ndarray
    low: np.ndarray
    high: np.ndarray
    diverged: tuple[int, ...] = ()


def figure_stem(metric: str) -> str:
    """The file name of a metric's figure, less its suffix: ``val/acc`` -> ``val_acc``.

    Every character but letters, digits, ``_``, ``.`` and ``-`` becomes ``_``
    (``/``, spaces, ``%``, ``|``...); a leading dot too, so no figure is hidden,
    leads out of the report's folder, or breaks ``\\includegraphics``.
    """
    stem = _UNSAFE.sub("_", metric)
    return "_" + stem[1:] if stem.startswith(".") else stem


def group_band(series: Sequence[Series], aggregate: str) -> Band:
    """Aggregate the runs' ``series`` of one metric step by step (see module doc)."""
    visible = [s.superseded() for s in series]
    steps = np.unique(np.concatenate([s.steps for s in visible]))
    table = np.full((len(visible), len(steps)), np.nan)
    present = np.zeros(table.shape, dtype=bool)
    for row, one in enumerate(visible):
        at = np.searchsorted(steps, one.steps)
        table[row, at] = one.values
        present[row, at] = True

    finite = present & np.isfinite(table)
    count = finite.sum(axis=0)
    clean = np.where(finite, table, 0.0)
    mean = clean.sum(axis=0) / np.maximum(count, 1)
    if aggregate == "minmax":
        low = np.where(finite, table, np.inf).min(axis=0)
        high = np.where(finite, table, -np.inf).max(axis=0)
    else:
        squares = np.where(finite, (clean - mean) ** 2, 0.0).sum(axis=0)
        spread = np.sqrt(squares / np.maximum(count - 1, 1))
        spread[count < 2] = np.nan
        low, high = mean - spread, mean + spread
    for column in (mean, low, high):
        column[count == 0] = np.nan
    diverged = tuple(int(i) for i in np.flatnonzero((present & ~finite).any(axis=1)))
    return Band(steps, mean, low, high, diverged)


def draw_metric(
    metric: str,
    groups: Sequence[RunGroup],
    series: Sequence[Sequence[Series]],
    aggregate: str,
    out: Path,
) -> list[Path]:
    """Draw ``metric`` for each group into ``out``; return the PNG and PDF paths.

    Args:
        metric: the metric's name, the y axis label.
        groups: the groups, in legend order.
        series: for each group, the series of its runs that logged ``metric``;
            a group without any is left out of the figure.
        aggregate: ``"std"`` or ``"minmax"``, the band.
        out: the folder to write ``<stem>.png`` and ``<stem>.pdf`` into.
    """
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    stem = out / figure_stem(metric)
    paths = [stem.with_name(stem.name + ".png"), stem.with_name(stem.name + ".pdf")]
    # Scoped settings: the caller's Matplotlib style is left as it was.
    with matplotlib.rc_context(PAPER_STYLE):
        figure = Figure(figsize=(WIDTH_IN, HEIGHT_IN), layout="constrained")
        FigureCanvasAgg(figure)
        axes = figure.add_subplot()
        for index, (group, members) in enumerate(zip(groups, series, strict=True)):
            if members:
                band = group_band(members, aggregate)
                _draw_group(axes, index, _legend_label(group, members, band), band)
        # Steps are whole numbers: no tick at step 0.5.
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.set_xlabel("step")
        axes.set_ylabel(metric)
        axes.legend(frameon=False)
        _save(figure, paths[0], dpi=PNG_DPI)
        _save(figure, paths[1], metadata={"CreationDate": None})
    logger.info("Drew figure %s for metric %r.", paths[0], metric)
    return paths


def _legend_label(group: RunGroup, members: Sequence[Series], band: Band) -> str:
    if not band.diverged:
        return group.label
    return f"{group.label} ({len(band.diverged)} of {len(members)} non-finite)"


def _save(figure: Any, path: Path, **options: Any) -> None:
    """Save through a temporary file: a failed save leaves no half a figure."""
    partial = path.with_name(f".{path.name}.partial")
    try:
        figure.savefig(partial, format=path.suffix.lstrip("."), **options)
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def _draw_group(axes: Any, index: int, label: str, band: Band) -> None:
    colour = f"C{index % 10}"
    style = _LINE_STYLES[index // 10 % len(_LINE_STYLES)]
    axes.plot(band.steps, band.mean, color=colour, linestyle=style, label=label)
    has_band = np.isfinite(band.low) & np.isfinite(band.high)
    if has_band.any():
        axes.fill_between(
            band.steps,
            band.low,
            band.high,
            where=has_band,
            color=colour,
            alpha=0.2,
            linewidth=0,
        )
