//! The client side of each protocol: what `netkit echo`, `netkit time` and `netkit bench`
//! use, and what a Rust program can call.

pub mod conn;
pub mod echo;
pub mod http;
pub mod time;
pub mod xmlrpc;

use crate::tls::{self, ClientTlsFiles, TlsError};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_util::either::Either;

/// A connection to a server: plain TCP, or TLS over it.
pub type ClientStream = Either<TcpStream, tokio_rustls::client::TlsStream<TcpStream>>;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("the reply is not a valid pickle: {0}")]
    Unpickle(#[from] crate::proto::pickle::PickleError),
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        addr: String,
        source: std::io::Error,
    },
    #[error("no answer from {addr} within {timeout:?}")]
    Timeout { addr: String, timeout: Duration },
    #[error("TLS handshake with {addr} failed: {source}")]
    TlsHandshake {
        addr: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error(transparent)]
    Auth(#[from] crate::auth::AuthError),
    #[error("{addr} sent a reply that is not {expected}")]
    BadReply {
        addr: String,
        expected: &'static str,
    },
    #[error(transparent)]
    Mp(#[from] crate::mpconn::MpError),
    #[error("the server closed the connection")]
    Closed,
    #[error("pickle: {0}")]
    Pickle(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// TLS settings for a client connection.
#[derive(Clone)]
pub struct ClientTls {
    pub config: Arc<rustls::ClientConfig>,
    /// Name checked against the server's certificate; the host of the address by default.
    pub server_name: Option<String>,
}

impl ClientTls {
    pub fn from_files(
        files: &ClientTlsFiles,
        server_name: Option<String>,
    ) -> Result<Self, TlsError> {
        Ok(ClientTls {
            config: tls::client_config(files)?,
            server_name,
        })
    }
}

/// Connects to `addr` (`host:port`) within `timeout`, with TLS when asked.
pub async fn connect(
    addr: &str,
    tls: Option<&ClientTls>,
    timeout: Duration,
) -> Result<ClientStream, ClientError> {
    let tcp = tokio::time::timeout(timeout, TcpStream::connect(addr))
        .await
        .map_err(|_| ClientError::Timeout {
            addr: addr.to_string(),
            timeout,
        })?
        .map_err(|source| ClientError::Connect {
            addr: addr.to_string(),
            source,
        })?;
    tcp.set_nodelay(true)?;
    let Some(tls) = tls else {
        return Ok(Either::Left(tcp));
    };
    let name = match &tls.server_name {
        Some(name) => tls::server_name(name)?,
        None => tls::server_name(addr)?,
    };
    let handshake = TlsConnector::from(tls.config.clone()).connect(name, tcp);
    let stream = tokio::time::timeout(timeout, handshake)
        .await
        .map_err(|_| ClientError::Timeout {
            addr: addr.to_string(),
            timeout,
        })?
        .map_err(|source| ClientError::TlsHandshake {
            addr: addr.to_string(),
            source,
        })?;
    Ok(Either::Right(stream))
}
