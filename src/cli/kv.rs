//! `netkit kv URL get|set|delete|exists|keys`: recipe 6's key-value server.

use super::xmlrpc::{arg_value, json_line, XmlrpcConnectionArgs};
use super::{runtime, Failure};
use clap::{Args, Subcommand};
use netkit::proto::xmlrpc::Value;

pub const AFTER_HELP: &str = "Examples:
  netkit kv http://localhost:15000 set foo bar
  netkit kv http://localhost:15000 set spam '[1, 2, 3]'   # VALUE: JSON, else a string
  netkit kv http://localhost:15000 get spam                # [1,2,3]
  netkit kv http://localhost:15000 keys                    # one key a line
  netkit kv http://localhost:15000 exists spam             # true
  netkit kv http://localhost:15000 delete spam

A missing key is an error (exit code 1), as in the recipe.";

#[derive(Args, Debug)]
pub struct KvArgs {
    /// Server URL, e.g. http://localhost:15000
    url: String,
    #[command(subcommand)]
    op: KvOp,
    /// Print answers as JSON (keys as one array)
    #[arg(long, global = true)]
    json: bool,
    #[command(flatten)]
    connection: XmlrpcConnectionArgs,
}

#[derive(Subcommand, Debug)]
enum KvOp {
    /// Print the value of KEY (strings as they are, other values as JSON)
    Get { key: String },
    /// Set KEY to VALUE: a JSON literal, or else the string itself
    Set {
        key: String,
        #[arg(allow_hyphen_values = true)]
        value: String,
    },
    /// Delete KEY
    Delete { key: String },
    /// Print true or false
    Exists { key: String },
    /// Print every key, one a line, in insertion order
    Keys,
}

/// Strings as they are (for people and shell scripts), anything else as JSON.
fn plain_line(value: &Value) -> String {
    match value.as_str() {
        Some(s) => s.to_string(),
        None => json_line(value),
    }
}

pub fn run(args: KvArgs) -> Result<(), Failure> {
    let mut client = args.connection.client(&args.url)?;
    let show = |v: &Value| {
        if args.json {
            json_line(v)
        } else {
            plain_line(v)
        }
    };
    runtime()?.block_on(async {
        match &args.op {
            KvOp::Get { key } => {
                let value = client.call("get", &[Value::from(key.as_str())]).await?;
                println!("{}", show(&value));
            }
            KvOp::Set { key, value } => {
                client
                    .call("set", &[Value::from(key.as_str()), arg_value(value)?])
                    .await?;
            }
            KvOp::Delete { key } => {
                client.call("delete", &[Value::from(key.as_str())]).await?;
            }
            KvOp::Exists { key } => {
                let value = client.call("exists", &[Value::from(key.as_str())]).await?;
                println!("{}", json_line(&value));
            }
            KvOp::Keys => {
                let keys = client.call("keys", &[]).await?;
                match (&keys, args.json) {
                    (Value::Array(items), false) => {
                        use std::io::Write;
                        let mut out = std::io::stdout().lock();
                        for key in items {
                            let _ = writeln!(out, "{}", plain_line(key));
                        }
                    }
                    _ => println!("{}", json_line(&keys)),
                }
            }
        }
        Ok(())
    })
}
