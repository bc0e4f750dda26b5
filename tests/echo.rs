//! Recipe 2's echo service against real clients, and `netkit echo` against the recipe's
//! Python server; hostile peers cannot hurt others.

mod common;
use common::*;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

const PY_ECHO_CLIENT: &str = r#"
import socket, sys
host, port = sys.argv[1].rsplit(':', 1)
s = socket.create_connection((host, int(port)))
for msg in [b'hello', b'x' * 100000, bytes(range(256))]:
    s.sendall(msg)
    got = b''
    while len(got) < len(msg):
        chunk = s.recv(65536)
        assert chunk, 'server closed early'
        got += chunk
    assert got == msg, (len(got), len(msg))
s.shutdown(socket.SHUT_WR)
assert s.recv(10) == b'', 'expected EOF after half-close'
print('ok')
"#;

#[test]
fn python_socket_clients_of_every_version_get_their_bytes_back() {
    let served = serve(&["--echo", "127.0.0.1:0"], 1);
    for py in pythons() {
        let out = python(&py, PY_ECHO_CLIENT, &[served.addr("echo")]);
        assert_eq!(out, "ok\n", "{}", py.display());
    }
}

#[test]
fn half_close_returns_everything_then_eof() {
    let served = serve(&["--echo", "127.0.0.1:0"], 1);
    let mut stream = TcpStream::connect(served.addr("echo")).unwrap();
    let payload: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 256) as u8).collect();
    stream.write_all(&payload).unwrap();
    stream.shutdown(Shutdown::Write).unwrap();
    let mut back = Vec::new();
    stream.read_to_end(&mut back).unwrap();
    assert!(back == payload, "got {} bytes", back.len());
}

#[test]
fn many_concurrent_clients_each_get_their_own_bytes() {
    let served = serve(&["--echo", "127.0.0.1:0"], 1);
    let addr = served.addr("echo").to_string();
    let threads: Vec<_> = (0..200u32)
        .map(|id| {
            let addr = addr.clone();
            std::thread::spawn(move || {
                let mut s = TcpStream::connect(&addr).unwrap();
                let msg = format!("client {id} ").repeat(50);
                for _ in 0..20 {
                    s.write_all(msg.as_bytes()).unwrap();
                    let mut back = vec![0u8; msg.len()];
                    s.read_exact(&mut back).unwrap();
                    assert_eq!(back, msg.as_bytes());
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

#[test]
fn netkit_echo_client_against_the_recipes_python_server() {
    let server = PythonServer::start(
        r#"
from socketserver import BaseRequestHandler, TCPServer
class EchoHandler(BaseRequestHandler):
    def handle(self):
        while True:
            msg = self.request.recv(8192)
            if not msg:
                break
            self.request.send(msg)
serv = TCPServer(('127.0.0.1', 0), EchoHandler)
print(serv.server_address[1], flush=True)
serv.serve_forever()
"#,
        &[],
    );
    let input: Vec<u8> = (0..100_000u32).map(|i| (i % 97) as u8).collect();
    let out = netkit(&["echo", &server.addr()], &input);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout == input, "got {} bytes", out.stdout.len());
}

#[test]
fn netkit_echo_reports_a_refused_connection() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let out = netkit(&["echo", &format!("127.0.0.1:{port}")], b"x");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with(&format!("netkit: cannot connect to 127.0.0.1:{port}: ")),
        "{stderr}"
    );
}

#[test]
fn a_client_that_never_reads_meets_backpressure() {
    let served = serve(&["--echo", "127.0.0.1:0"], 1);
    let mut stream = TcpStream::connect(served.addr("echo")).unwrap();
    stream.set_nonblocking(true).unwrap();
    let chunk = vec![0u8; 1 << 16];
    let mut written = 0usize;
    let mut stalls = 0;
    // Keep pushing without reading. If the server buffered everything, all 512 MiB
    // would go through; with backpressure the socket buffers fill and writes stall.
    while written < 512 << 20 && stalls < 200 {
        match stream.write(&chunk) {
            Ok(n) => {
                written += n;
                stalls = 0;
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                stalls += 1;
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => panic!("{e}"),
        }
    }
    assert!(
        written < 64 << 20,
        "{written} bytes accepted without being read back"
    );
    // The server did not buffer it either: its memory stayed small.
    assert!(
        served.vm_hwm_kib() < 64 * 1024,
        "server peak RSS {} KiB",
        served.vm_hwm_kib()
    );
    // And it still serves others.
    let out = netkit(&["echo", served.addr("echo")], b"still here");
    assert_eq!(out.stdout, b"still here");
}

#[test]
fn a_thousand_silent_connections_do_not_stop_others() {
    let served = serve(&["--echo", "127.0.0.1:0"], 1);
    let silent: Vec<TcpStream> = (0..1000)
        .map(|_| TcpStream::connect(served.addr("echo")).unwrap())
        .collect();
    let out = netkit(&["echo", served.addr("echo")], b"through the crowd");
    assert_eq!(out.stdout, b"through the crowd");
    drop(silent);
}

#[test]
fn idle_connections_are_closed_after_the_idle_timeout() {
    let served = serve(&["--echo", "127.0.0.1:0", "--idle-timeout", "0.3"], 1);
    let mut stream = TcpStream::connect(served.addr("echo")).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut buf = [0u8; 1];
    assert_eq!(
        stream.read(&mut buf).unwrap(),
        0,
        "expected EOF from the server"
    );
}

#[test]
fn connections_over_the_cap_are_closed_and_the_listener_goes_on() {
    let served = serve(&["--echo", "127.0.0.1:0", "--max-connections", "2"], 1);
    let addr = served.addr("echo");
    let mut first = TcpStream::connect(addr).unwrap();
    let mut second = TcpStream::connect(addr).unwrap();
    for s in [&mut first, &mut second] {
        s.write_all(b"in").unwrap();
        let mut b = [0u8; 2];
        s.read_exact(&mut b).unwrap();
    }
    for _ in 0..5 {
        let mut over = TcpStream::connect(addr).unwrap();
        over.set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let _ = over.write_all(b"no");
        let mut b = [0u8; 2];
        match over.read(&mut b) {
            Ok(0) => {}
            Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
            other => panic!("connection over the cap was served: {other:?}"),
        }
    }
    drop(first);
    // Once a slot is free a new client is served again (the server may take a moment to
    // notice the close, so retry a few times).
    let mut served_again = false;
    for _ in 0..50 {
        let out = netkit(&["echo", addr], b"again");
        if out.stdout == b"again" {
            served_again = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(served_again);
    second.write_all(b"ok").unwrap();
    let mut b = [0u8; 2];
    second.read_exact(&mut b).unwrap();
    assert_eq!(&b, b"ok");
}
