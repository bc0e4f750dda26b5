//! `netkit time ADDR`: ask a UDP time server (recipe 3), as ctime text or SNTP.

use super::{runtime, seconds, Failure};
use clap::Args;
use netkit::client;

pub const AFTER_HELP: &str = "Examples:
  netkit time 127.0.0.1:20000
  netkit time 127.0.0.1:20000 --sntp";

#[derive(Args, Debug)]
pub struct TimeArgs {
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

pub fn run(args: TimeArgs) -> Result<(), Failure> {
    let patience = client::time::Patience {
        timeout: seconds("--timeout", args.timeout)?,
        attempts: args.attempts,
    };
    let rt = runtime()?;
    if args.sntp {
        let answer = rt.block_on(client::time::sntp(&args.addr, patience))?;
        let server_time = jiff::Timestamp::from_nanosecond((answer.server_time * 1e9) as i128)?
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
    Ok(())
}
