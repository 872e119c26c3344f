"""What a report holds: the runs, their grouping, the metrics, and where it goes.

A :class:`ReportSpec` comes from the options of ``runlab report`` or from a
YAML spec file with the same fields (docs/guide.md, "Reports")::

    title: Digits, two learning rates
    filter: status = finished and epochs = 3
    by: [optim.lr]              # or one key; default ~seed
    metrics: [val/acc.max, val/loss.min]
    aggregate: std              # or minmax
    figures: [val/acc]          # default: the names of the metrics; [] for none
    x: step
    minimize: [val/loss]        # default: names holding "loss" and .min summaries
    out: report/                # relative to the spec file's folder

Reading is strict: an unknown key, a metric without its summary or a bad
value raises :class:`ReportError` naming the file, its line where known, and
what to write instead.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runlab._yaml import key_lines, loads_config
from runlab.errors import RunlabError
from runlab.store.query import METRIC_SUMMARIES

__all__ = [
    "AGGREGATES",
    "MetricColumn",
    "ReportError",
    "ReportSpec",
    "load_spec_data",
    "make_spec",
    "parse_metric",
]

AGGREGATES = ("std", "minmax")
X_KINDS = ("step",)
KEYS = (
    "title",
    "filter",
    "by",
    "metrics",
    "aggregate",
    "figures",
    "x",
    "minimize",
    "maximize",
    "out",
)
DEFAULT_BY = ("~seed",)
_SUMMARY_LIST = ", ".join(sorted(METRIC_SUMMARIES))
# For messages: the command-line flag of a spec key, and an example value.
_FLAGS = {"metrics": "metric", "figures": "figure", "by": "by"}
_EXAMPLES = {"metrics": "val/acc.max", "figures": "val/acc", "by": "optim.lr"}


class ReportError(RunlabError, ValueError):
    """A report cannot be made as asked: a bad spec, or runs that do not fit it."""


@dataclass(frozen=True)
class MetricColumn:
    """One column of the results table: a metric's name and one summary of it."""

    name: str
    summary: str

    @property
    def label(self) -> str:
        """``val/acc.max``, as written on the command line and in headers."""
        return f"{self.name}.{self.summary}"


@dataclass(frozen=True)
class ReportSpec:
    """A checked report request.

    ``by`` holds config keys, run fields (``branch``, ``status``, ...) or
    ``~seed`` (every config key but the seed); ``figures`` names metrics to
    draw; ``minimize`` and ``maximize`` override the default sense of "best"
    for metric names or labels (see :meth:`is_minimized`).
    """

    metrics: tuple[MetricColumn, ...]
    out: Path
    by: tuple[str, ...] = DEFAULT_BY
    filter: str = ""
    title: str = "Report"
    aggregate: str = "std"
    figures: tuple[str, ...] = ()
    x: str = "step"
    minimize: tuple[str, ...] = ()
    maximize: tuple[str, ...] = ()
    source: str = field(default="runlab report", compare=False)

    def is_minimized(self, column: MetricColumn) -> bool:
        """Whether a lower value of ``column`` is better.

        ``maximize`` and ``minimize`` (by name or label) decide first; else a
        ``min`` summary, or a name holding "loss", is minimized; else maximized.
        """
        named = {column.name, column.label}
        if named & set(self.maximize):
            return False
        if named & set(self.minimize):
            return True
        return column.summary == "min" or "loss" in column.name.casefold()

    def to_dict(self) -> dict[str, Any]:
        """The spec as plain data, for report.json."""
        return {
            "title": self.title,
            "filter": self.filter,
            "by": list(self.by),
            "metrics": [m.label for m in self.metrics],
            "aggregate": self.aggregate,
            "figures": list(self.figures),
            "x": self.x,
            "minimize": list(self.minimize),
            "maximize": list(self.maximize),
            "out": str(self.out),
        }


def parse_metric(text: str) -> MetricColumn:
    """Read ``NAME.SUMMARY`` (``val/acc.max``); the name may hold dots.

    Raises:
        ReportError: the text does not end in a known summary.
    """
    name, _, summary = text.strip().rpartition(".")
    if name and summary.isidentifier() and summary not in METRIC_SUMMARIES:
        raise ReportError(
            f"Metric '{text}': '{summary}' is not a summary; the summaries are "
            f"{_SUMMARY_LIST} (the mean and std over runs come by themselves)."
        )
    if not name or summary not in METRIC_SUMMARIES:
        raise ReportError(
            f"Metric '{text}' needs a summary: write it as NAME.SUMMARY, e.g. "
            f"'{text.strip() or 'val/acc'}.max' (summaries: {_SUMMARY_LIST})."
        )
    return MetricColumn(name, summary)


def load_spec_data(
    path: str | os.PathLike[str],
) -> tuple[dict[str, Any], dict[str, int]]:
    """Read a spec file into plain data, with ``out`` made relative to its folder.

    Returns:
        The data, and the line of each top-level key (for error messages).

    Raises:
        ReportError: the file is missing, unreadable, or not a YAML mapping.
    """
    name = os.fspath(path)
    try:
        text = Path(name).read_text(encoding="utf-8-sig")
    except FileNotFoundError as err:
        raise ReportError(f"Report spec '{name}' does not exist.") from err
    except (OSError, UnicodeDecodeError) as err:
        raise ReportError(f"Report spec '{name}' cannot be read: {err}.") from err
    data = loads_config(text, name)
    if isinstance(data.get("out"), str) and data["out"]:
        data["out"] = str(Path(name).parent / data["out"])
    lines = {path[0]: line for path, line in key_lines(text).items() if len(path) == 1}
    return data, lines


def make_spec(
    data: Mapping[str, Any],
    source: str = "runlab report",
    lines: Mapping[str, int] | None = None,
) -> ReportSpec:
    """Check ``data`` (spec file fields, options laid over them) into a spec.

    Args:
        data: the fields; ``metrics`` and ``out`` are required.
        source: names the spec in errors (the file, or the command).
        lines: the line of each key in ``source``, where it is a file.

    Raises:
        ReportError: a key is unknown or a value is not allowed.
    """
    return _SpecReader(source, data, lines or {}).read()


class _SpecReader:
    """Checks spec data field by field; errors name the source and line."""

    def __init__(
        self, source: str, data: Mapping[str, Any], lines: Mapping[str, int]
    ) -> None:
        self.source = source
        self.data = data
        self.lines = lines

    def error(self, key: str, problem: str) -> ReportError:
        line = self.lines.get(key)
        where = f"{self.source}:{line}" if line else self.source
        return ReportError(f"{where}: {problem}")

    def read(self) -> ReportSpec:
        self._check_keys()
        metrics = self._metrics()
        figures = self._words("figures", None)
        minimize = self._words("minimize", ()) or ()
        maximize = self._words("maximize", ()) or ()
        both = sorted(set(minimize) & set(maximize))
        if both:
            raise self.error(
                "maximize", f"{', '.join(both)} cannot be both minimized and maximized."
            )
        return ReportSpec(
            metrics=metrics,
            out=self._out(),
            by=self._words("by", DEFAULT_BY) or DEFAULT_BY,
            filter=self._text("filter", ""),
            title=self._text("title", "Report"),
            aggregate=self._choice("aggregate", AGGREGATES),
            figures=_unique(m.name for m in metrics) if figures is None else figures,
            x=self._choice("x", X_KINDS),
            minimize=minimize,
            maximize=maximize,
            source=self.source,
        )

    def _check_keys(self) -> None:
        for key in self.data:
            if key not in KEYS:
                close = difflib.get_close_matches(str(key), KEYS, n=1)
                hint = f"did you mean '{close[0]}'?" if close else ""
                hint = hint or f"a report spec takes {', '.join(KEYS)}."
                raise self.error(key, f"unknown key '{key}'; {hint}")

    def _metrics(self) -> tuple[MetricColumn, ...]:
        words = self._words("metrics", ()) or ()
        if not words:
            raise self.error(
                "metrics",
                "no metrics to report; give --metric NAME.SUMMARY (or metrics: "
                "[val/acc.max]) once or more.",
            )
        try:
            return tuple(parse_metric(word) for word in _unique(words))
        except ReportError as err:
            raise self.error("metrics", str(err)) from None

    def _out(self) -> Path:
        value = self.data.get("out")
        if not isinstance(value, (str, os.PathLike)) or not os.fspath(value):
            raise self.error(
                "out", "no folder to write to; give --out DIR (or out: DIR)."
            )
        return Path(value)

    def _words(
        self, key: str, default: tuple[str, ...] | None
    ) -> tuple[str, ...] | None:
        value = self.data.get(key)
        if value is None:
            return default
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, Sequence) or not all(
            isinstance(item, str) and item.strip() for item in value
        ):
            example = _EXAMPLES.get(key, "name")
            raise self.error(
                key, f"{key} must be non-empty names (--{_FLAGS.get(key, key)} "
                f"{example}, or {key}: [{example}] in a spec file)."
            )  # fmt: skip
        return tuple(_unique(item.strip() for item in value))

    def _text(self, key: str, default: str) -> str:
        value = self.data.get(key, default)
        if value is None:
            return default
        if not isinstance(value, str):
            raise self.error(key, f"{key} must be text, not {value!r}.")
        return value

    def _choice(self, key: str, options: tuple[str, ...]) -> str:
        value = self.data.get(key) or options[0]
        if value in options:
            return str(value)
        listed = " or ".join(options)
        raise self.error(key, f"{key} '{value}' is not allowed; use {listed}.")


def _unique(items: Any) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))
