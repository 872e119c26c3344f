"""The errors runlab raises: one root, a few named conditions.

Every message says what happened, to which object, and what to do next. The CLI
prints ``Error: <message>`` and exits 1 for any :class:`RunlabError`.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "FilterSyntaxError",
    "RunFinished",
    "RunNotFound",
    "RunlabError",
    "StoreError",
    "StoreLocked",
]


class RunlabError(Exception):
    """Root of every error runlab raises on purpose."""


class ConfigError(RunlabError, ValueError):
    """A config file or override is malformed, ambiguous or names a missing key."""


class FilterSyntaxError(RunlabError, ValueError):
    """A run filter could not be parsed.

    Attributes:
        text: the filter as given.
        position: 0-based offset of the mistake in ``text``.
    """

    def __init__(self, message: str, text: str = "", position: int = 0) -> None:
        super().__init__(message)
        self.text = text
        self.position = position

    def __str__(self) -> str:
        base = super().__str__()
        if not self.text:
            return base
        caret = " " * self.position + "^"
        return f"{base}\n  {self.text}\n  {caret}"


class RunNotFound(RunlabError, KeyError):
    """No run (or more than one) matches the id, id prefix or name given."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "Run not found."


class RunFinished(RunlabError):
    """A finished run was asked to accept points, checkpoints or notes."""


class StoreError(RunlabError):
    """The store cannot be read or written as asked."""


class StoreLocked(StoreError):
    """The store or a run in it is held by another process for too long."""
