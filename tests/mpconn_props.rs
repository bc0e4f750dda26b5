//! Property tests of the multiprocessing.connection codec: framing round-trips at every
//! length and split point, and the handshake accepts exactly the right key.

use netkit::proto::challenge::Digest;
use netkit::proto::mpconn::{self, FrameHeader};
use proptest::prelude::*;

proptest! {
    #[test]
    fn headers_round_trip(len in prop_oneof![0u64..=70_000, 0x7fff_fff0u64..=0x8000_0010, any::<u64>()]) {
        let header = mpconn::encode_header(len);
        let expected_header_len = if len > mpconn::MAX_SHORT_FRAME { 12 } else { 4 };
        prop_assert_eq!(header.len(), expected_header_len);
        prop_assert_eq!(
            mpconn::parse_header(&header, u64::MAX),
            Ok(Some(FrameHeader { header_len: expected_header_len, payload_len: len }))
        );
        // Any prefix is "need more", never an error or a wrong length.
        for cut in 0..header.len() {
            prop_assert_eq!(mpconn::parse_header(&header[..cut], u64::MAX), Ok(None));
        }
        if len > 0 {
            prop_assert!(mpconn::parse_header(&header, len - 1).is_err());
        }
    }

    #[test]
    fn only_the_right_key_passes_the_handshake(
        key in proptest::collection::vec(any::<u8>(), 1..64),
        other in proptest::collection::vec(any::<u8>(), 1..64),
        modern in any::<bool>(),
    ) {
        let challenge = mpconn::new_challenge(Digest::Sha256);
        let reply = if modern {
            mpconn::answer(&key, &challenge).unwrap()
        } else {
            // What Python <= 3.11 sends: raw HMAC-MD5 over the whole message.
            Digest::Md5.mac(&key, &challenge[mpconn::CHALLENGE.len()..])
        };
        prop_assert_eq!(mpconn::verify(&key, &challenge, &reply), Ok(()));
        if other != key {
            prop_assert!(mpconn::verify(&other, &challenge, &reply).is_err());
        }
    }
}
