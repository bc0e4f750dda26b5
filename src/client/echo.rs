//! `netkit echo`: copies its input to an echo server and the echo to its output, like
//! `nc`. Its input's end shuts the connection's write side; it ends when the server
//! closes.

use super::ClientStream;
use crate::auth::{answer_challenge, AuthError, HmacAuth};
use std::io;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Bytes each way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Transferred {
    pub sent: u64,
    pub received: u64,
}

/// Answers recipe 9's HMAC challenge if `auth` is set, then pipes `input` to the server
/// and the server's bytes to `output` until the server closes.
pub async fn pipe<I, O>(
    mut stream: ClientStream,
    auth: Option<&HmacAuth>,
    handshake_timeout: Duration,
    mut input: I,
    mut output: O,
) -> Result<Transferred, super::ClientError>
where
    I: AsyncRead + Unpin,
    O: AsyncWrite + Unpin,
{
    if let Some(auth) = auth {
        answer_challenge(&mut stream, auth, handshake_timeout).await?;
    }
    let (mut from_server, mut to_server) = tokio::io::split(stream);
    let send = async {
        let sent = tokio::io::copy(&mut input, &mut to_server).await?;
        to_server.shutdown().await?;
        Ok::<_, io::Error>(sent)
    };
    let receive = async {
        let mut received = 0u64;
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            let n = match from_server.read(&mut buffer).await {
                Ok(n) => n,
                // A TLS peer that closes without close_notify has still finished.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => 0,
                Err(e) => return Err(e),
            };
            if n == 0 {
                break;
            }
            output.write_all(&buffer[..n]).await?;
            output.flush().await?;
            received += n as u64;
        }
        Ok(received)
    };
    let outcome = tokio::try_join!(send, receive);
    let refused = |sent: u64| auth.is_some() && sent > 0;
    match outcome {
        Ok((sent, 0)) if refused(sent) => Err(AuthError::Refused.into()),
        Ok((sent, received)) => Ok(Transferred { sent, received }),
        Err(e) if auth.is_some() && e.kind() == io::ErrorKind::ConnectionReset => {
            Err(AuthError::Refused.into())
        }
        Err(e) => Err(e.into()),
    }
}
