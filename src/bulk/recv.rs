//! The receiving side: accepts connections, groups the streams of each transfer, writes
//! their bytes at their offsets in a temporary file next to the destination, and renames
//! it into place once every stream's checksum matches. A cut or corrupt transfer removes
//! the temporary file (keeps it for `--resume`), so FILE is either complete or untouched.
//!
//! Accepting and the TLS handshake are async; each connection is then served by a thread
//! of its own that reads the blocking socket into one large buffer, hashes each read
//! while its bytes are in cache and writes the buffer out: one copy out of the kernel, no
//! hand-off between threads, no wake-ups but the socket's own (the recipe's `recv_into`
//! loop, plus the checksum and the write). The socket's short read timeout lets the thread
//! notice a stall, a failed sibling stream or an interrupt between reads.

use super::header::{self, Decoded, Header, Reply};
use super::{progress_bar, BulkError, Summary};
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::fd::AsFd;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};
use tokio_rustls::TlsAcceptor;
use xxhash_rust::xxh3::Xxh3;

/// Size of each connection's receive buffer, its whole payload memory, for `--stdout`:
/// large reads, few syscalls and wake-ups; 16 streams would still stay far under 64 MiB.
const BUFFER: usize = 2 * 1024 * 1024;
/// The buffer when writing a file: pwrite(2)'s copy into new page-cache folios is most of
/// the receiver's time, and it runs at cache speed only while its source is still in L2
/// (measured, 512 MiB: 2 MiB pieces cost 0.3-1.1 CPU-s and swung 3-8.5 Gbit/s, 256 KiB
/// pieces 0.37-0.40 CPU-s and 7-8 Gbit/s).
const FILE_BUFFER: usize = 256 * 1024;
/// The socket's read timeout: how often a thread waiting for bytes looks up.
const TICK: Duration = Duration::from_millis(200);
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
    /// Multi-stream transfers waiting for their other streams, by transfer id.
    transfers: Mutex<HashMap<u64, Arc<Transfer>>>,
    /// Every transfer created, so that stopping the receiver can abandon those under way.
    live: Mutex<Vec<Weak<Transfer>>>,
    done: mpsc::UnboundedSender<Result<Summary, BulkError>>,
    raw_ids: AtomicU64,
}

/// Receives transfers on `listener`, calling `on_transfer` with each one's outcome. Without
/// `keep_going` it returns the first transfer's outcome; with it, it runs until accepting
/// fails.
///
/// When it returns or is dropped (an interrupt), transfers still under way are abandoned:
/// their part files are removed and their threads stop at their next read.
pub async fn recv_files(
    listener: tokio::net::TcpListener,
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
        live: Mutex::new(Vec::new()),
        done,
        raw_ids: 0.into(),
    });
    let _abandon = AbandonOnDrop(shared.clone());
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

/// Abandons, when dropped, every transfer still under way.
struct AbandonOnDrop(Arc<Shared>);

impl Drop for AbandonOnDrop {
    fn drop(&mut self) {
        let live = std::mem::take(&mut *self.0.live.lock().unwrap_or_else(|p| p.into_inner()));
        for transfer in live.iter().filter_map(Weak::upgrade) {
            transfer.abandon();
        }
    }
}

/// Sets a connection up (TLS handshake included) and serves it on a thread of its own;
/// returns when that thread is done.
async fn connection(shared: Arc<Shared>, socket: tokio::net::TcpStream) {
    let _ = socket.set_nodelay(true);
    super::set_socket_buffers(&socket, shared.options.socket_buffer);
    let timeout = shared.options.timeout;
    let conn = match &shared.options.tls {
        None => socket.into_std().map(Conn::Plain),
        Some(acceptor) => match crate::tls::accept(acceptor, socket, timeout).await {
            Ok(tls) => {
                let (tcp, session) = tls.into_inner();
                tcp.into_std()
                    .map(|tcp| Conn::Tls(Box::new(rustls::StreamOwned::new(session, tcp))))
            }
            Err(error) => {
                tracing::debug!(%error, "TLS handshake failed");
                Err(error)
            }
        },
    };
    let conn = conn.and_then(|conn| conn.blocking(timeout));
    let conn = match conn {
        Ok(conn) => conn,
        Err(error) => {
            let _ = shared.done.send(Err(error.into()));
            return;
        }
    };
    let (ended, finished) = oneshot::channel::<()>();
    let serving = shared.clone();
    let spawned = std::thread::Builder::new()
        .name("bulk-recv".into())
        .spawn(move || {
            serve(&serving, conn);
            let _ = ended.send(());
        });
    match spawned {
        Ok(_) => {
            let _ = finished.await;
        }
        Err(error) => {
            let _ = shared.done.send(Err(error.into()));
        }
    }
}

fn serve(shared: &Arc<Shared>, mut conn: Conn) {
    if let Some(bytes) = shared.options.raw_bytes {
        receive_raw(shared, &mut conn, bytes);
    } else {
        receive_framed(shared, &mut conn);
    }
}

/// A connection as its thread reads it: a blocking socket with a [`TICK`] read timeout.
enum Conn {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ServerConnection, TcpStream>>),
}

impl Conn {
    fn tcp(&self) -> &TcpStream {
        match self {
            Conn::Plain(tcp) => tcp,
            Conn::Tls(tls) => &tls.sock,
        }
    }

    /// Switches the socket (tokio's, non-blocking until now) to blocking reads that give
    /// up after a [`TICK`] and writes that give up after `timeout`.
    fn blocking(self, timeout: Duration) -> io::Result<Conn> {
        let tcp = self.tcp();
        tcp.set_nonblocking(false)?;
        tcp.set_read_timeout(Some(TICK.min(timeout).max(Duration::from_millis(1))))?;
        tcp.set_write_timeout(Some(timeout.max(Duration::from_millis(1))))?;
        Ok(self)
    }

    /// Ends our side: TLS close_notify, then FIN.
    fn close_write(&mut self) {
        if let Conn::Tls(tls) = self {
            tls.conn.send_close_notify();
            let _ = tls.flush();
        }
        let _ = self.tcp().shutdown(Shutdown::Write);
    }
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(tcp) => tcp.read(buf),
            Conn::Tls(tls) => tls.read(buf),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(tcp) => tcp.write(buf),
            Conn::Tls(tls) => tls.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Conn::Plain(tcp) => tcp.flush(),
            Conn::Tls(tls) => tls.flush(),
        }
    }
}

/// Reads what the peer sent: at least one byte, or 0 at its end. Fails when nothing has
/// come since `since` for `limit`, or when `transfer` has been abandoned meanwhile.
fn read_some(
    conn: &mut Conn,
    buf: &mut [u8],
    since: Instant,
    limit: Duration,
    transfer: Option<&Transfer>,
) -> Result<usize, BulkError> {
    loop {
        if let Some(transfer) = transfer {
            if transfer.cancelled.load(Ordering::Acquire) {
                return Err(BulkError::SiblingFailed(transfer.failure()));
            }
        }
        match conn.read(buf) {
            Ok(n) => return Ok(n),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                if since.elapsed() >= limit {
                    return Err(BulkError::Stalled(limit));
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            // A TLS peer gone without close_notify.
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(0),
            Err(e) => return Err(e.into()),
        }
    }
}

/// Fills `buf`, each read within `timeout` of the last; `received` is what the stream
/// had delivered before, for the error of a peer that closes early.
fn read_exact_or_truncated(
    conn: &mut Conn,
    buf: &mut [u8],
    received: u64,
    timeout: Duration,
    transfer: Option<&Transfer>,
) -> Result<(), BulkError> {
    let mut filled = 0;
    while filled < buf.len() {
        match read_some(conn, &mut buf[filled..], Instant::now(), timeout, transfer)? {
            0 => {
                return Err(BulkError::Truncated {
                    received,
                    expected: received + buf.len() as u64,
                })
            }
            n => filled += n,
        }
    }
    Ok(())
}

/// The recipe's `recv_into`: exactly `bytes` bytes, then the file is complete.
fn receive_raw(shared: &Arc<Shared>, conn: &mut Conn, bytes: u64) {
    let id = shared.raw_ids.fetch_add(1, Ordering::Relaxed);
    let header = Header::single(id, bytes);
    let transfer = match Transfer::create(shared, &header, false) {
        Ok(transfer) => transfer,
        Err(error) => {
            let _ = shared.done.send(Err(error));
            return;
        }
    };
    let mut hasher = Xxh3::new();
    let received = transfer.receive_payload(conn, &header, 0, &mut hasher, shared.options.timeout);
    match received {
        Ok(()) => transfer.stream_verified(shared, 0, None),
        Err(error) => transfer.fail(shared, error, false),
    }
}

fn receive_framed(shared: &Arc<Shared>, conn: &mut Conn) {
    let timeout = shared.options.timeout;
    let header = match read_header(conn, timeout) {
        Ok(header) => header,
        Err(error) => {
            refuse(conn, &error);
            let _ = shared.done.send(Err(error));
            return;
        }
    };
    let transfer = match join_transfer(shared, &header) {
        Ok(transfer) => transfer,
        Err(error) => {
            refuse(conn, &error);
            let _ = shared.done.send(Err(error));
            return;
        }
    };
    let index = header.stream_index;
    let mut hasher = Xxh3::new();
    let mut body = || {
        let have = if header.resume {
            let have = transfer.resume_point(&header, &mut hasher)?;
            let mut at = b"NKAT".to_vec();
            at.extend_from_slice(&have.to_be_bytes());
            conn.write_all(&at)?;
            conn.flush()?;
            have
        } else {
            0
        };
        let received = if header.chunked {
            transfer.receive_chunks(conn, &mut hasher, timeout)?
        } else {
            transfer.receive_payload(conn, &header, have, &mut hasher, timeout)?;
            header.payload_len - have
        };
        let mut trailer = [0u8; 8];
        read_exact_or_truncated(conn, &mut trailer, received, timeout, Some(&transfer))?;
        let sent = u64::from_be_bytes(trailer);
        let computed = hasher.digest();
        if sent != computed {
            return Err(BulkError::ChecksumMismatch { sent, computed });
        }
        // The sender shuts its side after the trailer: anything more is a lie about size.
        let mut extra = [0u8; 1];
        match read_some(conn, &mut extra, Instant::now(), timeout, Some(&transfer))? {
            0 => Ok(computed),
            _ => Err(BulkError::ExtraData),
        }
    };
    let checksum = match body() {
        Ok(checksum) => checksum,
        Err(error) => {
            refuse(conn, &error);
            transfer.fail(shared, error, header.resume);
            return;
        }
    };
    transfer.stream_verified(shared, index, Some(checksum));
    let result = match transfer.verdict(timeout) {
        Some(verdict) => verdict,
        None => {
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
    let _ = conn.write_all(&reply.encode()).and_then(|()| conn.flush());
    conn.close_write();
}

/// Tells the peer why, then gives it a moment to read that before the socket closes (a
/// close with unread input would reset the connection and lose the reason).
fn refuse(conn: &mut Conn, error: &BulkError) {
    let reply = Reply::Error(error.to_string()).encode();
    let _ = conn.write_all(&reply).and_then(|()| conn.flush());
    conn.close_write();
    let mut sink = vec![0u8; 64 * 1024];
    let since = Instant::now();
    while since.elapsed() < LINGER {
        match conn.read(&mut sink) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) => {}
            Err(_) => break,
        }
    }
}

/// Reads a header within `timeout`: at most [`header::MAX_HEADER`] bytes whatever the
/// peer declares, and not a byte past it.
fn read_header(conn: &mut Conn, timeout: Duration) -> Result<Header, BulkError> {
    let started = Instant::now();
    let fill = |conn: &mut Conn, buf: &mut [u8]| {
        let mut filled = 0;
        while filled < buf.len() {
            match read_some(conn, &mut buf[filled..], started, timeout, None)? {
                0 => {
                    return Err(BulkError::Truncated {
                        received: 0,
                        expected: buf.len() as u64,
                    })
                }
                n => filled += n,
            }
        }
        Ok(())
    };
    let mut buf = vec![0u8; 12];
    fill(conn, &mut buf)?;
    loop {
        match header::decode(&buf)? {
            Decoded::Header(header, _) => return Ok(header),
            Decoded::NeedMore(n) => {
                let have = buf.len();
                buf.resize(n, 0);
                fill(conn, &mut buf[have..])?;
            }
        }
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
    /// The transfer's outcome once known, for streams waiting on their siblings.
    outcome: Mutex<Option<Result<(), String>>>,
    decided: Condvar,
    /// Set when the transfer fails or is abandoned: its streams stop at their next read.
    cancelled: AtomicBool,
    bar: indicatif::ProgressBar,
    framed: bool,
    fsync: bool,
}

enum Sink {
    File(PartFile),
    /// Standard output's file descriptor, written directly (no line buffering to scan).
    Stdout(Mutex<File>),
}

/// The temporary file a transfer writes; removed on drop unless renamed into place or
/// kept for a resume.
struct PartFile {
    file: File,
    temp: PathBuf,
    dest: PathBuf,
    /// Bytes before the payload: the `.npy` preamble.
    base: u64,
    settled: AtomicBool,
}

impl Drop for PartFile {
    fn drop(&mut self) {
        if !self.settled.load(Ordering::Acquire) {
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
                let mut out = File::from(io::stdout().as_fd().try_clone_to_owned()?);
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
        let transfer = Arc::new(Transfer {
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
            outcome: Mutex::new(None),
            decided: Condvar::new(),
            cancelled: AtomicBool::new(false),
            bar: progress_bar(options.progress, total),
            framed,
            fsync: options.fsync,
        });
        let mut live = shared.live.lock().unwrap_or_else(|p| p.into_inner());
        live.retain(|t| t.strong_count() > 0);
        live.push(Arc::downgrade(&transfer));
        Ok(transfer)
    }

    /// Records the transfer's outcome and wakes the streams waiting for it.
    fn decide(&self, outcome: Result<(), String>) {
        let mut slot = self.outcome.lock().unwrap_or_else(|p| p.into_inner());
        *slot = Some(outcome);
        self.decided.notify_all();
    }

    /// The transfer's outcome, waiting up to `timeout` for the other streams; None if
    /// it is still open then.
    fn verdict(&self, timeout: Duration) -> Option<Result<(), String>> {
        let slot = self.outcome.lock().unwrap_or_else(|p| p.into_inner());
        let (slot, _) = self
            .decided
            .wait_timeout_while(slot, timeout, |outcome| outcome.is_none())
            .unwrap_or_else(|p| p.into_inner());
        slot.clone()
    }

    /// Stops the transfer for good, the receiver being stopped: its part file goes (unless
    /// already renamed into place or kept) and its streams stop at their next read.
    fn abandon(&self) {
        self.cancelled.store(true, Ordering::Release);
        if let Sink::File(part) = &self.sink {
            if !part.settled.swap(true, Ordering::AcqRel) {
                let _ = std::fs::remove_file(&part.temp);
            }
        }
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
    /// One thread, one buffer: each read is hashed at once, while its bytes are in cache,
    /// and the buffer is written out when full. The bytes counted as received are the
    /// bytes written, so a resumable transfer that is cut knows exactly how much of the
    /// file is good.
    fn receive_payload(
        &self,
        conn: &mut Conn,
        header: &Header,
        skip: u64,
        hasher: &mut Xxh3,
        timeout: Duration,
    ) -> Result<(), BulkError> {
        let len = header.payload_len;
        let size = match self.sink {
            Sink::File(_) => FILE_BUFFER,
            Sink::Stdout(_) => BUFFER,
        };
        let mut buf = vec![0u8; (len - skip).min(size as u64) as usize];
        let mut at = skip;
        while at < len {
            let want = (len - at).min(buf.len() as u64) as usize;
            let mut filled = 0;
            let mut ended = false;
            while filled < want {
                let n = read_some(
                    conn,
                    &mut buf[filled..want],
                    Instant::now(),
                    timeout,
                    Some(self),
                )?;
                if n == 0 {
                    ended = true;
                    break;
                }
                if self.framed {
                    hasher.update(&buf[filled..filled + n]);
                }
                filled += n;
            }
            self.write_at(header.offset + at, &buf[..filled])?;
            self.note_received(filled as u64);
            self.bar.inc(filled as u64);
            at += filled as u64;
            if ended {
                return Err(BulkError::Truncated {
                    received: at,
                    expected: len,
                });
            }
        }
        Ok(())
    }

    fn note_received(&self, n: u64) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.received += n;
    }

    /// A CHUNKED payload: `[u32 length][bytes]` until a zero length.
    fn receive_chunks(
        &self,
        conn: &mut Conn,
        hasher: &mut Xxh3,
        timeout: Duration,
    ) -> Result<u64, BulkError> {
        let limit = self.limit();
        let mut buf = vec![0u8; BUFFER];
        let mut at = 0u64;
        loop {
            let mut prefix = [0u8; 4];
            read_exact_or_truncated(conn, &mut prefix, at, timeout, Some(self))?;
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
                read_exact_or_truncated(conn, &mut buf[..n], at, timeout, Some(self))?;
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
                self.decide(Ok(()));
                let _ = shared.done.send(Ok(summary));
            }
            Err(error) => {
                self.decide(Err(error.to_string()));
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
                part.settled.store(true, Ordering::Release);
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
                part.settled.store(true, Ordering::Release);
            } else {
                let _ = std::fs::remove_file(&part.temp);
                part.settled.store(true, Ordering::Release);
            }
        }
        self.bar.abandon();
        self.cancelled.store(true, Ordering::Release);
        self.decide(Err(error.to_string()));
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
