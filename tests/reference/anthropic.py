"""Reference Anthropic Messages accumulator: json.loads per SSE event + plain dict/list state.

The oracle the Rust Anthropic adapter will be tested against (issue 10). It has the public
surface of ``ReferenceAccumulator`` (chat.py), reuses its SSE decoding, merge, limit, Ready and
finishing code (it subclasses it), and emits the same event tuples (``chat.EVENT_SHAPES``), with
choice always 0. Where the issue is silent it does what the official SDK's accumulator
(``anthropic.lib.streaming._messages.accumulate_event``) does. The rules, numbered so that they
can become a docs/semantics.md section:

A1. Framing is SSE (semantics section 1, unchanged). Each dispatched event with non-blank data
    must carry a JSON object, else ``ParseError`` "invalid chunk" at the event's first data byte
    (the read goes on), except: an ``error`` event whose data is not an object is a
    ``ProviderError`` with the text as message; and at ``finish()`` a last event cut inside its
    JSON value is dropped silently (the stream was cut, section 5 of the chat rules).
A2. The event kind is the data's ``type`` when it is a string (the SDK dispatches on it), else the
    SSE ``event:`` name. ``ping`` and unknown kinds are ignored (forward compatible); so are
    unknown block types' deltas and delta types that do not fit their block (``text_delta`` on a
    ``tool_use`` block...). After ``message_stop`` every event is ignored.
A3. ``message_start``: its ``message.usage`` object (when an object) becomes ``acc.usage`` and
    emits ``Usage``; a repeated ``message_start`` is ignored. Blocks already inside
    ``message.content`` (whole turns, e.g. programmatic tool calls) are blocks 0..n-1, each
    started and stopped at once (rules A5-A8). A non-null ``message.stop_reason`` is taken as in
    A9.
A4. Blocks are keyed by ``content_block_*``'s ``index`` (an integer in 0..2**32; missing or of
    another type makes the event an invalid chunk, ``ParseError``). A start for an index already
    taken is read as a start at the count of blocks so far (what the SDK's positional list does;
    one recorded stream repeats the index of the block before and sends the deltas and stop at
    the next one); if that is taken too, the start is ignored. A delta or stop for an index
    never started or already stopped is ignored.
A5. ``text`` block: its start's non-empty ``text`` then each ``text_delta.text`` is a
    ``TextDelta``; ``citations_delta.citation`` is appended to the block's ``citations`` (native
    message only). ``thinking`` block: start ``thinking`` and each ``thinking_delta.thinking`` is
    a ``ReasoningDelta``; ``signature_delta.signature`` replaces the block's signature (last wins,
    as the SDK). ``redacted_thinking`` and every other block type (web_search_tool_result, ...)
    are kept as their start carried them. ``compaction_delta`` replaces a ``compaction`` block's
    ``content`` (and ``encrypted_content`` when given), as the SDK's beta accumulator does. Text
    and reasoning count against ``max_content_bytes`` as in chat (content, reasoning).
A6. Client tool calls are ``tool_use`` blocks only: ``ToolCallStarted`` at the block's start with
    its ``id`` and ``name``. The event ``index`` (and ``tool_calls[i]["index"]``) is the call's
    ordinal among the client calls (0, 1, ...), like chat; calls are listed in block order.
    ``server_tool_use`` and ``mcp_tool_use`` blocks run on the provider's side: they assemble
    their input the same way but emit no events and are not in ``tool_calls`` / ``message()``,
    only in ``message(native=True)`` (``server_tools_as_calls=True`` makes ``server_tool_use``
    and ``mcp_tool_use`` client calls too).
A7. Arguments: ``input_json_delta.partial_json`` fragments are concatenated exactly; an empty
    fragment (the first one often is) emits nothing. The start's ``input`` counts only when no
    non-empty fragment arrived by the block's stop: then a non-empty object is the arguments,
    sent at stop as its compact JSON (``ToolCallDelta`` + ``ToolCallReady``), and an empty or
    missing one finishes as ``"{}"`` (no Delta, no Ready). So ``"input": {}`` + fragments never
    reads ``{}{"city"...``. Compact JSON is ``json.dumps(separators=(",", ":"),
    ensure_ascii=False)``; the Rust core keeps tokens as sent (floats and escapes may differ).
    ``ToolCallReady`` when the text closes as a complete JSON value (chat rule), the limits
    ``max_arguments_bytes``/``max_depth``/``max_tool_calls`` as in chat.
A8. ``ToolCallFinished`` at the block's ``content_block_stop`` (``error_kind`` ``incomplete`` /
    ``malformed`` / ``max_depth`` as in chat, ``None`` with ``parsed`` when the text parses), or,
    for blocks never stopped, at ``message_stop`` or at ``finish()``.
A9. ``message_delta``: its ``usage`` object is merged into ``acc.usage`` (keys with a non-null
    value overwrite, the others keep message_start's value: the counts are cumulative, as the
    SDK does) and emits ``Usage`` with the merged dict; then the first non-null ``stop_reason``
    (from message_start or a message_delta) becomes ``finish_reason`` as sent (``end_turn``,
    ``tool_use``, ``max_tokens``, ``pause_turn``, ...) and emits ``Finish`` once.
A10. ``message_stop``: ``done``; every unstopped block is finished. ``error`` (event or type):
    ``ProviderError`` with ``message`` = ``error.message`` (else the data text), ``type`` =
    ``error.type``, ``code`` = ``error.code`` (absent: None), ``body`` = the object; reading goes
    on. ``truncated`` (after ``finish()``) = no ``message_stop`` was read.
A11. ``message()`` is chat's OpenAI-shaped message: ``content`` = the text blocks' text joined in
    order (None when empty), ``reasoning_content`` = the thinking text, ``tool_calls`` = client
    calls (``type`` "function"). ``message(native=True)`` = ``{"role": "assistant", "content":
    [blocks in index order]}``, each block its start object with the accumulated text /
    thinking + signature / citations / compaction, and for tool-input blocks ``input`` = the
    parsed arguments (a value still incomplete: its partial value; malformed: the start's
    input). Empty text blocks are kept as sent. ``choices`` is always ``[0]``; the message's
    ``id`` and ``model`` (from message_start) are ``acc.message_id`` / ``acc.model``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from . import partial_json
from .chat import (
    _JSON_WS,
    ReferenceAccumulator,
    _Call,
    _Choice,
    _depth,
    _index,
    _loads,
)
from .errors import RefLimitExceeded, RefParseError
from .sse import SSEEvent

__all__ = ["ReferenceAnthropicAccumulator"]

_TOOL_INPUT_BLOCKS = frozenset({"tool_use", "server_tool_use", "mcp_tool_use"})


@dataclass
class _Block:
    index: int
    type: str
    start: dict[str, Any]
    pieces: list[str] = field(default_factory=list)  # text / thinking
    signature: str | None = None
    citations: list[Any] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)  # compaction fields
    call: _Call | None = None  # every tool-input block (client or not) that got a call
    client: bool = False
    fragmented: bool = False  # a non-empty partial_json arrived
    stopped: bool = False


class ReferenceAnthropicAccumulator(ReferenceAccumulator):
    """Pure-Python twin of ``toolwire.StreamAccumulator(format="anthropic")``."""

    FORMAT = "anthropic"
    NORMAL_END = frozenset({"end_turn", "stop_sequence", "tool_use"})
    LENGTH = frozenset({"max_tokens", "model_context_window_exceeded"})
    CONTENT_FILTER = frozenset({"refusal"})
    USAGE_KEYS = (
        ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"),
        ("output_tokens",),
        None,
    )

    def __init__(self, *, server_tools_as_calls: bool = False, **limits: Any) -> None:
        super().__init__(**limits)
        self._client_types = (
            _TOOL_INPUT_BLOCKS if server_tools_as_calls else frozenset({"tool_use"})
        )
        self._state = self._choices[0] = _Choice(0)
        self._blocks: dict[int, _Block] = {}
        self._started = False
        self._muted = False
        self.message_id: str | None = None
        self.model: str | None = None

    # -- public API -------------------------------------------------------------------------
    def finish(self) -> list[tuple[Any, ...]]:
        if self._finished:
            return []
        self._finished = True
        for item in self._sse.decode(b"", final=True):
            self._handle(item, final=True)
        self._stop_all()
        self._truncated = not self._done
        return self._end_read()

    def message(self, choice: int = 0, *, native: bool = False) -> dict[str, Any]:
        if not native:
            return super().message(choice)
        blocks = [] if choice else [self._native(self._blocks[i]) for i in sorted(self._blocks)]
        return {"role": "assistant", "content": blocks}

    @property
    def choices(self) -> list[int]:
        return [0]

    # -- events --------------------------------------------------------------------------------
    def _emit(self, *entry: Any) -> None:
        if not self._muted:
            super()._emit(*entry)

    def _handle(self, item: SSEEvent | Exception, final: bool) -> None:
        if isinstance(item, Exception):
            self._errors.append(item)
            return
        if self._done:
            return
        data = item.data
        stripped = data.strip(_JSON_WS)
        if not stripped:
            return
        try:
            obj = _loads(data)
            parsed = True
        except ValueError:
            obj, parsed = None, False
        if not isinstance(obj, dict):
            if item.event == "error":
                self._set_error(stripped, None, None, obj)
            elif not (final and not parsed and partial_json.classify(data) == "incomplete"):
                self._errors.append(RefParseError("invalid chunk", item.data_offset))
            return
        kind = obj.get("type")
        if not isinstance(kind, str):
            kind = item.event
        if kind in ("content_block_start", "content_block_delta", "content_block_stop"):
            index = _index(obj.get("index"))
            if index is None:
                self._errors.append(RefParseError("invalid chunk", item.data_offset))
                return
            if kind == "content_block_start":
                block = obj.get("content_block")
                self._start_block(index, block if isinstance(block, dict) else {})
            elif kind == "content_block_delta":
                delta = obj.get("delta")
                if isinstance(delta, dict):
                    self._delta(index, delta)
            else:
                block = self._blocks.get(index)
                if block is not None:
                    self._stop_block(block)
        elif kind == "message_start":
            self._message_start(obj.get("message"))
        elif kind == "message_delta":
            usage = obj.get("usage")
            if isinstance(usage, dict):
                self._merge_usage(usage)
            delta = obj.get("delta")
            if isinstance(delta, dict):
                self._stop_reason(delta.get("stop_reason"))
        elif kind == "message_stop":
            self._done = True
            self._stop_all()
        elif kind == "error":
            self._provider_error(obj, stripped)
        # "ping" and unknown kinds: ignored

    def _message_start(self, message: Any) -> None:
        if self._started or not isinstance(message, dict):
            return
        self._started = True
        if isinstance(message.get("id"), str):
            self.message_id = message["id"]
        if isinstance(message.get("model"), str):
            self.model = message["model"]
        usage = message.get("usage")
        if isinstance(usage, dict):
            self._merge_usage(usage)
        content = message.get("content")
        if isinstance(content, list):
            for i, block in enumerate(content):
                if isinstance(block, dict) and i not in self._blocks:
                    self._start_block(i, block)
                    self._stop_block(self._blocks[i])
        self._stop_reason(message.get("stop_reason"))

    def _merge_usage(self, usage: dict[str, Any]) -> None:
        if _depth(usage) > self.max_depth:
            self._errors.append(RefLimitExceeded("max_depth", _depth(usage), self.max_depth))
            return
        merged = dict(self._usage or {})
        merged.update({k: v for k, v in usage.items() if v is not None})
        self._usage = merged
        self._emit("Usage", dict(merged))

    def _stop_reason(self, reason: Any) -> None:
        if isinstance(reason, str) and reason and self._state.finish_reason is None:
            self._state.finish_reason = reason
            self._emit("Finish", 0, reason)

    # -- blocks ------------------------------------------------------------------------------
    def _start_block(self, index: int, start: dict[str, Any]) -> None:
        if index in self._blocks:
            index = len(self._blocks)  # A4: the SDK's positional list
            if index in self._blocks:
                return
        kind = start.get("type")
        kind = kind if isinstance(kind, str) else ""
        block = self._blocks[index] = _Block(index, kind, start)
        if kind == "text":
            self._text(block, start.get("text"), "content")
        elif kind == "thinking":
            self._text(block, start.get("thinking"), "reasoning")
            if isinstance(start.get("signature"), str):
                block.signature = start["signature"]
        elif kind in _TOOL_INPUT_BLOCKS:
            block.client = kind in self._client_types
            if block.client:
                call = self._new_call(self._state, index, legacy=False)
            else:
                call = _Call(0, -1, index)
            if call is None:
                return  # past max_tool_calls: kept in the native message only
            call.type = "function"
            self._set_once(call, start.get("id"), None, start)
            block.call = call
            if block.client:
                self._emit("ToolCallStarted", call)

    def _text(self, block: _Block, text: Any, field_name: str) -> None:
        if not isinstance(text, str) or not text or not self._fits(self._state, field_name, text):
            return
        block.pieces.append(text)
        if field_name == "content":
            self._state.content.append(text)
            self._emit("TextDelta", 0, text)
        else:
            self._state.reasoning.append(text)
            self._emit("ReasoningDelta", 0, text)

    def _delta(self, index: int, delta: dict[str, Any]) -> None:
        block = self._blocks.get(index)
        if block is None or block.stopped:
            return
        kind = delta.get("type")
        if kind == "text_delta" and block.type == "text":
            self._text(block, delta.get("text"), "content")
        elif kind == "thinking_delta" and block.type == "thinking":
            self._text(block, delta.get("thinking"), "reasoning")
        elif kind == "signature_delta" and block.type == "thinking":
            if isinstance(delta.get("signature"), str):
                block.signature = delta["signature"]
        elif kind == "citations_delta" and block.type == "text":
            if "citation" in delta:
                block.citations.append(delta["citation"])
        elif kind == "compaction_delta" and block.type == "compaction":
            for key in ("content", "encrypted_content"):
                if key in delta:
                    block.extra[key] = delta[key]
        elif kind == "input_json_delta" and block.call is not None:
            fragment = delta.get("partial_json")
            if isinstance(fragment, str) and fragment:
                block.fragmented = True
                self._with_events(block, self._arguments, block.call, fragment)

    def _stop_block(self, block: _Block) -> None:
        if block.stopped:
            return
        block.stopped = True
        call = block.call
        if call is None or call.finished:
            return
        if not block.fragmented:
            start_input = block.start.get("input")
            if isinstance(start_input, dict) and start_input:
                self._with_events(block, self._arguments, call, start_input)
        self._with_events(block, self._finish_calls, _Choice(0, calls=[call]))

    def _stop_all(self) -> None:
        for index in sorted(self._blocks):
            self._stop_block(self._blocks[index])

    def _with_events(self, block: _Block, fn: Any, *args: Any) -> None:
        """Run ``fn`` with events muted for blocks that are not client calls."""
        self._muted = not block.client
        try:
            fn(*args)
        finally:
            self._muted = False

    # -- native message ------------------------------------------------------------------------
    def _native(self, block: _Block) -> dict[str, Any]:
        out = copy.deepcopy(block.start)
        if block.type == "text":
            out["text"] = "".join(block.pieces)
            if block.citations:
                out["citations"] = list(out.get("citations") or []) + copy.deepcopy(block.citations)
        elif block.type == "thinking":
            out["thinking"] = "".join(block.pieces)
            if block.signature is not None:
                out["signature"] = block.signature
        elif block.type == "compaction":
            out.update(copy.deepcopy(block.extra))
        elif block.type in _TOOL_INPUT_BLOCKS:
            out["input"] = _native_input(block)
        return out


def _native_input(block: _Block) -> Any:
    start_input = block.start.get("input")
    fallback = copy.deepcopy(start_input) if isinstance(start_input, dict) else {}
    call = block.call
    if call is None or not block.fragmented:
        return fallback
    if call.finished and call.error_kind is None:
        return call.parsed
    text = call.text
    if partial_json.classify(text) == "malformed":
        return fallback
    try:
        value = partial_json.parse_partial(text)
    except ValueError:
        return fallback
    return value if value is not None else fallback
