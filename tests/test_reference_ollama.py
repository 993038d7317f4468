"""The pure-Python Ollama reference (tests/reference/ollama.py), on its own.

No recorded Ollama stream exists in the corpus, so the streams here are written by hand in the
shape of Ollama's ``/api/chat`` NDJSON (its API docs and ollama-python's ``ChatResponse``): plain
text, thinking, tool calls (old and new shapes), a length stop, an error line, a cut last line,
framing edge cases. Each is read whole, at every byte split and in 1-byte reads with equal
results, and compared with what a user of ollama-python (when importable) gets by validating
each line as a ``ChatResponse`` and concatenating. The builders (``ndjson``, ``line``,
``done_line``, ``tool_call``...) are meant to be reused by the Rust differential tests.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.helpers import PieceReader, joined_text, line_sizes
from tests.reference.errors import RefLimitExceeded, RefParseError
from tests.reference.ndjson import NDJSONLine, NDJSONSplitter
from tests.reference.ollama import ReferenceOllamaAccumulator

MODEL = "qwen3:8b"
CREATED = "2025-05-27T22:54:57.641643Z"


# -- builders -----------------------------------------------------------------------------------
def ndjson(*lines: dict[str, Any] | str, eol: str = "\n") -> bytes:
    """One JSON object per line (a str item is sent as the raw line)."""
    return "".join((x if isinstance(x, str) else json.dumps(x)) + eol for x in lines).encode()


def line(
    content: str = "",
    thinking: str | None = None,
    tool_calls: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A ``done: false`` chunk as Ollama streams it."""
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if thinking is not None:
        message["thinking"] = thinking
    if tool_calls is not None:
        message["tool_calls"] = tool_calls
    out: dict[str, Any] = {"model": MODEL, "created_at": CREATED, "message": message, "done": False}
    out.update(extra)
    return out


def done_line(reason: str | None = "stop", content: str = "", **counts: Any) -> dict[str, Any]:
    """The final chunk: ``done: true``, the reason and Ollama's metrics."""
    out = line(content)
    del out["done"]
    if reason is not None:
        out["done_reason"] = reason
    out["done"] = True
    metrics = {
        "total_duration": 4883583458,
        "load_duration": 1334875,
        "prompt_eval_count": 26,
        "prompt_eval_duration": 342546000,
        "eval_count": 282,
        "eval_duration": 4535599000,
    }
    metrics.update(counts)
    out.update({k: v for k, v in metrics.items() if v is not None})
    return out


def tool_call(
    name: str, arguments: Any, id_: str | None = None, index: int | None = None
) -> dict[str, Any]:
    """A tool call: the old shape (``function`` only) unless ``id_``/``index`` are given."""
    function: dict[str, Any] = {}
    if index is not None:
        function["index"] = index
    function["name"] = name
    function["arguments"] = arguments
    out: dict[str, Any] = {}
    if id_ is not None:
        out["id"] = id_
    out["function"] = function
    return out


def _described(exc: RefParseError | RefLimitExceeded) -> tuple[Any, ...]:
    if isinstance(exc, RefParseError):
        return ("RefParseError", exc.kind, exc.position)
    return ("RefLimitExceeded", exc.limit, exc.value)


def read(raw: bytes, sizes: list[int] | None = None, **kwargs: Any) -> dict[str, Any]:
    """Feed ``raw`` in pieces of ``sizes`` (cycled; whole when None) and snapshot the result."""
    acc = ReferenceOllamaAccumulator(**kwargs)
    reader = PieceReader(acc, _described)
    reader.feed(raw, sizes)
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
        "done": acc.done,
        "truncated": acc.truncated,
        "outcome": acc.outcome,
        "tool_calls": acc.tool_calls,
    }


def read_all_ways(raw: bytes, **kwargs: Any) -> dict[str, Any]:
    """Read whole, in 1-byte reads and at every 2-way split: all equal (errors included, as
    each stream here raises at most one error)."""
    whole = joined_text(read(raw, **kwargs))
    assert joined_text(read(raw, [1], **kwargs)) == whole
    for cut in range(1, len(raw)):
        assert joined_text(read(raw, [cut, len(raw)], **kwargs)) == whole, f"split at {cut}"
    by_line = read(raw, line_sizes(raw), **kwargs)
    assert joined_text(by_line) == whole
    return by_line


def calls_of(result: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [e for e in result["events"] if e[0].startswith("ToolCall")]


# -- hand-written streams ------------------------------------------------------------------------
TEXT = ndjson(
    line("The"),
    line(" sky"),
    line(" is blue."),
    done_line("stop"),
)

THINKING = ndjson(
    line("", thinking="Okay, the user"),
    line("", thinking=" asks 2+2."),
    line("2 + 2 = "),
    line("4."),
    done_line("stop", eval_count=40),
)

TOOL_CALL = ndjson(  # Ollama 0.9 (streaming tool calls, May 2025): function only
    line("", thinking="I need the weather."),
    line(
        tool_calls=[tool_call("get_current_weather", {"format": "celsius", "location": "Toronto"})]
    ),
    done_line("stop"),
)

PARALLEL_CALLS = ndjson(  # newer servers: an id and function.index
    line("Checking both."),
    line(tool_calls=[tool_call("get_weather", {"city": "Paris"}, "call_a1b2c3d4", 0)]),
    line(
        tool_calls=[
            tool_call("get_weather", {"city": "Tokyo", "units": ["C"]}, "call_e5f6g7h8", 1),
            tool_call("get_time", {}, index=2),
        ]
    ),
    done_line("stop"),
)

LENGTH = ndjson(line("Once upon"), line(" a time"), done_line("length", eval_count=3))

ERROR = ndjson(
    line("Part"),
    {"error": "an error was encountered while running the model: unexpected EOF"},
)

CUT = ndjson(line("Hel"), line("lo")) + b'{"model":"qwen3:8b","created_at":"2025-05-27T22:5'


def test_text() -> None:
    r = read_all_ways(TEXT)
    usage = {
        "total_duration": 4883583458,
        "load_duration": 1334875,
        "prompt_eval_count": 26,
        "prompt_eval_duration": 342546000,
        "eval_count": 282,
        "eval_duration": 4535599000,
    }
    assert r["events"] == [
        ("TextDelta", 0, "The"),
        ("TextDelta", 0, " sky"),
        ("TextDelta", 0, " is blue."),
        ("Usage", usage),
        ("Finish", 0, "stop"),
    ]
    assert list(r["usage"]) == list(usage)  # the line's order
    assert r["message"] == {"role": "assistant", "content": "The sky is blue."}
    assert r["native"] == {"role": "assistant", "content": "The sky is blue."}
    assert (r["done"], r["truncated"], r["outcome"]) == (True, False, "stop")
    assert r["token_usage"] == {"input_tokens": 26, "output_tokens": 282, "total_tokens": 308}


def test_thinking() -> None:
    r = read_all_ways(THINKING)
    assert [e for e in r["events"] if e[0] in ("TextDelta", "ReasoningDelta")] == [
        ("ReasoningDelta", 0, "Okay, the user"),
        ("ReasoningDelta", 0, " asks 2+2."),
        ("TextDelta", 0, "2 + 2 = "),
        ("TextDelta", 0, "4."),
    ]
    assert r["message"] == {
        "role": "assistant",
        "content": "2 + 2 = 4.",
        "reasoning_content": "Okay, the user asks 2+2.",
    }
    assert r["native"] == {
        "role": "assistant",
        "content": "2 + 2 = 4.",
        "thinking": "Okay, the user asks 2+2.",
    }


def test_tool_call() -> None:
    r = read_all_ways(TOOL_CALL)
    c = ("call_0", "get_current_weather")
    args = '{"format":"celsius","location":"Toronto"}'
    assert calls_of(r) == [
        ("ToolCallStarted", 0, 0, *c),
        ("ToolCallDelta", 0, 0, *c, args),
        ("ToolCallReady", 0, 0, *c, args),
        ("ToolCallFinished", 0, 0, *c, args, None),
    ]
    assert r["message"]["tool_calls"] == [
        {"id": "call_0", "type": "function", "function": {"name": c[1], "arguments": args}}
    ]
    assert r["native"] == {
        "role": "assistant",
        "content": "",
        "thinking": "I need the weather.",
        "tool_calls": [
            tool_call("get_current_weather", {"format": "celsius", "location": "Toronto"})
        ],
    }
    assert r["outcome"] == "tool_calls"


def test_parallel_calls_with_ids_and_indices() -> None:
    r = read_all_ways(PARALLEL_CALLS)
    assert [(c["index"], c["id"], c["name"], c["arguments"]) for c in r["tool_calls"]] == [
        (0, "call_a1b2c3d4", "get_weather", '{"city":"Paris"}'),
        (1, "call_e5f6g7h8", "get_weather", '{"city":"Tokyo","units":["C"]}'),
        (2, "call_2", "get_time", "{}"),
    ]
    assert [e[0] for e in calls_of(r)].count("ToolCallReady") == 3  # {} is sent: Delta+Ready
    assert r["native"]["tool_calls"] == [
        tool_call("get_weather", {"city": "Paris"}, "call_a1b2c3d4", 0),
        tool_call("get_weather", {"city": "Tokyo", "units": ["C"]}, "call_e5f6g7h8", 1),
        tool_call("get_time", {}, index=2),
    ]
    assert r["native"]["content"] == "Checking both."


def test_tool_call_arguments_of_other_shapes() -> None:
    raw = ndjson(
        line(
            tool_calls=[
                tool_call("s", '{"a": 1}'),
                tool_call("bad", "{oops"),
                {"function": {"name": "none"}},
                {"id": "", "function": None},
            ]
        ),
        done_line(),
    )
    r = read_all_ways(raw)
    assert [(c["id"], c["name"], c["arguments"], c["error_kind"]) for c in r["tool_calls"]] == [
        ("call_0", "s", '{"a": 1}', None),
        ("call_1", "bad", "{oops", "malformed"),
        ("call_2", "none", "{}", None),
        ("call_3", "", "{}", None),
    ]


def test_length_stop() -> None:
    r = read_all_ways(LENGTH)
    assert (r["finish_reason"], r["outcome"]) == ("length", "length")
    assert r["message"]["content"] == "Once upon a time"


def test_done_without_reason_and_other_reasons() -> None:
    r = read_all_ways(ndjson(line("ok"), done_line(None)))
    assert (r["finish_reason"], r["outcome"], r["truncated"]) == (None, "stop", False)
    assert not any(e[0] == "Finish" for e in r["events"])
    r = read(ndjson(done_line("load", prompt_eval_count=None, eval_count=None)))
    assert (r["finish_reason"], r["outcome"]) == ("load", "other")
    assert r["token_usage"] is None and set(r["usage"]) == {
        "total_duration",
        "load_duration",
        "prompt_eval_duration",
        "eval_duration",
    }
    bare = ndjson({"message": {"content": "x"}, "done": True})
    r = read(bare)
    assert (r["usage"], r["outcome"]) == (None, "stop")
    assert not any(e[0] == "Usage" for e in r["events"])


def test_error_line() -> None:
    r = read_all_ways(ERROR)
    message = "an error was encountered while running the model: unexpected EOF"
    assert r["events"] == [("TextDelta", 0, "Part"), ("ProviderError", message, None, None)]
    assert r["error"] == {
        "message": message,
        "code": None,
        "type": None,
        "body": {"error": message},
    }
    assert (r["truncated"], r["outcome"]) == (True, "error")
    r = read(ndjson({"error": {"message": "boom", "type": "server_error", "code": 500}}))
    assert r["events"] == [("ProviderError", "boom", 500, "server_error")]


def test_cut_last_line_is_dropped_and_the_stream_is_truncated() -> None:
    r = read_all_ways(CUT)
    assert r["errors"] == [] and r["message"]["content"] == "Hello"
    assert (r["done"], r["truncated"], r["outcome"]) == (False, True, "cut")
    # Cut inside a UTF-8 character of the last line: dropped too.
    raw = ndjson(line("a")) + '{"message": {"content": "é'.encode()[:-1]
    assert read(raw)["errors"] == []


def test_last_line_without_newline_is_read() -> None:
    raw = ndjson(line("a"), line("b")) + json.dumps(done_line("stop")).encode()
    r = read_all_ways(raw)
    assert (r["done"], r["outcome"], r["message"]["content"]) == (True, "stop", "ab")
    # A complete last line that is not an object: an invalid chunk at its first byte.
    r = read(ndjson(line("a")) + b"[1]")
    assert r["errors"] == [("RefParseError", "invalid chunk", len(ndjson(line("a"))))]


def test_framing_crlf_blank_lines_and_bom() -> None:
    lf = ndjson(line("a"), line("b"), done_line())
    plain = joined_text(read(lf))
    crlf = b"\xef\xbb\xbf\n\r\n  \t\n" + ndjson(line("a"), line("b"), done_line(), eol="\r\n")
    assert joined_text(read_all_ways(crlf)) == plain
    # A lone CR does not end a line: two objects on one line are one invalid chunk.
    r = read(ndjson(line("a")) + b'{"message": {"content": "b"}}\r{"done": true}\n')
    assert r["errors"] == [("RefParseError", "invalid chunk", len(ndjson(line("a"))))]


def test_invalid_lines_are_parse_errors_at_their_offset_and_reading_goes_on() -> None:
    bad = [
        "not json",
        "[1]",
        '"text"',
        '{"message": []}',
        '{"message": {"tool_calls": {}}}',
        '{"message": {"tool_calls": [1]}}',
        '{"message": {"tool_calls": [{"function": []}]}}',
        '{"message": {"content": "a", "content": "b"}}',
        '{"done": true, "done": false}',
        '{"message": {"content": "x"}, "eval_count": 1, "eval_count": 2}',
        '{"message": {"content": "cut"',  # not the last line: invalid, not dropped
    ]
    head = ndjson(line("a"))
    for data in bad:
        raw = head + data.encode() + b"\n" + ndjson(line("b"), done_line())
        r = read(raw)
        assert r["errors"] == [("RefParseError", "invalid chunk", len(head))], data
        assert r["message"]["content"] == "ab" and r["outcome"] == "stop", data
    raw = head + b'{"message": {"content": "\xff"}}\n' + ndjson(done_line())
    r = read(raw)
    assert r["errors"] == [("RefParseError", "invalid utf-8", len(head) + 25)]
    # Lenient: null, a non-string content, a non-bool done, unknown fields.
    lenient = [
        '{"message": null, "done": null, "done_reason": null, "error": null}',
        '{"message": {"content": 5, "thinking": null, "tool_calls": null, "images": [1]}}',
        '{"message": {"content": "x"}, "done": "true"}',
    ]
    for data in lenient:
        r = read(ndjson(data, line("b"), done_line()))
        assert r["errors"] == [] and r["outcome"] == "stop", data


def test_lines_after_done_are_ignored() -> None:
    raw = ndjson(line("a"), done_line(), line("b"), "garbage", {"error": "late"}) + b"\xff\n"
    r = read_all_ways(raw)
    assert r["errors"] == [] and r["error"] is None and r["message"]["content"] == "a"


def test_limits() -> None:
    long_line = line("x" * 300)  # longer than the done line
    raw = ndjson(line("a"), long_line, line("b"), done_line())
    size = len(json.dumps(long_line))
    r = read(raw, max_line_bytes=size - 1)
    assert r["errors"] == [("RefLimitExceeded", "max_line_bytes", size - 1)]
    assert r["message"]["content"] == "ab"
    for sizes in ([1], [7], [50, 3]):
        assert read(raw, sizes, max_line_bytes=size - 1)["message"]["content"] == "ab"
    assert read(raw, max_line_bytes=size)["errors"] == []
    r = read(ndjson(line("y" * 30), line(thinking="z" * 30), done_line()), max_content_bytes=20)
    assert ("RefLimitExceeded", "max_content_bytes", 20) in r["errors"]
    assert r["message"]["content"] is None
    calls = [tool_call("f", {"a": "x" * 40}), tool_call("g", {})]
    r = read(ndjson(line(tool_calls=calls), done_line()), max_arguments_bytes=20, max_tool_calls=1)
    assert ("RefLimitExceeded", "max_arguments_bytes", 20) in r["errors"]
    assert [(c["name"], c["error_kind"]) for c in r["tool_calls"]] == [("f", "incomplete")]
    assert len(r["native"]["tool_calls"]) == 2  # the native message keeps every call as sent


def test_feed_str_finish_twice_and_feed_after_finish() -> None:
    acc = ReferenceOllamaAccumulator()
    events = acc.feed(TEXT.decode()) + acc.finish()
    assert events == read(TEXT)["events"]
    assert acc.finish() == []
    with pytest.raises(RuntimeError):
        acc.feed(b"{}\n")


def test_splitter_offsets() -> None:
    splitter = NDJSONSplitter(max_line_bytes=5)
    items = splitter.decode(b"\xef\xbb\xbfab\ncdefgh\nij") + splitter.decode(b"", final=True)
    assert items[0] == NDJSONLine(b"ab", 3)
    assert isinstance(items[1], RefLimitExceeded)
    assert items[2] == NDJSONLine(b"ij", 13, final=True)


# -- against ollama-python -------------------------------------------------------------------------
ALL = {
    "text": TEXT,
    "thinking": THINKING,
    "tool_call": TOOL_CALL,
    "parallel_calls": PARALLEL_CALLS,
    "length": LENGTH,
    "error": ERROR,
    "cut": CUT,
}


def sdk_view(raw: bytes) -> dict[str, Any]:
    """What an ollama-python user gets: each line parsed as the client does (``json.loads``,
    an ``error`` raises ``ResponseError``, else ``ChatResponse``), then concatenated."""
    from ollama import ChatResponse, ResponseError

    content, thinking, calls = [], [], []
    reason = error = None
    counts: dict[str, Any] = {}
    for raw_line in raw.split(b"\n"):
        if not raw_line.strip():
            continue
        try:
            part = json.loads(raw_line)
        except ValueError:
            break  # the client would raise here: the stream was cut
        try:
            if err := part.get("error"):
                raise ResponseError(err)
        except ResponseError as exc:
            error = exc.error
            break
        chunk = ChatResponse.model_validate_json(raw_line)
        content.append(chunk.message.content or "")
        thinking.append(chunk.message.thinking or "")
        for tc in chunk.message.tool_calls or []:
            calls.append((tc.function.name, dict(tc.function.arguments)))
        if chunk.done:
            reason = chunk.done_reason
            counts = {"prompt_eval_count": chunk.prompt_eval_count, "eval_count": chunk.eval_count}
    return {
        "content": "".join(content),
        "thinking": "".join(thinking),
        "calls": calls,
        "reason": reason,
        "error": error,
        "counts": counts,
    }


@pytest.mark.parametrize("name", sorted(ALL))
def test_against_ollama_python(name: str) -> None:
    pytest.importorskip("ollama", reason="ollama-python is not installed")
    raw = ALL[name]
    sdk = sdk_view(raw)
    ours = read(raw)
    assert (ours["message"]["content"] or "") == sdk["content"]
    assert ours["message"].get("reasoning_content", "") == sdk["thinking"]
    assert [(c["name"], c["parsed"]) for c in ours["tool_calls"]] == sdk["calls"]
    assert ours["finish_reason"] == sdk["reason"]
    assert (ours["error"] or {}).get("message") == sdk["error"]
    if sdk["counts"]:
        assert {k: ours["usage"][k] for k in sdk["counts"]} == sdk["counts"]
