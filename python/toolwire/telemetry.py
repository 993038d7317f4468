"""OpenTelemetry traces and metrics of model calls, tool runs and agent runs, in the names of
the GenAI semantic conventions. Needs opentelemetry-api (``pip install 'toolwire[otel]'``)
and an SDK configured by the application; off until asked for, and free while off (nothing is
imported, nothing runs per read or per event)::

    import toolwire.telemetry

    toolwire.telemetry.instrument()                 # every Client and Agent from now on
    toolwire.telemetry.instrument(capture_content=True)   # also tool arguments and results

    tel = toolwire.telemetry.Telemetry(tracer_provider=provider, meter_provider=meters)
    client = toolwire.Client(telemetry=tel)         # one client only (telemetry=False: none)
    agent = toolwire.Agent(client, model=..., name="shop-assistant")

Spans (kind; name; attributes):

- CLIENT ``chat {model}``, one per model call, from sending the request (retries included)
  to the end of the stream: ``gen_ai.operation.name`` (``chat``), ``gen_ai.provider.name``
  (``openai``, ``anthropic``, ``gcp.gemini``, ``ollama``, or the provider a well-known host
  names: ``deepseek``, ``groq``, ``azure.ai.openai`` ...), ``gen_ai.request.model``,
  ``gen_ai.request.stream``, the request's numeric parameters (``gen_ai.request.temperature``,
  ``max_tokens``, ``top_p`` ...), ``gen_ai.response.id`` and ``gen_ai.response.model`` (read
  from the first bytes of the stream), ``gen_ai.response.finish_reasons``,
  ``gen_ai.usage.input_tokens``/``output_tokens``, ``gen_ai.response.time_to_first_chunk``,
  ``server.address``/``server.port``; on failure ``error.type`` (the HTTP status of a refused
  request, else the exception class: ``IncompleteStream``, ``StreamProviderError``,
  ``RateLimitError`` ...) and status ERROR. An event ``toolwire.tool_call.ready`` marks each
  call whose arguments completed (in agent runs).
- INTERNAL ``execute_tool {name}``, one per tool run: ``gen_ai.operation.name``
  (``execute_tool``), ``gen_ai.tool.name``, ``gen_ai.tool.type`` (``function``),
  ``gen_ai.tool.call.id``; ``error.type`` (the ``ToolError`` kind: ``exception``,
  ``timeout``, ``invalid_arguments``, ``unknown_tool``) and status ERROR when it failed; with
  ``capture_content``, ``gen_ai.tool.call.arguments`` and ``gen_ai.tool.call.result``.
- INTERNAL ``invoke_agent`` (``invoke_agent {name}`` with ``Agent(name=...)``) over a whole
  agent run, parent of its ``chat`` and ``execute_tool`` spans: ``gen_ai.operation.name``
  (``invoke_agent``), ``gen_ai.agent.name``, ``gen_ai.provider.name``,
  ``gen_ai.request.model``, the run's token totals; ``error.type`` (``TurnFailed``,
  ``MaxTurnsExceeded`` ...) when it failed.

Metrics (histograms, with the operation, provider, models and server as attributes):
``gen_ai.client.operation.duration`` (s, plus ``error.type`` on failures),
``gen_ai.client.token.usage`` ({token}, ``gen_ai.token.type``),
``gen_ai.client.operation.time_to_first_chunk`` (s).

Never recorded: API keys, authentication headers, base-URL credentials, URL paths and query
strings; messages; tool arguments and results unless ``capture_content`` (they may hold
personal data). ``capture_content`` defaults to the environment variable
``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` (``true``), as the OpenTelemetry GenAI
instrumentations read it.
"""

from __future__ import annotations

from typing import Any

from toolwire._metrics.otel import CAPTURE_ENV, Telemetry, active, available, set_active

__all__ = ["CAPTURE_ENV", "Telemetry", "available", "current", "instrument", "uninstrument"]


def instrument(
    *,
    tracer_provider: Any = None,
    meter_provider: Any = None,
    capture_content: bool | None = None,
) -> Telemetry:
    """Turns telemetry on for every ``Client`` and ``Agent`` left at ``telemetry=True`` (the
    default), including those made before; returns the ``Telemetry`` now in use. Raises
    ``ImportError`` without opentelemetry-api."""
    telemetry = Telemetry(
        tracer_provider=tracer_provider,
        meter_provider=meter_provider,
        capture_content=capture_content,
    )
    set_active(telemetry)
    return telemetry


def uninstrument() -> None:
    """Turns the process-wide telemetry off again (streams already started finish their
    spans)."""
    set_active(None)


def current() -> Telemetry | None:
    """The process-wide ``Telemetry`` of ``instrument()``, or None."""
    return active()
