//! Recipe 2's echo service: every byte a client sends comes back, to any number of
//! clients at once, with backpressure (nothing is read while the echo of earlier bytes
//! waits to be written), half-close, an idle timeout, and recipe 9's HMAC challenge when
//! a key is set.

use super::{has_unread_input, serve_tcp, tcp_of, Lifecycle, ServerStream, TcpOptions, TcpSource};
use crate::auth::{challenge_client, AuthError, HmacAuth};
use std::future::poll_fn;
use std::future::Future;
use std::io;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

/// During shutdown, a connection quiet for this long has nothing in flight and is closed;
/// one that keeps sending is served until it closes or the grace period ends.
const DRAIN_QUIET: Duration = Duration::from_secs(1);

/// Bytes read at a time. Allocated only while a connection has input, so idle
/// connections cost no buffer.
const CHUNK: usize = 32 * 1024;

#[derive(Debug, Clone)]
pub struct EchoOptions {
    /// A connection with no traffic in either direction for this long is closed.
    pub idle_timeout: Duration,
    /// Time a client gets to answer the HMAC challenge.
    pub handshake_timeout: Duration,
    pub hmac: Option<HmacAuth>,
}

/// How an echo connection ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Ending {
    /// The client shut its write side; it got all its bytes back, then EOF.
    PeerClosed,
    IdleTimeout,
    /// Shutdown found the connection quiet and closed it.
    Shutdown,
}

#[derive(Debug, thiserror::Error)]
pub enum EchoError {
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Io(#[from] io::Error),
}

pub async fn run(
    listener: impl Into<TcpSource>,
    tcp: TcpOptions,
    options: EchoOptions,
    lifecycle: Lifecycle,
) -> io::Result<()> {
    let options = Arc::new(options);
    let shutdown = lifecycle.shutdown.clone();
    serve_tcp(listener, tcp, lifecycle, move |stream, peer| {
        let connection = EchoConnection {
            stream,
            options: options.clone(),
            shutdown: shutdown.clone(),
        };
        async move {
            match connection.serve().await {
                Ok(ending) => tracing::debug!(%peer, ?ending, "echo connection done"),
                Err(error) => tracing::debug!(%peer, %error, "echo connection failed"),
            }
        }
    })
    .await
}

/// One client of the echo service.
pub struct EchoConnection {
    stream: ServerStream,
    options: Arc<EchoOptions>,
    shutdown: CancellationToken,
}

impl EchoConnection {
    /// A connection accepted elsewhere (e.g. handed over by `netkit handoff`).
    pub fn new(
        stream: ServerStream,
        options: Arc<EchoOptions>,
        shutdown: CancellationToken,
    ) -> Self {
        EchoConnection {
            stream,
            options,
            shutdown,
        }
    }

    pub async fn serve(self) -> Result<Ending, EchoError> {
        let EchoConnection {
            mut stream,
            options,
            shutdown,
        } = self;
        let metrics = stream.metrics().clone();
        if let Some(auth) = &options.hmac {
            if let Err(error) = challenge_client(&mut stream, auth, options.handshake_timeout).await
            {
                metrics.auth_handshake_failed();
                return Err(error.into());
            }
        }
        // One timer and one shutdown waiter for the connection's life, re-armed only when
        // they fire: per-message timers and waiter registrations cost more than the echo.
        let idle = options.idle_timeout;
        let mut last_input = Instant::now();
        let mut draining = false;
        let idle_timer = tokio::time::sleep(idle);
        let cancelled = shutdown.cancelled();
        tokio::pin!(idle_timer, cancelled);
        // TLS: the handshake may have read the client's first record off the socket with
        // its last flight, and the socket will not turn readable for it: read once before
        // the first wait.
        let mut first_pass = true;
        loop {
            tokio::select! {
                biased;
                _ = std::future::ready(()), if first_pass => first_pass = false,
                ready = tcp_of(&stream).readable() => ready?,
                _ = &mut cancelled, if !draining => {
                    // A client in the middle of sending is served until it goes quiet.
                    draining = true;
                    idle_timer.as_mut().reset((last_input + idle.min(DRAIN_QUIET)).into());
                    continue;
                }
                _ = idle_timer.as_mut() => {
                    let limit = if draining { idle.min(DRAIN_QUIET) } else { idle };
                    let deadline = last_input + limit;
                    if Instant::now() < deadline {
                        idle_timer.as_mut().reset(deadline.into());
                        continue;
                    }
                    if !draining {
                        return Ok(Ending::IdleTimeout);
                    }
                    if !has_unread_input(tcp_of(&stream)) {
                        let _ = tokio::time::timeout(idle, stream.shutdown()).await;
                        return Ok(Ending::Shutdown);
                    }
                }
            }
            // Echo everything readable now, then give the buffer back before waiting.
            let mut buffer = Vec::with_capacity(CHUNK);
            loop {
                buffer.clear();
                match read_available(&mut stream, &mut buffer).await {
                    None => break,
                    Some(Err(e)) => return Err(e.into()),
                    Some(Ok(0)) => {
                        stream.shutdown().await?;
                        return Ok(Ending::PeerClosed);
                    }
                    Some(Ok(_)) => {
                        last_input = Instant::now();
                        let write = async {
                            stream.write_all(&buffer).await?;
                            stream.flush().await
                        };
                        tokio::pin!(write);
                        loop {
                            tokio::select! {
                                biased;
                                written = &mut write => {
                                    written?;
                                    // One request: a read chunk, echoed in full.
                                    metrics.request(last_input.elapsed());
                                    break;
                                }
                                _ = idle_timer.as_mut() => {
                                    // The client stopped reading: that is not our buffer's
                                    // problem for longer than the idle timeout.
                                    let deadline = last_input + idle;
                                    if Instant::now() >= deadline {
                                        return Ok(Ending::IdleTimeout);
                                    }
                                    idle_timer.as_mut().reset(deadline.into());
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// One read if the stream has bytes (or EOF) ready now; `None` if it would wait.
async fn read_available(
    stream: &mut ServerStream,
    buffer: &mut Vec<u8>,
) -> Option<io::Result<usize>> {
    // read_buf fills the Vec's spare capacity, so the chunk is never zeroed.
    let mut read = std::pin::pin!(stream.read_buf(buffer));
    poll_fn(|cx| match read.as_mut().poll(cx) {
        Poll::Pending => Poll::Ready(None),
        Poll::Ready(result) => Poll::Ready(Some(result)),
    })
    .await
}
