//! proptest: loads(dumps(v, p)) == v for arbitrary values and every protocol we write,
//! including shared subvalues; and loads never panics on arbitrary bytes.

use netkit::proto::pickle::{dumps, loads, Limits, Protocol, PyStr, Value};
use proptest::prelude::*;

fn hashable() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::None),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Int),
        any::<i128>().prop_map(|i| Value::int(i.into())),
        any::<f64>()
            .prop_filter("NaN keys never match", |f| !f.is_nan())
            .prop_map(Value::Float),
        ".{0,12}".prop_map(|s: String| Value::from(s)),
        prop::collection::vec(any::<u8>(), 0..12).prop_map(|b| Value::bytes(&b)),
    ];
    leaf.prop_recursive(2, 12, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::tuple),
            prop::collection::vec(inner, 0..4).prop_map(|v| Value::frozenset(v).unwrap()),
        ]
    })
}

/// `py2_safe`: exception classes that protocols 2 and 3 keep (ConnectionError becomes
/// OSError there, by Python's design).
fn value(py2_safe: bool) -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::None),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Int),
        any::<i128>().prop_map(|i| Value::int(i.into())),
        prop::collection::vec(any::<u8>(), 0..40)
            .prop_map(|b| Value::int(num_bigint::BigInt::from_signed_bytes_le(&b))),
        any::<f64>().prop_map(Value::Float),
        any::<String>().prop_map(Value::from),
        prop::collection::vec(0u32..0x11_0000, 0..6)
            .prop_map(|cps| Value::Str(PyStr::from_code_points(cps).unwrap())),
        prop::collection::vec(any::<u8>(), 0..40).prop_map(|b| Value::bytes(&b)),
        prop::collection::vec(any::<u8>(), 0..40).prop_map(Value::bytearray),
    ];
    let classes: &'static [&'static str] = if py2_safe {
        &["KeyError", "ValueError", "TypeError"]
    } else {
        &["KeyError", "ConnectionError", "RecursionError"]
    };
    leaf.prop_recursive(4, 64, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::tuple),
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::list),
            prop::collection::vec((hashable(), inner.clone()), 0..6)
                .prop_map(|kv| Value::dict(kv).unwrap()),
            prop::collection::vec(hashable(), 0..6).prop_map(|v| Value::set(v).unwrap()),
            prop::collection::vec(hashable(), 0..6).prop_map(|v| Value::frozenset(v).unwrap()),
            (
                prop::sample::select(classes),
                prop::collection::vec(inner.clone(), 0..3),
                prop::option::of(inner.clone())
            )
                .prop_map(|(c, args, attr)| {
                    let e = Value::exception(c, args);
                    if let (Value::Exception(o), Some(a)) = (&e, attr) {
                        o.borrow_mut().state =
                            Some(Value::dict([(Value::from("attr"), a)]).unwrap());
                    }
                    e
                }),
            // The same subvalue in two places: written once, then a memo GET.
            inner.prop_map(|v| Value::list(vec![v.clone(), Value::tuple(vec![v])])),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn round_trip_protocols_4_and_5(v in value(false)) {
        for p in [Protocol::V4, Protocol::V5] {
            let back = loads(&dumps(&v, p), &Limits::default()).unwrap();
            prop_assert_eq!(&back, &v);
            // Re-writing what we read gives the same bytes (identity kept).
            prop_assert_eq!(dumps(&back, p), dumps(&v, p));
        }
    }

    #[test]
    fn round_trip_protocols_2_and_3(v in value(true)) {
        for p in [Protocol::V2, Protocol::V3] {
            let back = loads(&dumps(&v, p), &Limits::default()).unwrap();
            prop_assert_eq!(&back, &v);
            prop_assert_eq!(dumps(&back, p), dumps(&v, p));
        }
    }

    #[test]
    fn loads_never_panics(data in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = loads(&data, &Limits::default());
    }

    #[test]
    fn loads_never_panics_on_mutated_pickles(v in value(false), i in any::<prop::sample::Index>(), b in any::<u8>()) {
        let mut data = dumps(&v, Protocol::V4);
        let at = i.index(data.len());
        data[at] = b;
        let _ = loads(&data, &Limits::default());
    }
}
