//! Python pickle codec: reads protocols 0–5, writes 2, 3, 4 (the default) and 5, byte for
//! byte as CPython 3.11's C pickler does. Sans-IO: bytes in, [`Value`]s out. Never runs code.
//!
//! ```
//! use netkit::proto::pickle::{dumps, loads, Limits, Protocol, Value};
//!
//! // What Python's `pickle.dumps(KeyError('spam'))` writes, and what RPCProxy raises.
//! let err = Value::exception("KeyError", vec!["spam".into()]);
//! let bytes = dumps(&err, Protocol::V4);
//! assert_eq!(
//!     bytes,
//!     b"\x80\x04\x95\x24\x00\x00\x00\x00\x00\x00\x00\x8c\x08builtins\x94\x8c\x08KeyError\x94\
//!       \x93\x94\x8c\x04spam\x94\x85\x94R\x94.".to_vec()
//! );
//!
//! // Reading refuses anything that is not plain data or a builtin exception.
//! let evil = b"cos\nsystem\n(S'touch /tmp/pwned'\ntR.";
//! let e = loads(evil, &Limits::default()).unwrap_err();
//! assert_eq!(e.to_string(), "global os.system at byte 0 is not allowed");
//! ```
//!
//! # What is accepted
//!
//! Every opcode of protocols 0–5 is understood. The values are those of [`Value`]; the only
//! globals are the builtin exception classes (instantiated by REDUCE, NEWOBJ, NEWOBJ_EX,
//! INST or OBJ, with BUILD setting their `__dict__`) and the constructors Python itself uses
//! for these types at protocols 0–3: `builtins.set(list)`, `builtins.frozenset(list)`,
//! `builtins.bytearray()`/`(bytes)`/`(str, 'latin-1')`, `builtins.bytes()` and
//! `_codecs.encode(str, 'latin1')` (`__builtin__`, `exceptions` and `copy_reg` are mapped as
//! Python's `fix_imports` does for protocols < 3). `copyreg._reconstructor` resolves but is
//! refused when called, since CPython never uses it for these types. Persistent ids,
//! extension codes and out-of-band buffers are refused with their own errors.
//!
//! Every limit in [`Limits`] is checked before the allocation it guards: a declared length
//! is compared to the remaining input first, memo references are shared (never copied), and
//! all work the decoder does is charged to `max_alloc`, so memory and time stay linear in the
//! input.

mod decode;
mod encode;
mod error;
pub mod json;
mod opcodes;
mod serde_impl;
mod value;

pub use decode::is_known_exception;
pub use error::PickleError;
pub use json::{from_json, to_json, JsonError};
pub use serde_impl::{from_value, to_value, SerdeError};
pub use value::{
    DictMap, Key, Obj, PyException, PyStr, Recursive, SetMap, Unhashable, Value, WeakObj,
};

/// The caps [`loads`] enforces. Every one is checked before the allocation it guards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Deepest nesting of containers in the result (a flat list is depth 1). CPython 3.11
    /// cannot pickle much past 1000 levels either.
    pub max_depth: usize,
    /// Most memo entries (PUT/BINPUT/LONG_BINPUT/MEMOIZE).
    pub max_memo: usize,
    /// Total bytes the decoder may allocate: strings, containers, stack, memo, and the cost
    /// of hashing keys.
    pub max_alloc: usize,
    /// Longest integer, in bytes of LONG1/LONG4 (the text forms stop at 4300 digits, as
    /// Python 3.11 does).
    pub max_int_bytes: usize,
}

impl Default for Limits {
    /// Depth 1000, 1 Mi memo entries, 256 MiB of allocation, 64 KiB integers: room for any
    /// message that fits the 64 MiB default frame, and nothing a small pickle can blow up.
    fn default() -> Self {
        Limits {
            max_depth: 1000,
            max_memo: 1 << 20,
            max_alloc: 256 << 20,
            max_int_bytes: 64 << 10,
        }
    }
}

/// The pickle protocol [`dumps`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Protocol {
    /// Python 2.3+: names written with Python 2's modules (`__builtin__`, `exceptions`),
    /// bytes as `_codecs.encode`, sets as `set(list)`.
    V2,
    /// Python 3.0+: BINBYTES.
    V3,
    /// Python 3.4+, the default of Python 3.8–3.13: framing, MEMOIZE, sets, STACK_GLOBAL.
    #[default]
    V4,
    /// Python 3.8+, the default of 3.14: BYTEARRAY8.
    V5,
}

impl Protocol {
    /// The protocol number (2–5).
    pub fn number(self) -> u8 {
        match self {
            Protocol::V2 => 2,
            Protocol::V3 => 3,
            Protocol::V4 => 4,
            Protocol::V5 => 5,
        }
    }
    /// The protocol of that number, if written.
    pub fn from_number(n: u8) -> Option<Protocol> {
        match n {
            2 => Some(Protocol::V2),
            3 => Some(Protocol::V3),
            4 => Some(Protocol::V4),
            5 => Some(Protocol::V5),
            _ => None,
        }
    }
}

/// Decodes one pickle (protocols 0–5). Bytes after STOP are ignored, as Python does.
///
/// ```
/// use netkit::proto::pickle::{loads, Limits, Value};
/// // pickle.dumps([1, 'a'], protocol=2)
/// let v = loads(b"\x80\x02]q\x00(K\x01X\x01\x00\x00\x00aq\x01e.", &Limits::default()).unwrap();
/// assert_eq!(v, Value::list(vec![1.into(), "a".into()]));
/// ```
pub fn loads(data: &[u8], limits: &Limits) -> Result<Value, PickleError> {
    decode::loads(data, limits)
}

/// Encodes `value` exactly as CPython's `pickle.dumps(value, protocol)` does for the same
/// object graph (see [`Value`] for how identity is kept).
///
/// Writing recurses once per nesting level; values from [`loads`] are bounded by
/// [`Limits::max_depth`], hand-built ones should stay within a few thousand levels.
///
/// ```
/// use netkit::proto::pickle::{dumps, Protocol, Value};
/// let s = Value::from("ab");
/// // The same str twice is written once and then fetched from the memo: `h\x01`.
/// let v = Value::list(vec![s.clone(), s]);
/// assert_eq!(dumps(&v, Protocol::V4), b"\x80\x04\x95\x0c\x00\x00\x00\x00\x00\x00\x00]\x94(\x8c\x02ab\x94h\x01e.");
/// ```
pub fn dumps(value: &Value, protocol: Protocol) -> Vec<u8> {
    encode::dumps(value, protocol)
}
