"""HTTP clients of the streaming LLM APIs, reading through the Rust core.

::

    client = toolwire.Client()              # OPENAI_BASE_URL / OPENAI_API_KEY by default
    with client.stream_chat(model="gpt-4o-mini", messages=messages, tools=registry) as stream:
        for event in stream:                # TextDelta, ToolCallStarted, ToolCallDelta, ...
            ...
    stream.message()                        # the assistant message, ready to append

``api=`` picks the API: ``"chat"`` (Chat Completions and compatible servers, the default),
``"responses"``, ``"anthropic"``, ``"gemini"`` or ``"ollama"``. The same OpenAI-chat
``messages`` and ``tools`` go in whatever the api (each api's request is built from them, see
``toolwire._dialects``), and the same events and message come out.

The modules behind this one: ``_clients`` (configuration, requests, retries, error mapping),
``_streams`` (the streams), ``_bodies`` (what a response says before its stream), ``_secrets``
(keys and credentials kept out of every output), ``_dialects`` (each api's request).

Each network read (``httpx`` ``iter_raw``/``aiter_raw``) is fed to one ``StreamAccumulator``
in one call; events are handed out as they come. Behaviour on failures:

- Connection errors, timeouts before the first body byte, 429 and 5xx are retried with
  exponential backoff (``Retry-After`` / ``retry-after-ms`` honoured up to ``max_retry_after``),
  and only before the first byte of the body: once a byte has been seen, nothing is sent again.
- Timeouts: ``connect_timeout``, ``read_timeout`` (waiting for the response headers),
  ``stall_timeout`` (no byte for that long once the body is expected, first byte included),
  ``pool_timeout`` (waiting for a free pooled connection) and an optional ``deadline``: the
  total seconds a stream may take, retries included, which alone ends a server that trickles
  bytes or keep-alive comments forever.
- After the body has started, a cut, a stall, the deadline, a malformed chunk or an error
  object inside the stream raise a ``StreamError`` subclass when the body ends, after every
  event that could be parsed has been handed out; the error carries the partial message and
  the accumulator.
- A 2xx whose body is not an event stream (``Content-Type`` other than ``text/event-stream``
  or ``application/x-ndjson``; none at all is read as a stream) raises
  ``UnexpectedContentType`` with the provider's message.

Transport: toolwire asks for ``Accept-Encoding: identity``; a body compressed anyway (gzip,
deflate, zstd with ``zstandard``) is decoded incrementally in pieces of at most 64 KB, and the
accumulator's limits apply to the decoded bytes, so a compression bomb ends in a
``MalformedStream`` without growing memory. The pool holds ``limits`` (1,000 connections by
default, as openai-python); no free connection within ``pool_timeout`` raises ``PoolTimeout``.

Secrets: the API key is stripped of surrounding whitespace (a key read from a file ends in a
newline) and refused (``InvalidAPIKey``, without echoing it) when it has other invisible or
non-ASCII characters; the same goes for the values of authentication headers passed in
``headers`` (``Authorization``, ``api-key``, ``x-api-key`` ...). The credentials of a
``https://user:password@host`` base URL are sent as HTTP Basic auth and never shown:
messages show ``https://***@host``. Every message, repr, traceback and log line of toolwire
leaves the key and the password out in every form: raw, repr-escaped, JSON-escaped and
percent-encoded.

``ChatStream.from_response`` / ``AsyncChatStream.from_response`` read a response that someone
else opened, for example the ``openai`` SDK's
``client.chat.completions.with_streaming_response.create(..., stream=True)``: the SDK sends
the request, toolwire reads the raw bytes (no per-chunk pydantic models), decoding them when
the SDK asked for compression and checking the content type when the response has headers.

Thread safety: a ``Client`` may be shared by threads (httpx's pool is); a ``ChatStream``
belongs to one consumer.
"""

from __future__ import annotations

from toolwire._clients import DEFAULT_BASE_URL, DEFAULT_LIMITS, AsyncClient, Client
from toolwire._streams import AsyncChatStream, ChatStream

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_LIMITS",
    "AsyncChatStream",
    "AsyncClient",
    "ChatStream",
    "Client",
]
