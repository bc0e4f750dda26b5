//! The authkey handshake in both roles on arbitrary input: the key, the challenge frame a
//! server sends and the reply a client sends are all taken from the fuzz input. Never a
//! panic; whatever `answer` (the client role) produces, `verify` (the server role) accepts;
//! whatever `verify` accepts is a MAC of the challenge under the key; recipe 9's challenge
//! check (src/auth.rs) only accepts the right HMAC.
//!
//! Input layout: [key_len][reply_len][key][reply][challenge frame...].

#![no_main]

use libfuzzer_sys::fuzz_target;
use netkit::proto::challenge::{self, Digest};
use netkit::proto::mpconn::{self, CHALLENGE};

fuzz_target!(|data: &[u8]| {
    let [key_len, reply_len, rest @ ..] = data else {
        return;
    };
    let (key_len, reply_len) = (usize::from(*key_len % 64), usize::from(*reply_len));
    let Some((key, rest)) = rest.split_at_checked(key_len) else {
        return;
    };
    let Some((reply, frame)) = rest.split_at_checked(reply_len.min(rest.len())) else {
        return;
    };

    // Client role, then the server role on the client's own answer.
    if let Ok(answer) = mpconn::answer(key, frame) {
        assert!(answer.len() <= mpconn::HANDSHAKE_FRAME_CAP as usize);
        assert_eq!(mpconn::verify(key, frame, &answer), Ok(()));
    }
    // Server role on an arbitrary reply: accepted only if it is a MAC of the message.
    if mpconn::verify(key, frame, reply).is_ok() {
        let message = &frame[CHALLENGE.len()..];
        let legacy = Digest::Md5.mac(key, message);
        let named = Digest::ALL.into_iter().any(|d| {
            let mut expected = format!("{{{}}}", d.name()).into_bytes();
            expected.extend_from_slice(&d.mac(key, message));
            expected == reply
        });
        assert!(reply == legacy || named, "accepted a reply that is no MAC of the challenge");
    }
    // Recipe 9 (--hmac-key on echo): a raw HMAC of the challenge, nothing else.
    for digest in Digest::ALL {
        if challenge::verify(digest, key, frame, reply) {
            assert_eq!(challenge::respond(digest, key, frame), reply);
        }
    }
});
