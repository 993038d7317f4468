"""Every wire format: toolwire against the official SDK's own accumulator of that format, on
the same 1-4 KB reads of benches/formats.py's agent turns (text, reasoning, parallel calls).

    pytest benches/bench_formats.py --benchmark-enable --benchmark-disable-gc \\
           --benchmark-group-by=group

``benchmark.group`` is the format, so each format's toolwire and SDK rows sit side by side.
With benchmarks on, every combination runs on the gate's input (the first turns up to 160 KB);
under ``--benchmark-disable`` (the plain ``pytest`` run) on the first turns up to 30 KB. Every
result is checked against the truth; toolwire on a format its core does not read yet is skipped.
"""

from __future__ import annotations

from typing import Any

import pytest

from benches import formats
from benches.benchutil import disabled, run_benchmark
from benches.format_peers import PEERS, toolwire_factory, toolwire_run

GATE_BYTES = 160_000  # benches/gate.py check_formats
TEST_BYTES = 30_000


@pytest.mark.parametrize("impl", ["toolwire", "sdk"])
@pytest.mark.parametrize("fmt", formats.FORMATS)
def test_format(benchmark: Any, request: pytest.FixtureRequest, fmt: str, impl: str) -> None:
    peer = PEERS[fmt]
    wl = formats.get(fmt)
    if impl == "sdk":
        pytest.importorskip(peer.module)
        run, view, expected = peer.run, peer.view, wl.views
    else:
        try:
            factory = toolwire_factory(fmt)
        except ValueError as exc:
            pytest.skip(f"toolwire does not read {fmt!r} yet: {exc}")
        run = toolwire_run(factory)
        view, expected = (lambda m: m), wl.expected
    streams = wl.head(TEST_BYTES if disabled(request) else GATE_BYTES)
    reads = wl.reads("net")[:streams]
    benchmark.group = fmt
    benchmark.extra_info["streams"] = streams
    benchmark.extra_info["bytes"] = sum(len(b) for b in wl.bodies[:streams])
    benchmark.extra_info["peer"] = peer.name if impl == "sdk" else "toolwire"

    def go() -> list[Any]:
        return [run(r) for r in reads]

    result = [view(x) for x in run_benchmark(benchmark, go, 0.5)]
    benchmark.extra_info["correct"] = result == expected[:streams]
    assert result == expected[:streams]
