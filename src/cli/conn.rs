//! `netkit conn ADDR`: JSON lines as pickled multiprocessing.connection messages (recipe 7),
//! and the client flags `netkit rpc` shares.

use super::{runtime, seconds, usage, ClientTlsArgs, Failure};
use anyhow::Context;
use clap::Args;
use netkit::client::{self, ClientTls};
use netkit::proto::pickle;

pub const AFTER_HELP: &str =
    "Reads one JSON value a line, sends each pickled, prints each reply as JSON.
Non-JSON values use tags: {\"$bytes\": base64}, {\"$tuple\": [...]}, {\"$set\": [...]}.

Examples:
  echo '[1, 2, 3]' | netkit conn 127.0.0.1:25000 --authkey peekaboo
  printf 'hello\\n' | netkit conn 127.0.0.1:25000 --raw";

/// How to reach a multiprocessing.connection server: `netkit conn` and `netkit rpc`.
#[derive(Args, Debug)]
pub struct MpClientArgs {
    /// Server address, HOST:PORT
    addr: String,
    /// multiprocessing authkey (the recipes use peekaboo)
    #[arg(long, value_name = "KEY")]
    authkey: Option<String>,
    #[command(flatten)]
    tls: ClientTlsArgs,
    /// Largest reply accepted, e.g. 128MiB
    #[arg(long, value_name = "SIZE", default_value = "64MiB")]
    max_frame: String,
    /// Seconds to wait for the connection and handshake
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0)]
    timeout: f64,
}

/// A connection ready to open: the flags checked before any socket is made.
pub struct MpClient {
    addr: String,
    authkey: Option<Vec<u8>>,
    tls: Option<ClientTls>,
    max_frame: u64,
    timeout: std::time::Duration,
}

impl MpClientArgs {
    pub fn client(&self) -> Result<MpClient, Failure> {
        Ok(MpClient {
            addr: self.addr.clone(),
            authkey: self.authkey.as_ref().map(|k| k.as_bytes().to_vec()),
            tls: self.tls.to_client_tls()?,
            max_frame: netkit::config::parse_size("--max-frame", &self.max_frame).map_err(usage)?,
            timeout: seconds("--timeout", self.timeout)?,
        })
    }
}

impl MpClient {
    pub async fn open(
        &self,
    ) -> Result<netkit::mpconn::MpConnection<client::ClientStream>, client::ClientError> {
        client::conn::open(
            &self.addr,
            self.tls.as_ref(),
            self.authkey.as_deref(),
            self.max_frame,
            self.timeout,
        )
        .await
    }
}

#[derive(Args, Debug)]
pub struct ConnArgs {
    #[command(flatten)]
    client: MpClientArgs,
    /// Send each line's bytes as the message and print replies as they come, unpickled
    #[arg(long)]
    raw: bool,
}

pub fn run(args: ConnArgs) -> Result<(), Failure> {
    use std::io::{BufRead, Write};
    let client = args.client.client()?;
    let limits = pickle::Limits::default();
    runtime()?.block_on(async {
        let mut connection = client.open().await?;
        let stdin = std::io::stdin();
        let mut stdout = std::io::stdout().lock();
        for line in stdin.lock().lines() {
            let line = line?;
            if args.raw {
                connection.send_bytes(line.as_bytes()).await?;
                let reply = connection
                    .recv_bytes()
                    .await?
                    .ok_or(client::ClientError::Closed)?;
                stdout.write_all(&reply)?;
                stdout.write_all(b"\n")?;
            } else {
                if line.trim().is_empty() {
                    continue;
                }
                let json: serde_json::Value = serde_json::from_str(&line)
                    .with_context(|| format!("not a JSON value: {line}"))?;
                let message = pickle::from_json(&json)?;
                let reply = client::conn::exchange(&mut connection, &message, &limits).await?;
                writeln!(stdout, "{}", pickle::to_json(&reply)?)?;
            }
            stdout.flush()?;
        }
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(())
}
