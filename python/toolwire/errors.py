"""Exceptions raised by toolwire.

The tree::

    ToolwireError(Exception)
    ├── ParseError(ToolwireError, ValueError)   bytes or JSON that cannot be read (Rust core)
    ├── LimitExceeded(ToolwireError)            a configured size/count limit was hit (Rust core)
    ├── APIError                                talking to an OpenAI-compatible server failed
    │   ├── APIConnectionError                  no usable response: connect/network failure, or
    │   │   │                                   the connection dropped before the first body byte
    │   │   └── APITimeoutError                 connect/read timeout, or no first byte in time
    │   ├── APIStatusError                      a non-2xx status; .status_code, .body, .headers
    │   │   ├── AuthenticationError             401/403; says to check the key and the base URL
    │   │   └── RateLimitError                  429; .retry_after (seconds or None)
    │   └── StreamError                         the body had started, then went wrong; never
    │       │                                   retried by the client; .partial_message,
    │       │                                   .accumulator
    │       ├── IncompleteStream                ended before [DONE] and a finish reason (cut)
    │       │   └── StreamStalled               no byte for stall_timeout seconds mid-stream
    │       ├── MalformedStream                 a chunk could not be parsed, or a limit was hit
    │       └── StreamProviderError             an error object inside the stream; .error
    └── AgentError                              the agent loop; .messages, .result
        ├── TurnFailed                          a turn ended badly (length, content_filter, a
        │                                       stream or API error); none of its tools ran;
        │                                       .reason, .partial_message, .retryable
        └── MaxTurnsExceeded                    max_turns reached

Every ``APIError`` has ``retryable``: whether sending the same request again may succeed. The
client retries connection errors, timeouts, 429 and 5xx itself, but only before the first byte
of the body arrived; a ``StreamError`` is never retried by the client, so nothing runs twice.
No message, repr or log line contains the API key.

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
    "LimitExceeded",
    "MalformedStream",
    "MaxTurnsExceeded",
    "ParseError",
    "RateLimitError",
    "StreamError",
    "StreamProviderError",
    "StreamStalled",
    "ToolwireError",
    "TurnFailed",
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
    Retried by the client."""


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


class MalformedStream(StreamError):
    """A chunk could not be parsed or a limit was exceeded; the cause (``ParseError`` or
    ``LimitExceeded``) is ``__cause__``. The rest of the stream was still read."""


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
    turn); ``result`` is the ``AgentResult`` so far (tool runs, usage, turns).
    """

    def __init__(self, message: str, *, messages: list[dict[str, Any]], result: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.messages = messages
        self.result = result


class TurnFailed(AgentError):
    """A turn ended in a way that makes its tool calls untrustworthy; none of them ran
    (``eager`` tools, declared free of side effects, may have started and were dropped).

    ``reason`` is one of ``"length"``, ``"content_filter"``, ``"incomplete"``, ``"stalled"``,
    ``"malformed"``, ``"provider_error"``, ``"api_error"``; the underlying client error, if any, is
    ``__cause__``. ``partial_message`` is what the model had sent in this turn. Retry with
    ``agent.run(err.messages)``: the turns before ran their tools once and are in ``messages``.
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
