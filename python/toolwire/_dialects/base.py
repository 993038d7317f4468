"""The canonical transcript's helpers and the ``Dialect`` base, which is the chat dialect
(OpenAI Chat Completions and compatible servers: the transcript is its own request)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

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


class _Call:
    """A call of a canonical assistant message: id, name and arguments text."""

    __slots__ = ("arguments", "id", "name")

    def __init__(self, entry: Mapping[str, Any]) -> None:
        function = entry.get("function") or {}
        self.id = str(entry.get("id", ""))
        self.name = str(function.get("name", ""))
        self.arguments = function.get("arguments")


def _calls(message: Mapping[str, Any]) -> list[_Call]:
    return [_Call(entry) for entry in message.get("tool_calls") or ()]


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


def _add_turn(turns: list[Message], role: str, key: str, items: list[Any]) -> None:
    """Appends ``items`` to the last turn when it has ``role``, else opens a turn: Anthropic and
    Gemini want roles to alternate (and all of a turn's tool results in one user message)."""
    if turns and turns[-1]["role"] == role:
        turns[-1][key].extend(items)
    else:
        turns.append({"role": role, key: items})


def _assistant(text: str, calls: list[dict[str, Any]]) -> Message:
    message: Message = {"role": "assistant", "content": text or None}
    if calls:
        message["tool_calls"] = calls
    return message


def _tool_call(call_id: str, name: str, arguments: Any) -> dict[str, Any]:
    text = arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False)
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": text}}
