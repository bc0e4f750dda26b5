//! netkit's bulk framing, sans-IO: the header that starts each connection, the receiver's
//! reply, and the chunk prefix of streamed (unknown-length) payloads.
//!
//! ```text
//! header, big-endian, 48 bytes + the .npy preamble:
//!   0  magic "NKBULK"          6   version u8 = 1      7  flags u8
//!   8  header_len u32          (48 + preamble; at most MAX_HEADER)
//!  12  stream_index u16        14  stream_count u16 (>= 1)
//!  16  transfer_id u64         (the same on every stream of one transfer)
//!  24  total_len u64           (bytes of the whole payload; 0 when CHUNKED)
//!  32  offset u64              (where this stream's bytes start in the payload)
//!  40  payload_len u64         (bytes of payload on this stream; 0 when CHUNKED)
//!  48  .npy preamble           (iff flags & NPY; the file starts with it, the payload follows)
//! then payload_len bytes (CHUNKED: chunks of [u32 length][bytes], a 0 length ends them),
//! then the trailer: xxh3-64 (u64) of this stream's payload bytes.
//!
//! reply from the receiver once it has checked the trailer (and the sender has shut down
//! its side):  "NKOK" + u64 checksum   or   "NKER" + u16 length + UTF-8 message.
//! With RESUME the receiver first sends "NKAT" + u64: bytes it already holds.
//! ```
//!
//! Nothing is allocated from a length the peer declares: the header is capped at
//! [`MAX_HEADER`] before it is read, and payload sizes are checked against the receiver's
//! limit before a byte of payload is accepted.

use super::npy::{self, NpyError, NpyHeader};

pub const MAGIC: &[u8; 6] = b"NKBULK";
pub const VERSION: u8 = 1;
/// Bytes of the header before the optional `.npy` preamble.
pub const FIXED_LEN: usize = 48;
/// Longest header accepted, preamble included: NumPy's own preambles are a few hundred
/// bytes even for 32-dimensional arrays.
pub const MAX_HEADER: usize = 64 * 1024;
/// Longest chunk of a CHUNKED payload.
pub const MAX_CHUNK: u32 = 16 * 1024 * 1024;
/// Most parallel streams of one transfer: with each stream's 4 MiB of buffers, a
/// receiver's payload memory stays within 64 MiB.
pub const MAX_STREAMS: u16 = 16;
/// Length of the reply the receiver sends for success.
pub const OK_LEN: usize = 12;
/// Longest error message in a reply.
pub const MAX_REPLY_MESSAGE: usize = 1024;

pub mod flags {
    /// An `.npy` preamble follows the fixed header.
    pub const NPY: u8 = 1;
    /// Length unknown in advance (a pipe): the payload comes in length-prefixed chunks.
    pub const CHUNKED: u8 = 2;
    /// The sender asks how much of the payload the receiver already has.
    pub const RESUME: u8 = 4;
    pub const ALL: u8 = NPY | CHUNKED | RESUME;
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    #[error("not a netkit bulk stream (bad magic); a --raw sender needs --raw --bytes N here")]
    BadMagic,
    #[error("bulk protocol version {0} is not supported (this netkit speaks 1)")]
    UnsupportedVersion(u8),
    #[error("unknown header flags {0:#04x}")]
    UnknownFlags(u8),
    #[error("header declares {declared} bytes; it must be between {FIXED_LEN} and {MAX_HEADER}")]
    BadHeaderLen { declared: u64 },
    #[error("header declares stream {index} of {count} (at most {MAX_STREAMS} streams)")]
    BadStream { index: u16, count: u16 },
    #[error(
        "header declares {payload_len} bytes at offset {offset} of a {total_len}-byte payload"
    )]
    BadRange {
        offset: u64,
        payload_len: u64,
        total_len: u64,
    },
    #[error("a chunked header must declare one stream and no lengths")]
    BadChunked,
    #[error("header has {preamble} bytes after the fixed part but no NPY flag")]
    StrayBytes { preamble: usize },
    #[error("array header: {0}")]
    Npy(#[from] NpyError),
    #[error("the .npy header describes {array} bytes of data but the transfer declares {total}")]
    NpySizeMismatch { array: u64, total: u64 },
    #[error("bad reply from the receiver")]
    BadReply,
}

/// One connection's header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub transfer_id: u64,
    pub stream_index: u16,
    pub stream_count: u16,
    pub total_len: u64,
    pub offset: u64,
    pub payload_len: u64,
    pub chunked: bool,
    pub resume: bool,
    /// The `.npy` preamble, verbatim, and what it says.
    pub npy: Option<(Vec<u8>, NpyHeader)>,
}

/// What [`decode`] made of the bytes so far.
#[derive(Debug, PartialEq, Eq)]
pub enum Decoded {
    /// At least this many bytes in all are needed.
    NeedMore(usize),
    /// A header, and how many bytes it took.
    Header(Header, usize),
}

impl Header {
    /// A single-stream header for a payload of `len` bytes.
    pub fn single(transfer_id: u64, len: u64) -> Header {
        Header {
            transfer_id,
            stream_index: 0,
            stream_count: 1,
            total_len: len,
            offset: 0,
            payload_len: len,
            chunked: false,
            resume: false,
            npy: None,
        }
    }

    pub fn flags(&self) -> u8 {
        let mut f = 0;
        if self.npy.is_some() {
            f |= flags::NPY;
        }
        if self.chunked {
            f |= flags::CHUNKED;
        }
        if self.resume {
            f |= flags::RESUME;
        }
        f
    }

    pub fn encoded_len(&self) -> usize {
        FIXED_LEN + self.npy.as_ref().map_or(0, |(pre, _)| pre.len())
    }

    /// Bytes the output file holds before the payload: the `.npy` preamble.
    pub fn preamble(&self) -> &[u8] {
        self.npy.as_ref().map_or(&[], |(pre, _)| pre.as_slice())
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        out.extend_from_slice(MAGIC);
        out.push(VERSION);
        out.push(self.flags());
        out.extend_from_slice(&(self.encoded_len() as u32).to_be_bytes());
        out.extend_from_slice(&self.stream_index.to_be_bytes());
        out.extend_from_slice(&self.stream_count.to_be_bytes());
        out.extend_from_slice(&self.transfer_id.to_be_bytes());
        out.extend_from_slice(&self.total_len.to_be_bytes());
        out.extend_from_slice(&self.offset.to_be_bytes());
        out.extend_from_slice(&self.payload_len.to_be_bytes());
        out.extend_from_slice(self.preamble());
        out
    }
}

fn be_u16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}
fn be_u32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}
fn be_u64(b: &[u8], at: usize) -> u64 {
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[at..at + 8]);
    u64::from_be_bytes(x)
}

/// Decodes a header from the start of `bytes`, or says how many bytes it needs. Errors come
/// as early as the bytes allow: a bad magic or an oversized length after 12 bytes.
pub fn decode(bytes: &[u8]) -> Result<Decoded, HeaderError> {
    let magic_seen = bytes.len().min(MAGIC.len());
    if bytes[..magic_seen] != MAGIC[..magic_seen] {
        return Err(HeaderError::BadMagic);
    }
    if bytes.len() < 12 {
        return Ok(Decoded::NeedMore(12));
    }
    if bytes[6] != VERSION {
        return Err(HeaderError::UnsupportedVersion(bytes[6]));
    }
    let flag_bits = bytes[7];
    if flag_bits & !flags::ALL != 0 {
        return Err(HeaderError::UnknownFlags(flag_bits));
    }
    let header_len = be_u32(bytes, 8) as usize;
    if !(FIXED_LEN..=MAX_HEADER).contains(&header_len) {
        return Err(HeaderError::BadHeaderLen {
            declared: header_len as u64,
        });
    }
    if bytes.len() < header_len {
        return Ok(Decoded::NeedMore(header_len));
    }
    let header = &bytes[..header_len];
    let stream_index = be_u16(header, 12);
    let stream_count = be_u16(header, 14);
    if stream_count == 0 || stream_count > MAX_STREAMS || stream_index >= stream_count {
        return Err(HeaderError::BadStream {
            index: stream_index,
            count: stream_count,
        });
    }
    let transfer_id = be_u64(header, 16);
    let total_len = be_u64(header, 24);
    let offset = be_u64(header, 32);
    let payload_len = be_u64(header, 40);
    let chunked = flag_bits & flags::CHUNKED != 0;
    if chunked {
        if stream_count != 1 || total_len != 0 || offset != 0 || payload_len != 0 {
            return Err(HeaderError::BadChunked);
        }
    } else if offset
        .checked_add(payload_len)
        .is_none_or(|end| end > total_len)
    {
        return Err(HeaderError::BadRange {
            offset,
            payload_len,
            total_len,
        });
    }
    let preamble = &header[FIXED_LEN..];
    let npy = if flag_bits & flags::NPY != 0 {
        let parsed = npy::parse(preamble)?;
        let array = parsed.data_len()?;
        if !chunked && array != total_len {
            return Err(HeaderError::NpySizeMismatch {
                array,
                total: total_len,
            });
        }
        Some((preamble.to_vec(), parsed))
    } else if !preamble.is_empty() {
        return Err(HeaderError::StrayBytes {
            preamble: preamble.len(),
        });
    } else {
        None
    };
    Ok(Decoded::Header(
        Header {
            transfer_id,
            stream_index,
            stream_count,
            total_len,
            offset,
            payload_len,
            chunked,
            resume: flag_bits & flags::RESUME != 0,
            npy,
        },
        header_len,
    ))
}

/// The receiver's verdict on a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// Stored; the checksum the receiver computed.
    Ok(u64),
    /// Refused, with the receiver's reason.
    Error(String),
}

impl Reply {
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Reply::Ok(sum) => {
                let mut out = b"NKOK".to_vec();
                out.extend_from_slice(&sum.to_be_bytes());
                out
            }
            Reply::Error(message) => {
                let mut text = message.as_str();
                while text.len() > MAX_REPLY_MESSAGE {
                    let mut cut = MAX_REPLY_MESSAGE;
                    while !text.is_char_boundary(cut) {
                        cut -= 1;
                    }
                    text = &text[..cut];
                }
                let mut out = b"NKER".to_vec();
                out.extend_from_slice(&(text.len() as u16).to_be_bytes());
                out.extend_from_slice(text.as_bytes());
                out
            }
        }
    }

    /// Decodes a reply from the start of `bytes`: `Ok(None)` when more bytes are needed.
    pub fn decode(bytes: &[u8]) -> Result<Option<(Reply, usize)>, HeaderError> {
        let tag = &bytes[..bytes.len().min(4)];
        if b"NKOK".starts_with(tag) {
            if bytes.len() < OK_LEN {
                return Ok(None);
            }
            return Ok(Some((Reply::Ok(be_u64(bytes, 4)), OK_LEN)));
        }
        if b"NKER".starts_with(tag) {
            if bytes.len() < 6 {
                return Ok(None);
            }
            let len = usize::from(be_u16(bytes, 4));
            if len > MAX_REPLY_MESSAGE {
                return Err(HeaderError::BadReply);
            }
            if bytes.len() < 6 + len {
                return Ok(None);
            }
            let text = String::from_utf8_lossy(&bytes[6..6 + len]).into_owned();
            return Ok(Some((Reply::Error(text), 6 + len)));
        }
        Err(HeaderError::BadReply)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> Header {
        Header {
            transfer_id: 0x0102030405060708,
            stream_index: 1,
            stream_count: 3,
            total_len: 1000,
            offset: 333,
            payload_len: 333,
            chunked: false,
            resume: false,
            npy: None,
        }
    }

    #[test]
    fn exact_bytes() {
        let bytes = header().encode();
        assert_eq!(
            bytes,
            [
                b"NKBULK".as_slice(),
                &[1, 0],
                &[0, 0, 0, 48],
                &[0, 1, 0, 3],
                &[1, 2, 3, 4, 5, 6, 7, 8],
                &1000u64.to_be_bytes(),
                &333u64.to_be_bytes(),
                &333u64.to_be_bytes(),
            ]
            .concat()
        );
        assert_eq!(decode(&bytes), Ok(Decoded::Header(header(), 48)));
    }

    #[test]
    fn asks_for_more_without_trusting_lengths() {
        let bytes = header().encode();
        assert_eq!(decode(&bytes[..5]), Ok(Decoded::NeedMore(12)));
        assert_eq!(decode(&bytes[..20]), Ok(Decoded::NeedMore(48)));
        let mut huge = bytes.clone();
        huge[8..12].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(matches!(
            decode(&huge[..12]),
            Err(HeaderError::BadHeaderLen { .. })
        ));
    }

    #[test]
    fn lies_are_errors() {
        let mut h = header();
        h.payload_len = 700;
        assert!(matches!(
            decode(&h.encode()),
            Err(HeaderError::BadRange { .. })
        ));
        let mut h = header();
        h.offset = u64::MAX;
        assert!(matches!(
            decode(&h.encode()),
            Err(HeaderError::BadRange { .. })
        ));
        // A header longer than its fixed part with no NPY flag.
        let mut bytes = header().encode();
        bytes.extend_from_slice(b"xyz");
        bytes[8..12].copy_from_slice(&51u32.to_be_bytes());
        assert_eq!(decode(&bytes), Err(HeaderError::StrayBytes { preamble: 3 }));
        // An npy preamble that does not match the payload size.
        let npy = NpyHeader {
            descr: "<f8".into(),
            fortran_order: false,
            shape: vec![10],
        };
        let mut h = Header::single(1, 81);
        h.npy = Some((npy.encode(), npy));
        assert!(matches!(
            decode(&h.encode()),
            Err(HeaderError::NpySizeMismatch {
                array: 80,
                total: 81
            })
        ));
        assert_eq!(decode(b"HTTP/1.1"), Err(HeaderError::BadMagic));
        let mut v2 = header().encode();
        v2[6] = 2;
        assert_eq!(decode(&v2), Err(HeaderError::UnsupportedVersion(2)));
    }

    #[test]
    fn replies() {
        for reply in [Reply::Ok(42), Reply::Error("disk full".into())] {
            let bytes = reply.encode();
            assert_eq!(Reply::decode(&bytes), Ok(Some((reply, bytes.len()))));
            assert_eq!(Reply::decode(&bytes[..3]), Ok(None));
        }
        assert_eq!(Reply::decode(b"HELLO"), Err(HeaderError::BadReply));
        let long = Reply::Error("é".repeat(2000)).encode();
        assert!(long.len() <= 6 + MAX_REPLY_MESSAGE);
    }
}
