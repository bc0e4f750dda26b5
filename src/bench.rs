//! `netkit bench`: load generators that print throughput and latency percentiles from an
//! HDR histogram, so a service can be compared with a reference in the same run.

use crate::client::{self, ClientError, ClientTls};
use hdrhistogram::Histogram;
use serde::Serialize;
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

/// Each connection sends `size` bytes, waits for all of them to come back, and repeats.
pub async fn echo(
    addr: &str,
    tls: Option<&ClientTls>,
    load: &Load,
    size: usize,
) -> Result<Report, ClientError> {
    let mut streams = Vec::with_capacity(load.connections);
    for _ in 0..load.connections {
        streams.push(client::connect(addr, tls, Duration::from_secs(10)).await?);
    }
    let start = Instant::now();
    let measure_from = start + load.warmup;
    let end = measure_from + load.duration;
    let tasks: Vec<_> = streams
        .into_iter()
        .map(|mut stream| {
            tokio::spawn(async move {
                let payload = vec![b'x'; size];
                let mut echo = vec![0u8; size];
                let mut latencies = new_histogram();
                let mut errors = 0u64;
                while Instant::now() < end {
                    let sent_at = Instant::now();
                    let exchange = async {
                        stream.write_all(&payload).await?;
                        stream.flush().await?;
                        stream.read_exact(&mut echo).await
                    };
                    match exchange.await {
                        Ok(_) if sent_at >= measure_from => {
                            let _ = latencies.record(sent_at.elapsed().as_micros() as u64);
                        }
                        Ok(_) => {}
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
