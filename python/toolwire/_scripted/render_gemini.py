"""Gemini ``streamGenerateContent``: one ``GenerateContentResponse`` per ``data:`` line ending
``\\r\\n\\r\\n`` (with ``alt=sse``; without it the same chunks as one JSON array), as
generativelanguage.googleapis.com streams them (types: google-genai).

Each chunk holds ``candidates[0].content`` (role ``model``): ``thought: true`` text parts for
the reasoning, text parts, then every call whole in one chunk (parallel calls together), the
first answer part carrying the ``thoughtSignature`` of a turn with reasoning. The last chunk
has the ``finishReason``; every chunk has ``usageMetadata``, ``modelVersion`` and
``responseId``.
"""

from __future__ import annotations

import json
from typing import Any

from toolwire._scripted.errors import gemini_error
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
    usage_value,
    with_raw,
)

FINISH_REASONS = {
    "stop": "STOP",
    "tool_calls": "STOP",
    "length": "MAX_TOKENS",
    "content_filter": "SAFETY",
}


def _json(obj: Any) -> str:
    # The API's own spacing: ": " after keys, "," between members, raw UTF-8.
    return json.dumps(obj, ensure_ascii=False, separators=(",", ": "))


class GeminiRenderer(Renderer):
    def __init__(self, turn: Turn, ctx: RenderContext) -> None:
        super().__init__(turn, ctx)
        self.content_type = "text/event-stream" if ctx.sse else "application/json; charset=UTF-8"
        self.response_id = new_id("", 22)
        self.counts = counts(turn, ctx.prompt_tokens)
        word = finish_word(turn)
        self.finish_reason = None if word is None else FINISH_REASONS.get(word, word)

    def call_parts(self) -> list[dict[str, Any]]:
        parts = []
        for c in self.turn.tool_calls:
            function_call: dict[str, Any] = {"name": c.name, "args": arguments_value(c)}
            if c.id is not None and c.id_placement != "none":
                function_call = {"id": c.id, **function_call}
            parts.append({"functionCall": function_call})
        return parts

    def chunk_parts(self) -> list[list[dict[str, Any]]]:
        """The parts of each chunk, in order."""
        turn = self.turn
        chunks: list[list[dict[str, Any]]] = [
            [{"text": piece, "thought": True}]
            for piece in pieces(turn.reasoning or "", turn.text_piece, None)
        ]
        answer = [[{"text": piece}] for piece in pieces(turn.text or "", turn.text_piece, None)]
        calls = self.call_parts()
        if calls:
            answer.append(calls)
        if turn.reasoning:
            # Gemini signs its thinking on the first part of the answer: the first call when
            # there are calls, else the first text part, else an empty text part of its own.
            first = calls[0] if calls else answer[0][0] if answer else None
            if first is None:
                first = {"text": ""}
                answer.append([first])
            first["thoughtSignature"] = signature(turn.reasoning)
        chunks.extend(answer)
        return chunks or [[{"text": ""}]]

    def usage(self, share: float) -> Any:
        c = self.counts
        # Gemini counts thoughts apart from the candidates; the other APIs include them.
        answer = c.output - c.reasoning
        sent = round(answer * share)
        built: dict[str, Any] = {
            "promptTokenCount": c.input,
            "candidatesTokenCount": sent,
            "totalTokenCount": c.input + sent + c.reasoning,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": c.input}],
        }
        if c.reasoning:
            built["thoughtsTokenCount"] = c.reasoning
        return usage_value(self.turn, built)

    def response(self, parts: list[dict[str, Any]], last: bool, share: float) -> dict[str, Any]:
        candidate: dict[str, Any] = {"content": {"parts": parts, "role": "model"}}
        if last and self.finish_reason is not None:
            candidate["finishReason"] = self.finish_reason
        candidate["index"] = 0
        return {
            "candidates": [candidate],
            "usageMetadata": self.usage(share),
            "modelVersion": self.ctx.model,
            "responseId": self.response_id,
        }

    def events(self) -> list[bytes]:
        chunks = self.chunk_parts()
        out = []
        for n, parts in enumerate(chunks, 1):
            text = _json(self.response(parts, n == len(chunks), n / len(chunks)))
            out.append(with_raw(text, raw_usage(self.turn)))
        if self.ctx.sse:
            return [f"data: {text}\r\n\r\n".encode() for text in out]
        # Without alt=sse the stream is one JSON array, written element by element.
        events = [("[" if n == 0 else ",\r\n") + text for n, text in enumerate(out)]
        return [e.encode() for e in events] + [b"]"]

    def whole(self) -> bytes:
        merged: list[dict[str, Any]] = []
        for parts in self.chunk_parts():
            for part in parts:
                before = merged[-1] if merged else None
                plain = set(part) <= {"text", "thought"}
                if (
                    before is not None
                    and plain
                    and set(before) <= {"text", "thought"}
                    and before.get("thought") == part.get("thought")
                ):
                    before["text"] += part["text"]
                else:
                    merged.append(dict(part))
        return json_body(self.response(merged, True, 1.0), raw_usage(self.turn))

    def malformed(self) -> bytes:
        broken = b'{"candidates": [{"content": {"parts": [{"text": "oops"}'
        return b"data: " + broken + b"\r\n\r\n" if self.ctx.sse else b",\r\n" + broken

    def error_event(self, message: str, position: int) -> bytes:
        text = _json(gemini_error(503, message))
        if self.ctx.sse:
            return f"data: {text}\r\n\r\n".encode()
        return (("[" if position == 0 else ",\r\n") + text).encode()
