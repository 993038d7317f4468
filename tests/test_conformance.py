"""Conformance against public test suites kept in the shared corpus beside the repository.

The corpus (``../shared/corpus`` seen from the repository root) is not part of the repository and
is never copied into it: on a clone without it every test here is skipped, with the reason.

1. JSONTestSuite (nst/JSONTestSuite, ``test_parsing/``) through ``parse_partial``,
   ``PartialJSON`` and tool-call arguments: ``y_`` files give what ``json.loads`` gives, ``n_``
   files are never accepted as a complete value, ``i_`` files have a pinned outcome.
2. eventsource-parser's multi-byte cases (rexxars/eventsource-parser ``test/multibyte.ts``):
   SSE framing (LF, CRLF, CR) and UTF-8 reassembly through a chat stream, at every split.
3. Real chat-completions streams cut out of public repositories' test recordings, fed whole and
   in small reads, against the pure-Python reference and what those projects assert about them.

Top-level numbers (DESIGN section 5): ``parse_partial`` takes the end of its input as the end of
the document, so ``parse_partial("42") == 42``. ``PartialJSON`` cannot know that a number has
ended until a byte that is not part of it arrives: after ``feed("42")`` it shows 42 but is not
``complete``. So after the one-byte feeds of a ``y_`` file we require ``complete`` except for a
document that ends inside a bare top-level number, then feed one more ``b" "`` (whitespace after
a value changes nothing) and require ``complete`` for every ``y_`` file.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import pytest

import toolwire
from tests.helpers import as_json, normalize_events, reads, run_reference, run_rust
from toolwire import LimitExceeded, ParseError, PartialJSON, StreamAccumulator, parse_partial

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
JSON_SUITE = CORPUS / "json-test-suite" / "test_parsing"
EVENTSOURCE = CORPUS / "eventsource" / "eventsource_parser_multibyte.json"
RECORDED = CORPUS / "recorded-streams"
ASSERTED = CORPUS / "recorded-streams-asserted"

ABSENT = (
    f"the shared conformance corpus is not here ({CORPUS}): it sits beside the repository on the "
    "project's machines only and is never copied into it"
)
pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason=ABSENT)


def _placeholder() -> list[Any]:
    """One skipped parameter, so that a missing corpus reads as a skip with its reason."""
    return [pytest.param(None, id="corpus-absent", marks=pytest.mark.skip(reason=ABSENT))]


def _suite_params(prefix: str, xfail: dict[str, str] | None = None) -> list[Any]:
    if not JSON_SUITE.is_dir():
        return _placeholder()
    xfail = xfail or {}
    return [
        pytest.param(
            path,
            id=path.name,
            marks=[pytest.mark.xfail(strict=True, reason=xfail[path.name])]
            if path.name in xfail
            else [],
        )
        for path in sorted(JSON_SUITE.glob(f"{prefix}*.json"))
    ]


def same(a: Any, b: Any) -> bool:
    """Equality as json.loads values compare, and more: -0.0 differs from 0.0, int from float,
    and key order counts. Iterative: the suite nests 500 arrays deep (Python's own recursion
    limit would stop a recursive compare first). No NaN occurs in the suite."""
    stack: list[tuple[Any, Any]] = [(a, b)]
    while stack:
        x, y = stack.pop()
        if type(x) is not type(y):
            return False
        if isinstance(x, float):
            if not (x == y and math.copysign(1.0, x) == math.copysign(1.0, y)):
                return False
        elif isinstance(x, list):
            if len(x) != len(y):
                return False
            stack.extend(zip(x, y, strict=True))
        elif isinstance(x, dict):
            if list(x) != list(y):
                return False
            stack.extend((x[k], y[k]) for k in x)
        elif x != y:
            return False
    return True


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def outcome(call: Callable[[], Any]) -> tuple[Any, ...]:
    """("value", v) or the error as (type name, kind or limit, position). Any other exception
    propagates and fails the test (no UnicodeDecodeError, RecursionError, plain ValueError...)."""
    try:
        return ("value", call())
    except ParseError as exc:
        return ("ParseError", exc.kind, exc.position)
    except LimitExceeded as exc:
        return ("LimitExceeded", exc.limit, exc.position)


def feed_bytewise(data: bytes) -> PartialJSON:
    """``data`` fed to a new PartialJSON one byte at a time."""
    p = PartialJSON()
    for i in range(len(data)):
        p.feed(data[i : i + 1])
    return p


def bytewise_outcome(data: bytes) -> tuple[Any, ...]:
    def run() -> Any:
        return feed_bytewise(data).value()

    return outcome(run)


# --- 1. JSONTestSuite -------------------------------------------------------------------------

# What toolwire does with each implementation-defined file. "value": it accepts the file, with
# json.loads's value (json.loads(bytes) accepts it too); otherwise the ParseError kind.
#  - huge exponents and integers: floats to +-inf / 0.0, integers exact (Python ints), as
#    json.loads; lone or inverted surrogate escapes: kept as lone surrogates, as json.loads;
#    500 nested arrays: within max_depth (512);
#  - bytes that are not UTF-8 (Latin-1, overlong forms, CESU-8 surrogates, UTF-16 with a BOM):
#    "invalid utf-8" (json.loads(bytes) rejects most of them too, but detects UTF-16 and lets
#    the CESU-8 surrogate ED A0 80 through);
#  - UTF-16 without a BOM, and a UTF-8 BOM before the value: "malformed" at the first byte that
#    cannot start a value (only the SSE decoder drops a BOM, semantics section 1).
I_OUTCOMES: dict[str, str] = {
    "i_number_double_huge_neg_exp.json": "value",
    "i_number_huge_exp.json": "value",
    "i_number_neg_int_huge_exp.json": "value",
    "i_number_pos_double_huge_exp.json": "value",
    "i_number_real_neg_overflow.json": "value",
    "i_number_real_pos_overflow.json": "value",
    "i_number_real_underflow.json": "value",
    "i_number_too_big_neg_int.json": "value",
    "i_number_too_big_pos_int.json": "value",
    "i_number_very_big_negative_int.json": "value",
    "i_object_key_lone_2nd_surrogate.json": "value",
    "i_string_1st_surrogate_but_2nd_missing.json": "value",
    "i_string_1st_valid_surrogate_2nd_invalid.json": "value",
    "i_string_UTF-16LE_with_BOM.json": "malformed",  # \xff\xfe outside a string
    "i_string_UTF-8_invalid_sequence.json": "invalid utf-8",
    "i_string_UTF8_surrogate_U+D800.json": "invalid utf-8",
    "i_string_incomplete_surrogate_and_escape_valid.json": "value",
    "i_string_incomplete_surrogate_pair.json": "value",
    "i_string_incomplete_surrogates_escape_valid.json": "value",
    "i_string_invalid_lonely_surrogate.json": "value",
    "i_string_invalid_surrogate.json": "value",
    "i_string_invalid_utf-8.json": "invalid utf-8",
    "i_string_inverted_surrogates_U+1D11E.json": "value",
    "i_string_iso_latin_1.json": "invalid utf-8",
    "i_string_lone_second_surrogate.json": "value",
    "i_string_lone_utf8_continuation_byte.json": "invalid utf-8",
    "i_string_not_in_unicode_range.json": "invalid utf-8",
    "i_string_overlong_sequence_2_bytes.json": "invalid utf-8",
    "i_string_overlong_sequence_6_bytes.json": "invalid utf-8",
    "i_string_overlong_sequence_6_bytes_null.json": "invalid utf-8",
    "i_string_truncated-utf-8.json": "invalid utf-8",
    "i_string_utf16BE_no_BOM.json": "malformed",
    "i_string_utf16LE_no_BOM.json": "malformed",
    "i_structure_500_nested_arrays.json": "value",
    "i_structure_UTF-8_BOM_empty_object.json": "malformed",
}

# A non-ASCII byte outside a string is "malformed" whether it arrives whole or split across feeds
# (semantics section 8); n_number_invalid-utf-8-in-{bigger-int,exponent,int},
# n_number_real_with_invalid_utf8_after_e and n_structure_incomplete_UTF8_BOM once said
# "invalid utf-8" one-shot and "malformed" split (test_outcome_does_not_depend_on_the_split).


# n_ files that are valid prefixes nested deeper than max_depth (512): LimitExceeded, not
# ParseError, at the byte that opens level 513 ("[" * 100000; '[{"":' * 50000).
DEEP_PREFIXES = {
    "n_structure_100000_opening_arrays.json": 512,
    "n_structure_open_array_object.json": 1280,
}


@pytest.mark.parametrize("path", _suite_params("y_"))
def test_y_accepted_with_the_value_of_json_loads(path: Path) -> None:
    data = path.read_bytes()
    want = json.loads(data)
    assert same(parse_partial(data), want)
    assert same(parse_partial(data.decode()), want)

    p = feed_bytewise(data)
    ends_in_bare_number = is_number(want) and not data[-1:].isspace()
    assert p.complete is not ends_in_bare_number
    assert same(p.value(), want)
    p.feed(b" ")
    assert p.complete
    assert same(p.value(), want)

    q = PartialJSON()
    for ch in data.decode():  # str fed one character at a time
        q.feed(ch)
    q.feed(" ")
    assert q.complete
    assert same(q.value(), want)


@pytest.mark.parametrize("path", _suite_params("n_"))
def test_n_never_accepted(path: Path) -> None:
    """Rejected, or only a prefix: ParseError, LimitExceeded (a prefix nested deeper than
    max_depth), or a value that is not complete, not even after trailing whitespace."""
    data = path.read_bytes()
    got = outcome(lambda: parse_partial(data))
    if path.name in DEEP_PREFIXES:
        assert got == ("LimitExceeded", "max_depth", DEEP_PREFIXES[path.name])
    else:
        assert got[0] != "LimitExceeded"
    if got[0] == "value":
        p = feed_bytewise(data)
        assert not p.complete
        assert same(p.value(), got[1])
        try:
            p.feed(b" ")
        except ParseError:
            pass  # ends inside an escape, where no whitespace may follow
        else:
            assert not p.complete
    else:
        assert bytewise_outcome(data)[0] == got[0]
    try:
        text = data.decode()
    except UnicodeDecodeError:
        return
    assert outcome(lambda: parse_partial(text))[0] == got[0]


@pytest.mark.parametrize("path", _suite_params("i_"))
def test_i_pinned_outcome(path: Path) -> None:
    data = path.read_bytes()
    got = outcome(lambda: parse_partial(data))
    try:
        loaded: tuple[Any, ...] = ("value", json.loads(data))
    except ValueError:  # JSONDecodeError and UnicodeDecodeError
        loaded = ("rejected",)
    if got[0] == "value":
        assert loaded[0] == "value", "toolwire accepts what json.loads rejects"
        assert same(got[1], loaded[1])
    else:
        assert got[0] == "ParseError"
    assert I_OUTCOMES[path.name] == ("value" if got[0] == "value" else got[1])


def test_i_outcomes_cover_the_suite() -> None:
    if not JSON_SUITE.is_dir():
        pytest.skip(ABSENT)
    assert sorted(p.name for p in JSON_SUITE.glob("i_*.json")) == sorted(I_OUTCOMES)


@pytest.mark.parametrize("path", _suite_params(""))
def test_outcome_does_not_depend_on_the_split(path: Path) -> None:
    """parse_partial of the whole file and PartialJSON fed one byte at a time agree: the same
    value, or the same error (type, kind, position)."""
    data = path.read_bytes()
    whole = outcome(lambda: parse_partial(data))
    bytewise = bytewise_outcome(data)
    if whole[0] == "value":
        assert bytewise[0] == "value"
        assert same(whole[1], bytewise[1])
    else:
        assert whole == bytewise


def _arguments_stream(text: str, fragments: bool) -> list[bytes]:
    """A chat stream calling ``f`` with ``text`` as its arguments (one fragment, or one per
    character), then finish_reason "tool_calls" and [DONE]."""
    pieces = list(text) if fragments else [text]
    out = []
    for i, piece in enumerate(pieces):
        call: dict[str, Any] = {"index": 0, "function": {"arguments": piece}}
        if i == 0:
            call.update(id="call_1", type="function")
            call["function"]["name"] = "f"
        chunk = {"choices": [{"index": 0, "delta": {"tool_calls": [call]}}]}
        out.append(b"data: " + json.dumps(chunk).encode() + b"\n\n")
    finish = {"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}
    out.append(b"data: " + json.dumps(finish).encode() + b"\n\ndata: [DONE]\n\n")
    return out


def _run_arguments(text: str, fragments: bool) -> tuple[StreamAccumulator, list[Any]]:
    acc = StreamAccumulator(format="chat")
    events: list[Any] = []
    for raw in _arguments_stream(text, fragments):
        try:
            events += acc.feed(raw)
        except LimitExceeded as exc:  # max_depth: raised once, and the call finishes with it
            assert exc.limit == "max_depth"
            events += exc.events
    events += acc.finish()
    assert not acc.truncated
    return acc, events


@pytest.mark.parametrize("fragments", [False, True], ids=["whole", "per-character"])
@pytest.mark.parametrize("path", _suite_params("y_"))
def test_y_as_tool_call_arguments(path: Path, fragments: bool) -> None:
    """Every y_ file (objects as in practice, and the other top-level values the contract allows
    too) as a call's arguments finishes with json.loads's value."""
    text = path.read_text("utf-8")
    want = json.loads(text)
    acc, events = _run_arguments(text, fragments)
    (finished,) = [e for e in events if isinstance(e, toolwire.ToolCallFinished)]
    assert finished.error is None
    assert finished.arguments == text
    assert same(finished.parsed, want)
    assert acc.message()["tool_calls"][0]["function"]["arguments"] == text
    # Ready once the text closed as a value; a bare top-level number never does before the end.
    ready = [e for e in events if isinstance(e, toolwire.ToolCallReady)]
    closes = PartialJSON()
    closes.feed(text)
    assert len(ready) == int(closes.complete)
    for ev in ready:
        assert text.startswith(ev.arguments)
        assert same(json.loads(ev.arguments), want)


@pytest.mark.parametrize("fragments", [False, True], ids=["whole", "per-character"])
@pytest.mark.parametrize("path", _suite_params("n_"))
def test_n_as_tool_call_arguments(path: Path, fragments: bool) -> None:
    """An n_ file as a call's arguments finishes with an error: "malformed" where parse_partial
    raises ParseError (same position), "incomplete" for a prefix (position: its length),
    LimitExceeded past max_depth. Files that are not UTF-8 cannot be a JSON string: skipped. The
    empty file is the documented exception: empty arguments finish as "{}" (semantics 4)."""
    data = path.read_bytes()
    try:
        text = data.decode()
    except UnicodeDecodeError:
        pytest.skip("not UTF-8: cannot be the text of a JSON string")
    if fragments and len(data) > 1000:
        pytest.skip("one chunk per character: the short files only")
    if not text:
        if fragments:
            pytest.skip("empty: no fragment to send")
        acc, events = _run_arguments(text, fragments)
        assert acc.message()["tool_calls"][0]["function"]["arguments"] == "{}"
        return
    whole = outcome(lambda: parse_partial(data))
    acc, events = _run_arguments(text, fragments)
    (finished,) = [e for e in events if isinstance(e, toolwire.ToolCallFinished)]
    ready = [e for e in events if isinstance(e, toolwire.ToolCallReady)]
    if fragments:  # a prefix may close as a value before the rest arrives (`[""]` then `,`)
        for ev in ready:
            assert text.startswith(ev.arguments)
            json.loads(ev.arguments)
    else:
        assert ready == []
    assert finished.parsed is None
    assert finished.arguments == text
    error = finished.error
    if whole[0] == "LimitExceeded":
        assert isinstance(error, LimitExceeded)
        assert (error.limit, error.position) == ("max_depth", whole[2])
    elif whole[0] == "ParseError":
        assert isinstance(error, ParseError)
        assert (error.kind, error.position) == ("malformed", whole[2])
    else:
        assert isinstance(error, ParseError)
        assert (error.kind, error.position) == ("incomplete", len(data))


# --- 2. eventsource-parser multi-byte cases ---------------------------------------------------

EOLS = {"lf": b"\n", "crlf": b"\r\n", "cr": b"\r"}
HEAD = '{"choices":[{"index":0,"delta":{"content":'
TAIL = "}}]}"


@pytest.fixture(scope="module")
def multibyte_lines() -> list[str]:
    """The event data of eventsource-parser's multi-byte test: 14 texts in as many scripts, with
    1352 emoji ZWJ sequences spread over them (some hold a "\\n")."""
    if not EVENTSOURCE.is_file():
        pytest.skip(ABSENT)
    case = json.loads(EVENTSOURCE.read_text("utf-8"))
    lines: list[str] = case["expectedMultiByteEvents_data"]
    assert len(lines) == 14 and all(len(s.encode()) > len(s) for s in lines)
    return lines


def chat_event(text: str, eol: bytes, split_data: bool = False) -> bytes:
    """One SSE event carrying a chat chunk whose content is ``text`` (raw UTF-8, not escaped).
    ``split_data``: the chunk's JSON over two ``data:`` lines (joined by "\\n", JSON whitespace)."""
    value = json.dumps(text, ensure_ascii=False)
    lines = [HEAD, value + TAIL] if split_data else [HEAD + value + TAIL]
    return b"".join(b"data: " + line.encode() + eol for line in lines) + eol


def chat_stream(texts: Iterable[str], eol: bytes, split_data: bool = False) -> bytes:
    body = b"".join(chat_event(t, eol, split_data) for t in texts)
    return body + b"data: [DONE]" + eol + eol


def content_of(chunks: Sequence[bytes]) -> tuple[Any, bool]:
    acc = StreamAccumulator(format="chat", events=False)
    for chunk in chunks:
        acc.feed(chunk)
    acc.finish()
    return acc.message()["content"], acc.truncated


@pytest.mark.parametrize("eol", list(EOLS.values()), ids=list(EOLS))
def test_multibyte_split_at_every_offset(multibyte_lines: list[str], eol: bytes) -> None:
    stream = chat_stream(multibyte_lines, eol)
    want = ("".join(multibyte_lines), False)
    for cut in range(len(stream) + 1):
        assert content_of(reads(stream, [cut])) == want, cut


@pytest.mark.parametrize("split_data", [False, True], ids=["one-data-line", "two-data-lines"])
@pytest.mark.parametrize("eol", list(EOLS.values()), ids=list(EOLS))
def test_multibyte_one_byte_reads(multibyte_lines: list[str], eol: bytes, split_data: bool) -> None:
    stream = chat_stream(multibyte_lines, eol, split_data)
    one_byte = [stream[i : i + 1] for i in range(len(stream))]
    assert content_of(one_byte) == ("".join(multibyte_lines), False)


@pytest.mark.parametrize("eol", list(EOLS.values()), ids=list(EOLS))
def test_multibyte_two_data_lines_split_at_every_offset(
    multibyte_lines: list[str], eol: bytes
) -> None:
    """The chunk's JSON over two data lines (the event's data joins them with "\\n"); the first
    two texts only (every offset of the whole stream is test_multibyte_split_at_every_offset)."""
    texts = multibyte_lines[:2]
    stream = chat_stream(texts, eol, split_data=True)
    for cut in range(len(stream) + 1):
        assert content_of(reads(stream, [cut])) == ("".join(texts), False), cut


@pytest.mark.parametrize("eol", list(EOLS.values()), ids=list(EOLS))
def test_multibyte_cut_inside_the_last_event(multibyte_lines: list[str], eol: bytes) -> None:
    """Semantics section 1, deviation 1, and section 5: a stream cut inside its last event's
    line (inside its last multi-byte character, or anywhere before its JSON closes) loses that
    event only: truncated, no exception. Cut right after its JSON, the unterminated last line is
    still read."""
    before = "".join(multibyte_lines[:-1])
    body = b"".join(chat_event(t, eol) for t in multibyte_lines)
    last = chat_event(multibyte_lines[-1], eol)
    start = len(body) - len(last)
    json_end = start + len(last) - 2 * len(eol)  # the last event's line, without its EOLs
    assert body[json_end - 1 : json_end] == b"}"

    # Inside the last multi-byte character of the last text (its closing quote follows it).
    quote = body.rindex(b'"', start, json_end)
    lead = quote - 1
    while body[lead] & 0xC0 == 0x80:
        lead -= 1
    assert body[lead] >= 0xC0, "the last text ends with a multi-byte character"
    inside_last_char = range(lead + 1, quote)
    assert len(inside_last_char) >= 1

    for cut in range(start, json_end):
        got = content_of([body[:cut]])
        assert got == (before, True), (cut, cut in inside_last_char)
    assert content_of([body[:json_end]]) == ("".join(multibyte_lines), True)


# --- 3. Recorded chat-completions streams -----------------------------------------------------

# Streams with an error event from the provider inside them (acc.error set), and the ones of
# those that end without a finish_reason nor [DONE] (truncated): the recordings are what the
# providers sent, not damaged.
PROVIDER_ERRORS = {
    "pydantic-ai__models-cassettes-test_groq-test_tool_use_failed_error_streaming__i0": (
        "Tool call validation failed"
    ),
    "pydantic-ai__models-cassettes-test_groq-test_tool_use_failed_error_streaming_with_text__i0": (
        "Tool choice is required"
    ),
    "pydantic-ai__models-cassettes-test_openrouter-test_openrouter_stream_error": (
        "Token limit reached"
    ),
}
TRUNCATED = {
    "pydantic-ai__models-cassettes-test_groq-test_tool_use_failed_error_streaming__i0",
    "pydantic-ai__models-cassettes-test_groq-test_tool_use_failed_error_streaming_with_text__i0",
}
ONE_BYTE_LIMIT = 50_000  # larger streams are read in 1009-byte reads instead
CHAT_FORMAT = "openai-chat"  # the manifest's "format" of OpenAI Chat Completions streams


def _manifest() -> list[dict[str, Any]]:
    if not (RECORDED / "manifest.json").is_file():
        return []
    streams: list[dict[str, Any]] = json.loads((RECORDED / "manifest.json").read_text("utf-8"))[
        "streams"
    ]
    return streams


MANIFEST = _manifest()
CHAT_STREAMS = [s for s in MANIFEST if s["format"] == CHAT_FORMAT]


def _stream_params() -> list[Any]:
    if not CHAT_STREAMS:
        return _placeholder()
    return [pytest.param(s, id=Path(s["file"]).stem) for s in CHAT_STREAMS]


@pytest.mark.parametrize("entry", _stream_params())
def test_recorded_chat_stream(entry: dict[str, Any]) -> None:
    """Fed whole and in small reads: no exception, the same events (split-independent form),
    messages, finish reasons, usage; and the same as the pure-Python reference."""
    data = (RECORDED / entry["file"]).read_bytes()
    assert hashlib.sha256(data).hexdigest() == entry["sha256"], "the recording changed"
    stem = Path(entry["file"]).stem

    reference = as_json(run_reference([data]))
    choices = max(reference["choices"], default=0) + 1
    whole = as_json(run_rust([data], choices, format="chat"))
    assert whole == reference
    assert whole["errors"] == []
    assert whole["truncated"] is (stem in TRUNCATED)
    errors = [e for e in whole["events"] if e[0] == "ProviderError"]
    if stem in PROVIDER_ERRORS:
        assert len(errors) == 1 and errors[0][1].startswith(PROVIDER_ERRORS[stem])
    else:
        assert errors == []

    step = 1 if len(data) < ONE_BYTE_LIMIT else 1009
    split = as_json(run_rust(reads(data, range(step, len(data), step)), choices, format="chat"))
    assert split["errors"] == []
    whole["events"] = normalize_events(whole["events"])
    split["events"] = normalize_events(split["events"])
    assert split == whole


# Streams whose delta.content is sometimes a list of typed parts instead of a string: Mistral's
# thinking models ([{"type": "thinking", "thinking": [{"type": "text", "text": ...}]}] and
# [{"type": "text", "text": ...}]). Semantics section 3 counts a non-string content as absent, so
# toolwire drops those parts: the reasoning of all three, and text of two. In
# issue-13703-mistral-thinking the answer "391" arrives as a text part "3" then a string "91":
# toolwire's content is "91".
# Three Mistral streams send delta.content as a list of typed parts (vercel-ai mistral-reasoning
# and issue-13703-mistral-thinking, pydantic-ai mistral thinking_part_iter): read since semantics
# section 3 says so; before, "391" read as "91" and the reasoning was lost.


def _parts_text(parts: list[Any], kind: str) -> str:
    """The text of a content list's parts of type ``kind`` ("thinking" parts hold a list of text
    parts themselves)."""
    out = []
    for part in parts:
        if not isinstance(part, dict) or part.get("type") != kind:
            continue
        if kind == "text":
            out.append(part.get("text", ""))
        else:
            out.append(_parts_text(part.get("thinking") or [], "text"))
    return "".join(out)


def plain_reading(data: bytes) -> dict[int, tuple[str, str]]:
    """Each choice's (text, reasoning) as the plain concatenation of its chunks' deltas, up to
    [DONE]: ``content`` (a list's "text" parts too), and ``reasoning_content`` (or ``reasoning``)
    plus a list content's "thinking" parts. An independent reading of the stream."""
    from tests.reference import SSEDecoder

    decoder = SSEDecoder()
    texts: dict[int, tuple[str, str]] = {}
    for event in [*decoder.feed(data), *decoder.finish()]:
        if event.event != "message" or not event.data.strip():
            continue
        if event.data.strip() == "[DONE]":
            break
        chunk = json.loads(event.data)
        for choice in chunk.get("choices") or []:
            index = choice.get("index")
            index = index if isinstance(index, int) else 0
            delta = choice.get("delta") or {}
            content = delta.get("content")
            reasoning = delta.get("reasoning_content")
            if not isinstance(reasoning, str):
                reasoning = delta.get("reasoning")
            reasoning = reasoning if isinstance(reasoning, str) else ""
            if isinstance(content, list):
                reasoning += _parts_text(content, "thinking")
                content = _parts_text(content, "text")
            content = content if isinstance(content, str) else ""
            text, thought = texts.get(index, ("", ""))
            texts[index] = (text + content, thought + reasoning)
    return texts


def _content_params() -> list[Any]:
    if not CHAT_STREAMS:
        return _placeholder()
    return [
        pytest.param(
            s,
            id=Path(s["file"]).stem,
            marks=[],
        )
        for s in CHAT_STREAMS
    ]


@pytest.mark.parametrize("entry", _content_params())
def test_recorded_chat_stream_text_is_the_plain_concatenation(entry: dict[str, Any]) -> None:
    data = (RECORDED / entry["file"]).read_bytes()
    acc = StreamAccumulator(format="chat", events=False)
    acc.feed(data)
    acc.finish()
    got = {}
    for i in acc.choices:
        msg = acc.message(choice=i)
        got[i] = (msg["content"] or "", msg.get("reasoning_content", ""))
    want = plain_reading(data)
    assert {i: t for i, t in got.items() if any(t)} == {i: t for i, t in want.items() if any(t)}


def test_recorded_corpus_shape() -> None:
    """The parametrizations above do not silently lose streams: the manifest still names chat
    streams by CHAT_FORMAT, and every asserted stream is one of them."""
    if not CHAT_STREAMS or not ASSERTED.is_dir():
        pytest.skip(ABSENT)
    chat = {Path(s["file"]).stem for s in CHAT_STREAMS}
    assert len(chat) == len(CHAT_STREAMS) >= 250
    assert {p.stem for p in ASSERTED.glob("*.json")} <= chat


# What the original projects assert about some of those streams: openai-python's snapshot tests
# (tests/lib/chat/test_completions_streaming.py: final choices, content/refusal/arguments "done"
# events, usage, LengthFinishReasonError) and the Vercel AI SDK's stream-part snapshots (text,
# reasoning, tool calls, finish reason).
ASSERTED_XFAIL: dict[str, str] = {}
# The Vercel AI SDK's unified finish reasons, from the provider's raw one.
VERCEL_FINISH = {
    "stop": "stop",
    "length": "length",
    "content_filter": "content-filter",
    "tool_calls": "tool-calls",
    "function_call": "tool-calls",
}


def _asserted_params() -> list[Any]:
    chat = {Path(s["file"]).stem for s in CHAT_STREAMS}
    paths = sorted(ASSERTED.glob("*.json")) if ASSERTED.is_dir() else []
    if not paths or not chat:
        return _placeholder()
    return [
        pytest.param(
            path,
            id=path.stem,
            marks=[pytest.mark.xfail(strict=True, reason=ASSERTED_XFAIL[path.stem])]
            if path.stem in ASSERTED_XFAIL
            else [],
        )
        for path in paths
        if path.stem in chat
    ]


def text_matches(want: str | None, got: str | None, marker: str | None) -> bool:
    """``want`` as the snapshot holds it: None for no text; ``marker`` (openai-python's
    ``wrap_marker``) where inline-snapshot wrapped a long string and dropped the indentation
    that followed, so it stands for spaces or tabs, possibly none."""
    if want is None:
        return got is None
    if got is None:
        return False
    if marker and marker in want:
        pattern = "[ \t]*".join(re.escape(part) for part in want.split(marker))
        return re.fullmatch(pattern, got) is not None
    return want == got


def calls_of(message: dict[str, Any]) -> list[dict[str, str]]:
    return [
        {"id": c["id"], "name": c["function"]["name"], "arguments": c["function"]["arguments"]}
        for c in message.get("tool_calls", [])
    ]


def check_assertion(acc: StreamAccumulator, a: dict[str, Any], marker: str | None) -> None:
    finish = dict(acc.finish_reasons)
    keys = set(a) - {"of"}
    if "choices" in keys:  # get_final_completion().choices, with or without usage
        for want in a["choices"]:
            msg = acc.message(choice=want["index"])
            assert text_matches(want["content"], msg.get("content"), marker)
            assert text_matches(want["refusal"], msg.get("refusal"), marker)
            assert calls_of(msg) == want["tool_calls"]
            assert finish.get(want["index"]) == want["finish_reason"]
        if "usage" in keys:
            assert acc.usage is not None
            assert {k: acc.usage.get(k) for k in a["usage"]} == a["usage"]
    elif keys == {"choice", "content"}:  # the "content.done" event
        assert text_matches(a["content"], acc.message(choice=a["choice"]).get("content"), marker)
    elif keys == {"choice", "refusal"}:  # the "refusal.done" event
        assert text_matches(a["refusal"], acc.message(choice=a["choice"]).get("refusal"), marker)
    elif keys == {"choice", "tool_calls"}:  # completion.choices[i].message.tool_calls
        assert calls_of(acc.message(choice=a["choice"])) == a["tool_calls"]
    elif keys == {"choice", "call_index", "name", "arguments"}:  # "...arguments.done" event
        call = calls_of(acc.message(choice=a["choice"]))[a["call_index"]]
        assert (call["name"], call["arguments"]) == (a["name"], a["arguments"])
    elif keys == {"raises", "finish_reason"}:  # LengthFinishReasonError
        assert acc.finish_reason == a["finish_reason"]
    elif "finish_raw" in keys:  # Vercel stream parts
        msg = acc.message()
        assert text_matches(a["content"], msg.get("content"), None)
        assert text_matches(a["reasoning"], msg.get("reasoning_content"), None)
        assert calls_of(msg) == a["tool_calls"]
        # Older snapshots hold only the unified reason, some none at all (not asserted).
        if a["finish_raw"] is not None:
            assert acc.finish_reason == a["finish_raw"]
        elif a["finish_unified"] is not None:
            assert VERCEL_FINISH.get(acc.finish_reason or "") == a["finish_unified"]
    else:
        raise AssertionError(f"unknown assertion shape: {sorted(keys)}")


@pytest.mark.parametrize("path", _asserted_params())
def test_recorded_stream_matches_what_its_project_asserts(path: Path) -> None:
    asserted = json.loads(path.read_text("utf-8"))
    acc = StreamAccumulator(format="chat", events=False)
    acc.feed((RECORDED / f"{path.stem}.sse").read_bytes())
    acc.finish()
    assert asserted["assertions"]
    for assertion in asserted["assertions"]:
        check_assertion(acc, assertion, asserted.get("wrap_marker"))
