"""Unit and property tests of the pure-Python reference alone (no Rust needed).

The reference is the oracle of every other test, so it gets its own checks: SSE rules
(docs/semantics.md section 1, with httpx-sse as a second opinion), partial JSON (DESIGN section 5,
with json.loads and jiter as second opinions), the chat rules of sections 2-8, and agreement with
the truth of random streams (tests/streamgen.py).
"""

from __future__ import annotations

import importlib.util
import json
import math
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests import streamgen
from tests.helpers import as_json, normalize_events, reads, run_reference
from tests.reference import (
    ReferenceAccumulator,
    RefLimitExceeded,
    RefParseError,
    SSEDecoder,
    SSEEvent,
)
from tests.reference.partial_json import (
    PartialJSONError,
    classify,
    is_complete,
    loads_strict,
    parse_partial,
)

SETTINGS = settings()  # the profile of tests/conftest.py


def sse(*chunks: bytes) -> list[SSEEvent]:
    decoder = SSEDecoder()
    events: list[SSEEvent] = []
    for chunk in chunks:
        events += decoder.feed(chunk)
    return events + decoder.finish()


def ev(data: str, event: str = "message", id: str | None = None) -> SSEEvent:
    return SSEEvent(event, data, id)


# ---------------------------------------------------------------------------------- SSE
@pytest.mark.parametrize("eol", [b"\n", b"\r", b"\r\n"])
def test_sse_line_endings(eol: bytes) -> None:
    body = eol.join([b"data: a", b"data: b", b"", b"event: x", b"data: c", b"", b""])
    assert sse(body) == [ev("a\nb"), ev("c", "x")]


def test_sse_crlf_split_across_reads_is_one_break() -> None:
    # If the LF after the CR were a second line break, "a" would be dispatched alone.
    assert sse(b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n") == [ev("a\nb")]


def test_sse_cr_then_cr_is_blank_line() -> None:
    assert sse(b"data: a\r", b"\r", b"data: b\r\r") == [ev("a"), ev("b")]


def test_sse_bom_dropped_once_even_split() -> None:
    assert sse(b"\xef", b"\xbb", b"\xbfdata: x\n\n") == [ev("x")]
    # A second BOM belongs to the field name "\ufeffdata", an unknown field.
    assert sse(b"\xef\xbb\xbf\xef\xbb\xbfdata: x\n\ndata: y\n\n") == [ev("y")]
    # Not at the start: part of the line.
    assert sse(b"data: x\n\n\xef\xbb\xbfdata: y\n\n") == [ev("x")]
    assert sse(b"\xef\xbb\xbf") == []
    # An incomplete BOM at the end is an unterminated line cut inside a character: dropped.
    assert sse(b"\xef\xbb") == []
    with pytest.raises(RefParseError):  # a byte that no continuation can fix still raises
        sse(b"\xef\xbbx")


def test_sse_comments_and_unknown_fields() -> None:
    body = b": OPENROUTER PROCESSING\n:\nfoo: bar\ndata: x\n: mid-event comment\n\n"
    assert sse(body) == [ev("x")]


def test_sse_field_parsing() -> None:
    assert sse(b"data:x\n\n") == [ev("x")]
    assert sse(b"data:  two spaces\n\n") == [ev(" two spaces")]
    assert sse(b"data\n\n") == [ev("")]  # a line without colon: field with an empty value
    assert sse(b"data: a:b: c\n\n") == [ev("a:b: c")]
    assert sse(b"data: x\ndata\ndata: y\n\n") == [ev("x\n\ny")]


def test_sse_event_type_reset_and_no_empty_dispatch() -> None:
    assert sse(b"event: ping\n\ndata: x\n\n") == [ev("x")]
    assert sse(b"event: a\nevent: b\ndata: x\n\ndata: y\n\n") == [ev("x", "b"), ev("y")]


def test_sse_id_and_retry() -> None:
    decoder = SSEDecoder()
    body = b"id: 1\ndata: a\n\ndata: b\n\nid: x\x00y\ndata: c\n\nid\ndata: d\n\nretry: 15\n"
    assert decoder.feed(body) == [ev("a", id="1"), ev("b", id="1"), ev("c", id="1"), ev("d", id="")]
    assert decoder.retry == 15
    decoder.feed(b"retry: 1a\nretry: -3\nretry:\n")
    assert decoder.retry == 15
    assert sse(b"data: x\n\n") == [ev("x", id=None)]


def test_sse_unicode_line_separators_are_not_line_breaks() -> None:
    text = "data: a\u2028b\u2029c\u0085d\x0be\x0cf\x1cg\n\n"
    assert sse(text.encode()) == [ev("a\u2028b\u2029c\u0085d\x0be\x0cf\x1cg")]


def test_sse_utf8_split_across_reads() -> None:
    body = "data: é😀\n\n".encode()
    assert sse(*[body[i : i + 1] for i in range(len(body))]) == [ev("é😀")]


def test_sse_finish_deviation() -> None:
    assert sse(b"data: x") == [ev("x")]  # unterminated line, no blank line
    assert sse(b"data: x\n") == [ev("x")]  # no blank line
    assert sse(b"data: x\r") == [ev("x")]
    assert sse(b"event: e\n") == []


def test_sse_invalid_utf8_reports_offset_and_goes_on() -> None:
    decoder = SSEDecoder()
    with pytest.raises(RefParseError) as info:
        decoder.feed(b"data: a\n\ndata: \xff\n\ndata: b\xc3\n\ndata: c\n\n")
    assert info.value.kind == "invalid utf-8"
    assert info.value.position == 15
    assert info.value.events == [ev("a"), ev("c")]
    assert isinstance(info.value, ValueError)


def test_sse_invalid_utf8_offset_counts_bom_and_previous_reads() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"\xef\xbb\xbfdata: a\r\n") == []
    with pytest.raises(RefParseError) as info:
        decoder.feed(b"\r\ndata: \x80\n\n")
    assert info.value.position == 20
    assert info.value.events == [ev("a")]


def test_sse_line_limit() -> None:
    decoder = SSEDecoder(max_line_bytes=10)
    with pytest.raises(RefLimitExceeded) as info:
        decoder.feed(b"data: 0123456789\ndata: ok\n\n")
    assert (info.value.limit, info.value.value) == ("max_line_bytes", 10)
    assert info.value.events == [ev("ok")]
    decoder = SSEDecoder(max_line_bytes=10)
    assert decoder.feed(b"data: 0123") == []
    with pytest.raises(RefLimitExceeded) as info:
        decoder.feed(b"456789")  # raised in the read where the pending line grows too long
    assert decoder.feed(b"more of the same line\ndata: ok\n\n") == [ev("ok")]
    assert SSEDecoder(max_line_bytes=10).feed(b"data: 0123\n\n") == [ev("0123")]


def test_sse_event_limit() -> None:
    decoder = SSEDecoder(max_event_bytes=5)
    with pytest.raises(RefLimitExceeded) as info:
        decoder.feed(b"data: abc\ndata: de\ndata: f\n\ndata: ok\n\n")
    assert info.value.limit == "max_event_bytes"
    assert info.value.events == [ev("ok")]
    assert SSEDecoder(max_event_bytes=5).feed(b"data: ab\ndata: de\n\n") == [ev("ab\nde")]


def test_sse_long_line_in_small_reads_is_linear() -> None:
    decoder = SSEDecoder()
    line = b"data: " + b"x" * 2_000_000 + b"\n\n"
    events: list[SSEEvent] = []
    for i in range(0, len(line), 1024):
        events += decoder.feed(line[i : i + 1024])
    assert len(events) == 1 and len(events[0].data) == 2_000_000


# Random event streams: the decoder is split-independent and agrees with httpx-sse
# (a second opinion; known differences: httpx-sse keeps a BOM, dispatches events that have no
# data line, parses retry with int(), never dispatches at end of input, and says "" where
# WHATWG says "message"/no id). Lines without a BOM, without retry, ending with a blank line.
_LINES = st.sampled_from(
    [
        "data: x",
        "data:y",
        "data",
        "data:",
        "data:  z",
        "data: é\u2028😀",
        "event: e",
        "event",
        "event: message",
        "id: 1",
        "id",
        "id: a\x00b",
        ": c",
        ":",
        "",
        "",
        "",
        "foo: bar",
        "data: a:b",
        " data: lead",
        "data: \x0bv",
    ]
)
_EOLS = st.sampled_from(["\n", "\r", "\r\n"])


@st.composite
def _sse_text(draw: st.DrawFn) -> str:
    lines = draw(st.lists(st.tuples(_LINES, _EOLS), max_size=30))
    return "".join(line + eol for line, eol in lines) + "\n\n"


@pytest.mark.skipif(
    importlib.util.find_spec("httpx_sse") is None,
    reason="httpx-sse (the SSE oracle, in the test extra) is not installed",
)
@SETTINGS
@given(text=_sse_text(), data=st.data())
def test_sse_against_httpx_sse_and_splits(text: str, data: st.DataObject) -> None:
    from httpx_sse._decoders import SSEDecoder as HxDecoder
    from httpx_sse._decoders import SSELineDecoder

    body = text.encode()
    ours = SSEDecoder().feed(body)
    points = data.draw(streamgen.split_points(len(body)))
    decoder = SSEDecoder()
    split: list[SSEEvent] = []
    for chunk in reads(body, points):
        split += decoder.feed(chunk)
    assert split == ours

    hx_lines = SSELineDecoder().decode(text)
    hx_decoder = HxDecoder()
    theirs = [e for e in map(hx_decoder.decode, hx_lines) if e is not None]
    assert [(e.event or "message", e.data, e.id) for e in theirs if e.data] == [
        (e.event, e.data, e.id or "") for e in ours if e.data
    ]


# ---------------------------------------------------------------------------------- partial JSON
PARTIAL_TABLE: list[tuple[str, Any, str]] = [
    ("", None, "incomplete"),
    ("  \n", None, "incomplete"),
    ("-", None, "incomplete"),
    ("1.", None, "incomplete"),
    ("1e", None, "incomplete"),
    ("1e+", None, "incomplete"),
    ("tru", None, "incomplete"),
    ("12", 12, "incomplete"),  # a whole document that is one number: shown, but can grow
    ("12 ", 12, "complete"),
    ("-0", 0, "incomplete"),
    ("1.5e3", 1500.0, "incomplete"),
    ("true", True, "complete"),
    ("null", None, "complete"),
    ('"ab', "ab", "incomplete"),
    ('"ab"', "ab", "complete"),
    ('"a\\', "a", "incomplete"),
    ('"a\\u00', "a", "incomplete"),
    ('"a\\u00e9', "aé", "incomplete"),
    ('"\\ud83d', "", "incomplete"),
    ('"\\ud83d\\', "", "incomplete"),
    ('"\\ud83d\\u', "", "incomplete"),
    ('"\\ud83d\\ude0', "", "incomplete"),
    ('"\\ud83d\\ude00', "😀", "incomplete"),
    ('"\\ud83dx', "\ud83dx", "incomplete"),
    ('"\\ud83d\\n', "\ud83d\n", "incomplete"),
    ('"\\udc00"', "\udc00", "complete"),
    ('"\\ud800\\ud800\\udc00"', "\ud800\U00010000", "complete"),
    ("{", {}, "incomplete"),
    ('{"a', {}, "incomplete"),
    ('{"a"', {}, "incomplete"),
    ('{"a":', {}, "incomplete"),
    ('{"a": ', {}, "incomplete"),
    ('{"a": "', {"a": ""}, "incomplete"),
    ('{"a": 1', {}, "incomplete"),
    ('{"a": 1,', {"a": 1}, "incomplete"),
    ('{"a": 1}', {"a": 1}, "complete"),
    ('{"a": 1} \n', {"a": 1}, "complete"),
    ('{"a": tr', {}, "incomplete"),
    ('{"a": true', {"a": True}, "incomplete"),
    ('{"a": [', {"a": []}, "incomplete"),
    ('{"a": [1, 2', {"a": [1]}, "incomplete"),
    ('{"a": [1, 2 ', {"a": [1, 2]}, "incomplete"),
    ('{"a": [1, {"b": "x', {"a": [1, {"b": "x"}]}, "incomplete"),
    ('{"a": {"b": {}}, "c": [[], [[', {"a": {"b": {}}, "c": [[], [[]]]}, "incomplete"),
    ('{"a": 1, "a": "x', {"a": "x"}, "incomplete"),
    ('{"a": 1, "b": 2, "a": 3}', {"a": 3, "b": 2}, "complete"),
    ("[1.5, -0.0, 1E2, 10000000000000000000000]", [1.5, -0.0, 100.0, 10**22], "complete"),
]

MALFORMED_TABLE: list[tuple[str, int]] = [
    ("x", 0),
    ("NaN", 0),
    ("-Infinity", 1),
    ("[Infinity]", 1),
    ("01", 1),
    ("[01]", 2),
    ("-a", 1),
    ("1.e", 2),
    ("1e+x", 3),
    ("trux", 3),
    ("{,", 1),
    ("{1", 1),
    ('{"a" 1', 5),
    ('{"a": 1,}', 8),
    ("[1,]", 3),
    ("[1 2", 3),
    ("{} x", 3),
    ("{}{}", 2),
    ("1 2", 2),
    ('"a\tb"', 2),
    ('"\x00"', 1),
    ('"\\x"', 2),
    ('"\\u12G4"', 5),
    ('"\\ud800\\u12G4"', 11),
    ("\u00a0{}", 0),
    ("]", 0),
    ('{"a": 1]', 7),
    ("[1}", 2),
]


@pytest.mark.parametrize("text,value,state", PARTIAL_TABLE)
def test_partial_table(text: str, value: Any, state: str) -> None:
    got = parse_partial(text)
    assert got == value and type(got) is type(value)
    assert classify(text) == state
    assert is_complete(text) == (state == "complete")
    if isinstance(value, float):
        assert math.copysign(1, got) == math.copysign(1, value)


@pytest.mark.parametrize("text,position", MALFORMED_TABLE)
def test_partial_malformed(text: str, position: int) -> None:
    with pytest.raises(PartialJSONError) as info:
        parse_partial(text)
    assert info.value.position == position
    assert isinstance(info.value, ValueError)
    assert classify(text) == "malformed"
    with pytest.raises(ValueError):
        loads_strict(text)


def test_partial_duplicate_keys_like_json_loads() -> None:
    text = '{"b": 0, "a": 1, "b": 2}'
    assert list(parse_partial(text).items()) == list(json.loads(text).items())


_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(-(10**30), 10**30),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=10),
    st.sampled_from(["é", "😀", "\u2028", "\\", '"', "\x00\x1f", "/"]),
)
_documents = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=20,
)


@st.composite
def _rendered(draw: st.DrawFn) -> str:
    value = draw(_documents)
    indent = draw(st.sampled_from([None, 0, 2]))
    separators = (",", ":") if draw(st.booleans()) and indent is None else None
    return json.dumps(value, indent=indent, separators=separators, ensure_ascii=draw(st.booleans()))


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=False))
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    return bool(a == b)


_NUMBER_END = re.compile(r"[-+.0-9eE]$")


@SETTINGS
@given(text=_rendered())
def test_partial_prefixes(text: str) -> None:
    """Whole text == json.loads; no prefix is malformed; jiter agrees where it should."""
    import jiter

    assert _same(parse_partial(text), json.loads(text))
    number_root = not text.lstrip().startswith(("{", "[", '"', "t", "f", "n"))
    container_root = text.lstrip().startswith(("{", "[", '"'))
    assert classify(text) == ("incomplete" if number_root else "complete")
    assert classify(text + " ") == "complete"
    for i in range(len(text)):
        prefix = text[:i]
        assert classify(prefix) == "incomplete", prefix
        value = parse_partial(prefix)
        # jiter's trailing-strings mode shows numbers that may still grow (STYLE.md 6.5) and
        # rejects unfinished root scalars: compare only inside containers and strings, where
        # the prefix does not end inside a number.
        stripped = prefix.rstrip()
        if container_root and stripped and not _NUMBER_END.search(stripped):
            expected = jiter.from_json(prefix.encode(), partial_mode="trailing-strings")
            assert _same(value, expected), prefix


# ---------------------------------------------------------------------------------- chat
def chunk(delta: dict[str, Any] | None = None, finish: str | None = None, **top: Any) -> bytes:
    choice: dict[str, Any] = {"index": 0}
    if delta is not None:
        choice["delta"] = delta
    if finish is not None:
        choice["finish_reason"] = finish
    return b"data: " + json.dumps({"choices": [choice], **top}).encode() + b"\n\n"


def frag(**fields: Any) -> dict[str, Any]:
    return {"tool_calls": [fields]}


def test_chat_plain_text_and_message() -> None:
    acc = ReferenceAccumulator()
    events = acc.feed(chunk({"role": "assistant", "content": ""}) + chunk({"content": "Hi"}))
    events += acc.feed("data: [DONE]\n\n")  # str input is accepted
    events += acc.finish()
    assert events == [("TextDelta", 0, "Hi")]
    assert acc.message() == {"role": "assistant", "content": "Hi"}
    assert acc.done and acc.truncated is False  # [DONE]: not truncated (see DISAGREEMENTS R1)
    assert acc.finish() == []
    with pytest.raises(RuntimeError):
        acc.feed(b"data: x\n\n")


def test_chat_event_ids_are_those_at_end_of_read() -> None:
    """Section 6: id/name in an event are the call's values at the end of the read."""
    first = chunk(frag(index=0, function={"arguments": "{"}))
    second = chunk(frag(index=0, id="late", function={"name": "f", "arguments": "}"}))
    acc = ReferenceAccumulator()
    assert acc.feed(first + second) == [
        ("ToolCallStarted", 0, 0, "late", "f"),
        ("ToolCallDelta", 0, 0, "late", "f", "{}"),  # one read: its fragments are one event
        ("ToolCallReady", 0, 0, "late", "f", "{}"),
    ]
    acc = ReferenceAccumulator()
    assert acc.feed(first) == [
        ("ToolCallStarted", 0, 0, "", ""),
        ("ToolCallDelta", 0, 0, "", "", "{"),
    ]
    assert acc.feed(second + chunk(finish="stop"))[-2:] == [
        ("ToolCallFinished", 0, 0, "late", "f", "{}", None),
        ("Finish", 0, "stop"),
    ]


def test_chat_ready_once_at_first_completion() -> None:
    acc = ReferenceAccumulator()
    events = acc.feed(
        chunk(frag(index=0, id="a", function={"arguments": "[1"}))
        + chunk(frag(index=0, function={"arguments": "]"}))
        + chunk(frag(index=0, function={"arguments": " "}))
        + chunk(frag(index=0, function={"arguments": "x"}))
    )
    assert [e[0] for e in events].count("ToolCallReady") == 1
    assert ("ToolCallReady", 0, 0, "a", "", "[1]") in events
    events = acc.finish()
    assert events == [("ToolCallFinished", 0, 0, "a", "", "[1] x", "malformed")]
    assert acc.truncated
    assert acc.tool_calls[0]["error_kind"] == "malformed"


def test_chat_finish_defaults() -> None:
    acc = ReferenceAccumulator()
    acc.feed(chunk(frag(index=0)) + chunk(finish="tool_calls"))
    assert acc.message()["tool_calls"] == [
        {"id": "call_0", "type": "function", "function": {"name": "", "arguments": "{}"}}
    ]
    assert acc.tool_calls[0]["parsed"] == {}


def test_chat_message_before_finish_shows_fields_as_they_are() -> None:
    acc = ReferenceAccumulator()
    acc.feed(chunk(frag(index=0, function={"arguments": '{"a'})))
    assert acc.message()["tool_calls"] == [
        {"id": "", "type": "", "function": {"name": "", "arguments": '{"a'}}
    ]


def test_chat_errors_are_raised_after_the_read() -> None:
    acc = ReferenceAccumulator()
    with pytest.raises(RefParseError) as info:
        acc.feed(chunk({"content": "a"}) + b"data: {oops\n\n" + chunk({"content": "b"}))
    assert info.value.kind == "invalid chunk"
    assert info.value.position == len(chunk({"content": "a"})) + len(b"data: ")
    assert info.value.events == [("TextDelta", 0, "ab")]  # one run of text: section 6
    assert acc.message()["content"] == "ab"


def test_chat_cut_json_dropped_at_finish_only() -> None:
    acc = ReferenceAccumulator()
    assert acc.feed(chunk({"content": "a"}) + b'data: {"choices": [') == [("TextDelta", 0, "a")]
    assert acc.finish() == []
    assert acc.truncated
    acc = ReferenceAccumulator()
    with pytest.raises(RefParseError):
        acc.feed(b'data: {"choices": [\n\n')


def test_chat_provider_errors() -> None:
    acc = ReferenceAccumulator()
    events = acc.feed(
        b'data: {"error": {"message": "m", "code": 429, "type": "t"}}\n\n'
        b'data: {"object": "error", "message": "v", "code": 400}\n\n'
        b"event: error\ndata: not json\n\n"
    )
    assert events == [
        ("ProviderError", "m", 429, "t"),
        ("ProviderError", "v", 400, None),
        ("ProviderError", "not json", None, None),
    ]
    assert acc.error is not None and acc.error["message"] == "not json"


def test_chat_events_false() -> None:
    acc = ReferenceAccumulator(events=False)
    assert acc.feed(chunk({"content": "a"}, finish="stop")) == []
    assert acc.message()["content"] == "a"


def test_chat_limits() -> None:
    acc = ReferenceAccumulator(max_tool_calls=1)
    with pytest.raises(RefLimitExceeded) as info:
        acc.feed(chunk(frag(index=0, id="a")) + chunk(frag(index=1, id="b")))
    assert (info.value.limit, info.value.value) == ("max_tool_calls", 1)
    assert len(acc.message()["tool_calls"]) == 1
    acc = ReferenceAccumulator(max_arguments_bytes=4)
    with pytest.raises(RefLimitExceeded):
        acc.feed(
            chunk(frag(index=0, id="a", function={"arguments": "[1,"}))
            + chunk(frag(index=0, function={"arguments": "22]"}))
            + chunk(frag(index=0, function={"arguments": "]"}))
        )
    assert acc.message()["tool_calls"][0]["function"]["arguments"] == "[1,"  # further dropped
    acc = ReferenceAccumulator(max_choices=1)
    with pytest.raises(RefLimitExceeded):
        acc.feed(chunk({"content": "a"}) + b'data: {"choices": [{"index": 1}]}\n\n')
    assert acc.choices == [0]


# ---------------------------------------------------------------------------------- random streams
@SETTINGS
@given(stream=streamgen.streams(), data=st.data())
def test_reference_equals_truth(stream: streamgen.Stream, data: st.DataObject) -> None:
    points = data.draw(streamgen.split_points(len(stream.data)))
    n = len(stream.truth.choices)
    result = as_json(run_reference(reads(stream.data, points), n))
    for choice in stream.truth.choices:
        assert result["messages"][choice.index] == streamgen.expected_message(
            stream.truth, choice.index
        )
    assert result["finish_reason"] == stream.truth.choices[0].finish_reason
    assert result["usage"] == stream.truth.usage
    assert (result["truncated"], result["errors"]) == (False, [])
    whole = as_json(run_reference([stream.data], n))
    assert normalize_events(result.pop("events")) == normalize_events(whole.pop("events"))
    assert result == whole
