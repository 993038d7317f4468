"""What a response says before its stream is read: the media type, the content encoding, the
error text of a refused request and Retry-After."""

from __future__ import annotations

import email.utils
import json
import logging
import math
import re
import time
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import httpx

from toolwire._decoding import Decoder, DecodingError, UnsupportedEncoding, decoder_for
from toolwire._secrets import _Secret
from toolwire.errors import (
    UnexpectedContentType,
    UnsupportedContentEncoding,
)

if TYPE_CHECKING:
    pass

logger = logging.getLogger("toolwire")
#: Media types read as a stream (compared without parameters, in lower case). NDJSON is
#: Ollama's native streaming format.
_STREAM_TYPES = frozenset({"text/event-stream", "application/x-ndjson", "application/ndjson"})
#: How much of a body that is not a stream (an error page, a JSON error) is read for the message.
_HEAD_LIMIT = 64 * 1024


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


def _finite(seconds: float | None) -> float | None:
    return seconds if seconds is not None and math.isfinite(seconds) else None


def _is_timeout(exc: BaseException) -> bool:
    return any(cls.__name__ in ("TimeoutException", "ReadTimeout") for cls in type(exc).__mro__)


def _is_transport(exc: BaseException) -> bool:
    return any(cls.__name__ in ("TransportError", "StreamError") for cls in type(exc).__mro__)
