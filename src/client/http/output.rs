//! How `netkit http` shows an exchange: the request and response heads as text, and the
//! body as it came (piped) or, for people, JSON indented with sorted keys and colours.

use http::{HeaderMap, StatusCode, Version};
use std::fmt::Write as _;

/// What to print, httpie's `--print` letters: `H` request headers, `B` request body,
/// `h` response headers, `b` response body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PrintSpec {
    pub request_headers: bool,
    pub request_body: bool,
    pub response_headers: bool,
    pub response_body: bool,
}

impl PrintSpec {
    /// Parses `--print` letters; `None` for any other letter or an empty set.
    pub fn parse(letters: &str) -> Option<PrintSpec> {
        let mut spec = PrintSpec::default();
        for c in letters.chars() {
            match c {
                'H' => spec.request_headers = true,
                'B' => spec.request_body = true,
                'h' => spec.response_headers = true,
                'b' => spec.response_body = true,
                _ => return None,
            }
        }
        (spec != PrintSpec::default()).then_some(spec)
    }
}

/// How to render: pretty (indented JSON, notes instead of binary) and coloured for a
/// terminal, plain for a pipe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Render {
    pub pretty: bool,
    pub color: bool,
}

const RESET: &str = "\x1b[0m";
const BLUE: &str = "\x1b[34m";
const CYAN: &str = "\x1b[36m";
const GREEN: &str = "\x1b[32m";
const YELLOW: &str = "\x1b[33m";
const RED: &str = "\x1b[31m";
const MAGENTA: &str = "\x1b[35m";
const BOLD_BLUE: &str = "\x1b[1;34m";

fn paint(out: &mut String, color: bool, style: &str, text: &str) {
    if color {
        out.push_str(style);
        out.push_str(text);
        out.push_str(RESET);
    } else {
        out.push_str(text);
    }
}

/// `HTTP/1.1`, `HTTP/2`: as the versions are written on the wire and by httpie.
pub fn version_name(version: Version) -> &'static str {
    match version {
        Version::HTTP_09 => "HTTP/0.9",
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_2 => "HTTP/2",
        Version::HTTP_3 => "HTTP/3",
        _ => "HTTP/1.1",
    }
}

fn headers_text(out: &mut String, headers: &HeaderMap, color: bool) {
    for (name, value) in headers {
        paint(out, color, CYAN, &title_case(name.as_str()));
        out.push_str(": ");
        out.push_str(&String::from_utf8_lossy(value.as_bytes()));
        out.push('\n');
    }
}

/// `content-type` → `Content-Type`, as people (and httpie) write header names.
fn title_case(name: &str) -> String {
    // The few names whose usual spelling is not plain title case.
    match name {
        "www-authenticate" => return "WWW-Authenticate".into(),
        "etag" => return "ETag".into(),
        "te" => return "TE".into(),
        _ => {}
    }
    name.split('-')
        .map(|part| {
            let mut chars = part.chars();
            match chars.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// The request line and headers, e.g. `GET /get?a=1 HTTP/1.1`.
pub fn request_head(
    method: &str,
    target: &str,
    version: Version,
    headers: &HeaderMap,
    color: bool,
) -> String {
    let mut out = String::new();
    paint(&mut out, color, GREEN, method);
    out.push(' ');
    paint(&mut out, color, CYAN, target);
    out.push(' ');
    paint(&mut out, color, BLUE, version_name(version));
    out.push('\n');
    headers_text(&mut out, headers, color);
    out
}

/// The status line and headers, e.g. `HTTP/1.1 200 OK`.
pub fn response_head(
    version: Version,
    status: StatusCode,
    headers: &HeaderMap,
    color: bool,
) -> String {
    let mut out = String::new();
    paint(&mut out, color, BLUE, version_name(version));
    out.push(' ');
    let status_color = match status.as_u16() {
        200..=299 => GREEN,
        300..=399 => YELLOW,
        _ => RED,
    };
    let reason = status.canonical_reason().unwrap_or("");
    let line = format!("{} {reason}", status.as_u16());
    paint(&mut out, color, status_color, line.trim_end());
    out.push('\n');
    headers_text(&mut out, headers, color);
    out
}

/// The body for showing: as it is when not pretty; otherwise JSON indented, text as text,
/// and a note instead of binary data, which would garble a terminal.
pub fn body(bytes: &[u8], content_type: Option<&str>, render: Render) -> Vec<u8> {
    if !render.pretty {
        return bytes.to_vec();
    }
    let Ok(text) = std::str::from_utf8(bytes) else {
        return binary_note();
    };
    if text.contains('\0') {
        return binary_note();
    }
    let jsonish = content_type.is_some_and(|t| t.to_ascii_lowercase().contains("json"))
        || text.trim_start().starts_with(['{', '[']);
    if jsonish {
        if let Ok(value) = serde_json::from_str::<serde_json::Value>(text) {
            let mut out = String::new();
            json(&mut out, &value, 0, render.color);
            out.push('\n');
            return out.into_bytes();
        }
    }
    let mut out = text.to_string();
    if !out.ends_with('\n') && !out.is_empty() {
        out.push('\n');
    }
    out.into_bytes()
}

fn binary_note() -> Vec<u8> {
    b"+-----------------------------------------+\n| NOTE: binary data not shown in terminal |\n+-----------------------------------------+\n"
        .to_vec()
}

/// JSON indented by four spaces with keys sorted, as httpie shows it.
pub fn json(out: &mut String, value: &serde_json::Value, depth: usize, color: bool) {
    use serde_json::Value;
    let indent = |out: &mut String, depth: usize| {
        for _ in 0..depth {
            out.push_str("    ");
        }
    };
    match value {
        Value::Null => paint(out, color, MAGENTA, "null"),
        Value::Bool(b) => paint(out, color, MAGENTA, if *b { "true" } else { "false" }),
        Value::Number(n) => paint(out, color, CYAN, &n.to_string()),
        Value::String(s) => paint(out, color, YELLOW, &Value::String(s.clone()).to_string()),
        Value::Array(items) if items.is_empty() => out.push_str("[]"),
        Value::Object(map) if map.is_empty() => out.push_str("{}"),
        Value::Array(items) => {
            out.push_str("[\n");
            for (i, item) in items.iter().enumerate() {
                indent(out, depth + 1);
                json(out, item, depth + 1, color);
                out.push_str(if i + 1 < items.len() { ",\n" } else { "\n" });
            }
            indent(out, depth);
            out.push(']');
        }
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push_str("{\n");
            for (i, (key, item)) in entries.iter().enumerate() {
                indent(out, depth + 1);
                let key = Value::String((*key).clone()).to_string();
                paint(out, color, BOLD_BLUE, &key);
                out.push_str(": ");
                json(out, item, depth + 1, color);
                out.push_str(if i + 1 < entries.len() { ",\n" } else { "\n" });
            }
            indent(out, depth);
            out.push('}');
        }
    }
}

/// A one-line summary for a download, e.g. `Saved 1,000 bytes to "x".`
pub fn saved_line(bytes: u64, path: &std::path::Path) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "Saved {bytes} bytes to {:?}",
        path.display().to_string()
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn print_letters() {
        let spec = PrintSpec::parse("Hb").unwrap();
        assert!(spec.request_headers && spec.response_body);
        assert!(!spec.request_body && !spec.response_headers);
        assert_eq!(PrintSpec::parse("x"), None);
        assert_eq!(PrintSpec::parse(""), None);
    }

    #[test]
    fn heads() {
        let mut headers = HeaderMap::new();
        headers.insert("content-type", "application/json".parse().unwrap());
        headers.insert("www-authenticate", "Basic".parse().unwrap());
        assert_eq!(
            response_head(Version::HTTP_2, StatusCode::NOT_FOUND, &headers, false),
            "HTTP/2 404 Not Found\nContent-Type: application/json\nWWW-Authenticate: Basic\n"
        );
        assert_eq!(
            request_head(
                "GET",
                "/get?a=1",
                Version::HTTP_11,
                &HeaderMap::new(),
                false
            ),
            "GET /get?a=1 HTTP/1.1\n"
        );
    }

    #[test]
    fn bodies() {
        let plain = Render {
            pretty: false,
            color: false,
        };
        let pretty = Render {
            pretty: true,
            color: false,
        };
        assert_eq!(
            body(b"{\"b\":1,\"a\":[]}", None, plain),
            b"{\"b\":1,\"a\":[]}"
        );
        assert_eq!(
            String::from_utf8(body(
                b"{\"b\":1,\"a\":[true,\"x\"]}",
                Some("application/json"),
                pretty
            ))
            .unwrap(),
            "{\n    \"a\": [\n        true,\n        \"x\"\n    ],\n    \"b\": 1\n}\n"
        );
        assert_eq!(body(b"hi", Some("text/plain"), pretty), b"hi\n");
        assert_eq!(body(&[0xff, 0, 1], None, pretty), binary_note());
    }
}
