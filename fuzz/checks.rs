//! What each fuzz target checks, one module a target, shared by the fuzz targets
//! (fuzz_targets/<target>.rs) and by the normal test suite (tests/fuzz_regressions.rs,
//! which replays fuzz/seeds/<target>/ and fuzz/regressions/<target>/ through the same
//! `check`). Every `check` panics on a broken property, never on merely bad input.

/// Fuzzes what a bulk receiver parses from a peer: the header (with its `.npy` preamble)
/// and the sender-side reply. A decoded header must re-encode to the very bytes it came
/// from and describe a consistent range.
pub mod bulk_header {
    use netkit::bulk::header::{self, Decoded, Reply};
    use netkit::bulk::npy;

    pub fn check(data: &[u8]) {
        match header::decode(data) {
            Ok(Decoded::Header(h, used)) => {
                assert!(used <= data.len() && used <= header::MAX_HEADER);
                assert_eq!(h.encode(), &data[..used]);
                assert!(h.stream_index < h.stream_count);
                if !h.chunked {
                    assert!(h
                        .offset
                        .checked_add(h.payload_len)
                        .is_some_and(|e| e <= h.total_len));
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
    }
}

/// The cidr parsers on arbitrary bytes: never panic, and whatever parses prints as text
/// that parses back to the same value and prints identically.
pub mod cidr_parse {
    use netkit::cidr::{Address, IpInterface, IpNetwork};

    pub fn check(data: &[u8]) {
        if let Ok(a) = Address::parse_bytes(data) {
            let text = a.to_string();
            let again = Address::parse_bytes(text.as_bytes()).expect("an address's text parses");
            assert_eq!(again, a);
            assert_eq!(again.to_string(), text);
            let _ = a.exploded();
        }
        for strict in [true, false] {
            if let Ok(n) = IpNetwork::parse_bytes(data, strict) {
                let text = n.to_string();
                let again = IpNetwork::parse_bytes(text.as_bytes(), true)
                    .expect("a network's text parses strictly");
                assert_eq!(again, n);
                assert_eq!(again.to_string(), text);
                assert!(n.contains(&n.network_address()) && n.contains(&n.broadcast_address()));
                let _ = (
                    n.with_netmask(),
                    n.with_hostmask(),
                    n.exploded(),
                    n.is_private(),
                    n.hosts().next(),
                );
            }
        }
        if let Ok(i) = IpInterface::parse_bytes(data) {
            let text = i.to_string();
            let again =
                IpInterface::parse_bytes(text.as_bytes()).expect("an interface's text parses");
            assert_eq!(again, i);
            assert_eq!(again.to_string(), text);
            assert!(i.network().contains(&i.ip()));
            let _ = i.exploded();
        }
    }
}

/// The HTTP service's own header and parameter grammars (src/proto/http) on arbitrary
/// text, and the WebSocket frame parser on arbitrary bytes: never panic, and every answer
/// stays inside what was asked for.
pub mod http_headers {
    use netkit::proto::http::{
        digest, parse_basic, parse_bearer, parse_cookies, parse_range, parse_status_list,
        title_case, websocket, ByteRange,
    };

    pub fn check(data: &[u8]) {
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
    }
}

/// h2c by Upgrade on arbitrary bytes (the first bytes a client sends): the head inspector
/// never panics, an upgrade it accepts stays inside the input and inside the body cap,
/// the settings it took parse back, and stream 1 is well-framed HTTP/2; the preface and
/// HTTP2-Settings parsers refuse garbage with an error.
pub mod h2c_upgrade {
    use netkit::proto::http::h2c::{self, Inspection};

    pub fn check(data: &[u8]) {
        if let Inspection::Upgrade {
            head_len,
            body_len,
            request,
        } = h2c::inspect(data, 100)
        {
            assert!(head_len <= data.len());
            assert!(body_len <= h2c::MAX_BODY);
            let body = &data[head_len..data.len().min(head_len + body_len)];
            let frames = h2c::stream_one(&request, body);
            // Every frame: 9-byte header, its length, stream 1.
            let mut at = 0;
            while at < frames.len() {
                assert!(frames.len() - at >= 9, "a cut frame header");
                let len = usize::from(frames[at]) << 16
                    | usize::from(frames[at + 1]) << 8
                    | usize::from(frames[at + 2]);
                let stream = u32::from_be_bytes([
                    frames[at + 5],
                    frames[at + 6],
                    frames[at + 7],
                    frames[at + 8],
                ]) & 0x7fff_ffff;
                assert_eq!(stream, 1);
                at += 9 + len;
            }
            assert_eq!(at, frames.len());
        }
        if let Ok(settings) = h2c::parse_settings(data) {
            assert!(settings.len() * 6 <= data.len());
        }
        if let Ok(Some(len)) = h2c::client_preface_len(data) {
            assert!(len <= data.len());
        }
    }
}

/// multiprocessing.connection on arbitrary bytes: the frame header parser never panics,
/// never accepts a length over the cap, and what it accepts re-encodes to the same bytes;
/// the handshake steps refuse garbage with an error, never a panic, and only a correct
/// MAC verifies.
pub mod mpconn_frames {
    use netkit::proto::mpconn;

    pub fn check(data: &[u8]) {
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
        assert!(
            mpconn::verify(b"peekaboo", challenge, data).is_err() || {
                // Only the right answer (modern, or raw MD5 from a legacy client) may verify.
                let right = mpconn::answer(b"peekaboo", challenge).unwrap();
                data == &right[..] || data.len() == 16
            }
        );
    }
}

/// The authkey handshake in both roles on arbitrary input: the key, the challenge frame a
/// server sends and the reply a client sends are all taken from the fuzz input. Never a
/// panic; whatever `answer` (the client role) produces, `verify` (the server role) accepts;
/// whatever `verify` accepts is a MAC of the challenge under the key; recipe 9's challenge
/// check (src/auth.rs) only accepts the right HMAC.
///
/// Input layout: [key_len][reply_len][key][reply][challenge frame...].
pub mod mpconn_handshake {
    use netkit::proto::challenge::{self, Digest};
    use netkit::proto::mpconn::{self, CHALLENGE};

    pub fn check(data: &[u8]) {
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
            assert!(
                reply == legacy || named,
                "accepted a reply that is no MAC of the challenge"
            );
        }
        // Recipe 9 (--hmac-key on echo): a raw HMAC of the challenge, nothing else.
        for digest in Digest::ALL {
            if challenge::verify(digest, key, frame, reply) {
                assert_eq!(challenge::respond(digest, key, frame), reply);
            }
        }
    }
}

/// The unpickler on arbitrary bytes, with tight limits: it must return a value or a typed
/// error, never panic, hang or blow memory. A value it returns must survive
/// dumps → loads unchanged (protocols 4 and 5; protocol 2 renames some exception classes
/// by design, so there it only has to load again).
pub mod pickle_loads {
    use netkit::proto::pickle::{dumps, loads, Limits, Protocol};

    pub fn check(data: &[u8]) {
        let tight = Limits {
            max_depth: 64,
            max_memo: 4096,
            max_alloc: 1 << 20,
            max_int_bytes: 256,
        };
        let Ok(v) = loads(data, &tight) else { return };
        for p in [Protocol::V4, Protocol::V5] {
            let bytes = dumps(&v, p);
            let again = loads(&bytes, &Limits::default()).expect("our own pickle loads");
            assert!(
                again == v,
                "protocol {p:?} round trip changed {v:?} into {again:?}"
            );
        }
        for p in [Protocol::V2, Protocol::V3] {
            loads(&dumps(&v, p), &Limits::default()).expect("our own old-protocol pickle loads");
        }
    }
}

/// SNTP packets on arbitrary bytes: parsing never panics, a parsed header re-encodes to
/// the same 48 bytes, and the time service answers every datagram with 24 bytes of ctime
/// or a 48-byte SNTP reply.
pub mod sntp_packet {
    use netkit::proto::sntp;
    use netkit::service::time::reply_to;

    pub fn check(data: &[u8]) {
        if let Ok(packet) = sntp::Packet::parse(data) {
            assert_eq!(&packet.encode()[..], &data[..sntp::PACKET_LEN]);
        }
        let reply = reply_to(data, sntp::ServerClock::default());
        if sntp::is_client_request(data) {
            assert_eq!(reply.len(), sntp::PACKET_LEN);
            let reply = sntp::Packet::parse(&reply).unwrap();
            assert_eq!(reply.mode, sntp::MODE_SERVER);
            assert_eq!(&reply.originate.0.to_be_bytes()[..], &data[40..48]);
        } else {
            assert_eq!(reply.len(), 24);
        }
    }
}

/// XML-RPC decoder on arbitrary bytes: never panics, and whatever it accepts it can
/// re-encode and read back unchanged.
///
pub mod xmlrpc_parse {
    use netkit::proto::xmlrpc::{
        encode_call, encode_fault, encode_response, parse_call, parse_call_in_full,
        parse_common_call, parse_response, Limits, Value,
    };

    /// Re-encoding may nest deeper and grow larger than the input (`<array><array>` becomes
    /// `<value><array><data>…`, `<value/>` becomes `<value><string></string></value>`).
    const UNLIMITED: Limits = Limits {
        max_document_size: usize::MAX,
        max_depth: usize::MAX,
        max_members: usize::MAX,
    };

    /// `\r` is written raw, as Python does, and XML reads it back as `\n`; values holding one
    /// are only checked to re-parse, not to be identical.
    fn has_cr(v: &Value) -> bool {
        match v {
            Value::String(s) => s.contains('\r'),
            Value::DateTime(d) => d.as_str().contains('\r'),
            Value::Array(items) => items.iter().any(has_cr),
            Value::Struct(m) => m.iter().any(|(k, v)| k.contains('\r') || has_cr(v)),
            _ => false,
        }
    }

    fn same(a: &[Value], b: &[Value]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.is_identical(y))
    }

    /// The shortcut for common calls answers only with the full parser's answer.
    fn shortcut_agrees(doc: &[u8], limits: &Limits) {
        if let Some(call) = parse_common_call(doc, limits) {
            assert_eq!(parse_call_in_full(doc, limits), Ok(call));
        }
    }

    pub fn check(data: &[u8]) {
        let limits = Limits::default();
        shortcut_agrees(data, &limits);
        if let Ok(call) = parse_call(data, &limits) {
            let doc = encode_call(&call.name, &call.params);
            // Re-encoded, any call is in Python's shape: the shortcut's own ground.
            shortcut_agrees(&doc, &UNLIMITED);
            let back = parse_call(&doc, &UNLIMITED).expect("our own call re-parses");
            if !call.name.contains('\r') && !call.params.iter().any(has_cr) {
                assert_eq!(back.name, call.name);
                assert!(
                    same(&back.params, &call.params),
                    "{:?}\n{:?}",
                    call.params,
                    back.params
                );
            }
        }
        match parse_response(data, &limits) {
            Ok(Ok(params)) => {
                let wrapped = Value::Array(params);
                let doc = encode_response(&wrapped);
                let back = parse_response(&doc, &UNLIMITED)
                    .expect("our own response re-parses")
                    .expect("not a fault");
                if !has_cr(&wrapped) {
                    assert!(
                        same(&back, std::slice::from_ref(&wrapped)),
                        "{wrapped:?}\n{back:?}"
                    );
                }
            }
            Ok(Err(fault)) => {
                let doc = encode_fault(fault.code, &fault.string);
                let back = parse_response(&doc, &UNLIMITED).expect("our own fault re-parses");
                if !fault.string.contains('\r') {
                    assert_eq!(back, Err(fault));
                }
            }
            Err(e) => {
                let _ = e.to_fault();
            }
        }
    }
}
