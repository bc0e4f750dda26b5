//! `netkit http [METHOD] URL [ITEM…]`: an httpie-style HTTP client (recipe 1's other side).

use super::{runtime, seconds, usage, Failure, TlsFileArgs};
use clap::Args;
use netkit::client::http::{self as nethttp, auth::AuthType, output, transport::TlsOptions};
use std::path::PathBuf;
use std::process::ExitCode;

pub const AFTER_HELP: &str = "Items:
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
pub struct HttpArgs {
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
    #[command(flatten)]
    tls: TlsFileArgs,
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
    /// Print the request as well as the response, as httpie's -v (-h is --headers here);
    /// logs need RUST_LOG
    #[arg(short, long, action = clap::ArgAction::Count)]
    verbose: u8,
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

/// `verbose`: the global -v, which before the subcommand means the same as after it.
pub fn run(args: HttpArgs, verbose: bool) -> Result<ExitCode, Failure> {
    use std::io::IsTerminal;
    let verbose = verbose || args.verbose > 0;
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
    let mut tls_files = args.tls.files();
    let insecure = match args.verify.to_ascii_lowercase().as_str() {
        "yes" | "true" => false,
        "no" | "false" => true,
        _ if std::path::Path::new(&args.verify).is_file() && tls_files.ca.is_none() => {
            tls_files.ca = Some(PathBuf::from(&args.verify));
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
            files: tls_files,
        },
        http2: args.http2,
        timeout: seconds("--timeout", args.timeout)?,
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
