//! Recipe 11's socket handoff: netkit against the recipe's own Python worker and server,
//! balancing, dead workers, `--workers` with SIGHUP generations, and fd leaks.

mod common;
use common::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const RECIPE_WORKER: &str = include_str!("handoff_python/worker.py");
const RECIPE_SERVER: &str = include_str!("handoff_python/server.py");
const KEY: &str = "peekaboo";

/// The recipe's worker, its stdout lines collected as they come.
struct PyWorker {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl PyWorker {
    fn start(python: &Path, socket: &Path) -> PyWorker {
        let mut child = Command::new(python)
            .arg("-u")
            .arg("-c")
            .arg(RECIPE_WORKER)
            .arg(socket)
            .arg(KEY)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the recipe worker");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                sink.lock().unwrap().push(line);
            }
        });
        PyWorker { child, lines }
    }

    /// Clients this worker has received so far.
    fn clients(&self) -> usize {
        let lines = self.lines.lock().unwrap();
        lines
            .iter()
            .filter(|l| l.starts_with("WORKER: GOT FD"))
            .count()
    }

    /// Whether it echoed `message` (the recipe prints each message it receives).
    fn saw(&self, message: &str) -> bool {
        let wanted = format!("WORKER: RECV b'{message}'");
        self.lines.lock().unwrap().contains(&wanted)
    }

    /// Waits (bounded) until `check` holds for this worker.
    fn wait_until(&self, what: &str, check: impl Fn(&PyWorker) -> bool) {
        for _ in 0..500 {
            if check(self) {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!(
            "worker never got to: {what}; lines {:?}",
            self.lines.lock().unwrap()
        );
    }
}

impl Drop for PyWorker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One client: connect, send `message`, read exactly its echo, close.
fn echo_once(addr: &str, message: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(20)))?;
    stream.write_all(message)?;
    let mut got = vec![0u8; message.len()];
    stream.read_exact(&mut got)?;
    Ok(got)
}

fn fd_count(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count()
}

/// The fd count once connections that clients already closed are gone too: the same
/// for ten readings in a row (bounded).
fn settled_fd_count(pid: u32) -> usize {
    let mut last = fd_count(pid);
    let mut same = 0;
    for _ in 0..1000 {
        std::thread::sleep(Duration::from_millis(20));
        let now = fd_count(pid);
        same = if now == last { same + 1 } else { 0 };
        last = now;
        if same == 10 {
            return now;
        }
    }
    panic!("fd count of {pid} never settled");
}

fn alive(pid: u32) -> bool {
    // A zombie has no fds left and is not a running worker any more.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| !stat.contains(") Z "))
        .unwrap_or(false)
}

/// Polls `check` every 20 ms, at most `limit`.
fn eventually(limit: Duration, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !check() {
        assert!(Instant::now() < deadline, "never happened: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn socket_path(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("handoff.sock")
}

fn serve_handoff(socket: &Path) -> Served {
    serve_handoff_with(socket, &[])
}

fn serve_handoff_with(socket: &Path, more: &[&str]) -> Served {
    let socket = socket.to_str().unwrap();
    let mut args = vec![
        "--handoff",
        "127.0.0.1:0",
        "--handoff-socket",
        socket,
        "--authkey",
        KEY,
    ];
    args.extend_from_slice(more);
    serve(&args, 1)
}

#[test]
fn the_recipes_worker_of_every_python_serves_netkits_clients() {
    for py in pythons() {
        let dir = tempfile::tempdir().unwrap();
        let socket = socket_path(&dir);
        let served = serve_handoff(&socket);
        assert!(served.lines[0].starts_with("netkit: handoff listening on tcp://127.0.0.1:"));
        // Clients that come before any worker wait in the backlog, not lost.
        let early = {
            let addr = served.addr("handoff").to_string();
            std::thread::spawn(move || echo_once(&addr, b"early"))
        };
        let worker = PyWorker::start(&py, &socket);
        assert_eq!(early.join().unwrap().unwrap(), b"early", "{}", py.display());
        for i in 0..3 {
            let message = format!("hello {i}");
            let got = echo_once(served.addr("handoff"), message.as_bytes()).unwrap();
            assert_eq!(got, message.as_bytes(), "{}", py.display());
        }
        worker.wait_until("4 clients, the last one echoed", |w| {
            w.clients() == 4 && w.saw("hello 2")
        });
    }
}

#[test]
fn a_wrong_authkey_is_refused_and_gets_no_client() {
    let dir = tempfile::tempdir().unwrap();
    let socket = socket_path(&dir);
    let _served = serve_handoff(&socket);
    let out = Command::new(NETKIT)
        .args([
            "handoff",
            "worker",
            "--service",
            "echo",
            "--authkey",
            "wrong",
            "--connect",
        ])
        .arg(&socket)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("handshake"), "{stderr}");
}

/// Starts the recipe's server with `python` (it waits for its worker before listening)
/// and `netkit handoff worker`, and returns both once the server prints its port.
fn recipe_server_with_netkit_worker(python: &Path, socket: &Path) -> (Child, Child, String) {
    let mut server = Command::new(python)
        .arg("-u")
        .arg("-c")
        .arg(RECIPE_SERVER)
        .arg(socket)
        .arg("0")
        .arg(KEY)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let worker = Command::new(NETKIT)
        .args([
            "handoff",
            "worker",
            "--service",
            "echo",
            "--authkey",
            KEY,
            "--connect",
        ])
        .arg(socket)
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port: u16 = line
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("port line {line:?}"));
    (server, worker, format!("127.0.0.1:{port}"))
}

#[test]
fn netkits_worker_serves_the_recipes_server_of_every_python() {
    for py in pythons() {
        let dir = tempfile::tempdir().unwrap();
        let socket = socket_path(&dir);
        let (mut server, mut worker, addr) = recipe_server_with_netkit_worker(&py, &socket);
        // Several clients at once: the netkit worker is not serial like the recipe's.
        let mut held: Vec<TcpStream> = (0..5).map(|_| TcpStream::connect(&addr).unwrap()).collect();
        for (i, stream) in held.iter_mut().enumerate().rev() {
            stream
                .set_read_timeout(Some(Duration::from_secs(20)))
                .unwrap();
            let message = format!("client {i} of {}", py.display());
            stream.write_all(message.as_bytes()).unwrap();
            let mut got = vec![0u8; message.len()];
            stream.read_exact(&mut got).unwrap();
            assert_eq!(got, message.as_bytes());
        }
        drop(held);
        // The server going away ends the worker cleanly.
        server.kill().unwrap();
        server.wait().unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(status) = worker.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "worker did not exit");
            std::thread::sleep(Duration::from_millis(20));
        };
        assert_eq!(status.code(), Some(0), "{}", py.display());
    }
}

/// Two recipe workers, both registered (each has served a client), and every warm-up
/// client already counted in their output.
fn two_registered_workers(served: &Served, socket: &Path) -> (PyWorker, PyWorker) {
    let a = PyWorker::start(Path::new("python3"), socket);
    echo_once(served.addr("handoff"), b"warm a").unwrap();
    let b = PyWorker::start(Path::new("python3"), socket);
    let mut sent = 1;
    for i in 0..500 {
        if b.clients() > 0 {
            break;
        }
        echo_once(served.addr("handoff"), format!("warm b {i}").as_bytes()).unwrap();
        sent += 1;
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(b.clients() > 0, "second worker never registered");
    eventually(Duration::from_secs(10), "warm-up clients counted", || {
        a.clients() + b.clients() == sent
    });
    (a, b)
}

#[test]
fn two_workers_share_the_load_evenly() {
    let dir = tempfile::tempdir().unwrap();
    let socket = socket_path(&dir);
    let served = serve_handoff(&socket);
    let (a, b) = two_registered_workers(&served, &socket);
    let (a0, b0) = (a.clients(), b.clients());
    for i in 0..20 {
        let message = format!("share {i}");
        assert_eq!(
            echo_once(served.addr("handoff"), message.as_bytes()).unwrap(),
            message.as_bytes()
        );
    }
    // Round-robin, and neither worker is ever full: exactly half each.
    a.wait_until("10 more clients", |w| w.clients() == a0 + 10);
    b.wait_until("10 more clients", |w| w.clients() == b0 + 10);
}

#[test]
fn a_killed_worker_loses_only_its_own_client() {
    let dir = tempfile::tempdir().unwrap();
    let socket = socket_path(&dir);
    let served = serve_handoff(&socket);
    let (a, b) = two_registered_workers(&served, &socket);
    let addr = served.addr("handoff");
    // Two clients held open: round-robin puts them on different workers.
    let mut first = TcpStream::connect(addr).unwrap();
    let mut second = TcpStream::connect(addr).unwrap();
    for (stream, message) in [(&mut first, "first"), (&mut second, "second")] {
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        stream.write_all(message.as_bytes()).unwrap();
        let mut got = vec![0u8; message.len()];
        stream.read_exact(&mut got).unwrap();
        assert_eq!(got, message.as_bytes());
    }
    a.wait_until("its echo", |w| w.saw("first") || w.saw("second"));
    b.wait_until("its echo", |w| w.saw("first") || w.saw("second"));
    let (victim, survivor) = if a.saw("first") { (a, b) } else { (b, a) };
    assert!(victim.saw("first") && survivor.saw("second"));
    let (mut on_victim, mut on_survivor) = (first, second);
    drop(victim); // SIGKILL, reaped
                  // Its client is cut; the other one still echoes.
    let mut buf = [0u8; 16];
    let cut = on_victim
        .write_all(b"more")
        .and_then(|_| on_victim.read(&mut buf));
    assert!(
        matches!(cut, Ok(0) | Err(_)),
        "the dead worker's client still answered"
    );
    on_survivor.write_all(b"still").unwrap();
    let mut got = [0u8; 5];
    on_survivor.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"still");
    drop(on_survivor); // the recipe's worker serves one client at a time
    let before = survivor.clients();
    for i in 0..6 {
        let message = format!("after {i}");
        assert_eq!(
            echo_once(addr, message.as_bytes()).unwrap(),
            message.as_bytes()
        );
    }
    // Every new client went to the living worker.
    survivor.wait_until("6 more clients", |w| w.clients() == before + 6);
}

#[test]
fn handoff_leaks_no_fd() {
    let dir = tempfile::tempdir().unwrap();
    let socket = socket_path(&dir);
    let served = serve_handoff(&socket);
    let mut worker = Command::new(NETKIT)
        .args([
            "handoff",
            "worker",
            "--service",
            "echo",
            "--authkey",
            KEY,
            "--connect",
        ])
        .arg(&socket)
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    echo_once(served.addr("handoff"), b"warm").unwrap();
    let server_before = settled_fd_count(served.pid() as u32);
    let worker_before = settled_fd_count(worker.id());
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let addr = served.addr("handoff").to_string();
            std::thread::spawn(move || {
                for i in 0..50 {
                    let message = format!("t{t} i{i}");
                    assert_eq!(
                        echo_once(&addr, message.as_bytes()).unwrap(),
                        message.as_bytes()
                    );
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    assert_eq!(settled_fd_count(served.pid() as u32), server_before);
    assert_eq!(settled_fd_count(worker.id()), worker_before);
    let _ = worker.kill();
    let _ = worker.wait();
}

#[test]
fn workers_restart_and_sighup_replaces_them_without_dropping_a_request() {
    let mut served = serve(
        &["--echo", "127.0.0.1:0", "--workers", "2", "--grace", "5"],
        1,
    );
    assert!(served.lines[0].starts_with("netkit: echo listening on tcp://127.0.0.1:"));
    let supervisor = served.pid() as u32;
    let addr = served.addr("echo").to_string();
    eventually(Duration::from_secs(20), "two workers", || {
        children(supervisor).len() == 2
    });
    assert_eq!(echo_once(&addr, b"warm").unwrap(), b"warm");

    // A worker that dies is replaced, and clients keep being served.
    let first = children(supervisor);
    Command::new("kill")
        .args(["-9", &first[0].to_string()])
        .status()
        .unwrap();
    eventually(Duration::from_secs(20), "a replacement worker", || {
        let now = children(supervisor);
        now.len() == 2 && !now.contains(&first[0])
    });
    for i in 0..10 {
        let message = format!("after kill {i}");
        assert_eq!(
            echo_once(&addr, message.as_bytes()).unwrap(),
            message.as_bytes()
        );
    }
    let fds_before = settled_fd_count(supervisor);
    let generation_one = children(supervisor);

    // Bounded load from 4 threads while SIGHUP comes three times.
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let addr = addr.clone();
            std::thread::spawn(move || {
                for i in 0..150 {
                    let message = format!("thread {t} request {i}");
                    let got = echo_once(&addr, message.as_bytes())
                        .unwrap_or_else(|e| panic!("{message}: {e}"));
                    assert_eq!(got, message.as_bytes());
                }
            })
        })
        .collect();
    for _ in 0..3 {
        std::thread::sleep(Duration::from_millis(300));
        served.signal("HUP");
    }
    for thread in threads {
        thread.join().unwrap();
    }
    // Old generations exit; two workers remain; the supervisor holds what it held.
    eventually(Duration::from_secs(30), "old workers gone", || {
        let now = children(supervisor);
        now.len() == 2
            && generation_one
                .iter()
                .all(|pid| !now.contains(pid) && !alive(*pid))
    });
    eventually(
        Duration::from_secs(20),
        "supervisor fds back to before",
        || fd_count(supervisor) == fds_before,
    );
    assert_eq!(echo_once(&addr, b"last").unwrap(), b"last");

    let last = children(supervisor);
    served.signal("TERM");
    let (code, stderr) = served.wait_exit(Duration::from_secs(20));
    assert_eq!(code, Some(0), "{stderr}");
    eventually(
        Duration::from_secs(20),
        "workers exit with the supervisor",
        || last.iter().all(|pid| !alive(*pid)),
    );
}

#[test]
fn a_worker_that_does_not_send_a_pid_is_refused_and_others_still_work() {
    let dir = tempfile::tempdir().unwrap();
    let socket = socket_path(&dir);
    let served = serve_handoff(&socket);
    // Right key, but a str where the pid should be; then a frame bigger than the cap.
    let hostile = r#"
import sys
from multiprocessing.connection import Client
for first in ['not a pid', b'x' * 5000]:
    c = Client(sys.argv[1], authkey=b'peekaboo')
    c.send(first)
    try:
        c.recv_bytes()
        print('kept')
    except (EOFError, ConnectionResetError):
        print('closed')
"#;
    let out = python(
        &PathBuf::from("python3"),
        hostile,
        &[socket.to_str().unwrap()],
    );
    assert_eq!(out, "closed\nclosed\n");
    let worker = PyWorker::start(Path::new("python3"), &socket);
    assert_eq!(echo_once(served.addr("handoff"), b"fine").unwrap(), b"fine");
    worker.wait_until("one client", |w| w.clients() == 1);
}

/// One HTTP/1.1 GET on a fresh connection; the whole response (the server closes).
fn http_get(addr: &str, path: &str) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(20)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    Ok(response)
}

#[test]
fn workers_serve_echo_rpc_and_http_with_their_auth_while_xmlrpc_stays_in_the_supervisor() {
    let mut served = serve(
        &[
            "--echo",
            "127.0.0.1:0",
            "--rpc",
            "127.0.0.1:0",
            "--http",
            "127.0.0.1:0",
            "--xmlrpc",
            "127.0.0.1:0",
            "--workers",
            "2",
            "--authkey",
            KEY,
            "--hmac-key",
            "sesame",
            "--metrics",
            "127.0.0.1:0",
        ],
        5,
    );
    let supervisor = served.pid() as u32;
    eventually(Duration::from_secs(20), "two workers", || {
        children(supervisor).len() == 2
    });
    let (echo, rpc, http) = (served.addr("echo"), served.addr("rpc"), served.addr("http"));
    let xmlrpc = format!("http://{}", served.addr("xmlrpc"));

    // Each worker answers with the supervisor's settings: HMAC on echo, authkey on rpc.
    let out = netkit(&["echo", echo, "--hmac-key", "sesame"], b"hello workers");
    assert_eq!(out.stdout, b"hello workers", "{out:?}");
    let out = netkit(&["echo", echo, "--hmac-key", "wrong"], b"x");
    assert_eq!(out.stdout, b"", "a wrong HMAC key gets no echo: {out:?}");
    assert!(!out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("wrong --hmac-key"),
        "{out:?}"
    );
    let out = netkit(&["rpc", rpc, "add", "2", "3", "--authkey", KEY], b"");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "5", "{out:?}");
    let response = http_get(http, "/get?worker=1").unwrap();
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    assert!(response.contains(r#""worker": "1""#), "{response}");
    let out = netkit(&["xmlrpc", &xmlrpc, "set", "k", "[1, 2]"], b"");
    assert!(out.status.success(), "{out:?}");
    // Only the supervisor serves --metrics (a worker binding it too would fail); it
    // counts the clients it accepted and handed over.
    let scrape = http_get(served.addr("metrics"), "/metrics").unwrap();
    for line in [
        "netkit_connections_total{service=\"echo\"} 2\n",
        "netkit_requests_total{service=\"rpc\"} 1\n",
        "netkit_requests_total{service=\"http\"} 1\n",
    ] {
        assert!(scrape.contains(line), "{line} in {scrape}");
    }

    // Proof of where each runs: with both workers stopped, HTTP waits (its socket is
    // queued for them) while XML-RPC, served by the supervisor itself, still answers.
    let workers = children(supervisor);
    let send = |signal: &str| {
        for pid in &workers {
            Command::new("kill")
                .args([signal, &pid.to_string()])
                .status()
                .unwrap();
        }
    };
    send("-STOP");
    let mut waiting = TcpStream::connect(http).unwrap();
    write!(
        waiting,
        "GET /uuid HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    waiting
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut byte = [0u8; 1];
    let stalled = waiting.read(&mut byte);
    let out = netkit(&["xmlrpc", &xmlrpc, "get", "k"], b"");
    send("-CONT");
    assert!(
        matches!(&stalled, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "HTTP answered with its workers stopped: {stalled:?}"
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "[1,2]",
        "{out:?}"
    );
    waiting
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut response = String::new();
    waiting.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");

    served.signal("TERM");
    let (code, stderr) = served.wait_exit(Duration::from_secs(30));
    assert_eq!(code, Some(0), "{stderr}");
    eventually(Duration::from_secs(20), "workers exit", || {
        workers.iter().all(|pid| !alive(*pid))
    });
}

#[test]
fn a_client_no_worker_takes_is_closed_after_the_handoff_wait_and_later_ones_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let socket = socket_path(&dir);
    let served = serve_handoff_with(&socket, &["--handoff-wait", "0.5"]);
    let addr = served.addr("handoff").to_string();
    // No worker: the client is accepted, waits, and is closed rather than left hanging.
    let mut early = TcpStream::connect(&addr).unwrap();
    early
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    early.write_all(b"anyone?").unwrap();
    let mut rest = Vec::new();
    let read = early.read_to_end(&mut rest);
    assert!(
        matches!(read, Ok(0))
            || matches!(&read, Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset),
        "expected a close, got {read:?} {rest:?}"
    );

    let python = &pythons()[0];
    let worker = PyWorker::start(python, &socket);
    eventually(Duration::from_secs(20), "worker registered", || {
        echo_once(&addr, b"late").is_ok_and(|got| got == b"late")
    });
    eventually(Duration::from_secs(20), "the worker's log of it", || {
        worker.saw("late")
    });
}

#[test]
fn workers_speak_tls_with_the_supervisors_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let certs = dir.path().to_str().unwrap();
    let out = netkit(&["tls", "gen-cert", "--out", certs], b"");
    assert!(out.status.success(), "{out:?}");
    let (cert, key, ca) = (
        format!("{certs}/server.pem"),
        format!("{certs}/server.key"),
        format!("{certs}/ca.pem"),
    );
    let served = serve(
        &[
            "--echo",
            "127.0.0.1:0",
            "--workers",
            "2",
            "--tls-cert",
            &cert,
            "--tls-key",
            &key,
        ],
        1,
    );
    assert!(served.lines[0].starts_with("netkit: echo listening on tls://"));
    let port = port_of(served.addr("echo"));
    for i in 0..4 {
        let message = format!("over tls {i}");
        let out = netkit(
            &[
                "echo",
                &format!("localhost:{port}"),
                "--tls",
                "--cacert",
                &ca,
            ],
            message.as_bytes(),
        );
        assert_eq!(out.stdout, message.as_bytes(), "{out:?}");
    }
}
