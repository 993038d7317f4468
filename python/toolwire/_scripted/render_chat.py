"""OpenAI Chat Completions: ``chat.completion.chunk`` SSE events, as api.openai.com sends them.

A role chunk first, text in small pieces, each tool call opened by one chunk with its id and
name and then its arguments in fragments of a few characters, a chunk with the finish reason,
a usage chunk with empty ``choices`` when the request asked for
``stream_options.include_usage``, then ``data: [DONE]``.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping
from typing import Any

from toolwire._scripted.errors import openai_error
from toolwire._scripted.script import Turn
from toolwire._scripted.wire import (
    RenderContext,
    Renderer,
    estimate_tokens,
    finish_word,
    pieces,
    sse,
)


class ChatRenderer(Renderer):
    def __init__(self, turn: Turn, ctx: RenderContext) -> None:
        super().__init__(turn, ctx)
        self.id = "chatcmpl-" + uuid.uuid4().hex[:24]
        self.created = int(time.time())

    def chunk(self, delta: Mapping[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.ctx.model,
            "system_fingerprint": "fp_toolwire",
            "choices": [
                {"index": 0, "delta": dict(delta), "logprobs": None, "finish_reason": finish_reason}
            ],
        }
        if self.ctx.include_usage:
            out["usage"] = None
        return out

    def usage(self) -> Any:
        if isinstance(self.turn.usage, str):
            try:
                return json.loads(self.turn.usage)
            except (ValueError, RecursionError):
                return self.turn.usage
        if self.turn.usage is not None:
            return dict(self.turn.usage)
        produced = (self.turn.text or "") + (self.turn.reasoning or "")
        produced += "".join(c.name + c.arguments_text for c in self.turn.tool_calls)
        completion = estimate_tokens(produced)
        prompt = self.ctx.prompt_tokens
        return {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }

    def events(self) -> list[bytes]:
        turn = self.turn
        out = [sse(self.chunk({"role": "assistant", "content": "", "refusal": None}))]
        for piece in pieces(turn.reasoning or "", turn.text_piece, None):
            out.append(sse(self.chunk({"reasoning_content": piece})))
        for piece in pieces(turn.text or "", turn.text_piece, None):
            out.append(sse(self.chunk({"content": piece})))
        per_call: list[list[bytes]] = []
        for index, c in enumerate(turn.tool_calls):
            call_id = c.id or "call_" + uuid.uuid4().hex[:24]
            opening: dict[str, Any] = {
                "index": index,
                "id": call_id,
                "type": "function",
                "function": {"name": c.name, "arguments": ""},
            }
            if c.id_placement != "opening":
                del opening["id"]
            events = [sse(self.chunk({"tool_calls": [opening]}))]
            for frag in pieces(c.arguments_text, turn.args_piece, self.ctx.rng):
                events.append(
                    sse(
                        self.chunk(
                            {"tool_calls": [{"index": index, "function": {"arguments": frag}}]}
                        )
                    )
                )
            if c.id_placement == "after_arguments":
                events.append(sse(self.chunk({"tool_calls": [{"index": index, "id": call_id}]})))
            per_call.append(events)
        if turn.interleave:
            longest = max((len(e) for e in per_call), default=0)
            for i in range(longest):
                out.extend(e[i] for e in per_call if i < len(e))
        else:
            for events in per_call:
                out.extend(events)
        reason = finish_word(turn)
        if reason is not None:
            out.append(sse(self.chunk({}, reason)))
        if self.ctx.include_usage:
            head = {
                "id": self.id,
                "object": "chat.completion.chunk",
                "created": self.created,
                "model": self.ctx.model,
                "choices": [],
            }
            if isinstance(turn.usage, str):  # raw JSON text, spliced in as is
                text = json.dumps(head, ensure_ascii=False, separators=(",", ":"))
                out.append(sse(f'{text[:-1]},"usage":{turn.usage}}}'))
            else:
                out.append(sse({**head, "usage": self.usage()}))
        if turn.done:
            out.append(b"data: [DONE]\n\n")
        return out

    def whole(self) -> bytes:
        return json.dumps(self.completion()).encode()

    def completion(self) -> dict[str, Any]:
        """The ``chat.completion`` object of the turn (for ``stream: false``)."""
        message: dict[str, Any] = {"role": "assistant", "content": self.turn.text, "refusal": None}
        if self.turn.tool_calls:
            message["tool_calls"] = [
                {
                    "id": c.id or "call_" + uuid.uuid4().hex[:24],
                    "type": "function",
                    "function": {"name": c.name, "arguments": c.arguments_text},
                }
                for c in self.turn.tool_calls
            ]
        return {
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.ctx.model,
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "logprobs": None,
                    "finish_reason": finish_word(self.turn),
                }
            ],
            "usage": self.usage(),
        }

    def malformed(self) -> bytes:
        return b'data: {"id":"chatcmpl-broken","choices":[{"index":0,"delta":{"content":"oops"\n\n'

    def error_event(self, message: str, position: int) -> bytes:
        return sse(openai_error(message, "server_error", "overloaded"))
