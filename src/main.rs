//! The `netkit` binary: clap → validated config → run. The only place that prints errors
//! for people and picks exit codes (2: bad usage, config or startup; 1: failure at run time).

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use netkit::auth::HmacAuth;
use netkit::client::{self, ClientTls};
use netkit::config::{Config, ServeArgs};
use netkit::proto::challenge::Digest;
use netkit::tls::ClientTlsFiles;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Parser, Debug)]
#[command(
    name = "netkit",
    version,
    about = "The Python Cookbook's network recipes as fast, wire-compatible services and clients",
    after_help = "Examples:\n  netkit serve                      # every service on its default address\n  netkit serve --echo 127.0.0.1:0   # just echo, on a free port\n  echo hi | netkit echo 127.0.0.1:20000\n  netkit time 127.0.0.1:20000 --sntp"
)]
struct Cli {
    /// More logging on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,

    /// Log lines on stderr: `text` for people, `json` for collectors (one object a line:
    /// timestamp, level, target, fields with the message)
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = LogFormat::Text, global = true)]
    log_format: LogFormat,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run services: echo, time (UDP), conn, rpc, xmlrpc and http; all of them when none
    /// is named (handoff needs its socket path)
    #[command(after_help = "Examples:
  netkit serve
  netkit serve --echo 127.0.0.1:0 --time 127.0.0.1:0
  netkit serve --http 127.0.0.1:8080 --http-max-body 1MiB
  netkit serve --xmlrpc 127.0.0.1:15000 --kv-store /var/lib/netkit/kv.redb
  netkit serve --conn --rpc --authkey peekaboo
  netkit serve --echo 0.0.0.0:20000 --hmac-key-file key --hmac-digest sha256
  netkit tls gen-cert --out certs && \
    netkit serve --echo --tls-cert certs/server.pem --tls-key certs/server.key
  netkit --log-format json serve --http --metrics 127.0.0.1:9100

Each bound service prints one line on stdout:
  netkit: echo listening on tcp://127.0.0.1:20000
and --metrics ADDR one more (GET /metrics: Prometheus text; GET /healthz: ok | draining):
  netkit: metrics listening on http://127.0.0.1:9100")]
    // Boxed: the serve flags are by far the largest variant.
    Serve(Box<ServeArgs>),
    /// Copy stdin to an echo server and its echo to stdout, like nc
    #[command(
        after_help = "Examples:\n  echo hello | netkit echo 127.0.0.1:20000\n  netkit echo localhost:20000 --tls --cacert certs/ca.pem < file\n  netkit echo 127.0.0.1:20000 --hmac-key peekaboo"
    )]
    Echo(EchoArgs),
    /// Ask a UDP time server for the time (recipe 3), or SNTP with --sntp
    #[command(
        after_help = "Examples:\n  netkit time 127.0.0.1:20000\n  netkit time 127.0.0.1:20000 --sntp"
    )]
    Time(TimeArgs),
    /// Send JSON values as pickled messages to a multiprocessing.connection server (recipe 7)
    #[command(
        after_help = "Reads one JSON value a line, sends each pickled, prints each reply as JSON.\nNon-JSON values use tags: {\"$bytes\": base64}, {\"$tuple\": [...]}, {\"$set\": [...]}.\n\nExamples:\n  echo '[1, 2, 3]' | netkit conn 127.0.0.1:25000 --authkey peekaboo\n  printf 'hello\\n' | netkit conn 127.0.0.1:25000 --raw"
    )]
    Conn(ConnArgs),
    /// Call a function on a pickle RPC server (recipe 8), netkit's or the recipe's
    #[command(
        after_help = "Arguments are JSON literals, or strings when they are not JSON.\nA remote exception is printed on stderr (exit code 1).\n\nExamples:\n  netkit rpc 127.0.0.1:17000 add 2 3 --authkey peekaboo\n  netkit rpc 127.0.0.1:17000 add '[1]' '[2, 3]'\n  netkit rpc 127.0.0.1:17000 sub --kwarg x=10 --kwarg y=4"
    )]
    Rpc(RpcArgs),
    /// Call an XML-RPC method (recipe 6): ARGs are JSON literals (strings otherwise), the
    /// answer is printed as JSON
    #[command(
        after_help = "Examples:\n  netkit xmlrpc http://localhost:15000 set spam '[1, 2, 3]'\n  netkit xmlrpc http://localhost:15000 get spam        # [1,2,3]\n  netkit xmlrpc http://localhost:15000 system.listMethods\n  netkit xmlrpc https://localhost:15000 keys --cacert certs/ca.pem\n\nJSON for the types JSON lacks: {\"$datetime\": \"20240229T13:05:09\"}, {\"$base64\": \"aGk=\"},\n{\"$double\": \"inf\"}. A fault is printed on stderr, exit code 1."
    )]
    Xmlrpc(XmlrpcArgs),
    /// Use recipe 6's key-value server: get, set, delete, exists, keys
    #[command(
        after_help = "Examples:\n  netkit kv http://localhost:15000 set foo bar\n  netkit kv http://localhost:15000 set spam '[1, 2, 3]'   # VALUE: JSON, else a string\n  netkit kv http://localhost:15000 get spam                # [1,2,3]\n  netkit kv http://localhost:15000 keys                    # one key a line\n  netkit kv http://localhost:15000 exists spam             # true\n  netkit kv http://localhost:15000 delete spam\n\nA missing key is an error (exit code 1), as in the recipe."
    )]
    Kv(KvArgs),
    /// Send an HTTP request, httpie style: [METHOD] URL [ITEM...]
    #[command(
        disable_help_flag = true,
        override_usage = "netkit http [OPTIONS] [METHOD] URL [ITEM]...",
        after_help = HTTP_HELP
    )]
    Http(HttpArgs),
    /// Networks and addresses, answered exactly like Python's ipaddress (recipe 4)
    Cidr(netkit::cidr::cli::CidrArgs),
    /// TLS tools
    #[command(subcommand)]
    Tls(TlsCommand),
    /// Load generators printing throughput and latency percentiles
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Send and receive large files and NumPy arrays at wire speed (recipe 13)
    #[command(subcommand)]
    Bulk(BulkCommand),
    /// Serve sockets handed over a Unix socket (recipe 11)
    #[command(subcommand)]
    Handoff(HandoffCommand),
}

#[derive(Subcommand, Debug)]
enum HandoffCommand {
    /// Connect to a handoff server (`netkit serve --handoff` or the recipe's Python
    /// server) and serve every client socket it hands over
    #[command(
        after_help = "Examples:\n  netkit serve --handoff 127.0.0.1:15000 --handoff-socket /tmp/handoff.sock --authkey peekaboo\n  netkit handoff worker --connect /tmp/handoff.sock --authkey peekaboo --service echo\n\nThe worker runs until the server closes the socket, then finishes its connections\n(at most --grace) and exits 0; SIGINT/SIGTERM do the same."
    )]
    Worker(HandoffWorkerArgs),
}

#[derive(Args, Debug)]
struct HandoffWorkerArgs {
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

#[derive(Subcommand, Debug)]
enum BulkCommand {
    /// Send FILE (or stdin) to a `netkit bulk recv`, or raw bytes to the recipe's recv_into
    #[command(
        override_usage = "netkit bulk send [OPTIONS] FILE ADDR\n       netkit bulk send [OPTIONS] --stdin ADDR",
        after_help = "Examples:\n  netkit bulk send data.npy 10.0.0.2:9000\n  netkit bulk send big.img 10.0.0.2:9000 --streams 4 --json\n  tar c dir | netkit bulk send --stdin 10.0.0.2:9000\n  netkit bulk send arr.bin 127.0.0.1:9000 --raw          # to the recipe's recv_into\n  netkit bulk send f localhost:9000 --tls --cacert certs/ca.pem"
    )]
    Send(BulkSendArgs),
    /// Receive a transfer into FILE: written beside it and renamed into place once its
    /// checksum matches
    #[command(
        after_help = "Examples:\n  netkit bulk recv --listen 0.0.0.0:9000 --out data.npy\n  netkit bulk recv --listen 127.0.0.1:0 --out arr.bin --raw --bytes 80000000\n  netkit bulk recv --listen :9000 --stdout | tar x\n  netkit bulk recv --listen 0.0.0.0:9000 --out f --tls-cert certs/server.pem --tls-key certs/server.key\n\nOnce bound it prints one line on stdout:\n  netkit: bulk listening on tcp://127.0.0.1:9000"
    )]
    Recv(BulkRecvArgs),
}

#[derive(Args, Debug)]
struct BulkSendArgs {
    /// FILE to send (an .npy array keeps its dtype, shape and order; no FILE with
    /// --stdin) and the receiver's ADDR, HOST:PORT
    #[arg(value_names = ["FILE", "ADDR"], num_args = 1..=2, required = true)]
    operands: Vec<String>,
    /// Send stdin instead of a file (its length need not be known)
    #[arg(long)]
    stdin: bool,
    /// The recipe's bare bytes: no header, no checksum (the receiver must know the size)
    #[arg(long)]
    raw: bool,
    /// Parallel connections, each carrying a slice of FILE (at most 16)
    #[arg(long, value_name = "N", default_value_t = 1)]
    streams: u16,
    /// Send only what a `netkit bulk recv --resume` does not have yet
    #[arg(long)]
    resume: bool,
    /// Print one JSON summary (bytes, seconds, rate, checksum) instead of text
    #[arg(long)]
    json: bool,
    /// Seconds to wait for the connection, the handshake and the receiver's answer
    #[arg(long, value_name = "SECONDS", default_value_t = 30.0)]
    timeout: f64,
    /// Fixed socket buffer size, e.g. 4MiB [default: Linux autotuning]
    #[arg(long, value_name = "SIZE")]
    socket_buffer: Option<String>,
    #[command(flatten)]
    tls: ClientTlsArgs,
}

#[derive(Args, Debug)]
struct BulkRecvArgs {
    /// Address to listen on, HOST:PORT (port 0 picks a free one)
    #[arg(long, value_name = "ADDR")]
    listen: String,
    /// File to write (replaced atomically once the transfer checks out)
    #[arg(long, value_name = "FILE", required_unless_present = "stdout")]
    out: Option<PathBuf>,
    /// Write the bytes to stdout as they arrive instead of to a file
    #[arg(long, conflicts_with_all = ["out", "resume"])]
    stdout: bool,
    /// The recipe's bare bytes from send_from: needs --bytes
    #[arg(long)]
    raw: bool,
    /// Bytes a --raw sender sends, e.g. 80000000 or 1GiB
    #[arg(long, value_name = "N", requires = "raw")]
    bytes: Option<String>,
    /// Largest transfer accepted, e.g. 100GiB [default: the free space of FILE's filesystem]
    #[arg(long, value_name = "SIZE")]
    max_size: Option<String>,
    /// Receive transfers one after another until interrupted, each replacing FILE
    #[arg(long)]
    keep_going: bool,
    /// Keep cut transfers' partial files and let `send --resume` continue them
    #[arg(long)]
    resume: bool,
    /// fsync FILE and its directory before confirming the transfer
    #[arg(long)]
    fsync: bool,
    /// Print one JSON summary per transfer instead of text
    #[arg(long)]
    json: bool,
    /// Seconds without progress before a transfer is abandoned
    #[arg(long, value_name = "SECONDS", default_value_t = 30.0)]
    timeout: f64,
    /// Fixed socket buffer size, e.g. 4MiB [default: Linux autotuning]
    #[arg(long, value_name = "SIZE")]
    socket_buffer: Option<String>,
    /// Server certificate (PEM): speak TLS
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// Private key of --tls-cert (PEM)
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Require client certificates signed by this CA (PEM)
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    tls_client_ca: Option<PathBuf>,
}

#[derive(Args, Debug)]
struct ClientTlsArgs {
    /// Speak TLS
    #[arg(long)]
    tls: bool,
    /// CA certificate(s) to trust (PEM) [default: the system's]
    #[arg(long, value_name = "PEM")]
    cacert: Option<PathBuf>,
    /// Client certificate (PEM), for servers started with --tls-client-ca
    #[arg(long, value_name = "PEM", requires = "key")]
    cert: Option<PathBuf>,
    /// Private key of --cert (PEM)
    #[arg(long, value_name = "PEM", requires = "cert")]
    key: Option<PathBuf>,
    /// Name to check the server certificate against [default: the host of ADDR]
    #[arg(long, value_name = "NAME")]
    servername: Option<String>,
}

impl ClientTlsArgs {
    fn to_client_tls(&self) -> anyhow::Result<Option<ClientTls>> {
        if !self.tls {
            anyhow::ensure!(
                self.cacert.is_none() && self.cert.is_none() && self.servername.is_none(),
                "--cacert, --cert and --servername need --tls"
            );
            return Ok(None);
        }
        let files = ClientTlsFiles {
            ca: self.cacert.clone(),
            cert: self.cert.clone(),
            key: self.key.clone(),
        };
        Ok(Some(ClientTls::from_files(
            &files,
            self.servername.clone(),
        )?))
    }
}

#[derive(Args, Debug)]
struct XmlrpcArgs {
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

#[derive(Args, Debug)]
struct XmlrpcConnectionArgs {
    /// CA certificate(s) to trust for https:// (PEM) [default: the system's]
    #[arg(long, value_name = "PEM", global = true)]
    cacert: Option<PathBuf>,
    /// Client certificate (PEM), for servers started with --tls-client-ca
    #[arg(long, value_name = "PEM", requires = "client_key", global = true)]
    cert: Option<PathBuf>,
    /// Private key of --cert (PEM)
    #[arg(long = "key", value_name = "PEM", requires = "cert", global = true)]
    client_key: Option<PathBuf>,
    /// Seconds to wait for the connection and each answer
    #[arg(long, value_name = "SECONDS", default_value_t = 30.0, global = true)]
    timeout: f64,
}

impl XmlrpcConnectionArgs {
    fn client(&self, url: &str) -> Result<client::xmlrpc::XmlRpcClient, Failure> {
        let tls = if url.starts_with("https://") {
            let files = ClientTlsFiles {
                ca: self.cacert.clone(),
                cert: self.cert.clone(),
                key: self.client_key.clone(),
            };
            Some(ClientTls::from_files(&files, None).map_err(usage)?)
        } else if self.cacert.is_some() || self.cert.is_some() {
            return Err(usage(anyhow::anyhow!(
                "--cacert and --cert need an https:// URL"
            )));
        } else {
            None
        };
        let timeout = seconds("--timeout", self.timeout).map_err(usage)?;
        client::xmlrpc::XmlRpcClient::new(url, tls, timeout).map_err(usage)
    }
}

#[derive(Args, Debug)]
struct KvArgs {
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

/// A command-line argument as an XML-RPC value: JSON if it parses, else the string.
fn arg_value(text: &str) -> Result<netkit::proto::xmlrpc::Value, Failure> {
    use netkit::proto::xmlrpc::{from_json, Value};
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(json) => from_json(&json).map_err(usage),
        Err(_) => Ok(Value::from(text)),
    }
}

fn json_line(value: &netkit::proto::xmlrpc::Value) -> String {
    serde_json::to_string(&netkit::proto::xmlrpc::to_json(value)).unwrap_or_default()
}

/// Strings as they are (for people and shell scripts), anything else as JSON.
fn plain_line(value: &netkit::proto::xmlrpc::Value) -> String {
    match value.as_str() {
        Some(s) => s.to_string(),
        None => json_line(value),
    }
}

fn run_kv(args: KvArgs) -> Result<(), Failure> {
    use netkit::proto::xmlrpc::Value;
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

const HTTP_HELP: &str = "Items:
  Header:value     request header (Header: alone removes a default header)
  name==value      URL query parameter
  field=value      JSON string field (a form field with --form)
  field:=json      raw JSON field: n:=3 list:='[1,2]' ok:=true (keys keep the typed order)
  a[b]=x a[l][]=y  nested JSON fields: {\"a\":{\"b\":\"x\",\"l\":[\"y\"]}}
  field@path       file upload (multipart/form-data), streamed from disk
  @path            the file is the whole body, streamed from disk

METHOD is GET, or POST when there are fields. URL may leave out http:// and localhost:
:8080/get is http://localhost:8080/get. On a terminal JSON is indented and coloured and
the response headers are shown; piped, only the body is written, as it came.
-v (before or after the URL) prints the request and the response; logs then need RUST_LOG.

Examples:
  netkit http :8080/get a==1 X-Trace:abc
  netkit http POST :8080/post name=x n:=3 list:='[1,2]'
  netkit http -f :8080/post name=x upload@notes.txt
  netkit http -v --http2 https://localhost:8443/get --cacert certs/ca.pem
  netkit http --auth user:passwd --auth-type digest :8080/digest-auth/auth/user/passwd
  netkit http --follow :8080/redirect/3
  netkit http --follow --all -P h :8080/redirect/3   # each hop's head, then the answer
  netkit http POST :8080/upload @big.iso             # any size, in flat memory
  netkit http --session s.json :8080/cookies/set a==1 && netkit http --session s.json :8080/cookies
  netkit http -d :8080/bytes/1000000 -o data.bin
  netkit http --check-status :8080/status/404      # exit code 4";

#[derive(Args, Debug)]
struct HttpArgs {
    /// [METHOD] URL [ITEM...]: see the items below
    #[arg(value_name = "ARGS", required = true, allow_hyphen_values = false)]
    positionals: Vec<String>,
    /// Send the fields as a form (application/x-www-form-urlencoded)
    #[arg(short, long)]
    form: bool,
    /// Send TEXT as the body, as it is
    #[arg(long, value_name = "TEXT", conflicts_with = "body_file")]
    raw: Option<String>,
    /// Send the contents of PATH as the body
    #[arg(long, value_name = "PATH")]
    body_file: Option<PathBuf>,
    /// Credentials: USER:PASSWORD (basic, digest) or the token (bearer)
    #[arg(short, long, value_name = "USER:PASS")]
    auth: Option<String>,
    /// How to send --auth
    #[arg(short = 'A', long, value_enum, value_name = "TYPE")]
    auth_type: Option<HttpAuthType>,
    /// Follow redirects (Location) of 3xx answers
    #[arg(short = 'F', long)]
    follow: bool,
    /// Most redirects to follow with --follow
    #[arg(long, value_name = "N", default_value_t = 30)]
    max_redirects: usize,
    /// Show every exchange, not only the last: each redirect of --follow and a digest
    /// challenge
    #[arg(long)]
    all: bool,
    /// What to print of the exchanges before the last with --all, letters as --print
    /// [default: as --print]
    #[arg(short = 'P', long, value_name = "WHAT", requires = "all")]
    history_print: Option<String>,
    /// Keep cookies, --auth and custom headers in this JSON file between runs
    #[arg(long, value_name = "PATH")]
    session: Option<PathBuf>,
    /// Save the body to a file (its name from the response, or --output) instead of printing it
    #[arg(short, long)]
    download: bool,
    /// The file --download writes
    #[arg(short, long, value_name = "FILE", requires = "download")]
    output: Option<PathBuf>,
    /// Check the server's certificate: yes, no to accept any, or a CA file (PEM) to trust
    #[arg(long, value_name = "yes|no|PEM", default_value = "yes")]
    verify: String,
    /// CA certificate(s) to trust for https:// (PEM) [default: the system's]
    #[arg(long, value_name = "PEM")]
    cacert: Option<PathBuf>,
    /// Client certificate (PEM), for servers that ask for one
    #[arg(long, value_name = "PEM", requires = "key")]
    cert: Option<PathBuf>,
    /// Private key of --cert (PEM)
    #[arg(long, value_name = "PEM", requires = "cert")]
    key: Option<PathBuf>,
    /// Speak HTTP/2: h2 by ALPN over TLS (HTTP/1.1 if the server declines), h2c over http://
    #[arg(long)]
    http2: bool,
    /// Seconds to wait for the connection, the response and each piece of the body
    #[arg(long, value_name = "SECONDS", default_value_t = 30.0)]
    timeout: f64,
    /// Exit 3, 4 or 5 for a 3xx, 4xx or 5xx status (with a warning on stderr)
    #[arg(long)]
    check_status: bool,
    /// What to print: H request headers, B request body, h response headers, b response body
    #[arg(short, long, value_name = "WHAT")]
    print: Option<String>,
    /// Print the response headers only (--print h)
    #[arg(short = 'h', long, conflicts_with_all = ["print", "body"])]
    headers: bool,
    /// Print the response body only (--print b)
    #[arg(short, long, conflicts_with = "print")]
    body: bool,
    /// Formatting: all (indent and colours), format, colors or none [default: all on a
    /// terminal, none when piped]
    #[arg(long, value_enum, value_name = "STYLE")]
    pretty: Option<HttpPretty>,
    /// Largest response body held in memory (also after decoding), e.g. 256MiB
    #[arg(long, value_name = "SIZE", default_value = "64MiB")]
    max_body: String,
    /// Print help
    #[arg(long, action = clap::ArgAction::Help)]
    help: Option<bool>,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum HttpAuthType {
    Basic,
    Digest,
    Bearer,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum HttpPretty {
    All,
    Format,
    Colors,
    None,
}

fn run_http(args: HttpArgs, verbose: bool) -> Result<ExitCode, Failure> {
    use netkit::client::http::{self as nethttp, auth::AuthType, output, transport::TlsOptions};
    use std::io::IsTerminal;
    let tty = std::io::stdout().is_terminal();
    let print = match (&args.print, args.headers, args.body, verbose) {
        (Some(letters), ..) => output::PrintSpec::parse(letters).ok_or_else(|| {
            usage(anyhow::anyhow!(
                "--print {letters:?}: use the letters H, B, h and b"
            ))
        })?,
        (None, true, ..) => output::PrintSpec::parse("h").unwrap_or_default(),
        (None, _, true, _) => output::PrintSpec::parse("b").unwrap_or_default(),
        (None, _, _, true) => output::PrintSpec::parse("HBhb").unwrap_or_default(),
        // httpie: headers and body for people, the body alone for pipes.
        (None, ..) if tty => output::PrintSpec::parse("hb").unwrap_or_default(),
        (None, ..) => output::PrintSpec::parse("b").unwrap_or_default(),
    };
    let history_print = match &args.history_print {
        Some(letters) => Some(output::PrintSpec::parse(letters).ok_or_else(|| {
            usage(anyhow::anyhow!(
                "--history-print {letters:?}: use the letters H, B, h and b"
            ))
        })?),
        None => None,
    };
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let render = match args.pretty {
        Some(HttpPretty::All) => output::Render {
            pretty: true,
            color: true,
        },
        Some(HttpPretty::Format) => output::Render {
            pretty: true,
            color: false,
        },
        Some(HttpPretty::Colors) => output::Render {
            pretty: false,
            color: true,
        },
        Some(HttpPretty::None) => output::Render {
            pretty: false,
            color: false,
        },
        None => output::Render {
            pretty: tty,
            color: tty && !no_color,
        },
    };
    // As in httpie, --verify takes yes, no, or the path of a CA bundle.
    let mut cacert = args.cacert;
    let insecure = match args.verify.to_ascii_lowercase().as_str() {
        "yes" | "true" => false,
        "no" | "false" => true,
        _ if std::path::Path::new(&args.verify).is_file() && cacert.is_none() => {
            cacert = Some(PathBuf::from(&args.verify));
            false
        }
        other => {
            return Err(usage(anyhow::anyhow!(
                "--verify {other:?}: use yes, no or a CA file (PEM)"
            )))
        }
    };
    let raw = match (&args.raw, &args.body_file) {
        (Some(text), _) => Some(nethttp::items::RawBody::Text(text.clone())),
        (None, Some(path)) => Some(nethttp::items::RawBody::File(path.clone())),
        (None, None) => None,
    };
    let max_body = netkit::config::parse_size("--max-body", &args.max_body).map_err(usage)?;
    let options = nethttp::HttpOptions {
        positionals: args.positionals,
        form: args.form,
        raw,
        auth: args.auth,
        auth_type: args.auth_type.map(|t| match t {
            HttpAuthType::Basic => AuthType::Basic,
            HttpAuthType::Digest => AuthType::Digest,
            HttpAuthType::Bearer => AuthType::Bearer,
        }),
        follow: args.follow,
        max_redirects: args.max_redirects,
        all: args.all,
        history_print,
        session: args.session,
        download: args.download,
        output: args.output,
        tls: TlsOptions {
            insecure,
            files: ClientTlsFiles {
                ca: cacert,
                cert: args.cert,
                key: args.key,
            },
        },
        http2: args.http2,
        timeout: seconds("--timeout", args.timeout).map_err(usage)?,
        print,
        render,
        max_body: usize::try_from(max_body).unwrap_or(usize::MAX),
        progress: std::io::stderr().is_terminal(),
    };
    let outcome = match runtime()?.block_on(nethttp::run(options)) {
        Ok(outcome) => outcome,
        Err(error) if error.is_usage() => return Err(usage(error)),
        Err(error) => return Err(error.into()),
    };
    let code = outcome.check_status_code();
    if args.check_status && code != 0 {
        let status = outcome.status;
        eprintln!(
            "netkit: warning: HTTP {} {}",
            status.as_u16(),
            status.canonical_reason().unwrap_or("")
        );
        return Ok(ExitCode::from(code));
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Args, Debug)]
struct EchoArgs {
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

#[derive(Args, Debug)]
struct MpClientArgs {
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

impl MpClientArgs {
    async fn open(
        &self,
        tls: Option<&ClientTls>,
        max_frame: u64,
    ) -> Result<netkit::mpconn::MpConnection<client::ClientStream>, client::ClientError> {
        let timeout = Duration::from_secs_f64(self.timeout.max(0.0));
        let authkey = self.authkey.as_ref().map(|k| k.as_bytes());
        client::conn::open(&self.addr, tls, authkey, max_frame, timeout).await
    }
}

#[derive(Args, Debug)]
struct ConnArgs {
    #[command(flatten)]
    client: MpClientArgs,
    /// Send each line's bytes as the message and print replies as they come, unpickled
    #[arg(long)]
    raw: bool,
}

#[derive(Args, Debug)]
struct RpcArgs {
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
fn argument_value(text: &str) -> anyhow::Result<netkit::proto::pickle::Value> {
    use netkit::proto::pickle;
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(json) => Ok(pickle::from_json(&json)?),
        Err(_) => Ok(pickle::Value::str(text)),
    }
}

#[derive(Args, Debug)]
struct TimeArgs {
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

#[derive(Subcommand, Debug)]
enum TlsCommand {
    /// Write a local CA and server and client certificates signed by it
    #[command(
        after_help = "Writes ca.pem, server.pem, server.key, client.pem, client.key.\n\nExamples:\n  netkit tls gen-cert --out certs\n  netkit tls gen-cert --out certs --name myhost.example --name 10.1.2.3"
    )]
    GenCert {
        /// Directory to write into (created if missing)
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// DNS name or IP address the server certificate is for; repeatable
        /// [default: localhost, 127.0.0.1 and ::1]
        #[arg(long = "name", value_name = "HOST")]
        names: Vec<String>,
    },
}

#[derive(Args, Debug)]
struct LoadArgs {
    /// Concurrent connections (UDP: concurrent clients)
    #[arg(short, long, default_value_t = 64)]
    connections: usize,
    /// Seconds to measure
    #[arg(short, long, value_name = "SECONDS", default_value_t = 10.0)]
    duration: f64,
    /// Seconds to run before measuring
    #[arg(long, value_name = "SECONDS", default_value_t = 1.0)]
    warmup: f64,
    /// Print one JSON object instead of text
    #[arg(long)]
    json: bool,
}

impl LoadArgs {
    fn load(&self) -> anyhow::Result<netkit::bench::Load> {
        anyhow::ensure!(self.connections > 0, "--connections must be at least 1");
        Ok(netkit::bench::Load {
            connections: self.connections,
            duration: seconds("--duration", self.duration)?,
            warmup: seconds("--warmup", self.warmup)?,
        })
    }
}

#[derive(Subcommand, Debug)]
enum BenchCommand {
    /// Ping-pong fixed-size messages with an echo server
    #[command(
        after_help = "Example:\n  netkit bench echo 127.0.0.1:20000 --connections 64 --size 64 --duration 10"
    )]
    Echo {
        addr: String,
        #[command(flatten)]
        load: LoadArgs,
        /// Bytes per message
        #[arg(short, long, default_value_t = 64)]
        size: usize,
        #[command(flatten)]
        tls: ClientTlsArgs,
    },
    /// Pickled messages through a multiprocessing.connection echo (serve --conn)
    #[command(
        after_help = "Example:\n  netkit bench conn 127.0.0.1:25000 --authkey peekaboo --connections 64 --duration 10"
    )]
    Conn {
        addr: String,
        #[command(flatten)]
        load: LoadArgs,
        /// multiprocessing authkey
        #[arg(long, value_name = "KEY")]
        authkey: Option<String>,
        /// Message: this JSON value, pickled
        #[arg(long, default_value = "[\"hello\", 42, [1, 2, 3]]")]
        message: String,
        /// A new connection (and handshake) for every message: connections per second
        #[arg(long)]
        reconnect: bool,
    },
    /// Calls of add(2, 3) on a pickle RPC server (serve --rpc, or the recipe's)
    #[command(
        after_help = "Example:\n  netkit bench rpc 127.0.0.1:17000 --authkey peekaboo --connections 64 --duration 10"
    )]
    Rpc {
        addr: String,
        #[command(flatten)]
        load: LoadArgs,
        /// multiprocessing authkey
        #[arg(long, value_name = "KEY")]
        authkey: Option<String>,
    },
    /// New connections per second: connect, send, read the echo, close, repeat
    #[command(
        after_help = "Example (through a handoff server and its workers):\n  netkit bench connect 127.0.0.1:15000 --connections 32 --size 16 --duration 10"
    )]
    Connect {
        addr: String,
        #[command(flatten)]
        load: LoadArgs,
        /// Bytes sent (and echoed) on each connection
        #[arg(short, long, default_value_t = 16)]
        size: usize,
    },
    /// Request/response against a UDP time server
    #[command(
        after_help = "Example:\n  netkit bench time 127.0.0.1:20000 --connections 16 --duration 5"
    )]
    Time {
        addr: String,
        #[command(flatten)]
        load: LoadArgs,
    },
    /// set and get calls against an XML-RPC key-value server (recipe 6), keep-alive
    #[command(
        after_help = "Example:\n  netkit bench xmlrpc http://127.0.0.1:15000 --connections 16 --duration 10"
    )]
    Xmlrpc {
        url: String,
        #[command(flatten)]
        load: LoadArgs,
        /// Bytes of each stored string value
        #[arg(short, long, default_value_t = 16)]
        size: usize,
    },
    /// Hold many idle connections to an echo server, then check each still echoes
    #[command(
        after_help = "Example (compare the server's VmHWM in /proc/PID/status):\n  netkit bench idle 127.0.0.1:20000 --connections 10000 --hold 5"
    )]
    Idle {
        addr: String,
        #[arg(short, long, default_value_t = 10_000)]
        connections: usize,
        /// Seconds to hold them
        #[arg(long, value_name = "SECONDS", default_value_t = 5.0)]
        hold: f64,
    },
}

fn seconds(flag: &str, value: f64) -> anyhow::Result<Duration> {
    anyhow::ensure!(
        value.is_finite() && value >= 0.0,
        "{flag}: {value} is not a number of seconds"
    );
    Ok(Duration::from_secs_f64(value))
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum LogFormat {
    Text,
    Json,
}

fn init_logging(verbose: u8, format: LogFormat) {
    let default = match verbose {
        0 => "netkit=warn",
        1 => "netkit=info",
        2 => "netkit=debug",
        _ => "netkit=trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs.json().init(),
    }
}

/// Servers and load generators hold many sockets: lift the soft file limit to the hard one.
fn raise_fd_limit() {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let limit = getrlimit(Resource::Nofile);
    if limit.current < limit.maximum {
        let raised = rustix::process::Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        };
        if let Err(error) = setrlimit(Resource::Nofile, raised) {
            tracing::debug!(%error, "could not raise the open-file limit");
        }
    }
}

/// An error and the exit code it deserves.
struct Failure {
    code: u8,
    error: anyhow::Error,
}

impl<E: Into<anyhow::Error>> From<E> for Failure {
    fn from(error: E) -> Self {
        Failure {
            code: 1,
            error: error.into(),
        }
    }
}

fn usage(error: impl Into<anyhow::Error>) -> Failure {
    Failure {
        code: 2,
        error: error.into(),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // For `netkit http`, -v is httpie's: print the request too. Logs need RUST_LOG.
    let log_format = cli.log_format;
    if let Command::Http(args) = cli.command {
        init_logging(0, log_format);
        return finish(run_http(args, cli.verbose > 0), log_format);
    }
    init_logging(cli.verbose, log_format);
    finish(run(cli.command), log_format)
}

fn finish(outcome: Result<ExitCode, Failure>, log_format: LogFormat) -> ExitCode {
    match outcome {
        Ok(code) => code,
        Err(failure) => {
            let line = format!("netkit: {}", one_line(&failure.error));
            match log_format {
                LogFormat::Text => eprintln!("{line}"),
                // Still one line, in the shape of the log lines around it.
                LogFormat::Json => eprintln!(
                    "{}",
                    serde_json::json!({
                        "timestamp": jiff::Timestamp::now().to_string(),
                        "level": "ERROR",
                        "target": "netkit",
                        "fields": {"message": line},
                    })
                ),
            }
            ExitCode::from(failure.code)
        }
    }
}

/// The error and those of its causes that its message does not already tell, on one line.
fn one_line(error: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if !line.contains(&text) {
            if !line.is_empty() {
                line.push_str(": ");
            }
            line.push_str(&text);
        }
    }
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    raise_fd_limit();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
        .map_err(Failure::from)
}

fn handoff_worker(args: HandoffWorkerArgs) -> Result<(), Failure> {
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
            idle_timeout: seconds("--idle-timeout", args.idle_timeout).map_err(usage)?,
            handshake_timeout: Duration::from_secs(10),
            hmac: None,
        },
        connect_timeout: seconds("--connect-timeout", args.connect_timeout).map_err(usage)?,
        grace: seconds("--grace", args.grace).map_err(usage)?,
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

fn run(command: Command) -> Result<ExitCode, Failure> {
    match command {
        Command::Handoff(HandoffCommand::Worker(args)) => handoff_worker(args)?,
        Command::Serve(args) => {
            let config = Config::from_args(&args).map_err(usage)?;
            runtime()?
                .block_on(netkit::serve::run(config))
                .map_err(usage)?;
        }
        Command::Echo(args) => {
            let tls = args.tls.to_client_tls().map_err(usage)?;
            let timeout = seconds("--timeout", args.timeout).map_err(usage)?;
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
        }
        Command::Time(args) => {
            let patience = client::time::Patience {
                timeout: seconds("--timeout", args.timeout).map_err(usage)?,
                attempts: args.attempts,
            };
            let rt = runtime()?;
            if args.sntp {
                let answer = rt.block_on(client::time::sntp(&args.addr, patience))?;
                let server_time =
                    jiff::Timestamp::from_nanosecond((answer.server_time * 1e9) as i128)?
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
        }
        Command::Tls(TlsCommand::GenCert { out, names }) => {
            let names = if names.is_empty() {
                netkit::tls::default_names()
            } else {
                names
            };
            let written = netkit::tls::gen_cert(&out, &names)?;
            for path in [
                &written.ca,
                &written.server_cert,
                &written.server_key,
                &written.client_cert,
                &written.client_key,
            ] {
                println!("{}", path.display());
            }
        }
        Command::Xmlrpc(args) => {
            let mut client = args.connection.client(&args.url)?;
            let params = args
                .args
                .iter()
                .map(|a| arg_value(a))
                .collect::<Result<Vec<_>, _>>()?;
            let value = runtime()?.block_on(client.call(&args.method, &params))?;
            println!("{}", json_line(&value));
        }
        Command::Kv(args) => run_kv(args)?,
        Command::Http(args) => return run_http(args, false),
        Command::Cidr(args) => return Ok(netkit::cidr::cli::run(args)?),
        Command::Conn(args) => run_conn(args)?,
        Command::Rpc(args) => return run_rpc(args),
        Command::Bench(bench) => run_bench(bench)?,
        Command::Bulk(bulk) => return run_bulk(bulk),
    }
    Ok(ExitCode::SUCCESS)
}

fn size_flag(flag: &'static str, text: Option<&str>) -> Result<Option<u64>, Failure> {
    text.map(|t| netkit::config::parse_size(flag, t))
        .transpose()
        .map_err(usage)
}

fn print_bulk_summary(summary: &netkit::bulk::Summary, json: bool) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = if json {
        writeln!(
            out,
            "{}",
            serde_json::to_string(summary).unwrap_or_default()
        )
    } else {
        writeln!(out, "{}", summary.human())
    };
    let _ = out.flush();
}

fn run_bulk(command: BulkCommand) -> Result<ExitCode, Failure> {
    use netkit::bulk;
    use std::io::IsTerminal;
    match command {
        BulkCommand::Send(args) => {
            let tls = args.tls.to_client_tls().map_err(usage)?;
            let (source, addr) = match (args.operands.as_slice(), args.stdin) {
                ([file, addr], false) => (bulk::Source::File(PathBuf::from(file)), addr),
                ([addr], true) => (bulk::Source::Stdin, addr),
                (_, false) => return Err(usage(anyhow::anyhow!("give FILE ADDR"))),
                (_, true) => return Err(usage(anyhow::anyhow!("with --stdin give ADDR alone"))),
            };
            if args.streams == 0 || args.streams > bulk::header::MAX_STREAMS {
                return Err(usage(anyhow::anyhow!(
                    "--streams must be from 1 to {}",
                    bulk::header::MAX_STREAMS
                )));
            }
            let options = bulk::SendOptions {
                addr: addr.clone(),
                tls,
                timeout: seconds("--timeout", args.timeout).map_err(usage)?,
                raw: args.raw,
                streams: args.streams,
                resume: args.resume,
                progress: !args.json && std::io::stderr().is_terminal(),
                socket_buffer: size_flag("--socket-buffer", args.socket_buffer.as_deref())?
                    .map(|n| n as usize),
            };
            let summary = runtime()?.block_on(bulk::send_file(&source, &options))?;
            print_bulk_summary(&summary, args.json);
        }
        BulkCommand::Recv(args) => {
            let target = match (&args.out, args.stdout) {
                (Some(out), false) => bulk::Target::File(out.clone()),
                (None, true) => bulk::Target::Stdout,
                _ => return Err(usage(anyhow::anyhow!("give --out FILE or --stdout"))),
            };
            let raw_bytes = size_flag("--bytes", args.bytes.as_deref())?;
            if args.raw && raw_bytes.is_none() {
                return Err(usage(anyhow::anyhow!(
                    "--raw needs --bytes N: the recipe's sender sends no length"
                )));
            }
            let tls = match (&args.tls_cert, &args.tls_key) {
                (Some(cert), Some(key)) => {
                    let files = netkit::tls::ServerTlsFiles {
                        cert: cert.clone(),
                        key: key.clone(),
                        client_ca: args.tls_client_ca.clone(),
                    };
                    let config = netkit::tls::server_config(&files, &[]).map_err(usage)?;
                    Some(tokio_rustls::TlsAcceptor::from(config))
                }
                _ => None,
            };
            let is_tls = tls.is_some();
            let mut options = bulk::RecvOptions::new(target);
            options.raw_bytes = raw_bytes;
            options.max_size = size_flag("--max-size", args.max_size.as_deref())?;
            options.keep_going = args.keep_going;
            options.resume = args.resume;
            options.fsync = args.fsync;
            // Progress goes to stderr; with --stdout the data owns stdout, not the bar.
            options.progress = !args.json && std::io::stderr().is_terminal();
            options.timeout = seconds("--timeout", args.timeout).map_err(usage)?;
            options.tls = tls;
            options.socket_buffer =
                size_flag("--socket-buffer", args.socket_buffer.as_deref())?.map(|n| n as usize);
            let to_stdout = args.stdout;
            let json = args.json;
            let rt = runtime()?;
            let listener = rt
                .block_on(tokio::net::TcpListener::bind(&args.listen))
                .with_context(|| format!("bulk: cannot bind {}", args.listen))
                .map_err(usage)?;
            let local = listener
                .local_addr()
                .with_context(|| format!("bulk: cannot bind {}", args.listen))
                .map_err(usage)?;
            let line = netkit::serve::Listening {
                service: "bulk",
                url: format!("{}://{local}", if is_tls { "tls" } else { "tcp" }),
            };
            // With --stdout the data owns stdout: the listening line goes to stderr.
            if to_stdout {
                eprintln!("{line}");
            } else {
                use std::io::Write;
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{line}");
                let _ = out.flush();
            }
            let report = |outcome: &Result<bulk::Summary, bulk::BulkError>| match outcome {
                Ok(summary) if to_stdout => eprintln!("netkit: {}", summary.human()),
                Ok(summary) => print_bulk_summary(summary, json),
                Err(error) => {
                    if args.keep_going {
                        eprintln!("netkit: transfer failed: {error}");
                    }
                }
            };
            let keep_going = args.keep_going;
            let interrupted = rt.block_on(async {
                let mut term =
                    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
                // Dropping the receive on a signal drops its transfers, which removes
                // their part files: an interrupted transfer leaves nothing behind.
                tokio::select! {
                    outcome = bulk::recv_files(listener, options, report) => outcome.map(|_| false),
                    _ = tokio::signal::ctrl_c() => Ok(true),
                    _ = term.recv() => Ok(true),
                }
            })?;
            if interrupted && !keep_going {
                return Err(anyhow::anyhow!("interrupted before a transfer completed").into());
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn run_conn(args: ConnArgs) -> Result<(), Failure> {
    use netkit::proto::pickle;
    use std::io::{BufRead, Write};
    let tls = args.client.tls.to_client_tls().map_err(usage)?;
    let max_frame =
        netkit::config::parse_size("--max-frame", &args.client.max_frame).map_err(usage)?;
    let limits = pickle::Limits::default();
    runtime()?.block_on(async {
        let mut connection = args.client.open(tls.as_ref(), max_frame).await?;
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

fn run_rpc(args: RpcArgs) -> Result<ExitCode, Failure> {
    use netkit::proto::pickle::{self, Value};
    let tls = args.client.tls.to_client_tls().map_err(usage)?;
    let max_frame =
        netkit::config::parse_size("--max-frame", &args.client.max_frame).map_err(usage)?;
    let positional = args
        .args
        .iter()
        .map(|a| argument_value(a))
        .collect::<anyhow::Result<Vec<_>>>()
        .map_err(usage)?;
    let mut keywords = Vec::new();
    for pair in &args.kwargs {
        let (name, value) = pair
            .split_once('=')
            .ok_or_else(|| usage(anyhow::anyhow!("--kwarg {pair:?}: expected NAME=VALUE")))?;
        keywords.push((name.to_string(), argument_value(value).map_err(usage)?));
    }
    let limits = pickle::Limits::default();
    let result = runtime()?.block_on(async {
        let mut connection = args.client.open(tls.as_ref(), max_frame).await?;
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

fn run_bench(command: BenchCommand) -> Result<(), Failure> {
    let print = |report: &netkit::bench::Report, json: bool| {
        if json {
            println!("{}", serde_json::to_string(report).unwrap_or_default());
        } else {
            println!("{}", report.human());
        }
    };
    match command {
        BenchCommand::Echo {
            addr,
            load,
            size,
            tls,
        } => {
            let tls = tls.to_client_tls().map_err(usage)?;
            let json = load.json;
            let load = load.load().map_err(usage)?;
            let report =
                runtime()?.block_on(netkit::bench::echo(&addr, tls.as_ref(), &load, size))?;
            print(&report, json);
        }
        BenchCommand::Conn {
            addr,
            load,
            authkey,
            message,
            reconnect,
        } => {
            use netkit::proto::pickle;
            let json: serde_json::Value = serde_json::from_str(&message)
                .with_context(|| format!("--message is not JSON: {message}"))
                .map_err(usage)?;
            let value = pickle::from_json(&json).map_err(usage)?;
            let frame = pickle::dumps(&value, pickle::Protocol::V4);
            let json_out = load.json;
            let load = load.load().map_err(usage)?;
            let key = authkey.as_ref().map(|k| k.as_bytes());
            let report = if reconnect {
                runtime()?.block_on(netkit::bench::handshakes(&addr, key, &load, frame))?
            } else {
                runtime()?.block_on(netkit::bench::frames(&addr, None, key, &load, frame))?
            };
            print(&report, json_out);
        }
        BenchCommand::Rpc {
            addr,
            load,
            authkey,
        } => {
            use netkit::proto::pickle::{self, Protocol, Value};
            let request = Value::tuple(vec![
                Value::str("add"),
                Value::tuple(vec![Value::Int(2), Value::Int(3)]),
                Value::dict([]).map_err(|e| anyhow::anyhow!("{e}"))?,
            ]);
            let inner = pickle::dumps(&request, Protocol::V4);
            let frame = pickle::dumps(&Value::bytes(&inner), Protocol::V4);
            let json_out = load.json;
            let load = load.load().map_err(usage)?;
            let key = authkey.as_ref().map(|k| k.as_bytes());
            let report =
                runtime()?.block_on(netkit::bench::frames(&addr, None, key, &load, frame))?;
            print(&report, json_out);
        }
        BenchCommand::Connect { addr, load, size } => {
            let json = load.json;
            let load = load.load().map_err(usage)?;
            let report = runtime()?.block_on(netkit::bench::connect(&addr, &load, size))?;
            print(&report, json);
        }
        BenchCommand::Time { addr, load } => {
            let json = load.json;
            let load = load.load().map_err(usage)?;
            let report = runtime()?.block_on(netkit::bench::time(&addr, &load))?;
            print(&report, json);
        }
        BenchCommand::Xmlrpc { url, load, size } => {
            let json = load.json;
            let load = load.load().map_err(usage)?;
            let report = runtime()?.block_on(netkit::bench::xmlrpc(&url, &load, size))?;
            print(&report, json);
        }
        BenchCommand::Idle {
            addr,
            connections,
            hold,
        } => {
            let hold = seconds("--hold", hold).map_err(usage)?;
            let report = runtime()?.block_on(netkit::bench::idle(&addr, connections, hold))?;
            println!("{}", serde_json::to_string(&report).unwrap_or_default());
        }
    }
    Ok(())
}
