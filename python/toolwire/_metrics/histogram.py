"""Fixed-bucket histograms: what every latency and duration in ``Stats`` is kept as.

Buckets are fixed at creation, as Prometheus histograms are, so a histogram is a few ints
and floats whatever the number of observations, observing is one ``bisect`` and merging or
exposing them needs no raw samples. Not thread-safe on its own: ``Stats`` holds the lock.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Sequence
from typing import Any

#: Upper bounds (seconds) of the latency histograms: first byte and first chunk (tens of
#: milliseconds to a minute), tool calls and tools (milliseconds to minutes), whole streams.
LATENCY_BUCKETS: tuple[float, ...] = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    120.0,
    300.0,
)

_QUANTILES = (("p50", 0.5), ("p90", 0.9), ("p99", 0.99))


def checked_buckets(bounds: Sequence[float]) -> tuple[float, ...]:
    """``bounds`` as a tuple, refused unless finite, positive and strictly increasing."""
    out = tuple(float(bound) for bound in bounds)
    if not out:
        raise ValueError("a histogram needs at least one bucket bound")
    if any(not math.isfinite(bound) for bound in out):
        raise ValueError("bucket bounds must be finite (+Inf is always added)")
    if any(later <= earlier for earlier, later in itertools.pairwise(out)):
        raise ValueError("bucket bounds must be strictly increasing")
    return out


class Histogram:
    """Counts per bucket (not cumulative), count, sum, min and max."""

    __slots__ = ("bounds", "count", "counts", "max", "min", "sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        # One slot per bound plus the +Inf bucket.
        self.counts = [0] * (len(bounds) + 1)
        self.count = 0
        self.sum = 0.0
        self.min = math.inf
        self.max = -math.inf

    def observe(self, value: float) -> None:
        # bisect_left: a value equal to a bound belongs to that bound's bucket (le = "<=").
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.count += 1
        self.sum += value
        if value < self.min:
            self.min = value
        if value > self.max:
            self.max = value

    def cumulative(self) -> list[int]:
        """Cumulative counts per finite bound (the +Inf bucket is ``count``)."""
        out = []
        running = 0
        for n in self.counts[:-1]:
            running += n
            out.append(running)
        return out

    def quantile(self, q: float) -> float | None:
        """An estimate of quantile ``q`` by linear interpolation inside the bucket that holds
        it (what PromQL's ``histogram_quantile`` does), clamped to the observed min and max;
        None when empty."""
        if not self.count:
            return None
        rank = q * self.count
        running = 0
        lower = 0.0
        for index, n in enumerate(self.counts):
            upper = self.bounds[index] if index < len(self.bounds) else self.max
            if n and running + n >= rank:
                estimate = lower + (upper - lower) * ((rank - running) / n)
                return min(max(estimate, self.min), self.max)
            running += n
            lower = upper
        return self.max

    def summary(self) -> dict[str, Any]:
        """The histogram as plain data (see ``Stats.snapshot``)."""
        empty = not self.count
        out: dict[str, Any] = {
            "count": self.count,
            "sum": self.sum,
            "min": None if empty else self.min,
            "max": None if empty else self.max,
            "mean": None if empty else self.sum / self.count,
        }
        for name, q in _QUANTILES:
            out[name] = self.quantile(q)
        cumulative = self.cumulative()
        out["buckets"] = [[bound, n] for bound, n in zip(self.bounds, cumulative, strict=True)]
        return out
