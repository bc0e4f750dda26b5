//! One HTTP exchange on a fresh connection: TCP or TLS (with ALPN) through
//! [`crate::client::connect`], then hyper's HTTP/1.1 or HTTP/2 client on top.

use super::body::WireBody;
use super::HttpError;
use crate::client::{connect, ClientTls};
use crate::tls::{self, ClientTlsFiles};
use hyper::body::Incoming;
use hyper::client::conn::{http1, http2};
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// TLS choices of `--verify`, `--cacert`, `--cert/--key` and `--http2`.
#[derive(Debug, Clone, Default)]
pub struct TlsOptions {
    /// `--verify no`: accept any certificate.
    pub insecure: bool,
    pub files: ClientTlsFiles,
}

/// Builds the rustls config for https:// URLs: ALPN offers h2 only when asked.
pub fn client_tls(options: &TlsOptions, http2: bool) -> Result<ClientTls, HttpError> {
    let mut config = if options.insecure {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| HttpError::Tls(tls::TlsError::Rustls(e)))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)));
        match (&options.files.cert, &options.files.key) {
            (Some(cert), Some(key)) => builder
                .with_client_auth_cert(tls::load_certs(cert)?, tls::load_key(key)?)
                .map_err(|source| {
                    HttpError::Tls(tls::TlsError::Identity {
                        cert: cert.clone(),
                        key: key.clone(),
                        source,
                    })
                })?,
            _ => builder.with_no_client_auth(),
        }
    } else {
        (*tls::client_config(&options.files)?).clone()
    };
    config.alpn_protocols = if http2 {
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    } else {
        vec![b"http/1.1".to_vec()]
    };
    Ok(ClientTls {
        config: Arc::new(config),
        server_name: None,
    })
}

/// `--verify no`: the certificate is not checked, but the handshake signatures still
/// are, so the connection is at least encrypted to whoever answered.
#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// A request sent and the head of its answer; the body is read by the caller.
pub struct Exchange {
    pub version: http::Version,
    /// The request headers as sent (with Host for HTTP/1.1), for `-v`.
    pub request_headers: http::HeaderMap,
    pub response: Response<Incoming>,
}

/// Connects to `addr` and sends `request`: HTTP/2 when TLS negotiated h2, or with
/// `h2c` (prior knowledge) over plain TCP; HTTP/1.1 otherwise. Waits at most `timeout`
/// for the connection, and for the response head at most `timeout` after the body last
/// moved: `uploaded` counts the body's bytes as they go, so a long upload that keeps
/// flowing is not cut off.
pub async fn send(
    addr: &str,
    authority: &str,
    tls: Option<&ClientTls>,
    h2c: bool,
    mut request: Request<WireBody>,
    timeout: Duration,
    uploaded: &AtomicU64,
) -> Result<Exchange, HttpError> {
    let stream = connect(addr, tls, timeout).await?;
    let negotiated_h2 = match &stream {
        tokio_util::either::Either::Right(tls) => tls.get_ref().1.alpn_protocol() == Some(b"h2"),
        tokio_util::either::Either::Left(_) => h2c,
    };
    let io = TokioIo::new(stream);
    // h2 carries the authority in :authority; HTTP/1.1 needs a Host header.
    if negotiated_h2 {
        request.headers_mut().remove(http::header::HOST);
    } else if !request.headers().contains_key(http::header::HOST) {
        let host = http::HeaderValue::from_str(authority).map_err(|_| HttpError::BadUrl {
            url: request.uri().to_string(),
            reason: "not a valid host".into(),
        })?;
        request.headers_mut().insert(http::header::HOST, host);
    }
    let request_headers = request.headers().clone();
    let url = request.uri().to_string();
    let http_error = |source| HttpError::Http {
        url: url.clone(),
        source,
    };
    let pending = async {
        if negotiated_h2 {
            *request.version_mut() = http::Version::HTTP_2;
            let (mut sender, connection) = http2::handshake(TokioExecutor::new(), io)
                .await
                .map_err(http_error)?;
            tokio::spawn(async move {
                if let Err(error) = connection.await {
                    tracing::debug!(%error, "http client h2 connection ended");
                }
            });
            sender.send_request(request).await.map_err(http_error)
        } else {
            // HTTP/1.1 wants the origin form (`/path?query`) on the request line.
            let origin_form = request
                .uri()
                .path_and_query()
                .map(|p| p.as_str().to_string())
                .unwrap_or_else(|| "/".to_string());
            *request.uri_mut() = origin_form.parse().map_err(|_| HttpError::BadUrl {
                url: url.clone(),
                reason: "not a valid request target".into(),
            })?;
            let (mut sender, connection) = http1::handshake(io).await.map_err(http_error)?;
            tokio::spawn(async move {
                if let Err(error) = connection.await {
                    tracing::debug!(%error, "http client connection ended");
                }
            });
            sender.send_request(request).await.map_err(http_error)
        }
    };
    let mut pending = std::pin::pin!(pending);
    let mut seen = uploaded.load(Ordering::Relaxed);
    let response = loop {
        match tokio::time::timeout(timeout, &mut pending).await {
            Ok(response) => break response?,
            Err(_) => {
                let now = uploaded.load(Ordering::Relaxed);
                if now == seen {
                    return Err(HttpError::Timeout {
                        url: url.clone(),
                        timeout,
                    });
                }
                seen = now;
            }
        }
    };
    Ok(Exchange {
        version: response.version(),
        request_headers,
        response,
    })
}
