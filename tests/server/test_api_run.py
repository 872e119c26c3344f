"""One run's page data, its log, notes, tags and file downloads."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from starlette.testclient import TestClient

ORIGIN = {"Origin": "http://127.0.0.1:8765"}


def test_run_page_data_holds_config_metrics_and_files(
    client: TestClient, ids: dict[str, str]
) -> None:
    body = client.get(f"/api/runs/{ids['lr0.1-s2']}").json()
    assert body["run"]["name"] == "lr0.1-s2"
    assert body["run"]["duration"] == body["run"]["ended"] - body["run"]["started"]
    assert "config_flat" not in body["run"]
    assert body["config"] == {"optim": {"lr": 0.1}, "seed": 2, "epochs": 100}
    assert body["metrics"]["train/loss"]["count"] == 100
    paths = [f["path"] for f in body["files"]]
    assert "run.json" in paths
    assert not any(p.startswith("metrics/") for p in paths)


def test_run_page_resolves_a_name(client: TestClient, ids: dict[str, str]) -> None:
    body = client.get("/api/runs/lr0.01-s1").json()
    assert body["run"]["id"] == ids["lr0.01-s1"]


def test_run_page_unknown_run_is_404(client: TestClient) -> None:
    answer = client.get("/api/runs/no-such-run")
    assert answer.status_code == 404
    assert answer.json()["error"]["type"] == "RunNotFound"


def test_notes_render_markup_as_text(client: TestClient, ids: dict[str, str]) -> None:
    body = client.get(f"/api/runs/{ids['odd']}").json()
    assert "<script>" in body["notes"]
    assert "<script>" not in body["notes_html"]
    assert "&lt;script&gt;" in body["notes_html"]
    assert 'href="javascript:' not in body["notes_html"]
    assert "<a " not in body["notes_html"]


def test_put_notes_replaces_readme(
    writer: TestClient, own_store: Path, ids: dict[str, str]
) -> None:
    run_id = ids["lr0.1-s1"]
    answer = writer.put(
        f"/api/runs/{run_id}/notes",
        json={"text": "# Best\n\nlr 0.1 wins."},
        headers=ORIGIN,
    )
    assert answer.status_code == 200
    assert answer.json()["notes_html"] == "<h1>Best</h1>\n<p>lr 0.1 wins.</p>\n"
    readme = own_store / run_id / "README.md"
    assert readme.read_text(encoding="utf-8") == "# Best\n\nlr 0.1 wins."


def test_put_notes_without_text_is_422(writer: TestClient, ids: dict[str, str]) -> None:
    answer = writer.put(f"/api/runs/{ids['odd']}/notes", json={}, headers=ORIGIN)
    assert answer.status_code == 422
    assert answer.json()["error"]["message"] == "The body lacks text."


def test_put_tags_sets_the_list(
    writer: TestClient, own_store: Path, ids: dict[str, str]
) -> None:
    run_id = ids["lr0.1-s1"]
    answer = writer.put(
        f"/api/runs/{run_id}/tags", json={"tags": ["grid", "best"]}, headers=ORIGIN
    )
    assert answer.json() == {"tags": ["grid", "best"]}
    answer = writer.put(
        f"/api/runs/{run_id}/tags", json={"tags": ["best"]}, headers=ORIGIN
    )
    assert answer.json() == {"tags": ["best"]}
    listed = writer.get("/api/runs", params={"where": "tag:best"}).json()
    assert [r["id"] for r in listed["rows"]] == [run_id]


def test_put_tags_with_a_comma_is_refused_and_changes_nothing(
    writer: TestClient, own_store: Path, ids: dict[str, str]
) -> None:
    run_id = ids["lr0.1-s1"]
    before = (own_store / run_id / "run.json").read_bytes()
    answer = writer.put(
        f"/api/runs/{run_id}/tags", json={"tags": ["a,b"]}, headers=ORIGIN
    )
    assert answer.status_code == 400
    assert (own_store / run_id / "run.json").read_bytes() == before


def test_log_tail_and_follow(writer: TestClient, own_store: Path, ids: dict) -> None:
    run_id = ids["lr0.1-s1"]
    log = own_store / run_id / "log.txt"
    log.write_text("first line\nsecond line\n", encoding="utf-8")
    body = writer.get(f"/api/runs/{run_id}/log").json()
    assert body["text"] == "first line\nsecond line\n"
    with open(log, "a", encoding="utf-8") as out:
        out.write("third line\n")
    more = writer.get(f"/api/runs/{run_id}/log", params={"offset": body["next"]}).json()
    assert more["text"] == "third line\n"
    assert more["next"] == more["size"] == log.stat().st_size


def test_download_serves_a_file_inside(client: TestClient, ids: dict[str, str]) -> None:
    answer = client.get(f"/runs/{ids['odd']}/files/config.yaml")
    assert answer.status_code == 200
    assert answer.headers["content-disposition"].startswith("attachment")
    assert "note:" in answer.text


@pytest.mark.parametrize(
    "path",
    [
        "../../etc/passwd",
        "..%2f..%2fetc%2fpasswd",
        "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "%2fetc%2fpasswd",
        "metrics/../../x",
    ],
)
def test_download_refuses_paths_leading_out(
    client: TestClient, ids: dict[str, str], path: str
) -> None:
    answer = client.get(f"/runs/{ids['odd']}/files/{path}")
    assert answer.status_code == 404
    assert "root:" not in answer.text


def test_download_refuses_a_symlink_pointing_out(
    writer: TestClient, own_store: Path, ids: dict[str, str], tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("secret", encoding="utf-8")
    os.symlink(secret, own_store / ids["odd"] / "leak.txt")
    answer = writer.get(f"/runs/{ids['odd']}/files/leak.txt")
    assert answer.status_code == 404
    assert "secret" not in answer.text


def test_download_with_a_nul_byte_is_404(client: TestClient, ids: dict) -> None:
    answer = client.get(f"/runs/{ids['odd']}/files/run.json%00.txt")
    assert answer.status_code == 404


def test_links_out_of_the_run_are_not_listed(
    writer: TestClient, own_store: Path, ids: dict[str, str], tmp_path: Path
) -> None:
    run_dir = own_store / ids["odd"]
    os.symlink(tmp_path, run_dir / "outside")
    os.symlink(run_dir / "config.yaml", run_dir / "inside.yaml")
    paths = [f["path"] for f in writer.get(f"/api/runs/{ids['odd']}").json()["files"]]
    assert "inside.yaml" in paths
    assert not any(p.startswith("outside") for p in paths)


def test_a_tag_over_100_characters_is_refused(
    writer: TestClient, ids: dict[str, str]
) -> None:
    answer = writer.put(
        f"/api/runs/{ids['odd']}/tags", json={"tags": ["x" * 101]}, headers=ORIGIN
    )
    assert answer.status_code == 400
    assert "at most 100" in answer.json()["error"]["message"]


def test_a_body_over_4_mb_is_refused(writer: TestClient, ids: dict[str, str]) -> None:
    text = "x" * (4 << 20)
    answer = writer.put(
        f"/api/runs/{ids['odd']}/notes", json={"text": text}, headers=ORIGIN
    )
    assert answer.status_code == 413
