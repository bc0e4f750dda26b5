//! Dynamic data: /bytes, /stream-bytes, /stream, /range, /drip, /delay and /links. Every
//! size and duration a peer names is capped (`--http-max-bytes`, `--http-max-delay`).

use super::shapes::{self, multi, Echo, StreamLine};
use super::status::random_seed;
use super::{methods, Body, Req, Response, State};
use crate::proto::http::{parse_range, ByteRange, SplitMix64};
use bytes::Bytes;
use futures_util::StreamExt;
use http::{header, HeaderValue, StatusCode};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use std::time::Duration;

/// A body streamed chunk by chunk (sent chunked unless a Content-Length is set).
fn streamed(chunks: impl futures_util::Stream<Item = Bytes> + Send + 'static) -> Body {
    StreamBody::new(chunks.map(|b| Ok(Frame::data(b)))).boxed_unsync()
}

fn octets(status: StatusCode, body: Body) -> Response {
    let mut response = http::Response::new(body);
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    response
}

fn count(n: &str) -> Result<u64, Response> {
    n.parse::<u64>()
        .map_err(|_| shapes::bad_request(format!("{n:?} is not a number of bytes")))
}

fn seeded(req: &Req) -> Result<SplitMix64, Response> {
    match req.query("seed") {
        None => Ok(SplitMix64(random_seed())),
        Some(seed) => seed
            .parse::<i64>()
            .map(|s| SplitMix64(s as u64))
            .map_err(|_| shapes::bad_request("seed must be an integer")),
    }
}

/// `n` random bytes, at most `--http-max-bytes` (httpbin clamps rather than refuses).
pub fn bytes(req: &Req, n: &str, state: &State) -> Response {
    let (n, mut rng) = match (count(n), seeded(req)) {
        (Ok(n), Ok(rng)) => (n.min(state.options.max_bytes), rng),
        (Err(response), _) | (_, Err(response)) => return response,
    };
    let mut buf = vec![0u8; n as usize];
    rng.fill(&mut buf);
    shapes::bytes(StatusCode::OK, "application/octet-stream", buf)
}

pub fn stream_bytes(req: &Req, n: &str, state: &State) -> Response {
    let (n, mut rng) = match (count(n), seeded(req)) {
        (Ok(n), Ok(rng)) => (n.min(state.options.max_bytes) as usize, rng),
        (Err(response), _) | (_, Err(response)) => return response,
    };
    let chunk_size = match req.query("chunk_size").map(|c| c.parse::<usize>()) {
        None => 10 * 1024,
        Some(Ok(c)) if c > 0 => c,
        Some(_) => return shapes::bad_request("chunk_size must be a positive integer"),
    };
    let mut buf = vec![0u8; n];
    rng.fill(&mut buf);
    let data = Bytes::from(buf);
    let chunks: Vec<Bytes> = (0..n)
        .step_by(chunk_size)
        .map(|start| data.slice(start..(start + chunk_size).min(n)))
        .collect();
    octets(StatusCode::OK, streamed(futures_util::stream::iter(chunks)))
}

/// Python `json.dumps` separators (`", "` and `": "`), for /stream's lines.
struct PythonFormatter;

impl serde_json::ser::Formatter for PythonFormatter {
    fn begin_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        if first {
            Ok(())
        } else {
            writer.write_all(b", ")
        }
    }

    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        if first {
            Ok(())
        } else {
            writer.write_all(b", ")
        }
    }

    fn begin_object_value<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
    ) -> std::io::Result<()> {
        writer.write_all(b": ")
    }
}

/// `min(n, 100)` JSON lines, one request echo each, streamed.
pub fn stream(req: &Req, n: &str) -> Response {
    let n = match n.parse::<usize>() {
        Ok(n) => n.min(100),
        Err(_) => return shapes::bad_request(format!("{n:?} is not a number of lines")),
    };
    let (url, args, headers, origin) = (
        req.url(),
        multi(req.query_pairs()),
        shapes::headers(req),
        req.origin(),
    );
    let lines: Vec<Bytes> = (0..n)
        .map(|id| {
            let line = StreamLine {
                url: url.clone(),
                args: args.clone(),
                headers: headers.clone(),
                origin: origin.clone(),
                id,
            };
            let mut out = Vec::new();
            let mut serializer = serde_json::Serializer::with_formatter(&mut out, PythonFormatter);
            let _ = serde::Serialize::serialize(&line, &mut serializer);
            out.push(b'\n');
            Bytes::from(out)
        })
        .collect();
    let mut response = http::Response::new(streamed(futures_util::stream::iter(lines)));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// `n` bytes of `abc…z` repeated, honouring a `Range` header (206 / 416).
pub fn range(req: &Req, n: &str, state: &State) -> Response {
    let max = state.options.max_bytes;
    let n = match n.parse::<u64>() {
        Ok(n) if n > 0 && n <= max => n,
        _ => {
            return shapes::text(
                StatusCode::NOT_FOUND,
                format!("number of bytes must be in the range (0, {max}]\n"),
            )
        }
    };
    let byte = |i: u64| b'a' + (i % 26) as u8;
    let requested = req.header(header::RANGE).and_then(|r| parse_range(r, n));
    let mut response = match requested {
        None => octets(
            StatusCode::OK,
            shapes::full((0..n).map(byte).collect::<Vec<u8>>()),
        ),
        Some(ByteRange::Satisfiable { first, last }) => {
            let mut response = octets(
                StatusCode::PARTIAL_CONTENT,
                shapes::full((first..=last).map(byte).collect::<Vec<u8>>()),
            );
            shapes::set_header(
                &mut response,
                header::CONTENT_RANGE,
                &format!("bytes {first}-{last}/{n}"),
            );
            response
        }
        Some(ByteRange::Unsatisfiable) => {
            let mut response = octets(StatusCode::RANGE_NOT_SATISFIABLE, shapes::full(""));
            shapes::set_header(
                &mut response,
                header::CONTENT_RANGE,
                &format!("bytes */{n}"),
            );
            response
        }
    };
    shapes::set_header(&mut response, header::ETAG, &format!("range{n}"));
    response
        .headers_mut()
        .insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    response
}

fn float_param(req: &Req, key: &str, default: f64) -> Result<f64, Response> {
    match req.query(key) {
        None => Ok(default),
        Some(text) => match text.parse::<f64>() {
            Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
            _ => Err(shapes::bad_request(format!(
                "{key} must be a non-negative number"
            ))),
        },
    }
}

/// `numbytes` asterisks spread over `duration` seconds after `delay` seconds.
pub fn drip(req: &Req, state: &State) -> Response {
    let params = (|| {
        let duration = float_param(req, "duration", 2.0)?;
        let delay = float_param(req, "delay", 0.0)?;
        let numbytes = match req.query("numbytes").map(|n| n.parse::<u64>()) {
            None => 10,
            Some(Ok(n)) if (1..=super::MAX_DRIP_BYTES).contains(&n) => n,
            Some(_) => {
                return Err(shapes::bad_request(format!(
                    "numbytes must be between 1 and {}",
                    super::MAX_DRIP_BYTES
                )))
            }
        };
        let code = match req.query("code").map(|c| c.parse::<u16>()) {
            None => StatusCode::OK,
            Some(Ok(c)) => StatusCode::from_u16(c)
                .map_err(|_| shapes::bad_request("code must be an HTTP status code"))?,
            Some(Err(_)) => return Err(shapes::bad_request("code must be an HTTP status code")),
        };
        let max = state.options.max_delay.as_secs_f64();
        if duration + delay > max {
            return Err(shapes::bad_request(format!(
                "duration + delay must be at most {max} seconds"
            )));
        }
        Ok((duration, delay, numbytes, code))
    })();
    let (duration, delay, numbytes, code) = match params {
        Ok(p) => p,
        Err(response) => return response,
    };
    // One tick a byte, as httpbin, but never more than 1000 ticks: timers are not
    // precise below a millisecond and a tick a byte of 10 MiB would be a busy loop.
    let ticks = numbytes.min(1000);
    let interval = Duration::from_secs_f64(duration / ticks as f64);
    let initial = Duration::from_secs_f64(delay);
    let stream = futures_util::stream::unfold(0u64, move |tick| async move {
        if tick == ticks {
            return None;
        }
        if tick == 0 {
            tokio::time::sleep(initial).await;
        } else {
            tokio::time::sleep(interval).await;
        }
        let size = numbytes / ticks + u64::from(tick < numbytes % ticks);
        Some((Bytes::from(vec![b'*'; size as usize]), tick + 1))
    });
    let mut response = octets(code, streamed(stream));
    shapes::set_header(&mut response, header::CONTENT_LENGTH, &numbytes.to_string());
    response
}

/// Waits `min(n, --http-max-delay)` seconds, then echoes the request.
pub async fn delay(req: &Req, n: &str, state: &State) -> Response {
    let seconds = match n.parse::<f64>() {
        Ok(s) if s.is_finite() && s >= 0.0 => s.min(state.options.max_delay.as_secs_f64()),
        _ => return shapes::bad_request(format!("{n:?} is not a number of seconds")),
    };
    tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
    match methods::parse_body(req).await {
        Ok(body) => shapes::json(
            StatusCode::OK,
            &Echo {
                json: None,
                ..Echo::with_body(req, body)
            },
        ),
        Err(response) => response,
    }
}

/// A page of `n` (at most 200) links to the others, `offset` not a link.
pub fn links(n: &str, offset: &str) -> Response {
    let (Ok(n), Ok(offset)) = (n.parse::<usize>(), offset.parse::<usize>()) else {
        return shapes::bad_request("n and offset must be numbers");
    };
    let n = n.min(200);
    let mut html = String::from("<html><head><title>Links</title></head><body>");
    for i in 0..n {
        if i == offset {
            html.push_str(&format!("{i} "));
        } else {
            html.push_str(&format!("<a href='/links/{n}/{i}'>{i}</a> "));
        }
    }
    html.push_str("</body></html>");
    shapes::html(StatusCode::OK, html)
}

/// go-httpbin's /sse: `count` (default 10) `ping` events spread over `duration` seconds
/// (default 5) after `delay` seconds, within `--http-max-delay`.
pub fn sse(req: &Req, state: &State) -> Response {
    let params = (|| {
        let count = match req.query("count").map(|c| c.parse::<u64>()) {
            None => 10,
            Some(Ok(c)) if (1..=10_000).contains(&c) => c,
            Some(_) => return Err(shapes::bad_request("count must be between 1 and 10000")),
        };
        let duration = float_param(req, "duration", 5.0)?;
        let delay = float_param(req, "delay", 0.0)?;
        let max = state.options.max_delay.as_secs_f64();
        if duration + delay > max {
            return Err(shapes::bad_request(format!(
                "duration + delay must be at most {max} seconds"
            )));
        }
        Ok((count, duration, delay))
    })();
    let (count, duration, delay) = match params {
        Ok(p) => p,
        Err(response) => return response,
    };
    let interval = Duration::from_secs_f64(duration / count as f64);
    let initial = Duration::from_secs_f64(delay);
    let stream = futures_util::stream::unfold(0u64, move |id| async move {
        if id == count {
            return None;
        }
        tokio::time::sleep(if id == 0 { initial } else { interval }).await;
        let millis = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        let event =
            format!("event: ping\nid: {id}\ndata: {{\"id\":{id},\"timestamp\":{millis}}}\n\n");
        Some((Bytes::from(event), id + 1))
    });
    let mut response = http::Response::new(streamed(stream));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// go-httpbin's /trailers: a chunked echo whose query pairs come back as HTTP trailers.
pub fn trailers(req: &Req) -> Response {
    let mut trailers = http::HeaderMap::new();
    let mut names = Vec::new();
    for (name, value) in req.query_pairs() {
        match (
            header::HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            (Ok(n), Ok(v)) => {
                names.push(n.as_str().to_string());
                trailers.append(n, v);
            }
            _ => return shapes::bad_request(format!("not a legal trailer: {name:?}")),
        }
    }
    let body = Bytes::from(shapes::json_bytes(&Echo::get(req)));
    let frames = futures_util::stream::iter([Ok(Frame::data(body)), Ok(Frame::trailers(trailers))]);
    let mut response = http::Response::new(StreamBody::new(frames).boxed_unsync());
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if !names.is_empty() {
        shapes::set_header(&mut response, header::TRAILER, &names.join(", "));
    }
    response
}
