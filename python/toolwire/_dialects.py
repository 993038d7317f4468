"""What each API asks of a request: URL, auth, headers, body, tool schema and transcript.

The agent keeps one canonical transcript in the OpenAI chat shape (system, user, assistant with
``tool_calls``, ``tool`` messages); a ``Dialect`` turns it into its API's request at the edge.
An assistant message may carry ``native``: ``{"api": name, "message": ...}``, the turn as that
API sent it (``message(native=True)`` of the core); the same API gets it back unchanged, which
is what keeps thinking signatures, reasoning items and provider call ids valid for the next
request. Every other API (and chat) gets the canonical fields converted.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

__all__ = ["APIS", "Dialect", "dialect_for"]

Message = dict[str, Any]

#: The key under which an assistant message carries its API's own shape of the turn.
NATIVE = "native"


def _text_of(content: Any) -> str:
    """The text of a chat ``content``: a string, or the text parts of a list."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            str(part.get("text", ""))
            for part in content
            if isinstance(part, Mapping)
            and part.get("type") in ("text", "input_text", "output_text")
        )
    return ""


def _arguments(text: Any) -> Any:
    """A call's arguments as a JSON value: ``{}`` when absent or not a JSON object text."""
    if isinstance(text, Mapping):
        return dict(text)
    try:
        value = json.loads(text) if isinstance(text, str) and text.strip() else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _functions(tools: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The ``function`` part of chat tool schemas (a schema already in another shape is kept)."""
    return [t["function"] if isinstance(t.get("function"), Mapping) else t for t in tools]


def _native(message: Mapping[str, Any], api: str) -> Any:
    native = message.get(NATIVE)
    if isinstance(native, Mapping) and native.get("api") == api:
        return native.get("message")
    return None


class _Answer:
    """What a ``tool`` message answers: its call's name, the call's position in the assistant
    message's ``tool_calls``, and that message."""

    __slots__ = ("assistant", "name", "position")

    def __init__(
        self, name: str = "", position: int = -1, assistant: Mapping[str, Any] | None = None
    ):
        self.name = name
        self.position = position
        self.assistant = assistant


def _answers(messages: Sequence[Mapping[str, Any]]) -> dict[int, _Answer]:
    """The call each ``tool`` message answers, by the message's position: its id looked up in
    the calls of the assistant message before it (ids repeat across turns: ``call_0`` is every
    turn's first generated id), else of any earlier one."""
    answers: dict[int, _Answer] = {}
    latest: dict[str, _Answer] = {}
    earlier: dict[str, _Answer] = {}
    for i, message in enumerate(messages):
        if message.get("role") == "assistant":
            earlier.update(latest)
            latest = {}
            for position, call in enumerate(message.get("tool_calls") or ()):
                function = call.get("function") or {}
                if call.get("id"):
                    latest[str(call["id"])] = _Answer(
                        str(function.get("name", "")), position, message
                    )
        elif message.get("role") == "tool":
            call_id = str(message.get("tool_call_id", ""))
            answers[i] = latest.get(call_id) or earlier.get(call_id) or _Answer()
    return answers


def _tool_output(content: Any) -> Any:
    """A tool message's content as a JSON value when it is JSON, else its text."""
    text = _text_of(content)
    try:
        return json.loads(text)
    except ValueError:
        return text


class Dialect:
    """One API's request rules (the chat dialect is the base: OpenAI Chat Completions)."""

    name: ClassVar[str] = "chat"
    #: The core's name of the wire format this API streams.
    format: ClassVar[str] = "chat"
    key_env: ClassVar[tuple[str, ...]] = ("OPENAI_API_KEY",)
    base_url_env: ClassVar[str | None] = "OPENAI_BASE_URL"
    default_base_url: ClassVar[str] = "https://api.openai.com/v1"
    accept: ClassVar[str] = "text/event-stream"
    #: The header the key goes in; None for ``Authorization: Bearer``.
    key_header: ClassVar[str | None] = None
    #: Whether the body may ask for ``stream_options.include_usage`` (chat only).
    asks_usage: ClassVar[bool] = True

    def env_key(self) -> tuple[str, str]:
        """The API key from the environment, and the variable it came from ("" when none)."""
        for name in self.key_env:
            value = os.environ.get(name)
            if value:
                return value, name
        return "", self.key_env[0] if self.key_env else ""

    def env_base_url(self) -> str:
        if self.base_url_env:
            value = os.environ.get(self.base_url_env)
            if value:
                return value
        return self.default_base_url

    def url(self, base: str, model: str) -> str:
        return base + "/chat/completions"

    def rejects_key(self, status: int, body: Any) -> bool:
        """Whether an error answer other than 401/403 says the key is wrong."""
        return False

    def headers(self) -> dict[str, str]:
        """The api's own headers (a caller's header of the same name wins)."""
        return {"Accept": self.accept}

    def auth(self, key: str) -> dict[str, str]:
        """The header that carries the key (it wins over a caller's of the same name)."""
        if not key:
            return {}
        if self.key_header is None:
            return {"Authorization": f"Bearer {key}"}
        return {self.key_header: key}

    def body(
        self,
        model: str,
        messages: Sequence[Mapping[str, Any]],
        tools: Sequence[Mapping[str, Any]],
        params: Mapping[str, Any],
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": model,
            "messages": [{k: v for k, v in m.items() if k != NATIVE} for m in messages],
            **params,
            "stream": True,
        }
        if tools:
            body["tools"] = list(tools)
        return body

    def messages_of(self, body: Mapping[str, Any], model: str = "") -> list[Message]:
        """The canonical transcript of a request body of this api (what ``body`` was built from,
        as far as the api keeps it): what a scripted server reads to decide its next turn."""
        messages = body.get("messages")
        return (
            [dict(m) for m in messages if isinstance(m, Mapping)]
            if isinstance(messages, list)
            else []
        )


class _Calls:
    """Call ids for apis that send none (Gemini, Ollama): ``call_<n>`` in transcript order, and
    each result matched to the first unanswered call of its name."""

    def __init__(self) -> None:
        self.count = 0
        self.open: list[tuple[str, str]] = []  # (name, id) not answered yet

    def call(self, name: str, given: Any = None) -> str:
        call_id = str(given) if given else f"call_{self.count}"
        self.count += 1
        self.open.append((name, call_id))
        return call_id

    def answer(self, name: str) -> str:
        for i, (open_name, call_id) in enumerate(self.open):
            if open_name == name:
                del self.open[i]
                return call_id
        return ""


def _assistant(text: str, calls: list[dict[str, Any]]) -> Message:
    message: Message = {"role": "assistant", "content": text or None}
    if calls:
        message["tool_calls"] = calls
    return message


def _tool_call(call_id: str, name: str, arguments: Any) -> dict[str, Any]:
    text = arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False)
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": text}}


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
                for call in message.get("tool_calls") or ():
                    function = call.get("function") or {}
                    items.append(
                        {
                            "type": "function_call",
                            "call_id": str(call.get("id", "")),
                            "name": str(function.get("name", "")),
                            "arguments": str(function.get("arguments") or "{}"),
                        }
                    )
            else:
                items.append({"role": role, "content": message.get("content") or ""})
        body: dict[str, Any] = {"model": model, "input": items, **params, "stream": True}
        if tools:
            body["tools"] = [
                {"type": "function", **{k: v for k, v in f.items() if k != "strict"}}
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
            # Consecutive messages of one role become one: the API wants strict alternation
            # (and all of a turn's tool results in one user message).
            if turns and turns[-1]["role"] == role:
                turns[-1]["content"].extend(blocks)
            else:
                turns.append({"role": role, "content": blocks})

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
        for call in message.get("tool_calls") or ():
            function = call.get("function") or {}
            blocks.append(
                {
                    "type": "tool_use",
                    "id": str(call.get("id", "")),
                    "name": str(function.get("name", "")),
                    "input": _arguments(function.get("arguments")),
                }
            )
        return blocks


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
            if contents and contents[-1]["role"] == role:
                contents[-1]["parts"].extend(parts)
            else:
                contents.append({"role": role, "parts": parts})

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
        for call in message.get("tool_calls") or ():
            function = call.get("function") or {}
            parts.append(
                {
                    "functionCall": {
                        "name": str(function.get("name", "")),
                        "args": _arguments(function.get("arguments")),
                    }
                }
            )
        return parts or [{"text": ""}]


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
                    out.append(dict(native))
                    continue
                item: Message = {"role": "assistant", "content": _text_of(message.get("content"))}
                calls = [
                    {
                        "function": {
                            "name": str((c.get("function") or {}).get("name", "")),
                            "arguments": _arguments((c.get("function") or {}).get("arguments")),
                        }
                    }
                    for c in message.get("tool_calls") or ()
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


APIS: dict[str, Dialect] = {
    d.name: d for d in (Dialect(), Responses(), Anthropic(), Gemini(), Ollama())
}


def dialect_for(api: str) -> Dialect:
    """The dialect of ``api``; ValueError naming the known ones otherwise."""
    try:
        return APIS[api]
    except (KeyError, TypeError):
        known = ", ".join(repr(a) for a in APIS)
        raise ValueError(f"unknown api {api!r}: expected one of {known}") from None
