"""A scripted OpenAI-compatible server on 127.0.0.1, for tests, demos and benchmarks.

``ScriptedServer`` answers ``POST .../chat/completions`` by playing a script: each request
takes the next entry, a ``Turn`` (text and/or tool calls rendered into realistic chunked SSE)
or a ``Fault`` that fails the request before any body byte (429, 500, a dropped connection).
A ``Turn`` can also carry a mid-stream fault: cut, stall, malformed chunk, error object::

    from toolwire.testing import Fault, ScriptedServer, Turn, call

    script = [
        Fault.rate_limit(retry_after=0.05),
        Turn("Let me check.", tool_calls=[call("get_weather", {"city": "Paris"})]),
        Turn("It is sunny in Paris.", expect=lambda req: req.messages[-1]["role"] == "tool"),
    ]
    with ScriptedServer(script) as server:
        client = toolwire.Client(base_url=server.url, api_key="test")
        ...
    server.requests  # every request received, parsed

Rendering follows what api.openai.com sends: a role chunk first, text in small pieces, each
tool call opened by one chunk with its id and name and then its arguments in fragments of a
few characters, a chunk with the finish reason, a usage chunk with empty ``choices`` when the
request asked for ``stream_options.include_usage``, then ``data: [DONE]``. The body uses
chunked transfer encoding over HTTP/1.1 keep-alive, so a cut is a real truncated body.

Only the standard library is used (``http.server`` in a daemon thread), and the server binds
127.0.0.1 on an ephemeral port unless told otherwise. ``python -m toolwire serve`` runs it.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import random
import socket
import socketserver
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = [
    "Fault",
    "RecordedRequest",
    "ScriptedCall",
    "ScriptedServer",
    "Turn",
    "call",
    "turn_from_dict",
]

FaultKind = Literal["status", "disconnect", "cut", "stall", "malformed", "error_event"]
Chunking = Literal["event", "random", "net"]


@dataclass(frozen=True)
class Fault:
    """A failure to inject. Build one with the class methods.

    Before the body (a script entry on its own): ``status`` (with ``rate_limit`` and
    ``server_error`` as shorthands) and ``disconnect``. Inside the body (``Turn(fault=...)``),
    placed after ``after`` SSE events of the turn: ``cut``, ``stall``, ``malformed``,
    ``error_event``. A negative ``after`` counts from the end (``-1``: just before
    ``[DONE]``).
    """

    kind: FaultKind
    status: int = 500
    retry_after: float | None = None
    body: Mapping[str, Any] | None = None
    after: int = 0
    seconds: float = 0.0
    message: str = ""
    mid_event: bool = True
    close: bool = True

    @property
    def before_body(self) -> bool:
        """Whether the fault fails the request before any body byte (a whole script entry)."""
        return self.kind in ("status", "disconnect")

    @classmethod
    def status_code(
        cls,
        status: int,
        message: str = "",
        *,
        retry_after: float | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> Fault:
        """Answer with ``status`` and an OpenAI-style JSON error body."""
        return cls("status", status=status, retry_after=retry_after, body=body, message=message)

    @classmethod
    def rate_limit(cls, retry_after: float | None = 1.0, message: str = "") -> Fault:
        """429 Too Many Requests, with a ``Retry-After`` header when ``retry_after`` is set."""
        return cls.status_code(429, message or "Rate limit reached", retry_after=retry_after)

    @classmethod
    def server_error(cls, status: int = 500, message: str = "") -> Fault:
        """A 5xx answer."""
        return cls.status_code(status, message or "The server had an error")

    @classmethod
    def disconnect(cls) -> Fault:
        """Close the connection without answering (the client sees a connection error)."""
        return cls("disconnect")

    @classmethod
    def cut(cls, after: int, *, mid_event: bool = True) -> Fault:
        """Drop the connection after ``after`` events of the turn, by default half-way through
        the next event; the chunked body is left unterminated, as when a proxy dies."""
        return cls("cut", after=after, mid_event=mid_event)

    @classmethod
    def stall(cls, after: int, seconds: float, *, close: bool = False) -> Fault:
        """Send nothing for ``seconds`` after ``after`` events, then go on (or close)."""
        return cls("stall", after=after, seconds=seconds, close=close)

    @classmethod
    def malformed(cls, after: int) -> Fault:
        """Insert one chunk that is not valid JSON after ``after`` events; the rest follows."""
        return cls("malformed", after=after)

    @classmethod
    def error_event(
        cls, after: int, message: str = "The model overloaded", *, close: bool = True
    ) -> Fault:
        """Send an error object (``data: {"error": {...}}``) after ``after`` events, then end
        the body without ``[DONE]`` (or, with ``close=False``, go on with the turn)."""
        return cls("error_event", after=after, message=message, close=close)


IdPlacement = Literal["opening", "after_arguments", "none"]


@dataclass(frozen=True)
class ScriptedCall:
    """One tool call of a scripted turn. ``arguments`` is sent as given when it is a string
    (so it may be invalid JSON on purpose), else JSON-encoded. ``id_placement`` says where the
    id goes: in the opening chunk (as api.openai.com does), in a chunk of its own after the
    last arguments fragment, or nowhere (as some OpenAI-compatible servers do)."""

    name: str
    arguments: Mapping[str, Any] | str = field(default_factory=dict)
    id: str | None = None
    id_placement: IdPlacement = "opening"

    @property
    def arguments_text(self) -> str:
        """The arguments as they go on the wire."""
        if isinstance(self.arguments, str):
            return self.arguments
        return json.dumps(self.arguments, ensure_ascii=False)


def call(
    name: str,
    arguments: Mapping[str, Any] | str | None = None,
    *,
    id: str | None = None,
    id_placement: IdPlacement = "opening",
) -> ScriptedCall:
    """Shorthand for ``ScriptedCall(name, arguments, id, id_placement)``."""
    return ScriptedCall(name, {} if arguments is None else arguments, id, id_placement)


@dataclass
class RecordedRequest:
    """A request the server received. ``body`` is the parsed JSON body (None if not JSON)."""

    method: str
    path: str
    headers: dict[str, str] = field(repr=False)
    body: Any
    raw: bytes = field(repr=False)
    received_at: float = field(default_factory=time.monotonic, repr=False)

    @property
    def messages(self) -> list[dict[str, Any]]:
        """The ``messages`` of the body ([] when absent)."""
        body = self.body if isinstance(self.body, dict) else {}
        messages = body.get("messages")
        return list(messages) if isinstance(messages, list) else []

    @property
    def tools(self) -> list[dict[str, Any]]:
        """The ``tools`` of the body ([] when absent)."""
        body = self.body if isinstance(self.body, dict) else {}
        tools = body.get("tools")
        return list(tools) if isinstance(tools, list) else []

    @property
    def model(self) -> str | None:
        """The ``model`` of the body."""
        return self.body.get("model") if isinstance(self.body, dict) else None

    @property
    def include_usage(self) -> bool:
        """Whether the request asked for a usage chunk (``stream_options.include_usage``)."""
        body = self.body if isinstance(self.body, dict) else {}
        options = body.get("stream_options")
        return isinstance(options, dict) and bool(options.get("include_usage"))


Check = Callable[[RecordedRequest], object]


@dataclass
class Turn:
    """One scripted assistant turn.

    ``text`` is sent in pieces of ``text_piece`` characters (about one token), then each tool
    call: a first chunk with id, type and name, then the arguments in fragments of 1 to
    ``args_piece`` characters (or all calls' fragments interleaved with ``interleave=True``).
    ``finish_reason`` defaults to ``"tool_calls"`` when there are calls, else ``"stop"``;
    ``usage`` defaults to token counts estimated from the text (a string is sent as the raw
    JSON text of the ``usage`` field, so it may be anything, even invalid). ``delay`` (seconds
    between writes), ``first_byte_delay`` and ``chunking`` override the server's defaults.
    ``expect`` checks the request: returning False or raising fails the request with a 400 and
    records the reason in ``server.errors``. ``done=False`` leaves out ``data: [DONE]``.
    """

    text: str | None = None
    tool_calls: Sequence[ScriptedCall] = ()
    reasoning: str | None = None
    finish_reason: str | None = "auto"
    usage: Mapping[str, Any] | str | None = None
    fault: Fault | None = None
    expect: Check | None = None
    delay: float | None = None
    first_byte_delay: float | None = None
    chunking: Chunking | None = None
    text_piece: int = 4
    args_piece: int = 6
    interleave: bool = False
    done: bool = True

    def __post_init__(self) -> None:
        if self.fault is not None and self.fault.before_body:
            raise ValueError(
                f"a {self.fault.kind!r} fault is a script entry of its own, not Turn(fault=...)"
            )


ScriptEntry = Turn | Fault
Responder = Callable[[RecordedRequest], ScriptEntry]


def turn_from_dict(data: Mapping[str, Any]) -> ScriptEntry:
    """Builds a script entry from JSON-like data (used by ``toolwire serve --script``).

    ``{"text": ..., "tool_calls": [{"name", "arguments", "id"?}], "finish_reason"?, "delay"?,
    "fault": {"kind": "cut", "after": 3}}``; an entry that is only ``{"fault": {...}}`` with a
    before-body kind (``status``, ``disconnect``) is a fault entry.
    """
    fault_data = data.get("fault")
    fault = Fault(**fault_data) if isinstance(fault_data, Mapping) else None
    if fault is not None and fault.before_body:
        return fault
    calls = [
        call(c["name"], c.get("arguments"), id=c.get("id")) for c in data.get("tool_calls", ())
    ]
    known = {
        "text",
        "reasoning",
        "finish_reason",
        "usage",
        "delay",
        "first_byte_delay",
        "chunking",
        "text_piece",
        "args_piece",
        "interleave",
        "done",
    }
    extra = {k: v for k, v in data.items() if k in known}
    return Turn(tool_calls=calls, fault=fault, **extra)


# -- rendering ---------------------------------------------------------------------------------


def _sse(payload: Mapping[str, Any] | str) -> bytes:
    text = (
        payload
        if isinstance(payload, str)
        else json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    )
    return b"data: " + text.encode() + b"\n\n"


def _estimate_tokens(text: str) -> int:
    return max(1, len(text) // 4)


def _pieces(text: str, size: int, rng: random.Random | None) -> Iterator[str]:
    i = 0
    while i < len(text):
        step = rng.randint(1, size) if rng is not None else size
        yield text[i : i + step]
        i += step


class _Renderer:
    """Turns a ``Turn`` into the list of SSE events of one response."""

    def __init__(
        self, turn: Turn, *, model: str, include_usage: bool, rng: random.Random, prompt_tokens: int
    ) -> None:
        self.turn = turn
        self.model = model
        self.include_usage = include_usage
        self.rng = rng
        self.prompt_tokens = prompt_tokens
        self.id = "chatcmpl-" + uuid.uuid4().hex[:24]
        self.created = int(time.time())

    def chunk(self, delta: Mapping[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": "fp_toolwire",
            "choices": [
                {"index": 0, "delta": dict(delta), "logprobs": None, "finish_reason": finish_reason}
            ],
        }
        if self.include_usage:
            out["usage"] = None
        return out

    def finish_reason(self) -> str | None:
        reason = self.turn.finish_reason
        if reason == "auto":
            return "tool_calls" if self.turn.tool_calls else "stop"
        return reason

    def usage(self) -> Any:
        if isinstance(self.turn.usage, str):
            try:
                return json.loads(self.turn.usage)
            except (ValueError, RecursionError):
                return self.turn.usage
        if self.turn.usage is not None:
            return dict(self.turn.usage)
        produced = (self.turn.text or "") + (self.turn.reasoning or "")
        produced += "".join(c.name + c.arguments_text for c in self.turn.tool_calls)
        completion = _estimate_tokens(produced)
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": completion,
            "total_tokens": self.prompt_tokens + completion,
        }

    def events(self) -> list[bytes]:
        turn = self.turn
        out = [_sse(self.chunk({"role": "assistant", "content": "", "refusal": None}))]
        for piece in _pieces(turn.reasoning or "", turn.text_piece, None):
            out.append(_sse(self.chunk({"reasoning_content": piece})))
        for piece in _pieces(turn.text or "", turn.text_piece, None):
            out.append(_sse(self.chunk({"content": piece})))
        per_call: list[list[bytes]] = []
        for index, c in enumerate(turn.tool_calls):
            call_id = c.id or "call_" + uuid.uuid4().hex[:24]
            opening: dict[str, Any] = {
                "index": index,
                "id": call_id,
                "type": "function",
                "function": {"name": c.name, "arguments": ""},
            }
            if c.id_placement != "opening":
                del opening["id"]
            events = [_sse(self.chunk({"tool_calls": [opening]}))]
            for frag in _pieces(c.arguments_text, turn.args_piece, self.rng):
                events.append(
                    _sse(
                        self.chunk(
                            {"tool_calls": [{"index": index, "function": {"arguments": frag}}]}
                        )
                    )
                )
            if c.id_placement == "after_arguments":
                events.append(_sse(self.chunk({"tool_calls": [{"index": index, "id": call_id}]})))
            per_call.append(events)
        if turn.interleave:
            longest = max((len(e) for e in per_call), default=0)
            for i in range(longest):
                out.extend(e[i] for e in per_call if i < len(e))
        else:
            for events in per_call:
                out.extend(events)
        reason = self.finish_reason()
        if reason is not None:
            out.append(_sse(self.chunk({}, reason)))
        if self.include_usage:
            head = {
                "id": self.id,
                "object": "chat.completion.chunk",
                "created": self.created,
                "model": self.model,
                "choices": [],
            }
            if isinstance(turn.usage, str):  # raw JSON text, spliced in as is
                text = json.dumps(head, ensure_ascii=False, separators=(",", ":"))
                out.append(_sse(f'{text[:-1]},"usage":{turn.usage}}}'))
            else:
                out.append(_sse({**head, "usage": self.usage()}))
        if turn.done:
            out.append(b"data: [DONE]\n\n")
        return out

    def completion(self) -> dict[str, Any]:
        """The non-streamed ``chat.completion`` object of the turn (for ``stream: false``)."""
        message: dict[str, Any] = {"role": "assistant", "content": self.turn.text, "refusal": None}
        if self.turn.tool_calls:
            message["tool_calls"] = [
                {
                    "id": c.id or "call_" + uuid.uuid4().hex[:24],
                    "type": "function",
                    "function": {"name": c.name, "arguments": c.arguments_text},
                }
                for c in self.turn.tool_calls
            ]
        return {
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "logprobs": None,
                    "finish_reason": self.finish_reason(),
                }
            ],
            "usage": self.usage(),
        }


def _error_body(
    message: str, type_: str, code: str | None = None, param: str | None = None
) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


# -- the server --------------------------------------------------------------------------------


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
        data = json.dumps(body).encode()
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
                404, _error_body(f"no route for GET {self.path}", "invalid_request_error")
            )

    def do_POST(self) -> None:
        scripted = self.server.scripted
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = None
        request = RecordedRequest(
            method="POST",
            path=self.path,
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            raw=raw,
        )
        scripted._record(request)
        if not self.path.split("?")[0].rstrip("/").endswith("/chat/completions"):
            self._send_json(
                404, _error_body(f"no route for POST {self.path}", "invalid_request_error")
            )
            return
        if (
            scripted.api_key is not None
            and request.headers.get("authorization") != f"Bearer {scripted.api_key}"
        ):
            self._send_json(
                401,
                _error_body(
                    "Incorrect API key provided.", "invalid_request_error", "invalid_api_key"
                ),
            )
            return
        if (
            not isinstance(body, dict)
            or not isinstance(body.get("messages"), list)
            or not body.get("model")
        ):
            self._send_json(
                400,
                _error_body(
                    "the body must be JSON with 'model' and 'messages'", "invalid_request_error"
                ),
            )
            return
        if "stream_options" in body and not scripted.accept_stream_options:
            self._send_json(
                400,
                _error_body(
                    "Unrecognized request argument supplied: stream_options",
                    "invalid_request_error",
                    param="stream_options",
                ),
            )
            return
        try:
            entry = scripted._next_entry(request)
        except Exception as exc:  # noqa: BLE001 - a responder bug must reach the test
            scripted._fail(f"responder failed on request #{len(scripted.requests)}: {exc!r}")
            self._send_json(
                500, _error_body(f"toolwire.testing: responder failed: {exc!r}", "server_error")
            )
            return
        if entry is None:
            scripted._fail(f"script exhausted: no entry left for request #{len(scripted.requests)}")
            self._send_json(500, _error_body("toolwire.testing: script exhausted", "server_error"))
            return
        if isinstance(entry, Fault):
            self._fault_before_body(entry)
            return
        problem = scripted._check(entry, request)
        if problem is not None:
            self._send_json(
                400,
                _error_body(
                    f"toolwire.testing: request check failed: {problem}", "invalid_request_error"
                ),
            )
            return
        try:
            self._play(entry, request)
        except _Abort:
            self.close_connection = True

    def _fault_before_body(self, fault: Fault) -> None:
        if fault.kind == "disconnect":
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        headers: dict[str, str] = {}
        if fault.retry_after is not None:
            headers["Retry-After"] = f"{fault.retry_after:g}"
        type_ = (
            "rate_limit_error"
            if fault.status == 429
            else "server_error"
            if fault.status >= 500
            else "invalid_request_error"
        )
        body = (
            fault.body
            if fault.body is not None
            else _error_body(fault.message or f"HTTP {fault.status}", type_)
        )
        self._send_json(fault.status, body, headers)

    def _play(self, turn: Turn, request: RecordedRequest) -> None:
        scripted = self.server.scripted
        rng = random.Random(scripted._seed_for(len(scripted.requests)))
        prompt_tokens = _estimate_tokens(json.dumps(request.messages))
        renderer = _Renderer(
            turn,
            model=str(request.model or scripted.model),
            include_usage=request.include_usage,
            rng=rng,
            prompt_tokens=prompt_tokens,
        )
        if not request.body.get("stream"):
            self._pause(
                turn.first_byte_delay
                if turn.first_byte_delay is not None
                else scripted.first_byte_delay
            )
            self._send_json(200, renderer.completion())
            return
        events = renderer.events()
        delay = turn.delay if turn.delay is not None else scripted.delay
        chunking = turn.chunking or scripted.chunking
        fault = turn.fault

        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("x-request-id", "req_" + uuid.uuid4().hex[:16])
        self.end_headers()
        self.wfile.flush()
        self._pause(
            turn.first_byte_delay
            if turn.first_byte_delay is not None
            else scripted.first_byte_delay
        )

        before, after = events, []
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
            self._write_chunk(
                b'data: {"id":"chatcmpl-broken","choices":[{"index":0,"delta":{"content":"oops"\n\n'
            )
        elif fault.kind == "error_event":
            error = _error_body(fault.message, "server_error", "overloaded")
            self._write_chunk(_sse(error))
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
    """An OpenAI-compatible chat-completions server that plays a script (see the module doc).

    ``script`` is a list of ``Turn`` / ``Fault`` entries (one per request, in order; with
    ``loop=True`` it starts over) or a callable that picks the entry from the request.
    ``delay`` is the pause between writes of a body, ``first_byte_delay`` the pause before the
    first one, ``chunking`` how bytes are grouped into writes: ``"event"`` (one write per
    event), ``"random"`` (cuts of 1-160 bytes, events split and joined) or ``"net"`` (cuts of
    512 B-4 KB, what a socket delivers from a fast server; for benchmarks).
    ``api_key``, when set, is required as a bearer token (401 otherwise). ``check`` runs on
    every request, like ``Turn.expect``. ``accept_stream_options=False`` rejects
    ``stream_options`` with a 400, as some OpenAI-compatible servers do.

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
        """The base URL to give a client, e.g. ``http://127.0.0.1:54321/v1``."""
        return f"http://{self._host}:{self.port}/v1"

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
