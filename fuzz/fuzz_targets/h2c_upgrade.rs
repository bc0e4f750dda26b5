//! h2c by Upgrade (src/proto/http/h2c.rs) on arbitrary bytes: the first-request
//! inspector, HTTP2-Settings and the client preface never panic, and an accepted upgrade
//! becomes well-framed HTTP/2 on stream 1.
//! The checks live in fuzz/checks.rs (`h2c_upgrade::check`), shared with tests/fuzz_regressions.rs.

#![no_main]

#[path = "../checks.rs"]
#[allow(dead_code)] // each target uses one module of the shared file
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::h2c_upgrade::check(data));
