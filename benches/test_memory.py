"""Memory: the peak for one 200 KB call, and no growth over many streams.

Measured in a fresh subprocess with the resident set size (``/proc/self/status`` VmRSS and the
peak VmHWM, reset through ``/proc/self/clear_refs`` just before the stream), which sees the Rust
heap (tracemalloc would not). The stream is read from a file in 1-4 KB reads, so the input is
never held in memory whole; "input size" below is the size of the arguments (200 KB), which is
what the accumulator has to keep (the SSE body around it is ~8 MB of chunk envelopes).

Linux only (``/proc``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benches.workloads import get

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc"),
]

HERE = Path(__file__).resolve().parent

CHILD = r"""
import gc, json, random, sys
import toolwire

def status(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(field)

def reset_peak():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False

mode, path = sys.argv[2], sys.argv[3]
# Warm up: the first stream creates the event types, caches, allocator arenas.
acc = toolwire.StreamAccumulator()
acc.feed(b'data: {"choices":[{"delta":{"tool_calls":[{"index":0,"id":"a","function":'
         b'{"name":"f","arguments":"{\\"a\\": [1, {\\"b\\": 2}"}}]}}]}\n\n')
acc.finish(); acc.message(); del acc
rng = random.Random(7)
buf = bytearray(4096)
with open(path, "rb", buffering=0) as f:
    gc.collect()
    resettable = reset_peak()
    before = status("VmRSS")
    acc = toolwire.StreamAccumulator(events=(mode == "events"))
    while True:
        n = f.readinto(memoryview(buf)[:rng.randint(1024, 4096)])
        if not n:
            break
        evs = acc.feed(bytes(buf[:n]))
        del evs
    acc.finish()
    msg = acc.message()
    after, peak = status("VmRSS"), status("VmHWM")
args = msg["tool_calls"][0]["function"]["arguments"]
print(json.dumps({"before": before, "after": after, "peak": peak, "resettable": resettable,
                  "args": len(args.encode())}))
"""

LEAK_CHILD = r"""
import gc, json, sys
import toolwire
from benches.workloads import get
first, total = int(sys.argv[2]), int(sys.argv[3])

def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096

reads = get("small-1000").reads("net")
marks, done = {}, 0
while done < total:
    for i, stream in enumerate(reads):
        acc = toolwire.StreamAccumulator()
        for r in stream:
            for ev in acc.feed(r):
                if i % 7 == 0 and type(ev) is toolwire.ToolCallDelta:
                    ev.partial
        acc.finish()
        acc.message()
        done += 1
        if done in (first, total):
            gc.collect()
            marks[done] = rss()
        if done >= total:
            break
print(json.dumps(marks))
"""


@pytest.fixture(scope="module")
def body_200k(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("mem") / "call-200k.sse"
    path.write_bytes(get("call-200k").bodies[0])
    return path


def _child(code: str, *args: str) -> dict[str, int]:
    out = subprocess.run(
        # Run from the repository root, so that `benches.workloads` imports as a package.
        [sys.executable, "-c", code, str(HERE), *args],
        cwd=HERE.parent,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    result: dict[str, int] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.parametrize("mode", ["events", "no-events"])
def test_peak_memory_of_a_200k_call(body_200k: Path, mode: str) -> None:
    r = _child(CHILD, mode, str(body_200k))
    assert r["args"] > 190_000
    if not r["resettable"]:
        pytest.skip("cannot reset the peak RSS (/proc/self/clear_refs not writable)")
    peak_growth = r["peak"] - r["before"]
    # Measured in a clean venv: 389 KB (events off), 532 KB (on) for 200 KB of arguments.
    assert peak_growth < 4 * r["args"], (
        f"peak RSS grew {peak_growth / 1e3:.0f} KB for {r['args'] / 1e3:.0f} KB of arguments"
    )


def test_no_growth_over_many_streams() -> None:
    """20,000 small streams one after another (the gate runs 100,000): RSS flat after 2,000."""
    marks = _child(LEAK_CHILD, "2000", "20000")
    growth = marks["20000"] - marks["2000"]
    # Measured: 0-16 KB. 1 MiB over 18,000 streams would be ~58 bytes kept per stream.
    assert growth < 2**20, f"RSS grew {growth / 2**10:.0f} KiB from 2,000 to 20,000 streams"
