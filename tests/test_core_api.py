"""The Python face of the Rust core: types, reprs, errors, limits, threads, stubs."""

from __future__ import annotations

import itertools
import json
import pickle
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import toolwire
from toolwire import (
    Finish,
    LimitExceeded,
    ParseError,
    StreamAccumulator,
    TextDelta,
    ToolCallDelta,
    ToolCallFinished,
    ToolCallReady,
    ToolCallStarted,
    ToolwireError,
)

ROOT = Path(__file__).resolve().parent.parent


def chunk(delta: dict | None = None, finish: str | None = None, **extra: object) -> bytes:
    body: dict[str, object] = {
        "choices": [{"index": 0, "delta": delta or {}, "finish_reason": finish}]
    }
    body.update(extra)
    return b"data: " + json.dumps(body).encode() + b"\n\n"


def call(index: int, args: str, id: str | None = None, name: str | None = None) -> dict:
    fn: dict[str, str] = {"arguments": args}
    if name:
        fn["name"] = name
    tc: dict[str, object] = {"index": index, "function": fn}
    if id:
        tc.update(id=id, type="function")
    return {"tool_calls": [tc]}


STREAM = (
    chunk({"role": "assistant", "content": "Let me check."})
    + chunk(call(0, "", "c1", "get_weather"))
    + chunk(call(0, '{"city": "Par'))
    + chunk(call(0, 'is"}'))
    + chunk(None, "tool_calls", usage={"total_tokens": 9})
    + b"data: [DONE]\n\n"
)


def test_all_is_complete_and_sorted() -> None:
    public = {
        name for name in dir(toolwire) if not name.startswith("_") and name not in {"errors", "cli"}
    }
    exported = set(toolwire.__all__)
    modules = {name for name in public if type(getattr(toolwire, name)).__name__ == "module"}
    assert public - modules <= exported
    assert toolwire.__all__ == sorted(toolwire.__all__)


def test_build_profile_and_version() -> None:
    assert toolwire.build_profile in {"debug", "release"}
    assert toolwire.__version__.count(".") == 2


def test_events_and_message() -> None:
    acc = StreamAccumulator()
    events = acc.feed(STREAM) + acc.finish()
    kinds = [type(e).__name__ for e in events]
    # Usage comes before the choices of its chunk (docs/semantics.md section 2).
    assert kinds == [
        "TextDelta",
        "ToolCallStarted",
        "ToolCallDelta",  # the call's two fragments of this read, joined
        "ToolCallReady",
        "Usage",
        "ToolCallFinished",
        "Finish",
    ]
    assert acc.message() == {
        "role": "assistant",
        "content": "Let me check.",
        "tool_calls": [
            {
                "id": "c1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
            }
        ],
    }
    assert acc.finish_reason == "tool_calls"
    assert acc.usage == {"total_tokens": 9}
    assert acc.done and not acc.truncated and acc.finished
    finished = next(e for e in events if isinstance(e, ToolCallFinished))
    assert finished.parsed == {"city": "Paris"} and finished.error is None
    deltas = [e for e in events if isinstance(e, ToolCallDelta)]
    assert [(d.fragment, d.partial) for d in deltas] == [('{"city": "Paris"}', {"city": "Paris"})]


def test_repr_leaves_out_empty_fields_and_eq() -> None:
    acc = StreamAccumulator()
    events = acc.feed(chunk({"content": "hi"}) + chunk(call(0, "", "c1", "f")))
    assert repr(events[0]) == "TextDelta(text='hi')"
    assert repr(events[1]) == "ToolCallStarted(index=0, id='c1', name='f')"
    again = StreamAccumulator().feed(chunk({"content": "hi"}))
    assert events[0] == again[0]
    assert events[0] != events[1]
    match events[0]:
        case TextDelta(text, choice):
            assert (text, choice) == ("hi", 0)
        case _:
            pytest.fail("match_args")


def test_events_are_frozen() -> None:
    event = StreamAccumulator().feed(chunk({"content": "x"}))[0]
    with pytest.raises(AttributeError):
        event.text = "y"  # type: ignore[misc]


def test_events_false_builds_the_same_message() -> None:
    fast = StreamAccumulator(events=False)
    assert fast.feed(STREAM) == []
    assert fast.finish() == []
    slow = StreamAccumulator()
    slow.feed(STREAM)
    slow.finish()
    assert fast.message() == slow.message()
    per_call = StreamAccumulator()
    assert per_call.feed(STREAM, events=False) == []


@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview, str])
def test_accepts_bytes_bytearray_memoryview_str(kind: type) -> None:
    acc = StreamAccumulator()
    data = STREAM.decode() if kind is str else kind(STREAM)
    acc.feed(data)
    acc.finish()
    assert acc.message()["tool_calls"][0]["function"]["arguments"] == '{"city": "Paris"}'


def test_finish_twice_and_feed_after_finish() -> None:
    acc = StreamAccumulator()
    acc.feed(STREAM)
    acc.finish()
    assert acc.finish() == []
    with pytest.raises(RuntimeError, match="after finish"):
        acc.feed(b"data: {}\n\n")


def test_a_read_inside_a_line_is_the_same_call_in_every_form() -> None:
    """A short read that ends inside a line is taken by a plain CPython method in front of
    pyo3's (``_core/short_read.rs``); every other call goes on to pyo3's, unchanged: the
    argument errors, ``events=``, the other input types and the per-stream rule."""
    method = StreamAccumulator.__dict__["feed"]
    assert method.__name__ == "feed" and method.__doc__.startswith("Feeds one network read")
    body = chunk({"content": "ab"})
    for cut in (b"", b"data", bytearray(b"data"), memoryview(b"data"), "data"):
        acc = StreamAccumulator()
        assert acc.feed(cut) == []
        rest = body[len(cut) :]
        assert [e.text for e in acc.feed(rest[:5]) + acc.feed(rest[5:])] == ["ab"]
    acc = StreamAccumulator()
    assert acc.feed(body[:7], events=False) == []
    with pytest.raises(TypeError, match="not int"):
        acc.feed(1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="missing 1 required positional argument"):
        acc.feed()  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        acc.feed(b"x", b"y")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="unexpected keyword"):
        acc.feed(b"x", event=False)  # type: ignore[call-arg]
    assert [e.text for e in acc.feed(body[7:])] == ["ab"]
    acc.finish()
    for short in (b"x", "x"):  # a read that would be kept inside a line
        with pytest.raises(RuntimeError, match="after finish"):
            acc.feed(short)


def test_each_read_returns_a_list_of_its_own() -> None:
    """The events list of a read is reused for the next read only when nobody holds it any
    more: a list kept, or changed and dropped, never shows another read's events."""
    acc = StreamAccumulator()
    first = acc.feed(b"data: {")
    second = acc.feed(b'"choices"')
    assert first == second == [] and first is not second
    second.append("mine")
    del second
    third = acc.feed(b':[{"index":0,"delta":{"content":"a"}}]}\n\n')
    assert [e.text for e in third] == ["a"] and first == []
    third.append("kept")
    fourth = acc.feed(b"data: {")
    assert fourth == [] and third[-1] == "kept" and len(third) == 2
    del third
    fifth = acc.feed(b'"choices":[')  # inside the line begun above: the spare list, emptied
    assert fifth == [] and fourth == []
    assert [e.text for e in acc.feed(b'{"index":0,"delta":{"content":"b"}}]}\n\n')] == ["b"]


@pytest.mark.skipif(sys.implementation.name != "cpython", reason="counts CPython references")
@pytest.mark.parametrize("ending", ["last read", "finish", "finish, value kept"])
def test_an_accumulator_whose_last_read_made_events_is_freed(ending: str) -> None:
    """Events hold their accumulator (their lazy values read it). The events list the
    accumulator kept for reuse once held the last read's events: a cycle the collector cannot
    see, so an accumulator whose last read (or finish) made events was never freed."""
    call = {"index": 0, "id": "c1", "type": "function", "function": {"name": "f", "arguments": ""}}
    reads = [
        chunk({"role": "assistant", "tool_calls": [call]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"a": [1, {"b"'}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": ': "c"}]}'}}]}),
    ]
    acc = StreamAccumulator()
    alone = sys.getrefcount(acc)
    kept = None
    for read in reads:
        events = acc.feed(read)
        assert events
        kept = [e.partial for e in events if isinstance(e, toolwire.ToolCallDelta)] or kept
        del events
    if ending != "last read":
        assert acc.finish()  # the call ends here: ToolCallFinished and Finish
    assert kept == [{"a": [1, {"b": "c"}]}]
    if ending == "finish, value kept":
        partial = acc.tool_calls[0].partial
        assert partial == kept[0]
    assert sys.getrefcount(acc) == alone


def test_freed_events_release_what_they_hold() -> None:
    """Events are made and freed outside pyo3's generic path on per-version builds
    (``fast_class.rs``): a freed event drops its fields and its type's reference at once, and
    an event outlives its accumulator."""
    import tracemalloc

    text = "".join(f"word{i} " for i in range(40))
    body = (
        chunk({"role": "assistant", "content": ""})
        + b"".join(chunk({"content": w}) for w in text.split(" ") if w)
        + chunk(call(0, "", id="call_1", name="f"))
        + b"".join(chunk(call(0, p)) for p in ['{"a"', ": [1", ', "x"]', "}"])
        + chunk(finish="tool_calls")
        + b"data: [DONE]\n\n"
    )
    reads = [body[i : i + 64] for i in range(0, len(body), 64)]
    classes = (TextDelta, ToolCallStarted, ToolCallDelta, ToolCallReady, ToolCallFinished, Finish)

    def stream() -> list[object]:
        acc = StreamAccumulator()
        alone = sys.getrefcount(acc)
        seen = []
        for read in reads:
            seen.extend(type(e) for e in acc.feed(read))
        seen.extend(type(e) for e in acc.finish())
        assert sys.getrefcount(acc) == alone  # every event that held it is gone
        return seen

    assert set(stream()) >= set(classes)
    held = [sys.getrefcount(cls) for cls in classes]
    tracemalloc.start()
    try:
        for _ in range(50):
            stream()
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(500):
            stream()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    # ~70 events a stream: a leaked string or object per event would be >1 MB here.
    assert grown < 64 * 1024, grown
    if getattr(sys, "_is_gil_enabled", lambda: True)():
        # Without the GIL a type's references from its objects are counted per thread.
        assert [sys.getrefcount(cls) for cls in classes] == held

    acc = StreamAccumulator()
    kept = [e for r in reads for e in acc.feed(r) if isinstance(e, ToolCallDelta)]
    del acc
    assert kept[-1].partial == {"a": [1, "x"]}
    assert "".join(e.fragment for e in kept) == '{"a": [1, "x"]}'


def test_malformed_chunk_raises_typed_error_and_loses_nothing() -> None:
    acc = StreamAccumulator()
    bad = chunk({"content": "a"}) + b"data: {not json}\n\n" + chunk({"content": "b"})
    with pytest.raises(ParseError) as info:
        acc.feed(bad)
    err = info.value
    assert isinstance(err, ValueError) and isinstance(err, ToolwireError)
    assert err.kind == "invalid chunk"
    assert bad[err.position :].startswith(b"{not json}")  # the first data byte of the event
    # The invalid chunk between them is no event: "a" and "b" are one run of text.
    assert [e.text for e in err.events] == ["ab"]
    assert acc.message()["content"] == "ab"


def test_invalid_utf8_and_garbage() -> None:
    acc = StreamAccumulator()
    with pytest.raises(ParseError) as info:
        acc.feed(chunk({"content": "ok"}) + b"data: \xff\xfe\n\n")
    assert info.value.kind == "invalid utf-8"
    assert acc.message()["content"] == "ok"
    garbage = StreamAccumulator()
    with pytest.raises(ParseError):
        garbage.feed(bytes(range(256)) * 4 + b"\n\n")
    garbage.finish()
    assert garbage.truncated


def test_huge_line_is_bounded_and_typed() -> None:
    acc = StreamAccumulator(max_line_bytes=1 << 20)
    acc.feed(chunk({"content": "before"}))
    block = b"x" * (1 << 20)
    with pytest.raises(LimitExceeded) as info:
        for _ in range(100):  # 100 MB with no newline
            acc.feed(block)
    assert info.value.limit == "max_line_bytes"
    for _ in range(10):
        acc.feed(block)  # still skipping: no error, no buffering
    acc.feed(b"\n\n" + chunk({"content": " after"}))
    assert acc.message()["content"] == "before after"


def test_limit_tool_calls_and_arguments() -> None:
    acc = StreamAccumulator(max_tool_calls=1, max_arguments_bytes=10)
    with pytest.raises(LimitExceeded) as info:
        acc.feed(chunk(call(0, '{"a": 1}', "x", "f")) + chunk(call(1, "{}", "y", "g")))
    assert info.value.limit == "max_tool_calls" and info.value.value == 1
    assert [type(e).__name__ for e in info.value.events][:2] == ["ToolCallStarted", "ToolCallDelta"]
    with pytest.raises(LimitExceeded):
        acc.feed(chunk(call(0, "  padding  ")))
    assert acc.message()["tool_calls"][0]["function"]["arguments"] == '{"a": 1}'


def test_truncated_stream_finishes_calls_with_incomplete_error() -> None:
    acc = StreamAccumulator()
    acc.feed(chunk(call(0, '{"city": "Ber', "c1", "f")))
    events = acc.finish()
    assert acc.truncated
    (finished,) = [e for e in events if isinstance(e, ToolCallFinished)]
    assert finished.parsed is None
    assert isinstance(finished.error, ParseError) and finished.error.kind == "incomplete"
    assert acc.tool_calls[0].partial == {"city": "Ber"}


def test_tool_calls_snapshot_is_lazy_and_linear() -> None:
    acc = StreamAccumulator()
    acc.feed(chunk(call(0, '{"items": [1, 2', "c1", "f")))
    snap = acc.tool_calls[0]
    assert (snap.ready, snap.finished, snap.parsed) == (False, False, None)
    assert snap.partial == {"items": [1]}
    acc.feed(chunk(call(0, ", 3]}")))
    assert snap.partial == {"items": [1]}  # a snapshot keeps its moment
    assert acc.tool_calls[0].partial == {"items": [1, 2, 3]}


def test_old_delta_partial_reads_its_own_prefix() -> None:
    acc = StreamAccumulator()
    first = acc.feed(chunk(call(0, '{"a": "x', "c1", "f")))[-1]
    acc.feed(chunk(call(0, 'yz"}')))
    assert first.partial == {"a": "x"}


def test_old_delta_fragment_is_its_own() -> None:
    # The fragment is sliced from the call's text when read: after more of it, still its own.
    acc = StreamAccumulator()
    first = acc.feed(chunk(call(0, '{"a": "x', "c1", "f")))[-1]
    second = acc.feed(chunk(call(0, 'yz"}')))[0]
    acc.finish()
    assert isinstance(first, toolwire.ToolCallDelta) and isinstance(second, toolwire.ToolCallDelta)
    assert (first.fragment, second.fragment) == ('{"a": "x', 'yz"}')
    assert first.fragment == first.fragment and type(first.fragment) is str
    assert repr(second) == "ToolCallDelta(index=0, id='c1', name='f', fragment='yz\"}')"
    # Equal events of two accumulators fed alike: equality reads the fragments too.
    twin = StreamAccumulator()
    twin.feed(chunk(call(0, '{"a": "x', "c1", "f")))
    assert twin.feed(chunk(call(0, 'yz"}')))[0] == second != first
    match second:
        case toolwire.ToolCallDelta(0, "c1", "f", fragment):
            assert fragment == 'yz"}'
        case _:
            pytest.fail("no match")


def test_provider_error_event() -> None:
    acc = StreamAccumulator()
    events = acc.feed(
        chunk({"content": "a"})
        + b'data: {"error": {"message": "boom", "type": "server_error", "code": 500}}\n\n'
    )
    err = events[-1]
    assert type(err).__name__ == "ProviderError"
    assert (err.message, err.type, err.code) == ("boom", "server_error", 500)
    assert acc.error == err
    assert acc.message()["content"] == "a"


def test_exceptions_pickle() -> None:
    try:
        toolwire.parse_partial("[1,,")
    except ParseError as exc:
        clone = pickle.loads(pickle.dumps(exc))
        assert type(clone) is ParseError and str(clone) == str(exc)
    else:
        pytest.fail("no error")


def test_shared_accumulator_misuse_raises_not_corrupts() -> None:
    acc = StreamAccumulator()
    big = chunk(call(0, '{"k": "' + "x" * 200_000, "c1", "f"))
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def worker() -> None:
        barrier.wait()
        for _ in range(20):
            try:
                acc.feed(big)
            except RuntimeError as exc:
                errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    # Under the GIL the calls may serialise; without it they collide. Either way: no corruption.
    assert all("Already" in str(e) for e in errors)
    assert acc.message()["tool_calls"][0]["function"]["arguments"].startswith('{"k": "xxx')


def test_independent_accumulators_in_threads() -> None:
    results: list[dict] = []

    def worker() -> None:
        for _ in range(200):
            acc = StreamAccumulator()
            for i in range(0, len(STREAM), 7):
                acc.feed(STREAM[i : i + 7])
            acc.finish()
            results.append(acc.message())

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(results) == 800 and all(r == results[0] for r in results)


def test_format_option() -> None:
    for name in ("auto", "chat", "responses", "anthropic", "gemini", "ollama"):
        StreamAccumulator(format=name)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="format must be"):
        StreamAccumulator(format="xml")  # type: ignore[arg-type]


def test_stubs_match_the_binary() -> None:
    pytest.importorskip("mypy")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy.stubtest",
            "toolwire._core",
            "--allowlist",
            str(ROOT / "tests" / "stubtest_allowlist.txt"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT / "tests",
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_finish_event_order_and_ready() -> None:
    acc = StreamAccumulator()
    events = acc.feed(chunk(call(0, "{}", "a", "f")) + chunk(None, "stop"))
    kinds = [type(e) for e in events]
    assert kinds == [ToolCallStarted, ToolCallDelta, ToolCallReady, ToolCallFinished, Finish]
    assert events[-1].reason == "stop"


def test_partials_of_many_fragments_in_one_read() -> None:
    """Many fragments of one call in each read: one ToolCallDelta a read, whose .partial is the
    value of the arguments up to its last fragment, read in order (cheap, lagging scan) or out
    of order (a prefix parse)."""
    args = json.dumps(
        {"rows": [{"id": i, "name": f"r{i}", "tags": ["x"] * (i % 3)} for i in range(40)]}
    )
    fragments = [args[i : i + 7] for i in range(0, len(args), 7)]
    body = chunk(call(0, "", "c1", "f")) + b"".join(chunk(call(0, f)) for f in fragments)
    for read_size in (len(body), 4096, 333):
        acc = StreamAccumulator()
        deltas: list[ToolCallDelta] = []
        for i in range(0, len(body), read_size):
            deltas += [e for e in acc.feed(body[i : i + read_size]) if isinstance(e, ToolCallDelta)]
        reads = -(-len(body) // read_size)
        assert 1 <= len(deltas) <= reads  # the first read may end before the first fragment
        prefixes = list(itertools.accumulate(d.fragment for d in deltas))
        assert prefixes[-1] == args
        assert [d.partial for d in deltas] == [toolwire.parse_partial(p) for p in prefixes]
        assert [d.partial for d in reversed(deltas)][-3:] == [
            toolwire.parse_partial(p) for p in reversed(prefixes)
        ][-3:]
        assert deltas[-1].partial == json.loads(args)
