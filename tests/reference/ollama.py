"""Reference Ollama accumulator (native ``/api/chat``, NDJSON): json.loads per line.

The oracle the Rust Ollama adapter is held to. It has the public surface of
``ReferenceAccumulator`` (chat.py), reuses its limits, text/arguments/Ready and finishing code
(it subclasses it) and emits the same event tuples (``chat.EVENT_SHAPES``), with choice always
0. Where Ollama's docs are silent it reads the stream as ollama-python's client does
(``json.loads`` per line, an ``error`` key raises). The rules, numbered so that they can become a
docs/semantics.md section (docs/drafts/ollama.md states them):

O1. Framing is NDJSON, not SSE (``reference/ndjson.py``): a line ends at LF (a CR before it is
    JSON whitespace, so CRLF works); one leading UTF-8 BOM is dropped; a line of JSON whitespace
    only (space, tab, CR) is ignored. A line longer than ``max_line_bytes`` (its bytes before
    the LF, a CR included) raises ``LimitExceeded`` and is skipped without being buffered;
    ``max_event_bytes`` plays no part. At ``finish()`` an unterminated last line is read like
    any line, except that a line cut inside its JSON value (a valid prefix of one) or inside a
    UTF-8 character is dropped silently: the stream was cut.
O2. A line that is not valid UTF-8 raises ``ParseError`` "invalid utf-8" at its first bad byte; a
    line that is not one JSON object raises ``ParseError`` "invalid chunk" at the line's first
    byte (stream offsets, the BOM counted). Either way the line is skipped and reading goes on.
    A line is invalid the same way when a known field has the wrong JSON type or is given twice
    in its object: ``message`` (object: ``content``, ``thinking``, ``tool_calls``),
    ``tool_calls`` (list), a tool call (object: ``id``, ``function``), ``function`` (object:
    ``index``, ``name``, ``arguments``), and the line's own ``message``, ``done``,
    ``done_reason``, ``error`` and usage keys (O6); null counts as absent. Other string fields
    holding another type count as absent; ``done`` is true only as the JSON ``true``.
O3. A line with a non-null ``error`` is a ``ProviderError`` (chat's mapping: a string ``error`` is
    the message; an object gives ``message``/``type``/``code``); ``acc.error`` is set and
    reading goes on.
O4. Order inside a line: ``message.thinking`` (a non-empty string: ``ReasoningDelta``), then
    ``message.content`` (``TextDelta``), then ``message.tool_calls`` in list order; then, on the
    ``done`` line, usage (O6) and the finish reason (O7). Text counts against
    ``max_content_bytes`` as in chat. ``role``, ``images``, ``model``, ``created_at``,
    ``logprobs`` and unknown fields are ignored.
O5. Each tool call is whole: a new call (ordinal = the calls so far) that gets
    ``ToolCallStarted`` (``id`` = its ``id`` when a non-empty string, else ``call_<ordinal>``;
    ``name`` = ``function.name`` when a string), then, when ``function.arguments`` is not null,
    one ``ToolCallDelta`` with the arguments text and ``ToolCallReady`` when it is complete
    JSON, then ``ToolCallFinished``. The arguments text of an object (or array, number, bool) is
    its compact JSON, of a string the string itself (it may be malformed); without arguments the
    call finishes as ``"{}"`` with no Delta and no Ready. Calls are listed in arrival order
    (``function.index`` is kept in the native message only). ``max_tool_calls``,
    ``max_arguments_bytes`` and ``max_depth`` as in chat.
O6. The line with ``"done": true`` is the end marker (``acc.done``). Its ``prompt_eval_count``,
    ``eval_count``, ``total_duration``, ``load_duration``, ``prompt_eval_duration`` and
    ``eval_duration`` keys that are present, in the line's order with their values as sent,
    form ``acc.usage`` and emit ``Usage`` (none present: no usage). ``token_usage``: input =
    ``prompt_eval_count``, output = ``eval_count``, total = their sum.
O7. The done line's ``done_reason`` (a non-empty string) is the finish reason as sent (``stop``,
    ``length``, ``load``, ``unload``, ...) and emits ``Finish``; without one (old servers) there
    is no finish reason and no ``Finish``, and the end is a normal one (outcome ``stop`` or
    ``tool_calls``), as ``[DONE]`` without a finish reason is in chat. Every line after the done
    line is ignored (not even decoded).
O8. ``truncated`` (after ``finish()``) = no done line was read; ``finish()`` finishes any call
    still open (none: calls are whole).
O9. ``message()`` is chat's OpenAI-shaped message. ``message(native=True)`` is Ollama's own
    assistant message: ``{"role": "assistant", "content": the text ("" when none)}``, plus
    ``"thinking"`` when non-empty and ``"tool_calls"``: every tool call object as sent (``id``,
    ``function.index`` and ``arguments`` as they came; calls past ``max_tool_calls`` too), when
    there is one. Made-up ids are not added.
"""

from __future__ import annotations

import copy
from typing import Any

from . import partial_json
from .chat import (
    _JSON_WS,
    ReferenceAccumulator,
    _Choice,
    _depth,
    _DuplicateKeys,
    _loads,
)
from .errors import RefLimitExceeded, RefParseError
from .gemini import _compact
from .ndjson import NDJSONLine, NDJSONSplitter

__all__ = ["USAGE_FIELDS", "ReferenceOllamaAccumulator"]

USAGE_FIELDS = (
    "prompt_eval_count",
    "eval_count",
    "total_duration",
    "load_duration",
    "prompt_eval_duration",
    "eval_duration",
)

_KNOWN = {
    "line": frozenset({"message", "done", "done_reason", "error", *USAGE_FIELDS}),
    "message": frozenset({"content", "thinking", "tool_calls"}),
    "tool_call": frozenset({"id", "function"}),
    "function": frozenset({"index", "name", "arguments"}),
}


class ReferenceOllamaAccumulator(ReferenceAccumulator):
    """Pure-Python twin of ``toolwire.StreamAccumulator(format="ollama")``."""

    FORMAT = "ollama"
    NORMAL_END = frozenset({"stop", None})
    LENGTH = frozenset({"length"})
    CONTENT_FILTER: frozenset[str] = frozenset()
    USAGE_KEYS = (("prompt_eval_count",), ("eval_count",), None)

    def __init__(self, **limits: Any) -> None:
        super().__init__(**limits)
        self._lines = NDJSONSplitter(max_line_bytes=self._sse.max_line_bytes)
        self._state = self._choices[0] = _Choice(0)
        self._native_calls: list[dict[str, Any]] = []

    # -- public API -------------------------------------------------------------------------
    def feed(self, data: bytes | bytearray | str) -> list[tuple[Any, ...]]:
        if self._finished:
            raise RuntimeError("feed() after finish()")
        if isinstance(data, str):
            data = data.encode("utf-8")
        for item in self._lines.decode(bytes(data)):
            self._handle_line(item)
        return self._end_read()

    def finish(self) -> list[tuple[Any, ...]]:
        if self._finished:
            return []
        self._finished = True
        for item in self._lines.decode(b"", final=True):
            self._handle_line(item)
        self._finish_calls(self._state)
        self._truncated = not self._done
        return self._end_read()

    def message(self, choice: int = 0, *, native: bool = False) -> dict[str, Any]:
        if not native:
            return super().message(choice)
        if choice:
            return {"role": "assistant", "content": ""}
        msg: dict[str, Any] = {"role": "assistant", "content": "".join(self._state.content)}
        thinking = "".join(self._state.reasoning)
        if thinking:
            msg["thinking"] = thinking
        if self._native_calls:
            msg["tool_calls"] = copy.deepcopy(self._native_calls)
        return msg

    @property
    def choices(self) -> list[int]:
        return [0]

    # -- lines (O1-O3) ---------------------------------------------------------------------------
    def _handle_line(self, item: NDJSONLine | Exception) -> None:
        if isinstance(item, Exception):
            self._errors.append(item)
            return
        if self._done:
            return  # O7: nothing after the done line is read
        try:
            text = item.data.decode("utf-8")
        except UnicodeDecodeError as exc:
            if not (item.final and exc.reason == "unexpected end of data"):
                self._errors.append(RefParseError("invalid utf-8", item.offset + exc.start))
            return  # O1: a last line cut inside a character is dropped
        if not text.strip(_JSON_WS):
            return
        try:
            obj = _loads(text)
            parsed = True
        except ValueError:
            obj, parsed = None, False
        if not isinstance(obj, dict) or not _valid_line(obj):
            if item.final and not parsed and partial_json.classify(text) == "incomplete":
                return  # O1: the last line was cut inside its JSON value
            self._errors.append(RefParseError("invalid chunk", item.offset))
            return
        if obj.get("error") is not None:
            self._provider_error(obj, text.strip(_JSON_WS))
            return
        self._line(obj)

    def _line(self, obj: dict[str, Any]) -> None:
        state = self._state
        message = obj.get("message") or {}
        pieces = (("reasoning", message.get("thinking")), ("content", message.get("content")))
        for kind, value in pieces:
            if not isinstance(value, str) or not value or not self._fits(state, kind, value):
                continue
            if kind == "reasoning":
                state.reasoning.append(value)
                self._emit("ReasoningDelta", 0, value)
            else:
                state.content.append(value)
                self._emit("TextDelta", 0, value)
        for tool_call in message.get("tool_calls") or []:
            self._tool_call(tool_call)
        if obj.get("done") is not True:
            return
        self._done = True
        usage = {k: v for k, v in obj.items() if k in USAGE_FIELDS}
        if usage:
            if _depth(usage) > self.max_depth:
                self._errors.append(RefLimitExceeded("max_depth", _depth(usage), self.max_depth))
            else:
                self._usage = usage
                self._emit("Usage", usage)
        reason = obj.get("done_reason")
        if isinstance(reason, str) and reason:
            state.finish_reason = reason
            self._emit("Finish", 0, reason)
        self._finish_calls(state)

    def _tool_call(self, tool_call: dict[str, Any]) -> None:
        self._native_calls.append(tool_call)
        call = self._new_call(self._state, None, legacy=False)
        if call is None:
            return
        function = tool_call.get("function") or {}
        id_ = tool_call.get("id")
        call.id = id_ if isinstance(id_, str) and id_ else f"call_{call.ordinal}"
        call.type = "function"
        if isinstance(function.get("name"), str):
            call.name = function["name"]
        self._emit("ToolCallStarted", call)
        arguments = function.get("arguments")
        if arguments is not None:
            self._arguments(call, arguments if isinstance(arguments, str) else _compact(arguments))
        self._finish_calls(_Choice(0, calls=[call]))


def _ok(obj: Any, level: str) -> bool:
    if not isinstance(obj, dict):
        return False
    return not (isinstance(obj, _DuplicateKeys) and obj.duplicates & _KNOWN[level])


def _valid_line(line: dict[str, Any]) -> bool:
    """O2: known fields of the wrong JSON type (or given twice) make the line invalid."""
    if not _ok(line, "line"):
        return False
    message = line.get("message")
    if message is None:
        return True
    if not _ok(message, "message"):
        return False
    tool_calls = message.get("tool_calls")
    if tool_calls is None:
        return True
    if not isinstance(tool_calls, list):
        return False
    for tool_call in tool_calls:
        if not _ok(tool_call, "tool_call"):
            return False
        function = tool_call.get("function")
        if function is not None and not _ok(function, "function"):
            return False
    return True
