"""``runlab checkout``, ``runlab diff`` and ``runlab reproduce``: a run's code again."""

from __future__ import annotations

import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from runlab import _json
from runlab.cli.options import store_option
from runlab.cli.render import echo_json

if TYPE_CHECKING:
    from runlab.reproduce import Reproduction, RunCode

__all__ = ["checkout_command", "diff_command", "reproduce_command"]

Say = Callable[[str], None]
# Left-out files listed by checkout; git.json lists up to 1,000.
SHOWN = 20


@click.command()
@click.argument("run")
@click.argument("path", type=click.Path(file_okay=False))
@click.option("--files", is_flag=True, help="Write plain files, not a git worktree.")
@store_option
def checkout_command(run: str, path: str, files: bool, store: str | None) -> None:
    """Write the code RUN started from into PATH, as a new detached git worktree.

    \b
    Example:
      runlab checkout 261203-1512 ../code-261203-1512
    """
    from runlab.reproduce import checkout_run
    from runlab.store import open_store

    code, target = checkout_run(open_store(store), run, path, files=files)
    kind = "plain files" if files else "a git worktree detached at that commit"
    what = "snapshot" if code.is_snapshot else "commit"
    click.echo(
        f"Wrote the code of run {code.run_id} ({what} {code.commit[:12]}) "
        f"into {target}, as {kind}."
    )
    if code.note:
        lacks = "its uncommitted changes are missing" if code.dirty else "it was clean"
        click.echo(f"Note: run {code.run_id} has {code.note}; {lacks}.")
    _echo_left_out(code)


def _echo_left_out(code: RunCode) -> None:
    if code.left_out:
        click.echo(f"Left out of the snapshot of run {code.run_id}:")
    for entry in code.left_out[:SHOWN]:
        size = f", {entry['bytes']} bytes" if entry.get("bytes") is not None else ""
        click.echo(f"  {entry['path']} ({entry['reason']}{size})")
    more = max(code.left_out_count, len(code.left_out)) - SHOWN
    if more > 0:
        click.echo(f"  and {more} more: see snapshot_left_out in code/git.json.")


@click.command()
@click.argument("run_a")
@click.argument("run_b")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@store_option
def diff_command(run_a: str, run_b: str, as_json: bool, store: str | None) -> None:
    """Show what differs from RUN_A to RUN_B: code, then config, then environment.

    \b
    Example:
      runlab diff 261203-1512 261203-1530
    """
    from runlab.reproduce import diff_runs
    from runlab.store import open_store

    diff = diff_runs(open_store(store), run_a, run_b)
    if as_json:
        echo_json(diff)
        return
    a, b = diff["runs"]
    _echo_code(diff["code"], a, b)
    _echo_config(diff["config"], a, b)
    _echo_environment(diff["packages"], diff["python"])


def _echo_code(code: dict[str, Any], a: str, b: str) -> None:
    def side(run_id: str, facts: dict[str, Any] | None) -> str:
        if facts is None:
            return f"{run_id} (no code)"
        what = "snapshot" if facts["snapshot"] else "commit"
        return f"{run_id} ({what} {facts['commit'][:12]})"

    click.echo(f"== Code: {side(a, code['a'])} -> {side(b, code['b'])}")
    for note in code["notes"]:
        click.echo(f"Note: {note}")
    if code["a"] and code["b"] and not code["patch"] and not code["notes"]:
        click.echo("The code is the same.")
    click.echo(code["stat"], nl=False)
    if code["patch"]:
        click.echo("")
        click.echo(code["patch"], nl=False)


def _echo_config(rows: list[dict[str, Any]], a: str, b: str) -> None:
    if not rows:
        click.echo("\n== Config\nThe configs are the same.")
        return
    count = "1 key differs" if len(rows) == 1 else f"{len(rows)} keys differ"
    click.echo(f"\n== Config: {count}")
    for row in rows:
        if row["in"] == "both":
            said = f"{_show(row['a'])} -> {_show(row['b'])}"
        else:
            value = row[row["in"]]
            said = f"{_show(value)} (only in {a if row['in'] == 'a' else b})"
        click.echo(f"  {row['key']}: {said}")


def _echo_environment(packages: dict[str, Any], python: list[str | None]) -> None:
    click.echo("\n== Environment")
    for note in packages["notes"]:
        click.echo(f"Note: {note}")
    if python[0] != python[1]:
        click.echo(f"  python: {python[0] or '?'} -> {python[1] or '?'}")
    _echo_packages(packages, click.echo)
    counts = [len(packages[k]) for k in ("added", "removed", "changed")]
    if not any(counts) and not packages["notes"] and python[0] == python[1]:
        click.echo("The packages and Python version are the same.")


def _echo_packages(packages: dict[str, Any], say: Say) -> None:
    for entry in packages["added"]:
        say(f"  + {entry['name']} {entry['version']}")
    for entry in packages["removed"]:
        say(f"  - {entry['name']} {entry['version']}")
    for entry in packages["changed"]:
        say(f"  ~ {entry['name']} {entry['before']} -> {entry['after']}")


def _show(value: Any) -> str:
    # JSON shows the type: "1" is a string, 1 a number, true a bool.
    return _json.dumps(value)


@click.command()
@click.argument("run")
@click.option("--dry-run", is_flag=True, help="Print every step; change nothing.")
@store_option
@click.pass_context
def reproduce_command(
    ctx: click.Context, run: str, dry_run: bool, store: str | None
) -> None:
    """Run RUN's command again on its code and config, as a new run that reproduces it.

    \b
    Example:
      runlab reproduce 261203-1512 --dry-run
    """
    from runlab.reproduce import plan_reproduction, reproduce_run
    from runlab.store import open_store

    target = open_store(store)
    plan = plan_reproduction(target, run)
    # Said before anything starts, so that a differing result can be explained.
    say = click.echo if dry_run else _to_stderr
    if dry_run:
        say(f"Dry run: nothing is changed. Reproducing run {plan.run_id} would:")
    _echo_plan(plan, target.path, say)
    _echo_environment_change(plan, say)
    if dry_run:
        return

    quiet = bool(ctx.find_root().params.get("quiet"))
    new_id, code = reproduce_run(target, plan)
    if not quiet:
        ended = f"ended with exit code {code}"
        say(f"runlab: run {new_id} (reproduces {plan.run_id}) {ended}")
        # Kept: the command may have written outputs into its working folder.
        say(f"Its worktree stays at {plan.worktree} with what the command wrote;")
        say(f"remove it with: git worktree remove --force {plan.worktree}")
    sys.exit(code)


def _to_stderr(text: str) -> None:
    click.echo(text, err=True)


def _echo_plan(plan: Reproduction, store: Path, say: Say) -> None:
    code = plan.code
    what = "snapshot" if code.is_snapshot else "commit"
    say(f"  1. add a git worktree of {code.repo} at {plan.worktree},")
    say(f"     detached at the {what} {code.commit}")
    say(f"  2. run in {plan.cwd}")
    say(f"  3. the command: {shlex.join(plan.command)}")
    say(f"  4. with the config of run {plan.run_id}:")
    for key, value in _flat(plan.config).items():
        say(f"       {key}: {_show(value)}")
    say(f"  5. as a new run in {store} with reproduces: {plan.run_id}")
    for note in plan.notes:
        say(f"Note: {note}")


def _flat(config: dict[str, Any]) -> dict[str, Any]:
    from runlab.config import flatten_config

    return flatten_config(config)


def _echo_environment_change(plan: Reproduction, say: Say) -> None:
    was, now = plan.python
    if was is not None and was != now:
        say(f"Python differs from run {plan.run_id}: {was} -> {now}")
    if plan.packages is None:
        return
    counts = [len(plan.packages[k]) for k in ("added", "removed", "changed")]
    if not any(counts):
        say(f"The installed packages are those of run {plan.run_id}.")
        return
    say(f"Packages differ from run {plan.run_id} "
        "(+ only here, - only in the run, ~ other version):")  # fmt: skip
    _echo_packages(plan.packages, say)
