"""Recorded-style chat streams (tests/fixtures/chat/*.sse) against their expectations.

The expectations are written by the pure-Python reference (``python -m tests.fixtures.regenerate``)
and were read by eye. Here the Rust accumulator must reproduce them fed whole, fed split at every
byte offset (and at every pair of offsets for fixtures under 200 bytes), and with events=False.
"""

from __future__ import annotations

import json
from itertools import combinations
from pathlib import Path
from typing import Any

import pytest

import toolwire
from tests.fixtures.regenerate import expectation, render
from tests.helpers import (
    FIXTURES,
    as_json,
    normalize_events,
    reads,
    run_reference,
    run_rust,
)

SSE_FILES = sorted(FIXTURES.glob("*.sse"))
PAIR_LIMIT = 200


def params(max_size: int | None = None) -> list[Any]:
    """The fixtures as parameters (a new disagreement is fixed, or written down in
    tests/DISAGREEMENTS.md with an xfail(strict) case in test_edge_cases.py)."""
    return [
        pytest.param(path, id=path.stem)
        for path in SSE_FILES
        if max_size is None or path.stat().st_size < max_size
    ]


def load(path: Path) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(path.with_suffix(".expected.json").read_text("utf-8"))
    return result


def summary(result: dict[str, Any]) -> dict[str, Any]:
    """What must not depend on how the stream was split into reads."""
    return {
        "events": normalize_events(result["events"]),
        "messages": result["messages"],
        "finish_reason": result["finish_reason"],
        "usage": result["usage"],
        "truncated": result["truncated"],
        "done": result["done"],
        "choices": result["choices"],
        "first_error": result["errors"][:1],
    }


def test_corpus_is_complete() -> None:
    assert len(SSE_FILES) >= 25
    expected = {p.name.removesuffix(".expected.json") for p in FIXTURES.glob("*.expected.json")}
    sources = {p.stem for p in SSE_FILES}
    assert expected - sources == set(), "expectation files without a .sse (unreferenced)"
    assert sources - expected == set(), "run: python -m tests.fixtures.regenerate"


@pytest.mark.parametrize("path", [pytest.param(p, id=p.stem) for p in SSE_FILES])
def test_expectation_is_fresh(path: Path) -> None:
    stored = path.with_suffix(".expected.json").read_text("utf-8")
    assert stored == render(expectation(path)), "stale: python -m tests.fixtures.regenerate"


@pytest.mark.parametrize("path", params())
def test_whole(path: Path) -> None:
    expected = load(path)
    got = as_json(run_rust([path.read_bytes()], len(expected["messages"]), format="chat"))
    assert got == expected


@pytest.mark.parametrize("path", params())
def test_whole_auto_format(path: Path) -> None:
    expected = load(path)
    got = as_json(run_rust([path.read_bytes()], len(expected["messages"])))
    assert got == expected


@pytest.mark.parametrize("path", params())
def test_every_split(path: Path) -> None:
    data = path.read_bytes()
    expected = summary(load(path))
    n = len(expected["messages"])
    for cut in range(1, len(data)):
        got = summary(as_json(run_rust(reads(data, [cut]), n, format="chat")))
        assert got == expected, f"split at byte {cut}"


@pytest.mark.parametrize("path", params(max_size=PAIR_LIMIT))
def test_every_pair_of_splits(path: Path) -> None:
    data = path.read_bytes()
    expected = summary(load(path))
    n = len(expected["messages"])
    for a, b in combinations(range(1, len(data)), 2):
        got = summary(as_json(run_rust(reads(data, [a, b]), n, format="chat")))
        assert got == expected, f"splits at bytes {a}, {b}"


@pytest.mark.parametrize("path", params())
def test_one_byte_reads(path: Path) -> None:
    data = path.read_bytes()
    expected = summary(load(path))
    got = as_json(
        run_rust(reads(data, range(1, len(data))), len(expected["messages"]), format="chat")
    )
    assert summary(got) == expected


@pytest.mark.parametrize("path", [pytest.param(p, id=p.stem) for p in SSE_FILES])
def test_reference_one_byte_reads(path: Path) -> None:
    """The oracle itself is split-independent (every split is covered by the differential run)."""
    data = path.read_bytes()
    expected = summary(load(path))
    got = as_json(run_reference(reads(data, range(1, len(data))), len(expected["messages"])))
    assert summary(got) == expected


@pytest.mark.parametrize("path", params())
def test_events_false(path: Path) -> None:
    expected = load(path)
    n = len(expected["messages"])
    got = as_json(run_rust([path.read_bytes()], n, format="chat", events=False))
    assert got["events"] == []
    assert {k: v for k, v in got.items() if k != "events"} == {
        k: v for k, v in expected.items() if k != "events"
    }


def test_rust_events_convert_to_reference_shapes() -> None:
    acc = toolwire.StreamAccumulator(format="chat")
    events = acc.feed((FIXTURES / "one_call.sse").read_bytes()) + acc.finish()
    kinds = {type(ev).__name__ for ev in events}
    assert kinds == {
        "ToolCallStarted",
        "ToolCallDelta",
        "ToolCallReady",
        "ToolCallFinished",
        "Finish",
    }
