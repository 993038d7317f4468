"""Incremental, bounded decoding of compressed response bodies (``Content-Encoding``).

The client asks for ``Accept-Encoding: identity``, but proxies and gateways compress event
streams anyway, and the ``openai`` SDK asks for gzip on the responses ``from_response`` reads.
A decoder turns each network read into decoded pieces of at most about ``STEP`` bytes, so a
small body that expands to gigabytes (a compression bomb) never has more than one piece in
memory; the accumulator's line and event limits then stop it. (httpx's decoders return the whole
output of a read at once: 64 KB of gzip can be 64 MB.)

Codings: ``gzip``/``x-gzip`` (several members too), ``deflate`` (zlib-wrapped as RFC 9110 says,
or raw as some servers send it), ``zstd`` when the ``zstandard`` package is installed (as for
httpx), and a list of them (``gzip, gzip``). ``identity`` is no decoder at all.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

try:
    import zstandard
except ImportError:  # pragma: no cover - depends on the environment
    zstandard = None  # type: ignore[assignment]

__all__ = ["STEP", "Decoder", "DecodingError", "UnsupportedEncoding", "decoder_for"]

#: Upper bound (about) of one decoded piece.
STEP = 64 * 1024

# zstandard's decompressobj has no max_length, and one 4-byte RLE block is 128 KB of output,
# so a read goes in slices of this many bytes: one call yields at most about 2 MB.
_ZSTD_SLICE = 64


class DecodingError(Exception):
    """A compressed body that cannot be decoded (corrupt data)."""


class UnsupportedEncoding(ValueError):
    """A ``Content-Encoding`` this module cannot decode; ``coding`` names it."""

    def __init__(self, message: str, coding: str) -> None:
        super().__init__(message)
        self.coding = coding


class Decoder(Protocol):
    """Decodes one body: ``feed`` each network read, then ``finish``; both yield pieces."""

    name: str

    def feed(self, data: bytes) -> Iterator[bytes]: ...

    def finish(self) -> Iterator[bytes]: ...


def _looks_like_zlib(head: bytes) -> bool:
    """RFC 1950 header: deflate method, window <= 32 KB, check bits."""
    return head[0] & 0x0F == 8 and head[0] >> 4 <= 7 and ((head[0] << 8) | head[1]) % 31 == 0


class _ZlibDecoder:
    """gzip (``wbits`` 31, members chained) or deflate (zlib or raw, told by the header)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._gzip = name != "deflate"
        self._obj: Any = None  # the member being decoded; None before one starts
        self._head = b""  # the first byte of a member, when a read ended after it
        self._members = 0
        self._ended = False

    def feed(self, data: bytes) -> Iterator[bytes]:
        return self._run(data)

    def finish(self) -> Iterator[bytes]:
        if self._obj is None and self._head and not self._members:
            raise DecodingError(f"the {self.name} body is truncated")
        return self._run(b"")

    def _start(self, data: bytes) -> bytes | None:
        """Starts a member once its first two bytes are known: returns the bytes to decode,
        or None to wait for more (or when the body has ended)."""
        head = self._head + data
        if len(head) < 2:
            self._head = head
            return None
        self._head = b""
        if not self._gzip:
            self._obj = zlib.decompressobj(15 if _looks_like_zlib(head) else -15)
        elif head[:2] == b"\x1f\x8b" or not self._members:
            self._obj = zlib.decompressobj(31)  # not gzip at all: zlib says so below
        else:
            self._ended = True  # bytes after the last member are ignored, as by gzip and httpx
            return None
        return head

    def _run(self, data: bytes) -> Iterator[bytes]:
        while not self._ended:
            if self._obj is None:
                started = self._start(data)
                if started is None:
                    return
                data = started
            try:
                out = self._obj.decompress(data, STEP)
            except zlib.error as exc:
                raise DecodingError(f"the {self.name} body is corrupt: {exc}") from None
            data = self._obj.unconsumed_tail
            if out:
                yield out
            if self._obj.eof:
                # Concatenated gzip members are one gzip body (RFC 1952 2.2).
                self._members += 1
                data = self._obj.unused_data
                self._obj = None
                self._ended = not self._gzip
            elif not data and len(out) < STEP:
                return  # input used up, no output pending (a full STEP may have more)


class _ZstdDecoder:
    """zstd frames (several in a row too), through ``zstandard``."""

    name = "zstd"

    def __init__(self) -> None:
        assert zstandard is not None
        self._obj: Any = zstandard.ZstdDecompressor().decompressobj()

    def feed(self, data: bytes) -> Iterator[bytes]:
        assert zstandard is not None
        view = memoryview(data)
        out = bytearray()
        for start in range(0, len(view), _ZSTD_SLICE):
            piece: Any = view[start : start + _ZSTD_SLICE]
            while piece:
                try:
                    out += self._obj.decompress(piece)
                except zstandard.ZstdError as exc:
                    raise DecodingError(f"the zstd body is corrupt: {exc}") from None
                piece = b""
                if self._obj.eof:  # frames in a row: each needs a fresh object
                    piece = self._obj.unused_data
                    self._obj = zstandard.ZstdDecompressor().decompressobj()
            if len(out) >= STEP:
                yield bytes(out)
                out.clear()
        if out:
            yield bytes(out)

    def finish(self) -> Iterator[bytes]:
        return iter(())


class _Chain:
    """Several codings, applied in the order they were listed, so decoded in reverse."""

    def __init__(self, decoders: Sequence[Decoder]) -> None:
        self._decoders = list(decoders)
        self.name = ", ".join(d.name for d in reversed(self._decoders))

    def feed(self, data: bytes) -> Iterator[bytes]:
        return self._through(0, self._decoders[0].feed(data))

    def finish(self) -> Iterator[bytes]:
        for i, decoder in enumerate(self._decoders):
            yield from self._through(i, decoder.finish())

    def _through(self, i: int, pieces: Iterator[bytes]) -> Iterator[bytes]:
        if i + 1 == len(self._decoders):
            yield from pieces
            return
        for piece in pieces:
            yield from self._through(i + 1, self._decoders[i + 1].feed(piece))


def _one(coding: str) -> Decoder:
    if coding in ("gzip", "x-gzip", "deflate"):
        return _ZlibDecoder(coding)
    if coding == "zstd":
        if zstandard is None:
            raise UnsupportedEncoding(
                "the body is zstd-compressed and the zstandard package is not installed "
                "(pip install zstandard)",
                coding,
            )
        return _ZstdDecoder()
    raise UnsupportedEncoding(
        f"the body is compressed with {coding!r}, which toolwire cannot "
        "decode (gzip, deflate and zstd are supported)",
        coding,
    )


def decoder_for(content_encoding: str | None) -> Decoder | None:
    """The decoder of a ``Content-Encoding`` header value; None for no compression.

    Raises ``UnsupportedEncoding`` for a coding it cannot decode."""
    if not content_encoding:
        return None
    codings = [c.strip().lower() for c in content_encoding.split(",")]
    codings = [c for c in codings if c and c != "identity"]
    if not codings:
        return None
    decoders = [_one(c) for c in reversed(codings)]
    return decoders[0] if len(decoders) == 1 else _Chain(decoders)
