//! Iteration, indexing, subnets, supernet, exclusion and range summarization. Every
//! iterator is lazy: listing a v6 /64 costs nothing until it is consumed.

use std::iter::FusedIterator;
use std::net::IpAddr;

use super::error::CidrError;
use super::net::{bits_of, fam_of, ip_of, Address, IpNetwork};
use super::text::Fam;

/// The addresses of a range, in order; both ends included. Double-ended.
#[derive(Clone, Debug)]
pub struct Addrs {
    fam: Fam,
    next: u128,
    last: u128,
    done: bool,
}

impl Addrs {
    pub(crate) fn new(fam: Fam, first: u128, last: u128) -> Self {
        Addrs {
            fam,
            next: first,
            last,
            done: first > last,
        }
    }
    /// The next address as its integer value (what the CLI formats without `IpAddr`).
    #[inline]
    pub(crate) fn next_bits(&mut self) -> Option<u128> {
        if self.done {
            return None;
        }
        let v = self.next;
        if v == self.last {
            self.done = true;
        } else {
            self.next += 1;
        }
        Some(v)
    }
    pub(crate) fn fam(&self) -> Fam {
        self.fam
    }
}

impl Iterator for Addrs {
    type Item = IpAddr;
    #[inline]
    fn next(&mut self) -> Option<IpAddr> {
        self.next_bits().map(|b| ip_of(self.fam, b))
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        if self.done {
            return (0, Some(0));
        }
        match (self.last - self.next).checked_add(1).map(usize::try_from) {
            Some(Ok(n)) => (n, Some(n)),
            _ => (usize::MAX, None),
        }
    }
}

impl DoubleEndedIterator for Addrs {
    fn next_back(&mut self) -> Option<IpAddr> {
        if self.done {
            return None;
        }
        let v = self.last;
        if v == self.next {
            self.done = true;
        } else {
            self.last -= 1;
        }
        Some(ip_of(self.fam, v))
    }
}

impl FusedIterator for Addrs {}

/// Networks of one prefix length, in order (see [`IpNetwork::subnets`]).
#[derive(Clone, Debug)]
pub struct Subnets {
    fam: Fam,
    next: u128,
    last: u128,
    prefix: u8,
    /// The network itself when it is a single address (Python yields `self`, scope and all).
    whole: Option<IpNetwork>,
    done: bool,
}

impl Iterator for Subnets {
    type Item = IpNetwork;
    fn next(&mut self) -> Option<IpNetwork> {
        if let Some(w) = self.whole.take() {
            self.done = true;
            return Some(w);
        }
        if self.done {
            return None;
        }
        let net = IpNetwork::from_raw(self.fam, self.next, self.prefix);
        let step_bits = u32::from(self.fam.max_prefix() - self.prefix);
        match 1u128
            .checked_shl(step_bits)
            .and_then(|s| self.next.checked_add(s))
        {
            Some(n) if n <= self.last && step_bits < 128 => self.next = n,
            _ => self.done = true,
        }
        Some(net)
    }
}

impl FusedIterator for Subnets {}

/// What [`IpNetwork::address_exclude`] yields: one network per prefix length between the
/// two networks, in Python's order (use `sorted` order via `collect` + `sort` if needed).
#[derive(Clone, Debug)]
pub struct Exclude {
    fam: Fam,
    /// The current block that still contains the excluded network.
    cur_bits: u128,
    cur_prefix: u8,
    other_bits: u128,
    other_prefix: u8,
}

impl Iterator for Exclude {
    type Item = IpNetwork;
    fn next(&mut self) -> Option<IpNetwork> {
        if self.cur_prefix >= self.other_prefix {
            return None;
        }
        let child = self.cur_prefix + 1;
        let half = 1u128 << (self.fam.max_prefix() - child);
        let (left, right) = (self.cur_bits, self.cur_bits | half);
        let (keep, give) = if self.other_bits & half == 0 {
            (left, right)
        } else {
            (right, left)
        };
        self.cur_bits = keep;
        self.cur_prefix = child;
        Some(IpNetwork::from_raw(self.fam, give, child))
    }
}

impl FusedIterator for Exclude {}

/// CIDR blocks covering `first..=last` exactly (see [`summarize_address_range`]).
#[derive(Clone, Debug)]
pub struct Summarize {
    fam: Fam,
    next: u128,
    last: u128,
    done: bool,
}

impl Iterator for Summarize {
    type Item = IpNetwork;
    fn next(&mut self) -> Option<IpNetwork> {
        if self.done {
            return None;
        }
        let (prefix, size_bits) = largest_block(self.fam, self.next, self.last);
        let net = IpNetwork::from_raw(self.fam, self.next, prefix);
        let end = self.next | low_mask(size_bits);
        if end >= self.last {
            self.done = true;
        } else {
            self.next = end + 1;
        }
        Some(net)
    }
}

impl FusedIterator for Summarize {}

#[inline]
fn low_mask(bits: u32) -> u128 {
    if bits >= 128 {
        u128::MAX
    } else {
        (1u128 << bits) - 1
    }
}

/// The largest aligned block starting at `first` and ending at or before `last`:
/// `(prefix, host bits)`. `first <= last`.
#[inline]
pub(crate) fn largest_block(fam: Fam, first: u128, last: u128) -> (u8, u32) {
    let max = u32::from(fam.max_prefix());
    let align = if first == 0 {
        max
    } else {
        first.trailing_zeros().min(max)
    };
    let span = last - first; // count - 1; its bit length bounds the block size
    let fit = if span == u128::MAX {
        128
    } else {
        127 - (span + 1).leading_zeros()
    };
    let bits = align.min(fit);
    ((max - bits) as u8, bits)
}

/// Python's `summarize_address_range(first, last)`: the fewest CIDR networks that cover
/// exactly `first..=last`, in order.
///
/// ```
/// use netkit::cidr::summarize_address_range;
/// let nets: Vec<String> = summarize_address_range("192.0.2.0".parse()?, "192.0.2.130".parse()?)?
///     .map(|n| n.to_string())
///     .collect();
/// assert_eq!(nets, ["192.0.2.0/25", "192.0.2.128/31", "192.0.2.130/32"]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn summarize_address_range(first: IpAddr, last: IpAddr) -> Result<Summarize, CidrError> {
    let fam = fam_of(&first);
    if fam != fam_of(&last) {
        return Err(CidrError::VersionMismatch(
            Address::new(first).to_string(),
            Address::new(last).to_string(),
        ));
    }
    let (a, b) = (bits_of(&first), bits_of(&last));
    if a > b {
        return Err(CidrError::RangeReversed {
            first: Address::new(first).to_string(),
            last: Address::new(last).to_string(),
        });
    }
    Ok(Summarize {
        fam,
        next: a,
        last: b,
        done: false,
    })
}

impl IpNetwork {
    /// Every address, network and broadcast included: `iter(ip_network(...))`.
    ///
    /// ```
    /// use netkit::cidr::IpNetwork;
    /// let n: IpNetwork = "12:3456:78:90ab:cd:ef01:23:30/125".parse()?;
    /// let all: Vec<String> = n.iter().map(|a| netkit::cidr::Address::from(a).to_string()).collect();
    /// assert_eq!(all.len(), 8);
    /// assert_eq!(all[7], "12:3456:78:90ab:cd:ef01:23:37");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn iter(&self) -> Addrs {
        Addrs::new(self.fam, self.bits, self.last_bits())
    }

    /// The usable hosts, by Python's rules: IPv4 leaves out the network and broadcast
    /// addresses except in a /31 (both) and /32 (the one); IPv6 leaves out the
    /// Subnet-Router anycast (first) address except in a /127 (both) and /128 (the one).
    ///
    /// ```
    /// use netkit::cidr::IpNetwork;
    /// let n: IpNetwork = "192.0.2.0/30".parse()?;
    /// assert_eq!(n.hosts().count(), 2);
    /// let p: IpNetwork = "192.0.2.0/31".parse()?;
    /// assert_eq!(p.hosts().count(), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn hosts(&self) -> Addrs {
        let max = self.fam.max_prefix();
        let (first, last) = (self.bits, self.last_bits());
        if self.prefix + 1 >= max {
            return Addrs::new(self.fam, first, last);
        }
        match self.fam {
            Fam::V4 => Addrs::new(self.fam, first + 1, last - 1),
            Fam::V6 => Addrs::new(self.fam, first + 1, last),
        }
    }

    /// `network[n]`, counting from 0 at the network address.
    pub fn nth(&self, n: u128) -> Option<IpAddr> {
        (n <= self.fam.hostmask(self.prefix)).then(|| ip_of(self.fam, self.bits + n))
    }

    /// `network[-1 - n]`: `nth_back(0)` is the broadcast address.
    pub fn nth_back(&self, n: u128) -> Option<IpAddr> {
        (n <= self.fam.hostmask(self.prefix)).then(|| ip_of(self.fam, self.last_bits() - n))
    }

    /// Python indexing: `network[i]`, negative counts from the end.
    ///
    /// ```
    /// use netkit::cidr::IpNetwork;
    /// let n: IpNetwork = "123.45.67.64/27".parse()?;
    /// assert_eq!(n.get(0).unwrap().to_string(), "123.45.67.64");
    /// assert_eq!(n.get(-1).unwrap().to_string(), "123.45.67.95");
    /// assert!(n.get(32).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get(&self, i: i128) -> Result<IpAddr, CidrError> {
        let found = if i >= 0 {
            self.nth(i.unsigned_abs())
        } else {
            self.nth_back(i.unsigned_abs() - 1)
        };
        found.ok_or_else(|| CidrError::IndexOutOfRange {
            network: self.to_string(),
            index: i.to_string(),
        })
    }

    /// `subnets(new_prefix=P)`: the networks of prefix `new_prefix` that make up this one.
    /// A single-address network yields itself whatever the prefix, as in Python.
    ///
    /// ```
    /// use netkit::cidr::IpNetwork;
    /// let n: IpNetwork = "10.0.0.0/24".parse()?;
    /// let s: Vec<String> = n.subnets(26)?.map(|n| n.to_string()).collect();
    /// assert_eq!(s, ["10.0.0.0/26", "10.0.0.64/26", "10.0.0.128/26", "10.0.0.192/26"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn subnets(&self, new_prefix: u32) -> Result<Subnets, CidrError> {
        let max = self.fam.max_prefix();
        if self.prefix == max {
            return Ok(self.subnets_whole());
        }
        if new_prefix < u32::from(self.prefix) {
            return Err(CidrError::NewPrefixMustBeLonger {
                network: self.to_string(),
                new_prefix,
            });
        }
        self.subnets_diff(new_prefix - u32::from(self.prefix))
    }

    /// `subnets(prefixlen_diff=D)`: split into 2^D networks.
    pub fn subnets_diff(&self, diff: u32) -> Result<Subnets, CidrError> {
        let max = self.fam.max_prefix();
        if self.prefix == max {
            return Ok(self.subnets_whole());
        }
        let new_prefix = u32::from(self.prefix).saturating_add(diff);
        if new_prefix > u32::from(max) {
            return Err(CidrError::PrefixLenDiffInvalid {
                network: self.to_string(),
                new_prefixlen: new_prefix,
            });
        }
        Ok(Subnets {
            fam: self.fam,
            next: self.bits,
            last: self.last_bits(),
            prefix: new_prefix as u8,
            whole: None,
            done: false,
        })
    }

    fn subnets_whole(&self) -> Subnets {
        Subnets {
            fam: self.fam,
            next: 0,
            last: 0,
            prefix: self.prefix,
            whole: Some(self.clone()),
            done: true,
        }
    }

    /// `supernet(new_prefix=P)`: the network of prefix `new_prefix` containing this one.
    /// A /0 is its own supernet.
    ///
    /// ```
    /// use netkit::cidr::IpNetwork;
    /// let n: IpNetwork = "10.1.2.0/24".parse()?;
    /// assert_eq!(n.supernet(8)?.to_string(), "10.0.0.0/8");
    /// assert_eq!(n.supernet_diff(1)?.to_string(), "10.1.2.0/23");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn supernet(&self, new_prefix: u32) -> Result<IpNetwork, CidrError> {
        if self.prefix == 0 {
            return Ok(self.clone());
        }
        if new_prefix > u32::from(self.prefix) {
            return Err(CidrError::NewPrefixMustBeShorter {
                network: self.to_string(),
                new_prefix,
            });
        }
        self.supernet_diff(u32::from(self.prefix) - new_prefix)
    }

    /// `supernet(prefixlen_diff=D)`.
    pub fn supernet_diff(&self, diff: u32) -> Result<IpNetwork, CidrError> {
        if self.prefix == 0 {
            return Ok(self.clone());
        }
        if diff > u32::from(self.prefix) {
            return Err(CidrError::SupernetDiffInvalid {
                prefixlen: self.prefix,
                diff,
            });
        }
        let p = self.prefix - diff as u8;
        Ok(IpNetwork::from_raw(
            self.fam,
            self.bits & self.fam.netmask(p),
            p,
        ))
    }

    /// `address_exclude(other)`: this network minus `other`, as the fewest networks; in
    /// Python's order (largest first), which is not address order.
    ///
    /// ```
    /// use netkit::cidr::IpNetwork;
    /// let n: IpNetwork = "192.0.2.0/28".parse()?;
    /// let mut parts: Vec<IpNetwork> = n.address_exclude(&"192.0.2.1/32".parse()?)?.collect();
    /// parts.sort();
    /// let text: Vec<String> = parts.iter().map(|n| n.to_string()).collect();
    /// assert_eq!(text, ["192.0.2.0/32", "192.0.2.2/31", "192.0.2.4/30", "192.0.2.8/29"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn address_exclude(&self, other: &IpNetwork) -> Result<Exclude, CidrError> {
        if self.fam != other.fam {
            return Err(CidrError::VersionMismatch(
                self.to_string(),
                other.to_string(),
            ));
        }
        if !other.subnet_of(self) {
            return Err(CidrError::NotContained {
                inner: other.to_string(),
                outer: self.to_string(),
            });
        }
        Ok(Exclude {
            fam: self.fam,
            cur_bits: self.bits,
            cur_prefix: self.prefix,
            other_bits: other.bits,
            other_prefix: other.prefix,
        })
    }
}

impl IntoIterator for &IpNetwork {
    type Item = IpAddr;
    type IntoIter = Addrs;
    fn into_iter(self) -> Addrs {
        self.iter()
    }
}
