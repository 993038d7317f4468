"""The client speaks every API (``Client(api=...)``): URL, auth and headers, the request body
built from the canonical OpenAI-chat transcript (tools, calls, tool results, system prompt),
the native turn sent back unchanged, environment defaults, and the stream read in the api's
format. Requests go to an ``httpx.MockTransport``; the scripted-server tests drive the same
over HTTP."""

from __future__ import annotations

import itertools
import json
from typing import Any

import httpx
import pytest

import toolwire
from toolwire._dialects import APIS, dialect_for

KEY = "sk-test-0123456789abcdef"

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather of a city.",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string", "title": "City"}},
                "required": ["city"],
                "additionalProperties": False,
            },
        },
    }
]

CALLS = [
    {
        "id": "c1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
    },
    {
        "id": "c2",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
    },
]

TRANSCRIPT: list[dict[str, Any]] = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Weather in Paris and Oslo?"},
    {"role": "assistant", "content": "Checking.", "tool_calls": CALLS},
    {"role": "tool", "tool_call_id": "c1", "content": '{"temp": 21}'},
    {"role": "tool", "tool_call_id": "c2", "content": "cold"},
]


def body(api: str, messages: list[dict[str, Any]] = TRANSCRIPT, **params: Any) -> dict[str, Any]:
    return dialect_for(api).body("m-1", messages, TOOLS, params)


def test_unknown_api_is_refused() -> None:
    with pytest.raises(ValueError, match=r"unknown api 'cohere'.*'chat', 'responses'"):
        toolwire.Client(api="cohere")


def test_chat_body_is_the_transcript() -> None:
    native = {**TRANSCRIPT[2], "native": {"api": "anthropic", "message": {}}}
    got = body("chat", [*TRANSCRIPT[:2], native, *TRANSCRIPT[3:]])
    assert got["messages"] == TRANSCRIPT and got["tools"] == TOOLS and got["stream"] is True


def test_responses_body() -> None:
    got = body("responses", max_output_tokens=100)
    assert got["input"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Weather in Paris and Oslo?"},
        {"role": "assistant", "content": "Checking."},
        {
            "type": "function_call",
            "call_id": "c1",
            "name": "get_weather",
            "arguments": '{"city": "Paris"}',
        },
        {
            "type": "function_call",
            "call_id": "c2",
            "name": "get_weather",
            "arguments": '{"city": "Oslo"}',
        },
        {"type": "function_call_output", "call_id": "c1", "output": '{"temp": 21}'},
        {"type": "function_call_output", "call_id": "c2", "output": "cold"},
    ]
    # Responses tools are strict by default: chat's (not strict) is said explicitly.
    assert got["tools"] == [{"type": "function", **TOOLS[0]["function"], "strict": False}]
    assert got["stream"] is True and got["max_output_tokens"] == 100 and "messages" not in got


def test_anthropic_body() -> None:
    got = body("anthropic")
    assert got["system"] == "Be brief." and got["max_tokens"] == 4096
    assert got["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "Weather in Paris and Oslo?"}]},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Checking."},
                {"type": "tool_use", "id": "c1", "name": "get_weather", "input": {"city": "Paris"}},
                {"type": "tool_use", "id": "c2", "name": "get_weather", "input": {"city": "Oslo"}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "c1", "content": '{"temp": 21}'},
                {"type": "tool_result", "tool_use_id": "c2", "content": "cold"},
            ],
        },
    ]
    fn = TOOLS[0]["function"]
    assert got["tools"] == [
        {"name": fn["name"], "description": fn["description"], "input_schema": fn["parameters"]}
    ]
    assert body("anthropic", max_tokens=10)["max_tokens"] == 10


def test_anthropic_keeps_alternation() -> None:
    # Tool results then a user message make one user turn, results first.
    got = body("anthropic", [*TRANSCRIPT, {"role": "user", "content": "And Rome?"}])
    last = got["messages"][-1]
    assert [b["type"] for b in last["content"]] == ["tool_result", "tool_result", "text"]
    roles = [m["role"] for m in got["messages"]]
    assert all(a != b for a, b in itertools.pairwise(roles))


def test_gemini_body() -> None:
    got = body("gemini")
    assert got["systemInstruction"] == {"parts": [{"text": "Be brief."}]}
    assert got["contents"] == [
        {"role": "user", "parts": [{"text": "Weather in Paris and Oslo?"}]},
        {
            "role": "model",
            "parts": [
                {"text": "Checking."},
                {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}},
                {"functionCall": {"name": "get_weather", "args": {"city": "Oslo"}}},
            ],
        },
        {
            "role": "user",
            "parts": [
                {"functionResponse": {"name": "get_weather", "response": {"temp": 21}}},
                {"functionResponse": {"name": "get_weather", "response": {"result": "cold"}}},
            ],
        },
    ]
    (decl,) = got["tools"][0]["functionDeclarations"]
    # Gemini's Schema refuses additionalProperties.
    assert decl["parameters"] == {
        "type": "object",
        "properties": {"city": {"type": "string", "title": "City"}},
        "required": ["city"],
    }
    assert "model" not in got and "stream" not in got


def test_ollama_body() -> None:
    got = body("ollama")
    assert got["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Weather in Paris and Oslo?"},
        {
            "role": "assistant",
            "content": "Checking.",
            "tool_calls": [
                {"function": {"name": "get_weather", "arguments": {"city": "Paris"}}},
                {"function": {"name": "get_weather", "arguments": {"city": "Oslo"}}},
            ],
        },
        {"role": "tool", "tool_name": "get_weather", "content": '{"temp": 21}'},
        {"role": "tool", "tool_name": "get_weather", "content": "cold"},
    ]
    assert got["tools"] == TOOLS and got["stream"] is True


NATIVE = {
    "anthropic": {
        "role": "assistant",
        "content": [
            {"type": "thinking", "thinking": "hm", "signature": "sig=="},
            {
                "type": "tool_use",
                "id": "toolu_1",
                "name": "get_weather",
                "input": {"city": "Paris"},
            },
        ],
    },
    "responses": [
        {"id": "rs_1", "type": "reasoning", "summary": [], "encrypted_content": "enc"},
        {
            "id": "fc_1",
            "type": "function_call",
            "call_id": "call_1",
            "name": "get_weather",
            "arguments": "{}",
        },
    ],
    "gemini": {
        "role": "model",
        "parts": [
            {"functionCall": {"name": "get_weather", "args": {}}, "thoughtSignature": "ts=="}
        ],
    },
    "ollama": {"role": "assistant", "content": "", "thinking": "hm", "tool_calls": []},
}


@pytest.mark.parametrize("api", sorted(NATIVE))
def test_the_native_turn_goes_back_unchanged(api: str) -> None:
    assistant = {**TRANSCRIPT[2], "native": {"api": api, "message": NATIVE[api]}}
    got = json.dumps(body(api, [TRANSCRIPT[1], assistant]))
    for marker in ("sig==", "enc", "ts==", '"thinking": "hm"'):
        if marker in json.dumps(NATIVE[api]):
            assert marker in got
    # Another api's native turn is not used: the canonical fields are.
    other = "gemini" if api != "gemini" else "anthropic"
    foreign = {**TRANSCRIPT[2], "native": {"api": other, "message": NATIVE[other]}}
    assert body(api, [TRANSCRIPT[1], foreign]) == body(api, [TRANSCRIPT[1], TRANSCRIPT[2]])


def test_ollama_native_calls_go_back_with_object_arguments() -> None:
    """A model may stream a call's arguments as a (malformed) string; /api/chat refuses a
    string there, so the native turn goes back with an object in its place, the rest as sent."""
    calls = [
        {"function": {"index": 0, "name": "a", "arguments": '{"city": "Ro'}},
        {"function": {"index": 1, "name": "b", "arguments": '{"x": 1}'}},
        {"id": "c", "function": {"index": 2, "name": "c", "arguments": {"y": [2]}}},
    ]
    native = {"role": "assistant", "content": "", "tool_calls": calls}
    assistant = {**TRANSCRIPT[2], "native": {"api": "ollama", "message": native}}
    sent = body("ollama", [TRANSCRIPT[1], assistant])["messages"][-1]
    assert [c["function"]["arguments"] for c in sent["tool_calls"]] == [{}, {"x": 1}, {"y": [2]}]
    assert sent["tool_calls"][2] == calls[2]
    assert [c["function"]["index"] for c in sent["tool_calls"]] == [0, 1, 2]
    assert native["tool_calls"][0]["function"]["arguments"] == '{"city": "Ro'  # not mutated


# -- over the client ----------------------------------------------------------------------

STREAMS = {
    "chat": (
        "text/event-stream",
        b'data: {"choices":[{"index":0,"delta":{"content":"Hi"}}]}\n\n'
        b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n',
    ),
    "responses": (
        "text/event-stream",
        b'event: response.output_text.delta\ndata: {"type":"response.output_text.delta",'
        b'"item_id":"m","output_index":0,"content_index":0,"delta":"Hi"}\n\n'
        b'event: response.completed\ndata: {"type":"response.completed","response":'
        b'{"status":"completed","output":[]}}\n\n',
    ),
    "anthropic": (
        "text/event-stream",
        b'event: message_start\ndata: {"type":"message_start","message":{"id":"msg","role":'
        b'"assistant","content":[],"usage":{"input_tokens":3,"output_tokens":0}}}\n\n'
        b'event: content_block_start\ndata: {"type":"content_block_start","index":0,'
        b'"content_block":{"type":"text","text":""}}\n\n'
        b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
        b'"delta":{"type":"text_delta","text":"Hi"}}\n\n'
        b'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n'
        b'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn"},'
        b'"usage":{"output_tokens":1}}\n\n'
        b'event: message_stop\ndata: {"type":"message_stop"}\n\n',
    ),
    "gemini": (
        "text/event-stream",
        b'data: {"candidates":[{"content":{"role":"model","parts":[{"text":"Hi"}]},'
        b'"finishReason":"STOP"}]}\r\n\r\n',
    ),
    "ollama": (
        "application/x-ndjson",
        b'{"message":{"role":"assistant","content":"Hi"},"done":false}\n'
        b'{"message":{"role":"assistant","content":""},"done":true,"done_reason":"stop"}\n',
    ),
}

URLS = {
    "chat": "https://h.test/v1/chat/completions",
    "responses": "https://h.test/v1/responses",
    "anthropic": "https://h.test/v1/messages",
    "gemini": "https://h.test/v1beta/models/m-1:streamGenerateContent?alt=sse",
    "ollama": "https://h.test/api/chat",
}
BASES = {"chat": "https://h.test/v1", "responses": "https://h.test/v1"}


def _client(api: str, seen: list[httpx.Request], **kwargs: Any) -> toolwire.Client:
    media, data = STREAMS[api]

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, headers={"content-type": media}, stream=httpx.ByteStream(data))

    http = httpx.Client(transport=httpx.MockTransport(handler))
    base = BASES.get(api, "https://h.test")
    return toolwire.Client(api=api, base_url=base, http_client=http, **kwargs)


@pytest.mark.parametrize("api", sorted(APIS))
def test_client_speaks_the_api(api: str) -> None:
    seen: list[httpx.Request] = []
    client = _client(api, seen, api_key=KEY)
    with client.stream_chat(model="m-1", messages=TRANSCRIPT[:2], tools=TOOLS) as stream:
        texts = [e.text for e in stream if isinstance(e, toolwire.TextDelta)]
    assert texts == ["Hi"] and stream.message()["content"] == "Hi"
    assert stream.accumulator.format == api and stream.accumulator.outcome == "stop"
    (request,) = seen
    assert str(request.url) == URLS[api]
    sent = json.loads(request.content)
    assert sent == client._body("m-1", TRANSCRIPT[:2], TOOLS, {})
    auth = {
        "chat": ("authorization", f"Bearer {KEY}"),
        "responses": ("authorization", f"Bearer {KEY}"),
        "anthropic": ("x-api-key", KEY),
        "gemini": ("x-goog-api-key", KEY),
        "ollama": ("authorization", f"Bearer {KEY}"),
    }[api]
    assert request.headers[auth[0]] == auth[1]
    assert ("anthropic-version" in request.headers) == (api == "anthropic")
    assert KEY not in repr(client) and KEY not in str(sent)


ENV = {
    "chat": ({"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": "https://o.test/v1"}, "https://o.test/v1"),
    "responses": ({"OPENAI_API_KEY": KEY}, "https://api.openai.com/v1"),
    "anthropic": ({"ANTHROPIC_API_KEY": KEY}, "https://api.anthropic.com"),
    "gemini": ({"GOOGLE_API_KEY": KEY}, "https://generativelanguage.googleapis.com"),
    "ollama": ({"OLLAMA_HOST": "0.0.0.0"}, "http://127.0.0.1:11434"),
}


@pytest.mark.parametrize("api", sorted(ENV))
def test_environment_defaults(api: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "OPENAI_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL",
        "GEMINI_API_KEY", "GOOGLE_API_KEY", "GOOGLE_GEMINI_BASE_URL", "OLLAMA_HOST",
        "OLLAMA_API_KEY",
    ):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    env, base = ENV[api]
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    client = toolwire.Client(api=api)
    assert client.base_url == base
    assert client.has_api_key == (api != "ollama")


@pytest.mark.parametrize("api", ["anthropic", "gemini"])
def test_401_names_the_api_variables(api: str, monkeypatch: pytest.MonkeyPatch) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"error": {"message": "invalid x-api-key"}})

    http = httpx.Client(transport=httpx.MockTransport(handler))
    client = toolwire.Client(api=api, base_url="https://h.test", api_key=KEY, http_client=http)
    with pytest.raises(toolwire.AuthenticationError) as info:
        client.stream_chat(model="m-1", messages=TRANSCRIPT[:2]).open()
    variable = {"anthropic": "ANTHROPIC_API_KEY", "gemini": "GEMINI_API_KEY"}[api]
    assert variable in str(info.value) and KEY not in str(info.value)


def _mock_http(api: str, http: Any = httpx) -> Any:
    """A client of ``http`` (httpx, or httpx2 for the SDKs built on it) answering the api's
    stream."""
    media, data = STREAMS[api]

    def handler(request: Any) -> Any:
        return http.Response(200, headers={"content-type": media}, stream=http.ByteStream(data))

    return http.Client(transport=http.MockTransport(handler))


def _sdk_http(sdk: Any) -> Any:
    """The httpx package an SDK is built on (recent anthropic and openai use httpx2)."""
    base = sdk._base_client
    return __import__("httpx2") if "httpx2" in getattr(base, "__dict__", {}) else httpx


def test_from_response_reads_the_anthropic_sdk_raw_stream() -> None:
    anthropic = pytest.importorskip("anthropic")
    sdk = anthropic.Anthropic(
        api_key=KEY,
        base_url="https://h.test",
        http_client=_mock_http("anthropic", _sdk_http(anthropic)),
    )
    with sdk.messages.with_streaming_response.create(
        model="m-1", max_tokens=10, messages=[{"role": "user", "content": "Hi"}], stream=True
    ) as response:
        stream = toolwire.ChatStream.from_response(response)
        texts = [e.text for e in stream if isinstance(e, toolwire.TextDelta)]
    assert texts == ["Hi"] and stream.accumulator.format == "anthropic"
    assert stream.accumulator.token_usage == {
        "input_tokens": 3,
        "output_tokens": 1,
        "total_tokens": 4,
    }


def test_from_response_reads_the_openai_sdk_responses_raw_stream() -> None:
    openai = pytest.importorskip("openai")
    sdk = openai.OpenAI(
        api_key=KEY,
        base_url="https://h.test/v1",
        http_client=_mock_http("responses", _sdk_http(openai)),
    )
    with sdk.responses.with_streaming_response.create(
        model="m-1", input="Hi", stream=True
    ) as response:
        stream = toolwire.ChatStream.from_response(response)
        stream.until_done()
    assert stream.message()["content"] == "Hi" and stream.accumulator.format == "responses"


def test_the_http_client_must_match_the_client() -> None:
    with pytest.raises(TypeError, match=r"Client takes an httpx.Client as http_client, not Async"):
        toolwire.Client(http_client=httpx.AsyncClient())
    with pytest.raises(TypeError, match=r"AsyncClient takes an httpx.AsyncClient"):
        toolwire.AsyncClient(http_client=httpx.Client())


def _normalised(messages: list[dict[str, Any]], ids: bool) -> list[dict[str, Any]]:
    """Assistant content "" and None alike; call ids renumbered when the api sends none."""
    out = []
    for m in json.loads(json.dumps(messages)):  # no dict shared between messages
        m = {k: v for k, v in m.items() if k != "native"}
        if m["role"] == "assistant":
            m["content"] = m.get("content") or None
        out.append(m)
    if ids:
        return out
    renamed: dict[str, str] = {}
    count = 0
    for m in out:
        for call in m.get("tool_calls") or ():
            renamed[call["id"]] = call["id"] = f"call_{count}"
            count += 1
        if m["role"] == "tool":
            m["tool_call_id"] = renamed.get(m["tool_call_id"], m["tool_call_id"])
    return out


MULTI_TURN = [
    *TRANSCRIPT,
    {"role": "assistant", "content": None, "tool_calls": [CALLS[0]]},
    {"role": "tool", "tool_call_id": "c1", "content": "[1, 2]"},
    {"role": "assistant", "content": "Paris is warm."},
    {"role": "user", "content": "Thanks"},
]


@pytest.mark.parametrize("api", sorted(APIS))
@pytest.mark.parametrize("transcript", [TRANSCRIPT, MULTI_TURN], ids=["one-turn", "multi-turn"])
def test_a_request_reads_back_as_its_transcript(api: str, transcript: list[dict[str, Any]]) -> None:
    """What the scripted server reads of a request (``messages_of``) is what it was built from:
    the inverse of ``body`` for every api."""
    dialect = dialect_for(api)
    sent = json.loads(json.dumps(dialect.body("m-1", transcript, TOOLS, {})))
    got = dialect.messages_of(sent, "m-1")
    keeps_ids = api not in ("gemini", "ollama")
    assert _normalised(got, keeps_ids) == _normalised(transcript, keeps_ids)


def test_gemini_answers_a_call_by_its_id_when_it_had_one() -> None:
    native = {
        "role": "model",
        "parts": [
            {"functionCall": {"id": "fc-7", "name": "get_weather", "args": {"city": "Paris"}}},
            {"functionCall": {"name": "get_weather", "args": {"city": "Oslo"}}},
        ],
    }
    assistant = {**TRANSCRIPT[2], "native": {"api": "gemini", "message": native}}
    got = body("gemini", [TRANSCRIPT[1], assistant, *TRANSCRIPT[3:]])
    responses = [p["functionResponse"] for p in got["contents"][-1]["parts"]]
    assert responses == [
        {"name": "get_weather", "response": {"temp": 21}, "id": "fc-7"},
        {"name": "get_weather", "response": {"result": "cold"}},
    ]


def test_results_answer_their_own_turn_when_ids_repeat() -> None:
    """Generated ids repeat across turns (every turn's first call is call_0)."""
    turn = [
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_0", "type": "function", "function": {"name": name, "arguments": "{}"}}
        ]}
        for name in ("first", "second")
    ]  # fmt: skip
    messages = [
        TRANSCRIPT[1],
        turn[0],
        {"role": "tool", "tool_call_id": "call_0", "content": "1"},
        turn[1],
        {"role": "tool", "tool_call_id": "call_0", "content": "2"},
    ]
    gemini = body("gemini", messages)["contents"]
    assert [c["parts"][0]["functionResponse"]["name"] for c in gemini[2::2]] == ["first", "second"]
    ollama = body("ollama", messages)["messages"]
    assert [m["tool_name"] for m in ollama if m["role"] == "tool"] == ["first", "second"]
