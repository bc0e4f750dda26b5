//! Decoder: quick-xml events driven through a port of CPython's `xmlrpc.client.Unmarshaller`.
//!
//! quick-xml tokenises; this module adds what expat (Python's parser) enforces and quick-xml
//! leaves to its user: one root element, no text outside it, valid names and characters,
//! `]]>` only closing CDATA, end-of-line normalisation, resolving references itself (only
//! the predefined five and character references), a complete document at EOF.

use std::borrow::Cow;

use base64::Engine as _;
use quick_xml::events::Event;
use quick_xml::reader::Reader;

use super::{Fault, Limits, MethodCall, Value, XmlRpcError};

/// Decode a `<methodCall>` document (what a server receives).
///
/// ```
/// use netkit::proto::xmlrpc::{parse_call, Limits, Value};
/// let doc = b"<?xml version='1.0'?><methodCall><methodName>set</methodName><params>\
///     <param><value>spam</value></param><param><value><i4>7</i4></value></param>\
///     </params></methodCall>";
/// let call = parse_call(doc, &Limits::default()).unwrap();
/// assert_eq!(call.name, "set");
/// assert_eq!(call.params, [Value::from("spam"), Value::Int(7)]);
/// ```
pub fn parse_call(doc: &[u8], limits: &Limits) -> Result<MethodCall, XmlRpcError> {
    match super::parse_common_call(doc, limits) {
        Some(call) => Ok(call),
        None => parse_call_in_full(doc, limits),
    }
}

/// [`parse_call`] without its shortcut: the full parser alone, which the tests and the
/// fuzz target hold the shortcut ([`super::parse_common_call`]) to.
pub fn parse_call_in_full(doc: &[u8], limits: &Limits) -> Result<MethodCall, XmlRpcError> {
    let parsed = unmarshal(doc, limits)?;
    if parsed.kind == Some(Kind::Fault) {
        return Err(XmlRpcError::UnexpectedFault);
    }
    match parsed.method_name {
        Some(name) => Ok(MethodCall {
            name,
            params: parsed.stack,
        }),
        None if parsed.kind.is_none() => Err(XmlRpcError::NotXmlRpc),
        None => Err(XmlRpcError::MissingMethodName),
    }
}

/// Decode a `<methodResponse>` document (what a client receives): `Ok(Ok(params))` for a
/// normal answer, `Ok(Err(fault))` for a fault, `Err(_)` for a document that is neither.
///
/// A well-formed answer has exactly one param; like `xmlrpc.client`, this does not insist
/// (Python's `ServerProxy` returns `params[0]` when there is one and the tuple otherwise).
///
/// ```
/// use netkit::proto::xmlrpc::{encode_fault, encode_response, parse_response, Fault, Limits, Value};
/// let lim = Limits::default();
/// let ok = parse_response(&encode_response(&Value::Int(3)), &lim).unwrap();
/// assert_eq!(ok, Ok(vec![Value::Int(3)]));
/// let fault = parse_response(&encode_fault(1, "boom"), &lim).unwrap();
/// assert_eq!(fault, Err(Fault::new(1, "boom")));
/// ```
pub fn parse_response(
    doc: &[u8],
    limits: &Limits,
) -> Result<Result<Vec<Value>, Fault>, XmlRpcError> {
    let parsed = unmarshal(doc, limits)?;
    match parsed.kind {
        None => Err(XmlRpcError::NotXmlRpc),
        Some(Kind::Fault) => fault_from_stack(parsed.stack).map(Err),
        Some(_) => Ok(Ok(parsed.stack)),
    }
}

/// `Fault(**stack[0])`: a struct with `faultCode` and `faultString` (others are ignored).
fn fault_from_stack(stack: Vec<Value>) -> Result<Fault, XmlRpcError> {
    let Some(Value::Struct(members)) = stack.into_iter().next() else {
        return Err(XmlRpcError::InvalidFault(
            "fault value is not a struct".into(),
        ));
    };
    let (mut code, mut string) = (None, None);
    for (k, v) in members {
        match (k.as_str(), v) {
            ("faultCode", Value::Int(c)) => {
                code = Some(i32::try_from(c).map_err(|_| {
                    XmlRpcError::InvalidFault(format!("faultCode {c} is beyond 32 bits"))
                })?)
            }
            ("faultCode", other) => {
                return Err(XmlRpcError::InvalidFault(format!(
                    "faultCode is a {}",
                    other.python_type_name()
                )))
            }
            ("faultString", Value::String(s)) => string = Some(s),
            ("faultString", other) => {
                return Err(XmlRpcError::InvalidFault(format!(
                    "faultString is a {}",
                    other.python_type_name()
                )))
            }
            _ => {}
        }
    }
    match (code, string) {
        (Some(code), Some(string)) => Ok(Fault { code, string }),
        _ => Err(XmlRpcError::InvalidFault(
            "faultCode or faultString missing".into(),
        )),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Params,
    Fault,
    MethodName,
}

struct Parsed {
    kind: Option<Kind>,
    method_name: Option<String>,
    stack: Vec<Value>,
}

/// The element names `Unmarshaller.dispatch` knows; any other directly inside `<value>` is
/// an error there, anywhere else it is ignored.
fn is_dispatch_tag(tag: &str) -> bool {
    matches!(
        tag,
        "nil"
            | "boolean"
            | "i1"
            | "i2"
            | "i4"
            | "i8"
            | "int"
            | "biginteger"
            | "double"
            | "float"
            | "bigdecimal"
            | "string"
            | "name"
            | "array"
            | "struct"
            | "base64"
            | "dateTime.iso8601"
            | "value"
            | "params"
            | "fault"
            | "methodName"
    )
}

/// `tag.split(':')[-1]`: Python drops any namespace prefix (`ex:nil` is `nil`).
fn local_name(tag: &str) -> &str {
    // A byte scan: tag names are short, and `rsplit` costs more than the search.
    match tag.bytes().rposition(|b| b == b':') {
        Some(i) => &tag[i + 1..],
        None => tag,
    }
}

/// The state of `xmlrpc.client.Unmarshaller`.
struct Unmarshaller {
    stack: Vec<Value>,
    /// Start of each open array/struct on the stack, and whether it is a struct.
    marks: Vec<(usize, bool)>,
    /// Character data since the last start tag (Python's `_data`).
    data: String,
    /// The last start tag was `<value>` (Python's `_value`).
    value_open: bool,
    kind: Option<Kind>,
    method_name: Option<String>,
    max_members: usize,
}

impl Unmarshaller {
    fn push(&mut self, v: Value) -> Result<(), XmlRpcError> {
        let (base, per_member) = match self.marks.last() {
            Some(&(m, true)) => (m, 2),
            Some(&(m, false)) => (m, 1),
            None => (0, 1),
        };
        if self.stack.len() - base >= self.max_members.saturating_mul(per_member) {
            return Err(XmlRpcError::TooManyMembers {
                limit: self.max_members,
            });
        }
        self.stack.push(v);
        Ok(())
    }

    fn start(&mut self, tag: &str) -> Result<(), XmlRpcError> {
        let tag = local_name(tag);
        if tag == "array" || tag == "struct" {
            self.marks.push((self.stack.len(), tag == "struct"));
        }
        self.data.clear();
        if self.value_open && !is_dispatch_tag(tag) {
            return Err(XmlRpcError::UnknownTag(tag.to_owned()));
        }
        self.value_open = tag == "value";
        Ok(())
    }

    fn end(&mut self, tag: &str) -> Result<(), XmlRpcError> {
        let tag = local_name(tag);
        let value_open = std::mem::replace(&mut self.value_open, false);
        match tag {
            "nil" => self.push(Value::Nil),
            "boolean" => match self.data.as_str() {
                "0" => self.push(Value::Bool(false)),
                "1" => self.push(Value::Bool(true)),
                other => Err(XmlRpcError::InvalidBoolean(other.to_owned())),
            },
            "i1" | "i2" | "i4" | "i8" | "int" | "biginteger" => {
                let i = parse_py_int(&self.data)?;
                self.push(Value::Int(i))
            }
            "double" | "float" => {
                let d = parse_py_float(&self.data)
                    .ok_or_else(|| XmlRpcError::InvalidDouble(self.data.clone()))?;
                self.push(Value::Double(d))
            }
            "bigdecimal" => Err(XmlRpcError::UnsupportedType("bigdecimal".into())),
            "string" | "name" => self.push(Value::String(self.data.clone())),
            "array" => {
                let (mark, _) = self.marks.pop().unwrap_or((self.stack.len(), false));
                let items = self.stack.split_off(mark.min(self.stack.len()));
                self.push(Value::Array(items))
            }
            "struct" => {
                let (mark, _) = self.marks.pop().unwrap_or((self.stack.len(), true));
                let items = self.stack.split_off(mark.min(self.stack.len()));
                let s = build_struct(items)?;
                self.push(s)
            }
            "base64" => {
                let bytes = decode_base64_like_python(&self.data)?;
                self.push(Value::Base64(bytes))
            }
            "dateTime.iso8601" => {
                let text = py_strip(&self.data).to_owned();
                self.push(Value::DateTime(super::DateTime::new(text)))
            }
            "value" if value_open => self.push(Value::String(self.data.clone())),
            "params" => {
                self.kind = Some(Kind::Params);
                Ok(())
            }
            "fault" => {
                self.kind = Some(Kind::Fault);
                Ok(())
            }
            "methodName" => {
                self.method_name = Some(self.data.clone());
                self.kind = Some(Kind::MethodName);
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

/// `dict(zip(items[0::2], items[1::2]))` keeping first position and last value of a
/// repeated name, as Python's dict does.
fn build_struct(items: Vec<Value>) -> Result<Value, XmlRpcError> {
    if !items.len().is_multiple_of(2) {
        return Err(XmlRpcError::StructMemberWithoutValue);
    }
    let mut members: Vec<(String, Value)> = Vec::with_capacity(items.len() / 2);
    let mut index: std::collections::HashMap<String, usize> = Default::default();
    let mut it = items.into_iter();
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        let Value::String(k) = k else {
            return Err(XmlRpcError::StructNameNotString(k.python_type_name()));
        };
        // Small structs: a linear scan beats hashing; big ones switch to an index.
        let existing = if members.len() < 16 {
            members.iter().position(|(n, _)| *n == k)
        } else {
            if index.is_empty() {
                index = members
                    .iter()
                    .enumerate()
                    .map(|(i, (n, _))| (n.clone(), i))
                    .collect();
            }
            index.get(&k).copied()
        };
        match existing {
            Some(i) => members[i].1 = v,
            None => {
                if members.len() >= 16 {
                    index.insert(k.clone(), members.len());
                }
                members.push((k, v));
            }
        }
    }
    Ok(Value::Struct(members))
}

/// Python's `str.isspace()` for the characters that can occur in XML text.
fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\x1c'..='\x1f').contains(&c)
}

fn py_strip(s: &str) -> &str {
    s.trim_matches(is_py_space)
}

/// Python allows `_` only between two digits (`1_000`, `1_0.5e1_0`); drop them then.
fn strip_underscores(s: &str) -> Option<Cow<'_, str>> {
    if !s.contains('_') {
        return Some(Cow::Borrowed(s));
    }
    let b = s.as_bytes();
    for (i, &c) in b.iter().enumerate() {
        if c == b'_' {
            let before = i > 0 && b[i - 1].is_ascii_digit();
            let after = b.get(i + 1).is_some_and(u8::is_ascii_digit);
            if !(before && after) {
                return None;
            }
        }
    }
    Some(Cow::Owned(s.replace('_', "")))
}

/// Python's `int(text)` for base 10, limited to 64 bits.
fn parse_py_int(text: &str) -> Result<i64, XmlRpcError> {
    let invalid = || XmlRpcError::InvalidInt(text.to_owned());
    let s = py_strip(text);
    let (neg, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || !digits.as_bytes()[0].is_ascii_digit() {
        return Err(invalid());
    }
    let digits = strip_underscores(digits).ok_or_else(invalid)?;
    if !digits.bytes().all(|c| c.is_ascii_digit()) {
        return Err(invalid());
    }
    let mut acc: i64 = 0;
    for c in digits.bytes() {
        let d = i64::from(c - b'0');
        acc = acc
            .checked_mul(10)
            .and_then(|a| {
                if neg {
                    a.checked_sub(d)
                } else {
                    a.checked_add(d)
                }
            })
            .ok_or_else(|| XmlRpcError::IntOutOfRange(s.to_owned()))?;
    }
    Ok(acc)
}

/// Python's `float(text)`.
fn parse_py_float(text: &str) -> Option<f64> {
    let s = py_strip(text);
    let b = s.as_bytes();
    // Rust's parser accepts exactly Python's grammar once `_` is handled, except that it
    // would also take a lone sign; guard the first significant character.
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    let first = body.as_bytes().first()?;
    if !(first.is_ascii_digit() || *first == b'.' || first.is_ascii_alphabetic()) {
        return None;
    }
    if b.iter()
        .any(|c| !(c.is_ascii_alphanumeric() || b"+-._".contains(c)))
    {
        return None;
    }
    let s = strip_underscores(s)?;
    s.parse::<f64>().ok()
}

/// `base64.decodebytes` (binascii's non-strict `a2b_base64`): characters outside the
/// alphabet are skipped, decoding stops at the padding that completes a quantum, and an
/// unfinished quantum is an error.
fn decode_base64_like_python(text: &str) -> Result<Vec<u8>, XmlRpcError> {
    if let Some((pos, c)) = text.char_indices().find(|(_, c)| !c.is_ascii()) {
        return Err(XmlRpcError::InvalidBase64(format!(
            "non-ASCII character {c:?} at position {pos}"
        )));
    }
    let mut clean: Vec<u8> = Vec::with_capacity(text.len());
    let mut quad_pos = 0usize;
    let mut pads = 0usize;
    let mut done = false;
    for &c in text.as_bytes() {
        if c == b'=' {
            pads += 1;
            if quad_pos >= 2 && quad_pos + pads >= 4 {
                done = true;
                break;
            }
            continue;
        }
        if !(c.is_ascii_alphanumeric() || c == b'+' || c == b'/') {
            continue;
        }
        pads = 0;
        clean.push(c);
        quad_pos = (quad_pos + 1) % 4;
    }
    if !done && quad_pos != 0 {
        return Err(XmlRpcError::InvalidBase64(if quad_pos == 1 {
            format!(
                "Invalid base64-encoded string: number of data characters ({}) cannot be 1 more than a multiple of 4",
                clean.len()
            )
        } else {
            "Incorrect padding".into()
        }));
    }
    if done && quad_pos == 1 {
        // Unreachable by the state machine (padding only completes from 2 or 3), kept
        // so that a change above cannot turn into a panic below.
        return Err(XmlRpcError::InvalidBase64("Incorrect padding".into()));
    }
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_allow_trailing_bits(true)
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::RequireNone),
    );
    engine
        .decode(&clean)
        .map_err(|e| XmlRpcError::InvalidBase64(e.to_string()))
}

/// Characters XML 1.0 allows: `#x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] |
/// [#x10000-#x10FFFF]` (UTF-8 validity already excludes surrogates).
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// First byte offset of a character XML forbids, scanning bytes: controls other than tab,
/// LF, CR, and U+FFFE/U+FFFF (`EF BF BE`/`EF BF BF`).
pub(super) fn find_forbidden_char(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let bad_at = |i: usize| match b[i] {
        0xEF => b.get(i + 1) == Some(&0xBF) && matches!(b.get(i + 2), Some(0xBE | 0xBF)),
        c => c < 0x20 && !matches!(c, b'\t' | b'\n' | b'\r'),
    };
    // Branch-free test of 32 bytes at a time (vectorised); only a block holding a forbidden
    // control byte or an 0xEF lead byte, which real documents rarely have, is looked at
    // closely.
    const BLOCK: usize = 32;
    let mut start = 0;
    for chunk in b.chunks(BLOCK) {
        let suspect = chunk.iter().fold(false, |acc, &c| {
            let control = (c < 0x20) & (c != b'\t') & (c != b'\n') & (c != b'\r');
            acc | control | (c == 0xEF)
        });
        if suspect {
            if let Some(i) = (start..start + chunk.len()).find(|&i| bad_at(i)) {
                return Some(i);
            }
        }
        start += chunk.len();
    }
    None
}

fn is_name_start(c: char) -> bool {
    matches!(c, ':' | 'A'..='Z' | '_' | 'a'..='z' | '\u{C0}'..='\u{D6}' | '\u{D8}'..='\u{F6}'
        | '\u{F8}'..='\u{2FF}' | '\u{370}'..='\u{37D}' | '\u{37F}'..='\u{1FFF}'
        | '\u{200C}'..='\u{200D}' | '\u{2070}'..='\u{218F}' | '\u{2C00}'..='\u{2FEF}'
        | '\u{3001}'..='\u{D7FF}' | '\u{F900}'..='\u{FDCF}' | '\u{FDF0}'..='\u{FFFD}'
        | '\u{10000}'..='\u{EFFFF}')
}

fn is_name_char(c: char) -> bool {
    is_name_start(c)
        || matches!(c, '-' | '.' | '0'..='9' | '\u{B7}' | '\u{300}'..='\u{36F}' | '\u{203F}'..='\u{2040}')
}

fn is_xml_name(s: &str) -> bool {
    let b = s.as_bytes();
    if b.is_ascii() {
        let start = |c: u8| c.is_ascii_alphabetic() || c == b'_' || c == b':';
        return b.first().is_some_and(|&c| start(c))
            && b.iter()
                .all(|&c| start(c) || c.is_ascii_digit() || c == b'-' || c == b'.');
    }
    let mut chars = s.chars();
    chars.next().is_some_and(is_name_start) && chars.all(is_name_char)
}

fn is_xml_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

/// Turn the raw bytes into UTF-8 text: strip a UTF-8 byte-order mark, refuse UTF-16/32,
/// honour an `encoding` declaration of ISO-8859-1 (transcoded) or US-ASCII.
fn document_text(doc: &[u8]) -> Result<Cow<'_, str>, XmlRpcError> {
    let doc = doc.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(doc);
    if doc.starts_with(b"\xFF\xFE") || doc.starts_with(b"\xFE\xFF") || doc.first() == Some(&0) {
        return Err(XmlRpcError::UnsupportedEncoding("UTF-16/UTF-32".into()));
    }
    let declared = declared_encoding(doc).map(|e| e.to_ascii_lowercase());
    match declared.as_deref() {
        None | Some("utf-8") | Some("us-ascii") | Some("ascii") => match std::str::from_utf8(doc) {
            Ok(s) => {
                if declared.as_deref().is_some_and(|e| e.contains("ascii")) && !s.is_ascii() {
                    let at = s.bytes().position(|b| !b.is_ascii()).unwrap_or(0);
                    return Err(malformed(
                        at as u64,
                        "non-ASCII byte in a US-ASCII document",
                    ));
                }
                Ok(Cow::Borrowed(s))
            }
            Err(e) => Err(malformed(e.valid_up_to() as u64, "invalid UTF-8")),
        },
        Some("iso-8859-1") | Some("latin-1") | Some("latin1") | Some("iso8859-1") => {
            Ok(Cow::Owned(doc.iter().map(|&b| char::from(b)).collect()))
        }
        Some(other) => Err(XmlRpcError::UnsupportedEncoding(other.to_owned())),
    }
}

/// The `encoding` pseudo-attribute of a leading `<?xml …?>`, if any.
fn declared_encoding(doc: &[u8]) -> Option<&str> {
    let rest = doc.strip_prefix(b"<?xml")?;
    if !rest.first().is_some_and(|c| c.is_ascii_whitespace()) {
        return None;
    }
    let end = rest.windows(2).position(|w| w == b"?>")?;
    let decl = std::str::from_utf8(&rest[..end]).ok()?;
    let at = decl.find("encoding")?;
    let after = decl[at + "encoding".len()..]
        .trim_start()
        .strip_prefix('=')?;
    let after = after.trim_start();
    let quote = after.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let value = &after[1..];
    value.find(quote).map(|e| &value[..e])
}

fn malformed(offset: u64, message: impl Into<String>) -> XmlRpcError {
    XmlRpcError::Malformed {
        offset,
        message: message.into(),
    }
}

fn unmarshal(doc: &[u8], limits: &Limits) -> Result<Parsed, XmlRpcError> {
    if doc.len() > limits.max_document_size {
        return Err(XmlRpcError::DocumentTooLarge {
            size: doc.len(),
            limit: limits.max_document_size,
        });
    }
    let text = document_text(doc)?;
    if let Some(at) = find_forbidden_char(&text) {
        return Err(malformed(at as u64, "character not allowed in XML"));
    }
    let mut reader = Reader::from_str(&text);
    {
        let config = reader.config_mut();
        config.expand_empty_elements = true;
        config.check_comments = true;
        config.check_end_names = true;
        config.allow_dangling_amp = false;
    }
    let mut um = Unmarshaller {
        stack: Vec::new(),
        marks: Vec::new(),
        data: String::new(),
        value_open: false,
        kind: None,
        method_name: None,
        max_members: limits.max_members,
    };
    let mut depth = 0usize;
    let mut root_seen = false;
    let mut first_event = true;
    loop {
        let at = reader.buffer_position();
        let event = reader
            .read_event()
            .map_err(|e| malformed(reader.error_position(), e.to_string()))?;
        let was_first = std::mem::replace(&mut first_event, false);
        // `expand_empty_elements` turns `<x/>` into Start + End; Empty is handled anyway.
        let self_closing = matches!(event, Event::Empty(_));
        match event {
            Event::Start(e) | Event::Empty(e) => {
                if root_seen && depth == 0 {
                    return Err(malformed(at, "junk after document element"));
                }
                let name = e.name();
                let name = name.as_ref();
                if !is_xml_name(name) {
                    return Err(malformed(at, format!("invalid element name {name:?}")));
                }
                for attr in e.attributes() {
                    let attr = attr.map_err(|e| malformed(at, e.to_string()))?;
                    if !is_xml_name(attr.key.as_ref()) {
                        return Err(malformed(at, "invalid attribute name"));
                    }
                    if attr.value.contains('<') {
                        return Err(malformed(at, "'<' in an attribute value"));
                    }
                    check_references(&attr.value, at)?;
                }
                depth += 1;
                if depth > limits.max_depth {
                    return Err(XmlRpcError::TooDeep {
                        limit: limits.max_depth,
                    });
                }
                root_seen = true;
                um.start(name)?;
                if self_closing {
                    depth -= 1;
                    um.end(name)?;
                }
            }
            Event::End(e) => {
                depth = depth.saturating_sub(1);
                um.end(e.name().as_ref())?;
            }
            Event::Text(t) => {
                if depth == 0 {
                    if !t.chars().all(is_xml_space) {
                        return Err(malformed(at, "text outside the document element"));
                    }
                    continue;
                }
                if t.contains("]]>") {
                    return Err(malformed(at, "']]>' in text"));
                }
                um.data.push_str(&t.xml10_content());
            }
            Event::CData(t) => {
                if depth == 0 {
                    return Err(malformed(at, "CDATA outside the document element"));
                }
                um.data.push_str(&t.xml10_content());
            }
            Event::GeneralRef(r) => {
                if depth == 0 {
                    return Err(malformed(at, "reference outside the document element"));
                }
                um.data.push(resolve_reference(&r, at)?);
            }
            Event::Decl(_) if was_first => {}
            Event::Decl(_) => {
                return Err(malformed(at, "XML declaration not at the start"));
            }
            Event::PI(pi) => {
                let target = pi.target();
                if target.eq_ignore_ascii_case("xml") {
                    return Err(malformed(at, "reserved processing instruction target"));
                }
            }
            Event::Comment(_) => {}
            Event::DocType(_) => return Err(XmlRpcError::DoctypeForbidden),
            Event::Eof => {
                if depth != 0 {
                    return Err(malformed(at, "unclosed element at end of document"));
                }
                if !root_seen {
                    return Err(malformed(at, "no element found"));
                }
                break;
            }
        }
    }
    Ok(Parsed {
        kind: um.kind,
        method_name: um.method_name,
        stack: um.stack,
    })
}

/// `&name;` or `&#…;` in text: only the predefined five and legal characters.
fn resolve_reference(r: &quick_xml::events::BytesRef<'_>, at: u64) -> Result<char, XmlRpcError> {
    if r.is_char_ref() {
        return match r.resolve_char_ref() {
            Ok(Some(c)) if is_xml_char(c) => Ok(c),
            _ => Err(malformed(at, "reference to invalid character number")),
        };
    }
    match &**r {
        "lt" => Ok('<'),
        "gt" => Ok('>'),
        "amp" => Ok('&'),
        "apos" => Ok('\''),
        "quot" => Ok('"'),
        other => Err(XmlRpcError::UndefinedEntity(other.to_owned())),
    }
}

/// References inside an attribute value must be as valid as in text (the value is
/// otherwise ignored).
fn check_references(value: &str, at: u64) -> Result<(), XmlRpcError> {
    let mut rest = value;
    while let Some(amp) = rest.find('&') {
        let after = &rest[amp + 1..];
        let Some(semi) = after.find(';') else {
            return Err(malformed(at, "unterminated reference in attribute"));
        };
        resolve_reference(&quick_xml::events::BytesRef::new(&after[..semi]), at)?;
        rest = &after[semi + 1..];
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn py_int_grammar() {
        assert_eq!(parse_py_int(" +1_0 ").unwrap(), 10);
        assert_eq!(parse_py_int("-007").unwrap(), -7);
        assert_eq!(parse_py_int("\u{a0}5\n").unwrap(), 5);
        assert_eq!(parse_py_int("-9223372036854775808").unwrap(), i64::MIN);
        for bad in [
            "", " ", "+", "1_", "_1", "1__0", "1.0", "0x10", "+-1", "1 2", "- 1",
        ] {
            assert!(
                matches!(parse_py_int(bad), Err(XmlRpcError::InvalidInt(_))),
                "{bad:?}"
            );
        }
        assert!(matches!(
            parse_py_int("9223372036854775808"),
            Err(XmlRpcError::IntOutOfRange(_))
        ));
    }

    #[test]
    fn py_float_grammar() {
        let ok = [
            (" 1_0.5e1_0 ", 105000000000.0),
            ("1.", 1.0),
            (".5", 0.5),
            ("-inf", f64::NEG_INFINITY),
            ("+Infinity", f64::INFINITY),
            ("1e400", f64::INFINITY),
        ];
        for (s, want) in ok {
            assert_eq!(parse_py_float(s), Some(want), "{s:?}");
        }
        assert!(parse_py_float("-nan").is_some_and(f64::is_nan));
        for bad in [
            "", "-", ".", "e5", "1e", "1_.5", "1._5", "0x1p3", "1,5", "nan(1)", "in f",
        ] {
            assert_eq!(parse_py_float(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn base64_like_binascii() {
        let d = |s: &str| decode_base64_like_python(s);
        assert_eq!(d("YQ==").unwrap(), b"a");
        assert_eq!(d("Y Q\n=\n=").unwrap(), b"a");
        assert_eq!(d("YQ==garbage").unwrap(), b"a");
        assert_eq!(d("YR==").unwrap(), b"a"); // trailing bits ignored
        assert_eq!(d("ab=c=").unwrap(), [0x69, 0xb7]);
        assert_eq!(d("!!YWJj").unwrap(), b"abc");
        assert_eq!(d("").unwrap(), b"");
        assert_eq!(
            d("YQ").unwrap_err(),
            XmlRpcError::InvalidBase64("Incorrect padding".into())
        );
        assert!(d("Y").is_err());
        assert!(d("\u{e9}").is_err());
    }

    #[test]
    fn forbidden_chars_found_across_block_edges() {
        for at in [0usize, 1, 30, 31, 32, 33, 63, 64, 95] {
            let mut s = "a\t\n\r".repeat(30);
            s.insert(at, '\u{1}');
            assert_eq!(find_forbidden_char(&s), Some(at), "control at {at}");
            let mut s = "x".repeat(100);
            s.insert(at, '\u{FFFE}'); // EF BF BE, possibly split across two blocks
            assert_eq!(find_forbidden_char(&s), Some(at), "U+FFFE at {at}");
            let mut s = "x".repeat(100);
            s.insert(at, '\u{FFFD}'); // EF BF BD: allowed
            assert_eq!(find_forbidden_char(&s), None);
        }
        assert_eq!(find_forbidden_char("\t\n\r ok \u{10FFFF}"), None);
        assert_eq!(find_forbidden_char(""), None);
    }

    #[test]
    fn declared_encoding_is_found() {
        assert_eq!(
            declared_encoding(b"<?xml version='1.0' encoding=\"ISO-8859-1\"?><a/>"),
            Some("ISO-8859-1")
        );
        assert_eq!(declared_encoding(b"<?xml version='1.0'?><a/>"), None);
        assert_eq!(declared_encoding(b"<a/>"), None);
    }
}
