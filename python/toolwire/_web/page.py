"""``GET /``: the demo's single page (``page.html`` beside this module), served with a Content
Security Policy that lets it load nothing but itself and talk to nothing but its own origin."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from toolwire._asgi import ASGIApp, Receive, Scope, Send

#: Inline script and style only; fetch to this origin only; images from data: URLs (the icon).
POLICY = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
_PLACEHOLDER = "{} /*TOOLWIRE_CONFIG*/"


def render(config: dict[str, Any]) -> bytes:
    """The page with ``config`` (what it shows about the server) in its config script."""
    html = resources.files("toolwire._web").joinpath("page.html").read_text("utf-8")
    # In a <script>, "</" could end the element: JSON allows "<" escaped.
    data = json.dumps(config).replace("<", "\\u003c")
    if _PLACEHOLDER not in html:
        raise RuntimeError("page.html lost its config placeholder")
    return html.replace(_PLACEHOLDER, data).encode("utf-8")


def page_app(config: dict[str, Any]) -> ASGIApp:
    """An ASGI app answering GET and HEAD with the page."""
    body = render(config)
    headers = [
        (b"content-type", b"text/html; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
        (b"content-security-policy", POLICY.encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"no-referrer"),
    ]

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        head = scope.get("method") == "HEAD"
        await send({"type": "http.response.body", "body": b"" if head else body})

    return app
