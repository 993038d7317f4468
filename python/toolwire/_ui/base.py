"""What both UI encoders share: a ``Tracker`` feeding a renderer, server-sent-event framing,
and the loops that encode a whole run (sync, and async with reads batched).

An encoder renders moves into protocol objects (dicts ready for JSON); each object goes out as
one ``data: {json}\\n\\n`` event. The async loop reads the agent in a task of its own and
encodes whatever the task queued since the last write as one batch: the events of one network
read arrive together (the agent yields them without waiting), so their deltas coalesce into
one part per call, while nothing waits for a next read to send what has arrived.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator, Mapping
from typing import Any

import pydantic_core

from toolwire._ui.track import Move, Outcome, Tracker
from toolwire.errors import AgentError, ToolwireError

logger = logging.getLogger("toolwire")

ErrorText = Callable[[BaseException], str]


#: Where an agent error's message turns from what happened to advice for the developer
#: (which runs are in ``err.result``, how to continue): the user is told only the first part.
_DEVELOPER_NOTES = (
    "; tools that ran:",
    "; none of its tool calls ran",
    "; the model had ended the turn",
    "; continue with agent.",
)


def default_error_text(error: BaseException) -> str:
    """What the browser is told about a failed run: toolwire's own errors say what went wrong
    (keys are never in them), without the notes meant for the developer; anything else says
    only that something did, as the AI SDK's default does, and goes to the ``toolwire`` log."""
    if not isinstance(error, ToolwireError):
        return "An error occurred."
    text = str(error)
    if isinstance(error, AgentError):
        cuts = [text.find(note) for note in _DEVELOPER_NOTES if note in text]
        if cuts:
            text = text[: min(cuts)]
    return text


def sse(objects: Iterable[Mapping[str, Any]]) -> bytes:
    """The objects as server-sent events, one ``data:`` line each (compact JSON has no
    newline, so one line always holds one object)."""
    return b"".join(b"data: " + pydantic_core.to_json(obj) + b"\n\n" for obj in objects)


def _batch(events: Any) -> list[object]:
    if isinstance(events, (list, tuple)):
        return list(events)
    if isinstance(events, Iterable) and not isinstance(events, (str, bytes, Mapping)):
        return list(events)
    return [events]


class Encoder:
    """Base of ``VercelEncoder`` and ``AGUIEncoder``: subclasses render moves."""

    #: Response headers of the protocol.
    headers: Mapping[str, str] = {}
    #: The bytes that end a stream (after the last event).
    terminator: bytes = b""

    def __init__(
        self,
        *,
        id_prefix: str | None,
        reserved_ids: Iterable[str],
        error_text: ErrorText | None,
    ) -> None:
        self.tracker = Tracker(id_prefix=id_prefix, reserved=reserved_ids)
        self.error_text: ErrorText = error_text or default_error_text
        self._opened = False

    # -- to implement

    def _opening(self) -> list[dict[str, Any]]:
        raise NotImplementedError

    def _render(self, move: Move) -> list[dict[str, Any]]:
        raise NotImplementedError

    # -- encoding

    def _out(self, moves: list[Move]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        if not self._opened and moves:
            self._opened = True
            out.extend(self._opening())
        for move in moves:
            out.extend(self._render(move))
        return out

    def encode(self, events: Any) -> list[dict[str, Any]]:
        """The protocol objects for the events of one read: a list of events (an agent
        event, a ``StreamAccumulator.feed`` result) or a single event. Deltas of one call in
        one list are sent as one part."""
        return self._out(self.tracker.feed(_batch(events)))

    def error(self, error: BaseException | str) -> list[dict[str, Any]]:
        """The objects that end a failed run: open parts closed, then the error."""
        if isinstance(error, BaseException):
            message = self.error_text(error)
            moves = self.tracker.fail(error, message=message)
        else:
            moves = self.tracker.fail(error)
        return self._out(moves)

    def finish(
        self,
        *,
        outcome: Outcome | str | None = None,
        token_usage: Mapping[str, int] | None = None,
    ) -> list[dict[str, Any]]:
        """The objects that end the message after the last event (nothing once the run's
        ``RunFinished`` or an error ended it). For a plain stream, pass ``acc.outcome`` and
        ``acc.token_usage``."""
        return self._out(self.tracker.end(outcome, token_usage))

    @property
    def done(self) -> bool:
        """Whether the message is over (finished or failed)."""
        return self.tracker.ended

    def sse(self, objects: Iterable[Mapping[str, Any]]) -> bytes:
        """The objects as server-sent events."""
        return sse(objects)

    # -- whole runs

    def _failure(self, error: BaseException) -> bytes:
        if not isinstance(error, ToolwireError):
            logger.error("toolwire.ui: the run raised", exc_info=error)
        return self.sse(self.error(error)) + self.terminator

    def iter_sse(self, events: Iterable[Any]) -> Iterator[bytes]:
        """The whole stream for an event iterable (``agent.stream(...)``): one chunk per event
        that shows anything, the end, and the error if the iterable raised."""
        iterator = iter(events)
        try:
            for event in iterator:
                data = self.sse(self.encode([event]))
                if data:
                    yield data
        except Exception as exc:  # noqa: BLE001 - a failed run is an error event, not a 500
            yield self._failure(exc)
            return
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()
        yield self.sse(self.finish()) + self.terminator

    async def aiter_sse(self, events: AsyncIterable[Any]) -> AsyncIterator[bytes]:
        """The whole stream for an async event iterable (``agent.astream(...)``), one chunk per
        batch of events. Closing or cancelling this iterator cancels the run."""
        queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()

        async def pump() -> None:
            try:
                async for event in events:
                    queue.put_nowait(("event", event))
            except Exception as exc:  # noqa: BLE001 - reported in the stream
                queue.put_nowait(("error", exc))
            else:
                queue.put_nowait(("end", None))

        task = asyncio.ensure_future(pump())
        try:
            while True:
                items = [await queue.get()]
                while not queue.empty():
                    items.append(queue.get_nowait())
                batch = [value for kind, value in items if kind == "event"]
                data = self.sse(self.encode(batch)) if batch else b""
                last_kind, last_value = items[-1]
                if last_kind == "error":
                    yield data + self._failure(last_value)
                    return
                if last_kind == "end":
                    yield data + self.sse(self.finish()) + self.terminator
                    return
                if data:
                    yield data
        finally:
            if not task.done():
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
