"""Threads, as the package docstring promises them, held where nothing serialises them:
free-threaded CPython (3.14t in .ci/run), where the module declares that it needs no GIL. The
same tests run on every build; with the GIL they check the same promises under a scheduler
that switches threads less often.

- Threads each reading their own streams, of every format, read them exactly as one thread.
- Readers of one accumulator (its events' ``.partial``, its properties) while its owner feeds:
  each value is the one its fragment proved, and a value once returned never changes, however
  the feeder goes on updating the live tree (in place only when nobody else holds a node).
- ``PartialJSON`` values held by the caller never change while the parser goes on.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import sysconfig
import threading
from collections.abc import Callable
from typing import Any

import pytest

import toolwire
from benches import formats
from tests.helpers import reads

FREE_THREADED = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
THREADS = 4


def _in_threads(work: Callable[[int], None], n: int = THREADS) -> None:
    """``work(i)`` on ``n`` threads started together; the first exception is raised here."""
    barrier = threading.Barrier(n)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait()
            work(i)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a thread did not finish"
    if errors:
        raise errors[0]


@pytest.mark.skipif(not FREE_THREADED, reason="a build with the GIL has no GIL to keep off")
def test_importing_toolwire_keeps_the_gil_disabled() -> None:
    # A fresh interpreter: a module without Py_mod_gil would turn the GIL back on, with a
    # RuntimeWarning (an error here).
    code = "import sys, toolwire; sys.exit(1 if sys._is_gil_enabled() else 0)"
    assert subprocess.run([sys.executable, "-W", "error", "-c", code]).returncode == 0


def test_threads_reading_their_own_streams_of_every_format() -> None:
    work = {fmt: formats.get(fmt, 12) for fmt in formats.FORMATS}

    def one_thread(i: int) -> None:
        rng = random.Random(f"own-streams-{i}")
        for _ in range(3):
            for fmt, wl in work.items():
                for body, expected in zip(wl.bodies, wl.expected, strict=True):
                    events = rng.random() < 0.5
                    acc = toolwire.StreamAccumulator(format=fmt, events=events)  # type: ignore[arg-type]
                    cuts = sorted(rng.sample(range(1, len(body)), rng.randint(1, 40)))
                    seen = []
                    for read in reads(body, cuts):
                        seen += acc.feed(read)
                    seen += acc.finish()
                    assert acc.message() == expected, (fmt, i)
                    # The lazy values too, after the stream: each is built from its own prefix.
                    for event in seen:
                        if isinstance(event, toolwire.ToolCallDelta):
                            event.partial  # noqa: B018 - built on access

    _in_threads(one_thread)


def _one_call_stream(records: int) -> tuple[bytes, str]:
    """A chat stream of one call whose arguments grow a list of records, in small fragments."""
    arguments = json.dumps(
        {
            "rows": [
                {"id": i, "name": f"row {i}", "tags": ["a", "b"][: i % 3]} for i in range(records)
            ]
        }
    )
    frames = []
    for at in range(0, len(arguments), 11):
        call: dict[str, Any] = {"index": 0, "function": {"arguments": arguments[at : at + 11]}}
        if at == 0:
            call.update(id="call_1", type="function")
            call["function"]["name"] = "store"
        delta = {"choices": [{"index": 0, "delta": {"tool_calls": [call]}}]}
        frames.append(b"data: " + json.dumps(delta).encode() + b"\n\n")
    frames.append(b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}\n\n')
    frames.append(b"data: [DONE]\n\n")
    return b"".join(frames), arguments


def test_readers_of_one_accumulator_while_its_owner_feeds() -> None:
    body, arguments = _one_call_stream(300)
    acc = toolwire.StreamAccumulator(format="chat")
    deltas: list[toolwire.ToolCallDelta] = []  # appended by the feeder only
    done = threading.Event()
    # Every value a reader got, with its JSON at the time it was returned and the number of
    # fragments it was read after: held to the end, so that the feeder meets held nodes.
    samples: list[tuple[int, Any, str]] = []
    # Fragments read while the feeder goes on (sliced from the growing text when read).
    fragments: list[tuple[int, str]] = []

    def feeder() -> None:
        try:
            for at in range(0, len(body), 97):
                for event in acc.feed(body[at : at + 97]):
                    if isinstance(event, toolwire.ToolCallDelta):
                        deltas.append(event)
            acc.finish()
        finally:
            done.set()

    def reader(i: int) -> None:
        rng = random.Random(i)
        while not done.is_set() or rng.random() < 0.5:
            n = len(deltas)
            if n:
                k = rng.randrange(n)  # the newest and older ones, whose value is built late
                value = deltas[k].partial
                samples.append((k, value, json.dumps(value)))
                fragments.append((k, deltas[k].fragment))
            acc.tool_calls  # noqa: B018 - the properties under the same lock
            acc.finish_reason  # noqa: B018

    def work(i: int) -> None:
        feeder() if i == 0 else reader(i)

    _in_threads(work)
    assert json.loads(acc.message()["tool_calls"][0]["function"]["arguments"]) == json.loads(
        arguments
    )
    assert samples
    prefix = [0]
    for event in deltas:
        prefix.append(prefix[-1] + len(event.fragment))
    assert "".join(event.fragment for event in deltas) == arguments
    for k, fragment in fragments:
        assert fragment == arguments[prefix[k] : prefix[k + 1]], k
    for k, value, dumped in samples:
        assert json.dumps(value) == dumped, "a value changed after it was returned"
        assert value == toolwire.parse_partial(arguments[: prefix[k + 1]]), k


def test_values_held_by_the_caller_never_change() -> None:
    """One parser per thread; each keeps every value it read (so the core may update in place
    only what no caller holds) and checks them all at the end."""
    text = json.dumps({"rows": [{"id": i, "v": [i, str(i), {"k": None}]} for i in range(400)]})

    def one_thread(i: int) -> None:
        parser = toolwire.PartialJSON()
        held: list[tuple[Any, str]] = []
        step = 5 + i
        for at in range(0, len(text), step):
            parser.feed(text[at : at + step])
            if at % (step * 3) == 0:
                value = parser.value()
                held.append((value, json.dumps(value)))
        assert parser.value() == json.loads(text)
        for value, dumped in held:
            assert json.dumps(value) == dumped

    _in_threads(one_thread)
