//! Encoder: the exact bytes of CPython's `xmlrpc.client.dumps` (`Marshaller`).

use base64::Engine as _;

use super::Value;

pub(super) const HEADER: &[u8] = b"<?xml version='1.0'?>\n";

/// A `<methodCall>`: the bytes of Python's `xmlrpc.client.dumps(tuple(params), name,
/// allow_none=True)`.
///
/// The method name is escaped like a string (Python writes it raw); names without `&`,
/// `<`, `>` give Python's bytes exactly.
///
/// ```
/// use netkit::proto::xmlrpc::{encode_call, Value};
/// assert_eq!(
///     encode_call("get", &[Value::from("spam")]),
///     b"<?xml version='1.0'?>\n<methodCall>\n<methodName>get</methodName>\n<params>\n\
///       <param>\n<value><string>spam</string></value>\n</param>\n</params>\n</methodCall>\n"
/// );
/// ```
pub fn encode_call(name: &str, params: &[Value]) -> Vec<u8> {
    let mut out = Vec::with_capacity(128 + name.len() + 64 * params.len());
    out.extend_from_slice(HEADER);
    out.extend_from_slice(b"<methodCall>\n<methodName>");
    escape_into(&mut out, name);
    out.extend_from_slice(b"</methodName>\n<params>\n");
    for p in params {
        out.extend_from_slice(b"<param>\n");
        write_value(&mut out, p);
        out.extend_from_slice(b"</param>\n");
    }
    out.extend_from_slice(b"</params>\n</methodCall>\n");
    out
}

/// A successful `<methodResponse>`: the bytes of Python's
/// `xmlrpc.client.dumps((value,), methodresponse=True, allow_none=True)`, which is what
/// `SimpleXMLRPCServer` sends.
///
/// ```
/// use netkit::proto::xmlrpc::{encode_response, Value};
/// assert_eq!(
///     encode_response(&Value::Nil),
///     b"<?xml version='1.0'?>\n<methodResponse>\n<params>\n<param>\n\
///       <value><nil/></value></param>\n</params>\n</methodResponse>\n"
/// );
/// ```
pub fn encode_response(value: &Value) -> Vec<u8> {
    // The frame alone is 93 bytes: room for it and a short value without a reallocation.
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(HEADER);
    out.extend_from_slice(b"<methodResponse>\n<params>\n<param>\n");
    write_value(&mut out, value);
    out.extend_from_slice(b"</param>\n</params>\n</methodResponse>\n");
    out
}

/// A fault `<methodResponse>`: the bytes of Python's
/// `xmlrpc.client.dumps(Fault(code, string), methodresponse=True)`.
///
/// ```
/// use netkit::proto::xmlrpc::encode_fault;
/// let body = encode_fault(1, "<class 'KeyError'>:'spam'");
/// assert!(body.ends_with(b"<value><string>&lt;class 'KeyError'&gt;:'spam'</string></value>\n\
///     </member>\n</struct></value>\n</fault>\n</methodResponse>\n"));
/// ```
pub fn encode_fault(code: i32, string: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(320 + string.len());
    out.extend_from_slice(HEADER);
    out.extend_from_slice(
        b"<methodResponse>\n<fault>\n<value><struct>\n<member>\n<name>faultCode</name>\n",
    );
    write_value(&mut out, &Value::Int(code.into()));
    out.extend_from_slice(b"</member>\n<member>\n<name>faultString</name>\n<value><string>");
    escape_into(&mut out, string);
    out.extend_from_slice(
        b"</string></value>\n</member>\n</struct></value>\n</fault>\n</methodResponse>\n",
    );
    out
}

/// Python's `xmlrpc.client.escape`: `&`, `<` and `>` only.
fn escape_into(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let rep: &[u8] = match b {
            b'&' => b"&amp;",
            b'<' => b"&lt;",
            b'>' => b"&gt;",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(rep);
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
}

/// `base64.encodebytes`: 76-character lines (57 input bytes), each ended by `\n`.
fn base64_lines_into(out: &mut Vec<u8>, data: &[u8]) {
    let engine = &base64::engine::general_purpose::STANDARD;
    for chunk in data.chunks(57) {
        let start = out.len();
        out.resize(start + chunk.len().div_ceil(3) * 4, 0);
        // The slot has exactly the encoded length, so this cannot fail.
        let _ = engine.encode_slice(chunk, &mut out[start..]);
        out.push(b'\n');
    }
}

pub(super) fn write_value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Nil => out.extend_from_slice(b"<value><nil/></value>"),
        Value::Bool(b) => {
            out.extend_from_slice(if *b {
                b"<value><boolean>1</boolean></value>\n"
            } else {
                b"<value><boolean>0</boolean></value>\n"
            });
        }
        Value::Int(i) => {
            if i32::try_from(*i).is_ok() {
                out.extend_from_slice(b"<value><int>");
                out.extend_from_slice(i.to_string().as_bytes());
                out.extend_from_slice(b"</int></value>\n");
            } else {
                out.extend_from_slice(b"<value><i8>");
                out.extend_from_slice(i.to_string().as_bytes());
                out.extend_from_slice(b"</i8></value>\n");
            }
        }
        Value::Double(d) => {
            out.extend_from_slice(b"<value><double>");
            out.extend_from_slice(py_float_repr(*d).as_bytes());
            out.extend_from_slice(b"</double></value>\n");
        }
        Value::String(s) => {
            out.extend_from_slice(b"<value><string>");
            escape_into(out, s);
            out.extend_from_slice(b"</string></value>\n");
        }
        Value::DateTime(d) => {
            out.extend_from_slice(b"<value><dateTime.iso8601>");
            escape_into(out, d.as_str());
            out.extend_from_slice(b"</dateTime.iso8601></value>\n");
        }
        Value::Base64(data) => {
            out.extend_from_slice(b"<value><base64>\n");
            base64_lines_into(out, data);
            out.extend_from_slice(b"</base64></value>\n");
        }
        Value::Array(items) => {
            out.extend_from_slice(b"<value><array><data>\n");
            for item in items {
                write_value(out, item);
            }
            out.extend_from_slice(b"</data></array></value>\n");
        }
        Value::Struct(members) => {
            out.extend_from_slice(b"<value><struct>\n");
            for (name, v) in members {
                out.extend_from_slice(b"<member>\n<name>");
                escape_into(out, name);
                out.extend_from_slice(b"</name>\n");
                write_value(out, v);
                out.extend_from_slice(b"</member>\n");
            }
            out.extend_from_slice(b"</struct></value>\n");
        }
    }
}

/// Python's `repr(float)`: the shortest text that reads back as the same double, in fixed
/// notation when the decimal exponent is in `-4..16` and scientific (`1e+16`, `1e-05`)
/// otherwise; `inf`, `-inf`, `nan`.
///
/// ```
/// use netkit::proto::xmlrpc::py_float_repr;
/// assert_eq!(py_float_repr(1.0), "1.0");
/// assert_eq!(py_float_repr(0.1), "0.1");
/// assert_eq!(py_float_repr(1e100), "1e+100");
/// assert_eq!(py_float_repr(1e-5), "1e-05");
/// assert_eq!(py_float_repr(1e15), "1000000000000000.0");
/// assert_eq!(py_float_repr(-0.0), "-0.0");
/// assert_eq!(py_float_repr(f64::NAN), "nan");
/// ```
pub fn py_float_repr(x: f64) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf".into() } else { "-inf".into() };
    }
    // Python's repr is David Gay's shortest round-trip string; among equally short
    // candidates it takes the one nearest the exact value, ties to even. Rust's `{:e}`
    // gives the shortest length but may break such a tie the other way (2171712351438324.25
    // has two 17-digit candidates, Python says ...324.2), so take only the length from it
    // and the digits from the correctly rounded (half-even) formatting at that length.
    let shortest = format!("{:e}", x.abs());
    let len = shortest
        .split_once('e')
        .map_or(1, |(m, _)| m.bytes().filter(u8::is_ascii_digit).count());
    let sci = format!("{:.*e}", len.saturating_sub(1), x.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let n = digits.len() as i32;
    let decpt = exp + 1; // value = 0.DIGITS × 10^decpt
    let mut s = String::with_capacity(digits.len() + 8);
    if x.is_sign_negative() {
        s.push('-');
    }
    if decpt <= -4 || decpt > 16 {
        s.push_str(&digits[..1]);
        if n > 1 {
            s.push('.');
            s.push_str(&digits[1..]);
        }
        s.push('e');
        s.push(if exp < 0 { '-' } else { '+' });
        s.push_str(&format!("{:02}", exp.unsigned_abs()));
    } else if decpt <= 0 {
        s.push_str("0.");
        s.push_str(&"0".repeat((-decpt) as usize));
        s.push_str(&digits);
    } else if decpt >= n {
        s.push_str(&digits);
        s.push_str(&"0".repeat((decpt - n) as usize));
        s.push_str(".0");
    } else {
        s.push_str(&digits[..decpt as usize]);
        s.push('.');
        s.push_str(&digits[decpt as usize..]);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_repr_matches_python_examples() {
        let cases: &[(f64, &str)] = &[
            (0.0, "0.0"),
            (1.5, "1.5"),
            (123.456, "123.456"),
            (1e16, "1e+16"),
            (1.2345678901234568e17, "1.2345678901234568e+17"),
            (0.0001, "0.0001"),
            (0.00012, "0.00012"),
            (5e-324, "5e-324"),
            (f64::MAX, "1.7976931348623157e+308"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (-2.5e-7, "-2.5e-07"),
            (9007199254740993.0, "9007199254740992.0"),
            // exact ties between two 17-digit candidates: …324.25 and …324.75
            (-8686849405753297.0 / 4.0, "-2171712351438324.2"),
            (8686849405753299.0 / 4.0, "2171712351438324.8"),
        ];
        for (x, want) in cases {
            assert_eq!(py_float_repr(*x), *want, "{x:e}");
        }
    }

    #[test]
    fn base64_wraps_at_76_columns() {
        let mut out = Vec::new();
        base64_lines_into(&mut out, &[b'x'; 60]);
        assert_eq!(
            out,
            b"eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4\neHh4\n"
        );
        out.clear();
        base64_lines_into(&mut out, b"");
        assert!(out.is_empty());
    }

    #[test]
    fn escape_only_amp_lt_gt() {
        let mut out = Vec::new();
        escape_into(&mut out, "a<&>'\"b");
        assert_eq!(out, b"a&lt;&amp;&gt;'\"b");
    }

    #[test]
    fn big_ints_go_out_as_i8() {
        let mut out = Vec::new();
        write_value(&mut out, &Value::Int(i64::from(i32::MAX) + 1));
        assert_eq!(out, b"<value><i8>2147483648</i8></value>\n");
        out.clear();
        write_value(&mut out, &Value::Int(i32::MIN.into()));
        assert_eq!(out, b"<value><int>-2147483648</int></value>\n");
    }
}
