//! SNTP packets on arbitrary bytes: parsing never panics, a parsed header re-encodes to
//! the same 48 bytes, and the time service answers every datagram with 24 bytes of ctime
//! or a 48-byte SNTP reply.

#![no_main]

use libfuzzer_sys::fuzz_target;
use netkit::proto::sntp;
use netkit::service::time::reply_to;

fuzz_target!(|data: &[u8]| {
    if let Ok(packet) = sntp::Packet::parse(data) {
        assert_eq!(&packet.encode()[..], &data[..sntp::PACKET_LEN]);
    }
    let reply = reply_to(data, sntp::ServerClock::default());
    if sntp::is_client_request(data) {
        assert_eq!(reply.len(), sntp::PACKET_LEN);
        let reply = sntp::Packet::parse(&reply).unwrap();
        assert_eq!(reply.mode, sntp::MODE_SERVER);
        assert_eq!(&reply.originate.0.to_be_bytes()[..], &data[40..48]);
    } else {
        assert_eq!(reply.len(), 24);
    }
});
