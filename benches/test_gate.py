"""The gate must FAIL when the Python reference stands in for toolwire (benches/gate.py).

The gate's check functions run in-process on small inputs with one round each, so this takes a
few seconds; the real gate (7+ rounds, full sizes) is ``python -m benches.gate``.
"""

from __future__ import annotations

import functools
import re
import sysconfig
from typing import Any

import pytest

from benches import gate
from benches.thresholds import THRESHOLDS

TINY = gate.Budget(min_rounds=1, scale=0.0)


@pytest.fixture(scope="module")
def reference() -> gate.Impl:
    return gate.reference_impl()


def _verdicts(rows: list[gate.Row]) -> dict[str, str]:
    return {r.key: r.verdict for r in rows if r.key != "info"}


def test_pipeline_fails_with_the_reference(reference: gate.Impl) -> None:
    pytest.importorskip("openai")
    rows = gate.check_pipeline(reference, TINY, streams=40, sdk_streams=4)
    verdicts = _verdicts(rows)
    assert verdicts["pipeline.reference/toolwire"] == "FAIL"
    assert verdicts["pipeline.reference/toolwire-noev"] == "FAIL"
    assert verdicts["pipeline.openai-sdk/toolwire"] == "FAIL"
    assert not any(r.error for r in rows), [r.error for r in rows]


def test_partial_growth_fails_with_the_reference(reference: gate.Impl) -> None:
    pytest.importorskip("jiter")
    rows = gate.check_partial(reference, TINY, sizes=(400, 4_000, 40_000), max_parses=40)
    verdicts = _verdicts(rows)
    # Re-parsing the whole prefix per fragment grows ~100x for 10x the size. From 400 to 4,000
    # bytes a parse's fixed cost still weighs (44x here, and once under 12x on 3.14t in CI):
    # the quadratic growth is judged from 4,000 to 40,000 bytes (90x here).
    ft = ".ft" if sysconfig.get_config_var("Py_GIL_DISABLED") else ""
    for key in (
        "partial.drop.200k/20k",
        "partial.keep.200k/20k",
        f"partial.jiter/toolwire@200k{ft}",  # a row of its own on free-threaded CPython
    ):
        assert verdicts[key] == "FAIL", (key, gate.format_table(rows))
    assert not any(r.error for r in rows), [r.error for r in rows]


def test_main_exits_1_and_prints_the_table(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    small: dict[str, Any] = {
        "quadratic": functools.partial(gate.check_quadratic, n=2_000),
        "pipeline": functools.partial(gate.check_pipeline, streams=20, sdk_streams=2),
    }
    monkeypatch.setattr(gate, "CHECKS", small)
    code = gate.main(["--impl", "reference", "--min-rounds", "1", "--budget-scale", "0"])
    out = capsys.readouterr().out
    assert code == 1
    assert "pipeline.reference/toolwire" in out and "FAIL" in out
    assert "quadratic.acc.4n/n" in out


def test_refuses_a_debug_build(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import toolwire

    monkeypatch.setattr(toolwire, "build_profile", "debug")
    assert gate.main([]) == 2
    assert "debug" in capsys.readouterr().err


def test_thresholds_cover_every_row_key() -> None:
    keys = {
        "pipeline.reference/toolwire",
        "pipeline.reference/toolwire-noev",
        "pipeline.openai-sdk/toolwire",
        "partial.jiter/toolwire@200k",
        "reads.64/whole",
        "onebyte.per-byte.long/short",
        "quadratic.acc.4n/n",
        "quadratic.partialjson.4n/n",
        "leak.rss-growth-mib",
    }
    assert keys <= set(THRESHOLDS)
    for entry in THRESHOLDS.values():
        assert entry["op"] in (">=", "<=") and isinstance(entry["gate"], bool)


def test_format_rows_fail_with_the_reference(reference: gate.Impl) -> None:
    """The Python references are not as fast as toolwire against the SDKs: their rows FAIL."""
    from benches import format_peers, formats

    for module in format_peers.MODULES.values():
        pytest.importorskip(module)
    rows = gate.check_formats(reference, TINY, max_bytes=20_000, at_least=1)
    assert not any(r.error for r in rows), [r.error for r in rows]
    verdicts = _verdicts(rows)
    assert set(verdicts) == {f"fmt.{fmt}.vs-sdk" for fmt in formats.FORMATS}
    assert set(verdicts.values()) == {"FAIL"}, gate.format_table(rows)


def test_every_format_has_a_gated_row_and_the_chat_rows_are_unchanged() -> None:
    from benches import formats

    for fmt in formats.FORMATS:
        bar = THRESHOLDS[f"fmt.{fmt}.vs-sdk"]
        assert bar["op"] == ">=" and bar["gate"], fmt
        # The 30x for every format.
        assert bar["value"] == 30, fmt
    # The chat rows the formats were added beside (issue 10: "Chat is no slower than before").
    assert THRESHOLDS["pipeline.reference/toolwire"]["value"] == 5
    assert THRESHOLDS["pipeline.reference/toolwire-noev"]["value"] == 10
    # Issue 12 raised the SDK bar from 100x to 300x.
    assert THRESHOLDS["pipeline.openai-sdk/toolwire"]["value"] == 300
    checks = list(gate.CHECKS)
    assert checks[0] == "pipeline" and checks[-1] == "formats"  # formats last: see gate.py


def test_threads_row_names_the_build_and_refuses_wrong_messages() -> None:
    import dataclasses
    import threading

    import toolwire

    ft = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
    impl = gate.toolwire_impl()
    # Other tests' threads may end meanwhile (CI saw 3 -> 1): only no new one may be left.
    before = set(threading.enumerate())
    [row] = gate.check_threads(impl, TINY, streams=40)
    assert set(threading.enumerate()) <= before  # its worker threads ended
    assert row.key == ("threads.2/1.ft" if ft else "threads.2/1") and row.key in THRESHOLDS
    assert not row.error and row.ratio > 0
    assert "in the same rounds, the pure-Python reference (2 streams)" in row.note
    assert re.search(r"without the GIL \(the machine's ceiling\): \d+\.\d\dx", row.note)
    assert re.search(r"; 2-4 KiB buffers: \d+\.\d\dx", row.note)
    # Judged only where the machine gives hashlib's two threads CEILING_JUDGED.
    ceiling = float(re.findall(r"ceiling\): (\d+\.\d\d)x", row.note)[0])
    assert bool(row.unjudged) is (ceiling < gate.CEILING_JUDGED)
    # Streams read as the wrong format: every worker's answer is checked, not only timed.
    wrong = dataclasses.replace(
        impl, acc=functools.partial(toolwire.StreamAccumulator, format="ollama")
    )
    [row] = gate.check_threads(wrong, TINY, streams=40)
    assert "raised" in row.error and not row.passed


def _row(key: str, ratio: float, **kw: Any) -> gate.Row:
    return gate.Row(key, "w", "a", "b", 1.0, 1.0, ratio, **kw)


def test_a_row_short_of_its_target_warns_and_is_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    bars = {
        "guarded": {"op": ">=", "value": 2, "gate": True, "target": 3},
        "growth": {"op": "<=", "value": 12, "gate": True, "target": 11},
        "plain": {"op": ">=", "value": 2, "gate": True},
    }
    monkeypatch.setattr(gate, "THRESHOLDS", bars)
    verdicts = {
        (key, ratio): _row(key, ratio).verdict
        for key, ratio in [
            ("guarded", 3.5), ("guarded", 2.5), ("guarded", 1.5),
            ("growth", 10.5), ("growth", 11.5), ("growth", 12.5),
            ("plain", 2.5), ("plain", 1.5),
        ]
    }  # fmt: skip
    assert verdicts == {
        ("guarded", 3.5): "PASS",
        ("guarded", 2.5): "WARN",  # over the guard, short of the target
        ("guarded", 1.5): "FAIL",
        ("growth", 10.5): "PASS",
        ("growth", 11.5): "WARN",
        ("growth", 12.5): "FAIL",
        ("plain", 2.5): "PASS",
        ("plain", 1.5): "FAIL",
    }
    rows = [_row("guarded", 2.5), _row("growth", 10.5), _row("plain", 1.5)]
    assert gate.targets_summary(rows) == "issue targets met: 1 of 2; short: guarded"
    table = gate.format_table(rows)
    assert ">= 2x, target 3x" in table and "<= 12x, target 11x" in table
    # A row whose error is set meets no target.
    assert _row("growth", 10.5, error="boom").target_met is False


def test_an_unjudged_row_warns_instead_of_failing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gate, "THRESHOLDS", {"t": {"op": ">=", "value": 1.6, "gate": True}})
    assert _row("t", 1.2).verdict == "FAIL"
    row = _row("t", 1.2, note="two threads", unjudged="not judged: the machine")
    assert row.verdict == "WARN" and not row.gated
    table = gate.format_table([row])
    assert "(not gated)" in table and "t: two threads; not judged: the machine" in table
