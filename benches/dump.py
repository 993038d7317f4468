"""Writes the gate's workloads as files for the core's own benchmark (``cargo bench``).

    python -m benches.dump [DIR]     # default target/bench-streams

One file per workload: ``<name>.streams`` holds the streams the gate times, each as its 1-4 KB
network reads (``split_reads(..., "net")``). The format is plain so the Rust side needs no
parser: a stream is ``S <reads>\\n``, then each read as ``<length>\\n`` and its bytes. The same
bytes in Python and Rust make the two benchmarks comparable: the core's time apart from the
Python crossing.
"""

from __future__ import annotations

import sys
from pathlib import Path

from benches import formats, workloads

#: The gate's format rows read the first turns up to this many bytes (check_formats).
FORMAT_BYTES = 160_000


def _write(path: Path, streams: list[list[bytes]]) -> int:
    out = bytearray()
    for reads in streams:
        out += b"S %d\n" % len(reads)
        for read in reads:
            out += b"%d\n" % len(read)
            out += read
    path.write_bytes(bytes(out))
    return sum(len(r) for s in streams for r in s)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    folder = Path(args[0] if args else "target/bench-streams")
    folder.mkdir(parents=True, exist_ok=True)
    for fmt in formats.FORMATS:
        wl = formats.get(fmt)
        n = wl.head(FORMAT_BYTES, 3)
        size = _write(folder / f"{fmt}.streams", wl.reads("net")[:n])
        print(f"{fmt:10} {n:4} streams {size:>9,} B")
    small = workloads.get("small-1000")
    size = _write(folder / "small-1000.streams", small.reads("net"))
    print(f"{'small-1000':10} {len(small.bodies):4} streams {size:>9,} B")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
