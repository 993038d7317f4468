"""Partial JSON, the simple way: recursive descent over the whole prefix (DESIGN.md section 5).

``parse_partial(text)`` is the largest value the prefix ``text`` proves:

- strings are cut at the last complete character; a dangling backslash, an unfinished
  ``\\uXXXX`` and a high-surrogate escape still waiting for its low half all wait;
- a key whose value has not started is left out (so is the key itself while it is unfinished);
- numbers, ``true``, ``false`` and ``null`` appear only once complete; a number is complete only
  when a delimiter follows it, except when the whole document is one number, which is shown as
  soon as it is a valid number token (``"12"`` -> 12, ``"1."`` -> None);
- open arrays and objects are closed;
- the whole valid text gives exactly what ``json.loads`` gives (strict JSON: no NaN/Infinity,
  no raw control characters inside strings, duplicate keys: last wins, lone surrogate escapes
  give lone surrogates).

Invalid text raises ``PartialJSONError`` (a ``ValueError``) with ``.position``, the index (in
characters) of the first character that can never be part of valid JSON.

``classify(text)`` says ``"complete"`` (one whole value, nothing but whitespace after it, and it
cannot grow any more: a top-level number needs a delimiter after it), ``"incomplete"`` (a valid
prefix that is not finished yet) or ``"malformed"``. This is O(len(text)) per call; the
accumulator only calls it at the few moments when a value may have closed.
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["PartialJSONError", "classify", "is_complete", "loads_strict", "parse_partial"]

_WS = " \t\n\r"
_PLAIN_STRING_RUN = re.compile(r'[^"\\\x00-\x1f]*')
_HEX = frozenset("0123456789abcdefABCDEF")
_SIMPLE_ESCAPES = {
    '"': '"',
    "\\": "\\",
    "/": "/",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
}
_LITERALS = {"t": ("true", True), "f": ("false", False), "n": ("null", None)}
_MISSING: Any = object()


class PartialJSONError(ValueError):
    """Text that is not a prefix of any valid JSON document."""

    def __init__(self, msg: str, position: int) -> None:
        super().__init__(f"{msg} at position {position}")
        self.msg = msg
        self.position = position


class _Eof(Exception):
    """The text ended inside a value; ``value`` is what it proves so far (or _MISSING)."""

    def __init__(self, value: Any = _MISSING, number: Any = _MISSING) -> None:
        self.value = value
        # A number token cut by the end of the text, if it is valid as it stands.
        self.number = number


def _reject_constant(name: str) -> Any:
    raise ValueError(f"invalid JSON constant {name}")


def loads_strict(text: str | bytes) -> Any:
    """``json.loads`` without the NaN/Infinity extension (strict JSON)."""
    return json.loads(text, parse_constant=_reject_constant)


class _Parser:
    def __init__(self, text: str) -> None:
        self.s = text
        self.n = len(text)

    def skip_ws(self, i: int) -> int:
        s, n = self.s, self.n
        while i < n and s[i] in _WS:
            i += 1
        return i

    def value(self, i: int) -> tuple[Any, int]:
        """Parse a value starting at i (no leading whitespace). Return (value, end)."""
        if i >= self.n:
            raise _Eof()
        c = self.s[i]
        if c == "{":
            return self.object(i + 1)
        if c == "[":
            return self.array(i + 1)
        if c == '"':
            return self.string(i + 1)
        if c == "-" or "0" <= c <= "9":
            return self.number(i)
        if c in _LITERALS:
            return self.literal(i, *_LITERALS[c])
        raise PartialJSONError("expected value", i)

    def object(self, i: int) -> tuple[dict[str, Any], int]:
        result: dict[str, Any] = {}
        i = self.skip_ws(i)
        if i >= self.n:
            raise _Eof(result)
        if self.s[i] == "}":
            return result, i + 1
        while True:
            if i >= self.n:
                raise _Eof(result)
            if self.s[i] != '"':
                raise PartialJSONError("expected string key", i)
            try:
                key, i = self.string(i + 1)
            except _Eof:
                raise _Eof(result) from None
            i = self.skip_ws(i)
            if i >= self.n:
                raise _Eof(result)
            if self.s[i] != ":":
                raise PartialJSONError("expected ':'", i)
            i = self.skip_ws(i + 1)
            try:
                value, i = self.value(i)
            except _Eof as eof:
                if eof.value is not _MISSING:
                    result[key] = eof.value
                raise _Eof(result) from None
            result[key] = value
            i = self.skip_ws(i)
            if i >= self.n:
                raise _Eof(result)
            c = self.s[i]
            if c == "}":
                return result, i + 1
            if c != ",":
                raise PartialJSONError("expected ',' or '}'", i)
            i = self.skip_ws(i + 1)

    def array(self, i: int) -> tuple[list[Any], int]:
        result: list[Any] = []
        i = self.skip_ws(i)
        if i >= self.n:
            raise _Eof(result)
        if self.s[i] == "]":
            return result, i + 1
        while True:
            try:
                value, i = self.value(i)
            except _Eof as eof:
                if eof.value is not _MISSING:
                    result.append(eof.value)
                raise _Eof(result) from None
            result.append(value)
            i = self.skip_ws(i)
            if i >= self.n:
                raise _Eof(result)
            c = self.s[i]
            if c == "]":
                return result, i + 1
            if c != ",":
                raise PartialJSONError("expected ',' or ']'", i)
            i = self.skip_ws(i + 1)

    def _hex4(self, i: int) -> int | None:
        """The code unit of the 4 hex digits at i; None if the text ends first."""
        s, n = self.s, self.n
        for k in range(i, min(i + 4, n)):
            if s[k] not in _HEX:
                raise PartialJSONError("invalid \\u escape", k)
        if i + 4 > n:
            return None
        return int(s[i : i + 4], 16)

    def string(self, i: int) -> tuple[str, int]:
        """Parse a string body starting after the opening quote."""
        s, n = self.s, self.n
        parts: list[str] = []
        while True:
            m = _PLAIN_STRING_RUN.match(s, i)
            assert m is not None
            parts.append(m.group())
            i = m.end()
            if i >= n:
                raise _Eof("".join(parts))
            c = s[i]
            if c == '"':
                return "".join(parts), i + 1
            if c != "\\":
                raise PartialJSONError("control character in string", i)
            # An escape: it either completes or the whole escape waits.
            if i + 1 >= n:
                raise _Eof("".join(parts))
            e = s[i + 1]
            if e in _SIMPLE_ESCAPES:
                parts.append(_SIMPLE_ESCAPES[e])
                i += 2
                continue
            if e != "u":
                raise PartialJSONError("invalid escape", i + 1)
            unit = self._hex4(i + 2)
            if unit is None:
                raise _Eof("".join(parts))
            i += 6
            if 0xD800 <= unit <= 0xDBFF:
                # A high surrogate pairs with a directly following low surrogate escape
                # (json.loads rule); until we know what follows, it waits.
                if i >= n or (s[i] == "\\" and i + 1 >= n):
                    raise _Eof("".join(parts))
                if s[i] == "\\" and s[i + 1] == "u":
                    low = self._hex4(i + 2)
                    if low is None:
                        raise _Eof("".join(parts))
                    if 0xDC00 <= low <= 0xDFFF:
                        unit = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
                        i += 6
            parts.append(chr(unit))

    def number(self, i: int) -> tuple[int | float, int]:
        s, n = self.s, self.n
        start = i
        if s[i] == "-":
            i += 1
            if i >= n:
                raise _Eof()
            if not "0" <= s[i] <= "9":
                raise PartialJSONError("expected digit", i)
        if s[i] == "0":
            i += 1
        else:
            while i < n and "0" <= s[i] <= "9":
                i += 1
        if i >= n:
            raise _Eof(number=self._number_value(start, i))
        if s[i] == ".":
            i += 1
            if i >= n:
                raise _Eof()
            if not "0" <= s[i] <= "9":
                raise PartialJSONError("expected digit", i)
            while i < n and "0" <= s[i] <= "9":
                i += 1
            if i >= n:
                raise _Eof(number=self._number_value(start, i))
        if s[i] in "eE":
            i += 1
            if i < n and s[i] in "+-":
                i += 1
            if i >= n:
                raise _Eof()
            if not "0" <= s[i] <= "9":
                raise PartialJSONError("expected digit", i)
            while i < n and "0" <= s[i] <= "9":
                i += 1
            if i >= n:
                raise _Eof(number=self._number_value(start, i))
        return self._number_value(start, i), i

    def _number_value(self, start: int, end: int) -> int | float:
        # json.loads' own conversion, so the values (int vs float, rounding) are identical.
        result: int | float = json.loads(self.s[start:end])
        return result

    def literal(self, i: int, word: str, value: Any) -> tuple[Any, int]:
        s = self.s
        for k, expected in enumerate(word):
            if i + k >= self.n:
                raise _Eof()
            if s[i + k] != expected:
                raise PartialJSONError("invalid literal", i + k)
        return value, i + len(word)

    def document(self) -> tuple[str, Any]:
        """Return (state, value) for the whole text; raise PartialJSONError if malformed."""
        i = self.skip_ws(0)
        if i >= self.n:
            return "incomplete", None
        try:
            value, i = self.value(i)
        except _Eof as eof:
            if eof.number is not _MISSING:
                return "incomplete", eof.number
            return "incomplete", None if eof.value is _MISSING else eof.value
        i = self.skip_ws(i)
        if i < self.n:
            raise PartialJSONError("trailing characters", i)
        return "complete", value


def parse_partial(text: str) -> Any:
    """The value proven by the JSON prefix ``text`` (None when nothing is proven yet)."""
    return _Parser(text).document()[1]


def classify(text: str) -> str:
    """``"complete"``, ``"incomplete"`` or ``"malformed"`` for the JSON prefix ``text``."""
    try:
        return _Parser(text).document()[0]
    except PartialJSONError:
        return "malformed"


def is_complete(text: str) -> bool:
    """True when ``text`` is one whole JSON value (trailing whitespace allowed) that cannot grow."""
    return classify(text) == "complete"


def error_position(text: str) -> int | None:
    """Index of the first character that makes ``text`` malformed, or None if it is not."""
    try:
        _Parser(text).document()
    except PartialJSONError as exc:
        return exc.position
    return None
