//! Recipe 7's `multiprocessing.connection` echo: every framed message comes back as it
//! was sent, after the authkey handshake when a key is set. The bytes are echoed without
//! unpickling, so objects of any class come back, exactly as the client pickled them.
//!
//! [`serve_frames`] is the connection loop shared with the pickle RPC service: handshake,
//! frame cap, idle timeout, and a shutdown that lets a request in flight finish.

use super::{has_unread_input, serve_tcp, tcp_of, Lifecycle, ServerStream, TcpOptions, TcpSource};
use crate::metrics::ServiceMetrics;
use crate::mpconn::{MpConnection, MpError};
use bytes::Bytes;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// Settings of a framed (multiprocessing.connection) service.
#[derive(Clone)]
pub struct FrameOptions {
    /// The authkey; `None` runs no handshake (as `Listener(authkey=None)`).
    pub authkey: Option<Arc<[u8]>>,
    pub max_frame: u64,
    pub idle_timeout: Duration,
    pub handshake_timeout: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum FrameServiceError {
    #[error(transparent)]
    Mp(#[from] MpError),
    #[error("no authkey handshake within {0:?}")]
    HandshakeTimeout(Duration),
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// Runs one framed connection: each received frame is handed to `reply`, whose answer is
/// sent back. Ends when the peer closes, stays silent past the idle timeout, or (after
/// shutdown) has nothing in flight.
pub async fn serve_frames(
    stream: ServerStream,
    options: &FrameOptions,
    shutdown: &CancellationToken,
    mut reply: impl FnMut(Bytes) -> Bytes,
) -> Result<(), FrameServiceError> {
    let metrics = stream.metrics().clone();
    let mut connection = MpConnection::new(stream, options.max_frame);
    if let Some(key) = &options.authkey {
        let handshake =
            tokio::time::timeout(options.handshake_timeout, connection.server_handshake(key))
                .await
                .map_err(|_| FrameServiceError::HandshakeTimeout(options.handshake_timeout))
                .and_then(|done| done.map_err(FrameServiceError::from));
        if let Err(error) = handshake {
            metrics.auth_handshake_failed();
            return Err(error);
        }
    }
    let served = frames(&mut connection, options, shutdown, &mut reply, &metrics).await;
    if served.is_err() {
        // A frame that could not be read (over --max-frame, not a frame) or answered.
        metrics.request_error();
    }
    served
}

/// The frames of a connection after its handshake.
async fn frames(
    connection: &mut MpConnection<ServerStream>,
    options: &FrameOptions,
    shutdown: &CancellationToken,
    reply: &mut impl FnMut(Bytes) -> Bytes,
    metrics: &ServiceMetrics,
) -> Result<(), FrameServiceError> {
    let idle = options.idle_timeout;
    let mut last_frame = Instant::now();
    let idle_timer = tokio::time::sleep(idle);
    let cancelled = shutdown.cancelled();
    tokio::pin!(idle_timer, cancelled);
    let mut draining = false;
    loop {
        let frame = tokio::select! {
            biased;
            frame = connection.recv_bytes() => frame?,
            _ = &mut cancelled, if !draining => {
                draining = true;
                // recv_bytes is cancel-safe: bytes already read stay buffered.
                if !connection.has_buffered_input() && !has_unread_input(tcp_of(connection.get_ref())) {
                    return Ok(());
                }
                continue;
            }
            _ = idle_timer.as_mut() => {
                let deadline = last_frame + idle;
                if Instant::now() >= deadline {
                    return Ok(());
                }
                idle_timer.as_mut().reset(deadline.into());
                continue;
            }
        };
        let Some(frame) = frame else {
            return Ok(()); // the peer closed between frames
        };
        last_frame = Instant::now();
        connection.send_bytes(&reply(frame)).await?;
        metrics.request(last_frame.elapsed());
        if draining
            && !connection.has_buffered_input()
            && !has_unread_input(tcp_of(connection.get_ref()))
        {
            return Ok(());
        }
    }
}

/// Runs a framed service: every connection's frames are answered by `reply` (the echo:
/// `|frame| frame`).
pub async fn run(
    listener: impl Into<TcpSource>,
    tcp: TcpOptions,
    options: FrameOptions,
    lifecycle: Lifecycle,
    reply: impl Fn(Bytes) -> Bytes + Send + Sync + 'static,
) -> io::Result<()> {
    let options = Arc::new(options);
    let reply = Arc::new(reply);
    let shutdown = lifecycle.shutdown.clone();
    let service = tcp.name;
    serve_tcp(listener, tcp, lifecycle, move |stream, peer| {
        let options = options.clone();
        let shutdown = shutdown.clone();
        let reply = reply.clone();
        async move {
            if let Err(error) = serve_frames(stream, &options, &shutdown, |f| reply(f)).await {
                tracing::debug!(%peer, %error, service, "framed connection failed");
            }
        }
    })
    .await
}
