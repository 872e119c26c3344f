"""Responses and errors of one shape for every route.

Every error, page or API, is ``{"error": {"status", "type", "message"}}`` with
the HTTP status to match (docs/web.md). Routes raise :class:`HTTPError` or a
runlab error; the app's handlers turn both into that shape.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from runlab import _json
from runlab.errors import FilterSyntaxError, RunlabError, RunNotFound, StoreLocked

__all__ = [
    "HTTPError",
    "JSONResponse",
    "error_response",
    "int_param",
    "list_param",
    "read_json_body",
]

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 4 << 20


class HTTPError(Exception):
    """An error answer: ``status`` and a message for the user."""

    def __init__(self, status: int, message: str, kind: str = "HTTPError") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.kind = kind


class JSONResponse(Response):
    """Strict JSON: non-finite floats as "NaN"/"Infinity" strings, orjson speed.

    ``plain=True`` skips the walk that converts values, for payloads built of
    plain Python values only (the series arrays, which hold None for gaps).
    """

    media_type = "application/json"

    def __init__(self, content: Any, status_code: int = 200, *, plain: bool = False):
        self._plain = plain
        super().__init__(content, status_code=status_code)

    def render(self, content: Any) -> bytes:
        if self._plain:
            return orjson.dumps(content)
        return _json.dumps(content).encode("utf-8")


def error_response(err: Exception) -> JSONResponse:
    """The one error shape, for an HTTPError or a runlab error."""
    body: dict[str, Any]
    if isinstance(err, HTTPError):
        body = {"status": err.status, "type": err.kind, "message": err.message}
    else:
        status = _status_of(err)
        body = {"status": status, "type": type(err).__name__, "message": str(err)}
        if isinstance(err, FilterSyntaxError):
            # The page draws its own caret under the box: the bare message only.
            body["message"] = str(err.args[0])
            body["position"] = err.position
    return JSONResponse({"error": body}, status_code=body["status"])


def _status_of(err: Exception) -> int:
    # RunNotFound and the journal's JournalEntryNotFound are KeyErrors.
    if isinstance(err, (RunNotFound, KeyError)):
        return 404
    if isinstance(err, FilterSyntaxError):
        return 400
    if isinstance(err, StoreLocked):
        return 409
    if isinstance(err, RunlabError):
        return 400
    return 500


def list_param(request: Request, name: str, *, limit: int = 1000) -> list[str]:
    """A comma-separated query parameter as a list, empty items dropped."""
    raw = request.query_params.get(name, "")
    items = [item.strip() for item in raw.split(",") if item.strip()]
    if len(items) > limit:
        raise HTTPError(
            400, f"Parameter '{name}' lists {len(items)} items; at most {limit}."
        )
    return list(dict.fromkeys(items))


def int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    """An integer query parameter within [low, high]."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise HTTPError(
            400, f"Parameter '{name}' must be an integer, not {raw!r}."
        ) from None
    if not low <= value <= high:
        raise HTTPError(400, f"Parameter '{name}' must be between {low} and {high}.")
    return value


async def read_json_body(request: Request, *keys: str) -> dict[str, Any]:
    """The request's JSON object body, which must hold ``keys``; else 422."""
    raw = await request.body()
    if len(raw) > MAX_BODY_BYTES:
        raise HTTPError(
            413, "The body is over 4 MB; notes and entries are text.", "BadBody"
        )
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as err:
        raise HTTPError(422, f"The body is not JSON: {err}.", "BadBody") from None
    if not isinstance(body, dict):
        raise HTTPError(422, "The body must be a JSON object.", "BadBody")
    missing = [key for key in keys if key not in body]
    if missing:
        raise HTTPError(422, f"The body lacks {', '.join(missing)}.", "BadBody")
    return body
