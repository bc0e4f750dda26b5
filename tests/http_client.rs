//! `netkit http` against `netkit serve --http` (httpbin) over HTTP/1.1, h2c and TLS, and
//! against Python's http.server; plus a property test of the item parser.

mod common;
use common::*;
use netkit::client::http::items::{parse_item, Item};
use netkit::client::http::ordered_json::Json;
use proptest::prelude::*;
use serde_json::{json, Value};
use std::process::Output;

fn run(args: &[&str]) -> Output {
    netkit(&[&["http"], args].concat(), b"")
}

/// Runs `netkit http ARGS`, which must succeed; its stdout.
fn ok(args: &[&str]) -> Vec<u8> {
    let out = run(args);
    assert!(
        out.status.success(),
        "netkit http {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn ok_json(args: &[&str]) -> Value {
    let out = ok(args);
    serde_json::from_slice(&out)
        .unwrap_or_else(|e| panic!("{args:?}: {e}: {}", String::from_utf8_lossy(&out)))
}

fn httpbin() -> (Served, String) {
    let served = serve(&["--http", "127.0.0.1:0"], 1);
    let base = served.addr("http").to_string();
    (served, base)
}

#[test]
fn get_sends_query_items_and_headers() {
    let (_s, base) = httpbin();
    // No scheme: http:// is implied, as in httpie.
    let reply = ok_json(&[&format!("{base}/get"), "a==1", "b==x y", "X-Test:yes"]);
    assert_eq!(reply["args"], json!({"a": "1", "b": "x y"}));
    assert_eq!(reply["headers"]["X-Test"], "yes");
    assert_eq!(reply["headers"]["User-Agent"], "netkit/0.1.0");
    assert_eq!(reply["url"], format!("http://{base}/get?a=1&b=x+y"));
    // `:PORT/path` is localhost; `Header:` removes a default header.
    let port = port_of(&base);
    let reply = ok_json(&[&format!(":{port}/get"), "User-Agent:"]);
    assert_eq!(reply["headers"]["Host"], format!("localhost:{port}"));
    assert_eq!(reply["headers"].get("User-Agent"), None);
    // An explicit method.
    let reply = ok_json(&["DELETE", &format!("{base}/delete")]);
    assert_eq!(reply["url"], format!("http://{base}/delete"));
}

#[test]
fn data_items_are_sent_as_json() {
    let (_s, base) = httpbin();
    let reply = ok_json(&[
        &format!("{base}/post"),
        "name=x",
        "n:=3",
        "list:=[1,2]",
        "obj:={\"k\": null}",
    ]);
    assert_eq!(
        reply["json"],
        json!({"name": "x", "n": 3, "list": [1, 2], "obj": {"k": null}})
    );
    assert_eq!(reply["headers"]["Content-Type"], "application/json");
    assert_eq!(reply["headers"]["Accept"], "application/json, */*;q=0.5");
    // A raw body goes as it is.
    let reply = ok_json(&[&format!("{base}/post"), "--raw", "just text"]);
    assert_eq!(reply["data"], "just text");
}

#[test]
fn form_and_file_uploads() {
    let (_s, base) = httpbin();
    let reply = ok_json(&["--form", &format!("{base}/post"), "name=x", "sp=a b&c"]);
    assert_eq!(reply["form"], json!({"name": "x", "sp": "a b&c"}));
    assert_eq!(reply["json"], Value::Null);
    assert_eq!(
        reply["headers"]["Content-Type"],
        "application/x-www-form-urlencoded; charset=utf-8"
    );

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("notes.txt");
    std::fs::write(&file, "line one\nline two\n").unwrap();
    let upload = format!("upload@{}", file.display());
    let reply = ok_json(&[&format!("{base}/post"), "name=x", &upload]);
    assert_eq!(reply["files"], json!({"upload": "line one\nline two\n"}));
    assert_eq!(reply["form"], json!({"name": "x"}));
    assert!(reply["headers"]["Content-Type"]
        .as_str()
        .unwrap()
        .starts_with("multipart/form-data; boundary="));
}

#[test]
fn basic_digest_and_bearer_auth() {
    let (_s, base) = httpbin();
    let authenticated = json!({"authenticated": true, "user": "user"});
    assert_eq!(
        ok_json(&[
            "--auth",
            "user:passwd",
            &format!("{base}/basic-auth/user/passwd")
        ]),
        authenticated
    );
    for path in [
        "digest-auth/auth/user/passwd",
        "digest-auth/auth/user/passwd/MD5",
        "digest-auth/auth/user/passwd/SHA-256",
        "digest-auth/auth/user/passwd/SHA-512",
        "digest-auth/auth-int/user/passwd/SHA-256",
    ] {
        assert_eq!(
            ok_json(&[
                "--auth",
                "user:passwd",
                "--auth-type",
                "digest",
                &format!("{base}/{path}")
            ]),
            authenticated,
            "{path}"
        );
    }
    assert_eq!(
        ok_json(&["-A", "bearer", "-a", "t0ken", &format!("{base}/bearer")]),
        json!({"authenticated": true, "token": "t0ken"})
    );
    // A wrong password: the final answer is the 401.
    let out = run(&[
        "--check-status",
        "-a",
        "user:wrong",
        "-A",
        "digest",
        &format!("{base}/digest-auth/auth/user/passwd"),
    ]);
    assert_eq!(out.status.code(), Some(4));
    let out = run(&["-a", "user", &format!("{base}/basic-auth/user/passwd")]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "netkit: --auth for basic auth must be USER:PASSWORD\n"
    );
}

#[test]
fn follow_redirects() {
    let (_s, base) = httpbin();
    let reply = ok_json(&["--follow", &format!("{base}/redirect/3")]);
    assert_eq!(reply["url"], format!("http://{base}/get"));
    let head = ok(&["-h", &format!("{base}/redirect/3")]);
    let head = String::from_utf8(head).unwrap();
    assert!(head.starts_with("HTTP/1.1 302 Found\n"), "{head}");
    assert!(
        head.contains("\nLocation: /relative-redirect/2\n"),
        "{head}"
    );
    let out = run(&[
        "--follow",
        "--max-redirects",
        "2",
        &format!("{base}/redirect/3"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "netkit: too many redirects (more than --max-redirects 2)\n"
    );
}

#[test]
fn sessions_keep_cookies_between_runs() {
    let (_s, base) = httpbin();
    let dir = tempfile::tempdir().unwrap();
    let session = dir.path().join("session.json");
    let session = session.to_str().unwrap();
    ok(&[
        "--session",
        session,
        &format!("{base}/cookies/set"),
        "a==1",
        "b==two",
    ]);
    let reply = ok_json(&["--session", session, &format!("{base}/cookies")]);
    assert_eq!(reply, json!({"cookies": {"a": "1", "b": "two"}}));
    // Without the session there are none.
    let reply = ok_json(&[&format!("{base}/cookies")]);
    assert_eq!(reply, json!({"cookies": {}}));
    // The session remembers --auth too, and is private to its owner.
    ok(&[
        "--session",
        session,
        "-a",
        "user:passwd",
        &format!("{base}/basic-auth/user/passwd"),
    ]);
    let reply = ok_json(&[
        "--session",
        session,
        &format!("{base}/basic-auth/user/passwd"),
    ]);
    assert_eq!(reply["authenticated"], true);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(session).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn compressed_answers_are_decoded() {
    let (_s, base) = httpbin();
    for (path, flag) in [
        ("gzip", "gzipped"),
        ("deflate", "deflated"),
        ("brotli", "brotli"),
    ] {
        let reply = ok_json(&[&format!("{base}/{path}")]);
        assert_eq!(reply[flag], true, "{path}");
        assert_eq!(
            reply["headers"]["Accept-Encoding"], "gzip, deflate, br",
            "{path}"
        );
    }
}

#[test]
fn downloads_write_exactly_the_body() {
    let (_s, base) = httpbin();
    let dir = tempfile::tempdir().unwrap();
    let out = netkit_in(dir.path(), &["-d", &format!("{base}/bytes/100000")]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, b"");
    assert_eq!(
        std::fs::metadata(dir.path().join("100000")).unwrap().len(),
        100_000
    );
    // A second download does not overwrite the first.
    let out = netkit_in(dir.path(), &["-d", &format!("{base}/bytes/10")]);
    assert!(out.status.success());
    let out = netkit_in(dir.path(), &["-d", &format!("{base}/bytes/10")]);
    assert!(out.status.success());
    assert_eq!(
        std::fs::metadata(dir.path().join("10-1")).unwrap().len(),
        10
    );
    // --output, and the same bytes as the piped body.
    let target = dir.path().join("seeded.bin");
    let url = format!("{base}/bytes/5000?seed=7");
    ok(&["-d", "-o", target.to_str().unwrap(), &url]);
    assert_eq!(std::fs::read(&target).unwrap(), ok(&[&url]));
    // No temp files are left behind.
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    assert!(names.iter().all(|n| !n.ends_with(".part")), "{names:?}");
}

fn netkit_in(dir: &std::path::Path, args: &[&str]) -> Output {
    run_with_input(
        std::process::Command::new(NETKIT)
            .current_dir(dir)
            .arg("http")
            .args(args),
        b"",
    )
}

#[test]
fn https_with_cacert_and_http2() {
    let dir = tempfile::tempdir().unwrap();
    let certs = dir.path().to_str().unwrap();
    assert!(netkit(&["tls", "gen-cert", "--out", certs], b"")
        .status
        .success());
    let cert = format!("{certs}/server.pem");
    let key = format!("{certs}/server.key");
    let ca = format!("{certs}/ca.pem");
    let served = serve(
        &[
            "--http",
            "127.0.0.1:0",
            "--tls-cert",
            &cert,
            "--tls-key",
            &key,
        ],
        1,
    );
    let port = port_of(served.addr("http"));
    let url = format!("https://localhost:{port}/get");
    let reply = ok_json(&["--cacert", &ca, &url]);
    assert_eq!(reply["url"], url);

    let out = run(&[&url]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with(&format!(
            "netkit: TLS handshake with localhost:{port} failed: invalid peer certificate: UnknownIssuer"
        )) && stderr.contains("--cacert PEM"),
        "{stderr}"
    );
    // --verify no accepts it anyway; --verify PEM is --cacert, as in httpie.
    assert_eq!(ok_json(&["--verify", "no", &url])["url"], url);
    assert_eq!(ok_json(&["--verify", &ca, &url])["url"], url);

    let verbose = String::from_utf8(ok(&["-v", "--http2", "--cacert", &ca, &url])).unwrap();
    assert!(verbose.starts_with("GET /get HTTP/2\n"), "{verbose}");
    assert!(verbose.contains("\nHTTP/2 200 OK\n"), "{verbose}");
    let plain = String::from_utf8(ok(&["-v", "--cacert", &ca, &url])).unwrap();
    assert!(plain.contains("\nHTTP/1.1 200 OK\n"), "{plain}");
}

#[test]
fn h2c_and_verbose_output() {
    let (_s, base) = httpbin();
    let verbose = String::from_utf8(ok(&["-v", "--http2", &format!("{base}/get")])).unwrap();
    assert!(verbose.starts_with("GET /get HTTP/2\n"), "{verbose}");
    assert!(verbose.contains("\nHTTP/2 200 OK\n"), "{verbose}");
    let verbose = String::from_utf8(ok(&["-v", &format!("{base}/post"), "--raw", "hi"])).unwrap();
    assert!(
        verbose.starts_with("POST /post HTTP/1.1\n")
            && verbose.contains("\n\nhi\n\nHTTP/1.1 200 OK\n"),
        "{verbose}"
    );
}

#[test]
fn check_status_exit_codes() {
    let (_s, base) = httpbin();
    for (code, exit) in [(200, 0), (301, 3), (404, 4), (418, 4), (500, 5), (503, 5)] {
        let out = run(&["--check-status", &format!("{base}/status/{code}")]);
        assert_eq!(out.status.code(), Some(exit), "{code}");
    }
    let out = run(&["--check-status", &format!("{base}/status/404")]);
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "netkit: warning: HTTP 404 Not Found\n"
    );
    // Without --check-status an error status still exits 0.
    assert_eq!(run(&[&format!("{base}/status/404")]).status.code(), Some(0));
}

#[test]
fn piped_output_is_exactly_the_body() {
    let (_s, base) = httpbin();
    assert_eq!(ok(&[&format!("{base}/base64/aGVsbG8=")]), b"hello");
    let html = ok(&[&format!("{base}/html")]);
    assert!(html.starts_with(b"<!DOCTYPE html>"));
    // Binary bodies too, byte for byte (/bytes with a seed is deterministic).
    let a = ok(&[&format!("{base}/bytes/300?seed=1")]);
    assert_eq!(a.len(), 300);
    assert_eq!(a, ok(&[&format!("{base}/bytes/300?seed=1")]));
    // --pretty format indents JSON with sorted keys.
    let pretty = ok(&["--pretty", "format", &format!("{base}/get"), "z==1"]);
    let text = String::from_utf8(pretty).unwrap();
    assert!(
        text.starts_with("{\n    \"args\": {\n        \"z\": \"1\"\n    },\n"),
        "{text}"
    );
}

#[test]
fn caps_and_timeouts() {
    let (_s, base) = httpbin();
    let out = run(&["--max-body", "1000", &format!("{base}/bytes/1001")]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "netkit: http://{base}/bytes/1001: the response body is over 1000 bytes (--max-body)\n"
        )
    );
    assert_eq!(
        ok(&["--max-body", "1000", &format!("{base}/bytes/1000")]).len(),
        1000
    );
    // The decoded body is capped too: /gzip echoes the 5000-byte header compressed to a
    // few hundred bytes, but it is over 1000 once unzipped.
    let pad = format!("X-Pad:{}", "a".repeat(5000));
    let out = run(&["--max-body", "1000", &format!("{base}/gzip"), &pad]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!("netkit: http://{base}/gzip: the body decodes to more than 1000 bytes\n")
    );
    // Downloads have no cap: they go to disk.
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("big");
    ok(&[
        "--max-body",
        "1000",
        "-d",
        "-o",
        target.to_str().unwrap(),
        &format!("{base}/bytes/50000"),
    ]);
    assert_eq!(std::fs::metadata(&target).unwrap().len(), 50_000);
    let out = run(&["--timeout", "0.3", &format!("{base}/delay/5")]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!("netkit: http://{base}/delay/5: no answer within 300ms\n")
    );
}

#[test]
fn client_certificates() {
    let dir = tempfile::tempdir().unwrap();
    let certs = dir.path().to_str().unwrap();
    assert!(netkit(&["tls", "gen-cert", "--out", certs], b"")
        .status
        .success());
    let file = |name: &str| format!("{certs}/{name}");
    let served = serve(
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
    let url = format!("https://{}/get", served.addr("http"));
    let reply = ok_json(&[
        "--cacert",
        &file("ca.pem"),
        "--cert",
        &file("client.pem"),
        "--key",
        &file("client.key"),
        &url,
    ]);
    assert_eq!(reply["url"], url);
    let out = run(&["--cacert", &file("ca.pem"), &url]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "no client certificate must fail"
    );
}

#[test]
fn usage_errors_exit_2() {
    for (args, message) in [
        (
            vec!["127.0.0.1:9/get", "plain"],
            "netkit: \"plain\" is not a request item: use Header:value, name==query, field=value, field:=json or field@file\n",
        ),
        (
            vec!["ftp://x/"],
            "netkit: \"ftp://x/\" is not a usable URL: only http:// and https:// URLs with a host\n",
        ),
        (
            vec!["--form", "127.0.0.1:9/post", "n:=1"],
            "netkit: \"n:=1\": raw JSON fields (:=) cannot be sent with --form\n",
        ),
        (
            vec!["--print", "x", "127.0.0.1:9/"],
            "netkit: --print \"x\": use the letters H, B, h and b\n",
        ),
    ] {
        let out = run(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert_eq!(String::from_utf8_lossy(&out.stderr), message, "{args:?}");
    }
    let help = run(&["--help"]);
    assert!(help.status.success());
    assert!(String::from_utf8_lossy(&help.stdout).contains("Examples:"));
}

#[test]
fn talks_to_python_http_server() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("hello.txt"), "hello from python\n").unwrap();
    std::fs::write(dir.path().join("data.bin"), [0u8, 1, 2, 255]).unwrap();
    // The stdlib's http.server on a free port, serving the temp dir.
    let script = r#"
import functools, http.server, sys
handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[1])
class Quiet(handler.func):
    def log_message(self, *args):
        pass
server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), functools.partial(Quiet, directory=sys.argv[1]))
print(server.server_address[1], flush=True)
server.serve_forever()
"#;
    let py = PythonServer::start(script, &[dir.path().to_str().unwrap()]);
    let base = py.addr();
    assert_eq!(ok(&[&format!("{base}/hello.txt")]), b"hello from python\n");
    assert_eq!(ok(&[&format!("{base}/data.bin")]), [0u8, 1, 2, 255]);
    let head = String::from_utf8(ok(&["-h", &format!("{base}/hello.txt")])).unwrap();
    assert!(head.starts_with("HTTP/1.0 200 OK\n"), "{head}");
    assert!(head.contains("\nContent-Length: 18\n"), "{head}");
    assert!(head.contains("\nServer: SimpleHTTP/"), "{head}");
    let out = run(&["--check-status", &format!("{base}/missing")]);
    assert_eq!(out.status.code(), Some(4));
    let target = dir.path().join("copy.txt");
    ok(&[
        "-d",
        "-o",
        target.to_str().unwrap(),
        &format!("{base}/hello.txt"),
    ]);
    assert_eq!(std::fs::read(&target).unwrap(), b"hello from python\n");
}

/// A name without any separator character, as header and field names are.
fn name() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_-]{1,12}"
}

proptest! {
    #[test]
    fn items_parse_back_to_what_was_written(
        name in name(),
        value in "[^\r\n]{0,40}",
        json_value in prop_oneof![
            Just(json!(null)),
            any::<i64>().prop_map(|n| json!(n)),
            any::<bool>().prop_map(|b| json!(b)),
            "[^\"]{0,10}".prop_map(|s| json!([s, 1, {"k": true}])),
        ],
    ) {
        prop_assert_eq!(
            parse_item(&format!("{name}=={value}")).unwrap(),
            Item::Query { name: name.clone(), value: value.clone() }
        );
        // `=` followed by `=` is the query separator, so data values start otherwise.
        if !value.starts_with('=') {
            prop_assert_eq!(
                parse_item(&format!("{name}={value}")).unwrap(),
                Item::Data { name: name.clone(), value: value.clone() }
            );
        }
        prop_assert_eq!(
            parse_item(&format!("{name}:={json_value}")).unwrap(),
            Item::Json { name: name.clone(), value: Json::parse(&json_value.to_string()).unwrap() }
        );
        if !value.starts_with('=') {
            let header = parse_item(&format!("{name}:{value}")).unwrap();
            prop_assert_eq!(
                header,
                Item::Header {
                    name: name.clone(),
                    value: (!value.is_empty()).then(|| value.clone()),
                }
            );
        }
    }

    #[test]
    fn any_text_parses_or_fails_cleanly(text in "\\PC{0,60}") {
        let _ = parse_item(&text);
    }
}

/// Lines of `text` that start with `prefix`, in order.
fn lines_starting<'a>(text: &'a str, prefix: &str) -> Vec<&'a str> {
    text.lines().filter(|l| l.starts_with(prefix)).collect()
}

#[test]
fn json_items_keep_the_typed_order() {
    let (_s, base) = httpbin();
    // httpbin's `data` is the body as it came: byte for byte what was sent.
    let reply = ok_json(&[&format!("{base}/post"), "a:=1", "z:=2", "m:=3"]);
    assert_eq!(reply["data"], r#"{"a":1,"z":2,"m":3}"#);
    // Nested objects keep theirs too; a repeated name keeps its first place.
    let reply = ok_json(&[
        &format!("{base}/post"),
        "zeta=s",
        r#"obj:={"y": 1, "b": [true, {"q": null, "c": 2}]}"#,
        "alpha:=-1.5",
        "zeta=last",
    ]);
    assert_eq!(
        reply["data"],
        r#"{"zeta":"last","obj":{"y":1,"b":[true,{"q":null,"c":2}]},"alpha":-1.5}"#
    );
}

#[test]
fn follow_all_shows_every_hop() {
    let (_s, base) = httpbin();
    let url = format!("{base}/redirect/3");
    let heads = String::from_utf8(ok(&["--follow", "--all", "--print", "h", &url])).unwrap();
    assert_eq!(
        lines_starting(&heads, "HTTP/"),
        [
            "HTTP/1.1 302 Found",
            "HTTP/1.1 302 Found",
            "HTTP/1.1 302 Found",
            "HTTP/1.1 200 OK"
        ],
        "{heads}"
    );
    assert_eq!(
        lines_starting(&heads, "Location: "),
        [
            "Location: /relative-redirect/2",
            "Location: /relative-redirect/1",
            "Location: /get"
        ],
        "{heads}"
    );
    // Each head ends with a blank line, so the next one starts a paragraph.
    assert_eq!(heads.matches("\n\nHTTP/1.1 ").count(), 3, "{heads}");

    // With -v every request is shown too, each before its answer.
    let verbose = String::from_utf8(ok(&["-v", "--follow", "--all", &url])).unwrap();
    let firsts: Vec<&str> = verbose
        .lines()
        .filter(|l| l.starts_with("GET ") || l.starts_with("HTTP/"))
        .collect();
    assert_eq!(
        firsts,
        [
            "GET /redirect/3 HTTP/1.1",
            "HTTP/1.1 302 Found",
            "GET /relative-redirect/2 HTTP/1.1",
            "HTTP/1.1 302 Found",
            "GET /relative-redirect/1 HTTP/1.1",
            "HTTP/1.1 302 Found",
            "GET /get HTTP/1.1",
            "HTTP/1.1 200 OK"
        ],
        "{verbose}"
    );
    // --history-print says what of the earlier exchanges is shown (here their heads),
    // --print what of the last (here its body).
    let out =
        String::from_utf8(ok(&["--follow", "--all", "-P", "h", "--print", "b", &url])).unwrap();
    assert_eq!(
        lines_starting(&out, "HTTP/"),
        ["HTTP/1.1 302 Found"; 3],
        "{out}"
    );
    let last_body = &out[out.find("\n\n{").unwrap() + 2..];
    let reply: Value = serde_json::from_str(last_body).unwrap();
    assert_eq!(reply["url"], format!("http://{base}/get"));
    // Without --all only the last exchange is shown, as before.
    let heads = String::from_utf8(ok(&["--follow", "--print", "h", &url])).unwrap();
    assert_eq!(lines_starting(&heads, "HTTP/"), ["HTTP/1.1 200 OK"]);
    // A digest challenge is an exchange too.
    let heads = String::from_utf8(ok(&[
        "--all",
        "--print",
        "h",
        "-A",
        "digest",
        "-a",
        "user:passwd",
        &format!("{base}/digest-auth/auth/user/passwd"),
    ]))
    .unwrap();
    assert_eq!(
        lines_starting(&heads, "HTTP/"),
        ["HTTP/1.1 401 Unauthorized", "HTTP/1.1 200 OK"],
        "{heads}"
    );
}

#[test]
fn file_uploads_are_streamed_with_their_length() {
    let (_s, base) = httpbin();
    let dir = tempfile::tempdir().unwrap();
    // Over one read chunk (256 KiB), so the file goes in several pieces.
    let text: String = (0..40_000).map(|i| format!("line {i}\n")).collect();
    let file = dir.path().join("lines.txt");
    std::fs::write(&file, &text).unwrap();

    // Multipart: the server parses the framing around the streamed file exactly.
    let upload = format!("doc@{}", file.display());
    let reply = ok_json(&[&format!("{base}/post"), "name=x", &upload]);
    assert_eq!(reply["files"]["doc"], text.as_str());
    assert_eq!(reply["form"], json!({"name": "x"}));
    let content_type = reply["headers"]["Content-Type"].as_str().unwrap();
    let boundary = content_type
        .strip_prefix("multipart/form-data; boundary=")
        .unwrap();
    let framing = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nx\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"doc\"; filename=\"lines.txt\"\r\nContent-Type: text/plain\r\n\r\n\
         \r\n--{boundary}--\r\n"
    );
    assert_eq!(
        reply["headers"]["Content-Length"],
        (framing.len() + text.len()).to_string()
    );
    assert_eq!(reply["headers"].get("Transfer-Encoding"), None);

    // `@file` and --body-file: the file is the body, typed by its extension.
    let at_file = format!("@{}", file.display());
    let reply = ok_json(&[&format!("{base}/post"), &at_file]);
    assert_eq!(reply["data"], text.as_str());
    assert_eq!(reply["headers"]["Content-Length"], text.len().to_string());
    assert_eq!(reply["headers"]["Content-Type"], "text/plain");
    // The same over h2c: the stream goes in DATA frames under flow control.
    let reply = ok_json(&["--http2", &format!("{base}/post"), &at_file]);
    assert_eq!(reply["data"], text.as_str());
    assert_eq!(reply["headers"]["Content-Length"], text.len().to_string());
    let reply = ok_json(&[
        "PUT",
        &format!("{base}/put"),
        "--body-file",
        file.to_str().unwrap(),
    ]);
    assert_eq!(reply["data"], text.as_str());

    // A 307 repeats the request: the file is read again from the start.
    let reply = ok_json(&[
        "--follow",
        &format!("{base}/redirect-to"),
        "url==/post",
        "status_code==307",
        &at_file,
    ]);
    assert_eq!(reply["data"], text.as_str());

    // A missing file is reported before anything is sent.
    let out = run(&[&format!("{base}/post"), "@/nonexistent/x"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).starts_with("netkit: cannot read /nonexistent/x: "),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// What [`byte_sink`] saw of one request.
struct Sunk {
    head: String,
    bytes: u64,
    xxh3: u64,
}

/// A one-request HTTP/1.1 server that reads a Content-Length body, counting and hashing
/// it without keeping it, and answers `{"bytes": N}`.
fn byte_sink() -> (String, std::thread::JoinHandle<Sunk>) {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let handle = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut head = String::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if line == "\r\n" || line.is_empty() {
                break;
            }
            head.push_str(&line);
        }
        let length: u64 = head
            .lines()
            .find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse().unwrap())
            })
            .unwrap_or_else(|| panic!("no Content-Length in {head}"));
        let mut hasher = xxhash_rust::xxh3::Xxh3::new();
        let mut buffer = vec![0u8; 1 << 20];
        let mut bytes = 0u64;
        while bytes < length {
            let want = buffer.len().min((length - bytes) as usize);
            let n = reader.read(&mut buffer[..want]).unwrap();
            assert!(n > 0, "the body ended after {bytes} of {length} bytes");
            hasher.update(&buffer[..n]);
            bytes += n as u64;
        }
        let answer = format!("{{\"bytes\": {bytes}}}");
        let mut stream = stream;
        write!(
            stream,
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
            answer.len()
        )
        .unwrap();
        Sunk {
            head,
            bytes,
            xxh3: hasher.digest(),
        }
    });
    (addr, handle)
}

fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

#[test]
fn a_2_gib_upload_runs_in_flat_memory() {
    const SIZE: u64 = 2 << 30;
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big");
    // Sparse: it costs no disk. A few marks make the content not all zeros.
    let file = std::fs::File::create(&big).unwrap();
    file.set_len(SIZE).unwrap();
    {
        use std::os::unix::fs::FileExt;
        for (offset, mark) in [
            (0, &b"start"[..]),
            (SIZE / 2 + 3, b"middle"),
            (SIZE - 3, b"end"),
        ] {
            file.write_all_at(mark, offset).unwrap();
        }
    }
    drop(file);
    let (addr, sink) = byte_sink();
    let mut child = std::process::Command::new(NETKIT)
        .args(["http", "POST", &format!("{addr}/upload")])
        .arg(format!("@{}", big.display()))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // VmHWM only grows, so its last reading before the exit is the peak (give or take
    // the last few milliseconds).
    let mut peak_kib = 0;
    let mut readings = 0;
    while child.try_wait().unwrap().is_none() {
        if let Some(kib) = vm_hwm_kib(child.id()) {
            peak_kib = peak_kib.max(kib);
            readings += 1;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sunk = sink.join().unwrap();
    assert_eq!(sunk.bytes, SIZE);
    assert!(
        sunk.head.starts_with("POST /upload HTTP/1.1\r\n"),
        "{}",
        sunk.head
    );
    assert!(
        sunk.head.contains(&format!("content-length: {SIZE}\r\n")),
        "{}",
        sunk.head
    );
    assert_eq!(
        serde_json::from_slice::<Value>(&out.stdout).unwrap(),
        json!({"bytes": SIZE})
    );
    // The bytes are the file's, in order: hash the file the same way.
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    let mut reader = std::fs::File::open(&big).unwrap();
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let n = std::io::Read::read(&mut reader, &mut buffer).unwrap();
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
    }
    assert_eq!(sunk.xxh3, hasher.digest());
    assert!(readings > 0, "no reading of VmHWM");
    assert!(
        peak_kib < 64 * 1024,
        "peak RSS {peak_kib} KiB for a 2 GiB upload"
    );
}
