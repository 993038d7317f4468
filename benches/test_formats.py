"""The format workloads and their SDK peers are honest (benches/formats.py, format_peers.py).

- every event the renderers write validates against the official SDK's own type;
- every SDK peer's final turn equals the truth, in 1-4 KB and 64-byte reads;
- every peer gives exactly what the SDK's public streaming call gives on the same body (the
  call run over a mock HTTP transport), so the gate compares toolwire with the SDKs' own
  pipelines, not with stand-ins;
- toolwire's ``message()`` equals the truth for every format its core reads.
"""

from __future__ import annotations

import json
import typing
from typing import Any

import pytest

from benches import formats
from benches.format_peers import MODULES, PEERS, SDK_STREAMS, toolwire_factory, toolwire_run

PEER_TURNS = 8  # the SDKs take ~10-100 ms per turn


def _sse_data(body: bytes) -> list[dict[str, Any]]:
    out = []
    for block in body.decode().replace("\r\n", "\n").split("\n\n"):
        for line in block.split("\n"):
            if line.startswith("data:"):
                out.append(json.loads(line[5:]))
    return out


def test_renderers_are_deterministic() -> None:
    turn = formats.make_turns(3)[2]
    for fmt in formats.FORMATS:
        assert formats.render(fmt, turn) == formats.render(fmt, turn)
    assert formats.make_turns(5) == formats.make_turns(5)


def test_workload_is_text_and_parallel_calls() -> None:
    turns = formats.make_turns(formats.TURNS)
    assert all(t.content and t.reasoning for t in turns)
    assert sum(len(t.calls) >= 2 for t in turns) >= formats.TURNS // 3
    for fmt in formats.FORMATS:
        sizes = [len(b) for b in formats.get(fmt).bodies]
        assert min(sizes) > 1_000 and max(sizes) < 250_000, (fmt, min(sizes), max(sizes))


def _by_type(union: Any) -> dict[str, Any]:
    """The members of an SDK's discriminated event union, by their ``type`` literal."""
    members = typing.get_args(typing.get_args(union)[0])
    return {
        literal: cls
        for cls in members
        for literal in typing.get_args(cls.model_fields["type"].annotation)
    }


def test_anthropic_events_validate() -> None:
    pytest.importorskip("anthropic")
    from anthropic.types import RawMessageStreamEvent

    classes = _by_type(RawMessageStreamEvent)
    for body in formats.get("anthropic").bodies[:PEER_TURNS]:
        for data in _sse_data(body):
            if data["type"] != "ping":
                classes[data["type"]].model_validate(data)


def test_responses_events_validate() -> None:
    pytest.importorskip("openai")
    from openai.types.responses import ResponseStreamEvent

    classes = _by_type(ResponseStreamEvent)
    for body in formats.get("responses").bodies[:PEER_TURNS]:
        for data in _sse_data(body):
            classes[data["type"]].model_validate(data)


def test_gemini_chunks_validate() -> None:
    pytest.importorskip("google.genai")
    from google.genai import types

    for body in formats.get("gemini").bodies[:PEER_TURNS]:
        assert body.endswith(b"\r\n\r\n")
        for data in _sse_data(body):
            types.GenerateContentResponse.model_validate(data)


def test_ollama_lines_validate() -> None:
    pytest.importorskip("ollama")
    from ollama import ChatResponse

    for body in formats.get("ollama").bodies[:PEER_TURNS]:
        lines = body.decode().splitlines()
        for line in lines:
            ChatResponse.model_validate_json(line)
        assert json.loads(lines[-1])["done"] is True


@pytest.mark.parametrize("read", ["net", "64"])
@pytest.mark.parametrize("fmt", formats.FORMATS)
def test_peer_gives_the_truth(fmt: str, read: str) -> None:
    pytest.importorskip(MODULES[fmt])
    peer = PEERS[fmt]
    wl = formats.get(fmt)
    turns = PEER_TURNS if read == "net" else 2
    for i, reads in enumerate(wl.reads(read)[:turns]):
        assert peer.view(peer.run(reads)) == wl.views[i], (fmt, read, i)


def _comparable(fmt: str, result: Any) -> Any:
    if fmt in ("anthropic", "responses"):
        return result.to_dict()
    return result


@pytest.mark.parametrize("fmt", sorted(SDK_STREAMS))
def test_peer_is_the_sdk_stream(fmt: str) -> None:
    """The peer's result is what the SDK's public streaming call returns on the same bytes."""
    pytest.importorskip(MODULES[fmt])
    pytest.importorskip("httpx2")
    peer = PEERS[fmt]
    wl = formats.get(fmt)
    for i in range(3):
        public = SDK_STREAMS[fmt](wl.bodies[i])
        ours = peer.run(wl.reads("net")[i])
        assert _comparable(fmt, ours) == _comparable(fmt, public), (fmt, i)


@pytest.mark.parametrize("read", ["net", "64"])
@pytest.mark.parametrize("fmt", formats.FORMATS)
def test_toolwire_gives_the_truth(fmt: str, read: str) -> None:
    try:
        factory = toolwire_factory(fmt)
    except ValueError as exc:
        pytest.skip(f"the core does not read {fmt!r} yet: {exc}")
    run = toolwire_run(factory)
    wl = formats.get(fmt)
    for i, reads in enumerate(wl.reads(read)):
        assert run(reads) == wl.expected[i], (fmt, read, i)


@pytest.mark.parametrize("fmt", formats.FORMATS)
def test_toolwire_auto_recognises_the_format(fmt: str) -> None:
    import toolwire

    try:
        toolwire_factory(fmt)
    except ValueError as exc:
        pytest.skip(f"the core does not read {fmt!r} yet: {exc}")
    wl = formats.get(fmt)
    for i, reads in enumerate(wl.reads("net")[:10]):
        acc = toolwire.StreamAccumulator()
        for read in reads:
            acc.feed(read)
        acc.finish()
        assert (acc.format, acc.message()) == (fmt, wl.expected[i]), (fmt, i)
