"""Moves to the Vercel AI SDK's UI message stream protocol, v1 (what ``useChat`` reads).

The chunk shapes are the zod ``strictObject`` schemas of the AI SDK
(``packages/ai/src/ui-message-stream/ui-message-chunks.ts`` in vercel/ai): no key beyond the
schema's, optional keys left out rather than null. The headers are its
``ui-message-stream-headers.ts``; the stream ends with ``data: [DONE]``.

One agent run is one assistant UI message: ``start``, then per turn ``start-step`` ...
``finish-step`` (the browser splits the message into model calls at the step boundaries when
it sends the conversation back), ``finish`` and ``[DONE]``. A call whose arguments the agent
refused gets ``tool-input-error`` and then the error result the model was given as
``tool-output-error``, as the AI SDK sends them for invalid tool input.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from toolwire._ui.base import Encoder, ErrorText
from toolwire._ui.track import (
    CallAbandoned,
    CallArgs,
    CallInput,
    CallOutput,
    CallStarted,
    Move,
    Outcome,
    RunEnded,
    RunFailed,
    SegmentDelta,
    SegmentEnded,
    SegmentStarted,
    StepFinished,
    StepStarted,
)
from toolwire.tools import ToolRun

#: ``uiMessageStreamHeaders`` of the AI SDK (``ui-message-stream-headers.ts``).
HEADERS: Mapping[str, str] = {
    "content-type": "text/event-stream",
    "cache-control": "no-cache",
    "connection": "keep-alive",
    "x-vercel-ai-ui-message-stream": "v1",
    "x-accel-buffering": "no",  # nginx would otherwise buffer the stream
}

DONE = b"data: [DONE]\n\n"

#: Accumulator outcomes in the AI SDK's ``FinishReason`` words.
FINISH_REASONS: Mapping[Outcome, str] = {
    "stop": "stop",
    "tool_calls": "tool-calls",
    "length": "length",
    "content_filter": "content-filter",
    "error": "error",
    "cut": "error",
    "other": "other",
}


def output_of(run: ToolRun) -> Any:
    """The JSON value of a successful run: a string result as is, anything else as the JSON
    the model was sent (``run.content``), so that sending it back gives the model the same
    text."""
    if isinstance(run.result, str):
        return run.result
    try:
        return json.loads(run.content)
    except ValueError:
        return run.content


def error_text_of(run: ToolRun) -> str:
    """The ``errorText`` of a failed run: ``"<kind>: <message>"``, which reads well and lets
    ``ui_messages_to_transcript`` give the model back the exact result it was sent (a changed
    transcript prefix would defeat the providers' prompt caching on every request)."""
    assert run.error is not None
    return f"{run.error.kind}: {run.error.message}"


class VercelEncoder(Encoder):
    """Encodes agent events (or a ``StreamAccumulator``'s) as UI message stream chunks.

    ``message_id`` goes in the ``start`` chunk (left out when None: the browser makes one;
    when the request's last message is an assistant message being continued, pass its id).
    ``reserved_ids`` are tool call ids the browser already holds, never reused;
    ``id_prefix`` starts the text and reasoning part ids (random by default).
    A failed tool's ``errorText`` is ``"<kind>: <message>"`` (``exception``, ``timeout``,
    ``invalid_arguments``, ``unknown_tool``), which ``ui_messages_to_transcript`` turns back
    into the exact result the model was sent. ``finish_reason=False`` leaves
    ``finishReason`` out of ``finish`` (``useChat`` from ai 5.0.92 on reads it; older 5.0
    releases reject the key). ``reasoning=False`` drops reasoning parts. ``usage=True``
    puts ``{"usage": {"inputTokens", "outputTokens", "totalTokens"}}`` in the ``finish``
    chunk's ``messageMetadata`` (off by default: a ``messageMetadataSchema`` on the browser
    side would reject a key it does not expect).
    ``error_text`` turns an exception into the ``errorText`` shown to the user.

    One encoder per message; not thread-safe.
    """

    headers = HEADERS
    terminator = DONE

    def __init__(
        self,
        *,
        message_id: str | None = None,
        reserved_ids: Iterable[str] = (),
        id_prefix: str | None = None,
        finish_reason: bool = True,
        reasoning: bool = True,
        usage: bool = False,
        error_text: ErrorText | None = None,
    ) -> None:
        super().__init__(id_prefix=id_prefix, reserved_ids=reserved_ids, error_text=error_text)
        self.message_id = message_id
        self.finish_reason = finish_reason
        self.reasoning = reasoning
        self.usage = usage

    def _opening(self) -> list[dict[str, Any]]:
        start: dict[str, Any] = {"type": "start"}
        if self.message_id is not None:
            start["messageId"] = self.message_id
        return [start]

    def _finish(self, outcome: Outcome, token_usage: Mapping[str, int] | None) -> dict[str, Any]:
        finish: dict[str, Any] = {"type": "finish"}
        if self.finish_reason:
            finish["finishReason"] = FINISH_REASONS[outcome]
        if self.usage and token_usage:
            finish["messageMetadata"] = {
                "usage": {
                    "inputTokens": token_usage.get("input_tokens", 0),
                    "outputTokens": token_usage.get("output_tokens", 0),
                    "totalTokens": token_usage.get("total_tokens", 0),
                }
            }
        return finish

    def _render(self, move: Move) -> list[dict[str, Any]]:
        if isinstance(move, SegmentDelta):
            if move.kind == "reasoning" and not self.reasoning:
                return []
            return [{"type": f"{move.kind}-delta", "id": move.id, "delta": move.text}]
        if isinstance(move, CallArgs):
            return [
                {
                    "type": "tool-input-delta",
                    "toolCallId": move.call_id,
                    "inputTextDelta": move.text,
                }
            ]
        if isinstance(move, SegmentStarted):
            if move.kind == "reasoning" and not self.reasoning:
                return []
            return [{"type": f"{move.kind}-start", "id": move.id}]
        if isinstance(move, SegmentEnded):
            if move.kind == "reasoning" and not self.reasoning:
                return []
            return [{"type": f"{move.kind}-end", "id": move.id}]
        if isinstance(move, CallStarted):
            return [{"type": "tool-input-start", "toolCallId": move.call_id, "toolName": move.name}]
        if isinstance(move, CallInput):
            if move.error is None:
                return [
                    {
                        "type": "tool-input-available",
                        "toolCallId": move.call_id,
                        "toolName": move.name,
                        "input": move.input,
                    }
                ]
            return [
                {
                    "type": "tool-input-error",
                    "toolCallId": move.call_id,
                    "toolName": move.name,
                    "input": move.input,
                    "errorText": move.error,
                }
            ]
        if isinstance(move, CallOutput):
            run = move.run
            if run.error is None:
                return [
                    {
                        "type": "tool-output-available",
                        "toolCallId": move.call_id,
                        "output": output_of(run),
                    }
                ]
            return [
                {
                    "type": "tool-output-error",
                    "toolCallId": move.call_id,
                    "errorText": error_text_of(run),
                }
            ]
        if isinstance(move, CallAbandoned):
            return [
                {"type": "tool-output-error", "toolCallId": move.call_id, "errorText": move.reason}
            ]
        if isinstance(move, StepStarted):
            return [{"type": "start-step"}]
        if isinstance(move, StepFinished):
            return [{"type": "finish-step"}]
        if isinstance(move, RunEnded):
            return [self._finish(move.outcome, move.token_usage)]
        if isinstance(move, RunFailed):
            return [
                {"type": "error", "errorText": move.message},
                self._finish(move.outcome, move.token_usage),
            ]
        return []
