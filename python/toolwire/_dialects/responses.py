"""OpenAI Responses: ``input`` items, calls and their outputs items of their own."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from toolwire._dialects.base import (
    Dialect,
    Message,
    _assistant,
    _calls,
    _functions,
    _native,
    _text_of,
    _tool_call,
)


class Responses(Dialect):
    """OpenAI Responses: ``input`` items; calls and their outputs are items of their own."""

    name = "responses"
    format = "responses"
    asks_usage = False

    def url(self, base: str, model: str) -> str:
        return base + "/responses"

    def body(
        self,
        model: str,
        messages: Sequence[Mapping[str, Any]],
        tools: Sequence[Mapping[str, Any]],
        params: Mapping[str, Any],
    ) -> dict[str, Any]:
        items: list[Any] = []
        for message in messages:
            role = message.get("role")
            if role == "tool":
                output = message.get("content")
                items.append(
                    {
                        "type": "function_call_output",
                        "call_id": str(message.get("tool_call_id", "")),
                        "output": output if isinstance(output, str) else _text_of(output),
                    }
                )
            elif role == "assistant":
                native = _native(message, self.name)
                if isinstance(native, list):
                    items.extend(native)
                    continue
                text = _text_of(message.get("content"))
                if text:
                    items.append({"role": "assistant", "content": text})
                for call in _calls(message):
                    items.append(
                        {
                            "type": "function_call",
                            "call_id": call.id,
                            "name": call.name,
                            "arguments": str(call.arguments or "{}"),
                        }
                    )
            else:
                items.append({"role": role, "content": message.get("content") or ""})
        body: dict[str, Any] = {"model": model, "input": items, **params, "stream": True}
        if tools:
            # Responses makes function tools strict unless told otherwise, and a strict schema
            # must list every property as required: a tool with an optional argument would be
            # refused. Chat's default (not strict) is kept unless the schema asks for strict.
            body["tools"] = [
                {"type": "function", **f, "strict": bool(f.get("strict", False))}
                for f in _functions(tools)
            ]
        return body

    def messages_of(self, body: Mapping[str, Any], model: str = "") -> list[Message]:
        return _responses_messages(body)


def _responses_messages(body: Mapping[str, Any]) -> list[Message]:
    out: list[Message] = []
    if isinstance(body.get("instructions"), str):
        out.append({"role": "system", "content": body["instructions"]})
    items = body.get("input")
    if isinstance(items, str):
        return [*out, {"role": "user", "content": items}]
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, Mapping):
            continue
        kind = item.get("type", "message")
        if kind == "function_call":
            call = _tool_call(
                str(item.get("call_id", "")),
                str(item.get("name", "")),
                item.get("arguments") or "{}",
            )
            if out and out[-1]["role"] == "assistant":
                out[-1].setdefault("tool_calls", []).append(call)
            else:
                out.append(_assistant("", [call]))
        elif kind == "function_call_output":
            output = item.get("output")
            out.append(
                {
                    "role": "tool",
                    "tool_call_id": str(item.get("call_id", "")),
                    "content": output if isinstance(output, str) else _text_of(output),
                }
            )
        elif kind == "message":
            role = str(item.get("role", "user"))
            text = _text_of(item.get("content"))
            if role == "assistant":
                if out and out[-1]["role"] == "assistant" and not out[-1].get("tool_calls"):
                    out[-1]["content"] = (out[-1]["content"] or "") + text
                else:
                    out.append(_assistant(text, []))
            else:
                out.append({"role": role, "content": text})
    return out
