"""Agent and stream events to protocol-neutral moves: the bookkeeping both UI encoders share.

Consumes the core's events (``TextDelta`` ... ``ProviderError``) and the agent's
(``TurnStarted`` ... ``RunFinished``), one network read at a time, and emits ``Move`` values
that an encoder renders in its protocol. It keeps, for every protocol alike:

- a text or reasoning segment opens before its first delta and closes before a tool call
  opens, when the model ends its turn, and when the step ends;
- a call opens once (with its name), its argument fragments follow the opening, its input
  closes once (parsed, or an error), and its output comes once, after its input;
- an eager run that finished before its call did waits for the call; a run the agent dropped
  because the arguments changed after they first closed is dropped here too;
- every call gets an id unique within the message and against ``reserved`` ids (the ids the
  browser already holds): Gemini and Ollama name calls ``call_0``... again in every turn, and
  ids may arrive after the call opened, or never.

Events of a choice other than 0 are ignored: the agent runs choice 0 only, and a UI message
is one message.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from toolwire._core import (
    Finish,
    ProviderError,
    ReasoningDelta,
    TextDelta,
    ToolCallDelta,
    ToolCallFinished,
    ToolCallReady,
    ToolCallStarted,
)
from toolwire.agent import (
    RunFinished,
    ToolRunFinished,
    ToolRunStarted,
    TurnFinished,
    TurnStarted,
)
from toolwire.errors import AgentError, MaxTurnsExceeded, TurnFailed
from toolwire.tools import ToolRun

Kind = Literal["text", "reasoning"]

#: Outcomes in ``StreamAccumulator.outcome``'s words; each encoder maps them to its own.
Outcome = Literal["stop", "tool_calls", "length", "content_filter", "error", "cut", "other"]


@dataclass(frozen=True)
class StepStarted:
    """A model turn (one request to the model) begins."""

    turn: int


@dataclass(frozen=True)
class StepFinished:
    """The turn is over, its tool runs included."""

    turn: int


@dataclass(frozen=True)
class SegmentStarted:
    """A run of text or reasoning opens. ``id`` is unique in the message; ``message_id`` is
    the turn's assistant message, which holds all of the turn's text and calls."""

    kind: Kind
    id: str
    message_id: str


@dataclass(frozen=True)
class SegmentDelta:
    kind: Kind
    id: str
    message_id: str
    text: str


@dataclass(frozen=True)
class SegmentEnded:
    kind: Kind
    id: str
    message_id: str


@dataclass(frozen=True)
class CallStarted:
    call_id: str
    name: str
    message_id: str


@dataclass(frozen=True)
class CallArgs:
    call_id: str
    text: str


@dataclass(frozen=True)
class CallInput:
    """The call's input closed: ``input`` is the parsed arguments, or, with ``error`` set,
    the raw arguments text of a call that must not run (or never finished)."""

    call_id: str
    name: str
    input: Any
    error: str | None = None


@dataclass(frozen=True)
class CallOutput:
    """A run of the call finished; ``message_id`` names the tool message it becomes."""

    call_id: str
    name: str
    run: ToolRun
    message_id: str


@dataclass(frozen=True)
class CallAbandoned:
    """The call's input was complete, but it will never run (its turn failed)."""

    call_id: str
    name: str
    reason: str


@dataclass(frozen=True)
class RunEnded:
    outcome: Outcome
    token_usage: Mapping[str, int] | None = None


@dataclass(frozen=True)
class RunFailed:
    message: str
    outcome: Outcome
    code: str
    error: BaseException | None = None
    token_usage: Mapping[str, int] | None = None


Move = (
    StepStarted
    | StepFinished
    | SegmentStarted
    | SegmentDelta
    | SegmentEnded
    | CallStarted
    | CallArgs
    | CallInput
    | CallOutput
    | CallAbandoned
    | RunEnded
    | RunFailed
)

_NOT_RUN = "the tool did not run: its turn failed"
_NOT_FINISHED = "the model did not finish this call"

# TurnFailed.reason values that are finish reasons of their own; every other reason (a cut,
# a provider error, an HTTP error, an exception) is an error.
_REASON_OUTCOMES: dict[str, Outcome] = {
    "length": "length",
    "content_filter": "content_filter",
    "other": "other",
}


@dataclass
class _Call:
    index: int
    call_id: str
    name: str
    provider_id: str
    started: bool = False
    text: list[str] = field(default_factory=list)  # every fragment, for a call never finished
    pending: int = 0  # fragments not sent yet (the call has no name so far)
    input_done: bool = False
    input_error: bool = False
    final_id: str = ""
    launched: bool = False
    launch_args: Any = None
    reported: bool = False
    held: ToolRun | None = None
    output_done: bool = False


def _same(new: Any, old: Any) -> bool:
    try:
        return bool(new == old)
    except Exception:  # noqa: BLE001 - values that cannot be compared count as changed
        return False


def _argument_error(error: BaseException) -> str:
    return f"the arguments are not valid: {error}"


class Tracker:
    """The state of one UI message (one agent run, or one stream of a ``StreamAccumulator``).

    ``feed`` takes the events of one read (or one batch) and returns their moves, with the
    deltas of the batch coalesced: one text delta per segment and one argument fragment per
    call for each run of consecutive deltas. ``fail`` and ``end`` close what is open and
    end the message; after either, ``feed`` returns nothing.
    """

    def __init__(self, *, id_prefix: str | None = None, reserved: Iterable[str] = ()) -> None:
        self.prefix = id_prefix or uuid.uuid4().hex[:12]
        self.used: set[str] = set(reserved)
        self.agent_mode = False
        self.turn = 0
        self.step_open = False
        self.segment: SegmentStarted | None = None
        self.segments = 0
        self.calls: dict[int, _Call] = {}
        self.turn_outcome: Outcome | None = None
        self.last_outcome: Outcome | None = None
        self.provider_error: str | None = None
        self.ended = False

    # -- public

    def feed(self, events: Iterable[object]) -> list[Move]:
        """The moves of a batch of events (in order)."""
        if self.ended:
            return []
        moves: list[Move] = []
        for event in events:
            self._event(event, moves)
            if self.ended:
                break
        return coalesce(moves)

    def fail(
        self, error: BaseException | str, *, message: str | None = None, code: str | None = None
    ) -> list[Move]:
        """Closes everything after ``error`` ended the run (``message`` is what the user is
        told, by default ``str(error)``)."""
        if self.ended:
            return []
        moves: list[Move] = []
        self._close_step(moves, failed=True)
        exc = error if isinstance(error, BaseException) else None
        outcome: Outcome = "error"
        if isinstance(error, TurnFailed):
            outcome = _REASON_OUTCOMES.get(error.reason, "error")
        elif isinstance(error, MaxTurnsExceeded):
            outcome = "tool_calls"
        usage = (
            getattr(error.result, "token_usage", None) if isinstance(error, AgentError) else None
        )
        moves.append(
            RunFailed(
                message if message is not None else str(error),
                outcome,
                code if code is not None else _code(error),
                exc,
                usage or None,
            )
        )
        self.ended = True
        return moves

    def end(
        self, outcome: Outcome | str | None = None, token_usage: Mapping[str, int] | None = None
    ) -> list[Move]:
        """Ends the message after the last event. Without an agent, ``outcome`` is the
        accumulator's (``acc.outcome``; by default the last ``Finish`` event's): an error or a
        cut stream ends it as failed; the calls it left stay as they are (their runs are the
        caller's business), unless they never finished."""
        if self.ended:
            return []
        final = outcome or self.turn_outcome or self.last_outcome
        if final in ("error", "cut") or (final is None and self.provider_error is not None):
            why = self.provider_error or (
                "the stream was cut before its end" if final == "cut" else "the stream failed"
            )
            return self.fail(why, code="provider_error" if self.provider_error else str(final))
        moves: list[Move] = []
        self._close_step(moves, failed=False)
        moves.append(RunEnded(_as_outcome(final), token_usage or None))
        self.ended = True
        return moves

    # -- ids

    def _allocate(self, provider_id: str, index: int) -> str:
        """A call id unique within the message: the provider's when it is new, else the
        provider's (or ``call_<index>``) suffixed with the turn, then a counter."""
        base = provider_id or f"call_{index}"
        candidate = base
        if candidate in self.used:
            candidate = f"{base}_t{self.turn}"
            n = 2
            while candidate in self.used:
                candidate = f"{base}_t{self.turn}_{n}"
                n += 1
        self.used.add(candidate)
        return candidate

    @property
    def message_id(self) -> str:
        """The id of the current turn's assistant message (AG-UI's messageId/parentMessageId)."""
        return f"{self.prefix}-{self.turn}"

    # -- events

    def _event(self, event: object, moves: list[Move]) -> None:
        if isinstance(event, (TextDelta, ReasoningDelta)):
            if event.choice == 0 and event.text:
                kind: Kind = "text" if isinstance(event, TextDelta) else "reasoning"
                self._segment_delta(kind, event.text, moves)
        elif isinstance(event, ToolCallDelta):
            if event.choice == 0:
                call = self._call(event.index, event.id, event.name, moves)
                call.text.append(event.fragment)
                self._start(call, event.name, moves)
                if call.started:
                    moves.append(CallArgs(call.call_id, event.fragment))
                else:
                    call.pending += 1
        elif isinstance(event, ToolCallStarted):
            if event.choice == 0:
                call = self._call(event.index, event.id, event.name, moves)
                self._start(call, event.name, moves)
        elif isinstance(event, ToolCallReady):
            if event.choice == 0:
                self._start(self._call(event.index, event.id, event.name, moves), event.name, moves)
        elif isinstance(event, ToolCallFinished):
            if event.choice == 0:
                self._finished(event, moves)
        elif isinstance(event, Finish):
            if event.choice == 0:
                self._close_segment(moves)
                self.turn_outcome = event.outcome
        elif isinstance(event, ProviderError):
            self.provider_error = event.message or "the provider reported an error"
        elif isinstance(event, TurnStarted):
            self.agent_mode = True
            if self.step_open:
                self._close_step(moves, failed=False)
            self._open_step(event.turn, moves)
        elif isinstance(event, ToolRunStarted):
            self._launched(event, moves)
        elif isinstance(event, ToolRunFinished):
            self._reported(event.run, moves)
        elif isinstance(event, TurnFinished):
            self._close_step(moves, failed=False)
            called = bool(event.message.get("tool_calls"))
            self.last_outcome = self.turn_outcome or ("tool_calls" if called else "stop")
        elif isinstance(event, RunFinished):
            moves.extend(self.end(self.last_outcome or "stop", event.result.token_usage))
        # Usage and anything unknown: nothing to show.

    def _segment_delta(self, kind: Kind, text: str, moves: list[Move]) -> None:
        self._ensure_step(moves)
        if self.segment is not None and self.segment.kind != kind:
            self._close_segment(moves)
        if self.segment is None:
            self.segments += 1
            self.segment = SegmentStarted(
                kind, f"{self.message_id}-{self.segments}", self.message_id
            )
            moves.append(self.segment)
        moves.append(SegmentDelta(kind, self.segment.id, self.segment.message_id, text))

    def _close_segment(self, moves: list[Move]) -> None:
        if self.segment is not None:
            moves.append(SegmentEnded(self.segment.kind, self.segment.id, self.segment.message_id))
            self.segment = None

    def _open_step(self, turn: int, moves: list[Move]) -> None:
        self.turn = turn
        self.step_open = True
        self.calls = {}
        self.segments = 0
        self.turn_outcome = None
        moves.append(StepStarted(turn))

    def _ensure_step(self, moves: list[Move]) -> None:
        if not self.step_open:
            self._open_step(self.turn + 1, moves)

    def _call(self, index: int, provider_id: str, name: str, moves: list[Move]) -> _Call:
        call = self.calls.get(index)
        if call is None:
            self._ensure_step(moves)
            call = _Call(index, self._allocate(provider_id, index), name, provider_id)
            self.calls[index] = call
        return call

    def _start(self, call: _Call, name: str, moves: list[Move], *, force: bool = False) -> None:
        """Opens the call once its name is known (a start part needs the tool name)."""
        if call.started or not (name or force):
            return
        self._close_segment(moves)
        call.name = name
        call.started = True
        moves.append(CallStarted(call.call_id, name, self.message_id))
        if call.pending:
            moves.append(CallArgs(call.call_id, "".join(call.text[-call.pending :])))
            call.pending = 0

    def _finished(self, event: ToolCallFinished, moves: list[Move]) -> None:
        call = self._call(event.index, event.id, event.name, moves)
        self._start(call, event.name or call.name, moves, force=True)
        if event.id:
            call.final_id = event.id
        if call.input_done:
            return
        error: str | None = None
        value: Any = event.arguments
        if event.error is not None:
            error = _argument_error(event.error)
        else:
            try:
                value = event.parsed
            except Exception as exc:  # noqa: BLE001 - e.g. an integer of more than 4300 digits
                error, value = f"the arguments could not be represented: {exc}", event.arguments
        self._close_input(call, value, error, moves)
        if call.launched and (error is not None or not _same(value, call.launch_args)):
            # The agent drops an eager run whose arguments changed after they first closed
            # (or turned out invalid), running or done; a fresh run or the error result
            # follows.
            call.launched = False
            call.held = None
        elif call.held is not None:
            held, call.held = call.held, None
            self._output(call, held, moves)

    def _close_input(self, call: _Call, value: Any, error: str | None, moves: list[Move]) -> None:
        call.input_done = True
        call.input_error = error is not None
        moves.append(CallInput(call.call_id, call.name, value, error))

    def _launched(self, event: ToolRunStarted, moves: list[Move]) -> None:
        if not self.step_open or event.turn != self.turn:
            return
        call = self._call(event.index, event.call_id, event.name, moves)
        self._start(call, event.name or call.name, moves, force=True)
        # A second launch of a call replaces the first (superseded eager run).
        call.held = None
        call.launched = True
        call.reported = False
        call.launch_args = event.arguments

    def _match(self, run: ToolRun) -> _Call | None:
        """The call a finished run belongs to. ``ToolRunFinished`` carries no call index: the
        run's arguments are the very object its ``ToolRunStarted`` carried, so identity picks
        it; ids and names settle what identity cannot (values shared by two calls)."""
        candidates = [c for c in self.calls.values() if c.launched and not c.reported]
        same = [c for c in candidates if c.launch_args is run.arguments] or candidates
        if run.call_id:
            for call in same:
                if run.call_id in (call.final_id, call.provider_id):
                    return call
        named = [c for c in same if c.name == run.name]
        found = named or same
        return found[0] if found else None

    def _reported(self, run: ToolRun, moves: list[Move]) -> None:
        call = self._match(run)
        if call is None:
            return
        call.reported = True
        if call.output_done:
            return
        if call.input_done:
            self._output(call, run, moves)
        else:
            call.held = run  # an eager run done before the model finished the call

    def _output(self, call: _Call, run: ToolRun, moves: list[Move]) -> None:
        call.output_done = True
        message_id = f"{self.message_id}-tool-{call.index}"
        moves.append(CallOutput(call.call_id, call.name, run, message_id))

    def _close_step(self, moves: list[Move], *, failed: bool) -> None:
        """Closes the open segment and every call of the turn, then the step."""
        if not self.step_open:
            return
        self._close_segment(moves)
        for call in sorted(self.calls.values(), key=lambda c: c.index):
            self._start(call, call.name, moves, force=True)
            if not call.input_done:
                if call.held is not None:
                    # The eager run ran with these arguments: show it ran, with them.
                    self._close_input(call, call.launch_args, None, moves)
                else:
                    self._close_input(call, "".join(call.text), _NOT_FINISHED, moves)
            if call.held is not None:
                held, call.held = call.held, None
                self._output(call, held, moves)
            if (
                self.agent_mode
                and failed
                and not call.output_done
                and not call.input_error
                and not call.launched
            ):
                call.output_done = True
                moves.append(CallAbandoned(call.call_id, call.name, _NOT_RUN))
        self.step_open = False
        moves.append(StepFinished(self.turn))


_OUTCOMES = frozenset(("stop", "tool_calls", "length", "content_filter", "error", "cut", "other"))


def _as_outcome(value: str | None) -> Outcome:
    return cast(Outcome, value) if value in _OUTCOMES else "other"


def _code(error: BaseException | str) -> str:
    """A short machine-readable code for a failure (AG-UI's RUN_ERROR ``code``)."""
    if isinstance(error, TurnFailed):
        return error.reason
    if isinstance(error, MaxTurnsExceeded):
        return "max_turns"
    if isinstance(error, BaseException):
        return "error"
    return "provider_error"


def coalesce(moves: list[Move]) -> list[Move]:
    """One delta per segment and one argument fragment per call for each run of consecutive
    deltas: a read of many small fragments becomes one part per call."""
    out: list[Move] = []
    i = 0
    while i < len(moves):
        move = moves[i]
        if isinstance(move, CallArgs):
            merged: dict[str, list[str]] = {}
            while i < len(moves) and isinstance(moves[i], CallArgs):
                args = moves[i]
                assert isinstance(args, CallArgs)
                merged.setdefault(args.call_id, []).append(args.text)
                i += 1
            out.extend(CallArgs(call_id, "".join(texts)) for call_id, texts in merged.items())
            continue
        if isinstance(move, SegmentDelta):
            texts = [move.text]
            i += 1
            while i < len(moves):
                nxt = moves[i]
                if not (isinstance(nxt, SegmentDelta) and nxt.id == move.id):
                    break
                texts.append(nxt.text)
                i += 1
            out.append(SegmentDelta(move.kind, move.id, move.message_id, "".join(texts)))
            continue
        out.append(move)
        i += 1
    return out
