//! The load generator of bench/reload.sh (issue 17: a reload must not stall serving).
//!
//! Runs an echo ping-pong on CONNECTIONS connections that records the time of every reply,
//! opens a new connection (connect, TLS handshake, one echo) every CONNECT_EVERY_MS
//! throughout, and sends the server HUPS SIGHUPs, INTERVAL_MS apart, after a second of
//! warm-up. Then it compares windows around each HUP ([hup - LEAD_MS, hup + WINDOW_MS))
//! with windows of the same length half an interval later, where no HUP falls (the
//! baseline: this process shares the cores with the server, so gaps happen without a HUP
//! too), and prints one JSON report:
//! - the largest gap between consecutive replies on any one connection, per window;
//! - the largest stall of the whole server (no reply on any connection), per window;
//! - the latency (connect + handshake + first echo) of the new connections started in
//!   each kind of window.
//!
//! Usage: reload_gap ADDR --pid PID [--ca CA.pem] [--connections 64] [--size 64]
//!        [--hups 20] [--interval-ms 250] [--window-ms 50] [--lead-ms 10]
//!        [--connect-every-ms 5]

use clap::Parser;
use netkit::client::{self, ClientStream, ClientTls};
use netkit::tls::ClientTlsFiles;
use serde::Serialize;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[derive(Parser)]
struct Args {
    /// The echo server, host:port.
    addr: String,
    /// The server's process, which gets the SIGHUPs.
    #[arg(long)]
    pid: i32,
    /// Speak TLS, trusting this CA (the server's certificate must name localhost).
    #[arg(long)]
    ca: Option<PathBuf>,
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Message size in bytes.
    #[arg(long, default_value_t = 64)]
    size: usize,
    #[arg(long, default_value_t = 20)]
    hups: u32,
    #[arg(long, default_value_t = 250)]
    interval_ms: u64,
    /// How long after a HUP its window lasts.
    #[arg(long, default_value_t = 50)]
    window_ms: u64,
    /// How long before a HUP its window starts.
    #[arg(long, default_value_t = 10)]
    lead_ms: u64,
    #[arg(long, default_value_t = 5)]
    connect_every_ms: u64,
}

const WARMUP: Duration = Duration::from_secs(1);
const TAIL: Duration = Duration::from_millis(500);
const TIMEOUT: Duration = Duration::from_secs(5);

/// Times are microseconds since the start of the run.
type Micros = u64;

#[derive(Serialize)]
struct Report {
    connections: usize,
    message_bytes: usize,
    seconds: f64,
    replies: usize,
    replies_per_sec: f64,
    /// Ping-pong connections that failed (a wrong echo, a close, an error).
    errors: usize,
    hups_sent: usize,
    window_us: Micros,
    /// Per connection: the largest gap between two replies, over each kind of window.
    gap_hup: Spread,
    gap_base: Spread,
    /// The whole server: the longest time without a reply on any connection.
    stall_hup: Spread,
    stall_base: Spread,
    /// New connections: connect (+ handshake) + first echo, by when they started.
    connect_hup: Latency,
    connect_base: Latency,
    connect_errors: usize,
    /// What the first failed new connection met, if any did.
    connect_error: Option<String>,
    /// When the largest stall in a HUP window began, relative to that window's HUP.
    stall_hup_worst_after_hup_us: i64,
}

/// The per-window maxima of a kind of window: their median and their largest.
#[derive(Serialize)]
struct Spread {
    windows: usize,
    median_us: Micros,
    max_us: Micros,
}

#[derive(Serialize)]
struct Latency {
    count: usize,
    p50_us: Micros,
    p99_us: Micros,
    max_us: Micros,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let tls = match &args.ca {
        Some(ca) => {
            let files = ClientTlsFiles {
                ca: Some(ca.clone()),
                cert: None,
                key: None,
            };
            Some(ClientTls::from_files(&files, Some("localhost".into()))?)
        }
        None => None,
    };
    let message: Arc<[u8]> = (0..args.size).map(|i| b'a' + (i % 26) as u8).collect();

    let mut streams = Vec::with_capacity(args.connections);
    for _ in 0..args.connections {
        streams.push(client::connect(&args.addr, tls.as_ref(), TIMEOUT).await?);
    }
    let start = Instant::now();
    let hup_at: Vec<Duration> = (0..args.hups)
        .map(|i| WARMUP + Duration::from_millis(args.interval_ms) * i)
        .collect();
    let end = *hup_at.last().unwrap_or(&WARMUP) + Duration::from_millis(args.interval_ms) + TAIL;

    let ping_pongs: Vec<_> = streams
        .into_iter()
        .map(|stream| tokio::spawn(ping_pong(stream, message.clone(), start, end)))
        .collect();
    let new_connections = tokio::spawn(open_new_connections(
        args.addr.clone(),
        tls.clone(),
        message.clone(),
        Duration::from_millis(args.connect_every_ms),
        start,
        end,
    ));
    let mut hups = Vec::with_capacity(hup_at.len());
    for at in &hup_at {
        tokio::time::sleep_until((start + *at).into()).await;
        hups.push(micros(start.elapsed()));
        rustix::process::kill_process(
            rustix::process::Pid::from_raw(args.pid)
                .ok_or_else(|| anyhow::anyhow!("bad --pid {}", args.pid))?,
            rustix::process::Signal::HUP,
        )?;
    }

    let mut replies = Vec::with_capacity(ping_pongs.len());
    let mut errors = 0;
    for task in ping_pongs {
        let (times, failed) = task.await?;
        errors += usize::from(failed);
        replies.push(times);
    }
    let (connects, connect_errors, connect_error) = new_connections.await?;

    let window = Windows::new(&hups, &args);
    let mut everything: Vec<Micros> = replies.iter().flatten().copied().collect();
    everything.sort_unstable();
    let gap_in = |windows: &[(Micros, Micros)]| {
        let maxima: Vec<Micros> = windows
            .iter()
            .map(|&w| replies.iter().map(|t| largest_gap(t, w)).max().unwrap_or(0))
            .collect();
        Spread::of(maxima)
    };
    let stall_in = |windows: &[(Micros, Micros)]| {
        Spread::of(
            windows
                .iter()
                .map(|&w| largest_gap(&everything, w))
                .collect(),
        )
    };
    let connect_in = |windows: &[(Micros, Micros)]| {
        let in_windows = connects
            .iter()
            .filter(|(started, _)| windows.iter().any(|&(s, e)| (s..e).contains(started)))
            .map(|&(_, latency)| latency)
            .collect();
        Latency::of(in_windows)
    };
    let seconds = end.as_secs_f64();
    let report = Report {
        connections: args.connections,
        message_bytes: args.size,
        seconds,
        replies: everything.len(),
        replies_per_sec: everything.len() as f64 / seconds,
        errors,
        hups_sent: hups.len(),
        window_us: window.length,
        gap_hup: gap_in(&window.hup),
        gap_base: gap_in(&window.base),
        stall_hup: stall_in(&window.hup),
        stall_base: stall_in(&window.base),
        connect_hup: connect_in(&window.hup),
        connect_base: connect_in(&window.base),
        connect_errors,
        connect_error,
        stall_hup_worst_after_hup_us: worst_stall_after_hup(&everything, &window.hup, &hups),
    };
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}

/// One connection's ping-pong until `end`: the time of every reply, and whether it failed.
async fn ping_pong(
    mut stream: ClientStream,
    message: Arc<[u8]>,
    start: Instant,
    end: Duration,
) -> (Vec<Micros>, bool) {
    let mut times = Vec::with_capacity(1 << 16);
    let mut echo = vec![0; message.len()];
    loop {
        let round = async {
            stream.write_all(&message).await?;
            stream.flush().await?; // TLS: the record leaves only on flush
            stream.read_exact(&mut echo).await
        };
        match tokio::time::timeout(TIMEOUT, round).await {
            Ok(Ok(_)) if echo[..] == message[..] => {}
            _ => return (times, true),
        }
        let now = start.elapsed();
        times.push(micros(now));
        if now >= end {
            return (times, false);
        }
    }
}

/// A new connection every `every` until `end`, each on its own task so that a slow one does
/// not hold up the next: (start time, connect + first echo latency) of each, and the count
/// that failed.
async fn open_new_connections(
    addr: String,
    tls: Option<ClientTls>,
    message: Arc<[u8]>,
    every: Duration,
    start: Instant,
    end: Duration,
) -> (Vec<(Micros, Micros)>, usize, Option<String>) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut tasks = Vec::new();
    while start.elapsed() < end {
        ticks.tick().await;
        let (addr, tls, message) = (addr.clone(), tls.clone(), message.clone());
        tasks.push(tokio::spawn(async move {
            let started = start.elapsed();
            let first_echo = async {
                let mut stream = client::connect(&addr, tls.as_ref(), TIMEOUT).await?;
                stream.write_all(&message).await?;
                stream.flush().await?;
                let mut echo = vec![0; message.len()];
                stream.read_exact(&mut echo).await?;
                anyhow::ensure!(echo[..] == message[..], "wrong echo");
                Ok(())
            };
            match tokio::time::timeout(TIMEOUT, first_echo).await {
                Ok(Ok(())) => Ok((micros(started), micros(start.elapsed() - started))),
                Ok(Err(error)) => Err(error.to_string()),
                Err(_) => Err("timed out".to_string()),
            }
        }));
    }
    let mut done = Vec::with_capacity(tasks.len());
    let (mut failed, mut first_error) = (0, None);
    for task in tasks {
        match task.await {
            Ok(Ok(sample)) => done.push(sample),
            Ok(Err(error)) => {
                failed += 1;
                first_error.get_or_insert(error);
            }
            Err(error) => {
                failed += 1;
                first_error.get_or_insert(error.to_string());
            }
        }
    }
    (done, failed, first_error)
}

/// The windows around each HUP and, half an interval later, the baseline windows.
struct Windows {
    length: Micros,
    hup: Vec<(Micros, Micros)>,
    base: Vec<(Micros, Micros)>,
}

impl Windows {
    fn new(hups: &[Micros], args: &Args) -> Windows {
        let (lead, after) = (args.lead_ms * 1000, args.window_ms * 1000);
        let half = args.interval_ms * 1000 / 2;
        let around = |at: Micros| (at.saturating_sub(lead), at + after);
        Windows {
            length: lead + after,
            hup: hups.iter().map(|&h| around(h)).collect(),
            base: hups.iter().map(|&h| around(h + half)).collect(),
        }
    }
}

/// The largest gap between consecutive `times` (sorted) that overlaps `[from, to)`,
/// counting the time from the last reply before `to` to `to` when no reply follows.
fn largest_gap(times: &[Micros], (from, to): (Micros, Micros)) -> Micros {
    let first = times.partition_point(|&t| t < from);
    let last = times.partition_point(|&t| t < to);
    // The replies that bound gaps overlapping the window: one before it (if any) up to the
    // first one at or after its end (if any).
    let lo = first.saturating_sub(1);
    let hi = (last + 1).min(times.len());
    let bounded = times[lo..hi].windows(2).map(|pair| pair[1] - pair[0]).max();
    let open_end = match times[..last].last() {
        Some(&previous) if last == times.len() => to - previous.max(from),
        _ => 0,
    };
    bounded.unwrap_or(0).max(open_end)
}

/// Where the largest whole-server stall of the HUP windows began, relative to its HUP.
fn worst_stall_after_hup(
    everything: &[Micros],
    windows: &[(Micros, Micros)],
    hups: &[Micros],
) -> i64 {
    let worst = windows
        .iter()
        .zip(hups)
        .max_by_key(|(&window, _)| largest_gap(everything, window));
    let Some((&(from, to), &hup)) = worst else {
        return 0;
    };
    let gap = largest_gap(everything, (from, to));
    // The reply that opens the gap: the last one before a reply `gap` later, in the window.
    let first = everything.partition_point(|&t| t < from).saturating_sub(1);
    let last = (everything.partition_point(|&t| t < to) + 1).min(everything.len());
    let opened = everything[first..last]
        .windows(2)
        .find(|pair| pair[1] - pair[0] == gap)
        .map_or(from, |pair| pair[0]);
    opened as i64 - hup as i64
}

impl Spread {
    fn of(mut maxima: Vec<Micros>) -> Spread {
        maxima.sort_unstable();
        Spread {
            windows: maxima.len(),
            median_us: quantile(&maxima, 0.5),
            max_us: maxima.last().copied().unwrap_or(0),
        }
    }
}

impl Latency {
    fn of(mut samples: Vec<Micros>) -> Latency {
        samples.sort_unstable();
        Latency {
            count: samples.len(),
            p50_us: quantile(&samples, 0.5),
            p99_us: quantile(&samples, 0.99),
            max_us: samples.last().copied().unwrap_or(0),
        }
    }
}

/// The `q` quantile of sorted `values` (nearest rank), 0 when there are none.
fn quantile(values: &[Micros], q: f64) -> Micros {
    if values.is_empty() {
        return 0;
    }
    let rank = ((q * values.len() as f64).ceil() as usize).clamp(1, values.len());
    values[rank - 1]
}

fn micros(elapsed: Duration) -> Micros {
    elapsed.as_micros() as Micros
}
