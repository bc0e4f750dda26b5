//! Recipe 10: TLS on the echo service with certificates from `netkit tls gen-cert`, checked
//! by every Python's `ssl` (3.13 verifies X.509 strictly) and by `openssl verify -x509_strict`.

mod common;
use common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn gen_certs(dir: &Path) -> PathBuf {
    let out = netkit(&["tls", "gen-cert", "--out", dir.to_str().unwrap()], b"");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed = String::from_utf8(out.stdout).unwrap();
    for name in [
        "ca.pem",
        "server.pem",
        "server.key",
        "client.pem",
        "client.key",
    ] {
        assert!(listed.contains(name), "{listed}");
        assert!(dir.join(name).exists());
    }
    dir.to_path_buf()
}

fn tls_serve(certs: &Path, extra: &[&str]) -> Served {
    let cert = certs.join("server.pem");
    let key = certs.join("server.key");
    let mut args = vec![
        "--echo",
        "127.0.0.1:0",
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    serve(&args, 1)
}

const PY_TLS_CLIENT: &str = r#"
import socket, ssl, sys
host, port = sys.argv[1].rsplit(':', 1)
ctx = ssl.create_default_context(cafile=sys.argv[2])
if len(sys.argv) > 4:
    ctx.load_cert_chain(sys.argv[4], sys.argv[5])
try:
    with socket.create_connection(('127.0.0.1', int(port)), timeout=20) as raw:
        with ctx.wrap_socket(raw, server_hostname=sys.argv[3]) as s:
            s.sendall(b'secret hello')
            got = b''
            while len(got) < 12:
                chunk = s.recv(100)
                if not chunk:
                    break
                got += chunk
            print(got.decode() or 'CLOSED', s.version())
except (ssl.SSLError, ConnectionError) as e:
    print('REFUSED', type(e).__name__)
"#;

#[test]
fn generated_certificates_pass_strict_openssl_verification() {
    let dir = tempfile::tempdir().unwrap();
    let certs = gen_certs(dir.path());
    let out = std::process::Command::new("openssl")
        .args(["verify", "-x509_strict", "-CAfile"])
        .arg(certs.join("ca.pem"))
        .arg(certs.join("server.pem"))
        .arg(certs.join("client.pem"))
        .output();
    match out {
        Ok(out) => {
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success(),
                "{text}{}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(text.matches(": OK").count(), 2, "{text}");
        }
        Err(_) => eprintln!("openssl not installed; skipped"),
    }
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(certs.join("server.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn every_python_verifies_and_talks_tls_by_name_and_by_ip() {
    let dir = tempfile::tempdir().unwrap();
    let certs = gen_certs(dir.path());
    let served = tls_serve(&certs, &[]);
    assert!(served.lines[0].starts_with("netkit: echo listening on tls://127.0.0.1:"));
    let ca = certs.join("ca.pem");
    for py in pythons() {
        for name in ["localhost", "127.0.0.1"] {
            let out = python(
                &py,
                PY_TLS_CLIENT,
                &[served.addr("echo"), ca.to_str().unwrap(), name],
            );
            assert!(
                out == "secret hello TLSv1.3\n",
                "{} as {name}: {out}",
                py.display()
            );
        }
    }
}

#[test]
fn a_wrong_name_is_refused_by_the_client() {
    let dir = tempfile::tempdir().unwrap();
    let certs = gen_certs(dir.path());
    let served = tls_serve(&certs, &[]);
    let ca = certs.join("ca.pem");
    let out = python(
        &"python3".into(),
        PY_TLS_CLIENT,
        &[served.addr("echo"), ca.to_str().unwrap(), "example.com"],
    );
    assert_eq!(out, "REFUSED SSLCertVerificationError\n");
}

#[test]
fn a_plaintext_client_is_dropped_without_harming_a_tls_client() {
    let dir = tempfile::tempdir().unwrap();
    let certs = gen_certs(dir.path());
    let served = tls_serve(&certs, &[]);
    let addr = served.addr("echo").to_string();
    let ca = certs.join("ca.pem");
    // A TLS session open across the plaintext attempt.
    let mut tls_session = std::process::Command::new(NETKIT)
        .args(["echo", &addr, "--tls", "--cacert", ca.to_str().unwrap()])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut tls_in = tls_session.stdin.take().unwrap();
    tls_in.write_all(b"before ").unwrap();

    let mut plain = TcpStream::connect(&addr).unwrap();
    plain
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    plain
        .write_all(b"GET / HTTP/1.0\r\n\r\nhello in the clear")
        .unwrap();
    let mut reply = Vec::new();
    let _ = plain.read_to_end(&mut reply);
    assert!(
        !reply.windows(5).any(|w| w == b"hello"),
        "plaintext was echoed"
    );

    tls_in.write_all(b"after").unwrap();
    drop(tls_in);
    let mut echoed = String::new();
    tls_session
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut echoed)
        .unwrap();
    assert!(tls_session.wait().unwrap().success());
    assert_eq!(echoed, "before after");
}

#[test]
fn client_certificates_are_required_with_tls_client_ca() {
    let dir = tempfile::tempdir().unwrap();
    let certs = gen_certs(dir.path());
    let ca = certs.join("ca.pem");
    let served = tls_serve(&certs, &["--tls-client-ca", ca.to_str().unwrap()]);
    let addr = served.addr("echo");
    let (cert, key) = (certs.join("client.pem"), certs.join("client.key"));
    let with_cert = python(
        &"python3".into(),
        PY_TLS_CLIENT,
        &[
            addr,
            ca.to_str().unwrap(),
            "localhost",
            cert.to_str().unwrap(),
            key.to_str().unwrap(),
        ],
    );
    assert_eq!(with_cert, "secret hello TLSv1.3\n");
    let without = python(
        &"python3".into(),
        PY_TLS_CLIENT,
        &[addr, ca.to_str().unwrap(), "localhost"],
    );
    assert!(
        without.starts_with("REFUSED") || without.starts_with("CLOSED"),
        "{without}"
    );

    let out = netkit(
        &[
            "echo",
            addr,
            "--tls",
            "--cacert",
            ca.to_str().unwrap(),
            "--cert",
            cert.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
        ],
        b"mutual",
    );
    assert_eq!(
        out.stdout,
        b"mutual",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn netkit_echo_tls_against_a_python_ssl_server_that_skips_close_notify() {
    let dir = tempfile::tempdir().unwrap();
    let certs = gen_certs(dir.path());
    let server = PythonServer::start(
        r#"
import socket, ssl, sys
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[1], sys.argv[2])
s = socket.socket()
s.bind(('127.0.0.1', 0))
s.listen(5)
print(s.getsockname()[1], flush=True)
while True:
    c, _ = s.accept()
    try:
        t = ctx.wrap_socket(c, server_side=True)
        while True:
            msg = t.recv(8192)
            if not msg:
                break
            t.sendall(msg)
        # Close the TCP socket under TLS, as the recipe's wrap_socket server does on exit:
        # no close_notify.
        t.detach().close()
    except (ssl.SSLError, OSError):
        c.close()
"#,
        &[
            certs.join("server.pem").to_str().unwrap(),
            certs.join("server.key").to_str().unwrap(),
        ],
    );
    let ca = certs.join("ca.pem");
    let out = netkit(
        &[
            "echo",
            &format!("localhost:{}", server.port),
            "--tls",
            "--cacert",
            ca.to_str().unwrap(),
        ],
        b"over python tls",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, b"over python tls");
}

#[test]
fn tls_can_be_limited_to_some_services() {
    let dir = tempfile::tempdir().unwrap();
    let certs = gen_certs(dir.path());
    let (cert, key) = (certs.join("server.pem"), certs.join("server.key"));
    let served = serve(
        &[
            "--echo",
            "127.0.0.1:0",
            "--time",
            "127.0.0.1:0",
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
            "--tls",
            "echo",
        ],
        2,
    );
    assert!(served.urls["echo"].starts_with("tls://"));
    assert!(served.urls["time"].starts_with("udp://"));
}

/// A client that sends its first message right behind its handshake's last flight (one TCP
/// segment, as tokio-rustls does when the write follows `connect` at once) gets its echo:
/// the server's TLS layer has already read that record during the handshake, so the
/// socket never becomes readable for it again (found by bench/reload.sh, issue 17).
#[test]
fn a_message_sent_with_the_handshake_finish_is_echoed() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    let certs = gen_certs(dir.path());
    let served = tls_serve(&certs, &[]);
    let addr = served.addr("echo").to_string();
    let files = netkit::tls::ClientTlsFiles {
        ca: Some(certs.join("ca.pem")),
        cert: None,
        key: None,
    };
    let tls = netkit::client::ClientTls::from_files(&files, Some("localhost".into())).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let echoed = runtime.block_on(async {
        let mut echoes = Vec::new();
        for _ in 0..5 {
            let timeout = Duration::from_secs(5);
            let mut stream = netkit::client::connect(&addr, Some(&tls), timeout)
                .await
                .unwrap();
            stream.write_all(b"first words").await.unwrap();
            stream.flush().await.unwrap();
            let mut echo = [0; 11];
            let read = tokio::time::timeout(timeout, stream.read_exact(&mut echo)).await;
            echoes.push(read.is_ok().then_some(echo));
        }
        echoes
    });
    assert_eq!(echoed, vec![Some(*b"first words"); 5]);
}
