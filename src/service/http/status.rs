//! /status/{codes} (one code, a list, or weighted `code:weight` choices) with httpbin's
//! special bodies and headers, and go-httpbin's /unstable.

use super::shapes;
use super::{Req, Response};
use crate::proto::http::{parse_status_list, SplitMix64};
use http::{header, HeaderValue, StatusCode};

const TEAPOT: &str = r#"
    -=[ teapot ]=-

       _...._
     .'  _ _ `.
    | ."` ^ `". _,
    \_;`"---"`|//
      |       ;/
      \_     _/
        `"""`
"#;

/// A uniform draw in [0, 1) from the OS's randomness.
pub fn draw() -> f64 {
    SplitMix64(random_seed()).next_f64()
}

pub fn random_seed() -> u64 {
    let mut seed = [0u8; 8];
    // The OS generator failing is not the peer's doing; a fixed seed still answers.
    let _ = getrandom::fill(&mut seed);
    u64::from_le_bytes(seed)
}

pub fn status(codes: &str) -> Response {
    let Some(choices) = parse_status_list(codes) else {
        return shapes::bad_request("Invalid status code");
    };
    respond(choices.pick(draw()))
}

/// httpbin's 406 body: Python's `json.dumps` of its dict (insertion order, `, ` and `: `
/// separators, no newline).
pub const NOT_ACCEPTABLE: &str = r#"{"message": "Client did not request a supported media type.", "accept": ["image/webp", "image/svg+xml", "image/jpeg", "image/png", "image/*"]}"#;

pub fn respond(code: u16) -> Response {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = match code {
        402 => shapes::html(status, "Fuck you, pay me!"),
        406 => shapes::bytes(status, "application/json", NOT_ACCEPTABLE),
        418 => shapes::html(status, TEAPOT),
        _ => shapes::html(status, ""),
    };
    let headers = response.headers_mut();
    match code {
        301 | 302 | 303 | 305 | 307 => {
            headers.insert(header::LOCATION, HeaderValue::from_static("/redirect/1"));
        }
        401 => {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"Fake Realm\""),
            );
        }
        402 => {
            headers.insert(
                "x-more-info",
                HeaderValue::from_static("http://vimeo.com/22053820"),
            );
        }
        407 => {
            headers.insert(
                header::PROXY_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"Fake Realm\""),
            );
        }
        418 => {
            headers.insert(
                "x-more-info",
                HeaderValue::from_static("http://tools.ietf.org/html/rfc2324"),
            );
        }
        _ => {}
    }
    response
}

/// 500 with probability `failure_rate` (default 0.5), else 200.
pub fn unstable(req: &Req) -> Response {
    let rate = match req.query("failure_rate") {
        None => 0.5,
        Some(text) => match text.parse::<f64>() {
            Ok(rate) if (0.0..=1.0).contains(&rate) => rate,
            _ => return shapes::bad_request("failure_rate must be a number between 0 and 1"),
        },
    };
    let code = if draw() < rate { 500 } else { 200 };
    respond(code)
}
