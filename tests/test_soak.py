"""Soak: thousands of streams through one AsyncClient against toolwire.testing with random faults
(cuts, stalls, 429/500/dropped connections before the first byte, malformed chunks, error
objects), plus agent runs whose side-effecting tool counts its executions.

Checked for every stream: it completed with exactly the expected message, or it failed with the
typed error its fault calls for, carrying a message that is a prefix of what the server meant to
send and holds at least everything sent before the fault (nothing parsed is lost); no request
was sent again once its body had started. For every agent run: each tool call ran exactly once,
across retries of failed turns from ``err.messages``. After the run: RSS back near the
baseline taken after a warm-up round, file descriptors, sockets and server connections back to
the baseline.

Slow: skipped unless ``TOOLWIRE_SOAK=1`` (``.ci/run`` runs it after pytest). Knobs:
``TOOLWIRE_SOAK_STREAMS`` (2000), ``TOOLWIRE_SOAK_AGENTS`` (200), ``TOOLWIRE_SOAK_CONCURRENCY``
(64), ``TOOLWIRE_SOAK_SEED`` (random, printed).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import os
import random
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from toolwire import (
    Agent,
    AsyncClient,
    IncompleteStream,
    MalformedStream,
    StreamError,
    StreamProviderError,
    StreamStalled,
    TextDelta,
    ToolCallDelta,
    ToolRegistry,
    TurnFailed,
)
from toolwire.testing import Fault, RecordedRequest, ScriptedServer, ScriptEntry, Turn, call

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not os.environ.get("TOOLWIRE_SOAK"), reason="set TOOLWIRE_SOAK=1 to run"),
    pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc"),
    pytest.mark.timeout(600),
]

STREAMS = int(os.environ.get("TOOLWIRE_SOAK_STREAMS", "2000"))
AGENTS = int(os.environ.get("TOOLWIRE_SOAK_AGENTS", "200"))
CONCURRENCY = int(os.environ.get("TOOLWIRE_SOAK_CONCURRENCY", "64"))
SEED = int(os.environ.get("TOOLWIRE_SOAK_SEED") or random.randrange(2**31))
STALL_TIMEOUT = 1.0  # generous: 64 streams share 2 cores, a busy loop must not look stalled
RSS_MARGIN_MIB = 24  # allowed RSS growth over the post-warm-up baseline (allocator slack)
KEY = "sk-soak"
WORDS = [
    "the",
    "order",
    "é",
    "ünïcode",
    "😀",
    '"quoted"',
    "back\\slash",
    "new\nline",
    "tab\t",
    "{brace}",
    "[1, 2]",
    "ok",
    "日本語",
    "\u2028",
    "</script>",
    "null",
]


# -- plans ---------------------------------------------------------------------------------------


@dataclass
class Plan:
    """What the server does for one stream: ``before`` faults (one per attempt, retried by the
    client), then ``turn`` (with its mid-stream fault, if any); the message it means to send;
    the error that must come out; how much must have arrived before the fault."""

    key: str
    turn: Turn
    before: list[Fault]
    expected: dict[str, Any]
    error: type[StreamError] | None
    content_floor: int = 0
    reasoning_floor: int = 0
    attempts: int = 0


def text(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def arguments(rng: random.Random) -> dict[str, Any]:
    return {
        "query": text(rng, rng.randint(1, 6)),
        "limit": rng.randint(-5, 10**12),
        "nested": {"list": [rng.random(), None, True, text(rng, 2)], "empty": {}},
    }


def message_of(turn: Turn) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": turn.text}
    if turn.reasoning:
        message["reasoning_content"] = turn.reasoning
    if turn.tool_calls:
        message["tool_calls"] = [
            {
                "id": c.id,
                "type": "function",
                "function": {"name": c.name, "arguments": c.arguments_text},
            }
            for c in turn.tool_calls
        ]
    return message


def make_plan(rng: random.Random, key: str) -> Plan:
    reasoning = text(rng, rng.randint(1, 8)) if rng.random() < 0.2 else None
    content = text(rng, rng.randint(1, 40)) if rng.random() < 0.85 else None
    calls = [
        call(f"tool_{j}", arguments(rng), id=f"call_{key}_{j}")
        for j in range(rng.choice([0, 0, 1, 1, 2, 3]))
    ]
    piece = rng.randint(1, 8)
    events = 1 + len(_chunks(reasoning, piece)) + len(_chunks(content, piece))
    first_call = events
    events += sum(1 + len(c.arguments_text) for c in calls)  # at most one event per character
    roll = rng.random()
    before: list[Fault] = []
    fault: Fault | None = None
    error: type[StreamError] | None = None
    # A fault after 0 events sends no body byte (cut without a half event, stall): that is a
    # connection error before the first byte, retried, not a stream error. So at least 1.
    after = rng.randint(1, max(1, first_call + (2 if calls else 0) - 1))
    if roll < 0.12:
        before = [Fault.rate_limit(retry_after=0.01)]
    elif roll < 0.2:
        before = [Fault.server_error(rng.choice([500, 502, 503]))]
    elif roll < 0.24:
        before = [Fault.disconnect()]
    elif roll < 0.27:
        before = [Fault.rate_limit(retry_after=0.01), Fault.server_error()]
    elif roll < 0.37:
        fault, error = Fault.cut(after=after, mid_event=rng.random() < 0.7), IncompleteStream
    elif roll < 0.41:
        fault, error = Fault.stall(after=after, seconds=6 * STALL_TIMEOUT), StreamStalled
    elif roll < 0.47:
        fault, error = Fault.malformed(after=max(1, after)), MalformedStream
    elif roll < 0.52:
        fault, error = Fault.error_event(after=after), StreamProviderError
    turn = Turn(
        content,
        tool_calls=calls,
        reasoning=reasoning,
        fault=fault,
        text_piece=piece,
        args_piece=rng.randint(1, 12),
        chunking=rng.choice(["event", "event", "random"]),
        first_byte_delay=rng.choice([0.0, 0.0, 0.0, 0.02]),
    )
    plan = Plan(key, turn, before, message_of(turn), error)
    if fault is not None and fault.kind != "malformed":
        # Events wholly sent before the fault: the role chunk, then reasoning, then text pieces.
        sent = max(0, after - 1)
        reasoning_events = len(_chunks(reasoning, piece))
        plan.reasoning_floor = len("".join(_chunks(reasoning, piece)[:sent]))
        text_events = max(0, sent - reasoning_events)
        plan.content_floor = len("".join(_chunks(content, piece)[:text_events]))
    return plan


def _chunks(value: str | None, size: int) -> list[str]:
    value = value or ""
    return [value[i : i + size] for i in range(0, len(value), size)]


# -- checks ----------------------------------------------------------------------------------------


def assert_prefix_of(partial: dict[str, Any], plan: Plan) -> None:
    """``partial`` is what ``plan.expected`` looks like cut short, and holds at least what was
    sent before the fault."""
    want = plan.expected
    assert partial["role"] == "assistant"
    got_content = partial.get("content") or ""
    assert (want["content"] or "").startswith(got_content), (plan.key, partial)
    assert len(got_content) >= plan.content_floor, (plan.key, partial, plan.content_floor)
    got_reasoning = partial.get("reasoning_content", "")
    assert want.get("reasoning_content", "").startswith(got_reasoning), (plan.key, partial)
    assert len(got_reasoning) >= plan.reasoning_floor, (plan.key, partial)
    got_calls = partial.get("tool_calls", [])
    want_calls = want.get("tool_calls", [])
    assert len(got_calls) <= len(want_calls), (plan.key, partial)
    for got, expected in zip(got_calls, want_calls, strict=False):
        assert got["id"] == expected["id"], (plan.key, got)
        assert got["function"]["name"] == expected["function"]["name"], (plan.key, got)
        arguments = got["function"]["arguments"]
        # A call cut before its first argument byte reads "{}" (DESIGN: empty arguments finish
        # as {}), not a prefix of its real arguments.
        assert arguments == "{}" or expected["function"]["arguments"].startswith(arguments), (
            plan.key,
            arguments,
        )


def assert_events_match(events: list[Any], message: dict[str, Any], key: str) -> None:
    """The events handed out add up to the message (nothing shown that was not kept)."""
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == (
        message.get("content") or ""
    ), key
    fragments: dict[int, str] = {}
    for e in events:
        if isinstance(e, ToolCallDelta):
            fragments[e.index] = fragments.get(e.index, "") + e.fragment
    for index, tool_call in enumerate(message.get("tool_calls", [])):
        arguments = tool_call["function"]["arguments"]
        cut_before_arguments = index not in fragments and arguments == "{}"
        assert fragments.get(index, "") == arguments or cut_before_arguments, key


# -- the server side -------------------------------------------------------------------------------


class Soak:
    """Plans, agent scripts and the responder that plays them (thread-safe)."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.plans: dict[str, Plan] = {}
        self.agent_entries: dict[tuple[str, int], list[ScriptEntry]] = {}
        self.agent_attempts: Counter[tuple[str, int]] = Counter()
        self.lock = threading.Lock()
        self.executions: Counter[str] = Counter()
        self.faults: Counter[str] = Counter()
        registry = ToolRegistry()

        @registry.tool
        def place_order(key: str, quantity: int) -> str:
            """Places an order: a side effect, so it must run once per call."""
            with self.lock:
                self.executions[key] += 1
            return f"order {key} x{quantity} placed"

        self.registry = registry

    def plan(self, key: str) -> Plan:
        plan = make_plan(self.rng, key)
        self.plans[key] = plan
        for f in [*plan.before, *([plan.turn.fault] if plan.turn.fault else [])]:
            self.faults[f.kind if f.kind != "status" else str(f.status)] += 1
        return plan

    def agent_script(self, name: str) -> list[str]:
        """Turn 1 asks for 1-3 orders, turn 2 answers; each may fail first (a mid-stream fault
        makes the agent raise TurnFailed; the test then retries from err.messages)."""
        rng = self.rng
        keys = [f"{name}-order{j}" for j in range(rng.randint(1, 3))]
        calls = [
            call("place_order", {"key": k, "quantity": rng.randint(1, 9)}, id=f"call_{k}")
            for k in keys
        ]
        for phase, clean in ((1, Turn("Placing.", tool_calls=calls)), (2, Turn(f"Done {name}."))):
            entries: list[ScriptEntry] = []
            for _ in range(rng.choice([0, 0, 1, 2])):
                kind = rng.choice(["cut", "stall", "malformed", "error_event", "429", "length"])
                self.faults[f"agent:{kind}"] += 1
                if kind == "429":
                    entries.append(Fault.rate_limit(retry_after=0.01))
                elif kind == "length":
                    entries.append(
                        Turn(clean.text, tool_calls=clean.tool_calls, finish_reason="length")
                    )
                else:
                    fault = {
                        "cut": Fault.cut(after=rng.randint(0, 6)),
                        "stall": Fault.stall(after=rng.randint(0, 6), seconds=6 * STALL_TIMEOUT),
                        "malformed": Fault.malformed(after=rng.randint(1, 6)),
                        "error_event": Fault.error_event(after=rng.randint(0, 6)),
                    }[kind]
                    entries.append(Turn(clean.text, tool_calls=clean.tool_calls, fault=fault))
            entries.append(clean)
            self.agent_entries[(name, phase)] = entries
        return keys

    def respond(self, request: RecordedRequest) -> ScriptEntry:
        messages = request.messages
        first = str(messages[0]["content"])
        if first.startswith("agent-"):
            phase = 1 if messages[-1]["role"] == "user" else 2
            with self.lock:
                n = self.agent_attempts[(first, phase)]
                self.agent_attempts[(first, phase)] += 1
            entries = self.agent_entries[(first, phase)]
            return entries[min(n, len(entries) - 1)]
        plan = self.plans[first]
        with self.lock:
            n = plan.attempts
            plan.attempts += 1
        return plan.before[n] if n < len(plan.before) else plan.turn


# -- the client side -------------------------------------------------------------------------------


async def one_stream(client: AsyncClient, soak: Soak, plan: Plan, tally: Counter[str]) -> None:
    key = plan.key
    events: list[Any] = []
    stream = client.stream_chat(model="m", messages=[{"role": "user", "content": key}])
    try:
        async with stream:
            async for event in stream:
                events.append(event)
    except StreamError as err:
        assert plan.error is not None and type(err) is plan.error, (key, repr(err), plan.turn.fault)
        assert err.accumulator is stream.accumulator
        assert err.partial_message == stream.message()
        if plan.error is MalformedStream:
            # The bad chunk is dropped and the rest of the stream still read: all is there.
            assert err.partial_message == plan.expected, key
        else:
            assert_prefix_of(err.partial_message, plan)
        assert_events_match(events, err.partial_message, key)
        tally[type(err).__name__] += 1
    else:
        assert plan.error is None, (key, "succeeded despite", plan.turn.fault)
        assert stream.message() == plan.expected, key
        assert stream.finish_reason == ("tool_calls" if plan.turn.tool_calls else "stop")
        assert stream.usage is not None and stream.usage["total_tokens"] > 0
        assert_events_match(events, stream.message(), key)
        tally["ok"] += 1
    # Retried before the first byte only: one request per before-body fault, then one more.
    assert plan.attempts == len(plan.before) + 1, (key, plan.attempts, plan.before)
    del soak.plans[key]  # the test keeps nothing per stream, so RSS can settle


async def one_agent(
    client: AsyncClient, soak: Soak, name: str, keys: list[str], tally: Counter[str]
) -> None:
    agent = Agent(client, model="m", tools=soak.registry)
    messages: Any = name
    for _ in range(8):
        try:
            result = await agent.arun(messages)
            break
        except TurnFailed as err:
            assert err.retryable, (name, err.reason)
            tally[f"agent TurnFailed:{err.reason}"] += 1
            messages = err.messages
    else:
        pytest.fail(f"{name}: still failing after 8 attempts")
    assert result.text == f"Done {name}."
    with soak.lock:
        runs = {k: soak.executions.pop(k, 0) for k in keys}
        for phase in (1, 2):
            del soak.agent_entries[(name, phase)], soak.agent_attempts[(name, phase)]
    assert runs == {k: 1 for k in keys}, (name, runs)
    tool_messages = [m for m in result.messages if m["role"] == "tool"]
    assert sorted(m["tool_call_id"] for m in tool_messages) == sorted(f"call_{k}" for k in keys)
    tally["agent ok"] += 1


async def drive(
    server: ScriptedServer,
    soak: Soak,
    prefix: str,
    streams: int,
    agents: int,
    peaks: dict[str, int],
) -> Counter[str]:
    tally: Counter[str] = Counter()
    gate = asyncio.Semaphore(CONCURRENCY)
    stop = asyncio.Event()

    async def guarded(job: Any) -> None:
        async with gate:
            await job

    async def sample() -> None:
        while not stop.is_set():
            # The server records every request: forget them, so RSS measures the client.
            del server.requests[:]
            peaks["fds"] = max(peaks.get("fds", 0), len(os.listdir("/proc/self/fd")))
            peaks["server connections"] = max(
                peaks.get("server connections", 0), server_connections()
            )
            await asyncio.sleep(0.2)

    async with AsyncClient(
        base_url=server.url,
        api_key=KEY,
        backoff=0.01,
        max_backoff=0.05,
        max_retries=3,
        stall_timeout=STALL_TIMEOUT,
        connect_timeout=10,
    ) as client:
        sampler = asyncio.create_task(sample())
        # Plans are drawn before anything runs, so a seed gives the same plans every time.
        plans = [soak.plan(f"{prefix}s{i}") for i in range(streams)]
        scripts = [
            (f"agent-{prefix}{i}", soak.agent_script(f"agent-{prefix}{i}")) for i in range(agents)
        ]
        jobs = [one_stream(client, soak, plan, tally) for plan in plans]
        jobs += [one_agent(client, soak, name, keys, tally) for name, keys in scripts]
        random.Random(SEED).shuffle(jobs)
        await asyncio.gather(*(guarded(job) for job in jobs))
        stop.set()
        await sampler
    del server.requests[:]
    return tally


# -- resources -------------------------------------------------------------------------------------


def rss_mib() -> float:
    status = Path("/proc/self/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024  # type: ignore[union-attr]


def sockets() -> int:
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            count += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
    return count


def server_connections() -> int:
    """Connections the test server is handling (one handler thread each)."""
    return sum("process_request" in t.name for t in threading.enumerate())


def settled(baseline: dict[str, Any] | None = None, wait: float = 15.0) -> dict[str, Any]:
    """Resource counts once the server's handler threads have ended (stalled ones included)."""
    deadline = time.monotonic() + wait
    while server_connections() and time.monotonic() < deadline:
        time.sleep(0.05)
    while baseline is not None and time.monotonic() < deadline:
        if len(os.listdir("/proc/self/fd")) <= baseline["fds"]:
            break
        time.sleep(0.05)
    for _ in range(3):
        gc.collect()
    return {
        "rss_mib": rss_mib(),
        "fds": len(os.listdir("/proc/self/fd")),
        "sockets": sockets(),
        # Sync tools run on a pool whose idle workers leave after 30 s (tools.py): counted
        # apart, bounded by the tools that ran at once.
        "threads": sum(t.name != "toolwire-tool" for t in threading.enumerate()),
        "idle tool workers": sum(t.name == "toolwire-tool" for t in threading.enumerate()),
        "server connections": server_connections(),
    }


# -- the test --------------------------------------------------------------------------------------


def test_soak() -> None:
    soak = Soak(SEED)
    started = time.monotonic()
    with ScriptedServer(soak.respond) as server:
        # The warm-up round fills the allocator's pools and the client's connection pool.
        warm = max(200, STREAMS // 4)
        warm_tally = asyncio.run(drive(server, soak, "warm", warm, max(20, AGENTS // 4), {}))
        assert warm_tally["ok"] > 0
        before = settled()
        main_started = time.monotonic()
        peaks: dict[str, int] = {}
        tally = asyncio.run(drive(server, soak, "main", STREAMS, AGENTS, peaks))
        main_seconds = time.monotonic() - main_started
        after = settled(before)
    report = {
        "seed": SEED,
        "streams": STREAMS,
        "agent runs": AGENTS,
        "concurrency": CONCURRENCY,
        "main round s": round(main_seconds, 1),
        "total s": round(time.monotonic() - started, 1),
        "outcomes": dict(sorted(tally.items())),
        "faults planned (warm-up + main)": dict(sorted(soak.faults.items())),
        "baseline": before,
        "after": after,
        "peaks": peaks,
    }
    print("\nsoak: " + json.dumps(report, indent=1))
    assert sum(v for k, v in tally.items() if not k.startswith("agent")) == STREAMS
    assert tally["agent ok"] == AGENTS
    assert after["fds"] == before["fds"], report
    assert after["sockets"] == before["sockets"], report
    assert after["server connections"] == before["server connections"] == 0, report
    assert after["threads"] == before["threads"], report
    assert after["idle tool workers"] <= CONCURRENCY, report
    assert after["rss_mib"] - before["rss_mib"] < RSS_MARGIN_MIB, report
