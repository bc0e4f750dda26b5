//! `netkit rpc ADDR FUNC ARG…`: one call to a pickle RPC server (recipe 8).

use super::conn::MpClientArgs;
use super::{json_or_string, runtime, usage, Failure};
use clap::Args;
use netkit::client;
use netkit::proto::pickle::{self, Value};
use std::process::ExitCode;

pub const AFTER_HELP: &str = "Arguments are JSON literals, or strings when they are not JSON.
A remote exception is printed on stderr (exit code 1).

Examples:
  netkit rpc 127.0.0.1:17000 add 2 3 --authkey peekaboo
  netkit rpc 127.0.0.1:17000 add '[1]' '[2, 3]'
  netkit rpc 127.0.0.1:17000 sub --kwarg x=10 --kwarg y=4";

#[derive(Args, Debug)]
pub struct RpcArgs {
    #[command(flatten)]
    client: MpClientArgs,
    /// Function name
    function: String,
    /// Positional arguments (JSON, or strings)
    args: Vec<String>,
    /// Keyword argument NAME=VALUE (JSON, or a string); repeatable
    #[arg(long = "kwarg", value_name = "NAME=VALUE")]
    kwargs: Vec<String>,
}

/// A command-line argument as a pickle value: JSON when it parses, else a string.
fn argument_value(text: &str) -> Result<Value, Failure> {
    pickle::from_json(&json_or_string(text)).map_err(usage)
}

pub fn run(args: RpcArgs) -> Result<ExitCode, Failure> {
    let client = args.client.client()?;
    let positional = args
        .args
        .iter()
        .map(|a| argument_value(a))
        .collect::<Result<Vec<_>, _>>()?;
    let mut keywords = Vec::new();
    for pair in &args.kwargs {
        let (name, value) = pair
            .split_once('=')
            .ok_or_else(|| usage(anyhow::anyhow!("--kwarg {pair:?}: expected NAME=VALUE")))?;
        keywords.push((name.to_string(), argument_value(value)?));
    }
    let limits = pickle::Limits::default();
    let result = runtime()?.block_on(async {
        let mut connection = client.open().await?;
        client::conn::call(
            &mut connection,
            &args.function,
            positional,
            keywords,
            &limits,
        )
        .await
    })?;
    if let Value::Exception(_) = &result {
        eprintln!("netkit: remote exception: {}", result.repr());
        return Ok(ExitCode::from(1));
    }
    println!("{}", pickle::to_json(&result)?);
    Ok(ExitCode::SUCCESS)
}
