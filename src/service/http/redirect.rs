//! /redirect/n, /relative-redirect/n, /absolute-redirect/n and /redirect-to. /redirect-to
//! only sends clients to relative targets, this server's host (any port, either scheme) or
//! loopback unless `--http-allow-redirect` names the host: an httpbin on a real domain must
//! not be an open redirect.

use super::shapes;
use super::{Req, Response, State};
use http::{header, HeaderValue, StatusCode};

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
    // Sent as given, UTF-8 and all, as httpbin does (clients test their own URL checks
    // with odd ones such as `http://:1`); only what a header cannot carry is refused.
    let Ok(location) = HeaderValue::from_bytes(url.as_bytes()) else {
        return shapes::bad_request("url cannot be a Location header (control characters)");
    };
    let mut response = shapes::html(status, "");
    response.headers_mut().insert(header::LOCATION, location);
    response
}

/// A relative target, no host at all, this server's own host (any port, either scheme), a
/// loopback host, or a host the operator allowed.
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
    let name = strip_port(&host);
    // `http:///evil.com` has an empty authority, but browsers go to evil.com.
    let hostless = name.is_empty() && !target_host.starts_with(['/', '\\']);
    let own_name = own_host.to_ascii_lowercase();
    let same_host = !name.is_empty() && name == strip_port(&own_name);
    if hostless || same_host || is_loopback(name) {
        return true;
    }
    allowed.iter().any(|a| a == "*" || *a == name || *a == host)
}

/// `localhost`, 127.0.0.0/8 or `[::1]`: never another machine.
fn is_loopback(name: &str) -> bool {
    if name == "localhost" || name.ends_with(".localhost") {
        return true;
    }
    let bare = name.trim_start_matches('[').trim_end_matches(']');
    bare.parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
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

    #[test]
    fn same_host_any_port_and_loopback_need_no_flag() {
        let none: Vec<String> = vec![];
        assert!(redirect_allowed("http://h:2/get", "h:1", &none));
        assert!(redirect_allowed("https://H/get", "h:1", &none));
        assert!(redirect_allowed(
            "http://127.0.0.1:9/get",
            "example.com",
            &none
        ));
        assert!(redirect_allowed("http://127.1.2.3/", "example.com", &none));
        assert!(redirect_allowed("http://[::1]:8080/", "example.com", &none));
        assert!(redirect_allowed(
            "http://localhost:1/",
            "example.com",
            &none
        ));
        assert!(redirect_allowed("http://:1", "example.com", &none));
        assert!(!redirect_allowed("http:///evil.com", "example.com", &none));
        assert!(!redirect_allowed("http:///evil.com", "", &none));
        assert!(!redirect_allowed("http:/\\evil.com", "example.com", &none));
        assert!(!redirect_allowed(
            "http://127.0.0.1.evil.com/",
            "example.com",
            &none
        ));
        assert!(!redirect_allowed("http://[::2]/", "example.com", &none));
        assert!(!redirect_allowed("http://10.0.0.1/", "example.com", &none));
    }
}
