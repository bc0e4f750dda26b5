//! multiprocessing.connection on arbitrary bytes: the frame header parser never panics,
//! never accepts a length over the cap, and what it accepts re-encodes to the same bytes;
//! the handshake steps refuse garbage with an error, never a panic, and only a correct
//! MAC verifies.
//! The checks live in fuzz/checks.rs (`mpconn_frames::check`), shared with tests/fuzz_regressions.rs.

#![no_main]

#[path = "../checks.rs"]
#[allow(dead_code)] // each target uses one module of the shared file
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::mpconn_frames::check(data));
