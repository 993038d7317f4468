"""The performance gate: ratios measured in one process on the same input (STYLE.md section 7).

Run on the release build (CI: ``python -m benches.gate``). Prints the table it judged and exits
0 when every gated row passes, 1 on any FAIL, 2 when it refuses to run (debug build). A row
short of issue 12's target for it (THRESHOLDS ``target``) prints WARN; the last line counts the
targets met.

    python -m benches.gate                    # the gate (about 2 minutes)
    python -m benches.gate --impl reference   # replace toolwire by the Python reference: FAILS
    python -m benches.gate --only pipeline partial --quick   # a subset, fewer rounds
    python -m benches.gate --only formats     # every wire format against its SDK (~15 s)
    python -m benches.gate --only consumers   # the orjson / msgspec consumers

``TOOLWIRE_GATE_IMPL=reference`` does the same as ``--impl reference``.

Timing (benches/timing.py): one warm-up call of every function (it also checks the result
against the truth: a fast wrong answer fails), then interleaved rounds, each function timed
once per round with ``time.perf_counter`` and the GC disabled; at least ``min_rounds`` (7)
rounds, then stop once the check's time budget is spent; medians. Thresholds and the measured
values beside them: benches/thresholds.py.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import os
import sys
import sysconfig
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benches import format_peers, formats, peers, workloads
from benches.thresholds import THRESHOLDS
from benches.timing import Timing, measure, paired_ratio, rss_bytes

__all__ = ["CHECKS", "Impl", "Row", "format_table", "main", "run_checks"]

MIN_ROUNDS = 7
# The key suffix of rows measured on free-threaded CPython, whose bars differ.
FT = ".ft" if sysconfig.get_config_var("Py_GIL_DISABLED") else ""


# ------------------------------------------------------------------------------------ rows
@dataclass
class Row:
    key: str  # the THRESHOLDS key
    workload: str
    num: str  # "impl (median)" of the numerator
    den: str
    num_s: float | None
    den_s: float | None
    ratio: float
    note: str = ""
    unit: str = "x"
    error: str = ""  # a wrong result or a crash: the row fails
    # Why this run cannot judge a gated bar (the machine cannot show it): printed, and a miss
    # is a WARN, not a FAIL.
    unjudged: str = ""

    @property
    def threshold(self) -> dict[str, Any]:
        return THRESHOLDS[self.key]

    @property
    def gated(self) -> bool:
        return bool(self.threshold["gate"]) and not self.unjudged

    def _meets(self, bar: float) -> bool:
        if self.error:
            return False
        return bool(self.ratio >= bar if self.threshold["op"] == ">=" else self.ratio <= bar)

    @property
    def passed(self) -> bool:
        return self._meets(self.threshold["value"])

    @property
    def target_met(self) -> bool | None:
        """The issue's target for this row (``target``; None when the row has none)."""
        target = self.threshold.get("target")
        return None if target is None else self._meets(target)

    @property
    def verdict(self) -> str:
        if not self.passed:
            return "FAIL" if self.gated else "WARN"
        return "WARN" if self.target_met is False else "PASS"


@dataclass
class Impl:
    """What stands for toolwire in the gate (toolwire itself, or the reference)."""

    name: str
    acc: Callable[..., Any]  # StreamAccumulator-like factory, ``events=`` keyword
    pipeline: str  # PIPELINE key, events on
    pipeline_noev: Callable[[list[bytes]], dict[str, Any]]
    partial_drop: Callable[[list[str]], Any] | None  # None: use the re-parser below
    partial_keep: Callable[[list[str]], Any] | None
    reparser: str | None = None  # PARTIAL key of a re-parser standing in for toolwire
    max_parses: int = 500  # prefixes a stand-in re-parser parses per size (stride estimate)
    leak_streams: tuple[int, int] = (10_000, 100_000)  # RSS compared after these many streams
    # format -> StreamAccumulator-like factory (``events=`` keyword); raises ValueError for a
    # format it does not read. ``tuple_events``: events are tuples (tests/reference).
    format_acc: Callable[[str], Callable[..., Any]] | None = None
    tuple_events: bool = False


def toolwire_impl() -> Impl:
    import toolwire

    def drop(fragments: list[str]) -> Any:
        parser = toolwire.PartialJSON()
        feed, value = parser.feed, parser.value
        for fragment in fragments:
            feed(fragment)
            value()
        return value()

    return Impl(
        "toolwire",
        toolwire.StreamAccumulator,
        "toolwire",
        peers.PIPELINE["toolwire-noev"].run,
        drop,
        peers.PARTIAL["toolwire"].run,
        format_acc=format_peers.toolwire_factory,  # ValueError: a format the core does not read
    )


def reference_impl() -> Impl:
    from tests.reference.chat import ReferenceAccumulator

    def noev(reads: list[bytes]) -> dict[str, Any]:
        acc = ReferenceAccumulator(events=False)
        for read in reads:
            acc.feed(read)
        acc.finish()
        return acc.message()

    def format_acc(fmt: str) -> Callable[..., Any]:
        if fmt == "chat":
            return ReferenceAccumulator
        import importlib

        name = f"Reference{fmt.capitalize()}Accumulator"  # tests/reference/<fmt>.py
        try:
            factory: Callable[..., Any] = getattr(
                importlib.import_module(f"tests.reference.{fmt}"), name
            )
        except (ImportError, AttributeError) as exc:
            raise ValueError(f"no Python reference for format {fmt!r}: {exc}") from None
        return factory

    # Pure-Python re-parse of a 100 KB prefix takes ~30 ms: at most 100 prefixes per size.
    return Impl(
        "reference",
        ReferenceAccumulator,
        "reference",
        noev,
        None,
        None,
        reparser="reference",
        max_parses=100,
        leak_streams=(1_000, 10_000),
        format_acc=format_acc,
        tuple_events=True,
    )


def get_impl(name: str) -> Impl:
    if name == "toolwire":
        return toolwire_impl()
    if name == "reference":
        return reference_impl()
    raise SystemExit(f"unknown --impl {name!r} (toolwire, reference)")


# ----------------------------------------------------------------------------------- helpers
def fmt_s(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds * 1e6:.0f} us"


def ratio_row(
    key: str,
    workload: str,
    num: Timing,
    den: Timing,
    note: str = "",
    num_label: str | None = None,
    den_label: str | None = None,
    paired: bool = False,
) -> Row:
    """``paired``: the two ran back to back in one ``measure`` group; the ratio is the median of
    the per-round ratios (the medians shown are each side's own)."""
    ratio = paired_ratio(num, den) if paired else num.median / den.median
    if paired:
        note = "; ".join(filter(None, (note, "median of paired rounds")))
    return Row(
        key,
        workload,
        num_label or num.name,
        den_label or den.name,
        num.median,
        den.median,
        ratio,
        note,
    )


def error_row(key: str, workload: str, num: str, den: str, error: str) -> Row:
    return Row(key, workload, num, den, None, None, float("nan"), error=error)


def verified(funcs: dict[str, Callable[[], Any]], expected: dict[str, Any]) -> dict[str, str]:
    """Runs each function once (the warm-up) and compares its result with the truth."""
    wrong = {}
    for name, fn in funcs.items():
        try:
            got = fn()
        except Exception as exc:  # noqa: BLE001 - a crash is a wrong answer
            wrong[name] = f"{name} raised {exc!r}"[:200]
            continue
        if got != expected[name]:
            wrong[name] = f"{name} gave a wrong result"
    return wrong


def _repeat(fn: Callable[[], Any], reps: int) -> Callable[[], Any]:
    if reps == 1:
        return fn

    def run() -> Any:
        out = None
        for _ in range(reps):
            out = fn()
        return out

    return run


def _each_copy(fn: Callable[[Any], Any], items: list[Any], reps: int) -> Callable[[], Any]:
    """``fn`` over ``reps`` copies of the input list ``items`` (new ``str``/``bytes`` objects
    with the same content), one after another, every result held until the last is made. A
    smaller size repeated to the bigger one's length then reads as many input objects, and holds
    as much output, as the bigger one: the growth rows judge the work per fragment, not how much
    of it fits in the CPU caches. Repeated on one list, the input stayed cached and the bigger
    one's did not (cachegrind: 233,000 last-level misses on the 200 KB run's fragments in
    ``PyUnicode_AsUTF8AndSize``, none on the 20 KB run's); with each result freed before the
    next, the ten 20 KB values were built in the memory the last one had left hot, while the
    200 KB value takes 0.87 MB of fresh memory and frees it cold (0.8 ms of its ~15 ms, 0.025 ms
    for a 20 KB value): `partial.drop.200k/20k` read 11.4-12.3x that way, 10.3-11.0x this way
    (quartiles of 26-36 paired rounds on the development machine)."""
    if reps == 1:
        return lambda: fn(items)

    def fresh(x: Any) -> Any:
        return bytes(bytearray(x)) if isinstance(x, bytes) else (x + " ")[:-1]

    copies = [items] + [[fresh(x) for x in items] for _ in range(reps - 1)]

    def run() -> Any:
        outs = [fn(copy) for copy in copies]
        return outs[-1]

    return run


@dataclass
class Budget:
    min_rounds: int = MIN_ROUNDS
    scale: float = 1.0  # multiplies every check's time budget

    def seconds(self, base: float) -> float:
        return base * self.scale


# ------------------------------------------------------------------------------------ checks
def check_pipeline(
    impl: Impl, budget: Budget, streams: int = 1000, sdk_streams: int = 100, read: str = "net"
) -> list[Row]:
    """Full pipeline on the small streams: reference / toolwire, SDK / toolwire."""
    wl = workloads.get("small-1000")
    reads = wl.reads(read)[:streams]
    expected = wl.expected[:streams]
    total_bytes = sum(len(b) for b in wl.bodies[:streams])
    sdk_bytes = sum(len(b) for b in wl.bodies[:sdk_streams])

    def over(run: Callable[[list[bytes]], Any], subset: int = streams) -> Callable[[], Any]:
        part = reads[:subset]
        return lambda: [run(r) for r in part]

    funcs: dict[str, Callable[[], Any]] = {
        "reference": over(peers.PIPELINE["reference"].run),
        impl.name: over(peers.PIPELINE[impl.pipeline].run),
        f"{impl.name}-noev": over(impl.pipeline_noev),
    }
    exp = {name: expected for name in funcs}
    optional = []
    try:
        import openai  # noqa: F401

        funcs["openai-sdk"] = over(peers.PIPELINE["openai-sdk"].run, sdk_streams)
        exp["openai-sdk"] = expected[:sdk_streams]
    except ImportError:
        optional.append("openai")
    try:
        import httpx_sse  # noqa: F401

        funcs["httpx-sse"] = over(peers.PIPELINE["httpx-sse"].run)
        exp["httpx-sse"] = expected
    except ImportError:
        optional.append("httpx-sse")
    wrong = verified(funcs, exp)
    ok = {k: v for k, v in funcs.items() if k not in wrong}
    t = measure(
        ok,
        min_rounds=budget.min_rounds,
        budget=budget.seconds(25),
        warmup=0,
        scale={"openai-sdk": total_bytes / sdk_bytes},
    )
    label = f"small-1000 {read}"
    rows = []

    def pair(key: str, num: str, den: str, note: str = "") -> None:
        bad = wrong.get(num) or wrong.get(den)
        if bad:
            rows.append(error_row(key, label, num, den, bad))
        elif num in t and den in t:
            rows.append(ratio_row(key, label, t[num], t[den], note))

    pair("pipeline.reference/toolwire", "reference", impl.name)
    pair("pipeline.reference/toolwire-noev", "reference", f"{impl.name}-noev")
    if "openai" in optional:
        rows.append(
            error_row(
                "pipeline.openai-sdk/toolwire",
                label,
                "openai-sdk",
                impl.name,
                "openai not installed",
            )
        )
    else:
        pair(
            "pipeline.openai-sdk/toolwire",
            "openai-sdk",
            impl.name,
            f"SDK timed on the first {sdk_streams} streams, x{total_bytes / sdk_bytes:.2f} (bytes)",
        )
    if "httpx-sse" in t:
        rows.append(
            ratio_row(
                "info",
                label,
                t["httpx-sse"],
                t[impl.name],
                "httpx-sse + json.loads + dict merge (not judged)",
            )
        )
    return rows


SIZES = (2_000, 20_000, 200_000)


def check_partial(
    impl: Impl,
    budget: Budget,
    sizes: tuple[int, ...] = SIZES,
    max_parses: int = 500,
    acc_net_sizes: tuple[int, ...] | None = None,
) -> list[Row]:
    """One call growing in ~8-char fragments, the value read after every fragment."""
    if acc_net_sizes is None:
        acc_net_sizes = sizes
    texts = {s: workloads.make_arguments(s) for s in sizes}
    frags = {s: workloads.argument_fragments(t) for s, t in texts.items()}
    truth = {s: json.loads(t) for s, t in texts.items()}
    big = sizes[-1]
    funcs: dict[str, Callable[[], Any]] = {}
    scale: dict[str, float] = {}
    exp: dict[str, Any] = {}
    notes: dict[str, str] = {}

    def strided(peer_name: str, s: int, name: str) -> None:
        peer = peers.PARTIAL[peer_name]
        assert peer.run_strided is not None
        prepared = peer.prepare(frags[s])
        limit = min(max_parses, impl.max_parses) if peer_name == impl.reparser else max_parses
        stride = max(1, len(frags[s]) // limit)
        funcs[name] = lambda: peer.run_strided(prepared, stride)  # type: ignore[misc]
        scale[name] = stride
        exp[name] = truth[s]
        if stride > 1:
            notes[name] = f"1 prefix in {stride} parsed, time x{stride}"

    for s in sizes:
        reps = max(1, big // s)
        if impl.reparser:
            # A re-parser has no incremental state: "drop" and "keep" are the same loop.
            strided(impl.reparser, s, f"keep@{s}")
        else:
            assert impl.partial_drop and impl.partial_keep
            for mode, run in (("drop", impl.partial_drop), ("keep", impl.partial_keep)):
                funcs[f"{mode}@{s}"] = _each_copy(run, frags[s], reps)
                scale[f"{mode}@{s}"] = 1 / reps
                exp[f"{mode}@{s}"] = truth[s]
        # Through the accumulator: one chunk per read, and network-like reads.
        chunks = workloads.partial_call_chunks(frags[s])
        funcs[f"acc@{s}"] = _each_copy(lambda c: _acc_partial(impl, c), chunks, reps)
        scale[f"acc@{s}"] = 1 / reps
        exp[f"acc@{s}"] = truth[s]
        if s in acc_net_sizes:
            net = workloads.split_reads(b"".join(chunks), "net")
            net_reps = max(1, acc_net_sizes[-1] // s)
            funcs[f"acc-net@{s}"] = _each_copy(lambda c: _acc_partial(impl, c), net, net_reps)
            scale[f"acc-net@{s}"] = 1 / net_reps
            exp[f"acc-net@{s}"] = truth[s]
            funcs[f"acc-drop@{s}"] = _each_copy(
                lambda c: _acc_partial(impl, c, keep=False), net, net_reps
            )
            scale[f"acc-drop@{s}"] = 1 / net_reps
            exp[f"acc-drop@{s}"] = truth[s]
    try:
        import jiter  # noqa: F401

        strided("jiter", big, f"jiter@{big}")
    except ImportError:
        pass
    wrong = verified(funcs, exp)
    ok = {k: v for k, v in funcs.items() if k not in wrong}
    # Each mode's sizes run back to back, so a growth ratio compares runs on the same machine.
    modes = ("drop", "keep", "acc", "acc-net", "acc-drop")
    groups = [[f"{mode}@{s}" for s in sizes] for mode in modes]
    t = measure(
        ok,
        min_rounds=budget.min_rounds,
        budget=budget.seconds(25),
        warmup=0,
        scale=scale,
        # The inputs' copies are ~1.5 million list items: unfrozen, the gc.collect() before
        # each call took ~0.1 s and the 25 s left 8-12 rounds (quartiles 8-13x); now 26-36.
        freeze=True,
        groups=groups,
    )
    if impl.reparser:
        for s in sizes:
            if f"keep@{s}" in t:
                t[f"drop@{s}"] = t[f"keep@{s}"]
            if f"keep@{s}" in wrong:
                wrong[f"drop@{s}"] = wrong[f"keep@{s}"]
            notes[f"drop@{s}"] = notes.get(f"keep@{s}", "")
    rows: list[Row] = []
    who = impl.name if not impl.reparser else f"{impl.name} (re-parse)"
    steps = ("20k/2k", "200k/20k")  # threshold keys of the 1st and 2nd growth step

    def growth(key: str, mode: str, a: int, b: int, label: str) -> None:
        na, nb = f"{mode}@{a}", f"{mode}@{b}"
        if na in wrong or nb in wrong:
            rows.append(error_row(key, label, nb, na, wrong.get(na) or wrong.get(nb, "")))
            return
        note = "; ".join(filter(None, (notes.get(nb), notes.get(na))))
        if mode.startswith("acc") and impl.reparser:
            note = "the reference has no partial values: none read"
        rows.append(
            ratio_row(
                key, label, t[nb], t[na], note, f"{who} {_kb(b)}", f"{who} {_kb(a)}", paired=True
            )
        )

    for mode, what in (
        ("drop", "PartialJSON, value dropped"),
        ("keep", "PartialJSON, v = value()"),
        ("acc", "accumulator, 1 chunk/read, ev.partial"),
    ):
        for step, (a, b) in zip(steps, itertools.pairwise(sizes), strict=False):
            growth(f"partial.{mode}.{step}", mode, a, b, what)
    for step, (a, b) in zip(steps, itertools.pairwise(acc_net_sizes), strict=False):
        key = f"partial.acc-net.{step}"
        if key in THRESHOLDS:
            growth(key, "acc-net", a, b, "accumulator, 1-4 KB reads, v = ev.partial")
        key = f"partial.acc-drop.{step}"
        if key in THRESHOLDS:
            growth(key, "acc-drop", a, b, "accumulator, 1-4 KB reads, ev.partial read")
    jn, kn = f"jiter@{big}", f"keep@{big}"
    # Free-threaded CPython builds the values at about half the speed (21 ms against 10 ms in
    # CI) while jiter's re-parse is the same: a row of its own, as threads has.
    key = f"partial.jiter/toolwire@200k{FT}"
    if jn in wrong or kn in wrong:
        rows.append(
            error_row(key, f"one call {_kb(big)}", "jiter", who, wrong.get(jn) or wrong.get(kn, ""))
        )
    elif jn in t and kn in t:
        rows.append(
            ratio_row(
                key,
                f"one call {_kb(big)}",
                t[jn],
                t[kn],
                notes.get(jn, ""),
                "jiter re-parse",
                f"{who}, v = value()",
            )
        )
    return rows


def _kb(size: int) -> str:
    return f"{size // 1000}k"


def _acc_partial(impl: Impl, reads: list[bytes], keep: bool = True) -> Any:
    """Reads ``ev.partial`` of every ToolCallDelta; ``keep`` holds the last value meanwhile
    (``value = ev.partial``), which makes every read copy the open containers."""
    acc = impl.acc(events=True)
    value = None
    for read in reads:
        for ev in acc.feed(read):
            if impl.reparser:  # reference events are tuples; build the value the slow way
                if ev[0] == "ToolCallDelta":
                    value = ev
            elif type(ev).__name__ == "ToolCallDelta":
                if keep:
                    value = ev.partial
                else:
                    ev.partial  # noqa: B018 - building the lazy value is what is timed
    if not keep and not impl.reparser:
        return acc.tool_calls[0].partial
    if impl.reparser:
        from tests.reference.partial_json import parse_partial

        return parse_partial(acc.tool_calls[0]["arguments"])
    return value


def _messages(
    factory: Callable[..., Any], reads: list[list[bytes]], events: bool
) -> Callable[[], list[dict[str, Any]]]:
    """A timed function: every stream through a new accumulator, read by read; the messages."""

    def go() -> list[dict[str, Any]]:
        out = []
        for stream in reads:
            acc = factory(events=events)
            for r in stream:
                acc.feed(r)
            acc.finish()
            out.append(acc.message())
        return out

    return go


def check_reads(impl: Impl, budget: Budget, streams: int = 1000) -> list[Row]:
    """64-byte reads against whole-body reads on the small streams."""
    wl = workloads.get("small-1000")
    expected = wl.expected[:streams]

    def run(read: str, events: bool) -> Callable[[], Any]:
        return _messages(impl.acc, wl.reads(read)[:streams], events)

    funcs = {
        f"{impl.name} 64 B": run("64", True),
        f"{impl.name} whole": run("whole", True),
        f"{impl.name}-noev 64 B": run("64", False),
        f"{impl.name}-noev whole": run("whole", False),
    }
    wrong = verified(funcs, {k: expected for k in funcs})
    if wrong:
        return [
            error_row("reads.64/whole", "small-1000", "64 B", "whole", "; ".join(wrong.values()))
        ]
    # Each pair back to back in every round, the ratio the median of the rounds' ratios: a slow
    # spell of the machine then slows both sides of a round (medians taken apart straddled one
    # in a CI run: 3.00x, where runs before read 2.3-2.6x).
    pairs = [[f"{impl.name}{ev} 64 B", f"{impl.name}{ev} whole"] for ev in ("", "-noev")]
    t = measure(
        funcs, min_rounds=budget.min_rounds, budget=budget.seconds(12), warmup=0, groups=pairs
    )
    return [
        ratio_row(key, "small-1000", t[a], t[b], paired=True)
        for key, (a, b) in zip(("reads.64/whole", "reads.64/whole.noev"), pairs, strict=True)
    ]


def check_onebyte(impl: Impl, budget: Budget, events: int = 100) -> list[Row]:
    """1-byte reads: time per byte must not grow when the SSE lines are 10x longer."""
    pair = workloads.long_line_pair(events=events)
    short, long = pair[0].bodies[0], pair[1].bodies[0]
    reads = {
        "short": [short[i : i + 1] for i in range(len(short))],
        "long": [long[i : i + 1] for i in range(len(long))],
    }
    reps = {"short": max(1, len(long) // len(short)), "long": 1}
    truth = {"short": pair[0].expected[0], "long": pair[1].expected[0]}

    def run(name: str) -> Callable[[], Any]:
        rs = reads[name]

        def go() -> Any:
            acc = impl.acc(events=True)
            feed = acc.feed
            for r in rs:
                feed(r)
            acc.finish()
            return acc.message()

        return go

    funcs = {n: _repeat(run(n), reps[n]) for n in reads}
    wrong = verified(funcs, truth)
    if wrong:
        return [
            error_row(
                "onebyte.per-byte.long/short",
                "1-byte reads",
                "long",
                "short",
                "; ".join(wrong.values()),
            )
        ]
    t = measure(
        funcs,
        min_rounds=budget.min_rounds,
        budget=budget.seconds(8),
        warmup=0,
        scale={"short": 1 / reps["short"]},
        groups=[["short", "long"]],
    )
    per_long = t["long"].median / len(long)
    per_short = t["short"].median / len(short)
    line_short = len(short) / short.count(b"\n\n")
    line_long = len(long) / long.count(b"\n\n")
    return [
        Row(
            "onebyte.per-byte.long/short",
            f"1-byte reads, {events} events",
            f"{impl.name} {line_long:.0f} B lines ({fmt_s(per_long * 1e6)}/MB)",
            f"{impl.name} {line_short:.0f} B lines ({fmt_s(per_short * 1e6)}/MB)",
            t["long"].median,
            t["short"].median,
            paired_ratio(t["long"], t["short"]) * len(short) / len(long),
            f"{len(long):,} vs {len(short):,} bytes, same number of events;"
            " median of paired rounds",
        )
    ]


def check_quadratic(impl: Impl, budget: Budget, n: int = 16_000) -> list[Row]:
    """O(n^2) guard: one argument of n and 4n bytes in 1-byte fragments, values not read."""
    texts = {s: workloads.make_arguments(s) for s in (n, 4 * n)}
    rows = []
    funcs: dict[str, Callable[[], Any]] = {}
    exp: dict[str, Any] = {}
    for size, text in texts.items():
        chunks = workloads.partial_call_chunks(list(text))
        reps = 4 if size == n else 1

        def acc_run(chunks: list[bytes] = chunks) -> Any:
            acc = impl.acc(events=True)
            feed = acc.feed
            for c in chunks:
                feed(c)
            acc.finish()
            return acc.message()["tool_calls"][0]["function"]["arguments"]

        funcs[f"acc@{size}"] = _repeat(acc_run, reps)
        exp[f"acc@{size}"] = text
        if not impl.reparser:
            import toolwire

            chars = list(text)

            def pj_run(chars: list[str] = chars) -> Any:
                p = toolwire.PartialJSON()
                feed = p.feed
                for c in chars:
                    feed(c)
                return p.complete

            funcs[f"pj@{size}"] = _repeat(pj_run, reps)
            exp[f"pj@{size}"] = True
    wrong = verified(funcs, exp)
    ok = {k: v for k, v in funcs.items() if k not in wrong}
    t = measure(
        ok,
        min_rounds=budget.min_rounds,
        budget=budget.seconds(8),
        warmup=0,
        scale={k: 0.25 for k in ok if k.endswith(f"@{n}")},
        groups=[[f"{kind}@{n}", f"{kind}@{4 * n}"] for kind in ("acc", "pj")],
    )
    sizes = {s: len(text) for s, text in texts.items()}
    for kind, key, what in (
        ("acc", "quadratic.acc.4n/n", "accumulator, 1 chunk per char"),
        ("pj", "quadratic.partialjson.4n/n", "PartialJSON.feed per char"),
    ):
        a, b = f"{kind}@{n}", f"{kind}@{4 * n}"
        if a in wrong or b in wrong:
            rows.append(error_row(key, what, b, a, wrong.get(a) or wrong.get(b, "")))
        elif a in t and b in t:
            rows.append(
                ratio_row(
                    key,
                    what,
                    t[b],
                    t[a],
                    f"{sizes[4 * n]:,} vs {sizes[n]:,} B",
                    f"{impl.name} {_kb(4 * n)}",
                    f"{impl.name} {_kb(n)}",
                    paired=True,
                )
            )
    return rows


def check_leak(
    impl: Impl, budget: Budget, streams: int | None = None, first: int | None = None
) -> list[Row]:
    """RSS after ``first`` and after ``streams`` small streams accumulated one after another."""
    first = first or impl.leak_streams[0]
    streams = streams or impl.leak_streams[1]
    wl = workloads.get("small-1000")
    reads = wl.reads("net")
    t0 = time.perf_counter()
    marks = {}
    done = 0
    while done < streams:
        for i, stream in enumerate(reads):
            acc = impl.acc(events=True)
            for r in stream:
                for ev in acc.feed(r):
                    if i % 7 == 0 and type(ev).__name__ == "ToolCallDelta":
                        ev.partial  # noqa: B018 - build the lazy value
            if i % 3:  # a third of them end at their last read (its events made no cycle)
                acc.finish()
            acc.message()
            done += 1
            if done in (first, streams):
                gc.collect()
                marks[done] = rss_bytes()
            if done >= streams:
                break
    growth = (marks[streams] - marks[first]) / 2**20
    return [
        Row(
            "leak.rss-growth-mib",
            f"small streams x{streams:,}",
            f"RSS after {streams:,}: {marks[streams] / 2**20:.1f} MiB",
            f"after {first:,}: {marks[first] / 2**20:.1f} MiB",
            time.perf_counter() - t0,
            None,
            growth,
            "growth in MiB (not a ratio); the time is the whole loop",
            unit=" MiB",
        )
    ]


def check_import(impl: Impl, budget: Budget, rounds: int = 15) -> list[Row]:
    """``import toolwire`` (the core) against importing the Python layer too, each in a fresh
    interpreter, the interpreter's own start-up subtracted (medians of interleaved rounds)."""
    import statistics
    import subprocess

    codes = {
        "bare": "pass",
        "core": "import toolwire; toolwire.StreamAccumulator",
        "full": "import toolwire; toolwire.Agent; toolwire.Client; toolwire.ToolRegistry",
    }
    times: dict[str, list[float]] = {k: [] for k in codes}
    for _ in range(rounds):
        for key, code in codes.items():
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], check=True)
            times[key].append(time.perf_counter() - t0)
    med = {k: statistics.median(v) for k, v in times.items()}
    core, full = med["core"] - med["bare"], med["full"] - med["bare"]
    return [
        Row(
            "import.full/core",
            f"fresh interpreter x{rounds}, start-up ({med['bare'] * 1e3:.0f} ms) subtracted",
            "import + Python layer",
            "import toolwire",
            full,
            core,
            full / max(core, 1e-6),
            "httpx, anyio and pydantic load on first use (PEP 562)",
        )
    ]


def _load_core_from_wheel(wheel: str) -> Any:
    """The ``_core`` extension of another build (an abi3 wheel), loaded beside the installed one
    under the package name ``toolwire_abi3`` (the init function is found by the last part of
    the name, ``_core``); its statics are its own, so the two do not meet."""
    import importlib.util
    import tempfile
    import types
    import zipfile

    target = Path(tempfile.mkdtemp(prefix="toolwire-abi3-"))
    with zipfile.ZipFile(wheel) as zf:
        (member,) = [n for n in zf.namelist() if "/_core." in n and n.endswith((".so", ".pyd"))]
        path = target / Path(member).name
        path.write_bytes(zf.read(member))
    sys.modules["toolwire_abi3"] = types.ModuleType("toolwire_abi3")
    spec = importlib.util.spec_from_file_location("toolwire_abi3._core", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def check_abi3(impl: Impl, budget: Budget, streams: int = 1000) -> list[Row]:
    """The stable-ABI build against the per-version one on the small streams (1-4 KB reads),
    events on and off, one process. Runs when ``TOOLWIRE_ABI3_WHEEL`` names an abi3 wheel
    built with the same profile (.ci/run builds one)."""
    wheel = os.environ.get("TOOLWIRE_ABI3_WHEEL")
    if not wheel or impl.name != "toolwire":
        return []
    import toolwire

    abi3 = _load_core_from_wheel(wheel)
    if abi3.build_profile != toolwire.build_profile:
        return [
            error_row("abi3/per-version", "small-1000", "abi3", "per-version", "profiles differ")
        ]
    wl = workloads.get("small-1000")
    reads = wl.reads("net")[:streams]
    expected = wl.expected[:streams]

    def run(factory: Callable[..., Any], events: bool) -> Callable[[], Any]:
        return _messages(factory, reads, events)

    funcs = {
        "abi3": run(abi3.StreamAccumulator, True),
        "per-version": run(toolwire.StreamAccumulator, True),
        "abi3-noev": run(abi3.StreamAccumulator, False),
        "per-version-noev": run(toolwire.StreamAccumulator, False),
    }
    wrong = verified(funcs, {k: expected for k in funcs})
    if wrong:
        return [
            error_row(
                "abi3/per-version", "small-1000", "abi3", "per-version", "; ".join(wrong.values())
            )
        ]
    t = measure(funcs, min_rounds=budget.min_rounds, budget=budget.seconds(12), warmup=0)
    note = "time of the stable-ABI wheel over the per-version wheel (> 1: abi3 is slower)"
    return [
        ratio_row(
            "abi3/per-version", "small-1000, 1-4 KB reads", t["abi3"], t["per-version"], note
        ),
        ratio_row(
            "abi3/per-version.noev",
            "small-1000, 1-4 KB reads",
            t["abi3-noev"],
            t["per-version-noev"],
        ),
    ]


class _Workers:
    """Long-lived threads, each running the jobs given to it (as a server's thread pool does):
    a new thread per round would time thread start-up and its allocator's first pages too."""

    def __init__(self, n: int) -> None:
        import queue
        import threading

        self._jobs: list[queue.SimpleQueue[Callable[[], Any] | None]] = [
            queue.SimpleQueue() for _ in range(n)
        ]
        self._done: queue.SimpleQueue[tuple[int, Any]] = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._serve, args=(i,), daemon=True) for i in range(n)
        ]
        for thread in self._threads:
            thread.start()

    def _serve(self, i: int) -> None:
        while (job := self._jobs[i].get()) is not None:
            try:
                self._done.put((i, job()))
            except BaseException as exc:  # noqa: BLE001 - handed to the caller
                self._done.put((i, exc))
            del job  # the last job's batches are not kept alive by an idle thread

    def close(self) -> None:
        """Ends the threads once they are idle."""
        for queue_ in self._jobs:
            queue_.put(None)
        for thread in self._threads:
            thread.join()

    def run(self, jobs: list[Callable[[], Any]]) -> list[Any]:
        """Job i on thread i, all at once; their results (an exception is raised here)."""
        for queue_, job in zip(self._jobs, jobs, strict=True):
            queue_.put(job)
        out: list[Any] = [None] * len(jobs)
        for _ in jobs:
            i, result = self._done.get()
            out[i] = result
        for result in out:
            if isinstance(result, BaseException):
                raise result
        return out


def check_threads(impl: Impl, budget: Budget, streams: int = 500) -> list[Row]:
    """Two threads each feeding their own small streams (events off, 1-4 KB reads) against one
    thread feeding both batches: the throughput two cores give. Each batch is its own objects
    (copies of the reads), as a server's streams are, and the threads are a long-lived pool.
    The pure-Python reference runs the same way in the same rounds (a twentieth of the
    streams): how far Python code itself scales on this machine and build, printed in the note.
    With the GIL, reads of 1 KiB or more are scanned without it while threads share it, and the
    GIL is taken back by turns (``src/handover.rs``); on free-threaded CPython (key
    ``threads.2/1.ft``) nothing serialises the threads. The note also gives the ratio of
    work without Python in it (hashlib on 1 MiB buffers), the most two threads get on this
    machine: below ``CEILING_JUDGED`` the machine cannot show the bar and the row is not judged.
    And hashlib on buffers of a read's size (2-4 KiB, each hashed without the GIL), which shows
    what handing the GIL over on every read leaves of that with the GIL."""
    import hashlib
    import random

    from tests.reference.chat import ReferenceAccumulator

    wl = workloads.get("small-1000")
    one_worker, two_workers = _Workers(1), _Workers(2)
    funcs: dict[str, Callable[[], Any]] = {}
    expected: dict[str, Any] = {}
    groups: list[list[str]] = []
    for who, factory, n in (
        (impl.name, impl.acc, streams),
        ("reference", ReferenceAccumulator, streams // 20),
    ):
        a, b = (
            _messages(
                factory, [[bytes(bytearray(r)) for r in s] for s in wl.reads("net")[:n]], False
            )
            for _ in range(2)
        )
        one, two = f"{who} 1 thread, 2 batches", f"{who} 2 threads, 1 batch each"
        funcs[one] = lambda a=a, b=b: one_worker.run([lambda: [a(), b()]])[0]
        funcs[two] = lambda a=a, b=b: two_workers.run([a, b])
        expected |= {one: [wl.expected[:n]] * 2, two: [wl.expected[:n]] * 2}
        groups.append([one, two])
    # The machine's own ceiling in the same rounds: work with no Python in it (hashlib hashes
    # a large buffer without the GIL), as long as a batch. A shared VM's two cores give less
    # than 2x even to that.
    # The same 8 MiB a batch again in buffers of a read's size: CPython's hashlib lets the GIL go
    # only from 2 KiB (HASHLIB_GIL_MINSIZE), so 2-4 KiB.
    rng, pattern = random.Random(0), bytes(range(256)) * 16
    buffers = {
        "1 MiB": [pattern * 256] * 8,
        "2-4 KiB": [pattern[: rng.randint(2048, 4096)] for _ in range(8 * 2**20 // 3072)],
    }
    hashed: dict[str, tuple[str, str]] = {}
    for size, blocks in buffers.items():
        digests = [hashlib.sha256(b).hexdigest() for b in blocks]

        def hashing(blocks: list[bytes] = blocks) -> list[str]:
            return [hashlib.sha256(b).hexdigest() for b in blocks]

        hash_one, hash_two = f"hashlib {size} 1 thread, 2 batches", f"hashlib {size} 2 threads"
        funcs[hash_one] = lambda h=hashing: one_worker.run([lambda: [h(), h()]])[0]
        funcs[hash_two] = lambda h=hashing: two_workers.run([h, h])
        expected |= {hash_one: [digests] * 2, hash_two: [digests] * 2}
        groups.append([hash_one, hash_two])
        hashed[size] = (hash_one, hash_two)
    build = "free-threaded" if FT else "with the GIL"
    key, label = f"threads.2/1{FT}", f"small-{streams} twice, events off, 1-4 KB reads, {build}"
    (one, two), (py_one, py_two) = groups[:2]
    try:
        wrong = verified(funcs, expected)
        if wrong:
            return [error_row(key, label, one, two, "; ".join(wrong.values()))]
        t = measure(
            funcs,
            min_rounds=budget.min_rounds,
            budget=budget.seconds(8),
            groups=groups,
            freeze=True,
        )
    finally:
        one_worker.close()
        two_workers.close()
    python = paired_ratio(t[py_one], t[py_two])
    ceiling, small = (paired_ratio(t[a], t[b]) for a, b in (hashed["1 MiB"], hashed["2-4 KiB"]))
    note = (
        "throughput of two threads over one"
        + ("" if FT else " (reads from 1 KiB release the GIL while threads share it)")
        + f"; in the same rounds, the pure-Python reference ({streams // 20} streams): "
        + f"{python:.2f}x, and hashlib hashing 1 MiB buffers without the GIL (the machine's "
        + f"ceiling): {ceiling:.2f}x; 2-4 KiB buffers: {small:.2f}x"
    )
    row = ratio_row(key, label, t[one], t[two], note, paired=True)
    # Judged on the ceiling as the note prints it (1.7996 reads 1.80, and is judged so).
    if round(ceiling, 2) < CEILING_JUDGED:
        row.unjudged = (
            f"not judged: the machine's ceiling is under {CEILING_JUDGED}x, so it cannot "
            "show the bar"
        )
    return [row]


# Two threads of hashlib (1 MiB buffers, no GIL) must reach this for the threads row to be
# judged: a VM whose two vCPUs share a core gives 1.05-1.4x even to that.
CEILING_JUDGED = 1.8


def check_formats(
    impl: Impl,
    budget: Budget,
    max_bytes: int = 160_000,
    at_least: int = 3,
    fmts: tuple[str, ...] = formats.FORMATS,
) -> list[Row]:
    """Every wire format: toolwire (events on, every TextDelta read) against the official SDK's
    own accumulator of that format (benches/format_peers.py), on the same 1-4 KB reads of the
    first agent turns of benches/formats.py (text + parallel calls) up to ``max_bytes``."""
    return [row for fmt in fmts for row in _format_rows(impl, budget, fmt, max_bytes, at_least)]


def _format_rows(impl: Impl, budget: Budget, fmt: str, max_bytes: int, at_least: int) -> list[Row]:
    """The format's row, then an info row for the SDK peer's lighter variant, if it has one."""
    import importlib

    key = f"fmt.{fmt}.vs-sdk"
    peer = format_peers.PEERS[fmt]
    wl = formats.get(fmt)
    n = wl.head(max_bytes, at_least)
    reads = wl.reads("net")[:n]
    label = f"{fmt}: {n} agent turns, {sum(map(len, wl.bodies[:n])) / 1000:.0f} KB"
    assert impl.format_acc is not None
    try:
        factory = impl.format_acc(fmt)
    except ValueError as exc:
        return [error_row(key, label, peer.name, impl.name, f"ValueError: {exc}")]
    try:
        importlib.import_module(peer.module)
    except ImportError:
        return [error_row(key, label, peer.name, impl.name, f"{peer.module} not installed")]
    ours = format_peers.toolwire_run(factory, reference=impl.tuple_events)

    def sdk() -> list[Any]:
        return [peer.run(r) for r in reads]

    def sdk_checked() -> list[dict[str, Any]]:
        return [peer.view(x) for x in sdk()]

    def tw() -> list[Any]:
        return [ours(r) for r in reads]

    # The warm-up run of each side is the correctness check, against the truth.
    wrong = verified(
        {peer.name: sdk_checked, impl.name: tw},
        {peer.name: wl.views[:n], impl.name: wl.expected[:n]},
    )
    if wrong:
        return [error_row(key, label, peer.name, impl.name, "; ".join(wrong.values()))]
    funcs: dict[str, Callable[[], Any]] = {peer.name: sdk}
    if peer.light is not None:
        light_name, light_run = peer.light

        def light() -> list[Any]:
            return [light_run(r) for r in reads]

        if [peer.view(x) for x in light()] == wl.views[:n]:
            funcs[light_name] = light
    # Repeat toolwire inside a sample so that a sample takes ~20 ms.
    reps = _sample_reps(tw)
    funcs[impl.name] = _repeat(tw, reps)
    # The SDK and toolwire run back to back in every round, and the ratio is the median of
    # the rounds' ratios: a slow spell of the shared machine slows both sides of a round.
    t = measure(
        funcs,
        min_rounds=budget.min_rounds,
        budget=budget.seconds(2),
        warmup=0,
        scale={impl.name: 1 / reps},
        freeze=True,
        groups=[[peer.name, impl.name]],
    )
    note = f"{peer.what}; {impl.name} x{reps}"
    rows = [ratio_row(key, label, t[peer.name], t[impl.name], note, paired=True)]
    if peer.light is not None and peer.light[0] in t:
        note = "not judged: no public API skips the events the SDK's stream builds"
        rows.append(ratio_row("info", label, t[peer.light[0]], t[impl.name], note))
    return rows


CONSUMER_NOTE = "the consumers are right on plain streams only (benches/README.md)"


def _sample_reps(fn: Callable[[], Any], target: float = 0.02) -> int:
    """How many calls of ``fn`` make a sample of ~``target`` seconds (1..200; the fastest of
    three calls, so one slow moment does not make the samples short)."""
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return max(1, min(200, round(target / max(best, 1e-5))))


def check_consumers(
    impl: Impl,
    budget: Budget,
    streams: int = 1000,
    max_bytes: int = 160_000,
    at_least: int = 3,
    fmts: tuple[str, ...] = formats.FORMATS,
) -> list[Row]:
    """The consumers a performance-minded user writes (benches/consumers.py: msgspec typed
    Structs, orjson dicts, the same with ``json.loads``) over toolwire, events off and on, on
    the chat pipeline's small streams and on every format's agent turns (1-4 KB reads).
    Printed, not judged: the issue's bars are targets the core does not meet yet."""
    try:
        from benches import consumers
    except ImportError as exc:  # msgspec or orjson missing
        return [
            error_row(
                "pipeline.msgspec/toolwire.noev", "small-1000 net", "msgspec", impl.name, repr(exc)
            )
        ]
    rows = _consumer_pipeline_rows(impl, budget, consumers, streams)
    for fmt in fmts:
        rows.extend(_consumer_format_rows(impl, budget, consumers, fmt, max_bytes, at_least))
    return rows


# One row each: (consumer kind, denominator in the pipeline key, toolwire with events).
_CONSUMER_ROWS = (
    ("msgspec", "toolwire.noev", False),
    ("msgspec", "toolwire", True),
    ("orjson", "toolwire.noev", False),
    ("json", "toolwire.noev", False),
)


def _consumer_pipeline_rows(impl: Impl, budget: Budget, consumers: Any, streams: int) -> list[Row]:
    wl = workloads.get("small-1000")
    reads = wl.reads("net")[:streams]
    label = "small-1000 net"
    chat = consumers.CONSUMERS["chat"]
    tw = {True: peers.PIPELINE[impl.pipeline].run, False: impl.pipeline_noev}
    names = {True: impl.name, False: f"{impl.name}-noev"}
    funcs: dict[str, Callable[[], Any]] = {
        **{names[ev]: (lambda run=run: [run(r) for r in reads]) for ev, run in tw.items()},
        **{kind: (lambda run=run: [run(r) for r in reads]) for kind, run in chat.items()},
    }
    checked: dict[str, Callable[[], Any]] = {
        **{names[ev]: funcs[names[ev]] for ev in tw},
        **{kind: (lambda f=funcs[kind]: [consumers.chat_message(x) for x in f()]) for kind in chat},
    }
    wrong = verified(checked, {name: wl.expected[:streams] for name in checked})
    ok = {k: v for k, v in funcs.items() if k not in wrong}
    t = measure(ok, min_rounds=budget.min_rounds, budget=budget.seconds(10), warmup=0, freeze=True)
    rows = []
    for kind, den, events in _CONSUMER_ROWS:
        key = f"pipeline.{kind}/{den}"
        num_label, den_name = f"{kind} consumer", names[events]
        bad = wrong.get(kind) or wrong.get(den_name)
        if bad:
            rows.append(error_row(key, label, num_label, den_name, bad))
        else:
            note = CONSUMER_NOTE if not rows else ""
            rows.append(ratio_row(key, label, t[kind], t[den_name], note, num_label))
    return rows


def _consumer_format_rows(
    impl: Impl, budget: Budget, consumers: Any, fmt: str, max_bytes: int, at_least: int
) -> list[Row]:
    wl = formats.get(fmt)
    n = wl.head(max_bytes, at_least)
    reads = wl.reads("net")[:n]
    label = f"{fmt}: {n} agent turns, {sum(map(len, wl.bodies[:n])) / 1000:.0f} KB"
    keys = [f"fmt.{fmt}.vs-{kind}{'' if ev else '.noev'}" for kind, _, ev in _CONSUMER_ROWS]
    assert impl.format_acc is not None
    try:
        factory = impl.format_acc(fmt)
    except ValueError as exc:
        return [error_row(k, label, "consumer", impl.name, f"ValueError: {exc}") for k in keys]
    tw_ev = format_peers.toolwire_run(factory, reference=impl.tuple_events)

    def tw_noev(stream: list[bytes]) -> Any:
        acc = factory(events=False)
        for r in stream:
            acc.feed(r)
        acc.finish()
        return acc.message()

    names = {True: impl.name, False: f"{impl.name}-noev"}
    runs = {names[True]: tw_ev, names[False]: tw_noev, **consumers.CONSUMERS[fmt]}
    funcs = {name: (lambda run=run: [run(r) for r in reads]) for name, run in runs.items()}
    checked: dict[str, Callable[[], Any]] = dict(funcs)
    expected: dict[str, Any] = {name: wl.expected[:n] for name in names.values()}
    for kind in consumers.CONSUMERS[fmt]:
        checked[kind] = lambda f=funcs[kind]: [consumers.view(x) for x in f()]
        expected[kind] = wl.views[:n]
    wrong = verified(checked, expected)
    # Repeat each side inside a sample so that a sample takes ~20 ms.
    reps = {name: _sample_reps(fn) for name, fn in funcs.items() if name not in wrong}
    t = measure(
        {name: _repeat(funcs[name], r) for name, r in reps.items()},
        min_rounds=budget.min_rounds,
        budget=budget.seconds(2),
        warmup=0,
        scale={name: 1 / r for name, r in reps.items()},
        freeze=True,
    )
    rows = []
    for key, (kind, _, events) in zip(keys, _CONSUMER_ROWS, strict=True):
        num_label, den_name = f"{kind} consumer", names[events]
        bad = wrong.get(kind) or wrong.get(den_name)
        if bad:
            rows.append(error_row(key, label, num_label, den_name, bad))
            continue
        note = f"{CONSUMER_NOTE}; each side repeated to ~20 ms a sample" if not rows else ""
        rows.append(ratio_row(key, label, t[kind], t[den_name], note, num_label))
    return rows


CHECKS: dict[str, Callable[[Impl, Budget], list[Row]]] = {
    "pipeline": check_pipeline,
    "partial": check_partial,
    "reads": check_reads,
    "onebyte": check_onebyte,
    "quadratic": check_quadratic,
    "leak": check_leak,
    "import": check_import,
    "abi3": check_abi3,
    "threads": check_threads,
    "consumers": check_consumers,
    # Last: it loads four SDKs' types (~300,000 objects), which makes every gc.collect() the
    # other checks run between timed calls ~0.3 s slower (their timings are not affected).
    "formats": check_formats,
}


def run_checks(
    impl: Impl, budget: Budget, only: list[str] | None = None, progress: bool = True
) -> list[Row]:
    rows: list[Row] = []
    for name, check in CHECKS.items():
        if only and name not in only:
            continue
        t0 = time.perf_counter()
        new = check(impl, budget)
        rows.extend(new)
        if progress:
            print(f"  {name}: {len(new)} rows, {time.perf_counter() - t0:.1f} s", flush=True)
    return rows


def format_table(rows: list[Row]) -> str:
    head = (
        "check",
        "workload",
        "numerator",
        "median",
        "denominator",
        "median",
        "ratio",
        "threshold",
        "verdict",
    )
    lines = [head]
    for r in rows:
        if r.key == "info":
            thr, verdict = "-", "info"
        else:
            unit = r.unit.strip() or "x"
            thr = f"{r.threshold['op']} {r.threshold['value']:g}{unit}"
            if not r.gated:
                thr += " (not gated)"
            target = r.threshold.get("target")
            if target is not None and target != r.threshold["value"]:
                thr += f", target {target:g}{unit}"
            verdict = r.verdict
        ratio = "-" if r.error else f"{r.ratio:.2f}{r.unit if r.unit != 'x' else 'x'}"
        lines.append(
            (r.key, r.workload, r.num, fmt_s(r.num_s), r.den, fmt_s(r.den_s), ratio, thr, verdict)
        )
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(head))]
    out = []
    for i, line in enumerate(lines):
        out.append("  ".join(str(c).ljust(w) for c, w in zip(line, widths, strict=False)).rstrip())
        if i == 0:
            out.append("  ".join("-" * w for w in widths))
    notes = [
        f"  {r.key}: " + "; ".join(filter(None, (r.error or r.note, r.unjudged)))
        for r in rows
        if r.error or r.note or r.unjudged
    ]
    if notes:
        out.append("")
        out.append("notes:")
        out.extend(notes)
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--impl",
        default=os.environ.get("TOOLWIRE_GATE_IMPL", "toolwire"),
        choices=["toolwire", "reference"],
        help="what stands for toolwire (reference: the gate must FAIL)",
    )
    ap.add_argument("--only", nargs="+", choices=list(CHECKS), help="run only these checks")
    ap.add_argument(
        "--quick",
        action="store_true",
        help="3 rounds minimum and a fifth of the time budget (smoke test)",
    )
    ap.add_argument("--min-rounds", type=int, help=f"rounds at least (default {MIN_ROUNDS})")
    ap.add_argument(
        "--budget-scale", type=float, help="multiply every check's time budget (default 1)"
    )
    args = ap.parse_args(argv)

    import toolwire

    if args.impl == "toolwire" and toolwire.build_profile != "release":
        print(
            f"gate: refusing to run on a {toolwire.build_profile} build of toolwire "
            "(build with `maturin develop --release` or `pip install .`)",
            file=sys.stderr,
        )
        return 2
    budget = Budget(min_rounds=3 if args.quick else MIN_ROUNDS, scale=0.2 if args.quick else 1.0)
    if args.min_rounds is not None:
        budget.min_rounds = args.min_rounds
    if args.budget_scale is not None:
        budget.scale = args.budget_scale
    impl = get_impl(args.impl)
    t0 = time.perf_counter()
    print(
        f"toolwire {toolwire.__version__} ({toolwire.build_profile}), impl under test: "
        f"{impl.name}, python {sys.version.split()[0]}, min rounds {budget.min_rounds}",
        flush=True,
    )
    rows = run_checks(impl, budget, args.only)
    print(format_table(rows))
    judged = [r for r in rows if r.key != "info"]
    failed = [r for r in judged if r.verdict == "FAIL"]
    warned = [r for r in judged if r.verdict == "WARN"]
    print(
        f"\n{len(rows)} rows, {len(failed)} FAIL, {len(warned)} WARN (a bar not gated, or short "
        f"of the issue's target), {time.perf_counter() - t0:.0f} s"
    )
    print(targets_summary(judged))
    return 1 if failed else 0


def targets_summary(rows: list[Row]) -> str:
    """How many of the issue's targets (the rows' THRESHOLDS ``target``) this run met."""
    with_target = [r for r in rows if r.target_met is not None]
    short = [r.key for r in with_target if not r.target_met]
    met = len(with_target) - len(short)
    return f"issue targets met: {met} of {len(with_target)}" + (
        f"; short: {', '.join(short)}" if short else ""
    )


if __name__ == "__main__":
    sys.exit(main())
