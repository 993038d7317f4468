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

import base64
import contextlib
import copy
import email.utils
import json
import logging
import math
import random
import re
import socket
import threading
import time
import urllib.parse
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol

import anyio
import httpx

from toolwire._core import LimitExceeded, ParseError, StreamAccumulator, __version__
from toolwire._decoding import Decoder, DecodingError, UnsupportedEncoding, decoder_for
from toolwire._dialects import dialect_for
from toolwire.errors import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    IncompleteStream,
    InvalidAPIKey,
    MalformedStream,
    PoolTimeout,
    RateLimitError,
    StreamDeadlineExceeded,
    StreamError,
    StreamProviderError,
    StreamStalled,
    UnexpectedContentType,
    UnsupportedContentEncoding,
)

if TYPE_CHECKING:
    from typing_extensions import Self

    from toolwire._core import Event

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_LIMITS",
    "AsyncChatStream",
    "AsyncClient",
    "ChatStream",
    "Client",
]

logger = logging.getLogger("toolwire")

DEFAULT_BASE_URL = "https://api.openai.com/v1"
#: The connection pool of a client toolwire creates: httpx's default of 100 connections made
#: the 101st concurrent stream wait for ``pool_timeout`` and fail; openai-python uses these.
DEFAULT_LIMITS = httpx.Limits(max_connections=1000, max_keepalive_connections=100)
_RETRY_STATUS = frozenset({429}) | frozenset(range(500, 600))
#: Media types read as a stream (compared without parameters, in lower case). NDJSON is
#: Ollama's native streaming format.
_STREAM_TYPES = frozenset({"text/event-stream", "application/x-ndjson", "application/ndjson"})
#: How much of a body that is not a stream (an error page, a JSON error) is read for the message.
_HEAD_LIMIT = 64 * 1024
#: Request headers whose values are credentials: checked like the API key, never shown.
_SECRET_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "api-key", "x-api-key", "x-goog-api-key", "cookie"}
)
#: Shorter secrets are not searched for in messages: replacing two letters everywhere would
#: garble every message and hide nothing.
_MIN_SECRET = 4


class _HasSchemas(Protocol):
    def schemas(self) -> list[dict[str, Any]]: ...


Tools = Sequence[Mapping[str, Any]] | _HasSchemas


# -- secrets -----------------------------------------------------------------------------------


def _checked_secret(value: str, source: str, *, allow_space: bool = False) -> str:
    """``value`` without surrounding whitespace; ``InvalidAPIKey`` when what remains has a
    character no HTTP header can carry as a credential. The message never shows the value."""
    value = value.strip()
    for position, char in enumerate(value, 1):
        if "!" <= char <= "~" or (allow_space and char == " "):
            continue
        if char == " ":
            kind = "a space"
        elif char.isascii():
            kind = "a control character"
        else:
            kind = "a non-ASCII character"
        raise InvalidAPIKey(
            f"{source} has {kind} at position {position} of {len(value)} (not shown); an HTTP "
            "header cannot carry it. Whitespace around the key is removed; inside it, it means "
            "the key was read or pasted wrongly"
        )
    return value


def _escapings(text: str) -> set[str]:
    """The ways ``text`` is written inside other text: as is, escaped by ``repr`` of a str or
    of bytes (in both quoting styles), by JSON, and percent-encoded (both hex cases)."""
    both = "'\""  # with both quotes present, repr escapes the single one
    forms = {
        text,
        repr(text)[1:-1],
        repr(text + both)[1:-4],
        ascii(text)[1:-1],
        json.dumps(text)[1:-1],
        json.dumps(text, ensure_ascii=False)[1:-1],
    }
    raw = text.encode("utf-8", "surrogatepass")
    forms |= {repr(raw)[2:-1], repr(raw + both.encode())[2:-4]}
    for quoted in (urllib.parse.quote(text, safe=""), urllib.parse.quote_plus(text, safe="")):
        forms |= {quoted, re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), quoted)}
    return forms


def _secret_forms(secret: str) -> set[str]:
    """Every form of a secret to take out of messages: escaped once and twice (the repr of an
    exception whose message holds a repr, as h11's ``Illegal header value b'...'``)."""
    once = _escapings(secret)
    forms = set(once)
    for form in once:
        forms |= _escapings(form)
    return {form for form in forms if len(form) >= _MIN_SECRET}


class _Secret:
    """Holds the API key (and the other secrets of a client: the base URL's password,
    authentication header values); repr and str never show it, ``redact`` removes every
    form of each secret from a text."""

    __slots__ = ("_forms", "_value")

    def __init__(self, value: str, also: Iterable[str] = ()) -> None:
        self._value = value
        forms: set[str] = set()
        for secret in (value, *also):
            if len(secret) >= _MIN_SECRET:
                forms |= _secret_forms(secret)
        # Longest first, so a form that contains another is replaced whole.
        self._forms = sorted(forms, key=len, reverse=True)

    def get(self) -> str:
        return self._value

    def redact(self, text: str) -> str:
        """``text`` with every form of every secret replaced by ``***``."""
        for form in self._forms:
            if form in text:
                text = text.replace(form, "***")
        return text

    def redact_value(self, value: Any) -> Any:
        """A JSON value with the secrets taken out of its strings (error bodies)."""
        if not self._forms:
            return value
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, list):
            return [self.redact_value(item) for item in value]
        if isinstance(value, dict):
            return {key: self.redact_value(item) for key, item in value.items()}
        return value

    def sanitized(self, exc: BaseException) -> BaseException:
        """``exc`` itself, or a copy whose message has the secrets taken out (to chain as a
        cause: tracebacks print the whole chain)."""
        text = str(exc)
        clean = self.redact(text)
        if clean == text:
            return exc
        try:
            twin = copy.copy(exc)
            twin.args = (clean,)
        except Exception:  # noqa: BLE001 - an exception class that cannot be copied: a stand-in
            return RuntimeError(f"{type(exc).__name__}: {clean}")
        return twin

    def __repr__(self) -> str:
        return "<set>" if self._value else "<unset>"

    __str__ = __repr__


_NO_SECRET = _Secret("")


class _BaseURL:
    """A base URL split for safety: the URL requests go to (without credentials), the Basic
    auth its ``user:password@`` stands for, the form shown in messages, and the secrets."""

    def __init__(self, url: str) -> None:
        self.request = url
        self.display = url
        self.auth: httpx.BasicAuth | None = None
        self.secrets: list[str] = []
        try:
            parsed = httpx.URL(url)
        except (TypeError, ValueError, httpx.InvalidURL):
            # httpx says what is wrong when the request is built; hide what looks like
            # credentials meanwhile.
            userinfo = re.match(r"[^:/?#]*://([^/?#]*)@", url)
            if userinfo:
                self.display = url.replace(userinfo.group(1) + "@", "***@", 1)
                self.secrets = [userinfo.group(1), userinfo.group(1).partition(":")[2]]
            return
        if not parsed.userinfo:
            return
        username, password = parsed.username, parsed.password
        raw_user, _, raw_password = parsed.userinfo.decode("ascii", "replace").partition(":")
        # httpx turns URL userinfo into Basic auth; doing it here keeps the password out of
        # the request URL, which httpx logs ("HTTP Request: POST ...") and errors may show.
        self.auth = httpx.BasicAuth(username, password)
        self.request = str(parsed.copy_with(userinfo=b"")).rstrip("/")
        scheme, _, rest = self.request.partition("://")
        self.display = f"{scheme}://***@{rest}"
        # Without a password, the user name is the credential (https://TOKEN@host).
        self.secrets = [password, raw_password] if password else [username, raw_user]
        pair = f"{username}:{password}".encode()
        self.secrets.append(base64.b64encode(pair).decode("ascii"))


def _display_url(url: str) -> str:
    """``url`` with its credentials (``user:password@``) shown as ``***@``."""
    return _BaseURL(url).display


def _request_url(response: httpx.Response) -> str:
    """The URL a response answered, without its query (a key may be there) or credentials."""
    return _display_url(str(response.request.url.copy_with(query=None)))


# -- response checks ---------------------------------------------------------------------------


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


def _media_type(headers: Mapping[str, str]) -> str | None:
    """The ``Content-Type`` without parameters, in lower case; None when absent or empty."""
    value = headers.get("content-type") or ""
    media = value.split(";", 1)[0].strip().lower()
    return media or None


def _is_stream_type(media: str | None) -> bool:
    # No content type at all is read as a stream: many local servers send none.
    return media is None or media in _STREAM_TYPES


def _html_summary(text: str) -> str:
    title = re.search(r"<title[^>]*>(.*?)</title>", text, re.IGNORECASE | re.DOTALL)
    if title and title.group(1).strip():
        return " ".join(title.group(1).split())[:200]
    plain = " ".join(re.sub(r"<[^>]*>", " ", text).split())
    return plain[:200] or "an empty page"


def _content_type_error(
    media: str, status: int, headers: Mapping[str, str], data: bytes, where: str, secret: _Secret
) -> UnexpectedContentType:
    """The error of a 2xx response whose body (``data``, its start) is not a stream."""
    body = _decode_body(data)
    if isinstance(body, dict) and (
        body.get("object") == "chat.completion"
        or (isinstance(body.get("choices"), list) and "error" not in body)
    ):
        detail = (
            'the server sent a complete non-streaming completion: it ignored "stream": true '
            "(check that the endpoint supports streaming)"
        )
    elif isinstance(body, (dict, list)):
        detail = f"the provider says: {_error_text(body, json.dumps(body)[:200])}"
    elif "html" in media or body.lstrip()[:1] == "<":
        detail = f"an HTML page, likely from a proxy or gateway: {_html_summary(body)}"
    else:
        detail = _error_text(body, "an empty body")
    return UnexpectedContentType(
        secret.redact(
            f"{where}: HTTP {status} with Content-Type {media!r} instead of an event stream: "
            f"{detail}"
        ),
        content_type=media,
        status_code=status,
        body=secret.redact_value(body),
        headers=headers,
    )


def _decoder_of(headers: Mapping[str, str], where: str, secret: _Secret) -> Decoder | None:
    """The decoder of the body's ``Content-Encoding``; ``UnsupportedContentEncoding`` when
    there is none for it."""
    try:
        return decoder_for(headers.get("content-encoding"))
    except UnsupportedEncoding as exc:
        error = UnsupportedContentEncoding(
            secret.redact(f"{where}: {exc} (toolwire asks for Accept-Encoding: identity)"),
            content_encoding=exc.coding,
            headers=headers,
        )
    raise error  # outside the except block: no chained context in the traceback


def _feed_head(decoder: Decoder | None, raw: bytes, out: bytearray) -> bool:
    """Adds a read to ``out``, decoded; True once ``out`` holds ``_HEAD_LIMIT`` bytes."""
    for piece in decoder.feed(raw) if decoder is not None else (raw,):
        out += piece
        if len(out) >= _HEAD_LIMIT:
            return True
    return False


def _head_decoder(headers: Mapping[str, str]) -> Decoder | None:
    try:
        return decoder_for(headers.get("content-encoding"))
    except UnsupportedEncoding:
        return None  # the raw bytes then; the message is about the content type anyway


def _read_head(chunks: Iterable[bytes], headers: Mapping[str, str]) -> bytes:
    """The first ``_HEAD_LIMIT`` decoded bytes of a body (an error page may be huge)."""
    decoder = _head_decoder(headers)
    out = bytearray()
    try:
        for raw in chunks:
            if _feed_head(decoder, raw, out):
                break
    except (httpx.TransportError, httpx.StreamError, DecodingError):
        pass  # what arrived is enough to report
    except Exception as exc:
        if not (_is_timeout(exc) or _is_transport(exc)):
            raise
    return bytes(out[:_HEAD_LIMIT])


async def _aread_head(chunks: AsyncIterator[bytes], headers: Mapping[str, str]) -> bytes:
    """Async twin of ``_read_head``."""
    decoder = _head_decoder(headers)
    out = bytearray()
    try:
        async for raw in chunks:
            if _feed_head(decoder, raw, out):
                break
    except (httpx.TransportError, httpx.StreamError, DecodingError):
        pass
    except Exception as exc:
        if not (_is_timeout(exc) or _is_transport(exc)):
            raise
    return bytes(out[:_HEAD_LIMIT])


def _socket_of(response: Any) -> socket.socket | None:
    """The socket under an httpx response (httpcore's ``network_stream``), if any."""
    extensions = getattr(response, "extensions", None)
    stream = extensions.get("network_stream") if isinstance(extensions, Mapping) else None
    get_info = getattr(stream, "get_extra_info", None)
    sock = get_info("socket") if callable(get_info) else None
    return sock if isinstance(sock, socket.socket) else None


def _finite(seconds: float | None) -> float | None:
    return seconds if seconds is not None and math.isfinite(seconds) else None


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
    ) -> None:
        self.accumulator = accumulator
        self.response: Any = None
        #: Bytes off the wire (before decoding a compressed body).
        self.bytes_received = 0
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
            return self.accumulator.feed(data)
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
            return list(exc.events)

    def _take(self, chunk: bytes) -> Iterator[list[Event]]:
        """Feeds one network read (decoded first when compressed); yields the events of each
        decoded piece (one list per read when not compressed)."""
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
        if tail:
            yield tail

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
    ) -> None:
        super().__init__(accumulator, secret=secret, stall_timeout=stall_timeout, deadline=deadline)
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
        return stream

    def open(self) -> Self:
        """Sends the request (with retries) and waits for the first body byte; idempotent."""
        if self._chunks is None and self._opener is not None:
            self._start_clock()
            self.response, self._chunks, self._first = self._opener(self)
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
                    yield from self._take(chunk)
            yield from self._take_end()
        finally:
            self._disarm_watchdog()
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
        deadline: float | None = None,
    ) -> None:
        super().__init__(accumulator, secret=secret, stall_timeout=stall_timeout, deadline=deadline)
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
        return stream

    async def open(self) -> Self:
        """Sends the request (with retries) and waits for the first body byte; idempotent."""
        if self._chunks is None and self._opener is not None:
            self._start_clock()
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
                except (httpx.TransportError, httpx.StreamError) as exc:
                    self._on_read_error(exc)
                    break
                except Exception as exc:
                    if _is_timeout(exc) or _is_transport(exc):
                        self._on_read_error(exc)
                        break
                    raise
                if chunk is None:
                    break
                if chunk:
                    for events in self._take(chunk):
                        yield events
            for events in self._take_end():
                yield events
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
    ) -> None:
        has_http_client = http_client is not None
        if limits is not None and has_http_client:
            raise ValueError(
                "limits= sizes the pool of the httpx client toolwire creates; with "
                "http_client=, set the limits on that client instead"
            )
        self._dialect = dialect_for(api)
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
        if status in (401, 403):
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
    loopback base URL.
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
