//! `netkit serve`'s flags and `--config` TOML file, merged (flags win) and validated into
//! one [`Config`]. Every problem is a [`ConfigError`] that names the flag or key at fault.
//!
//! The services are data: [`SERVICES`] has one row per service (name, default address,
//! scheme, TLS, workers) and drives the `--SERVICE [ADDR]` flags, their TOML keys, the
//! defaults and the listening lines. The TOML keys are the flags' long names, because the
//! file is read into the same [`ServeArgs`] the flags fill, and the two are merged key by
//! key, so a new flag is a new key with no code of its own.

use crate::auth::HmacAuth;
use crate::proto::challenge::Digest;
use crate::service::http::{self as http_service, HttpOptions};
use crate::tls::ServerTlsFiles;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const DEFAULT_MAX_XMLRPC_SIZE: u64 = 1024 * 1024;
pub const DEFAULT_MAX_CONNECTIONS: usize = 50_000;
pub const DEFAULT_GRACE_SECS: f64 = 10.0;
pub const DEFAULT_IDLE_TIMEOUT_SECS: f64 = 300.0;
pub const DEFAULT_HANDSHAKE_TIMEOUT_SECS: f64 = 10.0;
pub const DEFAULT_MAX_FRAME: u64 = 64 * 1024 * 1024;
/// How long a client of --handoff or --workers may wait for a worker to take it.
pub const DEFAULT_HANDOFF_WAIT_SECS: f64 = 30.0;
/// Worker processes `--workers` may start.
pub const MAX_WORKERS: usize = 256;
/// Runtime threads `--threads` may ask for.
pub const MAX_THREADS: usize = 1024;

/// A service `netkit serve` can start, in the order of [`SERVICES`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Service {
    Echo,
    Time,
    Conn,
    Rpc,
    Xmlrpc,
    Http,
    Handoff,
}

/// What a listening line calls a service's transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// `tcp://`, or `tls://` with TLS.
    Stream,
    /// `udp://`.
    Datagram,
    /// `http://`, or `https://` with TLS.
    Http,
}

impl Scheme {
    pub fn name(self, tls: bool) -> &'static str {
        match (self, tls) {
            (Scheme::Stream, false) => "tcp",
            (Scheme::Stream, true) => "tls",
            (Scheme::Datagram, _) => "udp",
            (Scheme::Http, false) => "http",
            (Scheme::Http, true) => "https",
        }
    }
}

/// One row of the service table.
#[derive(Debug)]
pub struct ServiceSpec {
    pub service: Service,
    /// The flag that starts it; without its `--`, the TOML key and the name in listening
    /// lines and metrics.
    pub flag: &'static str,
    /// Where a plain `netkit serve` starts it, and what `--name` alone means; `None`: the
    /// flag needs an address and the service never starts by default.
    pub default_addr: Option<&'static str>,
    pub scheme: Scheme,
    /// Speaks TLS itself with --tls-cert (handoff only passes sockets on).
    pub tls: bool,
    /// Runs in the worker processes of `--workers`. The others stay in the supervisor:
    /// UDP has no connection to hand over, handoff has its own workers, and the XML-RPC
    /// store must be one store, not one per process.
    pub workers: bool,
    /// The flag's help, before its default.
    pub help: &'static str,
}

impl ServiceSpec {
    pub fn name(&self) -> &'static str {
        let flag: &'static str = self.flag;
        flag.trim_start_matches("--")
    }
}

/// Every service, in the order they bind and print their listening lines. The recipes'
/// own ports, on loopback: a default install exposes nothing to the network.
pub const SERVICES: [ServiceSpec; 7] = [
    ServiceSpec {
        service: Service::Echo,
        flag: "--echo",
        default_addr: Some("127.0.0.1:20000"),
        scheme: Scheme::Stream,
        tls: true,
        workers: true,
        help: "Serve TCP echo (recipe 2) on ADDR",
    },
    ServiceSpec {
        service: Service::Time,
        flag: "--time",
        default_addr: Some("127.0.0.1:20000"),
        scheme: Scheme::Datagram,
        tls: false,
        workers: false,
        help: "Serve UDP time (recipe 3; ctime text, or SNTP for NTP clients) on ADDR",
    },
    ServiceSpec {
        service: Service::Conn,
        flag: "--conn",
        default_addr: Some("127.0.0.1:25000"),
        scheme: Scheme::Stream,
        tls: true,
        workers: true,
        help: "Serve multiprocessing.connection echo (recipe 7) on ADDR",
    },
    ServiceSpec {
        service: Service::Rpc,
        flag: "--rpc",
        default_addr: Some("127.0.0.1:17000"),
        scheme: Scheme::Stream,
        tls: true,
        workers: true,
        help: "Serve the recipe 8 pickle RPC (add, sub) on ADDR",
    },
    ServiceSpec {
        service: Service::Xmlrpc,
        flag: "--xmlrpc",
        default_addr: Some("127.0.0.1:15000"),
        scheme: Scheme::Http,
        tls: true,
        workers: false,
        help: "Serve recipe 6's XML-RPC key-value store on ADDR (POST / or /RPC2)",
    },
    ServiceSpec {
        service: Service::Http,
        flag: "--http",
        // The recipe's wsgiref port.
        default_addr: Some("127.0.0.1:8080"),
        scheme: Scheme::Http,
        tls: true,
        workers: true,
        help: "Serve HTTP: httpbin and recipe 5's /hello and /localtime on ADDR",
    },
    ServiceSpec {
        service: Service::Handoff,
        flag: "--handoff",
        default_addr: None,
        scheme: Scheme::Stream,
        tls: false,
        workers: false,
        help: "Accept TCP clients on ADDR and hand each socket to a worker process \
               connected to --handoff-socket (recipe 11; the recipe's Python worker works \
               unchanged)",
    },
];

impl Service {
    pub const ALL: [Service; 7] = [
        Service::Echo,
        Service::Time,
        Service::Conn,
        Service::Rpc,
        Service::Xmlrpc,
        Service::Http,
        Service::Handoff,
    ];

    /// This service's row of [`SERVICES`].
    pub fn spec(self) -> &'static ServiceSpec {
        &SERVICES[self as usize]
    }

    pub fn name(self) -> &'static str {
        self.spec().name()
    }

    /// TCP services can speak TLS; UDP ones cannot.
    pub fn is_tcp(self) -> bool {
        self.spec().scheme != Scheme::Datagram
    }

    /// TCP services whose own bytes netkit speaks (handoff only passes sockets on).
    pub fn can_tls(self) -> bool {
        self.spec().tls
    }

    /// Services `--workers` runs in worker processes (see [`ServiceSpec::workers`]).
    pub fn served_by_workers(self) -> bool {
        self.spec().workers
    }

    pub fn from_name(name: &str) -> Option<Service> {
        Service::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// "a, b and c".
fn and_list<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let names: Vec<&str> = names.collect();
    match names.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        Some((last, _)) => last.to_string(),
        None => String::new(),
    }
}

/// The `--SERVICE [ADDR]` flags (and TOML keys), one per row of [`SERVICES`].
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ServiceAddrs(pub BTreeMap<Service, String>);

impl ServiceAddrs {
    pub fn get(&self, service: Service) -> Option<&str> {
        self.0.get(&service).map(String::as_str)
    }
}

impl<const N: usize> From<[(Service, &str); N]> for ServiceAddrs {
    fn from(addrs: [(Service, &str); N]) -> Self {
        ServiceAddrs(addrs.into_iter().map(|(s, a)| (s, a.to_string())).collect())
    }
}

impl clap::FromArgMatches for ServiceAddrs {
    fn from_arg_matches(matches: &clap::ArgMatches) -> Result<Self, clap::Error> {
        let mut addrs = ServiceAddrs::default();
        addrs.update_from_arg_matches(matches)?;
        Ok(addrs)
    }

    fn update_from_arg_matches(&mut self, matches: &clap::ArgMatches) -> Result<(), clap::Error> {
        for spec in &SERVICES {
            if let Some(addr) = matches.get_one::<String>(spec.name()) {
                self.0.insert(spec.service, addr.clone());
            }
        }
        Ok(())
    }
}

impl clap::Args for ServiceAddrs {
    fn augment_args(command: clap::Command) -> clap::Command {
        SERVICES.iter().fold(command, |command, spec| {
            let arg = clap::Arg::new(spec.name())
                .long(spec.name())
                .value_name("ADDR")
                .help_heading("Services")
                .action(clap::ArgAction::Set);
            command.arg(match spec.default_addr {
                Some(default) => arg
                    .num_args(0..=1)
                    .default_missing_value(default)
                    .help(format!(
                        "{} [default when given alone: {default}]",
                        spec.help
                    )),
                None => arg.help(spec.help),
            })
        })
    }

    fn augment_args_for_update(command: clap::Command) -> clap::Command {
        Self::augment_args(command)
    }
}

impl Serialize for ServiceAddrs {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(service, addr)| (service.name(), addr)))
    }
}

/// Flattened into [`ServeArgs`], this sees every key of the file and keeps the services'
/// (a map, unlike a struct, leaves the keys to the other fields too).
impl<'de> Deserialize<'de> for ServiceAddrs {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = ServiceAddrs;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a table of `netkit serve` flags")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Self::Value, A::Error> {
                let mut addrs = ServiceAddrs::default();
                while let Some(key) = map.next_key::<String>()? {
                    match Service::from_name(&key) {
                        Some(service) => {
                            addrs.0.insert(service, map.next_value()?);
                        }
                        None => {
                            map.next_value::<serde::de::IgnoredAny>()?;
                        }
                    }
                }
                Ok(addrs)
            }
        }
        deserializer.deserialize_map(Visitor)
    }
}

/// `netkit serve`'s flags, and the `--config` file's keys. Every value is optional here so
/// that either can supply it; [`Config::from_args`] merges them and applies the defaults.
#[derive(clap::Args, Debug, Default, Clone, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct ServeArgs {
    // First, so that `serve --help` lists the services first.
    #[command(flatten)]
    #[serde(flatten)]
    pub services: ServiceAddrs,

    /// Unix socket where handoff workers connect (`netkit handoff worker --connect PATH`
    /// or Python's `Client(PATH, authkey=…)`)
    #[arg(
        long,
        value_name = "PATH",
        requires = "handoff",
        help_heading = "Services"
    )]
    pub handoff_socket: Option<PathBuf>,

    #[command(flatten)]
    #[serde(flatten)]
    pub http: HttpArgs,

    /// Where the XML-RPC store keeps its data: `memory` (lost on exit, like the recipe), a
    /// file PATH (crash-safe: a write is on disk before its reply), or
    /// redis://HOST:PORT[/DB] (shared by several instances) [default: memory]
    #[arg(long, value_name = "memory|PATH|redis://…", help_heading = "XML-RPC")]
    pub kv_store: Option<String>,

    /// Largest XML-RPC request document, also after gunzip, e.g. 4MiB [default: 1MiB]
    #[arg(long, value_name = "SIZE", help_heading = "XML-RPC")]
    #[serde(default, deserialize_with = "size_text")]
    pub max_xmlrpc_size: Option<String>,

    /// multiprocessing authkey for conn, rpc and handoff workers (the recipes use
    /// peekaboo); without it they run no handshake
    #[arg(
        long,
        value_name = "KEY",
        conflicts_with = "authkey_file",
        help_heading = "conn/rpc"
    )]
    pub authkey: Option<String>,

    /// Like --authkey, the key read from FILE (keeps it out of `ps`)
    #[arg(long, value_name = "FILE", help_heading = "conn/rpc")]
    pub authkey_file: Option<PathBuf>,

    /// Largest conn/rpc/bulk frame accepted, e.g. 128MiB [default: 64MiB]
    #[arg(long, value_name = "SIZE", help_heading = "conn/rpc")]
    #[serde(default, deserialize_with = "size_text")]
    pub max_frame: Option<String>,

    /// Require recipe 9's HMAC challenge on the echo service, with this shared key
    #[arg(
        long,
        value_name = "KEY",
        conflicts_with = "hmac_key_file",
        help_heading = "Echo"
    )]
    pub hmac_key: Option<String>,

    /// Like --hmac-key, the key read from FILE (keeps it out of `ps`)
    #[arg(long, value_name = "FILE", help_heading = "Echo")]
    pub hmac_key_file: Option<PathBuf>,

    /// Hash for the HMAC challenge: md5 (the recipe's), sha1, sha256 (advised), sha384,
    /// sha512, sha3_256, sha3_384 [default: md5]
    #[arg(long, value_name = "DIGEST", help_heading = "Echo")]
    pub hmac_digest: Option<String>,

    /// Server certificate chain (PEM); with --tls-key, TCP services speak TLS
    #[arg(long, value_name = "PEM", help_heading = "TLS")]
    pub tls_cert: Option<PathBuf>,

    /// Private key of --tls-cert (PEM)
    #[arg(long, value_name = "PEM", help_heading = "TLS")]
    pub tls_key: Option<PathBuf>,

    /// Require client certificates signed by this CA (PEM)
    #[arg(long, value_name = "PEM", help_heading = "TLS")]
    pub tls_client_ca: Option<PathBuf>,

    /// TCP services that speak TLS, comma-separated [default: all of them]
    #[arg(long, value_name = "SERVICE,...", help_heading = "TLS")]
    #[serde(default, deserialize_with = "joined_list")]
    pub tls: Option<String>,

    /// Connections each TCP service serves at once; more are accepted and closed
    /// [default: 50000]
    #[arg(long, value_name = "N", help_heading = "Limits")]
    pub max_connections: Option<usize>,

    /// Seconds a connection may stay silent before it is closed [default: 300]
    #[arg(long, value_name = "SECONDS", help_heading = "Limits")]
    pub idle_timeout: Option<f64>,

    /// Seconds a client gets for the TLS and HMAC handshakes [default: 10]
    #[arg(long, value_name = "SECONDS", help_heading = "Limits")]
    pub handshake_timeout: Option<f64>,

    /// Serve echo, conn, rpc and http from N worker processes that netkit starts and
    /// restarts; SIGHUP replaces them with a new generation without dropping a connection
    #[arg(long, value_name = "N", help_heading = "Operations")]
    pub workers: Option<usize>,

    /// Seconds a client of --handoff or --workers may wait for a worker to take it
    /// (while none is connected or all are busy); then it is closed [default: 30]
    #[arg(long, value_name = "SECONDS", help_heading = "Operations")]
    pub handoff_wait: Option<f64>,

    /// Runtime threads serving every service's connections [default: one per core]. On a
    /// machine whose clients run beside netkit (a load generator, the apps it serves),
    /// fewer threads than cores serve more: they leave the clients a core and stop
    /// waking each other
    #[arg(long, value_name = "N", help_heading = "Operations")]
    pub threads: Option<usize>,

    /// TOML file with the same keys as these flags (e.g. `echo = "127.0.0.1:20000"`,
    /// `max-connections = 1000`); flags given on the command line win
    #[arg(long, value_name = "FILE", help_heading = "Operations")]
    #[serde(skip)]
    pub config: Option<PathBuf>,

    /// Seconds in-flight work gets to finish after SIGINT/SIGTERM [default: 10]
    #[arg(long, value_name = "SECONDS", help_heading = "Operations")]
    pub grace: Option<f64>,

    /// Serve Prometheus metrics (GET /metrics) and a health check (GET /healthz: 200 ok,
    /// 503 draining once shutdown begins) over plain HTTP on ADDR; prints
    /// `netkit: metrics listening on http://HOST:PORT`
    #[arg(long, value_name = "ADDR", help_heading = "Operations")]
    pub metrics: Option<String>,
}

/// The HTTP service's own flags (everything a peer controls has a cap).
#[derive(clap::Args, Debug, Default, Clone, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct HttpArgs {
    /// Largest HTTP request body, e.g. 1MiB; larger ones get 413 [default: 16MiB]
    #[arg(long, value_name = "SIZE", help_heading = "HTTP")]
    #[serde(default, deserialize_with = "size_text")]
    pub http_max_body: Option<String>,

    /// Longest /delay, /drip duration+delay, in seconds [default: 10]
    #[arg(long, value_name = "SECONDS", help_heading = "HTTP")]
    pub http_max_delay: Option<f64>,

    /// Largest /bytes, /stream-bytes and /range size [default: 100KiB, httpbin's]
    #[arg(long, value_name = "SIZE", help_heading = "HTTP")]
    #[serde(default, deserialize_with = "size_text")]
    pub http_max_bytes: Option<String>,

    /// Largest request head (request line + headers); larger ones get 431 [default: 64KiB]
    #[arg(long, value_name = "SIZE", help_heading = "HTTP")]
    #[serde(default, deserialize_with = "size_text")]
    pub http_max_header_bytes: Option<String>,

    /// Most request headers; more get 431 [default: 100]
    #[arg(long, value_name = "N", help_heading = "HTTP")]
    pub http_max_headers: Option<usize>,

    /// Seconds a client gets to send a request's headers (slowloris guard); also how long
    /// an idle keep-alive connection is kept waiting for its next request [default: 10]
    #[arg(long, value_name = "SECONDS", help_heading = "HTTP")]
    pub http_header_timeout: Option<f64>,

    /// Hosts /redirect-to may send clients to, comma-separated, `*` for any; without it
    /// only same-host and relative targets are allowed (no open redirect)
    #[arg(long, value_name = "HOST,...", help_heading = "HTTP")]
    #[serde(default, deserialize_with = "joined_list")]
    pub http_allow_redirect: Option<String>,

    /// Decode request bodies sent with Content-Encoding gzip or deflate before echoing
    /// them (the decoded size is held to --http-max-body)
    #[arg(long, help_heading = "HTTP")]
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub http_decode_bodies: bool,

    /// /hostname gives this machine's real host name instead of `netkit`
    #[arg(long, help_heading = "HTTP")]
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub http_real_hostname: bool,

    /// /env shows the environment variables whose names start with PREFIX (without it,
    /// none)
    #[arg(long, value_name = "PREFIX", help_heading = "HTTP")]
    pub http_env_prefix: Option<String>,
}

impl HttpArgs {
    /// The options these flags give.
    pub fn options(&self) -> Result<HttpOptions, ConfigError> {
        let size = |flag: &'static str, text: &Option<String>, default: u64| match text {
            None => Ok(default),
            Some(text) => parse_size(flag, text),
        };
        let max_header_bytes = size(
            "--http-max-header-bytes",
            &self.http_max_header_bytes,
            http_service::DEFAULT_MAX_HEADER_BYTES,
        )?;
        // hyper's read buffer cannot be smaller than 8 KiB.
        if !(8192..=16 * 1024 * 1024).contains(&max_header_bytes) {
            return Err(invalid(
                "--http-max-header-bytes",
                "must be between 8KiB and 16MiB",
            ));
        }
        let max_headers = self
            .http_max_headers
            .unwrap_or(http_service::DEFAULT_MAX_HEADERS);
        if max_headers == 0 {
            return Err(invalid("--http-max-headers", "must be at least 1"));
        }
        Ok(HttpOptions {
            max_body: size(
                "--http-max-body",
                &self.http_max_body,
                http_service::DEFAULT_MAX_BODY,
            )?,
            max_delay: seconds(
                "--http-max-delay",
                self.http_max_delay,
                http_service::DEFAULT_MAX_DELAY_SECS,
            )?,
            max_bytes: size(
                "--http-max-bytes",
                &self.http_max_bytes,
                http_service::DEFAULT_MAX_BYTES,
            )?,
            max_header_bytes: max_header_bytes as usize,
            max_headers,
            header_timeout: seconds(
                "--http-header-timeout",
                self.http_header_timeout,
                http_service::DEFAULT_HEADER_TIMEOUT_SECS,
            )?,
            redirect_hosts: self
                .http_allow_redirect
                .iter()
                .flat_map(|list| list.split(','))
                .map(|h| h.trim().to_ascii_lowercase())
                .filter(|h| !h.is_empty())
                .collect(),
            decode_bodies: self.http_decode_bodies,
            real_hostname: self.http_real_hostname,
            env_prefix: self.http_env_prefix.clone(),
        })
    }
}

/// A size key: `max-frame = "128MiB"` or `max-frame = 134217728`.
fn size_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Size {
        Text(String),
        Bytes(u64),
    }
    Ok(Option::<Size>::deserialize(d)?.map(|size| match size {
        Size::Text(text) => text,
        Size::Bytes(n) => n.to_string(),
    }))
}

/// A list key: `tls = "echo,http"` or `tls = ["echo", "http"]`.
fn joined_list<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum List {
        Joined(String),
        Items(Vec<String>),
    }
    Ok(Option::<List>::deserialize(d)?.map(|list| match list {
        List::Joined(text) => text,
        List::Items(items) => items.join(","),
    }))
}

/// Keys that name one setting two ways: a flag of a pair given on the command line
/// overrides both keys of the pair in the file.
const KEY_PAIRS: [[&str; 2]; 2] = [["authkey", "authkey-file"], ["hmac-key", "hmac-key-file"]];

impl ServeArgs {
    /// These flags over the `--config` file's keys (if any): flags win, key by key.
    pub fn merged_with_file(&self) -> Result<ServeArgs, ConfigError> {
        let Some(path) = &self.config else {
            return Ok(self.clone());
        };
        let file = read_file(path)?;
        // toml leaves out a None field, so a flag not given never hides the file's key.
        let internal = |e: toml::ser::Error| invalid("--config", e.to_string());
        let flags = toml::Table::try_from(self).map_err(internal)?;
        let mut merged = toml::Table::try_from(&file).map_err(internal)?;
        for pair in KEY_PAIRS {
            if pair.iter().any(|key| flags.contains_key(*key)) {
                for key in pair {
                    merged.remove(key);
                }
            }
        }
        merged.extend(flags);
        let mut args: ServeArgs = merged
            .try_into()
            .map_err(|e: toml::de::Error| invalid("--config", e.to_string()))?;
        args.config = self.config.clone();
        Ok(args)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    ReadFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path}: {message}")]
    ParseFile { path: PathBuf, message: String },
    #[error("cannot read {flag} file {path}: {source}")]
    ReadSecret {
        flag: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{flag}: {message}")]
    Invalid { flag: &'static str, message: String },
}

fn invalid(flag: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        flag,
        message: message.into(),
    }
}

/// A number of seconds, or its default.
fn seconds(flag: &'static str, value: Option<f64>, default: f64) -> Result<Duration, ConfigError> {
    let value = value.unwrap_or(default);
    if !value.is_finite() || value < 0.0 {
        return Err(invalid(flag, format!("{value} is not a number of seconds")));
    }
    Ok(Duration::from_secs_f64(value))
}

/// TLS for the services in `services`.
#[derive(Debug, Clone, PartialEq)]
pub struct TlsSettings {
    pub files: ServerTlsFiles,
    pub services: Vec<Service>,
}

/// Caps and timeouts that apply to every peer.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    pub max_connections: usize,
    pub idle_timeout: Duration,
    pub handshake_timeout: Duration,
    pub max_frame: u64,
    /// Largest XML-RPC document.
    pub max_xmlrpc_size: u64,
}

/// A validated `netkit serve` configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The started services' addresses, in [`SERVICES`] order.
    pub services: ServiceAddrs,
    /// `--handoff-socket PATH`, given with `--handoff ADDR`.
    pub handoff_socket: Option<PathBuf>,
    pub kv_store: crate::kv::StoreSpec,
    pub http_options: HttpOptions,
    /// multiprocessing authkey for conn, rpc and handoff workers; `None` skips the
    /// handshake.
    pub authkey: Option<Vec<u8>>,
    /// `--workers N`: the services [`Service::served_by_workers`] run in N processes.
    pub workers: Option<usize>,
    /// `--threads N`: the async runtime's worker threads (`None`: one per core).
    pub threads: Option<usize>,
    /// How long a handed-off client may wait for a worker.
    pub handoff_wait: Duration,
    pub hmac: Option<HmacAuth>,
    pub tls: Option<TlsSettings>,
    pub limits: Limits,
    pub grace: Duration,
    /// `--metrics ADDR`: the Prometheus and health endpoint (not a service: it never
    /// starts by default).
    pub metrics: Option<String>,
}

impl Config {
    /// Merges the flags over the `--config` file (if any) and validates the result.
    /// With no service named anywhere, every service with a default address starts on it.
    pub fn from_args(args: &ServeArgs) -> Result<Config, ConfigError> {
        let args = args.merged_with_file()?;
        let mut services = args.services.clone();
        if services.0.is_empty() {
            services.0 = SERVICES
                .iter()
                .filter_map(|spec| Some((spec.service, spec.default_addr?.to_string())))
                .collect();
        }
        for (service, addr) in &services.0 {
            check_addr(service.spec().flag, addr)?;
        }
        let started = |service| services.get(service).is_some();
        match (started(Service::Handoff), &args.handoff_socket) {
            (true, None) => return Err(invalid("--handoff", "needs --handoff-socket PATH")),
            (false, Some(_)) => return Err(invalid("--handoff-socket", "needs --handoff ADDR")),
            _ => {}
        }

        let hmac_key = secret("--hmac-key", &args.hmac_key, &args.hmac_key_file)?;
        let authkey = secret("--authkey", &args.authkey, &args.authkey_file)?;
        if authkey.is_some()
            && ![Service::Conn, Service::Rpc, Service::Handoff]
                .into_iter()
                .any(started)
        {
            return Err(invalid(
                "--authkey",
                "applies to conn, rpc and handoff, none of which is started",
            ));
        }
        let hmac = match (hmac_key, &args.hmac_digest) {
            (Some(key), digest) => {
                if !started(Service::Echo) {
                    return Err(invalid(
                        "--hmac-key",
                        "applies to the echo service, which is not started (add --echo)",
                    ));
                }
                let digest = match digest {
                    Some(name) => name
                        .parse::<Digest>()
                        .map_err(|e| invalid("--hmac-digest", e.to_string()))?,
                    None => Digest::Md5,
                };
                Some(HmacAuth { key, digest })
            }
            (None, Some(_)) => {
                return Err(invalid(
                    "--hmac-digest",
                    "needs --hmac-key or --hmac-key-file",
                ))
            }
            (None, None) => None,
        };

        let kv_store = match &args.kv_store {
            Some(text) if text.trim().is_empty() => {
                return Err(invalid("--kv-store", "give memory or a file path"))
            }
            Some(_) if !started(Service::Xmlrpc) => {
                return Err(invalid(
                    "--kv-store",
                    "applies to the xmlrpc service, which is not started (add --xmlrpc)",
                ))
            }
            Some(text) => crate::kv::StoreSpec::parse(text),
            None => crate::kv::StoreSpec::Memory,
        };
        let max_xmlrpc_size = match &args.max_xmlrpc_size {
            Some(text) => parse_size("--max-xmlrpc-size", text)?,
            None => DEFAULT_MAX_XMLRPC_SIZE,
        };
        if max_xmlrpc_size == 0 || usize::try_from(max_xmlrpc_size).is_err() {
            return Err(invalid("--max-xmlrpc-size", "must be at least 1 byte"));
        }

        let started_list: Vec<Service> = services.0.keys().copied().collect();
        let tls = tls_settings(&args, &started_list)?;

        let max_connections = args.max_connections.unwrap_or(DEFAULT_MAX_CONNECTIONS);
        if max_connections == 0 {
            return Err(invalid("--max-connections", "must be at least 1"));
        }
        let max_frame = match &args.max_frame {
            Some(text) => parse_size("--max-frame", text)?,
            None => DEFAULT_MAX_FRAME,
        };
        let limits = Limits {
            max_connections,
            idle_timeout: seconds(
                "--idle-timeout",
                args.idle_timeout,
                DEFAULT_IDLE_TIMEOUT_SECS,
            )?,
            handshake_timeout: seconds(
                "--handshake-timeout",
                args.handshake_timeout,
                DEFAULT_HANDSHAKE_TIMEOUT_SECS,
            )?,
            max_frame,
            max_xmlrpc_size,
        };
        let grace = seconds("--grace", args.grace, DEFAULT_GRACE_SECS)?;
        if let Some(addr) = &args.metrics {
            check_addr("--metrics", addr)?;
        }
        if let Some(n) = args.workers {
            if !(1..=MAX_WORKERS).contains(&n) {
                return Err(invalid("--workers", format!("must be 1 to {MAX_WORKERS}")));
            }
            if !started_list.iter().any(|s| s.served_by_workers()) {
                let names = and_list(SERVICES.iter().filter(|s| s.workers).map(|s| s.name()));
                return Err(invalid(
                    "--workers",
                    format!("serves {names}, none of which is started"),
                ));
            }
        }
        if let Some(n) = args.threads {
            if !(1..=MAX_THREADS).contains(&n) {
                return Err(invalid("--threads", format!("must be 1 to {MAX_THREADS}")));
            }
        }
        let handoff_wait = seconds(
            "--handoff-wait",
            args.handoff_wait,
            DEFAULT_HANDOFF_WAIT_SECS,
        )?;
        let http_options = args.http.options()?;
        Ok(Config {
            services,
            handoff_socket: args.handoff_socket.clone(),
            kv_store,
            http_options,
            authkey,
            workers: args.workers,
            threads: args.threads,
            handoff_wait,
            hmac,
            tls,
            limits,
            grace,
            metrics: args.metrics.clone(),
        })
    }

    /// The address of `service`, when it is started.
    pub fn addr(&self, service: Service) -> Option<&str> {
        self.services.get(service)
    }

    /// `--handoff ADDR` and its `--handoff-socket PATH`.
    pub fn handoff(&self) -> Option<(&str, &Path)> {
        Some((
            self.addr(Service::Handoff)?,
            self.handoff_socket.as_deref()?,
        ))
    }

    /// Settings of the framed (multiprocessing.connection) services.
    pub fn frame_options(&self) -> crate::service::conn::FrameOptions {
        crate::service::conn::FrameOptions {
            authkey: self.authkey.as_deref().map(std::sync::Arc::from),
            max_frame: self.limits.max_frame,
            idle_timeout: self.limits.idle_timeout,
            handshake_timeout: self.limits.handshake_timeout,
        }
    }

    /// Whether `service` speaks TLS.
    pub fn tls_for(&self, service: Service) -> Option<&ServerTlsFiles> {
        self.tls
            .as_ref()
            .filter(|t| t.services.contains(&service))
            .map(|t| &t.files)
    }
}

fn read_file(path: &Path) -> Result<ServeArgs, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::ReadFile {
        path: path.to_path_buf(),
        source,
    })?;
    let parse_error = |e: toml::de::Error| ConfigError::ParseFile {
        path: path.to_path_buf(),
        // toml's message spans several lines with a caret; the contract wants one line.
        message: e
            .to_string()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" "),
    };
    // The keys are the flags' long names, read off clap's own definition of them.
    let keys: toml::Table = toml::from_str(&text).map_err(parse_error)?;
    let command = <ServeArgs as clap::Args>::augment_args(clap::Command::new("serve"));
    let flags: Vec<&str> = command
        .get_arguments()
        .filter_map(|arg| arg.get_long())
        .filter(|flag| *flag != "config")
        .collect();
    if let Some(unknown) = keys.keys().find(|key| !flags.contains(&key.as_str())) {
        return Err(ConfigError::ParseFile {
            path: path.to_path_buf(),
            message: format!(
                "unknown field `{unknown}`: the keys are `netkit serve`'s flags without --"
            ),
        });
    }
    toml::from_str(&text).map_err(parse_error)
}

/// A key given inline or as a file (`--authkey` or `--authkey-file`).
fn secret(
    flag: &'static str,
    inline: &Option<String>,
    file: &Option<PathBuf>,
) -> Result<Option<Vec<u8>>, ConfigError> {
    let name = flag.trim_start_matches("--");
    let key = match (inline, file) {
        // Only the config file can name both: clap refuses both flags.
        (Some(_), Some(_)) => {
            return Err(invalid(
                flag,
                format!("give {name} or {name}-file, not both"),
            ))
        }
        (Some(key), None) => Some(key.as_bytes().to_vec()),
        (None, Some(path)) => Some(read_secret(flag, path)?),
        (None, None) => None,
    };
    if key.as_ref().is_some_and(|k| k.is_empty()) {
        return Err(invalid(flag, "the key is empty"));
    }
    Ok(key)
}

/// Reads a key file (`--authkey-file`, `--hmac-key-file`), without the trailing newline
/// that `echo key > file` leaves.
pub fn read_secret(flag: &'static str, path: &Path) -> Result<Vec<u8>, ConfigError> {
    let mut key = std::fs::read(path).map_err(|source| ConfigError::ReadSecret {
        flag,
        path: path.to_path_buf(),
        source,
    })?;
    // A key file written by `echo` ends with a newline that is not part of the key.
    while key.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        key.pop();
    }
    Ok(key)
}

/// `host:port`, port 0 for any free one; IPv6 hosts in brackets.
fn check_addr(flag: &'static str, addr: &str) -> Result<(), ConfigError> {
    let Some((host, port)) = addr.rsplit_once(':') else {
        return Err(invalid(flag, format!("{addr:?} is not HOST:PORT")));
    };
    if host.is_empty() {
        return Err(invalid(
            flag,
            format!("{addr:?} has no host (use 0.0.0.0:{port} for every interface)"),
        ));
    }
    if host.contains(':') && !(host.starts_with('[') && host.ends_with(']')) {
        return Err(invalid(
            flag,
            format!("{addr:?}: put an IPv6 address in brackets, e.g. [::1]:{port}"),
        ));
    }
    port.parse::<u16>().map_err(|_| {
        invalid(
            flag,
            format!("{addr:?}: {port:?} is not a port number (0-65535)"),
        )
    })?;
    Ok(())
}

fn tls_settings(args: &ServeArgs, started: &[Service]) -> Result<Option<TlsSettings>, ConfigError> {
    let client_ca = args.tls_client_ca.clone();
    let (cert, key) = match (args.tls_cert.clone(), args.tls_key.clone()) {
        (Some(cert), Some(key)) => (cert, key),
        (None, None) => {
            if client_ca.is_some() {
                return Err(invalid("--tls-client-ca", "needs --tls-cert and --tls-key"));
            }
            if args.tls.is_some() {
                return Err(invalid("--tls", "needs --tls-cert and --tls-key"));
            }
            return Ok(None);
        }
        (Some(_), None) => return Err(invalid("--tls-cert", "needs --tls-key")),
        (None, Some(_)) => return Err(invalid("--tls-key", "needs --tls-cert")),
    };
    let services = match &args.tls {
        None => started.iter().copied().filter(|s| s.can_tls()).collect(),
        Some(list) => {
            let names: Vec<&str> = list
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect();
            let mut services = Vec::new();
            for name in names {
                let tcp_names: Vec<&str> = Service::ALL
                    .iter()
                    .filter(|s| s.can_tls())
                    .map(|s| s.name())
                    .collect();
                let service = Service::from_name(name)
                    .filter(|s| s.can_tls())
                    .ok_or_else(|| {
                        invalid(
                            "--tls",
                            format!(
                                "{name:?} is not a TCP service (choose from {})",
                                tcp_names.join(", ")
                            ),
                        )
                    })?;
                if !started.contains(&service) {
                    return Err(invalid(
                        "--tls",
                        format!("{name} is not started (add --{name})"),
                    ));
                }
                services.push(service);
            }
            services
        }
    };
    Ok(Some(TlsSettings {
        files: ServerTlsFiles {
            cert,
            key,
            client_ca,
        },
        services,
    }))
}

/// Sizes as `bytesize` reads them: `1048576`, `64KiB`, `128MiB`, `1GB`.
pub fn parse_size(flag: &'static str, text: &str) -> Result<u64, ConfigError> {
    text.trim()
        .parse::<bytesize::ByteSize>()
        .map(|size| size.as_u64())
        .map_err(|_| {
            invalid(
                flag,
                format!("{text:?} is not a size (e.g. 65536, 64KiB, 128MiB)"),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn no_service_means_every_service_on_defaults() {
        let config = Config::from_args(&ServeArgs::default()).unwrap();
        assert_eq!(
            config.addr(Service::Echo),
            Service::Echo.spec().default_addr
        );
        assert_eq!(
            config.addr(Service::Time),
            Service::Time.spec().default_addr
        );
        assert_eq!(
            config.addr(Service::Conn),
            Service::Conn.spec().default_addr
        );
        assert_eq!(config.addr(Service::Rpc), Service::Rpc.spec().default_addr);
        assert_eq!(
            config.addr(Service::Xmlrpc),
            Service::Xmlrpc.spec().default_addr
        );
        assert_eq!(
            config.addr(Service::Http),
            Service::Http.spec().default_addr
        );
        assert_eq!(config.http_options.max_body, 16 * 1024 * 1024);
        assert_eq!(config.kv_store, crate::kv::StoreSpec::Memory);
        assert_eq!(config.limits.max_xmlrpc_size, 1 << 20);
        assert_eq!(config.authkey, None);
        assert_eq!(config.grace, Duration::from_secs(10));
        assert_eq!(config.limits.max_frame, 64 * 1024 * 1024);
        assert_eq!(config.hmac, None);
        // Metrics are opt-in: not started by a plain `netkit serve`.
        assert_eq!(config.metrics, None);
    }

    #[test]
    fn metrics_address_from_the_file_and_flags_win() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        writeln!(file, "metrics = \"127.0.0.1:9100\"").unwrap();
        let from_file = ServeArgs {
            config: Some(file.path().to_path_buf()),
            ..Default::default()
        };
        let config = Config::from_args(&from_file).unwrap();
        assert_eq!(config.metrics.as_deref(), Some("127.0.0.1:9100"));
        // A metrics address names no service: every service starts, as with no flags.
        assert_eq!(
            config.addr(Service::Echo),
            Service::Echo.spec().default_addr
        );
        let flag = ServeArgs {
            metrics: Some("127.0.0.1:9200".into()),
            ..from_file
        };
        let config = Config::from_args(&flag).unwrap();
        assert_eq!(config.metrics.as_deref(), Some("127.0.0.1:9200"));
        let bad = ServeArgs {
            metrics: Some("9100".into()),
            ..Default::default()
        };
        let error = Config::from_args(&bad).unwrap_err().to_string();
        assert!(error.starts_with("--metrics: "), "{error}");
    }

    #[test]
    fn flags_win_over_the_file() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        writeln!(
            file,
            "echo = \"127.0.0.1:1\"\ntime = \"127.0.0.1:2\"\nmax-connections = 7\ngrace = 3\nmax-frame = \"1KiB\"\nhmac-key = \"k\"\nthreads = 3"
        )
        .unwrap();
        let args = ServeArgs {
            config: Some(file.path().to_path_buf()),
            services: ServiceAddrs::from([(Service::Echo, "127.0.0.1:5")]),
            grace: Some(1.5),
            ..Default::default()
        };
        let config = Config::from_args(&args).unwrap();
        assert_eq!(config.addr(Service::Echo), Some("127.0.0.1:5"));
        assert_eq!(config.addr(Service::Time), Some("127.0.0.1:2"));
        assert_eq!(config.limits.max_connections, 7);
        assert_eq!(config.limits.max_frame, 1024);
        assert_eq!(config.grace, Duration::from_millis(1500));
        assert_eq!(config.hmac.unwrap().digest, Digest::Md5);
        assert_eq!(config.threads, Some(3));
    }

    #[test]
    fn unknown_file_keys_are_named() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        writeln!(file, "echoo = \"127.0.0.1:1\"").unwrap();
        let args = ServeArgs {
            config: Some(file.path().to_path_buf()),
            ..Default::default()
        };
        let error = Config::from_args(&args).unwrap_err().to_string();
        assert!(error.contains("unknown field `echoo`"), "{error}");
        assert!(!error.contains('\n'), "{error}");
    }

    #[test]
    fn bad_values_are_refused_with_the_flag_named() {
        let cases: Vec<(ServeArgs, &str)> = vec![
            (
                ServeArgs {
                    services: ServiceAddrs::from([(Service::Echo, "localhost")]),
                    ..Default::default()
                },
                "--echo: \"localhost\" is not HOST:PORT",
            ),
            (
                ServeArgs {
                    services: ServiceAddrs::from([(Service::Echo, "::1:80")]),
                    ..Default::default()
                },
                "--echo: \"::1:80\": put an IPv6 address in brackets, e.g. [::1]:80",
            ),
            (
                ServeArgs {
                    tls_cert: Some("c.pem".into()),
                    ..Default::default()
                },
                "--tls-cert: needs --tls-key",
            ),
            (
                ServeArgs {
                    tls_cert: Some("c.pem".into()),
                    tls_key: Some("k.pem".into()),
                    tls: Some("time".into()),
                    ..Default::default()
                },
                "--tls: \"time\" is not a TCP service (choose from echo, conn, rpc, xmlrpc, http)",
            ),
            (
                ServeArgs {
                    services: ServiceAddrs::from([(Service::Time, "127.0.0.1:0")]),
                    hmac_key: Some("k".into()),
                    ..Default::default()
                },
                "--hmac-key: applies to the echo service, which is not started (add --echo)",
            ),
            (
                ServeArgs {
                    hmac_key: Some("k".into()),
                    hmac_digest: Some("whirlpool".into()),
                    ..Default::default()
                },
                "--hmac-digest: unknown digest \"whirlpool\"",
            ),
            (
                ServeArgs {
                    max_frame: Some("lots".into()),
                    ..Default::default()
                },
                "--max-frame: \"lots\" is not a size",
            ),
            (
                ServeArgs {
                    grace: Some(-1.0),
                    ..Default::default()
                },
                "--grace: -1 is not a number of seconds",
            ),
            (
                ServeArgs {
                    services: ServiceAddrs::from([(Service::Echo, "127.0.0.1:0")]),
                    kv_store: Some("kv.redb".into()),
                    ..Default::default()
                },
                "--kv-store: applies to the xmlrpc service, which is not started (add --xmlrpc)",
            ),
            (
                ServeArgs {
                    max_xmlrpc_size: Some("0".into()),
                    ..Default::default()
                },
                "--max-xmlrpc-size: must be at least 1 byte",
            ),
            (
                ServeArgs {
                    max_connections: Some(0),
                    ..Default::default()
                },
                "--max-connections: must be at least 1",
            ),
        ];
        for (args, expected) in cases {
            let error = Config::from_args(&args).unwrap_err().to_string();
            assert!(
                error.starts_with(expected),
                "{error:?} should start with {expected:?}"
            );
        }
    }

    #[test]
    fn tls_defaults_to_every_started_tcp_service() {
        let args = ServeArgs {
            tls_cert: Some("c.pem".into()),
            tls_key: Some("k.pem".into()),
            ..Default::default()
        };
        let config = Config::from_args(&args).unwrap();
        assert_eq!(
            config.tls.as_ref().unwrap().services,
            vec![
                Service::Echo,
                Service::Conn,
                Service::Rpc,
                Service::Xmlrpc,
                Service::Http
            ]
        );
        assert!(config.tls_for(Service::Echo).is_some());
        assert!(config.tls_for(Service::Time).is_none());
    }

    #[test]
    fn handoff_flags() {
        let args = ServeArgs {
            services: ServiceAddrs::from([(Service::Handoff, "127.0.0.1:0")]),
            handoff_socket: Some("/tmp/h.sock".into()),
            authkey: Some("peekaboo".into()),
            ..Default::default()
        };
        let config = Config::from_args(&args).unwrap();
        // Naming only the handoff service starts only it.
        assert_eq!(config.addr(Service::Echo), None);
        assert_eq!(config.addr(Service::Time), None);
        assert_eq!(
            config.handoff(),
            Some(("127.0.0.1:0", Path::new("/tmp/h.sock")))
        );
        assert_eq!(config.authkey.as_deref(), Some(&b"peekaboo"[..]));

        let mut key = tempfile::NamedTempFile::new().unwrap();
        writeln!(key, "from-file").unwrap();
        let args = ServeArgs {
            authkey_file: Some(key.path().to_path_buf()),
            services: ServiceAddrs::from([
                (Service::Echo, "127.0.0.1:0"),
                (Service::Conn, "127.0.0.1:0"),
            ]),
            workers: Some(2),
            ..Default::default()
        };
        let config = Config::from_args(&args).unwrap();
        assert_eq!(config.authkey.as_deref(), Some(&b"from-file"[..]));
        assert_eq!(config.workers, Some(2));
    }

    #[test]
    fn bad_handoff_flags_are_named() {
        let cases: Vec<(ServeArgs, &str)> = vec![
            (
                ServeArgs {
                    services: ServiceAddrs::from([(Service::Handoff, "127.0.0.1:0")]),
                    ..Default::default()
                },
                "--handoff: needs --handoff-socket PATH",
            ),
            (
                ServeArgs {
                    workers: Some(0),
                    ..Default::default()
                },
                "--workers: must be 1 to 256",
            ),
            (
                ServeArgs {
                    threads: Some(0),
                    ..Default::default()
                },
                "--threads: must be 1 to 1024",
            ),
            (
                ServeArgs {
                    services: ServiceAddrs::from([(Service::Time, "127.0.0.1:0")]),
                    workers: Some(2),
                    ..Default::default()
                },
                "--workers: serves echo, conn, rpc and http, none of which is started",
            ),
            (
                ServeArgs {
                    authkey: Some(String::new()),
                    ..Default::default()
                },
                "--authkey: the key is empty",
            ),
            (
                ServeArgs {
                    tls_cert: Some("c.pem".into()),
                    tls_key: Some("k.pem".into()),
                    tls: Some("handoff".into()),
                    services: ServiceAddrs::from([(Service::Handoff, "127.0.0.1:0")]),
                    handoff_socket: Some("/tmp/h.sock".into()),
                    ..Default::default()
                },
                "--tls: \"handoff\" is not a TCP service (choose from echo, conn, rpc, xmlrpc, http)",
            ),
        ];
        for (args, expected) in cases {
            let error = Config::from_args(&args).unwrap_err().to_string();
            assert!(
                error.starts_with(expected),
                "{error:?} should start with {expected:?}"
            );
        }
    }

    #[test]
    fn kv_store_specs() {
        use crate::kv::StoreSpec;
        let store = |text: &str| {
            let args = ServeArgs {
                services: ServiceAddrs::from([(Service::Xmlrpc, "127.0.0.1:0")]),
                kv_store: Some(text.into()),
                ..Default::default()
            };
            Config::from_args(&args).unwrap().kv_store
        };
        assert_eq!(store("memory"), StoreSpec::Memory);
        assert_eq!(
            store("/var/kv.redb"),
            StoreSpec::File("/var/kv.redb".into())
        );
        assert_eq!(
            store("redis://127.0.0.1:6379/2"),
            StoreSpec::Redis("redis://127.0.0.1:6379/2".into())
        );
    }

    #[test]
    fn http_limits_from_the_config_file_and_flags_win() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        writeln!(
            file,
            "http = \"127.0.0.1:0\"\nhttp-max-body = \"1MiB\"\nhttp-max-headers = 7\n\
             http-allow-redirect = [\"a.example\", \"b.example\"]\nhttp-decode-bodies = true"
        )
        .unwrap();
        let mut args = ServeArgs {
            config: Some(file.path().to_path_buf()),
            ..Default::default()
        };
        args.http.http_max_headers = Some(9);
        let config = Config::from_args(&args).unwrap();
        assert_eq!(config.addr(Service::Http), Some("127.0.0.1:0"));
        assert_eq!(config.http_options.max_body, 1 << 20);
        assert_eq!(config.http_options.max_headers, 9);
        assert_eq!(
            config.http_options.redirect_hosts,
            vec!["a.example".to_string(), "b.example".to_string()]
        );
        assert!(config.http_options.decode_bodies);
    }

    #[test]
    fn every_flag_is_a_file_key_and_config_is_not() {
        let command = <ServeArgs as clap::Args>::augment_args(clap::Command::new("serve"));
        for flag in command.get_arguments().filter_map(|a| a.get_long()) {
            let mut file = tempfile::NamedTempFile::new().unwrap();
            // The value's type may be wrong for the key; the key itself must be known.
            writeln!(file, "{flag} = \"x\"").unwrap();
            let error = read_file(file.path()).err().map(|e| e.to_string());
            let unknown = error
                .as_deref()
                .is_some_and(|e| e.contains("unknown field"));
            assert_eq!(unknown, flag == "config", "{flag}: {error:?}");
        }
    }

    #[test]
    fn a_key_flag_overrides_both_keys_of_its_pair_in_the_file() {
        let mut key = tempfile::NamedTempFile::new().unwrap();
        writeln!(key, "from-file").unwrap();
        let mut file = tempfile::NamedTempFile::new().unwrap();
        writeln!(
            file,
            "conn = \"127.0.0.1:0\"\nauthkey-file = {:?}",
            key.path().display().to_string()
        )
        .unwrap();
        let args = ServeArgs {
            config: Some(file.path().to_path_buf()),
            authkey: Some("from-flag".into()),
            ..Default::default()
        };
        let config = Config::from_args(&args).unwrap();
        assert_eq!(config.authkey.as_deref(), Some(&b"from-flag"[..]));
        assert_eq!(config.addr(Service::Conn), Some("127.0.0.1:0"));
        assert_eq!(config.addr(Service::Echo), None);
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("f", "128MiB").unwrap(), 128 << 20);
        assert_eq!(parse_size("f", "65536").unwrap(), 65536);
        assert_eq!(parse_size("f", "1 KiB").unwrap(), 1024);
    }
}
