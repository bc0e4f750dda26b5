//! `netkit echo ADDR`: stdin to an echo server, its echo to stdout (recipes 2, 9, 10).

use super::{runtime, seconds, usage, ClientTlsArgs, Failure};
use clap::Args;
use netkit::auth::HmacAuth;
use netkit::client;
use netkit::proto::challenge::Digest;

pub const AFTER_HELP: &str = "Examples:
  echo hello | netkit echo 127.0.0.1:20000
  netkit echo localhost:20000 --tls --cacert certs/ca.pem < file
  netkit echo 127.0.0.1:20000 --hmac-key peekaboo";

#[derive(Args, Debug)]
pub struct EchoArgs {
    /// Server address, HOST:PORT
    addr: String,
    #[command(flatten)]
    tls: ClientTlsArgs,
    /// Answer recipe 9's HMAC challenge with this key
    #[arg(long, value_name = "KEY")]
    hmac_key: Option<String>,
    /// Hash of the HMAC challenge
    #[arg(long, value_name = "DIGEST", default_value = "md5")]
    hmac_digest: String,
    /// Seconds to wait for the connection and handshakes
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0)]
    timeout: f64,
}

pub fn run(args: EchoArgs) -> Result<(), Failure> {
    let tls = args.tls.to_client_tls()?;
    let timeout = seconds("--timeout", args.timeout)?;
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
    Ok(())
}
