"""The HTTP clients (``Client``, ``AsyncClient``): configuration, the request of each api (through
its dialect), retries before the first byte and the mapping of errors."""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import anyio
import httpx

from toolwire._bodies import (
    _aread_head,
    _content_type_error,
    _decode_body,
    _decoder_of,
    _error_text,
    _finite,
    _is_stream_type,
    _media_type,
    _origin,
    _parse_retry_after,
    _read_head,
)
from toolwire._core import StreamAccumulator, __version__
from toolwire._dialects import Dialect, dialect_for
from toolwire._metrics.peer import peer_of
from toolwire._metrics.probe import MetricsOption, StreamProbe, TelemetryOption, check_options
from toolwire._secrets import _SECRET_HEADERS, _BaseURL, _checked_secret, _request_url, _Secret
from toolwire._streams import AsyncChatStream, ChatStream, _StreamBase
from toolwire.errors import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    PoolTimeout,
    RateLimitError,
)

if TYPE_CHECKING:
    from typing_extensions import Self


logger = logging.getLogger("toolwire")

#: The chat api's default base URL (each api has its own: ``toolwire._dialects``).
DEFAULT_BASE_URL = Dialect.default_base_url
#: The connection pool of a client toolwire creates: httpx's default of 100 connections made
#: the 101st concurrent stream wait for ``pool_timeout`` and fail; openai-python uses these.
DEFAULT_LIMITS = httpx.Limits(max_connections=1000, max_keepalive_connections=100)
_RETRY_STATUS = frozenset({429}) | frozenset(range(500, 600))


class _HasSchemas(Protocol):
    def schemas(self) -> list[dict[str, Any]]: ...


Tools = Sequence[Mapping[str, Any]] | _HasSchemas


# -- clients -----------------------------------------------------------------------------------


def _capped(seconds: float | None, remaining: float | None) -> float | None:
    """A timeout no longer than the time left before the deadline (at least a millisecond)."""
    if remaining is None:
        return seconds
    if seconds is None:
        return max(remaining, 0.001)
    return max(min(seconds, remaining), 0.001)


def _seconds(value: float | None) -> str:
    return "no limit" if value is None else f"{value:g} s"


_OpenedSync = tuple[httpx.Response, Iterator[bytes], bytes]
_OpenedAsync = tuple[httpx.Response, AsyncIterator[bytes], bytes]


class _ClientBase:
    """Configuration, request building, retry policy and error mapping shared by both clients."""

    def __init__(
        self,
        *,
        api: str = "chat",
        base_url: str | None = None,
        api_key: str | None = None,
        connect_timeout: float | None = 10.0,
        read_timeout: float | None = 600.0,
        write_timeout: float | None = 60.0,
        stall_timeout: float | None = 120.0,
        pool_timeout: float | None = 10.0,
        deadline: float | None = None,
        max_retries: int = 2,
        backoff: float = 0.5,
        max_backoff: float = 8.0,
        max_retry_after: float = 60.0,
        include_usage: bool = True,
        headers: Mapping[str, str] | None = None,
        accumulator_options: Mapping[str, Any] | None = None,
        limits: httpx.Limits | None = None,
        http_client: httpx.Client | httpx.AsyncClient | None = None,
        trust_env: bool | None = None,
        metrics: MetricsOption = True,
        telemetry: TelemetryOption = True,
    ) -> None:
        has_http_client = http_client is not None
        if limits is not None and has_http_client:
            raise ValueError(
                "limits= sizes the pool of the httpx client toolwire creates; with "
                "http_client=, set the limits on that client instead"
            )
        self._dialect = dialect_for(api)
        check_options(metrics, telemetry)
        #: The API spoken: "chat", "responses", "anthropic", "gemini" or "ollama".
        self.api = api
        url = base_url or self._dialect.env_base_url()
        self.base_url = url.rstrip("/")
        self._base = _BaseURL(self.base_url)
        source = "the API key (api_key=)"
        if api_key is None:
            api_key, variable = self._dialect.env_key()
            source = f"the API key in {variable}"
        key = _checked_secret(api_key, source)
        self._extra_headers: dict[str, str] = {}
        header_secrets: list[str] = []
        for name, value in (headers or {}).items():
            if name.lower() in _SECRET_HEADERS:
                value = _checked_secret(value, f"the {name!r} header", allow_space=True)
                header_secrets += [value, value.rpartition(" ")[2]]  # "Bearer <token>"
            self._extra_headers[name] = value
        self._secret = _Secret(key, also=[*self._base.secrets, *header_secrets])
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.write_timeout = write_timeout
        self.stall_timeout = stall_timeout
        self.pool_timeout = pool_timeout
        self.deadline = _finite(deadline)
        #: The pool of the httpx client toolwire made; None when ``http_client`` was given.
        self.limits: httpx.Limits | None = None if has_http_client else limits or DEFAULT_LIMITS
        self.max_retries = max(0, max_retries)
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.max_retry_after = max_retry_after
        self.include_usage = include_usage
        # Streams are read in the api's format, not recognised.
        self.accumulator_options = {
            "format": self._dialect.format,
            **dict(accumulator_options or {}),
        }
        # Flipped off when the server rejects stream_options (some OpenAI-compatible ones do).
        self._stream_options_ok = True
        self._owns_http = http_client is None
        self._http = self._pool(http_client, self._trust_env(trust_env))
        #: Where streams record statistics: True for ``toolwire.metrics.default_stats()``
        #: (looked up per stream), a ``Stats`` of its own, or False for none.
        self.metrics = metrics
        #: OpenTelemetry: True for the process default (``toolwire.telemetry.instrument()``;
        #: none until it is called), a ``toolwire.telemetry.Telemetry``, or False for none.
        self.telemetry = telemetry
        # Provider name, host and port for telemetry (never the URL's credentials or path).
        self._peer = peer_of(api, self._base.request)

    def _probe(self, model: str, params: Mapping[str, Any]) -> StreamProbe | None:
        """The observer of one stream, or None when nothing observes."""
        # The model name goes into span names and attributes: a key pasted there stays out.
        name = self._secret.redact(model) if isinstance(model, str) else None
        return StreamProbe.make(self.metrics, self.telemetry, self._peer, name, params)

    def _pool(self, http_client: object, trust_env: bool) -> httpx.Client | httpx.AsyncClient:
        """The httpx client to send with: the one given, else a new one of ours."""
        raise NotImplementedError

    @property
    def has_api_key(self) -> bool:
        """Whether an API key is configured (the key itself is never exposed)."""
        return bool(self._secret.get())

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(api={self.api!r}, base_url={self._base.display!r}, "
            f"api_key={self._secret!r})"
        )

    def _trust_env(self, trust_env: bool | None) -> bool:
        """httpx's ``trust_env`` (proxy variables, netrc): on, except for a loopback base URL,
        where an HTTP(S)_PROXY meant for the internet would only break a local server."""
        if trust_env is not None:
            return trust_env
        host = httpx.URL(self._base.request).host
        return not (host in ("localhost", "::1") or host.startswith("127."))

    def _timeout(self, remaining: float | None = None) -> httpx.Timeout:
        return httpx.Timeout(
            connect=_capped(self.connect_timeout, remaining),
            read=_capped(self.read_timeout, remaining),
            write=_capped(self.write_timeout, remaining),
            pool=_capped(self.pool_timeout, remaining),
        )

    def _headers(self) -> httpx.Headers:
        headers = httpx.Headers(
            {
                **self._dialect.headers(),
                # A compressed event stream arrives in bursts and needs decoding; toolwire still
                # decodes one if a proxy compresses anyway.
                "Accept-Encoding": "identity",
                "User-Agent": f"toolwire/{__version__}",
            }
        )
        headers.update(self._extra_headers)  # case-insensitive: the caller's value wins
        headers.update(self._dialect.auth(self._secret.get()))
        return headers

    def _send_options(self, http: httpx.Client | httpx.AsyncClient) -> dict[str, Any]:
        # The URL's credentials, unless the httpx client has its own auth (httpx's precedence).
        if self._base.auth is not None and http.auth is None:
            return {"auth": self._base.auth}
        return {}

    def _body(
        self,
        model: str,
        messages: Sequence[Mapping[str, Any]],
        tools: Tools | None,
        params: Mapping[str, Any],
    ) -> dict[str, Any]:
        schemas: Sequence[Mapping[str, Any]] = []
        if tools is not None:
            schemas = tools.schemas() if hasattr(tools, "schemas") else list(tools)
        body = self._dialect.body(model, messages, schemas, params)
        if self._dialect.asks_usage and self.include_usage and self._stream_options_ok:
            options = dict(body.get("stream_options") or {})
            options.setdefault("include_usage", True)
            body["stream_options"] = options
        return body

    def _url(self, model: str) -> str:
        return self._dialect.url(self._base.request, model)

    def _where(self) -> str:
        return f"POST {_origin(self._base.request)}"

    def _deadline_of(self, deadline: float | None) -> float | None:
        return _finite(deadline) if deadline is not None else self.deadline

    def _status_error(self, response: httpx.Response, data: bytes) -> APIStatusError:
        redact = self._secret.redact
        body = self._secret.redact_value(_decode_body(data))
        status = response.status_code
        text = _error_text(body, response.reason_phrase or "error")
        where = f"POST {_request_url(response)}"
        if status in (401, 403) or self._dialect.rejects_key(status, body):
            keys = " or ".join(self._dialect.key_env)
            base_env = f" or {self._dialect.base_url_env}" if self._dialect.base_url_env else ""
            hint = (
                f" (check the API key: api_key= or {keys}, and the base URL: base_url={base_env}, "
                f"now {self._base.display})"
            )
            if not self._secret.get():
                hint = (
                    f" (no API key is set: pass api_key= or set {keys}; base URL "
                    + self._base.display
                    + ")"
                )
            return AuthenticationError(
                redact(f"HTTP {status} from {where}: {text}{hint}"),
                status_code=status,
                body=body,
                headers=response.headers,
            )
        message = redact(f"HTTP {status} from {where}: {text}")
        if status == 429:
            return RateLimitError(
                message,
                status_code=status,
                body=body,
                headers=response.headers,
                retry_after=_parse_retry_after(response.headers),
            )
        return APIStatusError(message, status_code=status, body=body, headers=response.headers)

    def _unexpected(self, response: httpx.Response, media: str, data: bytes) -> APIError:
        return _content_type_error(
            media,
            response.status_code,
            response.headers,
            data,
            f"POST {_request_url(response)}",
            self._secret,
        )

    def _rejects_stream_options(self, err: APIStatusError, body: Mapping[str, Any]) -> bool:
        return (
            err.status_code in (400, 422)
            and "stream_options" in body
            and "stream_options" in json.dumps(err.body)
            and self._stream_options_ok
        )

    def _attempt(
        self,
        stream: _StreamBase,
        model: str,
        messages: Sequence[Mapping[str, Any]],
        tools: Tools | None,
        params: Mapping[str, Any],
    ) -> tuple[httpx.Request, dict[str, Any]]:
        """Counts one more attempt and builds its request (and body); raises the deadline error
        when no time is left."""
        remaining = stream._remaining()
        if remaining is not None and remaining <= 0:
            raise self._deadline_error(stream)
        stream.attempts += 1
        body = self._body(model, messages, tools, params)
        request = self._http.build_request(
            "POST",
            self._url(model),
            json=body,
            headers=self._headers(),
            timeout=self._timeout(remaining),
        )
        return request, body

    def _refused(
        self, response: httpx.Response, data: bytes, body: Mapping[str, Any]
    ) -> APIStatusError | None:
        """A status of 300 or more: the error to retry or raise, or None to ask again at once
        without stream_options."""
        status_error = self._status_error(response, data)
        if self._rejects_stream_options(status_error, body):
            self._stream_options_ok = False
            logger.info("the server rejects stream_options; asking without it")
            return None
        return status_error

    def _wait_before_retry(self, attempt: int, error: APIError, stream: _StreamBase) -> float:
        """Seconds to wait before retrying after ``error``; raises it when giving up."""
        delay = self._retry_delay(attempt, error, stream)
        if delay is None:
            raise error
        self._log_retry(error, delay, attempt)
        return delay

    def _deadline_error(self, stream: _StreamBase, detail: str = "") -> APITimeoutError:
        return APITimeoutError(
            f"{self._where()}: the deadline of {stream._deadline or 0.0:g} s passed before the "
            f"first byte of the body{detail}"
        )

    def _transport_error(
        self, exc: Exception, stream: _StreamBase, *, first_byte: bool = False
    ) -> APIConnectionError:
        detail = self._secret.redact(f"{type(exc).__name__}: {exc}")
        where = self._where()
        if isinstance(exc, httpx.TimeoutException) and stream._deadline_passed():
            return self._deadline_error(stream, f" ({detail})")
        if isinstance(exc, httpx.PoolTimeout):
            return PoolTimeout(self._pool_message(where))
        if isinstance(exc, httpx.TimeoutException):
            what = (
                "no first byte of the body within the stall timeout" if first_byte else "timed out"
            )
            return APITimeoutError(f"{where}: {what} ({detail})")
        return APIConnectionError(f"{where}: connection failed ({detail})")

    def _pool_message(self, where: str) -> str:
        if self.limits is None:
            busy = "every connection of the http_client's pool is busy"
            fix = "give that client larger httpx.Limits"
        else:
            busy = f"all {self.limits.max_connections} connections of the pool are busy"
            fix = "raise the pool with limits=httpx.Limits(max_connections=...)"
        return (
            f"{where}: no free connection within pool_timeout={_seconds(self.pool_timeout)}: "
            f"{busy} (a stream holds its connection until it ends); {fix}, wait longer with "
            "pool_timeout=, or run fewer streams at once"
        )

    def _retry_delay(self, attempt: int, error: APIError, stream: _StreamBase) -> float | None:
        """Seconds to wait before retry number ``attempt + 1``, or None to give up."""
        if attempt >= self.max_retries or not error.retryable:
            return None
        if isinstance(error, PoolTimeout):
            return None  # it waited pool_timeout already, behind streams that are still open
        delay: float
        if isinstance(error, APIStatusError):
            if error.status_code not in _RETRY_STATUS:
                return None
            hint = _parse_retry_after(error.headers)
            if hint is not None and hint > self.max_retry_after:
                return None  # waiting less than the server asked only earns another 429
            delay = hint if hint is not None else self._backoff(attempt)
        else:
            delay = self._backoff(attempt)
        remaining = stream._remaining()
        if remaining is not None and delay >= remaining:
            return None  # the retry could not finish in time: the real error says more
        return delay

    def _backoff(self, attempt: int) -> float:
        delay = min(self.max_backoff, self.backoff * (2.0**attempt))
        return delay * (0.75 + 0.25 * random.random())

    def _log_retry(self, error: APIError, delay: float, attempt: int) -> None:
        logger.info(
            "retrying POST %s in %.2f s after %s (retry %d of %d)",
            _origin(self._base.request),
            delay,
            type(error).__name__,
            attempt + 1,
            self.max_retries,
        )

    def _stall_on(self, response: httpx.Response, stream: _StreamBase) -> None:
        # httpcore reads the "timeout" extension when the body starts being read, so this
        # switches from the headers' read timeout to the stall timeout for every body read
        # (no longer than the deadline leaves).
        remaining = stream._remaining()
        if self.stall_timeout is not None or self.read_timeout is not None or remaining is not None:
            timeouts = response.request.extensions.get("timeout")
            if isinstance(timeouts, dict):
                timeouts["read"] = _capped(self.stall_timeout, remaining)

    def _check_stream(self, response: httpx.Response, stream: _StreamBase) -> str | None:
        """After 2xx headers: the media type when the body is not a stream, else None (and
        the stream's decoder is set; ``UnsupportedContentEncoding`` when there is none)."""
        media = _media_type(response.headers)
        if not _is_stream_type(media):
            return media
        where = f"POST {_request_url(response)}"
        stream._decoder = _decoder_of(response.headers, where, self._secret)
        self._stall_on(response, stream)
        return None


class Client(_ClientBase):
    """Synchronous client of one streaming API: ``api`` is ``"chat"`` (OpenAI Chat Completions
    and compatible servers, the default), ``"responses"`` (OpenAI Responses), ``"anthropic"``
    (Messages), ``"gemini"`` (``streamGenerateContent``) or ``"ollama"`` (``/api/chat``); each
    brings its URL, auth header, request body and tool schema, built from the same OpenAI-chat
    ``messages`` and ``tools``.

    ``base_url`` and ``api_key`` default to the api's environment: ``OPENAI_BASE_URL`` (else
    api.openai.com) and ``OPENAI_API_KEY``; ``ANTHROPIC_BASE_URL`` and ``ANTHROPIC_API_KEY``;
    ``GOOGLE_GEMINI_BASE_URL`` and ``GEMINI_API_KEY`` (or ``GOOGLE_API_KEY``); ``OLLAMA_HOST``
    (else 127.0.0.1:11434, no key). The key is stripped of surrounding whitespace and refused
    (``InvalidAPIKey``) with control or non-ASCII characters inside, and ``user:password@`` in
    the base URL is sent as Basic auth and shown as ``***@``. Timeouts are in seconds (None: no
    limit); ``pool_timeout`` is the wait for a free connection of the pool, which holds
    ``limits`` (default ``DEFAULT_LIMITS``: 1,000 connections) and raises ``PoolTimeout`` when
    exhausted. ``deadline`` bounds the whole stream, retries included (None: no bound; per call
    with ``stream_chat(deadline=)``). ``max_retries`` retries of 429, 5xx, connection errors and
    timeouts, before the first body byte only, waiting ``backoff * 2**n`` (capped at
    ``max_backoff``, jittered) or the server's ``Retry-After`` (given up when it asks for more
    than ``max_retry_after``, or for longer than the deadline leaves). ``include_usage`` asks for
    ``stream_options.include_usage`` (dropped for good if the server rejects it).
    ``http_client`` lets you bring your own ``httpx.Client`` (not closed by ``close()``; size
    its pool yourself); ``trust_env`` is httpx's (proxy variables), by default on except for a
    loopback base URL. ``metrics`` is where streams record statistics (``toolwire.metrics``:
    True for the process-wide ``Stats``, a ``Stats`` of one's own, False for none);
    ``telemetry`` sends OpenTelemetry spans and metrics (``toolwire.telemetry``: True follows
    ``instrument()``, off until it is called; a ``Telemetry``; False for none).
    """

    _http: httpx.Client

    def _pool(self, http_client: object, trust_env: bool) -> httpx.Client:
        if http_client is None:
            return httpx.Client(
                timeout=self._timeout(), trust_env=trust_env, limits=self.limits or DEFAULT_LIMITS
            )
        if not isinstance(http_client, httpx.Client):
            raise TypeError(
                f"Client takes an httpx.Client as http_client, not {type(http_client).__name__} "
                "(an httpx.AsyncClient goes with toolwire.AsyncClient)"
            )
        return http_client

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
        deadline: float | None = None,
        **params: Any,
    ) -> ChatStream:
        """Starts a streamed chat completion; use the result as a context manager.

        ``tools`` is a ``ToolRegistry`` or a list of tool schemas; ``params`` go into the JSON
        body as they are (``temperature``, ``tool_choice``, ``parallel_tool_calls``, ...).
        ``deadline`` (seconds) overrides the client's for this stream (``math.inf``: none).
        Entering the context sends the request and waits for the first byte, with retries;
        it raises ``APIStatusError`` (and subclasses), ``APIConnectionError``,
        ``APITimeoutError`` (``PoolTimeout``), ``UnexpectedContentType`` or
        ``UnsupportedContentEncoding`` when that fails for good.
        """
        acc = StreamAccumulator(**self.accumulator_options)

        def opener(stream: ChatStream) -> _OpenedSync:
            return self._open(stream, model, messages, tools, params)

        return ChatStream(
            acc,
            opener=opener,
            secret=self._secret,
            stall_timeout=self.stall_timeout,
            deadline=self._deadline_of(deadline),
            probe=self._probe(model, params),
        )

    def _open(
        self,
        stream: ChatStream,
        model: str,
        messages: Sequence[Mapping[str, Any]],
        tools: Tools | None,
        params: Mapping[str, Any],
    ) -> _OpenedSync:
        attempt = 0
        while True:
            request, body = self._attempt(stream, model, messages, tools, params)
            error: APIError
            try:
                response = self._http.send(request, stream=True, **self._send_options(self._http))
            except httpx.TransportError as exc:
                error = self._transport_error(exc, stream)
            else:
                try:
                    opened = self._start_body(stream, response, body)
                except BaseException:
                    response.close()
                    raise
                if opened is None:
                    continue  # asked again without stream_options
                if isinstance(opened, tuple):
                    return opened
                error = opened
            time.sleep(self._wait_before_retry(attempt, error, stream))
            attempt += 1

    def _start_body(
        self, stream: ChatStream, response: httpx.Response, body: Mapping[str, Any]
    ) -> _OpenedSync | APIError | None:
        """After the response headers: the opened body, the error to retry or raise, or None
        to ask again at once (without stream_options)."""
        if response.status_code >= 300:
            data = _read_head(response.iter_raw(), response.headers)
            response.close()
            return self._refused(response, data, body)
        media = self._check_stream(response, stream)
        if media is not None:
            data = _read_head(response.iter_raw(), response.headers)
            response.close()
            raise self._unexpected(response, media, data)
        chunks = response.iter_raw()
        try:
            first = b""
            while not first:
                first = next(chunks)
        except StopIteration:
            response.close()
            return APIConnectionError(f"{self._where()}: empty response body")
        except httpx.TransportError as exc:
            response.close()
            return self._transport_error(exc, stream, first_byte=True)
        return response, chunks, first


class AsyncClient(_ClientBase):
    """Asynchronous twin of ``Client`` (same options; ``http_client`` is an
    ``httpx.AsyncClient``). Use ``async with client.stream_chat(...) as stream``."""

    _http: httpx.AsyncClient

    def _pool(self, http_client: object, trust_env: bool) -> httpx.AsyncClient:
        if http_client is None:
            return httpx.AsyncClient(
                timeout=self._timeout(), trust_env=trust_env, limits=self.limits or DEFAULT_LIMITS
            )
        if not isinstance(http_client, httpx.AsyncClient):
            raise TypeError(
                "AsyncClient takes an httpx.AsyncClient as http_client, not "
                f"{type(http_client).__name__} (an httpx.Client goes with toolwire.Client)"
            )
        return http_client

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
        deadline: float | None = None,
        **params: Any,
    ) -> AsyncChatStream:
        """Async twin of ``Client.stream_chat``: ``async with client.stream_chat(...) as s``."""
        acc = StreamAccumulator(**self.accumulator_options)

        async def opener(stream: AsyncChatStream) -> _OpenedAsync:
            return await self._open(stream, model, messages, tools, params)

        return AsyncChatStream(
            acc,
            opener=opener,
            secret=self._secret,
            stall_timeout=self.stall_timeout,
            deadline=self._deadline_of(deadline),
            probe=self._probe(model, params),
        )

    async def _open(
        self,
        stream: AsyncChatStream,
        model: str,
        messages: Sequence[Mapping[str, Any]],
        tools: Tools | None,
        params: Mapping[str, Any],
    ) -> _OpenedAsync:
        attempt = 0
        while True:
            request, body = self._attempt(stream, model, messages, tools, params)
            error: APIError
            try:
                response = await self._http.send(
                    request, stream=True, **self._send_options(self._http)
                )
            except httpx.TransportError as exc:
                error = self._transport_error(exc, stream)
            else:
                try:
                    opened = await self._start_body(stream, response, body)
                except BaseException:
                    with anyio.CancelScope(shield=True):
                        await response.aclose()
                    raise
                if opened is None:
                    continue  # asked again without stream_options
                if isinstance(opened, tuple):
                    return opened
                error = opened
            await anyio.sleep(self._wait_before_retry(attempt, error, stream))
            attempt += 1

    async def _start_body(
        self, stream: AsyncChatStream, response: httpx.Response, body: Mapping[str, Any]
    ) -> _OpenedAsync | APIError | None:
        """Async twin of ``Client._start_body``."""
        if response.status_code >= 300:
            data = await _aread_head(response.aiter_raw(), response.headers)
            await response.aclose()
            return self._refused(response, data, body)
        media = self._check_stream(response, stream)
        if media is not None:
            data = await _aread_head(response.aiter_raw(), response.headers)
            await response.aclose()
            raise self._unexpected(response, media, data)
        chunks = response.aiter_raw()
        try:
            first = b""
            while not first:
                first = await anext(chunks)
        except StopAsyncIteration:
            await response.aclose()
            return APIConnectionError(f"{self._where()}: empty response body")
        except httpx.TransportError as exc:
            await response.aclose()
            return self._transport_error(exc, stream, first_byte=True)
        return response, chunks, first
