//! The `netkit` binary: clap → validated config → run. The only place that prints errors
//! for people and picks exit codes (2: bad usage, config or startup; 1: failure at run time).

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use netkit::auth::HmacAuth;
use netkit::client::{self, ClientTls};
use netkit::config::{Config, ServeArgs};
use netkit::proto::challenge::Digest;
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
struct Cli {
    /// More logging on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run services: any of echo (TCP) and time (UDP); all of them when none is named
    #[command(
        after_help = "Examples:\n  netkit serve\n  netkit serve --echo 127.0.0.1:0 --time 127.0.0.1:0\n  netkit serve --echo 0.0.0.0:20000 --hmac-key-file key --hmac-digest sha256\n  netkit tls gen-cert --out certs && \\\n    netkit serve --echo --tls-cert certs/server.pem --tls-key certs/server.key\n\nEach bound service prints one line on stdout:\n  netkit: echo listening on tcp://127.0.0.1:20000"
    )]
    Serve(ServeArgs),
    /// Copy stdin to an echo server and its echo to stdout, like nc
    #[command(
        after_help = "Examples:\n  echo hello | netkit echo 127.0.0.1:20000\n  netkit echo localhost:20000 --tls --cacert certs/ca.pem < file\n  netkit echo 127.0.0.1:20000 --hmac-key peekaboo"
    )]
    Echo(EchoArgs),
    /// Ask a UDP time server for the time (recipe 3), or SNTP with --sntp
    #[command(
        after_help = "Examples:\n  netkit time 127.0.0.1:20000\n  netkit time 127.0.0.1:20000 --sntp"
    )]
    Time(TimeArgs),
    /// Networks and addresses, answered exactly like Python's ipaddress (recipe 4)
    Cidr(netkit::cidr::cli::CidrArgs),
    /// TLS tools
    #[command(subcommand)]
    Tls(TlsCommand),
    /// Load generators printing throughput and latency percentiles
    #[command(subcommand)]
    Bench(BenchCommand),
}

#[derive(Args, Debug)]
struct ClientTlsArgs {
    /// Speak TLS
    #[arg(long)]
    tls: bool,
    /// CA certificate(s) to trust (PEM) [default: the system's]
    #[arg(long, value_name = "PEM")]
    cacert: Option<PathBuf>,
    /// Client certificate (PEM), for servers started with --tls-client-ca
    #[arg(long, value_name = "PEM", requires = "key")]
    cert: Option<PathBuf>,
    /// Private key of --cert (PEM)
    #[arg(long, value_name = "PEM", requires = "cert")]
    key: Option<PathBuf>,
    /// Name to check the server certificate against [default: the host of ADDR]
    #[arg(long, value_name = "NAME")]
    servername: Option<String>,
}

impl ClientTlsArgs {
    fn to_client_tls(&self) -> anyhow::Result<Option<ClientTls>> {
        if !self.tls {
            anyhow::ensure!(
                self.cacert.is_none() && self.cert.is_none() && self.servername.is_none(),
                "--cacert, --cert and --servername need --tls"
            );
            return Ok(None);
        }
        let files = ClientTlsFiles {
            ca: self.cacert.clone(),
            cert: self.cert.clone(),
            key: self.key.clone(),
        };
        Ok(Some(ClientTls::from_files(
            &files,
            self.servername.clone(),
        )?))
    }
}

#[derive(Args, Debug)]
struct EchoArgs {
    /// Server address, HOST:PORT
    addr: String,
    #[command(flatten)]
    tls: ClientTlsArgs,
    /// Answer recipe 9's HMAC challenge with this key
    #[arg(long, value_name = "KEY")]
    hmac_key: Option<String>,
    /// Hash of the HMAC challenge [default: md5]
    #[arg(long, value_name = "DIGEST", default_value = "md5")]
    hmac_digest: String,
    /// Seconds to wait for the connection and handshakes
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0)]
    timeout: f64,
}

#[derive(Args, Debug)]
struct TimeArgs {
    /// Server address, HOST:PORT
    addr: String,
    /// Ask with SNTPv4 and print the server time, offset and delay
    #[arg(long)]
    sntp: bool,
    /// Seconds to wait for each answer
    #[arg(long, value_name = "SECONDS", default_value_t = 1.0)]
    timeout: f64,
    /// Times to ask before giving up
    #[arg(long, value_name = "N", default_value_t = 3)]
    attempts: u32,
}

#[derive(Subcommand, Debug)]
enum TlsCommand {
    /// Write a local CA and server and client certificates signed by it
    #[command(
        after_help = "Writes ca.pem, server.pem, server.key, client.pem, client.key.\n\nExamples:\n  netkit tls gen-cert --out certs\n  netkit tls gen-cert --out certs --name myhost.example --name 10.1.2.3"
    )]
    GenCert {
        /// Directory to write into (created if missing)
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// DNS name or IP address the server certificate is for; repeatable
        /// [default: localhost, 127.0.0.1 and ::1]
        #[arg(long = "name", value_name = "HOST")]
        names: Vec<String>,
    },
}

#[derive(Args, Debug)]
struct LoadArgs {
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
    fn load(&self) -> anyhow::Result<netkit::bench::Load> {
        anyhow::ensure!(self.connections > 0, "--connections must be at least 1");
        Ok(netkit::bench::Load {
            connections: self.connections,
            duration: seconds("--duration", self.duration)?,
            warmup: seconds("--warmup", self.warmup)?,
        })
    }
}

#[derive(Subcommand, Debug)]
enum BenchCommand {
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
    /// Request/response against a UDP time server
    #[command(
        after_help = "Example:\n  netkit bench time 127.0.0.1:20000 --connections 16 --duration 5"
    )]
    Time {
        addr: String,
        #[command(flatten)]
        load: LoadArgs,
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

fn seconds(flag: &str, value: f64) -> anyhow::Result<Duration> {
    anyhow::ensure!(
        value.is_finite() && value >= 0.0,
        "{flag}: {value} is not a number of seconds"
    );
    Ok(Duration::from_secs_f64(value))
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "netkit=warn",
        1 => "netkit=info",
        2 => "netkit=debug",
        _ => "netkit=trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

/// Servers and load generators hold many sockets: lift the soft file limit to the hard one.
fn raise_fd_limit() {
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

/// An error and the exit code it deserves.
struct Failure {
    code: u8,
    error: anyhow::Error,
}

impl<E: Into<anyhow::Error>> From<E> for Failure {
    fn from(error: E) -> Self {
        Failure {
            code: 1,
            error: error.into(),
        }
    }
}

fn usage(error: impl Into<anyhow::Error>) -> Failure {
    Failure {
        code: 2,
        error: error.into(),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    match run(cli.command) {
        Ok(code) => code,
        Err(failure) => {
            eprintln!("netkit: {}", one_line(&failure.error));
            ExitCode::from(failure.code)
        }
    }
}

/// The error and those of its causes that its message does not already tell, on one line.
fn one_line(error: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if !line.contains(&text) {
            if !line.is_empty() {
                line.push_str(": ");
            }
            line.push_str(&text);
        }
    }
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    raise_fd_limit();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
        .map_err(Failure::from)
}

fn run(command: Command) -> Result<ExitCode, Failure> {
    match command {
        Command::Serve(args) => {
            let config = Config::from_args(&args).map_err(usage)?;
            runtime()?
                .block_on(netkit::serve::run(config))
                .map_err(usage)?;
        }
        Command::Echo(args) => {
            let tls = args.tls.to_client_tls().map_err(usage)?;
            let timeout = seconds("--timeout", args.timeout).map_err(usage)?;
            let auth = match &args.hmac_key {
                Some(key) => Some(HmacAuth {
                    key: key.as_bytes().to_vec(),
                    digest: args.hmac_digest.parse::<Digest>().map_err(usage)?,
                }),
                None => None,
            };
            runtime()?.block_on(async {
                let stream = client::connect(&args.addr, tls.as_ref(), timeout).await?;
                client::echo::pipe(
                    stream,
                    auth.as_ref(),
                    timeout,
                    tokio::io::stdin(),
                    tokio::io::stdout(),
                )
                .await
            })?;
        }
        Command::Time(args) => {
            let patience = client::time::Patience {
                timeout: seconds("--timeout", args.timeout).map_err(usage)?,
                attempts: args.attempts,
            };
            let rt = runtime()?;
            if args.sntp {
                let answer = rt.block_on(client::time::sntp(&args.addr, patience))?;
                let server_time =
                    jiff::Timestamp::from_nanosecond((answer.server_time * 1e9) as i128)?
                        .to_zoned(jiff::tz::TimeZone::system());
                println!(
                    "{}  offset {:+.6} s  delay {:.6} s  stratum {}  ref {}",
                    server_time.strftime("%Y-%m-%d %H:%M:%S%.6f %Z"),
                    answer.offset,
                    answer.delay,
                    answer.stratum,
                    String::from_utf8_lossy(&answer.reference_id).trim_end_matches('\0'),
                );
            } else {
                println!(
                    "{}",
                    rt.block_on(client::time::ctime(&args.addr, patience))?
                );
            }
        }
        Command::Tls(TlsCommand::GenCert { out, names }) => {
            let names = if names.is_empty() {
                netkit::tls::default_names()
            } else {
                names
            };
            let written = netkit::tls::gen_cert(&out, &names)?;
            for path in [
                &written.ca,
                &written.server_cert,
                &written.server_key,
                &written.client_cert,
                &written.client_key,
            ] {
                println!("{}", path.display());
            }
        }
        Command::Cidr(args) => return Ok(netkit::cidr::cli::run(args)?),
        Command::Bench(bench) => run_bench(bench)?,
    }
    Ok(ExitCode::SUCCESS)
}

fn run_bench(command: BenchCommand) -> Result<(), Failure> {
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
            let tls = tls.to_client_tls().map_err(usage)?;
            let json = load.json;
            let load = load.load().map_err(usage)?;
            let report =
                runtime()?.block_on(netkit::bench::echo(&addr, tls.as_ref(), &load, size))?;
            print(&report, json);
        }
        BenchCommand::Time { addr, load } => {
            let json = load.json;
            let load = load.load().map_err(usage)?;
            let report = runtime()?.block_on(netkit::bench::time(&addr, &load))?;
            print(&report, json);
        }
        BenchCommand::Idle {
            addr,
            connections,
            hold,
        } => {
            let hold = seconds("--hold", hold).map_err(usage)?;
            let report = runtime()?.block_on(netkit::bench::idle(&addr, connections, hold))?;
            println!("{}", serde_json::to_string(&report).unwrap_or_default());
        }
    }
    Ok(())
}
