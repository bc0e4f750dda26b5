//! Recipe 3's UDP time service: any datagram gets `time.ctime()` of the local time in
//! ASCII, except a 48-byte NTP client request, which gets an SNTPv4 server reply.

use super::Lifecycle;
use crate::metrics::ServiceMetrics;
use crate::proto::sntp;
use std::io;
use std::time::Instant;
use tokio::net::UdpSocket;

/// `time.ctime()` of now in the local time zone, e.g. `Sun Nov  1 09:05:03 2026`.
pub fn ctime_now() -> String {
    ctime(&jiff::Zoned::now())
}

/// `time.ctime()`'s layout: the day of the month padded with a space, not a zero.
pub fn ctime(t: &jiff::Zoned) -> String {
    t.strftime("%a %b %e %H:%M:%S %Y").to_string()
}

/// The answer to one datagram.
pub fn reply_to(datagram: &[u8], clock: sntp::ServerClock) -> Vec<u8> {
    if sntp::is_client_request(datagram) {
        let received = sntp::Timestamp::now();
        if let Ok(request) = sntp::Packet::parse(datagram) {
            let reply = sntp::server_reply(&request, clock, received, sntp::Timestamp::now());
            return reply.encode().to_vec();
        }
    }
    ctime_now().into_bytes()
}

/// Serves datagrams until shutdown. Nothing a peer sends can stop it: receive and send
/// errors (e.g. ICMP-reported unreachable peers) are logged and the loop goes on.
pub async fn run(
    socket: UdpSocket,
    clock: sntp::ServerClock,
    metrics: ServiceMetrics,
    lifecycle: Lifecycle,
) -> io::Result<()> {
    // The largest UDP payload; anything bigger cannot arrive.
    let mut datagram = vec![0u8; 65_536];
    loop {
        let (len, peer) = tokio::select! {
            _ = lifecycle.shutdown.cancelled() => return Ok(()),
            received = socket.recv_from(&mut datagram) => match received {
                Ok(pair) => pair,
                Err(error) => {
                    metrics.request_error();
                    tracing::debug!(%error, "time: receive failed");
                    continue;
                }
            },
        };
        let received = Instant::now();
        metrics.received(len);
        let reply = reply_to(&datagram[..len], clock);
        match socket.send_to(&reply, peer).await {
            Ok(sent) => metrics.sent(sent),
            Err(error) => {
                metrics.request_error();
                tracing::debug!(%peer, %error, "time: send failed");
            }
        }
        metrics.request(received.elapsed());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ctime_matches_python_layout() {
        let t: jiff::Zoned = "2026-11-01T09:05:03[UTC]".parse().unwrap();
        assert_eq!(ctime(&t), "Sun Nov  1 09:05:03 2026");
        let t: jiff::Zoned = "2026-11-24T11:46:21[UTC]".parse().unwrap();
        assert_eq!(ctime(&t), "Tue Nov 24 11:46:21 2026");
    }

    #[test]
    fn sntp_request_gets_a_server_reply() {
        let request = sntp::Packet::client_request(sntp::Timestamp(42)).encode();
        let reply = reply_to(&request, sntp::ServerClock::default());
        let reply = sntp::Packet::parse(&reply).unwrap();
        assert_eq!(reply.mode, sntp::MODE_SERVER);
        assert_eq!(reply.originate, sntp::Timestamp(42));
        assert_eq!(reply.stratum, 10);
    }

    #[test]
    fn anything_else_gets_ctime() {
        for datagram in [&b""[..], b"hello", &[0x24; 48], &[0x23; 49]] {
            let reply = reply_to(datagram, sntp::ServerClock::default());
            assert_eq!(reply.len(), 24, "{:?}", String::from_utf8_lossy(&reply));
        }
    }
}
