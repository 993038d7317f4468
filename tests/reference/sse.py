"""Server-sent events decoder: WHATWG event-stream rules, incremental (docs/semantics.md section 1).

Lines are split on the bytes CR, LF and CRLF before UTF-8 decoding (a CRLF split across two
reads is one line break; U+2028/U+2029/U+0085 are not line breaks). One leading BOM is dropped.
At ``finish()`` an unterminated last line is processed and a pending event with data is
dispatched (the documented deviation from WHATWG).

Errors follow section 8: a read is processed to its end, then the first error is raised with
``.events`` holding every event that read produced.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .errors import RefLimitExceeded, RefParseError

__all__ = ["DEFAULT_LIMIT", "SSEDecoder", "SSEEvent"]

DEFAULT_LIMIT = 16 * 1024 * 1024
_BOM = b"\xef\xbb\xbf"
_EOL = re.compile(rb"[\r\n]")
_CR, _LF = 0x0D, 0x0A


@dataclass(frozen=True)
class SSEEvent:
    event: str
    data: str
    id: str | None = None
    # Stream byte offset of the first byte of the event's first data value (not compared).
    data_offset: int = field(default=0, compare=False)


class SSEDecoder:
    """Incremental decoder: ``feed(bytes) -> list[SSEEvent]``, then ``finish()``.

    ``max_line_bytes``: a longer line raises ``RefLimitExceeded`` and is skipped (nothing of it
    is kept). ``max_event_bytes``: an event whose data (the dispatched text, in UTF-8 bytes)
    grows past it raises ``RefLimitExceeded`` and is dropped up to its closing blank line.
    """

    def __init__(
        self, *, max_line_bytes: int = DEFAULT_LIMIT, max_event_bytes: int = DEFAULT_LIMIT
    ) -> None:
        self.max_line_bytes = max_line_bytes
        self.max_event_bytes = max_event_bytes
        self.retry: int | None = None
        self._offset = 0  # stream offset of the next byte fed
        self._head: bytearray | None = bytearray()  # first bytes, until the BOM is decided
        self._line = bytearray()  # unterminated line
        self._line_start = 0
        self._skipping = False  # inside an over-long line
        self._skip_lf = False  # the last read ended with CR
        self._data: list[str] = []
        self._data_size = 0
        self._data_offset = 0
        self._event_type = ""
        self._event_dropped = False
        self._last_id: str | None = None
        self._finished = False

    # -- public API ---------------------------------------------------------------------
    def feed(self, data: bytes) -> list[SSEEvent]:
        return _raise_first(self.decode(data))

    def finish(self) -> list[SSEEvent]:
        return _raise_first(self.decode(b"", final=True))

    # -- core -----------------------------------------------------------------------------
    def decode(self, data: bytes, final: bool = False) -> list[SSEEvent | Exception]:
        """Decode one read; return its events and errors in stream order (nothing raised)."""
        if self._finished:
            return []
        out: list[SSEEvent | Exception] = []
        data = bytes(data)
        self._offset += len(data)
        if self._head is not None:
            self._head += data
            if len(self._head) < len(_BOM) and _BOM.startswith(self._head) and not final:
                return out
            data = bytes(self._head)
            self._head = None
            data = data.removeprefix(_BOM)
        base = self._offset - len(data)  # stream offset of data[0]
        pos = 0
        if self._skip_lf and data:
            self._skip_lf = False
            if data[0] == _LF:
                pos = 1
        n = len(data)
        while True:
            m = _EOL.search(data, pos)
            if m is None:
                self._pending(data, pos, base, out)
                break
            end = m.start()
            if data[end] == _CR:
                if end + 1 < n:
                    nxt = end + 2 if data[end + 1] == _LF else end + 1
                else:
                    nxt = end + 1
                    self._skip_lf = True
            else:
                nxt = end + 1
            if self._skipping:
                self._skipping = False
            else:
                if self._line:
                    start = self._line_start
                    self._line += data[pos:end]
                    line = bytes(self._line)
                    self._line = bytearray()
                else:
                    start = base + pos
                    line = data[pos:end]
                if len(line) > self.max_line_bytes:
                    out.append(RefLimitExceeded("max_line_bytes", len(line), self.max_line_bytes))
                else:
                    self._process_line(line, start, out)
            pos = nxt
        if final:
            self._finished = True
            if self._line and not self._skipping:
                line = bytes(self._line)
                self._line = bytearray()
                if _ends_inside_a_character(line):
                    # Cut inside a character of its last line: the event is cut, and dropped.
                    self._data = []
                    self._data_size = 0
                else:
                    self._process_line(line, self._line_start, out)
            self._dispatch(out)
        return out

    def _pending(self, data: bytes, pos: int, base: int, out: list[SSEEvent | Exception]) -> None:
        """Keep the unterminated rest of a read, unless the line is already too long."""
        if pos >= len(data) or self._skipping:
            return
        if not self._line:
            self._line_start = base + pos
        size = len(self._line) + len(data) - pos
        if size > self.max_line_bytes:
            out.append(RefLimitExceeded("max_line_bytes", size, self.max_line_bytes))
            self._line = bytearray()
            self._skipping = True
        else:
            self._line += data[pos:]

    def _process_line(self, raw: bytes, start: int, out: list[SSEEvent | Exception]) -> None:
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            out.append(RefParseError("invalid utf-8", start + exc.start))
            return
        if not line:
            self._dispatch(out)
            return
        if line[0] == ":":
            return
        colon = line.find(":")
        if colon < 0:
            name, value, value_offset = line, "", start + len(raw)
        else:
            name, value = line[:colon], line[colon + 1 :]
            value_offset = start + len(line[:colon].encode("utf-8")) + 1
            if value.startswith(" "):
                value = value[1:]
                value_offset += 1
        if name == "data":
            self._add_data(value, value_offset, out)
        elif name == "event":
            self._event_type = value
        elif name == "id":
            if "\0" not in value:
                self._last_id = value
        elif name == "retry" and value.isascii() and value.isdigit():
            self.retry = int(value)

    def _add_data(self, value: str, offset: int, out: list[SSEEvent | Exception]) -> None:
        if self._event_dropped:
            return
        size = len(value.encode("utf-8"))
        if self._data:
            size += self._data_size + 1  # the "\n" joining it to the previous data line
        else:
            self._data_offset = offset
        if size > self.max_event_bytes:
            out.append(RefLimitExceeded("max_event_bytes", size, self.max_event_bytes))
            self._event_dropped = True
            self._data = []
            self._data_size = 0
            return
        self._data.append(value)
        self._data_size = size

    def _dispatch(self, out: list[SSEEvent | Exception]) -> None:
        if self._data:
            out.append(
                SSEEvent(
                    self._event_type or "message",
                    "\n".join(self._data),
                    self._last_id,
                    self._data_offset,
                )
            )
        self._data = []
        self._data_size = 0
        self._event_type = ""
        self._event_dropped = False


def _ends_inside_a_character(line: bytes) -> bool:
    """Valid UTF-8 but for a character that its last bytes only began."""
    try:
        line.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.reason == "unexpected end of data"
    return False


def _raise_first(items: list[SSEEvent | Exception]) -> list[SSEEvent]:
    events = [item for item in items if isinstance(item, SSEEvent)]
    for item in items:
        if isinstance(item, Exception):
            item.events = events  # type: ignore[attr-defined]
            raise item
    return events
