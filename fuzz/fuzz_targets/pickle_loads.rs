//! The unpickler on arbitrary bytes, with tight limits: it must return a value or a typed
//! error, never panic, hang or blow memory. A value it returns must survive
//! dumps → loads unchanged (protocols 4 and 5; protocol 2 renames some exception classes
//! by design, so there it only has to load again).
//! The checks live in fuzz/checks.rs (`pickle_loads::check`), shared with tests/fuzz_regressions.rs.

#![no_main]

#[path = "../checks.rs"]
#[allow(dead_code)] // each target uses one module of the shared file
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::pickle_loads::check(data));
