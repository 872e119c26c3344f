"""Markdown of notes and journal entries, rendered as safe HTML.

Raw HTML in the text is escaped, not passed through, and markdown-it's link
check drops ``javascript:``, ``vbscript:``, ``file:`` and non-image ``data:``
URLs; the page may then insert the result as HTML.
"""

from __future__ import annotations

import functools

from markdown_it import MarkdownIt

__all__ = ["render_markdown"]


@functools.cache
def _renderer() -> MarkdownIt:
    # "commonmark" plus tables and strikethrough, with HTML off.
    return MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])


def render_markdown(text: str) -> str:
    """Render ``text`` to HTML that holds no markup of the author's own."""
    return _renderer().render(text)
