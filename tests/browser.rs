//! The landing page in a real browser: `tests/browser/landing.py` drives Debian's
//! `chromium` (/usr/bin/chromium) headless through Playwright for Python against
//! `netkit serve --http`. With `NETKIT_UPDATE_SCREENSHOTS=1` it saves its screenshots as
//! the README's docs/landing.png and docs/landing-phone.png.
//!
//! Needs chromium from apt and Playwright for the Python in `NETKIT_TEST_PYTHON` (default
//! `python3`): `pip install playwright==1.*` (not `playwright install`: the system browser
//! is used). Without them this test fails and says so.

mod common;
use common::*;
use std::path::Path;
use std::process::Command;

#[test]
fn landing_page_in_headless_chromium() {
    let python = std::env::var("NETKIT_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    assert!(
        Path::new("/usr/bin/chromium").exists(),
        "this test needs Debian's chromium: apt-get install chromium"
    );
    let has_playwright = Command::new(&python)
        .args(["-c", "import playwright.sync_api"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        has_playwright,
        "this test needs Playwright for {python}: pip install playwright \
         (or point NETKIT_TEST_PYTHON at a venv that has it)"
    );
    let server = serve(&["--http", "127.0.0.1:0"], 1);
    let base = server.urls["http"].clone();
    let scratch = tempfile::tempdir().unwrap();
    let shots = if std::env::var_os("NETKIT_UPDATE_SCREENSHOTS").is_some() {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("docs")
    } else {
        scratch.path().to_path_buf()
    };
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser/landing.py");
    let out = Command::new(&python)
        .arg(script)
        .arg(&base)
        .arg(&shots)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "ok\n");
}
