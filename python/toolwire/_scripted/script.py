"""The script a ``ScriptedServer`` plays: turns, tool calls, faults, and the requests it saw.

Nothing here knows a wire format: a ``Turn`` says what the model answers and each renderer
(``render_*.py``) says how one API would send it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from toolwire._dialects import dialect_for
from toolwire._scripted.routes import Api, gemini_model

FaultKind = Literal["status", "disconnect", "cut", "stall", "malformed", "error_event"]
Chunking = Literal["event", "random", "net"]


@dataclass(frozen=True)
class Fault:
    """A failure to inject. Build one with the class methods.

    Before the body (a script entry on its own): ``status`` (with ``rate_limit`` and
    ``server_error`` as shorthands) and ``disconnect``; the error body is the one of the API
    the request named (``body`` replaces it). Inside the body (``Turn(fault=...)``), placed
    after ``after`` events of the turn (SSE events, or NDJSON lines for Ollama): ``cut``,
    ``stall``, ``malformed``, ``error_event``. A negative ``after`` counts from the end
    (``-1``: just before the last event, chat's ``[DONE]``).
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
        """Answer with ``status`` and the API's JSON error body (OpenAI's, Anthropic's
        ``{"type": "error", ...}``, Gemini's ``{"error": {"code", "status"}}``, Ollama's
        ``{"error": "..."}``)."""
        return cls("status", status=status, retry_after=retry_after, body=body, message=message)

    @classmethod
    def rate_limit(cls, retry_after: float | None = 1.0, message: str = "") -> Fault:
        """429 Too Many Requests, with a ``Retry-After`` header when ``retry_after`` is set."""
        return cls.status_code(429, message or "Rate limit reached", retry_after=retry_after)

    @classmethod
    def server_error(cls, status: int = 500, message: str = "") -> Fault:
        """A 5xx answer (529 is Anthropic's ``overloaded_error``)."""
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
        """Insert one event (or line) that is not valid JSON after ``after`` events; the rest
        follows."""
        return cls("malformed", after=after)

    @classmethod
    def error_event(
        cls, after: int, message: str = "The model overloaded", *, close: bool = True
    ) -> Fault:
        """Send the API's in-stream error after ``after`` events, then end the body there
        (or, with ``close=False``, go on with the turn): chat ``data: {"error": {...}}``,
        Responses an ``error`` event, Anthropic ``event: error`` (``overloaded_error``),
        Gemini a chunk ``{"error": {"code", "message", "status"}}``, Ollama a line
        ``{"error": "..."}``."""
        return cls("error_event", after=after, message=message, close=close)


IdPlacement = Literal["opening", "after_arguments", "none"]


@dataclass(frozen=True)
class ScriptedCall:
    """One tool call of a scripted turn. ``arguments`` is sent as given when it is a string
    (so it may be invalid JSON on purpose), else JSON-encoded. ``id_placement`` says where the
    id goes: in the opening chunk (as api.openai.com does), in a chunk of its own after the
    last arguments fragment, or nowhere (as some OpenAI-compatible servers do). Only chat
    streams ids in pieces: Anthropic and Responses always open a call with its id (made up
    when ``id`` is None); Gemini and Ollama send ``id`` only when it is given and
    ``id_placement`` is not ``"none"``. Gemini and Ollama send arguments as an object: a string
    that is not JSON goes out as a JSON string, which the real APIs never send."""

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
    """A request the server received. ``body`` is the parsed JSON body (None if not JSON);
    ``api`` is the API its path named (None for a path no API serves)."""

    method: str
    path: str
    headers: dict[str, str] = field(repr=False)
    body: Any
    raw: bytes = field(repr=False)
    received_at: float = field(default_factory=time.monotonic, repr=False)
    api: Api | None = None

    @property
    def _fields(self) -> dict[str, Any]:
        return self.body if isinstance(self.body, dict) else {}

    @property
    def messages(self) -> list[dict[str, Any]]:
        """The conversation of the body in its API's own shape ([] when absent): ``messages``
        (chat, Anthropic, Ollama), ``input`` (Responses; a string is one user message) or
        ``contents`` (Gemini)."""
        key = {"responses": "input", "gemini": "contents"}.get(self.api or "", "messages")
        messages = self._fields.get(key)
        if isinstance(messages, str) and self.api == "responses":
            return [{"role": "user", "content": messages}]
        return list(messages) if isinstance(messages, list) else []

    @property
    def transcript(self) -> list[dict[str, Any]]:
        """The conversation in the canonical OpenAI-chat shape whatever the API (system, user,
        assistant with ``tool_calls``, ``tool`` messages): what a responder reads to decide the
        next turn. Calls of APIs without ids (Gemini, Ollama) get ``call_<n>`` in order."""
        return dialect_for(self.api or "chat").messages_of(self._fields)

    @property
    def tools(self) -> list[dict[str, Any]]:
        """The ``tools`` of the body, in its API's own shape ([] when absent)."""
        tools = self._fields.get("tools")
        return list(tools) if isinstance(tools, list) else []

    @property
    def model(self) -> str | None:
        """The ``model`` of the body (for Gemini, the model named in the path)."""
        if self.api == "gemini":
            return gemini_model(self.path)
        model: str | None = self._fields.get("model")
        return model

    @property
    def include_usage(self) -> bool:
        """Whether the answer will carry usage: for chat, whether the request asked for a usage
        chunk (``stream_options.include_usage``); the other APIs always send it."""
        if self.api not in (None, "chat"):
            return True
        options = self._fields.get("stream_options")
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

    The same turn is rendered for every API (see the ``render_*`` modules): ``reasoning`` is
    chat's ``reasoning_content``, a Responses reasoning summary, an Anthropic thinking block,
    Gemini ``thought`` parts, Ollama ``thinking``. ``finish_reason`` is given in chat's words
    (``stop``, ``tool_calls``, ``length``, ``content_filter``) and translated; any other word
    is sent as is. A mapping ``usage`` with chat's keys (``prompt_tokens``,
    ``completion_tokens``) gives the counts every API reports in its own keys; another mapping
    is that API's own usage object, sent as is. ``done=False`` leaves out the API's end marker
    (Anthropic ``message_stop``, the Responses terminal event, Ollama's ``done`` line; Gemini
    has none). ``interleave`` is chat's only: the other APIs send calls one after the other.
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
