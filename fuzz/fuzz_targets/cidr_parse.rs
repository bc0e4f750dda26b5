//! The cidr parsers on arbitrary bytes: never panic, and whatever parses prints as text
//! that parses back to the same value and prints identically.

#![no_main]

use libfuzzer_sys::fuzz_target;
use netkit::cidr::{Address, IpInterface, IpNetwork};

fuzz_target!(|data: &[u8]| {
    if let Ok(a) = Address::parse_bytes(data) {
        let text = a.to_string();
        let again = Address::parse_bytes(text.as_bytes()).expect("an address's text parses");
        assert_eq!(again, a);
        assert_eq!(again.to_string(), text);
        let _ = a.exploded();
    }
    for strict in [true, false] {
        if let Ok(n) = IpNetwork::parse_bytes(data, strict) {
            let text = n.to_string();
            let again = IpNetwork::parse_bytes(text.as_bytes(), true).expect("a network's text parses strictly");
            assert_eq!(again, n);
            assert_eq!(again.to_string(), text);
            assert!(n.contains(&n.network_address()) && n.contains(&n.broadcast_address()));
            let _ = (n.with_netmask(), n.with_hostmask(), n.exploded(), n.is_private(), n.hosts().next());
        }
    }
    if let Ok(i) = IpInterface::parse_bytes(data) {
        let text = i.to_string();
        let again = IpInterface::parse_bytes(text.as_bytes()).expect("an interface's text parses");
        assert_eq!(again, i);
        assert_eq!(again.to_string(), text);
        assert!(i.network().contains(&i.ip()));
        let _ = i.exploded();
    }
});
