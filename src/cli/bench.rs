//! `netkit bench …`: load generators printing throughput and latency percentiles.

use super::{runtime, seconds, usage, ClientTlsArgs, Failure};
use anyhow::Context;
use clap::{Args, Subcommand};

#[derive(Args, Debug)]
pub struct LoadArgs {
    /// Concurrent connections (UDP: concurrent clients)
    #[arg(short, long, default_value_t = 64)]
    connections: usize,
    /// Seconds to measure
    #[arg(short, long, value_name = "SECONDS", default_value_t = 10.0)]
    duration: f64,
    /// Seconds to run before measuring
    #[arg(long, value_name = "SECONDS", default_value_t = 1.0)]
    warmup: f64,
    /// Print one JSON object instead of text
    #[arg(long)]
    json: bool,
}

impl LoadArgs {
    fn load(&self) -> Result<netkit::bench::Load, Failure> {
        if self.connections == 0 {
            return Err(usage(anyhow::anyhow!("--connections must be at least 1")));
        }
        Ok(netkit::bench::Load {
            connections: self.connections,
            duration: seconds("--duration", self.duration)?,
            warmup: seconds("--warmup", self.warmup)?,
        })
    }
}

#[derive(Subcommand, Debug)]
pub enum BenchCommand {
    /// Ping-pong fixed-size messages with an echo server
    #[command(
        after_help = "Example:\n  netkit bench echo 127.0.0.1:20000 --connections 64 --size 64 --duration 10"
    )]
    Echo {
        addr: String,
        #[command(flatten)]
        load: LoadArgs,
        /// Bytes per message
        #[arg(short, long, default_value_t = 64)]
        size: usize,
        #[command(flatten)]
        tls: ClientTlsArgs,
    },
    /// Pickled messages through a multiprocessing.connection echo (serve --conn)
    #[command(
        after_help = "Example:\n  netkit bench conn 127.0.0.1:25000 --authkey peekaboo --connections 64 --duration 10"
    )]
    Conn {
        addr: String,
        #[command(flatten)]
        load: LoadArgs,
        /// multiprocessing authkey
        #[arg(long, value_name = "KEY")]
        authkey: Option<String>,
        /// Message: this JSON value, pickled
        #[arg(long, default_value = "[\"hello\", 42, [1, 2, 3]]")]
        message: String,
        /// A new connection (and handshake) for every message: connections per second
        #[arg(long)]
        reconnect: bool,
    },
    /// Calls of add(2, 3) on a pickle RPC server (serve --rpc, or the recipe's)
    #[command(
        after_help = "Example:\n  netkit bench rpc 127.0.0.1:17000 --authkey peekaboo --connections 64 --duration 10"
    )]
    Rpc {
        addr: String,
        #[command(flatten)]
        load: LoadArgs,
        /// multiprocessing authkey
        #[arg(long, value_name = "KEY")]
        authkey: Option<String>,
    },
    /// New connections per second: connect, send, read the echo, close, repeat
    #[command(
        after_help = "Example (through a handoff server and its workers):\n  netkit bench connect 127.0.0.1:15000 --connections 32 --size 16 --duration 10"
    )]
    Connect {
        addr: String,
        #[command(flatten)]
        load: LoadArgs,
        /// Bytes sent (and echoed) on each connection
        #[arg(short, long, default_value_t = 16)]
        size: usize,
    },
    /// Request/response against a UDP time server
    #[command(
        after_help = "Example:\n  netkit bench time 127.0.0.1:20000 --connections 16 --duration 5"
    )]
    Time {
        addr: String,
        #[command(flatten)]
        load: LoadArgs,
    },
    /// set and get calls against an XML-RPC key-value server (recipe 6), keep-alive
    #[command(
        after_help = "Example:\n  netkit bench xmlrpc http://127.0.0.1:15000 --connections 16 --duration 10"
    )]
    Xmlrpc {
        url: String,
        #[command(flatten)]
        load: LoadArgs,
        /// Bytes of each stored string value
        #[arg(short, long, default_value_t = 16)]
        size: usize,
    },
    /// Hold many idle connections to an echo server, then check each still echoes
    #[command(
        after_help = "Example (compare the server's VmHWM in /proc/PID/status):\n  netkit bench idle 127.0.0.1:20000 --connections 10000 --hold 5"
    )]
    Idle {
        addr: String,
        #[arg(short, long, default_value_t = 10_000)]
        connections: usize,
        /// Seconds to hold them
        #[arg(long, value_name = "SECONDS", default_value_t = 5.0)]
        hold: f64,
    },
}

pub fn run(command: BenchCommand) -> Result<(), Failure> {
    let print = |report: &netkit::bench::Report, json: bool| {
        if json {
            println!("{}", serde_json::to_string(report).unwrap_or_default());
        } else {
            println!("{}", report.human());
        }
    };
    match command {
        BenchCommand::Echo {
            addr,
            load,
            size,
            tls,
        } => {
            let tls = tls.to_client_tls()?;
            let json = load.json;
            let load = load.load()?;
            let report =
                runtime()?.block_on(netkit::bench::echo(&addr, tls.as_ref(), &load, size))?;
            print(&report, json);
        }
        BenchCommand::Conn {
            addr,
            load,
            authkey,
            message,
            reconnect,
        } => {
            use netkit::proto::pickle;
            let json: serde_json::Value = serde_json::from_str(&message)
                .with_context(|| format!("--message is not JSON: {message}"))
                .map_err(usage)?;
            let value = pickle::from_json(&json).map_err(usage)?;
            let frame = pickle::dumps(&value, pickle::Protocol::V4);
            let json_out = load.json;
            let load = load.load()?;
            let key = authkey.as_ref().map(|k| k.as_bytes());
            let report = if reconnect {
                runtime()?.block_on(netkit::bench::handshakes(&addr, key, &load, frame))?
            } else {
                runtime()?.block_on(netkit::bench::frames(&addr, None, key, &load, frame))?
            };
            print(&report, json_out);
        }
        BenchCommand::Rpc {
            addr,
            load,
            authkey,
        } => {
            use netkit::proto::pickle::{self, Protocol, Value};
            let request = Value::tuple(vec![
                Value::str("add"),
                Value::tuple(vec![Value::Int(2), Value::Int(3)]),
                Value::dict([]).map_err(|e| anyhow::anyhow!("{e}"))?,
            ]);
            let inner = pickle::dumps(&request, Protocol::V4);
            let frame = pickle::dumps(&Value::bytes(&inner), Protocol::V4);
            let json_out = load.json;
            let load = load.load()?;
            let key = authkey.as_ref().map(|k| k.as_bytes());
            let report =
                runtime()?.block_on(netkit::bench::frames(&addr, None, key, &load, frame))?;
            print(&report, json_out);
        }
        BenchCommand::Connect { addr, load, size } => {
            let json = load.json;
            let load = load.load()?;
            let report = runtime()?.block_on(netkit::bench::connect(&addr, &load, size))?;
            print(&report, json);
        }
        BenchCommand::Time { addr, load } => {
            let json = load.json;
            let load = load.load()?;
            let report = runtime()?.block_on(netkit::bench::time(&addr, &load))?;
            print(&report, json);
        }
        BenchCommand::Xmlrpc { url, load, size } => {
            let json = load.json;
            let load = load.load()?;
            let report = runtime()?.block_on(netkit::bench::xmlrpc(&url, &load, size))?;
            print(&report, json);
        }
        BenchCommand::Idle {
            addr,
            connections,
            hold,
        } => {
            let hold = seconds("--hold", hold)?;
            let report = runtime()?.block_on(netkit::bench::idle(&addr, connections, hold))?;
            println!("{}", serde_json::to_string(&report).unwrap_or_default());
        }
    }
    Ok(())
}
