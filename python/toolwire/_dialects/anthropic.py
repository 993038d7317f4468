"""Anthropic Messages: ``system`` apart, strict alternation, ``tool_use``/``tool_result`` blocks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from toolwire._dialects.base import (
    Dialect,
    Message,
    _add_turn,
    _arguments,
    _assistant,
    _calls,
    _functions,
    _native,
    _text_of,
    _tool_call,
)


class Anthropic(Dialect):
    """Anthropic Messages: ``system`` apart, strict user/assistant alternation, calls as
    ``tool_use`` blocks answered by ``tool_result`` blocks in the next user message."""

    name = "anthropic"
    format = "anthropic"
    key_env = ("ANTHROPIC_API_KEY",)
    base_url_env = "ANTHROPIC_BASE_URL"
    default_base_url = "https://api.anthropic.com"
    key_header = "x-api-key"
    asks_usage = False
    version = "2023-06-01"
    #: ``max_tokens`` is required by the API; ``params`` (``max_tokens=``) override it.
    max_tokens = 4096

    def url(self, base: str, model: str) -> str:
        return base + "/v1/messages"

    def headers(self) -> dict[str, str]:
        return {**super().headers(), "anthropic-version": self.version}

    def body(
        self,
        model: str,
        messages: Sequence[Mapping[str, Any]],
        tools: Sequence[Mapping[str, Any]],
        params: Mapping[str, Any],
    ) -> dict[str, Any]:
        system: list[str] = []
        turns: list[Message] = []

        def add(role: str, blocks: list[Any]) -> None:
            _add_turn(turns, role, "content", blocks)

        for message in messages:
            role = message.get("role")
            content = message.get("content")
            if role in ("system", "developer"):
                system.append(_text_of(content))
            elif role == "tool":
                add(
                    "user",
                    [
                        {
                            "type": "tool_result",
                            "tool_use_id": str(message.get("tool_call_id", "")),
                            "content": _text_of(content),
                        }
                    ],
                )
            elif role == "assistant":
                add("assistant", self._assistant_blocks(message))
            else:
                blocks = (
                    [dict(p) for p in content if isinstance(p, Mapping)]
                    if isinstance(content, list)
                    else [{"type": "text", "text": _text_of(content)}]
                )
                add("user", blocks)
        for turn in turns:
            # The API refuses empty text blocks; tool results go first in a user message.
            turn["content"] = [
                b for b in turn["content"] if not (b.get("type") == "text" and not b.get("text"))
            ]
            if turn["role"] == "user":
                turn["content"].sort(key=lambda b: b.get("type") != "tool_result")
        body: dict[str, Any] = {"model": model, "max_tokens": self.max_tokens, "messages": turns}
        if system:
            body["system"] = "\n\n".join(system)
        body.update(params)
        body["stream"] = True
        if tools:
            body["tools"] = [
                {
                    "name": f.get("name"),
                    **({"description": f["description"]} if f.get("description") else {}),
                    "input_schema": f.get("parameters") or {"type": "object", "properties": {}},
                }
                for f in _functions(tools)
            ]
        return body

    def messages_of(self, body: Mapping[str, Any], model: str = "") -> list[Message]:
        out: list[Message] = []
        system = body.get("system")
        if system:
            out.append({"role": "system", "content": _text_of(system)})
        for message in body.get("messages") or ():
            if not isinstance(message, Mapping):
                continue
            content = message.get("content")
            blocks = content if isinstance(content, list) else [{"type": "text", "text": content}]
            blocks = [b for b in blocks if isinstance(b, Mapping)]
            if message.get("role") == "assistant":
                text = "".join(str(b.get("text", "")) for b in blocks if b.get("type") == "text")
                calls = [
                    _tool_call(str(b.get("id", "")), str(b.get("name", "")), b.get("input") or {})
                    for b in blocks
                    if b.get("type") == "tool_use"
                ]
                out.append(_assistant(text, calls))
                continue
            for block in blocks:
                if block.get("type") == "tool_result":
                    out.append(
                        {
                            "role": "tool",
                            "tool_call_id": str(block.get("tool_use_id", "")),
                            "content": _text_of(block.get("content")),
                        }
                    )
            text = "".join(str(b.get("text", "")) for b in blocks if b.get("type") == "text")
            if text or not any(b.get("type") == "tool_result" for b in blocks):
                out.append({"role": "user", "content": text})
        return out

    def _assistant_blocks(self, message: Mapping[str, Any]) -> list[Any]:
        native = _native(message, self.name)
        if isinstance(native, Mapping) and isinstance(native.get("content"), list):
            return [dict(b) for b in native["content"]]
        blocks: list[Any] = []
        text = _text_of(message.get("content"))
        if text:
            blocks.append({"type": "text", "text": text})
        for call in _calls(message):
            blocks.append(
                {
                    "type": "tool_use",
                    "id": call.id,
                    "name": call.name,
                    "input": _arguments(call.arguments),
                }
            )
        return blocks
