//! Everything that can be wrong with a document a peer sent.

use super::{py_repr, Fault, Value};

/// Why a document was refused. A server answers each with [`XmlRpcError::to_fault`] and
/// goes on serving the connection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum XmlRpcError {
    /// The document is larger than [`Limits::max_document_size`](super::Limits).
    #[error("document of {size} bytes is over the limit of {limit} bytes")]
    DocumentTooLarge {
        /// Size of the document.
        size: usize,
        /// The limit in force.
        limit: usize,
    },
    /// Elements nest deeper than [`Limits::max_depth`](super::Limits).
    #[error("elements nested deeper than {limit} levels")]
    TooDeep {
        /// The limit in force.
        limit: usize,
    },
    /// An array, struct or params list has more than
    /// [`Limits::max_members`](super::Limits) members.
    #[error("more than {limit} members in one array, struct or params list")]
    TooManyMembers {
        /// The limit in force.
        limit: usize,
    },
    /// A `<!DOCTYPE …>` declaration: refused wherever it appears, so no entity can ever be
    /// declared (no billion laughs, no external entities).
    #[error("document type declarations (<!DOCTYPE>) are not allowed")]
    DoctypeForbidden,
    /// A reference to an entity other than `lt gt amp apos quot`.
    #[error("undefined entity &{0};")]
    UndefinedEntity(String),
    /// The document declares or starts with an encoding other than UTF-8, US-ASCII or
    /// ISO-8859-1.
    #[error("unsupported document encoding {0:?}")]
    UnsupportedEncoding(String),
    /// Not well-formed XML (includes truncated documents, bad UTF-8 and characters that
    /// XML 1.0 forbids).
    #[error("not well-formed XML at byte {offset}: {message}")]
    Malformed {
        /// Byte offset in the document, as far as it is known.
        offset: u64,
        /// What is wrong.
        message: String,
    },
    /// An element that is not an XML-RPC type directly inside `<value>`.
    #[error("unknown tag {0:?} inside <value>")]
    UnknownTag(String),
    /// An XML-RPC type this codec does not accept (`<bigdecimal>`).
    #[error("unsupported XML-RPC type <{0}>")]
    UnsupportedType(String),
    /// Integer text that Python's `int()` refuses.
    #[error("invalid integer {0:?}")]
    InvalidInt(String),
    /// An integer that Python would accept but that does not fit in 64 bits.
    #[error("integer {0} does not fit in 64 bits")]
    IntOutOfRange(String),
    /// Double text that Python's `float()` refuses.
    #[error("invalid double {0:?}")]
    InvalidDouble(String),
    /// `<boolean>` text other than exactly `0` or `1`.
    #[error("invalid boolean {0:?}")]
    InvalidBoolean(String),
    /// `<base64>` text that Python's `base64.decodebytes` refuses.
    #[error("invalid base64: {0}")]
    InvalidBase64(String),
    /// A struct whose members do not pair up into name and value.
    #[error("struct member without a value")]
    StructMemberWithoutValue,
    /// A struct member name that is not a string.
    #[error("struct member name is a {0}, not a string")]
    StructNameNotString(&'static str),
    /// A document without `<params>`, `<fault>` or `<methodName>`.
    #[error("not an XML-RPC document: no <params>, <fault> or <methodName>")]
    NotXmlRpc,
    /// [`parse_call`](super::parse_call) of a document without `<methodName>`.
    #[error("method call without <methodName>")]
    MissingMethodName,
    /// [`parse_call`](super::parse_call) of a `<fault>` document.
    #[error("a fault where a method call was expected")]
    UnexpectedFault,
    /// A `<fault>` whose value is not a struct with an integer `faultCode` and a string
    /// `faultString`.
    #[error("malformed fault: {0}")]
    InvalidFault(String),
}

impl XmlRpcError {
    /// The fault a server sends back for this error: code 1 and Python's
    /// `"%s:%s" % (type(exc), exc)` text for the exception CPython's `SimpleXMLRPCServer`
    /// would have raised on the same document where there is one, e.g.
    /// `<class 'ValueError'>:invalid literal for int() with base 10: 'x'`.
    ///
    /// ```
    /// use netkit::proto::xmlrpc::{parse_call, Limits};
    /// let doc = b"<methodCall><methodName>f</methodName><params><param><value><int>x</int>\
    ///             </value></param></params></methodCall>";
    /// let err = parse_call(doc, &Limits::default()).unwrap_err();
    /// assert_eq!(err.to_fault().string, "<class 'ValueError'>:invalid literal for int() with base 10: 'x'");
    /// ```
    pub fn to_fault(&self) -> Fault {
        let repr = |s: &str| py_repr(&Value::String(s.to_owned()));
        let string = match self {
            XmlRpcError::IntOutOfRange(t) => {
                format!("<class 'OverflowError'>:integer {t} does not fit in 64 bits")
            }
            XmlRpcError::InvalidInt(t) => format!(
                "<class 'ValueError'>:invalid literal for int() with base 10: {}",
                repr(t)
            ),
            XmlRpcError::InvalidDouble(t) => format!(
                "<class 'ValueError'>:could not convert string to float: {}",
                repr(t)
            ),
            XmlRpcError::InvalidBoolean(_) => "<class 'TypeError'>:bad boolean value".into(),
            XmlRpcError::InvalidBase64(m) => format!("<class 'binascii.Error'>:{m}"),
            XmlRpcError::UnknownTag(t) => format!(
                "<class 'xmlrpc.client.ResponseError'>:ResponseError(\"unknown tag {}\")",
                repr(t)
            ),
            XmlRpcError::NotXmlRpc => {
                "<class 'xmlrpc.client.ResponseError'>:ResponseError()".into()
            }
            XmlRpcError::StructMemberWithoutValue => {
                "<class 'IndexError'>:list index out of range".into()
            }
            XmlRpcError::MissingMethodName => {
                "<class 'Exception'>:method \"None\" is not supported".into()
            }
            other => format!("<class 'xml.parsers.expat.ExpatError'>:{other}"),
        };
        Fault { code: 1, string }
    }
}
