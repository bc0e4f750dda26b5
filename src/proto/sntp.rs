//! SNTPv4 (RFC 4330) packets: the 48-byte NTP header, enough for a server to answer
//! `ntpdate -q`/`sntp`-style clients and for `netkit time --sntp` to ask.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Bytes in an NTP header without extensions or MAC.
pub const PACKET_LEN: usize = 48;
/// Seconds from 1900-01-01 (NTP era 0) to 1970-01-01.
const NTP_UNIX_OFFSET: u64 = 2_208_988_800;

pub const MODE_CLIENT: u8 = 3;
pub const MODE_SERVER: u8 = 4;

/// An NTP timestamp: 32 bits of seconds since 1900, 32 bits of fraction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Timestamp(pub u64);

impl Timestamp {
    pub fn now() -> Self {
        Self::from_system_time(SystemTime::now())
    }

    pub fn from_system_time(t: SystemTime) -> Self {
        let since_unix = t.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
        // Era wrap-around (2036) is taken care of by truncating to 32 bits of seconds.
        let seconds = (since_unix.as_secs() + NTP_UNIX_OFFSET) & 0xffff_ffff;
        let fraction = (u64::from(since_unix.subsec_nanos()) << 32) / 1_000_000_000;
        Timestamp((seconds << 32) | fraction)
    }

    /// Seconds since the Unix epoch, picking the NTP era that puts the time nearest to
    /// 1968–2104 (era 0 before 2036-02-07, era 1 after).
    pub fn to_unix_seconds(self) -> f64 {
        let seconds = self.0 >> 32;
        let fraction = (self.0 & 0xffff_ffff) as f64 / 4_294_967_296.0;
        let era_seconds = if seconds & 0x8000_0000 == 0 {
            seconds + (1 << 32)
        } else {
            seconds
        };
        era_seconds as f64 - NTP_UNIX_OFFSET as f64 + fraction
    }
}

/// One NTP header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    pub leap: u8,
    pub version: u8,
    pub mode: u8,
    pub stratum: u8,
    pub poll: i8,
    pub precision: i8,
    pub root_delay: u32,
    pub root_dispersion: u32,
    pub reference_id: [u8; 4],
    pub reference: Timestamp,
    pub originate: Timestamp,
    pub receive: Timestamp,
    pub transmit: Timestamp,
}

/// The datagram is not an NTP header.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("an NTP packet is at least {PACKET_LEN} bytes, got {0}")]
pub struct TooShort(pub usize);

fn be_u32(bytes: &[u8; PACKET_LEN], at: usize) -> u32 {
    u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

fn be_u64(bytes: &[u8; PACKET_LEN], at: usize) -> u64 {
    (u64::from(be_u32(bytes, at)) << 32) | u64::from(be_u32(bytes, at + 4))
}

impl Packet {
    /// Parses the first 48 bytes of `datagram` (extension fields and MACs are ignored).
    pub fn parse(datagram: &[u8]) -> Result<Self, TooShort> {
        let header: &[u8; PACKET_LEN] = datagram
            .get(..PACKET_LEN)
            .and_then(|h| h.try_into().ok())
            .ok_or(TooShort(datagram.len()))?;
        Ok(Packet {
            leap: header[0] >> 6,
            version: (header[0] >> 3) & 0b111,
            mode: header[0] & 0b111,
            stratum: header[1],
            poll: header[2] as i8,
            precision: header[3] as i8,
            root_delay: be_u32(header, 4),
            root_dispersion: be_u32(header, 8),
            reference_id: [header[12], header[13], header[14], header[15]],
            reference: Timestamp(be_u64(header, 16)),
            originate: Timestamp(be_u64(header, 24)),
            receive: Timestamp(be_u64(header, 32)),
            transmit: Timestamp(be_u64(header, 40)),
        })
    }

    pub fn encode(&self) -> [u8; PACKET_LEN] {
        let mut out = [0u8; PACKET_LEN];
        out[0] = (self.leap << 6) | ((self.version & 0b111) << 3) | (self.mode & 0b111);
        out[1] = self.stratum;
        out[2] = self.poll as u8;
        out[3] = self.precision as u8;
        out[4..8].copy_from_slice(&self.root_delay.to_be_bytes());
        out[8..12].copy_from_slice(&self.root_dispersion.to_be_bytes());
        out[12..16].copy_from_slice(&self.reference_id);
        out[16..24].copy_from_slice(&self.reference.0.to_be_bytes());
        out[24..32].copy_from_slice(&self.originate.0.to_be_bytes());
        out[32..40].copy_from_slice(&self.receive.0.to_be_bytes());
        out[40..48].copy_from_slice(&self.transmit.0.to_be_bytes());
        out
    }

    /// The request an SNTP client sends: version 4, mode 3, its clock in `transmit`.
    pub fn client_request(transmit: Timestamp) -> Self {
        Packet {
            leap: 0,
            version: 4,
            mode: MODE_CLIENT,
            stratum: 0,
            poll: 0,
            precision: 0,
            root_delay: 0,
            root_dispersion: 0,
            reference_id: [0; 4],
            reference: Timestamp(0),
            originate: Timestamp(0),
            receive: Timestamp(0),
            transmit,
        }
    }
}

/// Whether a datagram is an NTP client request that deserves an SNTP answer rather than
/// the recipe's ctime text: exactly 48 bytes, mode 3.
pub fn is_client_request(datagram: &[u8]) -> bool {
    datagram.len() == PACKET_LEN && datagram[0] & 0b111 == MODE_CLIENT
}

/// How the server describes its own clock in replies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerClock {
    /// 10 with reference id `LOCL` is the convention (ntpd, chrony) for a server that
    /// serves its system clock without claiming an upstream source.
    pub stratum: u8,
    pub reference_id: [u8; 4],
}

impl Default for ServerClock {
    fn default() -> Self {
        ServerClock {
            stratum: 10,
            reference_id: *b"LOCL",
        }
    }
}

/// The RFC 4330 §5 server reply to `request`, received at `received`, sent at `transmit`.
pub fn server_reply(
    request: &Packet,
    clock: ServerClock,
    received: Timestamp,
    transmit: Timestamp,
) -> Packet {
    Packet {
        leap: 0,
        // "copied from the request" when the client speaks a version we know
        version: if (1..=4).contains(&request.version) {
            request.version
        } else {
            4
        },
        mode: MODE_SERVER,
        stratum: clock.stratum,
        poll: request.poll,
        precision: -20, // about a microsecond: what SystemTime gives us
        root_delay: 0,
        root_dispersion: 1 << 10, // 1/64 s, in 16.16 fixed point
        reference_id: clock.reference_id,
        reference: received,
        originate: request.transmit,
        receive: received,
        transmit,
    }
}

/// Clock offset and round-trip delay in seconds (RFC 4330 §5) from the client's send
/// time `t1`, the server's receive `t2` and transmit `t3`, and the client's receive `t4`.
pub fn offset_and_delay(t1: f64, t2: f64, t3: f64, t4: f64) -> (f64, f64) {
    (((t2 - t1) + (t3 - t4)) / 2.0, (t4 - t1) - (t3 - t2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamp_of_a_known_instant() {
        // 2026-11-24 11:46:21.5 UTC = Unix 1795607181.5
        let t = UNIX_EPOCH + Duration::from_millis(1_795_607_181_500);
        let ts = Timestamp::from_system_time(t);
        assert_eq!(ts.0 >> 32, 4_004_595_981);
        assert_eq!(ts.0 & 0xffff_ffff, 0x8000_0000);
        assert_eq!(ts.to_unix_seconds(), 1_795_607_181.5);
    }

    #[test]
    fn era_zero_timestamps_read_back() {
        let t = UNIX_EPOCH + Duration::from_secs(1_000_000_000); // 2001
        assert_eq!(Timestamp::from_system_time(t).to_unix_seconds(), 1e9);
    }

    #[test]
    fn reply_bytes_are_exact() {
        let mut request = Packet::client_request(Timestamp(0x0102_0304_0506_0708));
        request.version = 3;
        request.poll = 6;
        let bytes = request.encode();
        assert_eq!(bytes[0], 0b00_011_011);
        assert!(is_client_request(&bytes));
        assert_eq!(Packet::parse(&bytes).unwrap(), request);

        let reply = server_reply(
            &request,
            ServerClock::default(),
            Timestamp(0xaaaa_aaaa_0000_0001),
            Timestamp(0xaaaa_aaaa_0000_0002),
        );
        let wire = reply.encode();
        assert_eq!(
            wire[..16],
            [0x1c, 10, 6, 0xec, 0, 0, 0, 0, 0, 0, 4, 0, b'L', b'O', b'C', b'L']
        );
        assert_eq!(wire[24..32], [1, 2, 3, 4, 5, 6, 7, 8]); // originate = client's transmit
        assert_eq!(wire[32..40], [0xaa, 0xaa, 0xaa, 0xaa, 0, 0, 0, 1]);
        assert_eq!(wire[40..48], [0xaa, 0xaa, 0xaa, 0xaa, 0, 0, 0, 2]);
    }

    #[test]
    fn only_48_byte_mode_3_is_a_request() {
        let mut b = [0u8; 48];
        b[0] = 0x23;
        assert!(is_client_request(&b));
        b[0] = 0x24; // mode 4
        assert!(!is_client_request(&b));
        assert!(!is_client_request(&[0x23; 47]));
        assert!(!is_client_request(&[0x23; 49]));
        assert_eq!(Packet::parse(&[0u8; 47]), Err(TooShort(47)));
    }

    #[test]
    fn offset_math() {
        let (offset, delay) = offset_and_delay(10.0, 15.0, 15.5, 11.0);
        assert_eq!(offset, 4.75);
        assert_eq!(delay, 0.5);
    }
}
