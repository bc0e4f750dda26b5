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
