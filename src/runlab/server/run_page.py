"""One run: ``GET /api/runs/{id}``, its log tail, notes, tags and files."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse

from runlab.errors import StoreError
from runlab.server._http import HTTPError, JSONResponse, int_param, read_json_body
from runlab.server.catalog import RunCatalog
from runlab.server.markdown import render_markdown
from runlab.server.runs import run_duration
from runlab.store import layout
from runlab.store.store import Store

__all__ = ["download_file", "get_log", "get_run", "put_notes", "put_tags"]

MAX_DIFF_BYTES = 1 << 20
MAX_FILES = 2000
LOG_CHUNK = 64 * 1024
# Series files are shown as curves, not offered as downloads one by one.
HIDDEN_DIRS = frozenset([layout.METRICS_DIR])


def get_run(request: Request) -> JSONResponse:
    store: Store = request.app.state.store
    run = store.load_run(request.path_params["run_id"])
    diff, truncated = _read_diff(run.path)
    notes = run.notes
    record = {k: v for k, v in run.record.items() if k != "config_flat"}
    record["duration"] = run_duration(run.record, time.time())
    return JSONResponse(
        {
            "run": record,
            "config": run.record.get("config") or {},
            "metrics": run.summary,
            "notes": notes,
            "notes_html": render_markdown(notes),
            "git": run.git,
            "diff": diff,
            "diff_truncated": truncated,
            "environment": run.environment,
            "files": list_files(run.path),
            "checkpoints": run.checkpoints(),
            "log_size": _size(run.path / layout.LOG_FILE),
            "journal": request.app.state.journal_mentions(run.record),
        }
    )


def get_log(request: Request) -> JSONResponse:
    store: Store = request.app.state.store
    path = store.run_dir(store.resolve(request.path_params["run_id"])) / layout.LOG_FILE
    size = _size(path)
    limit = int_param(request, "limit", LOG_CHUNK, 1, 16 * LOG_CHUNK)
    default = max(0, size - limit)
    start = int_param(request, "offset", default, 0, 1 << 62)
    start = min(start, size)
    data = b""
    if size:
        with open(path, "rb") as log:
            log.seek(start)
            data = log.read(limit)
    # Stop at a line end unless the chunk is all one line, so a character
    # is never cut in two between polls.
    if data and not data.endswith(b"\n") and b"\n" in data:
        data = data[: data.rindex(b"\n") + 1]
    text = data.decode("utf-8", errors="replace")
    return JSONResponse(
        {"text": text, "offset": start, "next": start + len(data), "size": size}
    )


async def put_notes(request: Request) -> JSONResponse:
    store: Store = request.app.state.store
    body = await read_json_body(request, "text")
    text = body["text"]
    if not isinstance(text, str):
        raise HTTPError(422, "'text' must be a string.", "BadBody")
    store.set_notes(request.path_params["run_id"], text)
    return JSONResponse({"notes": text, "notes_html": render_markdown(text)})


async def put_tags(request: Request) -> JSONResponse:
    store: Store = request.app.state.store
    catalog: RunCatalog = request.app.state.catalog
    body = await read_json_body(request, "tags")
    tags = body["tags"]
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise HTTPError(422, "'tags' must be a list of strings.", "BadBody")
    run = store.load_run(request.path_params["run_id"])
    gone = [t for t in run.tags if t not in tags]
    try:
        now = store.set_tags(run.id, add=tags, remove=gone)
    except StoreError as err:
        raise HTTPError(400, str(err), "StoreError") from None
    catalog.forget()
    return JSONResponse({"tags": now})


def download_file(request: Request) -> FileResponse:
    store: Store = request.app.state.store
    run_dir = store.run_dir(store.resolve(request.path_params["run_id"]))
    path = resolve_inside(run_dir, request.path_params["path"])
    return FileResponse(path, filename=path.name, content_disposition_type="attachment")


def resolve_inside(folder: Path, relative: str) -> Path:
    """The file ``relative`` names inside ``folder``; 404 for anything else.

    Refused: absolute paths, ``..`` parts, and links that resolve outside.
    The path arrives percent-decoded, so ``%2e%2e%2f`` is ``../`` here.
    """
    # The path given is not echoed: it may be a probe, and the answer stays bland.
    missing = HTTPError(404, "No such file in this run.", "FileNotFound")
    parts = relative.replace("\\", "/").split("/")
    if relative.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise missing
    if "\x00" in relative:
        raise missing
    root = folder.resolve()
    path = (root / relative).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        raise missing
    return path


def list_files(run_dir: Path) -> list[dict[str, Any]]:
    """Files of a run folder, by path, with size and time; the series left out."""
    found: list[dict[str, Any]] = []
    root = run_dir.resolve()
    for top, dirs, names in os.walk(run_dir):
        here = Path(top)
        if here == run_dir:
            dirs[:] = [d for d in dirs if d not in HIDDEN_DIRS]
        dirs.sort()
        for name in sorted(names):
            path = here / name
            if path.is_symlink() and not path.resolve().is_relative_to(root):
                continue  # a link out of the run is never served: not listed
            try:
                stat = path.stat()
            except OSError:
                continue
            rel = (here / name).relative_to(run_dir).as_posix()
            found.append({"path": rel, "size": stat.st_size, "mtime": stat.st_mtime})
            if len(found) >= MAX_FILES:
                return found
    return found


def _read_diff(run_dir: Path) -> tuple[str, bool]:
    path = run_dir / layout.CODE_DIR / "diff.patch"
    try:
        with open(path, "rb") as patch:
            data = patch.read(MAX_DIFF_BYTES + 1)
    except OSError:
        return "", False
    truncated = len(data) > MAX_DIFF_BYTES
    return data[:MAX_DIFF_BYTES].decode("utf-8", errors="replace"), truncated


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0
