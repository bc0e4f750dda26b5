//! `netkit bench`: load generators that print throughput and latency percentiles from an
//! HDR histogram, so a service can be compared with a reference in the same run.

use crate::client::{self, ClientError, ClientTls};
use hdrhistogram::Histogram;
use serde::Serialize;
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Load shape for a request/response benchmark.
#[derive(Debug, Clone)]
pub struct Load {
    pub connections: usize,
    pub duration: Duration,
    /// Run before measuring, so connection setup and cold caches don't count.
    pub warmup: Duration,
}

/// What a benchmark measured.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub target: String,
    pub connections: usize,
    pub message_bytes: usize,
    pub seconds: f64,
    pub messages: u64,
    pub messages_per_sec: f64,
    pub mib_per_sec: f64,
    pub errors: u64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub p999_us: u64,
    pub max_us: u64,
}

impl Report {
    fn new(
        target: &str,
        load: &Load,
        message_bytes: usize,
        latencies: &Histogram<u64>,
        errors: u64,
    ) -> Self {
        let seconds = load.duration.as_secs_f64();
        let messages = latencies.len();
        let rate = messages as f64 / seconds;
        Report {
            target: target.to_string(),
            connections: load.connections,
            message_bytes,
            seconds,
            messages,
            messages_per_sec: rate,
            mib_per_sec: rate * message_bytes as f64 / (1024.0 * 1024.0),
            errors,
            p50_us: latencies.value_at_quantile(0.50),
            p99_us: latencies.value_at_quantile(0.99),
            p999_us: latencies.value_at_quantile(0.999),
            max_us: latencies.max(),
        }
    }

    /// Two lines for people.
    pub fn human(&self) -> String {
        format!(
            "{}: {} connections, {} B messages, {:.1} s\n  {:.0} msg/s  {:.1} MiB/s  p50 {} µs  p99 {} µs  p99.9 {} µs  max {} µs  errors {}",
            self.target,
            self.connections,
            self.message_bytes,
            self.seconds,
            self.messages_per_sec,
            self.mib_per_sec,
            self.p50_us,
            self.p99_us,
            self.p999_us,
            self.max_us,
            self.errors
        )
    }
}

fn new_histogram() -> Histogram<u64> {
    // 1 µs to 100 s at 3 significant digits; the bounds are constants, so this can't fail.
    Histogram::new_with_bounds(1, 100_000_000, 3).expect("valid histogram bounds")
}

/// A boxed request/response exchange on one connection's state.
type Exchange<'a> = Pin<Box<dyn Future<Output = std::io::Result<()>> + Send + 'a>>;

/// Runs `exchange` over and over on every connection until the load's end, recording the
/// latency of each one that starts after the warm-up. A failed exchange ends its
/// connection and counts as an error.
async fn drive<C, F>(
    target: &str,
    connections: Vec<C>,
    load: &Load,
    bytes: usize,
    exchange: F,
) -> Report
where
    C: Send + 'static,
    F: for<'a> Fn(&'a mut C) -> Exchange<'a> + Send + Sync + Copy + 'static,
{
    let start = Instant::now();
    let measure_from = start + load.warmup;
    let end = measure_from + load.duration;
    let tasks: Vec<_> = connections
        .into_iter()
        .map(|mut connection| {
            tokio::spawn(async move {
                let mut latencies = new_histogram();
                let mut errors = 0u64;
                while Instant::now() < end {
                    let sent_at = Instant::now();
                    match exchange(&mut connection).await {
                        Ok(()) if sent_at >= measure_from => {
                            let _ = latencies.record(sent_at.elapsed().as_micros() as u64);
                        }
                        Ok(()) => {}
                        Err(_) => {
                            errors += 1;
                            break;
                        }
                    }
                }
                (latencies, errors)
            })
        })
        .collect();
    let (latencies, errors) = merge(tasks).await;
    Report::new(target, load, bytes, &latencies, errors)
}

/// Each connection sends `size` bytes, waits for all of them to come back, and repeats.
pub async fn echo(
    addr: &str,
    tls: Option<&ClientTls>,
    load: &Load,
    size: usize,
) -> Result<Report, ClientError> {
    let mut connections = Vec::with_capacity(load.connections);
    for _ in 0..load.connections {
        let stream = client::connect(addr, tls, Duration::from_secs(10)).await?;
        connections.push((stream, vec![b'x'; size], vec![0u8; size]));
    }
    Ok(
        drive(addr, connections, load, size, |(stream, payload, echo)| {
            Box::pin(async move {
                stream.write_all(payload).await?;
                stream.flush().await?;
                stream.read_exact(echo).await?;
                Ok(())
            })
        })
        .await,
    )
}

/// Each multiprocessing connection sends one pre-pickled message and waits for the reply:
/// `message` for the conn echo, or a pickled RPC request.
pub async fn frames(
    addr: &str,
    tls: Option<&ClientTls>,
    authkey: Option<&[u8]>,
    load: &Load,
    message: Vec<u8>,
) -> Result<Report, ClientError> {
    let mut connections = Vec::with_capacity(load.connections);
    for _ in 0..load.connections {
        let connection =
            client::conn::open(addr, tls, authkey, 64 << 20, Duration::from_secs(10)).await?;
        connections.push((connection, message.clone()));
    }
    let bytes = message.len();
    Ok(
        drive(addr, connections, load, bytes, |(connection, message)| {
            Box::pin(async move {
                connection.send_bytes(message).await?;
                match connection.recv_bytes().await {
                    Ok(Some(_)) => Ok(()),
                    Ok(None) => Err(std::io::ErrorKind::UnexpectedEof.into()),
                    Err(e) => Err(std::io::Error::other(e)),
                }
            })
        })
        .await,
    )
}

/// Each of `load.connections` clients connects, runs the authkey handshake, exchanges
/// one message and closes, over and over: new authenticated connections per second.
pub async fn handshakes(
    addr: &str,
    authkey: Option<&[u8]>,
    load: &Load,
    message: Vec<u8>,
) -> Result<Report, ClientError> {
    // One connection first, so a wrong address or key is an error, not a zero.
    drop(client::conn::open(addr, None, authkey, 1 << 20, Duration::from_secs(10)).await?);
    let key: Option<std::sync::Arc<[u8]>> = authkey.map(std::sync::Arc::from);
    let clients: Vec<_> = (0..load.connections)
        .map(|_| (addr.to_string(), key.clone(), message.clone()))
        .collect();
    let bytes = message.len();
    Ok(drive(addr, clients, load, bytes, |(addr, key, message)| {
        Box::pin(async move {
            let timeout = Duration::from_secs(10);
            let mut connection = client::conn::open(addr, None, key.as_deref(), 1 << 20, timeout)
                .await
                .map_err(std::io::Error::other)?;
            connection.send_bytes(message).await?;
            match connection.recv_bytes().await {
                Ok(Some(_)) => Ok(()),
                Ok(None) => Err(std::io::ErrorKind::UnexpectedEof.into()),
                Err(e) => Err(std::io::Error::other(e)),
            }
        })
    })
    .await)
}

/// New connections per second: each of `load.connections` loops connect → send `size`
/// bytes → read their echo → half-close → wait for the server's close. The server closes
/// first, so TIME_WAIT stays on its side and the client never runs out of ports. Each
/// whole exchange is one "message" of the report; its latency includes the connect.
pub async fn connect(addr: &str, load: &Load, size: usize) -> Result<Report, ClientError> {
    let target = tokio::net::lookup_host(addr)
        .await?
        .next()
        .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::NotFound))?;
    let start = Instant::now();
    let measure_from = start + load.warmup;
    let end = measure_from + load.duration;
    let tasks: Vec<_> = (0..load.connections)
        .map(|_| {
            tokio::spawn(async move {
                let payload = vec![b'x'; size];
                let mut echo = vec![0u8; size];
                let mut latencies = new_histogram();
                let mut errors = 0u64;
                while Instant::now() < end {
                    let started = Instant::now();
                    let exchange = async {
                        let mut stream = tokio::net::TcpStream::connect(target).await?;
                        stream.set_nodelay(true)?;
                        stream.write_all(&payload).await?;
                        stream.read_exact(&mut echo).await?;
                        stream.shutdown().await?;
                        let mut rest = [0u8; 64];
                        match stream.read(&mut rest).await? {
                            0 => Ok(()),
                            _ => Err(std::io::Error::other("unexpected bytes after the echo")),
                        }
                    };
                    match tokio::time::timeout(Duration::from_secs(10), exchange).await {
                        Ok(Ok(())) if started >= measure_from => {
                            let _ = latencies.record(started.elapsed().as_micros() as u64);
                        }
                        Ok(Ok(())) => {}
                        _ => {
                            errors += 1;
                            tokio::time::sleep(Duration::from_millis(1)).await;
                        }
                    }
                }
                (latencies, errors)
            })
        })
        .collect();
    let (latencies, errors) = merge(tasks).await;
    Ok(Report::new(addr, load, size, &latencies, errors))
}

/// Each connection alternates `set(key, value)` and `get(key)` with its own key and a
/// `size`-byte string value; every call (each HTTP request) counts as one message. A
/// server that closes after each call (Python's) costs a reconnect, as it does Python's
/// own clients.
pub async fn xmlrpc(
    url: &str,
    load: &Load,
    size: usize,
) -> Result<Report, crate::client::xmlrpc::CallError> {
    use crate::client::xmlrpc::XmlRpcClient;
    use crate::proto::xmlrpc::Value;
    let mut clients = Vec::with_capacity(load.connections);
    for i in 0..load.connections {
        let mut client = XmlRpcClient::new(url, None, Duration::from_secs(30))?;
        // Connects, and checks the server is a key-value server before measuring.
        client
            .call("set", &[Value::from(format!("bench{i}")), Value::from("")])
            .await?;
        clients.push(client);
    }
    let start = Instant::now();
    let measure_from = start + load.warmup;
    let end = measure_from + load.duration;
    let tasks: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(i, mut client)| {
            tokio::spawn(async move {
                let key = Value::from(format!("bench{i}"));
                let value = Value::from("v".repeat(size));
                let mut latencies = new_histogram();
                let mut errors = 0u64;
                let mut n = 0u64;
                while Instant::now() < end {
                    let sent_at = Instant::now();
                    let result = if n.is_multiple_of(2) {
                        client.call("set", &[key.clone(), value.clone()]).await
                    } else {
                        client.call("get", std::slice::from_ref(&key)).await
                    };
                    n += 1;
                    match result {
                        Ok(_) if sent_at >= measure_from => {
                            let _ = latencies.record(sent_at.elapsed().as_micros() as u64);
                        }
                        Ok(_) => {}
                        Err(error) => {
                            tracing::debug!(%error, "xmlrpc bench call failed");
                            errors += 1;
                            if errors > 100 {
                                break;
                            }
                        }
                    }
                }
                (latencies, errors)
            })
        })
        .collect();
    let (latencies, errors) = merge(tasks).await;
    Ok(Report::new(url, load, size, &latencies, errors))
}

/// Each of `load.connections` UDP clients sends an empty datagram and waits for the
/// ctime answer (a lost one counts as an error after a second).
pub async fn time(addr: &str, load: &Load) -> Result<Report, ClientError> {
    let target = tokio::net::lookup_host(addr)
        .await?
        .next()
        .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::NotFound))?;
    let start = Instant::now();
    let measure_from = start + load.warmup;
    let end = measure_from + load.duration;
    let mut tasks = Vec::new();
    for _ in 0..load.connections {
        let socket = tokio::net::UdpSocket::bind(if target.is_ipv4() {
            "0.0.0.0:0"
        } else {
            "[::]:0"
        })
        .await?;
        socket.connect(target).await?;
        tasks.push(tokio::spawn(async move {
            let mut latencies = new_histogram();
            let mut errors = 0u64;
            let mut reply = [0u8; 512];
            while Instant::now() < end {
                let sent_at = Instant::now();
                if socket.send(&[]).await.is_err() {
                    errors += 1;
                    continue;
                }
                match tokio::time::timeout(Duration::from_secs(1), socket.recv(&mut reply)).await {
                    Ok(Ok(_)) if sent_at >= measure_from => {
                        let _ = latencies.record(sent_at.elapsed().as_micros() as u64);
                    }
                    Ok(Ok(_)) => {}
                    _ => errors += 1,
                }
            }
            (latencies, errors)
        }));
    }
    let (latencies, errors) = merge(tasks).await;
    Ok(Report::new(addr, load, 24, &latencies, errors))
}

async fn merge(
    tasks: Vec<tokio::task::JoinHandle<(Histogram<u64>, u64)>>,
) -> (Histogram<u64>, u64) {
    let mut all = new_histogram();
    let mut errors = 0;
    for task in tasks {
        match task.await {
            Ok((latencies, task_errors)) => {
                let _ = all.add(&latencies);
                errors += task_errors;
            }
            Err(_) => errors += 1,
        }
    }
    (all, errors)
}

/// What holding many idle connections showed.
#[derive(Debug, Clone, Serialize)]
pub struct IdleReport {
    pub target: String,
    pub requested: usize,
    pub opened: usize,
    /// Connections that still echoed a byte after the hold.
    pub alive_after_hold: usize,
    pub hold_seconds: f64,
}

/// Opens `count` connections, holds them idle for `hold`, then checks that each still
/// echoes one byte. For measuring a server's memory per idle connection.
pub async fn idle(addr: &str, count: usize, hold: Duration) -> Result<IdleReport, ClientError> {
    let mut streams = Vec::with_capacity(count);
    for _ in 0..count {
        match client::connect(addr, None, Duration::from_secs(10)).await {
            Ok(stream) => streams.push(stream),
            Err(error) => {
                tracing::warn!(%error, opened = streams.len(), "stopped opening connections");
                break;
            }
        }
    }
    let opened = streams.len();
    tokio::time::sleep(hold).await;
    let mut alive = 0;
    for stream in &mut streams {
        let check = async {
            stream.write_all(b"!").await?;
            let mut byte = [0u8; 1];
            stream.read_exact(&mut byte).await?;
            Ok::<_, std::io::Error>(byte == *b"!")
        };
        if let Ok(Ok(true)) = tokio::time::timeout(Duration::from_secs(5), check).await {
            alive += 1;
        }
    }
    Ok(IdleReport {
        target: addr.to_string(),
        requested: count,
        opened,
        alive_after_hold: alive,
        hold_seconds: hold.as_secs_f64(),
    })
}
