"""Interleaved median timing for the gate and the plot (no pytest-benchmark needed).

``measure({"a": fa, "b": fb}, ...)`` runs one warm-up call of each function, then rounds in
which every function runs once (in a rotating order, so a noisy moment of the machine hits all
of them alike), each timed with ``time.perf_counter`` with the garbage collector disabled
(``gc.collect()`` between calls, outside the timing). It stops after ``max_rounds``, or once at
least ``min_rounds`` are done and ``budget`` seconds have passed. Medians are reported.

``groups`` names functions that run back to back in every round (in alternating order), for
rows that compare them: ``paired_ratio`` then takes the median of the per-round ratios. This
shared VM has slow spells of seconds in which everything takes up to twice as long; medians
taken apart can land on opposite sides of one (a 200 KB run's median from the slow spells, the
20 KB run's from the fast ones), while two runs a few milliseconds apart see the same machine.

``freeze=True`` moves every object alive at the start to the GC's permanent generation for the
duration (``gc.freeze()``, undone after), so the ``gc.collect()`` between calls does not rescan
them: with the SDKs' type modules loaded (300,000 objects) each collection took ~0.3 s, more than
the calls it separates. What is timed does not change (the GC is off while a call runs).
"""

from __future__ import annotations

import gc
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Timing", "measure", "paired_ratio", "rss_bytes"]


@dataclass
class Timing:
    name: str
    samples: list[float] = field(default_factory=list)
    scale: float = 1.0  # multiply samples by this (stride or subset estimates)

    @property
    def median(self) -> float:
        return statistics.median(self.samples) * self.scale

    @property
    def best(self) -> float:
        return min(self.samples) * self.scale

    @property
    def rounds(self) -> int:
        return len(self.samples)


def _timed(fn: Callable[[], Any]) -> float:
    gc.collect()
    enabled = gc.isenabled()
    gc.disable()
    try:
        t0 = time.perf_counter()
        fn()
        return time.perf_counter() - t0
    finally:
        if enabled:
            gc.enable()


def measure(
    funcs: dict[str, Callable[[], Any]],
    *,
    min_rounds: int = 7,
    max_rounds: int = 40,
    budget: float = 10.0,
    warmup: int = 1,
    scale: dict[str, float] | None = None,
    freeze: bool = False,
    groups: list[list[str]] | None = None,
) -> dict[str, Timing]:
    """Median-ready samples of every function in ``funcs`` (see the module docstring)."""
    out = {name: Timing(name, scale=(scale or {}).get(name, 1.0)) for name in funcs}
    names = list(funcs)
    grouped = [[n for n in g if n in funcs] for g in groups or []]
    in_group = {n for g in grouped for n in g}
    units = [g for g in grouped if g] + [[n] for n in names if n not in in_group]
    for _ in range(warmup):
        for name in names:
            funcs[name]()
    if freeze:
        gc.collect()
        gc.freeze()
    try:
        start = time.perf_counter()
        rounds = 0
        while rounds < max_rounds:
            if rounds >= min_rounds and time.perf_counter() - start >= budget:
                break
            shift = rounds % len(units)
            for unit in units[shift:] + units[:shift]:
                for name in unit if rounds % 2 == 0 else reversed(unit):
                    out[name].samples.append(_timed(funcs[name]))
            rounds += 1
    finally:
        if freeze:
            gc.unfreeze()
    return out


def paired_ratio(num: Timing, den: Timing) -> float:
    """Median over rounds of ``num / den``, for two functions of one ``measure`` group."""
    pairs = zip(num.samples, den.samples, strict=True)
    return statistics.median(a * num.scale / (b * den.scale) for a, b in pairs)


_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss_bytes() -> int:
    """Resident set size of this process now (Linux ``/proc/self/statm``; sees the Rust heap)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * _PAGE
