//! The core alone, without Python: `python -m benches.dump && cargo bench --bench core`.
//!
//! It reads the same streams in the same 1-4 KB reads as the Python gate (written by
//! `benches/dump.py` to `target/bench-streams`, or `$TOOLWIRE_BENCH_STREAMS`), so the two sets
//! of numbers compare: what the gate measures beyond these is the Python crossing. Per
//! workload: the accumulator with events dropped (`NoEvents`), with events collected
//! (`Vec<Event>`, as the binding collects them), and the message view read at the end.
//! Medians of interleaved rounds, like the gate (benches/timing.py). No dependency: std's
//! clock is enough at these sizes (each sample is at least ~20 ms of work).
#![allow(clippy::print_stdout, clippy::print_stderr)]
// Rates and repeat counts are estimates: precision and sign are not at stake.
#![allow(clippy::cast_precision_loss, clippy::cast_sign_loss)]

use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use _core::accumulate::{Accumulator, ChoiceState, Event, EventSink, NoEvents};
use _core::formats::Adapter;
use _core::limits::Limits;

/// Every stream, as its reads.
type Streams = Vec<Vec<Vec<u8>>>;

/// `S <reads>\n`, then per read `<length>\n` and its bytes (benches/dump.py).
fn parse(bytes: &[u8]) -> Option<Streams> {
    let mut at = 0;
    let next_line = |at: &mut usize| -> Option<&str> {
        let end = *at + bytes[*at..].iter().position(|&b| b == b'\n')?;
        let text = std::str::from_utf8(&bytes[*at..end]).ok()?;
        *at = end + 1;
        Some(text)
    };
    let mut streams = Vec::new();
    while at < bytes.len() {
        let count: usize = next_line(&mut at)?.strip_prefix("S ")?.parse().ok()?;
        let mut reads = Vec::with_capacity(count);
        for _ in 0..count {
            let len: usize = next_line(&mut at)?.parse().ok()?;
            reads.push(bytes.get(at..at + len)?.to_vec());
            at += len;
        }
        streams.push(reads);
    }
    Some(streams)
}

/// One stream through a fresh accumulator; the message view is read as `message()` reads it.
fn run<S: EventSink>(format: &str, reads: &[Vec<u8>], sink: &mut S, clear: fn(&mut S)) -> usize {
    let adapter = Adapter::named(format).expect("a format the core reads");
    let mut acc = Accumulator::with_adapter(Limits::default(), adapter);
    for read in reads {
        acc.feed(read, sink).expect("a valid stream");
        clear(sink);
    }
    acc.finish(sink).expect("a valid stream");
    clear(sink);
    let view = acc.choices().first().map(ChoiceState::message);
    black_box(view.map_or(0, |v| v.content.map_or(0, str::len) + v.tool_calls.len()))
}

fn median(samples: &mut [Duration]) -> Duration {
    samples.sort_unstable();
    samples[samples.len() / 2]
}

fn main() {
    let folder =
        std::env::var_os("TOOLWIRE_BENCH_STREAMS").map_or_else(|| PathBuf::from("target/bench-streams"), PathBuf::from);
    let args: Vec<String> = std::env::args().skip(1).collect();
    // `--passes N`: N untimed passes without events and nothing printed, for `perf stat`
    // (instruction counts do not move with the machine's load, timings do).
    let passes: Option<u32> = args
        .iter()
        .position(|a| a == "--passes")
        .and_then(|i| args.get(i + 1)?.parse().ok());
    let filter: Vec<&String> = args
        .iter()
        .filter(|a| !a.starts_with('-') && a.parse::<u32>().is_err())
        .collect();
    let workloads = [
        ("chat", "chat"),
        ("anthropic", "anthropic"),
        ("responses", "responses"),
        ("gemini", "gemini"),
        ("ollama", "ollama"),
        ("small-1000", "chat"),
    ];
    if passes.is_none() {
        println!(
            "{:12} {:>10} {:>12} {:>10} {:>12} {:>10}",
            "workload", "bytes", "no events", "MB/s", "events", "MB/s"
        );
    }
    let mut missing = false;
    for (name, format) in workloads {
        if !filter.is_empty() && !filter.iter().any(|f| name.contains(f.as_str())) {
            continue;
        }
        let path = folder.join(format!("{name}.streams"));
        let Some(streams) = std::fs::read(&path).ok().and_then(|b| parse(&b)) else {
            missing = true;
            continue;
        };
        let bytes: usize = streams.iter().flatten().map(Vec::len).sum();
        let no_events = || {
            for reads in &streams {
                run(format, reads, &mut NoEvents, |_| {});
            }
        };
        if let Some(passes) = passes {
            for _ in 0..passes {
                no_events();
            }
            continue;
        }
        let mut scratch: Vec<Event> = Vec::new();
        let mut events = || {
            for reads in &streams {
                run(format, reads, &mut scratch, Vec::clear);
            }
        };
        // Repeat inside a sample so that a sample covers ~20 ms.
        let t0 = Instant::now();
        no_events();
        let reps = (0.02 / t0.elapsed().as_secs_f64().max(1e-6)).clamp(1.0, 1000.0) as u32;
        let (mut a, mut b) = (Vec::new(), Vec::new());
        let start = Instant::now();
        while a.len() < 15 || (start.elapsed() < Duration::from_secs(2) && a.len() < 60) {
            let t = Instant::now();
            for _ in 0..reps {
                no_events();
            }
            a.push(t.elapsed() / reps);
            let t = Instant::now();
            for _ in 0..reps {
                events();
            }
            b.push(t.elapsed() / reps);
        }
        let (a, b) = (median(&mut a), median(&mut b));
        let mbs = |d: Duration| bytes as f64 / d.as_secs_f64() / 1e6;
        println!(
            "{name:12} {bytes:>10} {:>9.1} us {:>10.0} {:>9.1} us {:>10.0}",
            a.as_secs_f64() * 1e6,
            mbs(a),
            b.as_secs_f64() * 1e6,
            mbs(b),
        );
    }
    if missing {
        eprintln!(
            "some workloads are missing in {}: write them with `python -m benches.dump`",
            folder.display()
        );
    }
}
