"""A small HTTP/1.1 server for one ASGI app: asyncio streams and h11, no dependency beyond h11
(which httpx brings through httpcore).

What the web demo's endpoints need, and no more: the request body is handed to ``receive()``
as it arrives; a response without ``content-length`` goes out chunked, each ``send`` written
and drained before it returns (a streamed run reaches the browser part by part); a client
that goes away ends a waiting ``receive()`` with ``http.disconnect`` and makes ``send`` raise
``OSError`` (ASGI spec 2.4); connections are kept alive between requests and closed after
``IDLE_SECONDS`` without one. No lifespan (the spec lets a server skip it), no TLS, no
HTTP/2, no WebSocket.
"""

from __future__ import annotations

import asyncio
import contextlib
import http
import logging
from typing import Any
from urllib.parse import unquote

import h11

from toolwire._asgi import ASGIApp, Message, Scope

READ_SIZE = 64 * 1024
#: Request body an app left unread that is read to keep the connection (more: it closes).
DRAIN_BYTES = 64 * 1024
#: A kept-alive connection with no new request for this long is closed.
IDLE_SECONDS = 30.0

logger = logging.getLogger("toolwire")


class ClientGone(ConnectionResetError):
    """``send`` after the client went away (an ``OSError``, as ASGI 2.4 asks)."""


class _Connection:
    """One TCP connection: requests read with h11, each handed to the app in turn."""

    def __init__(self, app: ASGIApp, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.app = app
        self.reader = reader
        self.writer = writer
        self.h11 = h11.Connection(h11.SERVER)
        self.gone = False  # the client closed or reset the connection

    async def read(self) -> bytes:
        """The next bytes from the client; b"" (and ``gone``) at its end."""
        try:
            data = await self.reader.read(READ_SIZE)
        except OSError:
            data = b""
        if not data:
            self.gone = True
        return data

    async def next_event(self) -> Any:
        """The next h11 event, reading as needed (``ConnectionClosed`` at the end)."""
        while True:
            event = self.h11.next_event()
            if event is not h11.NEED_DATA:
                return event
            self.h11.receive_data(await self.read())

    async def write(self, event: Any) -> None:
        if self.gone:
            raise ClientGone("the client went away")
        data = self.h11.send(event)
        if data:
            try:
                self.writer.write(data)
                await self.writer.drain()
            except OSError as exc:
                self.gone = True
                raise ClientGone("the client went away") from exc

    async def run(self) -> None:
        try:
            while True:
                try:
                    event = await asyncio.wait_for(self.next_event(), IDLE_SECONDS)
                except asyncio.TimeoutError:
                    return
                if not isinstance(event, h11.Request):
                    return  # ConnectionClosed
                if not await _Exchange(self, event).run() or not await self.drain():
                    return
                if self.h11.our_state is not h11.DONE or self.h11.their_state is not h11.DONE:
                    return  # "connection: close"
                self.h11.start_next_cycle()
        except h11.RemoteProtocolError as exc:
            await self.refuse(exc.error_status_hint)
        except OSError:
            pass
        finally:
            self.writer.close()
            with contextlib.suppress(OSError, asyncio.CancelledError):
                await self.writer.wait_closed()

    async def drain(self) -> bool:
        """Reads what the app left of the request body (a GET's is empty), up to
        ``DRAIN_BYTES``; False when the connection should rather close."""
        left = DRAIN_BYTES
        while self.h11.their_state is h11.SEND_BODY and not self.gone:
            event = await self.next_event()
            if isinstance(event, h11.Data):
                left -= len(event.data)
                if left < 0:
                    return False
            elif not isinstance(event, h11.EndOfMessage):
                return False
        return not self.gone

    async def refuse(self, status: int) -> None:
        """A plain error response to a request h11 could not read, if none was started."""
        if self.h11.our_state not in (h11.IDLE, h11.SEND_RESPONSE):
            return
        body = f"{status} {http.HTTPStatus(status).phrase}\n".encode()
        headers = [
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ]
        with contextlib.suppress(OSError, h11.LocalProtocolError):
            await self.write(h11.Response(status_code=status, headers=headers))
            await self.write(h11.Data(data=body))
            await self.write(h11.EndOfMessage())


class _Exchange:
    """One request and its response: the ASGI scope, ``receive`` and ``send``."""

    def __init__(self, connection: _Connection, request: h11.Request) -> None:
        self.connection = connection
        self.request = request
        self.head = request.method == b"HEAD"
        self.body_done = False
        self.started = False
        self.finished = asyncio.Event()  # the response is complete

    def scope(self) -> Scope:
        writer = self.connection.writer
        raw_path, _, query = bytes(self.request.target).partition(b"?")
        return {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.4"},
            "http_version": self.request.http_version.decode("ascii"),
            "method": self.request.method.decode("ascii"),
            "scheme": "http",
            "path": unquote(raw_path.decode("latin-1")),
            "raw_path": raw_path,
            "query_string": query,
            "root_path": "",
            "headers": [(bytes(name), bytes(value)) for name, value in self.request.headers],
            "client": _address(writer.get_extra_info("peername")),
            "server": _address(writer.get_extra_info("sockname")),
        }

    async def receive(self) -> Message:
        connection = self.connection
        if not self.body_done and not connection.gone:
            try:
                event = await connection.next_event()
            except h11.RemoteProtocolError:
                event = None
            if isinstance(event, h11.Data):
                return {"type": "http.request", "body": bytes(event.data), "more_body": True}
            if isinstance(event, h11.EndOfMessage):
                self.body_done = True
                return {"type": "http.request", "body": b"", "more_body": False}
            connection.gone = True
        if not connection.gone and not self.finished.is_set():
            await self._until_gone()
        return {"type": "http.disconnect"}

    async def _until_gone(self) -> None:
        """Waits for the client to go away, or the response to end."""
        finished = asyncio.ensure_future(self.finished.wait())
        reading: asyncio.Future[bytes] | None = None
        try:
            while not self.connection.gone:
                reading = asyncio.ensure_future(self.connection.read())
                await asyncio.wait({reading, finished}, return_when=asyncio.FIRST_COMPLETED)
                if not reading.done():
                    return
                data = self._keep(reading)
                reading = None
                if data:
                    # Read no more (that would buffer without bound): the response's end
                    # is all there is left to wait for.
                    await finished
                    return
        finally:
            finished.cancel()
            if reading is not None:
                # The stream allows one reader at a time and the next request is read next:
                # wait for this read to unwind, and keep what it may have brought.
                # (asyncio.wait lets a cancellation of this task through.)
                if not reading.done():
                    reading.cancel()
                    await asyncio.wait({reading})
                self._keep(reading)

    def _keep(self, reading: asyncio.Future[bytes]) -> bytes:
        """The bytes of a finished read, handed to h11: a pipelined next request (or one sent
        the moment the response ended) is read in its turn."""
        if reading.cancelled() or reading.exception() is not None:
            return b""
        data = reading.result()
        if data:
            self.connection.h11.receive_data(data)
        return data

    async def send(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            if self.started:
                raise RuntimeError("http.response.start sent twice")
            self.started = True
            status = int(message["status"])
            try:
                reason = http.HTTPStatus(status).phrase.encode("ascii")
            except ValueError:
                reason = b""
            headers = [(bytes(k), bytes(v)) for k, v in message.get("headers", [])]
            await self.connection.write(
                h11.Response(status_code=status, headers=headers, reason=reason)
            )
        elif kind == "http.response.body":
            if not self.started or self.finished.is_set():
                raise RuntimeError("http.response.body outside a response")
            body = bytes(message.get("body", b""))
            if body and not self.head:
                await self.connection.write(h11.Data(data=body))
            if not message.get("more_body", False):
                self.finished.set()
                await self.connection.write(h11.EndOfMessage())
        else:
            raise RuntimeError(f"unexpected ASGI message {kind!r}")

    async def run(self) -> bool:
        """Runs the app on the request; False when the connection must close."""
        try:
            await self.connection.app(self.scope(), self.receive, self.send)
        except ClientGone:
            return False
        except Exception:
            logger.exception(
                "toolwire web: %s %s failed",
                self.request.method.decode("ascii"),
                bytes(self.request.target).decode("latin-1"),
            )
            if not self.started:
                await self.connection.refuse(500)
            return False
        if not self.started:
            await self.connection.refuse(500)
            return False
        return self.finished.is_set() and not self.connection.gone


def _address(info: Any) -> tuple[str, int] | None:
    if isinstance(info, tuple) and len(info) >= 2:
        return str(info[0]), int(info[1])
    return None


class Host:
    """Serves ``app`` on ``host:port`` (``port=0``: a free port) until ``close``."""

    def __init__(self, app: ASGIApp, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self.host = host
        self._port = port
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Binds the port and starts accepting connections (``OSError`` if it is taken)."""
        self._server = await asyncio.start_server(self._accept, self.host, self._port)

    @property
    def port(self) -> int:
        """The bound port."""
        if self._server is None or not self._server.sockets:
            raise RuntimeError("the host is not started")
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>/``."""
        return f"http://{self.host}:{self.port}/"

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            await _Connection(self.app, reader, writer).run()
        except asyncio.CancelledError:
            # ``close`` cancels connections; end quietly: on Python < 3.12 asyncio's stream
            # callback reports a cancelled connection task as an unhandled error.
            pass
        finally:
            self._connections.discard(task)

    async def close(self) -> None:
        """Stops accepting and drops every open connection (running apps are cancelled)."""
        if self._server is None:
            return
        self._server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        await self._server.wait_closed()
        self._server = None
