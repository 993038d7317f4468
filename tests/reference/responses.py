"""Reference OpenAI Responses accumulator: json.loads per SSE event + plain dict state.

The oracle the Rust Responses adapter is held to (docs/drafts/responses.md, to become section 12
of docs/semantics.md). It has the public surface of ``ReferenceAccumulator`` (chat.py), reuses
its SSE decoding, limit, Ready and finishing code (it subclasses it) and emits the same event
tuples (``chat.EVENT_SHAPES``), with choice always 0. Where the issue is silent it does what the
official SDK's accumulator (``openai.lib.streaming.responses._responses.ResponseStreamState``)
does, or says why not. The rules:

R1. Framing is SSE (semantics section 1). Data that is blank, or ``[DONE]`` (some gateways end
    with it; surrounding whitespace ignored), is ignored: not an error, not the end. Any other
    data must be a JSON object, else ``ParseError`` "invalid chunk" at the event's first data
    byte (reading goes on), except: an ``error`` SSE event whose data is not an object is a
    ``ProviderError`` with the (trimmed) text as message and as body (its JSON value when it
    parses, as section 2 says); at ``finish()`` a last event cut inside its JSON value is
    dropped (section 5).
R2. The event kind is the data's ``type`` when it is a string, else the SSE ``event:`` name.
    Kinds other than those of R3-R11 are ignored (``response.output_text.done``,
    ``.refusal.done``, ``.reasoning_*_text.done``, ``.content_part.done``,
    ``.reasoning_summary_part.done``, annotations, web search / file search progress, code
    interpreter / custom tool / MCP / shell / apply_patch deltas, ...), and so are
    ``sequence_number``, ``obfuscation`` and ``logprobs``. In an output event (R4-R9) the index
    fields ``output_index``, ``content_index`` and ``summary_index`` are integers in 0..2**32:
    a number outside that range makes the event an invalid chunk, skipped (as chat's index);
    another type counts as missing. A key given twice: the last value counts (json.loads).
    Every event after the terminal event (R10) is ignored (errors, ``[DONE]``, bad data too).
R3. ``response.created`` / ``.queued`` / ``.in_progress`` change nothing but ``acc.response_id``
    and ``acc.model``: the first string ``response.id`` / ``response.model`` seen (terminal
    events count too). ``response.created`` is not required (resumed streams start later).
R4. Output items are keyed by ``output_index``. ``response.output_item.added`` puts its ``item``
    (an object; anything else counts as ``{}``) at its ``output_index``; when that is missing
    or already taken, at the number of items so far (A4's positional reading); when that is
    taken too, the event is ignored. An item's kind is the ``type`` of the item that created it.
    ``response.output_item.done`` finds its item by R5 (with the done item's ``id``), else
    creates it as ``added`` would (an item sent whole): the first done of an item records the
    done item and has the effects of R8/R9; a repeated done only replaces the recorded item.
R5. Routing: an event names its item by ``item_id`` (for ``output_item.done``: ``item.id``)
    when it is a non-empty string that is the ``id`` of an added or done item (the first item
    with that id), else by ``output_index``, else names none. (Gateways rotate item ids between
    events of one item: one recorded stream needs the ``output_index`` fallback.)
R6. Text: ``response.output_text.delta`` is content (``TextDelta``), ``response.refusal.delta``
    is the refusal (no event), ``response.reasoning_summary_text.delta`` and
    ``response.reasoning_text.delta`` are reasoning (``ReasoningDelta``); the ``delta`` (a
    non-empty string) is appended exactly as sent, no separators between items or summary
    parts. A text delta counts whatever its item (none, another kind, already done), so the
    text is never lost; ``max_content_bytes`` per field (content, reasoning, refusal) as chat.
R7. Client calls are ``function_call`` items only: ``ToolCallStarted`` when the item is created
    (R4), with ``id`` = the item's ``call_id`` (NOT the ``fc_`` item id) or ``call_<ordinal>``
    when it has none (section 11), kept from then on; ``name`` = its ``name`` (when empty, the
    done item's fills it while the call is open); type ``function``. The event ``index`` is the
    call's ordinal among the calls; ``message()`` lists calls by ``output_index``. Past
    ``max_tool_calls`` an item raises ``LimitExceeded`` and stays native-only. Every other item
    type (reasoning, web_search_call, file_search_call, mcp_call, code_interpreter_call,
    custom_tool_call, tool_search_call, shell / apply_patch calls, image_generation_call, ...)
    is native-only.
R8. Arguments: ``response.function_call_arguments.delta`` routed (R5) to an item whose call is
    open appends its ``delta`` string exactly (chat's rules: an empty one emits nothing;
    ``ToolCallDelta``, ``ToolCallReady``, ``max_arguments_bytes``, ``max_depth``); anything
    else is ignored. ``response.function_call_arguments.done`` and the first
    ``output_item.done`` of the item finish its call (``ToolCallFinished``, chat's rules:
    ``"{}"`` when empty, error kinds). When no non-empty delta came for the item, the first
    non-empty string of (the event's own ``arguments``, the added item's ``arguments``) is
    first sent as one fragment (``ToolCallDelta``, ``ToolCallReady``). When deltas came, the
    done texts are not read, even when they differ: the deltas are what the events carried
    (ResponseStreamState keeps them too, in its snapshot); the native item shows the done
    item as sent. Events for a finished call are ignored.
R9. Text sent whole: the first ``output_item.done`` of a ``message`` or ``reasoning`` item to
    which no non-empty text delta (R6) was routed sends the done item's texts, each piece as
    R6 does: a message's ``content`` parts in order (``output_text`` ``text`` is content,
    ``refusal`` ``refusal`` the refusal); a reasoning item's ``summary`` entries' ``text``,
    then its ``content`` entries' ``text``.
R10. Terminal events: ``response.completed``, ``response.incomplete``, ``response.failed`` set
    ``acc.done``. First their ``response.output`` (a list; anything else counts as ``[]``) is
    read: if no output event (R4-R9, part events included) was read before, its objects are
    read as ``output_item.done`` at output_index 0..n-1 (a gateway that does not stream);
    otherwise each item never done, in output_index order, whose output_index holds an object
    of the item's kind (``type``) takes it as its done item, with R8/R9's effects (the SDK's
    final response is ``response.output``; recorded streams leave ``mcp_list_tools`` items
    undone and complete them only there). Then, in order: ``response.usage`` (an object)
    replaces ``acc.usage`` and emits ``Usage`` (nested past ``max_depth``: ``LimitExceeded``,
    dropped); ``response.failed`` records a ``ProviderError`` (``message`` =
    ``response.error.message`` when a string, else "response failed"; ``code`` =
    ``response.error.code``; ``type`` = ``response.error.type`` when a string; ``body`` = the
    event object), so the outcome is "error" even when an ``error`` event came before; every
    call still open finishes (output_index order, R8's fallback from the added item); the
    finish reason is set and ``Finish`` emitted: ``completed``, the incomplete
    ``incomplete_details.reason`` (a non-empty string: ``max_output_tokens``,
    ``content_filter``, ...; else ``incomplete``), or ``failed``.
R11. ``error`` events (kind ``error``; or an object without a string ``type`` whose ``error`` is
    not null, the chat-style error object some gateways send) are read as chat reads an error:
    an ``error`` object gives ``message`` (else the top-level ``message``), ``type`` and
    ``code``; without one, the top-level ``message``, ``type`` (so ``"error"`` for the
    documented flat shape) and ``code``; ``body`` = the object. It sets ``acc.error``; reading
    goes on.
R12. ``finish()`` flushes the SSE decoder (R1), finishes every open call in output_index order
    (R8's fallback) and sets ``truncated`` = no terminal event was read (``[DONE]`` is none).
R13. ``message()`` is section 7's message: content / reasoning / refusal in arrival order,
    ``tool_calls`` by ``output_index``. ``message(native=True)`` is the list of output items
    (``response.output``, what is sent back as input items) in output_index order. An item done
    is its (last) done item exactly. An item only added is the added item (status as sent)
    with what arrived for it: ``response.content_part.added`` puts its ``part`` (an object,
    else the event is ignored) at ``content[content_index]`` of a message or reasoning item,
    ``response.reasoning_summary_part.added`` at ``summary[summary_index]`` of a reasoning
    item; each R6 delta routed to an item of the fitting kind (message: output text and
    refusal; reasoning: summary and reasoning text) and kept within ``max_content_bytes`` is
    appended to the ``text`` (refusal: ``refusal``) of its part (index missing: 0), the part
    created as ``{"type": "output_text", "text": "", "annotations": []}``, ``{"type":
    "refusal", "refusal": ""}``, ``{"type": "summary_text", "text": ""}`` or ``{"type":
    "reasoning_text", "text": ""}`` when there is none (or it is not an object); parts are
    listed by index; a ``function_call`` item's ``arguments`` is its call's text when that is
    non-empty. ``choices`` is ``[0]``; any other choice's native message is ``[]``.
R14. ``format`` is "responses"; ``outcome`` and ``token_usage`` are section 11's (normal end
    ``completed``; length ``max_output_tokens``; content filter ``content_filter``; counts
    ``input_tokens`` / ``output_tokens`` / ``total_tokens``).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from . import partial_json
from .chat import (
    _JSON_WS,
    ReferenceAccumulator,
    _bad_index,
    _Call,
    _Choice,
    _depth,
    _index,
    _loads,
    _str,
)
from .errors import RefLimitExceeded, RefParseError
from .sse import SSEEvent

__all__ = ["ReferenceResponsesAccumulator"]

_LIFECYCLE = frozenset({"response.created", "response.queued", "response.in_progress"})
_TERMINAL = frozenset({"response.completed", "response.incomplete", "response.failed"})
# Text deltas (R6): kind -> (choice field, item kind it fits, part list, index key, part).
_TEXT_DELTAS: dict[str, tuple[str, str, str, str, dict[str, Any]]] = {
    "response.output_text.delta": (
        "content",
        "message",
        "content",
        "content_index",
        {"type": "output_text", "text": "", "annotations": []},
    ),
    "response.refusal.delta": (
        "refusal",
        "message",
        "content",
        "content_index",
        {"type": "refusal", "refusal": ""},
    ),
    "response.reasoning_summary_text.delta": (
        "reasoning",
        "reasoning",
        "summary",
        "summary_index",
        {"type": "summary_text", "text": ""},
    ),
    "response.reasoning_text.delta": (
        "reasoning",
        "reasoning",
        "content",
        "content_index",
        {"type": "reasoning_text", "text": ""},
    ),
}
# Output events (R4-R9): what counts as "output read" for R10.
_OUTPUT = frozenset(
    {
        "response.output_item.added",
        "response.output_item.done",
        "response.content_part.added",
        "response.reasoning_summary_part.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        *_TEXT_DELTAS,
    }
)
_INDEX_FIELDS = ("output_index", "content_index", "summary_index")


@dataclass
class _Item:
    index: int  # output_index
    kind: str
    added: dict[str, Any]  # the item that created it (the done item when sent whole)
    done: dict[str, Any] | None = None  # the last output_item.done item
    call: _Call | None = None  # a function_call item the call limit let open
    fragmented: bool = False  # a non-empty arguments delta arrived (R8)
    texted: bool = False  # a non-empty text delta was routed here (R9)
    # Parts of an item only added (R13), by index; None while the item has no such list.
    content: dict[int, Any] | None = None
    summary: dict[int, Any] | None = None


class ReferenceResponsesAccumulator(ReferenceAccumulator):
    """Pure-Python twin of ``toolwire.StreamAccumulator(format="responses")``."""

    FORMAT = "responses"
    NORMAL_END = frozenset({"completed"})
    LENGTH = frozenset({"max_output_tokens"})
    CONTENT_FILTER = frozenset({"content_filter"})
    USAGE_KEYS = (("input_tokens",), ("output_tokens",), "total_tokens")

    def __init__(self, **limits: Any) -> None:
        super().__init__(**limits)
        self._state = self._choices[0] = _Choice(0)
        self._items: dict[int, _Item] = {}
        self._ids: dict[str, int] = {}  # item id -> output_index (R5)
        self._output_read = False  # an output event was read (R10)
        self.response_id: str | None = None
        self.model: str | None = None

    # -- public API -------------------------------------------------------------------------
    def finish(self) -> list[tuple[Any, ...]]:
        if self._finished:
            return []
        self._finished = True
        for item in self._sse.decode(b"", final=True):
            self._handle(item, final=True)
        self._finish_open_calls()
        self._truncated = not self._done
        return self._end_read()

    def message(self, choice: int = 0, *, native: bool = False) -> Any:
        """Section 7's message (a dict), or with ``native`` the output items (a list)."""
        if not native:
            return super().message(choice)
        if choice:
            return []
        return [self._native(self._items[i]) for i in sorted(self._items)]

    @property
    def choices(self) -> list[int]:
        return [0]

    # -- events (R1, R2, R11) -------------------------------------------------------------------
    def _handle(self, item: SSEEvent | Exception, final: bool) -> None:
        if isinstance(item, Exception):
            self._errors.append(item)
            return
        if self._done:
            return
        data = item.data
        stripped = data.strip(_JSON_WS)
        if not stripped or stripped == "[DONE]":
            return
        try:
            obj = _loads(data)
            parsed = True
        except ValueError:
            obj, parsed = None, False
        if not isinstance(obj, dict):
            if item.event == "error":
                # Section 2: the body is the data's JSON value when it parses, else its text.
                self._set_error(stripped, None, None, obj if parsed else stripped)
            elif not (final and not parsed and partial_json.classify(data) == "incomplete"):
                self._errors.append(RefParseError("invalid chunk", item.data_offset))
            return
        kind = obj.get("type")
        if not isinstance(kind, str):
            if obj.get("error") is not None:
                self._provider_error(obj, stripped)
                return
            kind = item.event
        if kind == "error":
            self._provider_error(obj, stripped)
        elif kind in _LIFECYCLE or kind in _TERMINAL:
            response = obj.get("response")
            response = response if isinstance(response, dict) else {}
            if self.response_id is None:
                self.response_id = _str(response.get("id"))
            if self.model is None:
                self.model = _str(response.get("model"))
            if kind in _TERMINAL:
                self._terminal(kind, obj, response)
        elif kind in _OUTPUT:
            if any(_bad_index(obj.get(key)) for key in _INDEX_FIELDS):
                self._errors.append(RefParseError("invalid chunk", item.data_offset))
                return
            self._output_read = True
            self._output_event(kind, obj)
        # other kinds: ignored

    def _output_event(self, kind: str, obj: dict[str, Any]) -> None:
        raw = obj.get("item")
        item = raw if isinstance(raw, dict) else {}
        if kind == "response.output_item.added":
            self._add_item(_index(obj.get("output_index")), item)
        elif kind == "response.output_item.done":
            self._item_done(_index(obj.get("output_index")), item)
        elif kind == "response.function_call_arguments.delta":
            found = self._find(obj.get("item_id"), obj.get("output_index"))
            delta = obj.get("delta")
            if found is None or found.call is None or found.call.finished:
                return
            if isinstance(delta, str) and delta:
                found.fragmented = True
                self._arguments(found.call, delta)
        elif kind == "response.function_call_arguments.done":
            found = self._find(obj.get("item_id"), obj.get("output_index"))
            if found is not None:
                self._finish_item_call(found, obj.get("arguments"))
        elif kind in _TEXT_DELTAS:
            self._text_delta(kind, obj)
        else:  # content_part.added / reasoning_summary_part.added (R13)
            found = self._find(obj.get("item_id"), obj.get("output_index"))
            part = obj.get("part")
            summary = kind == "response.reasoning_summary_part.added"
            fits = ("reasoning",) if summary else ("message", "reasoning")
            if not isinstance(part, dict) or found is None or found.done is not None:
                return
            if found.kind not in fits:
                return
            parts = self._parts(found, "summary" if summary else "content")
            index = _index(obj.get("summary_index" if summary else "content_index")) or 0
            parts[index] = copy.deepcopy(part)

    # -- items (R4, R5, R7, R9) ----------------------------------------------------------------
    def _find(self, item_id: Any, output_index: Any) -> _Item | None:
        if isinstance(item_id, str) and item_id in self._ids:
            return self._items[self._ids[item_id]]
        index = _index(output_index)
        return None if index is None else self._items.get(index)

    def _register(self, item_id: Any, index: int) -> None:
        if isinstance(item_id, str) and item_id and item_id not in self._ids:
            self._ids[item_id] = index

    def _add_item(self, index: int | None, item: dict[str, Any]) -> _Item | None:
        if index is None or index in self._items:
            index = len(self._items)
            if index in self._items:
                return None
        kind = item.get("type")
        found = self._items[index] = _Item(index, kind if isinstance(kind, str) else "", item)
        self._register(item.get("id"), index)
        if found.kind in ("message", "reasoning") and isinstance(item.get("content"), list):
            found.content = dict(enumerate(copy.deepcopy(item["content"])))
        if found.kind == "reasoning" and isinstance(item.get("summary"), list):
            found.summary = dict(enumerate(copy.deepcopy(item["summary"])))
        if found.kind == "function_call":
            call = self._new_call(self._state, index, legacy=False)
            if call is not None:
                call.type = "function"
                call.id = _str(item.get("call_id")) or f"call_{call.ordinal}"
                self._set_once(call, None, None, item)
                found.call = call
                self._emit("ToolCallStarted", call)
        return found

    def _item_done(self, index: int | None, item: dict[str, Any]) -> None:
        found = self._find(item.get("id"), index)
        if found is None:
            found = self._add_item(index, item)
            if found is None:
                return
        elif found.done is not None:
            found.done = item  # a repeated done: the native item only (R4)
            return
        self._complete(found, item)

    def _complete(self, found: _Item, item: dict[str, Any]) -> None:
        """The first done item of ``found``: R8 finishes its call, R9 sends its texts."""
        found.done = item
        self._register(item.get("id"), found.index)
        if found.call is not None:
            if not found.call.finished:
                self._set_once(found.call, None, None, item)
            self._finish_item_call(found, item.get("arguments"))
        elif not found.texted and found.kind in ("message", "reasoning"):
            self._whole_texts(found, item)

    def _whole_texts(self, found: _Item, item: dict[str, Any]) -> None:
        """R9: the texts of an item whose text arrived only in its done item."""
        pieces: list[tuple[str, Any]] = []
        content = item.get("content")
        content = content if isinstance(content, list) else []
        if found.kind == "message":
            for part in content:
                if isinstance(part, dict) and part.get("type") == "output_text":
                    pieces.append(("content", part.get("text")))
                elif isinstance(part, dict) and part.get("type") == "refusal":
                    pieces.append(("refusal", part.get("refusal")))
        else:
            summary = item.get("summary")
            for part in (summary if isinstance(summary, list) else []) + content:
                if isinstance(part, dict):
                    pieces.append(("reasoning", part.get("text")))
        for field_name, text in pieces:
            if isinstance(text, str) and text:
                self._add_text(field_name, text)

    def _add_text(self, field_name: str, text: str) -> bool:
        """Append a text piece to the choice (R6); False when max_content_bytes dropped it."""
        if not self._fits(self._state, field_name, text):
            return False
        if field_name == "content":
            self._state.content.append(text)
            self._emit("TextDelta", 0, text)
        elif field_name == "reasoning":
            self._state.reasoning.append(text)
            self._emit("ReasoningDelta", 0, text)
        else:
            self._state.refusal.append(text)
        return True

    def _text_delta(self, kind: str, obj: dict[str, Any]) -> None:
        field_name, fits, where, index_key, blank = _TEXT_DELTAS[kind]
        text = obj.get("delta")
        if not isinstance(text, str) or not text:
            return
        found = self._find(obj.get("item_id"), obj.get("output_index"))
        if found is not None:
            found.texted = True
        if not self._add_text(field_name, text):
            return
        if found is None or found.done is not None or found.kind != fits:
            return
        parts = self._parts(found, where)
        index = _index(obj.get(index_key)) or 0
        part = parts.get(index)
        if not isinstance(part, dict):
            part = parts[index] = copy.deepcopy(blank)
        key = "refusal" if field_name == "refusal" else "text"
        before = part.get(key)
        part[key] = (before if isinstance(before, str) else "") + text

    @staticmethod
    def _parts(found: _Item, where: str) -> dict[int, Any]:
        if where == "summary":
            if found.summary is None:
                found.summary = {}
            return found.summary
        if found.content is None:
            found.content = {}
        return found.content

    # -- calls (R8) ------------------------------------------------------------------------------
    def _finish_item_call(self, found: _Item, arguments: Any) -> None:
        call = found.call
        if call is None or call.finished:
            return
        if not found.fragmented:
            for text in (arguments, found.added.get("arguments")):
                if isinstance(text, str) and text:
                    self._arguments(call, text)
                    break
        self._finish_calls(_Choice(0, calls=[call]))

    def _finish_open_calls(self) -> None:
        for index in sorted(self._items):
            self._finish_item_call(self._items[index], None)

    # -- end (R10) ---------------------------------------------------------------------------------
    def _terminal(self, kind: str, obj: dict[str, Any], response: dict[str, Any]) -> None:
        output = response.get("output")
        entries = output if isinstance(output, list) else []
        if not self._output_read:
            for index, entry in enumerate(entries):
                if isinstance(entry, dict):
                    self._item_done(index, entry)
        for index in sorted(self._items):
            found = self._items[index]
            entry = entries[index] if index < len(entries) else None
            if found.done is None and isinstance(entry, dict) and entry.get("type") == found.kind:
                self._complete(found, entry)
        self._done = True
        usage = response.get("usage")
        if isinstance(usage, dict):
            if _depth(usage) > self.max_depth:
                self._errors.append(RefLimitExceeded("max_depth", _depth(usage), self.max_depth))
            else:
                self._usage = usage
                self._emit("Usage", usage)
        if kind == "response.failed":
            error = response.get("error")
            error = error if isinstance(error, dict) else {}
            message = _str(error.get("message"))
            self._set_error(
                "response failed" if message is None else message,
                error.get("code"),
                _str(error.get("type")),
                obj,
            )
            reason = "failed"
        elif kind == "response.incomplete":
            details = response.get("incomplete_details")
            word = _str(details.get("reason")) if isinstance(details, dict) else None
            reason = word or "incomplete"
        else:
            reason = "completed"
        self._finish_open_calls()
        self._state.finish_reason = reason
        self._emit("Finish", 0, reason)

    # -- native message (R13) ---------------------------------------------------------------------
    def _native(self, found: _Item) -> dict[str, Any]:
        if found.done is not None:
            return copy.deepcopy(found.done)
        out = copy.deepcopy(found.added)
        if found.content is not None:
            out["content"] = [copy.deepcopy(found.content[i]) for i in sorted(found.content)]
        if found.summary is not None:
            out["summary"] = [copy.deepcopy(found.summary[i]) for i in sorted(found.summary)]
        if found.call is not None and found.call.text:
            out["arguments"] = found.call.text
        return out
