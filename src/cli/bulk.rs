//! `netkit bulk send|recv`: large files and NumPy arrays at wire speed (recipe 13).

use super::{runtime, seconds, size_flag, usage, ClientTlsArgs, Failure};
use anyhow::Context;
use clap::{Args, Subcommand};
use netkit::bulk;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Subcommand, Debug)]
pub enum BulkCommand {
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
pub struct BulkSendArgs {
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
    /// When to send FILE with sendfile(2): `auto` uses it for another host and copies with
    /// write(2) to this one, where sendfile makes the receiver read every page from memory
    #[arg(long, value_name = "WHEN", value_enum, default_value_t = bulk::Sendfile::Auto)]
    sendfile: bulk::Sendfile,
    #[command(flatten)]
    tls: ClientTlsArgs,
}

#[derive(Args, Debug)]
pub struct BulkRecvArgs {
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

pub fn run(command: BulkCommand) -> Result<ExitCode, Failure> {
    use std::io::IsTerminal;
    match command {
        BulkCommand::Send(args) => {
            let tls = args.tls.to_client_tls()?;
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
                timeout: seconds("--timeout", args.timeout)?,
                raw: args.raw,
                streams: args.streams,
                resume: args.resume,
                progress: !args.json && std::io::stderr().is_terminal(),
                socket_buffer: size_flag("--socket-buffer", args.socket_buffer.as_deref())?
                    .map(|n| n as usize),
                sendfile: args.sendfile,
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
            options.timeout = seconds("--timeout", args.timeout)?;
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
