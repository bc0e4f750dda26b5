//! `serve --http` (recipes 1 and 5) over real sockets: httpbin's endpoints checked by
//! Python's stdlib clients, recipe 5's documents compared with the recipe's own wsgiref
//! server, TLS with ALPN, and hostile requests (431, 413, 400, slowloris, garbage).

mod common;
use common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

const CHECK_HTTPBIN: &str = include_str!("http_python/check_httpbin.py");

fn http_serve(extra: &[&str]) -> Served {
    let mut args = vec!["--http", "127.0.0.1:0"];
    args.extend_from_slice(extra);
    serve(&args, 1)
}

#[test]
fn listening_line_says_http() {
    let server = http_serve(&[]);
    assert!(
        server.lines[0].starts_with("netkit: http listening on http://127.0.0.1:"),
        "{:?}",
        server.lines
    );
}

#[test]
fn httpbin_endpoints_with_every_python_stdlib_client() {
    let server = http_serve(&[]);
    let base = format!("http://{}", server.addr("http"));
    for py in pythons() {
        let out = python(&py, CHECK_HTTPBIN, &[&base]);
        assert_eq!(out.trim(), "ok", "{}", py.display());
    }
}

/// A raw HTTP/1.1 exchange: sends `request`, returns everything until the server closes.
fn raw(addr: &str, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    // The server may answer and close before it has read all of a hostile request.
    let _ = stream.write_all(request);
    let mut out = Vec::new();
    let _ = stream.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

fn get(addr: &str, target: &str) -> String {
    raw(
        addr,
        format!("GET {target} HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n").as_bytes(),
    )
}

fn body_of(response: &str) -> &str {
    response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b)
        .unwrap_or("")
}

fn header_of<'a>(response: &'a str, name: &str) -> Option<&'a str> {
    response.split("\r\n\r\n").next()?.lines().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.eq_ignore_ascii_case(name).then_some(v.trim())
    })
}

#[test]
fn hello_and_localtime_match_the_recipe_server() {
    let recipe = PythonServer::start(include_str!("../bench/python/rest_server.py"), &[]);
    let server = http_serve(&[]);
    let ours = server.addr("http");
    for target in [
        "/hello?name=World",
        "/hello",
        "/hello?name=a&name=b",
        "/nope",
    ] {
        let theirs = get(&recipe.addr(), target);
        let mine = get(ours, target);
        assert_eq!(body_of(&mine), body_of(&theirs), "{target}");
        assert_eq!(
            header_of(&mine, "content-type"),
            header_of(&theirs, "content-type"),
            "{target}"
        );
        assert_eq!(&mine[9..12], &theirs[9..12], "{target}"); // status code (wsgiref is 1.0)
    }
    // /localtime: the same document, field for field, up to the clock ticking.
    let strip = |doc: &str| -> Vec<String> {
        doc.lines()
            .map(|l| {
                let open = l.trim_start();
                match open.find('>') {
                    Some(i) if open.starts_with("<") && open[i..].contains("</") => {
                        open[..=i].to_string()
                    }
                    _ => l.to_string(),
                }
            })
            .collect()
    };
    let theirs = get(&recipe.addr(), "/localtime");
    let mine = get(ours, "/localtime");
    assert_eq!(strip(body_of(&mine)), strip(body_of(&theirs)));
    assert_eq!(header_of(&mine, "content-type"), Some("application/html"));
    let year = jiff::Zoned::now().year().to_string();
    assert!(body_of(&mine).contains(&format!("<year>{year}</year>")));
}

#[test]
fn hello_escapes_name_and_answers_get_only() {
    let server = http_serve(&[]);
    let addr = server.addr("http");
    let response = get(addr, "/hello?name=%3Cscript%3Ealert(1)%3C/script%3E");
    assert!(
        body_of(&response).contains("<h1>Hello &lt;script&gt;alert(1)&lt;/script&gt;!</h1>"),
        "{response}"
    );
    // The recipe's PathDispatcher registers GET only: any other method is its 404, HEAD
    // included (wsgiref hands HEAD through as is).
    let form = "name=Form+User";
    for (method, target) in [
        ("POST", "/hello"),
        ("PUT", "/hello"),
        ("POST", "/localtime"),
    ] {
        let response = raw(
            addr,
            format!(
                "{method} {target} HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\
                 Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{form}",
                form.len()
            )
            .as_bytes(),
        );
        assert!(
            response.starts_with("HTTP/1.1 404 Not Found\r\n"),
            "{response}"
        );
        assert_eq!(header_of(&response, "content-type"), Some("text/plain"));
        assert_eq!(body_of(&response), "Not Found");
    }
    let (head, body) = exchange(
        addr,
        "HEAD /hello HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
    );
    assert!(head.starts_with("HTTP/1.1 404 "), "{head}");
    assert!(body.is_empty());
}

#[test]
fn hostile_requests_get_http_errors_not_crashes() {
    let server = http_serve(&["--http-max-body", "1KiB", "--http-max-headers", "20"]);
    let addr = server.addr("http");

    // Head over 64 KiB: 431.
    let huge = format!(
        "GET /get HTTP/1.1\r\nHost: h\r\nX-Big: {}\r\n\r\n",
        "a".repeat(100_000)
    );
    assert!(raw(addr, huge.as_bytes()).starts_with("HTTP/1.1 431 "));
    // Too many headers: 431.
    let many: String = (0..50).map(|i| format!("X-{i}: v\r\n")).collect();
    let request = format!("GET /get HTTP/1.1\r\nHost: h\r\n{many}\r\n");
    assert!(raw(addr, request.as_bytes()).starts_with("HTTP/1.1 431 "));

    // Declared body over the cap: 413 without reading it; chunked over the cap: 413.
    let request = "POST /post HTTP/1.1\r\nHost: h\r\nContent-Length: 5000\r\n\r\n";
    assert!(raw(addr, request.as_bytes()).starts_with("HTTP/1.1 413 "));
    let chunk = format!("800\r\n{}\r\n", "x".repeat(0x800));
    let request = format!(
        "POST /post HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{chunk}0\r\n\r\n"
    );
    assert!(raw(addr, request.as_bytes()).starts_with("HTTP/1.1 413 "));

    // Malformed request line and pipelined garbage: 400, then closed.
    assert!(raw(addr, b"GARBAGE\r\n\r\n").starts_with("HTTP/1.1 400 "));
    let pipelined = b"GET /get HTTP/1.1\r\nHost: h\r\n\r\n\x00\x01\x02 nonsense \xff\r\n\r\n";
    let out = raw(addr, pipelined);
    assert!(out.starts_with("HTTP/1.1 200 "), "{out}");
    assert!(out.contains("HTTP/1.1 400 "), "{out}");

    // Still serving.
    assert!(get(addr, "/get").starts_with("HTTP/1.1 200 "));
}

#[test]
fn slowloris_is_closed_at_the_header_timeout() {
    let server = http_serve(&["--http-header-timeout", "0.5"]);
    let mut stream = TcpStream::connect(server.addr("http")).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream
        .write_all(b"GET /get HTTP/1.1\r\nHost: h\r\n")
        .unwrap();
    // Trickle a header byte now and then; the server must give up on its own.
    let mut out = Vec::new();
    let mut closed = false;
    for _ in 0..300 {
        if stream.write_all(b"X").is_err() {
            closed = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
        stream.set_nonblocking(true).unwrap();
        let mut buf = [0u8; 1024];
        match stream.read(&mut buf) {
            Ok(0) => {
                closed = true;
                break;
            }
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(_) => {
                closed = true;
                break;
            }
        }
        stream.set_nonblocking(false).unwrap();
    }
    assert!(
        closed,
        "connection still open; got {:?}",
        String::from_utf8_lossy(&out)
    );
}

#[test]
fn delay_and_redirect_caps() {
    let server = http_serve(&[
        "--http-max-delay",
        "0",
        "--http-allow-redirect",
        "example.com",
    ]);
    let addr = server.addr("http");
    // /delay/60 is cut to the cap (0 s) and answers at once.
    assert!(get(addr, "/delay/60").starts_with("HTTP/1.1 200 "));
    let out = get(addr, "/redirect-to?url=https://example.com/x");
    assert!(out.starts_with("HTTP/1.1 302 "), "{out}");
    assert_eq!(header_of(&out, "location"), Some("https://example.com/x"));
    assert!(get(addr, "/redirect-to?url=https://evil.example/").starts_with("HTTP/1.1 403 "));
}

fn gen_certs(dir: &Path) {
    let out = netkit(&["tls", "gen-cert", "--out", dir.to_str().unwrap()], b"");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

const PY_HTTPS: &str = r#"
import json, ssl, sys, urllib.request
ctx = ssl.create_default_context(cafile=sys.argv[2])
with urllib.request.urlopen(sys.argv[1] + "/get?x=1", context=ctx, timeout=30) as r:
    doc = json.load(r)
assert doc["url"] == sys.argv[1] + "/get?x=1", doc
assert doc["args"] == {"x": "1"}, doc
import socket
ctx.set_alpn_protocols(["h2", "http/1.1"])
with socket.create_connection(("127.0.0.1", int(sys.argv[1].rsplit(":", 1)[1])), timeout=30) as raw:
    with ctx.wrap_socket(raw, server_hostname="localhost") as s:
        print(s.selected_alpn_protocol())
"#;

#[test]
fn https_with_alpn_h2() {
    let dir = tempfile::tempdir().unwrap();
    gen_certs(dir.path());
    let cert = dir.path().join("server.pem");
    let key = dir.path().join("server.key");
    let server = serve(
        &[
            "--http",
            "127.0.0.1:0",
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
        1,
    );
    let url = &server.urls["http"];
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");
    let base = url.replace("127.0.0.1", "localhost");
    let ca = dir.path().join("ca.pem");
    let out = python(&"python3".into(), PY_HTTPS, &[&base, ca.to_str().unwrap()]);
    assert_eq!(out.trim(), "h2");
}

#[test]
fn sigterm_drains_keep_alive_connections() {
    let mut server = http_serve(&[]);
    let mut stream = TcpStream::connect(server.addr("http")).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream
        .write_all(b"GET /get HTTP/1.1\r\nHost: h\r\n\r\n")
        .unwrap();
    let mut buf = [0u8; 4096];
    let n = stream.read(&mut buf).unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200 "));
    server.signal("TERM");
    let (code, _) = server.wait_exit(Duration::from_secs(20));
    assert_eq!(code, Some(0));
}

#[test]
fn gzip_request_bodies_decode_only_when_asked_and_under_the_cap() {
    use std::io::Write as _;
    let gz = |data: &[u8]| {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    };
    let post = |addr: &str, body: &[u8]| {
        let mut request = format!(
            "POST /post HTTP/1.1\r\nHost: h\r\nConnection: close\r\nContent-Type: text/plain\r\n\
             Content-Encoding: gzip\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        request.extend_from_slice(body);
        raw(addr, &request)
    };
    let plain = http_serve(&[]);
    let out = post(plain.addr("http"), &gz(b"hello"));
    assert!(
        out.contains("\"data\": \"data:application/octet-stream;base64,"),
        "{out}"
    );

    let decoding = http_serve(&["--http-decode-bodies", "--http-max-body", "1MiB"]);
    let out = post(decoding.addr("http"), &gz(b"hello"));
    assert!(out.contains("\"data\": \"hello\""), "{out}");
    // 64 MiB of zeros compress to ~64 KiB: refused at the decoded cap, not expanded.
    let bomb = gz(&vec![0u8; 64 << 20]);
    assert!(bomb.len() < 1 << 20);
    assert!(post(decoding.addr("http"), &bomb).starts_with("HTTP/1.1 413 "));
    assert!(post(decoding.addr("http"), b"not gzip").starts_with("HTTP/1.1 400 "));
}

#[test]
fn h2c_prior_knowledge_is_answered_with_http2_settings() {
    let server = http_serve(&[]);
    let mut stream = TcpStream::connect(server.addr("http")).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    // The client preface, then an empty SETTINGS frame (length 0, type 4, flags 0, stream 0).
    let mut preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    preface.extend_from_slice(&[0, 0, 0, 4, 0, 0, 0, 0, 0]);
    stream.write_all(&preface).unwrap();
    let mut head = [0u8; 9];
    stream.read_exact(&mut head).unwrap();
    assert_eq!(head[3], 4, "first frame is SETTINGS: {head:?}");
    assert_eq!(&head[5..9], &[0, 0, 0, 0], "on stream 0");
}

#[test]
fn brotli_endpoint_is_brotli_encoded_json() {
    let server = http_serve(&[]);
    let out = raw(
        server.addr("http"),
        b"GET /brotli HTTP/1.1\r\nHost: h\r\nAccept-Encoding: br\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(header_of(&out, "content-encoding"), Some("br"));
    // The raw bytes, not the lossy text, go to the decoder.
    let mut stream = TcpStream::connect(server.addr("http")).unwrap();
    stream
        .write_all(b"GET /brotli HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let mut plain = Vec::new();
    brotli::BrotliDecompress(&mut &response[split..], &mut plain).unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&plain).unwrap();
    assert_eq!(doc["brotli"], true);
    assert_eq!(doc["method"], "GET");
    assert_eq!(doc["headers"]["Host"], "h");
}

#[test]
fn idle_keep_alive_connections_close_at_the_header_timeout() {
    let server = http_serve(&["--http-header-timeout", "0.5"]);
    let mut stream = TcpStream::connect(server.addr("http")).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream
        .write_all(b"GET /bytes/10 HTTP/1.1\r\nHost: h\r\n\r\n")
        .unwrap();
    let mut response = Vec::new();
    let mut buf = [0u8; 4096];
    // Read the whole response, then wait for the server to give up on the idle connection.
    loop {
        let n = stream.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        response.extend_from_slice(&buf[..n]);
    }
    assert!(response.starts_with(b"HTTP/1.1 200 "));
}

#[test]
fn ten_thousand_idle_keep_alive_connections_and_still_serving() {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let limit = getrlimit(Resource::Nofile);
    let _ = setrlimit(
        Resource::Nofile,
        Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        },
    );
    let available = getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX);
    // 10,000 where the hard limit allows (it does on CI); fewer rather than a spurious failure.
    let n = 10_000usize.min(available.saturating_sub(200) as usize);
    let server = http_serve(&["--http-header-timeout", "300"]);
    let addr = server.addr("http");
    let mut idle = Vec::with_capacity(n);
    for _ in 0..n {
        // Under a loaded CI machine the accept queue can overflow for a moment; a refused
        // connect is retried (bounded), as a real client would.
        let mut attempts = 0;
        let stream = loop {
            match TcpStream::connect(addr) {
                Ok(stream) => break stream,
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused && attempts < 50 => {
                    attempts += 1;
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => panic!("connect {}: {e}", idle.len()),
            }
        };
        idle.push(stream);
    }
    // A request on the first, the last and a fresh connection: all answered.
    let last = idle.len() - 1;
    for index in [0, last] {
        let stream = &mut idle[index];
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        stream
            .write_all(b"GET /get HTTP/1.1\r\nHost: h\r\n\r\n")
            .unwrap();
        let mut buf = [0u8; 12];
        stream.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"HTTP/1.1 200");
    }
    assert!(get(addr, "/get").starts_with("HTTP/1.1 200 "));
    let rss_mib = server.vm_hwm_kib() / 1024;
    eprintln!("{n} idle connections: peak RSS {rss_mib} MiB");
    // Tens of KiB per idle connection would mean buffers held per socket.
    assert!(rss_mib < 256, "{rss_mib} MiB for {n} idle connections");
}

#[test]
fn websocket_echo_text_binary_ping_close() {
    let server = http_serve(&["--http-max-body", "64KiB"]);
    let mut stream = TcpStream::connect(server.addr("http")).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream
        .write_all(
            b"GET /websocket/echo HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\
              Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
              Sec-WebSocket-Version: 13\r\n\r\n",
        )
        .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap();
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    assert_eq!(
        header_of(&head, "sec-websocket-accept"),
        Some("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    );
    let masked = |opcode: u8, payload: &[u8]| {
        let mask = [1u8, 2, 3, 4];
        let mut frame = vec![0x80 | opcode];
        if payload.len() < 126 {
            frame.push(0x80 | payload.len() as u8);
        } else {
            frame.push(0x80 | 126);
            frame.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        }
        frame.extend_from_slice(&mask);
        frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        frame
    };
    let read_frame = |stream: &mut TcpStream| {
        let mut h = [0u8; 2];
        stream.read_exact(&mut h).unwrap();
        let len = match h[1] {
            126 => {
                let mut l = [0u8; 2];
                stream.read_exact(&mut l).unwrap();
                u16::from_be_bytes(l) as usize
            }
            n => n as usize,
        };
        let mut payload = vec![0u8; len];
        stream.read_exact(&mut payload).unwrap();
        (h[0], payload)
    };
    stream.write_all(&masked(0x1, b"hello")).unwrap();
    assert_eq!(read_frame(&mut stream), (0x81, b"hello".to_vec()));
    let big: Vec<u8> = (0..1000u32).map(|i| i as u8).collect();
    stream.write_all(&masked(0x2, &big)).unwrap();
    assert_eq!(read_frame(&mut stream), (0x82, big));
    stream.write_all(&masked(0x9, b"p")).unwrap();
    assert_eq!(read_frame(&mut stream), (0x8A, b"p".to_vec()));
    stream.write_all(&masked(0x8, &[0x03, 0xE8])).unwrap();
    assert_eq!(read_frame(&mut stream), (0x88, vec![0x03, 0xE8]));

    // Not an upgrade: 400.
    assert!(get(server.addr("http"), "/websocket/echo").starts_with("HTTP/1.1 400 "));
}

/// A raw HTTP/1.1 exchange on a fresh connection: the head as text and the body as bytes.
fn exchange(addr: &str, request: &str) -> (String, Vec<u8>) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut out = Vec::new();
    stream.read_to_end(&mut out).unwrap();
    let split = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response head")
        + 4;
    let head = String::from_utf8(out[..split].to_vec()).unwrap();
    (head, out[split..].to_vec())
}

/// GET `target` with extra header lines (each ending in \r\n), Connection: close.
fn get_with(addr: &str, target: &str, headers: &str) -> (String, Vec<u8>) {
    exchange(
        addr,
        &format!("GET {target} HTTP/1.1\r\nHost: h\r\n{headers}Connection: close\r\n\r\n"),
    )
}

fn asset(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("assets")
            .join(name),
    )
    .unwrap()
}

fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn image_endpoints_serve_each_format() {
    let server = http_serve(&[]);
    let addr = server.addr("http");
    let cases: [(&str, &str, &str, &[u8]); 4] = [
        ("/image/png", "image/png", "image.png", b"\x89PNG\r\n\x1a\n"),
        ("/image/jpeg", "image/jpeg", "image.jpeg", b"\xff\xd8\xff"),
        ("/image/webp", "image/webp", "image.webp", b"RIFF"),
        ("/image/svg", "image/svg+xml", "image.svg", b"<?xml"),
    ];
    for (path, content_type, file, magic) in cases {
        let (head, body) = get_with(addr, path, "");
        assert!(head.starts_with("HTTP/1.1 200 "), "{path}: {head}");
        assert_eq!(
            header_of(&head, "content-type"),
            Some(content_type),
            "{path}"
        );
        assert!(body.starts_with(magic), "{path}");
        assert_eq!(body, asset(file), "{path}");
        let length = body.len().to_string();
        assert_eq!(header_of(&head, "content-length"), Some(length.as_str()));
    }
    let (_, webp) = get_with(addr, "/image/webp", "");
    assert_eq!(&webp[8..12], b"WEBP");
    assert_eq!(&webp[4..8], &(webp.len() as u32 - 8).to_le_bytes());
}

#[test]
fn image_negotiates_by_accept_like_httpbin() {
    let server = http_serve(&[]);
    let addr = server.addr("http");
    for (accept, content_type) in [
        ("", "image/png"),
        ("Accept: image/webp,*/*\r\n", "image/webp"),
        ("Accept: image/svg+xml\r\n", "image/svg+xml"),
        ("Accept: image/jpeg\r\n", "image/jpeg"),
        ("Accept: image/png\r\n", "image/png"),
        ("Accept: image/*\r\n", "image/png"),
        (
            "Accept: IMAGE/JPEG;q=0.9, image/svg+xml\r\n",
            "image/svg+xml",
        ),
    ] {
        let (head, _) = get_with(addr, "/image", accept);
        assert!(head.starts_with("HTTP/1.1 200 "), "{accept:?}: {head}");
        assert_eq!(
            header_of(&head, "content-type"),
            Some(content_type),
            "{accept:?}"
        );
    }
    for accept in ["Accept: text/html\r\n", "Accept: */*\r\n"] {
        let (head, body) = get_with(addr, "/image", accept);
        assert!(head.starts_with("HTTP/1.1 406 "), "{accept:?}: {head}");
        assert_eq!(header_of(&head, "content-type"), Some("application/json"));
        assert_eq!(
            String::from_utf8(body).unwrap(),
            r#"{"message": "Client did not request a supported media type.", "accept": ["image/webp", "image/svg+xml", "image/jpeg", "image/png", "image/*"]}"#
        );
    }
}

#[test]
fn html_and_utf8_are_httpbins_files_byte_for_byte() {
    let server = http_serve(&[]);
    let addr = server.addr("http");
    for (path, file, sha) in [
        (
            "/html",
            "moby.html",
            "e250a7975d53801ed8c35271780a15a1da36a8a5383327cb706dea252b340d48",
        ),
        (
            "/encoding/utf8",
            "UTF-8-demo.txt",
            "7512cc557d821d9a78a97ac974622d463a5d37f82ad7f6b052bcaa3ac4441ec1",
        ),
    ] {
        let (head, body) = get_with(addr, path, "");
        assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
        assert_eq!(
            header_of(&head, "content-type"),
            Some("text/html; charset=utf-8")
        );
        assert_eq!(sha256_hex(&asset(file)), sha, "{file} is httpbin's");
        assert_eq!(sha256_hex(&body), sha, "{path}");
    }
}

fn decode(encoding: &str, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    match encoding {
        "gzip" => {
            flate2::read::GzDecoder::new(body)
                .read_to_end(&mut out)
                .unwrap();
        }
        "deflate" => {
            flate2::read::ZlibDecoder::new(body)
                .read_to_end(&mut out)
                .unwrap();
        }
        "br" => {
            brotli::BrotliDecompress(&mut &body[..], &mut out).unwrap();
        }
        other => panic!("unexpected encoding {other}"),
    }
    out
}

#[test]
fn responses_are_compressed_by_accept_encoding() {
    let server = http_serve(&[]);
    let addr = server.addr("http");
    let moby = asset("moby.html");

    // No Accept-Encoding: the plain body, but Vary says it could differ.
    let (head, body) = get_with(addr, "/html", "");
    assert_eq!(header_of(&head, "content-encoding"), None);
    assert_eq!(header_of(&head, "vary"), Some("accept-encoding"));
    assert_eq!(body, moby);

    for (accept, encoding) in [
        ("gzip", "gzip"),
        ("deflate", "deflate"),
        ("br", "br"),
        ("gzip, deflate, br", "br"),
        ("br;q=0.2, gzip;q=0.8", "gzip"),
        ("br;q=0, *", "gzip"),
    ] {
        let (head, body) = get_with(addr, "/html", &format!("Accept-Encoding: {accept}\r\n"));
        assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
        assert_eq!(
            header_of(&head, "content-encoding"),
            Some(encoding),
            "{accept}"
        );
        assert_eq!(header_of(&head, "vary"), Some("accept-encoding"));
        assert_eq!(
            header_of(&head, "content-type"),
            Some("text/html; charset=utf-8")
        );
        let length = body.len().to_string();
        assert_eq!(header_of(&head, "content-length"), Some(length.as_str()));
        assert!(body.len() < moby.len(), "{accept}: {} bytes", body.len());
        assert_eq!(decode(encoding, &body), moby, "{accept}");
    }

    // Every coding refused, or only unknown ones: plain.
    for accept in ["gzip;q=0, deflate;q=0, br;q=0", "*;q=0", "identity", "zstd"] {
        let (head, body) = get_with(addr, "/html", &format!("Accept-Encoding: {accept}\r\n"));
        assert_eq!(header_of(&head, "content-encoding"), None, "{accept}");
        assert_eq!(body, moby, "{accept}");
    }

    let utf8 = asset("UTF-8-demo.txt");
    let (head, body) = get_with(addr, "/encoding/utf8", "Accept-Encoding: gzip\r\n");
    assert_eq!(header_of(&head, "content-encoding"), Some("gzip"));
    assert_eq!(decode("gzip", &body), utf8);
}

#[test]
fn compression_leaves_alone_what_it_must() {
    let server = http_serve(&[]);
    let addr = server.addr("http");
    let gzip = "Accept-Encoding: gzip, br\r\n";

    // Small JSON: under the threshold, no encoding and no Vary.
    let (head, _) = get_with(addr, "/json", gzip);
    assert_eq!(header_of(&head, "content-encoding"), None);
    assert_eq!(header_of(&head, "vary"), None);
    // Binary and byte-exact endpoints.
    for path in [
        "/bytes/4096",
        "/stream-bytes/4096",
        "/range/4096",
        "/image/png",
    ] {
        let (head, body) = get_with(addr, path, gzip);
        assert!(head.starts_with("HTTP/1.1 200 "), "{path}: {head}");
        assert_eq!(header_of(&head, "content-encoding"), None, "{path}");
        assert!(body.len() >= 300, "{path}");
    }
    // Already encoded: /gzip keeps its one gzip layer.
    let (head, body) = get_with(addr, "/gzip", gzip);
    assert_eq!(header_of(&head, "content-encoding"), Some("gzip"));
    let doc: serde_json::Value = serde_json::from_slice(&decode("gzip", &body)).unwrap();
    assert_eq!(doc["gzipped"], true);
    // HEAD: no body to compress, no encoding announced.
    let (head, body) = exchange(
        addr,
        "HEAD /html HTTP/1.1\r\nHost: h\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n",
    );
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
    assert_eq!(header_of(&head, "content-encoding"), None);
    assert!(body.is_empty());
    // 304 from /cache.
    let (head, body) = get_with(
        addr,
        "/cache",
        "If-None-Match: x\r\nAccept-Encoding: gzip\r\n",
    );
    assert!(head.starts_with("HTTP/1.1 304 "), "{head}");
    assert_eq!(header_of(&head, "content-encoding"), None);
    assert!(body.is_empty());
}

/// The `name="value"` parameters of a challenge.
fn challenge_param(challenge: &str, name: &str) -> Option<String> {
    let start = challenge.find(&format!("{name}="))? + name.len() + 1;
    let rest = &challenge[start..];
    let value = match rest.strip_prefix('"') {
        Some(quoted) => quoted.split('"').next()?,
        None => rest.split([',', ' ']).next()?,
    };
    Some(value.to_string())
}

/// An `Authorization: Digest` header line for MD5 with qop=auth.
fn digest_header(path: &str, user: &str, password: &str, nonce: &str, nc: u32) -> String {
    use md5::{Digest, Md5};
    let hex = |data: String| -> String {
        Md5::digest(data.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    };
    let realm = "me@kennethreitz.com";
    let cnonce = "0a4f113b";
    let nc = format!("{nc:08x}");
    let ha1 = hex(format!("{user}:{realm}:{password}"));
    let ha2 = hex(format!("GET:{path}"));
    let response = hex(format!("{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}"));
    format!(
        "Authorization: Digest username=\"{user}\", realm=\"{realm}\", nonce=\"{nonce}\", \
         uri=\"{path}\", qop=auth, nc={nc}, cnonce=\"{cnonce}\", response=\"{response}\", \
         opaque=\"x\", algorithm=MD5\r\n"
    )
}

/// Asks for a challenge; returns its nonce after checking its `stale` flag.
fn digest_challenge(addr: &str, path: &str, headers: &str, stale: &str) -> String {
    let (head, body) = get_with(addr, path, headers);
    assert!(head.starts_with("HTTP/1.1 401 "), "{head}");
    assert!(body.is_empty());
    let challenge = header_of(&head, "www-authenticate").unwrap();
    assert!(challenge.starts_with("Digest realm=\"me@kennethreitz.com\", nonce=\""));
    assert_eq!(challenge_param(challenge, "qop").as_deref(), Some("auth"));
    assert_eq!(
        challenge_param(challenge, "algorithm").as_deref(),
        Some("MD5")
    );
    assert_eq!(
        challenge_param(challenge, "stale").as_deref(),
        Some(stale),
        "{challenge}"
    );
    challenge_param(challenge, "nonce").unwrap()
}

const DIGEST_OK: &str = "{\n  \"authenticated\": true,\n  \"user\": \"user\"\n}\n";

#[test]
fn digest_auth_nonces_go_stale_after_stale_after_uses() {
    let server = http_serve(&[]);
    let addr = server.addr("http");
    let path = "/digest-auth/auth/user/passwd/MD5/2";
    let ok = |nonce: &str, nc| {
        let (head, body) = get_with(
            addr,
            path,
            &digest_header(path, "user", "passwd", nonce, nc),
        );
        assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
        assert_eq!(String::from_utf8(body).unwrap(), DIGEST_OK);
    };

    let first = digest_challenge(addr, path, "", "FALSE");
    ok(&first, 1);
    ok(&first, 2);
    // The third use of the nonce: a stale challenge with a new nonce, which works.
    let second = digest_challenge(
        addr,
        path,
        &digest_header(path, "user", "passwd", &first, 3),
        "TRUE",
    );
    assert_ne!(second, first);
    ok(&second, 1);

    // A wrong password with a fresh nonce is a plain (not stale) challenge.
    let third = digest_challenge(addr, path, "", "FALSE");
    digest_challenge(
        addr,
        path,
        &digest_header(path, "user", "wrong", &third, 1),
        "FALSE",
    );
    ok(&third, 2);

    // A nonce the server never issued is stale when uses are counted.
    digest_challenge(
        addr,
        path,
        &digest_header(
            path,
            "user",
            "passwd",
            "00112233445566778899aabbccddeeff",
            1,
        ),
        "TRUE",
    );

    // stale_after 0: the first use is already stale.
    let zero = "/digest-auth/auth/user/passwd/MD5/0";
    let nonce = digest_challenge(addr, zero, "", "FALSE");
    digest_challenge(
        addr,
        zero,
        &digest_header(zero, "user", "passwd", &nonce, 1),
        "TRUE",
    );
}

#[test]
fn digest_auth_never_stale() {
    let server = http_serve(&[]);
    let addr = server.addr("http");
    for path in [
        "/digest-auth/auth/user/passwd/MD5/never",
        "/digest-auth/auth/user/passwd/MD5",
        "/digest-auth/auth/user/passwd",
    ] {
        let nonce = digest_challenge(addr, path, "", "FALSE");
        for nc in 1..=5 {
            let (head, body) = get_with(
                addr,
                path,
                &digest_header(path, "user", "passwd", &nonce, nc),
            );
            assert!(head.starts_with("HTTP/1.1 200 "), "{path} use {nc}: {head}");
            assert_eq!(String::from_utf8(body).unwrap(), DIGEST_OK);
        }
    }
    // Seven segments is no route.
    let (head, _) = get_with(addr, "/digest-auth/auth/user/passwd/MD5/1/extra", "");
    assert!(head.starts_with("HTTP/1.1 404 "), "{head}");
}

/// Every value of header `name` in a response head, in order.
fn headers_of<'a>(head: &'a str, name: &str) -> Vec<&'a str> {
    head.lines()
        .filter_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then_some(v.trim())
        })
        .collect()
}

#[test]
fn landing_page_and_spec_are_served_from_memory_compressed_with_etags() {
    let server = http_serve(&[]);
    let addr = server.addr("http");
    let (head, body) = get_with(addr, "/", "");
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert_eq!(
        header_of(&head, "content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(header_of(&head, "content-encoding"), None);
    assert_eq!(headers_of(&head, "vary"), ["accept-encoding"]);
    assert_eq!(header_of(&head, "cache-control"), Some("no-cache"));
    let length: usize = header_of(&head, "content-length").unwrap().parse().unwrap();
    assert_eq!(length, body.len());
    let etag = header_of(&head, "etag").unwrap().to_string();
    assert_eq!(etag.len(), 18, "{etag}"); // "<16 hex digits>"
    let page = String::from_utf8(body).unwrap();
    for needle in [
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">",
        "<a href=\"/forms/post\">",
        "<a href=\"/spec.json\">",
        "<a href=\"/get?show=me\">/get?show=me</a>",
        "<a href=\"/hello?name=Guido\">",
        "<a href=\"/localtime\">",
        "<a href=\"/websocket/echo\">",
        "<a href=\"/sse?count=3&amp;duration=1\">",
        "<a href=\"/jsonl?count=3\">",
        "/upload",
        "<h2>Dynamic data</h2>",
        "<h2>netkit's own</h2>",
    ] {
        assert!(page.contains(needle), "{needle} not on the page");
    }
    assert!(!page.contains("<script") && !page.contains("https://"));

    for (accept, coding) in [
        ("gzip, deflate, br", "br"),
        ("gzip", "gzip"),
        ("deflate", "deflate"),
    ] {
        let (head, body) = get_with(addr, "/", &format!("Accept-Encoding: {accept}\r\n"));
        assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
        assert_eq!(header_of(&head, "content-encoding"), Some(coding));
        assert_eq!(headers_of(&head, "vary"), ["accept-encoding"]);
        let tagged = format!("\"{}-{coding}\"", &etag[1..17]);
        assert_eq!(header_of(&head, "etag"), Some(tagged.as_str()));
        assert_eq!(decode(coding, &body), page.as_bytes());
        // Its own tag gets 304; the plain one does not match the encoded representation.
        let (head, body) = get_with(
            addr,
            "/",
            &format!("Accept-Encoding: {accept}\r\nIf-None-Match: {tagged}\r\n"),
        );
        assert!(head.starts_with("HTTP/1.1 304 "), "{head}");
        assert!(body.is_empty());
        let (head, _) = get_with(
            addr,
            "/",
            &format!("Accept-Encoding: {accept}\r\nIf-None-Match: {etag}\r\n"),
        );
        assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
    }
    let (head, body) = get_with(addr, "/", &format!("If-None-Match: W/{etag}\r\n"));
    assert!(head.starts_with("HTTP/1.1 304 Not Modified\r\n"), "{head}");
    assert_eq!(header_of(&head, "etag"), Some(etag.as_str()));
    assert!(body.is_empty());

    let (head, body) = get_with(addr, "/spec.json", "");
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
    assert_eq!(header_of(&head, "content-type"), Some("application/json"));
    assert!(header_of(&head, "etag").is_some());
    let spec: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(spec["openapi"], "3.1.0");
    let methods = |path: &str| -> Vec<String> {
        let mut list: Vec<String> = spec["paths"][path]
            .as_object()
            .unwrap_or_else(|| panic!("{path} not in the spec"))
            .keys()
            .cloned()
            .collect();
        list.sort();
        list
    };
    assert_eq!(methods("/get"), ["get"]);
    assert_eq!(methods("/hello"), ["get"]);
    assert_eq!(methods("/head"), ["head"]);
    assert_eq!(methods("/upload"), ["patch", "post", "put"]);
    assert_eq!(
        methods("/anything/{anything}"),
        ["delete", "get", "patch", "post", "put"]
    );
    assert_eq!(
        spec["paths"]["/bytes/{n}"]["get"]["parameters"][0],
        serde_json::json!({"name": "n", "in": "path", "required": true,
            "description": "how many", "schema": {"type": "integer"}})
    );
    assert_eq!(
        spec["paths"]["/get"]["get"]["responses"]["200"]["content"]["application/json"]["schema"],
        serde_json::json!({"$ref": "#/components/schemas/Echo"})
    );
    // Compressed like the page, from memory.
    let (head, body) = get_with(addr, "/spec.json", "Accept-Encoding: gzip\r\n");
    assert_eq!(header_of(&head, "content-encoding"), Some("gzip"));
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&decode("gzip", &body)).unwrap(),
        spec
    );
}

const PY_COOKIE_JAR: &str = r#"
import http.cookiejar, sys, urllib.request
jar = http.cookiejar.CookieJar()
opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
opener.open(sys.argv[1] + '/cookies/set?foo=%22bar:baz%22', timeout=30).read()
print([c.value for c in jar if c.name == 'foo'][0])
"#;

#[test]
fn a_quoted_cookie_value_is_set_as_given() {
    let server = http_serve(&[]);
    let addr = server.addr("http");
    let (head, _) = get_with(addr, "/cookies/set?foo=%22bar:baz%22", "");
    assert!(head.starts_with("HTTP/1.1 302 "), "{head}");
    assert_eq!(headers_of(&head, "set-cookie"), ["foo=\"bar:baz\"; Path=/"]);
    // A quote inside a value still cannot get through.
    let (head, _) = get_with(addr, "/cookies/set?foo=%22a%22b%22", "");
    assert!(head.starts_with("HTTP/1.1 400 "), "{head}");
    // Python's cookiejar (which requests keeps its cookies in) reads it back quoted.
    let base = format!("http://{addr}");
    let out = python(&"python3".into(), PY_COOKIE_JAR, &[&base]);
    assert_eq!(out, "\"bar:baz\"\n");
}

#[test]
fn digest_auth_sets_httpbins_cookies() {
    let server = http_serve(&[]);
    let addr = server.addr("http");
    let path = "/digest-auth/auth/user/passwd/MD5";
    let (head, _) = get_with(addr, path, "");
    assert!(head.starts_with("HTTP/1.1 401 "), "{head}");
    assert_eq!(
        headers_of(&head, "set-cookie"),
        ["stale_after=never; Path=/", "fake=fake_value; Path=/"]
    );
    let nonce = challenge_param(header_of(&head, "www-authenticate").unwrap(), "nonce").unwrap();

    let (head, body) = get_with(
        addr,
        path,
        &digest_header(path, "user", "passwd", &nonce, 1),
    );
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
    assert_eq!(body, DIGEST_OK.as_bytes());
    assert_eq!(headers_of(&head, "set-cookie"), ["fake=fake_value; Path=/"]);

    // A stale_after cookie sent back comes back one use fewer.
    let auth = digest_header(path, "user", "passwd", &nonce, 2);
    let (head, _) = get_with(addr, path, &format!("{auth}Cookie: stale_after=3\r\n"));
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
    assert_eq!(
        headers_of(&head, "set-cookie"),
        ["fake=fake_value; Path=/", "stale_after=2; Path=/"]
    );

    // A wrong password: a new challenge that remembers the nonce in last_nonce.
    let (head, _) = get_with(addr, path, &digest_header(path, "user", "wrong", &nonce, 3));
    assert!(head.starts_with("HTTP/1.1 401 "), "{head}");
    assert_eq!(
        headers_of(&head, "set-cookie"),
        [
            "stale_after=never; Path=/".to_string(),
            format!("last_nonce={nonce}; Path=/"),
            "fake=fake_value; Path=/".to_string()
        ]
    );
    // Coming back with that same nonce is stale, as in httpbin.
    let auth = digest_header(path, "user", "passwd", &nonce, 4);
    digest_challenge(
        addr,
        path,
        &format!("{auth}Cookie: last_nonce={nonce}\r\n"),
        "TRUE",
    );

    // require-cookie: the challenge's cookie must come back.
    let path = "/digest-auth/auth/user/passwd?require-cookie=1";
    let nonce = digest_challenge(addr, path, "", "FALSE");
    let auth = digest_header(path, "user", "passwd", &nonce, 1);
    digest_challenge(addr, path, &auth, "FALSE");
    let (head, body) = get_with(addr, path, &format!("{auth}Cookie: fake=other\r\n"));
    assert!(head.starts_with("HTTP/1.1 403 "), "{head}");
    assert_eq!(
        body,
        b"{\n  \"errors\": [\n    \"missing cookie set on challenge\"\n  ]\n}\n"
    );
    let (head, body) = get_with(addr, path, &format!("{auth}Cookie: fake=fake_value\r\n"));
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
    assert_eq!(body, DIGEST_OK.as_bytes());
}

#[test]
fn an_unknown_digest_algorithm_is_md5() {
    let server = http_serve(&[]);
    let addr = server.addr("http");
    for path in [
        "/digest-auth/auth/user/passwd/FOO",
        "/digest-auth/auth/user/passwd/MD4/never",
    ] {
        let nonce = digest_challenge(addr, path, "", "FALSE");
        let (head, body) = get_with(
            addr,
            path,
            &digest_header(path, "user", "passwd", &nonce, 1),
        );
        assert!(head.starts_with("HTTP/1.1 200 "), "{path}: {head}");
        assert_eq!(body, DIGEST_OK.as_bytes());
    }
}

const PY_CLIENT_CERT: &str = r#"
import ssl, sys, urllib.request
ctx = ssl.create_default_context(cafile=sys.argv[2])
ctx.load_cert_chain(sys.argv[3], sys.argv[4])
with urllib.request.urlopen(sys.argv[1] + "/", context=ctx, timeout=30) as r:
    page = r.read()
    print(r.status, r.headers["Content-Type"], b"/spec.json" in page)
"#;

#[test]
fn landing_page_over_https_with_a_client_certificate() {
    let dir = tempfile::tempdir().unwrap();
    gen_certs(dir.path());
    let file = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let server = serve(
        &[
            "--http",
            "127.0.0.1:0",
            "--tls-cert",
            &file("server.pem"),
            "--tls-key",
            &file("server.key"),
            "--tls-client-ca",
            &file("ca.pem"),
        ],
        1,
    );
    let base = server.urls["http"].replace("127.0.0.1", "localhost");
    let out = python(
        &"python3".into(),
        PY_CLIENT_CERT,
        &[
            &base,
            &file("ca.pem"),
            &file("client.pem"),
            &file("client.key"),
        ],
    );
    assert_eq!(out, "200 text/html; charset=utf-8 True\n");
}

#[test]
fn redirect_to_allows_this_host_and_loopback_and_sends_location_as_given() {
    let server = http_serve(&[]);
    let addr = server.addr("http");
    // get() sends Host: h.
    for (url, location) in [
        ("http://127.0.0.1:1/get", "http://127.0.0.1:1/get"),
        ("https://h:8443/get", "https://h:8443/get"),
        ("http://H/get", "http://H/get"),
        ("http://localhost:9/x", "http://localhost:9/x"),
        ("http://[::1]:9/", "http://[::1]:9/"),
        ("http://:1", "http://:1"),
        ("%2Frelative%3Fa%3D1", "/relative?a=1"),
        ("/caf%C3%A9", "/caf\u{e9}"),
    ] {
        let out = get(addr, &format!("/redirect-to?url={url}"));
        assert!(out.starts_with("HTTP/1.1 302 Found\r\n"), "{url}: {out}");
        assert_eq!(header_of(&out, "location"), Some(location), "{url}");
    }
    let out = get(addr, "/redirect-to?url=http://127.0.0.1:1/&status_code=307");
    assert!(out.starts_with("HTTP/1.1 307 "), "{out}");
    for foreign in [
        "http://example.com/",
        "http:///example.com",
        "//example.com/",
    ] {
        let out = get(addr, &format!("/redirect-to?url={foreign}"));
        assert!(out.starts_with("HTTP/1.1 403 "), "{foreign}: {out}");
        assert_eq!(
            body_of(&out),
            "Forbidden redirect URL. Please be careful with this link.\n"
        );
        assert_eq!(header_of(&out, "location"), None);
    }
    // What a header cannot carry is refused, not dropped or split.
    let out = get(addr, "/redirect-to?url=/a%0D%0ASet-Cookie:%20x=1");
    assert!(out.starts_with("HTTP/1.1 400 "), "{out}");
    assert_eq!(header_of(&out, "set-cookie"), None);
    assert_eq!(header_of(&out, "location"), None);
}

#[test]
fn go_httpbin_base64_upload_head_and_jsonl() {
    let server = http_serve(&["--http-max-body", "1KiB", "--http-max-delay", "2"]);
    let addr = server.addr("http");
    for (target, status, content_type, body) in [
        (
            "/base64/encode/netkit",
            200,
            "text/plain; charset=utf-8",
            "bmV0a2l0",
        ),
        (
            "/base64/encode/a%20b%3F",
            200,
            "text/plain; charset=utf-8",
            "YSBiPw==",
        ),
        (
            "/base64/decode/bmV0a2l0",
            200,
            "text/plain; charset=utf-8",
            "netkit",
        ),
        (
            "/base64/decode/YSBiPw==",
            200,
            "text/plain; charset=utf-8",
            "a b?",
        ),
        (
            "/base64/decode/YSBiPw%3D%3D",
            200,
            "text/plain; charset=utf-8",
            "a b?",
        ),
    ] {
        let (head, got) = get_with(addr, target, "");
        assert!(
            head.starts_with(&format!("HTTP/1.1 {status} ")),
            "{target}: {head}"
        );
        assert_eq!(
            header_of(&head, "content-type"),
            Some(content_type),
            "{target}"
        );
        assert_eq!(String::from_utf8(got).unwrap(), body, "{target}");
    }
    // Go's decoders want the padding, as go-httpbin's do.
    for bad in ["/base64/decode/not*base64", "/base64/decode/YSBiPw"] {
        let (head, got) = get_with(addr, bad, "");
        assert!(head.starts_with("HTTP/1.1 400 "), "{bad}: {head}");
        assert_eq!(header_of(&head, "content-type"), Some("application/json"));
        let error: serde_json::Value = serde_json::from_slice(&got).unwrap();
        assert_eq!(error["status_code"], 400);
        assert_eq!(error["error"], "Bad Request");
    }

    // /upload counts bodies far over --http-max-body (1 KiB here), fixed-length and chunked.
    let big = vec![b'x'; 3 * 1024 * 1024];
    let mut request = format!(
        "POST /upload?a=1 HTTP/1.1\r\nHost: h\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        big.len()
    )
    .into_bytes();
    request.extend_from_slice(&big);
    let out = raw(addr, &request);
    assert!(
        out.starts_with("HTTP/1.1 200 "),
        "{}",
        &out[..out.len().min(300)]
    );
    let doc: serde_json::Value = serde_json::from_str(body_of(&out)).unwrap();
    assert_eq!(
        doc,
        serde_json::json!({
            "args": {"a": ["1"]},
            "headers": {"Connection": ["close"], "Content-Length": ["3145728"], "Host": ["h"]},
            "method": "POST",
            "origin": "127.0.0.1",
            "url": "http://h/upload?a=1",
            "bytes_received": 3145728
        })
    );
    let chunked = "PUT /upload HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\
                   Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n800\r\n";
    let mut request = chunked.as_bytes().to_vec();
    request.extend_from_slice(&[b'y'; 0x800]);
    request.extend_from_slice(b"\r\n0\r\n\r\n");
    let out = raw(addr, &request);
    let doc: serde_json::Value = serde_json::from_str(body_of(&out)).unwrap();
    assert_eq!(doc["bytes_received"], 5 + 0x800);
    assert_eq!(doc["method"], "PUT");
    let (head, _) = get_with(addr, "/upload", "");
    assert!(head.starts_with("HTTP/1.1 405 "), "{head}");
    assert_eq!(header_of(&head, "allow"), Some("POST, PUT, PATCH"));

    // HEAD /head only.
    let (head, body) = exchange(
        addr,
        "HEAD /head HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
    );
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
    assert_eq!(header_of(&head, "content-type"), Some("application/json"));
    assert!(body.is_empty());
    let (head, _) = get_with(addr, "/head", "");
    assert!(head.starts_with("HTTP/1.1 405 "), "{head}");
    assert_eq!(header_of(&head, "allow"), Some("HEAD"));

    // /jsonl: count lines of go-httpbin's shape (HTTP/1.0: no chunk framing to undo).
    let (head, body) = exchange(addr, "GET /jsonl?count=3 HTTP/1.0\r\nHost: h\r\n\r\n");
    assert!(head.starts_with("HTTP/1.0 200 "), "{head}");
    assert_eq!(
        header_of(&head, "content-type"),
        Some("application/x-ndjson; charset=utf-8")
    );
    let text = String::from_utf8(body).unwrap();
    let lines: Vec<&str> = text.split_terminator('\n').collect();
    assert_eq!(lines.len(), 3, "{text}");
    for (id, line) in lines.iter().enumerate() {
        assert_eq!(
            *line,
            format!(
                "{{\"id\":{id},\"args\":{{\"count\":[\"3\"]}},\"headers\":{{\"Host\":[\"h\"]}},\
                 \"origin\":\"127.0.0.1\",\"url\":\"http://h/jsonl?count=3\"}}"
            )
        );
    }
    for bad in [
        "/jsonl?count=x",
        "/jsonl?duration=3",
        "/jsonl?duration=1.5&delay=1",
    ] {
        let (head, body) = get_with(addr, bad, "");
        assert!(head.starts_with("HTTP/1.1 400 "), "{bad}: {head}");
        let error: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(error["status_code"], 400, "{bad}");
    }
}

#[test]
fn hostname_env_and_version() {
    let server = http_serve(&[]);
    let addr = server.addr("http");
    let version = env!("CARGO_PKG_VERSION");
    for (target, body) in [
        (
            "/hostname",
            "{\n  \"hostname\": \"netkit\"\n}\n".to_string(),
        ),
        ("/env", "{\n  \"env\": {}\n}\n".to_string()),
        (
            "/version",
            format!("{{\n  \"service\": \"netkit\",\n  \"version\": \"{version}\"\n}}\n"),
        ),
    ] {
        let (head, got) = get_with(addr, target, "");
        assert!(head.starts_with("HTTP/1.1 200 "), "{target}: {head}");
        assert_eq!(header_of(&head, "content-type"), Some("application/json"));
        assert_eq!(String::from_utf8(got).unwrap(), body, "{target}");
    }

    // With the flags: the real name, and only the variables under the prefix.
    let mut child = std::process::Command::new(NETKIT)
        .args([
            "serve",
            "--http",
            "127.0.0.1:0",
            "--http-real-hostname",
            "--http-env-prefix",
            "NETKIT_TEST_ENV_",
        ])
        .env("NETKIT_TEST_ENV_COLOUR", "blue")
        .env("NETKIT_TEST_SECRET", "hidden")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let addr = line.trim().rsplit("://").next().unwrap().to_string();
    let real = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let (_, got) = get_with(&addr, "/hostname", "");
    let env = get_with(&addr, "/env", "").1;
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(
        String::from_utf8(got).unwrap(),
        format!("{{\n  \"hostname\": \"{}\"\n}}\n", real.trim())
    );
    assert_eq!(
        String::from_utf8(env).unwrap(),
        "{\n  \"env\": {\n    \"NETKIT_TEST_ENV_COLOUR\": \"blue\"\n  }\n}\n"
    );
}
