//! Pieces shared by the adapters' native messages (`message(native=True)`): the turn in the
//! provider's own shape, built from the provider's objects as sent plus the text and arguments
//! accumulated since.

use std::ops::Range;

use crate::accumulate::Call;
use crate::partial_json::{PartialJson, Value};

/// The value of a JSON text the provider sent; `Null` when it is not one.
pub(crate) fn value_of(raw: &str) -> Value {
    PartialJson::from_text(raw).value().unwrap_or(Value::Null)
}

/// A call's arguments as a value: the parsed value when complete, the value a prefix shows when
/// still incomplete, `None` when they can never be JSON (malformed, past a limit) or are empty.
pub(crate) fn arguments_value(call: &Call) -> Option<Value> {
    partial_value(call.arguments())
}

/// The value a JSON text or prefix shows; `None` when malformed or empty.
pub(crate) fn partial_value(text: &str) -> Option<Value> {
    let parsed = PartialJson::from_text(text);
    if parsed.error().is_some() {
        return None;
    }
    parsed.value()
}

/// Where one item's text sits in a choice's fields, in arrival order; `K` says which text of the
/// item a piece extends.
pub(crate) type Pieces<K> = Vec<(K, Range<usize>)>;

/// Records a piece of text kept at `range`, merged with the last one when it continues it.
pub(crate) fn record<K: PartialEq>(pieces: &mut Pieces<K>, key: K, range: Option<Range<usize>>) {
    let Some(range) = range else { return };
    match pieces.last_mut() {
        Some((last, kept)) if *last == key && kept.end == range.start => kept.end = range.end,
        _ => pieces.push((key, range)),
    }
}

/// The text of every piece with `key`, joined, read from `field`'s text.
pub(crate) fn joined<K: PartialEq>(pieces: &Pieces<K>, key: &K, field: &str) -> String {
    pieces
        .iter()
        .filter(|(k, _)| k == key)
        .map(|(_, range)| &field[range.clone()])
        .collect()
}

/// A JSON string value.
pub(crate) fn string(text: impl Into<String>) -> Value {
    Value::Str(text.into())
}

/// An object value of the entries given.
pub(crate) fn object(entries: Vec<(&str, Value)>) -> Value {
    Value::Object(entries.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}
