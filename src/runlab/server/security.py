"""The guard in front of every route: host, token, origin, and safe headers.

- On a loopback address, the ``Host`` header must name a loopback host, so a
  web page cannot reach the server through a DNS name that resolves to
  127.0.0.1 (DNS rebinding).
- Elsewhere, every request needs the token: in the ``runlab_token`` cookie, in
  ``Authorization: Bearer``, or once in ``?token=`` (which sets the cookie and
  redirects to the same address without it).
- A request that changes something must carry an ``Origin`` equal to the
  server's own.
- Every response gets a Content-Security-Policy without inline script, and
  headers that stop sniffing, framing and referrers.
"""

from __future__ import annotations

import hmac
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from runlab.server._http import HTTPError, error_response

__all__ = ["COOKIE", "CSP", "SecurityGuard"]

COOKIE = "runlab_token"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data: blob:; connect-src 'self'; font-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]
_LOOPBACK_HOSTS = frozenset(["localhost", "127.0.0.1", "[::1]", "::1"])
_SAFE_METHODS = frozenset(["GET", "HEAD", "OPTIONS"])


class SecurityGuard:
    """ASGI middleware: refuse what the rules above refuse, stamp the headers."""

    def __init__(self, app: ASGIApp, *, token: str | None, loopback: bool) -> None:
        self.app = app
        self.token = token
        self.loopback = loopback

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        try:
            self._check_host(headers)
            if self.token is not None:
                redirect = self._check_token(scope, headers)
                if redirect is not None:
                    await _send_plain(send, redirect)
                    return
            self._check_origin(scope, headers)
        except HTTPError as err:
            await error_response(err)(scope, receive, send)
            return
        await self.app(scope, receive, _stamped(send))

    def _check_host(self, headers: Headers) -> None:
        if not self.loopback:
            return
        host = _host_name(headers.get("host", ""))
        if host not in _LOOPBACK_HOSTS:
            raise HTTPError(
                403,
                f"Host '{host}' is not a loopback name; open the page at 127.0.0.1.",
                "BadHost",
            )

    def _check_token(self, scope: Scope, headers: Headers) -> dict[str, Any] | None:
        """Pass a request with the token; redirect a first visit; else 401."""
        assert self.token is not None
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        given = query.get("token")
        if given is not None and _same(given, self.token):
            return _cookie_redirect(scope, query, self.token)
        if _same(_cookie_token(headers), self.token):
            return None
        bearer = headers.get("authorization", "")
        if bearer.startswith("Bearer ") and _same(bearer[7:].strip(), self.token):
            return None
        raise HTTPError(
            401,
            "This server needs its token: open the URL that `runlab ui` printed.",
            "Unauthorized",
        )

    def _check_origin(self, scope: Scope, headers: Headers) -> None:
        if scope["method"] in _SAFE_METHODS:
            return
        origin = headers.get("origin")
        host = headers.get("host", "")
        allowed = {f"http://{host}", f"https://{host}"}
        if origin not in allowed:
            raise HTTPError(
                403,
                f"Refused a {scope['method']} from origin {origin or 'none'}: "
                "changes are accepted from this server's own page only.",
                "BadOrigin",
            )


def _stamped(send: Send) -> Send:
    async def send_with_headers(message: Message) -> None:
        if message["type"] == "http.response.start":
            message.setdefault("headers", [])
            message["headers"] = list(message["headers"]) + _HEADERS
        await send(message)

    return send_with_headers


def _host_name(host: str) -> str:
    if host.startswith("["):
        return host.split("]", 1)[0] + "]"
    if host.count(":") > 1:
        return host  # a bare IPv6 address: its colons are not a port
    return host.rsplit(":", 1)[0] if ":" in host else host


def _same(given: str | None, token: str) -> bool:
    if not given:
        return False
    return hmac.compare_digest(given.encode(), token.encode())


def _cookie_token(headers: Headers) -> str | None:
    cookie = SimpleCookie()
    try:
        cookie.load(headers.get("cookie", ""))
    except CookieError:
        return None
    morsel = cookie.get(COOKIE)
    return morsel.value if morsel else None


def _cookie_redirect(scope: Scope, query: dict[str, str], token: str) -> dict[str, Any]:
    rest = urlencode({k: v for k, v in query.items() if k != "token"})
    path = scope.get("raw_path") or scope["path"].encode()
    # "//host" would send the browser to another site: keep it on this one.
    # Browsers read a leading "\" as "/" too.
    location = "/" + path.decode("latin-1").lstrip("/\\") + (f"?{rest}" if rest else "")
    cookie = f"{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/"
    return {"status": 303, "location": location, "cookie": cookie}


async def _send_plain(send: Send, redirect: dict[str, Any]) -> None:
    headers = [
        (b"location", redirect["location"].encode("latin-1")),
        (b"set-cookie", redirect["cookie"].encode("latin-1")),
        (b"content-length", b"0"),
        *_HEADERS,
    ]
    await send({"type": "http.response.start", "status": 303, "headers": headers})
    await send({"type": "http.response.body", "body": b""})
