//! Every JSON reply of the HTTP service and the helpers that build responses. Field names
//! and order follow Python httpbin (Flask's `jsonify` sorts keys and indents by two): a
//! query or form key given once is a string, given more often a list.

use super::{Body, Req, Response};
use crate::proto::http::title_case;
use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::StatusCode;
use http_body_util::{BodyExt, Empty, Full};
use serde::Serialize;
use std::collections::BTreeMap;

/// A value given once, or the list of values given for a repeated key.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

/// Query args, form fields or files by name.
pub type Multi = BTreeMap<String, OneOrMany>;

/// Groups `pairs` by key the way httpbin's `semiflatten` does.
pub fn multi(pairs: impl IntoIterator<Item = (String, String)>) -> Multi {
    let mut out = Multi::new();
    for (key, value) in pairs {
        match out.get_mut(&key) {
            None => {
                out.insert(key, OneOrMany::One(value));
            }
            Some(OneOrMany::One(first)) => {
                let first = std::mem::take(first);
                out.insert(key, OneOrMany::Many(vec![first, value]));
            }
            Some(OneOrMany::Many(values)) => values.push(value),
        }
    }
    out
}

/// Headers that proxies in front of httpbin add; hidden unless `?show_env=1`.
const ENV_HEADERS: &[&str] = &[
    "x-varnish",
    "x-request-start",
    "x-heroku-queue-depth",
    "x-real-ip",
    "x-forwarded-proto",
    "x-forwarded-protocol",
    "x-forwarded-ssl",
    "x-heroku-queue-wait-time",
    "x-forwarded-for",
    "x-heroku-dynos-in-use",
    "x-forwarded-port",
    "x-request-id",
    "via",
    "total-route-time",
    "connect-time",
];

/// The request headers as httpbin shows them: title-cased names, repeated ones joined
/// by commas, `Host` even over HTTP/2.
pub fn headers(req: &Req) -> BTreeMap<String, String> {
    let show_env = req.query("show_env").is_some_and(|v| !v.is_empty());
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in &req.headers {
        if !show_env && ENV_HEADERS.contains(&name.as_str()) {
            continue;
        }
        let value = String::from_utf8_lossy(value.as_bytes());
        out.entry(title_case(name.as_str()))
            .and_modify(|v| {
                v.push(',');
                v.push_str(&value);
            })
            .or_insert_with(|| value.into_owned());
    }
    if !out.contains_key("Host") {
        let host = req.host();
        if !host.is_empty() {
            out.insert("Host".into(), host);
        }
    }
    out
}

/// httpbin's request echo (`get_dict`): each endpoint fills the fields it shows; the
/// fields are in the sorted order `jsonify` prints.
#[derive(Debug, Default, Serialize)]
pub struct Echo {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub args: Option<Multi>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub brotli: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deflated: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub files: Option<Multi>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub form: Option<Multi>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gzipped: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub headers: Option<BTreeMap<String, String>>,
    /// `Some(None)` prints `"json": null`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub json: Option<Option<serde_json::Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

impl Echo {
    /// /get, /cache, /etag: args, headers, origin, url.
    pub fn get(req: &Req) -> Echo {
        Echo {
            args: Some(multi(req.query_pairs())),
            headers: Some(headers(req)),
            origin: Some(req.origin()),
            url: Some(req.url()),
            ..Echo::default()
        }
    }

    /// /post, /put, /patch, /delete: the above plus data, files, form, json.
    pub fn with_body(req: &Req, body: ParsedBody) -> Echo {
        Echo {
            data: Some(body.data),
            files: Some(body.files),
            form: Some(body.form),
            json: Some(body.json),
            ..Echo::get(req)
        }
    }
}

/// A request body as httpbin reads it.
#[derive(Debug, Default)]
pub struct ParsedBody {
    pub data: String,
    pub files: Multi,
    pub form: Multi,
    pub json: Option<serde_json::Value>,
}

/// One line of /stream/{n}: httpbin's `get_dict('url', 'args', 'headers', 'origin')` plus
/// `id`, in that (insertion) order, as `json.dumps` writes it.
#[derive(Debug, Serialize)]
pub struct StreamLine {
    pub url: String,
    pub args: Multi,
    pub headers: BTreeMap<String, String>,
    pub origin: String,
    pub id: usize,
}

#[derive(Debug, Serialize)]
pub struct Headers {
    pub headers: BTreeMap<String, String>,
}

#[derive(Debug, Serialize)]
pub struct Origin {
    pub origin: String,
}

#[derive(Debug, Serialize)]
pub struct UserAgent {
    #[serde(rename = "user-agent")]
    pub user_agent: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Uuid {
    pub uuid: String,
}

#[derive(Debug, Serialize)]
pub struct Cookies {
    pub cookies: BTreeMap<String, String>,
}

#[derive(Debug, Serialize)]
pub struct Authenticated {
    pub authenticated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
}

/// /json: httpbin's sample document.
pub fn slideshow() -> serde_json::Value {
    serde_json::json!({
        "slideshow": {
            "author": "Yours Truly",
            "date": "date of publication",
            "slides": [
                {"title": "Wake up to WonderWidgets!", "type": "all"},
                {
                    "items": [
                        "Why <em>WonderWidgets</em> are great",
                        "Who <em>buys</em> WonderWidgets"
                    ],
                    "title": "Overview",
                    "type": "all"
                }
            ],
            "title": "Sample Slide Show"
        }
    })
}

/// Pretty JSON (two-space indent, trailing newline) as httpbin sends it.
pub fn json_bytes(value: &impl Serialize) -> Vec<u8> {
    // Sized for a typical echo up front: growing from serde_json's 128 bytes costs several
    // reallocations and copies per request.
    let mut out = Vec::with_capacity(1024);
    if serde_json::to_writer_pretty(&mut out, value).is_err() {
        out.clear();
        out.extend_from_slice(b"null");
    }
    out.push(b'\n');
    out
}

pub fn json(status: StatusCode, value: &impl Serialize) -> Response {
    bytes(status, "application/json", json_bytes(value))
}

pub fn bytes(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Response {
    let mut response = http::Response::new(full(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

pub fn text(status: StatusCode, body: impl Into<Bytes>) -> Response {
    bytes(status, "text/plain; charset=utf-8", body)
}

pub fn html(status: StatusCode, body: impl Into<Bytes>) -> Response {
    bytes(status, "text/html; charset=utf-8", body)
}

pub fn empty(status: StatusCode) -> Response {
    let mut response = http::Response::new(Empty::new().map_err(|e| match e {}).boxed_unsync());
    *response.status_mut() = status;
    response
}

pub fn full(body: impl Into<Bytes>) -> Body {
    Full::new(body.into())
        .map_err(|e| match e {})
        .boxed_unsync()
}

/// The recipe's 404 for every unknown path.
pub fn not_found() -> Response {
    bytes(StatusCode::NOT_FOUND, "text/plain", "Not Found")
}

pub fn bad_request(message: impl Into<String>) -> Response {
    let mut message = message.into();
    message.push('\n');
    text(StatusCode::BAD_REQUEST, message)
}

pub fn method_not_allowed(allowed: &[http::Method]) -> Response {
    let mut response = text(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed\n");
    let list: Vec<&str> = allowed.iter().map(|m| m.as_str()).collect();
    if let Ok(value) = HeaderValue::from_str(&list.join(", ")) {
        response.headers_mut().insert(header::ALLOW, value);
    }
    response
}

/// Sets a header whose value came from the peer; values that are not legal header text
/// are dropped rather than failing the request.
pub fn set_header(response: &mut Response, name: header::HeaderName, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        response.headers_mut().insert(name, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_keys_become_lists() {
        let m = multi([
            ("a".to_string(), "1".to_string()),
            ("b".to_string(), "2".to_string()),
            ("a".to_string(), "3".to_string()),
            ("a".to_string(), "4".to_string()),
        ]);
        assert_eq!(
            serde_json::to_string(&m).unwrap(),
            r#"{"a":["1","3","4"],"b":"2"}"#
        );
    }
}
