//! Differential tests against real CPython: Python pickles seeded random values at protocols
//! 0–5 and we must read them back exactly and re-write them byte for byte; we pickle the
//! same values at 2–5 and Python must load them to equal objects and re-pickle them to our
//! exact bytes. One python process per batch.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use netkit::proto::pickle::{dumps, loads, Limits, Protocol, Value};

const HARNESS: &str = r#"
import sys, json, base64, pickle, math
b64 = lambda b: base64.b64encode(b).decode()
def _exc(cls, args, state):
    e = cls(*args)
    if state is not None:
        e.__dict__.update(state)
    return e
ENV = {"_exc": _exc}
MISSING = object()
def same_key(k, other):
    for k2 in other:
        if k2 == k and same(k, k2):
            return k2
    return MISSING
def same(a, b):
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        if len(a) != len(b):
            return False
        for k, v in a.items():
            k2 = same_key(k, b)
            if k2 is MISSING or not same(v, b[k2]):
                return False
        return True
    if isinstance(a, (set, frozenset)):
        return len(a) == len(b) and all(same_key(x, b) is not MISSING for x in a)
    if isinstance(a, BaseException):
        return same(a.args, b.args) and same(a.__dict__, b.__dict__)
    return a == b
for line in sys.stdin:
    req = json.loads(line)
    res = {"py": {}, "ours": {}}
    try:
        obj = eval(req["expr"], ENV)
        for p in range(6):
            res["py"][str(p)] = b64(pickle.dumps(obj, p))
    except Exception as e:
        res["error"] = repr(e)
        print(json.dumps(res)); continue
    for p, data in req["ours"].items():
        try:
            loaded = pickle.loads(base64.b64decode(data))
            redump = b64(pickle.dumps(loaded, int(p)))
            ok = same(loaded, obj) or ("loaded %r, expected %r" % (loaded, obj))
        except Exception as e:
            ok, redump = repr(e), None
        res["ours"][p] = {"ok": ok, "redump": redump}
    print(json.dumps(res))
"#;

/// A small deterministic generator (xorshift), so a failure names a seed and a case.
struct Gen {
    s: u64,
    pool: Vec<Value>,
}

impl Gen {
    fn new(seed: u64) -> Gen {
        Gen {
            s: seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1,
            pool: Vec::new(),
        }
    }
    fn next(&mut self) -> u64 {
        self.s ^= self.s << 13;
        self.s ^= self.s >> 7;
        self.s ^= self.s << 17;
        self.s
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn int(&mut self) -> Value {
        match self.below(9) {
            0 => Value::Int(self.below(256) as i64),
            1 => Value::Int(self.below(65536) as i64),
            2 => Value::Int(self.next() as i32 as i64),
            3 => Value::Int(self.next() as i64),
            4 => Value::Int(
                [
                    i32::MIN as i64,
                    i32::MAX as i64,
                    i32::MIN as i64 - 1,
                    i32::MAX as i64 + 1,
                    i64::MIN,
                    i64::MAX,
                    -1,
                    0,
                    255,
                    256,
                    65535,
                    65536,
                ][self.below(12) as usize],
            ),
            5 => {
                let bits = 64 + self.below(700);
                let mut b = num_bigint::BigInt::from(1) << bits;
                b -= self.next();
                if self.below(2) == 0 {
                    b = -b;
                }
                Value::int(b)
            }
            6 => {
                let k = self.below(6) as u32 * 8 + 56;
                let b = -(num_bigint::BigInt::from(1) << k);
                Value::int(b)
            }
            _ => Value::Int(self.below(2000) as i64 - 1000),
        }
    }
    fn float(&mut self) -> f64 {
        match self.below(6) {
            0 => [
                0.0,
                -0.0,
                f64::INFINITY,
                f64::NEG_INFINITY,
                f64::NAN,
                1e300,
                5e-324,
                0.1,
            ][self.below(8) as usize],
            1 => (self.below(1000) as f64) / 8.0,
            _ => f64::from_bits(self.next()).clamp(-1e308, 1e308),
        }
    }
    fn text(&mut self) -> String {
        let n = match self.below(10) {
            0 => 0,
            1 => 1,
            2 => 300,
            _ => self.below(12) as usize,
        };
        (0..n)
            .map(|_| match self.below(6) {
                0 => char::from_u32(0x80 + self.below(0x80) as u32).unwrap_or('x'),
                1 => ['é', '€', '😀', '\n', '\\', '\'', '"', '\0', 'ÿ'][self.below(9) as usize],
                _ => char::from(b'a' + self.below(26) as u8),
            })
            .collect()
    }
    fn str_value(&mut self) -> Value {
        if self.below(12) == 0 {
            let cps = [0xd800u32, 0x61, 0xdfff, 0xdbff, 0x1f600];
            let n = 1 + self.below(4) as usize;
            let picked: Vec<u32> = (0..n).map(|_| cps[self.below(5) as usize]).collect();
            return Value::Str(netkit::proto::pickle::PyStr::from_code_points(picked).unwrap());
        }
        Value::from(self.text())
    }
    fn bytes(&mut self) -> Vec<u8> {
        let n = match self.below(8) {
            0 => 0,
            1 => 1,
            2 => 256 + self.below(10) as usize,
            _ => self.below(10) as usize,
        };
        (0..n).map(|_| self.next() as u8).collect()
    }
    fn hashable(&mut self, depth: u32) -> Value {
        match self.below(if depth > 2 { 5 } else { 7 }) {
            0 => self.int(),
            1 => self.str_value(),
            2 => Value::bytes(&self.bytes()),
            3 => Value::Float(((self.below(100) as f64) - 50.0) / 4.0),
            4 => {
                [Value::None, Value::Bool(true), Value::Bool(false)][self.below(3) as usize].clone()
            }
            5 => {
                let n = self.below(5);
                Value::tuple((0..n).map(|_| self.hashable(depth + 1)).collect())
            }
            _ => {
                let n = self.below(4);
                Value::frozenset((0..n).map(|_| self.hashable(depth + 1)).collect::<Vec<_>>())
                    .unwrap()
            }
        }
    }
    /// `py2_safe`: only exception classes that survive protocol 2's name mapping.
    fn value(&mut self, depth: u32, py2_safe: bool) -> Value {
        if !self.pool.is_empty() && self.below(8) == 0 {
            let i = self.below(self.pool.len() as u64) as usize;
            return self.pool[i].clone();
        }
        let scalar = depth >= 4 || self.below(3) == 0;
        let v = if scalar {
            match self.below(8) {
                0 => Value::None,
                1 => Value::Bool(self.below(2) == 0),
                2 | 3 => self.int(),
                4 => Value::Float(self.float()),
                5 => self.str_value(),
                6 => Value::bytes(&self.bytes()),
                _ => Value::bytearray(self.bytes()),
            }
        } else {
            let n = self.below(6) as usize;
            match self.below(7) {
                0 => Value::tuple((0..n).map(|_| self.value(depth + 1, py2_safe)).collect()),
                1 | 2 => Value::list((0..n).map(|_| self.value(depth + 1, py2_safe)).collect()),
                3 => Value::dict(
                    (0..n)
                        .map(|_| (self.hashable(depth + 1), self.value(depth + 1, py2_safe)))
                        .collect::<Vec<_>>(),
                )
                .unwrap(),
                4 => Value::set((0..n).map(|_| self.hashable(depth + 1)).collect::<Vec<_>>())
                    .unwrap(),
                5 => Value::frozenset((0..n).map(|_| self.hashable(depth + 1)).collect::<Vec<_>>())
                    .unwrap(),
                _ => {
                    let classes: &[&str] = if py2_safe {
                        &[
                            "KeyError",
                            "ValueError",
                            "TypeError",
                            "RuntimeError",
                            "Exception",
                            "ZeroDivisionError",
                        ]
                    } else {
                        &[
                            "KeyError",
                            "ValueError",
                            "ConnectionError",
                            "RecursionError",
                            "StopIteration",
                            "TimeoutError",
                        ]
                    };
                    let class = classes[self.below(classes.len() as u64) as usize];
                    let args = (0..n.min(3))
                        .map(|_| self.value(depth + 1, py2_safe))
                        .collect();
                    let e = Value::exception(class, args);
                    if self.below(3) == 0 {
                        if let Value::Exception(o) = &e {
                            let state = Value::dict([
                                (Value::from("code"), self.int()),
                                (Value::from("detail"), self.value(depth + 1, py2_safe)),
                            ])
                            .unwrap();
                            o.borrow_mut().state = Some(state);
                        }
                    }
                    e
                }
            }
        };
        if matches!(
            v,
            Value::Str(_)
                | Value::Bytes(_)
                | Value::List(_)
                | Value::Tuple(_)
                | Value::Dict(_)
                | Value::FrozenSet(_)
                | Value::Exception(_)
        ) {
            self.pool.push(v.clone());
        }
        v
    }
}

/// A Python expression for `v` (exceptions go through `_exc` to get their state).
fn expr(v: &Value) -> String {
    match v {
        Value::Exception(e) => {
            let e = e.borrow();
            let args: Vec<String> = e.args.borrow().iter().map(expr).collect();
            let state = e.state.as_ref().map_or("None".to_owned(), expr);
            format!(
                "_exc({}, ({}{}), {})",
                e.class,
                args.join(", "),
                if args.len() == 1 { "," } else { "" },
                state
            )
        }
        Value::List(l) => format!(
            "[{}]",
            l.borrow().iter().map(expr).collect::<Vec<_>>().join(", ")
        ),
        Value::Tuple(t) => {
            let items: Vec<String> = t.borrow().iter().map(expr).collect();
            format!(
                "({}{})",
                items.join(", "),
                if items.len() == 1 { "," } else { "" }
            )
        }
        Value::Dict(d) => format!(
            "{{{}}}",
            d.borrow()
                .iter()
                .map(|(k, v)| format!("{}: {}", expr(k), expr(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => other.repr(),
    }
}

/// `v` as protocols 0–2 carry it: Python 2 had no OSError subclasses, so `fix_imports`
/// writes them as `exceptions.OSError` (and ModuleNotFoundError as ImportError).
fn py2_view(v: &Value) -> Value {
    match v {
        Value::List(l) => Value::list(l.borrow().iter().map(py2_view).collect()),
        Value::Tuple(t) => Value::tuple(t.borrow().iter().map(py2_view).collect()),
        Value::Dict(d) => {
            Value::dict(d.borrow().iter().map(|(k, v)| (py2_view(k), py2_view(v)))).unwrap()
        }
        Value::Set(s) => Value::set(s.borrow().iter().map(|k| py2_view(k))).unwrap(),
        Value::FrozenSet(s) => Value::frozenset(s.borrow().iter().map(|k| py2_view(k))).unwrap(),
        Value::Exception(e) => {
            let e = e.borrow();
            let class = match e.class.as_str() {
                "ConnectionError" | "TimeoutError" | "BrokenPipeError" | "FileNotFoundError" => {
                    "OSError"
                }
                c => c,
            };
            let out = Value::exception(class, e.args.borrow().iter().map(py2_view).collect());
            if let (Value::Exception(o), Some(state)) = (&out, &e.state) {
                o.borrow_mut().state = Some(py2_view(state));
            }
            out
        }
        other => other.clone(),
    }
}

fn has_empty_frozenset(v: &Value) -> bool {
    match v {
        Value::FrozenSet(s) => {
            s.borrow().is_empty() || s.borrow().iter().any(|k| has_empty_frozenset(k))
        }
        Value::Set(s) => s.borrow().iter().any(|k| has_empty_frozenset(k)),
        Value::Tuple(t) | Value::List(t) => t.borrow().iter().any(has_empty_frozenset),
        Value::Dict(d) => d
            .borrow()
            .iter()
            .any(|(k, v)| has_empty_frozenset(k) || has_empty_frozenset(v)),
        Value::Exception(e) => {
            let e = e.borrow();
            e.args.borrow().iter().any(has_empty_frozenset)
                || e.state.as_ref().is_some_and(has_empty_frozenset)
        }
        _ => false,
    }
}

fn has_multi_set(v: &Value) -> bool {
    match v {
        Value::Set(s) | Value::FrozenSet(s) => {
            s.borrow().len() > 1 || s.borrow().iter().any(|k| has_multi_set(k))
        }
        Value::Tuple(t) | Value::List(t) => t.borrow().iter().any(has_multi_set),
        Value::Dict(d) => d
            .borrow()
            .iter()
            .any(|(k, v)| has_multi_set(k) || has_multi_set(v)),
        Value::Exception(e) => {
            let e = e.borrow();
            e.args.borrow().iter().any(has_multi_set) || e.state.as_ref().is_some_and(has_multi_set)
        }
        _ => false,
    }
}

struct Outcome {
    failures: Vec<String>,
    checks: usize,
}

/// `frozenset_singleton`: Python < 3.10 shares one empty frozenset, so its bytes differ
/// from 3.11's (which we write) wherever two appear.
fn run_batch(
    python: &str,
    values: &[Value],
    exact_bytes: bool,
    frozenset_singleton: bool,
) -> Outcome {
    let mut input = String::new();
    for v in values {
        let ours: serde_json::Map<String, serde_json::Value> =
            [Protocol::V2, Protocol::V3, Protocol::V4, Protocol::V5]
                .iter()
                .map(|p| {
                    (
                        p.number().to_string(),
                        serde_json::Value::String(STANDARD.encode(dumps(v, *p))),
                    )
                })
                .collect();
        input.push_str(&serde_json::json!({"expr": expr(v), "ours": ours}).to_string());
        input.push('\n');
    }
    let mut child = Command::new(python)
        .args(["-c", HARNESS])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run python");
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().expect("python output");
    writer.join().unwrap().unwrap();
    assert!(out.status.success(), "{python} failed");
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), values.len(), "one answer per value");

    let mut failures = Vec::new();
    let mut checks = 0;
    let limits = Limits::default();
    for (i, (v, line)) in values.iter().zip(lines).enumerate() {
        let res: serde_json::Value = serde_json::from_str(line).unwrap();
        if let Some(e) = res.get("error") {
            failures.push(format!("case {i}: python could not build {}: {e}", expr(v)));
            continue;
        }
        let exact_bytes = exact_bytes && !(frozenset_singleton && has_empty_frozenset(v));
        let old = py2_view(v);
        for p in 0..=5u8 {
            let py = STANDARD
                .decode(res["py"][p.to_string()].as_str().unwrap())
                .unwrap();
            checks += 1;
            let expected = if p < 3 { &old } else { v };
            match loads(&py, &limits) {
                Ok(got) if got == *expected => {}
                Ok(got) => failures.push(format!(
                    "case {i} p{p}: read {got:?}, expected {expected:?}"
                )),
                Err(e) => failures.push(format!("case {i} p{p}: {e} reading {py:?}")),
            }
            if let (Some(proto), true) = (Protocol::from_number(p), exact_bytes) {
                checks += 1;
                if let Ok(got) = loads(&py, &limits) {
                    let again = dumps(&got, proto);
                    if again != py {
                        if std::env::var_os("PICKLE_DUMP_FAILURES").is_some() {
                            let _ = std::fs::write(format!("/tmp/pk_{i}_{p}_py.bin"), &py);
                            let _ = std::fs::write(format!("/tmp/pk_{i}_{p}_ours.bin"), &again);
                        }
                        failures.push(format!(
                            "case {i} p{p}: re-dump differs: {}\n value {v:?}",
                            diff(&py, &again)
                        ));
                    }
                }
            }
        }
        for proto in [Protocol::V2, Protocol::V3, Protocol::V4, Protocol::V5] {
            let ours = dumps(v, proto);
            let r = &res["ours"][proto.number().to_string()];
            checks += 1;
            if r["ok"] != serde_json::Value::Bool(true) {
                failures.push(format!(
                    "case {i} p{}: python loads(ours): {} for {v:?}",
                    proto.number(),
                    r["ok"]
                ));
                continue;
            }
            if exact_bytes && !has_multi_set(v) {
                checks += 1;
                let redump = STANDARD.decode(r["redump"].as_str().unwrap()).unwrap();
                if redump != ours {
                    failures.push(format!(
                        "case {i} p{}: python re-dump of ours differs: {}\n value {v:?}",
                        proto.number(),
                        diff(&redump, &ours)
                    ));
                }
            }
        }
    }
    Outcome { failures, checks }
}

fn diff(python: &[u8], ours: &[u8]) -> String {
    let at = python
        .iter()
        .zip(ours)
        .position(|(a, b)| a != b)
        .unwrap_or(python.len().min(ours.len()));
    let window = |b: &[u8]| {
        Value::bytes(&b[at.saturating_sub(40).min(b.len())..(at + 40).min(b.len())]).repr()
    };
    format!(
        "first difference at byte {at} (lengths {} / {})\n python {}\n ours   {}",
        python.len(),
        ours.len(),
        window(python),
        window(ours)
    )
}

fn report(name: &str, o: Outcome) {
    eprintln!("{name}: {} checks, {} failures", o.checks, o.failures.len());
    if !o.failures.is_empty() {
        let shown: Vec<String> = o
            .failures
            .iter()
            .take(6)
            .map(|s| s.chars().take(1500).collect())
            .collect();
        panic!(
            "{name}: {} of {} checks failed:\n{}",
            o.failures.len(),
            o.checks,
            shown.join("\n")
        );
    }
}

fn values(seed: u64, n: usize, py2_safe: bool) -> Vec<Value> {
    let mut g = Gen::new(seed);
    (0..n)
        .map(|_| {
            g.pool.clear();
            g.value(0, py2_safe)
        })
        .collect()
}

/// Sizes at the edges of CPython's batching and framing.
fn edge_values() -> Vec<Value> {
    let ints = |n: usize| Value::list((0..n as i64).map(Value::Int).collect());
    let dict = |n: usize| Value::dict((0..n as i64).map(|i| (Value::Int(i), Value::None))).unwrap();
    let set = |n: usize| Value::set((0..n as i64).map(Value::Int)).unwrap();
    vec![
        ints(0),
        ints(1),
        ints(2),
        ints(999),
        ints(1000),
        ints(1001),
        ints(2000),
        ints(40_000),
        Value::list((0..70_000).map(|_| Value::None).collect()),
        dict(1),
        dict(2),
        dict(1000),
        dict(2000),
        dict(2001),
        set(0),
        set(1000),
        set(2000),
        Value::frozenset(Vec::new()).unwrap(),
        Value::list((0..20_000).map(|i| Value::from(format!("ab{i}"))).collect()),
        Value::list(vec![
            Value::bytes(&[b'x'; 30_000]),
            Value::bytes(&[b'y'; 40_000]),
            1.into(),
        ]),
        Value::list(vec![
            Value::bytes(&[b'x'; 70_000]),
            1.into(),
            2.into(),
            3.into(),
        ]),
        Value::bytes(&[7; 65_536]),
        Value::bytes(&[7; 65_535]),
        Value::from("é".repeat(40_000)),
        Value::bytearray(vec![1; 70_000]),
        Value::list(vec![
            Value::from("ab"), // not "a": a str literal is not the Latin-1 singleton decoding makes
            Value::bytes(b"a"),
            Value::bytes(b"bc"),
            Value::bytes(b""),
            Value::bytes(b""),
        ]),
        Value::exception("KeyError", vec!["spam".into()]),
        Value::exception("KeyError", vec![]),
        Value::list(vec![
            Value::exception("KeyError", vec!["a".into()]),
            Value::exception("ValueError", vec!["b".into()]),
            Value::exception("KeyError", vec!["c".into()]),
        ]),
        Value::int(num_bigint::BigInt::from(1) << 3000usize),
        Value::int(-(num_bigint::BigInt::from(1) << 2047usize)),
    ]
}

#[test]
fn python311_reads_and_writes_like_us() {
    let mut all = values(1, 250, true);
    all.extend(values(2, 250, true));
    all.extend(edge_values());
    report(
        "python3 (py2-safe classes)",
        run_batch("python3", &all, true, false),
    );
    // Exception classes that protocols 0–2 rename (ConnectionError → exceptions.OSError,
    // by Python's design): checked for equality, not for Python re-writing our bytes.
    let v4: Vec<Value> = values(3, 150, false);
    let mut o = run_batch("python3", &v4, true, false);
    o.failures.retain(|f| !f.contains(" p2: "));
    report("python3 (py3 classes)", o);
}

fn pyenv_pythons() -> Vec<(String, PathBuf)> {
    let Some(home) = std::env::var_os("HOME") else {
        return Vec::new();
    };
    let root = PathBuf::from(home).join(".pyenv/versions");
    let Ok(dir) = std::fs::read_dir(&root) else {
        return Vec::new();
    };
    let mut found: Vec<(String, PathBuf)> = dir
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let minor: u32 = name.strip_prefix("3.")?.split('.').next()?.parse().ok()?;
            let bin = e.path().join("bin/python3");
            (minor >= 8 && bin.exists()).then_some((name, bin))
        })
        .collect();
    found.sort();
    found
}

#[test]
fn every_installed_python_from_38_agrees() {
    let pythons = pyenv_pythons();
    if pythons.is_empty() {
        eprintln!("no ~/.pyenv/versions/3.x (x >= 8) installed; skipping");
        return;
    }
    let vals = values(7, 80, true);
    let edges = edge_values();
    for (name, bin) in pythons {
        let bin = bin.to_string_lossy().into_owned();
        let old = name.starts_with("3.8.") || name.starts_with("3.9.");
        report(&format!("python {name}"), run_batch(&bin, &vals, true, old));
        report(
            &format!("python {name} edges"),
            run_batch(&bin, &edges, true, old),
        );
    }
}
