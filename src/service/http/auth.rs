//! /basic-auth/{user}/{passwd}, /hidden-basic-auth/{user}/{passwd} and /bearer.

use super::shapes::{self, Authenticated};
use super::{Req, Response};
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
