"""toolwire.testing: the scripted OpenAI-compatible server, checked with plain httpx."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

import toolwire
from toolwire.testing import Fault, RecordedRequest, ScriptedServer, Turn, call, turn_from_dict

BODY = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": True}


def http() -> httpx.Client:
    return httpx.Client(trust_env=False, timeout=10)


def sse_payloads(raw: bytes) -> list[Any]:
    """The data payloads of a body (JSON-decoded; [DONE] kept as a string)."""
    out: list[Any] = []
    for block in raw.decode().split("\n\n"):
        if block.startswith("data: "):
            data = block[len("data: ") :]
            out.append(data if data == "[DONE]" else json.loads(data))
    return out


def post_raw(server: ScriptedServer, body: dict[str, Any] = BODY, **headers: str) -> httpx.Response:
    with http() as client:
        return client.post(server.url + "/chat/completions", json=body, headers=headers)


def test_turn_is_rendered_like_openai() -> None:
    turn = Turn(
        "Hello there, friend.",
        tool_calls=[call("get_weather", {"city": "Paris"}, id="call_1"), call("noop", id="call_2")],
    )
    with ScriptedServer([turn]) as server:
        body = {**BODY, "stream_options": {"include_usage": True}}
        response = post_raw(server, body)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    chunks = sse_payloads(response.content)
    assert chunks[-1] == "[DONE]"
    first = chunks[0]
    assert first["object"] == "chat.completion.chunk"
    assert first["choices"][0]["delta"] == {"role": "assistant", "content": "", "refusal": None}
    deltas = [c["choices"][0]["delta"] for c in chunks[1:-1] if c["choices"]]
    text = "".join(d.get("content", "") for d in deltas)
    assert text == "Hello there, friend."
    assert all(len(d["content"]) <= 4 for d in deltas if "content" in d)
    openings = [
        d["tool_calls"][0] for d in deltas if "tool_calls" in d and "id" in d["tool_calls"][0]
    ]
    assert openings == [
        {
            "index": 0,
            "id": "call_1",
            "type": "function",
            "function": {"name": "get_weather", "arguments": ""},
        },
        {
            "index": 1,
            "id": "call_2",
            "type": "function",
            "function": {"name": "noop", "arguments": ""},
        },
    ]
    fragments = [
        d["tool_calls"][0]["function"]["arguments"]
        for d in deltas
        if "tool_calls" in d and "id" not in d["tool_calls"][0]
    ]
    assert all(1 <= len(f) <= 6 for f in fragments)
    assert "".join(fragments) == '{"city": "Paris"}{}'
    finish = [c for c in chunks[1:-1] if c["choices"] and c["choices"][0]["finish_reason"]]
    assert [c["choices"][0]["finish_reason"] for c in finish] == ["tool_calls"]
    usage = chunks[-2]
    assert usage["choices"] == [] and usage["usage"]["total_tokens"] > 0
    assert all(c["usage"] is None for c in chunks[:-2])


def test_usage_chunk_only_when_asked() -> None:
    with ScriptedServer([Turn("hi")]) as server:
        chunks = sse_payloads(post_raw(server).content)
    assert all("usage" not in c for c in chunks if isinstance(c, dict))
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"


def test_rendered_stream_parses_to_the_scripted_message() -> None:
    turn = Turn("Let me check.", tool_calls=[call("f", {"a": [1, 2, {"b": "é"}]}, id="c1")])
    for chunking in ("event", "random"):
        with ScriptedServer([turn], chunking=chunking) as server:
            acc = toolwire.StreamAccumulator()
            with (
                http() as client,
                client.stream("POST", server.url + "/chat/completions", json=BODY) as r,
            ):
                for read in r.iter_raw():
                    acc.feed(read)
            acc.finish()
        assert acc.message() == {
            "role": "assistant",
            "content": "Let me check.",
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "f", "arguments": '{"a": [1, 2, {"b": "é"}]}'},
                }
            ],
        }
        assert acc.done and not acc.truncated


def test_interleaved_calls() -> None:
    turn = Turn(
        tool_calls=[call("a", {"x": "1234567890"}), call("b", {"y": "abcdefghij"})], interleave=True
    )
    with ScriptedServer([turn]) as server:
        chunks = sse_payloads(post_raw(server).content)
    indexes = [
        c["choices"][0]["delta"]["tool_calls"][0]["index"]
        for c in chunks[1:]
        if isinstance(c, dict) and c["choices"] and "tool_calls" in c["choices"][0]["delta"]
    ]
    assert indexes[:4] == [0, 1, 0, 1]


def test_requests_are_recorded() -> None:
    with ScriptedServer([Turn("a"), Turn("b")], api_key="sk-test") as server:
        post_raw(server, Authorization="Bearer sk-test")
        post_raw(
            server,
            {**BODY, "messages": [{"role": "user", "content": "again"}]},
            Authorization="Bearer sk-test",
        )
    first, second = server.requests
    assert isinstance(first, RecordedRequest)
    assert first.path == "/v1/chat/completions" and first.model == "m"
    assert second.messages == [{"role": "user", "content": "again"}]
    assert server.remaining == 0


def test_api_key_is_checked() -> None:
    with ScriptedServer([Turn("a")], api_key="sk-right") as server:
        response = post_raw(server, Authorization="Bearer sk-wrong")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"


def test_expect_failure_answers_400_and_raises_on_exit() -> None:
    def has_tool_result(request: RecordedRequest) -> bool:
        return bool(request.messages[-1]["role"] == "tool")

    server = ScriptedServer([Turn("a", expect=has_tool_result)])
    with pytest.raises(AssertionError, match="has_tool_result returned False"), server:
        response = post_raw(server)
        assert response.status_code == 400
        assert "request check failed" in response.json()["error"]["message"]
    assert len(server.errors) == 1


def test_server_wide_check_with_assert() -> None:
    def check(request: RecordedRequest) -> None:
        assert request.body.get("temperature") == 0, "temperature must be 0"

    with ScriptedServer([Turn("a"), Turn("b")], check=check, raise_on_exit=False) as server:
        assert post_raw(server, {**BODY, "temperature": 0}).status_code == 200
        assert post_raw(server).status_code == 400
    assert server.errors[0].startswith("request #2: AssertionError: temperature must be 0")


def test_before_body_faults() -> None:
    script: list[Turn | Fault] = [
        Fault.rate_limit(1.5),
        Fault.server_error(503),
        Fault.disconnect(),
        Turn("ok"),
    ]
    with ScriptedServer(script) as server:
        limited = post_raw(server)
        assert limited.status_code == 429 and limited.headers["retry-after"] == "1.5"
        assert limited.json()["error"]["type"] == "rate_limit_error"
        assert post_raw(server).status_code == 503
        with pytest.raises(httpx.TransportError):
            post_raw(server)
        assert post_raw(server).status_code == 200


def test_cut_leaves_the_body_unterminated() -> None:
    with ScriptedServer([Turn("abcdefghijkl", fault=Fault.cut(after=2))]) as server:
        received = b""
        url = server.url + "/chat/completions"
        with (
            pytest.raises(httpx.RemoteProtocolError),
            http() as client,
            client.stream("POST", url, json=BODY) as r,
        ):
            for read in r.iter_raw():
                received += read
    blocks = received.split(b"\n\n")
    assert len(blocks) == 3 and blocks[-1].startswith(b"data: {")  # two events, then half of one


def test_stall_pauses_then_goes_on() -> None:
    with ScriptedServer([Turn("abcdefgh", fault=Fault.stall(after=2, seconds=0.3))]) as server:
        times = []
        with (
            http() as client,
            client.stream("POST", server.url + "/chat/completions", json=BODY) as r,
        ):
            for _ in r.iter_raw():
                times.append(time.monotonic())
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert max(gaps) >= 0.25
    assert len(times) >= 4


def test_malformed_and_error_event() -> None:
    script = [
        Turn("abcd", fault=Fault.malformed(after=2)),
        Turn("abcd", fault=Fault.error_event(after=2, message="boom")),
    ]
    with ScriptedServer(script) as server:
        malformed = post_raw(server).content
        errored = post_raw(server).content
    assert b'"content":"oops"\n\n' in malformed and malformed.endswith(b"data: [DONE]\n\n")
    blocks = [b for b in errored.split(b"\n\n") if b]
    assert json.loads(blocks[-1][len(b"data: ") :])["error"]["message"] == "boom"
    assert b"[DONE]" not in errored


def test_script_exhausted_and_loop() -> None:
    with ScriptedServer([Turn("a")], raise_on_exit=False) as server:
        assert post_raw(server).status_code == 200
        assert post_raw(server).status_code == 500
    assert "script exhausted" in server.errors[0]
    with ScriptedServer([Turn("a")], loop=True) as server:
        assert [post_raw(server).status_code for _ in range(3)] == [200, 200, 200]


def test_responder_picks_turns_from_the_request() -> None:
    def responder(request: RecordedRequest) -> Turn:
        return Turn(f"you said {request.messages[-1]['content']}")

    with ScriptedServer(responder) as server:
        chunks = sse_payloads(post_raw(server).content)
    text = "".join(
        c["choices"][0]["delta"].get("content", "")
        for c in chunks
        if isinstance(c, dict) and c["choices"]
    )
    assert text == "you said hi"


def test_responder_error_is_reported() -> None:
    def responder(request: RecordedRequest) -> Turn:
        raise KeyError("nope")

    with ScriptedServer(responder, raise_on_exit=False) as server:
        assert post_raw(server).status_code == 500
    assert "responder failed" in server.errors[0]


def test_non_streaming_and_models() -> None:
    with ScriptedServer([Turn("whole", tool_calls=[call("f", {"a": 1}, id="c")])]) as server:
        response = post_raw(server, {**BODY, "stream": False})
        with http() as client:
            models = client.get(server.url + "/models").json()
    completion = response.json()
    assert completion["object"] == "chat.completion"
    assert (
        completion["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"] == '{"a": 1}'
    )
    assert models["data"][0]["id"] == "toolwire-test"


def test_rejects_stream_options_when_told() -> None:
    with ScriptedServer([Turn("a")], accept_stream_options=False) as server:
        response = post_raw(server, {**BODY, "stream_options": {"include_usage": True}})
        assert response.status_code == 400
        assert response.json()["error"]["param"] == "stream_options"
        assert server.remaining == 1  # a rejected request does not use up the turn


def test_delays_and_loopback_only() -> None:
    with ScriptedServer([Turn("abcdefgh")], delay=0.05, first_byte_delay=0.1) as server:
        assert server.url.startswith("http://127.0.0.1:")
        start = time.monotonic()
        post_raw(server)
        elapsed = time.monotonic() - start
    assert elapsed >= 0.1 + 3 * 0.05 * 0.9


def test_close_abandons_a_stalled_response() -> None:
    server = ScriptedServer([Turn("abcd", fault=Fault.stall(after=1, seconds=30))]).start()
    with http() as client, client.stream("POST", server.url + "/chat/completions", json=BODY) as r:
        reads = r.iter_raw()
        next(reads)
        start = time.monotonic()
        server.close()
        with pytest.raises(httpx.TransportError):
            for _ in reads:
                pass
    assert time.monotonic() - start < 5


def test_turn_from_dict_and_fault_validation() -> None:
    entry = turn_from_dict(
        {
            "text": "hi",
            "tool_calls": [{"name": "f", "arguments": {"a": 1}}],
            "fault": {"kind": "cut", "after": 3},
            "delay": 0.01,
        }
    )
    assert (
        isinstance(entry, Turn) and entry.fault == Fault.cut(3) and entry.tool_calls[0].name == "f"
    )
    assert turn_from_dict({"fault": {"kind": "status", "status": 429}}) == Fault(
        "status", status=429
    )
    with pytest.raises(ValueError, match="script entry of its own"):
        Turn("x", fault=Fault.rate_limit())


def test_toolwire_serve_command(tmp_path: Path) -> None:
    script = tmp_path / "script.json"
    script.write_text(json.dumps([{"text": "from a file"}]))
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "toolwire", "serve", "--script", str(script), "--delay", "0"],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("toolwire test server on http://127.0.0.1:")
        url = line.split()[4]
        with toolwire.Client(base_url=url, api_key="x") as client:
            for _ in range(2):  # the script loops
                with client.stream_chat(model="m", messages=[]) as stream:
                    stream.until_done()
                assert stream.message()["content"] == "from a file"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()
