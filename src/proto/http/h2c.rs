//! h2c by Upgrade (RFC 7540 §3.2; RFC 9113 §3.1 deprecates it but curl and nghttp still
//! ask for it): the server side, sans IO.
//!
//! hyper serves h2 but cannot take over an upgraded connection with its first request
//! already read. So the request that asked for the upgrade is turned back into HTTP/2
//! frames: [`inspect`] reads the HTTP/1.1 head (and decides whether to upgrade),
//! [`client_preface_len`] finds the end of the client's connection preface and first
//! SETTINGS frame after the `101`, and [`stream_one`] encodes the request as a HEADERS
//! (+ DATA) frame on stream 1, to be read by the h2 server right after that SETTINGS
//! frame — as if the client had sent it. The header block uses only HPACK literals
//! "without indexing", so the server's decoder table is left exactly as the client's
//! encoder expects it.

use base64::engine::{general_purpose::GeneralPurpose, DecodePaddingMode, GeneralPurposeConfig};
use base64::Engine;

/// The client connection preface (RFC 9113 §3.4).
pub const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// The server's answer to an upgrade it accepts.
pub const SWITCHING_PROTOCOLS: &[u8] =
    b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n";

/// Largest request body carried into stream 1: one DATA frame at the default
/// SETTINGS_MAX_FRAME_SIZE, well inside the initial 65,535-byte flow-control windows.
/// Requests with a larger body are answered over HTTP/1.1.
pub const MAX_BODY: usize = 16_384;

/// Largest frame the server reads before its own SETTINGS are acknowledged.
const MAX_FRAME: usize = 16_384;

const FRAME_DATA: u8 = 0x0;
const FRAME_HEADERS: u8 = 0x1;
const FRAME_SETTINGS: u8 = 0x4;
const FRAME_CONTINUATION: u8 = 0x9;
const FLAG_END_STREAM: u8 = 0x1;
const FLAG_END_HEADERS: u8 = 0x4;
const FLAG_ACK: u8 = 0x1;

/// What the start of a connection says about an h2c upgrade.
#[derive(Debug, PartialEq, Eq)]
pub enum Inspection {
    /// The head is not complete yet: read more (within the head's size cap).
    Partial,
    /// Serve the connection as it is (HTTP/1.1, or h2 with prior knowledge): no upgrade
    /// asked for.
    Serve,
    /// Serve the connection as it is: an upgrade asked for and declined, for this reason.
    Decline(&'static str),
    /// Upgrade: the head is `head_len` bytes, then `body_len` bytes of body follow.
    Upgrade {
        head_len: usize,
        body_len: usize,
        request: UpgradeRequest,
    },
}

/// The request that asked for the upgrade, as HTTP/2 will carry it on stream 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpgradeRequest {
    pub method: String,
    /// `:path`: the origin-form target (or `*` for OPTIONS).
    pub path: String,
    /// `:authority`: the Host header, if there was one.
    pub authority: Option<Vec<u8>>,
    /// Every other field, names in lower case, connection-specific ones left out.
    pub fields: Vec<(String, Vec<u8>)>,
    /// The client's settings from `HTTP2-Settings` (identifier, value).
    pub settings: Vec<(u16, u32)>,
}

/// Why the HTTP2-Settings header or the client's preface is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum H2cError {
    #[error("HTTP2-Settings is not base64url")]
    SettingsEncoding,
    #[error("HTTP2-Settings is not a whole number of settings")]
    SettingsLength,
    #[error("setting {id:#x} has the invalid value {value}")]
    SettingValue { id: u16, value: u32 },
    #[error("the client did not send the HTTP/2 connection preface")]
    NoPreface,
    #[error("the client's first frame is not SETTINGS")]
    NoSettings,
}

/// Reads the first request's head in `buf` (with at most `max_headers` fields) and decides
/// whether to upgrade. Anything that is not a well-formed HTTP/1.1 request asking for h2c
/// is served as it is: hyper answers malformed requests itself.
pub fn inspect(buf: &[u8], max_headers: usize) -> Inspection {
    // h2 with prior knowledge: hyper-util's auto builder handles it.
    if buf.starts_with(&PREFACE[..buf.len().min(PREFACE.len())]) {
        return if buf.len() < PREFACE.len() {
            Inspection::Partial
        } else {
            Inspection::Serve
        };
    }
    let mut headers = vec![httparse::EMPTY_HEADER; max_headers];
    let mut parsed = httparse::Request::new(&mut headers);
    let head_len = match parsed.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Inspection::Partial,
        Err(_) => return Inspection::Serve,
    };
    let (Some(method), Some(target), Some(1)) = (parsed.method, parsed.path, parsed.version) else {
        return Inspection::Serve;
    };
    let fields = parsed.headers;
    let values = |name: &'static str| {
        fields
            .iter()
            .filter(move |h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value)
    };
    let has_token = |name: &'static str, token: &str| {
        values(name).any(|v| {
            v.split(|&b| b == b',')
                .any(|t| t.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
        })
    };
    if !has_token("upgrade", "h2c") {
        return Inspection::Serve;
    }
    // RFC 7540 §3.2.1: exactly one HTTP2-Settings, named as a connection option.
    let mut settings_values = values("http2-settings");
    let (Some(settings_value), None) = (settings_values.next(), settings_values.next()) else {
        return Inspection::Decline("not exactly one HTTP2-Settings");
    };
    if !has_token("connection", "upgrade") || !has_token("connection", "http2-settings") {
        return Inspection::Decline("Connection does not name Upgrade and HTTP2-Settings");
    }
    let Ok(settings) = parse_settings(settings_value) else {
        return Inspection::Decline("HTTP2-Settings is invalid");
    };
    let origin_form = target.starts_with('/') || (target == "*" && method == "OPTIONS");
    if !origin_form || method == "CONNECT" {
        return Inspection::Decline("request target is not in origin form");
    }
    // The body must be whole before the upgrade: no chunked bodies, no 100-continue
    // handshake, nothing past one DATA frame.
    if values("transfer-encoding").next().is_some() || values("expect").next().is_some() {
        return Inspection::Decline("body is chunked or expects 100-continue");
    }
    let mut lengths = values("content-length");
    let body_len = match (lengths.next(), lengths.next()) {
        (None, _) => 0,
        (Some(value), None) => match std::str::from_utf8(value)
            .ok()
            .and_then(|v| v.trim().parse::<usize>().ok())
        {
            Some(len) if len <= MAX_BODY => len,
            _ => return Inspection::Decline("body too large to carry into HTTP/2"),
        },
        (Some(_), Some(_)) => return Inspection::Decline("several Content-Length fields"),
    };
    let connection_options: Vec<Vec<u8>> = values("connection")
        .flat_map(|v| v.split(|&b| b == b','))
        .map(|t| t.trim_ascii().to_ascii_lowercase())
        .collect();
    let mut authority = None;
    let mut carried = Vec::with_capacity(fields.len());
    for field in fields.iter() {
        let name = field.name.to_ascii_lowercase();
        let connection_specific = matches!(
            name.as_str(),
            "connection"
                | "upgrade"
                | "http2-settings"
                | "keep-alive"
                | "proxy-connection"
                | "transfer-encoding"
        ) || connection_options.iter().any(|o| o == name.as_bytes());
        if connection_specific {
            continue;
        }
        if name == "host" {
            authority.get_or_insert_with(|| field.value.to_vec());
            continue;
        }
        // RFC 9113 §8.2.2: TE may only say "trailers".
        if name == "te" && !field.value.trim_ascii().eq_ignore_ascii_case(b"trailers") {
            continue;
        }
        carried.push((name, field.value.to_vec()));
    }
    Inspection::Upgrade {
        head_len,
        body_len,
        request: UpgradeRequest {
            method: method.to_string(),
            path: target.to_string(),
            authority,
            fields: carried,
            settings,
        },
    }
}

/// The base64url SETTINGS payload of an `HTTP2-Settings` header (padding optional),
/// checked as RFC 9113 §6.5.2 checks a SETTINGS frame.
pub fn parse_settings(value: &[u8]) -> Result<Vec<(u16, u32)>, H2cError> {
    const BASE64URL: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::URL_SAFE,
        GeneralPurposeConfig::new()
            .with_encode_padding(false)
            .with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    let payload = BASE64URL
        .decode(value.trim_ascii())
        .map_err(|_| H2cError::SettingsEncoding)?;
    if payload.len() % 6 != 0 {
        return Err(H2cError::SettingsLength);
    }
    payload
        .chunks_exact(6)
        .map(|setting| {
            let id = u16::from_be_bytes([setting[0], setting[1]]);
            let value = u32::from_be_bytes([setting[2], setting[3], setting[4], setting[5]]);
            let valid = match id {
                0x2 => value <= 1,                             // ENABLE_PUSH
                0x4 => value <= 0x7fff_ffff,                   // INITIAL_WINDOW_SIZE
                0x5 => (16_384..=16_777_215).contains(&value), // MAX_FRAME_SIZE
                _ => true,
            };
            if valid {
                Ok((id, value))
            } else {
                Err(H2cError::SettingValue { id, value })
            }
        })
        .collect()
}

/// After the `101`: the length of the client's preface plus its first frame, which must be
/// SETTINGS, once `buf` holds them both (`None`: read more).
pub fn client_preface_len(buf: &[u8]) -> Result<Option<usize>, H2cError> {
    let seen = buf.len().min(PREFACE.len());
    if buf[..seen] != PREFACE[..seen] {
        return Err(H2cError::NoPreface);
    }
    let Some(header) = buf.get(PREFACE.len()..PREFACE.len() + 9) else {
        return Ok(None);
    };
    let length =
        usize::from(header[0]) << 16 | usize::from(header[1]) << 8 | usize::from(header[2]);
    let stream = u32::from_be_bytes([header[5], header[6], header[7], header[8]]) & 0x7fff_ffff;
    let is_settings = header[3] == FRAME_SETTINGS && header[4] & FLAG_ACK == 0 && stream == 0;
    if !is_settings || length % 6 != 0 || length > MAX_FRAME {
        return Err(H2cError::NoSettings);
    }
    let total = PREFACE.len() + 9 + length;
    Ok((buf.len() >= total).then_some(total))
}

/// The upgrade request as stream 1's frames: HEADERS (and CONTINUATION past one frame),
/// then the body in DATA frames; the last frame ends the stream.
pub fn stream_one(request: &UpgradeRequest, body: &[u8]) -> Vec<u8> {
    let mut block = Vec::with_capacity(256);
    literal(&mut block, b":method", request.method.as_bytes());
    literal(&mut block, b":scheme", b"http");
    if let Some(authority) = &request.authority {
        literal(&mut block, b":authority", authority);
    }
    literal(&mut block, b":path", request.path.as_bytes());
    for (name, value) in &request.fields {
        literal(&mut block, name.as_bytes(), value);
    }
    let mut out = Vec::with_capacity(block.len() + body.len() + 64);
    let mut chunks = block.chunks(MAX_FRAME).peekable();
    let mut kind = FRAME_HEADERS;
    // An empty header block cannot happen (:method is always there), but stay total.
    if chunks.peek().is_none() {
        frame(&mut out, kind, FLAG_END_HEADERS, &[]);
    }
    while let Some(chunk) = chunks.next() {
        let mut flags = 0;
        if chunks.peek().is_none() {
            flags |= FLAG_END_HEADERS;
        }
        if kind == FRAME_HEADERS && body.is_empty() {
            flags |= FLAG_END_STREAM;
        }
        frame(&mut out, kind, flags, chunk);
        kind = FRAME_CONTINUATION;
    }
    let mut data = body.chunks(MAX_FRAME).peekable();
    while let Some(chunk) = data.next() {
        let flags = if data.peek().is_none() {
            FLAG_END_STREAM
        } else {
            0
        };
        frame(&mut out, FRAME_DATA, flags, chunk);
    }
    out
}

/// A frame on stream 1 (payload at most [`MAX_FRAME`] bytes).
fn frame(out: &mut Vec<u8>, kind: u8, flags: u8, payload: &[u8]) {
    let len = payload.len();
    out.extend_from_slice(&[(len >> 16) as u8, (len >> 8) as u8, len as u8, kind, flags]);
    out.extend_from_slice(&1u32.to_be_bytes());
    out.extend_from_slice(payload);
}

/// HPACK "Literal Header Field without Indexing — New Name" (RFC 7541 §6.2.2), strings
/// not Huffman-coded.
fn literal(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.push(0x00);
    hpack_integer(out, 0x00, 7, name.len());
    out.extend_from_slice(name);
    hpack_integer(out, 0x00, 7, value.len());
    out.extend_from_slice(value);
}

/// An HPACK integer with an `n`-bit prefix (RFC 7541 §5.1); `first` holds the bits above it.
fn hpack_integer(out: &mut Vec<u8>, first: u8, n: u32, mut value: usize) {
    let max = (1usize << n) - 1;
    if value < max {
        out.push(first | value as u8);
        return;
    }
    out.push(first | max as u8);
    value -= max;
    while value >= 128 {
        out.push((value % 128) as u8 | 0x80);
        value /= 128;
    }
    out.push(value as u8);
}

#[cfg(test)]
mod tests {
    use super::*;

    const CURL: &[u8] = b"GET /get?x=1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\n";

    fn upgrade(head: &[u8]) -> (usize, usize, UpgradeRequest) {
        match inspect(head, 100) {
            Inspection::Upgrade {
                head_len,
                body_len,
                request,
            } => (head_len, body_len, request),
            other => panic!("no upgrade: {other:?}"),
        }
    }

    #[test]
    fn curls_upgrade_request_is_accepted() {
        let (head_len, body_len, request) = upgrade(CURL);
        assert_eq!((head_len, body_len), (CURL.len(), 0));
        assert_eq!(
            request,
            UpgradeRequest {
                method: "GET".into(),
                path: "/get?x=1".into(),
                authority: Some(b"127.0.0.1:8080".to_vec()),
                fields: vec![
                    ("user-agent".into(), b"curl/8.5.0".to_vec()),
                    ("accept".into(), b"*/*".to_vec()),
                ],
                settings: vec![(3, 100), (4, 10_485_760), (2, 0)],
            }
        );
    }

    #[test]
    fn partial_heads_ask_for_more() {
        assert_eq!(inspect(&CURL[..CURL.len() - 1], 100), Inspection::Partial);
        assert_eq!(inspect(b"", 100), Inspection::Partial);
        assert_eq!(inspect(b"PRI * HTTP", 100), Inspection::Partial);
    }

    #[test]
    fn what_is_not_an_acceptable_upgrade_is_served_as_it_is() {
        let served = |head: &[u8]| match inspect(head, 100) {
            Inspection::Serve => true,
            Inspection::Decline(why) => !why.is_empty(),
            _ => false,
        };
        let with = |from: &str, to: &str| {
            String::from_utf8(CURL.to_vec())
                .unwrap()
                .replace(from, to)
                .into_bytes()
        };
        assert!(served(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n"));
        assert!(served(PREFACE));
        assert!(served(b"\x16\x03\x01 TLS"));
        assert!(served(&with("HTTP/1.1\r\n", "HTTP/1.0\r\n")));
        assert!(served(&with("Upgrade: h2c", "Upgrade: websocket")));
        assert!(served(&with("Upgrade, HTTP2-Settings", "Upgrade")));
        assert!(served(&with("AAMAAABkAAQAoAAAAAIAAAAA", "AAMAAABk!")));
        // ENABLE_PUSH 2 is invalid.
        assert!(served(&with("AAMAAABkAAQAoAAAAAIAAAAA", "AAIAAAAC")));
        assert!(served(&with(
            "Upgrade: h2c\r\n",
            "Upgrade: h2c\r\nHTTP2-Settings: AAMAAABk\r\n"
        )));
        assert!(served(&with("GET /get?x=1", "GET http://h/get")));
        assert!(served(&with("Accept: */*", "Transfer-Encoding: chunked")));
        let big = with("Accept: */*", &format!("Content-Length: {}", MAX_BODY + 1));
        assert!(served(&big));
        let expect = with("Accept: */*", "Content-Length: 5\r\nExpect: 100-continue");
        assert!(served(&expect));
        // Too many headers for the cap: hyper answers 431.
        assert_eq!(inspect(CURL, 3), Inspection::Serve);
    }

    #[test]
    fn a_small_body_comes_along_and_connection_options_stay_behind() {
        let head = b"POST /RPC2 HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nConnection: Upgrade, HTTP2-Settings, X-Hop\r\nX-Hop: 1\r\nTE: gzip\r\nUpgrade: h2c\r\nHTTP2-Settings: \r\n\r\nhello";
        let (head_len, body_len, request) = upgrade(head);
        assert_eq!((head_len, body_len), (head.len() - 5, 5));
        assert_eq!(
            request.fields,
            vec![("content-length".to_string(), b"5".to_vec())]
        );
        assert_eq!(request.settings, vec![]);
    }

    #[test]
    fn settings_are_checked_like_a_settings_frame() {
        assert_eq!(
            parse_settings(b"AAMAAABkAAQAoAAAAAIAAAAA"),
            Ok(vec![(3, 100), (4, 10_485_760), (2, 0)])
        );
        assert_eq!(parse_settings(b"AAMAAABk  "), Ok(vec![(3, 100)]));
        // base64url's alphabet (- and _), padding optional.
        assert_eq!(parse_settings(b"AAP_____"), Ok(vec![(3, u32::MAX)]));
        assert_eq!(
            parse_settings(b"AAMAAABkAAE="),
            Err(H2cError::SettingsLength)
        );
        assert_eq!(parse_settings(b"AAUAAEAA"), Ok(vec![(5, 16_384)]));
        assert_eq!(
            parse_settings(b"AAUAAD__"),
            Err(H2cError::SettingValue {
                id: 5,
                value: 16_383
            })
        );
        assert_eq!(
            parse_settings(b"AASAAAAA"),
            Err(H2cError::SettingValue {
                id: 4,
                value: 0x8000_0000
            })
        );
        assert_eq!(
            parse_settings(b"AAIAAAAC"),
            Err(H2cError::SettingValue { id: 2, value: 2 })
        );
        assert_eq!(parse_settings(b"AAMAAA"), Err(H2cError::SettingsLength));
        assert_eq!(parse_settings(b"AA+A"), Err(H2cError::SettingsEncoding));
    }

    #[test]
    fn the_client_preface_ends_after_its_settings_frame() {
        let mut buf = PREFACE.to_vec();
        assert_eq!(client_preface_len(&buf[..10]), Ok(None));
        assert_eq!(client_preface_len(&buf), Ok(None));
        buf.extend_from_slice(&[0, 0, 6, FRAME_SETTINGS, 0, 0, 0, 0, 0]);
        assert_eq!(client_preface_len(&buf), Ok(None));
        buf.extend_from_slice(&[0, 3, 0, 0, 0, 100]);
        assert_eq!(client_preface_len(&buf), Ok(Some(39)));
        buf.extend_from_slice(b"more frames");
        assert_eq!(client_preface_len(&buf), Ok(Some(39)));
        assert_eq!(
            client_preface_len(b"GET / HTTP/1.1\r\n"),
            Err(H2cError::NoPreface)
        );
        let mut ping = PREFACE.to_vec();
        ping.extend_from_slice(&[0, 0, 8, 0x6, 0, 0, 0, 0, 0]);
        assert_eq!(client_preface_len(&ping), Err(H2cError::NoSettings));
        let mut ack = PREFACE.to_vec();
        ack.extend_from_slice(&[0, 0, 0, FRAME_SETTINGS, FLAG_ACK, 0, 0, 0, 0]);
        assert_eq!(client_preface_len(&ack), Err(H2cError::NoSettings));
    }

    #[test]
    fn stream_one_is_exact_bytes() {
        let request = UpgradeRequest {
            method: "GET".into(),
            path: "/".into(),
            authority: Some(b"h".to_vec()),
            fields: vec![("a".into(), b"b".to_vec())],
            settings: vec![],
        };
        let mut block = Vec::new();
        block.extend_from_slice(b"\x00\x07:method\x03GET");
        block.extend_from_slice(b"\x00\x07:scheme\x04http");
        block.extend_from_slice(b"\x00\x0a:authority\x01h");
        block.extend_from_slice(b"\x00\x05:path\x01/");
        block.extend_from_slice(b"\x00\x01a\x01b");
        let mut expected = vec![0, 0, block.len() as u8, FRAME_HEADERS, 0x5, 0, 0, 0, 1];
        expected.extend_from_slice(&block);
        assert_eq!(stream_one(&request, b""), expected);

        // With a body: HEADERS without END_STREAM, then one DATA frame that ends it.
        let mut expected = vec![0, 0, block.len() as u8, FRAME_HEADERS, 0x4, 0, 0, 0, 1];
        expected.extend_from_slice(&block);
        expected.extend_from_slice(&[0, 0, 2, FRAME_DATA, 0x1, 0, 0, 0, 1]);
        expected.extend_from_slice(b"hi");
        assert_eq!(stream_one(&request, b"hi"), expected);
    }

    #[test]
    fn long_header_blocks_continue_and_integers_use_the_prefix() {
        let mut out = Vec::new();
        hpack_integer(&mut out, 0, 7, 126);
        hpack_integer(&mut out, 0, 7, 127);
        assert_eq!(out, [126, 127, 0]);
        // RFC 7541 C.1.2: 1337 with a 5-bit prefix.
        let mut rfc = Vec::new();
        hpack_integer(&mut rfc, 0, 5, 1337);
        assert_eq!(rfc, [31, 154, 10]);

        let request = UpgradeRequest {
            method: "GET".into(),
            path: "/".into(),
            authority: None,
            fields: vec![("x".into(), vec![b'v'; 20_000])],
            settings: vec![],
        };
        let frames = stream_one(&request, b"");
        // HEADERS of 16,384 bytes without END_HEADERS, then a CONTINUATION that ends it.
        assert_eq!(
            frames[..9],
            [0, 0x40, 0, FRAME_HEADERS, FLAG_END_STREAM, 0, 0, 0, 1]
        );
        let rest = &frames[9 + 16_384..];
        let len = usize::from(rest[1]) << 8 | usize::from(rest[2]);
        assert_eq!(
            rest[3..9],
            [FRAME_CONTINUATION, FLAG_END_HEADERS, 0, 0, 0, 1]
        );
        assert_eq!(rest.len(), 9 + len);
    }
}
