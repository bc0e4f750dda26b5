//! serde support for plain data: [`to_value`] and [`from_value`].
//!
//! Rust → Python: bools, integers (any width; `u64`/`i128` beyond `i64` become big ints),
//! floats, chars and strings as str, `serde_bytes`-style byte buffers as bytes, `None`/`()`
//! as None, sequences as list, tuples and tuple structs as tuple, maps and structs as dict
//! (struct fields as str keys), unit enum variants as their name (str), and other variants
//! as a one-entry dict `{variant: content}` (serde's external tagging).
//!
//! Python → Rust accepts the same shapes, plus tuples/sets/frozensets where a sequence is
//! expected and bytearray where bytes are. Exceptions and recursive values are refused.

use std::fmt;

use num_bigint::BigInt;
use serde::de::{self, DeserializeOwned, IntoDeserializer, Visitor};
use serde::ser::{self, Serialize};

use super::value::Value;

/// A serde conversion error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SerdeError(String);

impl ser::Error for SerdeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        SerdeError(msg.to_string())
    }
}
impl de::Error for SerdeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        SerdeError(msg.to_string())
    }
}

/// Converts any `Serialize` to a [`Value`].
///
/// ```
/// use netkit::proto::pickle::{to_value, Value};
/// #[derive(serde::Serialize)]
/// struct Call { name: String, args: (i32, i32) }
/// let v = to_value(&Call { name: "add".into(), args: (1, 2) }).unwrap();
/// assert_eq!(format!("{v:?}"), "{'name': 'add', 'args': (1, 2)}");
/// ```
pub fn to_value<T: Serialize + ?Sized>(t: &T) -> Result<Value, SerdeError> {
    t.serialize(Ser)
}

/// Converts a [`Value`] to any `DeserializeOwned`.
///
/// ```
/// use netkit::proto::pickle::{from_value, Value};
/// let v = Value::tuple(vec!["add".into(), Value::list(vec![1.into(), 2.into()])]);
/// let (name, args): (String, Vec<i64>) = from_value(&v).unwrap();
/// assert_eq!((name.as_str(), args), ("add", vec![1, 2]));
/// ```
pub fn from_value<T: DeserializeOwned>(v: &Value) -> Result<T, SerdeError> {
    T::deserialize(De(v.clone()))
}

fn key_err(e: super::value::Unhashable) -> SerdeError {
    SerdeError(e.to_string())
}

struct Ser;

struct SeqSer {
    items: Vec<Value>,
    tuple: bool,
    variant: Option<&'static str>,
}

struct MapSer {
    pairs: Vec<(Value, Value)>,
    key: Option<Value>,
    variant: Option<&'static str>,
}

fn wrap_variant(variant: Option<&'static str>, v: Value) -> Result<Value, SerdeError> {
    match variant {
        None => Ok(v),
        Some(name) => Value::dict([(Value::str(name), v)]).map_err(key_err),
    }
}

impl ser::Serializer for Ser {
    type Ok = Value;
    type Error = SerdeError;
    type SerializeSeq = SeqSer;
    type SerializeTuple = SeqSer;
    type SerializeTupleStruct = SeqSer;
    type SerializeTupleVariant = SeqSer;
    type SerializeMap = MapSer;
    type SerializeStruct = MapSer;
    type SerializeStructVariant = MapSer;

    fn serialize_bool(self, v: bool) -> Result<Value, SerdeError> {
        Ok(Value::Bool(v))
    }
    fn serialize_i8(self, v: i8) -> Result<Value, SerdeError> {
        Ok(v.into())
    }
    fn serialize_i16(self, v: i16) -> Result<Value, SerdeError> {
        Ok(v.into())
    }
    fn serialize_i32(self, v: i32) -> Result<Value, SerdeError> {
        Ok(v.into())
    }
    fn serialize_i64(self, v: i64) -> Result<Value, SerdeError> {
        Ok(v.into())
    }
    fn serialize_i128(self, v: i128) -> Result<Value, SerdeError> {
        Ok(Value::int(BigInt::from(v)))
    }
    fn serialize_u8(self, v: u8) -> Result<Value, SerdeError> {
        Ok(v.into())
    }
    fn serialize_u16(self, v: u16) -> Result<Value, SerdeError> {
        Ok(v.into())
    }
    fn serialize_u32(self, v: u32) -> Result<Value, SerdeError> {
        Ok(v.into())
    }
    fn serialize_u64(self, v: u64) -> Result<Value, SerdeError> {
        Ok(v.into())
    }
    fn serialize_u128(self, v: u128) -> Result<Value, SerdeError> {
        Ok(Value::int(BigInt::from(v)))
    }
    fn serialize_f32(self, v: f32) -> Result<Value, SerdeError> {
        Ok(Value::Float(f64::from(v)))
    }
    fn serialize_f64(self, v: f64) -> Result<Value, SerdeError> {
        Ok(Value::Float(v))
    }
    fn serialize_char(self, v: char) -> Result<Value, SerdeError> {
        Ok(Value::str(v.encode_utf8(&mut [0; 4])))
    }
    fn serialize_str(self, v: &str) -> Result<Value, SerdeError> {
        Ok(Value::str(v))
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<Value, SerdeError> {
        Ok(Value::bytes(v))
    }
    fn serialize_none(self) -> Result<Value, SerdeError> {
        Ok(Value::None)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> Result<Value, SerdeError> {
        v.serialize(self)
    }
    fn serialize_unit(self) -> Result<Value, SerdeError> {
        Ok(Value::None)
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<Value, SerdeError> {
        Ok(Value::None)
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<Value, SerdeError> {
        Ok(Value::str(variant))
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        v: &T,
    ) -> Result<Value, SerdeError> {
        v.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        v: &T,
    ) -> Result<Value, SerdeError> {
        wrap_variant(Some(variant), v.serialize(self)?)
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<SeqSer, SerdeError> {
        Ok(SeqSer {
            items: Vec::with_capacity(len.unwrap_or(0).min(4096)),
            tuple: false,
            variant: None,
        })
    }
    fn serialize_tuple(self, len: usize) -> Result<SeqSer, SerdeError> {
        Ok(SeqSer {
            items: Vec::with_capacity(len.min(4096)),
            tuple: true,
            variant: None,
        })
    }
    fn serialize_tuple_struct(self, _: &'static str, len: usize) -> Result<SeqSer, SerdeError> {
        self.serialize_tuple(len)
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<SeqSer, SerdeError> {
        Ok(SeqSer {
            items: Vec::with_capacity(len.min(4096)),
            tuple: true,
            variant: Some(variant),
        })
    }
    fn serialize_map(self, _: Option<usize>) -> Result<MapSer, SerdeError> {
        Ok(MapSer {
            pairs: Vec::new(),
            key: None,
            variant: None,
        })
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<MapSer, SerdeError> {
        self.serialize_map(None)
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<MapSer, SerdeError> {
        Ok(MapSer {
            pairs: Vec::new(),
            key: None,
            variant: Some(variant),
        })
    }
}

impl SeqSer {
    fn finish(self) -> Result<Value, SerdeError> {
        let v = if self.tuple {
            Value::tuple(self.items)
        } else {
            Value::list(self.items)
        };
        wrap_variant(self.variant, v)
    }
}

impl ser::SerializeSeq for SeqSer {
    type Ok = Value;
    type Error = SerdeError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), SerdeError> {
        self.items.push(v.serialize(Ser)?);
        Ok(())
    }
    fn end(self) -> Result<Value, SerdeError> {
        self.finish()
    }
}
impl ser::SerializeTuple for SeqSer {
    type Ok = Value;
    type Error = SerdeError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), SerdeError> {
        ser::SerializeSeq::serialize_element(self, v)
    }
    fn end(self) -> Result<Value, SerdeError> {
        self.finish()
    }
}
impl ser::SerializeTupleStruct for SeqSer {
    type Ok = Value;
    type Error = SerdeError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), SerdeError> {
        ser::SerializeSeq::serialize_element(self, v)
    }
    fn end(self) -> Result<Value, SerdeError> {
        self.finish()
    }
}
impl ser::SerializeTupleVariant for SeqSer {
    type Ok = Value;
    type Error = SerdeError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), SerdeError> {
        ser::SerializeSeq::serialize_element(self, v)
    }
    fn end(self) -> Result<Value, SerdeError> {
        self.finish()
    }
}

impl MapSer {
    fn finish(self) -> Result<Value, SerdeError> {
        let d = Value::dict(self.pairs).map_err(key_err)?;
        wrap_variant(self.variant, d)
    }
}

impl ser::SerializeMap for MapSer {
    type Ok = Value;
    type Error = SerdeError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, k: &T) -> Result<(), SerdeError> {
        self.key = Some(k.serialize(Ser)?);
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), SerdeError> {
        let k = self
            .key
            .take()
            .ok_or_else(|| SerdeError("map value without a key".into()))?;
        self.pairs.push((k, v.serialize(Ser)?));
        Ok(())
    }
    fn end(self) -> Result<Value, SerdeError> {
        self.finish()
    }
}
impl ser::SerializeStruct for MapSer {
    type Ok = Value;
    type Error = SerdeError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        v: &T,
    ) -> Result<(), SerdeError> {
        self.pairs.push((Value::str(key), v.serialize(Ser)?));
        Ok(())
    }
    fn end(self) -> Result<Value, SerdeError> {
        self.finish()
    }
}
impl ser::SerializeStructVariant for MapSer {
    type Ok = Value;
    type Error = SerdeError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        v: &T,
    ) -> Result<(), SerdeError> {
        ser::SerializeStruct::serialize_field(self, key, v)
    }
    fn end(self) -> Result<Value, SerdeError> {
        self.finish()
    }
}

// ---- Deserializer ---------------------------------------------------------------------

struct De(Value);

impl IntoDeserializer<'_, SerdeError> for De {
    type Deserializer = De;
    fn into_deserializer(self) -> De {
        self
    }
}

struct Seq(std::vec::IntoIter<Value>);

impl<'de> de::SeqAccess<'de> for Seq {
    type Error = SerdeError;
    fn next_element_seed<T: de::DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, SerdeError> {
        self.0.next().map(|v| seed.deserialize(De(v))).transpose()
    }
    fn size_hint(&self) -> Option<usize> {
        Some(self.0.len())
    }
}

struct MapAcc {
    pairs: std::vec::IntoIter<(Value, Value)>,
    value: Option<Value>,
}

impl<'de> de::MapAccess<'de> for MapAcc {
    type Error = SerdeError;
    fn next_key_seed<K: de::DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, SerdeError> {
        match self.pairs.next() {
            Some((k, v)) => {
                self.value = Some(v);
                seed.deserialize(De(k)).map(Some)
            }
            None => Ok(None),
        }
    }
    fn next_value_seed<V: de::DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, SerdeError> {
        let v = self
            .value
            .take()
            .ok_or_else(|| SerdeError("value without a key".into()))?;
        seed.deserialize(De(v))
    }
}

struct Enum {
    variant: Value,
    content: Option<Value>,
}

impl<'de> de::EnumAccess<'de> for Enum {
    type Error = SerdeError;
    type Variant = Variant;
    fn variant_seed<V: de::DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, Variant), SerdeError> {
        let v = seed.deserialize(De(self.variant))?;
        Ok((v, Variant(self.content)))
    }
}

struct Variant(Option<Value>);

impl<'de> de::VariantAccess<'de> for Variant {
    type Error = SerdeError;
    fn unit_variant(self) -> Result<(), SerdeError> {
        match self.0 {
            None | Some(Value::None) => Ok(()),
            Some(_) => Err(SerdeError("expected a unit variant".into())),
        }
    }
    fn newtype_variant_seed<T: de::DeserializeSeed<'de>>(
        self,
        seed: T,
    ) -> Result<T::Value, SerdeError> {
        seed.deserialize(De(self.0.unwrap_or(Value::None)))
    }
    fn tuple_variant<V: Visitor<'de>>(self, _: usize, visitor: V) -> Result<V::Value, SerdeError> {
        de::Deserializer::deserialize_any(De(self.0.unwrap_or(Value::None)), visitor)
    }
    fn struct_variant<V: Visitor<'de>>(
        self,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, SerdeError> {
        de::Deserializer::deserialize_any(De(self.0.unwrap_or(Value::None)), visitor)
    }
}

impl<'de> de::Deserializer<'de> for De {
    type Error = SerdeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, SerdeError> {
        let v = self.0.resolve().into_owned();
        match v {
            Value::None => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(b),
            Value::Int(i) => visitor.visit_i64(i),
            Value::BigInt(b) => {
                if let Ok(u) = u64::try_from(&*b) {
                    visitor.visit_u64(u)
                } else if let Ok(i) = i128::try_from(&*b) {
                    visitor.visit_i128(i)
                } else if let Ok(u) = u128::try_from(&*b) {
                    visitor.visit_u128(u)
                } else {
                    Err(SerdeError(format!("int {b} does not fit in 128 bits")))
                }
            }
            Value::Float(f) => visitor.visit_f64(f),
            Value::Str(s) => match s.as_str() {
                Some(t) => visitor.visit_str(t),
                None => Err(SerdeError("str with lone surrogates".into())),
            },
            Value::Bytes(b) => visitor.visit_bytes(&b),
            Value::ByteArray(b) => visitor.visit_byte_buf(b.borrow().clone()),
            Value::Tuple(t) | Value::List(t) => {
                let items = t.borrow().clone();
                visitor.visit_seq(Seq(items.into_iter()))
            }
            Value::Set(s) | Value::FrozenSet(s) => {
                let items: Vec<Value> = s.borrow().iter().map(|k| k.value().clone()).collect();
                visitor.visit_seq(Seq(items.into_iter()))
            }
            Value::Dict(d) => {
                let pairs: Vec<(Value, Value)> = d
                    .borrow()
                    .iter()
                    .map(|(k, v)| (k.value().clone(), v.clone()))
                    .collect();
                visitor.visit_map(MapAcc {
                    pairs: pairs.into_iter(),
                    value: None,
                })
            }
            Value::Exception(e) => Err(SerdeError(format!(
                "a {} exception is not plain data",
                e.borrow().class
            ))),
            Value::Recursive(_) => Err(SerdeError("recursive value".into())),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, SerdeError> {
        if self.0.is_none() {
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, SerdeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, SerdeError> {
        let v = self.0.resolve().into_owned();
        match &v {
            Value::Str(_) => visitor.visit_enum(Enum {
                variant: v,
                content: None,
            }),
            Value::Dict(d) if d.borrow().len() == 1 => {
                let (k, c) = d
                    .borrow()
                    .get_index(0)
                    .map(|(k, c)| (k.value().clone(), c.clone()))
                    .ok_or_else(|| SerdeError("empty enum dict".into()))?;
                visitor.visit_enum(Enum {
                    variant: k,
                    content: Some(c),
                })
            }
            other => Err(SerdeError(format!(
                "expected an enum (str or one-entry dict), found {}",
                other.type_name()
            ))),
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        unit unit_struct seq tuple tuple_struct map struct identifier ignored_any
    }
}
