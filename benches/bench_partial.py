"""Partial-argument benchmarks: one call's arguments arrive in fragments and the value is read
after every fragment. Implementation x workload (argument size) x fragment size.

    pytest benches/bench_partial.py --benchmark-enable --benchmark-group-by=group
    TOOLWIRE_BENCH_SLOW=1 pytest benches/bench_partial.py --benchmark-enable -k 200k  # minutes

Implementations (benches/peers.py ``PARTIAL``): toolwire's ``PartialJSON`` (feed + value per
fragment), the accumulator's ``ev.partial`` (one SSE chunk per read, and 1-4 KB reads), the
Python reference and three re-parsing peers (jiter, partial-json-parser, LangChain). Each
benchmark asserts that the last value equals ``json.loads`` of the whole arguments.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import pytest

from benches.benchutil import partial_cost, run_benchmark, skip_slow
from benches.peers import PARTIAL
from benches.workloads import argument_fragments, make_arguments

SIZES = {"args-2k": 2_000, "args-20k": 20_000, "args-200k": 200_000}
FRAGMENTS = {"tok": (1, 15), "64": (64, 64)}  # fragment length range, in characters


@cache
def _case(workload: str, frag: str) -> tuple[str, list[str], Any]:
    text = make_arguments(SIZES[workload])
    lo, hi = FRAGMENTS[frag]
    return text, argument_fragments(text, lo=lo, hi=hi), json.loads(text)


@pytest.mark.parametrize("frag", list(FRAGMENTS))
@pytest.mark.parametrize("workload", list(SIZES))
@pytest.mark.parametrize("impl", list(PARTIAL))
def test_partial(
    benchmark: Any, request: pytest.FixtureRequest, impl: str, workload: str, frag: str
) -> None:
    peer = PARTIAL[impl]
    pytest.importorskip(peer.module)
    text, fragments, truth = _case(workload, frag)
    estimate = partial_cost(impl, len(text), len(fragments))
    skip_slow(request, estimate, f"{impl} at {workload}")
    benchmark.group = f"{workload}-{frag}"
    benchmark.extra_info["fragments"] = len(fragments)
    prepared = peer.prepare(fragments)
    result = run_benchmark(benchmark, lambda: peer.run(prepared), estimate)
    benchmark.extra_info["correct"] = result == truth
    assert result == truth
