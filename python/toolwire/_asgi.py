"""What toolwire's plain ASGI apps share (``toolwire.ui``'s endpoints, ``toolwire.metrics``'
``/metrics`` app, the web demo's host and router): the ASGI types, headers as bytes, a small
JSON error response and the lifespan handshake. No import beyond the standard library, so
``toolwire.metrics`` stays light."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def raw_headers(headers: Mapping[str, str]) -> list[tuple[bytes, bytes]]:
    """Headers as ASGI sends them (latin-1 bytes, HTTP's own encoding)."""
    return [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]


async def send_error(
    send: Send, status: int, message: str, extra: Mapping[str, str] | None = None
) -> None:
    """A small JSON error response: ``{"error": message}``, with ``extra`` headers."""
    body = json.dumps({"error": message}).encode()
    headers = {"content-type": "application/json", "content-length": str(len(body))}
    headers.update(extra or {})
    await send({"type": "http.response.start", "status": status, "headers": raw_headers(headers)})
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def lifespan(receive: Receive, send: Send) -> None:
    """Takes part in the lifespan protocol, so an app can be served on its own."""
    while True:
        message = await receive()
        if message.get("type") == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message.get("type") == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
