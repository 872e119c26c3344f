"""``runlab env``: a requirements file, conda file or Dockerfile that rebuilds a run."""

from __future__ import annotations

from pathlib import Path

import click

from runlab.capture.envfile import FORMATS
from runlab.cli.options import store_option

__all__ = ["env_command"]

_WHAT = {
    "requirements": "requirements",
    "conda": "conda environment",
    "dockerfile": "Dockerfile",
}


@click.command()
@click.argument("run")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="requirements",
    show_default=True,
    help="What to write.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write to this file instead of printing; a Dockerfile gets its "
    "requirements.txt beside it.",
)
@store_option
def env_command(run: str, fmt: str, output: Path | None, store: str | None) -> None:
    """Print a requirements file, conda environment file or Dockerfile for RUN.

    \b
    Example:
      runlab env 261203-1512 --format dockerfile -o rebuild/Dockerfile
    """
    from runlab.capture.envfile import format_envfile, write_envfile
    from runlab.store import layout, open_store

    stored = open_store(store).load_run(run)
    env_dir = stored.path / layout.ENV_DIR
    meta = stored.meta
    facts = {"command": meta.get("command"), "cwd": meta.get("cwd"), "config": None}
    if fmt == "dockerfile" and (meta.get("config_file") or meta.get("overrides")):
        # The config came from `runlab run`, not the script: the image needs it.
        config_path = stored.path / layout.CONFIG_FILE
        if config_path.is_file():
            facts["config"] = config_path.read_text(encoding="utf-8")

    # Printing: the file's text alone, so that it can be piped.
    if output is None:
        click.echo(format_envfile(fmt, stored.id, env_dir, **facts), nl=False)
        return

    written = write_envfile(fmt, stored.id, env_dir, output, **facts)
    click.echo(f"Wrote the {_WHAT[fmt]} of run {stored.id} to {written[0]}")
    for extra in written[1:]:
        what = (
            "the requirements it installs"
            if extra.name == "requirements.txt"
            else ("the run's config it runs with")
        )
        click.echo(f"Wrote {what} to {extra}")
