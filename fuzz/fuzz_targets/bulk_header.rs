//! Fuzzes what a bulk receiver parses from a peer: the header (with its `.npy` preamble)
//! and the sender-side reply. A decoded header must re-encode to the very bytes it came
//! from and describe a consistent range.
//! The checks live in fuzz/checks.rs (`bulk_header::check`), shared with tests/fuzz_regressions.rs.

#![no_main]

#[path = "../checks.rs"]
#[allow(dead_code)] // each target uses one module of the shared file
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::bulk_header::check(data));
