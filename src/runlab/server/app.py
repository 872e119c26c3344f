"""The app factory and its one route table.

Every page path returns the built page (``static/index.html``), which then
reads the JSON twin of that page from ``/api/...``; ``/-/info`` holds the
diagnostics. Errors of every route share one JSON shape (see ``_http``).
"""

from __future__ import annotations

import logging
from importlib import metadata
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from runlab.errors import RunlabError
from runlab.server import charts, compare, journal, media, run_page, runs, sweeps
from runlab.server._http import HTTPError, JSONResponse, error_response
from runlab.server.catalog import RunCatalog
from runlab.server.security import SecurityGuard
from runlab.store.index import MIGRATIONS
from runlab.store.journal import Journal
from runlab.store.store import Store
from runlab.sweep.state import read_sweep

__all__ = ["STATIC_DIR", "create_app", "is_page_built"]

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"


def create_app(
    store: Store,
    *,
    token: str | None = None,
    loopback: bool = True,
    static_dir: Path = STATIC_DIR,
) -> Starlette:
    """Build the ASGI app serving ``store``.

    Args:
        token: when given, every request must carry it (see ``security``).
        loopback: the server listens on a loopback address only, so requests
            must name a loopback host.
        static_dir: the built page (``index.html`` and ``assets/``).
    """
    routes = [
        Route("/", _page),
        Route("/runs/{run_id}", _page),
        Route("/compare", _page),
        Route("/journal", _page),
        Route("/sweeps", _page),
        Route("/sweeps/{sweep_id}", _page),
        Route("/-/info", _info),
        Route("/api/runs", runs.list_runs),
        Route("/api/columns", runs.list_columns),
        Route("/api/series", charts.get_series),
        Route("/api/groups", charts.get_groups),
        Route("/api/compare", compare.get_compare),
        Route("/api/runs/{run_id}", run_page.get_run),
        Route("/api/runs/{run_id}/log", run_page.get_log),
        Route("/api/runs/{run_id}/metrics/{name:path}", charts.get_metric),
        Route("/api/runs/{run_id}/notes", run_page.put_notes, methods=["PUT"]),
        Route("/api/runs/{run_id}/tags", run_page.put_tags, methods=["PUT"]),
        Route("/runs/{run_id}/files/{path:path}", run_page.download_file),
        Route("/api/runs/{run_id}/media", media.list_media),
        Route("/api/runs/{run_id}/media/{name:path}", media.get_media),
        Route("/runs/{run_id}/media-file/{path:path}", media.get_media_file),
        Route("/api/journal", journal.list_entries),
        Route("/api/journal", journal.post_entry, methods=["POST"]),
        Route("/api/journal/{entry_id}", journal.get_entry),
        Route("/api/journal/{entry_id}", journal.put_entry, methods=["PUT"]),
        Route("/api/sweeps", sweeps.list_sweeps),
        Route("/api/sweeps/{sweep_id}", sweeps.get_sweep),
        Mount("/static", StaticFiles(directory=static_dir, check_dir=False)),
    ]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(SecurityGuard, token=token, loopback=loopback)],
        exception_handlers={
            RunlabError: _runlab_error,
            HTTPError: _http_error,
            HTTPException: _starlette_error,
            Exception: _server_error,
        },
    )
    _attach_state(app, store, static_dir)
    return app


def is_page_built(static_dir: Path = STATIC_DIR) -> bool:
    """Whether the frontend build put the page where the server looks."""
    return (static_dir / "index.html").is_file()


def _attach_state(app: Starlette, store: Store, static_dir: Path) -> None:
    app.state.store = store
    app.state.catalog = RunCatalog(store)
    app.state.journal = notebook = Journal(store.path)
    app.state.static_dir = static_dir

    def mentions(record: dict[str, Any]) -> list[Any]:
        return journal.mentions_of(notebook, record)

    app.state.journal_mentions = mentions


def _page(request: Request) -> Response:
    index = request.app.state.static_dir / "index.html"
    if not index.is_file():
        raise HTTPError(
            503,
            "The web page is not built; run `make frontend` in the runlab checkout.",
            "PageNotBuilt",
        )
    # The shell is tiny and changes with every build: never cached. A page of
    # a run or sweep that is not there is still the page (it says so), but
    # with the status a link checker or a script expects.
    status = 200 if _page_subject_exists(request) else 404
    return FileResponse(
        index, status_code=status, headers={"cache-control": "no-cache"}
    )


def _page_subject_exists(request: Request) -> bool:
    """Whether the runs or the sweep a page path names exist."""
    catalog: RunCatalog = request.app.state.catalog
    refs = []
    if "run_id" in request.path_params:
        refs = [request.path_params["run_id"]]
    elif request.url.path == "/compare":
        refs = [r for r in request.query_params.get("runs", "").split(",") if r]
    try:
        catalog.get_many(refs)
        if "sweep_id" in request.path_params:
            read_sweep(request.app.state.store.path, request.path_params["sweep_id"])
    except RunlabError:
        return False
    return True


def _info(request: Request) -> JSONResponse:
    store: Store = request.app.state.store
    return JSONResponse(
        {
            "version": metadata.version("runlab"),
            "store": str(store.path),
            "schema_version": MIGRATIONS[-1][0],
            "runs": len(request.app.state.catalog.records()),
        }
    )


async def _runlab_error(request: Request, exc: Exception) -> Response:
    return error_response(exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    return error_response(exc)


async def _starlette_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    message = {404: f"No page or API route at {request.url.path}."}.get(
        exc.status_code, str(exc.detail)
    )
    return error_response(HTTPError(exc.status_code, message, "HTTPError"))


async def _server_error(request: Request, exc: Exception) -> Response:
    logger.error("Error answering %s: %r", request.url.path, exc, exc_info=exc)
    return error_response(
        HTTPError(500, "The server failed; see its log.", "ServerError")
    )
