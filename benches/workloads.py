"""Seeded, deterministic benchmark workloads: chat-completions SSE bodies and their truth.

Nothing is downloaded. Every workload is generated from a *truth* (the text, reasoning and tool
calls a stream carries) that is then *rendered* as SSE bytes in the recorded OpenAI style
(compact chunk JSON with ``id``/``object``/``created``/``model``/``system_fingerprint``,
``logprobs: null``, a role chunk first, a finish chunk, optionally the ``include_usage`` chunk,
``data: [DONE]``) or with a provider quirk. The expected final ``message()`` of each stream is
computed from the truth, never from toolwire.

Workloads (``WORKLOADS``; build one with ``get(name)``, cached per process):

=====================  ======================================================================
``text-2000``          one text-only stream of 2,000 small content deltas
``call-2k``            one call, ~2 KB of arguments
``parallel-4x1k``      four parallel calls of ~1 KB, fragments interleaved (routed by index)
``call-200k``          one call, ~200 KB of arguments
``small-1000``         1,000 small streams: 40% text, 35% one call, 25% three parallel calls
``azure``              Azure: empty ``choices`` + ``prompt_filter_results`` first, content
                       filter results on every choice, delta-less content-filter chunks
``usage-every-chunk``  a ``usage`` object on every chunk
``index-zero``         parallel calls all sent with ``index: 0`` (told apart by their ids)
``no-index``           tool-call fragments without ``index``
``args-object``        arguments sent once as a JSON object instead of a string
``deepseek-reasoning`` ``reasoning_content`` deltas before the content
``openrouter-comments`` ``: OPENROUTER PROCESSING`` comment lines between events
``no-done``            streams that end without ``data: [DONE]``
=====================  ======================================================================

Read splitters (``READS``): ``"1"`` (1-byte reads), ``"64"``, ``"net"`` (seeded 1-4 KB reads,
like a socket), ``"whole"`` (the body in one read).

Argument payloads are structured (lists of records with strings, numbers, nested objects and
some escapes), rendered with ``json.dumps`` and cut into token-sized fragments (1-15 chars,
~8 on average).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from functools import cache
from typing import Any

__all__ = [
    "QUIRKS",
    "READS",
    "WORKLOADS",
    "CallTruth",
    "StreamTruth",
    "Style",
    "Workload",
    "argument_fragments",
    "expected_message",
    "get",
    "long_line_pair",
    "make_arguments",
    "partial_call_chunks",
    "render",
    "split_reads",
]

READS = ("1", "64", "net", "whole")
QUIRKS = (
    "azure",
    "usage-every-chunk",
    "index-zero",
    "no-index",
    "args-object",
    "deepseek-reasoning",
    "openrouter-comments",
    "no-done",
)
WORKLOADS = ("text-2000", "call-2k", "parallel-4x1k", "call-200k", "small-1000", *QUIRKS)

SEED = 20241122

_WORDS = [
    "the",
    "of",
    "and",
    "to",
    "in",
    "is",
    "that",
    "for",
    "it",
    "as",
    "with",
    "was",
    "on",
    "be",
    "by",
    "this",
    "are",
    "from",
    "at",
    "or",
    "an",
    "have",
    "not",
    "which",
    "but",
    "all",
    "they",
    "one",
    "had",
    "their",
    "has",
    "more",
    "been",
    "were",
    "would",
    "there",
    "when",
    "will",
    "can",
    "into",
    "stream",
    "token",
    "parser",
    "value",
    "request",
    "response",
    "function",
    "weather",
    "forecast",
    "temperature",
    "city",
    "report",
    "summary",
    "result",
    "error",
    "retry",
    "network",
    "latency",
    "buffer",
    "record",
    "database",
    "schema",
    "query",
    "customer",
    "invoice",
    "order",
    "shipment",
    "payment",
    "balance",
    "account",
    "address",
    "street",
    "country",
    "region",
    "café",
    "naïve",
    "Zürich",
    "São",
    "Paulo",
    "Kraków",
    "Ελλάδα",
    "Москва",
    "東京",
    "서울",
    "日本語",
    "🙂",
    "🚀",
    "—",
    "“quoted”",
]
_NAMES = (
    "Alice",
    "Bob",
    "Chloé",
    "Dmitri",
    "Eve",
    "François",
    "Grace",
    "Hiro",
    "Ingrid",
    "José",
    "Kwame",
    "Léa",
    "Mateo",
    "Nadia",
    "Olu",
    "Priya",
    "Quinn",
    "Renée",
    "Søren",
)
_CITIES = (
    "Paris",
    "Berlin",
    "Zürich",
    "São Paulo",
    "Tokyo",
    "東京",
    "Lagos",
    "Kraków",
    "New York",
    "Montréal",
    "Reykjavík",
    "Seoul",
)
_TOOLS = (
    "get_weather",
    "search_records",
    "create_invoice",
    "lookup_customer",
    "send_email",
    "query_database",
    "list_orders",
    "update_ticket",
)
_MODELS = ("gpt-4o-mini-2024-07-18", "gpt-4o-2024-08-06", "gpt-4.1-2025-04-14")


# ---------------------------------------------------------------------------------- truth
@dataclass
class CallTruth:
    id: str
    name: str
    arguments: str  # the arguments text exactly as the message will show it
    as_object: Any = None  # quirk: sent once as this JSON value instead of a string


@dataclass
class StreamTruth:
    content: str = ""
    reasoning: str = ""
    calls: list[CallTruth] = field(default_factory=list)
    finish_reason: str = "stop"
    usage: dict[str, int] | None = None


def expected_message(truth: StreamTruth) -> dict[str, Any]:
    """The final ``message()`` of choice 0 that docs/semantics.md section 7 implies."""
    msg: dict[str, Any] = {"role": "assistant", "content": truth.content or None}
    if truth.reasoning:
        msg["reasoning_content"] = truth.reasoning
    if truth.calls:
        msg["tool_calls"] = [
            {
                "id": c.id,
                "type": "function",
                "function": {"name": c.name, "arguments": c.arguments or "{}"},
            }
            for c in truth.calls
        ]
    return msg


# -------------------------------------------------------------------------------- payloads
def _sentence(rng: random.Random, lo: int, hi: int) -> str:
    words = [rng.choice(_WORDS) for _ in range(rng.randint(lo, hi))]
    text = " ".join(words)
    return text[:1].upper() + text[1:] + rng.choice(".!?")


def _record(rng: random.Random, i: int) -> dict[str, Any]:
    name = f"{rng.choice(_NAMES)} {rng.choice(_NAMES)}son"
    rec: dict[str, Any] = {
        "id": 10_000 + i,
        "name": name,
        "email": f"{name.split()[0].lower()}.{i}@example.com",
        "score": round(rng.uniform(0, 100), 3),
        "active": rng.random() < 0.7,
        "tags": rng.sample(
            ["vip", "new", "late", "eu", "us", "apac", "b2b", "trial"], rng.randint(0, 4)
        ),
        "address": {
            "street": f"{rng.randint(1, 999)} {rng.choice(_WORDS).title()} Street",
            "city": rng.choice(_CITIES),
            "zip": f"{rng.randint(0, 99999):05d}",
            "geo": {"lat": round(rng.uniform(-90, 90), 5), "lon": round(rng.uniform(-180, 180), 5)},
        },
        "orders": [
            {
                "sku": f"SKU-{rng.randint(100, 999)}",
                "qty": rng.randint(1, 20),
                "price": round(rng.uniform(1, 500), 2),
            }
            for _ in range(rng.randint(0, 3))
        ],
    }
    roll = rng.random()
    if roll < 0.2:
        rec["notes"] = None
    elif roll < 0.5:
        # Escapes: quotes, backslashes, newlines, tabs, a \u escape from a control character.
        rec["notes"] = f'Said "{_sentence(rng, 2, 6)}"\n\tpath C:\\data\\{i}.csv' + (
            "\x01" if rng.random() < 0.2 else ""
        )
    else:
        rec["notes"] = _sentence(rng, 3, 12)
    return rec


def make_arguments(size: int, seed: int = SEED) -> str:
    """A tool-call argument object of about ``size`` bytes (UTF-8), rendered by ``json.dumps``."""
    rng = random.Random(f"args-{size}-{seed}")
    obj: dict[str, Any] = {
        "query": _sentence(rng, 3, 8),
        "limit": rng.randint(10, 500),
        "filters": {"active": True, "min_score": 12.5, "regions": ["eu", "us"]},
        "records": [],
    }
    used = len(json.dumps(obj).encode())
    i = 0
    while used < size:
        rec = _record(rng, i)
        used += len(json.dumps(rec).encode()) + 2
        obj["records"].append(rec)
        i += 1
    return json.dumps(obj)


def _small_arguments(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.4:
        return json.dumps(
            {"city": rng.choice(_CITIES), "unit": rng.choice(["celsius", "fahrenheit"])}
        )
    if kind < 0.8:
        return json.dumps(
            {
                "query": _sentence(rng, 3, 10),
                "limit": rng.randint(1, 50),
                "include_archived": rng.random() < 0.5,
            }
        )
    return json.dumps({"records": [_record(rng, i) for i in range(rng.randint(1, 2))]})


def _pieces(rng: random.Random, text: str, lo: int = 1, hi: int = 15) -> list[str]:
    """Cut ``text`` into fragments of ``lo``..``hi`` characters (token-like)."""
    out = []
    i = 0
    while i < len(text):
        n = rng.randint(lo, hi)
        out.append(text[i : i + n])
        i += n
    return out


def _text_tokens(rng: random.Random, n_tokens: int) -> list[str]:
    """``n_tokens`` small content deltas, each a word (with its leading space) or a piece of one."""
    out: list[str] = []
    while len(out) < n_tokens:
        word = rng.choice(_WORDS)
        if rng.random() < 0.05:
            word += rng.choice([".", ",", "\n\n", "!"])
        word = (" " if out else "") + word
        if len(word) > 6 and rng.random() < 0.5:
            out.extend([word[:4], word[4:]])
        else:
            out.append(word)
    return out[:n_tokens]


def argument_fragments(arguments: str, seed: int = SEED, lo: int = 1, hi: int = 15) -> list[str]:
    """Token-sized fragments (``lo``..``hi`` chars, ~8 on average) of an arguments text."""
    return _pieces(random.Random(f"frag-{len(arguments)}-{seed}-{lo}-{hi}"), arguments, lo, hi)


# ------------------------------------------------------------------------------- rendering
@dataclass
class Style:
    """How a truth is turned into SSE bytes (provider quirks)."""

    azure: bool = False
    include_usage: bool = False  # a final chunk with ``choices: []`` and the usage
    usage_every_chunk: bool = False
    index_zero: bool = False
    no_index: bool = False
    args_object: bool = False
    comments: bool = False  # OpenRouter ": OPENROUTER PROCESSING" lines
    done: bool = True
    interleave: bool = False  # fragments of parallel calls interleaved (routed by index)
    openrouter: bool = False


_FILTER_OK = {
    "hate": {"filtered": False, "severity": "safe"},
    "self_harm": {"filtered": False, "severity": "safe"},
    "sexual": {"filtered": False, "severity": "safe"},
    "violence": {"filtered": False, "severity": "safe"},
}


def _dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def render(
    truth: StreamTruth,
    style: Style,
    rng: random.Random,
    tokens: list[str] | None = None,
    reasoning_tokens: list[str] | None = None,
) -> bytes:
    """SSE bytes for ``truth`` in ``style``. ``tokens`` fix the content deltas if given."""
    cid = "chatcmpl-" + "".join(
        rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
        for _ in range(29)
    )
    created = 1_731_000_000 + rng.randint(0, 10_000_000)
    model = rng.choice(_MODELS)
    fingerprint = f"fp_{rng.getrandbits(40):010x}"
    completion_tokens = 0
    lines: list[str] = []

    def envelope(choices: list[dict[str, Any]], usage: Any = None) -> dict[str, Any]:
        chunk: dict[str, Any] = {
            "id": cid,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
        }
        if style.openrouter:
            chunk["provider"] = "OpenAI"
        chunk["system_fingerprint"] = fingerprint
        chunk["choices"] = choices
        if style.usage_every_chunk:
            chunk["usage"] = {
                "prompt_tokens": 42,
                "completion_tokens": completion_tokens,
                "total_tokens": 42 + completion_tokens,
            }
        elif style.include_usage:
            chunk["usage"] = usage
        return chunk

    def choice(delta: dict[str, Any] | None, finish: str | None = None) -> dict[str, Any]:
        ch: dict[str, Any] = {"index": 0}
        if delta is not None:
            ch["delta"] = delta
        ch["logprobs"] = None
        ch["finish_reason"] = finish
        if style.openrouter and finish is not None:
            ch["native_finish_reason"] = finish
        if style.azure:
            ch["content_filter_results"] = _FILTER_OK if delta else {}
        return ch

    def emit(chunk: dict[str, Any]) -> None:
        nonlocal completion_tokens
        completion_tokens += 1
        if style.comments and rng.random() < 0.15:
            lines.append(": OPENROUTER PROCESSING\n\n")
        lines.append(f"data: {_dumps(chunk)}\n\n")

    if style.comments:
        lines.append(": OPENROUTER PROCESSING\n\n")
    if style.azure:
        lines.append(
            "data: "
            + _dumps(
                {
                    "choices": [],
                    "created": 0,
                    "id": "",
                    "model": "",
                    "object": "",
                    "prompt_filter_results": [
                        {"prompt_index": 0, "content_filter_results": _FILTER_OK}
                    ],
                }
            )
            + "\n\n"
        )

    first: dict[str, Any] = {
        "role": "assistant",
        "content": "" if not truth.calls or truth.content else None,
        "refusal": None,
    }
    emit(envelope([choice(first)]))

    if truth.reasoning:
        for tok in reasoning_tokens or _pieces(rng, truth.reasoning, 1, 6):
            emit(envelope([choice({"content": None, "reasoning_content": tok})]))
    if truth.content:
        for n, tok in enumerate(tokens or _pieces(rng, truth.content, 1, 6), 1):
            delta: dict[str, Any] = {"content": tok}
            if truth.reasoning:
                delta["reasoning_content"] = None
            emit(envelope([choice(delta)]))
            if style.azure and n % 10 == 0:
                # Azure's asynchronous content filter: a choice without a delta.
                emit(
                    {
                        "choices": [
                            {
                                "index": 0,
                                "finish_reason": None,
                                "content_filter_offsets": {
                                    "check_offset": 0,
                                    "start_offset": 0,
                                    "end_offset": n * 4,
                                },
                                "content_filter_results": _FILTER_OK,
                            }
                        ],
                        "created": 0,
                        "id": "",
                        "model": "",
                        "object": "",
                    }
                )

    # Tool calls: per call, a header fragment then argument fragments.
    per_call: list[list[dict[str, Any]]] = []
    for i, call in enumerate(truth.calls):
        index = 0 if style.index_zero else i
        head: dict[str, Any] = {
            "index": index,
            "id": call.id,
            "type": "function",
            "function": {"name": call.name, "arguments": ""},
        }
        frags: list[dict[str, Any]] = []
        if call.as_object is not None:
            head["function"]["arguments"] = call.as_object
        else:
            frags = [
                {"index": index, "function": {"arguments": p}} for p in _pieces(rng, call.arguments)
            ]
        if style.no_index:
            del head["index"]
            for f in frags:
                del f["index"]
        per_call.append([head, *frags])
    if style.interleave:
        order: list[dict[str, Any]] = []
        queues = [list(q) for q in per_call]
        # Every call starts in order; then fragments are drawn from random open calls.
        for q in queues:
            order.append(q.pop(0))
        while any(queues):
            q = rng.choice([q for q in queues if q])
            order.append(q.pop(0))
    else:
        order = [f for q in per_call for f in q]
    for frag in order:
        emit(envelope([choice({"tool_calls": [frag]})]))

    emit(envelope([choice({}, truth.finish_reason)]))
    if style.include_usage and not style.usage_every_chunk:
        usage = truth.usage or {
            "prompt_tokens": 42,
            "completion_tokens": completion_tokens,
            "total_tokens": 42 + completion_tokens,
        }
        lines.append("data: " + _dumps(envelope([], usage)) + "\n\n")
    if style.done:
        lines.append("data: [DONE]\n\n")
    return "".join(lines).encode()


# ------------------------------------------------------------------------------ workloads
@dataclass
class Workload:
    name: str
    bodies: list[bytes]
    expected: list[dict[str, Any]]
    description: str = ""
    _reads: dict[str, list[list[bytes]]] = field(default_factory=dict, repr=False)

    @property
    def nbytes(self) -> int:
        return sum(len(b) for b in self.bodies)

    def reads(self, read: str, streams: int | None = None) -> list[list[bytes]]:
        """Every body (or the first ``streams``) cut by the splitter ``read`` (cached when all)."""
        if streams is not None and streams < len(self.bodies) and read not in self._reads:
            return [split_reads(b, read, seed=i) for i, b in enumerate(self.bodies[:streams])]
        if read not in self._reads:
            self._reads[read] = [split_reads(b, read, seed=i) for i, b in enumerate(self.bodies)]
        return self._reads[read][:streams]


def split_reads(body: bytes, read: str, seed: int = 0) -> list[bytes]:
    """Cut ``body`` into reads: ``"1"``, ``"64"``, ``"net"`` (seeded 1-4 KB), ``"whole"``."""
    if read == "whole":
        return [body]
    if read == "net":
        rng = random.Random(f"net-{seed}-{len(body)}")
        out, i = [], 0
        while i < len(body):
            n = rng.randint(1024, 4096)
            out.append(body[i : i + n])
            i += n
        return out
    size = int(read)
    return [body[i : i + size] for i in range(0, len(body), size)]


def _call_id(rng: random.Random) -> str:
    return "call_" + "".join(
        rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
        for _ in range(24)
    )


def _small_truth(rng: random.Random, kind: str) -> StreamTruth:
    if kind == "text":
        return StreamTruth(content="".join(_text_tokens(rng, rng.randint(10, 80))))
    n = 1 if kind == "call" else 3
    content = "".join(_text_tokens(rng, rng.randint(3, 15))) if rng.random() < 0.3 else ""
    calls = [CallTruth(_call_id(rng), rng.choice(_TOOLS), _small_arguments(rng)) for _ in range(n)]
    return StreamTruth(content=content, calls=calls, finish_reason="tool_calls")


def _small_mix(
    name: str,
    count: int,
    style_for: Any,
    kinds: tuple[str, ...] = ("text", "call", "parallel"),
    weights: tuple[float, ...] = (0.40, 0.35, 0.25),
) -> Workload:
    rng = random.Random(f"{name}-{SEED}")
    bodies, expected = [], []
    for _ in range(count):
        kind = rng.choices(kinds, weights)[0]
        truth = _small_truth(rng, kind)
        style = style_for(rng, truth)
        if style.args_object:
            for call in truth.calls:
                call.as_object = json.loads(call.arguments)
                call.arguments = _dumps(call.as_object)
        bodies.append(render(truth, style, rng))
        expected.append(expected_message(truth))
    return Workload(name, bodies, expected)


def _single(
    name: str, truth: StreamTruth, style: Style, tokens: list[str] | None = None
) -> Workload:
    rng = random.Random(f"{name}-{SEED}")
    return Workload(name, [render(truth, style, rng, tokens)], [expected_message(truth)])


def _build(name: str) -> Workload:
    rng = random.Random(f"truth-{name}-{SEED}")
    if name == "text-2000":
        tokens = _text_tokens(rng, 2000)
        wl = _single(name, StreamTruth(content="".join(tokens)), Style(include_usage=True), tokens)
        wl.description = "text only, 2,000 content deltas"
        return wl
    if name in ("call-2k", "call-200k"):
        size = 2_000 if name == "call-2k" else 200_000
        truth = StreamTruth(
            calls=[CallTruth(_call_id(rng), "search_records", make_arguments(size))],
            finish_reason="tool_calls",
        )
        wl = _single(name, truth, Style(include_usage=True))
        wl.description = f"one call, {len(truth.calls[0].arguments):,} B of arguments"
        return wl
    if name == "parallel-4x1k":
        truth = StreamTruth(
            calls=[CallTruth(_call_id(rng), _TOOLS[i], make_arguments(1_000, i)) for i in range(4)],
            finish_reason="tool_calls",
        )
        wl = _single(name, truth, Style(interleave=True, include_usage=True))
        wl.description = "four parallel calls of ~1 KB, fragments interleaved"
        return wl
    if name == "small-1000":
        wl = _small_mix(name, 1000, lambda r, t: Style(include_usage=r.random() < 0.5))
        wl.description = "1,000 small streams: 40% text, 35% one call, 25% three parallel calls"
        return wl
    quirk_styles: dict[str, Any] = {
        "azure": lambda r, t: Style(azure=True),
        "usage-every-chunk": lambda r, t: Style(usage_every_chunk=True),
        "index-zero": lambda r, t: Style(index_zero=True),
        "no-index": lambda r, t: Style(no_index=True),
        "args-object": lambda r, t: Style(args_object=True),
        "openrouter-comments": lambda r, t: Style(comments=True, openrouter=True),
        "no-done": lambda r, t: Style(done=False, include_usage=r.random() < 0.5),
    }
    if name in quirk_styles:
        kinds: tuple[str, ...] = ("text", "call", "parallel")
        weights: tuple[float, ...] = (0.40, 0.35, 0.25)
        if name in ("index-zero", "no-index", "args-object"):
            kinds, weights = ("call", "parallel"), (0.4, 0.6)
        wl = _small_mix(name, 20, quirk_styles[name], kinds, weights)
        wl.description = f"20 small streams, quirk: {name}"
        return wl
    if name == "deepseek-reasoning":
        rng2 = random.Random(f"{name}-{SEED}")
        bodies, expected = [], []
        for _ in range(20):
            truth = _small_truth(rng2, rng2.choice(["text", "call"]))
            truth.reasoning = "".join(_text_tokens(rng2, rng2.randint(30, 150)))
            bodies.append(render(truth, Style(include_usage=True), rng2))
            expected.append(expected_message(truth))
        return Workload(name, bodies, expected, "20 small streams with reasoning_content")
    raise KeyError(name)


@cache
def get(name: str) -> Workload:
    """The workload ``name`` (built once per process)."""
    return _build(name)


# --------------------------------------------------------------- gate-specific workloads
def long_line_pair(
    events: int = 100, line: int = 300, factor: int = 10
) -> tuple[Workload, Workload]:
    """Two one-stream text workloads with the same number of events; the second's SSE lines are
    ``factor`` times longer (longer content deltas). For the 1-byte-read size-effect check."""
    rng = random.Random(f"long-lines-{SEED}")
    bodies: list[Workload] = []
    for target in (line, line * factor):
        truth_tokens: list[str] = []
        # Envelope of one content chunk is ~190 bytes; fill the rest with content.
        want = max(8, target - 190)
        for _ in range(events):
            words: list[str] = []
            length = 0
            while length < want:
                words.append(rng.choice(_WORDS))
                length += len(words[-1]) + 1
            truth_tokens.append((" " + " ".join(words))[:want])
        truth = StreamTruth(content="".join(truth_tokens))
        bodies.append(
            Workload(
                f"lines-{target}",
                [render(truth, Style(), rng, truth_tokens)],
                [expected_message(truth)],
            )
        )
    return bodies[0], bodies[1]


def partial_call_chunks(
    fragments: list[str], call_id: str = "call_partial", name: str = "search_records"
) -> list[bytes]:
    """One SSE chunk per argument fragment (the first one also carries the call's id/name)."""
    out = []
    env = (
        'data: {"id":"chatcmpl-partial","object":"chat.completion.chunk","created":1731000000,'
        '"model":"gpt-4o-2024-08-06","system_fingerprint":"fp_partial","choices":[{"index":0,'
        '"delta":{"tool_calls":[%s]},"logprobs":null,"finish_reason":null}]}\n\n'
    )
    for i, frag in enumerate(fragments):
        tc: dict[str, Any] = {"index": 0, "function": {"arguments": frag}}
        if i == 0:
            tc = {
                "index": 0,
                "id": call_id,
                "type": "function",
                "function": {"name": name, "arguments": frag},
            }
        out.append((env % _dumps(tc)).encode())
    return out
