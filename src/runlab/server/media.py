"""What a run logged besides scalars: ``/api/runs/{id}/media...`` and its PNGs.

The run's ``media/index.jsonl`` (docs/media.md), read by ``store.media``, is
the one source: a line per logged item, in logging order, torn and bad lines
skipped. The API lists the names in it, returns a name's lines, and serves
the PNG files of images for the page's ``<img>`` tags. The page reads tables
and text through the run's file downloads.
"""

from __future__ import annotations

import logging
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse

from runlab.server._http import HTTPError, JSONResponse, int_param
from runlab.server.run_page import resolve_inside
from runlab.store import layout
from runlab.store.media import list_media as summarize_media
from runlab.store.media import read_media_index
from runlab.store.store import Store

__all__ = ["get_media", "get_media_file", "list_media"]

logger = logging.getLogger(__name__)

IMAGES_DIR = "images"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# A PNG is never rewritten once logged (docs/media.md); private, as the
# server may sit behind a token.
IMAGE_CACHE = "private, max-age=31536000, immutable"


def list_media(request: Request) -> JSONResponse:
    """``{"media": [{"name", "kind", "steps", "count"}]}``, in logging order."""
    return JSONResponse({"media": summarize_media(_run_dir(request))})


def get_media(request: Request) -> JSONResponse:
    """The index lines of one name; ``step=`` keeps those of one step."""
    name = request.path_params["name"]
    items = [i for i in read_media_index(_run_dir(request)) if i["name"] == name]
    if not items:
        raise HTTPError(
            404,
            f"This run logged no media named {name!r}; "
            "GET /api/runs/{id}/media lists the names it has.",
            "MediaNotFound",
        )
    # A name holds one kind (store.media refuses another): the first line's.
    kind = items[0]["kind"]
    if request.query_params.get("step", "") != "":
        step = int_param(request, "step", 0, -(1 << 62), 1 << 62)
        items = [i for i in items if i["step"] == step]
    return JSONResponse({"name": name, "kind": kind, "items": items})


def get_media_file(request: Request) -> FileResponse:
    """A PNG under the run's ``media/images/``, inline; anything else is 404.

    ``path`` is relative to ``media/`` (the ``file`` of an image's index line).
    The download route's containment rules hold, and the file must also lie
    under ``media/images/`` without following a link out of it, end in
    ``.png`` and start with the PNG signature.
    """
    run_dir = _run_dir(request)
    relative = request.path_params["path"]
    path = resolve_inside(run_dir, f"{layout.MEDIA_DIR}/{relative}")
    images = run_dir.resolve() / layout.MEDIA_DIR / IMAGES_DIR
    if not path.is_relative_to(images) or not _is_png(path):
        raise HTTPError(404, "No such image in this run.", "FileNotFound")
    return FileResponse(
        path,
        media_type="image/png",
        filename=path.name,
        content_disposition_type="inline",
        headers={"cache-control": IMAGE_CACHE},
    )


def _is_png(path: Path) -> bool:
    if path.suffix.lower() != ".png":
        return False
    try:
        with open(path, "rb") as file:
            return file.read(len(PNG_SIGNATURE)) == PNG_SIGNATURE
    except OSError:
        return False


def _run_dir(request: Request) -> Path:
    store: Store = request.app.state.store
    return store.run_dir(store.resolve(request.path_params["run_id"]))
