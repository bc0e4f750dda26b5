//! go-httpbin's own endpoints, with its shapes: /upload, /base64/encode|decode/{data},
//! /jsonl, /hostname, /env and /version. Its errors are its JSON
//! `{"status_code", "error", "detail"}`, and its echoes give every query value and header
//! as a list.

use super::shapes;
use super::{Req, Response, State};
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use base64::Engine;
use bytes::Bytes;
use http::StatusCode;
use http_body_util::BodyExt;
use hyper::body::{Frame, Incoming};
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// go-httpbin's error document.
#[derive(Debug, Serialize)]
struct GoError<'a> {
    status_code: u16,
    error: &'a str,
    detail: String,
}

fn error(status: StatusCode, detail: impl Into<String>) -> Response {
    let body = GoError {
        status_code: status.as_u16(),
        error: status.canonical_reason().unwrap_or(""),
        detail: detail.into(),
    };
    shapes::json(status, &body)
}

type Lists = BTreeMap<String, Vec<String>>;

/// Query values by key, every one a list (Go's `url.Values`).
fn args(req: &Req) -> Lists {
    let mut out = Lists::new();
    for (key, value) in req.query_pairs() {
        out.entry(key).or_default().push(value);
    }
    out
}

/// Request headers by canonical name, every one a list (Go's `http.Header`).
fn headers(req: &Req) -> Lists {
    let mut out = Lists::new();
    for (name, value) in &req.headers {
        out.entry(crate::proto::http::title_case(name.as_str()))
            .or_default()
            .push(String::from_utf8_lossy(value.as_bytes()).into_owned());
    }
    if !out.contains_key("Host") {
        let host = req.host();
        if !host.is_empty() {
            out.insert("Host".into(), vec![host]);
        }
    }
    out
}

/// What /upload says came: go-httpbin's `discardedBodyResponse`.
#[derive(Debug, Serialize)]
struct Upload {
    args: Lists,
    headers: Lists,
    method: String,
    origin: String,
    url: String,
    bytes_received: u64,
}

/// POST/PUT/PATCH /upload: the body is read as it comes and dropped, only counted, so
/// an upload of any size runs in flat memory; the answer says what came.
pub async fn upload(req: Req, mut body: Incoming, _state: &State) -> Response {
    let mut received: u64 = 0;
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(frame) => {
                if let Some(data) = frame.data_ref() {
                    received += data.len() as u64;
                }
            }
            Err(problem) => {
                tracing::debug!(peer = %req.peer, %problem, "upload body read failed");
                return error(StatusCode::BAD_REQUEST, "cannot read request body");
            }
        }
    }
    let answer = Upload {
        args: args(&req),
        headers: headers(&req),
        method: req.method.to_string(),
        origin: req.origin(),
        url: req.url(),
        bytes_received: received,
    };
    shapes::json(StatusCode::OK, &answer)
}

/// go-httpbin's /base64/encode/{data}: URL-safe base64, padded.
pub fn base64_encode(data: &str) -> Response {
    let data = super::cookies::percent_decode(data);
    shapes::text(StatusCode::OK, URL_SAFE.encode(data.as_bytes()))
}

/// go-httpbin's /base64/decode/{data}: URL-safe base64, else standard; 400 if neither.
pub fn base64_decode(data: &str) -> Response {
    let data = super::cookies::percent_decode(data);
    match URL_SAFE.decode(&data).or_else(|_| STANDARD.decode(&data)) {
        Ok(bytes) => shapes::text(StatusCode::OK, bytes),
        Err(e) => error(StatusCode::BAD_REQUEST, format!("decode failed: {e}")),
    }
}

/// One line of /jsonl: go-httpbin's `streamResponse`.
#[derive(Debug, Serialize)]
struct JsonLine {
    id: u64,
    args: Lists,
    headers: Lists,
    origin: String,
    url: String,
}

/// go-httpbin's durations: a Go duration (`1.5s`, `300ms`) or a number of seconds.
fn seconds(text: &str) -> Option<f64> {
    let value = if let Some(ms) = text.strip_suffix("ms") {
        ms.parse::<f64>().ok()? / 1000.0
    } else if let Some(s) = text.strip_suffix('s') {
        s.parse::<f64>().ok()?
    } else {
        text.parse::<f64>().ok()?
    };
    (value.is_finite() && value >= 0.0).then_some(value)
}

/// /jsonl: `count` (default 10) JSON lines spread over `duration` seconds after `delay`,
/// both within `--http-max-delay`; at most as many lines as fit in `--http-max-body`.
pub fn jsonl(req: &Req, state: &State) -> Response {
    let max = state.options.max_delay.as_secs_f64();
    let time = |name: &str| -> Result<f64, Response> {
        match req.query(name) {
            None => Ok(0.0),
            Some(text) => match seconds(&text) {
                Some(s) if s <= max => Ok(s),
                _ => Err(error(
                    StatusCode::BAD_REQUEST,
                    format!("invalid {name}: must be 0 to {max} seconds"),
                )),
            },
        }
    };
    let (duration, delay) = match (time("duration"), time("delay")) {
        (Ok(duration), Ok(delay)) => (duration, delay),
        (Err(response), _) | (_, Err(response)) => return response,
    };
    if duration + delay > max {
        return error(StatusCode::BAD_REQUEST, "Too much time");
    }
    let mut line = JsonLine {
        id: 0,
        args: args(req),
        headers: headers(req),
        origin: req.origin(),
        url: req.url(),
    };
    let first = match serde_json::to_vec(&line) {
        Ok(first) => first,
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    let most = (state.options.max_body / (first.len() as u64 + 1)).max(1);
    let count = match req.query("count").map(|c| c.parse::<i64>()) {
        None => 10.min(most),
        Some(Ok(c)) => (c.max(1) as u64).min(most),
        Some(Err(e)) => return error(StatusCode::BAD_REQUEST, format!("invalid count: {e}")),
    };
    let pause = if count > 1 {
        Duration::from_secs_f64(duration / (count - 1) as f64)
    } else {
        Duration::from_secs_f64(duration)
    };
    let delay = Duration::from_secs_f64(delay);
    let lines = futures_util::stream::unfold(0u64, move |id| {
        // Each line differs from the first only in its id.
        line.id = id;
        let text = serde_json::to_vec(&line);
        async move {
            if id == count {
                return None;
            }
            tokio::time::sleep(if id == 0 { delay } else { pause }).await;
            let mut text = text.unwrap_or_default();
            text.push(b'\n');
            Some((Ok(Frame::data(Bytes::from(text))), id + 1))
        }
    });
    let mut response = http::Response::new(http_body_util::StreamBody::new(lines).boxed_unsync());
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/x-ndjson; charset=utf-8"),
    );
    response
}

/// The machine's host name, for `--http-real-hostname` (Linux keeps it in /proc).
pub fn real_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_string())
        .ok()
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

#[derive(Debug, Serialize)]
struct Hostname<'a> {
    hostname: &'a str,
}

pub fn hostname(state: &State) -> Response {
    shapes::json(
        StatusCode::OK,
        &Hostname {
            hostname: &state.hostname,
        },
    )
}

/// The variables whose names start with `prefix` (none without one).
pub fn env_with_prefix(prefix: Option<&str>) -> BTreeMap<String, String> {
    let Some(prefix) = prefix.filter(|p| !p.is_empty()) else {
        return BTreeMap::new();
    };
    std::env::vars_os()
        .filter_map(|(name, value)| Some((name.into_string().ok()?, value.into_string().ok()?)))
        .filter(|(name, _)| name.starts_with(prefix))
        .collect()
}

#[derive(Debug, Serialize)]
struct Env<'a> {
    env: &'a BTreeMap<String, String>,
}

pub fn env(state: &State) -> Response {
    shapes::json(StatusCode::OK, &Env { env: &state.env })
}

#[derive(Debug, Serialize)]
struct Version {
    service: &'static str,
    version: &'static str,
}

pub fn version() -> Response {
    shapes::json(
        StatusCode::OK,
        &Version {
            service: "netkit",
            version: env!("CARGO_PKG_VERSION"),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(seconds("1.5"), Some(1.5));
        assert_eq!(seconds("2s"), Some(2.0));
        assert_eq!(seconds("250ms"), Some(0.25));
        assert_eq!(seconds("-1"), None);
        assert_eq!(seconds("NaN"), None);
        assert_eq!(seconds("soon"), None);
    }

    #[test]
    fn env_needs_a_prefix() {
        assert!(env_with_prefix(None).is_empty());
        assert!(env_with_prefix(Some("")).is_empty());
        std::env::set_var("NETKIT_GOBIN_TEST_X", "1");
        let env = env_with_prefix(Some("NETKIT_GOBIN_TEST_"));
        assert_eq!(
            env.get("NETKIT_GOBIN_TEST_X").map(String::as_str),
            Some("1")
        );
        assert!(env.keys().all(|k| k.starts_with("NETKIT_GOBIN_TEST_")));
    }
}
