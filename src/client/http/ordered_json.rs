//! JSON that keeps its keys in the order they were written, for the request bodies of
//! `netkit http` (httpie sends `a:=1 z:=2` as `{"a":1,"z":2}`). serde_json's own
//! `Value` sorts keys unless its crate-wide `preserve_order` feature is on, and that
//! would change the key order of every JSON answer the httpbin service builds.

use indexmap::IndexMap;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use std::fmt;

/// A JSON value whose objects keep their keys in insertion order.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
    Array(Vec<Json>),
    Object(IndexMap<String, Json>),
}

impl Json {
    /// Parses JSON text, keeping the order of object keys.
    pub fn parse(text: &str) -> Result<Json, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// Compact JSON text (no spaces), the way httpie's `json.dumps` order is kept.
    pub fn to_bytes(&self) -> Vec<u8> {
        // Serializing numbers, strings, arrays and maps into memory cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    pub fn is_string(&self) -> bool {
        matches!(self, Json::String(_))
    }
}

/// Text for a form field: a string as it is, anything else as compact JSON.
impl fmt::Display for Json {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Json::String(s) => f.write_str(s),
            other => f.write_str(&String::from_utf8_lossy(&other.to_bytes())),
        }
    }
}

impl Serialize for Json {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Json::Null => serializer.serialize_unit(),
            Json::Bool(b) => serializer.serialize_bool(*b),
            Json::Number(n) => n.serialize(serializer),
            Json::String(s) => serializer.serialize_str(s),
            Json::Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Json::Object(map) => {
                let mut out = serializer.serialize_map(Some(map.len()))?;
                for (key, value) in map {
                    out.serialize_entry(key, value)?;
                }
                out.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Json, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_bool<E>(self, b: bool) -> Result<Json, E> {
        Ok(Json::Bool(b))
    }

    fn visit_i64<E>(self, n: i64) -> Result<Json, E> {
        Ok(Json::Number(n.into()))
    }

    fn visit_u64<E>(self, n: u64) -> Result<Json, E> {
        Ok(Json::Number(n.into()))
    }

    fn visit_f64<E: de::Error>(self, n: f64) -> Result<Json, E> {
        serde_json::Number::from_f64(n)
            .map(Json::Number)
            .ok_or_else(|| E::custom("a number JSON cannot hold"))
    }

    fn visit_str<E>(self, s: &str) -> Result<Json, E> {
        Ok(Json::String(s.to_string()))
    }

    fn visit_string<E>(self, s: String) -> Result<Json, E> {
        Ok(Json::String(s))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Json, A::Error> {
        // A repeated key keeps its first place and its last value, as Python's dict does.
        let mut map = IndexMap::new();
        while let Some((key, value)) = access.next_entry::<String, Json>()? {
            map.insert(key, value);
        }
        Ok(Json::Object(map))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_keep_their_order_at_every_depth() {
        let text = r#"{"z":1,"a":{"y":[true,null,{"q":1,"b":2}],"c":"s"},"m":-2.5}"#;
        let parsed = Json::parse(text).unwrap();
        assert_eq!(String::from_utf8(parsed.to_bytes()).unwrap(), text);
    }

    #[test]
    fn spaces_are_dropped_and_repeats_keep_the_first_place() {
        let parsed = Json::parse(r#"{ "b" : 1, "a" : [1, 2], "b": 3 }"#).unwrap();
        assert_eq!(parsed.to_bytes(), br#"{"b":3,"a":[1,2]}"#);
        assert_eq!(parsed.to_string(), r#"{"b":3,"a":[1,2]}"#);
        assert_eq!(Json::String("x y".into()).to_string(), "x y");
        assert!(Json::parse("{").is_err());
        assert_eq!(
            Json::parse("18446744073709551615").unwrap().to_bytes(),
            b"18446744073709551615"
        );
    }
}
