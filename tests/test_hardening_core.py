"""Issue 8, core items: typed errors only, nothing parsed lost, bounded text, thread-safe events.

Each test states the hostile input that broke an earlier build and what must hold now.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

import toolwire
from toolwire import LimitExceeded, ParseError, StreamAccumulator, ToolwireError


def d(obj: Any) -> bytes:
    return (
        "data: " + (obj if isinstance(obj, str) else json.dumps(obj, ensure_ascii=False)) + "\n\n"
    ).encode()


def text(t: str, index: int = 0) -> bytes:
    return d({"choices": [{"index": index, "delta": {"content": t}}]})


def call(args: str, id: str | None = "c1", name: str = "f") -> bytes:
    frag: dict[str, Any] = {"index": 0, "function": {"name": name, "arguments": args}}
    if id is not None:
        frag["id"] = id
    return d({"choices": [{"index": 0, "delta": {"tool_calls": [frag]}}]})


FINISH = d({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
BIG_INT = "1" * 5000


# -- item 2: usage and error.code are decoded in the core ---------------------------------------


def test_usage_with_a_huge_integer_is_a_typed_error_that_keeps_the_read() -> None:
    acc = StreamAccumulator()
    acc.feed(d({"choices": [], "usage": {"total_tokens": 7}}))
    data = (
        text("before")
        + f'data: {{"choices": [], "usage": {{"total_tokens": {BIG_INT}}}}}\n\n'.encode()
    )
    data += text(" after") + FINISH
    with pytest.raises(ParseError, match="usage: integer of 5000 digits") as info:
        acc.feed(data)
    assert isinstance(info.value, ToolwireError)
    kinds = [type(e).__name__ for e in info.value.events]
    assert kinds == ["TextDelta", "TextDelta", "Finish"]  # the bad Usage event is the one left out
    assert acc.usage == {"total_tokens": 7}  # the last good one, and reading it never raises
    assert acc.usage == {"total_tokens": 7}
    assert acc.message()["content"] == "before after"
    acc.feed(d({"choices": [], "usage": {"total_tokens": 9}}))
    assert acc.usage == {"total_tokens": 9}


def test_bad_usage_is_reported_with_events_off_too() -> None:
    acc = StreamAccumulator(events=False)
    with pytest.raises(ParseError, match="usage"):
        acc.feed(f'data: {{"choices": [], "usage": {{"t": {BIG_INT}}}}}\n\n')
    assert acc.usage is None


def test_usage_nested_100000_deep_is_a_limit_not_a_recursion_error() -> None:
    acc = StreamAccumulator()
    deep = "[" * 100_000 + "]" * 100_000
    data = text("ok") + f'data: {{"choices": [], "usage": {{"a": {deep}}}}}\n\n'.encode() + FINISH
    with pytest.raises(ToolwireError) as info:
        acc.feed(data)
    assert isinstance(info.value, (LimitExceeded, ParseError))
    assert [type(e).__name__ for e in info.value.events] == ["TextDelta", "Finish"]
    assert acc.usage is None
    assert acc.message()["content"] == "ok"


@pytest.mark.parametrize("usage", [5, "x", [1, 2], True, None])
def test_usage_that_is_not_an_object_counts_as_absent(usage: Any) -> None:
    acc = StreamAccumulator()
    events = acc.feed(
        d({"choices": [], "usage": {"total_tokens": 3}}) + d({"choices": [], "usage": usage})
    )
    assert [type(e).__name__ for e in events] == ["Usage"]
    assert acc.usage == {"total_tokens": 3}


@pytest.mark.parametrize(
    "code",
    [BIG_INT, "[" * 50_000 + "]" * 50_000, '"rate_limit"', "429"],
)
def test_error_code_python_cannot_build_is_kept_as_its_json_text(code: str) -> None:
    acc = StreamAccumulator()
    (event,) = acc.feed(f'data: {{"error": {{"message": "m", "code": {code}}}}}\n\n')
    assert isinstance(event, toolwire.ProviderError)
    assert event.message == "m"
    if code in ('"rate_limit"', "429"):
        assert event.code == json.loads(code)
    else:
        assert event.code == code
    assert acc.error is not None and acc.error.code == event.code


# -- item 4 (core side): arguments Python cannot build ------------------------------------------


def test_arguments_with_a_huge_integer_finish_but_parsed_raises_a_parse_error() -> None:
    acc = StreamAccumulator()
    events = acc.feed(call('{"n": ' + BIG_INT + "}") + FINISH)
    finished = next(e for e in events if isinstance(e, toolwire.ToolCallFinished))
    assert finished.error is None  # valid JSON: the core's verdict
    with pytest.raises(ParseError, match="5000 digits"):
        finished.parsed  # noqa: B018
    with pytest.raises(ParseError):
        acc.tool_calls[0].parsed  # noqa: B018


# -- item 11: text has a size limit like arguments ----------------------------------------------


def test_content_past_max_content_bytes_raises_and_keeps_a_prefix() -> None:
    acc = StreamAccumulator(max_content_bytes=1000)
    piece = "x" * 300
    with pytest.raises(LimitExceeded) as info:
        acc.feed(b"".join(text(piece) for _ in range(10)) + FINISH)
    assert (info.value.limit, info.value.value) == ("max_content_bytes", 1000)
    assert acc.message()["content"] == piece * 3
    assert acc.finish_reason == "stop"


def test_default_content_limit_bounds_40_mib() -> None:
    acc = StreamAccumulator()
    chunk = text("y" * (1 << 20))
    raised = 0
    for _ in range(40):
        try:
            acc.feed(chunk)
        except LimitExceeded as exc:
            assert exc.limit == "max_content_bytes"
            raised += 1
    assert raised == 1  # once, when the field went over
    assert len(acc.message()["content"]) == 16 << 20


# -- item 12: feed takes bytes-like or str only ---------------------------------------------------


@pytest.mark.parametrize("bad", [5, 10**10, -1, None, 2.5, [100, 97]])
def test_feed_refuses_non_bytes(bad: Any) -> None:
    acc = StreamAccumulator()
    with pytest.raises(TypeError, match="not "):
        acc.feed(bad)
    assert acc.feed(bytearray(text("ok"))) and acc.message()["content"] == "ok"


# -- item 13: events are read from another thread while the owner feeds ------------------------


def test_event_values_read_on_another_thread_while_feeding() -> None:
    acc = StreamAccumulator()
    reads = [call('{"items": [', id="c1")] + [
        call('{"k": "' + "v" * 20 + f'", "i": {i}}}, ', id=None) for i in range(3000)
    ]
    handed: list[Any] = []
    errors: list[BaseException] = []
    done = threading.Event()
    seen: list[Any] = []  # appended to, not counted: ``n += 1`` loses counts without a GIL

    def reader() -> None:
        while not done.is_set() or handed:
            try:
                ev = handed.pop(0)
            except IndexError:
                continue
            try:
                value = ev.partial
                assert isinstance(value, dict)
                seen.append(value)
            except BaseException as exc:  # noqa: BLE001 - any failure is the finding
                errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    for data in reads:
        for ev in acc.feed(data):
            if isinstance(ev, toolwire.ToolCallDelta):
                handed.append(ev)
    done.set()
    for t in threads:
        t.join()
    assert errors == []
    assert len(seen) == len(reads)


def test_reentrant_use_from_a_finalizer_raises_instead_of_deadlocking() -> None:
    acc = StreamAccumulator()
    acc.feed(text("a"))
    # The lock is not held between calls: plain sequential use from many threads is fine.
    threads = [threading.Thread(target=acc.message) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert acc.message()["content"] == "a"


# -- item 14: a choice index >= 2**32 is a typed error --------------------------------------------


@pytest.mark.parametrize("index", [2**32, 2**64, -1, 1e300])
def test_choice_index_out_of_range_is_an_invalid_chunk(index: Any) -> None:
    acc = StreamAccumulator()
    data = text("a") + d({"choices": [{"index": index, "delta": {"content": "b"}}]}) + text("c")
    with pytest.raises(ParseError, match="index out of range") as info:
        acc.feed(data)
    assert info.value.kind == "invalid chunk"
    assert acc.message()["content"] == "ac"
    assert acc.choices == [0]


# -- item 16: a stream cut inside a UTF-8 character of its last event ------------------------


@pytest.mark.parametrize("cut", [1, 2, 3])
def test_cut_inside_a_character_is_truncation_not_an_encoding_error(cut: int) -> None:
    whole = text("ok") + text("a😀b")
    end = whole.index("😀".encode()) + cut
    for reads in ([whole[:end]], [whole[: end - 1], whole[end - 1 : end]]):
        acc = StreamAccumulator()
        for r in reads:
            acc.feed(r)
        assert acc.finish() == []
        assert acc.truncated
        assert acc.message()["content"] == "ok"


# -- item 18: nesting is a documented, configurable limit ----------------------------------------


def test_arguments_past_max_depth_raise_the_limit_and_never_become_ready() -> None:
    acc = StreamAccumulator()
    with pytest.raises(LimitExceeded) as info:
        acc.feed(call('{"a": ' + "[" * 100_000) + call("]" * 100_000 + "}", id=None) + FINISH)
    assert (info.value.limit, info.value.value) == ("max_depth", 512)
    kinds = [type(e).__name__ for e in info.value.events]
    assert "ToolCallReady" not in kinds and kinds[-2:] == ["ToolCallFinished", "Finish"]
    finished = info.value.events[-2]
    assert isinstance(finished.error, LimitExceeded) and finished.error.limit == "max_depth"
    assert finished.parsed is None
    deeper = StreamAccumulator(max_depth=1000)
    events = deeper.feed(call('{"a": ' + "[" * 900 + "]" * 900 + "}") + FINISH)
    assert any(isinstance(e, toolwire.ToolCallReady) for e in events)


@pytest.mark.parametrize("option", ["max_depth", "max_content_bytes", "max_line_bytes"])
def test_limits_must_be_positive(option: str) -> None:
    with pytest.raises((ValueError, OverflowError)):
        StreamAccumulator(**{option: 0})
    with pytest.raises((ValueError, OverflowError)):
        StreamAccumulator(**{option: -5})


@pytest.mark.parametrize("text", ["\udc80", "ab\udcb1", "é\ud83d"])
def test_str_with_a_lone_surrogate_is_a_parse_error(text: str) -> None:
    """What ``bytes.decode("utf-8", "surrogateescape")`` makes has no UTF-8 form (found by the
    surface fuzzer: a UnicodeEncodeError escaped before)."""
    position = len(text[:-1].encode())
    for call in (
        StreamAccumulator().feed,
        toolwire.PartialJSON().feed,
        toolwire.parse_partial,
    ):
        with pytest.raises(ParseError) as info:
            call('"' + text)
        assert (info.value.kind, info.value.position) == ("invalid utf-8", position + 1)


def test_limit_options_name_themselves() -> None:
    with pytest.raises(ValueError, match="max_depth must be between 1 and 1000, not 2000"):
        StreamAccumulator(max_depth=2000)
    with pytest.raises(ValueError, match="max_content_bytes must be between 1 and"):
        StreamAccumulator(max_content_bytes=2**80)
    with pytest.raises(TypeError, match="max_tool_calls must be an int or None, not str"):
        StreamAccumulator(max_tool_calls="5")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_depth must be between"):
        toolwire.parse_partial("[]", max_depth=0)
