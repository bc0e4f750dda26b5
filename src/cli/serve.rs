//! `netkit serve`: every service on one runtime. Its flags are the configuration's schema,
//! so they live with the TOML merge in `netkit::config`; this module runs them.

use super::{runtime_with_threads, usage, Failure};
use netkit::config::Config;
pub use netkit::config::ServeArgs;

pub const AFTER_HELP: &str = "Examples:
  netkit serve
  netkit serve --echo 127.0.0.1:0 --time 127.0.0.1:0
  netkit serve --http 127.0.0.1:8080 --http-max-body 1MiB
  netkit serve --xmlrpc 127.0.0.1:15000 --kv-store /var/lib/netkit/kv.redb
  netkit serve --conn --rpc --authkey peekaboo
  netkit serve --echo 0.0.0.0:20000 --hmac-key-file key --hmac-digest sha256
  netkit tls gen-cert --out certs && \\
    netkit serve --echo --tls-cert certs/server.pem --tls-key certs/server.key
  netkit --log-format json serve --http --metrics 127.0.0.1:9100

Each bound service prints one line on stdout:
  netkit: echo listening on tcp://127.0.0.1:20000
and --metrics ADDR one more (GET /metrics: Prometheus text; GET /healthz: ok | draining):
  netkit: metrics listening on http://127.0.0.1:9100";

pub fn run(args: ServeArgs) -> Result<(), Failure> {
    let config = Config::from_args(&args).map_err(usage)?;
    // SIGHUP reads the same flags and --config file again.
    let reloader: netkit::serve::Reloader = Box::new(move || Config::from_args(&args));
    runtime_with_threads(config.threads)?
        .block_on(netkit::serve::run(config, Some(reloader)))
        .map_err(usage)?;
    Ok(())
}
