//! The subcommands of the `netkit` binary, one module each, as cargo's
//! `src/bin/cargo/commands/`: each owns its clap `Args` and its `run`. What several of
//! them share (client TLS flags, seconds, the runtime, the error that carries an exit
//! code) lives here.

pub mod bench;
pub mod bulk;
pub mod cidr;
pub mod completions;
pub mod conn;
pub mod echo;
pub mod handoff;
pub mod http;
pub mod kv;
pub mod man;
pub mod rpc;
pub mod serve;
pub mod time;
pub mod tls;
pub mod xmlrpc;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use netkit::client::ClientTls;
use netkit::tls::ClientTlsFiles;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Parser, Debug)]
#[command(
    name = "netkit",
    version,
    about = "The Python Cookbook's network recipes as fast, wire-compatible services and clients",
    after_help = "Examples:\n  netkit serve                      # every service on its default address\n  netkit serve --echo 127.0.0.1:0   # just echo, on a free port\n  echo hi | netkit echo 127.0.0.1:20000\n  netkit time 127.0.0.1:20000 --sntp"
)]
pub struct Cli {
    /// More logging on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides.
    /// For `netkit http`, -v prints the request and the response instead
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,

    /// Log lines on stderr: `text` for people, `json` for collectors (one object a line:
    /// timestamp, level, target, fields with the message)
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run services: echo, time (UDP), conn, rpc, xmlrpc and http; all of them when none
    /// is named (handoff needs its socket path)
    #[command(after_help = serve::AFTER_HELP)]
    // Boxed: the serve flags are by far the largest variant.
    Serve(Box<serve::ServeArgs>),
    /// Copy stdin to an echo server and its echo to stdout, like nc
    #[command(after_help = echo::AFTER_HELP)]
    Echo(echo::EchoArgs),
    /// Ask a UDP time server for the time (recipe 3), or SNTP with --sntp
    #[command(after_help = time::AFTER_HELP)]
    Time(time::TimeArgs),
    /// Send JSON values as pickled messages to a multiprocessing.connection server (recipe 7)
    #[command(after_help = conn::AFTER_HELP)]
    Conn(conn::ConnArgs),
    /// Call a function on a pickle RPC server (recipe 8), netkit's or the recipe's
    #[command(after_help = rpc::AFTER_HELP)]
    Rpc(rpc::RpcArgs),
    /// Call an XML-RPC method (recipe 6): ARGs are JSON literals (strings otherwise), the
    /// answer is printed as JSON
    #[command(after_help = xmlrpc::AFTER_HELP)]
    Xmlrpc(xmlrpc::XmlrpcArgs),
    /// Use recipe 6's key-value server: get, set, delete, exists, keys
    #[command(after_help = kv::AFTER_HELP)]
    Kv(kv::KvArgs),
    /// Send an HTTP request, httpie style: [METHOD] URL [ITEM...]
    #[command(
        disable_help_flag = true,
        override_usage = "netkit http [OPTIONS] [METHOD] URL [ITEM]...",
        after_help = http::AFTER_HELP
    )]
    Http(http::HttpArgs),
    /// Networks and addresses, answered exactly like Python's ipaddress (recipe 4)
    Cidr(cidr::CidrArgs),
    /// TLS tools
    #[command(subcommand)]
    Tls(tls::TlsCommand),
    /// Load generators printing throughput and latency percentiles
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// Send and receive large files and NumPy arrays at wire speed (recipe 13)
    #[command(subcommand)]
    Bulk(bulk::BulkCommand),
    /// Serve sockets handed over a Unix socket (recipe 11)
    #[command(subcommand)]
    Handoff(handoff::HandoffCommand),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell)
    #[command(after_help = completions::AFTER_HELP)]
    Completions(completions::CompletionsArgs),
    /// Write the manual pages (roff), one per subcommand
    #[command(after_help = man::AFTER_HELP)]
    Man(man::ManArgs),
}

impl Command {
    /// Runs the subcommand; `verbose` is the global -v count (httpie's -v for `http`).
    pub fn run(self, verbose: u8) -> Result<ExitCode, Failure> {
        let done = |outcome: Result<(), Failure>| outcome.map(|()| ExitCode::SUCCESS);
        match self {
            Command::Serve(args) => done(serve::run(*args)),
            Command::Echo(args) => done(echo::run(args)),
            Command::Time(args) => done(time::run(args)),
            Command::Conn(args) => done(conn::run(args)),
            Command::Rpc(args) => rpc::run(args),
            Command::Xmlrpc(args) => done(xmlrpc::run(args)),
            Command::Kv(args) => done(kv::run(args)),
            Command::Http(args) => http::run(args, verbose > 0),
            Command::Cidr(args) => cidr::run(args),
            Command::Tls(command) => done(tls::run(command)),
            Command::Bench(command) => done(bench::run(command)),
            Command::Bulk(command) => bulk::run(command),
            Command::Handoff(command) => done(handoff::run(command)),
            Command::Completions(args) => done(completions::run(args)),
            Command::Man(args) => done(man::run(args)),
        }
    }
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// The certificate files a TLS client may present or trust: one definition for every
/// client subcommand (`echo`, `conn`, `rpc`, `bench`, `bulk send`, `xmlrpc`, `kv`, `http`).
/// Global, so that `netkit kv URL get KEY --cacert ca.pem` works after the subcommand too.
#[derive(Args, Debug, Clone, Default)]
pub struct TlsFileArgs {
    /// CA certificate(s) to trust (PEM) [default: the system's]
    #[arg(long, value_name = "PEM", global = true)]
    pub cacert: Option<PathBuf>,
    /// Client certificate (PEM), for servers started with --tls-client-ca
    #[arg(long, value_name = "PEM", requires = "client_key", global = true)]
    pub cert: Option<PathBuf>,
    /// Private key of --cert (PEM)
    #[arg(long = "key", value_name = "PEM", requires = "cert", global = true)]
    pub client_key: Option<PathBuf>,
}

impl TlsFileArgs {
    pub fn files(&self) -> ClientTlsFiles {
        ClientTlsFiles {
            ca: self.cacert.clone(),
            cert: self.cert.clone(),
            key: self.client_key.clone(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.cacert.is_none() && self.cert.is_none()
    }
}

/// TLS for the clients of TCP services, where `--tls` turns it on.
#[derive(Args, Debug)]
pub struct ClientTlsArgs {
    /// Speak TLS
    #[arg(long)]
    pub tls: bool,
    #[command(flatten)]
    pub files: TlsFileArgs,
    /// Name to check the server certificate against [default: the host of ADDR]
    #[arg(long, value_name = "NAME")]
    pub servername: Option<String>,
}

impl ClientTlsArgs {
    pub fn to_client_tls(&self) -> Result<Option<ClientTls>, Failure> {
        if !self.tls {
            if !self.files.is_empty() || self.servername.is_some() {
                return Err(usage(anyhow::anyhow!(
                    "--cacert, --cert and --servername need --tls"
                )));
            }
            return Ok(None);
        }
        ClientTls::from_files(&self.files.files(), self.servername.clone())
            .map(Some)
            .map_err(usage)
    }
}

/// An error and the exit code it deserves (2: bad usage, config or startup; 1: failure at
/// run time).
pub struct Failure {
    pub code: u8,
    pub error: anyhow::Error,
}

impl<E: Into<anyhow::Error>> From<E> for Failure {
    fn from(error: E) -> Self {
        Failure {
            code: 1,
            error: error.into(),
        }
    }
}

/// A mistake in what the user asked for: exit code 2.
pub fn usage(error: impl Into<anyhow::Error>) -> Failure {
    Failure {
        code: 2,
        error: error.into(),
    }
}

/// A `--timeout`-style flag as a duration.
pub fn seconds(flag: &str, value: f64) -> Result<Duration, Failure> {
    if !(value.is_finite() && value >= 0.0) {
        return Err(usage(anyhow::anyhow!(
            "{flag}: {value} is not a number of seconds"
        )));
    }
    Ok(Duration::from_secs_f64(value))
}

/// A size flag (`64MiB`, `1048576`), when given.
pub fn size_flag(flag: &'static str, text: Option<&str>) -> Result<Option<u64>, Failure> {
    text.map(|t| netkit::config::parse_size(flag, t))
        .transpose()
        .map_err(usage)
}

/// The multi-threaded runtime every networked subcommand runs on.
pub fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    runtime_with_threads(None)
}

/// The runtime with `threads` worker threads (`None`: one per core).
pub fn runtime_with_threads(threads: Option<usize>) -> Result<tokio::runtime::Runtime, Failure> {
    raise_fd_limit();
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = threads {
        builder.worker_threads(n);
    }
    builder
        .enable_all()
        .build()
        .context("cannot start the async runtime")
        .map_err(Failure::from)
}

/// Servers and load generators hold many sockets: lift the soft file limit to the hard one.
pub fn raise_fd_limit() {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let limit = getrlimit(Resource::Nofile);
    if limit.current < limit.maximum {
        let raised = rustix::process::Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        };
        if let Err(error) = setrlimit(Resource::Nofile, raised) {
            tracing::debug!(%error, "could not raise the open-file limit");
        }
    }
}

/// A command-line argument as JSON when it parses, else as the string itself.
pub fn json_or_string(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|_| serde_json::Value::String(text.to_string()))
}
