//! The XML-RPC data model.

/// One XML-RPC value.
///
/// `PartialEq` compares doubles as `f64` does (`NaN != NaN`); [`Value::is_identical`] treats
/// equal bit patterns and any two NaNs as the same, which is what round-trip checks want.
///
/// ```
/// use netkit::proto::xmlrpc::Value;
/// let v = Value::Struct(vec![("n".into(), Value::Int(1)), ("s".into(), "x".into())]);
/// assert_eq!(v.get("s"), Some(&Value::from("x")));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `<int>`/`<i4>`/`<i8>`/… . Python only sends 32-bit values; `<i8>` may carry 64.
    /// The encoder writes `<int>` when the value fits in 32 bits and `<i8>` otherwise.
    Int(i64),
    /// `<boolean>`: `0` or `1`.
    Bool(bool),
    /// `<string>` or bare text inside `<value>`.
    String(String),
    /// `<double>`, written as Python's `repr(float)`.
    Double(f64),
    /// `<dateTime.iso8601>`, kept as the exact (trimmed) text.
    DateTime(DateTime),
    /// `<base64>`: the decoded bytes.
    Base64(Vec<u8>),
    /// `<array><data>…</data></array>`.
    Array(Vec<Value>),
    /// `<struct>`: members in document order, names unique.
    Struct(Vec<(String, Value)>),
    /// `<nil/>` (Python's `None` with `allow_none=True`).
    Nil,
}

impl Value {
    /// The member `key` of a struct; `None` for a missing key or a non-struct.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Struct(members) => members.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The string inside a [`Value::String`].
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// Python's type name for the value as `xmlrpc.client.loads` returns it (`int`, `str`,
    /// `DateTime`, `Binary`, `NoneType`, …), for error messages that quote it.
    pub fn python_type_name(&self) -> &'static str {
        match self {
            Value::Int(_) => "int",
            Value::Bool(_) => "bool",
            Value::String(_) => "str",
            Value::Double(_) => "float",
            Value::DateTime(_) => "DateTime",
            Value::Base64(_) => "Binary",
            Value::Array(_) => "list",
            Value::Struct(_) => "dict",
            Value::Nil => "NoneType",
        }
    }

    /// Equality where any NaN equals any NaN (and `0.0` differs from `-0.0`): what "the
    /// round trip gave back the same value" means.
    ///
    /// ```
    /// use netkit::proto::xmlrpc::Value;
    /// assert!(Value::Double(f64::NAN).is_identical(&Value::Double(f64::NAN)));
    /// assert!(!Value::Double(0.0).is_identical(&Value::Double(-0.0)));
    /// ```
    pub fn is_identical(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Double(a), Value::Double(b)) => {
                (a.is_nan() && b.is_nan()) || a.to_bits() == b.to_bits()
            }
            (Value::Array(a), Value::Array(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.is_identical(y))
            }
            (Value::Struct(a), Value::Struct(b)) => {
                a.len() == b.len()
                    && a.iter()
                        .zip(b)
                        .all(|((ka, va), (kb, vb))| ka == kb && va.is_identical(vb))
            }
            _ => self == other,
        }
    }
}

impl From<i32> for Value {
    fn from(v: i32) -> Self {
        Value::Int(v.into())
    }
}
impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}
impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Double(v)
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::String(v.to_owned())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::String(v)
    }
}
impl From<Vec<Value>> for Value {
    fn from(v: Vec<Value>) -> Self {
        Value::Array(v)
    }
}
impl From<DateTime> for Value {
    fn from(v: DateTime) -> Self {
        Value::DateTime(v)
    }
}

/// The text of a `<dateTime.iso8601>` value, kept exactly.
///
/// XML-RPC's format is `YYYYMMDDTHH:MM:SS` with no zone. Like `xmlrpc.client.DateTime`,
/// decoding keeps whatever (whitespace-trimmed) text was sent, so a value stored and sent
/// back is unchanged even when it is not a valid date; [`DateTime::to_civil`] validates.
///
/// ```
/// use netkit::proto::xmlrpc::DateTime;
/// let d = DateTime::from_civil(jiff::civil::date(2024, 2, 29).at(13, 5, 9, 0));
/// assert_eq!(d.as_str(), "20240229T13:05:09");
/// assert_eq!(d.to_civil(), Some(jiff::civil::date(2024, 2, 29).at(13, 5, 9, 0)));
/// assert_eq!(DateTime::new("garbage").to_civil(), None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DateTime(String);

impl DateTime {
    /// This exact text, unchecked (as `xmlrpc.client.DateTime("…")`).
    pub fn new(text: impl Into<String>) -> Self {
        DateTime(text.into())
    }

    /// The XML-RPC form of a civil date-time, as Python's `%4Y%m%dT%H:%M:%S`; fractional
    /// seconds are dropped, as Python drops microseconds.
    pub fn from_civil(dt: jiff::civil::DateTime) -> Self {
        DateTime(format!(
            "{:04}{:02}{:02}T{:02}:{:02}:{:02}",
            dt.year(),
            dt.month(),
            dt.day(),
            dt.hour(),
            dt.minute(),
            dt.second()
        ))
    }

    /// The text as sent or given.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The civil date-time when the text is exactly `YYYYMMDDTHH:MM:SS` and a real date.
    pub fn to_civil(&self) -> Option<jiff::civil::DateTime> {
        let b = self.0.as_bytes();
        if b.len() != 17 || b[8] != b'T' || b[11] != b':' || b[14] != b':' {
            return None;
        }
        let num = |r: std::ops::Range<usize>| -> Option<i16> {
            let s = &self.0[r];
            if s.bytes().all(|c| c.is_ascii_digit()) {
                s.parse().ok()
            } else {
                None
            }
        };
        let (y, mo, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
        let (h, mi, s) = (num(9..11)?, num(12..14)?, num(15..17)?);
        jiff::civil::DateTime::new(
            y,
            i8::try_from(mo).ok()?,
            i8::try_from(d).ok()?,
            i8::try_from(h).ok()?,
            i8::try_from(mi).ok()?,
            i8::try_from(s).ok()?,
            0,
        )
        .ok()
    }
}

impl std::fmt::Display for DateTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
