"""Host, token and origin checks, and the headers every answer carries."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from runlab.server import create_app
from runlab.server.security import SecurityGuard
from runlab.store import open_store

TOKEN = "s3cret-token"


@pytest.fixture
def remote(demo_store: tuple[Path, dict[str, str]]) -> TestClient:
    """The app as `runlab ui --host 0.0.0.0` serves it: token required."""
    app = create_app(open_store(demo_store[0]), token=TOKEN, loopback=False)
    return TestClient(app, base_url="http://10.1.2.3:8765", follow_redirects=False)


def test_every_answer_has_a_csp_without_inline_script(client: TestClient) -> None:
    for path in ("/api/runs", "/api/nothing", "/-/info"):
        csp = client.get(path).headers["content-security-policy"]
        assert "script-src 'self'" in csp
        assert "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp


def test_loopback_server_refuses_foreign_host_header(client: TestClient) -> None:
    answer = client.get("/api/runs", headers={"Host": "evil.example:8765"})
    assert answer.status_code == 403
    assert answer.json()["error"]["type"] == "BadHost"


def test_write_without_origin_is_refused(client: TestClient, ids: dict) -> None:
    answer = client.put(f"/api/runs/{ids['odd']}/notes", json={"text": "x"})
    assert answer.status_code == 403
    assert answer.json()["error"]["type"] == "BadOrigin"


def test_write_from_another_origin_is_refused(client: TestClient, ids: dict) -> None:
    answer = client.put(
        f"/api/runs/{ids['odd']}/notes",
        json={"text": "x"},
        headers={"Origin": "http://evil.example"},
    )
    assert answer.status_code == 403


def test_remote_without_token_gets_401(remote: TestClient) -> None:
    for path in ("/", "/api/runs", "/-/info", "/static/x.js"):
        assert remote.get(path).status_code == 401


def test_remote_wrong_token_gets_401(remote: TestClient) -> None:
    assert remote.get("/api/runs", params={"token": "nope"}).status_code == 401
    remote.cookies.set("runlab_token", "nope")
    assert remote.get("/api/runs").status_code == 401


def test_first_visit_with_token_sets_cookie_and_redirects(remote: TestClient) -> None:
    answer = remote.get("/", params={"token": TOKEN, "where": "tag:grid"})
    assert answer.status_code == 303
    assert answer.headers["location"] == "/?where=tag%3Agrid"
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"runlab_token={TOKEN};")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    remote.cookies.set("runlab_token", TOKEN)
    follow = remote.get("/api/runs")
    assert follow.status_code == 200


@pytest.mark.parametrize("path", ["//evil.example/", "/\\evil.example/"])
def test_token_redirect_stays_on_this_site(path: str) -> None:
    # An HTTP client would read "//evil.example/" as a host, so the request
    # goes to the guard as a raw ASGI call with that path.
    guard = SecurityGuard(_never_called, token=TOKEN, loopback=False)
    scope = {
        "type": "http",
        "method": "GET",
        "path": path,
        "raw_path": path.encode(),
        "query_string": f"token={TOKEN}".encode(),
        "headers": [(b"host", b"10.1.2.3:8765")],
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: Any) -> None:
        sent.append(message)

    asyncio.run(guard(scope, receive, send))
    headers = dict(sent[0]["headers"])
    assert sent[0]["status"] == 303
    assert headers[b"location"] == b"/evil.example/"


async def _never_called(scope: Any, receive: Any, send: Any) -> None:
    raise AssertionError("the guard should have answered itself")


def test_bearer_token_is_accepted(remote: TestClient) -> None:
    answer = remote.get("/api/runs", headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 200


def test_bare_ipv6_loopback_host_is_accepted(client: TestClient) -> None:
    assert client.get("/-/info", headers={"Host": "::1"}).status_code == 200
    assert client.get("/-/info", headers={"Host": "[::1]:8765"}).status_code == 200
