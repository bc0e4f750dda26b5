//! The sending side: a file (memory-mapped; sent with sendfile(2) to another host over
//! plain TCP, with write(2) to this one) or stdin, over one or several connections.

use super::header::{self, Header, Reply};
use super::npy::{self, NpyHeader};
use super::{progress_bar, within, BulkError, Summary};
use crate::client::{self, ClientStream, ClientTls};
use memmap2::Mmap;
use std::fs::File;
use std::io;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::either::Either;
use xxhash_rust::xxh3::Xxh3;

/// Bytes hashed and then handed to the kernel in one step: large enough that syscalls
/// don't matter, small enough that the hashed pages are still in cache when sent.
const STEP: usize = 2 * 1024 * 1024;
/// Buffer for stdin.
const STDIN_BUFFER: usize = 1024 * 1024;

/// What to send.
#[derive(Debug, Clone)]
pub enum Source {
    File(PathBuf),
    Stdin,
}

#[derive(Clone)]
pub struct SendOptions {
    /// Receiver, `host:port`.
    pub addr: String,
    pub tls: Option<ClientTls>,
    /// For connecting, the TLS handshake, and each wait on the receiver.
    pub timeout: Duration,
    /// The recipe's bare bytes: no header, no checksum, no reply.
    pub raw: bool,
    /// Parallel connections, each with a slice of the file.
    pub streams: u16,
    /// Ask the receiver how much it already has of this file and send only the rest.
    pub resume: bool,
    pub progress: bool,
    /// SO_SNDBUF/SO_RCVBUF; None leaves Linux's autotuning on.
    pub socket_buffer: Option<usize>,
    /// When a file goes out with sendfile(2) rather than write(2) (plain TCP only).
    pub sendfile: Sendfile,
}

/// When to send a file's pages with sendfile(2).
///
/// sendfile hands the socket the page-cache pages themselves: over a NIC that saves the
/// sender a copy. Over loopback there is no NIC, and the receiver's copy then reads each
/// of those pages from DRAM, where write(2) goes through socket buffers that the kernel
/// recycles and that stay in cache. Measured, 1 GiB into a file on this host: the
/// receiver spends 0.8 CPU-s with sendfile and 0.35 with write, and the transfer runs at
/// twice the rate (bench/RESULTS.md, issue 19). So `auto` copies to a peer on this host.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Sendfile {
    /// sendfile to another host, write(2) to this one (loopback or one of our addresses)
    #[default]
    Auto,
    /// sendfile to every host
    Always,
    /// write(2) from the mapped file to every host
    Never,
}

impl Sendfile {
    /// Whether to use sendfile on a connection from `local` to `peer`.
    fn applies(self, local: IpAddr, peer: IpAddr) -> bool {
        match self {
            Sendfile::Always => true,
            Sendfile::Never => false,
            Sendfile::Auto => !(peer.is_loopback() || peer == local),
        }
    }
}

impl Default for SendOptions {
    fn default() -> Self {
        SendOptions {
            addr: String::new(),
            tls: None,
            timeout: Duration::from_secs(30),
            raw: false,
            streams: 1,
            resume: false,
            progress: false,
            socket_buffer: None,
            sendfile: Sendfile::Auto,
        }
    }
}

/// A file's bytes: mapped, with the open file for sendfile.
struct Mapped {
    file: File,
    map: Option<Mmap>,
}

impl Mapped {
    fn open(path: &std::path::Path) -> Result<Mapped, BulkError> {
        let file = File::open(path).map_err(BulkError::file("cannot open", path))?;
        let meta = file
            .metadata()
            .map_err(BulkError::file("cannot stat", path))?;
        if !meta.is_file() {
            return Err(BulkError::File {
                what: "not a regular file (use --stdin for pipes):",
                path: path.to_path_buf(),
                source: io::Error::from(io::ErrorKind::InvalidInput),
            });
        }
        // An empty file cannot be mapped.
        let map = if meta.len() > 0 {
            // SAFETY: the map is only read. Another process truncating the file while it
            // is sent would fault the reads (SIGBUS), the documented hazard of mmap that
            // DESIGN.md accepts for zero-copy; one rewriting it in place changes the
            // bytes, which the receiver's checksum then reports.
            let map = unsafe { Mmap::map(&file) }.map_err(BulkError::file("cannot map", path))?;
            #[cfg(unix)]
            let _ = map.advise(memmap2::Advice::Sequential);
            Some(map)
        } else {
            None
        };
        Ok(Mapped { file, map })
    }

    fn bytes(&self) -> &[u8] {
        self.map.as_deref().unwrap_or(&[])
    }
}

/// The `.npy` preamble at the start of `bytes`, when it is a well-formed plain array whose
/// data fills the rest exactly; anything else is sent as opaque bytes (which still arrive
/// as the same file).
fn detect_npy(bytes: &[u8]) -> Option<(usize, NpyHeader)> {
    let probe = &bytes[..bytes.len().min(header::MAX_HEADER - header::FIXED_LEN)];
    let len = match npy::preamble_len(probe) {
        Ok(Some(len)) if len <= probe.len() => len,
        _ => return None,
    };
    match npy::parse(&bytes[..len]) {
        Ok(parsed) if parsed.data_len().ok() == Some((bytes.len() - len) as u64) => {
            Some((len, parsed))
        }
        Ok(parsed) => {
            tracing::warn!(array = %parsed, "the .npy data does not match its shape; sending the file as plain bytes");
            None
        }
        Err(error) => {
            tracing::info!(%error, "sending the .npy file as plain bytes");
            None
        }
    }
}

/// Sends a file or stdin to a `netkit bulk recv`, or in raw mode to anything reading the
/// recipe's bare bytes.
pub async fn send_file(source: &Source, options: &SendOptions) -> Result<Summary, BulkError> {
    if options.streams == 0 || options.streams > header::MAX_STREAMS {
        return Err(BulkError::Unsupported("--streams must be from 1 to 16"));
    }
    match source {
        Source::Stdin => {
            if options.streams > 1 || options.resume {
                return Err(BulkError::Unsupported(
                    "--stdin sends one stream and cannot resume: a pipe has no length",
                ));
            }
            send_reader(tokio::io::stdin(), options).await
        }
        Source::File(path) => {
            let mapped = Arc::new(Mapped::open(path)?);
            let bytes = mapped.bytes();
            let (start, npy) = match options.raw {
                true => (0, None),
                false => match detect_npy(bytes) {
                    Some((len, parsed)) => (len, Some((bytes[..len].to_vec(), parsed))),
                    None => (0, None),
                },
            };
            let total = (bytes.len() - start) as u64;
            let transfer_id = match options.resume {
                true => resume_id(path, &mapped.file)?,
                false => random_id(),
            };
            let streams = if options.raw || options.resume {
                if options.streams > 1 {
                    return Err(BulkError::Unsupported(
                        "--raw and --resume send over one stream",
                    ));
                }
                1
            } else {
                options.streams
            };
            let plan = Plan {
                mapped,
                start,
                total,
                transfer_id,
                streams,
                npy,
            };
            send_mapped(plan, options).await
        }
    }
}

/// Sends `data` as an array with netkit framing: the receiver stores a valid `.npy` file.
pub async fn send_array<S>(stream: &mut S, array: &NpyHeader, data: &[u8]) -> Result<u64, BulkError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let expected = array.data_len().map_err(header::HeaderError::from)?;
    if expected != data.len() as u64 {
        return Err(header::HeaderError::NpySizeMismatch {
            array: expected,
            total: data.len() as u64,
        }
        .into());
    }
    let mut head = Header::single(random_id(), expected);
    head.npy = Some((array.encode(), array.clone()));
    stream.write_all(&head.encode()).await?;
    let mut hasher = Xxh3::new();
    for chunk in data.chunks(STEP) {
        hasher.update(chunk);
        stream.write_all(chunk).await?;
    }
    let sum = hasher.digest();
    stream.write_all(&sum.to_be_bytes()).await?;
    stream.shutdown().await?;
    expect_ok(stream, sum).await?;
    Ok(sum)
}

struct Plan {
    mapped: Arc<Mapped>,
    /// Where the payload starts in the file (after an `.npy` preamble).
    start: usize,
    total: u64,
    transfer_id: u64,
    streams: u16,
    npy: Option<(Vec<u8>, NpyHeader)>,
}

fn random_id() -> u64 {
    let mut id = [0u8; 8];
    // A clock-derived id only risks mixing two simultaneous transfers' streams, which the
    // receiver then refuses; not worth failing the send for.
    if getrandom::fill(&mut id).is_err() {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        return now.as_nanos() as u64 ^ u64::from(std::process::id());
    }
    u64::from_be_bytes(id)
}

/// The same id for the same file (path, size, modification time), so a receiver can tell
/// that a partial file it holds is the start of this one.
fn resume_id(path: &std::path::Path, file: &File) -> Result<u64, BulkError> {
    use std::os::unix::fs::MetadataExt;
    let meta = file
        .metadata()
        .map_err(BulkError::file("cannot stat", path))?;
    let name = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let mut hasher = Xxh3::new();
    hasher.update(name.as_os_str().as_encoded_bytes());
    hasher.update(&meta.len().to_be_bytes());
    hasher.update(&meta.mtime().to_be_bytes());
    hasher.update(&meta.mtime_nsec().to_be_bytes());
    Ok(hasher.digest())
}

async fn connect(options: &SendOptions) -> Result<ClientStream, BulkError> {
    let stream = client::connect(&options.addr, options.tls.as_ref(), options.timeout).await?;
    super::set_socket_buffers(tcp_of(&stream), options.socket_buffer);
    Ok(stream)
}

fn tcp_of(stream: &ClientStream) -> &TcpStream {
    match stream {
        Either::Left(tcp) => tcp,
        Either::Right(tls) => tls.get_ref().0,
    }
}

async fn send_mapped(plan: Plan, options: &SendOptions) -> Result<Summary, BulkError> {
    let started = Instant::now();
    let bar = progress_bar(options.progress, Some(plan.total));
    let plan = Arc::new(plan);
    let n = u64::from(plan.streams);
    let mut tasks = tokio::task::JoinSet::new();
    for index in 0..plan.streams {
        let i = u64::from(index);
        // Slices as even as integer division allows; the last takes the remainder.
        let offset = plan.total / n * i;
        let end = if index + 1 == plan.streams {
            plan.total
        } else {
            plan.total / n * (i + 1)
        };
        let plan = plan.clone();
        let options = options.clone();
        let bar = bar.clone();
        tasks.spawn(async move {
            let mut stream = connect(&options).await?;
            let header = Header {
                transfer_id: plan.transfer_id,
                stream_index: index,
                stream_count: plan.streams,
                total_len: plan.total,
                offset,
                payload_len: end - offset,
                chunked: false,
                resume: options.resume,
                npy: plan.npy.clone(),
            };
            send_stream(&mut stream, &plan, &header, &options, &bar).await
        });
    }
    let mut checksum = None;
    let mut resumed_from = 0;
    let mut sent = 0;
    while let Some(joined) = tasks.join_next().await {
        let outcome = joined.map_err(|e| BulkError::Io(io::Error::other(e)))??;
        sent += outcome.sent;
        resumed_from += outcome.resumed_from;
        checksum = outcome.checksum;
    }
    bar.finish_and_clear();
    let mut summary =
        Summary::new(sent, started.elapsed()).with_npy(plan.npy.as_ref().map(|(_, parsed)| parsed));
    summary.streams = plan.streams;
    summary.resumed_from = resumed_from;
    if !options.raw {
        summary.checksum_algorithm = "xxh3";
        if plan.streams == 1 {
            summary.checksum = checksum.map(|sum| format!("{sum:016x}"));
        }
    }
    Ok(summary)
}

struct StreamOutcome {
    sent: u64,
    resumed_from: u64,
    checksum: Option<u64>,
}

async fn send_stream(
    stream: &mut ClientStream,
    plan: &Plan,
    header: &Header,
    options: &SendOptions,
    bar: &indicatif::ProgressBar,
) -> Result<StreamOutcome, BulkError> {
    let payload = &plan.mapped.bytes()[plan.start..];
    let mut hasher = Xxh3::new();
    let mut from = header.offset;
    let end = header.offset + header.payload_len;
    let mut resumed_from = 0;
    if !options.raw {
        stream.write_all(&header.encode()).await?;
        if header.resume {
            let mut at = [0u8; 12];
            within(options.timeout, stream.read_exact(&mut at)).await?;
            let have = u64::from_be_bytes(at[4..].try_into().unwrap_or_default());
            if &at[..4] != b"NKAT" || have > header.payload_len {
                return Err(header::HeaderError::BadReply.into());
            }
            // The trailer covers the whole payload: hash what the receiver already has.
            hasher.update(&payload[..have as usize]);
            from += have;
            resumed_from = have;
            bar.inc(have);
        }
    }
    let sendfile = match &*stream {
        Either::Left(tcp) => match (tcp.local_addr(), tcp.peer_addr()) {
            (Ok(local), Ok(peer)) => options.sendfile.applies(local.ip(), peer.ip()),
            _ => options.sendfile == Sendfile::Always,
        },
        Either::Right(_) => false,
    };
    let body = async {
        let mut at = from;
        while at < end {
            let step = (end - at).min(STEP as u64) as usize;
            let slice = &payload[at as usize..at as usize + step];
            if !options.raw {
                hasher.update(slice);
            }
            match &mut *stream {
                Either::Left(tcp) if sendfile => {
                    sendfile_all(tcp, &plan.mapped.file, (plan.start as u64) + at, step).await?
                }
                other => other.write_all(slice).await?,
            }
            at += step as u64;
            bar.inc(step as u64);
        }
        Ok::<_, io::Error>(())
    };
    if let Err(error) = body.await {
        return Err(refusal_or(stream, error.into()).await);
    }
    let sum = hasher.digest();
    let sent = end - from;
    if options.raw {
        stream.shutdown().await?;
        return Ok(StreamOutcome {
            sent,
            resumed_from,
            checksum: None,
        });
    }
    let finish = async {
        stream.write_all(&sum.to_be_bytes()).await?;
        stream.shutdown().await
    };
    if let Err(error) = finish.await {
        return Err(refusal_or(stream, error.into()).await);
    }
    within(
        options.timeout.max(Duration::from_secs(60)),
        expect_ok(stream, sum),
    )
    .await?;
    Ok(StreamOutcome {
        sent,
        resumed_from,
        checksum: Some(sum),
    })
}

/// Writes `len` bytes of `file` from `offset` to the socket with sendfile(2): the pages go
/// from the page cache to the socket without passing through this process.
async fn sendfile_all(
    tcp: &TcpStream,
    file: &File,
    mut offset: u64,
    mut len: usize,
) -> io::Result<()> {
    while len > 0 {
        tcp.writable().await?;
        let sent = tcp.try_io(tokio::io::Interest::WRITABLE, || {
            rustix::fs::sendfile(tcp, file, Some(&mut offset), len).map_err(io::Error::from)
        });
        match sent {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the file shrank while it was being sent",
                ))
            }
            Ok(n) => len -= n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// After a failed write, the receiver's reason if it sent one (it refuses a transfer by
/// replying early and closing), else the write's own error.
async fn refusal_or(stream: &mut ClientStream, error: BulkError) -> BulkError {
    match tokio::time::timeout(Duration::from_secs(2), read_reply(stream)).await {
        Ok(Ok(Reply::Error(message))) => BulkError::Refused(message),
        _ => error,
    }
}

async fn read_reply<S: AsyncRead + Unpin + ?Sized>(stream: &mut S) -> Result<Reply, BulkError> {
    let mut buf = Vec::with_capacity(64);
    let mut byte = [0u8; 256];
    loop {
        if let Some((reply, _)) = Reply::decode(&buf)? {
            return Ok(reply);
        }
        let n = match stream.read(&mut byte).await {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => 0,
            Err(e) => return Err(e.into()),
        };
        if n == 0 {
            return Err(BulkError::Io(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the receiver closed without confirming the transfer",
            )));
        }
        buf.extend_from_slice(&byte[..n]);
        if buf.len() > 6 + header::MAX_REPLY_MESSAGE {
            return Err(header::HeaderError::BadReply.into());
        }
    }
}

async fn expect_ok<S: AsyncRead + Unpin + ?Sized>(
    stream: &mut S,
    sum: u64,
) -> Result<(), BulkError> {
    match read_reply(stream).await? {
        Reply::Ok(theirs) if theirs == sum => Ok(()),
        Reply::Ok(theirs) => Err(BulkError::ConfirmedWrongChecksum { ours: sum, theirs }),
        Reply::Error(message) => Err(BulkError::Refused(message)),
    }
}

/// Sends a pipe: raw bytes as they come, or netkit chunks when the length is unknown.
async fn send_reader<R: AsyncRead + Unpin>(
    mut input: R,
    options: &SendOptions,
) -> Result<Summary, BulkError> {
    let started = Instant::now();
    let mut stream = connect(options).await?;
    let bar = progress_bar(options.progress, None);
    if options.raw {
        let sent = match tokio::io::copy(&mut input, &mut stream).await {
            Ok(n) => n,
            Err(error) => return Err(error.into()),
        };
        stream.shutdown().await?;
        bar.finish_and_clear();
        return Ok(Summary::new(sent, started.elapsed()));
    }
    let mut header = Header::single(random_id(), 0);
    header.chunked = true;
    stream.write_all(&header.encode()).await?;
    let mut hasher = Xxh3::new();
    let mut buf = vec![0u8; STDIN_BUFFER];
    let mut sent = 0u64;
    let body = async {
        loop {
            // Fill the buffer: fewer, larger chunks.
            let mut filled = 0;
            while filled < buf.len() {
                match input.read(&mut buf[filled..]).await? {
                    0 => break,
                    n => filled += n,
                }
            }
            if filled == 0 {
                break;
            }
            hasher.update(&buf[..filled]);
            stream.write_all(&(filled as u32).to_be_bytes()).await?;
            stream.write_all(&buf[..filled]).await?;
            sent += filled as u64;
            bar.inc(filled as u64);
        }
        stream.write_all(&0u32.to_be_bytes()).await?;
        stream.write_all(&hasher.digest().to_be_bytes()).await?;
        stream.shutdown().await
    };
    if let Err(error) = body.await {
        return Err(refusal_or(&mut stream, error.into()).await);
    }
    let sum = hasher.digest();
    within(
        options.timeout.max(Duration::from_secs(60)),
        expect_ok(&mut stream, sum),
    )
    .await?;
    bar.finish_and_clear();
    let mut summary = Summary::new(sent, started.elapsed());
    summary.checksum = Some(format!("{sum:016x}"));
    summary.checksum_algorithm = "xxh3";
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::Sendfile;
    use std::net::IpAddr;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn auto_copies_to_this_host_and_uses_sendfile_elsewhere() {
        let lan = ip("192.0.2.7");
        assert!(!Sendfile::Auto.applies(ip("127.0.0.1"), ip("127.0.0.1")));
        assert!(!Sendfile::Auto.applies(ip("127.0.0.1"), ip("127.0.0.53")));
        assert!(!Sendfile::Auto.applies(ip("::1"), ip("::1")));
        // One of our own addresses: the kernel routes it over loopback too.
        assert!(!Sendfile::Auto.applies(lan, lan));
        assert!(Sendfile::Auto.applies(lan, ip("192.0.2.8")));
        assert!(Sendfile::Auto.applies(ip("2001:db8::1"), ip("2001:db8::2")));
        assert!(Sendfile::Always.applies(ip("127.0.0.1"), ip("127.0.0.1")));
        assert!(!Sendfile::Never.applies(lan, ip("192.0.2.8")));
    }
}
