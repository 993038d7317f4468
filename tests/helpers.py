"""Shared helpers: run the reference or the Rust accumulator over a list of reads and collect
everything a test compares (events as tuples, messages, finish_reason, usage, truncated, errors);
and ``importable``, for tests of optional dependencies.
"""

from __future__ import annotations

import importlib
import itertools
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tests.reference import ReferenceAccumulator
from tests.reference.convert import error_to_dict, event_to_tuple

FIXTURES = Path(__file__).parent / "fixtures" / "chat"


def reads(data: bytes, points: Sequence[int]) -> list[bytes]:
    """``data`` cut at the sorted offsets ``points``."""
    bounds = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


def _drive(
    acc: Any,
    chunks: Sequence[bytes],
    convert: Any,
    error_types: tuple[type, ...],
    choices: int | None,
) -> dict[str, Any]:
    events: list[tuple[Any, ...]] = []
    errors: list[dict[str, Any]] = []
    steps = [*((acc.feed, c) for c in chunks), (acc.finish, None)]
    for method, arg in steps:
        try:
            got = method(arg) if arg is not None else method()
        except error_types as exc:
            got = exc.events  # type: ignore[attr-defined]
            errors.append(error_to_dict(exc))
        events.extend(convert(ev) for ev in got)
    seen = list(acc.choices)
    if choices is None:
        choices = (max(seen) + 1) if seen else 1
    return {
        "events": events,
        "messages": [acc.message(choice=i) for i in range(choices)],
        "native": [acc.message(choice=i, native=True) for i in range(choices)],
        "finish_reason": acc.finish_reason,
        "usage": acc.usage,
        "token_usage": acc.token_usage,
        "outcome": acc.outcome,
        "format": acc.format,
        "truncated": acc.truncated,
        "done": acc.done,
        "choices": seen,
        "errors": errors,
    }


def run_reference(
    chunks: Sequence[bytes], choices: int | None = None, **kwargs: Any
) -> dict[str, Any]:
    """Feed the reads to a fresh ReferenceAccumulator, then finish(); collect the outcome."""
    from tests.reference import RefLimitExceeded, RefParseError

    acc = ReferenceAccumulator(**kwargs)
    return _drive(acc, chunks, lambda ev: ev, (RefParseError, RefLimitExceeded), choices)


def run_rust(chunks: Sequence[bytes], choices: int, **kwargs: Any) -> dict[str, Any]:
    """Feed the reads to a fresh toolwire.StreamAccumulator, then finish(); collect the outcome."""
    import toolwire

    # The chat reference is chat only: auto would recognise, or refuse, what it reads as chat.
    acc = toolwire.StreamAccumulator(**{"format": "chat", **kwargs})
    return _drive(
        acc, chunks, event_to_tuple, (toolwire.ParseError, toolwire.LimitExceeded), choices
    )


def as_json(value: Any) -> Any:
    """The value as it reads back from an .expected.json file (tuples become lists)."""
    return json.loads(json.dumps(value, ensure_ascii=False))


def normalize_events(events: Sequence[Sequence[Any]]) -> list[tuple[Any, ...]]:
    """Events made independent of how the bytes were split into reads.

    - ``id``/``name`` of call events are shown as they are at the end of the read that produced
      the event (semantics section 6), so they are replaced by the call's final values (from its
      ``ToolCallFinished``);
    - consecutive ``TextDelta``/``ReasoningDelta`` of one choice and consecutive
      ``ToolCallDelta`` of one call are merged.
    """
    final: dict[tuple[Any, Any], tuple[Any, Any]] = {}
    for ev in events:
        if ev[0] == "ToolCallFinished":
            final[(ev[1], ev[2])] = (ev[3], ev[4])
    out: list[tuple[Any, ...]] = []
    for raw in events:
        ev = tuple(raw)
        if ev[0].startswith("ToolCall") and (ev[1], ev[2]) in final:
            ev = (*ev[:3], *final[(ev[1], ev[2])], *ev[5:])
        prev = out[-1] if out else None
        if prev is not None and prev[0] == ev[0] == "ToolCallDelta" and prev[1:5] == ev[1:5]:
            out[-1] = (*ev[:5], prev[5] + ev[5])
            continue
        out.append(ev)
    return merge_text_runs(out)


def _kind_of(exc: Any) -> tuple[Any, ...]:
    return (type(exc).__name__, getattr(exc, "kind", getattr(exc, "limit", "")))


class PieceReader:
    """Feeds a reference accumulator ``raw`` in pieces and keeps every event and, per call
    that raised, what it raised (``describe``: the tuple recorded for one error)."""

    def __init__(self, acc: Any, describe: Any = _kind_of) -> None:
        self.acc = acc
        self.describe = describe
        self.events: list[tuple[Any, ...]] = []
        self.errors: list[tuple[Any, ...]] = []

    def call(self, fn: Any, *args: Any) -> None:
        from tests.reference import RefLimitExceeded, RefParseError

        try:
            self.events.extend(fn(*args))
        except (RefParseError, RefLimitExceeded) as exc:
            self.events.extend(exc.events)
            self.errors.append(self.describe(exc))

    def feed(self, raw: bytes, sizes: list[int] | None) -> None:
        """``raw`` in pieces of ``sizes`` (cycled; whole when None)."""
        if sizes is None:
            self.call(self.acc.feed, raw)
            return
        pos = i = 0
        while pos < len(raw):
            n = sizes[i % len(sizes)]
            self.call(self.acc.feed, raw[pos : pos + n])
            pos += n
            i += 1


def merge_text_runs(events: Sequence[Any]) -> list[Any]:
    """Events with each run of adjacent ``TextDelta`` (or ``ReasoningDelta``) of one choice, and
    of adjacent ``ToolCallDelta`` of one call, joined into one: what does not depend on how the
    stream was split into reads (semantics.md section 6: one event per run within one read). A
    joined call fragment shows the call's id and name of its last piece."""
    out: list[Any] = []
    for event in events:
        last = out[-1] if out else None
        kind = event[0]
        if last is None or last[0] != kind or last[1] != event[1]:
            out.append(event)
        elif kind in ("TextDelta", "ReasoningDelta"):
            out[-1] = type(event)((kind, event[1], last[2] + event[2]))
        elif kind == "ToolCallDelta" and last[2] == event[2]:
            out[-1] = type(event)((*event[:5], last[5] + event[5]))
        else:
            out.append(event)
    return out


def split_invariant(result: dict[str, Any]) -> dict[str, Any]:
    """A ``_drive``-style result as far as it must not depend on the reads: runs of text joined,
    errors (reported per read) aside."""
    return {**result, "errors": [], "events": merge_text_runs(result["events"])}


def line_sizes(raw: bytes) -> list[int] | None:
    """Read sizes that give each line a read of its own: at most one event dispatched per read,
    so one text event per provider delta, as hand-written expectations list them."""
    return [len(line) for line in raw.splitlines(keepends=True)] or None


def joined_text(result: dict[str, Any]) -> dict[str, Any]:
    """A result with each run of text events joined (semantics.md section 6)."""
    return {**result, "events": merge_text_runs(result["events"])}


def importable(name: str) -> bool:
    """Whether ``name`` imports: an optional dependency (prometheus_client, the OpenTelemetry
    SDK) that some tests need is installed and works."""
    try:
        importlib.import_module(name)
    except ImportError:
        return False
    return True
