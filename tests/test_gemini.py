"""Gemini in the Rust core (``StreamAccumulator(format="gemini")``) against the pure-Python
reference (tests/reference/gemini.py, rules G1-G13): the same events, messages (OpenAI-shaped and
native), finish reasons, usage and token usage, outcome, provider error, done, truncation and
errors raised per read; whole, at every split of small streams, in 1-byte reads and random reads,
with limits, and on every recorded Gemini stream of ../shared/corpus (with ``format="gemini"``
and ``format="auto"``) when present.

The streams are written with the builders of test_reference_gemini.py. Where the reference
re-serialises a value the core keeps as sent (a float's spelling, an escaped character inside a
whole call's ``args``), the streams here send what both spell alike.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

import toolwire
from tests.helpers import _drive, as_json, reads, split_invariant
from tests.reference.convert import error_to_dict, event_to_tuple
from tests.reference.errors import RefLimitExceeded, RefParseError
from tests.reference.gemini import ReferenceGeminiAccumulator
from tests.test_reference_gemini import (
    GOOGLE,
    call,
    chunk,
    piece,
    pieces,
    sse,
    text,
    thought,
    usage,
)

STREAMS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "recorded-streams"
RUST_ERRORS = (toolwire.ParseError, toolwire.LimitExceeded)
REF_ERRORS = (RefParseError, RefLimitExceeded)


def _collect(
    acc: Any, chunks: list[bytes], convert: Any, errors: tuple[type, ...]
) -> dict[str, Any]:
    """Every read, then ``finish()``: events, and the errors raised with the read that raised
    them; then the snapshot ``_drive`` takes (its own ``finish()`` is a second one: ``[]``)."""
    events: list[Any] = []
    raised: list[Any] = []
    for i, step in enumerate([*chunks, None]):
        try:
            got = acc.feed(step) if step is not None else acc.finish()
        except errors as exc:
            got = exc.events  # type: ignore[attr-defined]
            raised.append((i, error_to_dict(exc)))
        events.extend(convert(ev) for ev in got)
    out = _drive(acc, [], convert, errors, None)
    out["events"] = events
    out["errors"] = raised
    return out


def _calls(calls: list[Any]) -> list[tuple[Any, ...]]:
    return [
        (c["index"], c["id"], c["name"], c["arguments"], c["finished"], c["ready"], c["error_kind"])
        for c in calls
    ]


def rust(chunks: list[bytes], fmt: str = "gemini", **kwargs: Any) -> dict[str, Any]:
    acc = toolwire.StreamAccumulator(format=fmt, **kwargs)
    out = _collect(acc, chunks, event_to_tuple, RUST_ERRORS)
    err = acc.error
    out["error"] = (
        None
        if err is None
        else {"message": err.message, "code": err.code, "type": err.type, "body": err.body}
    )
    out["finish_reasons"] = dict(acc.finish_reasons)
    out["tool_calls"] = {
        c: _calls(
            [
                {
                    "index": t.index,
                    "id": t.id,
                    "name": t.name,
                    "arguments": t.arguments,
                    "finished": t.finished,
                    "ready": t.ready,
                    "error_kind": None
                    if t.error is None
                    else getattr(t.error, "kind", None) or t.error.limit,
                }
                for t in acc.calls_of(c)
            ]
        )
        for c in acc.choices
    }
    return as_json(out)


def reference(chunks: list[bytes], **kwargs: Any) -> dict[str, Any]:
    acc = ReferenceGeminiAccumulator(**kwargs)
    out = _collect(acc, chunks, lambda e: e, REF_ERRORS)
    out["error"] = acc.error
    out["finish_reasons"] = {i: c.finish_reason for i, c in acc._choices.items()}
    out["tool_calls"] = {}
    for i in acc.choices:
        rows = []
        for c in sorted(acc._choices[i].calls, key=lambda c: (c.ordinal,)):
            rows.append(
                {
                    "index": c.ordinal,
                    "id": c.id,
                    "name": c.name,
                    "arguments": c.text,
                    "finished": c.finished,
                    "ready": c.ready,
                    "error_kind": c.error_kind,
                }
            )
        out["tool_calls"][i] = _calls(rows)
    return as_json(out)


def same(chunks: list[bytes], fmt: str = "gemini", **kwargs: Any) -> dict[str, Any]:
    """Rust and the reference on the same reads (errors are per read, so reads must match)."""
    want = reference(chunks, **kwargs)
    assert rust(chunks, fmt, **kwargs) == want
    return want


def agree(raw: bytes, every_split: bool = True, **kwargs: Any) -> dict[str, Any]:
    """Whole, 1-byte reads, random reads and (``every_split``) every 2-way split."""
    want = same([raw], **kwargs)
    one_byte = same(reads(raw, range(1, len(raw))), **kwargs)
    assert split_invariant(one_byte) == split_invariant(want), "1-byte reads"
    rng = random.Random(len(raw))
    for _ in range(3 if len(raw) > 1 else 0):
        points = sorted(rng.sample(range(1, len(raw)), min(8, len(raw) - 1)))
        same(reads(raw, points), **kwargs)
    if every_split:
        for cut in range(1, len(raw)):
            same(reads(raw, [cut]), **kwargs)
    return want


ERROR = {"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}}

CASES: dict[str, bytes] = {
    # G11: usage before the parts, emitted when it changes only.
    "text_and_usage": sse(
        chunk(text("The"), usage={"promptTokenCount": 8, "totalTokenCount": 8}),
        chunk(text(" capital is"), usage={"totalTokenCount": 8, "promptTokenCount": 8}),
        chunk(text(" Paris."), finish="STOP", usage=usage(8, 6)),
    ),
    "usage_equality_is_strict": sse(
        chunk(text("a"), usage={"promptTokenCount": 1, "totalTokenCount": 1}),
        chunk(text("c"), usage={"promptTokenCount": 1.0, "totalTokenCount": 1}),
        chunk(text("d"), usage={"promptTokenCount": True, "totalTokenCount": 1}),
        chunk(text("e"), usage="not an object", finish="STOP"),
        {"usageMetadata": {"promptTokenCount": 3, "thoughtsTokenCount": 2, "trafficType": "X"}},
    ),
    # G5, G13: reasoning, signatures never merged, a non-bool thought is content.
    "thoughts_and_signatures": sse(
        chunk(thought("Let me")),
        chunk(thought(" think.")),
        chunk(text("Answer:", signature="SIG1")),
        chunk(text(" 42")),
        chunk(text(" indeed")),
        chunk({"text": " yes", "thought": "true"}, {"text": "!", "thought": 1}),
        chunk(text("", signature="SIG2"), finish="STOP"),
    ),
    "native_merging": sse(
        chunk(text(""), text("a"), text(""), text("b", signature="S"), text("c")),
        chunk(thought("t"), {"text": "d", "thought": False}, text("e")),
        chunk({"inlineData": {"mimeType": "image/png", "data": "AA=="}}, text("f")),
        chunk({"text": "g", "partMetadata": {"k": 1}}, text("h"), {"thoughtSignature": "only"}),
        chunk({"executableCode": {"code": "1"}}, {"text": 5}, {"text": None}, finish="STOP"),
    ),
    # G4, G9, G12: reading goes on after the finish; later parts of that candidate are not read.
    "max_tokens_then_usage_and_ignored_parts": sse(
        chunk(text("Once upon a"), usage=usage(5, 3)),
        chunk(text(" time"), finish="MAX_TOKENS"),
        {"usageMetadata": usage(5, 4)},
        chunk(text(" ignored"), call("f", {"a": 1}), finish="STOP"),
    ),
    "finish_in_the_same_chunk_as_parts": sse(chunk(text("x"), call("f", {}), finish="SAFETY")),
    "malformed_function_call": sse(chunk(text("x")), chunk(finish="MALFORMED_FUNCTION_CALL")),
    # G10: a prompt block without candidates; with candidates promptFeedback is no block.
    "prompt_blocked": sse(
        {
            "promptFeedback": {"blockReason": "OTHER", "safetyRatings": []},
            "usageMetadata": {"promptTokenCount": 7, "totalTokenCount": 7},
        }
    ),
    "prompt_blocked_with_empty_candidates": sse(
        {"candidates": [], "promptFeedback": {"blockReason": "JAILBREAK"}},
        {"promptFeedback": {"blockReason": "SAFETY"}},
    ),
    "prompt_feedback_with_candidates": sse(
        chunk(text("hi"), promptFeedback={"blockReason": "SAFETY"}),
        {"promptFeedback": {"blockReason": ""}},
    ),
    "prompt_block_after_a_finish": sse(
        chunk(text("x"), finish="STOP"), {"promptFeedback": {"blockReason": "OTHER"}}
    ),
    "cut": sse(chunk(text("Par"))),
    "cut_inside_the_last_event": sse(chunk(text("ok")))
    + b'data: {"candidates": [{"content": {"parts": [{"te',
    "nothing": b"",
    "multiple_candidates": sse(
        {
            "candidates": [
                {"index": 0, "content": {"parts": [text("A")]}},
                {"index": 1, "content": {"parts": [text("B")]}},
            ]
        },
        {
            "candidates": [
                {"index": 1, "content": {"parts": [call("f", {"x": 1})]}, "finishReason": "STOP"},
                {"index": 0, "content": {"parts": [text("a")]}},
            ]
        },
        {"candidates": [{"content": {"parts": [text("!")]}, "finishReason": "STOP"}]},
        # A new candidate after the end reopens it.
        {"candidates": [{"index": 2, "content": {"parts": [text("late")]}}]},
    ),
    "index_lenient": sse(
        {"candidates": [{"index": "1", "content": {"parts": [text("a")]}}]},
        {"candidates": [{"index": 1.0, "content": {"parts": [text("b")]}, "finishReason": "STOP"}]},
    ),
    # G2: errors, with Google's status as the type.
    "error_chunk": sse(chunk(text("Part")), ERROR, chunk(text("more"))),
    "error_shapes": sse(
        {"error": "quota"},
        {"error": {"message": "m", "type": "t", "code": "c"}},
        {"error": {"code": 1}, "message": "top"},
        {"error": {"code": 2}},
        {"error": [1, 2]},
        {"error": None, "candidates": [{"content": {"parts": [text("x")]}}]},
        # The reference writes an odd error value with json.dumps's spacing; the core keeps it
        # as sent.
        separators=None,
    ),
    "error_events": (
        b"event: error\ndata: upstream timed out\n\n"
        + b"event: error\ndata: "
        + json.dumps(ERROR).encode()
        + b'\n\nevent: error\ndata: {"message": "top only", "code": 9}\n\n'
        + b"event: error\ndata: [1]\n\n"
        + b"event: error\ndata:\n\n"
    ),
    "event_names": (
        b"event: ping\ndata: {}\n\n"
        + b": a comment\n\n"
        + sse(chunk(text("a")))
        + b"event: future\ndata: not json\n\n"
        + b"data:   \n\n"
        + sse(chunk(text("b"), finish="STOP"))
    ),
    # G6: whole calls.
    "whole_calls": sse(
        chunk(text("Checking.")),
        chunk(
            call("get_weather", {"city": "Paris", "days": [1, 2]}, signature="SIG"),
            call("get_time", {"tz": "Europe/Paris"}, id_="fc_1"),
            call("now"),
            call("empty", {}),
            call("nulled", None, id_=""),
        ),
        chunk(text(""), finish="STOP", usage=usage()),
    ),
    "whole_call_arguments_of_other_types": sse(
        chunk(
            call("s", '{"a": 1}'),
            call("bad", "{oops"),
            call("n", 5),
            call("l", [1, "two", None]),
            call("b", True),
            call("e", ""),
        ),
        chunk(finish="STOP"),
    ),
    "whole_call_with_spaced_args": (
        b'data: {"candidates": [{"content": {"parts": [{"functionCall": {"name": "f", "args": '
        b'{ "a" : [ 1 , { "b" : "x y" } ] } }}]}, "finishReason": "STOP"}]}\n\n'
    ),
    "nameless_call_parts": sse(
        chunk(
            call(None, {"a": 1}), call(None), call("", {"b": 2}), text("x"), {"functionCall": None}
        ),
        chunk(finish="STOP"),
    ),
    # G7-G8: streamed calls.
    "streamed_string_pieces": sse(
        chunk(call("getWeather", signature="SIG", willContinue=True)),
        chunk(pieces(piece("$.location", "Bos", more=True))),
        chunk(pieces(piece("$.location", 'ton "MA"', more=True))),
        chunk(pieces(piece("$.location", ""))),
        chunk(call(None)),
        chunk(text(""), finish="STOP"),
    ),
    "streamed_nested_values": sse(
        chunk(call("cook", willContinue=True)),
        chunk(pieces(piece("$.recipe.items[0].name", "egg"))),
        chunk(pieces(piece("$.recipe.items[0].qty", 2))),
        chunk({"functionCall": {"willContinue": True}}),
        chunk(pieces(piece("$.recipe.items[1].name", "milk", more=True))),
        chunk(pieces(piece("$.recipe.items[1].name", ""))),
        chunk(pieces(piece("$.recipe.items[1].qty", 0.5))),
        chunk(pieces(piece("$.recipe.vegan", False), piece("$.recipe.note"))),
        chunk(pieces(piece("$.recipe.steps[0]", "mix"), piece("$.recipe.steps[1]", "bake"))),
        chunk(pieces(piece("$['odd key']", "x\n\u0001é\\"), more=False)),
        chunk(finish="STOP"),
    ),
    "streamed_back_to_back": sse(
        chunk(call("read_theme", signature="S0")),
        chunk(call("read_screen", willContinue=True)),
        chunk(pieces(piece("$.id", "A", more=True))),
        chunk(pieces(piece("$.id", ""))),
        chunk(call(None)),
        chunk(call("read_screen", willContinue=True)),
        chunk(pieces(piece("$.id", "B", more=True))),
        chunk(call("read_screen", {"id": "C"})),
        chunk(call("open", willContinue=True), text("between"), call("next", partialArgs=[])),
        chunk(text(""), finish="STOP"),
    ),
    "streamed_keeps_continuation_keys": sse(
        chunk(call("f", id_="fc_9", willContinue=True, partialArgs=[piece("$.a", 1)]), index=0),
        chunk({"functionCall": {"id": "other", "name": None, "willContinue": True}, "k": 1}),
        chunk({"functionCall": {}, "thoughtSignature": "LATE", "k": 2}, finish="STOP"),
    ),
    "streamed_cut_by_finish": sse(
        chunk(call("write", willContinue=True)),
        chunk(pieces(piece("$.path", "a.txt"))),
        chunk(pieces(piece("$.text", "hel", more=True))),
        chunk(finish="MAX_TOKENS"),
    ),
    "streamed_cut_by_end_of_stream": sse(
        chunk(call("write", willContinue=True)),
        chunk(pieces(piece("$.path", "a.txt"), piece("$.n", [1]))),
        chunk(pieces(piece("$.list[0][0]", True))),
    ),
    "streamed_two_candidates": sse(
        {
            "candidates": [
                {"index": 0, "content": {"parts": [call("a", willContinue=True)]}},
                {"index": 1, "content": {"parts": [call("b", willContinue=True)]}},
            ]
        },
        {
            "candidates": [
                {"index": 1, "content": {"parts": [pieces(piece("$.y", 2), more=False)]}},
                {"index": 0, "content": {"parts": [pieces(piece("$.x", 1))]}},
            ]
        },
        {"candidates": [{"index": 0, "content": {"parts": [call(None)]}, "finishReason": "STOP"}]},
    ),
    "pieces_without_values_and_odd_fields": sse(
        chunk(
            call(
                "f",
                willContinue=True,
                partialArgs=[
                    {"jsonPath": "$.a"},
                    piece("$.b", 1),
                    {"jsonPath": "$.c", "stringValue": None, "numberValue": "7", "boolValue": 1},
                    {"jsonPath": "$.d", "stringValue": 5, "numberValue": -3},
                    {"jsonPath": "$.e", "boolValue": True, "willContinue": "yes"},
                    {"jsonPath": "$.f", "nullValue": None},
                ],
            )
        ),
        chunk(call(None), finish="STOP"),
    ),
}

OUT_OF_ORDER = [
    [piece("$.a", 1), piece("$.a", 2)],
    [piece("$.a.b", 1), piece("$.c", 2), piece("$.a.d", 3)],
    [piece("$.list[1]", 1)],
    [piece("$.list[0]", 1), piece("$.list.x", 2)],
    [piece("$[0]", 1)],
    [piece("$", 1)],
    [piece("no dollar", 1)],
    [piece("$.s", "ab", more=True), piece("$.s", 5)],
    [{"stringValue": "x"}],
    [{"jsonPath": 5, "numberValue": 1}],
]
for i, items in enumerate(OUT_OF_ORDER):
    CASES[f"out_of_order_{i}"] = sse(
        chunk(call("f", willContinue=True)),
        chunk(pieces(*items)),
        chunk(pieces(piece("$.z", "later"))),
        chunk(call(None), finish="STOP"),
    )

INVALID = [
    "not json",
    "[1, 2]",
    "[DONE]",
    '{"candidates": {}}',
    '{"candidates": ["x"]}',
    '{"candidates": [null]}',
    '{"candidates": [{"index": -1}]}',
    '{"candidates": [{"index": 4294967296}]}',
    '{"candidates": [{"index": 1e300}]}',
    '{"candidates": [{"content": []}]}',
    '{"candidates": [{"content": {"parts": {}}}]}',
    '{"candidates": [{"content": {"parts": [1]}}]}',
    '{"candidates": [{"content": {"parts": [{"functionCall": "f"}]}}]}',
    '{"candidates": [{"content": {"parts": [{"functionCall": {"partialArgs": {}}}]}}]}',
    '{"candidates": [{"content": {"parts": [{"functionCall": {"partialArgs": [1]}}]}}]}',
    '{"candidates": [{"content": {"parts": [{"text": "a", "text": "b"}]}}]}',
    '{"candidates": [{"content": {"parts": [{"text": "a", "thought": true, "thought": true}]}}]}',
    '{"candidates": [{"content": {"parts": [{"thoughtSignature": "a", '
    '"thoughtSignature": "b"}]}}]}',
    '{"candidates": [{"content": {"parts": [{"functionCall": {"name": "a", "name": "b"}}]}}]}',
    '{"candidates": [{"content": {"parts": [{"functionCall": {"partialArgs": '
    '[{"jsonPath": "$.a", "jsonPath": "$.b"}]}}]}}]}',
    '{"candidates": [{"content": {"parts": [], "parts": []}}]}',
    '{"candidates": [{"finishReason": "STOP", "finishReason": "STOP"}]}',
    '{"candidates": [], "candidates": []}',
    '{"usageMetadata": {}, "usageMetadata": {}}',
    '{"promptFeedback": []}',
    '{"promptFeedback": {"blockReason": "A", "blockReason": "B"}}',
    '{"error": {"message": "x"}, "candidates": 5}',
]
LENIENT = [
    '{"candidates": null, "usageMetadata": null, "promptFeedback": null, "error": null}',
    '{"candidates": [{"index": "1", "content": null, "finishReason": null}]}',
    '{"candidates": [{"index": 2.5, "content": {"parts": null, "role": "model"}, "extra": [1]}]}',
    '{"candidates": [{"content": {"parts": [{"text": 5, "thought": "yes"}]}}]}',
    '{"candidates": [{"content": {"parts": [{"functionCall": null, "text": "t"}]}}], '
    '"x": 1, "x": 2}',
    '{"candidates": [{"content": {"parts": [{"text": "u", "other": 1, "other": 2}]}}]}',
    '{"candidates": [{"finishReason": 5}], "usageMetadata": [1]}',
]


@pytest.mark.parametrize("name", sorted(CASES))
def test_rust_equals_the_reference(name: str) -> None:
    agree(CASES[name])


@pytest.mark.parametrize("data", INVALID)
def test_invalid_chunks_agree(data: str) -> None:
    got = agree(sse(chunk(text("a")), data, chunk(text("b"), finish="STOP")), every_split=False)
    assert [e["kind"] for _, e in got["errors"]] == ["invalid chunk"], data


@pytest.mark.parametrize("data", LENIENT)
def test_lenient_chunks_agree(data: str) -> None:
    got = agree(sse(data, chunk(text("b"), finish="STOP")), every_split=False)
    assert got["errors"] == [], data


def test_what_the_cases_show() -> None:
    """A few facts about the cases, so that agreement is not agreement on nothing."""
    got = same([CASES["streamed_nested_values"]])
    (args,) = [e[-2] for e in got["events"] if e[0] == "ToolCallFinished"]
    assert json.loads(args)["recipe"]["items"][1] == {"name": "milk", "qty": 0.5}
    assert got["native"][0]["parts"][0]["functionCall"]["args"] == json.loads(args)
    got = same([CASES["prompt_blocked"]])
    assert (got["finish_reason"], got["outcome"], got["truncated"]) == (
        "OTHER",
        "content_filter",
        False,
    )
    got = same([CASES["thoughts_and_signatures"]])
    assert [p.get("thoughtSignature") for p in got["native"][0]["parts"]] == [
        None,
        "SIG1",
        None,
        "SIG2",
    ]
    assert got["messages"][0]["content"] == "Answer: 42 indeed yes!"
    got = same([CASES["error_chunk"]])
    assert got["error"]["type"] == "UNAVAILABLE" and got["outcome"] == "error"
    got = same([CASES["streamed_cut_by_finish"]])
    assert got["tool_calls"]["0"][0][-1] == "incomplete"
    got = same([CASES["multiple_candidates"]])
    assert not got["done"] and got["truncated"] and got["outcome"] == "cut"
    got = same([CASES["usage_equality_is_strict"]])
    assert sum(e[0] == "Usage" for e in got["events"]) == 4
    assert got["token_usage"] == {"input_tokens": 3, "output_tokens": 2, "total_tokens": 5}
    for i in range(len(OUT_OF_ORDER)):
        got = same([CASES[f"out_of_order_{i}"]])
        assert [e["kind"] for _, e in got["errors"]] == ["invalid chunk"], i
        assert got["tool_calls"]["0"][0][-1] == "incomplete", i


def test_done_and_outcome_before_finish() -> None:
    for name in ("text_and_usage", "prompt_blocked", "multiple_candidates", "cut"):
        raw = CASES[name]
        acc = toolwire.StreamAccumulator(format="gemini")
        ref = ReferenceGeminiAccumulator()
        acc.feed(raw)
        ref.feed(raw)
        assert (acc.done, acc.outcome) == (ref.done, ref.outcome), name


LIMITS = [
    {"max_arguments_bytes": 20},
    {"max_arguments_bytes": 12},
    {"max_content_bytes": 20},
    {"max_tool_calls": 1},
    {"max_tool_calls": 2},
    {"max_choices": 1},
    {"max_depth": 2},
    {"max_line_bytes": 200},
    {"max_event_bytes": 200},
]


@pytest.mark.parametrize("limits", LIMITS, ids=lambda d: "-".join(f"{k}={v}" for k, v in d.items()))
def test_limits_agree(limits: dict[str, int]) -> None:
    raw = sse(
        chunk(call("f", {"a": "x" * 40}), usage={"d": [[["x"]]]}),
        chunk(call("g", willContinue=True, partialArgs=[piece("$.b", "y" * 40)])),
        chunk(pieces(piece("$.c[0][0].d", 1))),
        chunk(text("z" * 30), thought("w" * 30), text("more")),
        chunk(call("h", {"k": [[1]]}), call("i", willContinue=True)),
        {"candidates": [{"index": 1, "content": {"parts": [text("second")]}}]},
        chunk(call(None), finish="STOP"),
    )
    got = agree(raw, every_split=False, **limits)
    assert got["errors"], "the case must hit its limit"


def _gemini_streams() -> list[str]:
    manifest = STREAMS / "manifest.json"
    if not manifest.is_file():
        return []
    streams = json.loads(manifest.read_text())["streams"]
    return sorted(s["file"] for s in streams if s["format"] == "google-gemini")


CORPUS = _gemini_streams()


@pytest.mark.skipif(not CORPUS, reason="../shared/corpus (recorded Gemini streams) is absent")
@pytest.mark.parametrize("fmt", ["gemini", "auto"])
def test_recorded_gemini_streams(fmt: str) -> None:
    rng = random.Random(10)
    for name in CORPUS:
        raw = (STREAMS / name).read_bytes()
        whole = same([raw], fmt)
        assert whole["errors"] == [] and whole["format"] == "gemini", name
        points = sorted(rng.sample(range(1, len(raw)), min(12, len(raw) - 1)))
        same(reads(raw, points), fmt)
        if len(raw) < 3000:
            same(reads(raw, range(1, len(raw))), fmt)


def _random_part(rng: random.Random) -> Any:
    kind = rng.randrange(14)
    words = ["a", "é", 'q"', "x\ny", ""]
    if kind < 3:
        return text(rng.choice(words), signature=rng.choice([None, None, "S"]))
    if kind == 3:
        return thought(rng.choice(words), signature=rng.choice([None, "T"]))
    if kind == 4:
        args = rng.choice([None, {}, {"k": [1, True, None]}, "{bad", '{"s": 1}', 7])
        return call(rng.choice(["f", "g", "", None]), args, id_=rng.choice([None, "id1", ""]))
    if kind == 5:
        return call(rng.choice(["s", None]), willContinue=rng.random() < 0.7)
    if kind in (6, 7, 12, 13):
        paths = ["$.a", "$.b", "$.a.b", "$.l[0]", "$.l[1]", "$.s", "$['q']", "$[0]", "$"]
        values = ["v", "", 1, 0.5, True, None]
        items = [
            piece(rng.choice(paths), rng.choice(values), more=rng.random() < 0.4)
            for _ in range(rng.randrange(3))
        ]
        return pieces(*items, more=rng.random() < 0.6)
    if kind == 8:
        return {"functionCall": {}, **({"k": 1} if rng.random() < 0.5 else {})}
    if kind == 9:
        return {"inlineData": {"mimeType": "image/png", "data": "AA=="}}
    if kind == 10:
        return {"thoughtSignature": "only"}
    return {"text": rng.choice(words), "thought": rng.choice([True, False, "yes"]), "x": 1}


def _random_event(rng: random.Random) -> dict[str, Any] | str:
    kind = rng.randrange(20)
    if kind == 0:
        return rng.choice(["not json", "[1]", '{"candidates": {}}', '{"candidates": [1]}'])
    if kind == 1:
        return rng.choice([ERROR, {"error": "quota"}])
    if kind == 2:
        return {"promptFeedback": {"blockReason": rng.choice(["SAFETY", "OTHER"])}}
    if kind == 3:
        return {"usageMetadata": usage(rng.randrange(3), rng.randrange(3))}
    candidates = []
    for _ in range(1 if rng.random() < 0.8 else 2):
        candidate: dict[str, Any] = {
            "content": {"parts": [_random_part(rng) for _ in range(rng.randrange(4))]}
        }
        if rng.random() < 0.3:
            candidate["index"] = rng.randrange(3)
        if rng.random() < 0.12:
            candidate["finishReason"] = rng.choice(["STOP", "MAX_TOKENS", "SAFETY", "OTHER"])
        candidates.append(candidate)
    out: dict[str, Any] = {"candidates": candidates}
    if rng.random() < 0.4:
        out["usageMetadata"] = usage(rng.randrange(3), rng.randrange(3))
    return out


@pytest.mark.parametrize("seed", range(40))
def test_random_streams_agree(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(25):
        # Google's spacing (the fast reader's), json.dumps's and compact (the general path's).
        separators = rng.choice([GOOGLE, GOOGLE, None, (",", ":")])
        events = (_random_event(rng) for _ in range(rng.randrange(1, 9)))
        raw = sse(*events, separators=separators)
        if rng.random() < 0.3:
            raw = raw[: rng.randrange(1, len(raw))]
        limits = rng.choice([{}, {}, {"max_arguments_bytes": 9}, {"max_tool_calls": 2}])
        limits = {**limits, **rng.choice([{}, {"max_choices": 2}, {"max_content_bytes": 5}])}
        same([raw], **limits)
        points = sorted(rng.sample(range(1, len(raw)), min(6, len(raw) - 1)))
        same(reads(raw, points), **limits)
