"""Client hardening (issue 8, items 1, 7, 8, 9): secrets never shown, compressed bodies decoded
with bounded memory, a 200 that is not an event stream reported as such, a big connection pool,
pool exhaustion as its own error, and a total deadline per stream.

Servers are local: ``ScriptedServer`` or ``RawServer`` below, an asyncio HTTP/1.1 server on
127.0.0.1 whose responses a test writes byte by byte (compressed bodies, odd content types,
trickles, many connections at once).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import gzip
import json
import logging
import os
import subprocess
import sys
import threading
import time
import traceback
import urllib.parse
import zlib
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

import toolwire
from toolwire import (
    APITimeoutError,
    AsyncChatStream,
    AsyncClient,
    AuthenticationError,
    ChatStream,
    Client,
    IncompleteStream,
    LimitExceeded,
    MalformedStream,
    StreamStalled,
    TextDelta,
)
from toolwire.testing import Fault, ScriptedServer, Turn

MESSAGES = [{"role": "user", "content": "hi"}]


# -- a raw local server --------------------------------------------------------------------------


@dataclass
class RawRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


Handler = Callable[[RawRequest, asyncio.StreamWriter], Awaitable[None]]


@dataclass
class RawServer:
    """HTTP/1.1 on 127.0.0.1 in a thread; ``handler`` writes each whole response, then the
    connection closes. Counts connections open at once (``max_active``)."""

    handler: Handler
    requests: list[RawRequest] = field(default_factory=list)
    active: int = 0
    max_active: int = 0
    port: int = 0

    def __post_init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._tasks: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> RawServer:
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(5)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def __exit__(self, *exc_info: object) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    async def _start(self) -> asyncio.Server:
        return await asyncio.start_server(self._serve, "127.0.0.1", 0, backlog=1024)

    async def _stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            headers = {}
            for line in lines[1:]:
                if line:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length") or 0))
            request = RawRequest(method, path, headers, body)
            self.requests.append(request)
            await self.handler(request, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            self.active -= 1
            self._tasks.discard(task)
            writer.close()


async def respond(
    writer: asyncio.StreamWriter,
    chunks: Iterable[bytes],
    *,
    status: str = "200 OK",
    headers: Mapping[str, str | None] | None = None,
    delay: float = 0.0,
    first_delay: float = 0.0,
    end: bool = True,
) -> None:
    """Writes a chunked response; ``delay`` between body writes; ``end=False`` leaves the body
    open."""
    all_headers = {"Content-Type": "text/event-stream", **(headers or {})}
    head = f"HTTP/1.1 {status}\r\n" + "".join(
        f"{name}: {value}\r\n" for name, value in all_headers.items() if value is not None
    )
    head += "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    writer.write(head.encode("latin-1"))
    await writer.drain()
    if first_delay:
        await asyncio.sleep(first_delay)
    for i, chunk in enumerate(chunks):
        if i and delay:
            await asyncio.sleep(delay)
        if chunk:
            writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            await writer.drain()
    if end:
        writer.write(b"0\r\n\r\n")
        await writer.drain()


def _data(payload: Any) -> bytes:
    return b"data: " + json.dumps(payload).encode() + b"\n\n"


def chat_events(text: str = "Hello, compressed world!", piece: int = 3) -> list[bytes]:
    """A chat-completions stream of ``text`` in pieces, a finish chunk and [DONE]."""
    base = {"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": "m"}

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        return _data({**base, "choices": [choice]})

    events = [chunk({"role": "assistant", "content": ""})]
    events += [chunk({"content": text[i : i + piece]}) for i in range(0, len(text), piece)]
    events += [chunk({}, "stop"), b"data: [DONE]\n\n"]
    return events


def pieces(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def serve_body(
    body: Iterable[bytes], *, headers: dict[str, str] | None = None, delay: float = 0.0
) -> Handler:
    chunks = list(body) if not isinstance(body, Iterator) else body

    async def handler(request: RawRequest, writer: asyncio.StreamWriter) -> None:
        await respond(writer, chunks, headers=headers, delay=delay)

    return handler


def stream_text(client: Client, **params: Any) -> str:
    with client.stream_chat(model="m", messages=MESSAGES, **params) as stream:
        text = "".join(e.text for e in stream if isinstance(e, TextDelta))
    assert stream.message()["content"] == text
    return text


def astream_text(client_options: dict[str, Any], **params: Any) -> str:
    async def main() -> str:
        async with AsyncClient(**client_options) as client:
            async with client.stream_chat(model="m", messages=MESSAGES, **params) as stream:
                return "".join([e.text async for e in stream if isinstance(e, TextDelta)])

    return asyncio.run(main())


# == item 1: the key and the base_url password never shown ========================================

SECRET = "sk-SECRET-0123456789abcdef"


def secret_forms(secret: str) -> list[str]:
    """Every way a secret can be written into a message: raw, repr/bytes-repr escaped (once
    and twice), JSON-escaped, percent-encoded, base64 of a Basic credential."""
    forms = {
        secret,
        repr(secret)[1:-1],
        repr(repr(secret))[1:-1],
        repr(secret.encode())[2:-1],
        repr(repr(secret.encode()))[1:-1],
        json.dumps(secret)[1:-1],
        urllib.parse.quote(secret, safe=""),
        urllib.parse.quote_plus(secret),
    }
    return sorted(forms)


def assert_hidden(secret: str, *texts: str) -> None:
    for text in texts:
        for form in secret_forms(secret):
            assert form not in text, (form, text)


def full_text(exc: BaseException) -> str:
    """str, repr and the printed traceback (with its cause/context chain)."""
    return "\n".join([str(exc), repr(exc), "".join(traceback.format_exception(exc))])


@pytest.mark.parametrize("raw", [SECRET + "\n", SECRET + "\r\n", f"  {SECRET}\t\n", f"\n{SECRET}"])
def test_key_with_surrounding_whitespace_is_stripped(raw: str) -> None:
    with ScriptedServer([Turn("ok")], api_key=SECRET) as server:
        with Client(base_url=server.url, api_key=raw, max_retries=0) as client:
            assert stream_text(client) == "ok"
        assert server.requests[0].headers["authorization"] == f"Bearer {SECRET}"


def test_key_from_the_environment_is_stripped(monkeypatch: pytest.MonkeyPatch) -> None:
    with ScriptedServer([Turn("ok")], api_key=SECRET) as server:
        monkeypatch.setenv("OPENAI_API_KEY", SECRET + "\n")
        with Client(base_url=server.url, max_retries=0) as client:
            assert stream_text(client) == "ok"


@pytest.mark.parametrize(
    "bad",
    [
        "sk-SECRET\n0123456789",
        "sk-SECRET\x000123456789",
        "sk-SECRET 0123456789",
        "sk-SECRET\u00e90123456789",
        "sk-SECRET\x7f0123456789",
    ],
)
def test_key_with_inner_control_characters_is_refused_without_echo(
    bad: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for make in (Client, AsyncClient):
        with pytest.raises(ValueError) as info:
            make(base_url="http://127.0.0.1:9/v1", api_key=bad)
        assert isinstance(info.value, toolwire.InvalidAPIKey)
        assert isinstance(info.value, toolwire.ToolwireError)
        text = full_text(info.value)
        assert "api_key" in text
        assert "SECRET" not in text and "0123456789" not in text
    if "\x00" in bad:
        return  # an environment variable cannot hold a NUL
    monkeypatch.setenv("OPENAI_API_KEY", bad)
    with pytest.raises(toolwire.InvalidAPIKey) as info:
        Client(base_url="http://127.0.0.1:9/v1")
    assert "OPENAI_API_KEY" in str(info.value) and "SECRET" not in full_text(info.value)


def test_sensitive_extra_headers_are_checked_like_the_key() -> None:
    bad = {"api-key": "az-SECRET\n-tail"}  # (a literal in the call would be in the traceback)
    with pytest.raises(toolwire.InvalidAPIKey) as info:
        Client(base_url="http://127.0.0.1:9/v1", headers=bad)
    assert "api-key" in str(info.value) and "SECRET" not in full_text(info.value)
    with ScriptedServer([Turn("ok")]) as server:
        with Client(base_url=server.url, headers={"api-key": " az-SECRET-0123\n"}) as client:
            assert stream_text(client) == "ok"
        assert server.requests[0].headers["api-key"] == "az-SECRET-0123"


# A key made of characters that every escaping scheme writes differently.
ODD_KEY = "sk-O\\dd'K\"ey%2F/+=&0123456789"


def test_echoed_key_is_redacted_in_every_form(caplog: pytest.LogCaptureFixture) -> None:
    echoes = " | ".join(secret_forms(ODD_KEY))
    body = {"error": {"message": f"Bad key: {echoes}", "type": "invalid_request_error"}}
    caplog.set_level(logging.DEBUG)
    with ScriptedServer(
        [
            Fault.status_code(401, body=body),
            Fault.status_code(400, f"echo {echoes}"),
            Turn("abcd", fault=Fault.malformed(after=2)),
            Turn("x", fault=Fault.error_event(after=1, message=f"leak {echoes}")),
        ]
    ) as server:
        with Client(base_url=server.url, api_key=ODD_KEY, max_retries=0) as client:
            errors: list[BaseException] = []
            for _ in range(4):
                with pytest.raises(toolwire.APIError) as info:
                    stream_text(client)
                errors.append(info.value)
            texts = [full_text(e) for e in errors]
            texts += [json.dumps(getattr(e, "body", None)) for e in errors]
            texts += [repr(client), caplog.text]
    assert [type(e).__name__ for e in errors] == [
        "AuthenticationError",
        "APIStatusError",
        "MalformedStream",
        "StreamProviderError",
    ]
    assert "***" in str(errors[0])
    assert_hidden(ODD_KEY, *texts)


def test_key_with_newline_never_reaches_errors_logs_or_tracebacks(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The issue's case: a key read from a file, then every failure path at DEBUG."""
    caplog.set_level(logging.DEBUG)
    texts: list[str] = []
    with ScriptedServer(
        [
            Fault.status_code(401, f"no: {SECRET}"),
            Fault.disconnect(),
            Turn("abcdef", fault=Fault.cut(after=2)),
        ],
        api_key=None,
    ) as server:
        with Client(base_url=server.url, api_key=SECRET + "\n", max_retries=0) as client:
            for expected in (AuthenticationError, toolwire.APIConnectionError, IncompleteStream):
                with pytest.raises(expected) as info:
                    stream_text(client)
                texts.append(full_text(info.value))
    # Connection refused, with the key in the request.
    with Client(base_url="http://127.0.0.1:9/v1", api_key=SECRET + "\n", max_retries=0) as c:
        with pytest.raises(toolwire.APIConnectionError) as info:
            stream_text(c)
        texts.append(full_text(info.value))
    texts.append(caplog.text)
    texts += [record.getMessage() for record in caplog.records]
    assert_hidden(SECRET, *texts)


def test_base_url_password_never_shown(caplog: pytest.LogCaptureFixture) -> None:
    password = "pw-SECRET%40value-0123"  # percent-encoded '@' inside
    caplog.set_level(logging.DEBUG)
    with ScriptedServer(
        [Fault.status_code(401, "who are you"), Fault.status_code(404, "nope"), Turn("ok")]
    ) as server:
        url = server.url.replace("http://", f"http://alice:{password}@")
        texts: list[str] = []
        with Client(base_url=url, max_retries=0) as client:
            texts.append(repr(client))
            with pytest.raises(AuthenticationError) as auth:
                stream_text(client)
            with pytest.raises(toolwire.APIStatusError) as status:
                stream_text(client)
            assert stream_text(client) == "ok"
        texts += [full_text(auth.value), full_text(status.value), caplog.text]
        # The credentials still go to the server, as httpx sends URL userinfo: Basic auth.
        sent = server.requests[-1].headers["authorization"]
        assert sent == "Basic " + base64.b64encode(b"alice:pw-SECRET@value-0123").decode()
    assert "***@127.0.0.1" in str(auth.value)
    assert_hidden(password, *texts)
    assert_hidden(urllib.parse.unquote(password), *texts)


def test_demo_stderr_and_stdout_hide_the_key_and_password() -> None:
    password = "pw-SECRET-demo-0123"
    with ScriptedServer([Fault.status_code(401, f"bad key {SECRET}")], loop=True) as server:
        url = server.url.replace("http://", f"http://bob:{password}@")
        for argv, env_key in (
            (["--api-key", SECRET + "\n"], None),
            ([], SECRET + "\n"),
        ):
            env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
            if env_key is not None:
                env["OPENAI_API_KEY"] = env_key
            env["NO_COLOR"] = "1"
            proc = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "toolwire",
                    "demo",
                    "--base-url",
                    url,
                    "--model",
                    "m",
                    "--no-color",
                    *argv,
                ],
                capture_output=True,
                text=True,
                timeout=60,
                env=env,
            )
            assert proc.returncode == 1, proc.stderr
            assert "AuthenticationError" in proc.stderr, proc.stderr
            assert_hidden(SECRET, proc.stdout, proc.stderr)
            assert_hidden(password, proc.stdout, proc.stderr)


# == item 7: compressed bodies =====================================================================

TEXT = "Hello, compressed world!"


def _gzip(data: bytes) -> bytes:
    return gzip.compress(data)


def _zlib(data: bytes) -> bytes:
    return zlib.compress(data)


def _raw_deflate(data: bytes) -> bytes:
    obj = zlib.compressobj(wbits=-15)
    return obj.compress(data) + obj.flush()


def _zstd(data: bytes) -> bytes:
    zstandard = pytest.importorskip("zstandard")
    return bytes(zstandard.ZstdCompressor().compress(data))


def _gzip_flushed(events: list[bytes]) -> list[bytes]:
    """One gzip stream, flushed after each event (what a compressing proxy sends)."""
    obj = zlib.compressobj(wbits=31)
    return [obj.compress(e) + obj.flush(zlib.Z_SYNC_FLUSH) for e in events] + [obj.flush()]


ENCODINGS = {
    "gzip": ("gzip", _gzip),
    "x-gzip": ("x-gzip", _gzip),
    "deflate-zlib": ("deflate", _zlib),
    "deflate-raw": ("deflate", _raw_deflate),
    "zstd": ("zstd", _zstd),
    "gzip,gzip": ("gzip, gzip", lambda d: _gzip(_gzip(d))),
}


@pytest.mark.parametrize("name", list(ENCODINGS))
def test_compressed_bodies_are_decoded(name: str) -> None:
    coding, compress = ENCODINGS[name]
    body = pieces(compress(b"".join(chat_events(TEXT))), 7)
    handler = serve_body(body, headers={"Content-Encoding": coding}, delay=0.001)
    with RawServer(handler) as server:
        with Client(base_url=server.url, api_key="k", max_retries=0) as client:
            assert stream_text(client) == TEXT
        assert astream_text({"base_url": server.url, "api_key": "k", "max_retries": 0}) == TEXT
        # toolwire asks for no compression; the server compressed anyway.
        assert server.requests[0].headers["accept-encoding"] == "identity"


def test_gzip_flushed_per_event_and_multi_member() -> None:
    flushed = _gzip_flushed(chat_events(TEXT))
    members = [_gzip(e) for e in chat_events(TEXT)]  # one gzip member per event
    for body in (flushed, members):
        with RawServer(serve_body(body, headers={"Content-Encoding": "gzip"})) as server:
            with Client(base_url=server.url, api_key="k", max_retries=0) as client:
                with client.stream_chat(model="m", messages=MESSAGES) as stream:
                    batches = list(stream.iter_batches())
            assert stream.message()["content"] == TEXT and stream.finish_reason == "stop"
            if body is flushed:  # events arrive as they are flushed, not at the end
                assert len(batches) > 3


def test_from_response_decodes_httpx_and_openai_sdk_responses() -> None:
    body = pieces(_gzip(b"".join(chat_events(TEXT))), 11)
    with RawServer(serve_body(body, headers={"Content-Encoding": "gzip"})) as server:
        with (
            httpx.Client(trust_env=False) as http,
            http.stream(
                "POST", server.url + "/chat/completions", json={"model": "m", "stream": True}
            ) as response,
        ):
            assert ChatStream.from_response(response).until_done().message()["content"] == TEXT

        async def via_async() -> str:
            async with httpx.AsyncClient(trust_env=False) as http:
                async with http.stream(
                    "POST", server.url + "/chat/completions", json={"model": "m"}
                ) as response:
                    stream = await AsyncChatStream.from_response(response).until_done()
                    return str(stream.message()["content"])

        assert asyncio.run(via_async()) == TEXT
        openai = pytest.importorskip("openai")
        sdk = openai.OpenAI(base_url=server.url, api_key="k", max_retries=0)
        try:
            with sdk.chat.completions.with_streaming_response.create(
                model="m", messages=MESSAGES, stream=True
            ) as response:
                stream = ChatStream.from_response(response).until_done()
        finally:
            sdk.close()
        assert stream.message()["content"] == TEXT


def _peak_rss_reset() -> Callable[[], int]:
    """Resets the peak RSS (Linux) and returns a function giving the new peak in bytes."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pytest.skip("needs /proc/self/clear_refs (Linux)")

    def peak() -> int:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
        raise AssertionError("no VmHWM")

    return peak


def _rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


GIB = 1 << 30


BOMBS = ["gzip-10GiB-multi-member", "gzip-64MiB-one-member", "deflate-64MiB", "zstd-10GiB-frames"]


@functools.cache
def _bombs() -> dict[str, tuple[str, list[bytes], int]]:
    """name -> (coding, body writes, decoded size)."""
    member = gzip.compress(bytes(1 << 20), 9)  # 1 MiB of zeros in ~1 KB
    out = {
        # 10 GiB in ~10 MB: 10240 concatenated gzip members (a valid gzip file).
        "gzip-10GiB-multi-member": ("gzip", [member * 64] * 160, 10 * GIB),
        # One member: 64 MiB in ~64 KB, so a single network read expands 1000-fold.
        "gzip-64MiB-one-member": ("gzip", [gzip.compress(bytes(64 << 20), 9)], 64 << 20),
        "deflate-64MiB": ("deflate", [zlib.compress(bytes(64 << 20), 9)], 64 << 20),
    }
    try:
        import zstandard
    except ImportError:
        return out
    frame = zstandard.ZstdCompressor(level=3).compress(bytes(256 << 20))  # 256 MiB in ~8 KB
    out["zstd-10GiB-frames"] = ("zstd", [frame * 8] * 5, 10 * GIB)
    return out


@pytest.mark.parametrize("name", BOMBS)
def test_compression_bomb_ends_quickly_in_bounded_memory(name: str) -> None:
    if name not in _bombs():
        pytest.skip("zstandard is not installed")
    coding, body, decoded = _bombs()[name]
    wire = sum(len(b) for b in body)
    with RawServer(serve_body(body, headers={"Content-Encoding": coding})) as server:
        with Client(base_url=server.url, api_key="k", max_retries=0) as client:
            before = _rss()
            peak = _peak_rss_reset()
            start = time.monotonic()
            with pytest.raises(MalformedStream) as info:
                stream_text(client)
            elapsed = time.monotonic() - start
            grown = peak() - before
    assert isinstance(info.value.__cause__, LimitExceeded), info.value
    assert info.value.__cause__.limit in ("max_line_bytes", "max_event_bytes")
    print(
        f"\n{name}: {wire / 1e6:.2f} MB -> {decoded / GIB:.2f} GiB, "
        f"peak RSS +{grown / 1e6:.1f} MB, {elapsed:.2f} s"
    )
    assert grown < 120e6, f"peak RSS grew by {grown / 1e6:.0f} MB"
    assert elapsed < 10.0


def test_compression_bomb_async_stays_bounded() -> None:
    coding, body, _ = _bombs()["gzip-10GiB-multi-member"]
    with RawServer(serve_body(body, headers={"Content-Encoding": coding})) as server:
        start = time.monotonic()
        with pytest.raises(MalformedStream) as info:
            astream_text({"base_url": server.url, "api_key": "k", "max_retries": 0})
    assert isinstance(info.value.__cause__, LimitExceeded)
    assert time.monotonic() - start < 10.0


def test_corrupt_compressed_body_is_malformed_and_unknown_coding_is_typed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    good = _gzip(b"".join(chat_events(TEXT)))
    corrupt = good[:30] + bytes(b ^ 0x55 for b in good[30:60]) + good[60:]
    with RawServer(serve_body([corrupt], headers={"Content-Encoding": "gzip"})) as server:
        with Client(base_url=server.url, api_key="k", max_retries=0) as client:
            with pytest.raises(MalformedStream, match="gzip"):
                stream_text(client)
    with RawServer(serve_body([b"\x8b\x00"], headers={"Content-Encoding": "br"})) as server:
        with Client(base_url=server.url, api_key="k", max_retries=2) as client:
            with pytest.raises(toolwire.UnsupportedContentEncoding) as info:
                stream_text(client)
        assert info.value.content_encoding == "br" and "br" in str(info.value)
        assert not info.value.retryable and len(server.requests) == 1
    import toolwire._decoding as decoding

    monkeypatch.setattr(decoding, "zstandard", None)
    with RawServer(serve_body([b"\x28\xb5"], headers={"Content-Encoding": "zstd"})) as server:
        with Client(base_url=server.url, api_key="k", max_retries=0) as client:
            with pytest.raises(toolwire.UnsupportedContentEncoding, match="zstandard"):
                stream_text(client)


# == item 8: a 200 that is not an event stream =====================================================


def _one_shot(body: bytes, content_type: str | None, status: str = "200 OK") -> Handler:
    async def handler(request: RawRequest, writer: asyncio.StreamWriter) -> None:
        await respond(writer, [body], status=status, headers={"Content-Type": content_type})

    return handler


HTML = b"<!DOCTYPE html><html><head><title>502 Bad Gateway - corp proxy</title></head>" + (
    b"<body>" + b"x" * 100 + b"</body></html>"
)
JSON_ERROR = json.dumps(
    {"error": {"message": "Model overloaded, try later", "type": "server_error"}}
).encode()
COMPLETION = json.dumps(
    {
        "id": "c",
        "object": "chat.completion",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "Hi"}, "finish_reason": "stop"}
        ],
    }
).encode()


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        (HTML, "text/html; charset=utf-8", "502 Bad Gateway - corp proxy"),
        (JSON_ERROR, "application/json", "Model overloaded, try later"),
        (COMPLETION, "application/json", "non-streaming"),
        (b"plain words", "text/plain", "plain words"),
    ],
)
def test_non_event_stream_200_is_a_typed_error(
    body: bytes, content_type: str, expected: str
) -> None:
    with RawServer(_one_shot(body, content_type)) as server:
        with Client(base_url=server.url, api_key="k", max_retries=2) as client:
            with pytest.raises(toolwire.UnexpectedContentType) as info:
                stream_text(client)
        err = info.value
        assert err.content_type == content_type.split(";")[0]
        assert content_type.split(";")[0] in str(err) and expected in str(err)
        assert err.status_code == 200 and not err.retryable
        assert len(server.requests) == 1  # not retried
        if content_type == "application/json":
            assert err.body == json.loads(body)
        with pytest.raises(toolwire.UnexpectedContentType, match=expected):
            astream_text({"base_url": server.url, "api_key": "k", "max_retries": 0})


def test_non_event_stream_via_from_response() -> None:
    with RawServer(_one_shot(JSON_ERROR, "application/json")) as server:
        with (
            httpx.Client(trust_env=False) as http,
            http.stream("POST", server.url + "/chat/completions", json={}) as response,
        ):
            with pytest.raises(toolwire.UnexpectedContentType, match="Model overloaded"):
                ChatStream.from_response(response).until_done()


def test_huge_non_stream_body_is_read_bounded() -> None:
    body = b"<html><head><title>big</title></head>" + b"y" * (64 << 20)
    with RawServer(serve_body(pieces(body, 1 << 20), headers={"Content-Type": "text/html"})) as s:
        with Client(base_url=s.url, api_key="k", max_retries=0) as client:
            start = time.monotonic()
            with pytest.raises(toolwire.UnexpectedContentType, match="big"):
                stream_text(client)
            assert time.monotonic() - start < 3.0


@pytest.mark.parametrize(
    "content_type",
    [None, "text/event-stream", "Text/Event-Stream; Charset=UTF-8", "application/x-ndjson"],
)
def test_event_stream_types_are_lenient(content_type: str | None) -> None:
    body = b"".join(chat_events(TEXT))
    with RawServer(_one_shot(body, content_type)) as server:
        with Client(base_url=server.url, api_key="k", max_retries=0) as client:
            assert stream_text(client) == TEXT


# == item 9: pool size, pool exhaustion, total deadline ============================================


def test_150_concurrent_streams_on_one_async_client() -> None:
    n = 150
    arrived = 0
    everyone = asyncio.Event()

    async def handler(request: RawRequest, writer: asyncio.StreamWriter) -> None:
        nonlocal arrived
        events = chat_events(f"stream {request.body.decode()[-8:]}")
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
            b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        )
        first = events[0]
        writer.write(b"%x\r\n%s\r\n" % (len(first), first))
        await writer.drain()
        arrived += 1
        if arrived == n:
            everyone.set()
        # Hold every stream open until all of them are open at once (or give up).
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(everyone.wait(), 5.0)
        await respond_rest(writer, events[1:])

    async def respond_rest(writer: asyncio.StreamWriter, events: list[bytes]) -> None:
        for e in events:
            writer.write(b"%x\r\n%s\r\n" % (len(e), e))
        writer.write(b"0\r\n\r\n")
        await writer.drain()

    with RawServer(handler) as server:

        async def one(client: AsyncClient, i: int) -> str:
            stream = client.stream_chat(model="m", messages=MESSAGES, user=f"u{i:06d}")
            async with stream:
                await stream.until_done()
            return str(stream.message()["content"])

        async def main() -> list[str]:
            # connect_timeout was also httpx's pool timeout: 100 streams held the pool.
            async with AsyncClient(
                base_url=server.url, api_key="k", max_retries=0, connect_timeout=2.0
            ) as client:
                return await asyncio.gather(*(one(client, i) for i in range(n)))

        start = time.monotonic()
        results = asyncio.run(main())
        elapsed = time.monotonic() - start
    print(f"\n{n} concurrent streams in {elapsed:.2f} s, max open at once {server.max_active}")
    assert len(results) == n and all(r.startswith("stream ") for r in results)
    assert server.max_active == n


def _held(seconds: float) -> Handler:
    async def handler(request: RawRequest, writer: asyncio.StreamWriter) -> None:
        events = chat_events("held")
        await respond(writer, events, delay=seconds)

    return handler


def test_pool_exhaustion_is_its_own_error() -> None:
    with RawServer(_held(0.3)) as server:

        async def main() -> list[Any]:
            async with AsyncClient(
                base_url=server.url,
                api_key="k",
                max_retries=3,
                limits=httpx.Limits(max_connections=2),
                pool_timeout=0.2,
            ) as client:

                async def one() -> Any:
                    try:
                        async with client.stream_chat(model="m", messages=MESSAGES) as s:
                            await s.until_done()
                        return s.message()["content"]
                    except toolwire.APIError as exc:
                        return exc

                return await asyncio.gather(*(one() for _ in range(3)))

        results = asyncio.run(main())
        errors = [r for r in results if isinstance(r, BaseException)]
        assert sorted(r for r in results if isinstance(r, str)) == ["held", "held"]
        assert len(errors) == 1 and isinstance(errors[0], toolwire.PoolTimeout)
        assert isinstance(errors[0], APITimeoutError)  # what it was reported as before
        assert "max_connections" in str(errors[0]) and "2" in str(errors[0])
        assert len(server.requests) == 2  # the third never left: not retried either

        with Client(
            base_url=server.url,
            api_key="k",
            limits=httpx.Limits(max_connections=1),
            pool_timeout=0.1,
        ) as client:
            with client.stream_chat(model="m", messages=MESSAGES) as first:
                with pytest.raises(toolwire.PoolTimeout, match="limits="):
                    stream_text(client)
                first.until_done()
            assert stream_text(client) == "held"


def test_limits_option_conflicts_with_an_http_client() -> None:
    with httpx.Client() as http, pytest.raises(ValueError, match="limits"):
        Client(base_url="http://127.0.0.1:9/v1", http_client=http, limits=httpx.Limits())


def _trickle(prefix: list[bytes], tick: bytes, every: float, count: int = 400) -> Handler:
    async def handler(request: RawRequest, writer: asyncio.StreamWriter) -> None:
        await respond(writer, [b"".join(prefix), *([tick] * count)], delay=every)

    return handler


TRICKLES = {
    # one byte every 0.1 s, inside an unfinished event (never a stall)
    "byte": ([*chat_events("kept")[:2], b"d"], b"a", 0.1),
    # a keep-alive comment every 50 ms
    "keepalive": (chat_events("kept")[:2], b": keepalive\n", 0.05),
    # then silence, shorter than the stall timeout
    "silent": (chat_events("kept")[:2], b"", 3.0),
}


@pytest.mark.parametrize("kind", list(TRICKLES))
@pytest.mark.parametrize("side", ["sync", "async"])
def test_deadline_ends_a_trickling_stream(kind: str, side: str) -> None:
    prefix, tick, every = TRICKLES[kind]
    with RawServer(_trickle(prefix, tick, every)) as server:
        options: dict[str, Any] = {
            "base_url": server.url,
            "api_key": "k",
            "max_retries": 0,
            "stall_timeout": 10.0,
            "deadline": 0.6,
        }
        start = time.monotonic()
        if side == "sync":
            with (
                Client(**options) as client,
                pytest.raises(toolwire.StreamDeadlineExceeded) as info,
            ):
                stream_text(client)
        else:
            with pytest.raises(toolwire.StreamDeadlineExceeded) as info:
                astream_text(options)
        elapsed = time.monotonic() - start
    err = info.value
    assert isinstance(err, IncompleteStream) and not isinstance(err, StreamStalled)
    assert err.partial_message["content"] == "kep"  # the first piece, before the trickle
    assert err.deadline == 0.6 and "0.6" in str(err)
    # Never early; the trickle alone would go on for 20-40 s (loose bound: shared machines).
    assert 0.55 <= elapsed < 5.0, elapsed


@pytest.mark.parametrize("side", ["sync", "async"])
def test_deadline_interrupts_a_read_in_progress(side: str) -> None:
    """A trickle, then silence: the read that waits when the deadline passes is interrupted
    (httpcore fixes a body's read timeout when it starts, so a timeout alone would wait up to
    the whole deadline more)."""

    async def handler(request: RawRequest, writer: asyncio.StreamWriter) -> None:
        ticks = [b"".join(chat_events("kept")[:2]), b"d", *[b"a"] * 17]
        await respond(writer, ticks, delay=0.1, end=False)
        await asyncio.sleep(10.0)

    # Ticks until ~1.9 s, then silence: a read timeout fixed when the body started (~2 s)
    # would end at ~3.9 s; the deadline's interruption ends at 2 s.
    with RawServer(handler) as server:
        options: dict[str, Any] = {
            "base_url": server.url,
            "api_key": "k",
            "max_retries": 0,
            "deadline": 2.0,
        }
        start = time.monotonic()
        with pytest.raises(toolwire.StreamDeadlineExceeded) as info:
            if side == "sync":
                with Client(**options) as client:
                    stream_text(client)
            else:
                astream_text(options)
        elapsed = time.monotonic() - start
    assert info.value.partial_message["content"] == "kep"
    assert 1.95 <= elapsed < 3.2, elapsed


def test_deadline_before_the_first_byte_and_per_call() -> None:
    async def slow(request: RawRequest, writer: asyncio.StreamWriter) -> None:
        await respond(writer, chat_events("late"), first_delay=2.0)

    with RawServer(slow) as server:
        with Client(base_url=server.url, api_key="k", max_retries=2, deadline=0.4) as client:
            start = time.monotonic()
            with pytest.raises(APITimeoutError, match="deadline"):
                stream_text(client)
            assert time.monotonic() - start < 1.2
            # per call: a longer deadline lets it through
            assert stream_text(client, deadline=5.0) == "late"
        start = time.monotonic()
        with pytest.raises(APITimeoutError, match="deadline"):
            astream_text(
                {"base_url": server.url, "api_key": "k", "max_retries": 2, "deadline": 0.4}
            )
        assert time.monotonic() - start < 1.2


def test_deadline_does_not_disturb_a_normal_stream() -> None:
    with ScriptedServer([Turn("fine", delay=0.01)] * 2) as server:
        with Client(base_url=server.url, api_key="k", deadline=5.0) as client:
            assert stream_text(client) == "fine"
        assert astream_text({"base_url": server.url, "api_key": "k", "deadline": 5.0}) == "fine"
