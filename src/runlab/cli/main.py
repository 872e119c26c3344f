"""Entry point of the ``runlab`` command: the group, logging set-up, errors.

Commands are imported only when called, so ``runlab --help`` stays fast.
"""

from __future__ import annotations

import importlib
import logging
import sys
from typing import Any

import click

from runlab.errors import RunlabError

__all__ = ["cli", "main"]

COMMANDS = {
    "run": ("runlab.cli.run", "run_command", "Run a command as a tracked run."),
    "ls": ("runlab.cli.ls", "ls_command", "List runs, filtered and sorted."),
    "show": ("runlab.cli.show", "show_command", "Show one run in full."),
    "compare": ("runlab.cli.show", "compare_command", "Compare runs side by side."),
    "checkout": (
        "runlab.cli.reproduce",
        "checkout_command",
        "Write a run's code into a new folder.",
    ),
    "diff": (
        "runlab.cli.reproduce",
        "diff_command",
        "Show code, config and package differences of two runs.",
    ),
    "reproduce": (
        "runlab.cli.reproduce",
        "reproduce_command",
        "Run a run again on its code and config.",
    ),
    "note": ("runlab.cli.edit", "note_command", "Append a note to a run."),
    "tag": ("runlab.cli.edit", "tag_command", "Add or remove tags of a run."),
    "rm": ("runlab.cli.edit", "rm_command", "Move runs to the trash, or purge them."),
    "restore": (
        "runlab.cli.edit",
        "restore_command",
        "Bring runs back from the trash.",
    ),
    "reindex": (
        "runlab.cli.edit",
        "reindex_command",
        "Rebuild the index from the run folders.",
    ),
    "doctor": ("runlab.cli.doctor", "doctor_command", "Check a store; repair it."),
    "env": (
        "runlab.cli.env",
        "env_command",
        "Write a file that rebuilds a run's environment.",
    ),
    "journal": (
        "runlab.cli.journal",
        "journal_group",
        "Add, edit, list and search journal entries.",
    ),
    "report": (
        "runlab.cli.report",
        "report_command",
        "Write tables and figures of grouped runs for a paper.",
    ),
    "sweep": ("runlab.cli.sweep", "sweep_group", "Run, resume and list sweeps."),
    "ui": ("runlab.cli.ui", "ui_command", "Serve the web page of a store."),
}


class LazyGroup(click.Group):
    """A group whose commands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return None
        module = importlib.import_module(entry[0])
        command: click.Command = getattr(module, entry[1])
        return command

    def format_commands(
        self, ctx: click.Context, formatter: click.HelpFormatter
    ) -> None:
        # Short help from the table above, so --help imports no command module.
        rows = [(name, entry[2]) for name, entry in COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="runlab")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.option("-q", "--quiet", is_flag=True, help="Only errors.")
@click.option(
    "--log-file", type=click.Path(dir_okay=False), help="Also log to this file."
)
@click.option("--debug", is_flag=True, help="Show tracebacks of errors.")
@click.pass_context
def cli(
    ctx: click.Context, verbose: int, quiet: bool, log_file: str | None, debug: bool
) -> None:
    """Track, find and compare machine-learning experiments.

    \b
    Example:
      runlab run -c config.yaml optim.lr=0.01 -- python train.py
      runlab ls 'optim.lr < 0.1 and val/acc.max > 0.9' --sort -val/acc.max
    """
    ctx.obj = {"debug": debug}
    _configure_logging(verbose, quiet, log_file)


def _configure_logging(verbose: int, quiet: bool, log_file: str | None) -> None:
    level = (
        logging.ERROR
        if quiet
        else (logging.WARNING, logging.INFO, logging.DEBUG)[min(verbose, 2)]
    )
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file:
        try:
            handlers.append(logging.FileHandler(log_file))
        except OSError as err:
            raise click.BadParameter(
                f"cannot write {log_file}: {err.strerror or err}",
                param_hint="--log-file",
            ) from err
    logging.basicConfig(
        level=level, handlers=handlers, format="%(levelname)s: %(message)s"
    )


def main(argv: list[str] | None = None) -> Any:
    """Run the CLI; a RunlabError becomes one ``Error:`` line and exit code 1."""
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        return cli.main(args=argv, prog_name="runlab", standalone_mode=False)
    except click.exceptions.Exit as done:
        sys.exit(done.exit_code)
    except click.ClickException as err:
        err.show()
        sys.exit(err.exit_code)
    except click.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(1)
    except RunlabError as err:
        if debug:
            raise
        click.echo(f"Error: {err}", err=True)
        sys.exit(1)
    except BrokenPipeError:
        # `runlab ls | head`: the reader left; that is not an error.
        sys.stderr.close()
        sys.exit(0)
