//! Recipe 13, sending and receiving large arrays: `netkit bulk send` / `netkit bulk recv`.
//!
//! Two layers:
//! - [`send`] / [`recv_into`], the Rust form of the recipe's `send_from` / `recv_into`: a
//!   buffer's raw bytes, no header, the receiver must know the size;
//! - [`send_file`] / [`recv_files`], what the CLI runs: netkit's framing ([`header`]) with the
//!   length, the `.npy` preamble of arrays and an xxh3 checksum, sendfile(2) from the file
//!   to another host on plain TCP, parallel streams, and a receiver that writes into a temporary file and
//!   renames it into place only once the checksum matches. `--raw` mode speaks the recipe's
//!   bare bytes through the same paths.

pub mod header;
pub mod npy;
mod recv;
mod send;

pub use recv::{recv_files, RecvOptions, Target};
pub use send::{send_array, send_file, SendOptions, Sendfile, Source};

use header::HeaderError;
use serde::Serialize;
use std::io;
use std::path::PathBuf;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// What can go wrong in a transfer; each names what the peer or the disk did.
#[derive(Debug, thiserror::Error)]
pub enum BulkError {
    #[error(transparent)]
    Header(#[from] HeaderError),
    #[error("the transfer declares {declared} bytes, over {what} ({limit} bytes)")]
    TooLarge {
        declared: u64,
        limit: u64,
        what: &'static str,
    },
    #[error("connection closed after {received} of {expected} bytes")]
    Truncated { received: u64, expected: u64 },
    #[error("checksum mismatch: the sender's xxh3 is {sent:016x}, the received bytes hash to {computed:016x}")]
    ChecksumMismatch { sent: u64, computed: u64 },
    #[error("the sender sent more bytes than its header declared")]
    ExtraData,
    #[error("a chunk of {0} bytes is over the {max}-byte chunk limit", max = header::MAX_CHUNK)]
    ChunkTooLarge(u32),
    #[error("the receiver refused the transfer: {0}")]
    Refused(String),
    #[error("the receiver confirmed checksum {theirs:016x} but this side sent {ours:016x}")]
    ConfirmedWrongChecksum { ours: u64, theirs: u64 },
    #[error("no progress from the peer for {0:?}")]
    Stalled(Duration),
    #[error("stream {index} of transfer {id:016x} does not match the transfer's other streams")]
    StreamMismatch { id: u64, index: u16 },
    #[error("another stream of this transfer failed: {0}")]
    SiblingFailed(String),
    #[error("{0}")]
    Unsupported(&'static str),
    #[error("{what} {path}: {source}")]
    File {
        what: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error(transparent)]
    Client(#[from] crate::client::ClientError),
    #[error("{0}")]
    Io(#[from] io::Error),
}

impl BulkError {
    fn file(what: &'static str, path: &std::path::Path) -> impl FnOnce(io::Error) -> BulkError {
        let path = path.to_path_buf();
        move |source| BulkError::File { what, path, source }
    }
}

/// What a finished transfer reports (`--json` prints it).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Summary {
    /// Payload bytes that crossed the network (the `.npy` preamble not counted).
    pub bytes: u64,
    pub seconds: f64,
    pub bytes_per_sec: f64,
    pub gbit_per_sec: f64,
    /// xxh3-64 of the whole payload, hex; absent in raw mode and with several streams.
    pub checksum: Option<String>,
    /// `xxh3` for netkit framing, `none` in raw mode.
    pub checksum_algorithm: &'static str,
    pub streams: u16,
    /// Payload bytes the receiver already had (`--resume`).
    pub resumed_from: u64,
    /// `.npy` dtype, shape and order when the payload is an array.
    pub dtype: Option<String>,
    pub shape: Option<Vec<u64>>,
    pub fortran_order: Option<bool>,
    /// Where the receiver stored it.
    pub path: Option<PathBuf>,
}

impl Summary {
    fn new(bytes: u64, elapsed: Duration) -> Summary {
        let seconds = elapsed.as_secs_f64();
        let rate = if seconds > 0.0 {
            bytes as f64 / seconds
        } else {
            0.0
        };
        Summary {
            bytes,
            seconds,
            bytes_per_sec: rate,
            gbit_per_sec: rate * 8.0 / 1e9,
            checksum: None,
            checksum_algorithm: "none",
            streams: 1,
            resumed_from: 0,
            dtype: None,
            shape: None,
            fortran_order: None,
            path: None,
        }
    }

    fn with_npy(mut self, npy: Option<&npy::NpyHeader>) -> Summary {
        if let Some(npy) = npy {
            self.dtype = Some(npy.descr.clone());
            self.shape = Some(npy.shape.clone());
            self.fortran_order = Some(npy.fortran_order);
        }
        self
    }

    /// One line for people.
    pub fn human(&self) -> String {
        let mut line = format!(
            "{} in {:.3} s, {:.2} Gbit/s",
            bytesize::ByteSize(self.bytes),
            self.seconds,
            self.gbit_per_sec
        );
        if let Some(sum) = &self.checksum {
            line.push_str(&format!(", xxh3 {sum}"));
        }
        if let (Some(dtype), Some(shape)) = (&self.dtype, &self.shape) {
            line.push_str(&format!(", array {dtype} {shape:?}"));
        }
        if self.resumed_from > 0 {
            line.push_str(&format!(", resumed at {}", self.resumed_from));
        }
        if let Some(path) = &self.path {
            line.push_str(&format!(" → {}", path.display()));
        }
        line
    }
}

/// Sends a buffer's bytes, all of them: the recipe's `send_from(arr, dest)`.
pub async fn send<S>(stream: &mut S, data: &impl AsRef<[u8]>) -> io::Result<()>
where
    S: AsyncWrite + Unpin + ?Sized,
{
    stream.write_all(data.as_ref()).await?;
    stream.flush().await
}

/// Fills `buf` from the stream: the recipe's `recv_into(arr, source)`. A peer that closes
/// first is an error naming how much arrived, not a silently short buffer.
pub async fn recv_into<S>(stream: &mut S, buf: &mut [u8]) -> Result<(), BulkError>
where
    S: AsyncRead + Unpin + ?Sized,
{
    let mut filled = 0;
    while filled < buf.len() {
        match stream.read(&mut buf[filled..]).await? {
            0 => {
                return Err(BulkError::Truncated {
                    received: filled as u64,
                    expected: buf.len() as u64,
                })
            }
            n => filled += n,
        }
    }
    Ok(())
}

/// A progress bar on stderr when `show` (the CLI: stderr is a terminal and no `--json`).
fn progress_bar(show: bool, total: Option<u64>) -> indicatif::ProgressBar {
    use indicatif::{ProgressBar, ProgressStyle};
    if !show {
        return ProgressBar::hidden();
    }
    let bar = match total {
        Some(total) => ProgressBar::new(total).with_style(
            ProgressStyle::with_template(
                "{bar:40.cyan/blue} {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        ),
        None => ProgressBar::new_spinner().with_style(
            ProgressStyle::with_template("{spinner} {bytes} {binary_bytes_per_sec}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        ),
    };
    bar.set_draw_target(indicatif::ProgressDrawTarget::stderr_with_hz(4));
    bar
}

/// Runs `future`, failing with [`BulkError::Stalled`] when it takes longer than `limit`.
async fn within<T, E: Into<BulkError>>(
    limit: Duration,
    future: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, BulkError> {
    match tokio::time::timeout(limit, future).await {
        Ok(result) => result.map_err(Into::into),
        Err(_) => Err(BulkError::Stalled(limit)),
    }
}

/// Sets the kernel's socket buffers when asked; by default Linux autotunes them (up to
/// `net.ipv4.tcp_rmem`'s maximum), which a fixed SO_RCVBUF would switch off.
fn set_socket_buffers(tcp: &tokio::net::TcpStream, size: Option<usize>) {
    if let Some(size) = size {
        let sock = socket2::SockRef::from(tcp);
        if let Err(error) = sock
            .set_send_buffer_size(size)
            .and_then(|()| sock.set_recv_buffer_size(size))
        {
            tracing::debug!(%error, "cannot set socket buffer sizes");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn recipe_functions_round_trip_and_report_short_reads() {
        let (mut a, mut b) = tokio::io::duplex(1024);
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7) as u8).collect();
        let sender = tokio::spawn(async move {
            send(&mut a, &data).await.unwrap();
            data
        });
        let mut got = vec![0u8; 100_000];
        recv_into(&mut b, &mut got).await.unwrap();
        assert_eq!(got, sender.await.unwrap());

        let (mut a, mut b) = tokio::io::duplex(1024);
        send(&mut a, b"short").await.unwrap();
        drop(a);
        let mut got = [0u8; 10];
        match recv_into(&mut b, &mut got).await {
            Err(BulkError::Truncated {
                received: 5,
                expected: 10,
            }) => {}
            other => panic!("{other:?}"),
        }
    }
}
