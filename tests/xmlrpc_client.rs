//! `netkit xmlrpc` and `netkit kv` against the recipe's own Python server (which closes the
//! connection after every call), and against netkit over TLS.

mod common;
use common::*;

const RECIPE_SERVER: &str = include_str!("xmlrpc_python/recipe_server.py");

fn ok(args: &[&str]) -> String {
    let out = netkit(args, b"");
    assert!(
        out.status.success(),
        "netkit {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn netkit_kv_runs_the_recipe_session_against_the_recipe_server() {
    let py = PythonServer::start(RECIPE_SERVER, &["0"]);
    let url = format!("http://localhost:{}", py.port);
    assert_eq!(ok(&["kv", &url, "set", "foo", "bar"]), "");
    assert_eq!(ok(&["kv", &url, "set", "spam", "[1, 2, 3]"]), "");
    assert_eq!(ok(&["kv", &url, "keys"]), "foo\nspam\n");
    assert_eq!(ok(&["kv", &url, "keys", "--json"]), "[\"foo\",\"spam\"]\n");
    assert_eq!(ok(&["kv", &url, "get", "foo"]), "bar\n");
    assert_eq!(ok(&["kv", &url, "get", "spam"]), "[1,2,3]\n");
    assert_eq!(ok(&["kv", &url, "delete", "spam"]), "");
    assert_eq!(ok(&["kv", &url, "exists", "spam"]), "false\n");
    let missing = netkit(&["kv", &url, "get", "spam"], b"");
    assert_eq!(missing.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&missing.stderr),
        "netkit: <Fault 1: \"<class 'KeyError'>:'spam'\">\n"
    );
}

#[test]
fn netkit_xmlrpc_round_trips_every_type_through_the_recipe_server() {
    let py = PythonServer::start(RECIPE_SERVER, &["0"]);
    let url = format!("http://127.0.0.1:{}/RPC2", py.port);
    for json in [
        "42",
        "-2147483648",
        "true",
        "\"text with <&> and ünïcødé\"",
        "1.5",
        "null",
        "[1,[2,[]],{\"a\":null}]",
        "{\"a\":1,\"b\":\"x\"}",
        "{\"$datetime\":\"20240229T13:05:09\"}",
        "{\"$base64\":\"AAH/\"}",
        "{\"$double\":\"inf\"}",
    ] {
        assert_eq!(ok(&["xmlrpc", &url, "set", "k", json]), "null\n", "{json}");
        assert_eq!(
            ok(&["xmlrpc", &url, "get", "k"]),
            format!("{json}\n"),
            "{json}"
        );
    }
    // Not JSON: a string. A leading dash is a value, not a flag.
    ok(&["xmlrpc", &url, "set", "k", "-not json"]);
    assert_eq!(ok(&["xmlrpc", &url, "get", "k"]), "\"-not json\"\n");
    let unknown = netkit(&["xmlrpc", &url, "system.listMethods"], b"");
    assert_eq!(unknown.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&unknown.stderr),
        "netkit: <Fault 1: '<class \\'Exception\\'>:method \"system.listMethods\" is not supported'>\n"
    );
    // The bench client reconnects after each of Python's HTTP/1.0 answers.
    let out = ok(&[
        "bench", "xmlrpc", &url, "-c", "1", "-d", "0.3", "--warmup", "0", "--json",
    ]);
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["errors"], 0);
    assert!(report["messages"].as_u64().unwrap() > 0);
}

#[test]
fn netkit_kv_over_https_to_netkit() {
    let dir = tempfile::tempdir().unwrap();
    let certs = dir.path().to_str().unwrap();
    ok(&["tls", "gen-cert", "--out", certs]);
    let cert = format!("{certs}/server.pem");
    let key = format!("{certs}/server.key");
    let ca = format!("{certs}/ca.pem");
    let served = serve(
        &[
            "--xmlrpc",
            "127.0.0.1:0",
            "--tls-cert",
            &cert,
            "--tls-key",
            &key,
        ],
        1,
    );
    let url = &served.urls["xmlrpc"];
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");
    let url = url.replace("127.0.0.1", "localhost");
    assert_eq!(ok(&["kv", &url, "set", "foo", "bar", "--cacert", &ca]), "");
    assert_eq!(ok(&["kv", &url, "get", "foo", "--cacert", &ca]), "bar\n");
    // Python's ServerProxy with a verifying context, too.
    let script = r#"
import ssl, sys, xmlrpc.client
ctx = ssl.create_default_context(cafile=sys.argv[2])
s = xmlrpc.client.ServerProxy(sys.argv[1], allow_none=True, context=ctx)
print(s.get('foo'), s.keys())
"#;
    assert_eq!(
        python(&"python3".into(), script, &[&url, &ca]),
        "bar ['foo']\n"
    );
}
