//! The accepting side of the handoff: workers connect to a Unix socket (optionally proving
//! the authkey with `multiprocessing.connection`'s handshake), send their pid as a pickled
//! int, and from then on receive one accepted TCP socket per message.
//!
//! Clients are handed round-robin; a worker whose socket is full is skipped for that
//! client, and a worker whose socket fails or closes is dropped from the pool at once.

use super::scm;
use crate::mpconn::MpConnection;
use crate::proto::pickle;
use rustix::fd::{AsFd, BorrowedFd};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::Interest;
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The first message is a pickled int; nothing bigger is needed.
const FIRST_MESSAGE_CAP: u64 = 1024;

/// A connected, registered worker.
pub struct Worker {
    /// The pid it announced (not verified: the recipe's protocol has no way to).
    pub pid: i64,
    /// Set by whoever registered it; lets a supervisor retire a generation.
    pub generation: u64,
    stream: UnixStream,
    handed: AtomicU64,
    gone: AtomicBool,
    closed: CancellationToken,
}

impl Worker {
    /// Sockets handed to this worker so far.
    pub fn handed(&self) -> u64 {
        self.handed.load(Ordering::Relaxed)
    }

    fn try_send(&self, fd: BorrowedFd<'_>) -> io::Result<()> {
        self.stream
            .try_io(Interest::WRITABLE, || scm::send_fds(&self.stream, &[fd]))
    }
}

#[derive(Default)]
struct Members {
    workers: Vec<Arc<Worker>>,
    next: usize,
}

/// The registered workers.
#[derive(Default)]
pub struct WorkerPool {
    members: Mutex<Members>,
    changed: Notify,
}

#[derive(Debug, thiserror::Error)]
pub enum HandoffError {
    #[error("no worker took the connection within {0:?}")]
    NoWorker(Duration),
    #[error("shutting down")]
    Shutdown,
}

impl WorkerPool {
    pub fn new() -> Arc<WorkerPool> {
        Arc::new(WorkerPool::default())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Members> {
        // A panic while holding the lock leaves the list valid: keep going.
        self.members.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn len(&self) -> usize {
        self.lock().workers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The live workers.
    pub fn workers(&self) -> Vec<Arc<Worker>> {
        self.lock().workers.clone()
    }

    fn add(&self, worker: Arc<Worker>) {
        self.lock().workers.push(worker);
        self.changed.notify_waiters();
    }

    /// Takes `worker` out of the pool; no further client goes to it.
    fn remove(&self, worker: &Arc<Worker>) {
        worker.gone.store(true, Ordering::Relaxed);
        self.lock().workers.retain(|w| !Arc::ptr_eq(w, worker));
        self.changed.notify_waiters();
    }

    /// Retires the workers `which` selects: they get no new client, and their socket is
    /// shut for writing, which tells a netkit worker to finish its connections and exit.
    /// Returns how many were retired.
    pub fn retire(&self, which: impl Fn(&Worker) -> bool) -> usize {
        let retired: Vec<Arc<Worker>> = {
            let mut members = self.lock();
            let (out, keep) = members.workers.drain(..).partition(|w| which(w));
            members.workers = keep;
            out
        };
        for worker in &retired {
            worker.gone.store(true, Ordering::Relaxed);
            let _ = rustix::net::shutdown(&worker.stream, rustix::net::Shutdown::Write);
            worker.closed.cancel();
        }
        self.changed.notify_waiters();
        retired.len()
    }

    /// Waits until `count` workers satisfy `which`, at most `limit`.
    pub async fn wait_for(
        &self,
        count: usize,
        which: impl Fn(&Worker) -> bool,
        limit: Duration,
    ) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let changed = self.changed.notified();
            if self.workers().iter().filter(|w| which(w)).count() >= count {
                return true;
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return false;
            }
        }
    }

    /// One attempt over every worker, round-robin from where the last client went.
    pub fn try_hand(&self, fd: BorrowedFd<'_>) -> Option<Arc<Worker>> {
        let candidates: Vec<Arc<Worker>> = {
            let mut members = self.lock();
            let n = members.workers.len();
            if n == 0 {
                return None;
            }
            let start = members.next % n;
            members.next = members.next.wrapping_add(1);
            (0..n)
                .map(|i| members.workers[(start + i) % n].clone())
                .collect()
        };
        for worker in candidates {
            match worker.try_send(fd) {
                Ok(()) => {
                    worker.handed.fetch_add(1, Ordering::Relaxed);
                    return Some(worker);
                }
                // Full socket (busy worker) or too many fds in flight: try the next one.
                Err(e)
                    if e.kind() == io::ErrorKind::WouldBlock
                        || e.raw_os_error()
                            == Some(rustix::io::Errno::TOOMANYREFS.raw_os_error()) => {}
                Err(error) => {
                    tracing::info!(pid = worker.pid, %error, "handoff worker gone; dropped");
                    self.remove(&worker);
                }
            }
        }
        None
    }

    /// Hands `fd` to a worker, waiting up to `limit` for one that takes it.
    pub async fn hand_off(
        &self,
        fd: BorrowedFd<'_>,
        limit: Duration,
        shutdown: &CancellationToken,
    ) -> Result<Arc<Worker>, HandoffError> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let changed = self.changed.notified();
            if let Some(worker) = self.try_hand(fd) {
                return Ok(worker);
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(HandoffError::NoWorker(limit));
            }
            // A busy worker's socket drains without telling us: poll it now and then. With
            // no worker at all only a new one can help, and its arrival is notified.
            let retry = if self.is_empty() {
                deadline
            } else {
                (tokio::time::Instant::now() + Duration::from_millis(5)).min(deadline)
            };
            tokio::select! {
                _ = changed => {}
                _ = tokio::time::sleep_until(retry) => {}
                _ = shutdown.cancelled() => return Err(HandoffError::Shutdown),
            }
        }
    }
}

/// How workers are admitted.
#[derive(Clone)]
pub struct Admission {
    pub authkey: Option<Vec<u8>>,
    pub handshake_timeout: Duration,
    /// For workers netkit spawned itself: pid → generation. A pid not in it is refused;
    /// without it (external workers) every worker is generation 0.
    pub generations: Option<Arc<Mutex<std::collections::HashMap<i64, u64>>>>,
}

#[derive(Debug, thiserror::Error)]
enum AdmitError {
    #[error(transparent)]
    Mp(#[from] crate::mpconn::MpError),
    #[error("closed before sending its pid")]
    NoPid,
    #[error("first message is not a pickled int pid")]
    BadPid,
    #[error("pid {0} is not a current worker of this supervisor")]
    UnknownPid(i64),
}

/// Accepts workers on `listener` until shutdown.
pub async fn accept_workers(
    listener: UnixListener,
    pool: Arc<WorkerPool>,
    admission: Admission,
    shutdown: CancellationToken,
    tracker: TaskTracker,
) {
    loop {
        let stream = tokio::select! {
            _ = shutdown.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    tracing::warn!(%error, "handoff: accepting a worker failed; retrying");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let pool = pool.clone();
        let admission = admission.clone();
        let shutdown = shutdown.clone();
        tracker.spawn(async move {
            match tokio::time::timeout(admission.handshake_timeout, admit(stream, &admission)).await
            {
                Ok(Ok(worker)) => {
                    tracing::info!(pid = worker.pid, "handoff worker connected");
                    pool.add(worker.clone());
                    watch(worker, pool, shutdown).await;
                }
                Ok(Err(error)) => tracing::warn!(%error, "handoff: worker refused"),
                Err(_) => tracing::warn!("handoff: worker refused: handshake timed out"),
            }
        });
    }
}

async fn admit(stream: UnixStream, admission: &Admission) -> Result<Arc<Worker>, AdmitError> {
    let mut connection = MpConnection::new(stream, FIRST_MESSAGE_CAP);
    if let Some(key) = &admission.authkey {
        connection.server_handshake(key).await?;
    }
    let frame = connection.recv_bytes().await?.ok_or(AdmitError::NoPid)?;
    // `Value` is not Send: decode and keep only the int.
    let pid = pickle::loads(&frame, &pickle::Limits::default())
        .ok()
        .and_then(|v| v.as_i64())
        .ok_or(AdmitError::BadPid)?;
    let generation = match &admission.generations {
        None => 0,
        Some(map) => *map
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&pid)
            .ok_or(AdmitError::UnknownPid(pid))?,
    };
    Ok(Arc::new(Worker {
        pid,
        generation,
        stream: connection.into_inner(),
        handed: AtomicU64::new(0),
        gone: AtomicBool::new(false),
        closed: CancellationToken::new(),
    }))
}

/// Drops the worker from the pool as soon as its socket closes or fails. Workers never
/// send after their pid; anything they do send is read and ignored.
async fn watch(worker: Arc<Worker>, pool: Arc<WorkerPool>, shutdown: CancellationToken) {
    let mut sink = [0u8; 256];
    loop {
        tokio::select! {
            ready = worker.stream.readable() => if ready.is_err() { break },
            _ = worker.closed.cancelled() => break,
            _ = shutdown.cancelled() => break,
        }
        match worker.stream.try_read(&mut sink) {
            Ok(0) => break,
            Ok(_) => continue,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(_) => break,
        }
    }
    if !worker.gone.load(Ordering::Relaxed) {
        tracing::info!(
            pid = worker.pid,
            handed = worker.handed(),
            "handoff worker left"
        );
        pool.remove(&worker);
    }
}

/// Binds the Unix socket at `path`. A stale socket file left by a dead server is
/// replaced; a live one (something answers) is an error, as is any other kind of file.
pub fn bind_unix(path: &Path) -> io::Result<UnixListener> {
    use std::os::unix::fs::FileTypeExt;
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if !meta.file_type().is_socket() {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                "exists and is not a socket",
            ));
        }
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(io::Error::new(
                io::ErrorKind::AddrInUse,
                "another process is listening on it",
            ));
        }
        std::fs::remove_file(path)?;
    }
    UnixListener::bind(path)
}

/// Removes the socket file when the service stops (as Python's `Listener.close()` does).
pub struct SocketFile(pub PathBuf);

impl Drop for SocketFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

impl AsFd for Worker {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.stream.as_fd()
    }
}
