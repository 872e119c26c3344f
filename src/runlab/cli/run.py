"""``runlab run``: wrap a command as a tracked run."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from runlab.cli.options import store_option
from runlab.errors import ConfigError

__all__ = [
    "check_experiment",
    "check_override_shape",
    "resolve_config",
    "run_command",
]


class _DashDashCommand(click.Command):
    """Keeps everything after the first ``--`` apart as the wrapped command."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if "--" in args:
            cut = args.index("--")
            ctx.meta["runlab.command"] = args[cut + 1 :]
            args = args[:cut]
        else:
            ctx.meta["runlab.command"] = []
        return super().parse_args(ctx, args)


@click.command(cls=_DashDashCommand)
@click.argument("overrides", nargs=-1)
@click.option("-c", "--config", "config_path", type=click.Path(dir_okay=False),
              help="YAML config file.")  # fmt: skip
@click.option("--name", help="A name for the run (usable wherever a RUN is asked).")
@click.option("--tag", "tags", multiple=True, help="A tag; repeat for more.")
@click.option(
    "--experiment",
    callback=lambda ctx, param, value: check_experiment(value),
    help="The experiment the run belongs to (filter: experiment = NAME).",
)
@click.option("--notes", help="A first paragraph for the run's README.md.")
# Set by `runlab sweep` for each trial it starts; hidden from the help.
@click.option("--sweep", "sweep_id", hidden=True)
@click.option("--trial", "trial_index", type=int, hidden=True)
@click.option("--id-file", type=click.Path(dir_okay=False), hidden=True)
@click.option(
    "--no-system-metrics",
    is_flag=True,
    help="Do not sample CPU/GPU/memory use (also RUNLAB_SYSTEM_METRICS=0).",
)
@store_option
@click.pass_context
def run_command(
    ctx: click.Context,
    overrides: tuple[str, ...],
    config_path: str | None,
    name: str | None,
    tags: tuple[str, ...],
    experiment: str | None,
    notes: str | None,
    sweep_id: str | None,
    trial_index: int | None,
    id_file: str | None,
    no_system_metrics: bool,
    store: str | None,
) -> None:
    """Run COMMAND as a tracked run: config, git, environment, output, exit code.

    OVERRIDES are dotted assignments applied to the config (optim.lr=0.01);
    +key=value adds a key the config lacks, ~key drops one. Without -c, the
    overrides are laid over the config the script passes to runlab.start(),
    and a key that config lacks is reported when the script starts.

    \b
    Example:
      runlab run -c config.yaml optim.lr=0.01 --experiment lr -- python train.py
    """
    from runlab.launch import launch
    from runlab.store import open_store
    from runlab.store.checkpoints import policy_from_config

    command: list[str] = ctx.meta["runlab.command"]
    # A command written without '--' shows up as overrides; say so first.
    check_override_shape(overrides)
    if not command:
        raise click.UsageError("Give the command to run after '--'.")
    config = resolve_config(config_path, overrides)
    policy_from_config(config)  # a checkpoint policy that cannot work, before a run
    _check_startable(command[0])
    target = open_store(store)
    quiet = bool(ctx.find_root().params.get("quiet"))
    if not quiet:
        click.echo(f"runlab: run in {target.path}", err=True)
    how: dict[str, Any] = {
        "config_file": str(Path(config_path).resolve()) if config_path else None,
        "overrides": list(overrides),
        "invocation": ["runlab", *sys.argv[1:]],
        "experiment": experiment,
    }
    if sweep_id is not None:
        how.update(sweep=sweep_id, trial=trial_index)
    run_id, code = launch(
        target, command, config=config, name=name, tags=tags, notes=notes,
        system_metrics=not no_system_metrics and _env_allows_sampling(), extra=how,
        on_created=_id_writer(id_file),
    )  # fmt: skip
    if not quiet:
        click.echo(f"runlab: run {run_id} ended with exit code {code}", err=True)
    sys.exit(code)


def _check_startable(program: str) -> None:
    """Refuse, before any run is made, a program that cannot be found (a typo)."""
    if "/" in program:
        found = os.path.isfile(program) and os.access(program, os.X_OK)
    else:
        found = shutil.which(program) is not None
    if not found:
        where = "is not an executable file" if "/" in program else "is not on PATH"
        click.echo(f"Error: Cannot start '{program}': it {where}; no run was made.",
                   err=True)  # fmt: skip
        sys.exit(127)  # as a shell says "command not found"


def _id_writer(path: str | None) -> Callable[[str], None] | None:
    """Write the new run's id to ``path`` (how `runlab sweep` learns it)."""
    if path is None:
        return None

    def write(run_id: str) -> None:
        Path(path).write_text(run_id + "\n", encoding="utf-8")

    return write


def _env_allows_sampling() -> bool:
    # The same switch as for a script that calls runlab.start() on its own.
    return os.environ.get("RUNLAB_SYSTEM_METRICS", "1") != "0"


def resolve_config(path: str | None, overrides: tuple[str, ...]) -> dict[str, Any]:
    """Load the config file (if any) and apply the overrides; errors stop here."""
    from runlab.config import apply_overrides, flatten_config, load_config

    check_override_shape(overrides)
    if not path:
        # No file to check keys against: every override adds its key, and the
        # script's own config (under runlab.start) is checked at attach time.
        added = [o if o[0] in "+~" else f"+{o}" for o in overrides]
        return apply_overrides({}, [o for o in added if o[0] == "+"], source="")
    config = apply_overrides(load_config(path), list(overrides), source=path)
    try:
        # A key that both holds a dot and is a nested path ("optim.lr" beside
        # optim: {lr}) could not be filtered on: refuse it before the run exists.
        flatten_config(config)
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}") from None
    return config


def check_experiment(name: str | None) -> str | None:
    """Refuse an experiment name that could not be listed or filtered on."""
    if name is not None and (not name.strip() or "\n" in name or "\r" in name):
        raise click.BadParameter(
            f"{name!r} is not allowed: give a non-empty, single-line name.",
            param_hint="'--experiment'",
        )
    return name


def check_override_shape(overrides: tuple[str, ...]) -> None:
    """Refuse a word that is no override: most often a command missing its '--'."""
    for text in overrides:
        if "=" not in text and not text.startswith("~"):
            raise ConfigError(
                f"'{text}' is not an override (key=value); put the command after '--'."
            )
