"""Ollama ``/api/chat``: newline-delimited JSON, one ``ChatResponse`` per line, as a local
Ollama streams a turn (types: ollama-python).

``thinking`` pieces, then ``content`` pieces, each call whole in a line of its own
(``arguments`` an object), then the ``done`` line with ``done_reason``, the token counts and
the durations.
"""

from __future__ import annotations

import datetime
from typing import Any

from toolwire._scripted.script import Turn
from toolwire._scripted.wire import (
    RAW,
    RenderContext,
    Renderer,
    arguments_value,
    compact,
    counts,
    finish_word,
    native_usage,
    pieces,
    raw_usage,
    with_raw,
)

DONE_REASONS = {"stop": "stop", "tool_calls": "stop", "length": "length"}

_NS_PER_TOKEN = 20_000_000  # about 50 tokens a second, a laptop's pace


class OllamaRenderer(Renderer):
    content_type = "application/x-ndjson"

    def __init__(self, turn: Turn, ctx: RenderContext) -> None:
        super().__init__(turn, ctx)
        self.started = datetime.datetime.now(datetime.timezone.utc)
        self.lines = 0
        word = finish_word(turn)
        self.done_reason = None if word is None else DONE_REASONS.get(word, word)
        self.counts = counts(turn, ctx.prompt_tokens)

    def stamp(self) -> str:
        """``created_at`` of the next line: a nanosecond RFC 3339 time, one token later."""
        at = self.started + datetime.timedelta(microseconds=self.lines * _NS_PER_TOKEN // 1000)
        self.lines += 1
        return at.strftime("%Y-%m-%dT%H:%M:%S.%f") + "000Z"

    def line(self, message: dict[str, Any], done: bool = False) -> dict[str, Any]:
        return {
            "model": self.ctx.model,
            "created_at": self.stamp(),
            "message": {"role": "assistant", "content": "", **message},
            "done": done,
        }

    def tool_calls(self) -> list[dict[str, Any]]:
        out = []
        for index, c in enumerate(self.turn.tool_calls):
            function = {"index": index, "name": c.name, "arguments": arguments_value(c)}
            tool_call: dict[str, Any] = {"function": function}
            if c.id is not None and c.id_placement != "none":
                tool_call = {"id": c.id, **tool_call}
            out.append(tool_call)
        return out

    def done(self, message: dict[str, Any]) -> str:
        """The done line; a string, since a raw usage string may not be JSON."""
        line = self.line(message, done=True)
        if self.done_reason is not None:
            line["done_reason"] = self.done_reason
        c = self.counts
        line.update(
            {
                "total_duration": (c.input + c.output) * _NS_PER_TOKEN + 5_000_000,
                "load_duration": 5_000_000,
                "prompt_eval_count": c.input,
                "prompt_eval_duration": c.input * _NS_PER_TOKEN // 10,
                "eval_count": c.output,
                "eval_duration": c.output * _NS_PER_TOKEN,
            }
        )
        # Ollama has no usage object: its counts are keys of the done line, so an own mapping
        # replaces them, and a raw string is the raw value of eval_count.
        native = native_usage(self.turn)
        if native is not None:
            for key in ("prompt_eval_count", "eval_count"):
                line.pop(key)
            line.update(native)
        raw = raw_usage(self.turn)
        if raw is not None:
            line["eval_count"] = RAW
        return with_raw(compact(line), raw)

    def events(self) -> list[bytes]:
        turn = self.turn
        out = [
            self.line({"thinking": piece})
            for piece in pieces(turn.reasoning or "", turn.text_piece, None)
        ]
        out += [self.line({"content": p}) for p in pieces(turn.text or "", turn.text_piece, None)]
        out += [self.line({"tool_calls": [tool_call]}) for tool_call in self.tool_calls()]
        lines = [compact(line) for line in out]
        if turn.done:
            lines.append(self.done({}))
        return [(line + "\n").encode() for line in lines]

    def whole(self) -> bytes:
        message: dict[str, Any] = {"content": self.turn.text or ""}
        if self.turn.reasoning:
            message["thinking"] = self.turn.reasoning
        if self.turn.tool_calls:
            message["tool_calls"] = self.tool_calls()
        return self.done(message).encode()

    def malformed(self) -> bytes:
        broken = {"model": self.ctx.model, "message": {"role": "assistant", "content": "oops"}}
        return compact(broken)[:-2].encode() + b"\n"

    def error_event(self, message: str, position: int) -> bytes:
        return (compact({"error": message}) + "\n").encode()
