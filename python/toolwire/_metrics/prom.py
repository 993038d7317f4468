"""A prometheus_client ``Collector`` over a ``Stats`` (needs the ``metrics`` extra).

A custom collector rather than prometheus_client's own Counter and Histogram objects: those
would take their locks on every observation, and they would duplicate what ``Stats`` keeps
already. Collecting copies the families under the ``Stats`` lock once per scrape.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from toolwire._metrics.stats import Family, Stats
from toolwire._metrics.text import number


class StatsCollector(Collector):
    """Exposes a ``Stats`` (or the process-wide one at each scrape, when ``stats`` is a
    callable returning it) to a prometheus_client registry."""

    def __init__(self, stats: Stats | Callable[[], Stats | None]) -> None:
        self._stats = stats

    def collect(self) -> Iterator[Metric]:
        stats = self._stats if isinstance(self._stats, Stats) else self._stats()
        if stats is None:
            return
        for family in stats._families():
            yield _metric(family)


def _metric(family: Family) -> Metric:
    metric: Any
    if family.kind == "counter":
        metric = CounterMetricFamily(family.name, family.help, labels=_label_names(family))
        for labels, value in family.samples:
            metric.add_metric([v for _, v in labels], value)
    elif family.kind == "gauge":
        metric = GaugeMetricFamily(family.name, family.help, labels=_label_names(family))
        for labels, value in family.samples:
            metric.add_metric([v for _, v in labels], value)
    else:
        metric = HistogramMetricFamily(family.name, family.help, labels=_label_names(family))
        for labels, bounds, cumulative, count, total in family.histograms:
            buckets = [(number(bound), n) for bound, n in zip(bounds, cumulative, strict=True)]
            buckets.append(("+Inf", count))
            metric.add_metric([v for _, v in labels], buckets, total)
    result: Metric = metric
    return result


def _label_names(family: Family) -> list[str]:
    if family.histograms:
        return [name for name, _ in family.histograms[0][0]]
    if family.samples:
        return [name for name, _ in family.samples[0][0]]
    # A family with no sample yet: its label names are known from its definition only, and
    # prometheus_client needs none to expose an empty family.
    return []
