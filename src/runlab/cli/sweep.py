"""``runlab sweep``: run a sweep file, resume it, show its trials, list sweeps."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from runlab.cli.options import store_option

__all__ = ["sweep_group"]

MAX_TAIL_LINES = 15


class _SweepGroup(click.Group):
    """``runlab sweep FILE`` means ``runlab sweep run FILE``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


@click.group(cls=_SweepGroup)
def sweep_group() -> None:
    """Run many configs of one command, each trial a tracked run.

    \b
    Example:
      runlab sweep sweep.yaml --parallel 4
      runlab sweep status sw-261203-1512
    """


def _execution_options(func: Any) -> Any:
    options = [
        click.option(
            "--parallel",
            "-p",
            type=click.IntRange(1),
            help="Trials at a time (default 1, or one per GPU slot with --gpus).",
        ),
        click.option("--gpus", help="GPU ids for the trials, e.g. 0,1,2,3."),
        click.option(
            "--executor",
            type=click.Choice(["local", "ray"]),
            help="Where trials run (default local).",
        ),
        click.option(
            "--address", help="The Ray cluster's address (with --executor ray)."
        ),
        click.option(
            "--retries",
            type=click.IntRange(0),
            help="Times a failed trial is run again (default 0).",
        ),
        store_option,
    ]
    for option in reversed(options):
        func = option(func)
    return func


@sweep_group.command("run")
@click.argument("file", type=click.Path(dir_okay=False))
@_execution_options
def run_command(file: str, **how: Any) -> None:
    """Run the trials of a sweep FILE (YAML; see docs/sweeps.md).

    \b
    Example:
      runlab sweep run sweep.yaml --parallel 2 --gpus 0,1
    """
    from runlab.store import open_store
    from runlab.sweep.session import start_sweep

    store = open_store(how.pop("store"))
    with _interrupt_exits():
        state = start_sweep(store, Path(file), **_executor_args(how))
    _finish(state)


@sweep_group.command("resume")
@click.argument("sweep")
@_execution_options
def resume_command(sweep: str, **how: Any) -> None:
    """Run the trials of SWEEP that did not finish.

    Options not given are those the sweep last ran with (its --parallel,
    --gpus, --executor, --address and --retries).

    \b
    Example:
      runlab sweep resume sw-261203-151207-a3f9 --parallel 2
    """
    from runlab.store import open_store
    from runlab.sweep.session import resume_sweep

    store = open_store(how.pop("store"))
    with _interrupt_exits():
        state = resume_sweep(store, sweep, **_resume_args(how))
    _finish(state)


@sweep_group.command("status")
@click.argument("sweep")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@store_option
def status_command(sweep: str, as_json: bool, store: str | None) -> None:
    """Show the trials of SWEEP: state, parameters, run and objective.

    \b
    Example:
      runlab sweep status sw-261203-151207-a3f9 --json
    """
    from runlab.cli.render import echo_json
    from runlab.store import open_store
    from runlab.sweep.session import stale_view
    from runlab.sweep.state import read_sweep

    state = read_sweep(open_store(store).path, sweep)
    stale = stale_view(state)
    if as_json:
        echo_json(state.to_dict())
        return
    _echo_trials(state)
    if stale:
        _echo_stale([state])


@sweep_group.command("ls")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@store_option
def ls_command(as_json: bool, store: str | None) -> None:
    """List the sweeps of the store with their trials' states.

    \b
    Example:
      runlab sweep ls --json
    """
    from runlab.cli.render import echo_json
    from runlab.store import open_store
    from runlab.sweep.session import stale_view
    from runlab.sweep.state import list_sweeps

    sweeps = list_sweeps(open_store(store).path)
    stale = [s for s in sweeps if stale_view(s)]
    rows = [_sweep_row(s) for s in sweeps]
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo("No sweeps in this store.", err=True)
        return
    for row in rows:
        counts = ", ".join(f"{n} {k}" for k, n in row["counts"].items() if n)
        name = f"{row['name']}  " if row["name"] else ""
        click.echo(f"{row['id']}  {name}{row['method']:<7} {row['file']}  ({counts})")
    _echo_stale(stale)


@contextmanager
def _interrupt_exits() -> Iterator[None]:
    """A stopped sweep says how to go on, and exits 130 as Ctrl-C does."""
    from runlab.sweep.runner import SweepInterrupted

    try:
        yield
    except SweepInterrupted as stopped:
        sweep_id = stopped.args[0]
        click.echo(
            f"Sweep {sweep_id} stopped; its state is saved. Resume it with: "
            f"runlab sweep resume {sweep_id}",
            err=True,
        )
        sys.exit(130)


def _gpu_list(text: str | None) -> list[str] | None:
    """The ids of ``--gpus`` (None when not given); an empty list is an error."""
    if text is None:
        return None
    gpus = [g.strip() for g in text.split(",") if g.strip()]
    if not gpus:
        raise click.BadParameter(
            f"'{text}' names no GPU; give ids such as 0,1.", param_hint="--gpus"
        )
    return gpus


def _executor_args(how: dict[str, Any]) -> dict[str, Any]:
    gpus = _gpu_list(how.get("gpus")) or []
    executor = how["executor"] or "local"
    if executor == "ray" and not how.get("address"):
        raise click.UsageError("--executor ray needs --address (the Ray head's).")
    parallel = how["parallel"] or (len(gpus) if gpus else 1)
    return {
        "parallel": parallel,
        "gpus": gpus,
        "executor": executor,
        "address": how.get("address"),
        "retries": how["retries"] or 0,
    }


def _resume_args(how: dict[str, Any]) -> dict[str, Any]:
    """The options given; those not given stay None (the sweep's last ones)."""
    return {
        "parallel": how["parallel"],
        "gpus": _gpu_list(how.get("gpus")),
        "executor": how["executor"],
        "address": how.get("address"),
        "retries": how["retries"],
    }


def _echo_stale(sweeps: list[Any]) -> None:
    for state in sweeps:
        click.echo(
            f"Sweep {state.id} stopped without saying so (its process is gone); "
            f"its running trials count as killed. Resume it with: "
            f"runlab sweep resume {state.id}",
            err=True,
        )


def _sweep_row(state: Any) -> dict[str, Any]:
    return {
        "id": state.id,
        "name": state.name,
        "file": state.file,
        "method": state.method,
        "created": state.created,
        "executor": state.executor,
        "counts": state.counts(),
    }


def _echo_trials(state: Any) -> None:
    from runlab.cli.render import format_value

    click.echo(f"Sweep {state.id} ({state.method}, {state.file})")
    for trial in state.trials:
        params = " ".join(f"{k}={format_value(v)}" for k, v in trial.params.items())
        seed = f" seed={trial.seed}" if trial.seed is not None else ""
        objective = (
            "" if trial.objective is None else f"  objective={trial.objective:.6g}"
        )
        run = trial.run_id or "-"
        click.echo(
            f"{trial.index:>4}  {trial.state:<8} {run}  {params}{seed}{objective}"
        )


def _finish(state: Any) -> None:
    """Say how the sweep ended; exit 1 when a trial failed or was killed."""
    _echo_trials(state)
    counts = state.counts()
    bad = [t for t in state.trials if t.state in ("failed", "killed")]
    for trial in bad:
        _echo_tail(state, trial)
    click.echo(
        f"Sweep {state.id}: {counts['finished']} finished, {counts['failed']} failed, "
        f"{counts['killed']} killed, {counts['pruned']} pruned.",
        err=True,
    )
    if bad:
        sys.exit(1)


def _echo_tail(state: Any, trial: Any) -> None:
    """The last lines a failed trial printed: its run's log, else the wrapper's."""
    from runlab.store import layout

    candidates = [state.folder / "trials" / f"{trial.index}.out"]
    if trial.run_id:
        store_path = state.folder.parent.parent
        candidates.insert(0, store_path / trial.run_id / layout.LOG_FILE)
    for path in candidates:
        if os.path.isfile(path) and os.path.getsize(path):
            lines = (
                Path(path).read_text(encoding="utf-8", errors="replace").splitlines()
            )
            click.echo(
                f"-- trial {trial.index} ({trial.state}), end of {path}:", err=True
            )
            for line in lines[-MAX_TAIL_LINES:]:
                click.echo(f"   {line}", err=True)
            return
    click.echo(f"-- trial {trial.index} ({trial.state}) printed nothing.", err=True)
