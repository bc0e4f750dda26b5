//! The HTTP service's own header and parameter grammars (src/proto/http) on arbitrary
//! text, and the WebSocket frame parser on arbitrary bytes: never panic, and every answer
//! stays inside what was asked for.
//! The checks live in fuzz/checks.rs (`http_headers::check`), shared with tests/fuzz_regressions.rs.

#![no_main]

#[path = "../checks.rs"]
#[allow(dead_code)] // each target uses one module of the shared file
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::http_headers::check(data));
