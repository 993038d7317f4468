//! The accumulator: never panics on any bytes, and a split read gives the same state.
#![no_main]

use _core::accumulate::{Accumulator, NoEvents};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&cut, stream)) = data.split_first() else {
        return;
    };
    let cut = usize::from(cut).min(stream.len());
    let mut whole = Accumulator::default();
    let _ = whole.feed(stream, &mut NoEvents);
    let _ = whole.finish(&mut NoEvents);
    let mut split = Accumulator::default();
    let _ = split.feed(&stream[..cut], &mut NoEvents);
    let _ = split.feed(&stream[cut..], &mut NoEvents);
    let _ = split.finish(&mut NoEvents);
    let texts = |a: &Accumulator| {
        a.choices()
            .iter()
            .map(|c| {
                (
                    c.content.clone(),
                    c.calls.iter().map(|k| k.arguments().to_owned()).collect::<Vec<_>>(),
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(texts(&whole), texts(&split));
});
