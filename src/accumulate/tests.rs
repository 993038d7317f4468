use serde_json::{json, Value as J};

use super::*;
use crate::error::ParseKind;
use crate::partial_json::PartialJson;

/// The OpenAI-shaped message of a choice, for assertions (from the core's one message view).
fn message(acc: &Accumulator, choice: u32) -> J {
    let view = acc.choice(choice).expect("choice").message();
    let mut m = json!({"role": "assistant", "content": view.content});
    let calls: Vec<J> = view
        .tool_calls
        .iter()
        .map(|c| json!({"id": c.id, "type": c.kind, "function": {"name": c.name, "arguments": c.arguments}}))
        .collect();
    if !calls.is_empty() {
        m["tool_calls"] = J::from(calls);
    }
    if let Some(reasoning) = view.reasoning {
        m["reasoning_content"] = J::from(reasoning);
    }
    if let Some(f) = view.function_call {
        m["function_call"] = json!({"name": f.name, "arguments": f.arguments});
    }
    m
}

fn sse(chunks: &[J]) -> String {
    let mut out = String::new();
    for c in chunks {
        out.push_str("data: ");
        out.push_str(&c.to_string());
        out.push_str("\n\n");
    }
    out
}

fn run(stream: &str) -> (Accumulator, Vec<Event>, Option<CoreError>) {
    let mut acc = Accumulator::default();
    let mut events = Vec::new();
    let err = acc.feed(stream.as_bytes(), &mut events).err();
    let err2 = acc.finish(&mut events).err();
    (acc, events, err.or(err2))
}

#[allow(clippy::needless_pass_by_value)]
fn delta(d: J) -> J {
    json!({"choices": [{"index": 0, "delta": d}]})
}

fn tc(index: Option<u32>, id: Option<&str>, name: Option<&str>, args: J) -> J {
    let mut t = json!({"function": {}});
    if let Some(i) = index {
        t["index"] = J::from(i);
    }
    if let Some(id) = id {
        t["id"] = J::from(id);
        t["type"] = J::from("function");
    }
    if let Some(n) = name {
        t["function"]["name"] = J::from(n);
    }
    if !args.is_null() || index == Some(99) {
        t["function"]["arguments"] = args;
    }
    t
}

fn finish(reason: &str) -> J {
    json!({"choices": [{"index": 0, "delta": {}, "finish_reason": reason}]})
}

fn kinds(events: &[Event]) -> Vec<&'static str> {
    events
        .iter()
        .map(|e| match e {
            Event::Text { .. } => "text",
            Event::Reasoning { .. } => "reasoning",
            Event::CallStarted { .. } => "started",
            Event::CallDelta { .. } => "delta",
            Event::CallReady { .. } => "ready",
            Event::CallFinished { .. } => "finished",
            Event::Usage { .. } => "usage",
            Event::Finish { .. } => "finish",
            Event::ProviderError(_) => "error",
        })
        .collect()
}

#[test]
fn text_and_one_call() {
    let stream = sse(&[
        delta(json!({"role": "assistant", "content": "Hel"})),
        delta(json!({"content": "lo"})),
        delta(json!({"tool_calls": [tc(Some(0), Some("c1"), Some("get"), json!(""))]})),
        delta(json!({"tool_calls": [tc(Some(0), None, None, json!("{\"a\":"))]})),
        delta(json!({"tool_calls": [tc(Some(0), None, None, json!(" 1}"))]})),
        finish("tool_calls"),
    ]) + "data: [DONE]\n\n";
    let (acc, events, err) = run(&stream);
    assert!(err.is_none());
    assert_eq!(
        kinds(&events),
        // The two text deltas of one read are one event, and so are the call's two fragments.
        vec!["text", "started", "delta", "ready", "finished", "finish"]
    );
    assert!(events.contains(&Event::CallDelta {
        choice: 0,
        call: 0,
        range: 0..8
    }));
    assert_eq!(
        message(&acc, 0),
        json!({"role": "assistant", "content": "Hello", "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "get", "arguments": "{\"a\": 1}"}}]})
    );
    assert!(!acc.truncated());
    assert_eq!(acc.choice(0).unwrap().finish_reason.as_deref(), Some("tool_calls"));
}

#[test]
fn index_zero_for_every_parallel_call_with_new_ids() {
    let stream = sse(&[
        delta(json!({"tool_calls": [tc(Some(0), Some("a"), Some("f"), json!("{}"))]})),
        delta(json!({"tool_calls": [tc(Some(0), Some("b"), Some("g"), json!("{\"x\""))]})),
        delta(json!({"tool_calls": [tc(Some(0), None, None, json!(":2}"))]})),
        finish("tool_calls"),
    ]);
    let (acc, _, _) = run(&stream);
    let m = message(&acc, 0);
    assert_eq!(m["tool_calls"][0]["function"]["arguments"], "{}");
    assert_eq!(m["tool_calls"][1]["id"], "b");
    assert_eq!(m["tool_calls"][1]["function"]["arguments"], "{\"x\":2}");
}

#[test]
fn set_once_fields_and_flush_chunk() {
    let stream = sse(&[
        delta(
            json!({"tool_calls": [{"index": 0, "id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\""}}]}),
        ),
        delta(
            json!({"tool_calls": [{"index": 0, "id": "", "type": null, "function": {"name": "", "arguments": ": \"Paris\"}"}}]}),
        ),
        delta(json!({"tool_calls": [{"index": 0, "id": "c1", "function": {"name": "get_weather"}}]})),
        json!({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"name": "get_weather"}}]}, "finish_reason": "tool_calls"}]}),
    ]);
    let (acc, _, err) = run(&stream);
    assert!(err.is_none());
    let m = message(&acc, 0);
    assert_eq!(m["tool_calls"].as_array().unwrap().len(), 1);
    assert_eq!(m["tool_calls"][0]["function"]["name"], "get_weather");
    assert_eq!(m["tool_calls"][0]["function"]["arguments"], "{\"city\": \"Paris\"}");
}

#[test]
fn missing_index_and_type_continue_last_call() {
    let stream = sse(&[
        delta(json!({"tool_calls": [{"id": "x", "function": {"name": "f", "arguments": "{\"q\":"}}]})),
        delta(json!({"tool_calls": [{"function": {"arguments": "1}"}}]})),
        delta(json!({"tool_calls": [{"id": "y", "function": {"name": "g", "arguments": {"k": [1, 2]}}}]})),
    ]) + "data: [DONE]\n\n";
    let (acc, _, _) = run(&stream);
    let m = message(&acc, 0);
    assert_eq!(m["tool_calls"][0]["function"]["arguments"], "{\"q\":1}");
    assert_eq!(m["tool_calls"][0]["type"], "function");
    assert_eq!(m["tool_calls"][1]["function"]["arguments"], "{\"k\":[1,2]}");
    assert!(!acc.truncated());
}

#[test]
fn null_and_missing_arguments_finish_as_empty_object() {
    let stream = sse(&[
        delta(json!({"tool_calls": [{"index": 0, "id": "a", "function": {"name": "now", "arguments": null}}]})),
        delta(json!({"tool_calls": [{"index": 1, "id": "b", "function": {"name": "later"}}]})),
        finish("stop"),
    ]);
    let (acc, _, _) = run(&stream);
    let c = acc.choice(0).unwrap();
    assert_eq!(c.calls[0].arguments(), "{}");
    assert_eq!(c.calls[1].outcome, Some(Ok(())));
    assert_eq!(c.finish_reason.as_deref(), Some("stop"));
}

#[test]
fn usage_last_one_wins_and_empty_choices() {
    let stream = sse(&[
        json!({"choices": [], "prompt_filter_results": [{"prompt_index": 0}]}),
        json!({"choices": [{"index": 0, "delta": {"content": "a"}}], "usage": {"total_tokens": 1}}),
        json!({"choices": [{"index": 0, "content_filter_results": {}}]}),
        json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}], "usage": {"total_tokens": 5}}),
        json!({"choices": [], "usage": {"total_tokens": 7}}),
        json!({"choices": [{"index": 0, "content_filter_results": {"hate": {"filtered": false}}}]}),
    ]);
    let (acc, _, err) = run(&stream);
    assert!(err.is_none());
    assert_eq!(acc.usage(), Some("{\"total_tokens\":7}"));
    assert!(!acc.truncated());
}

#[test]
fn error_object_mid_stream_keeps_state() {
    let stream = sse(&[
        delta(json!({"content": "partial"})),
        json!({"error": {"message": "overloaded", "type": "server_error", "code": 529}}),
        json!({"object": "error", "message": "bad", "type": "BadRequestError", "code": 400}),
    ]);
    let (acc, events, err) = run(&stream);
    assert!(err.is_none());
    let errs: Vec<&ProviderError> = events
        .iter()
        .filter_map(|e| if let Event::ProviderError(p) = e { Some(p) } else { None })
        .collect();
    assert_eq!(errs[0].message, "overloaded");
    assert_eq!(errs[0].code.as_deref(), Some("529"));
    assert_eq!(errs[1].kind.as_deref(), Some("BadRequestError"));
    assert_eq!(acc.choice(0).unwrap().content, "partial");
    assert!(acc.truncated());
}

#[test]
fn malformed_chunk_is_typed_and_loses_nothing() {
    let stream = "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\ndata: {\"choices\": [}\n\ndata: {\"choices\":[{\"delta\":{\"content\":\"b\"}}]}\n\n";
    let mut acc = Accumulator::default();
    let mut events = Vec::new();
    let err = acc.feed(stream.as_bytes(), &mut events).unwrap_err();
    let CoreError::Parse { kind, position, .. } = err else {
        panic!()
    };
    assert_eq!(kind, ParseKind::InvalidChunk);
    // The position is the event's first data byte; the message says where inside it.
    assert!(stream[position as usize..].starts_with("{\"choices\": [}"));
    assert_eq!(acc.choice(0).unwrap().content, "ab");
}

#[test]
fn cut_mid_call_is_truncated_with_incomplete_error() {
    let stream = sse(&[delta(
        json!({"tool_calls": [tc(Some(0), Some("c"), Some("f"), json!("{\"a\": [1, 2"))]}),
    )]) + "data: {\"choices\": [{\"delta\": {\"tool";
    let (acc, events, err) = run(&stream);
    assert!(
        err.is_none(),
        "a cut last chunk is truncation, not malformation: {err:?}"
    );
    assert!(acc.truncated());
    let call = &acc.choice(0).unwrap().calls[0];
    assert_eq!(
        call.outcome.as_ref().unwrap().as_ref().unwrap_err().kind,
        ParseKind::Incomplete
    );
    assert_eq!(kinds(&events).last(), Some(&"finished"));
}

#[test]
fn malformed_arguments_finish_with_error() {
    let stream = sse(&[
        delta(json!({"tool_calls": [tc(Some(0), Some("c"), Some("f"), json!("{\"a\" 1}"))]})),
        finish("tool_calls"),
    ]);
    let (acc, _, _) = run(&stream);
    let call = &acc.choice(0).unwrap().calls[0];
    assert_eq!(
        call.outcome.as_ref().unwrap().as_ref().unwrap_err().kind,
        ParseKind::Malformed
    );
}

#[test]
fn legacy_function_call() {
    let stream = sse(&[
        delta(json!({"function_call": {"name": "lookup", "arguments": ""}})),
        delta(json!({"function_call": {"arguments": "{\"id\": 3}"}})),
        finish("function_call"),
    ]);
    let (acc, _, _) = run(&stream);
    assert_eq!(
        message(&acc, 0)["function_call"],
        json!({"name": "lookup", "arguments": "{\"id\": 3}"})
    );
}

#[test]
fn reasoning_and_multiple_choices() {
    let stream = sse(&[
        json!({"choices": [{"index": 0, "delta": {"reasoning_content": "think", "content": null}}, {"index": 1, "delta": {"content": "B"}}]}),
        json!({"choices": [{"index": 0, "delta": {"content": "A"}, "finish_reason": "stop"}, {"index": 1, "delta": {}, "finish_reason": "length"}]}),
    ]);
    let (acc, _, _) = run(&stream);
    assert_eq!(
        message(&acc, 0),
        json!({"role": "assistant", "content": "A", "reasoning_content": "think"})
    );
    assert_eq!(message(&acc, 1), json!({"role": "assistant", "content": "B"}));
    assert_eq!(acc.choice(1).unwrap().finish_reason.as_deref(), Some("length"));
}

#[test]
fn every_split_gives_the_same_state() {
    let stream = sse(&[
        delta(json!({"content": "héllo 😀"})),
        delta(json!({"tool_calls": [tc(Some(0), Some("c1"), Some("get"), json!("{\"city\": \"Zü"))]})),
        delta(json!({"tool_calls": [tc(Some(0), None, None, json!("rich\"}"))]})),
        finish("tool_calls"),
    ])
    .replace("\n\n", "\r\n\r\n");
    let (whole, _, _) = run(&stream);
    let want = message(&whole, 0);
    let bytes = stream.as_bytes();
    for i in 0..=bytes.len() {
        let mut acc = Accumulator::default();
        let mut events = Vec::new();
        acc.feed(&bytes[..i], &mut events).unwrap();
        acc.feed(&bytes[i..], &mut events).unwrap();
        acc.finish(&mut events).unwrap();
        assert_eq!(message(&acc, 0), want, "split at {i}");
    }
}

/// Chunks of one shape around another string are read from the read itself, before their
/// line is looked for (`EventHandler::event_from`); fed a byte at a time they are read through
/// their lines. Both give the same events, state and faults, with the event size limit cutting
/// the one long token, and nothing read after `[DONE]`.
#[test]
fn a_chunk_read_before_its_line_is_found_is_read_as_through_it() {
    let head = |d: J| json!({"id": "c", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": d, "finish_reason": null}]});
    let mut chunks = vec![head(json!({"role": "assistant", "content": ""}))];
    for token in ["a", "b\"", "é", &"x".repeat(300), "\\n", "c"] {
        chunks.push(head(json!({"content": token})));
    }
    chunks.push(head(
        json!({"tool_calls": [tc(Some(0), Some("c1"), Some("f"), json!(""))]}),
    ));
    for fragment in ["{\"k\"", ": [1,", " \"\\u00e9\"]}"] {
        chunks.push(head(json!({"tool_calls": [tc(Some(0), None, None, json!(fragment))]})));
    }
    let mut stream = sse(&chunks);
    stream.push_str("data: [DONE]\n\n");
    stream.push_str(&sse(&[head(json!({"content": "after"}))]));
    let limits = Limits {
        max_event_bytes: 300,
        ..Limits::default()
    };
    let read = |reads: &mut dyn Iterator<Item = &[u8]>| {
        let mut acc = Accumulator::new(limits);
        let mut events = Vec::new();
        let errors: Vec<_> = reads.filter_map(|r| acc.feed(r, &mut events).err()).collect();
        acc.finish(&mut events).unwrap();
        (format!("{events:?} {errors:?}"), message(&acc, 0))
    };
    let whole = read(&mut std::iter::once(stream.as_bytes()));
    let bytewise = read(&mut stream.as_bytes().chunks(1));
    assert_eq!(whole, bytewise);
    assert_eq!(whole.1["content"], "ab\"é\\nc");
    assert!(whole.0.contains("max_event_bytes"), "{}", whole.0);
    assert_eq!(
        whole.1["tool_calls"][0]["function"]["arguments"],
        "{\"k\": [1, \"\\u00e9\"]}"
    );
}

#[test]
fn limits_are_enforced_and_keep_state() {
    let limits = Limits {
        max_tool_calls: 1,
        max_arguments_bytes: 8,
        ..Limits::default()
    };
    let stream = sse(&[
        delta(json!({"tool_calls": [tc(Some(0), Some("a"), Some("f"), json!("{\"k\":1}"))]})),
        delta(json!({"tool_calls": [tc(Some(0), None, None, json!("  more"))]})),
        delta(json!({"tool_calls": [tc(Some(1), Some("b"), Some("g"), json!("{}"))]})),
    ]);
    let mut acc = Accumulator::new(limits);
    let mut events = Vec::new();
    let err = acc.feed(stream.as_bytes(), &mut events).unwrap_err();
    assert!(matches!(
        err,
        CoreError::Limit {
            limit: "max_arguments_bytes",
            ..
        }
    ));
    assert_eq!(acc.choice(0).unwrap().calls.len(), 1);
    assert_eq!(acc.choice(0).unwrap().calls[0].arguments(), "{\"k\":1}");
}

#[test]
fn no_events_sink_builds_the_same_state() {
    let stream = sse(&[
        delta(json!({"content": "x"})),
        delta(json!({"tool_calls": [tc(Some(0), Some("a"), Some("f"), json!("{}"))]})),
    ]);
    let mut acc = Accumulator::default();
    acc.feed(stream.as_bytes(), &mut NoEvents).unwrap();
    acc.finish(&mut NoEvents).unwrap();
    let (with_events, _, _) = run(&stream);
    assert_eq!(message(&acc, 0), message(&with_events, 0));
}

#[test]
fn ready_keeps_its_moment_within_a_read() {
    let stream = sse(&[
        delta(json!({"tool_calls": [tc(Some(0), Some("a"), Some("f"), json!("{}"))]})),
        delta(json!({"tool_calls": [tc(Some(0), None, None, json!("x"))]})),
    ]);
    let (_, events, _) = run(&stream);
    assert!(events.contains(&Event::CallReady {
        choice: 0,
        call: 0,
        len: 2
    }));
}

#[test]
fn over_limit_call_drops_later_fragments_and_finishes_with_error() {
    let limits = Limits {
        max_arguments_bytes: 8,
        ..Limits::default()
    };
    let stream = sse(&[
        delta(json!({"tool_calls": [tc(Some(0), Some("a"), Some("f"), json!("{\"a\":"))]})),
        delta(json!({"tool_calls": [tc(Some(0), None, None, json!("\"xxxxxxxxxxxx\""))]})),
        delta(json!({"tool_calls": [tc(Some(0), None, None, json!("}"))]})),
        finish("tool_calls"),
    ]);
    let mut acc = Accumulator::new(limits);
    let mut events = Vec::new();
    assert!(acc.feed(stream.as_bytes(), &mut events).is_err());
    let call = &acc.choice(0).unwrap().calls[0];
    assert_eq!(call.arguments(), "{\"a\":");
    assert_eq!(
        call.outcome.as_ref().unwrap().as_ref().unwrap_err().kind,
        ParseKind::Incomplete
    );
}

#[test]
fn whitespace_only_arguments_are_incomplete_not_empty() {
    let stream = sse(&[
        delta(json!({"tool_calls": [tc(Some(0), Some("a"), Some("f"), json!("  "))]})),
        finish("stop"),
    ]);
    let (acc, _, _) = run(&stream);
    let call = &acc.choice(0).unwrap().calls[0];
    assert_eq!(call.arguments(), "  ");
    assert_eq!(
        call.outcome.as_ref().unwrap().as_ref().unwrap_err().kind,
        ParseKind::Incomplete
    );
}

#[test]
fn cut_inside_a_number_at_the_end_is_truncation() {
    for tail in ["12.", "-", "1e", "1e+"] {
        let stream = format!("data: {{\"choices\": [], \"x\": {tail}");
        let (acc, _, err) = run(&stream);
        assert!(err.is_none(), "{tail}: {err:?}");
        assert!(acc.truncated());
    }
}

#[test]
fn provider_error_message_falls_back_to_top_level() {
    let (_, events, _) = run("data: {\"error\": {\"code\": \"c\"}, \"message\": \"top\"}\n\n");
    let Some(Event::ProviderError(err)) = events.first() else {
        panic!()
    };
    assert_eq!(err.message, "top");
    assert_eq!(err.code.as_deref(), Some("\"c\""));
}

// ---- fuzz-lite: token soup that looks like SSE chat streams --------------------------------

mod fuzz_lite {
    use proptest::prelude::*;

    use super::*;

    fn token() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("data: ".to_owned()),
            Just("\n".to_owned()),
            Just("\r\n".to_owned()),
            Just("\r".to_owned()),
            Just(": c\n".to_owned()),
            Just("event: error\n".to_owned()),
            Just("data: [DONE]\n\n".to_owned()),
            Just("{\"choices\":[{\"index\":0,\"delta\":".to_owned()),
            Just("{\"tool_calls\":[{\"index\":0,\"id\":\"a\",\"function\":{\"name\":\"f\",\"arguments\":\"{\\\"k\\\": [1, \"}}]}".to_owned()),
            Just("{\"tool_calls\":[{\"function\":{\"arguments\":{\"o\": 1}}}]}".to_owned()),
            Just("{\"content\":\"hé😀\"}".to_owned()),
            Just(",\"finish_reason\":\"tool_calls\"}]}".to_owned()),
            Just("}]}".to_owned()),
            Just("{\"error\":{\"message\":\"x\"}}".to_owned()),
            Just("\u{feff}".to_owned()),
            "[ -~]{0,6}",
            any::<String>().prop_map(|s| s.chars().take(4).collect()),
        ]
    }

    type Calls = Vec<(String, String, String)>;

    fn state(acc: &Accumulator) -> Vec<(u32, String, Calls, Option<String>)> {
        acc.choices()
            .iter()
            .map(|c| {
                (
                    c.index,
                    c.content.clone(),
                    c.calls
                        .iter()
                        .map(|k| (k.id.clone(), k.name.clone(), k.arguments().to_owned()))
                        .collect(),
                    c.finish_reason.clone(),
                )
            })
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

        #[test]
        fn fuzz_token_soup_split_invariant(tokens in prop::collection::vec(token(), 0..40), raw in prop::collection::vec(any::<u8>(), 0..8), cut in any::<prop::sample::Index>()) {
            let mut bytes = tokens.concat().into_bytes();
            bytes.extend(raw);
            let cut = cut.index(bytes.len() + 1);
            let mut whole = Accumulator::default();
            let mut ew = Vec::new();
            let _ = whole.feed(&bytes, &mut ew);
            let _ = whole.finish(&mut ew);
            let mut split = Accumulator::default();
            let mut es = Vec::new();
            let _ = split.feed(&bytes[..cut], &mut es);
            let _ = split.feed(&bytes[cut..], &mut es);
            let _ = split.finish(&mut es);
            prop_assert_eq!(state(&whole), state(&split));
            prop_assert_eq!(whole.truncated(), split.truncated());
        }

        #[test]
        fn fuzz_partial_json_bytes_split_invariant(bytes in prop::collection::vec(prop_oneof![Just(b'{'), Just(b'}'), Just(b'['), Just(b']'), Just(b'"'), Just(b'\\'), Just(b'u'), Just(b':'), Just(b','), Just(b'1'), Just(b'e'), Just(b'-'), Just(b' '), any::<u8>()], 0..64), cut in any::<prop::sample::Index>()) {
            let cut = cut.index(bytes.len() + 1);
            let mut whole = PartialJson::new();
            let rw = whole.feed_bytes(&bytes);
            let mut split = PartialJson::new();
            let r1 = split.feed_bytes(&bytes[..cut]);
            let rs = if r1.is_ok() { split.feed_bytes(&bytes[cut..]) } else { r1 };
            prop_assert_eq!(rw.is_ok(), rs.is_ok());
            if rw.is_ok() {
                prop_assert_eq!(whole.value(), split.value());
            }
        }
    }
}

#[test]
fn content_limit_keeps_a_prefix_of_each_field() {
    let limits = Limits {
        max_content_bytes: 5,
        ..Limits::default()
    };
    let stream = sse(&[
        delta(json!({"content": "abc", "reasoning_content": "r"})),
        delta(json!({"content": "def"})),
        delta(json!({"content": "g", "refusal": "no"})),
        delta(json!({"reasoning_content": "1234"})),
        delta(json!({"reasoning_content": "5"})),
        finish("stop"),
    ]);
    let mut acc = Accumulator::new(limits);
    let mut events = Vec::new();
    let err = acc.feed(stream.as_bytes(), &mut events).unwrap_err();
    assert!(
        matches!(
            err,
            CoreError::Limit {
                limit: "max_content_bytes",
                value: 5,
                ..
            }
        ),
        "{err:?}"
    );
    let choice = acc.choice(0).unwrap();
    // "g" would fit after "abc" but "def" was dropped: later text of the field is dropped too.
    assert_eq!(
        (
            choice.content.as_str(),
            choice.reasoning.as_str(),
            choice.refusal.as_str()
        ),
        ("abc", "r1234", "no")
    );
    assert_eq!(kinds(&events), vec!["reasoning", "text", "reasoning", "finish"]);
    assert_eq!(choice.finish_reason.as_deref(), Some("stop"));
}

#[test]
fn usage_must_be_an_object_within_max_depth() {
    let deep = format!("{{\"a\": {}1{}}}", "[".repeat(600), "]".repeat(600));
    let stream = format!(
        "data: {}\n\ndata: {{\"choices\": [], \"usage\": 5}}\n\ndata: {{\"choices\": [], \"usage\": {deep}}}\n\ndata: {{\"usage\": [1]}}\n\n",
        json!({"choices": [], "usage": {"total_tokens": 3}})
    );
    let mut acc = Accumulator::default();
    let mut events = Vec::new();
    let err = acc.feed(stream.as_bytes(), &mut events).unwrap_err();
    assert!(
        matches!(
            err,
            CoreError::Limit {
                limit: "max_depth",
                value: 512,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(kinds(&events), vec!["usage"]);
    assert_eq!(acc.usage(), Some("{\"total_tokens\":3}"));
    assert_eq!(acc.usage_count(), 1);
}

#[test]
fn index_out_of_u32_range_is_an_invalid_chunk() {
    for chunk in [
        json!({"choices": [{"index": 4_294_967_296_u64, "delta": {"content": "x"}}]}),
        json!({"choices": [{"index": -1, "delta": {"content": "x"}}]}),
        json!({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 4_294_967_296_u64, "function": {"arguments": "{}"}}]}}]}),
    ] {
        let (acc, events, err) = run(&sse(&[delta(json!({"content": "a"})), chunk.clone()]));
        assert!(
            matches!(
                err,
                Some(CoreError::Parse {
                    kind: ParseKind::InvalidChunk,
                    ..
                })
            ),
            "{chunk}: {err:?}"
        );
        assert_eq!(acc.choice(0).unwrap().content, "a", "{chunk}");
        assert_eq!(kinds(&events), vec!["text"], "{chunk}");
    }
}

#[test]
fn arguments_deeper_than_max_depth_raise_once_and_finish_with_the_limit() {
    let limits = Limits {
        max_depth: 4,
        ..Limits::default()
    };
    let stream = sse(&[
        delta(json!({"tool_calls": [tc(Some(0), Some("a"), Some("f"), json!("{\"a\": [[["))]})),
        delta(json!({"tool_calls": [tc(Some(0), None, None, json!("[1]]]]}"))]})),
        finish("tool_calls"),
    ]);
    let mut acc = Accumulator::new(limits);
    let mut events = Vec::new();
    let err = acc.feed(stream.as_bytes(), &mut events).unwrap_err();
    assert!(
        matches!(
            err,
            CoreError::Limit {
                limit: "max_depth",
                value: 4,
                ..
            }
        ),
        "{err:?}"
    );
    let call = &acc.choice(0).unwrap().calls[0];
    assert!(!call.ready);
    assert_eq!(call.arguments(), "{\"a\": [[[[1]]]]}");
    assert_eq!(
        call.outcome.as_ref().unwrap().as_ref().unwrap_err().kind,
        ParseKind::TooDeep
    );
    assert_eq!(kinds(&events), vec!["started", "delta", "finished", "finish"]);
}

#[test]
fn cut_inside_a_character_of_the_last_event_is_truncation() {
    let full = sse(&[delta(json!({"content": "ok"})), delta(json!({"content": "é"}))]);
    let cut = &full.as_bytes()[..=full.find('é').unwrap()];
    let mut acc = Accumulator::default();
    let mut events = Vec::new();
    acc.feed(cut, &mut events).unwrap();
    acc.finish(&mut events).unwrap();
    assert_eq!(acc.choice(0).unwrap().content, "ok");
    assert!(acc.truncated());
}

#[test]
fn mistral_content_parts_are_text_and_reasoning() {
    let stream = sse(&[
        delta(
            json!({"content": [{"type": "thinking", "thinking": [{"type": "text", "text": "Let me "}, {"type": "text", "text": "add."}]}]}),
        ),
        delta(json!({"content": [{"type": "thinking", "thinking": "Sure."}, {"type": "text", "text": "3"}]})),
        delta(json!({"content": "91"})),
        delta(json!({"content": [{"type": "image_url", "image_url": "x"}, 5, "str", {"text": "!"}]})),
        finish("stop"),
    ]);
    let (acc, events, err) = run(&stream);
    assert!(err.is_none(), "{err:?}");
    let choice = acc.choice(0).unwrap();
    assert_eq!(
        (choice.content.as_str(), choice.reasoning.as_str()),
        ("391!", "Let me add.Sure.")
    );
    assert_eq!(kinds(&events), vec!["reasoning", "text", "finish"]);
}

#[test]
fn the_arguments_limit_counts_decoded_text() {
    // `{\"a\":` is 7 bytes as sent and 5 decoded: it fits a limit of 6, and `1` after it too.
    let limits = Limits {
        max_arguments_bytes: 6,
        ..Limits::default()
    };
    let stream = sse(&[
        delta(json!({"tool_calls": [tc(Some(0), Some("a"), Some("f"), json!("{\"a\":"))]})),
        delta(json!({"tool_calls": [tc(Some(0), None, None, json!("1"))]})),
        delta(json!({"tool_calls": [tc(Some(0), None, None, json!("}"))]})),
    ]);
    let mut acc = Accumulator::new(limits);
    let mut events = Vec::new();
    let err = acc.feed(stream.as_bytes(), &mut events).unwrap_err();
    assert!(matches!(
        err,
        CoreError::Limit {
            limit: "max_arguments_bytes",
            ..
        }
    ));
    assert_eq!(acc.choice(0).unwrap().calls[0].arguments(), "{\"a\":1");
}

#[test]
fn reads_kept_inside_a_line_read_as_fed() {
    let plain = sse(&[
        delta(json!({"content": "héllo"})),
        delta(json!({"tool_calls": [tc(Some(0), Some("a"), Some("f"), json!("{\"k\": \"v\"}"))]})),
        finish("tool_calls"),
    ]);
    let crlf = format!("\u{feff}{}", plain.replace('\n', "\r\n"));
    for stream in [plain, crlf] {
        let bytes = stream.as_bytes();
        for size in [1, 3, 7, 64] {
            let mut fed = Accumulator::default();
            let mut kept = Accumulator::default();
            let (mut fed_events, mut kept_events) = (Vec::new(), Vec::new());
            let mut taken = 0;
            for read in bytes.chunks(size) {
                fed.feed(read, &mut fed_events).unwrap();
                if kept.keep_inside_line(read) {
                    taken += 1;
                } else {
                    kept.feed(read, &mut kept_events).unwrap();
                }
            }
            fed.finish(&mut fed_events).unwrap();
            kept.finish(&mut kept_events).unwrap();
            assert!(taken > 0, "{size}");
            assert_eq!(message(&kept, 0), message(&fed, 0), "{size}");
            assert_eq!(kept_events, fed_events, "{size}");
        }
    }
}
