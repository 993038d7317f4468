"""The HTTP side: a threaded ``http.server`` on 127.0.0.1 whose handler routes each request
to its API, checks it, takes the next script entry and writes the rendered body (faults
included) with chunked transfer encoding, so a cut is a real truncated body."""

from __future__ import annotations

import contextlib
import http.server
import json
import random
import socket
import socketserver
import threading
import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from toolwire._scripted import validate
from toolwire._scripted.errors import openai_error, status_body
from toolwire._scripted.render_anthropic import AnthropicRenderer
from toolwire._scripted.render_chat import ChatRenderer
from toolwire._scripted.render_gemini import GeminiRenderer
from toolwire._scripted.render_ollama import OllamaRenderer
from toolwire._scripted.render_responses import ResponsesRenderer
from toolwire._scripted.routes import APIS, Api, Route, route
from toolwire._scripted.script import (
    Check,
    Chunking,
    Fault,
    RecordedRequest,
    Responder,
    ScriptEntry,
    Turn,
)
from toolwire._scripted.wire import RenderContext, Renderer, compact, estimate_tokens

if TYPE_CHECKING:
    from typing_extensions import Self

_RENDERERS: dict[Api, type[Renderer]] = {
    "chat": ChatRenderer,
    "responses": ResponsesRenderer,
    "anthropic": AnthropicRenderer,
    "gemini": GeminiRenderer,
    "ollama": OllamaRenderer,
}


class _HTTPServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # socketserver's default backlog of 5 refuses bursts of concurrent streams.
    request_queue_size = 1024
    scripted: ScriptedServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up mid-response is normal here (cut and stall tests do it).
        pass


class _Abort(Exception):
    """The client went away or the server is closing; drop the connection."""


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "toolwire-testing/1"
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        # Small writes must leave at once, or the "realistic chunking" is Nagle's.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    # -- plumbing

    def _send_json(
        self, status: int, body: Mapping[str, Any], headers: Mapping[str, str] | None = None
    ) -> None:
        self._send_bytes(status, json.dumps(body).encode(), headers)

    def _send_bytes(
        self, status: int, data: bytes, headers: Mapping[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def _write_chunk(self, data: bytes) -> None:
        if self.server.scripted._closing.is_set():
            raise _Abort
        try:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()
        except OSError as exc:
            raise _Abort from exc

    def _pause(self, seconds: float) -> None:
        if seconds > 0 and self.server.scripted._closing.wait(seconds):
            raise _Abort

    # -- requests

    def do_GET(self) -> None:
        if self.path.rstrip("/").endswith("/models"):
            model = self.server.scripted.model
            self._send_json(
                200,
                {
                    "object": "list",
                    "data": [{"id": model, "object": "model", "owned_by": "toolwire"}],
                },
            )
        else:
            self._send_json(
                404, openai_error(f"no route for GET {self.path}", "invalid_request_error")
            )

    def do_POST(self) -> None:
        scripted = self.server.scripted
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = None
        found = route(self.path)
        request = RecordedRequest(
            method="POST",
            path=self.path,
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            raw=raw,
            api=found.api if found is not None else None,
        )
        scripted._record(request)
        if found is None:
            self._send_json(
                404, openai_error(f"no route for POST {self.path}", "invalid_request_error")
            )
            return
        api = found.api
        rejection = validate.auth(api, request.headers, self.path, scripted.api_key)
        rejection = rejection or self._validate(api, request)
        if rejection is not None:
            if rejection.recorded:
                scripted._fail(
                    f"request #{len(scripted.requests)} ({api}) rejected: {rejection.message}"
                )
            self._send_json(
                rejection.status,
                status_body(
                    api,
                    rejection.status,
                    rejection.message,
                    code=rejection.code,
                    param=rejection.param,
                ),
            )
            return
        if api == "ollama" and not request.messages:
            self._send_ollama_load(request)  # Ollama loads the model and answers at once
            return
        try:
            entry = scripted._next_entry(request)
        except Exception as exc:  # noqa: BLE001 - a responder bug must reach the test
            scripted._fail(f"responder failed on request #{len(scripted.requests)}: {exc!r}")
            message = f"toolwire.testing: responder failed: {exc!r}"
            self._send_json(500, status_body(api, 500, message))
            return
        if entry is None:
            scripted._fail(f"script exhausted: no entry left for request #{len(scripted.requests)}")
            self._send_json(500, status_body(api, 500, "toolwire.testing: script exhausted"))
            return
        if isinstance(entry, Fault):
            self._fault_before_body(entry, api)
            return
        problem = scripted._check(entry, request)
        if problem is not None:
            message = f"toolwire.testing: request check failed: {problem}"
            self._send_json(400, status_body(api, 400, message))
            return
        try:
            self._play(entry, request, found)
        except _Abort:
            self.close_connection = True

    def _validate(self, api: Api, request: RecordedRequest) -> validate.Rejection | None:
        scripted = self.server.scripted
        body = request.body
        if api == "chat":
            return validate.chat(body, scripted.accept_stream_options)
        if api == "responses":
            return validate.responses(body, scripted._given_call_ids())
        if api == "anthropic":
            return validate.anthropic(body, request.headers)
        if api == "gemini":
            return validate.gemini(body)
        return validate.ollama(body)

    def _send_ollama_load(self, request: RecordedRequest) -> None:
        line = {
            "model": request.model,
            "created_at": "1970-01-01T00:00:00Z",
            "message": {"role": "assistant", "content": ""},
            "done_reason": "load",
            "done": True,
        }
        self._send_bytes(200, compact(line).encode())

    def _fault_before_body(self, fault: Fault, api: Api) -> None:
        if fault.kind == "disconnect":
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        headers: dict[str, str] = {}
        if fault.retry_after is not None:
            headers["Retry-After"] = f"{fault.retry_after:g}"
        body = (
            fault.body
            if fault.body is not None
            else status_body(api, fault.status, fault.message or f"HTTP {fault.status}")
        )
        self._send_json(fault.status, body, headers)

    def _stream(self, request: RecordedRequest, found: Route) -> bool:
        if found.stream is not None:
            return found.stream
        body = request.body if isinstance(request.body, dict) else {}
        # Ollama streams unless told not to; the others only when asked.
        return bool(body.get("stream", found.api == "ollama"))

    def _play(self, turn: Turn, request: RecordedRequest, found: Route) -> None:
        scripted = self.server.scripted
        rng = random.Random(scripted._seed_for(len(scripted.requests)))
        ctx = RenderContext(
            model=str(request.model or scripted.model),
            include_usage=found.api == "chat" and request.include_usage,
            rng=rng,
            prompt_tokens=estimate_tokens(json.dumps(request.messages)),
            sse=found.sse,
        )
        renderer = _RENDERERS[found.api](turn, ctx)
        scripted._gave_out(renderer.call_ids)
        first_byte_delay = (
            turn.first_byte_delay
            if turn.first_byte_delay is not None
            else scripted.first_byte_delay
        )
        if not self._stream(request, found):
            self._pause(first_byte_delay)
            self._send_bytes(200, renderer.whole())
            return
        events = renderer.events()
        delay = turn.delay if turn.delay is not None else scripted.delay
        chunking = turn.chunking or scripted.chunking
        fault = turn.fault

        self.send_response(200)
        self.send_header("Content-Type", renderer.content_type)
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        request_id = "req_" + uuid.uuid4().hex[:16]
        self.send_header("x-request-id", request_id)
        if found.api == "anthropic":
            self.send_header("request-id", request_id)
        self.end_headers()
        self.wfile.flush()
        self._pause(first_byte_delay)

        before, after = events, []
        cut = len(events)
        if fault is not None:
            position = fault.after if fault.after >= 0 else len(events) + fault.after
            cut = max(0, min(position, len(events)))
            before, after = events[:cut], events[cut:]
        self._send_events(before, delay, chunking, rng)
        if fault is None:
            self._write_chunk(b"")  # the zero-length chunk ends the body
            return
        if fault.kind == "cut":
            if fault.mid_event and after:
                half = after[0][: max(1, len(after[0]) // 2)]
                self._write_chunk(half)
            self.close_connection = True
            return  # the socket closes with the chunked body unterminated
        if fault.kind == "stall":
            self._pause(fault.seconds)
            if fault.close:
                self.close_connection = True
                return
        elif fault.kind == "malformed":
            self._write_chunk(renderer.malformed())
        elif fault.kind == "error_event":
            self._write_chunk(renderer.error_event(fault.message, cut))
            if fault.close:
                self._write_chunk(b"")
                return
        self._send_events(after, delay, chunking, rng)
        self._write_chunk(b"")

    def _send_events(
        self, events: list[bytes], delay: float, chunking: Chunking, rng: random.Random
    ) -> None:
        if not events:
            return
        if chunking == "event":
            writes = events
        else:
            # Network reads rarely line up with events: cut the byte stream at random points so
            # events split across reads and several share one read.
            data = b"".join(events)
            writes = []
            i = 0
            while i < len(data):
                step = rng.randint(1, 160) if chunking == "random" else rng.randint(512, 4096)
                writes.append(data[i : i + step])
                i += step
        for i, data in enumerate(writes):
            if i and delay:
                self._pause(delay)
            self._write_chunk(data)


class ScriptedServer:
    """A server of every LLM API this package reads, playing one script (see the module doc).

    The request path picks the API (``base_url(api)`` is what a client needs): OpenAI Chat
    Completions (``POST .../chat/completions``), OpenAI Responses (``POST .../responses``),
    Anthropic Messages (``POST /v1/messages``), Gemini (``POST
    /v1beta/models/{model}:streamGenerateContent?alt=sse``, and ``:generateContent``) and
    Ollama (``POST /api/chat``). Requests are checked as the real API checks them; a bad one
    gets that API's 400 and its reason goes to ``errors`` (chat keeps its two old checks,
    which are not recorded).

    ``script`` is a list of ``Turn`` / ``Fault`` entries (one per request, in order; with
    ``loop=True`` it starts over) or a callable that picks the entry from the request.
    ``delay`` is the pause between writes of a body, ``first_byte_delay`` the pause before the
    first one, ``chunking`` how bytes are grouped into writes: ``"event"`` (one write per
    event), ``"random"`` (cuts of 1-160 bytes, events split and joined) or ``"net"`` (cuts of
    512 B-4 KB, what a socket delivers from a fast server; for benchmarks).
    ``api_key``, when set, is required as each API's clients send it (a bearer token for
    OpenAI and Ollama, ``x-api-key`` for Anthropic, ``x-goog-api-key`` or ``?key=`` for
    Gemini; 401/403 otherwise). ``check`` runs on every request, like ``Turn.expect``.
    ``accept_stream_options=False`` rejects ``stream_options`` with a 400, as some
    OpenAI-compatible servers do.

    Thread-safe; use it as a context manager or call ``start()`` / ``close()``. On leaving the
    ``with`` block, failed request checks raise ``AssertionError`` (``raise_on_exit=False``
    turns that off; ``server.errors`` keeps them).
    """

    def __init__(
        self,
        script: Sequence[ScriptEntry] | Responder = (),
        *,
        delay: float = 0.0,
        first_byte_delay: float = 0.0,
        chunking: Chunking = "event",
        seed: int = 0,
        api_key: str | None = None,
        model: str = "toolwire-test",
        check: Check | None = None,
        accept_stream_options: bool = True,
        loop: bool = False,
        host: str = "127.0.0.1",
        port: int = 0,
        raise_on_exit: bool = True,
    ) -> None:
        self._responder: Responder | None = script if callable(script) else None
        self._script: list[ScriptEntry] = [] if callable(script) else list(script)
        self.delay = delay
        self.first_byte_delay = first_byte_delay
        self.chunking: Chunking = chunking
        self.seed = seed
        self.api_key = api_key
        self.model = model
        self.check = check
        self.accept_stream_options = accept_stream_options
        self.loop = loop
        self.raise_on_exit = raise_on_exit
        self.requests: list[RecordedRequest] = []
        self.errors: list[str] = []
        self._host = host
        self._port = port
        self._position = 0
        self._call_ids: set[str] = set()
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle

    def start(self) -> Self:
        """Binds the port and starts serving in a daemon thread; returns self."""
        if self._httpd is not None:
            return self
        httpd = _HTTPServer((self._host, self._port), _Handler)
        httpd.scripted = self
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.02},
            name="toolwire-testing-server",
            daemon=True,
        )
        self._thread.start()
        return self

    def close(self) -> None:
        """Stops serving; stalled and delayed responses are abandoned at once."""
        httpd = self._httpd
        if httpd is None:
            return
        self._closing.set()
        httpd.shutdown()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None

    def serve_forever(self) -> None:
        """Serves in the calling thread until interrupted (``toolwire serve``)."""
        self.start()
        try:
            while self._thread is not None and self._thread.is_alive():
                self._thread.join(0.5)
        finally:
            self.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()
        if self.raise_on_exit and self.errors and exc_info[0] is None:
            raise AssertionError("toolwire.testing server: " + "; ".join(self.errors))

    def __repr__(self) -> str:
        where = self.url if self._httpd is not None else "not started"
        return f"<ScriptedServer {where} requests={len(self.requests)} entries={len(self._script)}>"

    # -- information

    @property
    def port(self) -> int:
        """The bound port (the server must be started)."""
        if self._httpd is None:
            raise RuntimeError("the server is not started")
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """The base URL to give an OpenAI client, e.g. ``http://127.0.0.1:54321/v1``."""
        return self.base_url("chat")

    def base_url(self, api: str) -> str:
        """The base URL to give a client of ``api`` (``"chat"``, ``"responses"``,
        ``"anthropic"``, ``"gemini"``, ``"ollama"``): ``.../v1`` for the OpenAI APIs, the
        server's root for the others, whose SDKs add their own version prefix."""
        if api not in APIS:
            raise ValueError(f"unknown api {api!r}; expected one of {', '.join(APIS)}")
        root = f"http://{self._host}:{self.port}"
        return root + "/v1" if api in ("chat", "responses") else root

    @property
    def remaining(self) -> int:
        """Script entries not played yet (0 for a responder or a looping script)."""
        if self._responder is not None or self.loop:
            return 0
        with self._lock:
            return len(self._script) - self._position

    def add(self, *entries: ScriptEntry) -> None:
        """Appends entries to the script (also while serving)."""
        with self._lock:
            self._script.extend(entries)

    # -- used by the handler

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def _fail(self, message: str) -> None:
        with self._lock:
            self.errors.append(message)

    def _gave_out(self, call_ids: Sequence[str]) -> None:
        with self._lock:
            self._call_ids.update(call_ids)

    def _given_call_ids(self) -> frozenset[str]:
        with self._lock:
            return frozenset(self._call_ids)

    def _seed_for(self, n: int) -> int:
        return self.seed * 1_000_003 + n

    def _next_entry(self, request: RecordedRequest) -> ScriptEntry | None:
        if self._responder is not None:
            return self._responder(request)
        with self._lock:
            if self._position >= len(self._script):
                if not self.loop or not self._script:
                    return None
                self._position = 0
            entry = self._script[self._position]
            self._position += 1
            return entry

    def _check(self, turn: Turn, request: RecordedRequest) -> str | None:
        for check in (self.check, turn.expect):
            if check is None:
                continue
            try:
                ok = check(request)
            except Exception as exc:  # noqa: BLE001 - any failure of a user check fails the request
                problem = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            else:
                if ok is not False:
                    continue
                problem = f"{getattr(check, '__name__', 'check')} returned False"
            self._fail(f"request #{len(self.requests)}: {problem}")
            return problem
        return None
