"""Reference chat-completions accumulator: json.loads per chunk + dict merging.

Implements docs/semantics.md sections 2-8 as plainly as possible. It is the oracle of the
differential tests and the baseline of the benchmarks.

Events are plain tuples (see ``EVENT_SHAPES``) so they compare directly with the Rust events
converted by ``reference.convert.event_to_tuple``. Section 6 says an event shows the call's
``id``/``name`` as they are at the end of the ``feed()`` that produced it, so during a read we
record ``(kind, call, extras)`` and render the tuples once the read is done.

Where the doc was silent or ambiguous, the reference reads it the way the Rust core does and the
doc was amended accordingly (tests/DISAGREEMENTS.md, R1-R6): choices are finished in the order
first seen, a legacy call keeps an empty id, string fields holding another JSON type count as
absent, ``max_choices`` counts distinct choices.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from . import partial_json
from .errors import RefLimitExceeded, RefParseError
from .sse import DEFAULT_LIMIT, SSEDecoder, SSEEvent

__all__ = ["EVENT_SHAPES", "ReferenceAccumulator", "token_usage"]

EVENT_SHAPES = {
    "TextDelta": ("choice", "text"),
    "ReasoningDelta": ("choice", "text"),
    "ToolCallStarted": ("choice", "index", "id", "name"),
    "ToolCallDelta": ("choice", "index", "id", "name", "fragment"),
    "ToolCallReady": ("choice", "index", "id", "name", "arguments"),
    "ToolCallFinished": ("choice", "index", "id", "name", "arguments", "error_kind"),
    "Usage": ("usage",),
    "Finish": ("choice", "reason"),
    "ProviderError": ("message", "code", "type"),
}

_JSON_WS = " \t\n\r"


@dataclass
class _Call:
    choice: int
    ordinal: int
    provider_index: int | None
    legacy: bool = False
    id: str = ""
    type: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)  # fragments, joined on demand
    size: int = 0  # UTF-8 bytes of the arguments
    over_limit: bool = False
    too_deep: bool = False  # nested past max_depth: never ready, finishes with that error
    ready: bool = False
    ready_checks_done: bool = False  # malformed: can never become complete
    finished: bool = False
    parsed: Any = None
    error_kind: str | None = None
    error_message: str | None = None
    error_position: int | None = None
    # Cheap scanner state to spot the moments when the arguments may have closed.
    depth: int = 0
    peak: int = 0  # deepest nesting seen
    in_string: bool = False
    escape: bool = False
    started: bool = False  # a non-whitespace character was seen

    @property
    def text(self) -> str:
        if len(self.arguments) > 1:
            self.arguments[:] = ["".join(self.arguments)]
        return self.arguments[0] if self.arguments else ""

    def scan(self, fragment: str) -> bool:
        """Track string/nesting state over ``fragment``; True if a value may have just closed."""
        for ch in fragment:
            if self.in_string:
                if self.escape:
                    self.escape = False
                elif ch == "\\":
                    self.escape = True
                elif ch == '"':
                    self.in_string = False
            elif ch == '"':
                self.in_string = True
            elif ch in "{[":
                self.depth += 1
                self.peak = max(self.peak, self.depth)
            elif ch in "}]":
                self.depth -= 1
            if ch not in _JSON_WS:
                self.started = True
        return self.started and self.depth <= 0 and not self.in_string


@dataclass
class _Choice:
    index: int
    content: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    refusal: list[str] = field(default_factory=list)
    calls: list[_Call] = field(default_factory=list)
    legacy_call: _Call | None = None
    finish_reason: str | None = None
    sizes: dict[str, int] = field(default_factory=dict)  # UTF-8 bytes per bounded text field
    over_limit: set[str] = field(default_factory=set)  # fields past max_content_bytes


class ReferenceAccumulator:
    """Pure-Python twin of ``toolwire.StreamAccumulator`` for the chat-completions format.

    Subclasses for other formats (section 11) set ``FORMAT``, ``NORMAL_END``/``LENGTH``/
    ``CONTENT_FILTER`` (the provider's finish words) and ``USAGE_KEYS``, and override
    ``message(native=True)`` where the provider's shape differs.
    """

    FORMAT = "chat"
    NORMAL_END: frozenset[str | None] = frozenset({"stop", "tool_calls", "function_call", None})
    LENGTH: frozenset[str] = frozenset({"length"})
    CONTENT_FILTER: frozenset[str] = frozenset({"content_filter"})
    # (input count keys, output count keys, total key): section 11's token_usage.
    USAGE_KEYS: tuple[tuple[str, ...], tuple[str, ...], str | None] = (
        ("prompt_tokens",),
        ("completion_tokens",),
        "total_tokens",
    )

    def __init__(
        self,
        *,
        events: bool = True,
        max_line_bytes: int = DEFAULT_LIMIT,
        max_event_bytes: int = DEFAULT_LIMIT,
        max_arguments_bytes: int = DEFAULT_LIMIT,
        max_content_bytes: int = DEFAULT_LIMIT,
        max_tool_calls: int = 1024,
        max_choices: int = 128,
        max_depth: int = 512,
    ) -> None:
        self.events_enabled = events
        self.max_arguments_bytes = max_arguments_bytes
        self.max_content_bytes = max_content_bytes
        self.max_depth = max_depth
        self.max_tool_calls = max_tool_calls
        self.max_choices = max_choices
        self._sse = SSEDecoder(max_line_bytes=max_line_bytes, max_event_bytes=max_event_bytes)
        self._choices: dict[int, _Choice] = {}
        self._usage: dict[str, Any] | None = None
        self._error: dict[str, Any] | None = None
        self._done = False
        self._finished = False
        self._truncated = False
        # Per read: recorded events and errors, in order.
        self._pending: list[tuple[Any, ...]] = []
        self._errors: list[Exception] = []

    # -- public API -------------------------------------------------------------------------
    def feed(self, data: bytes | bytearray | str) -> list[tuple[Any, ...]]:
        if self._finished:
            raise RuntimeError("feed() after finish()")
        if isinstance(data, str):
            data = data.encode("utf-8")
        for item in self._sse.decode(data):
            self._handle(item, final=False)
        return self._end_read()

    def finish(self) -> list[tuple[Any, ...]]:
        if self._finished:
            return []
        self._finished = True
        for item in self._sse.decode(b"", final=True):
            self._handle(item, final=True)
        for choice in self._choices_in_order():
            self._finish_calls(choice)
        # Section 5: no [DONE], and no choice seen at all or some choice without finish reason.
        self._truncated = not self._done and (
            not self._choices or any(c.finish_reason is None for c in self._choices.values())
        )
        return self._end_read()

    def message(self, choice: int = 0, *, native: bool = False) -> dict[str, Any]:
        # Chat's own shape is the OpenAI message: native changes nothing.
        state = self._choices.get(choice) or _Choice(choice)
        content = "".join(state.content)
        msg: dict[str, Any] = {"role": "assistant", "content": content or None}
        reasoning = "".join(state.reasoning)
        if reasoning:
            msg["reasoning_content"] = reasoning
        refusal = "".join(state.refusal)
        if refusal:
            msg["refusal"] = refusal
        calls = [call for call in state.calls if not call.legacy]
        if calls:
            calls.sort(key=_message_order)
            msg["tool_calls"] = [
                {"id": c.id, "type": c.type, "function": {"name": c.name, "arguments": c.text}}
                for c in calls
            ]
        if state.legacy_call is not None:
            call = state.legacy_call
            msg["function_call"] = {"name": call.name, "arguments": call.text}
        return msg

    @property
    def finish_reason(self) -> str | None:
        state = self._choices.get(0)
        return state.finish_reason if state else None

    @property
    def usage(self) -> dict[str, Any] | None:
        return self._usage

    @property
    def format(self) -> str:
        return self.FORMAT

    @property
    def outcome(self) -> str | None:
        """Section 11: how the turn ended, in one vocabulary for every format."""
        if not (self._finished or self._done):
            return None
        if self._error is not None:
            return "error"
        if self._truncated:
            return "cut"
        reason = self.finish_reason
        if reason in self.LENGTH:
            return "length"
        if reason in self.CONTENT_FILTER:
            return "content_filter"
        if reason in self.NORMAL_END:
            state = self._choices.get(0)
            has_calls = state is not None and bool(state.calls or state.legacy_call)
            return "tool_calls" if has_calls else "stop"
        return "other"

    @property
    def token_usage(self) -> dict[str, int] | None:
        """Section 11: input/output/total token counts from the provider's usage, or None."""
        return token_usage(self._usage, *self.USAGE_KEYS)

    @property
    def error(self) -> dict[str, Any] | None:
        """The last provider error: {"message", "code", "type", "body"}."""
        return self._error

    @property
    def done(self) -> bool:
        return self._done

    @property
    def truncated(self) -> bool:
        """Meaningful after ``finish()`` (False before)."""
        return self._truncated

    @property
    def choices(self) -> list[int]:
        """Indices of the choices seen, in the order they were first seen."""
        return list(self._choices)

    @property
    def tool_calls(self) -> list[dict[str, Any]]:
        """Calls of choice 0 in message order (legacy call included)."""
        state = self._choices.get(0)
        if state is None:
            return []
        return [
            {
                "index": c.ordinal,
                "id": c.id,
                "name": c.name,
                "arguments": c.text,
                "finished": c.finished,
                "ready": c.ready,
                "parsed": c.parsed,
                "error_kind": c.error_kind,
                "legacy": c.legacy,
            }
            for c in sorted(state.calls, key=_message_order)
        ]

    # -- reads and errors ---------------------------------------------------------------------
    def _end_read(self) -> list[tuple[Any, ...]]:
        events = (
            [_render(entry) for entry in _coalesced(self._pending)] if self.events_enabled else []
        )
        errors = self._errors
        self._pending = []
        self._errors = []
        if errors:
            errors[0].events = events  # type: ignore[attr-defined]
            raise errors[0]
        return events

    def _emit(self, *entry: Any) -> None:
        if self.events_enabled:
            self._pending.append(entry)

    # -- section 2: events to chunks -----------------------------------------------------------
    def _handle(self, item: SSEEvent | Exception, final: bool) -> None:
        if isinstance(item, Exception):
            self._errors.append(item)
            return
        if self._done:
            return
        if item.event == "error":
            self._provider_error_event(item.data)
            return
        if item.event != "message":
            return
        data = item.data
        stripped = data.strip(_JSON_WS)
        if not stripped:
            return
        if stripped == "[DONE]":
            self._done = True
            for choice in self._choices_in_order():
                self._finish_calls(choice)
            return
        try:
            obj = _loads(data)
            parsed = True
        except ValueError:
            obj, parsed = None, False
        if not isinstance(obj, dict) or not _valid_chunk(obj):
            if final and not parsed and partial_json.classify(data) == "incomplete":
                return  # section 5: the last event was cut inside its JSON value
            self._errors.append(RefParseError("invalid chunk", item.data_offset))
            return
        if obj.get("error") is not None or obj.get("object") == "error":
            self._provider_error(obj, stripped)
            return
        self._chunk(obj)

    def _provider_error_event(self, data: str) -> None:
        try:
            obj = _loads(data)
        except ValueError:
            obj = None
        if isinstance(obj, dict) and _valid_chunk(obj):
            self._provider_error(obj, data)
        else:
            self._set_error(data, None, None, obj)

    def _provider_error(self, obj: dict[str, Any], text: str) -> None:
        # The same reading as the Rust core: when `error` is an object, its message (else the
        # top-level message), type and code; a string `error` is the message; with no `error`
        # (vLLM's "object": "error") the top-level message, type and code. Else the JSON text.
        err = obj.get("error")
        message: Any = None
        type_: Any = None
        code: Any = None
        if isinstance(err, dict):
            message = _str(err.get("message"))
            if message is None:
                message = _str(obj.get("message"))
            type_, code = _str(err.get("type")), err.get("code")
        elif isinstance(err, str):
            message = err
        elif err is not None:
            message = json.dumps(err, ensure_ascii=False)
        else:
            message, type_, code = _str(obj.get("message")), _str(obj.get("type")), obj.get("code")
        self._set_error(text if message is None else message, code, type_, obj)

    def _set_error(self, message: str, code: Any, type_: Any, body: Any) -> None:
        self._error = {"message": message, "code": code, "type": type_, "body": body}
        self._emit("ProviderError", message, code, type_)

    def _chunk(self, obj: dict[str, Any]) -> None:
        usage = obj.get("usage")
        groq = obj.get("x_groq")
        if not isinstance(usage, dict) and isinstance(groq, dict):
            usage = groq.get("usage")  # older Groq streams report usage only there
        if isinstance(usage, dict):  # another JSON type counts as absent
            if _depth(usage) > self.max_depth:
                self._errors.append(RefLimitExceeded("max_depth", _depth(usage), self.max_depth))
            else:
                self._usage = usage
                self._emit("Usage", usage)
        choices = obj.get("choices")
        if not isinstance(choices, list):
            return
        for raw in choices:
            if not isinstance(raw, dict):
                continue
            index = _index(raw.get("index"))
            if index is None:
                index = 0
            state = self._choices.get(index)
            if state is None:
                if len(self._choices) >= self.max_choices:  # counts distinct choices seen
                    self._errors.append(
                        RefLimitExceeded("max_choices", len(self._choices) + 1, self.max_choices)
                    )
                    continue
                state = self._choices[index] = _Choice(index)
            delta = raw.get("delta")
            if isinstance(delta, dict):
                self._merge(state, delta)
            reason = raw.get("finish_reason")
            if isinstance(reason, str) and reason and state.finish_reason is None:
                state.finish_reason = reason
                self._finish_calls(state)
                self._emit("Finish", index, reason)

    # -- section 3: delta merge -------------------------------------------------------------
    def _merge(self, state: _Choice, delta: dict[str, Any]) -> None:
        reasoning = delta.get("reasoning_content")
        if not isinstance(reasoning, str):  # absent, null (or another type: lenient, as Rust)
            reasoning = delta.get("reasoning")
        if isinstance(reasoning, str) and reasoning and self._fits(state, "reasoning", reasoning):
            state.reasoning.append(reasoning)
            self._emit("ReasoningDelta", state.index, reasoning)
        content = delta.get("content")
        pieces = _content_parts(content) if isinstance(content, list) else [("content", content)]
        for kind, text in pieces:
            if not isinstance(text, str) or not text or not self._fits(state, kind, text):
                continue
            if kind == "reasoning":
                state.reasoning.append(text)
                self._emit("ReasoningDelta", state.index, text)
            else:
                state.content.append(text)
                self._emit("TextDelta", state.index, text)
        refusal = delta.get("refusal")
        if isinstance(refusal, str) and refusal and self._fits(state, "refusal", refusal):
            state.refusal.append(refusal)
        function_call = delta.get("function_call")
        if isinstance(function_call, dict):
            call = state.legacy_call
            if call is None:
                call = self._new_call(state, None, legacy=True)
                if call is None:
                    return
                state.legacy_call = call
                self._set_once(call, None, None, function_call)
                self._emit("ToolCallStarted", call)
            elif not call.finished:
                self._set_once(call, None, None, function_call)
            if not call.finished:
                self._arguments(call, function_call.get("arguments"))
        tool_calls = delta.get("tool_calls")
        if isinstance(tool_calls, list):
            for fragment in tool_calls:
                if isinstance(fragment, dict):
                    self._tool_call_fragment(state, fragment)

    def _fits(self, state: _Choice, name: str, text: str) -> bool:
        """Section 8: a text field past max_content_bytes drops this and every later piece."""
        if name in state.over_limit:
            return False
        size = state.sizes.get(name, 0) + len(text.encode("utf-8"))
        if size > self.max_content_bytes:
            state.over_limit.add(name)
            self._errors.append(RefLimitExceeded("max_content_bytes", size, self.max_content_bytes))
            return False
        state.sizes[name] = size
        return True

    def _tool_call_fragment(self, state: _Choice, fragment: dict[str, Any]) -> None:
        id_ = fragment.get("id")
        index = _index(fragment.get("index"))
        calls = [c for c in state.calls if not c.legacy]
        call: _Call | None = None
        if isinstance(id_, str) and id_:
            call = next((c for c in calls if c.id == id_), None)
            if call is None and index is not None:
                call = next(
                    (c for c in reversed(calls) if c.provider_index == index and not c.id), None
                )
        elif index is not None:
            call = next((c for c in reversed(calls) if c.provider_index == index), None)
        elif calls:
            call = calls[-1]
        function = fragment.get("function")
        if not isinstance(function, dict):
            function = {}
        if call is None:
            call = self._new_call(state, index, legacy=False)
            if call is None:
                return
            self._set_once(call, id_, fragment.get("type"), function)
            self._emit("ToolCallStarted", call)
        elif call.finished:
            return
        else:
            self._set_once(call, id_, fragment.get("type"), function)
        self._arguments(call, function.get("arguments"))

    def _new_call(self, state: _Choice, index: int | None, legacy: bool) -> _Call | None:
        if len(state.calls) >= self.max_tool_calls:
            self._errors.append(
                RefLimitExceeded("max_tool_calls", len(state.calls) + 1, self.max_tool_calls)
            )
            return None
        call = _Call(state.index, len(state.calls), index, legacy=legacy)
        state.calls.append(call)
        return call

    @staticmethod
    def _set_once(call: _Call, id_: Any, type_: Any, function: dict[str, Any]) -> None:
        if not call.id and isinstance(id_, str) and id_:
            call.id = id_
        if not call.type and isinstance(type_, str) and type_:
            call.type = type_
        name = function.get("name")
        if not call.name and isinstance(name, str) and name:
            call.name = name

    def _arguments(self, call: _Call, value: Any) -> None:
        if value is None:
            return
        if isinstance(value, str):
            fragment = value
        elif call.size or call.arguments:
            return
        else:
            # The Rust core keeps the tokens as sent (whitespace outside strings removed); this
            # re-serialisation agrees with it whenever the value holds ints, bools, null and
            # strings without escapes (floats and escapes may be spelled differently).
            fragment = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        if not fragment or call.over_limit:
            return
        size = len(fragment.encode("utf-8"))
        if call.size + size > self.max_arguments_bytes:
            call.over_limit = True
            self._errors.append(
                RefLimitExceeded("max_arguments_bytes", call.size + size, self.max_arguments_bytes)
            )
            return
        call.arguments.append(fragment)
        call.size += size
        self._emit("ToolCallDelta", call, fragment)
        if call.ready or call.ready_checks_done or call.too_deep:
            return
        closed = call.scan(fragment)
        if call.peak > self.max_depth:
            # The first bracket past max_depth, unless the text was malformed before it.
            if _too_deep(call.text, self.max_depth):
                call.too_deep = True
                self._errors.append(RefLimitExceeded("max_depth", call.peak, self.max_depth))
            else:
                call.ready_checks_done = True
            return
        if closed:
            state = partial_json.classify(call.text)
            if state == "complete":
                call.ready = True
                self._emit("ToolCallReady", call, call.text)
            elif state == "malformed":
                call.ready_checks_done = True

    # -- section 4: completion ----------------------------------------------------------------
    def _finish_calls(self, state: _Choice) -> None:
        for call in state.calls:
            if call.finished:
                continue
            call.finished = True
            if call.over_limit:
                # Section 8: the call finishes "incomplete" whatever text it kept, never "{}".
                call.error_kind = "incomplete"
                call.error_message = "arguments cut by max_arguments_bytes"
                call.error_position = call.size
                if not call.id and not call.legacy:
                    call.id = f"call_{call.ordinal}"
                if not call.type:
                    call.type = "function"
                self._emit("ToolCallFinished", call, call.text, call.error_kind)
                continue
            if not call.arguments:
                call.arguments = ["{}"]
            if not call.id and not call.legacy:  # a legacy function_call has no id
                call.id = f"call_{call.ordinal}"
            if not call.type:
                call.type = "function"
            text = call.text
            if call.too_deep:
                call.error_kind = "max_depth"
                self._emit("ToolCallFinished", call, text, call.error_kind)
                continue
            try:
                call.parsed = partial_json.loads_strict(text)
            except ValueError:
                call.parsed = None
                position = partial_json.error_position(text)
                if position is None:
                    call.error_kind = "incomplete"
                    call.error_message = "unexpected end of arguments"
                    call.error_position = len(text.encode("utf-8"))
                else:
                    call.error_kind = "malformed"
                    call.error_message = "malformed arguments"
                    call.error_position = len(text[:position].encode("utf-8"))
            self._emit("ToolCallFinished", call, text, call.error_kind)

    def _choices_in_order(self) -> list[_Choice]:
        # Choices in the order they were first seen (semantics.md does not say; this is the
        # Rust core's order, see tests/DISAGREEMENTS.md).
        return list(self._choices.values())


def _count(value: Any) -> int | None:
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
    return value if ok else None


def token_usage(
    usage: dict[str, Any] | None,
    inputs: tuple[str, ...],
    outputs: tuple[str, ...],
    total: str | None,
) -> dict[str, int] | None:
    """Sums the counts named (a missing or non-integer one is 0); None when none is there."""
    if not isinstance(usage, dict):
        return None
    ins = [_count(usage.get(k)) for k in inputs]
    outs = [_count(usage.get(k)) for k in outputs]
    if all(v is None for v in ins + outs):
        return None
    n_in = sum(v or 0 for v in ins)
    n_out = sum(v or 0 for v in outs)
    n_total = _count(usage.get(total)) if total else None
    return {
        "input_tokens": n_in,
        "output_tokens": n_out,
        "total_tokens": n_in + n_out if n_total is None else n_total,
    }


def _message_order(call: _Call) -> tuple[int, int]:
    key = call.provider_index if call.provider_index is not None else call.ordinal
    return (key, call.ordinal)


def _coalesced(entries: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Section 6: within one read, text (or reasoning) that directly follows text of the same
    choice, with no other event between, is one event; so is a fragment of a call's arguments
    that directly follows one of the same call."""
    out: list[tuple[Any, ...]] = []
    for entry in entries:
        last = out[-1] if out else None
        if (
            last is not None
            and entry[0] in ("TextDelta", "ReasoningDelta", "ToolCallDelta")
            and last[0] == entry[0]
            # The same choice, or the same call (calls with equal fields are still two).
            and (last[1] is entry[1] if entry[0] == "ToolCallDelta" else last[1] == entry[1])
        ):
            out[-1] = (entry[0], entry[1], last[2] + entry[2])
        else:
            out.append(entry)
    return out


def _render(entry: tuple[Any, ...]) -> tuple[Any, ...]:
    kind = entry[0]
    if len(entry) > 1 and isinstance(entry[1], _Call):
        call = entry[1]
        return (kind, call.choice, call.ordinal, call.id, call.name, *entry[2:])
    return entry


# Known fields per level: a duplicate of one of them makes the chunk invalid (section 2).
_KNOWN_FIELDS = {
    "chunk": frozenset({"choices", "usage", "error", "object", "message", "type", "code"}),
    "choice": frozenset({"index", "delta", "finish_reason"}),
    "delta": frozenset(
        {"content", "reasoning_content", "reasoning", "refusal", "tool_calls", "function_call"}
    ),
    "fragment": frozenset({"index", "id", "type", "function"}),
    "function": frozenset({"name", "arguments"}),
}


class _DuplicateKeys(dict):  # type: ignore[type-arg]
    """A JSON object that had some keys more than once (the last value wins, as json.loads)."""

    duplicates: set[str]


def _object_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) < len(pairs):
        seen: set[str] = set()
        obj = _DuplicateKeys(obj)
        obj.duplicates = {k for k, _ in pairs if k in seen or seen.add(k)}  # type: ignore[func-returns-value]
    return obj


def _loads(text: str) -> Any:
    """json.loads, strict (no NaN/Infinity), noting duplicate keys."""
    return json.loads(
        text, object_pairs_hook=_object_pairs, parse_constant=partial_json._reject_constant
    )


def _ok(obj: Any, level: str) -> bool:
    """``obj`` is an object without a duplicated known field of ``level``."""
    if not isinstance(obj, dict):
        return False
    return not (isinstance(obj, _DuplicateKeys) and obj.duplicates & _KNOWN_FIELDS[level])


def _valid_chunk(chunk: dict[str, Any]) -> bool:
    """Section 2: known fields of the wrong JSON type (or given twice) make the chunk invalid.
    Strings and indices are lenient (a value of another type counts as absent)."""
    if not _ok(chunk, "chunk"):
        return False
    choices = chunk.get("choices")
    if choices is None:
        return True
    if not isinstance(choices, list):
        return False
    for choice in choices:
        if not _ok(choice, "choice") or _bad_index(choice.get("index")):
            return False
        delta = choice.get("delta")
        if delta is None:
            continue
        if not _ok(delta, "delta"):
            return False
        function_call = delta.get("function_call")
        if function_call is not None and not _ok(function_call, "function"):
            return False
        tool_calls = delta.get("tool_calls")
        if tool_calls is None:
            continue
        if not isinstance(tool_calls, list):
            return False
        for fragment in tool_calls:
            if not _ok(fragment, "fragment") or _bad_index(fragment.get("index")):
                return False
            function = fragment.get("function")
            if function is not None and not _ok(function, "function"):
                return False
    return True


def _index(value: Any) -> int | None:
    """A choice or fragment index: a non-negative integer (below 2**32), else None."""
    if type(value) is int and 0 <= value < 2**32:
        return value
    return None


def _content_parts(parts: list[Any]) -> list[tuple[str, Any]]:
    """Section 3: Mistral's typed ``content`` parts, in order, as (field, text): a ``thinking``
    part (a string, or a list of ``{"text"}`` parts) is reasoning, a ``text`` part (or one
    without a type) is content; other parts and non-objects are skipped."""
    out: list[tuple[str, Any]] = []
    for part in parts:
        if not isinstance(part, dict):
            continue
        kind = part.get("type")
        if kind == "thinking":
            thinking = part.get("thinking")
            if isinstance(thinking, str):
                out.append(("reasoning", thinking))
            elif isinstance(thinking, list):
                out.extend(("reasoning", p.get("text")) for p in thinking if isinstance(p, dict))
        elif kind == "text" or not isinstance(kind, str):
            out.append(("content", part.get("text")))
    return out


def _bad_index(value: Any) -> bool:
    """Section 2: a number outside 0..2**32 makes the chunk invalid (other types are lenient)."""
    return type(value) in (int, float) and not 0 <= value < 2**32


def _depth(value: Any) -> int:
    """Nesting depth of a JSON value: 0 for a scalar, 1 for a flat object or array."""
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    return 0


def _too_deep(text: str, max_depth: int) -> bool:
    """Whether ``text`` opens more than ``max_depth`` containers before it turns malformed."""
    depth = 0
    in_string = escape = False
    for i, ch in enumerate(text):
        if in_string:
            if escape:
                escape = False
            elif ch == "\\":
                escape = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "{[":
            depth += 1
            if depth > max_depth:
                return partial_json.classify(text[:i]) != "malformed"
        elif ch in "}]":
            depth -= 1
    return False


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None
