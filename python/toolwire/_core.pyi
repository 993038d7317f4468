"""Stubs of toolwire's native module. Import these names from ``toolwire``."""

from typing import Any, Literal, TypeAlias, final, overload

__all__ = [
    "Finish",
    "LimitExceeded",
    "ParseError",
    "PartialJSON",
    "ProviderError",
    "ReasoningDelta",
    "StreamAccumulator",
    "TextDelta",
    "ToolCall",
    "ToolCallDelta",
    "ToolCallFinished",
    "ToolCallReady",
    "ToolCallStarted",
    "ToolwireError",
    "Usage",
    "__version__",
    "build_profile",
    "parse_partial",
]

__version__: str
build_profile: Literal["debug", "release"]

class ToolwireError(Exception):
    """Base class of every error toolwire raises."""

class ParseError(ToolwireError, ValueError):
    """Input that cannot be read: invalid UTF-8, a chunk that is not JSON, malformed JSON."""

    kind: str
    position: int
    events: list[Event]

class LimitExceeded(ToolwireError):
    """A configured limit was exceeded; the offending input was dropped, the rest kept."""

    limit: str
    value: int
    position: int
    events: list[Event]

@final
class TextDelta:
    """Assistant text that just arrived."""

    __match_args__ = ("text", "choice")
    @property
    def text(self) -> str: ...
    @property
    def choice(self) -> int: ...

@final
class ReasoningDelta:
    """Reasoning text (``reasoning_content``, DeepSeek and others) that just arrived."""

    __match_args__ = ("text", "choice")
    @property
    def text(self) -> str: ...
    @property
    def choice(self) -> int: ...

@final
class ToolCallStarted:
    """A new tool call appeared. ``index`` is its position in creation order within the choice."""

    __match_args__ = ("index", "id", "name", "choice")
    @property
    def index(self) -> int: ...
    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def choice(self) -> int: ...

@final
class ToolCallDelta:
    """A fragment of a call's arguments (the provider's fragments of one read, joined).
    ``.partial`` is the value the arguments prove so far."""

    __match_args__ = ("index", "id", "name", "fragment", "choice")
    @property
    def index(self) -> int: ...
    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def fragment(self) -> str:
        """The fragment's text (a new string from the call's arguments on each access)."""
    @property
    def choice(self) -> int: ...
    @property
    def partial(self) -> Any:
        """The value the arguments proved right after this fragment (built on first access)."""

@final
class ToolCallReady:
    """A call's arguments just closed as one complete JSON value (the call is not finished yet)."""

    __match_args__ = ("index", "id", "name", "arguments", "choice")
    @property
    def index(self) -> int: ...
    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def arguments(self) -> str: ...
    @property
    def choice(self) -> int: ...
    @property
    def parsed(self) -> Any:
        """The parsed arguments (built on first access)."""

@final
class ToolCallFinished:
    """The provider ended the call: ``.parsed``, or None with ``.error`` set."""

    __match_args__ = ("index", "id", "name", "arguments", "choice", "error")
    @property
    def index(self) -> int: ...
    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def arguments(self) -> str: ...
    @property
    def choice(self) -> int: ...
    @property
    def error(self) -> ParseError | LimitExceeded | None:
        """Why the arguments are not usable: a ``ParseError`` (``kind`` "incomplete" or
        "malformed"), or ``LimitExceeded`` (``limit`` "max_depth") when they nest too deep."""
    @property
    def parsed(self) -> Any:
        """The parsed arguments, or None when ``.error`` is set (built on first access)."""

@final
class Usage:
    """Token usage reported by the provider (the last report wins in ``acc.usage``)."""

    __match_args__ = ("usage",)
    @property
    def usage(self) -> dict[str, Any]: ...

@final
class Finish:
    """The choice ended, with the finish reason exactly as the provider sent it.

    ``outcome`` is what that reason means in the words of ``StreamAccumulator.outcome``, were
    the stream to end well now.
    """

    __match_args__ = ("reason", "choice", "outcome")
    @property
    def reason(self) -> str: ...
    @property
    def choice(self) -> int: ...
    @property
    def outcome(self) -> Literal["stop", "tool_calls", "length", "content_filter", "other"]: ...

@final
class ProviderError:
    """An error object the provider sent inside the stream."""

    __match_args__ = ("message", "code", "type", "body")
    @property
    def message(self) -> str: ...
    @property
    def code(self) -> Any: ...
    @property
    def type(self) -> str | None: ...
    @property
    def body(self) -> Any: ...

# A type alias for annotations only; it does not exist at runtime.
Event: TypeAlias = (
    TextDelta
    | ReasoningDelta
    | ToolCallStarted
    | ToolCallDelta
    | ToolCallReady
    | ToolCallFinished
    | Usage
    | Finish
    | ProviderError
)

@final
class ToolCall:
    """A snapshot of one tool call, as listed by ``StreamAccumulator.tool_calls``."""

    @property
    def index(self) -> int: ...
    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def arguments(self) -> str: ...
    @property
    def ready(self) -> bool:
        """Whether the arguments closed as a complete JSON value."""
    @property
    def finished(self) -> bool:
        """Whether the provider ended the call."""
    @property
    def error(self) -> ParseError | LimitExceeded | None: ...
    @property
    def partial(self) -> Any:
        """The value the arguments prove so far."""
    @property
    def parsed(self) -> Any:
        """The parsed arguments once the call is finished without error, else None."""

@final
class StreamAccumulator:
    """Accumulates one streamed response: feed it the raw bytes of each network read.

    One accumulator per stream. Its events may be read from any thread while the owner goes on
    feeding (the state sits behind a lock). Limits (keywords, ``None`` = default):
    ``max_line_bytes``, ``max_event_bytes``, ``max_arguments_bytes``, ``max_content_bytes``
    (16 MiB each), ``max_tool_calls`` (1024), ``max_choices`` (128), ``max_depth`` (512, at most
    1,000); past one, ``feed`` raises ``LimitExceeded`` and keeps what was parsed.
    """

    def __new__(
        cls,
        *,
        format: Literal["auto", "chat", "anthropic", "responses", "gemini", "ollama"] = "auto",
        events: bool = True,
        max_line_bytes: int | None = None,
        max_event_bytes: int | None = None,
        max_arguments_bytes: int | None = None,
        max_content_bytes: int | None = None,
        max_tool_calls: int | None = None,
        max_choices: int | None = None,
        max_depth: int | None = None,
    ) -> StreamAccumulator: ...
    def feed(
        self, data: bytes | bytearray | memoryview | str, /, *, events: bool | None = None
    ) -> list[Event]:
        """Feeds one network read; returns the events it produced."""
    def finish(self) -> list[Event]:
        """End of input: flushes the last event, finishes open calls; returns the last events."""
    @overload
    def message(self, choice: int = 0, *, native: Literal[False] = False) -> dict[str, Any]:
        """The assistant message of a choice, OpenAI-shaped, ready to append to ``messages``.

        With ``native=True``, the turn in the provider's own shape, ready to send back
        unchanged: Anthropic's ``{"role", "content": [blocks]}``, the Responses API's list of
        output items, Gemini's ``{"role": "model", "parts"}``, Ollama's message; for chat, the
        same as ``message()``.
        """
    @overload
    def message(self, choice: int = 0, *, native: bool) -> Any: ...
    def calls_of(self, choice: int = 0) -> list[ToolCall]:
        """Tool calls of any choice, in reported order."""
    @property
    def finish_reason(self) -> str | None: ...
    @property
    def finish_reasons(self) -> list[tuple[int, str | None]]: ...
    @property
    def choices(self) -> list[int]: ...
    @property
    def usage(self) -> dict[str, Any] | None: ...
    @property
    def truncated(self) -> bool: ...
    @property
    def done(self) -> bool: ...
    @property
    def finished(self) -> bool: ...
    @property
    def format(self) -> Literal["auto", "chat", "responses", "anthropic", "gemini", "ollama"]:
        """The wire format read; ``"auto"`` until ``format="auto"`` has recognised it."""
    @property
    def outcome(
        self,
    ) -> Literal["stop", "tool_calls", "length", "content_filter", "error", "cut", "other"] | None:
        """How the turn ended, the same words for every format; None while the stream is open."""
    @property
    def token_usage(self) -> dict[str, int] | None:
        """``{"input_tokens", "output_tokens", "total_tokens"}`` of the last usage, or None."""
    @property
    def error(self) -> ProviderError | None: ...
    @property
    def tool_calls(self) -> list[ToolCall]: ...

@final
class PartialJSON:
    """An incremental JSON parser: ``feed`` fragments, read ``value()`` at any time."""

    def __new__(
        cls, *, partial_strings: bool = True, max_depth: int | None = None
    ) -> PartialJSON: ...
    def feed(self, data: str | bytes | bytearray | memoryview, /) -> None:
        """Feeds a fragment (a UTF-8 sequence split across byte feeds waits)."""
    def value(self) -> Any:
        """The value the text so far proves; None when nothing shows yet."""
    @property
    def complete(self) -> bool: ...
    @property
    def text(self) -> str: ...

def parse_partial(
    text: str | bytes | bytearray | memoryview,
    /,
    *,
    partial_strings: bool = True,
    max_depth: int | None = None,
) -> Any:
    """The value a JSON prefix proves, in one call."""
