"""A read is scanned with the GIL released: other Python threads run while one thread feeds a
large read (issue: two threads each feeding their own streams use both cores)."""

from __future__ import annotations

import json
import sys
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


def _race(reads: list[bytes], content: str) -> int:
    """Two threads feed their own stream of ``reads`` at once, each having fed its first read
    before they start together; how many reads the slower one had fed when the faster one was
    done. The switch interval is 1 s: CPython itself does not make the GIL change hands."""
    progress = [0, 0]
    seen: list[int] = []
    contents: list[object] = [None, None]
    together = threading.Barrier(2)

    def feed(k: int) -> None:
        acc = StreamAccumulator(events=False)
        acc.feed(reads[0])
        progress[k] += 1
        together.wait()
        for r in reads[1:]:
            acc.feed(r)
            progress[k] += 1
        acc.finish()
        contents[k] = acc.message()["content"]
        seen.append(progress[1 - k])

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1.0)
    try:
        threads = [threading.Thread(target=feed, args=(k,)) for k in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert contents == [content, content]
    return seen[0]


def test_threads_feeding_short_reads_take_turns() -> None:
    """While two threads feed, a short read's scan lets the GIL go (``src/handover.rs``): both
    get on at once. Held for every short read, the GIL would change hands only at the switch
    interval and the first thread would be done before the second fed again. A thread that
    CPython put to sleep waiting for the GIL may still miss every hand-over of a run (the
    feeding thread takes it back sooner than a sleeper wakes; seen about once in six, more
    often on a loaded machine): one of up to eight runs is asked to show both threads feeding.
    With the GIL held for short reads every run shows the slower thread at its first read."""
    body = _body(10_000)  # 1.8 MB in 2 KiB reads: a few milliseconds
    reads = [body[i : i + 2048] for i in range(0, len(body), 2048)]
    both_feeding = len(reads) // 5
    seen: list[int] = []
    for _ in range(8):
        seen.append(_race(reads, "token " * 20 * 10_000))
        if seen[-1] > both_feeding:
            break
    assert seen[-1] > both_feeding, (seen, len(reads))


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
