//! Recipe 6's `KeyValueServer` over XML-RPC: `get set delete exists keys` with the exact
//! answers and fault texts of CPython's `SimpleXMLRPCServer`, plus its introspection
//! (`system.listMethods`, `system.methodHelp`, `system.methodSignature`) and
//! `system.multicall`.
//!
//! The HTTP side is the shared connection [`driver`] (HTTP/1.1, h2c, h2 over TLS);
//! [`handle`] is what Python's `SimpleXMLRPCRequestHandler.do_POST` does with a
//! request, and [`dispatch`] runs the call.

use super::http::driver::{self, DriverOptions, Handler};
use super::{Lifecycle, TcpOptions, TcpSource};
use crate::kv::{Store, StoreError};
use crate::proto::xmlrpc::{
    decode_multicall, encode_fault, encode_response, multicall_result, parse_call, py_repr,
    python_exception_fault, Fault, Limits, MethodCall, Value, XmlRpcError,
};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::Duration;

/// Python's `SimpleXMLRPCRequestHandler.encode_threshold`: replies longer than this are
/// gzipped when the client accepts gzip.
pub const GZIP_THRESHOLD: usize = 1400;

/// The paths Python's handler serves (`rpc_paths`).
const RPC_PATHS: [&str; 2] = ["/", "/RPC2"];

/// Caps on a request head: Python's `http.server` allows 100 fields (of up to 64 KiB a
/// line); a whole head of 64 KiB is far more than any XML-RPC client sends.
const MAX_HEADER_BYTES: usize = 64 * 1024;
const MAX_HEADERS: usize = 100;

#[derive(Debug, Clone)]
pub struct XmlRpcOptions {
    /// Caps on each request document (size also applies after gunzip).
    pub limits: Limits,
    /// Time a client gets to send a request's headers, and longest idle keep-alive.
    pub idle_timeout: Duration,
}

impl Default for XmlRpcOptions {
    fn default() -> Self {
        XmlRpcOptions {
            limits: Limits::default(),
            idle_timeout: Duration::from_secs(300),
        }
    }
}

/// The XML-RPC service as a handler of the shared HTTP driver.
struct XmlRpc {
    store: Store,
    options: XmlRpcOptions,
}

/// Serves XML-RPC on `listener` until shutdown.
pub async fn run(
    listener: impl Into<TcpSource>,
    tcp: TcpOptions,
    options: XmlRpcOptions,
    store: Store,
    lifecycle: Lifecycle,
) -> std::io::Result<()> {
    let driver_options = DriverOptions {
        header_timeout: options.idle_timeout,
        max_header_bytes: MAX_HEADER_BYTES,
        max_headers: MAX_HEADERS,
        h2c_upgrade: true,
    };
    let handler = XmlRpc { store, options };
    driver::serve(listener, tcp, driver_options, handler, lifecycle).await
}

impl Handler for XmlRpc {
    type Body = Full<Bytes>;

    async fn handle(&self, request: Request<Incoming>, _peer: SocketAddr) -> Reply {
        handle(request, self).await
    }

    /// Faults are answers with status 200, but errors all the same.
    fn is_error(&self, reply: &Reply) -> bool {
        reply.status() != StatusCode::OK || reply.extensions().get::<FaultAnswered>().is_some()
    }
}

type Reply = Response<Full<Bytes>>;

/// Marks a reply that carries a fault (counted as a request error).
#[derive(Clone, Copy)]
struct FaultAnswered;

fn fault_reply(body: Vec<u8>, accepts_gzip: bool) -> Reply {
    let mut reply = xml_reply(body, accepts_gzip);
    reply.extensions_mut().insert(FaultAnswered);
    reply
}

fn plain(status: StatusCode, text: &str) -> Reply {
    let mut response = Response::new(Full::new(Bytes::from(text.to_owned())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// One HTTP request: what Python's `SimpleXMLRPCRequestHandler.do_POST` does with it.
async fn handle(request: Request<Incoming>, state: &XmlRpc) -> Reply {
    if request.method() != Method::POST {
        return plain(
            StatusCode::NOT_IMPLEMENTED,
            &format!("Unsupported method ({:?})\n", request.method().as_str()),
        );
    }
    if !RPC_PATHS.contains(&request.uri().path()) {
        return plain(StatusCode::NOT_FOUND, "No such page\n");
    }
    let limit = state.options.limits.max_document_size;
    let encoding = request
        .headers()
        .get(header::CONTENT_ENCODING)
        .map(|v| v.as_bytes().trim_ascii());
    let gzipped = match encoding {
        None => false,
        Some(coding) if coding.eq_ignore_ascii_case(b"identity") => false,
        Some(coding) if coding.eq_ignore_ascii_case(b"gzip") => true,
        Some(other) => {
            let other = String::from_utf8_lossy(other).to_ascii_lowercase();
            return plain(
                StatusCode::NOT_IMPLEMENTED,
                &format!("encoding {other:?} not supported\n"),
            );
        }
    };
    let accepts_gzip = accepts_gzip(request.headers().get(header::ACCEPT_ENCODING));
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    // Past the cap the body is not read: the fault goes back and the connection closes
    // (the client reconnects for its next call).
    let oversize = |size: u64| {
        let fault = XmlRpcError::DocumentTooLarge {
            size: usize::try_from(size).unwrap_or(usize::MAX),
            limit,
        }
        .to_fault();
        let mut reply = fault_reply(encode_fault(fault.code, &fault.string), accepts_gzip);
        reply
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        reply
    };
    if let Some(size) = declared.filter(|&n| n > limit as u64) {
        return oversize(size);
    }
    let body = match Limited::new(request.into_body(), limit).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(error) => {
            if error.is::<http_body_util::LengthLimitError>() {
                return oversize(limit as u64 + 1);
            }
            return plain(StatusCode::BAD_REQUEST, "could not read the request body\n");
        }
    };
    let document = if gzipped {
        match gunzip(&body, limit) {
            Ok(Some(doc)) => Bytes::from(doc),
            Ok(None) => return oversize(limit as u64 + 1),
            Err(_) => return plain(StatusCode::BAD_REQUEST, "error decoding gzip content\n"),
        }
    } else {
        body
    };
    match parse_call(&document, &state.options.limits) {
        Ok(call) => match dispatch(&state.store, call).await {
            Ok(value) => xml_reply(encode_response(&value), accepts_gzip),
            Err(fault) => fault_reply(encode_fault(fault.code, &fault.string), accepts_gzip),
        },
        Err(error) => {
            tracing::debug!(%error, "refused an XML-RPC document");
            let fault = error.to_fault();
            fault_reply(encode_fault(fault.code, &fault.string), accepts_gzip)
        }
    }
}

fn xml_reply(body: Vec<u8>, accepts_gzip: bool) -> Reply {
    let (body, gzipped) = if accepts_gzip && body.len() > GZIP_THRESHOLD {
        match gzip(&body) {
            Ok(z) => (z, true),
            Err(_) => (body, false),
        }
    } else {
        (body, false)
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/xml"));
    if gzipped {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    response
}

/// Whether `Accept-Encoding` names gzip with a non-zero q (as Python's `accept_encodings`).
fn accepts_gzip(value: Option<&HeaderValue>) -> bool {
    let Some(text) = value.and_then(|v| v.to_str().ok()) else {
        return false;
    };
    text.split(',').any(|item| {
        let mut parts = item.split(';');
        let coding = parts.next().unwrap_or("").trim();
        if !coding.eq_ignore_ascii_case("gzip") {
            return false;
        }
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .next()
            .and_then(|q| q.trim().parse::<f64>().ok())
            .unwrap_or(1.0);
        q > 0.0
    })
}

fn gzip(data: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(data)?;
    encoder.finish()
}

/// The gunzipped body, `None` if it inflates past `limit` (a gzip bomb stops there).
fn gunzip(data: &[u8], limit: usize) -> std::io::Result<Option<Vec<u8>>> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(data)
        .take(limit as u64 + 1)
        .read_to_end(&mut out)?;
    Ok((out.len() <= limit).then_some(out))
}

/// The methods, as `system.listMethods` lists them (sorted).
pub const METHODS: [&str; 9] = [
    "delete",
    "exists",
    "get",
    "keys",
    "set",
    "system.listMethods",
    "system.methodHelp",
    "system.methodSignature",
    "system.multicall",
];

/// Python's docstrings for the `system.*` methods (the recipe's own methods have none).
fn method_help(name: &str) -> &'static str {
    match name {
        "system.listMethods" => "system.listMethods() => ['add', 'subtract', 'multiple']\n\nReturns a list of the methods supported by the server.",
        "system.methodHelp" => "system.methodHelp('add') => \"Adds two integers together\"\n\nReturns a string containing documentation for the specified method.",
        "system.methodSignature" => "system.methodSignature('add') => [double, int, int]\n\nReturns a list describing the signature of the method. In the\nabove example, the add method takes two integers as arguments\nand returns a double result.\n\nThis server does NOT support system.methodSignature.",
        "system.multicall" => "system.multicall([{'methodName': 'add', 'params': [2, 2]}, ...]) => [[4], ...]\n\nAllows the caller to package multiple XML-RPC calls into a single\nrequest.\n\nSee http://www.xmlrpc.com/discuss/msgReader$1208",
        _ => "",
    }
}

/// Python 3.10+'s `TypeError` for a call with the wrong number of arguments.
fn arity<const N: usize>(
    function: &str,
    names: [&str; N],
    params: Vec<Value>,
) -> Result<[Value; N], Fault> {
    let given = params.len();
    match <[Value; N]>::try_from(params) {
        Ok(args) => Ok(args),
        Err(_) if given < N => {
            let missing: Vec<String> = names[given..].iter().map(|n| format!("'{n}'")).collect();
            let list = match missing.as_slice() {
                [one] => one.clone(),
                [init @ .., last] => format!("{} and {last}", init.join(", ")),
                [] => String::new(),
            };
            let plural = if missing.len() == 1 {
                "argument"
            } else {
                "arguments"
            };
            Err(python_exception_fault(
                "TypeError",
                &format!(
                    "{function}() missing {} required positional {plural}: {list}",
                    missing.len()
                ),
            ))
        }
        Err(_) => {
            let takes = N + 1;
            let plural = if takes == 1 { "argument" } else { "arguments" };
            Err(python_exception_fault(
                "TypeError",
                &format!(
                    "{function}() takes {takes} positional {plural} but {} were given",
                    given + 1
                ),
            ))
        }
    }
}

fn store_fault(error: StoreError) -> Fault {
    match error {
        StoreError::Unhashable(t) => {
            python_exception_fault("TypeError", &format!("unhashable type: '{t}'"))
        }
        StoreError::Backend(message) => {
            tracing::error!(%message, "kv store failed");
            python_exception_fault("OSError", &message)
        }
    }
}

fn key_error(key: &Value) -> Fault {
    python_exception_fault("KeyError", &py_repr(key))
}

/// Runs one call against `store`: the value to answer or the fault, exactly as the
/// recipe's server (with introspection and multicall registered) would.
pub async fn dispatch(store: &Store, call: MethodCall) -> Result<Value, Fault> {
    let MethodCall { name, params } = call;
    match name.as_str() {
        "get" => {
            let [key] = arity("KeyValueServer.get", ["name"], params)?;
            match store.get(&key).await.map_err(store_fault)? {
                Some(value) => Ok(value),
                None => Err(key_error(&key)),
            }
        }
        "set" => {
            let [key, value] = arity("KeyValueServer.set", ["name", "value"], params)?;
            store.set(key, value).await.map_err(store_fault)?;
            Ok(Value::Nil)
        }
        "delete" => {
            let [key] = arity("KeyValueServer.delete", ["name"], params)?;
            if store.delete(&key).await.map_err(store_fault)? {
                Ok(Value::Nil)
            } else {
                Err(key_error(&key))
            }
        }
        "exists" => {
            let [key] = arity("KeyValueServer.exists", ["name"], params)?;
            Ok(Value::Bool(store.exists(&key).await.map_err(store_fault)?))
        }
        "keys" => {
            let [] = arity("KeyValueServer.keys", [], params)?;
            Ok(Value::Array(store.keys().await.map_err(store_fault)?))
        }
        "system.listMethods" => {
            let [] = arity("SimpleXMLRPCDispatcher.system_listMethods", [], params)?;
            Ok(Value::Array(
                METHODS.iter().map(|m| Value::from(*m)).collect(),
            ))
        }
        "system.methodHelp" => {
            let [method] = arity(
                "SimpleXMLRPCDispatcher.system_methodHelp",
                ["method_name"],
                params,
            )?;
            crate::kv::KeyId::of(&method).map_err(store_fault)?;
            Ok(Value::from(method.as_str().map(method_help).unwrap_or("")))
        }
        "system.methodSignature" => {
            let [_] = arity(
                "SimpleXMLRPCDispatcher.system_methodSignature",
                ["method_name"],
                params,
            )?;
            Ok(Value::from("signatures not supported"))
        }
        "system.multicall" => {
            let multicall = decode_multicall(&params)?;
            let mut results = Vec::with_capacity(multicall.calls.len());
            for call in multicall.calls {
                results.push(match call {
                    // Boxed: a recursive call (only multicall's pays for it).
                    Ok(call) => Box::pin(dispatch(store, call)).await,
                    Err(fault) => Err(fault),
                });
            }
            match multicall.abort {
                Some(fault) => Err(fault),
                None => Ok(multicall_result(results)),
            }
        }
        other => Err(python_exception_fault(
            "Exception",
            &format!("method \"{other}\" is not supported"),
        )),
    }
}
