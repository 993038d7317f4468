"""Shared helpers of the pytest-benchmark suites: a cost model that keeps the plain test run
(``--benchmark-disable``, part of ``pytest``) fast, and the way a slow benchmark is run.

Under ``--benchmark-disable`` each benchmark body runs once as a test. A combination whose
estimated time is over ``DISABLED_CAP`` seconds is cut to the first streams that fit (workloads
of many streams) or skipped (one big stream: 1-byte reads of the big workloads, quadratic
re-parsers at 200 KB). With benchmarks enabled, combinations estimated over ``SLOW_CAP`` seconds
per round are skipped unless ``TOOLWIRE_BENCH_SLOW=1`` (the quadratic re-parsers at 200 KB take
minutes per round), and those over ``PEDANTIC_OVER`` run 3 rounds of 1 iteration.

The estimates are per-megabyte costs measured on the 2-core development machine, rounded up.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest

DISABLED_CAP = 0.1  # seconds per test under --benchmark-disable
SLOW_CAP = 60.0  # seconds per round with benchmarks on (unless TOOLWIRE_BENCH_SLOW=1)
PEDANTIC_OVER = 1.0  # seconds per round: 3 rounds of 1 iteration instead of calibrating

# Pipeline: seconds per MB of SSE body; ``1``: 1-byte reads, ``n``: any other read size.
PIPELINE_COST = {
    "toolwire": {"1": 0.35, "n": 0.02},
    "toolwire-noev": {"1": 0.2, "n": 0.012},
    "reference": {"1": 2.5, "n": 0.2},
    "openai-sdk": {"1": 12.0, "n": 1.0},
    "httpx-sse": {"1": 1.5, "n": 0.07},
}
# Partial: linear peers, seconds per byte of arguments; re-parsers, seconds per byte parsed
# (fragments x half the size).
PARTIAL_LINEAR = {"toolwire": 0.4e-6, "toolwire-acc": 0.8e-6}
PARTIAL_REPARSE = {
    "jiter": 9e-9,
    "partial-json-parser": 170e-9,
    "langchain": 280e-9,
    "reference": 320e-9,
    "toolwire-acc-net": 80e-9,
}


def disabled(request: pytest.FixtureRequest) -> bool:
    """Whether benchmark bodies run once as tests (``--benchmark-disable``, in addopts, and no
    ``--benchmark-enable`` after it; pytest-benchmark's own rule)."""
    config = request.config
    return bool(config.getoption("benchmark_disable") and not config.getoption("benchmark_enable"))


def slow_allowed() -> bool:
    return os.environ.get("TOOLWIRE_BENCH_SLOW") == "1"


def pipeline_cost(impl: str, read: str, nbytes: int) -> float:
    return PIPELINE_COST[impl]["1" if read == "1" else "n"] * nbytes / 1e6


def partial_cost(impl: str, size: int, fragments: int) -> float:
    if impl in PARTIAL_LINEAR:
        return PARTIAL_LINEAR[impl] * size
    linear = 0.8e-6 * size if impl == "toolwire-acc-net" else 0.0
    return linear + PARTIAL_REPARSE[impl] * fragments * size / 2


def run_benchmark(benchmark: Any, fn: Callable[[], Any], estimate: float) -> Any:
    """``benchmark(fn)``, or 3 pedantic rounds when one round is estimated to be slow."""
    if estimate > PEDANTIC_OVER and not benchmark.disabled:
        return benchmark.pedantic(fn, rounds=3, iterations=1, warmup_rounds=0)
    return benchmark(fn)


def skip_slow(request: pytest.FixtureRequest, estimate: float, what: str) -> None:
    """Skips a combination too slow for the current mode (see the module docstring)."""
    if disabled(request):
        if estimate > DISABLED_CAP:
            pytest.skip(f"{what}: ~{estimate:.1f} s, too slow under --benchmark-disable")
    elif estimate > SLOW_CAP and not slow_allowed():
        pytest.skip(f"{what}: ~{estimate:.0f} s per round; set TOOLWIRE_BENCH_SLOW=1 to run it")
