"""``runlab ls``: list runs, filtered and sorted."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import click

from runlab.cli.options import format_options, store_option
from runlab.cli.render import (
    default_columns,
    echo_csv,
    echo_json,
    echo_table,
    public_record,
)

__all__ = ["ls_command"]


@click.command()
@click.argument("where", required=False, default="")
@click.option("--sort", "sort", multiple=True,
              help="Sort key; prefix '-' for descending; repeat for more.")  # fmt: skip
@click.option(
    "--columns", help="Comma-separated columns (fields, config keys, metric.summary)."
)
@click.option(
    "--limit", type=click.IntRange(min=0), help="Show at most this many runs."
)
@format_options
@store_option
def ls_command(
    where: str,
    sort: tuple[str, ...],
    columns: str | None,
    limit: int | None,
    as_json: bool,
    as_csv: bool,
    store: str | None,
) -> None:
    """List the runs matching WHERE, a filter such as 'optim.lr < 0.1 and tag:base'.

    \b
    Example:
      runlab ls 'status = finished and val/acc.max > 0.9' --sort -val/acc.max
    """
    from runlab.cli.options import reading_store
    from runlab.store.query import parse_filter

    target = reading_store(store)
    records = target.records(where, sort=sort or ["started"])
    filtered = list(parse_filter(where).fields)
    asked = [*filtered, *sort, *(columns or "").split(",")]
    if records:
        _warn_unknown(records, asked, "no listed run")
    else:  # a filter that matches nothing may be a typo: look at every run
        _warn_unknown(target.records(), asked, "no run")
    if as_json and as_csv:
        raise click.UsageError("Choose one of --json and --csv.")
    total = len(records)
    if limit is not None:
        records = records[:limit]
    chosen = [c.strip() for c in columns.split(",") if c.strip()] if columns else None
    if chosen is None and not as_json:
        chosen = _with_keys(default_columns(records), [*filtered, *sort])
    if as_json:
        echo_json([public_record(r) for r in records])
    elif as_csv:
        echo_csv(records, chosen or default_columns(records))
    else:
        echo_table(records, chosen or default_columns(records))
        shown = f"{len(records)} of {total}" if len(records) < total else f"{total}"
        yet = "" if target.path.is_dir() else " (no run was made there yet)"
        click.echo(f"{shown} run(s) in {target.path}{yet}", err=True)
        _warn_unreadable(records)


def _warn_unreadable(records: list[dict[str, object]]) -> None:
    for record in records:
        if record.get("status") == "unreadable":
            click.echo(f"Warning: run {record['id']} is unreadable: {record.get('error')}",
                       err=True)  # fmt: skip


def _warn_unknown(records: list[dict[str, Any]], keys: list[str], who: str) -> None:
    """Say which filter, sort or column keys no run has: typos, most likely."""
    from runlab.store.hints import unknown_keys

    wanted = [k.strip() for k in keys if k.strip()]
    for key, close in unknown_keys(records, wanted).items():
        hint = f"; did you mean '{close}'?" if close else ""
        click.echo(f"Warning: {who} has '{key}'{hint}", err=True)


def _with_keys(columns: list[str], keys: Sequence[str]) -> list[str]:
    """The default columns, plus the keys the runs are filtered and sorted by."""
    wanted = dict.fromkeys(key.removeprefix("-") for key in keys)
    return columns + [key for key in wanted if key not in columns]
