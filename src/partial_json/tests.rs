use std::fmt::Write as _;

use proptest::prelude::*;

use super::*;

fn v(text: &str) -> Option<Value> {
    PartialJson::from_text(text).value()
}

fn s(x: &str) -> Value {
    Value::Str(x.to_owned())
}

fn n(x: &str) -> Value {
    Value::Number(x.to_owned())
}

fn obj(entries: Vec<(&str, Value)>) -> Value {
    Value::Object(entries.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

macro_rules! partial_cases {
    ($($name:ident: $input:expr => $want:expr;)*) => {
        $(#[test] fn $name() { assert_eq!(v($input), $want, "input {:?}", $input); })*
    };
}

partial_cases! {
    empty: "" => None;
    ws_only: "  " => None;
    open_obj: "{" => Some(obj(vec![]));
    key_in_progress: "{\"ci" => Some(obj(vec![]));
    key_without_value: "{\"city\":" => Some(obj(vec![]));
    string_value: "{\"city\": \"Ber" => Some(obj(vec![("city", s("Ber"))]));
    empty_string_value: "{\"city\": \"" => Some(obj(vec![("city", s(""))]));
    number_waits: "{\"a\": 12" => Some(obj(vec![]));
    number_done: "{\"a\": 12," => Some(obj(vec![("a", n("12"))]));
    literal_waits: "{\"a\": tru" => Some(obj(vec![]));
    literal_done: "{\"a\": true" => Some(obj(vec![("a", Value::Bool(true))]));
    array_number_waits: "[1, 2" => Some(Value::Array(vec![n("1")]));
    nested: "{\"a\": [{\"b\": \"x" => Some(obj(vec![("a", Value::Array(vec![obj(vec![("b", s("x"))])]))]));
    escape_waits: "\"ab\\" => Some(s("ab"));
    unicode_escape_waits: "\"ab\\u00e" => Some(s("ab"));
    unicode_escape_done: "\"ab\\u00e9" => Some(s("abé"));
    surrogate_high_waits: "\"x\\ud83d" => Some(s("x"));
    surrogate_high_backslash_waits: "\"x\\ud83d\\" => Some(s("x"));
    surrogate_low_partial_waits: "\"x\\ud83d\\ude" => Some(s("x"));
    surrogate_pair: "\"x\\ud83d\\ude00" => Some(s("x😀"));
    lone_high_then_char: "\"x\\ud83dy" => Some(s("x\u{FFFD}y"));
    top_number: "12" => Some(n("12"));
    top_number_incomplete: "1." => None;
    top_minus: "-" => None;
    top_literal: "nul" => None;
    top_null: "null" => Some(Value::Null);
    duplicate_keys: "{\"a\": 1, \"b\": 2, \"a\": 3}" => Some(obj(vec![("a", n("3")), ("b", n("2"))]));
    open_dup_key: "{\"a\": \"x\", \"a\": \"y" => Some(obj(vec![("a", s("y"))]));
    escapes: r#"["\"\\\/\b\f\n\r\t"]"# => Some(Value::Array(vec![s("\"\\/\u{8}\u{c}\n\r\t")]));
}

macro_rules! malformed_cases {
    ($($name:ident: $input:expr => $pos:expr;)*) => {
        $(#[test] fn $name() {
            let p = PartialJson::from_text($input);
            let err = p.error().expect("malformed");
            assert_eq!(err.kind, ParseKind::Malformed, "{:?}", $input);
            assert_eq!(err.position, $pos, "{:?}: {}", $input, err);
        })*
    };
}

malformed_cases! {
    bad_value: "{\"a\": x" => 6;
    leading_zero: "[01]" => 2;
    trailing_comma_obj: "{\"a\": 1,}" => 8;
    trailing_comma_arr: "[1,]" => 3;
    missing_colon: "{\"a\" 1}" => 5;
    unquoted_key: "{a: 1}" => 1;
    trailing_chars: "{} x" => 3;
    bad_literal: "[trux]" => 4;
    bad_escape: "\"\\x\"" => 2;
    bad_hex: "\"\\u12g4\"" => 5;
    control_char: "\"a\nb\"" => 2;
    nan: "NaN" => 0;
    dot_without_digits: "[1.]" => 3;
    mismatched_close: "[1}" => 2;
    two_values: "1 2" => 2;
}

#[test]
fn incomplete_vs_malformed_at_end() {
    assert_eq!(
        PartialJson::from_text("{\"a\": [1").end().unwrap_err().kind,
        ParseKind::Incomplete
    );
    assert_eq!(
        PartialJson::from_text("{\"a\" 1").end().unwrap_err().kind,
        ParseKind::Malformed
    );
    assert!(PartialJson::from_text(" {\"a\": [1]} \n").end().is_ok());
    assert!(PartialJson::from_text("42").end().is_ok());
    assert!(PartialJson::from_text("4.").end().is_err());
}

#[test]
fn completeness_is_tracked() {
    let mut p = PartialJson::new();
    for (frag, complete) in [("{\"a\"", false), (": [1, 2]", false), ("}", true), ("  ", true)] {
        p.feed(frag).unwrap();
        assert_eq!(p.is_complete(), complete, "after {frag:?}");
    }
    assert!(p.feed("x").is_err());
    assert!(!p.is_complete());
}

#[test]
fn bytes_split_inside_utf8_sequence() {
    let text = "{\"k\": \"é😀\"}".as_bytes();
    for i in 0..text.len() {
        let mut p = PartialJson::new();
        p.feed_bytes(&text[..i]).unwrap();
        p.feed_bytes(&text[i..]).unwrap();
        assert_eq!(p.value(), Some(obj(vec![("k", s("é😀"))])));
    }
    let mut p = PartialJson::new();
    p.feed_bytes(b"\"a\xC3").unwrap();
    assert_eq!(p.value(), Some(s("a")));
    assert_eq!(p.feed_bytes(b"\xFF").unwrap_err().kind, ParseKind::InvalidUtf8);
    // Outside a string the same byte is malformed JSON, whether whole or split.
    for parts in [&[&b"[0\xE5]"[..]][..], &[b"[0", b"\xE5", b"]"], &[b"[0\xE5", b"]"]] {
        let mut p = PartialJson::new();
        let err = parts
            .iter()
            .find_map(|part| p.feed_bytes(part).err())
            .expect("an error");
        assert_eq!((err.kind, err.position), (ParseKind::Malformed, 2), "{parts:?}");
    }
}

#[test]
fn deep_nesting_is_a_limit_not_malformed() {
    let deep = "[".repeat(DEFAULT_MAX_DEPTH + 1);
    let err = PartialJson::from_text(&deep).error().cloned().expect("over the limit");
    assert_eq!((err.kind, err.position), (ParseKind::TooDeep, DEFAULT_MAX_DEPTH));
    // Exactly at the limit is fine, and the limit is configurable.
    assert!(PartialJson::from_text(&"[".repeat(DEFAULT_MAX_DEPTH)).error().is_none());
    let mut p = PartialJson::new().with_max_depth(3);
    assert!(p.feed("[[[").is_ok());
    assert_eq!(p.feed("{").unwrap_err().kind, ParseKind::TooDeep);
    assert_eq!(
        PartialJson::new().with_max_depth(usize::MAX).scan().max_depth(),
        MAX_DEPTH_CAP
    );
    assert_eq!(PartialJson::new().with_max_depth(0).scan().max_depth(), 1);
}

#[test]
fn non_ascii_outside_a_string_fails_at_once() {
    // A lone lead byte can only start a character, and no character is valid outside strings.
    for (input, pos) in [
        (&b"\xE9"[..], 0),
        (b"[1, \xC3", 4),
        (b"{\"a\": 1 \xF0\x9F", 8),
        (b"1\xE2\x82", 1),
    ] {
        let mut p = PartialJson::new();
        let err = p.feed_bytes(input).unwrap_err();
        assert_eq!((err.kind, err.position), (ParseKind::Malformed, pos), "{input:?}");
        assert_eq!(p.end().unwrap_err().kind, ParseKind::Malformed);
    }
    // Inside a string it waits for the rest of the character.
    let mut p = PartialJson::new();
    p.feed_bytes(b"[\"caf\xC3").unwrap();
    assert_eq!(p.value(), Some(Value::Array(vec![s("caf")])));
    p.feed_bytes(b"\xA9\"]").unwrap();
    assert!(p.is_complete());
}

#[test]
fn frame_ids_are_unique_and_kept_on_close() {
    let p = PartialJson::from_text("[[1], [2], [3");
    let Some(Frame { items, .. }) = p.frames().first() else {
        panic!()
    };
    let ids: Vec<u32> = items
        .iter()
        .map(|n| if let Node::Arr { id, .. } = n { *id } else { 99 })
        .collect();
    assert_eq!(ids, vec![1, 2]);
    assert_eq!(p.frames()[1].id, 3);
}

// ---- property tests -------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum Tv {
    Null,
    Bool(bool),
    Num(String),
    Str(String),
    Arr(Vec<Tv>),
    Obj(Vec<(String, Tv)>),
}

fn number() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|x| x.to_string()),
        "-?(0|[1-9][0-9]{0,30})(\\.[0-9]{1,6})?([eE][+-]?[0-9]{1,3})?",
    ]
}

fn text_str() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z ]{0,8}",
        any::<String>().prop_map(|s| s.chars().take(12).collect()),
        "[\"\\\\/\u{8}\u{c}\n\r\té€😀\u{2028}]{0,6}",
    ]
}

fn tv() -> impl Strategy<Value = Tv> {
    let leaf = prop_oneof![
        Just(Tv::Null),
        any::<bool>().prop_map(Tv::Bool),
        number().prop_map(Tv::Num),
        text_str().prop_map(Tv::Str),
    ];
    leaf.prop_recursive(6, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Tv::Arr),
            prop::collection::btree_map(text_str(), inner, 0..6).prop_map(|m| Tv::Obj(m.into_iter().collect())),
        ]
    })
}

fn render_str(out: &mut String, s: &str, escape_all: bool) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || (escape_all && !c.is_ascii_alphanumeric()) => {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{u:04x}");
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn render(out: &mut String, v: &Tv, pretty: bool, escape_all: bool, depth: usize) {
    let pad = |out: &mut String, d: usize| {
        if pretty {
            out.push('\n');
            out.push_str(&"  ".repeat(d));
        }
    };
    match v {
        Tv::Null => out.push_str("null"),
        Tv::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Tv::Num(x) => out.push_str(x),
        Tv::Str(x) => render_str(out, x, escape_all),
        Tv::Arr(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                pad(out, depth + 1);
                render(out, item, pretty, escape_all, depth + 1);
            }
            if !items.is_empty() {
                pad(out, depth);
            }
            out.push(']');
        }
        Tv::Obj(entries) => {
            out.push('{');
            for (i, (k, item)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                pad(out, depth + 1);
                render_str(out, k, escape_all);
                out.push_str(if pretty { ": " } else { ":" });
                render(out, item, pretty, escape_all, depth + 1);
            }
            if !entries.is_empty() {
                pad(out, depth);
            }
            out.push('}');
        }
    }
}

fn expected(v: &Tv) -> Value {
    match v {
        Tv::Null => Value::Null,
        Tv::Bool(b) => Value::Bool(*b),
        Tv::Num(x) => Value::Number(x.clone()),
        Tv::Str(x) => Value::Str(x.clone()),
        Tv::Arr(items) => Value::Array(items.iter().map(expected).collect()),
        Tv::Obj(entries) => Value::Object(entries.iter().map(|(k, v)| (k.clone(), expected(v))).collect()),
    }
}

/// `part` is what a prefix of a text whose whole value is `whole` may show.
fn partial_of(part: &Value, whole: &Value) -> bool {
    match (part, whole) {
        (Value::Str(p), Value::Str(w)) => w.starts_with(p.as_str()),
        (Value::Array(p), Value::Array(w)) => {
            p.len() <= w.len()
                && p.iter()
                    .zip(w)
                    .enumerate()
                    .all(|(i, (a, b))| if i + 1 == p.len() { partial_of(a, b) } else { a == b })
        }
        (Value::Object(p), Value::Object(w)) => p
            .iter()
            .all(|(k, pv)| w.iter().any(|(wk, wv)| wk == k && partial_of(pv, wv))),
        (a, b) => a == b,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn whole_text_and_every_prefix(v in tv(), pretty in any::<bool>(), escape_all in any::<bool>(), cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..8)) {
        let mut text = String::new();
        render(&mut text, &v, pretty, escape_all, 0);
        let want = expected(&v);
        let whole = PartialJson::from_text(&text);
        prop_assert!(whole.error().is_none(), "{:?} {:?}", text, whole.error());
        prop_assert!(whole.is_complete() || matches!(v, Tv::Num(_)));
        prop_assert_eq!(whole.value(), Some(want.clone()));

        let top_number = matches!(v, Tv::Num(_));
        for (i, _) in text.char_indices() {
            let prefix = PartialJson::from_text(&text[..i]);
            prop_assert!(prefix.error().is_none());
            prop_assert!(!prefix.is_complete() || top_number);
            if let Some(pv) = prefix.value() {
                prop_assert!(top_number || partial_of(&pv, &want), "prefix {:?} gave {:?}", &text[..i], pv);
            }
        }

        // Fed in random fragments, the parser agrees with a one-shot parse of each prefix.
        let mut bounds: Vec<usize> = cuts.iter().map(|c| c.index(text.len() + 1)).collect();
        bounds.push(text.len());
        bounds.sort_unstable();
        let mut inc = PartialJson::new();
        let mut last = 0;
        for b in bounds {
            inc.feed_bytes(&text.as_bytes()[last..b]).unwrap();
            last = b;
            let split_char = !text.is_char_boundary(b);
            if !split_char {
                prop_assert_eq!(inc.value(), PartialJson::from_text(&text[..b]).value());
            }
        }
        prop_assert_eq!(inc.value(), Some(want));
    }
}

#[test]
fn validating_scan_agrees_without_keeping_structure() {
    for text in [
        "{\"a\": [1, {\"b\": \"x\"}], \"c\": null}",
        "[1, 2",
        "{\"a\" 1}",
        "\"\\ud83d",
        "12",
    ] {
        let keep = PartialJson::from_text(text);
        let mut check = PartialJson::validating();
        let _ = check.feed(text);
        assert_eq!(keep.is_complete(), check.is_complete(), "{text}");
        assert_eq!(keep.end(), check.end(), "{text}");
        assert_eq!(keep.value(), check.value(), "{text}");
        assert!(check.frames().iter().all(Frame::is_empty));
    }
}

#[test]
fn a_lagging_scan_reads_the_same_text_in_steps() {
    let text = "{\"rows\": [{\"id\": 1, \"tags\": [\"a\"]}, {\"id\": 2}], \"s\": \"x\\u00e9\"}";
    let mut lag = Scan::new();
    for (to, _) in text.char_indices().chain([(text.len(), ' ')]) {
        lag.advance(text, to).unwrap();
        let fresh = PartialJson::from_text(&text[..to]);
        assert_eq!(lag.frames().len(), fresh.frames().len(), "at {to}");
        assert_eq!(lag.leaf(), fresh.leaf(), "at {to}");
        assert_eq!(lag.root(), fresh.scan().root(), "at {to}");
    }
}

#[test]
fn a_checked_value_is_taken_without_a_second_scan_only_where_it_can_be() {
    let text = r#"{"a":[1,{"b":"x"}]}"#;
    // A fresh validating parser takes it as it is: complete, and what follows is malformed.
    let mut taken = PartialJson::validating().with_max_depth(3);
    taken.feed_checked(text, 3).unwrap();
    assert!(taken.is_complete());
    assert_eq!(taken.end(), Ok(()));
    assert_eq!(taken.text(), text);
    assert_eq!(taken.value(), PartialJson::from_text(text).value());
    assert!(taken.feed("1").is_err());
    // Anywhere else the fragment is read as usual: a keeping parser (it needs the structure),
    // one that has read something, a depth past the limit.
    let mut keep = PartialJson::new();
    keep.feed_checked(text, 3).unwrap();
    assert_eq!(keep.scan().root(), PartialJson::from_text(text).scan().root());
    let mut started = PartialJson::validating();
    started.feed(" ").unwrap();
    assert!(started.feed_checked("{]", 1).is_err());
    let mut shallow = PartialJson::validating().with_max_depth(2);
    let err = shallow.feed_checked(text, 3).unwrap_err();
    assert_eq!(err.kind, ParseKind::TooDeep);
}

#[test]
fn a_number_that_fails_shows_in_no_value() {
    // Found by fuzz/surface.py: the value of this text panicked slicing the number's span.
    for text in ["\t0.\"arguments\"", "-x", " 1e+x", "[1, 2.]", "0.]"] {
        let parsed = PartialJson::from_text(text);
        assert!(parsed.error().is_some(), "{text}");
        assert_eq!(parsed.leaf(), Leaf::None, "{text}");
        let _ = parsed.value();
    }
}

proptest! {
    /// A JSON string fragment fed escaped is the same as its decoded text fed, whatever came
    /// before (a few fragments of one arguments text); a lone surrogate feeds nothing.
    #[test]
    fn escaped_fragments_feed_as_their_text(
        fragments in proptest::collection::vec(proptest::collection::vec(proptest::sample::select(vec![
            "a", "é", "東", "🚀", "\\n", "\\\"", "\\\\", "\\/", "\\b", "\\u00e9", "\\u0000",
            "\\ud83d\\ude80", "\\ud83d", "\\ude80", "{", "}", "[1,", "\\\"k\\\":", " ", "2]",
        ]), 0..6), 1..5),
    ) {
        let mut ours = PartialJson::new();
        let mut theirs = PartialJson::new();
        for pieces in fragments {
            let escaped = pieces.concat();
            let decoded = serde_json::from_str::<String>(&format!("\"{escaped}\"")).ok();
            let fed = ours.feed_escaped(&escaped);
            prop_assert_eq!(fed.is_some(), decoded.is_some(), "{}", escaped);
            if let (Some(fed), Some(text)) = (fed, decoded) {
                prop_assert_eq!(fed, theirs.feed(&text));
            }
            prop_assert_eq!(ours.text(), theirs.text());
            prop_assert_eq!(ours.is_complete(), theirs.is_complete());
            prop_assert_eq!(ours.error(), theirs.error());
        }
    }
}
