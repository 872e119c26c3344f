"""``runlab report``: tables and figures for a paper from grouped runs."""

from __future__ import annotations

from typing import Any

import click

from runlab.cli.options import store_option

__all__ = ["report_command"]


@click.command()
@click.argument("where", required=False)
@click.option(
    "--by",
    multiple=True,
    help="Group by this config key or run field; repeat for more "
    "(default ~seed: every key but the seed).",
)
@click.option(
    "--metric",
    "metrics",
    multiple=True,
    help="A table column, NAME.SUMMARY (val/acc.max); repeat for more.",
)
@click.option("--out", type=click.Path(file_okay=False), help="Folder to write into.")
@click.option(
    "--spec",
    "spec_file",
    type=click.Path(dir_okay=False),
    help="A YAML file with these fields; options given here win.",
)
@click.option("--title", help="The report's title.")
@click.option(
    "--aggregate",
    type=click.Choice(["std", "minmax"]),
    help="Band and spread: mean ± std (default) or min–max.",
)
@click.option(
    "--figure",
    "figures",
    multiple=True,
    help="Draw this metric by step (default: each --metric's name).",
)
@click.option("--no-figures", is_flag=True, help="Tables and page only, no figures.")
@click.option(
    "--minimize",
    multiple=True,
    help="Lower is best for this metric (default: names with 'loss', .min).",
)
@click.option("--maximize", multiple=True, help="Higher is best for this metric.")
@store_option
def report_command(
    where: str | None,
    spec_file: str | None,
    no_figures: bool,
    store: str | None,
    **options: Any,
) -> None:
    """Write tables, figures and a page of the runs WHERE selects, grouped.

    Writes table.md, table.tex, table.csv, <metric>.png and .pdf, report.html
    and report.json into --out, and prints the Markdown table.

    \b
    Example:
      runlab report 'status = finished' --by optim.lr --metric val/acc.max --out rep
    """
    from runlab.report import build_report, load_spec_data, make_spec
    from runlab.report.tables import render_markdown
    from runlab.store import open_store

    # Fields of the spec file first, then the options given here over them.
    data: dict[str, Any] = {}
    lines: dict[str, int] = {}
    if spec_file:
        data, lines = load_spec_data(spec_file)
    given = _given(where, options)
    if no_figures:
        given["figures"] = []
    for key in given:
        lines.pop(key, None)
    data.update(given)
    spec = make_spec(data, spec_file or "runlab report", lines)

    report = build_report(open_store(store), spec)
    click.echo(render_markdown(report.table, spec.aggregate), nl=False)
    names = ", ".join(path.name for path in report.files)
    runs = sum(len(g.records) for g in report.table.groups)
    click.echo(
        f"Wrote a report of {runs} run(s) in {len(report.table.groups)} group(s) "
        f"to {report.out}: {names}",
        err=True,
    )


def _given(where: str | None, options: dict[str, Any]) -> dict[str, Any]:
    """The fields set on the command line, by their spec names."""
    given: dict[str, Any] = {} if where is None else {"filter": where}
    for key, value in options.items():
        if value not in (None, ()):
            given[key] = list(value) if isinstance(value, tuple) else value
    return given
