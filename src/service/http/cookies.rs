//! /cookies, /cookies/set, /cookies/set/{name}/{value} and /cookies/delete. Names and
//! values from the peer must be legal cookie text: anything else would let a link inject
//! attributes (`; Domain=…`) into the Set-Cookie header.

use super::shapes::{self, Cookies};
use super::{Req, Response};
use crate::proto::http::{is_cookie_name, is_cookie_value, parse_cookies};
use http::{header, HeaderValue, StatusCode};
use std::collections::BTreeMap;

pub fn list(req: &Req) -> Response {
    let mut cookies = BTreeMap::new();
    for value in req.headers.get_all(header::COOKIE) {
        if let Ok(text) = value.to_str() {
            cookies.extend(parse_cookies(text));
        }
    }
    shapes::json(StatusCode::OK, &Cookies { cookies })
}

fn to_cookies(set_cookies: Vec<String>) -> Response {
    let mut response = shapes::html(StatusCode::FOUND, "");
    let headers = response.headers_mut();
    headers.insert(header::LOCATION, HeaderValue::from_static("/cookies"));
    for cookie in set_cookies {
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            headers.append(header::SET_COOKIE, value);
        }
    }
    response
}

/// A value as RFC 6265 lets it be sent: cookie-octets, or cookie-octets in double quotes
/// (which is how `/cookies/set?foo="bar:baz"` must go out for a client to read back
/// `"bar:baz"`, as from httpbin).
fn sendable_value(value: &str) -> bool {
    let inner = value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(value);
    is_cookie_value(inner)
}

fn checked(pairs: Vec<(String, String)>) -> Result<Vec<(String, String)>, Response> {
    for (name, value) in &pairs {
        if !is_cookie_name(name) || !sendable_value(value) {
            return Err(shapes::bad_request(format!(
                "not a legal cookie: {name:?}={value:?}"
            )));
        }
    }
    Ok(pairs)
}

pub fn set_from_query(req: &Req) -> Response {
    match checked(req.query_pairs()) {
        Ok(pairs) => to_cookies(
            pairs
                .into_iter()
                .map(|(name, value)| format!("{name}={value}; Path=/"))
                .collect(),
        ),
        Err(response) => response,
    }
}

pub fn set_one(name: &str, value: &str) -> Response {
    match checked(vec![(percent_decode(name), percent_decode(value))]) {
        Ok(pairs) => to_cookies(
            pairs
                .into_iter()
                .map(|(name, value)| format!("{name}={value}; Path=/"))
                .collect(),
        ),
        Err(response) => response,
    }
}

pub fn delete(req: &Req) -> Response {
    let names: Vec<(String, String)> = req
        .query_pairs()
        .into_iter()
        .map(|(name, _)| (name, String::new()))
        .collect();
    match checked(names) {
        Ok(names) => to_cookies(
            names
                .into_iter()
                .map(|(name, _)| {
                    format!("{name}=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/")
                })
                .collect(),
        ),
        Err(response) => response,
    }
}

/// A path segment, percent-decoded (invalid UTF-8 replaced).
pub fn percent_decode(segment: &str) -> String {
    percent_encoding::percent_decode_str(segment)
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::sendable_value;

    #[test]
    fn quoted_values_go_out_as_given() {
        assert!(sendable_value("plain"));
        assert!(sendable_value("\"bar:baz\""));
        assert!(sendable_value("\"\""));
        assert!(!sendable_value("\""));
        assert!(!sendable_value("\"a\"b\""));
        assert!(!sendable_value("a;Domain=evil"));
    }
}
