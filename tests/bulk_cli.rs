//! `netkit bulk send` / `netkit bulk recv` end to end over 127.0.0.1: round trips of odd
//! sizes and a multi-GiB sparse file, stdin/stdout, parallel streams, TLS, resume, and a
//! receiver that refuses cut, corrupt and lying transfers without leaving FILE behind.

mod common;
use common::*;
use netkit::bulk::header::Header;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

fn json(text: &str) -> serde_json::Value {
    let line = text.lines().last().unwrap_or_else(|| panic!("no output"));
    serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {text:?}"))
}

fn send(args: &[&str]) -> Output {
    let mut full = vec!["bulk", "send"];
    full.extend_from_slice(args);
    netkit(&full, b"")
}

fn assert_ok(out: &Output) {
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Deterministic pseudo-random bytes (xorshift), so a failure can be reproduced.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// xxh3-64 of a file, hex, read through a map (holes cost nothing).
fn xxh3_of(path: &Path) -> String {
    let file = std::fs::File::open(path).unwrap();
    if file.metadata().unwrap().len() == 0 {
        return format!("{:016x}", xxhash_rust::xxh3::xxh3_64(b""));
    }
    let map = unsafe { memmap2::Mmap::map(&file) }.unwrap();
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    for chunk in map.chunks(1 << 24) {
        hasher.update(chunk);
    }
    format!("{:016x}", hasher.digest())
}

/// Files in `dir` other than `keep`: part files a transfer left behind.
fn leftovers(dir: &Path, keep: &[&str]) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !keep.contains(&n.as_str()))
        .collect()
}

fn round_trip(
    dir: &Path,
    data: &[u8],
    extra_send: &[&str],
) -> (serde_json::Value, serde_json::Value) {
    let src = dir.join("src.bin");
    let dst = dir.join("dst.bin");
    std::fs::write(&src, data).unwrap();
    let rx = BulkReceiver::start(&["--out", dst.to_str().unwrap(), "--json"]);
    let mut args = vec![src.to_str().unwrap(), rx.addr.as_str(), "--json"];
    args.extend_from_slice(extra_send);
    let out = send(&args);
    assert_ok(&out);
    let (code, rx_out, rx_err) = rx.finish();
    assert_eq!(code, Some(0), "{rx_err}");
    assert_eq!(std::fs::read(&dst).unwrap(), data);
    (json(&String::from_utf8_lossy(&out.stdout)), json(&rx_out))
}

#[test]
fn round_trips_of_odd_sizes() {
    let dir = tempfile::tempdir().unwrap();
    // `auto` copies on loopback; `always` keeps the sendfile(2) path under test.
    let sizes = [(0usize, 1u64), (1, 2), (7, 3), (65_537, 4), (3_000_001, 5)];
    for ((len, seed), sendfile) in sizes
        .into_iter()
        .flat_map(|size| ["auto", "always", "never"].map(|mode| (size, mode)))
    {
        let data = noise(len, seed);
        let (sent, got) = round_trip(dir.path(), &data, &["--sendfile", sendfile]);
        assert_eq!(sent["bytes"], len as u64);
        assert_eq!(got["bytes"], len as u64);
        let expected = format!("{:016x}", xxhash_rust::xxh3::xxh3_64(&data));
        assert_eq!(sent["checksum"], expected.as_str());
        assert_eq!(got["checksum"], expected.as_str());
        assert_eq!(got["checksum_algorithm"], "xxh3");
        assert_eq!(
            leftovers(dir.path(), &["src.bin", "dst.bin"]),
            Vec::<String>::new()
        );
    }
}

#[test]
fn parallel_streams_reassemble_the_file() {
    let dir = tempfile::tempdir().unwrap();
    for streams in ["2", "5"] {
        let data = noise(5_000_003, 9);
        let (sent, got) = round_trip(dir.path(), &data, &["--streams", streams]);
        assert_eq!(sent["streams"], streams.parse::<u64>().unwrap());
        assert_eq!(got["bytes"], 5_000_003);
    }
    // More streams than bytes: some streams carry nothing.
    round_trip(dir.path(), b"abc", &["--streams", "4"]);
}

#[test]
fn multi_gib_sparse_file_round_trips_and_stays_sparse() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("sparse.img");
    let dst = dir.path().join("copy.img");
    // Past 4 GiB, so 32-bit lengths anywhere would show; set_len costs no disk.
    let len: u64 = (4 << 30) + 4097;
    {
        let file = std::fs::File::create(&src).unwrap();
        file.set_len(len).unwrap();
        use std::os::unix::fs::FileExt;
        for (at, mark) in [
            (0u64, &b"start"[..]),
            (1 << 31, b"two GiB"),
            ((4 << 30) - 3, b"across 4 GiB"),
            (len - 3, b"end"),
        ] {
            file.write_all_at(mark, at).unwrap();
        }
    }
    let rx = BulkReceiver::start(&["--out", dst.to_str().unwrap(), "--json"]);
    let out = send(&[src.to_str().unwrap(), &rx.addr, "--json"]);
    assert_ok(&out);
    let (code, rx_out, rx_err) = rx.finish();
    assert_eq!(code, Some(0), "{rx_err}");
    let got = json(&rx_out);
    assert_eq!(got["bytes"], len);
    let expected = xxh3_of(&src);
    assert_eq!(got["checksum"], expected.as_str());
    assert_eq!(
        json(&String::from_utf8_lossy(&out.stdout))["checksum"],
        expected.as_str()
    );
    assert_eq!(std::fs::metadata(&dst).unwrap().len(), len);
    assert_eq!(xxh3_of(&dst), expected);
    use std::os::unix::fs::MetadataExt;
    let allocated = std::fs::metadata(&dst).unwrap().blocks() * 512;
    assert!(allocated < 64 << 10, "copy allocated {allocated} bytes");
}

#[test]
fn stdin_to_stdout() {
    let data = noise(2_500_000, 11);
    let mut rx = Command::new(NETKIT)
        .args(["bulk", "recv", "--listen", "127.0.0.1:0", "--stdout"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // With --stdout the listening line goes to stderr.
    let mut err = BufReader::new(rx.stderr.take().unwrap());
    let mut line = String::new();
    err.read_line(&mut line).unwrap();
    let addr = line
        .trim()
        .strip_prefix("netkit: bulk listening on tcp://")
        .unwrap_or_else(|| panic!("{line:?}"))
        .to_string();
    let reader = {
        let mut stdout = rx.stdout.take().unwrap();
        std::thread::spawn(move || {
            let mut got = Vec::new();
            stdout.read_to_end(&mut got).unwrap();
            got
        })
    };
    let out = netkit(&["bulk", "send", "--stdin", &addr, "--json"], &data);
    assert_ok(&out);
    assert!(rx.wait().unwrap().success());
    assert_eq!(reader.join().unwrap(), data);
    assert_eq!(
        json(&String::from_utf8_lossy(&out.stdout))["checksum"],
        format!("{:016x}", xxhash_rust::xxh3::xxh3_64(&data)).as_str()
    );
}

#[test]
fn stdin_to_file() {
    let dir = tempfile::tempdir().unwrap();
    let dst = dir.path().join("piped");
    let data = noise(1_000_000, 12);
    let rx = BulkReceiver::start(&["--out", dst.to_str().unwrap()]);
    assert_ok(&netkit(&["bulk", "send", "--stdin", &rx.addr], &data));
    assert_eq!(rx.finish().0, Some(0));
    assert_eq!(std::fs::read(&dst).unwrap(), data);
}

#[test]
fn tls_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let certs = dir.path().join("certs");
    assert_ok(&netkit(
        &["tls", "gen-cert", "--out", certs.to_str().unwrap()],
        b"",
    ));
    let src = dir.path().join("src");
    let dst = dir.path().join("dst");
    let data = noise(3_333_333, 13);
    std::fs::write(&src, &data).unwrap();
    let mut rx = Command::new(NETKIT)
        .args(["bulk", "recv", "--listen", "127.0.0.1:0", "--out"])
        .arg(&dst)
        .arg("--tls-cert")
        .arg(certs.join("server.pem"))
        .arg("--tls-key")
        .arg(certs.join("server.key"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(rx.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("netkit: bulk listening on tls://")
        .unwrap_or_else(|| panic!("{line:?}"))
        .to_string();
    let ca = certs.join("ca.pem");
    let out = send(&[
        src.to_str().unwrap(),
        &addr,
        "--tls",
        "--cacert",
        ca.to_str().unwrap(),
        "--streams",
        "2",
    ]);
    assert_ok(&out);
    assert!(rx.wait().unwrap().success());
    assert_eq!(std::fs::read(&dst).unwrap(), data);
}

/// Connects and writes `bytes`, then half-closes and returns what the receiver answered.
fn speak(addr: &str, bytes: &[u8]) -> Vec<u8> {
    let mut tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    // The receiver may refuse before reading everything; that is the point.
    let _ = tcp.write_all(bytes);
    let _ = tcp.shutdown(std::net::Shutdown::Write);
    let mut reply = Vec::new();
    let _ = tcp.read_to_end(&mut reply);
    reply
}

fn framed(data: &[u8], declared: u64, checksum: u64) -> Vec<u8> {
    let mut bytes = Header::single(7, declared).encode();
    bytes.extend_from_slice(data);
    bytes.extend_from_slice(&checksum.to_be_bytes());
    bytes
}

/// Runs a receiver against `bytes` and checks it failed naming `expected`, left nothing
/// behind, and told the sender why.
fn refused(extra: &[&str], bytes: &[u8], expected: &str) {
    let dir = tempfile::tempdir().unwrap();
    let dst = dir.path().join("out.bin");
    let mut args = vec!["--out", dst.to_str().unwrap()];
    args.extend_from_slice(extra);
    let rx = BulkReceiver::start(&args);
    let reply = speak(&rx.addr, bytes);
    let (code, _, err) = rx.finish();
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains(expected), "stderr {err:?} lacks {expected:?}");
    assert!(!dst.exists(), "a refused transfer left {}", dst.display());
    assert_eq!(leftovers(dir.path(), &[]), Vec::<String>::new());
    assert!(
        reply.starts_with(b"NKER") && String::from_utf8_lossy(&reply).contains(expected),
        "reply {:?}",
        String::from_utf8_lossy(&reply)
    );
}

#[test]
fn cut_connection_leaves_no_file() {
    let data = noise(100_000, 14);
    let mut bytes = Header::single(7, 1_000_000).encode();
    bytes.extend_from_slice(&data);
    refused(
        &[],
        &bytes,
        "connection closed after 100000 of 1000000 bytes",
    );
}

#[test]
fn corrupted_payload_is_a_checksum_error() {
    let data = noise(200_000, 15);
    let sum = xxhash_rust::xxh3::xxh3_64(&data);
    let mut corrupt = data.clone();
    corrupt[123_456] ^= 0x20;
    refused(&[], &framed(&corrupt, 200_000, sum), "checksum mismatch");
}

#[test]
fn headers_that_lie_about_sizes() {
    // More payload than declared: the declared bytes check out, then more come.
    let data = noise(1000, 16);
    let mut bytes = framed(&data, 1000, xxhash_rust::xxh3::xxh3_64(&data));
    bytes.extend_from_slice(b"surprise");
    refused(&[], &bytes, "more bytes than its header declared");

    // A size over --max-size is refused before a byte of payload is read.
    refused(
        &["--max-size", "1MiB"],
        &Header::single(7, 1 << 40).encode(),
        "over --max-size",
    );
    // Even without --max-size, a size past the disk's free space.
    refused(&[], &Header::single(7, u64::MAX - 1).encode(), "free space");

    // A header declaring itself 4 GiB long.
    let mut huge = Header::single(7, 10).encode();
    huge[8..12].copy_from_slice(&u32::MAX.to_be_bytes());
    refused(&[], &huge, "header declares 4294967295 bytes");

    // A header with bytes past its fixed part that it does not account for.
    let mut stray = Header::single(7, 0).encode();
    stray.extend_from_slice(b"junk");
    stray[8..12].copy_from_slice(&52u32.to_be_bytes());
    refused(&[], &stray, "no NPY flag");

    // An .npy preamble that says it is longer than the header holds.
    let npy = netkit::bulk::npy::NpyHeader {
        descr: "<f8".into(),
        fortran_order: false,
        shape: vec![4],
    };
    let mut preamble = npy.encode();
    preamble[8] = preamble[8].wrapping_add(16);
    let mut head = Header::single(7, 32);
    head.npy = Some((preamble, npy));
    refused(&[], &head.encode(), ".npy preamble declares");

    // More streams than a receiver serves at once.
    let mut many = Header::single(7, 10);
    many.stream_count = 17;
    refused(&[], &many.encode(), "at most 16 streams");

    // Not netkit at all.
    refused(&[], b"GET / HTTP/1.1\r\n\r\n", "not a netkit bulk stream");
}

#[test]
fn a_stream_that_does_not_match_its_transfer_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let dst = dir.path().join("out.bin");
    let rx = BulkReceiver::start(&["--out", dst.to_str().unwrap()]);
    // Stream 0 of 2 starts a 100-byte transfer and sends its half...
    let mut first = Header::single(9, 100);
    first.stream_count = 2;
    first.payload_len = 50;
    // Both streams are sent whole (header, payload, trailer), so the only fault is the
    // mismatch, whichever of the two connections the receiver happens to read first.
    let whole = |header: &Header, payload: &[u8]| {
        let mut bytes = header.encode();
        bytes.extend_from_slice(payload);
        bytes.extend_from_slice(&xxhash_rust::xxh3::xxh3_64(payload).to_be_bytes());
        bytes
    };
    let mut tcp = TcpStream::connect(&rx.addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    tcp.write_all(&whole(&first, &[1u8; 50])).unwrap();
    // ...then "stream 1" of the same id claims a different size.
    let mut second = Header::single(9, 200);
    second.stream_count = 2;
    second.stream_index = 1;
    second.offset = 50;
    second.payload_len = 150;
    let reply = speak(&rx.addr, &whole(&second, &[2u8; 150]));
    let _ = tcp.shutdown(std::net::Shutdown::Write);
    let mut first_reply = Vec::new();
    let _ = tcp.read_to_end(&mut first_reply);
    let replies = [
        String::from_utf8_lossy(&reply).to_string(),
        String::from_utf8_lossy(&first_reply).to_string(),
    ];
    assert!(
        replies.iter().any(|r| r.contains("does not match")),
        "{replies:?}"
    );
    let (code, _, err) = rx.finish();
    assert_eq!(code, Some(1));
    assert!(
        err.contains("of transfer 0000000000000009 does not match the transfer's other streams"),
        "{err}"
    );
    drop(tcp);
    assert!(!dst.exists());
    assert_eq!(leftovers(dir.path(), &[]), Vec::<String>::new());
}

#[test]
fn sender_reports_the_receivers_refusal() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("big");
    std::fs::File::create(&src)
        .unwrap()
        .set_len(50 << 20)
        .unwrap();
    let dst = dir.path().join("dst");
    let rx = BulkReceiver::start(&["--out", dst.to_str().unwrap(), "--max-size", "1MiB"]);
    let out = send(&[src.to_str().unwrap(), &rx.addr]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("the receiver refused the transfer") && err.contains("--max-size"),
        "{err}"
    );
    assert_eq!(rx.finish().0, Some(1));
    assert!(!dst.exists());
}

#[test]
fn resume_sends_only_what_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src.bin");
    let dst = dir.path().join("dst.bin");
    let data = noise(4_000_000, 17);
    std::fs::write(&src, &data).unwrap();

    // A first attempt cut after 1.5 MB: a resumable header, then the connection closes.
    let rx = BulkReceiver::start(&["--out", dst.to_str().unwrap(), "--resume"]);
    let mut header = Header::single(0, data.len() as u64);
    header.resume = true;
    // The id the sender derives for this file: learned from a dry header exchange below.
    let probe_id = resume_id_of(&src);
    header.transfer_id = probe_id;
    let mut tcp = TcpStream::connect(&rx.addr).unwrap();
    tcp.write_all(&header.encode()).unwrap();
    let mut at = [0u8; 12];
    tcp.read_exact(&mut at).unwrap();
    assert_eq!(&at, b"NKAT\0\0\0\0\0\0\0\0");
    tcp.write_all(&data[..1_500_000]).unwrap();
    drop(tcp);
    let (code, _, err) = rx.finish();
    assert_eq!(code, Some(1));
    assert!(err.contains("connection closed after 1500000"), "{err}");
    assert!(!dst.exists());
    let parts = leftovers(dir.path(), &["src.bin"]);
    assert_eq!(parts.len(), 1, "{parts:?}");

    // The real sender resumes there.
    let rx = BulkReceiver::start(&["--out", dst.to_str().unwrap(), "--resume", "--json"]);
    let out = send(&[src.to_str().unwrap(), &rx.addr, "--resume", "--json"]);
    assert_ok(&out);
    let sent = json(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(sent["resumed_from"], 1_500_000);
    assert_eq!(sent["bytes"], 2_500_000);
    let (code, rx_out, err) = rx.finish();
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(json(&rx_out)["resumed_from"], 1_500_000);
    assert_eq!(std::fs::read(&dst).unwrap(), data);
    assert_eq!(
        leftovers(dir.path(), &["src.bin", "dst.bin"]),
        Vec::<String>::new()
    );
}

/// The transfer id `netkit bulk send --resume` uses for `path` (see send.rs: xxh3 of the
/// canonical path, size and modification time).
fn resume_id_of(path: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).unwrap();
    let name: PathBuf = std::fs::canonicalize(path).unwrap();
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    hasher.update(name.as_os_str().as_encoded_bytes());
    hasher.update(&meta.len().to_be_bytes());
    hasher.update(&meta.mtime().to_be_bytes());
    hasher.update(&meta.mtime_nsec().to_be_bytes());
    hasher.digest()
}

#[test]
fn keep_going_receives_one_transfer_after_another() {
    let dir = tempfile::tempdir().unwrap();
    let dst = dir.path().join("dst");
    let rx = BulkReceiver::start(&["--out", dst.to_str().unwrap(), "--keep-going", "--json"]);
    for (i, len) in [10usize, 20_000, 1].into_iter().enumerate() {
        let src = dir.path().join(format!("src{i}"));
        let data = noise(len, i as u64 + 20);
        std::fs::write(&src, &data).unwrap();
        assert_ok(&send(&[src.to_str().unwrap(), &rx.addr]));
        assert_eq!(std::fs::read(&dst).unwrap(), data);
    }
    // A bad transfer does not stop it either.
    assert!(speak(&rx.addr, b"nonsense").starts_with(b"NKER"));
    let src = dir.path().join("last");
    std::fs::write(&src, b"still here").unwrap();
    assert_ok(&send(&[src.to_str().unwrap(), &rx.addr]));
    assert_eq!(std::fs::read(&dst).unwrap(), b"still here");
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &[
            "bulk",
            "recv",
            "--listen",
            "127.0.0.1:0",
            "--out",
            "x",
            "--raw",
        ][..],
        &[
            "bulk",
            "recv",
            "--listen",
            "127.0.0.1:0",
            "--out",
            "x",
            "--max-size",
            "lots",
        ],
        &["bulk", "recv", "--listen", "256.0.0.1:0", "--out", "x"],
        &["bulk", "send", "--stdin", "a", "b"],
        &["bulk", "send", "onlyone"],
        &["bulk", "send", "f", "127.0.0.1:1", "--streams", "0"],
        &["bulk", "send", "f", "127.0.0.1:1", "--streams", "17"],
    ] {
        let out = netkit(args, b"");
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.lines().count() >= 1, "{err}");
    }
}

#[test]
fn a_signal_mid_transfer_leaves_no_part_file() {
    for (extra, code) in [(&[][..], Some(1)), (&["--keep-going"][..], Some(0))] {
        let dir = tempfile::tempdir().unwrap();
        let dst = dir.path().join("out.bin");
        let mut args = vec!["--out", dst.to_str().unwrap()];
        args.extend_from_slice(extra);
        let rx = BulkReceiver::start(&args);
        let mut tcp = TcpStream::connect(&rx.addr).unwrap();
        tcp.write_all(&Header::single(5, 1 << 20).encode()).unwrap();
        tcp.write_all(&noise(300_000, 5)).unwrap();
        // The part file exists while the transfer is under way.
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while leftovers(dir.path(), &[]).is_empty() {
            assert!(
                std::time::Instant::now() < deadline,
                "no part file appeared"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        let status = Command::new("kill")
            .args(["-s", "TERM", &rx.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let (got, _, err) = rx.finish();
        assert_eq!(got, code, "{extra:?}: {err}");
        assert!(!dst.exists());
        assert_eq!(
            leftovers(dir.path(), &[]),
            Vec::<String>::new(),
            "{extra:?}"
        );
    }
}

#[test]
fn a_stalled_sender_is_abandoned_and_told_why() {
    let dir = tempfile::tempdir().unwrap();
    let dst = dir.path().join("out.bin");
    let rx = BulkReceiver::start(&["--out", dst.to_str().unwrap(), "--timeout", "1"]);
    let mut tcp = TcpStream::connect(&rx.addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    tcp.write_all(&Header::single(3, 1 << 20).encode()).unwrap();
    tcp.write_all(&noise(100_000, 3)).unwrap();
    // ...and then nothing more, the connection left open.
    let mut reply = Vec::new();
    let _ = tcp.read_to_end(&mut reply);
    let (code, _, err) = rx.finish();
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("no progress from the peer for 1s"), "{err}");
    let reply = String::from_utf8_lossy(&reply);
    assert!(
        reply.starts_with("NKER") && reply.contains("no progress from the peer for 1s"),
        "{reply:?}"
    );
    assert!(!dst.exists());
    assert_eq!(leftovers(dir.path(), &[]), Vec::<String>::new());
}

#[test]
fn a_failed_stream_stops_its_siblings() {
    let dir = tempfile::tempdir().unwrap();
    let dst = dir.path().join("out.bin");
    // A long timeout: a sibling left to wait would be reported as a stall, not as this.
    let rx = BulkReceiver::start(&["--out", dst.to_str().unwrap(), "--timeout", "600"]);
    let mut first = Header::single(11, 200);
    first.stream_count = 2;
    first.payload_len = 100;
    let mut waiting = TcpStream::connect(&rx.addr).unwrap();
    waiting
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    waiting.write_all(&first.encode()).unwrap();
    waiting.write_all(&[1u8; 10]).unwrap();
    // Stream 0 has joined (its transfer's part file exists) and waits for more bytes...
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while leftovers(dir.path(), &[]).is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "no part file appeared"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    // ...when stream 1 arrives whole with a wrong checksum.
    let mut second = first.clone();
    second.stream_index = 1;
    second.offset = 100;
    let mut bytes = second.encode();
    bytes.extend_from_slice(&[2u8; 100]);
    bytes.extend_from_slice(&0u64.to_be_bytes());
    let reply = String::from_utf8_lossy(&speak(&rx.addr, &bytes)).to_string();
    assert!(reply.contains("checksum mismatch"), "{reply:?}");
    let mut stopped = Vec::new();
    let _ = waiting.read_to_end(&mut stopped);
    let stopped = String::from_utf8_lossy(&stopped);
    assert!(
        stopped.starts_with("NKER")
            && stopped.contains("another stream of this transfer failed: checksum mismatch"),
        "{stopped:?}"
    );
    let (code, _, err) = rx.finish();
    assert_eq!(code, Some(1), "{err}");
    assert!(!dst.exists());
    assert_eq!(leftovers(dir.path(), &[]), Vec::<String>::new());
}
