//! Services: each moves bytes between sockets and a codec. Every TCP service runs on
//! [`serve_tcp`], which owns what they have in common: accepting, the connection cap,
//! TLS handshakes, and tracking connections for a graceful shutdown.

pub mod conn;
pub mod echo;
pub mod http;
pub mod rpc;
pub mod time;
pub mod xmlrpc;

use crate::metrics::ServiceMetrics;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tokio_util::either::Either;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// An accepted connection: plain TCP, or TLS over it, that counts the bytes it moves into
/// its service's metrics (one relaxed atomic add per read or write that moved bytes).
pub struct ServerStream {
    inner: Either<TcpStream, TlsServerStream>,
    metrics: ServiceMetrics,
}

/// The TLS state (over a kilobyte) is boxed so that every connection's task does not carry
/// room for it.
pub type TlsServerStream = Box<tokio_rustls::server::TlsStream<TcpStream>>;

impl ServerStream {
    /// A plain TCP connection whose bytes are counted nowhere.
    pub fn plain(tcp: TcpStream) -> Self {
        ServerStream {
            inner: Either::Left(tcp),
            metrics: ServiceMetrics::default(),
        }
    }

    /// A TLS connection whose bytes are counted nowhere.
    pub fn tls(tls: TlsServerStream) -> Self {
        ServerStream {
            inner: Either::Right(tls),
            metrics: ServiceMetrics::default(),
        }
    }

    /// Counts this connection's bytes (and lets the service count its requests) in
    /// `metrics`.
    pub fn metered(mut self, metrics: ServiceMetrics) -> Self {
        self.metrics = metrics;
        self
    }

    /// The metrics of the service this connection belongs to.
    pub fn metrics(&self) -> &ServiceMetrics {
        &self.metrics
    }

    /// The TLS session, if the connection speaks TLS.
    pub fn tls_session(&self) -> Option<&rustls::ServerConnection> {
        match &self.inner {
            Either::Left(_) => None,
            Either::Right(tls) => Some(tls.get_ref().1),
        }
    }
}

impl AsyncRead for ServerStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        let read = buf.filled().len() - before;
        if read > 0 {
            this.metrics.received(read);
        }
        polled
    }
}

impl AsyncWrite for ServerStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(written)) = polled {
            this.metrics.sent(written);
        }
        polled
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(written)) = polled {
            this.metrics.sent(written);
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// The TCP socket under a [`ServerStream`].
pub fn tcp_of(stream: &ServerStream) -> &TcpStream {
    match &stream.inner {
        Either::Left(tcp) => tcp,
        Either::Right(tls) => tls.get_ref().0,
    }
}

/// What every service is handed: when to stop, and where to register its connections so
/// that shutdown can wait for them.
#[derive(Clone)]
pub struct Lifecycle {
    /// Shutdown: stop accepting, and let connections drain.
    pub shutdown: CancellationToken,
    /// Stop accepting only: cancelled on shutdown, or alone when a reload starts a new
    /// accept loop with new settings and the old one's connections go on untouched.
    pub accepting: CancellationToken,
    pub tracker: TaskTracker,
}

impl Default for Lifecycle {
    fn default() -> Self {
        let shutdown = CancellationToken::new();
        Lifecycle {
            accepting: shutdown.child_token(),
            shutdown,
            tracker: TaskTracker::new(),
        }
    }
}

impl Lifecycle {
    /// The same shutdown and connections, with an accept loop of its own to stop.
    pub fn next_generation(&self) -> Lifecycle {
        Lifecycle {
            shutdown: self.shutdown.clone(),
            accepting: self.shutdown.child_token(),
            tracker: self.tracker.clone(),
        }
    }
}

/// Where a TCP service's connections come from: its own listener, or, in a `--workers`
/// worker process, the sockets the supervisor hands over.
pub enum TcpSource {
    /// Shared, so that a reload's new accept loop takes over the same socket.
    Listener(Arc<TcpListener>),
    /// Each with its peer's address.
    Handed(tokio::sync::mpsc::Receiver<(TcpStream, SocketAddr)>),
}

impl From<TcpListener> for TcpSource {
    fn from(listener: TcpListener) -> Self {
        TcpSource::Listener(Arc::new(listener))
    }
}

impl TcpSource {
    /// The next connection; `None` once the supervisor stops handing sockets over.
    async fn accept(&mut self) -> Option<io::Result<(TcpStream, SocketAddr)>> {
        match self {
            TcpSource::Listener(listener) => Some(listener.accept().await),
            TcpSource::Handed(sockets) => sockets.recv().await.map(Ok),
        }
    }
}

/// Settings every TCP service shares.
#[derive(Clone)]
pub struct TcpOptions {
    /// Service name for logs (`echo`, `http`, …).
    pub name: &'static str,
    pub tls: Option<TlsAcceptor>,
    /// Connections served at once (`--max-connections`); the ones past it are accepted and
    /// closed at once. Shared by a service's accept loops, the old ones of a reload too.
    pub slots: Arc<Semaphore>,
    /// Time a peer gets to finish the TLS handshake.
    pub handshake_timeout: Duration,
    /// Where the service's connections, bytes and requests are counted.
    pub metrics: ServiceMetrics,
}

/// Accepts connections until shutdown, handing each to `handle` on its own task.
///
/// The listener never stops for a peer's sake: failed accepts (e.g. out of file
/// descriptors) are logged and retried after a short pause, connections over the cap are
/// closed and counted, and a failed TLS handshake only ends its own connection.
///
/// Every service's connection metrics are counted here: opened (and open, until its task
/// ends), refused over the cap, failed TLS handshakes; and the stream handed to `handle`
/// counts its bytes.
pub async fn serve_tcp<H, F>(
    incoming: impl Into<TcpSource>,
    options: TcpOptions,
    lifecycle: Lifecycle,
    handle: H,
) -> io::Result<()>
where
    H: Fn(ServerStream, SocketAddr) -> F + Send + Sync + 'static,
    F: Future<Output = ()> + Send + 'static,
{
    let mut incoming = incoming.into();
    let handle = Arc::new(handle);
    let slots = options.slots.clone();
    let mut refused =
        RateLimitedCount::new(options.name, "connections refused over --max-connections");
    loop {
        let (socket, peer) = tokio::select! {
            _ = lifecycle.accepting.cancelled() => return Ok(()),
            accepted = incoming.accept() => match accepted {
                None => return Ok(()),
                Some(Ok(pair)) => pair,
                Some(Err(error)) => {
                    tracing::warn!(service = options.name, %error, "accept failed; retrying");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            refused.add();
            options.metrics.connection_refused();
            drop(socket);
            continue;
        };
        // Request/response protocols must not wait for Nagle and delayed ACKs.
        if let Err(error) = socket.set_nodelay(true) {
            tracing::debug!(%peer, %error, "set TCP_NODELAY failed");
        }
        let handle = handle.clone();
        let tls = options.tls.clone();
        let handshake_timeout = options.handshake_timeout;
        let service = options.name;
        let metrics = options.metrics.clone();
        lifecycle.tracker.spawn(async move {
            let _slot = permit;
            let _open = metrics.connection_opened();
            let stream = match tls {
                None => ServerStream::plain(socket),
                // Boxed: the handshake's state lives on the heap only while it runs.
                Some(acceptor) => {
                    let handshake = crate::tls::accept(&acceptor, socket, handshake_timeout);
                    match Box::pin(handshake).await {
                        Ok(tls) => ServerStream::tls(Box::new(tls)),
                        Err(error) => {
                            metrics.tls_handshake_failed();
                            tracing::debug!(service, %peer, %error, "TLS handshake failed");
                            return;
                        }
                    }
                }
            };
            let stream = stream.metered(metrics.clone());
            tracing::trace!(service, %peer, "connection open");
            handle(stream, peer).await;
        });
    }
}

/// Counts an event that a hostile peer could make happen a million times a second, and
/// logs it at most once a second.
pub struct RateLimitedCount {
    service: &'static str,
    what: &'static str,
    total: u64,
    since_log: u64,
    last_log: Option<Instant>,
}

impl RateLimitedCount {
    pub fn new(service: &'static str, what: &'static str) -> Self {
        RateLimitedCount {
            service,
            what,
            total: 0,
            since_log: 0,
            last_log: None,
        }
    }

    pub fn add(&mut self) {
        self.total += 1;
        self.since_log += 1;
        let due = self
            .last_log
            .is_none_or(|at| at.elapsed() >= Duration::from_secs(1));
        if due {
            tracing::warn!(
                service = self.service,
                new = self.since_log,
                total = self.total,
                "{}",
                self.what
            );
            self.since_log = 0;
            self.last_log = Some(Instant::now());
        }
    }
}

/// Whether hyper gave up on a connection because the peer sent something that is not a
/// request (hyper has answered 400/431 itself): a request error, unlike a reset or timeout.
pub fn is_bad_request(error: &hyper::Error) -> bool {
    error.is_parse() || error.is_parse_too_large()
}

/// Whether the peer has sent bytes we have not read yet (or closed), without waiting and
/// without consuming them. Lets a draining service tell an idle connection, which it may
/// close at once, from one with a request in flight.
pub fn has_unread_input(tcp: &TcpStream) -> bool {
    let mut probe = [std::mem::MaybeUninit::<u8>::uninit(); 1];
    match socket2::SockRef::from(tcp).peek(&mut probe) {
        Ok(_) => true, // data, or EOF that the reader should see
        Err(e) => e.kind() != io::ErrorKind::WouldBlock,
    }
}
