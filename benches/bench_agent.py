"""Python-layer benchmarks: the agent's own cost per turn, and the openai SDK vs toolwire on
the same HTTP stream. Everything runs against ``toolwire serve`` (the embedded scripted
server) in a subprocess on 127.0.0.1, so the server's work does not share our GIL.

Agent overhead per turn (tool time and server delays excluded: the tools return at once and
the server has no delays). A run is two turns: three parallel calls, then a text answer.

=========================  ===================================================================
``agent-http``             ``Agent.run`` against the server
``client-http``            the same two responses read with ``Client.stream_chat`` only
``agent-memory``           ``Agent.run`` on recorded responses (no socket), via a client whose
                           ``stream_chat`` replays the bytes in the reads they arrived in
``parse-memory``           the same reads fed to a ``StreamAccumulator`` only
=========================  ===================================================================

The agent's own overhead per turn is ``(agent - client) / 2`` over HTTP and
``(agent - parse) / 2`` in memory: event dispatch, tool validation and threads, transcript.

The same stream through four readers (about 6,000 chunks, 2 MB: 4,000 characters of text in
4-character deltas, then two calls with 9 KB of arguments each in fragments of 1-6 characters;
the server writes 512 B-4 KB at a time, so the readers, not the server, set the pace):

=========================  ===================================================================
``openai-sdk-stream``      ``client.chat.completions.stream(...)``, the SDK's accumulating
                           helper, then ``get_final_completion()``
``openai-sdk-chunks``      ``create(stream=True)``, iterate the ``ChatCompletionChunk`` objects,
                           concatenate text and arguments by hand (the leanest SDK loop)
``openai-raw-toolwire``    ``with_streaming_response.create(stream=True)``: the SDK sends the
                           request, ``ChatStream.from_response`` reads the raw bytes
``toolwire-client``        ``toolwire.Client.stream_chat``
=========================  ===================================================================

Run ``python benches/bench_agent.py`` for a summary table with the derived numbers, or
``pytest benches/bench_agent.py --benchmark-enable`` for pytest-benchmark's tables. In the
normal test run (``--benchmark-disable``) each benchmark runs once, as a test.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest

import toolwire
from toolwire import Agent, ChatStream, Client, ToolRegistry

AGENT_SCRIPT: list[dict[str, Any]] = [
    {
        "text": "Let me check.",
        "tool_calls": [
            {"name": "lookup", "arguments": {"q": "chair", "limit": 3}, "id": "call_a"},
            {"name": "lookup", "arguments": {"q": "desk", "limit": 3}, "id": "call_b"},
            {"name": "lookup", "arguments": {"q": "lamp", "limit": 3}, "id": "call_c"},
        ],
    },
    {"text": "Here is what I found: chair, desk and lamp are all in stock."},
]

BIG_TEXT = ("The quick brown fox jumps over the lazy dog. " * 90)[:4000]
BIG_ARGS = [
    {"rows": [{"id": i, "name": f"item-{i:04d}", "ok": i % 3 == 0} for i in range(j, j + 230)]}
    for j in (0, 1000)
]
BIG_SCRIPT: list[dict[str, Any]] = [
    {
        "text": BIG_TEXT,
        "tool_calls": [
            {"name": "store", "arguments": args, "id": f"call_{n}"}
            for n, args in enumerate(BIG_ARGS)
        ],
    }
]
BIG_EXPECTED = {
    "role": "assistant",
    "content": BIG_TEXT,
    "tool_calls": [
        {
            "id": f"call_{n}",
            "type": "function",
            "function": {"name": "store", "arguments": json.dumps(args)},
        }
        for n, args in enumerate(BIG_ARGS)
    ],
}
MESSAGES = [{"role": "user", "content": "go"}]


# -- the server --------------------------------------------------------------------------------


class Served:
    """``python -m toolwire serve`` in a subprocess, looping over a script."""

    def __init__(self, script: Sequence[Mapping[str, Any]], chunking: str = "event") -> None:
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as file:
            json.dump(list(script), file)
        self.script_path = file.name
        env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "toolwire",
                "serve",
                "--script",
                self.script_path,
                "--delay",
                "0",
                "--chunking",
                chunking,
            ],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("toolwire test server on "):
            self.close()
            raise RuntimeError(f"toolwire serve did not start: {line!r}")
        self.url = line.split()[4]

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        Path(self.script_path).unlink(missing_ok=True)


# -- workloads ---------------------------------------------------------------------------------


def make_registry() -> ToolRegistry:
    registry = ToolRegistry()

    @registry.tool
    def lookup(q: str, limit: int = 10) -> dict[str, Any]:
        """Find items."""
        return {"q": q, "found": limit}

    return registry


def record_reads(url: str, turns: int) -> list[list[bytes]]:
    """The raw reads of ``turns`` consecutive responses of the server."""
    out = []
    with httpx.Client(trust_env=False) as http:
        for _ in range(turns):
            body = {
                "model": "m",
                "messages": MESSAGES,
                "stream": True,
                "stream_options": {"include_usage": True},
            }
            with http.stream("POST", url + "/chat/completions", json=body) as response:
                out.append([bytes(r) for r in response.iter_raw()])
    return out


class ReplayClient(Client):
    """A ``Client`` whose streams replay recorded reads: the agent without a socket."""

    def __init__(self, recorded: list[list[bytes]]) -> None:
        super().__init__(base_url="http://127.0.0.1:9", api_key="")
        self.recorded = recorded
        self.position = 0

    def stream_chat(
        self, *, model: str, messages: Sequence[Mapping[str, Any]], tools: Any = None, **params: Any
    ) -> ChatStream:
        reads = self.recorded[self.position % len(self.recorded)]
        self.position += 1
        return ChatStream.from_response(reads)


def agent_run(agent: Agent) -> toolwire.AgentResult:
    result = agent.run(MESSAGES)
    assert result.turns == 2 and len(result.tool_runs) == 3 and all(r.ok for r in result.tool_runs)
    return result


def _check_turn(message: dict[str, Any], turn: dict[str, Any]) -> None:
    """A fast wrong answer fails: each benchmarked turn must equal what the server scripted."""
    assert message["content"] == turn["text"], message
    calls = [
        (c["id"], c["function"]["name"], json.loads(c["function"]["arguments"]))
        for c in message.get("tool_calls", [])
    ]
    assert calls == [(c["id"], c["name"], c["arguments"]) for c in turn.get("tool_calls", [])]


def client_turns(client: Client) -> None:
    for turn in AGENT_SCRIPT:
        with client.stream_chat(model="m", messages=MESSAGES) as stream:
            stream.until_done()
        _check_turn(stream.message(), turn)


def parse_turns(recorded: list[list[bytes]]) -> None:
    for reads, turn in zip(recorded, AGENT_SCRIPT, strict=True):
        acc = toolwire.StreamAccumulator()
        for read in reads:
            acc.feed(read)
        acc.finish()
        _check_turn(acc.message(), turn)


def read_openai_stream_helper(sdk: Any) -> dict[str, Any]:
    with sdk.chat.completions.stream(model="m", messages=MESSAGES) as stream:
        for _ in stream:
            pass
        message = stream.get_final_completion().choices[0].message
    return {
        "role": "assistant",
        "content": message.content,
        "tool_calls": [
            {
                "id": c.id,
                "type": "function",
                "function": {"name": c.function.name, "arguments": c.function.arguments},
            }
            for c in message.tool_calls or []
        ],
    }


def read_openai_chunks(sdk: Any) -> dict[str, Any]:
    text: list[str] = []
    calls: dict[int, dict[str, Any]] = {}
    for chunk in sdk.chat.completions.create(model="m", messages=MESSAGES, stream=True):
        for choice in chunk.choices:
            delta = choice.delta
            if delta.content:
                text.append(delta.content)
            for fragment in delta.tool_calls or []:
                call = calls.setdefault(fragment.index, {"id": "", "name": "", "arguments": []})
                if fragment.id:
                    call["id"] = fragment.id
                if fragment.function is not None:
                    if fragment.function.name:
                        call["name"] = fragment.function.name
                    if fragment.function.arguments:
                        call["arguments"].append(fragment.function.arguments)
    return {
        "role": "assistant",
        "content": "".join(text),
        "tool_calls": [
            {
                "id": c["id"],
                "type": "function",
                "function": {"name": c["name"], "arguments": "".join(c["arguments"])},
            }
            for _, c in sorted(calls.items())
        ],
    }


def read_openai_raw_toolwire(sdk: Any) -> dict[str, Any]:
    with sdk.chat.completions.with_streaming_response.create(
        model="m", messages=MESSAGES, stream=True
    ) as response:
        return ChatStream.from_response(response).until_done().message()


def read_httpx_only(http: httpx.Client, url: str) -> int:
    """The floor: the same request with httpx, the body read and dropped (no parsing)."""
    body = {
        "model": "m",
        "messages": MESSAGES,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    with http.stream("POST", url + "/chat/completions", json=body) as response:
        return sum(len(read) for read in response.iter_raw())


def read_toolwire_client(client: Client) -> dict[str, Any]:
    with client.stream_chat(model="m", messages=MESSAGES) as stream:
        stream.until_done()
    return stream.message()


# -- pytest-benchmark --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def agent_server() -> Iterator[Served]:
    served = Served(AGENT_SCRIPT)
    yield served
    served.close()


@pytest.fixture(scope="module")
def big_server() -> Iterator[Served]:
    served = Served(BIG_SCRIPT, chunking="net")
    yield served
    served.close()


@pytest.fixture(scope="module")
def sdk(big_server: Served) -> Iterator[Any]:
    openai = pytest.importorskip("openai")
    client = openai.OpenAI(base_url=big_server.url, api_key="bench", max_retries=0)
    yield client
    client.close()


def test_agent_http(benchmark: Any, agent_server: Served) -> None:
    benchmark.group = "agent: two turns (3 instant tools, then text)"
    with Client(base_url=agent_server.url, api_key="bench") as client:
        benchmark(agent_run, Agent(client, model="m", tools=make_registry()))


def test_client_http(benchmark: Any, agent_server: Served) -> None:
    benchmark.group = "agent: two turns (3 instant tools, then text)"
    with Client(base_url=agent_server.url, api_key="bench") as client:
        benchmark(client_turns, client)


def test_agent_memory(benchmark: Any, agent_server: Served) -> None:
    benchmark.group = "agent: two turns (3 instant tools, then text)"
    client = ReplayClient(record_reads(agent_server.url, 2))
    benchmark(agent_run, Agent(client, model="m", tools=make_registry()))
    client.close()


def test_parse_memory(benchmark: Any, agent_server: Served) -> None:
    benchmark.group = "agent: two turns (3 instant tools, then text)"
    benchmark(parse_turns, record_reads(agent_server.url, 2))


def test_openai_sdk_stream(benchmark: Any, sdk: Any) -> None:
    benchmark.group = "one big stream over HTTP (~6,000 chunks)"
    assert benchmark(read_openai_stream_helper, sdk) == BIG_EXPECTED


def test_openai_sdk_chunks(benchmark: Any, sdk: Any) -> None:
    benchmark.group = "one big stream over HTTP (~6,000 chunks)"
    assert benchmark(read_openai_chunks, sdk) == BIG_EXPECTED


def test_openai_raw_toolwire(benchmark: Any, sdk: Any) -> None:
    benchmark.group = "one big stream over HTTP (~6,000 chunks)"
    assert benchmark(read_openai_raw_toolwire, sdk) == BIG_EXPECTED


def test_toolwire_client(benchmark: Any, big_server: Served) -> None:
    benchmark.group = "one big stream over HTTP (~6,000 chunks)"
    with Client(base_url=big_server.url, api_key="bench") as client:
        assert benchmark(read_toolwire_client, client) == BIG_EXPECTED


# -- summary -----------------------------------------------------------------------------------


def median_seconds(fn: Callable[[], object], rounds: int, warmup: int = 3) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def summary(rounds: int = 60) -> None:
    """Prints the medians and the derived numbers (agent overhead, SDK/toolwire ratios)."""
    import openai

    python = sys.version.split()[0]
    print(
        f"toolwire {toolwire.__version__} ({toolwire.build_profile}), Python {python}, "
        f"openai {openai.__version__}, {os.cpu_count()} CPUs; medians of {rounds} rounds"
    )
    agent_server, big_server = Served(AGENT_SCRIPT), Served(BIG_SCRIPT, chunking="net")
    try:
        with Client(base_url=agent_server.url, api_key="bench") as client:
            agent = Agent(client, model="m", tools=make_registry())
            agent_http = median_seconds(lambda: agent_run(agent), rounds)
            client_http = median_seconds(lambda: client_turns(client), rounds)
        recorded = record_reads(agent_server.url, 2)
        replay = ReplayClient(recorded)
        replay_agent = Agent(replay, model="m", tools=make_registry())
        agent_memory = median_seconds(lambda: agent_run(replay_agent), rounds * 5)
        parse_memory = median_seconds(lambda: parse_turns(recorded), rounds * 5)
        replay.close()
        print("\nAgent, per turn (2 turns per run; tools instant, no server delay)")
        print(f"  agent over HTTP     {agent_http / 2 * 1e6:9.0f} us")
        print(f"  client over HTTP    {client_http / 2 * 1e6:9.0f} us")
        print(f"  agent in memory     {agent_memory / 2 * 1e6:9.0f} us")
        print(f"  parse in memory     {parse_memory / 2 * 1e6:9.0f} us")
        print(
            f"  => agent overhead   {(agent_http - client_http) / 2 * 1e6:9.0f} us/turn over HTTP, "
            f"{(agent_memory - parse_memory) / 2 * 1e6:.0f} us/turn in memory"
        )

        sdk = openai.OpenAI(base_url=big_server.url, api_key="bench", max_retries=0)
        http = httpx.Client(trust_env=False)
        floor = median_seconds(lambda: read_httpx_only(http, big_server.url), max(10, rounds // 3))
        http.close()
        with Client(base_url=big_server.url, api_key="bench") as client:
            readers: dict[str, Callable[[], dict[str, Any]]] = {
                "openai-sdk-stream": lambda: read_openai_stream_helper(sdk),
                "openai-sdk-chunks": lambda: read_openai_chunks(sdk),
                "openai-raw-toolwire": lambda: read_openai_raw_toolwire(sdk),
                "toolwire-client": lambda: read_toolwire_client(client),
            }
            for reader in readers.values():
                assert reader() == BIG_EXPECTED
            medians = {
                name: median_seconds(reader, max(10, rounds // 3))
                for name, reader in readers.items()
            }
        sdk.close()
        base = medians["toolwire-client"]
        body = b"".join(record_reads(big_server.url, 1)[0])
        print(
            f"\nOne stream over HTTP: {body.count(b'data: ')} chunks, {len(body)} bytes, "
            "server writes of 512 B-4 KB"
        )
        for name, seconds in medians.items():
            print(f"  {name:20} {seconds * 1000:8.1f} ms   {seconds / base:5.2f}x toolwire-client")
        floor_name = "httpx, no parsing"
        print(f"  {floor_name:20} {floor * 1000:8.1f} ms   (the floor: request, server, transfer)")
    finally:
        agent_server.close()
        big_server.close()


if __name__ == "__main__":
    summary(int(sys.argv[1]) if len(sys.argv) > 1 else 60)
