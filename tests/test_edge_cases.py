"""Small hand-written streams at the edges of docs/semantics.md: Rust == reference.

Each case is fed whole and in one-byte reads to both implementations; everything is compared
(events, messages, finish_reason, usage, truncated, done, choices, errors). The cases marked
``D*`` are the minimal inputs of the disagreements listed in tests/DISAGREEMENTS.md: the fixed
ones are regression cases; an open one would be ``xfail(strict=True)``.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.helpers import as_json, reads, run_reference, run_rust


def d(obj: Any) -> bytes:
    """One SSE event whose data is ``obj`` (a str is sent as is, anything else as JSON)."""
    return ("data: " + (obj if isinstance(obj, str) else json.dumps(obj)) + "\n\n").encode()


def ch(delta: Any = None, finish: Any = None, index: Any = 0) -> bytes:
    choice: dict[str, Any] = {"index": index}
    if delta is not None:
        choice["delta"] = delta
    if finish is not None:
        choice["finish_reason"] = finish
    return d({"choices": [choice]})


def tc(**fragment: Any) -> dict[str, Any]:
    return {"tool_calls": [fragment]}


def call(args: Any, **extra: Any) -> bytes:
    return ch(tc(index=0, id="a", function={"name": "f", "arguments": args}, **extra))


def more(args: Any) -> bytes:
    return ch(tc(index=0, function={"arguments": args}))


STOP = ch(finish="stop")

CASES: dict[str, bytes] = {
    # section 3: delta merge
    "reasoning_empty_string_wins": ch({"reasoning_content": "", "reasoning": "x"}) + STOP,
    "reasoning_fallback": ch({"reasoning_content": None, "reasoning": "x"}) + STOP,
    "reasoning_fallback_non_string": ch({"reasoning_content": 5, "reasoning": "x"}) + STOP,
    "non_string_content": ch({"content": 5}) + ch({"content": ["a"]}) + ch({"content": "ok"}),
    "refusal_non_string": ch({"refusal": 1}) + ch({"refusal": "no"}, finish="stop"),
    "new_call_after_finish": call("{}")
    + ch(finish="tool_calls")
    + ch(tc(index=1, id="b", function={"name": "g", "arguments": "{}"})),
    "fragment_after_finish_ignored": call("{") + ch(finish="tool_calls") + more("}"),
    "id_adopted_by_index": ch(tc(index=3, function={"name": "f", "arguments": "{"}))
    + ch(tc(index=3, id="late", function={"arguments": "}"})),
    "later_name_ignored": ch(tc(index=0, id="a", type="function", function={"name": "f"}))
    + ch(tc(index=0, id="zz", function={"name": "other", "arguments": "1 "})),
    "name_set_late": ch(tc(index=0, id="a"))
    + ch(tc(index=0, function={"name": "late", "arguments": "{}"}))
    + ch(finish="tool_calls"),
    "sort_by_index": ch(tc(index=5, id="a", function={"name": "f"}))
    + ch(tc(index=2, id="b", function={"name": "g"}))
    + ch(tc(id="c", function={"name": "h"}))
    + ch(finish="tool_calls"),
    "type_other": ch(tc(index=0, id="a", type="custom", function={"name": "f"})) + STOP,
    "id_number_ignored": ch(tc(index=0, id=5, function={"name": "f"})) + ch(finish="tool_calls"),
    "index_bool_float": ch(tc(index=True, id="a", function={"name": "f"}))
    + ch(tc(index=0.0, id="b", function={"name": "g"}))
    + ch(finish="tool_calls"),
    "args_array_value": call([1, {"b": None}]) + STOP,
    "args_number_value": call(7) + STOP,
    "args_bool_value": call(False) + STOP,
    "args_top_string": call('"x') + more('y"') + STOP,
    "args_surrogates": call('["\\ud83d') + more('\\ude00", "\\udc00"]') + STOP,
    "args_nan": call("[NaN]") + STOP,
    "args_control_char": call('["a\tb"]') + STOP,
    "args_leading_zero": call("[01]") + STOP,
    "args_two_values": call("{} {}") + STOP,
    "args_number_only": call("-1.5e3") + STOP,
    "args_number_grows": call("12") + more("3") + more(" ") + STOP,
    "args_number_incomplete": call("1.") + STOP,
    "args_literal": call("tru") + more("e") + STOP,
    "args_big_numbers": call("[123456789012345678901234567890, -1e400, 1E+2]") + STOP,
    "legacy_then_more": ch({"function_call": {"name": "f", "arguments": '{"a"'}})
    + ch({"function_call": {"name": "g", "arguments": ":1}"}})
    + ch(finish="function_call"),
    "legacy_after_finish": ch(
        {"function_call": {"name": "f", "arguments": "{}"}}, finish="function_call"
    )
    + ch({"function_call": {"arguments": "x"}}),
    # section 2: chunks
    "second_finish_ignored": ch({"content": "a"}, finish="length") + STOP,
    "finish_non_string": ch({"content": "a"}, finish=3) + STOP,
    "n_choices_out_of_order": ch({"content": "two"}, index=2)
    + ch({"content": "zero"})
    + ch(finish="stop", index=2),
    "unfinished_calls_of_two_choices": ch(tc(index=0, id="b", function={"arguments": "{"}), index=1)
    + call("{"),
    "error_null_is_chunk": d({"error": None, "choices": [{"delta": {"content": "a"}}]}),
    "error_with_choices": d(
        {"error": {"message": "m", "code": 429}, "choices": [{"delta": {"content": "dropped"}}]}
    ),
    "error_event_array": b"event: error\ndata: [1, 2]\n\n",
    "error_event_string_json": b'event: error\ndata: "boom"\n\n',
    "error_event_after_done": d("[DONE]") + b"event: error\ndata: x\n\n",
    "data_whitespace": b"data:  \n\ndata:\n\ndata: \t \n\n" + STOP,
    "done_with_spaces": b"data:  [DONE] \n\n",
    "done_in_other_event": b"event: other\ndata: [DONE]\n\n" + ch({"content": "x"}, finish="stop"),
    "after_done_invalid_utf8": d("[DONE]") + b"data: \xff\n\n",
    # section 1: SSE
    "invalid_utf8_comment": b": \xff\n" + STOP,
    "invalid_utf8_field_name": b"da\xfeta: x\n\n" + STOP,
    "nul_in_id": b"id: a\x00b\n" + STOP,
    "cr_lf_split": ch({"content": "a"}).replace(b"\n", b"\r\n"),
    "double_bom": b"\xef\xbb\xbf\xef\xbb\xbf" + ch({"content": "a"}, finish="stop"),
    "bom_only": b"\xef\xbb\xbf",
    "partial_bom": b"\xef\xbb" + STOP,
    "empty": b"",
    "only_comments": b": hi\n\n",
    "unicode_separators": (
        'data: {"choices": [{"delta": {"content": "a\u2028b\u0085c\u2029"}}]}\n\n'.encode()
    ),
    # section 5: end of stream
    "cut_json_at_finish": ch({"content": "a"}) + b'data: {"choices": [{"delta": {"content": "b"',
    "cut_json_terminated_line": ch({"content": "a"})
    + b'data: {"choices": [{"delta": {"content": "b"\n',
    "complete_json_no_blank_line": ch({"content": "a"})
    + b'data: {"choices": [{"delta": {"content": "b"}}]}',
    "number_at_finish": ch({"content": "a"}) + b"data: 12",
    "literal_cut_at_finish": ch({"content": "a"}) + b"data: tru",
}

# The minimal inputs of the disagreements found earlier (tests/DISAGREEMENTS.md), now fixed
# in the core: kept as regression cases.
CASES.update(
    {
        "D1_ready_arguments_at_that_moment": call("{}") + more("x") + STOP,
        "D1_ready_arguments_then_whitespace": call("{}") + more(" ") + STOP,
        "D2_D3_whitespace_arguments": call(" ") + STOP,
        "D4_invalid_chunk_position": d('{"choices": [oops]}'),
        "D4_cut_in_done": ch({"content": "a"}) + b"data: [DO",
        "D4_json_array_chunk": d("[1]") + STOP,
        "D5_truncated_without_choices": d({"choices": [], "usage": {"total_tokens": 1}}),
        "D7_error_top_level_message": d({"error": {"code": "c"}, "message": "top"}),
        "D8_error_is_a_string": d({"error": "rate limited"}) + ch({"content": "a"}),
        "D9_empty_finish_reason": ch({"content": "a"}, finish="") + STOP,
        "D10_cut_inside_number_at_finish": ch({"content": "a"}) + b'data: {"choices": [], "x": 12.',
        "D10_cut_after_minus_at_finish": ch({"content": "a"}) + b'data: {"choices": [], "x": -',
        "D10_cut_in_exponent_at_finish": ch({"content": "a"}) + b'data: {"choices": [], "x": 1e+',
    }
)

# Section 2 as made explicit after the first round: known fields of the wrong JSON type or
# given twice make the chunk invalid; indices that are not non-negative integers are absent.
CASES.update(
    {
        "choices_not_list": d({"choices": {"index": 0}}) + ch({"content": "a"}, finish="stop"),
        "choice_not_object": d({"choices": [1, None, {"delta": {"content": "a"}}]}) + STOP,
        "delta_not_object": d({"choices": [{"delta": "x", "finish_reason": "stop"}]}) + STOP,
        "tool_calls_not_list": ch({"tool_calls": {"index": 0}}) + STOP,
        "fragment_not_object": ch({"tool_calls": [None, {"index": 0, "id": "a"}]}) + STOP,
        "function_not_object": ch(tc(index=0, id="a", function="f")) + ch(finish="tool_calls"),
        "function_call_not_object": ch({"function_call": "f"}) + STOP,
        "lenient_strings": ch({"content": 5, "reasoning_content": [1], "refusal": {"a": 1}})
        + ch(tc(index=0, id=7, type=False, function={"name": 3, "arguments": "{}"}))
        + ch(finish=["stop"])
        + STOP,
        "usage_not_object": d({"choices": [], "usage": {"total_tokens": 1}})
        + d({"choices": [], "usage": 5})
        + d({"usage": "x"})
        + d({"usage": [1]})
        + STOP,
        "duplicate_choices": b'data: {"choices": [{"delta": {"content": "a"}}], '
        b'"choices": [{"delta": {"content": "b"}}]}\n\n' + STOP,
        "duplicate_content": b'data: {"choices": [{"delta": {"content": "a", "content": "b"}}]}\n\n'
        + STOP,
        "duplicate_fragment_index": b'data: {"choices": [{"delta": {"tool_calls": '
        b'[{"index": 0, "index": 1, "id": "a"}]}}]}\n\n' + STOP,
        "duplicate_unknown_field": b'data: {"x": 1, "x": 2, "choices": [{"delta": '
        b'{"role": "a", "role": "b", "content": "ok"}}]}\n\n' + STOP,
        "choice_index_string": d({"choices": [{"index": "1", "delta": {"content": "x"}}]}) + STOP,
        "choice_index_negative": ch({"content": "x"}, index=-1) + STOP,
        "mistral_content_parts": ch(
            {"content": [{"type": "thinking", "thinking": [{"type": "text", "text": "hm"}, 5]}]}
        )
        + ch({"content": [{"type": "thinking", "thinking": "ok"}, {"type": "text", "text": "3"}]})
        + ch({"content": "91"})
        + ch(
            {"content": [{"type": "image_url"}, "x", None, {"text": "!"}, {"type": 7, "text": "?"}]}
        )
        + STOP,
        "choice_index_float": ch({"content": "x"}, index=1.0)
        + ch({"content": "y"}, index=2**32)
        + STOP,
        "choice_index_huge": ch({"content": "x"})
        + ch({"content": "y"}, index=2**70)
        + ch({"content": "z"}, index=1e300)
        + STOP,
        "fragment_index_out_of_range": ch(
            tc(index=0, id="a", function={"name": "f", "arguments": "{"})
        )
        + ch(tc(index=2**32, function={"arguments": "}"}))
        + ch(tc(index=-3, function={"arguments": "}"}))
        + ch(finish="tool_calls"),
        "fragment_index_string": ch(tc(index="0", id="a", function={"name": "f"}))
        + ch(tc(index="0", function={"arguments": "{}"}))
        + ch(finish="tool_calls"),
        "error_object_shapes": d({"error": {"message": "m"}, "code": 5, "type": "t"})
        + d({"error": {"type": 1, "code": None}, "message": 2})
        + d({"object": "error", "message": "v", "type": "BadRequestError", "code": 400})
        + d({"error": 5})
        + d({"error": True}),
        "error_event_shapes": b'event: error\ndata: {"message": "m", "code": "c"}\n\n'
        b'event: error\ndata: {"choices": 5, "error": {"message": "bad shape"}}\n\n'
        b"event: error\ndata:  spaced text \n\n",
    }
)

# Disagreements found and fixed (tests/DISAGREEMENTS.md), kept as regression cases. A new open
# one goes here as an xfail(strict=True) param of test_edge_case until the core is fixed.
FIXED: dict[str, tuple[str, bytes]] = {
    "D11_delta_array": (
        "D11: a JSON array where an object is required is read as a struct (serde seq form)",
        d({"choices": [{"index": 0, "delta": ["x"]}]}) + STOP,
    ),
    "D11_choice_array": (
        "D11: a JSON array where an object is required is read as a struct (serde seq form)",
        d({"choices": [[0, {"content": "y"}]]}) + STOP,
    ),
    "D11_fragment_array": (
        "D11: a JSON array where an object is required is read as a struct (serde seq form)",
        ch({"tool_calls": [[0, "id_a", "function", ["f", "{}"]]]}) + STOP,
    ),
    "D11_error_array": (
        "D11: a JSON array where an object is required is read as a struct (serde seq form)",
        d({"error": ["msg"]}),
    ),
}


def outcome(run: Any, data: bytes, one_byte: bool, **kwargs: Any) -> dict[str, Any]:
    chunks = reads(data, range(1, len(data))) if one_byte else [data]
    result: dict[str, Any] = as_json(run(chunks, 3, **kwargs))
    return result


def compare(data: bytes) -> None:
    for one_byte in (False, True):
        ref = outcome(run_reference, data, one_byte)
        rust = outcome(run_rust, data, one_byte, format="chat")
        assert rust == ref, "one-byte reads" if one_byte else "one read"


CASES.update({name: data for name, (_, data) in FIXED.items()})


@pytest.mark.parametrize("data", [pytest.param(v, id=k) for k, v in CASES.items()])
def test_edge_case(data: bytes) -> None:
    compare(data)


# ------------------------------------------------------------------------------- limits
LIMIT_CASES: dict[str, tuple[dict[str, int], bytes]] = {
    "line": ({"max_line_bytes": 70}, ch({"content": "a" * 80}) + ch({"content": "b"}) + STOP),
    "line_unterminated": ({"max_line_bytes": 70}, STOP + b"data: " + b"x" * 80),
    "event": (
        {"max_event_bytes": 60},
        b"data: {\ndata: " + b" " * 70 + b"\ndata: }\n\n" + ch({"content": "ok"}),
    ),
    "arguments_last_fragment": ({"max_arguments_bytes": 4}, call("{}") + more("  x ") + STOP),
    "arguments_first_fragment": ({"max_arguments_bytes": 4}, call('{"a": 1}') + more(" ") + STOP),
    "tool_calls": (
        {"max_tool_calls": 1},
        call("{}")
        + ch(tc(index=1, id="b", function={"arguments": "[]"}))
        + ch(tc(index=1, function={"arguments": " "}))
        + STOP,
    ),
    "choices": (
        {"max_choices": 2},
        ch({"content": "x"}, index=2) + ch({"content": "y"}, index=1) + STOP,
    ),
    "content": (
        {"max_content_bytes": 5},
        ch({"content": "abc", "reasoning_content": "r"})
        + ch({"content": "def"})
        + ch({"content": "g", "refusal": "no"})
        + ch({"reasoning_content": "1234"})
        + ch({"reasoning_content": "5"})
        + STOP,
    ),
    "content_multibyte": (
        {"max_content_bytes": 4},
        ch({"content": "é"}) + ch({"content": "é"}) + ch({"content": "x"}) + STOP,
    ),
    "depth_arguments": ({"max_depth": 3}, call('{"a": [[') + more("[1]]]}") + STOP),
    "depth_usage": (
        {"max_depth": 2},
        d({"choices": [], "usage": {"a": {"b": {"c": 1}}}})
        + d({"choices": [], "usage": {"a": {"b": 1}}})
        + STOP,
    ),
}


@pytest.mark.parametrize("kwargs,data", [pytest.param(*v, id=k) for k, v in LIMIT_CASES.items()])
def test_limit(kwargs: dict[str, int], data: bytes) -> None:
    for one_byte in (False, True):
        ref = outcome(run_reference, data, one_byte, **kwargs)
        rust = outcome(run_rust, data, one_byte, format="chat", **kwargs)
        assert ref["errors"], "the case must hit its limit"
        assert rust == ref


def test_arguments_limit_drops_further_fragments() -> None:
    """D6 (fixed): after a fragment is over the limit, the later ones are dropped too."""
    data = call('{"a":') + more('"' + "x" * 20 + '"') + more("}") + STOP
    ref = outcome(run_reference, data, False, max_arguments_bytes=8)
    rust = outcome(run_rust, data, False, format="chat", max_arguments_bytes=8)
    assert rust == ref
    assert ref["events"][-2] == ["ToolCallFinished", 0, 0, "a", "f", '{"a":', "incomplete"]
    assert [e["limit"] for e in ref["errors"]] == ["max_arguments_bytes"]  # one per call
