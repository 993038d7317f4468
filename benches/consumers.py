"""The consumers a performance-minded user writes instead of toolwire, one per wire format.

Each is the fastest plain-Python code we would write for a *plain* stream: the reads framed with
bytes operations (a buffer and ``split(b"\\n")``, no SSE library; a line counts when it starts
with ``data: {``, which skips blank lines, comments, ``event:`` lines and ``[DONE]``; Ollama:
one JSON object per line), each payload decoded once, and a merge of text, reasoning, tool calls
(by index: id and name from the first fragment, arguments concatenated), finish reason and usage.

- ``msgspec``: one reused ``msgspec.json.Decoder(type=...)`` per format into ``msgspec.Struct``
  types that declare only the fields read (``gc=False``: the decoded values hold no reference
  cycles; unknown fields are skipped without being built); Anthropic and Responses events as
  tagged unions on ``type``, dispatched with ``type(ev) is``.
- ``orjson``: ``orjson.loads`` per payload, plain dict access.
- ``json``: the ``orjson`` code with the standard library's ``json.loads`` (the issue's "json
  consumer").

``CONSUMERS[fmt][kind](reads)`` returns ``{"content", "reasoning", "calls": [(id, name,
arguments)], "finish_reason", "usage"}``: arguments as sent (the JSON text, or the object Gemini
and Ollama send), usage as decoded (a dict, a Struct or Ollama's two counts). ``view(result)`` is
the shape every SDK peer is checked in (``formats.expected_view``), ``chat_message(result)`` the
chat ``message()`` of toolwire (``workloads.expected_message``); both outside the timing.

Plain streams only: what they get wrong (calls without ``index``, several calls sent with
index 0, arguments sent as an object, Azure's filter chunks, error chunks and events, ...) is
in benches/README.md and benches/test_consumers.py. Importing this module needs orjson and
msgspec.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Union

import msgspec
import orjson
from msgspec import Struct

__all__ = ["CONSUMERS", "KINDS", "Result", "chat_message", "view"]

Result = dict[str, Any]
Run = Callable[[list[bytes]], Result]
KINDS = ("msgspec", "orjson", "json")


def _result(
    content: list[str], reasoning: list[str], calls: list[Any], finish: Any, usage: Any
) -> Result:
    return {
        "content": "".join(content),
        "reasoning": "".join(reasoning),
        "calls": calls,
        "finish_reason": finish,
        "usage": usage,
    }


def view(result: Result) -> dict[str, Any]:
    """The result as the SDK peers are checked (``formats.expected_view``)."""
    return {
        "content": result["content"],
        "reasoning": result["reasoning"],
        "calls": [
            {"id": i, "name": n, "arguments": json.loads(a) if isinstance(a, str) else a}
            for i, n, a in result["calls"]
        ],
    }


def chat_message(result: Result) -> dict[str, Any]:
    """A chat result as toolwire's ``message()`` (``workloads.expected_message``)."""
    msg: dict[str, Any] = {"role": "assistant", "content": result["content"] or None}
    if result["reasoning"]:
        msg["reasoning_content"] = result["reasoning"]
    if result["calls"]:
        msg["tool_calls"] = [
            {"id": i, "type": "function", "function": {"name": n, "arguments": a}}
            for i, n, a in result["calls"]
        ]
    return msg


def _skipped(tags: tuple[str, ...]) -> list[type]:
    """Empty Structs for the event types a plain stream sends and the consumer does not read:
    a tagged union must name every tag it meets (one it does not name raises)."""
    return [
        msgspec.defstruct(f"_Skip{i}", [], gc=False, tag_field="type", tag=tag)
        for i, tag in enumerate(tags)
    ]


# --------------------------------------------------------------------------------------- chat
def _chat_dicts(loads: Callable[[bytes], Any]) -> Run:
    def run(reads: list[bytes]) -> Result:
        content: list[str] = []
        reasoning: list[str] = []
        calls: dict[int, list[Any]] = {}
        finish = usage = None
        buf = b""
        for read in reads:
            lines = (buf + read).split(b"\n")
            buf = lines.pop()
            for line in lines:
                if line[:7] != b"data: {":
                    continue
                chunk = loads(line[6:])
                for choice in chunk["choices"]:
                    delta = choice["delta"]
                    if text := delta.get("content"):
                        content.append(text)
                    if text := delta.get("reasoning_content"):
                        reasoning.append(text)
                    for tc in delta.get("tool_calls") or ():
                        fn = tc["function"]
                        call = calls.get(tc["index"])
                        if call is None:
                            calls[tc["index"]] = [tc["id"], fn["name"], [fn["arguments"]]]
                        else:
                            call[2].append(fn["arguments"])
                    finish = choice["finish_reason"] or finish
                usage = chunk.get("usage") or usage
        out = [(i, n, "".join(a)) for i, n, a in calls.values()]
        return _result(content, reasoning, out, finish, usage)

    return run


class _ChatFunction(Struct, gc=False):
    name: str | None = None
    arguments: str = ""


class _ChatCall(Struct, gc=False):
    index: int
    function: _ChatFunction
    id: str | None = None


class _ChatDelta(Struct, gc=False):
    content: str | None = None
    reasoning_content: str | None = None
    tool_calls: list[_ChatCall] | None = None


class _ChatChoice(Struct, gc=False):
    delta: _ChatDelta
    finish_reason: str | None = None


class _ChatUsage(Struct, gc=False):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


class _ChatChunk(Struct, gc=False):
    choices: list[_ChatChoice]
    usage: _ChatUsage | None = None


_chat_decode = msgspec.json.Decoder(_ChatChunk).decode


def _chat_msgspec(reads: list[bytes]) -> Result:
    content: list[str] = []
    reasoning: list[str] = []
    calls: dict[int, list[Any]] = {}
    finish = usage = None
    buf = b""
    for read in reads:
        lines = (buf + read).split(b"\n")
        buf = lines.pop()
        for line in lines:
            if line[:7] != b"data: {":
                continue
            chunk = _chat_decode(line[6:])
            for choice in chunk.choices:
                delta = choice.delta
                if delta.content:
                    content.append(delta.content)
                if delta.reasoning_content:
                    reasoning.append(delta.reasoning_content)
                if delta.tool_calls:
                    for tc in delta.tool_calls:
                        call = calls.get(tc.index)
                        if call is None:
                            calls[tc.index] = [tc.id, tc.function.name, [tc.function.arguments]]
                        else:
                            call[2].append(tc.function.arguments)
                finish = choice.finish_reason or finish
            usage = chunk.usage or usage
    out = [(i, n, "".join(a)) for i, n, a in calls.values()]
    return _result(content, reasoning, out, finish, usage)


# ---------------------------------------------------------------------------------- anthropic
def _anthropic_dicts(loads: Callable[[bytes], Any]) -> Run:
    def run(reads: list[bytes]) -> Result:
        content: list[str] = []
        reasoning: list[str] = []
        calls: dict[int, list[Any]] = {}  # block index -> [id, name, fragments]
        finish = None
        usage: dict[str, Any] = {}
        buf = b""
        for read in reads:
            lines = (buf + read).split(b"\n")
            buf = lines.pop()
            for line in lines:
                if line[:7] != b"data: {":
                    continue
                ev = loads(line[6:])
                kind = ev["type"]
                if kind == "content_block_delta":
                    delta = ev["delta"]
                    kind = delta["type"]
                    if kind == "input_json_delta":
                        calls[ev["index"]][2].append(delta["partial_json"])
                    elif kind == "text_delta":
                        content.append(delta["text"])
                    elif kind == "thinking_delta":
                        reasoning.append(delta["thinking"])
                elif kind == "content_block_start":
                    block = ev["content_block"]
                    if block["type"] == "tool_use":
                        calls[ev["index"]] = [block["id"], block["name"], []]
                elif kind == "message_delta":
                    finish = ev["delta"]["stop_reason"]
                    usage.update(ev["usage"])
                elif kind == "message_start":
                    usage.update(ev["message"]["usage"])
        out = [(i, n, "".join(a)) for i, n, a in calls.values()]
        return _result(content, reasoning, out, finish, usage)

    return run


class _TextDelta(Struct, gc=False, tag_field="type", tag="text_delta"):
    text: str


class _ThinkingDelta(Struct, gc=False, tag_field="type", tag="thinking_delta"):
    thinking: str


class _JsonDelta(Struct, gc=False, tag_field="type", tag="input_json_delta"):
    partial_json: str


class _SignatureDelta(Struct, gc=False, tag_field="type", tag="signature_delta"):
    pass


class _Block(Struct, gc=False):
    type: str
    id: str = ""
    name: str = ""


class _BlockDelta(Struct, gc=False, tag_field="type", tag="content_block_delta"):
    index: int
    delta: _TextDelta | _ThinkingDelta | _JsonDelta | _SignatureDelta


class _BlockStart(Struct, gc=False, tag_field="type", tag="content_block_start"):
    index: int
    content_block: _Block


class _AnthropicUsage(Struct, gc=False):
    input_tokens: int | None = None
    output_tokens: int | None = None


class _Message(Struct, gc=False):
    usage: _AnthropicUsage


class _MessageStart(Struct, gc=False, tag_field="type", tag="message_start"):
    message: _Message


class _StopReason(Struct, gc=False):
    stop_reason: str | None = None


class _MessageDelta(Struct, gc=False, tag_field="type", tag="message_delta"):
    delta: _StopReason
    usage: _AnthropicUsage


_anthropic_decode = msgspec.json.Decoder(
    _BlockDelta
    | _BlockStart
    | _MessageStart
    | _MessageDelta
    | Union[tuple(_skipped(("content_block_stop", "ping", "message_stop")))]  # noqa: UP007
).decode


def _anthropic_msgspec(reads: list[bytes]) -> Result:
    content: list[str] = []
    reasoning: list[str] = []
    calls: dict[int, list[Any]] = {}
    finish = usage = None
    buf = b""
    for read in reads:
        lines = (buf + read).split(b"\n")
        buf = lines.pop()
        for line in lines:
            if line[:7] != b"data: {":
                continue
            ev = _anthropic_decode(line[6:])
            kind = type(ev)
            if kind is _BlockDelta:
                delta = ev.delta
                kind = type(delta)
                if kind is _JsonDelta:
                    calls[ev.index][2].append(delta.partial_json)
                elif kind is _TextDelta:
                    content.append(delta.text)
                elif kind is _ThinkingDelta:
                    reasoning.append(delta.thinking)
            elif kind is _BlockStart:
                block = ev.content_block
                if block.type == "tool_use":
                    calls[ev.index] = [block.id, block.name, []]
            elif kind is _MessageDelta:
                finish = ev.delta.stop_reason
                usage = ev.usage  # the counts are cumulative
            elif kind is _MessageStart:
                usage = ev.message.usage
    out = [(i, n, "".join(a)) for i, n, a in calls.values()]
    return _result(content, reasoning, out, finish, usage)


# ---------------------------------------------------------------------------------- responses
def _responses_dicts(loads: Callable[[bytes], Any]) -> Run:
    def run(reads: list[bytes]) -> Result:
        content: list[str] = []
        reasoning: list[str] = []
        calls: dict[int, list[Any]] = {}  # output_index -> [call_id, name, fragments]
        finish = usage = None
        buf = b""
        for read in reads:
            lines = (buf + read).split(b"\n")
            buf = lines.pop()
            for line in lines:
                if line[:7] != b"data: {":
                    continue
                ev = loads(line[6:])
                kind = ev["type"]
                if kind == "response.output_text.delta":
                    content.append(ev["delta"])
                elif kind == "response.function_call_arguments.delta":
                    calls[ev["output_index"]][2].append(ev["delta"])
                elif kind == "response.reasoning_summary_text.delta":
                    reasoning.append(ev["delta"])
                elif kind == "response.output_item.added":
                    item = ev["item"]
                    if item["type"] == "function_call":
                        calls[ev["output_index"]] = [item["call_id"], item["name"], []]
                elif kind == "response.completed":
                    finish = ev["response"]["status"]
                    usage = ev["response"]["usage"]
        out = [(i, n, "".join(a)) for i, n, a in calls.values()]
        return _result(content, reasoning, out, finish, usage)

    return run


class _TextPiece(Struct, gc=False, tag_field="type", tag="response.output_text.delta"):
    delta: str


class _SummaryPiece(
    Struct, gc=False, tag_field="type", tag="response.reasoning_summary_text.delta"
):
    delta: str


class _ArgumentsPiece(
    Struct, gc=False, tag_field="type", tag="response.function_call_arguments.delta"
):
    output_index: int
    delta: str


class _Item(Struct, gc=False):
    type: str
    call_id: str = ""
    name: str = ""


class _ItemAdded(Struct, gc=False, tag_field="type", tag="response.output_item.added"):
    output_index: int
    item: _Item


class _ResponsesUsage(Struct, gc=False):
    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0


class _Response(Struct, gc=False):
    status: str
    usage: _ResponsesUsage | None = None


class _Completed(Struct, gc=False, tag_field="type", tag="response.completed"):
    response: _Response


_SKIPPED_RESPONSES = (
    "response.created",
    "response.in_progress",
    "response.output_item.done",
    "response.content_part.added",
    "response.content_part.done",
    "response.output_text.done",
    "response.reasoning_summary_part.added",
    "response.reasoning_summary_part.done",
    "response.reasoning_summary_text.done",
    "response.function_call_arguments.done",
)
_responses_decode = msgspec.json.Decoder(
    _TextPiece
    | _SummaryPiece
    | _ArgumentsPiece
    | _ItemAdded
    | _Completed
    | Union[tuple(_skipped(_SKIPPED_RESPONSES))]  # noqa: UP007
).decode


def _responses_msgspec(reads: list[bytes]) -> Result:
    content: list[str] = []
    reasoning: list[str] = []
    calls: dict[int, list[Any]] = {}
    finish = usage = None
    buf = b""
    for read in reads:
        lines = (buf + read).split(b"\n")
        buf = lines.pop()
        for line in lines:
            if line[:7] != b"data: {":
                continue
            ev = _responses_decode(line[6:])
            kind = type(ev)
            if kind is _TextPiece:
                content.append(ev.delta)
            elif kind is _ArgumentsPiece:
                calls[ev.output_index][2].append(ev.delta)
            elif kind is _SummaryPiece:
                reasoning.append(ev.delta)
            elif kind is _ItemAdded:
                if ev.item.type == "function_call":
                    calls[ev.output_index] = [ev.item.call_id, ev.item.name, []]
            elif kind is _Completed:
                finish = ev.response.status
                usage = ev.response.usage
    out = [(i, n, "".join(a)) for i, n, a in calls.values()]
    return _result(content, reasoning, out, finish, usage)


# ------------------------------------------------------------------------------------- gemini
def _gemini_dicts(loads: Callable[[bytes], Any]) -> Run:
    def run(reads: list[bytes]) -> Result:
        content: list[str] = []
        reasoning: list[str] = []
        calls: list[Any] = []
        finish = usage = None
        buf = b""
        for read in reads:
            lines = (buf + read).split(b"\n")  # CRLF: the CR is JSON whitespace
            buf = lines.pop()
            for line in lines:
                if line[:7] != b"data: {":
                    continue
                chunk = loads(line[6:])
                candidate = chunk["candidates"][0]
                for part in candidate["content"]["parts"]:
                    if "functionCall" in part:
                        fc = part["functionCall"]
                        calls.append((fc.get("id"), fc["name"], fc["args"]))
                    elif part.get("thought"):
                        reasoning.append(part["text"])
                    else:
                        content.append(part["text"])
                finish = candidate.get("finishReason") or finish
                usage = chunk.get("usageMetadata") or usage
        return _result(content, reasoning, calls, finish, usage)

    return run


class _GeminiCall(Struct, gc=False):
    name: str
    args: dict[str, Any] = {}
    id: str | None = None


class _GeminiPart(Struct, gc=False, rename="camel"):
    text: str = ""
    thought: bool = False
    function_call: _GeminiCall | None = None


class _GeminiContent(Struct, gc=False):
    parts: list[_GeminiPart] = []


class _GeminiCandidate(Struct, gc=False, rename="camel"):
    content: _GeminiContent
    finish_reason: str | None = None


class _GeminiUsage(Struct, gc=False, rename="camel"):
    prompt_token_count: int = 0
    candidates_token_count: int = 0
    thoughts_token_count: int = 0
    total_token_count: int = 0


class _GeminiChunk(Struct, gc=False, rename="camel"):
    candidates: list[_GeminiCandidate]
    usage_metadata: _GeminiUsage | None = None


_gemini_decode = msgspec.json.Decoder(_GeminiChunk).decode


def _gemini_msgspec(reads: list[bytes]) -> Result:
    content: list[str] = []
    reasoning: list[str] = []
    calls: list[Any] = []
    finish = usage = None
    buf = b""
    for read in reads:
        lines = (buf + read).split(b"\n")
        buf = lines.pop()
        for line in lines:
            if line[:7] != b"data: {":
                continue
            chunk = _gemini_decode(line[6:])
            candidate = chunk.candidates[0]
            for part in candidate.content.parts:
                if part.function_call is not None:
                    fc = part.function_call
                    calls.append((fc.id, fc.name, fc.args))
                elif part.thought:
                    reasoning.append(part.text)
                else:
                    content.append(part.text)
            finish = candidate.finish_reason or finish
            usage = chunk.usage_metadata or usage
    return _result(content, reasoning, calls, finish, usage)


# ------------------------------------------------------------------------------------- ollama
def _ollama_dicts(loads: Callable[[bytes], Any]) -> Run:
    def run(reads: list[bytes]) -> Result:
        content: list[str] = []
        reasoning: list[str] = []
        calls: list[Any] = []
        finish = usage = None
        buf = b""
        for read in (*reads, b"\n"):  # the newline ends a last line sent without one
            lines = (buf + read).split(b"\n")
            buf = lines.pop()
            for line in lines:
                if not line:
                    continue
                part = loads(line)
                message = part["message"]
                if message["content"]:
                    content.append(message["content"])
                if text := message.get("thinking"):
                    reasoning.append(text)
                for tc in message.get("tool_calls") or ():
                    fn = tc["function"]
                    calls.append((None, fn["name"], fn["arguments"]))
                if part["done"]:
                    finish = part.get("done_reason")
                    usage = (part["prompt_eval_count"], part["eval_count"])
        return _result(content, reasoning, calls, finish, usage)

    return run


class _OllamaFunction(Struct, gc=False):
    name: str
    arguments: dict[str, Any]


class _OllamaCall(Struct, gc=False):
    function: _OllamaFunction


class _OllamaMessage(Struct, gc=False):
    content: str = ""
    thinking: str = ""
    tool_calls: list[_OllamaCall] | None = None


class _OllamaLine(Struct, gc=False):
    message: _OllamaMessage
    done: bool
    done_reason: str | None = None
    prompt_eval_count: int = 0
    eval_count: int = 0


_ollama_decode = msgspec.json.Decoder(_OllamaLine).decode


def _ollama_msgspec(reads: list[bytes]) -> Result:
    content: list[str] = []
    reasoning: list[str] = []
    calls: list[Any] = []
    finish = usage = None
    buf = b""
    for read in (*reads, b"\n"):
        lines = (buf + read).split(b"\n")
        buf = lines.pop()
        for line in lines:
            if not line:
                continue
            part = _ollama_decode(line)
            message = part.message
            if message.content:
                content.append(message.content)
            if message.thinking:
                reasoning.append(message.thinking)
            if message.tool_calls:
                for tc in message.tool_calls:
                    calls.append((None, tc.function.name, tc.function.arguments))
            if part.done:
                finish = part.done_reason
                usage = (part.prompt_eval_count, part.eval_count)
    return _result(content, reasoning, calls, finish, usage)


CONSUMERS: dict[str, dict[str, Run]] = {
    fmt: {"msgspec": typed, "orjson": dicts(orjson.loads), "json": dicts(json.loads)}
    for fmt, typed, dicts in (
        ("chat", _chat_msgspec, _chat_dicts),
        ("anthropic", _anthropic_msgspec, _anthropic_dicts),
        ("responses", _responses_msgspec, _responses_dicts),
        ("gemini", _gemini_msgspec, _gemini_dicts),
        ("ollama", _ollama_msgspec, _ollama_dicts),
    )
}
"""``CONSUMERS[format][kind]``: reads -> result; ``kind`` in ``KINDS``."""
