"""The observers the client and the agent call: ``StreamProbe`` per model call, ``RunObserver``
per agent run. They turn a stream's own counters into one ``StreamRecord`` for ``Stats`` and
into OpenTelemetry spans and measurements.

A stream counts its bytes and events itself (``bytes_received``, ``events_parsed``); its
probe keeps the clock readings and is called when the request is sent, on the first read
(the first byte; the response id and model, only while a span records), on the first
events, when the agent sees a call's arguments complete, and when the stream ends. Nothing
here runs per read or per event. A probe never raises into the stream it observes: a failure
to record is logged and dropped.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar

from toolwire._metrics import otel
from toolwire._metrics.outcomes import stream_outcome
from toolwire._metrics.peer import Peer
from toolwire._metrics.stats import UNKNOWN_TOOL, Stats, StreamRecord, default_stats

if TYPE_CHECKING:
    from toolwire._streams import _StreamBase
    from toolwire.tools import ToolRun

logger = logging.getLogger("toolwire")

T = TypeVar("T")

#: What ``metrics=`` and ``telemetry=`` accept: True for the process default, False for
#: none, or an object of one's own.
MetricsOption: TypeAlias = Stats | bool
TelemetryOption: TypeAlias = otel.Telemetry | bool

# The response id and model are the first string fields of these names in the first read
# (every format sends them in its first event); Gemini uses its own names, and its earlier
# fields may hold function-call ids. Ollama sends no id.
_SNIFF_BYTES = 8192
_FIELDS = {
    "gemini": (b"responseId", b"modelVersion"),
    "ollama": (None, b"model"),
}
_DEFAULT_FIELDS = (b"id", b"model")
_PATTERNS: dict[bytes, re.Pattern[bytes]] = {}


def _field(data: bytes, name: bytes) -> str | None:
    pattern = _PATTERNS.get(name)
    if pattern is None:
        pattern = _PATTERNS[name] = re.compile(b'"' + name + rb'"\s*:\s*"([^"\\]{1,256})"')
    match = pattern.search(data, 0, _SNIFF_BYTES)
    return match.group(1).decode("utf-8", "replace") if match else None


def resolve_stats(option: MetricsOption) -> Stats | None:
    """The ``Stats`` a ``metrics=`` option stands for, now."""
    if option is True:
        return default_stats()
    return option if isinstance(option, Stats) else None


def resolve_telemetry(option: TelemetryOption) -> otel.Telemetry | None:
    """The ``Telemetry`` a ``telemetry=`` option stands for, now."""
    if option is True:
        return otel.active()
    return option if isinstance(option, otel.Telemetry) else None


def check_options(metrics: object, telemetry: object, *, allow_none: bool = False) -> None:
    """Refuses ``metrics=``/``telemetry=`` values of the wrong type when they are given,
    rather than ignoring them silently at the first stream."""
    for name, value, kind, public in (
        ("metrics", metrics, Stats, "toolwire.metrics.Stats"),
        ("telemetry", telemetry, otel.Telemetry, "toolwire.telemetry.Telemetry"),
    ):
        if isinstance(value, (bool, kind)) or (allow_none and value is None):
            continue
        raise TypeError(
            f"{name}= takes True (the process default), False (none) or a {public}, "
            f"not {type(value).__name__}"
        )


def _utf8_len(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


class StreamProbe:
    """Observes one model call (see the module doc)."""

    __slots__ = (
        "_ended",
        "_ready",
        "_response_id",
        "_response_model",
        "_started",
        "model",
        "params",
        "parent",
        "peer",
        "span",
        "stats",
        "t_first_byte",
        "t_first_chunk",
        "t_start",
        "telemetry",
    )

    def __init__(
        self,
        stats: Stats | None,
        telemetry: otel.Telemetry | None,
        peer: Peer | None = None,
        model: str | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> None:
        self.stats = stats
        self.telemetry = telemetry
        self.peer = peer
        self.model = model
        self.params = params
        #: The OpenTelemetry context to start the span in (the agent run's), or None.
        self.parent: Any = None
        self.span: Any = None
        self._ready: list[float] = []
        self._response_id: str | None = None
        self._response_model: str | None = None
        self._started = False
        self._ended = False
        # perf_counter() readings: the request sent, the first body byte, the first event
        # (0.0 until the moment comes).
        self.t_start = 0.0
        self.t_first_byte = 0.0
        self.t_first_chunk = 0.0

    @classmethod
    def make(
        cls,
        metrics: MetricsOption,
        telemetry: TelemetryOption,
        peer: Peer | None = None,
        model: str | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> StreamProbe | None:
        """A probe for these options, or None when nothing would observe."""
        stats = resolve_stats(metrics)
        tel = resolve_telemetry(telemetry)
        if stats is None and tel is None:
            return None
        return cls(stats, tel, peer, model, params)

    # -- the stream calls these

    def start(self, stream: _StreamBase) -> None:
        """The request is about to be sent."""
        self.t_start = time.perf_counter()
        self._started = True
        try:
            if self.stats is not None:
                self.stats._stream_started()
            if self.telemetry is not None:
                self.span = self.telemetry._chat_start(
                    self.peer, self.model, self.params, self.parent
                )
        except Exception:  # recording must never break a stream
            logger.debug("toolwire metrics: start failed", exc_info=True)

    def open(self, stream: _StreamBase, opener: Callable[[], T]) -> T:
        """Runs ``opener`` (the request, retries and the first byte) as part of the call."""
        self.start(stream)
        try:
            if self.span is not None and self.telemetry is not None:
                with self.telemetry._use(self.span):
                    opened = opener()
            else:
                opened = opener()
        except BaseException as exc:
            self.end(stream, exc)
            raise
        self.t_first_byte = time.perf_counter()
        return opened

    async def aopen(self, stream: _StreamBase, opener: Callable[[], Awaitable[T]]) -> T:
        """Async twin of ``open``."""
        self.start(stream)
        try:
            if self.span is not None and self.telemetry is not None:
                with self.telemetry._use(self.span):
                    opened = await opener()
            else:
                opened = await opener()
        except BaseException as exc:
            self.end(stream, exc)
            raise
        self.t_first_byte = time.perf_counter()
        return opened

    def first_chunk(self) -> None:
        """The first events were parsed."""
        self.t_first_chunk = time.perf_counter()

    def first_read(self, stream: _StreamBase, chunk: bytes) -> None:
        """The first bytes of the body (``from_response``: the first byte); the response id
        and model, when a span records."""
        if not self.t_first_byte:
            self.t_first_byte = time.perf_counter()
        span = self.span
        if span is None or not span.is_recording():
            return
        try:
            api = self.peer.api if self.peer is not None else ""
            id_field, model_field = _FIELDS.get(api, _DEFAULT_FIELDS)
            redact = stream._secret.redact
            if id_field is not None:
                value = _field(chunk, id_field)
                self._response_id = redact(value) if value else None
            if model_field is not None:
                value = _field(chunk, model_field)
                self._response_model = redact(value) if value else None
        except Exception:  # recording must never break a stream
            logger.debug("toolwire metrics: reading the response id failed", exc_info=True)

    def call_ready(self, name: str, call_id: str) -> None:
        """A call's arguments just closed (reported by the agent, which sees every event)."""
        self._ready.append(time.perf_counter() - self.t_start)
        if self.span is not None and self.telemetry is not None:
            self.telemetry._chat_event(self.span, name, call_id)

    def end(self, stream: _StreamBase, error: BaseException | None) -> None:
        """The stream ended (once; later calls, and a stream never started, are ignored)."""
        if self._ended or not self._started:
            return
        self._ended = True
        try:
            self._record(stream, error)
        except Exception:  # recording must never break a stream
            logger.debug("toolwire metrics: recording the stream failed", exc_info=True)

    def _record(self, stream: _StreamBase, error: BaseException | None) -> None:
        now = time.perf_counter()
        t0 = self.t_start
        acc = stream.accumulator
        ttfb = self.t_first_byte - t0 if self.t_first_byte else None
        ttfc = self.t_first_chunk - t0 if self.t_first_chunk else None
        ok = invalid = unfinished = peak = 0
        reasons: list[str] = []
        for _, reason in acc.finish_reasons:
            if reason:
                reasons.append(reason)
        for choice in acc.choices:
            for call in acc.calls_of(choice):
                if not call.finished:
                    unfinished += 1
                elif call.error is None:
                    ok += 1
                else:
                    invalid += 1
                size = _utf8_len(call.arguments)
                if size > peak:
                    peak = size
        tokens = acc.token_usage or {}
        input_tokens = tokens.get("input_tokens")
        output_tokens = tokens.get("output_tokens")
        if self.stats is not None:
            self.stats._stream_finished(
                StreamRecord(
                    outcome=stream_outcome(error, acc.outcome),
                    bytes=stream.bytes_received,
                    events=stream.events_parsed,
                    retries=max(0, stream.attempts - 1),
                    time_to_first_byte=ttfb,
                    time_to_first_chunk=ttfc,
                    duration=now - t0,
                    ready=self._ready,
                    calls_ok=ok,
                    calls_invalid=invalid,
                    calls_unfinished=unfinished,
                    arguments_peak=peak,
                    input_tokens=input_tokens or 0,
                    output_tokens=output_tokens or 0,
                )
            )
        if self.telemetry is not None:
            self.telemetry._chat_end(
                self.span,
                self.peer,
                self.model,
                otel.ChatEnd(
                    duration=now - t0,
                    time_to_first_chunk=ttfc,
                    response_id=self._response_id,
                    response_model=self._response_model,
                    finish_reasons=tuple(reasons),
                    input_tokens=input_tokens,
                    output_tokens=output_tokens,
                    error=error,
                ),
            )


class RunObserver:
    """Observes one agent run: its tool runs (``Stats``), and with telemetry the
    ``invoke_agent`` span, parent of the run's ``chat`` and ``execute_tool`` spans."""

    def __init__(
        self,
        stats: Stats | None,
        telemetry: otel.Telemetry | None,
        peer: Peer | None,
        model: str,
        agent_name: str | None,
    ) -> None:
        self.stats = stats
        self.telemetry = telemetry
        self.peer = peer
        self.model = model
        self.agent_name = agent_name
        #: The run's ``AgentResult``, set by the loop (its usage goes on the agent span).
        self.result: Any = None
        self._span: Any = None
        self._context: Any = None

    def adopt(self, stream: _StreamBase) -> None:
        """Makes ``stream`` record into this run's collectors, its span a child of the run's."""
        probe = stream._probe
        replace = probe is None or (
            # A stream already recording (``from_response`` starts at once) keeps its probe.
            not probe._started
            and (probe.stats is not self.stats or probe.telemetry is not self.telemetry)
        )
        if replace:
            if self.stats is None and self.telemetry is None:
                stream._probe = None
                return
            params = probe.params if probe is not None else None
            probe = StreamProbe(self.stats, self.telemetry, self.peer, self.model, params)
            stream._probe = probe
        if probe is not None:
            probe.parent = self._context

    # -- tool runs

    def ran(self, run: ToolRun) -> None:
        """A tool run is over."""
        if self.stats is None:
            return
        error = run.error
        tool = UNKNOWN_TOOL if error is not None and error.kind == "unknown_tool" else run.name
        try:
            outcome = "ok" if error is None else error.kind
            self.stats._tool_ran(tool, outcome, run.duration_ms / 1000)
        except Exception:  # recording must never break a run
            logger.debug("toolwire metrics: recording a tool run failed", exc_info=True)

    def tool(
        self, name: str, call_id: str, arguments: Any, run: Callable[[], ToolRun]
    ) -> Callable[[], ToolRun]:
        """``run`` inside an ``execute_tool`` span (``run`` itself without telemetry)."""
        telemetry = self.telemetry
        if telemetry is None:
            return run
        context = self._context

        def traced() -> ToolRun:
            with telemetry._tool(name, call_id, arguments, context) as box:
                done = run()
                box.append(done)
            return done

        return traced

    async def atool(
        self, name: str, call_id: str, arguments: Any, run: Callable[[], Awaitable[ToolRun]]
    ) -> ToolRun:
        """Async twin of ``tool``: awaits ``run()`` inside the span."""
        telemetry = self.telemetry
        if telemetry is None:
            return await run()
        with telemetry._tool(name, call_id, arguments, self._context) as box:
            done = await run()
            box.append(done)
        return done

    # -- the run's span

    def _begin(self) -> None:
        if self.telemetry is not None:
            try:
                self._span, self._context = self.telemetry._agent_start(
                    self.peer, self.model, self.agent_name
                )
            except Exception:  # recording must never break a run
                logger.debug("toolwire telemetry: starting the agent span failed", exc_info=True)

    def _end(self, error: BaseException | None) -> None:
        if self.telemetry is None or self._span is None:
            return
        result = self.result
        if result is None and error is not None:
            result = getattr(error, "result", None)
        usage = getattr(result, "token_usage", None)
        try:
            self.telemetry._agent_end(self._span, usage, error)
        except Exception:  # recording must never break a run
            logger.debug("toolwire telemetry: ending the agent span failed", exc_info=True)

    def traced(self, events: Iterator[T]) -> Iterator[T]:
        """``events`` (a run's) inside the run's span."""
        self._begin()
        error: BaseException | None = None
        try:
            yield from events
        except BaseException as exc:
            error = exc
            raise
        finally:
            self._end(error)

    async def atraced(self, events: AsyncIterator[T]) -> AsyncIterator[T]:
        """Async twin of ``traced``."""
        self._begin()
        error: BaseException | None = None
        try:
            async for event in events:
                yield event
        except BaseException as exc:
            error = exc
            raise
        finally:
            # An async generator is not closed by the one iterating it: close it now, so the
            # run's tools are cancelled before its span ends.
            aclose = getattr(events, "aclose", None)
            if aclose is not None:
                await aclose()
            self._end(error)
