//! The receiving side: accepts connections, groups the streams of each transfer, writes
//! their bytes at their offsets in a temporary file next to the destination, and renames
//! it into place once every stream's checksum matches. A cut or corrupt transfer removes
//! the temporary file (keeps it for `--resume`), so FILE is either complete or untouched.

use super::header::{self, Decoded, Header, Reply};
use super::{progress_bar, within, BulkError, Summary};
use crate::service::ServerStream;
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use xxhash_rust::xxh3::Xxh3;

/// Size of each receive buffer.
const BUFFER: usize = 1024 * 1024;
/// Buffers per connection between the socket reader and the file writer: with BUFFER,
/// the whole of a connection's payload memory.
const WRITE_DEPTH: usize = 4;
/// What an all-zero block is compared with.
static ZEROS: [u8; BLOCK as usize] = [0; BLOCK as usize];
/// How long a refused peer gets to read our reason before the socket closes.
const LINGER: Duration = Duration::from_secs(2);

/// Where received bytes go.
#[derive(Debug, Clone)]
pub enum Target {
    File(PathBuf),
    /// Written as they arrive: a checksum failure is reported after the fact.
    Stdout,
}

#[derive(Clone)]
pub struct RecvOptions {
    pub target: Target,
    /// Raw mode (the recipe's bare bytes): exactly this many bytes, no header or checksum.
    pub raw_bytes: Option<u64>,
    /// Largest transfer accepted; a file target is also limited by its filesystem's free space.
    pub max_size: Option<u64>,
    /// Receive transfer after transfer instead of exiting after the first.
    pub keep_going: bool,
    /// Keep partial files of resumable transfers and tell their senders where to resume.
    pub resume: bool,
    /// fsync the file and its directory before reporting success.
    pub fsync: bool,
    pub progress: bool,
    /// Longest wait for the peer's next bytes (and for a transfer's other streams).
    pub timeout: Duration,
    pub tls: Option<TlsAcceptor>,
    /// SO_SNDBUF/SO_RCVBUF; None leaves Linux's autotuning on.
    pub socket_buffer: Option<usize>,
}

impl RecvOptions {
    pub fn new(target: Target) -> RecvOptions {
        RecvOptions {
            target,
            raw_bytes: None,
            max_size: None,
            keep_going: false,
            resume: false,
            fsync: false,
            progress: false,
            timeout: Duration::from_secs(30),
            tls: None,
            socket_buffer: None,
        }
    }
}

struct Shared {
    options: RecvOptions,
    transfers: Mutex<HashMap<u64, Arc<Transfer>>>,
    done: mpsc::UnboundedSender<Result<Summary, BulkError>>,
    raw_ids: std::sync::atomic::AtomicU64,
}

/// Receives transfers on `listener`, calling `on_transfer` with each one's outcome. Without
/// `keep_going` it returns the first transfer's outcome; with it, it runs until accepting
/// fails.
pub async fn recv_files(
    listener: TcpListener,
    options: RecvOptions,
    mut on_transfer: impl FnMut(&Result<Summary, BulkError>),
) -> Result<Summary, BulkError> {
    if matches!(options.target, Target::Stdout) && options.resume {
        return Err(BulkError::Unsupported("--resume needs --out FILE"));
    }
    let (done, mut finished) = mpsc::unbounded_channel();
    let shared = Arc::new(Shared {
        options,
        transfers: Mutex::new(HashMap::new()),
        done,
        raw_ids: 0.into(),
    });
    // Connections served at once: a multi-stream transfer's streams fit, and with their
    // buffers they stay within 64 MiB; stdout takes one transfer at a time so two never
    // interleave. Those past the cap wait in the listen backlog.
    let cap = match shared.options.target {
        Target::Stdout => 1,
        Target::File(_) => usize::from(header::MAX_STREAMS),
    };
    let mut tasks = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept(), if tasks.len() < cap => {
                let (socket, peer) = accepted?;
                tracing::debug!(%peer, "bulk connection");
                tasks.spawn(connection(shared.clone(), socket));
            }
            Some(outcome) = finished.recv() => {
                on_transfer(&outcome);
                if !shared.options.keep_going {
                    // Let the streams of this transfer send their replies.
                    let _ = tokio::time::timeout(LINGER * 2, async {
                        while tasks.join_next().await.is_some() {}
                    })
                    .await;
                    return outcome;
                }
            }
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
        }
    }
}

async fn connection(shared: Arc<Shared>, socket: TcpStream) {
    let _ = socket.set_nodelay(true);
    super::set_socket_buffers(&socket, shared.options.socket_buffer);
    let stream = match &shared.options.tls {
        None => ServerStream::plain(socket),
        Some(acceptor) => match within(shared.options.timeout, acceptor.accept(socket)).await {
            Ok(tls) => ServerStream::tls(Box::new(tls)),
            Err(error) => {
                tracing::debug!(%error, "TLS handshake failed");
                let _ = shared.done.send(Err(error));
                return;
            }
        },
    };
    let mut stream = stream;
    if let Some(bytes) = shared.options.raw_bytes {
        receive_raw(&shared, &mut stream, bytes).await;
    } else {
        receive_framed(&shared, &mut stream).await;
    }
}

/// The recipe's `recv_into`: exactly `bytes` bytes, then the file is complete.
async fn receive_raw(shared: &Arc<Shared>, stream: &mut ServerStream, bytes: u64) {
    let id = shared
        .raw_ids
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let header = Header::single(id, bytes);
    let transfer = match Transfer::create(shared, &header, false) {
        Ok(transfer) => transfer,
        Err(error) => {
            let _ = shared.done.send(Err(error));
            return;
        }
    };
    let mut hasher = Xxh3::new();
    let received = transfer
        .receive_payload(stream, &header, 0, &mut hasher, shared.options.timeout)
        .await;
    match received {
        Ok(()) => transfer.stream_verified(shared, 0, None),
        Err(error) => transfer.fail(shared, error, false),
    }
}

async fn receive_framed(shared: &Arc<Shared>, stream: &mut ServerStream) {
    let timeout = shared.options.timeout;
    let header = match within(timeout, read_header(stream)).await {
        Ok(header) => header,
        Err(error) => {
            refuse(stream, &error).await;
            let _ = shared.done.send(Err(error));
            return;
        }
    };
    let transfer = match join_transfer(shared, &header) {
        Ok(transfer) => transfer,
        Err(error) => {
            refuse(stream, &error).await;
            let _ = shared.done.send(Err(error));
            return;
        }
    };
    let index = header.stream_index;
    let cancelled = transfer.cancel.clone();
    let mut hasher = Xxh3::new();
    let body = async {
        let have = if header.resume {
            let have = transfer.resume_point(&header, &mut hasher)?;
            let mut at = b"NKAT".to_vec();
            at.extend_from_slice(&have.to_be_bytes());
            stream.write_all(&at).await?;
            have
        } else {
            0
        };
        let received = if header.chunked {
            transfer
                .receive_chunks(stream, &mut hasher, timeout)
                .await?
        } else {
            transfer
                .receive_payload(stream, &header, have, &mut hasher, timeout)
                .await?;
            header.payload_len - have
        };
        let mut trailer = [0u8; 8];
        within(
            timeout,
            read_exact_or_truncated(stream, &mut trailer, received),
        )
        .await?;
        let sent = u64::from_be_bytes(trailer);
        let computed = hasher.digest();
        if sent != computed {
            return Err(BulkError::ChecksumMismatch { sent, computed });
        }
        // The sender shuts its side after the trailer: anything more is a lie about size.
        let mut extra = [0u8; 1];
        match within(timeout, stream.read(&mut extra)).await {
            Ok(0) => {}
            Err(BulkError::Io(e)) if e.kind() == io::ErrorKind::UnexpectedEof => {}
            Ok(_) => return Err(BulkError::ExtraData),
            Err(error) => return Err(error),
        }
        Ok(computed)
    };
    let outcome = tokio::select! {
        outcome = body => outcome,
        _ = cancelled.cancelled() => Err(BulkError::SiblingFailed(transfer.failure())),
    };
    let checksum = match outcome {
        Ok(done) => done,
        Err(error) => {
            refuse(stream, &error).await;
            transfer.fail(shared, error, header.resume);
            return;
        }
    };
    transfer.stream_verified(shared, index, Some(checksum));
    let mut verdict = transfer.outcome.subscribe();
    let waited = tokio::time::timeout(timeout, async {
        verdict.wait_for(|v| v.is_some()).await.map(|v| v.clone())
    })
    .await;
    let result = match waited {
        Ok(Ok(v)) => v.unwrap_or_else(|| Err("transfer abandoned".into())),
        _ => {
            let error = BulkError::SiblingFailed(format!(
                "the transfer's other streams did not arrive within {timeout:?}"
            ));
            let text = error.to_string();
            transfer.fail(shared, error, false);
            Err(text)
        }
    };
    let reply = match result {
        Ok(()) => Reply::Ok(checksum),
        Err(message) => Reply::Error(message),
    };
    let _ = stream.write_all(&reply.encode()).await;
    let _ = stream.shutdown().await;
}

/// Tells the peer why, then gives it a moment to read that before the socket closes (a
/// close with unread input would reset the connection and lose the reason).
async fn refuse(stream: &mut ServerStream, error: &BulkError) {
    let reply = Reply::Error(error.to_string()).encode();
    let _ = stream.write_all(&reply).await;
    let _ = stream.shutdown().await;
    let mut sink = vec![0u8; 64 * 1024];
    let _ = tokio::time::timeout(LINGER, async {
        while let Ok(n) = stream.read(&mut sink).await {
            if n == 0 {
                break;
            }
        }
    })
    .await;
}

/// Reads a header: at most [`header::MAX_HEADER`] bytes whatever the peer declares, and
/// not a byte past it.
async fn read_header<R: AsyncRead + Unpin>(stream: &mut R) -> Result<Header, BulkError> {
    let mut buf = vec![0u8; 12];
    read_exact_or_truncated(stream, &mut buf, 0).await?;
    loop {
        match header::decode(&buf)? {
            Decoded::Header(header, _) => return Ok(header),
            Decoded::NeedMore(n) => {
                let have = buf.len();
                buf.resize(n, 0);
                read_exact_or_truncated(stream, &mut buf[have..], 0).await?;
            }
        }
    }
}

async fn read_exact_or_truncated<R: AsyncRead + Unpin>(
    stream: &mut R,
    buf: &mut [u8],
    received: u64,
) -> Result<(), BulkError> {
    match stream.read_exact(buf).await {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Err(BulkError::Truncated {
            received,
            expected: received + buf.len() as u64,
        }),
        Err(e) => Err(e.into()),
    }
}

/// The transfer this stream belongs to: a new one, or the one its siblings started.
fn join_transfer(shared: &Arc<Shared>, header: &Header) -> Result<Arc<Transfer>, BulkError> {
    let mut transfers = shared.transfers.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(existing) = transfers.get(&header.transfer_id) {
        let first = &existing.header;
        let mut seen = existing.state.lock().unwrap_or_else(|p| p.into_inner());
        let slot = seen.streams.get_mut(usize::from(header.stream_index));
        let matches = first.total_len == header.total_len
            && first.stream_count == header.stream_count
            && first.npy == header.npy
            && !header.chunked
            && !header.resume;
        match slot {
            Some(slot @ StreamState::Expected) if matches => {
                *slot = StreamState::Receiving;
                return Ok(existing.clone());
            }
            _ => {
                return Err(BulkError::StreamMismatch {
                    id: header.transfer_id,
                    index: header.stream_index,
                })
            }
        }
    }
    let transfer = Transfer::create(shared, header, true)?;
    if header.stream_count > 1 {
        transfers.insert(header.transfer_id, transfer.clone());
    }
    Ok(transfer)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StreamState {
    Expected,
    Receiving,
    Verified,
}

struct TransferState {
    streams: Vec<StreamState>,
    received: u64,
    checksum: Option<u64>,
    concluded: bool,
    failure: Option<String>,
    /// Payload bytes that were in the part file before this attempt (`--resume`).
    resumed: u64,
}

struct Transfer {
    header: Header,
    sink: Sink,
    started: Instant,
    state: Mutex<TransferState>,
    outcome: watch::Sender<Option<Result<(), String>>>,
    cancel: CancellationToken,
    bar: indicatif::ProgressBar,
    framed: bool,
    fsync: bool,
}

enum Sink {
    File(PartFile),
    Stdout(Mutex<io::Stdout>),
}

/// The temporary file a transfer writes; removed on drop unless renamed into place or
/// kept for a resume.
struct PartFile {
    file: File,
    temp: PathBuf,
    dest: PathBuf,
    /// Bytes before the payload: the `.npy` preamble.
    base: u64,
    settled: std::sync::atomic::AtomicBool,
}

impl Drop for PartFile {
    fn drop(&mut self) {
        if !self.settled.load(std::sync::atomic::Ordering::Acquire) {
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

/// Granularity of hole detection: the filesystem block size on every common Linux fs.
const BLOCK: u64 = 4096;

/// Writes `data` at `at`, skipping every all-zero block: holes read back as zeros (the
/// length is set at the end), so a sparse input stays sparse and costs no disk. Runs of
/// non-zero blocks go out in one pwrite(2); comparing with a zero block is a memcmp that
/// stops at the first non-zero byte, so dense data pays next to nothing for the check.
fn write_sparse(file: &File, at: u64, data: &[u8]) -> io::Result<()> {
    let mut run: Option<usize> = None;
    let mut i = 0;
    while i < data.len() {
        let to_boundary = (BLOCK - (at + i as u64) % BLOCK) as usize;
        let end = data.len().min(i + to_boundary);
        if data[i..end] == ZEROS[..end - i] {
            if let Some(start) = run.take() {
                file.write_all_at(&data[start..i], at + start as u64)?;
            }
        } else if run.is_none() {
            run = Some(i);
        }
        i = end;
    }
    if let Some(start) = run {
        file.write_all_at(&data[start..], at + start as u64)?;
    }
    Ok(())
}

fn part_path(dest: &Path, id: u64) -> PathBuf {
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "bulk".into());
    dest.with_file_name(format!(".{name}.{id:016x}.netkit-part"))
}

/// Bytes free to this user on the filesystem holding `dir`.
fn free_space(dir: &Path) -> Option<u64> {
    let stat = rustix::fs::statvfs(dir).ok()?;
    Some(stat.f_bavail.saturating_mul(stat.f_frsize))
}

impl Transfer {
    fn create(
        shared: &Arc<Shared>,
        header: &Header,
        framed: bool,
    ) -> Result<Arc<Transfer>, BulkError> {
        let options = &shared.options;
        let preamble = header.preamble();
        let declared = header.total_len.saturating_add(preamble.len() as u64);
        if let Some(limit) = options.max_size {
            if declared > limit {
                return Err(BulkError::TooLarge {
                    declared,
                    limit,
                    what: "--max-size",
                });
            }
        }
        let sink = match &options.target {
            Target::Stdout => {
                if header.stream_count > 1 || header.resume {
                    return Err(BulkError::Unsupported(
                        "--stdout takes one stream from the start: send without --streams or --resume",
                    ));
                }
                let mut out = io::stdout();
                out.write_all(preamble)?;
                Sink::Stdout(Mutex::new(out))
            }
            Target::File(dest) => {
                let dir = match dest.parent() {
                    Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                    _ => PathBuf::from("."),
                };
                if let Some(free) = free_space(&dir) {
                    if declared > free {
                        return Err(BulkError::TooLarge {
                            declared,
                            limit: free,
                            what: "the free space of the output's filesystem",
                        });
                    }
                }
                let temp = part_path(dest, header.transfer_id);
                let keep_existing = header.resume && options.resume;
                let file = std::fs::OpenOptions::new()
                    .read(true)
                    .write(true)
                    .create(true)
                    .truncate(!keep_existing)
                    .open(&temp)
                    .map_err(BulkError::file("cannot create", &temp))?;
                let part = PartFile {
                    file,
                    temp,
                    dest: dest.clone(),
                    base: preamble.len() as u64,
                    settled: false.into(),
                };
                part.file
                    .write_all_at(preamble, 0)
                    .map_err(BulkError::file("cannot write", &part.temp))?;
                Sink::File(part)
            }
        };
        let total = (!header.chunked).then_some(header.total_len);
        let (outcome, _) = watch::channel(None);
        Ok(Arc::new(Transfer {
            header: header.clone(),
            sink,
            started: Instant::now(),
            state: Mutex::new(TransferState {
                streams: (0..header.stream_count)
                    .map(|i| {
                        if i == header.stream_index {
                            StreamState::Receiving
                        } else {
                            StreamState::Expected
                        }
                    })
                    .collect(),
                received: 0,
                checksum: None,
                concluded: false,
                failure: None,
                resumed: 0,
            }),
            outcome,
            cancel: CancellationToken::new(),
            bar: progress_bar(options.progress, total),
            framed,
            fsync: options.fsync,
        }))
    }

    fn failure(&self) -> String {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.failure.clone().unwrap_or_default()
    }

    /// For a resumed transfer: payload bytes already in the part file, hashed into `hasher`.
    fn resume_point(&self, header: &Header, hasher: &mut Xxh3) -> Result<u64, BulkError> {
        let Sink::File(part) = &self.sink else {
            return Ok(0);
        };
        if header.stream_count != 1 || header.offset != 0 {
            return Ok(0);
        }
        let len = part
            .file
            .metadata()
            .map_err(BulkError::file("cannot stat", &part.temp))?
            .len();
        let have = len.saturating_sub(part.base).min(header.payload_len);
        let mut buf = vec![0u8; BUFFER];
        let mut at = 0;
        while at < have {
            let n = (have - at).min(BUFFER as u64) as usize;
            part.file
                .read_exact_at(&mut buf[..n], part.base + at)
                .map_err(BulkError::file("cannot read", &part.temp))?;
            hasher.update(&buf[..n]);
            at += n as u64;
        }
        self.bar.inc(have);
        tracing::info!(have, "resuming");
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.resumed = have;
        drop(state);
        Ok(have)
    }

    /// Writes `data`, which starts `offset` bytes into the payload.
    fn write_at(&self, offset: u64, data: &[u8]) -> Result<(), BulkError> {
        match &self.sink {
            Sink::File(part) => write_sparse(&part.file, part.base + offset, data)
                .map_err(BulkError::file("cannot write", &part.temp)),
            Sink::Stdout(out) => {
                let mut out = out.lock().unwrap_or_else(|p| p.into_inner());
                out.write_all(data)?;
                Ok(())
            }
        }
    }

    /// Receives a stream's `payload_len - skip` bytes into place, hashing them.
    ///
    /// Reading (and hashing, while the bytes are in cache) and writing run side by side:
    /// this task fills buffers from the socket and a blocking thread writes them, with
    /// [`WRITE_DEPTH`] buffers in flight, so page-cache writes don't stall the socket.
    /// Writes land in order, and the bytes counted as received are the bytes written, so
    /// a resumable transfer that is cut knows exactly how much of the file is good.
    async fn receive_payload<R: AsyncRead + Unpin>(
        self: &Arc<Self>,
        stream: &mut R,
        header: &Header,
        skip: u64,
        hasher: &mut Xxh3,
        timeout: Duration,
    ) -> Result<(), BulkError> {
        let (full_tx, mut full_rx) = mpsc::channel::<(u64, Vec<u8>, usize)>(WRITE_DEPTH);
        let (free_tx, mut free_rx) = mpsc::channel::<Vec<u8>>(WRITE_DEPTH);
        for _ in 0..WRITE_DEPTH {
            let _ = free_tx.try_send(vec![0u8; BUFFER]);
        }
        let transfer = self.clone();
        let writer = tokio::task::spawn_blocking(move || {
            while let Some((offset, buf, filled)) = full_rx.blocking_recv() {
                transfer.write_at(offset, &buf[..filled])?;
                transfer.note_received(filled as u64);
                transfer.bar.inc(filled as u64);
                let _ = free_tx.blocking_send(buf);
            }
            Ok::<_, BulkError>(())
        });
        let len = header.payload_len;
        let read = async {
            let mut at = skip;
            while at < len {
                // None: the writer stopped on an error, which joining it reports.
                let Some(mut buf) = free_rx.recv().await else {
                    return Ok(());
                };
                let want = (len - at).min(BUFFER as u64) as usize;
                let mut filled = 0;
                let mut ended = false;
                while filled < want {
                    let n = match within(timeout, stream.read(&mut buf[filled..want])).await {
                        Ok(n) => n,
                        // A TLS peer gone without close_notify.
                        Err(BulkError::Io(e)) if e.kind() == io::ErrorKind::UnexpectedEof => 0,
                        Err(error) => return Err(error),
                    };
                    if n == 0 {
                        ended = true;
                        break;
                    }
                    filled += n;
                }
                if self.framed {
                    hasher.update(&buf[..filled]);
                }
                if full_tx
                    .send((header.offset + at, buf, filled))
                    .await
                    .is_err()
                {
                    return Ok(());
                }
                at += filled as u64;
                if ended {
                    return Err(BulkError::Truncated {
                        received: at,
                        expected: len,
                    });
                }
            }
            Ok(())
        };
        let read_result = read.await;
        drop(full_tx);
        let write_result = writer
            .await
            .map_err(|e| BulkError::Io(io::Error::other(e)))?;
        read_result?;
        write_result
    }

    fn note_received(&self, n: u64) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.received += n;
    }

    /// A CHUNKED payload: `[u32 length][bytes]` until a zero length.
    async fn receive_chunks<R: AsyncRead + Unpin>(
        &self,
        stream: &mut R,
        hasher: &mut Xxh3,
        timeout: Duration,
    ) -> Result<u64, BulkError> {
        let limit = self.limit();
        let mut buf = vec![0u8; BUFFER];
        let mut at = 0u64;
        loop {
            let mut prefix = [0u8; 4];
            within(timeout, read_exact_or_truncated(stream, &mut prefix, at)).await?;
            let len = u32::from_be_bytes(prefix);
            if len == 0 {
                return Ok(at);
            }
            if len > header::MAX_CHUNK {
                return Err(BulkError::ChunkTooLarge(len));
            }
            if let Some((limit, what)) = limit {
                if at + u64::from(len) > limit {
                    return Err(BulkError::TooLarge {
                        declared: at + u64::from(len),
                        limit,
                        what,
                    });
                }
            }
            let mut left = len as usize;
            while left > 0 {
                let n = left.min(BUFFER);
                within(timeout, read_exact_or_truncated(stream, &mut buf[..n], at)).await?;
                hasher.update(&buf[..n]);
                self.write_at(at, &buf[..n])?;
                at += n as u64;
                left -= n;
                self.bar.inc(n as u64);
                self.note_received(n as u64);
            }
        }
    }

    /// The cap on a payload of unknown length.
    fn limit(&self) -> Option<(u64, &'static str)> {
        let mut limit = None;
        if let Sink::File(part) = &self.sink {
            let dir = part.temp.parent().unwrap_or(Path::new("."));
            limit = free_space(dir).map(|free| (free, "the free space of the output's filesystem"));
        }
        limit
    }

    /// Records a stream as complete and checked; the last one finishes the transfer.
    fn stream_verified(&self, shared: &Arc<Shared>, index: u16, checksum: Option<u64>) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(slot) = state.streams.get_mut(usize::from(index)) {
            *slot = StreamState::Verified;
        }
        if self.header.stream_count == 1 {
            state.checksum = checksum;
        }
        let all = state.streams.iter().all(|s| *s == StreamState::Verified);
        if !all || state.concluded {
            return;
        }
        state.concluded = true;
        let received = state.received;
        let checksum = state.checksum;
        drop(state);
        shared
            .transfers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.header.transfer_id);
        match self.finish() {
            Ok(path) => {
                self.bar.finish_and_clear();
                let mut summary = Summary::new(received, self.started.elapsed())
                    .with_npy(self.header.npy.as_ref().map(|(_, n)| n));
                summary.streams = self.header.stream_count;
                summary.path = path;
                if self.framed {
                    summary.checksum_algorithm = "xxh3";
                    summary.checksum = checksum.map(|s| format!("{s:016x}"));
                }
                if let Some(total) = (!self.header.chunked).then_some(self.header.total_len) {
                    summary.resumed_from = total.saturating_sub(received);
                }
                self.outcome.send_replace(Some(Ok(())));
                let _ = shared.done.send(Ok(summary));
            }
            Err(error) => {
                self.outcome.send_replace(Some(Err(error.to_string())));
                let _ = shared.done.send(Err(error));
            }
        }
    }

    /// Gives the file its final length and renames it into place.
    fn finish(&self) -> Result<Option<PathBuf>, BulkError> {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let received = state.received;
        drop(state);
        match &self.sink {
            Sink::Stdout(out) => {
                out.lock().unwrap_or_else(|p| p.into_inner()).flush()?;
                Ok(None)
            }
            Sink::File(part) => {
                let payload = if self.header.chunked {
                    received
                } else {
                    self.header.total_len
                };
                part.file
                    .set_len(part.base + payload)
                    .map_err(BulkError::file("cannot size", &part.temp))?;
                let fsync = self.fsync;
                if fsync {
                    part.file
                        .sync_all()
                        .map_err(BulkError::file("cannot sync", &part.temp))?;
                }
                std::fs::rename(&part.temp, &part.dest)
                    .map_err(BulkError::file("cannot rename into place", &part.dest))?;
                part.settled
                    .store(true, std::sync::atomic::Ordering::Release);
                if fsync {
                    if let Some(dir) = part.dest.parent() {
                        let dir = if dir.as_os_str().is_empty() {
                            Path::new(".")
                        } else {
                            dir
                        };
                        if let Ok(dir) = File::open(dir) {
                            let _ = dir.sync_all();
                        }
                    }
                }
                Ok(Some(part.dest.clone()))
            }
        }
    }

    /// Ends the transfer with `error`: siblings stop, the part file goes (or stays, for a
    /// resumable transfer that was cut), and the failure is reported once.
    fn fail(&self, shared: &Arc<Shared>, error: BulkError, keep_for_resume: bool) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if state.concluded {
            return;
        }
        state.concluded = true;
        state.failure = Some(error.to_string());
        let contiguous = state.resumed + state.received;
        drop(state);
        shared
            .transfers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.header.transfer_id);
        let resumable = keep_for_resume
            && shared.options.resume
            && matches!(error, BulkError::Truncated { .. } | BulkError::Stalled(_));
        if let Sink::File(part) = &self.sink {
            // What arrived stays; the length marks where the next attempt starts (bytes
            // skipped as zeros read back as zeros).
            if resumable && part.file.set_len(part.base + contiguous).is_ok() {
                part.settled
                    .store(true, std::sync::atomic::Ordering::Release);
            } else {
                let _ = std::fs::remove_file(&part.temp);
                part.settled
                    .store(true, std::sync::atomic::Ordering::Release);
            }
        }
        self.bar.abandon();
        self.cancel.cancel();
        self.outcome.send_replace(Some(Err(error.to_string())));
        let _ = shared.done.send(Err(error));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparse_writes_skip_zero_blocks_and_keep_the_rest() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let file = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .unwrap();
        let mut data = vec![0u8; 1 << 20];
        data[10] = 1; // first block, unaligned start below
        data[500_000] = 2;
        data[(1 << 20) - 1] = 3;
        write_sparse(&file, 100, &data).unwrap();
        file.set_len(100 + data.len() as u64).unwrap();
        let back = std::fs::read(&path).unwrap();
        assert_eq!(&back[100..], &data[..]);
        assert!(file.metadata().unwrap().blocks() * 512 <= 4 * BLOCK * 2);
    }
}
