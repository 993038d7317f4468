"""Request checks, one function per API, each rejecting what that API rejects and no more.

A client that builds the next request wrong (a tool result that answers no call, a system
message where Anthropic wants a top-level ``system``) must fail against the scripted server
as it would against the real one, with the real status and a message naming the problem.
Each check returns the first problem found, or None.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from toolwire._scripted.routes import Api, split


@dataclass(frozen=True)
class Rejection:
    """Why a request is refused. ``recorded`` problems are client bugs and go to
    ``server.errors``; a wrong key or chat's own checks are answers a test may want."""

    status: int
    message: str
    code: str | None = None
    param: str | None = None
    recorded: bool = True


def _bad(message: str, param: str | None = None) -> Rejection:
    return Rejection(400, message, param=param)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


# -- keys ---------------------------------------------------------------------------------------


def auth(api: Api, headers: Mapping[str, str], path: str, api_key: str | None) -> Rejection | None:
    """The server's ``api_key``, presented the way each API's clients send it."""
    if api_key is None:
        return None
    if api == "anthropic":
        sent = headers.get("x-api-key")
        if sent == api_key:
            return None
        message = "x-api-key header is required" if sent is None else "invalid x-api-key"
        return Rejection(401, message, recorded=False)
    if api == "gemini":
        _, query = split(path)
        sent = headers.get("x-goog-api-key") or next(iter(query.get("key", [])), None)
        if sent == api_key:
            return None
        if sent is None:
            message = (
                "Method doesn't allow unregistered callers (callers without established "
                "identity). Please use API Key or other form of API consumer identity to call "
                "this API."
            )
            return Rejection(403, message, recorded=False)
        return Rejection(400, "API key not valid. Please pass a valid API key.", recorded=False)
    if headers.get("authorization") == f"Bearer {api_key}":
        return None
    if api == "ollama":
        return Rejection(401, "unauthorized", recorded=False)
    return Rejection(401, "Incorrect API key provided.", code="invalid_api_key", recorded=False)


# -- OpenAI Chat Completions ---------------------------------------------------------------------


def chat(body: Any, accept_stream_options: bool) -> Rejection | None:
    """The checks chat always had; not recorded, as before."""
    if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
        return Rejection(400, "the body must be JSON with 'model' and 'messages'", recorded=False)
    if not body.get("model"):
        return Rejection(400, "the body must be JSON with 'model' and 'messages'", recorded=False)
    if "stream_options" in body and not accept_stream_options:
        return Rejection(
            400,
            "Unrecognized request argument supplied: stream_options",
            param="stream_options",
            recorded=False,
        )
    return None


# -- OpenAI Responses ----------------------------------------------------------------------------


def responses(body: Any, earlier_call_ids: Collection[str]) -> Rejection | None:
    """``input`` a string or a list of items, each ``function_call_output`` answering a call
    earlier in ``input`` (or, with ``previous_response_id``/``conversation``, a call this
    server gave out before); function tools flat (``name`` beside ``type``)."""
    if not isinstance(body, dict):
        return _bad("The body of the request must be a JSON object.")
    if not isinstance(body.get("model"), str) or not body["model"]:
        return _bad("Missing required parameter: 'model'.", "model")
    items = body.get("input")
    if items is not None and not isinstance(items, (str, list)):
        return _bad(
            "Invalid type for 'input': expected one of a string or array of input items, but "
            f"got {_json_type(items)} instead.",
            "input",
        )
    stored = body.get("previous_response_id") or body.get("conversation")
    calls: set[str] = set(earlier_call_ids) if stored else set()
    for n, item in enumerate(items if isinstance(items, list) else []):
        where = f"input[{n}]"
        if not isinstance(item, dict):
            return _bad(
                f"Invalid type for '{where}': expected an input item, but got "
                f"{_json_type(item)} instead.",
                where,
            )
        kind = item.get("type", "message")
        if kind not in ("function_call", "function_call_output"):
            continue
        call_id = item.get("call_id")
        if not isinstance(call_id, str) or not call_id:
            return _bad(f"Missing required parameter: '{where}.call_id'.", f"{where}.call_id")
        if kind == "function_call":
            calls.add(call_id)
        elif call_id not in calls:
            return _bad(f"No tool call found for function call output with call_id {call_id}.")
        elif "output" not in item:
            return _bad(f"Missing required parameter: '{where}.output'.", f"{where}.output")
    problem = _responses_tools(body.get("tools"))
    if problem is not None:
        return problem
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        return _bad(
            f"Invalid type for 'stream': expected a boolean, but got {_json_type(stream)} instead.",
            "stream",
        )
    return None


def _responses_tools(tools: Any) -> Rejection | None:
    if tools is None:
        return None
    if not isinstance(tools, list):
        return _bad(
            f"Invalid type for 'tools': expected an array, but got {_json_type(tools)} instead.",
            "tools",
        )
    for n, tool in enumerate(tools):
        where = f"tools[{n}]"
        if not isinstance(tool, dict):
            got = _json_type(tool)
            return _bad(f"Invalid type for '{where}': expected an object, but got {got}.", where)
        if not isinstance(tool.get("type"), str):
            return _bad(f"Missing required parameter: '{where}.type'.", f"{where}.type")
        if tool["type"] != "function":
            continue  # built-in tools (web_search, file_search, mcp, ...) have shapes of their own
        if not isinstance(tool.get("name"), str) or not tool["name"]:
            # The chat shape {"type": "function", "function": {...}} lands here.
            return _bad(f"Missing required parameter: '{where}.name'.", f"{where}.name")
        parameters = tool.get("parameters")
        if parameters is not None and not isinstance(parameters, dict):
            return _bad(
                f"Invalid type for '{where}.parameters': expected an object, but got "
                f"{_json_type(parameters)} instead.",
                f"{where}.parameters",
            )
        if tool.get("strict", True) is not False and isinstance(parameters, dict):
            problem = _strict_problem(parameters)
            if problem is not None:
                name = tool["name"]
                return _bad(
                    f"Invalid schema for function '{name}': {problem}", f"{where}.parameters"
                )
    return None


def _strict_problem(schema: dict[str, Any]) -> str | None:
    """What strict mode (the Responses default for function tools) refuses in an object schema:
    every property required, ``additionalProperties`` false."""
    if schema.get("type") != "object":
        return None
    properties = schema.get("properties") or {}
    required = schema.get("required") or []
    missing = [key for key in properties if key not in required]
    if missing:
        return (
            "In context=(), 'required' is required to be supplied and to be an array including "
            f"every key in properties. Missing '{missing[0]}'."
        )
    if schema.get("additionalProperties") is not False:
        return "In context=(), 'additionalProperties' is required to be supplied and to be false."
    return None


# -- Anthropic Messages --------------------------------------------------------------------------


@dataclass
class _AnthropicTurn:
    """Consecutive messages of one role, which Anthropic reads as one turn."""

    role: str
    last: int  # index of its last message
    blocks: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (where, block)


def anthropic(body: Any, headers: Mapping[str, str]) -> Rejection | None:
    """The ``anthropic-version`` header; ``model``, ``max_tokens`` (an integer >= 1) and
    non-empty ``messages``, the first from the user; roles ``user``/``assistant`` only
    (``system`` is a top-level field); every ``tool_use`` answered by a ``tool_result`` at
    the start of the next user turn, and no ``tool_result`` without its ``tool_use``; custom
    tools ``{"name", "input_schema": {"type": "object"}}``."""
    if not headers.get("anthropic-version"):
        return _bad("anthropic-version: header is required")
    if not isinstance(body, dict):
        return _bad("The request body is not valid JSON.")
    if not isinstance(body.get("model"), str) or not body["model"]:
        return _bad("model: Field required")
    if "max_tokens" not in body:
        return _bad("max_tokens: Field required")
    max_tokens = body["max_tokens"]
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool):
        return _bad("max_tokens: Input should be a valid integer")
    if max_tokens < 1:
        return _bad("max_tokens: Input should be greater than or equal to 1")
    system = body.get("system")
    if system is not None and not isinstance(system, (str, list)):
        return _bad("system: Input should be a valid string or a list of text blocks")
    messages = body.get("messages")
    if not isinstance(messages, list):
        return _bad(
            "messages: Field required"
            if messages is None
            else "messages: Input should be a valid list"
        )
    if not messages:
        return _bad("messages: at least one message is required")
    turns: list[_AnthropicTurn] = []
    for i, message in enumerate(messages):
        problem = _anthropic_message(i, message, final=i == len(messages) - 1)
        if problem is not None:
            return problem
        role, content = message["role"], message["content"]
        if not turns or turns[-1].role != role:
            turns.append(_AnthropicTurn(role, i))
        turns[-1].last = i
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
        turns[-1].blocks += [(f"messages.{i}.content.{k}", b) for k, b in enumerate(blocks)]
    if turns[0].role != "user":
        return _bad('messages: first message must use the "user" role')
    problem = _anthropic_tool_pairs(turns)
    if problem is not None:
        return problem
    problem = _anthropic_tools(body.get("tools"))
    if problem is not None:
        return problem
    if "stream" in body and not isinstance(body["stream"], bool):
        return _bad("stream: Input should be a valid boolean")
    return None


def _anthropic_message(i: int, message: Any, *, final: bool) -> Rejection | None:
    if not isinstance(message, dict):
        return _bad(f"messages.{i}: Input should be a valid dictionary")
    role = message.get("role")
    if role == "system":
        return _bad(
            f'messages.{i}.role: Unexpected role "system". The Messages API accepts a top-level '
            '`system` parameter, not "system" as an input message role.'
        )
    if role not in ("user", "assistant"):
        return _bad(f"messages.{i}.role: Input should be 'user' or 'assistant'")
    content = message.get("content")
    if "content" not in message:
        return _bad(f"messages.{i}.content: Field required")
    if not isinstance(content, (str, list)):
        return _bad(f"messages.{i}.content: Input should be a valid string or list")
    for k, block in enumerate(content if isinstance(content, list) else []):
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            return _bad(f"messages.{i}.content.{k}: Input should be an object with a `type`")
    if not content and not (final and role == "assistant"):
        return _bad(
            f"messages.{i}: all messages must have non-empty content except for the optional "
            "final assistant message"
        )
    return None


def _anthropic_tool_pairs(turns: list[_AnthropicTurn]) -> Rejection | None:
    for t, turn in enumerate(turns):
        if turn.role == "assistant":
            uses = [b.get("id") for _, b in turn.blocks if b["type"] == "tool_use"]
            after = turns[t + 1].blocks if t + 1 < len(turns) else []
            leading: list[Any] = []
            for _, block in after:
                if block["type"] != "tool_result":
                    break
                leading.append(block.get("tool_use_id"))
            missing = [str(u) for u in uses if u not in leading]
            if missing:
                late = next(
                    (
                        w
                        for w, b in after
                        if b["type"] == "tool_result" and b.get("tool_use_id") in missing
                    ),
                    None,
                )
                if late is not None:
                    return _bad(
                        f"{late}: `tool_result` blocks must come first in the user message "
                        "content, before any other block"
                    )
                return _bad(
                    f"messages.{turn.last}: `tool_use` ids were found without `tool_result` "
                    f"blocks immediately after: {', '.join(missing)}. Each `tool_use` block must "
                    "have a corresponding `tool_result` block in the next message."
                )
        else:
            before = turns[t - 1].blocks if t > 0 else []
            uses = [b.get("id") for _, b in before if b["type"] == "tool_use"]
            for where, block in turn.blocks:
                if block["type"] == "tool_result" and block.get("tool_use_id") not in uses:
                    return _bad(
                        f"{where}: unexpected `tool_use_id` found in `tool_result` blocks: "
                        f"{block.get('tool_use_id')}. Each `tool_result` block must have a "
                        "corresponding `tool_use` block in the previous message."
                    )
    return None


def _anthropic_tools(tools: Any) -> Rejection | None:
    if tools is None:
        return None
    if not isinstance(tools, list):
        return _bad("tools: Input should be a valid list")
    for n, tool in enumerate(tools):
        if not isinstance(tool, dict):
            return _bad(f"tools.{n}: Input should be a valid dictionary")
        kind = tool.get("type")
        if kind == "function":  # the OpenAI shape, a frequent mistake
            return _bad(
                f"tools.{n}: Input tag 'function' found using 'type' does not match any of the "
                "expected tags"
            )
        if kind not in (None, "custom"):
            continue  # server tools (web_search_20250305, bash_20250124, ...)
        if not isinstance(tool.get("name"), str) or not tool["name"]:
            return _bad(f"tools.{n}.custom.name: Field required")
        schema = tool.get("input_schema")
        if schema is None:
            return _bad(f"tools.{n}.custom.input_schema: Field required")
        if not isinstance(schema, dict):
            return _bad(f"tools.{n}.custom.input_schema: Input should be a valid dictionary")
        if schema.get("type") != "object":
            return _bad(f"tools.{n}.custom.input_schema.type: Input should be 'object'")
    return None


# -- Gemini -------------------------------------------------------------------------------------


def _field(obj: Mapping[str, Any], camel: str, snake: str) -> Any:
    # Google's JSON mapping accepts a proto field by its lowerCamel or its original name.
    return obj[camel] if camel in obj else obj.get(snake)


def gemini(body: Any) -> Rejection | None:
    """``contents`` non-empty, roles ``user``/``model`` (or none), parts non-empty; a model
    turn with calls comes after a user turn; the content right after it answers every call
    with a ``functionResponse`` part named after it; ``tools`` as
    ``[{"functionDeclarations": [{"name", ...}]}]``. Consecutive model contents are one turn
    (google-genai's chat history sends one per streamed chunk); consecutive user contents are
    not (responses split over two are refused). Field names may be lowerCamel or snake_case,
    as the API accepts both."""
    if not isinstance(body, dict):
        return _bad("Invalid JSON payload received.")
    contents = body.get("contents")
    if not contents:
        return _bad("* GenerateContentRequest.contents: contents is not specified\n")
    if not isinstance(contents, list):
        return _bad(f"Invalid JSON payload received. 'contents' is a {_json_type(contents)}.")
    before: str | None = None  # role of the content before
    calls: list[Any] = []  # names called by the model turn running up to here
    after_user = False  # whether that model turn follows a user content
    for i, content in enumerate(contents):
        where = f"* GenerateContentRequest.contents[{i}]"
        if not isinstance(content, dict):
            return _bad(f"Invalid JSON payload received. contents[{i}] is not an object.")
        role = content.get("role") or "user"
        if role not in ("user", "model"):
            return _bad("Please use a valid role: user, model.")
        parts = content.get("parts")
        if not isinstance(parts, list) or not parts:
            return _bad(f"{where}.parts: contents.parts must not be empty.\n")
        if not all(isinstance(p, dict) for p in parts):
            return _bad(f"Invalid JSON payload received. contents[{i}].parts holds a non-object.")
        if role == "model":
            if before != "model":
                calls, after_user = [], before == "user"
            called = [_field(p, "functionCall", "function_call") for p in parts]
            calls += [c.get("name") for c in called if isinstance(c, dict)]
            if calls and not after_user:
                return _bad(
                    "Please ensure that function call turns come immediately after a user turn "
                    "or after a function response turn."
                )
        else:
            problem = _gemini_answers(where, parts, calls if before == "model" else [])
            if problem is not None:
                return problem
        before = role
    return _gemini_tools(body.get("tools"))


def _gemini_answers(where: str, parts: list[dict[str, Any]], calls: list[Any]) -> Rejection | None:
    answers = [_field(p, "functionResponse", "function_response") for p in parts]
    names = [a.get("name") if isinstance(a, dict) else None for a in answers if a is not None]
    if not names:
        return None
    if not calls:
        return _bad(
            "Please ensure that function response turn comes immediately after a function call "
            "turn."
        )
    if len(names) != len(calls):
        return _bad(
            "Please ensure that the number of function response parts is equal to the number of "
            "function call parts of the function call turn."
        )
    stray = [n for n in names if n not in calls]
    if stray:
        return _bad(
            f"{where}: function response name {stray[0]!r} matches no function call of the "
            "function call turn."
        )
    return None


def _gemini_tools(tools: Any) -> Rejection | None:
    if tools is None:
        return None
    if not isinstance(tools, list):
        return _bad("Invalid JSON payload received. 'tools' is not a list.")
    for n, tool in enumerate(tools):
        if not isinstance(tool, dict):
            return _bad(f"Invalid JSON payload received. tools[{n}] is not an object.")
        declarations = _field(tool, "functionDeclarations", "function_declarations")
        if declarations is None:
            continue  # googleSearch, codeExecution, urlContext, ...
        if not isinstance(declarations, list):
            return _bad(
                f"Invalid JSON payload received. tools[{n}].functionDeclarations is not a list."
            )
        for k, declaration in enumerate(declarations):
            name = declaration.get("name") if isinstance(declaration, dict) else None
            if not isinstance(name, str) or not name:
                return _bad(
                    f"* GenerateContentRequest.tools[{n}].function_declarations[{k}].name: "
                    "[FIELD_INVALID] Invalid function name. Must start with a letter or an "
                    "underscore."
                )
    return None


# -- Ollama -------------------------------------------------------------------------------------


def _go_type(value: Any) -> str:
    return {"boolean": "bool"}.get(_json_type(value), _json_type(value))


def _unmarshal(value: Any, field_path: str, go_type: str) -> Rejection:
    return _bad(
        f"json: cannot unmarshal {_go_type(value)} into Go struct field {field_path} of type "
        f"{go_type}"
    )


def ollama(body: Any) -> Rejection | None:
    """``model``; ``messages`` a list of ``{"role", "content": string, "tool_calls"?:
    [{"function": {"name", "arguments": object}}], "tool_name"?}`` (a tool result is
    ``{"role": "tool", "content", "tool_name"?}``); ``stream`` a boolean or absent. Go's JSON
    decoding is the judge: a value of another type is a 400."""
    if not isinstance(body, dict):
        return _bad(
            f"json: cannot unmarshal {_go_type(body)} into Go value of type api.ChatRequest"
        )
    if not isinstance(body.get("model"), str) or not body["model"]:
        return _bad("model is required")
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        return _unmarshal(stream, "ChatRequest.stream", "bool")
    messages = body.get("messages")
    if messages is not None and not isinstance(messages, list):
        return _unmarshal(messages, "ChatRequest.messages", "[]api.Message")
    for message in messages or []:
        if not isinstance(message, dict):
            return _unmarshal(message, "ChatRequest.messages", "api.Message")
        for key in ("role", "content", "thinking", "tool_name"):
            value = message.get(key)
            if value is not None and not isinstance(value, str):
                return _unmarshal(value, f"Message.messages.{key}", "string")
        problem = _ollama_tool_calls(message.get("tool_calls"))
        if problem is not None:
            return problem
    tools = body.get("tools")
    if tools is not None and not isinstance(tools, list):
        return _unmarshal(tools, "ChatRequest.tools", "api.Tools")
    return None


def _ollama_tool_calls(calls: Any) -> Rejection | None:
    if calls is None:
        return None
    if not isinstance(calls, list):
        return _unmarshal(calls, "Message.messages.tool_calls", "[]api.ToolCall")
    for tool_call in calls:
        function = tool_call.get("function") if isinstance(tool_call, dict) else None
        if not isinstance(function, dict):
            return _unmarshal(
                function, "ToolCall.messages.tool_calls.function", "api.ToolCallFunction"
            )
        if not isinstance(function.get("name"), str):
            return _unmarshal(
                function.get("name"), "ToolCallFunction.messages.tool_calls.function.name", "string"
            )
        arguments = function.get("arguments")
        if arguments is not None and not isinstance(arguments, dict):
            return _unmarshal(
                arguments,
                "ToolCallFunction.messages.tool_calls.function.arguments",
                "api.ToolCallFunctionArguments",
            )
    return None
