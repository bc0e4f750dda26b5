//! Recipe 6: `serve --xmlrpc` against Python's own `xmlrpc.client` (every pyenv Python
//! 3.8+), compared call by call with the recipe's `SimpleXMLRPCServer`, and hostile HTTP
//! and XML that must get a fault while the service lives on.

mod common;
use common::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

const RECIPE_SERVER: &str = include_str!("xmlrpc_python/recipe_server.py");
const SESSION: &str = include_str!("xmlrpc_python/session.py");
const SEMANTICS: &str = include_str!("xmlrpc_python/semantics.py");

fn url(served: &Served) -> String {
    format!("http://{}", served.addr("xmlrpc"))
}

#[test]
fn the_recipe_session_gives_the_recipe_answers() {
    let served = serve(&["--xmlrpc", "127.0.0.1:0"], 1);
    assert!(served.lines[0].starts_with("netkit: xmlrpc listening on http://127.0.0.1:"));
    let out = python(&"python3".into(), SESSION, &[&url(&served)]);
    // The book prints ['spam', 'foo'] for keys(); every Python 3.7+ dict (and the
    // recipe's server, see below) answers in insertion order.
    assert_eq!(
        out,
        ">>> s.set('foo', 'bar')\n>>> s.set('spam', [1, 2, 3])\n>>> s.keys()\n['foo', 'spam']\n\
         >>> s.get('foo')\n'bar'\n>>> s.get('spam')\n[1, 2, 3]\n>>> s.delete('spam')\n\
         >>> s.exists('spam')\nFalse\n"
    );
}

#[test]
fn the_recipe_session_against_the_recipe_server_prints_the_same() {
    let py = PythonServer::start(RECIPE_SERVER, &["0"]);
    let expected = python(
        &"python3".into(),
        SESSION,
        &[&format!("http://{}", py.addr())],
    );
    let served = serve(&["--xmlrpc", "127.0.0.1:0"], 1);
    assert_eq!(
        python(&"python3".into(), SESSION, &[&url(&served)]),
        expected
    );
}

#[test]
fn every_python_sees_exactly_what_the_recipe_server_answers() {
    let reference = PythonServer::start(RECIPE_SERVER, &["0", "full"]);
    let expected = python(
        &"python3".into(),
        SEMANTICS,
        &[&format!("http://{}", reference.addr())],
    );
    assert!(expected.lines().count() > 90, "{expected}");
    for py in pythons() {
        let served = serve(&["--xmlrpc", "127.0.0.1:0"], 1);
        let got = python(&py, SEMANTICS, &[&url(&served)]);
        if got != expected {
            for (g, e) in got.lines().zip(expected.lines()) {
                assert_eq!(g, e, "{}", py.display());
            }
            assert_eq!(
                got.lines().count(),
                expected.lines().count(),
                "{}",
                py.display()
            );
        }
    }
}

/// One HTTP exchange on a fresh connection: status, headers (lowercased names), body.
fn exchange(addr: &str, request: &[u8]) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    // The server may answer and close before reading a refused body: ignore EPIPE.
    let _ = stream.write_all(request);
    read_response(&mut BufReader::new(stream))
}

fn read_response(reader: &mut BufReader<TcpStream>) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let mut status_line = String::new();
    reader.read_line(&mut status_line).unwrap();
    let status: u16 = status_line.split(' ').nth(1).unwrap().parse().unwrap();
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (k, v) = line.split_once(':').unwrap();
        headers.push((k.to_ascii_lowercase(), v.trim().to_string()));
    }
    let length: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .map(|(_, v)| v.parse().unwrap())
        .unwrap();
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    (status, headers, body)
}

fn post(path: &str, extra_headers: &str, body: &[u8]) -> Vec<u8> {
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/xml\r\n{extra_headers}Content-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    request
}

fn call_doc(method: &str, params: &str) -> Vec<u8> {
    format!(
        "<?xml version='1.0'?>\n<methodCall>\n<methodName>{method}</methodName>\n<params>\n{params}</params>\n</methodCall>\n"
    )
    .into_bytes()
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn good_call_works(addr: &str) {
    let (status, _, body) = exchange(
        addr,
        &post(
            "/RPC2",
            "",
            &call_doc("exists", "<param><value>k</value></param>\n"),
        ),
    );
    assert_eq!(status, 200);
    assert_eq!(
        String::from_utf8(body).unwrap(),
        "<?xml version='1.0'?>\n<methodResponse>\n<params>\n<param>\n<value><boolean>0</boolean></value>\n</param>\n</params>\n</methodResponse>\n"
    );
}

#[test]
fn hostile_documents_get_faults_and_the_service_lives_on() {
    let served = serve(&["--xmlrpc", "127.0.0.1:0"], 1);
    let addr = served.addr("xmlrpc").to_string();
    let laughs = {
        let mut doc =
            String::from("<?xml version='1.0'?>\n<!DOCTYPE lolz [\n<!ENTITY lol \"lol\">\n");
        for i in 1..10 {
            let prev = if i == 1 {
                "lol".to_string()
            } else {
                format!("lol{}", i - 1)
            };
            doc += &format!("<!ENTITY lol{i} \"{}\">\n", format!("&{prev};").repeat(10));
        }
        doc += "]>\n<methodCall><methodName>get</methodName><params><param><value>&lol9;</value></param></params></methodCall>";
        doc
    };
    let external = "<?xml version='1.0'?><!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><methodCall><methodName>get</methodName><params><param><value>&e;</value></param></params></methodCall>";
    let undefined = "<methodCall><methodName>get</methodName><params><param><value>&e;</value></param></params></methodCall>";
    let deep = format!(
        "<methodCall><methodName>set</methodName><params><param>{}{}</param></params></methodCall>",
        "<value><array><data>".repeat(20_000),
        "</data></array></value>".repeat(20_000)
    );
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("billion laughs", laughs.into_bytes(), "<class 'xml.parsers.expat.ExpatError'>:document type declarations (<!DOCTYPE>) are not allowed"),
        ("external entity", external.as_bytes().to_vec(), "<class 'xml.parsers.expat.ExpatError'>:document type declarations (<!DOCTYPE>) are not allowed"),
        ("undefined entity", undefined.as_bytes().to_vec(), "<class 'xml.parsers.expat.ExpatError'>:undefined entity &e;"),
        ("deep nesting", deep.into_bytes(), "<class 'xml.parsers.expat.ExpatError'>:elements nested deeper than 512 levels"),
        ("truncated", b"<?xml version='1.0'?><methodCall><methodName>get</methodName><params>".to_vec(), "<class 'xml.parsers.expat.ExpatError'>:not well-formed XML"),
        ("not xml", b"\x00\xff garbage".to_vec(), "<class 'xml.parsers.expat.ExpatError'>:"),
        ("empty", Vec::new(), "<class 'xml.parsers.expat.ExpatError'>:"),
        ("no method", b"<methodCall><params/></methodCall>".to_vec(), "<class 'Exception'>:method \"None\" is not supported"),
        ("bad int", call_doc("get", "<param><value><int>x</int></value></param>"), "<class 'ValueError'>:invalid literal for int() with base 10: 'x'"),
    ];
    for (what, doc, expected) in cases {
        let (status, _, body) = exchange(&addr, &post("/RPC2", "", &doc));
        assert_eq!(status, 200, "{what}");
        let fault = fault_string(&body);
        assert!(fault.starts_with(expected), "{what}: {fault}");
        good_call_works(&addr);
    }
}

#[test]
fn oversize_and_gzip_bombs_are_refused_within_the_cap() {
    let served = serve(
        &["--xmlrpc", "127.0.0.1:0", "--max-xmlrpc-size", "64KiB"],
        1,
    );
    let addr = served.addr("xmlrpc").to_string();
    let big = call_doc(
        "set",
        &format!(
            "<param><value>k</value></param><param><value>{}</value></param>",
            "x".repeat(100_000)
        ),
    );
    let (status, headers, body) = exchange(&addr, &post("/RPC2", "", &big));
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "connection"), Some("close"));
    assert!(fault_string(&body).contains("is over the limit of 65536 bytes"));
    good_call_works(&addr);

    // 64 MiB of zeros, gzipped to ~64 KiB: inflating stops at the cap.
    let bomb = {
        let mut doc = call_doc("set", "<param><value>k</value></param><param><value>");
        doc.extend(std::iter::repeat_n(b' ', 64 << 20));
        let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        z.write_all(&doc).unwrap();
        z.finish().unwrap()
    };
    assert!(bomb.len() < 65536);
    let (status, _, body) = exchange(&addr, &post("/RPC2", "Content-Encoding: gzip\r\n", &bomb));
    assert_eq!(status, 200);
    assert!(fault_string(&body).contains("is over the limit"));
    let (status, _, _) = exchange(
        &addr,
        &post("/RPC2", "Content-Encoding: gzip\r\n", b"not gzip"),
    );
    assert_eq!(status, 400);
    let (status, _, _) = exchange(&addr, &post("/RPC2", "Content-Encoding: br\r\n", b"x"));
    assert_eq!(status, 501);
    good_call_works(&addr);

    // Python's client: the oversize call is a Fault, the next call on the same proxy works.
    let script = r#"
import sys, xmlrpc.client
s = xmlrpc.client.ServerProxy(sys.argv[1], allow_none=True)
try:
    s.set('k', 'x' * 100000)
except xmlrpc.client.Fault as f:
    print(f.faultCode, 'over the limit' in f.faultString)
s.set('k', 'small')
print(s.get('k'))
"#;
    let out = python(&"python3".into(), script, &[&url(&served)]);
    assert_eq!(out, "1 True\nsmall\n");
}

#[test]
fn http_details_match_python_server() {
    let served = serve(&["--xmlrpc", "127.0.0.1:0"], 1);
    let addr = served.addr("xmlrpc").to_string();
    let (status, _, _) = exchange(&addr, b"GET /RPC2 HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(status, 501);
    let (status, _, _) = exchange(&addr, &post("/other", "", &call_doc("keys", "")));
    assert_eq!(status, 404);
    let (status, headers, _) = exchange(&addr, &post("/", "", &call_doc("keys", "")));
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "content-type"), Some("text/xml"));

    // HTTP/1.0 without keep-alive: one answer, then the server closes.
    let mut stream = TcpStream::connect(&addr).unwrap();
    let doc = call_doc("keys", "");
    let mut request = format!(
        "POST /RPC2 HTTP/1.0\r\nContent-Length: {}\r\n\r\n",
        doc.len()
    )
    .into_bytes();
    request.extend_from_slice(&doc);
    stream.write_all(&request).unwrap();
    let mut all = Vec::new();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    stream.read_to_end(&mut all).unwrap();
    assert!(all.ends_with(
        b"<value><array><data>\n</data></array></value>\n</param>\n</params>\n</methodResponse>\n"
    ));

    // Keep-alive: many calls on one connection; big answers gzipped when accepted.
    let stream = TcpStream::connect(&addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    let value = "v".repeat(5000);
    writer
        .write_all(&post(
            "/RPC2",
            "",
            &call_doc(
                "set",
                &format!("<param><value>k</value></param><param><value>{value}</value></param>"),
            ),
        ))
        .unwrap();
    assert_eq!(read_response(&mut reader).0, 200);
    for accept in [
        "Accept-Encoding: gzip\r\n",
        "",
        "Accept-Encoding: gzip;q=0\r\n",
    ] {
        writer
            .write_all(&post(
                "/RPC2",
                accept,
                &call_doc("get", "<param><value>k</value></param>"),
            ))
            .unwrap();
        let (status, headers, body) = read_response(&mut reader);
        assert_eq!(status, 200);
        let body = if accept == "Accept-Encoding: gzip\r\n" {
            assert_eq!(header(&headers, "content-encoding"), Some("gzip"));
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(&body[..])
                .read_to_end(&mut out)
                .unwrap();
            out
        } else {
            assert_eq!(header(&headers, "content-encoding"), None);
            body
        };
        assert!(String::from_utf8(body).unwrap().contains(&value));
    }
}

#[test]
fn many_concurrent_python_clients_keep_their_own_keys() {
    let served = serve(&["--xmlrpc", "127.0.0.1:0"], 1);
    let script = r#"
import sys, threading, xmlrpc.client
url = sys.argv[1]
def work(i):
    s = xmlrpc.client.ServerProxy(url, allow_none=True)
    for j in range(50):
        s.set('c%d-%d' % (i, j), [i, j])
    for j in range(50):
        assert s.get('c%d-%d' % (i, j)) == [i, j]
threads = [threading.Thread(target=work, args=(i,)) for i in range(20)]
for t in threads: t.start()
for t in threads: t.join()
s = xmlrpc.client.ServerProxy(url)
print(len(s.keys()))
"#;
    assert_eq!(
        python(&"python3".into(), script, &[&url(&served)]),
        "1000\n"
    );
}
