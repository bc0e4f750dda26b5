//! The HTTP service's own header and parameter grammars (src/proto/http) on arbitrary
//! text, and the WebSocket frame parser on arbitrary bytes: never panic, and every answer
//! stays inside what was asked for.

#![no_main]

use libfuzzer_sys::fuzz_target;
use netkit::proto::http::{
    digest, parse_basic, parse_bearer, parse_cookies, parse_range, parse_status_list, title_case,
    websocket, ByteRange,
};

fuzz_target!(|data: &[u8]| {
    // WebSocket client frames: never panic; a parsed frame stays inside the input and
    // re-encodes (unmasked) to a frame of the same payload.
    if let Ok(Some((frame, used))) = websocket::parse_client_frame(data, 1 << 16) {
        assert!(used <= data.len());
        let encoded = websocket::encode_server_frame(&frame);
        assert!(encoded.ends_with(&frame.payload));
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let len = u64::from(data.first().copied().unwrap_or(0)) * 97;
    if let Some(ByteRange::Satisfiable { first, last }) = parse_range(text, len) {
        assert!(first <= last && last < len, "{first}-{last} of {len}");
    }
    for (name, _) in parse_cookies(text) {
        assert!(!name.is_empty());
    }
    let _ = parse_basic(text);
    let _ = parse_bearer(text);
    if let Some(params) = digest::parse_authorization(text) {
        let creds = digest::Credentials { params: &params };
        for algorithm in [digest::Algorithm::Md5, digest::Algorithm::Sha256] {
            let _ = digest::expected_response(algorithm, &creds, "pw", "GET", data);
        }
    }
    if let Some(choices) = parse_status_list(text) {
        for draw in [0.0, 0.5, 0.999_999] {
            let code = choices.pick(draw);
            assert!((100..=599).contains(&code));
        }
    }
    assert_eq!(title_case(text).len(), text.len());
});
