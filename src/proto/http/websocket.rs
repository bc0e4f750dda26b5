//! The WebSocket (RFC 6455) pieces /websocket/echo needs, sans-IO: the handshake's accept
//! key, and parsing client frames / encoding server frames.

use base64::Engine;
use sha1::{Digest, Sha1};

/// `Sec-WebSocket-Accept` for a client's `Sec-WebSocket-Key`.
pub fn accept_key(key: &str) -> String {
    let mut hasher = Sha1::new();
    hasher.update(key.trim().as_bytes());
    hasher.update(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    base64::engine::general_purpose::STANDARD.encode(hasher.finalize())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub fin: bool,
    pub opcode: u8,
    pub payload: Vec<u8>,
}

pub const CONTINUATION: u8 = 0x0;
pub const TEXT: u8 = 0x1;
pub const BINARY: u8 = 0x2;
pub const CLOSE: u8 = 0x8;
pub const PING: u8 = 0x9;
pub const PONG: u8 = 0xA;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("client frames must be masked")]
    Unmasked,
    #[error("reserved bits or opcode set")]
    Reserved,
    #[error("control frame too long or fragmented")]
    BadControl,
    #[error("frame of {0} bytes is over the cap")]
    TooLarge(u64),
}

/// One client frame from the front of `buf`: `Ok(None)` until it is all there, else the
/// frame and how many bytes it took. `max` caps the payload.
pub fn parse_client_frame(buf: &[u8], max: u64) -> Result<Option<(Frame, usize)>, FrameError> {
    if buf.len() < 2 {
        return Ok(None);
    }
    let (b0, b1) = (buf[0], buf[1]);
    let fin = b0 & 0x80 != 0;
    let opcode = b0 & 0x0F;
    if b0 & 0x70 != 0 || !matches!(opcode, CONTINUATION | TEXT | BINARY | CLOSE | PING | PONG) {
        return Err(FrameError::Reserved);
    }
    if b1 & 0x80 == 0 {
        return Err(FrameError::Unmasked);
    }
    let (len, mut at) = match b1 & 0x7F {
        126 => {
            let Some(bytes) = buf.get(2..4) else {
                return Ok(None);
            };
            (u64::from(u16::from_be_bytes([bytes[0], bytes[1]])), 4)
        }
        127 => {
            let Some(bytes) = buf.get(2..10) else {
                return Ok(None);
            };
            let mut word = [0u8; 8];
            word.copy_from_slice(bytes);
            (u64::from_be_bytes(word), 10)
        }
        n => (u64::from(n), 2),
    };
    if opcode >= CLOSE && (len > 125 || !fin) {
        return Err(FrameError::BadControl);
    }
    if len > max {
        return Err(FrameError::TooLarge(len));
    }
    let Some(mask) = buf.get(at..at + 4) else {
        return Ok(None);
    };
    let mask = [mask[0], mask[1], mask[2], mask[3]];
    at += 4;
    // len <= max, which fits in memory by the operator's choice.
    let len = len as usize;
    let Some(masked) = buf.get(at..at + len) else {
        return Ok(None);
    };
    let payload = masked
        .iter()
        .enumerate()
        .map(|(i, b)| b ^ mask[i % 4])
        .collect();
    Ok(Some((
        Frame {
            fin,
            opcode,
            payload,
        },
        at + len,
    )))
}

/// A server frame (never masked).
pub fn encode_server_frame(frame: &Frame) -> Vec<u8> {
    let len = frame.payload.len();
    let mut out = Vec::with_capacity(len + 10);
    out.push(if frame.fin { 0x80 } else { 0 } | frame.opcode);
    if len < 126 {
        out.push(len as u8);
    } else if len <= usize::from(u16::MAX) {
        out.push(126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    out.extend_from_slice(&frame.payload);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_6455_examples() {
        assert_eq!(
            accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
        // Section 5.7: a masked "Hello".
        let masked = [
            0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ];
        let (frame, used) = parse_client_frame(&masked, 1024).unwrap().unwrap();
        assert_eq!(used, masked.len());
        assert_eq!(frame.payload, b"Hello");
        assert_eq!(
            encode_server_frame(&frame),
            [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]
        );
        for cut in 0..masked.len() {
            assert_eq!(parse_client_frame(&masked[..cut], 1024), Ok(None));
        }
        assert_eq!(
            parse_client_frame(&[0x81, 0x05, b'H'], 1024),
            Err(FrameError::Unmasked)
        );
        assert_eq!(
            parse_client_frame(&[0x82, 0xFF, 0, 0, 0, 0, 0, 1, 0, 0], 1024),
            Err(FrameError::TooLarge(65536))
        );
    }
}
