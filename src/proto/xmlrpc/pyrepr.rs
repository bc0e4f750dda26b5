//! Python's `repr()` of decoded values, for fault texts that quote them
//! (`<class 'KeyError'>:'spam'`).

use std::fmt::Write as _;

use super::{py_float_repr, Fault, Value};

/// Python's `repr()` of the value `xmlrpc.client.loads` would have produced.
///
/// Exact for ints, bools, floats, `None`, lists, dicts and strings made of ASCII and
/// assigned printable characters. Non-ASCII characters are treated as printable except the
/// control, format, separator and private-use ranges (Python escapes those); unassigned
/// code points, which Python also escapes, are not known here. `DateTime` and `Binary`
/// reprs omit the object address Python prints.
///
/// ```
/// use netkit::proto::xmlrpc::{py_repr, Value};
/// assert_eq!(py_repr(&Value::from("spam")), "'spam'");
/// assert_eq!(py_repr(&Value::from("it's")), r#""it's""#);
/// assert_eq!(py_repr(&Value::from("a\n\u{7f}\u{e9}")), r"'a\n\x7fé'");
/// assert_eq!(
///     py_repr(&Value::Array(vec![Value::Int(1), Value::Nil, Value::Bool(true), Value::Double(2.0)])),
///     "[1, None, True, 2.0]"
/// );
/// ```
pub fn py_repr(value: &Value) -> String {
    let mut out = String::new();
    write_repr(&mut out, value);
    out
}

/// The fault CPython's `SimpleXMLRPCServer` sends for an uncaught exception: code 1 and
/// `"%s:%s" % (type(exc), exc)`. `message` is `str(exc)`; for `KeyError` that is the
/// [`py_repr`] of the key.
///
/// ```
/// use netkit::proto::xmlrpc::{py_repr, python_exception_fault, Value};
/// let f = python_exception_fault("KeyError", &py_repr(&Value::from("spam")));
/// assert_eq!((f.code, f.string.as_str()), (1, "<class 'KeyError'>:'spam'"));
/// let f = python_exception_fault("Exception", "method \"x\" is not supported");
/// assert_eq!(f.string, "<class 'Exception'>:method \"x\" is not supported");
/// ```
pub fn python_exception_fault(class: &str, message: &str) -> Fault {
    Fault {
        code: 1,
        string: format!("<class '{class}'>:{message}"),
    }
}

fn write_repr(out: &mut String, value: &Value) {
    match value {
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Bool(b) => out.push_str(if *b { "True" } else { "False" }),
        Value::Double(d) => out.push_str(&py_float_repr(*d)),
        Value::Nil => out.push_str("None"),
        Value::String(s) => write_str_repr(out, s),
        Value::DateTime(d) => {
            out.push_str("<DateTime ");
            write_str_repr(out, d.as_str());
            out.push('>');
        }
        Value::Base64(_) => out.push_str("<xmlrpc.client.Binary object>"),
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_repr(out, v);
            }
            out.push(']');
        }
        Value::Struct(members) => {
            out.push('{');
            for (i, (k, v)) in members.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_str_repr(out, k);
                out.push_str(": ");
                write_repr(out, v);
            }
            out.push('}');
        }
    }
}

/// Characters `str.isprintable()` rejects, as far as they can be listed without Unicode
/// tables: Cc, Zs (but space), Zl, Zp, the common Cf and the private-use planes.
fn is_unprintable(c: char) -> bool {
    matches!(c,
        '\0'..='\x1f' | '\x7f'..='\u{a0}' | '\u{ad}'
        | '\u{600}'..='\u{605}' | '\u{61c}' | '\u{6dd}' | '\u{70f}' | '\u{890}'..='\u{891}'
        | '\u{8e2}' | '\u{1680}' | '\u{180e}' | '\u{2000}'..='\u{200f}'
        | '\u{2028}'..='\u{202f}' | '\u{205f}'..='\u{2064}' | '\u{2066}'..='\u{206f}'
        | '\u{3000}' | '\u{e000}'..='\u{f8ff}' | '\u{fdd0}'..='\u{fdef}' | '\u{feff}'
        | '\u{fff0}'..='\u{fffb}' | '\u{fffe}'..='\u{ffff}' | '\u{110bd}' | '\u{110cd}'
        | '\u{1bca0}'..='\u{1bca3}' | '\u{1d173}'..='\u{1d17a}' | '\u{e0000}'..='\u{e0fff}'
        | '\u{f0000}'..)
}

fn write_str_repr(out: &mut String, s: &str) {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if is_unprintable(c) => {
                let n = u32::from(c);
                let _ = if n <= 0xff {
                    write!(out, "\\x{n:02x}")
                } else if n <= 0xffff {
                    write!(out, "\\u{n:04x}")
                } else {
                    write!(out, "\\U{n:08x}")
                };
            }
            c => out.push(c),
        }
    }
    out.push(quote);
}
