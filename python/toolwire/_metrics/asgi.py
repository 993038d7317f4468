"""A minimal ASGI app serving one text body: the ``/metrics`` endpoint.

Plain ASGI (no framework), so it mounts under Starlette, FastAPI, Litestar or any ASGI server
as it is and costs no dependency. It answers GET and HEAD on any path below its mount point
(the mount decides the path), refuses other methods with 405, and takes part in the lifespan
protocol so it can also be served on its own (``uvicorn module:app``).
"""

from __future__ import annotations

from collections.abc import Callable

from toolwire._asgi import ASGIApp, Receive, Scope, Send, lifespan


def text_app(render: Callable[[], tuple[bytes, str]]) -> ASGIApp:
    """An app answering every GET with ``render()``'s body and content type."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope.get("type")
        if kind == "lifespan":
            await lifespan(receive, send)
            return
        if kind != "http":
            if kind == "websocket":
                await receive()
                await send({"type": "websocket.close", "code": 1003})
            return
        method = scope.get("method", "GET")
        if method not in ("GET", "HEAD"):
            await _respond(
                send,
                405,
                b"method not allowed\n",
                "text/plain; charset=utf-8",
                extra=[(b"allow", b"GET, HEAD")],
            )
            return
        body, content_type = render()
        await _respond(send, 200, body, content_type, head=method == "HEAD")

    return app


async def _respond(
    send: Send,
    status: int,
    body: bytes,
    content_type: str,
    *,
    head: bool = False,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    headers = [
        (b"content-type", content_type.encode("latin-1")),
        (b"content-length", str(len(body)).encode("ascii")),
        # Scrapes must see fresh numbers, never a cached page.
        (b"cache-control", b"no-store"),
        *(extra or []),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head else body})
