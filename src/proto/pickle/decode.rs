//! The unpickler: a flat loop over opcodes with an explicit stack (no recursion on input),
//! every allocation charged to [`Limits`] before it is made, and no global ever resolved
//! outside the whitelist in [`resolve_global`].

use std::collections::HashMap;
use std::mem;
use std::rc::Rc;

use num_bigint::BigInt;

use super::error::PickleError;
use super::opcodes as op;
use super::value::{DictMap, FxHashMap, Key, Obj, PyException, PyStr, SetMap, Value};
use super::Limits;

type Result<T> = std::result::Result<T, PickleError>;

/// Python's `sys.int_info.default_max_str_digits`: the text int forms stop here, as they do
/// in Python 3.11 (the conversion is quadratic).
const MAX_INT_DIGITS: usize = 4300;

/// Rough bytes per stack slot, memo entry, container element and node, for the allocation
/// budget. They over-estimate a little; the point is a bound linear in the input.
const SLOT: usize = mem::size_of::<Item>();
const ELEM: usize = mem::size_of::<Value>();
const NODE: usize = 64;

/// A callable or class the whitelist lets through. Never a live Python object: just a tag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Class {
    Exception(&'static str),
    Set,
    FrozenSet,
    ByteArray,
    Bytes,
    CodecsEncode,
    Reconstructor,
    Object,
}

impl Class {
    fn describe(self) -> String {
        match self {
            Class::Exception(n) => format!("builtins.{n}"),
            Class::Set => "builtins.set".into(),
            Class::FrozenSet => "builtins.frozenset".into(),
            Class::ByteArray => "builtins.bytearray".into(),
            Class::Bytes => "builtins.bytes".into(),
            Class::CodecsEncode => "_codecs.encode".into(),
            Class::Reconstructor => "copyreg._reconstructor".into(),
            Class::Object => "builtins.object".into(),
        }
    }
}

/// Builtin exception classes a peer may send. Python 3 names; aliases map in
/// [`resolve_global`].
const EXCEPTIONS: &[&str] = &[
    "BaseException",
    "Exception",
    "ArithmeticError",
    "AssertionError",
    "AttributeError",
    "BlockingIOError",
    "BrokenPipeError",
    "BufferError",
    "ChildProcessError",
    "ConnectionAbortedError",
    "ConnectionError",
    "ConnectionRefusedError",
    "ConnectionResetError",
    "EOFError",
    "FileExistsError",
    "FileNotFoundError",
    "FloatingPointError",
    "GeneratorExit",
    "ImportError",
    "IndexError",
    "InterruptedError",
    "IsADirectoryError",
    "KeyError",
    "KeyboardInterrupt",
    "LookupError",
    "MemoryError",
    "ModuleNotFoundError",
    "NameError",
    "NotADirectoryError",
    "NotImplementedError",
    "OSError",
    "OverflowError",
    "PermissionError",
    "ProcessLookupError",
    "RecursionError",
    "ReferenceError",
    "RuntimeError",
    "StopAsyncIteration",
    "StopIteration",
    "SystemError",
    "SystemExit",
    "TimeoutError",
    "TypeError",
    "UnboundLocalError",
    "UnicodeDecodeError",
    "UnicodeEncodeError",
    "UnicodeError",
    "UnicodeTranslateError",
    "ValueError",
    "ZeroDivisionError",
];

/// Whether `name` is a builtin exception class [`loads`](super::loads) accepts.
pub fn is_known_exception(name: &str) -> bool {
    EXCEPTIONS.contains(&name)
}

/// Maps (module, name) to a whitelisted class. `py2_names` applies Python's `fix_imports`
/// (only for protocols < 3, as Python's unpickler does).
fn resolve_global(module: &str, name: &str, py2_names: bool) -> Option<Class> {
    let module = match module {
        "__builtin__" | "exceptions" if py2_names => "builtins",
        "copy_reg" if py2_names => "copyreg",
        m => m,
    };
    let name = match name {
        "IOError" | "EnvironmentError" if module == "builtins" => "OSError",
        "StandardError" if py2_names && module == "builtins" => "Exception",
        n => n,
    };
    match (module, name) {
        ("builtins", "set") => Some(Class::Set),
        ("builtins", "frozenset") => Some(Class::FrozenSet),
        ("builtins", "bytearray") => Some(Class::ByteArray),
        ("builtins", "bytes") => Some(Class::Bytes),
        ("builtins", "object") => Some(Class::Object),
        ("_codecs", "encode") => Some(Class::CodecsEncode),
        ("copyreg", "_reconstructor") => Some(Class::Reconstructor),
        ("builtins", n) => EXCEPTIONS
            .iter()
            .find(|e| **e == n)
            .map(|e| Class::Exception(e)),
        _ => None,
    }
}

/// A stack or memo slot: a value (with the height it had when built) or a class.
#[derive(Clone)]
enum Item {
    V(Value, u32),
    Class(Class),
}

/// Every container the decoder made, so cycles among unreachable ones can be broken.
enum Made {
    Seq(Obj<Vec<Value>>),
    Dict(Obj<DictMap>),
    Set(Obj<SetMap>),
    Exc(Obj<PyException>),
}

pub(super) fn loads(data: &[u8], limits: &Limits) -> Result<Value> {
    let mut d = Decoder::new(data, limits);
    let result = d.run().and_then(|root| d.finish(root));
    if result.is_err() {
        d.break_all();
    }
    result
}

struct Decoder<'a> {
    data: &'a [u8],
    pos: usize,
    op_start: usize,
    limits: &'a Limits,
    stack: Vec<Item>,
    stack_high: usize,
    marks: Vec<usize>,
    /// Memo slots 0..n, as MEMOIZE and Python's PUTs make them…
    memo: Vec<Item>,
    /// …and any index a hand-made pickle puts out of order.
    sparse_memo: HashMap<u64, Item>,
    proto: u8,
    alloc: usize,
    made: Vec<Made>,
    /// Whether a container was ever pushed a second time (GET, DUP). Until then every
    /// container has one owner, so the value is a tree, the heights on the stack are exact
    /// and `finish` has nothing to do.
    aliased: bool,
}

impl<'a> Decoder<'a> {
    fn new(data: &'a [u8], limits: &'a Limits) -> Self {
        Decoder {
            data,
            pos: 0,
            op_start: 0,
            limits,
            stack: Vec::new(),
            stack_high: 0,
            marks: Vec::new(),
            memo: Vec::new(),
            sparse_memo: HashMap::new(),
            proto: 0,
            alloc: 0,
            made: Vec::new(),
            aliased: false,
        }
    }

    // ---- budget --------------------------------------------------------------------

    fn charge(&mut self, bytes: usize) -> Result<()> {
        self.alloc = self.alloc.saturating_add(bytes);
        if self.alloc > self.limits.max_alloc {
            return Err(PickleError::AllocLimit {
                offset: self.op_start,
                limit: self.limits.max_alloc,
            });
        }
        Ok(())
    }

    fn check_height(&self, h: u32) -> Result<()> {
        if h as usize > self.limits.max_depth {
            return Err(PickleError::TooDeep {
                offset: self.op_start,
                limit: self.limits.max_depth,
            });
        }
        Ok(())
    }

    // ---- input ---------------------------------------------------------------------

    fn take(&mut self, n: u64, what: &'static str) -> Result<&'a [u8]> {
        let available = self.data.len() - self.pos;
        if n > available as u64 {
            return Err(PickleError::Truncated {
                offset: self.op_start,
                what,
                needed: n,
                available,
            });
        }
        let start = self.pos;
        self.pos += n as usize;
        Ok(&self.data[start..self.pos])
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N]> {
        let b = self.take(N as u64, what)?;
        let mut out = [0u8; N];
        out.copy_from_slice(b);
        Ok(out)
    }

    fn u8(&mut self, what: &'static str) -> Result<u8> {
        Ok(self.array::<1>(what)?[0])
    }
    fn u32(&mut self, what: &'static str) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }
    fn u64(&mut self, what: &'static str) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    /// Bytes up to the next `\n` (consumed, not returned).
    fn line(&mut self, what: &'static str) -> Result<&'a [u8]> {
        let rest = &self.data[self.pos..];
        match rest.iter().position(|&b| b == b'\n') {
            Some(i) => {
                self.pos += i + 1;
                Ok(&rest[..i])
            }
            None => Err(PickleError::Truncated {
                offset: self.op_start,
                what,
                needed: rest.len() as u64 + 1,
                available: rest.len(),
            }),
        }
    }

    fn bad(&self, what: &'static str) -> PickleError {
        PickleError::BadLiteral {
            offset: self.op_start,
            what,
        }
    }

    // ---- stack ---------------------------------------------------------------------

    fn fence(&self) -> usize {
        self.marks.last().copied().unwrap_or(0)
    }

    fn push(&mut self, item: Item) -> Result<()> {
        self.stack.push(item);
        if self.stack.len() > self.stack_high {
            self.stack_high = self.stack.len();
            self.charge(SLOT)?;
        }
        Ok(())
    }

    /// Note an alias if `item` is a container being pushed a second time.
    fn note_alias(&mut self, item: &Item) {
        if let Item::V(v, _) = item {
            self.aliased |= matches!(
                v,
                Value::Tuple(_)
                    | Value::List(_)
                    | Value::Dict(_)
                    | Value::Set(_)
                    | Value::FrozenSet(_)
                    | Value::Exception(_)
            );
        }
    }

    /// The container on top of the stack just got a child of height `child`.
    fn grow_top(&mut self, child: u32) -> Result<()> {
        let limit = self.limits.max_depth;
        if let Some(Item::V(_, h)) = self.stack.last_mut() {
            *h = (*h).max(child + 1);
            if *h as usize > limit {
                return Err(PickleError::TooDeep {
                    offset: self.op_start,
                    limit,
                });
            }
        }
        Ok(())
    }

    fn push_v(&mut self, v: Value, h: u32) -> Result<()> {
        self.push(Item::V(v, h))
    }

    fn underflow(&self, opcode: u8) -> PickleError {
        PickleError::StackUnderflow {
            offset: self.op_start,
            opcode: op::name(opcode),
        }
    }

    fn pop(&mut self, opcode: u8) -> Result<Item> {
        if self.stack.len() <= self.fence() {
            return Err(self.underflow(opcode));
        }
        self.stack.pop().ok_or_else(|| self.underflow(opcode))
    }

    fn wrong(&self, opcode: u8, expected: &'static str, found: &'static str) -> PickleError {
        PickleError::WrongType {
            offset: self.op_start,
            opcode: op::name(opcode),
            expected,
            found,
        }
    }

    fn pop_value(&mut self, opcode: u8) -> Result<(Value, u32)> {
        match self.pop(opcode)? {
            Item::V(v, h) => Ok((v, h)),
            Item::Class(_) => Err(self.wrong(opcode, "a value", "a class")),
        }
    }

    fn top(&self, opcode: u8) -> Result<&Item> {
        if self.stack.len() <= self.fence() {
            return Err(self.underflow(opcode));
        }
        self.stack.last().ok_or_else(|| self.underflow(opcode))
    }

    fn top_value(&self, opcode: u8) -> Result<Value> {
        match self.top(opcode)? {
            Item::V(v, _) => Ok(v.clone()),
            Item::Class(_) => Err(self.wrong(opcode, "a container", "a class")),
        }
    }

    /// Pops everything above the last MARK, and the mark.
    fn pop_mark(&mut self, opcode: u8) -> Result<Vec<Item>> {
        let Some(mark) = self.marks.pop() else {
            return Err(PickleError::MarkNotFound {
                offset: self.op_start,
                opcode: op::name(opcode),
            });
        };
        Ok(self.stack.split_off(mark.min(self.stack.len())))
    }

    fn values(&self, opcode: u8, items: Vec<Item>) -> Result<(Vec<Value>, u32)> {
        let mut h = 0;
        let mut out = Vec::with_capacity(items.len());
        for it in items {
            match it {
                Item::V(v, vh) => {
                    h = h.max(vh);
                    out.push(v);
                }
                Item::Class(_) => return Err(self.wrong(opcode, "a value", "a class")),
            }
        }
        Ok((out, h))
    }

    fn key(&mut self, v: Value) -> Result<Key> {
        // Hashing and comparing a key costs time linear in its size; charge it so repeated
        // insertion of one big key cannot turn a small pickle into quadratic work.
        let cost = match &v {
            Value::Str(s) => s.as_surrogatepass_bytes().len(),
            Value::Bytes(b) => b.len(),
            Value::Tuple(t) => t.borrow().len() * ELEM,
            Value::FrozenSet(s) => s.borrow().len() * ELEM,
            _ => 0,
        };
        self.charge(cost + ELEM)?;
        Key::new(v).map_err(|e| PickleError::Unhashable {
            offset: self.op_start,
            type_name: e.0,
        })
    }

    // ---- memo ----------------------------------------------------------------------

    fn memo_len(&self) -> usize {
        self.memo.len() + self.sparse_memo.len()
    }

    fn memo_put(&mut self, idx: u64, opcode: u8) -> Result<()> {
        let item = self.top(opcode)?.clone();
        let dense = self.memo.len() as u64;
        if idx < dense {
            self.memo[idx as usize] = item;
            return Ok(());
        }
        if !self.sparse_memo.contains_key(&idx) {
            if self.memo_len() >= self.limits.max_memo {
                return Err(PickleError::MemoLimit {
                    offset: self.op_start,
                    limit: self.limits.max_memo,
                });
            }
            self.charge(SLOT + 16)?;
        }
        if idx == dense {
            self.sparse_memo.remove(&idx);
            self.memo.push(item);
        } else {
            self.sparse_memo.insert(idx, item);
        }
        Ok(())
    }

    fn memo_get(&mut self, idx: u64) -> Result<()> {
        let item = usize::try_from(idx)
            .ok()
            .and_then(|i| self.memo.get(i))
            .or_else(|| self.sparse_memo.get(&idx))
            .cloned()
            .ok_or(PickleError::MemoMissing {
                offset: self.op_start,
                index: idx,
            })?;
        self.note_alias(&item);
        self.push(item)
    }

    fn decimal(&self, line: &[u8], what: &'static str) -> Result<u64> {
        std::str::from_utf8(line)
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .ok_or_else(|| self.bad(what))
    }

    // ---- constructors --------------------------------------------------------------

    fn new_seq(&mut self, items: Vec<Value>) -> Result<Obj<Vec<Value>>> {
        self.charge(NODE + items.len() * ELEM)?;
        let o = Obj::new(items);
        self.made.push(Made::Seq(o.clone()));
        Ok(o)
    }

    fn new_dict(&mut self) -> Result<Obj<DictMap>> {
        self.charge(NODE)?;
        let o = Obj::new(DictMap::default());
        self.made.push(Made::Dict(o.clone()));
        Ok(o)
    }

    fn new_set(&mut self, items: Vec<Value>) -> Result<Obj<SetMap>> {
        self.charge(NODE)?;
        let mut s = SetMap::default();
        for v in items {
            let k = self.key(v)?;
            s.insert(k);
        }
        let o = Obj::new(s);
        self.made.push(Made::Set(o.clone()));
        Ok(o)
    }

    fn new_exception(&mut self, class: &'static str, args: Obj<Vec<Value>>) -> Result<Value> {
        self.charge(NODE)?;
        let o = Obj::new(PyException {
            class: class.to_owned(),
            args,
            state: None,
        });
        self.made.push(Made::Exc(o.clone()));
        Ok(Value::Exception(o))
    }

    fn new_str(&mut self, bytes: &[u8]) -> Result<Value> {
        self.charge(NODE + bytes.len())?;
        PyStr::from_surrogatepass(bytes)
            .map(Value::Str)
            .ok_or(PickleError::InvalidUtf8 {
                offset: self.op_start,
            })
    }

    fn new_bytes(&mut self, bytes: &[u8]) -> Result<Value> {
        self.charge(NODE + bytes.len())?;
        Ok(Value::Bytes(Rc::from(bytes)))
    }

    fn new_int_le(&mut self, bytes: &[u8]) -> Result<Value> {
        if bytes.len() > self.limits.max_int_bytes {
            return Err(PickleError::IntTooLarge {
                offset: self.op_start,
                size: bytes.len() as u64,
            });
        }
        self.charge(NODE + bytes.len())?;
        if bytes.len() <= 8 {
            let fill = if bytes.last().is_some_and(|b| b & 0x80 != 0) {
                0xff
            } else {
                0
            };
            let mut buf = [fill; 8];
            buf[..bytes.len()].copy_from_slice(bytes);
            return Ok(Value::Int(i64::from_le_bytes(buf)));
        }
        Ok(Value::int(BigInt::from_signed_bytes_le(bytes)))
    }

    fn text_int(&mut self, line: &[u8], what: &'static str) -> Result<Value> {
        let s = std::str::from_utf8(line)
            .map_err(|_| self.bad(what))?
            .trim();
        let digits = s.trim_start_matches(['+', '-']);
        if digits.len() > MAX_INT_DIGITS {
            return Err(PickleError::IntTooLarge {
                offset: self.op_start,
                size: digits.len() as u64,
            });
        }
        if digits.is_empty()
            || !digits.bytes().all(|b| b.is_ascii_digit())
            || s.len() - digits.len() > 1
        {
            return Err(self.bad(what));
        }
        if let Ok(i) = s.parse::<i64>() {
            return Ok(Value::Int(i));
        }
        self.charge(NODE + digits.len())?;
        s.parse::<BigInt>()
            .map(Value::int)
            .map_err(|_| self.bad(what))
    }

    // ---- the loop ------------------------------------------------------------------

    fn run(&mut self) -> Result<Value> {
        loop {
            self.op_start = self.pos;
            let code = match self.data.get(self.pos) {
                Some(&c) => c,
                None => {
                    return Err(PickleError::Truncated {
                        offset: self.pos,
                        what: "STOP",
                        needed: 1,
                        available: 0,
                    })
                }
            };
            self.pos += 1;
            if code == op::STOP {
                let (v, _) = self.pop_value(code)?;
                return Ok(v);
            }
            self.step(code)?;
        }
    }

    fn step(&mut self, code: u8) -> Result<()> {
        match code {
            op::PROTO => {
                let p = self.u8("PROTO")?;
                if p > 5 {
                    return Err(PickleError::UnsupportedProtocol {
                        offset: self.op_start,
                        protocol: p,
                    });
                }
                self.proto = p;
            }
            op::FRAME => {
                let n = self.u64("FRAME")?;
                let available = self.data.len() - self.pos;
                if n > available as u64 {
                    return Err(PickleError::Truncated {
                        offset: self.op_start,
                        what: "FRAME",
                        needed: n,
                        available,
                    });
                }
            }
            op::MARK => {
                self.charge(8)?;
                self.marks.push(self.stack.len());
            }
            op::POP => {
                if self.marks.last() == Some(&self.stack.len()) {
                    self.marks.pop();
                } else {
                    self.pop(code)?;
                }
            }
            op::POP_MARK => {
                self.pop_mark(code)?;
            }
            op::DUP => {
                let top = self.top(code)?.clone();
                self.note_alias(&top);
                self.push(top)?;
            }

            // ---- scalars ----
            op::NONE => self.push_v(Value::None, 0)?,
            op::NEWTRUE => self.push_v(Value::Bool(true), 0)?,
            op::NEWFALSE => self.push_v(Value::Bool(false), 0)?,
            op::INT => {
                let line = self.line("INT")?;
                let v = match line {
                    b"00" => Value::Bool(false),
                    b"01" => Value::Bool(true),
                    l => self.text_int(l, "INT")?,
                };
                self.push_v(v, 0)?;
            }
            op::LONG => {
                let line = self.line("LONG")?;
                let line = line.strip_suffix(b"L").unwrap_or(line);
                let v = self.text_int(line, "LONG")?;
                self.push_v(v, 0)?;
            }
            op::BININT => {
                let v = i32::from_le_bytes(self.array("BININT")?);
                self.push_v(Value::Int(i64::from(v)), 0)?;
            }
            op::BININT1 => {
                let v = self.u8("BININT1")?;
                self.push_v(Value::Int(i64::from(v)), 0)?;
            }
            op::BININT2 => {
                let v = u16::from_le_bytes(self.array("BININT2")?);
                self.push_v(Value::Int(i64::from(v)), 0)?;
            }
            op::LONG1 | op::LONG4 => {
                let n = if code == op::LONG1 {
                    u64::from(self.u8("LONG1")?)
                } else {
                    let n = i32::from_le_bytes(self.array("LONG4")?);
                    u64::try_from(n).map_err(|_| self.bad("LONG4 length"))?
                };
                if n > self.limits.max_int_bytes as u64 {
                    return Err(PickleError::IntTooLarge {
                        offset: self.op_start,
                        size: n,
                    });
                }
                let bytes = self.take(n, op::name(code))?;
                let v = self.new_int_le(bytes)?;
                self.push_v(v, 0)?;
            }
            op::BINFLOAT => {
                let f = f64::from_be_bytes(self.array("BINFLOAT")?);
                self.push_v(Value::Float(f), 0)?;
            }
            op::FLOAT => {
                let line = self.line("FLOAT")?;
                let f = std::str::from_utf8(line)
                    .ok()
                    .and_then(|s| s.parse::<f64>().ok())
                    .ok_or_else(|| self.bad("FLOAT"))?;
                self.push_v(Value::Float(f), 0)?;
            }

            // ---- strings ----
            op::SHORT_BINUNICODE | op::BINUNICODE | op::BINUNICODE8 => {
                let n = match code {
                    op::SHORT_BINUNICODE => u64::from(self.u8("SHORT_BINUNICODE")?),
                    op::BINUNICODE => u64::from(self.u32("BINUNICODE")?),
                    _ => self.u64("BINUNICODE8")?,
                };
                let bytes = self.take(n, op::name(code))?;
                let v = self.new_str(bytes)?;
                self.push_v(v, 0)?;
            }
            op::UNICODE => {
                let line = self.line("UNICODE")?;
                self.charge(NODE + line.len() * 4)?;
                let cps = raw_unicode_escape(line)
                    .ok_or_else(|| self.bad("raw-unicode-escape string"))?;
                let s = PyStr::from_code_points(cps)
                    .ok_or_else(|| self.bad("raw-unicode-escape string"))?;
                self.push_v(Value::Str(s), 0)?;
            }
            op::SHORT_BINBYTES | op::BINBYTES | op::BINBYTES8 => {
                let n = match code {
                    op::SHORT_BINBYTES => u64::from(self.u8("SHORT_BINBYTES")?),
                    op::BINBYTES => u64::from(self.u32("BINBYTES")?),
                    _ => self.u64("BINBYTES8")?,
                };
                let bytes = self.take(n, op::name(code))?;
                let v = self.new_bytes(bytes)?;
                self.push_v(v, 0)?;
            }
            op::BYTEARRAY8 => {
                let n = self.u64("BYTEARRAY8")?;
                let bytes = self.take(n, "BYTEARRAY8")?;
                self.charge(NODE + bytes.len())?;
                self.push_v(Value::ByteArray(Obj::new(bytes.to_vec())), 0)?;
            }
            // Python 2 `str`: Python 3 decodes it with the default encoding, ASCII.
            op::SHORT_BINSTRING | op::BINSTRING => {
                let n = if code == op::SHORT_BINSTRING {
                    u64::from(self.u8("SHORT_BINSTRING")?)
                } else {
                    let n = i32::from_le_bytes(self.array("BINSTRING")?);
                    u64::try_from(n).map_err(|_| self.bad("BINSTRING length"))?
                };
                let bytes = self.take(n, op::name(code))?;
                if !bytes.is_ascii() {
                    return Err(PickleError::InvalidUtf8 {
                        offset: self.op_start,
                    });
                }
                let v = self.new_str(bytes)?;
                self.push_v(v, 0)?;
            }
            op::STRING => {
                let line = self.line("STRING")?;
                let inner = match line {
                    [q, inner @ .., q2] if q == q2 && (*q == b'\'' || *q == b'"') => inner,
                    _ => return Err(self.bad("STRING quotes")),
                };
                let bytes = escape_decode(inner).ok_or_else(|| self.bad("STRING escape"))?;
                if !bytes.is_ascii() {
                    return Err(PickleError::InvalidUtf8 {
                        offset: self.op_start,
                    });
                }
                let v = self.new_str(&bytes)?;
                self.push_v(v, 0)?;
            }
            op::NEXT_BUFFER | op::READONLY_BUFFER => {
                return Err(PickleError::OutOfBandBuffer {
                    offset: self.op_start,
                    opcode: op::name(code),
                })
            }

            // ---- containers ----
            op::EMPTY_TUPLE => {
                let t = self.new_seq(Vec::new())?;
                self.push_v(Value::Tuple(t), 1)?;
            }
            op::TUPLE1 | op::TUPLE2 | op::TUPLE3 => {
                let n = usize::from(code - op::TUPLE1) + 1;
                if self.stack.len() < self.fence() + n {
                    return Err(self.underflow(code));
                }
                let items = self.stack.split_off(self.stack.len() - n);
                self.push_tuple(code, items)?;
            }
            op::TUPLE => {
                let items = self.pop_mark(code)?;
                self.push_tuple(code, items)?;
            }
            op::EMPTY_LIST => {
                let l = self.new_seq(Vec::new())?;
                self.push_v(Value::List(l), 1)?;
            }
            op::LIST => {
                let items = self.pop_mark(code)?;
                let (vals, h) = self.values(code, items)?;
                self.check_height(h + 1)?;
                let l = self.new_seq(vals)?;
                self.push_v(Value::List(l), h + 1)?;
            }
            op::APPEND => {
                let (v, h) = self.pop_value(code)?;
                let target = self.top_value(code)?;
                match target {
                    Value::List(l) => {
                        self.charge(ELEM)?;
                        l.borrow_mut().push(v);
                    }
                    other => return Err(self.wrong(code, "list", other.type_name())),
                }
                self.grow_top(h)?;
            }
            op::APPENDS => {
                let items = self.pop_mark(code)?;
                let (vals, h) = self.values(code, items)?;
                match self.top_value(code)? {
                    Value::List(l) => {
                        self.charge(vals.len() * ELEM)?;
                        l.borrow_mut().extend(vals);
                    }
                    other => return Err(self.wrong(code, "list", other.type_name())),
                }
                self.grow_top(h)?;
            }
            op::EMPTY_DICT => {
                let d = self.new_dict()?;
                self.push_v(Value::Dict(d), 1)?;
            }
            op::DICT => {
                let items = self.pop_mark(code)?;
                let (vals, h) = self.values(code, items)?;
                self.check_height(h + 1)?;
                let d = self.new_dict()?;
                self.set_items(code, &d, vals)?;
                self.push_v(Value::Dict(d), h + 1)?;
            }
            op::SETITEM => {
                let (v, vh) = self.pop_value(code)?;
                let (k, kh) = self.pop_value(code)?;
                match self.top_value(code)? {
                    Value::Dict(d) => self.set_items(code, &d, vec![k, v])?,
                    other => return Err(self.wrong(code, "dict", other.type_name())),
                }
                self.grow_top(vh.max(kh))?;
            }
            op::SETITEMS => {
                let items = self.pop_mark(code)?;
                let (vals, h) = self.values(code, items)?;
                match self.top_value(code)? {
                    Value::Dict(d) => self.set_items(code, &d, vals)?,
                    other => return Err(self.wrong(code, "dict", other.type_name())),
                }
                self.grow_top(h)?;
            }
            op::EMPTY_SET => {
                let s = self.new_set(Vec::new())?;
                self.push_v(Value::Set(s), 1)?;
            }
            op::ADDITEMS => {
                let items = self.pop_mark(code)?;
                let (vals, h) = self.values(code, items)?;
                self.grow_top(h)?;
                match self.top_value(code)? {
                    Value::Set(s) => {
                        for v in vals {
                            let k = self.key(v)?;
                            s.borrow_mut().insert(k);
                        }
                    }
                    other => return Err(self.wrong(code, "set", other.type_name())),
                }
            }
            op::FROZENSET => {
                let items = self.pop_mark(code)?;
                let (vals, h) = self.values(code, items)?;
                self.check_height(h + 1)?;
                let s = self.new_set(vals)?;
                self.push_v(Value::FrozenSet(s), h + 1)?;
            }

            // ---- memo ----
            op::PUT => {
                let line = self.line("PUT")?;
                let idx = self.decimal(line, "PUT index")?;
                self.memo_put(idx, code)?;
            }
            op::BINPUT => {
                let idx = self.u8("BINPUT")?;
                self.memo_put(u64::from(idx), code)?;
            }
            op::LONG_BINPUT => {
                let idx = self.u32("LONG_BINPUT")?;
                self.memo_put(u64::from(idx), code)?;
            }
            op::MEMOIZE => {
                let idx = self.memo_len() as u64;
                self.memo_put(idx, code)?;
            }
            op::GET => {
                let line = self.line("GET")?;
                let idx = self.decimal(line, "GET index")?;
                self.memo_get(idx)?;
            }
            op::BINGET => {
                let idx = self.u8("BINGET")?;
                self.memo_get(u64::from(idx))?;
            }
            op::LONG_BINGET => {
                let idx = self.u32("LONG_BINGET")?;
                self.memo_get(u64::from(idx))?;
            }

            // ---- globals and calls ----
            op::GLOBAL | op::INST => {
                let module = self.line("GLOBAL module")?;
                let name = self.line("GLOBAL name")?;
                let class = self.global(module, name)?;
                if code == op::GLOBAL {
                    self.push(Item::Class(class))?;
                } else {
                    let items = self.pop_mark(code)?;
                    let (args, _) = self.values(code, items)?;
                    let args = self.new_seq(args)?;
                    let v = self.instantiate(code, class, args)?;
                    self.push_v(v, 1)?;
                }
            }
            op::STACK_GLOBAL => {
                let (name, _) = self.pop_value(code)?;
                let (module, _) = self.pop_value(code)?;
                let (Value::Str(m), Value::Str(n)) = (&module, &name) else {
                    return Err(self.wrong(code, "two str", "other types"));
                };
                let class = self.global(m.as_surrogatepass_bytes(), n.as_surrogatepass_bytes())?;
                self.push(Item::Class(class))?;
            }
            op::OBJ => {
                let mut items = self.pop_mark(code)?.into_iter();
                let class = match items.next() {
                    Some(Item::Class(c)) => c,
                    Some(Item::V(v, _)) => return Err(self.wrong(code, "a class", v.type_name())),
                    None => return Err(self.underflow(code)),
                };
                let (args, _) = self.values(code, items.collect())?;
                let args = self.new_seq(args)?;
                let v = self.instantiate(code, class, args)?;
                self.push_v(v, 1)?;
            }
            op::REDUCE => {
                let (args, h) = self.pop_value(code)?;
                let Value::Tuple(args) = args else {
                    return Err(self.wrong(code, "an args tuple", args.type_name()));
                };
                let callable = self.pop(code)?;
                let Item::Class(class) = callable else {
                    return Err(self.wrong(code, "a whitelisted callable", "a value"));
                };
                self.check_height(h + 1)?;
                let v = self.call(code, class, args)?;
                self.push_v(v, h + 1)?;
            }
            op::NEWOBJ | op::NEWOBJ_EX => {
                if code == op::NEWOBJ_EX {
                    let (kwargs, _) = self.pop_value(code)?;
                    let empty = matches!(&kwargs, Value::Dict(d) if d.borrow().is_empty());
                    if !empty {
                        return Err(
                            self.bad_call(code, "keyword arguments are not supported".into())
                        );
                    }
                }
                let (args, h) = self.pop_value(code)?;
                let Value::Tuple(args) = args else {
                    return Err(self.wrong(code, "an args tuple", args.type_name()));
                };
                let Item::Class(class) = self.pop(code)? else {
                    return Err(self.wrong(code, "a class", "a value"));
                };
                self.check_height(h + 1)?;
                let v = self.instantiate(code, class, args)?;
                self.push_v(v, h + 1)?;
            }
            op::BUILD => {
                let (state, h) = self.pop_value(code)?;
                self.grow_top(h)?;
                let target = self.top_value(code)?;
                let Value::Exception(e) = target else {
                    return Err(self.wrong(code, "an exception", target.type_name()));
                };
                match state {
                    Value::None => {}
                    Value::Dict(new) => {
                        let old = e.borrow().state.clone();
                        match old {
                            // A second BUILD updates the attributes, as __setstate__ does.
                            Some(Value::Dict(old)) if !old.ptr_eq(&new) => {
                                let add: Vec<_> = new
                                    .borrow()
                                    .iter()
                                    .map(|(k, v)| (k.clone(), v.clone()))
                                    .collect();
                                self.charge(add.len() * 2 * ELEM)?;
                                old.borrow_mut().extend(add);
                            }
                            _ => e.borrow_mut().state = Some(Value::Dict(new)),
                        }
                    }
                    other => return Err(self.wrong(code, "a state dict", other.type_name())),
                }
            }

            // ---- refused ----
            op::PERSID => {
                self.line("PERSID")?;
                return Err(PickleError::PersistentId {
                    offset: self.op_start,
                });
            }
            op::BINPERSID => {
                return Err(PickleError::PersistentId {
                    offset: self.op_start,
                })
            }
            op::EXT1 | op::EXT2 | op::EXT4 => {
                let c = match code {
                    op::EXT1 => u32::from(self.u8("EXT1")?),
                    op::EXT2 => u32::from(u16::from_le_bytes(self.array("EXT2")?)),
                    _ => self.u32("EXT4")?,
                };
                return Err(PickleError::Extension {
                    offset: self.op_start,
                    code: c,
                });
            }
            other => {
                return Err(PickleError::UnknownOpcode {
                    offset: self.op_start,
                    opcode: other,
                })
            }
        }
        Ok(())
    }

    fn push_tuple(&mut self, code: u8, items: Vec<Item>) -> Result<()> {
        let (vals, h) = self.values(code, items)?;
        self.check_height(h + 1)?;
        let t = self.new_seq(vals)?;
        self.push_v(Value::Tuple(t), h + 1)
    }

    fn set_items(&mut self, code: u8, d: &Obj<DictMap>, vals: Vec<Value>) -> Result<()> {
        if !vals.len().is_multiple_of(2) {
            return Err(self.bad_call(code, "odd number of items".into()));
        }
        d.borrow_mut().reserve(vals.len() / 2);
        let mut it = vals.into_iter();
        while let (Some(k), Some(v)) = (it.next(), it.next()) {
            let k = self.key(k)?;
            self.charge(ELEM + 16)?;
            d.borrow_mut().insert(k, v);
        }
        Ok(())
    }

    fn bad_call(&self, code: u8, reason: String) -> PickleError {
        PickleError::BadCall {
            offset: self.op_start,
            opcode: op::name(code),
            reason,
        }
    }

    fn global(&self, module: &[u8], name: &[u8]) -> Result<Class> {
        let (m, n) = (
            String::from_utf8_lossy(module),
            String::from_utf8_lossy(name),
        );
        resolve_global(&m, &n, self.proto < 3).ok_or_else(|| PickleError::ForbiddenGlobal {
            offset: self.op_start,
            module: m.chars().take(200).collect(),
            name: n.chars().take(200).collect(),
        })
    }

    /// `cls(*args)` / `cls.__new__(cls, *args)` for a class: only exceptions make sense.
    fn instantiate(&mut self, code: u8, class: Class, args: Obj<Vec<Value>>) -> Result<Value> {
        match class {
            Class::Exception(name) => self.new_exception(name, args),
            other => Err(self.bad_call(code, format!("cannot instantiate {}", other.describe()))),
        }
    }

    /// REDUCE: the whitelisted callables, with exactly the argument shapes Python writes.
    fn call(&mut self, code: u8, class: Class, args_node: Obj<Vec<Value>>) -> Result<Value> {
        if let Class::Exception(name) = class {
            return self.new_exception(name, args_node);
        }
        let args = args_node.borrow().clone();
        let bad = |d: &Self, what: &str| d.bad_call(code, format!("{}{}", class.describe(), what));
        match (class, args.as_slice()) {
            (Class::Exception(name), _) => self.new_exception(name, args_node.clone()),
            (Class::Set | Class::FrozenSet, []) => {
                let s = self.new_set(Vec::new())?;
                Ok(if class == Class::Set {
                    Value::Set(s)
                } else {
                    Value::FrozenSet(s)
                })
            }
            (Class::Set | Class::FrozenSet, [iterable]) => {
                let items: Vec<Value> = match iterable {
                    Value::List(l) | Value::Tuple(l) => l.borrow().clone(),
                    Value::Set(s) | Value::FrozenSet(s) => {
                        s.borrow().iter().map(|k| k.value().clone()).collect()
                    }
                    _ => return Err(bad(self, "() needs a list")),
                };
                self.charge(items.len() * ELEM)?;
                let s = self.new_set(items)?;
                Ok(if class == Class::Set {
                    Value::Set(s)
                } else {
                    Value::FrozenSet(s)
                })
            }
            (Class::Bytes, []) => self.new_bytes(b""),
            (Class::Bytes, [Value::Bytes(b)]) => Ok(Value::Bytes(b.clone())),
            (Class::ByteArray, []) => {
                self.charge(NODE)?;
                Ok(Value::ByteArray(Obj::new(Vec::new())))
            }
            (Class::ByteArray, [Value::Bytes(b)]) => {
                self.charge(NODE + b.len())?;
                Ok(Value::ByteArray(Obj::new(b.to_vec())))
            }
            (Class::ByteArray, [Value::Str(s), Value::Str(enc)])
            | (Class::CodecsEncode, [Value::Str(s), Value::Str(enc)]) => {
                if !matches!(
                    enc.as_str(),
                    Some("latin1" | "latin-1" | "latin_1" | "iso-8859-1")
                ) {
                    return Err(bad(self, "() only accepts latin-1 here"));
                }
                self.charge(NODE + s.as_surrogatepass_bytes().len())?;
                let bytes: Option<Vec<u8>> =
                    s.code_points().map(|c| u8::try_from(c).ok()).collect();
                let bytes = bytes.ok_or_else(|| bad(self, "(): str is not latin-1"))?;
                Ok(if class == Class::ByteArray {
                    Value::ByteArray(Obj::new(bytes))
                } else {
                    Value::Bytes(Rc::from(bytes))
                })
            }
            (Class::Reconstructor, [cls, base, state]) => {
                // copyreg._reconstructor(cls, base, state) = base.__new__(cls[, state]).
                let _ = (cls, base, state);
                Err(bad(self, "(): no whitelisted class uses it"))
            }
            _ => Err(bad(self, "(): unsupported arguments")),
        }
    }

    // ---- after STOP ------------------------------------------------------------------

    /// Turns back edges into weak references, checks the real nesting depth, and empties
    /// every container that is not part of the result (so garbage cycles do not leak).
    fn finish(&mut self, root: Value) -> Result<Value> {
        if !self.aliased {
            // A tree: no cycles to break, no garbage cycles, heights already checked.
            self.made.clear();
            return Ok(root);
        }
        enum Color {
            OnPath,
            Done(u32),
        }
        struct Frame {
            node: Value,
            next: usize,
            height: u32,
        }
        fn child(node: &Value, i: usize) -> Option<Option<Value>> {
            // Some(Some(v)) = a child; Some(None) = a slot that is not a value (skip);
            // None = no more children.
            match node {
                Value::Tuple(o) | Value::List(o) => o.borrow().get(i).cloned().map(Some),
                Value::Dict(o) => {
                    let d = o.borrow();
                    d.get_index(i / 2).map(|(k, v)| {
                        Some(if i.is_multiple_of(2) {
                            k.value().clone()
                        } else {
                            v.clone()
                        })
                    })
                }
                Value::Set(o) | Value::FrozenSet(o) => {
                    o.borrow().get_index(i).map(|k| Some(k.value().clone()))
                }
                Value::Exception(o) => {
                    let e = o.borrow();
                    match i {
                        0 => Some(Some(Value::Tuple(e.args.clone()))),
                        1 => Some(e.state.clone()),
                        _ => None,
                    }
                }
                _ => None,
            }
        }
        /// Replaces slot `i` of `node` by a weak reference; false if that slot cannot hold
        /// one (an exception's args tuple).
        fn weaken(node: &Value, i: usize, weak: Value) -> bool {
            match node {
                Value::Tuple(o) | Value::List(o) => {
                    if let Some(slot) = o.borrow_mut().get_mut(i) {
                        *slot = weak;
                    }
                    true
                }
                Value::Dict(o) if i % 2 == 1 => {
                    if let Some((_, v)) = o.borrow_mut().get_index_mut(i / 2) {
                        *v = weak;
                    }
                    true
                }
                Value::Exception(o) if i == 1 => {
                    o.borrow_mut().state = Some(weak);
                    true
                }
                // Keys and set elements are hashable, hence acyclic: never a back edge.
                _ => false,
            }
        }
        fn is_container(v: &Value) -> bool {
            matches!(
                v,
                Value::Tuple(_)
                    | Value::List(_)
                    | Value::Dict(_)
                    | Value::Set(_)
                    | Value::FrozenSet(_)
                    | Value::Exception(_)
            )
        }

        let mut colors: FxHashMap<usize, Color> = FxHashMap::default();
        let mut frames: Vec<Frame> = Vec::new();
        if is_container(&root) {
            if let Some(a) = root.node_addr() {
                colors.insert(a, Color::OnPath);
            }
            frames.push(Frame {
                node: root.clone(),
                next: 0,
                height: 1,
            });
        }
        while let Some(frame) = frames.last_mut() {
            let i = frame.next;
            frame.next += 1;
            match child(&frame.node, i) {
                None => {
                    let (node, h) = (frame.node.clone(), frame.height);
                    frames.pop();
                    if h as usize > self.limits.max_depth {
                        self.op_start = self.pos.saturating_sub(1);
                        return Err(PickleError::TooDeep {
                            offset: self.op_start,
                            limit: self.limits.max_depth,
                        });
                    }
                    if let Some(a) = node.node_addr() {
                        colors.insert(a, Color::Done(h));
                    }
                    if let Some(parent) = frames.last_mut() {
                        parent.height = parent.height.max(h + 1);
                    }
                }
                Some(None) => {}
                Some(Some(c)) => {
                    if !is_container(&c) {
                        continue;
                    }
                    let Some(addr) = c.node_addr() else { continue };
                    match colors.get(&addr) {
                        Some(Color::OnPath) => {
                            let weak = c.downgrade().map(Value::Recursive);
                            if !weak.is_some_and(|w| weaken(&frame.node, i, w)) {
                                return Err(PickleError::BadCall {
                                    offset: self.pos.saturating_sub(1),
                                    opcode: "STOP",
                                    reason: "an exception whose args tuple contains the pickled root is not supported".into(),
                                });
                            }
                        }
                        Some(Color::Done(h)) => frame.height = frame.height.max(h + 1),
                        None => {
                            colors.insert(addr, Color::OnPath);
                            frames.push(Frame {
                                node: c,
                                next: 0,
                                height: 1,
                            });
                        }
                    }
                }
            }
        }
        // Empty everything the result does not reach.
        let made = mem::take(&mut self.made);
        let (keep, unreachable): (Vec<Made>, Vec<Made>) = made.into_iter().partition(|m| {
            let a = match m {
                Made::Seq(o) => o.addr(),
                Made::Dict(o) => o.addr(),
                Made::Set(o) => o.addr(),
                Made::Exc(o) => o.addr(),
            };
            colors.contains_key(&a)
        });
        drop(keep);
        self.made = unreachable;
        self.break_all();
        Ok(root)
    }

    /// Empties every tracked container before any is freed, so dropping the decoder's
    /// leftovers never recurses deeply and never leaks a cycle.
    fn break_all(&mut self) {
        let made = mem::take(&mut self.made);
        let mut garbage: Vec<Value> = Vec::new();
        for m in &made {
            match m {
                Made::Seq(o) => garbage.append(&mut o.borrow_mut()),
                Made::Dict(o) => {
                    for (k, v) in mem::take(&mut *o.borrow_mut()) {
                        garbage.push(k.into_value());
                        garbage.push(v);
                    }
                }
                Made::Set(o) => garbage.extend(
                    mem::take(&mut *o.borrow_mut())
                        .into_iter()
                        .map(Key::into_value),
                ),
                Made::Exc(o) => garbage.extend(o.borrow_mut().state.take()),
            }
        }
        self.stack.clear();
        self.memo.clear();
        self.sparse_memo.clear();
        drop(garbage);
        drop(made);
    }
}

fn hex(c: u8) -> Option<u32> {
    char::from(c).to_digit(16)
}

/// Python's `raw_unicode_escape` decoder: bytes are Latin-1 code points, except that
/// `\uXXXX` / `\UXXXXXXXX` preceded by an odd number of backslashes are escapes.
fn raw_unicode_escape(b: &[u8]) -> Option<Vec<u32>> {
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            out.push(u32::from(b[i]));
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && b[i] == b'\\' {
            i += 1;
        }
        let run = i - start;
        let escape = run % 2 == 1 && matches!(b.get(i), Some(b'u' | b'U'));
        let literal = if escape { run - 1 } else { run };
        out.extend(std::iter::repeat_n(u32::from(b'\\'), literal));
        if escape {
            let count = if b[i] == b'u' { 4 } else { 8 };
            let digits = b.get(i + 1..i + 1 + count)?;
            let cp = digits
                .iter()
                .try_fold(0u32, |acc, &c| Some(acc * 16 + hex(c)?))?;
            if cp > 0x10ffff {
                return None;
            }
            out.push(cp);
            i += 1 + count;
        }
    }
    Some(out)
}

/// Python's `codecs.escape_decode`, for protocol-0 STRING (Python 2 str) arguments.
fn escape_decode(b: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        i += 1;
        if c != b'\\' {
            out.push(c);
            continue;
        }
        let e = *b.get(i)?;
        i += 1;
        match e {
            b'\n' => {}
            b'\\' | b'\'' | b'"' => out.push(e),
            b'a' => out.push(7),
            b'b' => out.push(8),
            b'f' => out.push(12),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'v' => out.push(11),
            b'x' => {
                let h = b.get(i..i + 2)?;
                out.push(u8::try_from(hex(h[0])? * 16 + hex(h[1])?).ok()?);
                i += 2;
            }
            b'0'..=b'7' => {
                let mut v = u32::from(e - b'0');
                for _ in 0..2 {
                    match b.get(i) {
                        Some(&d @ b'0'..=b'7') => {
                            v = v * 8 + u32::from(d - b'0');
                            i += 1;
                        }
                        _ => break,
                    }
                }
                out.push((v & 0xff) as u8);
            }
            other => {
                out.push(b'\\');
                out.push(other);
            }
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(b: &[u8]) -> std::result::Result<Value, PickleError> {
        super::loads(b, &Limits::default())
    }

    #[test]
    fn raw_unicode_escape_follows_python() {
        // b'\\\\u0041'.decode('raw_unicode_escape') == '\\\\u0041' (even backslashes: literal)
        let cps = |b: &[u8]| raw_unicode_escape(b).map(|v| v.into_iter().collect::<Vec<_>>());
        assert_eq!(
            cps(b"\\\\u0041"),
            Some(b"\\\\u0041".iter().map(|&c| u32::from(c)).collect())
        );
        assert_eq!(
            cps(b"\\u0041\\U0001f600\xe9"),
            Some(vec![0x41, 0x1f600, 0xe9])
        );
        assert_eq!(cps(b"a\\x"), Some(vec![0x61, 0x5c, 0x78]));
        assert_eq!(cps(b"\\u12"), None);
        assert_eq!(cps(b"\\U00110000"), None);
    }

    #[test]
    fn python2_pickles() {
        // Python 2: pickle.dumps(['a', u'\xe9', 1L, 2.5, ('x',)], 0) and protocol 2.
        let p0 = b"(lp0\nS'a'\np1\naVe\\u00e9\np2\naL1L\naF2.5\na(S'x'\np3\ntp4\na.";
        let v = load(p0).unwrap();
        assert_eq!(format!("{v:?}"), "['a', 'e\u{e9}', 1, 2.5, ('x',)]");
        let p2 = b"\x80\x02]q\x00(U\x01aq\x01X\x02\x00\x00\x00\xc3\xa9q\x02\x8a\x01\x01e.";
        assert_eq!(format!("{:?}", load(p2).unwrap()), "['a', '\u{e9}', 1]");
        // exceptions.KeyError and __builtin__.set are mapped below protocol 3 only.
        assert!(load(b"\x80\x02cexceptions\nKeyError\nU\x01k\x85R.").is_ok());
        assert!(load(b"\x80\x02c__builtin__\nset\n]\x85R.").is_ok());
        assert!(matches!(
            load(b"\x80\x04cexceptions\nKeyError\n)R."),
            Err(PickleError::ForbiddenGlobal { .. })
        ));
        assert_eq!(escape_decode(b"\\x41\\n\\101\\'"), Some(b"A\nA'".to_vec()));
    }

    #[test]
    fn text_ints_and_bools() {
        assert_eq!(load(b"I01\n.").unwrap(), Value::Bool(true));
        assert_eq!(load(b"I00\n.").unwrap(), Value::Bool(false));
        assert_eq!(load(b"I-12\n.").unwrap(), Value::Int(-12));
        assert_eq!(
            load(b"L18446744073709551616L\n.").unwrap(),
            Value::int(BigInt::from(1u8) << 64usize)
        );
        assert!(load(b"I\n.").is_err());
        assert!(load(b"I+-1\n.").is_err());
    }

    /// A self-referential list that is built and then dropped from the result: the
    /// decoder must empty it, or the Rc cycle would outlive `loads`.
    #[test]
    fn garbage_cycles_do_not_leak() {
        for (data, ok) in [
            (&b"\x80\x04]\x94h\x00a0N."[..], true),
            (b"\x80\x04]\x94h\x00a0", false),
        ] {
            let limits = Limits::default();
            let mut d = Decoder::new(data, &limits);
            let result = d.run();
            let Some(Made::Seq(list)) = d.made.first() else {
                panic!("no list made")
            };
            let weak = list.downgrade();
            let result = result.and_then(|root| d.finish(root));
            if result.is_err() {
                d.break_all();
            }
            assert_eq!(result.is_ok(), ok);
            drop(result);
            drop(d);
            assert!(weak.upgrade().is_none(), "cycle leaked");
        }
    }
}
