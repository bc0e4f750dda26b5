//! The shortcut for the one shape nearly every call has: the bytes `xmlrpc.client.dumps`
//! writes for a method with string, integer and boolean parameters. It reads that shape
//! with plain byte matching and gives up (`None`) at the first byte that is anything else,
//! so the full parser ([`super::decode`]), with every check expat makes, sees everything
//! the shortcut does not answer for.
//!
//! Why: on a `get` the full parser was two thirds of the XML-RPC handler's CPU (quick-xml
//! events, name and character checks, a `String` per text node); this path is a single
//! forward scan. Its contract, checked by tests/xmlrpc_codec_props.rs and the `xmlrpc_parse`
//! fuzz target: whenever it returns `Some(call)`, the full parser returns `Ok(call)`.

use super::decode::find_forbidden_char;
use super::encode::HEADER;
use super::{Limits, MethodCall, Value};
/// The deepest element the shape holds: `methodCall > params > param > value > string`.
const DEPTH: usize = 5;

/// The call, if `doc` is exactly in the shape Python writes with text the full parser would
/// read unchanged; `None` means "ask the full parser", never "invalid".
pub fn parse_common_call(doc: &[u8], limits: &Limits) -> Option<MethodCall> {
    if doc.len() > limits.max_document_size || limits.max_depth < DEPTH {
        return None;
    }
    let mut rest = doc
        .strip_prefix(HEADER)?
        .strip_prefix(b"<methodCall>\n<methodName>")?;
    let name_len = rest.iter().position(|&b| b == b'<')?;
    let name = &rest[..name_len];
    if name.is_empty()
        || !name
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
    {
        return None;
    }
    let name = std::str::from_utf8(name).ok()?.to_owned();
    rest = rest[name_len..].strip_prefix(b"</methodName>\n<params>\n")?;
    let mut params = Vec::new();
    while let Some(after) = rest.strip_prefix(b"<param>\n<value><") {
        if params.len() >= limits.max_members {
            return None;
        }
        let (value, after) = value(after)?;
        params.push(value);
        rest = after.strip_prefix(b"</param>\n")?;
    }
    (rest == b"</params>\n</methodCall>\n").then_some(MethodCall { name, params })
}

/// One value after `<value><`, and what follows its `</value>` line.
fn value(doc: &[u8]) -> Option<(Value, &[u8])> {
    if let Some(rest) = doc.strip_prefix(b"string>") {
        let end = rest.iter().position(|&b| b == b'<')?;
        let text = text(&rest[..end])?;
        let rest = rest[end..].strip_prefix(b"</string></value>\n")?;
        return Some((Value::String(text), rest));
    }
    if let Some(rest) = doc.strip_prefix(b"int>") {
        let end = rest.iter().position(|&b| b == b'<')?;
        let int = integer(&rest[..end])?;
        let rest = rest[end..].strip_prefix(b"</int></value>\n")?;
        return Some((Value::Int(int), rest));
    }
    if let Some(rest) = doc.strip_prefix(b"boolean>") {
        let (flag, rest) = match rest.split_first()? {
            (b'0', rest) => (false, rest),
            (b'1', rest) => (true, rest),
            _ => return None,
        };
        let rest = rest.strip_prefix(b"</boolean></value>\n")?;
        return Some((Value::Bool(flag), rest));
    }
    None
}

/// Text as XML reads it, when that is simple: UTF-8 with only `&amp;`, `&lt;` and `&gt;`
/// references (the three Python's `escape` writes), no `\r` (end-of-line normalisation),
/// no character XML forbids (the full parser's own check) and no `]]>`.
fn text(raw: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(raw).ok()?;
    if text.contains('\r') || find_forbidden_char(text).is_some() || text.contains("]]>") {
        return None;
    }
    if !text.contains('&') {
        return Some(text.to_owned());
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let entity = &rest[at..];
        let (ch, len) = if entity.starts_with("&amp;") {
            ('&', 5)
        } else if entity.starts_with("&lt;") {
            ('<', 4)
        } else if entity.starts_with("&gt;") {
            ('>', 4)
        } else {
            return None;
        };
        out.push(ch);
        rest = &entity[len..];
    }
    out.push_str(rest);
    Some(out)
}

/// What Python's `%d` writes: an optional `-` and at most 18 digits (so no overflow), no
/// leading zero but `0` itself.
fn integer(raw: &[u8]) -> Option<i64> {
    let (negative, digits) = match raw.strip_prefix(b"-") {
        Some(digits) => (true, digits),
        None => (false, raw),
    };
    if digits.is_empty()
        || digits.len() > 18
        || (digits.len() > 1 && digits[0] == b'0')
        || !digits.iter().all(u8::is_ascii_digit)
    {
        return None;
    }
    let magnitude = digits
        .iter()
        .fold(0i64, |acc, &d| acc * 10 + i64::from(d - b'0'));
    Some(if negative { -magnitude } else { magnitude })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::xmlrpc::{encode_call, parse_call_in_full};

    fn both(doc: &[u8]) -> Option<MethodCall> {
        let fast = parse_common_call(doc, &Limits::default());
        if let Some(call) = &fast {
            assert_eq!(
                parse_call_in_full(doc, &Limits::default()).as_ref(),
                Ok(call)
            );
        }
        fast
    }

    #[test]
    fn reads_what_python_writes_for_the_recipe_methods() {
        // xmlrpc.client.dumps(("bench",), "get"), byte for byte.
        let get = b"<?xml version='1.0'?>\n<methodCall>\n<methodName>get</methodName>\n<params>\n<param>\n<value><string>bench</string></value>\n</param>\n</params>\n</methodCall>\n";
        let call = both(get).expect("the shortcut takes Python's get");
        assert_eq!(call.name, "get");
        assert_eq!(call.params, [Value::from("bench")]);
        let set = encode_call(
            "set",
            &[Value::from("a&b <c> é"), Value::Int(-42), Value::Bool(true)],
        );
        let call = both(&set).expect("the shortcut takes set");
        assert_eq!(
            call.params,
            [Value::from("a&b <c> é"), Value::Int(-42), Value::Bool(true)]
        );
        let big = encode_call("set", &[Value::from("k"), Value::Int(i64::from(i32::MIN))]);
        assert_eq!(
            both(&big).map(|c| c.params[1].clone()),
            Some(Value::Int(-2147483648))
        );
        let keys = encode_call("keys", &[]);
        assert_eq!(both(&keys).map(|c| c.params), Some(vec![]));
    }

    #[test]
    fn leaves_everything_else_to_the_full_parser() {
        let limits = Limits::default();
        for doc in [
            // Not Python's header, CR in text, a character reference, an unknown entity.
            &b"<?xml version=\"1.0\"?>\n<methodCall>\n<methodName>get</methodName>\n<params>\n</params>\n</methodCall>\n"[..],
            b"<?xml version='1.0'?>\n<methodCall>\n<methodName>get</methodName>\n<params>\n<param>\n<value><string>a\rb</string></value>\n</param>\n</params>\n</methodCall>\n",
            b"<?xml version='1.0'?>\n<methodCall>\n<methodName>get</methodName>\n<params>\n<param>\n<value><string>&#65;</string></value>\n</param>\n</params>\n</methodCall>\n",
            b"<?xml version='1.0'?>\n<methodCall>\n<methodName>get</methodName>\n<params>\n<param>\n<value><string>&quot;</string></value>\n</param>\n</params>\n</methodCall>\n",
            // An int past 18 digits, a leading zero, a double, trailing junk.
            b"<?xml version='1.0'?>\n<methodCall>\n<methodName>get</methodName>\n<params>\n<param>\n<value><int>1234567890123456789</int></value>\n</param>\n</params>\n</methodCall>\n",
            b"<?xml version='1.0'?>\n<methodCall>\n<methodName>get</methodName>\n<params>\n<param>\n<value><int>07</int></value>\n</param>\n</params>\n</methodCall>\n",
            b"<?xml version='1.0'?>\n<methodCall>\n<methodName>get</methodName>\n<params>\n<param>\n<value><double>1.5</double></value>\n</param>\n</params>\n</methodCall>\n",
            b"<?xml version='1.0'?>\n<methodCall>\n<methodName>get</methodName>\n<params>\n</params>\n</methodCall>\nx",
        ] {
            assert_eq!(parse_common_call(doc, &limits), None, "{}", String::from_utf8_lossy(doc));
        }
        // Limits the full parser reports are left to it.
        let two = encode_call("set", &[Value::from("k"), Value::from("v")]);
        let one_member = Limits {
            max_members: 1,
            ..limits
        };
        assert_eq!(parse_common_call(&two, &one_member), None);
        let small = Limits {
            max_document_size: two.len() - 1,
            ..limits
        };
        assert_eq!(parse_common_call(&two, &small), None);
        let shallow = Limits {
            max_depth: 4,
            ..limits
        };
        assert_eq!(parse_common_call(&two, &shallow), None);
    }
}
