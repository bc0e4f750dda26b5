//! Request bodies of `netkit http`: bytes made in memory (JSON, forms, multipart
//! framing) and files, which are streamed from disk in small chunks when the request is
//! sent, so an upload of any size runs in flat memory. A body is a recipe, not a
//! stream: each send (a digest answer, a 307 redirect) opens its files again.

use super::HttpError;
use bytes::Bytes;
use http_body_util::{combinators::UnsyncBoxBody, BodyExt, Full, StreamBody};
use hyper::body::Frame;
use std::collections::VecDeque;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::io::AsyncReadExt;

/// How much of a file is read (and held) at a time.
const CHUNK: usize = 256 * 1024;
/// Files up to this size are shown by `-v`; bigger ones get a note instead.
const SHOWN_FILE_MAX: u64 = 64 * 1024;

/// The body hyper sends: in memory, or read from files as the connection drains it.
pub type WireBody = UnsyncBoxBody<Bytes, io::Error>;

/// One piece of a body, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Bytes(Bytes),
    /// A file, with its size when it is a regular file (`None` for a pipe or device,
    /// which is read to its end and sent chunked).
    File {
        path: PathBuf,
        len: Option<u64>,
    },
}

/// A request body: pieces of memory and files, sent one after the other.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestBody {
    pieces: Vec<Piece>,
}

impl RequestBody {
    pub fn empty() -> RequestBody {
        RequestBody::default()
    }

    pub fn push_bytes(&mut self, bytes: impl Into<Bytes>) {
        let bytes = bytes.into();
        if !bytes.is_empty() {
            self.pieces.push(Piece::Bytes(bytes));
        }
    }

    /// Adds the file at `path`, which must exist; its size is taken now, for the
    /// Content-Length.
    pub fn push_file(&mut self, path: &Path) -> Result<(), HttpError> {
        let metadata = std::fs::metadata(path).map_err(|source| HttpError::ReadFile {
            path: path.to_path_buf(),
            source,
        })?;
        if metadata.is_dir() {
            return Err(HttpError::ReadFile {
                path: path.to_path_buf(),
                source: io::Error::other("a directory, not a file"),
            });
        }
        let len = metadata.is_file().then_some(metadata.len());
        self.pieces.push(Piece::File {
            path: path.to_path_buf(),
            len,
        });
        Ok(())
    }

    /// The size in bytes, when every piece's is known (else the body goes chunked).
    pub fn len(&self) -> Option<u64> {
        self.pieces.iter().try_fold(0u64, |sum, piece| match piece {
            Piece::Bytes(bytes) => Some(sum + bytes.len() as u64),
            Piece::File { len, .. } => len.map(|len| sum + len),
        })
    }

    pub fn is_empty(&self) -> bool {
        self.len() == Some(0)
    }

    pub fn has_files(&self) -> bool {
        self.pieces.iter().any(|p| matches!(p, Piece::File { .. }))
    }

    fn memory(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for piece in &self.pieces {
            if let Piece::Bytes(bytes) = piece {
                out.extend_from_slice(bytes);
            }
        }
        out
    }

    /// The whole body in memory, at most `limit` bytes: for digest `auth-int`, whose
    /// answer hashes the body.
    pub async fn read_all(&self, limit: usize) -> Result<Vec<u8>, HttpError> {
        let mut out = Vec::new();
        let too_large = || {
            HttpError::Usage(format!(
                "digest auth-int hashes the whole body, and it is over {limit} bytes (--max-body)"
            ))
        };
        for piece in &self.pieces {
            match piece {
                Piece::Bytes(bytes) => out.extend_from_slice(bytes),
                Piece::File { path, .. } => {
                    let file = tokio::fs::File::open(path)
                        .await
                        .map_err(|source| read_error(path, source))?;
                    let room = limit.saturating_sub(out.len()) as u64;
                    file.take(room + 1)
                        .read_to_end(&mut out)
                        .await
                        .map_err(|source| read_error(path, source))?;
                }
            }
            if out.len() > limit {
                return Err(too_large());
            }
        }
        Ok(out)
    }

    /// The body for `-v`: memory as it is, small files read, a note for big ones.
    pub fn shown(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for piece in &self.pieces {
            match piece {
                Piece::Bytes(bytes) => out.extend_from_slice(bytes),
                Piece::File { path, len } => match len {
                    Some(len) if *len <= SHOWN_FILE_MAX => match std::fs::read(path) {
                        Ok(data) => out.extend_from_slice(&data),
                        Err(_) => out.extend_from_slice(&file_note(path, Some(*len))),
                    },
                    _ => out.extend_from_slice(&file_note(path, *len)),
                },
            }
        }
        out
    }

    /// The body to send. Without files it is one piece of memory (hyper then knows its
    /// size); with files, a stream that reads them as the connection takes the data,
    /// adding what it hands over to `uploaded` (and to the `progress` bar).
    pub fn to_wire(
        &self,
        progress: Option<indicatif::ProgressBar>,
        uploaded: Arc<AtomicU64>,
    ) -> WireBody {
        if !self.has_files() {
            return Full::new(Bytes::from(self.memory()))
                .map_err(|never| match never {})
                .boxed_unsync();
        }
        let reader = Reader {
            pieces: self.pieces.iter().cloned().collect(),
            open: None,
            progress,
            uploaded,
        };
        let frames = futures_util::stream::try_unfold(reader, Reader::next_frame);
        StreamBody::new(frames).boxed_unsync()
    }
}

fn read_error(path: &Path, source: io::Error) -> HttpError {
    HttpError::ReadFile {
        path: path.to_path_buf(),
        source,
    }
}

fn file_note(path: &Path, len: Option<u64>) -> Vec<u8> {
    let size = match len {
        Some(len) => format!("{len} bytes"),
        None => "size unknown".to_string(),
    };
    format!(
        "+-- file {} ({size}), sent but not shown --+",
        path.display()
    )
    .into_bytes()
}

/// A file being sent: what is left of the size promised in Content-Length.
struct OpenFile {
    file: tokio::fs::File,
    path: PathBuf,
    left: Option<u64>,
}

/// The state of a body stream: the pieces still to send and the file being read.
struct Reader {
    pieces: VecDeque<Piece>,
    open: Option<OpenFile>,
    progress: Option<indicatif::ProgressBar>,
    uploaded: Arc<AtomicU64>,
}

impl Reader {
    fn handed_over(&self, bytes: usize) {
        self.uploaded.fetch_add(bytes as u64, Ordering::Relaxed);
        if let Some(bar) = &self.progress {
            bar.inc(bytes as u64);
        }
    }
}

impl Reader {
    /// The next frame of data, `None` at the end. A file read exactly to the size taken
    /// for Content-Length: one that shrank meanwhile is an error, not a short body.
    async fn next_frame(mut self) -> io::Result<Option<(Frame<Bytes>, Reader)>> {
        loop {
            if let Some(open) = &mut self.open {
                let want = match open.left {
                    Some(left) => CHUNK.min(usize::try_from(left).unwrap_or(CHUNK)),
                    None => CHUNK,
                };
                if want == 0 {
                    self.open = None;
                    continue;
                }
                let mut buffer = vec![0u8; want];
                let read = open.file.read(&mut buffer).await.map_err(|e| {
                    io::Error::new(e.kind(), format!("reading {}: {e}", open.path.display()))
                })?;
                if read == 0 {
                    if let Some(left) = open.left {
                        return Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            format!(
                                "{} got {left} bytes shorter while it was being sent",
                                open.path.display()
                            ),
                        ));
                    }
                    self.open = None;
                    continue;
                }
                buffer.truncate(read);
                if let Some(left) = &mut open.left {
                    *left -= read as u64;
                }
                self.handed_over(read);
                return Ok(Some((Frame::data(Bytes::from(buffer)), self)));
            }
            match self.pieces.pop_front() {
                None => return Ok(None),
                Some(Piece::Bytes(bytes)) => {
                    self.handed_over(bytes.len());
                    return Ok(Some((Frame::data(bytes), self)));
                }
                Some(Piece::File { path, len }) => {
                    let file = tokio::fs::File::open(&path).await.map_err(|e| {
                        io::Error::new(e.kind(), format!("opening {}: {e}", path.display()))
                    })?;
                    self.open = Some(OpenFile {
                        file,
                        path,
                        left: len,
                    });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn collect(body: &RequestBody) -> io::Result<Vec<u8>> {
        let uploaded = Arc::new(AtomicU64::new(0));
        let collected = body.to_wire(None, uploaded.clone()).collect().await?;
        let bytes = collected.to_bytes().to_vec();
        if body.has_files() {
            assert_eq!(uploaded.load(Ordering::Relaxed), bytes.len() as u64);
        }
        Ok(bytes)
    }

    #[tokio::test]
    async fn pieces_are_sent_in_order_with_files_read_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big");
        let data: Vec<u8> = (0..CHUNK * 2 + 17).map(|i| (i % 251) as u8).collect();
        std::fs::write(&big, &data).unwrap();
        let empty = dir.path().join("empty");
        std::fs::write(&empty, b"").unwrap();
        let mut body = RequestBody::empty();
        body.push_bytes(&b"head|"[..]);
        body.push_file(&big).unwrap();
        body.push_file(&empty).unwrap();
        body.push_bytes(&b"|tail"[..]);
        assert_eq!(body.len(), Some(data.len() as u64 + 10));
        let mut expected = b"head|".to_vec();
        expected.extend_from_slice(&data);
        expected.extend_from_slice(b"|tail");
        assert_eq!(collect(&body).await.unwrap(), expected);
        // A second send reads the files again.
        assert_eq!(collect(&body).await.unwrap(), expected);
        assert_eq!(body.read_all(1 << 20).await.unwrap(), expected);
        assert!(body.read_all(100).await.is_err());
    }

    #[tokio::test]
    async fn a_file_that_shrinks_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, vec![1u8; 1000]).unwrap();
        let mut body = RequestBody::empty();
        body.push_file(&path).unwrap();
        std::fs::write(&path, vec![1u8; 10]).unwrap();
        let error = collect(&body).await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof);
        assert!(error
            .to_string()
            .ends_with("got 990 bytes shorter while it was being sent"));
    }

    #[test]
    fn sizes_and_what_verbose_shows() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing");
        let mut body = RequestBody::empty();
        assert!(matches!(
            body.push_file(&missing),
            Err(HttpError::ReadFile { .. })
        ));
        assert!(body.push_file(dir.path()).is_err());
        assert!(body.is_empty());
        let small = dir.path().join("small.txt");
        std::fs::write(&small, "hi").unwrap();
        body.push_bytes(&b"<"[..]);
        body.push_file(&small).unwrap();
        assert_eq!(body.shown(), b"<hi");
        // A pipe has no size: the body has none either.
        let mut piped = RequestBody::empty();
        piped.push_file(Path::new("/dev/null")).unwrap();
        assert_eq!(piped.len(), None);
    }
}
