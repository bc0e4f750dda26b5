//! What every request goes through, in one place: the body cap (413), CORS (preflight
//! answers and headers on every reply, as httpbin and go-httpbin add them), response
//! compression by Accept-Encoding, and logging.

use super::{routes, shapes, Req, Response, State};
use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Body as _;
use hyper::body::Incoming;
use std::io::Write;
use std::net::SocketAddr;
use std::time::Instant;

const ALLOWED_METHODS: &str = "GET, POST, PUT, DELETE, PATCH, OPTIONS";

pub async fn handle(
    request: Request<Incoming>,
    peer: SocketAddr,
    scheme: &'static str,
    state: &State,
) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    // The path is copied only for the debug log, which is off unless asked for.
    let logged_path =
        tracing::enabled!(tracing::Level::DEBUG).then(|| request.uri().path().to_string());
    let origin = request.headers().get(header::ORIGIN).cloned();
    let accept_encoding = request.headers().get(header::ACCEPT_ENCODING).cloned();
    let compressible_path = !never_compressed(request.uri().path());
    let response = if method == Method::OPTIONS {
        preflight(request.headers())
    } else {
        routes::route(request, peer, scheme, state).await
    };
    let mut response = if compressible_path && method != Method::HEAD {
        compress(response, accept_encoding.as_ref()).await
    } else {
        response
    };
    let headers = response.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        origin.unwrap_or(HeaderValue::from_static("*")),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
        HeaderValue::from_static("true"),
    );
    tracing::debug!(
        %peer,
        %method,
        path = logged_path.as_deref().unwrap_or(""),
        status = response.status().as_u16(),
        micros = started.elapsed().as_micros() as u64,
        "http request"
    );
    response
}

/// Reads the body under `--http-max-body`: a declared length over it is refused before
/// reading a byte, a chunked body as soon as it goes past.
pub async fn read(
    request: Request<Incoming>,
    peer: SocketAddr,
    scheme: &'static str,
    state: &State,
) -> Result<Req, Response> {
    let max = state.options.max_body;
    let too_large = || {
        shapes::text(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("request body larger than {max} bytes\n"),
        )
    };
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max) {
        return Err(too_large());
    }
    let (mut parts, body) = request.into_parts();
    let upgrade = parts.extensions.remove::<hyper::upgrade::OnUpgrade>();
    let limit = usize::try_from(max).unwrap_or(usize::MAX);
    // Most requests (every GET) have no body: nothing to poll or collect.
    let body = if body.is_end_stream() {
        Bytes::new()
    } else {
        match Limited::new(body, limit).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(error) => {
                if error.is::<http_body_util::LengthLimitError>() {
                    return Err(too_large());
                }
                tracing::debug!(%peer, %error, "request body read failed");
                return Err(shapes::text(
                    StatusCode::BAD_REQUEST,
                    "cannot read request body\n",
                ));
            }
        }
    };
    let body = if state.options.decode_bodies {
        decode(&parts.headers, body, max).map_err(|problem| match problem {
            DecodeProblem::TooLarge => too_large(),
            DecodeProblem::Corrupt => shapes::bad_request("request body does not decode"),
        })?
    } else {
        body
    };
    Ok(Req {
        method: parts.method,
        uri: parts.uri,
        version: parts.version,
        headers: parts.headers,
        body,
        peer,
        scheme,
        upgrade,
    })
}

/// The request without reading its body, for a handler that streams it (/upload).
pub fn unread(
    request: Request<Incoming>,
    peer: SocketAddr,
    scheme: &'static str,
) -> (Req, Incoming) {
    let (mut parts, body) = request.into_parts();
    let upgrade = parts.extensions.remove::<hyper::upgrade::OnUpgrade>();
    let req = Req {
        method: parts.method,
        uri: parts.uri,
        version: parts.version,
        headers: parts.headers,
        body: Bytes::new(),
        peer,
        scheme,
        upgrade,
    };
    (req, body)
}

/// Smallest body worth compressing: below it the encoding's framing eats the gain.
pub const COMPRESS_MIN_BYTES: u64 = 1024;
/// Bodies larger than this are compressed on the blocking pool, off the I/O threads.
const COMPRESS_INLINE_MAX: usize = 256 * 1024;

/// Paths whose bodies are never compressed here: already encoded (/gzip, /deflate,
/// /brotli), exact bytes by contract (/range, /bytes, /stream-bytes), or paced and
/// streamed (/drip, /sse, /websocket).
fn never_compressed(path: &str) -> bool {
    let first = path.trim_start_matches('/').split('/').next().unwrap_or("");
    matches!(
        first,
        "gzip"
            | "deflate"
            | "brotli"
            | "range"
            | "bytes"
            | "stream-bytes"
            | "drip"
            | "sse"
            | "websocket"
    )
}

/// Text-like media types, the ones compression shrinks.
fn compressible_type(content_type: &HeaderValue) -> bool {
    let Ok(value) = content_type.to_str() else {
        return false;
    };
    let media = value.split(';').next().unwrap_or("").trim();
    let media = media.to_ascii_lowercase();
    media.starts_with("text/")
        || media.ends_with("+json")
        || media.ends_with("+xml")
        || matches!(
            media.as_str(),
            "application/json" | "application/xml" | "application/javascript"
        )
}

/// A content coding netkit can apply to a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    Br,
    Gzip,
    Deflate,
}

impl Coding {
    pub fn token(self) -> &'static str {
        match self {
            Coding::Br => "br",
            Coding::Gzip => "gzip",
            Coding::Deflate => "deflate",
        }
    }
}

/// The coding an Accept-Encoding value prefers: the highest q above zero among br, gzip
/// and deflate (`*` stands for any not named), ties going to br, then gzip; `q=0` refuses.
pub fn negotiate(accept_encoding: &str) -> Option<Coding> {
    const OURS: [Coding; 3] = [Coding::Br, Coding::Gzip, Coding::Deflate];
    let mut weights: [Option<f32>; 3] = [None; 3];
    let mut any = None;
    for item in accept_encoding.split(',') {
        let mut parts = item.split(';');
        let name = parts.next().unwrap_or("").trim();
        let mut q = 1.0f32;
        for param in parts {
            if let Some((key, value)) = param.split_once('=') {
                if key.trim().eq_ignore_ascii_case("q") {
                    // An unreadable weight is taken as a refusal, never as consent.
                    q = value.trim().parse().unwrap_or(0.0);
                }
            }
        }
        let slot = if name.eq_ignore_ascii_case("br") {
            Some(0)
        } else if name.eq_ignore_ascii_case("gzip") || name.eq_ignore_ascii_case("x-gzip") {
            Some(1)
        } else if name.eq_ignore_ascii_case("deflate") {
            Some(2)
        } else {
            if name == "*" {
                any = Some(q);
            }
            None
        };
        if let Some(slot) = slot {
            weights[slot] = Some(q);
        }
    }
    let mut best: Option<(Coding, f32)> = None;
    for (coding, weight) in OURS.into_iter().zip(weights) {
        let q = weight.or(any).unwrap_or(0.0);
        // NaN and q <= 0 never win.
        if q > 0.0 && best.is_none_or(|(_, top)| q > top) {
            best = Some((coding, q));
        }
    }
    best.map(|(coding, _)| coding)
}

/// `plain` in `coding`; None only if an encoder fails, which writing to memory does not.
pub fn encode(coding: Coding, plain: &[u8]) -> Option<Vec<u8>> {
    use flate2::write::{GzEncoder, ZlibEncoder};
    use flate2::Compression;
    let out = Vec::with_capacity(plain.len() / 3 + 64);
    match coding {
        Coding::Gzip => {
            let mut encoder = GzEncoder::new(out, Compression::default());
            encoder.write_all(plain).ok()?;
            encoder.finish().ok()
        }
        // HTTP's "deflate" is the zlib format (RFC 9110 8.4.1.2), as httpbin sends it.
        Coding::Deflate => {
            let mut encoder = ZlibEncoder::new(out, Compression::default());
            encoder.write_all(plain).ok()?;
            encoder.finish().ok()
        }
        Coding::Br => {
            let mut out = out;
            // Quality 4: most of brotli's gain at gzip-like speed (11 is for static files).
            let params = brotli::enc::BrotliEncoderParams {
                quality: 4,
                lgwin: 20,
                ..Default::default()
            };
            brotli::BrotliCompress(&mut &plain[..], &mut out, &params).ok()?;
            Some(out)
        }
    }
}

/// Compresses a whole text-like response of at least [`COMPRESS_MIN_BYTES`] in the coding
/// the client prefers, with `Vary: Accept-Encoding` on every response that could have
/// been. Streamed bodies (no exact length), 204/304 and responses that already carry a
/// Content-Encoding go out as they are.
async fn compress(response: Response, accept_encoding: Option<&HeaderValue>) -> Response {
    let status = response.status();
    if status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
        || status.is_informational()
    {
        return response;
    }
    let headers = response.headers();
    if headers.contains_key(header::CONTENT_ENCODING)
        || !headers
            .get(header::CONTENT_TYPE)
            .is_some_and(compressible_type)
    {
        return response;
    }
    if response
        .body()
        .size_hint()
        .exact()
        .is_none_or(|len| len < COMPRESS_MIN_BYTES)
    {
        return response;
    }
    let mut response = response;
    // A handler that negotiated itself (the landing page, the spec) has said so already.
    let varies = response
        .headers()
        .get_all(header::VARY)
        .iter()
        .any(|v| v.as_bytes().eq_ignore_ascii_case(b"accept-encoding"));
    if !varies {
        response
            .headers_mut()
            .append(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    let Some(coding) = accept_encoding
        .and_then(|v| v.to_str().ok())
        .and_then(negotiate)
    else {
        return response;
    };
    let (mut parts, body) = response.into_parts();
    let plain = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(never) => match never {},
    };
    let (plain, encoded) = if plain.len() > COMPRESS_INLINE_MAX {
        let job = tokio::task::spawn_blocking(move || {
            let encoded = encode(coding, &plain);
            (plain, encoded)
        });
        match job.await {
            Ok(done) => done,
            // The blocking pool is gone only while the runtime shuts down.
            Err(_) => return shapes::text(StatusCode::SERVICE_UNAVAILABLE, "shutting down\n"),
        }
    } else {
        let encoded = encode(coding, &plain);
        (plain, encoded)
    };
    let Some(encoded) = encoded else {
        return Response::from_parts(parts, shapes::full(plain));
    };
    parts.headers.insert(
        header::CONTENT_ENCODING,
        HeaderValue::from_static(coding.token()),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    weaken_etag(&mut parts.headers);
    Response::from_parts(parts, shapes::full(encoded))
}

/// A strong ETag promises byte-identical representations, which the encoded body no
/// longer is (RFC 9110 §8.8.1): mark it weak, as nginx does. Conditional requests
/// still match, since If-None-Match compares weakly.
fn weaken_etag(headers: &mut http::HeaderMap) {
    let Some(tag) = headers.get(header::ETAG) else {
        return;
    };
    if tag.as_bytes().starts_with(b"W/") {
        return;
    }
    let mut weak = b"W/".to_vec();
    weak.extend_from_slice(tag.as_bytes());
    if let Ok(weak) = HeaderValue::from_bytes(&weak) {
        headers.insert(header::ETAG, weak);
    }
}

/// Any OPTIONS request: 200 with what a CORS preflight needs.
fn preflight(request_headers: &http::HeaderMap) -> Response {
    let mut response = shapes::empty(StatusCode::OK);
    let headers = response.headers_mut();
    headers.insert(header::ALLOW, HeaderValue::from_static(ALLOWED_METHODS));
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static(ALLOWED_METHODS),
    );
    headers.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("3600"),
    );
    if let Some(asked) = request_headers.get(header::ACCESS_CONTROL_REQUEST_HEADERS) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, asked.clone());
    }
    response
}

enum DecodeProblem {
    TooLarge,
    Corrupt,
}

/// A gzip or deflate (zlib, or raw as some clients send) request body, decoded; at most
/// `max` bytes come out, so a small compressed bomb cannot fill memory.
fn decode(
    headers: &http::HeaderMap,
    body: bytes::Bytes,
    max: u64,
) -> Result<bytes::Bytes, DecodeProblem> {
    use std::io::Read;
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_ascii_lowercase());
    let mut out = Vec::new();
    let read = |reader: &mut dyn Read, out: &mut Vec<u8>| {
        reader
            .take(max.saturating_add(1))
            .read_to_end(out)
            .map_err(|_| DecodeProblem::Corrupt)
    };
    match encoding.as_deref() {
        Some("gzip" | "x-gzip") => {
            read(&mut flate2::read::MultiGzDecoder::new(&body[..]), &mut out)?;
        }
        Some("deflate") => {
            if read(&mut flate2::read::ZlibDecoder::new(&body[..]), &mut out).is_err() {
                out.clear();
                read(&mut flate2::read::DeflateDecoder::new(&body[..]), &mut out)?;
            }
        }
        _ => return Ok(body),
    };
    if out.len() as u64 > max {
        return Err(DecodeProblem::TooLarge);
    }
    Ok(out.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_encoding_negotiation() {
        assert_eq!(negotiate("gzip"), Some(Coding::Gzip));
        assert_eq!(negotiate("gzip, deflate, br"), Some(Coding::Br));
        assert_eq!(negotiate("gzip;q=1.0, br;q=0.5"), Some(Coding::Gzip));
        assert_eq!(negotiate("br;q=0, gzip;q=0"), None);
        assert_eq!(negotiate("br;q=0, *"), Some(Coding::Gzip));
        assert_eq!(negotiate("*;q=0"), None);
        assert_eq!(negotiate("identity"), None);
        assert_eq!(negotiate("DEFLATE;Q=0.3"), Some(Coding::Deflate));
        assert_eq!(negotiate("gzip;q=nonsense"), None);
        assert_eq!(negotiate(""), None);
    }

    #[test]
    fn what_is_compressible() {
        let ct = HeaderValue::from_static;
        assert!(compressible_type(&ct("application/json")));
        assert!(compressible_type(&ct("text/html; charset=utf-8")));
        assert!(compressible_type(&ct("image/svg+xml")));
        assert!(!compressible_type(&ct("image/png")));
        assert!(!compressible_type(&ct("application/octet-stream")));
        assert!(never_compressed("/gzip"));
        assert!(never_compressed("/range/1024"));
        assert!(never_compressed("/websocket/echo"));
        assert!(!never_compressed("/html"));
        assert!(!never_compressed("/get"));
    }

    #[tokio::test]
    async fn a_compressed_reply_carries_a_weak_etag() {
        let mut response = http::Response::new(shapes::full("x".repeat(2048)));
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        headers.insert(header::ETAG, HeaderValue::from_static("\"abc\""));
        let gzip = HeaderValue::from_static("gzip");
        let compressed = compress(response, Some(&gzip)).await;
        assert_eq!(compressed.headers()[header::CONTENT_ENCODING], "gzip");
        assert_eq!(compressed.headers()[header::ETAG], "W/\"abc\"");

        let mut headers = http::HeaderMap::new();
        headers.insert(header::ETAG, HeaderValue::from_static("W/\"abc\""));
        weaken_etag(&mut headers);
        assert_eq!(headers[header::ETAG], "W/\"abc\"");
    }

    #[test]
    fn every_coding_round_trips() {
        use std::io::Read;
        let plain = "netkit ".repeat(500);
        let gz = encode(Coding::Gzip, plain.as_bytes()).unwrap();
        let mut out = String::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(out, plain);
        let zlib = encode(Coding::Deflate, plain.as_bytes()).unwrap();
        out.clear();
        flate2::read::ZlibDecoder::new(&zlib[..])
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(out, plain);
        let br = encode(Coding::Br, plain.as_bytes()).unwrap();
        out.clear();
        brotli::Decompressor::new(&br[..], 4096)
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(out, plain);
    }
}
