"""The same agent scenarios over every api, sync and async, against toolwire.testing's scripted
server speaking that api's own wire format and checking its requests as the real API does:
parallel tools, an eager tool started while the model streams, a tool error sent back, a cut
mid-call and a length end running nothing, a 429 then success, usage totals, and the key in
no output. What the server reads of each request is the canonical transcript again
(``messages_of``), so the scenarios check what the model was sent in every api alike."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from tests import agent_helpers
from tests.agent_helpers import Tools, cut_mid_call_turn
from toolwire import (
    Agent,
    AgentResult,
    AsyncClient,
    Client,
    Finish,
    ToolRunStarted,
    TurnFailed,
)
from toolwire._dialects import dialect_for
from toolwire.testing import Fault, RecordedRequest, ScriptedServer, Turn, call

KEY = "sk-apis-0123456789abcdef"


def run(api: str, mode: str, server: ScriptedServer, tools: Tools, **options: Any) -> AgentResult:
    base = server.base_url(api)
    if mode == "sync":
        with Client(api=api, base_url=base, api_key=KEY, backoff=0.01) as client:
            return Agent(client, model="m-1", tools=tools.registry, **options).run("hi")

    async def main() -> AgentResult:
        async with AsyncClient(api=api, base_url=base, api_key=KEY, backoff=0.01) as client:
            return await Agent(client, model="m-1", tools=tools.registry, **options).arun("hi")

    return asyncio.run(main())


def stream_events(api: str, mode: str, server: ScriptedServer, tools: Tools) -> list[Any]:
    base = server.base_url(api)
    if mode == "sync":
        with Client(api=api, base_url=base, api_key=KEY) as client:
            return list(Agent(client, model="m-1", tools=tools.registry).stream("hi"))

    async def main() -> list[Any]:
        async with AsyncClient(api=api, base_url=base, api_key=KEY) as client:
            agent = Agent(client, model="m-1", tools=tools.registry)
            return [e async for e in agent.astream("hi")]

    return asyncio.run(main())


def sent(request: RecordedRequest) -> list[dict[str, Any]]:
    """The canonical transcript a request carried."""
    return request.transcript


# The fixtures every test here takes (see tests/agent_helpers.py), and ``mode``.
api = agent_helpers.api
server = agent_helpers.server


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def assert_no_key(server: ScriptedServer, result: Any) -> None:
    assert KEY not in repr(result) and KEY not in json.dumps(server.errors)


def test_parallel_tools_then_an_answer(api: str, mode: str, server: ScriptedServer) -> None:
    tools = Tools(sleep=0.2)
    server.add(
        Turn(
            "Checking.",
            tool_calls=[call("weather", {"city": "Paris"}), call("weather", {"city": "Oslo"})],
        ),
        Turn("Paris 5, Oslo 4."),
    )
    result = run(api, mode, server, tools)
    (a, b) = sorted(tools.spans)
    assert b[0] < a[1], "the two calls ran one after the other"
    assert server.errors == [] and tools.runs["weather"] == 2
    assert result.text == "Paris 5, Oslo 4." and result.turns == 2
    second = sent(server.requests[1])
    assistant = next(m for m in second if m["role"] == "assistant")
    calls = assistant["tool_calls"]
    assert [json.loads(c["function"]["arguments"]) for c in calls] == [
        {"city": "Paris"},
        {"city": "Oslo"},
    ]
    results = [m for m in second if m["role"] == "tool"]
    assert [m["tool_call_id"] for m in results] == [c["id"] for c in calls]
    assert [json.loads(m["content"]) for m in results] == [
        {"city": "Paris", "temp": 5},
        {"city": "Oslo", "temp": 4},
    ]
    assert_no_key(server, result)


def test_the_transcript_stays_canonical(api: str, server: ScriptedServer) -> None:
    tools = Tools()
    server.add(Turn(tool_calls=[call("lookup", {"q": "x"})]), Turn("done"))
    result = run(api, "sync", server, tools)
    assistant = result.messages[1]
    assert (
        assistant["role"] == "assistant"
        and assistant["tool_calls"][0]["function"]["name"] == "lookup"
    )
    assert ("native" in assistant) == (api != "chat")
    assert result.messages[2]["role"] == "tool"


def test_an_eager_tool_starts_while_the_model_streams(
    api: str, mode: str, server: ScriptedServer
) -> None:
    server.add(
        Turn(
            tool_calls=[call("lookup", {"q": "ab"}), call("weather", {"city": "Rome"})], delay=0.02
        ),
        Turn("ok"),
    )
    events = stream_events(api, mode, server, Tools())
    kinds = [type(e).__name__ for e in events]
    lookup_start = next(
        i for i, e in enumerate(events) if isinstance(e, ToolRunStarted) and e.name == "lookup"
    )
    finish = next(i for i, e in enumerate(events) if isinstance(e, Finish))
    assert lookup_start < finish, kinds
    weather_start = next(
        i for i, e in enumerate(events) if isinstance(e, ToolRunStarted) and e.name == "weather"
    )
    assert weather_start > lookup_start


def test_a_tool_error_goes_back_to_the_model(api: str, mode: str, server: ScriptedServer) -> None:
    server.add(Turn(tool_calls=[call("boom")]), Turn("Sorry."))
    result = run(api, mode, server, Tools())
    assert result.text == "Sorry." and result.tool_runs[0].error is not None
    (tool_message,) = [m for m in sent(server.requests[1]) if m["role"] == "tool"]
    assert "kaput" in tool_message["content"]


def test_a_cut_mid_call_runs_nothing(api: str, mode: str, server: ScriptedServer) -> None:
    tools = Tools()
    server.add(cut_mid_call_turn(api))
    with pytest.raises(TurnFailed) as info:
        run(api, mode, server, tools)
    assert info.value.reason in ("incomplete", "malformed")
    assert tools.runs["weather"] == 0 and tools.runs["boom"] == 0


def test_a_length_end_runs_nothing(api: str, mode: str, server: ScriptedServer) -> None:
    tools = Tools()
    server.add(Turn(tool_calls=[call("weather", {"city": "Paris"})], finish_reason="length"))
    with pytest.raises(TurnFailed) as info:
        run(api, mode, server, tools)
    assert info.value.reason == "length" and tools.runs["weather"] == 0


def test_429_then_success(api: str, mode: str, server: ScriptedServer) -> None:
    server.add(Fault.rate_limit(retry_after=0.0), Turn("fine"))
    result = run(api, mode, server, Tools())
    assert result.text == "fine" and len(server.requests) == 2


def test_usage_totals(api: str, mode: str, server: ScriptedServer) -> None:
    server.add(
        Turn(
            tool_calls=[call("lookup", {"q": "a"})],
            usage={"prompt_tokens": 10, "completion_tokens": 3},
        ),
        Turn("done", usage={"prompt_tokens": 20, "completion_tokens": 5}),
    )
    result = run(api, mode, server, Tools())
    assert result.token_usage == {"input_tokens": 30, "output_tokens": 8, "total_tokens": 38}


def test_an_error_event_mid_stream_runs_nothing(
    api: str, mode: str, server: ScriptedServer
) -> None:
    tools = Tools()
    server.add(
        Turn(
            "Hmm", tool_calls=[call("weather", {"city": "Paris"})], fault=Fault.error_event(after=1)
        )
    )
    with pytest.raises(TurnFailed) as info:
        run(api, mode, server, tools)
    assert info.value.reason == "provider_error" and tools.runs["weather"] == 0
    assert "overloaded" in str(info.value)


def test_overloaded_then_success(api: str, server: ScriptedServer) -> None:
    """Anthropic's 529 (any api's 5xx) is retried before the first byte."""
    server.add(Fault.server_error(529, "Overloaded"), Turn("fine"))
    result = run(api, "sync", server, Tools())
    assert result.text == "fine" and len(server.requests) == 2


def test_a_wrong_key_says_which_variable(api: str, server: ScriptedServer) -> None:
    if api == "ollama":
        pytest.skip("Ollama takes no key")
    server.api_key = KEY
    with (
        Client(api=api, base_url=server.base_url(api), api_key="sk-wrong-key-000") as client,
        pytest.raises(TurnFailed) as info,
    ):
        Agent(client, model="m-1").run("hi")
    text = str(info.value) + str(info.value.__cause__)
    variable = dialect_for(api).key_env[0]
    assert variable in text and "sk-wrong-key-000" not in text and KEY not in text


def test_tools_in_two_turns_answer_the_right_calls(
    api: str, mode: str, server: ScriptedServer
) -> None:
    """Gemini and Ollama send no call ids: every turn's first call is ``call_0`` in the
    transcript, and each result still goes back under its own call's name."""
    server.add(
        Turn(tool_calls=[call("weather", {"city": "Oslo"})]),
        Turn(tool_calls=[call("lookup", {"q": "x"})]),
        Turn("done"),
    )
    result = run(api, mode, server, Tools())
    assert result.text == "done" and server.errors == []
    last = sent(server.requests[2])
    names = {c["id"]: c["function"]["name"] for m in last for c in m.get("tool_calls") or ()}
    answered = [(names[m["tool_call_id"]], m["content"]) for m in last if m["role"] == "tool"]
    assert [name for name, _ in answered] == ["weather", "lookup"]
    assert json.loads(answered[0][1]) == {"city": "Oslo", "temp": 4} and answered[1][1] == "X"


def test_reasoning_goes_back_as_the_api_requires(api: str, server: ScriptedServer) -> None:
    """Thinking blocks with their signature (Anthropic), reasoning items (Responses) and thought
    signatures (Gemini) are sent back unchanged in the next request."""
    server.add(
        Turn(reasoning="Weather first.", tool_calls=[call("lookup", {"q": "a"})]), Turn("ok")
    )
    run(api, "sync", server, Tools())
    body = server.requests[1].body
    if api == "anthropic":
        (assistant,) = [m for m in body["messages"] if m["role"] == "assistant"]
        thinking = assistant["content"][0]
        assert thinking["type"] == "thinking" and thinking["thinking"] == "Weather first."
        assert thinking["signature"]
    elif api == "responses":
        (reasoning,) = [i for i in body["input"] if i.get("type") == "reasoning"]
        assert (
            reasoning["id"].startswith("rs_")
            and reasoning["summary"][0]["text"] == "Weather first."
        )
    elif api == "gemini":
        (model,) = [c for c in body["contents"] if c["role"] == "model"]
        assert any(p.get("thoughtSignature") for p in model["parts"])
    elif api == "ollama":
        (assistant,) = [m for m in body["messages"] if m["role"] == "assistant"]
        assert assistant["thinking"] == "Weather first."
    else:  # chat sends no reasoning back (keep_reasoning=False)
        assert "reasoning_content" not in json.dumps(body)
