//! CIDR networks, interfaces and address sets with Python `ipaddress` parity (recipe 4).
//!
//! One API for IPv4 and IPv6 on `std::net` types:
//!
//! | Python | netkit |
//! |---|---|
//! | `ip_address(s)` | [`Address`] (`s.parse()`), an `IpAddr` plus an optional scope id |
//! | `ip_network(s)` / `ip_network(s, strict=False)` | [`IpNetwork`] (`s.parse()`) / [`IpNetwork::parse_non_strict`] |
//! | `ip_interface(s)` | [`IpInterface`] |
//! | `list(net)`, `net.hosts()`, `net[i]` | [`IpNetwork::iter`], [`IpNetwork::hosts`], [`IpNetwork::get`] |
//! | `net.subnets()`, `net.supernet()` | [`IpNetwork::subnets`], [`IpNetwork::supernet`] |
//! | `net.address_exclude(other)` | [`IpNetwork::address_exclude`] |
//! | `collapse_addresses(nets)` | [`collapse_addresses`] (O(n log n)) |
//! | `summarize_address_range(a, b)` | [`summarize_address_range`] |
//!
//! `Display` of every type is Python's `str()`: IPv6 zero compression (the longest run of
//! two or more zero groups, the leftmost on a tie), IPv4-mapped addresses as
//! `::ffff:1.2.3.4`, scope ids as `fe80::1%eth0`.
//!
//! ```
//! use netkit::cidr::{IpInterface, IpNetwork};
//! let net: IpNetwork = "123.45.67.64/27".parse()?;
//! assert_eq!(net.iter().count(), 32);
//! assert_eq!(net.get(-1)?.to_string(), "123.45.67.95");
//! let iface: IpInterface = "123.45.67.73/27".parse()?;
//! assert_eq!(iface.network(), net);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Which Python
//!
//! The answers are those of CPython 3.13 (checked against 3.13.0 by `tests/cidr_python.rs`).
//! Older Pythons differ in three places:
//!
//! - `str()` of IPv4-mapped IPv6 addresses: 3.12 and older print `::ffff:102:304`
//!   where 3.13 prints `::ffff:1.2.3.4`.
//! - `is_private` / `is_global` (CVE-2024-4032, fixed in 3.13.0, 3.12.4, 3.11.10, 3.10.15,
//!   3.9.20, 3.8.20): the older tables treat all of 192.0.0.0/29 but not the rest of
//!   192.0.0.0/24 as private, have no exceptions for 192.0.0.9, 192.0.0.10 and the globally
//!   reachable parts of 2001::/23 (2001:1::1, 2001:1::2, 2001:3::/32, 2001:4:112::/48,
//!   2001:20::/28, 2001:30::/28), list 2001:2::/48 and 2001:10::/28 instead, and lack
//!   64:ff9b:1::/48 and 2002::/16; networks ignore the exceptions.
//! - `is_loopback` of IPv4-mapped addresses (`::ffff:127.0.0.1` is loopback since 3.13),
//!   and `IPv6Interface.is_loopback` (3.13: the address and its whole network).
//!
//! Scope ids are kept for display, as Python keeps them on the object; networks computed
//! from others (subnets, supernets, collapse, …) carry none, and comparisons inside the
//! operations use the address value only.

mod collapse;
mod error;
mod net;
mod ops;
mod props;
mod text;

pub mod cli;

pub use collapse::collapse_addresses;
pub use error::CidrError;
pub use net::{Address, AddressCount, IpInterface, IpNetwork};
pub use ops::{summarize_address_range, Addrs, Exclude, Subnets, Summarize};
