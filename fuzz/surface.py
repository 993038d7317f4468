#!/usr/bin/env python3
"""Time-boxed fuzzing of toolwire's Python surface: the extension as users call it.

    python fuzz/surface.py --seconds 90              # seed from TOOLWIRE_FUZZ_SEED or the clock
    python fuzz/surface.py --seed 7 --case 1234      # run one case again, with its traceback

Each case builds hostile input and drives one object through it: a ``StreamAccumulator``
(random limits and options; ``feed`` in random reads of bytes, bytearray, memoryview or str,
``finish``, ``message``, ``calls_of``, every property, every event attribute including the lazy
``.partial``/``.parsed``, ``repr``), a ``PartialJSON`` or ``parse_partial``. Inputs are valid
chat-completions streams (and Responses, Anthropic, Gemini and Ollama ones, read with
``format="auto"``) spliced with byte soup, plus the hostile classics: 100,000 ``[``, 5000-digit
integers in usage, arguments, error codes and choice indexes, ``"usage": 5``, invalid UTF-8 cut
at the end, ``feed(5)``, a choice index of 2**32, megabytes of content.

Allowed outcomes: return normally, or raise a ``toolwire.ToolwireError`` subclass that carries
its structured fields (``.events``, ``.position``...). Wrong argument types must raise
``TypeError`` (accepting them is a failure); out-of-range options and choice numbers may raise
``TypeError``/``ValueError``/``OverflowError``; ``feed`` after ``finish`` may raise
``RuntimeError``; ``repr`` of an event that holds an integer longer than Python prints
(``sys.get_int_max_str_digits()``) may raise that ``ValueError``. Anything else is a failure:
``PanicException`` (a ``BaseException``), a ``ValueError`` that is not a ``ParseError``,
``RecursionError``, ``MemoryError``, ``SystemError``, a crash of the process, or a case that
runs longer than ``--hang-seconds``.

Cases run in a worker process that this one watches: a hang is killed, a crash is seen, both
are reported and the worker restarts after the case. Each distinct failure is shrunk and printed
with its seed, case number and a Python reproducer; the exit status is 1 if there was any.
Only the standard library and toolwire are used.
"""

from __future__ import annotations

import argparse
import itertools
import multiprocessing
import os
import random
import re
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

Op = tuple[Any, ...]

# -- inputs --------------------------------------------------------------------------------------

HUGE_DIGITS = 5000
DEEP = 100_000
SOUP = [
    b"[",
    b"]",
    b"{",
    b"}",
    b'"',
    b"\\",
    b"\\u",
    b"\\ud800",
    b"\\udc00",
    b"\\ud83d\\ude00",
    b"\\u00e9",
    b",",
    b":",
    b"null",
    b"true",
    b"fals",
    b"-",
    b"0",
    b"01",
    b"1e",
    b"1e400",
    b"-0.0e-0",
    b"9" * 40,
    b"\n",
    b"\r",
    b"\r\n",
    b"\n\n",
    b"data:",
    b"data: ",
    b"event: ",
    b"event: error",
    b"id: 7",
    b"retry: 5",
    b": ping\n",
    b"\xef\xbb\xbf",
    b"[DONE]",
    b"\x00",
    b"\xff",
    b"\xe2\x82",
    b"\xf0\x9f\x98",
    b"\xc3",
    b"\xed\xa0\x80",
    b"\xc0\x80",
    b" ",
    b"\t",
    b'"choices"',
    b'"tool_calls"',
    b'"index"',
    b'"arguments"',
    b'"usage"',
    b'"error"',
    b'"delta"',
    b'"content"',
    b'"finish_reason"',
    b"\xe2\x80\xa8",
]
FINISH_REASONS = [
    "stop",
    "tool_calls",
    "length",
    "content_filter",
    "function_call",
    "error",
    "",
    "STOP",
    "end_turn",
]


def huge_int(rng: random.Random) -> str:
    return rng.choice(["", "-"]) + "9" * rng.choice([HUGE_DIGITS, 4301, 20, 400])


def json_string(rng: random.Random) -> str:
    pieces = [
        "a",
        "é",
        "\\n",
        '\\"',
        "\\\\",
        "\\u00e9",
        "\\ud83d\\ude00",
        "😀",
        " ",
        "{",
        "[",
        "\\ud800",
        "\\udc00",
        "\\u0000",
        "\\/",
        "\\t",
        "\u2028",
    ]
    return '"' + "".join(rng.choice(pieces) for _ in range(rng.randint(0, 12))) + '"'


def json_text(rng: random.Random, depth: int = 0) -> str:
    """A JSON document as text (written by hand: huge integers and odd spellings included)."""
    roll = rng.random()
    if depth > 4 or roll < 0.45:
        return rng.choice(
            [
                lambda: str(rng.randint(-(10**6), 10**6)),
                lambda: repr(rng.uniform(-1e6, 1e6)),
                lambda: rng.choice(
                    ["0", "-0", "1e400", "-1e-400", "1.5E+3", "0.0", "123456789" * 3]
                ),
                lambda: (
                    huge_int(rng) if rng.random() < 0.05 else "9" * rng.choice([19, 20, 40, 400])
                ),
                lambda: json_string(rng),
                lambda: rng.choice(["true", "false", "null"]),
            ]
        )()
    if roll < 0.75:
        items = [json_text(rng, depth + 1) for _ in range(rng.randint(0, 4))]
        return "[" + ",".join(items) + "]"
    keys = [json_string(rng) for _ in range(rng.randint(0, 4))]
    return "{" + ", ".join(f"{k}: {json_text(rng, depth + 1)}" for k in keys) + "}"


JSON_ATOM = re.compile(r"\\u[0-9a-fA-F]{4}|\\.|.", re.DOTALL)


def pieces(rng: random.Random, text: str, most: int = 8) -> list[str]:
    """``text`` (the inside of a JSON string) cut into pieces of 1 to ``most`` characters,
    never inside an escape (a surrogate pair may be split: providers do that too)."""
    atoms = JSON_ATOM.findall(text)
    out, i = [], 0
    while i < len(atoms):
        step = rng.randint(1, most)
        out.append("".join(atoms[i : i + step]))
        i += step
    return out


def escape(text: str) -> str:
    """``text`` as the inside of a JSON string (already-JSON text sent as arguments)."""
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def weird_index(rng: random.Random) -> str:
    return rng.choice(
        [
            "0",
            "1",
            "2",
            str(2**32),
            str(2**32 + 1),
            str(2**31),
            str(2**63),
            str(2**64),
            "-1",
            '"0"',
            "1.5",
            "null",
            huge_int(rng),
            "true",
        ]
    )


def usage_text(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.5:
        p, c = rng.randint(0, 10**5), rng.randint(0, 10**5)
        return (
            f'{{"prompt_tokens":{p},"completion_tokens":{c},"total_tokens":{p + c},'
            f'"completion_tokens_details":{{"reasoning_tokens":{rng.randint(0, 9)}}}}}'
        )
    return rng.choice(
        [
            lambda: f'{{"prompt_tokens":{huge_int(rng)},"completion_tokens":1}}',
            lambda: rng.choice(["5", '"x"', "[]", "true", "null", "-1", "1e400", "{}"]),
            lambda: '{"x":' + "[" * rng.choice([100, 1000]) + "]" * rng.randint(0, 3) + "}",
            lambda: json_text(rng),
        ]
    )()


def sse(payload: str, rng: random.Random, style: dict[str, Any]) -> str:
    eol = style["eol"]
    if style["multiline"] and len(payload) > 4 and rng.random() < 0.3:
        cut = rng.randint(1, len(payload) - 1)
        lines = f"data: {payload[:cut]}{eol}data: {payload[cut:]}{eol}"
    else:
        lines = f"data:{style['space']}{payload}{eol}"
    if style["extras"] and rng.random() < 0.1:
        lines = (
            rng.choice(
                [
                    f": keep-alive{eol}",
                    f"id: {rng.randint(0, 99)}{eol}",
                    f"event: {rng.choice(['message', 'error', 'x'])}{eol}",
                ]
            )
            + lines
        )
    return lines + eol


def chat_stream(rng: random.Random) -> str:
    """A chat-completions stream: text, reasoning, tool calls, finish, usage, error, [DONE]."""
    style = {
        "eol": rng.choice(["\n", "\n", "\r\n", "\r"]),
        "space": rng.choice([" ", " ", ""]),
        "multiline": rng.random() < 0.2,
        "extras": rng.random() < 0.3,
    }
    head = '"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m"'
    choices = rng.choice([1, 1, 1, 2, 3])
    out: list[str] = ["\ufeff"] if rng.random() < 0.05 else []

    def chunk(delta: str, index: str = "0", finish: str = "null", extra: str = "") -> None:
        choice = f'{{"index":{index},"delta":{delta},"finish_reason":{finish}}}'
        body = f'{{{head},"choices":[{choice}]{extra}}}'
        out.append(sse(body, rng, style))

    for c in range(choices):
        idx = weird_index(rng) if rng.random() < 0.05 else str(c)
        chunk('{"role":"assistant","content":""}', idx)
        for kind in rng.sample(
            ["content", "reasoning_content", "reasoning", "refusal"], rng.randint(0, 2)
        ):
            for piece in pieces(rng, json_string(rng)[1:-1] * rng.randint(1, 3)):
                chunk(f'{{"{kind}":"{piece}"}}', idx)
        for call in range(rng.choice([0, 0, 1, 2, 3])):
            call_index = weird_index(rng) if rng.random() < 0.05 else str(call)
            args = (
                json_text(rng)
                if rng.random() < 0.9
                else rng.choice(
                    [
                        "[" * rng.choice([64, 600]),
                        '{"n": ' + huge_int(rng) + "}",
                        "",
                        "{",
                        '{"a": 1}}',
                        "nul",
                    ]
                )
            )
            opening = (
                f'{{"index":{call_index},"id":"call_{call}","type":"function",'
                f'"function":{{"name":"f{call}","arguments":""}}}}'
            )
            if rng.random() < 0.1:
                opening = opening.replace(f'"index":{call_index},', "")
            chunk(f'{{"tool_calls":[{opening}]}}', idx)
            for frag in pieces(rng, escape(args), 12):
                value = f'"{frag}"' if rng.random() < 0.97 else rng.choice(["null", "{}", "5"])
                fragment = f'{{"index":{call_index},"function":{{"arguments":{value}}}}}'
                chunk(f'{{"tool_calls":[{fragment}]}}', idx)
        if rng.random() < 0.8:
            reason = rng.choice(FINISH_REASONS)
            chunk("{}", idx, rng.choice([f'"{reason}"', f'"{reason}"', "5", "null"]))
    if rng.random() < 0.5:
        out.append(sse(f'{{{head},"choices":[],"usage":{usage_text(rng)}}}', rng, style))
    if rng.random() < 0.1:
        code = rng.choice(['"overloaded"', huge_int(rng), "null", "[1,{}]", "500"])
        out.append(
            sse(f'{{"error":{{"message":"boom","type":"server_error","code":{code}}}}}', rng, style)
        )
    if rng.random() < 0.8:
        out.append(sse("[DONE]", rng, style))
    return "".join(out)


def named_events(events: list[tuple[str, str]]) -> str:
    return "".join(f"event: {name}\ndata: {data}\n\n" for name, data in events)


def responses_stream(rng: random.Random) -> str:
    """An OpenAI Responses API stream: a function call in fragments, text, completion."""
    args = escape(json_text(rng))
    item = '{"type":"function_call","id":"fc_1","call_id":"call_1","name":"f","arguments":""}'
    events = [
        (
            "response.created",
            '{"type":"response.created","response":{"id":"resp_1","status":"in_progress"}}',
        ),
        (
            "response.output_item.added",
            f'{{"type":"response.output_item.added","output_index":0,"item":{item}}}',
        ),
    ]
    for frag in pieces(rng, args, 10):
        index = weird_index(rng) if rng.random() < 0.05 else "0"
        events.append(
            (
                "response.function_call_arguments.delta",
                (
                    f'{{"type":"response.function_call_arguments.delta","item_id":"fc_1",'
                    f'"output_index":{index},"delta":"{frag}"}}'
                ),
            )
        )
    events += [
        (
            "response.function_call_arguments.done",
            (
                f'{{"type":"response.function_call_arguments.done","item_id":"fc_1","output_index":0,'
                f'"arguments":"{args}"}}'
            ),
        ),
        (
            "response.output_text.delta",
            (
                '{"type":"response.output_text.delta","item_id":"m","output_index":1,'
                '"content_index":0,"delta":"hi"}'
            ),
        ),
        (
            "response.completed",
            (
                f'{{"type":"response.completed","response":{{"id":"resp_1","status":"completed",'
                f'"usage":{usage_text(rng)}}}}}'
            ),
        ),
    ]
    return named_events(events)


def anthropic_stream(rng: random.Random) -> str:
    """An Anthropic Messages stream: a text block, a tool_use block in fragments, the end."""
    args = escape(json_text(rng))
    index = weird_index(rng) if rng.random() < 0.1 else "1"
    text_block = '{"type":"text","text":""}'
    tool_block = '{"type":"tool_use","id":"toolu_1","name":"f","input":{}}'
    events = [
        (
            "message_start",
            (
                f'{{"type":"message_start","message":{{"id":"msg_1","role":"assistant","content":[],'
                f'"usage":{usage_text(rng)}}}}}'
            ),
        ),
        (
            "content_block_start",
            f'{{"type":"content_block_start","index":0,"content_block":{text_block}}}',
        ),
        (
            "content_block_delta",
            '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}',
        ),
        ("ping", '{"type": "ping"}'),
        ("content_block_stop", '{"type":"content_block_stop","index":0}'),
        (
            "content_block_start",
            f'{{"type":"content_block_start","index":{index},"content_block":{tool_block}}}',
        ),
    ]
    for frag in pieces(rng, args, 10):
        events.append(
            (
                "content_block_delta",
                (
                    f'{{"type":"content_block_delta","index":{index},"delta":'
                    f'{{"type":"input_json_delta","partial_json":"{frag}"}}}}'
                ),
            )
        )
    events += [
        ("content_block_stop", f'{{"type":"content_block_stop","index":{index}}}'),
        (
            "message_delta",
            (
                f'{{"type":"message_delta","delta":{{"stop_reason":"tool_use"}},'
                f'"usage":{usage_text(rng)}}}'
            ),
        ),
        ("message_stop", '{"type":"message_stop"}'),
    ]
    if rng.random() < 0.1:
        events.insert(
            3,
            (
                "error",
                ('{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}'),
            ),
        )
    return named_events(events)


def gemini_stream(rng: random.Random) -> str:
    parts = [f'{{"text":"{escape(p)}"}}' for p in pieces(rng, "Hello there", 5)]
    parts.append(f'{{"functionCall":{{"name":"f","args":{json_text(rng)}}}}}')
    chunks = [
        f'{{"candidates":[{{"content":{{"role":"model","parts":[{p}]}},"index":0}}]}}'
        for p in parts
    ]
    chunks.append(
        f'{{"candidates":[{{"content":{{"parts":[]}},"finishReason":"STOP","index":0}}],'
        f'"usageMetadata":{usage_text(rng)}}}'
    )
    return "".join(f"data: {c}\r\n\r\n" for c in chunks)


def ollama_stream(rng: random.Random) -> str:
    lines = [
        f'{{"model":"llama3","message":{{"role":"assistant","content":"{escape(p)}"}},'
        '"done":false}'
        for p in pieces(rng, "Hello there", 4)
    ]
    lines.append(
        f'{{"model":"llama3","message":{{"role":"assistant","content":"","tool_calls":'
        f'[{{"function":{{"name":"f","arguments":{json_text(rng)}}}}}]}},"done":false}}'
    )
    lines.append(
        '{"model":"llama3","message":{"role":"assistant","content":""},"done":true,'
        f'"done_reason":"stop","prompt_eval_count":{rng.choice(["3", huge_int(rng)])}}}'
    )
    return "\n".join(lines) + "\n"


STREAMS: list[tuple[float, Callable[[random.Random], str]]] = [
    (0.7, chat_stream),
    (0.08, responses_stream),
    (0.08, anthropic_stream),
    (0.07, gemini_stream),
    (0.07, ollama_stream),
]


def mutate(rng: random.Random, data: bytes, corpus: Sequence[bytes]) -> bytes:
    """A few random edits: soup inserted, ranges cut or repeated, bytes flipped, streams
    spliced, the end cut off."""
    buf = bytearray(data)
    for _ in range(rng.choice([0, 0, 1, 1, 2, 3, 6])):
        at = rng.randint(0, len(buf))
        roll = rng.random()
        if roll < 0.35:
            buf[at:at] = rng.choice(SOUP)
        elif roll < 0.5 and buf:
            buf[at : at + rng.randint(1, 16)] = b""
        elif roll < 0.6 and buf:
            buf[min(at, len(buf) - 1)] = rng.randrange(256)
        elif roll < 0.7:
            end = min(len(buf), at + rng.randint(1, 64))
            buf[at:at] = buf[at:end] * rng.randint(1, 4)
        elif roll < 0.8 and corpus:
            other = rng.choice(corpus)
            start = rng.randint(0, len(other))
            buf[at:at] = other[start : start + rng.randint(1, 200)]
        else:
            del buf[at:]
    return bytes(buf)


_BASES: dict[tuple[int, int], bytes] = {}


def base_stream(seed: int, group: int) -> bytes:
    """A generated stream shared by a group of 8 consecutive cases (each splits, mutates and
    configures it its own way): generating is most of the fuzzer's own cost."""
    key = (seed, group)
    if key not in _BASES:
        rng = random.Random((seed << 40) ^ group ^ (1 << 39))
        make = rng.choices([m for _, m in STREAMS], [w for w, _ in STREAMS])[0]
        if len(_BASES) > 16:
            _BASES.clear()
        _BASES[key] = make(rng).encode("utf-8", "surrogatepass")
    return _BASES[key]


def stream_bytes(rng: random.Random, corpus: Sequence[bytes], seed: int, index: int) -> bytes:
    use_corpus = corpus and rng.random() < 0.25
    data = rng.choice(corpus) if use_corpus else base_stream(seed, index // 8)
    return mutate(rng, data, corpus) if rng.random() < 0.6 else data


def special_stream(rng: random.Random) -> bytes:
    """The named hostile classics."""
    text_chunk = '{"choices":[{"index":0,"delta":{"content":"hi"}}]}'
    which = rng.randrange(10)
    if which == 0:  # deep nesting in the arguments
        body = (
            '{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"c","function":'
            '{"name":"f","arguments":"' + "[" * DEEP + '"}}]}}]}'
        )
        return f"data: {text_chunk}\n\ndata: {body}\n\ndata: [DONE]\n\n".encode()
    if which == 1:  # deep nesting as a chunk
        return f"data: {text_chunk}\n\ndata: {'[' * DEEP}\n\ndata: [DONE]\n\n".encode()
    if which == 2:  # huge integers: usage, arguments, error code
        spot = rng.choice(["usage", "args", "code", "index", "call_index"])
        n = "9" * HUGE_DIGITS
        body = {
            "usage": f'{{"choices":[],"usage":{{"prompt_tokens":{n}}}}}',
            "args": (
                '{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"c","function":'
                f'{{"name":"f","arguments":"{{\\"n\\": {n}}}"}}}}]}}}}]}}'
            ),
            "code": f'{{"error":{{"message":"x","code":{n}}}}}',
            "index": f'{{"choices":[{{"index":{n},"delta":{{"content":"x"}}}}]}}',
            "call_index": (
                '{"choices":[{"index":0,"delta":{"tool_calls":[{"index":'
                + n
                + ',"id":"c","function":{"name":"f","arguments":"{}"}}]}}]}'
            ),
        }[spot]
        return f"data: {text_chunk}\n\ndata: {body}\n\ndata: [DONE]\n\n".encode()
    if which == 3:
        value = rng.choice(["5", '"five"', "[]", "true", "-1", "1e400", "[1,2]"])
        return f'data: {text_chunk}\n\ndata: {{"choices":[],"usage":{value}}}\n\n'.encode()
    if which == 4:  # invalid UTF-8 cut at the end
        tail = rng.choice([b"\xe2", b"\xe2\x82", b"\xf0\x9f\x98", b"\xc3", b"\xff"])
        inside = rng.random() < 0.5
        head = (
            b'data: {"choices":[{"index":0,"delta":{"content":"h'
            if inside
            else (f"data: {text_chunk}\n\n".encode())
        )
        return head + tail
    if which == 5:  # choice index 2**32 and friends
        index = rng.choice([2**32, 2**32 + 1, 2**31, 2**63, 2**64, -1, 4294967295])
        return (
            f"data: {text_chunk}\n\n"
            f'data: {{"choices":[{{"index":{index},"delta":{{"content":"x"}},'
            '"finish_reason":"stop"}]}\n\n'
            "data: [DONE]\n\n"
        ).encode()
    if which == 6:  # big content, in one chunk or many
        size = rng.choice([1 << 12, 1 << 16, 1 << 16, 1 << 16, 1 << 20])
        size <<= 2 if rng.random() < 0.02 else 0
        if rng.random() < 0.5:
            return (
                f'data: {{"choices":[{{"index":0,"delta":{{"content":"{"x" * size}"}}}}]}}\n\n'
                "data: [DONE]\n\n"
            ).encode()
        return (f"data: {text_chunk}\n\n" * (size // 64)).encode()
    if which == 7:  # big arguments
        size = rng.choice([1 << 12, 1 << 16, 1 << 16, 1 << 20])
        frag = (
            '{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":'
            '{"arguments":"xxxxxxxxxxxxxxxx"}}]}}]}'
        )
        opening = (
            '{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"c","function":'
            '{"name":"f","arguments":"{\\"a\\": \\""}}]}}]}'
        )
        return (f"data: {opening}\n\n" + f"data: {frag}\n\n" * (size // 16)).encode()
    if which == 8:  # a very long line, no newline
        return b"data: " + b"x" * rng.choice([1 << 12, 1 << 16, 1 << 20])
    return b"".join(rng.choice(SOUP) for _ in range(rng.randint(1, 400)))  # pure soup


def json_input(rng: random.Random) -> bytes:
    roll = rng.random()
    if roll < 0.1:
        return rng.choice(
            [
                b"[" * DEEP,
                b'{"a":' * (DEEP // 5),
                b"9" * HUGE_DIGITS,
                b"[" + b"9" * HUGE_DIGITS + b",",
                b'{"a": -' + b"9" * HUGE_DIGITS,
                b'"' + b"\\u" * 1000,
                b"1e99999999999",
                b"-",
                b"",
                b"\xe2\x82",
            ]
        )
    text = json_text(rng).encode("utf-8", "surrogatepass")
    if roll < 0.6:
        text = text[: rng.randint(0, len(text))]
    return mutate(rng, text, []) if rng.random() < 0.3 else text


WRONG_TYPES: list[Callable[[random.Random], Any]] = [
    lambda r: 5,
    lambda r: r.randint(0, 4096),
    lambda r: None,
    lambda r: 1.5,
    lambda r: True,
    lambda r: [1, 2],
    lambda r: object(),
    lambda r: {"a": 1},
    lambda r: (b"x",),
]


def as_read(rng: random.Random, data: bytes) -> Any:
    """The read as bytes (mostly), bytearray, memoryview or str."""
    roll = rng.random()
    if roll < 0.75:
        return data
    if roll < 0.83:
        return bytearray(data)
    if roll < 0.9:
        return memoryview(data)
    if roll < 0.995:
        return data.decode("utf-8", "replace")
    return data.decode("utf-8", "surrogateescape")  # lone surrogates when not UTF-8


def split(rng: random.Random, data: bytes) -> list[bytes]:
    roll = rng.random()
    if roll < 0.2 or not data:
        return [data]
    if roll < 0.3 and len(data) <= 1024:
        return [data[i : i + 1] for i in range(len(data))]
    if roll < 0.5:
        size = max(rng.choice([2, 3, 7, 16, 64, 512, 4096]), len(data) // 400)
        return [data[i : i + size] for i in range(0, len(data), size)]
    cuts = sorted(rng.randint(0, len(data)) for _ in range(rng.randint(1, 12)))
    bounds = [0, *cuts, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


def limit(rng: random.Random) -> Any:
    roll = rng.random()
    if roll < 0.7:
        return rng.choice([64, 512, 4096, 1 << 20, 2**31, 2**63 - 1, 2**64 - 1, None])
    if roll < 0.92:
        return rng.choice([0, 1, 2, 7])
    return rng.choice([-1, 2**64, "7", 1.5])  # refused by the constructor


# -- cases -----------------------------------------------------------------------------------------


@dataclass
class Case:
    """One object (``kind``: "acc", "partial" or "parse") and what is done to it."""

    kind: str
    options: dict[str, Any] = field(default_factory=dict)
    ops: list[Op] = field(default_factory=list)


INJECT: dict[int, str] = {}


def make_case(seed: int, index: int, corpus: Sequence[bytes]) -> Case:
    if index in INJECT:
        return Case("inject", {"what": INJECT[index]})
    rng = random.Random((seed << 40) ^ index)
    roll = rng.random()
    if roll < 0.12:
        ops: list[Op] = []
        for piece in split(rng, json_input(rng)):
            ops.append(("pfeed", as_read(rng, piece)))
            if rng.random() < 0.3:
                ops.append(("value",))
        if rng.random() < 0.03:
            ops.insert(rng.randint(0, len(ops)), ("pfeed", rng.choice(WRONG_TYPES)(rng)))
        ops.append(("value",))
        return Case("partial", {"partial_strings": rng.random() < 0.7}, ops)
    if roll < 0.2:
        data: Any = as_read(rng, json_input(rng))
        if rng.random() < 0.05:
            data = rng.choice(WRONG_TYPES)(rng)
        return Case("parse", {"partial_strings": rng.random() < 0.7}, [("parse", data)])
    options: dict[str, Any] = {}
    if rng.random() < 0.15:
        formats = ["auto", "chat", "chat", "responses", "anthropic", "gemini", "ollama"]
        options["format"] = rng.choice(formats + (["xml", 5] if rng.random() < 0.1 else []))
    if rng.random() < 0.1:
        options["events"] = rng.choice([True, False, "no"])
    for name in (
        "max_line_bytes",
        "max_event_bytes",
        "max_arguments_bytes",
        "max_tool_calls",
        "max_choices",
    ):
        if rng.random() < 0.12:
            options[name] = limit(rng)
    data = special_stream(rng) if rng.random() < 0.08 else stream_bytes(rng, corpus, seed, index)
    ops = []
    for piece in split(rng, data):
        events = None if rng.random() < 0.9 else rng.choice([True, False])
        ops.append(("feed", as_read(rng, piece), events))
        if rng.random() < 0.05:
            ops.append(("inspect",))
    if rng.random() < 0.02:
        ops.insert(rng.randint(0, len(ops)), ("feed", rng.choice(WRONG_TYPES)(rng), None))
    if rng.random() < 0.95:
        ops.append(("finish",))
    if rng.random() < 0.03:
        late = b'data: {"choices":[{"index":0,"delta":{"content":"late"}}]}\n\n'
        ops.append(("feed", late, None))
    ops.append(("inspect",))
    if rng.random() < 0.05:
        ops.append(("message", rng.choice([1, 5, -1, 2**32, 2**64, "0", None])))
    return Case("acc", options, ops)


# -- running a case ----------------------------------------------------------------------------


class Injected(BaseException):
    """Stands for a PanicException (also a BaseException) in --inject runs."""


class Found(Exception):
    """A failure: ``where`` is the expression that failed, ``op`` the index of its operation."""

    def __init__(self, where: str, op: int, exc: BaseException | None, note: str = "") -> None:
        self.where, self.op, self.exc, self.note = where, op, exc, note
        what = note or f"{type(exc).__name__}: {first_line(exc)}"
        super().__init__(f"{where}: {what}")

    @property
    def signature(self) -> str:
        """What makes two failures the same bug: the call, the class, the message's shape."""
        call = re.sub(r"\[\d+\]", "[i]", self.where)
        call = re.sub(r"\(.*\)", "()", call)
        if self.exc is None:
            return f"{call}: {self.note}"
        shape = re.sub(r"'[^'\s]*'", "'…'", first_line(self.exc))
        shape = " ".join(re.sub(r"\d+", "N", shape).split()[:4])
        return f"{call}: {type(self.exc).__name__}: {shape}"

    def details(self) -> str:
        if self.exc is None:
            return self.note
        return "".join(traceback.format_exception(self.exc)).rstrip()[-1500:]


def first_line(exc: BaseException | None) -> str:
    try:
        lines = str(exc).strip().splitlines()
    except Exception:  # noqa: BLE001 - a message that cannot be formatted is itself a finding
        return "<unprintable message>"
    text = lines[0] if lines else ""
    return text if len(text) < 160 else text[:160] + "..."


def is_wrong_type(value: Any) -> bool:
    return not isinstance(value, (bytes, bytearray, memoryview, str))


class Runner:
    """Runs the operations of one case and raises ``Found`` on the first failure."""

    def __init__(self, toolwire: Any) -> None:
        self.tw = toolwire
        self.typed = (toolwire.ToolwireError,)
        self.heartbeat: Callable[[], None] = lambda: None
        self.lazy_left = self.touch_left = 0

    def call(
        self,
        where: str,
        op: int,
        fn: Callable[[], Any],
        *,
        allowed: tuple[type, ...] = (),
        require: type | None = None,
        note_ok: str = "",
        tolerate: Callable[[BaseException], bool] | None = None,
    ) -> Any:
        """``fn()``; a typed error (checked) or an ``allowed`` one is returned, anything else
        raises ``Found``. With ``require``, only that class may come out (returning fails)."""
        try:
            result = fn()
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # noqa: BLE001 - a PanicException is a BaseException
            if require is not None:
                if isinstance(exc, require):
                    return exc
                raise Found(where, op, exc) from None
            if isinstance(exc, self.typed):
                self.check_error(where, op, exc)
                return exc
            if isinstance(exc, allowed) or (tolerate is not None and tolerate(exc)):
                return exc
            raise Found(where, op, exc) from None
        if require is not None:
            raise Found(where, op, None, note_ok or f"returned, expected {require.__name__}")
        return result

    def check_error(self, where: str, op: int, exc: BaseException) -> None:
        """A typed error carries its fields; its events are valid events."""
        names = {
            "ParseError": ("kind", "position", "events"),
            "LimitExceeded": ("limit", "value", "position", "events"),
        }
        for attr in names.get(type(exc).__name__, ()):
            if not hasattr(exc, attr):
                raise Found(where, op, None, f"{type(exc).__name__} without .{attr}")
        str(exc)
        events = getattr(exc, "events", [])
        if not isinstance(events, list):
            raise Found(where, op, None, f"{type(exc).__name__}.events is not a list")
        if not where.startswith("exc."):
            self.touch_events("exc.events", op, events)

    def touch_events(self, where: str, op: int, events: Any) -> None:
        if not isinstance(events, list):
            raise Found(where, op, None, f"returned {type(events).__name__}, not a list")
        # The first and last few: .partial on every delta of a 1 MB argument is quadratic work
        # for the fuzzer, not a finding.
        chosen = list(enumerate(events))
        if len(chosen) > 6:
            chosen = chosen[:3] + chosen[-3:]
        for i, ev in chosen:
            if self.touch_left <= 0:  # a per-case budget keeps big cases from dominating
                return
            self.touch_left -= 1
            cls = type(ev)
            lazy: tuple[str, ...] = ()
            if self.lazy_left > 0:  # values are built on access: O(arguments) each, so capped
                self.lazy_left -= 1
                lazy = ("partial", "parsed")
            for attr in (*getattr(cls, "__match_args__", ()), "error", *lazy):
                if hasattr(cls, attr):
                    self.call(f"{where}[{i}].{attr}", op, lambda ev=ev, a=attr: getattr(ev, a))
            self.call(f"repr({where}[{i}])", op, lambda ev=ev: repr(ev), tolerate=int_too_long)
            self.call(f"{where}[{i}] == {where}[{i}]", op, lambda ev=ev: ev.__eq__(ev))

    def touch_acc(self, op: int, acc: Any) -> None:
        for attr in (
            "finish_reason",
            "finish_reasons",
            "choices",
            "usage",
            "truncated",
            "done",
            "finished",
            "error",
            "format",
            "outcome",
            "token_usage",
        ):
            if hasattr(type(acc), attr):
                self.call(f"acc.{attr}", op, lambda a=attr: getattr(acc, a))
        choices = self.call("acc.choices", op, lambda: list(acc.choices))
        for c in [0, *(choices if isinstance(choices, list) else [])][:8]:
            self.call(f"acc.message({c})", op, lambda c=c: acc.message(c))
            calls = self.call(f"acc.calls_of({c})", op, lambda c=c: acc.calls_of(c))
            if isinstance(calls, list):
                self.touch_calls(f"acc.calls_of({c})", op, calls)
        calls = self.call("acc.tool_calls", op, lambda: acc.tool_calls)
        if isinstance(calls, list):
            self.touch_calls("acc.tool_calls", op, calls)
        self.call("repr(acc)", op, lambda: repr(acc))

    def touch_calls(self, where: str, op: int, calls: list[Any]) -> None:
        for i, tc in enumerate(calls[:16]):
            for attr in (
                "index",
                "id",
                "name",
                "arguments",
                "ready",
                "finished",
                "error",
                "partial",
                "parsed",
            ):
                self.call(f"{where}[{i}].{attr}", op, lambda tc=tc, a=attr: getattr(tc, a))

    def run(self, case: Case) -> None:
        tw = self.tw
        self.heartbeat()
        self.lazy_left, self.touch_left = 64, 300
        if case.kind == "inject":  # --inject: proves the watchdog catches each kind of failure
            what = case.options["what"]
            if what == "hang":
                time.sleep(3600)
            elif what == "crash":
                os.abort()

            def panic() -> None:
                raise Injected("injected failure")

            self.call("inject", 0, panic)
            return
        if case.kind == "parse":
            ((_, data),) = case.ops
            if is_wrong_type(data):
                self.call(
                    "toolwire.parse_partial(data)",
                    0,
                    lambda: tw.parse_partial(data, **case.options),
                    require=TypeError,
                )
            else:
                self.call(
                    "toolwire.parse_partial(data)",
                    0,
                    lambda: tw.parse_partial(data, **case.options),
                )
            return
        if case.kind == "partial":
            p = tw.PartialJSON(**case.options)
            for n, op in enumerate(case.ops):
                if op[0] == "pfeed":
                    data = op[1]
                    if is_wrong_type(data):
                        self.call("p.feed(data)", n, lambda d=data: p.feed(d), require=TypeError)
                    else:
                        self.call("p.feed(data)", n, lambda d=data: p.feed(d))
                else:
                    self.call("p.value()", n, p.value)
                    self.call("p.complete", n, lambda: p.complete)
                    self.call("p.text", n, lambda: p.text)
            return
        acc = self.call(
            "toolwire.StreamAccumulator(**options)",
            -1,
            lambda: tw.StreamAccumulator(**case.options),
            allowed=(TypeError, ValueError, OverflowError),
        )
        if isinstance(acc, BaseException):
            return
        finished = False
        for n, op in enumerate(case.ops):
            name = op[0]
            if name == "feed":
                data, events = op[1], op[2]
                kwargs = {} if events is None else {"events": events}
                if is_wrong_type(data):
                    self.call(
                        "acc.feed(data)",
                        n,
                        lambda d=data, k=kwargs: acc.feed(d, **k),
                        require=TypeError,
                        note_ok=f"accepted {type(data).__name__} data",
                    )
                    continue
                got = self.call(
                    "acc.feed(data)",
                    n,
                    lambda d=data, k=kwargs: acc.feed(d, **k),
                    allowed=(RuntimeError,) if finished else (),
                )
                if not isinstance(got, BaseException):
                    self.touch_events("events", n, got)
            elif name == "finish":
                got = self.call("acc.finish()", n, acc.finish)
                finished = True
                if not isinstance(got, BaseException):
                    self.touch_events("events", n, got)
            elif name == "message":
                self.call(
                    f"acc.message({op[1]!r})",
                    n,
                    lambda c=op[1]: acc.message(c),
                    allowed=(TypeError, ValueError, OverflowError),
                )
            else:
                self.touch_acc(n, acc)


def int_too_long(exc: BaseException) -> bool:
    """Python's own limit on printing a long integer (``sys.get_int_max_str_digits()``): allowed
    from ``repr`` of an event that holds such a number, nowhere else."""
    return type(exc) is ValueError and "integer string conversion" in str(exc)


def outcome(runner: Runner, case: Case) -> Found | None:
    try:
        runner.run(case)
    except Found as found:
        return found
    except Exception as exc:  # noqa: BLE001 - a bug of the fuzzer itself, e.g. while shrinking
        return Found("<fuzzer>", 0, exc)
    return None


# -- shrinking and showing -----------------------------------------------------------------------


def shrink(runner: Runner, case: Case, signature: str, budget: float) -> Case:
    """A smaller case with the same failure: fewer operations and options, adjacent reads
    merged, shorter data (greedy removal of halves, quarters, ... of each payload)."""
    deadline = time.monotonic() + budget

    def same(candidate: Case) -> bool:
        found = outcome(runner, candidate)
        return found is not None and found.signature == signature

    best = case
    changed = True
    while changed and time.monotonic() < deadline:
        changed = False
        for i in reversed(range(len(best.ops))):
            candidate = replace(best, ops=best.ops[:i] + best.ops[i + 1 :])
            if candidate.ops and same(candidate):
                best, changed = candidate, True
        for key in list(best.options):
            candidate = replace(best, options={k: v for k, v in best.options.items() if k != key})
            if same(candidate):
                best, changed = candidate, True
        for i in range(len(best.ops) - 1):
            a, b = best.ops[i], best.ops[i + 1]
            # Only two feeds of data are merged (a "value" or "finish" op has no data).
            if a[0] != "feed" or b[0] != "feed" or len(a) < 3 or len(b) < 3:
                continue
            if type(a[1]) is type(b[1]) and isinstance(a[1], (bytes, str)):
                merged = (a[0], a[1] + b[1], a[2])
                candidate = replace(best, ops=[*best.ops[:i], merged, *best.ops[i + 2 :]])
                if same(candidate):
                    best, changed = candidate, True
                    break
        for i, op in enumerate(best.ops):
            if len(op) < 2 or not isinstance(op[1], (bytes, str)) or time.monotonic() > deadline:
                continue
            data = op[1]
            chunk = max(1, len(data) // 2)
            while chunk >= 1 and time.monotonic() < deadline:
                start = 0
                while start < len(data) and time.monotonic() < deadline:
                    smaller = data[:start] + data[start + chunk :]
                    candidate = replace(
                        best, ops=[*best.ops[:i], (op[0], smaller, *op[2:]), *best.ops[i + 1 :]]
                    )
                    if same(candidate):
                        best, data, changed = candidate, smaller, True
                    else:
                        start += chunk
                if chunk == 1 or (len(data) > 8192 and chunk < len(data) // 256):
                    break
                chunk //= 2
    return best


def show(value: Any, width: int = 3000) -> str:
    """Python source for ``value``, with runs of one character written as ``x * n``."""
    if not isinstance(value, (bytes, str)):
        if isinstance(value, (bytearray, memoryview)):
            return f"{type(value).__name__}({show(bytes(value), width)})"
        return "object()" if type(value) is object else repr(value)
    pattern = rb"(.)\1{19,}" if isinstance(value, bytes) else r"(.)\1{19,}"
    parts: list[str] = []
    last = 0
    for m in re.finditer(pattern, value, re.DOTALL):
        if m.start() > last:
            parts.append(repr(value[last : m.start()]))
        parts.append(f"{value[m.start() : m.start() + 1]!r} * {m.end() - m.start()}")
        last = m.end()
    if last < len(value) or not parts:
        parts.append(repr(value[last:]))
    text = " + ".join(parts)
    return text if len(text) <= width else text[:width] + f"...  # {len(value)} in all"


def statement(op: Op) -> str | None:
    if op[0] in ("feed", "pfeed"):
        if op[0] == "pfeed":
            return f"p.feed({show(op[1])})"
        kw = f", events={op[2]!r}" if op[2] is not None else ""
        return f"events = acc.feed({show(op[1])}{kw})"
    return {
        "finish": "events = acc.finish()",
        "value": "p.value()",
        "message": f"acc.message({op[-1]!r})",
    }.get(op[0])


def render(case: Case, found: Found | None) -> str:
    """A Python reproducer: the operations up to the failing one, then the failing access."""
    opts = ", ".join(f"{k}={show(v)}" for k, v in case.options.items())
    note = "" if found is None else f"  # -> {found.note or type(found.exc).__name__}"
    if case.kind == "parse":
        sep = ", " if opts else ""
        return f"import toolwire\ntoolwire.parse_partial({show(case.ops[0][1])}{sep}{opts}){note}"
    made = (
        f"toolwire.PartialJSON({opts})"
        if case.kind == "partial"
        else (f"toolwire.StreamAccumulator({opts})")
    )
    lines = ["import toolwire", ("p = " if case.kind == "partial" else "acc = ") + made]
    if found is not None and found.op < 0:
        lines[-1] += note
        return "\n".join(lines)
    last = found.op if found is not None else len(case.ops) - 1
    for n, op in enumerate(case.ops[: last + 1]):
        stmt = statement(op)
        if n < last or found is None:
            if stmt:
                lines.append(f"try:\n    {stmt}\nexcept toolwire.ToolwireError:\n    pass")
            continue
        where = found.where
        if where.startswith("exc."):
            lines.append(
                f"try:\n    {stmt}\nexcept toolwire.ToolwireError as exc:\n    {where}{note}"
            )
        elif where.startswith(("acc.feed(", "acc.finish(", "p.feed(")) or op[0] == "message":
            lines.append(f"{stmt}{note}")
        else:
            if stmt and op[0] != "value":
                lines.append(stmt)
            lines.append(f"{where}{note}")
    return "\n".join(lines)


# -- the worker and the watchdog -------------------------------------------------------------------


def load_corpus(paths: Sequence[str]) -> list[bytes]:
    out = []
    for path in paths:
        if os.path.isdir(path):
            for name in sorted(os.listdir(path)):
                if name.endswith(".sse"):
                    with open(os.path.join(path, name), "rb") as f:
                        out.append(f.read())
    return out


def worker(
    seed: int,
    start: int,
    deadline: float,
    shrink_budget: float,
    corpus_paths: list[str],
    known: list[str],
    progress: Any,
    beat: Any,
    conn: Any,
    memory_mb: int,
    inject: dict[int, str],
) -> None:
    INJECT.update(inject)
    if memory_mb:
        try:
            import resource

            resource.setrlimit(resource.RLIMIT_AS, (memory_mb << 20, memory_mb << 20))
        except (ImportError, ValueError, OSError):
            pass
    import toolwire

    corpus = load_corpus(corpus_paths)
    runner = Runner(toolwire)

    def tick() -> None:
        beat.value += 1

    runner.heartbeat = tick
    seen = set(known)
    index = start
    while time.time() < deadline:
        progress.value = index
        case = make_case(seed, index, corpus)
        found = outcome(runner, case)
        if found is not None:
            if found.signature not in seen:
                seen.add(found.signature)
                small = shrink(runner, case, found.signature, shrink_budget)
                final = outcome(runner, small) or found
                conn.send(("new", index, found.signature, final.details(), render(small, final)))
            else:
                conn.send(("again", index, found.signature))
        index += 1
    progress.value = index
    conn.send(("done", index))


@dataclass
class Failure:
    signature: str
    first_case: int
    details: str
    reproducer: str
    count: int = 1


def fuzz(args: argparse.Namespace) -> int:
    ctx = multiprocessing.get_context("spawn")
    started = time.time()
    deadline = started + args.seconds
    failures: dict[str, Failure] = {}
    index = 0
    restarts = 0
    slowest = (0.0, -1)
    print(
        f"toolwire surface fuzz: seed={args.seed} (reproduce: python {sys.argv[0]} "
        f"--seed {args.seed} --case N), {args.seconds:g} s, hang after {args.hang_seconds:g} s",
        flush=True,
    )

    def record(kind: str, case: int, signature: str, details: str = "", repro: str = "") -> None:
        if signature in failures:
            failures[signature].count += 1
            return
        failures[signature] = Failure(signature, case, details, repro)
        print(
            f"\nFAILURE #{len(failures)} at case {case}: {signature}\n{indent(details)}\n"
            f"  reproducer:\n{indent(repro, 4)}",
            flush=True,
        )

    while time.time() < deadline:
        progress = ctx.RawValue("q", index)
        beat = ctx.RawValue("q", 0)
        parent, child = ctx.Pipe(duplex=False)
        proc = ctx.Process(
            target=worker,
            args=(
                args.seed,
                index,
                deadline,
                args.shrink_seconds,
                args.corpus,
                list(failures),
                progress,
                beat,
                child,
                args.memory_mb,
                INJECT,
            ),
            daemon=True,
        )
        proc.start()
        child.close()
        last_beat, last_change = beat.value, time.monotonic()
        case_started = (progress.value, time.monotonic())
        done = False
        while True:
            while parent.poll():
                try:
                    msg = parent.recv()
                except (EOFError, OSError):
                    break
                if msg[0] == "new":
                    record("new", msg[1], msg[2], msg[3], msg[4])
                elif msg[0] == "again":
                    failures[msg[2]].count += 1
                elif msg[0] == "done":
                    index, done = msg[1], True
            if done or not proc.is_alive():
                break
            now = time.monotonic()
            current = progress.value
            if current != case_started[0]:
                took = now - case_started[1]
                if took > slowest[0]:
                    slowest = (took, case_started[0])
                case_started = (current, now)
            if beat.value != last_beat:
                last_beat, last_change = beat.value, now
            elif now - last_change > args.hang_seconds:
                proc.kill()
                proc.join()
                case = make_case(args.seed, current, load_corpus(args.corpus))
                record(
                    "hang",
                    current,
                    f"hang: case runs over {args.hang_seconds:g} s",
                    f"no progress for {args.hang_seconds:g} s ({case.kind} case)",
                    render(case, None),
                )
                index = current + 1
                break
            if time.time() > deadline + args.hang_seconds + args.shrink_seconds + 5:
                proc.kill()
                break
            time.sleep(0.05)
        proc.join(timeout=5)
        parent.close()
        if not done and proc.exitcode not in (0, None, -9):
            current = progress.value
            case = make_case(args.seed, current, load_corpus(args.corpus))
            record(
                "crash",
                current,
                f"crash: worker exit code {proc.exitcode}",
                f"the worker died with exit code {proc.exitcode} ({case.kind} case)",
                render(case, None),
            )
            index = current + 1
        if not done:
            restarts += 1
        else:
            break
    elapsed = time.time() - started
    rate = index / elapsed if elapsed else 0.0
    print(
        f"\n{index} cases in {elapsed:.1f} s: {rate:.0f} cases/s; {restarts} worker restarts; "
        f"slowest case {slowest[0]:.2f} s (case {slowest[1]}); seed {args.seed}"
    )
    if failures:
        print(f"{len(failures)} distinct failure(s):")
        for n, f in enumerate(failures.values(), 1):
            print(f"  [{n}] {f.signature}  (seen {f.count}x, first at case {f.first_case})")
        return 1
    print("no failures")
    return 0


def indent(text: str, n: int = 2) -> str:
    return "\n".join(" " * n + line for line in text.splitlines())


def run_one(args: argparse.Namespace) -> int:
    import toolwire

    case = make_case(args.seed, args.case, load_corpus(args.corpus))
    runner = Runner(toolwire)
    found = outcome(runner, case)
    print(f"case {args.case} of seed {args.seed}: {case.kind}, {len(case.ops)} operations")
    if found is None:
        print("no failure\n" + render(case, None))
        return 0
    print(found.details())
    small = shrink(runner, case, found.signature, args.shrink_seconds)
    print("\nreproducer:\n" + render(small, outcome(runner, small) or found))
    return 1


def main(argv: Sequence[str] | None = None) -> int:
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="time budget (default 60)")
    parser.add_argument(
        "--seed",
        type=int,
        default=int(os.environ.get("TOOLWIRE_FUZZ_SEED") or time.time_ns() % 2**31),
    )
    parser.add_argument("--case", type=int, help="run this one case in-process and show it")
    parser.add_argument(
        "--hang-seconds",
        type=float,
        default=10.0,
        help="a case running longer than this is a hang (default 10)",
    )
    parser.add_argument(
        "--shrink-seconds",
        type=float,
        default=3.0,
        help="time spent shrinking each distinct failure (default 3)",
    )
    parser.add_argument(
        "--memory-mb",
        type=int,
        default=4096,
        help="address-space limit of the worker, 0 for none (default 4096)",
    )
    parser.add_argument(
        "--corpus",
        action="append",
        default=[os.path.join(here, "..", "tests", "fixtures", "chat")],
        help="directory of .sse files to mutate (repeatable)",
    )
    parser.add_argument(
        "--inject",
        action="append",
        default=[],
        metavar="KIND@CASE",
        help="for testing the driver: make case CASE a hang, crash or panic",
    )
    args = parser.parse_args(argv)
    for spec in args.inject:
        kind, _, case = spec.partition("@")
        INJECT[int(case)] = kind
    if args.case is not None:
        return run_one(args)
    return fuzz(args)


if __name__ == "__main__":
    sys.exit(main())
