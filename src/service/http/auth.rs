//! /basic-auth/{user}/{passwd}, /hidden-basic-auth/{user}/{passwd}, /bearer and
//! /digest-auth/{qop}/{user}/{passwd}[/{algorithm}[/{stale_after}]].

use super::shapes::{self, Authenticated};
use super::{Req, Response};
use crate::proto::http::digest::{expected_response, parse_authorization, Algorithm, Credentials};
use crate::proto::http::{parse_basic, parse_bearer};
use http::{header, HeaderValue, StatusCode};
use subtle::ConstantTimeEq;

pub fn basic(req: &Req, user: &str, password: &str, hidden: bool) -> Response {
    let user = super::cookies::percent_decode(user);
    let password = super::cookies::percent_decode(password);
    let given = req.header(header::AUTHORIZATION).and_then(parse_basic);
    let ok = given.as_ref().is_some_and(|(u, p)| {
        // Both compared, always, in constant time: no timing hint of which was wrong.
        let user_ok = u.as_bytes().ct_eq(user.as_bytes());
        let password_ok = p.as_bytes().ct_eq(password.as_bytes());
        bool::from(user_ok & password_ok)
    });
    if ok {
        return shapes::json(
            StatusCode::OK,
            &Authenticated {
                authenticated: true,
                token: None,
                user: Some(user),
            },
        );
    }
    if hidden {
        return shapes::not_found();
    }
    let mut response = shapes::empty(StatusCode::UNAUTHORIZED);
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"Fake Realm\""),
    );
    response
}

pub fn bearer(req: &Req) -> Response {
    match req.header(header::AUTHORIZATION).and_then(parse_bearer) {
        Some(token) => shapes::json(
            StatusCode::OK,
            &Authenticated {
                authenticated: true,
                token: Some(token.to_string()),
                user: None,
            },
        ),
        None => {
            let mut response = shapes::empty(StatusCode::UNAUTHORIZED);
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            response
        }
    }
}

/// /digest-auth/{qop}/{user}/{passwd}[/{algorithm}[/{stale_after}]]: 401 with a Digest
/// challenge until the client answers it for this user and password.
pub fn digest(req: &Req, qop: &str, user: &str, password: &str, algorithm: &str) -> Response {
    let Some(algorithm) = Algorithm::from_name(algorithm) else {
        return shapes::bad_request("algorithm must be MD5, SHA-256 or SHA-512");
    };
    let user = super::cookies::percent_decode(user);
    let password = super::cookies::percent_decode(password);
    let qop = match qop {
        "auth" | "auth-int" => Some(qop),
        _ => None,
    };
    let authorized = req
        .header(header::AUTHORIZATION)
        .and_then(parse_authorization)
        .is_some_and(|params| {
            let creds = Credentials { params: &params };
            let method = req.method.as_str();
            let expected = expected_response(algorithm, &creds, &password, method, &req.body);
            match (creds.get("username"), creds.get("response"), expected) {
                (Some(u), Some(given), Some(expected)) => {
                    let user_ok = u.as_bytes().ct_eq(user.as_bytes());
                    let response_ok = given.as_bytes().ct_eq(expected.as_bytes());
                    bool::from(user_ok & response_ok)
                }
                _ => false,
            }
        });
    if authorized {
        return shapes::json(
            StatusCode::OK,
            &Authenticated {
                authenticated: true,
                token: None,
                user: Some(user),
            },
        );
    }
    let random_hex = || {
        let mut bytes = [0u8; 16];
        // The OS generator failing is not the peer's doing; zeros still challenge.
        let _ = getrandom::fill(&mut bytes);
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    };
    let qop_param = qop.map(|q| format!(", qop=\"{q}\"")).unwrap_or_default();
    let challenge = format!(
        "Digest realm=\"me@kennethreitz.com\", nonce=\"{}\"{qop_param}, opaque=\"{}\", algorithm={}, stale=FALSE",
        random_hex(),
        random_hex(),
        algorithm.name()
    );
    let mut response = shapes::empty(StatusCode::UNAUTHORIZED);
    shapes::set_header(&mut response, header::WWW_AUTHENTICATE, &challenge);
    response
}
