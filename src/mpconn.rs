//! A `multiprocessing.connection` connection over any byte stream: owns the stream, the
//! read buffer and the frame cap; sends and receives whole frames and runs the authkey
//! handshake in either role. Used by the conn and rpc services, their clients and the
//! socket handoff.

use crate::proto::challenge::Digest;
use crate::proto::mpconn::{self, FrameError, HandshakeError, HANDSHAKE_FRAME_CAP, SMALL_FRAME};
use bytes::{Buf, Bytes, BytesMut};
use std::io;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Growth step of the read buffer: a peer's length claim is never allocated at once.
const READ_STEP: usize = 256 * 1024;
/// An empty buffer bigger than this is given back, so idle connections stay small.
const KEEP_BUFFER: usize = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum MpError {
    #[error(transparent)]
    Frame(#[from] FrameError),
    #[error("authentication failed: {0}")]
    Handshake(#[from] HandshakeError),
    #[error("connection closed in the middle of a frame")]
    TruncatedFrame,
    #[error("connection closed during the handshake")]
    ClosedInHandshake,
    #[error(transparent)]
    Io(#[from] io::Error),
}

pub struct MpConnection<S> {
    stream: S,
    buffer: BytesMut,
    max_frame: u64,
}

impl<S: AsyncRead + AsyncWrite + Unpin> MpConnection<S> {
    pub fn new(stream: S, max_frame: u64) -> Self {
        MpConnection {
            stream,
            buffer: BytesMut::new(),
            max_frame,
        }
    }

    pub fn get_ref(&self) -> &S {
        &self.stream
    }

    pub fn into_inner(self) -> S {
        self.stream
    }

    /// Whether part of a frame has been read and not yet returned.
    pub fn has_buffered_input(&self) -> bool {
        !self.buffer.is_empty()
    }

    /// The next frame's payload; `None` when the peer closed between frames (Python's
    /// `recv_bytes` raises EOFError there).
    pub async fn recv_bytes(&mut self) -> Result<Option<Bytes>, MpError> {
        self.recv_capped(self.max_frame).await
    }

    async fn recv_capped(&mut self, limit: u64) -> Result<Option<Bytes>, MpError> {
        loop {
            if let Some(header) = mpconn::parse_header(&self.buffer, limit)? {
                // payload_len <= limit, which fits in memory by configuration.
                let needed = header.header_len + header.payload_len as usize;
                if self.buffer.len() >= needed {
                    self.buffer.advance(header.header_len);
                    let payload = self.buffer.split_to(header.payload_len as usize).freeze();
                    if self.buffer.is_empty() && self.buffer.capacity() > KEEP_BUFFER {
                        self.buffer = BytesMut::new();
                    }
                    return Ok(Some(payload));
                }
                let missing = needed - self.buffer.len();
                self.buffer.reserve(missing.min(READ_STEP));
            }
            if self.stream.read_buf(&mut self.buffer).await? == 0 {
                return if self.buffer.is_empty() {
                    Ok(None)
                } else {
                    Err(MpError::TruncatedFrame)
                };
            }
        }
    }

    /// Sends one frame; small frames go out in one write, as Python sends them.
    pub async fn send_bytes(&mut self, payload: &[u8]) -> io::Result<()> {
        let header = mpconn::encode_header(payload.len() as u64);
        if payload.len() <= SMALL_FRAME {
            let mut frame = Vec::with_capacity(header.len() + payload.len());
            frame.extend_from_slice(&header);
            frame.extend_from_slice(payload);
            self.stream.write_all(&frame).await?;
        } else {
            self.stream.write_all(&header).await?;
            self.stream.write_all(payload).await?;
        }
        self.stream.flush().await
    }

    async fn recv_handshake_frame(&mut self) -> Result<Bytes, MpError> {
        self.recv_capped(HANDSHAKE_FRAME_CAP)
            .await?
            .ok_or(MpError::ClosedInHandshake)
    }

    /// `deliver_challenge`: challenge the peer, check its answer, welcome or refuse it.
    pub async fn deliver_challenge(&mut self, authkey: &[u8]) -> Result<(), MpError> {
        let challenge = mpconn::new_challenge(Digest::Sha256);
        self.send_bytes(&challenge).await?;
        let reply = self.recv_handshake_frame().await?;
        match mpconn::verify(authkey, &challenge, &reply) {
            Ok(()) => {
                self.send_bytes(mpconn::WELCOME).await?;
                Ok(())
            }
            Err(error) => {
                let _ = self.send_bytes(mpconn::FAILURE).await;
                Err(error.into())
            }
        }
    }

    /// `answer_challenge`: prove we know the key to a challenging peer.
    pub async fn answer_challenge(&mut self, authkey: &[u8]) -> Result<(), MpError> {
        let challenge = self.recv_handshake_frame().await?;
        let reply = mpconn::answer(authkey, &challenge)?;
        self.send_bytes(&reply).await?;
        let verdict = self.recv_handshake_frame().await?;
        if verdict.as_ref() == mpconn::WELCOME {
            Ok(())
        } else {
            Err(HandshakeError::Rejected.into())
        }
    }

    /// What `Listener.accept()` does with an authkey: challenge first, then answer.
    pub async fn server_handshake(&mut self, authkey: &[u8]) -> Result<(), MpError> {
        self.deliver_challenge(authkey).await?;
        self.answer_challenge(authkey).await
    }

    /// What `Client(address, authkey=…)` does: answer first, then challenge.
    pub async fn client_handshake(&mut self, authkey: &[u8]) -> Result<(), MpError> {
        self.answer_challenge(authkey).await?;
        self.deliver_challenge(authkey).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn frames_and_handshake_over_a_pipe() {
        let (a, b) = tokio::io::duplex(1 << 16);
        let mut server = MpConnection::new(a, 1 << 20);
        let mut client = MpConnection::new(b, 1 << 20);
        let (s, c) = tokio::join!(
            server.server_handshake(b"peekaboo"),
            client.client_handshake(b"peekaboo")
        );
        s.unwrap();
        c.unwrap();
        let big = vec![9u8; 100_000];
        // The big frame overflows the pipe: send and receive at the same time.
        let sender = async {
            client.send_bytes(b"hello").await.unwrap();
            client.send_bytes(&big).await.unwrap();
            drop(client);
        };
        let receiver = async {
            assert_eq!(
                server.recv_bytes().await.unwrap().unwrap().as_ref(),
                b"hello"
            );
            assert_eq!(
                server.recv_bytes().await.unwrap().unwrap().as_ref(),
                &big[..]
            );
            assert!(server.recv_bytes().await.unwrap().is_none());
        };
        tokio::join!(sender, receiver);
    }

    #[tokio::test]
    async fn wrong_key_fails_on_both_sides() {
        let (a, b) = tokio::io::duplex(1 << 16);
        let mut server = MpConnection::new(a, 1 << 20);
        let mut client = MpConnection::new(b, 1 << 20);
        let (s, c) = tokio::join!(
            server.server_handshake(b"right"),
            client.client_handshake(b"wrong")
        );
        assert!(matches!(
            s,
            Err(MpError::Handshake(HandshakeError::WrongDigest))
        ));
        assert!(matches!(
            c,
            Err(MpError::Handshake(HandshakeError::Rejected))
        ));
    }

    #[tokio::test]
    async fn oversized_and_truncated_frames() {
        let (a, mut b) = tokio::io::duplex(1 << 16);
        let mut server = MpConnection::new(a, 1000);
        b.write_all(&mpconn::encode_header(1001)).await.unwrap();
        assert!(matches!(
            server.recv_bytes().await,
            Err(MpError::Frame(FrameError::TooLarge {
                size: 1001,
                limit: 1000
            }))
        ));
        let (a, mut b) = tokio::io::duplex(1 << 16);
        let mut server = MpConnection::new(a, 1000);
        b.write_all(&[0, 0, 0, 10, 1, 2, 3]).await.unwrap();
        drop(b);
        assert!(matches!(
            server.recv_bytes().await,
            Err(MpError::TruncatedFrame)
        ));
    }
}
