"""What every renderer shares: the renderer interface, encoding helpers, and the turn's facts
(finish word, token counts) before each API puts them in its own words."""

from __future__ import annotations

import abc
import base64
import hashlib
import json
import random
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from toolwire._scripted.script import ScriptedCall, Turn

SSE = "text/event-stream; charset=utf-8"

# A raw usage string (Turn.usage as text) may be invalid JSON on purpose, so it cannot go
# through json.dumps: the object is encoded with this placeholder, then the text replaces it.
RAW = "\x00toolwire:raw-usage\x00"


@dataclass(frozen=True)
class RenderContext:
    """What a renderer needs from the request and the server."""

    model: str
    include_usage: bool
    rng: random.Random
    prompt_tokens: int
    sse: bool = True  # Gemini only: False is streamGenerateContent without alt=sse (an array)


class Renderer(abc.ABC):
    """Turns one ``Turn`` into the body of one answer of an API."""

    content_type = SSE

    def __init__(self, turn: Turn, ctx: RenderContext) -> None:
        self.turn = turn
        self.ctx = ctx
        # The call ids this answer gives out: the Responses validator accepts a
        # function_call_output for them in later requests (previous_response_id).
        self.call_ids: list[str] = []

    @abc.abstractmethod
    def events(self) -> list[bytes]:
        """The streamed body, one entry per event (what faults count)."""

    @abc.abstractmethod
    def whole(self) -> bytes:
        """The JSON body of the answer when the request did not ask for a stream."""

    @abc.abstractmethod
    def malformed(self) -> bytes:
        """One event whose JSON is broken (``Fault.malformed``)."""

    @abc.abstractmethod
    def error_event(self, message: str, position: int) -> bytes:
        """The API's in-stream error (``Fault.error_event``), sent as event ``position``."""


def compact(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def with_raw(text: str, raw: str | None) -> str:
    """``text`` (JSON that may hold ``RAW``) with the raw usage text spliced in."""
    return text if raw is None else text.replace(json.dumps(RAW), raw)


def json_body(obj: Any, raw: str | None) -> bytes:
    """A whole (not streamed) JSON answer, with a raw usage string spliced in."""
    return with_raw(json.dumps(obj, ensure_ascii=False), raw).encode()


def sse(
    payload: Mapping[str, Any] | str,
    event: str | None = None,
    *,
    end: str = "\n\n",
    raw: str | None = None,
) -> bytes:
    data = payload if isinstance(payload, str) else with_raw(compact(payload), raw)
    head = f"event: {event}\n" if event is not None else ""
    return f"{head}data: {data}{end}".encode()


def pieces(text: str, size: int, rng: random.Random | None) -> Iterator[str]:
    """``text`` in pieces of ``size`` characters, or of 1 to ``size`` drawn from ``rng``."""
    i = 0
    while i < len(text):
        step = rng.randint(1, size) if rng is not None else size
        yield text[i : i + step]
        i += step


def estimate_tokens(text: str) -> int:
    return max(1, len(text) // 4)


def new_id(prefix: str, length: int = 24) -> str:
    return prefix + uuid.uuid4().hex[:length]


def signature(seed: str) -> str:
    """An opaque reasoning signature (Anthropic's ``signature``, Gemini's
    ``thoughtSignature``): base64 that a client must send back untouched."""
    digest = hashlib.sha256(seed.encode()).digest()
    return base64.b64encode(digest * 6).decode()


def finish_word(turn: Turn) -> str | None:
    """The turn's finish reason in chat's words (``"auto"`` resolved)."""
    reason = turn.finish_reason
    if reason == "auto":
        return "tool_calls" if turn.tool_calls else "stop"
    return reason


def arguments_value(c: ScriptedCall) -> Any:
    """The arguments as an object, for the APIs that send whole calls (Gemini, Ollama)."""
    if not isinstance(c.arguments, str):
        return dict(c.arguments)
    try:
        return json.loads(c.arguments)
    except (ValueError, RecursionError):
        return c.arguments


# What marks a usage mapping as chat's (total_tokens alone does not: Responses has it too).
_CHAT_USAGE_KEYS = ("prompt_tokens", "completion_tokens")


@dataclass(frozen=True)
class Counts:
    """Token counts of a turn, before each API names them."""

    input: int
    output: int  # reasoning included, as every API but Gemini counts it
    reasoning: int


def counts(turn: Turn, prompt_tokens: int) -> Counts:
    """The counts a chat-shaped ``Turn.usage`` gives, else estimated from the turn."""
    produced = (turn.text or "") + (turn.reasoning or "")
    produced += "".join(c.name + c.arguments_text for c in turn.tool_calls)
    reasoning = estimate_tokens(turn.reasoning) if turn.reasoning else 0
    given = turn.usage if isinstance(turn.usage, Mapping) else {}
    if any(key in given for key in _CHAT_USAGE_KEYS):
        prompt = _count(given.get("prompt_tokens"))
        output = _count(given.get("completion_tokens"))
        return Counts(prompt, output, min(reasoning, output))
    return Counts(prompt_tokens, estimate_tokens(produced), reasoning)


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def native_usage(turn: Turn) -> dict[str, Any] | None:
    """A ``Turn.usage`` mapping in the API's own keys (not chat's), sent as is."""
    if isinstance(turn.usage, Mapping) and not any(k in turn.usage for k in _CHAT_USAGE_KEYS):
        return dict(turn.usage)
    return None


def raw_usage(turn: Turn) -> str | None:
    """A ``Turn.usage`` string: the raw JSON text of the usage field."""
    return turn.usage if isinstance(turn.usage, str) else None


def usage_value(turn: Turn, built: dict[str, Any]) -> Any:
    """What goes in the API's usage field: ``RAW`` for a raw string (spliced in by ``sse``),
    the API's own mapping as given, else ``built`` from the counts."""
    if isinstance(turn.usage, str):
        return RAW
    native = native_usage(turn)
    return built if native is None else native
