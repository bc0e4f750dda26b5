//! `serve --http`: httpbin (recipe 1) and recipe 5's REST endpoints on hyper 1.
//!
//! Connections come from [`serve_tcp`] (cap, TLS, shutdown tracking); each is served by
//! hyper-util's auto builder, so HTTP/1.1, h2c with prior knowledge and h2 over TLS (ALPN)
//! all work. [`routes`] is the one route table, [`middleware`] wraps every request
//! (limits, CORS, compression, logging), [`shapes`] holds every JSON reply.

// Handlers answer a bad parameter with the error response itself (`Result<_, Response>`):
// it is built once, on the error path, and boxing it would only add noise.
#![allow(clippy::result_large_err)]

mod auth;
mod cache;
mod cookies;
mod dynamic;
mod formats;
mod gobin;
mod inspect;
mod methods;
pub mod middleware;
mod redirect;
mod rest;
pub mod routes;
pub mod shapes;
mod site;
mod status;
mod websocket;

use super::{serve_tcp, Lifecycle, ServerStream, TcpOptions, TcpSource};
use bytes::Bytes;
use http::{HeaderMap, Method, Uri, Version};
use http_body_util::combinators::UnsyncBoxBody;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// Every response body: whole or streamed (/drip, /stream), never failing mid-way.
pub type Body = UnsyncBoxBody<Bytes, Infallible>;
pub type Response = http::Response<Body>;

pub const DEFAULT_MAX_BODY: u64 = 16 * 1024 * 1024;
pub const DEFAULT_MAX_DELAY_SECS: f64 = 10.0;
/// httpbin's own cap for /bytes, /stream-bytes and /range.
pub const DEFAULT_MAX_BYTES: u64 = 100 * 1024;
pub const DEFAULT_MAX_HEADER_BYTES: u64 = 64 * 1024;
pub const DEFAULT_MAX_HEADERS: usize = 100;
pub const DEFAULT_HEADER_TIMEOUT_SECS: f64 = 10.0;
/// go-httpbin's cap on /drip's numbytes.
pub const MAX_DRIP_BYTES: u64 = 10 * 1024 * 1024;

/// Validated HTTP settings.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpOptions {
    pub max_body: u64,
    pub max_delay: Duration,
    pub max_bytes: u64,
    pub max_header_bytes: usize,
    pub max_headers: usize,
    pub header_timeout: Duration,
    pub redirect_hosts: Vec<String>,
    pub decode_bodies: bool,
    pub real_hostname: bool,
    pub env_prefix: Option<String>,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            max_body: DEFAULT_MAX_BODY,
            max_delay: Duration::from_secs_f64(DEFAULT_MAX_DELAY_SECS),
            max_bytes: DEFAULT_MAX_BYTES,
            max_header_bytes: DEFAULT_MAX_HEADER_BYTES as usize,
            max_headers: DEFAULT_MAX_HEADERS,
            header_timeout: Duration::from_secs_f64(DEFAULT_HEADER_TIMEOUT_SECS),
            redirect_hosts: Vec::new(),
            decode_bodies: false,
            real_hostname: false,
            env_prefix: None,
        }
    }
}

/// What every request handler can see of the service.
pub struct State {
    pub options: HttpOptions,
    pub tls: bool,
    /// /digest-auth's nonces that have a use limit (`stale_after`).
    pub nonces: auth::Nonces,
    /// What /hostname says.
    pub hostname: String,
    /// What /env shows, read once at start.
    pub env: std::collections::BTreeMap<String, String>,
}

/// A request with its body read (under the cap) and what the connection knows.
pub struct Req {
    pub method: Method,
    pub uri: Uri,
    pub version: Version,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub peer: SocketAddr,
    pub scheme: &'static str,
    /// Where an HTTP/1.1 Upgrade (the WebSocket) takes over the connection.
    pub upgrade: Option<hyper::upgrade::OnUpgrade>,
}

impl Req {
    pub fn path(&self) -> &str {
        self.uri.path()
    }

    pub fn header(&self, name: impl http::header::AsHeaderName) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The Host header, or the :authority of an HTTP/2 request.
    pub fn host(&self) -> String {
        self.header(http::header::HOST)
            .map(str::to_string)
            .or_else(|| self.uri.authority().map(|a| a.to_string()))
            .unwrap_or_default()
    }

    /// The URL the client asked for, as httpbin's `url` field gives it.
    pub fn url(&self) -> String {
        let path = self.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
        format!("{}://{}{}", self.scheme, self.host(), path)
    }

    /// Query parameters in order, decoded.
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        form_urlencoded::parse(self.uri.query().unwrap_or("").as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    /// The first value of query parameter `key`.
    pub fn query(&self, key: &str) -> Option<String> {
        form_urlencoded::parse(self.uri.query().unwrap_or("").as_bytes())
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.into_owned())
    }

    /// httpbin's `origin`: X-Forwarded-For when a proxy set it, else the peer's address.
    pub fn origin(&self) -> String {
        self.header("x-forwarded-for")
            .map(str::to_string)
            .unwrap_or_else(|| self.peer.ip().to_string())
    }
}

/// Serves HTTP on `listener` until shutdown; keep-alive connections are closed gracefully
/// (in-flight requests finish) when it comes.
pub async fn run(
    listener: impl Into<TcpSource>,
    tcp: TcpOptions,
    options: HttpOptions,
    lifecycle: Lifecycle,
) -> std::io::Result<()> {
    let hostname = if options.real_hostname {
        gobin::real_hostname()
    } else {
        "netkit".into()
    };
    let env = gobin::env_with_prefix(options.env_prefix.as_deref());
    let state = Arc::new(State {
        options,
        tls: tcp.tls.is_some(),
        nonces: auth::Nonces::new(),
        hostname,
        env,
    });
    let shutdown = lifecycle.shutdown.clone();
    serve_tcp(listener, tcp, lifecycle, move |stream, peer| {
        serve_connection(stream, peer, state.clone(), shutdown.clone())
    })
    .await
}

async fn serve_connection(
    stream: ServerStream,
    peer: SocketAddr,
    state: Arc<State>,
    shutdown: CancellationToken,
) {
    let alpn_h2 = stream
        .tls_session()
        .is_some_and(|tls| tls.alpn_protocol() == Some(b"h2"));
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // hyper's per-request header timer stays: it is the slowloris guard, and removing it
    // (or writev, or the h1/h2 sniffing) made no difference measurable on /get
    // (bench/RESULTS.md, http).
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(state.options.header_timeout)
        .max_buf_size(state.options.max_header_bytes)
        .max_headers(state.options.max_headers);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(state.options.max_header_bytes).unwrap_or(u32::MAX))
        .max_concurrent_streams(256);
    if alpn_h2 {
        builder = builder.http2_only();
    }
    let scheme = if state.tls { "https" } else { "http" };
    let metrics = stream.metrics().clone();
    let connection_metrics = metrics.clone();
    let service = service_fn(move |request| {
        let state = state.clone();
        let metrics = metrics.clone();
        async move {
            let started = Instant::now();
            let response = middleware::handle(request, peer, scheme, &state).await;
            // 4xx are answers httpbin is asked for; 5xx are ours.
            if response.status().is_server_error() {
                metrics.request_error();
            }
            metrics.request(started.elapsed());
            Ok::<_, Infallible>(response)
        }
    });
    let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
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
            .is_some_and(super::is_bad_request)
        {
            connection_metrics.request_error();
        }
        tracing::debug!(%peer, %error, "http connection ended with an error");
    }
}
