"""A read is scanned with the GIL released: other Python threads run while one thread feeds a
large read (issue: two threads each feeding their own streams use both cores)."""

from __future__ import annotations

import json
import threading

from toolwire import StreamAccumulator


def _body(chunks: int) -> bytes:
    delta = {"choices": [{"index": 0, "delta": {"content": "token " * 20}}]}
    line = b"data: " + json.dumps(delta).encode() + b"\n\n"
    return line * chunks + b"data: [DONE]\n\n"


def test_other_threads_run_while_a_large_read_is_scanned() -> None:
    body = _body(100_000)  # ~20 MB (12 MB of text): a scan of tens of milliseconds
    started = threading.Event()
    done = threading.Event()
    ticks = 0

    def feed() -> None:
        acc = StreamAccumulator(events=False)
        started.set()
        try:
            acc.feed(body)
        finally:
            done.set()

    thread = threading.Thread(target=feed)
    thread.start()
    started.wait()
    while not done.is_set():
        ticks += 1  # runs only while the feeding thread does not hold the GIL
    thread.join()
    # Held for the whole scan, the GIL would let this loop run only around the call, a
    # switch interval (5 ms) at most: ~35,000 ticks here, against ~500,000 when released.
    assert ticks > 120_000, ticks


def test_a_short_read_and_the_same_accumulator_from_two_threads() -> None:
    """Feeding one accumulator from two threads at once is refused or serialised, never a
    corrupted state: the lock is taken before the GIL is released."""
    acc = StreamAccumulator(events=False)
    body = _body(20_000)
    half = len(body) // 2
    cut = body.rindex(b"\n\n", 0, half) + 2
    errors: list[BaseException] = []

    def feed(part: bytes) -> None:
        try:
            acc.feed(part)
        except RuntimeError as exc:  # pragma: no cover - depends on timing
            errors.append(exc)

    first = threading.Thread(target=feed, args=(body[:cut],))
    first.start()
    first.join()
    second = threading.Thread(target=feed, args=(body[cut:],))
    second.start()
    second.join()
    acc.finish()
    assert not errors and acc.message()["content"] == "token " * 20 * 20_000
