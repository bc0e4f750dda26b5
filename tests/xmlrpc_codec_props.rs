//! Property: decoding what we encode gives back the same values; the shortcut for common
//! calls answers exactly as the full parser, and does answer for what Python sends.

use netkit::proto::xmlrpc::{
    encode_call, encode_fault, encode_response, parse_call, parse_call_in_full, parse_common_call,
    parse_response, DateTime, Fault, Limits, Value,
};
use proptest::prelude::*;

/// Text that survives XML: no `\r` (XML reads it as `\n`, in Python too) and no characters
/// XML 1.0 forbids. Everything else, markup characters included, must round-trip.
fn xml_text() -> impl Strategy<Value = String> {
    proptest::collection::vec(any::<char>(), 0..24).prop_map(|chars| {
        chars
            .into_iter()
            .map(|c| match c {
                '\t' | '\n' => c,
                c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => '&',
                c if (c as u32).is_multiple_of(7) => '<',
                c => c,
            })
            .collect()
    })
}

/// DateTime text is trimmed on input (Python's `.strip()`), so none at the ends.
fn datetime_text() -> impl Strategy<Value = DateTime> {
    prop_oneof![
        (
            0u32..10000,
            1u32..13,
            1u32..29,
            0u32..24,
            0u32..60,
            0u32..60
        )
            .prop_map(|(y, mo, d, h, mi, s)| DateTime::new(format!(
                "{y:04}{mo:02}{d:02}T{h:02}:{mi:02}:{s:02}"
            ))),
        xml_text().prop_map(|s| DateTime::new(s.trim_matches(|c: char| c.is_whitespace()))),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        any::<i64>().prop_map(Value::Int),
        any::<i32>().prop_map(Value::from),
        any::<bool>().prop_map(Value::Bool),
        xml_text().prop_map(Value::String),
        any::<f64>().prop_map(Value::Double),
        prop_oneof![Just(f64::NAN), Just(f64::INFINITY), Just(-0.0)].prop_map(Value::Double),
        datetime_text().prop_map(Value::DateTime),
        proptest::collection::vec(any::<u8>(), 0..130).prop_map(Value::Base64),
        Just(Value::Nil),
    ];
    leaf.prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec((xml_text(), inner), 0..6).prop_map(|members| {
                // Names are unique in a struct (a repeated one collapses, as in a dict).
                let mut unique: Vec<(String, Value)> = Vec::new();
                for (k, v) in members {
                    if unique.iter().all(|(n, _)| *n != k) {
                        unique.push((k, v));
                    }
                }
                Value::Struct(unique)
            }),
        ]
    })
}

fn assert_same(got: &[Value], want: &[Value]) -> Result<(), TestCaseError> {
    prop_assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(want) {
        prop_assert!(g.is_identical(w), "got {:?}\nwant {:?}", g, w);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn call_round_trips(name in xml_text(), params in proptest::collection::vec(value(), 0..5)) {
        let doc = encode_call(&name, &params);
        let call = parse_call(&doc, &Limits::default()).map_err(|e| TestCaseError::fail(format!("{e}")))?;
        prop_assert_eq!(call.name, name);
        assert_same(&call.params, &params)?;
    }

    #[test]
    fn response_round_trips(v in value()) {
        let doc = encode_response(&v);
        let got = parse_response(&doc, &Limits::default()).map_err(|e| TestCaseError::fail(format!("{e}")))?;
        let got = got.map_err(|f| TestCaseError::fail(format!("{f}")))?;
        assert_same(&got, std::slice::from_ref(&v))?;
    }

    #[test]
    fn fault_round_trips(code in any::<i32>(), text in xml_text()) {
        let doc = encode_fault(code, &text);
        let got = parse_response(&doc, &Limits::default()).map_err(|e| TestCaseError::fail(format!("{e}")))?;
        prop_assert_eq!(got, Err(Fault::new(code, text)));
    }

    /// Any string at all encodes without panicking, and the decoder answers (perhaps with
    /// an error, for characters XML cannot carry) without panicking.
    #[test]
    fn any_string_is_safe(s in any::<String>()) {
        let doc = encode_response(&Value::String(s.clone()));
        match parse_response(&doc, &Limits::default()) {
            Ok(Ok(v)) => {
                let want = s.replace("\r\n", "\n").replace('\r', "\n");
                prop_assert_eq!(v, vec![Value::String(want)]);
            }
            Ok(Err(f)) => return Err(TestCaseError::fail(format!("fault {f}"))),
            Err(_) => {
                let forbidden = |c: char| {
                    ((c as u32) < 0x20 && !"\t\n\r".contains(c)) || c == '\u{FFFE}' || c == '\u{FFFF}'
                };
                prop_assert!(s.chars().any(forbidden), "refused a string XML can carry");
            }
        }
    }
}

/// The calls `xmlrpc.client` sends to the recipe's server: a method name and string,
/// 32-bit int and boolean parameters.
fn common_param() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<String>().prop_map(Value::String),
        xml_text().prop_map(Value::String),
        // What the shortcut must leave alone: controls, `\r`, U+FFFE/U+FFFF beside text.
        "[a-z\\x00-\\x1f\\u{FFFD}-\\u{FFFF}]{0,8}".prop_map(Value::String),
        any::<i32>().prop_map(Value::from),
        any::<bool>().prop_map(Value::Bool),
    ]
}

/// The shortcut answered (`Some`) only with the full parser's own answer.
fn shortcut_agrees(doc: &[u8], limits: &Limits) -> Result<bool, TestCaseError> {
    match parse_common_call(doc, limits) {
        Some(call) => {
            prop_assert_eq!(parse_call_in_full(doc, limits), Ok(call));
            Ok(true)
        }
        None => Ok(false),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    /// Python's calls take the shortcut unless a string holds what it leaves to the full
    /// parser (`\r`, a character XML forbids), and either way the answer is the full
    /// parser's.
    #[test]
    fn shortcut_takes_common_calls_as_the_full_parser_does(
        name in "[A-Za-z_][A-Za-z0-9_.]{0,20}",
        params in proptest::collection::vec(common_param(), 0..5),
    ) {
        let doc = encode_call(&name, &params);
        let taken = shortcut_agrees(&doc, &Limits::default())?;
        // (`]]>` cannot occur: `>` is written as `&gt;`.)
        let simple = |s: &str| {
            !s.chars().any(|c| (c < ' ' && c != '\t' && c != '\n') || c == '\u{FFFE}' || c == '\u{FFFF}')
        };
        let expected = params.iter().all(|p| p.as_str().is_none_or(simple));
        prop_assert_eq!(taken, expected, "{}", String::from_utf8_lossy(&doc));
    }

    /// Any value of any type, and any one-byte change to a call: whenever the shortcut
    /// answers, the full parser answers the same.
    #[test]
    fn shortcut_never_disagrees(
        params in proptest::collection::vec(value(), 0..4),
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
        replace in any::<bool>(),
    ) {
        let mut doc = encode_call("set", &params);
        shortcut_agrees(&doc, &Limits::default())?;
        let i = at.index(doc.len() + 1);
        if replace && i < doc.len() {
            doc[i] = byte;
        } else {
            doc.insert(i, byte);
        }
        shortcut_agrees(&doc, &Limits::default())?;
    }
}

#[test]
fn carriage_returns_read_back_as_newlines_as_in_python() {
    let doc = encode_response(&Value::from("a\r\nb\rc"));
    assert!(
        doc.windows(6).any(|w| w == b"a\r\nb\rc"),
        "written raw, like Python"
    );
    let got = parse_response(&doc, &Limits::default())
        .expect("parses")
        .expect("no fault");
    assert_eq!(got, [Value::from("a\nb\nc")]);
}
