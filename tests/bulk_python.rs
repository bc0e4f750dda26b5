//! Recipe 13 against Python: `.npy` arrays made by NumPy survive `netkit bulk` and read
//! back in NumPy with their dtype, shape and memory order; raw mode interoperates with the
//! recipe's own `send_from` / `recv_into` in both directions.
//!
//! NumPy comes from the tests' own venv (`common::test_python`).

mod common;
use common::*;
use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};

/// The recipe's functions, verbatim (the seed's recipe 13).
const RECIPE: &str = r#"
def send_from(arr, dest):
    view = memoryview(arr).cast("B")
    while len(view):
        nsent = dest.send(view)
        view = view[nsent:]

def recv_into(arr, source):
    view = memoryview(arr).cast("B")
    while len(view):
        nrecv = source.recv_into(view)
        view = view[nrecv:]
"#;

/// Arrays of several dtypes and both orders; each built the same way by `make(name)`.
const ARRAYS: &str = r#"
import numpy as np
def make(name):
    rng = np.random.default_rng(sum(map(ord, name)))
    if name == 'f8_c':    return rng.standard_normal((123, 457))
    if name == 'f4_f':    return np.asfortranarray(rng.standard_normal((33, 17, 5)).astype('<f4'))
    if name == 'i2_be_f': return np.asfortranarray(rng.integers(-30000, 30000, (40, 9)).astype('>i2'))
    if name == 'u1_1d':   return rng.integers(0, 256, 100_003).astype(np.uint8)
    if name == 'c16':     return (rng.standard_normal((7, 8, 9)) + 1j * rng.standard_normal((7, 8, 9)))
    if name == 'bool':    return rng.integers(0, 2, (31, 3)).astype(bool)
    if name == 'str':     return np.array([['ab', 'cde'], ['f', 'Ωmega']], dtype='<U5')
    if name == 'dt':      return np.arange(0, 10, dtype='int64').astype('datetime64[ns]')
    if name == 'scalar':  return np.array(3.25)
    if name == 'empty':   return np.zeros((0, 5), dtype='<i8')
    if name == 'big_f':   return np.asfortranarray(rng.standard_normal((1500, 1100)))
    raise KeyError(name)
NAMES = ['f8_c', 'f4_f', 'i2_be_f', 'u1_1d', 'c16', 'bool', 'str', 'dt', 'scalar', 'empty', 'big_f']
"#;

fn py(script: &str, args: &[&str]) -> String {
    python(&test_python(), script, args)
}

#[test]
fn numpy_arrays_round_trip_with_dtype_shape_and_order() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let names = py(
        &format!("{ARRAYS}\nimport sys\nfor n in NAMES: np.save(f'{{sys.argv[1]}}/{{n}}.npy', make(n))\nprint(' '.join(NAMES))"),
        &[d],
    );
    for name in names.split_whitespace() {
        let src = dir.path().join(format!("{name}.npy"));
        let dst = dir.path().join(format!("{name}.out.npy"));
        let rx = BulkReceiver::start(&["--out", dst.to_str().unwrap(), "--json"]);
        let out = netkit(
            &["bulk", "send", src.to_str().unwrap(), &rx.addr, "--json"],
            b"",
        );
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let (ok, rx_out, rx_err) = rx.finish();
        let ok = ok == Some(0);
        assert!(ok, "{name}: {rx_err}");
        let summary: serde_json::Value =
            serde_json::from_str(rx_out.lines().last().unwrap()).unwrap();
        // NumPy reads it back equal, with the same dtype, shape and order.
        let verdict = py(
            &format!(
                "{ARRAYS}\nimport sys\na = make(sys.argv[1]); b = np.load(sys.argv[2])\n\
                 assert a.dtype == b.dtype, (a.dtype, b.dtype)\n\
                 assert a.shape == b.shape, (a.shape, b.shape)\n\
                 assert a.flags.f_contiguous == b.flags.f_contiguous\n\
                 assert a.flags.c_contiguous == b.flags.c_contiguous\n\
                 assert np.array_equal(a, b)\n\
                 import json; print(json.dumps([b.dtype.str, list(b.shape)]))"
            ),
            &[name, dst.to_str().unwrap()],
        );
        let verdict: serde_json::Value = serde_json::from_str(verdict.trim()).unwrap();
        assert_eq!(summary["dtype"], verdict[0], "{name}");
        assert_eq!(summary["shape"], verdict[1], "{name}");
        assert_eq!(
            std::fs::read(&src).unwrap(),
            std::fs::read(&dst).unwrap(),
            "{name}"
        );
    }
}

#[test]
fn numpy_reads_an_array_received_on_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("a.npy");
    py(
        &format!("{ARRAYS}\nimport sys\nnp.save(sys.argv[1], make('f4_f'))"),
        &[src.to_str().unwrap()],
    );
    let mut rx = Command::new(NETKIT)
        .args(["bulk", "recv", "--listen", "127.0.0.1:0", "--stdout"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    // Kept open: the receiver reports on stderr when it is done.
    let mut err = BufReader::new(rx.stderr.take().unwrap());
    err.read_line(&mut line).unwrap();
    let addr = line.trim().rsplit("tcp://").next().unwrap().to_string();
    let mut stdout = rx.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut got = Vec::new();
        stdout.read_to_end(&mut got).unwrap();
        got
    });
    let out = netkit(&["bulk", "send", src.to_str().unwrap(), &addr], b"");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(rx.wait().unwrap().success());
    let got = reader.join().unwrap();
    assert_eq!(got, std::fs::read(&src).unwrap());
}

/// Python's `send_from` → `netkit bulk recv --raw --bytes N`.
#[test]
fn recipe_send_from_to_netkit_raw_recv() {
    let dir = tempfile::tempdir().unwrap();
    let dst = dir.path().join("arr.bin");
    let n_bytes = (1_234_567 * 8).to_string();
    let rx = BulkReceiver::start(&[
        "--out",
        dst.to_str().unwrap(),
        "--raw",
        "--bytes",
        &n_bytes,
        "--json",
    ]);
    let (_, port) = rx.addr.rsplit_once(':').unwrap();
    py(
        &format!(
            "{RECIPE}\nimport numpy, socket, sys\n\
             a = numpy.arange(0.0, 1234567.0)\n\
             c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)\n\
             c.connect(('127.0.0.1', int(sys.argv[1])))\n\
             send_from(a, c)\nc.close()"
        ),
        &[port],
    );
    let (ok, out, err) = rx.finish();
    let ok = ok == Some(0);
    assert!(ok, "{err}");
    let summary: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    assert_eq!(summary["bytes"], 1_234_567 * 8);
    assert_eq!(summary["checksum_algorithm"], "none");
    let got = std::fs::read(&dst).unwrap();
    assert_eq!(got.len(), 1_234_567 * 8);
    for (i, value) in got.chunks(8).enumerate() {
        assert_eq!(f64::from_le_bytes(value.try_into().unwrap()), i as f64);
    }
}

/// A raw sender that stops short leaves no file.
#[test]
fn short_raw_transfer_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let dst = dir.path().join("arr.bin");
    let rx = BulkReceiver::start(&["--out", dst.to_str().unwrap(), "--raw", "--bytes", "1000"]);
    let src = dir.path().join("short");
    std::fs::write(&src, [7u8; 999]).unwrap();
    let out = netkit(
        &["bulk", "send", src.to_str().unwrap(), &rx.addr, "--raw"],
        b"",
    );
    assert!(out.status.success());
    let (ok, _, err) = rx.finish();
    let ok = ok == Some(0);
    assert!(!ok);
    assert!(
        err.contains("connection closed after 999 of 1000 bytes"),
        "{err}"
    );
    assert!(!dst.exists());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

/// `netkit bulk send --raw` → Python's `recv_into` into a NumPy array.
#[test]
fn netkit_raw_send_to_recipe_recv_into() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src.bin");
    let verdict = dir.path().join("verdict");
    let values: Vec<u8> = (0..2_000_000u32)
        .flat_map(|i| (i * 3).to_le_bytes())
        .collect();
    std::fs::write(&src, &values).unwrap();
    let mut server = PythonServer::start_with(
        &test_python(),
        &format!(
            "{RECIPE}\nimport numpy, socket, sys\n\
             s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(1)\n\
             print(s.getsockname()[1], flush=True)\n\
             c, _ = s.accept()\n\
             a = numpy.zeros(shape=2_000_000, dtype='<u4')\n\
             recv_into(a, c)\n\
             ok = bool((a == numpy.arange(2_000_000, dtype='<u4') * 3).all())\n\
             open(sys.argv[1], 'w').write('EQUAL' if ok else 'DIFFERENT')"
        ),
        &[verdict.to_str().unwrap()],
    );
    let out = netkit(
        &[
            "bulk",
            "send",
            src.to_str().unwrap(),
            &server.addr(),
            "--raw",
            "--json",
        ],
        b"",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(server.child.wait().unwrap().success());
    assert_eq!(std::fs::read_to_string(&verdict).unwrap(), "EQUAL");
}

/// The library's `bulk::send` / `bulk::recv_into` against the recipe's functions.
#[test]
fn library_functions_speak_the_recipe() {
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let rt = tokio::runtime::Runtime::new().unwrap();
    // Python echoes what recv_into filled back with send_from.
    let server = PythonServer::start_with(
        &test_python(),
        &format!(
            "{RECIPE}\nimport numpy, socket\n\
             s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(1)\n\
             print(s.getsockname()[1], flush=True)\n\
             c, _ = s.accept()\n\
             a = numpy.zeros(3_000_000, dtype=numpy.uint8)\n\
             recv_into(a, c)\n\
             send_from(a, c)\n\
             c.close()"
        ),
        &[],
    );
    let back = rt.block_on(async {
        let mut tcp = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
        let (mut rd, mut wr) = tcp.split();
        let mut back = vec![0u8; data.len()];
        let (sent, received) = tokio::join!(
            netkit::bulk::send(&mut wr, &data),
            netkit::bulk::recv_into(&mut rd, &mut back)
        );
        sent.unwrap();
        received.unwrap();
        back
    });
    assert_eq!(back, data);
}
