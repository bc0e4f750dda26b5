//! [`Address`], [`IpNetwork`] and [`IpInterface`]: Python's `IPv4Address`/`IPv6Address`,
//! `IPv4Network`/`IPv6Network` and `IPv4Interface`/`IPv6Interface`, one type each for both
//! versions, converting to and from `std::net`.

use std::cmp::Ordering;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use super::error::CidrError;
use super::props;
use super::text::{self, Bad, Fam, Shown, Sink, StackBuf};

pub(crate) fn fam_of(ip: &IpAddr) -> Fam {
    match ip {
        IpAddr::V4(_) => Fam::V4,
        IpAddr::V6(_) => Fam::V6,
    }
}

pub(crate) fn bits_of(ip: &IpAddr) -> u128 {
    match ip {
        IpAddr::V4(a) => u128::from(u32::from(*a)),
        IpAddr::V6(a) => u128::from(*a),
    }
}

pub(crate) fn ip_of(fam: Fam, bits: u128) -> IpAddr {
    match fam {
        Fam::V4 => IpAddr::V4(Ipv4Addr::from(bits as u32)),
        Fam::V6 => IpAddr::V6(Ipv6Addr::from(bits)),
    }
}

fn lossy(s: &[u8]) -> String {
    String::from_utf8_lossy(s).into_owned()
}

pub(crate) fn address_error(s: &[u8], bad: Bad<'_>) -> CidrError {
    CidrError::InvalidAddress {
        input: lossy(s),
        reason: bad.to_string(),
    }
}

pub(crate) fn network_error(s: &[u8], bad: Bad<'_>) -> CidrError {
    CidrError::InvalidNetwork {
        input: lossy(s),
        reason: bad.to_string(),
    }
}

fn scope_box(scope: Option<&[u8]>) -> Option<Box<str>> {
    // The parser only accepts scopes cut from valid text at an ASCII '%', so they are UTF-8
    // whenever the input was; lossy decoding covers raw bytes from files.
    scope.map(|s| String::from_utf8_lossy(s).into())
}

/// An IPv4 or IPv6 address as Python's `ip_address()` returns it: a `std::net::IpAddr` plus,
/// for IPv6, an optional scope id (`fe80::1%eth0`).
///
/// `Display` is Python's `str()`; parsing follows Python's rules (no leading zeros in IPv4
/// octets, IPv4-suffixed IPv6, scope ids).
///
/// ```
/// use netkit::cidr::Address;
/// let a: Address = "0:0:0:0:0:ffff:102:304".parse()?;
/// assert_eq!(a.to_string(), "::ffff:1.2.3.4");
/// assert_eq!(a.ipv4_mapped(), Some("1.2.3.4".parse()?));
/// let s: Address = "fe80::1%eth0".parse()?;
/// assert_eq!(s.scope_id(), Some("eth0"));
/// assert!("01.2.3.4".parse::<Address>().is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Address {
    ip: IpAddr,
    scope_id: Option<Box<str>>,
}

impl Address {
    /// The address without scope id.
    pub fn new(ip: IpAddr) -> Self {
        Address { ip, scope_id: None }
    }

    /// An IPv6 address with a scope id; the scope must be non-empty and free of `%` and `/`.
    pub fn with_scope_id(ip: Ipv6Addr, scope_id: &str) -> Result<Self, CidrError> {
        if scope_id.is_empty() || scope_id.contains(['%', '/']) {
            let text = format!("{}%{scope_id}", Shown(Fam::V6, u128::from(ip)));
            return Err(address_error(text.as_bytes(), Bad::Scope));
        }
        Ok(Address {
            ip: IpAddr::V6(ip),
            scope_id: Some(scope_id.into()),
        })
    }

    /// Parses bytes as `ip_address()` does (lines from files need not be UTF-8 to be
    /// rejected politely).
    pub fn parse_bytes(s: &[u8]) -> Result<Self, CidrError> {
        let raw = text::parse_addr(s).map_err(|bad| address_error(s, bad))?;
        Ok(Address {
            ip: ip_of(raw.fam, raw.bits),
            scope_id: scope_box(raw.scope),
        })
    }

    /// The `std::net` address.
    pub fn ip(&self) -> IpAddr {
        self.ip
    }

    /// The IPv6 scope id (`eth0` in `fe80::1%eth0`).
    pub fn scope_id(&self) -> Option<&str> {
        self.scope_id.as_deref()
    }

    /// 4 or 6.
    pub fn version(&self) -> u8 {
        self.fam().version()
    }

    pub(crate) fn fam(&self) -> Fam {
        fam_of(&self.ip)
    }

    pub(crate) fn bits(&self) -> u128 {
        bits_of(&self.ip)
    }

    /// Python's `exploded`: IPv6 with all eight four-digit hextets; an IPv4-mapped address
    /// ends in dotted decimal (`0000:0000:0000:0000:0000:ffff:1.2.3.4`, as 3.13). The scope
    /// id is left out (Python raises `ValueError` for a scoped address here).
    pub fn exploded(&self) -> String {
        let mut v = Vec::with_capacity(45);
        match self.ipv4_mapped() {
            Some(v4) => {
                v.extend_from_slice(b"0000:0000:0000:0000:0000:ffff:");
                text::write_v4(&mut v, u32::from(v4));
            }
            None => text::write_exploded(&mut v, self.fam(), self.bits()),
        }
        String::from_utf8_lossy(&v).into_owned()
    }

    /// Not globally reachable per the IANA special-purpose registries (Python's table).
    pub fn is_private(&self) -> bool {
        props::addr_is_private(self.fam(), self.bits())
    }
    /// Globally reachable per the IANA registries; 100.64.0.0/10 is neither this nor private.
    pub fn is_global(&self) -> bool {
        props::addr_is_global(self.fam(), self.bits())
    }
    /// 224.0.0.0/4 or ff00::/8.
    pub fn is_multicast(&self) -> bool {
        props::addr_is_multicast(self.fam(), self.bits())
    }
    /// 127.0.0.0/8, ::1, or an IPv4-mapped loopback address.
    pub fn is_loopback(&self) -> bool {
        props::addr_is_loopback(self.fam(), self.bits())
    }
    /// 169.254.0.0/16 or fe80::/10.
    pub fn is_link_local(&self) -> bool {
        props::addr_is_link_local(self.fam(), self.bits())
    }
    /// 240.0.0.0/4, or one of the IETF-reserved IPv6 blocks.
    pub fn is_reserved(&self) -> bool {
        props::addr_is_reserved(self.fam(), self.bits())
    }
    /// 0.0.0.0 or ::.
    pub fn is_unspecified(&self) -> bool {
        props::addr_is_unspecified(self.fam(), self.bits())
    }
    /// fec0::/10 (deprecated site-local); always false for IPv4, which Python lacks.
    pub fn is_site_local(&self) -> bool {
        props::addr_is_site_local(self.fam(), self.bits())
    }
    /// The IPv4 address of an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`).
    pub fn ipv4_mapped(&self) -> Option<Ipv4Addr> {
        props::mapped(self.fam(), self.bits()).map(|v| Ipv4Addr::from(v as u32))
    }
    /// The IPv4 address embedded in a 6to4 address (2002::/16).
    pub fn sixtofour(&self) -> Option<Ipv4Addr> {
        let b = self.bits();
        (self.fam() == Fam::V6 && b >> 112 == 0x2002).then(|| Ipv4Addr::from((b >> 80) as u32))
    }
    /// The `(server, client)` IPv4 addresses of a Teredo address (2001::/32).
    pub fn teredo(&self) -> Option<(Ipv4Addr, Ipv4Addr)> {
        let b = self.bits();
        (self.fam() == Fam::V6 && b >> 96 == 0x2001_0000).then(|| {
            (
                Ipv4Addr::from((b >> 64) as u32),
                Ipv4Addr::from(!(b as u32)),
            )
        })
    }
}

impl From<IpAddr> for Address {
    fn from(ip: IpAddr) -> Self {
        Address::new(ip)
    }
}
impl From<Ipv4Addr> for Address {
    fn from(ip: Ipv4Addr) -> Self {
        Address::new(IpAddr::V4(ip))
    }
}
impl From<Ipv6Addr> for Address {
    fn from(ip: Ipv6Addr) -> Self {
        Address::new(IpAddr::V6(ip))
    }
}

impl FromStr for Address {
    type Err = CidrError;
    fn from_str(s: &str) -> Result<Self, CidrError> {
        Address::parse_bytes(s.as_bytes())
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&Shown(self.fam(), self.bits()), f)?;
        if let Some(s) = &self.scope_id {
            write!(f, "%{s}")?;
        }
        Ok(())
    }
}

impl PartialOrd for Address {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// IPv4 before IPv6 (Python's `get_mixed_type_key`), then by value, then by scope id.
impl Ord for Address {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.fam(), self.bits(), &self.scope_id).cmp(&(other.fam(), other.bits(), &other.scope_id))
    }
}

/// The number of addresses in a network. A v6 `/0` has 2^128 of them, one more than
/// `u128` holds, so this keeps the count minus one.
///
/// ```
/// use netkit::cidr::IpNetwork;
/// let all: IpNetwork = "::/0".parse()?;
/// assert_eq!(all.num_addresses().to_string(), "340282366920938463463374607431768211456");
/// assert_eq!(all.num_addresses().get(), None);
/// let n: IpNetwork = "10.0.0.0/8".parse()?;
/// assert_eq!(n.num_addresses().get(), Some(16_777_216));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AddressCount {
    minus_one: u128,
}

impl AddressCount {
    /// The count, unless it is 2^128.
    pub fn get(self) -> Option<u128> {
        self.minus_one.checked_add(1)
    }
    /// The count minus one (the hostmask as an integer); always representable.
    pub fn minus_one(self) -> u128 {
        self.minus_one
    }
}

impl fmt::Display for AddressCount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.get() {
            Some(n) => write!(f, "{n}"),
            None => f.write_str("340282366920938463463374607431768211456"),
        }
    }
}

/// An IPv4 or IPv6 network: Python's `ip_network()`.
///
/// Parsing is strict like `ip_network(text)`: host bits set is an error naming the network
/// it should have been; [`IpNetwork::parse_non_strict`] masks them off like
/// `ip_network(text, strict=False)`. IPv4 masks may be prefix lengths, netmasks or
/// hostmasks. A scope id on the network address (`fe80::%eth0/64`) is kept for display
/// only; computed networks (subnets, supernets, …) have none, as in Python.
///
/// ```
/// use netkit::cidr::IpNetwork;
/// let net: IpNetwork = "123.45.67.64/27".parse()?;
/// assert_eq!(net.num_addresses().get(), Some(32));
/// assert_eq!(net.nth_back(0).unwrap().to_string(), "123.45.67.95");
/// assert!(net.contains(&"123.45.67.73".parse()?));
/// let err = "123.45.67.73/27".parse::<IpNetwork>().unwrap_err();
/// assert_eq!(err.to_string(), "123.45.67.73/27 has host bits set; the network is 123.45.67.64/27");
/// assert_eq!(IpNetwork::parse_non_strict("10.1.2.3/255.0.0.0")?.to_string(), "10.0.0.0/8");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct IpNetwork {
    pub(crate) fam: Fam,
    pub(crate) bits: u128,
    pub(crate) prefix: u8,
    scope_id: Option<Box<str>>,
}

impl IpNetwork {
    pub(crate) fn from_raw(fam: Fam, bits: u128, prefix: u8) -> Self {
        IpNetwork {
            fam,
            bits,
            prefix,
            scope_id: None,
        }
    }

    /// The network `addr/prefix`; an error if `addr` has host bits set or the prefix is too
    /// long for the version.
    pub fn new(addr: IpAddr, prefix: u8) -> Result<Self, CidrError> {
        let net = Self::new_truncating(addr, prefix)?;
        if net.bits != bits_of(&addr) {
            return Err(host_bits_error(&Address::new(addr), prefix, &net));
        }
        Ok(net)
    }

    /// The network `addr/prefix` with host bits masked off (`strict=False`).
    pub fn new_truncating(addr: IpAddr, prefix: u8) -> Result<Self, CidrError> {
        let fam = fam_of(&addr);
        if prefix > fam.max_prefix() {
            return Err(CidrError::InvalidPrefixLen {
                prefix: u32::from(prefix),
                version: fam.version(),
                max: fam.max_prefix(),
            });
        }
        Ok(Self::from_raw(
            fam,
            bits_of(&addr) & fam.netmask(prefix),
            prefix,
        ))
    }

    /// Parses like `ip_network(text, strict)`, from bytes.
    pub fn parse_bytes(s: &[u8], strict: bool) -> Result<Self, CidrError> {
        let raw = text::parse_net(s).map_err(|bad| network_error(s, bad))?;
        let fam = raw.addr.fam;
        let masked = raw.addr.bits & fam.netmask(raw.prefix);
        if masked == raw.addr.bits {
            return Ok(IpNetwork {
                fam,
                bits: masked,
                prefix: raw.prefix,
                scope_id: scope_box(raw.addr.scope),
            });
        }
        let net = Self::from_raw(fam, masked, raw.prefix);
        if strict {
            let addr = Address {
                ip: ip_of(fam, raw.addr.bits),
                scope_id: scope_box(raw.addr.scope),
            };
            return Err(host_bits_error(&addr, raw.prefix, &net));
        }
        Ok(net)
    }

    /// Parses like `ip_network(text, strict=False)`: host bits are masked off.
    pub fn parse_non_strict(s: &str) -> Result<Self, CidrError> {
        Self::parse_bytes(s.as_bytes(), false)
    }

    /// 4 or 6.
    pub fn version(&self) -> u8 {
        self.fam.version()
    }
    /// The prefix length.
    pub fn prefix_len(&self) -> u8 {
        self.prefix
    }
    /// 32 or 128.
    pub fn max_prefix_len(&self) -> u8 {
        self.fam.max_prefix()
    }
    /// The first address (without scope id).
    pub fn network_address(&self) -> IpAddr {
        ip_of(self.fam, self.bits)
    }
    /// The first address with the scope id it was written with, as Python shows it.
    pub fn network_address_scoped(&self) -> Address {
        Address {
            ip: self.network_address(),
            scope_id: self.scope_id.clone(),
        }
    }
    /// The scope id of the network address, if the text had one.
    pub fn scope_id(&self) -> Option<&str> {
        self.scope_id.as_deref()
    }
    /// The last address.
    pub fn broadcast_address(&self) -> IpAddr {
        ip_of(self.fam, self.last_bits())
    }
    /// The netmask, e.g. 255.255.255.224 for a /27.
    pub fn netmask(&self) -> IpAddr {
        ip_of(self.fam, self.fam.netmask(self.prefix))
    }
    /// The hostmask, e.g. 0.0.0.31 for a /27.
    pub fn hostmask(&self) -> IpAddr {
        ip_of(self.fam, self.fam.hostmask(self.prefix))
    }
    /// How many addresses the network has.
    pub fn num_addresses(&self) -> AddressCount {
        AddressCount {
            minus_one: self.fam.hostmask(self.prefix),
        }
    }
    /// `network_address/netmask`.
    pub fn with_netmask(&self) -> String {
        format!(
            "{}/{}",
            self.network_address_scoped(),
            Shown(self.fam, self.fam.netmask(self.prefix))
        )
    }
    /// `network_address/hostmask`.
    pub fn with_hostmask(&self) -> String {
        format!(
            "{}/{}",
            self.network_address_scoped(),
            Shown(self.fam, self.fam.hostmask(self.prefix))
        )
    }
    /// Python's `exploded`; like Python (which raises), it leaves the scope id out.
    pub fn exploded(&self) -> String {
        let mut v = Vec::with_capacity(44);
        text::write_exploded(&mut v, self.fam, self.bits);
        format!("{}/{}", String::from_utf8_lossy(&v), self.prefix)
    }

    pub(crate) fn last_bits(&self) -> u128 {
        self.bits | self.fam.hostmask(self.prefix)
    }

    /// `addr in network`: false for the other IP version.
    pub fn contains(&self, addr: &IpAddr) -> bool {
        fam_of(addr) == self.fam && bits_of(addr) & self.fam.netmask(self.prefix) == self.bits
    }
    /// Every address of `other` is in `self` (false across versions).
    pub fn supernet_of(&self, other: &IpNetwork) -> bool {
        other.subnet_of(self)
    }
    /// Every address of `self` is in `other` (false across versions).
    pub fn subnet_of(&self, other: &IpNetwork) -> bool {
        self.fam == other.fam && other.bits <= self.bits && other.last_bits() >= self.last_bits()
    }
    /// The two networks share at least one address.
    pub fn overlaps(&self, other: &IpNetwork) -> bool {
        self.fam == other.fam && self.bits <= other.last_bits() && other.bits <= self.last_bits()
    }

    /// Not globally reachable: both ends inside one of Python's private blocks.
    pub fn is_private(&self) -> bool {
        props::net_is_private(self.fam, self.bits, self.last_bits())
    }
    /// Python's `is_global` of a network.
    pub fn is_global(&self) -> bool {
        props::net_is_global(self.fam, self.bits, self.last_bits())
    }
    /// Both ends are multicast.
    pub fn is_multicast(&self) -> bool {
        self.both(props::addr_is_multicast)
    }
    /// Both ends are loopback.
    pub fn is_loopback(&self) -> bool {
        self.both(props::addr_is_loopback)
    }
    /// Both ends are link-local.
    pub fn is_link_local(&self) -> bool {
        self.both(props::addr_is_link_local)
    }
    /// Both ends are reserved.
    pub fn is_reserved(&self) -> bool {
        self.both(props::addr_is_reserved)
    }
    /// The network is `0.0.0.0/32` or `::/128`.
    pub fn is_unspecified(&self) -> bool {
        self.both(props::addr_is_unspecified)
    }
    /// Both ends are IPv6 site-local (always false for IPv4).
    pub fn is_site_local(&self) -> bool {
        self.both(props::addr_is_site_local)
    }
    fn both(&self, p: fn(Fam, u128) -> bool) -> bool {
        p(self.fam, self.bits) && p(self.fam, self.last_bits())
    }
}

fn host_bits_error(addr: &Address, prefix: u8, net: &IpNetwork) -> CidrError {
    CidrError::HostBitsSet {
        input: format!("{addr}/{prefix}"),
        network: net.to_string(),
    }
}

impl From<IpAddr> for IpNetwork {
    /// The single-address network (`/32` or `/128`).
    fn from(ip: IpAddr) -> Self {
        let fam = fam_of(&ip);
        Self::from_raw(fam, bits_of(&ip), fam.max_prefix())
    }
}

impl From<Address> for IpNetwork {
    /// The single-address network, keeping the scope id.
    fn from(a: Address) -> Self {
        let mut n = IpNetwork::from(a.ip);
        n.scope_id = a.scope_id;
        n
    }
}

impl FromStr for IpNetwork {
    type Err = CidrError;
    /// Strict, like `ip_network(text)`.
    fn from_str(s: &str) -> Result<Self, CidrError> {
        Self::parse_bytes(s.as_bytes(), true)
    }
}

impl fmt::Display for IpNetwork {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.scope_id.is_none() {
            let mut b = StackBuf::new();
            write_net(&mut b, self.fam, self.bits, self.prefix);
            return f.pad(b.as_str());
        }
        write!(f, "{}/{}", self.network_address_scoped(), self.prefix)
    }
}

/// `str()` of a scope-less network into a byte sink.
#[inline]
pub(crate) fn write_net(out: &mut impl Sink, fam: Fam, bits: u128, prefix: u8) {
    text::write_addr(out, fam, bits);
    out.put(b'/');
    text::write_dec(out, prefix);
}

impl PartialOrd for IpNetwork {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// IPv4 before IPv6, then by network address, then shorter prefix (bigger netmask value
/// is later, as in Python), then scope id.
impl Ord for IpNetwork {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.fam, self.bits, self.prefix, &self.scope_id).cmp(&(
            other.fam,
            other.bits,
            other.prefix,
            &other.scope_id,
        ))
    }
}

/// An address on a network: Python's `ip_interface()` (`123.45.67.73/27`).
///
/// ```
/// use netkit::cidr::IpInterface;
/// let i: IpInterface = "123.45.67.73/27".parse()?;
/// assert_eq!(i.ip().to_string(), "123.45.67.73");
/// assert_eq!(i.network().to_string(), "123.45.67.64/27");
/// assert_eq!(i.to_string(), "123.45.67.73/27");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct IpInterface {
    address: Address,
    prefix: u8,
}

impl IpInterface {
    /// The interface `addr/prefix`; an error only if the prefix is too long.
    pub fn new(address: Address, prefix: u8) -> Result<Self, CidrError> {
        IpNetwork::new_truncating(address.ip, prefix)?;
        Ok(IpInterface { address, prefix })
    }
    /// Parses like `ip_interface(text)`, from bytes.
    pub fn parse_bytes(s: &[u8]) -> Result<Self, CidrError> {
        let raw = text::parse_net(s).map_err(|bad| network_error(s, bad))?;
        let address = Address {
            ip: ip_of(raw.addr.fam, raw.addr.bits),
            scope_id: scope_box(raw.addr.scope),
        };
        Ok(IpInterface {
            address,
            prefix: raw.prefix,
        })
    }
    /// The address, without scope id (Python's `.ip`).
    pub fn ip(&self) -> IpAddr {
        self.address.ip
    }
    /// The address with its scope id.
    pub fn address(&self) -> &Address {
        &self.address
    }
    /// The prefix length.
    pub fn prefix_len(&self) -> u8 {
        self.prefix
    }
    /// The network the address is on; it keeps the scope id only if the address is the
    /// network address, as in Python.
    pub fn network(&self) -> IpNetwork {
        let fam = self.address.fam();
        let bits = self.address.bits();
        let masked = bits & fam.netmask(self.prefix);
        let mut n = IpNetwork::from_raw(fam, masked, self.prefix);
        if masked == bits {
            n.scope_id = self.address.scope_id.clone();
        }
        n
    }
    /// 4 or 6.
    pub fn version(&self) -> u8 {
        self.address.version()
    }
    /// Python's `exploded` of an interface: `0000:…:0001/64`, `1.2.3.4/24`. Python 3.13
    /// drops the `/prefix` of an IPv4-mapped interface (its `exploded` ends in dotted
    /// decimal); netkit does the same, for parity.
    pub fn exploded(&self) -> String {
        let plain = Address::new(self.address.ip);
        if plain.ipv4_mapped().is_some() {
            return plain.exploded();
        }
        format!("{}/{}", plain.exploded(), self.prefix)
    }
    /// Python's `is_unspecified` of an interface: `::/128` only for IPv6, and never for
    /// IPv4 (Python compares the interface with `==` to the address 0.0.0.0, which an
    /// interface never equals; netkit keeps the answer for parity).
    pub fn is_unspecified(&self) -> bool {
        match self.address.fam() {
            Fam::V4 => false,
            Fam::V6 => self.address.is_unspecified() && self.network().is_unspecified(),
        }
    }
    /// Python's `IPv6Interface.is_loopback`: the address and its whole network are loopback.
    pub fn is_loopback(&self) -> bool {
        match self.address.fam() {
            Fam::V4 => self.address.is_loopback(),
            Fam::V6 => self.address.is_loopback() && self.network().is_loopback(),
        }
    }
}

impl FromStr for IpInterface {
    type Err = CidrError;
    fn from_str(s: &str) -> Result<Self, CidrError> {
        Self::parse_bytes(s.as_bytes())
    }
}

impl fmt::Display for IpInterface {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.address, self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odd_inputs_parse_like_python_or_fail_cleanly() {
        // Prefix digits may be zero-padded to any length (Python's int()).
        let n = IpNetwork::parse_bytes(b"10.0.0.0/000000000000000000000000000000000000008", true)
            .unwrap();
        assert_eq!(n.to_string(), "10.0.0.0/8");
        assert!(IpNetwork::parse_bytes(
            b"10.0.0.0/99999999999999999999999999999999999999999",
            true
        )
        .is_err());
        for bad in [
            &b""[..],
            b"/",
            b"1.2.3.4/",
            b"::%",
            b"::%%",
            b"::%a%b",
            b"::%a/1/2",
            b"1.2.3.4%x",
            b"\xff",
        ] {
            assert!(IpNetwork::parse_bytes(bad, false).is_err(), "{bad:?}");
        }
        // A scope id of raw bytes survives as text and round-trips.
        let a = Address::parse_bytes(b"fe80::1%\xffeth").unwrap();
        let again: Address = a.to_string().parse().unwrap();
        assert_eq!(again, a);
        // Python accepts anything but '%' (and '/') after the '%'.
        assert_eq!(
            Address::parse_bytes(b"::1%a:b.c d").unwrap().to_string(),
            "::1%a:b.c d"
        );
    }

    #[test]
    fn host_bits_error_uses_python_form() {
        let e = IpNetwork::parse_bytes(b"10.0.0.1/255.0.0.0", true).unwrap_err();
        assert_eq!(
            e,
            CidrError::HostBitsSet {
                input: "10.0.0.1/8".into(),
                network: "10.0.0.0/8".into()
            }
        );
        let e = IpNetwork::parse_bytes(b"fe80::1%eth0/64", true).unwrap_err();
        assert_eq!(
            e.to_string(),
            "fe80::1%eth0/64 has host bits set; the network is fe80::/64"
        );
        let kept = IpNetwork::parse_bytes(b"fe80::%eth0/64", true).unwrap();
        assert_eq!(kept.to_string(), "fe80::%eth0/64");
        assert_eq!(
            IpNetwork::parse_bytes(b"fe80::1%eth0/64", false)
                .unwrap()
                .to_string(),
            "fe80::/64"
        );
    }
}
