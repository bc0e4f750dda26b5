//! `netkit handoff worker`: serve the client sockets a handoff server passes over a Unix
//! socket (recipe 11).

use super::{raise_fd_limit, seconds, usage, Failure};
use anyhow::Context;
use clap::{Args, Subcommand};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Subcommand, Debug)]
pub enum HandoffCommand {
    /// Connect to a handoff server (`netkit serve --handoff` or the recipe's Python
    /// server) and serve every client socket it hands over
    #[command(
        after_help = "Examples:\n  netkit serve --handoff 127.0.0.1:15000 --handoff-socket /tmp/handoff.sock --authkey peekaboo\n  netkit handoff worker --connect /tmp/handoff.sock --authkey peekaboo --service echo\n\nThe worker runs until the server closes the socket, then finishes its connections\n(at most --grace) and exits 0; SIGINT/SIGTERM do the same."
    )]
    Worker(HandoffWorkerArgs),
}

#[derive(Args, Debug)]
pub struct HandoffWorkerArgs {
    /// The server's Unix socket
    #[arg(long, value_name = "PATH")]
    connect: PathBuf,
    /// multiprocessing.connection authkey the server expects [default: no handshake]
    #[arg(
        long,
        value_name = "KEY",
        env = netkit::handoff::supervisor::AUTHKEY_ENV,
        hide_env_values = true,
        conflicts_with = "authkey_file"
    )]
    authkey: Option<String>,
    /// Like --authkey, the key read from FILE
    #[arg(long, value_name = "FILE")]
    authkey_file: Option<PathBuf>,
    /// What to serve on the handed sockets
    #[arg(long, value_enum)]
    service: netkit::handoff::worker::WorkerService,
    /// Seconds to keep retrying while the socket is missing or refuses
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0)]
    connect_timeout: f64,
    /// Seconds a connection may stay silent before it is closed
    #[arg(long, value_name = "SECONDS", default_value_t = netkit::config::DEFAULT_IDLE_TIMEOUT_SECS)]
    idle_timeout: f64,
    /// Seconds connections get to finish once the server closes the socket
    #[arg(long, value_name = "SECONDS", default_value_t = netkit::config::DEFAULT_GRACE_SECS)]
    grace: f64,
}

pub fn run(command: HandoffCommand) -> Result<(), Failure> {
    let HandoffCommand::Worker(args) = command;
    let authkey = match (&args.authkey, &args.authkey_file) {
        (Some(key), _) => Some(key.as_bytes().to_vec()),
        (None, Some(path)) => Some(netkit::config::read_secret("--authkey", path).map_err(usage)?),
        (None, None) => None,
    };
    let options = netkit::handoff::worker::WorkerOptions {
        connect: args.connect,
        authkey,
        service: args.service,
        echo: netkit::service::echo::EchoOptions {
            idle_timeout: seconds("--idle-timeout", args.idle_timeout)?,
            handshake_timeout: Duration::from_secs(10),
            hmac: None,
        },
        connect_timeout: seconds("--connect-timeout", args.connect_timeout)?,
        grace: seconds("--grace", args.grace)?,
    };
    // One thread per worker process: parallelism comes from more workers (the prefork
    // model), and a single thread saves the cross-thread wake-ups of every handed socket.
    raise_fd_limit();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        use tokio::signal::unix::{signal, SignalKind};
        let mut interrupt = signal(SignalKind::interrupt())?;
        let mut terminate = signal(SignalKind::terminate())?;
        let stop = async move {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
        };
        netkit::handoff::worker::run(options, stop).await?;
        Ok::<(), anyhow::Error>(())
    })?;
    Ok(())
}
