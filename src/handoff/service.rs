//! `serve --handoff ADDR --handoff-socket PATH`: accepts TCP clients on ADDR and hands
//! each socket to a worker registered on PATH. A client no worker can take at once (none
//! is connected, or all are busy) waits for one up to `--handoff-wait`, then is closed;
//! past [`MAX_WAITING_CLIENTS`] waiting, the rest wait in the kernel's accept queue.

use super::pool::{accept_workers, Admission, HandoffError, SocketFile, WorkerPool};
use crate::metrics::{HandoffMetrics, OpenConnection, ServiceMetrics};
use crate::service::{Lifecycle, RateLimitedCount};
use rustix::fd::AsFd;
use std::io;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::Semaphore;

/// Accepted clients held while they wait for a worker (one fd and a small task each).
pub const MAX_WAITING_CLIENTS: usize = 4096;

pub struct Handoff {
    pub clients: TcpListener,
    pub workers: UnixListener,
    pub socket_file: SocketFile,
    pub pool: Arc<WorkerPool>,
    pub admission: Admission,
    pub client_wait: Duration,
    /// Counts accepted clients and handoffs (a handoff is this service's request).
    pub metrics: ServiceMetrics,
}

/// Runs until shutdown; the socket file is removed when it returns.
pub async fn run(handoff: Handoff, lifecycle: Lifecycle) -> io::Result<()> {
    let Handoff {
        clients,
        workers,
        socket_file,
        pool,
        admission,
        client_wait,
        metrics,
    } = handoff;
    let _socket_file = socket_file;
    let shutdown = lifecycle.shutdown.clone();
    // Worker sessions are not client work: they end with the service, not the grace.
    let sessions = tokio_util::task::TaskTracker::new();
    sessions.spawn(accept_workers(
        workers,
        pool.clone(),
        admission,
        shutdown.clone(),
        sessions.clone(),
    ));
    let counting = Counting::Service(metrics);
    let result = dispatch(clients, &pool, client_wait, &counting, &lifecycle).await;
    sessions.close();
    sessions.wait().await;
    result
}

/// What the accept loop counts.
#[derive(Clone)]
pub enum Counting {
    /// `--handoff`: the clients are this service's connections, a handoff its request, a
    /// client no worker took its error.
    Service(ServiceMetrics),
    /// `--workers`: the workers count the connections and what is in them; the
    /// supervisor counts its handoffs in a family of their own.
    Workers(HandoffMetrics),
}

impl Counting {
    /// An accepted client, open (for `--handoff`) until handed off.
    fn accepted(&self) -> Option<OpenConnection> {
        match self {
            Counting::Service(metrics) => Some(metrics.connection_opened()),
            Counting::Workers(_) => None,
        }
    }

    fn handed(&self, accepted: Instant) {
        match self {
            Counting::Service(metrics) => metrics.request(accepted.elapsed()),
            Counting::Workers(handoffs) => handoffs.handed(),
        }
    }

    fn no_worker(&self) {
        match self {
            Counting::Service(metrics) => metrics.request_error(),
            Counting::Workers(handoffs) => handoffs.no_worker(),
        }
    }
}

/// The accept loop shared with `--workers`: accept, hand off, close our copy of the
/// socket.
///
/// Accepted sockets are blocking, as Python's `accept()` returns them: the recipe's worker
/// wraps the fd with `socket(fileno=fd)`, which takes the blocking mode from the fd (a
/// netkit worker makes its copy non-blocking and sets TCP_NODELAY itself). Accepting with
/// accept4 on the raw listener gives them so directly: the socket never joins our event
/// loop, which saves three syscalls a client over tokio's accept.
pub async fn dispatch(
    clients: TcpListener,
    pool: &Arc<WorkerPool>,
    client_wait: Duration,
    counting: &Counting,
    lifecycle: &Lifecycle,
) -> io::Result<()> {
    let clients = clients.into_std()?;
    // SAFETY: a std TcpListener owns its fd and returns the same one for as long as it
    // lives, which is all `register_with_interest` asks.
    let clients = unsafe { AsyncFd::register_with_interest(clients, Interest::READABLE) }
        .map_err(io::Error::from)?;
    let accept = || {
        rustix::net::accept_with(clients.get_ref(), rustix::net::SocketFlags::CLOEXEC)
            .map_err(io::Error::from)
    };
    let shutdown = &lifecycle.shutdown;
    let waiting = Arc::new(Semaphore::new(MAX_WAITING_CLIENTS));
    let closed = Arc::new(Mutex::new(RateLimitedCount::new(
        "handoff",
        "clients closed: no worker took them in time (--handoff-wait)",
    )));
    loop {
        // Taken before accepting: with every slot held, clients stay in the accept queue.
        let slot = tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            slot = waiting.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => return Ok(()), // never closed
            },
        };
        let accepted = tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            accepted = clients.async_io(Interest::READABLE, |_| accept()) => accepted,
        };
        let socket = match accepted {
            Ok(socket) => socket,
            Err(error) => {
                tracing::warn!(service = "handoff", %error, "accept failed; retrying");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        // Open only until handed off: from then on the connection is the worker's.
        let open = counting.accepted();
        let accepted = Instant::now();
        if let Some(worker) = pool.try_hand(socket.as_fd()) {
            counting.handed(accepted);
            tracing::trace!(pid = worker.pid, "handed off");
            continue; // our copy closes here
        }
        // No worker can take it now: wait for one without holding up the accept loop.
        let pool = pool.clone();
        let shutdown = shutdown.clone();
        let closed = closed.clone();
        let counting = counting.clone();
        lifecycle.tracker.spawn(async move {
            let (_slot, _open) = (slot, open);
            match pool.hand_off(socket.as_fd(), client_wait, &shutdown).await {
                Ok(worker) => {
                    counting.handed(accepted);
                    tracing::trace!(pid = worker.pid, "handed off");
                }
                Err(HandoffError::NoWorker(_)) => {
                    counting.no_worker();
                    closed.lock().unwrap_or_else(|e| e.into_inner()).add();
                }
                Err(HandoffError::Shutdown) => {}
            }
        });
    }
}
