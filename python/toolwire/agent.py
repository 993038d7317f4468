"""The agent loop: stream a turn, run its tools concurrently, send the results, repeat.

::

    agent = toolwire.Agent(client, model="gpt-4o-mini", tools=registry, system="Be brief.")
    result = agent.run("What is the weather in Paris and in Rome?")
    result.text, result.tool_runs, result.usage, result.messages

    for event in agent.stream(messages):     # for a UI: text as it comes, tools as they run
        ...

One turn: the model's reply is streamed; a tool registered with ``eager=True`` (declared free
of side effects) starts the moment its arguments are complete (``ToolCallReady``), while the
model still streams; the others start when the model has ended its turn well (finish reason
received). The calls of a turn run concurrently (sync tools in worker threads). Then one
assistant message holding the text and every call of the turn is appended, followed by one
tool message per call, in call order, and the next turn starts.

The run ends with the first turn that has no tool call (a text preamble followed by calls does
not end it). A turn that ended badly -- finish reason ``length`` or ``content_filter``, an
error object in the stream, a cut or stalled stream, an HTTP error -- runs none of its tools
and raises ``TurnFailed`` carrying what was parsed and the transcript so far; reaching
``max_turns`` raises ``MaxTurnsExceeded``. Both let you continue with ``agent.run(err.messages)``:
tools that ran are in that transcript and never run again.

``Agent.run``/``stream`` need a ``Client``; ``arun``/``astream`` an ``AsyncClient`` (asyncio).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import logging
import time
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Union

from toolwire._core import Finish, ToolCallFinished, ToolCallReady
from toolwire.client import AsyncChatStream, AsyncClient, ChatStream, Client
from toolwire.errors import (
    APIError,
    IncompleteStream,
    MalformedStream,
    MaxTurnsExceeded,
    StreamError,
    StreamProviderError,
    StreamStalled,
    TurnFailed,
)
from toolwire.tools import ToolRegistry, ToolRun, _start_thread

if TYPE_CHECKING:
    from toolwire._core import Event

__all__ = [
    "Agent",
    "AgentEvent",
    "AgentResult",
    "RunFinished",
    "ToolRunFinished",
    "ToolRunStarted",
    "TurnFinished",
    "TurnStarted",
]

logger = logging.getLogger("toolwire")

#: Finish reasons after which the calls of a turn must not run.
BAD_FINISH_REASONS = frozenset({"length", "content_filter", "error"})


@dataclass
class AgentResult:
    """The outcome of a run (or of the run so far, on ``AgentError.result``).

    ``messages`` is the whole transcript, ready to extend and send again; ``tool_runs`` every
    tool execution in call order; ``usage`` the provider's usage summed over turns; ``turns``
    the number of model turns; ``duration_ms`` the wall time of the run.
    """

    messages: list[dict[str, Any]]
    tool_runs: list[ToolRun] = field(default_factory=list)
    usage: dict[str, Any] = field(default_factory=dict)
    turns: int = 0
    duration_ms: float = 0.0

    @property
    def message(self) -> dict[str, Any] | None:
        """The last assistant message, or None."""
        for entry in self.messages[::-1]:
            if entry.get("role") == "assistant":
                return entry
        return None

    @property
    def text(self) -> str:
        """The text of the last assistant message ("" when it had none)."""
        message = self.message
        content = message.get("content") if message else None
        return content if isinstance(content, str) else ""


@dataclass(frozen=True)
class TurnStarted:
    """A model turn begins (``turn`` counts from 1)."""

    turn: int


@dataclass(frozen=True)
class ToolRunStarted:
    """A tool call starts executing; ``eager`` when the model was still streaming."""

    turn: int
    index: int
    call_id: str
    name: str
    arguments: Any
    eager: bool


@dataclass(frozen=True)
class ToolRunFinished:
    """A tool call finished executing (with a result or an error); see ``run``."""

    turn: int
    run: ToolRun

    @property
    def name(self) -> str:
        """The tool name."""
        return self.run.name

    @property
    def duration_ms(self) -> float:
        """How long the tool ran, in milliseconds."""
        return self.run.duration_ms


@dataclass(frozen=True)
class TurnFinished:
    """A turn is complete: its assistant message and tool runs are in the transcript."""

    turn: int
    message: dict[str, Any]
    finish_reason: str | None
    usage: dict[str, Any] | None
    tool_runs: tuple[ToolRun, ...]


@dataclass(frozen=True)
class RunFinished:
    """The run is over; ``result`` is what ``run()`` returns."""

    result: AgentResult


AgentEvent = Union["Event", TurnStarted, ToolRunStarted, ToolRunFinished, TurnFinished, RunFinished]


def _add_usage(total: dict[str, Any], usage: Mapping[str, Any]) -> None:
    """Sums numbers key by key (nested dicts too); other values keep the last one seen."""
    for key, value in usage.items():
        if isinstance(value, bool) or value is None:
            total.setdefault(key, value)
        elif isinstance(value, (int, float)):
            current = total.get(key)
            total[key] = (current if isinstance(current, (int, float)) else 0) + value
        elif isinstance(value, Mapping):
            nested = total.get(key)
            if not isinstance(nested, dict):
                nested = total[key] = {}
            _add_usage(nested, value)
        else:
            total[key] = value


@dataclass
class _Launch:
    """One started execution of a call, with the arguments it started with."""

    index: int
    call_id: str
    name: str
    arguments: Any
    eager: bool
    handle: Any  # concurrent.futures.Future[ToolRun] or asyncio.Task[ToolRun]
    reported: bool = False


class _Turn:
    """The bookkeeping of one turn, shared by the sync and async loops.

    ``on_event`` decides what to launch; the loop that owns it launches (threads or tasks).
    """

    def __init__(self, agent: Agent, number: int) -> None:
        self.agent = agent
        self.number = number
        self.launched: dict[int, _Launch] = {}
        self.finished: dict[int, ToolCallFinished] = {}
        self.ended_well = False
        self.superseded: list[_Launch] = []

    def _tool_eager(self, name: str) -> bool:
        tool = self.agent.tools.get(name) if self.agent.tools is not None else None
        return tool is not None and tool.eager

    def on_event(
        self, event: Event, stream: ChatStream | AsyncChatStream
    ) -> list[tuple[int, str, str, Any, bool]]:
        """Returns the launches (index, call_id, name, arguments, eager) this event calls for."""
        if isinstance(event, ToolCallReady):
            if (
                event.choice == 0
                and not self.ended_well
                and event.index not in self.launched
                and self._tool_eager(event.name)
            ):
                return [(event.index, event.id, event.name, event.parsed, True)]
        elif isinstance(event, ToolCallFinished):
            if event.choice != 0:
                return []
            self.finished[event.index] = event
            early = self.launched.get(event.index)
            if early is not None and (event.error is not None or event.parsed != early.arguments):
                # Arguments changed after they first closed (a rare provider quirk): the eager
                # run answered another question, so it is dropped and the call starts afresh.
                self.superseded.append(self.launched.pop(event.index))
            if self.ended_well:
                return self.pending()
        elif (
            isinstance(event, Finish)
            and event.choice == 0
            and event.reason not in BAD_FINISH_REASONS
            # A chunk lost or an error before the finish may have taken part of a call with it.
            and not stream.faulted
        ):
            self.ended_well = True
            return self.pending()
        return []

    def pending(self) -> list[tuple[int, str, str, Any, bool]]:
        """Finished calls not launched yet."""
        out = []
        for index, event in sorted(self.finished.items()):
            if index not in self.launched:
                arguments = event.arguments if event.error is not None else event.parsed
                out.append((index, event.id, event.name, arguments, False))
        return out

    def in_flight(self) -> list[_Launch]:
        return [launch for launch in self.launched.values() if not launch.reported]

    def failure(
        self,
        stream: ChatStream | AsyncChatStream | None,
        exc: BaseException | None,
        messages: list[dict[str, Any]],
        result: AgentResult,
    ) -> TurnFailed:
        """The ``TurnFailed`` for this turn, from the stream's state and the error, if any."""
        partial = stream.message() if stream is not None and stream.bytes_received else None
        reason, detail = "api_error", ""
        if isinstance(exc, StreamProviderError):
            reason, detail = "provider_error", exc.error.message
        elif isinstance(exc, StreamStalled):
            reason = "stalled"
        elif isinstance(exc, IncompleteStream):
            reason = "incomplete"
        elif isinstance(exc, MalformedStream):
            reason = "malformed"
        elif exc is None and stream is not None:
            reason = stream.finish_reason or "incomplete"
        what = {
            "length": "the output hit the token limit (finish_reason 'length')",
            "content_filter": "the provider's content filter stopped the output",
            "error": "the provider ended the output with finish_reason 'error'",
            "provider_error": f"the provider sent an error in the stream: {detail}",
            "stalled": "the stream stalled",
            "incomplete": "the stream was cut before its end",
            "malformed": "the stream held a chunk that could not be parsed",
            "api_error": f"the request failed: {exc}",
        }.get(reason, f"finish_reason {reason!r}")
        retryable = bool(getattr(exc, "retryable", True)) if exc is not None else True
        err = TurnFailed(
            f"turn {self.number} failed: {what}; none of its tool calls ran",
            reason=reason,
            turn=self.number,
            partial_message=partial,
            messages=list(messages),
            result=result,
            retryable=retryable,
        )
        err.__cause__ = exc
        return err


class Agent:
    """Runs a model with tools until it answers without calling one (see the module doc).

    ``client`` is a ``Client`` (for ``run``/``stream``) or an ``AsyncClient`` (for
    ``arun``/``astream``); ``tools`` a ``ToolRegistry``; ``system`` a system prompt put first
    unless the messages already start with a system or developer message; ``params`` extra
    request fields (``temperature``, ``tool_choice``, ...). ``keep_reasoning`` keeps
    ``reasoning_content`` in the transcript (some providers reject it in requests).
    """

    def __init__(
        self,
        client: Client | AsyncClient,
        *,
        model: str,
        tools: ToolRegistry | None = None,
        system: str | None = None,
        max_turns: int = 8,
        params: Mapping[str, Any] | None = None,
        keep_reasoning: bool = False,
    ) -> None:
        if max_turns < 1:
            raise ValueError("max_turns must be at least 1")
        self.client = client
        self.model = model
        self.tools = tools
        self.system = system
        self.max_turns = max_turns
        self.params = dict(params or {})
        self.keep_reasoning = keep_reasoning

    def __repr__(self) -> str:
        names = self.tools.names if self.tools is not None else []
        return f"Agent(model={self.model!r}, tools={names!r}, max_turns={self.max_turns})"

    # -- shared helpers

    def _transcript(self, messages: str | Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        if isinstance(messages, str):
            transcript: list[dict[str, Any]] = [{"role": "user", "content": messages}]
        else:
            transcript = [dict(m) for m in messages]
        if self.system is not None and (
            not transcript or transcript[0].get("role") not in ("system", "developer")
        ):
            transcript.insert(0, {"role": "system", "content": self.system})
        return transcript

    def _request(self, transcript: list[dict[str, Any]]) -> dict[str, Any]:
        request: dict[str, Any] = {"model": self.model, "messages": transcript, **self.params}
        if self.tools is not None and len(self.tools):
            request["tools"] = self.tools
        return request

    def _assistant_message(self, stream: ChatStream | AsyncChatStream) -> dict[str, Any]:
        message = stream.message()
        if not self.keep_reasoning:
            message.pop("reasoning_content", None)
        return message

    @staticmethod
    def _ordered_runs(message: Mapping[str, Any], runs: Mapping[int, ToolRun]) -> list[ToolRun]:
        """The runs in the order of the message's ``tool_calls`` (matched by id)."""
        by_id: dict[str, list[ToolRun]] = {}
        for index in sorted(runs):
            by_id.setdefault(runs[index].call_id, []).append(runs[index])
        ordered = []
        for call in message.get("tool_calls") or []:
            bucket = by_id.get(call.get("id", ""))
            if bucket:
                ordered.append(bucket.pop(0))
        leftovers = [run for bucket in by_id.values() for run in bucket]
        return ordered + leftovers

    def _close_turn(
        self,
        turn: _Turn,
        stream: ChatStream | AsyncChatStream,
        runs: Mapping[int, ToolRun],
        transcript: list[dict[str, Any]],
        result: AgentResult,
    ) -> tuple[TurnFinished, bool]:
        """Appends the turn to the transcript; returns its event and whether the run is over."""
        message = self._assistant_message(stream)
        transcript.append(message)
        ordered = self._ordered_runs(message, runs)
        for run in ordered:
            run.turn = turn.number
            transcript.append(run.tool_message())
        result.tool_runs.extend(ordered)
        usage = stream.usage
        if usage:
            _add_usage(result.usage, usage)
        event = TurnFinished(turn.number, message, stream.finish_reason, usage, tuple(ordered))
        return event, not message.get("tool_calls")

    def _stream_failed(
        self, turn: _Turn, stream: ChatStream | AsyncChatStream, exc: StreamError
    ) -> bool:
        """Whether a stream error can be ignored: the model had already ended its turn well."""
        if turn.ended_well:
            logger.warning(
                "turn %d: the stream failed after the model ended its turn (%s); "
                "keeping the complete message",
                turn.number,
                type(exc).__name__,
            )
            return True
        return False

    # -- sync

    def run(self, messages: str | Sequence[Mapping[str, Any]]) -> AgentResult:
        """Runs to the end and returns the result (a string is one user message)."""
        result: AgentResult | None = None
        for event in self.stream(messages):
            if isinstance(event, RunFinished):
                result = event.result
        assert result is not None
        return result

    def stream(self, messages: str | Sequence[Mapping[str, Any]]) -> Iterator[AgentEvent]:
        """Runs the loop, yielding the stream's events and the agent's own (``TurnStarted``,
        ``ToolRunStarted``, ``ToolRunFinished``, ``TurnFinished``, finally ``RunFinished``)."""
        client = self.client
        if not isinstance(client, Client):
            raise TypeError(
                "Agent.run/stream need a toolwire.Client; use arun/astream with an AsyncClient"
            )
        origin = time.perf_counter()
        transcript = self._transcript(messages)
        result = AgentResult(messages=transcript)
        registry = self.tools if self.tools is not None else ToolRegistry()

        def launch(turn: _Turn, spec: tuple[int, str, str, Any, bool]) -> ToolRunStarted:
            index, call_id, name, arguments, eager = spec
            future = _start_thread(
                functools.partial(registry.run, name, arguments, call_id=call_id, origin=origin)
            )
            turn.launched[index] = _Launch(index, call_id, name, arguments, eager, future)
            return ToolRunStarted(turn.number, index, call_id, name, arguments, eager)

        def done_events(turn: _Turn, runs: dict[int, ToolRun]) -> Iterator[ToolRunFinished]:
            for launch_ in turn.in_flight():
                if launch_.handle.done():
                    launch_.reported = True
                    run = launch_.handle.result()
                    run.eager = launch_.eager
                    run.turn = turn.number
                    runs[launch_.index] = run
                    yield ToolRunFinished(turn.number, run)

        for number in range(1, self.max_turns + 1):
            result.turns = number
            yield TurnStarted(number)
            turn = _Turn(self, number)
            runs: dict[int, ToolRun] = {}
            stream: ChatStream | None = None
            try:
                stream = client.stream_chat(**self._request(transcript))
                with stream:
                    for batch in stream.iter_batches():
                        for event in batch:
                            yield event
                            for spec in turn.on_event(event, stream):
                                yield launch(turn, spec)
                        yield from done_events(turn, runs)
            except StreamError as exc:
                if stream is None or not self._stream_failed(turn, stream, exc):
                    result.duration_ms = (time.perf_counter() - origin) * 1000
                    raise turn.failure(stream, exc, transcript, result) from exc
            except APIError as exc:
                result.duration_ms = (time.perf_counter() - origin) * 1000
                raise turn.failure(stream, exc, transcript, result) from exc
            assert stream is not None
            if not turn.ended_well:
                if stream.finish_reason in BAD_FINISH_REASONS or not stream.accumulator.done:
                    result.duration_ms = (time.perf_counter() - origin) * 1000
                    raise turn.failure(stream, None, transcript, result)
                turn.ended_well = True  # [DONE] without a finish reason: the turn is complete
                for spec in turn.pending():
                    yield launch(turn, spec)
            while turn.in_flight():
                concurrent.futures.wait(
                    [launch_.handle for launch_ in turn.in_flight()],
                    return_when=concurrent.futures.FIRST_COMPLETED,
                )
                yield from done_events(turn, runs)
            finished, over = self._close_turn(turn, stream, runs, transcript, result)
            yield finished
            if over:
                result.duration_ms = (time.perf_counter() - origin) * 1000
                yield RunFinished(result)
                return
        result.duration_ms = (time.perf_counter() - origin) * 1000
        raise MaxTurnsExceeded(
            f"the model still called tools after max_turns={self.max_turns} turns; "
            "continue with agent.run(err.messages) or raise max_turns",
            messages=list(transcript),
            result=result,
        )

    # -- async

    async def arun(self, messages: str | Sequence[Mapping[str, Any]]) -> AgentResult:
        """Async twin of ``run`` (needs an ``AsyncClient``)."""
        result: AgentResult | None = None
        async for event in self.astream(messages):
            if isinstance(event, RunFinished):
                result = event.result
        assert result is not None
        return result

    async def astream(
        self, messages: str | Sequence[Mapping[str, Any]]
    ) -> AsyncIterator[AgentEvent]:
        """Async twin of ``stream``: async tools are tasks, sync tools run in worker threads;
        eager runs of a failed turn are cancelled."""
        client = self.client
        if not isinstance(client, AsyncClient):
            raise TypeError(
                "Agent.arun/astream need a toolwire.AsyncClient; use run/stream with a Client"
            )
        origin = time.perf_counter()
        transcript = self._transcript(messages)
        result = AgentResult(messages=transcript)
        registry = self.tools if self.tools is not None else ToolRegistry()

        def launch(turn: _Turn, spec: tuple[int, str, str, Any, bool]) -> ToolRunStarted:
            index, call_id, name, arguments, eager = spec
            task = asyncio.ensure_future(
                registry.arun(name, arguments, call_id=call_id, origin=origin)
            )
            turn.launched[index] = _Launch(index, call_id, name, arguments, eager, task)
            return ToolRunStarted(turn.number, index, call_id, name, arguments, eager)

        def done_events(turn: _Turn, runs: dict[int, ToolRun]) -> list[ToolRunFinished]:
            out = []
            for launch_ in turn.in_flight():
                if launch_.handle.done():
                    launch_.reported = True
                    run = launch_.handle.result()
                    run.eager = launch_.eager
                    run.turn = turn.number
                    runs[launch_.index] = run
                    out.append(ToolRunFinished(turn.number, run))
            return out

        async def cancel(turn: _Turn) -> None:
            handles = [launch_.handle for launch_ in [*turn.launched.values(), *turn.superseded]]
            for handle in handles:
                handle.cancel()
            if handles:
                await asyncio.gather(*handles, return_exceptions=True)

        for number in range(1, self.max_turns + 1):
            result.turns = number
            yield TurnStarted(number)
            turn = _Turn(self, number)
            runs: dict[int, ToolRun] = {}
            stream: AsyncChatStream | None = None
            try:
                try:
                    stream = client.stream_chat(**self._request(transcript))
                    async with stream:
                        async for batch in stream.aiter_batches():
                            for event in batch:
                                yield event
                                for spec in turn.on_event(event, stream):
                                    yield launch(turn, spec)
                            for done in done_events(turn, runs):
                                yield done
                except StreamError as exc:
                    if stream is None or not self._stream_failed(turn, stream, exc):
                        result.duration_ms = (time.perf_counter() - origin) * 1000
                        raise turn.failure(stream, exc, transcript, result) from exc
                except APIError as exc:
                    result.duration_ms = (time.perf_counter() - origin) * 1000
                    raise turn.failure(stream, exc, transcript, result) from exc
                assert stream is not None
                if not turn.ended_well:
                    if stream.finish_reason in BAD_FINISH_REASONS or not stream.accumulator.done:
                        result.duration_ms = (time.perf_counter() - origin) * 1000
                        raise turn.failure(stream, None, transcript, result)
                    turn.ended_well = True
                    for spec in turn.pending():
                        yield launch(turn, spec)
                for launch_ in turn.superseded:
                    launch_.handle.cancel()
                while turn.in_flight():
                    await asyncio.wait(
                        [launch_.handle for launch_ in turn.in_flight()],
                        return_when=asyncio.FIRST_COMPLETED,
                    )
                    for done in done_events(turn, runs):
                        yield done
            except BaseException:
                await cancel(turn)
                raise
            finished, over = self._close_turn(turn, stream, runs, transcript, result)
            yield finished
            if over:
                result.duration_ms = (time.perf_counter() - origin) * 1000
                yield RunFinished(result)
                return
        result.duration_ms = (time.perf_counter() - origin) * 1000
        raise MaxTurnsExceeded(
            f"the model still called tools after max_turns={self.max_turns} turns; "
            "continue with agent.arun(err.messages) or raise max_turns",
            messages=list(transcript),
            result=result,
        )
