"""How a stream ended, in one low-cardinality word (the ``outcome`` label), and the
``error.type`` of OpenTelemetry.

The words of a turn that ended are the core's ``outcome`` (the same for every wire format);
the words of a stream that failed follow the client's exception classes, most specific first
(``StreamStalled`` is an ``IncompleteStream``, ``RateLimitError`` an ``APIStatusError``).
"""

from __future__ import annotations

import asyncio

from toolwire.errors import (
    APIError,
    APIStatusError,
    APITimeoutError,
    IncompleteStream,
    MalformedStream,
    RateLimitError,
    StreamDeadlineExceeded,
    StreamProviderError,
    StreamStalled,
)

_BY_CLASS: tuple[tuple[type[BaseException], str], ...] = (
    (StreamProviderError, "provider_error"),
    (StreamStalled, "stalled"),
    (StreamDeadlineExceeded, "deadline"),
    (IncompleteStream, "incomplete"),
    (MalformedStream, "malformed"),
    (RateLimitError, "rate_limited"),
    (APITimeoutError, "timeout"),
    (APIError, "api_error"),
    (GeneratorExit, "closed"),
    (asyncio.CancelledError, "cancelled"),
    (KeyboardInterrupt, "cancelled"),
)


def stream_outcome(error: BaseException | None, turn_outcome: str | None) -> str:
    """The ``outcome`` label of an ended stream: the turn's outcome when nothing failed, else
    the word for the error."""
    if error is None:
        return turn_outcome or "other"
    for cls, word in _BY_CLASS:
        if isinstance(error, cls):
            return word
    return "exception"


def error_type(error: BaseException) -> str:
    """OpenTelemetry's ``error.type``: the HTTP status of a refused request (the conventions'
    example), else the exception's class name (low cardinality, never its message)."""
    if isinstance(error, APIStatusError):
        return str(error.status_code)
    return type(error).__name__
