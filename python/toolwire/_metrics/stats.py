"""``Stats``: counters and histograms of streams, reads, tool calls and tool runs.

Recording happens once per stream (when it starts and when it ends) and once per tool run,
never per read or per event: a stream counts its bytes and events in two integer attributes
of its own and hands the totals over at the end, in one ``StreamRecord`` under one lock. That
keeps the read path as it was and makes the lock uncontended in practice (a lock taken a few
times per stream, next to a stream that takes milliseconds).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from typing import Any, Literal, NamedTuple

from toolwire._metrics.histogram import LATENCY_BUCKETS, Histogram, checked_buckets

#: The ``tool`` label of a run whose name the registry does not know: the model made it up,
#: and a label per invented name would grow without bound.
UNKNOWN_TOOL = "_unknown"

Labels = tuple[tuple[str, str], ...]
HistogramSample = tuple[Labels, tuple[float, ...], list[int], int, float]


class StreamRecord(NamedTuple):
    """What one ended stream adds (times in seconds since the request started; None when
    the moment never came)."""

    outcome: str
    bytes: int
    events: int
    retries: int
    time_to_first_byte: float | None
    time_to_first_chunk: float | None
    duration: float
    ready: Sequence[float]
    calls_ok: int
    calls_invalid: int
    calls_unfinished: int
    arguments_peak: int
    input_tokens: int
    output_tokens: int


class Family:
    """One metric with its samples, in a neutral form for the text writer and for
    prometheus_client. Counter names leave out ``_total``; the writers add it. Histograms
    are (labels, bounds, cumulative counts per bound, count, sum)."""

    __slots__ = ("help", "histograms", "kind", "name", "samples")

    def __init__(
        self,
        name: str,
        kind: Literal["counter", "gauge", "histogram"],
        help: str,
        samples: list[tuple[Labels, float]] | None = None,
        *,
        histograms: list[HistogramSample] | None = None,
    ) -> None:
        self.name = name
        self.kind = kind
        self.help = help
        self.samples = samples or []
        self.histograms = histograms or []


class Stats:
    """A thread-safe collector of toolwire's statistics.

    ``toolwire.metrics.default_stats()`` is the process-wide one every ``Client`` and
    ``Agent`` records into unless told otherwise (``metrics=`` takes a ``Stats`` of its own,
    or ``False``). ``snapshot()`` returns everything as plain data; ``toolwire.metrics``
    exposes it to Prometheus. ``buckets`` are the upper bounds, in seconds, of every latency
    histogram (``+Inf`` is added).

    Cost: a stream takes the lock twice (start, end) and a tool run once; nothing is recorded
    per network read or per event.
    """

    def __init__(self, *, buckets: Sequence[float] = LATENCY_BUCKETS) -> None:
        self._bounds = checked_buckets(buckets)
        self._lock = threading.Lock()
        self._clear()

    def _clear(self) -> None:
        bounds = self._bounds
        self._started = 0
        self._finished: dict[str, int] = {}
        self._bytes = 0
        self._events = 0
        self._retries = 0
        self._input_tokens = 0
        self._output_tokens = 0
        self._calls = {"ok": 0, "invalid": 0, "unfinished": 0}
        self._runs: dict[str, dict[str, int]] = {}
        self._arguments_peak = 0
        self._ttfb = Histogram(bounds)
        self._ttfc = Histogram(bounds)
        self._duration = Histogram(bounds)
        self._ready = Histogram(bounds)
        self._tool_duration: dict[str, Histogram] = {}

    def reset(self) -> None:
        """Forgets everything recorded so far (streams still open count as started anew
        when they end, so ``active`` may dip below zero meanwhile; it is clamped to 0)."""
        with self._lock:
            self._clear()

    def __repr__(self) -> str:
        with self._lock:
            return f"Stats(streams={self._started}, bytes={self._bytes}, events={self._events})"

    # -- recording (called by the client and the agent)

    def _stream_started(self) -> None:
        with self._lock:
            self._started += 1

    def _stream_finished(self, record: StreamRecord) -> None:
        with self._lock:
            self._finished[record.outcome] = self._finished.get(record.outcome, 0) + 1
            self._bytes += record.bytes
            self._events += record.events
            self._retries += record.retries
            self._input_tokens += record.input_tokens
            self._output_tokens += record.output_tokens
            calls = self._calls
            calls["ok"] += record.calls_ok
            calls["invalid"] += record.calls_invalid
            calls["unfinished"] += record.calls_unfinished
            if record.arguments_peak > self._arguments_peak:
                self._arguments_peak = record.arguments_peak
            if record.time_to_first_byte is not None:
                self._ttfb.observe(record.time_to_first_byte)
            if record.time_to_first_chunk is not None:
                self._ttfc.observe(record.time_to_first_chunk)
            self._duration.observe(record.duration)
            for seconds in record.ready:
                self._ready.observe(seconds)

    def _tool_ran(self, tool: str, outcome: str, seconds: float) -> None:
        with self._lock:
            runs = self._runs.setdefault(tool, {})
            runs[outcome] = runs.get(outcome, 0) + 1
            histogram = self._tool_duration.get(tool)
            if histogram is None:
                histogram = self._tool_duration[tool] = Histogram(self._bounds)
            histogram.observe(seconds)

    # -- reading

    def snapshot(self) -> dict[str, Any]:
        """Everything recorded, as plain data (a consistent copy, safe to keep)::

            {
                "streams": {"started": 3, "active": 0, "finished": {"stop": 2, "incomplete": 1}},
                "bytes": 5120, "events": 212, "retries": 1,
                "tokens": {"input": 120, "output": 48},
                "tool_calls": {"ok": 4, "invalid": 0, "unfinished": 1},
                "tool_runs": {"get_weather": {"ok": 3, "timeout": 1}},
                "arguments_peak_bytes": 312,
                "time_to_first_byte": {...}, "time_to_first_chunk": {...},
                "stream_duration": {...}, "tool_call_ready": {...},
                "tool_duration": {"get_weather": {...}},
            }

        ``finished`` counts streams by how they ended (``stop``, ``tool_calls``, ``length``,
        ``content_filter``, ``other`` for a turn that ended; ``provider_error``,
        ``incomplete``, ``stalled``, ``deadline``, ``malformed``, ``rate_limited``,
        ``timeout``, ``api_error``, ``closed``, ``cancelled``, ``exception`` otherwise).
        ``tool_calls`` counts the calls models sent: finished with valid arguments (``ok``),
        finished with arguments that are not valid JSON (``invalid``; a stream cut
        mid-arguments ends its call that way), or never finished (``unfinished``: the stream
        was closed before its end).
        ``tool_runs`` counts executions by tool and outcome (``ok`` or the ``ToolError``
        kind). Each histogram (seconds) is ``{"count", "sum", "min", "max", "mean", "p50",
        "p90", "p99", "buckets": [[upper_bound, cumulative_count], ...]}``; the quantiles
        are estimated from the buckets, and min/max/mean/quantiles are None while empty.
        ``time_to_first_*`` and ``tool_call_ready`` count from the moment the request was
        sent (retries included); ``tool_call_ready`` is observed by ``Agent`` runs.
        """
        with self._lock:
            finished = dict(sorted(self._finished.items()))
            return {
                "streams": {
                    "started": self._started,
                    "active": max(0, self._started - sum(finished.values())),
                    "finished": finished,
                },
                "bytes": self._bytes,
                "events": self._events,
                "retries": self._retries,
                "tokens": {"input": self._input_tokens, "output": self._output_tokens},
                "tool_calls": dict(self._calls),
                "tool_runs": {tool: dict(runs) for tool, runs in sorted(self._runs.items())},
                "arguments_peak_bytes": self._arguments_peak,
                "time_to_first_byte": self._ttfb.summary(),
                "time_to_first_chunk": self._ttfc.summary(),
                "stream_duration": self._duration.summary(),
                "tool_call_ready": self._ready.summary(),
                "tool_duration": {
                    tool: histogram.summary()
                    for tool, histogram in sorted(self._tool_duration.items())
                },
            }

    def _families(self) -> list[Family]:
        """The metrics in exposition order, copied under the lock."""
        with self._lock:
            return list(self._families_locked())

    def _families_locked(self) -> Iterable[Family]:
        finished = sum(self._finished.values())
        yield Family(
            "toolwire_streams_started",
            "counter",
            "Streams started (requests sent, retries not counted apart).",
            [((), self._started)],
        )
        yield Family(
            "toolwire_streams",
            "counter",
            "Streams ended, by outcome.",
            [((("outcome", k),), v) for k, v in sorted(self._finished.items())],
        )
        yield Family(
            "toolwire_streams_active",
            "gauge",
            "Streams started and not ended yet.",
            [((), max(0, self._started - finished))],
        )
        yield Family(
            "toolwire_bytes", "counter", "Body bytes read off the wire.", [((), self._bytes)]
        )
        yield Family("toolwire_events", "counter", "Events parsed.", [((), self._events)])
        yield Family(
            "toolwire_retries",
            "counter",
            "Requests sent again before the first body byte (429, 5xx, connection errors).",
            [((), self._retries)],
        )
        yield Family(
            "toolwire_tokens",
            "counter",
            "Tokens the providers reported, by type.",
            [
                ((("type", "input"),), self._input_tokens),
                ((("type", "output"),), self._output_tokens),
            ],
        )
        yield Family(
            "toolwire_tool_calls",
            "counter",
            "Tool calls the models sent, by outcome (ok, invalid arguments, unfinished).",
            [((("outcome", k),), v) for k, v in self._calls.items()],
        )
        yield Family(
            "toolwire_tool_runs",
            "counter",
            "Tool executions, by tool and outcome (ok or the error kind).",
            [
                ((("tool", tool), ("outcome", outcome)), n)
                for tool, runs in sorted(self._runs.items())
                for outcome, n in sorted(runs.items())
            ],
        )
        yield Family(
            "toolwire_arguments_peak_bytes",
            "gauge",
            "The largest tool-call arguments seen, in bytes.",
            [((), self._arguments_peak)],
        )
        for name, text, histogram in (
            (
                "toolwire_time_to_first_byte_seconds",
                "Seconds from sending the request to the first body byte.",
                self._ttfb,
            ),
            (
                "toolwire_time_to_first_chunk_seconds",
                "Seconds from sending the request to the first parsed event.",
                self._ttfc,
            ),
            (
                "toolwire_stream_duration_seconds",
                "Seconds from sending the request to the end of the stream.",
                self._duration,
            ),
            (
                "toolwire_tool_call_ready_seconds",
                "Seconds from sending the request to each tool call's complete arguments.",
                self._ready,
            ),
        ):
            yield Family(name, "histogram", text, histograms=[_histogram((), histogram)])
        yield Family(
            "toolwire_tool_duration_seconds",
            "histogram",
            "Seconds each tool ran, by tool.",
            histograms=[
                _histogram((("tool", tool),), histogram)
                for tool, histogram in sorted(self._tool_duration.items())
            ],
        )


def _histogram(labels: Labels, histogram: Histogram) -> HistogramSample:
    return labels, histogram.bounds, histogram.cumulative(), histogram.count, histogram.sum


_default: Stats | None = Stats()
_default_lock = threading.Lock()


def default_stats() -> Stats | None:
    """The process-wide collector (None when turned off with ``set_default_stats(None)``)."""
    return _default


def set_default_stats(stats: Stats | None) -> Stats | None:
    """Replaces the process-wide collector (None turns default collection off); returns the
    previous one. Streams already started keep recording into the one they started with."""
    global _default
    with _default_lock:
        previous, _default = _default, stats
    return previous
