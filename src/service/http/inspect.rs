//! /headers, /ip, /user-agent, /uuid and go-httpbin's /dump/request.

use super::shapes::{self, Headers, Origin, UserAgent, Uuid};
use super::{Req, Response};
use http::{header, StatusCode};

pub fn headers(req: &Req) -> Response {
    shapes::json(
        StatusCode::OK,
        &Headers {
            headers: shapes::headers(req),
        },
    )
}

pub fn ip(req: &Req) -> Response {
    shapes::json(
        StatusCode::OK,
        &Origin {
            origin: req.origin(),
        },
    )
}

pub fn user_agent(req: &Req) -> Response {
    shapes::json(
        StatusCode::OK,
        &UserAgent {
            user_agent: req.header(header::USER_AGENT).map(str::to_string),
        },
    )
}

pub fn uuid() -> Response {
    shapes::json(
        StatusCode::OK,
        &Uuid {
            uuid: uuid::Uuid::new_v4().to_string(),
        },
    )
}

/// The request as text, as go-httpbin's /dump/request shows it (headers sorted).
pub fn dump_request(req: &Req) -> Response {
    let target = req.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let mut out = format!(
        "{} {} {:?}\r\nHost: {}\r\n",
        req.method,
        target,
        req.version,
        req.host()
    );
    let mut names: Vec<(String, String)> = req
        .headers
        .iter()
        .filter(|(name, _)| *name != header::HOST)
        .map(|(name, value)| {
            (
                crate::proto::http::title_case(name.as_str()),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect();
    names.sort();
    for (name, value) in names {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str("\r\n");
    let mut body = out.into_bytes();
    body.extend_from_slice(&req.body);
    shapes::text(StatusCode::OK, body)
}
