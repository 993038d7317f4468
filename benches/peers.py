"""Benchmark adapters: one interface per job, for toolwire, the reference and the peers.

Pipeline (SSE reads -> final message): ``PIPELINE[name].run(reads) -> message dict`` in the
shape of ``toolwire.StreamAccumulator.message()``.

==================  ==========================================================================
``toolwire``        ``StreamAccumulator(events=True)``: feed every read, ``finish()``, ``message()``
``toolwire-noev``   the same with ``events=False``
``reference``       ``tests/reference/chat.py: ReferenceAccumulator`` (pure Python, the baseline)
``openai-sdk``      the openai SDK's own SSE decoder (``openai._streaming.SSEDecoder``),
                    ``ChatCompletionChunk.model_validate_json`` per data line,
                    ``ChatCompletionStreamState.handle_chunk``, ``get_final_completion()``
                    (the SDK's ``Stream`` builds chunks with ``construct_type`` instead of
                    validating; validating is the faster of the two, so the ratio is conservative)
``httpx-sse``       ``httpx_sse``'s ``SSELineDecoder`` + ``SSEDecoder``, ``json.loads`` per event
                    and the usual hand-written dict merge (calls keyed by ``index``)
==================  ==========================================================================

Partial arguments (fragments -> value after every fragment):
``PARTIAL[name].prepare(fragments)`` builds the input outside the timing, ``.run(prepared)``
reads the value after each fragment and returns the last one. Re-parsing peers also have
``.run_strided(prepared, stride)``: the same loop, but the prefix is parsed only after every
``stride``-th fragment (time x stride estimates the full run; used by the gate and the plot).

==================  ==========================================================================
``toolwire``        ``toolwire.PartialJSON``: ``feed(fragment)`` + ``value()`` per fragment
``toolwire-acc``    through ``StreamAccumulator``: one SSE chunk per fragment, ``ev.partial`` of
                    each ``ToolCallDelta``
``toolwire-acc-net``  the same chunks in 1-4 KB reads (several fragments per read)
``reference``       ``tests/reference/partial_json.parse_partial`` re-parse of the whole prefix
``jiter``           ``jiter.from_json(prefix, partial_mode="trailing-strings")`` re-parse
``partial-json-parser``  ``partial_json_parser.loads(prefix)`` re-parse
``langchain``       ``langchain_core.utils.json.parse_partial_json(prefix)`` re-parse
==================  ==========================================================================

``MODULES`` names the module each adapter needs (for ``pytest.importorskip``); the imports
happen on first use, so importing this file needs none of the peers.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["MODULES", "PARTIAL", "PIPELINE", "REPARSERS", "PartialPeer", "PipelinePeer"]


# ------------------------------------------------------------------------------- pipeline
@dataclass(frozen=True)
class PipelinePeer:
    name: str
    module: str
    run: Callable[[list[bytes]], dict[str, Any]]


def _toolwire_run(events: bool) -> Callable[[list[bytes]], dict[str, Any]]:
    def run(reads: list[bytes]) -> dict[str, Any]:
        from toolwire import StreamAccumulator

        acc = StreamAccumulator(events=events)
        feed = acc.feed
        for read in reads:
            feed(read)
        acc.finish()
        return acc.message()

    return run


def _reference_run(reads: list[bytes]) -> dict[str, Any]:
    from tests.reference.chat import ReferenceAccumulator

    acc = ReferenceAccumulator(events=True)
    feed = acc.feed
    for read in reads:
        feed(read)
    acc.finish()
    return acc.message()


def _openai_message(message: Any) -> dict[str, Any]:
    """The SDK's final message in the shape of ``toolwire``'s ``message()``."""
    out: dict[str, Any] = {"role": "assistant", "content": message.content or None}
    extra = message.model_extra or {}
    if extra.get("reasoning_content"):
        out["reasoning_content"] = extra["reasoning_content"]
    if message.refusal:
        out["refusal"] = message.refusal
    if message.tool_calls:
        out["tool_calls"] = [
            {
                "id": tc.id,
                "type": tc.type,
                "function": {"name": tc.function.name, "arguments": tc.function.arguments},
            }
            for tc in message.tool_calls
        ]
    if message.function_call is not None:
        out["function_call"] = {
            "name": message.function_call.name,
            "arguments": message.function_call.arguments,
        }
    return out


def _openai_run(reads: list[bytes]) -> dict[str, Any]:
    from openai._streaming import SSEDecoder
    from openai.lib.streaming.chat._completions import ChatCompletionStreamState
    from openai.types.chat import ChatCompletionChunk

    state: ChatCompletionStreamState[Any] = ChatCompletionStreamState()
    validate = ChatCompletionChunk.model_validate_json
    for sse in SSEDecoder().iter_bytes(iter(reads)):
        data = sse.data
        if data.startswith("[DONE]"):
            break
        if not data.strip() or sse.event not in (None, "message"):
            continue
        state.handle_chunk(validate(data))
    return _openai_message(state.get_final_completion().choices[0].message)


def _httpx_sse_run(reads: list[bytes]) -> dict[str, Any]:
    from httpx_sse._decoders import SSEDecoder, SSELineDecoder

    text = codecs.getincrementaldecoder("utf-8")()
    lines = SSELineDecoder()
    sse = SSEDecoder()
    content: list[str] = []
    reasoning: list[str] = []
    calls: dict[int, dict[str, Any]] = {}
    done = False

    def handle(line: str) -> None:
        nonlocal done
        event = sse.decode(line)
        if event is None or done or event.event not in ("", "message"):
            return
        data = event.data
        if data == "[DONE]":
            done = True
            return
        if not data.strip():
            return
        chunk = json.loads(data)
        for choice in chunk.get("choices") or ():
            if choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            if delta.get("content"):
                content.append(delta["content"])
            if delta.get("reasoning_content"):
                reasoning.append(delta["reasoning_content"])
            for tc in delta.get("tool_calls") or ():
                call = calls.get(tc.get("index", 0))
                if call is None:
                    call = calls[tc.get("index", 0)] = {
                        "id": "",
                        "type": "function",
                        "function": {"name": "", "arguments": ""},
                    }
                if tc.get("id"):
                    call["id"] = tc["id"]
                fn = tc.get("function") or {}
                if fn.get("name"):
                    call["function"]["name"] = fn["name"]
                if fn.get("arguments"):
                    call["function"]["arguments"] += fn["arguments"]

    for read in reads:
        for line in lines.decode(text.decode(read)):
            handle(line)
    tail = text.decode(b"", final=True)
    for line in [*(lines.decode(tail) if tail else []), *lines.flush(), ""]:
        handle(line)
    msg: dict[str, Any] = {"role": "assistant", "content": "".join(content) or None}
    if reasoning:
        msg["reasoning_content"] = "".join(reasoning)
    if calls:
        msg["tool_calls"] = [calls[i] for i in sorted(calls)]
    return msg


PIPELINE: dict[str, PipelinePeer] = {
    p.name: p
    for p in (
        PipelinePeer("toolwire", "toolwire", _toolwire_run(True)),
        PipelinePeer("toolwire-noev", "toolwire", _toolwire_run(False)),
        PipelinePeer("reference", "reference.chat", _reference_run),
        PipelinePeer("openai-sdk", "openai", _openai_run),
        PipelinePeer("httpx-sse", "httpx_sse", _httpx_sse_run),
    )
}


# -------------------------------------------------------------------------------- partial
@dataclass(frozen=True)
class PartialPeer:
    name: str
    module: str
    prepare: Callable[[list[str]], Any]
    run: Callable[[Any], Any]
    run_strided: Callable[[Any, int], Any] | None = None  # re-parsers only


def _partialjson_run(fragments: list[str]) -> Any:
    from toolwire import PartialJSON

    parser = PartialJSON()
    feed, value = parser.feed, parser.value
    v = None
    for fragment in fragments:
        feed(fragment)
        v = value()
    return v


def _acc_prepare(fragments: list[str]) -> list[bytes]:
    from benches.workloads import partial_call_chunks

    return partial_call_chunks(fragments)


def _acc_net_prepare(fragments: list[str]) -> list[bytes]:
    from benches.workloads import partial_call_chunks, split_reads

    return split_reads(b"".join(partial_call_chunks(fragments)), "net")


def _acc_run(chunks: list[bytes]) -> Any:
    from toolwire import StreamAccumulator, ToolCallDelta

    acc = StreamAccumulator(events=True)
    feed = acc.feed
    v = None
    for chunk in chunks:
        for ev in feed(chunk):
            if type(ev) is ToolCallDelta:
                v = ev.partial
    return v


def _reparser(
    load: Callable[[], Callable[[Any], Any]], as_bytes: bool
) -> tuple[Callable[[list[str]], Any], Callable[[Any], Any], Callable[[Any, int], Any]]:
    """prepare/run/run_strided for a peer that re-parses the whole prefix each time."""

    def prepare(fragments: list[str]) -> Any:
        return [f.encode() for f in fragments] if as_bytes else list(fragments)

    def run(fragments: Any) -> Any:
        parse = load()
        buf = b"" if as_bytes else ""
        v = None
        for fragment in fragments:
            buf += fragment
            v = parse(buf)
        return v

    def run_strided(fragments: Any, stride: int) -> Any:
        parse = load()
        buf = b"" if as_bytes else ""
        v = None
        last = len(fragments) - 1
        for i, fragment in enumerate(fragments):
            buf += fragment
            if i % stride == stride - 1 or i == last:
                v = parse(buf)
        return v

    return prepare, run, run_strided


def _load_jiter() -> Callable[[Any], Any]:
    import functools

    import jiter

    return functools.partial(jiter.from_json, partial_mode="trailing-strings")


def _load_pjp() -> Callable[[Any], Any]:
    import partial_json_parser

    return partial_json_parser.loads  # type: ignore[no-any-return]


def _load_langchain() -> Callable[[Any], Any]:
    from langchain_core.utils.json import parse_partial_json

    return parse_partial_json


def _load_reference() -> Callable[[Any], Any]:
    from tests.reference.partial_json import parse_partial

    return parse_partial


def _make_reparser(
    name: str, module: str, load: Callable[[], Callable[[Any], Any]], as_bytes: bool
) -> PartialPeer:
    prepare, run, run_strided = _reparser(load, as_bytes)
    return PartialPeer(name, module, prepare, run, run_strided)


PARTIAL: dict[str, PartialPeer] = {
    p.name: p
    for p in (
        PartialPeer("toolwire", "toolwire", list, _partialjson_run),
        PartialPeer("toolwire-acc", "toolwire", _acc_prepare, _acc_run),
        PartialPeer("toolwire-acc-net", "toolwire", _acc_net_prepare, _acc_run),
        _make_reparser("reference", "reference.partial_json", _load_reference, False),
        _make_reparser("jiter", "jiter", _load_jiter, True),
        _make_reparser("partial-json-parser", "partial_json_parser", _load_pjp, False),
        _make_reparser("langchain", "langchain_core", _load_langchain, False),
    )
}
REPARSERS = tuple(name for name, p in PARTIAL.items() if p.run_strided is not None)

MODULES = {
    **{n: p.module for n, p in PIPELINE.items()},
    **{f"partial:{n}": p.module for n, p in PARTIAL.items()},
}
