//! The soak suite at a short duration: bench/soak.sh runs every service of one
//! `netkit serve` under mixed load with faults injected (worker kills, SIGHUP, KV store
//! restarts, garbage, slowloris, killed clients) and checks what must hold after. The long
//! run (`bench/soak.sh`, 5 min) is a benchmark; this one proves the same checks pass.

mod common;
use common::NETKIT;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Everything the table must report as ok.
const CHECKS: &[&str] = &[
    "load loops ended by themselves",
    "echo (--workers): answers exact",
    "echo (handoff): answers exact",
    "time: answers exact",
    "http: answers exact",
    "xmlrpc: answers exact",
    "conn: answers exact",
    "rpc: answers exact",
    "bulk: answers exact",
    "xmlrpc: acknowledged writes read back",
    "fault injected: clients killed mid-frame",
    "fault injected: truncated + oversized frames",
    "fault injected: garbage on every port",
    "fault injected: worker kill -9",
    "fault injected: KV store restart",
    "fault injected: SIGHUP (new worker generation)",
    "fault injected: slowloris on HTTP",
    "slowloris connections closed by server",
    "--workers back to full strength",
    "serve fds: warm -> middle -> end",
    "serve RSS MiB: warm -> middle -> end",
    "xmlrpc server exit codes on SIGTERM",
    "handoff worker exit code on SIGTERM",
    "bulk recv exit code on SIGTERM",
    "serve exit code on SIGTERM",
    "panics in the logs",
];

#[test]
fn short_soak_passes_every_check() {
    let mut child = Command::new("bash")
        .args(["bench/soak.sh", "--duration", "25"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NETKIT", NETKIT)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group, so a hung run can be ended with everything it started.
        .process_group(0)
        .spawn()
        .expect("run bench/soak.sh");
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    // 25 s of load plus warm-up, settling and draining; far less than this limit.
    let limit = Instant::now() + Duration::from_secs(110);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() > limit {
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", child.id())])
                .status();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let (out, err) = (out.join().unwrap(), err.join().unwrap());
    let status = status.unwrap_or_else(|| panic!("soak did not finish in time:\n{out}\n{err}"));
    assert!(status.success(), "soak failed ({status}):\n{out}\n{err}");
    for check in CHECKS {
        let line = out
            .lines()
            .find(|l| l.starts_with(check))
            .unwrap_or_else(|| panic!("no line for {check:?} in:\n{out}"));
        assert!(line.ends_with("  ok"), "{line}");
    }
    let n = CHECKS.len();
    assert!(out.contains(&format!("soak: {n}/{n} checks ok")), "{out}");
}
