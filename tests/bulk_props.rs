//! Property tests of the bulk header codec and the `.npy` preamble: what is encoded decodes
//! to the same value from any split of its bytes, and arbitrary bytes give a value, a
//! request for more, or an error — never a panic or a read past the declared length.

use netkit::bulk::header::{self, Decoded, Header, Reply};
use netkit::bulk::npy::{self, NpyHeader};
use proptest::prelude::*;

fn descr() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("<f8".to_string()),
        Just(">f4".to_string()),
        Just("|u1".to_string()),
        Just("<i2".to_string()),
        Just("|b1".to_string()),
        Just("<c16".to_string()),
        Just("<M8[ns]".to_string()),
        (1u64..40).prop_map(|n| format!("<U{n}")),
        (1u64..40).prop_map(|n| format!("|S{n}")),
    ]
}

fn npy_header() -> impl Strategy<Value = NpyHeader> {
    (
        descr(),
        any::<bool>(),
        prop::collection::vec(0u64..2000, 0..6),
    )
        .prop_map(|(descr, fortran_order, shape)| NpyHeader {
            descr,
            fortran_order,
            shape,
        })
}

fn bulk_header() -> impl Strategy<Value = Header> {
    (
        any::<u64>(),
        1u16..=header::MAX_STREAMS,
        any::<u16>(),
        any::<u64>(),
        any::<u64>(),
        any::<u64>(),
        any::<bool>(),
        prop::option::of(npy_header()),
    )
        .prop_map(|(id, count, index, total, a, b, resume, npy)| {
            let npy = npy.map(|n| (n.encode(), n));
            // A consistent header: the slice lies inside the payload, and an array's
            // payload is exactly its data.
            let total = match &npy {
                Some((_, n)) => n.data_len().unwrap(),
                None => total,
            };
            let offset = if total == 0 { 0 } else { a % (total + 1) };
            let payload_len = if total - offset == 0 {
                0
            } else {
                b % (total - offset + 1)
            };
            Header {
                transfer_id: id,
                stream_index: index % count,
                stream_count: count,
                total_len: total,
                offset,
                payload_len,
                chunked: false,
                resume,
                npy,
            }
        })
}

proptest! {
    #[test]
    fn headers_round_trip_from_every_prefix(h in bulk_header()) {
        let bytes = h.encode();
        prop_assert_eq!(bytes.len(), h.encoded_len());
        prop_assert_eq!(header::decode(&bytes), Ok(Decoded::Header(h.clone(), bytes.len())));
        for cut in 0..bytes.len() {
            match header::decode(&bytes[..cut]) {
                Ok(Decoded::NeedMore(n)) => prop_assert!(n > cut && n <= bytes.len()),
                other => prop_assert!(false, "prefix {} gave {:?}", cut, other),
            }
        }
        // Trailing payload bytes are not part of the header.
        let mut longer = bytes.clone();
        longer.extend_from_slice(b"payload");
        prop_assert_eq!(header::decode(&longer), Ok(Decoded::Header(h, bytes.len())));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        match header::decode(&bytes) {
            Ok(Decoded::NeedMore(n)) => prop_assert!(n > bytes.len() && n <= header::MAX_HEADER),
            Ok(Decoded::Header(h, used)) => {
                prop_assert!(used <= bytes.len());
                prop_assert_eq!(h.encode(), bytes[..used].to_vec());
            }
            Err(_) => {}
        }
        let _ = npy::parse(&bytes);
        let _ = Reply::decode(&bytes);
    }

    #[test]
    fn corrupting_a_header_byte_is_caught_or_harmless(h in bulk_header(), at in any::<prop::sample::Index>(), flip in 1u8..=255) {
        let mut bytes = h.encode();
        let i = at.index(bytes.len());
        bytes[i] ^= flip;
        match header::decode(&bytes) {
            Ok(Decoded::Header(decoded, used)) => {
                prop_assert!(used <= bytes.len());
                prop_assert!(decoded.offset.checked_add(decoded.payload_len).is_some_and(|e| e <= decoded.total_len));
                prop_assert!(decoded.stream_index < decoded.stream_count);
            }
            Ok(Decoded::NeedMore(n)) => prop_assert!(n <= header::MAX_HEADER),
            Err(_) => {}
        }
    }

    #[test]
    fn npy_preambles_round_trip(n in npy_header()) {
        let pre = n.encode();
        prop_assert_eq!(pre.len() % 64, 0);
        prop_assert_eq!(pre.last(), Some(&b'\n'));
        prop_assert_eq!(npy::preamble_len(&pre), Ok(Some(pre.len())));
        prop_assert_eq!(npy::parse(&pre), Ok(n));
    }

    #[test]
    fn replies_round_trip(sum in any::<u64>(), text in ".{0,300}") {
        for reply in [Reply::Ok(sum), Reply::Error(text.clone())] {
            let bytes = reply.encode();
            prop_assert_eq!(Reply::decode(&bytes), Ok(Some((reply, bytes.len()))));
            for cut in 0..bytes.len() {
                prop_assert_eq!(Reply::decode(&bytes[..cut]), Ok(None));
            }
        }
    }
}
