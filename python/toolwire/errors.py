"""Exceptions raised by toolwire.

The tree::

    ToolwireError(Exception)
    ├── ParseError(ToolwireError, ValueError)   bytes or JSON that cannot be read (Rust core)
    ├── LimitExceeded(ToolwireError)            a configured size/count limit was hit (Rust core)
    ├── InvalidAPIKey(ToolwireError, ValueError)
    │                                           an API key (or auth header value) with inner
    │                                           control or non-ASCII characters; the message
    │                                           does not show it
    ├── APIError                                talking to an OpenAI-compatible server failed
    │   ├── APIConnectionError                  no usable response: connect/network failure, or
    │   │   │                                   the connection dropped before the first body byte
    │   │   └── APITimeoutError                 connect/read timeout, no first byte in time, or
    │   │       │                               the deadline passed before the first byte
    │   │       └── PoolTimeout                 no free pooled connection within pool_timeout
    │   │                                       (raise limits=); not retried by the client
    │   ├── APIStatusError                      a non-2xx status; .status_code, .body, .headers
    │   │   ├── AuthenticationError             401/403; says to check the key and the base URL
    │   │   └── RateLimitError                  429; .retry_after (seconds or None)
    │   ├── UnexpectedContentType               a 2xx whose body is not an event stream (an HTML
    │   │                                       page, a JSON error, a non-streaming completion);
    │   │                                       .content_type, .body, .status_code, .headers
    │   ├── UnsupportedContentEncoding          a body compressed in a way toolwire cannot decode
    │   └── StreamError                         the body had started, then went wrong; never
    │       │                                   retried by the client; .partial_message,
    │       │                                   .accumulator
    │       ├── IncompleteStream                ended before [DONE] and a finish reason (cut)
    │       │   ├── StreamStalled               no byte for stall_timeout seconds mid-stream
    │       │   └── StreamDeadlineExceeded      the stream's total deadline passed; .deadline
    │       ├── MalformedStream                 a chunk could not be parsed, a limit was hit,
    │       │                                   or a compressed body could not be decoded
    │       └── StreamProviderError             an error object inside the stream; .error
    └── AgentError                              the agent loop; .messages, .result
        ├── TurnFailed                          a turn ended badly (length, content_filter, a
        │                                       stream or API error, any other exception); the
        │                                       tools that ran are in .result.tool_runs;
        │                                       .reason, .partial_message, .retryable
        └── MaxTurnsExceeded                    max_turns reached

Every ``APIError`` has ``retryable``: whether sending the same request again may succeed. The
client retries connection errors, timeouts, 429 and 5xx itself, but only before the first byte
of the body arrived; a ``StreamError`` is never retried by the client, so nothing runs twice.
No message, repr, traceback or log line contains the API key or the password of the base URL,
raw or escaped (repr, bytes repr, JSON, percent-encoding).

`ParseError` and `LimitExceeded` are raised by the Rust core and carry structured fields:
``.position`` (byte offset, ParseError), ``.limit`` / ``.value`` (LimitExceeded), and
``.events`` (every event the failing read produced before and after the fault, so nothing
parsed is lost).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from toolwire._core import LimitExceeded, ParseError, ToolwireError

if TYPE_CHECKING:
    from toolwire._core import ProviderError, StreamAccumulator

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AgentError",
    "AuthenticationError",
    "IncompleteStream",
    "InvalidAPIKey",
    "LimitExceeded",
    "MalformedStream",
    "MaxTurnsExceeded",
    "ParseError",
    "PoolTimeout",
    "RateLimitError",
    "StreamDeadlineExceeded",
    "StreamError",
    "StreamProviderError",
    "StreamStalled",
    "ToolwireError",
    "TurnFailed",
    "UnexpectedContentType",
    "UnsupportedContentEncoding",
]


# Python layer: HTTP client and agent errors (see the tree in the module docstring).


class APIError(ToolwireError):
    """Base class of the errors met while talking to an OpenAI-compatible server.

    ``retryable`` says whether sending the same request again may succeed. Messages never
    contain the API key.
    """

    retryable: bool = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class APIConnectionError(APIError):
    """The request got no usable response: connection refused or reset, DNS, TLS, or the
    connection closed before the first byte of the body. Retried by the client."""

    retryable = True


class APITimeoutError(APIConnectionError):
    """Connecting, waiting for the response headers or for the first body byte took too long.
    Retried by the client, unless the stream's ``deadline`` is what ran out."""


class PoolTimeout(APITimeoutError):
    """No connection of the client's pool became free within ``pool_timeout``: every one was
    busy with other requests (streams hold theirs until they end). The request never left this
    process. Not retried by the client (waiting again would only queue behind the same streams);
    ``retryable`` stays True because it may succeed later. Raise the pool with
    ``limits=httpx.Limits(max_connections=...)`` or wait longer with ``pool_timeout=``."""


class APIStatusError(APIError):
    """The server answered with a non-2xx status.

    Attributes: ``status_code``, ``body`` (parsed JSON when it is JSON, else the text),
    ``headers`` (``httpx.Headers`` from the client), ``request_id`` (``x-request-id`` when sent).
    Statuses 429 and 5xx are retried by the client before this is raised.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.body = body
        self.headers: Mapping[str, str] = headers if headers is not None else {}
        self.request_id: str | None = self.headers.get("x-request-id")
        self.retryable = status_code == 429 or status_code >= 500


class AuthenticationError(APIStatusError):
    """401 or 403: the key was refused. The message says to check the key and the base URL."""


class RateLimitError(APIStatusError):
    """429 Too Many Requests. ``retry_after`` is the server's wait hint in seconds, or None."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int = 429,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, status_code=status_code, body=body, headers=headers)
        self.retry_after = retry_after


class UnexpectedContentType(APIError):
    """The server answered 2xx, but the body is not an event stream: an HTML page from a proxy
    or gateway, a JSON error, or a complete (non-streaming) completion.

    Attributes: ``content_type`` (the media type, lower case, without parameters),
    ``status_code``, ``body`` (the start of the body: parsed JSON when it is JSON, else text),
    ``headers``, ``request_id``. The message names the content type and carries the provider's
    message. Not retried: the same request would get the same answer.
    """

    def __init__(
        self,
        message: str,
        *,
        content_type: str,
        status_code: int = 200,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.content_type = content_type
        self.status_code = status_code
        self.body = body
        self.headers: Mapping[str, str] = headers if headers is not None else {}
        self.request_id: str | None = self.headers.get("x-request-id")


class UnsupportedContentEncoding(APIError):
    """The body is compressed with a coding toolwire cannot decode (``br``, or ``zstd`` without
    the ``zstandard`` package). toolwire asks for ``Accept-Encoding: identity``; the server or a
    proxy compressed anyway. ``content_encoding`` is the coding; not retried."""

    def __init__(
        self, message: str, *, content_encoding: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.content_encoding = content_encoding
        self.headers: Mapping[str, str] = headers if headers is not None else {}


class InvalidAPIKey(ToolwireError, ValueError):
    """An API key (or the value of an authentication header such as ``api-key``) that can never
    be sent: it has control, space or non-ASCII characters inside. Surrounding whitespace (the
    newline of a key read from a file) is stripped instead. The message says where the key came
    from and which kind of character is wrong, never the key."""


class StreamError(APIError):
    """The response body had started, then the stream went wrong.

    Never retried by the client (the request may have had effects, and the events already went
    to the caller). Everything parsed is kept: ``partial_message`` is the assistant message built
    so far (``accumulator.message()``), ``accumulator`` the ``StreamAccumulator`` itself
    (``finish_reason``, ``usage``, ``tool_calls``). Sending the request again is safe for the
    server side, so ``retryable`` is True.
    """

    retryable = True

    def __init__(
        self,
        message: str,
        *,
        partial_message: dict[str, Any] | None = None,
        accumulator: StreamAccumulator | None = None,
    ) -> None:
        super().__init__(message)
        if partial_message is None:
            partial_message = {"role": "assistant", "content": None}
        self.partial_message: dict[str, Any] = partial_message
        self.accumulator = accumulator


class IncompleteStream(StreamError):
    """The stream ended (or the connection dropped) before ``[DONE]`` and a finish reason."""


class StreamStalled(IncompleteStream):
    """No byte arrived for ``stall_timeout`` seconds after the body had started."""


class StreamDeadlineExceeded(IncompleteStream):
    """The stream's total ``deadline`` (seconds from sending the request) passed while the body
    was still coming: a server trickling bytes or keep-alive comments never stalls, so only a
    deadline ends it. ``deadline`` is the configured number of seconds; everything parsed is kept.
    """

    def __init__(
        self,
        message: str,
        *,
        deadline: float,
        partial_message: dict[str, Any] | None = None,
        accumulator: StreamAccumulator | None = None,
    ) -> None:
        super().__init__(message, partial_message=partial_message, accumulator=accumulator)
        self.deadline = deadline


class MalformedStream(StreamError):
    """A chunk could not be parsed, a limit was exceeded, or a compressed body could not be
    decoded; the cause (``ParseError``, ``LimitExceeded`` or the decoding error) is
    ``__cause__``. The rest of the stream was still read, except in a compressed body, where a
    size limit or a decoding error stops reading (what follows a compression bomb's first
    megabytes is more of it)."""


class StreamProviderError(StreamError):
    """The provider sent an error object inside the stream.

    ``error`` is the ``ProviderError`` event (``message``, ``code``, ``type``, ``body``).
    """

    def __init__(
        self,
        message: str,
        *,
        error: ProviderError,
        partial_message: dict[str, Any] | None = None,
        accumulator: StreamAccumulator | None = None,
    ) -> None:
        super().__init__(message, partial_message=partial_message, accumulator=accumulator)
        self.error = error


class AgentError(ToolwireError):
    """Base class of the errors the agent loop raises.

    ``messages`` is the transcript so far, ready to send again (it never holds a half-done
    turn); ``result`` is the ``AgentResult`` so far (tool runs, including those of the turn that
    failed, usage, turns). Every error the agent loop raises carries both.
    """

    def __init__(self, message: str, *, messages: list[dict[str, Any]], result: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.messages = messages
        self.result = result


class TurnFailed(AgentError):
    """A turn ended in a way that makes its tool calls untrustworthy, or an exception
    interrupted it.

    What ran is in ``result.tool_runs`` (the runs of this turn have ``run.turn == err.turn``)
    and the message names it. Tools with side effects did not run, with one exception: when the
    model had already ended the turn well before the error came (a bad usage chunk after the
    finish reason), the turn's calls ran and the whole turn, tool messages included, is kept in
    ``messages``. Otherwise only ``eager`` tools (declared free of side effects) may have run
    while the model streamed; their results are not in ``messages``.

    ``reason`` is one of ``"length"``, ``"content_filter"``, ``"other"`` (the turn's
    ``outcome``: an end the core does not know as normal, such as Anthropic's ``pause_turn``),
    ``"error"``, ``"incomplete"``, ``"stalled"``, ``"deadline"``, ``"malformed"``,
    ``"provider_error"``, ``"api_error"``, ``"exception"`` (any other exception from the
    client, the stream or the core; not retryable); the underlying error, if any, is
    ``__cause__``. ``partial_message`` is what the model had sent in this turn.
    Retry with ``agent.run(err.messages)``: the turns in ``messages`` ran their tools once and
    never run them again.
    """

    def __init__(
        self,
        message: str,
        *,
        reason: str,
        turn: int,
        partial_message: dict[str, Any] | None,
        messages: list[dict[str, Any]],
        result: Any = None,
        retryable: bool = True,
    ) -> None:
        super().__init__(message, messages=messages, result=result)
        self.reason = reason
        self.turn = turn
        self.partial_message = partial_message
        self.retryable = retryable


class MaxTurnsExceeded(AgentError):
    """The model still asked for tools after ``max_turns`` turns. ``messages`` holds every turn,
    tool results included, so the run can be continued."""
