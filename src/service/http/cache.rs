//! Caching: /cache, /cache/{n}, /etag/{etag} and /response-headers.

use super::shapes::{self, Echo, OneOrMany};
use super::{Req, Response};
use http::header::{self, HeaderName, HeaderValue};
use http::StatusCode;
use std::collections::BTreeMap;

/// 304 when the request is conditional, else the echo with Last-Modified and ETag.
pub fn cache(req: &Req) -> Response {
    if req.headers.contains_key(header::IF_MODIFIED_SINCE)
        || req.headers.contains_key(header::IF_NONE_MATCH)
    {
        return shapes::empty(StatusCode::NOT_MODIFIED);
    }
    let mut response = shapes::json(StatusCode::OK, &Echo::get(req));
    shapes::set_header(
        &mut response,
        header::LAST_MODIFIED,
        &httpdate::fmt_http_date(std::time::SystemTime::now()),
    );
    shapes::set_header(
        &mut response,
        header::ETAG,
        &uuid::Uuid::new_v4().simple().to_string(),
    );
    response
}

pub fn cache_for(req: &Req, n: &str) -> Response {
    let Ok(seconds) = n.parse::<u64>() else {
        return shapes::bad_request(format!("{n:?} is not a number of seconds"));
    };
    let mut response = shapes::json(StatusCode::OK, &Echo::get(req));
    shapes::set_header(
        &mut response,
        header::CACHE_CONTROL,
        &format!("public, max-age={seconds}"),
    );
    response
}

/// Whether an If-Match / If-None-Match list names `etag` (or is `*`).
fn matches(list: &str, etag: &str) -> bool {
    list.split(',').map(str::trim).any(|tag| {
        let tag = tag.strip_prefix("W/").unwrap_or(tag);
        tag == "*" || tag.trim_matches('"') == etag
    })
}

pub fn etag(req: &Req, etag: &str) -> Response {
    let quoted = format!("\"{etag}\"");
    if let Some(list) = req.header(header::IF_NONE_MATCH) {
        if matches(list, etag) {
            let mut response = shapes::empty(StatusCode::NOT_MODIFIED);
            shapes::set_header(&mut response, header::ETAG, &quoted);
            return response;
        }
    } else if let Some(list) = req.header(header::IF_MATCH) {
        if !matches(list, etag) {
            return shapes::empty(StatusCode::PRECONDITION_FAILED);
        }
    }
    let mut response = shapes::json(StatusCode::OK, &Echo::get(req));
    shapes::set_header(&mut response, header::ETAG, &quoted);
    response
}

/// Sets every query pair as a response header and shows them, with the reply's own
/// Content-Type and Content-Length, in the body (which is why httpbin iterates until the
/// length it reports is the length it sends).
pub fn response_headers(req: &Req) -> Response {
    let mut extra = Vec::new();
    for (name, value) in req.query_pairs() {
        match (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            (Ok(n), Ok(v)) => extra.push((name, n, value, v)),
            _ => return shapes::bad_request(format!("not a legal header: {name:?}: {value:?}")),
        }
    }
    let mut shown: BTreeMap<String, OneOrMany> = BTreeMap::new();
    for (name, _, value, _) in &extra {
        let pairs = shown.remove(name);
        let merged = match pairs {
            None => OneOrMany::One(value.clone()),
            Some(OneOrMany::One(first)) => OneOrMany::Many(vec![first, value.clone()]),
            Some(OneOrMany::Many(mut all)) => {
                all.push(value.clone());
                OneOrMany::Many(all)
            }
        };
        shown.insert(name.clone(), merged);
    }
    shown.insert(
        "Content-Type".into(),
        OneOrMany::One("application/json".into()),
    );
    let mut body = Vec::new();
    for _ in 0..8 {
        shown.insert(
            "Content-Length".into(),
            OneOrMany::One(body.len().to_string()),
        );
        let next = shapes::json_bytes(&shown);
        if next.len() == body.len() {
            body = next;
            break;
        }
        body = next;
    }
    let mut response = shapes::bytes(StatusCode::OK, "application/json", body);
    for (_, name, _, value) in extra {
        response.headers_mut().append(name, value);
    }
    response
}
