//! multiprocessing.connection on arbitrary bytes: the frame header parser never panics,
//! never accepts a length over the cap, and what it accepts re-encodes to the same bytes;
//! the handshake steps refuse garbage with an error, never a panic, and only a correct
//! MAC verifies.

#![no_main]

use libfuzzer_sys::fuzz_target;
use netkit::proto::mpconn;

fuzz_target!(|data: &[u8]| {
    let limit = 1 << 20;
    if let Ok(Some(header)) = mpconn::parse_header(data, limit) {
        assert!(header.payload_len <= limit);
        let encoded = mpconn::encode_header(header.payload_len);
        // The short form is canonical for small lengths; the long form may also carry them.
        if header.header_len == 4 {
            assert_eq!(&encoded[..], &data[..4]);
        }
        let again = mpconn::parse_header(&encoded, limit).unwrap().unwrap();
        assert_eq!(again.payload_len, header.payload_len);
    }
    // As a challenge frame, and as a reply to a fixed challenge.
    let _ = mpconn::answer(b"peekaboo", data);
    let challenge = b"#CHALLENGE#{sha256}0123456789012345678901234567890123456789";
    assert!(mpconn::verify(b"peekaboo", challenge, data).is_err() || {
        // Only the right answer (modern, or raw MD5 from a legacy client) may verify.
        let right = mpconn::answer(b"peekaboo", challenge).unwrap();
        data == &right[..] || data.len() == 16
    });
});
