"""The Rust core against the official SDKs' own accumulators, on every recorded stream of the
shared corpus: content, reasoning and client tool calls (id, name, arguments as JSON) must be
what the SDK makes of the same bytes, whole and at random splits, with ``format="auto"`` and with
the explicit format (issue 10's bar).

- Anthropic: ``anthropic.lib.streaming._beta_messages.accumulate_event``, the accumulator of
  ``client.messages.stream()``;
- OpenAI Responses: ``ResponseStreamState``, the accumulator of ``client.responses.stream()``
  (fed as ``ResponseStream`` feeds it; tests/test_reference_responses.py lists the 5 recorded
  streams it refuses to read, and why);
- Gemini: google-genai has no accumulator; each chunk parsed by the SDK and candidate 0's parts
  joined, as a user of ``generate_content_stream`` does (tests/test_reference_gemini.py).

The pure-Python references are held to the same SDKs in their own tests, and the core to the
references in test_anthropic.py, test_responses.py and test_gemini.py; this module closes the
triangle directly, so a bug shared by a reference and the core still shows.
"""

from __future__ import annotations

import json
import random
import warnings
from pathlib import Path
from typing import Any

import pytest

import toolwire

STREAMS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "recorded-streams"


def _streams(fmt: str) -> list[str]:
    manifest = STREAMS / "manifest.json"
    if not manifest.is_file():
        return []
    items = json.loads(manifest.read_text())["streams"]
    return sorted(s["file"] for s in items if s["format"] == fmt)


needs_corpus = pytest.mark.skipif(
    not _streams("anthropic-messages"), reason=f"the shared corpus is not present ({STREAMS})"
)


def ours(raw: bytes, fmt: str, rng: random.Random) -> list[dict[str, Any]]:
    """What the core reads, whole and at a random split, with auto and the explicit format;
    all four must be the same message."""
    results = []
    for options in ({}, {"format": fmt}):
        for split in (False, True):
            acc = toolwire.StreamAccumulator(**options)  # type: ignore[arg-type]
            chunks = [raw]
            if split:
                cuts = sorted(rng.sample(range(1, len(raw)), min(8, len(raw) - 1)))
                chunks = [raw[a:b] for a, b in zip([0, *cuts], [*cuts, len(raw)], strict=True)]
            for chunk in chunks:
                acc.feed(chunk)
            acc.finish()
            assert acc.format == fmt
            results.append(
                {
                    "message": acc.message(),
                    "native": acc.message(native=True),
                    "finish_reason": acc.finish_reason,
                    "calls": [
                        (c.id, c.name, c.parsed, c.error and str(c.error))
                        for c in acc.tool_calls
                        if c.finished
                    ],
                }
            )
    assert all(r == results[0] for r in results[1:])
    return results


def _text(message: dict[str, Any]) -> tuple[str, str]:
    return message["content"] or "", message.get("reasoning_content", "")


@needs_corpus
def test_anthropic_streams_match_the_sdk_accumulator() -> None:
    pytest.importorskip("anthropic", reason="the anthropic SDK is not installed")
    from anthropic.lib.streaming._beta_messages import accumulate_event

    from tests.reference.sse import SSEDecoder

    rng = random.Random(1)
    names = _streams("anthropic-messages")
    for name in names:
        raw = (STREAMS / name).read_bytes()
        snapshot: Any = None
        buffers: dict[str, Any] = {}
        decoder = SSEDecoder()
        for event in decoder.feed(raw) + decoder.finish():
            obj = json.loads(event.data)
            if obj.get("type") not in ("ping", "error"):
                snapshot = accumulate_event(
                    event=obj, current_snapshot=snapshot, json_bufs=buffers, request_headers={}
                )
        blocks = [b.to_dict() for b in snapshot.content]
        text = "".join(b["text"] for b in blocks if b["type"] == "text")
        thinking = "".join(b["thinking"] for b in blocks if b["type"] == "thinking")
        calls = [(b["id"], b["name"], b["input"]) for b in blocks if b["type"] == "tool_use"]
        for got in ours(raw, "anthropic", rng)[:1]:
            assert _text(got["message"]) == (text, thinking), name
            if all(error is None for *_, error in got["calls"]):
                assert [c[:3] for c in got["calls"]] == calls, name
            assert got["finish_reason"] == snapshot.stop_reason, name
            signatures = [b.get("signature") for b in blocks if b["type"] == "thinking"]
            native = got["native"]["content"]
            assert [b.get("signature") for b in native if b["type"] == "thinking"] == signatures
            assert [b["type"] for b in native] == [b["type"] for b in blocks], name


@needs_corpus
def test_responses_streams_match_the_sdk_accumulator() -> None:
    pytest.importorskip("openai", reason="the openai SDK is not installed")
    from tests.test_reference_responses import SDK_REFUSES, _sdk_output, _summary_of_output

    rng = random.Random(2)
    names = _streams("openai-responses")
    agreed = 0
    for name in names:
        raw = (STREAMS / name).read_bytes()
        got = ours(raw, "responses", rng)[0]
        mine = (
            *_text(got["message"]),
            got["message"].get("refusal", ""),
            [(i, n, p) for i, n, p, _ in got["calls"]],
        )
        if name in SDK_REFUSES:
            with pytest.raises(RuntimeError), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                _sdk_output(raw)
            continue
        content, reasoning, refusal, calls = _summary_of_output(_sdk_output(raw))
        assert mine == (content, reasoning, refusal, calls), name
        agreed += 1
    assert agreed == len(names) - len(SDK_REFUSES)


@needs_corpus
def test_gemini_streams_match_the_sdk() -> None:
    pytest.importorskip("google.genai", reason="google-genai is not installed")
    from tests.test_reference_gemini import sdk_view

    rng = random.Random(3)
    for name in _streams("google-gemini"):
        raw = (STREAMS / name).read_bytes()
        sdk = sdk_view(raw)
        got = ours(raw, "gemini", rng)[0]
        assert _text(got["message"]) == (sdk["content"], sdk["reasoning"]), name
        assert [(n, p) for _, n, p, _ in got["calls"]] == [
            (c["name"], c["args"]) for c in sdk["calls"]
        ], name
        assert [i for i, *_ in got["calls"]] == [
            c["id"] or f"call_{k}" for k, c in enumerate(sdk["calls"])
        ], name
        assert got["finish_reason"] == sdk["finish"], name


# Where openai's chat accumulator is wrong and the core right, with why.
SDK_CHAT_WRONG = {
    # Mistral's typed content parts: the SDK drops them, "391" reads "91" (issue 10).
    "vercel-ai__openai-compatible-chat-issue-13703-mistral-thinking.sse": "typed content parts",
}


def _repeated(mine: tuple[Any, ...], theirs: tuple[Any, ...]) -> tuple[Any, ...]:
    """Ours as the SDK shows it: the SDK appends an id or name a provider repeats in every
    fragment ("00", "llm_versionllm_version"); the core sets them once (semantics section 3)."""
    out = list(mine)
    for i in (0, 1):
        if (
            mine[i]
            and theirs[i] != mine[i]
            and theirs[i] == mine[i] * (len(theirs[i]) // len(mine[i]))
        ):
            out[i] = theirs[i]
    return tuple(out)


@needs_corpus
def test_chat_streams_match_the_sdk_accumulator() -> None:
    """openai's ``ChatCompletionStreamState`` (the accumulator of
    ``client.chat.completions.stream()``), fed each chunk as its ``Stream`` parses it."""
    pytest.importorskip("openai", reason="the openai SDK is not installed")
    from openai._streaming import SSEDecoder as SDKDecoder
    from openai.lib.streaming.chat import ChatCompletionStreamState
    from openai.types.chat import ChatCompletionChunk

    rng = random.Random(4)
    compared, refused, differ = 0, [], []
    for name in _streams("openai-chat"):
        raw = (STREAMS / name).read_bytes()
        state = ChatCompletionStreamState()
        fed = 0
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                for event in SDKDecoder().iter_bytes(iter([raw])):
                    if event.data.startswith("[DONE]"):
                        break
                    data = event.json()
                    if not isinstance(data, dict) or data.get("error") or "choices" not in data:
                        continue  # openai's Stream raises on error objects; ours report them
                    state.handle_chunk(ChatCompletionChunk.construct(**data))
                    fed += 1
        except (TypeError, IndexError, KeyError, AttributeError, RuntimeError):
            # Quirks the SDK's accumulator does not survive (a tool call without `index`...):
            # the core reads them (test_conformance.py holds it to the reference there).
            refused.append(name)
            continue
        if not fed:
            continue
        snapshot = state.current_completion_snapshot
        theirs = next((c for c in snapshot.choices if c.index == 0), None)
        if theirs is None:
            continue
        got = ours(raw, "chat", rng)[0]
        message = theirs.message
        calls = [
            (c.id, c.function.name, json.loads(c.function.arguments or "{}"))
            for c in message.tool_calls or []
        ]
        mine = [(i, n, p) for i, n, p, error in got["calls"] if error is None]
        if len(mine) == len(got["calls"]):
            mine = [_repeated(m, t) for m, t in zip(mine, calls, strict=False)]
        else:
            mine, calls = [], []  # a call the core refused: the SDK has no verdict to compare
        if ((got["message"]["content"] or ""), mine) != ((message.content or ""), calls):
            differ.append(name)
        compared += 1
    assert sorted(differ) == sorted(SDK_CHAT_WRONG), differ
    # 272 compared, 26 the SDK cannot read (tool calls without `index`, citation lists...).
    assert compared > 250 and len(refused) < 40, (compared, refused)
