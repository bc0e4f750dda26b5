//! The `.npy` preamble (NumPy's format spec, versions 1.0, 2.0 and 3.0): magic, version,
//! header length, and a Python dict literal holding `descr`, `fortran_order` and `shape`.
//!
//! Sans-IO: bytes in, [`NpyHeader`] out, and back. The parser accepts only the literal
//! subset NumPy writes (strings, ints, booleans, tuples, lists), with a nesting cap, so a
//! hostile preamble costs at most its own (capped) length.

use std::fmt;

/// `\x93NUMPY`, the first six bytes of every `.npy` file.
pub const MAGIC: &[u8; 6] = b"\x93NUMPY";
/// NumPy pads the preamble so that the array data starts on this boundary.
const ALIGN: usize = 64;
/// Nesting of tuples/lists the dict parser follows; NumPy's own headers need 3.
const MAX_DEPTH: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NpyError {
    #[error("not an .npy file (no \\x93NUMPY magic)")]
    BadMagic,
    #[error(".npy version {0}.{1} is not one this reader knows (1.0, 2.0, 3.0)")]
    UnsupportedVersion(u8, u8),
    #[error(".npy preamble is truncated: {have} bytes of at least {need}")]
    Truncated { have: usize, need: usize },
    #[error(".npy preamble declares {declared} bytes but is {actual}")]
    LengthMismatch { declared: usize, actual: usize },
    #[error(".npy header is not text: {0}")]
    NotText(&'static str),
    #[error(".npy header dict does not parse at byte {at}: {why}")]
    Syntax { at: usize, why: &'static str },
    #[error(".npy header lacks {0:?} or has it with the wrong type")]
    MissingKey(&'static str),
    #[error(".npy header has an unexpected key {0:?}")]
    UnexpectedKey(String),
    #[error(".npy dtype {0:?} is not a plain array dtype (structured and object arrays are sent as plain files)")]
    UnsupportedDtype(String),
    #[error(".npy shape {0:?} overflows 64 bits of bytes")]
    SizeOverflow(Vec<u64>),
}

/// What an `.npy` preamble says about the array that follows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NpyHeader {
    /// NumPy's type string, e.g. `<f8`, `|u1`, `>i4`, `<U7`, `<M8[ns]`.
    pub descr: String,
    pub fortran_order: bool,
    pub shape: Vec<u64>,
}

impl NpyHeader {
    /// Bytes of one element, from `descr`.
    pub fn item_size(&self) -> Result<u64, NpyError> {
        item_size(&self.descr).ok_or_else(|| NpyError::UnsupportedDtype(self.descr.clone()))
    }

    /// Bytes of array data that must follow the preamble.
    pub fn data_len(&self) -> Result<u64, NpyError> {
        let overflow = || NpyError::SizeOverflow(self.shape.clone());
        self.shape
            .iter()
            .try_fold(self.item_size()?, |acc, &dim| acc.checked_mul(dim))
            .ok_or_else(overflow)
    }

    /// The preamble NumPy itself would write for this array: format 1.0 when the header
    /// fits in 65535 bytes (2.0 otherwise), padded with spaces to a 64-byte boundary.
    pub fn encode(&self) -> Vec<u8> {
        let shape = match self.shape.as_slice() {
            [one] => format!("({one},)"),
            dims => format!(
                "({})",
                dims.iter()
                    .map(u64::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        let dict = format!(
            "{{'descr': {}, 'fortran_order': {}, 'shape': {}, }}",
            py_repr(&self.descr),
            if self.fortran_order { "True" } else { "False" },
            shape
        );
        let mut prefix_len = MAGIC.len() + 2 + 2;
        let mut version = 1u8;
        let unpadded = prefix_len + dict.len() + 1;
        let padded = unpadded.div_ceil(ALIGN) * ALIGN;
        if padded - prefix_len > usize::from(u16::MAX) {
            version = 2;
            prefix_len += 2;
        }
        let total = (prefix_len + dict.len() + 1).div_ceil(ALIGN) * ALIGN;
        let header_len = total - prefix_len;
        let mut out = Vec::with_capacity(total);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&[version, 0]);
        if version == 1 {
            out.extend_from_slice(&(header_len as u16).to_le_bytes());
        } else {
            out.extend_from_slice(&(header_len as u32).to_le_bytes());
        }
        out.extend_from_slice(dict.as_bytes());
        out.resize(total - 1, b' ');
        out.push(b'\n');
        out
    }
}

impl fmt::Display for NpyHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let order = if self.fortran_order { "F" } else { "C" };
        write!(f, "{} {:?} order {}", self.descr, self.shape, order)
    }
}

/// Python's `repr` of a string made of printable ASCII without quotes or backslashes
/// (every dtype string that [`item_size`] accepts).
fn py_repr(text: &str) -> String {
    format!("'{text}'")
}

/// Length of the whole preamble (magic to the header's final newline), from its first
/// bytes: `Ok(None)` when `bytes` is too short to tell.
pub fn preamble_len(bytes: &[u8]) -> Result<Option<usize>, NpyError> {
    if bytes.len() < 8 {
        if !MAGIC.starts_with(&bytes[..bytes.len().min(6)]) {
            return Err(NpyError::BadMagic);
        }
        return Ok(None);
    }
    if &bytes[..6] != MAGIC {
        return Err(NpyError::BadMagic);
    }
    let (major, minor) = (bytes[6], bytes[7]);
    let (len_bytes, fixed) = match (major, minor) {
        (1, 0) => (2, 10),
        (2, 0) | (3, 0) => (4, 12),
        _ => return Err(NpyError::UnsupportedVersion(major, minor)),
    };
    if bytes.len() < 8 + len_bytes {
        return Ok(None);
    }
    let header_len = if len_bytes == 2 {
        usize::from(u16::from_le_bytes([bytes[8], bytes[9]]))
    } else {
        u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize
    };
    Ok(Some(fixed + header_len))
}

/// Parses a complete preamble, which must be exactly as long as it declares.
pub fn parse(preamble: &[u8]) -> Result<NpyHeader, NpyError> {
    let Some(declared) = preamble_len(preamble)? else {
        return Err(NpyError::Truncated {
            have: preamble.len(),
            need: 10,
        });
    };
    if declared != preamble.len() {
        return Err(NpyError::LengthMismatch {
            declared,
            actual: preamble.len(),
        });
    }
    let fixed = if preamble[6] == 1 { 10 } else { 12 };
    let text = &preamble[fixed..];
    let text = match preamble[6] {
        3 => std::str::from_utf8(text).map_err(|_| NpyError::NotText("not UTF-8"))?,
        _ if text.is_ascii() => std::str::from_utf8(text).map_err(|_| NpyError::NotText(""))?,
        _ => return Err(NpyError::NotText("not ASCII")),
    };
    let Some(body) = text.strip_suffix('\n') else {
        return Err(NpyError::NotText("does not end with a newline"));
    };
    let mut parser = Parser {
        text: body.as_bytes(),
        at: 0,
    };
    let value = parser.value(0)?;
    parser.skip_space();
    if parser.at != parser.text.len() {
        return Err(parser.error("text after the dict"));
    }
    let Value::Dict(entries) = value else {
        return Err(NpyError::Syntax {
            at: 0,
            why: "not a dict",
        });
    };
    let (mut descr, mut fortran_order, mut shape) = (None, None, None);
    for (key, value) in entries {
        match (key.as_str(), value) {
            ("descr", Value::Str(s)) if descr.is_none() => descr = Some(s),
            ("descr", Value::List(_)) => {
                return Err(NpyError::UnsupportedDtype("structured".into()))
            }
            ("fortran_order", Value::Bool(b)) if fortran_order.is_none() => fortran_order = Some(b),
            ("shape", Value::Tuple(items)) if shape.is_none() => {
                let dims = items
                    .into_iter()
                    .map(|v| match v {
                        Value::Int(n) => Ok(n),
                        _ => Err(NpyError::MissingKey("shape")),
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                shape = Some(dims);
            }
            ("descr" | "fortran_order" | "shape", _) => {
                return Err(NpyError::MissingKey(match key.as_str() {
                    "descr" => "descr",
                    "fortran_order" => "fortran_order",
                    _ => "shape",
                }))
            }
            (other, _) => return Err(NpyError::UnexpectedKey(other.to_string())),
        }
    }
    let header = NpyHeader {
        descr: descr.ok_or(NpyError::MissingKey("descr"))?,
        fortran_order: fortran_order.ok_or(NpyError::MissingKey("fortran_order"))?,
        shape: shape.ok_or(NpyError::MissingKey("shape"))?,
    };
    header.data_len()?;
    Ok(header)
}

/// Bytes per element of a NumPy type string, for the plain (non-structured, non-object)
/// dtypes; `None` for anything else.
pub fn item_size(descr: &str) -> Option<u64> {
    let rest = descr.strip_prefix(['<', '>', '|', '=']).unwrap_or(descr);
    let mut chars = rest.chars();
    let kind = chars.next()?;
    let rest = chars.as_str();
    let (digits, unit) = match rest.find('[') {
        Some(i) => (&rest[..i], Some(&rest[i..])),
        None => (rest, None),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || digits.len() > 12 {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    match (kind, unit) {
        ('b', None) if n == 1 => Some(1),
        ('i' | 'u', None) if matches!(n, 1 | 2 | 4 | 8) => Some(n),
        ('f', None) if matches!(n, 2 | 4 | 8 | 10 | 12 | 16) => Some(n),
        ('c', None) if matches!(n, 8 | 16 | 20 | 24 | 32) => Some(n),
        ('S' | 'V', None) if n > 0 => Some(n),
        ('U', None) if n > 0 => n.checked_mul(4),
        ('M' | 'm', unit) if n == 8 => match unit {
            None => Some(8),
            Some(u) if valid_time_unit(u) => Some(8),
            Some(_) => None,
        },
        _ => None,
    }
}

fn valid_time_unit(unit: &str) -> bool {
    let Some(inner) = unit.strip_prefix('[').and_then(|u| u.strip_suffix(']')) else {
        return false;
    };
    let name = inner.trim_start_matches(|c: char| c.is_ascii_digit());
    matches!(
        name,
        "Y" | "M" | "W" | "D" | "h" | "m" | "s" | "ms" | "us" | "ns" | "ps" | "fs" | "as"
    ) && inner.len() <= 24
}

#[derive(Debug, PartialEq)]
enum Value {
    Str(String),
    Int(u64),
    Bool(bool),
    None,
    Tuple(Vec<Value>),
    List(Vec<Value>),
    Dict(Vec<(String, Value)>),
}

struct Parser<'a> {
    text: &'a [u8],
    at: usize,
}

impl Parser<'_> {
    fn error(&self, why: &'static str) -> NpyError {
        NpyError::Syntax { at: self.at, why }
    }

    fn skip_space(&mut self) {
        while self
            .text
            .get(self.at)
            .is_some_and(|b| b.is_ascii_whitespace())
        {
            self.at += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip_space();
        self.text.get(self.at).copied()
    }

    fn value(&mut self, depth: usize) -> Result<Value, NpyError> {
        if depth > MAX_DEPTH {
            return Err(self.error("nested too deeply"));
        }
        match self.peek() {
            Some(b'\'' | b'"') => self.string().map(Value::Str),
            Some(b'0'..=b'9') => self.int(),
            Some(b'(') => self.items(b')', depth).map(|(v, _)| Value::Tuple(v)),
            Some(b'[') => self.items(b']', depth).map(|(v, _)| Value::List(v)),
            Some(b'{') => self.dict(depth),
            Some(b'T' | b'F' | b'N') => self.word(),
            Some(_) => Err(self.error("unexpected character")),
            None => Err(self.error("unexpected end")),
        }
    }

    fn word(&mut self) -> Result<Value, NpyError> {
        for (word, value) in [
            ("True", Value::Bool(true)),
            ("False", Value::Bool(false)),
            ("None", Value::None),
        ] {
            if self.text[self.at..].starts_with(word.as_bytes()) {
                self.at += word.len();
                return Ok(value);
            }
        }
        Err(self.error("unknown name"))
    }

    fn int(&mut self) -> Result<Value, NpyError> {
        let start = self.at;
        while self.text.get(self.at).is_some_and(u8::is_ascii_digit) {
            self.at += 1;
        }
        let digits = std::str::from_utf8(&self.text[start..self.at])
            .map_err(|_| self.error("bad integer"))?;
        let n = digits
            .parse()
            .map_err(|_| self.error("integer too large"))?;
        // Python 2 era files write longs as `3L`.
        if self.text.get(self.at) == Some(&b'L') {
            self.at += 1;
        }
        Ok(Value::Int(n))
    }

    fn string(&mut self) -> Result<String, NpyError> {
        let quote = self.text[self.at];
        self.at += 1;
        let mut out = Vec::new();
        loop {
            match self.text.get(self.at) {
                None => return Err(self.error("unterminated string")),
                Some(&b) if b == quote => {
                    self.at += 1;
                    break;
                }
                Some(b'\\') => {
                    let escaped = *self
                        .text
                        .get(self.at + 1)
                        .ok_or_else(|| self.error("unterminated string"))?;
                    if !matches!(escaped, b'\\' | b'\'' | b'"') {
                        return Err(self.error("unsupported escape"));
                    }
                    out.push(escaped);
                    self.at += 2;
                }
                Some(&b) => {
                    out.push(b);
                    self.at += 1;
                }
            }
        }
        String::from_utf8(out).map_err(|_| self.error("string is not UTF-8"))
    }

    /// Comma-separated values up to `close`; a trailing comma is allowed.
    fn items(&mut self, close: u8, depth: usize) -> Result<(Vec<Value>, bool), NpyError> {
        self.at += 1;
        let mut items = Vec::new();
        let mut trailing_comma = false;
        loop {
            if self.peek() == Some(close) {
                self.at += 1;
                return Ok((items, trailing_comma));
            }
            items.push(self.value(depth + 1)?);
            match self.peek() {
                Some(b',') => {
                    self.at += 1;
                    trailing_comma = true;
                }
                Some(b) if b == close => trailing_comma = false,
                _ => return Err(self.error("expected a comma")),
            }
        }
    }

    fn dict(&mut self, depth: usize) -> Result<Value, NpyError> {
        self.at += 1;
        let mut entries = Vec::new();
        loop {
            match self.peek() {
                Some(b'}') => {
                    self.at += 1;
                    return Ok(Value::Dict(entries));
                }
                Some(b'\'' | b'"') => {}
                _ => return Err(self.error("dict keys must be strings")),
            }
            let key = self.string()?;
            if self.peek() != Some(b':') {
                return Err(self.error("expected a colon"));
            }
            self.at += 1;
            let value = self.value(depth + 1)?;
            entries.push((key, value));
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b'}') => {}
                _ => return Err(self.error("expected a comma")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `np.save` of `np.zeros((3, 4))` with NumPy 2.
    const NUMPY_F8: &[u8] = b"\x93NUMPY\x01\x00v\x00{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }                                                          \n";

    #[test]
    fn parses_what_numpy_writes() {
        let h = parse(NUMPY_F8).unwrap();
        assert_eq!(h.descr, "<f8");
        assert!(!h.fortran_order);
        assert_eq!(h.shape, vec![3, 4]);
        assert_eq!(h.data_len().unwrap(), 96);
        assert_eq!(NUMPY_F8.len() % 64, 0);
    }

    #[test]
    fn encodes_like_numpy_without_growth_padding() {
        let h = NpyHeader {
            descr: "<f8".into(),
            fortran_order: false,
            shape: vec![3, 4],
        };
        let out = h.encode();
        assert_eq!(out.len(), 128);
        assert_eq!(&out[..10], b"\x93NUMPY\x01\x00v\x00");
        assert!(
            out[10..].starts_with(b"{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }  ")
        );
        assert_eq!(parse(&out).unwrap(), h);
    }

    #[test]
    fn one_and_zero_dimensional_shapes() {
        for shape in [vec![], vec![7], vec![0, 5]] {
            let h = NpyHeader {
                descr: "|u1".into(),
                fortran_order: true,
                shape,
            };
            assert_eq!(parse(&h.encode()).unwrap(), h);
        }
        assert!(String::from_utf8_lossy(
            &NpyHeader {
                descr: "|u1".into(),
                fortran_order: false,
                shape: vec![7]
            }
            .encode()
        )
        .contains("(7,)"));
    }

    #[test]
    fn item_sizes() {
        assert_eq!(item_size("<f8"), Some(8));
        assert_eq!(item_size("|b1"), Some(1));
        assert_eq!(item_size("<U5"), Some(20));
        assert_eq!(item_size("|S3"), Some(3));
        assert_eq!(item_size("<M8[ns]"), Some(8));
        assert_eq!(item_size("<c16"), Some(16));
        assert_eq!(item_size("|O"), None);
        assert_eq!(item_size("<f3"), None);
        assert_eq!(item_size("<M8[xx]"), None);
    }

    #[test]
    fn refuses_lies_and_strangers() {
        let mut longer = NUMPY_F8.to_vec();
        longer.push(b' ');
        assert!(matches!(
            parse(&longer),
            Err(NpyError::LengthMismatch { .. })
        ));
        assert_eq!(parse(b"\x93NUMPZ\x01\x00"), Err(NpyError::BadMagic));
        assert_eq!(
            parse(b"\x93NUMPY\x09\x00\x00\x00"),
            Err(NpyError::UnsupportedVersion(9, 0))
        );
        let object = NpyHeader {
            descr: "<f8".into(),
            fortran_order: false,
            shape: vec![1],
        }
        .encode();
        let at = object.windows(5).position(|w| w == b"'<f8'").unwrap();
        let mut object = object.clone();
        object[at..at + 5].copy_from_slice(b"'|O' ");
        assert!(matches!(parse(&object), Err(NpyError::UnsupportedDtype(_))));
        let huge = NpyHeader {
            descr: "<f8".into(),
            fortran_order: false,
            shape: vec![u64::MAX / 2, 3],
        }
        .encode();
        assert!(matches!(parse(&huge), Err(NpyError::SizeOverflow(_))));
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let dict = format!("{{'shape': {}}}\n", "(".repeat(10_000));
        let mut pre = MAGIC.to_vec();
        pre.extend_from_slice(&[1, 0]);
        pre.extend_from_slice(&(dict.len() as u16).to_le_bytes());
        pre.extend_from_slice(dict.as_bytes());
        assert!(matches!(parse(&pre), Err(NpyError::Syntax { .. })));
    }
}
