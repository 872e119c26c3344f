"""Options shared by several commands, as decorators."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

__all__ = ["format_options", "store_option"]

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
