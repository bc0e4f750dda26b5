//! An XML-RPC client, like Python's `ServerProxy`: POSTs calls to `URL` over one
//! keep-alive connection (reconnecting when the server closes it, as Python's server does
//! after every call), sends `Accept-Encoding: gzip` and reads gzipped answers.

use super::{connect, ClientError, ClientTls};
use crate::proto::xmlrpc::{encode_call, parse_response, Fault, Limits, Value, XmlRpcError};
use crate::tls::ClientTlsFiles;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use std::io::Read;
use std::time::Duration;

/// Why a call got no answer (a [`Fault`] is an answer: see [`CallError::Fault`]).
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The server answered with a fault.
    #[error("{0}")]
    Fault(Fault),
    #[error("{0:?} is not an http:// or https:// URL (e.g. http://localhost:15000)")]
    BadUrl(String),
    #[error(transparent)]
    Connect(#[from] ClientError),
    #[error("{url}: {source}")]
    Http { url: String, source: hyper::Error },
    #[error("{url}: HTTP status {status}")]
    Status { url: String, status: StatusCode },
    #[error("{url}: the answer is over {limit} bytes")]
    TooLarge { url: String, limit: usize },
    #[error("{url}: the answer is not readable: {reason}")]
    BadAnswer { url: String, reason: String },
    #[error("{url}: not an XML-RPC answer: {source}")]
    Decode { url: String, source: XmlRpcError },
    #[error("{url}: no answer within {timeout:?}")]
    Timeout { url: String, timeout: Duration },
}

/// The parts of an `http://host:port/path` URL a client needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub https: bool,
    /// `host:port`, for connecting and the `Host` header.
    pub addr: String,
    /// The request path; `/RPC2` when the URL has none, as in Python's `ServerProxy`.
    pub path: String,
}

impl Target {
    /// Parses `http://host[:port][/path]`, `https://…`, or a bare `host:port`.
    pub fn parse(url: &str) -> Result<Target, CallError> {
        let bad = || CallError::BadUrl(url.to_string());
        let (https, rest) = if let Some(rest) = url.strip_prefix("http://") {
            (false, rest)
        } else if let Some(rest) = url.strip_prefix("https://") {
            (true, rest)
        } else if url.contains("://") {
            return Err(bad());
        } else {
            (false, url)
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        // user:password@ is not supported; a port is optional.
        if authority.is_empty() || authority.contains('@') {
            return Err(bad());
        }
        let has_port = match authority.rsplit_once(':') {
            Some((host, port)) => {
                (host.ends_with(']') || !host.contains(':')) && port.parse::<u16>().is_ok()
            }
            None => false,
        };
        let addr = if has_port {
            authority.to_string()
        } else {
            format!("{authority}:{}", if https { 443 } else { 80 })
        };
        let path = if path.is_empty() { "/RPC2" } else { path };
        Ok(Target {
            https,
            addr,
            path: path.to_string(),
        })
    }
}

/// A connection to one XML-RPC server.
pub struct XmlRpcClient {
    url: String,
    target: Target,
    tls: Option<ClientTls>,
    timeout: Duration,
    /// Caps on answers (a big `keys()` can be large: 64 MiB by default).
    pub limits: Limits,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl XmlRpcClient {
    /// A client for `url`; connects on the first call. `https://` URLs use `tls`, or the
    /// system's trusted roots when it is `None`.
    pub fn new(url: &str, tls: Option<ClientTls>, timeout: Duration) -> Result<Self, CallError> {
        let target = Target::parse(url)?;
        let tls = match (target.https, tls) {
            (true, None) => Some(
                ClientTls::from_files(&ClientTlsFiles::default(), None)
                    .map_err(ClientError::from)?,
            ),
            (_, tls) => tls,
        };
        Ok(XmlRpcClient {
            url: url.to_string(),
            target,
            tls,
            timeout,
            limits: Limits {
                max_document_size: 64 << 20,
                ..Limits::default()
            },
            sender: None,
        })
    }

    async fn connect(&self) -> Result<SendRequest<Full<Bytes>>, CallError> {
        let stream = connect(&self.target.addr, self.tls.as_ref(), self.timeout).await?;
        let (sender, connection) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|source| self.http_error(source))?;
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "xmlrpc client connection ended");
            }
        });
        Ok(sender)
    }

    fn http_error(&self, source: hyper::Error) -> CallError {
        CallError::Http {
            url: self.url.clone(),
            source,
        }
    }

    /// Calls `method(*params)`: the answer, or [`CallError::Fault`] for a fault.
    pub async fn call(&mut self, method: &str, params: &[Value]) -> Result<Value, CallError> {
        let body = Bytes::from(encode_call(method, params));
        let timeout = self.timeout;
        match tokio::time::timeout(timeout, self.call_body(body)).await {
            Ok(result) => result,
            Err(_) => {
                self.sender = None;
                Err(CallError::Timeout {
                    url: self.url.clone(),
                    timeout,
                })
            }
        }
    }

    async fn call_body(&mut self, body: Bytes) -> Result<Value, CallError> {
        // A kept-alive connection the server has closed meanwhile fails before the request
        // is sent: then (and only then) try once more on a new one, like Python's client.
        let mut reused = true;
        let response = loop {
            let mut sender = match self.sender.take() {
                Some(sender) if !sender.is_closed() => sender,
                _ => {
                    reused = false;
                    self.connect().await?
                }
            };
            if sender.ready().await.is_err() && reused {
                reused = false;
                continue;
            }
            let request = Request::builder()
                .method(Method::POST)
                .uri(&self.target.path)
                .header(header::HOST, &self.target.addr)
                .header(
                    header::USER_AGENT,
                    concat!("netkit/", env!("CARGO_PKG_VERSION")),
                )
                .header(header::CONTENT_TYPE, "text/xml")
                .header(header::ACCEPT_ENCODING, "gzip")
                .header(header::CONTENT_LENGTH, body.len())
                .body(Full::new(body.clone()))
                .map_err(|e| CallError::BadUrl(format!("{}: {e}", self.url)))?;
            match sender.send_request(request).await {
                Ok(response) => {
                    self.sender = Some(sender);
                    break response;
                }
                Err(error) if reused && error.is_canceled() => {
                    reused = false;
                    continue;
                }
                Err(error) => return Err(self.http_error(error)),
            }
        };
        if response.status() != StatusCode::OK {
            return Err(CallError::Status {
                url: self.url.clone(),
                status: response.status(),
            });
        }
        let gzipped = response
            .headers()
            .get(header::CONTENT_ENCODING)
            .is_some_and(|v| v == HeaderValue::from_static("gzip"));
        let limit = self.limits.max_document_size;
        let too_large = || CallError::TooLarge {
            url: self.url.clone(),
            limit,
        };
        let body = match Limited::new(response.into_body(), limit).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(error) if error.is::<http_body_util::LengthLimitError>() => return Err(too_large()),
            Err(error) => {
                return Err(CallError::BadAnswer {
                    url: self.url.clone(),
                    reason: error.to_string(),
                })
            }
        };
        let document = if gzipped {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(&body[..])
                .take(limit as u64 + 1)
                .read_to_end(&mut out)
                .map_err(|e| CallError::BadAnswer {
                    url: self.url.clone(),
                    reason: format!("bad gzip: {e}"),
                })?;
            if out.len() > limit {
                return Err(too_large());
            }
            Bytes::from(out)
        } else {
            body
        };
        match parse_response(&document, &self.limits) {
            // Python's ServerProxy returns params[0] when there is one.
            Ok(Ok(params)) => Ok(if params.len() == 1 {
                params.into_iter().next().unwrap_or(Value::Nil)
            } else {
                Value::Array(params)
            }),
            Ok(Err(fault)) => Err(CallError::Fault(fault)),
            Err(source) => Err(CallError::Decode {
                url: self.url.clone(),
                source,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let t = Target::parse("http://localhost:15000").unwrap();
        assert_eq!(
            (t.https, t.addr.as_str(), t.path.as_str()),
            (false, "localhost:15000", "/RPC2")
        );
        let t = Target::parse("https://h/x/y").unwrap();
        assert_eq!(
            (t.https, t.addr.as_str(), t.path.as_str()),
            (true, "h:443", "/x/y")
        );
        let t = Target::parse("[::1]:9/").unwrap();
        assert_eq!((t.addr.as_str(), t.path.as_str()), ("[::1]:9", "/"));
        assert!(Target::parse("ftp://x").is_err());
        assert!(Target::parse("http://").is_err());
    }
}
