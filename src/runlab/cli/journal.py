"""``runlab journal``: add, edit, list, show and search the project's diary.

Entries are the Markdown files of ``<store>/journal/`` (see
:mod:`runlab.store.journal`); run ids and names in their text are mentions of
those runs. An ENTRY argument is an entry id or a unique prefix of one.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Sequence
from typing import Any

import click

from runlab.cli.options import reading_store, store_option

__all__ = ["journal_group"]

SNIPPET_CHARS = 40


@click.group()
def journal_group() -> None:
    """Keep the project's diary: dated Markdown entries that mention runs.

    \b
    Example:
      runlab journal add "lr 0.1 diverged in lr-0.1; try warmup." --tag lr
      runlab journal search warmup
    """


@journal_group.command("add")
@click.argument("text", required=False)
@click.option("--tag", "tags", multiple=True, help="Tag the entry; repeat for more.")
@store_option
def add_command(text: str | None, tags: tuple[str, ...], store: str | None) -> None:
    """Add an entry.

    TEXT is the Markdown text; '-' reads it from standard input; without it,
    $VISUAL or $EDITOR opens on an empty file.

    \b
    Example:
      runlab journal add "Warmup fixes lr 0.1 (see lr-0.1-warm)." --tag lr
    """
    from runlab.store import open_store
    from runlab.store.journal import Journal

    target = open_store(store)
    if text == "-":
        text = sys.stdin.read()
    elif text is None:
        text = click.edit("", extension=".md", require_save=True)
        if text is None:
            raise click.ClickException(
                "The editor closed without saving; no entry was added."
            )
    entry = Journal(target.path).add_entry(text, tags)
    mentioned = _mentions(target).find(entry.text)
    also = f"; it mentions {', '.join(mentioned)}" if mentioned else ""
    click.echo(f"Added journal entry {entry.id}{also}.")


@journal_group.command("edit")
@click.argument("entry")
@click.option("--text", help="The new text ('-': standard input), without an editor.")
@click.option("--tag", "tags", multiple=True, help="Replace the tags with these.")
@click.option("--no-tags", is_flag=True, help="Remove every tag.")
@store_option
def edit_command(
    entry: str,
    text: str | None,
    tags: tuple[str, ...],
    no_tags: bool,
    store: str | None,
) -> None:
    """Edit an entry's text or tags.

    ENTRY (an id or a unique prefix) opens in $VISUAL or $EDITOR; --text
    replaces the text without one. --tag (or --no-tags) alone changes only
    the tags. The entry keeps its creation date.

    \b
    Example:
      runlab journal edit 2026-12-03-151207 --text "Warmup did not help."
      runlab journal edit 2026-12-03-151207 --tag lr --tag warmup
    """
    from runlab.store import open_store
    from runlab.store.journal import Journal

    if tags and no_tags:
        raise click.UsageError("Give --tag or --no-tags, not both.")
    journal = Journal(open_store(store).path)
    old = _resolve(journal, entry)
    if text == "-":
        text = sys.stdin.read()
    elif text is None and (tags or no_tags):
        text = old.text  # only the tags change
    elif text is None:
        # An editor closed without saving leaves the text as it was.
        edited = click.edit(old.text, extension=".md", require_save=True)
        text = old.text if edited is None else edited
    new_tags = [] if no_tags else (list(tags) or None)
    new = journal.update_entry(old.id, text, new_tags)
    if (new.text, new.tags) == (old.text, old.tags):
        click.echo(f"Journal entry {old.id} is unchanged.")
    else:
        click.echo(f"Updated journal entry {old.id}.")


@journal_group.command("ls")
@click.option("--tag", "tags", multiple=True, help="Only entries with this tag.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@store_option
def ls_command(tags: tuple[str, ...], as_json: bool, store: str | None) -> None:
    """List the entries, newest first.

    Shows each entry's id, date, tags, how many runs it mentions, and title.

    \b
    Example:
      runlab journal ls --tag lr
    """
    from runlab.cli.render import echo_json
    from runlab.store.journal import Journal

    target = reading_store(store)
    journal = Journal(target.path)
    entries = [e for e in journal.list_entries() if set(tags) <= set(e.tags)]
    mentions = _mentions(target)
    rows = [_entry_data(e, mentions.find(e.text)) for e in entries]
    if as_json:
        echo_json([{k: v for k, v in row.items() if k != "text"} for row in rows])
        return
    _echo_columns(
        ["id", "created", "tags", "runs", "title"],
        [[r["id"], _local(e.created), ",".join(e.tags), str(len(r["runs"])), r["title"]]
         for r, e in zip(rows, entries, strict=True)],
    )  # fmt: skip
    count = "1 journal entry" if len(rows) == 1 else f"{len(rows)} journal entries"
    click.echo(f"{count} in {journal.path}", err=True)


@journal_group.command("show")
@click.argument("entry")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@store_option
def show_command(entry: str, as_json: bool, store: str | None) -> None:
    """Show an entry and the runs it mentions.

    Prints ENTRY's text, then each run it mentions with its status.

    \b
    Example:
      runlab journal show 2026-12-03-151207
    """
    from runlab.cli.render import echo_json
    from runlab.store import open_store
    from runlab.store.journal import Journal

    target = open_store(store)
    found = _resolve(Journal(target.path), entry)
    records = {r["id"]: r for r in target.records()}
    mentioned = [records[i] for i in _mentions(target, records).find(found.text)]
    runs = [{k: r.get(k) for k in ("id", "name", "status")} for r in mentioned]
    if as_json:
        echo_json({**_entry_data(found, [r["id"] for r in runs]), "runs": runs})
        return
    tags = f"  tags: {', '.join(found.tags)}" if found.tags else ""
    click.echo(f"{found.id}  {_local(found.created)}{tags}\n\n{found.text}\n")
    click.echo(f"Runs mentioned: {len(runs)}")
    _echo_columns(
        [], [[str(r[k] or "-") for k in ("id", "name", "status")] for r in runs]
    )


@journal_group.command("search")
@click.argument("words", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@store_option
def search_command(words: tuple[str, ...], as_json: bool, store: str | None) -> None:
    """Search journal entries and run notes.

    Finds the entries and run notes (README.md) holding all WORDS, in any case.

    \b
    Example:
      runlab journal search warmup lr
    """
    from runlab.cli.render import echo_json
    from runlab.store import open_store
    from runlab.store.journal import Journal

    target = open_store(store)
    wanted = " ".join(words)
    entries = Journal(target.path).search(wanted)
    hits = [_entry_hit(entry, words) for entry in entries]
    hits += _search_notes(target, words)
    if as_json:
        echo_json(hits)
        return
    rows = [[h["kind"], _hit_name(h), h["snippet"]] for h in hits]
    _echo_columns([], rows)
    click.echo(f"{len(hits)} match(es) for {wanted!r}", err=True)


# -- helpers -------------------------------------------------------------------


def _resolve(journal: Any, ref: str) -> Any:
    """The entry whose id is ``ref``, or the only one whose id starts with it."""
    from runlab.store.journal import JournalEntryNotFound

    try:
        return journal.get_entry(ref)
    except JournalEntryNotFound:
        pass
    found = [e for e in journal.list_entries() if ref and e.id.startswith(ref)]
    if len(found) == 1:
        return found[0]
    if not found:
        raise JournalEntryNotFound(
            f"No journal entry '{ref}' in {journal.path}; see `runlab journal ls`."
        )
    shown = ", ".join(e.id for e in found[:5]) + (", ..." if len(found) > 5 else "")
    raise JournalEntryNotFound(
        f"'{ref}' matches {len(found)} journal entries ({shown}); give more of the id."
    )


def _mentions(store: Any, records: dict[str, Any] | None = None) -> Any:
    from runlab.store.mentions import RunMentions

    chosen = records.values() if records is not None else store.records()
    return RunMentions({r["id"]: r.get("name") for r in chosen})


def _entry_data(entry: Any, runs: Sequence[Any]) -> dict[str, Any]:
    from runlab.store.stored import iso_time

    data: dict[str, Any] = entry.to_dict()
    data.update(created=iso_time(entry.created), updated=iso_time(entry.updated))
    data["runs"] = list(runs)
    return data


def _local(seconds: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(seconds))


def _entry_hit(entry: Any, words: Sequence[str]) -> dict[str, Any]:
    snippet = _snippet(entry.text, words)
    return {"kind": "entry", "id": entry.id, "title": entry.title, "snippet": snippet}


def _search_notes(store: Any, words: Sequence[str]) -> list[dict[str, Any]]:
    """Runs whose notes hold every word (any case), newest first."""
    wanted = [w.casefold() for w in words]
    hits = []
    for run in store.runs(sort=["-started"]):
        notes = run.notes
        if notes.strip() and all(w in notes.casefold() for w in wanted):
            hits.append(
                {"kind": "note", "id": run.id, "name": run.name,
                 "snippet": _snippet(notes, words)}
            )  # fmt: skip
    return hits


def _snippet(text: str, words: Sequence[str]) -> str:
    """About 80 characters of ``text`` around the first word found, on one line."""
    found = [m.start() for w in words if (m := re.search(re.escape(w), text, re.I))]
    at = min(found) if found else 0
    start, end = max(0, at - SNIPPET_CHARS), at + SNIPPET_CHARS
    middle = " ".join(text[start:end].split())
    before = "…" if start > 0 else ""
    after = "…" if end < len(text.rstrip()) else ""
    return f"{before}{middle}{after}"


def _hit_name(hit: dict[str, Any]) -> str:
    if hit["kind"] == "note" and hit.get("name"):
        return f"{hit['id']} ({hit['name']})"
    return str(hit["id"])


def _echo_columns(head: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Print rows as left-aligned columns two spaces apart (``head`` if given)."""
    table = [[" ".join(c.split()) for c in row] for row in [head, *rows] if row]
    if not table:
        return
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for row in table:
        cells = (c.ljust(w) for c, w in zip(row, widths, strict=True))
        click.echo("  ".join(cells).rstrip())
