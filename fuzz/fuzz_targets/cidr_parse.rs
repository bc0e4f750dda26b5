//! The cidr parsers on arbitrary bytes: never panic, and whatever parses prints as text
//! that parses back to the same value and prints identically.
//! The checks live in fuzz/checks.rs (`cidr_parse::check`), shared with tests/fuzz_regressions.rs.

#![no_main]

#[path = "../checks.rs"]
#[allow(dead_code)] // each target uses one module of the shared file
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::cidr_parse::check(data));
