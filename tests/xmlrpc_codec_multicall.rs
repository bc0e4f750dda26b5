//! `system.multicall` shapes against CPython 3.11's `SimpleXMLRPCDispatcher`: the whole
//! answer, byte for byte, for good and malformed call lists.

use std::io::Write as _;
use std::process::{Command, Stdio};

use netkit::proto::xmlrpc::{
    decode_multicall, encode_call, encode_fault, encode_response, multicall_result, parse_call,
    py_repr, python_exception_fault, DateTime, Fault, Limits, MethodCall, Value,
};

/// The server both sides run: `echo(*args)` returns its arguments, `get(key)` raises
/// `KeyError(key)`, `system.multicall` nests, anything else is not supported.
fn dispatch(call: &MethodCall) -> Result<Value, Fault> {
    match call.name.as_str() {
        "echo" => Ok(Value::Array(call.params.clone())),
        "get" if call.params.len() == 1 => Err(python_exception_fault(
            "KeyError",
            &py_repr(&call.params[0]),
        )),
        "system.multicall" => multicall(&call.params),
        other => Err(python_exception_fault(
            "Exception",
            &format!("method \"{other}\" is not supported"),
        )),
    }
}

/// How a service is meant to use the helpers: run the entries in order, then either the
/// abort fault or the wrapped results.
fn multicall(params: &[Value]) -> Result<Value, Fault> {
    let m = decode_multicall(params)?;
    let results: Vec<_> = m
        .calls
        .iter()
        .map(|c| c.as_ref().map_err(Clone::clone).and_then(dispatch))
        .collect();
    match m.abort {
        Some(f) => Err(f),
        None => Ok(multicall_result(results)),
    }
}

fn answer(body: &[u8]) -> Vec<u8> {
    let call = parse_call(body, &Limits::default()).expect("parses");
    match dispatch(&call) {
        Ok(v) => encode_response(&v),
        Err(f) => encode_fault(f.code, &f.string),
    }
}

const PY: &str = r#"
import sys, xmlrpc.client as X
from xmlrpc.server import SimpleXMLRPCDispatcher
d = SimpleXMLRPCDispatcher(allow_none=True)
d.register_multicall_functions()
def echo(*args): return list(args)
def get(key): raise KeyError(key)
d.register_function(echo); d.register_function(get)
out = sys.stdout.buffer
for body in sys.stdin.buffer.read().split(b"\0"):
    if body:
        out.write(d._marshaled_dispatch(body) + b"\0")
"#;

fn entry(name: Value, params: Value) -> Value {
    Value::Struct(vec![("methodName".into(), name), ("params".into(), params)])
}

fn cases() -> Vec<Vec<Value>> {
    let s = Value::from;
    let arr = Value::Array;
    vec![
        vec![arr(vec![
            entry(s("echo"), arr(vec![s("a"), Value::Int(1), Value::Nil])),
            entry(s("get"), arr(vec![s("spam")])),
            entry(s("get"), arr(vec![s("it's")])),
            entry(s("nope"), arr(vec![])),
            entry(s("echo"), s("ab")),
            entry(
                s("echo"),
                Value::Struct(vec![
                    ("k1".into(), Value::Int(1)),
                    ("k2".into(), Value::Nil),
                ]),
            ),
            entry(Value::Int(5), arr(vec![])),
            entry(Value::Double(1.5), arr(vec![])),
            entry(Value::Nil, arr(vec![])),
            entry(Value::Bool(true), arr(vec![])),
            entry(arr(vec![]), arr(vec![])),
            entry(Value::DateTime(DateTime::new("x")), arr(vec![])),
            entry(Value::Base64(vec![1]), arr(vec![])),
            entry(s("system.multicall"), arr(vec![arr(vec![])])),
        ])],
        vec![arr(vec![])],
        vec![],
        vec![arr(vec![]), arr(vec![])],
        vec![Value::Int(5)],
        vec![Value::Nil],
        vec![s("ab")],
        vec![s("")],
        vec![Value::Struct(vec![("methodName".into(), s("echo"))])],
        vec![arr(vec![entry(s("echo"), arr(vec![])), Value::Int(3)])],
        vec![arr(vec![entry(s("echo"), arr(vec![])), s("x")])],
        vec![arr(vec![arr(vec![])])],
        vec![arr(vec![Value::Struct(vec![(
            "methodName".into(),
            s("echo"),
        )])])],
        vec![arr(vec![Value::Struct(vec![(
            "params".into(),
            arr(vec![]),
        )])])],
        vec![arr(vec![Value::Nil])],
    ]
}

#[test]
fn multicall_answers_match_python_byte_for_byte() {
    let bodies: Vec<Vec<u8>> = cases()
        .iter()
        .map(|p| encode_call("system.multicall", p))
        .collect();
    let mut child = Command::new("python3")
        .args(["-c", PY])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 is required");
    let mut input = Vec::new();
    for b in &bodies {
        input.extend_from_slice(b);
        input.push(0);
    }
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(&input)
        .expect("write");
    let out = child.wait_with_output().expect("python ran");
    assert!(out.status.success());
    let answers: Vec<&[u8]> = out
        .stdout
        .split(|&b| b == 0)
        .filter(|a| !a.is_empty())
        .collect();
    assert_eq!(answers.len(), bodies.len());
    for (body, want) in bodies.iter().zip(answers) {
        assert_eq!(
            String::from_utf8_lossy(&answer(body)),
            String::from_utf8_lossy(want),
            "for {}",
            String::from_utf8_lossy(body)
        );
    }
}
