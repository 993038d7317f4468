"""Anthropic Messages: ``event:`` + ``data:`` SSE, as api.anthropic.com streams a turn.

``message_start``; content blocks in order (thinking with its ``signature_delta``, text,
one ``tool_use`` per call: ``input: {}`` at the start, then ``input_json_delta`` fragments,
the first one empty as recorded); a ``ping`` after the first block start; ``message_delta``
with the stop reason and the output count; ``message_stop``. Types follow anthropic-sdk-python
(``RawMessageStreamEvent``).
"""

from __future__ import annotations

from typing import Any

from toolwire._scripted.errors import anthropic_error
from toolwire._scripted.script import Turn
from toolwire._scripted.wire import (
    RenderContext,
    Renderer,
    arguments_value,
    counts,
    finish_word,
    json_body,
    new_id,
    pieces,
    raw_usage,
    signature,
    sse,
    usage_value,
)

STOP_REASONS = {
    "stop": "end_turn",
    "tool_calls": "tool_use",
    "length": "max_tokens",
    "content_filter": "refusal",
}


class AnthropicRenderer(Renderer):
    def __init__(self, turn: Turn, ctx: RenderContext) -> None:
        super().__init__(turn, ctx)
        self.id = new_id("msg_01")
        self.call_ids = [c.id or new_id("toolu_01") for c in turn.tool_calls]
        self.counts = counts(turn, ctx.prompt_tokens)
        word = finish_word(turn)
        self.stop_reason = None if word is None else STOP_REASONS.get(word, word)
        self.signature = signature(turn.reasoning or "")

    def usage(self, output_tokens: int) -> dict[str, Any]:
        return {
            "input_tokens": self.counts.input,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "output_tokens": output_tokens,
        }

    def message(self, content: list[dict[str, Any]], stop_reason: str | None) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": "message",
            "role": "assistant",
            "model": self.ctx.model,
            "content": content,
            "stop_reason": stop_reason,
            "stop_sequence": None,
        }

    def events(self) -> list[bytes]:
        turn = self.turn
        out: list[bytes] = []
        start_usage = {**self.usage(1), "service_tier": "standard"}
        start = {**self.message([], None), "usage": start_usage}
        out.append(sse({"type": "message_start", "message": start}, "message_start"))
        blocks = 0

        def block(opening: dict[str, Any], deltas: list[dict[str, Any]]) -> None:
            nonlocal blocks
            index = blocks
            out.append(
                sse(
                    {"type": "content_block_start", "index": index, "content_block": opening},
                    "content_block_start",
                )
            )
            if index == 0:
                out.append(sse({"type": "ping"}, "ping"))
            for delta in deltas:
                out.append(
                    sse(
                        {"type": "content_block_delta", "index": index, "delta": delta},
                        "content_block_delta",
                    )
                )
            out.append(sse({"type": "content_block_stop", "index": index}, "content_block_stop"))
            blocks += 1

        if turn.reasoning:
            thinking = [
                {"type": "thinking_delta", "thinking": piece}
                for piece in pieces(turn.reasoning, turn.text_piece, None)
            ]
            thinking.append({"type": "signature_delta", "signature": self.signature})
            block({"type": "thinking", "thinking": "", "signature": ""}, thinking)
        if turn.text:
            text = pieces(turn.text, turn.text_piece, None)
            block({"type": "text", "text": ""}, [{"type": "text_delta", "text": p} for p in text])
        for call_id, c in zip(self.call_ids, turn.tool_calls, strict=True):
            fragments = ["", *pieces(c.arguments_text, turn.args_piece, self.ctx.rng)]
            block(
                {"type": "tool_use", "id": call_id, "name": c.name, "input": {}},
                [{"type": "input_json_delta", "partial_json": f} for f in fragments],
            )
        if blocks == 0:
            out.append(sse({"type": "ping"}, "ping"))
        closing = {
            "type": "message_delta",
            "delta": {"stop_reason": self.stop_reason, "stop_sequence": None},
            "usage": usage_value(turn, self.usage(self.counts.output)),
        }
        out.append(sse(closing, "message_delta", raw=raw_usage(turn)))
        if turn.done:
            out.append(sse({"type": "message_stop"}, "message_stop"))
        return out

    def whole(self) -> bytes:
        turn = self.turn
        content: list[dict[str, Any]] = []
        if turn.reasoning:
            content.append(
                {"type": "thinking", "thinking": turn.reasoning, "signature": self.signature}
            )
        if turn.text:
            content.append({"type": "text", "text": turn.text})
        for call_id, c in zip(self.call_ids, turn.tool_calls, strict=True):
            tool_use = {"type": "tool_use", "id": call_id, "name": c.name}
            content.append({**tool_use, "input": arguments_value(c)})
        usage = usage_value(turn, self.usage(self.counts.output))
        return json_body(
            {**self.message(content, self.stop_reason), "usage": usage}, raw_usage(turn)
        )

    def malformed(self) -> bytes:
        return (
            b"event: content_block_delta\n"
            b'data: {"type":"content_block_delta","index":0,'
            b'"delta":{"type":"text_delta","text":"oops"\n\n'
        )

    def error_event(self, message: str, position: int) -> bytes:
        body = anthropic_error("overloaded_error", message)
        del body["request_id"]  # the in-stream error carries none
        return sse(body, "error")
