"""The ``toolwire`` command: ``replay`` a recorded stream, ``demo`` the agent, ``serve`` the test
server."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import toolwire

READ_SIZE = 64 * 1024
_MAX_READ_SIZE = 1 << 30


def _read_size(text: str) -> int:
    """``--read-size``: a whole number of bytes from 1 to 1 GiB (argparse reports the error)."""
    try:
        size = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number of bytes: {text[:40]!r}") from None
    if not 1 <= size <= _MAX_READ_SIZE:
        raise argparse.ArgumentTypeError(f"must be from 1 to {_MAX_READ_SIZE} bytes, not {size}")
    return size


def _describe(exc: BaseException) -> str:
    """One line for stderr: the class and the first line of the message, cut at 300 chars."""
    lines = str(exc).strip().splitlines()
    text = lines[0] if lines else ""
    text = text if len(text) <= 300 else text[:300] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _jsonable(value: Any, depth: int = 0) -> Any:
    """``value`` with what ``json.dumps`` cannot write replaced by a short description: integers
    beyond ``sys.get_int_max_str_digits()`` and nesting deeper than 200 levels."""
    if isinstance(value, bool) or value is None or isinstance(value, (str, float)):
        return value
    if isinstance(value, int):
        try:
            str(value)
        except ValueError:
            return f"<integer of about {int(value.bit_length() * 0.30103) + 1} digits>"
        return value
    if depth >= 200:
        return "<nested too deep>"
    if isinstance(value, dict):
        return {str(k): _jsonable(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v, depth + 1) for v in value]
    return repr(value)


class _Replay:
    """Feeds a byte source to one accumulator read by read, printing events as they come.

    Every failure becomes one ``error: ...`` line on stderr and exit status 1; whatever was
    parsed is still printed.
    """

    def __init__(self) -> None:
        self.acc = toolwire.StreamAccumulator()
        self.status = 0

    def error(self, exc: BaseException, where: str = "") -> None:
        self.status = 1
        print(f"error: {where}{_describe(exc)}", file=sys.stderr, flush=True)

    def show(self, events: Sequence[object]) -> None:
        lines = []
        for event in events:
            try:
                lines.append(repr(event))
            except Exception as exc:  # noqa: BLE001 - e.g. an integer too long to print
                self.error(exc, f"cannot print a {type(event).__name__} event: ")
                lines.append(f"{type(event).__name__}(<unprintable>)")
        if lines:
            sys.stdout.write("\n".join(lines) + "\n")
            sys.stdout.flush()

    def step(self, method: Any, *args: Any) -> None:
        try:
            events = method(*args)
        except toolwire.ToolwireError as exc:
            self.error(exc)
            events = list(getattr(exc, "events", []))
        except Exception as exc:  # noqa: BLE001 - reported on one line, the replay goes on
            self.error(exc)
            events = []
        self.show(events)

    def field(self, name: str, getter: Any) -> Any:
        try:
            return getter()
        except Exception as exc:  # noqa: BLE001
            self.error(exc, f"cannot read {name}: ")
            return None

    def summary(self) -> dict[str, Any]:
        acc = self.acc
        choices = self.field("the choices", lambda: list(acc.choices)) or []
        messages = [
            self.field(f"the message of choice {choice}", lambda c=choice: acc.message(c))
            for choice in choices or [0]
        ]
        return {
            "messages": messages,
            "finish_reason": self.field("the finish reason", lambda: acc.finish_reason),
            "usage": self.field("the usage", lambda: acc.usage),
            "truncated": self.field("truncated", lambda: acc.truncated),
        }

    def print_summary(self) -> None:
        result = self.summary()
        try:
            text = json.dumps(result, indent=2, ensure_ascii=False)
        except (ValueError, RecursionError) as exc:
            self.error(exc, "the summary shows a placeholder for a value JSON cannot hold: ")
            text = json.dumps(_jsonable(result), indent=2, ensure_ascii=False)
        try:
            print(text, flush=True)
        except UnicodeEncodeError:
            print(json.dumps(_jsonable(result), indent=2, ensure_ascii=True), flush=True)


def _cmd_replay(args: argparse.Namespace) -> int:
    """Prints the events of a recorded SSE stream as they are read, then the final message(s)
    as JSON. Reads stdin or the file in reads of at most ``--read-size`` bytes and never holds
    more than one read (plus what the accumulator keeps: the message, not the raw bytes)."""
    replay = _Replay()
    try:
        source = sys.stdin.buffer if args.file == "-" else open(args.file, "rb")  # noqa: SIM115
    except OSError as exc:
        print(f"error: cannot read {args.file}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    read = getattr(source, "read1", source.read)  # read1: what has arrived, without waiting
    try:
        while True:
            try:
                chunk = read(args.read_size)
            except OSError as exc:
                replay.error(exc, f"cannot read {args.file}: ")
                break
            if not chunk:
                break
            replay.step(replay.acc.feed, chunk)
    finally:
        if source is not sys.stdin.buffer:
            source.close()
    replay.step(replay.acc.finish)
    replay.print_summary()
    return replay.status


def _build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The ``toolwire`` parser. The options of ``demo`` are only defined when ``argv`` asks for
    ``demo`` (that imports the demo, the client and the test server; ``replay`` needs none)."""
    parser = argparse.ArgumentParser(prog="toolwire", description=__doc__)
    parser.add_argument("--version", action="version", version=f"toolwire {toolwire.__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    replay = sub.add_parser(
        "replay",
        help="print the events and final message of a recorded stream",
        description=_cmd_replay.__doc__,
    )
    replay.add_argument("file", help="an SSE recording (raw response body), or - for stdin")
    replay.add_argument(
        "--read-size",
        type=_read_size,
        default=READ_SIZE,
        metavar="N",
        help=f"feed reads of at most N bytes (default: {READ_SIZE})",
    )
    replay.set_defaults(func=_cmd_replay)

    args = sys.argv[1:] if argv is None else argv
    command = next((a for a in args if not a.startswith("-")), None)
    # Python layer: demo and serve subcommands are added below by _add_python_layer_commands.
    _add_python_layer_commands(sub, demo_options=command == "demo")
    return parser


# --- Python layer: `demo` and `serve` ---------------------------------------------------------


def _cmd_demo(args: argparse.Namespace) -> int:
    """Runs the shop-assistant agent demo (embedded server unless --base-url)."""
    from toolwire import demo

    return demo.main(args)


def _cmd_serve(args: argparse.Namespace) -> int:
    """Serves the scripted test server on 127.0.0.1 until interrupted. It serves every API at
    once; ``--api`` only picks the base URL printed (what that API's client wants)."""
    from toolwire import demo, testing

    if args.script:
        entries = json.loads(Path(args.script).read_text())
        if not isinstance(entries, list):
            print("error: --script must hold a JSON list of turns", file=sys.stderr)
            return 2
        script: Any = [testing.turn_from_dict(entry) for entry in entries]
    else:
        script = demo.shop_responder
    server = testing.ScriptedServer(
        script,
        port=args.port,
        delay=args.delay,
        chunking=args.chunking,
        loop=not args.once,
        api_key=args.api_key,
        raise_on_exit=False,
    )
    server.start()
    print(f"toolwire test server on {server.base_url(args.api)}  (Ctrl-C to stop)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    return 0


def _add_python_layer_commands(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], *, demo_options: bool = True
) -> None:
    """Registers the subcommands of the Python layer (agent demo, test server). The demo's
    options come from ``toolwire.demo``, imported only when ``demo_options`` is set."""
    demo_parser = sub.add_parser(
        "demo",
        help="run the shop-assistant agent (embedded server, no key needed; --web: in the browser)",
    )
    if demo_options:
        from toolwire import demo

        demo.add_arguments(demo_parser)
    demo_parser.set_defaults(func=_cmd_demo)

    serve = sub.add_parser(
        "serve", help="serve the scripted test server (OpenAI, Anthropic, Gemini, Ollama APIs)"
    )
    serve.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: any)")
    serve.add_argument("--script", help="JSON list of turns (default: the demo's shop assistant)")
    serve.add_argument("--delay", type=float, default=0.01, help="seconds between writes")
    serve.add_argument(
        "--chunking",
        choices=["event", "random", "net"],
        default="event",
        help="how bytes are grouped into writes (see toolwire.testing)",
    )
    serve.add_argument("--once", action="store_true", help="play the script once, do not loop")
    serve.add_argument(
        "--api-key", help="require this key (as each API's clients send it: bearer, x-api-key...)"
    )
    serve.add_argument(
        "--api",
        choices=["chat", "responses", "anthropic", "gemini", "ollama"],
        default="chat",
        help="print the base URL for this API's client (every API is served; default: chat)",
    )
    serve.set_defaults(func=_cmd_serve)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``toolwire`` console script."""
    args = _build_parser(argv).parse_args(argv)
    try:
        return int(args.func(args))
    except BrokenPipeError:
        # The reader went away (`toolwire replay x.sse | head`): stop quietly, like cat does.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
