"""Log-log plot of partial-argument time against argument size -> benches/partial_scaling.png.

    python -m benches.plot            # ~2 minutes; needs matplotlib (the ``bench`` extra)

One call's arguments (2 KB ... 200 KB) arrive in ~8-char fragments and the value is read after
every fragment; the y axis is the time for the whole call. Re-parsing peers parse every prefix;
where that would take long, only 1 prefix in k is parsed and the time multiplied by k (hollow
markers). Medians of 3-5 samples of at least 50 ms (1 run when a run takes over a second).
"""

from __future__ import annotations

import functools
import gc
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from benches import peers, workloads

HERE = Path(__file__).resolve().parent

SIZES = (2_000, 5_000, 10_000, 20_000, 50_000, 100_000, 200_000)
MAX_PARSES = 300  # prefixes parsed per point by a re-parser (stride estimate above that)
LINES = (
    # (PARTIAL key, label, largest size, style)
    ("toolwire", "toolwire PartialJSON (v = value())", 200_000, "o-"),
    ("toolwire-acc", "toolwire accumulator, ev.partial, 1 chunk/read", 200_000, "s-"),
    ("toolwire-acc-net", "toolwire accumulator, ev.partial, 1-4 KB reads", 50_000, "s--"),
    ("jiter", "jiter re-parse (trailing-strings)", 200_000, "^-"),
    ("partial-json-parser", "partial-json-parser re-parse", 200_000, "v-"),
    ("langchain", "LangChain parse_partial_json re-parse", 200_000, "D-"),
)


def _time(fn: Any) -> float:
    """Median seconds per call: 1 run if a run takes over a second, else 5 (or 3) samples,
    each repeating the call for at least 50 ms; GC off while timing."""
    gc.disable()
    try:
        t0 = time.perf_counter()
        fn()
        first = time.perf_counter() - t0
        if first > 1.0:
            return first
        reps = max(1, int(0.05 / max(first, 1e-6)))
        samples = []
        for _ in range(5 if first < 0.2 else 3):
            t0 = time.perf_counter()
            for _ in range(reps):
                fn()
            samples.append((time.perf_counter() - t0) / reps)
        return statistics.median(samples)
    finally:
        gc.enable()


def measure_all() -> dict[str, list[tuple[int, float, bool]]]:
    out: dict[str, list[tuple[int, float, bool]]] = {}
    for size in SIZES:
        text = workloads.make_arguments(size)
        fragments = workloads.argument_fragments(text)
        truth = json.loads(text)
        for key, _label, largest, _ in LINES:
            if size > largest:
                continue
            peer = peers.PARTIAL[key]
            try:
                __import__(peer.module)
            except ImportError:
                continue
            prepared = peer.prepare(fragments)
            stride = max(1, len(fragments) // MAX_PARSES) if peer.run_strided else 1
            if stride > 1:
                assert peer.run_strided is not None
                run_strided = peer.run_strided
                value = run_strided(prepared, stride)
                seconds = _time(functools.partial(run_strided, prepared, stride)) * stride
            else:
                value = peer.run(prepared)
                seconds = _time(functools.partial(peer.run, prepared))
            assert value == truth, (key, size)
            out.setdefault(key, []).append((len(text), seconds, stride > 1))
            print(
                f"{key:22} {len(text):>8,} B  {seconds * 1e3:11.1f} ms"
                + (f"  (1 prefix in {stride}, x{stride})" if stride > 1 else ""),
                flush=True,
            )
    return out


def plot(data: dict[str, list[tuple[int, float, bool]]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 6), dpi=110)
    for key, label, _, style in LINES:
        points = data.get(key)
        if not points:
            continue
        xs = [p[0] / 1000 for p in points]
        ys = [p[1] for p in points]
        (line,) = ax.plot(xs, ys, style, label=label, markersize=5)
        est = [(x, y) for (x, y), p in zip(zip(xs, ys, strict=False), points, strict=False) if p[2]]
        if est:
            ax.plot(
                [e[0] for e in est],
                [e[1] for e in est],
                linestyle="none",
                marker=style[0],
                markersize=8,
                markerfacecolor="white",
                markeredgecolor=line.get_color(),
            )
    # Guides: slope 1 (linear) and slope 2 (quadratic) through toolwire's first point.
    if data.get("toolwire"):
        x0, y0 = data["toolwire"][0][0] / 1000, data["toolwire"][0][1]
        xs = [x0, SIZES[-1] / 1000]
        ax.plot(xs, [y0, y0 * xs[1] / x0], ":", color="grey", linewidth=1, label="O(n) guide")
        ax.plot(
            xs,
            [y0 * 4, y0 * 4 * (xs[1] / x0) ** 2],
            "-.",
            color="grey",
            linewidth=1,
            label="O(n²) guide",
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("arguments size (KB), ~8-char fragments")
    ax.set_ylabel("time for the whole call, value read after every fragment (s)")
    ax.set_title(
        "Partial tool-call arguments: time against size (log-log)\n"
        "hollow markers: stride estimate (1 prefix in k parsed, time x k)"
    )
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    fig.savefig(path)
    print(f"wrote {path}")


def main() -> int:
    data = measure_all()
    plot(data, HERE / "partial_scaling.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
