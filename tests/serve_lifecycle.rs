//! `netkit serve`'s contract: listening lines, exit codes, config files, graceful shutdown.

mod common;
use common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

#[test]
fn listening_lines_name_each_service_and_its_url() {
    let served = serve(&["--echo", "127.0.0.1:0", "--time", "127.0.0.1:0"], 2);
    let echo = &served.lines[0];
    let time = &served.lines[1];
    assert!(
        echo.starts_with("netkit: echo listening on tcp://127.0.0.1:"),
        "{echo}"
    );
    assert!(
        time.starts_with("netkit: time listening on udp://127.0.0.1:"),
        "{time}"
    );
    assert_ne!(port_of(served.addr("echo")), "0");
}

#[test]
fn ipv6_addresses_are_bracketed() {
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        eprintln!("no IPv6 loopback here; skipped");
        return;
    }
    let served = serve(&["--echo", "[::1]:0"], 1);
    assert!(served.lines[0].starts_with("netkit: echo listening on tcp://[::1]:"));
    let out = netkit(&["echo", served.addr("echo")], b"six");
    assert_eq!(out.stdout, b"six");
}

#[test]
fn a_port_in_use_exits_2_with_one_line_and_nothing_listening() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let free = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let free_port = free.local_addr().unwrap().port();
    drop(free);
    // time binds after echo fails? No: echo is bound first and fails, so time never
    // starts; and in the other order a bound time socket must be closed again.
    let out = std::process::Command::new(NETKIT)
        .args([
            "serve",
            "--time",
            &format!("127.0.0.1:{free_port}"),
            "--echo",
            &format!("127.0.0.1:{port}"),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty(), "no listening line may be printed");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with(&format!("netkit: echo: cannot bind 127.0.0.1:{port}: ")),
        "{stderr}"
    );
    // The process is gone, so the UDP port it may have bound is free again.
    std::net::UdpSocket::bind(("127.0.0.1", free_port)).unwrap();
}

#[test]
fn bad_flags_and_bad_config_exit_2() {
    let out = netkit(&["serve", "--no-such-flag"], b"");
    assert_eq!(out.status.code(), Some(2));

    let out = netkit(&["serve", "--echo", "nonsense"], b"");
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "netkit: --echo: \"nonsense\" is not HOST:PORT\n"
    );

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("netkit.toml");
    std::fs::write(&path, "echo = 5\n").unwrap();
    let out = netkit(&["serve", "--config", path.to_str().unwrap()], b"");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("netkit.toml"), "{stderr}");

    let out = netkit(&["serve", "--config", "/nonexistent/netkit.toml"], b"");
    assert_eq!(out.status.code(), Some(2));

    let out = netkit(
        &[
            "serve",
            "--echo",
            "127.0.0.1:0",
            "--tls-cert",
            "/nonexistent.pem",
            "--tls-key",
            "/nonexistent.key",
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent.pem"));
}

#[test]
fn config_file_starts_the_services_it_names() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("netkit.toml");
    std::fs::write(&path, "echo = \"127.0.0.1:0\"\nmax-connections = 10\n").unwrap();
    let served = serve(&["--config", path.to_str().unwrap()], 1);
    assert_eq!(served.addrs.len(), 1);
    let out = netkit(&["echo", served.addr("echo")], b"from config");
    assert_eq!(out.stdout, b"from config");
}

#[test]
fn sigterm_and_sigint_exit_0() {
    for signal in ["TERM", "INT"] {
        let mut served = serve(&["--echo", "127.0.0.1:0", "--time", "127.0.0.1:0"], 2);
        served.signal(signal);
        let (code, stderr) = served.wait_exit(Duration::from_secs(10));
        assert_eq!(code, Some(0), "SIG{signal}: {stderr}");
    }
}

#[test]
fn sigterm_mid_exchange_loses_no_bytes() {
    let mut served = serve(&["--echo", "127.0.0.1:0", "--grace", "30"], 1);
    let mut stream = TcpStream::connect(served.addr("echo")).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let payload: Vec<u8> = (0..4_000_000u32).map(|i| (i % 251) as u8).collect();
    let mut reader = stream.try_clone().unwrap();
    let expected = payload.len();
    let receiver = std::thread::spawn(move || {
        let mut received = Vec::with_capacity(expected);
        reader.read_to_end(&mut received).unwrap();
        received
    });
    // Half of it, then the signal, then the rest: all must come back.
    stream.write_all(&payload[..expected / 2]).unwrap();
    served.signal("TERM");
    stream.write_all(&payload[expected / 2..]).unwrap();
    stream.shutdown(std::net::Shutdown::Write).unwrap();
    let received = receiver.join().unwrap();
    assert_eq!(received.len(), payload.len());
    assert!(received == payload, "echo differs from what was sent");
    let (code, _) = served.wait_exit(Duration::from_secs(30));
    assert_eq!(code, Some(0));
}

#[test]
fn shutdown_closes_idle_connections_without_waiting_for_the_grace_period() {
    let mut served = serve(&["--echo", "127.0.0.1:0", "--grace", "600"], 1);
    let mut idle = TcpStream::connect(served.addr("echo")).unwrap();
    idle.write_all(b"ping").unwrap();
    let mut pong = [0u8; 4];
    idle.read_exact(&mut pong).unwrap();
    served.signal("TERM");
    // The idle connection is closed cleanly: EOF, not a reset.
    idle.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut rest = Vec::new();
    assert_eq!(idle.read_to_end(&mut rest).unwrap(), 0);
    let (code, _) = served.wait_exit(Duration::from_secs(60));
    assert_eq!(code, Some(0));
}

#[test]
fn help_has_examples() {
    for sub in [
        &["serve", "--help"][..],
        &["echo", "--help"],
        &["time", "--help"],
        &["tls", "gen-cert", "--help"],
        &["bench", "echo", "--help"],
    ] {
        let out = netkit(sub, b"");
        assert!(out.status.success(), "{sub:?}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("Example"),
            "{sub:?} help has no example:\n{text}"
        );
    }
}

/// The runtime's worker threads (tokio names them `tokio-rt-worker`).
fn runtime_workers(pid: i32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .filter(|comm| comm.trim_end() == "tokio-rt-worker")
        .count()
}

#[test]
fn threads_sets_the_runtime_workers_and_is_checked() {
    for (threads, expected) in [("1", 1), ("3", 3)] {
        let served = serve(&["--echo", "127.0.0.1:0", "--threads", threads], 1);
        // An echo round first: every worker has started by then.
        let mut client = TcpStream::connect(served.addr("echo")).unwrap();
        client.write_all(b"ping").unwrap();
        let mut answer = [0u8; 4];
        client.read_exact(&mut answer).unwrap();
        assert_eq!(&answer, b"ping");
        assert_eq!(
            runtime_workers(served.pid()),
            expected,
            "--threads {threads}"
        );
    }
    let out = netkit(&["serve", "--echo", "127.0.0.1:0", "--threads", "0"], b"");
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "netkit: --threads: must be 1 to 1024\n"
    );
}
