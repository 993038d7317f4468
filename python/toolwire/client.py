"""HTTP clients for OpenAI-compatible chat completions, streaming through the Rust core.

::

    client = toolwire.Client()              # OPENAI_BASE_URL / OPENAI_API_KEY by default
    with client.stream_chat(model="gpt-4o-mini", messages=messages, tools=registry) as stream:
        for event in stream:                # TextDelta, ToolCallStarted, ToolCallDelta, ...
            ...
    stream.message()                        # the assistant message, ready to append

Each network read (``httpx`` ``iter_raw``/``aiter_raw``) is fed to one ``StreamAccumulator``
in one call; events are handed out as they come. Behaviour on failures:

- Connection errors, timeouts before the first body byte, 429 and 5xx are retried with
  exponential backoff (``Retry-After`` / ``retry-after-ms`` honoured up to ``max_retry_after``),
  and only before the first byte of the body: once a byte has been seen, nothing is sent again.
- Timeouts: ``connect_timeout``, ``read_timeout`` (waiting for the response headers) and
  ``stall_timeout`` (no byte for that long once the body is expected, first byte included).
- After the body has started, a cut, a stall, a malformed chunk or an error object inside the
  stream raise a ``StreamError`` subclass when the body ends, after every event that could be
  parsed has been handed out; the error carries the partial message and the accumulator.
- The API key is kept out of every repr, log line and error message.

``ChatStream.from_response`` / ``AsyncChatStream.from_response`` read a response that someone
else opened, for example the ``openai`` SDK's
``client.chat.completions.with_streaming_response.create(..., stream=True)``: the SDK sends
the request, toolwire reads the raw bytes (no per-chunk pydantic models).

Thread safety: a ``Client`` may be shared by threads (httpx's pool is); a ``ChatStream``
belongs to one consumer.
"""

from __future__ import annotations

import email.utils
import json
import logging
import os
import random
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol

import anyio
import httpx

from toolwire._core import LimitExceeded, ParseError, StreamAccumulator, __version__
from toolwire.errors import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    IncompleteStream,
    MalformedStream,
    RateLimitError,
    StreamError,
    StreamProviderError,
    StreamStalled,
)

if TYPE_CHECKING:
    from typing_extensions import Self

    from toolwire._core import Event

__all__ = ["DEFAULT_BASE_URL", "AsyncChatStream", "AsyncClient", "ChatStream", "Client"]

logger = logging.getLogger("toolwire")

DEFAULT_BASE_URL = "https://api.openai.com/v1"
_RETRY_STATUS = frozenset({429}) | frozenset(range(500, 600))


class _HasSchemas(Protocol):
    def schemas(self) -> list[dict[str, Any]]: ...


Tools = Sequence[Mapping[str, Any]] | _HasSchemas


class _Secret:
    """Holds the API key; its repr and str never show it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "<set>" if self._value else "<unset>"

    __str__ = __repr__


def _redact(text: str, secret: _Secret) -> str:
    key = secret.get()
    return text.replace(key, "***") if len(key) >= 4 else text


def _parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from ``retry-after-ms`` (OpenAI) or ``Retry-After`` (seconds or date)."""
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _error_text(body: Any, fallback: str) -> str:
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict) and isinstance(err.get("message"), str):
            return str(err["message"])
        if isinstance(err, str):
            return err
        if isinstance(body.get("message"), str):
            return str(body["message"])
    if isinstance(body, str) and body.strip():
        return body.strip()[:500]
    return fallback


def _decode_body(data: bytes) -> Any:
    text = data.decode("utf-8", "replace")
    try:
        return json.loads(text)
    except ValueError:
        return text


def _origin(value: object) -> str:
    """The ``scheme://host:port`` of a URL, without credentials, path or query."""
    try:
        url = httpx.URL(str(value))
    except (TypeError, ValueError, httpx.InvalidURL):
        return "<unparsable URL>"
    port = f":{url.port}" if url.port else ""
    return f"{url.scheme}://{url.host}{port}"


# -- streams -----------------------------------------------------------------------------------


class _StreamBase:
    """What the sync and async streams share: the accumulator, the outcome, the error."""

    def __init__(self, accumulator: StreamAccumulator, *, secret: _Secret | None = None) -> None:
        self.accumulator = accumulator
        self.response: Any = None
        self.bytes_received = 0
        self.attempts = 0
        self._secret = secret or _Secret("")
        self._fault: BaseException | None = None
        self._stalled = False
        self._cut: BaseException | None = None

    # results

    def message(self, choice: int = 0) -> dict[str, Any]:
        """The assistant message (OpenAI shape) built so far; complete once iteration ended."""
        return self.accumulator.message(choice)

    @property
    def finish_reason(self) -> str | None:
        """The finish reason of choice 0, as the server sent it."""
        return self.accumulator.finish_reason

    @property
    def usage(self) -> dict[str, Any] | None:
        """The usage the server reported (last report wins), or None."""
        return self.accumulator.usage

    @property
    def faulted(self) -> bool:
        """Whether something already went wrong in the body: a chunk that could not be parsed,
        a limit, or an error object from the provider (the stream raises when it ends)."""
        return self._fault is not None or self.accumulator.error is not None

    @property
    def request_id(self) -> str | None:
        """The ``x-request-id`` response header, when there is a response."""
        headers = getattr(self.response, "headers", None)
        return headers.get("x-request-id") if headers is not None else None

    # feeding

    def _feed(self, chunk: bytes) -> list[Event]:
        self.bytes_received += len(chunk)
        try:
            return self.accumulator.feed(chunk)
        except (ParseError, LimitExceeded) as exc:
            # The core processed the whole read before raising; keep reading, report at the end.
            if self._fault is None:
                self._fault = exc
            return list(exc.events)

    def _finish(self) -> list[Event]:
        try:
            return self.accumulator.finish()
        except (ParseError, LimitExceeded) as exc:
            if self._fault is None:
                self._fault = exc
            return list(exc.events)

    def _outcome(self) -> StreamError | None:
        """The error the ended stream deserves, if any (most telling first)."""
        acc = self.accumulator
        partial = acc.message()
        provider = acc.error
        if provider is not None:
            text = _redact(
                f"the server sent an error inside the stream: {provider.message}", self._secret
            )
            return StreamProviderError(
                text, error=provider, partial_message=partial, accumulator=acc
            )
        if self._stalled:
            return StreamStalled(
                f"the stream stalled: no byte for {self._stall_timeout():g} s "
                f"after {self.bytes_received} bytes",
                partial_message=partial,
                accumulator=acc,
            )
        if self._cut is not None or acc.truncated:
            why = (
                f" ({type(self._cut).__name__}: {_redact(str(self._cut), self._secret)})"
                if self._cut
                else ""
            )
            return IncompleteStream(
                "the stream ended before its end ([DONE] or a finish reason) "
                f"after {self.bytes_received} bytes{why}",
                partial_message=partial,
                accumulator=acc,
            )
        if self._fault is not None:
            err = MalformedStream(
                f"the stream could not be read: {type(self._fault).__name__}: {self._fault}",
                partial_message=partial,
                accumulator=acc,
            )
            err.__cause__ = self._fault
            return err
        return None

    def _stall_timeout(self) -> float:
        return 0.0

    def _on_read_error(self, exc: Exception) -> None:
        if _is_timeout(exc):
            self._stalled = True
        self._cut = exc


def _raw_chunks(source: Any) -> Iterator[bytes]:
    """The raw byte reads of an openai SDK response, an httpx response or an iterable."""
    http_response = getattr(source, "http_response", None)
    if http_response is not None and hasattr(http_response, "iter_raw"):
        return iter(http_response.iter_raw())
    if hasattr(source, "iter_raw"):
        return iter(source.iter_raw())
    if isinstance(source, (bytes, bytearray, memoryview, str)):
        raise TypeError("pass an iterable of byte chunks (a list of reads), not one bytes object")
    return iter(source)


def _araw_chunks(source: Any) -> AsyncIterator[bytes]:
    http_response = getattr(source, "http_response", None)
    if http_response is not None and hasattr(http_response, "aiter_raw"):
        return aiter(http_response.aiter_raw())
    if hasattr(source, "aiter_raw"):
        return aiter(source.aiter_raw())
    if hasattr(source, "__aiter__"):
        return aiter(source)
    raise TypeError(f"cannot read an async byte stream from {type(source).__name__}")


class ChatStream(_StreamBase):
    """One streamed chat completion. Use it as a context manager and iterate it for events.

    Iterating yields every event (``TextDelta``, ``ToolCallStarted``, ``ToolCallDelta``,
    ``ToolCallReady``, ``ToolCallFinished``, ``Usage``, ``Finish``, ``ProviderError`` ...);
    ``iter_batches()`` yields them as one list per network read instead. When the body ends
    badly, iteration raises a ``StreamError`` after the last event. Afterwards ``message()``,
    ``finish_reason``, ``usage`` and ``accumulator`` hold the outcome.
    """

    def __init__(
        self,
        accumulator: StreamAccumulator,
        *,
        opener: Callable[[ChatStream], tuple[Any, Iterator[bytes], bytes]] | None = None,
        chunks: Iterator[bytes] | None = None,
        closer: Callable[[], None] | None = None,
        secret: _Secret | None = None,
        stall_timeout: float | None = None,
    ) -> None:
        super().__init__(accumulator, secret=secret)
        self._opener = opener
        self._chunks = chunks
        self._first = b""
        self._closer = closer
        self._stall = stall_timeout
        self._iterator: Iterator[list[Event]] | None = None

    @classmethod
    def from_response(cls, response: Any, **accumulator_options: Any) -> ChatStream:
        """Reads a stream someone else opened: an ``openai`` SDK response from
        ``with_streaming_response.create(..., stream=True)``, an ``httpx.Response`` opened with
        ``stream=True``, or any iterable of byte chunks. No retries (the request was sent).

        ``accumulator_options`` go to ``StreamAccumulator`` (limits)."""
        acc = StreamAccumulator(**accumulator_options)
        close = getattr(response, "close", None)
        return cls(acc, chunks=_raw_chunks(response), closer=close if callable(close) else None)

    def _stall_timeout(self) -> float:
        return self._stall or 0.0

    def open(self) -> Self:
        """Sends the request (with retries) and waits for the first body byte; idempotent."""
        if self._chunks is None and self._opener is not None:
            self.response, self._chunks, self._first = self._opener(self)
        return self

    def __enter__(self) -> Self:
        return self.open()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Releases the connection (reading stops where it is)."""
        if self._iterator is not None:
            close = getattr(self._iterator, "close", None)
            if close is not None:
                close()
        if self._closer is not None:
            self._closer()
            self._closer = None
        elif self.response is not None:
            self.response.close()

    def iter_batches(self) -> Iterator[list[Event]]:
        """Yields the events of each network read as one list (empty reads are skipped)."""
        if self._iterator is None:
            self._iterator = self._batches()
        return self._iterator

    def __iter__(self) -> Iterator[Event]:
        for batch in self.iter_batches():
            yield from batch

    def until_done(self) -> Self:
        """Reads the whole stream, dropping the events; returns self (raises like iteration)."""
        for _ in self.iter_batches():
            pass
        return self

    def _batches(self) -> Iterator[list[Event]]:
        self.open()
        chunks = self._chunks
        if chunks is None:
            raise RuntimeError("this stream has no source")
        try:
            if self._first:
                events = self._feed(self._first)
                if events:
                    yield events
            while True:
                try:
                    chunk = next(chunks)
                except StopIteration:
                    break
                except (httpx.TransportError, httpx.StreamError) as exc:
                    self._on_read_error(exc)
                    break
                except Exception as exc:
                    # Other HTTP stacks (the openai SDK's httpx fork) raise their own classes.
                    if _is_timeout(exc) or _is_transport(exc):
                        self._on_read_error(exc)
                        break
                    raise
                if chunk:
                    events = self._feed(chunk)
                    if events:
                        yield events
            tail = self._finish()
            if tail:
                yield tail
        finally:
            if self._closer is not None:
                self._closer()
                self._closer = None
            elif self.response is not None:
                self.response.close()
        error = self._outcome()
        if error is not None:
            raise error


class AsyncChatStream(_StreamBase):
    """Async twin of ``ChatStream``: ``async with``, ``async for``, ``aiter_batches()``."""

    def __init__(
        self,
        accumulator: StreamAccumulator,
        *,
        opener: Callable[[AsyncChatStream], Any] | None = None,
        chunks: AsyncIterator[bytes] | None = None,
        closer: Callable[[], Any] | None = None,
        secret: _Secret | None = None,
        stall_timeout: float | None = None,
    ) -> None:
        super().__init__(accumulator, secret=secret)
        self._opener = opener
        self._chunks = chunks
        self._first = b""
        self._closer = closer
        self._stall = stall_timeout
        self._iterator: AsyncIterator[list[Event]] | None = None

    @classmethod
    def from_response(cls, response: Any, **accumulator_options: Any) -> AsyncChatStream:
        """Async twin of ``ChatStream.from_response``: an ``openai`` ``AsyncOpenAI`` streaming
        response, an ``httpx.Response`` from an ``AsyncClient``, or an async iterable of bytes."""
        acc = StreamAccumulator(**accumulator_options)
        close = getattr(response, "aclose", None) or getattr(response, "close", None)
        return cls(acc, chunks=_araw_chunks(response), closer=close if callable(close) else None)

    def _stall_timeout(self) -> float:
        return self._stall or 0.0

    async def open(self) -> Self:
        """Sends the request (with retries) and waits for the first body byte; idempotent."""
        if self._chunks is None and self._opener is not None:
            self.response, self._chunks, self._first = await self._opener(self)
        return self

    async def __aenter__(self) -> Self:
        return await self.open()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Releases the connection (reading stops where it is)."""
        if self._iterator is not None:
            aclose = getattr(self._iterator, "aclose", None)
            if aclose is not None:
                await aclose()
        await self._release()

    async def _release(self) -> None:
        chunks_close = getattr(self._chunks, "aclose", None)
        if chunks_close is not None:
            self._chunks = None
            await chunks_close()
        if self._closer is not None:
            closer, self._closer = self._closer, None
            result = closer()
            if hasattr(result, "__await__"):
                await result
        elif self.response is not None:
            await self.response.aclose()

    def aiter_batches(self) -> AsyncIterator[list[Event]]:
        """Yields the events of each network read as one list (empty reads are skipped)."""
        if self._iterator is None:
            self._iterator = self._batches()
        return self._iterator

    async def __aiter__(self) -> AsyncIterator[Event]:
        async for batch in self.aiter_batches():
            for event in batch:
                yield event

    async def until_done(self) -> Self:
        """Reads the whole stream, dropping the events; returns self (raises like iteration)."""
        async for _ in self.aiter_batches():
            pass
        return self

    async def _batches(self) -> AsyncIterator[list[Event]]:
        await self.open()
        chunks = self._chunks
        if chunks is None:
            raise RuntimeError("this stream has no source")
        try:
            if self._first:
                events = self._feed(self._first)
                if events:
                    yield events
            while True:
                try:
                    chunk = await anext(chunks)
                except StopAsyncIteration:
                    break
                except (httpx.TransportError, httpx.StreamError) as exc:
                    self._on_read_error(exc)
                    break
                except Exception as exc:
                    if _is_timeout(exc) or _is_transport(exc):
                        self._on_read_error(exc)
                        break
                    raise
                if chunk:
                    events = self._feed(chunk)
                    if events:
                        yield events
            tail = self._finish()
            if tail:
                yield tail
        finally:
            await self._release()
        error = self._outcome()
        if error is not None:
            raise error


def _is_timeout(exc: BaseException) -> bool:
    return any(cls.__name__ in ("TimeoutException", "ReadTimeout") for cls in type(exc).__mro__)


def _is_transport(exc: BaseException) -> bool:
    return any(cls.__name__ in ("TransportError", "StreamError") for cls in type(exc).__mro__)


# -- clients -----------------------------------------------------------------------------------


class _ClientBase:
    """Configuration, request building, retry policy and error mapping shared by both clients."""

    def __init__(
        self,
        *,
        base_url: str | None,
        api_key: str | None,
        connect_timeout: float | None,
        read_timeout: float | None,
        write_timeout: float | None,
        stall_timeout: float | None,
        max_retries: int,
        backoff: float,
        max_backoff: float,
        max_retry_after: float,
        include_usage: bool,
        headers: Mapping[str, str] | None,
        accumulator_options: Mapping[str, Any] | None,
    ) -> None:
        url = base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL
        self.base_url = url.rstrip("/")
        self._secret = _Secret(
            api_key if api_key is not None else os.environ.get("OPENAI_API_KEY", "")
        )
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.write_timeout = write_timeout
        self.stall_timeout = stall_timeout
        self.max_retries = max(0, max_retries)
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.max_retry_after = max_retry_after
        self.include_usage = include_usage
        self._extra_headers = dict(headers or {})
        self.accumulator_options = dict(accumulator_options or {})
        # Flipped off when the server rejects stream_options (some OpenAI-compatible ones do).
        self._stream_options_ok = True

    @property
    def has_api_key(self) -> bool:
        """Whether an API key is configured (the key itself is never exposed)."""
        return bool(self._secret.get())

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r}, api_key={self._secret!r})"

    def _trust_env(self, trust_env: bool | None) -> bool:
        """httpx's ``trust_env`` (proxy variables, netrc): on, except for a loopback base URL,
        where an HTTP(S)_PROXY meant for the internet would only break a local server."""
        if trust_env is not None:
            return trust_env
        host = httpx.URL(self.base_url).host
        return not (host in ("localhost", "::1") or host.startswith("127."))

    def _timeout(self) -> httpx.Timeout:
        return httpx.Timeout(
            connect=self.connect_timeout,
            read=self.read_timeout,
            write=self.write_timeout,
            pool=self.connect_timeout,
        )

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "text/event-stream", "User-Agent": f"toolwire/{__version__}"}
        headers.update(self._extra_headers)
        if self._secret.get():
            headers["Authorization"] = f"Bearer {self._secret.get()}"
        return headers

    def _body(
        self,
        model: str,
        messages: Sequence[Mapping[str, Any]],
        tools: Tools | None,
        params: Mapping[str, Any],
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": model,
            "messages": list(messages),
            **params,
            "stream": True,
        }
        if tools is not None:
            schemas = tools.schemas() if hasattr(tools, "schemas") else list(tools)
            if schemas:
                body["tools"] = schemas
        if self.include_usage and self._stream_options_ok:
            options = dict(body.get("stream_options") or {})
            options.setdefault("include_usage", True)
            body["stream_options"] = options
        return body

    def _url(self) -> str:
        return self.base_url + "/chat/completions"

    def _status_error(self, response: httpx.Response, data: bytes) -> APIStatusError:
        body = _decode_body(data)
        status = response.status_code
        text = _error_text(body, response.reason_phrase or "error")
        where = f"POST {self._url()}"
        if status in (401, 403):
            hint = (
                " (check the API key: api_key= or OPENAI_API_KEY, and the base URL: base_url= or "
                f"OPENAI_BASE_URL, now {self.base_url})"
            )
            if not self._secret.get():
                hint = (
                    " (no API key is set: pass api_key= or set OPENAI_API_KEY; base URL "
                    + self.base_url
                    + ")"
                )
            return AuthenticationError(
                _redact(f"HTTP {status} from {where}: {text}{hint}", self._secret),
                status_code=status,
                body=body,
                headers=response.headers,
            )
        message = _redact(f"HTTP {status} from {where}: {text}", self._secret)
        if status == 429:
            return RateLimitError(
                message,
                status_code=status,
                body=body,
                headers=response.headers,
                retry_after=_parse_retry_after(response.headers),
            )
        return APIStatusError(message, status_code=status, body=body, headers=response.headers)

    def _rejects_stream_options(self, err: APIStatusError, body: Mapping[str, Any]) -> bool:
        return (
            err.status_code in (400, 422)
            and "stream_options" in body
            and "stream_options" in json.dumps(err.body)
            and self._stream_options_ok
        )

    def _transport_error(self, exc: Exception, *, first_byte: bool = False) -> APIConnectionError:
        detail = _redact(f"{type(exc).__name__}: {exc}", self._secret)
        where = f"POST {_origin(self.base_url)}"
        if isinstance(exc, httpx.TimeoutException):
            what = (
                "no first byte of the body within the stall timeout" if first_byte else "timed out"
            )
            return APITimeoutError(f"{where}: {what} ({detail})")
        return APIConnectionError(f"{where}: connection failed ({detail})")

    def _retry_delay(self, attempt: int, error: APIError) -> float | None:
        """Seconds to wait before retry number ``attempt + 1``, or None to give up."""
        if attempt >= self.max_retries or not error.retryable:
            return None
        if isinstance(error, APIStatusError):
            if error.status_code not in _RETRY_STATUS:
                return None
            hint = _parse_retry_after(error.headers)
            if hint is not None:
                # Waiting less than the server asked only earns another 429.
                return hint if hint <= self.max_retry_after else None
        delay = min(self.max_backoff, self.backoff * (2.0**attempt))
        return delay * (0.75 + 0.25 * random.random())

    def _log_retry(self, error: APIError, delay: float, attempt: int) -> None:
        logger.info(
            "retrying POST %s in %.2f s after %s (retry %d of %d)",
            _origin(self.base_url),
            delay,
            type(error).__name__,
            attempt + 1,
            self.max_retries,
        )

    def _stall_on(self, response: httpx.Response) -> None:
        # httpcore reads the "timeout" extension when the body starts being read, so this
        # switches from the headers' read timeout to the stall timeout for every body read.
        if self.stall_timeout is not None or self.read_timeout is not None:
            timeouts = response.request.extensions.get("timeout")
            if isinstance(timeouts, dict):
                timeouts["read"] = self.stall_timeout


class Client(_ClientBase):
    """Synchronous client of an OpenAI-compatible ``/chat/completions`` endpoint.

    ``base_url`` and ``api_key`` default to ``OPENAI_BASE_URL`` (else api.openai.com) and
    ``OPENAI_API_KEY``. Timeouts are in seconds (None: no limit). ``max_retries`` retries of
    429, 5xx, connection errors and timeouts, before the first body byte only, waiting
    ``backoff * 2**n`` (capped at ``max_backoff``, jittered) or the server's ``Retry-After``
    (given up when it asks for more than ``max_retry_after``). ``include_usage`` asks for
    ``stream_options.include_usage`` (dropped for good if the server rejects it).
    ``http_client`` lets you bring your own ``httpx.Client`` (not closed by ``close()``);
    ``trust_env`` is httpx's (proxy variables), by default on except for a loopback base URL.
    """

    def __init__(
        self,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        connect_timeout: float | None = 10.0,
        read_timeout: float | None = 600.0,
        write_timeout: float | None = 60.0,
        stall_timeout: float | None = 120.0,
        max_retries: int = 2,
        backoff: float = 0.5,
        max_backoff: float = 8.0,
        max_retry_after: float = 60.0,
        include_usage: bool = True,
        headers: Mapping[str, str] | None = None,
        accumulator_options: Mapping[str, Any] | None = None,
        http_client: httpx.Client | None = None,
        trust_env: bool | None = None,
    ) -> None:
        super().__init__(
            base_url=base_url,
            api_key=api_key,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            write_timeout=write_timeout,
            stall_timeout=stall_timeout,
            max_retries=max_retries,
            backoff=backoff,
            max_backoff=max_backoff,
            max_retry_after=max_retry_after,
            include_usage=include_usage,
            headers=headers,
            accumulator_options=accumulator_options,
        )
        self._owns_http = http_client is None
        self._http = (
            http_client
            if http_client is not None
            else httpx.Client(timeout=self._timeout(), trust_env=self._trust_env(trust_env))
        )

    def close(self) -> None:
        """Closes the connection pool (unless it was passed in)."""
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def stream_chat(
        self,
        *,
        model: str,
        messages: Sequence[Mapping[str, Any]],
        tools: Tools | None = None,
        **params: Any,
    ) -> ChatStream:
        """Starts a streamed chat completion; use the result as a context manager.

        ``tools`` is a ``ToolRegistry`` or a list of tool schemas; ``params`` go into the JSON
        body as they are (``temperature``, ``tool_choice``, ``parallel_tool_calls``, ...).
        Entering the context sends the request and waits for the first byte, with retries;
        it raises ``APIStatusError`` (and subclasses), ``APIConnectionError`` or
        ``APITimeoutError`` when that fails for good.
        """
        acc = StreamAccumulator(**self.accumulator_options)

        def opener(stream: ChatStream) -> tuple[httpx.Response, Iterator[bytes], bytes]:
            return self._open(stream, model, messages, tools, params)

        return ChatStream(acc, opener=opener, secret=self._secret, stall_timeout=self.stall_timeout)

    def _open(
        self,
        stream: ChatStream,
        model: str,
        messages: Sequence[Mapping[str, Any]],
        tools: Tools | None,
        params: Mapping[str, Any],
    ) -> tuple[httpx.Response, Iterator[bytes], bytes]:
        attempt = 0
        while True:
            stream.attempts += 1
            body = self._body(model, messages, tools, params)
            error: APIError
            try:
                request = self._http.build_request(
                    "POST", self._url(), json=body, headers=self._headers(), timeout=self._timeout()
                )
                response = self._http.send(request, stream=True)
            except httpx.TransportError as exc:
                error = self._transport_error(exc)
            else:
                if response.status_code >= 300:
                    try:
                        data = response.read()
                    except httpx.TransportError:
                        data = b""
                    finally:
                        response.close()
                    status_error = self._status_error(response, data)
                    if self._rejects_stream_options(status_error, body):
                        self._stream_options_ok = False
                        logger.info("the server rejects stream_options; asking without it")
                        continue
                    error = status_error
                else:
                    self._stall_on(response)
                    chunks = response.iter_raw()
                    try:
                        first = b""
                        while not first:
                            first = next(chunks)
                    except StopIteration:
                        response.close()
                        error = APIConnectionError(
                            f"POST {_origin(self.base_url)}: empty response body"
                        )
                    except httpx.TransportError as exc:
                        response.close()
                        error = self._transport_error(exc, first_byte=True)
                    else:
                        return response, chunks, first
            delay = self._retry_delay(attempt, error)
            if delay is None:
                raise error
            self._log_retry(error, delay, attempt)
            time.sleep(delay)
            attempt += 1


class AsyncClient(_ClientBase):
    """Asynchronous twin of ``Client`` (same options; ``http_client`` is an
    ``httpx.AsyncClient``). Use ``async with client.stream_chat(...) as stream``."""

    def __init__(
        self,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        connect_timeout: float | None = 10.0,
        read_timeout: float | None = 600.0,
        write_timeout: float | None = 60.0,
        stall_timeout: float | None = 120.0,
        max_retries: int = 2,
        backoff: float = 0.5,
        max_backoff: float = 8.0,
        max_retry_after: float = 60.0,
        include_usage: bool = True,
        headers: Mapping[str, str] | None = None,
        accumulator_options: Mapping[str, Any] | None = None,
        http_client: httpx.AsyncClient | None = None,
        trust_env: bool | None = None,
    ) -> None:
        super().__init__(
            base_url=base_url,
            api_key=api_key,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            write_timeout=write_timeout,
            stall_timeout=stall_timeout,
            max_retries=max_retries,
            backoff=backoff,
            max_backoff=max_backoff,
            max_retry_after=max_retry_after,
            include_usage=include_usage,
            headers=headers,
            accumulator_options=accumulator_options,
        )
        self._owns_http = http_client is None
        self._http = (
            http_client
            if http_client is not None
            else httpx.AsyncClient(timeout=self._timeout(), trust_env=self._trust_env(trust_env))
        )

    async def aclose(self) -> None:
        """Closes the connection pool (unless it was passed in)."""
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def stream_chat(
        self,
        *,
        model: str,
        messages: Sequence[Mapping[str, Any]],
        tools: Tools | None = None,
        **params: Any,
    ) -> AsyncChatStream:
        """Async twin of ``Client.stream_chat``: ``async with client.stream_chat(...) as s``."""
        acc = StreamAccumulator(**self.accumulator_options)

        async def opener(
            stream: AsyncChatStream,
        ) -> tuple[httpx.Response, AsyncIterator[bytes], bytes]:
            return await self._open(stream, model, messages, tools, params)

        return AsyncChatStream(
            acc, opener=opener, secret=self._secret, stall_timeout=self.stall_timeout
        )

    async def _open(
        self,
        stream: AsyncChatStream,
        model: str,
        messages: Sequence[Mapping[str, Any]],
        tools: Tools | None,
        params: Mapping[str, Any],
    ) -> tuple[httpx.Response, AsyncIterator[bytes], bytes]:
        attempt = 0
        while True:
            stream.attempts += 1
            body = self._body(model, messages, tools, params)
            error: APIError
            try:
                request = self._http.build_request(
                    "POST", self._url(), json=body, headers=self._headers(), timeout=self._timeout()
                )
                response = await self._http.send(request, stream=True)
            except httpx.TransportError as exc:
                error = self._transport_error(exc)
            else:
                if response.status_code >= 300:
                    try:
                        data = await response.aread()
                    except httpx.TransportError:
                        data = b""
                    finally:
                        await response.aclose()
                    status_error = self._status_error(response, data)
                    if self._rejects_stream_options(status_error, body):
                        self._stream_options_ok = False
                        logger.info("the server rejects stream_options; asking without it")
                        continue
                    error = status_error
                else:
                    self._stall_on(response)
                    chunks = response.aiter_raw()
                    try:
                        first = b""
                        while not first:
                            first = await anext(chunks)
                    except StopAsyncIteration:
                        await response.aclose()
                        error = APIConnectionError(
                            f"POST {_origin(self.base_url)}: empty response body"
                        )
                    except httpx.TransportError as exc:
                        await response.aclose()
                        error = self._transport_error(exc, first_byte=True)
                    else:
                        return response, chunks, first
            delay = self._retry_delay(attempt, error)
            if delay is None:
                raise error
            self._log_retry(error, delay, attempt)
            await anyio.sleep(delay)
            attempt += 1
