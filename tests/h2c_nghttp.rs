//! h2c by `Upgrade` with nghttp2's own client: `nghttp -u` gets `101 Switching Protocols`,
//! its answer on stream 1, and keeps using the connection. nghttp comes from Debian's
//! nghttp2-client, which a bare machine lacks: `cargo test` leaves this out (test = false)
//! and .ci/run installs nghttp and runs it by name.

mod common;
use common::*;
use std::process::Command;

#[test]
fn nghttp_upgrades_and_keeps_using_the_connection() {
    let served = serve(&["--http", "127.0.0.1:0"], 1);
    let addr = served.addr("http");
    // Two URIs on one connection: the first by the upgrade (stream 1), the second on a new
    // HTTP/2 stream (nghttp numbers it past the idle streams of its priority tree).
    let out = Command::new("nghttp")
        .args(["-u", "-v", "-t", "30"])
        .arg(format!("http://{addr}/get?first=1"))
        .arg(format!("http://{addr}/headers"))
        .output()
        .expect("nghttp is installed");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("HTTP Upgrade response"), "{stdout}");
    assert!(
        stdout.contains("HTTP/1.1 101 Switching Protocols"),
        "{stdout}"
    );
    assert!(stdout.contains("HTTP Upgrade success"), "{stdout}");
    assert!(
        stdout.contains("recv (stream_id=1) :status: 200"),
        "{stdout}"
    );
    assert_eq!(stdout.matches(":status: 200").count(), 2, "{stdout}");
    assert!(
        stdout.contains(&format!("\"Host\": \"{addr}\"")),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("\"url\": \"http://{addr}/get?first=1\"")),
        "{stdout}"
    );
}
