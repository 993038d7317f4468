"""OpenAI Responses: named SSE events with a ``sequence_number``, as api.openai.com streams a
response (types: openai-python ``ResponseStreamEvent``).

``response.created`` and ``response.in_progress``; then one output item after the other, each
``output_item.added`` ... ``output_item.done``: a reasoning item (summary part, summary text
deltas), a message item (content part, ``output_text`` deltas), one ``function_call`` item per
call (``fc_`` item id, ``call_`` call id, argument deltas keyed by ``item_id`` and
``output_index``); last the terminal event with the whole output and the usage:
``response.completed``, ``response.incomplete`` (``incomplete_details.reason``) or, for the
finish word ``"failed"``, ``response.failed``.
"""

from __future__ import annotations

import time
from typing import Any

from toolwire._scripted.script import Turn
from toolwire._scripted.wire import (
    RenderContext,
    Renderer,
    counts,
    finish_word,
    json_body,
    new_id,
    pieces,
    raw_usage,
    sse,
    usage_value,
)

# Chat's finish words as (terminal status, incomplete_details.reason).
_ENDS: dict[str | None, tuple[str, str | None]] = {
    None: ("completed", None),
    "stop": ("completed", None),
    "tool_calls": ("completed", None),
    "length": ("incomplete", "max_output_tokens"),
    "content_filter": ("incomplete", "content_filter"),
    "failed": ("failed", None),
}


class ResponsesRenderer(Renderer):
    def __init__(self, turn: Turn, ctx: RenderContext) -> None:
        super().__init__(turn, ctx)
        self.id = new_id("resp_", 48)
        self.created = int(time.time())
        self.call_ids = [c.id or new_id("call_") for c in turn.tool_calls]
        self.item_ids = [new_id("fc_", 48) for _ in turn.tool_calls]
        self.reasoning_id = new_id("rs_", 48)
        self.message_id = new_id("msg_", 48)
        word = finish_word(turn)
        self.status, self.reason = _ENDS.get(word, ("incomplete", word))
        self.counts = counts(turn, ctx.prompt_tokens)

    def response(self, status: str, output: list[dict[str, Any]], usage: Any) -> dict[str, Any]:
        done = status != "in_progress"
        return {
            "id": self.id,
            "object": "response",
            "created_at": self.created,
            "status": status,
            "background": False,
            "error": (
                {"code": "server_error", "message": "The model failed to answer"}
                if status == "failed"
                else None
            ),
            "incomplete_details": (
                {"reason": self.reason} if done and status == "incomplete" else None
            ),
            "instructions": None,
            "max_output_tokens": None,
            "model": self.ctx.model,
            "output": output,
            "parallel_tool_calls": True,
            "previous_response_id": None,
            "reasoning": {"effort": None, "summary": None},
            "store": True,
            "temperature": 1.0,
            "text": {"format": {"type": "text"}},
            "tool_choice": "auto",
            "tools": [],
            "top_p": 1.0,
            "truncation": "disabled",
            "usage": usage,
            "user": None,
            "metadata": {},
        }

    def usage(self) -> Any:
        c = self.counts
        built = {
            "input_tokens": c.input,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": c.output,
            "output_tokens_details": {"reasoning_tokens": c.reasoning},
            "total_tokens": c.input + c.output,
        }
        return usage_value(self.turn, built)

    def items(self) -> list[dict[str, Any]]:
        """The output items as the terminal event lists them."""
        turn = self.turn
        finished = "completed" if self.status == "completed" else "incomplete"
        out: list[dict[str, Any]] = []
        if turn.reasoning:
            summary = [{"type": "summary_text", "text": turn.reasoning}]
            out.append({"id": self.reasoning_id, "type": "reasoning", "summary": summary})
        if turn.text:
            out.append(
                {
                    "id": self.message_id,
                    "type": "message",
                    "status": finished,
                    "role": "assistant",
                    "content": [self.text_part(turn.text)],
                }
            )
        for item_id, call_id, c in zip(self.item_ids, self.call_ids, turn.tool_calls, strict=True):
            out.append(self.call_item(item_id, call_id, c.name, c.arguments_text, "completed"))
        return out

    @staticmethod
    def text_part(text: str) -> dict[str, Any]:
        return {"type": "output_text", "annotations": [], "logprobs": [], "text": text}

    @staticmethod
    def call_item(item_id: str, call_id: str, name: str, args: str, status: str) -> dict[str, Any]:
        return {
            "id": item_id,
            "type": "function_call",
            "status": status,
            "arguments": args,
            "call_id": call_id,
            "name": name,
        }

    def events(self) -> list[bytes]:
        turn = self.turn
        out: list[bytes] = []

        def emit(kind: str, *, raw: str | None = None, **fields: Any) -> None:
            data = {"type": kind, "sequence_number": len(out), **fields}
            out.append(sse(data, kind, raw=raw))

        emit("response.created", response=self.response("in_progress", [], None))
        emit("response.in_progress", response=self.response("in_progress", [], None))
        done = self.items()
        place: dict[str, Any]  # where a delta belongs: item_id, output_index, part index
        at = 0  # the output_index of the item being sent
        if turn.reasoning:
            rid = self.reasoning_id
            place = {"item_id": rid, "output_index": at, "summary_index": 0}
            added = {"id": rid, "type": "reasoning", "summary": []}
            emit("response.output_item.added", output_index=at, item=added)
            part = {"type": "summary_text", "text": ""}
            emit("response.reasoning_summary_part.added", **place, part=part)
            for piece in pieces(turn.reasoning, turn.text_piece, None):
                emit("response.reasoning_summary_text.delta", **place, delta=piece)
            emit("response.reasoning_summary_text.done", **place, text=turn.reasoning)
            part = {"type": "summary_text", "text": turn.reasoning}
            emit("response.reasoning_summary_part.done", **place, part=part)
            emit("response.output_item.done", output_index=at, item=done[at])
            at += 1
        if turn.text:
            mid = self.message_id
            place = {"item_id": mid, "output_index": at, "content_index": 0}
            added = {
                "id": mid,
                "type": "message",
                "status": "in_progress",
                "role": "assistant",
                "content": [],
            }
            emit("response.output_item.added", output_index=at, item=added)
            emit("response.content_part.added", **place, part=self.text_part(""))
            for piece in pieces(turn.text, turn.text_piece, None):
                emit("response.output_text.delta", **place, delta=piece, logprobs=[])
            emit("response.output_text.done", **place, text=turn.text, logprobs=[])
            emit("response.content_part.done", **place, part=self.text_part(turn.text))
            emit("response.output_item.done", output_index=at, item=done[at])
            at += 1
        for item_id, call_id, c in zip(self.item_ids, self.call_ids, turn.tool_calls, strict=True):
            added = self.call_item(item_id, call_id, c.name, "", "in_progress")
            emit("response.output_item.added", output_index=at, item=added)
            place = {"item_id": item_id, "output_index": at}
            for piece in pieces(c.arguments_text, turn.args_piece, self.ctx.rng):
                emit("response.function_call_arguments.delta", **place, delta=piece)
            emit("response.function_call_arguments.done", **place, arguments=c.arguments_text)
            emit("response.output_item.done", output_index=at, item=done[at])
            at += 1
        if turn.done:
            final = self.response(self.status, done, self.usage())
            emit(f"response.{self.status}", raw=raw_usage(turn), response=final)
        return out

    def whole(self) -> bytes:
        final = self.response(self.status, self.items(), self.usage())
        return json_body(final, raw_usage(self.turn))

    def malformed(self) -> bytes:
        return (
            b"event: response.output_text.delta\n"
            b'data: {"type":"response.output_text.delta","delta":"oops"\n\n'
        )

    def error_event(self, message: str, position: int) -> bytes:
        error = {
            "type": "error",
            "code": "server_error",
            "message": message,
            "param": None,
            "sequence_number": position,
        }
        return sse(error, "error")
