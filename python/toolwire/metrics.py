"""Statistics of toolwire's streams, tool calls and tool runs, for code and for Prometheus.

Every ``Client`` and ``Agent`` records into a process-wide ``Stats`` unless told otherwise::

    import toolwire.metrics

    toolwire.metrics.snapshot()       # {"streams": {...}, "bytes": ..., "time_to_first_byte": ...}

    stats = toolwire.metrics.Stats()  # a collector of one's own
    client = toolwire.Client(metrics=stats)       # metrics=False: this client records nothing
    agent = toolwire.Agent(client, model=..., metrics=stats)   # default: the client's

    toolwire.metrics.set_default_stats(None)          # no default collection at all

What is recorded: streams started and ended by outcome, body bytes, events parsed, retries,
tokens, the tool calls models sent (ok, invalid arguments, unfinished), the largest arguments,
and the histograms time to first byte, time to first chunk (first parsed event), stream
duration, time until each call's arguments complete (``Agent`` runs) and tool run time by
tool (``Stats.snapshot`` lists every key).

Cost: a stream counts bytes and events in two integers of its own and hands them over when it
ends, under one lock; nothing is recorded per read or per event. ``Stats`` is thread-safe.

Prometheus (text exposition format 0.0.4): ``exposition()`` is the text, ``asgi_app()`` an
ASGI app serving it (mount it at ``/metrics`` in any ASGI framework), neither needing
prometheus_client. With it (``pip install 'toolwire[metrics]'``), ``register_prometheus()``
adds a collector to a prometheus_client registry, for an app that exposes its own metrics too.

======================================  =========  =========================================
metric                                  type       labels
======================================  =========  =========================================
``toolwire_streams_started_total``      counter
``toolwire_streams_total``              counter    ``outcome``
``toolwire_streams_active``             gauge
``toolwire_bytes_total``                counter
``toolwire_events_total``               counter
``toolwire_retries_total``              counter
``toolwire_tokens_total``               counter    ``type`` (input, output)
``toolwire_tool_calls_total``           counter    ``outcome`` (ok, invalid, unfinished)
``toolwire_tool_runs_total``            counter    ``tool``, ``outcome`` (ok or error kind)
``toolwire_arguments_peak_bytes``       gauge
``toolwire_time_to_first_byte_seconds``  histogram
``toolwire_time_to_first_chunk_seconds`` histogram
``toolwire_stream_duration_seconds``    histogram
``toolwire_tool_call_ready_seconds``    histogram
``toolwire_tool_duration_seconds``      histogram  ``tool``
======================================  =========  =========================================
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from toolwire._asgi import ASGIApp
from toolwire._metrics.asgi import text_app
from toolwire._metrics.histogram import LATENCY_BUCKETS
from toolwire._metrics.stats import Stats, default_stats, set_default_stats
from toolwire._metrics.text import CONTENT_TYPE, render

if TYPE_CHECKING:
    from prometheus_client.registry import Collector

__all__ = [
    "CONTENT_TYPE",
    "LATENCY_BUCKETS",
    "ASGIApp",
    "Stats",
    "asgi_app",
    "default_stats",
    "exposition",
    "register_prometheus",
    "set_default_stats",
    "snapshot",
]


def snapshot(stats: Stats | None = None) -> dict[str, Any]:
    """``stats.snapshot()``; by default of the process-wide collector (all zeros when
    default collection is off)."""
    stats = stats if stats is not None else default_stats()
    return (stats if stats is not None else Stats()).snapshot()


def exposition(stats: Stats | None = None) -> str:
    """The Prometheus text exposition (format 0.0.4) of ``stats``, by default of the
    process-wide collector ("" when default collection is off)."""
    stats = stats if stats is not None else default_stats()
    return render(stats._families()) if stats is not None else ""


def asgi_app(stats: Stats | None = None, *, registry: Any = None) -> ASGIApp:
    """An ASGI app answering GET (and HEAD) with the exposition, ``Content-Type:
    text/plain; version=0.0.4; charset=utf-8``. Mount it anywhere, for example::

        app.mount("/metrics", toolwire.metrics.asgi_app())   # Starlette / FastAPI

    It serves ``stats`` (default: the process-wide collector, looked up at each request).
    With ``registry``, a prometheus_client ``CollectorRegistry``, it serves that registry
    instead (register toolwire's collector in it with ``register_prometheus``), through
    prometheus_client's own ``generate_latest``. Works without prometheus_client otherwise.
    """
    if registry is not None:
        from prometheus_client.exposition import generate_latest

        def render_registry() -> tuple[bytes, str]:
            return generate_latest(registry), CONTENT_TYPE

        return text_app(render_registry)

    def render_stats() -> tuple[bytes, str]:
        return exposition(stats).encode("utf-8"), CONTENT_TYPE

    return text_app(render_stats)


def register_prometheus(stats: Stats | None = None, registry: Any = None) -> Collector:
    """Registers a collector of ``stats`` (default: the process-wide collector, looked up at
    each scrape) in a prometheus_client registry (default: prometheus_client's global
    ``REGISTRY``) and returns it (``registry.unregister(collector)`` undoes it). Needs
    prometheus_client: ``pip install 'toolwire[metrics]'``."""
    try:
        from prometheus_client import REGISTRY
    except ImportError as exc:
        raise ImportError(
            "register_prometheus needs prometheus_client: pip install 'toolwire[metrics]' "
            "(exposition() and asgi_app() work without it)"
        ) from exc
    from toolwire._metrics.prom import StatsCollector

    collector = StatsCollector(stats if stats is not None else default_stats)
    (registry if registry is not None else REGISTRY).register(collector)
    return collector
