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
received). The calls of a turn run concurrently (sync tools in worker threads), at most
``max_parallel_tools`` at a time; the rest wait their turn. Then one assistant message holding
the text and every call of the turn is appended, followed by one tool message per call, in call
order, each answering the id the call finally has (an id that arrived late, or the one generated
for a call sent without id), and the next turn starts.

The arguments are judged by the Rust core when the call finishes: a call it finished with an
error (not valid JSON, ``NaN``, nesting over its depth limit) or whose value Python cannot build
(an integer of more than 4300 digits) never runs; the model gets an ``invalid_arguments`` result.

The run ends with the first turn that has no tool call (a text preamble followed by calls does
not end it). A turn is judged by the core's ``outcome``, the same words for every wire format:
a turn that did not end well -- the output limit (chat ``length``, Anthropic ``max_tokens``, a
Responses ``incomplete``), a content filter, an error object in the stream, an end the core does
not know as normal (``other``), a cut or stalled stream, an HTTP error, any exception from the
client or the stream -- raises ``TurnFailed`` carrying what was parsed and the transcript so
far; reaching ``max_turns`` raises ``MaxTurnsExceeded``. Both let you continue with
``agent.run(err.messages)``: the transcript holds every complete turn, so a tool with side
effects never runs twice. Everything that ran is also in ``err.result.tool_runs``: of a failed
turn, the eager tools that ran while the model streamed (not in the transcript; running them
again on a retry is harmless by their declaration), or, when the exception came after the model
had ended the turn well (a bad usage chunk), every call of the turn, kept whole in the
transcript.

``Agent.run``/``stream`` need a ``Client``; ``arun``/``astream`` an ``AsyncClient`` (asyncio).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import logging
import math
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Union

from toolwire._core import Finish, LimitExceeded, ParseError, ToolCallFinished, ToolCallReady
from toolwire._dialects import NATIVE
from toolwire._metrics.probe import (
    MetricsOption,
    RunObserver,
    TelemetryOption,
    check_options,
    resolve_stats,
    resolve_telemetry,
)
from toolwire.client import AsyncChatStream, AsyncClient, ChatStream, Client
from toolwire.errors import (
    APIError,
    IncompleteStream,
    MalformedStream,
    MaxTurnsExceeded,
    StreamDeadlineExceeded,
    StreamError,
    StreamProviderError,
    StreamStalled,
    TurnFailed,
)
from toolwire.tools import (
    ToolError,
    ToolRegistry,
    ToolRun,
    _Lane,
    _not_json,
    _unrepresentable,
)

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

#: Outcomes (``StreamAccumulator.outcome``, ``Finish.outcome``) after which a turn's calls run.
GOOD_OUTCOMES = frozenset({"stop", "tool_calls"})

#: Default of ``Agent(max_parallel_tools=...)``. Tools are mostly I/O-bound (HTTP, databases),
#: so a CPU-count cap would queue waits behind waits; ``ThreadPoolExecutor`` tops out at 32
#: workers for the same reason. Real turns rarely hold more than a few dozen calls, so they run
#: fully parallel, while a runaway turn (1,024 calls) holds 32 threads instead of hundreds.
DEFAULT_MAX_PARALLEL_TOOLS = 32

#: Usage nested deeper than this is ignored (providers nest two levels).
_USAGE_DEPTH = 8


@dataclass
class AgentResult:
    """The outcome of a run (or of the run so far, on ``AgentError.result``).

    ``messages`` is the whole transcript, ready to extend and send again; ``tool_runs`` every
    tool execution in call order (on ``TurnFailed.result`` also the runs of the failed turn:
    eager runs, which are not in ``messages``, unless the whole turn was kept); ``usage`` the
    provider's usage summed over turns (numbers only, the provider's keys); ``token_usage`` the
    same in one shape for every api (``input_tokens``, ``output_tokens``, ``total_tokens``; empty
    when the provider sent no usage); ``turns`` the number of model turns;
    ``duration_ms`` the wall time of the run.
    """

    messages: list[dict[str, Any]]
    tool_runs: list[ToolRun] = field(default_factory=list)
    usage: dict[str, Any] = field(default_factory=dict)
    token_usage: dict[str, int] = field(default_factory=dict)
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
    """A tool call is launched; ``eager`` when the model was still streaming. It runs at once,
    or as soon as one of the turn's ``max_parallel_tools`` slots is free. ``call_id`` may still
    be ``""`` for an eager call whose id has not arrived; ``ToolRunFinished.run.call_id`` and
    the transcript carry the final one."""

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


def _is_number(value: object) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, int)


def _add_usage(total: dict[str, Any], usage: object, depth: int = 0) -> None:
    """Sums numbers key by key (nested dicts too). Anything else is ignored: usage comes from
    the provider as sent (``"usage": 5`` has been seen) and must not break a finished turn."""
    if not isinstance(usage, Mapping) or depth > _USAGE_DEPTH:
        return
    for key, value in usage.items():
        if _is_number(value):
            current = total.get(key)
            total[key] = (current if _is_number(current) else 0) + value
        elif isinstance(value, Mapping):
            nested = total.get(key)
            if not isinstance(nested, dict):
                nested = {}
            _add_usage(nested, value, depth + 1)
            if nested:
                total[key] = nested


def _usage_of(stream: ChatStream | AsyncChatStream) -> dict[str, Any] | None:
    """The stream's usage when it is a dict, else None."""
    try:
        usage = stream.usage
    except Exception:  # noqa: BLE001 - a usage that cannot be read is no reason to lose a turn
        return None
    return usage if isinstance(usage, dict) else None


def _verdict(event: ToolCallFinished) -> tuple[Any, str | None]:
    """The arguments to run a finished call with, or its raw text and why it must not run.

    The core's verdict is final: text it rejected is never read again by a more lenient parser
    (Python's json accepts ``NaN`` and nests until ``RecursionError``).
    """
    error = event.error
    if error is not None:
        return event.arguments, _not_json(error)
    try:
        return event.parsed, None
    except Exception as exc:  # noqa: BLE001 - e.g. an integer of more than 4300 digits
        return event.arguments, _unrepresentable(exc)


def _changed(new: Any, old: Any) -> bool:
    try:
        return bool(new != old)
    except Exception:  # noqa: BLE001 - values that cannot be compared: run again, to be safe
        return True


@dataclass(frozen=True)
class _Spec:
    """A call to launch, with its arguments, or with why they cannot be used (``problem``:
    the call gets an error result and nothing runs)."""

    index: int
    call_id: str
    name: str
    arguments: Any
    eager: bool
    problem: str | None = None


@dataclass
class _Launch:
    """One started execution of a call, with the arguments it started with."""

    index: int
    call_id: str  # updated when the call finishes: the id may arrive after the arguments
    name: str
    arguments: Any
    eager: bool
    handle: Any  # concurrent.futures.Future[ToolRun] or asyncio.Future[ToolRun]
    reported: bool = False


class _Turn:
    """The bookkeeping of one turn, shared by the sync and async loops.

    ``on_event`` decides what to launch; the loop that owns it launches (threads or tasks).
    Runs are keyed by the call's index, never by id: an id may be empty when an eager run
    starts and is final only when the call finishes.
    """

    def __init__(self, agent: Agent, number: int, observer: RunObserver | None = None) -> None:
        self.agent = agent
        self.number = number
        self.observer = observer
        self.launched: dict[int, _Launch] = {}
        self.finished: dict[int, _Spec] = {}
        self.runs: dict[int, ToolRun] = {}
        self.ended_well = False
        self.superseded: list[_Launch] = []

    def _tool_eager(self, name: str) -> bool:
        tool = self.agent.tools.get(name) if self.agent.tools is not None else None
        return tool is not None and tool.eager

    def on_event(self, event: Event, stream: ChatStream | AsyncChatStream) -> list[_Spec]:
        """The launches this event calls for."""
        if isinstance(event, ToolCallReady):
            probe = stream._probe
            if probe is not None:
                probe.call_ready(event.name, event.id)
            if (
                event.choice == 0
                and not self.ended_well
                and event.index not in self.launched
                and self._tool_eager(event.name)
            ):
                try:
                    arguments = event.parsed
                except Exception:  # noqa: BLE001 - judged, and reported, when the call finishes
                    return []
                return [_Spec(event.index, event.id, event.name, arguments, True)]
        elif isinstance(event, ToolCallFinished):
            if event.choice != 0:
                return []
            arguments, problem = _verdict(event)
            self.finished[event.index] = _Spec(
                event.index, event.id, event.name, arguments, False, problem
            )
            early = self.launched.get(event.index)
            if early is not None:
                early.call_id = event.id
                done = self.runs.get(event.index)
                if done is not None and event.id:
                    done.call_id = event.id
                if problem is not None or _changed(arguments, early.arguments):
                    # Arguments changed after they first closed (a rare provider quirk): the
                    # eager run answered another question, so it is dropped and the call
                    # starts afresh (or gets its error result).
                    self.superseded.append(self.launched.pop(event.index))
            if self.ended_well:
                return self.pending()
        elif (
            isinstance(event, Finish)
            and event.choice == 0
            and event.outcome in GOOD_OUTCOMES
            # A chunk lost or an error before the finish may have taken part of a call with it.
            and not stream.faulted
        ):
            self.ended_well = True
            return self.pending()
        return []

    def pending(self) -> list[_Spec]:
        """Finished calls not launched yet."""
        return [spec for index, spec in sorted(self.finished.items()) if index not in self.launched]

    def add(self, spec: _Spec, handle: Any) -> ToolRunStarted:
        """Records a launch; returns its event."""
        self.launched[spec.index] = _Launch(
            spec.index, spec.call_id, spec.name, spec.arguments, spec.eager, handle
        )
        return ToolRunStarted(
            self.number, spec.index, spec.call_id, spec.name, spec.arguments, spec.eager
        )

    def in_flight(self) -> list[_Launch]:
        return [launch for launch in self.launched.values() if not launch.reported]

    def collect(self) -> list[ToolRunFinished]:
        """Takes in the runs that completed since the last call; returns their events."""
        out = []
        for launch in self.in_flight():
            if not launch.handle.done():
                continue
            launch.reported = True
            try:
                run = launch.handle.result()
            except Exception as exc:  # noqa: BLE001 - the registry never raises; kept anyway
                run = ToolRun(launch.name, launch.arguments)
                run.error = ToolError("exception", f"{launch.name} could not run: {exc}", exc)
                run.content = run.error.content()
            run.eager = launch.eager
            run.turn = self.number
            if launch.call_id:
                run.call_id = launch.call_id
            if self.observer is not None:
                self.observer.ran(run)
            self.runs[launch.index] = run
            out.append(ToolRunFinished(self.number, run))
        return out

    def all_calls_ran(self, stream: ChatStream | AsyncChatStream) -> bool:
        """Whether every call of the message has a run (the turn can go in the transcript)."""
        return all(call.index in self.runs for call in stream.accumulator.calls_of(0))

    def failure(
        self,
        stream: ChatStream | AsyncChatStream | None,
        exc: BaseException | None,
        messages: list[dict[str, Any]],
        result: AgentResult,
        *,
        kept: bool,
    ) -> TurnFailed:
        """The ``TurnFailed`` for this turn, from the stream's state and the error, if any."""
        partial = stream.message() if stream is not None and stream.bytes_received else None
        reason, detail = "api_error", ""
        if isinstance(exc, StreamProviderError):
            # The client's message, not exc.error.message: only the former is redacted (a
            # provider may echo the key in its error).
            reason, detail = "provider_error", exc.message
        elif isinstance(exc, StreamStalled):
            reason = "stalled"
        elif isinstance(exc, StreamDeadlineExceeded):
            reason = "deadline"
        elif isinstance(exc, IncompleteStream):
            reason = "incomplete"
        elif isinstance(exc, (MalformedStream, ParseError, LimitExceeded)):
            # The core's errors count as a malformed stream also when no client wrapped them.
            reason = "malformed"
        elif exc is not None and not isinstance(exc, APIError):
            reason = "exception"
        elif exc is None and stream is not None:
            outcome = stream.accumulator.outcome
            reason = "incomplete" if outcome in (None, "cut") else outcome
        finish = f" (finish_reason {stream.finish_reason!r})" if stream is not None else ""
        what = {
            "length": f"the output hit the token limit{finish}",
            "content_filter": f"the provider's content filter stopped the output{finish}",
            "error": "the provider reported an error in the stream",
            "other": f"the output ended in a way that is not a normal end{finish}",
            "provider_error": detail,
            "stalled": "the stream stalled",
            "deadline": f"the stream ran past its deadline ({exc})",
            "incomplete": "the stream was cut before its end",
            "malformed": f"the stream held a chunk that could not be parsed or hit a limit ({exc})",
            "api_error": f"the request failed: {exc}",
            "exception": f"reading the turn raised {type(exc).__name__}: {exc}",
        }.get(reason, f"finish_reason {reason!r}")
        if isinstance(exc, APIError) or exc is None:
            retryable = bool(getattr(exc, "retryable", True))
        else:
            # A chunk the core could not read may read well when sent again; anything else
            # is a surprise that sending the same request again will likely meet again.
            retryable = isinstance(exc, (ParseError, LimitExceeded))
        ran = [run for run in result.tool_runs if run.turn == self.number]
        names = ", ".join(
            f"{run.name} ({run.call_id or 'no id'}{', eager' if run.eager else ''})" for run in ran
        )
        if kept:
            ran_text = (
                f"; the model had ended the turn, so it is in .messages with its tool runs: {names}"
                if ran
                else "; the model had ended the turn, so it is in .messages"
            )
        elif ran:
            ran_text = f"; tools that ran: {names} (in .result.tool_runs; not in .messages)"
        else:
            ran_text = "; none of its tool calls ran"
        err = TurnFailed(
            f"turn {self.number} failed: {what}{ran_text}",
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
    ``max_parallel_tools`` caps the tool calls of one turn that run at once (threads for sync
    tools, tasks for async ones, eager or not); the others wait and start as slots free, and
    results keep call order. Default ``DEFAULT_MAX_PARALLEL_TOOLS`` (32). A sync tool with a
    timeout uses a second thread, the one left behind if it times out.

    ``name`` names the agent in telemetry (``invoke_agent {name}``). ``metrics`` and
    ``telemetry`` override the client's (``Client(metrics=, telemetry=)``) for this agent's
    runs; None (the default) uses the client's. Tool runs and the moment each call's
    arguments complete are recorded in the ``Stats``; with telemetry, a run is an
    ``invoke_agent`` span, parent of its ``chat`` and ``execute_tool`` spans.
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
        max_parallel_tools: int = DEFAULT_MAX_PARALLEL_TOOLS,
        name: str | None = None,
        metrics: MetricsOption | None = None,
        telemetry: TelemetryOption | None = None,
    ) -> None:
        if max_turns < 1:
            raise ValueError("max_turns must be at least 1")
        if max_parallel_tools < 1:
            raise ValueError("max_parallel_tools must be at least 1")
        check_options(metrics, telemetry, allow_none=True)
        self.client = client
        self.model = model
        self.tools = tools
        self.system = system
        self.max_turns = max_turns
        self.params = dict(params or {})
        self.keep_reasoning = keep_reasoning
        self.max_parallel_tools = max_parallel_tools
        self.name = name
        self.metrics = metrics
        self.telemetry = telemetry

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

    def _observer(self) -> RunObserver | None:
        """The observer of one run, or None when nothing observes it."""
        client = self.client
        metrics = self.metrics if self.metrics is not None else getattr(client, "metrics", False)
        telemetry = self.telemetry
        if telemetry is None:
            telemetry = getattr(client, "telemetry", False)
        stats, tel = resolve_stats(metrics), resolve_telemetry(telemetry)
        if stats is None and tel is None:
            return None
        secret = getattr(client, "_secret", None)
        model = secret.redact(self.model) if secret is not None else self.model
        return RunObserver(stats, tel, getattr(client, "_peer", None), model, self.name)

    def _request(self, transcript: list[dict[str, Any]]) -> dict[str, Any]:
        request: dict[str, Any] = {"model": self.model, "messages": transcript, **self.params}
        if self.tools is not None and len(self.tools):
            request["tools"] = self.tools
        return request

    def _assistant_message(self, stream: ChatStream | AsyncChatStream) -> dict[str, Any]:
        message = stream.message()
        if not self.keep_reasoning:
            message.pop("reasoning_content", None)
        api = self.client.api
        if api != "chat":
            # The turn as the api sent it goes back to that api unchanged (thinking
            # signatures, reasoning items, call ids); other apis read the canonical fields.
            message[NATIVE] = {"api": api, "message": stream.accumulator.message(native=True)}
        return message

    @staticmethod
    def _ordered_runs(
        stream: ChatStream | AsyncChatStream | None,
        runs: Mapping[int, ToolRun],
        message: Mapping[str, Any] | None = None,
    ) -> list[ToolRun]:
        """The runs in the order of the message's ``tool_calls``, matched by call index; each
        run takes the id its call finally has (late ids and generated ones are known only
        once the call finished, and the tool message must answer the assistant message)."""
        calls = stream.accumulator.calls_of(0) if stream is not None else []
        ids = [call.id for call in calls]
        listed = message.get("tool_calls") if message is not None else None
        if isinstance(listed, list) and len(listed) == len(calls):
            ids = [
                str(entry.get("id") or call.id) for entry, call in zip(listed, calls, strict=False)
            ]
        ordered = []
        placed: set[int] = set()
        for call, call_id in zip(calls, ids, strict=False):
            run = runs.get(call.index)
            if run is None or call.index in placed:
                continue
            if call_id:
                run.call_id = call_id
            ordered.append(run)
            placed.add(call.index)
        ordered.extend(runs[index] for index in sorted(runs) if index not in placed)
        return ordered

    def _close_turn(
        self,
        turn: _Turn,
        stream: ChatStream | AsyncChatStream,
        transcript: list[dict[str, Any]],
        result: AgentResult,
    ) -> tuple[TurnFinished, bool]:
        """Appends the turn to the transcript; returns its event and whether the run is over."""
        message = self._assistant_message(stream)
        transcript.append(message)
        ordered = self._ordered_runs(stream, turn.runs, message)
        for run in ordered:
            run.turn = turn.number
            transcript.append(run.tool_message())
        result.tool_runs.extend(ordered)
        usage = _usage_of(stream)
        if usage:
            _add_usage(result.usage, usage)
            _add_usage(result.token_usage, stream.accumulator.token_usage)
        event = TurnFinished(turn.number, message, stream.finish_reason, usage, tuple(ordered))
        return event, not message.get("tool_calls")

    def _turn_ok(
        self, turn: _Turn, stream: ChatStream | AsyncChatStream | None, error: Exception | None
    ) -> bool:
        """Whether the turn's calls may run, once the stream is over."""
        if error is not None or stream is None:
            return False
        if turn.ended_well:
            return True
        # The format's end marker without a finish reason is a complete turn ("stop"); a bad
        # reason, a provider error or a cut is not.
        return stream.accumulator.outcome in GOOD_OUTCOMES

    def _fail_turn(
        self,
        turn: _Turn,
        stream: ChatStream | AsyncChatStream | None,
        error: Exception | None,
        transcript: list[dict[str, Any]],
        result: AgentResult,
        origin: float,
    ) -> tuple[TurnFailed, TurnFinished | None]:
        """The error for a failed turn whose runs are all over, and the ``TurnFinished`` of the
        turn when it is kept.

        The turn is kept in the transcript when the model had ended it well and every call
        ran: the exception came after (a usage chunk), and running those tools again on a
        retry would repeat their side effects. Otherwise only its runs are recorded.
        """
        kept = None
        ended_well = error is not None and turn.ended_well and stream is not None
        if ended_well and stream is not None and turn.all_calls_ran(stream):
            kept, _ = self._close_turn(turn, stream, transcript, result)
        if kept is None:
            for run in self._ordered_runs(stream, turn.runs):
                run.turn = turn.number
                result.tool_runs.append(run)
        result.duration_ms = (time.perf_counter() - origin) * 1000
        return turn.failure(stream, error, transcript, result, kept=kept is not None), kept

    def _ignorable(
        self, turn: _Turn, stream: ChatStream | AsyncChatStream | None, exc: Exception
    ) -> bool:
        """Whether an error can be ignored: a stream error after the model ended its turn
        well (anything else fails the turn, with the tools that ran kept)."""
        if isinstance(exc, StreamError) and stream is not None and turn.ended_well:
            logger.warning(
                "turn %d: the stream failed after the model ended its turn (%s); "
                "keeping the complete message",
                turn.number,
                type(exc).__name__,
            )
            return True
        return False

    # -- sync

    def _begin(
        self, messages: str | Sequence[Mapping[str, Any]]
    ) -> tuple[float, list[dict[str, Any]], AgentResult, ToolRegistry]:
        """A run's clock origin, transcript, result and registry."""
        transcript = self._transcript(messages)
        registry = self.tools if self.tools is not None else ToolRegistry()
        return time.perf_counter(), transcript, AgentResult(messages=transcript), registry

    @staticmethod
    def _rejected(registry: ToolRegistry, spec: _Spec, origin: float) -> ToolRun:
        """The run of a call that must not execute (its arguments were refused)."""
        assert spec.problem is not None
        return registry._rejected(
            spec.name, spec.arguments, spec.problem, call_id=spec.call_id, origin=origin
        )

    def _end_turn(
        self,
        turn: _Turn,
        stream: ChatStream | AsyncChatStream | None,
        ok: bool,
        error: Exception | None,
        transcript: list[dict[str, Any]],
        result: AgentResult,
        origin: float,
    ) -> tuple[list[AgentEvent], TurnFailed | None, bool]:
        """Once the turn's runs are over: the events to yield, the failure to raise after them
        (a turn that ended badly), and whether the run is over."""
        if not ok:
            failure, kept = self._fail_turn(turn, stream, error, transcript, result, origin)
            return ([kept] if kept is not None else []), failure, True
        assert stream is not None
        finished, over = self._close_turn(turn, stream, transcript, result)
        events: list[AgentEvent] = [finished]
        if over:
            result.duration_ms = (time.perf_counter() - origin) * 1000
            events.append(RunFinished(result))
        return events, None, over

    def _max_turns(
        self, transcript: list[dict[str, Any]], result: AgentResult, origin: float, run: str
    ) -> MaxTurnsExceeded:
        result.duration_ms = (time.perf_counter() - origin) * 1000
        return MaxTurnsExceeded(
            f"the model still called tools after max_turns={self.max_turns} turns; "
            f"continue with agent.{run}(err.messages) or raise max_turns",
            messages=list(transcript),
            result=result,
        )

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
        observer = self._observer()
        events = self._stream(messages, observer)
        # Only a traced run needs a wrapper (its span must end however the run ends).
        return events if observer is None or observer.telemetry is None else observer.traced(events)

    def _stream(
        self, messages: str | Sequence[Mapping[str, Any]], observer: RunObserver | None
    ) -> Iterator[AgentEvent]:
        client = self.client
        if not isinstance(client, Client):
            raise TypeError(
                "Agent.run/stream need a toolwire.Client; use arun/astream with an AsyncClient"
            )
        origin, transcript, result, registry = self._begin(messages)
        if observer is not None:
            observer.result = result

        def launch(turn: _Turn, lane: _Lane, spec: _Spec) -> ToolRunStarted:
            handle: concurrent.futures.Future[ToolRun]
            if spec.problem is not None:
                run: Callable[[], ToolRun] = functools.partial(
                    self._rejected, registry, spec, origin
                )
            else:
                run = functools.partial(
                    registry.run, spec.name, spec.arguments, call_id=spec.call_id, origin=origin
                )
            if observer is not None:
                run = observer.tool(spec.name, spec.call_id, spec.arguments, run)
            if spec.problem is not None:
                handle = concurrent.futures.Future()
                handle.set_result(run())
            else:
                handle = lane.submit(run)
            return turn.add(spec, handle)

        for number in range(1, self.max_turns + 1):
            result.turns = number
            yield TurnStarted(number)
            turn = _Turn(self, number, observer)
            lane = _Lane(self.max_parallel_tools)
            stream: ChatStream | None = None
            error: Exception | None = None
            try:
                stream = client.stream_chat(**self._request(transcript))
                if observer is not None:
                    observer.adopt(stream)
                with stream:
                    for batch in stream.iter_batches():
                        for event in batch:
                            yield event
                            for spec in turn.on_event(event, stream):
                                yield launch(turn, lane, spec)
                        yield from turn.collect()
            except Exception as exc:  # noqa: BLE001 - any failure keeps the transcript
                if not self._ignorable(turn, stream, exc):
                    error = exc
            ok = self._turn_ok(turn, stream, error)
            if ok and not turn.ended_well:
                turn.ended_well = True
                for spec in turn.pending():
                    yield launch(turn, lane, spec)
            # Started runs are awaited even when the turn failed: a thread cannot be stopped,
            # and the failure must say which tools ran.
            while turn.in_flight():
                concurrent.futures.wait(
                    [launch_.handle for launch_ in turn.in_flight()],
                    return_when=concurrent.futures.FIRST_COMPLETED,
                )
                yield from turn.collect()
            events, failure, over = self._end_turn(
                turn, stream, ok, error, transcript, result, origin
            )
            yield from events
            if failure is not None:
                raise failure
            if over:
                return
        raise self._max_turns(transcript, result, origin, "run")

    # -- async

    async def arun(self, messages: str | Sequence[Mapping[str, Any]]) -> AgentResult:
        """Async twin of ``run`` (needs an ``AsyncClient``)."""
        result: AgentResult | None = None
        async for event in self.astream(messages):
            if isinstance(event, RunFinished):
                result = event.result
        assert result is not None
        return result

    def astream(self, messages: str | Sequence[Mapping[str, Any]]) -> AsyncIterator[AgentEvent]:
        """Async twin of ``stream``: async tools are tasks, sync tools run in worker threads;
        cancelling the run cancels the turn's tools."""
        observer = self._observer()
        events = self._astream(messages, observer)
        if observer is None or observer.telemetry is None:
            return events
        return observer.atraced(events)

    async def _astream(
        self, messages: str | Sequence[Mapping[str, Any]], observer: RunObserver | None
    ) -> AsyncIterator[AgentEvent]:
        client = self.client
        if not isinstance(client, AsyncClient):
            raise TypeError(
                "Agent.arun/astream need a toolwire.AsyncClient; use run/stream with a Client"
            )
        origin, transcript, result, registry = self._begin(messages)
        if observer is not None:
            observer.result = result

        async def limited(slots: asyncio.Semaphore, spec: _Spec) -> ToolRun:
            async with slots:
                run = functools.partial(
                    registry.arun, spec.name, spec.arguments, call_id=spec.call_id, origin=origin
                )
                if observer is None:
                    return await run()
                return await observer.atool(spec.name, spec.call_id, spec.arguments, run)

        def launch(turn: _Turn, slots: asyncio.Semaphore, spec: _Spec) -> ToolRunStarted:
            handle: asyncio.Future[ToolRun]
            if spec.problem is not None:
                handle = asyncio.get_running_loop().create_future()
                rejected: Callable[[], ToolRun] = functools.partial(
                    self._rejected, registry, spec, origin
                )
                if observer is not None:
                    rejected = observer.tool(spec.name, spec.call_id, spec.arguments, rejected)
                handle.set_result(rejected())
            else:
                handle = asyncio.ensure_future(limited(slots, spec))
            return turn.add(spec, handle)

        async def cancel(turn: _Turn) -> None:
            handles = [launch_.handle for launch_ in [*turn.launched.values(), *turn.superseded]]
            for handle in handles:
                handle.cancel()
            if handles:
                await asyncio.gather(*handles, return_exceptions=True)

        for number in range(1, self.max_turns + 1):
            result.turns = number
            yield TurnStarted(number)
            turn = _Turn(self, number, observer)
            slots = asyncio.Semaphore(self.max_parallel_tools)
            stream: AsyncChatStream | None = None
            error: Exception | None = None
            try:
                try:
                    stream = client.stream_chat(**self._request(transcript))
                    if observer is not None:
                        observer.adopt(stream)
                    async with stream:
                        async for batch in stream.aiter_batches():
                            for event in batch:
                                yield event
                                for spec in turn.on_event(event, stream):
                                    yield launch(turn, slots, spec)
                            for done in turn.collect():
                                yield done
                except Exception as exc:  # noqa: BLE001 - any failure keeps the transcript
                    if not self._ignorable(turn, stream, exc):
                        error = exc
                ok = self._turn_ok(turn, stream, error)
                if ok and not turn.ended_well:
                    turn.ended_well = True
                    for spec in turn.pending():
                        yield launch(turn, slots, spec)
                for launch_ in turn.superseded:
                    launch_.handle.cancel()
                # Started runs are awaited even when the turn failed, as in the sync loop: the
                # failure says which tools ran, the same way in both.
                while turn.in_flight():
                    await asyncio.wait(
                        [launch_.handle for launch_ in turn.in_flight()],
                        return_when=asyncio.FIRST_COMPLETED,
                    )
                    for done in turn.collect():
                        yield done
            except BaseException:
                await cancel(turn)
                raise
            events, failure, over = self._end_turn(
                turn, stream, ok, error, transcript, result, origin
            )
            for agent_event in events:
                yield agent_event
            if failure is not None:
                raise failure
            if over:
                return
        raise self._max_turns(transcript, result, origin, "arun")
