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
    /// Run services: any of echo (TCP), time (UDP) and http; all of them when none is named
    #[command(
        after_help = "Examples:\n  netkit serve\n  netkit serve --echo 127.0.0.1:0 --time 127.0.0.1:0\n  netkit serve --http 127.0.0.1:8080 --http-max-body 1MiB\n  netkit serve --echo 0.0.0.0:20000 --hmac-key-file key --hmac-digest sha256\n  netkit tls gen-cert --out certs && \\\n    netkit serve --echo --tls-cert certs/server.pem --tls-key certs/server.key\n\nEach bound service prints one line on stdout:\n  netkit: echo listening on tcp://127.0.0.1:20000"
    )]
    // Boxed: the serve flags are by far the largest variant.
    Serve(Box<ServeArgs>),
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
    /// Send and receive large files and NumPy arrays at wire speed (recipe 13)
    #[command(subcommand)]
    Bulk(BulkCommand),
}

#[derive(Subcommand, Debug)]
enum BulkCommand {
    /// Send FILE (or stdin) to a `netkit bulk recv`, or raw bytes to the recipe's recv_into
    #[command(
        override_usage = "netkit bulk send [OPTIONS] FILE ADDR\n       netkit bulk send [OPTIONS] --stdin ADDR",
        after_help = "Examples:\n  netkit bulk send data.npy 10.0.0.2:9000\n  netkit bulk send big.img 10.0.0.2:9000 --streams 4 --json\n  tar c dir | netkit bulk send --stdin 10.0.0.2:9000\n  netkit bulk send arr.bin 127.0.0.1:9000 --raw          # to the recipe's recv_into\n  netkit bulk send f localhost:9000 --tls --cacert certs/ca.pem"
    )]
    Send(BulkSendArgs),
    /// Receive a transfer into FILE: written beside it and renamed into place once its
    /// checksum matches
    #[command(
        after_help = "Examples:\n  netkit bulk recv --listen 0.0.0.0:9000 --out data.npy\n  netkit bulk recv --listen 127.0.0.1:0 --out arr.bin --raw --bytes 80000000\n  netkit bulk recv --listen :9000 --stdout | tar x\n  netkit bulk recv --listen 0.0.0.0:9000 --out f --tls-cert certs/server.pem --tls-key certs/server.key\n\nOnce bound it prints one line on stdout:\n  netkit: bulk listening on tcp://127.0.0.1:9000"
    )]
    Recv(BulkRecvArgs),
}

#[derive(Args, Debug)]
struct BulkSendArgs {
    /// FILE to send (an .npy array keeps its dtype, shape and order; no FILE with
    /// --stdin) and the receiver's ADDR, HOST:PORT
    #[arg(value_names = ["FILE", "ADDR"], num_args = 1..=2, required = true)]
    operands: Vec<String>,
    /// Send stdin instead of a file (its length need not be known)
    #[arg(long)]
    stdin: bool,
    /// The recipe's bare bytes: no header, no checksum (the receiver must know the size)
    #[arg(long)]
    raw: bool,
    /// Parallel connections, each carrying a slice of FILE (at most 16)
    #[arg(long, value_name = "N", default_value_t = 1)]
    streams: u16,
    /// Send only what a `netkit bulk recv --resume` does not have yet
    #[arg(long)]
    resume: bool,
    /// Print one JSON summary (bytes, seconds, rate, checksum) instead of text
    #[arg(long)]
    json: bool,
    /// Seconds to wait for the connection, the handshake and the receiver's answer
    #[arg(long, value_name = "SECONDS", default_value_t = 30.0)]
    timeout: f64,
    /// Fixed socket buffer size, e.g. 4MiB [default: Linux autotuning]
    #[arg(long, value_name = "SIZE")]
    socket_buffer: Option<String>,
    #[command(flatten)]
    tls: ClientTlsArgs,
}

#[derive(Args, Debug)]
struct BulkRecvArgs {
    /// Address to listen on, HOST:PORT (port 0 picks a free one)
    #[arg(long, value_name = "ADDR")]
    listen: String,
    /// File to write (replaced atomically once the transfer checks out)
    #[arg(long, value_name = "FILE", required_unless_present = "stdout")]
    out: Option<PathBuf>,
    /// Write the bytes to stdout as they arrive instead of to a file
    #[arg(long, conflicts_with_all = ["out", "resume"])]
    stdout: bool,
    /// The recipe's bare bytes from send_from: needs --bytes
    #[arg(long)]
    raw: bool,
    /// Bytes a --raw sender sends, e.g. 80000000 or 1GiB
    #[arg(long, value_name = "N", requires = "raw")]
    bytes: Option<String>,
    /// Largest transfer accepted, e.g. 100GiB [default: the free space of FILE's filesystem]
    #[arg(long, value_name = "SIZE")]
    max_size: Option<String>,
    /// Receive transfers one after another until interrupted, each replacing FILE
    #[arg(long)]
    keep_going: bool,
    /// Keep cut transfers' partial files and let `send --resume` continue them
    #[arg(long)]
    resume: bool,
    /// fsync FILE and its directory before confirming the transfer
    #[arg(long)]
    fsync: bool,
    /// Print one JSON summary per transfer instead of text
    #[arg(long)]
    json: bool,
    /// Seconds without progress before a transfer is abandoned
    #[arg(long, value_name = "SECONDS", default_value_t = 30.0)]
    timeout: f64,
    /// Fixed socket buffer size, e.g. 4MiB [default: Linux autotuning]
    #[arg(long, value_name = "SIZE")]
    socket_buffer: Option<String>,
    /// Server certificate (PEM): speak TLS
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// Private key of --tls-cert (PEM)
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Require client certificates signed by this CA (PEM)
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    tls_client_ca: Option<PathBuf>,
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
        Command::Bulk(bulk) => return run_bulk(bulk),
    }
    Ok(ExitCode::SUCCESS)
}

fn size_flag(flag: &'static str, text: Option<&str>) -> Result<Option<u64>, Failure> {
    text.map(|t| netkit::config::parse_size(flag, t))
        .transpose()
        .map_err(usage)
}

fn print_bulk_summary(summary: &netkit::bulk::Summary, json: bool) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = if json {
        writeln!(
            out,
            "{}",
            serde_json::to_string(summary).unwrap_or_default()
        )
    } else {
        writeln!(out, "{}", summary.human())
    };
    let _ = out.flush();
}

fn run_bulk(command: BulkCommand) -> Result<ExitCode, Failure> {
    use netkit::bulk;
    use std::io::IsTerminal;
    match command {
        BulkCommand::Send(args) => {
            let tls = args.tls.to_client_tls().map_err(usage)?;
            let (source, addr) = match (args.operands.as_slice(), args.stdin) {
                ([file, addr], false) => (bulk::Source::File(PathBuf::from(file)), addr),
                ([addr], true) => (bulk::Source::Stdin, addr),
                (_, false) => return Err(usage(anyhow::anyhow!("give FILE ADDR"))),
                (_, true) => return Err(usage(anyhow::anyhow!("with --stdin give ADDR alone"))),
            };
            if args.streams == 0 || args.streams > bulk::header::MAX_STREAMS {
                return Err(usage(anyhow::anyhow!(
                    "--streams must be from 1 to {}",
                    bulk::header::MAX_STREAMS
                )));
            }
            let options = bulk::SendOptions {
                addr: addr.clone(),
                tls,
                timeout: seconds("--timeout", args.timeout).map_err(usage)?,
                raw: args.raw,
                streams: args.streams,
                resume: args.resume,
                progress: !args.json && std::io::stderr().is_terminal(),
                socket_buffer: size_flag("--socket-buffer", args.socket_buffer.as_deref())?
                    .map(|n| n as usize),
            };
            let summary = runtime()?.block_on(bulk::send_file(&source, &options))?;
            print_bulk_summary(&summary, args.json);
        }
        BulkCommand::Recv(args) => {
            let target = match (&args.out, args.stdout) {
                (Some(out), false) => bulk::Target::File(out.clone()),
                (None, true) => bulk::Target::Stdout,
                _ => return Err(usage(anyhow::anyhow!("give --out FILE or --stdout"))),
            };
            let raw_bytes = size_flag("--bytes", args.bytes.as_deref())?;
            if args.raw && raw_bytes.is_none() {
                return Err(usage(anyhow::anyhow!(
                    "--raw needs --bytes N: the recipe's sender sends no length"
                )));
            }
            let tls = match (&args.tls_cert, &args.tls_key) {
                (Some(cert), Some(key)) => {
                    let files = netkit::tls::ServerTlsFiles {
                        cert: cert.clone(),
                        key: key.clone(),
                        client_ca: args.tls_client_ca.clone(),
                    };
                    let config = netkit::tls::server_config(&files, &[]).map_err(usage)?;
                    Some(tokio_rustls::TlsAcceptor::from(config))
                }
                _ => None,
            };
            let is_tls = tls.is_some();
            let mut options = bulk::RecvOptions::new(target);
            options.raw_bytes = raw_bytes;
            options.max_size = size_flag("--max-size", args.max_size.as_deref())?;
            options.keep_going = args.keep_going;
            options.resume = args.resume;
            options.fsync = args.fsync;
            // Progress goes to stderr; with --stdout the data owns stdout, not the bar.
            options.progress = !args.json && std::io::stderr().is_terminal();
            options.timeout = seconds("--timeout", args.timeout).map_err(usage)?;
            options.tls = tls;
            options.socket_buffer =
                size_flag("--socket-buffer", args.socket_buffer.as_deref())?.map(|n| n as usize);
            let to_stdout = args.stdout;
            let json = args.json;
            let rt = runtime()?;
            let listener = rt
                .block_on(tokio::net::TcpListener::bind(&args.listen))
                .with_context(|| format!("bulk: cannot bind {}", args.listen))
                .map_err(usage)?;
            let local = listener
                .local_addr()
                .with_context(|| format!("bulk: cannot bind {}", args.listen))
                .map_err(usage)?;
            let line = netkit::serve::Listening {
                service: "bulk",
                url: format!("{}://{local}", if is_tls { "tls" } else { "tcp" }),
            };
            // With --stdout the data owns stdout: the listening line goes to stderr.
            if to_stdout {
                eprintln!("{line}");
            } else {
                use std::io::Write;
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{line}");
                let _ = out.flush();
            }
            let report = |outcome: &Result<bulk::Summary, bulk::BulkError>| match outcome {
                Ok(summary) if to_stdout => eprintln!("netkit: {}", summary.human()),
                Ok(summary) => print_bulk_summary(summary, json),
                Err(error) => {
                    if args.keep_going {
                        eprintln!("netkit: transfer failed: {error}");
                    }
                }
            };
            let keep_going = args.keep_going;
            let interrupted = rt.block_on(async {
                let mut term =
                    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
                // Dropping the receive on a signal drops its transfers, which removes
                // their part files: an interrupted transfer leaves nothing behind.
                tokio::select! {
                    outcome = bulk::recv_files(listener, options, report) => outcome.map(|_| false),
                    _ = tokio::signal::ctrl_c() => Ok(true),
                    _ = term.recv() => Ok(true),
                }
            })?;
            if interrupted && !keep_going {
                return Err(anyhow::anyhow!("interrupted before a transfer completed").into());
            }
        }
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
