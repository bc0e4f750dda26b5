//! SIGHUP reloads: new certificate, key and client-CA files and settings apply to new
//! connections and handshakes; connections already open go on untouched; a bad file changes
//! nothing. With `--workers` the new generation reads the files anew.

mod common;
use common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

/// A CA and certificates signed by it.
fn gen_cert(dir: &Path) {
    let out = netkit(&["tls", "gen-cert", "--out", dir.to_str().unwrap()], b"");
    assert!(out.status.success());
}

/// Puts `from`'s server certificate and key where the server reads them.
fn install(from: &Path, live: &Path) {
    for name in ["server.pem", "server.key"] {
        std::fs::copy(from.join(name), live.join(name)).unwrap();
    }
}

/// A sample's value in a /metrics scrape.
fn sample(metrics_addr: &str, name: &str) -> Option<f64> {
    let (status, text) = get(metrics_addr, "/metrics");
    assert_eq!(status, 200);
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.trim().parse().ok())
}

/// `netkit echo` over TLS, trusting only `ca`: Some(echo) or None when it fails.
fn echo_client(addr: &str, ca: &Path, text: &[u8]) -> Option<Vec<u8>> {
    let port = port_of(addr);
    let out = netkit(
        &[
            "echo",
            &format!("localhost:{port}"),
            "--tls",
            "--cacert",
            ca.to_str().unwrap(),
        ],
        text,
    );
    out.status.success().then_some(out.stdout)
}

/// A TLS echo connection that stays open across reloads: Python's ssl client, one line
/// sent and its echo printed for each line it reads.
struct OpenConnection {
    child: std::process::Child,
    lines: std::io::BufReader<std::process::ChildStdout>,
}

const TLS_CLIENT: &str = r#"
import socket, ssl, sys
host, port = sys.argv[1].rsplit(":", 1)
context = ssl.create_default_context(cafile=sys.argv[2])
with socket.create_connection((host, int(port)), timeout=10) as raw:
    with context.wrap_socket(raw, server_hostname="localhost") as tls:
        for line in sys.stdin:
            data = line.encode()
            tls.sendall(data)
            back = b""
            while len(back) < len(data):
                back += tls.recv(len(data) - len(back))
            sys.stdout.write(back.decode())
            sys.stdout.flush()
"#;

impl OpenConnection {
    fn open(addr: &str, ca: &Path) -> OpenConnection {
        let mut child = std::process::Command::new("python3")
            .args(["-c", TLS_CLIENT, addr, ca.to_str().unwrap()])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let lines = std::io::BufReader::new(child.stdout.take().unwrap());
        OpenConnection { child, lines }
    }

    fn echo(&mut self, text: &str) -> String {
        use std::io::BufRead;
        let stdin = self.child.stdin.as_mut().unwrap();
        writeln!(stdin, "{text}").unwrap();
        stdin.flush().unwrap();
        let mut line = String::new();
        self.lines.read_line(&mut line).unwrap();
        line.trim_end().to_string()
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Certificate A, then B from a new CA over the same files, then a broken key.
fn rotate_certificates(workers: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, live) = (
        dir.path().join("a"),
        dir.path().join("b"),
        dir.path().join("live"),
    );
    gen_cert(&a);
    gen_cert(&b);
    std::fs::create_dir_all(&live).unwrap();
    install(&a, &live);
    let cert = live.join("server.pem");
    let key = live.join("server.key");
    let mut args = vec![
        "--echo",
        "127.0.0.1:0",
        "--http",
        "127.0.0.1:0",
        "--metrics",
        "127.0.0.1:0",
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ];
    if let Some(n) = workers {
        args.extend(["--workers", n]);
    }
    let mut served = serve(&args, 3);
    let echo = served.addr("echo").to_string();
    let metrics = served.addr("metrics").to_string();
    let (ca_a, ca_b) = (a.join("ca.pem"), b.join("ca.pem"));

    let mut open = OpenConnection::open(&echo, &ca_a);
    assert_eq!(open.echo("before"), "before");
    assert_eq!(echo_client(&echo, &ca_a, b"a").as_deref(), Some(&b"a"[..]));
    assert_eq!(echo_client(&echo, &ca_b, b"b"), None);

    install(&b, &live);
    served.signal("HUP");
    eventually(Duration::from_secs(10), "reload ok", || {
        sample(&metrics, "netkit_reloads_total{result=\"ok\"}") == Some(1.0)
    });
    // New handshakes use B; a client trusting only A no longer connects.
    eventually(Duration::from_secs(20), "new connections use B", || {
        echo_client(&echo, &ca_b, b"b").as_deref() == Some(&b"b"[..])
    });
    assert_eq!(echo_client(&echo, &ca_a, b"a"), None);
    let https = netkit(
        &[
            "http",
            "--cacert",
            ca_b.to_str().unwrap(),
            &format!("https://localhost:{}/get", port_of(served.addr("http"))),
        ],
        b"",
    );
    assert!(
        https.status.success(),
        "{}",
        String::from_utf8_lossy(&https.stderr)
    );
    // The connection opened with A goes on.
    assert_eq!(open.echo("after"), "after");

    std::fs::write(
        &key,
        b"-----BEGIN PRIVATE KEY-----\nbroken\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    served.signal("HUP");
    eventually(Duration::from_secs(10), "reload error", || {
        sample(&metrics, "netkit_reloads_total{result=\"error\"}") == Some(1.0)
    });
    assert_eq!(
        sample(&metrics, "netkit_reloads_total{result=\"ok\"}"),
        Some(1.0)
    );
    // Nothing changed: B still serves, and the old connection still echoes.
    assert_eq!(
        echo_client(&echo, &ca_b, b"b2").as_deref(),
        Some(&b"b2"[..])
    );
    assert_eq!(open.echo("still"), "still");
    drop(open);

    served.signal("TERM");
    let (code, stderr) = served.wait_exit(Duration::from_secs(20));
    assert_eq!(code, Some(0), "{stderr}");
    let failures: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("reload failed"))
        .collect();
    assert_eq!(failures.len(), 1, "{stderr}");
    assert!(failures[0].contains("server.key"), "{}", failures[0]);
}

#[test]
fn hup_rotates_certificates_and_keeps_open_connections() {
    rotate_certificates(None);
}

#[test]
fn hup_rotates_certificates_under_workers() {
    rotate_certificates(Some("2"));
}

#[test]
fn a_changed_address_needs_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("netkit.toml");
    std::fs::write(&config, "echo = \"127.0.0.1:0\"\nidle-timeout = 60\n").unwrap();
    let mut served = serve(
        &[
            "--config",
            config.to_str().unwrap(),
            "--metrics",
            "127.0.0.1:0",
        ],
        2,
    );
    let metrics = served.addr("metrics").to_string();
    std::fs::write(&config, "echo = \"127.0.0.2:0\"\nidle-timeout = 30\n").unwrap();
    served.signal("HUP");
    eventually(Duration::from_secs(10), "reload ok", || {
        sample(&metrics, "netkit_reloads_total{result=\"ok\"}") == Some(1.0)
    });
    // Still on its first address.
    let out = netkit(&["echo", served.addr("echo")], b"same place");
    assert_eq!(out.stdout, b"same place");
    // A bad file: an error, and the echo goes on.
    std::fs::write(&config, "echo = [not toml\n").unwrap();
    served.signal("HUP");
    eventually(Duration::from_secs(10), "reload error", || {
        sample(&metrics, "netkit_reloads_total{result=\"error\"}") == Some(1.0)
    });
    let out = netkit(&["echo", served.addr("echo")], b"goes on");
    assert_eq!(out.stdout, b"goes on");
    served.signal("TERM");
    let (code, stderr) = served.wait_exit(Duration::from_secs(20));
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains("--echo (127.0.0.1:0 -> 127.0.0.2:0) changed: needs a restart"),
        "{stderr}"
    );
    assert_eq!(stderr.matches("reload failed").count(), 1, "{stderr}");
}

/// 100 SIGHUPs while clients echo: every byte comes back, in order.
#[test]
fn a_hundred_hups_under_load_lose_nothing() {
    let served = serve(&["--echo", "127.0.0.1:0", "--metrics", "127.0.0.1:0"], 2);
    let echo = served.addr("echo").to_string();
    let metrics = served.addr("metrics").to_string();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let clients: Vec<_> = (0..4u64)
        .map(|seed| {
            let (echo, stop) = (echo.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut rng = Rng(seed);
                let mut rounds = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let mut stream = TcpStream::connect(&echo).unwrap();
                    stream
                        .set_read_timeout(Some(Duration::from_secs(10)))
                        .unwrap();
                    for _ in 0..20 {
                        let len = 1 + rng.below(4096) as usize;
                        let data: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
                        stream.write_all(&data).unwrap();
                        let mut back = vec![0; len];
                        stream.read_exact(&mut back).unwrap();
                        assert_eq!(back, data);
                        rounds += 1;
                    }
                }
                rounds
            })
        })
        .collect();
    for _ in 0..100 {
        served.signal("HUP");
        std::thread::sleep(Duration::from_millis(20));
    }
    eventually(Duration::from_secs(20), "100 reloads", || {
        sample(&metrics, "netkit_reloads_total{result=\"ok\"}") == Some(100.0)
    });
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let rounds: u64 = clients.into_iter().map(|c| c.join().unwrap()).sum();
    assert!(rounds > 0);
    let out = netkit(&["echo", &echo], b"alive");
    assert_eq!(out.stdout, b"alive");
}

/// --max-connections counts the connections of every accept loop: after a reload, the
/// ones opened before it still hold their places.
#[test]
fn the_connection_cap_holds_across_reloads() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("netkit.toml");
    std::fs::write(&config, "echo = \"127.0.0.1:0\"\nmax-connections = 2\n").unwrap();
    let mut served = serve(
        &[
            "--config",
            config.to_str().unwrap(),
            "--metrics",
            "127.0.0.1:0",
        ],
        2,
    );
    let echo = served.addr("echo").to_string();
    let metrics = served.addr("metrics").to_string();
    let open = |text: &[u8]| {
        let mut stream = TcpStream::connect(&echo).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream.write_all(text).unwrap();
        let mut back = vec![0; text.len()];
        stream.read_exact(&mut back).unwrap();
        assert_eq!(back, text);
        stream
    };
    let held = [open(b"one"), open(b"two")];
    std::fs::write(&config, "echo = \"127.0.0.1:0\"\nmax-connections = 3\n").unwrap();
    served.signal("HUP");
    eventually(Duration::from_secs(10), "reload ok", || {
        sample(&metrics, "netkit_reloads_total{result=\"ok\"}") == Some(1.0)
    });
    // A third connection is over the cap of 2: accepted and closed at once.
    let mut third = TcpStream::connect(&echo).unwrap();
    third
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let _ = third.write_all(b"three");
    let mut buf = [0u8; 8];
    assert_eq!(third.read(&mut buf).unwrap_or(0), 0);
    eventually(Duration::from_secs(10), "refused counted", || {
        sample(
            &metrics,
            "netkit_connections_refused_total{service=\"echo\"}",
        ) == Some(1.0)
    });
    drop(held);
    served.signal("TERM");
    let (code, stderr) = served.wait_exit(Duration::from_secs(20));
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains("--max-connections changed: needs a restart"),
        "{stderr}"
    );
}
