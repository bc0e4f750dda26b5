//! systemd without systemd as PID 1: socket activation through `systemd-socket-activate`
//! (Debian's systemd package), readiness notification to a test's own NOTIFY_SOCKET, and
//! `systemd-analyze verify` on the shipped unit files.

mod common;
use common::*;
use std::io::{BufRead, BufReader};
use std::os::unix::net::UnixDatagram;
use std::process::{Command, Stdio};
use std::time::Duration;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn socket_activation_serves_echo_on_the_inherited_socket() {
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    // The address on the command line is not bound: the inherited socket named echo is used.
    let mut activate = Command::new("systemd-socket-activate")
        .args([
            "-l",
            &listen,
            "--fdname=echo",
            NETKIT,
            "serve",
            "--echo",
            "127.0.0.1:9",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("systemd-socket-activate (Debian's systemd package)");
    let mut stderr = BufReader::new(activate.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    assert!(
        line.starts_with(&format!("Listening on {listen}")),
        "{line}"
    );
    // The first connection starts netkit on the socket; it waits in the accept queue.
    let out = netkit(&["echo", &listen], b"activated");
    assert_eq!(
        out.stdout,
        b"activated",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut stdout = BufReader::new(activate.stdout.take().unwrap());
    let mut listening = String::new();
    stdout.read_line(&mut listening).unwrap();
    assert_eq!(
        listening,
        format!("netkit: echo listening on tcp://{listen}\n")
    );
    let out = netkit(&["echo", &listen], b"again");
    assert_eq!(out.stdout, b"again");
    // systemd-socket-activate execs netkit in its place: SIGTERM drains and exits 0.
    let kill = Command::new("kill")
        .args(["-s", "TERM", &activate.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = activate.wait().unwrap();
    assert_eq!(status.code(), Some(0));
}

/// Datagrams netkit sends to NOTIFY_SOCKET, as they come.
struct NotifySocket {
    socket: UnixDatagram,
    path: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl NotifySocket {
    fn new() -> NotifySocket {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify.sock");
        let socket = UnixDatagram::bind(&path).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        NotifySocket {
            socket,
            path,
            _dir: dir,
        }
    }

    fn next(&self) -> String {
        let mut buf = [0u8; 4096];
        let n = self
            .socket
            .recv(&mut buf)
            .expect("a notification within 10 s");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }
}

#[test]
fn notifies_ready_reloading_and_stopping() {
    let notify = NotifySocket::new();
    let mut child = Command::new(NETKIT)
        .args(["serve", "--echo", "127.0.0.1:0", "--http", "127.0.0.1:0"])
        .env("NOTIFY_SOCKET", &notify.path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut lines = Vec::new();
    for _ in 0..2 {
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        lines.push(line);
    }
    // READY=1 comes once every listening line is out.
    assert_eq!(notify.next(), "READY=1\n");
    assert!(
        lines.iter().all(|l| l.contains(" listening on ")),
        "{lines:?}"
    );
    let signal = |name: &str| {
        let ok = Command::new("kill")
            .args(["-s", name, &child.id().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
    };
    signal("HUP");
    let reloading = notify.next();
    let mut parts = reloading.lines();
    assert_eq!(parts.next(), Some("RELOADING=1"), "{reloading}");
    let usec = parts.next().and_then(|l| l.strip_prefix("MONOTONIC_USEC="));
    assert!(
        usec.is_some_and(|n| n.parse::<u64>().is_ok()),
        "{reloading}"
    );
    assert_eq!(notify.next(), "READY=1\n");
    signal("TERM");
    assert_eq!(notify.next(), "STOPPING=1\n");
    assert_eq!(child.wait().unwrap().code(), Some(0));
}

#[test]
fn pings_the_watchdog_when_asked() {
    let notify = NotifySocket::new();
    let mut child = Command::new(NETKIT)
        .args(["serve", "--echo", "127.0.0.1:0"])
        .env("NOTIFY_SOCKET", &notify.path)
        .env("WATCHDOG_USEC", "200000")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    assert_eq!(notify.next(), "READY=1\n");
    // Every 100 ms (half of WATCHDOG_USEC).
    for _ in 0..3 {
        assert_eq!(notify.next(), "WATCHDOG=1\n");
    }
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn systemd_analyze_accepts_the_unit_files() {
    let dir = tempfile::tempdir().unwrap();
    let units = concat!(env!("CARGO_MANIFEST_DIR"), "/contrib/systemd");
    for name in ["netkit.service", "netkit.socket"] {
        let text = std::fs::read_to_string(format!("{units}/{name}")).unwrap();
        // verify checks that ExecStart's program exists: point it at this build.
        let text = text.replace("/usr/local/bin/netkit", NETKIT);
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no", "./netkit.socket", "./netkit.service"])
        .current_dir(dir.path())
        .output()
        .expect("systemd-analyze (Debian's systemd package)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
}
