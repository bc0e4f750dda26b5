//! loads/dumps throughput against CPython's C pickle on the same bytes, in the same run.
//! `cargo bench --bench pickle` (plain harness: one number per line, no timed assertions).

use std::hint::black_box;
use std::process::Command;
use std::time::{Duration, Instant};

use netkit::proto::pickle::{dumps, loads, Limits, Protocol, Value};

/// An RPC-ish payload: records with str keys, ints, floats, short strs, bytes, tuples.
fn payload(n: usize) -> Value {
    Value::list(
        (0..n as i64)
            .map(|i| {
                Value::dict([
                    (Value::from("id"), Value::Int(i)),
                    (Value::from("name"), Value::from(format!("user-{i}"))),
                    (Value::from("score"), Value::Float(i as f64 * 0.5)),
                    (
                        Value::from("tags"),
                        Value::list(vec!["a".into(), "bc".into(), Value::Int(i % 7)]),
                    ),
                    (Value::from("blob"), Value::bytes(&i.to_le_bytes())),
                    (
                        Value::from("pos"),
                        Value::tuple(vec![Value::Int(i), Value::Int(-i)]),
                    ),
                ])
                .unwrap()
            })
            .collect(),
    )
}

fn rate(bytes: usize, f: impl Fn()) -> f64 {
    f();
    let start = Instant::now();
    let mut runs = 0u32;
    while start.elapsed() < Duration::from_secs(2) {
        f();
        runs += 1;
    }
    (bytes as f64 * f64::from(runs)) / start.elapsed().as_secs_f64() / 1e6
}

const PY: &str = r#"
import pickle, sys, time
data = sys.stdin.buffer.read()
obj = pickle.loads(data)
def rate(f):
    f(); n = 0; t = time.perf_counter()
    while time.perf_counter() - t < 2:
        f(); n += 1
    return len(data) * n / (time.perf_counter() - t) / 1e6
print(rate(lambda: pickle.loads(data)), rate(lambda: pickle.dumps(obj, 4)))
"#;

fn main() {
    let v = payload(20_000);
    let bytes = dumps(&v, Protocol::V4);
    let limits = Limits::default();
    let ours_loads = rate(bytes.len(), || {
        black_box(loads(black_box(&bytes), &limits).unwrap());
    });
    let ours_dumps = rate(bytes.len(), || {
        black_box(dumps(black_box(&v), Protocol::V4));
    });
    println!(
        "payload: {} records, {} bytes of protocol-4 pickle",
        20_000,
        bytes.len()
    );
    println!("netkit  loads {ours_loads:8.1} MB/s   dumps {ours_dumps:8.1} MB/s");
    let py = Command::new("python3")
        .args(["-c", PY])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(&bytes)?;
            c.wait_with_output()
        });
    match py {
        Ok(out) if out.status.success() => {
            let text = String::from_utf8_lossy(&out.stdout);
            let nums: Vec<f64> = text
                .split_whitespace()
                .filter_map(|s| s.parse().ok())
                .collect();
            if let [pl, pd] = nums[..] {
                println!("python3 loads {pl:8.1} MB/s   dumps {pd:8.1} MB/s");
                println!(
                    "ratio   loads {:8.2}x       dumps {:8.2}x",
                    ours_loads / pl,
                    ours_dumps / pd
                );
            }
        }
        _ => println!("python3 not available: no reference figures"),
    }
}
