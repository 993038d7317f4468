"""The streams a client opens (``ChatStream``, ``AsyncChatStream``): network reads fed to one
``StreamAccumulator``, stall and deadline watches, and the error a faulted stream ends with."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any

import anyio
import httpx

from toolwire._bodies import (
    _aread_head,
    _content_type_error,
    _decoder_of,
    _finite,
    _is_stream_type,
    _is_timeout,
    _is_transport,
    _media_type,
    _origin,
    _read_head,
)
from toolwire._core import LimitExceeded, ParseError, StreamAccumulator
from toolwire._decoding import Decoder, DecodingError
from toolwire._metrics.probe import StreamProbe
from toolwire._secrets import _NO_SECRET, _Secret
from toolwire.errors import (
    IncompleteStream,
    MalformedStream,
    StreamDeadlineExceeded,
    StreamError,
    StreamProviderError,
    StreamStalled,
    UnexpectedContentType,
)

if TYPE_CHECKING:
    from typing_extensions import Self

    from toolwire._core import Event

logger = logging.getLogger("toolwire")


def _socket_of(response: Any) -> socket.socket | None:
    """The socket under an httpx response (httpcore's ``network_stream``), if any."""
    extensions = getattr(response, "extensions", None)
    stream = extensions.get("network_stream") if isinstance(extensions, Mapping) else None
    get_info = getattr(stream, "get_extra_info", None)
    sock = get_info("socket") if callable(get_info) else None
    return sock if isinstance(sock, socket.socket) else None


# -- streams -----------------------------------------------------------------------------------


class _StreamBase:
    """What the sync and async streams share: the accumulator, decoding, the deadline, the
    outcome and the error."""

    def __init__(
        self,
        accumulator: StreamAccumulator,
        *,
        secret: _Secret | None = None,
        stall_timeout: float | None = None,
        deadline: float | None = None,
        probe: StreamProbe | None = None,
    ) -> None:
        self.accumulator = accumulator
        self.response: Any = None
        #: Bytes off the wire (before decoding a compressed body).
        self.bytes_received = 0
        #: Events parsed so far (counted per read, for ``toolwire.metrics``).
        self.events_parsed = 0
        # Statistics and telemetry (None: nothing observes); it keeps the clock readings.
        # Few attributes on purpose: past 30, CPython 3.11+ stops sharing the instance dict's
        # keys and every attribute read of the read loop gets slower (measured: +10% on
        # 64-byte reads with 30 attributes).
        self._probe = probe
        self.attempts = 0
        self._secret = secret or _NO_SECRET
        self._stall = stall_timeout
        self._deadline = _finite(deadline)
        self._deadline_at: float | None = None
        self._deadline_hit = False
        self._decoder: Decoder | None = None
        self._fault: BaseException | None = None
        self._stalled = False
        self._cut: BaseException | None = None
        # Reading ended early on purpose: a size limit or a decoding error in a compressed body.
        self._stop = False
        # from_response: the headers to check before reading, and what to call the response.
        self._source_headers: Mapping[str, str] | None = None
        self._source_status = 200
        self._where = "the response"

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

    # the deadline

    def _start_clock(self) -> None:
        if self._deadline is not None and self._deadline_at is None:
            self._deadline_at = time.monotonic() + self._deadline

    def _remaining(self) -> float | None:
        """Seconds left before the deadline (negative once past), or None without one."""
        return None if self._deadline_at is None else self._deadline_at - time.monotonic()

    def _deadline_passed(self) -> bool:
        remaining = self._remaining()
        # A read timeout capped at the deadline may fire a hair early.
        return self._deadline_hit or (remaining is not None and remaining <= 0.01)

    def _past_deadline(self) -> bool:
        """Whether reading must stop for the deadline (checked after every read)."""
        if not self._deadline_hit and self._deadline_passed() and not self.accumulator.done:
            self._deadline_hit = True
        return self._deadline_hit

    # from_response

    def _adopt(self, response: Any) -> None:
        """Keeps what ``from_response`` needs of a response: headers, status, origin."""
        http = getattr(response, "http_response", None) or response
        headers = getattr(http, "headers", None)
        self._source_headers = headers if isinstance(headers, Mapping) else None
        status = getattr(http, "status_code", 200)
        self._source_status = status if isinstance(status, int) else 200
        # No request attached (httpx raises RuntimeError), or not httpx: no "where".
        with contextlib.suppress(Exception):
            request = http.request
            self._where = f"{request.method} {_origin(request.url)}"

    def _observe_source(self) -> None:
        """A ``from_response`` stream counts in the process-wide ``Stats`` from now on (the
        request was sent by someone else: its clock starts here)."""
        self._probe = StreamProbe.make(True, False)
        if self._probe is not None:
            self._probe.start(self)

    def _source_media(self) -> str | None:
        """The media type of a ``from_response`` response that is not a stream, else None;
        sets the decoder of a stream (``UnsupportedContentEncoding`` when there is none)."""
        headers = self._source_headers
        if headers is None:
            return None
        media = _media_type(headers)
        if not _is_stream_type(media):
            return media
        self._decoder = _decoder_of(headers, self._where, self._secret)
        return None

    def _source_error(self, media: str, data: bytes) -> UnexpectedContentType:
        headers = self._source_headers or {}
        return _content_type_error(
            media, self._source_status, headers, data, self._where, self._secret
        )

    # feeding

    def _feed(self, data: bytes) -> list[Event]:
        try:
            events = self.accumulator.feed(data)
        except (ParseError, LimitExceeded) as exc:
            # The core processed the whole read before raising; keep reading, report at the end.
            if self._fault is None:
                self._fault = exc
            if isinstance(exc, ParseError) and exc.kind == "unknown format":
                self._stop = True  # nothing more of this body will be read
            if isinstance(exc, LimitExceeded) and self._decoder is not None:
                # Past a size limit, a compressed body may be a bomb: what follows costs
                # decompression time the sender does not pay for. Stop here.
                self._stop = True
            events = list(exc.events)
        self._count(events)
        return events

    def _count(self, events: list[Event]) -> None:
        """Counts parsed events; the first ones are the stream's first chunk for the probe."""
        if events:
            if not self.events_parsed and self._probe is not None:
                self._probe.first_chunk()
            self.events_parsed += len(events)

    def _take(self, chunk: bytes) -> Iterator[list[Event]]:
        """Feeds one network read (decoded first when compressed); yields the events of each
        decoded piece (one list per read when not compressed)."""
        if not self.bytes_received and self._probe is not None:
            self._probe.first_read(self, chunk)
        self.bytes_received += len(chunk)
        decoder = self._decoder
        if decoder is None:
            events = self._feed(chunk)
            if events:
                yield events
            return
        try:
            for piece in decoder.feed(chunk):
                events = self._feed(piece)
                if events:
                    yield events
                if self._stop:
                    return
        except DecodingError as exc:
            self._decoding_failed(exc)

    def _take_end(self) -> Iterator[list[Event]]:
        """The end of the body: the decoder's last pieces, then the accumulator's finish."""
        if self._decoder is not None and not self._stop:
            try:
                for piece in self._decoder.finish():
                    events = self._feed(piece)
                    if events:
                        yield events
            except DecodingError as exc:
                self._decoding_failed(exc)
        try:
            tail = self.accumulator.finish()
        except (ParseError, LimitExceeded) as exc:
            if self._fault is None:
                self._fault = exc
            tail = list(exc.events)
        self._count(tail)
        if tail:
            yield tail

    def _ended(self, error: BaseException | None) -> None:
        """The stream is over (``error``: how it failed); tells the probe, once."""
        if self._probe is not None:
            self._probe.end(self, error)

    def _decoding_failed(self, exc: DecodingError) -> None:
        if self._fault is None:
            self._fault = exc
        self._stop = True  # a corrupt compressed stream cannot be resynchronised

    def _outcome(self) -> StreamError | None:
        """The error the ended stream deserves, if any (most telling first)."""
        acc = self.accumulator
        partial = acc.message()
        redact = self._secret.redact
        provider = acc.error
        if provider is not None:
            text = redact(f"the server sent an error inside the stream: {provider.message}")
            return StreamProviderError(
                text, error=provider, partial_message=partial, accumulator=acc
            )
        if self._deadline_hit and acc.truncated:
            deadline = self._deadline or 0.0
            return StreamDeadlineExceeded(
                f"the stream's deadline of {deadline:g} s passed after {self.bytes_received} "
                "bytes (deadline=); a server that trickles bytes or keep-alive comments never "
                "stalls",
                deadline=deadline,
                partial_message=partial,
                accumulator=acc,
            )
        if self._deadline_hit:
            return None  # everything had arrived; the cut was the deadline watchdog's
        if self._stalled:
            return StreamStalled(
                f"the stream stalled: no byte for {self._stall or 0.0:g} s "
                f"after {self.bytes_received} bytes",
                partial_message=partial,
                accumulator=acc,
            )
        fault = self._fault
        if fault is not None and (self._stop or (self._cut is None and not acc.truncated)):
            where = ""
            if self._stop and self._decoder is not None:
                where = f" (in the {self._decoder.name}-decoded body; reading stopped there)"
            err = MalformedStream(
                redact(f"the stream could not be read: {type(fault).__name__}: {fault}{where}"),
                partial_message=partial,
                accumulator=acc,
            )
            err.__cause__ = self._secret.sanitized(fault)
            return err
        if self._cut is not None or acc.truncated:
            why = f" ({type(self._cut).__name__}: {redact(str(self._cut))})" if self._cut else ""
            return IncompleteStream(
                "the stream ended before its end ([DONE] or a finish reason) "
                f"after {self.bytes_received} bytes{why}",
                partial_message=partial,
                accumulator=acc,
            )
        return None

    def _ends_body(self, exc: Exception) -> bool:
        """Whether a read error ends the body (a cut, a stall, the deadline: recorded, raised
        typed once the events parsed are out) rather than propagating as it is."""
        # Other HTTP stacks (the SDKs' httpx forks) raise their own classes.
        if (
            isinstance(exc, (httpx.TransportError, httpx.StreamError))
            or _is_timeout(exc)
            or _is_transport(exc)
        ):
            self._on_read_error(exc)
            return True
        return False

    def _on_read_error(self, exc: Exception) -> None:
        if self._deadline_passed():
            self._deadline_hit = True
        elif _is_timeout(exc):
            self._stalled = True
        self._cut = exc


def _source_of(source: Any) -> Any:
    """The object that has ``iter_raw``: an openai SDK response's ``http_response``, or the
    source itself."""
    http_response = getattr(source, "http_response", None)
    return http_response if http_response is not None else source


def _raw_chunks(source: Any) -> Iterator[bytes]:
    """The raw byte reads of an openai SDK response, an httpx response or an iterable."""
    http = _source_of(source)
    if hasattr(http, "iter_raw"):
        return iter(http.iter_raw())
    if isinstance(source, (bytes, bytearray, memoryview, str)):
        raise TypeError("pass an iterable of byte chunks (a list of reads), not one bytes object")
    return iter(source)


def _araw_chunks(source: Any) -> AsyncIterator[bytes]:
    http = _source_of(source)
    if hasattr(http, "aiter_raw"):
        return aiter(http.aiter_raw())
    if hasattr(source, "__aiter__"):
        return aiter(source)
    raise TypeError(f"cannot read an async byte stream from {type(source).__name__}")


class ChatStream(_StreamBase):
    """One streamed chat completion. Use it as a context manager and iterate it for events.

    Iterating yields every event (``TextDelta``, ``ToolCallStarted``, ``ToolCallDelta``,
    ``ToolCallReady``, ``ToolCallFinished``, ``Usage``, ``Finish``, ``ProviderError`` ...);
    ``iter_batches()`` yields them as one list per network read instead (per decoded piece of
    at most 64 KB when the body is compressed). When the body ends badly, iteration raises a
    ``StreamError`` after the last event. Afterwards ``message()``, ``finish_reason``,
    ``usage`` and ``accumulator`` hold the outcome.
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
        deadline: float | None = None,
        probe: StreamProbe | None = None,
    ) -> None:
        super().__init__(
            accumulator,
            secret=secret,
            stall_timeout=stall_timeout,
            deadline=deadline,
            probe=probe,
        )
        self._opener = opener
        self._chunks = chunks
        self._first = b""
        self._closer = closer
        self._iterator: Iterator[list[Event]] | None = None
        self._lock = threading.Lock()
        self._watchdog: threading.Timer | None = None
        self._reading = False

    @classmethod
    def from_response(cls, response: Any, **accumulator_options: Any) -> ChatStream:
        """Reads a stream someone else opened: an ``openai`` SDK response from
        ``with_streaming_response.create(..., stream=True)``, an ``httpx.Response`` opened with
        ``stream=True``, or any iterable of byte chunks. No retries (the request was sent).

        A response with headers is checked first: a body that is not an event stream raises
        ``UnexpectedContentType``, a compressed one is decoded (the SDK asks for gzip).
        ``accumulator_options`` go to ``StreamAccumulator`` (limits)."""
        acc = StreamAccumulator(**accumulator_options)
        close = getattr(response, "close", None)
        stream = cls(acc, chunks=_raw_chunks(response), closer=close if callable(close) else None)
        stream._adopt(response)
        stream._observe_source()
        return stream

    def open(self) -> Self:
        """Sends the request (with retries) and waits for the first body byte; idempotent."""
        if self._chunks is None and self._opener is not None:
            self._start_clock()
            opener, probe = self._opener, self._probe
            if probe is None:
                self.response, self._chunks, self._first = opener(self)
            else:
                self.response, self._chunks, self._first = probe.open(self, lambda: opener(self))
            self._arm_watchdog()
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
        self._disarm_watchdog()
        if self._iterator is not None:
            close = getattr(self._iterator, "close", None)
            if close is not None:
                close()
        if self._closer is not None:
            self._closer()
            self._closer = None
        elif self.response is not None:
            self.response.close()
        self._ended(GeneratorExit())  # closed before its end (nothing happens after the end)

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

    # A blocking read cannot be interrupted by a timer, and httpcore reads the read timeout
    # once per body, so the deadline of a sync stream is kept by a timer thread that shuts the
    # socket down (closing it from another thread would not wake the read; shutdown does).

    def _arm_watchdog(self) -> None:
        remaining = self._remaining()
        if remaining is None or self.response is None:
            return
        sock = _socket_of(self.response)
        with self._lock:
            self._reading = True
            timer = threading.Timer(max(0.0, remaining), self._on_deadline, args=(sock,))
            timer.daemon = True
            self._watchdog = timer
        timer.start()

    def _on_deadline(self, sock: socket.socket | None) -> None:
        with self._lock:
            if not self._reading:
                return
            self._deadline_hit = True
            if sock is not None:
                with contextlib.suppress(OSError):
                    socket.socket.shutdown(sock, socket.SHUT_RDWR)

    def _disarm_watchdog(self) -> None:
        with self._lock:
            self._reading = False
            if self._watchdog is not None:
                self._watchdog.cancel()
                self._watchdog = None

    def _batches(self) -> Iterator[list[Event]]:
        self.open()
        chunks = self._chunks
        if chunks is None:
            raise RuntimeError("this stream has no source")
        try:
            media = self._source_media()
            if media is not None:
                raise self._source_error(media, _read_head(chunks, self._source_headers or {}))
            if self._first:
                yield from self._take(self._first)
            while not self._stop and not self._past_deadline():
                try:
                    chunk = next(chunks)
                except StopIteration:
                    break
                except Exception as exc:
                    if self._ends_body(exc):
                        break
                    raise
                if chunk:
                    yield from self._take(chunk)
            yield from self._take_end()
        except BaseException as exc:
            self._ended(exc)
            raise
        finally:
            self._disarm_watchdog()
            if self._closer is not None:
                self._closer()
                self._closer = None
            elif self.response is not None:
                self.response.close()
        error = self._outcome()
        self._ended(error)
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
        deadline: float | None = None,
        probe: StreamProbe | None = None,
    ) -> None:
        super().__init__(
            accumulator,
            secret=secret,
            stall_timeout=stall_timeout,
            deadline=deadline,
            probe=probe,
        )
        self._opener = opener
        self._chunks = chunks
        self._first = b""
        self._closer = closer
        self._iterator: AsyncIterator[list[Event]] | None = None

    @classmethod
    def from_response(cls, response: Any, **accumulator_options: Any) -> AsyncChatStream:
        """Async twin of ``ChatStream.from_response``: an ``openai`` ``AsyncOpenAI`` streaming
        response, an ``httpx.Response`` from an ``AsyncClient``, or an async iterable of bytes."""
        acc = StreamAccumulator(**accumulator_options)
        close = getattr(response, "aclose", None) or getattr(response, "close", None)
        stream = cls(acc, chunks=_araw_chunks(response), closer=close if callable(close) else None)
        stream._adopt(response)
        stream._observe_source()
        return stream

    async def open(self) -> Self:
        """Sends the request (with retries) and waits for the first body byte; idempotent."""
        if self._chunks is None and self._opener is not None:
            self._start_clock()
            opener, probe = self._opener, self._probe
            if probe is None:
                self.response, self._chunks, self._first = await opener(self)
            else:
                opened = await probe.aopen(self, lambda: opener(self))
                self.response, self._chunks, self._first = opened
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
        self._ended(GeneratorExit())  # closed before its end (nothing happens after the end)

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

    async def _next_raw(self, chunks: AsyncIterator[bytes]) -> bytes | None:
        """The next network read; None at the end of the body or at the deadline."""
        remaining = self._remaining()
        if remaining is None:
            try:
                return await anext(chunks)
            except StopAsyncIteration:
                return None
        with anyio.move_on_after(max(0.0, remaining)):
            try:
                return await anext(chunks)
            except StopAsyncIteration:
                return None
        self._deadline_hit = not self.accumulator.done
        return None

    async def _batches(self) -> AsyncIterator[list[Event]]:
        await self.open()
        chunks = self._chunks
        if chunks is None:
            raise RuntimeError("this stream has no source")
        try:
            media = self._source_media()
            if media is not None:
                data = await _aread_head(chunks, self._source_headers or {})
                raise self._source_error(media, data)
            if self._first:
                for events in self._take(self._first):
                    yield events
            while not self._stop and not self._past_deadline():
                try:
                    chunk = await self._next_raw(chunks)
                except Exception as exc:
                    if self._ends_body(exc):
                        break
                    raise
                if chunk is None:
                    break
                if chunk:
                    for events in self._take(chunk):
                        yield events
            for events in self._take_end():
                yield events
        except BaseException as exc:
            self._ended(exc)
            raise
        finally:
            await self._release()
        error = self._outcome()
        self._ended(error)
        if error is not None:
            raise error
