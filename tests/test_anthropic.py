"""Anthropic Messages in the Rust core (`StreamAccumulator(format="anthropic")`) against the
pure-Python reference (tests/reference/anthropic.py, rules A1-A11): the same events, message,
finish reason, usage, errors and truncation, whole, at every split of small streams, in 1-byte
reads, and on the recorded Anthropic streams of ../shared/corpus when present.

Not compared yet: ``message(native=True)`` (the Rust core does not build the native message).
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

import toolwire
from tests.helpers import _drive, as_json, reads, split_invariant
from tests.reference import ReferenceAnthropicAccumulator, RefLimitExceeded, RefParseError
from tests.reference.convert import event_to_tuple
from tests.test_reference_anthropic import (
    PING,
    STOP,
    block_start,
    block_stop,
    delta,
    fragment,
    message_delta,
    message_start,
    sse,
    text,
    tool_use,
)

STREAMS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "recorded-streams"


def rust(chunks: list[bytes], **kwargs: Any) -> dict[str, Any]:
    acc = toolwire.StreamAccumulator(format="anthropic", **kwargs)
    errors = (toolwire.ParseError, toolwire.LimitExceeded)
    out = _drive(acc, chunks, event_to_tuple, errors, 1)
    return as_json({k: v for k, v in out.items() if k != "choices"})


def reference(chunks: list[bytes], **kwargs: Any) -> dict[str, Any]:
    acc = ReferenceAnthropicAccumulator(**kwargs)
    out = _drive(acc, chunks, lambda e: e, (RefParseError, RefLimitExceeded), 1)
    return as_json({k: v for k, v in out.items() if k != "choices"})


def same(chunks: list[bytes], **kwargs: Any) -> dict[str, Any]:
    """Rust and the reference on the same reads (errors are per read, so reads must match)."""
    want = reference(chunks, **kwargs)
    assert rust(chunks, **kwargs) == want
    return want


def agree(raw: bytes, every_split: bool = True, **kwargs: Any) -> dict[str, Any]:
    want = same([raw], **kwargs)
    one_byte = same(reads(raw, range(1, len(raw))), **kwargs)
    assert split_invariant(one_byte) == split_invariant(want), "1-byte reads"
    if every_split:
        for cut in range(1, len(raw)):
            same(reads(raw, [cut]), **kwargs)
    return want


CASES: dict[str, bytes] = {
    "text_only": sse(
        message_start(),
        block_start(0, {"type": "text", "text": ""}),
        PING,
        text(0, "Hel"),
        text(0, "lo"),
        block_stop(0),
        message_delta("end_turn"),
        STOP,
    ),
    "input_object_then_fragments": sse(
        message_start(),
        block_start(0, tool_use("toolu_1", "get_weather")),
        fragment(0, ""),
        fragment(0, '{"city": "Ber'),
        fragment(0, 'lin"}'),
        block_stop(0),
        message_delta("tool_use", {"output_tokens": 40}),
        STOP,
    ),
    "input_without_fragments": sse(
        message_start(),
        block_start(0, tool_use("toolu_1", "now", {"tz": "UTC", "n": [1, 2]})),
        block_stop(0),
        block_start(1, tool_use("toolu_2", "ping")),
        block_stop(1),
        message_delta("tool_use"),
        STOP,
    ),
    "parallel_and_thinking": sse(
        message_start({"input_tokens": 9, "cache_read_input_tokens": 3}),
        block_start(0, {"type": "thinking", "thinking": ""}),
        delta(0, type="thinking_delta", thinking="Two lookups."),
        delta(0, type="signature_delta", signature="sig"),
        block_stop(0),
        block_start(1, tool_use("t1", "a")),
        block_start(2, tool_use("t2", "b")),
        fragment(2, '{"y": 2}'),
        fragment(1, '{"x": '),
        fragment(1, "1}"),
        block_stop(2),
        block_stop(1),
        message_delta("tool_use", {"output_tokens": 7, "input_tokens": None}),
        STOP,
    ),
    "server_tool_and_text": sse(
        message_start(),
        block_start(0, {"type": "server_tool_use", "id": "srv", "name": "web_search", "input": {}}),
        fragment(0, '{"query": "x"}'),
        block_stop(0),
        block_start(1, {"type": "web_search_tool_result", "tool_use_id": "srv", "content": []}),
        block_stop(1),
        block_start(2, {"type": "text", "text": "Found."}),
        block_stop(2),
        message_delta("end_turn"),
        STOP,
    ),
    "error_mid_stream": sse(
        message_start(),
        block_start(0, {"type": "text", "text": ""}),
        text(0, "partial"),
        {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
    ),
    "cut_mid_call": sse(
        message_start(),
        block_start(0, tool_use("toolu_1", "f")),
        fragment(0, '{"a": [1, 2'),
    ),
    "unstopped_blocks_finish_at_message_stop": sse(
        message_start(),
        block_start(1, tool_use("b", "g")),
        block_start(0, tool_use("a", "f")),
        fragment(0, "{}"),
        message_delta("tool_use"),
        STOP,
    ),
    "whole_turn_in_message_start": sse(
        message_start(
            content=[{"type": "text", "text": "Done: "}, tool_use("toolu_9", "f", {"k": True})],
            stop_reason="tool_use",
        ),
        STOP,
    ),
    "repeated_start_index": sse(
        message_start(),
        block_start(0, {"type": "text", "text": "a"}),
        block_start(0, {"type": "text", "text": "b"}),
        text(1, "c"),
        block_stop(1),
        block_stop(0),
        STOP,
    ),
    "type_field_wins_and_unknowns": (
        b'event: ping\ndata: {"type": "message_start", '
        b'"message": {"usage": {"input_tokens": 1}}}\n\n'
        + sse({"type": "future_event", "x": 1}, message_delta("end_turn"), STOP)
    ),
    "bad_data_and_bad_index": (
        sse(message_start())
        + b"event: content_block_start\ndata: [1]\n\n"
        + sse({"type": "content_block_start", "index": "0", "content_block": {"type": "text"}})
        + sse(block_start(0, {"type": "text", "text": "ok"}), block_stop(0), STOP)
    ),
    "error_event_with_text_data": b"event: error\ndata: upstream overloaded\n\n",
    # A key given twice in the first usage report counts once, with its last value, when a
    # later report updates it.
    "repeated_key_in_the_first_usage": (
        b'event: message_start\ndata: {"type":"message_start","message":'
        b'{"usage":{"input_tokens":1,"output_tokens":1,"output_tokens":2}}}\n\n'
        + sse(message_delta("end_turn", {"output_tokens": 5}), STOP)
    ),
    # A null in the first usage report is dropped, as in every later one.
    "null_in_the_first_usage": sse(
        message_start({"input_tokens": 4, "cache_creation_input_tokens": None, "x": {"y": None}}),
        message_delta("end_turn", {"output_tokens": 2}),
        STOP,
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_rust_equals_the_reference(name: str) -> None:
    agree(CASES[name])


def test_the_calls_reach_the_message() -> None:
    got = agree(CASES["parallel_and_thinking"], every_split=False)
    message = got["messages"][0]
    assert message["reasoning_content"] == "Two lookups."
    assert [(c["id"], json.loads(c["function"]["arguments"])) for c in message["tool_calls"]] == [
        ("t1", {"x": 1}),
        ("t2", {"y": 2}),
    ]
    assert got["usage"] == {"input_tokens": 9, "cache_read_input_tokens": 3, "output_tokens": 7}
    assert got["finish_reason"] == "tool_use"
    assert not got["truncated"]


def test_the_first_usage_drops_its_nulls() -> None:
    got = agree(CASES["null_in_the_first_usage"], every_split=False)
    assert got["usage"] == {"input_tokens": 4, "x": {"y": None}, "output_tokens": 2}


def test_input_object_then_fragments_is_not_spliced() -> None:
    got = agree(CASES["input_object_then_fragments"], every_split=False)
    (call,) = got["messages"][0]["tool_calls"]
    assert call["function"]["arguments"] == '{"city": "Berlin"}'


@pytest.mark.parametrize(
    "limits",
    [{"max_arguments_bytes": 8}, {"max_depth": 2}, {"max_tool_calls": 1}, {"max_content_bytes": 4}],
)
def test_limits_agree(limits: dict[str, int]) -> None:
    raw = sse(
        message_start(),
        block_start(0, {"type": "text", "text": "abc"}),
        text(0, "defg"),
        block_stop(0),
        block_start(1, tool_use("t1", "f")),
        fragment(1, '{"a": [[[1]]], "b": "xxxxxxxx"}'),
        block_stop(1),
        block_start(2, tool_use("t2", "g")),
        fragment(2, "{}"),
        block_stop(2),
        STOP,
    )
    got = agree(raw, every_split=False, **limits)
    assert got["errors"], "the case must hit its limit"


def test_format_option() -> None:
    for name in ("chat", "responses", "anthropic", "gemini", "ollama"):
        assert toolwire.StreamAccumulator(format=name).format == name
    assert toolwire.StreamAccumulator().format == "auto"
    with pytest.raises(ValueError, match="format must be"):
        toolwire.StreamAccumulator(format="bedrock")  # type: ignore[arg-type]


def _anthropic_streams() -> list[str]:
    manifest = STREAMS / "manifest.json"
    if not manifest.is_file():
        return []
    streams = json.loads(manifest.read_text())["streams"]
    return sorted(s["file"] for s in streams if s["format"] == "anthropic-messages")


CORPUS = _anthropic_streams()


@pytest.mark.skipif(not CORPUS, reason="../shared/corpus (recorded Anthropic streams) is absent")
def test_recorded_anthropic_streams() -> None:
    rng = random.Random(10)
    for name in CORPUS:
        raw = (STREAMS / name).read_bytes()
        same([raw])
        points = sorted(rng.sample(range(1, len(raw)), min(12, len(raw) - 1)))
        same(reads(raw, points))
        if len(raw) < 3000:
            same(reads(raw, range(1, len(raw))))
