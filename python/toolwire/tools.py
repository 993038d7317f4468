"""Tool registry: typed Python functions exposed to the model as function tools.

::

    registry = ToolRegistry()

    @registry.tool
    def get_weather(city: str, unit: Literal["c", "f"] = "c") -> dict[str, Any]:
        \"\"\"Current weather for a city.

        Args:
            city: City name, e.g. "Paris".
            unit: Temperature unit.
        \"\"\"

    registry.schemas()                      # the `tools` list of a chat-completions request
    run = registry.run("get_weather", '{"city": "Paris"}')   # -> ToolRun, never raises
    run.content                             # the text for the tool message

The JSON schema and the argument validation come from the signature (pydantic v2) and the
docstring (Google, NumPy or Sphinx style parameter descriptions). A call that cannot run well
(unknown tool, invalid arguments, an exception, a timeout) gives a ``ToolRun`` with ``error``
set, whose ``content`` tells the model what went wrong, so the conversation goes on.

Argument text is read by the Rust core, the same parser that judged the arguments in the
stream: text it rejects (``NaN``, nesting deeper than its depth limit, trailing garbage) never
reaches a function, and values Python cannot build (an integer of more than 4300 digits) become
an error result too. ``run``/``arun`` never raise for anything in the arguments.

Sync functions may run in worker threads (the agent runs the calls of one turn concurrently);
a timed-out sync function cannot be stopped and finishes in its daemon thread, its result
dropped. Async functions are cancelled on timeout.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextvars
import inspect
import json
import queue
import re
import threading
import time
import typing
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar, overload

import pydantic
import pydantic_core

from toolwire._core import LimitExceeded, PartialJSON

__all__ = ["Tool", "ToolError", "ToolRegistry", "ToolRun", "format_result"]

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")

ToolErrorKind = Literal["unknown_tool", "invalid_arguments", "exception", "timeout"]

_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass(frozen=True)
class ToolError:
    """Why a tool call gave no result: ``kind`` is ``"unknown_tool"``, ``"invalid_arguments"``,
    ``"exception"`` or ``"timeout"``; ``message`` is what the model is told; ``exception`` is
    the exception raised by the tool or the validator, if any."""

    kind: ToolErrorKind
    message: str
    exception: BaseException | None = field(default=None, repr=False, compare=False)

    def content(self) -> str:
        """The tool-message text sent back to the model."""
        return json.dumps(
            {"error": {"type": self.kind, "message": self.message}}, ensure_ascii=False
        )


@dataclass
class ToolRun:
    """One execution of one tool call.

    ``arguments`` is the parsed arguments (or the raw text when they were not JSON), ``result``
    the value the function returned, ``content`` the text of the tool message (the serialised
    result, or the error for the model), ``start_ms`` the start in milliseconds since the agent
    run began (since an arbitrary origin for direct ``registry.run`` calls), ``duration_ms`` the
    wall time, ``eager`` whether it started before the model had finished its turn.
    """

    name: str
    arguments: Any
    call_id: str = ""
    result: Any = None
    error: ToolError | None = None
    content: str = ""
    start_ms: float = 0.0
    duration_ms: float = 0.0
    eager: bool = False
    turn: int = 0

    @property
    def ok(self) -> bool:
        """True when the tool returned a result."""
        return self.error is None

    def tool_message(self) -> dict[str, Any]:
        """The ``{"role": "tool", "tool_call_id", "content"}`` message for this run."""
        return {"role": "tool", "tool_call_id": self.call_id, "content": self.content}


def format_result(value: Any) -> str:
    """Serialises a tool's return value to the text of the tool message.

    ``str`` is sent as is; pydantic models, dataclasses, dicts, lists, numbers, datetimes and
    the like become JSON (unknown objects fall back to ``str()``); ``None`` becomes ``"null"``.
    """
    if isinstance(value, str):
        return value
    if isinstance(value, pydantic.BaseModel):
        return value.model_dump_json()
    return pydantic_core.to_json(value, fallback=str).decode()


# -- arguments ---------------------------------------------------------------------------------


def _not_json(exc: BaseException) -> str:
    """What the model is told about arguments the core rejected (``ParseError`` or
    ``LimitExceeded``, from ``ToolCallFinished.error`` or from parsing a string here)."""
    if isinstance(exc, LimitExceeded):
        return f"the arguments exceed the {exc.limit} limit: {exc}"
    return f"the arguments are not valid JSON: {exc}"


def _unrepresentable(exc: BaseException) -> str:
    """What the model is told about valid JSON that Python cannot build."""
    return f"the arguments could not be represented: {exc}"


def _parse_arguments(text: str) -> Any:
    """Parses the arguments text of a tool call with the Rust core, as the stream does.

    Blank text is ``{}`` (how providers send a call without parameters). Raises ``ValueError``
    with a message fit for the model when the text is not one complete JSON value, hits a core
    limit (nesting depth), or holds a value Python cannot build; never anything else.
    """
    if not text.strip():
        return {}
    parser = PartialJSON()
    try:
        parser.feed(text)
        if not parser.complete:
            # A document that is only a number stays open until something follows it.
            parser.feed(" ")
    except Exception as exc:
        raise ValueError(_not_json(exc)) from exc
    if not parser.complete:
        raise ValueError("the arguments are not valid JSON: the text ends inside a value")
    try:
        return parser.value()
    except Exception as exc:
        raise ValueError(_unrepresentable(exc)) from exc


# -- docstrings --------------------------------------------------------------------------------

_SECTIONS = {
    "args": "params",
    "arguments": "params",
    "parameters": "params",
    "params": "params",
    "keyword args": "params",
    "keyword arguments": "params",
    "other parameters": "params",
    "returns": "other",
    "return": "other",
    "yields": "other",
    "yield": "other",
    "raises": "other",
    "raise": "other",
    "examples": "other",
    "example": "other",
    "notes": "other",
    "note": "other",
    "attributes": "other",
    "see also": "other",
    "warnings": "other",
    "warning": "other",
    "references": "other",
}
_GOOGLE_PARAM = re.compile(r"^\*{0,2}([A-Za-z_][A-Za-z0-9_]*)\s*(?:\([^)]*\))?\s*:\s*(.*)$")
_NUMPY_PARAM = re.compile(r"^\*{0,2}([A-Za-z_][A-Za-z0-9_]*)\s*(?::.*)?$")
_SPHINX_PARAM = re.compile(r"^:param\s+(?:[^:]*\s)?([A-Za-z_][A-Za-z0-9_]*)\s*:\s*(.*)$")


def parse_docstring(doc: str | None) -> tuple[str, dict[str, str]]:
    """Splits a docstring into its description and per-parameter descriptions.

    Understands Google (``Args:`` then ``name (type): text``), NumPy (``Parameters`` over a
    ``----------`` line, then ``name : type`` and an indented text) and Sphinx
    (``:param name: text``) styles. The description is the text before the first section.
    """
    if not doc:
        return "", {}
    lines = inspect.cleandoc(doc).splitlines()
    description: list[str] = []
    params: dict[str, str] = {}
    section = "description"  # description | params | other | sphinx
    numpy = False
    base_indent = -1
    current: str | None = None
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        indent = len(line) - len(line.lstrip())
        underlined = (
            i + 1 < len(lines)
            and len(lines[i + 1].strip()) >= 3
            and set(lines[i + 1].strip()) == {"-"}
        )
        header = stripped.rstrip(":").lower()
        if stripped.startswith(":"):
            sphinx = _SPHINX_PARAM.match(stripped)
            section, current = "sphinx", None
            if sphinx:
                current = sphinx.group(1)
                params[current] = sphinx.group(2).strip()
        elif indent == 0 and header in _SECTIONS and (stripped.endswith(":") or underlined):
            section = _SECTIONS[header]
            numpy, base_indent, current = underlined, -1, None
            if underlined:
                i += 1
        elif section == "description":
            description.append(line)
        elif section == "params" and stripped:
            if base_indent < 0:
                base_indent = indent
            if indent <= base_indent:
                match = (_NUMPY_PARAM if numpy else _GOOGLE_PARAM).match(stripped)
                current = match.group(1) if match else None
                if current is not None:
                    params[current] = "" if numpy or match is None else match.group(2).strip()
            elif current is not None:
                params[current] = (params[current] + " " + stripped).strip()
        elif section == "sphinx" and current is not None and stripped:
            params[current] = (params[current] + " " + stripped).strip()
        i += 1
    return "\n".join(description).strip(), params


# -- schema ------------------------------------------------------------------------------------


def _strip_titles(node: Any) -> Any:
    """Removes pydantic's generated ``title`` keywords (noise in a tool schema); a property
    that is itself named ``title`` is kept."""
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key == "title" and isinstance(value, str):
                continue
            if key in ("properties", "$defs", "definitions", "patternProperties") and isinstance(
                value, dict
            ):
                out[key] = {k: _strip_titles(v) for k, v in value.items()}
            else:
                out[key] = _strip_titles(value)
        return out
    if isinstance(node, list):
        return [_strip_titles(v) for v in node]
    return node


class Tool:
    """One registered function: its name, description, JSON schema and validator.

    Built by ``ToolRegistry.tool``; ``eager=True`` declares the function free of side effects,
    so the agent may start it as soon as its arguments are complete, before the model's turn
    ends. ``timeout`` is in seconds (None: no limit).
    """

    def __init__(
        self,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        eager: bool = False,
        timeout: float | None = None,
        strict: bool = False,
    ) -> None:
        if not callable(fn):
            raise TypeError(f"a tool must be callable, got {fn!r}")
        self.fn = fn
        self.name: str = name or str(getattr(fn, "__name__", ""))
        if not _NAME.match(self.name):
            raise ValueError(f"tool name {self.name!r} must match ^[A-Za-z0-9_-]{{1,64}}$")
        doc_description, doc_params = parse_docstring(inspect.getdoc(fn))
        self.description = description if description is not None else doc_description
        self.eager = eager
        self.timeout = timeout
        self.strict = strict
        self.is_async = inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
            type(fn).__call__
        )
        self._model, self._fields, self._positional = self._build_model(doc_params)
        schema = _strip_titles(self._model.model_json_schema(by_alias=True))
        schema.setdefault("properties", {})
        self.parameters: dict[str, Any] = schema

    def _build_model(
        self, doc_params: Mapping[str, str]
    ) -> tuple[type[pydantic.BaseModel], dict[str, str], list[str]]:
        signature = inspect.signature(self.fn)
        try:
            hints = typing.get_type_hints(self.fn, include_extras=True)
        except Exception as exc:
            raise TypeError(f"tool {self.name!r}: cannot resolve the type hints: {exc}") from exc
        definitions: dict[str, Any] = {}
        fields: dict[str, str] = {}
        positional: list[str] = []
        for i, param in enumerate(signature.parameters.values()):
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                raise TypeError(
                    f"tool {self.name!r}: *args and **kwargs cannot be described to a model"
                )
            if param.kind is param.POSITIONAL_ONLY:
                positional.append(param.name)
            annotation = hints.get(param.name, Any)
            default = ... if param.default is param.empty else param.default
            # Fields get neutral names and the parameter name as alias, so a parameter called
            # `json`, `schema` or `model_config` cannot clash with BaseModel attributes.
            key = f"p{i}"
            described = doc_params.get(param.name)
            # Only set a description when the docstring has one, so that a description given
            # in Annotated[..., Field(description=...)] is not overwritten with None.
            info = (
                pydantic.Field(default, alias=param.name, description=described)
                if described
                else pydantic.Field(default, alias=param.name)
            )
            definitions[key] = (annotation, info)
            fields[key] = param.name
        config = pydantic.ConfigDict(
            extra="forbid", populate_by_name=False, arbitrary_types_allowed=True
        )
        model = pydantic.create_model(f"{self.name}_arguments", __config__=config, **definitions)
        return model, fields, positional

    def schema(self) -> dict[str, Any]:
        """The ``{"type": "function", "function": {...}}`` entry of the request's ``tools``."""
        function: dict[str, Any] = {"name": self.name, "parameters": self.parameters}
        if self.description:
            function["description"] = self.description
        if self.strict:
            function["strict"] = True
        return {"type": "function", "function": function}

    def validate(self, arguments: str | Mapping[str, Any] | None) -> dict[str, Any]:
        """Parses and validates arguments; returns the keyword arguments for the function.

        Raises ``ValueError`` (``pydantic.ValidationError`` is one) with a message fit for the
        model when they are not valid.
        """
        if arguments is None:
            arguments = {}
        if isinstance(arguments, str):
            arguments = _parse_arguments(arguments)
        if not isinstance(arguments, Mapping):
            raise ValueError(f"the arguments must be a JSON object, got {type(arguments).__name__}")
        validated = self._model.model_validate(arguments)
        return {name: getattr(validated, key) for key, name in self._fields.items()}

    def _call(self, kwargs: dict[str, Any]) -> Any:
        args = [kwargs.pop(name) for name in self._positional]
        return self.fn(*args, **kwargs)

    def __repr__(self) -> str:
        flags = "".join(
            [
                ", eager=True" if self.eager else "",
                f", timeout={self.timeout}" if self.timeout else "",
            ]
        )
        return f"Tool({self.name!r}{flags})"


def _validation_message(tool: Tool, exc: BaseException) -> str:
    if isinstance(exc, pydantic.ValidationError):
        parts = []
        for err in exc.errors(include_url=False):
            where = ".".join(str(x) for x in err.get("loc", ())) or "arguments"
            parts.append(f"{where}: {err.get('msg')}")
        return f"invalid arguments for {tool.name}: " + "; ".join(parts)
    return f"invalid arguments for {tool.name}: {exc}"


class _DaemonPool:
    """Worker threads for sync tools: daemon threads, reused while warm.

    Not a ``ThreadPoolExecutor``: that one joins its threads at interpreter exit and has a
    fixed size, so one tool that never returns would block the exit, or a slot, for good.
    Here a busy or stuck worker only means a new one is started; idle workers leave after
    ``idle_seconds``. Reuse matters: starting a thread costs about 100-250 us with the GIL
    handoffs, a warm worker about 10 us.
    """

    def __init__(self, idle_seconds: float = 30.0) -> None:
        self._queue: queue.SimpleQueue[
            tuple[
                concurrent.futures.Future[Any],
                contextvars.Context,
                Callable[..., Any],
                tuple[Any, ...],
            ]
        ] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._idle = 0
        self._idle_seconds = idle_seconds

    def submit(self, fn: Callable[..., T], *args: Any) -> concurrent.futures.Future[T]:
        """Runs ``fn(*args)`` in a worker, with the caller's contextvars."""
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        with self._lock:
            spawn = self._idle == 0
            if not spawn:
                self._idle -= 1  # that idle worker is now promised to this item
        self._queue.put((future, contextvars.copy_context(), fn, args))
        if spawn:
            threading.Thread(target=self._work, name="toolwire-tool", daemon=True).start()
        return future

    def _work(self) -> None:
        while True:
            try:
                future, context, fn, args = self._queue.get(timeout=self._idle_seconds)
            except queue.Empty:
                with self._lock:
                    if self._idle > 0:
                        self._idle -= 1
                        return
                continue  # an item was promised to this worker just now
            if future.set_running_or_notify_cancel():
                try:
                    result = context.run(fn, *args)
                except BaseException as exc:  # noqa: BLE001 - handed to the waiting caller
                    future.set_exception(exc)
                else:
                    future.set_result(result)
            del future, context, fn, args  # do not keep the last item alive while idle
            with self._lock:
                self._idle += 1


_POOL = _DaemonPool()


def _start_thread(fn: Callable[..., T], *args: Any) -> concurrent.futures.Future[T]:
    """Runs ``fn(*args)`` in a daemon worker thread (see ``_DaemonPool``)."""
    return _POOL.submit(fn, *args)


class _Lane:
    """Runs submitted calls in daemon workers, at most ``limit`` at a time; the rest wait in
    submission order (the agent makes one per turn, so a turn of 1,024 calls cannot start
    1,024 threads).

    A worker that finishes a call takes the next waiting one itself, so nothing has to poll
    while the agent is blocked reading the stream. Each call runs with the contextvars of its
    own ``submit``.
    """

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("the limit must be at least 1")
        self._limit = limit
        self._lock = threading.Lock()
        self._running = 0
        self._waiting: collections.deque[
            tuple[concurrent.futures.Future[Any], contextvars.Context, Callable[[], Any]]
        ] = collections.deque()

    def submit(self, fn: Callable[[], T]) -> concurrent.futures.Future[T]:
        """Schedules ``fn()``; the future completes with its result or exception."""
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        item = (future, contextvars.copy_context(), fn)
        with self._lock:
            if self._running >= self._limit:
                self._waiting.append(item)
                return future
            self._running += 1
        _POOL.submit(self._drain, item)
        return future

    def _drain(
        self, item: tuple[concurrent.futures.Future[Any], contextvars.Context, Callable[[], Any]]
    ) -> None:
        while True:
            future, context, fn = item
            if future.set_running_or_notify_cancel():
                try:
                    result = context.run(fn)
                except BaseException as exc:  # noqa: BLE001 - handed to the waiting caller
                    future.set_exception(exc)
                else:
                    future.set_result(result)
            del future, context, fn
            with self._lock:
                if not self._waiting:
                    self._running -= 1
                    return
                item = self._waiting.popleft()


class ToolRegistry:
    """A set of tools, with their schemas and a safe way to run them.

    ``@registry.tool`` registers a function and returns it unchanged;
    ``@registry.tool(name=..., description=..., eager=True, timeout=2.0)`` sets options.
    ``default_timeout`` applies to tools registered without one.
    """

    def __init__(
        self, tools: Iterable[Callable[..., Any]] = (), *, default_timeout: float | None = None
    ) -> None:
        self._tools: dict[str, Tool] = {}
        self.default_timeout = default_timeout
        for fn in tools:
            self.add(fn)

    # -- registration

    def add(
        self,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        eager: bool = False,
        timeout: float | None = None,
        strict: bool = False,
    ) -> Tool:
        """Registers ``fn`` and returns its ``Tool``. Raises ``ValueError`` on a duplicate name."""
        tool = Tool(
            fn,
            name=name,
            description=description,
            eager=eager,
            timeout=timeout if timeout is not None else self.default_timeout,
            strict=strict,
        )
        if tool.name in self._tools:
            raise ValueError(f"a tool named {tool.name!r} is already registered")
        self._tools[tool.name] = tool
        return tool

    @overload
    def tool(self, fn: F, /) -> F: ...

    @overload
    def tool(
        self,
        fn: None = None,
        /,
        *,
        name: str | None = None,
        description: str | None = None,
        eager: bool = False,
        timeout: float | None = None,
        strict: bool = False,
    ) -> Callable[[F], F]: ...

    def tool(
        self,
        fn: F | None = None,
        /,
        *,
        name: str | None = None,
        description: str | None = None,
        eager: bool = False,
        timeout: float | None = None,
        strict: bool = False,
    ) -> F | Callable[[F], F]:
        """Decorator registering a sync or async function as a tool (see the class doc)."""

        def register(f: F) -> F:
            self.add(
                f, name=name, description=description, eager=eager, timeout=timeout, strict=strict
            )
            return f

        return register(fn) if fn is not None else register

    # -- lookup

    def __getitem__(self, name: str) -> Tool:
        return self._tools[name]

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def __iter__(self) -> Iterator[Tool]:
        return iter(self._tools.values())

    def __len__(self) -> int:
        return len(self._tools)

    def get(self, name: str) -> Tool | None:
        """The tool called ``name``, or None."""
        return self._tools.get(name)

    @property
    def names(self) -> list[str]:
        """The registered names, in registration order."""
        return list(self._tools)

    def schemas(self) -> list[dict[str, Any]]:
        """The ``tools`` list for a chat-completions request."""
        return [tool.schema() for tool in self._tools.values()]

    def __repr__(self) -> str:
        return f"ToolRegistry({self.names!r})"

    # -- execution

    def _start(
        self, name: str, arguments: Any, call_id: str, origin: float | None
    ) -> tuple[Tool | None, ToolRun]:
        """A fresh ``ToolRun`` and the tool, or None with the unknown-tool error set."""
        run = ToolRun(name=name, arguments=arguments, call_id=call_id)
        start = time.perf_counter()
        run.start_ms = (start - origin) * 1000 if origin is not None else start * 1000
        tool = self._tools.get(name) if isinstance(name, str) else None
        if tool is None:
            known = ", ".join(self._tools) or "none"
            run.error = ToolError(
                "unknown_tool", f"there is no tool named {name!r} (available: {known})"
            )
            run.content = run.error.content()
            return None, run
        run.eager = tool.eager
        return tool, run

    def _prepare(
        self, name: str, arguments: Any, call_id: str, origin: float | None
    ) -> tuple[Tool | None, ToolRun, dict[str, Any] | None]:
        problem: Exception | None = None
        if isinstance(arguments, str):
            try:
                arguments = _parse_arguments(arguments)
            except ValueError as exc:
                problem = exc  # the run shows the raw text
        tool, run = self._start(name, arguments, call_id, origin)
        if tool is None:
            return None, run, None
        if problem is None:
            try:
                return tool, run, tool.validate(arguments)
            except Exception as exc:  # noqa: BLE001 - a user validator may raise anything
                problem = exc
        run.error = ToolError("invalid_arguments", _validation_message(tool, problem), problem)
        run.content = run.error.content()
        return None, run, None

    def _rejected(
        self,
        name: str,
        arguments: Any,
        problem: str,
        *,
        call_id: str = "",
        origin: float | None = None,
    ) -> ToolRun:
        """The error result of a call whose arguments the core rejected; nothing runs."""
        tool, run = self._start(name, arguments, call_id, origin)
        if tool is not None:
            message = f"invalid arguments for {tool.name}: {problem}"
            run.error = ToolError("invalid_arguments", message)
            run.content = run.error.content()
        return run

    @staticmethod
    def _settle(
        tool: Tool,
        run: ToolRun,
        started: float,
        value: Any = None,
        exc: BaseException | None = None,
    ) -> ToolRun:
        elapsed = time.perf_counter() - started
        run.duration_ms = elapsed * 1000
        if exc is not None:
            timed_out = (
                tool.timeout is not None
                and elapsed >= tool.timeout * 0.999
                and isinstance(
                    exc, (TimeoutError, asyncio.TimeoutError, concurrent.futures.TimeoutError)
                )
            )
            if timed_out:
                run.error = ToolError(
                    "timeout", f"{tool.name} did not finish within {tool.timeout:g} s", exc
                )
            else:
                run.error = ToolError(
                    "exception", f"{tool.name} raised {type(exc).__name__}: {exc}", exc
                )
            run.content = run.error.content()
            return run
        run.result = value
        try:
            run.content = format_result(value)
        except Exception as fmt_exc:  # noqa: BLE001 - reported to the model, the run goes on
            run.error = ToolError(
                "exception", f"the result of {tool.name} cannot be serialised: {fmt_exc}", fmt_exc
            )
            run.content = run.error.content()
        return run

    def run(
        self,
        name: str,
        arguments: str | Mapping[str, Any] | None,
        *,
        call_id: str = "",
        origin: float | None = None,
    ) -> ToolRun:
        """Runs one call in the calling thread and returns its ``ToolRun``; never raises for
        a tool failure or for anything in ``arguments`` (``run.error`` says what went wrong).

        ``arguments`` is the JSON text of the call (read by the Rust core: what it rejects
        never runs) or the already parsed mapping.

        Async tools run in a private event loop (do not call this from a running loop: use
        ``arun``). A sync tool with a timeout runs in a daemon thread so the wait can stop.
        ``origin`` is the ``time.perf_counter()`` value that ``start_ms`` counts from.
        """
        tool, run, kwargs = self._prepare(name, arguments, call_id, origin)
        if tool is None or kwargs is None:
            return run
        started = time.perf_counter()
        try:
            if tool.is_async:
                value = asyncio.run(_with_timeout(tool._call(kwargs), tool.timeout))
            elif tool.timeout is None:
                value = tool._call(kwargs)
            else:
                value = _start_thread(tool._call, kwargs).result(timeout=tool.timeout)
        except Exception as exc:  # noqa: BLE001 - a failing tool is an error result, not a crash
            return self._settle(tool, run, started, exc=exc)
        return self._settle(tool, run, started, value)

    async def arun(
        self,
        name: str,
        arguments: str | Mapping[str, Any] | None,
        *,
        call_id: str = "",
        origin: float | None = None,
    ) -> ToolRun:
        """Async twin of ``run``: async tools are awaited (and cancelled on timeout), sync
        tools run in a daemon worker thread. Cancelling the caller cancels the tool."""
        tool, run, kwargs = self._prepare(name, arguments, call_id, origin)
        if tool is None or kwargs is None:
            return run
        started = time.perf_counter()
        try:
            if tool.is_async:
                value = await _with_timeout(tool._call(kwargs), tool.timeout)
            else:
                value = await _with_timeout(
                    asyncio.wrap_future(_start_thread(tool._call, kwargs)), tool.timeout
                )
        except Exception as exc:  # noqa: BLE001 - a failing tool is an error result, not a crash
            return self._settle(tool, run, started, exc=exc)
        return self._settle(tool, run, started, value)


async def _with_timeout(awaitable: Awaitable[T], timeout: float | None) -> T:
    if timeout is None:
        return await awaitable
    return await asyncio.wait_for(awaitable, timeout)
