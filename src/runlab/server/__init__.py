"""The web page and its JSON API: an ASGI app over one store (see docs/web.md)."""

from __future__ import annotations

from runlab.server.app import create_app

__all__ = ["create_app"]
