"""``runlab ui``: serve the web page of a store."""

from __future__ import annotations

import ipaddress
import os
import secrets
import socket
import sys

import click

from runlab.cli.options import store_option
from runlab.errors import RunlabError

__all__ = ["ui_command"]

DEFAULT_PORT = 8765


@click.command()
@store_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option(
    "--port",
    default=DEFAULT_PORT,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="0: any free port.",
)
@click.option(
    "--token",
    envvar="RUNLAB_UI_TOKEN",
    help="Token asked of every request (default on a non-loopback host: a new one).",
)
def ui_command(store: str | None, host: str, port: int, token: str | None) -> None:
    """Serve the web page to browse, chart and compare the runs of a store.

    \b
    Example:
      runlab ui --store experiments/demo --port 8765
    """
    import uvicorn

    from runlab.server.app import create_app, is_page_built
    from runlab.store import open_store

    # Fail before listening: a wrong store or an unbuilt page is said now.
    target = open_store(store)
    _check_store(target.path)
    if not is_page_built():
        raise RunlabError(
            "The web page is not built; run `make frontend` in the runlab checkout."
        )
    loopback = is_loopback(host)
    if not loopback and not token:
        token = secrets.token_urlsafe(24)
    sock = _bind(host, port)

    # Read the runs now, so that the first page does not wait for it.
    app = create_app(target, token=token, loopback=loopback)
    app.state.catalog.records()

    # The printed URL carries the token: the first visit turns it into a cookie.
    port = sock.getsockname()[1]
    everywhere = host in ("0.0.0.0", "::", "[::]")
    url = _url("127.0.0.1" if everywhere else host, port, token)
    click.echo(f"runlab ui: {target.path} at {url}  (Ctrl-C stops)")
    if everywhere:
        click.echo(f"From other machines: {_url(socket.gethostname(), port, token)}")
    # Flushed now: a pipe would otherwise hold the lines while the server runs.
    sys.stdout.flush()
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    uvicorn.Server(config).run(sockets=[sock])


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address or ``localhost``."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _check_store(path: os.PathLike[str]) -> None:
    # A store not made yet is served empty (its runs appear as they start);
    # a path whose parent is missing is taken for a typo.
    if not os.path.exists(path):
        if not os.path.isdir(os.path.dirname(os.path.abspath(path))):
            raise RunlabError(
                f"No store at {path}; give --store, or set RUNLAB_DIR, to a folder of runs."
            )
        click.echo(f"No runs in {path} yet; they will appear as they start.", err=True)
        return
    if not os.path.isdir(path):
        raise RunlabError(
            f"The store {path} is not a folder; give --store a folder of runs."
        )
    if not os.access(path, os.R_OK | os.X_OK):
        raise RunlabError(f"Cannot read the store at {path}: permission denied.")


def _bind(host: str, port: int) -> socket.socket:
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        # IPPROTO_TCP named: asyncio then sets TCP_NODELAY on each connection,
        # without which a kept-alive answer waits ~40 ms for a delayed ACK.
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host.strip("[]"), port))
    except OSError as err:
        raise RunlabError(
            f"Cannot listen on {host}:{port}: {err.strerror or err}."
        ) from None
    sock.listen(128)
    return sock


def _url(host: str, port: int, token: str | None) -> str:
    shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
    query = f"?token={token}" if token else ""
    return f"http://{shown}:{port}/{query}"
