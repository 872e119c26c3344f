"""`runlab ui`: start-up checks and the real server on a real socket."""

from __future__ import annotations

import re
import socket
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import runlab
from runlab.server.app import is_page_built

pytestmark = pytest.mark.usefixtures("runlab_env")

needs_page = pytest.mark.skipif(
    not is_page_built(), reason="the web page is not built: `make test` builds it first"
)


class _Keep(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    opener = urllib.request.build_opener(_Keep)
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with opener.open(request, timeout=10) as answer:
            return answer.status, answer.headers
    except urllib.error.HTTPError as err:
        return err.code, err.headers


@pytest.fixture
def served(
    store: Path, runlab_popen: Callable[..., subprocess.Popen[str]]
) -> Iterator[str]:
    """A real `runlab ui --host 0.0.0.0` over a store of one run; its printed URL."""
    run = runlab.start(store=store, name="one")
    run.log({"loss": 1.0}, step=0)
    run.finish()
    server = runlab_popen(
        "ui", "--store", str(store), "--host", "0.0.0.0", "--port", "0"
    )
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        match = re.search(r"at (http://\S+)", line)
        assert match, (
            f"no URL in {line!r}; stderr: {server.stderr and server.stderr.read()}"
        )
        yield match.group(1)
    finally:
        server.terminate()
        server.communicate(timeout=10)


def test_ui_on_a_missing_store_stops_before_listening(
    runlab_cli: Callable[..., subprocess.CompletedProcess[str]], tmp_path: Path
) -> None:
    missing = tmp_path / "nowhere" / "experiments"
    done = runlab_cli("ui", "--store", str(missing), "--port", "0")
    assert done.returncode == 1
    assert done.stderr == (
        f"Error: No store at {missing}; give --store, or set RUNLAB_DIR, "
        "to a folder of runs.\n"
    )


@needs_page
def test_ui_on_a_busy_port_says_so(
    runlab_cli: Callable[..., subprocess.CompletedProcess[str]], store: Path
) -> None:
    store.mkdir()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = runlab_cli("ui", "--store", str(store), "--port", str(port))
    assert done.returncode == 1
    assert done.stderr.startswith(f"Error: Cannot listen on 127.0.0.1:{port}: ")
    assert "Traceback" not in done.stderr


@needs_page
def test_ui_on_another_host_prints_a_token_url_and_asks_for_it(served: str) -> None:
    base, _, token = served.partition("/?token=")
    assert len(token) >= 24
    status, _ = _get(f"{base}/api/runs")
    assert status == 401
    status, headers = _get(served)
    assert status == 303
    assert headers["set-cookie"].startswith(f"runlab_token={token};")
    status, _ = _get(f"{base}/api/runs", {"Authorization": f"Bearer {token}"})
    assert status == 200


@needs_page
def test_ui_serves_the_page_shell_with_a_csp(served: str) -> None:
    base, _, token = served.partition("/?token=")
    auth = {"Authorization": f"Bearer {token}"}
    status, headers = _get(f"{base}/", auth)
    missing, its_headers = _get(f"{base}/runs/x", auth)
    assert (status, missing) == (200, 404)  # no run x: the page, which says so
    for answer in (headers, its_headers):
        assert answer["content-type"].startswith("text/html")
        assert "script-src 'self'" in answer["content-security-policy"]


def test_ui_port_out_of_range_is_a_usage_error(
    runlab_cli: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    done = runlab_cli("ui", "--port", "99999")
    assert done.returncode == 2
    assert "99999 is not in the range 0<=x<=65535" in done.stderr
    assert "Traceback" not in done.stderr
