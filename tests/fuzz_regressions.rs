//! The fuzz targets' checks (fuzz/checks.rs, the very code each target runs) over their
//! committed seed corpora and over every input that ever crashed one of them
//! (fuzz/regressions/<target>/, kept once the bug was fixed). Runs in plain `cargo test`,
//! no cargo-fuzz needed.

#[path = "../fuzz/checks.rs"]
#[allow(dead_code)]
mod checks;

use std::path::Path;

/// Runs `check` on every file of fuzz/seeds/TARGET and fuzz/regressions/TARGET; a failure
/// names the file. Returns how many inputs were replayed.
fn replay(target: &str, check: fn(&[u8])) -> usize {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut replayed = 0;
    for dir in ["seeds", "regressions"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir).join(target)) else {
            continue; // no regressions for this target
        };
        let mut paths: Vec<_> = entries.map(|e| e.unwrap().path()).collect();
        paths.sort();
        for path in paths {
            let data = std::fs::read(&path).unwrap();
            if std::panic::catch_unwind(|| check(&data)).is_err() {
                panic!("{target} fails on {}", path.display());
            }
            replayed += 1;
        }
    }
    replayed
}

macro_rules! replay_tests {
    ($($target:ident),*) => {$(
        #[test]
        fn $target() {
            let n = replay(stringify!($target), checks::$target::check);
            assert!(n > 0, "no seeds for {}", stringify!($target));
        }
    )*};
}

replay_tests!(
    bulk_header,
    cidr_parse,
    h2c_upgrade,
    http_headers,
    mpconn_frames,
    mpconn_handshake,
    pickle_loads,
    sntp_packet,
    xmlrpc_parse
);
