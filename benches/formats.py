"""One truth, every wire format: seeded agent turns rendered as Chat Completions, Anthropic
Messages, OpenAI Responses, Gemini (``alt=sse``) and Ollama (``/api/chat`` NDJSON) bytes.

Nothing is downloaded and no recording is copied: the shapes follow the official SDK types
(``anthropic.types.RawMessageStreamEvent``, ``openai.types.responses.ResponseStreamEvent``,
``google.genai.types.GenerateContentResponse``, ``ollama.ChatResponse``) and the recorded streams
of /work/shared/corpus/recorded-streams, whose fragment sizes they copy (medians over the corpus):

=============  ===========================================================================
chat           ``workloads.render``: one token per chunk, arguments in 1-15-char fragments,
               reasoning as ``reasoning_content`` deltas, the ``include_usage`` chunk
anthropic      ``event:`` + ``data:``; thinking block (+ ``signature_delta``), text block,
               ``tool_use`` blocks; ``ping`` after the first block start; text and thinking
               deltas of 1-5 tokens (recorded median 11-12 chars), ``input_json_delta`` of
               1-13 chars (median 7), an empty ``partial_json`` first, as recorded
responses      ``event:`` + ``data:``, ``sequence_number`` on every event; a reasoning item
               (summary deltas), a message item (``output_text.delta`` per token, median 4
               chars), one ``function_call`` item per call (argument deltas of 1-6 chars,
               median 2-3), each with its ``.done`` events; ``response.completed`` repeats
               the whole output and carries the usage
gemini         ``data:`` lines ending ``\\r\\n\\r\\n`` (as the API sends them); ``thought``
               parts of 100-400 chars, text parts of 20-120 chars (recorded medians 354, 25),
               each ``functionCall`` whole with an ``args`` object (the first one with a
               ``thoughtSignature``), ``usageMetadata`` on every chunk, ``finishReason`` last
ollama         one JSON object per line; ``thinking`` and ``content`` one token per line,
               every tool call whole (``arguments`` an object) in its own line, then the
               ``done`` line with ``done_reason`` and the counts
=============  ===========================================================================

``expected_message(fmt, turn)`` is the ``StreamAccumulator(format=fmt).message()`` the truth
implies (docs/semantics.md sections 7, 10 and 11: OpenAI-shaped; a call the wire sends without
an id is ``call_<ordinal>``; arguments sent as an object are its compact JSON, tokens as sent).
``expected_view(fmt, turn)`` is the same turn as every SDK peer is checked against (text,
reasoning, calls with their wire ids and parsed arguments; benches/format_peers.py).
"""

from __future__ import annotations

import base64
import json
import random
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from benches import workloads
from benches.workloads import (
    _TOOLS,
    CallTruth,
    StreamTruth,
    Style,
    _call_id,
    _pieces,
    _small_arguments,
    _text_tokens,
    make_arguments,
    split_reads,
)

__all__ = [
    "FORMATS",
    "TURNS",
    "FormatWorkload",
    "Turn",
    "expected_message",
    "expected_view",
    "get",
    "make_turns",
    "render",
    "wire_call_id",
]

FORMATS = ("chat", "anthropic", "responses", "gemini", "ollama")
SEED = 20250611
_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


# ---------------------------------------------------------------------------------- truth
@dataclass
class Turn:
    """One assistant turn: reasoning, text and calls, as tokens (the renderers regroup them)."""

    reasoning_tokens: list[str]
    content_tokens: list[str]
    calls: list[CallTruth]  # ``id``: a chat-style ``call_...`` id; ``arguments``: JSON text
    input_tokens: int = 42
    seed: int = 0

    @property
    def reasoning(self) -> str:
        return "".join(self.reasoning_tokens)

    @property
    def content(self) -> str:
        return "".join(self.content_tokens)

    @property
    def output_tokens(self) -> int:
        frags = sum(max(1, len(c.arguments) // 4) for c in self.calls)
        return len(self.reasoning_tokens) + len(self.content_tokens) + frags

    def stream_truth(self) -> StreamTruth:
        return StreamTruth(
            content=self.content,
            reasoning=self.reasoning,
            calls=list(self.calls),
            finish_reason="tool_calls" if self.calls else "stop",
        )


def _arguments(rng: random.Random, i: int) -> str:
    """A call's arguments: mostly small objects, one in eight a record list of 0.3-1.5 KB."""
    if rng.random() < 0.125:
        return make_arguments(rng.randint(300, 1500), seed=SEED + i)
    return _small_arguments(rng)


def make_turns(count: int, seed: int = SEED) -> list[Turn]:
    """``count`` agent turns: reasoning (10-50 tokens), text (10-60 tokens) and 0-4 parallel
    calls (weights 15/25/30/20/10%)."""
    rng = random.Random(f"format-turns-{seed}")
    turns = []
    for i in range(count):
        n_calls = rng.choices((0, 1, 2, 3, 4), (0.15, 0.25, 0.30, 0.20, 0.10))[0]
        calls = [
            CallTruth(_call_id(rng), rng.choice(_TOOLS), _arguments(rng, i * 8 + k))
            for k in range(n_calls)
        ]
        turns.append(
            Turn(
                reasoning_tokens=_text_tokens(rng, rng.randint(10, 50)),
                content_tokens=_text_tokens(rng, rng.randint(10, 60)),
                calls=calls,
                input_tokens=rng.randint(200, 4000),
                seed=i,
            )
        )
    return turns


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _anthropic_id(call: CallTruth) -> str:
    return "toolu_01" + call.id[5:27]


def wire_call_id(fmt: str, call: CallTruth) -> str | None:
    """The id the wire carries for ``call`` (None: the format sends none)."""
    if fmt in ("chat", "responses"):
        return call.id
    if fmt == "anthropic":
        return _anthropic_id(call)
    return None


def expected_message(fmt: str, turn: Turn) -> dict[str, Any]:
    """``message()`` of the accumulator reading ``turn`` in ``fmt`` (OpenAI-shaped)."""
    msg: dict[str, Any] = {"role": "assistant", "content": turn.content or None}
    if turn.reasoning:
        msg["reasoning_content"] = turn.reasoning
    if turn.calls:
        calls = []
        for i, call in enumerate(turn.calls):
            if fmt in ("gemini", "ollama"):
                # Sent as an object: its compact JSON (tokens as sent, raw UTF-8), no id.
                arguments = _compact(json.loads(call.arguments))
            else:
                arguments = call.arguments
            calls.append(
                {
                    "id": wire_call_id(fmt, call) or f"call_{i}",
                    "type": "function",
                    "function": {"name": call.name, "arguments": arguments},
                }
            )
        msg["tool_calls"] = calls
    return msg


def expected_view(fmt: str, turn: Turn) -> dict[str, Any]:
    """The turn as the SDK peers are compared (benches/format_peers.py, ``view``)."""
    return {
        "content": turn.content,
        "reasoning": turn.reasoning,
        "calls": [
            {"id": wire_call_id(fmt, c), "name": c.name, "arguments": json.loads(c.arguments)}
            for c in turn.calls
        ],
    }


# ------------------------------------------------------------------------------ renderers
def _rand_id(rng: random.Random, n: int, alphabet: str = _ALNUM) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def _group(rng: random.Random, tokens: list[str], lo: int, hi: int) -> list[str]:
    """Tokens joined ``lo``..``hi`` at a time (providers that send several tokens per delta)."""
    out, i = [], 0
    while i < len(tokens):
        n = rng.randint(lo, hi)
        out.append("".join(tokens[i : i + n]))
        i += n
    return out


def _chunks_of(rng: random.Random, tokens: list[str], lo: int, hi: int) -> list[str]:
    """Tokens joined into pieces of about ``lo``..``hi`` characters (Gemini's chunks)."""
    out: list[str] = []
    cur: list[str] = []
    size = 0
    want = rng.randint(lo, hi)
    for tok in tokens:
        cur.append(tok)
        size += len(tok)
        if size >= want:
            out.append("".join(cur))
            cur, size, want = [], 0, rng.randint(lo, hi)
    if cur:
        out.append("".join(cur))
    return out


def _signature(rng: random.Random, nbytes: int) -> str:
    return base64.b64encode(rng.randbytes(nbytes)).decode()


def _obfuscation(rng: random.Random, delta: str) -> str:
    # The Responses API pads short deltas with a random string (the recorded streams have it).
    return _rand_id(rng, max(1, 16 - len(delta)))


def render_chat(turn: Turn, rng: random.Random) -> bytes:
    truth = turn.stream_truth()
    return workloads.render(
        truth,
        Style(include_usage=True),
        rng,
        tokens=turn.content_tokens,
        reasoning_tokens=turn.reasoning_tokens,
    )


def _sse(event: str, data: dict[str, Any], pad: str = "") -> str:
    return f"event: {event}\ndata: {_compact(data)}{pad}\n\n"


def render_anthropic(turn: Turn, rng: random.Random) -> bytes:
    out: list[str] = []
    usage = {
        "input_tokens": turn.input_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
        "output_tokens": 1,
        "service_tier": "standard",
    }
    out.append(
        _sse(
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "model": "claude-sonnet-4-5-20250929",
                    "id": "msg_01" + _rand_id(rng, 22),
                    "type": "message",
                    "role": "assistant",
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": usage,
                },
            },
        )
    )
    index = 0

    def start(block: dict[str, Any]) -> None:
        out.append(
            _sse(
                "content_block_start",
                {"type": "content_block_start", "index": index, "content_block": block},
            )
        )
        if index == 0:
            out.append('event: ping\ndata: {"type": "ping"}\n\n')

    def delta(d: dict[str, Any]) -> None:
        out.append(
            _sse("content_block_delta", {"type": "content_block_delta", "index": index, "delta": d})
        )

    def stop() -> None:
        nonlocal index
        out.append(_sse("content_block_stop", {"type": "content_block_stop", "index": index}))
        index += 1

    if turn.reasoning_tokens:
        start({"type": "thinking", "thinking": "", "signature": ""})
        for piece in _group(rng, turn.reasoning_tokens, 1, 5):
            delta({"type": "thinking_delta", "thinking": piece})
        delta({"type": "signature_delta", "signature": _signature(rng, rng.randint(240, 600))})
        stop()
    if turn.content_tokens:
        start({"type": "text", "text": ""})
        for piece in _group(rng, turn.content_tokens, 1, 5):
            delta({"type": "text_delta", "text": piece})
        stop()
    for call in turn.calls:
        start({"type": "tool_use", "id": _anthropic_id(call), "name": call.name, "input": {}})
        delta({"type": "input_json_delta", "partial_json": ""})
        for piece in _pieces(rng, call.arguments, 1, 13):
            delta({"type": "input_json_delta", "partial_json": piece})
        stop()
    out.append(
        _sse(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {
                    "stop_reason": "tool_use" if turn.calls else "end_turn",
                    "stop_sequence": None,
                },
                "usage": {
                    "input_tokens": turn.input_tokens,
                    "cache_creation_input_tokens": 0,
                    "cache_read_input_tokens": 0,
                    "output_tokens": turn.output_tokens,
                },
            },
        )
    )
    out.append(_sse("message_stop", {"type": "message_stop"}))
    return "".join(out).encode()


_TOOL_ECHO = [
    {
        "type": "function",
        "description": f"{name.replace('_', ' ').capitalize()}.",
        "name": name,
        "parameters": {
            "type": "object",
            "properties": {"query": {"type": "string"}, "limit": {"type": "integer"}},
            "required": [],
            "additionalProperties": True,
        },
        "strict": False,
    }
    for name in _TOOLS[:4]
]


def render_responses(turn: Turn, rng: random.Random) -> bytes:
    out: list[str] = []
    seq = 0
    resp_id = "resp_" + _rand_id(rng, 50, "0123456789abcdef")
    created = 1_760_000_000 + rng.randint(0, 10_000_000)
    model = "gpt-5-2025-08-07"

    def response(status: str, output: list[Any], usage: Any) -> dict[str, Any]:
        return {
            "id": resp_id,
            "object": "response",
            "created_at": created,
            "status": status,
            "background": False,
            "error": None,
            "incomplete_details": None,
            "instructions": None,
            "max_output_tokens": None,
            "max_tool_calls": None,
            "model": model,
            "output": output,
            "parallel_tool_calls": True,
            "previous_response_id": None,
            "prompt_cache_key": None,
            "reasoning": {"effort": "medium", "summary": "detailed"},
            "safety_identifier": None,
            "service_tier": "default",
            "store": True,
            "temperature": 1.0,
            "text": {"format": {"type": "text"}, "verbosity": "medium"},
            "tool_choice": "auto",
            "tools": _TOOL_ECHO,
            "top_logprobs": 0,
            "top_p": 1.0,
            "truncation": "disabled",
            "usage": usage,
            "user": None,
            "metadata": {},
        }

    def emit(kind: str, **fields: Any) -> None:
        nonlocal seq
        out.append(_sse(kind, {"type": kind, "sequence_number": seq, **fields}))
        seq += 1

    emit("response.created", response=response("in_progress", [], None))
    emit("response.in_progress", response=response("in_progress", [], None))
    done_items: list[dict[str, Any]] = []
    if turn.reasoning_tokens:
        oi = len(done_items)
        rid = "rs_" + _rand_id(rng, 50, "0123456789abcdef")
        text = turn.reasoning
        emit(
            "response.output_item.added",
            output_index=oi,
            item={"id": rid, "type": "reasoning", "summary": []},
        )
        part: dict[str, Any] = {"type": "summary_text", "text": ""}
        emit(
            "response.reasoning_summary_part.added",
            item_id=rid,
            output_index=oi,
            part=part,
            summary_index=0,
        )
        for tok in turn.reasoning_tokens:
            emit(
                "response.reasoning_summary_text.delta",
                delta=tok,
                item_id=rid,
                obfuscation=_obfuscation(rng, tok),
                output_index=oi,
                summary_index=0,
            )
        emit(
            "response.reasoning_summary_text.done",
            item_id=rid,
            output_index=oi,
            summary_index=0,
            text=text,
        )
        part = {"type": "summary_text", "text": text}
        emit(
            "response.reasoning_summary_part.done",
            item_id=rid,
            output_index=oi,
            part=part,
            summary_index=0,
        )
        item = {"id": rid, "type": "reasoning", "summary": [part]}
        emit("response.output_item.done", output_index=oi, item=item)
        done_items.append(item)
    if turn.content_tokens:
        oi = len(done_items)
        mid = "msg_" + _rand_id(rng, 50, "0123456789abcdef")
        text = turn.content
        added = {
            "id": mid,
            "type": "message",
            "status": "in_progress",
            "content": [],
            "role": "assistant",
        }
        emit("response.output_item.added", output_index=oi, item=added)
        part = {"type": "output_text", "annotations": [], "logprobs": [], "text": ""}
        emit(
            "response.content_part.added", content_index=0, item_id=mid, output_index=oi, part=part
        )
        for tok in turn.content_tokens:
            emit(
                "response.output_text.delta",
                content_index=0,
                delta=tok,
                item_id=mid,
                logprobs=[],
                obfuscation=_obfuscation(rng, tok),
                output_index=oi,
            )
        emit(
            "response.output_text.done",
            content_index=0,
            item_id=mid,
            logprobs=[],
            output_index=oi,
            text=text,
        )
        part = {"type": "output_text", "annotations": [], "logprobs": [], "text": text}
        emit("response.content_part.done", content_index=0, item_id=mid, output_index=oi, part=part)
        item = {
            "id": mid,
            "type": "message",
            "status": "completed",
            "content": [part],
            "role": "assistant",
        }
        emit("response.output_item.done", output_index=oi, item=item)
        done_items.append(item)
    for call in turn.calls:
        oi = len(done_items)
        fid = "fc_" + _rand_id(rng, 50, "0123456789abcdef")
        head = {
            "id": fid,
            "type": "function_call",
            "status": "in_progress",
            "arguments": "",
            "call_id": call.id,
            "name": call.name,
        }
        emit("response.output_item.added", output_index=oi, item=head)
        for piece in _pieces(rng, call.arguments, 1, 6):
            emit(
                "response.function_call_arguments.delta",
                delta=piece,
                item_id=fid,
                obfuscation=_obfuscation(rng, piece),
                output_index=oi,
            )
        emit(
            "response.function_call_arguments.done",
            arguments=call.arguments,
            item_id=fid,
            output_index=oi,
        )
        item = {**head, "status": "completed", "arguments": call.arguments}
        emit("response.output_item.done", output_index=oi, item=item)
        done_items.append(item)
    reasoning_tokens = len(turn.reasoning_tokens) * 3
    usage = {
        "input_tokens": turn.input_tokens,
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": turn.output_tokens + reasoning_tokens,
        "output_tokens_details": {"reasoning_tokens": reasoning_tokens},
        "total_tokens": turn.input_tokens + turn.output_tokens + reasoning_tokens,
    }
    completed = response("completed", done_items, usage)
    completed["completed_at"] = created + rng.randint(2, 40)
    emit("response.completed", response=completed)
    return "".join(out).encode()


def _gemini_json(obj: Any) -> str:
    # The API's own spacing: ": " after keys, "," between members, raw UTF-8.
    return json.dumps(obj, separators=(",", ": "), ensure_ascii=False)


def render_gemini(turn: Turn, rng: random.Random) -> bytes:
    out: list[str] = []
    response_id = _rand_id(rng, 23)
    model = "gemini-2.5-flash"
    prompt = turn.input_tokens
    thoughts = len(turn.reasoning_tokens) * 3
    produced = 0
    chunks: list[tuple[list[dict[str, Any]], int]] = []  # (parts, tokens it carries)
    for piece in _chunks_of(rng, turn.reasoning_tokens, 100, 400):
        chunks.append(([{"text": piece, "thought": True}], 0))
    for piece in _chunks_of(rng, turn.content_tokens, 20, 120):
        chunks.append(([{"text": piece}], max(1, len(piece) // 4)))
    calls: list[dict[str, Any]] = []
    for k, call in enumerate(turn.calls):
        part: dict[str, Any] = {
            "functionCall": {"name": call.name, "args": json.loads(call.arguments)}
        }
        if k == 0:
            part["thoughtSignature"] = _signature(rng, rng.randint(300, 900))
        calls.append(part)
    if calls:
        # Parallel calls: all in one chunk, or one chunk each (both are recorded).
        tokens = max(1, sum(len(c.arguments) for c in turn.calls) // 4)
        if rng.random() < 0.5:
            chunks.append((calls, tokens))
        else:
            chunks.extend(([c], tokens // len(calls)) for c in calls)
    if not chunks:
        chunks.append(([{"text": ""}], 0))
    for n, (parts, tokens) in enumerate(chunks):
        produced += tokens
        candidate: dict[str, Any] = {"content": {"parts": parts, "role": "model"}}
        if n == len(chunks) - 1:
            candidate["finishReason"] = "STOP"
        candidate["index"] = 0
        usage = {
            "promptTokenCount": prompt,
            "candidatesTokenCount": produced,
            "totalTokenCount": prompt + produced + thoughts,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt}],
            "thoughtsTokenCount": thoughts,
        }
        chunk = {
            "candidates": [candidate],
            "usageMetadata": usage,
            "modelVersion": model,
            "responseId": response_id,
        }
        out.append(f"data: {_gemini_json(chunk)}\r\n\r\n")
    return "".join(out).encode()


def render_ollama(turn: Turn, rng: random.Random) -> bytes:
    out: list[str] = []
    model = "qwen3:8b"
    t = 1_749_000_000.0 + rng.randint(0, 10_000_000)
    nanos = rng.randint(0, 999_999_999)

    def stamp() -> str:
        nonlocal nanos, t
        nanos += rng.randint(8_000_000, 30_000_000)
        t += nanos // 1_000_000_000
        nanos %= 1_000_000_000
        whole = int(t)
        day, sec = divmod(whole - 1_748_736_000, 86_400)  # days after 2025-06-01
        h, rem = divmod(sec, 3600)
        m, s = divmod(rem, 60)
        return f"2025-06-{1 + day % 28:02d}T{h:02d}:{m:02d}:{s:02d}.{nanos:09d}Z"

    def line(message: dict[str, Any], **extra: Any) -> None:
        obj = {"model": model, "created_at": stamp(), "message": message, "done": False}
        obj.update(extra)
        out.append(_compact(obj) + "\n")

    for tok in turn.reasoning_tokens:
        line({"role": "assistant", "content": "", "thinking": tok})
    for tok in turn.content_tokens:
        line({"role": "assistant", "content": tok})
    for call in turn.calls:
        fn = {"name": call.name, "arguments": json.loads(call.arguments)}
        line({"role": "assistant", "content": "", "tool_calls": [{"function": fn}]})
    evals = turn.output_tokens
    final = {
        "model": model,
        "created_at": stamp(),
        "message": {"role": "assistant", "content": ""},
        "done": True,
        "done_reason": "stop",
        "total_duration": rng.randint(10**9, 10**10),
        "load_duration": rng.randint(10**7, 10**8),
        "prompt_eval_count": turn.input_tokens,
        "prompt_eval_duration": rng.randint(10**7, 10**9),
        "eval_count": evals,
        "eval_duration": rng.randint(10**8, 10**10),
    }
    out.append(_compact(final) + "\n")
    return "".join(out).encode()


RENDERERS = {
    "chat": render_chat,
    "anthropic": render_anthropic,
    "responses": render_responses,
    "gemini": render_gemini,
    "ollama": render_ollama,
}


def render(fmt: str, turn: Turn, seed: int = SEED) -> bytes:
    """The wire bytes of ``turn`` in ``fmt`` (deterministic)."""
    return RENDERERS[fmt](turn, random.Random(f"render-{fmt}-{seed}-{turn.seed}"))


# ------------------------------------------------------------------------------ workloads
@dataclass
class FormatWorkload:
    format: str
    turns: list[Turn]
    bodies: list[bytes]
    expected: list[dict[str, Any]]  # toolwire's message()
    views: list[dict[str, Any]]  # the SDK peers' view
    _reads: dict[str, list[list[bytes]]] = field(default_factory=dict, repr=False)

    @property
    def nbytes(self) -> int:
        return sum(len(b) for b in self.bodies)

    def head(self, max_bytes: int, at_least: int = 1) -> int:
        """How many of the first bodies fit in ``max_bytes`` (at least ``at_least``)."""
        n = size = 0
        for body in self.bodies:
            if n >= at_least and size + len(body) > max_bytes:
                break
            n += 1
            size += len(body)
        return n

    def reads(self, read: str = "net") -> list[list[bytes]]:
        """Every body cut by the splitter ``read`` (benches/workloads.py ``READS``)."""
        if read not in self._reads:
            self._reads[read] = [split_reads(b, read, seed=i) for i, b in enumerate(self.bodies)]
        return self._reads[read]


TURNS = 40  # turns of the gate's workload ("agent-40")


@cache
def _turns(count: int) -> tuple[Turn, ...]:
    return tuple(make_turns(count))


@cache
def get(fmt: str, count: int = TURNS) -> FormatWorkload:
    """``count`` turns (``make_turns``) rendered in ``fmt``; built once per process."""
    turns = list(_turns(count))
    return FormatWorkload(
        fmt,
        turns,
        [render(fmt, t) for t in turns],
        [expected_message(fmt, t) for t in turns],
        [expected_view(fmt, t) for t in turns],
    )
