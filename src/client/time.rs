//! `netkit time`: asks a UDP time server for its `ctime` text, or for an SNTP answer with
//! the clock offset. Datagrams get lost, so each query is retried.

use super::ClientError;
use crate::proto::sntp::{self, Packet, Timestamp};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::UdpSocket;

/// How long to wait for each answer and how often to ask.
#[derive(Debug, Clone, Copy)]
pub struct Patience {
    pub timeout: Duration,
    pub attempts: u32,
}

impl Default for Patience {
    fn default() -> Self {
        Patience {
            timeout: Duration::from_secs(1),
            attempts: 3,
        }
    }
}

async fn socket_for(addr: &str) -> Result<(UdpSocket, SocketAddr), ClientError> {
    let connect_error = |source| ClientError::Connect {
        addr: addr.to_string(),
        source,
    };
    let target = tokio::net::lookup_host(addr)
        .await
        .map_err(connect_error)?
        .next()
        .ok_or_else(|| connect_error(std::io::ErrorKind::NotFound.into()))?;
    let local: SocketAddr = if target.is_ipv4() {
        "0.0.0.0:0".parse().expect("literal address")
    } else {
        "[::]:0".parse().expect("literal address")
    };
    let socket = UdpSocket::bind(local).await.map_err(connect_error)?;
    socket.connect(target).await.map_err(connect_error)?;
    Ok((socket, target))
}

/// Sends `request` and returns the first reply `accept` takes, retrying on silence.
async fn ask<T>(
    addr: &str,
    patience: Patience,
    mut request: impl FnMut() -> Vec<u8>,
    mut accept: impl FnMut(&[u8]) -> Option<T>,
) -> Result<T, ClientError> {
    let (socket, _) = socket_for(addr).await?;
    let mut reply = vec![0u8; 65_536];
    for _ in 0..patience.attempts.max(1) {
        socket.send(&request()).await?;
        let deadline = tokio::time::Instant::now() + patience.timeout;
        while let Ok(received) = tokio::time::timeout_at(deadline, socket.recv(&mut reply)).await {
            // A refused port shows up here as ConnectionRefused: no server there.
            let n = received.map_err(|source| ClientError::Connect {
                addr: addr.to_string(),
                source,
            })?;
            if let Some(answer) = accept(&reply[..n]) {
                return Ok(answer);
            }
        }
    }
    Err(ClientError::Timeout {
        addr: addr.to_string(),
        timeout: patience.timeout * patience.attempts.max(1),
    })
}

/// The server's `time.ctime()` text (recipe 3's exchange: any datagram, ASCII back).
pub async fn ctime(addr: &str, patience: Patience) -> Result<String, ClientError> {
    ask(addr, patience, Vec::new, |reply| {
        Some(String::from_utf8_lossy(reply).into_owned())
    })
    .await
}

/// An SNTP server's answer, judged against our clock.
#[derive(Debug, Clone, PartialEq)]
pub struct SntpAnswer {
    /// The server's clock when it sent the reply, seconds since the Unix epoch.
    pub server_time: f64,
    /// How far the server's clock is ahead of ours, in seconds.
    pub offset: f64,
    /// Round-trip network delay, in seconds.
    pub delay: f64,
    pub stratum: u8,
    pub reference_id: [u8; 4],
}

/// Asks `addr` for the time with SNTPv4 and computes the clock offset (RFC 4330 §5).
pub async fn sntp(addr: &str, patience: Patience) -> Result<SntpAnswer, ClientError> {
    // The request closure stamps each (re)try; the reply must echo the latest stamp.
    let sent = std::cell::Cell::new(Timestamp(0));
    let reply = ask(
        addr,
        patience,
        || {
            sent.set(Timestamp::now());
            Packet::client_request(sent.get()).encode().to_vec()
        },
        |reply| {
            let received = Timestamp::now();
            let packet = Packet::parse(reply).ok()?;
            // Only the answer to our latest request counts (it echoes our timestamp).
            (packet.mode == sntp::MODE_SERVER && packet.originate == sent.get())
                .then_some((packet, received))
        },
    )
    .await?;
    let (packet, received) = reply;
    if packet.stratum == 0 || packet.transmit.0 == 0 {
        return Err(ClientError::BadReply {
            addr: addr.to_string(),
            expected: "a usable SNTP answer (stratum 0 is a kiss-o'-death)",
        });
    }
    let (t1, t2, t3, t4) = (
        packet.originate.to_unix_seconds(),
        packet.receive.to_unix_seconds(),
        packet.transmit.to_unix_seconds(),
        received.to_unix_seconds(),
    );
    let (offset, delay) = sntp::offset_and_delay(t1, t2, t3, t4);
    Ok(SntpAnswer {
        server_time: t3,
        offset,
        delay,
        stratum: packet.stratum,
        reference_id: packet.reference_id,
    })
}
