"""`toolwire replay`: streams its input in bounded memory, prints events as they come, reports
every failure on one ``error:`` line (never a traceback) and still prints what was parsed."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, ClassVar

import pytest

from toolwire import cli

FIXTURES = Path(__file__).parent / "fixtures" / "chat"
TEXT_CHUNK = (
    b'data: {"id":"chatcmpl-AbC123","object":"chat.completion.chunk","created":1731000000,'
    b'"model":"gpt-4o-mini","system_fingerprint":"fp_0","choices":[{"index":0,'
    b'"delta":{"content":"ab"},"logprobs":null,"finish_reason":null}]}\n\n'
)
END = b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n'
HUGE = "9" * 5000
# Runs the CLI in a child and reports its peak RSS (KiB) on stderr as the last line. VmHWM,
# not getrusage's ru_maxrss: that one keeps the parent's peak across fork and exec.
MEASURED = (
    "import re, sys\n"
    "from toolwire.cli import main\n"
    "rc = main(sys.argv[1:])\n"
    "hwm = re.search(r'VmHWM:\\s*(\\d+)', open('/proc/self/status').read()).group(1)\n"
    "sys.stderr.write(f'maxrss_kib={hwm}\\n')\n"
    "sys.exit(rc)\n"
)


def run(
    *args: str, stdin: bytes | None = None, code: str | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[bytes]:
    command = (
        [sys.executable, "-c", code, *args] if code else [sys.executable, "-m", "toolwire", *args]
    )
    return subprocess.run(command, input=stdin, capture_output=True, timeout=timeout, check=False)


def summary(stdout: bytes) -> Any:
    """The JSON summary printed last (it starts at the last line that is only ``{``)."""
    text = stdout.decode()
    start = 0 if text.startswith("{\n") else text.rindex("\n{\n") + 1
    return json.loads(text[start:])


def assert_clean_stderr(stderr: bytes) -> None:
    text = stderr.decode()
    assert "Traceback" not in text, text
    for line in text.splitlines():
        assert line.startswith(("error: ", "maxrss_kib=")), line


def expected(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.expected.json").read_text())
    return data


# -- output ----------------------------------------------------------------------------------


@pytest.mark.parametrize("read_size", [None, "1", "7", "4096"])
def test_replay_fixture_at_any_read_size(
    read_size: str | None, capsys: pytest.CaptureFixture[str]
) -> None:
    extra = ["--read-size", read_size] if read_size else []
    assert cli.main(["replay", str(FIXTURES / "parallel_calls.sse"), *extra]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    want = expected("parallel_calls")
    got = summary(out.encode())
    assert got["messages"] == want["messages"]
    assert got["finish_reason"] == "tool_calls" and got["truncated"] is False
    lines = out.splitlines()
    assert sum(line.startswith("ToolCallFinished(") for line in lines) == 3
    assert lines[0].startswith("ToolCallStarted(")


def test_replay_stdin_equals_file() -> None:
    path = FIXTURES / "n2_choices.sse"
    from_file = run("replay", str(path))
    from_stdin = run("replay", "-", stdin=path.read_bytes())
    assert from_file.returncode == from_stdin.returncode == 0
    assert from_file.stdout == from_stdin.stdout
    assert len(summary(from_stdin.stdout)["messages"]) == 2


def test_replay_malformed_chunk_reports_and_keeps_going() -> None:
    done = run("replay", str(FIXTURES / "malformed_chunk.sse"))
    assert done.returncode == 1
    assert_clean_stderr(done.stderr)
    assert done.stderr.decode().startswith("error: ParseError: ")
    assert summary(done.stdout)["messages"] == expected("malformed_chunk")["messages"]


def test_replay_does_not_import_the_demo_or_the_test_server() -> None:
    code = (
        "import sys\n"
        "from toolwire.cli import main\n"
        f"rc = main(['replay', {str(FIXTURES / 'one_call.sse')!r}])\n"
        "assert rc == 0, rc\n"
        "loaded = sorted(m for m in ('toolwire.demo', 'toolwire.testing') if m in sys.modules)\n"
        "sys.stderr.write(f'loaded={loaded}\\n')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.decode().strip() == "loaded=[]"


# -- usage errors and hostile input ----------------------------------------------------------


@pytest.mark.parametrize("value", ["-1", "0", "abc", "2e3", HUGE, str(2**64)])
def test_bad_read_size_is_a_usage_error(value: str) -> None:
    done = run("replay", "--read-size", value, str(FIXTURES / "one_call.sse"))
    assert done.returncode == 2
    assert done.stdout == b""
    err = done.stderr.decode()
    assert "Traceback" not in err and "toolwire replay: error: argument --read-size" in err
    assert len(err) < 500  # a 5000-digit value is not echoed back in full


def test_missing_file_is_one_line() -> None:
    done = run("replay", "/nonexistent/stream.sse")
    assert done.returncode == 1
    want = "error: cannot read /nonexistent/stream.sse: No such file or directory\n"
    assert done.stderr.decode() == want


@pytest.mark.parametrize("read_size", ["16", "65536"])
def test_huge_integer_in_usage_is_a_clear_error(read_size: str) -> None:
    data = (
        b'data: {"choices":[{"index":0,"delta":{"content":"hi"}}]}\n\n'
        + b'data: {"choices":[],"usage":{"prompt_tokens":'
        + HUGE.encode()
        + b"}}\n\n"
        + b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n'
    )
    done = run("replay", "--read-size", read_size, "-", stdin=data)
    assert done.returncode == 1, done.stderr
    assert_clean_stderr(done.stderr)
    assert "integer" in done.stderr.decode()
    got = summary(done.stdout)
    assert got["messages"] == [{"role": "assistant", "content": "hi"}]
    assert got["finish_reason"] == "stop"
    # The events of the read that held the number are printed too.
    assert b"TextDelta(text='hi')" in done.stdout and b"Finish(" in done.stdout


def test_huge_integer_in_error_code_is_a_clear_error() -> None:
    data = (
        b'data: {"choices":[{"index":0,"delta":{"content":"hi"}}]}\n\n'
        + b'data: {"error":{"message":"overloaded","code":'
        + HUGE.encode()
        + b"}}\n\n"
    )
    done = run("replay", "--read-size", "16", "-", stdin=data)
    assert done.returncode in (0, 1)  # the core may keep such a code (as text) or refuse it
    assert_clean_stderr(done.stderr)
    assert b"ProviderError(" in done.stdout
    assert summary(done.stdout)["messages"] == [{"role": "assistant", "content": "hi"}]


class _HugeUsage:
    """Stands for an accumulator whose usage holds values ``json.dumps`` cannot write, to test
    the summary's fallback whatever the core does with such numbers."""

    choices: ClassVar[list[int]] = [0]
    finish_reason = "stop"
    truncated = False
    usage: ClassVar[dict[str, Any]] = {"prompt_tokens": 10**5000, "deep": [[[1]]]}

    def message(self, choice: int = 0) -> dict[str, Any]:
        return {"role": "assistant", "content": "hi"}


def test_summary_placeholder_for_values_json_cannot_hold(
    capsys: pytest.CaptureFixture[str],
) -> None:
    replay = cli._Replay()
    replay.acc = _HugeUsage()  # type: ignore[assignment]
    replay.print_summary()
    out, err = capsys.readouterr()
    assert replay.status == 1
    assert err.startswith("error: the summary shows a placeholder") and err.count("\n") == 1
    got = json.loads(out)
    assert got["usage"] == {"prompt_tokens": "<integer of about 5001 digits>", "deep": [[[1]]]}
    assert got["messages"] == [{"role": "assistant", "content": "hi"}]


def test_unprintable_event_is_reported(capsys: pytest.CaptureFixture[str]) -> None:
    class Unprintable:
        def __repr__(self) -> str:
            return str(10**5000)

    replay = cli._Replay()
    replay.show([Unprintable()])
    out, err = capsys.readouterr()
    assert out == "Unprintable(<unprintable>)\n"
    assert err.startswith("error: cannot print a Unprintable event: ValueError: ")
    assert replay.status == 1


def test_deep_nesting_in_usage_does_not_crash() -> None:
    data = (
        b'data: {"choices":[{"index":0,"delta":{"content":"hi"}}]}\n\n'
        + b'data: {"choices":[],"usage":{"x":'
        + b"[" * 100_000
        + b"]" * 100_000
        + b"}}\n\n"
        + b"data: [DONE]\n\n"
    )
    done = run("replay", "--read-size", "16", "-", stdin=data)
    assert done.returncode in (0, 1)
    assert_clean_stderr(done.stderr)
    assert summary(done.stdout)["messages"] == [{"role": "assistant", "content": "hi"}]


# -- streaming ---------------------------------------------------------------------------------


def test_events_are_printed_as_input_arrives() -> None:
    with subprocess.Popen(
        [sys.executable, "-m", "toolwire", "replay", "-"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as proc:
        assert proc.stdin is not None and proc.stdout is not None
        try:
            proc.stdin.write(b'data: {"choices":[{"index":0,"delta":{"content":"first"}}]}\n\n')
            proc.stdin.flush()
            ready, _, _ = select.select([proc.stdout], [], [], 30)
            assert ready, "no event printed while stdin is still open"
            line = os.read(proc.stdout.fileno(), 4096)
            assert line.startswith(b"TextDelta(") and b"first" in line
            assert proc.poll() is None  # still waiting for more input
            proc.stdin.write(END)
            proc.stdin.close()
            rest = proc.stdout.read()
            assert proc.wait(timeout=30) == 0
        finally:
            proc.kill()
    assert b"Finish(" in rest and json.loads(rest[rest.index(b"\n{") :])["finish_reason"] == "stop"


def test_bounded_memory_on_a_200_mb_stream() -> None:
    """200 MB of realistic text chunks through a pipe: the peak RSS of the child stays near
    that of replaying a tiny stream (it keeps the 2 MB message, not the input)."""
    baseline = run("replay", "-", stdin=TEXT_CHUNK + END, code=MEASURED)
    assert baseline.returncode == 0, baseline.stderr
    base_kib = int(baseline.stderr.decode().rsplit("maxrss_kib=", 1)[1])

    total = 200 << 20
    block = TEXT_CHUNK * ((1 << 20) // len(TEXT_CHUNK))
    sent = lines = 0
    tail = b""

    def drain(stdout: Any) -> None:
        nonlocal lines, tail
        while data := stdout.read(1 << 16):
            lines += data.count(b"\n")
            tail = (tail + data)[-4096:]

    start = time.monotonic()
    with subprocess.Popen(
        [sys.executable, "-c", MEASURED, "replay", "-"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as proc:
        assert proc.stdin is not None and proc.stderr is not None
        reader = threading.Thread(target=drain, args=(proc.stdout,))
        reader.start()
        try:
            while sent < total:
                proc.stdin.write(block)
                sent += len(block)
            proc.stdin.write(END)
            proc.stdin.close()
            err = proc.stderr.read()
            assert proc.wait(timeout=120) == 0, err
        finally:
            proc.kill()
            reader.join(timeout=30)
    elapsed = time.monotonic() - start
    peak_kib = int(err.decode().rsplit("maxrss_kib=", 1)[1])
    # One TextDelta line per read of at most 64 KB (each run of text in a read is one event),
    # then the summary: every read was printed as it came.
    assert lines >= sent // (64 * 1024)
    assert b'"finish_reason": "stop"' in tail
    growth_mib = (peak_kib - base_kib) / 1024
    print(
        f"200 MiB in {elapsed:.1f} s; peak RSS {peak_kib // 1024} MiB, baseline "
        f"{base_kib // 1024} MiB, growth {growth_mib:.1f} MiB"
    )
    assert growth_mib < 48, growth_mib  # the input is 200 MiB; the message alone is ~2 MiB


def test_reader_going_away_is_quiet(tmp_path: Path) -> None:
    """`toolwire replay big.sse | head`: no BrokenPipeError traceback."""
    path = tmp_path / "big.sse"
    path.write_bytes(TEXT_CHUNK * 50_000 + END)
    with subprocess.Popen(
        [sys.executable, "-m", "toolwire", "replay", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        assert proc.stdout.readline().startswith(b"TextDelta(")
        proc.stdout.close()
        err = proc.stderr.read()
        assert proc.wait(timeout=60) == 1
    assert b"Traceback" not in err and b"BrokenPipe" not in err, err


EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "streams"
EXAMPLE_OUTCOMES = {
    # name: (exit status, finish_reason, truncated, the first call's arguments as parsed or None)
    "parallel_calls": (0, "tool_calls", False, {"order_id": "A-1001"}),
    "text_no_done": (0, "stop", False, None),
    "cut_mid_call": (0, None, True, None),
}


@pytest.mark.parametrize("name", sorted(EXAMPLE_OUTCOMES))
def test_example_streams_replay(name: str) -> None:
    """The recordings README points at (``toolwire replay examples/streams/...``) stay readable."""
    status, reason, truncated, first_args = EXAMPLE_OUTCOMES[name]
    done = run("replay", str(EXAMPLES / f"{name}.sse"))
    assert done.returncode == status, done.stderr
    assert_clean_stderr(done.stderr)
    result = summary(done.stdout)
    assert (result["finish_reason"], result["truncated"]) == (reason, truncated)
    calls = result["messages"][0].get("tool_calls", [])
    if first_args is not None:
        assert json.loads(calls[0]["function"]["arguments"]) == first_args
    assert sorted(p.stem for p in EXAMPLES.glob("*.sse")) == sorted(EXAMPLE_OUTCOMES)
