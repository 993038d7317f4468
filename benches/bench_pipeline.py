"""Full pipeline benchmarks: SSE reads -> final message, implementation x workload x read size.

    pytest benches/bench_pipeline.py --benchmark-enable --benchmark-group-by=group
    pytest benches/bench_pipeline.py --benchmark-enable -k "small-1000 and net"

Every benchmark checks its output against the truth of the workload (a fast wrong answer
fails). Peers that cannot read a quirk at all are listed in ``KNOWN_WRONG`` and run as strict
xfails without timing (the speed of a wrong answer means nothing); a peer that starts getting
it right turns the xfail into a failure, so the table stays true. Under ``--benchmark-disable``
(the plain ``pytest`` run) big combinations run on the first streams only, or are skipped
(benches/benchutil.py).
"""

from __future__ import annotations

from typing import Any

import pytest

from benches.benchutil import DISABLED_CAP, disabled, pipeline_cost, run_benchmark, skip_slow
from benches.peers import PIPELINE
from benches.workloads import READS, WORKLOADS, get

# (peer, workload) -> why its final message is wrong or it raises (found by running it).
KNOWN_WRONG = {
    ("openai-sdk", "azure"): "ChatCompletionChunk.model_validate_json rejects Azure's "
    "prompt-filter chunk (object: '') and choices without a delta",
    ("openai-sdk", "index-zero"): "merges every call sent with index 0 into one",
    ("openai-sdk", "no-index"): "validation error: tool_calls[].index is required",
    ("openai-sdk", "args-object"): "validation error: function.arguments must be a string",
    ("httpx-sse", "index-zero"): "the dict merge keys calls by index: calls merged",
    ("httpx-sse", "no-index"): "the dict merge keys calls by index: calls merged",
    ("httpx-sse", "args-object"): "str += dict raises TypeError",
}


def _params() -> list[Any]:
    out = []
    for impl in PIPELINE:
        for workload in WORKLOADS:
            for read in READS:
                marks = []
                why = KNOWN_WRONG.get((impl, workload))
                if why:
                    marks.append(pytest.mark.xfail(reason=why, strict=True))
                out.append(
                    pytest.param(impl, workload, read, marks=marks, id=f"{impl}-{workload}-{read}")
                )
    return out


def _modules(impl: str) -> None:
    if impl == "openai-sdk":
        pytest.importorskip("openai")
    elif impl == "httpx-sse":
        pytest.importorskip("httpx_sse")


@pytest.mark.parametrize(("impl", "workload", "read"), _params())
def test_pipeline(
    benchmark: Any, request: pytest.FixtureRequest, impl: str, workload: str, read: str
) -> None:
    _modules(impl)
    wl = get(workload)
    run = PIPELINE[impl].run
    benchmark.group = f"{workload}-{read}"
    if (impl, workload) in KNOWN_WRONG:
        if disabled(request) and read != "net":
            pytest.skip("known wrong: checked on 1-4 KB reads only")
        for reads, truth in zip(wl.reads(read), wl.expected, strict=False):
            assert run(reads) == truth
        return
    streams = len(wl.bodies)
    cost = pipeline_cost(impl, read, wl.nbytes)
    if disabled(request) and cost > DISABLED_CAP and streams > 1:
        # Many streams: run the first ones that fit the time cap.
        per_byte = cost / wl.nbytes
        total, streams = 0, 0
        for body in wl.bodies:
            total += len(body)
            if total * per_byte > DISABLED_CAP:
                break
            streams += 1
        cost = per_byte * sum(len(b) for b in wl.bodies[:streams])
    if streams == 0:
        cost = pipeline_cost(impl, read, len(wl.bodies[0]))
        streams = 1
    skip_slow(request, cost, f"{impl} on {workload} in {read}-byte reads")
    all_reads = wl.reads(read, streams)
    expected = wl.expected[:streams]
    benchmark.extra_info["streams"] = streams
    benchmark.extra_info["bytes"] = sum(len(b) for b in wl.bodies[:streams])

    def go() -> list[dict[str, Any]]:
        return [run(reads) for reads in all_reads]

    result = run_benchmark(benchmark, go, cost)
    benchmark.extra_info["correct"] = result == expected
    assert result == expected
