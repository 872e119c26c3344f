"""Reports for papers: tables and figures of grouped runs, and a page holding both.

From the runs a filter selects, grouped by config keys and aggregated over
each group's runs (seeds, typically), a report writes a results table as
Markdown, LaTeX (booktabs) and CSV, a figure per chosen metric as PNG and PDF,
a self-contained ``report.html`` and a ``report.json`` recording the runs and
versions behind it::

    from runlab.report import build_report, make_spec
    spec = make_spec({"by": ["optim.lr"], "metrics": ["val/acc.max"], "out": "rep"})
    build_report(runlab.open_store(), spec)

Figures need Matplotlib (the ``report`` extra).
"""

from __future__ import annotations

from runlab.report.build import Report, build_report
from runlab.report.spec import (
    MetricColumn,
    ReportError,
    ReportSpec,
    load_spec_data,
    make_spec,
    parse_metric,
)

__all__ = [
    "MetricColumn",
    "Report",
    "ReportError",
    "ReportSpec",
    "build_report",
    "load_spec_data",
    "make_spec",
    "parse_metric",
]
