//! `netkit serve`'s flags and `--config` TOML file, merged (flags win) and validated into
//! one [`Config`]. Every problem is a [`ConfigError`] that names the flag or key at fault.

use crate::auth::HmacAuth;
use crate::proto::challenge::Digest;
use crate::tls::ServerTlsFiles;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The recipes' own ports, on loopback: a default install exposes nothing to the network.
pub const DEFAULT_ECHO: &str = "127.0.0.1:20000";
pub const DEFAULT_TIME: &str = "127.0.0.1:20000";
pub const DEFAULT_CONN: &str = "127.0.0.1:25000";
pub const DEFAULT_RPC: &str = "127.0.0.1:17000";
pub const DEFAULT_XMLRPC: &str = "127.0.0.1:15000";
/// The recipe's wsgiref port.
pub const DEFAULT_HTTP: &str = "127.0.0.1:8080";
pub const DEFAULT_MAX_XMLRPC_SIZE: u64 = 1024 * 1024;

pub const DEFAULT_MAX_CONNECTIONS: usize = 50_000;
pub const DEFAULT_GRACE_SECS: f64 = 10.0;
pub const DEFAULT_IDLE_TIMEOUT_SECS: f64 = 300.0;
pub const DEFAULT_HANDSHAKE_TIMEOUT_SECS: f64 = 10.0;
pub const DEFAULT_MAX_FRAME: u64 = 64 * 1024 * 1024;
/// Worker processes `--workers` may start.
pub const MAX_WORKERS: usize = 256;

/// A service `netkit serve` can start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    Echo,
    Time,
    Conn,
    Rpc,
    Handoff,
    Xmlrpc,
    Http,
}

impl Service {
    pub const ALL: [Service; 7] = [
        Service::Echo,
        Service::Time,
        Service::Conn,
        Service::Rpc,
        Service::Handoff,
        Service::Xmlrpc,
        Service::Http,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Service::Echo => "echo",
            Service::Time => "time",
            Service::Conn => "conn",
            Service::Rpc => "rpc",
            Service::Handoff => "handoff",
            Service::Xmlrpc => "xmlrpc",
            Service::Http => "http",
        }
    }

    /// TCP services can speak TLS; UDP ones cannot.
    pub fn is_tcp(self) -> bool {
        !matches!(self, Service::Time)
    }

    /// TCP services whose own bytes netkit speaks (handoff only passes sockets on).
    pub fn can_tls(self) -> bool {
        self.is_tcp() && self != Service::Handoff
    }

    /// Services `--workers` runs in worker processes. The others stay in the supervisor:
    /// UDP has no connection to hand over, handoff has its own workers, and the XML-RPC
    /// store must be one store, not one per process.
    pub fn served_by_workers(self) -> bool {
        matches!(
            self,
            Service::Echo | Service::Conn | Service::Rpc | Service::Http
        )
    }

    pub fn from_name(name: &str) -> Option<Service> {
        Service::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// `netkit serve`'s flags. Every value is optional here so that a `--config` file can
/// supply it; [`Config::from_args`] applies the defaults.
#[derive(clap::Args, Debug, Default, Clone)]
pub struct ServeArgs {
    /// TOML file with the same keys as these flags (e.g. `echo = "127.0.0.1:20000"`,
    /// `max-connections = 1000`); flags given on the command line win
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Serve TCP echo (recipe 2) on ADDR [default when given alone: 127.0.0.1:20000]
    #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = DEFAULT_ECHO)]
    pub echo: Option<String>,

    /// Serve UDP time (recipe 3; ctime text, or SNTP for NTP clients) on ADDR
    /// [default when given alone: 127.0.0.1:20000]
    #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = DEFAULT_TIME)]
    pub time: Option<String>,

    /// Serve HTTP: httpbin and recipe 5's /hello and /localtime on ADDR
    /// [default when given alone: 127.0.0.1:8080]
    #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = DEFAULT_HTTP)]
    pub http: Option<String>,

    #[command(flatten)]
    pub http_limits: crate::service::http::HttpArgs,

    /// Serve recipe 6's XML-RPC key-value store on ADDR (POST / or /RPC2)
    /// [default when given alone: 127.0.0.1:15000]
    #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = DEFAULT_XMLRPC)]
    pub xmlrpc: Option<String>,

    /// Where the XML-RPC store keeps its data: `memory` (lost on exit, like the recipe), a
    /// file PATH (crash-safe: a write is on disk before its reply), or
    /// redis://HOST:PORT[/DB] (shared by several instances) [default: memory]
    #[arg(long, value_name = "memory|PATH|redis://…")]
    pub kv_store: Option<String>,

    /// Largest XML-RPC request document, also after gunzip, e.g. 4MiB [default: 1MiB]
    #[arg(long, value_name = "SIZE")]
    pub max_xmlrpc_size: Option<String>,

    /// Serve multiprocessing.connection echo (recipe 7) on ADDR
    /// [default when given alone: 127.0.0.1:25000]
    #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = DEFAULT_CONN)]
    pub conn: Option<String>,

    /// Serve the recipe 8 pickle RPC (add, sub) on ADDR
    /// [default when given alone: 127.0.0.1:17000]
    #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = DEFAULT_RPC)]
    pub rpc: Option<String>,

    /// Accept TCP clients on ADDR and hand each socket to a worker process connected to
    /// --handoff-socket (recipe 11; the recipe's Python worker works unchanged)
    #[arg(long, value_name = "ADDR", requires = "handoff_socket")]
    pub handoff: Option<String>,

    /// Unix socket where handoff workers connect (`netkit handoff worker --connect PATH`
    /// or Python's `Client(PATH, authkey=…)`)
    #[arg(long, value_name = "PATH", requires = "handoff")]
    pub handoff_socket: Option<PathBuf>,

    /// multiprocessing authkey for conn, rpc and handoff workers (the recipes use
    /// peekaboo); without it they run no handshake
    #[arg(long, value_name = "KEY", conflicts_with = "authkey_file")]
    pub authkey: Option<String>,

    /// Like --authkey, the key read from FILE (keeps it out of `ps`)
    #[arg(long, value_name = "FILE")]
    pub authkey_file: Option<PathBuf>,

    /// Serve echo, conn, rpc and http from N worker processes that netkit starts and
    /// restarts; SIGHUP replaces them with a new generation without dropping a connection
    #[arg(long, value_name = "N")]
    pub workers: Option<usize>,

    /// Seconds a client of --handoff or --workers may wait for a worker to take it
    /// (while none is connected or all are busy); then it is closed [default: 30]
    #[arg(long, value_name = "SECONDS")]
    pub handoff_wait: Option<f64>,

    /// Require recipe 9's HMAC challenge on the echo service, with this shared key
    #[arg(long, value_name = "KEY", conflicts_with = "hmac_key_file")]
    pub hmac_key: Option<String>,

    /// Like --hmac-key, the key read from FILE (keeps it out of `ps`)
    #[arg(long, value_name = "FILE")]
    pub hmac_key_file: Option<PathBuf>,

    /// Hash for the HMAC challenge: md5 (the recipe's), sha1, sha256 (advised), sha384,
    /// sha512, sha3_256, sha3_384 [default: md5]
    #[arg(long, value_name = "DIGEST")]
    pub hmac_digest: Option<String>,

    /// Server certificate chain (PEM); with --tls-key, TCP services speak TLS
    #[arg(long, value_name = "PEM")]
    pub tls_cert: Option<PathBuf>,

    /// Private key of --tls-cert (PEM)
    #[arg(long, value_name = "PEM")]
    pub tls_key: Option<PathBuf>,

    /// Require client certificates signed by this CA (PEM)
    #[arg(long, value_name = "PEM")]
    pub tls_client_ca: Option<PathBuf>,

    /// TCP services that speak TLS, comma-separated [default: all of them]
    #[arg(long, value_name = "SERVICE,...")]
    pub tls: Option<String>,

    /// Connections each TCP service serves at once; more are accepted and closed
    /// [default: 50000]
    #[arg(long, value_name = "N")]
    pub max_connections: Option<usize>,

    /// Seconds in-flight work gets to finish after SIGINT/SIGTERM [default: 10]
    #[arg(long, value_name = "SECONDS")]
    pub grace: Option<f64>,

    /// Seconds a connection may stay silent before it is closed [default: 300]
    #[arg(long, value_name = "SECONDS")]
    pub idle_timeout: Option<f64>,

    /// Seconds a client gets for the TLS and HMAC handshakes [default: 10]
    #[arg(long, value_name = "SECONDS")]
    pub handshake_timeout: Option<f64>,

    /// Largest conn/rpc/bulk frame accepted, e.g. 128MiB [default: 64MiB]
    #[arg(long, value_name = "SIZE")]
    pub max_frame: Option<String>,

    /// Serve Prometheus metrics (GET /metrics) and a health check (GET /healthz: 200 ok,
    /// 503 draining once shutdown begins) over plain HTTP on ADDR; prints
    /// `netkit: metrics listening on http://HOST:PORT`
    #[arg(long, value_name = "ADDR")]
    pub metrics: Option<String>,
}

/// The `--config` file: the flags' names as keys.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct FileConfig {
    echo: Option<String>,
    time: Option<String>,
    conn: Option<String>,
    rpc: Option<String>,
    xmlrpc: Option<String>,
    http: Option<String>,
    kv_store: Option<String>,
    max_xmlrpc_size: Option<SizeValue>,
    handoff: Option<String>,
    handoff_socket: Option<PathBuf>,
    authkey: Option<String>,
    authkey_file: Option<PathBuf>,
    workers: Option<usize>,
    handoff_wait: Option<f64>,
    hmac_key: Option<String>,
    hmac_key_file: Option<PathBuf>,
    hmac_digest: Option<String>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    tls_client_ca: Option<PathBuf>,
    tls: Option<ServiceList>,
    max_connections: Option<usize>,
    grace: Option<f64>,
    idle_timeout: Option<f64>,
    handshake_timeout: Option<f64>,
    max_frame: Option<SizeValue>,
    metrics: Option<String>,
    http_max_body: Option<SizeValue>,
    http_max_delay: Option<f64>,
    http_max_bytes: Option<SizeValue>,
    http_max_header_bytes: Option<SizeValue>,
    http_max_headers: Option<usize>,
    http_header_timeout: Option<f64>,
    http_allow_redirect: Option<ServiceList>,
    http_decode_bodies: Option<bool>,
    http_real_hostname: Option<bool>,
    http_env_prefix: Option<String>,
}

/// `tls = "echo,http"` or `tls = ["echo", "http"]`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum ServiceList {
    Joined(String),
    List(Vec<String>),
}

/// `max-frame = "128MiB"` or `max-frame = 134217728`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum SizeValue {
    Text(String),
    Bytes(u64),
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
    pub echo: Option<String>,
    pub time: Option<String>,
    pub conn: Option<String>,
    pub rpc: Option<String>,
    pub xmlrpc: Option<String>,
    pub kv_store: crate::kv::StoreSpec,
    pub http: Option<String>,
    pub http_options: crate::service::http::HttpOptions,
    /// `--handoff ADDR` and its `--handoff-socket PATH`.
    pub handoff: Option<(String, PathBuf)>,
    /// multiprocessing authkey for conn, rpc and handoff workers; `None` skips the
    /// handshake.
    pub authkey: Option<Vec<u8>>,
    /// `--workers N`: the services [`Service::served_by_workers`] run in N processes.
    pub workers: Option<usize>,
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
    /// With no service named anywhere, every service starts on its default address.
    pub fn from_args(args: &ServeArgs) -> Result<Config, ConfigError> {
        let file = match &args.config {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        let mut echo = args.echo.clone().or(file.echo);
        let mut time = args.time.clone().or(file.time);
        let mut conn = args.conn.clone().or(file.conn);
        let mut rpc = args.rpc.clone().or(file.rpc);
        let mut xmlrpc = args.xmlrpc.clone().or(file.xmlrpc);
        let mut http = args.http.clone().or(file.http);
        let handoff = match (
            args.handoff.clone().or(file.handoff),
            args.handoff_socket.clone().or(file.handoff_socket),
        ) {
            (Some(addr), Some(path)) => {
                check_addr("--handoff", &addr)?;
                Some((addr, path))
            }
            (None, None) => None,
            (Some(_), None) => return Err(invalid("--handoff", "needs --handoff-socket PATH")),
            (None, Some(_)) => return Err(invalid("--handoff-socket", "needs --handoff ADDR")),
        };
        if [&echo, &time, &conn, &rpc, &xmlrpc, &http]
            .iter()
            .all(|a| a.is_none())
            && handoff.is_none()
        {
            echo = Some(DEFAULT_ECHO.into());
            time = Some(DEFAULT_TIME.into());
            conn = Some(DEFAULT_CONN.into());
            rpc = Some(DEFAULT_RPC.into());
            xmlrpc = Some(DEFAULT_XMLRPC.into());
            http = Some(DEFAULT_HTTP.into());
        }
        for (flag, addr) in [
            ("--echo", &echo),
            ("--time", &time),
            ("--conn", &conn),
            ("--rpc", &rpc),
            ("--xmlrpc", &xmlrpc),
            ("--http", &http),
        ] {
            if let Some(addr) = addr {
                check_addr(flag, addr)?;
            }
        }

        let hmac_key = secret(
            "--hmac-key",
            (&args.hmac_key, &args.hmac_key_file),
            (file.hmac_key, file.hmac_key_file),
        )?;
        let authkey = secret(
            "--authkey",
            (&args.authkey, &args.authkey_file),
            (file.authkey, file.authkey_file),
        )?;
        if authkey.is_some() && conn.is_none() && rpc.is_none() && handoff.is_none() {
            return Err(invalid(
                "--authkey",
                "applies to conn, rpc and handoff, none of which is started",
            ));
        }
        let hmac_digest = args.hmac_digest.clone().or(file.hmac_digest);
        let hmac = match (hmac_key, hmac_digest) {
            (Some(key), digest) => {
                if echo.is_none() {
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

        let kv_store = match args.kv_store.clone().or(file.kv_store) {
            Some(text) if text.trim().is_empty() => {
                return Err(invalid("--kv-store", "give memory or a file path"))
            }
            Some(_) if xmlrpc.is_none() => {
                return Err(invalid(
                    "--kv-store",
                    "applies to the xmlrpc service, which is not started (add --xmlrpc)",
                ))
            }
            Some(text) => crate::kv::StoreSpec::parse(&text),
            None => crate::kv::StoreSpec::Memory,
        };
        let max_xmlrpc_size = match (args.max_xmlrpc_size.clone(), file.max_xmlrpc_size) {
            (Some(text), _) | (None, Some(SizeValue::Text(text))) => {
                parse_size("--max-xmlrpc-size", &text)?
            }
            (None, Some(SizeValue::Bytes(n))) => n,
            (None, None) => DEFAULT_MAX_XMLRPC_SIZE,
        };
        if max_xmlrpc_size == 0 || usize::try_from(max_xmlrpc_size).is_err() {
            return Err(invalid("--max-xmlrpc-size", "must be at least 1 byte"));
        }

        let started: Vec<Service> = [
            (Service::Echo, &echo),
            (Service::Time, &time),
            (Service::Conn, &conn),
            (Service::Rpc, &rpc),
            (Service::Xmlrpc, &xmlrpc),
            (Service::Http, &http),
        ]
        .into_iter()
        .filter(|(_, addr)| addr.is_some())
        .map(|(s, _)| s)
        .chain(handoff.as_ref().map(|_| Service::Handoff))
        .collect();
        let tls = tls_settings(
            args.tls_cert.clone().or(file.tls_cert),
            args.tls_key.clone().or(file.tls_key),
            args.tls_client_ca.clone().or(file.tls_client_ca),
            match &args.tls {
                Some(list) => Some(ServiceList::Joined(list.clone())),
                None => file.tls,
            },
            &started,
        )?;

        let seconds = |flag: &'static str, value: Option<f64>, default: f64| {
            let value = value.unwrap_or(default);
            if !value.is_finite() || value < 0.0 {
                return Err(invalid(flag, format!("{value} is not a number of seconds")));
            }
            Ok(Duration::from_secs_f64(value))
        };
        let max_connections = args
            .max_connections
            .or(file.max_connections)
            .unwrap_or(DEFAULT_MAX_CONNECTIONS);
        if max_connections == 0 {
            return Err(invalid("--max-connections", "must be at least 1"));
        }
        let max_frame = match (args.max_frame.clone(), file.max_frame) {
            (Some(text), _) | (None, Some(SizeValue::Text(text))) => {
                parse_size("--max-frame", &text)?
            }
            (None, Some(SizeValue::Bytes(n))) => n,
            (None, None) => DEFAULT_MAX_FRAME,
        };
        let limits = Limits {
            max_connections,
            idle_timeout: seconds(
                "--idle-timeout",
                args.idle_timeout.or(file.idle_timeout),
                DEFAULT_IDLE_TIMEOUT_SECS,
            )?,
            handshake_timeout: seconds(
                "--handshake-timeout",
                args.handshake_timeout.or(file.handshake_timeout),
                DEFAULT_HANDSHAKE_TIMEOUT_SECS,
            )?,
            max_frame,
            max_xmlrpc_size,
        };
        let grace = seconds("--grace", args.grace.or(file.grace), DEFAULT_GRACE_SECS)?;
        let metrics = args.metrics.clone().or(file.metrics);
        if let Some(addr) = &metrics {
            check_addr("--metrics", addr)?;
        }
        let workers = args.workers.or(file.workers);
        if let Some(n) = workers {
            if !(1..=MAX_WORKERS).contains(&n) {
                return Err(invalid("--workers", format!("must be 1 to {MAX_WORKERS}")));
            }
            if [&echo, &conn, &rpc, &http]
                .iter()
                .all(|addr| addr.is_none())
            {
                return Err(invalid(
                    "--workers",
                    "serves echo, conn, rpc and http, none of which is started",
                ));
            }
        }
        let handoff_wait = seconds(
            "--handoff-wait",
            args.handoff_wait.or(file.handoff_wait),
            crate::handoff::service::DEFAULT_CLIENT_WAIT.as_secs_f64(),
        )?;
        let size_text = |value: Option<SizeValue>| match value {
            Some(SizeValue::Text(text)) => Some(text),
            Some(SizeValue::Bytes(n)) => Some(n.to_string()),
            None => None,
        };
        let given = &args.http_limits;
        let http_args = crate::service::http::HttpArgs {
            http_max_body: given
                .http_max_body
                .clone()
                .or(size_text(file.http_max_body)),
            http_max_delay: given.http_max_delay.or(file.http_max_delay),
            http_max_bytes: given
                .http_max_bytes
                .clone()
                .or(size_text(file.http_max_bytes)),
            http_max_header_bytes: given
                .http_max_header_bytes
                .clone()
                .or(size_text(file.http_max_header_bytes)),
            http_max_headers: given.http_max_headers.or(file.http_max_headers),
            http_header_timeout: given.http_header_timeout.or(file.http_header_timeout),
            http_allow_redirect: given.http_allow_redirect.clone().or(
                match file.http_allow_redirect {
                    Some(ServiceList::Joined(text)) => Some(text),
                    Some(ServiceList::List(hosts)) => Some(hosts.join(",")),
                    None => None,
                },
            ),
            http_decode_bodies: given.http_decode_bodies
                || file.http_decode_bodies.unwrap_or(false),
            http_real_hostname: given.http_real_hostname
                || file.http_real_hostname.unwrap_or(false),
            http_env_prefix: given.http_env_prefix.clone().or(file.http_env_prefix),
        };
        let http_options = http_args
            .options()
            .map_err(|(flag, message)| invalid(flag, message))?;
        Ok(Config {
            echo,
            time,
            conn,
            rpc,
            xmlrpc,
            kv_store,
            http,
            http_options,
            handoff,
            authkey,
            workers,
            handoff_wait,
            hmac,
            tls,
            limits,
            grace,
            metrics,
        })
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

fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::ReadFile {
        path: path.to_path_buf(),
        source,
    })?;
    toml::from_str(&text).map_err(|e| ConfigError::ParseFile {
        path: path.to_path_buf(),
        // toml's message spans several lines with a caret; the contract wants one line.
        message: e
            .to_string()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" "),
    })
}

/// A key given inline or as a file, by flag or by config key (flags win): `--name` and
/// `--name-file`, or `name` and `name-file` in the file.
fn secret(
    flag: &'static str,
    flags: (&Option<String>, &Option<PathBuf>),
    file: (Option<String>, Option<PathBuf>),
) -> Result<Option<Vec<u8>>, ConfigError> {
    let name = flag.trim_start_matches("--");
    let key = match flags {
        (Some(key), _) => Some(key.as_bytes().to_vec()),
        (None, Some(path)) => Some(read_secret(flag, path)?),
        (None, None) => match file {
            (Some(_), Some(_)) => {
                return Err(invalid(
                    flag,
                    format!("give {name} or {name}-file, not both"),
                ))
            }
            (Some(key), None) => Some(key.into_bytes()),
            (None, Some(path)) => Some(read_secret(flag, &path)?),
            (None, None) => None,
        },
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

fn tls_settings(
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
    client_ca: Option<PathBuf>,
    services: Option<ServiceList>,
    started: &[Service],
) -> Result<Option<TlsSettings>, ConfigError> {
    let (cert, key) = match (cert, key) {
        (Some(cert), Some(key)) => (cert, key),
        (None, None) => {
            if client_ca.is_some() {
                return Err(invalid("--tls-client-ca", "needs --tls-cert and --tls-key"));
            }
            if services.is_some() {
                return Err(invalid("--tls", "needs --tls-cert and --tls-key"));
            }
            return Ok(None);
        }
        (Some(_), None) => return Err(invalid("--tls-cert", "needs --tls-key")),
        (None, Some(_)) => return Err(invalid("--tls-key", "needs --tls-cert")),
    };
    let services = match services {
        None => started.iter().copied().filter(|s| s.can_tls()).collect(),
        Some(list) => {
            let names: Vec<String> = match list {
                ServiceList::Joined(text) => text
                    .split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect(),
                ServiceList::List(names) => names,
            };
            let mut services = Vec::new();
            for name in names {
                let tcp_names: Vec<&str> = Service::ALL
                    .iter()
                    .filter(|s| s.can_tls())
                    .map(|s| s.name())
                    .collect();
                let service = Service::from_name(&name)
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
        assert_eq!(config.echo.as_deref(), Some(DEFAULT_ECHO));
        assert_eq!(config.time.as_deref(), Some(DEFAULT_TIME));
        assert_eq!(config.conn.as_deref(), Some(DEFAULT_CONN));
        assert_eq!(config.rpc.as_deref(), Some(DEFAULT_RPC));
        assert_eq!(config.xmlrpc.as_deref(), Some(DEFAULT_XMLRPC));
        assert_eq!(config.http.as_deref(), Some(DEFAULT_HTTP));
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
        assert_eq!(config.echo.as_deref(), Some(DEFAULT_ECHO));
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
            "echo = \"127.0.0.1:1\"\ntime = \"127.0.0.1:2\"\nmax-connections = 7\ngrace = 3\nmax-frame = \"1KiB\"\nhmac-key = \"k\""
        )
        .unwrap();
        let args = ServeArgs {
            config: Some(file.path().to_path_buf()),
            echo: Some("127.0.0.1:5".into()),
            grace: Some(1.5),
            ..Default::default()
        };
        let config = Config::from_args(&args).unwrap();
        assert_eq!(config.echo.as_deref(), Some("127.0.0.1:5"));
        assert_eq!(config.time.as_deref(), Some("127.0.0.1:2"));
        assert_eq!(config.limits.max_connections, 7);
        assert_eq!(config.limits.max_frame, 1024);
        assert_eq!(config.grace, Duration::from_millis(1500));
        assert_eq!(config.hmac.unwrap().digest, Digest::Md5);
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
                    echo: Some("localhost".into()),
                    ..Default::default()
                },
                "--echo: \"localhost\" is not HOST:PORT",
            ),
            (
                ServeArgs {
                    echo: Some("::1:80".into()),
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
                    time: Some("127.0.0.1:0".into()),
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
                    echo: Some("127.0.0.1:0".into()),
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
            handoff: Some("127.0.0.1:0".into()),
            handoff_socket: Some("/tmp/h.sock".into()),
            authkey: Some("peekaboo".into()),
            ..Default::default()
        };
        let config = Config::from_args(&args).unwrap();
        // Naming only the handoff service starts only it.
        assert_eq!(config.echo, None);
        assert_eq!(config.time, None);
        assert_eq!(
            config.handoff,
            Some(("127.0.0.1:0".to_string(), PathBuf::from("/tmp/h.sock")))
        );
        assert_eq!(config.authkey.as_deref(), Some(&b"peekaboo"[..]));

        let mut key = tempfile::NamedTempFile::new().unwrap();
        writeln!(key, "from-file").unwrap();
        let args = ServeArgs {
            authkey_file: Some(key.path().to_path_buf()),
            echo: Some("127.0.0.1:0".into()),
            conn: Some("127.0.0.1:0".into()),
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
                    handoff: Some("127.0.0.1:0".into()),
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
                    time: Some("127.0.0.1:0".into()),
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
                    handoff: Some("127.0.0.1:0".into()),
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
                xmlrpc: Some("127.0.0.1:0".into()),
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
        args.http_limits.http_max_headers = Some(9);
        let config = Config::from_args(&args).unwrap();
        assert_eq!(config.http.as_deref(), Some("127.0.0.1:0"));
        assert_eq!(config.http_options.max_body, 1 << 20);
        assert_eq!(config.http_options.max_headers, 9);
        assert_eq!(
            config.http_options.redirect_hosts,
            vec!["a.example".to_string(), "b.example".to_string()]
        );
        assert!(config.http_options.decode_bodies);
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("f", "128MiB").unwrap(), 128 << 20);
        assert_eq!(parse_size("f", "65536").unwrap(), 65536);
        assert_eq!(parse_size("f", "1 KiB").unwrap(), 1024);
    }
}
