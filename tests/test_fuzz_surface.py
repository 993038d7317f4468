"""The surface fuzzer (fuzz/surface.py) in the normal suite: a short run with a fixed seed must
find nothing, and its watchdog must catch each kind of failure. The CI runs it longer with a
fresh seed (.ci/run)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

DRIVER = Path(__file__).parent.parent / "fuzz" / "surface.py"


def fuzz(*args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(DRIVER), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_short_run_finds_nothing() -> None:
    done = fuzz("--seconds", "2", "--seed", "1")
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    rate = re.search(r"(\d+) cases in [\d.]+ s: (\d+) cases/s", done.stdout)
    assert rate is not None and int(rate.group(1)) > 100, done.stdout[-1000:]


def test_watchdog_reports_hang_crash_and_panic() -> None:
    done = fuzz(
        "--seconds",
        "4",
        "--seed",
        "1",
        "--hang-seconds",
        "1",
        "--inject",
        "hang@5",
        "--inject",
        "crash@10",
        "--inject",
        "panic@15",
    )
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-2000:]
    out = done.stdout
    assert "at case 5: hang: case runs over 1 s" in out
    assert re.search(r"at case 10: crash: worker exit code -6", out)
    assert "at case 15: inject: Injected: injected failure" in out
    assert "--seed 1 --case N" in out


def test_one_case_replays_in_process() -> None:
    done = fuzz("--seed", "1", "--case", "3")
    assert done.returncode == 0, done.stdout[-3000:]
    assert done.stdout.startswith("case 3 of seed 1: ")
    assert "import toolwire" in done.stdout


def test_shrinking_passes_over_operations_without_data() -> None:
    # A failure whose case had a feed next to a "value" made the shrinker itself raise
    # IndexError, and the worker die ("crash: worker exit code 1") instead of reporting it.
    import importlib.util

    spec = importlib.util.spec_from_file_location("fuzz_surface", DRIVER)
    assert spec is not None and spec.loader is not None
    surface = importlib.util.module_from_spec(spec)
    sys.modules["fuzz_surface"] = surface
    spec.loader.exec_module(surface)

    class Failing:
        """Fails while a case has two operations or more (so a feed and a "value" stay)."""

        def run(self, case: Any) -> None:
            if len(case.ops) >= 2:
                raise surface.Found("acc.feed()", 0, ValueError("boom"))

    case = surface.Case(
        "acc",
        {},
        [("feed", b"ab", False), ("value",), ("feed", b"cd", False), ("feed", b"ef", False)],
    )
    small = surface.shrink(Failing(), case, "acc.feed(): ValueError: boom", 0.5)
    assert [op[0] for op in small.ops] == ["feed", "value"]
