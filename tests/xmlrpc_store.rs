//! `--kv-store PATH`: every acknowledged write survives `kill -9`; many writers at once.

mod common;
use common::*;

/// Writes N keys from several Python threads, printing each key once its call returned.
const WRITER: &str = r#"
import sys, threading, xmlrpc.client
url, n, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
lock = threading.Lock()
def work(t):
    s = xmlrpc.client.ServerProxy(url, allow_none=True)
    for i in range(t, n, threads):
        s.set('key%05d' % i, {'i': i, 'data': [i, str(i), i * 0.5]})
        with lock:
            print('key%05d' % i, flush=True)
ts = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
for t in ts: t.start()
for t in ts: t.join()
"#;

const CHECKER: &str = r#"
import sys, xmlrpc.client
s = xmlrpc.client.ServerProxy(sys.argv[1], allow_none=True)
keys = s.keys()
bad = [k for k in keys if s.get(k) != {'i': int(k[3:]), 'data': [int(k[3:]), str(int(k[3:])), int(k[3:]) * 0.5]}]
print(len(keys), len(bad))
print('\n'.join(keys))
"#;

#[test]
fn acknowledged_writes_survive_kill_9_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kv.redb");
    let path = path.to_str().unwrap();
    let served = serve(&["--xmlrpc", "127.0.0.1:0", "--kv-store", path], 1);
    let url = format!("http://{}", served.addr("xmlrpc"));
    let out = python(&"python3".into(), WRITER, &[&url, "400", "8"]);
    let acknowledged: Vec<&str> = out.lines().collect();
    assert_eq!(acknowledged.len(), 400);
    // SIGKILL: no shutdown code runs; only what was committed before each reply counts.
    served.signal("KILL");
    drop(served);

    let served = serve(&["--xmlrpc", "127.0.0.1:0", "--kv-store", path], 1);
    let url = format!("http://{}", served.addr("xmlrpc"));
    let out = python(&"python3".into(), CHECKER, &[&url]);
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("400 0"));
    // keys() is in acknowledgement order for writes that were not concurrent; at least
    // the set of keys is exactly the acknowledged one.
    let mut stored: Vec<&str> = lines.collect();
    let mut expected = acknowledged.clone();
    stored.sort();
    expected.sort();
    assert_eq!(stored, expected);
}

#[test]
fn the_file_store_keeps_dict_semantics_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kv.redb");
    let path = path.to_str().unwrap();
    let script = r#"
import sys, xmlrpc.client
from xmlrpc.client import Binary, DateTime
s = xmlrpc.client.ServerProxy(sys.argv[1], allow_none=True)
if sys.argv[2] == 'write':
    s.set('foo', 'bar'); s.set('spam', [1, 2, 3]); s.set(1, 'one'); s.set(True, 'true')
    s.set('bin', Binary(b'\x00\xff')); s.set('when', DateTime('20240229T13:05:09'))
    s.set('gone', None); s.delete('gone'); s.set('foo', {'re': 'set'})
print(s.keys(), s.get('foo'), s.get(1.0), s.get('bin').data, s.get('when').value, s.exists('gone'))
"#;
    let expected = "['foo', 'spam', 1, 'bin', 'when'] {'re': 'set'} true b'\\x00\\xff' 20240229T13:05:09 False\n";
    let served = serve(&["--xmlrpc", "127.0.0.1:0", "--kv-store", path], 1);
    let url = format!("http://{}", served.addr("xmlrpc"));
    assert_eq!(
        python(&"python3".into(), script, &[&url, "write"]),
        expected
    );
    // A second server on the same file is refused at startup, exit code 2.
    let second = netkit(
        &["serve", "--xmlrpc", "127.0.0.1:0", "--kv-store", path],
        b"",
    );
    assert_eq!(second.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(
        stderr.starts_with("netkit: xmlrpc: cannot open the store:"),
        "{stderr}"
    );
    drop(served);
    let served = serve(&["--xmlrpc", "127.0.0.1:0", "--kv-store", path], 1);
    let url = format!("http://{}", served.addr("xmlrpc"));
    assert_eq!(python(&"python3".into(), script, &[&url, "read"]), expected);
}

const RECIPE_SERVER: &str = include_str!("xmlrpc_python/recipe_server.py");
const SEMANTICS: &str = include_str!("xmlrpc_python/semantics.py");

/// The 95-call transcript of tests/xmlrpc_service.rs, on a given store.
fn transcript_matches_the_recipe_server(store_args: &[&str]) {
    let reference = PythonServer::start(RECIPE_SERVER, &["0", "full"]);
    let expected = python(
        &"python3".into(),
        SEMANTICS,
        &[&format!("http://{}", reference.addr())],
    );
    let mut args = vec!["--xmlrpc", "127.0.0.1:0"];
    args.extend_from_slice(store_args);
    let served = serve(&args, 1);
    let got = python(
        &"python3".into(),
        SEMANTICS,
        &[&format!("http://{}", served.addr("xmlrpc"))],
    );
    for (g, e) in got.lines().zip(expected.lines()) {
        assert_eq!(g, e, "{store_args:?}");
    }
    assert_eq!(got, expected);
}

#[test]
fn the_file_store_answers_exactly_like_the_recipe() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kv.redb");
    transcript_matches_the_recipe_server(&["--kv-store", path.to_str().unwrap()]);
}

/// A throwaway Redis-compatible server (the test venv's valkey-server) on a free loopback
/// port, no persistence; killed on drop.
struct Redis {
    child: std::process::Child,
    url: String,
}

impl Redis {
    fn start() -> Redis {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = std::process::Command::new(redis_server())
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start the venv's valkey-server");
        let redis = Redis {
            child,
            url: format!("redis://127.0.0.1:{port}"),
        };
        for _ in 0..200 {
            if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
                use std::io::{Read, Write};
                let mut buf = [0u8; 7];
                if s.write_all(b"PING\r\n").is_ok() && s.read_exact(&mut buf).is_ok() {
                    assert_eq!(&buf, b"+PONG\r\n");
                    return redis;
                }
            }
            std::thread::sleep(std::time::Duration::from_millis(25));
        }
        panic!("valkey-server did not come up on port {port}");
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_redis_store_answers_exactly_like_the_recipe() {
    let redis = Redis::start();
    transcript_matches_the_recipe_server(&["--kv-store", &redis.url]);
}

#[test]
fn redis_writes_survive_kill_9_and_instances_share_the_store() {
    let redis = Redis::start();
    let a = serve(&["--xmlrpc", "127.0.0.1:0", "--kv-store", &redis.url], 1);
    let b = serve(&["--xmlrpc", "127.0.0.1:0", "--kv-store", &redis.url], 1);
    let url_a = format!("http://{}", a.addr("xmlrpc"));
    let url_b = format!("http://{}", b.addr("xmlrpc"));
    // Writers on both instances at once.
    let writer_a = {
        let url = url_a.clone();
        std::thread::spawn(move || python(&"python3".into(), WRITER, &[&url, "200", "4"]))
    };
    let out_b = python(&"python3".into(), WRITER, &[&url_b, "200", "4"]);
    let out_a = writer_a.join().unwrap();
    assert_eq!(out_a.lines().count(), 200);
    assert_eq!(out_b.lines().count(), 200);
    a.signal("KILL");
    drop(a);
    let a = serve(&["--xmlrpc", "127.0.0.1:0", "--kv-store", &redis.url], 1);
    let url_a = format!("http://{}", a.addr("xmlrpc"));
    // The same 200 keys were written through both: one entry each, every value intact.
    let out = python(&"python3".into(), CHECKER, &[&url_a]);
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("200 0"));
    let mut keys: Vec<&str> = lines.collect();
    keys.sort();
    let expected: Vec<String> = (0..200).map(|i| format!("key{i:05}")).collect();
    assert_eq!(keys, expected);
    // And what one instance deletes, the other no longer has.
    let script = r#"
import sys, xmlrpc.client
a = xmlrpc.client.ServerProxy(sys.argv[1]); b = xmlrpc.client.ServerProxy(sys.argv[2])
a.delete('key00007')
print(b.exists('key00007'), len(b.keys()))
"#;
    assert_eq!(
        python(&"python3".into(), script, &[&url_a, &url_b]),
        "False 199\n"
    );
}

#[test]
fn an_unreachable_redis_stops_the_start_with_exit_code_2() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("redis://127.0.0.1:{port}");
    let out = netkit(
        &["serve", "--xmlrpc", "127.0.0.1:0", "--kv-store", &url],
        b"",
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("netkit: xmlrpc: cannot open the store:"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());
}
