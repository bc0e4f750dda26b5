//! `netkit handoff worker`: connects to a handoff socket (netkit's or the recipe's Python
//! server), proves the authkey, announces its pid, then serves every socket it is handed.
//! When the server closes the Unix socket (or on SIGINT/SIGTERM) it takes no more sockets,
//! lets its connections finish (at most the grace period) and exits.

use super::scm;
use crate::mpconn::{MpConnection, MpError};
use crate::proto::pickle::{self, Value};
use crate::service::echo::{EchoConnection, EchoOptions};
use crate::service::{Lifecycle, ServerStream};
use std::future::Future;
use std::io;
use std::net::{SocketAddr, TcpStream as StdTcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::Interest;
use tokio::net::{TcpStream, UnixStream};

/// What a worker serves on the sockets it receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum WorkerService {
    Echo,
}

#[derive(Debug, Clone)]
pub struct WorkerOptions {
    pub connect: PathBuf,
    pub authkey: Option<Vec<u8>>,
    pub service: WorkerService,
    pub echo: EchoOptions,
    /// How long to keep retrying while the socket does not exist or refuses.
    pub connect_timeout: Duration,
    pub grace: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("cannot connect to {path}: {source}")]
    Connect { path: PathBuf, source: io::Error },
    #[error("handshake with {path} failed: {source}")]
    Handshake { path: PathBuf, source: MpError },
}

/// How the worker's session ended.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Sockets received.
    pub received: u64,
    /// Connections still open when the grace period ran out.
    pub cut: usize,
}

pub async fn run(
    options: WorkerOptions,
    stop: impl Future<Output = ()>,
) -> Result<Summary, WorkerError> {
    let stream = register(
        &options.connect,
        options.authkey.as_deref(),
        options.connect_timeout,
    )
    .await?;
    let lifecycle = Lifecycle::default();
    let echo = Arc::new(options.echo.clone());
    let received = receive(stream, stop, async |tcp, _peer| {
        serve(tcp, options.service, &echo, &lifecycle)
    })
    .await;
    let mut summary = Summary { received, cut: 0 };
    lifecycle.shutdown.cancel();
    lifecycle.tracker.close();
    if tokio::time::timeout(options.grace, lifecycle.tracker.wait())
        .await
        .is_err()
    {
        summary.cut = lifecycle.tracker.len();
        tracing::warn!(
            connections = summary.cut,
            "grace period over; closing the rest"
        );
    }
    Ok(summary)
}

/// Connects to the handoff socket at `path`, proves `authkey` and announces our pid: from
/// then on every message on the returned stream carries a socket.
pub async fn register(
    path: &Path,
    authkey: Option<&[u8]>,
    connect_timeout: Duration,
) -> Result<UnixStream, WorkerError> {
    let stream = connect(path, connect_timeout).await?;
    let handshake = |source| WorkerError::Handshake {
        path: path.to_path_buf(),
        source,
    };
    let mut connection = MpConnection::new(stream, 1024);
    if let Some(key) = authkey {
        connection.client_handshake(key).await.map_err(handshake)?;
    }
    let pid = pickle::dumps(
        &Value::Int(i64::from(std::process::id())),
        pickle::Protocol::V4,
    );
    connection
        .send_bytes(&pid)
        .await
        .map_err(|e| handshake(MpError::Io(e)))?;
    // The server sends nothing between the handshake and the first fd, so no byte of
    // an fd message can be sitting in the connection's read buffer.
    Ok(connection.into_inner())
}

/// Gives every TCP socket handed over `stream` (with its peer's address) to `serve`,
/// until the server closes the socket (it retires us) or `stop` completes. Returns how
/// many sockets arrived. While `serve` is pending no more are read, so the server's
/// sends to us fill up and it hands its next clients to another worker.
pub async fn receive(
    stream: UnixStream,
    stop: impl Future<Output = ()>,
    mut serve: impl AsyncFnMut(TcpStream, SocketAddr),
) -> u64 {
    let mut received = 0;
    tokio::pin!(stop);
    loop {
        let fds = tokio::select! {
            _ = &mut stop => break,
            fds = stream.async_io(Interest::READABLE, || scm::recv_fds(&stream)) => fds,
        };
        match fds {
            Ok(Some(fds)) => {
                for fd in fds {
                    received += 1;
                    match tcp_from(fd) {
                        Ok((tcp, peer)) => serve(tcp, peer).await,
                        Err(error) => tracing::warn!(%error, "handed fd is not a TCP socket"),
                    }
                }
            }
            Ok(None) => {
                tracing::info!("handoff server closed the socket; draining");
                break;
            }
            Err(error) => {
                tracing::warn!(%error, "handoff socket failed; draining");
                break;
            }
        }
    }
    received
}

async fn connect(path: &Path, timeout: Duration) -> Result<UnixStream, WorkerError> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        match UnixStream::connect(path).await {
            Ok(stream) => return Ok(stream),
            Err(error)
                if matches!(
                    error.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused
                ) && tokio::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(source) => {
                return Err(WorkerError::Connect {
                    path: path.to_path_buf(),
                    source,
                })
            }
        }
    }
}

fn tcp_from(fd: rustix::fd::OwnedFd) -> io::Result<(TcpStream, SocketAddr)> {
    let std = StdTcpStream::from(fd);
    // Fails with ENOTSOCK / EINVAL for anything that is not a connected TCP socket.
    let peer = std.peer_addr()?;
    std.set_nonblocking(true)?;
    Ok((TcpStream::from_std(std)?, peer))
}

fn serve(tcp: TcpStream, service: WorkerService, echo: &Arc<EchoOptions>, lifecycle: &Lifecycle) {
    let _ = tcp.set_nodelay(true);
    match service {
        WorkerService::Echo => {
            let connection = EchoConnection::new(
                ServerStream::plain(tcp),
                echo.clone(),
                lifecycle.shutdown.clone(),
            );
            lifecycle.tracker.spawn(async move {
                match connection.serve().await {
                    Ok(ending) => tracing::debug!(?ending, "echo connection done"),
                    Err(error) => tracing::debug!(%error, "echo connection failed"),
                }
            });
        }
    }
}
