//! The one HTTP connection driver. Every HTTP-speaking service — httpbin, XML-RPC, the
//! `--metrics` endpoint — is a [`Handler`] served here on hyper-util's auto builder:
//! HTTP/1.1, h2c with prior knowledge or by `Upgrade: h2c`, h2 over TLS by ALPN; with the
//! head size and count caps, the header timeout, graceful shutdown and request metrics.

use crate::proto::http::h2c::{self, Inspection};
use crate::service::{serve_tcp, tcp_of, Lifecycle, ServerStream, TcpOptions, TcpSource};
use bytes::{Buf, Bytes, BytesMut};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::time::{timeout_at, Instant};
use tokio_util::sync::CancellationToken;

/// What one HTTP service answers.
pub trait Handler: Send + Sync + 'static {
    type Body: hyper::body::Body<Data = Bytes, Error = Infallible> + Send + 'static;

    /// The answer to one request from `peer`.
    fn handle(
        &self,
        request: http::Request<Incoming>,
        peer: SocketAddr,
    ) -> impl Future<Output = http::Response<Self::Body>> + Send;

    /// Whether `response` counts as a request error in the metrics (by default: 5xx).
    fn is_error(&self, response: &http::Response<Self::Body>) -> bool {
        response.status().is_server_error()
    }
}

/// The driver's settings; every one bounds something a peer controls.
#[derive(Debug, Clone)]
pub struct DriverOptions {
    /// Time a client gets to send a request's head; also the longest idle keep-alive.
    pub header_timeout: Duration,
    /// Largest request head (at least 8 KiB, hyper's smallest read buffer).
    pub max_header_bytes: usize,
    pub max_headers: usize,
    /// Accept `Upgrade: h2c` on cleartext connections.
    pub h2c_upgrade: bool,
}

/// Serves `handler` on every connection of `incoming` until shutdown; keep-alive
/// connections are then closed gracefully (in-flight requests finish).
pub async fn serve<H: Handler>(
    incoming: impl Into<TcpSource>,
    tcp: TcpOptions,
    options: DriverOptions,
    handler: H,
    lifecycle: Lifecycle,
) -> io::Result<()> {
    let handler = Arc::new(handler);
    let options = Arc::new(options);
    let shutdown = lifecycle.shutdown.clone();
    serve_tcp(incoming, tcp, lifecycle, move |stream, peer| {
        serve_connection(
            stream,
            peer,
            handler.clone(),
            options.clone(),
            shutdown.clone(),
        )
    })
    .await
}

async fn serve_connection<H: Handler>(
    stream: ServerStream,
    peer: SocketAddr,
    handler: Arc<H>,
    options: Arc<DriverOptions>,
    shutdown: CancellationToken,
) {
    let metrics = stream.metrics().clone();
    let (io, h2_only) = match stream.tls_session() {
        Some(tls) => {
            let alpn_h2 = tls.alpn_protocol() == Some(b"h2");
            (Prefixed::new(Bytes::new(), stream), alpn_h2)
        }
        // h2c is for cleartext only (RFC 7540 §3.2).
        None if options.h2c_upgrade => {
            let start = tokio::select! {
                start = start_cleartext(stream, peer, &options) => start,
                _ = shutdown.cancelled() => return,
            };
            match start {
                Start::Closed => return,
                Start::Serve(io) => (io, false),
                Start::Upgraded(io) => (io, true),
            }
        }
        None => (Prefixed::new(Bytes::new(), stream), false),
    };
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // hyper's per-request header timer stays: it is the slowloris guard, and removing it
    // (or writev, or the h1/h2 sniffing) made no difference measurable on /get
    // (bench/RESULTS.md, http).
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(options.header_timeout)
        .max_buf_size(options.max_header_bytes.max(8192))
        .max_headers(options.max_headers);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(options.max_header_bytes).unwrap_or(u32::MAX))
        .max_concurrent_streams(256);
    if h2_only {
        builder = builder.http2_only();
    }
    let connection_metrics = metrics.clone();
    // One reference-counted context per connection, cloned per request: the counts move
    // on this connection's own cache line, not on the handler's and the metrics' shared
    // ones, which every connection on every core would otherwise bounce between them.
    let context = Arc::new((handler, metrics));
    let service = service_fn(move |request| {
        let context = context.clone();
        async move {
            let (handler, metrics) = &*context;
            let started = std::time::Instant::now();
            let response = handler.handle(request, peer).await;
            if handler.is_error(&response) {
                metrics.request_error();
            }
            metrics.request(started.elapsed());
            Ok::<_, Infallible>(response)
        }
    });
    let connection = builder.serve_connection_with_upgrades(TokioIo::new(io), service);
    tokio::pin!(connection);
    let result = tokio::select! {
        result = connection.as_mut() => result,
        _ = shutdown.cancelled() => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(error) = result {
        if error
            .downcast_ref::<hyper::Error>()
            .is_some_and(super::super::is_bad_request)
        {
            connection_metrics.request_error();
        }
        tracing::debug!(%peer, %error, "http connection ended with an error");
    }
}

/// How a cleartext connection starts.
enum Start {
    /// Timed out or failed before a request: nothing to answer.
    Closed,
    /// As HTTP/1.1 or h2 with prior knowledge, from the bytes read so far.
    Serve(Prefixed<ServerStream>),
    /// Upgraded to h2: the `101` is sent, the upgrade request waits as stream 1.
    Upgraded(Prefixed<ServerStream>),
}

/// Reads the first request's head (under the header timeout and size cap) to see whether
/// it asks for h2c, and performs the upgrade if it does. Anything else is handed to hyper
/// with the bytes read so far, so hyper answers it (400, 431, …) exactly as it would have.
async fn start_cleartext(
    mut stream: ServerStream,
    peer: SocketAddr,
    options: &DriverOptions,
) -> Start {
    let deadline = Instant::now() + options.header_timeout;
    // No buffer until the peer sends something: an idle connection costs none.
    match timeout_at(deadline, tcp_of(&stream).readable()).await {
        Ok(Ok(())) => {}
        _ => return Start::Closed,
    }
    let mut buf = BytesMut::with_capacity(4096);
    let (head_len, body_len, request) = loop {
        match h2c::inspect(&buf, options.max_headers) {
            Inspection::Upgrade {
                head_len,
                body_len,
                request,
            } => break (head_len, body_len, request),
            Inspection::Serve => return Start::Serve(Prefixed::new(buf.freeze(), stream)),
            Inspection::Decline(why) => {
                tracing::debug!(%peer, why, "h2c upgrade declined; answering over HTTP/1.1");
                return Start::Serve(Prefixed::new(buf.freeze(), stream));
            }
            // Past the cap hyper answers 431.
            Inspection::Partial if buf.len() >= options.max_header_bytes => {
                return Start::Serve(Prefixed::new(buf.freeze(), stream))
            }
            Inspection::Partial => {}
        }
        match read_more(&mut stream, &mut buf, deadline).await {
            Read::More => {}
            Read::Eof => return Start::Serve(Prefixed::new(buf.freeze(), stream)),
            Read::Failed => return Start::Closed,
        }
    };
    let whole = head_len + body_len;
    while buf.len() < whole {
        match read_more(&mut stream, &mut buf, deadline).await {
            Read::More => {}
            // A truncated body: hyper reads it as HTTP/1.1 and says so.
            Read::Eof => return Start::Serve(Prefixed::new(buf.freeze(), stream)),
            Read::Failed => return Start::Closed,
        }
    }
    tracing::debug!(%peer, settings = ?request.settings, "h2c upgrade");
    // The client's own SETTINGS frame, which follows its preface, is the one the h2
    // server applies: RFC 7540 §3.2.1 has it carry what HTTP2-Settings said (curl and
    // nghttp2 send the same values), and acknowledging a second, synthetic SETTINGS
    // would confuse the client. HTTP2-Settings is checked, then, not applied twice.
    let stream_one = h2c::stream_one(&request, &buf[head_len..whole]);
    let mut after = buf.split_off(whole);
    drop(buf);
    if stream.write_all(h2c::SWITCHING_PROTOCOLS).await.is_err() || stream.flush().await.is_err() {
        return Start::Closed;
    }
    let deadline = Instant::now() + options.header_timeout;
    let preface_len = loop {
        match h2c::client_preface_len(&after) {
            Ok(Some(len)) => break len,
            Ok(None) => {}
            Err(error) => {
                tracing::debug!(%peer, %error, "h2c upgrade: no HTTP/2 after the 101");
                return Start::Closed;
            }
        }
        if !matches!(
            read_more(&mut stream, &mut after, deadline).await,
            Read::More
        ) {
            return Start::Closed;
        }
    };
    let mut prefix = BytesMut::with_capacity(after.len() + stream_one.len());
    prefix.extend_from_slice(&after[..preface_len]);
    prefix.extend_from_slice(&stream_one);
    prefix.extend_from_slice(&after[preface_len..]);
    Start::Upgraded(Prefixed::new(prefix.freeze(), stream))
}

enum Read {
    More,
    Eof,
    /// An error or the deadline.
    Failed,
}

async fn read_more(stream: &mut ServerStream, buf: &mut BytesMut, deadline: Instant) -> Read {
    if buf.capacity() == buf.len() {
        buf.reserve(buf.len().max(4096));
    }
    match timeout_at(deadline, stream.read_buf(buf)).await {
        Ok(Ok(0)) => Read::Eof,
        Ok(Ok(_)) => Read::More,
        _ => Read::Failed,
    }
}

/// A stream whose first reads return bytes already taken from it.
pub struct Prefixed<S> {
    prefix: Bytes,
    inner: S,
}

impl<S> Prefixed<S> {
    pub fn new(prefix: Bytes, inner: S) -> Self {
        Prefixed { prefix, inner }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Prefixed<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.prefix.is_empty() {
            return Pin::new(&mut this.inner).poll_read(cx, buf);
        }
        let n = this.prefix.len().min(buf.remaining());
        buf.put_slice(&this.prefix[..n]);
        this.prefix.advance(n);
        if this.prefix.is_empty() {
            this.prefix = Bytes::new(); // frees the buffer it came from
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Prefixed<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn prefixed_reads_the_prefix_then_the_stream() {
        let inner: &[u8] = b" world";
        let mut io = Prefixed::new(Bytes::from_static(b"hello"), inner);
        let mut small = [0u8; 3];
        io.read_exact(&mut small).await.unwrap();
        assert_eq!(&small, b"hel");
        let mut rest = Vec::new();
        io.read_to_end(&mut rest).await.unwrap();
        assert_eq!(rest, b"lo world");
    }
}
