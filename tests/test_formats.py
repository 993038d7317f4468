"""Every format through one accumulator: ``format="auto"`` recognises each from its first bytes
and first event (docs/semantics.md section 11), reads it exactly as the explicit format does at
every split, and refuses what it does not read with a ParseError naming what it saw.

The per-format rules are held to their references in test_anthropic.py, test_responses.py,
test_gemini.py and test_ollama.py; this module holds what is common: detection, ``outcome`` and
``token_usage`` across formats, and the recorded corpus read with ``auto``.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

import toolwire
from tests.helpers import _drive, as_json
from tests.reference.convert import event_to_tuple

STREAMS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "recorded-streams"
ERRORS = (toolwire.ParseError, toolwire.LimitExceeded)


def sse(*events: tuple[str | None, Any]) -> bytes:
    out = []
    for name, data in events:
        head = f"event: {name}\n" if name else ""
        body = data if isinstance(data, str) else json.dumps(data)
        out.append(f"{head}data: {body}\n\n")
    return "".join(out).encode()


def ndjson(*lines: dict[str, Any]) -> bytes:
    return b"".join(json.dumps(line).encode() + b"\n" for line in lines)


CALL_ARGS = '{"city": "Paris"}'

SAMPLES: dict[str, bytes] = {
    "chat": sse(
        (None, {"choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hi"}}]}),
        (
            None,
            {
                "choices": [
                    {
                        "index": 0,
                        "delta": {
                            "tool_calls": [
                                {
                                    "index": 0,
                                    "id": "call_a",
                                    "function": {"name": "weather", "arguments": CALL_ARGS},
                                }
                            ]
                        },
                    }
                ]
            },
        ),
        (None, {"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}),
        (None, {"choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": 3}}),
        (None, "[DONE]"),
    ),
    "anthropic": sse(
        (
            "message_start",
            {
                "type": "message_start",
                "message": {"usage": {"input_tokens": 7, "cache_read_input_tokens": 2}},
            },
        ),
        (
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text"}},
        ),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": "Hi"},
            },
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        (
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 1,
                "content_block": {"type": "tool_use", "id": "toolu_a", "name": "weather"},
            },
        ),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 1,
                "delta": {"type": "input_json_delta", "partial_json": CALL_ARGS},
            },
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": 1}),
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "tool_use"},
                "usage": {"output_tokens": 3},
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ),
    "responses": sse(
        ("response.created", {"type": "response.created", "response": {"id": "resp_1"}}),
        (
            "response.output_item.added",
            {
                "type": "response.output_item.added",
                "output_index": 0,
                "item": {"type": "message", "id": "msg_1", "role": "assistant", "content": []},
            },
        ),
        (
            "response.output_text.delta",
            {
                "type": "response.output_text.delta",
                "item_id": "msg_1",
                "output_index": 0,
                "content_index": 0,
                "delta": "Hi",
            },
        ),
        (
            "response.output_item.added",
            {
                "type": "response.output_item.added",
                "output_index": 1,
                "item": {
                    "type": "function_call",
                    "id": "fc_1",
                    "call_id": "call_a",
                    "name": "weather",
                    "arguments": "",
                },
            },
        ),
        (
            "response.function_call_arguments.delta",
            {
                "type": "response.function_call_arguments.delta",
                "item_id": "fc_1",
                "output_index": 1,
                "delta": CALL_ARGS,
            },
        ),
        (
            "response.function_call_arguments.done",
            {
                "type": "response.function_call_arguments.done",
                "item_id": "fc_1",
                "output_index": 1,
                "arguments": CALL_ARGS,
            },
        ),
        (
            "response.completed",
            {
                "type": "response.completed",
                "response": {
                    "status": "completed",
                    "usage": {"input_tokens": 7, "output_tokens": 3, "total_tokens": 10},
                },
            },
        ),
    ),
    "gemini": sse(
        (
            None,
            {
                "candidates": [{"content": {"role": "model", "parts": [{"text": "Hi"}]}}],
                "usageMetadata": {"promptTokenCount": 7},
            },
        ),
        (
            None,
            {
                "candidates": [
                    {
                        "content": {
                            "role": "model",
                            "parts": [
                                {"functionCall": {"name": "weather", "args": {"city": "Paris"}}}
                            ],
                        },
                        "finishReason": "STOP",
                    }
                ],
                "usageMetadata": {
                    "promptTokenCount": 7,
                    "candidatesTokenCount": 3,
                    "totalTokenCount": 10,
                },
            },
        ),
    ),
    "ollama": ndjson(
        {"model": "m", "message": {"role": "assistant", "content": "Hi"}, "done": False},
        {
            "model": "m",
            "message": {
                "role": "assistant",
                "content": "",
                "tool_calls": [{"function": {"name": "weather", "arguments": {"city": "Paris"}}}],
            },
            "done": False,
        },
        {
            "model": "m",
            "message": {"role": "assistant", "content": ""},
            "done": True,
            "done_reason": "stop",
            "prompt_eval_count": 7,
            "eval_count": 3,
        },
    ),
}


def run(chunks: list[bytes], **kwargs: Any) -> dict[str, Any]:
    acc = toolwire.StreamAccumulator(**kwargs)
    return as_json(_drive(acc, chunks, event_to_tuple, ERRORS, 1))


@pytest.mark.parametrize("name", list(SAMPLES))
def test_auto_reads_each_format_as_the_format_itself(name: str) -> None:
    raw = SAMPLES[name]
    want = run([raw], format=name)
    assert want["errors"] == [] and want["format"] == name
    assert want["outcome"] == "tool_calls"
    assert want["token_usage"]["input_tokens"] in (7, 9)  # Anthropic adds cached input
    assert want["messages"][0]["content"] == "Hi"
    (call,) = want["messages"][0]["tool_calls"]
    assert json.loads(call["function"]["arguments"]) == {"city": "Paris"}
    assert run([raw]) == want
    # Detection happens on whatever arrives: every split point of the first bytes, then 1-byte
    # reads of the whole stream.
    for cut in range(1, min(len(raw), 64)):
        assert run([raw[:cut], raw[cut:]]) == want, cut
    assert run([bytes([b]) for b in raw]) == want


@pytest.mark.parametrize("name", list(SAMPLES))
def test_auto_after_a_bom_and_blank_lines(name: str) -> None:
    raw = SAMPLES[name]
    want = run([raw], format=name)
    got = run([b"\xef\xbb\xbf", b"\n\n" + raw])
    assert got["format"] == name
    assert {k: got[k] for k in ("messages", "outcome", "usage")} == {
        k: want[k] for k in ("messages", "outcome", "usage")
    }


UNKNOWN = {
    "cohere-v2": (
        sse(("message-start", {"type": "message-start", "id": "x", "delta": {}})),
        "message-start",
    ),
    "gemini-interactions": (
        sse((None, {"interaction": {"id": "v1"}, "event_type": "interaction.created"})),
        "interaction.created",
    ),
    "html": (b"<html><body>Bad gateway</body></html>", "<html>"),
    "json-array": (b'[{"candidates": []}]', "alt=sse"),
    "plain-text-data": (b"data: hello world\n\n", "hello world"),
    "ndjson-chat": (b'{"choices": []}\n', '"choices"'),
}


@pytest.mark.parametrize("name", list(UNKNOWN))
def test_unknown_streams_raise_a_parse_error_naming_what_was_seen(name: str) -> None:
    raw, seen = UNKNOWN[name]
    for chunks in ([raw], [bytes([b]) for b in raw]):
        acc = toolwire.StreamAccumulator()
        errors = []
        for chunk in [*chunks, None]:
            try:
                acc.feed(chunk) if chunk is not None else acc.finish()
            except toolwire.ParseError as exc:
                errors.append(exc)
        assert len(errors) == 1, errors
        assert errors[0].kind == "unknown format"
        assert seen in str(errors[0]) and "format=" in str(errors[0])
        assert acc.format == "auto" and acc.outcome == "error" and acc.truncated
        assert acc.message() == {"role": "assistant", "content": None}
    # Later reads are not read (and raise nothing more).
    acc = toolwire.StreamAccumulator()
    with pytest.raises(toolwire.ParseError):
        acc.feed(raw)
    assert acc.feed(SAMPLES["chat"]) == [] and acc.finish() == []


def test_a_lone_error_object_is_reported_and_recognition_waits() -> None:
    raw = (
        sse((None, {"error": {"message": "overloaded", "type": "server_error"}})) + SAMPLES["chat"]
    )
    got = run([raw])
    assert got["format"] == "chat" and got["errors"] == []
    assert got["events"][0][0] == "ProviderError" and got["outcome"] == "error"
    only = run([raw[: raw.index(b"\n\n") + 2]])
    assert only["format"] == "auto" and only["outcome"] == "error" and only["errors"] == []


@pytest.mark.parametrize("raw", [b"", b"\n\n  \r\n", b"\xef\xbb\xbf", b": keep-alive\n\n"])
def test_a_stream_with_nothing_in_it_is_cut_not_unknown(raw: bytes) -> None:
    got = run([raw])
    assert got["errors"] == [] and got["format"] == "auto"
    assert got["outcome"] == "cut" and got["truncated"]


def test_explicit_formats_do_not_detect() -> None:
    got = run([SAMPLES["anthropic"]], format="chat")
    assert got["format"] == "chat" and got["messages"][0]["content"] is None
    assert got["outcome"] == "cut"


OUTCOMES = [
    ("chat", {"finish_reason": "length"}, "length"),
    ("chat", {"finish_reason": "content_filter"}, "content_filter"),
    ("chat", {"finish_reason": "stop"}, "stop"),
    ("chat", {"finish_reason": "something_new"}, "other"),
    ("anthropic", {"stop_reason": "max_tokens"}, "length"),
    ("anthropic", {"stop_reason": "refusal"}, "content_filter"),
    ("anthropic", {"stop_reason": "end_turn"}, "stop"),
    ("anthropic", {"stop_reason": "pause_turn"}, "other"),
]


@pytest.mark.parametrize(("fmt", "end", "outcome"), OUTCOMES)
def test_outcome_words(fmt: str, end: dict[str, str], outcome: str) -> None:
    if fmt == "chat":
        raw = sse(
            (None, {"choices": [{"index": 0, "delta": {"content": "x"}, **end}]}),
            (None, "[DONE]"),
        )
    else:
        raw = sse(
            (None, {"type": "message_start", "message": {}}),
            (None, {"type": "message_delta", "delta": end}),
            (None, {"type": "message_stop"}),
        )
    acc = toolwire.StreamAccumulator()
    acc.feed(raw)
    assert acc.outcome == outcome  # known at the end marker, before finish()
    acc.finish()
    assert acc.outcome == outcome


def test_outcome_is_none_while_open_and_cut_after() -> None:
    raw = SAMPLES["anthropic"]
    acc = toolwire.StreamAccumulator()
    acc.feed(raw[: raw.index(b"message_delta")])
    assert acc.outcome is None
    acc.finish()
    assert acc.outcome == "cut" and acc.truncated


def test_token_usage_of_each_format() -> None:
    want = {
        "chat": (7, 3, 10),
        "anthropic": (9, 3, 12),
        "responses": (7, 3, 10),
        "gemini": (7, 3, 10),
        "ollama": (7, 3, 10),
    }
    for name, raw in SAMPLES.items():
        acc = toolwire.StreamAccumulator()
        acc.feed(raw)
        acc.finish()
        usage = acc.token_usage
        assert usage is not None, name
        got = (usage["input_tokens"], usage["output_tokens"], usage["total_tokens"])
        assert got == want[name], name
    acc = toolwire.StreamAccumulator(format="chat")
    acc.feed(sse((None, {"choices": [], "usage": {"prompt_tokens": 1.5, "total_tokens": 2}})))
    assert acc.usage == {"prompt_tokens": 1.5, "total_tokens": 2} and acc.token_usage is None


def _corpus() -> list[dict[str, Any]]:
    manifest = STREAMS / "manifest.json"
    if not manifest.is_file():
        return []
    return list(json.loads(manifest.read_text())["streams"])


CORPUS = _corpus()
READ_AS = {
    "openai-chat": "chat",
    "openai-completions": "chat",
    "anthropic-messages": "anthropic",
    "openai-responses": "responses",
    "google-gemini": "gemini",
}


@pytest.mark.skipif(not CORPUS, reason="the shared corpus (../shared/corpus) is not present")
def test_corpus_auto_recognises_every_stream() -> None:
    """auto reads each recorded stream exactly as its explicit format does (whole and at one
    random split), and refuses the formats not read with "unknown format"."""
    rng = random.Random(10)
    counts: dict[str, int] = {}
    for item in CORPUS:
        raw = (STREAMS / item["file"]).read_bytes()
        fmt = READ_AS.get(item["format"])
        cut = rng.randrange(1, len(raw))
        if fmt is None:
            got = run([raw[:cut], raw[cut:]])
            assert [e["kind"] for e in got["errors"]] == ["unknown format"], item["file"]
            assert got["outcome"] == "error"
        else:
            want = run([raw[:cut], raw[cut:]], format=fmt)
            assert run([raw[:cut], raw[cut:]]) == want, item["file"]
            assert want["format"] == fmt
        counts[item["format"]] = counts.get(item["format"], 0) + 1
    assert sum(counts.values()) == len(CORPUS) > 600


def test_finish_events_say_what_their_reason_means() -> None:
    """``Finish.outcome`` is known at the finish reason, before the end marker: the agent starts
    a turn's calls on it."""
    acc = toolwire.StreamAccumulator()
    raw = SAMPLES["chat"]
    events = acc.feed(raw[: raw.index(b"usage")])
    (finish,) = [e for e in events if isinstance(e, toolwire.Finish)]
    assert (finish.reason, finish.outcome) == ("tool_calls", "tool_calls")
    assert acc.outcome is None
    for fmt, end, outcome in OUTCOMES:
        if fmt == "chat":
            acc = toolwire.StreamAccumulator()
            events = acc.feed(sse((None, {"choices": [{"index": 0, "delta": {}, **end}]})))
            assert [e.outcome for e in events if isinstance(e, toolwire.Finish)] == [outcome]


def test_groq_usage_in_x_groq() -> None:
    groq = {"usage": {"prompt_tokens": 210, "completion_tokens": 15, "total_tokens": 225}}
    raw = sse(
        (None, {"choices": [{"index": 0, "delta": {"content": "x"}}], "x_groq": {"id": "r"}}),
        (
            None,
            {
                "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                "usage": None,
                "x_groq": {"id": "r", **groq},
            },
        ),
        (None, "[DONE]"),
    )
    got = run([raw])
    assert got["usage"] == groq["usage"]
    assert got["token_usage"] == {"input_tokens": 210, "output_tokens": 15, "total_tokens": 225}
    # A top-level usage object wins.
    raw = sse((None, {"choices": [], "usage": {"prompt_tokens": 1}, "x_groq": groq}))
    assert run([raw])["usage"] == {"prompt_tokens": 1}


def test_a_plain_text_error_event_first_is_reported_and_recognition_waits() -> None:
    raw = b"event: error\ndata: upstream overloaded\n\n" + SAMPLES["anthropic"]
    got = run([raw])
    assert got["errors"] == [] and got["format"] == "anthropic"
    assert got["events"][0] == ["ProviderError", "upstream overloaded", None, None]
    assert got["outcome"] == "error"


# -- one truth, every format: Rust == reference == truth (hypothesis) --------------------------
REFERENCES = {
    "chat": "tests.reference.chat:ReferenceAccumulator",
    "responses": "tests.reference.responses:ReferenceResponsesAccumulator",
    "anthropic": "tests.reference.anthropic:ReferenceAnthropicAccumulator",
    "gemini": "tests.reference.gemini:ReferenceGeminiAccumulator",
    "ollama": "tests.reference.ollama:ReferenceOllamaAccumulator",
}


def _reference(fmt: str) -> Any:
    import importlib

    module, name = REFERENCES[fmt].split(":")
    return getattr(importlib.import_module(module), name)()


def _reads(raw: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % len(raw) for c in cuts} - {0})
    return [raw[a:b] for a, b in zip([0, *points], [*points, len(raw)], strict=True)]


@pytest.mark.parametrize("fmt", list(REFERENCES))
def test_one_truth_in_every_format(fmt: str) -> None:
    """An agent turn (reasoning, text, 0-4 parallel calls) rendered in the format as its API
    streams it (benches/formats.py), cut at points hypothesis picks: the core and the format's
    pure-Python reference give the same events, messages, outcome and usage, and the message is
    the turn's truth; with ``auto`` too."""
    hypothesis = pytest.importorskip("hypothesis")
    st = hypothesis.strategies
    from benches import formats
    from tests.reference import RefLimitExceeded, RefParseError

    @hypothesis.given(
        seed=st.integers(0, 10_000),
        cuts=st.lists(st.integers(1, 1 << 20), max_size=12),
    )
    @hypothesis.settings(deadline=None, max_examples=40)
    def check(seed: int, cuts: list[int]) -> None:
        (turn,) = formats.make_turns(1, seed=seed)
        raw = formats.render(fmt, turn, seed=seed)
        chunks = _reads(raw, cuts)
        want = as_json(
            _drive(_reference(fmt), chunks, lambda e: e, (RefParseError, RefLimitExceeded), 1)
        )
        got = run(chunks, format=fmt)
        assert got == want
        assert run(chunks) == got
        assert got["errors"] == [] and got["outcome"] == ("tool_calls" if turn.calls else "stop")
        assert got["messages"][0] == as_json(formats.expected_message(fmt, turn))

    check()
