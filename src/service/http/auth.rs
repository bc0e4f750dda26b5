//! /basic-auth/{user}/{passwd}, /hidden-basic-auth/{user}/{passwd}, /bearer and
//! /digest-auth/{qop}/{user}/{passwd}[/{algorithm}[/{stale_after}]].

use super::shapes::{self, Authenticated};
use super::{Req, Response, State};
use crate::proto::http::digest::{expected_response, parse_authorization, Algorithm, Credentials};
use crate::proto::http::{is_cookie_value, parse_basic, parse_bearer, parse_cookies};
use http::{header, HeaderValue, StatusCode};
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
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

/// How many nonces with a use limit the service remembers; past it the oldest is
/// forgotten (a client still holding it gets a `stale=TRUE` challenge and a new one).
pub const NONCE_CAP: usize = 10_000;

/// The nonces that /digest-auth/…/{stale_after} challenges handed out, with how often each
/// has been used. Only nonces the server made get in, at most [`NONCE_CAP`] of them, so
/// no peer can grow it.
pub struct Nonces {
    book: Mutex<NonceBook>,
}

#[derive(Default)]
struct NonceBook {
    uses: HashMap<String, u32>,
    /// Issue order, for evicting the oldest; may still hold nonces already dropped.
    order: VecDeque<String>,
}

/// What a limited nonce allows now.
#[derive(Debug, PartialEq, Eq)]
pub enum NonceUse {
    /// Known and used fewer than `stale_after` times.
    Fresh,
    /// Used up, or not one of ours (never issued, or already forgotten).
    Stale,
}

impl Nonces {
    pub fn new() -> Nonces {
        Nonces {
            book: Mutex::new(NonceBook::default()),
        }
    }

    fn book(&self) -> std::sync::MutexGuard<'_, NonceBook> {
        // The book holds plain counters: a panic elsewhere cannot leave it inconsistent.
        self.book
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn issue(&self, nonce: &str) {
        let mut book = self.book();
        while book.order.len() >= NONCE_CAP {
            if let Some(oldest) = book.order.pop_front() {
                book.uses.remove(&oldest);
            }
        }
        book.uses.insert(nonce.to_string(), 0);
        book.order.push_back(nonce.to_string());
    }

    pub fn check(&self, nonce: &str, stale_after: u32) -> NonceUse {
        let mut book = self.book();
        match book.uses.get(nonce) {
            Some(&uses) if uses < stale_after => NonceUse::Fresh,
            Some(_) => {
                book.uses.remove(nonce);
                NonceUse::Stale
            }
            None => NonceUse::Stale,
        }
    }

    /// Counts one successful use of a nonce that [`Nonces::check`] found fresh.
    pub fn count_use(&self, nonce: &str) {
        if let Some(uses) = self.book().uses.get_mut(nonce) {
            *uses = uses.saturating_add(1);
        }
    }

    #[cfg(test)]
    fn len(&self) -> (usize, usize) {
        let book = self.book();
        (book.uses.len(), book.order.len())
    }
}

impl Default for Nonces {
    fn default() -> Self {
        Nonces::new()
    }
}

/// httpbin's `stale_after`: a number of uses, or anything else (`never`) for no limit.
fn use_limit(stale_after: &str) -> Option<u32> {
    stale_after.parse().ok()
}

/// httpbin's `?require-cookie=1|t|true`: the client must send back the challenge's cookie.
fn requires_cookie(req: &Req) -> bool {
    req.query("require-cookie")
        .is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "1" | "t" | "true"))
}

fn request_cookie(req: &Req, name: &str) -> Option<String> {
    req.headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(parse_cookies)
        .find(|(n, _)| n == name)
        .map(|(_, v)| v)
}

/// Adds `name=value; Path=/`, as werkzeug's `set_cookie` writes it; a value from the peer
/// that is not legal cookie text is left out rather than injected.
fn set_cookie(response: &mut Response, name: &str, value: &str) {
    if !is_cookie_value(value) {
        return;
    }
    if let Ok(value) = HeaderValue::from_str(&format!("{name}={value}; Path=/")) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}

/// httpbin's `next_stale_after_value`: one use fewer, or `never`.
fn next_stale_after(value: &str) -> String {
    match value.parse::<i64>() {
        Ok(n) => (n - 1).to_string(),
        Err(_) => "never".into(),
    }
}

/// /digest-auth/{qop}/{user}/{passwd}[/{algorithm}[/{stale_after}]]: 401 with a Digest
/// challenge until the client answers it for this user and password; an algorithm other
/// than MD5, SHA-256 and SHA-512 is MD5, as in httpbin. With a numeric `stale_after`, each
/// nonce is good for that many successful requests; the next one with it (or with a nonce
/// the server did not issue) gets a new challenge with `stale=TRUE`, as httpbin's does, so
/// a client re-hashes without asking for the password again. The cookies are httpbin's:
/// `fake=fake_value` on every answer, `stale_after` on challenges (and one fewer on
/// success when the client sent it back), `last_nonce` on a failed or stale answer, and a
/// request that reuses its `last_nonce` is stale.
pub fn digest(
    req: &Req,
    state: &State,
    qop: &str,
    user: &str,
    password: &str,
    algorithm: &str,
    stale_after: &str,
) -> Response {
    let algorithm = Algorithm::from_name(algorithm).unwrap_or(Algorithm::Md5);
    let user = super::cookies::percent_decode(user);
    let password = super::cookies::percent_decode(password);
    let qop = match qop {
        "auth" | "auth-int" => Some(qop),
        _ => None,
    };
    let limit = use_limit(stale_after);
    let require_cookie = requires_cookie(req);
    let challenge = |stale: bool, last_nonce: Option<&str>| {
        let mut response = challenge(state, qop, algorithm, limit, stale);
        set_cookie(&mut response, "stale_after", stale_after);
        if let Some(nonce) = last_nonce {
            set_cookie(&mut response, "last_nonce", nonce);
        }
        set_cookie(&mut response, "fake", "fake_value");
        response
    };
    let params = req
        .header(header::AUTHORIZATION)
        .and_then(parse_authorization);
    let Some(params) =
        params.filter(|_| !require_cookie || req.headers.contains_key(header::COOKIE))
    else {
        return challenge(false, None);
    };
    if require_cookie && request_cookie(req, "fake").as_deref() != Some("fake_value") {
        let mut response = shapes::json(
            StatusCode::FORBIDDEN,
            &serde_json::json!({"errors": ["missing cookie set on challenge"]}),
        );
        set_cookie(&mut response, "fake", "fake_value");
        return response;
    }
    let creds = Credentials { params: &params };
    let nonce = creds.get("nonce").unwrap_or("");
    if request_cookie(req, "last_nonce").as_deref() == Some(nonce) {
        return challenge(true, Some(nonce));
    }
    if let Some(limit) = limit {
        if state.nonces.check(nonce, limit) == NonceUse::Stale {
            return challenge(true, Some(nonce));
        }
    }
    let expected = expected_response(algorithm, &creds, &password, req.method.as_str(), &req.body);
    let authorized = match (creds.get("username"), creds.get("response"), expected) {
        (Some(u), Some(given), Some(expected)) => {
            // Both compared, always, in constant time.
            let user_ok = u.as_bytes().ct_eq(user.as_bytes());
            let response_ok = given.as_bytes().ct_eq(expected.as_bytes());
            bool::from(user_ok & response_ok)
        }
        _ => false,
    };
    if !authorized {
        return challenge(false, Some(nonce));
    }
    if limit.is_some() {
        state.nonces.count_use(nonce);
    }
    let mut response = shapes::json(
        StatusCode::OK,
        &Authenticated {
            authenticated: true,
            token: None,
            user: Some(user),
        },
    );
    set_cookie(&mut response, "fake", "fake_value");
    if let Some(value) = request_cookie(req, "stale_after") {
        set_cookie(&mut response, "stale_after", &next_stale_after(&value));
    }
    response
}

/// A 401 with a new nonce (remembered when it has a use limit).
fn challenge(
    state: &State,
    qop: Option<&str>,
    algorithm: Algorithm,
    limit: Option<u32>,
    stale: bool,
) -> Response {
    let random_hex = || {
        let mut bytes = [0u8; 16];
        // The OS generator failing is not the peer's doing; zeros still challenge.
        let _ = getrandom::fill(&mut bytes);
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    };
    let nonce = random_hex();
    if limit.is_some() {
        state.nonces.issue(&nonce);
    }
    let qop_param = qop.map(|q| format!(", qop=\"{q}\"")).unwrap_or_default();
    let value = format!(
        "Digest realm=\"me@kennethreitz.com\", nonce=\"{nonce}\"{qop_param}, opaque=\"{}\", algorithm={}, stale={}",
        random_hex(),
        algorithm.name(),
        if stale { "TRUE" } else { "FALSE" },
    );
    let mut response = shapes::empty(StatusCode::UNAUTHORIZED);
    shapes::set_header(&mut response, header::WWW_AUTHENTICATE, &value);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nonce_goes_stale_after_its_uses() {
        let nonces = Nonces::new();
        nonces.issue("a");
        for _ in 0..2 {
            assert_eq!(nonces.check("a", 2), NonceUse::Fresh);
            nonces.count_use("a");
        }
        assert_eq!(nonces.check("a", 2), NonceUse::Stale);
        // Dropped once stale, and a nonce never issued is stale.
        assert_eq!(nonces.check("a", 5), NonceUse::Stale);
        assert_eq!(nonces.check("forged", 5), NonceUse::Stale);
        nonces.issue("zero");
        assert_eq!(nonces.check("zero", 0), NonceUse::Stale);
    }

    #[test]
    fn the_book_never_holds_more_than_the_cap() {
        let nonces = Nonces::new();
        for i in 0..NONCE_CAP + 500 {
            nonces.issue(&i.to_string());
        }
        assert_eq!(nonces.len(), (NONCE_CAP, NONCE_CAP));
        // The oldest went first.
        assert_eq!(nonces.check("0", 1), NonceUse::Stale);
        assert_eq!(
            nonces.check(&(NONCE_CAP + 499).to_string(), 1),
            NonceUse::Fresh
        );
    }
}
