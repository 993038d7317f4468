"""A browser's conversation back to the agent's canonical transcript (OpenAI chat shape).

``useChat`` posts ``UIMessage``s (``{id, role, parts}``, ``packages/ai/src/ui/ui-messages.ts``
in vercel/ai); AG-UI posts a ``RunAgentInput`` whose messages are close to OpenAI's already
(camelCase). Both become ``system``/``user``/``assistant`` (``content`` + ``tool_calls``)/
``tool`` messages, the way the AI SDK's ``convertToModelMessages`` splits an assistant
message: one assistant message per step (parts between ``step-start`` markers), followed by
one tool message per finished call of that step. Outputs go back as the agent sent them
(compact JSON, or the string a tool returned), and an ``output-error`` whose text is one of
toolwire's (``"<kind>: <message>"``) as the error result the model saw: the conversation the
model gets again is the one it got before, so a provider's prompt cache keeps holding.

What a provider would refuse is dropped, not sent: a call without a result (still streaming,
waiting for approval, or cut off) and a result without its call. Client system and developer
messages are dropped unless allowed (a public endpoint should not let the browser replace the
server's system prompt). Files, sources, data parts and reasoning are not sent back (the agent
sends reasoning back only in a provider's own shape, which the browser does not hold).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, cast, get_args

from toolwire._dialects.base import _text_of
from toolwire.tools import ToolError, ToolErrorKind

Message = dict[str, Any]

#: The result the AI SDK gives the model for a call the user refused.
_DENIED = "Tool execution denied."


def _arguments(value: Any) -> str:
    """Tool call arguments as text: the raw text of a call that was not valid JSON is kept
    as it was, anything else is encoded."""
    if isinstance(value, str):
        return value
    return json.dumps({} if value is None else value, ensure_ascii=False)


def _result(value: Any) -> str:
    """A tool output as the tool message text: compact JSON, as the agent sends results."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _error_content(text: str) -> str:
    """The tool message of an ``output-error`` part: the agent's error result again when the
    text is one of toolwire's (``"<kind>: <message>"``), else the text as is (the AI SDK's
    ``error-text`` output)."""
    kind, sep, message = text.partition(": ")
    if sep and kind in get_args(ToolErrorKind):
        return ToolError(cast(ToolErrorKind, kind), message).content()
    return text


def _tool_name(part: Mapping[str, Any]) -> str | None:
    kind = part.get("type")
    if kind == "dynamic-tool":
        name = part.get("toolName")
        return name if isinstance(name, str) else None
    if isinstance(kind, str) and kind.startswith("tool-"):
        return kind[len("tool-") :]
    return None


def _ui_block(parts: Sequence[Mapping[str, Any]]) -> list[Message]:
    """One step of an assistant UI message: its assistant message and tool messages."""
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    results: list[Message] = []
    for part in parts:
        if part.get("type") == "text":
            texts.append(str(part.get("text") or ""))
            continue
        name = _tool_name(part)
        call_id = part.get("toolCallId")
        if name is None or not isinstance(call_id, str) or not call_id:
            continue
        state = part.get("state")
        if state == "output-available":
            content = _result(part.get("output"))
        elif state == "output-error":
            content = _error_content(str(part.get("errorText") or ""))
        elif state == "output-denied":
            approval = part.get("approval")
            reason = approval.get("reason") if isinstance(approval, Mapping) else None
            content = str(reason or _DENIED)
        else:
            continue  # no result yet: a provider refuses a call left unanswered
        raw = part.get("input")
        if raw is None:
            raw = part.get("rawInput")  # the AI SDK's place for invalid input (static tools)
        calls.append(
            {
                "id": call_id,
                "type": "function",
                "function": {"name": name, "arguments": _arguments(raw)},
            }
        )
        results.append({"role": "tool", "tool_call_id": call_id, "content": content})
    text = "".join(texts)
    if not text and not calls:
        return []
    assistant: Message = {"role": "assistant", "content": text or None}
    if calls:
        assistant["tool_calls"] = calls
    return [assistant, *results]


def ui_messages_to_transcript(
    messages: Iterable[Mapping[str, Any]], *, system: bool = False
) -> list[Message]:
    """The canonical transcript of the ``messages`` of a ``useChat`` request.

    ``system=True`` keeps the browser's system messages. Raises ``ValueError`` for a message
    that is not an object with a ``role``.
    """
    out: list[Message] = []
    for message in messages:
        if not isinstance(message, Mapping) or not isinstance(message.get("role"), str):
            raise ValueError("each message must be an object with a role")
        role = message["role"]
        raw_parts = message.get("parts")
        parts = (
            [p for p in raw_parts if isinstance(p, Mapping)] if isinstance(raw_parts, list) else []
        )
        if not parts and isinstance(message.get("content"), str):
            parts = [{"type": "text", "text": message["content"]}]  # AI SDK 4's shape
        if role == "assistant":
            block: list[Mapping[str, Any]] = []
            for part in parts:
                if part.get("type") == "step-start":
                    out.extend(_ui_block(block))
                    block = []
                else:
                    block.append(part)
            out.extend(_ui_block(block))
            continue
        texts = [str(p.get("text") or "") for p in parts if p.get("type") == "text"]
        if role == "user":
            text = "\n".join(t for t in texts if t)
            if text:
                out.append({"role": "user", "content": text})
        elif role == "system" and system:
            out.append({"role": "system", "content": "".join(texts)})
    return paired(out)


def agui_messages_to_transcript(
    messages: Iterable[Mapping[str, Any]], *, system: bool = False
) -> list[Message]:
    """The canonical transcript of the ``messages`` of an AG-UI ``RunAgentInput``.

    ``system=True`` keeps system and developer messages. Activity and reasoning messages are
    dropped. Raises ``ValueError`` for a message that is not an object with a ``role``.
    """
    out: list[Message] = []
    for message in messages:
        if not isinstance(message, Mapping) or not isinstance(message.get("role"), str):
            raise ValueError("each message must be an object with a role")
        role = message["role"]
        if role in ("system", "developer"):
            if system:
                out.append({"role": role, "content": _text_of(message.get("content"))})
        elif role == "user":
            text = _text_of(message.get("content"))
            if text:
                out.append({"role": "user", "content": text})
        elif role == "assistant":
            raw_calls = message.get("toolCalls", message.get("tool_calls"))
            calls = []
            for call in raw_calls if isinstance(raw_calls, list) else ():
                function = call.get("function") if isinstance(call, Mapping) else None
                if not isinstance(function, Mapping) or not isinstance(call.get("id"), str):
                    continue
                calls.append(
                    {
                        "id": call["id"],
                        "type": "function",
                        "function": {
                            "name": str(function.get("name") or ""),
                            "arguments": _arguments(function.get("arguments")),
                        },
                    }
                )
            assistant: Message = {
                "role": "assistant",
                "content": _text_of(message.get("content")) or None,
            }
            if calls:
                assistant["tool_calls"] = calls
            out.append(assistant)
        elif role == "tool":
            call_id = message.get("toolCallId", message.get("tool_call_id"))
            if isinstance(call_id, str):
                content = _text_of(message.get("content")) or str(message.get("error") or "")
                out.append({"role": "tool", "tool_call_id": call_id, "content": content})
    return paired(out)


def _merge(messages: Iterable[Message]) -> list[Message]:
    """Consecutive assistant messages as one (AG-UI sends text that followed a call as a
    message of its own; a provider wants the calls' results right after the calls)."""
    out: list[Message] = []
    for message in messages:
        last = out[-1] if out else None
        if last is not None and last["role"] == message["role"] == "assistant":
            text = (last.get("content") or "") + (message.get("content") or "")
            calls = [*last.get("tool_calls", ()), *message.get("tool_calls", ())]
            merged: Message = {"role": "assistant", "content": text or None}
            if calls:
                merged["tool_calls"] = calls
            out[-1] = merged
        else:
            out.append(dict(message))
    return out


def paired(messages: Iterable[Message]) -> list[Message]:
    """The transcript with every call answered: calls without a result right after their
    assistant message are dropped, as are results without their call and assistant messages
    left empty."""
    merged = _merge(messages)
    out: list[Message] = []
    i = 0
    while i < len(merged):
        message = merged[i]
        i += 1
        if message["role"] == "tool":
            continue  # a result whose call is not right before it
        if message["role"] != "assistant" or not message.get("tool_calls"):
            if message["role"] != "assistant" or message.get("content"):
                out.append(message)
            continue
        results: dict[str, Message] = {}
        while i < len(merged) and merged[i]["role"] == "tool":
            result = merged[i]
            results.setdefault(str(result.get("tool_call_id")), result)
            i += 1
        calls: list[dict[str, Any]] = []
        for call in message["tool_calls"]:
            if call["id"] in results and all(c["id"] != call["id"] for c in calls):
                calls.append(call)
        if not calls:
            if message.get("content"):
                out.append({"role": "assistant", "content": message["content"]})
            continue
        out.append({**message, "tool_calls": calls})
        out.extend(results[c["id"]] for c in calls)
    return out


def tool_call_ids(messages: Iterable[Any]) -> set[str]:
    """Every tool call id a browser holds (``toolCallId`` of UI parts and AG-UI tool
    messages, ``id`` of AG-UI and OpenAI tool calls), dropped calls included: ids a new
    message must not reuse."""
    ids: set[str] = set()
    for message in messages:
        if not isinstance(message, Mapping):
            continue
        for key in ("parts", "toolCalls", "tool_calls"):
            items = message.get(key)
            for item in items if isinstance(items, list) else ():
                if not isinstance(item, Mapping):
                    continue
                for field in ("toolCallId", "id") if key != "parts" else ("toolCallId",):
                    value = item.get(field)
                    if isinstance(value, str) and value:
                        ids.add(value)
        for field in ("toolCallId", "tool_call_id"):
            value = message.get(field)
            if isinstance(value, str) and value:
                ids.add(value)
    return ids
