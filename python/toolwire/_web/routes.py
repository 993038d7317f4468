"""A tiny router: exact paths to ASGI apps, each with the methods it answers.

An unknown path gets 404, a known one asked with another method 405 with ``Allow``. It serves
loopback names only: a request whose ``Host`` is not ``127.0.0.1``, ``localhost`` or ``[::1]``
(a DNS-rebinding page), or whose ``Origin`` is another site's, gets 403, so no web page can
make the demo run its agent.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

from toolwire._asgi import ASGIApp, Receive, Scope, Send, send_error

LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


def _hostname(netloc: str) -> str | None:
    try:
        return urlsplit("//" + netloc).hostname
    except ValueError:
        return None


def local_request(scope: Scope) -> bool:
    """Whether the request names a loopback host and comes from no other origin."""
    host = _header(scope, b"host")
    if host is None or _hostname(host) not in LOOPBACK:
        return False
    origin = _header(scope, b"origin")
    if origin is None:
        return True  # not a browser, or a same-origin GET
    try:
        parts = urlsplit(origin)
    except ValueError:
        return False
    return parts.scheme == "http" and parts.netloc == host


class Router:
    """An ASGI app dispatching on the exact path: ``{path: (app, methods)}``."""

    def __init__(self, routes: Mapping[str, tuple[ASGIApp, frozenset[str]]]) -> None:
        self.routes = dict(routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return  # no lifespan, no websocket
        if not local_request(scope):
            await send_error(send, 403, "this server answers requests to 127.0.0.1 only")
            return
        route = self.routes.get(scope["path"])
        if route is None:
            await send_error(send, 404, f"no such path: {scope['path']}")
            return
        app, methods = route
        if scope["method"] not in methods:
            allow = ", ".join(sorted(methods))
            await send_error(send, 405, f"use {allow}", {"allow": allow})
            return
        await app(scope, receive, send)
