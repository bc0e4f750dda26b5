//! h2c by `Upgrade` (RFC 7540 §3.2) on the shared HTTP driver, with the clients people use
//! to test it: `curl --http2` (and `nghttp -u`, in tests/h2c_nghttp.rs, which .ci/run adds
//! because nghttp comes from apt) gets `101 Switching Protocols`, then its
//! answer on stream 1 over HTTP/2; requests the server declines to carry into HTTP/2 (a
//! 1 MiB body, a bad HTTP2-Settings) are answered over HTTP/1.1; plain HTTP/1.1 and h2c
//! with prior knowledge are unchanged.

mod common;
use common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

/// `curl -sv ARGS`: (stdout, stderr).
fn curl(args: &[&str]) -> (Vec<u8>, String) {
    let out = Command::new("curl")
        .args(["-sv", "--max-time", "30"])
        .args(args)
        .output()
        .expect("curl is installed");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "curl {args:?} failed: {stderr}");
    (out.stdout, stderr)
}

/// The status lines curl printed for the responses it received (`< HTTP/...`).
fn status_lines(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter_map(|l| l.strip_prefix("< HTTP/"))
        .map(str::trim_end)
        .collect()
}

fn json(body: &[u8]) -> serde_json::Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(body)))
}

#[test]
fn curl_upgrades_get_and_small_post_and_keeps_big_post_on_http1() {
    let served = serve(&["--http", "127.0.0.1:0"], 1);
    let addr = served.addr("http");

    let (body, stderr) = curl(&["--http2", &format!("http://{addr}/get?x=1")]);
    assert_eq!(
        status_lines(&stderr),
        ["1.1 101 Switching Protocols", "2 200"],
        "{stderr}"
    );
    let doc = json(&body);
    assert_eq!(doc["url"], format!("http://{addr}/get?x=1"));
    assert_eq!(doc["args"]["x"], "1");
    // The upgrade's own fields are not carried into HTTP/2.
    let headers = doc["headers"].as_object().unwrap();
    for hop in ["Upgrade", "Http2-Settings", "Connection"] {
        assert!(!headers.contains_key(hop), "{hop} in {headers:?}");
    }

    // A small body comes along into stream 1.
    let (body, stderr) = curl(&[
        "--http2",
        "--data",
        "a=1&b=two",
        &format!("http://{addr}/post"),
    ]);
    assert_eq!(
        status_lines(&stderr),
        ["1.1 101 Switching Protocols", "2 200"]
    );
    let doc = json(&body);
    assert_eq!(doc["form"], serde_json::json!({"a": "1", "b": "two"}));

    // 1 MiB is past what the upgrade carries: answered over HTTP/1.1, body intact.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("big");
    let mut rng = Rng(7);
    let big: String = (0..1 << 20)
        .map(|_| char::from(b'a' + rng.below(26) as u8))
        .collect();
    std::fs::write(&file, &big).unwrap();
    let (body, stderr) = curl(&[
        "--http2",
        "-H",
        "Content-Type: text/plain",
        "--data-binary",
        &format!("@{}", file.display()),
        &format!("http://{addr}/post"),
    ]);
    let statuses = status_lines(&stderr);
    assert_eq!(statuses.last(), Some(&"1.1 200 OK"), "{stderr}");
    assert!(!statuses.iter().any(|s| s.contains("101")), "{stderr}");
    assert_eq!(json(&body)["data"], big);

    // Prior knowledge and plain HTTP/1.1 are as before.
    let (body, stderr) = curl(&["--http2-prior-knowledge", &format!("http://{addr}/get")]);
    assert_eq!(status_lines(&stderr), ["2 200"]);
    assert_eq!(json(&body)["url"], format!("http://{addr}/get"));
    let (_, stderr) = curl(&["--http1.1", &format!("http://{addr}/get")]);
    assert_eq!(status_lines(&stderr), ["1.1 200 OK"]);
}

/// Sends `request` on a fresh connection and reads until the server closes or 2 s of
/// silence (enough for a loopback answer).
fn raw(addr: &str, request: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    stream.write_all(request).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return out,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
}

#[test]
fn declined_and_broken_upgrades() {
    let served = serve(&["--http", "127.0.0.1:0"], 1);
    let addr = served.addr("http");
    let upgrade = |settings: &str, extra: &str| {
        format!(
            "GET /status/204 HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, HTTP2-Settings\r\n\
             Upgrade: h2c\r\nHTTP2-Settings: {settings}\r\n{extra}Connection: close\r\n\r\n"
        )
    };
    // A bad HTTP2-Settings (ENABLE_PUSH = 2; not base64url): answered over HTTP/1.1.
    for settings in ["AAIAAAAC", "%%%"] {
        let answer = raw(addr, upgrade(settings, "").as_bytes());
        assert!(
            answer.starts_with(b"HTTP/1.1 204 No Content\r\n"),
            "{}",
            String::from_utf8_lossy(&answer)
        );
    }
    // Accepted, but then the client does not speak HTTP/2: the 101, then the server closes.
    let mut request = upgrade("AAMAAABk", "").into_bytes();
    request.extend_from_slice(b"GET / HTTP/1.1\r\n\r\n");
    let answer = raw(addr, &request);
    assert_eq!(
        answer,
        b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"
    );
    // A head past the cap still gets hyper's 431, and garbage its 400.
    let big = format!(
        "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: h2c\r\nX: {}\r\n\r\n",
        "x".repeat(70_000)
    );
    assert!(raw(addr, big.as_bytes()).starts_with(b"HTTP/1.1 431 "));
    assert!(raw(addr, b"\x01\x02garbage\r\n\r\n").starts_with(b"HTTP/1.1 400 "));
    // Still serving.
    let (_, stderr) = curl(&["--http2", &format!("http://{addr}/get")]);
    assert_eq!(
        status_lines(&stderr),
        ["1.1 101 Switching Protocols", "2 200"]
    );
}

#[test]
fn xmlrpc_answers_after_an_h2c_upgrade() {
    let served = serve(&["--xmlrpc", "127.0.0.1:0"], 1);
    let addr = served.addr("xmlrpc");
    let url = format!("http://{addr}/RPC2");
    let call = |doc: &str| {
        curl(&[
            "--http2",
            "-H",
            "Content-Type: text/xml",
            "--data-binary",
            doc,
            &url,
        ])
    };
    let (body, stderr) = call(
        "<?xml version='1.0'?><methodCall><methodName>set</methodName><params><param><value>k</value></param><param><value><int>7</int></value></param></params></methodCall>",
    );
    assert_eq!(
        status_lines(&stderr),
        ["1.1 101 Switching Protocols", "2 200"]
    );
    assert_eq!(
        String::from_utf8_lossy(&body),
        "<?xml version='1.0'?>\n<methodResponse>\n<params>\n<param>\n<value><nil/></value></param>\n</params>\n</methodResponse>\n"
    );
    let (body, _) = call(
        "<?xml version='1.0'?><methodCall><methodName>get</methodName><params><param><value>k</value></param></params></methodCall>",
    );
    assert_eq!(
        String::from_utf8_lossy(&body),
        "<?xml version='1.0'?>\n<methodResponse>\n<params>\n<param>\n<value><int>7</int></value>\n</param>\n</params>\n</methodResponse>\n"
    );
}
