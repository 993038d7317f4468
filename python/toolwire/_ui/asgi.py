"""The HTTP side: ASGI endpoints that read a browser's request, run an agent on it and stream
the run back, for ``useChat`` (UI message stream) and for AG-UI clients.

The endpoints are plain ASGI apps (no framework needed: ``uvicorn module:endpoint`` serves
one), which Starlette and FastAPI mount as routes (``app.add_route(path, endpoint,
methods=["POST"])``). ``chat_response``/``agui_response`` return a Starlette response for a
route of your own (needs ``starlette``, the ``ui`` extra).

A client that goes away cancels the run at once: the endpoint listens for
``http.disconnect`` while it streams (ASGI servers of spec 2.4 report a gone client only on
the next write, which may come after a tool started), and cancelling the run cancels the
turn's tools and starts nothing more.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from toolwire._asgi import Receive, Scope, Send, lifespan, raw_headers, send_error
from toolwire._ui.agui import AGUIEncoder
from toolwire._ui.base import Encoder, ErrorText
from toolwire._ui.transcript import (
    agui_messages_to_transcript,
    tool_call_ids,
    ui_messages_to_transcript,
)
from toolwire._ui.vercel import VercelEncoder
from toolwire.agent import Agent
from toolwire.client import AsyncClient

if TYPE_CHECKING:
    from starlette.responses import StreamingResponse

#: An ``Agent``, or a function of the request body that returns one (or an awaitable of one),
#: called for every request.
AgentSource = Agent | Callable[[dict[str, Any]], Agent | Awaitable[Agent]]

#: Default of ``max_body_bytes``: a long conversation with tool results fits many times over.
MAX_BODY_BYTES = 8 * 1024 * 1024


@dataclass
class Plan:
    """What a request asks for: the transcript to run and the encoder of the answer."""

    transcript: list[dict[str, Any]]
    encoder: Encoder


def _messages(body: Any) -> list[Any]:
    if not isinstance(body, Mapping):
        raise ValueError("the request body must be a JSON object")
    messages = body.get("messages")
    if not isinstance(messages, list):
        raise ValueError("the request body must hold a 'messages' array")
    return messages


def chat_plan(
    body: Any,
    *,
    system_messages: bool = False,
    finish_reason: bool = True,
    reasoning: bool = True,
    usage: bool = False,
    error_text: ErrorText | None = None,
) -> Plan:
    """The plan for a ``useChat`` request body (``{"id", "messages", "trigger", ...}``).

    The answer continues the last message when it is an assistant message (the browser
    appends to it, so its id is kept); otherwise it is a new message with a fresh id.
    Raises ``ValueError`` for a body that is not such a request or holds nothing to answer.
    """
    messages = _messages(body)
    transcript = ui_messages_to_transcript(messages, system=system_messages)
    if not any(m["role"] in ("user", "tool") for m in transcript):
        raise ValueError("the conversation holds no message to answer")
    last = messages[-1] if messages else None
    continued = (
        last.get("id") if isinstance(last, Mapping) and last.get("role") == "assistant" else None
    )
    message_id = (
        continued if isinstance(continued, str) and continued else f"msg-{uuid.uuid4().hex}"
    )
    encoder = VercelEncoder(
        message_id=message_id,
        reserved_ids=tool_call_ids(messages),
        finish_reason=finish_reason,
        reasoning=reasoning,
        usage=usage,
        error_text=error_text,
    )
    return Plan(transcript, encoder)


def agui_plan(
    body: Any,
    *,
    system_messages: bool = False,
    reasoning: bool = True,
    usage: bool = True,
    error_text: ErrorText | None = None,
) -> Plan:
    """The plan for an AG-UI ``RunAgentInput`` (``{"threadId", "runId", "messages", ...}``;
    ``tools``, ``context`` and ``state`` are not used: the agent's own tools run).

    Raises ``ValueError`` for a body that is not such an input or holds nothing to answer.
    """
    messages = _messages(body)
    transcript = agui_messages_to_transcript(messages, system=system_messages)
    if not any(m["role"] in ("user", "tool") for m in transcript):
        raise ValueError("the conversation holds no message to answer")
    thread_id = body.get("threadId")
    run_id = body.get("runId")
    encoder = AGUIEncoder(
        thread_id=thread_id if isinstance(thread_id, str) and thread_id else uuid.uuid4().hex,
        run_id=run_id if isinstance(run_id, str) and run_id else uuid.uuid4().hex,
        reserved_ids=tool_call_ids(messages),
        reasoning=reasoning,
        usage=usage,
        error_text=error_text,
    )
    return Plan(transcript, encoder)


def _check(agent: object) -> Agent:
    if not isinstance(agent, Agent):
        raise TypeError(f"expected a toolwire.Agent, got {type(agent).__name__}")
    if not isinstance(agent.client, AsyncClient):
        raise TypeError("toolwire.ui streams with Agent.astream: give the Agent an AsyncClient")
    return agent


async def _resolve(source: AgentSource, body: dict[str, Any]) -> Agent:
    if isinstance(source, Agent):
        return source
    made = source(body)
    agent = await made if inspect.isawaitable(made) else made
    return _check(agent)


async def serve(
    receive: Receive,
    send: Send,
    headers: list[tuple[bytes, bytes]],
    chunks: AsyncIterator[bytes],
) -> None:
    """Sends a 200 streaming ``chunks`` while listening for the client to go away; a gone
    client closes ``chunks`` (which cancels the run behind it) and ends the response."""
    await send({"type": "http.response.start", "status": 200, "headers": headers})

    async def pump() -> None:
        try:
            async for chunk in chunks:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        finally:
            # Closing the generator now, not when it is collected, cancels the run now.
            aclose = getattr(chunks, "aclose", None)
            if aclose is not None:
                await aclose()
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def watch() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    pumping = asyncio.ensure_future(pump())
    watching = asyncio.ensure_future(watch())
    try:
        await asyncio.wait({pumping, watching}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (pumping, watching):
            task.cancel()
        outcome = await asyncio.gather(pumping, watching, return_exceptions=True)
    error = outcome[0]
    # A send to a gone client raises OSError (ASGI 2.4); anything else is a real failure.
    if isinstance(error, Exception) and not isinstance(error, OSError):
        raise error


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The request body, None when the client left, or ``_TooLarge``."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        if message["type"] != "http.request":
            continue
        chunk = bytes(message.get("body", b""))
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


class _TooLarge(Exception):
    pass


class Endpoint:
    """An ASGI app answering ``POST`` with a streamed agent run (see ``chat_endpoint``)."""

    def __init__(
        self, agent: AgentSource, plan: Callable[[Any], Plan], *, max_body_bytes: int
    ) -> None:
        if isinstance(agent, Agent):
            _check(agent)
        elif not callable(agent):
            raise TypeError("agent must be a toolwire.Agent or a function returning one")
        self.agent = agent
        self.plan = plan
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await lifespan(receive, send)
            return
        if scope["type"] != "http":
            raise RuntimeError(f"toolwire.ui endpoints serve HTTP, not {scope['type']!r}")
        if scope.get("method") != "POST":
            await send_error(send, 405, "use POST", {"allow": "POST"})
            return
        try:
            raw = await _read_body(receive, self.max_body_bytes)
        except _TooLarge:
            await send_error(send, 413, f"the request body exceeds {self.max_body_bytes} bytes")
            return
        if raw is None:
            return  # the client left before sending its request
        try:
            body = json.loads(raw)
        except ValueError:
            await send_error(send, 400, "the request body is not JSON")
            return
        try:
            plan = self.plan(body)
        except ValueError as exc:
            await send_error(send, 400, str(exc))
            return
        agent = await _resolve(self.agent, body)
        await serve(
            receive,
            send,
            raw_headers(plan.encoder.headers),
            plan.encoder.aiter_sse(agent.astream(plan.transcript)),
        )


def chat_endpoint(
    agent: AgentSource,
    *,
    system_messages: bool = False,
    finish_reason: bool = True,
    reasoning: bool = True,
    usage: bool = False,
    error_text: ErrorText | None = None,
    max_body_bytes: int = MAX_BODY_BYTES,
) -> Endpoint:
    """An ASGI app for ``useChat``: ``POST`` a request (``{"id", "messages": [UIMessage],
    "trigger"}``), get the agent's run as a UI message stream.

    ``agent`` is an ``Agent`` with an ``AsyncClient``, or a function of the request body
    returning one (or an awaitable of one). ``system_messages=True`` lets the browser's system
    messages through. The other options are ``VercelEncoder``'s. A body that is not JSON, not
    such a request, or over ``max_body_bytes`` gets a 400 or 413 with ``{"error": ...}``.
    """
    return Endpoint(
        agent,
        lambda body: chat_plan(
            body,
            system_messages=system_messages,
            finish_reason=finish_reason,
            reasoning=reasoning,
            usage=usage,
            error_text=error_text,
        ),
        max_body_bytes=max_body_bytes,
    )


def agui_endpoint(
    agent: AgentSource,
    *,
    system_messages: bool = False,
    reasoning: bool = True,
    usage: bool = True,
    error_text: ErrorText | None = None,
    max_body_bytes: int = MAX_BODY_BYTES,
) -> Endpoint:
    """An ASGI app for AG-UI clients (``HttpAgent``): ``POST`` a ``RunAgentInput``, get the
    agent's run as AG-UI events. Options as for ``chat_endpoint``; the encoder's are
    ``AGUIEncoder``'s."""
    return Endpoint(
        agent,
        lambda body: agui_plan(
            body,
            system_messages=system_messages,
            reasoning=reasoning,
            usage=usage,
            error_text=error_text,
        ),
        max_body_bytes=max_body_bytes,
    )


def _response(plan: Plan, agent: Agent) -> StreamingResponse:
    from starlette.responses import StreamingResponse

    class UIStreamResponse(StreamingResponse):
        """A streaming response that cancels the run when the client goes away."""

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            await serve(receive, send, self.raw_headers, self.body_iterator)  # type: ignore[arg-type]
            if self.background is not None:
                await self.background()

    chunks = plan.encoder.aiter_sse(_check(agent).astream(plan.transcript))
    return UIStreamResponse(chunks, headers=dict(plan.encoder.headers))


def chat_response(
    body: Any,
    agent: Agent,
    *,
    system_messages: bool = False,
    finish_reason: bool = True,
    reasoning: bool = True,
    usage: bool = False,
    error_text: ErrorText | None = None,
) -> StreamingResponse:
    """A Starlette/FastAPI response streaming ``agent``'s answer to a ``useChat`` request
    ``body`` (the parsed JSON). Raises ``ValueError`` for a body that is not such a request.
    Needs ``starlette`` (``pip install toolwire[ui]``)."""
    plan = chat_plan(
        body,
        system_messages=system_messages,
        finish_reason=finish_reason,
        reasoning=reasoning,
        usage=usage,
        error_text=error_text,
    )
    return _response(plan, agent)


def agui_response(
    body: Any,
    agent: Agent,
    *,
    system_messages: bool = False,
    reasoning: bool = True,
    usage: bool = True,
    error_text: ErrorText | None = None,
) -> StreamingResponse:
    """A Starlette/FastAPI response streaming ``agent``'s run for an AG-UI ``RunAgentInput``
    ``body``. Raises ``ValueError`` for a body that is not such an input. Needs ``starlette``."""
    plan = agui_plan(
        body,
        system_messages=system_messages,
        reasoning=reasoning,
        usage=usage,
        error_text=error_text,
    )
    return _response(plan, agent)
