"""toolwire.metrics: the statistics of real client streams and agent runs against the scripted
server (every api), failed turns (a cut, an error in the stream, refused requests), tool
errors and parallel tools; the Prometheus exposition, checked with prometheus_client's own
parser when it is installed; the ASGI app; thread safety; and the path without
prometheus_client (and without opentelemetry), which must keep /metrics working."""

from __future__ import annotations

import asyncio
import json
import math
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

import toolwire.metrics as metrics
from tests.agent_helpers import mid_call_cut
from tests.helpers import importable
from toolwire import (
    Agent,
    AgentResult,
    AsyncClient,
    ChatStream,
    Client,
    IncompleteStream,
    StreamProviderError,
    ToolCallDelta,
    ToolRegistry,
    TurnFailed,
)
from toolwire._dialects import APIS
from toolwire._metrics.stats import Family, StreamRecord
from toolwire._metrics.text import render
from toolwire.errors import APIStatusError, RateLimitError
from toolwire.metrics import Stats
from toolwire.testing import Fault, ScriptedServer, Turn, call

KEY = "sk-metrics-SECRET-5c2e9d"

HAVE_PROMETHEUS = importable("prometheus_client")
needs_prometheus = pytest.mark.skipif(not HAVE_PROMETHEUS, reason="prometheus_client not installed")


class Tools:
    """A registry with a tool that sleeps (for parallel runs) and one that fails."""

    def __init__(self, sleep: float = 0.0) -> None:
        self.registry = registry = ToolRegistry()
        self.active = 0
        self.peak = 0
        self.lock = threading.Lock()

        @registry.tool
        def weather(city: str) -> dict[str, Any]:
            """The weather of a city."""
            with self.lock:
                self.active += 1
                self.peak = max(self.peak, self.active)
            time.sleep(sleep)
            with self.lock:
                self.active -= 1
            return {"city": city, "temp": 21}

        @registry.tool
        def boom() -> None:
            """Always fails."""
            raise RuntimeError("kaput")


@pytest.fixture
def default_stats() -> Iterator[Stats]:
    """A fresh process-wide collector for the test (the previous one is restored)."""
    stats = Stats()
    previous = metrics.set_default_stats(stats)
    try:
        yield stats
    finally:
        metrics.set_default_stats(previous)


def two_turns(*calls: Any) -> list[Turn]:
    return [Turn("Let me check.", tool_calls=list(calls)), Turn("Done.")]


def run_agent(
    api: str, script: list[Any], stats: Stats, tools: Tools | None = None, **client_options: Any
) -> AgentResult:
    tools = tools or Tools()
    with ScriptedServer(script) as server:
        options: dict[str, Any] = {"api_key": KEY, "backoff": 0.01, **client_options}
        with Client(api=api, base_url=server.base_url(api), metrics=stats, **options) as client:
            return Agent(client, model="m-1", tools=tools.registry).run("weather?")


def assert_histogram(summary: dict[str, Any], count: int) -> None:
    assert summary["count"] == count
    if count:
        assert 0 <= summary["min"] <= summary["p50"] <= summary["p99"] <= summary["max"]
        assert summary["buckets"][-1][1] <= count
        assert math.isclose(summary["mean"] * count, summary["sum"])
    else:
        assert summary["min"] is None and summary["p50"] is None


# -- agent runs, every api --------------------------------------------------------------------


@pytest.mark.parametrize("api", APIS)
def test_agent_run_records_streams_calls_and_tools(api: str) -> None:
    stats = Stats()
    script = two_turns(
        call("weather", {"city": "Paris"}, id="c1"), call("weather", {"city": "Rome"}, id="c2")
    )
    result = run_agent(api, script, stats)
    snap = stats.snapshot()
    assert snap["streams"] == {
        "started": 2,
        "active": 0,
        "finished": {"stop": 1, "tool_calls": 1},
    }
    assert snap["bytes"] > 0 and snap["events"] > 0
    assert snap["retries"] == 0
    assert snap["tokens"] == {
        "input": result.token_usage["input_tokens"],
        "output": result.token_usage["output_tokens"],
    }
    assert snap["tool_calls"] == {"ok": 2, "invalid": 0, "unfinished": 0}
    assert snap["tool_runs"] == {"weather": {"ok": 2}}
    # The arguments as sent; Gemini and Ollama send an object, which the core writes compact.
    compact = len(json.dumps({"city": "Paris"}, separators=(",", ":")))
    assert compact <= snap["arguments_peak_bytes"] <= len(json.dumps({"city": "Paris"}))
    assert_histogram(snap["time_to_first_byte"], 2)
    assert_histogram(snap["time_to_first_chunk"], 2)
    assert_histogram(snap["stream_duration"], 2)
    assert_histogram(snap["tool_call_ready"], 2)
    assert_histogram(snap["tool_duration"]["weather"], 2)
    # Time to the first chunk never precedes the first byte; a call is ready after both.
    assert snap["time_to_first_chunk"]["min"] >= snap["time_to_first_byte"]["min"]
    assert snap["tool_call_ready"]["min"] >= snap["time_to_first_chunk"]["min"]
    assert KEY not in json.dumps(snap) and KEY not in metrics.exposition(stats)


@pytest.mark.parametrize("api", APIS)
def test_async_agent_run_records_the_same(api: str) -> None:
    stats = Stats()
    script = two_turns(call("weather", {"city": "Oslo"}, id="c1"))

    async def main() -> None:
        with ScriptedServer(script) as server:
            base = server.base_url(api)
            async with AsyncClient(api=api, base_url=base, api_key=KEY, metrics=stats) as client:
                await Agent(client, model="m-1", tools=Tools().registry).arun("weather?")

    asyncio.run(main())
    snap = stats.snapshot()
    assert snap["streams"]["finished"] == {"stop": 1, "tool_calls": 1}
    assert snap["tool_runs"] == {"weather": {"ok": 1}}
    assert snap["tool_call_ready"]["count"] == 1
    assert snap["streams"]["active"] == 0


def test_parallel_tools_each_recorded() -> None:
    stats = Stats()
    tools = Tools(sleep=0.05)
    calls = [call("weather", {"city": c}, id=f"c{i}") for i, c in enumerate("ABCD")]
    run_agent("chat", two_turns(*calls), stats, tools)
    snap = stats.snapshot()
    assert tools.peak > 1  # they did overlap
    assert snap["tool_runs"] == {"weather": {"ok": 4}}
    duration = snap["tool_duration"]["weather"]
    assert duration["count"] == 4 and duration["min"] >= 0.04
    assert snap["tool_call_ready"]["count"] == 4
    assert snap["tool_calls"]["ok"] == 4


def test_tool_errors_by_kind() -> None:
    stats = Stats()
    script = two_turns(
        call("boom", {}, id="c1"),
        call("nonexistent_tool", {}, id="c2"),
        call("weather", '{"city": "Par', id="c3"),  # not valid JSON: never runs
        call("weather", {"town": "Paris"}, id="c4"),  # wrong arguments: never runs
    )
    run_agent("chat", script, stats)
    snap = stats.snapshot()
    assert snap["tool_runs"] == {
        # An unknown name is the model's invention: one label for all of them.
        "_unknown": {"unknown_tool": 1},
        "boom": {"exception": 1},
        "weather": {"invalid_arguments": 2},
    }
    assert snap["tool_calls"] == {"ok": 3, "invalid": 1, "unfinished": 0}
    assert snap["streams"]["finished"] == {"stop": 1, "tool_calls": 1}


@pytest.mark.parametrize("api", APIS)
def test_cut_stream_fails_the_turn_and_is_counted(api: str) -> None:
    stats = Stats()
    calls = [call("weather", {"city": "Paris is a long name"}, id="c1"), call("boom", id="c2")]
    script = [Turn("Let me see.", tool_calls=calls, fault=Fault.cut(after=mid_call_cut(api)))]
    with pytest.raises(TurnFailed) as err:
        run_agent(api, script, stats)
    assert err.value.reason in ("incomplete", "malformed")
    snap = stats.snapshot()
    assert snap["streams"]["finished"] == {err.value.reason: 1}
    assert snap["streams"]["active"] == 0
    assert snap["tool_runs"] == {}  # no tool runs in a turn that ended badly
    if api == "chat":
        # The call cut mid-arguments, finished by the end of input with an error.
        assert snap["tool_calls"] == {"ok": 0, "invalid": 1, "unfinished": 0}
    assert snap["stream_duration"]["count"] == 1


@pytest.mark.parametrize("api", APIS)
def test_provider_error_in_the_stream(api: str) -> None:
    stats = Stats()
    script = [Turn("Hello there, let me", fault=Fault.error_event(2))]
    with pytest.raises(TurnFailed) as err:
        run_agent(api, script, stats)
    assert err.value.reason == "provider_error"
    assert stats.snapshot()["streams"]["finished"] == {"provider_error": 1}


def test_refused_requests_and_retries() -> None:
    stats = Stats()
    script = [Fault.rate_limit(retry_after=0.01), Turn("Hi.")]
    run_agent("chat", script, stats)
    snap = stats.snapshot()
    assert snap["retries"] == 1
    assert snap["streams"]["finished"] == {"stop": 1}
    # Time to first byte counts from the first attempt: it includes the retry's wait.
    assert snap["time_to_first_byte"]["min"] >= 0.01

    stats = Stats()
    with pytest.raises(TurnFailed):
        run_agent("chat", [Fault.rate_limit(retry_after=None)], stats, max_retries=0)
    with pytest.raises(TurnFailed):
        run_agent("chat", [Fault.server_error(500)], stats, max_retries=0)
    snap = stats.snapshot()
    assert snap["streams"] == {
        "started": 2,
        "active": 0,
        "finished": {"api_error": 1, "rate_limited": 1},
    }
    assert snap["time_to_first_byte"]["count"] == 0  # no body ever came
    assert snap["stream_duration"]["count"] == 2


# -- client streams ----------------------------------------------------------------------------


def test_client_stream_records_into_the_default(default_stats: Stats) -> None:
    with ScriptedServer([Turn("Hello, world.", tool_calls=[call("weather", {"a": 1})])]) as server:
        with Client(base_url=server.url, api_key=KEY) as client:
            with client.stream_chat(model="m", messages=[{"role": "user", "content": "hi"}]) as s:
                events = list(s)
    snap = metrics.snapshot()
    assert snap["streams"]["finished"] == {"tool_calls": 1}
    assert snap["events"] == len(events) == s.events_parsed
    assert snap["bytes"] == s.bytes_received
    # A bare stream does not look at its events one by one: call readiness is the agent's.
    assert snap["tool_call_ready"]["count"] == 0
    assert snap["tool_calls"] == {"ok": 1, "invalid": 0, "unfinished": 0}


def test_client_stream_errors_keep_their_outcome(default_stats: Stats) -> None:
    with ScriptedServer([Turn("Hello, world.", fault=Fault.cut(3))]) as server:
        with Client(base_url=server.url, api_key=KEY) as client:
            with pytest.raises(IncompleteStream):
                with client.stream_chat(model="m", messages=[]) as stream:
                    stream.until_done()
    with ScriptedServer([Turn("Hello, world.", fault=Fault.error_event(3))]) as server:
        with Client(base_url=server.url, api_key=KEY) as client:
            with pytest.raises(StreamProviderError):
                with client.stream_chat(model="m", messages=[]) as stream:
                    stream.until_done()
    with ScriptedServer([Fault.status_code(400, "bad request")]) as server:
        with Client(base_url=server.url, api_key=KEY) as client:
            with pytest.raises(APIStatusError):
                with client.stream_chat(model="m", messages=[]) as stream:
                    stream.until_done()
    with ScriptedServer([Fault.rate_limit(retry_after=None)]) as server:
        with Client(base_url=server.url, api_key=KEY, max_retries=0) as client:
            with pytest.raises(RateLimitError):
                client.stream_chat(model="m", messages=[]).open()
    assert metrics.snapshot()["streams"]["finished"] == {
        "api_error": 1,
        "incomplete": 1,
        "provider_error": 1,
        "rate_limited": 1,
    }


def test_stream_closed_early_or_never_read(default_stats: Stats) -> None:
    script = [Turn("word " * 50, delay=0.001), Turn("unread")]
    with ScriptedServer(script) as server:
        with Client(base_url=server.url, api_key=KEY) as client:
            with client.stream_chat(model="m", messages=[]) as stream:
                next(iter(stream))  # one event, then the consumer walks away
            with client.stream_chat(model="m", messages=[]):
                pass  # opened, never read
            client.stream_chat(model="m", messages=[]).close()  # never opened: not counted
    snap = metrics.snapshot()
    assert snap["streams"] == {"started": 2, "active": 0, "finished": {"closed": 2}}


def test_a_call_left_unfinished(default_stats: Stats) -> None:
    script = [Turn(tool_calls=[call("weather", {"city": "Paris " * 20})], args_piece=2)]
    with ScriptedServer(script) as server:
        with Client(base_url=server.url, api_key=KEY) as client:
            with client.stream_chat(model="m", messages=[]) as stream:
                for event in stream:
                    if isinstance(event, ToolCallDelta):
                        break  # walks away mid-arguments
    snap = metrics.snapshot()
    assert snap["tool_calls"] == {"ok": 0, "invalid": 0, "unfinished": 1}
    assert snap["streams"]["finished"] == {"closed": 1}
    assert 0 < snap["arguments_peak_bytes"] < len(json.dumps({"city": "Paris " * 20}))


def test_stream_closed_early_async(default_stats: Stats) -> None:
    async def main() -> None:
        with ScriptedServer([Turn("word " * 50, delay=0.001)]) as server:
            async with AsyncClient(base_url=server.url, api_key=KEY) as client:
                async with client.stream_chat(model="m", messages=[]) as stream:
                    async for _ in stream:
                        break

    asyncio.run(main())
    assert metrics.snapshot()["streams"]["finished"] == {"closed": 1}


def test_metrics_false_and_default_off(default_stats: Stats) -> None:
    with ScriptedServer([Turn("a"), Turn("b")], loop=True) as server:
        with Client(base_url=server.url, api_key=KEY, metrics=False) as client:
            client.stream_chat(model="m", messages=[]).open().until_done()
            Agent(client, model="m").run("hi")
        assert metrics.snapshot()["streams"]["started"] == 0
        previous = metrics.set_default_stats(None)
        try:
            with Client(base_url=server.url, api_key=KEY) as client:
                stream = client.stream_chat(model="m", messages=[]).open().until_done()
                assert stream._probe is None
            assert metrics.exposition() == ""
            assert metrics.snapshot()["streams"]["started"] == 0
        finally:
            metrics.set_default_stats(previous)
        # An agent's own collector wins over its client's.
        own = Stats()
        with Client(base_url=server.url, api_key=KEY, metrics=False) as client:
            Agent(client, model="m", metrics=own).run("hi")
        assert own.snapshot()["streams"]["started"] == 1
    assert default_stats.snapshot()["streams"]["started"] == 0


def test_wrong_option_types_are_refused() -> None:
    with pytest.raises(TypeError, match=r"metrics= takes .* toolwire.metrics.Stats, not dict"):
        Client(api_key=KEY, metrics={})  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"telemetry= takes .* toolwire.telemetry.Telemetry"):
        Client(api_key=KEY, telemetry="on")  # type: ignore[arg-type]
    with Client(api_key=KEY) as client:
        with pytest.raises(TypeError, match="metrics="):
            Agent(client, model="m", metrics=1.0)  # type: ignore[arg-type]
        Agent(client, model="m", metrics=None, telemetry=None)  # None: the client's


def test_from_response_counts_in_the_default(default_stats: Stats) -> None:
    body = (
        b'data: {"choices":[{"index":0,"delta":{"content":"Hi"}}]}\n\n'
        b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n'
        b"data: [DONE]\n\n"
    )
    stream = ChatStream.from_response([body[:20], body[20:]]).until_done()
    assert stream.message()["content"] == "Hi"
    snap = metrics.snapshot()
    assert snap["streams"]["finished"] == {"stop": 1}
    assert snap["bytes"] == len(body) and snap["events"] == stream.events_parsed == 2


# -- the collector itself ----------------------------------------------------------------------


def record(outcome: str = "stop", **fields: Any) -> StreamRecord:
    values: dict[str, Any] = {
        "outcome": outcome,
        "bytes": 10,
        "events": 2,
        "retries": 0,
        "time_to_first_byte": 0.02,
        "time_to_first_chunk": 0.03,
        "duration": 0.5,
        "ready": (),
        "calls_ok": 0,
        "calls_invalid": 0,
        "calls_unfinished": 0,
        "arguments_peak": 0,
        "input_tokens": 1,
        "output_tokens": 1,
    }
    values.update(fields)
    return StreamRecord(**values)


def test_empty_snapshot_shape() -> None:
    snap = Stats().snapshot()
    assert snap["streams"] == {"started": 0, "active": 0, "finished": {}}
    for name in ("time_to_first_byte", "time_to_first_chunk", "stream_duration"):
        assert_histogram(snap[name], 0)
    assert snap["tool_duration"] == {} and snap["tool_runs"] == {}
    json.dumps(snap)  # plain data


def test_histogram_buckets_and_quantiles() -> None:
    stats = Stats(buckets=[0.1, 1.0, 10.0])
    for seconds in (0.05, 0.1, 0.5, 0.7, 2.0):
        stats._stream_started()
        stats._stream_finished(record(duration=seconds))
    summary = stats.snapshot()["stream_duration"]
    # le is "less than or equal": 0.1 is in the first bucket.
    assert summary["buckets"] == [[0.1, 2], [1.0, 4], [10.0, 5]]
    assert summary["min"] == 0.05 and summary["max"] == 2.0
    assert 0.1 <= summary["p50"] <= 1.0
    assert summary["p99"] <= 2.0
    with pytest.raises(ValueError, match="increasing"):
        Stats(buckets=[1.0, 0.5])
    with pytest.raises(ValueError, match="finite"):
        Stats(buckets=[1.0, math.inf])
    with pytest.raises(ValueError, match="at least one"):
        Stats(buckets=[])


def test_reset_and_repr() -> None:
    stats = Stats()
    stats._stream_started()
    stats._stream_finished(record(bytes=99))
    assert "bytes=99" in repr(stats)
    stats.reset()
    assert stats.snapshot()["bytes"] == 0


def test_thread_safe_totals() -> None:
    stats = Stats()
    threads, per_thread = 8, 500

    def work(n: int) -> None:
        for i in range(per_thread):
            stats._stream_started()
            stats._stream_finished(record(calls_ok=1, ready=(0.01,), arguments_peak=n * 1000 + i))
            stats._tool_ran(f"t{n % 2}", "ok", 0.001)
            if i % 50 == 0:
                stats.snapshot()

    workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    snap = stats.snapshot()
    total = threads * per_thread
    assert snap["streams"] == {"started": total, "active": 0, "finished": {"stop": total}}
    assert snap["bytes"] == 10 * total and snap["events"] == 2 * total
    assert snap["tool_calls"]["ok"] == total and snap["tool_call_ready"]["count"] == total
    assert sum(r["ok"] for r in snap["tool_runs"].values()) == total
    assert snap["arguments_peak_bytes"] == (threads - 1) * 1000 + per_thread - 1


# -- exposition --------------------------------------------------------------------------------


def busy_stats() -> Stats:
    """A collector with something in every metric, recorded by a real agent run."""
    stats = Stats()
    script = two_turns(call("weather", {"city": "Paris"}), call("boom", {}))
    run_agent("chat", script, stats)
    return stats


def test_exposition_text_is_well_formed() -> None:
    text = metrics.exposition(busy_stats())
    assert text.endswith("\n")
    names = {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE")}
    assert names == {
        "toolwire_streams_started_total",
        "toolwire_streams_total",
        "toolwire_streams_active",
        "toolwire_bytes_total",
        "toolwire_events_total",
        "toolwire_retries_total",
        "toolwire_tokens_total",
        "toolwire_tool_calls_total",
        "toolwire_tool_runs_total",
        "toolwire_arguments_peak_bytes",
        "toolwire_time_to_first_byte_seconds",
        "toolwire_time_to_first_chunk_seconds",
        "toolwire_stream_duration_seconds",
        "toolwire_tool_call_ready_seconds",
        "toolwire_tool_duration_seconds",
    }
    assert 'toolwire_streams_total{outcome="tool_calls"} 1.0' in text
    assert 'toolwire_tool_runs_total{outcome="exception",tool="boom"} 1.0' in text
    assert 'toolwire_tool_duration_seconds_bucket{le="+Inf",tool="weather"} 1.0' in text
    assert "toolwire_time_to_first_byte_seconds_count 2.0" in text


def test_label_values_and_help_are_escaped() -> None:
    family = Family(
        "x_runs",
        "counter",
        "help with \\ and\nnewline",
        [((("tool", 'a"b\\c\nd'),), 1)],
    )
    text = render([family])
    assert "# HELP x_runs_total help with \\\\ and\\nnewline\n" in text
    assert 'x_runs_total{tool="a\\"b\\\\c\\nd"} 1.0\n' in text


@needs_prometheus
def test_exposition_parses_with_prometheus_client() -> None:
    from prometheus_client.parser import text_string_to_metric_families

    stats = busy_stats()
    snap = stats.snapshot()
    families = {f.name: f for f in text_string_to_metric_families(metrics.exposition(stats))}
    assert families["toolwire_streams"].type == "counter"
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in families.values()
        for s in f.samples
    }
    assert samples[("toolwire_bytes_total", ())] == snap["bytes"]
    assert samples[("toolwire_events_total", ())] == snap["events"]
    assert samples[("toolwire_tool_calls_total", (("outcome", "ok"),))] == 2
    assert samples[("toolwire_arguments_peak_bytes", ())] == snap["arguments_peak_bytes"]
    ttfb = families["toolwire_time_to_first_byte_seconds"]
    assert ttfb.type == "histogram"
    buckets = [s for s in ttfb.samples if s.name.endswith("_bucket")]
    assert buckets[-1].labels["le"] == "+Inf" and buckets[-1].value == 2
    counts = [s.value for s in buckets]
    assert counts == sorted(counts)  # cumulative


@needs_prometheus
def test_collector_matches_the_written_text() -> None:
    from prometheus_client import CollectorRegistry
    from prometheus_client.exposition import generate_latest
    from prometheus_client.parser import text_string_to_metric_families

    stats = busy_stats()
    registry = CollectorRegistry()
    collector = metrics.register_prometheus(stats, registry=registry)

    def samples(text: str) -> set[tuple[str, tuple[tuple[str, str], ...], float]]:
        return {
            (s.name, tuple(sorted(s.labels.items())), s.value)
            for f in text_string_to_metric_families(text)
            for s in f.samples
        }

    theirs = generate_latest(registry).decode()
    assert samples(theirs) == samples(metrics.exposition(stats))
    # Same bytes too, line for line (prometheus_client writes _count before _sum as well).
    assert theirs == metrics.exposition(stats)
    registry.unregister(collector)
    assert generate_latest(registry) == b""


@needs_prometheus
def test_register_follows_the_default(default_stats: Stats) -> None:
    from prometheus_client import CollectorRegistry
    from prometheus_client.exposition import generate_latest

    registry = CollectorRegistry()
    metrics.register_prometheus(registry=registry)
    default_stats._stream_started()
    assert b"toolwire_streams_started_total 1.0" in generate_latest(registry)
    previous = metrics.set_default_stats(None)
    try:
        assert generate_latest(registry) == b""
    finally:
        metrics.set_default_stats(previous)


# -- the ASGI app ------------------------------------------------------------------------------


def asgi_get(app: metrics.ASGIApp, method: str = "GET", path: str = "/metrics") -> httpx.Response:
    async def main() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.request(method, path)

    return asyncio.run(main())


def test_asgi_app_serves_the_exposition() -> None:
    stats = busy_stats()
    response = asgi_get(metrics.asgi_app(stats))
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert response.headers["cache-control"] == "no-store"
    assert response.text == metrics.exposition(stats)
    head = asgi_get(metrics.asgi_app(stats), "HEAD")
    assert head.status_code == 200 and head.content == b""
    refused = asgi_get(metrics.asgi_app(stats), "POST")
    assert refused.status_code == 405 and refused.headers["allow"] == "GET, HEAD"
    # Mounted anywhere: the path is the mount's business.
    assert asgi_get(metrics.asgi_app(stats), path="/any/where").status_code == 200


def test_asgi_app_follows_the_default_and_speaks_lifespan(default_stats: Stats) -> None:
    app = metrics.asgi_app()
    default_stats._stream_started()
    assert "toolwire_streams_started_total 1.0" in asgi_get(app).text

    sent: list[dict[str, Any]] = []
    messages = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])

    async def receive() -> dict[str, Any]:
        return next(messages)

    async def send(message: Any) -> None:
        sent.append(dict(message))

    asyncio.run(app({"type": "lifespan"}, receive, send))
    assert [m["type"] for m in sent] == [
        "lifespan.startup.complete",
        "lifespan.shutdown.complete",
    ]


@needs_prometheus
def test_asgi_app_serves_a_registry() -> None:
    from prometheus_client import CollectorRegistry, Counter

    registry = CollectorRegistry()
    Counter("app_requests", "The app's own.", registry=registry).inc()
    metrics.register_prometheus(busy_stats(), registry=registry)
    text = asgi_get(metrics.asgi_app(registry=registry)).text
    assert "app_requests_total 1.0" in text and "toolwire_bytes_total" in text


# -- without the extras ------------------------------------------------------------------------


def test_without_prometheus_client(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [m for m in sys.modules if m.split(".")[0] == "prometheus_client"]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "prometheus_client", None)
    monkeypatch.delitem(sys.modules, "toolwire._metrics.prom", raising=False)
    stats = busy_stats()
    assert "toolwire_bytes_total" in metrics.exposition(stats)
    assert asgi_get(metrics.asgi_app(stats)).status_code == 200
    with pytest.raises(ImportError, match=r"toolwire\[metrics\]"):
        metrics.register_prometheus(stats)


def test_without_either_extra_in_a_fresh_interpreter() -> None:
    """Blocks prometheus_client and opentelemetry before toolwire is imported: a whole agent
    run, /metrics and the telemetry switch all work, and neither module was ever loaded."""
    code = f"""
import sys
sys.modules["prometheus_client"] = None
sys.modules["opentelemetry"] = None
import asyncio, httpx, toolwire, toolwire.metrics, toolwire.telemetry
from toolwire.testing import ScriptedServer, Turn, call

registry = toolwire.ToolRegistry()

@registry.tool
def weather(city: str) -> str:
    "The weather."
    return "sunny"

script = [Turn("Hm.", tool_calls=[call("weather", {{"city": "Oslo"}})]), Turn("Sunny.")]
with ScriptedServer(script) as server:
    with toolwire.Client(base_url=server.url, api_key={KEY!r}) as client:
        result = toolwire.Agent(client, model="m", tools=registry).run("hi")
assert result.text == "Sunny.", result.text
assert toolwire.metrics.snapshot()["tool_runs"] == {{"weather": {{"ok": 1}}}}
assert not toolwire.telemetry.available()
for make in (toolwire.telemetry.Telemetry, toolwire.telemetry.instrument):
    try:
        make()
    except ImportError as exc:
        assert "toolwire[otel]" in str(exc)
    else:
        raise AssertionError("Telemetry() without opentelemetry")
try:
    toolwire.metrics.register_prometheus()
except ImportError as exc:
    assert "toolwire[metrics]" in str(exc)
else:
    raise AssertionError("register_prometheus() without prometheus_client")

async def scrape() -> httpx.Response:
    transport = httpx.ASGITransport(app=toolwire.metrics.asgi_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        return await http.get("/metrics")

response = asyncio.run(scrape())
assert response.status_code == 200
assert 'toolwire_tool_runs_total{{outcome="ok",tool="weather"}} 1.0' in response.text
loaded = [m for m in sys.modules if m.split(".")[0] in ("prometheus_client", "opentelemetry")]
assert all(sys.modules[m] is None for m in loaded), loaded
print("ok")
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_importing_metrics_is_cheap() -> None:
    code = (
        "import sys, toolwire.metrics\n"
        "heavy = ('httpx', 'anyio', 'pydantic', 'prometheus_client', 'opentelemetry')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
