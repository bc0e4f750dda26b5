//! The shapes of `system.multicall`, as CPython's
//! `SimpleXMLRPCDispatcher.system_multicall` reads and answers them.

use super::{py_repr, python_exception_fault, Fault, MethodCall, Value};

/// `system.multicall`'s argument, decoded the way Python walks it.
///
/// Python reads `call['methodName']` and `call['params']` of each entry *before* running
/// it and outside its `try`, so a malformed entry fails the whole multicall — after the
/// entries before it have run. The service therefore runs `calls` in order and then, if
/// `abort` is set, discards their results and answers with that fault instead.
#[derive(Debug, Clone, PartialEq)]
pub struct Multicall {
    /// The entries to run, in order. `Err` entries are answered with that fault without
    /// running anything (a method name that is not a string, params that are not a list).
    pub calls: Vec<Result<MethodCall, Fault>>,
    /// The fault that ends the whole multicall after `calls` have run.
    pub abort: Option<Fault>,
}

/// Decode the params of a `system.multicall` call: one array of structs
/// `{methodName, params}`.
///
/// Fault texts are Python 3.11's (`<class 'KeyError'>:'params'`, …).
///
/// ```
/// use netkit::proto::xmlrpc::{decode_multicall, Value};
/// let entry = |name: &str| Value::Struct(vec![
///     ("methodName".into(), Value::from(name)),
///     ("params".into(), Value::Array(vec![Value::Int(1)])),
/// ]);
/// let m = decode_multicall(&[Value::Array(vec![entry("get"), Value::Int(3)])]).unwrap();
/// assert_eq!(m.calls.len(), 1);
/// assert_eq!(m.calls[0].as_ref().unwrap().name, "get");
/// assert_eq!(m.abort.unwrap().string, "<class 'TypeError'>:'int' object is not subscriptable");
/// ```
pub fn decode_multicall(params: &[Value]) -> Result<Multicall, Fault> {
    const QUALNAME: &str = "SimpleXMLRPCDispatcher.system_multicall()";
    let call_list = match params {
        [one] => one,
        [] => {
            return Err(python_exception_fault(
                "TypeError",
                &format!("{QUALNAME} missing 1 required positional argument: 'call_list'"),
            ))
        }
        more => {
            return Err(python_exception_fault(
                "TypeError",
                &format!(
                    "{QUALNAME} takes 2 positional arguments but {} were given",
                    more.len() + 1
                ),
            ))
        }
    };
    // Iterating a str or a dict yields str items, which then fail to be indexed by a str.
    let str_item_fault =
        || python_exception_fault("TypeError", "string indices must be integers, not 'str'");
    let entries: &[Value] = match call_list {
        Value::Array(items) => items,
        Value::String(s) if s.is_empty() => &[],
        Value::Struct(m) if m.is_empty() => &[],
        Value::String(_) | Value::Struct(_) => {
            return Ok(Multicall {
                calls: Vec::new(),
                abort: Some(str_item_fault()),
            })
        }
        other => {
            return Err(python_exception_fault(
                "TypeError",
                &format!("'{}' object is not iterable", other.python_type_name()),
            ))
        }
    };
    let mut calls = Vec::with_capacity(entries.len());
    for entry in entries {
        let members = match entry {
            Value::Struct(m) => m,
            Value::String(_) => {
                return Ok(Multicall {
                    calls,
                    abort: Some(str_item_fault()),
                })
            }
            Value::Array(_) => {
                return Ok(Multicall {
                    calls,
                    abort: Some(python_exception_fault(
                        "TypeError",
                        "list indices must be integers or slices, not str",
                    )),
                })
            }
            other => {
                return Ok(Multicall {
                    calls,
                    abort: Some(python_exception_fault(
                        "TypeError",
                        &format!("'{}' object is not subscriptable", other.python_type_name()),
                    )),
                })
            }
        };
        let get = |key: &str| members.iter().find(|(k, _)| k == key).map(|(_, v)| v);
        let (Some(name), Some(params)) = (get("methodName"), get("params")) else {
            let missing = if get("methodName").is_none() {
                "'methodName'"
            } else {
                "'params'"
            };
            return Ok(Multicall {
                calls,
                abort: Some(python_exception_fault("KeyError", missing)),
            });
        };
        calls.push(entry_call(name, params));
    }
    Ok(Multicall { calls, abort: None })
}

/// One entry's call, or the fault Python's `_dispatch` raises for it.
fn entry_call(name: &Value, params: &Value) -> Result<MethodCall, Fault> {
    let name = match name {
        Value::String(s) => s.clone(),
        // Hashable but not a registered name: "method "5" is not supported" (str() of it).
        Value::Int(_) | Value::Bool(_) | Value::Double(_) | Value::Nil => {
            let shown = py_repr(name);
            return Err(python_exception_fault(
                "Exception",
                &format!("method \"{shown}\" is not supported"),
            ));
        }
        other => {
            return Err(python_exception_fault(
                "TypeError",
                &format!("unhashable type: '{}'", other.python_type_name()),
            ))
        }
    };
    // `func(*params)`: any iterable spreads (a str into characters, a dict into its keys).
    let params = match params {
        Value::Array(items) => items.clone(),
        Value::String(s) => s.chars().map(|c| Value::String(c.into())).collect(),
        Value::Struct(m) => m.iter().map(|(k, _)| Value::String(k.clone())).collect(),
        other => {
            return Err(python_exception_fault(
                "TypeError",
                &format!(
                    "{name}() argument after * must be an iterable, not {}",
                    other.python_type_name()
                ),
            ))
        }
    };
    Ok(MethodCall { name, params })
}

/// The value `system.multicall` answers: each result wrapped in a one-element array, each
/// fault as a struct `{faultCode, faultString}`. Encode it with
/// [`encode_response`](super::encode_response).
///
/// ```
/// use netkit::proto::xmlrpc::{multicall_result, Fault, Value};
/// let v = multicall_result(vec![Ok(Value::Int(1)), Err(Fault::new(1, "boom"))]);
/// assert_eq!(v, Value::Array(vec![
///     Value::Array(vec![Value::Int(1)]),
///     Value::Struct(vec![("faultCode".into(), Value::Int(1)),
///                        ("faultString".into(), Value::from("boom"))]),
/// ]));
/// ```
pub fn multicall_result(results: impl IntoIterator<Item = Result<Value, Fault>>) -> Value {
    Value::Array(
        results
            .into_iter()
            .map(|r| match r {
                Ok(v) => Value::Array(vec![v]),
                Err(f) => Value::Struct(vec![
                    ("faultCode".into(), Value::Int(f.code.into())),
                    ("faultString".into(), Value::String(f.string)),
                ]),
            })
            .collect(),
    )
}
