"""The official SDK accumulator of every wire format, on the bytes of benches/formats.py.

Each peer is the SDK's own pipeline from network reads to the final message, with the
SDK's own functions, in the order its stream class calls them (nothing re-implemented, nothing
skipped but the HTTP request, which toolwire does not do either). ``run(reads)`` returns what
the SDK gives its user; ``view(result)`` turns that into the checked shape
(``formats.expected_view``: text, reasoning, calls with their wire ids and parsed arguments),
outside the timing.

=========  ===================================================================================
chat       ``benches/peers.py`` ``openai-sdk``: ``openai._streaming.SSEDecoder``,
           ``ChatCompletionChunk.model_validate_json``, ``ChatCompletionStreamState``
anthropic  what ``client.messages.stream()`` runs: ``anthropic._streaming.SSEDecoder``
           (``Stream.__stream__``: ``ping`` and nameless events skipped, ``sse.json()``,
           ``construct_type(type_=RawMessageStreamEvent)``), then per event
           ``MessageStream.__stream__``: ``accumulate_event`` (the snapshot; partial tool input
           re-parsed by jiter on every ``input_json_delta``) and ``build_events`` (the events
           its iterator yields); the result is ``get_final_message()``'s snapshot
responses  what ``client.responses.stream()`` runs: ``openai._streaming.SSEDecoder``
           (``Stream.__stream__``: ``sse.json()``, ``construct_type(type_=ResponseStreamEvent)``),
           ``ResponseStreamState.handle_event`` per event (snapshot and the events its
           iterator yields); the result is ``get_final_response()``'s response
gemini     what ``client.models.generate_content_stream()`` runs per chunk (google-genai has
           no accumulator): ``HttpResponse.segments()`` (its SSE line decoder, ``json.loads``),
           ``request_streamed``'s ``json.dumps`` + error check, ``json.loads``,
           ``_GenerateContentResponse_from_mldev``, ``GenerateContentResponse._from_response``;
           then the accumulation a user writes: text and thought parts joined, function calls
           collected, the last usage and finish reason kept
ollama     what ``ollama.Client.chat(stream=True)`` runs per line: ``httpx.Response.iter_lines``,
           ``json.loads``, the ``error`` check, ``ChatResponse(**part)``; then the user's
           accumulation of ``content``, ``thinking`` and ``tool_calls``
=========  ===================================================================================

The anthropic and openai decoders take the reads directly (as ``peers.py`` does for chat; the
SDKs' ``Stream`` passes them through ``httpx2.Response.iter_bytes`` first); google-genai and
ollama read an ``httpx2``/``httpx`` ``Response`` over the reads, because their decoders take
one. ``SDK_STREAMS`` runs the real public stream API (``client.messages.stream`` etc.) over a
mock transport; ``benches/test_formats.py`` checks that every peer gives the same result, so
the peers are the SDKs' own pipelines, not lighter or heavier stand-ins.

``MODULES`` names the module each peer needs (for ``pytest.importorskip``); the imports happen
on first use.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

__all__ = ["MODULES", "PEERS", "SDK_STREAMS", "FormatPeer", "toolwire_factory", "toolwire_run"]


@dataclass(frozen=True)
class FormatPeer:
    format: str
    name: str
    module: str
    run: Callable[[list[bytes]], Any]
    view: Callable[[Any], dict[str, Any]]
    what: str  # one line for the gate's notes
    # A lighter variant the gate prints as an info row (not judged): (label, run).
    light: tuple[str, Callable[[list[bytes]], Any]] | None = None


def _view(content: str, reasoning: str, calls: list[tuple[str | None, str, Any]]) -> dict[str, Any]:
    return {
        "content": content,
        "reasoning": reasoning,
        "calls": [{"id": i, "name": n, "arguments": a} for i, n, a in calls],
    }


# ----------------------------------------------------------------------------------- toolwire
def toolwire_factory(fmt: str) -> Callable[..., Any]:
    """``StreamAccumulator`` bound to ``format=fmt``; raises ValueError (from the core) for a
    format it does not read."""
    import functools

    import toolwire

    kwargs: dict[str, Any] = {"format": fmt}
    toolwire.StreamAccumulator(**kwargs)
    return functools.partial(toolwire.StreamAccumulator, **kwargs)


def toolwire_run(factory: Callable[..., Any], reference: bool = False) -> Callable[..., Any]:
    """Reads -> ``message()`` through ``factory(events=True)``, reading the events as a user
    does: every ``TextDelta``'s text is taken (printed, in a chat UI)."""
    if reference:  # tests/reference: events are tuples ("TextDelta", choice, text)

        def run_reference(reads: list[bytes]) -> dict[str, Any]:
            acc = factory(events=True)
            shown: list[str] = []
            for read in reads:
                for ev in acc.feed(read):
                    if ev[0] == "TextDelta":
                        shown.append(ev[2])
            for ev in acc.finish():
                if ev[0] == "TextDelta":
                    shown.append(ev[2])
            return acc.message()  # type: ignore[no-any-return]

        return run_reference

    from toolwire import TextDelta

    def run(reads: list[bytes]) -> dict[str, Any]:
        acc = factory(events=True)
        feed = acc.feed
        shown: list[str] = []
        show = shown.append
        for read in reads:
            for ev in feed(read):
                if type(ev) is TextDelta:
                    show(ev.text)
        for ev in acc.finish():
            if type(ev) is TextDelta:
                show(ev.text)
        return acc.message()  # type: ignore[no-any-return]

    return run


# --------------------------------------------------------------------------------------- chat
def _chat_run(reads: list[bytes]) -> dict[str, Any]:
    from benches.peers import PIPELINE

    return PIPELINE["openai-sdk"].run(reads)


def _chat_view(msg: dict[str, Any]) -> dict[str, Any]:
    calls: list[tuple[str | None, str, Any]] = [
        (tc["id"], tc["function"]["name"], json.loads(tc["function"]["arguments"]))
        for tc in msg.get("tool_calls") or ()
    ]
    return _view(msg["content"] or "", msg.get("reasoning_content") or "", calls)


# ---------------------------------------------------------------------------------- anthropic
def _anthropic(reads: list[bytes], events: bool) -> Any:
    from anthropic._models import construct_type
    from anthropic._streaming import SSEDecoder
    from anthropic.lib.streaming._messages import accumulate_event, build_events
    from anthropic.types import RawMessageStreamEvent

    snapshot: Any = None
    json_bufs: dict[int, bytes] = {}
    yielded = 0
    for sse in SSEDecoder().iter_bytes(iter(reads)):
        # anthropic._streaming.Stream.__stream__
        if sse.event == "ping" or sse.event is None:
            continue
        if sse.event == "error":
            raise RuntimeError(sse.data)
        if not sse.data:
            continue
        event: Any = construct_type(type_=RawMessageStreamEvent, value=sse.json())
        # anthropic.lib.streaming._messages.MessageStream.__stream__
        if snapshot is None and event.type != "message_start":
            yielded += 1
            continue
        snapshot = accumulate_event(event=event, current_snapshot=snapshot, json_bufs=json_bufs)
        if events:
            yielded += len(build_events(event=event, message_snapshot=snapshot))
    return snapshot


def _anthropic_run(reads: list[bytes]) -> Any:
    return _anthropic(reads, events=True)


def _anthropic_accumulate_only(reads: list[bytes]) -> Any:
    """The same without ``build_events``: no public API runs this (every path through
    ``MessageStream`` builds its events), so the gate prints it beside the row, not judged."""
    return _anthropic(reads, events=False)


def _anthropic_view(message: Any) -> dict[str, Any]:
    content: list[str] = []
    reasoning: list[str] = []
    calls: list[tuple[str | None, str, Any]] = []
    for block in message.content:
        if block.type == "text":
            content.append(block.text)
        elif block.type == "thinking":
            reasoning.append(block.thinking)
        elif block.type == "tool_use":
            calls.append((block.id, block.name, block.input))
    return _view("".join(content), "".join(reasoning), calls)


# ---------------------------------------------------------------------------------- responses
def _responses_run(reads: list[bytes]) -> Any:
    from openai._models import construct_type
    from openai._streaming import SSEDecoder
    from openai._types import omit
    from openai.lib.streaming.responses._responses import ResponseStreamState
    from openai.types.responses import ResponseStreamEvent

    state: ResponseStreamState[Any] = ResponseStreamState(input_tools=omit, text_format=omit)
    yielded = 0
    for sse in SSEDecoder().iter_bytes(iter(reads)):
        # openai._streaming.Stream.__stream__
        if sse.data.startswith("[DONE]"):
            break
        data = sse.json()
        if isinstance(data, dict) and data.get("error"):
            raise RuntimeError(data["error"])
        event: Any = construct_type(type_=ResponseStreamEvent, value=data)
        # openai.lib.streaming.responses._responses.ResponseStream.__stream__
        yielded += len(state.handle_event(event))
    return state._completed_response


def _responses_view(response: Any) -> dict[str, Any]:
    content: list[str] = []
    reasoning: list[str] = []
    calls: list[tuple[str | None, str, Any]] = []
    for item in response.output:
        if item.type == "message":
            content.extend(p.text for p in item.content if p.type == "output_text")
        elif item.type == "reasoning":
            reasoning.extend(s.text for s in item.summary)
        elif item.type == "function_call":
            calls.append((item.call_id, item.name, json.loads(item.arguments)))
    return _view("".join(content), "".join(reasoning), calls)


# ------------------------------------------------------------------------------------- gemini
def _gemini_chunks(reads: list[bytes]) -> Iterator[Any]:
    """``GenerateContentResponse`` per chunk, as ``Models._generate_content_stream`` makes them
    (Gemini API, not Vertex; no ``config``, so ``_from_response`` gets no kwargs)."""
    import httpx2
    from google.genai import _api_client, types
    from google.genai.models import _GenerateContentResponse_from_mldev

    response = httpx2.Response(200, content=iter(reads))
    session = _api_client.HttpResponse(headers={}, response_stream=response)
    for chunk in session.segments():
        # BaseApiClient.request_streamed
        chunk_dump = json.dumps(chunk)
        if chunk_dump.startswith('{"error":'):
            raise RuntimeError(chunk_dump)
        body = types.HttpResponse(headers=session.headers, body=chunk_dump)
        # Models._generate_content_stream
        response_dict = {} if not body.body else json.loads(body.body)
        response_dict = _GenerateContentResponse_from_mldev(response_dict, None, None)
        value = types.GenerateContentResponse._from_response(response=response_dict, kwargs={})
        value.sdk_http_response = types.HttpResponse(headers=body.headers)
        yield value


def _gemini_accumulate(chunks: Iterator[Any]) -> dict[str, Any]:
    """What a user of google-genai writes to get the turn out of the chunks."""
    content: list[str] = []
    reasoning: list[str] = []
    calls: list[Any] = []
    usage = finish = None
    for chunk in chunks:
        if chunk.usage_metadata is not None:
            usage = chunk.usage_metadata
        if not chunk.candidates:
            continue
        candidate = chunk.candidates[0]
        if candidate.finish_reason is not None:
            finish = candidate.finish_reason
        if candidate.content is None or not candidate.content.parts:
            continue
        for part in candidate.content.parts:
            if part.function_call is not None:
                calls.append(part.function_call)
            elif part.text:
                (reasoning if part.thought else content).append(part.text)
    return {
        "content": "".join(content),
        "reasoning": "".join(reasoning),
        "calls": calls,
        "usage": usage,
        "finish_reason": finish,
    }


def _gemini_run(reads: list[bytes]) -> dict[str, Any]:
    return _gemini_accumulate(_gemini_chunks(reads))


def _gemini_view(turn: dict[str, Any]) -> dict[str, Any]:
    calls: list[tuple[str | None, str, Any]] = [(fc.id, fc.name, fc.args) for fc in turn["calls"]]
    return _view(turn["content"], turn["reasoning"], calls)


# ------------------------------------------------------------------------------------- ollama
def _ollama_parts(lines: Iterator[str]) -> Iterator[Any]:
    from ollama import ChatResponse

    for line in lines:
        # ollama.Client._request(stream=True).inner
        part = json.loads(line)
        if err := part.get("error"):
            raise RuntimeError(err)
        yield ChatResponse(**part)


def _ollama_accumulate(parts: Iterator[Any]) -> dict[str, Any]:
    """What a user of ollama-python writes to get the turn out of the parts."""
    content: list[str] = []
    thinking: list[str] = []
    calls: list[Any] = []
    final = None
    for part in parts:
        message = part.message
        if message.content:
            content.append(message.content)
        if message.thinking:
            thinking.append(message.thinking)
        if message.tool_calls:
            calls.extend(message.tool_calls)
        if part.done:
            final = part
    return {
        "content": "".join(content),
        "reasoning": "".join(thinking),
        "calls": calls,
        "final": final,
    }


def _ollama_run(reads: list[bytes]) -> dict[str, Any]:
    import httpx

    response = httpx.Response(200, content=iter(reads))
    return _ollama_accumulate(_ollama_parts(response.iter_lines()))


def _ollama_view(turn: dict[str, Any]) -> dict[str, Any]:
    calls: list[tuple[str | None, str, Any]] = [
        (None, tc.function.name, dict(tc.function.arguments)) for tc in turn["calls"]
    ]
    return _view(turn["content"], turn["reasoning"], calls)


PEERS: dict[str, FormatPeer] = {
    p.format: p
    for p in (
        FormatPeer(
            "chat",
            "openai-sdk",
            "openai",
            _chat_run,
            _chat_view,
            "SSEDecoder, ChatCompletionChunk.model_validate_json, ChatCompletionStreamState",
        ),
        FormatPeer(
            "anthropic",
            "anthropic-sdk",
            "anthropic",
            _anthropic_run,
            _anthropic_view,
            "SSEDecoder, construct_type, accumulate_event + build_events (MessageStream)",
            ("anthropic-sdk, accumulate_event only", _anthropic_accumulate_only),
        ),
        FormatPeer(
            "responses",
            "openai-sdk",
            "openai",
            _responses_run,
            _responses_view,
            "SSEDecoder, construct_type, ResponseStreamState.handle_event (ResponseStream)",
        ),
        FormatPeer(
            "gemini",
            "google-genai",
            "google.genai",
            _gemini_run,
            _gemini_view,
            "segments(), GenerateContentResponse._from_response per chunk, user's merge",
        ),
        FormatPeer(
            "ollama",
            "ollama-python",
            "ollama",
            _ollama_run,
            _ollama_view,
            "httpx iter_lines, json.loads, ChatResponse(**part) per line, user's merge",
        ),
    )
}
MODULES = {fmt: p.module for fmt, p in PEERS.items()}


# ------------------------------------------------- the public stream APIs, over a mock transport
def _anthropic_stream(body: bytes) -> Any:
    import anthropic
    import httpx2

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=body)

    client = anthropic.Anthropic(
        api_key="x", http_client=httpx2.Client(transport=httpx2.MockTransport(handler))
    )
    with client.messages.stream(
        model="claude-sonnet-4-5", max_tokens=1024, messages=[{"role": "user", "content": "hi"}]
    ) as stream:
        return stream.get_final_message()


def _responses_stream(body: bytes) -> Any:
    import httpx2
    import openai

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=body)

    client = openai.OpenAI(
        api_key="x", http_client=httpx2.Client(transport=httpx2.MockTransport(handler))
    )
    with client.responses.stream(model="gpt-5", input="hi") as stream:
        return stream.get_final_response()


def _gemini_stream(body: bytes) -> dict[str, Any]:
    import httpx2
    from google import genai
    from google.genai import types

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=body)

    client = genai.Client(
        api_key="x",
        http_options=types.HttpOptions(
            httpx_client=httpx2.Client(transport=httpx2.MockTransport(handler))
        ),
    )
    chunks = client.models.generate_content_stream(model="gemini-2.5-flash", contents="hi")
    return _gemini_accumulate(iter(chunks))


def _ollama_stream(body: bytes) -> dict[str, Any]:
    import httpx
    import ollama

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "application/x-ndjson"}, content=body)

    client = ollama.Client(host="http://ollama.test", transport=httpx.MockTransport(handler))
    parts = client.chat(model="qwen3:8b", messages=[{"role": "user", "content": "hi"}], stream=True)
    return _ollama_accumulate(iter(parts))


SDK_STREAMS: dict[str, Callable[[bytes], Any]] = {
    "anthropic": _anthropic_stream,
    "responses": _responses_stream,
    "gemini": _gemini_stream,
    "ollama": _ollama_stream,
}
"""The SDK's public streaming call over a mock HTTP transport returning ``body``: what the
peers above must equal (benches/test_formats.py)."""
