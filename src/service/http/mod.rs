//! `serve --http`: httpbin (recipe 1) and recipe 5's REST endpoints on hyper 1.
//!
//! Connections are served by the shared [`driver`] (hyper-util's auto builder on
//! [`super::serve_tcp`]), so HTTP/1.1, h2c (prior knowledge or Upgrade) and h2 over TLS
//! (ALPN) all work. [`routes`] is the one route table, [`middleware`] wraps every request
//! (limits, CORS, compression, logging), [`shapes`] holds every JSON reply.

// Handlers answer a bad parameter with the error response itself (`Result<_, Response>`):
// it is built once, on the error path, and boxing it would only add noise.
#![allow(clippy::result_large_err)]

mod auth;
mod cache;
mod cookies;
pub mod driver;
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

use super::{Lifecycle, TcpOptions, TcpSource};
use bytes::Bytes;
use http::{HeaderMap, Method, Uri, Version};
use http_body_util::combinators::UnsyncBoxBody;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

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

/// httpbin's routes as a handler of the shared [`driver`].
struct Httpbin {
    state: State,
    scheme: &'static str,
}

impl driver::Handler for Httpbin {
    type Body = Body;

    async fn handle(
        &self,
        request: http::Request<hyper::body::Incoming>,
        peer: SocketAddr,
    ) -> Response {
        middleware::handle(request, peer, self.scheme, &self.state).await
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
    let tls = tcp.tls.is_some();
    let driver_options = driver::DriverOptions {
        header_timeout: options.header_timeout,
        max_header_bytes: options.max_header_bytes,
        max_headers: options.max_headers,
        h2c_upgrade: true,
    };
    let hostname = if options.real_hostname {
        gobin::real_hostname()
    } else {
        "netkit".into()
    };
    let env = gobin::env_with_prefix(options.env_prefix.as_deref());
    let handler = Httpbin {
        state: State {
            options,
            tls,
            nonces: auth::Nonces::new(),
            hostname,
            env,
        },
        scheme: if tls { "https" } else { "http" },
    };
    driver::serve(listener, tcp, driver_options, handler, lifecycle).await
}
