//! The value model: what a pickle decodes to and what [`dumps`](super::dumps) writes.
//!
//! # Identity
//!
//! Python pickles objects, not trees: the memo lets one object appear in several places,
//! and a mutable container may contain itself. `Value` keeps that identity with [`Rc`]:
//! every memoizable value (str, bytes, bytearray, tuple, list, dict, set, frozenset,
//! exception) is a reference-counted node, and cloning a `Value` clones the *reference*, as
//! Python's `b = a` does. [`dumps`](super::dumps) writes a node it has already written as a
//! memo GET, exactly as CPython does, so sharing round-trips and a decoded DAG is never
//! expanded into copies (a 20 KB "memo bomb" stays 20 KB in memory).
//!
//! Containers use [`RefCell`] (through [`Obj`]) so the decoder can fill them after they were
//! memoized, as Python does. Cycles would leak with strong references only, so the decoder
//! turns each *back edge* of the decoded graph (an edge to a node that is its own ancestor,
//! in the order `dumps` walks the value) into a [`Value::Recursive`] holding a [`Weak`]
//! reference. The strong edges form a DAG, nothing leaks, and every node stays alive as long
//! as the value returned by `loads` does. A `Recursive` whose target was dropped (because you
//! kept only a part of a recursive value) upgrades to `None` and is written as `None`.
//!
//! # Equality and hashing
//!
//! * `==` on `Value` is strict "same pickled value" equality: the same variant (except that
//!   `Int` and `BigInt` compare by numeric value), floats compared **by bit pattern** (so a NaN
//!   equals itself and `0.0 != -0.0`), containers compared structurally, dicts and sets
//!   regardless of order. It is defined for recursive and shared values (it compares graphs:
//!   a pair of nodes already under comparison is assumed equal), so it always terminates
//!   and costs time linear in the number of distinct node pairs.
//! * Dict keys and set elements are [`Key`]s, which follow Python's rules: `1`, `1.0` and
//!   `True` are the same key, as are `0.0` and `-0.0`; NaN is never equal to anything.
//!   Only immutable values are hashable: None, bool, int, float, str, bytes, and tuples and
//!   frozensets of hashables. Exceptions are hashable in Python (by identity) but are
//!   refused as keys here, which keeps every key acyclic.
//! * Tuple and frozenset hashes are cached in the node (cleared by [`Obj::borrow_mut`]); do
//!   not mutate a tuple that is used as a key, just as you would not in Python.
//!
//! # Strings
//!
//! A Python `str` may hold lone surrogates (`'\ud800'`), which Rust's `str` cannot. [`PyStr`]
//! stores a `Rc<str>` when the text is valid Unicode, and otherwise the bytes Python's
//! `str.encode('utf-8', 'surrogatepass')` produces — which is also what pickle puts on the
//! wire, so both directions are copy-only. [`PyStr::as_str`] returns `None` for those;
//! [`PyStr::to_string_lossy`] and [`PyStr::code_points`] always work.
//!
//! `Value` is deliberately `!Send` (it is built on `Rc`): decode, handle and encode a message
//! between two `.await`s, then send the bytes.

use std::borrow::Cow;
use std::cell::{Cell, Ref, RefCell, RefMut};
use std::collections::hash_map::RandomState;
use std::collections::HashSet;
use std::fmt::{self, Write as _};
use std::hash::{BuildHasher, BuildHasherDefault, Hash, Hasher};
use std::rc::{Rc, Weak};
use std::sync::OnceLock;

use indexmap::{IndexMap, IndexSet};
use num_bigint::BigInt;

/// An ordered dict, keyed by Python's rules (see [`Key`]). Insertion order is kept, as in
/// Python 3.7+. (The map's own hasher only mixes [`Key`]'s hash, which is already a
/// per-process keyed SipHash, so collisions cannot be aimed at.)
pub type DictMap = IndexMap<Key, Value, BuildHasherDefault<FxHasher>>;
/// An ordered set, keyed by Python's rules. Order is the order elements were added (for a
/// decoded set, the order Python iterated it when pickling).
pub type SetMap = IndexSet<Key, BuildHasherDefault<FxHasher>>;

/// A fast multiplicative hasher for keys that are already well mixed or not chosen by a
/// peer (node addresses, [`Key`]'s keyed hash).
#[derive(Default, Clone, Copy)]
pub struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(b));
        }
    }
    fn write_u64(&mut self, i: u64) {
        self.0 = (self.0.rotate_left(5) ^ i).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_usize(&mut self, i: usize) {
        self.write_u64(i as u64);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// A `HashMap` keyed by something a peer does not choose.
pub(crate) type FxHashMap<K, V> = std::collections::HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// A shared, mutable node: `Rc<RefCell<T>>` plus a cached hash. Cloning clones the
/// reference (the same Python object), like Python assignment.
pub struct Obj<T>(Rc<ObjInner<T>>);

struct ObjInner<T> {
    data: RefCell<T>,
    hash: Cell<Option<u64>>,
}

impl<T> Obj<T> {
    /// A new node (a new Python object identity).
    pub fn new(data: T) -> Self {
        Obj(Rc::new(ObjInner {
            data: RefCell::new(data),
            hash: Cell::new(None),
        }))
    }
    /// Shared access to the contents. Panics only if a `borrow_mut` of the same node is live.
    pub fn borrow(&self) -> Ref<'_, T> {
        self.0.data.borrow()
    }
    /// Mutable access; forgets the cached hash.
    pub fn borrow_mut(&self) -> RefMut<'_, T> {
        self.0.hash.set(None);
        self.0.data.borrow_mut()
    }
    /// Whether both are the same node (Python's `is`).
    pub fn ptr_eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }
    /// A weak reference to this node, for building recursive values by hand.
    pub fn downgrade(&self) -> WeakObj<T> {
        WeakObj(Rc::downgrade(&self.0))
    }
    /// The node's address, its identity while it is alive.
    pub(crate) fn addr(&self) -> usize {
        Rc::as_ptr(&self.0) as *const () as usize
    }
    /// Whether anything besides this handle refers to the node.
    pub(crate) fn is_shared(&self) -> bool {
        Rc::strong_count(&self.0) > 1 || Rc::weak_count(&self.0) > 0
    }
    pub(crate) fn cached_hash(&self, compute: impl FnOnce(&T) -> u64) -> u64 {
        if let Some(h) = self.0.hash.get() {
            return h;
        }
        let h = compute(&self.0.data.borrow());
        self.0.hash.set(Some(h));
        h
    }
}

impl<T> Clone for Obj<T> {
    fn clone(&self) -> Self {
        Obj(Rc::clone(&self.0))
    }
}

/// A weak reference to an [`Obj`] node; see [`Value::Recursive`].
pub struct WeakObj<T>(Weak<ObjInner<T>>);

impl<T> WeakObj<T> {
    /// The node, if it is still alive.
    pub fn upgrade(&self) -> Option<Obj<T>> {
        self.0.upgrade().map(Obj)
    }
    pub(crate) fn addr(&self) -> usize {
        Weak::as_ptr(&self.0) as *const () as usize
    }
}

impl<T> Clone for WeakObj<T> {
    fn clone(&self) -> Self {
        WeakObj(Weak::clone(&self.0))
    }
}

/// A Python exception object, as pickled by `BaseException.__reduce__`:
/// `class(*args)` and, when the exception had attributes, a `state` dict applied by BUILD.
#[derive(Clone)]
pub struct PyException {
    /// The builtins class name, e.g. `"KeyError"`. Written as `builtins.<class>`.
    pub class: String,
    /// `exc.args`: a tuple node, shared as Python shares it (CPython folds equal constant
    /// tuples, so two exceptions raised with the same literal args share one tuple).
    pub args: Obj<Vec<Value>>,
    /// `exc.__dict__` when it exists (the BUILD state), usually a [`Value::Dict`].
    pub state: Option<Value>,
}

/// A Python `str`. See the module docs for how lone surrogates are kept.
#[derive(Clone)]
pub struct PyStr(StrRepr);

#[derive(Clone)]
enum StrRepr {
    Utf8(Rc<str>),
    /// Generalized UTF-8 with at least one surrogate code point (ED A0..BF xx).
    Surrogates(Rc<[u8]>),
}

impl PyStr {
    /// A str holding `s`.
    pub fn new(s: &str) -> Self {
        PyStr(StrRepr::Utf8(Rc::from(s)))
    }
    /// Decodes `bytes` as Python's `bytes.decode('utf-8', 'surrogatepass')` does; `None` if
    /// that would raise.
    pub fn from_surrogatepass(bytes: &[u8]) -> Option<Self> {
        match std::str::from_utf8(bytes) {
            Ok(s) => Some(PyStr::new(s)),
            Err(_) if valid_surrogatepass(bytes) => {
                Some(PyStr(StrRepr::Surrogates(Rc::from(bytes))))
            }
            Err(_) => None,
        }
    }
    /// A str from code points (each ≤ 0x10FFFF; surrogates allowed); `None` otherwise.
    pub fn from_code_points(cps: impl IntoIterator<Item = u32>) -> Option<Self> {
        let mut out = Vec::new();
        for cp in cps {
            push_code_point(&mut out, cp)?;
        }
        PyStr::from_surrogatepass(&out)
    }
    /// The text, if it holds no lone surrogates.
    pub fn as_str(&self) -> Option<&str> {
        match &self.0 {
            StrRepr::Utf8(s) => Some(s),
            StrRepr::Surrogates(_) => None,
        }
    }
    /// The text with each surrogate replaced by U+FFFD.
    pub fn to_string_lossy(&self) -> Cow<'_, str> {
        match &self.0 {
            StrRepr::Utf8(s) => Cow::Borrowed(s),
            StrRepr::Surrogates(_) => Cow::Owned(
                self.code_points()
                    .map(|c| char::from_u32(c).unwrap_or('\u{fffd}'))
                    .collect(),
            ),
        }
    }
    /// `s.encode('utf-8', 'surrogatepass')`: the bytes pickle writes.
    pub fn as_surrogatepass_bytes(&self) -> &[u8] {
        match &self.0 {
            StrRepr::Utf8(s) => s.as_bytes(),
            StrRepr::Surrogates(b) => b,
        }
    }
    /// Whether the str holds lone surrogates (and so `as_str` is `None`).
    pub fn has_surrogates(&self) -> bool {
        matches!(self.0, StrRepr::Surrogates(_))
    }
    /// The code points, as Python's `map(ord, s)`.
    pub fn code_points(&self) -> impl Iterator<Item = u32> + '_ {
        CodePoints(self.as_surrogatepass_bytes())
    }
    /// Python's `len(s)`.
    pub fn len(&self) -> usize {
        match &self.0 {
            StrRepr::Utf8(s) => s.chars().count(),
            StrRepr::Surrogates(_) => self.code_points().count(),
        }
    }
    /// Whether `len(s) == 0`.
    pub fn is_empty(&self) -> bool {
        self.as_surrogatepass_bytes().is_empty()
    }
    pub(crate) fn is_shared(&self) -> bool {
        match &self.0 {
            StrRepr::Utf8(s) => Rc::strong_count(s) > 1 || Rc::weak_count(s) > 0,
            StrRepr::Surrogates(b) => Rc::strong_count(b) > 1 || Rc::weak_count(b) > 0,
        }
    }
    pub(crate) fn addr(&self) -> usize {
        match &self.0 {
            StrRepr::Utf8(s) => Rc::as_ptr(s) as *const u8 as usize,
            StrRepr::Surrogates(b) => Rc::as_ptr(b) as *const u8 as usize,
        }
    }
}

impl PartialEq for PyStr {
    fn eq(&self, other: &Self) -> bool {
        self.as_surrogatepass_bytes() == other.as_surrogatepass_bytes()
    }
}
impl Eq for PyStr {}

impl fmt::Debug for PyStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        repr_str(&mut out, self);
        f.write_str(&out)
    }
}

struct CodePoints<'a>(&'a [u8]);

impl Iterator for CodePoints<'_> {
    type Item = u32;
    fn next(&mut self) -> Option<u32> {
        let (&b0, rest) = self.0.split_first()?;
        let (len, init) = match b0 {
            0x00..=0x7f => (1, u32::from(b0)),
            0xc0..=0xdf => (2, u32::from(b0 & 0x1f)),
            0xe0..=0xef => (3, u32::from(b0 & 0x0f)),
            _ => (4, u32::from(b0 & 0x07)),
        };
        let take = (len - 1).min(rest.len());
        let cp = rest[..take]
            .iter()
            .fold(init, |acc, &b| (acc << 6) | u32::from(b & 0x3f));
        self.0 = &rest[take..];
        Some(cp)
    }
}

fn push_code_point(out: &mut Vec<u8>, cp: u32) -> Option<()> {
    match cp {
        0..=0x7f => out.push(cp as u8),
        0x80..=0x7ff => out.extend_from_slice(&[0xc0 | (cp >> 6) as u8, 0x80 | (cp & 0x3f) as u8]),
        0x800..=0xffff => out.extend_from_slice(&[
            0xe0 | (cp >> 12) as u8,
            0x80 | ((cp >> 6) & 0x3f) as u8,
            0x80 | (cp & 0x3f) as u8,
        ]),
        0x10000..=0x10ffff => out.extend_from_slice(&[
            0xf0 | (cp >> 18) as u8,
            0x80 | ((cp >> 12) & 0x3f) as u8,
            0x80 | ((cp >> 6) & 0x3f) as u8,
            0x80 | (cp & 0x3f) as u8,
        ]),
        _ => return None,
    }
    Some(())
}

/// UTF-8 validity with surrogate code points (ED A0..BF) allowed, as `surrogatepass`.
pub(crate) fn valid_surrogatepass(b: &[u8]) -> bool {
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let (len, lo, hi) = match c {
            0x00..=0x7f => {
                i += 1;
                continue;
            }
            0xc2..=0xdf => (2, 0x80, 0xbf),
            0xe0 => (3, 0xa0, 0xbf),
            0xe1..=0xef => (3, 0x80, 0xbf),
            0xf0 => (4, 0x90, 0xbf),
            0xf1..=0xf3 => (4, 0x80, 0xbf),
            0xf4 => (4, 0x80, 0x8f),
            _ => return false,
        };
        let Some(seq) = b.get(i..i + len) else {
            return false;
        };
        if !(lo..=hi).contains(&seq[1]) || seq[2..].iter().any(|&x| !(0x80..=0xbf).contains(&x)) {
            return false;
        }
        i += len;
    }
    true
}

/// A weak back edge of a recursive value: the container it points to is one of its own
/// ancestors. Only the decoder makes these (or you, with [`Value::downgrade`]).
#[derive(Clone)]
pub enum Recursive {
    Tuple(WeakObj<Vec<Value>>),
    List(WeakObj<Vec<Value>>),
    Dict(WeakObj<DictMap>),
    Set(WeakObj<SetMap>),
    FrozenSet(WeakObj<SetMap>),
    Exception(WeakObj<PyException>),
}

impl Recursive {
    /// The container, or `None` if it was dropped.
    pub fn upgrade(&self) -> Option<Value> {
        Some(match self {
            Recursive::Tuple(w) => Value::Tuple(w.upgrade()?),
            Recursive::List(w) => Value::List(w.upgrade()?),
            Recursive::Dict(w) => Value::Dict(w.upgrade()?),
            Recursive::Set(w) => Value::Set(w.upgrade()?),
            Recursive::FrozenSet(w) => Value::FrozenSet(w.upgrade()?),
            Recursive::Exception(w) => Value::Exception(w.upgrade()?),
        })
    }
    pub(crate) fn addr(&self) -> usize {
        match self {
            Recursive::Tuple(w) | Recursive::List(w) => w.addr(),
            Recursive::Dict(w) => w.addr(),
            Recursive::Set(w) | Recursive::FrozenSet(w) => w.addr(),
            Recursive::Exception(w) => w.addr(),
        }
    }
}

/// A Python value that pickle can carry. See the module docs for identity, equality and
/// strings.
///
/// ```
/// use netkit::proto::pickle::{Value, dumps, loads, Limits, Protocol};
/// let v = Value::tuple(vec![Value::from("add"), Value::tuple(vec![1.into(), 2.into()])]);
/// let bytes = dumps(&v, Protocol::default());
/// assert_eq!(loads(&bytes, &Limits::default()).unwrap(), v);
/// assert_eq!(format!("{v:?}"), "('add', (1, 2))");
/// ```
#[derive(Clone)]
pub enum Value {
    None,
    Bool(bool),
    /// An int that fits in `i64` (the fast path).
    Int(i64),
    /// Any other int. Constructors normalise ints that fit in `i64` to [`Value::Int`].
    BigInt(Rc<BigInt>),
    Float(f64),
    Str(PyStr),
    Bytes(Rc<[u8]>),
    ByteArray(Obj<Vec<u8>>),
    Tuple(Obj<Vec<Value>>),
    List(Obj<Vec<Value>>),
    Dict(Obj<DictMap>),
    Set(Obj<SetMap>),
    FrozenSet(Obj<SetMap>),
    Exception(Obj<PyException>),
    /// A weak reference to an enclosing container (see the module docs).
    Recursive(Recursive),
}

/// A value that Python could not use as a dict key or set element.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unhashable type: '{0}'")]
pub struct Unhashable(pub &'static str);

impl Value {
    /// A new str.
    pub fn str(s: &str) -> Value {
        Value::Str(PyStr::new(s))
    }
    /// A new bytes object.
    pub fn bytes(b: &[u8]) -> Value {
        Value::Bytes(Rc::from(b))
    }
    /// A new bytearray.
    pub fn bytearray(b: Vec<u8>) -> Value {
        Value::ByteArray(Obj::new(b))
    }
    /// A new tuple.
    pub fn tuple(items: Vec<Value>) -> Value {
        Value::Tuple(Obj::new(items))
    }
    /// A new list.
    pub fn list(items: Vec<Value>) -> Value {
        Value::List(Obj::new(items))
    }
    /// A new dict; later duplicates of a key replace the value, as in Python.
    pub fn dict(items: impl IntoIterator<Item = (Value, Value)>) -> Result<Value, Unhashable> {
        let mut m = DictMap::default();
        for (k, v) in items {
            m.insert(Key::new(k)?, v);
        }
        Ok(Value::Dict(Obj::new(m)))
    }
    /// A new set.
    pub fn set(items: impl IntoIterator<Item = Value>) -> Result<Value, Unhashable> {
        Ok(Value::Set(Obj::new(keys(items)?)))
    }
    /// A new frozenset.
    pub fn frozenset(items: impl IntoIterator<Item = Value>) -> Result<Value, Unhashable> {
        Ok(Value::FrozenSet(Obj::new(keys(items)?)))
    }
    /// A new exception `class(*args)`, e.g. `Value::exception("KeyError", vec!["x".into()])`.
    pub fn exception(class: &str, args: Vec<Value>) -> Value {
        Value::Exception(Obj::new(PyException {
            class: class.to_owned(),
            args: Obj::new(args),
            state: None,
        }))
    }
    /// An int of any size, stored as `Int` when it fits in `i64`.
    pub fn int(i: BigInt) -> Value {
        match i64::try_from(&i) {
            Ok(small) => Value::Int(small),
            Err(_) => Value::BigInt(Rc::new(i)),
        }
    }

    /// Python's `type(v).__name__`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::None => "NoneType",
            Value::Bool(_) => "bool",
            Value::Int(_) | Value::BigInt(_) => "int",
            Value::Float(_) => "float",
            Value::Str(_) => "str",
            Value::Bytes(_) => "bytes",
            Value::ByteArray(_) => "bytearray",
            Value::Tuple(_) => "tuple",
            Value::List(_) => "list",
            Value::Dict(_) => "dict",
            Value::Set(_) => "set",
            Value::FrozenSet(_) => "frozenset",
            Value::Exception(_) => "exception",
            Value::Recursive(r) => r.upgrade().map_or("NoneType", |v| v.type_name()),
        }
    }
    /// Whether this is `None` (a dangling `Recursive` counts as `None`).
    pub fn is_none(&self) -> bool {
        match self {
            Value::None => true,
            Value::Recursive(r) => r.upgrade().is_none(),
            _ => false,
        }
    }
    /// The bool, for `Bool`.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }
    /// The int, for an `Int` (or a `BigInt` that happens to fit).
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            Value::BigInt(b) => i64::try_from(&**b).ok(),
            _ => None,
        }
    }
    /// Any int as a `BigInt` (bools too, as Python's `int(True)`).
    pub fn to_bigint(&self) -> Option<BigInt> {
        match self {
            Value::Int(i) => Some(BigInt::from(*i)),
            Value::BigInt(b) => Some((**b).clone()),
            Value::Bool(b) => Some(BigInt::from(u8::from(*b))),
            _ => None,
        }
    }
    /// The float, for `Float`.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Float(f) => Some(*f),
            _ => None,
        }
    }
    /// The text of a `Str` without lone surrogates.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => s.as_str(),
            _ => None,
        }
    }
    /// The contents of a `Bytes`.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }
    /// The items of a `Tuple` or `List` (cloned references), for quick destructuring.
    pub fn to_items(&self) -> Option<Vec<Value>> {
        match self.resolve().as_ref() {
            Value::Tuple(t) | Value::List(t) => Some(t.borrow().clone()),
            _ => None,
        }
    }
    /// `d[key]` for a `Dict`.
    pub fn get_item(&self, key: &Value) -> Option<Value> {
        match self.resolve().as_ref() {
            Value::Dict(d) => {
                let k = Key::new(key.clone()).ok()?;
                d.borrow().get(&k).cloned()
            }
            _ => None,
        }
    }
    /// A weak [`Recursive`] reference to this container (`None` for scalars).
    pub fn downgrade(&self) -> Option<Recursive> {
        Some(match self {
            Value::Tuple(o) => Recursive::Tuple(o.downgrade()),
            Value::List(o) => Recursive::List(o.downgrade()),
            Value::Dict(o) => Recursive::Dict(o.downgrade()),
            Value::Set(o) => Recursive::Set(o.downgrade()),
            Value::FrozenSet(o) => Recursive::FrozenSet(o.downgrade()),
            Value::Exception(o) => Recursive::Exception(o.downgrade()),
            Value::Recursive(r) => r.clone(),
            _ => return None,
        })
    }
    /// Follows a `Recursive` to its target (a dropped target reads as `None`).
    pub fn resolve(&self) -> Cow<'_, Value> {
        match self {
            Value::Recursive(r) => Cow::Owned(r.upgrade().unwrap_or(Value::None)),
            v => Cow::Borrowed(v),
        }
    }
    /// Whether Python could hash this value (and so use it as a key); see [`Key`].
    pub fn is_hashable(&self) -> bool {
        self.unhashable_part().is_none()
    }
    fn unhashable_part(&self) -> Option<&'static str> {
        match self {
            Value::None
            | Value::Bool(_)
            | Value::Int(_)
            | Value::BigInt(_)
            | Value::Float(_)
            | Value::Str(_)
            | Value::Bytes(_)
            | Value::FrozenSet(_) => None,
            Value::Tuple(t) => t.borrow().iter().find_map(|v| v.unhashable_part()),
            Value::Exception(_) => Some("exception"),
            other => Some(other.type_name()),
        }
    }
    /// Whether another reference to this node may exist (so `dumps` must remember it).
    /// A node held by a single strong reference cannot be met twice in one walk.
    pub(crate) fn is_shared_node(&self) -> bool {
        match self {
            Value::Str(s) => s.is_shared(),
            Value::Bytes(b) => Rc::strong_count(b) > 1 || Rc::weak_count(b) > 0,
            Value::ByteArray(o) => o.is_shared(),
            Value::Tuple(o) | Value::List(o) => o.is_shared(),
            Value::Dict(o) => o.is_shared(),
            Value::Set(o) | Value::FrozenSet(o) => o.is_shared(),
            Value::Exception(o) => o.is_shared(),
            _ => true,
        }
    }
    /// Identity of a memoizable node (`None` for the atoms that pickle never memoizes).
    pub(crate) fn node_addr(&self) -> Option<usize> {
        match self {
            Value::Str(s) => Some(s.addr()),
            Value::Bytes(b) => Some(Rc::as_ptr(b) as *const u8 as usize),
            Value::ByteArray(o) => Some(o.addr()),
            Value::Tuple(o) | Value::List(o) => Some(o.addr()),
            Value::Dict(o) => Some(o.addr()),
            Value::Set(o) | Value::FrozenSet(o) => Some(o.addr()),
            Value::Exception(o) => Some(o.addr()),
            Value::Recursive(r) => Some(r.addr()),
            _ => None,
        }
    }

    /// A Python expression that evaluates to an equal value (Python's `repr`, except that
    /// floats are written as Rust prints them, exceptions without their state, and a
    /// recursive reference as `...`). Shared values are written out in full each time.
    pub fn repr(&self) -> String {
        let mut out = String::new();
        let mut budget = usize::MAX;
        repr_value(&mut out, self, &mut Vec::new(), &mut budget);
        out
    }
}

fn keys(items: impl IntoIterator<Item = Value>) -> Result<SetMap, Unhashable> {
    let mut s = SetMap::default();
    for v in items {
        s.insert(Key::new(v)?);
    }
    Ok(s)
}

macro_rules! from_int {
    ($($t:ty),*) => {$(
        impl From<$t> for Value {
            fn from(i: $t) -> Value { Value::Int(i64::from(i)) }
        }
    )*};
}
from_int!(i8, i16, i32, i64, u8, u16, u32);

impl From<u64> for Value {
    fn from(i: u64) -> Value {
        match i64::try_from(i) {
            Ok(i) => Value::Int(i),
            Err(_) => Value::BigInt(Rc::new(BigInt::from(i))),
        }
    }
}
impl From<BigInt> for Value {
    fn from(i: BigInt) -> Value {
        Value::int(i)
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}
impl From<f64> for Value {
    fn from(f: f64) -> Value {
        Value::Float(f)
    }
}
impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::str(s)
    }
}
impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::Str(PyStr(StrRepr::Utf8(Rc::from(s))))
    }
}
impl From<PyStr> for Value {
    fn from(s: PyStr) -> Value {
        Value::Str(s)
    }
}
impl From<()> for Value {
    fn from(_: ()) -> Value {
        Value::None
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(o: Option<T>) -> Value {
        o.map_or(Value::None, Into::into)
    }
}
impl<T: Into<Value>> From<Vec<T>> for Value {
    /// A list.
    fn from(v: Vec<T>) -> Value {
        Value::list(v.into_iter().map(Into::into).collect())
    }
}

// ---------------------------------------------------------------------------------------
// Keys: Python hashing and equality.

/// A hashable [`Value`] used as a dict key or set element, with Python's equality
/// (`1 == 1.0 == True`) and a hash consistent with it.
#[derive(Clone)]
pub struct Key(Value);

impl Key {
    /// Wraps a hashable value; `Err` names the unhashable type, as Python's TypeError does.
    pub fn new(v: Value) -> Result<Key, Unhashable> {
        match v.unhashable_part() {
            None => Ok(Key(v)),
            Some(t) => Err(Unhashable(t)),
        }
    }
    /// The value.
    pub fn value(&self) -> &Value {
        &self.0
    }
    /// The value, by value.
    pub fn into_value(self) -> Value {
        self.0
    }
}

impl std::ops::Deref for Key {
    type Target = Value;
    fn deref(&self) -> &Value {
        &self.0
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(py_hash(&self.0));
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        py_eq(&self.0, &other.0, &mut None)
    }
}
impl Eq for Key {}

fn key_hasher() -> impl Hasher {
    static STATE: OnceLock<RandomState> = OnceLock::new();
    STATE.get_or_init(RandomState::new).build_hasher()
}

/// A hash consistent with [`py_eq`], independent of any map (so tuples can cache it).
fn py_hash(v: &Value) -> u64 {
    let mut h = key_hasher();
    write_py_hash(v, &mut h);
    h.finish()
}

fn write_int_hash(i: i64, h: &mut impl Hasher) {
    h.write_u8(1);
    h.write_i64(i);
}

fn write_bigint_hash(b: &BigInt, h: &mut impl Hasher) {
    match i64::try_from(b) {
        Ok(i) => write_int_hash(i, h),
        Err(_) => {
            h.write_u8(2);
            let bytes = b.to_signed_bytes_le();
            h.write_usize(bytes.len());
            h.write(&bytes);
        }
    }
}

const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;

fn write_py_hash(v: &Value, h: &mut impl Hasher) {
    match v {
        Value::None => h.write_u8(0),
        Value::Bool(b) => write_int_hash(i64::from(*b), h),
        Value::Int(i) => write_int_hash(*i, h),
        Value::BigInt(b) => write_bigint_hash(b, h),
        Value::Float(f) => {
            if f.is_finite() && f.fract() == 0.0 {
                if (-TWO_POW_63..TWO_POW_63).contains(f) {
                    write_int_hash(*f as i64, h)
                } else if let Some(b) = f64_to_bigint(*f) {
                    write_bigint_hash(&b, h)
                }
            } else {
                h.write_u8(4);
                h.write_u64(f.to_bits());
            }
        }
        Value::Str(s) => {
            h.write_u8(5);
            let b = s.as_surrogatepass_bytes();
            h.write_usize(b.len());
            h.write(b);
        }
        Value::Bytes(b) => {
            h.write_u8(6);
            h.write_usize(b.len());
            h.write(b);
        }
        Value::Tuple(t) => {
            h.write_u8(7);
            h.write_u64(t.cached_hash(|items| {
                let mut th = key_hasher();
                th.write_usize(items.len());
                for item in items {
                    write_py_hash(item, &mut th);
                }
                th.finish()
            }));
        }
        Value::FrozenSet(s) => {
            h.write_u8(8);
            h.write_u64(s.cached_hash(|items| {
                // Order-independent: a frozenset's hash must not depend on insertion order.
                items.iter().fold(items.len() as u64, |acc, k| {
                    acc.wrapping_add(py_hash(k).wrapping_mul(0x9e37_79b9_7f4a_7c15))
                })
            }));
        }
        // Never hashable (Key::new refuses them); a tag keeps a mutated key from panicking.
        other => h.write_usize(other.node_addr().unwrap_or(0)),
    }
}

/// Exact conversion of an integral, finite float.
pub(crate) fn f64_to_bigint(f: f64) -> Option<BigInt> {
    if !f.is_finite() || f.fract() != 0.0 {
        return None;
    }
    let bits = f.to_bits();
    let exp = ((bits >> 52) & 0x7ff) as i64;
    if exp == 0 {
        return Some(BigInt::from(0));
    }
    let mant = (bits & ((1u64 << 52) - 1)) | (1u64 << 52);
    let shift = exp - 1075;
    let mut b = BigInt::from(mant);
    if shift >= 0 {
        b <<= shift as usize;
    } else {
        b >>= (-shift) as usize;
    }
    if bits >> 63 == 1 {
        b = -b;
    }
    Some(b)
}

enum Num<'a> {
    I(i64),
    B(&'a BigInt),
    F(f64),
}

fn as_num(v: &Value) -> Option<Num<'_>> {
    match v {
        Value::Bool(b) => Some(Num::I(i64::from(*b))),
        Value::Int(i) => Some(Num::I(*i)),
        Value::BigInt(b) => Some(Num::B(b)),
        Value::Float(f) => Some(Num::F(*f)),
        _ => None,
    }
}

fn num_eq(a: Num<'_>, b: Num<'_>) -> bool {
    match (a, b) {
        (Num::I(x), Num::I(y)) => x == y,
        (Num::F(x), Num::F(y)) => x == y,
        (Num::B(x), Num::B(y)) => x == y,
        (Num::I(i), Num::B(b)) | (Num::B(b), Num::I(i)) => *b == BigInt::from(i),
        (Num::I(i), Num::F(f)) | (Num::F(f), Num::I(i)) => {
            f.fract() == 0.0 && (-TWO_POW_63..TWO_POW_63).contains(&f) && f as i64 == i
        }
        (Num::B(b), Num::F(f)) | (Num::F(f), Num::B(b)) => {
            f64_to_bigint(f).is_some_and(|x| x == *b)
        }
    }
}

/// Python's `==` for hashable values. `seen` remembers tuple pairs already proven equal so a
/// DAG of tuples is compared in linear time.
fn py_eq(a: &Value, b: &Value, seen: &mut Option<HashSet<(usize, usize)>>) -> bool {
    if let (Some(x), Some(y)) = (as_num(a), as_num(b)) {
        return num_eq(x, y);
    }
    match (a, b) {
        (Value::None, Value::None) => true,
        (Value::Str(x), Value::Str(y)) => x == y,
        (Value::Bytes(x), Value::Bytes(y)) => x == y,
        (Value::Tuple(x), Value::Tuple(y)) => {
            if x.ptr_eq(y) {
                return true;
            }
            let pair = (x.addr(), y.addr());
            if seen.as_ref().is_some_and(|s| s.contains(&pair)) {
                return true;
            }
            let (xs, ys) = (x.borrow(), y.borrow());
            let eq =
                xs.len() == ys.len() && xs.iter().zip(ys.iter()).all(|(p, q)| py_eq(p, q, seen));
            if eq {
                seen.get_or_insert_with(HashSet::new).insert(pair);
            }
            eq
        }
        (Value::FrozenSet(x), Value::FrozenSet(y)) => {
            if x.ptr_eq(y) {
                return true;
            }
            let (xs, ys) = (x.borrow(), y.borrow());
            xs.len() == ys.len() && xs.iter().all(|k| ys.contains(k))
        }
        _ => false,
    }
}

// ---------------------------------------------------------------------------------------
// Strict equality.

impl PartialEq for Value {
    fn eq(&self, other: &Value) -> bool {
        strict_eq(self, other, &mut HashSet::new())
    }
}

type Assumed = HashSet<(usize, usize)>;

// Each level of a deep value costs one `strict_eq` frame plus one small helper frame, so
// the containers live in their own (never inlined) functions.
fn strict_eq(a: &Value, b: &Value, assumed: &mut Assumed) -> bool {
    match (a, b) {
        (Value::Recursive(_), _) | (_, Value::Recursive(_)) => {
            let (a, b) = (a.resolve(), b.resolve());
            strict_eq(&a, &b, assumed)
        }
        (Value::None, Value::None) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Int(_) | Value::BigInt(_), Value::Int(_) | Value::BigInt(_)) => {
            as_num(a).zip(as_num(b)).is_some_and(|(x, y)| num_eq(x, y))
        }
        (Value::Float(x), Value::Float(y)) => x.to_bits() == y.to_bits(),
        (Value::Str(x), Value::Str(y)) => x == y,
        (Value::Bytes(x), Value::Bytes(y)) => x == y,
        (Value::ByteArray(x), Value::ByteArray(y)) => x.ptr_eq(y) || *x.borrow() == *y.borrow(),
        (Value::Tuple(x), Value::Tuple(y)) | (Value::List(x), Value::List(y)) => {
            seq_eq(x, y, assumed)
        }
        (Value::Dict(x), Value::Dict(y)) => dict_eq(x, y, assumed),
        (Value::Set(x), Value::Set(y)) | (Value::FrozenSet(x), Value::FrozenSet(y)) => set_eq(x, y),
        (Value::Exception(x), Value::Exception(y)) => exc_eq(x, y, assumed),
        _ => false,
    }
}

/// Coinduction: a pair of nodes already being compared is assumed equal; any real
/// difference is still found on some other path. True if there is nothing left to check.
fn enter(assumed: &mut Assumed, x: usize, y: usize) -> bool {
    x == y || !assumed.insert((x, y))
}

#[inline(never)]
fn seq_eq(x: &Obj<Vec<Value>>, y: &Obj<Vec<Value>>, assumed: &mut Assumed) -> bool {
    if enter(assumed, x.addr(), y.addr()) {
        return true;
    }
    let (xs, ys) = (x.borrow(), y.borrow());
    xs.len() == ys.len()
        && xs
            .iter()
            .zip(ys.iter())
            .all(|(p, q)| strict_eq(p, q, assumed))
}

fn key_eq(k: &Key, k2: &Key) -> bool {
    strict_eq(k, k2, &mut HashSet::new())
}

#[inline(never)]
fn dict_eq(x: &Obj<DictMap>, y: &Obj<DictMap>, assumed: &mut Assumed) -> bool {
    if enter(assumed, x.addr(), y.addr()) {
        return true;
    }
    let (xs, ys) = (x.borrow(), y.borrow());
    // Keys are acyclic, so they are compared on their own (no assumptions shared with the
    // values, so a failed attempt leaves nothing behind). Same order first: a re-read value
    // keeps its order, and a NaN key can only be matched that way.
    if xs.len() != ys.len() {
        false
    } else if xs.keys().zip(ys.keys()).all(|(k, k2)| key_eq(k, k2)) {
        xs.values()
            .zip(ys.values())
            .all(|(v, v2)| strict_eq(v, v2, assumed))
    } else {
        xs.iter().all(|(k, v)| {
            ys.get_key_value(k)
                .is_some_and(|(k2, v2)| key_eq(k, k2) && strict_eq(v, v2, assumed))
        })
    }
}

#[inline(never)]
fn set_eq(x: &Obj<SetMap>, y: &Obj<SetMap>) -> bool {
    if x.ptr_eq(y) {
        return true;
    }
    let (xs, ys) = (x.borrow(), y.borrow());
    xs.len() == ys.len()
        && (xs.iter().zip(ys.iter()).all(|(k, k2)| key_eq(k, k2))
            || xs.iter().all(|k| ys.get(k).is_some_and(|k2| key_eq(k, k2))))
}

#[inline(never)]
fn exc_eq(x: &Obj<PyException>, y: &Obj<PyException>, assumed: &mut Assumed) -> bool {
    if enter(assumed, x.addr(), y.addr()) {
        return true;
    }
    let (xe, ye) = (x.borrow(), y.borrow());
    xe.class == ye.class
        && seq_eq(&xe.args, &ye.args, assumed)
        && match (&xe.state, &ye.state) {
            (None, None) => true,
            (Some(p), Some(q)) => strict_eq(p, q, assumed),
            _ => false,
        }
}

// ---------------------------------------------------------------------------------------
// repr / Debug.

/// Debug prints the Python repr, cut off after this many nodes (hostile values can be
/// exponentially large when expanded).
const DEBUG_BUDGET: usize = 100_000;

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        let mut budget = DEBUG_BUDGET;
        repr_value(&mut out, self, &mut Vec::new(), &mut budget);
        f.write_str(&out)
    }
}

fn repr_str(out: &mut String, s: &PyStr) {
    let quote = if s.code_points().any(|c| c == u32::from(b'\''))
        && !s.code_points().any(|c| c == u32::from(b'"'))
    {
        '"'
    } else {
        '\''
    };
    out.push(quote);
    for cp in s.code_points() {
        match char::from_u32(cp) {
            Some('\\') => out.push_str("\\\\"),
            Some('\n') => out.push_str("\\n"),
            Some('\r') => out.push_str("\\r"),
            Some('\t') => out.push_str("\\t"),
            Some(c) if c == quote => {
                out.push('\\');
                out.push(c);
            }
            Some(c) if (' '..='~').contains(&c) => out.push(c),
            Some(c) if cp >= 0xa0 && !c.is_control() && !c.is_whitespace() && cp != 0xad => {
                out.push(c)
            }
            _ if cp < 0x100 => {
                let _ = write!(out, "\\x{cp:02x}");
            }
            _ if cp < 0x10000 => {
                let _ = write!(out, "\\u{cp:04x}");
            }
            _ => {
                let _ = write!(out, "\\U{cp:08x}");
            }
        }
    }
    out.push(quote);
}

fn repr_bytes(out: &mut String, b: &[u8]) {
    let quote = if b.contains(&b'\'') && !b.contains(&b'"') {
        b'"'
    } else {
        b'\''
    };
    out.push('b');
    out.push(char::from(quote));
    for &c in b {
        match c {
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(char::from(c));
            }
            b' '..=b'~' => out.push(char::from(c)),
            _ => {
                let _ = write!(out, "\\x{c:02x}");
            }
        }
    }
    out.push(char::from(quote));
}

fn repr_float(out: &mut String, f: f64) {
    if f.is_nan() {
        out.push_str("float('nan')");
    } else if f.is_infinite() {
        out.push_str(if f > 0.0 {
            "float('inf')"
        } else {
            "float('-inf')"
        });
    } else {
        let _ = write!(out, "{f:?}");
    }
}

fn repr_seq<'a>(
    out: &mut String,
    items: impl Iterator<Item = &'a Value>,
    path: &mut Vec<usize>,
    budget: &mut usize,
) -> usize {
    let mut n = 0;
    for (i, v) in items.enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        repr_value(out, v, path, budget);
        n += 1;
    }
    n
}

fn repr_value(out: &mut String, v: &Value, path: &mut Vec<usize>, budget: &mut usize) {
    if *budget == 0 {
        out.push('…');
        return;
    }
    *budget -= 1;
    let resolved = v.resolve();
    let v = resolved.as_ref();
    if let Some(addr) = v.node_addr() {
        if path.contains(&addr) {
            // Python's reprlib-style marker for an object already being printed.
            out.push_str(match v {
                Value::List(_) => "[...]",
                Value::Tuple(_) => "(...)",
                Value::Dict(_) | Value::Set(_) => "{...}",
                _ => "...",
            });
            return;
        }
    }
    match v {
        Value::None => out.push_str("None"),
        Value::Bool(true) => out.push_str("True"),
        Value::Bool(false) => out.push_str("False"),
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::BigInt(b) => {
            let _ = write!(out, "{b}");
        }
        Value::Float(f) => repr_float(out, *f),
        Value::Str(s) => repr_str(out, s),
        Value::Bytes(b) => repr_bytes(out, b),
        Value::ByteArray(b) => {
            out.push_str("bytearray(");
            repr_bytes(out, &b.borrow());
            out.push(')');
        }
        Value::Recursive(_) => out.push_str("None"),
        _ => {
            let addr = v.node_addr().unwrap_or(0);
            path.push(addr);
            match v {
                Value::Tuple(t) => {
                    out.push('(');
                    let n = repr_seq(out, t.borrow().iter(), path, budget);
                    out.push_str(if n == 1 { ",)" } else { ")" });
                }
                Value::List(l) => {
                    out.push('[');
                    repr_seq(out, l.borrow().iter(), path, budget);
                    out.push(']');
                }
                Value::Dict(d) => {
                    out.push('{');
                    for (i, (k, v)) in d.borrow().iter().enumerate() {
                        if i > 0 {
                            out.push_str(", ");
                        }
                        repr_value(out, k, path, budget);
                        out.push_str(": ");
                        repr_value(out, v, path, budget);
                    }
                    out.push('}');
                }
                Value::Set(s) => {
                    let s = s.borrow();
                    if s.is_empty() {
                        out.push_str("set()");
                    } else {
                        out.push('{');
                        repr_seq(out, s.iter().map(|k| k.value()), path, budget);
                        out.push('}');
                    }
                }
                Value::FrozenSet(s) => {
                    let s = s.borrow();
                    out.push_str("frozenset(");
                    if !s.is_empty() {
                        out.push('{');
                        repr_seq(out, s.iter().map(|k| k.value()), path, budget);
                        out.push('}');
                    }
                    out.push(')');
                }
                Value::Exception(e) => {
                    let e = e.borrow();
                    out.push_str(&e.class);
                    out.push('(');
                    repr_seq(out, e.args.borrow().iter(), path, budget);
                    out.push(')');
                }
                _ => {}
            }
            path.pop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_python_equality() {
        let d = Value::dict([
            (Value::Int(1), Value::from("int")),
            (Value::Bool(true), Value::from("bool")),
            (Value::Float(1.0), Value::from("float")),
            (Value::Float(-0.0), Value::from("zero")),
            (Value::Int(0), Value::from("int zero")),
            (Value::int(BigInt::from(1u8) << 70usize), Value::None),
            (Value::Float(2f64.powi(70)), Value::from("big")),
        ])
        .unwrap();
        // Python: {1: 'float', -0.0: 'int zero', 2**70: 'big'}; the first key is kept.
        assert_eq!(
            format!("{d:?}"),
            "{1: 'float', -0.0: 'int zero', 1180591620717411303424: 'big'}"
        );
        assert_eq!(d.get_item(&Value::Bool(true)), Some(Value::from("float")));
        let a = Value::frozenset([Value::Int(1), Value::from("x")]).unwrap();
        let b = Value::frozenset([Value::from("x"), Value::Int(1)]).unwrap();
        assert!(Key::new(a.clone()).unwrap() == Key::new(b).unwrap());
        assert_eq!(
            Key::new(Value::list(vec![])).err(),
            Some(Unhashable("list"))
        );
        assert_eq!(
            Key::new(Value::tuple(vec![Value::list(vec![])])).err(),
            Some(Unhashable("list"))
        );
    }

    #[test]
    fn strict_equality_is_by_type_and_bits() {
        assert!(Value::Int(1) != Value::Bool(true));
        assert!(Value::Int(1) != Value::Float(1.0));
        assert!(Value::Float(f64::NAN) == Value::Float(f64::NAN));
        assert!(Value::Float(0.0) != Value::Float(-0.0));
        assert!(Value::Int(5) == Value::BigInt(Rc::new(BigInt::from(5))));
    }

    #[test]
    fn surrogates_are_kept() {
        let s = PyStr::from_surrogatepass(b"\xed\xa0\x80x").unwrap();
        assert!(s.has_surrogates() && s.as_str().is_none());
        assert_eq!(s.code_points().collect::<Vec<_>>(), vec![0xd800, 0x78]);
        assert_eq!(s.to_string_lossy(), "\u{fffd}x");
        assert_eq!(s.len(), 2);
        assert_eq!(format!("{:?}", Value::Str(s)), "'\\ud800x'");
        for bad in [
            &b"\xc0\x80"[..],
            b"\xed\xa0",
            b"\xf4\x90\x80\x80",
            b"\xff",
            b"\xe0\x80\x80",
        ] {
            assert!(PyStr::from_surrogatepass(bad).is_none(), "{bad:?}");
        }
        assert!(PyStr::from_code_points([0x110000]).is_none());
    }
}
