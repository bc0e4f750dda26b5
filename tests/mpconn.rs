//! Recipes 7 and 8: multiprocessing.connection echo and pickle RPC against every Python's
//! stock `Client` and the recipe's `RPCProxy`; netkit's clients against the recipe's
//! Python servers; hostile frames.

mod common;
use common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

const PY_CONN_CLIENT: &str = r#"
import sys
from multiprocessing.connection import Client
from multiprocessing import AuthenticationError
host, port = sys.argv[1].rsplit(':', 1)
key = sys.argv[2].encode() if len(sys.argv) > 2 else None
c = Client((host, int(port)), authkey=key)
values = ['hello', 42, [1, 2, 3, 4, 5], {'a': (1, 2.5), 'b': {b'x', frozenset()}},
          2**100, None, True, bytearray(b'ba'), 'x' * 100000, KeyError('k')]
for v in values:
    c.send(v)
    got = c.recv()
    if isinstance(v, Exception):
        assert type(got) is type(v) and got.args == v.args, got
    else:
        assert got == v and type(got) is type(v), (v, got)
print('ok')
"#;

const RECIPE_RPC_PROXY: &str = r#"
import pickle, sys
from multiprocessing.connection import Client
class RPCProxy:
    def __init__(self, connection):
        self._connection = connection
    def __getattr__(self, name):
        def do_rpc(*args, **kwargs):
            self._connection.send(pickle.dumps((name, args, kwargs)))
            result = pickle.loads(self._connection.recv())
            if isinstance(result, Exception):
                raise result
            return result
        return do_rpc
host, port = sys.argv[1].rsplit(':', 1)
c = Client((host, int(port)), authkey=b'peekaboo')
proxy = RPCProxy(c)
print(proxy.add(2, 3), proxy.sub(2, 3), proxy.add(2**64, 1), proxy.add(1.5, 2),
      proxy.add('a', 'b'), proxy.add([1], [2]), proxy.add((1,), (2,)), proxy.sub(x=10, y=4))
for call in [lambda: proxy.mul(1, 2), lambda: proxy.add(1), lambda: proxy.add(1, 2, 3),
             lambda: proxy.add(1, 'x'), lambda: proxy.add('x', 1), lambda: proxy.add(1, z=2)]:
    try:
        call()
        print('no exception')
    except Exception as e:
        print(type(e).__name__, e)
# A malformed request: an exception comes back and the connection lives on.
c.send('not a pickled request')
result = pickle.loads(c.recv())
print(type(result).__name__)
print(proxy.add(20, 22))
"#;

#[test]
fn every_python_client_gets_its_objects_back() {
    let served = serve(&["--conn", "127.0.0.1:0", "--authkey", "peekaboo"], 1);
    for py in pythons() {
        assert_eq!(
            python(&py, PY_CONN_CLIENT, &[served.addr("conn"), "peekaboo"]),
            "ok\n",
            "{}",
            py.display()
        );
    }
}

#[test]
fn without_an_authkey_there_is_no_handshake() {
    let served = serve(&["--conn", "127.0.0.1:0"], 1);
    assert_eq!(
        python(&"python3".into(), PY_CONN_CLIENT, &[served.addr("conn")]),
        "ok\n"
    );
}

#[test]
fn a_wrong_authkey_is_refused_on_every_python() {
    let served = serve(&["--conn", "127.0.0.1:0", "--authkey", "peekaboo"], 1);
    let script = r#"
import sys
from multiprocessing.connection import Client
from multiprocessing import AuthenticationError
host, port = sys.argv[1].rsplit(':', 1)
try:
    Client((host, int(port)), authkey=b'wrong')
    print('accepted')
except AuthenticationError as e:
    print('refused')
"#;
    for py in pythons() {
        assert_eq!(
            python(&py, script, &[served.addr("conn")]),
            "refused\n",
            "{}",
            py.display()
        );
    }
}

#[test]
fn the_recipes_rpc_proxy_on_every_python() {
    let served = serve(&["--rpc", "127.0.0.1:0", "--authkey", "peekaboo"], 1);
    let expected = "5 -1 18446744073709551617 3.5 ab [1, 2] (1, 2) 6\n\
KeyError 'mul'\n\
TypeError add() missing 1 required positional argument: 'y'\n\
TypeError add() takes 2 positional arguments but 3 were given\n\
TypeError unsupported operand type(s) for +: 'int' and 'str'\n\
TypeError can only concatenate str (not \"int\") to str\n\
TypeError add() got an unexpected keyword argument 'z'\n\
ValueError\n\
42\n";
    for py in pythons() {
        assert_eq!(
            python(&py, RECIPE_RPC_PROXY, &[served.addr("rpc")]),
            expected,
            "{}",
            py.display()
        );
    }
}

/// The recipe programs, as the benchmarks run them.
const RECIPE_ECHO_SERVER: &str = include_str!("../bench/python/conn_server.py");
const RECIPE_RPC_SERVER: &str = include_str!("../bench/python/rpc_server.py");

#[test]
fn netkit_conn_against_the_recipes_python_server() {
    let server = PythonServer::start(RECIPE_ECHO_SERVER, &[]);
    let input = "\"hello\"\n42\n[1, 2, 3, 4, 5]\n{\"$tuple\": [1, {\"$bytes\": \"aGk=\"}]}\n";
    let out = netkit(
        &["conn", &server.addr(), "--authkey", "peekaboo"],
        input.as_bytes(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "\"hello\"\n42\n[1,2,3,4,5]\n{\"$tuple\":[1,{\"$bytes\":\"aGk=\"}]}\n"
    );
    let out = netkit(&["conn", &server.addr(), "--authkey", "wrong"], b"1\n");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("authentication failed"));
}

#[test]
fn netkit_rpc_against_the_recipes_python_server_and_netkits() {
    let recipe = PythonServer::start(RECIPE_RPC_SERVER, &[]);
    let served = serve(&["--rpc", "127.0.0.1:0", "--authkey", "peekaboo"], 1);
    for addr in [recipe.addr(), served.addr("rpc").to_string()] {
        let out = netkit(
            &["rpc", &addr, "add", "2", "3", "--authkey", "peekaboo"],
            b"",
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout), "5\n", "{addr}");
        let out = netkit(
            &[
                "rpc",
                &addr,
                "add",
                "[1]",
                "[2, 3]",
                "--authkey",
                "peekaboo",
            ],
            b"",
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout), "[1,2,3]\n", "{addr}");
        let out = netkit(
            &[
                "rpc",
                &addr,
                "sub",
                "--kwarg",
                "x=10",
                "--kwarg",
                "y=4",
                "--authkey",
                "peekaboo",
            ],
            b"",
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout), "6\n", "{addr}");
        let out = netkit(
            &["rpc", &addr, "mul", "2", "3", "--authkey", "peekaboo"],
            b"",
        );
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            "netkit: remote exception: KeyError('mul')\n"
        );
    }
}

fn frame(payload: &[u8]) -> Vec<u8> {
    let mut out = (payload.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(payload);
    out
}

#[test]
fn hostile_frames_close_only_their_own_connection() {
    let served = serve(
        &[
            "--conn",
            "127.0.0.1:0",
            "--rpc",
            "127.0.0.1:0",
            "--max-frame",
            "1MiB",
        ],
        2,
    );
    for service in ["conn", "rpc"] {
        let addr = served.addr(service);
        let hostile: Vec<Vec<u8>> = vec![
            // Declares 2 GiB: refused before anything is allocated.
            0x7fff_ffffu32.to_be_bytes().to_vec(),
            // The long form declaring 2^62 bytes.
            [&(-1i32).to_be_bytes()[..], &(1u64 << 62).to_be_bytes()].concat(),
            // Negative length.
            (-5i32).to_be_bytes().to_vec(),
            // Just over the cap.
            (1024 * 1024 + 1u32).to_be_bytes().to_vec(),
        ];
        for bytes in hostile {
            let mut s = TcpStream::connect(addr).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
            s.write_all(&bytes).unwrap();
            let mut rest = Vec::new();
            let _ = s.read_to_end(&mut rest); // closed (EOF or reset), nothing echoed
            assert!(rest.is_empty(), "{service}: {rest:?}");
        }
        // A frame cut short, then the peer leaves.
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(&[0, 0, 0, 100, 1, 2, 3]).unwrap();
        drop(s);
    }
    // Both services still serve good clients.
    assert_eq!(
        python(&"python3".into(), PY_CONN_CLIENT, &[served.addr("conn")]),
        "ok\n"
    );
    let mut s = TcpStream::connect(served.addr("rpc")).unwrap();
    s.write_all(&frame(b"garbage")).unwrap();
    let mut len = [0u8; 4];
    s.read_exact(&mut len).unwrap();
    let mut reply = vec![0u8; u32::from_be_bytes(len) as usize];
    s.read_exact(&mut reply).unwrap();
    let text = String::from_utf8_lossy(&reply);
    assert!(
        text.contains("ValueError") && text.contains("malformed RPC request"),
        "{text}"
    );
}

#[test]
fn a_client_silent_during_the_handshake_is_closed() {
    let served = serve(
        &[
            "--conn",
            "127.0.0.1:0",
            "--authkey",
            "k",
            "--handshake-timeout",
            "0.3",
        ],
        1,
    );
    let mut s = TcpStream::connect(served.addr("conn")).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut all = Vec::new();
    s.read_to_end(&mut all).unwrap();
    // The challenge frame, then EOF.
    assert!(all[4..].starts_with(b"#CHALLENGE#{sha256}"), "{all:?}");
    assert_eq!(all.len(), 4 + 11 + 8 + 40);
}

#[test]
fn conn_over_tls_with_netkits_client() {
    let dir = tempfile::tempdir().unwrap();
    let out = netkit(
        &["tls", "gen-cert", "--out", dir.path().to_str().unwrap()],
        b"",
    );
    assert!(out.status.success());
    let (cert, key, ca) = (
        dir.path().join("server.pem"),
        dir.path().join("server.key"),
        dir.path().join("ca.pem"),
    );
    let served = serve(
        &[
            "--conn",
            "127.0.0.1:0",
            "--authkey",
            "peekaboo",
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
        1,
    );
    assert!(served.urls["conn"].starts_with("tls://127.0.0.1:"));
    let out = netkit(
        &[
            "conn",
            served.addr("conn"),
            "--authkey",
            "peekaboo",
            "--tls",
            "--cacert",
            ca.to_str().unwrap(),
        ],
        b"{\"$set\": [1]}\n",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "{\"$set\":[1]}\n");
}

#[test]
fn requests_pickled_with_every_protocol_and_100_mib_messages() {
    let served = serve(
        &[
            "--conn",
            "127.0.0.1:0",
            "--rpc",
            "127.0.0.1:0",
            "--authkey",
            "peekaboo",
            "--max-frame",
            "128MiB",
        ],
        2,
    );
    let script = r#"
import pickle, sys
from multiprocessing.connection import Client
def addr(a):
    host, port = a.rsplit(':', 1)
    return (host, int(port))
rpc = Client(addr(sys.argv[2]), authkey=b'peekaboo')
for p in range(0, pickle.HIGHEST_PROTOCOL + 1):
    request = pickle.dumps(('add', (2**70, p), {}), protocol=p)
    rpc.send_bytes(pickle.dumps(request, protocol=p))
    assert pickle.loads(rpc.recv()) == 2**70 + p, p
conn = Client(addr(sys.argv[1]), authkey=b'peekaboo')
for p in range(0, pickle.HIGHEST_PROTOCOL + 1):
    conn.send_bytes(pickle.dumps({'p': p, 's': {1, 2}, 'b': b'\x00\xff'}, protocol=p))
    assert pickle.loads(conn.recv_bytes()) == {'p': p, 's': {1, 2}, 'b': b'\x00\xff'}
big = bytes(range(256)) * (100 * 4096)   # 100 MiB
conn.send(big)
assert conn.recv() == big
print('ok', pickle.HIGHEST_PROTOCOL)
"#;
    let out = python(
        &"python3".into(),
        script,
        &[served.addr("conn"), served.addr("rpc")],
    );
    assert_eq!(out, "ok 5\n");
}

#[test]
fn the_modern_handshake_matches_pythons_own_create_response() {
    // Python 3.12+ has _create_response; run it on fixed messages and compare bytes.
    let modern: Vec<_> = pythons()
        .into_iter()
        .filter(|p| {
            std::process::Command::new(p)
                .args([
                    "-c",
                    "from multiprocessing.connection import _create_response",
                ])
                .output()
                .map(|o| o.status.success())
                .unwrap_or(false)
        })
        .collect();
    assert!(
        !modern.is_empty() || pythons().len() == 1,
        "pyenv has 3.12+ but none has _create_response"
    );
    let messages: Vec<Vec<u8>> = vec![
        [&b"{sha256}"[..], &[7u8; 40]].concat(),
        [&b"{md5}"[..], &[1u8; 40]].concat(),
        [&b"{sha384}"[..], &(0..40).collect::<Vec<u8>>()].concat(),
        [&b"{sha3_256}"[..], &[0u8; 40]].concat(),
        [&b"{sha3_384}"[..], &[255u8; 40]].concat(),
        vec![9u8; 20], // legacy
    ];
    for py in modern {
        for message in &messages {
            let hex: String = message.iter().map(|b| format!("{b:02x}")).collect();
            let out = python(
                &py,
                "import sys\nfrom multiprocessing.connection import _create_response\nprint(_create_response(b'peekaboo', bytes.fromhex(sys.argv[1])).hex())",
                &[&hex],
            );
            let mut frame = netkit::proto::mpconn::CHALLENGE.to_vec();
            frame.extend_from_slice(message);
            let ours: String = netkit::proto::mpconn::answer(b"peekaboo", &frame)
                .unwrap()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            assert_eq!(out.trim(), ours, "{} on {hex}", py.display());
        }
    }
}

#[test]
fn pickles_that_try_to_run_code_are_refused_and_nothing_runs() {
    let served = serve(
        &[
            "--rpc",
            "127.0.0.1:0",
            "--conn",
            "127.0.0.1:0",
            "--authkey",
            "peekaboo",
        ],
        2,
    );
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("pwned");
    let script = r#"
import os, pickle, sys
from multiprocessing.connection import Client
marker = sys.argv[2]
class Evil:
    def __reduce__(self):
        return (os.system, ('touch ' + marker,))
class EvalEvil:
    def __reduce__(self):
        return (eval, ("open(%r, 'w').write('x')" % marker,))
host, port = sys.argv[1].rsplit(':', 1)
c = Client((host, int(port)), authkey=b'peekaboo')
results = []
for evil in [Evil(), EvalEvil()]:
    # As the inner request, and as the outer message itself.
    c.send(pickle.dumps(('add', (evil, 1), {})))
    results.append(type(pickle.loads(c.recv())).__name__)
    c.send_bytes(pickle.dumps(evil))
    results.append(type(pickle.loads(c.recv())).__name__)
# A GLOBAL opcode by hand, protocol 0.
c.send_bytes(b"cos\nsystem\n(S'touch " + marker.encode() + b"'\ntR.")
results.append(type(pickle.loads(c.recv())).__name__)
print(' '.join(results))
print(pickle.loads(c.recv()) if c.send(pickle.dumps(('add', (1, 2), {}))) is None else '')
"#;
    let out = python(
        &"python3".into(),
        script,
        &[served.addr("rpc"), marker.to_str().unwrap()],
    );
    assert_eq!(
        out,
        "ValueError ValueError ValueError ValueError ValueError\n3\n"
    );
    assert!(!marker.exists(), "a pickle ran code on the server");
}
