"""The journal through the API: write, list, edit, and links to runs."""

from __future__ import annotations

from pathlib import Path

from starlette.testclient import TestClient

ORIGIN = {"Origin": "http://127.0.0.1:8765"}


def test_new_entry_is_a_file_and_lists_first(
    writer: TestClient, own_store: Path
) -> None:
    writer.post("/api/journal", json={"text": "older"}, headers=ORIGIN)
    answer = writer.post(
        "/api/journal",
        json={"text": "# Idea\nTry warmup.", "tags": ["idea"]},
        headers=ORIGIN,
    )
    entry = answer.json()
    assert answer.status_code == 201
    assert entry["title"] == "Idea"
    assert entry["tags"] == ["idea"]
    assert (own_store / "journal" / f"{entry['id']}.md").is_file()
    listed = writer.get("/api/journal").json()["entries"]
    assert listed[0]["id"] == entry["id"]


def test_run_ids_and_names_become_links(
    writer: TestClient, ids: dict[str, str]
) -> None:
    text = f"Run {ids['lr0.1-s1']} beat lr0.01-s2 by far."
    entry = writer.post("/api/journal", json={"text": text}, headers=ORIGIN).json()
    assert f'<a href="/runs/{ids["lr0.1-s1"]}">' in entry["html"]
    assert f'<a href="/runs/{ids["lr0.01-s2"]}">lr0.01-s2</a>' in entry["html"]
    assert entry["runs"] == [ids["lr0.1-s1"], ids["lr0.01-s2"]]


def test_run_page_lists_entries_that_mention_it(
    writer: TestClient, ids: dict[str, str]
) -> None:
    writer.post("/api/journal", json={"text": "lr0.1-s2 diverged"}, headers=ORIGIN)
    mentioned = writer.get(f"/api/runs/{ids['lr0.1-s2']}").json()["journal"]
    other = writer.get(f"/api/runs/{ids['lr0.1-s1']}").json()["journal"]
    assert [e["title"] for e in mentioned] == ["lr0.1-s2 diverged"]
    assert other == []


def test_edit_keeps_created_and_changes_text(writer: TestClient) -> None:
    entry = writer.post("/api/journal", json={"text": "draft"}, headers=ORIGIN).json()
    answer = writer.put(
        f"/api/journal/{entry['id']}",
        json={"text": "final", "tags": ["done"]},
        headers=ORIGIN,
    )
    edited = answer.json()
    assert edited["text"] == "final"
    assert edited["created"] == entry["created"]
    assert writer.get(f"/api/journal/{entry['id']}").json()["tags"] == ["done"]


def test_entry_markup_is_escaped(writer: TestClient) -> None:
    text = "<script>alert(1)</script> [x](javascript:alert(1))"
    entry = writer.post("/api/journal", json={"text": text}, headers=ORIGIN).json()
    assert "<script>" not in entry["html"]
    assert "<a " not in entry["html"]


def test_empty_entry_is_refused(writer: TestClient, own_store: Path) -> None:
    answer = writer.post("/api/journal", json={"text": "  "}, headers=ORIGIN)
    assert answer.status_code == 400
    assert not list((own_store / "journal").glob("*.md"))


def test_crafted_entry_id_is_404(writer: TestClient) -> None:
    for entry_id in ("..%2f..%2frun.json", "nope"):
        assert writer.get(f"/api/journal/{entry_id}").status_code == 404
