"""Hypothesis strategies for random chat-completions SSE streams with provider quirks.

A stream is drawn in two steps:

1. a *truth* (``Truth``): per choice an optional reasoning text, an optional content text, zero
   or more tool calls (name, id, JSON arguments) or one legacy ``function_call``, a finish
   reason; plus an optional usage dict;
2. a *rendering* of that truth as SSE bytes, with random provider quirks (``Quirks`` and
   ``ChoiceQuirks``): Azure filter chunks, usage placement, call fragments without ``index`` /
   ``type`` / with index 0 for every call, ids and names repeated or ``""``, arguments as a JSON
   object, extra fields, comments, CR/CRLF/LF, BOM, ``[DONE]`` or not, n > 1 interleaved, ...

``expected_message(truth, choice)`` is the final ``message()`` the truth implies, so a test can
check Rust == reference == truth. The quirks are only combined in ways that keep the truth
well defined under docs/semantics.md (for example, fragments of parallel calls interleave only
when each fragment can be routed by its index or id).
"""

from __future__ import annotations

import itertools
import json
import string
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

__all__ = [
    "CallTruth",
    "ChoiceQuirks",
    "ChoiceTruth",
    "Quirks",
    "Stream",
    "Truth",
    "expected_message",
    "json_objects",
    "pieces",
    "reads",
    "simple_json_objects",
    "split_points",
    "streams",
    "truths",
]

FINISH_REASONS = ["stop", "tool_calls", "length", "content_filter", "function_call"]
NAME_ALPHABET = string.ascii_letters + string.digits + "_-."
# Printable ASCII without '"' and '\\': strings json.dumps writes without any escape.
PLAIN_ASCII = "".join(c for c in map(chr, range(0x20, 0x7F)) if c not in '"\\')


# ---------------------------------------------------------------------------------- truth
@dataclass
class CallTruth:
    name: str
    id: str  # "" = never sent (expected "call_<ordinal>")
    arguments: str  # the arguments text as sent ("" = none sent, expected "{}")
    as_object: Any = None  # when set, arguments are sent once as this JSON object


@dataclass
class ChoiceTruth:
    index: int
    reasoning: str = ""
    content: str = ""
    refusal: str = ""
    calls: list[CallTruth] = field(default_factory=list)
    legacy: bool = False  # the single call is sent as a legacy function_call
    finish_reason: str = "stop"


@dataclass
class Truth:
    choices: list[ChoiceTruth]
    usage: dict[str, Any] | None = None


# ---------------------------------------------------------------------------------- quirks
@dataclass
class ChoiceQuirks:
    call_index: str = "indexed"  # "indexed" | "none" | "zero"
    index_offset: int = 0
    id_late: bool = False  # indexed only: the id arrives in a later fragment (or never)
    id_repeat: str = "absent"  # later fragments: "absent" | "repeat" | "empty"
    name_repeat: str = "absent"  # "absent" | "repeat" | "empty"
    type_mode: str = "first"  # "first" | "repeat" | "null" | "never"
    grouping: str = "stream"  # "stream" | "one_chunk" | "all_in_one"
    first_args: bool = False  # the first fragment already carries arguments
    interleave: bool = False
    args_noise: str = "none"  # "none" | "missing" | "null" | "empty": extra arg-less fragments
    role_first: bool = True
    empty_deltas: int = 0
    content_null: bool = False  # "content": null next to tool calls / in empty deltas
    reasoning_key: str = "reasoning_content"  # | "reasoning" | "null_then_reasoning" | "both"
    finish_with_last: bool = False  # finish_reason on the last content/call chunk
    finish_intermediate: str = "absent"  # "absent" | "null"
    omit_choice_index: bool = False  # choice 0 only: no "index" key
    null_choice_index: bool = False  # choice 0 only: "index": null


@dataclass
class Quirks:
    eol: str = "\n"  # "\n" | "\r\n" | "\r" | "mixed"
    bom: bool = False
    done: bool = True
    end: str = "blank"  # "blank" | "newline" | "none": how the last event is terminated
    comments: bool = False
    event_lines: bool = False  # "event: message" / "id:" / "retry:" lines
    ping_events: bool = False
    data_no_space: bool = False  # "data:{...}"
    azure_prefilter: bool = False
    azure_postfilter: bool = False
    usage_mode: str = "none"  # "none" | "null" | "separate" | "finish" | "cumulative"
    extras: bool = False
    ensure_ascii: bool = False
    compact: bool = True
    combine_choices: bool = False  # n > 1: entries of different choices share a chunk


@dataclass
class Stream:
    truth: Truth
    quirks: Quirks
    choice_quirks: list[ChoiceQuirks]
    data: bytes

    def __repr__(self) -> str:  # hypothesis prints this on failure
        return f"Stream(data={self.data!r},\n  truth={self.truth!r},\n  quirks={self.quirks!r})"


# ---------------------------------------------------------------------------------- values
_text = st.text(max_size=40)
_small_text = st.text(max_size=12)


def json_objects(max_leaves: int = 12) -> st.SearchStrategy[dict[str, Any]]:
    """Random JSON objects: unicode keys/strings (escapes), nesting, ints, floats, bools, null."""
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**63), 2**64),
        st.floats(allow_nan=False, allow_infinity=False),
        _small_text,
    )
    values = st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4), st.dictionaries(_small_text, inner, max_size=4)
        ),
        max_leaves=max_leaves,
    )
    return st.dictionaries(_small_text, values, max_size=5)


def simple_json_objects() -> st.SearchStrategy[dict[str, Any]]:
    """Objects whose compact json.dumps is the same text however they are spelled: ints,
    bools, null and ASCII strings without escapes (see reference.chat, arguments as objects)."""
    plain = st.text(alphabet=PLAIN_ASCII, max_size=10)
    scalars = st.one_of(st.none(), st.booleans(), st.integers(-(10**12), 10**12), plain)
    values = st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=3), st.dictionaries(plain, inner, max_size=3)
        ),
        max_leaves=8,
    )
    return st.dictionaries(plain, values, max_size=4)


@st.composite
def _arguments_text(draw: st.DrawFn, trailing_whitespace: bool = True) -> str:
    obj = draw(json_objects())
    style = draw(st.sampled_from(["compact", "default", "indent"]))
    ensure_ascii = draw(st.booleans())
    if style == "compact":
        text = json.dumps(obj, separators=(",", ":"), ensure_ascii=ensure_ascii)
    elif style == "default":
        text = json.dumps(obj, ensure_ascii=ensure_ascii)
    else:
        text = json.dumps(obj, indent=draw(st.integers(0, 2)), ensure_ascii=ensure_ascii)
    if trailing_whitespace:
        text += draw(st.sampled_from(["", "", "", " ", "\n"]))
    return text


@st.composite
def _call_truth(draw: st.DrawFn, ids: bool, trailing_whitespace: bool = True) -> CallTruth:
    name = draw(st.text(alphabet=NAME_ALPHABET, min_size=1, max_size=16))
    call_id = draw(st.text(alphabet=NAME_ALPHABET, min_size=1, max_size=12)) if ids else ""
    kind = draw(st.sampled_from(["text", "text", "text", "object", "empty"]))
    if kind == "object":
        obj = draw(simple_json_objects())
        return CallTruth(
            name, call_id, json.dumps(obj, separators=(",", ":"), ensure_ascii=False), as_object=obj
        )
    if kind == "empty":
        return CallTruth(name, call_id, "")
    return CallTruth(name, call_id, draw(_arguments_text(trailing_whitespace)))


@st.composite
def _choice(
    draw: st.DrawFn, index: int, trailing_whitespace: bool = True
) -> tuple[ChoiceTruth, ChoiceQuirks]:
    q = ChoiceQuirks(
        call_index=draw(st.sampled_from(["indexed", "indexed", "none", "zero"])),
        index_offset=draw(st.sampled_from([0, 0, 1])),
        id_repeat=draw(st.sampled_from(["absent", "repeat", "empty"])),
        name_repeat=draw(st.sampled_from(["absent", "repeat", "empty"])),
        type_mode=draw(st.sampled_from(["first", "repeat", "null", "never"])),
        grouping=draw(st.sampled_from(["stream", "stream", "one_chunk", "all_in_one"])),
        first_args=draw(st.booleans()),
        args_noise=draw(st.sampled_from(["none", "missing", "null", "empty"])),
        role_first=draw(st.booleans()),
        empty_deltas=draw(st.sampled_from([0, 0, 1, 3])),
        content_null=draw(st.booleans()),
        reasoning_key=draw(
            st.sampled_from(["reasoning_content", "reasoning", "null_then_reasoning", "both"])
        ),
        finish_with_last=draw(st.booleans()),
        finish_intermediate=draw(st.sampled_from(["absent", "null"])),
    )
    if index == 0:
        q.omit_choice_index = draw(st.booleans())
        q.null_choice_index = not q.omit_choice_index and draw(st.booleans())
    legacy = draw(st.integers(0, 9)) == 0
    if legacy:
        calls = [draw(_call_truth(False, trailing_whitespace))]
    else:
        if q.call_index == "indexed":
            q.id_late = draw(st.booleans())
        ids_required = q.call_index != "indexed" or not q.id_late
        n_calls = draw(st.sampled_from([0, 0, 1, 1, 2, 3, 4]))
        calls = []
        seen: set[str] = set()
        for _ in range(n_calls):
            ids = ids_required or draw(st.booleans())
            call = draw(_call_truth(ids, trailing_whitespace))
            while call.id and call.id in seen:
                call.id += "x"
            seen.add(call.id)
            calls.append(call)
        q.interleave = (q.call_index == "indexed" or q.id_repeat == "repeat") and draw(
            st.booleans()
        )
    truth = ChoiceTruth(
        index=index,
        reasoning=draw(st.one_of(st.just(""), _text)),
        content=draw(st.one_of(st.just(""), _text)),
        refusal=draw(st.one_of(st.just(""), st.just(""), st.just(""), _small_text)),
        calls=calls,
        legacy=legacy,
        finish_reason=draw(st.sampled_from(FINISH_REASONS)),
    )
    return truth, q


@st.composite
def _usage(draw: st.DrawFn) -> dict[str, Any]:
    prompt = draw(st.integers(0, 10**6))
    completion = draw(st.integers(0, 10**6))
    usage: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
    if draw(st.booleans()):
        usage["prompt_tokens_details"] = {"cached_tokens": draw(st.integers(0, prompt))}
    if draw(st.booleans()):
        usage["completion_tokens_details"] = {"reasoning_tokens": 0}
    return usage


@st.composite
def pieces(draw: st.DrawFn, text: str) -> list[str]:
    """Split text into non-empty pieces at random character positions."""
    if not text:
        return []
    cuts = draw(st.sets(st.integers(1, max(1, len(text) - 1)), max_size=min(6, len(text))))
    bounds = [0, *sorted(c for c in cuts if 0 < c < len(text)), len(text)]
    return [text[a:b] for a, b in itertools.pairwise(bounds)]


# ---------------------------------------------------------------------------------- rendering
def _extras(draw: st.DrawFn, enabled: bool, options: dict[str, Any]) -> dict[str, Any]:
    if not enabled:
        return {}
    keys = draw(st.lists(st.sampled_from(sorted(options)), unique=True, max_size=3))
    return {k: options[k] for k in keys}


_CHUNK_EXTRAS = {
    "system_fingerprint": "fp_44709d6fcb",
    "service_tier": "default",
    "obfuscation": "kX9",
    "x_groq": {"id": "req_01j"},
    "provider": "Together",
    "timings": {"predicted_ms": 12.5},
    "prompt_filter_results": [],
}
_CHOICE_EXTRAS = {
    "logprobs": None,
    "native_finish_reason": None,
    "stop_reason": None,
    "matched_stop": None,
}
_DELTA_EXTRAS = {"annotations": [], "audio": None, "images": None}
_CALL_EXTRAS = {"extra_content": {"google": {"thought_signature": "c2ln"}}}


@st.composite
def _choice_entries(
    draw: st.DrawFn, truth: ChoiceTruth, q: ChoiceQuirks, extras: bool
) -> list[dict[str, Any]]:
    """The ordered list of choice objects ({"index", "delta", "finish_reason"}) for a choice."""
    deltas: list[dict[str, Any]] = []
    if q.role_first:
        deltas.append({"role": "assistant", "content": draw(st.sampled_from(["", None]))})
    for piece in draw(pieces(truth.reasoning)):
        if q.reasoning_key == "reasoning_content":
            deltas.append({"reasoning_content": piece})
        elif q.reasoning_key == "reasoning":
            deltas.append({"reasoning": piece})
        elif q.reasoning_key == "null_then_reasoning":
            deltas.append({"reasoning_content": None, "reasoning": piece, "content": None})
        else:
            deltas.append({"reasoning_content": piece, "reasoning": piece})
    for piece in draw(pieces(truth.content)):
        deltas.append({"content": piece})
    for piece in draw(pieces(truth.refusal)):
        deltas.append({"refusal": piece, "content": None} if q.content_null else {"refusal": piece})
    if truth.legacy:
        deltas.extend(draw(_legacy_deltas(truth.calls[0], q)))
    elif truth.calls:
        deltas.extend(draw(_call_deltas(truth.calls, q, extras)))
    for _ in range(q.empty_deltas):
        pos = draw(st.integers(0, len(deltas)))
        deltas.insert(pos, {"content": None} if q.content_null else {})
    if extras:
        for delta in deltas:
            delta.update(_extras(draw, True, _DELTA_EXTRAS))
    entries: list[dict[str, Any]] = []
    for delta in deltas:
        entry: dict[str, Any] = {"index": truth.index, "delta": delta}
        if q.finish_intermediate == "null":
            entry["finish_reason"] = None
        entries.append(entry)
    if q.finish_with_last and entries:
        entries[-1]["finish_reason"] = truth.finish_reason
    else:
        entries.append({"index": truth.index, "delta": {}, "finish_reason": truth.finish_reason})
    for entry in entries:
        entry.update(_extras(draw, extras, _CHOICE_EXTRAS))
        if q.omit_choice_index:
            del entry["index"]
        elif q.null_choice_index:
            entry["index"] = None
    return entries


@st.composite
def _legacy_deltas(draw: st.DrawFn, call: CallTruth, q: ChoiceQuirks) -> list[dict[str, Any]]:
    frags = draw(pieces(call.arguments))
    out: list[dict[str, Any]] = []
    first: dict[str, Any] = {"name": call.name}
    if q.first_args and frags:
        first["arguments"] = frags.pop(0)
    else:
        first["arguments"] = ""
    out.append({"role": "assistant", "content": None, "function_call": first})
    for frag in frags:
        out.append({"function_call": {"arguments": frag}})
    return out


@st.composite
def _call_deltas(
    draw: st.DrawFn, calls: list[CallTruth], q: ChoiceQuirks, extras: bool
) -> list[dict[str, Any]]:
    # Per call: the list of fragments (dicts) in order.
    per_call: list[list[dict[str, Any]]] = []
    for i, call in enumerate(calls):
        if call.as_object is not None:
            arg_frags: list[Any] = [call.as_object]
        elif q.grouping == "stream":
            arg_frags = draw(pieces(call.arguments))
        else:
            arg_frags = [call.arguments] if call.arguments else []
        whole = q.grouping != "stream"
        header_args = whole or q.first_args or call.as_object is not None
        if whole:
            n_frags = 1
        elif header_args:
            n_frags = max(1, len(arg_frags))  # header + pieces[0], then one per piece
        else:
            n_frags = 1 + len(arg_frags)  # header alone, then one per piece
        frags: list[dict[str, Any]] = []
        # id position: 0, unless late (indexed only), then any fragment or never
        id_at = 0
        if q.id_late and call.id:
            id_at = draw(st.integers(0, n_frags - 1))
        for k in range(n_frags):
            frag: dict[str, Any] = {}
            if q.call_index == "indexed":
                frag["index"] = q.index_offset + i
            elif q.call_index == "zero":
                frag["index"] = 0
            if call.id:
                if k == id_at:
                    frag["id"] = call.id
                elif k > id_at:
                    if q.id_repeat == "repeat":
                        frag["id"] = call.id
                    elif q.id_repeat == "empty":
                        frag["id"] = ""
            elif k > 0 and q.id_repeat == "empty":
                frag["id"] = ""
            if k == 0:
                if q.type_mode != "never":
                    frag["type"] = "function"
            elif q.type_mode == "repeat":
                frag["type"] = "function"
            elif q.type_mode == "null":
                frag["type"] = None
            function: dict[str, Any] = {}
            if k == 0 or q.name_repeat == "repeat":
                function["name"] = call.name
            elif q.name_repeat == "empty":
                function["name"] = ""
            frags.append(frag)
            frag["function"] = function
        # Distribute the arguments.
        if whole:
            if arg_frags:
                frags[0]["function"]["arguments"] = arg_frags[0]
            elif q.args_noise != "missing":
                frags[0]["function"]["arguments"] = None if q.args_noise == "null" else ""
        else:
            slots = list(range(0 if header_args else 1, n_frags))
            for slot, value in zip(slots, arg_frags, strict=False):
                frags[slot]["function"]["arguments"] = value
            for frag in frags:
                if "arguments" not in frag["function"]:
                    if q.args_noise == "null":
                        frag["function"]["arguments"] = None
                    elif q.args_noise == "empty" or q.args_noise == "none":
                        frag["function"]["arguments"] = ""
            # Extra fragments carrying nothing but routing keys and noise (they reach this
            # call by index, id, or as the last call since such calls are sent in order).
            if q.args_noise != "none":
                for _ in range(draw(st.integers(0, 2))):
                    noise = {k: v for k, v in frags[-1].items() if k != "function"}
                    if q.args_noise == "null":
                        noise["function"] = {"arguments": None}
                    elif q.args_noise == "empty":
                        noise["function"] = {"arguments": ""}
                    frags.append(noise)
        if extras:
            for frag in frags:
                frag.update(_extras(draw, True, _CALL_EXTRAS))
        per_call.append(frags)

    if q.grouping == "all_in_one":
        return [{"content": None, "tool_calls": [f[0] for f in per_call]}]
    # Sequence of fragments: in order, or interleaved (first fragments keep call order).
    order: list[tuple[int, int]] = []
    if q.interleave:
        positions = [0] * len(per_call)
        started = 0
        while True:
            live = [i for i in range(started) if positions[i] < len(per_call[i])]
            if started < len(per_call):
                live.append(started)
            if not live:
                break
            i = draw(st.sampled_from(live))
            if i == started:
                started += 1
            order.append((i, positions[i]))
            positions[i] += 1
    else:
        order = [(i, k) for i, frags in enumerate(per_call) for k in range(len(frags))]
    deltas: list[dict[str, Any]] = []
    for i, k in order:
        delta: dict[str, Any] = {"tool_calls": [per_call[i][k]]}
        if q.content_null:
            delta["content"] = None
        deltas.append(delta)
    return deltas


@st.composite
def streams(draw: st.DrawFn, max_choices: int = 3, trailing_whitespace: bool = True) -> Stream:
    """A random truth rendered as an SSE byte stream (see the module docstring).

    ``trailing_whitespace``: arguments text may end with whitespace after the JSON value (so a
    fragment can follow the one that made the arguments complete).
    """
    n = draw(st.sampled_from([1, 1, 1, 1, 2, max_choices]))
    drawn = [draw(_choice(i, trailing_whitespace)) for i in range(n)]
    truth = Truth([t for t, _ in drawn], usage=None)
    choice_quirks = [q for _, q in drawn]
    quirks = Quirks(
        eol=draw(st.sampled_from(["\n", "\n", "\r\n", "\r", "mixed"])),
        bom=draw(st.integers(0, 5)) == 0,
        done=draw(st.integers(0, 3)) != 0,
        end=draw(st.sampled_from(["blank", "blank", "newline", "none"])),
        comments=draw(st.booleans()),
        event_lines=draw(st.booleans()),
        ping_events=draw(st.integers(0, 4)) == 0,
        data_no_space=draw(st.integers(0, 4)) == 0,
        azure_prefilter=draw(st.integers(0, 3)) == 0,
        azure_postfilter=draw(st.integers(0, 3)) == 0,
        usage_mode=draw(st.sampled_from(["none", "null", "separate", "finish", "cumulative"])),
        extras=draw(st.booleans()),
        ensure_ascii=draw(st.booleans()),
        compact=draw(st.booleans()),
        combine_choices=n > 1 and draw(st.booleans()),
    )
    if quirks.usage_mode not in ("none", "null"):
        truth.usage = draw(_usage())
    chunks = draw(_chunks(truth, quirks, choice_quirks))
    data = draw(_sse(chunks, quirks))
    return Stream(truth, quirks, choice_quirks, data)


@st.composite
def _chunks(
    draw: st.DrawFn, truth: Truth, quirks: Quirks, choice_quirks: list[ChoiceQuirks]
) -> list[dict[str, Any]]:
    per_choice = [
        draw(_choice_entries(c, q, quirks.extras))
        for c, q in zip(truth.choices, choice_quirks, strict=False)
    ]
    # Interleave the choices, keeping each choice's order.
    positions = [0] * len(per_choice)
    groups: list[list[dict[str, Any]]] = []
    while True:
        live = [i for i, entries in enumerate(per_choice) if positions[i] < len(entries)]
        if not live:
            break
        i = draw(st.sampled_from(live))
        entry = per_choice[i][positions[i]]
        positions[i] += 1
        last = groups[-1] if groups else None
        if (
            quirks.combine_choices
            and last is not None
            and all(e.get("index") != entry.get("index") for e in last)
            and draw(st.booleans())
        ):
            last.append(entry)
        else:
            groups.append([entry])
    base = {
        "id": "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG",
        "object": "chat.completion.chunk",
        "created": 1741570283,
        "model": "gpt-4o-2024-08-06",
    }
    chunks: list[dict[str, Any]] = []
    if quirks.azure_prefilter:
        chunks.append(
            {
                "choices": [],
                "created": 0,
                "id": "",
                "model": "",
                "object": "",
                "prompt_filter_results": [
                    {
                        "prompt_index": 0,
                        "content_filter_results": {"hate": {"filtered": False, "severity": "safe"}},
                    }
                ],
            }
        )
    for group in groups:
        chunk = dict(base)
        chunk.update(_extras(draw, quirks.extras, _CHUNK_EXTRAS))
        chunk["choices"] = group
        chunks.append(chunk)
    if quirks.azure_postfilter:
        for c in truth.choices:
            chunks.append(
                {
                    "choices": [
                        {
                            "index": c.index,
                            "finish_reason": None,
                            "content_filter_offsets": {"check_offset": 35},
                            "content_filter_results": {},
                        }
                    ],
                    "created": 0,
                    "id": "",
                    "model": "",
                    "object": "",
                }
            )
    usage = truth.usage
    if quirks.usage_mode == "null":
        for chunk in chunks:
            chunk["usage"] = None
    elif quirks.usage_mode == "separate":
        assert usage is not None
        chunk = dict(base, choices=[], usage=usage)
        chunks.append(chunk)
    elif quirks.usage_mode == "finish":
        assert usage is not None
        last_finish = max(
            i for i, ch in enumerate(chunks) if any(e.get("finish_reason") for e in ch["choices"])
        )
        chunks[last_finish]["usage"] = usage
    elif quirks.usage_mode == "cumulative":
        assert usage is not None
        total = len(chunks)
        for k, chunk in enumerate(chunks):
            if k == total - 1:
                chunk["usage"] = usage
            else:
                done = usage["completion_tokens"] * k // total
                chunk["usage"] = {
                    "prompt_tokens": usage["prompt_tokens"],
                    "completion_tokens": done,
                    "total_tokens": usage["prompt_tokens"] + done,
                }
    return chunks


@st.composite
def _sse(draw: st.DrawFn, chunks: list[dict[str, Any]], quirks: Quirks) -> bytes:
    # Events as lists of lines; a blank line ends each event.
    events: list[list[str]] = []
    sep = (",", ":") if quirks.compact else (", ", ": ")
    prefix = "data:" if quirks.data_no_space else "data: "
    for k, chunk in enumerate(chunks):
        lines: list[str] = []
        if quirks.comments and draw(st.integers(0, 3)) == 0:
            lines.append(draw(st.sampled_from([": OPENROUTER PROCESSING", ":", ": keep-alive"])))
        if quirks.event_lines:
            extra = draw(
                st.sampled_from(["", "event: message", f"id: {k}", "retry: 3000", "event:message"])
            )
            if extra:
                lines.append(extra)
        if quirks.ping_events and draw(st.integers(0, 3)) == 0:
            events.append(["event: ping", 'data: {"type": "ping"}'])
        text = json.dumps(chunk, separators=sep, ensure_ascii=quirks.ensure_ascii)
        lines.append(prefix + text)
        events.append(lines)
    if quirks.done:
        events.append([prefix + "[DONE]"])
    if quirks.comments and draw(st.booleans()):
        events.insert(0, [": OPENROUTER PROCESSING"])
    lines_out: list[str] = []
    for event in events:
        lines_out.extend(event)
        lines_out.append("")
    if quirks.end != "blank":
        lines_out.pop()  # no blank line after the last event
    out: list[str] = []
    prev = ""
    for k, line in enumerate(lines_out):
        if quirks.end == "none" and k == len(lines_out) - 1:
            out.append(line)  # no line terminator at all after the last line
            break
        if quirks.eol == "mixed":
            eol = draw(st.sampled_from(["\n", "\r\n", "\r"]))
            if prev == "\r" and line == "" and eol == "\n":
                eol = "\r\n"  # CR then LF would be one CRLF line break
        else:
            eol = quirks.eol
        out.append(line + eol)
        prev = eol
    data = "".join(out).encode("utf-8")
    if quirks.bom:
        data = b"\xef\xbb\xbf" + data
    return data


@st.composite
def truths(draw: st.DrawFn) -> Truth:
    return draw(streams()).truth


# ---------------------------------------------------------------------------------- reads
@st.composite
def split_points(draw: st.DrawFn, length: int) -> list[int]:
    """Sorted cut offsets in (0, length): whole, fixed-size reads (1 byte and up) or random."""
    if length <= 1:
        return []
    mode = draw(st.sampled_from(["whole", "fixed", "random", "random", "one"]))
    if mode == "whole":
        return []
    if mode == "fixed":
        size = draw(st.sampled_from([1, 2, 3, 7, 16, 64, 512]))
        return list(range(size, length, size))
    if mode == "one":
        return [draw(st.integers(1, length - 1))]
    return sorted(draw(st.sets(st.integers(1, length - 1), max_size=40)))


def reads(data: bytes, points: list[int]) -> list[bytes]:
    bounds = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


# ---------------------------------------------------------------------------------- expected
def expected_message(truth: Truth, choice: int) -> dict[str, Any]:
    """The final message() of ``choice`` implied by the truth (after finish())."""
    c = truth.choices[choice]
    msg: dict[str, Any] = {"role": "assistant", "content": c.content or None}
    if c.reasoning:
        msg["reasoning_content"] = c.reasoning
    if c.refusal:
        msg["refusal"] = c.refusal
    if c.legacy:
        call = c.calls[0]
        msg["function_call"] = {"name": call.name, "arguments": call.arguments or "{}"}
    elif c.calls:
        msg["tool_calls"] = [
            {
                "id": call.id or f"call_{ordinal}",
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments or "{}"},
            }
            for ordinal, call in enumerate(c.calls)
        ]
    return msg
