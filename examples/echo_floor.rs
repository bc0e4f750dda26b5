//! The floor for echo benchmarks: the smallest reasonable tokio echo server (accept,
//! spawn, read, write back). bench/echo.sh measures netkit against it in the same run.
//!
//! Usage: echo_floor [ADDR]   (prints the bound address on stdout)

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".into());
    let listener = TcpListener::bind(addr).await?;
    println!("{}", listener.local_addr()?);
    loop {
        let (mut socket, _) = listener.accept().await?;
        socket.set_nodelay(true)?;
        tokio::spawn(async move {
            let mut buffer = vec![0u8; 32 * 1024];
            loop {
                let n = match socket.read(&mut buffer).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                if socket.write_all(&buffer[..n]).await.is_err() {
                    return;
                }
            }
        });
    }
}
