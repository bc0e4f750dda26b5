//! What every request goes through, in one place: the body cap (413), CORS (preflight
//! answers and headers on every reply, as httpbin and go-httpbin add them) and logging.

use super::{routes, shapes, Req, Response, State};
use http::header::{self, HeaderValue};
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
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
    let path = request.uri().path().to_string();
    let origin = request.headers().get(header::ORIGIN).cloned();
    let mut response = if method == Method::OPTIONS {
        preflight(request.headers())
    } else {
        match read(request, peer, scheme, state).await {
            Ok(req) => routes::route(req, state).await,
            Err(response) => response,
        }
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
        path,
        status = response.status().as_u16(),
        micros = started.elapsed().as_micros() as u64,
        "http request"
    );
    response
}

/// Reads the body under `--http-max-body`: a declared length over it is refused before
/// reading a byte, a chunked body as soon as it goes past.
async fn read(
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
    let body = match Limited::new(body, limit).collect().await {
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
