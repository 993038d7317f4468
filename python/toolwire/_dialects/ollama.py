"""Ollama ``/api/chat``: NDJSON; calls with arguments as objects, results by tool name."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from toolwire._dialects.base import (
    Dialect,
    Message,
    _answers,
    _arguments,
    _assistant,
    _Calls,
    _calls,
    _native,
    _text_of,
    _tool_call,
)


def _ollama_host(value: str) -> str:
    """``OLLAMA_HOST`` as ollama-python reads it: scheme and port optional."""
    value = value.strip().rstrip("/")
    if "://" not in value:
        value = "http://" + value
    scheme, _, rest = value.partition("://")
    host, _, path = rest.partition("/")
    if host.startswith("0.0.0.0"):
        host = "127.0.0.1" + host[len("0.0.0.0") :]
    if ":" not in host.rpartition("]")[2]:
        host += ":11434"
    return f"{scheme}://{host}" + (f"/{path}" if path else "")


class Ollama(Dialect):
    """Ollama ``/api/chat``: NDJSON; calls with arguments as objects, results by tool name."""

    name = "ollama"
    format = "ollama"
    key_env = ("OLLAMA_API_KEY",)
    base_url_env = "OLLAMA_HOST"
    default_base_url = "http://127.0.0.1:11434"
    accept = "application/x-ndjson"
    asks_usage = False

    def env_base_url(self) -> str:
        return _ollama_host(super().env_base_url())

    def url(self, base: str, model: str) -> str:
        return base + "/api/chat"

    def body(
        self,
        model: str,
        messages: Sequence[Mapping[str, Any]],
        tools: Sequence[Mapping[str, Any]],
        params: Mapping[str, Any],
    ) -> dict[str, Any]:
        answers = _answers(messages)
        out: list[Message] = []
        for i, message in enumerate(messages):
            role = message.get("role")
            if role == "tool":
                out.append(
                    {
                        "role": "tool",
                        "tool_name": answers[i].name,
                        "content": _text_of(message.get("content")),
                    }
                )
            elif role == "assistant":
                native = _native(message, self.name)
                if isinstance(native, Mapping):
                    out.append(_sendable(native))
                    continue
                item: Message = {"role": "assistant", "content": _text_of(message.get("content"))}
                calls = [
                    {"function": {"name": c.name, "arguments": _arguments(c.arguments)}}
                    for c in _calls(message)
                ]
                if calls:
                    item["tool_calls"] = calls
                out.append(item)
            else:
                out.append({"role": role, "content": _text_of(message.get("content"))})
        body: dict[str, Any] = {"model": model, "messages": out, **params, "stream": True}
        if tools:
            body["tools"] = list(tools)
        return body

    def messages_of(self, body: Mapping[str, Any], model: str = "") -> list[Message]:
        out: list[Message] = []
        calls = _Calls()
        for message in body.get("messages") or ():
            if not isinstance(message, Mapping):
                continue
            role = message.get("role")
            content = message.get("content")
            text = content if isinstance(content, str) else ""
            if role == "assistant":
                tool_calls = []
                for entry in message.get("tool_calls") or ():
                    function = entry.get("function") or {} if isinstance(entry, Mapping) else {}
                    name = str(function.get("name", ""))
                    tool_calls.append(
                        _tool_call(
                            calls.call(name, entry.get("id")), name, function.get("arguments") or {}
                        )
                    )
                out.append(_assistant(text, tool_calls))
            elif role == "tool":
                name = str(message.get("tool_name") or message.get("name") or "")
                out.append({"role": "tool", "tool_call_id": calls.answer(name), "content": text})
            else:
                out.append({"role": role, "content": text})
        return out


def _sendable(native: Mapping[str, Any]) -> Message:
    """The turn as Ollama sent it, but each call's arguments an object: a model may stream them
    as a (malformed) string, which ``/api/chat`` refuses in a request (``{}`` stands in, as for
    a canonical call whose arguments are not a JSON object)."""
    item = dict(native)
    calls = item.get("tool_calls")
    if isinstance(calls, list):
        fixed = []
        for call in calls:
            function = call.get("function") if isinstance(call, Mapping) else None
            if isinstance(function, Mapping) and not isinstance(function.get("arguments"), Mapping):
                function = {**function, "arguments": _arguments(function.get("arguments"))}
                call = {**call, "function": function}
            fixed.append(call)
        item["tool_calls"] = fixed
    return item
