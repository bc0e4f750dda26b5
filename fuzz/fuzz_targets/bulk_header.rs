//! Fuzzes what a bulk receiver parses from a peer: the header (with its `.npy` preamble)
//! and the sender-side reply. A decoded header must re-encode to the very bytes it came
//! from and describe a consistent range.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netkit::bulk::header::{self, Decoded, Reply};
use netkit::bulk::npy;

fuzz_target!(|data: &[u8]| {
    match header::decode(data) {
        Ok(Decoded::Header(h, used)) => {
            assert!(used <= data.len() && used <= header::MAX_HEADER);
            assert_eq!(h.encode(), &data[..used]);
            assert!(h.stream_index < h.stream_count);
            if !h.chunked {
                assert!(h.offset.checked_add(h.payload_len).is_some_and(|e| e <= h.total_len));
            }
            if let Some((pre, parsed)) = &h.npy {
                assert_eq!(npy::parse(pre).as_ref(), Ok(parsed));
            }
        }
        Ok(Decoded::NeedMore(n)) => assert!(n > data.len() && n <= header::MAX_HEADER),
        Err(_) => {}
    }
    if let Ok(parsed) = npy::parse(data) {
        // What NumPy's layout would write for it parses back the same.
        assert_eq!(npy::parse(&parsed.encode()), Ok(parsed));
    }
    if let Ok(Some((reply, used))) = Reply::decode(data) {
        assert!(used <= data.len());
        if let Reply::Ok(_) = reply {
            assert_eq!(reply.encode(), &data[..used]);
        }
    }
});
