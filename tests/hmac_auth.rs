//! Recipe 9: the recipe's own client_authenticate against netkit's echo, and netkit's
//! client against the recipe's server_authenticate.

mod common;
use common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

const RECIPE_CLIENT: &str = r#"
import hmac, socket, sys
def client_authenticate(connection, secret_key, digestmod):
    message = connection.recv(32)
    hash = hmac.new(secret_key, message, digestmod)
    digest = hash.digest()
    connection.send(digest)

host, port = sys.argv[1].rsplit(':', 1)
key, digestmod = sys.argv[2].encode(), sys.argv[3]
s = socket.create_connection((host, int(port)))
s.settimeout(20)
client_authenticate(s, key, digestmod)
try:
    s.sendall(b'Hello World')
    print(s.recv(1024).decode() or 'CLOSED')
except ConnectionResetError:
    # Closed with our bytes unread: the kernel answers with a reset instead of EOF.
    print('CLOSED')
"#;

#[test]
fn the_recipes_client_authenticates_with_md5_on_every_python() {
    let served = serve(&["--echo", "127.0.0.1:0", "--hmac-key", "peekaboo"], 1);
    for py in pythons() {
        let out = python(
            &py,
            RECIPE_CLIENT,
            &[served.addr("echo"), "peekaboo", "md5"],
        );
        assert_eq!(out, "Hello World\n", "{}", py.display());
    }
}

#[test]
fn sha256_and_a_key_file() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("key");
    std::fs::write(&key, "s3cret\n").unwrap();
    let served = serve(
        &[
            "--echo",
            "127.0.0.1:0",
            "--hmac-key-file",
            key.to_str().unwrap(),
            "--hmac-digest",
            "sha256",
            // The md5 answer below is 16 bytes short of a sha256 one: the server waits
            // for the rest until the handshake timeout.
            "--handshake-timeout",
            "0.5",
        ],
        1,
    );
    let out = python(
        &"python3".into(),
        RECIPE_CLIENT,
        &[served.addr("echo"), "s3cret", "sha256"],
    );
    assert_eq!(out, "Hello World\n");
    // The right key with the wrong hash is refused.
    let out = python(
        &"python3".into(),
        RECIPE_CLIENT,
        &[served.addr("echo"), "s3cret", "md5"],
    );
    assert_eq!(out, "CLOSED\n");
}

#[test]
fn a_wrong_key_is_closed_and_others_go_on() {
    let served = serve(&["--echo", "127.0.0.1:0", "--hmac-key", "peekaboo"], 1);
    let out = python(
        &"python3".into(),
        RECIPE_CLIENT,
        &[served.addr("echo"), "wrong", "md5"],
    );
    assert_eq!(out, "CLOSED\n");
    let out = netkit(
        &["echo", served.addr("echo"), "--hmac-key", "peekaboo"],
        b"right key",
    );
    assert_eq!(out.stdout, b"right key");
    let out = netkit(
        &["echo", served.addr("echo"), "--hmac-key", "nope"],
        b"wrong key",
    );
    assert_eq!(out.stdout, b"");
}

#[test]
fn silence_past_the_handshake_timeout_is_closed() {
    let served = serve(
        &[
            "--echo",
            "127.0.0.1:0",
            "--hmac-key",
            "k",
            "--handshake-timeout",
            "0.3",
        ],
        1,
    );
    let mut s = TcpStream::connect(served.addr("echo")).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut challenge = [0u8; 32];
    s.read_exact(&mut challenge).unwrap();
    let mut rest = Vec::new();
    s.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty());
    // A client that sends garbage instead of the digest gets nothing echoed.
    let mut s = TcpStream::connect(served.addr("echo")).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.read_exact(&mut challenge).unwrap();
    s.write_all(&[0u8; 16]).unwrap();
    s.write_all(b"echo me").unwrap();
    let mut rest = Vec::new();
    let _ = s.read_to_end(&mut rest);
    assert!(rest.is_empty(), "{rest:?}");
}

#[test]
fn netkit_client_against_the_recipes_server_authenticate() {
    let server = PythonServer::start(
        r#"
import hmac, os, socket
def server_authenticate(connection, secret_key):
    message = os.urandom(32)
    connection.send(message)
    hash = hmac.new(secret_key, message, 'md5')
    digest = hash.digest()
    response = connection.recv(len(digest))
    return hmac.compare_digest(digest, response)

s = socket.socket()
s.bind(('127.0.0.1', 0))
s.listen(5)
print(s.getsockname()[1], flush=True)
while True:
    c, _ = s.accept()
    if server_authenticate(c, b'peekaboo'):
        while True:
            msg = c.recv(8192)
            if not msg:
                break
            c.sendall(msg)
    c.close()
"#,
        &[],
    );
    let out = netkit(
        &["echo", &server.addr(), "--hmac-key", "peekaboo"],
        b"authenticated",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, b"authenticated");
}
