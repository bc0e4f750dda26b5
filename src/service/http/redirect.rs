//! /redirect/n, /relative-redirect/n, /absolute-redirect/n and /redirect-to. /redirect-to
//! only sends clients to relative or same-host targets unless `--http-allow-redirect`
//! names the host: an httpbin on a real domain must not be an open redirect.

use super::shapes;
use super::{Req, Response, State};
use http::{header, StatusCode};

/// Redirect chains are capped so that one request cannot name an absurd chain length.
const MAX_REDIRECTS: u32 = 1000;

fn count(n: &str) -> Result<u32, Response> {
    match n.parse::<u32>() {
        Ok(n) if (1..=MAX_REDIRECTS).contains(&n) => Ok(n),
        _ => Err(shapes::bad_request(format!(
            "n must be a number between 1 and {MAX_REDIRECTS}"
        ))),
    }
}

fn found(location: &str) -> Response {
    let mut response = shapes::html(StatusCode::FOUND, "");
    shapes::set_header(&mut response, header::LOCATION, location);
    response
}

pub fn redirect(req: &Req, n: &str) -> Response {
    let n = match count(n) {
        Ok(n) => n,
        Err(response) => return response,
    };
    let absolute = req
        .query("absolute")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    if absolute {
        absolute_to(req, n)
    } else {
        relative_to(n)
    }
}

pub fn relative(n: &str) -> Response {
    match count(n) {
        Ok(n) => relative_to(n),
        Err(response) => response,
    }
}

pub fn absolute(req: &Req, n: &str) -> Response {
    match count(n) {
        Ok(n) => absolute_to(req, n),
        Err(response) => response,
    }
}

fn relative_to(n: u32) -> Response {
    if n == 1 {
        found("/get")
    } else {
        found(&format!("/relative-redirect/{}", n - 1))
    }
}

fn absolute_to(req: &Req, n: u32) -> Response {
    let base = format!("{}://{}", req.scheme, req.host());
    if n == 1 {
        found(&format!("{base}/get"))
    } else {
        found(&format!("{base}/absolute-redirect/{}", n - 1))
    }
}

pub fn redirect_to(req: &Req, state: &State) -> Response {
    // GET takes the query; other methods may send it as a form, as httpbin allows.
    let mut params = req.query_pairs();
    if req.method != http::Method::GET {
        params.extend(
            form_urlencoded::parse(&req.body).map(|(k, v)| (k.into_owned(), v.into_owned())),
        );
    }
    let param = |key: &str| {
        params
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    };
    let Some(url) = param("url") else {
        return shapes::bad_request("missing url parameter");
    };
    let status = match param("status_code") {
        None => StatusCode::FOUND,
        Some(code) => match code.parse::<u16>() {
            Ok(code @ 300..=399) => StatusCode::from_u16(code).unwrap_or(StatusCode::FOUND),
            Ok(_) => StatusCode::FOUND,
            Err(_) => return shapes::bad_request("status_code must be a number"),
        },
    };
    if !redirect_allowed(&url, &req.host(), &state.options.redirect_hosts) {
        return shapes::text(
            StatusCode::FORBIDDEN,
            "Forbidden redirect URL. Please be careful with this link.\n",
        );
    }
    let mut response = shapes::html(status, "");
    shapes::set_header(&mut response, header::LOCATION, &url);
    response
}

/// A relative target, this server's own host, or a host the operator allowed.
fn redirect_allowed(url: &str, own_host: &str, allowed: &[String]) -> bool {
    let target_host = match url.split_once("://") {
        Some((_, rest)) => rest,
        // Scheme-relative `//host/…` leaves the site too; backslashes are read as slashes
        // by browsers.
        None if url.starts_with("//") || url.starts_with("\\\\") || url.starts_with("/\\") => {
            &url[2..]
        }
        None => return !url.contains(':') || url.starts_with('/'),
    };
    let authority = target_host
        .split(['/', '?', '#', '\\'])
        .next()
        .unwrap_or("");
    let host = authority
        .rsplit('@')
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    if host == own_host.to_ascii_lowercase() {
        return true;
    }
    let name = strip_port(&host);
    allowed.iter().any(|a| a == "*" || *a == name || *a == host)
}

/// `host` without its `:port`; IPv6 literals keep their brackets.
fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return match host.find(']') {
            Some(end) => &host[..=end],
            None => host,
        };
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    }
}

#[cfg(test)]
mod tests {
    use super::redirect_allowed;

    #[test]
    fn no_open_redirect() {
        let none: Vec<String> = vec![];
        assert!(redirect_allowed("/get", "h:1", &none));
        assert!(redirect_allowed("get?x=1", "h:1", &none));
        assert!(redirect_allowed("http://h:1/get", "h:1", &none));
        assert!(!redirect_allowed("http://evil.com/", "h:1", &none));
        assert!(!redirect_allowed("//evil.com/", "h:1", &none));
        assert!(!redirect_allowed("/\\evil.com/", "h:1", &none));
        assert!(!redirect_allowed("http://h:1@evil.com/", "h:1", &none));
        assert!(!redirect_allowed("javascript:alert(1)", "h:1", &none));
        let allowed = vec!["example.com".to_string()];
        assert!(redirect_allowed(
            "https://example.com:8443/x",
            "h:1",
            &allowed
        ));
        assert!(redirect_allowed("https://example.com/x", "h:1", &allowed));
        assert!(redirect_allowed(
            "https://x.org/",
            "h:1",
            &["*".to_string()]
        ));
    }
}
