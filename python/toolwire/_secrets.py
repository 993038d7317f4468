"""Secrets kept out of every output: the API key and header values checked, the base URL's
credentials split off, and every form of a secret redacted from messages."""

from __future__ import annotations

import base64
import copy
import json
import logging
import re
import urllib.parse
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import httpx

from toolwire.errors import (
    InvalidAPIKey,
)

if TYPE_CHECKING:
    pass

logger = logging.getLogger("toolwire")
#: Request headers whose values are credentials: checked like the API key, never shown.
_SECRET_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "api-key", "x-api-key", "x-goog-api-key", "cookie"}
)
#: Shorter secrets are not searched for in messages: replacing two letters everywhere would
#: garble every message and hide nothing.
_MIN_SECRET = 4


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
