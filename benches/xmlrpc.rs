//! XML-RPC codec throughput against CPython's `xmlrpc.client`, measured in the same run.
//!
//! `cargo bench --bench xmlrpc` prints, per workload, documents/s and MB/s for netkit and
//! for `python3` (`dumps`/`loads` on the very same documents), and the ratio. No
//! assertions: this is a measurement, not a test.

use std::hint::black_box;
use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use netkit::proto::xmlrpc::{
    encode_call, encode_response, parse_call, parse_response, DateTime, Limits, Value,
};

/// Runs `f` repeatedly for about `budget` and returns operations per second.
fn rate(budget: Duration, mut f: impl FnMut()) -> f64 {
    let mut n = 0u64;
    let start = Instant::now();
    while start.elapsed() < budget {
        for _ in 0..16 {
            f();
        }
        n += 16;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

fn record(i: i64) -> Value {
    Value::Struct(vec![
        ("id".into(), Value::Int(i)),
        ("name".into(), Value::from(format!("user-{i} <tag> & co"))),
        ("score".into(), Value::Double(i as f64 / 7.0)),
        ("active".into(), Value::Bool(i % 2 == 0)),
        (
            "seen".into(),
            Value::DateTime(DateTime::new("20240229T13:05:09")),
        ),
        (
            "blob".into(),
            Value::Base64((0..48).map(|b| (b * i) as u8).collect()),
        ),
        (
            "tags".into(),
            Value::Array(vec!["a".into(), "b".into(), Value::Nil]),
        ),
    ])
}

struct Workload {
    name: &'static str,
    call: bool,
    method: &'static str,
    params: Vec<Value>,
}

const PY: &str = r#"
import sys, time, xmlrpc.client as X
def rate(f, budget=1.0):
    n = 0; start = time.perf_counter()
    while time.perf_counter() - start < budget:
        for _ in range(4): f()
        n += 4
    return n / (time.perf_counter() - start)
for line in sys.stdin.buffer.read().split(b"\0"):
    if not line: continue
    kind, doc = line[:1], line[1:]
    params, method = X.loads(doc)
    if kind == b"c":
        enc = lambda: X.dumps(params, method, allow_none=True)
    else:
        enc = lambda: X.dumps(params, methodresponse=True, allow_none=True)
    assert enc().encode() == doc, "python's bytes differ from ours"
    print(rate(enc), rate(lambda: X.loads(doc)))
"#;

fn main() {
    let workloads = [
        Workload {
            name: "set(key, str)",
            call: true,
            method: "set",
            params: vec!["spam".into(), "eggs".into()],
        },
        Workload {
            name: "set(key, record)",
            call: true,
            method: "set",
            params: vec!["user:1".into(), record(1)],
        },
        Workload {
            name: "keys() -> 1000 str",
            call: false,
            method: "",
            params: vec![Value::Array(
                (0..1000).map(|i| Value::from(format!("key-{i}"))).collect(),
            )],
        },
        Workload {
            name: "get -> 200 records",
            call: false,
            method: "",
            params: vec![Value::Array((0..200).map(record).collect())],
        },
    ];
    let docs: Vec<Vec<u8>> = workloads
        .iter()
        .map(|w| {
            if w.call {
                encode_call(w.method, &w.params)
            } else {
                encode_response(&w.params[0])
            }
        })
        .collect();

    let python = Command::new("python3")
        .args(["-c", PY])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn();
    let py_rates: Option<Vec<(f64, f64)>> = python.ok().and_then(|mut child| {
        let mut input = Vec::new();
        for (w, d) in workloads.iter().zip(&docs) {
            input.push(if w.call { b'c' } else { b'r' });
            input.extend_from_slice(d);
            input.push(0);
        }
        child.stdin.take()?.write_all(&input).ok()?;
        let out = child.wait_with_output().ok()?;
        if !out.status.success() {
            return None;
        }
        String::from_utf8(out.stdout)
            .ok()?
            .lines()
            .map(|l| {
                let mut it = l.split_whitespace().filter_map(|x| x.parse::<f64>().ok());
                Some((it.next()?, it.next()?))
            })
            .collect()
    });

    let limits = Limits {
        max_document_size: usize::MAX,
        ..Limits::default()
    };
    let budget = Duration::from_secs(1);
    println!(
        "{:<20} {:>7} {:>14} {:>14} {:>9} {:>14} {:>14} {:>9}",
        "workload", "bytes", "encode/s", "python", "ratio", "parse/s", "python", "ratio"
    );
    for (i, (w, doc)) in workloads.iter().zip(&docs).enumerate() {
        let enc = if w.call {
            rate(budget, || {
                black_box(encode_call(black_box(w.method), black_box(&w.params)));
            })
        } else {
            rate(budget, || {
                black_box(encode_response(black_box(&w.params[0])));
            })
        };
        let dec = if w.call {
            rate(budget, || {
                let _ = black_box(parse_call(black_box(doc), &limits));
            })
        } else {
            rate(budget, || {
                let _ = black_box(parse_response(black_box(doc), &limits));
            })
        };
        let (pe, pd) = py_rates
            .as_ref()
            .and_then(|r| r.get(i).copied())
            .unwrap_or((f64::NAN, f64::NAN));
        println!(
            "{:<20} {:>7} {:>14.0} {:>14.0} {:>8.1}x {:>14.0} {:>14.0} {:>8.1}x",
            w.name,
            doc.len(),
            enc,
            pe,
            enc / pe,
            dec,
            pd,
            dec / pd
        );
        println!(
            "{:<20} {:>7} {:>11.1} MB/s {:>9.1} MB/s {:>10} {:>9.1} MB/s {:>9.1} MB/s",
            "",
            "",
            enc * doc.len() as f64 / 1e6,
            pe * doc.len() as f64 / 1e6,
            "",
            dec * doc.len() as f64 / 1e6,
            pd * doc.len() as f64 / 1e6
        );
    }
    if py_rates.is_none() {
        println!("(python3 not available or failed: no ratios)");
    }
}
