"""toolwire.testing.ScriptedServer serves every API from one script: OpenAI Chat Completions,
OpenAI Responses, Anthropic Messages, Gemini and Ollama, chosen by the request path.

Each API's rendering is read back by ``StreamAccumulator(format=api)`` and ``format="auto"``
(and, when installed, by the API's official SDK); faults and error bodies come in each API's
shape; every request check rejects a malformed request with the API's 400 and accepts the
well-formed one. Only 127.0.0.1 servers started here are contacted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

import toolwire
from toolwire.testing import Fault, ScriptedServer, Turn, call

APIS = ("chat", "responses", "anthropic", "gemini", "ollama")
SEPARATORS = {
    "chat": b"\n\n",
    "responses": b"\n\n",
    "anthropic": b"\n\n",
    "gemini": b"\r\n\r\n",
    "ollama": b"\n",
}
USER = [{"role": "user", "content": "hi"}]
GEMINI_USER = [{"role": "user", "parts": [{"text": "hi"}]}]


def http() -> httpx.Client:
    return httpx.Client(trust_env=False, timeout=10)


def endpoint(server: ScriptedServer, api: str) -> str:
    base = server.base_url(api)
    return {
        "chat": base + "/chat/completions",
        "responses": base + "/responses",
        "anthropic": base + "/v1/messages",
        "gemini": base + "/v1beta/models/gemini-test:streamGenerateContent?alt=sse",
        "ollama": base + "/api/chat",
    }[api]


def good_body(api: str) -> dict[str, Any]:
    """A minimal well-formed streaming request of each API."""
    bodies: dict[str, dict[str, Any]] = {
        "chat": {"model": "m", "messages": USER, "stream": True},
        "responses": {"model": "m", "input": "hi", "stream": True},
        "anthropic": {"model": "m", "max_tokens": 64, "messages": USER, "stream": True},
        "gemini": {"contents": GEMINI_USER},
        "ollama": {"model": "m", "messages": USER},
    }
    return bodies[api]


def headers_for(api: str) -> dict[str, str]:
    return {"anthropic-version": "2023-06-01"} if api == "anthropic" else {}


def post(
    server: ScriptedServer,
    api: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
    url: str | None = None,
) -> httpx.Response:
    with http() as client:
        return client.post(
            url or endpoint(server, api),
            json=good_body(api) if body is None else body,
            headers=headers_for(api) if headers is None else headers,
        )


class Read:
    """A streamed answer read by an accumulator, one network read at a time."""

    def __init__(self, acc: toolwire.StreamAccumulator, raw: bytes, errors: list[str]) -> None:
        self.acc, self.raw, self.errors = acc, raw, errors


def read(server: ScriptedServer, api: str, fmt: str | None = None, body: Any = None) -> Read:
    acc = toolwire.StreamAccumulator(format=fmt or api)  # type: ignore[arg-type]
    raw = b""
    errors: list[str] = []
    with http() as client:
        try:
            with client.stream(
                "POST", endpoint(server, api), json=body or good_body(api), headers=headers_for(api)
            ) as response:
                assert response.status_code == 200, response.read()
                for data in response.iter_raw():
                    raw += data
                    try:
                        acc.feed(data)
                    except toolwire.ParseError as exc:
                        errors.append(exc.kind)
        except httpx.TransportError:
            pass  # a cut body: the accumulator says what it got
    acc.finish()
    return Read(acc, raw, errors)


def with_parsed_arguments(message: dict[str, Any]) -> dict[str, Any]:
    """Chat, Responses and Anthropic stream arguments as text; Gemini and Ollama send objects,
    read back as compact JSON: compare the values."""
    calls = [
        {**c, "function": {**c["function"], "arguments": json.loads(c["function"]["arguments"])}}
        for c in message.get("tool_calls", [])
    ]
    return {**message, "tool_calls": calls} if calls else message


TURN = Turn(
    "Let me check both.",
    reasoning="The user wants weather and time.",
    tool_calls=[
        call("get_weather", {"city": "Paris", "units": ["C", "é"]}, id="call_a"),
        call("get_time", {"tz": "Europe/Paris"}, id="call_b"),
    ],
    usage={"prompt_tokens": 11, "completion_tokens": 7},
)
EXPECTED = {
    "role": "assistant",
    "content": "Let me check both.",
    "reasoning_content": "The user wants weather and time.",
    "tool_calls": [
        {
            "id": "call_a",
            "type": "function",
            "function": {
                "name": "get_weather",
                "arguments": {"city": "Paris", "units": ["C", "é"]},
            },
        },
        {
            "id": "call_b",
            "type": "function",
            "function": {"name": "get_time", "arguments": {"tz": "Europe/Paris"}},
        },
    ],
}


# -- rendering, read back by the accumulator ----------------------------------------------------


@pytest.mark.parametrize("chunking", ["event", "random"])
@pytest.mark.parametrize("auto", [False, True], ids=["explicit", "auto"])
@pytest.mark.parametrize("api", APIS)
def test_turn_reads_back_as_the_scripted_message(api: str, auto: bool, chunking: str) -> None:
    with ScriptedServer([TURN], chunking=chunking) as server:  # type: ignore[arg-type]
        body = {**good_body("chat"), "stream_options": {"include_usage": True}}
        got = read(server, api, "auto" if auto else api, body if api == "chat" else None)
    acc = got.acc
    assert got.errors == []
    assert acc.format == api
    assert with_parsed_arguments(acc.message()) == EXPECTED
    assert acc.outcome == "tool_calls"
    assert acc.token_usage == {"input_tokens": 11, "output_tokens": 7, "total_tokens": 18}
    assert acc.done and not acc.truncated
    assert server.requests[0].api == api


@pytest.mark.parametrize("api", APIS)
def test_text_only_turn_ends_with_stop(api: str) -> None:
    with ScriptedServer([Turn("Just text, no calls.", text_piece=3)]) as server:
        acc = read(server, api).acc
    assert acc.message() == {"role": "assistant", "content": "Just text, no calls."}
    assert acc.outcome == "stop"
    if api == "chat":  # chat sends usage only when stream_options asks for it
        assert acc.token_usage is None
    else:
        assert acc.token_usage is not None and acc.token_usage["output_tokens"] > 0


LENGTH_WORDS = {
    "chat": "length",
    "responses": "max_output_tokens",
    "anthropic": "max_tokens",
    "gemini": "MAX_TOKENS",
    "ollama": "length",
}
FILTER_OUTCOMES = {"ollama": "other"}  # Ollama has no content filter: the word goes as is


@pytest.mark.parametrize("api", APIS)
def test_finish_words_are_translated(api: str) -> None:
    script = [Turn("cut short", finish_reason="length"), Turn("no", finish_reason="content_filter")]
    with ScriptedServer(script) as server:
        length = read(server, api)
        refused = read(server, api)
    assert length.acc.outcome == "length"
    assert length.acc.finish_reason == LENGTH_WORDS[api]
    assert length.acc.message()["content"] == "cut short"
    assert refused.acc.outcome == FILTER_OUTCOMES.get(api, "content_filter")


def test_native_finish_shapes() -> None:
    with ScriptedServer([Turn("x", finish_reason="length")] * 5) as server:
        responses = read(server, "responses").raw
        anthropic = read(server, "anthropic").raw
        gemini = read(server, "gemini").raw
        ollama = read(server, "ollama").raw
    last = json.loads(responses.rstrip().split(b"\n")[-1][len(b"data: ") :])
    assert last["type"] == "response.incomplete"
    assert last["response"]["incomplete_details"] == {"reason": "max_output_tokens"}
    assert b'"stop_reason":"max_tokens"' in anthropic
    chunk = json.loads(gemini.split(b"\r\n\r\n")[-2][len(b"data: ") :])
    assert chunk["candidates"][0]["finishReason"] == "MAX_TOKENS"
    done = json.loads(ollama.splitlines()[-1])
    assert done["done"] is True and done["done_reason"] == "length"
    assert {"prompt_eval_count", "eval_count", "total_duration", "eval_duration"} <= set(done)


def sse_events(raw: bytes) -> list[tuple[str | None, Any]]:
    out: list[tuple[str | None, Any]] = []
    for block in raw.decode().replace("\r\n", "\n").split("\n\n"):
        event = None
        for line in block.split("\n"):
            if line.startswith("event: "):
                event = line[len("event: ") :]
            elif line.startswith("data: "):
                out.append((event, json.loads(line[len("data: ") :])))
    return out


def test_responses_events_follow_the_api() -> None:
    with ScriptedServer([TURN]) as server:
        events = sse_events(read(server, "responses").raw)
    names = [name for name, _ in events]
    assert all(name == data["type"] for name, data in events)
    assert [data["sequence_number"] for _, data in events] == list(range(len(events)))
    assert names[:2] == ["response.created", "response.in_progress"]
    assert names[-1] == "response.completed"
    for kind in (
        "response.reasoning_summary_text.delta",
        "response.content_part.added",
        "response.output_text.done",
        "response.content_part.done",
        "response.function_call_arguments.done",
    ):
        assert kind in names
    calls = [d["item"] for n, d in events if n == "response.output_item.added"]
    calls = [item for item in calls if item["type"] == "function_call"]
    assert [c["call_id"] for c in calls] == ["call_a", "call_b"]
    assert all(c["id"].startswith("fc_") for c in calls)
    deltas = [d for n, d in events if n == "response.function_call_arguments.delta"]
    assert all(1 <= len(d["delta"]) <= 6 for d in deltas)
    assert {d["item_id"] for d in deltas} == {c["id"] for c in calls}
    usage = events[-1][1]["response"]["usage"]
    assert usage["input_tokens"] == 11 and usage["output_tokens"] == 7
    assert usage["total_tokens"] == 18 and "output_tokens_details" in usage


def test_anthropic_events_follow_the_api() -> None:
    with ScriptedServer([TURN]) as server:
        events = sse_events(read(server, "anthropic").raw)
    names = [name for name, _ in events]
    assert names[0] == "message_start" and names[-2:] == ["message_delta", "message_stop"]
    assert "ping" in names
    assert events[0][1]["message"]["id"].startswith("msg_")
    starts = [d["content_block"] for n, d in events if n == "content_block_start"]
    assert [b["type"] for b in starts] == ["thinking", "text", "tool_use", "tool_use"]
    assert starts[2] == {"type": "tool_use", "id": "call_a", "name": "get_weather", "input": {}}
    deltas = [d["delta"] for n, d in events if n == "content_block_delta"]
    assert any(d["type"] == "signature_delta" for d in deltas)
    json_deltas = [d for n, d in events if n == "content_block_delta" and d["index"] == 2]
    assert json_deltas[0]["delta"] == {"type": "input_json_delta", "partial_json": ""}
    closing = events[-2][1]
    assert closing["delta"]["stop_reason"] == "tool_use" and closing["usage"]["output_tokens"] == 7


def test_made_up_ids_have_each_apis_prefix() -> None:
    turn = Turn(tool_calls=[call("f", {"a": 1})])
    with ScriptedServer([turn] * 4) as server:
        responses = read(server, "responses").acc.tool_calls[0].id
        anthropic = read(server, "anthropic").acc.tool_calls[0].id
        gemini = read(server, "gemini").acc.tool_calls[0].id
        ollama = read(server, "ollama").acc.tool_calls[0].id
    assert responses.startswith("call_") and anthropic.startswith("toolu_")
    assert gemini == ollama == "call_0"  # neither sends an id: the accumulator makes one up


def test_gemini_chunks_follow_the_api() -> None:
    with ScriptedServer([TURN]) as server:
        raw = read(server, "gemini").raw
    assert raw.endswith(b"\r\n\r\n")
    chunks = [json.loads(b[len(b"data: ") :]) for b in raw.split(b"\r\n\r\n") if b]
    parts = [p for c in chunks for p in c["candidates"][0]["content"]["parts"]]
    assert any(p.get("thought") for p in parts)
    call_chunks = [c for c in chunks if "functionCall" in c["candidates"][0]["content"]["parts"][0]]
    assert len(call_chunks) == 1  # parallel calls in one chunk
    calls = call_chunks[0]["candidates"][0]["content"]["parts"]
    assert [p["functionCall"]["name"] for p in calls] == ["get_weather", "get_time"]
    assert "thoughtSignature" in calls[0] and "thoughtSignature" not in calls[1]
    assert all({"promptTokenCount", "totalTokenCount"} <= set(c["usageMetadata"]) for c in chunks)
    assert all(c["responseId"] == chunks[0]["responseId"] and c["modelVersion"] for c in chunks)
    assert chunks[-1]["candidates"][0]["finishReason"] == "STOP"
    assert all("finishReason" not in c["candidates"][0] for c in chunks[:-1])


def test_gemini_without_alt_sse_is_one_json_array() -> None:
    with ScriptedServer([Turn("array form")]) as server:
        url = endpoint(server, "gemini").replace("?alt=sse", "")
        response = post(server, "gemini", url=url)
    chunks = json.loads(response.content)
    text = "".join(c["candidates"][0]["content"]["parts"][0]["text"] for c in chunks)
    assert text == "array form"


def test_ollama_lines_follow_the_api() -> None:
    with ScriptedServer([TURN]) as server:
        with http() as client:
            response = client.post(endpoint(server, "ollama"), json=good_body("ollama"))
    assert response.headers["content-type"] == "application/x-ndjson"
    lines = [json.loads(line) for line in response.content.splitlines()]
    assert all(line["done"] is False for line in lines[:-1]) and lines[-1]["done"] is True
    thinking = "".join(line["message"].get("thinking", "") for line in lines)
    assert thinking == TURN.reasoning
    calls = [line["message"]["tool_calls"] for line in lines if "tool_calls" in line["message"]]
    assert [c[0]["function"]["arguments"] for c in calls] == [
        {"city": "Paris", "units": ["C", "é"]},
        {"tz": "Europe/Paris"},
    ]
    assert lines[-1]["prompt_eval_count"] == 11 and lines[-1]["eval_count"] == 7


def test_ollama_without_messages_loads_the_model() -> None:
    with ScriptedServer([Turn("kept")]) as server:
        response = post(server, "ollama", {"model": "m"})
        assert server.remaining == 1
    assert response.json()["done_reason"] == "load"


def test_seeded_fragments_repeat() -> None:
    def fragments(seed: int) -> list[str]:
        with ScriptedServer([Turn(tool_calls=[call("f", {"q": "x" * 60})])], seed=seed) as s:
            events = sse_events(read(s, "anthropic").raw)
        return [d["delta"]["partial_json"] for n, d in events if n == "content_block_delta"]

    assert fragments(3) == fragments(3) != fragments(4)


@pytest.mark.parametrize("api", ["responses", "anthropic", "gemini", "ollama"])
def test_usage_in_the_apis_own_keys_and_raw(api: str) -> None:
    native = {
        "responses": {"input_tokens": 5, "output_tokens": 6, "total_tokens": 11},
        "anthropic": {"input_tokens": 5, "output_tokens": 6},
        "gemini": {"promptTokenCount": 5, "candidatesTokenCount": 6, "totalTokenCount": 11},
        "ollama": {"prompt_eval_count": 5, "eval_count": 6},
    }[api]
    with ScriptedServer([Turn("u", usage=native), Turn("u", usage="[not-json")]) as server:
        own = read(server, api).acc
        raw = read(server, api).raw
    assert own.token_usage == {"input_tokens": 5, "output_tokens": 6, "total_tokens": 11}
    assert b"[not-json" in raw


# -- faults --------------------------------------------------------------------------------------

LONG = Turn("abcdefghijklmnopqrstuvwx", tool_calls=[call("f", {"a": "long enough value"})])


@pytest.mark.parametrize("api", APIS)
def test_cut_counts_the_apis_events(api: str) -> None:
    turn = Turn(LONG.text, tool_calls=LONG.tool_calls, fault=Fault.cut(after=3))
    with ScriptedServer([turn]) as server:
        got = read(server, api)
    sep = SEPARATORS[api]
    assert got.raw.count(sep) == 3 and not got.raw.endswith(sep)  # three events, half a fourth
    assert got.acc.outcome == "cut" and got.acc.truncated


@pytest.mark.parametrize("api", APIS)
def test_error_event_in_the_apis_shape(api: str) -> None:
    turn = Turn(LONG.text, fault=Fault.error_event(after=2, message="melted"))
    with ScriptedServer([turn]) as server:
        got = read(server, api)
    assert got.acc.outcome == "error"
    assert got.acc.error is not None and got.acc.error.message == "melted"
    tail = got.raw.rstrip().splitlines()[-1]
    data = json.loads(tail[len(b"data: ") :] if tail.startswith(b"data: ") else tail)
    shape: Callable[[Any], bool] = {
        "chat": lambda d: d["error"]["type"] == "server_error",
        "responses": lambda d: d["type"] == "error" and d["code"] == "server_error",
        "anthropic": lambda d: (
            d
            == {
                "type": "error",
                "error": {"type": "overloaded_error", "message": "melted"},
            }
        ),
        "gemini": lambda d: (
            d["error"] == {"code": 503, "message": "melted", "status": "UNAVAILABLE"}
        ),
        "ollama": lambda d: d == {"error": "melted"},
    }[api]
    assert shape(data)


@pytest.mark.parametrize("api", APIS)
def test_malformed_event_then_the_rest(api: str) -> None:
    turn = Turn("abcdefgh", fault=Fault.malformed(after=2))
    with ScriptedServer([turn]) as server:
        got = read(server, api)
    assert got.errors == ["invalid chunk"]
    assert got.acc.message()["content"] == "abcdefgh"
    assert got.acc.outcome == "stop"


@pytest.mark.parametrize("api", APIS)
def test_stall_pauses_then_goes_on(api: str) -> None:
    turn = Turn("abcdefgh", fault=Fault.stall(after=2, seconds=0.3))
    with ScriptedServer([turn]) as server:
        start = time.monotonic()
        got = read(server, api)
    assert time.monotonic() - start >= 0.28
    assert got.acc.outcome == "stop"


def error_shape(api: str, status: int) -> Callable[[Any], bool]:
    types = {429: "rate_limit_error", 529: "overloaded_error", 400: "invalid_request_error"}
    google = {429: "RESOURCE_EXHAUSTED", 529: "INTERNAL", 400: "INVALID_ARGUMENT", 403: ""}
    return {
        "chat": lambda b: isinstance(b["error"]["message"], str),
        "responses": lambda b: isinstance(b["error"]["message"], str),
        "anthropic": lambda b: b["type"] == "error" and b["error"]["type"] == types[status],
        "gemini": lambda b: b["error"]["code"] == status and b["error"]["status"] == google[status],
        "ollama": lambda b: isinstance(b["error"], str) and b["error"],
    }[api]


@pytest.mark.parametrize("api", APIS)
def test_status_faults_in_the_apis_shape(api: str) -> None:
    script = [Fault.rate_limit(retry_after=0.5), Fault.server_error(529), Fault.disconnect()]
    with ScriptedServer([*script, Turn("ok")]) as server:
        limited = post(server, api)
        overloaded = post(server, api)
        with pytest.raises(httpx.TransportError):
            post(server, api)
        assert post(server, api).status_code == 200
    assert limited.status_code == 429 and limited.headers["retry-after"] == "0.5"
    assert error_shape(api, 429)(limited.json())
    assert overloaded.status_code == 529 and error_shape(api, 529)(overloaded.json())


def test_script_failures_answer_in_the_apis_shape() -> None:
    with ScriptedServer([Turn("a", expect=lambda r: False)], raise_on_exit=False) as server:
        checked = post(server, "anthropic")
        exhausted = post(server, "gemini")
    assert checked.status_code == 400 and checked.json()["type"] == "error"
    assert exhausted.status_code == 500 and exhausted.json()["error"]["status"] == "INTERNAL"
    assert len(server.errors) == 2


# -- non-streamed answers, the recorded request, base URLs ---------------------------------------


def test_whole_answers() -> None:
    turn = Turn("whole", reasoning="r", tool_calls=[call("f", {"a": 1}, id="c1")])
    with ScriptedServer([turn] * 4) as server:
        anthropic = post(server, "anthropic", {**good_body("anthropic"), "stream": False}).json()
        responses = post(server, "responses", {**good_body("responses"), "stream": False}).json()
        url = endpoint(server, "gemini").replace(
            ":streamGenerateContent?alt=sse", ":generateContent"
        )
        gemini = post(server, "gemini", url=url).json()
        ollama = post(server, "ollama", {**good_body("ollama"), "stream": False}).json()
    assert [b["type"] for b in anthropic["content"]] == ["thinking", "text", "tool_use"]
    assert anthropic["content"][2]["input"] == {"a": 1} and anthropic["stop_reason"] == "tool_use"
    assert responses["status"] == "completed"
    assert [i["type"] for i in responses["output"]] == ["reasoning", "message", "function_call"]
    parts = gemini["candidates"][0]["content"]["parts"]
    assert parts[0] == {"text": "r", "thought": True} and parts[1] == {"text": "whole"}
    assert parts[2]["functionCall"] == {"id": "c1", "name": "f", "args": {"a": 1}}
    assert ollama["done"] is True and ollama["message"]["tool_calls"][0]["function"]["name"] == "f"
    assert ollama["message"]["content"] == "whole" and ollama["message"]["thinking"] == "r"


def test_recorded_requests_and_base_urls() -> None:
    with ScriptedServer([Turn("a")] * 3) as server:
        port = server.port
        assert server.base_url("chat") == server.url == f"http://127.0.0.1:{port}/v1"
        assert server.base_url("responses") == server.url
        for api in ("anthropic", "gemini", "ollama"):
            assert server.base_url(api) == f"http://127.0.0.1:{port}"
        with pytest.raises(ValueError, match="unknown api"):
            server.base_url("cohere")
        post(server, "responses")
        post(server, "gemini")
        post(server, "ollama")
    responses, gemini, ollama = server.requests
    assert responses.api == "responses" and responses.messages == USER
    assert gemini.api == "gemini" and gemini.model == "gemini-test"
    assert gemini.messages == GEMINI_USER and gemini.include_usage
    assert ollama.api == "ollama" and ollama.model == "m" and ollama.messages == USER


# -- request validation --------------------------------------------------------------------------

TOOL_USE = {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}}
TOOL_RESULT = {"type": "tool_result", "tool_use_id": "toolu_1", "content": "42"}
THINKING = {"type": "thinking", "thinking": "hmm", "signature": "c2ln"}
REDACTED = {"type": "redacted_thinking", "data": "b3BhcXVl"}


def anthropic_case(messages: list[Any], **extra: Any) -> dict[str, Any]:
    return {"model": "m", "max_tokens": 64, "messages": messages, "stream": True, **extra}


def with_call(answer: list[Any]) -> list[Any]:
    assistant = {
        "role": "assistant",
        "content": [THINKING, {"type": "text", "text": "x"}, TOOL_USE],
    }
    return [*USER, assistant, {"role": "user", "content": answer}]


FC = {"type": "function_call", "call_id": "call_1", "name": "f", "arguments": "{}"}
FC_OUT = {"type": "function_call_output", "call_id": "call_1", "output": "42"}
G_CALL = {"role": "model", "parts": [{"functionCall": {"name": "f", "args": {}}}]}
G_CALLS = {
    "role": "model",
    "parts": [{"functionCall": {"name": n, "args": {}}} for n in ("f", "g")],
}
G_TEXT = {"role": "model", "parts": [{"text": "Let me see.", "thought": True}]}


def g_answer(*names: str) -> dict[str, Any]:
    parts = [{"functionResponse": {"name": n, "response": {"r": 1}}} for n in names]
    return {"role": "user", "parts": parts}


# (api, rule, bad request, good request); a request is a body, or (body, headers).
CASES: list[tuple[str, str, Any, Any]] = [
    (
        "anthropic",
        "anthropic-version header",
        (anthropic_case(USER), {}),
        (anthropic_case(USER), {"anthropic-version": "2023-06-01"}),
    ),
    ("anthropic", "max_tokens required", {"model": "m", "messages": USER}, anthropic_case(USER)),
    ("anthropic", "max_tokens >= 1", anthropic_case(USER, max_tokens=0), anthropic_case(USER)),
    ("anthropic", "max_tokens integer", anthropic_case(USER, max_tokens="9"), anthropic_case(USER)),
    ("anthropic", "model required", {**anthropic_case(USER), "model": ""}, anthropic_case(USER)),
    ("anthropic", "messages non-empty", anthropic_case([]), anthropic_case(USER)),
    (
        "anthropic",
        "first message from the user",
        anthropic_case([{"role": "assistant", "content": "hi"}, *USER]),
        anthropic_case([*USER, {"role": "assistant", "content": "hi"}, *USER]),
    ),
    (
        "anthropic",
        "system is a top-level field",
        anthropic_case([{"role": "system", "content": "be brief"}, *USER]),
        anthropic_case(USER, system="be brief"),
    ),
    (
        "anthropic",
        "tool_use answered in the next user message",
        anthropic_case(with_call([{"type": "text", "text": "no result"}])),
        anthropic_case(with_call([TOOL_RESULT])),
    ),
    (
        "anthropic",
        "tool_result blocks first",
        anthropic_case(with_call([{"type": "text", "text": "here"}, TOOL_RESULT])),
        anthropic_case(with_call([TOOL_RESULT, {"type": "text", "text": "here"}])),
    ),
    (
        "anthropic",
        "tool_result answers a tool_use",
        anthropic_case(
            [
                *USER,
                {"role": "assistant", "content": "x"},
                {"role": "user", "content": [TOOL_RESULT]},
            ]
        ),
        anthropic_case(with_call([TOOL_RESULT])),
    ),
    (
        "anthropic",
        "tool shape",
        anthropic_case(USER, tools=[{"type": "function", "function": {"name": "f"}}]),
        anthropic_case(USER, tools=[{"name": "f", "input_schema": {"type": "object"}}]),
    ),
    (
        "anthropic",
        "tool input_schema required",
        anthropic_case(USER, tools=[{"name": "f", "description": "d"}]),
        anthropic_case(
            USER,
            tools=[
                {"name": "f", "description": "d", "input_schema": {"type": "object"}},
                {"type": "web_search_20250305", "name": "web_search"},
            ],
        ),
    ),
    (
        "anthropic",
        "non-empty content (but the final assistant message)",
        anthropic_case([{"role": "user", "content": []}]),
        anthropic_case([*USER, {"role": "assistant", "content": ""}]),
    ),
    (
        "anthropic",
        "thinking, redacted thinking, blocks and merged turns are fine",
        anthropic_case(USER, max_tokens=-1),
        anthropic_case(
            [
                {"role": "user", "content": [{"type": "text", "text": "a"}]},
                {"role": "user", "content": "b"},  # consecutive turns are combined
                {"role": "assistant", "content": [REDACTED, THINKING, TOOL_USE]},
                {"role": "user", "content": [TOOL_RESULT]},
            ]
        ),
    ),
    ("responses", "input type", {**good_body("responses"), "input": 3}, good_body("responses")),
    ("responses", "model required", {"input": "hi", "stream": True}, good_body("responses")),
    (
        "responses",
        "function_call_output answers a call",
        {**good_body("responses"), "input": [*USER, FC_OUT]},
        {**good_body("responses"), "input": [*USER, FC, FC_OUT]},
    ),
    (
        "responses",
        "function tools are flat",
        {**good_body("responses"), "tools": [{"type": "function", "function": {"name": "f"}}]},
        {
            **good_body("responses"),
            "tools": [
                {
                    "type": "function",
                    "name": "f",
                    "parameters": {"type": "object"},
                    "strict": False,
                },
                {"type": "web_search"},
            ],
        },
    ),
    (
        "responses",
        "function tools are strict unless told not: every property required",
        {
            **good_body("responses"),
            "tools": [
                {
                    "type": "function",
                    "name": "f",
                    "parameters": {
                        "type": "object",
                        "properties": {"a": {"type": "string"}, "b": {"type": "string"}},
                        "required": ["a"],
                        "additionalProperties": False,
                    },
                }
            ],
        },
        {
            **good_body("responses"),
            "tools": [
                {
                    "type": "function",
                    "name": "f",
                    "parameters": {
                        "type": "object",
                        "properties": {"a": {"type": "string"}, "b": {"type": "string"}},
                        "required": ["a", "b"],
                        "additionalProperties": False,
                    },
                }
            ],
        },
    ),
    (
        "responses",
        "stream a boolean",
        {**good_body("responses"), "stream": "yes"},
        good_body("responses"),
    ),
    ("gemini", "contents non-empty", {"contents": []}, good_body("gemini")),
    (
        "gemini",
        "roles user and model",
        {"contents": [{"role": "assistant", "parts": [{"text": "x"}]}]},
        {"contents": [{"parts": [{"text": "no role is a user turn"}]}]},
    ),
    (
        "gemini",
        "functionResponse after a call turn",
        {"contents": [*GEMINI_USER, g_answer("f")]},
        {"contents": [*GEMINI_USER, G_CALL, g_answer("f")]},
    ),
    (
        "gemini",
        "as many responses as calls",
        {"contents": [*GEMINI_USER, G_CALL, g_answer("f", "f")]},
        {"contents": [*GEMINI_USER, G_CALL, g_answer("f")]},
    ),
    (
        "gemini",
        "responses to parallel calls in one content",
        {"contents": [*GEMINI_USER, G_CALLS, g_answer("f"), g_answer("g")]},
        {"contents": [*GEMINI_USER, G_TEXT, G_CALLS, g_answer("f", "g")]},  # model runs merge
    ),
    (
        "gemini",
        "responses named after the calls",
        {"contents": [*GEMINI_USER, G_CALL, g_answer("g")]},
        {
            "contents": [
                *GEMINI_USER,
                {"role": "model", "parts": [{"function_call": {"name": "f", "args": {}}}]},
                {"role": "user", "parts": [{"function_response": {"name": "f", "response": {}}}]},
            ]
        },
    ),
    (
        "gemini",
        "call turns follow a user turn",
        {"contents": [G_CALL, g_answer("f")]},
        {"contents": [*GEMINI_USER, G_CALL, g_answer("f"), G_CALL, g_answer("f")]},
    ),
    (
        "gemini",
        "function declarations",
        {**good_body("gemini"), "tools": [{"functionDeclarations": [{"description": "no name"}]}]},
        {
            **good_body("gemini"),
            "tools": [{"functionDeclarations": [{"name": "f"}]}, {"googleSearch": {}}],
        },
    ),
    ("ollama", "model required", {"messages": USER}, good_body("ollama")),
    ("ollama", "messages a list", {"model": "m", "messages": "hi"}, good_body("ollama")),
    (
        "ollama",
        "content a string",
        {"model": "m", "messages": [{"role": "user", "content": [{"type": "text"}]}]},
        good_body("ollama"),
    ),
    (
        "ollama",
        "tool call arguments an object, tool results by tool_name",
        {
            "model": "m",
            "messages": [
                *USER,
                {
                    "role": "assistant",
                    "content": "",
                    "tool_calls": [{"function": {"name": "f", "arguments": '{"a": 1}'}}],
                },
            ],
        },
        {
            "model": "m",
            "messages": [
                *USER,
                {
                    "role": "assistant",
                    "content": "",
                    "tool_calls": [{"function": {"name": "f", "arguments": {"a": 1}}}],
                },
                {"role": "tool", "content": "42", "tool_name": "f"},
            ],
        },
    ),
    (
        "ollama",
        "stream a boolean",
        {**good_body("ollama"), "stream": "true"},
        {**good_body("ollama"), "stream": True},
    ),
]


def split_case(api: str, case: Any) -> tuple[Any, dict[str, str]]:
    return case if isinstance(case, tuple) else (case, headers_for(api))


@pytest.mark.parametrize(("api", "rule", "bad", "good"), CASES, ids=[c[1] for c in CASES])
def test_validation_rejects_and_accepts(api: str, rule: str, bad: Any, good: Any) -> None:
    with ScriptedServer([Turn("fine")], raise_on_exit=False) as server:
        body, headers = split_case(api, bad)
        rejected = post(server, api, body, headers)
        assert server.remaining == 1  # a rejected request does not use up the turn
        body, headers = split_case(api, good)
        accepted = post(server, api, body, headers)
    assert rejected.status_code == 400, rule
    assert error_shape(api, 400)(rejected.json()), rejected.json()
    assert len(server.errors) == 1 and f"({api}) rejected" in server.errors[0]
    assert accepted.status_code == 200, accepted.text


def test_responses_output_may_answer_a_call_of_an_earlier_response() -> None:
    turn = Turn(tool_calls=[call("f", {"a": 1})])
    with ScriptedServer([turn, Turn("done")]) as server:
        call_id = read(server, "responses").acc.tool_calls[0].id
        answer = {"type": "function_call_output", "call_id": call_id, "output": "1"}
        body = {**good_body("responses"), "input": [answer]}
        alone = post(server, "responses", body)  # without the previous response: no call
        assert alone.status_code == 400
        assert "No tool call found" in alone.json()["error"]["message"]
        chained = post(server, "responses", {**body, "previous_response_id": "resp_1"})
        assert chained.status_code == 200
        server.errors.clear()


@pytest.mark.parametrize("api", APIS)
def test_api_key_as_each_api_sends_it(api: str) -> None:
    right: dict[str, tuple[str, dict[str, str]]] = {
        "chat": ("", {"authorization": "Bearer sk"}),
        "responses": ("", {"authorization": "Bearer sk"}),
        "anthropic": ("", {"x-api-key": "sk"}),
        "gemini": ("&key=sk", {}),
        "ollama": ("", {"authorization": "Bearer sk"}),
    }
    with ScriptedServer([Turn("a")], api_key="sk") as server:
        missing = post(server, api)
        query, headers = right[api]
        accepted = post(
            server, api, headers={**headers_for(api), **headers}, url=endpoint(server, api) + query
        )
    assert missing.status_code == (403 if api == "gemini" else 401)
    assert accepted.status_code == 200
    assert server.errors == []  # a wrong key is an answer, not a client bug


def test_gemini_key_header_and_wrong_key() -> None:
    with ScriptedServer([Turn("a")], api_key="sk") as server:
        wrong = post(server, "gemini", headers={"x-goog-api-key": "nope"})
        right = post(server, "gemini", headers={"x-goog-api-key": "sk"})
    assert wrong.status_code == 400 and wrong.json()["error"]["status"] == "INVALID_ARGUMENT"
    assert right.status_code == 200


# -- the official SDKs read the scripted streams -------------------------------------------------


def test_anthropic_sdk() -> None:
    anthropic = pytest.importorskip("anthropic")
    script = [TURN, Turn("It is sunny."), Turn("x", fault=Fault.error_event(after=3))]
    with ScriptedServer(script) as server:
        client = anthropic.Anthropic(
            base_url=server.base_url("anthropic"), api_key="k", max_retries=0
        )
        tools = [{"name": "get_weather", "input_schema": {"type": "object"}}]
        with client.messages.stream(model="claude", max_tokens=99, messages=USER, tools=tools) as s:
            first = s.get_final_message()
        assert [b.type for b in first.content] == ["thinking", "text", "tool_use", "tool_use"]
        assert first.content[2].input == {"city": "Paris", "units": ["C", "é"]}
        assert first.stop_reason == "tool_use" and first.usage.output_tokens == 7
        assert first.content[0].signature
        results = [
            {"type": "tool_result", "tool_use_id": b.id, "content": "ok"}
            for b in first.content
            if b.type == "tool_use"
        ]
        history = [
            *USER,
            {"role": "assistant", "content": [b.model_dump() for b in first.content]},
            {"role": "user", "content": results},
        ]
        with client.messages.stream(model="claude", max_tokens=99, messages=history) as s:
            assert s.get_final_text() == "It is sunny."
        with pytest.raises(anthropic.APIError):
            with client.messages.stream(model="claude", max_tokens=99, messages=USER) as s:
                s.get_final_message()


def test_openai_sdk_responses() -> None:
    openai = pytest.importorskip("openai")
    with ScriptedServer(
        [TURN, Turn("It is sunny.", reasoning="easy"), Turn("x", finish_reason="length")]
    ) as server:
        client = openai.OpenAI(base_url=server.base_url("responses"), api_key="k", max_retries=0)
        with client.responses.stream(model="gpt", input="weather?") as stream:
            first = stream.get_final_response()
        assert [i.type for i in first.output] == [
            "reasoning",
            "message",
            "function_call",
            "function_call",
        ]
        calls = [i for i in first.output if i.type == "function_call"]
        assert [c.call_id for c in calls] == ["call_a", "call_b"]
        assert json.loads(calls[0].arguments) == {"city": "Paris", "units": ["C", "é"]}
        assert first.output_text == "Let me check both." and first.usage.total_tokens == 18
        answers = [
            {"type": "function_call_output", "call_id": c.call_id, "output": "ok"} for c in calls
        ]
        events = list(
            client.responses.create(
                model="gpt", input=answers, previous_response_id=first.id, stream=True
            )
        )
        assert events[-1].type == "response.completed"
        assert [e.sequence_number for e in events] == list(range(len(events)))
        assert events[-1].response.output_text == "It is sunny."
        # The SDK's stream helper wants response.completed; the raw events show the end.
        last = list(client.responses.create(model="gpt", input="long", stream=True))[-1]
        assert last.type == "response.incomplete"
        assert last.response.incomplete_details.reason == "max_output_tokens"


def test_google_genai_sdk() -> None:
    genai = pytest.importorskip("google.genai")
    errors = pytest.importorskip("google.genai.errors")
    script = [TURN, Turn("It is sunny."), Turn("abcdefgh", fault=Fault.error_event(after=1))]
    with ScriptedServer(script) as server:
        client = genai.Client(api_key="k", http_options={"base_url": server.base_url("gemini")})
        chat = client.chats.create(model="gemini-test")
        chunks = list(chat.send_message_stream("weather?"))
        calls = [fc for c in chunks for fc in (c.function_calls or [])]
        assert [fc.name for fc in calls] == ["get_weather", "get_time"]
        assert calls[0].args == {"city": "Paris", "units": ["C", "é"]}
        parts = [p for c in chunks for p in c.candidates[0].content.parts]
        assert "".join(p.text for p in parts if p.thought) == TURN.reasoning
        assert any(p.thought_signature for p in parts if p.function_call)
        assert str(chunks[-1].candidates[0].finish_reason.value) == "STOP"
        assert chunks[-1].usage_metadata.prompt_token_count == 11
        responses = [
            genai.types.Part.from_function_response(name=fc.name, response={"ok": True})
            for fc in calls
        ]
        answer = "".join(c.text or "" for c in chat.send_message_stream(responses))
        assert answer == "It is sunny."
        assert (
            server.requests[1].messages[-1]["parts"][0]["functionResponse"]["name"] == "get_weather"
        )
        with pytest.raises(errors.APIError):
            list(client.models.generate_content_stream(model="gemini-test", contents="hi"))


def test_ollama_sdk() -> None:
    ollama = pytest.importorskip("ollama")
    script = [TURN, Turn("It is sunny."), Turn("abcd", fault=Fault.error_event(after=1))]
    with ScriptedServer(script) as server:
        client = ollama.Client(host=server.base_url("ollama"))
        parts = list(client.chat(model="qwen", messages=USER, stream=True))
        assert "".join(p.message.thinking or "" for p in parts) == TURN.reasoning
        assert "".join(p.message.content or "" for p in parts) == TURN.text
        calls = [tc for p in parts for tc in (p.message.tool_calls or [])]
        assert [tc.function.arguments for tc in calls] == [
            {"city": "Paris", "units": ["C", "é"]},
            {"tz": "Europe/Paris"},
        ]
        assert parts[-1].done and parts[-1].done_reason == "stop" and parts[-1].eval_count == 7
        history = [
            *USER,
            {"role": "assistant", "content": "", "tool_calls": [tc.model_dump() for tc in calls]},
            *({"role": "tool", "content": "ok", "tool_name": tc.function.name} for tc in calls),
        ]
        answer = client.chat(model="qwen", messages=history, stream=False)
        assert answer.message.content == "It is sunny."
        with pytest.raises(ollama.ResponseError, match="The model overloaded"):
            list(client.chat(model="qwen", messages=USER, stream=True))


# -- the command line ----------------------------------------------------------------------------


def test_toolwire_serve_prints_the_apis_base_url() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "ANTHROPIC_"))}
    proc = subprocess.Popen(
        [sys.executable, "-m", "toolwire", "serve", "--api", "anthropic", "--delay", "0"],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        url = line.split()[4]
        assert line.startswith("toolwire test server on http://127.0.0.1:")
        assert not url.endswith("/v1")
        body = anthropic_case(USER)
        with http() as client:
            with client.stream(
                "POST", url + "/v1/messages", json=body, headers=headers_for("anthropic")
            ) as response:
                acc = toolwire.StreamAccumulator()
                for data in response.iter_raw():
                    acc.feed(data)
        acc.finish()
        assert acc.format == "anthropic" and acc.outcome in ("stop", "tool_calls")
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()
