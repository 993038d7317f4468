"""Newline-delimited JSON framing: bytes -> lines, incremental (docs/drafts/ollama.md, O1).

A line ends at LF; a CR before it stays in the line (JSON whitespace, so ``\\r\\n`` needs no rule
of its own). One leading UTF-8 BOM is dropped. A line longer than ``max_line_bytes`` (its bytes
before the LF) raises ``RefLimitExceeded`` and is skipped without being buffered. At
``finish()`` the unterminated rest is returned as a last line marked ``final``. Decoding UTF-8
and JSON is the reader's business (``ollama.py``), so that the lines after the end marker are
not even decoded.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import RefLimitExceeded
from .sse import DEFAULT_LIMIT

__all__ = ["NDJSONLine", "NDJSONSplitter"]

_BOM = b"\xef\xbb\xbf"
_LF = b"\n"


@dataclass(frozen=True)
class NDJSONLine:
    data: bytes  # the line without its LF
    offset: int  # stream byte offset of its first byte
    final: bool = False  # the unterminated rest at finish()


class NDJSONSplitter:
    """``decode(bytes, final=False) -> [NDJSONLine | RefLimitExceeded]`` in stream order."""

    def __init__(self, *, max_line_bytes: int = DEFAULT_LIMIT) -> None:
        self.max_line_bytes = max_line_bytes
        self._offset = 0  # stream offset of the next byte fed
        self._head: bytearray | None = bytearray()  # first bytes, until the BOM is decided
        self._line = bytearray()  # unterminated line
        self._line_start = 0
        self._skipping = False  # inside an over-long line
        self._finished = False

    def decode(self, data: bytes, final: bool = False) -> list[NDJSONLine | Exception]:
        if self._finished:
            return []
        out: list[NDJSONLine | Exception] = []
        data = bytes(data)
        self._offset += len(data)
        if self._head is not None:
            self._head += data
            if len(self._head) < len(_BOM) and _BOM.startswith(self._head) and not final:
                return out
            data = bytes(self._head).removeprefix(_BOM)
            self._head = None
        base = self._offset - len(data)  # stream offset of data[0]
        pos = 0
        while True:
            end = data.find(_LF, pos)
            if end < 0:
                break
            if self._skipping:
                self._skipping = False
            else:
                if self._line:
                    start = self._line_start
                    line = bytes(self._line) + data[pos:end]
                    self._line = bytearray()
                else:
                    start, line = base + pos, data[pos:end]
                if len(line) > self.max_line_bytes:
                    out.append(RefLimitExceeded("max_line_bytes", len(line), self.max_line_bytes))
                else:
                    out.append(NDJSONLine(line, start))
            pos = end + 1
        if pos < len(data) and not self._skipping:
            if not self._line:
                self._line_start = base + pos
            size = len(self._line) + len(data) - pos
            if size > self.max_line_bytes:
                out.append(RefLimitExceeded("max_line_bytes", size, self.max_line_bytes))
                self._line = bytearray()
                self._skipping = True
            else:
                self._line += data[pos:]
        if final:
            self._finished = True
            if self._line and not self._skipping:
                out.append(NDJSONLine(bytes(self._line), self._line_start, final=True))
            self._line = bytearray()
        return out
