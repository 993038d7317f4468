"""The agent loop end to end against toolwire.testing: concurrency, eager tools, transcript
threading, turn endings, every injected fault (typed error, nothing run twice, nothing parsed
lost), sync and async."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from tests.agent_helpers import function_call
from toolwire import (
    Agent,
    AgentResult,
    AsyncClient,
    AuthenticationError,
    Client,
    Finish,
    IncompleteStream,
    MalformedStream,
    MaxTurnsExceeded,
    RunFinished,
    StreamProviderError,
    StreamStalled,
    TextDelta,
    ToolCallDelta,
    ToolCallFinished,
    ToolRegistry,
    ToolRunFinished,
    ToolRunStarted,
    TurnFailed,
    TurnFinished,
    TurnStarted,
)
from toolwire.testing import Fault, RecordedRequest, ScriptedServer, Turn, call

KEY = "sk-agent-test"


class Tools:
    """A registry whose tools count their runs (thread-safe)."""

    def __init__(self, sleep: float = 0.0) -> None:
        self.runs: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.started_at: dict[str, float] = {}
        self.registry = ToolRegistry()
        registry = self.registry

        @registry.tool
        def slow(n: int) -> dict[str, int]:
            """Takes a while."""
            self._count("slow")
            time.sleep(sleep)
            return {"n": n}

        @registry.tool
        async def aslow(n: int) -> dict[str, int]:
            """Takes a while, cooperatively."""
            self._count("aslow")
            await asyncio.sleep(sleep)
            return {"n": n}

        @registry.tool(eager=True)
        def lookup(q: str) -> str:
            """Side-effect free lookup."""
            self._count("lookup")
            self.started_at["lookup"] = time.monotonic()
            return q.upper()

        @registry.tool
        def boom() -> None:
            """Always fails."""
            self._count("boom")
            raise RuntimeError("kaput")

    def _count(self, name: str) -> None:
        with self.lock:
            self.runs[name] += 1


def agent_for(server: ScriptedServer, tools: Tools, **options: Any) -> Agent:
    client = Client(
        base_url=server.url,
        api_key=KEY,
        backoff=0.01,
        stall_timeout=options.pop("stall_timeout", 5.0),
    )
    return Agent(client, model="m", tools=tools.registry, **options)


def run_sync(
    server: ScriptedServer, tools: Tools, messages: Any = "hi", **options: Any
) -> AgentResult:
    agent = agent_for(server, tools, **options)
    try:
        return agent.run(messages)
    finally:
        assert isinstance(agent.client, Client)
        agent.client.close()


def run_async(
    server: ScriptedServer, tools: Tools, messages: Any = "hi", **options: Any
) -> AgentResult:
    async def main() -> AgentResult:
        stall = options.pop("stall_timeout", 5.0)
        async with AsyncClient(
            base_url=server.url, api_key=KEY, backoff=0.01, stall_timeout=stall
        ) as client:
            return await Agent(client, model="m", tools=tools.registry, **options).arun(messages)

    return asyncio.run(main())


RUNNERS = {"sync": run_sync, "async": run_async}


def events_sync(server: ScriptedServer, tools: Tools, messages: Any = "hi") -> list[Any]:
    agent = agent_for(server, tools)
    try:
        return list(agent.stream(messages))
    finally:
        assert isinstance(agent.client, Client)
        agent.client.close()


def events_async(server: ScriptedServer, tools: Tools, messages: Any = "hi") -> list[Any]:
    async def main() -> list[Any]:
        async with AsyncClient(base_url=server.url, api_key=KEY, backoff=0.01) as client:
            agent = Agent(client, model="m", tools=tools.registry)
            return [e async for e in agent.astream(messages)]

    return asyncio.run(main())


EVENT_RUNNERS = {"sync": events_sync, "async": events_async}


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with ScriptedServer() as s:
        yield s


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


# -- concurrency -------------------------------------------------------------------------------


def test_the_tools_of_a_turn_run_concurrently(server: ScriptedServer, mode: str) -> None:
    """Causal, not timed: each tool waits until all three are running at once, which only
    happens if the agent started them together (a sequential agent would time the first out)."""
    running = 0
    peak = 0
    lock = threading.Lock()
    registry = ToolRegistry()

    def enter() -> None:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)

    def all_in() -> bool:
        with lock:
            return peak >= 3

    def leave() -> None:
        nonlocal running
        with lock:
            running -= 1

    @registry.tool
    def meet(n: int) -> int:
        """Waits for the others in a thread."""
        enter()
        deadline = time.monotonic() + 20
        while not all_in() and time.monotonic() < deadline:
            time.sleep(0.002)
        leave()
        return n

    @registry.tool
    async def ameet(n: int) -> int:
        """Waits for the others in a task."""
        enter()
        deadline = time.monotonic() + 20
        while not all_in() and time.monotonic() < deadline:
            await asyncio.sleep(0.002)
        leave()
        return n

    name = "meet" if mode == "sync" else "ameet"
    server.add(
        Turn(tool_calls=[call(name, {"n": 1}), call(name, {"n": 2}), call("meet", {"n": 3})]),
        Turn("done"),
    )
    tools = Tools()
    tools.registry = registry
    result = RUNNERS[mode](server, tools)
    assert peak == 3
    assert [r.result for r in result.tool_runs] == [1, 2, 3]
    assert result.text == "done" and result.turns == 2


def test_results_are_appended_in_call_order(server: ScriptedServer) -> None:
    registry = ToolRegistry()

    @registry.tool
    def wait(ms: int) -> int:
        time.sleep(ms / 1000)
        return ms

    server.add(
        Turn(
            tool_calls=[
                call("wait", {"ms": 200}, id="a"),
                call("wait", {"ms": 10}, id="b"),
                call("wait", {"ms": 100}, id="c"),
            ]
        ),
        Turn("ok"),
    )
    finished_order: list[str] = []
    with Client(base_url=server.url, api_key=KEY) as client:
        for event in Agent(client, model="m", tools=registry).stream("go"):
            if isinstance(event, ToolRunFinished):
                finished_order.append(event.run.call_id)
            if isinstance(event, RunFinished):
                result = event.result
    assert finished_order == ["b", "c", "a"]  # events come as tools finish ...
    tool_messages = [m for m in result.messages if m["role"] == "tool"]
    assert [m["tool_call_id"] for m in tool_messages] == [
        "a",
        "b",
        "c",
    ]  # ... the transcript in call order
    assert [m["content"] for m in tool_messages] == ["200", "10", "100"]
    assert [r.call_id for r in result.tool_runs] == ["a", "b", "c"]


# -- eager tools -------------------------------------------------------------------------------


def test_eager_tool_starts_while_the_model_streams(server: ScriptedServer, mode: str) -> None:
    tools = Tools()
    server.add(
        Turn(
            tool_calls=[call("lookup", {"q": "chair"}, id="e"), call("slow", {"n": 1}, id="s")],
            delay=0.02,
        ),
        Turn("ok"),
    )
    events = EVENT_RUNNERS[mode](server, tools)
    order = [
        ("eager" if e.eager else "normal") if isinstance(e, ToolRunStarted) else "finish"
        for e in events
        if isinstance(e, (ToolRunStarted, Finish))
    ]
    # Causal, not timed: the eager run was launched before the model's turn ended (its Finish
    # event), the other one after it.
    assert order[:3] == ["eager", "finish", "normal"], order
    result = events[-1].result
    eager, normal = result.tool_runs
    assert eager.eager and not normal.eager
    assert eager.result == "CHAIR"
    assert tools.runs == Counter({"lookup": 1, "slow": 1})


def test_event_stream_shape(server: ScriptedServer) -> None:
    tools = Tools()
    server.add(
        Turn(
            "Let me look.",
            tool_calls=[call("lookup", {"q": "x"}), call("slow", {"n": 2})],
            delay=0.005,
        ),
        Turn("Found it."),
    )
    with Client(base_url=server.url, api_key=KEY) as client:
        events = list(Agent(client, model="m", tools=tools.registry).stream("q"))
    kinds = [type(e).__name__ for e in events]
    assert kinds[0] == "TurnStarted" and kinds[-1] == "RunFinished" and kinds[-2] == "TurnFinished"
    assert kinds.count("TurnStarted") == 2 and kinds.count("TurnFinished") == 2
    started = [e for e in events if isinstance(e, ToolRunStarted)]
    assert [(s.name, s.eager, s.arguments) for s in started] == [
        ("lookup", True, {"q": "x"}),
        ("slow", False, {"n": 2}),
    ]
    eager_start = events.index(started[0])
    finish = next(i for i, e in enumerate(events) if isinstance(e, Finish))
    assert eager_start < finish  # started before the model's turn was over
    assert any(isinstance(e, ToolCallDelta) for e in events)
    first_turn_end = next(e for e in events if isinstance(e, TurnFinished))
    assert [r.name for r in first_turn_end.tool_runs] == ["lookup", "slow"]
    assert all(e.duration_ms >= 0 for e in events if isinstance(e, ToolRunFinished))
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert text == "Let me look.Found it."
    assert isinstance(events[0], TurnStarted) and events[0].turn == 1


def test_eager_run_is_dropped_when_the_arguments_change_after_ready(server: ScriptedServer) -> None:
    tools = Tools()
    # The arguments close as a JSON value, then garbage follows: the call is malformed.
    server.add(
        Turn(tool_calls=[call("lookup", '{"q": "a"} trailing', id="x")], delay=0.01), Turn("ok")
    )
    result = run_sync(server, tools)
    (run,) = result.tool_runs
    assert run.error is not None and run.error.kind == "invalid_arguments"
    assert "not valid JSON" in run.error.message
    assert tools.runs["lookup"] == 1  # it ran early, its result was not used


# -- transcript threading ----------------------------------------------------------------------


def test_second_request_threads_the_transcript(server: ScriptedServer, mode: str) -> None:
    tools = Tools()
    server.add(
        Turn(
            "Let me check both.",
            tool_calls=[call("lookup", {"q": "a"}, id="c1"), call("slow", {"n": 7}, id="c2")],
        ),
        Turn("All set."),
    )
    result = RUNNERS[mode](
        server, tools, [{"role": "user", "content": "check a and 7"}], system="Be brief."
    )
    first, second = server.requests
    expected_head = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "check a and 7"},
    ]
    assert first.messages == expected_head
    assert first.tools == tools.registry.schemas()
    assert second.messages == [
        *expected_head,
        {
            "role": "assistant",
            "content": "Let me check both.",
            "tool_calls": [
                function_call("c1", "lookup", '{"q": "a"}'),
                function_call("c2", "slow", '{"n": 7}'),
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "A"},
        {"role": "tool", "tool_call_id": "c2", "content": '{"n":7}'},
    ]
    assert result.messages == [*second.messages, {"role": "assistant", "content": "All set."}]
    usage = result.usage
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"] > 0


def test_usage_is_summed_over_turns(server: ScriptedServer) -> None:
    usage = {
        "prompt_tokens": 10,
        "completion_tokens": 5,
        "total_tokens": 15,
        "completion_tokens_details": {"reasoning_tokens": 2},
    }
    server.add(
        Turn(tool_calls=[call("lookup", {"q": "a"})], usage=usage), Turn("done", usage=usage)
    )
    result = run_sync(server, Tools())
    assert result.usage == {
        "prompt_tokens": 20,
        "completion_tokens": 10,
        "total_tokens": 30,
        "completion_tokens_details": {"reasoning_tokens": 4},
    }


def test_continuing_a_conversation_does_not_duplicate_the_system_prompt(
    server: ScriptedServer,
) -> None:
    server.add(Turn("first"), Turn("second"))
    result = run_sync(server, Tools(), "one", system="sys")
    follow_up = [*result.messages, {"role": "user", "content": "two"}]
    again = run_sync(server, Tools(), follow_up, system="sys")
    assert [m["role"] for m in again.messages] == [
        "system",
        "user",
        "assistant",
        "user",
        "assistant",
    ]


# -- how a run ends ----------------------------------------------------------------------------


def test_preamble_then_calls_does_not_end_the_run(server: ScriptedServer) -> None:
    tools = Tools()
    server.add(
        Turn("I will look it up.", tool_calls=[call("lookup", {"q": "a"})]), Turn("Here it is.")
    )
    result = run_sync(server, tools)
    assert result.turns == 2 and result.text == "Here it is." and tools.runs["lookup"] == 1


def test_text_only_turn_ends_the_run(server: ScriptedServer) -> None:
    server.add(Turn("Just text."), Turn("never requested"))
    result = run_sync(server, Tools())
    assert result.turns == 1 and result.text == "Just text." and result.tool_runs == []
    assert server.remaining == 1


def test_stop_reason_with_calls_still_runs_them(server: ScriptedServer) -> None:
    tools = Tools()
    server.add(Turn(tool_calls=[call("lookup", {"q": "a"})], finish_reason="stop"), Turn("ok"))
    result = run_sync(server, tools)
    assert tools.runs["lookup"] == 1 and result.turns == 2


def test_done_without_finish_reason_is_a_complete_turn(server: ScriptedServer) -> None:
    tools = Tools()
    server.add(Turn(tool_calls=[call("slow", {"n": 1})], finish_reason=None), Turn("ok"))
    result = run_sync(server, tools)
    assert tools.runs["slow"] == 1 and result.text == "ok"


def test_tool_errors_go_back_to_the_model(server: ScriptedServer) -> None:
    tools = Tools()

    def sees_errors(request: RecordedRequest) -> bool:
        contents = [m["content"] for m in request.messages if m["role"] == "tool"]
        return (
            '"unknown_tool"' in contents[0]
            and '"invalid_arguments"' in contents[1]
            and "kaput" in contents[2]
        )

    server.add(
        Turn(tool_calls=[call("nope", {}), call("slow", {"n": "not a number"}), call("boom")]),
        Turn("Sorry, that failed.", expect=sees_errors),
    )
    result = run_sync(server, tools)
    assert [r.error.kind if r.error else None for r in result.tool_runs] == [
        "unknown_tool",
        "invalid_arguments",
        "exception",
    ]
    assert result.text == "Sorry, that failed."


def test_max_turns_raises_with_the_transcript(server: ScriptedServer) -> None:
    tools = Tools()
    server.add(*[Turn(tool_calls=[call("lookup", {"q": str(i)})]) for i in range(3)])
    with pytest.raises(MaxTurnsExceeded) as err:
        run_sync(server, tools, max_turns=3)
    assert tools.runs["lookup"] == 3
    assert [m["role"] for m in err.value.messages].count("tool") == 3
    assert (
        err.value.result is not None
        and err.value.result.turns == 3
        and len(err.value.result.tool_runs) == 3
    )
    assert "max_turns=3" in str(err.value)


# -- faults: typed, retryable, nothing run twice, nothing parsed lost --------------------------


def faulty(**options: Any) -> Turn:
    """A preamble and two calls; the fault or finish reason comes from ``options``."""
    return Turn(
        "Let me check.",
        tool_calls=[call("slow", {"n": 1}, id="c1"), call("boom", id="c2")],
        **options,
    )


@pytest.mark.parametrize(
    ("turn", "reason", "cause"),
    [
        (faulty(fault=Fault.cut(after=8)), "incomplete", IncompleteStream),
        (faulty(fault=Fault.stall(after=8, seconds=5)), "stalled", StreamStalled),
        (faulty(fault=Fault.malformed(after=8)), "malformed", MalformedStream),
        (faulty(fault=Fault.error_event(after=8)), "provider_error", StreamProviderError),
        (faulty(finish_reason="length"), "length", type(None)),
        (faulty(finish_reason="content_filter"), "content_filter", type(None)),
        # A reason the core does not know as a normal end: the calls may be cut short.
        (faulty(finish_reason="insufficient_system_resource"), "other", type(None)),
    ],
    ids=["cut", "stall", "malformed", "error_event", "length", "content_filter", "other"],
)
def test_bad_turn_runs_no_tool_and_keeps_what_was_parsed(
    server: ScriptedServer, mode: str, turn: Turn, reason: str, cause: type
) -> None:
    tools = Tools()
    server.add(turn)
    with pytest.raises(TurnFailed) as err:
        RUNNERS[mode](server, tools, "check", stall_timeout=0.3)
    failure = err.value
    assert failure.reason == reason and failure.retryable and failure.turn == 1
    assert isinstance(failure.__cause__, cause)
    assert sum(tools.runs.values()) == 0
    assert failure.messages == [{"role": "user", "content": "check"}]
    assert (
        failure.partial_message is not None
        and failure.partial_message["content"] == "Let me check."
    )
    assert failure.partial_message["tool_calls"][0]["id"] == "c1"
    assert failure.result is not None and failure.result.tool_runs == []
    assert len(server.requests) == 1

    # Retrying from err.messages runs each tool exactly once.
    server.add(faulty(), Turn("Done."))
    again = RUNNERS[mode](server, tools, failure.messages)
    assert again.text == "Done." and tools.runs == Counter({"slow": 1, "boom": 1})


def test_failure_in_a_later_turn_keeps_earlier_tool_runs(server: ScriptedServer) -> None:
    tools = Tools()
    server.add(
        Turn(tool_calls=[call("slow", {"n": 1}, id="t1")]),
        Turn("Next I", tool_calls=[call("slow", {"n": 2}, id="t2")], fault=Fault.cut(after=4)),
    )
    with pytest.raises(TurnFailed) as err:
        run_sync(server, tools)
    assert err.value.turn == 2 and err.value.reason == "incomplete"
    assert tools.runs["slow"] == 1
    assert [m["role"] for m in err.value.messages] == ["user", "assistant", "tool"]
    assert err.value.result is not None and [r.call_id for r in err.value.result.tool_runs] == [
        "t1"
    ]
    server.add(Turn("Finished."))
    result = run_sync(server, tools, err.value.messages)
    assert result.text == "Finished." and tools.runs["slow"] == 1


def test_eager_runs_of_a_failed_turn_are_dropped(server: ScriptedServer, mode: str) -> None:
    tools = Tools()
    server.add(
        Turn(
            tool_calls=[call("lookup", {"q": "a"}), call("slow", {"n": 1})],
            finish_reason="length",
            delay=0.01,
        )
    )
    with pytest.raises(TurnFailed) as err:
        RUNNERS[mode](server, tools)
    assert err.value.reason == "length" and tools.runs["slow"] == 0
    assert err.value.messages == [
        {"role": "user", "content": "hi"}
    ]  # the eager result is not in it


def test_error_after_the_finish_reason_keeps_the_turn(server: ScriptedServer) -> None:
    tools = Tools()
    # The error object comes after the finish reason (before the usage chunk and [DONE]): the
    # model's message was complete, so its calls run.
    turn = Turn(
        tool_calls=[call("lookup", {"q": "a"})], delay=0.05, fault=Fault.error_event(after=-2)
    )
    server.add(turn, Turn("ok"))
    result = run_sync(server, tools)
    assert result.text == "ok" and tools.runs["lookup"] == 1


def test_malformed_chunk_before_the_finish_fails_the_turn(server: ScriptedServer) -> None:
    tools = Tools()
    # A lost chunk may have held a piece of the arguments: the finish that follows does not help.
    server.add(Turn(tool_calls=[call("slow", {"n": 1})], fault=Fault.malformed(after=2)))
    with pytest.raises(TurnFailed) as err:
        run_sync(server, tools)
    assert err.value.reason == "malformed" and tools.runs["slow"] == 0


def test_retries_before_the_first_byte_inside_the_agent(server: ScriptedServer, mode: str) -> None:
    tools = Tools()
    server.add(
        Fault.rate_limit(retry_after=0.01),
        Fault.server_error(),
        Turn(tool_calls=[call("slow", {"n": 1})]),
        Fault.disconnect(),
        Turn("ok"),
    )
    result = RUNNERS[mode](server, tools)
    assert result.text == "ok" and tools.runs["slow"] == 1 and len(server.requests) == 5


def test_api_errors_become_turn_failures(server: ScriptedServer) -> None:
    server.add(Fault.status_code(401, "bad key"))
    with pytest.raises(TurnFailed) as err:
        run_sync(server, Tools())
    assert err.value.reason == "api_error" and not err.value.retryable
    assert isinstance(err.value.__cause__, AuthenticationError)
    assert err.value.partial_message is None


def test_client_kind_must_match_the_method(server: ScriptedServer) -> None:
    with Client(base_url=server.url) as client:
        agent = Agent(client, model="m")
        with pytest.raises(TypeError, match="AsyncClient"):
            asyncio.run(agent.arun("x"))
    with pytest.raises(ValueError, match="max_turns"):
        Agent(client, model="m", max_turns=0)


def test_reasoning_is_kept_out_of_the_transcript_unless_asked(server: ScriptedServer) -> None:
    server.add(Turn("answer", reasoning="thinking..."), Turn("answer", reasoning="thinking..."))
    assert run_sync(server, Tools()).messages[-1] == {"role": "assistant", "content": "answer"}
    kept = run_sync(server, Tools(), keep_reasoning=True).messages[-1]
    assert kept["reasoning_content"] == "thinking..."


def test_tool_call_finished_events_are_passed_through(server: ScriptedServer) -> None:
    server.add(Turn(tool_calls=[call("lookup", {"q": "a"})]), Turn("ok"))
    with Client(base_url=server.url, api_key=KEY) as client:
        events = list(Agent(client, model="m", tools=Tools().registry).stream("x"))
    assert [e.parsed for e in events if isinstance(e, ToolCallFinished)] == [{"q": "a"}]
