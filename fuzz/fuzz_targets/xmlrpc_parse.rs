//! XML-RPC decoder on arbitrary bytes: never panics, and whatever it accepts it can
//! re-encode and read back unchanged.
//!
//! Seeds: `python3 fuzz/seeds/xmlrpc.py` (writes fuzz/corpus/xmlrpc_parse/).
#![no_main]

use libfuzzer_sys::fuzz_target;
use netkit::proto::xmlrpc::{
    encode_call, encode_fault, encode_response, parse_call, parse_response, Limits, Value,
};

/// Re-encoding may nest deeper and grow larger than the input (`<array><array>` becomes
/// `<value><array><data>…`, `<value/>` becomes `<value><string></string></value>`).
const UNLIMITED: Limits = Limits {
    max_document_size: usize::MAX,
    max_depth: usize::MAX,
    max_members: usize::MAX,
};

/// `\r` is written raw, as Python does, and XML reads it back as `\n`; values holding one
/// are only checked to re-parse, not to be identical.
fn has_cr(v: &Value) -> bool {
    match v {
        Value::String(s) => s.contains('\r'),
        Value::DateTime(d) => d.as_str().contains('\r'),
        Value::Array(items) => items.iter().any(has_cr),
        Value::Struct(m) => m.iter().any(|(k, v)| k.contains('\r') || has_cr(v)),
        _ => false,
    }
}

fn same(a: &[Value], b: &[Value]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.is_identical(y))
}

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    if let Ok(call) = parse_call(data, &limits) {
        let doc = encode_call(&call.name, &call.params);
        let back = parse_call(&doc, &UNLIMITED).expect("our own call re-parses");
        if !call.name.contains('\r') && !call.params.iter().any(has_cr) {
            assert_eq!(back.name, call.name);
            assert!(same(&back.params, &call.params), "{:?}\n{:?}", call.params, back.params);
        }
    }
    match parse_response(data, &limits) {
        Ok(Ok(params)) => {
            let wrapped = Value::Array(params);
            let doc = encode_response(&wrapped);
            let back = parse_response(&doc, &UNLIMITED)
                .expect("our own response re-parses")
                .expect("not a fault");
            if !has_cr(&wrapped) {
                assert!(same(&back, std::slice::from_ref(&wrapped)), "{wrapped:?}\n{back:?}");
            }
        }
        Ok(Err(fault)) => {
            let doc = encode_fault(fault.code, &fault.string);
            let back = parse_response(&doc, &UNLIMITED).expect("our own fault re-parses");
            if !fault.string.contains('\r') {
                assert_eq!(back, Err(fault));
            }
        }
        Err(e) => {
            let _ = e.to_fault();
        }
    }
});
