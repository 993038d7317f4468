"""The Prometheus text exposition format, version 0.0.4, written directly.

So ``/metrics`` works without prometheus_client: the format is a handful of line rules
(``# HELP``, ``# TYPE``, one sample per line, ``le`` buckets for histograms). The output is
what prometheus_client's ``generate_latest`` writes for the same families (sorted labels, its
number formatting), and the tests parse it with prometheus_client's own parser.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from toolwire._metrics.stats import Family, Labels

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def number(value: float) -> str:
    """A sample value or bound the way Go (and prometheus_client) writes it."""
    value = float(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    text = repr(value)
    dot = text.find(".")
    # Go switches to exponent notation sooner than Python's repr (prometheus_client does this).
    if value > 0 and dot > 6:
        mantissa = f"{text[0]}.{text[1:dot]}{text[dot + 1 :]}".rstrip("0.")
        return f"{mantissa}e+{dot - 1:02d}"
    return text


def _escape_label(value: str) -> str:
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


def _escape_help(text: str) -> str:
    return text.replace("\\", r"\\").replace("\n", r"\n")


def _labels(labels: Labels, extra: tuple[str, str] | None = None) -> str:
    pairs = sorted(labels if extra is None else (*labels, extra))
    if not pairs:
        return ""
    return "{" + ",".join(f'{k}="{_escape_label(v)}"' for k, v in pairs) + "}"


def render(families: Iterable[Family]) -> str:
    """The exposition text of ``families``."""
    out: list[str] = []
    for family in families:
        name = family.name + "_total" if family.kind == "counter" else family.name
        out.append(f"# HELP {name} {_escape_help(family.help)}\n")
        out.append(f"# TYPE {name} {family.kind}\n")
        for labels, value in family.samples:
            out.append(f"{name}{_labels(labels)} {number(value)}\n")
        for labels, bounds, cumulative, count, total in family.histograms:
            for bound, n in zip(bounds, cumulative, strict=True):
                out.append(f"{name}_bucket{_labels(labels, ('le', number(bound)))} {number(n)}\n")
            out.append(f"{name}_bucket{_labels(labels, ('le', '+Inf'))} {number(count)}\n")
            out.append(f"{name}_count{_labels(labels)} {number(count)}\n")
            out.append(f"{name}_sum{_labels(labels)} {number(total)}\n")
    return "".join(out)
