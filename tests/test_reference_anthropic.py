"""The pure-Python Anthropic Messages reference (tests/reference/anthropic.py), on its own.

Hand-written streams composed from the official SDK's event shapes, each read whole, at every
byte split and in 1-byte reads with equal results; then every recorded Anthropic stream of
../shared/corpus (when present), whole and split, against the corpus assertions that concern
Anthropic streams and against the official SDK's own accumulator (when ``anthropic`` is
importable).
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import PieceReader, joined_text, line_sizes
from tests.reference import ReferenceAnthropicAccumulator

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
STREAMS = CORPUS / "recorded-streams"
ASSERTED = CORPUS / "recorded-streams-asserted"


# -- helpers ------------------------------------------------------------------------------------
def sse(*events: dict[str, Any] | str) -> bytes:
    """One SSE event per item, named by its ``type`` (a str item is sent as raw data)."""
    out = []
    for item in events:
        if isinstance(item, str):
            out.append(item)
        else:
            out.append(f"event: {item['type']}\ndata: {json.dumps(item)}\n\n")
    return "".join(out).encode()


def message_start(usage: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    message = {
        "id": "msg_01",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5",
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": usage or {"input_tokens": 25, "output_tokens": 1},
    }
    message.update(extra)
    return {"type": "message_start", "message": message}


def block_start(index: int, block: dict[str, Any]) -> dict[str, Any]:
    return {"type": "content_block_start", "index": index, "content_block": block}


def delta(index: int, **d: Any) -> dict[str, Any]:
    return {"type": "content_block_delta", "index": index, "delta": d}


def text(index: int, value: str) -> dict[str, Any]:
    return delta(index, type="text_delta", text=value)


def fragment(index: int, value: str) -> dict[str, Any]:
    return delta(index, type="input_json_delta", partial_json=value)


def block_stop(index: int) -> dict[str, Any]:
    return {"type": "content_block_stop", "index": index}


def message_delta(reason: str | None, usage: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "type": "message_delta",
        "delta": {"stop_reason": reason, "stop_sequence": None},
        "usage": usage or {"output_tokens": 15},
    }


STOP = {"type": "message_stop"}
PING = {"type": "ping"}


def tool_use(id_: str, name: str, input_: Any = None) -> dict[str, Any]:
    return {"type": "tool_use", "id": id_, "name": name, "input": {} if input_ is None else input_}


def read(raw: bytes, sizes: list[int] | None = None, **kwargs: Any) -> dict[str, Any]:
    """Feed ``raw`` in pieces of ``sizes`` (cycled; whole when None) and snapshot the result."""
    acc = ReferenceAnthropicAccumulator(**kwargs)
    reader = PieceReader(acc)
    reader.feed(raw, sizes)
    reader.call(acc.finish)
    return {
        "events": reader.events,
        "errors": reader.errors,
        "message": acc.message(),
        "native": acc.message(native=True),
        "finish_reason": acc.finish_reason,
        "usage": acc.usage,
        "error": acc.error,
        "done": acc.done,
        "truncated": acc.truncated,
        "tool_calls": acc.tool_calls,
        "choices": acc.choices,
    }


def read_all_ways(raw: bytes, every_split: bool = True, **kwargs: Any) -> dict[str, Any]:
    """Read whole, in 1-byte reads and (``every_split``) at every 2-way split: all equal."""
    whole = joined_text(read(raw, **kwargs))
    assert joined_text(read(raw, [1], **kwargs)) == whole
    if every_split:
        for cut in range(1, len(raw)):
            assert joined_text(read(raw, [cut, len(raw)], **kwargs)) == whole, f"split at {cut}"
    by_line = read(raw, line_sizes(raw), **kwargs)
    assert joined_text(by_line) == whole
    return by_line


# -- hand-written streams --------------------------------------------------------------------
def test_text_only() -> None:
    raw = sse(
        message_start(),
        block_start(0, {"type": "text", "text": ""}),
        PING,
        text(0, "Hello"),
        text(0, ", world"),
        block_stop(0),
        message_delta("end_turn", {"output_tokens": 15}),
        STOP,
    )
    r = read_all_ways(raw)
    usage = {"input_tokens": 25, "output_tokens": 15}
    assert r["events"] == [
        ("Usage", {"input_tokens": 25, "output_tokens": 1}),
        ("TextDelta", 0, "Hello"),
        ("TextDelta", 0, ", world"),
        ("Usage", usage),
        ("Finish", 0, "end_turn"),
    ]
    assert r["message"] == {"role": "assistant", "content": "Hello, world"}
    assert r["native"] == {
        "role": "assistant",
        "content": [{"type": "text", "text": "Hello, world"}],
    }
    assert (r["finish_reason"], r["usage"], r["done"], r["truncated"]) == (
        "end_turn",
        usage,
        True,
        False,
    )
    assert r["choices"] == [0] and r["errors"] == [] and r["tool_calls"] == []


def test_pings_change_nothing() -> None:
    body = [
        message_start(),
        block_start(0, {"type": "text", "text": ""}),
        text(0, "Hi"),
        block_stop(0),
        message_delta("end_turn"),
        STOP,
    ]
    plain = read(sse(*body))
    with_pings = [x for item in body for x in (PING, item)]
    assert read(sse(*with_pings, PING)) == plain


def test_tool_use_input_object_then_fragments() -> None:
    # The start carries "input": {} and the first fragment is "": neither shows in the arguments.
    raw = sse(
        message_start(),
        block_start(0, {"type": "text", "text": ""}),
        text(0, "Let me check."),
        block_stop(0),
        block_start(1, tool_use("toolu_01", "get_weather")),
        fragment(1, ""),
        fragment(1, '{"city"'),
        fragment(1, ': "Paris"'),
        fragment(1, "}"),
        block_stop(1),
        message_delta("tool_use", {"output_tokens": 40}),
        STOP,
    )
    r = read_all_ways(raw)
    call = ("toolu_01", "get_weather")
    assert [e for e in r["events"] if e[0].startswith("ToolCall")] == [
        ("ToolCallStarted", 0, 0, *call),
        ("ToolCallDelta", 0, 0, *call, '{"city"'),
        ("ToolCallDelta", 0, 0, *call, ': "Paris"'),
        ("ToolCallDelta", 0, 0, *call, "}"),
        ("ToolCallReady", 0, 0, *call, '{"city": "Paris"}'),
        ("ToolCallFinished", 0, 0, *call, '{"city": "Paris"}', None),
    ]
    assert r["message"] == {
        "role": "assistant",
        "content": "Let me check.",
        "tool_calls": [
            {
                "id": "toolu_01",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
            }
        ],
    }
    assert r["native"]["content"][1] == tool_use("toolu_01", "get_weather", {"city": "Paris"})
    assert r["tool_calls"][0]["parsed"] == {"city": "Paris"}
    assert r["finish_reason"] == "tool_use"


def test_tool_use_without_fragments() -> None:
    # An empty input finishes as "{}" (no Delta, no Ready); a non-empty one (programmatic tool
    # calls) is the arguments, as compact JSON, sent at the block's stop.
    raw = sse(
        message_start(),
        block_start(0, tool_use("toolu_a", "now")),
        fragment(0, ""),
        block_stop(0),
        block_start(1, tool_use("toolu_b", "roll", {"player": "p1", "n": 2})),
        block_stop(1),
        message_delta("tool_use"),
        STOP,
    )
    r = read_all_ways(raw)
    a, b = ("toolu_a", "now"), ("toolu_b", "roll")
    compact = '{"player":"p1","n":2}'
    assert [e for e in r["events"] if e[0].startswith("ToolCall")] == [
        ("ToolCallStarted", 0, 0, *a),
        ("ToolCallFinished", 0, 0, *a, "{}", None),
        ("ToolCallStarted", 0, 1, *b),
        ("ToolCallDelta", 0, 1, *b, compact),
        ("ToolCallReady", 0, 1, *b, compact),
        ("ToolCallFinished", 0, 1, *b, compact, None),
    ]
    assert [c["function"]["arguments"] for c in r["message"]["tool_calls"]] == ["{}", compact]
    assert [blk["input"] for blk in r["native"]["content"]] == [{}, {"player": "p1", "n": 2}]


def test_parallel_tool_use_blocks() -> None:
    raw = sse(
        message_start(),
        block_start(0, {"type": "text", "text": ""}),
        text(0, "Two cities."),
        block_stop(0),
        block_start(1, tool_use("toolu_1", "weather")),
        fragment(1, ""),
        fragment(1, '{"city": "Paris"}'),
        block_stop(1),
        block_start(2, tool_use("toolu_2", "weather")),
        fragment(2, ""),
        fragment(2, '{"city": '),
        fragment(2, '"Tokyo"}'),
        block_stop(2),
        message_delta("tool_use"),
        STOP,
    )
    r = read_all_ways(raw)
    assert [(c["index"], c["id"], c["parsed"], c["finished"]) for c in r["tool_calls"]] == [
        (0, "toolu_1", {"city": "Paris"}, True),
        (1, "toolu_2", {"city": "Tokyo"}, True),
    ]
    finished = [e for e in r["events"] if e[0] == "ToolCallFinished"]
    assert [e[2] for e in finished] == [0, 1]
    assert [c["id"] for c in r["message"]["tool_calls"]] == ["toolu_1", "toolu_2"]
    assert [b["type"] for b in r["native"]["content"]] == ["text", "tool_use", "tool_use"]


def test_thinking_with_signature_and_redacted_thinking() -> None:
    raw = sse(
        message_start(),
        block_start(0, {"type": "thinking", "thinking": "", "signature": ""}),
        delta(0, type="thinking_delta", thinking="Let me think"),
        delta(0, type="thinking_delta", thinking=" about it."),
        delta(0, type="signature_delta", signature="EqQBCgIYAhIM"),
        block_stop(0),
        block_start(1, {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va"}),
        block_stop(1),
        block_start(2, {"type": "text", "text": ""}),
        text(2, "42"),
        block_stop(2),
        message_delta("end_turn"),
        STOP,
    )
    r = read_all_ways(raw)
    assert [e for e in r["events"] if e[0] in ("TextDelta", "ReasoningDelta")] == [
        ("ReasoningDelta", 0, "Let me think"),
        ("ReasoningDelta", 0, " about it."),
        ("TextDelta", 0, "42"),
    ]
    assert r["message"] == {
        "role": "assistant",
        "content": "42",
        "reasoning_content": "Let me think about it.",
    }
    assert r["native"]["content"] == [
        {"type": "thinking", "thinking": "Let me think about it.", "signature": "EqQBCgIYAhIM"},
        {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va"},
        {"type": "text", "text": "42"},
    ]


def test_citations_kept_in_native_message_only() -> None:
    citation = {"type": "web_search_result_location", "url": "https://x.test", "cited_text": "c"}
    raw = sse(
        message_start(),
        block_start(0, {"type": "text", "text": ""}),
        delta(0, type="citations_delta", citation=citation),
        text(0, "Cited."),
        block_stop(0),
        message_delta("end_turn"),
        STOP,
    )
    r = read_all_ways(raw)
    assert [e[0] for e in r["events"]] == ["Usage", "TextDelta", "Usage", "Finish"]
    assert r["native"]["content"] == [{"type": "text", "text": "Cited.", "citations": [citation]}]


def test_error_event_mid_stream() -> None:
    error = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    raw = sse(
        message_start(),
        block_start(0, {"type": "text", "text": ""}),
        text(0, "Part"),
        error,
    )
    r = read_all_ways(raw)
    assert r["events"][-1] == ("ProviderError", "Overloaded", None, "overloaded_error")
    assert r["error"] == {
        "message": "Overloaded",
        "code": None,
        "type": "overloaded_error",
        "body": error,
    }
    assert r["message"]["content"] == "Part"
    assert (r["done"], r["truncated"], r["finish_reason"]) == (False, True, None)


def test_error_event_with_text_data() -> None:
    r = read(b"event: error\ndata: upstream timed out\n\n")
    assert r["events"] == [("ProviderError", "upstream timed out", None, None)]
    assert r["errors"] == [] and r["truncated"]


def test_stream_cut_before_message_stop() -> None:
    raw = sse(
        message_start(),
        block_start(0, tool_use("toolu_9", "write")),
        fragment(0, ""),
        fragment(0, '{"path": "a.txt", "text": "hel'),
    )
    r = read_all_ways(raw)
    call = ("toolu_9", "write")
    text_ = '{"path": "a.txt", "text": "hel'
    assert r["events"][-1] == ("ToolCallFinished", 0, 0, *call, text_, "incomplete")
    assert (r["done"], r["truncated"], r["finish_reason"]) == (False, True, None)
    assert r["tool_calls"][0]["error_kind"] == "incomplete"
    # The native message keeps the partial value of the cut input.
    assert r["native"]["content"][0]["input"] == {"path": "a.txt", "text": "hel"}


def test_stream_cut_inside_last_event_is_not_a_parse_error() -> None:
    raw = sse(message_start(), block_start(0, {"type": "text", "text": ""}), text(0, "ok"))
    raw += b'event: content_block_delta\ndata: {"type": "content_block_delta", "ind'
    r = read_all_ways(raw)
    assert r["errors"] == [] and r["truncated"] and r["message"]["content"] == "ok"


def test_unfinished_blocks_finish_at_message_stop() -> None:
    raw = sse(
        message_start(),
        block_start(0, tool_use("toolu_1", "f")),
        fragment(0, '{"a": 1}'),
        message_delta("tool_use"),
        STOP,
    )
    r = read_all_ways(raw)
    assert r["events"][-1] == ("ToolCallFinished", 0, 0, "toolu_1", "f", '{"a": 1}', None)
    assert not r["truncated"]


def test_type_field_is_authoritative_and_unknown_kinds_are_ignored() -> None:
    raw = sse(
        message_start(),
        # event name says "ping", the data says content_block_start: the data wins.
        'event: ping\ndata: {"type": "content_block_start", "index": 0, '
        '"content_block": {"type": "text", "text": ""}}\n\n',
        {"type": "future_event", "index": 0, "whatever": [1]},
        delta(0, type="future_delta", x=1),
        text(0, "ok"),
        block_start(1, {"type": "future_block", "payload": {"k": "v"}}),
        delta(1, type="text_delta", text="not text"),
        block_stop(1),
        message_delta("end_turn"),
        STOP,
        message_start(),  # after message_stop: ignored
    )
    r = read_all_ways(raw)
    assert r["message"] == {"role": "assistant", "content": "ok"}
    assert r["native"]["content"] == [
        {"type": "text", "text": "ok"},
        {"type": "future_block", "payload": {"k": "v"}},
    ]
    assert r["errors"] == []


def test_invalid_data_is_a_parse_error_and_reading_goes_on() -> None:
    raw = sse(
        message_start(),
        block_start(0, {"type": "text", "text": ""}),
        "event: content_block_delta\ndata: {not json}\n\n",
        'event: content_block_delta\ndata: {"type": "content_block_delta", "delta": {}}\n\n',
        text(0, "still read"),
        block_stop(0),
        message_delta("end_turn"),
        STOP,
    )
    r = read(raw)
    assert r["errors"] == [("RefParseError", "invalid chunk")]  # the first of the read
    assert r["message"]["content"] == "still read" and r["done"]
    assert read(raw, [1])["errors"] == [("RefParseError", "invalid chunk")] * 2


def test_usage_merge_keeps_start_keys() -> None:
    start = {"input_tokens": 100, "cache_read_input_tokens": 7, "output_tokens": 1}
    end = {"output_tokens": 50, "cache_read_input_tokens": None, "input_tokens": None}
    raw = sse(message_start(start), message_delta("max_tokens", end), STOP)
    r = read_all_ways(raw)
    assert r["usage"] == {"input_tokens": 100, "cache_read_input_tokens": 7, "output_tokens": 50}
    assert r["finish_reason"] == "max_tokens"


def test_whole_turn_inside_message_start() -> None:
    block = tool_use("toolu_p", "rollDie", {"player": "player2"})
    block["caller"] = {"type": "code_execution_20250825", "tool_id": "srvtoolu_1"}
    raw = sse(message_start(content=[block], stop_reason="tool_use"), STOP)
    r = read_all_ways(raw)
    args = '{"player":"player2"}'
    call = ("toolu_p", "rollDie")
    assert r["events"] == [
        ("Usage", {"input_tokens": 25, "output_tokens": 1}),
        ("ToolCallStarted", 0, 0, *call),
        ("ToolCallDelta", 0, 0, *call, args),
        ("ToolCallReady", 0, 0, *call, args),
        ("ToolCallFinished", 0, 0, *call, args, None),
        ("Finish", 0, "tool_use"),
    ]
    assert r["native"]["content"] == [block]


def test_server_tools_are_not_client_calls() -> None:
    server = {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {}}
    result = {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1", "content": []}
    raw = sse(
        message_start(),
        block_start(0, server),
        fragment(0, ""),
        fragment(0, '{"query": "weather"}'),
        block_stop(0),
        block_start(1, result),
        block_stop(1),
        block_start(2, {"type": "text", "text": ""}),
        text(2, "Sunny."),
        block_stop(2),
        message_delta("end_turn"),
        STOP,
    )
    r = read_all_ways(raw)
    assert not any(e[0].startswith("ToolCall") for e in r["events"])
    assert r["tool_calls"] == [] and "tool_calls" not in r["message"]
    answer = {"type": "text", "text": "Sunny."}
    assert r["native"]["content"] == [{**server, "input": {"query": "weather"}}, result, answer]
    as_calls = read(raw, server_tools_as_calls=True)
    assert [(c["id"], c["parsed"]) for c in as_calls["tool_calls"]] == [
        ("srvtoolu_1", {"query": "weather"})
    ]


def test_repeated_start_index_is_read_positionally() -> None:
    # A recorded stream (vercel-ai code-execution-pdf-skill) repeats the index of the block
    # before in a start, then sends that block's deltas and stop at the next index.
    raw = sse(
        message_start(),
        block_start(0, {"type": "text", "text": ""}),
        text(0, "A"),
        block_stop(0),
        block_start(0, {"type": "text", "text": ""}),
        text(1, "B"),
        block_stop(1),
        message_delta("end_turn"),
        STOP,
    )
    r = read_all_ways(raw)
    assert r["message"]["content"] == "AB"
    assert len(r["native"]["content"]) == 2


def test_limits() -> None:
    raw = sse(
        message_start(),
        block_start(0, tool_use("toolu_1", "f")),
        fragment(0, '{"a": "'),
        fragment(0, "x" * 40),
        fragment(0, '"}'),
        block_stop(0),
        block_start(1, {"type": "text", "text": ""}),
        text(1, "y" * 30),
        block_stop(1),
        message_delta("tool_use"),
        STOP,
    )
    r = read(raw, max_arguments_bytes=20, max_content_bytes=20)
    assert r["errors"] == [("RefLimitExceeded", "max_arguments_bytes")]
    assert r["tool_calls"][0]["error_kind"] == "incomplete"
    assert r["message"]["content"] is None
    r = read(raw, [7], max_arguments_bytes=20, max_content_bytes=20)
    assert ("RefLimitExceeded", "max_content_bytes") in r["errors"]
    parallel = sse(
        message_start(),
        block_start(0, tool_use("t1", "f")),
        block_stop(0),
        block_start(1, tool_use("t2", "f")),
        block_stop(1),
        STOP,
    )
    r = read(parallel, max_tool_calls=1)
    assert r["errors"] == [("RefLimitExceeded", "max_tool_calls")]
    assert [c["id"] for c in r["tool_calls"]] == ["t1"]
    assert [b["id"] for b in r["native"]["content"]] == ["t1", "t2"]


def test_bad_index_is_a_parse_error() -> None:
    raw = sse(message_start(), {"type": "content_block_start", "content_block": {"type": "text"}})
    assert read(raw)["errors"] == [("RefParseError", "invalid chunk")]


# -- the recorded corpus -----------------------------------------------------------------------
def _anthropic_streams() -> list[str]:
    if not (STREAMS / "manifest.json").is_file():
        return []
    manifest = json.loads((STREAMS / "manifest.json").read_text())
    return sorted(s["file"] for s in manifest["streams"] if s["format"] == "anthropic-messages")


ANTHROPIC_STREAMS = _anthropic_streams()
needs_corpus = pytest.mark.skipif(
    not ANTHROPIC_STREAMS, reason=f"no recorded Anthropic streams under {STREAMS}"
)


@needs_corpus
def test_corpus_reads_whole_and_split() -> None:
    rng = random.Random(10)
    for name in ANTHROPIC_STREAMS:
        raw = (STREAMS / name).read_bytes()
        whole = read(raw)
        assert whole["errors"] == [], name
        sizes = [rng.randint(1, 97) for _ in range(16)]
        assert joined_text(read(raw, sizes)) == joined_text(whole), name
        if len(raw) < 3000:
            assert joined_text(read(raw, [1])) == joined_text(whole), name
        for call in whole["tool_calls"]:
            assert call["finished"], name
            # The one stream cut by max_tokens inside a call's arguments.
            assert call["error_kind"] is None or whole["finish_reason"] == "max_tokens", name
        if whole["done"]:
            assert whole["finish_reason"] is not None, name


@needs_corpus
def test_corpus_assertions() -> None:
    stems = {Path(name).stem: name for name in ANTHROPIC_STREAMS}
    checked = 0
    for path in sorted(ASSERTED.glob("*.json")):
        if path.stem not in stems:
            continue
        result = read((STREAMS / stems[path.stem]).read_bytes())
        for assertion in json.loads(path.read_text()).get("assertions", []):
            if "content" in assertion:
                assert result["message"]["content"] == assertion["content"], path.name
            if "reasoning" in assertion:
                assert result["message"].get("reasoning_content") == assertion["reasoning"]
            if "tool_calls" in assertion:
                got = [(c["id"], c["name"], c["parsed"]) for c in result["tool_calls"]]
                want = [
                    (c["id"], c["name"], json.loads(c["arguments"]))
                    for c in assertion["tool_calls"]
                ]
                assert got == want, path.name
            if assertion.get("finish_raw") is not None:
                assert result["finish_reason"] == assertion["finish_raw"], path.name
            checked += 1
    if not checked:
        pytest.skip("no file in recorded-streams-asserted concerns an Anthropic stream")


def _drop_none(block: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in block.items() if v is not None}


@needs_corpus
def test_corpus_against_the_official_sdk_accumulator() -> None:
    pytest.importorskip("anthropic", reason="the official anthropic SDK is not installed")
    from anthropic.lib.streaming._beta_messages import accumulate_event

    from tests.reference.sse import SSEDecoder

    compared = 0
    for name in ANTHROPIC_STREAMS:
        raw = (STREAMS / name).read_bytes()
        ours = read(raw)
        decoder = SSEDecoder()
        snapshot, buffers = None, {}
        for event in decoder.feed(raw) + decoder.finish():
            obj = json.loads(event.data)
            if obj.get("type") in ("ping", "error"):
                continue
            snapshot = accumulate_event(
                event=obj, current_snapshot=snapshot, json_bufs=buffers, request_headers={}
            )
        assert snapshot is not None, name
        sdk = [_drop_none(b.to_dict()) for b in snapshot.content]
        native = [_drop_none(b) for b in ours["native"]["content"]]
        assert len(sdk) == len(native), name
        for theirs, mine, call in zip(sdk, native, _calls_by_block(ours), strict=True):
            if call is not None and call["error_kind"] == "incomplete":
                # The SDK's jiter partial mode drops a trailing incomplete string; toolwire's
                # partial value keeps it (docs/semantics.md). Compare everything else.
                theirs, mine = dict(theirs), dict(mine)
                del theirs["input"], mine["input"]
            assert theirs == mine, name
        sdk_text = "".join(b.get("text", "") for b in sdk if b["type"] == "text")
        assert (ours["message"]["content"] or "") == sdk_text, name
        sdk_calls = [(b["id"], b["name"], b["input"]) for b in sdk if b["type"] == "tool_use"]
        our_calls = [(c["id"], c["name"], c["parsed"]) for c in ours["tool_calls"]]
        if not any(c["error_kind"] for c in ours["tool_calls"]):
            assert our_calls == sdk_calls, name
        assert ours["finish_reason"] == snapshot.stop_reason, name
        compared += 1
    assert compared == len(ANTHROPIC_STREAMS)


def _calls_by_block(result: dict[str, Any]) -> list[dict[str, Any] | None]:
    """For each native block, the client call read from it (None for other blocks)."""
    calls = iter(result["tool_calls"])
    return [next(calls) if b["type"] == "tool_use" else None for b in result["native"]["content"]]
