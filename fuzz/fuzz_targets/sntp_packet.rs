//! SNTP packets on arbitrary bytes: parsing never panics, a parsed header re-encodes to
//! the same 48 bytes, and the time service answers every datagram with 24 bytes of ctime
//! or a 48-byte SNTP reply.
//! The checks live in fuzz/checks.rs (`sntp_packet::check`), shared with tests/fuzz_regressions.rs.

#![no_main]

#[path = "../checks.rs"]
#[allow(dead_code)] // each target uses one module of the shared file
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::sntp_packet::check(data));
