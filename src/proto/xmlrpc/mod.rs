//! Sans-IO XML-RPC codec, wire-compatible with CPython's `xmlrpc.client`.
//!
//! Bytes in, [`Value`]s out, and back; no sockets. The reference for every decision is
//! CPython's `Lib/xmlrpc/client.py` (3.8–3.13 behave the same here):
//!
//! * **Encoding** ([`encode_call`], [`encode_response`], [`encode_fault`]) produces the
//!   exact bytes of `xmlrpc.client.dumps(..., allow_none=True)`: the `<?xml version='1.0'?>`
//!   header, one newline after most closing tags but none after `<value><nil/></value>`,
//!   `<int>`, `repr(float)` for doubles, `base64.encodebytes` (76-column lines) for binary,
//!   and only `&`, `<`, `>` escaped.
//! * **Decoding** ([`parse_call`], [`parse_response`]) follows `xmlrpc.client.Unmarshaller`,
//!   a tolerant stack machine: bare text in `<value>` is a string, `<value></value>` is `""`,
//!   `<i1> <i2> <i4> <i8> <int> <biginteger>` are integers parsed like Python's `int()`
//!   (surrounding whitespace, `+`, `_` between digits), `<double>`/`<float>` like `float()`
//!   (`inf`, `nan`, …), `<boolean>` is exactly `0` or `1`, `<nil/>` and `<ex:nil/>` (any
//!   namespace prefix is dropped) are [`Value::Nil`], struct members keep their order with
//!   Python's dict semantics for a repeated name (first position, last value). A call in
//!   the exact shape Python writes (string, int and boolean parameters) is read by a
//!   byte-matching shortcut ([`parse_common_call`]) with the same result, at a fraction of
//!   the cost; anything else goes through the full parser.
//! * **Hostile input** fails with a typed [`XmlRpcError`], never a panic: any `<!DOCTYPE`
//!   (so no entity can be declared, hence no billion laughs and no external entities), only
//!   the five predefined entities and character references, a document size cap, an element
//!   nesting cap and a cap on the members of one array/struct/params list ([`Limits`]).
//!
//! Deliberate differences from Python, all on input Python itself mishandles or on values
//! Python cannot produce:
//! * integers beyond 32 bits are sent as `<i8>` (Python refuses to send them and reads
//!   `<i8>` back as `int`); integers beyond 64 bits are refused on input;
//! * the method name and dateTime text are escaped (Python writes them raw, which yields
//!   broken XML for names containing `&` or `<`; valid names give identical bytes);
//! * `<bigdecimal>` is refused ([`XmlRpcError::UnsupportedType`]) rather than converted with
//!   loss of precision; only UTF-8, US-ASCII and ISO-8859-1 documents are accepted;
//!   integers written with non-ASCII digits (`int('١٢')` in Python) are refused.
//!
//! Inherited from Python on purpose: a string containing `\r` is written raw and so reads
//! back as `\n` (XML end-of-line normalisation), and a string with characters XML forbids
//! (e.g. `\x01`) is written raw and cannot be read back by anyone.
//!
//! # Example
//!
//! ```
//! use netkit::proto::xmlrpc::{encode_call, parse_call, Limits, Value};
//!
//! let body = encode_call("set", &[Value::from("spam"), Value::Int(42)]);
//! assert!(body.starts_with(b"<?xml version='1.0'?>\n<methodCall>\n<methodName>set</methodName>"));
//! let call = parse_call(&body, &Limits::default()).unwrap();
//! assert_eq!(call.name, "set");
//! assert_eq!(call.params, vec![Value::from("spam"), Value::Int(42)]);
//! ```

mod common_call;
mod decode;
mod encode;
mod error;
mod json;
mod multicall;
mod pyrepr;
mod value;

pub use common_call::parse_common_call;
pub use decode::{parse_call, parse_call_in_full, parse_response};
pub use encode::{encode_call, encode_fault, encode_response, py_float_repr};
pub use error::XmlRpcError;
pub use json::{from_json, to_json, FromJsonError};
pub use multicall::{decode_multicall, multicall_result, Multicall};
pub use pyrepr::{py_repr, python_exception_fault};
pub use value::{DateTime, Value};

/// Caps on what a peer controls in one document. The defaults suit a server; a client that
/// expects big answers (e.g. `keys()` of a large store) raises them.
///
/// ```
/// use netkit::proto::xmlrpc::Limits;
/// let client = Limits { max_document_size: 64 << 20, ..Limits::default() };
/// assert_eq!(Limits::default().max_document_size, 1 << 20);
/// # let _ = client;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted document in bytes (default 1 MiB, DESIGN.md §4).
    pub max_document_size: usize,
    /// Deepest accepted element nesting, counting every element from the root (default
    /// 512: about 170 levels of nested arrays written the way Python writes them).
    pub max_depth: usize,
    /// Most members in one array or struct, and most parameters (default 100 000).
    pub max_members: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_document_size: 1 << 20,
            max_depth: 512,
            max_members: 100_000,
        }
    }
}

/// A decoded `<methodCall>`.
#[derive(Debug, Clone, PartialEq)]
pub struct MethodCall {
    /// The `<methodName>` text, exactly as sent (not trimmed, as in Python).
    pub name: String,
    /// The parameters in order; empty when `<params>` is missing or empty.
    pub params: Vec<Value>,
}

/// An XML-RPC fault: what `xmlrpc.client.Fault` carries.
///
/// Python's server reports an exception `exc` as code 1 and the text
/// `"%s:%s" % (type(exc), exc)`, e.g. `<class 'KeyError'>:'spam'`; see
/// [`python_exception_fault`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Fault {
    /// `faultCode`.
    pub code: i32,
    /// `faultString`.
    pub string: String,
}

impl Fault {
    /// A fault with this code and text.
    pub fn new(code: i32, string: impl Into<String>) -> Self {
        Fault {
            code,
            string: string.into(),
        }
    }
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "<Fault {}: {}>",
            self.code,
            py_repr(&Value::from(self.string.as_str()))
        )
    }
}

impl std::error::Error for Fault {}
