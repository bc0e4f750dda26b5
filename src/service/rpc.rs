//! Recipe 8's pickle RPC: the client sends `pickle.dumps((name, args, kwargs))` as a
//! pickled `bytes` message (so every frame is pickled twice) and gets back the pickled
//! result, or the pickled exception that `RPCProxy` raises. Unlike the recipe, an unknown
//! name or a malformed request is answered with an exception and the connection lives on.
//!
//! ```
//! use netkit::proto::pickle::Value;
//! use netkit::service::rpc::{Call, RpcServer};
//!
//! let mut server = RpcServer::with_recipe_functions();
//! server.register("upper", |call: &Call| {
//!     let [text] = call.bind("upper", &["text"])?;
//!     match text.as_str() {
//!         Some(s) => Ok(Value::str(&s.to_uppercase())),
//!         None => Err(Value::exception("TypeError", vec![Value::str("text must be str")])),
//!     }
//! });
//! assert!(server.names().any(|n| n == "upper"));
//! ```

use super::conn::FrameOptions;
use super::{Lifecycle, TcpOptions, TcpSource};
use crate::proto::pickle::{self, Protocol, Value};
use bytes::Bytes;
use num_bigint::BigInt;
use std::collections::HashMap;
use std::io;
use std::sync::Arc;

/// A call's arguments, as the client passed them.
#[derive(Debug)]
pub struct Call {
    pub args: Vec<Value>,
    pub kwargs: Vec<(String, Value)>,
}

/// A function's outcome: its value, or the exception to send back (a
/// [`Value::Exception`]).
pub type Outcome = Result<Value, Value>;

type Function = Arc<dyn Fn(&Call) -> Outcome + Send + Sync>;

fn type_error(message: String) -> Value {
    Value::exception("TypeError", vec![Value::str(&message)])
}

impl Call {
    /// Binds the arguments to parameter names as Python does for `def name(params…)`,
    /// with Python's TypeError messages for a wrong call.
    pub fn bind<const N: usize>(
        &self,
        name: &str,
        params: &[&str; N],
    ) -> Result<[Value; N], Value> {
        if self.args.len() > N {
            return Err(type_error(format!(
                "{name}() takes {N} positional argument{} but {} {} given",
                if N == 1 { "" } else { "s" },
                self.args.len(),
                if self.args.len() == 1 { "was" } else { "were" }
            )));
        }
        let mut slots: [Option<Value>; N] = std::array::from_fn(|i| self.args.get(i).cloned());
        for (key, value) in &self.kwargs {
            let Some(i) = params.iter().position(|p| p == key) else {
                return Err(type_error(format!(
                    "{name}() got an unexpected keyword argument '{key}'"
                )));
            };
            if slots[i].is_some() {
                return Err(type_error(format!(
                    "{name}() got multiple values for argument '{key}'"
                )));
            }
            slots[i] = Some(value.clone());
        }
        let missing: Vec<String> = params
            .iter()
            .zip(&slots)
            .filter(|(_, slot)| slot.is_none())
            .map(|(p, _)| format!("'{p}'"))
            .collect();
        if !missing.is_empty() {
            let list = match missing.as_slice() {
                [one] => one.clone(),
                [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
                [] => String::new(),
            };
            return Err(type_error(format!(
                "{name}() missing {} required positional argument{}: {list}",
                missing.len(),
                if missing.len() == 1 { "" } else { "s" }
            )));
        }
        Ok(slots.map(|slot| slot.unwrap_or(Value::None)))
    }
}

/// The functions a pickle RPC server offers, by name.
#[derive(Clone, Default)]
pub struct RpcServer {
    functions: HashMap<String, Function>,
    /// Pickle limits for requests: a request is data from the network.
    pub limits: pickle::Limits,
}

impl RpcServer {
    /// A server with no functions.
    pub fn new() -> Self {
        Self::default()
    }

    /// The recipe's functions: `add(x, y)` and `sub(x, y)`, with Python's semantics.
    pub fn with_recipe_functions() -> Self {
        let mut server = Self::new();
        server.register("add", |call: &Call| {
            let [x, y] = call.bind("add", &["x", "y"])?;
            add(&x, &y)
        });
        server.register("sub", |call: &Call| {
            let [x, y] = call.bind("sub", &["x", "y"])?;
            sub(&x, &y)
        });
        server
    }

    /// Offers `function` under `name` (replacing any function of that name).
    pub fn register(
        &mut self,
        name: &str,
        function: impl Fn(&Call) -> Outcome + Send + Sync + 'static,
    ) -> &mut Self {
        self.functions.insert(name.to_string(), Arc::new(function));
        self
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.functions.keys().map(String::as_str)
    }

    /// Answers one frame: the pickled reply to a pickled request. Never fails: whatever
    /// goes wrong becomes a pickled exception.
    pub fn handle_frame(&self, frame: &[u8]) -> Vec<u8> {
        self.answer_frame(frame).0
    }

    /// [`handle_frame`](Self::handle_frame), and whether the answer is an exception.
    pub fn answer_frame(&self, frame: &[u8]) -> (Vec<u8>, bool) {
        let outcome = match self.parse_request(frame) {
            Ok((name, call)) => match self.functions.get(&name) {
                // The recipe looks the name up in a dict: KeyError('name').
                None => Err(Value::exception("KeyError", vec![Value::str(&name)])),
                Some(function) => function(&call),
            },
            Err(exception) => Err(exception),
        };
        let raised = outcome.is_err();
        let result = match outcome {
            Ok(value) | Err(value) => value,
        };
        // Pickled twice, as the recipe's `connection.send(pickle.dumps(r))` does.
        let inner = pickle::dumps(&result, Protocol::V4);
        (pickle::dumps(&Value::bytes(&inner), Protocol::V4), raised)
    }

    fn parse_request(&self, frame: &[u8]) -> Result<(String, Call), Value> {
        let malformed = |why: String| {
            Value::exception(
                "ValueError",
                vec![Value::str(&format!(
                    "malformed RPC request ({why}); expected pickle.dumps((name, args, kwargs))"
                ))],
            )
        };
        let outer = pickle::loads(frame, &self.limits).map_err(|e| malformed(e.to_string()))?;
        let Some(inner) = outer.as_bytes() else {
            return Err(malformed(format!(
                "message is {}, not bytes",
                outer.type_name()
            )));
        };
        let request = pickle::loads(inner, &self.limits).map_err(|e| malformed(e.to_string()))?;
        let parts = match &request {
            Value::Tuple(_) | Value::List(_) => request.to_items().unwrap_or_default(),
            other => return Err(malformed(format!("request is {}", other.type_name()))),
        };
        let [name, args, kwargs] = <[Value; 3]>::try_from(parts)
            .map_err(|parts| malformed(format!("request has {} items, not 3", parts.len())))?;
        let name = name
            .as_str()
            .ok_or_else(|| malformed(format!("name is {}", name.type_name())))?
            .to_string();
        let args = args
            .to_items()
            .filter(|_| matches!(args, Value::Tuple(_) | Value::List(_)))
            .ok_or_else(|| malformed(format!("args is {}", args.type_name())))?;
        let kwargs = match &kwargs {
            Value::Dict(map) => map
                .borrow()
                .iter()
                .map(|(k, v)| match k.value().as_str() {
                    Some(key) => Ok((key.to_string(), v.clone())),
                    None => Err(type_error(format!("{name}() keywords must be strings"))),
                })
                .collect::<Result<Vec<_>, _>>()?,
            Value::None => Vec::new(),
            other => return Err(malformed(format!("kwargs is {}", other.type_name()))),
        };
        Ok((name, Call { args, kwargs }))
    }
}

/// A Python number, for arithmetic.
enum Number {
    Int(BigInt),
    Float(f64),
}

fn number(v: &Value) -> Option<Number> {
    match v {
        Value::Float(f) => Some(Number::Float(*f)),
        other => other.to_bigint().map(Number::Int),
    }
}

fn to_float(i: &BigInt) -> Result<f64, Value> {
    use num_traits::ToPrimitive;
    // Rounded to nearest like Python; past f64::MAX Python raises where this saturates.
    i.to_f64().filter(|f| f.is_finite()).ok_or_else(|| {
        Value::exception(
            "OverflowError",
            vec![Value::str("int too large to convert to float")],
        )
    })
}

fn arithmetic(
    x: &Value,
    y: &Value,
    int_op: fn(BigInt, BigInt) -> BigInt,
    float_op: fn(f64, f64) -> f64,
) -> Option<Outcome> {
    let result = match (number(x)?, number(y)?) {
        (Number::Int(a), Number::Int(b)) => Ok(Value::int(int_op(a, b))),
        (Number::Float(a), Number::Float(b)) => Ok(Value::Float(float_op(a, b))),
        (Number::Int(a), Number::Float(b)) => to_float(&a).map(|a| Value::Float(float_op(a, b))),
        (Number::Float(a), Number::Int(b)) => to_float(&b).map(|b| Value::Float(float_op(a, b))),
    };
    Some(result)
}

fn unsupported(symbol: char, x: &Value, y: &Value) -> Value {
    type_error(format!(
        "unsupported operand type(s) for {symbol}: '{}' and '{}'",
        x.type_name(),
        y.type_name()
    ))
}

/// `x + y` as Python computes it for numbers, str, bytes, lists and tuples.
pub fn add(x: &Value, y: &Value) -> Outcome {
    if let Some(result) = arithmetic(x, y, |a, b| a + b, |a, b| a + b) {
        return result;
    }
    let concat_error = |kind: &str| {
        type_error(format!(
            "can only concatenate {kind} (not \"{}\") to {kind}",
            y.type_name()
        ))
    };
    match (x, y) {
        (Value::Str(a), Value::Str(b)) => {
            let points: Vec<u32> = a.code_points().chain(b.code_points()).collect();
            pickle::PyStr::from_code_points(points)
                .map(Value::Str)
                .ok_or_else(|| concat_error("str"))
        }
        (Value::Str(_), _) => Err(concat_error("str")),
        (Value::Bytes(a), Value::Bytes(b)) => Ok(Value::bytes(&[&a[..], &b[..]].concat())),
        (Value::Bytes(_), _) => Err(type_error(format!(
            "can't concat {} to bytes",
            y.type_name()
        ))),
        (Value::List(a), Value::List(b)) => Ok(Value::list(
            a.borrow()
                .iter()
                .chain(b.borrow().iter())
                .cloned()
                .collect(),
        )),
        (Value::List(_), _) => Err(concat_error("list")),
        (Value::Tuple(a), Value::Tuple(b)) => Ok(Value::tuple(
            a.borrow()
                .iter()
                .chain(b.borrow().iter())
                .cloned()
                .collect(),
        )),
        (Value::Tuple(_), _) => Err(concat_error("tuple")),
        _ => Err(unsupported('+', x, y)),
    }
}

/// `x - y` as Python computes it for numbers.
pub fn sub(x: &Value, y: &Value) -> Outcome {
    arithmetic(x, y, |a, b| a - b, |a, b| a - b).unwrap_or_else(|| Err(unsupported('-', x, y)))
}

pub async fn run(
    listener: impl Into<TcpSource>,
    tcp: TcpOptions,
    options: FrameOptions,
    server: Arc<RpcServer>,
    lifecycle: Lifecycle,
) -> io::Result<()> {
    let metrics = tcp.metrics.clone();
    let reply = move |frame: Bytes| {
        let (answer, raised) = server.answer_frame(&frame);
        if raised {
            metrics.request_error();
        }
        Bytes::from(answer)
    };
    super::conn::run(listener, tcp, options, lifecycle, reply).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(name: &str, args: Vec<Value>) -> Vec<u8> {
        let inner = Value::tuple(vec![
            Value::str(name),
            Value::tuple(args),
            Value::dict([]).unwrap(),
        ]);
        pickle::dumps(
            &Value::bytes(&pickle::dumps(&inner, Protocol::V4)),
            Protocol::V4,
        )
    }

    fn answer(server: &RpcServer, frame: &[u8]) -> Value {
        let outer = pickle::loads(&server.handle_frame(frame), &Default::default()).unwrap();
        pickle::loads(outer.as_bytes().unwrap(), &Default::default()).unwrap()
    }

    #[test]
    fn add_and_sub() {
        let server = RpcServer::with_recipe_functions();
        assert_eq!(
            answer(&server, &request("add", vec![Value::Int(2), Value::Int(3)])).repr(),
            "5"
        );
        assert_eq!(
            answer(
                &server,
                &request("add", vec![Value::Int(i64::MAX), Value::Int(1)])
            )
            .repr(),
            "9223372036854775808"
        );
        assert_eq!(
            answer(
                &server,
                &request("sub", vec![Value::Float(1.5), Value::Int(2)])
            )
            .repr(),
            "-0.5"
        );
        assert_eq!(
            answer(
                &server,
                &request("add", vec![Value::str("a"), Value::str("b")])
            )
            .repr(),
            "'ab'"
        );
        assert_eq!(
            answer(
                &server,
                &request(
                    "add",
                    vec![
                        Value::list(vec![Value::Int(1)]),
                        Value::list(vec![Value::Int(2)])
                    ]
                )
            )
            .repr(),
            "[1, 2]"
        );
    }

    #[test]
    fn python_errors() {
        let server = RpcServer::with_recipe_functions();
        let cases = [
            (request("mul", vec![]), "KeyError('mul')"),
            (
                request("add", vec![Value::Int(1)]),
                "TypeError(\"add() missing 1 required positional argument: 'y'\")",
            ),
            (
                request("add", vec![]),
                "TypeError(\"add() missing 2 required positional arguments: 'x' and 'y'\")",
            ),
            (
                request("add", vec![Value::Int(1), Value::Int(2), Value::Int(3)]),
                "TypeError('add() takes 2 positional arguments but 3 were given')",
            ),
            (
                request("add", vec![Value::Int(1), Value::str("x")]),
                "TypeError(\"unsupported operand type(s) for +: 'int' and 'str'\")",
            ),
            (
                request("add", vec![Value::str("x"), Value::Int(1)]),
                "TypeError('can only concatenate str (not \"int\") to str')",
            ),
            (
                request("sub", vec![Value::str("x"), Value::str("y")]),
                "TypeError(\"unsupported operand type(s) for -: 'str' and 'str'\")",
            ),
        ];
        for (frame, expected) in cases {
            assert_eq!(answer(&server, &frame).repr(), expected);
        }
    }

    #[test]
    fn malformed_requests_get_a_value_error() {
        let server = RpcServer::with_recipe_functions();
        for frame in [
            b"garbage".to_vec(),
            pickle::dumps(&Value::Int(3), Protocol::V4),
            pickle::dumps(&Value::bytes(b"not a pickle"), Protocol::V4),
        ] {
            let reply = answer(&server, &frame).repr();
            assert!(
                reply.starts_with("ValueError('malformed RPC request"),
                "{reply}"
            );
        }
    }
}
