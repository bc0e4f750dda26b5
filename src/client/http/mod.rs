//! `netkit http`: an httpie-style HTTP client on hyper (HTTP/1.1, h2 over TLS by ALPN,
//! h2c) and rustls. Items make the request ([`items`]); this module sends it, follows
//! redirects, answers auth challenges, keeps cookies, decodes the body ([`decode`]) and
//! shows it ([`output`]) or saves it (`--download`). Uploaded files are streamed from
//! disk ([`body`]), never held whole in memory.

pub mod auth;
pub mod body;
pub mod decode;
pub mod items;
pub mod ordered_json;
pub mod output;
pub mod session;
pub mod transport;

use self::auth::{Auth, AuthType};
use self::body::RequestBody;
use self::items::{BodySpec, RawBody, RequestSpec};
use self::output::{PrintSpec, Render};
use self::session::Session;
use self::transport::TlsOptions;
use crate::client::ClientError;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, StatusCode};
use http_body_util::BodyExt;
use hyper::body::{Bytes, Incoming};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

const USER_AGENT: &str = concat!("netkit/", env!("CARGO_PKG_VERSION"));

/// Why `netkit http` failed. [`HttpError::is_usage`] tells the command line's mistakes
/// (exit code 2) from failures at run time (exit code 1).
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error(transparent)]
    Item(#[from] items::ItemError),
    #[error("{url:?} is not a usable URL: {reason}")]
    BadUrl { url: String, reason: String },
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Auth(#[from] auth::AuthError),
    #[error("TLS handshake with {addr} failed: {source} (trust the server's CA with --cacert PEM, or --verify no)")]
    TlsHandshake {
        addr: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Connect(ClientError),
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
    #[error("{url}: {source}")]
    Http { url: String, source: hyper::Error },
    #[error("{url}: no answer within {timeout:?}")]
    Timeout { url: String, timeout: Duration },
    #[error("{url}: the response body is over {limit} bytes (--max-body)")]
    TooLarge { url: String, limit: usize },
    #[error("{url}: {source}")]
    Decode {
        url: String,
        source: decode::DecodeError,
    },
    #[error("too many redirects (more than --max-redirects {0})")]
    TooManyRedirects(usize),
    #[error("cannot read {path}: {source}")]
    ReadFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Session(#[from] session::SessionError),
    #[error("cannot write {path}: {source}")]
    Download {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("incomplete download: {got} of {expected} bytes")]
    Incomplete { expected: u64, got: u64 },
    #[error("cannot write the output: {0}")]
    Output(std::io::Error),
}

impl From<ClientError> for HttpError {
    fn from(error: ClientError) -> Self {
        match error {
            ClientError::TlsHandshake { addr, source } => HttpError::TlsHandshake { addr, source },
            other => HttpError::Connect(other),
        }
    }
}

impl HttpError {
    /// A mistake on the command line rather than a failure of the exchange.
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            HttpError::Item(_)
                | HttpError::BadUrl { .. }
                | HttpError::Usage(_)
                | HttpError::Auth(auth::AuthError::NoPassword(_))
        )
    }
}

/// Everything `netkit http` was asked to do.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// `[METHOD] URL [ITEM...]` as given.
    pub positionals: Vec<String>,
    pub form: bool,
    pub raw: Option<RawBody>,
    pub auth: Option<String>,
    pub auth_type: Option<AuthType>,
    pub follow: bool,
    pub max_redirects: usize,
    /// `--all`: also show the exchanges before the last (redirects, digest challenges).
    pub all: bool,
    /// What to print of those exchanges (`--history-print`); `None`: as `print`.
    pub history_print: Option<PrintSpec>,
    pub session: Option<PathBuf>,
    pub download: bool,
    pub output: Option<PathBuf>,
    pub tls: TlsOptions,
    pub http2: bool,
    pub timeout: Duration,
    pub print: PrintSpec,
    pub render: Render,
    /// Cap on the in-memory response body, before and after decoding.
    pub max_body: usize,
    /// Show a progress bar for downloads and file uploads (stderr is a terminal).
    pub progress: bool,
}

/// How the exchange ended, for the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    pub status: StatusCode,
}

impl Outcome {
    /// httpie's `--check-status` codes: 3 for 3xx, 4 for 4xx, 5 for 5xx, else 0.
    pub fn check_status_code(&self) -> u8 {
        match self.status.as_u16() {
            300..=399 => 3,
            400..=499 => 4,
            500..=599 => 5,
            _ => 0,
        }
    }
}

/// A request ready to send (again, for a digest answer or a redirect).
struct Prepared {
    method: Method,
    url: url::Url,
    headers: HeaderMap,
    body: RequestBody,
}

/// Runs the whole command: build the request, send it (following redirects with
/// `--follow`), print or save the answer, and update the session.
pub async fn run(options: HttpOptions) -> Result<Outcome, HttpError> {
    let (method, url_text, item_texts) = items::split_positionals(&options.positionals)
        .ok_or_else(|| HttpError::Usage("give a URL, e.g. netkit http :8080/get".into()))?;
    let parsed = item_texts
        .iter()
        .map(|t| items::parse_item(t))
        .collect::<Result<Vec<_>, _>>()?;
    let spec = items::build(
        method.as_deref(),
        &parsed,
        options.form,
        options.raw.clone(),
    )?;
    let mut url = parse_url(&url_text)?;
    if !spec.query.is_empty() {
        let mut pairs = url.query_pairs_mut();
        for (name, value) in &spec.query {
            pairs.append_pair(name, value);
        }
    }
    let mut session = match &options.session {
        Some(path) => Session::load(path)?,
        None => Session::empty(),
    };
    let auth = match (&options.auth, &session.auth) {
        (Some(raw), _) => Some(Auth::new(options.auth_type.unwrap_or_default(), raw)?),
        (None, Some(saved)) => AuthType::from_name(&saved.kind)
            .map(|kind| Auth::new(kind, &saved.raw_auth))
            .transpose()?,
        (None, None) => None,
    };
    let (content_type, body) = request_body(&spec.body)?;
    let headers = request_headers(&spec, &session, content_type.as_deref(), &options)?;
    let method = Method::from_bytes(spec.method.as_bytes())
        .map_err(|_| HttpError::Usage(format!("{:?} is not an HTTP method", spec.method)))?;

    let mut request = Prepared {
        method,
        url,
        headers,
        body,
    };
    // A redirect may lead from http to https: with --follow, be ready for both.
    let tls = if needs_tls(&request.url) || options.follow {
        Some(transport::client_tls(&options.tls, options.http2)?)
    } else {
        None
    };
    let first_origin = request.url.origin();
    let mut redirects = 0;
    let (sent, exchange) = loop {
        let use_auth = auth
            .as_ref()
            .filter(|_| request.url.origin() == first_origin);
        let (sent, exchange) =
            send_with_auth(&request, use_auth, tls.as_ref(), &mut session, &options).await?;
        let status = exchange.response.status();
        let location = exchange
            .response
            .headers()
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        match location {
            Some(location) if options.follow && status.is_redirection() => {
                redirects += 1;
                if redirects > options.max_redirects {
                    return Err(HttpError::TooManyRedirects(options.max_redirects));
                }
                let next = request.url.join(&location).map_err(|e| HttpError::BadUrl {
                    url: location.clone(),
                    reason: e.to_string(),
                })?;
                if !matches!(next.scheme(), "http" | "https") {
                    return Err(HttpError::BadUrl {
                        url: next.to_string(),
                        reason: "redirect to a scheme other than http/https".into(),
                    });
                }
                if options.all {
                    show_intermediate(&sent, exchange, &options).await?;
                }
                request = redirected(request, status, next);
            }
            _ => break (sent, exchange),
        }
    };

    let print = options.print;
    let color = options.render.color;
    let mut shown = Vec::new();
    show_request(&mut shown, &sent, exchange.version, print, options.render);
    write_stdout(&shown)?;
    let response = exchange.response;
    let status = response.status();
    if options.download && status.is_success() {
        if print.response_headers {
            // The data goes to a file; the headers to stderr, as httpie does.
            let text = output::response_head(exchange.version, status, response.headers(), false);
            eprintln!("{text}");
        }
        let path = download(response, &sent.url, &options).await?;
        eprintln!("{}", output::saved_line(path.1, &path.0));
    } else {
        let headers = response.headers().clone();
        if print.response_headers {
            let text = output::response_head(exchange.version, status, &headers, color);
            write_stdout(text.as_bytes())?;
            write_stdout(b"\n")?;
        }
        if print.response_body {
            let decoded = read_decoded(response, &sent.url, &options).await?;
            let content_type = headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok());
            write_stdout(&output::body(&decoded, content_type, options.render))?;
        }
    }
    std::io::stdout().flush().map_err(HttpError::Output)?;
    if let Some(path) = &options.session {
        if let Some(auth) = &auth {
            session.auth = Some(session::SavedAuth {
                kind: auth.kind.name().to_string(),
                raw_auth: auth.raw.clone(),
            });
        }
        for (name, value) in &spec.headers {
            let lower = name.to_ascii_lowercase();
            // Per-request headers stay out of the session, as in httpie.
            if lower.starts_with("content-") || lower.starts_with("if-") || lower == "cookie" {
                continue;
            }
            match value {
                Some(value) => session.headers.insert(name.clone(), value.clone()),
                None => session.headers.remove(name),
            };
        }
        session.save(path)?;
    }
    Ok(Outcome { status })
}

fn write_stdout(bytes: &[u8]) -> Result<(), HttpError> {
    std::io::stdout()
        .lock()
        .write_all(bytes)
        .map_err(HttpError::Output)
}

/// The blank line that ends a shown body: one more newline, or two when the body did
/// not end its last line.
fn body_gap(shown: &[u8]) -> &'static [u8] {
    if shown.ends_with(b"\n") {
        b"\n"
    } else {
        b"\n\n"
    }
}

/// Appends to `out` what `print` asks of the request as it was sent: its head, then its
/// body (files read only when small, see [`RequestBody::shown`]).
fn show_request(
    out: &mut Vec<u8>,
    sent: &Sent,
    version: http::Version,
    print: PrintSpec,
    render: Render,
) {
    if print.request_headers {
        let text = output::request_head(
            sent.method.as_str(),
            &sent.target,
            version,
            &sent.headers,
            render.color,
        );
        out.extend_from_slice(text.as_bytes());
        out.push(b'\n');
    }
    if print.request_body && !sent.body.is_empty() {
        let content_type = sent
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        let shown = output::body(&sent.body.shown(), content_type, render);
        out.extend_from_slice(&shown);
        out.extend_from_slice(body_gap(&shown));
    }
}

/// `--all`: shows an exchange before the last one (a redirect, a digest challenge) as
/// `--history-print` says, on stdout (stderr with --download, whose data goes to a file).
async fn show_intermediate(
    sent: &Sent,
    exchange: transport::Exchange,
    options: &HttpOptions,
) -> Result<(), HttpError> {
    let print = options.history_print.unwrap_or(options.print);
    let render = if options.download {
        Render {
            pretty: options.render.pretty,
            color: false,
        }
    } else {
        options.render
    };
    let mut shown = Vec::new();
    show_request(&mut shown, sent, exchange.version, print, render);
    let response = exchange.response;
    let headers = response.headers().clone();
    if print.response_headers {
        let text =
            output::response_head(exchange.version, response.status(), &headers, render.color);
        shown.extend_from_slice(text.as_bytes());
        shown.push(b'\n');
    }
    if print.response_body {
        let decoded = read_decoded(response, &sent.url, options).await?;
        if !decoded.is_empty() {
            let content_type = headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok());
            let body = output::body(&decoded, content_type, render);
            shown.extend_from_slice(&body);
            shown.extend_from_slice(body_gap(&body));
        }
    }
    if options.download {
        std::io::stderr()
            .lock()
            .write_all(&shown)
            .map_err(HttpError::Output)
    } else {
        write_stdout(&shown)
    }
}

/// The response body, read under `--max-body` and decoded per Content-Encoding.
async fn read_decoded(
    response: hyper::Response<Incoming>,
    url: &url::Url,
    options: &HttpOptions,
) -> Result<Vec<u8>, HttpError> {
    let url_text = url.to_string();
    let coding = response
        .headers()
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let raw = read_body(response.into_body(), &url_text, options).await?;
    match coding {
        Some(coding) => {
            decode::decode(&coding, raw, options.max_body).map_err(|source| HttpError::Decode {
                url: url_text,
                source,
            })
        }
        None => Ok(raw),
    }
}

/// The URL completed as httpie does (`:8080/get`), checked to be http(s).
pub fn parse_url(text: &str) -> Result<url::Url, HttpError> {
    let completed = items::complete_url(text);
    let url = url::Url::parse(&completed).map_err(|e| HttpError::BadUrl {
        url: text.to_string(),
        reason: e.to_string(),
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(HttpError::BadUrl {
            url: text.to_string(),
            reason: "only http:// and https:// URLs with a host".into(),
        });
    }
    Ok(url)
}

fn needs_tls(url: &url::Url) -> bool {
    url.scheme() == "https"
}

/// A temp name beside `path` for writing before an atomic rename.
pub(crate) fn sibling_temp(path: &Path) -> PathBuf {
    let mut random = [0u8; 6];
    let _ = getrandom::fill(&mut random);
    let tag: String = random.iter().map(|b| format!("{b:02x}")).collect();
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "download".into());
    path.with_file_name(format!(".{name}.{tag}.part"))
}

/// The request after a redirect: 303 (and 301/302 after a POST, as browsers and
/// httpie do) becomes a GET without a body; 307/308 repeat the request as it was.
fn redirected(mut request: Prepared, status: StatusCode, next: url::Url) -> Prepared {
    let to_get = match status.as_u16() {
        303 => request.method != Method::HEAD,
        301 | 302 => request.method == Method::POST,
        _ => false,
    };
    if to_get {
        request.method = Method::GET;
        request.body = RequestBody::empty();
        request.headers.remove(header::CONTENT_TYPE);
        request.headers.remove(header::CONTENT_LENGTH);
    }
    if next.origin() != request.url.origin() {
        // Credentials given for one host are not handed to another.
        request.headers.remove(header::AUTHORIZATION);
    }
    request.url = next;
    request
}

/// What was actually sent, for `-v`.
struct Sent {
    method: Method,
    url: url::Url,
    target: String,
    headers: HeaderMap,
    body: RequestBody,
}

/// Sends `request`, with the session's cookies, and answers one Digest challenge.
async fn send_with_auth(
    request: &Prepared,
    auth: Option<&Auth>,
    tls: Option<&crate::client::ClientTls>,
    session: &mut Session,
    options: &HttpOptions,
) -> Result<(Sent, transport::Exchange), HttpError> {
    let mut authorization = auth.and_then(Auth::preemptive);
    let mut answered_challenge = false;
    loop {
        let mut headers = request.headers.clone();
        if let Some(value) = &authorization {
            if !headers.contains_key(header::AUTHORIZATION) {
                headers.insert(header::AUTHORIZATION, header_value(value)?);
            }
        }
        let cookies: Vec<String> = session
            .cookies
            .get_request_values(&request.url)
            .map(|(name, value)| format!("{name}={value}"))
            .collect();
        if !cookies.is_empty() {
            let mut all = cookies.join("; ");
            if let Some(given) = headers.get(header::COOKIE).and_then(|v| v.to_str().ok()) {
                all = format!("{given}; {all}");
            }
            headers.insert(header::COOKIE, header_value(&all)?);
        }
        let (sent, exchange) = send_once(request, headers, tls, options).await?;
        store_cookies(session, &request.url, exchange.response.headers());
        let status = exchange.response.status();
        let challenge = exchange
            .response
            .headers()
            .get_all(header::WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.trim_start().to_ascii_lowercase().starts_with("digest"))
            .map(str::to_string);
        match (auth, challenge) {
            (Some(auth), Some(challenge))
                if auth.kind == AuthType::Digest
                    && status == StatusCode::UNAUTHORIZED
                    && !answered_challenge =>
            {
                answered_challenge = true;
                if options.all {
                    show_intermediate(&sent, exchange, options).await?;
                }
                let cnonce = random_hex(8);
                // Only qop=auth-int hashes the body: read it (under --max-body) then.
                let body = if auth::digest_hashes_body(&challenge) {
                    request.body.read_all(options.max_body).await?
                } else {
                    Vec::new()
                };
                authorization = Some(auth.digest_answer(
                    &challenge,
                    request.method.as_str(),
                    &sent.target,
                    &body,
                    &cnonce,
                )?);
            }
            _ => return Ok((sent, exchange)),
        }
    }
}

fn random_hex(bytes: usize) -> String {
    let mut random = vec![0u8; bytes];
    // A failing OS generator is not expected; a fixed cnonce still authenticates.
    let _ = getrandom::fill(&mut random);
    random.iter().map(|b| format!("{b:02x}")).collect()
}

fn store_cookies(session: &mut Session, url: &url::Url, headers: &HeaderMap) {
    let cookies = headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| cookie_store::RawCookie::parse(v.to_string()).ok());
    session.cookies.store_response_cookies(cookies, url);
}

fn header_value(text: &str) -> Result<HeaderValue, HttpError> {
    HeaderValue::from_str(text)
        .map_err(|_| HttpError::Usage(format!("{text:?} is not a valid header value")))
}

async fn send_once(
    request: &Prepared,
    mut headers: HeaderMap,
    tls: Option<&crate::client::ClientTls>,
    options: &HttpOptions,
) -> Result<(Sent, transport::Exchange), HttpError> {
    let url = &request.url;
    let host = url.host_str().unwrap_or_default();
    let port = url.port_or_known_default().unwrap_or(80);
    let addr = format!("{host}:{port}");
    let authority = match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    };
    let target = match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_string(),
    };
    let use_tls = if needs_tls(url) { tls } else { None };
    // A body whose size is known says so up front (some servers need it); one with a
    // pipe in it goes chunked.
    if let Some(len) = request.body.len().filter(|len| *len > 0) {
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    }
    // Headers removed with `Name:` are marked by an empty value: drop them now.
    let removed: Vec<HeaderName> = headers
        .iter()
        .filter(|(_, v)| v.is_empty())
        .map(|(n, _)| n.clone())
        .collect();
    for name in removed {
        headers.remove(name);
    }
    let uri: http::Uri =
        url.as_str()
            .parse()
            .map_err(|e: http::uri::InvalidUri| HttpError::BadUrl {
                url: url.to_string(),
                reason: e.to_string(),
            })?;
    let mut builder = http::Request::builder()
        .method(request.method.clone())
        .uri(uri);
    if let Some(map) = builder.headers_mut() {
        *map = headers.clone();
    }
    let bar =
        (options.progress && request.body.has_files()).then(|| progress_bar(request.body.len()));
    let uploaded = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let http_request = builder
        .body(request.body.to_wire(bar.clone(), uploaded.clone()))
        .map_err(|e| HttpError::Usage(e.to_string()))?;
    let h2c = options.http2 && !needs_tls(url);
    let exchange = transport::send(
        &addr,
        &authority,
        use_tls,
        h2c,
        http_request,
        options.timeout,
        &uploaded,
    )
    .await;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let exchange = exchange?;
    Ok((
        Sent {
            method: request.method.clone(),
            url: url.clone(),
            target,
            headers: exchange.request_headers.clone(),
            body: request.body.clone(),
        },
        exchange,
    ))
}

/// The default headers, then the session's, then the items' (which may remove one).
fn request_headers(
    spec: &RequestSpec,
    session: &Session,
    content_type: Option<&str>,
    options: &HttpOptions,
) -> Result<HeaderMap, HttpError> {
    let mut headers = HeaderMap::new();
    headers.insert(header::USER_AGENT, HeaderValue::from_static(USER_AGENT));
    let accept = match spec.body {
        BodySpec::Json(_) => "application/json, */*;q=0.5",
        _ => "*/*",
    };
    headers.insert(header::ACCEPT, HeaderValue::from_static(accept));
    // Downloads are saved as sent: no decoding on the way to disk.
    let encodings = if options.download {
        "identity"
    } else {
        "gzip, deflate, br"
    };
    headers.insert(header::ACCEPT_ENCODING, HeaderValue::from_static(encodings));
    if let Some(content_type) = content_type {
        headers.insert(header::CONTENT_TYPE, header_value(content_type)?);
    }
    let set = |headers: &mut HeaderMap, name: &str, value: Option<&str>| {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| HttpError::Usage(format!("{name:?} is not a valid header name")))?;
        match value {
            Some(value) => {
                headers.insert(name, header_value(value)?);
            }
            // An empty value marks a removed default (dropped just before sending).
            None => {
                headers.insert(name, HeaderValue::from_static(""));
            }
        }
        Ok::<_, HttpError>(())
    };
    for (name, value) in &session.headers {
        set(&mut headers, name, Some(value))?;
    }
    // Items override defaults; repeated item names are all sent, as in httpie.
    let mut seen = std::collections::HashSet::new();
    for (name, value) in &spec.headers {
        let lower = name.to_ascii_lowercase();
        match value {
            Some(value) if seen.contains(&lower) => {
                let header_name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                    HttpError::Usage(format!("{name:?} is not a valid header name"))
                })?;
                headers.append(header_name, header_value(value)?);
            }
            _ => set(&mut headers, name, value.as_deref())?,
        }
        seen.insert(lower);
    }
    Ok(headers)
}

/// The body and its content type. Files are only looked at here (their sizes, for
/// Content-Length); they are read as the request is sent.
fn request_body(body: &BodySpec) -> Result<(Option<String>, RequestBody), HttpError> {
    let mut out = RequestBody::empty();
    let content_type = match body {
        BodySpec::None => None,
        BodySpec::Json(json) => {
            out.push_bytes(json.to_bytes());
            Some("application/json".into())
        }
        BodySpec::Form(fields) => {
            let mut form = form_urlencoded::Serializer::new(String::new());
            for (name, value) in fields {
                form.append_pair(name, value);
            }
            out.push_bytes(form.finish());
            Some("application/x-www-form-urlencoded; charset=utf-8".into())
        }
        BodySpec::Multipart { fields, files } => {
            // The framing is made here; each file goes between its head and the next.
            let boundary = random_hex(16);
            let quote = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
            let mut framing = String::new();
            for (name, value) in fields {
                framing.push_str(&format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{}\"\r\n\r\n{value}\r\n",
                    quote(name)
                ));
            }
            for file in files {
                let filename = file
                    .path
                    .file_name()
                    .map(|n| n.to_string_lossy().to_string())
                    .unwrap_or_default();
                let mime = file
                    .mime
                    .clone()
                    .unwrap_or_else(|| guess_mime(&filename).to_string());
                framing.push_str(&format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{}\"; filename=\"{}\"\r\nContent-Type: {mime}\r\n\r\n",
                    quote(&file.name),
                    quote(&filename)
                ));
                out.push_bytes(std::mem::take(&mut framing));
                out.push_file(&file.path)?;
                framing.push_str("\r\n");
            }
            framing.push_str(&format!("--{boundary}--\r\n"));
            out.push_bytes(framing);
            Some(format!("multipart/form-data; boundary={boundary}"))
        }
        BodySpec::Raw(RawBody::Text(text)) => {
            out.push_bytes(text.clone());
            None
        }
        BodySpec::Raw(RawBody::File(path)) => {
            out.push_file(path)?;
            // Typed by its extension when that says something, as httpie does for @file.
            let filename = path.file_name().map(|n| n.to_string_lossy().to_string());
            filename
                .map(|name| guess_mime(&name))
                .filter(|mime| *mime != "application/octet-stream")
                .map(str::to_string)
        }
    };
    Ok((content_type, out))
}

/// A bar on stderr for a transfer of `len` bytes (a spinner when the size is unknown).
fn progress_bar(len: Option<u64>) -> indicatif::ProgressBar {
    let bar = match len {
        Some(len) => indicatif::ProgressBar::new(len),
        None => indicatif::ProgressBar::new_spinner(),
    };
    bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
    if len.is_some() {
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} {eta}",
        ) {
            bar.set_style(style);
        }
    }
    bar
}

/// The content type of an uploaded file by its extension (httpie guesses too).
fn guess_mime(filename: &str) -> &'static str {
    let ext = filename
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "txt" | "text" => "text/plain",
        "json" => "application/json",
        "html" | "htm" => "text/html",
        "csv" => "text/csv",
        "xml" => "application/xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "pdf" => "application/pdf",
        _ => "application/octet-stream",
    }
}

/// Reads a whole body, at most `--max-body` bytes, waiting at most `--timeout` for each
/// piece.
async fn read_body(
    mut body: Incoming,
    url: &str,
    options: &HttpOptions,
) -> Result<Vec<u8>, HttpError> {
    let mut data = Vec::new();
    while let Some(chunk) = next_chunk(&mut body, url, options.timeout).await? {
        if data.len() + chunk.len() > options.max_body {
            return Err(HttpError::TooLarge {
                url: url.to_string(),
                limit: options.max_body,
            });
        }
        data.extend_from_slice(&chunk);
    }
    Ok(data)
}

/// The next data of a body (trailers skipped), `None` at its end.
async fn next_chunk(
    body: &mut Incoming,
    url: &str,
    timeout: Duration,
) -> Result<Option<Bytes>, HttpError> {
    loop {
        let frame = tokio::time::timeout(timeout, body.frame())
            .await
            .map_err(|_| HttpError::Timeout {
                url: url.to_string(),
                timeout,
            })?;
        match frame {
            None => return Ok(None),
            Some(Err(source)) => {
                return Err(HttpError::Http {
                    url: url.to_string(),
                    source,
                })
            }
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    return Ok(Some(data));
                }
            }
        }
    }
}

/// Streams the body to `--output` (or a name from the response), through a temp file
/// renamed into place once complete. No size cap: it goes to disk, not memory.
async fn download(
    response: hyper::Response<Incoming>,
    url: &url::Url,
    options: &HttpOptions,
) -> Result<(PathBuf, u64), HttpError> {
    use tokio::io::AsyncWriteExt;
    let expected: Option<u64> = response
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let path = match &options.output {
        Some(path) => path.clone(),
        None => unused_name(&download_name(response.headers(), url)),
    };
    let temp = sibling_temp(&path);
    let write_err = |source| HttpError::Download {
        path: path.clone(),
        source,
    };
    let mut file = tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&temp)
        .await
        .map_err(write_err)?;
    // Removes the temp file on every early return; disarmed after the rename.
    struct Cleanup(Option<PathBuf>);
    impl Drop for Cleanup {
        fn drop(&mut self) {
            if let Some(path) = self.0.take() {
                let _ = std::fs::remove_file(path);
            }
        }
    }
    let mut cleanup = Cleanup(Some(temp.clone()));
    let bar = options.progress.then(|| progress_bar(expected));
    let url_text = url.to_string();
    let mut body = response.into_body();
    let mut written = 0u64;
    while let Some(chunk) = next_chunk(&mut body, &url_text, options.timeout).await? {
        file.write_all(&chunk).await.map_err(write_err)?;
        written += chunk.len() as u64;
        if let Some(bar) = &bar {
            bar.set_position(written);
        }
    }
    file.flush().await.map_err(write_err)?;
    drop(file);
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    if let Some(expected) = expected {
        if written != expected {
            return Err(HttpError::Incomplete {
                expected,
                got: written,
            });
        }
    }
    std::fs::rename(&temp, &path).map_err(write_err)?;
    cleanup.0 = None;
    Ok((path, written))
}

/// The file name for a download: Content-Disposition's filename, else the URL's last
/// path segment, else `index`. Only a bare name is taken: no directories, no `..`.
fn download_name(headers: &HeaderMap, url: &url::Url) -> PathBuf {
    let from_header = headers
        .get(header::CONTENT_DISPOSITION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.split(';')
                .map(str::trim)
                .find_map(|p| p.strip_prefix("filename="))
                .map(|name| name.trim_matches('"').to_string())
        });
    let from_url = url
        .path_segments()
        .and_then(|mut segments| segments.next_back().map(str::to_string));
    let safe = |name: String| {
        let name = name
            .rsplit(['/', '\\'])
            .next()
            .unwrap_or_default()
            .to_string();
        (!name.is_empty() && name != "." && name != "..").then_some(name)
    };
    PathBuf::from(
        from_header
            .and_then(safe)
            .or_else(|| from_url.and_then(safe))
            .unwrap_or_else(|| "index".to_string()),
    )
}

/// `name`, or `name-1`, `name-2`, … when it exists (httpie does not overwrite).
fn unused_name(name: &Path) -> PathBuf {
    if !name.exists() {
        return name.to_path_buf();
    }
    for i in 1..10_000 {
        let candidate = PathBuf::from(format!("{}-{i}", name.display()));
        if !candidate.exists() {
            return candidate;
        }
    }
    name.to_path_buf()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_methods() {
        let prepared = |method: Method| Prepared {
            method,
            url: url::Url::parse("http://a/x").unwrap(),
            headers: HeaderMap::new(),
            body: {
                let mut body = RequestBody::empty();
                body.push_bytes(&b"data"[..]);
                body
            },
        };
        let next = url::Url::parse("http://a/y").unwrap();
        let r = redirected(prepared(Method::POST), StatusCode::FOUND, next.clone());
        assert_eq!((r.method, r.body.len()), (Method::GET, Some(0)));
        let r = redirected(
            prepared(Method::POST),
            StatusCode::TEMPORARY_REDIRECT,
            next.clone(),
        );
        assert_eq!((r.method, r.body.len()), (Method::POST, Some(4)));
        let r = redirected(prepared(Method::PUT), StatusCode::SEE_OTHER, next);
        assert_eq!(r.method, Method::GET);
    }

    #[test]
    fn download_names() {
        let url = url::Url::parse("http://h/bytes/100").unwrap();
        assert_eq!(download_name(&HeaderMap::new(), &url), PathBuf::from("100"));
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"../../etc/passwd\"".parse().unwrap(),
        );
        assert_eq!(download_name(&headers, &url), PathBuf::from("passwd"));
        let root = url::Url::parse("http://h/").unwrap();
        assert_eq!(
            download_name(&HeaderMap::new(), &root),
            PathBuf::from("index")
        );
    }

    #[test]
    fn exit_codes() {
        let code = |s: u16| {
            Outcome {
                status: StatusCode::from_u16(s).unwrap(),
            }
            .check_status_code()
        };
        assert_eq!((code(200), code(302), code(404), code(503)), (0, 3, 4, 5));
    }
}
