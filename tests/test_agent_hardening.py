"""The agent and the registry under hostile input (issue 8, items 3, 4, 5, 6 and 10).

A failed turn keeps track of the tools that ran; arguments the core rejected never run and no
argument text makes ``ToolRegistry.run`` raise; tool messages answer the id the call finally has;
the tools of one turn share a bounded number of threads/tasks. Sync and async alike.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from toolwire import (
    Agent,
    AgentError,
    AgentResult,
    AsyncClient,
    Client,
    Finish,
    ParseError,
    ToolCallReady,
    ToolRegistry,
    TurnFailed,
)
from toolwire.testing import Fault, ScriptedServer, Turn, call

KEY = "sk-hardening"

Batch = list[Any]
Inject = Callable[[Batch], BaseException | None]


class Tools:
    """Tools that count their runs: ``act`` has side effects, ``peek`` is eager."""

    def __init__(self) -> None:
        self.runs: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.registry = ToolRegistry()
        registry = self.registry

        @registry.tool
        def act(n: int = 0) -> str:
            """Has a side effect."""
            self._count("act")
            return f"acted {n}"

        @registry.tool(eager=True)
        def peek(q: str = "") -> str:
            """Side-effect free."""
            self._count("peek")
            return q.upper()

        @registry.tool
        def take(x: Any = None) -> str:
            """Takes anything."""
            self._count("take")
            return "taken"

        @registry.tool(eager=True)
        def etake(x: Any = None) -> str:
            """Takes anything, eagerly."""
            self._count("etake")
            return "taken"

    def _count(self, name: str) -> None:
        with self.lock:
            self.runs[name] += 1


def _patch_sync(client: Client, inject: Inject) -> None:
    """After each batch the agent consumed, ``inject`` may return an exception to raise from
    the stream, as a broken client, stream or core would."""
    real = client.stream_chat

    def stream_chat(**request: Any) -> Any:
        stream = real(**request)
        batches = stream.iter_batches

        def iter_batches() -> Iterator[Batch]:
            for batch in batches():
                yield batch
                exc = inject(batch)
                if exc is not None:
                    raise exc

        stream.iter_batches = iter_batches  # type: ignore[method-assign]
        return stream

    client.stream_chat = stream_chat  # type: ignore[method-assign]


def _patch_async(client: AsyncClient, inject: Inject) -> None:
    real = client.stream_chat

    def stream_chat(**request: Any) -> Any:
        stream = real(**request)
        batches = stream.aiter_batches

        async def aiter_batches() -> AsyncIterator[Batch]:
            async for batch in batches():
                yield batch
                exc = inject(batch)
                if exc is not None:
                    raise exc

        stream.aiter_batches = aiter_batches  # type: ignore[method-assign]
        return stream

    client.stream_chat = stream_chat  # type: ignore[method-assign]


def run(
    mode: str,
    server: ScriptedServer,
    registry: ToolRegistry,
    messages: Any = "hi",
    *,
    inject: Inject | None = None,
    **options: Any,
) -> AgentResult:
    stall = options.pop("stall_timeout", 5.0)
    if mode == "sync":
        with Client(base_url=server.url, api_key=KEY, backoff=0.01, stall_timeout=stall) as client:
            if inject is not None:
                _patch_sync(client, inject)
            return Agent(client, model="m", tools=registry, **options).run(messages)

    async def main() -> AgentResult:
        async with AsyncClient(
            base_url=server.url, api_key=KEY, backoff=0.01, stall_timeout=stall
        ) as client:
            if inject is not None:
                _patch_async(client, inject)
            return await Agent(client, model="m", tools=registry, **options).arun(messages)

    return asyncio.run(main())


def once(exc: BaseException, when: Callable[[Batch], bool]) -> Inject:
    """Raises ``exc`` after the first batch for which ``when`` holds (one time only)."""
    fired = False

    def inject(batch: Batch) -> BaseException | None:
        nonlocal fired
        if not fired and when(batch):
            fired = True
            return exc
        return None

    return inject


def has(kind: type) -> Callable[[Batch], bool]:
    return lambda batch: any(isinstance(e, kind) for e in batch)


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with ScriptedServer() as s:
        yield s


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def tool_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m for m in messages if m.get("role") == "tool"]


# -- item 3: a failed turn never loses track of tools that already ran --------------------------


def test_exception_after_the_finish_keeps_the_tools_that_ran(
    server: ScriptedServer, mode: str
) -> None:
    # The side-effecting tool starts at the finish reason; the stream then raises (as a bad
    # usage chunk did). The error carries the whole turn, so a retry does not run it again.
    tools = Tools()
    server.add(Turn("On it.", tool_calls=[call("act", {"n": 1}, id="a1")]))
    boom = RuntimeError("bad usage chunk")
    with pytest.raises(AgentError) as err:
        run(mode, server, tools.registry, inject=once(boom, has(Finish)))
    failure = err.value
    assert failure.__cause__ is boom
    assert tools.runs == Counter({"act": 1})
    assert [m["role"] for m in failure.messages] == ["user", "assistant", "tool"]
    assert failure.messages[1]["tool_calls"][0]["id"] == "a1"
    assert failure.messages[2] == {"role": "tool", "tool_call_id": "a1", "content": "acted 1"}
    assert failure.result is not None
    assert [(r.name, r.call_id, r.turn) for r in failure.result.tool_runs] == [("act", "a1", 1)]
    assert "act" in str(failure)

    server.add(Turn("Done."))
    again = run(mode, server, tools.registry, failure.messages)
    assert again.text == "Done." and tools.runs == Counter({"act": 1})


@pytest.mark.parametrize(
    ("exc", "reason"),
    [(RuntimeError("surprise"), "exception"), (ParseError("bad bytes"), "malformed")],
    ids=["plain", "toolwire"],
)
def test_exception_mid_turn_is_a_turn_failure_with_the_eager_runs(
    server: ScriptedServer, mode: str, exc: BaseException, reason: str
) -> None:
    tools = Tools()
    # No finish reason and no [DONE]: however the reads fall, the model never ends this turn
    # before the exception, so only the eager tool may run.
    calls = [call("peek", {"q": "a"}, id="p1"), call("act", {"n": 1}, id="a1")]
    server.add(Turn(tool_calls=calls, finish_reason=None, done=False))
    with pytest.raises(TurnFailed) as err:
        run(mode, server, tools.registry, inject=once(exc, has(ToolCallReady)))
    failure = err.value
    assert failure.__cause__ is exc and failure.reason == reason and failure.turn == 1
    assert failure.messages == [{"role": "user", "content": "hi"}]  # no half-done turn
    assert failure.result is not None
    assert [(r.name, r.call_id, r.eager) for r in failure.result.tool_runs] == [
        ("peek", "p1", True)
    ]
    assert tools.runs == Counter({"peek": 1})


def test_exception_before_the_stream_opens_is_a_turn_failure(
    server: ScriptedServer, mode: str
) -> None:
    tools = Tools()
    server.add(Turn(tool_calls=[call("act", {"n": 1}, id="a1")]), Turn("ok"))
    result = run(mode, server, tools.registry)
    oops = TypeError("no such request field")
    registry = tools.registry
    with pytest.raises(TurnFailed) as err:
        # A client whose stream_chat itself raises, in the second turn.
        if mode == "sync":
            with Client(base_url=server.url, api_key=KEY) as client:

                def broken(**request: Any) -> Any:
                    raise oops

                client.stream_chat = broken  # type: ignore[method-assign]
                Agent(client, model="m", tools=registry).run(result.messages)
        else:

            async def main() -> None:
                async with AsyncClient(base_url=server.url, api_key=KEY) as client:

                    def broken(**request: Any) -> Any:
                        raise oops

                    client.stream_chat = broken  # type: ignore[method-assign]
                    await Agent(client, model="m", tools=registry).arun(result.messages)

            asyncio.run(main())
    assert err.value.__cause__ is oops and err.value.messages == result.messages
    assert err.value.partial_message is None


@pytest.mark.parametrize(
    "usage",
    [
        '{"a":' * 100_000 + "1" + "}" * 100_000,
        '{"prompt_tokens": ' + "9" * 5000 + "}",
    ],
    ids=["depth-100000", "5000-digits"],
)
def test_bad_usage_chunk_from_the_server_never_escapes_bare(mode: str, usage: str) -> None:
    # Before the hardening, feed() raised RecursionError/ValueError on these and the run died
    # bare. Now the core may ignore such a usage or raise one of its own errors (the client
    # reports it at the end of the stream; if it came in the read that held the finish reason,
    # the turn fails as malformed before any tool ran). Whatever happens, the run never
    # crashes bare and the side-effecting tool runs exactly once over the run and its retry.
    tools = Tools()

    def respond(request: Any) -> Turn:
        if request.messages[-1]["role"] == "tool":
            return Turn("Done.")
        return Turn(tool_calls=[call("act", {"n": 1}, id="a1")], usage=usage)

    with ScriptedServer(respond) as server:
        try:
            result = run(mode, server, tools.registry)
        except AgentError as err:
            assert err.__cause__ is not None
            answered = tool_messages(err.messages)
            # Either the tool ran and its answer is in the transcript, or it did not run.
            assert (tools.runs["act"], answered) in [
                (1, [{"role": "tool", "tool_call_id": "a1", "content": "acted 1"}]),
                (0, []),
            ]
            result = run(mode, server, tools.registry, err.messages)
    assert result.text == "Done." and tools.runs == Counter({"act": 1})


def test_usage_that_is_not_a_dict_of_numbers_is_ignored(server: ScriptedServer, mode: str) -> None:
    tools = Tools()
    odd = json.dumps(
        {"prompt_tokens": 3, "note": "x", "list": [1], "flag": True, "nested": {"a": 2, "b": "y"}}
    )
    server.add(
        Turn(tool_calls=[call("act", {"n": 1})], usage="5"),
        Turn(tool_calls=[call("act", {"n": 2})], usage="null"),
        Turn("Done.", usage=odd),
    )
    result = run(mode, server, tools.registry)
    assert result.text == "Done."
    assert result.usage == {"prompt_tokens": 3, "nested": {"a": 2}}


# -- item 4: the core's verdict on the arguments is the authority --------------------------------

DEEP = "[" * 100_000 + "]" * 100_000
HOSTILE = [
    pytest.param('{"x": NaN}', "not valid JSON", id="nan"),
    pytest.param('{"x": Infinity}', "not valid JSON", id="infinity"),
    pytest.param('{"x": ' + "[" * 600 + "]" * 600 + "}", "", id="depth-600"),
    pytest.param('{"x": ' + DEEP + "}", "", id="depth-100000"),
    pytest.param(DEEP, "", id="bare-depth-100000"),
    pytest.param('{"x": ' + "7" * 5000 + "}", "could not be represented", id="5000-digits"),
    pytest.param('{"x": 1} trailing', "not valid JSON", id="trailing"),
    pytest.param('{"x": "cut', "not valid JSON", id="incomplete"),
]


def arguments_id(arguments: str) -> str:
    return "depth" if arguments.count("[") > 512 else "other"


@pytest.mark.parametrize(("arguments", "fragment"), HOSTILE)
def test_registry_run_never_raises_and_never_runs_rejected_arguments(
    arguments: str, fragment: str
) -> None:
    tools = Tools()
    runs = [
        tools.registry.run("take", arguments, call_id="c"),
        asyncio.run(tools.registry.arun("take", arguments, call_id="c")),
    ]
    for tool_run in runs:
        assert tool_run.error is not None and tool_run.error.kind == "invalid_arguments"
        assert fragment in tool_run.error.message
        assert json.loads(tool_run.content)["error"]["type"] == "invalid_arguments"
        assert tool_run.call_id == "c"
    assert sum(tools.runs.values()) == 0


def test_registry_run_still_reads_good_arguments() -> None:
    tools = Tools()
    assert tools.registry.run("take", '{"x": [1, {"y": null}]}').result == "taken"
    assert tools.registry.run("take", "  ").result == "taken"  # empty arguments are {}
    number = tools.registry.run("take", "1")
    assert number.error is not None and "must be a JSON object" in number.error.message
    assert tools.registry.run("nope", DEEP).error.kind == "unknown_tool"  # type: ignore[union-attr]


@pytest.mark.parametrize(("arguments", "fragment"), HOSTILE)
def test_agent_never_executes_arguments_the_core_rejected(
    server: ScriptedServer, mode: str, arguments: str, fragment: str
) -> None:
    tools = Tools()

    def sees_two_errors(request: Any) -> bool:
        contents = [json.loads(m["content"]) for m in tool_messages(request.messages)]
        return [c["error"]["type"] for c in contents] == ["invalid_arguments"] * 2

    server.add(
        Turn(tool_calls=[call("take", arguments, id="t1"), call("etake", arguments, id="t2")]),
        Turn("Sorry.", expect=sees_two_errors),
    )
    try:
        result = run(mode, server, tools.registry)
    except TurnFailed as err:
        # Nesting over the core's depth limit is also a limit hit while reading the stream
        # (LimitExceeded from feed): the turn fails as malformed. Nothing ran either way.
        assert "depth" in arguments_id(arguments) and err.reason == "malformed", err
        assert sum(tools.runs.values()) == 0 and err.result.tool_runs == []
        return
    assert result.text == "Sorry." and sum(tools.runs.values()) == 0
    assert [r.call_id for r in result.tool_runs] == ["t1", "t2"]
    for tool_run in result.tool_runs:
        assert tool_run.error is not None and tool_run.error.kind == "invalid_arguments"
        assert fragment in tool_run.error.message


# -- item 5: eager tools answer the id the call finally has --------------------------------------


def test_tool_messages_answer_the_final_ids(server: ScriptedServer, mode: str) -> None:
    tools = Tools()
    server.add(
        Turn(
            tool_calls=[
                call("peek", {"q": "a"}, id_placement="none"),
                call("peek", {"q": "b"}, id="late-1", id_placement="after_arguments"),
                call("act", {"n": 1}, id_placement="none"),
                call("act", {"n": 2}, id="late-2", id_placement="after_arguments"),
                call("peek", {"q": "c"}, id="p3"),
            ],
            delay=0.005,
        ),
        Turn("ok"),
    )
    result = run(mode, server, tools.registry)
    assistant, *answers = server.requests[1].messages[1:]
    ids = [c["id"] for c in assistant["tool_calls"]]
    assert ids[1] == "late-1" and ids[3] == "late-2" and ids[4] == "p3"
    assert all(ids) and len(set(ids)) == 5
    assert [m["tool_call_id"] for m in answers] == ids
    assert [m["content"] for m in answers] == ["A", "B", "acted 1", "acted 2", "C"]
    assert [r.call_id for r in result.tool_runs] == ids
    assert tools.runs == Counter({"peek": 3, "act": 2})


# -- item 6: a failed turn says which eager tools ran --------------------------------------------


@pytest.mark.parametrize(
    "options",
    [{"finish_reason": "length"}, {"fault": Fault.cut(after=-3)}],
    ids=["length", "cut"],
)
def test_failed_turn_reports_the_eager_runs(
    server: ScriptedServer, mode: str, options: dict[str, Any]
) -> None:
    tools = Tools()
    server.add(
        Turn(
            "Looking.",
            tool_calls=[call("peek", {"q": "a"}, id="p1"), call("act", {"n": 1}, id="a1")],
            delay=0.005,
            **options,
        )
    )
    with pytest.raises(TurnFailed) as err:
        run(mode, server, tools.registry)
    failure = err.value
    assert tools.runs == Counter({"peek": 1})
    assert "none of its tool calls ran" not in str(failure)
    assert "peek" in str(failure) and "act" not in str(failure).split(";", 1)[1]
    assert failure.messages == [{"role": "user", "content": "hi"}]
    assert failure.result is not None
    (peek,) = failure.result.tool_runs
    assert (peek.name, peek.call_id, peek.eager, peek.turn, peek.result) == (
        "peek",
        "p1",
        True,
        1,
        "A",
    )


def test_failed_turn_without_eager_runs_says_none_ran(server: ScriptedServer, mode: str) -> None:
    tools = Tools()
    server.add(Turn(tool_calls=[call("act", {"n": 1})], finish_reason="length"))
    with pytest.raises(TurnFailed) as err:
        run(mode, server, tools.registry)
    assert "none of its tool calls ran" in str(err.value)
    assert err.value.result is not None and err.value.result.tool_runs == []


# -- item 10: a bounded pool per turn ------------------------------------------------------------

CALLS = 1024


def many_calls(names: tuple[str, ...]) -> Turn:
    calls = [call(names[i % len(names)], {"i": i}, id=f"c{i}") for i in range(CALLS)]
    return Turn(tool_calls=calls)


def test_sync_turn_with_1024_calls_stays_under_the_thread_cap(server: ScriptedServer) -> None:
    registry = ToolRegistry()
    lock = threading.Lock()
    peak = [0]

    def probe_body(i: int) -> int:
        with lock:
            peak[0] = max(peak[0], threading.active_count())
        time.sleep(0.001)  # keep the thread busy, so the next call needs another one
        return i

    registry.add(probe_body, name="probe")
    registry.add(probe_body, name="eprobe", eager=True)
    server.add(many_calls(("probe", "eprobe")), Turn("done"))
    with Client(base_url=server.url, api_key=KEY) as client:
        agent = Agent(client, model="m", tools=registry)
        cap = getattr(agent, "max_parallel_tools", 32)
        baseline = threading.active_count()
        result = agent.run("go")
    assert peak[0] <= baseline + cap + 2, (peak[0], baseline, cap)
    answers = tool_messages(server.requests[1].messages)
    assert [m["tool_call_id"] for m in answers] == [f"c{i}" for i in range(CALLS)]
    assert [m["content"] for m in answers] == [str(i) for i in range(CALLS)]
    assert result.text == "done"


def test_async_turn_with_1024_calls_stays_under_the_task_cap(server: ScriptedServer) -> None:
    registry = ToolRegistry()
    running = [0]
    peak = [0]
    threads = [0]
    lock = threading.Lock()

    async def aprobe(i: int) -> int:
        running[0] += 1
        peak[0] = max(peak[0], running[0])
        await asyncio.sleep(0.001)
        running[0] -= 1
        return i

    def probe(i: int) -> int:
        with lock:
            threads[0] = max(threads[0], threading.active_count())
        time.sleep(0.001)
        return i

    registry.add(aprobe)
    registry.add(aprobe, name="eaprobe", eager=True)
    registry.add(probe)
    cap = 16
    server.add(many_calls(("aprobe", "eaprobe", "probe")), Turn("done"))
    baseline = threading.active_count()

    async def main() -> AgentResult:
        async with AsyncClient(base_url=server.url, api_key=KEY) as client:
            agent = Agent(client, model="m", tools=registry, max_parallel_tools=cap)
            return await agent.arun("go")

    result = asyncio.run(main())
    assert 1 < peak[0] <= cap, peak[0]
    assert threads[0] <= baseline + cap + 2, (threads[0], baseline)
    answers = tool_messages(server.requests[1].messages)
    assert [m["tool_call_id"] for m in answers] == [f"c{i}" for i in range(CALLS)]
    assert [m["content"] for m in answers] == [str(i) for i in range(CALLS)]
    assert result.text == "done"


def test_small_cap_queues_the_rest_in_call_order(server: ScriptedServer, mode: str) -> None:
    tools = Tools()
    calls = [
        call("peek", {"q": str(i)}, id=f"k{i}") if i % 2 else call("act", {"n": i}, id=f"k{i}")
        for i in range(12)
    ]
    server.add(Turn(tool_calls=calls), Turn("ok"))
    result = run(mode, server, tools.registry, max_parallel_tools=1)
    assert [r.call_id for r in result.tool_runs] == [f"k{i}" for i in range(12)]
    assert tools.runs == Counter({"act": 6, "peek": 6})


def test_max_parallel_tools_must_be_positive(server: ScriptedServer) -> None:
    with Client(base_url=server.url) as client, pytest.raises(ValueError, match="max_parallel"):
        Agent(client, model="m", max_parallel_tools=0)
