"""Reference Gemini accumulator (``:streamGenerateContent?alt=sse``): json.loads per SSE event.

The oracle the Rust Gemini adapter is held to. It has the public surface of
``ReferenceAccumulator`` (chat.py), reuses its SSE decoding, limits, text/arguments/Ready and
finishing code (it subclasses it) and emits the same event tuples (``chat.EVENT_SHAPES``). Each
event's data is one ``GenerateContentResponse``; there is no end marker. The rules, numbered so
that they can become a docs/semantics.md section (docs/drafts/gemini.md states them):

G1. Framing is SSE (semantics section 1, unchanged). Event types as in chat: an ``error`` event
    is a ``ProviderError`` (its data as JSON when it parses, else the text); other names than
    ``message`` are ignored. Data that is blank is ignored; any other data must be a JSON object,
    else ``ParseError`` "invalid chunk" at the event's first data byte (reading goes on); at
    ``finish()`` a last event cut inside its JSON value is dropped silently (the stream was cut).
G2. A chunk is invalid the same way (``ParseError`` "invalid chunk", the chunk is skipped) when a
    known field has the wrong JSON type or is given twice in its object: ``candidates`` (list),
    a candidate (object: ``index``, ``content``, ``finishReason``), ``content`` (object:
    ``parts``), ``parts`` (list), a part (object: ``text``, ``thought``, ``thoughtSignature``,
    ``functionCall``), ``functionCall`` (object: ``id``, ``name``, ``args``, ``partialArgs``,
    ``willContinue``), ``partialArgs`` (list), a piece (object: ``jsonPath``, ``stringValue``,
    ``numberValue``, ``boolValue``, ``nullValue``, ``willContinue``), ``promptFeedback`` (object:
    ``blockReason``); a field that is null counts as absent, but the elements of ``candidates``,
    ``parts`` and ``partialArgs`` must be objects. A candidate ``index`` that is a number
    outside 0..2**32 makes the chunk invalid (chat's rule); missing, null or another type is 0.
    A chunk with a non-null ``error`` is a ``ProviderError``: ``message`` = ``error.message``
    (else the top-level ``message``, else ``error`` itself when a string, else the JSON text),
    ``code`` = ``error.code``, ``type`` = ``error.status`` (else ``error.type``), ``body`` = the
    object. It sets ``acc.error``; reading goes on.
G3. Order inside a chunk: ``usageMetadata``, then the prompt block (G10), then each candidate in
    list order: its parts in order (G4-G8), then its ``finishReason`` (G9). Unknown fields are
    ignored everywhere (``modelVersion``, ``responseId``, ``safetyRatings``,
    ``groundingMetadata``, ...).
G4. Candidates: ``index`` selects the choice (multiple candidates = multiple choices, choices
    listed in the order first seen; ``max_choices`` counts distinct ones, a candidate past it
    raises ``LimitExceeded`` and is skipped). Once a candidate has its finish reason, its later
    parts are ignored (events and native message alike); its finish reason is never replaced.
G5. Parts. A part whose ``functionCall`` is an object is a call part (G6-G7; its ``text`` is not
    read). Else a part whose ``text`` is a string is a text part: ``thought: true`` (the JSON
    value true) makes it reasoning (``ReasoningDelta``), anything else content (``TextDelta``);
    an empty text emits nothing. Text counts against ``max_content_bytes`` as in chat: a text
    that does not fit is read as ``""``. Every other part (``inlineData``, ``executableCode``,
    ``codeExecutionResult``, ``functionResponse``, ``toolCall``, ``toolResponse``, a part with
    only a ``thoughtSignature``, unknown kinds) emits nothing and is kept for the native message.
G6. Whole calls: a call part whose ``functionCall`` has no ``partialArgs`` list and whose
    ``willContinue`` is not true. If it has a non-empty ``name`` it is a client call, read at
    once: ``ToolCallStarted`` (``id`` = ``functionCall.id`` when a non-empty string, else
    ``call_<ordinal>``; ordinal = the choice's calls so far), then, when ``args`` is not null,
    one ``ToolCallDelta`` with the arguments text and ``ToolCallReady`` when it is complete JSON,
    then ``ToolCallFinished``. The arguments text of an object (or array, number, bool) is its
    compact JSON, of a string the string itself; without ``args`` (or null) the call finishes as
    ``"{}"`` with no Delta and no Ready. A call part without a name is ignored (G7's ``{}`` end
    marker is one) unless it continues a streamed call.
G7. Streamed calls (Vertex ``streamFunctionCallArguments``): a call part whose ``functionCall``
    has a ``partialArgs`` list or ``willContinue: true``. With a non-empty ``name`` it opens a
    new call (Started as in G6); without one it continues the choice's open streamed call (and
    is ignored if there is none). A named call part of any kind first ends the open streamed
    call, if any (as below). The part's pieces are written in order (G8); then, if its
    ``willContinue`` is not true, the call ends. A nameless part that is not streamed (``{}``)
    while a call is open continues it and so ends it. Continuation parts' ``id``, ``name`` and
    ``args`` are not read. Ending a call writes one last fragment that closes what is open (the
    string left open, then every container, innermost first), then ``ToolCallFinished``; a call
    that wrote nothing finishes as ``"{}"``. A finish reason or ``finish()`` finishes an open
    call as it stands, without closing it (error kind ``incomplete``).
G8. Pieces. A piece's value is the first of ``stringValue`` (a string), ``numberValue`` (a number),
    ``boolValue`` (a bool) and ``nullValue`` (present with any value: null) that it has; a piece
    without a value is ignored. Its ``jsonPath`` is ``$`` followed by at least one segment:
    ``.name`` (one or more characters other than ``.`` and ``[``), ``[digits]`` or a quoted name
    ``['...']`` / ``["..."]`` (a backslash before ``\\``, ``'`` or ``"`` stands for that
    character; any other backslash makes the path invalid). The pieces of a call write one JSON
    text, in order, each piece one fragment (a read's are one ``ToolCallDelta``, ``ToolCallReady``
    when the last closing fragment completes it): the first writes ``{``; each piece closes the
    containers that are not on its path (innermost first), opens the missing ones on its path
    (``{`` when the next segment is a name, ``[`` when it is an index, with the key and a comma as
    needed) and writes its value under its last segment. A string piece with ``willContinue: true``
    leaves its string open: the following pieces with the same path and a string value append
    to it, and the first one without ``willContinue`` closes it; a piece at another path closes
    it first. Strings and keys are escaped as ``json.dumps(ensure_ascii=False)`` does (``\\"``,
    ``\\\\``, ``\\n``, ``\\r``, ``\\t``, ``\\b``, ``\\f``, other control characters and lone
    surrogates as ``\\u00XX`` in lowercase hex, everything else as is); numbers are the token as
    sent (this reference re-serialises them: ``json.dumps`` agrees for integers and plain
    decimals); booleans and null as JSON literals. A piece that cannot be written in order (its
    path invalid or ``$`` alone, a name segment where the container is an array or an index
    where it is an object, a key the object already has, an index other than the array's next
    one, a non-string value for the open string's path) stops the call's arguments: one
    ``ParseError`` "invalid chunk" at the event's first data byte per call (raised after the
    read, reading goes on), that piece and every later one are dropped, the end of the call
    closes nothing, and the call finishes with error kind ``incomplete`` whatever text it kept
    (as ``max_arguments_bytes`` does).
G9. ``finishReason`` (a non-empty string) sets the candidate's finish reason as sent (``STOP``,
    ``MAX_TOKENS``, ``SAFETY``, ``MALFORMED_FUNCTION_CALL``, ...) when it has none: every
    unfinished call of the choice is finished (G7), then ``Finish`` is emitted. Reading goes on.
G10. ``promptFeedback.blockReason`` (a non-empty string) in a chunk without candidates (missing,
    null or empty) blocks the prompt: choice 0 gets that finish reason (unless it has one) and
    ``Finish``; the outcome is then ``content_filter`` whatever the reason (``OTHER`` and
    ``BLOCKED_REASON_UNSPECIFIED`` included).
G11. ``usageMetadata`` (an object) becomes ``acc.usage`` as sent (last wins, never merged) and
    emits ``Usage`` when it differs from the current usage as a JSON value (object key order
    ignored; an integer never equals a float, nor a bool a number); Gemini repeats the same
    object on most chunks. Deeper than ``max_depth``: ``LimitExceeded``, dropped. Another JSON
    type counts as absent. ``token_usage``: input = ``promptTokenCount`` +
    ``toolUsePromptTokenCount``, output = ``candidatesTokenCount`` + ``thoughtsTokenCount``,
    total = ``totalTokenCount``.
G12. End. There is no end marker: ``acc.done`` is True while the turn's end is known (at least
    one choice seen and every choice seen has its finish reason: a prompt block counts), and
    reading goes on after it (usage may follow). ``truncated`` (after ``finish()``) = not done.
    ``finish()`` finishes every unfinished call as it stands, choices in the order first seen.
G13. ``message(choice)`` is chat's OpenAI-shaped message (content, ``reasoning_content``,
    ``tool_calls`` in ordinal order with the ids of G6). ``message(choice, native=True)`` is
    ``{"role": "model", "parts": [...]}``, the candidate's parts in order: every part as sent,
    except that (a) a plain text part (no key but ``text`` and ``thought``) is appended to the
    part before it when that one is a plain text part with the same ``thought`` flag (the
    merged part keeps the first one's keys); (b) a plain text part whose text is empty is
    dropped (Vertex rejects empty text); (c) a streamed call is one part, at the place of its
    opening part: that part's keys (``thoughtSignature``...) plus the keys of its continuation
    parts that it lacks, with ``functionCall`` = ``{"id" (when sent), "name", "args"}`` where
    ``args`` is the parsed arguments (while incomplete, the partial value; nothing yet, or past
    ``max_depth``: ``{}``). A part with a ``thoughtSignature`` is never merged with another, nor
    another into it, so every signature stays on the part and the text it came with: Google's
    docs ask not to merge a part that has a signature with one that has none, nor two signed
    parts (the signature of a streamed text usually arrives alone, on a last empty-text part).
    Made-up ids are not added. Text cut by ``max_content_bytes`` is cut here too.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from typing import Any

from . import partial_json
from .chat import (
    _JSON_WS,
    ReferenceAccumulator,
    _bad_index,
    _Call,
    _Choice,
    _depth,
    _DuplicateKeys,
    _index,
    _loads,
    _str,
)
from .errors import RefLimitExceeded, RefParseError
from .sse import SSEEvent

__all__ = ["ReferenceGeminiAccumulator", "args_writer_text", "parse_json_path"]

# Known fields per level: given twice, or of the wrong JSON type, they make the chunk invalid.
_KNOWN = {
    "chunk": frozenset({"candidates", "usageMetadata", "promptFeedback", "error"}),
    "candidate": frozenset({"index", "content", "finishReason"}),
    "content": frozenset({"parts"}),
    "part": frozenset({"text", "thought", "thoughtSignature", "functionCall"}),
    "functionCall": frozenset({"id", "name", "args", "partialArgs", "willContinue"}),
    "piece": frozenset(
        {"jsonPath", "stringValue", "numberValue", "boolValue", "nullValue", "willContinue"}
    ),
    "promptFeedback": frozenset({"blockReason"}),
}
_PLAIN_TEXT_KEYS = frozenset({"text", "thought"})
_SURROGATE = re.compile("[\ud800-\udfff]")


# -- JSON paths and the streamed-arguments writer (G8) ------------------------------------------
def parse_json_path(path: Any) -> list[str | int] | None:
    """``$.a.b[0]['c']`` -> ``["a", "b", 0, "c"]``; None when not in G8's grammar or ``$``."""
    if not isinstance(path, str) or not path.startswith("$"):
        return None
    segments: list[str | int] = []
    i, n = 1, len(path)
    while i < n:
        ch = path[i]
        if ch == ".":
            j = i + 1
            while j < n and path[j] not in ".[":
                j += 1
            if j == i + 1:
                return None
            segments.append(path[i + 1 : j])
            i = j
        elif ch == "[":
            if i + 1 < n and path[i + 1] in "'\"":
                quote = path[i + 1]
                j = i + 2
                name: list[str] = []
                while j < n and path[j] != quote:
                    if path[j] == "\\":
                        if j + 1 >= n or path[j + 1] not in "\\'\"":
                            return None
                        j += 1
                    name.append(path[j])
                    j += 1
                if j + 1 >= n or path[j + 1] != "]":
                    return None
                segments.append("".join(name))
                i = j + 2
            else:
                j = path.find("]", i)
                digits = path[i + 1 : j] if j > 0 else ""
                if not (digits.isascii() and digits.isdigit()):
                    return None
                segments.append(int(digits))
                i = j + 1
        else:
            return None
    return segments or None


def _escape(text: str) -> str:
    """JSON string content as json.dumps(ensure_ascii=False) writes it; lone surrogates as
    ``\\udXXX`` (json.dumps would keep them raw, and they cannot be UTF-8)."""
    out = json.dumps(text, ensure_ascii=False)[1:-1]
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", out)


def _compact(value: Any) -> str:
    """Compact JSON (section 11): tokens re-serialised, lone surrogates escaped."""
    out = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", out)


@dataclass
class _Frame:
    segment: str | int | None  # None for the root object
    is_array: bool
    count: int = 0
    keys: set[str] = field(default_factory=set)


class _ArgsWriter:
    """Writes a call's JSON text from ``partialArgs`` pieces, in order (G8)."""

    def __init__(self) -> None:
        self.stack: list[_Frame] = []  # open containers, root first
        self.open_string: list[str | int] | None = None
        self.stuck = False

    @property
    def started(self) -> bool:
        return bool(self.stack)

    def piece(self, piece: dict[str, Any]) -> str | None:
        """The text this piece writes ("" for a piece without a value); None if unwritable."""
        kind, value = _piece_value(piece)
        if kind is None:
            return ""
        segments = parse_json_path(piece.get("jsonPath"))
        if segments is None:
            return None
        will_continue = piece.get("willContinue") is True
        out: list[str] = []
        if self.open_string is not None and segments == self.open_string:
            if kind != "string":
                return None
            out.append(_escape(value))
            if not will_continue:
                out.append('"')
                self.open_string = None
            return "".join(out)
        if not self._fits(segments):
            return None
        if self.open_string is not None:
            out.append('"')
            self.open_string = None
        if not self.stack:
            out.append("{")
            self.stack.append(_Frame(None, False))
        *containers, leaf = segments
        common = self._common(containers)
        while len(self.stack) > common + 1:
            out.append("]" if self.stack.pop().is_array else "}")
        for i in range(common, len(containers)):
            nxt = containers[i + 1] if i + 1 < len(containers) else leaf
            out.append(self._member(containers[i]))
            is_array = isinstance(nxt, int)
            out.append("[" if is_array else "{")
            self.stack.append(_Frame(containers[i], is_array))
        out.append(self._member(leaf))
        if kind == "string":
            out.append('"' + _escape(value))
            if will_continue:
                self.open_string = segments
            else:
                out.append('"')
        else:
            out.append(value)
        return "".join(out)

    def close(self) -> str:
        """The closing fragment at the end of the call ("" if nothing is open or stuck)."""
        if self.stuck or not self.stack:
            return ""
        out = '"' if self.open_string is not None else ""
        self.open_string = None
        while self.stack:
            out += "]" if self.stack.pop().is_array else "}"
        return out

    # -- helpers ----------------------------------------------------------------------------
    def _common(self, containers: list[str | int]) -> int:
        """How many of ``containers`` are the open containers below the root, in order."""
        common = 0
        for frame, segment in zip(self.stack[1:], containers, strict=False):
            if not _same_segment(frame.segment, segment):
                break
            common += 1
        return common

    def _fits(self, segments: list[str | int]) -> bool:
        """Whether the segments not already open can be added: the first one to its open
        container (a new key, or the array's next index), every later index to a new array
        (index 0)."""
        *containers, _leaf = segments
        common = self._common(containers) if self.stack else 0
        if self.stack:
            parent = self.stack[common]
            is_array, count, keys = parent.is_array, parent.count, parent.keys
        else:
            is_array, count, keys = False, 0, set()  # the root object, still to be written
        first = segments[common]
        if is_array:
            fits = isinstance(first, int) and first == count
        else:
            fits = isinstance(first, str) and first not in keys
        return fits and all(s == 0 for s in segments[common + 1 :] if isinstance(s, int))

    def _member(self, segment: str | int) -> str:
        parent = self.stack[-1]
        out = "," if parent.count else ""
        parent.count += 1
        if isinstance(segment, str):
            parent.keys.add(segment)
            out += '"' + _escape(segment) + '":'
        return out


def _same_segment(a: str | int | None, b: str | int) -> bool:
    return type(a) is type(b) and a == b


def _piece_value(piece: dict[str, Any]) -> tuple[str | None, Any]:
    """(kind, value): kind "string" with the raw string, or "json" with its JSON text."""
    if isinstance(piece.get("stringValue"), str):
        return "string", piece["stringValue"]
    number = piece.get("numberValue")
    if type(number) in (int, float):
        return "json", _compact(number)
    if isinstance(piece.get("boolValue"), bool):
        return "json", "true" if piece["boolValue"] else "false"
    if "nullValue" in piece:
        return "json", "null"
    return None, None


def args_writer_text(pieces: list[dict[str, Any]]) -> str | None:
    """The whole JSON text the pieces of one call write, closed (None if one is unwritable).
    A helper for tests."""
    writer = _ArgsWriter()
    out = []
    for piece in pieces:
        text = writer.piece(piece)
        if text is None:
            return None
        out.append(text)
    out.append(writer.close())
    return "".join(out)


# -- the accumulator ---------------------------------------------------------------------------
@dataclass
class _StreamedPart:
    """The native part of a streamed call (G13 c), rendered on demand."""

    call: _Call | None
    first: dict[str, Any]  # the opening part as sent
    extra: dict[str, Any] = field(default_factory=dict)  # keys of continuation parts


class ReferenceGeminiAccumulator(ReferenceAccumulator):
    """Pure-Python twin of ``toolwire.StreamAccumulator(format="gemini")``."""

    FORMAT = "gemini"
    NORMAL_END = frozenset({"STOP"})
    LENGTH = frozenset({"MAX_TOKENS"})
    CONTENT_FILTER = frozenset(
        {
            # candidate finish reasons
            "SAFETY",
            "RECITATION",
            "BLOCKLIST",
            "PROHIBITED_CONTENT",
            "SPII",
            "IMAGE_SAFETY",
            "IMAGE_PROHIBITED_CONTENT",
            "IMAGE_RECITATION",
            "MODEL_ARMOR",
            # prompt block reasons (G10 makes every prompt block content_filter anyway)
            "JAILBREAK",
        }
    )
    USAGE_KEYS = (
        ("promptTokenCount", "toolUsePromptTokenCount"),
        ("candidatesTokenCount", "thoughtsTokenCount"),
        "totalTokenCount",
    )

    def __init__(self, **limits: Any) -> None:
        super().__init__(**limits)
        self._native: dict[int, list[dict[str, Any] | _StreamedPart]] = {}
        self._open: dict[int, tuple[_Call, _ArgsWriter, _StreamedPart]] = {}
        self._blocked = False
        self._offset = 0  # first data byte of the event being read

    # -- public API -------------------------------------------------------------------------
    def finish(self) -> list[tuple[Any, ...]]:
        if self._finished:
            return []
        self._finished = True
        for item in self._sse.decode(b"", final=True):
            self._handle(item, final=True)
        for state in self._choices_in_order():
            self._open.pop(state.index, None)
            self._finish_calls(state)
        self._truncated = not self._done
        return self._end_read()

    def message(self, choice: int = 0, *, native: bool = False) -> dict[str, Any]:
        if not native:
            return super().message(choice)
        parts = [self._render_part(p) for p in self._native.get(choice, [])]
        return {"role": "model", "parts": parts}

    @property
    def outcome(self) -> str | None:
        outcome = super().outcome
        if self._blocked and outcome not in (None, "error", "cut"):
            return "content_filter"
        return outcome

    # -- chunks (G1-G3) ------------------------------------------------------------------------
    def _handle(self, item: SSEEvent | Exception, final: bool) -> None:
        if isinstance(item, Exception):
            self._errors.append(item)
            return
        if item.event == "error":
            self._provider_error_event(item.data)
            return
        if item.event != "message":
            return
        data = item.data
        if not data.strip(_JSON_WS):
            return
        try:
            obj = _loads(data)
            parsed = True
        except ValueError:
            obj, parsed = None, False
        if not isinstance(obj, dict) or not _valid_chunk(obj):
            if final and not parsed and partial_json.classify(data) == "incomplete":
                return  # G1: the last event was cut inside its JSON value
            self._errors.append(RefParseError("invalid chunk", item.data_offset))
            return
        if obj.get("error") is not None:
            self._gemini_error(obj, data.strip(_JSON_WS))
            return
        self._offset = item.data_offset
        self._chunk(obj)

    def _provider_error_event(self, data: str) -> None:
        try:
            obj = _loads(data)
        except ValueError:
            obj = data  # not JSON: the body is the text, as the core gives it
        if isinstance(obj, dict):
            self._gemini_error(obj, data)
        else:
            self._set_error(data, None, None, obj)

    def _gemini_error(self, obj: dict[str, Any], text: str) -> None:
        err = obj.get("error")
        message: Any = None
        type_: Any = None
        code: Any = None
        if isinstance(err, dict):
            message = _str(err.get("message"))
            if message is None:
                message = _str(obj.get("message"))
            type_ = _str(err.get("status"))
            if type_ is None:
                type_ = _str(err.get("type"))
            code = err.get("code")
        elif isinstance(err, str):
            message = err
        elif err is not None:
            message = json.dumps(err, ensure_ascii=False)
        else:
            message = _str(obj.get("message"))
        self._set_error(text if message is None else message, code, type_, obj)

    def _chunk(self, obj: dict[str, Any]) -> None:
        usage = obj.get("usageMetadata")
        if isinstance(usage, dict):
            if _depth(usage) > self.max_depth:
                self._errors.append(RefLimitExceeded("max_depth", _depth(usage), self.max_depth))
            elif self._usage is None or not _json_equal(usage, self._usage):
                self._usage = usage
                self._emit("Usage", usage)
        candidates = obj.get("candidates") or []
        if not candidates:
            feedback = obj.get("promptFeedback")
            reason = feedback.get("blockReason") if isinstance(feedback, dict) else None
            if isinstance(reason, str) and reason:
                state = self._state(0)
                if state is not None and state.finish_reason is None:
                    self._blocked = True
                    self._finish_choice(state, reason)
        for candidate in candidates:
            index = _index(candidate.get("index"))
            state = self._state(0 if index is None else index)
            if state is None or state.finish_reason is not None:
                continue
            content = candidate.get("content")
            parts = content.get("parts") if isinstance(content, dict) else None
            for part in parts or []:
                self._part(state, part)
            reason = candidate.get("finishReason")
            if isinstance(reason, str) and reason:
                self._finish_choice(state, reason)
        # G12: the end is known while every choice seen has its finish reason.
        states = self._choices.values()
        self._done = bool(states) and all(s.finish_reason is not None for s in states)

    def _state(self, index: int) -> _Choice | None:
        state = self._choices.get(index)
        if state is None:
            if len(self._choices) >= self.max_choices:
                self._errors.append(
                    RefLimitExceeded("max_choices", len(self._choices) + 1, self.max_choices)
                )
                return None
            state = self._choices[index] = _Choice(index)
            self._native[index] = []
        return state

    def _finish_choice(self, state: _Choice, reason: str) -> None:
        """G9: the finish reason, open calls finished as they stand, then Finish."""
        state.finish_reason = reason
        self._open.pop(state.index, None)
        self._finish_calls(state)
        self._emit("Finish", state.index, reason)

    # -- parts (G5-G8) -----------------------------------------------------------------------
    def _part(self, state: _Choice, part: dict[str, Any]) -> None:
        fc = part.get("functionCall")
        if isinstance(fc, dict):
            self._call_part(state, part, fc)
            return
        text = part.get("text")
        native = self._native[state.index]
        if not isinstance(text, str):
            native.append(part)
            return
        kind = "reasoning" if part.get("thought") is True else "content"
        if text and not self._fits(state, kind, text):
            text = ""
        if text:
            if kind == "reasoning":
                state.reasoning.append(text)
                self._emit("ReasoningDelta", state.index, text)
            else:
                state.content.append(text)
                self._emit("TextDelta", state.index, text)
        if not _is_plain_text(part):
            native.append({**part, "text": text})
            return
        if not text:
            return  # G13 b
        last = native[-1] if native else None
        if (
            isinstance(last, dict)
            and _is_plain_text(last)
            and (last.get("thought") is True) == (part.get("thought") is True)
        ):
            last["text"] += text
        else:
            native.append({**part, "text": text})

    def _call_part(self, state: _Choice, part: dict[str, Any], fc: dict[str, Any]) -> None:
        name = fc.get("name")
        named = isinstance(name, str) and bool(name)
        streamed = isinstance(fc.get("partialArgs"), list) or fc.get("willContinue") is True
        opened = self._open.get(state.index)
        if opened is not None and not named:
            call, writer, holder = opened
            for key, value in part.items():
                if key != "functionCall" and key not in holder.first and key not in holder.extra:
                    holder.extra[key] = value
            self._pieces(call, writer, fc)
            if fc.get("willContinue") is not True:
                self._end_streamed(state)
            return
        if opened is not None:
            self._end_streamed(state)
        if not named:
            return  # G6: a nameless call part that continues nothing
        call = self._open_call(state, fc)
        if not streamed:
            self._native[state.index].append(part)
            if call is None:
                return
            args = fc.get("args")
            if args is not None:
                self._arguments(call, args if isinstance(args, str) else _compact(args))
            self._finish_calls(_Choice(state.index, calls=[call]))
            return
        holder = _StreamedPart(call, part)
        if call is None:
            # Past max_tool_calls: the opening part is kept as sent, the rest is not read.
            self._native[state.index].append(part)
            return
        self._native[state.index].append(holder)
        writer = _ArgsWriter()
        self._open[state.index] = (call, writer, holder)
        self._pieces(call, writer, fc)
        if fc.get("willContinue") is not True:
            self._end_streamed(state)

    def _open_call(self, state: _Choice, fc: dict[str, Any]) -> _Call | None:
        call = self._new_call(state, None, legacy=False)
        if call is None:
            return None
        id_ = fc.get("id")
        call.id = id_ if isinstance(id_, str) and id_ else f"call_{call.ordinal}"
        call.type = "function"
        call.name = fc["name"]
        self._emit("ToolCallStarted", call)
        return call

    def _pieces(self, call: _Call, writer: _ArgsWriter, fc: dict[str, Any]) -> None:
        for piece in fc.get("partialArgs") or []:
            if writer.stuck:
                return
            text = writer.piece(piece)
            if text is None:
                writer.stuck = True
                call.over_limit = True  # G8: finishes "incomplete", later fragments dropped
                self._errors.append(
                    RefParseError(
                        "invalid chunk",
                        self._offset,
                        f"partialArgs piece {piece.get('jsonPath')!r} cannot be written in order",
                    )
                )
                return
            self._arguments(call, text)

    def _end_streamed(self, state: _Choice) -> None:
        call, writer, _holder = self._open.pop(state.index)
        self._arguments(call, writer.close())
        self._finish_calls(_Choice(state.index, calls=[call]))
        if writer.stuck:
            call.error_message = "partialArgs could not be written in order"

    # -- native message (G13) ----------------------------------------------------------------
    def _render_part(self, part: dict[str, Any] | _StreamedPart) -> dict[str, Any]:
        if isinstance(part, dict):
            return copy.deepcopy(part)
        out = copy.deepcopy({**part.first, **part.extra})
        first_fc = part.first["functionCall"]
        fc: dict[str, Any] = {}
        if isinstance(first_fc.get("id"), str) and first_fc["id"]:
            fc["id"] = first_fc["id"]
        fc["name"] = first_fc["name"]
        fc["args"] = _native_args(part.call)
        out["functionCall"] = fc
        return out


def _native_args(call: _Call | None) -> Any:
    if call is None or call.too_deep:
        return {}
    if call.finished and call.error_kind is None:
        return call.parsed
    text = call.text
    if not text or partial_json.classify(text) == "malformed":
        return {}
    try:
        value = partial_json.parse_partial(text)
    except ValueError:
        return {}
    return value if value is not None else {}


def _is_plain_text(part: dict[str, Any]) -> bool:
    return isinstance(part.get("text"), str) and set(part) <= _PLAIN_TEXT_KEYS


def _json_equal(a: Any, b: Any) -> bool:
    """G11: equal JSON values; object key order ignored, int != float, bool != number."""
    if isinstance(a, dict) or isinstance(b, dict):
        return (
            isinstance(a, dict)
            and isinstance(b, dict)
            and a.keys() == b.keys()
            and all(_json_equal(a[k], b[k]) for k in a)
        )
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _ok(obj: Any, level: str) -> bool:
    """``obj`` is an object without a duplicated known field of ``level``."""
    if not isinstance(obj, dict):
        return False
    return not (isinstance(obj, _DuplicateKeys) and obj.duplicates & _KNOWN[level])


def _ok_or_null(obj: Any, level: str) -> bool:
    return obj is None or _ok(obj, level)


def _list_or_null(value: Any) -> bool:
    return value is None or isinstance(value, list)


def _valid_chunk(chunk: dict[str, Any]) -> bool:
    """G2: known fields of the wrong JSON type (or given twice) make the chunk invalid."""
    if not _ok(chunk, "chunk") or not _ok_or_null(chunk.get("promptFeedback"), "promptFeedback"):
        return False
    candidates = chunk.get("candidates")
    if not _list_or_null(candidates):
        return False
    for candidate in candidates or []:
        if not _ok(candidate, "candidate") or _bad_index(candidate.get("index")):
            return False
        content = candidate.get("content")
        if not _ok_or_null(content, "content"):
            return False
        parts = content.get("parts") if content else None
        if not _list_or_null(parts):
            return False
        for part in parts or []:
            if not _ok(part, "part"):
                return False
            fc = part.get("functionCall")
            if not _ok_or_null(fc, "functionCall"):
                return False
            pieces = fc.get("partialArgs") if fc else None
            if not _list_or_null(pieces):
                return False
            if not all(_ok(piece, "piece") for piece in pieces or []):
                return False
    return True
