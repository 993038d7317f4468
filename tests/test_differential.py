"""Differential tests: random quirky streams (tests/streamgen.py), random reads.

Rust (toolwire.StreamAccumulator) == pure-Python reference == the truth the stream was drawn
from. Both implementations get exactly the same reads, so their events must be identical
(not just normalized); the truth fixes the final messages, finish reason and usage.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests import streamgen
from tests.helpers import (
    FIXTURES,
    as_json,
    normalize_events,
    reads,
    run_reference,
    run_rust,
)

# Scaled from the profile of tests/conftest.py (150 examples by default).
SETTINGS = settings(max_examples=settings().max_examples * 4 // 3)
LIGHT = settings(max_examples=settings().max_examples * 2 // 3)


def check_against_truth(stream: streamgen.Stream, result: dict[str, Any]) -> None:
    truth = stream.truth
    for choice in truth.choices:
        assert result["messages"][choice.index] == streamgen.expected_message(truth, choice.index)
    assert result["finish_reason"] == truth.choices[0].finish_reason
    assert result["usage"] == truth.usage
    assert result["truncated"] is False
    assert result["errors"] == []


@SETTINGS
@given(stream=streamgen.streams(), data=st.data())
def test_rust_equals_reference_equals_truth(stream: streamgen.Stream, data: st.DataObject) -> None:
    points = data.draw(streamgen.split_points(len(stream.data)), label="split points")
    chunks = reads(stream.data, points)
    n = len(stream.truth.choices)
    ref = as_json(run_reference(chunks, n))
    rust = as_json(run_rust(chunks, n, format="chat"))
    assert rust == ref
    check_against_truth(stream, ref)


@LIGHT
@given(stream=streamgen.streams(), data=st.data())
def test_events_false_same_message(stream: streamgen.Stream, data: st.DataObject) -> None:
    points = data.draw(streamgen.split_points(len(stream.data)), label="split points")
    chunks = reads(stream.data, points)
    n = len(stream.truth.choices)
    rust = as_json(run_rust(chunks, n, format="chat", events=False))
    assert rust["events"] == []
    check_against_truth(stream, rust)
    ref = as_json(run_reference(chunks, n, events=False))
    assert rust == ref


@LIGHT
@given(stream=streamgen.streams(), data=st.data())
def test_split_independent(stream: streamgen.Stream, data: st.DataObject) -> None:
    """Any reads give the events of one whole read, up to normalize_events."""
    points = data.draw(streamgen.split_points(len(stream.data)), label="split points")
    n = len(stream.truth.choices)
    whole = as_json(run_rust([stream.data], n, format="chat"))
    split = as_json(run_rust(reads(stream.data, points), n, format="chat"))
    assert normalize_events(split.pop("events")) == normalize_events(whole.pop("events"))
    assert split == whole


@SETTINGS
@given(stream=streamgen.streams(), data=st.data())
def test_cut_streams(stream: streamgen.Stream, data: st.DataObject) -> None:
    """A stream cut at any byte (connection lost): Rust == reference, no truth to compare."""
    cut = data.draw(st.integers(0, len(stream.data)), label="cut")
    body = stream.data[:cut]
    points = data.draw(streamgen.split_points(len(body)), label="split points")
    chunks = reads(body, points)
    n = len(stream.truth.choices)
    ref = as_json(run_reference(chunks, n))
    rust = as_json(run_rust(chunks, n, format="chat"))
    assert rust == ref


LIMITS = [
    {"max_line_bytes": 200},
    {"max_event_bytes": 150},
    {"max_tool_calls": 1},
    {"max_choices": 1},
]
LIMIT_FIXTURES = sorted(FIXTURES.glob("*.sse"))


@pytest.mark.parametrize("kwargs", LIMITS, ids=lambda kw: next(iter(kw)))
def test_limits_on_fixtures(kwargs: dict[str, int]) -> None:
    """Small limits over the corpus, whole and in one-byte reads: Rust == reference.
    (max_arguments_bytes: see D6 in DISAGREEMENTS.md and test_edge_cases.py.)"""
    hit = 0
    for path in LIMIT_FIXTURES:
        data = path.read_bytes()
        n = len(json.loads(path.with_suffix(".expected.json").read_text("utf-8"))["messages"])
        for points in ([], range(1, len(data))):
            chunks = reads(data, points)
            ref = as_json(run_reference(chunks, n, **kwargs))
            rust = as_json(run_rust(chunks, n, format="chat", **kwargs))
            assert rust == ref, f"{path.name} {'one-byte reads' if points else 'one read'}"
            hit += bool(ref["errors"])
    assert hit, "no fixture reached the limit"
