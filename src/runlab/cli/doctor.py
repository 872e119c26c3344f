"""``runlab doctor``: check a store for damage, and repair it with ``--fix``."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import click

from runlab.cli.options import store_option

if TYPE_CHECKING:
    from runlab.store.doctor import Finding

__all__ = ["doctor_command"]


@click.command()
@click.option("--fix", is_flag=True, help="Repair what can be repaired.")
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON.")
@store_option
def doctor_command(fix: bool, as_json: bool, store: str | None) -> None:
    """Check a store for crashed runs, index drift, torn files and leftovers.

    With --fix, repair what can be repaired and show what was done. The exit
    code is 0 when no problem remains: without --fix, when the store is
    healthy; with it, when everything fixable was fixed. It is 1 when problems
    remain (found and not fixed, or not fixable, such as an unreadable run).

    \b
    Example:
      runlab doctor --store experiments
      runlab doctor --fix --store experiments
    """
    from runlab.store import open_store
    from runlab.store.doctor import check_store, fix_findings

    target = open_store(store)
    findings = check_store(target)
    repaired = fix_findings(target, findings) if fix else []

    # A repaired finding is the one found, with what was done filled in.
    done = {dataclasses.replace(f, action=None): f for f in repaired}
    shown = [done.get(f, f) for f in findings]
    remaining = len(findings) - len(done)
    if as_json:
        from runlab.cli.render import echo_json

        echo_json([dataclasses.asdict(f) for f in shown])
    elif findings:
        _echo_table(shown, fix)
        click.echo(_summary(findings, done, fix))
    else:
        count = len(target.run_ids_on_disk())
        click.echo(f"Store is healthy: {count} run(s) checked.")
    if remaining:
        sys.exit(1)


def _summary(
    findings: Sequence[Finding], done: Mapping[Finding, Finding], fix: bool
) -> str:
    if fix:
        left = len(findings) - len(done)
        return f"Fixed {len(done)} problem(s); {left} problem(s) remain."
    fixable = sum(f.fixable for f in findings)
    if not fixable:
        return f"{len(findings)} problem(s) found, none fixable."
    return (
        f"{len(findings)} problem(s) found, {fixable} fixable; "
        "run `runlab doctor --fix` to repair them."
    )


def _echo_table(findings: Sequence[Finding], fix: bool) -> None:
    from rich.markup import escape
    from rich.table import Table

    from runlab.cli.render import console

    table = Table(header_style="bold")
    table.add_column("kind", no_wrap=True)
    table.add_column("run", no_wrap=True)
    table.add_column("detail", overflow="fold")
    table.add_column("fixed" if fix else "fixable", overflow="fold")
    for finding in findings:
        table.add_row(
            finding.kind,
            finding.run_id or "-",
            escape(finding.detail),
            _outcome(finding, fix),
        )
    console().print(table)


def _outcome(finding: Finding, fix: bool) -> str:
    from rich.markup import escape

    if fix and finding.action:
        return f"[green]{escape(finding.action)}[/]"
    return "yes" if finding.fixable and not fix else "[red]no[/]"
