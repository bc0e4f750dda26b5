//! Parsing and formatting, byte for byte as Python's `ipaddress` does it.
//!
//! The parsers work on bytes and never allocate on success, so aggregating millions of
//! lines costs one pass over the input. Every rule mirrors a line of CPython's
//! `Lib/ipaddress.py` (3.13); the comments name the Python function.

use std::fmt;

/// IP version, with the numbers that depend on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Fam {
    V4,
    V6,
}

impl Fam {
    pub(crate) const fn max_prefix(self) -> u8 {
        match self {
            Fam::V4 => 32,
            Fam::V6 => 128,
        }
    }

    pub(crate) const fn all_ones(self) -> u128 {
        match self {
            Fam::V4 => u32::MAX as u128,
            Fam::V6 => u128::MAX,
        }
    }

    pub(crate) const fn version(self) -> u8 {
        match self {
            Fam::V4 => 4,
            Fam::V6 => 6,
        }
    }

    /// The netmask of `prefix` (which must be at most `max_prefix`).
    pub(crate) fn netmask(self, prefix: u8) -> u128 {
        let host = self.hostmask(prefix);
        self.all_ones() ^ host
    }

    /// The hostmask of `prefix`: the low `max_prefix - prefix` bits set.
    pub(crate) fn hostmask(self, prefix: u8) -> u128 {
        let host_bits = u32::from(self.max_prefix() - prefix);
        if host_bits >= 128 {
            u128::MAX
        } else {
            (1u128 << host_bits) - 1
        }
    }
}

/// Why a string is not an address; turned into text only on the error path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Bad<'a> {
    Empty,
    Octets(usize),
    EmptyOctet,
    OctetNotDecimal(&'a [u8]),
    OctetTooLong(&'a [u8]),
    OctetLeadingZero(&'a [u8]),
    OctetTooBig(u32),
    TooFewParts,
    TooManyColons,
    DoubleColonTwice,
    LeadingColon,
    TrailingColon,
    TooManyPartsWithSkip,
    PartsWithoutSkip(usize),
    HextetNotHex(&'a [u8]),
    HextetTooLong(&'a [u8]),
    Slash,
    Scope,
    TooManySlashes,
    Netmask(&'a [u8]),
}

impl fmt::Display for Bad<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        match self {
            Bad::Empty => f.write_str("Address cannot be empty"),
            Bad::Octets(n) => write!(f, "Expected 4 octets, got {n}"),
            Bad::EmptyOctet => f.write_str("Empty octet not permitted"),
            Bad::OctetNotDecimal(o) => write!(f, "Only decimal digits permitted in {:?}", s(o)),
            Bad::OctetTooLong(o) => write!(f, "At most 3 characters permitted in {:?}", s(o)),
            Bad::OctetLeadingZero(o) => {
                write!(f, "Leading zeros are not permitted in {:?}", s(o))
            }
            Bad::OctetTooBig(n) => write!(f, "Octet {n} (> 255) not permitted"),
            Bad::TooFewParts => f.write_str("At least 3 parts expected"),
            Bad::TooManyColons => f.write_str("At most 8 colons permitted"),
            Bad::DoubleColonTwice => f.write_str("At most one '::' permitted"),
            Bad::LeadingColon => f.write_str("Leading ':' only permitted as part of '::'"),
            Bad::TrailingColon => f.write_str("Trailing ':' only permitted as part of '::'"),
            Bad::TooManyPartsWithSkip => f.write_str("Expected at most 7 other parts with '::'"),
            Bad::PartsWithoutSkip(n) => {
                write!(f, "Exactly 8 parts expected without '::', got {n}")
            }
            Bad::HextetNotHex(h) => write!(f, "Only hex digits permitted in {:?}", s(h)),
            Bad::HextetTooLong(h) => write!(f, "At most 4 characters permitted in {:?}", s(h)),
            Bad::Slash => f.write_str("Unexpected '/'"),
            Bad::Scope => f.write_str("invalid scope id after '%'"),
            Bad::TooManySlashes => f.write_str("Only one '/' permitted"),
            Bad::Netmask(m) => write!(f, "{:?} is not a valid netmask", s(m)),
        }
    }
}

/// `_BaseV4._parse_octet`: ASCII digits only, at most 3, no leading zero, at most 255.
fn parse_octet(o: &[u8]) -> Result<u8, Bad<'_>> {
    if o.is_empty() {
        return Err(Bad::EmptyOctet);
    }
    if !o.iter().all(u8::is_ascii_digit) {
        return Err(Bad::OctetNotDecimal(o));
    }
    if o.len() > 3 {
        return Err(Bad::OctetTooLong(o));
    }
    if o.len() > 1 && o[0] == b'0' {
        return Err(Bad::OctetLeadingZero(o));
    }
    let n = o.iter().fold(0u32, |n, d| n * 10 + u32::from(d - b'0'));
    u8::try_from(n).map_err(|_| Bad::OctetTooBig(n))
}

/// `_BaseV4._ip_int_from_string`: exactly four dotted decimal octets.
pub(crate) fn parse_v4(s: &[u8]) -> Result<u32, Bad<'_>> {
    if s.is_empty() {
        return Err(Bad::Empty);
    }
    // Python splits and counts first, so a wrong count is reported before a bad octet.
    let parts = s.iter().filter(|&&b| b == b'.').count() + 1;
    if parts != 4 {
        return Err(Bad::Octets(parts));
    }
    let mut out = 0u32;
    for o in s.split(|&b| b == b'.') {
        out = (out << 8) | u32::from(parse_octet(o)?);
    }
    Ok(out)
}

/// `_BaseV6._parse_hextet`: one to four hex digits.
fn parse_hextet(h: &[u8]) -> Result<u16, Bad<'_>> {
    if !h.iter().all(u8::is_ascii_hexdigit) {
        return Err(Bad::HextetNotHex(h));
    }
    if h.len() > 4 {
        return Err(Bad::HextetTooLong(h));
    }
    if h.is_empty() {
        // int('', 16) raises in Python.
        return Err(Bad::HextetNotHex(h));
    }
    Ok(h.iter().fold(0u16, |n, &d| {
        let v = match d {
            b'0'..=b'9' => d - b'0',
            b'a'..=b'f' => d - b'a' + 10,
            _ => d - b'A' + 10,
        };
        (n << 4) | u16::from(v)
    }))
}

/// `_BaseV6._ip_int_from_string` (without the scope id).
pub(crate) fn parse_v6(s: &[u8]) -> Result<u128, Bad<'_>> {
    if s.is_empty() {
        return Err(Bad::Empty);
    }
    // At most 9 ':'-separated parts are legal, and an IPv4 suffix adds one more.
    let mut parts: [&[u8]; 10] = [&[]; 10];
    let mut n = 0usize;
    for p in s.split(|&b| b == b':') {
        if n == 9 {
            return Err(Bad::TooManyColons);
        }
        parts[n] = p;
        n += 1;
    }
    if n < 3 {
        return Err(Bad::TooFewParts);
    }
    // An IPv4-style suffix becomes two hextets.
    let mut v4_tail: Option<u32> = None;
    if parts[n - 1].contains(&b'.') {
        let v4 = parse_v4(parts[n - 1])?;
        v4_tail = Some(v4);
        n += 1; // parts[n-2..n] now stand for the two hextets; their text is not used.
    }
    if n > 9 {
        return Err(Bad::TooManyColons);
    }
    let part_is_empty = |i: usize| -> bool {
        match v4_tail {
            Some(_) if i >= n - 2 => false,
            _ => parts[i].is_empty(),
        }
    };
    let hextet = |i: usize| -> Result<u16, Bad<'_>> {
        match v4_tail {
            Some(v4) if i == n - 2 => Ok((v4 >> 16) as u16),
            Some(v4) if i == n - 1 => Ok(v4 as u16),
            _ => parse_hextet(parts[i]),
        }
    };
    let mut skip: Option<usize> = None;
    for i in 1..n - 1 {
        if part_is_empty(i) {
            if skip.is_some() {
                return Err(Bad::DoubleColonTwice);
            }
            skip = Some(i);
        }
    }
    let (hi, lo, skipped) = match skip {
        Some(k) => {
            let mut hi = k;
            let mut lo = n - k - 1;
            if part_is_empty(0) {
                hi -= 1;
                if hi != 0 {
                    return Err(Bad::LeadingColon);
                }
            }
            if part_is_empty(n - 1) {
                lo -= 1;
                if lo != 0 {
                    return Err(Bad::TrailingColon);
                }
            }
            if hi + lo >= 8 {
                return Err(Bad::TooManyPartsWithSkip);
            }
            (hi, lo, 8 - hi - lo)
        }
        None => {
            if n != 8 {
                return Err(Bad::PartsWithoutSkip(n));
            }
            if part_is_empty(0) {
                return Err(Bad::LeadingColon);
            }
            if part_is_empty(n - 1) {
                return Err(Bad::TrailingColon);
            }
            (n, 0, 0)
        }
    };
    let mut ip: u128 = 0;
    for i in 0..hi {
        ip = (ip << 16) | u128::from(hextet(i)?);
    }
    // `skipped` is at most 8, so the shift is at most 128 only when hi == lo == 0.
    ip = ip.checked_shl(16 * skipped as u32).unwrap_or(0);
    for i in n - lo..n {
        ip = (ip << 16) | u128::from(hextet(i)?);
    }
    Ok(ip)
}

/// `_BaseV6._split_scope_id`: `addr%scope` with a non-empty scope free of `%`.
pub(crate) fn split_scope(s: &[u8]) -> Result<(&[u8], Option<&[u8]>), Bad<'_>> {
    match s.iter().position(|&b| b == b'%') {
        None => Ok((s, None)),
        Some(i) => {
            let scope = &s[i + 1..];
            if scope.is_empty() || scope.contains(&b'%') {
                Err(Bad::Scope)
            } else {
                Ok((&s[..i], Some(scope)))
            }
        }
    }
}

/// A parsed address: family, value and (IPv6 only) the byte range of the scope id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RawAddr<'a> {
    pub fam: Fam,
    pub bits: u128,
    pub scope: Option<&'a [u8]>,
}

/// `ip_address(text)`: IPv4 first, then IPv6. The error is the one of the family the text
/// looks like (a `:` means IPv6), which is the more useful one to show.
pub(crate) fn parse_addr(s: &[u8]) -> Result<RawAddr<'_>, Bad<'_>> {
    if s.contains(&b'/') {
        return Err(Bad::Slash);
    }
    let e4 = match parse_v4(s) {
        Ok(v) => {
            return Ok(RawAddr {
                fam: Fam::V4,
                bits: u128::from(v),
                scope: None,
            })
        }
        Err(e) => e,
    };
    match split_scope(s).and_then(|(a, scope)| Ok((parse_v6(a)?, scope))) {
        Ok((bits, scope)) => Ok(RawAddr {
            fam: Fam::V6,
            bits,
            scope,
        }),
        Err(e6) => Err(if s.contains(&b':') { e6 } else { e4 }),
    }
}

/// `_prefix_from_prefix_string`: ASCII digits (leading zeros allowed), at most `max`.
fn parse_prefix_digits(m: &[u8], max: u8) -> Option<u8> {
    if m.is_empty() || !m.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut n: u32 = 0;
    for &d in m {
        n = n * 10 + u32::from(d - b'0');
        if n > u32::from(max) {
            return None;
        }
    }
    u8::try_from(n).ok()
}

/// `_prefix_from_ip_int`: a run of ones followed by zeros, or `None`.
fn prefix_from_mask_bits(v: u32) -> Option<u8> {
    let ones = v.leading_ones();
    let rest = v.checked_shl(ones).unwrap_or(0);
    (rest == 0).then_some(ones as u8)
}

/// `_BaseV4._make_netmask`: a prefix length, a dotted netmask or a dotted hostmask
/// (the two ambiguous masks, all-zeros and all-ones, are netmasks).
pub(crate) fn parse_mask(fam: Fam, m: &[u8]) -> Result<u8, Bad<'_>> {
    if let Some(p) = parse_prefix_digits(m, fam.max_prefix()) {
        return Ok(p);
    }
    if fam == Fam::V4 {
        if let Ok(v) = parse_v4(m) {
            if let Some(p) = prefix_from_mask_bits(v) {
                return Ok(p);
            }
            if let Some(p) = prefix_from_mask_bits(!v) {
                return Ok(p);
            }
        }
    }
    Err(Bad::Netmask(m))
}

/// A parsed `address[/mask]`, host bits still in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RawNet<'a> {
    pub addr: RawAddr<'a>,
    pub prefix: u8,
}

/// `IPv4Network(text)` then `IPv6Network(text)` (and the same split for interfaces):
/// `address` or `address/mask`; IPv6 masks are prefix lengths only.
pub(crate) fn parse_net(s: &[u8]) -> Result<RawNet<'_>, Bad<'_>> {
    let (a, m) = match s.iter().position(|&b| b == b'/') {
        None => (s, None),
        Some(i) => {
            let m = &s[i + 1..];
            if m.contains(&b'/') {
                return Err(Bad::TooManySlashes);
            }
            (&s[..i], Some(m))
        }
    };
    let addr = parse_addr(a)?;
    let prefix = match m {
        None => addr.fam.max_prefix(),
        Some(m) => parse_mask(addr.fam, m)?,
    };
    Ok(RawNet { addr, prefix })
}

/// Somewhere to write address text without going through `fmt`.
pub(crate) trait Sink {
    fn put(&mut self, b: u8);
    fn put_all(&mut self, b: &[u8]);
}

impl Sink for Vec<u8> {
    #[inline]
    fn put(&mut self, b: u8) {
        self.push(b);
    }
    #[inline]
    fn put_all(&mut self, b: &[u8]) {
        self.extend_from_slice(b);
    }
}

/// A stack buffer big enough for any address without scope id
/// (`ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff` is 39 bytes) plus a `/128`.
pub(crate) struct StackBuf {
    buf: [u8; 48],
    len: usize,
}

impl StackBuf {
    pub(crate) fn new() -> Self {
        StackBuf {
            buf: [0; 48],
            len: 0,
        }
    }
    pub(crate) fn as_str(&self) -> &str {
        // Only ASCII digits, hex digits, '.', ':' and '/' are ever written.
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }
}

impl Sink for StackBuf {
    #[inline]
    fn put(&mut self, b: u8) {
        if let Some(slot) = self.buf.get_mut(self.len) {
            *slot = b;
            self.len += 1;
        }
    }
    #[inline]
    fn put_all(&mut self, b: &[u8]) {
        for &x in b {
            self.put(x);
        }
    }
}

#[inline]
pub(crate) fn write_dec(out: &mut impl Sink, n: u8) {
    if n >= 100 {
        out.put(b'0' + n / 100);
        out.put(b'0' + (n / 10) % 10);
        out.put(b'0' + n % 10);
    } else if n >= 10 {
        out.put(b'0' + n / 10);
        out.put(b'0' + n % 10);
    } else {
        out.put(b'0' + n);
    }
}

/// `_BaseV4._string_from_ip_int`.
#[inline]
pub(crate) fn write_v4(out: &mut impl Sink, ip: u32) {
    let [a, b, c, d] = ip.to_be_bytes();
    write_dec(out, a);
    out.put(b'.');
    write_dec(out, b);
    out.put(b'.');
    write_dec(out, c);
    out.put(b'.');
    write_dec(out, d);
}

fn write_hex16(out: &mut impl Sink, h: u16) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut started = false;
    for shift in [12u32, 8, 4, 0] {
        let nib = ((h >> shift) & 0xf) as usize;
        if nib != 0 || started || shift == 0 {
            out.put(HEX[nib]);
            started = true;
        }
    }
}

/// `_BaseV6._string_from_ip_int` + `_compress_hextets`: the longest run of two or more
/// zero hextets becomes `::`, the leftmost run wins a tie. No IPv4-mapped special case.
pub(crate) fn write_v6_plain(out: &mut impl Sink, ip: u128) {
    let mut h = [0u16; 8];
    for (i, slot) in h.iter_mut().enumerate() {
        *slot = (ip >> (112 - 16 * i)) as u16;
    }
    let (mut best_start, mut best_len) = (0usize, 0usize);
    let (mut cur_start, mut cur_len) = (0usize, 0usize);
    for (i, &x) in h.iter().enumerate() {
        if x == 0 {
            if cur_len == 0 {
                cur_start = i;
            }
            cur_len += 1;
            if cur_len > best_len {
                best_len = cur_len;
                best_start = cur_start;
            }
        } else {
            cur_len = 0;
        }
    }
    if best_len < 2 {
        for (i, &x) in h.iter().enumerate() {
            if i > 0 {
                out.put(b':');
            }
            write_hex16(out, x);
        }
        return;
    }
    for (i, &x) in h[..best_start].iter().enumerate() {
        if i > 0 {
            out.put(b':');
        }
        write_hex16(out, x);
    }
    out.put_all(b"::");
    for (i, &x) in h[best_start + best_len..].iter().enumerate() {
        if i > 0 {
            out.put(b':');
        }
        write_hex16(out, x);
    }
}

/// `IPv6Address.__str__` (3.13): IPv4-mapped addresses end in dotted decimal.
#[inline]
pub(crate) fn write_v6(out: &mut impl Sink, ip: u128) {
    if (ip >> 32) == 0xffff {
        out.put_all(b"::ffff:");
        write_v4(out, ip as u32);
    } else {
        write_v6_plain(out, ip);
    }
}

/// Python's `str()` of an address given as family + value.
#[inline]
pub(crate) fn write_addr(out: &mut impl Sink, fam: Fam, bits: u128) {
    match fam {
        Fam::V4 => write_v4(out, bits as u32),
        Fam::V6 => write_v6(out, bits),
    }
}

/// A `Display` for family + value without scope id.
pub(crate) struct Shown(pub Fam, pub u128);

impl fmt::Display for Shown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut b = StackBuf::new();
        write_addr(&mut b, self.0, self.1);
        f.pad(b.as_str())
    }
}

/// `exploded`: every hextet with four digits, no compression (IPv4: as `str()`).
pub(crate) fn write_exploded(out: &mut impl Sink, fam: Fam, bits: u128) {
    match fam {
        Fam::V4 => write_v4(out, bits as u32),
        Fam::V6 => {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            for i in 0..8 {
                if i > 0 {
                    out.put(b':');
                }
                let h = (bits >> (112 - 16 * i)) as u16;
                for shift in [12u32, 8, 4, 0] {
                    out.put(HEX[((h >> shift) & 0xf) as usize]);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v6(s: &str) -> String {
        let mut v = Vec::new();
        write_v6(&mut v, parse_v6(s.as_bytes()).unwrap());
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn v6_compression_like_python() {
        assert_eq!(v6("0:0:0:0:0:0:0:0"), "::");
        assert_eq!(v6("0:0:0:0:0:0:0:1"), "::1");
        assert_eq!(v6("1:0:0:0:0:0:0:0"), "1::");
        assert_eq!(v6("1:0:1:0:1:0:1:0"), "1:0:1:0:1:0:1:0");
        assert_eq!(v6("1:0:0:1:0:0:1:1"), "1::1:0:0:1:1");
        assert_eq!(v6("1:0:0:1:0:0:0:1"), "1:0:0:1::1");
        assert_eq!(
            v6("12:3456:78:90ab:cd:ef01:23:30"),
            "12:3456:78:90ab:cd:ef01:23:30"
        );
        assert_eq!(v6("::ffff:1.2.3.4"), "::ffff:1.2.3.4");
        assert_eq!(v6("::1.2.3.4"), "::102:304");
        assert_eq!(v6("FE80::ABCD"), "fe80::abcd");
    }

    #[test]
    fn v6_rejects_like_python() {
        for bad in [
            "",
            ":",
            "::::",
            ":::",
            "1::2::3",
            ":1::2",
            "1::2:",
            "1:2:3:4:5:6:7",
            "1:2:3:4:5:6:7:8:9",
            "1:2:3:4:5:6:7::8",
            "12345::",
            "g::",
            "::1.2.3",
            "::01.2.3.4",
            "1.2.3.4::",
            "::1.2.3.4:5",
            "1:2:3:4:5:6:7:1.2.3.4",
        ] {
            assert!(
                parse_v6(bad.as_bytes()).is_err(),
                "{bad:?} should be rejected"
            );
        }
        for good in [
            "::",
            "1::",
            "::1",
            "1:2:3:4:5:6:7::",
            "::2:3:4:5:6:7:8",
            "1:2:3:4:5:6:1.2.3.4",
        ] {
            assert!(parse_v6(good.as_bytes()).is_ok(), "{good:?} should parse");
        }
    }

    #[test]
    fn v4_rules() {
        assert_eq!(parse_v4(b"1.2.3.4"), Ok(0x01020304));
        assert!(parse_v4(b"01.2.3.4").is_err());
        assert!(parse_v4(b"1.2.3.256").is_err());
        assert!(parse_v4(b"1.2.3").is_err());
        assert!(parse_v4(b"1.2.3.4.5").is_err());
        assert!(parse_v4(b"1.2.3.+4").is_err());
        assert!(parse_v4(b"1.2.3. 4").is_err());
        assert_eq!(parse_v4(b"0.0.0.0"), Ok(0));
    }

    #[test]
    fn masks() {
        assert_eq!(parse_mask(Fam::V4, b"255.0.0.0"), Ok(8));
        assert_eq!(parse_mask(Fam::V4, b"0.0.0.255"), Ok(24));
        assert_eq!(parse_mask(Fam::V4, b"0.0.0.0"), Ok(0));
        assert_eq!(parse_mask(Fam::V4, b"255.255.255.255"), Ok(32));
        assert_eq!(parse_mask(Fam::V4, b"0032"), Ok(32));
        assert!(parse_mask(Fam::V4, b"33").is_err());
        assert!(parse_mask(Fam::V4, b"255.0.255.0").is_err());
        assert!(parse_mask(Fam::V6, b"255.0.0.0").is_err());
        assert!(parse_mask(Fam::V6, b"+8").is_err());
        assert_eq!(parse_mask(Fam::V6, b"128"), Ok(128));
    }
}
