"""Ollama in the Rust core (``StreamAccumulator(format="ollama")``, NDJSON framing) against the
pure-Python reference (tests/reference/ollama.py and ndjson.py, rules O1-O9): the same events,
messages (OpenAI-shaped and native), finish reason, usage and token usage, outcome, provider
error, done, truncation and errors raised per read; whole, at every split, in 1-byte reads and
random reads, with limits, and with ``format="auto"``.

No recorded Ollama stream exists in the corpus: the streams are those of
test_reference_ollama.py and more written with its builders. ``acc.choices`` is not compared: the
reference has choice 0 from the start, the core from the first line it reads (``message()`` is
the same either way).
"""

from __future__ import annotations

import collections
import json
import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import toolwire
from tests.helpers import reads, split_invariant
from tests.reference.convert import event_to_tuple
from tests.reference.ollama import USAGE_FIELDS, ReferenceOllamaAccumulator
from tests.test_gemini import REF_ERRORS, RUST_ERRORS, _calls, _collect
from tests.test_reference_ollama import (
    ALL,
    CREATED,
    CUT,
    ERROR,
    TEXT,
    done_line,
    line,
    ndjson,
    tool_call,
)


def rust(chunks: list[bytes], fmt: str = "ollama", **kwargs: Any) -> dict[str, Any]:
    acc = toolwire.StreamAccumulator(format=fmt, **kwargs)
    out = _collect(acc, chunks, event_to_tuple, RUST_ERRORS)
    del out["choices"]
    err = acc.error
    out["error"] = (
        None
        if err is None
        else {"message": err.message, "code": err.code, "type": err.type, "body": err.body}
    )
    out["tool_calls"] = _calls(
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
            for t in acc.tool_calls
        ]
    )
    return json.loads(json.dumps(out, ensure_ascii=False))


def reference(chunks: list[bytes], **kwargs: Any) -> dict[str, Any]:
    acc = ReferenceOllamaAccumulator(**kwargs)
    out = _collect(acc, chunks, lambda e: e, REF_ERRORS)
    del out["choices"]
    out["error"] = acc.error
    out["tool_calls"] = _calls(acc.tool_calls)
    return json.loads(json.dumps(out, ensure_ascii=False))


def same(chunks: list[bytes], fmt: str = "ollama", **kwargs: Any) -> dict[str, Any]:
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


HEAD = ndjson(line("a"))

CASES: dict[str, bytes] = {
    **{f"reference_{name}": raw for name, raw in ALL.items()},
    # O5: arguments of every type; calls without a name or function; ids and indices.
    "tool_call_arguments_of_other_types": ndjson(
        line(
            tool_calls=[
                tool_call("s", '{"a": 1}'),
                tool_call("bad", "{oops"),
                tool_call("n", 5),
                tool_call("l", [1, "two", None]),
                tool_call("b", False),
                tool_call("e", ""),
                tool_call("nul", None),
                {"function": {"name": "none"}},
                {"id": "", "function": None},
                {"id": "x1", "function": {"name": 7, "arguments": {"k": {"deep": [True]}}}},
                {"type": "function", "function": {"index": 4, "name": "i", "arguments": {}}},
            ]
        ),
        done_line(),
    ),
    "spaced_arguments": (
        b'{"message": {"tool_calls": [{"function": {"name": "f", "arguments": '
        b'{ "a" : [ 1 , { "b" : "x y" } ] } }}]}, "done": false}\n' + ndjson(done_line())
    ),
    # O6-O7: the done line.
    "done_without_reason": ndjson(line("ok"), done_line(None)),
    "done_with_call_and_no_reason": ndjson(line(tool_calls=[tool_call("f", {})]), done_line(None)),
    "done_load": ndjson(done_line("load", prompt_eval_count=None, eval_count=None)),
    "done_bare": ndjson({"message": {"content": "x"}, "done": True}),
    "done_line_carries_text": ndjson(line("a"), done_line("stop", content="b")),
    "usage_with_nulls": ndjson(done_line("stop", eval_count=None) | {"prompt_eval_count": None}),
    "done_not_true": ndjson(
        line("a", done="true"), line("b", done=1), line("c", done=None), done_line("length")
    ),
    "lines_after_done": (
        ndjson(line("a"), done_line(), line("b"), "garbage", {"error": "late"})
        + b"\xff\n"
        + b"[1]\n"
        + b'{"message": {"content": "cut'
    ),
    # O3: errors.
    "error_object": ndjson({"error": {"message": "boom", "type": "server_error", "code": 500}}),
    "error_then_more": ndjson(line("a"), {"error": "x"}, line("b"), done_line()),
    "error_null": ndjson({"error": None, "message": {"content": "a"}}, done_line()),
    # O1: framing.
    "crlf_bom_and_blank_lines": b"\xef\xbb\xbf\n\r\n  \t\n\r\r\n"
    + ndjson(line("a"), line("b"), done_line(), eol="\r\n"),
    "lone_cr_does_not_end_a_line": HEAD
    + b'{"message": {"content": "b"}}\r{"done": true}\n'
    + ndjson(line("c"), done_line()),
    "cr_inside_a_line_is_whitespace": HEAD
    + b'{"message":\r{"content": "b"}\r}\r\n'
    + ndjson(done_line()),
    "second_bom_is_kept": b"\xef\xbb\xbf\xef\xbb\xbf" + ndjson(line("a"), done_line()),
    "cut": CUT,
    "cut_inside_a_character": HEAD + '{"message": {"content": "é'.encode()[:-1],
    "cut_after_a_bad_byte": HEAD + b'{"message": {"content": "\xff\xc3',
    "last_line_without_newline": ndjson(line("a"), line("b")) + json.dumps(done_line()).encode(),
    "last_line_not_an_object": HEAD + b"[1]",
    "last_line_whole_but_bad": HEAD + b'{"message": {"content": "x"}} {',
    "nothing": b"",
    "blanks_only": b"\n \r\n\t\n",
    "error_line_unterminated": ERROR[:-1],
    "text_only_case": TEXT,
    "bad_utf8_first": b'{"message": {"content": "\xff"}}\n' + ndjson(line("a"), done_line()),
}

INVALID = [
    "not json",
    "[1]",
    '"text"',
    "5",
    '{"message": []}',
    '{"message": "hi"}',
    '{"message": {"tool_calls": {}}}',
    '{"message": {"tool_calls": [1]}}',
    '{"message": {"tool_calls": [null]}}',
    '{"message": {"tool_calls": [{"function": []}]}}',
    '{"message": {"tool_calls": [{"function": "f"}]}}',
    '{"message": {"content": "a", "content": "b"}}',
    '{"message": {"thinking": "a", "thinking": "b"}}',
    '{"message": {"tool_calls": [], "tool_calls": []}}',
    '{"message": {"tool_calls": [{"id": "a", "id": "b"}]}}',
    '{"message": {"tool_calls": [{"function": {}, "function": {}}]}}',
    '{"message": {"tool_calls": [{"function": {"index": 0, "index": 1}}]}}',
    '{"message": {"tool_calls": [{"function": {"name": "a", "name": "b"}}]}}',
    '{"message": {"tool_calls": [{"function": {"arguments": {}, "arguments": {}}}]}}',
    '{"message": {}, "message": {}}',
    '{"done": true, "done": false}',
    '{"done_reason": "stop", "done_reason": "stop"}',
    '{"error": null, "error": null}',
    '{"message": {"content": "x"}, "eval_count": 1, "eval_count": 2}',
    '{"total_duration": 1, "total_duration": 2}',
    '{"message": {"content": "cut"',
    '{"a": 1} {"b": 2}',
    '{"a": NaN}',
]
LENIENT = [
    '{"message": null, "done": null, "done_reason": null, "error": null}',
    '{"message": {"content": 5, "thinking": null, "tool_calls": null, "images": [1]}}',
    '{"message": {"content": "x"}, "done": "true"}',
    '{"message": {"content": "y", "role": "user", "role": "x"}, "model": 1, "model": 2}',
    '{"message": {"tool_calls": [{"function": null, "extra": 1, "extra": 2}]}}',
    '{"done_reason": 5, "eval_count": "many"}',
]


@pytest.mark.parametrize("name", sorted(CASES))
def test_rust_equals_the_reference(name: str) -> None:
    agree(CASES[name])


@pytest.mark.parametrize("data", INVALID)
def test_invalid_lines_agree(data: str) -> None:
    raw = HEAD + data.encode() + b"\n" + ndjson(line("b"), done_line())
    got = agree(raw, every_split=False)
    assert [(e["kind"], e["position"]) for _, e in got["errors"]] == [("invalid chunk", len(HEAD))]


@pytest.mark.parametrize("data", LENIENT)
def test_lenient_lines_agree(data: str) -> None:
    got = agree(ndjson(data, line("b"), done_line()), every_split=False)
    assert got["errors"] == [], data


def test_invalid_utf8_before_and_after_done() -> None:
    raw = HEAD + b'{"message": {"content": "\xff"}}\n' + ndjson(done_line()) + b"\xfe\n"
    got = agree(raw)
    assert [(e["kind"], e["position"]) for _, e in got["errors"]] == [
        ("invalid utf-8", len(HEAD) + 25)
    ]
    assert got["done"] and got["outcome"] == "stop"


def test_what_the_cases_show() -> None:
    got = same([CASES["done_without_reason"]])
    assert (got["finish_reason"], got["outcome"], got["truncated"]) == (None, "stop", False)
    assert not any(e[0] == "Finish" for e in got["events"])
    got = same([CASES["done_with_call_and_no_reason"]])
    assert got["outcome"] == "tool_calls"
    got = same([CASES["tool_call_arguments_of_other_types"]])
    assert [c[3] for c in got["tool_calls"]] == [
        '{"a": 1}',
        "{oops",
        "5",
        '[1,"two",null]',
        "false",
        "{}",
        "{}",
        "{}",
        "{}",
        '{"k":{"deep":[true]}}',
        "{}",
    ]
    assert len(got["native"][0]["tool_calls"]) == 11
    got = same([CASES["lines_after_done"]])
    assert got["errors"] == [] and got["error"] is None and got["messages"][0]["content"] == "a"
    got = same([CASES["lone_cr_does_not_end_a_line"]])
    assert [e["kind"] for _, e in got["errors"]] == ["invalid chunk"]
    assert got["messages"][0]["content"] == "ac"
    got = same([CASES["crlf_bom_and_blank_lines"]])
    assert got["errors"] == [] and got["messages"][0]["content"] == "ab" and got["done"]
    got = same([CASES["cut_inside_a_character"]])
    assert got["errors"] == [] and got["truncated"]
    got = same([CASES["cut_after_a_bad_byte"]])
    assert [e["kind"] for _, e in got["errors"]] == ["invalid utf-8"]


LIMITS = [
    {"max_line_bytes": 120},
    {"max_line_bytes": 400},
    {"max_event_bytes": 10},
    {"max_content_bytes": 20},
    {"max_arguments_bytes": 20},
    {"max_tool_calls": 1},
    {"max_depth": 2},
    {"max_depth": 1},
]


@pytest.mark.parametrize("limits", LIMITS, ids=lambda d: "-".join(f"{k}={v}" for k, v in d.items()))
def test_limits_agree(limits: dict[str, int]) -> None:
    raw = ndjson(
        line("a"),
        line("x" * 300),
        line("y" * 30, thinking="z" * 30),
        line(tool_calls=[tool_call("f", {"a": "x" * 40}), tool_call("g", {"k": [[1]]})]),
        line("b"),
        done_line(eval_count={"deep": [1]}),
        line("after" * 100),
    )
    got = agree(raw, every_split=False, **limits)
    if "max_event_bytes" in limits:
        assert got["errors"] == [], "max_event_bytes plays no part in NDJSON"
    else:
        assert got["errors"], "the case must hit its limit"


@pytest.mark.parametrize(
    "name",
    [
        "reference_text",
        "reference_tool_call",
        "reference_error",
        "lines_after_done",
        "bad_utf8_first",
    ],
)
def test_auto_reads_ollama_as_ollama(name: str) -> None:
    raw = CASES[name]
    for chunks in ([raw], reads(raw, range(1, len(raw)))):
        assert same(chunks, "auto")["format"] == "ollama"


def _random_line(rng: random.Random) -> bytes:
    kind = rng.randrange(12)
    words = ["a", "é", 'q"', "x\ny", ""]
    if kind < 3:
        item: Any = line(rng.choice(words), thinking=rng.choice([None, "t", ""]))
    elif kind < 5:
        calls = [
            tool_call(
                rng.choice(["f", ""]),
                rng.choice([{}, {"k": [1, None]}, "{bad", '{"s": 1}', 3, None]),
                id_=rng.choice([None, "id1", ""]),
                index=rng.choice([None, 0, 1]),
            )
            for _ in range(rng.randrange(1, 3))
        ]
        item = line(tool_calls=calls)
    elif kind == 5:
        item = done_line(rng.choice(["stop", "length", "load", None]), content=rng.choice(words))
    elif kind == 6:
        item = rng.choice([{"error": "boom"}, {"error": {"message": "m", "code": 1}}])
    elif kind == 7:
        return rng.choice([b"not json", b"[1]", b'{"message": []}', b"", b"  \r", b"\xff"])
    elif kind == 8:
        return json.dumps(line("c")).encode() + b"\r" + json.dumps(line("d")).encode()
    elif kind == 9:
        item = line("w" * rng.randrange(60, 200))
    else:
        item = line(rng.choice(words), done=rng.choice([False, "true", None]))
    return json.dumps(item).encode()


@pytest.mark.parametrize("seed", range(40))
def test_random_streams_agree(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(25):
        eols = [b"\n", b"\r\n"]
        raw = b"".join(_random_line(rng) + rng.choice(eols) for _ in range(rng.randrange(1, 9)))
        if rng.random() < 0.2:
            raw = b"\xef\xbb\xbf" + raw
        if rng.random() < 0.3:
            raw = raw[: rng.randrange(1, len(raw))]
        limits = rng.choice([{}, {}, {"max_line_bytes": 150}, {"max_arguments_bytes": 6}])
        limits = {**limits, **rng.choice([{}, {"max_tool_calls": 2}, {"max_content_bytes": 5}])}
        same([raw], **limits)
        points = sorted(rng.sample(range(1, len(raw)), min(6, len(raw) - 1)))
        same(reads(raw, points), **limits)


# The core reads Ollama's compact token line (`{"model":…,"message":{"role":"assistant",
# "content":…[,"tool_calls":[…]]},"done":false}`, as Ollama's encoder writes it) without its
# general parser; these
# hold that path to the reference on any text, and on lines one edit away from that shape.
# Below U+D000: no edit of one byte turns an escape into a lone surrogate (the core rejects the
# line, the reference's json.loads takes it).
_TEXT = st.text(st.characters(codec="utf-8", max_codepoint=0xCFFF), max_size=12)


_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**20), 10**20)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3),
    max_leaves=8,
)
# A call as Ollama writes it: an optional id, an optional index, a name, an arguments object.
_CALL = st.tuples(
    st.none() | _TEXT, st.none() | st.integers(0, 3), _TEXT, st.dictionaries(_TEXT, _JSON)
)


def _compact(
    model: str,
    content: str,
    thinking: str | None,
    ascii_: bool,
    calls: list[tuple[str | None, int | None, str, dict[str, Any]]] | None = None,
) -> str:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if thinking is not None:
        message["thinking"] = thinking
    if calls is not None:
        message["tool_calls"] = [
            {
                **({"id": id_} if id_ is not None else {}),
                "function": {
                    **({"index": index} if index is not None else {}),
                    "name": name,
                    "arguments": f"\0args{i}",
                },
            }
            for i, (id_, index, name, _) in enumerate(calls)
        ]
    item = {"model": model, "created_at": CREATED, "message": message, "done": False}
    line = json.dumps(item, separators=(",", ":"), ensure_ascii=ascii_)
    # The arguments' tokens as the reference re-serialises them (ensure_ascii=False, its
    # documented difference: the core keeps tokens as sent, and an escaped é would differ).
    for i, (*_, arguments) in enumerate(calls or ()):
        text = json.dumps(arguments, separators=(",", ":"), ensure_ascii=False)
        line = line.replace(json.dumps(f"\0args{i}"), text)
    return line


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(
            _TEXT, _TEXT, st.none() | _TEXT, st.booleans(), st.none() | st.lists(_CALL, max_size=2)
        ),
        min_size=1,
        max_size=4,
    ),
    st.data(),
)
def test_compact_token_lines_agree(
    lines: list[tuple[str, str, str | None, bool, Any]], data: st.DataObject
) -> None:
    reason = data.draw(st.sampled_from(["stop", "length", "", None]))
    counts = data.draw(
        st.dictionaries(st.sampled_from(USAGE_FIELDS), st.none() | st.integers(0, 10**12))
    )
    final = done_line(reason, **counts)  # None leaves the count out
    texts = [_compact(*fields).encode() for fields in lines]
    texts.append(json.dumps(final, separators=(",", ":")).encode())

    def stream(edited: bytes, which: int) -> bytes:
        return b"".join((edited if i == which else t) + b"\n" for i, t in enumerate(texts))

    raw = stream(texts[0], 0)
    same([raw])
    cuts = sorted(set(data.draw(st.lists(st.integers(1, len(raw) - 1), max_size=4))))
    same(reads(raw, cuts))
    # Every one-byte edit at one place of one line, the done line included (half the places in
    # a content string or the done line's tail, where the fast path decodes): an escape cut, a
    # control character, a key renamed, a number broken, spacing.
    which = data.draw(st.integers(0, len(texts) - 1))
    line_ = texts[which]
    content_at = line_.index(b'"content":"') + len(b'"content":"')
    tail_at = line_.index(b'"done')
    near = st.integers(content_at, content_at + 3) | st.integers(tail_at, len(line_) - 1)
    if b'"tool_calls":[' in line_:  # the calls, where the fast path checks the arguments' JSON
        near |= st.integers(line_.index(b'"tool_calls":['), tail_at)
    at = min(data.draw(st.integers(0, len(line_) - 1) | near), len(line_) - 1)
    for byte in (bytes([b]) for b in b' \\"\t{}:,a0.e-\x01\x7f'):
        for edited in (line_[:at] + byte + line_[at:], line_[:at] + byte + line_[at + 1 :]):
            if _as_dumped(edited):
                same([stream(edited, which)])
    if _as_dumped(line_[:at] + line_[at + 1 :]):
        same([stream(line_[:at] + line_[at + 1 :], which)])


def _as_dumped(line: bytes) -> bool:
    """Whether every tool call's arguments in ``line`` are written as ``json.dumps`` writes them
    (compact, ``ensure_ascii=False``). An edit can make them otherwise (``-0``, an escaped
    ``\\ua001``): the reference re-serialises arguments, where the core keeps the tokens as
    sent (its documented difference), so such a line says nothing about the core."""
    try:
        calls = json.loads(line)["message"]["tool_calls"]
    except (ValueError, KeyError, TypeError):
        return True
    # Counted: two calls with the same arguments must both be found as dumped.
    wanted: collections.Counter[bytes] = collections.Counter()
    for call in calls if isinstance(calls, list) else ():
        try:
            arguments = call["function"]["arguments"]
        except (KeyError, TypeError):
            continue
        if not isinstance(arguments, str):
            wanted[json.dumps(arguments, separators=(",", ":"), ensure_ascii=False).encode()] += 1
    return all(line.count(dumped) >= n for dumped, n in wanted.items())
