//! Partial JSON: never panics, and feeding in two pieces equals feeding at once.
#![no_main]

use _core::partial_json::PartialJson;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&cut, text)) = data.split_first() else { return };
    let cut = usize::from(cut).min(text.len());
    let mut whole = PartialJson::new();
    let whole_result = whole.feed_bytes(text);
    let mut split = PartialJson::new();
    let first = split.feed_bytes(&text[..cut]);
    let second = if first.is_ok() {
        split.feed_bytes(&text[cut..])
    } else {
        first.clone()
    };
    assert_eq!(whole_result.is_ok(), second.is_ok());
    if whole_result.is_ok() {
        assert_eq!(whole.value(), split.value());
        assert_eq!(whole.is_complete(), split.is_complete());
        let _ = whole.end();
    }
});
