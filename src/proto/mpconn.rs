//! `multiprocessing.connection`'s wire format (recipes 7, 8, 11), sans-IO: the length
//! framing and both steps of the authkey handshake, as CPython 3.8–3.14 speak them
//! (Lib/multiprocessing/connection.py).

use super::challenge::{self, Digest};

/// Largest payload the 4-byte header can describe; longer ones use the 8-byte form.
pub const MAX_SHORT_FRAME: u64 = 0x7fff_ffff;
/// Python writes header and payload in one `send` up to this size.
pub const SMALL_FRAME: usize = 16 * 1024;
/// Handshake frames are read with this cap (`recv_bytes(256)`).
pub const HANDSHAKE_FRAME_CAP: u64 = 256;

pub const CHALLENGE: &[u8] = b"#CHALLENGE#";
pub const WELCOME: &[u8] = b"#WELCOME#";
pub const FAILURE: &[u8] = b"#FAILURE#";

/// Random bytes after the `{digest}` prefix in a modern (3.12+) challenge.
const MESSAGE_LENGTH: usize = 40;
/// A legacy (≤ 3.11) challenge: 20 random bytes, answered with raw HMAC-MD5.
pub const LEGACY_MESSAGE_LENGTH: usize = 20;
/// A legacy answer: a raw 16-byte HMAC-MD5.
const MD5_DIGEST_LENGTH: usize = 16;

/// The digests a `{name}` prefix may name (`_ALLOWED_DIGESTS`).
const ALLOWED_DIGESTS: [Digest; 5] = [
    Digest::Md5,
    Digest::Sha256,
    Digest::Sha384,
    Digest::Sha3_256,
    Digest::Sha3_384,
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("frame of {size} bytes exceeds the limit of {limit} bytes")]
    TooLarge { size: u64, limit: u64 },
    #[error("negative frame length {0}")]
    NegativeLength(i32),
}

/// A decoded frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// Bytes of header (4, or 12 for the long form).
    pub header_len: usize,
    pub payload_len: u64,
}

/// Reads a frame header from the front of `buf`: `Ok(None)` if more bytes are needed.
/// Sizes over `limit` are refused before anything is allocated for them.
pub fn parse_header(buf: &[u8], limit: u64) -> Result<Option<FrameHeader>, FrameError> {
    let Some(short) = buf.get(..4) else {
        return Ok(None);
    };
    let size = i32::from_be_bytes([short[0], short[1], short[2], short[3]]);
    let header = match size {
        -1 => {
            let Some(long) = buf.get(4..12) else {
                return Ok(None);
            };
            let mut bytes = [0u8; 8];
            bytes.copy_from_slice(long);
            FrameHeader {
                header_len: 12,
                payload_len: u64::from_be_bytes(bytes),
            }
        }
        n if n < 0 => return Err(FrameError::NegativeLength(n)),
        n => FrameHeader {
            header_len: 4,
            payload_len: n as u64,
        },
    };
    if header.payload_len > limit {
        return Err(FrameError::TooLarge {
            size: header.payload_len,
            limit,
        });
    }
    Ok(Some(header))
}

/// The header Python writes before a payload of `len` bytes.
pub fn encode_header(len: u64) -> Vec<u8> {
    if len > MAX_SHORT_FRAME {
        let mut header = (-1i32).to_be_bytes().to_vec();
        header.extend_from_slice(&len.to_be_bytes());
        header
    } else {
        (len as i32).to_be_bytes().to_vec()
    }
}

/// Why an authkey handshake failed. Python raises `AuthenticationError` for each.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeError {
    #[error("the peer's first message is not a challenge")]
    NotAChallenge,
    #[error("challenge too short: {0} bytes")]
    ChallengeTooShort(usize),
    #[error("unsupported message length, missing digest prefix, or unsupported digest")]
    UnsupportedDigest,
    #[error("digest received was wrong")]
    WrongDigest,
    #[error("digest sent was rejected")]
    Rejected,
}

/// The challenge a netkit server sends: `#CHALLENGE#{sha256}` + 40 random bytes, which
/// every Python from 3.8 answers (≤ 3.11 with raw HMAC-MD5 over the whole message).
/// Returns the frame payload; the MESSAGE to verify against is after [`CHALLENGE`].
pub fn new_challenge(digest: Digest) -> Vec<u8> {
    let mut frame = CHALLENGE.to_vec();
    frame.push(b'{');
    frame.extend_from_slice(digest.name().as_bytes());
    frame.push(b'}');
    frame.extend_from_slice(&challenge::new_challenge(MESSAGE_LENGTH));
    frame
}

/// `_get_digest_name_and_payload`: `None` for the legacy forms (20-byte challenges,
/// 16-byte answers), else the digest named in the `{name}` prefix and what follows it.
fn digest_and_payload(message: &[u8]) -> Result<(Option<Digest>, &[u8]), HandshakeError> {
    if message.len() == LEGACY_MESSAGE_LENGTH || message.len() == MD5_DIGEST_LENGTH {
        return Ok((None, message));
    }
    if message.first() == Some(&b'{') {
        // Python looks for '}' in message[1:20].
        let window = &message[1..message.len().min(20)];
        if let Some(pos) = window.iter().position(|&b| b == b'}') {
            let curly = pos + 1;
            let name = &message[1..curly];
            if let Some(digest) = ALLOWED_DIGESTS
                .into_iter()
                .find(|d| d.name().as_bytes() == name)
            {
                return Ok((Some(digest), &message[curly + 1..]));
            }
        }
    }
    Err(HandshakeError::UnsupportedDigest)
}

/// The answerer's reply to a challenge frame (`answer_challenge`'s first step).
pub fn answer(authkey: &[u8], challenge_frame: &[u8]) -> Result<Vec<u8>, HandshakeError> {
    let message = challenge_frame
        .strip_prefix(CHALLENGE)
        .ok_or(HandshakeError::NotAChallenge)?;
    if message.len() < LEGACY_MESSAGE_LENGTH {
        return Err(HandshakeError::ChallengeTooShort(message.len()));
    }
    match digest_and_payload(message)? {
        (None, _) => Ok(Digest::Md5.mac(authkey, message)),
        (Some(digest), _) => {
            let mut reply = format!("{{{}}}", digest.name()).into_bytes();
            reply.extend_from_slice(&digest.mac(authkey, message));
            Ok(reply)
        }
    }
}

/// The challenger's check of a reply to `challenge_frame` (`_verify_challenge`), in
/// constant time. A 16-byte reply is a legacy raw HMAC-MD5.
pub fn verify(authkey: &[u8], challenge_frame: &[u8], reply: &[u8]) -> Result<(), HandshakeError> {
    let message = challenge_frame
        .strip_prefix(CHALLENGE)
        .ok_or(HandshakeError::NotAChallenge)?;
    let (digest, mac) = digest_and_payload(reply)?;
    let digest = digest.unwrap_or(Digest::Md5);
    if challenge::verify(digest, authkey, message, mac) {
        Ok(())
    } else {
        Err(HandshakeError::WrongDigest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_match_python() {
        // struct.pack("!i", 5)
        assert_eq!(encode_header(5), [0, 0, 0, 5]);
        assert_eq!(encode_header(0x7fff_ffff), [0x7f, 0xff, 0xff, 0xff]);
        // struct.pack("!i", -1) + struct.pack("!Q", 2**31)
        assert_eq!(
            encode_header(0x8000_0000),
            [0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0x80, 0, 0, 0]
        );
    }

    #[test]
    fn header_parsing() {
        let limit = 1 << 40;
        assert_eq!(parse_header(&[0, 0, 0], limit), Ok(None));
        assert_eq!(
            parse_header(&[0, 0, 1, 0, 9], limit),
            Ok(Some(FrameHeader {
                header_len: 4,
                payload_len: 256
            }))
        );
        let long = encode_header(1 << 33);
        assert_eq!(parse_header(&long[..11], limit), Ok(None));
        assert_eq!(
            parse_header(&long, limit),
            Ok(Some(FrameHeader {
                header_len: 12,
                payload_len: 1 << 33
            }))
        );
        assert_eq!(
            parse_header(&long, 1000),
            Err(FrameError::TooLarge {
                size: 1 << 33,
                limit: 1000
            })
        );
        assert_eq!(
            parse_header(&(-2i32).to_be_bytes(), limit),
            Err(FrameError::NegativeLength(-2))
        );
    }

    #[test]
    fn modern_round_trip() {
        let frame = new_challenge(Digest::Sha256);
        assert!(frame.starts_with(b"#CHALLENGE#{sha256}"));
        assert_eq!(frame.len(), 11 + 8 + 40);
        let reply = answer(b"peekaboo", &frame).unwrap();
        assert!(reply.starts_with(b"{sha256}"));
        assert_eq!(reply.len(), 8 + 32);
        assert_eq!(verify(b"peekaboo", &frame, &reply), Ok(()));
        assert_eq!(
            verify(b"other", &frame, &reply),
            Err(HandshakeError::WrongDigest)
        );
    }

    #[test]
    fn a_legacy_client_answers_a_modern_challenge_with_raw_md5() {
        let frame = new_challenge(Digest::Sha256);
        let message = &frame[CHALLENGE.len()..];
        let legacy_reply = Digest::Md5.mac(b"peekaboo", message);
        assert_eq!(legacy_reply.len(), 16);
        assert_eq!(verify(b"peekaboo", &frame, &legacy_reply), Ok(()));
    }

    #[test]
    fn a_legacy_challenge_gets_raw_md5() {
        let mut frame = CHALLENGE.to_vec();
        frame.extend_from_slice(&[7u8; 20]);
        let reply = answer(b"k", &frame).unwrap();
        assert_eq!(reply, Digest::Md5.mac(b"k", &[7u8; 20]));
    }

    #[test]
    fn bad_challenges_and_replies() {
        assert_eq!(
            answer(b"k", b"#WELCOME#"),
            Err(HandshakeError::NotAChallenge)
        );
        assert_eq!(
            answer(b"k", b"#CHALLENGE#short"),
            Err(HandshakeError::ChallengeTooShort(5))
        );
        let mut whirlpool = b"#CHALLENGE#{whirlpool}".to_vec();
        whirlpool.extend_from_slice(&[0u8; 40]);
        assert_eq!(
            answer(b"k", &whirlpool),
            Err(HandshakeError::UnsupportedDigest)
        );
        // sha1 and sha512 are hashlib names but not in Python's allowed list.
        let mut sha1 = b"#CHALLENGE#{sha1}".to_vec();
        sha1.extend_from_slice(&[0u8; 40]);
        assert_eq!(answer(b"k", &sha1), Err(HandshakeError::UnsupportedDigest));
        let frame = new_challenge(Digest::Sha256);
        assert_eq!(
            verify(b"k", &frame, b"{sha256}tooshort"),
            Err(HandshakeError::WrongDigest)
        );
        assert_eq!(
            verify(b"k", &frame, b""),
            Err(HandshakeError::UnsupportedDigest)
        );
    }
}
