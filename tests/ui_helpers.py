"""Shared pieces of the toolwire.ui tests (tests/test_ui_vercel.py, test_ui_agui.py,
test_ui_asgi.py): both protocols travel as server-sent events, one ``data:`` line each, so
reading the stream back, running an agent through an encoder and encoding a plain client
stream are the same for the Vercel UI message stream and for AG-UI."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from tests.agent_helpers import Tools
from toolwire import Agent, AsyncClient, RunFinished, TurnFinished
from toolwire.testing import ScriptedServer
from toolwire.ui import AGUIEncoder, VercelEncoder

KEY = "sk-ui-0123456789abcdef"

# The Vercel stream's last event; AG-UI has none.
DONE = "[DONE]"


def parse_sse(data: bytes) -> list[Any]:
    """The events of a chunk of the stream, each exactly one ``data:`` line."""
    assert data.endswith(b"\n\n"), data[-40:]
    out: list[Any] = []
    for event in data[:-2].split(b"\n\n"):
        assert event.startswith(b"data: ") and b"\n" not in event, event
        payload = event[len(b"data: ") :].decode()
        out.append(DONE if payload == DONE else json.loads(payload))
    return out


@dataclass
class Run:
    """An agent run as the browser got it: the events of each chunk the encoder sent, and the
    agent's own events it encoded."""

    chunks: list[list[Any]]
    events: list[Any] = field(default_factory=list)

    @property
    def parts(self) -> list[Any]:
        return [part for chunk in self.chunks for part in chunk]

    def typed(self, kind: str) -> list[dict[str, Any]]:
        return [p for p in self.parts if isinstance(p, dict) and p["type"] == kind]

    @property
    def turns(self) -> list[TurnFinished]:
        return [e for e in self.events if isinstance(e, TurnFinished)]

    @property
    def result(self) -> Any:
        (finished,) = [e for e in self.events if isinstance(e, RunFinished)]
        return finished.result


async def tee(source: AsyncIterator[Any], sink: list[Any]) -> AsyncIterator[Any]:
    async for event in source:
        sink.append(event)
        yield event


def stream_agent(
    api: str,
    server: ScriptedServer,
    tools: Tools,
    encoder: VercelEncoder | AGUIEncoder,
    messages: Any,
    **options: Any,
) -> Run:
    """An agent on ``server`` speaking ``api`` runs on ``messages``, its events encoded by
    ``encoder`` into server-sent events and parsed back chunk by chunk."""

    async def main() -> Run:
        run = Run([])
        base = server.base_url(api)
        async with AsyncClient(api=api, base_url=base, api_key=KEY, max_retries=0) as client:
            agent = Agent(client, model="m-1", tools=tools.registry, **options)
            async for chunk in encoder.aiter_sse(tee(agent.astream(messages), run.events)):
                run.chunks.append(parse_sse(chunk))
        return run

    return asyncio.run(main())


def encode_plain_stream(
    api: str, server: ScriptedServer, encoder: VercelEncoder | AGUIEncoder
) -> tuple[list[list[Any]], list[Any]]:
    """A client stream without an agent (the turn scripted on ``server``, the tools offered),
    encoded read by read: the objects of each read, and the encoder's end from the
    accumulator's outcome and usage."""

    async def main() -> tuple[list[list[Any]], list[Any]]:
        chunks = []
        async with AsyncClient(api=api, base_url=server.base_url(api), api_key=KEY) as client:
            tools = Tools().registry
            async with client.stream_chat(
                model="m", messages=[{"role": "user", "content": "hi"}], tools=tools
            ) as stream:
                async for batch in stream.aiter_batches():
                    chunks.append(encoder.encode(batch))
                acc = stream.accumulator
                end = encoder.finish(outcome=acc.outcome, token_usage=acc.token_usage)
        return chunks, end

    return asyncio.run(main())
