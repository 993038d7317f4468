"""Client / AsyncClient end to end against toolwire.testing: events, retries before the first
byte only, timeouts, typed errors that keep what was parsed, the key kept secret, and the
openai SDK fast path."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

import toolwire
from toolwire import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AsyncChatStream,
    AsyncClient,
    AuthenticationError,
    ChatStream,
    Client,
    IncompleteStream,
    MalformedStream,
    RateLimitError,
    StreamError,
    StreamProviderError,
    StreamStalled,
    TextDelta,
    ToolCallFinished,
    ToolRegistry,
)
from toolwire.testing import Fault, ScriptedServer, Turn, call

KEY = "sk-test-VERYSECRET-0123456789"
MESSAGES = [{"role": "user", "content": "Weather in Paris?"}]
TURN = Turn("Checking.", tool_calls=[call("get_weather", {"city": "Paris"}, id="call_1")])
EXPECTED = {
    "role": "assistant",
    "content": "Checking.",
    "tool_calls": [
        {
            "id": "call_1",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
        }
    ],
}


def client_for(server: ScriptedServer, **options: Any) -> Client:
    options.setdefault("backoff", 0.01)
    return Client(base_url=server.url, api_key=KEY, **options)


def async_client_for(server: ScriptedServer, **options: Any) -> AsyncClient:
    options.setdefault("backoff", 0.01)
    return AsyncClient(base_url=server.url, api_key=KEY, **options)


def consume(client: Client, **params: Any) -> tuple[ChatStream, list[Any]]:
    stream = client.stream_chat(model="m", messages=MESSAGES, **params)
    events: list[Any] = []
    with stream:
        events.extend(stream)
    return stream, events


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with ScriptedServer() as s:
        yield s


# -- the happy path ------------------------------------------------------------------------------


def test_stream_events_message_usage(server: ScriptedServer) -> None:
    server.add(TURN)
    with client_for(server) as client:
        stream, events = consume(client, temperature=0)
    assert stream.message() == EXPECTED
    assert stream.finish_reason == "tool_calls"
    assert stream.usage is not None and stream.usage["total_tokens"] > 0
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "Checking."
    finished = [e for e in events if isinstance(e, ToolCallFinished)]
    assert [f.parsed for f in finished] == [{"city": "Paris"}]
    assert (
        stream.attempts == 1
        and stream.request_id is not None
        and stream.request_id.startswith("req_")
    )
    request = server.requests[0]
    assert request.body["stream"] is True and request.body["temperature"] == 0
    assert request.body["stream_options"] == {"include_usage": True}
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.headers["user-agent"].startswith("toolwire/")


def test_tools_from_a_registry_and_iter_batches(server: ScriptedServer) -> None:
    registry = ToolRegistry()

    @registry.tool
    def get_weather(city: str) -> str:
        return "sunny"

    server.add(Turn("a" * 200, chunking="random", delay=0.001))
    with (
        client_for(server) as client,
        client.stream_chat(model="m", messages=MESSAGES, tools=registry) as stream,
    ):
        batches = list(stream.iter_batches())
    assert server.requests[0].tools == registry.schemas()
    assert len(batches) > 1 and all(isinstance(b, list) and b for b in batches)
    assert stream.message()["content"] == "a" * 200


def test_env_defaults_and_repr(monkeypatch: pytest.MonkeyPatch, server: ScriptedServer) -> None:
    server.add(Turn("hi"))
    monkeypatch.setenv("OPENAI_BASE_URL", server.url + "/")
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    with Client() as client:
        assert client.base_url == server.url and client.has_api_key
        assert KEY not in repr(client) and "api_key=<set>" in repr(client)
        consume(client)
    assert server.requests[0].headers["authorization"] == f"Bearer {KEY}"
    monkeypatch.delenv("OPENAI_API_KEY")
    monkeypatch.delenv("OPENAI_BASE_URL")
    with Client() as client:
        assert client.base_url == "https://api.openai.com/v1" and not client.has_api_key


def test_early_break_releases_the_connection(server: ScriptedServer) -> None:
    server.add(Turn("x" * 400, delay=0.001), Turn("second"))
    with client_for(server) as client:
        with client.stream_chat(model="m", messages=MESSAGES) as stream:
            for _ in stream:
                break
        stream2, _ = consume(client)
    assert stream2.message()["content"] == "second"


# -- retries before the first byte only ----------------------------------------------------------


def test_retries_429_with_retry_after_then_500_then_disconnect(server: ScriptedServer) -> None:
    server.add(Fault.rate_limit(retry_after=0.2), Fault.server_error(502), Fault.disconnect(), TURN)
    start = time.monotonic()
    with client_for(server, max_retries=3) as client:
        stream, _ = consume(client)
    assert time.monotonic() - start >= 0.2  # Retry-After honoured
    assert stream.attempts == 4 and len(server.requests) == 4
    assert stream.message() == EXPECTED


def test_retries_exhausted_raise_typed_errors(server: ScriptedServer) -> None:
    server.add(
        *[Fault.rate_limit(retry_after=0.01)] * 3, *[Fault.server_error(500, "overloaded")] * 3
    )
    with client_for(server, max_retries=2) as client:
        with pytest.raises(RateLimitError) as limited:
            consume(client)
        assert limited.value.retry_after == pytest.approx(0.01)
        assert limited.value.status_code == 429 and limited.value.retryable
        with pytest.raises(APIStatusError) as failed:
            consume(client)
    assert failed.value.status_code == 500 and "overloaded" in str(failed.value)
    assert failed.value.body["error"]["message"] == "overloaded"
    assert len(server.requests) == 6


def test_client_errors_are_not_retried(server: ScriptedServer) -> None:
    server.add(
        Fault.status_code(400, "bad request: messages"), Fault.status_code(404, "no such model")
    )
    with client_for(server) as client:
        for status in (400, 404):
            with pytest.raises(APIStatusError) as err:
                consume(client)
            assert err.value.status_code == status and not err.value.retryable
    assert len(server.requests) == 2


def test_retry_after_beyond_the_cap_is_not_waited(server: ScriptedServer) -> None:
    server.add(Fault.rate_limit(retry_after=120))
    start = time.monotonic()
    with client_for(server, max_retry_after=5) as client, pytest.raises(RateLimitError):
        consume(client)
    assert time.monotonic() - start < 2 and len(server.requests) == 1


def test_connection_refused_is_retried_then_raised() -> None:
    with ScriptedServer() as closed:
        url = closed.url
    with (
        Client(base_url=url, api_key=KEY, max_retries=2, backoff=0.01) as client,
        pytest.raises(APIConnectionError) as err,
    ):
        consume(client)
    assert err.value.retryable and "connection failed" in str(err.value)


def test_no_first_byte_in_time_is_retried(server: ScriptedServer) -> None:
    server.add(Turn("slow", first_byte_delay=1.0), Turn("fast"))
    start = time.monotonic()
    with client_for(server, stall_timeout=0.2) as client:
        stream, _ = consume(client)
    assert stream.message()["content"] == "fast" and stream.attempts == 2
    assert time.monotonic() - start < 0.9


def test_first_byte_timeouts_exhaust_into_api_timeout(server: ScriptedServer) -> None:
    server.add(*[Turn("slow", first_byte_delay=1.0)] * 2)
    with (
        client_for(server, stall_timeout=0.1, max_retries=1) as client,
        pytest.raises(APITimeoutError),
    ):
        consume(client)
    assert len(server.requests) == 2


def test_stream_options_rejected_are_dropped_for_good(server: ScriptedServer) -> None:
    server.accept_stream_options = False
    server.add(Turn("one"), Turn("two"))
    with client_for(server) as client:
        first, _ = consume(client)
        second, _ = consume(client)
    assert (first.message()["content"], second.message()["content"]) == ("one", "two")
    assert [("stream_options" in r.body) for r in server.requests] == [True, False, False]
    assert first.usage is None


# -- faults after the first byte: typed, never retried, nothing lost ----------------------------


def test_cut_mid_stream(server: ScriptedServer) -> None:
    # role chunk, "Chec", "king", ".", call opening, one arguments fragment, then a cut
    server.add(
        Turn(TURN.text, tool_calls=TURN.tool_calls, fault=Fault.cut(after=6)), Turn("unused")
    )
    with client_for(server) as client:
        stream = client.stream_chat(model="m", messages=MESSAGES)
        events: list[Any] = []
        with pytest.raises(IncompleteStream) as err, stream:
            events.extend(stream)
    assert not isinstance(err.value, StreamStalled) and err.value.retryable
    partial = err.value.partial_message
    assert partial["content"] == "Checking."
    (partial_call,) = partial["tool_calls"]
    assert partial_call["id"] == "call_1" and partial_call["function"]["name"] == "get_weather"
    arguments = partial_call["function"]["arguments"]
    assert (
        arguments and '{"city": "Paris"}'.startswith(arguments) and arguments != '{"city": "Paris"}'
    )
    assert err.value.accumulator is stream.accumulator and stream.accumulator.truncated
    finished = [e for e in events if isinstance(e, ToolCallFinished)]
    assert len(finished) == 1 and finished[0].parsed is None  # a cut call is never "parsed"
    assert finished[0].error is not None and finished[0].error.kind == "incomplete"
    assert len(server.requests) == 1  # never retried after the first byte


def test_stall_mid_stream(server: ScriptedServer) -> None:
    server.add(Turn("abcdefghijkl", fault=Fault.stall(after=2, seconds=5)))
    start = time.monotonic()
    with client_for(server, stall_timeout=0.3) as client, pytest.raises(StreamStalled) as err:
        consume(client)
    assert 0.25 <= time.monotonic() - start < 3
    assert err.value.partial_message["content"] == "abcd"
    assert isinstance(err.value, IncompleteStream) and "0.3 s" in str(err.value)
    assert len(server.requests) == 1


def test_short_pause_is_not_a_stall(server: ScriptedServer) -> None:
    server.add(Turn("abcdefgh", fault=Fault.stall(after=2, seconds=0.15)))
    with client_for(server, stall_timeout=1.0) as client:
        stream, _ = consume(client)
    assert stream.message()["content"] == "abcdefgh"


def test_malformed_chunk_keeps_everything_else(server: ScriptedServer) -> None:
    server.add(Turn("abcdefgh", fault=Fault.malformed(after=2)))
    with client_for(server) as client:
        stream = client.stream_chat(model="m", messages=MESSAGES)
        events: list[Any] = []
        with pytest.raises(MalformedStream) as err, stream:
            events.extend(stream)
    assert isinstance(err.value.__cause__, toolwire.ParseError)
    # Reading went on after the bad chunk: the text after it and the finish reason are there.
    assert err.value.partial_message["content"] == "abcdefgh"
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "abcdefgh"
    assert stream.finish_reason == "stop"


def test_error_object_in_the_stream(server: ScriptedServer) -> None:
    server.add(
        Turn("abcdefgh", fault=Fault.error_event(after=2, message="The model is overloaded"))
    )
    with client_for(server) as client, pytest.raises(StreamProviderError) as err:
        consume(client)
    assert err.value.error.message == "The model is overloaded"
    assert err.value.error.code == "overloaded"
    assert err.value.partial_message["content"] == "abcd"
    assert isinstance(err.value, StreamError) and len(server.requests) == 1


# -- the key stays secret ------------------------------------------------------------------------


def test_key_never_in_errors_reprs_or_logs(
    server: ScriptedServer, caplog: pytest.LogCaptureFixture
) -> None:
    echo = {
        "error": {"message": f"Incorrect API key provided: {KEY}", "type": "invalid_request_error"}
    }
    server.add(
        Fault.status_code(401, body=echo),
        Fault.rate_limit(retry_after=0),
        Fault.status_code(500, f"echo {KEY}"),
        Turn("x", fault=Fault.error_event(after=1, message=f"leak {KEY}")),
    )
    caplog.set_level(logging.DEBUG)
    texts: list[str] = []
    with client_for(server, max_retries=1) as client:
        texts.append(repr(client))
        with pytest.raises(AuthenticationError) as auth:
            consume(client)
        texts += [str(auth.value), repr(auth.value)]
        assert "check the API key" in str(auth.value) and server.url in str(auth.value)
        assert not auth.value.retryable
        with pytest.raises(APIStatusError) as status:
            consume(client)
        texts += [str(status.value), repr(status.value)]
        with pytest.raises(StreamProviderError) as provider:
            consume(client)
        texts += [str(provider.value), repr(provider.value)]
    texts.append(caplog.text)
    assert "retrying" in caplog.text
    for text in texts:
        assert KEY not in text, text


def test_missing_key_hint() -> None:
    with ScriptedServer([], api_key="needed") as server:
        server.add(Fault.status_code(401, "no key"))
        with (
            Client(base_url=server.url, api_key="") as client,
            pytest.raises(AuthenticationError, match="no API key is set"),
        ):
            consume(client)
        assert "authorization" not in server.requests[0].headers


# -- async -------------------------------------------------------------------------------------


def test_async_stream_retries_and_faults(server: ScriptedServer) -> None:
    server.add(
        Fault.rate_limit(retry_after=0.01),
        TURN,
        Turn("abcdefgh", fault=Fault.cut(after=3)),
        Turn("abcdefgh", fault=Fault.stall(after=2, seconds=5)),
        Turn("abcdefgh", fault=Fault.malformed(after=2)),
    )

    async def main() -> list[Any]:
        out: list[Any] = []
        async with async_client_for(server, stall_timeout=0.3) as client:
            stream = client.stream_chat(model="m", messages=MESSAGES)
            async with stream:
                events = [e async for e in stream]
            out.append((stream.attempts, stream.message(), len(events)))
            for _ in range(3):
                try:
                    async with client.stream_chat(model="m", messages=MESSAGES) as s:
                        async for _event in s.aiter_batches():
                            pass
                except StreamError as exc:
                    out.append((type(exc), exc.partial_message["content"]))
        return out

    results = asyncio.run(main())
    assert results[0][0] == 2 and results[0][1] == EXPECTED and results[0][2] > 5
    assert results[1] == (IncompleteStream, "abcdefgh")  # the cut fell inside the finish chunk
    assert results[2] == (StreamStalled, "abcd")
    assert results[3] == (MalformedStream, "abcdefgh")
    assert len(server.requests) == 5


def test_async_first_byte_timeout_and_status(server: ScriptedServer) -> None:
    server.add(Turn("slow", first_byte_delay=1.0), Turn("fast"), Fault.status_code(401, "nope"))

    async def main() -> tuple[str, type[BaseException]]:
        async with async_client_for(server, stall_timeout=0.2) as client:
            stream = await client.stream_chat(model="m", messages=MESSAGES).open()
            await stream.until_done()
            try:
                await client.stream_chat(model="m", messages=MESSAGES).until_done()
            except AuthenticationError as exc:
                return stream.message()["content"], type(exc)
        raise AssertionError("no error")

    assert asyncio.run(main()) == ("fast", AuthenticationError)


# -- reading someone else's response: the openai SDK fast path -----------------------------------


def test_openai_sdk_fast_path_sync(server: ScriptedServer) -> None:
    openai = pytest.importorskip("openai")
    server.add(Turn(TURN.text, tool_calls=TURN.tool_calls, chunking="random"), TURN)
    sdk = openai.OpenAI(base_url=server.url, api_key=KEY, max_retries=0)
    try:
        with sdk.chat.completions.with_streaming_response.create(
            model="m", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        ) as response:
            stream = ChatStream.from_response(response)
            events = list(stream)
    finally:
        sdk.close()
    assert stream.message() == EXPECTED and stream.usage is not None
    assert any(isinstance(e, ToolCallFinished) for e in events)
    with client_for(server) as client:
        same, _ = consume(client)
    assert same.message() == stream.message()


def test_openai_sdk_fast_path_async(server: ScriptedServer) -> None:
    openai = pytest.importorskip("openai")
    server.add(TURN, Turn("abcdefgh", fault=Fault.cut(after=3)))

    async def main() -> tuple[dict[str, Any], type[BaseException] | None]:
        sdk = openai.AsyncOpenAI(base_url=server.url, api_key=KEY, max_retries=0)
        try:
            async with sdk.chat.completions.with_streaming_response.create(
                model="m", messages=MESSAGES, stream=True
            ) as response:
                stream = AsyncChatStream.from_response(response)
                await stream.until_done()
            error: type[BaseException] | None = None
            try:
                async with sdk.chat.completions.with_streaming_response.create(
                    model="m", messages=MESSAGES, stream=True
                ) as response:
                    await AsyncChatStream.from_response(response).until_done()
            except IncompleteStream as exc:
                error = type(exc)
            return stream.message(), error
        finally:
            await sdk.close()

    assert asyncio.run(main()) == (EXPECTED, IncompleteStream)


def test_from_response_with_httpx_and_plain_reads(server: ScriptedServer) -> None:
    server.add(TURN)
    with (
        httpx.Client(trust_env=False) as http,
        http.stream(
            "POST",
            server.url + "/chat/completions",
            json={"model": "m", "messages": MESSAGES, "stream": True},
        ) as r,
    ):
        raw = b"".join(r.iter_raw())
    reads = [raw[i : i + 7] for i in range(0, len(raw), 7)]
    stream = ChatStream.from_response(reads, max_tool_calls=4)
    assert stream.until_done().message() == EXPECTED
    with pytest.raises(TypeError, match="iterable of byte chunks"):
        ChatStream.from_response(raw)

    async def reads_async() -> Any:
        for read in reads:
            yield read

    async def main() -> dict[str, Any]:
        return (await AsyncChatStream.from_response(reads_async()).until_done()).message()

    assert asyncio.run(main()) == EXPECTED
