"""toolwire.telemetry: OpenTelemetry GenAI spans and metrics of real agent runs and client
streams against the scripted server (every api), read back with the SDK's in-memory span
exporter and metric reader: the span tree (invoke_agent > chat, execute_tool), the semantic
conventions' attributes, failed turns, tool errors, parallel tools, content capture only when
asked, the key in no attribute, no telemetry work per event, and the path without
opentelemetry (the import made to fail), where everything else keeps working."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

import toolwire.telemetry as telemetry
from tests.agent_helpers import mid_call_cut
from tests.helpers import importable
from toolwire import (
    Agent,
    AgentResult,
    AsyncClient,
    Client,
    IncompleteStream,
    TextDelta,
    ToolRegistry,
    TurnFailed,
)
from toolwire._dialects import APIS
from toolwire._metrics import otel as otel_module
from toolwire.testing import Fault, ScriptedServer, Turn, call

KEY = "sk-otel-SECRET-7f3a91"

HAVE_SDK = importable("opentelemetry.sdk")
needs_sdk = pytest.mark.skipif(not HAVE_SDK, reason="opentelemetry-sdk not installed")

PROVIDERS = {
    "chat": "openai",
    "responses": "openai",
    "anthropic": "anthropic",
    "gemini": "gcp.gemini",
    "ollama": "ollama",
}


@dataclass
class Otel:
    """An SDK pipeline kept in memory, and the ``Telemetry`` that feeds it."""

    exporter: Any
    reader: Any
    tracer_provider: Any
    meter_provider: Any
    telemetry: telemetry.Telemetry

    def spans(self, name: str | None = None) -> list[Any]:
        spans = list(self.exporter.get_finished_spans())
        return [s for s in spans if name is None or s.name.split()[0] == name]

    def points(self, metric: str) -> list[Any]:
        data = self.reader.get_metrics_data()
        out = []
        for resource in data.resource_metrics if data else []:
            for scope in resource.scope_metrics:
                for m in scope.metrics:
                    if m.name == metric:
                        out.extend(m.data.data_points)
        return out


def make_otel(**options: Any) -> Otel:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    tel = telemetry.Telemetry(
        tracer_provider=tracer_provider, meter_provider=meter_provider, **options
    )
    return Otel(exporter, reader, tracer_provider, meter_provider, tel)


@pytest.fixture
def otel() -> Iterator[Otel]:
    pipeline = make_otel()
    yield pipeline
    pipeline.tracer_provider.shutdown()
    pipeline.meter_provider.shutdown()


def registry() -> ToolRegistry:
    tools = ToolRegistry()

    @tools.tool
    def weather(city: str) -> dict[str, Any]:
        """The weather of a city."""
        return {"city": city, "sky": "clear"}

    @tools.tool
    async def slow_weather(city: str) -> str:
        """The weather, slowly."""
        await asyncio.sleep(0.05)
        return "clear"

    @tools.tool
    def boom() -> None:
        """Always fails."""
        raise RuntimeError("kaput")

    return tools


def run_agent(
    api: str, script: list[Any], tel: telemetry.Telemetry | bool, **agent_options: Any
) -> AgentResult:
    with ScriptedServer(script) as server:
        base = server.base_url(api)
        with Client(api=api, base_url=base, api_key=KEY, max_retries=0, telemetry=tel) as client:
            agent = Agent(client, model="m-1", tools=registry(), **agent_options)
            return agent.run("weather?")


def two_turns(*calls: Any) -> list[Turn]:
    return [Turn("Let me check.", tool_calls=list(calls)), Turn("It is clear.")]


def attrs(span: Any) -> dict[str, Any]:
    return dict(span.attributes or {})


def everything_recorded(otel: Otel) -> str:
    """Every attribute, event, status description and metric attribute, as one text."""
    parts: list[Any] = []
    for span in otel.spans():
        parts += [span.name, attrs(span), span.status.description]
        parts += [(e.name, dict(e.attributes or {})) for e in span.events]
        parts.append(dict(span.resource.attributes))
    data = otel.reader.get_metrics_data()
    for resource in data.resource_metrics if data else []:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                parts += [dict(p.attributes or {}) for p in metric.data.data_points]
    return json.dumps(parts, default=str)


# -- the span tree, every api ------------------------------------------------------------------


@needs_sdk
@pytest.mark.parametrize("api", APIS)
def test_agent_run_spans(api: str, otel: Otel) -> None:
    script = two_turns(
        call("weather", {"city": "Paris"}, id="c1"), call("weather", {"city": "Rome"}, id="c2")
    )
    result = run_agent(api, script, otel.telemetry, name="forecaster")
    (agent,) = otel.spans("invoke_agent")
    chats = otel.spans("chat")
    tools = otel.spans("execute_tool")
    assert len(chats) == 2 and len(tools) == 2
    assert agent.parent is None
    for child in chats + tools:
        assert child.parent.span_id == agent.context.span_id
        assert child.context.trace_id == agent.context.trace_id

    from opentelemetry.trace import SpanKind, StatusCode

    assert agent.name == "invoke_agent forecaster" and agent.kind == SpanKind.INTERNAL
    assert attrs(agent) == {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.name": "forecaster",
        "gen_ai.provider.name": PROVIDERS[api],
        "gen_ai.request.model": "m-1",
        "server.address": "127.0.0.1",
        "server.port": attrs(agent)["server.port"],
        "gen_ai.usage.input_tokens": result.token_usage["input_tokens"],
        "gen_ai.usage.output_tokens": result.token_usage["output_tokens"],
    }
    chats.sort(key=lambda s: s.start_time)
    for span in chats:
        a = attrs(span)
        assert span.name == "chat m-1" and span.kind == SpanKind.CLIENT
        assert span.status.status_code == StatusCode.UNSET
        assert a["gen_ai.operation.name"] == "chat"
        assert a["gen_ai.provider.name"] == PROVIDERS[api]
        assert a["gen_ai.request.model"] == "m-1"
        assert a["gen_ai.request.stream"] is True
        assert a["gen_ai.response.model"] == "m-1"  # read from the stream (the server echoes)
        assert ("gen_ai.response.id" in a) == (api != "ollama")  # Ollama sends no id
        assert len(a["gen_ai.response.finish_reasons"]) == 1
        assert a["gen_ai.usage.input_tokens"] > 0 and a["gen_ai.usage.output_tokens"] > 0
        assert 0 < a["gen_ai.response.time_to_first_chunk"] < (span.end_time - span.start_time)
        assert a["server.address"] == "127.0.0.1" and isinstance(a["server.port"], int)
        assert "error.type" not in a
    # The first call's arguments completed while the model streamed: one event per call.
    ready = [e for e in chats[0].events if e.name == "toolwire.tool_call.ready"]
    assert [dict(e.attributes or {})["gen_ai.tool.name"] for e in ready] == ["weather"] * 2
    assert sorted(attrs(t)["gen_ai.tool.call.id"] for t in tools) == ["c1", "c2"]
    for span in tools:
        assert span.name == "execute_tool weather" and span.kind == SpanKind.INTERNAL
        a = attrs(span)
        assert a["gen_ai.operation.name"] == "execute_tool"
        assert a["gen_ai.tool.name"] == "weather" and a["gen_ai.tool.type"] == "function"
        # Arguments and results may be sensitive: only on request.
        assert "gen_ai.tool.call.arguments" not in a and "gen_ai.tool.call.result" not in a
    assert KEY not in everything_recorded(otel)


@needs_sdk
@pytest.mark.parametrize("api", APIS)
def test_async_agent_run_spans(api: str, otel: Otel) -> None:
    script = two_turns(
        call("slow_weather", {"city": "Oslo"}, id="c1"),
        call("slow_weather", {"city": "Bergen"}, id="c2"),
    )

    async def main() -> None:
        with ScriptedServer(script) as server:
            base = server.base_url(api)
            async with AsyncClient(
                api=api, base_url=base, api_key=KEY, telemetry=otel.telemetry
            ) as client:
                await Agent(client, model="m-1", tools=registry()).arun("weather?")

    asyncio.run(main())
    (agent,) = otel.spans("invoke_agent")
    assert agent.name == "invoke_agent"
    tools = otel.spans("execute_tool")
    assert len(tools) == 2 and len(otel.spans("chat")) == 2
    for child in otel.spans("chat") + tools:
        assert child.parent.span_id == agent.context.span_id
    # Parallel: the two runs overlap.
    first, second = sorted(tools, key=lambda s: s.start_time)
    assert second.start_time < first.end_time
    assert KEY not in everything_recorded(otel)


@needs_sdk
def test_parallel_sync_tools_overlap(otel: Otel) -> None:
    import time

    tools = ToolRegistry()

    @tools.tool
    def nap(n: int) -> int:
        """Naps."""
        time.sleep(0.05)
        return n

    script = two_turns(*[call("nap", {"n": i}, id=f"c{i}") for i in range(4)])
    with ScriptedServer(script) as server:
        with Client(base_url=server.url, api_key=KEY, telemetry=otel.telemetry) as client:
            Agent(client, model="m-1", tools=tools).run("nap")
    spans = sorted(otel.spans("execute_tool"), key=lambda s: s.start_time)
    assert len(spans) == 4
    assert spans[-1].start_time < spans[0].end_time  # all four were running at once
    (agent,) = otel.spans("invoke_agent")
    assert all(s.parent.span_id == agent.context.span_id for s in spans)


# -- failures ----------------------------------------------------------------------------------


@needs_sdk
@pytest.mark.parametrize("api", APIS)
def test_a_cut_stream(api: str, otel: Otel) -> None:
    from opentelemetry.trace import StatusCode

    calls = [call("weather", {"city": "Paris is a long name"}, id="c1")]
    script = [Turn("Let me see.", tool_calls=calls, fault=Fault.cut(after=mid_call_cut(api)))]
    with pytest.raises(TurnFailed) as err:
        run_agent(api, script, otel.telemetry)
    (chat,) = otel.spans("chat")
    expected = "IncompleteStream" if err.value.reason == "incomplete" else "MalformedStream"
    assert attrs(chat)["error.type"] == expected
    assert chat.status.status_code == StatusCode.ERROR
    assert otel.spans("execute_tool") == []
    (agent,) = otel.spans("invoke_agent")
    assert attrs(agent)["error.type"] == "TurnFailed"
    assert agent.status.status_code == StatusCode.ERROR
    assert "turn 1 failed" in (agent.status.description or "")
    durations = otel.points("gen_ai.client.operation.duration")
    (failed,) = [p for p in durations if "error.type" in p.attributes]
    assert failed.attributes["error.type"] == expected and failed.count == 1


@needs_sdk
@pytest.mark.parametrize("api", APIS)
def test_a_provider_error_in_the_stream(api: str, otel: Otel) -> None:
    with pytest.raises(TurnFailed):
        run_agent(api, [Turn("Hello there, let me", fault=Fault.error_event(2))], otel.telemetry)
    (chat,) = otel.spans("chat")
    assert attrs(chat)["error.type"] == "StreamProviderError"
    assert KEY not in everything_recorded(otel)


@needs_sdk
def test_a_refused_request(otel: Otel) -> None:
    from opentelemetry.trace import StatusCode

    with pytest.raises(TurnFailed):
        run_agent("chat", [Fault.server_error(503)], otel.telemetry)
    (chat,) = otel.spans("chat")
    assert attrs(chat)["error.type"] == "503"  # the HTTP status, as the conventions show
    assert chat.status.status_code == StatusCode.ERROR
    assert "gen_ai.response.time_to_first_chunk" not in attrs(chat)
    assert otel.points("gen_ai.client.operation.time_to_first_chunk") == []
    (point,) = otel.points("gen_ai.client.operation.duration")
    assert point.attributes["error.type"] == "503"


@needs_sdk
def test_tool_errors(otel: Otel) -> None:
    from opentelemetry.trace import StatusCode

    script = two_turns(
        call("boom", {}, id="c1"),
        call("nonexistent", {}, id="c2"),
        call("weather", '{"city": "Par', id="c3"),
        call("weather", {"city": "Lima"}, id="c4"),
    )
    run_agent("chat", script, otel.telemetry)
    by_id = {attrs(s)["gen_ai.tool.call.id"]: s for s in otel.spans("execute_tool")}
    assert set(by_id) == {"c1", "c2", "c3", "c4"}
    for call_id, kind in (("c1", "exception"), ("c2", "unknown_tool"), ("c3", "invalid_arguments")):
        span = by_id[call_id]
        assert attrs(span)["error.type"] == kind
        assert span.status.status_code == StatusCode.ERROR
    assert "kaput" in (by_id["c1"].status.description or "")
    assert by_id["c4"].status.status_code == StatusCode.UNSET
    (agent,) = otel.spans("invoke_agent")
    assert agent.status.status_code == StatusCode.UNSET  # the run itself went well


@needs_sdk
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_run_left_early_still_ends_its_spans(mode: str, otel: Otel) -> None:
    from opentelemetry.trace import StatusCode

    script = [Turn("word " * 100, delay=0.001)]
    with ScriptedServer(script) as server:
        if mode == "sync":
            with Client(base_url=server.url, api_key=KEY, telemetry=otel.telemetry) as client:
                events = Agent(client, model="m").stream("hi")
                for event in events:
                    if isinstance(event, TextDelta):
                        break
                events.close()  # type: ignore[attr-defined]
        else:

            async def main() -> None:
                async with AsyncClient(
                    base_url=server.url, api_key=KEY, telemetry=otel.telemetry
                ) as client:
                    events = Agent(client, model="m").astream("hi")
                    async for event in events:
                        if isinstance(event, TextDelta):
                            break
                    await events.aclose()  # type: ignore[attr-defined]

            asyncio.run(main())
    (agent,) = otel.spans("invoke_agent")
    (chat,) = otel.spans("chat")
    assert chat.parent.span_id == agent.context.span_id
    for span in (agent, chat):
        assert span.status.status_code == StatusCode.UNSET
        assert "error.type" not in attrs(span)


# -- content, parameters, switches -------------------------------------------------------------


@needs_sdk
def test_capture_content_records_arguments_and_results() -> None:
    pipeline = make_otel(capture_content=True)
    run_agent("chat", two_turns(call("weather", {"city": "Quito"}, id="c1")), pipeline.telemetry)
    (span,) = pipeline.spans("execute_tool")
    a = attrs(span)
    assert json.loads(a["gen_ai.tool.call.arguments"]) == {"city": "Quito"}
    assert json.loads(a["gen_ai.tool.call.result"]) == {"city": "Quito", "sky": "clear"}
    assert KEY not in everything_recorded(pipeline)


@needs_sdk
def test_capture_content_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(telemetry.CAPTURE_ENV, "true")
    assert make_otel().telemetry.capture_content is True
    assert make_otel(capture_content=False).telemetry.capture_content is False
    monkeypatch.setenv(telemetry.CAPTURE_ENV, "false")
    assert make_otel().telemetry.capture_content is False


@needs_sdk
def test_client_stream_span_and_request_parameters(otel: Otel) -> None:
    with ScriptedServer([Turn("Hello.")]) as server:
        with Client(base_url=server.url, api_key=KEY, telemetry=otel.telemetry) as client:
            with client.stream_chat(
                model="gpt-x",
                messages=[{"role": "user", "content": "hi"}],
                temperature=0.2,
                max_tokens=64,
                top_p=0.9,
                seed=7,
                stop=["END"],
                user="someone",  # not a convention attribute: left out
            ) as stream:
                stream.until_done()
    (span,) = otel.spans()
    assert span.parent is None and span.name == "chat gpt-x"
    a = attrs(span)
    assert a["gen_ai.request.temperature"] == 0.2
    assert a["gen_ai.request.max_tokens"] == 64
    assert a["gen_ai.request.top_p"] == 0.9
    assert a["gen_ai.request.seed"] == 7
    assert list(a["gen_ai.request.stop_sequences"]) == ["END"]
    assert a["gen_ai.response.finish_reasons"] == ("stop",)
    assert "someone" not in json.dumps(a)


@needs_sdk
def test_metrics_of_the_conventions(otel: Otel) -> None:
    result = run_agent("anthropic", two_turns(call("weather", {"city": "Lima"})), otel.telemetry)
    durations = otel.points("gen_ai.client.operation.duration")
    assert sum(p.count for p in durations) == 2
    for point in durations:
        assert point.attributes["gen_ai.operation.name"] == "chat"
        assert point.attributes["gen_ai.provider.name"] == "anthropic"
        assert point.attributes["gen_ai.request.model"] == "m-1"
        assert point.attributes["gen_ai.response.model"] == "m-1"
        assert point.attributes["server.address"] == "127.0.0.1"
        assert "error.type" not in point.attributes
        # The conventions' bucket advice was taken.
        assert list(point.explicit_bounds) == list(otel_module.DURATION_BUCKETS)
    tokens = {
        p.attributes["gen_ai.token.type"]: p for p in otel.points("gen_ai.client.token.usage")
    }
    assert tokens["input"].sum == result.token_usage["input_tokens"]
    assert tokens["output"].sum == result.token_usage["output_tokens"]
    assert list(tokens["input"].explicit_bounds) == list(otel_module.TOKEN_BUCKETS)
    first = otel.points("gen_ai.client.operation.time_to_first_chunk")
    assert sum(p.count for p in first) == 2
    assert KEY not in everything_recorded(otel)


@needs_sdk
def test_instrument_and_opt_outs(otel: Otel) -> None:
    assert telemetry.current() is None
    script = [Turn("a"), Turn("b"), Turn("c")]
    with ScriptedServer(script, loop=True) as server:
        with Client(base_url=server.url, api_key=KEY) as client:
            agent = Agent(client, model="m")
            agent.run("hi")  # not instrumented: nothing
            assert otel.spans() == []
            tel = telemetry.instrument(
                tracer_provider=otel.tracer_provider, meter_provider=otel.meter_provider
            )
            try:
                assert telemetry.current() is tel
                agent.run("hi")  # the client made before instrument() follows it
                assert {s.name for s in otel.spans()} == {"invoke_agent", "chat m"}
                with Client(base_url=server.url, api_key=KEY, telemetry=False) as quiet:
                    Agent(quiet, model="m").run("hi")
                Agent(client, model="m", telemetry=False).run("hi")
                assert len(otel.spans()) == 2
            finally:
                telemetry.uninstrument()
    assert telemetry.current() is None


@needs_sdk
def test_global_providers_without_an_sdk_cost_nothing_visible() -> None:
    # No providers given and none configured globally: the API's no-op tracer and meter.
    tel = telemetry.Telemetry()
    result = run_agent("chat", two_turns(call("weather", {"city": "Lima"})), tel)
    assert result.text == "It is clear."


@needs_sdk
def test_the_key_is_in_no_attribute_even_when_echoed(otel: Otel) -> None:
    # A key pasted as the model name, echoed by the server in the stream's model field and
    # in its error message.
    script = [Turn("x", fault=Fault.error_event(1, message=f"bad key {KEY}"))]
    with ScriptedServer(script) as server:
        with Client(base_url=server.url, api_key=KEY, telemetry=otel.telemetry) as client:
            with pytest.raises(Exception, match="inside the stream"):
                with client.stream_chat(model=KEY, messages=[]) as stream:
                    stream.until_done()
    (span,) = otel.spans()
    assert attrs(span)["gen_ai.response.model"] == "***"
    recorded = everything_recorded(otel)
    assert KEY not in recorded
    assert "Bearer" not in recorded and "authorization" not in recorded.lower()


# -- no work per event -------------------------------------------------------------------------


@needs_sdk
def test_telemetry_work_is_per_call_not_per_event(otel: Otel) -> None:
    calls: list[str] = []
    tel = otel.telemetry
    for name in ("_chat_start", "_chat_end", "_chat_event", "_use", "_tool", "_agent_start"):
        method = getattr(tel, name)

        def counted(*args: Any, __method: Any = method, __name: str = name, **kw: Any) -> Any:
            calls.append(__name)
            return __method(*args, **kw)

        setattr(tel, name, counted)
    long_text = "word " * 400  # hundreds of events
    script = [Turn(long_text, tool_calls=[call("weather", {"city": "Lima"})]), Turn(long_text)]
    with ScriptedServer(script) as server:
        with Client(base_url=server.url, api_key=KEY, telemetry=tel) as client:
            events = list(Agent(client, model="m", tools=registry()).stream("hi"))
    assert len(events) > 400
    assert sorted(calls) == sorted(
        ["_agent_start"]
        + ["_chat_start", "_use", "_chat_end"] * 2
        + ["_chat_event"]  # the one call whose arguments completed
        + ["_tool", "_use"]  # the tool run, current while it runs
    )


def test_off_means_no_probe_and_no_import(monkeypatch: pytest.MonkeyPatch) -> None:
    assert telemetry.current() is None
    with ScriptedServer([Turn("Hello.")]) as server:
        with Client(base_url=server.url, api_key=KEY, metrics=False) as client:
            stream = client.stream_chat(model="m", messages=[])
            assert stream._probe is None  # nothing observes: no hook runs at all
            stream.open().until_done()
        with Client(base_url=server.url, api_key=KEY) as client:
            probe = client.stream_chat(model="m", messages=[])._probe
            assert probe is not None and probe.telemetry is None and probe.span is None


# -- without opentelemetry ---------------------------------------------------------------------


def block_opentelemetry(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [m for m in sys.modules if m.split(".")[0] == "opentelemetry"]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "opentelemetry", None)


def test_without_opentelemetry(monkeypatch: pytest.MonkeyPatch) -> None:
    block_opentelemetry(monkeypatch)
    assert not telemetry.available()
    with pytest.raises(ImportError, match=r"toolwire\[otel\]"):
        telemetry.Telemetry()
    with pytest.raises(ImportError, match=r"toolwire\[otel\]"):
        telemetry.instrument()
    assert telemetry.current() is None
    # Everything else runs as before: a run with tools, a failed turn.
    result = run_agent("chat", two_turns(call("weather", {"city": "Lima"})), True)
    assert result.text == "It is clear."
    with pytest.raises(TurnFailed):
        run_agent("chat", [Turn("Hi", fault=Fault.cut(2))], True)
    with ScriptedServer([Turn("Hi", fault=Fault.cut(2))]) as server:
        with Client(base_url=server.url, api_key=KEY) as client:
            with pytest.raises(IncompleteStream):
                client.stream_chat(model="m", messages=[]).open().until_done()
    assert "opentelemetry" not in {m.split(".")[0] for m, v in sys.modules.items() if v}
