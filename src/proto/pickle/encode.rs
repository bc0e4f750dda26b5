//! The pickler. It follows CPython's C pickler (`Modules/_pickle.c`) step for step, so the
//! bytes equal `pickle.dumps(obj, protocol)` for the same object graph: the same opcode
//! choices, memo numbering, BATCHSIZE batching (with C's empty trailing batch for dicts and
//! sets whose size is a multiple of 1000), frames of ≥ 4 bytes committed before the object
//! that follows 64 KiB of frame, and large byte strings written outside frames.
//!
//! Identity is what CPython would see: a node written once is a memo GET the next time.
//! CPython shares a few objects behind your back and so does this encoder: the empty str
//! and one-character Latin-1 strs (every str `pickle.loads` or a Latin-1 decode makes is
//! that singleton), the empty bytes, the interned strings
//! `'builtins'`, `'_codecs'` and `'latin1'`, and each class object.

use std::rc::Rc;

use super::opcodes as op;
use super::value::{DictMap, FxHashMap, PyStr, SetMap, Value};
use super::Protocol;

const FRAME_SIZE_TARGET: usize = 64 * 1024;
const FRAME_SIZE_MIN: usize = 4;
const FRAME_HEADER_SIZE: usize = 9;
const BATCHSIZE: usize = 1000;

#[derive(Clone, PartialEq, Eq, Hash)]
enum MemoKey {
    Node(usize),
    /// The empty str (`None`) or a one-character Latin-1 str: CPython singletons.
    SmallStr(Option<u8>),
    /// The empty bytes: a CPython singleton.
    EmptyBytes,
    /// An interned string constant of the pickler itself.
    Interned(&'static str),
    /// A class or function object, by its Python 3 `module.name`.
    Global(String),
    /// An object only this pickler sees (the name string of a global).
    Fresh(usize),
    /// An attribute name: Python interns the keys of an object's `__dict__`.
    Attr(Vec<u8>),
    /// A node nothing else refers to: it gets its memo index but is never looked up.
    Once,
}

pub(super) fn dumps(v: &Value, protocol: Protocol) -> Vec<u8> {
    let proto = protocol.number();
    let mut e = Encoder {
        out: Vec::new(),
        proto,
        framing: false,
        frame_start: None,
        memo: FxHashMap::default(),
        memo_count: 0,
        pinned: 0,
        keep: Vec::new(),
        fresh: 0,
    };
    e.write(&[op::PROTO, proto]);
    if proto >= 4 {
        e.framing = true;
    }
    e.save(v);
    e.write(&[op::STOP]);
    e.commit_frame();
    e.out
}

struct Encoder {
    out: Vec<u8>,
    proto: u8,
    framing: bool,
    frame_start: Option<usize>,
    memo: FxHashMap<MemoKey, u32>,
    /// Entries written so far (the next memo index); only shared ones are in `memo`.
    memo_count: u32,
    /// Inside a shared tuple or frozenset: CPython writes such a tuple again when it meets
    /// it through its own contents, revisiting everything below, so nothing below may be
    /// [`MemoKey::Once`].
    pinned: u32,
    /// Temporaries (args tuples, latin-1 strs, lists of set elements) stay alive until the
    /// end, as in CPython's memo, so their addresses are never reused for another node.
    keep: Vec<Value>,
    fresh: usize,
}

/// How a global is written at protocol 2 (`fix_imports`, from `Lib/_compat_pickle.py`).
fn py2_name(module: &'static str, name: &str) -> (&'static str, String) {
    const PY2_EXCEPTIONS: &[&str] = &[
        "ArithmeticError",
        "AssertionError",
        "AttributeError",
        "BaseException",
        "BufferError",
        "BytesWarning",
        "DeprecationWarning",
        "EOFError",
        "EnvironmentError",
        "Exception",
        "FloatingPointError",
        "FutureWarning",
        "GeneratorExit",
        "IOError",
        "ImportError",
        "ImportWarning",
        "IndentationError",
        "IndexError",
        "KeyError",
        "KeyboardInterrupt",
        "LookupError",
        "MemoryError",
        "NameError",
        "NotImplementedError",
        "OSError",
        "OverflowError",
        "PendingDeprecationWarning",
        "ReferenceError",
        "RuntimeError",
        "RuntimeWarning",
        "StopIteration",
        "SyntaxError",
        "SyntaxWarning",
        "SystemError",
        "SystemExit",
        "TabError",
        "TypeError",
        "UnboundLocalError",
        "UnicodeDecodeError",
        "UnicodeEncodeError",
        "UnicodeError",
        "UnicodeTranslateError",
        "UnicodeWarning",
        "UserWarning",
        "ValueError",
        "Warning",
        "ZeroDivisionError",
    ];
    const PY3_OSERRORS: &[&str] = &[
        "BrokenPipeError",
        "ChildProcessError",
        "ConnectionAbortedError",
        "ConnectionError",
        "ConnectionRefusedError",
        "ConnectionResetError",
        "FileExistsError",
        "FileNotFoundError",
        "InterruptedError",
        "IsADirectoryError",
        "NotADirectoryError",
        "PermissionError",
        "ProcessLookupError",
        "TimeoutError",
    ];
    if module != "builtins" {
        return (module, name.to_owned());
    }
    if PY2_EXCEPTIONS.contains(&name) {
        ("exceptions", name.to_owned())
    } else if PY3_OSERRORS.contains(&name) {
        ("exceptions", "OSError".to_owned())
    } else if name == "ModuleNotFoundError" {
        ("exceptions", "ImportError".to_owned())
    } else {
        ("__builtin__", name.to_owned())
    }
}

impl Encoder {
    // ---- output and framing (CPython's _Pickler_Write / CommitFrame / OpcodeBoundary) ----

    fn write(&mut self, b: &[u8]) {
        if self.framing && self.frame_start.is_none() {
            self.frame_start = Some(self.out.len());
            self.out.extend_from_slice(&[0xfe; FRAME_HEADER_SIZE]);
        }
        self.out.extend_from_slice(b);
    }

    fn commit_frame(&mut self) {
        if !self.framing {
            return;
        }
        let Some(start) = self.frame_start.take() else {
            return;
        };
        let len = self.out.len() - start - FRAME_HEADER_SIZE;
        if len >= FRAME_SIZE_MIN {
            self.out[start] = op::FRAME;
            self.out[start + 1..start + FRAME_HEADER_SIZE]
                .copy_from_slice(&(len as u64).to_le_bytes());
        } else {
            self.out.drain(start..start + FRAME_HEADER_SIZE);
        }
    }

    fn boundary(&mut self) {
        if let Some(start) = self.frame_start {
            if self.framing && self.out.len() - start - FRAME_HEADER_SIZE >= FRAME_SIZE_TARGET {
                self.commit_frame();
            }
        }
    }

    /// A header and a payload; payloads of 64 KiB and more go outside any frame.
    fn write_data(&mut self, header: &[u8], data: &[u8]) {
        if data.len() >= FRAME_SIZE_TARGET {
            self.commit_frame();
            let framing = self.framing;
            self.framing = false;
            self.write(header);
            self.write(data);
            self.framing = framing;
        } else {
            self.write(header);
            self.write(data);
        }
    }

    // ---- memo ----

    /// Writes the PUT/MEMOIZE Python writes; remembers the entry unless the object cannot
    /// be met again ([`MemoKey::Once`]), which keeps the map small for tree-shaped values.
    fn memo_put(&mut self, key: MemoKey) {
        let idx = self.memo_count;
        self.memo_count += 1;
        if key != MemoKey::Once {
            self.memo.insert(key, idx);
        }
        if self.proto >= 4 {
            self.write(&[op::MEMOIZE]);
        } else if idx < 256 {
            self.write(&[op::BINPUT, idx as u8]);
        } else {
            let mut b = [op::LONG_BINPUT, 0, 0, 0, 0];
            b[1..].copy_from_slice(&idx.to_le_bytes());
            self.write(&b);
        }
    }

    fn memo_get(&mut self, idx: u32) {
        if idx < 256 {
            self.write(&[op::BINGET, idx as u8]);
        } else {
            let mut b = [op::LONG_BINGET, 0, 0, 0, 0];
            b[1..].copy_from_slice(&idx.to_le_bytes());
            self.write(&b);
        }
    }

    fn memo_key(&self, v: &Value) -> Option<MemoKey> {
        let once = self.pinned == 0;
        match v {
            Value::Str(s) => {
                let b = s.as_surrogatepass_bytes();
                if b.is_empty() {
                    return Some(MemoKey::SmallStr(None));
                }
                let mut cps = s.code_points();
                if let (Some(c), None) = (cps.next(), cps.next()) {
                    if let Ok(c) = u8::try_from(c) {
                        return Some(MemoKey::SmallStr(Some(c)));
                    }
                }
                Some(if once && !s.is_shared() {
                    MemoKey::Once
                } else {
                    MemoKey::Node(s.addr())
                })
            }
            Value::Bytes(b) if b.is_empty() => Some(MemoKey::EmptyBytes),
            other if once && !other.is_shared_node() => Some(MemoKey::Once),
            other => other.node_addr().map(MemoKey::Node),
        }
    }

    // ---- save ----

    /// CPython's `save()`: a frame that reached 64 KiB is committed before each object.
    fn save(&mut self, v: &Value) {
        self.boundary();
        self.save_inner(v);
    }

    fn save_inner(&mut self, v: &Value) {
        match v {
            Value::None => self.write(&[op::NONE]),
            Value::Bool(b) => self.write(&[if *b { op::NEWTRUE } else { op::NEWFALSE }]),
            Value::Int(i) => self.save_int(*i),
            Value::BigInt(b) => match i64::try_from(&**b) {
                Ok(i) => self.save_int(i),
                Err(_) => self.save_long_bytes(&b.to_signed_bytes_le()),
            },
            Value::Float(f) => {
                let mut b = [op::BINFLOAT, 0, 0, 0, 0, 0, 0, 0, 0];
                b[1..].copy_from_slice(&f.to_be_bytes());
                self.write(&b);
            }
            Value::Recursive(r) => match r.upgrade() {
                Some(target) => self.save_inner(&target),
                None => self.write(&[op::NONE]),
            },
            _ => {
                let Some(key) = self.memo_key(v) else { return };
                if let Some(&idx) = self.memo.get(&key) {
                    self.memo_get(idx);
                    return;
                }
                match v {
                    Value::Str(s) => self.save_str(s, key),
                    Value::Bytes(b) => self.save_bytes(b, key),
                    Value::ByteArray(b) => self.save_bytearray(&b.borrow(), key),
                    Value::Tuple(t) => self.save_tuple(&t.borrow(), key),
                    Value::List(l) => {
                        self.write(&[op::EMPTY_LIST]);
                        self.memo_put(key);
                        self.batch_appends(&l.borrow());
                    }
                    Value::Dict(d) => {
                        self.write(&[op::EMPTY_DICT]);
                        self.memo_put(key);
                        self.batch_setitems(&d.borrow());
                    }
                    Value::Set(s) => self.save_set(&s.borrow(), key),
                    Value::FrozenSet(s) => self.save_frozenset(&s.borrow(), key),
                    Value::Exception(e) => {
                        let e = e.borrow().clone();
                        let args = Value::Tuple(e.args.clone());
                        self.save_global("builtins", &e.class);
                        self.save(&args);
                        self.write(&[op::REDUCE]);
                        if self.recursed(&key) {
                            return;
                        }
                        self.memo_put(key);
                        match &e.state {
                            Some(Value::Dict(d)) => {
                                self.save_attr_dict(&d.borrow());
                                self.write(&[op::BUILD]);
                            }
                            Some(state) => {
                                self.save(state);
                                self.write(&[op::BUILD]);
                            }
                            None => {}
                        }
                    }
                    _ => {}
                }
            }
        }
    }

    /// CPython's check after building a REDUCE result: if saving the arguments already
    /// memoized this very object (a recursive structure), discard ours and GET that one.
    fn recursed(&mut self, key: &MemoKey) -> bool {
        match self.memo.get(key) {
            Some(&idx) => {
                self.write(&[op::POP]);
                self.memo_get(idx);
                true
            }
            None => false,
        }
    }

    /// An exception's state as CPython writes `exc.__dict__`: a dict of its own whose str
    /// keys are interned attribute names (so equal names are one memo entry).
    fn save_attr_dict(&mut self, d: &super::value::DictMap) {
        self.boundary();
        self.write(&[op::EMPTY_DICT]);
        self.fresh += 1;
        self.memo_put(MemoKey::Fresh(self.fresh));
        let items: Vec<(Value, Value)> = d
            .iter()
            .map(|(k, v)| (k.value().clone(), v.clone()))
            .collect();
        let save_key = |e: &mut Encoder, k: &Value| match k {
            Value::Str(s) => {
                e.boundary();
                let key = MemoKey::Attr(s.as_surrogatepass_bytes().to_vec());
                if let Some(&idx) = e.memo.get(&key) {
                    e.memo_get(idx);
                } else {
                    e.save_str(s, key);
                }
            }
            other => e.save(other),
        };
        match items.as_slice() {
            [] => {}
            [(k, v)] => {
                save_key(self, k);
                self.save(v);
                self.write(&[op::SETITEM]);
            }
            _ => {
                let mut rest = items.as_slice();
                loop {
                    let n = rest.len().min(BATCHSIZE);
                    self.write(&[op::MARK]);
                    for (k, v) in &rest[..n] {
                        save_key(self, k);
                        self.save(v);
                    }
                    self.write(&[op::SETITEMS]);
                    rest = &rest[n..];
                    if n != BATCHSIZE {
                        break;
                    }
                }
            }
        }
    }

    fn save_int(&mut self, i: i64) {
        if let Ok(small) = i32::try_from(i) {
            let b = small.to_le_bytes();
            if b[2] != 0 || b[3] != 0 {
                self.write(&[op::BININT, b[0], b[1], b[2], b[3]]);
            } else if b[1] != 0 {
                self.write(&[op::BININT2, b[0], b[1]]);
            } else {
                self.write(&[op::BININT1, b[0]]);
            }
            return;
        }
        let mut b = i.to_le_bytes().to_vec();
        while b.len() > 1 {
            let (last, prev) = (b[b.len() - 1], b[b.len() - 2]);
            if (last == 0 && prev & 0x80 == 0) || (last == 0xff && prev & 0x80 != 0) {
                b.pop();
            } else {
                break;
            }
        }
        self.save_long_bytes(&b);
    }

    fn save_long_bytes(&mut self, b: &[u8]) {
        if b.len() < 256 {
            self.write(&[op::LONG1, b.len() as u8]);
        } else {
            let mut h = [op::LONG4, 0, 0, 0, 0];
            h[1..].copy_from_slice(&(b.len() as u32).to_le_bytes());
            self.write(&h);
        }
        self.write(b);
    }

    fn save_str(&mut self, s: &PyStr, key: MemoKey) {
        let data = s.as_surrogatepass_bytes();
        let n = data.len();
        if n <= 0xff && self.proto >= 4 {
            self.write_data(&[op::SHORT_BINUNICODE, n as u8], data);
        } else if n <= 0xffff_ffff {
            let mut h = [op::BINUNICODE, 0, 0, 0, 0];
            h[1..].copy_from_slice(&(n as u32).to_le_bytes());
            self.write_data(&h, data);
        } else {
            let mut h = [op::BINUNICODE8, 0, 0, 0, 0, 0, 0, 0, 0];
            h[1..].copy_from_slice(&(n as u64).to_le_bytes());
            self.write_data(&h, data);
        }
        self.memo_put(key);
    }

    /// An interned constant string: memoized once per pickle, like CPython's.
    fn save_interned(&mut self, s: &'static str) {
        self.boundary();
        let key = MemoKey::Interned(s);
        if let Some(&idx) = self.memo.get(&key) {
            self.memo_get(idx);
        } else {
            self.save_str(&PyStr::new(s), key);
        }
    }

    fn save_bytes(&mut self, b: &[u8], key: MemoKey) {
        if self.proto < 3 {
            // bytes(), or _codecs.encode(b.decode('latin1'), 'latin1'), as CPython.
            self.save_global(
                if b.is_empty() { "builtins" } else { "_codecs" },
                if b.is_empty() { "bytes" } else { "encode" },
            );
            if b.is_empty() {
                self.save(&Value::tuple(Vec::new()));
            } else {
                let text = Value::Str(
                    PyStr::from_code_points(b.iter().map(|&c| u32::from(c)))
                        .unwrap_or_else(|| PyStr::new("")),
                );
                self.keep.push(text.clone());
                // The args tuple (text, 'latin1') is a fresh object holding the interned
                // 'latin1'; write it by hand.
                self.boundary();
                self.save(&text);
                self.save_interned("latin1");
                self.write(&[op::TUPLE2]);
                self.fresh += 1;
                self.memo_put(MemoKey::Fresh(self.fresh));
            }
            self.write(&[op::REDUCE]);
            self.memo_put(key);
            return;
        }
        let n = b.len();
        if n <= 0xff {
            self.write_data(&[op::SHORT_BINBYTES, n as u8], b);
        } else if n <= 0xffff_ffff {
            let mut h = [op::BINBYTES, 0, 0, 0, 0];
            h[1..].copy_from_slice(&(n as u32).to_le_bytes());
            self.write_data(&h, b);
        } else {
            let mut h = [op::BINBYTES8, 0, 0, 0, 0, 0, 0, 0, 0];
            h[1..].copy_from_slice(&(n as u64).to_le_bytes());
            self.write_data(&h, b);
        }
        self.memo_put(key);
    }

    fn save_bytearray(&mut self, b: &[u8], key: MemoKey) {
        if self.proto >= 5 {
            let mut h = [op::BYTEARRAY8, 0, 0, 0, 0, 0, 0, 0, 0];
            h[1..].copy_from_slice(&(b.len() as u64).to_le_bytes());
            self.write_data(&h, b);
            self.memo_put(key);
            return;
        }
        // bytearray.__reduce_ex__: (bytearray, ()) or (bytearray, (bytes(self),)).
        let args = if b.is_empty() {
            Value::tuple(Vec::new())
        } else {
            Value::tuple(vec![Value::Bytes(Rc::from(b))])
        };
        self.keep.push(args.clone());
        self.save_global("builtins", "bytearray");
        self.save(&args);
        self.write(&[op::REDUCE]);
        self.memo_put(key);
    }

    fn save_tuple(&mut self, items: &[Value], key: MemoKey) {
        let pin = u32::from(key != MemoKey::Once);
        self.pinned += pin;
        self.save_tuple_items(items, key);
        self.pinned -= pin;
    }

    fn save_tuple_items(&mut self, items: &[Value], key: MemoKey) {
        if items.is_empty() {
            self.write(&[op::EMPTY_TUPLE]);
            return;
        }
        if items.len() <= 3 {
            for v in items {
                self.save(v);
            }
            if let Some(&idx) = self.memo.get(&key) {
                for _ in items {
                    self.write(&[op::POP]);
                }
                self.memo_get(idx);
                return;
            }
            self.write(&[op::TUPLE1 + (items.len() as u8 - 1)]);
        } else {
            self.write(&[op::MARK]);
            for v in items {
                self.save(v);
            }
            if let Some(&idx) = self.memo.get(&key) {
                self.write(&[op::POP_MARK]);
                self.memo_get(idx);
                return;
            }
            self.write(&[op::TUPLE]);
        }
        self.memo_put(key);
    }

    fn batch_appends(&mut self, items: &[Value]) {
        match items {
            [] => {}
            [one] => {
                self.save(one);
                self.write(&[op::APPEND]);
            }
            _ => {
                for chunk in items.chunks(BATCHSIZE) {
                    self.write(&[op::MARK]);
                    for v in chunk {
                        self.save(v);
                    }
                    self.write(&[op::APPENDS]);
                }
            }
        }
    }

    fn batch_setitems(&mut self, d: &DictMap) {
        match d.len() {
            0 => {}
            1 => {
                if let Some((k, v)) = d.get_index(0) {
                    self.save(k);
                    self.save(v);
                }
                self.write(&[op::SETITEM]);
            }
            n => {
                // C's loop runs once more after a full batch, writing an empty MARK SETITEMS.
                let mut start = 0;
                loop {
                    let end = (start + BATCHSIZE).min(n);
                    self.write(&[op::MARK]);
                    for i in start..end {
                        if let Some((k, v)) = d.get_index(i) {
                            self.save(k);
                            self.save(v);
                        }
                    }
                    self.write(&[op::SETITEMS]);
                    if end - start != BATCHSIZE {
                        break;
                    }
                    start = end;
                }
            }
        }
    }

    fn save_set(&mut self, items: &SetMap, key: MemoKey) {
        if self.proto < 4 {
            self.save_reduce_list("set", items, key);
            return;
        }
        self.write(&[op::EMPTY_SET]);
        self.memo_put(key);
        if items.is_empty() {
            return;
        }
        let n = items.len();
        let mut start = 0;
        loop {
            let end = (start + BATCHSIZE).min(n);
            self.write(&[op::MARK]);
            for i in start..end {
                if let Some(v) = items.get_index(i) {
                    self.save(v);
                }
            }
            self.write(&[op::ADDITEMS]);
            if end - start != BATCHSIZE {
                break;
            }
            start = end;
        }
    }

    fn save_frozenset(&mut self, items: &SetMap, key: MemoKey) {
        let pin = u32::from(key != MemoKey::Once);
        self.pinned += pin;
        self.save_frozenset_items(items, key);
        self.pinned -= pin;
    }

    fn save_frozenset_items(&mut self, items: &SetMap, key: MemoKey) {
        if self.proto < 4 {
            self.save_reduce_list("frozenset", items, key);
            return;
        }
        self.write(&[op::MARK]);
        for v in items {
            self.save(v);
        }
        if let Some(&idx) = self.memo.get(&key) {
            self.write(&[op::POP_MARK]);
            self.memo_get(idx);
            return;
        }
        self.write(&[op::FROZENSET]);
        self.memo_put(key);
    }

    /// `(set|frozenset, (list(items),))` as `set.__reduce__` returns it.
    fn save_reduce_list(&mut self, class: &str, items: &SetMap, key: MemoKey) {
        let args = Value::tuple(vec![Value::list(
            items.iter().map(|k| k.value().clone()).collect(),
        )]);
        self.keep.push(args.clone());
        self.save_global("builtins", class);
        self.save(&args);
        self.write(&[op::REDUCE]);
        if self.recursed(&key) {
            return;
        }
        self.memo_put(key);
    }

    fn save_global(&mut self, module: &'static str, name: &str) {
        self.boundary();
        let key = MemoKey::Global(format!("{module}.{name}"));
        if let Some(&idx) = self.memo.get(&key) {
            self.memo_get(idx);
            return;
        }
        if self.proto >= 4 {
            self.save_interned(module);
            self.fresh += 1;
            let fresh = MemoKey::Fresh(self.fresh);
            self.boundary();
            self.save_str(&PyStr::new(name), fresh);
            self.write(&[op::STACK_GLOBAL]);
        } else {
            let (m, n) = if self.proto == 2 {
                py2_name(module, name)
            } else {
                (module, name.to_owned())
            };
            let mut line = Vec::with_capacity(m.len() + n.len() + 3);
            line.push(op::GLOBAL);
            line.extend_from_slice(m.as_bytes());
            line.push(b'\n');
            line.extend_from_slice(n.as_bytes());
            line.push(b'\n');
            self.write(&line);
        }
        self.memo_put(key);
    }
}
