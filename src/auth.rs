//! Recipe 9's client authentication over any byte stream: the server sends 32 random
//! bytes, the client answers with their HMAC, raw, no framing. The MAC itself lives in
//! [`crate::proto::challenge`], shared with multiprocessing's authkey handshake.

use crate::proto::challenge::{self, Digest, RECIPE_CHALLENGE_LEN};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// A shared secret and the hash to MAC it with (recipe 9's `hmac.new(key, msg)` is MD5).
#[derive(Clone, PartialEq, Eq)]
pub struct HmacAuth {
    pub key: Vec<u8>,
    pub digest: Digest,
}

impl std::fmt::Debug for HmacAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the key.
        f.debug_struct("HmacAuth")
            .field("digest", &self.digest)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("the peer's answer to the HMAC challenge is wrong")]
    WrongAnswer,
    /// Client side: recipe 9 has no "accepted" reply, so a refused client only sees the
    /// server close before echoing anything.
    #[error(
        "the server closed the connection without an answer (wrong --hmac-key or --hmac-digest?)"
    )]
    Refused,
    #[error("no answer to the HMAC challenge within {0:?}")]
    Timeout(Duration),
    #[error("connection failed during authentication: {0}")]
    Io(#[from] std::io::Error),
}

/// Server side (`server_authenticate`): challenge the peer and check its answer in
/// constant time. The whole exchange must finish within `timeout`.
pub async fn challenge_client<S>(
    stream: &mut S,
    auth: &HmacAuth,
    timeout: Duration,
) -> Result<(), AuthError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let message = challenge::new_challenge(RECIPE_CHALLENGE_LEN);
    let mut answer = vec![0u8; auth.digest.output_len()];
    tokio::time::timeout(timeout, async {
        stream.write_all(&message).await?;
        stream.flush().await?;
        stream.read_exact(&mut answer).await?;
        Ok::<_, std::io::Error>(())
    })
    .await
    .map_err(|_| AuthError::Timeout(timeout))??;
    if challenge::verify(auth.digest, &auth.key, &message, &answer) {
        Ok(())
    } else {
        Err(AuthError::WrongAnswer)
    }
}

/// Client side (`client_authenticate`): read the 32-byte challenge and send its HMAC.
pub async fn answer_challenge<S>(
    stream: &mut S,
    auth: &HmacAuth,
    timeout: Duration,
) -> Result<(), AuthError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    tokio::time::timeout(timeout, async {
        let mut message = [0u8; RECIPE_CHALLENGE_LEN];
        stream.read_exact(&mut message).await?;
        stream
            .write_all(&challenge::respond(auth.digest, &auth.key, &message))
            .await?;
        stream.flush().await
    })
    .await
    .map_err(|_| AuthError::Timeout(timeout))??;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn both_sides_agree_and_a_wrong_key_fails() {
        for (client_key, ok) in [(&b"secret"[..], true), (&b"wrong"[..], false)] {
            let (mut server_end, mut client_end) = tokio::io::duplex(256);
            let server = HmacAuth {
                key: b"secret".to_vec(),
                digest: Digest::Md5,
            };
            let client = HmacAuth {
                key: client_key.to_vec(),
                digest: Digest::Md5,
            };
            let t = Duration::from_secs(5);
            let (s, c) = tokio::join!(
                challenge_client(&mut server_end, &server, t),
                answer_challenge(&mut client_end, &client, t)
            );
            c.unwrap();
            assert_eq!(s.is_ok(), ok, "{s:?}");
        }
    }
}
