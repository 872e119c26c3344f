"""The journal page's API: list, read, write and edit entries.

Run ids and names in an entry become links to the runs' pages; a run's page
lists the entries that mention it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from starlette.requests import Request

from runlab.server._http import HTTPError, JSONResponse, read_json_body
from runlab.server.catalog import Record, RunCatalog
from runlab.server.markdown import render_markdown
from runlab.store.journal import Journal, JournalEntry
from runlab.store.mentions import RunMentions

__all__ = ["get_entry", "list_entries", "mentions_of", "post_entry", "put_entry"]


def list_entries(request: Request) -> JSONResponse:
    journal: Journal = request.app.state.journal
    mentions = _mentions(request.app.state.catalog)
    entries = [entry_payload(e, mentions) for e in journal.list_entries()]
    return JSONResponse({"entries": entries})


def get_entry(request: Request) -> JSONResponse:
    journal: Journal = request.app.state.journal
    entry = journal.get_entry(request.path_params["entry_id"])
    return JSONResponse(entry_payload(entry, _mentions(request.app.state.catalog)))


async def post_entry(request: Request) -> JSONResponse:
    journal: Journal = request.app.state.journal
    text, tags = _entry_body(await read_json_body(request, "text"))
    entry = journal.add_entry(text, tags or ())
    mentions = _mentions(request.app.state.catalog)
    return JSONResponse(entry_payload(entry, mentions), status_code=201)


async def put_entry(request: Request) -> JSONResponse:
    journal: Journal = request.app.state.journal
    text, tags = _entry_body(await read_json_body(request, "text"))
    entry = journal.update_entry(request.path_params["entry_id"], text, tags)
    return JSONResponse(entry_payload(entry, _mentions(request.app.state.catalog)))


def entry_payload(entry: JournalEntry, mentions: RunMentions) -> dict[str, Any]:
    """An entry as the API shows it, with run mentions as links."""
    linked = mentions.link(entry.text, lambda run_id: f"/runs/{quote(run_id)}")
    payload = entry.to_dict()
    payload["html"] = render_markdown(linked)
    payload["runs"] = mentions.find(entry.text)
    return payload


def mentions_of(journal: Journal, record: Record) -> list[Any]:
    """Entries that mention the run of ``record``: id, title and date."""
    mentions = RunMentions({record["id"]: record.get("name")})
    return [
        {"id": e.id, "title": e.title, "created": e.created}
        for e in journal.list_entries()
        if mentions.find(e.text)
    ]


def _mentions(catalog: RunCatalog) -> RunMentions:
    # Built once per request: its cost grows with the runs, not the entries.
    return RunMentions({r["id"]: r.get("name") for r in catalog.records()})


def _entry_body(body: dict[str, Any]) -> tuple[str, Sequence[str] | None]:
    text = body["text"]
    tags = body.get("tags")
    if not isinstance(text, str):
        raise HTTPError(422, "'text' must be a string.", "BadBody")
    if tags is not None and (
        not isinstance(tags, list) or not all(isinstance(t, str) for t in tags)
    ):
        raise HTTPError(422, "'tags' must be a list of strings.", "BadBody")
    return text, tags
