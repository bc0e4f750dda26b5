//! The authkey handshake in both roles on arbitrary input: the key, the challenge frame a
//! server sends and the reply a client sends are all taken from the fuzz input. Never a
//! panic; whatever `answer` (the client role) produces, `verify` (the server role) accepts;
//! whatever `verify` accepts is a MAC of the challenge under the key; recipe 9's challenge
//! check (src/auth.rs) only accepts the right HMAC.
//!
//! Input layout: [key_len][reply_len][key][reply][challenge frame...].
//! The checks live in fuzz/checks.rs (`mpconn_handshake::check`), shared with tests/fuzz_regressions.rs.

#![no_main]

#[path = "../checks.rs"]
#[allow(dead_code)] // each target uses one module of the shared file
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::mpconn_handshake::check(data));
