"""OpenAI Responses in the Rust core (`StreamAccumulator(format="responses")`) against the
pure-Python reference (tests/reference/responses.py, rules R1-R14): the same events, messages
(OpenAI-shaped and native), finish reason, usage, token usage, outcome, provider error, done,
truncation, format and raised errors per read; whole, at every split of small streams, in 1-byte
reads and at random splits; read as ``format="responses"`` and as ``format="auto"``; and on
every recorded Responses stream of ../shared/corpus when present.

Not compared: the reference's ``response_id`` / ``model`` (not part of the core's API).
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

import toolwire
from tests.helpers import _drive, as_json, normalize_events, reads
from tests.reference import RefLimitExceeded, RefParseError
from tests.reference.convert import event_to_tuple
from tests.reference.responses import ReferenceResponsesAccumulator
from tests.test_reference_responses import (
    USAGE,
    args_delta,
    args_done,
    completed,
    content_part_added,
    created,
    error_event,
    failed,
    function_call,
    in_progress,
    incomplete,
    item_added,
    item_done,
    message_item,
    reasoning_delta,
    reasoning_item,
    refusal_delta,
    response,
    sse,
    summary_delta,
    summary_part_added,
    text_delta,
)

STREAMS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "recorded-streams"
FORMATS = ("responses", "auto")


# -- driving both ----------------------------------------------------------------------------------
def _error(acc: Any) -> Any:
    err = acc.error
    if err is None or isinstance(err, dict):
        return err
    return {"message": err.message, "code": err.code, "type": err.type, "body": err.body}


def _snapshot(acc: Any, chunks: Sequence[bytes], convert: Any, errors: tuple[type, ...]) -> Any:
    out = _drive(acc, chunks, convert, errors, 1)
    del out["choices"]  # the reference always has choice 0; the core makes it on first data
    out.update(
        native=acc.message(native=True),
        native_other_choice=acc.message(1, native=True),
        outcome=acc.outcome,
        token_usage=acc.token_usage,
        format=acc.format,
        error=_error(acc),
    )
    return as_json(out)


def rust(chunks: Sequence[bytes], fmt: str = "responses", **kwargs: Any) -> Any:
    acc = toolwire.StreamAccumulator(format=fmt, **kwargs)
    errors = (toolwire.ParseError, toolwire.LimitExceeded)
    return _snapshot(acc, chunks, event_to_tuple, errors)


def reference(chunks: Sequence[bytes], **kwargs: Any) -> Any:
    acc = ReferenceResponsesAccumulator(**kwargs)
    return _snapshot(acc, chunks, lambda e: e, (RefParseError, RefLimitExceeded))


def same(chunks: Sequence[bytes], formats: Sequence[str] = FORMATS, **kwargs: Any) -> Any:
    """Rust (each format) and the reference on the same reads (errors are per read)."""
    want = reference(chunks, **kwargs)
    for fmt in formats:
        assert rust(chunks, fmt, **kwargs) == want, fmt
    return want


def _split_free(result: Any) -> Any:
    """What no way of splitting the stream may change: all but the per-read errors, with the
    events' call ids and names at their final values and consecutive deltas merged."""
    return {**result, "errors": [], "events": normalize_events(result["events"])}


def agree(
    raw: bytes, every_split: bool = True, formats: Sequence[str] = FORMATS, **kwargs: Any
) -> Any:
    want = same([raw], formats, **kwargs)
    one_byte = same(reads(raw, range(1, len(raw))), formats, **kwargs)
    assert _split_free(one_byte) == _split_free(want), "1-byte reads"
    if every_split:
        for cut in range(1, len(raw)):
            got = same(reads(raw, [cut]), formats, **kwargs)
            assert _split_free(got) == _split_free(want), f"split at {cut}"
    rng = random.Random(len(raw))
    for _ in range(4 if len(raw) > 1 else 0):
        points = sorted(rng.sample(range(1, len(raw)), min(8, len(raw) - 1)))
        same(reads(raw, points), formats, **kwargs)
    return want


def event(type_: str, **fields: Any) -> dict[str, Any]:
    return {"type": type_, **fields}


def calls_of(events: list[Any]) -> list[Any]:
    return [e for e in events if e[0].startswith("ToolCall")]


def texts_of(events: list[Any]) -> list[Any]:
    return [e for e in events if e[0] in ("TextDelta", "ReasoningDelta")]


# -- the rules, case by case -----------------------------------------------------------------------
MSG = message_item()
DONE_MSG = message_item(text="Hello, world", status="completed")
CALL = function_call("call_abc", "get_weather")

CASES: dict[str, bytes] = {
    # R1, R2: framing, kinds, indexes.
    "text_turn": sse(
        created(),
        in_progress(),
        item_added(0, MSG),
        content_part_added(0, "msg_1"),
        text_delta(0, "msg_1", "Hello"),
        text_delta(0, "msg_1", ", world"),
        event("response.output_text.done", item_id="msg_1", output_index=0, text="x"),
        event("response.content_part.done", item_id="msg_1", output_index=0, part={}),
        item_done(0, DONE_MSG),
        completed(output=[DONE_MSG]),
    ),
    "done_marker_mid_stream_and_after": sse(
        created(),
        item_added(0, MSG),
        text_delta(0, "msg_1", "ok"),
        "data: [DONE]\n\n",
        completed(),
        "data:  [DONE] \n\n",
    ),
    "done_marker_is_not_the_end": sse(created(), item_added(0, MSG), "data: [DONE]\n\n"),
    "invalid_data_and_reading_goes_on": sse(
        created(),
        item_added(0, MSG),
        "event: response.output_text.delta\ndata: {not json}\n\n",
        "data: [1, 2]\n\n",
        "data: 7\n\n",
        'data: "text"\n\n',
        text_delta(0, "msg_1", "still read"),
        completed(),
    ),
    "error_event_text_data": b"event: error\ndata:  upstream timed out \n\n",
    "error_event_json_data_not_an_object": sse(
        created(),
        'event: error\ndata: ["overloaded", 529]\n\n',
        'event: error\ndata: "quota"\n\n',
        "event: error\ndata: 503\n\n",
        "event: error\ndata: {oops\n\n",
        item_added(0, MSG),
        text_delta(0, "msg_1", "after"),
    ),
    "error_event_cut_at_the_end": sse(created()) + b'event: error\ndata: {"type": "error", "mes',
    "cut_inside_the_last_event": sse(created(), item_added(0, MSG), text_delta(0, "msg_1", "ok"))
    + b'event: response.output_text.delta\ndata: {"type": "response.output_text.delta", "de',
    "cut_json_mid_stream_is_invalid": sse(
        created(),
        item_added(0, MSG),
        'event: response.output_text.delta\ndata: {"type": "response.output_text.delta"\n\n',
        text_delta(0, "msg_1", "ok"),
        completed(),
    ),
    "type_names_the_event_else_the_sse_name": sse(
        created(),
        item_added(0, MSG),
        f"event: ping\ndata: {json.dumps(text_delta(0, 'msg_1', 'A'))}\n\n",
        f"data: {json.dumps(text_delta(0, 'msg_1', 'B'))}\n\n",
        "event: response.output_text.delta\n"
        'data: {"item_id": "msg_1", "output_index": 0, "delta": "C"}\n\n',
        'event: response.output_text.delta\ndata: {"type": 5, "output_index": 0, "delta": "D"}\n\n',
        'data: {"item_id": "msg_1", "output_index": 0, "delta": "lost"}\n\n',
        ": a comment\n\n",
        "data:\n\n",
        completed(),
    ),
    "unknown_kinds_and_events_after_the_end": sse(
        created(),
        event("response.web_search_call.in_progress", item_id="ws_1", output_index=0),
        event("response.future_event", output_index=-5, content_index=2**40),
        event("keepalive"),
        event("response.created", output_index=-1, response=[1]),
        item_added(0, MSG),
        text_delta(0, "msg_1", "ok"),
        completed(),
        text_delta(0, "msg_1", " more"),
        error_event("late"),
        "data: {not json}\n\n",
        "event: error\ndata: late text\n\n",
        completed(usage={"input_tokens": 1}),
    ),
    "index_fields": sse(
        created(),
        item_added(0, MSG),
        text_delta(-1, "msg_1", "bad"),
        {**text_delta(0, "msg_1", "x"), "content_index": 2**32},
        {**text_delta(0, "msg_1", "y"), "summary_index": -3},
        item_added(1, function_call("call_a", "f")),
        args_delta(None, None, "lost"),
        {**args_delta(1, "fc_1", "{}"), "output_index": "1"},
        {**text_delta(0, "msg_1", "a"), "content_index": 1.5, "output_index": True},
        {**text_delta(0, "msg_1", "b"), "content_index": 4294967295},
        'data: {"type": "response.output_text.delta", "output_index": -0, "content_index": 1e2,'
        ' "delta": "c"}\n\n',
        'data: {"type": "response.output_text.delta", "output_index": 1e400, "delta": "d"}\n\n',
        'data: {"type": "response.output_text.delta", "output_index": 0, "content_index": -0.0,'
        ' "delta": "e"}\n\n',
        'data: {"type": "response.output_text.delta", "output_index": 0,'
        ' "content_index": 18446744073709551616, "delta": "f"}\n\n',
        completed(),
    ),
    "a_key_given_twice_counts_its_last_value": sse(
        created(),
        'data: {"type": "response.output_item.added", "output_index": 0, "item": {"type": '
        '"function_call", "id": "fc_1", "call_id": "call_x", "call_id": "call_y", "name": "f",'
        ' "arguments": ""}, "item": {"type": "function_call", "id": "fc_2", "call_id": "call_z",'
        ' "name": "g", "name": "h", "arguments": ""}}\n\n',
        'data: {"type": "response.output_text.delta", "delta": "a", "delta": "b",'
        ' "type": "response.output_text.delta"}\n\n',
        'data: {"type": "response.output_text.delta", "delta": "c", "type": "ping"}\n\n',
        'data: {"type": "response.function_call_arguments.delta", "output_index": 7,'
        ' "output_index": 0, "delta": "{}"}\n\n',
        completed(),
    ),
    # R3: lifecycle.
    "resumed_stream": sse(
        event("response.queued", response=response("queued", id="resp_q", model="m-1")),
        in_progress(id="resp_other", model="m-2"),
        item_added(0, MSG),
        text_delta(0, "msg_1", "2 + 2 = 4"),
        completed(),
    ),
    "starts_mid_item": sse(text_delta(3, "msg_9", "tail"), completed()),
    # R4, R5: items and routing.
    "item_sent_whole_in_its_done_event": sse(
        created(),
        item_done(1, {"id": "cm_1", "type": "program", "call_id": "call_p", "code": "run()"}),
        item_done(2, function_call("call_1", "get_hours", '{"member":"Ada"}', status="completed")),
        completed(),
    ),
    "taken_output_index_reads_positionally": sse(
        created(),
        item_added(0, message_item("msg_a")),
        text_delta(0, "msg_a", "A"),
        item_added(0, function_call("call_1", "f", id_="fc_b")),
        args_delta(0, "fc_b", '{"x": 1}'),
        item_added(None, message_item("msg_c")),
        text_delta(None, "msg_c", "C"),
        completed(),
    ),
    "taken_twice_is_ignored": sse(
        created(),
        item_added(1, message_item("msg_a")),
        item_added(1, function_call("call_1", "f", id_="fc_b")),
        item_done(None, message_item("msg_new", "whole", "completed")),
        args_delta(1, "fc_b", "{}"),
        text_delta(1, "msg_a", "A"),
        completed(),
    ),
    "repeated_done_replaces_the_native_item_only": sse(
        created(),
        item_added(0, MSG),
        item_done(0, message_item(text="one", status="completed")),
        item_done(0, message_item(text="two", status="completed")),
        item_added(1, CALL),
        item_done(1, function_call("call_abc", "get_weather", '{"a": 1}')),
        item_done(1, function_call("call_abc", "renamed", '{"a": 2}')),
    ),
    "rotating_item_ids_fall_back_to_output_index": sse(
        created(),
        item_added(0, reasoning_item("id-3")),
        summary_delta(0, "id-5", "Think"),
        item_done(0, reasoning_item("id-8", ["Think"])),
        item_added(1, message_item("id-9")),
        text_delta(1, "id-11", "Hi"),
        text_delta(1, "id-12", "!"),
        item_done(1, message_item("id-68", "Hi!", "completed")),
        text_delta(5, "id-8", " (late)"),
        completed(),
    ),
    "item_id_wins_over_output_index": sse(
        created(),
        item_added(0, function_call("call_a", "f", id_="fc_a")),
        item_added(1, function_call("call_b", "g", id_="fc_b")),
        args_delta(0, "fc_b", '{"b": 2}'),
        args_delta(1, "fc_unknown", '{"a": 1}'),
        args_delta(0, "", "[]"),
        completed(),
    ),
    "items_that_are_not_objects": sse(
        created(),
        event("response.output_item.added", output_index=0, item=[1, 2]),
        event("response.output_item.added", output_index=1, item="text"),
        event("response.output_item.added", output_index=2),
        event("response.output_item.added", output_index=3, item=None),
        event("response.output_item.done", output_index=1, item=7),
        event("response.output_item.done", output_index=9),
        completed(),
    ),
    "done_by_id_at_another_index": sse(
        created(),
        item_added(0, function_call("call_a", "f", id_="fc_a")),
        item_added(1, MSG),
        item_done(1, function_call("call_a", "f", '{"k": 1}', id_="fc_a")),
        text_delta(1, "msg_1", "still open"),
    ),
    # R6: text.
    "summary_parts_and_reasoning_text_concatenate_as_sent": sse(
        created(),
        item_added(0, reasoning_item()),
        summary_part_added(0, "rs_1", 0),
        summary_delta(0, "rs_1", "**Plan**\n\nFirst"),
        summary_delta(0, "rs_1", " step."),
        summary_part_added(0, "rs_1", 1),
        summary_delta(0, "rs_1", "**Next**", summary_index=1),
        item_done(0, reasoning_item(summary=["**Plan**\n\nFirst step.", "**Next**"])),
        item_added(1, reasoning_item("rs_2")),
        content_part_added(1, "rs_2", {"type": "reasoning_text", "text": ""}),
        reasoning_delta(1, "rs_2", "raw"),
        reasoning_delta(1, "rs_2", " cot"),
        item_added(2, MSG),
        text_delta(2, "msg_1", "Answer"),
        refusal_delta(2, "msg_1", "I can't"),
        refusal_delta(2, "msg_1", " do that."),
        completed(),
    ),
    "text_deltas_count_whatever_their_item": sse(
        created(),
        text_delta(None, None, "no item, "),
        text_delta(7, "msg_x", "unknown item, "),
        item_added(0, function_call("call_1", "f")),
        text_delta(0, "fc_1", "a call's item, "),
        summary_delta(0, "fc_1", "reasoning in a call's item, "),
        item_added(1, MSG),
        item_done(1, message_item(text="", status="completed")),
        text_delta(1, "msg_1", "a done item"),
        reasoning_delta(1, "msg_1", " / reasoning in a message"),
        text_delta(1, "msg_1", ""),
        {**text_delta(1, "msg_1", ""), "delta": ["not", "a", "string"]},
        completed(),
    ),
    "unicode_text": sse(
        created(),
        item_added(0, MSG),
        text_delta(0, "msg_1", "h\u00e9llo \u2603 "),
        text_delta(0, "msg_1", "\U0001f600 \u2028 end"),
        completed(),
    ),
    # R7, R8: calls and arguments.
    "function_call_streamed": sse(
        created(),
        item_added(0, CALL),
        args_delta(0, "fc_1", ""),
        args_delta(0, "fc_1", '{"city"'),
        args_delta(0, "fc_1", ': "Paris"'),
        args_delta(0, "fc_1", "}"),
        args_done(0, "fc_1", '{"city": "Paris"}'),
        item_done(0, function_call("call_abc", "get_weather", '{"city": "Paris"}', "completed")),
        completed(),
    ),
    "parallel_calls_interleaved": sse(
        created(),
        item_added(1, function_call("call_b", "weather", id_="fc_b")),
        item_added(0, function_call("call_a", "weather", id_="fc_a")),
        args_delta(1, "fc_b", '{"city": '),
        args_delta(0, "fc_a", '{"city": "Paris"}'),
        args_delta(1, "fc_b", '"Tokyo"}'),
        args_done(1, "fc_b", '{"city": "Tokyo"}'),
        completed(),
    ),
    "arguments_sent_whole": sse(
        created(),
        item_added(0, function_call("call_1", "weather", id_="fc_1")),
        args_done(0, "fc_1", '{"location":"San Francisco"}'),
        item_added(1, function_call("call_2", "weather", '{"from": "added"}', id_="fc_2")),
        item_done(1, function_call("call_2", "weather", "", id_="fc_2")),
        item_added(2, function_call("call_3", "now", id_="fc_3")),
        args_done(2, "fc_3", ""),
        item_added(3, function_call("call_4", "f", '{"from": "added"}', id_="fc_4")),
        args_done(3, "fc_4", '{"from": "done event"}'),
        item_added(4, function_call("call_5", "g", id_="fc_5")),
        item_done(4, function_call("call_5", "g", '{"from": "done item"}', id_="fc_5")),
        item_added(5, function_call("call_6", "h", '{"from": "added"}', id_="fc_6")),
        {**args_done(5, "fc_6", ""), "arguments": None},
        completed(),
    ),
    "done_arguments_never_replace_the_deltas": sse(
        created(),
        item_added(0, function_call("call_1", "f")),
        args_delta(0, "fc_1", '{"a": 1}'),
        args_done(0, "fc_1", '{"a": 2}'),
        args_delta(0, "fc_1", "ignored: finished"),
        item_done(0, function_call("call_1", "f", '{"a": 3}', status="completed")),
        completed(),
    ),
    "done_fills_an_empty_name_and_call_id_is_kept": sse(
        created(),
        item_added(0, {**function_call("", "", id_="fc_1"), "call_id": None}),
        args_delta(0, "fc_1", '{"q": "x"}'),
        item_done(0, function_call("call_late", "lookup", '{"q": "x"}', status="completed")),
        item_added(1, {**function_call("call_2", "", id_="fc_2")}),
        args_done(1, "fc_2", "{}"),
        item_done(1, function_call("call_2", "too_late", "{}", id_="fc_2")),
        completed(),
    ),
    "other_items_are_native_only": sse(
        created(),
        item_added(0, {"id": "ws_1", "type": "web_search_call", "status": "in_progress"}),
        event("response.web_search_call.searching", item_id="ws_1", output_index=0),
        item_done(0, {"id": "ws_1", "type": "web_search_call", "status": "completed"}),
        item_added(1, {"id": "ctc_1", "type": "custom_tool_call", "call_id": "c", "input": ""}),
        event("response.custom_tool_call_input.delta", item_id="ctc_1", output_index=1, delta="a"),
        args_delta(1, "ctc_1", "not a function_call"),
        args_done(1, "ctc_1", "{}"),
        item_done(1, {"id": "ctc_1", "type": "custom_tool_call", "call_id": "c", "input": "a"}),
        item_added(2, {"id": "mcp_1", "type": "mcp_call", "name": "ask", "arguments": ""}),
        event("response.mcp_call_arguments.delta", item_id="mcp_1", output_index=2, delta="{}"),
        item_added(3, {"type": "function_call_output", "call_id": "call_x", "output": "42"}),
        completed(),
    ),
    "events_for_a_finished_call": sse(
        created(),
        item_added(0, function_call("call_1", "f")),
        args_done(0, "fc_1", '{"a": 1}'),
        args_delta(0, "fc_1", '{"b": 2}'),
        args_done(0, "fc_1", '{"c": 3}'),
        item_done(0, function_call("call_1", "renamed", '{"d": 4}')),
        completed(),
    ),
    # R9: text sent whole.
    "text_only_in_the_done_item": sse(
        created(),
        item_added(0, reasoning_item()),
        item_done(0, reasoning_item(summary=["S1", "S2"], content=["C"])),
        item_added(1, MSG),
        item_done(
            1,
            {
                **message_item(status="completed"),
                "content": [
                    {"type": "output_text", "annotations": [], "text": "Rain"},
                    {"type": "refusal", "refusal": "No."},
                    {"type": "other", "text": "not text"},
                    "not a part",
                    {"type": "output_text", "text": ""},
                    {"type": "output_text", "annotations": [], "text": " today"},
                ],
            },
        ),
        item_done(
            2,
            {
                "type": "reasoning",
                "id": "rs_9",
                "summary": [{"text": "untyped"}, 5, {"type": "x", "text": 7}],
                "content": "not a list",
            },
        ),
        item_done(3, {"type": "message", "id": "m3", "content": {"text": "not a list"}}),
    ),
    "done_text_is_not_resent_after_deltas": sse(
        created(),
        item_added(0, MSG),
        text_delta(0, "msg_1", "Hel"),
        item_done(0, message_item(text="Hello", status="completed")),
        item_added(1, reasoning_item("rs_1")),
        refusal_delta(1, "rs_1", "odd"),
        item_done(1, reasoning_item("rs_1", ["not resent"])),
        completed(),
    ),
    # R10: terminal events.
    "terminal_output_read_when_nothing_was_streamed": sse(
        created(),
        event("response.output_text.done", item_id="msg_1", output_index=1, text="ignored"),
        completed(
            output=[
                reasoning_item(summary=["why"]),
                message_item(text="Calling.", status="completed"),
                "not an item",
                function_call("call_1", "f", '{"a": 1}', status="completed"),
                message_item(text="Again", status="completed"),
                function_call("", "g", "", id_="fc_9"),
            ]
        ),
    ),
    "terminal_output_completes_items_never_done": sse(
        created(),
        item_added(0, {"id": "mcpl_1", "type": "mcp_list_tools", "server_label": "w", "tools": []}),
        item_added(1, function_call("call_1", "f", id_="fc_1")),
        args_delta(1, "fc_1", '{"a": 1}'),
        item_added(2, MSG),
        text_delta(2, "msg_1", "Hi"),
        item_added(3, function_call("call_2", "", '{"pre": 1}', id_="fc_2")),
        item_added(4, MSG | {"id": "msg_2"}),
        item_added(5, reasoning_item("rs_5")),
        completed(
            output=[
                {"id": "mcpl_1", "type": "mcp_list_tools", "server_label": "w", "tools": [1]},
                function_call("call_1", "f", '{"a": 2}', status="completed"),
                {"type": "reasoning", "id": "x"},
                function_call("call_2", "named_late", "", id_="fc_2"),
                message_item("msg_2", "whole", "completed"),
            ]
        ),
    ),
    "incomplete_max_output_tokens": sse(
        created(), item_added(0, MSG), text_delta(0, "msg_1", "Long"), incomplete()
    ),
    "incomplete_content_filter": sse(created(), incomplete("content_filter")),
    "incomplete_without_reason": sse(created(), incomplete(None)),
    "incomplete_xai_reason": sse(created(), incomplete("REASON_MAX_LEN")),
    "incomplete_odd_details": sse(
        created(),
        event(
            "response.incomplete",
            response=response("incomplete", incomplete_details={"reason": ""}, usage=USAGE),
        ),
    ),
    "failed_after_an_error_event": sse(
        created(),
        in_progress(),
        event(
            "error",
            error={"type": "insufficient_quota", "code": "insufficient_quota", "message": "Quota"},
        ),
        failed({"code": "insufficient_quota", "message": "Quota"}),
    ),
    "failed_without_error": sse(created(), failed(None)),
    "failed_with_odd_errors": sse(
        created(), failed({"message": 5, "type": ["x"], "code": {"n": 1}})
    ),
    "failed_error_not_an_object": sse(created(), event("response.failed", response={"error": "x"})),
    "terminal_event_order_and_open_calls": sse(
        created(),
        item_added(0, function_call("call_1", "f", id_="fc_1")),
        args_delta(0, "fc_1", '{"a": 1}'),
        item_added(1, function_call("call_2", "g", '{"b": 2}', id_="fc_2")),
        failed({"code": "server_error", "message": "boom", "type": "server_error"}),
    ),
    "terminal_without_a_response": sse(
        created(), item_added(0, CALL), event("response.completed"), text_delta(0, "fc_1", "x")
    ),
    "terminal_response_odd_fields": sse(
        created(),
        item_added(0, MSG),
        event("response.completed", response={"output": {"not": "a list"}, "usage": [1, 2]}),
    ),
    # R11: errors.
    "error_event_shapes": sse(
        created(),
        error_event("Something went wrong", code="ERR_SOMETHING"),
        event("error", error={"type": "server_error", "code": None, "message": "Boom"}),
        "data: "
        + json.dumps({"error": {"message": "Upstream 502", "type": "upstream_error", "code": 502}})
        + "\n\n",
        'data: {"error": "plain text error"}\n\n',
        'data: {"error": {"code": 1}, "message": "top-level message"}\n\n',
        'data: {"error": {}}\n\n',
        'data: {"error": null, "type": "response.output_text.delta", "delta": "x"}\n\n',
        'data: {"type": 3, "error": {"message": "typeless"}}\n\n',
        'event: error\ndata: {"message": "named by the sse event", "code": "c"}\n\n',
        'data: {"type": "error"}\n\n',
        'event: error\ndata: {"type": "response.output_text.delta", "delta": "typed, "}\n\n',
        item_added(0, MSG),
        text_delta(0, "msg_1", "after"),
        completed(),
    ),
    "starts_with_a_chat_style_error": sse(
        'data: {"error": {"message": "rate limited", "type": "requests", "code": "429"}}\n\n',
        created(),
        item_added(0, MSG),
        text_delta(0, "msg_1", "retried"),
        completed(),
    ),
    # R12: end of input.
    "cut_stream_finishes_open_calls": sse(
        created(),
        item_added(0, function_call("call_9", "write", id_="fc_9")),
        args_delta(0, "fc_9", '{"path": "a.txt", "text": "hel'),
        item_added(1, function_call("call_10", "noop", id_="fc_10")),
        item_added(2, function_call("call_11", "pre", '{"k": "added"}', id_="fc_11")),
        item_added(3, function_call("call_12", "bad", "not json", id_="fc_12")),
    ),
    "nothing_but_lifecycle": sse(created(), in_progress()),
    "empty": b"",
    # R13: the native message.
    "native_items_only_added": sse(
        created(),
        item_added(0, reasoning_item()),
        summary_part_added(0, "rs_1", 0),
        summary_delta(0, "rs_1", "Plan"),
        summary_delta(0, "rs_1", "B", summary_index=1),
        reasoning_delta(0, "rs_1", "raw"),
        item_added(1, MSG),
        content_part_added(1, "msg_1"),
        text_delta(1, "msg_1", "Hi"),
        refusal_delta(1, "msg_1", "No", content_index=1),
        content_part_added(1, "msg_1", "not an object", content_index=2),  # type: ignore[arg-type]
        item_added(2, function_call("call_1", "f", id_="fc_2")),
        args_delta(2, "fc_2", '{"a": '),
        item_added(3, function_call("call_2", "g", '{"pre": 1}', id_="fc_3")),
    ),
    "native_parts_edge_cases": sse(
        created(),
        item_added(
            0,
            {
                **MSG,
                "content": [
                    {"type": "output_text", "text": "sent ", "annotations": [{"x": 1}]},
                    "a string part",
                    {"type": "output_text", "text": 5},
                ],
            },
        ),
        text_delta(0, "msg_1", "more"),
        text_delta(0, "msg_1", "replaces the string", content_index=1),
        text_delta(0, "msg_1", "after a non-string", content_index=2),
        refusal_delta(0, "msg_1", "refused in a text part", content_index=0),
        text_delta(0, "msg_1", "no index", content_index=None),  # type: ignore[arg-type]
        content_part_added(0, "msg_1", {"type": "output_text", "text": "new"}, content_index=0),
        text_delta(0, "msg_1", "+1"),
        item_added(1, {**reasoning_item("rs_1"), "content": "not a list", "summary": None}),
        summary_part_added(1, "rs_1", 3),
        content_part_added(1, "rs_1", {"type": "reasoning_text", "text": "c"}, content_index=2),
        reasoning_delta(1, "rs_1", "x", content_index=2),
        summary_delta(1, "rs_1", "s", summary_index=3),
        summary_delta(1, "rs_1", "t", summary_index=0),
        item_added(2, {"type": "message", "id": "m2"}),
        summary_part_added(2, "m2", 0),
        text_delta(2, "m2", "text of a message without content"),
        reasoning_delta(2, "m2", "reasoning does not fit a message"),
        item_added(3, {"id": "ws_1", "type": "web_search_call"}),
        text_delta(3, "ws_1", "text of another kind"),
        content_part_added(3, "ws_1", {"type": "output_text", "text": ""}),
        item_added(4, MSG | {"id": "msg_done"}),
        item_done(4, message_item("msg_done", "whole", "completed")),
        content_part_added(4, "msg_done", {"type": "output_text", "text": "late"}),
        text_delta(4, "msg_done", "late"),
    ),
    # R14: outcome and usage.
    "usage_without_counts": sse(created(), completed(usage={"input_tokens": -1, "other": 2})),
    "usage_partial_counts": sse(created(), completed(usage={"output_tokens": 3})),
}


# Streams format="auto" does not take for Responses (section 11): nothing to recognise, or a
# first event that is only an error's text. test_auto_on_streams_it_cannot_recognise says what
# it does with them instead.
NOT_RECOGNISED = {"empty", "error_event_text_data"}


@pytest.mark.parametrize("name", sorted(CASES))
def test_rust_equals_the_reference(name: str) -> None:
    raw = CASES[name]
    formats = ("responses",) if name in NOT_RECOGNISED else FORMATS
    agree(raw, every_split=len(raw) < 2500, formats=formats)


def test_auto_on_streams_it_cannot_recognise() -> None:
    empty = rust([b""], "auto")
    assert (empty["format"], empty["outcome"], empty["truncated"], empty["errors"]) == (
        "auto",
        "cut",
        True,
        [],
    )
    # A plain-text error event alone: reported, and recognition waits (section 11).
    text = rust([CASES["error_event_text_data"]], "auto")
    assert text["errors"] == [] and text["events"][0][0] == "ProviderError"
    assert (text["format"], text["outcome"]) == ("auto", "error")


def test_the_cases_say_what_the_rules_say() -> None:
    """Spot checks that the cases reach what they are named for (both sides agree on all)."""
    r = same([CASES["text_turn"]])
    assert r["messages"] == [{"role": "assistant", "content": "Hello, world"}]
    assert (r["outcome"], r["done"], r["truncated"], r["format"]) == (
        "stop",
        True,
        False,
        "responses",
    )
    assert r["token_usage"] == {"input_tokens": 30, "output_tokens": 12, "total_tokens": 42}

    r = same([CASES["index_fields"]])
    assert [e["kind"] for e in r["errors"]] == ["invalid chunk"]  # the first of the read
    assert r["messages"][0]["content"] == "abce"
    assert r["messages"][0]["tool_calls"][0]["function"]["arguments"] == "{}"
    one_byte = same(reads(CASES["index_fields"], range(1, len(CASES["index_fields"]))))
    assert [e["kind"] for e in one_byte["errors"]] == ["invalid chunk"] * 5

    r = same([CASES["a_key_given_twice_counts_its_last_value"]])
    assert r["messages"][0]["content"] == "b"
    assert r["messages"][0]["tool_calls"][0]["id"] == "call_z"
    assert r["messages"][0]["tool_calls"][0]["function"] == {"name": "h", "arguments": "{}"}

    r = same([CASES["error_event_json_data_not_an_object"]])
    bodies = [e for e in r["events"] if e[0] == "ProviderError"]
    assert [e[1] for e in bodies] == ['["overloaded", 529]', '"quota"', "503", "{oops"]
    assert r["error"]["body"] == "{oops" and r["errors"] == []

    r = same([CASES["taken_twice_is_ignored"]])
    # The second item at 1 goes to position 1 (taken); the done item without an index too.
    assert [item.get("id") for item in r["native"]] == ["msg_a"]
    assert r["messages"][0]["content"] == "A" and "tool_calls" not in r["messages"][0]

    r = same([CASES["done_fills_an_empty_name_and_call_id_is_kept"]])
    assert [(c["id"], c["function"]["name"]) for c in r["messages"][0]["tool_calls"]] == [
        ("call_0", "lookup"),
        ("call_2", ""),  # finished by its arguments' done event: a later name is not taken
    ]

    r = same([CASES["arguments_sent_whole"]])
    assert [c["function"]["arguments"] for c in r["messages"][0]["tool_calls"]] == [
        '{"location":"San Francisco"}',
        '{"from": "added"}',
        "{}",
        '{"from": "done event"}',
        '{"from": "done item"}',
        '{"from": "added"}',
    ]

    r = same([CASES["text_only_in_the_done_item"]])
    assert r["messages"][0] == {
        "role": "assistant",
        "content": "Rain today",
        "reasoning_content": "S1S2Cuntyped",
        "refusal": "No.",
    }

    r = same([CASES["terminal_output_completes_items_never_done"]])
    assert [item.get("status") for item in r["native"]][3:5] == ["in_progress", "completed"]
    assert r["native"][3]["name"] == "named_late" and r["native"][5] == reasoning_item("rs_5")
    assert r["messages"][0]["content"] == "Hiwhole"

    r = same([CASES["failed_after_an_error_event"]])
    assert r["error"]["message"] == "Quota" and r["error"]["body"]["type"] == "response.failed"
    assert (r["outcome"], r["finish_reason"]) == ("error", "failed")

    r = same([CASES["native_items_only_added"]])
    assert r["native"][1]["content"] == [
        {"type": "output_text", "annotations": [], "logprobs": [], "text": "Hi"},
        {"type": "refusal", "refusal": "No"},
    ]
    assert r["native"][2]["arguments"] == '{"a": ' and r["native_other_choice"] == []

    r = same([CASES["native_parts_edge_cases"]])
    assert r["native"][0]["content"] == [
        {"type": "output_text", "text": "new+1"},
        {"type": "output_text", "text": "replaces the string", "annotations": []},
        {"type": "output_text", "text": "after a non-string"},
    ]
    assert r["native"][4]["content"][0]["text"] == "whole"


def test_event_order_at_the_terminal_event() -> None:
    r = same([CASES["terminal_event_order_and_open_calls"]])
    assert [e[0] for e in r["events"]][-6:] == [
        "ProviderError",
        "ToolCallFinished",
        "ToolCallDelta",
        "ToolCallReady",
        "ToolCallFinished",
        "Finish",
    ]
    r = same([CASES["terminal_output_read_when_nothing_was_streamed"]])
    assert [e[0] for e in r["events"]][-3:] == ["ToolCallFinished", "Usage", "Finish"]
    # "Again" has the id of "Calling.": a repeated done, which replaces the native item only.
    assert texts_of(r["events"]) == [["ReasoningDelta", 0, "why"], ["TextDelta", 0, "Calling."]]
    assert r["native"][1]["content"][0]["text"] == "Again"


def test_a_name_filled_later_shows_in_the_events_of_its_read() -> None:
    raw = CASES["done_fills_an_empty_name_and_call_id_is_kept"]
    whole = same([raw])
    assert calls_of(whole["events"])[0] == ["ToolCallStarted", 0, 0, "call_0", "lookup"]
    one_byte = same(reads(raw, range(1, len(raw))))
    assert calls_of(one_byte["events"])[0] == ["ToolCallStarted", 0, 0, "call_0", ""]


def test_finish_twice_and_feed_after_finish() -> None:
    raw = sse(created(), item_added(0, MSG))
    for acc in (
        toolwire.StreamAccumulator(format="responses"),
        toolwire.StreamAccumulator(format="auto"),
        ReferenceResponsesAccumulator(),
    ):
        acc.feed(raw)
        assert acc.outcome is None
        acc.finish()
        assert acc.finish() == [] and acc.outcome == "cut"
        with pytest.raises(RuntimeError):
            acc.feed(b"data: {}\n\n")


# -- limits ----------------------------------------------------------------------------------------
LIMITED = sse(
    created(),
    item_added(0, reasoning_item()),
    summary_delta(0, "rs_1", "think " * 3),
    item_added(1, MSG),
    text_delta(1, "msg_1", "x" * 15),
    text_delta(1, "msg_1", "y" * 10),
    refusal_delta(1, "msg_1", "no" * 12),
    text_delta(1, "msg_1", "z"),
    item_added(2, function_call("call_1", "f", id_="fc_1")),
    args_delta(2, "fc_1", '{"a": [[[1]]], "b": "' + "x" * 40 + '"}'),
    item_added(3, function_call("call_2", "g", '{"k": [[[[2]]]]}', id_="fc_2")),
    item_added(4, function_call("call_3", "h", id_="fc_3")),
    args_delta(4, "fc_3", "{}"),
    item_done(5, message_item("msg_w", "w" * 30, "completed")),
    item_added(6, function_call("call_4", "i", id_="fc_4")),
    args_done(6, "fc_4", '{"big": "' + "y" * 30 + '"}'),
    completed(usage={**USAGE, "deep": {"a": {"b": {"c": {}}}}}),
)


@pytest.mark.parametrize(
    "limits",
    [
        {"max_content_bytes": 20},
        {"max_arguments_bytes": 20},
        {"max_tool_calls": 1},
        {"max_tool_calls": 2},
        {"max_depth": 3},
        {"max_event_bytes": 300},
        {"max_line_bytes": 300},
        {"max_content_bytes": 1, "max_arguments_bytes": 1, "max_tool_calls": 1, "max_depth": 1},
    ],
)
def test_limits_agree(limits: dict[str, int]) -> None:
    got = agree(LIMITED, every_split=False, **limits)
    assert got["errors"], "the case must hit its limit"


def test_limits_cut_at_the_end_of_input() -> None:
    # The added item's arguments sent at finish() can be past max_arguments_bytes too.
    raw = sse(created(), item_added(0, function_call("call_1", "f", '{"k": "' + "v" * 30 + '"}')))
    got = agree(raw, every_split=False, max_arguments_bytes=10)
    assert got["errors"] == [
        {"error": "LimitExceeded", "limit": "max_arguments_bytes", "value": 10}
    ]


# -- random streams --------------------------------------------------------------------------------
def _random_stream(rng: random.Random) -> bytes:
    """Events of every kind, in odd orders, routed to items that may or may not exist."""
    ids = ["msg_1", "fc_1", "rs_1", "fc_2", "zz", None]
    items = [
        message_item(),
        function_call("call_1", "f", rng.choice(["", '{"a": 1}']), id_="fc_1"),
        reasoning_item(),
        function_call(rng.choice(["", "call_2"]), rng.choice(["", "g"]), id_="fc_2"),
        {"id": "ws_1", "type": "web_search_call"},
    ]
    makers = [
        lambda: item_added(rng.choice([0, 1, 2, 3, None]), rng.choice(items)),
        lambda: item_done(rng.choice([0, 1, 2, 3, None]), rng.choice(items)),
        lambda: text_delta(rng.choice([0, 1, 2, None]), rng.choice(ids), rng.choice(["a", "bc"])),
        lambda: refusal_delta(rng.choice([0, 1]), rng.choice(ids), "r"),  # type: ignore[arg-type]
        lambda: summary_delta(rng.randint(0, 2), rng.choice(ids), "s", rng.randint(0, 1)),  # type: ignore[arg-type]
        lambda: reasoning_delta(rng.randint(0, 2), rng.choice(ids), "t"),  # type: ignore[arg-type]
        lambda: args_delta(
            rng.choice([0, 1, 3, None]), rng.choice(ids), rng.choice(["{", "}", ""])
        ),
        lambda: args_done(rng.choice([1, 3]), rng.choice(ids), rng.choice(["", '{"d": 1}'])),
        lambda: content_part_added(
            rng.randint(0, 2), rng.choice(ids) or "", None, rng.randint(0, 1)
        ),
        lambda: summary_part_added(rng.randint(0, 2), rng.choice(ids) or "", rng.randint(0, 1)),
        lambda: error_event("boom"),
        lambda: "data: [DONE]\n\n",
        lambda: "data: {bad\n\n",
    ]
    events: list[Any] = [created()]
    events += [rng.choice(makers)() for _ in range(rng.randint(0, 14))]
    end = rng.random()
    if end < 0.25:
        events.append(completed(output=[rng.choice(items) for _ in range(rng.randint(0, 4))]))
    elif end < 0.4:
        events.append(incomplete(rng.choice(["max_output_tokens", None])))
    elif end < 0.5:
        events.append(failed({"message": "x"}))
    return sse(*events)


def _random_streams_agree(make: Any, seed: int, every: int | None = None) -> None:
    """150 streams from ``make``: Rust and the reference agree whole and at random splits (and
    in reads of ``every`` bytes), and the splits change nothing but what section 6 allows."""
    rng = random.Random(seed)
    for _ in range(150):
        raw = make(rng)
        whole = same([raw])
        points = sorted(rng.sample(range(1, len(raw)), min(6, len(raw) - 1)))
        got = same(reads(raw, points))
        assert _split_free(got) == _split_free(whole)
        if every:
            got = same(reads(raw, range(1, len(raw), every)))
            assert _split_free(got) == _split_free(whole)


def test_random_streams() -> None:
    _random_streams_agree(_random_stream, 2024)


def _compact_stream(rng: random.Random) -> bytes:
    """Deltas written as OpenAI writes them (compact, keys in one order, a counter and random
    padding that change every event), in runs of one item, which the adapter reads by the last
    delta's shape: runs broken by another item, a delta that is not a string, one with escapes,
    padding of another type, keys in another order, whitespace."""
    ids = ["msg_1", "fc_1", "rs_1", "fc_2", None]
    items = [
        message_item(),
        function_call("call_1", "f", id_="fc_1"),
        reasoning_item(),
        function_call("call_2", "g", id_="fc_2"),
    ]
    # No lone surrogate: the reference does not read one in a delta (the shape's own tests do).
    deltas = ["a", "", "bc", '{"k": "\u00e9\n"}', "é🚀", '"', "\\"]
    makers = [
        lambda o, i, d: text_delta(o, i, d),
        lambda o, i, d: summary_delta(o or 0, i or "", d, rng.randint(0, 1)),
        lambda o, i, d: args_delta(o, i, d),
        lambda o, i, d: reasoning_delta(o or 0, i or "", d),
    ]
    events: list[Any] = [created()]
    events += [item_added(n, item) for n, item in enumerate(items)]
    for _ in range(rng.randint(1, 6)):
        make, out, item_id = rng.choice(makers), rng.choice([0, 1, 2, 3, None]), rng.choice(ids)
        for _ in range(rng.randint(1, 12)):
            made = make(out, item_id, rng.choice(deltas))
            # OpenAI's order: what changes first, what says where the delta goes after it.
            first = ("type", "sequence_number", "delta", "obfuscation")
            ev = {key: made.get(key) for key in first} | {
                k: v for k, v in made.items() if k not in first
            }
            ev["obfuscation"] = "".join(rng.choices("aZ9", k=rng.randint(0, 12)))
            roll = rng.random()
            if roll < 0.04:
                ev["delta"] = rng.choice([None, 7, ["x"]])
            elif roll < 0.08:
                ev["obfuscation"] = rng.choice([None, 3])
            elif roll < 0.1:
                ev = dict(reversed(ev.items()))
            compact = json.dumps(ev, separators=(",", ":"), ensure_ascii=rng.random() < 0.5)
            if rng.random() < 0.03:
                compact = compact.replace(",", ", ", 1)
            events.append(f"event: {ev['type']}\ndata: {compact}\n\n")
        if rng.random() < 0.3:
            events.append(item_done(rng.randint(0, 3), rng.choice(items)))
    if rng.random() < 0.5:
        events.append(completed(output=items))
    return sse(*events)


def test_random_compact_streams() -> None:
    _random_streams_agree(_compact_stream, 7, every=97)


# -- the recorded corpus ---------------------------------------------------------------------------
def _responses_streams() -> list[str]:
    manifest = STREAMS / "manifest.json"
    if not manifest.is_file():
        return []
    streams = json.loads(manifest.read_text())["streams"]
    return sorted(s["file"] for s in streams if s["format"] == "openai-responses")


CORPUS = _responses_streams()
needs_corpus = pytest.mark.skipif(
    not CORPUS, reason=f"no recorded OpenAI Responses streams under {STREAMS} (../shared/corpus)"
)


@needs_corpus
def test_recorded_streams_whole() -> None:
    for name in CORPUS:
        raw = (STREAMS / name).read_bytes()
        got = same([raw])
        assert got["errors"] == [], name


@needs_corpus
def test_recorded_streams_split() -> None:
    rng = random.Random(12)
    for name in CORPUS:
        raw = (STREAMS / name).read_bytes()
        whole = reference([raw])
        for _ in range(2):
            points = sorted(rng.sample(range(1, len(raw)), min(24, len(raw) - 1)))
            got = same(reads(raw, points))
            assert _split_free(got) == _split_free(whole), name


@needs_corpus
def test_recorded_small_streams_in_one_byte_reads() -> None:
    small = [name for name in CORPUS if (STREAMS / name).stat().st_size < 20000]
    assert small
    for name in small:
        raw = (STREAMS / name).read_bytes()
        got = same(reads(raw, range(1, len(raw))))
        assert _split_free(got) == _split_free(reference([raw])), name
