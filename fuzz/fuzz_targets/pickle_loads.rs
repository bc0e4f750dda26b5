//! The unpickler on arbitrary bytes, with tight limits: it must return a value or a typed
//! error, never panic, hang or blow memory. A value it returns must survive
//! dumps → loads unchanged (protocols 4 and 5; protocol 2 renames some exception classes
//! by design, so there it only has to load again).
#![no_main]

use libfuzzer_sys::fuzz_target;
use netkit::proto::pickle::{dumps, loads, Limits, Protocol};

fuzz_target!(|data: &[u8]| {
    let tight = Limits {
        max_depth: 64,
        max_memo: 4096,
        max_alloc: 1 << 20,
        max_int_bytes: 256,
    };
    let Ok(v) = loads(data, &tight) else { return };
    for p in [Protocol::V4, Protocol::V5] {
        let bytes = dumps(&v, p);
        let again = loads(&bytes, &Limits::default()).expect("our own pickle loads");
        assert!(again == v, "protocol {p:?} round trip changed {v:?} into {again:?}");
    }
    for p in [Protocol::V2, Protocol::V3] {
        loads(&dumps(&v, p), &Limits::default()).expect("our own old-protocol pickle loads");
    }
});
