//! [`Value`] ↔ JSON, for the `netkit xmlrpc` command line.
//!
//! | XML-RPC | JSON |
//! |---|---|
//! | int, boolean, string, array | number, `true`/`false`, string, array |
//! | double | number; `inf`, `-inf`, `nan` as `{"$double": "inf"}` (JSON has none) |
//! | struct | object (member order kept only if serde_json's `preserve_order` is on) |
//! | nil | `null` |
//! | dateTime.iso8601 | `{"$datetime": "20240229T13:05:09"}` (the exact text) |
//! | base64 | `{"$base64": "aGk="}` (standard alphabet, padded, one line) |
//!
//! A JSON object with exactly one member named `$datetime`, `$base64` or `$double` whose
//! value is a string is read as that type; any other object is a struct. A struct that
//! itself has just such a single member cannot be told apart and reads back tagged.
//! JSON numbers that are integers in the `i64` range become ints, all others doubles.

use base64::Engine as _;
use serde_json::Value as Json;

use super::{DateTime, Value};

/// A JSON document that does not map onto an XML-RPC value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot convert JSON to XML-RPC: {0}")]
pub struct FromJsonError(pub String);

/// The JSON form of a value (see the module table).
///
/// ```
/// use netkit::proto::xmlrpc::{to_json, DateTime, Value};
/// let v = Value::Array(vec![Value::Int(1), Value::Nil, Value::Base64(b"hi".to_vec()),
///                           Value::DateTime(DateTime::new("20240229T13:05:09"))]);
/// assert_eq!(to_json(&v).to_string(),
///            r#"[1,null,{"$base64":"aGk="},{"$datetime":"20240229T13:05:09"}]"#);
/// ```
pub fn to_json(value: &Value) -> Json {
    let tagged = |tag: &str, s: String| {
        let mut m = serde_json::Map::new();
        m.insert(tag.to_owned(), Json::String(s));
        Json::Object(m)
    };
    match value {
        Value::Int(i) => Json::from(*i),
        Value::Bool(b) => Json::Bool(*b),
        Value::String(s) => Json::String(s.clone()),
        Value::Double(d) => match serde_json::Number::from_f64(*d) {
            Some(n) => Json::Number(n),
            None => tagged("$double", super::py_float_repr(*d)),
        },
        Value::DateTime(d) => tagged("$datetime", d.as_str().to_owned()),
        Value::Base64(b) => tagged(
            "$base64",
            base64::engine::general_purpose::STANDARD.encode(b),
        ),
        Value::Nil => Json::Null,
        Value::Array(items) => Json::Array(items.iter().map(to_json).collect()),
        Value::Struct(members) => Json::Object(
            members
                .iter()
                .map(|(k, v)| (k.clone(), to_json(v)))
                .collect(),
        ),
    }
}

/// The XML-RPC value for a JSON document (see the module table).
///
/// ```
/// use netkit::proto::xmlrpc::{from_json, Value};
/// let j: serde_json::Value = serde_json::from_str(r#"{"a": [1, 2.5, {"$double": "nan"}]}"#).unwrap();
/// let v = from_json(&j).unwrap();
/// assert_eq!(v.get("a").map(|a| matches!(a, Value::Array(x) if x.len() == 3)), Some(true));
/// ```
pub fn from_json(json: &Json) -> Result<Value, FromJsonError> {
    Ok(match json {
        Json::Null => Value::Nil,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Double(n.as_f64().unwrap_or(f64::NAN)),
        },
        Json::String(s) => Value::String(s.clone()),
        Json::Array(items) => Value::Array(items.iter().map(from_json).collect::<Result<_, _>>()?),
        Json::Object(m) => {
            if m.len() == 1 {
                if let Some((k, Json::String(s))) = m.iter().next() {
                    match k.as_str() {
                        "$datetime" => return Ok(Value::DateTime(DateTime::new(s.clone()))),
                        "$base64" => {
                            return base64::engine::general_purpose::STANDARD
                                .decode(s)
                                .map(Value::Base64)
                                .map_err(|e| FromJsonError(format!("$base64: {e}")))
                        }
                        "$double" => {
                            return match s.to_ascii_lowercase().as_str() {
                                "nan" => Ok(Value::Double(f64::NAN)),
                                "inf" | "+inf" => Ok(Value::Double(f64::INFINITY)),
                                "-inf" => Ok(Value::Double(f64::NEG_INFINITY)),
                                other => other.parse().map(Value::Double).map_err(|_| {
                                    FromJsonError(format!("$double: not a number: {s:?}"))
                                }),
                            }
                        }
                        _ => {}
                    }
                }
            }
            Value::Struct(
                m.iter()
                    .map(|(k, v)| Ok((k.clone(), from_json(v)?)))
                    .collect::<Result<_, FromJsonError>>()?,
            )
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_round_trip_of_every_type() {
        let v = Value::Struct(vec![
            ("b".into(), Value::Bool(false)),
            ("d".into(), Value::Double(0.5)),
            (
                "dt".into(),
                Value::DateTime(DateTime::new("20000101T00:00:00")),
            ),
            ("i".into(), Value::Int(-(1 << 40))),
            ("inf".into(), Value::Double(f64::NEG_INFINITY)),
            ("n".into(), Value::Nil),
            ("raw".into(), Value::Base64(vec![0, 255, 1])),
            ("s".into(), Value::from("x")),
            ("z".into(), Value::Array(vec![])),
        ]);
        let back = from_json(&to_json(&v)).unwrap();
        assert!(back.is_identical(&v), "{back:?}");
        assert!(from_json(&serde_json::json!({"$base64": "!!"})).is_err());
        assert!(from_json(&serde_json::json!({"$double": "x"})).is_err());
        assert_eq!(
            from_json(&serde_json::json!({"$base64": 1})).unwrap(),
            Value::Struct(vec![("$base64".into(), Value::Int(1))])
        );
    }
}
