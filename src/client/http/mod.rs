//! `netkit http`: an httpie-style HTTP client on hyper (HTTP/1.1, h2 over TLS by ALPN,
//! h2c) and rustls. Items make the request ([`items`]); this module sends it, follows
//! redirects, answers auth challenges, keeps cookies, decodes the body ([`decode`]) and
//! shows it ([`output`]) or saves it (`--download`).

pub mod auth;
pub mod decode;
pub mod items;
pub mod output;
pub mod session;
pub mod transport;

use self::auth::{Auth, AuthType};
use self::items::{BodySpec, RawBody, RequestSpec};
use self::output::{PrintSpec, Render};
use self::session::Session;
use self::transport::TlsOptions;
use crate::client::ClientError;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, StatusCode};
use http_body_util::{BodyExt, Full};
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
    /// Show a progress bar for downloads (stderr is a terminal).
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
    body: Bytes,
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
    let (content_type, body) = body_bytes(&spec.body).await?;
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
                request = redirected(request, status, next);
            }
            _ => break (sent, exchange),
        }
    };

    let mut stdout = std::io::stdout().lock();
    let out = |stdout: &mut std::io::StdoutLock<'_>, bytes: &[u8]| {
        stdout.write_all(bytes).map_err(HttpError::Output)
    };
    let print = options.print;
    let color = options.render.color;
    if print.request_headers {
        let text = output::request_head(
            sent.method.as_str(),
            &sent.target,
            exchange.version,
            &sent.headers,
            color,
        );
        out(&mut stdout, text.as_bytes())?;
        out(&mut stdout, b"\n")?;
    }
    if print.request_body && !sent.body.is_empty() {
        let shown = output::body(&sent.body, content_type.as_deref(), options.render);
        out(&mut stdout, &shown)?;
        // One blank line between the request body and what follows.
        let gap: &[u8] = if shown.ends_with(b"\n") {
            b"\n"
        } else {
            b"\n\n"
        };
        out(&mut stdout, gap)?;
    }
    let response = exchange.response;
    let status = response.status();
    let url_text = sent.url.to_string();
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
            out(&mut stdout, text.as_bytes())?;
            out(&mut stdout, b"\n")?;
        }
        if print.response_body {
            let raw = read_body(response.into_body(), &url_text, &options).await?;
            let decoded = match headers
                .get(header::CONTENT_ENCODING)
                .and_then(|v| v.to_str().ok())
            {
                Some(coding) => {
                    decode::decode(coding, raw, options.max_body).map_err(|source| {
                        HttpError::Decode {
                            url: url_text.clone(),
                            source,
                        }
                    })?
                }
                None => raw,
            };
            let content_type = headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok());
            out(
                &mut stdout,
                &output::body(&decoded, content_type, options.render),
            )?;
        }
    }
    stdout.flush().map_err(HttpError::Output)?;
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
        request.body = Bytes::new();
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
    body: Bytes,
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
                    && exchange.response.status() == StatusCode::UNAUTHORIZED
                    && !answered_challenge =>
            {
                answered_challenge = true;
                let cnonce = random_hex(8);
                authorization = Some(auth.digest_answer(
                    &challenge,
                    request.method.as_str(),
                    &sent.target,
                    &request.body,
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
    if !request.body.is_empty() {
        headers.insert(
            header::CONTENT_LENGTH,
            HeaderValue::from(request.body.len()),
        );
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
    let http_request = builder
        .body(Full::new(request.body.clone()))
        .map_err(|e| HttpError::Usage(e.to_string()))?;
    let h2c = options.http2 && !needs_tls(url);
    let exchange = transport::send(
        &addr,
        &authority,
        use_tls,
        h2c,
        http_request,
        options.timeout,
    )
    .await?;
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

/// The body's bytes and content type; files are read here.
async fn body_bytes(body: &BodySpec) -> Result<(Option<String>, Bytes), HttpError> {
    let read = |path: &Path| {
        let path = path.to_path_buf();
        async move {
            tokio::fs::read(&path)
                .await
                .map_err(|source| HttpError::ReadFile { path, source })
        }
    };
    Ok(match body {
        BodySpec::None => (None, Bytes::new()),
        BodySpec::Json(map) => (
            Some("application/json".into()),
            Bytes::from(serde_json::to_vec(map).unwrap_or_default()),
        ),
        BodySpec::Form(fields) => {
            let mut form = form_urlencoded::Serializer::new(String::new());
            for (name, value) in fields {
                form.append_pair(name, value);
            }
            (
                Some("application/x-www-form-urlencoded; charset=utf-8".into()),
                Bytes::from(form.finish()),
            )
        }
        BodySpec::Multipart { fields, files } => {
            let boundary = random_hex(16);
            let mut out = Vec::new();
            let quote = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
            for (name, value) in fields {
                out.extend_from_slice(
                    format!(
                        "--{boundary}\r\nContent-Disposition: form-data; name=\"{}\"\r\n\r\n",
                        quote(name)
                    )
                    .as_bytes(),
                );
                out.extend_from_slice(value.as_bytes());
                out.extend_from_slice(b"\r\n");
            }
            for file in files {
                let data = read(&file.path).await?;
                let filename = file
                    .path
                    .file_name()
                    .map(|n| n.to_string_lossy().to_string())
                    .unwrap_or_default();
                let mime = file
                    .mime
                    .clone()
                    .unwrap_or_else(|| guess_mime(&filename).to_string());
                out.extend_from_slice(
                    format!(
                        "--{boundary}\r\nContent-Disposition: form-data; name=\"{}\"; filename=\"{}\"\r\nContent-Type: {mime}\r\n\r\n",
                        quote(&file.name),
                        quote(&filename)
                    )
                    .as_bytes(),
                );
                out.extend_from_slice(&data);
                out.extend_from_slice(b"\r\n");
            }
            out.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
            (
                Some(format!("multipart/form-data; boundary={boundary}")),
                Bytes::from(out),
            )
        }
        BodySpec::Raw(RawBody::Text(text)) => (None, Bytes::from(text.clone())),
        BodySpec::Raw(RawBody::File(path)) => (None, Bytes::from(read(path).await?)),
    })
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
    let bar = options.progress.then(|| {
        let bar = match expected {
            Some(len) => indicatif::ProgressBar::new(len),
            None => indicatif::ProgressBar::new_spinner(),
        };
        bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} {eta}",
        ) {
            if expected.is_some() {
                bar.set_style(style);
            }
        }
        bar
    });
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
            body: Bytes::from_static(b"data"),
        };
        let next = url::Url::parse("http://a/y").unwrap();
        let r = redirected(prepared(Method::POST), StatusCode::FOUND, next.clone());
        assert_eq!((r.method, r.body.len()), (Method::GET, 0));
        let r = redirected(
            prepared(Method::POST),
            StatusCode::TEMPORARY_REDIRECT,
            next.clone(),
        );
        assert_eq!((r.method, r.body.len()), (Method::POST, 4));
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
