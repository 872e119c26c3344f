"""Options shared by several commands, as decorators."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from runlab.store.store import Store

__all__ = ["format_options", "reading_store", "store_option"]

F = TypeVar("F", bound=Callable[..., Any])


def store_option(func: F) -> F:
    """``--store PATH``: the store folder (else RUNLAB_DIR, git top, cwd)."""
    return click.option(
        "--store",
        type=click.Path(file_okay=False),
        default=None,
        help="Store folder (default: RUNLAB_DIR, else experiments/ at the git top).",
    )(func)


def format_options(func: F) -> F:
    """``--json`` / ``--csv``: machine-readable output instead of a table."""
    func = click.option("--csv", "as_csv", is_flag=True, help="Print CSV.")(func)
    return click.option("--json", "as_json", is_flag=True, help="Print JSON.")(func)


def reading_store(store: str | None) -> Store:
    """The store a reading command looks at, refusing one named but missing.

    A mistyped ``--store`` would otherwise read as an empty store. The store
    of RUNLAB_DIR, or the default one, may not exist yet: no run was made
    there.

    Raises:
        click.ClickException: the named store is missing, or is a file.
    """
    from runlab.store import open_store

    target = open_store(store)
    if target.path.is_dir():
        return target
    where = "--store" if store is not None else "RUNLAB_DIR"
    if target.path.exists():
        raise click.ClickException(
            f"The store {target.path} is a file, not a folder; check {where}."
        )
    if store is not None:
        raise click.ClickException(
            f"No store at {target.path}: the folder does not exist; check {where}."
        )
    return target
