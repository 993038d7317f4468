"""Gemini ``streamGenerateContent``: ``contents`` of ``parts``; calls are ``functionCall`` parts
answered by ``functionResponse`` parts."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from toolwire._dialects.base import (
    Dialect,
    Message,
    _add_turn,
    _Answer,
    _answers,
    _arguments,
    _assistant,
    _Calls,
    _calls,
    _functions,
    _native,
    _text_of,
    _tool_call,
    _tool_output,
)

#: The JSON-schema keys Gemini's ``Schema`` reads; others (``additionalProperties``, ``$defs``)
#: are refused by the API.
_GEMINI_SCHEMA_KEYS = frozenset(
    {
        "type", "format", "title", "description", "nullable", "enum", "maxItems", "minItems",
        "properties", "required", "minProperties", "maxProperties", "minLength", "maxLength",
        "pattern", "example", "anyOf", "propertyOrdering", "default", "items", "minimum",
        "maximum",
    }
)  # fmt: skip


def _gemini_schema(schema: Any) -> Any:
    if isinstance(schema, list):
        return [_gemini_schema(s) for s in schema]
    if not isinstance(schema, Mapping):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key not in _GEMINI_SCHEMA_KEYS:
            continue
        if key == "properties" and isinstance(value, Mapping):
            out[key] = {name: _gemini_schema(v) for name, v in value.items()}
        elif key in ("items", "anyOf"):
            out[key] = _gemini_schema(value)
        else:
            out[key] = value
    return out


class Gemini(Dialect):
    """Gemini ``streamGenerateContent``: ``contents`` of user/model ``parts``; calls are
    ``functionCall`` parts answered by ``functionResponse`` parts (by name)."""

    name = "gemini"
    format = "gemini"
    key_env = ("GEMINI_API_KEY", "GOOGLE_API_KEY")
    base_url_env = "GOOGLE_GEMINI_BASE_URL"
    default_base_url = "https://generativelanguage.googleapis.com"
    key_header = "x-goog-api-key"
    asks_usage = False

    def url(self, base: str, model: str) -> str:
        name = model if model.startswith(("models/", "tunedModels/")) else f"models/{model}"
        return f"{base}/v1beta/{name}:streamGenerateContent?alt=sse"

    def rejects_key(self, status: int, body: Any) -> bool:
        # Gemini answers a wrong key with 400 INVALID_ARGUMENT, reason API_KEY_INVALID.
        text = json.dumps(body) if not isinstance(body, str) else body
        return status == 400 and ("API_KEY_INVALID" in text or "API key not valid" in text)

    def body(
        self,
        model: str,
        messages: Sequence[Mapping[str, Any]],
        tools: Sequence[Mapping[str, Any]],
        params: Mapping[str, Any],
    ) -> dict[str, Any]:
        system: list[str] = []
        contents: list[Message] = []
        answers = _answers(messages)

        def add(role: str, parts: list[Any]) -> None:
            _add_turn(contents, role, "parts", parts)

        for i, message in enumerate(messages):
            role = message.get("role")
            if role in ("system", "developer"):
                system.append(_text_of(message.get("content")))
            elif role == "tool":
                output = _tool_output(message.get("content"))
                response = output if isinstance(output, dict) else {"result": output}
                add("user", [{"functionResponse": self._response(answers[i], response)}])
            elif role == "assistant":
                add("model", self._model_parts(message))
            else:
                add("user", [{"text": _text_of(message.get("content"))}])
        body: dict[str, Any] = {"contents": contents, **params}
        if system:
            body["systemInstruction"] = {"parts": [{"text": "\n\n".join(system)}]}
        if tools:
            body["tools"] = [
                {
                    "functionDeclarations": [
                        {
                            "name": f.get("name"),
                            **({"description": f["description"]} if f.get("description") else {}),
                            **(
                                {"parameters": _gemini_schema(f["parameters"])}
                                if f.get("parameters")
                                else {}
                            ),
                        }
                        for f in _functions(tools)
                    ]
                }
            ]
        return body

    def messages_of(self, body: Mapping[str, Any], model: str = "") -> list[Message]:
        out: list[Message] = []
        instruction = body.get("systemInstruction")
        if isinstance(instruction, Mapping):
            text = "".join(str(p.get("text", "")) for p in instruction.get("parts") or ())
            out.append({"role": "system", "content": text})
        calls = _Calls()
        for content in body.get("contents") or ():
            if not isinstance(content, Mapping):
                continue
            parts = [p for p in content.get("parts") or () if isinstance(p, Mapping)]
            text = "".join(str(p["text"]) for p in parts if "text" in p and not p.get("thought"))
            if content.get("role") == "model":
                found = [
                    p["functionCall"] for p in parts if isinstance(p.get("functionCall"), Mapping)
                ]
                tool_calls = [
                    _tool_call(
                        calls.call(str(f.get("name", "")), f.get("id")),
                        str(f.get("name", "")),
                        f.get("args") or {},
                    )
                    for f in found
                ]
                out.append(_assistant(text, tool_calls))
                continue
            for part in parts:
                response = part.get("functionResponse")
                if isinstance(response, Mapping):
                    name = str(response.get("name", ""))
                    value = response.get("response")
                    if isinstance(value, Mapping) and set(value) == {"result"}:
                        value = value["result"]
                    out.append(
                        {
                            "role": "tool",
                            "tool_call_id": str(response.get("id") or calls.answer(name)),
                            "content": value if isinstance(value, str) else json.dumps(value),
                        }
                    )
            if text:
                out.append({"role": "user", "content": text})
        return out

    def _response(self, answer: _Answer, response: dict[str, Any]) -> dict[str, Any]:
        """A ``functionResponse``: the call's name, and its id when the API gave the call one
        (the native turn keeps it; Gemini matches the two by it)."""
        out: dict[str, Any] = {"name": answer.name, "response": response}
        native = _native(answer.assistant, self.name) if answer.assistant is not None else None
        if isinstance(native, Mapping):
            calls = [
                p["functionCall"]
                for p in native.get("parts") or ()
                if isinstance(p, Mapping) and isinstance(p.get("functionCall"), Mapping)
            ]
            if 0 <= answer.position < len(calls) and calls[answer.position].get("id"):
                out["id"] = calls[answer.position]["id"]
        return out

    def _model_parts(self, message: Mapping[str, Any]) -> list[Any]:
        native = _native(message, self.name)
        if isinstance(native, Mapping) and isinstance(native.get("parts"), list):
            return [dict(p) for p in native["parts"]]
        parts: list[Any] = []
        text = _text_of(message.get("content"))
        if text:
            parts.append({"text": text})
        for call in _calls(message):
            parts.append({"functionCall": {"name": call.name, "args": _arguments(call.arguments)}})
        return parts or [{"text": ""}]
