//! `serve --handoff ADDR --handoff-socket PATH`: accepts TCP clients on ADDR and hands
//! each socket to a worker registered on PATH. While no worker is registered nothing is
//! accepted, so clients wait in the kernel's backlog instead of being lost.

use super::pool::{accept_workers, Admission, SocketFile, WorkerPool};
use crate::metrics::ServiceMetrics;
use crate::service::Lifecycle;
use rustix::fd::AsFd;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, UnixListener};

/// How long an accepted client may wait for a worker to take it before it is closed.
pub const DEFAULT_CLIENT_WAIT: Duration = Duration::from_secs(30);

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
    let result = dispatch(clients, &pool, client_wait, &metrics, &lifecycle).await;
    sessions.close();
    sessions.wait().await;
    result
}

/// The accept loop shared with `--workers`: accept while a worker is there, hand off,
/// close our copy of the socket.
///
/// Accepted sockets are blocking, as Python's `accept()` returns them: the recipe's worker
/// wraps the fd with `socket(fileno=fd)`, which takes the blocking mode from the fd (a
/// netkit worker makes its copy non-blocking itself).
pub async fn dispatch(
    clients: TcpListener,
    pool: &Arc<WorkerPool>,
    client_wait: Duration,
    metrics: &ServiceMetrics,
    lifecycle: &Lifecycle,
) -> io::Result<()> {
    let shutdown = &lifecycle.shutdown;
    loop {
        if !pool.wait_for_worker(shutdown).await {
            return Ok(());
        }
        let accepted = tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            accepted = clients.accept() => accepted,
        };
        // into_std takes the socket off our event loop again.
        let socket = match accepted.and_then(|(socket, _)| socket.into_std()) {
            Ok(socket) => socket,
            Err(error) => {
                tracing::warn!(service = "handoff", %error, "accept failed; retrying");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        if let Err(error) = socket
            .set_nonblocking(false)
            .and_then(|()| socket.set_nodelay(true))
        {
            tracing::debug!(%error, "cannot set up the accepted socket");
        }
        // Open only until handed off: from then on the connection is the worker's.
        let open = metrics.connection_opened();
        let accepted = Instant::now();
        if let Some(worker) = pool.try_hand(socket.as_fd()) {
            metrics.request(accepted.elapsed());
            tracing::trace!(pid = worker.pid, "handed off");
            continue; // our copy closes here
        }
        // Every worker is busy or gone: wait for one without holding up the accept loop.
        let pool = pool.clone();
        let shutdown = shutdown.clone();
        let metrics = metrics.clone();
        lifecycle.tracker.spawn(async move {
            let _open = open;
            match pool.hand_off(socket.as_fd(), client_wait, &shutdown).await {
                Ok(worker) => {
                    metrics.request(accepted.elapsed());
                    tracing::trace!(pid = worker.pid, "handed off");
                }
                Err(error) => {
                    metrics.request_error();
                    tracing::warn!(%error, "client closed");
                }
            }
        });
    }
}
