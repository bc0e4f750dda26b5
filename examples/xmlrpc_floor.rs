//! The floor for XML-RPC benchmarks: the smallest tokio server that answers a POST with
//! the bytes netkit answers `get("bench")` with (status line, the same three headers,
//! the same document), without parsing XML, looking anything up or encoding: what the
//! machine's TCP and tokio cost per call. bench/xmlrpc_rounds.sh measures netkit and the
//! recipe against it in the same run.
//!
//! Usage: xmlrpc_floor [ADDR]   (prints the bound address on stdout)

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// netkit's answer to `get("bench")` when the key holds 16 `v`s, byte for byte.
const BODY: &str = "<?xml version='1.0'?>\n<methodResponse>\n<params>\n<param>\n<value><string>vvvvvvvvvvvvvvvv</string></value>\n</param>\n</params>\n</methodResponse>\n";

/// Where a complete request ends in `buf` (head plus Content-Length bytes), if it does.
fn request_end(buf: &[u8]) -> Option<usize> {
    let head = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let length = std::str::from_utf8(&buf[..head])
        .ok()?
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    (buf.len() >= head + length).then_some(head + length)
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".into());
    let listener = TcpListener::bind(addr).await?;
    println!("{}", listener.local_addr()?);
    let date = httpdate::fmt_http_date(std::time::SystemTime::now());
    let answer = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: text/xml\r\ncontent-length: {}\r\ndate: {date}\r\n\r\n{BODY}",
        BODY.len()
    );
    let answer: &'static [u8] = Box::leak(answer.into_bytes().into_boxed_slice());
    loop {
        let (mut socket, _) = listener.accept().await?;
        socket.set_nodelay(true)?;
        tokio::spawn(async move {
            let mut buf = Vec::with_capacity(8192);
            let mut chunk = [0u8; 8192];
            loop {
                let n = match socket.read(&mut chunk).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                buf.extend_from_slice(&chunk[..n]);
                if buf.len() > 1 << 20 {
                    return;
                }
                while let Some(end) = request_end(&buf) {
                    buf.drain(..end);
                    if socket.write_all(answer).await.is_err() {
                        return;
                    }
                }
            }
        });
    }
}
