//! Clients of `multiprocessing.connection` servers (recipes 7 and 8): netkit's own or
//! Python's `Listener`, with the authkey handshake when a key is given.

use super::{connect, ClientError, ClientStream, ClientTls};
use crate::mpconn::MpConnection;
use crate::proto::pickle::{self, Protocol, Value};
use std::time::Duration;

/// Connects and, with an authkey, runs the client side of the handshake
/// (what `Client(address, authkey=…)` does).
pub async fn open(
    addr: &str,
    tls: Option<&ClientTls>,
    authkey: Option<&[u8]>,
    max_frame: u64,
    timeout: Duration,
) -> Result<MpConnection<ClientStream>, ClientError> {
    let stream = connect(addr, tls, timeout).await?;
    let mut connection = MpConnection::new(stream, max_frame);
    if let Some(key) = authkey {
        tokio::time::timeout(timeout, connection.client_handshake(key))
            .await
            .map_err(|_| ClientError::Timeout {
                addr: addr.to_string(),
                timeout,
            })??;
    }
    Ok(connection)
}

/// `conn.send(obj)` then `conn.recv()`: one pickled message each way.
pub async fn exchange(
    connection: &mut MpConnection<ClientStream>,
    message: &Value,
    limits: &pickle::Limits,
) -> Result<Value, ClientError> {
    connection
        .send_bytes(&pickle::dumps(message, Protocol::V4))
        .await?;
    let reply = connection.recv_bytes().await?.ok_or(ClientError::Closed)?;
    Ok(pickle::loads(&reply, limits)?)
}

/// The recipe's `RPCProxy` call: sends `pickle.dumps((name, args, kwargs))` and returns
/// the unpickled result, which is a [`Value::Exception`] when the function raised.
pub async fn call(
    connection: &mut MpConnection<ClientStream>,
    name: &str,
    args: Vec<Value>,
    kwargs: Vec<(String, Value)>,
    limits: &pickle::Limits,
) -> Result<Value, ClientError> {
    let kwargs = Value::dict(kwargs.into_iter().map(|(k, v)| (Value::str(&k), v)))
        .map_err(|e| ClientError::Pickle(e.to_string()))?;
    let request = Value::tuple(vec![Value::str(name), Value::tuple(args), kwargs]);
    let inner = pickle::dumps(&request, Protocol::V4);
    let reply = exchange(connection, &Value::bytes(&inner), limits).await?;
    let Some(bytes) = reply.as_bytes() else {
        return Err(ClientError::BadReply {
            addr: "the server".into(),
            expected: "a pickled bytes object",
        });
    };
    Ok(pickle::loads(bytes, limits)?)
}
