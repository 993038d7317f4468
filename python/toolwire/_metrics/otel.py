"""OpenTelemetry GenAI spans and metrics (the ``otel`` extra: opentelemetry-api).

Nothing here imports opentelemetry until a ``Telemetry`` is made: the client and the agent
only test whether one is configured (a global read per stream), so without the extra, or
without ``toolwire.telemetry.instrument()``, telemetry costs nothing. With it, the work is per
model call, per tool run and per agent run, never per read or per event.

The names are those of the GenAI semantic conventions (docs/gen-ai in
open-telemetry/semantic-conventions): a CLIENT span ``chat {model}`` per model call, an
INTERNAL span ``execute_tool {name}`` per tool run, an INTERNAL span ``invoke_agent`` over a
whole agent run, parent of the others; the histograms ``gen_ai.client.operation.duration``,
``gen_ai.client.token.usage`` and ``gen_ai.client.operation.time_to_first_chunk``.

What is never recorded: API keys, authentication headers, base-URL credentials, URL paths or
query strings (only the host and port, as ``server.address``/``server.port``). Tool arguments
and results only with ``capture_content=True`` (they may be sensitive); messages never.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from toolwire._core import __version__
from toolwire._metrics.outcomes import error_type
from toolwire._metrics.peer import Peer

if TYPE_CHECKING:
    from toolwire.tools import ToolRun

#: The semantic conventions' bucket advice: durations and time to first chunk double from
#: 0.01 s to 81.92 s; token counts quadruple from 1 to 4**13.
DURATION_BUCKETS = tuple(round(0.01 * 2**i, 2) for i in range(14))
TOKEN_BUCKETS = tuple(4**i for i in range(14))

#: The environment variable the OpenTelemetry GenAI instrumentations read for content capture.
CAPTURE_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"

# Request parameters copied to ``gen_ai.request.*`` (numbers only; never anything else).
_REQUEST_NUMBERS = {
    "temperature": "gen_ai.request.temperature",
    "top_p": "gen_ai.request.top_p",
    "top_k": "gen_ai.request.top_k",
    "max_tokens": "gen_ai.request.max_tokens",
    "max_completion_tokens": "gen_ai.request.max_tokens",
    "max_output_tokens": "gen_ai.request.max_tokens",
    "frequency_penalty": "gen_ai.request.frequency_penalty",
    "presence_penalty": "gen_ai.request.presence_penalty",
    "seed": "gen_ai.request.seed",
}


class ChatEnd(NamedTuple):
    """What an ended model call tells its span and the metrics."""

    duration: float
    time_to_first_chunk: float | None
    response_id: str | None
    response_model: str | None
    finish_reasons: tuple[str, ...]
    input_tokens: int | None
    output_tokens: int | None
    error: BaseException | None


def _missing() -> ImportError:
    return ImportError(
        "toolwire's OpenTelemetry support needs opentelemetry-api: pip install 'toolwire[otel]'"
    )


def available() -> bool:
    """Whether opentelemetry-api can be imported."""
    try:
        import opentelemetry.trace  # noqa: F401
    except ImportError:
        return False
    return True


def _env_capture() -> bool:
    return os.environ.get(CAPTURE_ENV, "").strip().lower() in ("1", "true", "yes", "on")


class Telemetry:
    """Where toolwire sends OpenTelemetry spans and metrics, and what it puts in them.

    ``tracer_provider`` / ``meter_provider``: the providers to use (default: the global ones,
    looked up when a span or a measurement is made, so an SDK configured later still gets
    them). ``capture_content``: record tool arguments and results on ``execute_tool`` spans
    (``gen_ai.tool.call.arguments``, ``gen_ai.tool.call.result``); off by default, on when
    ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true``.

    Raises ``ImportError`` when opentelemetry-api is not installed (the ``otel`` extra).
    Pass it as ``Client(telemetry=...)``/``Agent(telemetry=...)``, or make it the process
    default with ``toolwire.telemetry.instrument()``.
    """

    def __init__(
        self,
        *,
        tracer_provider: Any = None,
        meter_provider: Any = None,
        capture_content: bool | None = None,
    ) -> None:
        try:
            from opentelemetry import context, metrics, trace
        except ImportError as exc:
            raise _missing() from exc
        self.capture_content = _env_capture() if capture_content is None else capture_content
        self._trace = trace
        self._context = context
        self._tracer = trace.get_tracer("toolwire", __version__, tracer_provider=tracer_provider)
        meter = metrics.get_meter("toolwire", __version__, meter_provider=meter_provider)
        self._duration = meter.create_histogram(
            "gen_ai.client.operation.duration",
            unit="s",
            description="GenAI operation duration.",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )
        self._tokens = meter.create_histogram(
            "gen_ai.client.token.usage",
            unit="{token}",
            description="Number of input and output tokens used.",
            explicit_bucket_boundaries_advisory=TOKEN_BUCKETS,
        )
        self._first_chunk = meter.create_histogram(
            "gen_ai.client.operation.time_to_first_chunk",
            unit="s",
            description="Time to receive the first chunk in a streaming response.",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )

    def __repr__(self) -> str:
        return f"Telemetry(capture_content={self.capture_content})"

    # -- model calls

    def _chat_start(
        self, peer: Peer | None, model: str | None, params: Mapping[str, Any] | None, parent: Any
    ) -> Any:
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": peer.provider if peer is not None else "openai",
            "gen_ai.request.stream": True,
        }
        if model:
            attributes["gen_ai.request.model"] = model
        _server(attributes, peer)
        if params:
            _request_params(attributes, params)
        name = f"chat {model}" if model else "chat"
        kind = self._trace.SpanKind.CLIENT
        return self._tracer.start_span(name, context=parent, kind=kind, attributes=attributes)

    def _use(self, span: Any) -> contextlib.AbstractContextManager[Any]:
        """Makes ``span`` current (the HTTP client's own spans become its children). An
        exception passing through is not recorded here: the span's end says what failed."""
        return self._trace.use_span(
            span, end_on_exit=False, record_exception=False, set_status_on_exception=False
        )

    def _chat_end(self, span: Any, peer: Peer | None, model: str | None, end: ChatEnd) -> None:
        if isinstance(end.error, GeneratorExit):
            # The consumer stopped reading: the call did not fail, it was left.
            end = end._replace(error=None)
        common: dict[str, Any] = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": peer.provider if peer is not None else "openai",
        }
        if model:
            common["gen_ai.request.model"] = model
        if end.response_model:
            common["gen_ai.response.model"] = end.response_model
        _server(common, peer)
        if span is not None and span.is_recording():
            attributes: dict[str, Any] = {}
            if end.response_id:
                attributes["gen_ai.response.id"] = end.response_id
            if end.response_model:
                attributes["gen_ai.response.model"] = end.response_model
            if end.finish_reasons:
                attributes["gen_ai.response.finish_reasons"] = list(end.finish_reasons)
            if end.input_tokens is not None:
                attributes["gen_ai.usage.input_tokens"] = end.input_tokens
            if end.output_tokens is not None:
                attributes["gen_ai.usage.output_tokens"] = end.output_tokens
            if end.time_to_first_chunk is not None:
                attributes["gen_ai.response.time_to_first_chunk"] = end.time_to_first_chunk
            span.set_attributes(attributes)
        if end.error is not None:
            self._fail(span, end.error)
        if span is not None:
            span.end()
        if end.time_to_first_chunk is not None:
            self._first_chunk.record(end.time_to_first_chunk, common)
        for kind, count in (("input", end.input_tokens), ("output", end.output_tokens)):
            if count is not None:
                self._tokens.record(count, {**common, "gen_ai.token.type": kind})
        if end.error is not None:
            common["error.type"] = error_type(end.error)
        self._duration.record(end.duration, common)

    def _chat_event(self, span: Any, name: str, call_id: str) -> None:
        if span is not None and span.is_recording():
            attributes = {"gen_ai.tool.name": name}
            if call_id:
                attributes["gen_ai.tool.call.id"] = call_id
            span.add_event("toolwire.tool_call.ready", attributes)

    def _fail(self, span: Any, error: BaseException, description: str | None = None) -> None:
        """Marks ``span`` failed: ``error.type`` and status ERROR. The description is the
        client's message, which never holds the key; the exception itself is not recorded
        (its chained causes and traceback are not redacted)."""
        if span is None or not span.is_recording():
            return
        from opentelemetry.trace import Status, StatusCode

        span.set_attribute("error.type", error_type(error))
        text = description if description is not None else str(error)
        span.set_status(Status(StatusCode.ERROR, text[:1024]))

    # -- agent runs

    def _agent_start(
        self, peer: Peer | None, model: str | None, agent_name: str | None
    ) -> tuple[Any, Any]:
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.provider.name": peer.provider if peer is not None else "openai",
        }
        if model:
            attributes["gen_ai.request.model"] = model
        if agent_name:
            attributes["gen_ai.agent.name"] = agent_name
        _server(attributes, peer)
        name = f"invoke_agent {agent_name}" if agent_name else "invoke_agent"
        kind = self._trace.SpanKind.INTERNAL
        span = self._tracer.start_span(name, kind=kind, attributes=attributes)
        return span, self._trace.set_span_in_context(span)

    def _agent_end(
        self, span: Any, token_usage: Mapping[str, int] | None, error: BaseException | None
    ) -> None:
        if span.is_recording() and token_usage:
            for key, attribute in (
                ("input_tokens", "gen_ai.usage.input_tokens"),
                ("output_tokens", "gen_ai.usage.output_tokens"),
            ):
                value = token_usage.get(key)
                if isinstance(value, int):
                    span.set_attribute(attribute, value)
        if error is not None and not isinstance(error, GeneratorExit):
            self._fail(span, error)
        span.end()

    # -- tool runs

    def _tool_start(self, name: str, call_id: str, arguments: Any, parent: Any) -> Any:
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": name,
            "gen_ai.tool.type": "function",
        }
        if call_id:
            attributes["gen_ai.tool.call.id"] = call_id
        if self.capture_content:
            attributes["gen_ai.tool.call.arguments"] = _json(arguments)
        kind = self._trace.SpanKind.INTERNAL
        return self._tracer.start_span(
            f"execute_tool {name}", context=parent, kind=kind, attributes=attributes
        )

    def _tool_end(self, span: Any, run: ToolRun | None, error: BaseException | None) -> None:
        if run is not None and span.is_recording():
            if run.call_id:
                span.set_attribute("gen_ai.tool.call.id", run.call_id)
            if run.error is not None:
                span.set_attribute("error.type", run.error.kind)
                from opentelemetry.trace import Status, StatusCode

                span.set_status(Status(StatusCode.ERROR, run.error.message[:1024]))
            elif self.capture_content:
                span.set_attribute("gen_ai.tool.call.result", run.content)
        if error is not None:
            self._fail(span, error)
        span.end()

    @contextlib.contextmanager
    def _tool(self, name: str, call_id: str, arguments: Any, parent: Any) -> Iterator[list[Any]]:
        """A current ``execute_tool`` span around a tool run; the caller puts the ``ToolRun``
        in the yielded list (the span reads its outcome when it ends)."""
        span = self._tool_start(name, call_id, arguments, parent)
        box: list[Any] = []
        try:
            with self._use(span):
                yield box
        except BaseException as exc:
            self._tool_end(span, None, exc)
            raise
        self._tool_end(span, box[0] if box else None, None)


def _server(attributes: dict[str, Any], peer: Peer | None) -> None:
    if peer is not None and peer.address:
        attributes["server.address"] = peer.address
        if peer.port is not None:
            attributes["server.port"] = peer.port


def _request_params(attributes: dict[str, Any], params: Mapping[str, Any]) -> None:
    for key, attribute in _REQUEST_NUMBERS.items():
        value = params.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            attributes[attribute] = value
    choices = params.get("n")
    if isinstance(choices, int) and not isinstance(choices, bool) and choices != 1:
        attributes["gen_ai.request.choice.count"] = choices
    stop = params.get("stop")
    if isinstance(stop, str):
        stop = [stop]
    if isinstance(stop, list) and stop and all(isinstance(s, str) for s in stop):
        attributes["gen_ai.request.stop_sequences"] = list(stop)


def _json(value: Any) -> str:
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return str(value)


# -- the process default

_active: Telemetry | None = None
_lock = threading.Lock()


def active() -> Telemetry | None:
    """The process-wide ``Telemetry`` set by ``instrument()``, or None."""
    return _active


def set_active(telemetry: Telemetry | None) -> Telemetry | None:
    """Replaces the process-wide ``Telemetry``; returns the previous one."""
    global _active
    with _lock:
        previous, _active = _active, telemetry
    return previous
