//! Recipe 2's echo service: every byte a client sends comes back, to any number of
//! clients at once, with backpressure (nothing is read while the echo of earlier bytes
//! waits to be written), half-close, an idle timeout, and recipe 9's HMAC challenge when
//! a key is set.

use super::{has_unread_input, serve_tcp, tcp_of, Lifecycle, ServerStream, TcpOptions};
use crate::auth::{challenge_client, AuthError, HmacAuth};
use std::future::poll_fn;
use std::future::Future;
use std::io;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
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
    listener: TcpListener,
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

enum Wake {
    Input,
    Idle,
    Shutdown,
}

impl EchoConnection {
    pub async fn serve(mut self) -> Result<Ending, EchoError> {
        if let Some(auth) = &self.options.hmac {
            challenge_client(&mut self.stream, auth, self.options.handshake_timeout).await?;
        }
        let idle = self.options.idle_timeout;
        let mut last_input = Instant::now();
        loop {
            match self.wait_for_input(last_input).await? {
                Wake::Input => {}
                Wake::Idle => return Ok(Ending::IdleTimeout),
                Wake::Shutdown => {
                    let _ = tokio::time::timeout(idle, self.stream.shutdown()).await;
                    return Ok(Ending::Shutdown);
                }
            }
            last_input = Instant::now();
            // Echo everything readable now, then give the buffer back before waiting.
            let mut buffer = Vec::with_capacity(CHUNK);
            loop {
                buffer.clear();
                match self.read_available(&mut buffer).await {
                    None => break,
                    Some(Err(e)) => return Err(e.into()),
                    Some(Ok(0)) => {
                        self.stream.shutdown().await?;
                        return Ok(Ending::PeerClosed);
                    }
                    Some(Ok(_)) => {
                        let write = async {
                            self.stream.write_all(&buffer).await?;
                            self.stream.flush().await
                        };
                        match tokio::time::timeout(idle, write).await {
                            Ok(written) => written?,
                            // The client stopped reading: it is not our buffer's problem.
                            Err(_) => return Ok(Ending::IdleTimeout),
                        }
                    }
                }
            }
        }
    }

    /// Waits until the socket has input, the idle timeout passes, or shutdown finds the
    /// connection quiet (no input for [`DRAIN_QUIET`], nothing unread).
    async fn wait_for_input(&self, last_input: Instant) -> io::Result<Wake> {
        let tcp = tcp_of(&self.stream);
        tokio::select! {
            biased;
            ready = tcp.readable() => return ready.map(|_| Wake::Input),
            _ = self.shutdown.cancelled() => {}
            _ = tokio::time::sleep(self.options.idle_timeout) => return Ok(Wake::Idle),
        }
        // Draining: a client in the middle of sending gets served until it goes quiet.
        let quiet_until = last_input + DRAIN_QUIET;
        tokio::select! {
            biased;
            ready = tcp.readable() => ready.map(|_| Wake::Input),
            _ = tokio::time::sleep_until(quiet_until.into()) => {
                if has_unread_input(tcp) {
                    Ok(Wake::Input)
                } else {
                    Ok(Wake::Shutdown)
                }
            }
        }
    }

    /// One read if the stream has bytes (or EOF) ready now; `None` if it would wait.
    async fn read_available(&mut self, buffer: &mut Vec<u8>) -> Option<io::Result<usize>> {
        // read_buf fills the Vec's spare capacity, so the chunk is never zeroed.
        let mut read = std::pin::pin!(self.stream.read_buf(buffer));
        poll_fn(|cx| match read.as_mut().poll(cx) {
            Poll::Pending => Poll::Ready(None),
            Poll::Ready(result) => Poll::Ready(Some(result)),
        })
        .await
    }
}
