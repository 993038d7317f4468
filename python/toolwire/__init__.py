"""toolwire: streamed LLM responses to complete messages and tool calls, fast.

The hot path (SSE decoding, delta merging, incremental partial JSON) is Rust; this package
is its Python face plus an HTTP client, a tool registry and an agent loop.

``import toolwire`` loads only the Rust core and the exception classes: the Python layer
(``Client``, ``Agent``, ``ToolRegistry``, ... and with them httpx, anyio and pydantic) is
imported on first use of one of its names (PEP 562), so a caller that only wants
``StreamAccumulator`` or ``parse_partial`` pays for nothing else.

Thread safety, in one place:

- A ``StreamAccumulator`` belongs to one stream. Its state sits behind a lock: its events'
  ``.partial``/``.parsed`` and its properties may be read from any thread while another
  thread feeds; a thread that waits for the lock does not hold the GIL. Feeding one
  accumulator from two threads is serialized, not an error (the order of the reads is then
  yours to keep); re-entrant use on one thread (a finalizer in the middle of ``feed``) raises
  ``RuntimeError`` instead of deadlocking. With the GIL, a read of 16 KiB or more is scanned
  with the GIL released (the lock held), and so is one of 1 KiB or more while other threads
  feed too; the GIL is then taken back by turns, spinning briefly for the feeding thread that
  holds it rather than sleeping (alone, shorter reads keep it: handing it over would cost more
  than scanning them). The module declares that it needs no GIL, so on free-threaded
  CPython (3.14t; the binding's tests run there in CI) threads each feeding their own streams
  run in parallel at any read size.
- A ``PartialJSON`` belongs to one thread at a time; using one from two threads at once
  raises ``RuntimeError: Already borrowed`` instead of corrupting state.
- Events and ``ToolCall`` snapshots are immutable and may be shared. Values returned by
  ``.partial``/``.parsed``/``value()`` share closed subtrees with each other: treat them as
  read-only, or copy them. They never change after they were returned: the core updates a
  value in place only when nobody else holds it (a reference count of 1 with the GIL;
  CPython's ``PyUnstable_Object_IsUniquelyReferenced`` on free-threaded 3.14+; never on
  3.13t, where values are copied).
- ``Client``/``AsyncClient`` may be shared by threads / tasks (httpx's are); an ``Agent`` run
  uses at most ``max_parallel_tools`` threads or tasks for one turn's tools.
"""

import importlib as _importlib
import typing as _typing

from toolwire._core import (
    Finish,
    PartialJSON,
    ProviderError,
    ReasoningDelta,
    StreamAccumulator,
    TextDelta,
    ToolCall,
    ToolCallDelta,
    ToolCallFinished,
    ToolCallReady,
    ToolCallStarted,
    Usage,
    __version__,
    build_profile,
    parse_partial,
)
from toolwire.errors import (
    AgentError,
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    IncompleteStream,
    InvalidAPIKey,
    LimitExceeded,
    MalformedStream,
    MaxTurnsExceeded,
    ParseError,
    PoolTimeout,
    RateLimitError,
    StreamDeadlineExceeded,
    StreamError,
    StreamProviderError,
    StreamStalled,
    ToolwireError,
    TurnFailed,
    UnexpectedContentType,
    UnsupportedContentEncoding,
)

if _typing.TYPE_CHECKING:
    from toolwire.agent import (
        Agent,
        AgentResult,
        RunFinished,
        ToolRunFinished,
        ToolRunStarted,
        TurnFinished,
        TurnStarted,
    )
    from toolwire.client import AsyncChatStream, AsyncClient, ChatStream, Client
    from toolwire.tools import Tool, ToolError, ToolRegistry, ToolRun

# The Python layer: each name and the module that defines it, imported on first access.
_LAZY = {
    **dict.fromkeys(
        [
            "Agent",
            "AgentResult",
            "RunFinished",
            "ToolRunFinished",
            "ToolRunStarted",
            "TurnFinished",
            "TurnStarted",
        ],
        "toolwire.agent",
    ),
    **dict.fromkeys(["AsyncChatStream", "AsyncClient", "ChatStream", "Client"], "toolwire.client"),
    **dict.fromkeys(["Tool", "ToolError", "ToolRegistry", "ToolRun"], "toolwire.tools"),
}


def __getattr__(name: str) -> _typing.Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'toolwire' has no attribute {name!r}")
    value = getattr(_importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__all__ = [
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "Agent",
    "AgentError",
    "AgentResult",
    "AsyncChatStream",
    "AsyncClient",
    "AuthenticationError",
    "ChatStream",
    "Client",
    "Finish",
    "IncompleteStream",
    "InvalidAPIKey",
    "LimitExceeded",
    "MalformedStream",
    "MaxTurnsExceeded",
    "ParseError",
    "PartialJSON",
    "PoolTimeout",
    "ProviderError",
    "RateLimitError",
    "ReasoningDelta",
    "RunFinished",
    "StreamAccumulator",
    "StreamDeadlineExceeded",
    "StreamError",
    "StreamProviderError",
    "StreamStalled",
    "TextDelta",
    "Tool",
    "ToolCall",
    "ToolCallDelta",
    "ToolCallFinished",
    "ToolCallReady",
    "ToolCallStarted",
    "ToolError",
    "ToolRegistry",
    "ToolRun",
    "ToolRunFinished",
    "ToolRunStarted",
    "ToolwireError",
    "TurnFailed",
    "TurnFinished",
    "TurnStarted",
    "UnexpectedContentType",
    "UnsupportedContentEncoding",
    "Usage",
    "__version__",
    "build_profile",
    "parse_partial",
]
