//! [`Value`] ↔ [`serde_json::Value`], for `netkit conn` (JSON lines in, JSON lines out).
//!
//! Plain JSON maps to the obvious Python values: `null` ↔ None, booleans ↔ bool, integers
//! ↔ int, other numbers ↔ float, strings ↔ str, arrays ↔ list, objects ↔ dict with str
//! keys. Everything else is a one-key (or, for exceptions, tagged) object:
//!
//! | Python                     | JSON                                                   |
//! |----------------------------|--------------------------------------------------------|
//! | `b'\x00hi'`                | `{"$bytes": "AGhp"}` (standard base64, padded)         |
//! | `bytearray(b'hi')`         | `{"$bytearray": "aGk="}`                               |
//! | `(1, 2)`                   | `{"$tuple": [1, 2]}`                                   |
//! | `{1, 2}` / `frozenset()`   | `{"$set": [1, 2]}` / `{"$frozenset": []}`              |
//! | `{1: 'a'}`, `{'$x': 1}`    | `{"$dict": [[1, "a"]]}` (non-str keys, or a key starting with `$`) |
//! | `2**100`                   | `{"$int": "1267650600228229401496703205376"}` (outside i64/u64) |
//! | `float('nan')`, `inf`      | `{"$float": "nan"}`, `{"$float": "inf"}`, `{"$float": "-inf"}` |
//! | `'\ud800'` (lone surrogate)| `{"$str": [55296]}` (code points)                      |
//! | `KeyError('x')`            | `{"$exception": "KeyError", "args": ["x"]}` (+ `"state"` if any) |
//!
//! Shared values are written out in full at each place they occur; a recursive value has
//! no JSON form and is an error, as is one that would expand past 16 Mi nodes.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::{Map, Number, Value as Json};

use super::value::{PyStr, Value};

/// Why a conversion failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JsonError {
    /// The value contains itself.
    #[error("a recursive value has no JSON form")]
    Recursive,
    /// Shared references would expand into more than 16 Mi JSON nodes.
    #[error("value too large to expand into JSON")]
    TooLarge,
    /// A `{"$…": …}` object that is not one of the documented forms.
    #[error("bad tagged JSON object: {0}")]
    BadTag(String),
    /// A dict key or set element that is not hashable.
    #[error("{0}")]
    Unhashable(#[from] super::value::Unhashable),
}

const MAX_NODES: usize = 16 << 20;

/// Converts a [`Value`] to JSON (see the module docs for the mapping).
///
/// ```
/// use netkit::proto::pickle::{to_json, Value};
/// let v = Value::tuple(vec![Value::bytes(b"hi"), 1.5.into()]);
/// assert_eq!(to_json(&v).unwrap().to_string(), r#"{"$tuple":[{"$bytes":"aGk="},1.5]}"#);
/// ```
pub fn to_json(v: &Value) -> Result<Json, JsonError> {
    let mut budget = MAX_NODES;
    let mut path = Vec::new();
    to_json_in(v, &mut budget, &mut path)
}

fn tagged(tag: &str, v: Json) -> Json {
    let mut m = Map::new();
    m.insert(tag.to_owned(), v);
    Json::Object(m)
}

fn to_json_in(v: &Value, budget: &mut usize, path: &mut Vec<usize>) -> Result<Json, JsonError> {
    *budget = budget.checked_sub(1).ok_or(JsonError::TooLarge)?;
    if let Value::Recursive(_) = v {
        return Err(JsonError::Recursive);
    }
    let addr = match v {
        Value::Tuple(_)
        | Value::List(_)
        | Value::Dict(_)
        | Value::Set(_)
        | Value::FrozenSet(_)
        | Value::Exception(_) => v.node_addr(),
        _ => None,
    };
    if let Some(a) = addr {
        if path.contains(&a) {
            return Err(JsonError::Recursive);
        }
        path.push(a);
    }
    let seq =
        |items: &mut dyn Iterator<Item = &Value>, budget: &mut usize, path: &mut Vec<usize>| {
            items
                .map(|x| to_json_in(x, budget, path))
                .collect::<Result<Vec<_>, _>>()
        };
    let out = match v {
        Value::None => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Int(i) => Json::Number((*i).into()),
        Value::BigInt(b) => match u64::try_from(&**b) {
            Ok(u) => Json::Number(u.into()),
            Err(_) => tagged("$int", Json::String(b.to_string())),
        },
        Value::Float(f) => match Number::from_f64(*f) {
            Some(n) => Json::Number(n),
            None => tagged(
                "$float",
                Json::String(
                    if f.is_nan() {
                        "nan"
                    } else if *f > 0.0 {
                        "inf"
                    } else {
                        "-inf"
                    }
                    .into(),
                ),
            ),
        },
        Value::Str(s) => match s.as_str() {
            Some(t) => Json::String(t.to_owned()),
            None => tagged(
                "$str",
                Json::Array(s.code_points().map(|c| Json::Number(c.into())).collect()),
            ),
        },
        Value::Bytes(b) => tagged("$bytes", Json::String(STANDARD.encode(b))),
        Value::ByteArray(b) => tagged("$bytearray", Json::String(STANDARD.encode(&*b.borrow()))),
        Value::List(l) => Json::Array(seq(&mut l.borrow().iter(), budget, path)?),
        Value::Tuple(t) => tagged(
            "$tuple",
            Json::Array(seq(&mut t.borrow().iter(), budget, path)?),
        ),
        Value::Set(s) => tagged(
            "$set",
            Json::Array(seq(
                &mut s.borrow().iter().map(|k| k.value()),
                budget,
                path,
            )?),
        ),
        Value::FrozenSet(s) => tagged(
            "$frozenset",
            Json::Array(seq(
                &mut s.borrow().iter().map(|k| k.value()),
                budget,
                path,
            )?),
        ),
        Value::Dict(d) => {
            let d = d.borrow();
            let plain = d
                .keys()
                .all(|k| k.as_str().is_some_and(|s| !s.starts_with('$')));
            if plain {
                let mut m = Map::new();
                for (k, v) in d.iter() {
                    m.insert(
                        k.as_str().unwrap_or_default().to_owned(),
                        to_json_in(v, budget, path)?,
                    );
                }
                Json::Object(m)
            } else {
                let mut pairs = Vec::with_capacity(d.len());
                for (k, v) in d.iter() {
                    pairs.push(Json::Array(vec![
                        to_json_in(k, budget, path)?,
                        to_json_in(v, budget, path)?,
                    ]));
                }
                tagged("$dict", Json::Array(pairs))
            }
        }
        Value::Exception(e) => {
            let e = e.borrow();
            let mut m = Map::new();
            m.insert("$exception".into(), Json::String(e.class.clone()));
            m.insert(
                "args".into(),
                Json::Array(seq(&mut e.args.borrow().iter(), budget, path)?),
            );
            if let Some(state) = &e.state {
                m.insert("state".into(), to_json_in(state, budget, path)?);
            }
            Json::Object(m)
        }
        Value::Recursive(_) => return Err(JsonError::Recursive),
    };
    if addr.is_some() {
        path.pop();
    }
    Ok(out)
}

/// Converts JSON to a [`Value`] (see the module docs for the mapping).
///
/// ```
/// use netkit::proto::pickle::{from_json, Value};
/// let j: serde_json::Value = serde_json::from_str(r#"["add", {"$tuple": [1, 2]}]"#).unwrap();
/// assert_eq!(from_json(&j).unwrap(), Value::list(vec!["add".into(), Value::tuple(vec![1.into(), 2.into()])]));
/// ```
pub fn from_json(j: &Json) -> Result<Value, JsonError> {
    Ok(match j {
        Json::Null => Value::None,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::Int(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                Value::Float(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        Json::String(s) => Value::str(s),
        Json::Array(a) => Value::list(a.iter().map(from_json).collect::<Result<_, _>>()?),
        Json::Object(m) => {
            if !m.keys().any(|k| k.starts_with('$')) {
                let mut pairs = Vec::with_capacity(m.len());
                for (k, v) in m {
                    pairs.push((Value::str(k), from_json(v)?));
                }
                return Ok(Value::dict(pairs)?);
            }
            from_tagged(m)?
        }
    })
}

fn from_tagged(m: &Map<String, Json>) -> Result<Value, JsonError> {
    let bad = |why: &str| JsonError::BadTag(why.to_owned());
    if let Some(class) = m.get("$exception") {
        let class = class
            .as_str()
            .ok_or_else(|| bad("$exception needs a class name"))?;
        let args = match m.get("args") {
            Some(Json::Array(a)) => a.iter().map(from_json).collect::<Result<Vec<_>, _>>()?,
            None => Vec::new(),
            Some(_) => return Err(bad("exception args must be an array")),
        };
        if m.keys()
            .any(|k| !matches!(k.as_str(), "$exception" | "args" | "state"))
        {
            return Err(bad("unexpected key next to $exception"));
        }
        let v = Value::exception(class, args);
        if let (Some(state), Value::Exception(e)) = (m.get("state"), &v) {
            e.borrow_mut().state = Some(from_json(state)?);
        }
        return Ok(v);
    }
    let mut it = m.iter();
    let (Some((tag, body)), None) = (it.next(), it.next()) else {
        return Err(bad("a tagged object has exactly one key"));
    };
    let array = || {
        body.as_array()
            .ok_or_else(|| bad(&format!("{tag} needs an array")))
    };
    let items = || -> Result<Vec<Value>, JsonError> { array()?.iter().map(from_json).collect() };
    let text = || {
        body.as_str()
            .ok_or_else(|| bad(&format!("{tag} needs a string")))
    };
    let b64 = || {
        STANDARD
            .decode(text()?)
            .map_err(|_| bad(&format!("{tag} needs base64")))
    };
    Ok(match tag.as_str() {
        "$bytes" => Value::bytes(&b64()?),
        "$bytearray" => Value::bytearray(b64()?),
        "$tuple" => Value::tuple(items()?),
        "$set" => Value::set(items()?)?,
        "$frozenset" => Value::frozenset(items()?)?,
        "$dict" => {
            let mut pairs = Vec::new();
            for p in array()? {
                match p.as_array().map(Vec::as_slice) {
                    Some([k, v]) => pairs.push((from_json(k)?, from_json(v)?)),
                    _ => return Err(bad("$dict needs [key, value] pairs")),
                }
            }
            Value::dict(pairs)?
        }
        "$int" => Value::int(
            text()?
                .parse()
                .map_err(|_| bad("$int needs decimal digits"))?,
        ),
        "$float" => Value::Float(match text()? {
            "nan" => f64::NAN,
            "inf" => f64::INFINITY,
            "-inf" => f64::NEG_INFINITY,
            other => other
                .parse()
                .map_err(|_| bad("$float needs nan, inf, -inf or a number"))?,
        }),
        "$str" => {
            let cps: Option<Vec<u32>> = array()?
                .iter()
                .map(|c| c.as_u64().and_then(|c| u32::try_from(c).ok()))
                .collect();
            Value::Str(
                cps.and_then(PyStr::from_code_points)
                    .ok_or_else(|| bad("$str needs code points"))?,
            )
        }
        other => return Err(bad(&format!("unknown tag {other}"))),
    })
}
