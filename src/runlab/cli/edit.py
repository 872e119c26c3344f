"""Commands that change the store: note, tag, rm, reindex."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from runlab.cli.options import store_option
from runlab.errors import RunlabError

if TYPE_CHECKING:
    from runlab.reproduce import RunCode
    from runlab.store.store import Store

__all__ = [
    "note_command",
    "reindex_command",
    "restore_command",
    "rm_command",
    "tag_command",
]


@click.command()
@click.argument("run")
@click.argument("text")
@store_option
def note_command(run: str, text: str, store: str | None) -> None:
    """Append TEXT as a timestamped paragraph to RUN's notes (its README.md).

    \b
    Example:
      runlab note 261203-1512 "Diverged after epoch 30; lr too high."
    """
    from runlab.store import open_store

    path = open_store(store).add_note(run, text)
    click.echo(f"Noted in {path}")


@click.command()
@click.argument("run")
@click.argument("tags", nargs=-1, required=True)
@click.option("--remove", is_flag=True, help="Remove the tags instead of adding them.")
@store_option
def tag_command(
    run: str, tags: tuple[str, ...], remove: bool, store: str | None
) -> None:
    """Add TAGS to RUN (or remove them with --remove).

    \b
    Example:
      runlab tag 261203-1512 baseline paper
    """
    from runlab.store import open_store

    target = open_store(store)
    tags = tuple(dict.fromkeys(tags))
    added, removed = ((), tags) if remove else (tags, ())
    run_id = target.resolve(run)
    before = set(target.load_run(run_id).tags)
    now = target.set_tags(run_id, add=added, remove=removed)
    for tag in removed:
        if tag not in before:
            click.echo(f"Warning: run {run_id} had no tag {tag!r}.", err=True)
    click.echo(f"{run_id} tags: {', '.join(now) or '(none)'}")


@click.command()
@click.argument("runs", nargs=-1, required=True)
@click.option(
    "--purge", is_flag=True, help="Delete the files for good instead of trashing."
)
@click.option(
    "--force",
    is_flag=True,
    help="Stop runs still running here (SIGTERM, then SIGKILL), then remove them.",
)
@store_option
def rm_command(
    runs: tuple[str, ...], purge: bool, force: bool, store: str | None
) -> None:
    """Move RUNS to the store's .trash folder, or delete them with --purge.

    A run still running is refused unless --force is given, which stops its
    process first (on this host; the run ends killed). A trashed run can
    be brought back with `runlab restore`, or purged by its full id. Purging
    also deletes the git ref that kept the run's code snapshot, where its
    repository is still found.

    \b
    Example:
      runlab rm lr-0.1 && runlab rm --purge 261203-151207-a3f9
    """
    from runlab.reproduce import delete_snapshot_ref
    from runlab.store import open_store

    target = open_store(store)
    ids = [target.resolve_any(ref) if purge else target.resolve(ref) for ref in runs]
    for run_id in ids:
        if purge:
            code = _find_code(target, run_id)
            freed = target.purge_run(run_id, force=force)
            click.echo(f"Purged {run_id} ({freed / 1e6:.1f} MB freed)")
            if code is not None and delete_snapshot_ref(code):
                click.echo(f"  and its code snapshot ref in {code.repo}")
        else:
            where = target.trash_run(run_id, force=force)
            click.echo(f"Moved {run_id} to {where}")


def _find_code(store: Store, run_id: str) -> RunCode | None:
    """Where the code snapshot of a run (in the store or its trash) lives."""
    from runlab.reproduce import find_run_code
    from runlab.store import layout
    from runlab.store.stored import StoredRun

    folder = store.run_dir(run_id)
    if not folder.is_dir():
        folder = store.path / layout.TRASH_DIR / run_id
    try:
        return find_run_code(StoredRun(folder, {"id": run_id}))
    except RunlabError:
        return None  # no code recorded: no ref to delete


@click.command()
@click.argument("runs", nargs=-1, required=True)
@store_option
def restore_command(runs: tuple[str, ...], store: str | None) -> None:
    """Bring RUNS back from the store's trash (by id, id prefix or name).

    \b
    Example:
      runlab rm lr-0.1 && runlab restore lr-0.1
    """
    from runlab.store import open_store

    target = open_store(store)
    for ref in runs:
        click.echo(f"Restored {target.restore_run(ref)}")


@click.command()
@store_option
def reindex_command(store: str | None) -> None:
    """Rebuild the store's index from its run folders.

    \b
    Example:
      runlab reindex --store experiments
    """
    from rich.console import Console
    from rich.progress import Progress

    from runlab.store import open_store

    target = open_store(store)
    # Progress goes to stderr, and only to a terminal: piped stdout stays clean.
    screen = Console(stderr=True)
    with Progress(
        console=screen, transient=True, disable=not screen.is_terminal
    ) as progress:
        task = progress.add_task("Reading run folders", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        count = target.reindex(progress=advance)
    click.echo(f"Indexed {count} run(s) in {target.path}")
