//! The key-value store behind recipe 6's `KeyValueServer`: a Python `dict` with its exact
//! semantics (keys in insertion order, a re-set key keeps its place, `1`, `1.0` and `True`
//! are one key, lists and dicts are unhashable), kept in memory like the recipe, durably
//! in an embedded file ([`file`], redb), or in Redis ([`redis`]) shared by several
//! instances.
//!
//! Keys and values are XML-RPC [`Value`]s; the store keeps the value itself, not a string.

pub mod file;
pub mod memory;
pub mod redis;

use crate::proto::xmlrpc::{encode_response, parse_response, Limits, Value};
use std::path::PathBuf;

/// Where `serve --xmlrpc` keeps its data (`--kv-store`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreSpec {
    /// In memory, lost on exit, like the recipe (`--kv-store memory`, the default).
    Memory,
    /// An embedded crash-safe file (`--kv-store PATH`).
    File(PathBuf),
    /// A Redis server, shared by any number of netkit instances
    /// (`--kv-store redis://HOST:PORT[/DB]`).
    Redis(String),
}

impl StoreSpec {
    /// `memory` or a file path.
    pub fn parse(text: &str) -> StoreSpec {
        match text {
            "memory" => StoreSpec::Memory,
            url if url.starts_with("redis://")
                || url.starts_with("rediss://")
                || url.starts_with("redis+unix://") =>
            {
                StoreSpec::Redis(url.to_string())
            }
            path => StoreSpec::File(PathBuf::from(path)),
        }
    }
}

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The key is of a type Python cannot hash (`list`, `dict`, `DateTime`, `Binary`).
    #[error("unhashable type: '{0}'")]
    Unhashable(&'static str),
    /// The backend failed (I/O, corruption, a lost connection).
    #[error("store: {0}")]
    Backend(String),
}

/// A key as Python's `dict` tells keys apart: values that compare equal (`1 == 1.0 ==
/// True`, `0 == -0.0 == False`) are one key. Its bytes are the key in durable stores.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(Vec<u8>);

impl KeyId {
    /// The identity of `key`, or [`StoreError::Unhashable`].
    ///
    /// A NaN key is one key here; in Python every NaN object is its own key (a deliberate
    /// difference: such a key could never be read back there).
    pub fn of(key: &Value) -> Result<KeyId, StoreError> {
        let mut bytes = Vec::new();
        match key {
            Value::String(s) => {
                bytes.push(b's');
                bytes.extend_from_slice(s.as_bytes());
            }
            Value::Int(i) => push_int(&mut bytes, *i),
            Value::Bool(b) => push_int(&mut bytes, i64::from(*b)),
            Value::Double(d) => {
                // Integral doubles in i64 range equal the int of the same value.
                if d.fract() == 0.0 && *d >= i64::MIN as f64 && *d < -(i64::MIN as f64) {
                    push_int(&mut bytes, *d as i64);
                } else {
                    bytes.push(b'f');
                    let bits = if d.is_nan() {
                        f64::NAN.to_bits()
                    } else {
                        d.to_bits()
                    };
                    bytes.extend_from_slice(&bits.to_be_bytes());
                }
            }
            Value::Nil => bytes.push(b'n'),
            other => return Err(StoreError::Unhashable(other.python_type_name())),
        }
        Ok(KeyId(bytes))
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

fn push_int(bytes: &mut Vec<u8>, i: i64) {
    bytes.push(b'i');
    bytes.extend_from_slice(&i.to_be_bytes());
}

/// A value as bytes for a durable store: its XML-RPC encoding, which keeps every type
/// exactly.
pub fn encode_value(value: &Value) -> Vec<u8> {
    encode_response(value)
}

/// The value [`encode_value`] wrote.
pub fn decode_value(bytes: &[u8]) -> Result<Value, StoreError> {
    // What we wrote passed the server's limits once; allow any size and depth.
    let limits = Limits {
        max_document_size: usize::MAX,
        max_depth: usize::MAX,
        max_members: usize::MAX,
    };
    let corrupt = |why: String| StoreError::Backend(format!("corrupt stored value: {why}"));
    match parse_response(bytes, &limits) {
        Ok(Ok(params)) => params
            .into_iter()
            .next()
            .ok_or_else(|| corrupt("no value".into())),
        Ok(Err(fault)) => Err(corrupt(fault.string)),
        Err(e) => Err(corrupt(e.to_string())),
    }
}

/// An open store. Cheap to clone; every clone is the same store.
#[derive(Clone)]
pub enum Store {
    Memory(memory::MemoryStore),
    File(file::FileStore),
    Redis(redis::RedisStore),
}

impl Store {
    /// Opens (creating if needed) the store `spec` names.
    pub async fn open(spec: &StoreSpec) -> Result<Store, StoreError> {
        match spec {
            StoreSpec::Memory => Ok(Store::Memory(memory::MemoryStore::default())),
            StoreSpec::File(path) => Ok(Store::File(file::FileStore::open(path.clone()).await?)),
            StoreSpec::Redis(url) => Ok(Store::Redis(redis::RedisStore::open(url).await?)),
        }
    }

    /// `self._data[name] = value`. Returns once the write is durable.
    pub async fn set(&self, key: Value, value: Value) -> Result<(), StoreError> {
        let id = KeyId::of(&key)?;
        match self {
            Store::Memory(m) => {
                m.set(id, key, value);
                Ok(())
            }
            Store::File(f) => f.set(id, key, value).await,
            Store::Redis(r) => r.set(id, key, value).await,
        }
    }

    /// `self._data[name]`: `None` for a missing key.
    pub async fn get(&self, key: &Value) -> Result<Option<Value>, StoreError> {
        let id = KeyId::of(key)?;
        match self {
            Store::Memory(m) => Ok(m.get(&id)),
            Store::File(f) => f.get(id).await,
            Store::Redis(r) => r.get(id).await,
        }
    }

    /// `del self._data[name]`: whether the key was there. Returns once durable.
    pub async fn delete(&self, key: &Value) -> Result<bool, StoreError> {
        let id = KeyId::of(key)?;
        match self {
            Store::Memory(m) => Ok(m.delete(&id)),
            Store::File(f) => f.delete(id).await,
            Store::Redis(r) => r.delete(id).await,
        }
    }

    /// `name in self._data`.
    pub async fn exists(&self, key: &Value) -> Result<bool, StoreError> {
        Ok(self.get(key).await?.is_some())
    }

    /// `list(self._data)`: the keys in insertion order.
    pub async fn keys(&self) -> Result<Vec<Value>, StoreError> {
        match self {
            Store::Memory(m) => Ok(m.keys()),
            Store::File(f) => f.keys().await,
            Store::Redis(r) => r.keys().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_numbers_are_one_key() {
        let one = KeyId::of(&Value::Int(1)).unwrap();
        assert_eq!(KeyId::of(&Value::Bool(true)).unwrap(), one);
        assert_eq!(KeyId::of(&Value::Double(1.0)).unwrap(), one);
        assert_eq!(
            KeyId::of(&Value::Double(-0.0)).unwrap(),
            KeyId::of(&Value::Bool(false)).unwrap()
        );
        assert_ne!(KeyId::of(&Value::Double(1.5)).unwrap(), one);
        assert_ne!(KeyId::of(&Value::from("1")).unwrap(), one);
        assert!(matches!(
            KeyId::of(&Value::Array(vec![])),
            Err(StoreError::Unhashable("list"))
        ));
    }

    #[test]
    fn values_round_trip() {
        let v = Value::Struct(vec![
            ("a".into(), Value::Base64(vec![0, 1])),
            ("n".into(), Value::Nil),
        ]);
        assert_eq!(decode_value(&encode_value(&v)).unwrap(), v);
    }
}
