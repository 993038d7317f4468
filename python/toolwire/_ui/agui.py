"""Moves to AG-UI events (the Agent User Interaction protocol, 1.0).

Event and field names are the protocol's (its JSON schema, as generated into the
``ag-ui-protocol`` package's ``ag_ui.core`` models): camelCase keys, optional keys left out.
One agent run is one AG-UI run: ``RUN_STARTED``, per turn ``STEP_STARTED`` ...
``STEP_FINISHED`` around the turn's assistant message (its text as ``TEXT_MESSAGE_*``, its
calls as ``TOOL_CALL_*`` with the message as ``parentMessageId``, reasoning as
``REASONING_*``) and one ``TOOL_CALL_RESULT`` per run, then ``RUN_FINISHED`` (with the token
usage) or ``RUN_ERROR``. A result carries the exact text the model was sent, errors included,
so the thread the browser sends back gives the model the same transcript.

The sequence keeps the rules of the reference client's ``verifyEvents``: every message, call
and step that opens closes before ``RUN_FINISHED``; nothing follows ``RUN_ERROR``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from toolwire._ui.base import Encoder, ErrorText
from toolwire._ui.track import (
    CallArgs,
    CallInput,
    CallOutput,
    CallStarted,
    Move,
    RunEnded,
    RunFailed,
    SegmentDelta,
    SegmentEnded,
    SegmentStarted,
    StepFinished,
    StepStarted,
)

HEADERS: Mapping[str, str] = {
    "content-type": "text/event-stream",
    "cache-control": "no-cache",
    "x-accel-buffering": "no",  # nginx would otherwise buffer the stream
}

#: The protocol version this encoder declares in ``RUN_STARTED``.
PROTOCOL_VERSION = "1.0"


def _usage(token_usage: Mapping[str, int] | None) -> list[dict[str, int]] | None:
    if not token_usage:
        return None
    keys = {"input_tokens": "inputTokens", "output_tokens": "outputTokens"}
    entry = {camel: token_usage[key] for key, camel in keys.items() if key in token_usage}
    if "total_tokens" in token_usage:
        entry["totalTokens"] = token_usage["total_tokens"]
    return [entry] if entry else None


class AGUIEncoder(Encoder):
    """Encodes agent events (or a ``StreamAccumulator``'s) as AG-UI events.

    ``thread_id`` and ``run_id`` are the ``RunAgentInput``'s. ``reserved_ids`` are tool call
    ids the thread already holds, never reused; ``id_prefix`` starts every message id of the
    run (a fresh random one by default: message ids must be unique in the thread).
    ``reasoning=False`` drops the ``REASONING_*`` events (for clients from before they
    existed); ``usage=False`` leaves the token usage out of ``RUN_FINISHED``/``RUN_ERROR``.
    ``error_text`` turns an exception into the ``RUN_ERROR`` message.

    One encoder per run; not thread-safe.
    """

    headers = HEADERS

    def __init__(
        self,
        *,
        thread_id: str,
        run_id: str,
        reserved_ids: Iterable[str] = (),
        id_prefix: str | None = None,
        reasoning: bool = True,
        usage: bool = True,
        error_text: ErrorText | None = None,
    ) -> None:
        super().__init__(id_prefix=id_prefix, reserved_ids=reserved_ids, error_text=error_text)
        self.thread_id = thread_id
        self.run_id = run_id
        self.reasoning = reasoning
        self.usage = usage

    def _opening(self) -> list[dict[str, Any]]:
        return [
            {
                "type": "RUN_STARTED",
                "threadId": self.thread_id,
                "runId": self.run_id,
                "protocolVersion": PROTOCOL_VERSION,
            }
        ]

    def _with_usage(
        self, event: dict[str, Any], token_usage: Mapping[str, int] | None
    ) -> dict[str, Any]:
        usage = _usage(token_usage) if self.usage else None
        if usage is not None:
            event["usage"] = usage
        return event

    def _segment(self, move: SegmentStarted | SegmentDelta | SegmentEnded) -> list[dict[str, Any]]:
        if move.kind == "text":
            # All text of a turn goes to the turn's assistant message, the one its calls name
            # as parent: the reference client appends a START of a known id to that message.
            message_id = move.message_id
            if isinstance(move, SegmentStarted):
                return [
                    {"type": "TEXT_MESSAGE_START", "messageId": message_id, "role": "assistant"}
                ]
            if isinstance(move, SegmentDelta):
                return [
                    {"type": "TEXT_MESSAGE_CONTENT", "messageId": message_id, "delta": move.text}
                ]
            return [{"type": "TEXT_MESSAGE_END", "messageId": message_id}]
        if not self.reasoning:
            return []
        # One reasoning span per reasoning message: the span and the message share the id.
        if isinstance(move, SegmentStarted):
            return [
                {"type": "REASONING_START", "messageId": move.id},
                {"type": "REASONING_MESSAGE_START", "messageId": move.id, "role": "reasoning"},
            ]
        if isinstance(move, SegmentDelta):
            return [{"type": "REASONING_MESSAGE_CONTENT", "messageId": move.id, "delta": move.text}]
        return [
            {"type": "REASONING_MESSAGE_END", "messageId": move.id},
            {"type": "REASONING_END", "messageId": move.id},
        ]

    def _render(self, move: Move) -> list[dict[str, Any]]:
        if isinstance(move, (SegmentStarted, SegmentDelta, SegmentEnded)):
            return self._segment(move)
        if isinstance(move, CallArgs):
            return [{"type": "TOOL_CALL_ARGS", "toolCallId": move.call_id, "delta": move.text}]
        if isinstance(move, CallStarted):
            return [
                {
                    "type": "TOOL_CALL_START",
                    "toolCallId": move.call_id,
                    "toolCallName": move.name,
                    "parentMessageId": move.message_id,
                }
            ]
        if isinstance(move, CallInput):
            return [{"type": "TOOL_CALL_END", "toolCallId": move.call_id}]
        if isinstance(move, CallOutput):
            return [
                {
                    "type": "TOOL_CALL_RESULT",
                    "messageId": move.message_id,
                    "toolCallId": move.call_id,
                    "content": move.run.content,
                    "role": "tool",
                }
            ]
        if isinstance(move, StepStarted):
            return [{"type": "STEP_STARTED", "stepName": f"turn {move.turn}"}]
        if isinstance(move, StepFinished):
            return [{"type": "STEP_FINISHED", "stepName": f"turn {move.turn}"}]
        if isinstance(move, RunEnded):
            finished = {"type": "RUN_FINISHED", "threadId": self.thread_id, "runId": self.run_id}
            return [self._with_usage(finished, move.token_usage)]
        if isinstance(move, RunFailed):
            error = {"type": "RUN_ERROR", "message": move.message, "code": move.code}
            return [self._with_usage(error, move.token_usage)]
        # CallAbandoned: a call that never ran has no result; RUN_ERROR follows.
        return []
