"""``toolwire demo --web``: the routes over real HTTP on 127.0.0.1 (a ``useChat`` request
streamed and read back as ``useChat`` reads it, a follow-up carrying the tool parts back, in
every api; an AG-UI run; ``/metrics``; the page; 404/405/403), the h11 host on its own
(streamed chunks, request bodies, keep-alive, disconnects, failing apps, bad requests), and
the command: its first line is the URL, Ctrl-C ends it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.test_ui_agui import read as read_agui
from tests.test_ui_vercel import HEADERS, UIStream, step_texts, tool_parts
from tests.test_ui_vercel import read as read_vercel
from toolwire._asgi import Message, Receive, Scope, Send
from toolwire._dialects import APIS
from toolwire._web.app import WebDemo
from toolwire._web.host import Host
from toolwire._web.page import POLICY
from toolwire.demo import DEFAULT_QUESTION, shop_responder
from toolwire.testing import ScriptedServer

ROOT = Path(__file__).resolve().parent.parent
FINAL = "With your gold membership it costs $314.10 instead of $349.00 (10% off)."
TOOLS = {"get_product_info", "check_order_status", "calculate_discount"}


# -- running a server in a thread of its own -------------------------------------------------------


@contextlib.contextmanager
def serving(start: Any) -> Iterator[str]:
    """Runs ``start()`` (a coroutine function returning ``(url, close)``) in an event loop
    in a thread; yields the URL, closes and joins on exit."""
    ready = threading.Event()
    box: dict[str, Any] = {}

    async def main() -> None:
        box["loop"] = asyncio.get_running_loop()
        box["stop"] = stop = asyncio.Event()
        try:
            box["url"], close = await start()
        except BaseException as exc:
            box["error"] = exc
            ready.set()
            raise
        ready.set()
        try:
            await stop.wait()
        finally:
            await close()

    thread = threading.Thread(target=lambda: asyncio.run(main()), daemon=True)
    thread.start()
    assert ready.wait(10), "the server did not start"
    if "error" in box:
        raise box["error"]
    try:
        yield str(box["url"])
    finally:
        box["loop"].call_soon_threadsafe(box["stop"].set)
        thread.join(10)
        assert not thread.is_alive()


@contextlib.contextmanager
def web_demo(**options: Any) -> Iterator[tuple[str, WebDemo]]:
    demo = WebDemo(port=0, **{"fast": True, **options})

    async def start() -> tuple[str, Any]:
        return await demo.start(), demo.close

    with serving(start) as url:
        yield url, demo


@contextlib.contextmanager
def hosting(app: Any) -> Iterator[str]:
    host = Host(app, port=0)

    async def start() -> tuple[str, Any]:
        await host.start()
        return host.url, host.close

    with serving(start) as url:
        yield url


# -- reading the streams ---------------------------------------------------------------------------


def sse_events(response: httpx.Response) -> list[Any]:
    """The ``data:`` payloads of a streamed response, read as it arrives (events may be split
    across network reads)."""
    events: list[Any] = []
    buffer = b""
    for data in response.iter_bytes():
        buffer += data
        while b"\n\n" in buffer:
            event, buffer = buffer.split(b"\n\n", 1)
            assert event.startswith(b"data: ") and b"\n" not in event, event
            payload = event[len(b"data: ") :].decode()
            events.append("[DONE]" if payload == "[DONE]" else json.loads(payload))
    assert buffer == b"", buffer
    return events


def parts_of(body: str) -> list[dict[str, Any]]:
    """The parts of a whole UI message stream body."""
    return [json.loads(event[6:]) for event in body.split("\n\n") if event[6:7] == "{"]


def text_of(body: str) -> str:
    return "".join(p["delta"] for p in parts_of(body) if p["type"] == "text-delta")


def use_chat(messages: list[dict[str, Any]]) -> dict[str, Any]:
    return {"id": "chat-1", "messages": messages, "trigger": "submit-message"}


def user(text: str, n: int = 1) -> dict[str, Any]:
    return {"id": f"user-{n}", "role": "user", "parts": [{"type": "text", "text": text}]}


def chat(url: str, messages: list[dict[str, Any]]) -> tuple[httpx.Response, UIStream]:
    with (
        httpx.Client(base_url=url, timeout=30) as http,
        http.stream("POST", "api/chat", json=use_chat(messages)) as response,
    ):
        assert response.status_code == 200, response.read()
        parts = sse_events(response)
    return response, read_vercel([parts])


# -- the routes ------------------------------------------------------------------------------------


@pytest.mark.parametrize("api", sorted(APIS))
def test_a_use_chat_conversation_in_every_api(api: str) -> None:
    with web_demo(api=api) as (url, demo):
        response, stream = chat(url, [user(DEFAULT_QUESTION)])
        for name, value in HEADERS.items():
            assert response.headers[name] == value
        assert response.headers["transfer-encoding"] == "chunked"
        assert FINAL in step_texts(stream)[-1]
        assert len(stream.steps) == 3
        parts = tool_parts(stream)
        assert {p["type"] for p in parts} == {f"tool-{name}" for name in TOOLS}
        assert all(p["state"] == "output-available" for p in parts)
        # The follow-up sends the whole history back, tool parts included, as useChat does.
        history = [user(DEFAULT_QUESTION), stream.message(), user("And the LiftDesk 2?", 2)]
        _, second = chat(url, history)
        answer = step_texts(second)[-1]
        assert "The LiftDesk 2 is out of stock (back in about 21 days)." in answer
        assert demo.server is not None and not demo.server.errors
        assert len(demo.server.requests) == 6
        last = demo.server.requests[-1].transcript
        assert sum(1 for m in last if m["role"] == "tool") == 5  # 3 from before, 2 now
        assert [m["content"] for m in last if m["role"] == "user"] == [
            DEFAULT_QUESTION,
            "And the LiftDesk 2?",
        ]


def test_the_finish_part_carries_the_token_usage() -> None:
    with web_demo() as (url, _), httpx.Client(base_url=url) as http:
        response = http.post("api/chat", json=use_chat([user(DEFAULT_QUESTION)]))
        parts = parts_of(response.text)
    (finish,) = [p for p in parts if p["type"] == "finish"]
    assert finish["finishReason"] == "stop"
    usage = finish["messageMetadata"]["usage"]
    assert usage["totalTokens"] == usage["inputTokens"] + usage["outputTokens"] > 0
    assert [p["type"] for p in parts].count("start-step") == 3


def test_an_agui_run() -> None:
    run_input = {
        "threadId": "thread-1",
        "runId": "run-1",
        "messages": [{"id": "u1", "role": "user", "content": DEFAULT_QUESTION}],
        "state": {},
        "tools": [],
        "context": [],
        "forwardedProps": {},
    }
    with (
        web_demo() as (url, _),
        httpx.Client(base_url=url, timeout=30) as http,
        http.stream("POST", "api/agui", json=run_input) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = sse_events(response)
    stream = read_agui([events])
    assert stream.finished and not stream.errored
    assert FINAL in stream.text_by_step[-1]
    assert len(stream.results) == 3


def test_metrics_after_a_run() -> None:
    with web_demo() as (url, _), httpx.Client(base_url=url) as http:
        http.post("api/chat", json=use_chat([user(DEFAULT_QUESTION)]))
        response = http.get("metrics")
        head = http.head("metrics")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    text = response.text
    for name in (
        "toolwire_streams_started_total",
        'toolwire_streams_total{outcome="stop"}',
        'toolwire_tool_runs_total{outcome="ok",tool="calculate_discount"}',
        "toolwire_time_to_first_byte_seconds_bucket",
        "toolwire_tool_duration_seconds_count",
    ):
        assert name in text, name
    assert head.status_code == 200 and head.content == b""
    # Every family README.md lists is served (and none it does not list).
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("**Metrics.**") : readme.index("## Correctness")]
    listed = set(re.findall(r"`(toolwire_[a-z_]+)", section))
    served = set(re.findall(r"^# TYPE (\S+) ", text, flags=re.M))
    assert listed == served, listed ^ served


def test_the_page_loads_nothing_from_elsewhere() -> None:
    with web_demo(api="anthropic") as (url, _), httpx.Client(base_url=url) as http:
        response = http.get("/")
        head = http.head("/")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["content-security-policy"] == POLICY
    assert "connect-src 'self'" in POLICY and "default-src 'none'" in POLICY
    html = response.text
    assert head.content == b"" and head.headers["content-length"] == str(len(response.content))
    # No URL with a scheme or a host anywhere: no CDN, no font, no image, no link out.
    assert re.findall(r"(?i)\b[a-z][a-z0-9+.-]*://", html) == []
    assert re.findall(r"(?i)(?<![:\w])//[a-z0-9-]+(\.[a-z0-9-]+)+", html) == []
    links = re.findall(r"(?i)\b(?:src|href|action)\s*=\s*[\"']([^\"']*)", html)
    assert links and all(link.startswith(("/", "data:")) for link in links), links
    assert "@import" not in html and "url(" not in html
    # What the page needs: the useChat body, the stream reader, the DOM trace for tests.
    for needed in (
        '"/api/chat"',
        'trigger: "submit-message"',
        "getReader()",
        '"[DONE]"',
        "argsBeforeReady",
        'dataset.done = "true"',
        'get("prompt")',
    ):
        assert needed in html, needed
    config = re.search(r'<script id="config" type="application/json">(.*?)</script>', html)
    assert config is not None
    assert json.loads(config.group(1))["api"] == "anthropic"


def test_unknown_paths_and_wrong_methods() -> None:
    with web_demo() as (url, _), httpx.Client(base_url=url) as http:
        assert http.get("nope").status_code == 404
        assert http.get("api/chat/").status_code == 404
        for method, path, allow in (
            ("GET", "api/chat", "POST"),
            ("GET", "api/agui", "POST"),
            ("POST", "metrics", "GET, HEAD"),
            ("POST", "/", "GET, HEAD"),
            ("DELETE", "/", "GET, HEAD"),
        ):
            response = http.request(method, path)
            assert response.status_code == 405, (method, path)
            assert response.headers["allow"] == allow
        assert http.post("api/chat", content=b"{nope").status_code == 400
        assert http.post("api/chat", json={"messages": []}).status_code == 400


def test_requests_for_other_hosts_or_from_other_origins_are_refused() -> None:
    with web_demo() as (url, _), httpx.Client(base_url=url) as http:
        port = url.rsplit(":", 1)[1].rstrip("/")
        body = use_chat([user("hi")])
        assert http.get("/", headers={"host": "evil.example"}).status_code == 403
        assert http.get("/", headers={"host": f"rebound.example:{port}"}).status_code == 403
        for origin in ("http://evil.example", f"http://127.0.0.1:{int(port) + 1}", "null"):
            response = http.post("api/chat", json=body, headers={"origin": origin})
            assert response.status_code == 403, origin
        assert http.get("/", headers={"host": f"localhost:{port}"}).status_code == 200
        same = http.post("api/chat", json=body, headers={"origin": f"http://127.0.0.1:{port}"})
        assert same.status_code == 200 and same.text.endswith("data: [DONE]\n\n")


def test_a_client_that_leaves_mid_stream_cancels_the_run() -> None:
    with web_demo(fast=False) as (url, demo):
        port = int(url.rsplit(":", 1)[1].rstrip("/"))
        body = json.dumps(use_chat([user(DEFAULT_QUESTION)])).encode()
        request = (
            f"POST /api/chat HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\n"
            f"content-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n"
        ).encode() + body
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(request)
            seen = b""
            while b"tool-input-start" not in seen:
                data = sock.recv(65536)
                assert data, seen
                seen += data
        # The socket is closed while the first turn's tools run: no second turn is asked.
        time.sleep(1.5)
        assert demo.server is not None and len(demo.server.requests) == 1
        with httpx.Client(base_url=url, timeout=30) as http:
            again = http.post("api/chat", json=use_chat([user(DEFAULT_QUESTION)]))
        assert again.status_code == 200 and FINAL in text_of(again.text)


def test_the_demo_against_another_endpoint() -> None:
    with ScriptedServer(shop_responder, api_key="sk-real-endpoint", model="gpt-test") as server:
        options = {"base_url": server.url, "model": "gpt-test", "api_key": "sk-real-endpoint"}
        with web_demo(**options) as (url, demo):
            assert demo.server is None and demo.where == f"gpt-test at {server.url}"
            _, stream = chat(url, [user(DEFAULT_QUESTION)])
    assert FINAL in step_texts(stream)[-1]
    assert all(r.body["model"] == "gpt-test" for r in server.requests)


# -- the host on its own ---------------------------------------------------------------------------


def test_the_host_streams_each_send_as_it_comes() -> None:
    gate = threading.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"first\n", "more_body": True})
        while not gate.is_set():
            await asyncio.sleep(0.01)
        await send({"type": "http.response.body", "body": b"second\n", "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    with (
        hosting(app) as url,
        httpx.Client(timeout=10) as http,
        http.stream("GET", url) as response,
    ):
        assert response.headers["transfer-encoding"] == "chunked"
        chunks = response.iter_bytes()
        assert next(chunks) == b"first\n"  # before the app sends the rest
        gate.set()
        assert b"".join(chunks) == b"second\n"


def test_the_host_reads_bodies_and_keeps_connections_alive() -> None:
    seen: list[tuple[str, str, bytes, int]] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        body = b""
        reads = 0
        while True:
            message = await receive()
            assert message["type"] == "http.request"
            body += message["body"]
            reads += 1
            if not message["more_body"]:
                break
        client = scope["client"]
        seen.append((scope["path"], scope["query_string"].decode(), body, client[1]))
        out = b"%d bytes" % len(body)
        headers = [(b"content-length", str(len(out)).encode())]
        await send({"type": "http.response.start", "status": 201, "headers": headers})
        await send({"type": "http.response.body", "body": out})

    def pieces() -> Iterator[bytes]:
        yield b"a" * 70_000
        yield b"b" * 10

    with hosting(app) as url, httpx.Client(timeout=10) as http:
        first = http.post(url + "caf%C3%A9?x=1", content=b"hello")
        second = http.post(url + "streamed", content=pieces())  # chunked request body
        third = http.get(url)
    assert (first.status_code, first.text) == (201, "5 bytes")
    assert second.text == "70010 bytes" and third.text == "0 bytes"
    assert [s[:3] for s in seen] == [
        ("/café", "x=1", b"hello"),
        ("/streamed", "", b"a" * 70_000 + b"b" * 10),
        ("/", "", b""),
    ]
    assert len({s[3] for s in seen}) == 1  # one connection, kept alive


def test_a_request_sent_the_moment_a_stream_ends_is_served() -> None:
    # The endpoint still waits for a disconnect when the stream's last bytes leave; the
    # next request on the connection may arrive in that read, and must be served.
    with web_demo() as (url, _), httpx.Client(base_url=url, timeout=5) as http:
        for _ in range(8):
            response = http.post("api/chat", json=use_chat([user(DEFAULT_QUESTION)]))
            assert response.text.endswith("data: [DONE]\n\n")
            assert http.get("metrics").status_code == 200


def test_the_host_reports_a_client_that_leaves() -> None:
    got: list[Message] = []
    done = threading.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()  # the (empty) body
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"x", "more_body": True})
        got.append(await receive())  # waits for the client to go away
        with contextlib.suppress(OSError):
            await send({"type": "http.response.body", "body": b"y", "more_body": True})
            got.append({"type": "sent after leaving"})
        done.set()

    with hosting(app) as url:
        port = int(url.rsplit(":", 1)[1].rstrip("/"))
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(f"GET / HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\n\r\n".encode())
            assert b"200 OK" in sock.recv(1024)
        assert done.wait(5)
    assert got == [{"type": "http.disconnect"}]


def test_the_host_answers_failures() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["path"] == "/before":
            raise RuntimeError("boom before the response")
        if scope["path"] == "/nothing":
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"partial", "more_body": True})
        raise RuntimeError("boom mid-stream")

    with hosting(app) as url, httpx.Client(timeout=10) as http:
        assert http.get(url + "before").status_code == 500
        assert http.get(url + "nothing").status_code == 500
        with pytest.raises(httpx.RemoteProtocolError):
            http.get(url + "during")
        assert http.get(url + "before").status_code == 500  # still serving
        port = int(url.rsplit(":", 1)[1].rstrip("/"))
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(b"NOT HTTP AT ALL\r\n\r\n")
            assert sock.recv(1024).startswith(b"HTTP/1.1 400 ")


# -- the command -----------------------------------------------------------------------------------


def test_the_command_prints_the_url_first_and_stops_on_ctrl_c() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    env.update(NO_COLOR="1", PYTHONIOENCODING="utf-8", PYTHONUNBUFFERED="0")
    command = [sys.executable, "-m", "toolwire", "demo", "--web", "--port", "0", "--api"]
    command += ["anthropic", "--fast"]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    ) as proc:
        try:
            assert proc.stdout is not None
            first = proc.stdout.readline()  # flushed before anything else happens
            assert re.fullmatch(r"http://127\.0\.0\.1:\d+/\n", first), first
            url = first.strip()
            assert "embedded scripted server (anthropic api" in proc.stdout.readline()
            with httpx.Client(base_url=url, timeout=30) as http:
                assert http.get("/").status_code == 200
                answer = http.post("api/chat", json=use_chat([user(DEFAULT_QUESTION)]))
                assert FINAL in text_of(answer.text)
            proc.send_signal(signal.SIGINT)
            assert proc.wait(timeout=15) == 0
            assert proc.stderr is not None and proc.stderr.read() == ""
        finally:
            if proc.poll() is None:
                proc.kill()


def test_the_command_reports_a_taken_port_and_a_stray_port_option() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "toolwire", "demo", "--web", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == 1 and done.stdout == ""
    assert f"cannot serve on 127.0.0.1:{port}" in done.stderr and "--port 0" in done.stderr
    stray = subprocess.run(
        [sys.executable, "-m", "toolwire", "demo", "--port", "9"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert stray.returncode == 2 and "--port goes with --web" in stray.stderr


def test_the_command_defaults_to_port_8765(monkeypatch: pytest.MonkeyPatch) -> None:
    import toolwire._web.app
    from toolwire.cli import main

    called: dict[str, Any] = {}
    monkeypatch.setattr(toolwire._web.app, "run", lambda **options: called.update(options) or 0)
    assert main(["demo", "--web"]) == 0
    assert called["port"] == 8765 and called["api"] == "chat"
    assert called["question"] == DEFAULT_QUESTION and called["base_url"] is None
