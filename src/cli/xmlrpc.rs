//! `netkit xmlrpc URL METHOD ARG…`: one XML-RPC call (recipe 6), and the connection flags
//! `netkit kv` shares.

use super::{json_or_string, runtime, seconds, usage, Failure, TlsFileArgs};
use clap::Args;
use netkit::client::{self, ClientTls};
use netkit::proto::xmlrpc::{from_json, to_json, Value};

pub const AFTER_HELP: &str = "Examples:
  netkit xmlrpc http://localhost:15000 set spam '[1, 2, 3]'
  netkit xmlrpc http://localhost:15000 get spam        # [1,2,3]
  netkit xmlrpc http://localhost:15000 system.listMethods
  netkit xmlrpc https://localhost:15000 keys --cacert certs/ca.pem

JSON for the types JSON lacks: {\"$datetime\": \"20240229T13:05:09\"}, {\"$base64\": \"aGk=\"},
{\"$double\": \"inf\"}. A fault is printed on stderr, exit code 1.";

#[derive(Args, Debug)]
pub struct XmlrpcArgs {
    /// Server URL, e.g. http://localhost:15000 (path /RPC2 when none is given)
    url: String,
    /// Method name, e.g. get or system.listMethods
    method: String,
    /// Parameters: JSON literals (42, true, null, [1,2], {"a":1}); anything else is a string
    #[arg(allow_hyphen_values = true)]
    args: Vec<String>,
    #[command(flatten)]
    connection: XmlrpcConnectionArgs,
}

/// TLS files and patience for an XML-RPC server.
#[derive(Args, Debug)]
pub struct XmlrpcConnectionArgs {
    #[command(flatten)]
    tls: TlsFileArgs,
    /// Seconds to wait for the connection and each answer
    #[arg(long, value_name = "SECONDS", default_value_t = 30.0, global = true)]
    timeout: f64,
}

impl XmlrpcConnectionArgs {
    pub fn client(&self, url: &str) -> Result<client::xmlrpc::XmlRpcClient, Failure> {
        let tls = if url.starts_with("https://") {
            Some(ClientTls::from_files(&self.tls.files(), None).map_err(usage)?)
        } else if !self.tls.is_empty() {
            return Err(usage(anyhow::anyhow!(
                "--cacert and --cert need an https:// URL"
            )));
        } else {
            None
        };
        let timeout = seconds("--timeout", self.timeout)?;
        client::xmlrpc::XmlRpcClient::new(url, tls, timeout).map_err(usage)
    }
}

/// A command-line argument as an XML-RPC value: JSON if it parses, else the string.
pub fn arg_value(text: &str) -> Result<Value, Failure> {
    from_json(&json_or_string(text)).map_err(usage)
}

pub fn json_line(value: &Value) -> String {
    serde_json::to_string(&to_json(value)).unwrap_or_default()
}

pub fn run(args: XmlrpcArgs) -> Result<(), Failure> {
    let mut client = args.connection.client(&args.url)?;
    let params = args
        .args
        .iter()
        .map(|a| arg_value(a))
        .collect::<Result<Vec<_>, _>>()?;
    let value = runtime()?.block_on(client.call(&args.method, &params))?;
    println!("{}", json_line(&value));
    Ok(())
}
