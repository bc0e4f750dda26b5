//! XML-RPC on the shared HTTP driver over HTTP/2 — h2c with prior knowledge and h2 over
//! TLS (ALPN) — with hyper's own HTTP/2 client: the same answers, faults, size caps and
//! gzip handling as over HTTP/1.1 (tests/xmlrpc_service.rs).

mod common;
use common::*;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::io::{Read, Write};
use std::path::Path;
use std::sync::Arc;

/// One answer: status, version, headers (lower-case names) and the body.
struct Answer {
    status: u16,
    version: http::Version,
    headers: http::HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A request: method, path, extra headers, body.
type Ask<'a> = (&'a str, &'a str, Vec<(&'a str, &'a str)>, Vec<u8>);

/// Sends `requests` one after the other on one HTTP/2 connection (over TLS trusting
/// `ca` when given, else h2c with prior knowledge) and returns the answers.
fn exchange_h2(addr: &str, ca: Option<&Path>, requests: Vec<Ask>) -> Vec<Answer> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        match ca {
            None => send_all(TokioIo::new(tcp), addr, "http", requests).await,
            Some(ca) => {
                let files = netkit::tls::ClientTlsFiles {
                    ca: Some(ca.to_path_buf()),
                    ..Default::default()
                };
                let mut config = (*netkit::tls::client_config(&files).unwrap()).clone();
                config.alpn_protocols = vec![b"h2".to_vec()];
                let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
                let name = netkit::tls::server_name(addr).unwrap();
                let tls = connector.connect(name, tcp).await.unwrap();
                assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
                send_all(TokioIo::new(tls), addr, "https", requests).await
            }
        }
    })
}

async fn send_all<IO>(io: IO, addr: &str, scheme: &str, requests: Vec<Ask<'_>>) -> Vec<Answer>
where
    IO: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http2::handshake(TokioExecutor::new(), io)
        .await
        .unwrap();
    tokio::spawn(connection);
    let mut answers = Vec::new();
    for (method, path, headers, body) in requests {
        let mut request = http::Request::builder()
            .method(method)
            .uri(format!("{scheme}://{addr}{path}"));
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let request = request.body(Full::new(Bytes::from(body))).unwrap();
        let response = sender.send_request(request).await.unwrap();
        let (parts, body) = response.into_parts();
        let body = body.collect().await.unwrap().to_bytes().to_vec();
        answers.push(Answer {
            status: parts.status.as_u16(),
            version: parts.version,
            headers: parts.headers,
            body,
        });
    }
    answers
}

fn call_doc(method: &str, params: &str) -> Vec<u8> {
    format!(
        "<?xml version='1.0'?>\n<methodCall>\n<methodName>{method}</methodName>\n<params>\n{params}</params>\n</methodCall>\n"
    )
    .into_bytes()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    z.write_all(data).unwrap();
    z.finish().unwrap()
}

fn gunzip(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(data)
        .read_to_end(&mut out)
        .unwrap();
    out
}

const NIL: &str = "<?xml version='1.0'?>\n<methodResponse>\n<params>\n<param>\n<value><nil/></value></param>\n</params>\n</methodResponse>\n";

/// Every behaviour of tests/xmlrpc_service.rs that HTTP/2 can carry, on one connection
/// (a refused request must not cost the connection its next calls).
fn check_xmlrpc_over_h2(addr: &str, ca: Option<&Path>) {
    let value = "v".repeat(5000);
    let set_big = call_doc(
        "set",
        &format!("<param><value>k</value></param><param><value>{value}</value></param>"),
    );
    let get_k = call_doc("get", "<param><value>k</value></param>");
    let over_cap = call_doc(
        "set",
        &format!(
            "<param><value>k2</value></param><param><value>{}</value></param>",
            "x".repeat(100_000)
        ),
    );
    // 64 MiB of spaces, gzipped to ~64 KiB: inflating stops at the cap.
    let bomb = {
        let mut doc = call_doc("set", "<param><value>k</value></param><param><value>");
        doc.extend(std::iter::repeat_n(b' ', 64 << 20));
        gzip(&doc)
    };
    assert!(bomb.len() < 65536);
    let xml = ("content-type", "text/xml");
    let answers = exchange_h2(
        addr,
        ca,
        vec![
            ("POST", "/RPC2", vec![xml], set_big),
            (
                "POST",
                "/RPC2",
                vec![xml, ("accept-encoding", "gzip")],
                get_k.clone(),
            ),
            ("POST", "/", vec![xml], get_k.clone()),
            ("POST", "/RPC2", vec![xml], call_doc("nope", "")),
            ("POST", "/RPC2", vec![xml], b"<methodCall><params>".to_vec()),
            ("POST", "/RPC2", vec![xml], over_cap),
            (
                "POST",
                "/RPC2",
                vec![xml, ("content-encoding", "gzip")],
                bomb,
            ),
            (
                "POST",
                "/RPC2",
                vec![xml, ("content-encoding", "gzip")],
                b"not gzip".to_vec(),
            ),
            (
                "POST",
                "/RPC2",
                vec![xml, ("content-encoding", "br")],
                b"x".to_vec(),
            ),
            ("GET", "/RPC2", vec![], Vec::new()),
            ("POST", "/other", vec![xml], call_doc("keys", "")),
            (
                "POST",
                "/RPC2",
                vec![xml, ("content-encoding", "gzip")],
                gzip(&call_doc("exists", "<param><value>k</value></param>")),
            ),
        ],
    );
    let statuses: Vec<u16> = answers.iter().map(|a| a.status).collect();
    assert_eq!(
        statuses,
        [200, 200, 200, 200, 200, 200, 200, 400, 501, 501, 404, 200]
    );
    assert!(answers.iter().all(|a| a.version == http::Version::HTTP_2));

    assert_eq!(answers[0].body, NIL.as_bytes());
    assert_eq!(answers[0].header("content-type"), Some("text/xml"));
    // A big answer is gzipped when accepted, and only then.
    assert_eq!(answers[1].header("content-encoding"), Some("gzip"));
    let plain = String::from_utf8(gunzip(&answers[1].body)).unwrap();
    assert_eq!(answers[2].header("content-encoding"), None);
    assert_eq!(plain.as_bytes(), answers[2].body);
    assert!(plain.contains(&format!("<value><string>{value}</string></value>")));
    assert_eq!(
        fault_string(&answers[3].body),
        "<class 'Exception'>:method \"nope\" is not supported"
    );
    assert!(fault_string(&answers[4].body)
        .starts_with("<class 'xml.parsers.expat.ExpatError'>:not well-formed XML"));
    assert!(
        fault_string(&answers[5].body).contains("is over the limit of 65536 bytes"),
        "{}",
        fault_string(&answers[5].body)
    );
    // No Connection header in HTTP/2: the refused stream ends, the connection lives on.
    assert_eq!(answers[5].header("connection"), None);
    assert!(fault_string(&answers[6].body).contains("is over the limit"));
    assert_eq!(
        String::from_utf8_lossy(&answers[11].body),
        "<?xml version='1.0'?>\n<methodResponse>\n<params>\n<param>\n<value><boolean>1</boolean></value>\n</param>\n</params>\n</methodResponse>\n"
    );
}

#[test]
fn xmlrpc_over_h2c_with_prior_knowledge() {
    let served = serve(
        &["--xmlrpc", "127.0.0.1:0", "--max-xmlrpc-size", "64KiB"],
        1,
    );
    check_xmlrpc_over_h2(served.addr("xmlrpc"), None);
}

#[test]
fn xmlrpc_over_h2_with_tls_alpn() {
    let dir = tempfile::tempdir().unwrap();
    let out = netkit(
        &["tls", "gen-cert", "--out", dir.path().to_str().unwrap()],
        b"",
    );
    assert!(out.status.success());
    let cert = dir.path().join("server.pem");
    let key = dir.path().join("server.key");
    let served = serve(
        &[
            "--xmlrpc",
            "127.0.0.1:0",
            "--max-xmlrpc-size",
            "64KiB",
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
        1,
    );
    assert!(served.lines[0].starts_with("netkit: xmlrpc listening on https://"));
    check_xmlrpc_over_h2(served.addr("xmlrpc"), Some(&dir.path().join("ca.pem")));
}
