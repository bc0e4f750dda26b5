//! The `is_*` properties with Python 3.13's special-purpose tables.
//!
//! Python changed these answers twice recently (CVE-2024-4032, shipped in 3.13.0, 3.12.4
//! and 3.11.10 / 3.10.15 / 3.9.20 / 3.8.20; IPv4-mapped `is_loopback` in 3.13). netkit
//! follows the current tables; see the module documentation of [`crate::cidr`] for the
//! exact differences from Python 3.11.7 and earlier.

use super::text::Fam;

/// `(network, prefix)` pairs of a table, as integers.
type Table = &'static [(u128, u8)];

const fn v4(a: u8, b: u8, c: u8, d: u8) -> u128 {
    ((a as u128) << 24) | ((b as u128) << 16) | ((c as u128) << 8) | d as u128
}

const fn v6(h: [u16; 8]) -> u128 {
    let mut out = 0u128;
    let mut i = 0;
    while i < 8 {
        out = (out << 16) | h[i] as u128;
        i += 1;
    }
    out
}

/// `_IPv4Constants._private_networks`.
const V4_PRIVATE: Table = &[
    (v4(0, 0, 0, 0), 8),
    (v4(10, 0, 0, 0), 8),
    (v4(127, 0, 0, 0), 8),
    (v4(169, 254, 0, 0), 16),
    (v4(172, 16, 0, 0), 12),
    (v4(192, 0, 0, 0), 24),
    (v4(192, 0, 0, 170), 31),
    (v4(192, 0, 2, 0), 24),
    (v4(192, 168, 0, 0), 16),
    (v4(198, 18, 0, 0), 15),
    (v4(198, 51, 100, 0), 24),
    (v4(203, 0, 113, 0), 24),
    (v4(240, 0, 0, 0), 4),
    (v4(255, 255, 255, 255), 32),
];
/// `_IPv4Constants._private_networks_exceptions`.
const V4_PRIVATE_EXCEPTIONS: Table = &[(v4(192, 0, 0, 9), 32), (v4(192, 0, 0, 10), 32)];
const V4_SHARED: (u128, u8) = (v4(100, 64, 0, 0), 10);
const V4_LOOPBACK: (u128, u8) = (v4(127, 0, 0, 0), 8);
const V4_LINK_LOCAL: (u128, u8) = (v4(169, 254, 0, 0), 16);
const V4_MULTICAST: (u128, u8) = (v4(224, 0, 0, 0), 4);
const V4_RESERVED: (u128, u8) = (v4(240, 0, 0, 0), 4);

/// `_IPv6Constants._private_networks`.
const V6_PRIVATE: Table = &[
    (1, 128),
    (0, 128),
    (v6([0, 0, 0, 0, 0, 0xffff, 0, 0]), 96),
    (v6([0x64, 0xff9b, 1, 0, 0, 0, 0, 0]), 48),
    (v6([0x100, 0, 0, 0, 0, 0, 0, 0]), 64),
    (v6([0x2001, 0, 0, 0, 0, 0, 0, 0]), 23),
    (v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0]), 32),
    (v6([0x2002, 0, 0, 0, 0, 0, 0, 0]), 16),
    (v6([0xfc00, 0, 0, 0, 0, 0, 0, 0]), 7),
    (v6([0xfe80, 0, 0, 0, 0, 0, 0, 0]), 10),
];
/// `_IPv6Constants._private_networks_exceptions`.
const V6_PRIVATE_EXCEPTIONS: Table = &[
    (v6([0x2001, 1, 0, 0, 0, 0, 0, 1]), 128),
    (v6([0x2001, 1, 0, 0, 0, 0, 0, 2]), 128),
    (v6([0x2001, 3, 0, 0, 0, 0, 0, 0]), 32),
    (v6([0x2001, 4, 0x112, 0, 0, 0, 0, 0]), 48),
    (v6([0x2001, 0x20, 0, 0, 0, 0, 0, 0]), 28),
    (v6([0x2001, 0x30, 0, 0, 0, 0, 0, 0]), 28),
];
/// `_IPv6Constants._reserved_networks`.
const V6_RESERVED: Table = &[
    (0, 8),
    (v6([0x100, 0, 0, 0, 0, 0, 0, 0]), 8),
    (v6([0x200, 0, 0, 0, 0, 0, 0, 0]), 7),
    (v6([0x400, 0, 0, 0, 0, 0, 0, 0]), 6),
    (v6([0x800, 0, 0, 0, 0, 0, 0, 0]), 5),
    (v6([0x1000, 0, 0, 0, 0, 0, 0, 0]), 4),
    (v6([0x4000, 0, 0, 0, 0, 0, 0, 0]), 3),
    (v6([0x6000, 0, 0, 0, 0, 0, 0, 0]), 3),
    (v6([0x8000, 0, 0, 0, 0, 0, 0, 0]), 3),
    (v6([0xa000, 0, 0, 0, 0, 0, 0, 0]), 3),
    (v6([0xc000, 0, 0, 0, 0, 0, 0, 0]), 3),
    (v6([0xe000, 0, 0, 0, 0, 0, 0, 0]), 4),
    (v6([0xf000, 0, 0, 0, 0, 0, 0, 0]), 5),
    (v6([0xf800, 0, 0, 0, 0, 0, 0, 0]), 6),
    (v6([0xfe00, 0, 0, 0, 0, 0, 0, 0]), 9),
];
const V6_LINK_LOCAL: (u128, u8) = (v6([0xfe80, 0, 0, 0, 0, 0, 0, 0]), 10);
const V6_SITE_LOCAL: (u128, u8) = (v6([0xfec0, 0, 0, 0, 0, 0, 0, 0]), 10);
const V6_MULTICAST: (u128, u8) = (v6([0xff00, 0, 0, 0, 0, 0, 0, 0]), 8);

fn inside(fam: Fam, bits: u128, (net, prefix): (u128, u8)) -> bool {
    bits & fam.netmask(prefix) == net
}

fn in_table(fam: Fam, bits: u128, table: Table) -> bool {
    table.iter().any(|&n| inside(fam, bits, n))
}

fn private_table(fam: Fam) -> (Table, Table) {
    match fam {
        Fam::V4 => (V4_PRIVATE, V4_PRIVATE_EXCEPTIONS),
        Fam::V6 => (V6_PRIVATE, V6_PRIVATE_EXCEPTIONS),
    }
}

/// `IPv6Address.ipv4_mapped` as an integer.
pub(crate) fn mapped(fam: Fam, bits: u128) -> Option<u128> {
    (fam == Fam::V6 && bits >> 32 == 0xffff).then_some(bits & 0xffff_ffff)
}

pub(crate) fn addr_is_private(fam: Fam, bits: u128) -> bool {
    if let Some(v4) = mapped(fam, bits) {
        return addr_is_private(Fam::V4, v4);
    }
    let (table, exceptions) = private_table(fam);
    in_table(fam, bits, table) && !in_table(fam, bits, exceptions)
}

pub(crate) fn addr_is_global(fam: Fam, bits: u128) -> bool {
    match fam {
        Fam::V4 => !inside(fam, bits, V4_SHARED) && !addr_is_private(fam, bits),
        // Python 3.13 `IPv6Address.is_global` is `not is_private`, even for IPv4-mapped
        // addresses of 100.64.0.0/10 (its docstring says otherwise; the code wins).
        Fam::V6 => !addr_is_private(fam, bits),
    }
}

pub(crate) fn addr_is_multicast(fam: Fam, bits: u128) -> bool {
    match fam {
        Fam::V4 => inside(fam, bits, V4_MULTICAST),
        Fam::V6 => inside(fam, bits, V6_MULTICAST),
    }
}

pub(crate) fn addr_is_reserved(fam: Fam, bits: u128) -> bool {
    match fam {
        Fam::V4 => inside(fam, bits, V4_RESERVED),
        Fam::V6 => in_table(fam, bits, V6_RESERVED),
    }
}

pub(crate) fn addr_is_link_local(fam: Fam, bits: u128) -> bool {
    match fam {
        Fam::V4 => inside(fam, bits, V4_LINK_LOCAL),
        Fam::V6 => inside(fam, bits, V6_LINK_LOCAL),
    }
}

pub(crate) fn addr_is_site_local(fam: Fam, bits: u128) -> bool {
    fam == Fam::V6 && inside(fam, bits, V6_SITE_LOCAL)
}

pub(crate) fn addr_is_unspecified(_fam: Fam, bits: u128) -> bool {
    bits == 0
}

pub(crate) fn addr_is_loopback(fam: Fam, bits: u128) -> bool {
    match fam {
        Fam::V4 => inside(fam, bits, V4_LOOPBACK),
        Fam::V6 => match mapped(fam, bits) {
            Some(v4) => inside(Fam::V4, v4, V4_LOOPBACK),
            None => bits == 1,
        },
    }
}

/// `_BaseNetwork.is_private`: both ends inside one private block and neither end inside
/// an exception. Plain containment: no IPv4-mapped forwarding for networks.
pub(crate) fn net_is_private(fam: Fam, first: u128, last: u128) -> bool {
    let (table, exceptions) = private_table(fam);
    table
        .iter()
        .any(|&n| inside(fam, first, n) && inside(fam, last, n))
        && exceptions
            .iter()
            .all(|&n| !inside(fam, first, n) && !inside(fam, last, n))
}

/// `IPv4Network.is_global` / `_BaseNetwork.is_global`.
pub(crate) fn net_is_global(fam: Fam, first: u128, last: u128) -> bool {
    let shared = fam == Fam::V4 && inside(fam, first, V4_SHARED) && inside(fam, last, V4_SHARED);
    !shared && !net_is_private(fam, first, last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_normalized() {
        // A table entry with host bits would never match anything.
        for (fam, t) in [
            (Fam::V4, V4_PRIVATE),
            (Fam::V4, V4_PRIVATE_EXCEPTIONS),
            (Fam::V6, V6_PRIVATE),
            (Fam::V6, V6_PRIVATE_EXCEPTIONS),
            (Fam::V6, V6_RESERVED),
        ] {
            for &(net, p) in t {
                assert_eq!(net & fam.hostmask(p), 0, "{net:x}/{p}");
            }
        }
    }

    #[test]
    fn spot_checks() {
        assert!(addr_is_private(Fam::V4, v4(10, 1, 2, 3)));
        assert!(!addr_is_private(Fam::V4, v4(192, 0, 0, 9)));
        assert!(!addr_is_global(Fam::V4, v4(100, 64, 0, 1)));
        assert!(!addr_is_private(Fam::V4, v4(100, 64, 0, 1)));
        assert!(addr_is_loopback(
            Fam::V6,
            v6([0, 0, 0, 0, 0, 0xffff, 0x7f00, 1])
        ));
        assert!(addr_is_global(
            Fam::V6,
            v6([0x2001, 0x20, 0, 0, 0, 0, 0, 1])
        ));
    }
}
