//! XML-RPC decoder on arbitrary bytes: never panics, and whatever it accepts it can
//! re-encode and read back unchanged.
//!
//! The checks live in fuzz/checks.rs (`xmlrpc_parse::check`), shared with tests/fuzz_regressions.rs.

#![no_main]

#[path = "../checks.rs"]
#[allow(dead_code)] // each target uses one module of the shared file
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::xmlrpc_parse::check(data));
