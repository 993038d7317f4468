"""The pure-Python Gemini reference (tests/reference/gemini.py), on its own.

Hand-written streams in the shape of ``GenerateContentResponse`` chunks (google-genai's types),
each read whole, at every byte split and in 1-byte reads with equal results; then every recorded
Gemini stream of ../shared/corpus (when present), whole and split, against what a user of the
official SDK (``google-genai``, when importable) gets by parsing each chunk and concatenating the
first candidate's parts. The builders (``sse``, ``chunk``, ``text``, ``call``, ``piece``...) are
meant to be reused by the Rust differential tests.
"""

from __future__ import annotations

import itertools
import json
import random
import re
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import PieceReader, joined_text, line_sizes
from tests.reference.gemini import (
    ReferenceGeminiAccumulator,
    args_writer_text,
    parse_json_path,
)

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
STREAMS = CORPUS / "recorded-streams"


# -- builders -----------------------------------------------------------------------------------
GOOGLE = (",", ": ")  # the API's own spacing, which toolwire's fast reader reads


def sse(*chunks: dict[str, Any] | str, separators: tuple[str, str] | None = GOOGLE) -> bytes:
    """One ``data:`` event per chunk (a str item is sent as raw data), written with
    ``separators`` (``None``: ``json.dumps``'s own, ``", "`` and ``": "``)."""
    out = []
    for item in chunks:
        data = item if isinstance(item, str) else json.dumps(item, separators=separators)
        out.append(f"data: {data}\r\n\r\n")
    return "".join(out).encode()


def chunk(
    *parts: dict[str, Any],
    finish: str | None = None,
    usage: dict[str, Any] | None = None,
    index: int | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A GenerateContentResponse with one candidate holding ``parts``."""
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": list(parts)}}
    if finish is not None:
        candidate["finishReason"] = finish
    if index is not None:
        candidate["index"] = index
    out: dict[str, Any] = {"candidates": [candidate]}
    if usage is not None:
        out["usageMetadata"] = usage
    out["modelVersion"] = "gemini-2.5-flash"
    out.update(extra)
    return out


def usage(prompt: int = 10, out: int = 5, thoughts: int | None = None) -> dict[str, Any]:
    u = {"promptTokenCount": prompt, "candidatesTokenCount": out}
    if thoughts is not None:
        u["thoughtsTokenCount"] = thoughts
    u["totalTokenCount"] = prompt + out + (thoughts or 0)
    return u


def text(value: str, signature: str | None = None) -> dict[str, Any]:
    part: dict[str, Any] = {"text": value}
    if signature is not None:
        part["thoughtSignature"] = signature
    return part


def thought(value: str, signature: str | None = None) -> dict[str, Any]:
    return {**text(value, signature), "thought": True}


def call(
    name: str | None,
    args: Any = None,
    id_: str | None = None,
    signature: str | None = None,
    **fc: Any,
) -> dict[str, Any]:
    """A functionCall part (whole unless ``partialArgs``/``willContinue`` are given in ``fc``)."""
    function: dict[str, Any] = {}
    if name is not None:
        function["name"] = name
    if args is not None:
        function["args"] = args
    if id_ is not None:
        function["id"] = id_
    function.update(fc)
    part: dict[str, Any] = {"functionCall": function}
    if signature is not None:
        part["thoughtSignature"] = signature
    return part


def piece(path: str, value: Any = None, more: bool = False, **raw: Any) -> dict[str, Any]:
    """A partialArgs piece: the value's kind picks the field (None: nullValue)."""
    out: dict[str, Any] = {"jsonPath": path}
    if raw:
        out.update(raw)
    elif isinstance(value, str):
        out["stringValue"] = value
    elif isinstance(value, bool):
        out["boolValue"] = value
    elif isinstance(value, (int, float)):
        out["numberValue"] = value
    else:
        out["nullValue"] = None
    if more:
        out["willContinue"] = True
    return out


def pieces(*items: dict[str, Any], more: bool = True) -> dict[str, Any]:
    """A continuation part of a streamed call (``more``: the call goes on)."""
    fc: dict[str, Any] = {"partialArgs": list(items)}
    if more:
        fc["willContinue"] = True
    return {"functionCall": fc}


def read(raw: bytes, sizes: list[int] | None = None, **kwargs: Any) -> dict[str, Any]:
    """Feed ``raw`` in pieces of ``sizes`` (cycled; whole when None) and snapshot the result."""
    acc = ReferenceGeminiAccumulator(**kwargs)
    reader = PieceReader(acc)
    reader.feed(raw, sizes)
    done_before_finish = acc.done
    reader.call(acc.finish)
    return {
        "events": reader.events,
        "errors": reader.errors,
        "message": acc.message(),
        "native": acc.message(native=True),
        "finish_reason": acc.finish_reason,
        "usage": acc.usage,
        "token_usage": acc.token_usage,
        "error": acc.error,
        "done": done_before_finish,
        "truncated": acc.truncated,
        "outcome": acc.outcome,
        "tool_calls": acc.tool_calls,
        "choices": acc.choices,
        "messages": {c: acc.message(c) for c in acc.choices},
        "natives": {c: acc.message(c, native=True) for c in acc.choices},
    }


def read_all_ways(raw: bytes, every_split: bool = True, **kwargs: Any) -> dict[str, Any]:
    """Read whole, in 1-byte reads and (``every_split``) at every 2-way split: all equal."""
    whole = read(raw, **kwargs)
    one = read(raw, [1], **kwargs)
    assert _without_errors(one) == _without_errors(whole)
    if every_split:
        for cut in range(1, len(raw)):
            split = read(raw, [cut, len(raw)], **kwargs)
            assert _without_errors(split) == _without_errors(whole), f"split at {cut}"
    by_line = read(raw, line_sizes(raw), **kwargs)
    assert _without_errors(by_line) == _without_errors(whole)
    return {**by_line, "errors": whole["errors"]}


def _without_errors(result: dict[str, Any]) -> dict[str, Any]:
    # Errors are raised from the read that holds them, so their count depends on the splits;
    # so does the number of text events (one per run of text per read).
    return {k: v for k, v in joined_text(result).items() if k != "errors"}


def calls_of(result: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [e for e in result["events"] if e[0].startswith("ToolCall")]


# -- text, reasoning, usage, finish -------------------------------------------------------------
def test_text_and_usage() -> None:
    raw = sse(
        chunk(text("The"), usage={"promptTokenCount": 8, "totalTokenCount": 8}),
        chunk(text(" capital is"), usage={"promptTokenCount": 8, "totalTokenCount": 8}),
        chunk(text(" Paris."), finish="STOP", usage=usage(8, 6)),
    )
    r = read_all_ways(raw)
    assert r["events"] == [
        ("Usage", {"promptTokenCount": 8, "totalTokenCount": 8}),
        ("TextDelta", 0, "The"),
        ("TextDelta", 0, " capital is"),  # the same usage again: no event (G11)
        ("Usage", usage(8, 6)),
        ("TextDelta", 0, " Paris."),
        ("Finish", 0, "STOP"),
    ]
    assert r["message"] == {"role": "assistant", "content": "The capital is Paris."}
    assert r["native"] == {"role": "model", "parts": [{"text": "The capital is Paris."}]}
    assert (r["done"], r["truncated"], r["outcome"]) == (True, False, "stop")
    assert r["token_usage"] == {"input_tokens": 8, "output_tokens": 6, "total_tokens": 14}


def test_usage_equality_is_strict_json_equality() -> None:
    a = {"promptTokenCount": 1, "totalTokenCount": 1}
    raw = sse(
        chunk(text("a"), usage=a),
        chunk(text("b"), usage={"totalTokenCount": 1, "promptTokenCount": 1}),  # same value
        chunk(text("c"), usage={"promptTokenCount": 1.0, "totalTokenCount": 1}),  # float
        chunk(text("d"), usage={"promptTokenCount": True, "totalTokenCount": 1}),  # bool
        chunk(text("e"), usage="not an object", finish="STOP"),
    )
    r = read_all_ways(raw)
    assert [e[1] for e in r["events"] if e[0] == "Usage"] == [
        a,
        {"promptTokenCount": 1.0, "totalTokenCount": 1},
        {"promptTokenCount": True, "totalTokenCount": 1},
    ]
    assert r["usage"] == {"promptTokenCount": True, "totalTokenCount": 1}
    assert r["token_usage"] is None  # neither count is an integer


def test_thoughts_and_signatures_in_the_native_message() -> None:
    raw = sse(
        chunk(thought("Let me")),
        chunk(thought(" think.")),
        chunk(text("Answer:", signature="SIG1")),
        chunk(text(" 42")),
        chunk(text(" indeed")),
        chunk(text("", signature="SIG2"), finish="STOP"),
    )
    r = read_all_ways(raw)
    assert [e for e in r["events"] if e[0] in ("TextDelta", "ReasoningDelta")] == [
        ("ReasoningDelta", 0, "Let me"),
        ("ReasoningDelta", 0, " think."),
        ("TextDelta", 0, "Answer:"),
        ("TextDelta", 0, " 42"),
        ("TextDelta", 0, " indeed"),
    ]
    assert r["message"] == {
        "role": "assistant",
        "content": "Answer: 42 indeed",
        "reasoning_content": "Let me think.",
    }
    # Unsigned runs merge; a signed part keeps exactly its own text (G13).
    assert r["native"]["parts"] == [
        {"text": "Let me think.", "thought": True},
        {"text": "Answer:", "thoughtSignature": "SIG1"},
        {"text": " 42 indeed"},
        {"text": "", "thoughtSignature": "SIG2"},
    ]


def test_native_merging_rules() -> None:
    raw = sse(
        chunk(text(""), text("a"), text(""), text("b", signature="S"), text("c")),
        chunk(thought("t"), {"text": "d", "thought": False}, text("e")),
        chunk({"inlineData": {"mimeType": "image/png", "data": "AA=="}}, text("f")),
        chunk({"text": "g", "partMetadata": {"k": 1}}, text("h"), finish="STOP"),
    )
    r = read_all_ways(raw, every_split=False)
    assert r["native"]["parts"] == [
        {"text": "a"},
        {"text": "b", "thoughtSignature": "S"},
        {"text": "c"},
        {"text": "t", "thought": True},
        {"text": "de", "thought": False},  # same flag as a missing "thought"; first keys kept
        {"inlineData": {"mimeType": "image/png", "data": "AA=="}},
        {"text": "f"},
        {"text": "g", "partMetadata": {"k": 1}},  # not plain: kept apart
        {"text": "h"},
    ]
    assert r["message"]["content"] == "abcdefgh"
    assert r["message"]["reasoning_content"] == "t"


def test_max_tokens_and_later_usage_chunk() -> None:
    raw = sse(
        chunk(text("Once upon a"), usage=usage(5, 3)),
        chunk(text(" time"), finish="MAX_TOKENS"),
        {"usageMetadata": usage(5, 4)},  # after the finish: still read
        chunk(text(" ignored")),  # parts after the candidate's finish: ignored (G4)
    )
    r = read_all_ways(raw)
    assert r["finish_reason"] == "MAX_TOKENS" and r["outcome"] == "length"
    assert r["usage"] == usage(5, 4)
    assert r["message"]["content"] == "Once upon a time"
    assert r["done"] and not r["truncated"]


def test_other_finish_reasons() -> None:
    for reason, outcome in [
        ("SAFETY", "content_filter"),
        ("RECITATION", "content_filter"),
        ("PROHIBITED_CONTENT", "content_filter"),
        ("MALFORMED_FUNCTION_CALL", "other"),
        ("OTHER", "other"),
    ]:
        r = read(sse(chunk(text("x")), chunk(finish=reason)))
        assert (r["finish_reason"], r["outcome"]) == (reason, outcome)


def test_prompt_blocked() -> None:
    blocked = {
        "promptFeedback": {"blockReason": "OTHER", "safetyRatings": []},
        "usageMetadata": {"promptTokenCount": 7, "totalTokenCount": 7},
    }
    r = read_all_ways(sse(blocked))
    assert r["events"] == [
        ("Usage", {"promptTokenCount": 7, "totalTokenCount": 7}),
        ("Finish", 0, "OTHER"),
    ]
    assert (r["finish_reason"], r["outcome"], r["truncated"]) == ("OTHER", "content_filter", False)
    assert r["choices"] == [0] and r["message"] == {"role": "assistant", "content": None}
    # With candidates, promptFeedback is not a block.
    r = read(sse(chunk(text("hi"), promptFeedback={"blockReason": "SAFETY"})))
    assert (r["finish_reason"], r["outcome"]) == (None, "cut")


def test_cut_stream_is_truncated() -> None:
    r = read_all_ways(sse(chunk(text("Par"))))
    assert (r["done"], r["truncated"], r["outcome"]) == (False, True, "cut")
    r = read(sse())
    assert (r["truncated"], r["outcome"], r["choices"]) == (True, "cut", [])
    # A last event cut inside its JSON is dropped without an error.
    raw = sse(chunk(text("ok"))) + b'data: {"candidates": [{"content": {"parts": [{"te'
    r = read_all_ways(raw)
    assert r["errors"] == [] and r["message"]["content"] == "ok" and r["truncated"]


def test_multiple_candidates() -> None:
    raw = sse(
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
    )
    r = read_all_ways(raw)
    assert r["choices"] == [0, 1]
    assert r["messages"][0] == {"role": "assistant", "content": "Aa!"}
    assert r["messages"][1]["content"] == "B"
    assert r["messages"][1]["tool_calls"][0]["function"] == {"name": "f", "arguments": '{"x":1}'}
    assert [e[:3] for e in calls_of(r)] == [
        ("ToolCallStarted", 1, 0),
        ("ToolCallDelta", 1, 0),
        ("ToolCallReady", 1, 0),
        ("ToolCallFinished", 1, 0),
    ]
    assert r["outcome"] == "stop" and r["done"]


def test_errors() -> None:
    error = {"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}}
    r = read_all_ways(sse(chunk(text("Part")), error))
    assert r["events"][-1] == ("ProviderError", "The model is overloaded.", 503, "UNAVAILABLE")
    assert r["error"] == {
        "message": "The model is overloaded.",
        "code": 503,
        "type": "UNAVAILABLE",
        "body": error,
    }
    assert (r["outcome"], r["truncated"], r["message"]["content"]) == ("error", True, "Part")
    r = read(b"event: error\ndata: upstream timed out\n\n")
    assert r["events"] == [("ProviderError", "upstream timed out", None, None)]
    r = read(sse({"error": "quota"}))
    assert r["events"] == [("ProviderError", "quota", None, None)]


def test_event_names() -> None:
    error = {
        "error": {"code": 429, "message": "Resource exhausted", "status": "RESOURCE_EXHAUSTED"}
    }
    raw = (
        b"event: ping\ndata: {}\n\n"
        + b": a comment\n\n"
        + sse(chunk(text("a")))
        + b"event: error\ndata: "
        + json.dumps(error).encode()
        + b"\n\n"
        + b"event: future\ndata: not json\n\n"
        + sse(chunk(text("b"), finish="STOP"))
    )
    r = read_all_ways(raw)
    assert r["errors"] == [] and r["message"]["content"] == "ab"
    assert r["events"][1] == ("ProviderError", "Resource exhausted", 429, "RESOURCE_EXHAUSTED")
    assert r["outcome"] == "error"


def test_invalid_chunks_are_parse_errors_and_reading_goes_on() -> None:
    bad = [
        "not json",
        "[1, 2]",
        "[DONE]",
        '{"candidates": {}}',
        '{"candidates": ["x"]}',
        '{"candidates": [{"index": -1}]}',
        '{"candidates": [{"index": 4294967296}]}',
        '{"candidates": [{"content": []}]}',
        '{"candidates": [{"content": {"parts": {}}}]}',
        '{"candidates": [{"content": {"parts": [1]}}]}',
        '{"candidates": [{"content": {"parts": [{"functionCall": "f"}]}}]}',
        '{"candidates": [{"content": {"parts": [{"functionCall": {"partialArgs": {}}}]}}]}',
        '{"candidates": [{"content": {"parts": [{"functionCall": {"partialArgs": [1]}}]}}]}',
        '{"candidates": [{"content": {"parts": [{"text": "a", "text": "b"}]}}]}',
        '{"candidates": [], "candidates": []}',
        '{"promptFeedback": []}',
    ]
    for data in bad:
        raw = sse(chunk(text("a")), data, chunk(text("b"), finish="STOP"))
        r = read(raw)
        assert r["errors"] == [("RefParseError", "invalid chunk")], data
        assert r["message"]["content"] == "ab" and r["outcome"] == "stop", data
    # Lenient: unknown fields, null, a non-integer index (choice 0), a non-string text.
    lenient = [
        '{"candidates": null, "usageMetadata": null, "promptFeedback": null}',
        '{"candidates": [{"index": "1", "content": null, "finishReason": null}]}',
        '{"candidates": [{"content": {"parts": null, "role": "model"}, "extra": [1]}]}',
        '{"candidates": [{"content": {"parts": [{"text": 5, "thought": "yes"}]}}]}',
    ]
    for data in lenient:
        r = read(sse(data, chunk(text("b"), finish="STOP")))
        assert r["errors"] == [] and r["message"]["content"] == "b", data


# -- whole calls ----------------------------------------------------------------------------------
def test_whole_calls() -> None:
    raw = sse(
        chunk(text("Checking.")),
        chunk(
            call("get_weather", {"city": "Paris", "days": [1, 2]}, signature="SIG"),
            call("get_time", {"tz": "Europe/Paris"}, id_="fc_1"),
            call("now"),  # no args: finishes as {} without Delta/Ready
            call("empty", {}),
        ),
        chunk(text(""), finish="STOP", usage=usage()),
    )
    r = read_all_ways(raw)
    a = ("call_0", "get_weather")
    b = ("fc_1", "get_time")
    args_a = '{"city":"Paris","days":[1,2]}'
    assert calls_of(r) == [
        ("ToolCallStarted", 0, 0, *a),
        ("ToolCallDelta", 0, 0, *a, args_a),
        ("ToolCallReady", 0, 0, *a, args_a),
        ("ToolCallFinished", 0, 0, *a, args_a, None),
        ("ToolCallStarted", 0, 1, *b),
        ("ToolCallDelta", 0, 1, *b, '{"tz":"Europe/Paris"}'),
        ("ToolCallReady", 0, 1, *b, '{"tz":"Europe/Paris"}'),
        ("ToolCallFinished", 0, 1, *b, '{"tz":"Europe/Paris"}', None),
        ("ToolCallStarted", 0, 2, "call_2", "now"),
        ("ToolCallFinished", 0, 2, "call_2", "now", "{}", None),
        ("ToolCallStarted", 0, 3, "call_3", "empty"),
        ("ToolCallDelta", 0, 3, "call_3", "empty", "{}"),
        ("ToolCallReady", 0, 3, "call_3", "empty", "{}"),
        ("ToolCallFinished", 0, 3, "call_3", "empty", "{}", None),
    ]
    assert r["message"]["tool_calls"][1] == {
        "id": "fc_1",
        "type": "function",
        "function": {"name": "get_time", "arguments": '{"tz":"Europe/Paris"}'},
    }
    assert r["native"]["parts"] == [
        {"text": "Checking."},
        call("get_weather", {"city": "Paris", "days": [1, 2]}, signature="SIG"),
        call("get_time", {"tz": "Europe/Paris"}, id_="fc_1"),
        call("now"),
        call("empty", {}),
    ]  # the ids made up for events are not added; the trailing empty text is dropped
    assert r["outcome"] == "tool_calls"
    assert [c["parsed"] for c in r["tool_calls"]] == [
        {"city": "Paris", "days": [1, 2]},
        {"tz": "Europe/Paris"},
        {},
        {},
    ]


def test_whole_call_arguments_of_other_types() -> None:
    raw = sse(
        chunk(call("s", '{"a": 1}'), call("bad", "{oops"), call("n", 5)), chunk(finish="STOP")
    )
    r = read_all_ways(raw)
    assert [(c["arguments"], c["error_kind"]) for c in r["tool_calls"]] == [
        ('{"a": 1}', None),  # a string is the JSON text itself
        ("{oops", "malformed"),
        ("5", None),
    ]


def test_nameless_call_parts_are_ignored() -> None:
    raw = sse(chunk(call(None, {"a": 1}), call(None), text("x")), chunk(finish="STOP"))
    r = read_all_ways(raw)
    assert calls_of(r) == [] and r["native"]["parts"] == [{"text": "x"}]


# -- streamed calls (Vertex partialArgs) ---------------------------------------------------------
def test_streamed_call_string_pieces_and_end_marker() -> None:
    raw = sse(
        chunk(call("getWeather", signature="SIG", willContinue=True)),
        chunk(pieces(piece("$.location", "Bos", more=True))),
        chunk(pieces(piece("$.location", 'ton "MA"', more=True))),
        chunk(pieces(piece("$.location", ""))),
        chunk(call(None)),  # {}: the end of the call
        chunk(text(""), finish="STOP"),
    )
    r = read_all_ways(raw)
    c = ("call_0", "getWeather")
    final = '{"location":"Boston \\"MA\\""}'
    assert calls_of(r) == [
        ("ToolCallStarted", 0, 0, *c),
        ("ToolCallDelta", 0, 0, *c, '{"location":"Bos'),
        ("ToolCallDelta", 0, 0, *c, 'ton \\"MA\\"'),
        ("ToolCallDelta", 0, 0, *c, '"'),
        ("ToolCallDelta", 0, 0, *c, "}"),
        ("ToolCallReady", 0, 0, *c, final),
        ("ToolCallFinished", 0, 0, *c, final, None),
    ]
    assert r["native"]["parts"] == [
        {
            "functionCall": {"name": "getWeather", "args": {"location": 'Boston "MA"'}},
            "thoughtSignature": "SIG",
        }
    ]


def test_streamed_call_nested_values() -> None:
    raw = sse(
        chunk(call("cook", willContinue=True)),
        chunk(pieces(piece("$.recipe.items[0].name", "egg"))),
        chunk(pieces(piece("$.recipe.items[0].qty", 2))),
        chunk({"functionCall": {"willContinue": True}}),  # nothing written
        chunk(pieces(piece("$.recipe.items[1].name", "milk", more=True))),
        chunk(pieces(piece("$.recipe.items[1].name", ""))),
        chunk(pieces(piece("$.recipe.items[1].qty", 0.5))),
        chunk(pieces(piece("$.recipe.vegan", False), piece("$.recipe.note"))),
        chunk(pieces(piece("$.recipe.steps[0]", "mix"), piece("$.recipe.steps[1]", "bake"))),
        chunk(pieces(piece("$['odd key']", "x\n\u0001é"), more=False)),  # ends the call
        chunk(finish="STOP"),
    )
    r = read_all_ways(raw, every_split=False)
    final = (
        '{"recipe":{"items":[{"name":"egg","qty":2},{"name":"milk","qty":0.5}],'
        '"vegan":false,"note":null,"steps":["mix","bake"]},"odd key":"x\\n\\u0001é"}'
    )
    (only,) = r["tool_calls"]
    assert only["arguments"] == final and only["error_kind"] is None
    assert only["parsed"] == json.loads(final)
    deltas = [e[-1] for e in calls_of(r) if e[0] == "ToolCallDelta"]
    assert deltas == [
        '{"recipe":{"items":[{"name":"egg"',
        ',"qty":2',
        '},{"name":"milk',
        '"',
        ',"qty":0.5',
        # The pieces of one chunk are one read here: one fragment (semantics.md section 6).
        '}],"vegan":false,"note":null',
        ',"steps":["mix","bake"',
        ']},"odd key":"x\\n\\u0001é"}',
    ]
    assert r["native"]["parts"][0]["functionCall"]["args"] == json.loads(final)


def test_streamed_calls_back_to_back_and_implicit_end() -> None:
    # The recorded no-args stream: a whole call without args, then streamed calls each ended by
    # {}; a named part while a call is open ends it first.
    raw = sse(
        chunk(call("read_theme", signature="S0")),
        chunk(call("read_screen", willContinue=True)),
        chunk(pieces(piece("$.id", "A", more=True))),
        chunk(pieces(piece("$.id", ""))),
        chunk(call(None)),
        chunk(call("read_screen", willContinue=True)),
        chunk(pieces(piece("$.id", "B", more=True))),  # string left open...
        chunk(call("read_screen", {"id": "C"})),  # ...closed by the next named part
        chunk(text(""), finish="STOP"),
    )
    r = read_all_ways(raw)
    assert [(c["id"], c["name"], c["arguments"], c["error_kind"]) for c in r["tool_calls"]] == [
        ("call_0", "read_theme", "{}", None),
        ("call_1", "read_screen", '{"id":"A"}', None),
        ("call_2", "read_screen", '{"id":"B"}', None),
        ("call_3", "read_screen", '{"id":"C"}', None),
    ]
    assert [p["functionCall"] for p in r["native"]["parts"]] == [
        {"name": "read_theme"},
        {"name": "read_screen", "args": {"id": "A"}},
        {"name": "read_screen", "args": {"id": "B"}},
        {"name": "read_screen", "args": {"id": "C"}},
    ]
    assert r["native"]["parts"][0]["thoughtSignature"] == "S0"


def test_streamed_call_keeps_continuation_keys_and_opening_id() -> None:
    raw = sse(
        chunk(call("f", id_="fc_9", willContinue=True, partialArgs=[piece("$.a", 1)])),
        chunk({"functionCall": {"id": "other", "name": None, "willContinue": True}, "k": 1}),
        chunk({"functionCall": {}, "thoughtSignature": "LATE"}, finish="STOP"),
    )
    r = read_all_ways(raw)
    assert r["tool_calls"][0]["id"] == "fc_9"
    assert r["native"]["parts"] == [
        {
            "functionCall": {"id": "fc_9", "name": "f", "args": {"a": 1}},
            "k": 1,
            "thoughtSignature": "LATE",
        }
    ]


def test_streamed_call_cut_by_finish_or_end_of_stream() -> None:
    body = [
        chunk(call("write", willContinue=True)),
        chunk(pieces(piece("$.path", "a.txt"))),
        chunk(pieces(piece("$.text", "hel", more=True))),
    ]
    c = ("call_0", "write")
    text_ = '{"path":"a.txt","text":"hel'
    r = read_all_ways(sse(*body, chunk(finish="MAX_TOKENS")))
    assert calls_of(r)[-1] == ("ToolCallFinished", 0, 0, *c, text_, "incomplete")
    assert r["outcome"] == "length"
    assert r["native"]["parts"][0]["functionCall"]["args"] == {"path": "a.txt", "text": "hel"}
    r = read_all_ways(sse(*body))
    assert calls_of(r)[-1] == ("ToolCallFinished", 0, 0, *c, text_, "incomplete")
    assert (r["truncated"], r["outcome"]) == (True, "cut")


def test_streamed_call_pieces_out_of_order_stop_the_arguments() -> None:
    cases = [
        [piece("$.a", 1), piece("$.a", 2)],  # a key written twice
        [piece("$.a.b", 1), piece("$.c", 2), piece("$.a.d", 3)],  # back into a closed object
        [piece("$.list[1]", 1)],  # an index other than the next one
        [piece("$.list[0]", 1), piece("$.list.x", 2)],  # a name in an array
        [piece("$[0]", 1)],  # the root is an object
        [piece("$", 1)],
        [piece("no dollar", 1)],
        [piece("$.s", "ab", more=True), piece("$.s", 5)],  # a number for the open string
        [{"stringValue": "x"}],  # a value without a path
    ]
    for items in cases:
        raw = sse(
            chunk(call("f", willContinue=True)),
            chunk(pieces(*items)),
            chunk(pieces(piece("$.z", "later"))),
            chunk(call(None), finish="STOP"),
        )
        r = read(raw)
        assert r["errors"] == [("RefParseError", "invalid chunk")], items
        (only,) = r["tool_calls"]
        assert only["error_kind"] == "incomplete" and only["finished"], items
        assert "later" not in only["arguments"], items
        assert r["outcome"] == "tool_calls", items
    # Pieces without a value are ignored, not errors.
    raw = sse(
        chunk(call("f", willContinue=True, partialArgs=[{"jsonPath": "$.a"}, piece("$.b", 1)])),
        chunk(call(None), finish="STOP"),
    )
    r = read(raw)
    assert r["errors"] == [] and r["tool_calls"][0]["arguments"] == '{"b":1}'


def test_json_paths() -> None:
    assert parse_json_path("$.a.b[0].c") == ["a", "b", 0, "c"]
    assert parse_json_path('$[\'a.b\'][12]["c\\"d"]') == ["a.b", 12, 'c"d']
    assert parse_json_path("$.é x") == ["é x"]
    for bad in ["$", "a.b", "$.", "$..a", "$[x]", "$[]", "$['a'", "$['a\\n']", "$[-1]", None, 5]:
        assert parse_json_path(bad) is None, bad
    assert args_writer_text([piece("$.a", "x")]) == '{"a":"x"}'
    assert args_writer_text([]) == ""


# -- limits ------------------------------------------------------------------------------------
def test_limits() -> None:
    raw = sse(
        chunk(call("f", {"a": "x" * 40})),
        chunk(call("g", willContinue=True, partialArgs=[piece("$.b", "y" * 40)])),
        chunk(text("z" * 30), thought("w" * 30)),
        chunk(call(None), finish="STOP"),
    )
    r = read(raw, max_arguments_bytes=20, max_content_bytes=20)
    assert ("RefLimitExceeded", "max_arguments_bytes") in r["errors"]
    assert [c["error_kind"] for c in r["tool_calls"]] == ["incomplete", "incomplete"]
    assert r["message"]["content"] is None and "reasoning_content" not in r["message"]
    r = read(raw, [9], max_content_bytes=20)
    assert ("RefLimitExceeded", "max_content_bytes") in r["errors"]
    parallel = sse(
        chunk(call("a", {}), call("b", {}), call("c", willContinue=True)), chunk(finish="STOP")
    )
    r = read(parallel, max_tool_calls=1)
    assert r["errors"] == [("RefLimitExceeded", "max_tool_calls")]
    assert [c["name"] for c in r["tool_calls"]] == ["a"]
    assert [p["functionCall"]["name"] for p in r["native"]["parts"]] == ["a", "b", "c"]
    two = sse({"candidates": [{"index": 0}, {"index": 1}]})
    assert read(two, max_choices=1)["errors"] == [("RefLimitExceeded", "max_choices")]
    deep = sse(chunk(text("a"), usage={"d": [[[["x"]]]]}))
    assert read(deep, max_depth=3)["errors"] == [("RefLimitExceeded", "max_depth")]


# -- the recorded corpus ------------------------------------------------------------------------
def _gemini_streams() -> list[str]:
    if not (STREAMS / "manifest.json").is_file():
        return []
    manifest = json.loads((STREAMS / "manifest.json").read_text())
    return sorted(s["file"] for s in manifest["streams"] if s["format"] == "google-gemini")


GEMINI_STREAMS = _gemini_streams()
needs_corpus = pytest.mark.skipif(
    not GEMINI_STREAMS, reason=f"no recorded Gemini streams under {STREAMS}"
)


@needs_corpus
def test_corpus_reads_whole_and_split() -> None:
    rng = random.Random(13)
    for name in GEMINI_STREAMS:
        raw = (STREAMS / name).read_bytes()
        whole = read(raw)
        assert whole["errors"] == [], name
        for _ in range(3):
            sizes = [rng.randint(1, 97) for _ in range(16)]
            assert joined_text(read(raw, sizes)) == joined_text(whole), name
        if len(raw) < 3000:
            assert joined_text(read(raw, [1])) == joined_text(whole), name
        assert whole["done"] and not whole["truncated"], name
        for c in whole["tool_calls"]:
            assert c["finished"] and c["error_kind"] is None, name


_PATH_SEGMENT = re.compile(r"\.([^.\[]+)|\[(\d+)\]")


def _sdk_set(args: dict[str, Any], path: str, value: Any, append: bool) -> None:
    """Set (or, for a continued string, extend) ``value`` at ``path`` in ``args``."""
    keys: list[str | int] = [m.group(1) or int(m.group(2)) for m in _PATH_SEGMENT.finditer(path)]
    node: Any = args
    for key, nxt in itertools.pairwise(keys):
        if isinstance(node, list):
            while len(node) <= key:  # type: ignore[operator]
                node.append(None)
            if node[key] is None:
                node[key] = [] if isinstance(nxt, int) else {}
            node = node[key]
        else:
            node = node.setdefault(key, [] if isinstance(nxt, int) else {})
    last = keys[-1]
    if isinstance(node, list):
        while len(node) <= last:  # type: ignore[operator]
            node.append(None)
    if append and isinstance(node[last] if isinstance(node, list) else node.get(last), str):
        node[last] += value
    else:
        node[last] = value


def sdk_view(raw: bytes) -> dict[str, Any]:
    """What a google-genai user gets: each chunk parsed by the SDK, candidate 0's parts
    concatenated (text / thought text / function calls; streamed calls assembled by path)."""
    from google.genai import types

    from tests.reference.sse import SSEDecoder

    decoder = SSEDecoder()
    content, reasoning, signatures = [], [], []
    calls: list[dict[str, Any]] = []
    streaming: dict[str, Any] | None = None
    continued: str | None = None
    finish = None
    for event in decoder.feed(raw) + decoder.finish():
        resp = types.GenerateContentResponse._from_response(
            response=json.loads(event.data), kwargs={}
        )
        if not resp.candidates:
            continue
        candidate = resp.candidates[0]
        parts = candidate.content.parts if candidate.content and candidate.content.parts else []
        for part in parts:
            if part.thought_signature:
                signatures.append(part.thought_signature)
            fc = part.function_call
            if fc is not None:
                if fc.partial_args is not None or fc.will_continue:
                    if fc.name:
                        streaming = {"id": fc.id, "name": fc.name, "args": {}}
                        calls.append(streaming)
                    for pa in fc.partial_args or []:
                        if pa.string_value is not None:
                            value: Any = pa.string_value
                        elif pa.number_value is not None:
                            value = pa.number_value
                        elif pa.bool_value is not None:
                            value = pa.bool_value
                        else:
                            value = None
                        _sdk_set(streaming["args"], pa.json_path, value, continued == pa.json_path)
                        continued = pa.json_path if pa.will_continue else None
                    if not fc.will_continue:
                        streaming = None
                elif fc.name:
                    calls.append({"id": fc.id, "name": fc.name, "args": fc.args or {}})
                else:
                    streaming = None
            elif part.text is not None:
                (reasoning if part.thought else content).append(part.text)
        if candidate.finish_reason is not None:
            finish = candidate.finish_reason.value
    return {
        "content": "".join(content),
        "reasoning": "".join(reasoning),
        "calls": calls,
        "finish": finish,
        "signatures": signatures,
    }


@needs_corpus
def test_corpus_against_the_official_sdk() -> None:
    types = pytest.importorskip("google.genai.types", reason="google-genai is not installed")
    rng = random.Random(7)
    compared = 0
    for name in GEMINI_STREAMS:
        raw = (STREAMS / name).read_bytes()
        sdk = sdk_view(raw)
        for sizes in (None, [rng.randint(1, 64) for _ in range(8)]):
            ours = read(raw, sizes)
            assert (ours["message"]["content"] or "") == sdk["content"], name
            assert ours["message"].get("reasoning_content", "") == sdk["reasoning"], name
            got = [(c["name"], c["parsed"]) for c in ours["tool_calls"]]
            assert got == [(c["name"], c["args"]) for c in sdk["calls"]], name
            ids = [c["id"] for c in ours["tool_calls"]]
            assert ids == [c["id"] or f"call_{i}" for i, c in enumerate(sdk["calls"])], name
            assert ours["finish_reason"] == sdk["finish"], name
            # Every signature stays, in order, in the native message (read back by the SDK).
            native = types.Content._from_response(response=ours["native"], kwargs={})
            native_signatures = [p.thought_signature for p in native.parts or []]
            assert [s for s in native_signatures if s] == sdk["signatures"], name
        compared += 1
    assert compared == len(GEMINI_STREAMS)


@needs_corpus
def test_corpus_native_messages_are_sdk_contents() -> None:
    types = pytest.importorskip("google.genai.types", reason="google-genai is not installed")
    for name in GEMINI_STREAMS:
        native = read((STREAMS / name).read_bytes())["native"]
        content = types.Content._from_response(response=native, kwargs={})
        assert content.role == "model", name
        assert len(content.parts or []) == len(native["parts"]), name
        for part in content.parts or []:
            assert part != types.Part(), name  # the SDK's chat drops turns with empty parts
