//! `netkit cidr …`: Python `ipaddress` answers on the command line, one item a line.
//!
//! Input mistakes (a bad network, a bad line in a list, an index out of range) print one
//! line on stderr, `netkit cidr: error: …`, naming the line number and the text, and exit
//! with code 2. Output goes through one locked, buffered stdout; a closed pipe (`| head`)
//! ends the command quietly with code 0. Listings are lazy, so `list 10.0.0.0/8 | head`
//! and `list 2001:db8::/64 | head` return at once.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;

use super::collapse::Collapser;
use super::error::CidrError;
use super::net::{network_error, write_net, Address, IpInterface, IpNetwork};
use super::ops::Addrs;
use super::text::{self, Fam};

/// Answers like Python's `ipaddress`: `netkit cidr SUBCOMMAND …`.
#[derive(clap::Args, Debug)]
#[command(
    about = "Networks and addresses, answered like Python's ipaddress",
    after_help = "Examples:\n  netkit cidr info 123.45.67.64/27\n  netkit cidr list 12:3456:78:90ab:cd:ef01:23:30/125\n  netkit cidr --no-strict info 123.45.67.73/27\n  netkit cidr aggregate blocklist.txt > collapsed.txt"
)]
pub struct CidrArgs {
    /// Accept host bits in NET and treat it as an interface (`ip_interface`), as the recipe
    /// does; without it NET is strict like `ip_network(NET)`.
    #[arg(long, global = true)]
    pub no_strict: bool,

    /// What to compute.
    #[command(subcommand)]
    pub command: CidrCommand,
}

/// The `netkit cidr` subcommands (DESIGN.md §2).
#[derive(clap::Subcommand, Debug)]
pub enum CidrCommand {
    /// Network address, netmask, hostmask, broadcast, num_addresses and the is_* properties.
    #[command(
        after_help = "Example:\n  $ netkit cidr info 123.45.67.64/27\n  network: 123.45.67.64/27\n  version: 4\n  network_address: 123.45.67.64\n  broadcast_address: 123.45.67.95\n  …\n  netkit cidr info --json 2001:db8::/32"
    )]
    Info {
        /// The network, e.g. 10.0.0.0/8, 10.0.0.0/255.0.0.0 or 2001:db8::/32.
        net: String,
        /// One JSON object instead of `key: value` lines.
        #[arg(long)]
        json: bool,
    },
    /// Every address of the network, in order: `list(ip_network(NET))`.
    #[command(
        after_help = "Example:\n  $ netkit cidr list 12:3456:78:90ab:cd:ef01:23:30/125\n  12:3456:78:90ab:cd:ef01:23:30\n  …\n  12:3456:78:90ab:cd:ef01:23:37\n  netkit cidr list 10.0.0.0/8 | head   # streams; stops at once"
    )]
    List {
        /// The network.
        net: String,
    },
    /// The usable hosts: `ip_network(NET).hosts()` (/31, /32, /127, /128 as Python).
    #[command(
        after_help = "Example:\n  $ netkit cidr hosts 192.0.2.0/30\n  192.0.2.1\n  192.0.2.2"
    )]
    Hosts {
        /// The network.
        net: String,
    },
    /// `ADDR true|false` for each address: is it in NET?
    #[command(
        after_help = "Example:\n  $ netkit cidr contains 123.45.67.64/27 123.45.67.73 10.0.0.1\n  123.45.67.73 true\n  10.0.0.1 false\n  netkit cidr contains 10.0.0.0/8 --file addresses.txt   # '-' reads stdin"
    )]
    Contains {
        /// The network.
        net: String,
        /// Addresses to test.
        #[arg(required_unless_present = "file")]
        addrs: Vec<String>,
        /// Also test the addresses in FILE, one a line (`-` is stdin; `#` comments).
        #[arg(long, value_name = "FILE")]
        file: Option<PathBuf>,
        /// Report bad lines on stderr and go on instead of stopping.
        #[arg(long)]
        skip_invalid: bool,
    },
    /// The I-th address: `ip_network(NET)[I]`; negative I counts from the end.
    #[command(after_help = "Example:\n  $ netkit cidr index 123.45.67.64/27 -1\n  123.45.67.95")]
    Index {
        /// The network.
        net: String,
        /// The index; -1 is the last address.
        #[arg(allow_hyphen_values = true)]
        index: String,
    },
    /// Collapse a list of networks into the fewest covering it: `collapse_addresses`.
    #[command(
        after_help = "Example:\n  $ printf '192.0.2.0/25\\n192.0.2.128/25\\n' | netkit cidr aggregate\n  192.0.2.0/24\n  netkit cidr aggregate --no-strict --skip-invalid blocklist.txt"
    )]
    Aggregate {
        /// The list, one network a line (`#` comments, blank lines ignored); stdin if absent or `-`.
        file: Option<PathBuf>,
        /// Report bad lines on stderr and go on instead of stopping.
        #[arg(long)]
        skip_invalid: bool,
    },
    /// NET without EXCLUDED, sorted: `sorted(ip_network(NET).address_exclude(...))`.
    #[command(
        after_help = "Example:\n  $ netkit cidr exclude 192.0.2.0/28 192.0.2.1/32\n  192.0.2.0/32\n  192.0.2.2/31\n  192.0.2.4/30\n  192.0.2.8/29"
    )]
    Exclude {
        /// The network.
        net: String,
        /// The network to take out of it.
        excluded: String,
    },
    /// The subnets of NET: `ip_network(NET).subnets(...)` (default: split in two).
    #[command(
        after_help = "Example:\n  $ netkit cidr subnets 10.0.0.0/24 --new-prefix 26\n  10.0.0.0/26\n  10.0.0.64/26\n  10.0.0.128/26\n  10.0.0.192/26"
    )]
    Subnets {
        /// The network.
        net: String,
        /// The prefix length of the subnets.
        #[arg(long, value_name = "P", conflicts_with = "prefixlen_diff")]
        new_prefix: Option<u32>,
        /// How many bits longer the subnets' prefix is.
        #[arg(long, value_name = "D")]
        prefixlen_diff: Option<u32>,
    },
    /// The network containing NET: `ip_network(NET).supernet(...)` (default: one bit shorter).
    #[command(
        after_help = "Example:\n  $ netkit cidr supernet 10.1.2.0/24 --new-prefix 16\n  10.1.0.0/16"
    )]
    Supernet {
        /// The network.
        net: String,
        /// The prefix length of the supernet.
        #[arg(long, value_name = "P", conflicts_with = "prefixlen_diff")]
        new_prefix: Option<u32>,
        /// How many bits shorter the supernet's prefix is.
        #[arg(long, value_name = "D")]
        prefixlen_diff: Option<u32>,
    },
    /// The fewest networks covering FIRST..=LAST: `summarize_address_range`.
    #[command(
        after_help = "Example:\n  $ netkit cidr range 192.0.2.0 192.0.2.130\n  192.0.2.0/25\n  192.0.2.128/31\n  192.0.2.130/32"
    )]
    Range {
        /// The first address.
        first: String,
        /// The last address.
        last: String,
    },
}

/// Why a command stopped: the user's input (exit 2) or the output stream.
enum Stop {
    Input(String),
    Io(io::Error),
}

impl From<io::Error> for Stop {
    fn from(e: io::Error) -> Self {
        Stop::Io(e)
    }
}

impl From<CidrError> for Stop {
    fn from(e: CidrError) -> Self {
        Stop::Input(describe(&e))
    }
}

/// The CLI's wording: a host-bits error names the flag that accepts it.
fn describe(e: &CidrError) -> String {
    match e {
        CidrError::HostBitsSet { input, network } => {
            format!("{input} has host bits set; use {network} or --no-strict")
        }
        other => other.to_string(),
    }
}

/// Runs `netkit cidr …`. Input errors are printed here (one line, exit code 2); an `Err`
/// is only returned when stdout fails for a reason other than a closed pipe.
pub fn run(args: CidrArgs) -> anyhow::Result<ExitCode> {
    let mut out = Out::new();
    let result = dispatch(&args, &mut out).and_then(|code| {
        out.flush()?;
        Ok(code)
    });
    match result {
        Ok(code) => Ok(code),
        Err(Stop::Input(msg)) => {
            // Whatever was computed before the bad input still goes out.
            match out.flush() {
                Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
                    return Err(e).context("writing to stdout");
                }
                _ => {}
            }
            eprintln!("netkit cidr: error: {msg}");
            Ok(ExitCode::from(2))
        }
        Err(Stop::Io(e)) if e.kind() == io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
        Err(Stop::Io(e)) => Err(e).context("writing to stdout"),
    }
}

fn dispatch(args: &CidrArgs, out: &mut Out) -> Result<ExitCode, Stop> {
    let strict = !args.no_strict;
    match &args.command {
        CidrCommand::Info { net, json } => info(out, net, strict, *json)?,
        CidrCommand::List { net } => {
            let n = network(net, strict)?;
            out.addrs(n.iter())?;
        }
        CidrCommand::Hosts { net } => {
            let n = network(net, strict)?;
            if n.prefix_len() == n.max_prefix_len() {
                // Python returns the address it was given, scope id included.
                out.line(n.network_address_scoped().to_string().as_bytes())?;
            } else {
                out.addrs(n.hosts())?;
            }
        }
        CidrCommand::Contains {
            net,
            addrs,
            file,
            skip_invalid,
        } => {
            let n = network(net, strict)?;
            return contains(out, &n, addrs, file.as_ref(), *skip_invalid);
        }
        CidrCommand::Index { net, index } => {
            let n = network(net, strict)?;
            let found = match parse_index(index) {
                None => return Err(Stop::Input(format!("index {index:?} is not an integer"))),
                Some(Index::FromStart(i)) => n.nth(i),
                Some(Index::FromEnd(i)) => n.nth_back(i),
                Some(Index::Beyond) => None,
            };
            let Some(a) = found else {
                return Err(CidrError::IndexOutOfRange {
                    network: n.to_string(),
                    index: index.clone(),
                }
                .into());
            };
            out.line(Address::new(a).to_string().as_bytes())?;
        }
        CidrCommand::Aggregate { file, skip_invalid } => {
            return aggregate(out, file.as_ref(), strict, *skip_invalid)
        }
        CidrCommand::Exclude { net, excluded } => {
            let n = network(net, strict)?;
            let x = network(excluded, strict)?;
            let mut parts: Vec<IpNetwork> = n.address_exclude(&x)?.collect();
            parts.sort();
            for p in &parts {
                out.line(p.to_string().as_bytes())?;
            }
        }
        CidrCommand::Subnets {
            net,
            new_prefix,
            prefixlen_diff,
        } => {
            let n = network(net, strict)?;
            let subnets = match new_prefix {
                Some(p) => n.subnets(*p)?,
                None => n.subnets_diff(prefixlen_diff.unwrap_or(1))?,
            };
            for s in subnets {
                out.net(&s)?;
            }
        }
        CidrCommand::Supernet {
            net,
            new_prefix,
            prefixlen_diff,
        } => {
            let n = network(net, strict)?;
            let s = match new_prefix {
                Some(p) => n.supernet(*p)?,
                None => n.supernet_diff(prefixlen_diff.unwrap_or(1))?,
            };
            out.line(s.to_string().as_bytes())?;
        }
        CidrCommand::Range { first, last } => {
            let a = Address::parse_bytes(first.as_bytes())?;
            let b = Address::parse_bytes(last.as_bytes())?;
            for s in super::summarize_address_range(a.ip(), b.ip())? {
                out.net(&s)?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// NET as `ip_network(NET)` or, with `--no-strict`, `ip_interface(NET).network`.
fn network(s: &str, strict: bool) -> Result<IpNetwork, CidrError> {
    if strict {
        IpNetwork::parse_bytes(s.as_bytes(), true)
    } else {
        Ok(IpInterface::parse_bytes(s.as_bytes())?.network())
    }
}

enum Index {
    FromStart(u128),
    /// `-1 - i`.
    FromEnd(u128),
    /// Bigger than any network (beyond 2^128).
    Beyond,
}

/// A Python integer index: optional sign, decimal digits.
fn parse_index(s: &str) -> Option<Index> {
    let (neg, digits) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let digits = digits.trim_start_matches('0');
    let value = if digits.is_empty() {
        Some(0)
    } else {
        digits.parse::<u128>().ok()
    };
    Some(match (neg, value) {
        (false, Some(v)) => Index::FromStart(v),
        (true, Some(0)) => Index::FromStart(0),
        (true, Some(v)) => Index::FromEnd(v - 1),
        // -2**128 is the first address of ::/0.
        (true, None) if digits == "340282366920938463463374607431768211456" => {
            Index::FromEnd(u128::MAX)
        }
        (_, None) => Index::Beyond,
    })
}

fn info(out: &mut Out, net: &str, strict: bool, json: bool) -> Result<(), Stop> {
    let (n, iface) = if strict {
        (IpNetwork::parse_bytes(net.as_bytes(), true)?, None)
    } else {
        let i = IpInterface::parse_bytes(net.as_bytes())?;
        (i.network(), Some(i))
    };
    let mut kv = KeyValues::new(json);
    if let Some(i) = &iface {
        kv.str("interface", &i.to_string());
        kv.str("ip", &Address::new(i.ip()).to_string());
    }
    kv.str("network", &n.to_string());
    kv.num("version", &n.version().to_string());
    kv.str("network_address", &n.network_address_scoped().to_string());
    kv.str(
        "broadcast_address",
        &Address::new(n.broadcast_address()).to_string(),
    );
    kv.str("netmask", &Address::new(n.netmask()).to_string());
    kv.str("hostmask", &Address::new(n.hostmask()).to_string());
    kv.num("prefixlen", &n.prefix_len().to_string());
    kv.num("num_addresses", &n.num_addresses().to_string());
    kv.str("with_netmask", &n.with_netmask());
    kv.str("with_hostmask", &n.with_hostmask());
    kv.str("exploded", &n.exploded());
    kv.bool("is_private", n.is_private());
    kv.bool("is_global", n.is_global());
    kv.bool("is_multicast", n.is_multicast());
    kv.bool("is_loopback", n.is_loopback());
    kv.bool("is_link_local", n.is_link_local());
    kv.bool("is_reserved", n.is_reserved());
    kv.bool("is_unspecified", n.is_unspecified());
    if n.version() == 6 {
        kv.bool("is_site_local", n.is_site_local());
        // Address-level facts of the network address (or of the interface's address).
        let a = match &iface {
            Some(i) => Address::new(i.ip()),
            None => Address::new(n.network_address()),
        };
        let show = |x: Option<std::net::Ipv4Addr>| x.map(|v| v.to_string());
        kv.opt("ipv4_mapped", show(a.ipv4_mapped()));
        kv.opt("sixtofour", show(a.sixtofour()));
        let t = a.teredo();
        kv.opt("teredo_server", show(t.map(|t| t.0)));
        kv.opt("teredo_client", show(t.map(|t| t.1)));
        kv.opt(
            "scope_id",
            n.scope_id().map(str::to_string).or_else(|| {
                iface
                    .as_ref()
                    .and_then(|i| i.address().scope_id().map(str::to_string))
            }),
        );
    }
    out.put(kv.finish().as_bytes())?;
    Ok(())
}

/// `key: value` lines, or one JSON object with the same keys in the same order.
struct KeyValues {
    json: bool,
    text: String,
}

impl KeyValues {
    fn new(json: bool) -> Self {
        KeyValues {
            json,
            text: if json {
                String::from("{")
            } else {
                String::new()
            },
        }
    }
    fn raw(&mut self, key: &str, json_value: &str, text_value: &str) {
        if self.json {
            if self.text.len() > 1 {
                self.text.push(',');
            }
            self.text.push_str(&format!("\"{key}\":{json_value}"));
        } else {
            self.text.push_str(&format!("{key}: {text_value}\n"));
        }
    }
    fn str(&mut self, key: &str, v: &str) {
        let quoted = serde_json::to_string(v).unwrap_or_else(|_| String::from("null"));
        self.raw(key, &quoted, v);
    }
    /// A number, written as digits in JSON too (num_addresses may exceed 2^64).
    fn num(&mut self, key: &str, digits: &str) {
        self.raw(key, digits, digits);
    }
    fn bool(&mut self, key: &str, v: bool) {
        let s = if v { "true" } else { "false" };
        self.raw(key, s, s);
    }
    /// JSON null, or no line at all in text.
    fn opt(&mut self, key: &str, v: Option<String>) {
        match v {
            Some(v) => self.str(key, &v),
            None if self.json => self.raw(key, "null", ""),
            None => {}
        }
    }
    fn finish(mut self) -> String {
        if self.json {
            self.text.push_str("}\n");
        }
        self.text
    }
}

/// Where list input comes from, for messages.
struct Source {
    name: String,
    reader: Box<dyn BufRead>,
}

fn open(file: Option<&PathBuf>) -> Result<Source, Stop> {
    match file {
        None => Ok(Source {
            name: "<stdin>".into(),
            reader: Box::new(BufReader::with_capacity(1 << 16, io::stdin())),
        }),
        Some(p) if p.as_os_str() == "-" => open(None),
        Some(p) => {
            let f = File::open(p)
                .map_err(|e| Stop::Input(format!("cannot read {}: {e}", p.display())))?;
            Ok(Source {
                name: p.display().to_string(),
                reader: Box::new(BufReader::with_capacity(1 << 16, f)),
            })
        }
    }
}

/// Calls `each(line_number, text)` for every non-blank, non-comment line, trimmed.
fn for_each_line(
    src: &mut Source,
    mut each: impl FnMut(usize, &[u8]) -> Result<(), Stop>,
) -> Result<(), Stop> {
    let mut buf = Vec::with_capacity(128);
    let mut n = 0usize;
    loop {
        buf.clear();
        let got = src
            .reader
            .read_until(b'\n', &mut buf)
            .map_err(|e| Stop::Input(format!("cannot read {}: {e}", src.name)))?;
        if got == 0 {
            return Ok(());
        }
        n += 1;
        let mut line = buf.as_slice();
        if let Some(hash) = line.iter().position(|&b| b == b'#') {
            line = &line[..hash];
        }
        let line = line.trim_ascii();
        if !line.is_empty() {
            each(n, line)?;
        }
    }
}

fn bad_line(src_name: &str, n: usize, e: &CidrError) -> String {
    format!("{src_name} line {n}: {}", describe(e))
}

fn contains(
    out: &mut Out,
    net: &IpNetwork,
    addrs: &[String],
    file: Option<&PathBuf>,
    skip_invalid: bool,
) -> Result<ExitCode, Stop> {
    for (i, a) in addrs.iter().enumerate() {
        match Address::parse_bytes(a.as_bytes()) {
            Ok(addr) => out.contains_line(&addr, net)?,
            Err(e) if skip_invalid => warn(&format!("argument {}: {}", i + 1, describe(&e))),
            Err(e) => return Err(Stop::Input(format!("argument {}: {}", i + 1, describe(&e)))),
        }
    }
    if let Some(f) = file {
        let mut src = open(Some(f))?;
        let name = src.name.clone();
        for_each_line(&mut src, |n, line| match Address::parse_bytes(line) {
            Ok(addr) => Ok(out.contains_line(&addr, net)?),
            Err(e) if skip_invalid => {
                warn(&bad_line(&name, n, &e));
                Ok(())
            }
            Err(e) => Err(Stop::Input(bad_line(&name, n, &e))),
        })?;
    }
    Ok(ExitCode::SUCCESS)
}

fn warn(msg: &str) {
    eprintln!("netkit cidr: warning: {msg} (skipped)");
}

fn aggregate(
    out: &mut Out,
    file: Option<&PathBuf>,
    strict: bool,
    skip_invalid: bool,
) -> Result<ExitCode, Stop> {
    let mut src = open(file)?;
    let name = src.name.clone();
    let mut c = Collapser::new();
    // The first line's family and text, to name it when another family turns up.
    let mut first: Option<(Fam, usize, String)> = None;
    for_each_line(&mut src, |n, line| {
        let problem = match text::parse_net(line) {
            Err(bad) => bad_line(&name, n, &network_error(line, bad)),
            Ok(raw) => {
                let fam = raw.addr.fam;
                let masked = raw.addr.bits & fam.netmask(raw.prefix);
                match &first {
                    Some((f, first_n, first_text)) if *f != fam => format!(
                        "{name} line {n}: {} is IPv{} but line {first_n} ({first_text}) is IPv{}; \
                         collapse_addresses needs one IP version",
                        String::from_utf8_lossy(line),
                        fam.version(),
                        f.version()
                    ),
                    _ if strict && masked != raw.addr.bits => {
                        // Re-parse through the library for the exact host-bits message.
                        let e = IpNetwork::parse_bytes(line, true)
                            .err()
                            .unwrap_or_else(|| network_error(line, text::Bad::Empty));
                        bad_line(&name, n, &e)
                    }
                    _ => {
                        if first.is_none() {
                            first = Some((fam, n, String::from_utf8_lossy(line).into_owned()));
                        }
                        c.push(fam, masked, raw.prefix);
                        return Ok(());
                    }
                }
            }
        };
        if skip_invalid {
            warn(&problem);
            Ok(())
        } else {
            Err(Stop::Input(problem))
        }
    })?;
    let mut result = Ok(());
    c.finish(|fam, bits, prefix| {
        if result.is_ok() {
            result = out.raw_net(fam, bits, prefix);
        }
    });
    result?;
    Ok(ExitCode::SUCCESS)
}

/// Buffered, locked stdout that formats addresses straight into its buffer.
struct Out {
    w: io::StdoutLock<'static>,
    buf: Vec<u8>,
}

const FLUSH_AT: usize = 1 << 16;

impl Out {
    fn new() -> Self {
        Out {
            w: io::stdout().lock(),
            buf: Vec::with_capacity(FLUSH_AT + 256),
        }
    }
    #[inline]
    fn maybe_flush(&mut self) -> io::Result<()> {
        if self.buf.len() >= FLUSH_AT {
            self.w.write_all(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }
    fn flush(&mut self) -> io::Result<()> {
        self.w.write_all(&self.buf)?;
        self.buf.clear();
        self.w.flush()
    }
    fn put(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.buf.extend_from_slice(bytes);
        self.maybe_flush()
    }
    fn line(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.buf.extend_from_slice(bytes);
        self.buf.push(b'\n');
        self.maybe_flush()
    }
    fn addrs(&mut self, mut it: Addrs) -> io::Result<()> {
        let fam = it.fam();
        while let Some(bits) = it.next_bits() {
            text::write_addr(&mut self.buf, fam, bits);
            self.buf.push(b'\n');
            self.maybe_flush()?;
        }
        Ok(())
    }
    fn net(&mut self, n: &IpNetwork) -> io::Result<()> {
        if n.scope_id().is_some() {
            return self.line(n.to_string().as_bytes());
        }
        self.raw_net(n.fam, n.bits, n.prefix)
    }
    fn raw_net(&mut self, fam: Fam, bits: u128, prefix: u8) -> io::Result<()> {
        write_net(&mut self.buf, fam, bits, prefix);
        self.buf.push(b'\n');
        self.maybe_flush()
    }
    fn contains_line(&mut self, addr: &Address, net: &IpNetwork) -> io::Result<()> {
        let answer = if net.contains(&addr.ip()) {
            " true"
        } else {
            " false"
        };
        self.buf.extend_from_slice(addr.to_string().as_bytes());
        self.line(answer.as_bytes())
    }
}
