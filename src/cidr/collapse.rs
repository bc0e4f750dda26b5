//! `collapse_addresses` in O(n log n): turn every network into an address range, sort,
//! merge overlapping and adjacent ranges, and cut each merged range into the largest
//! aligned blocks. The result is the unique set of maximal CIDR blocks inside the union,
//! which is exactly what Python's sibling-merging algorithm converges to.

use super::error::CidrError;
use super::net::IpNetwork;
use super::ops::largest_block;
use super::text::Fam;

/// Accumulates networks of one IP version and collapses them.
///
/// IPv4 ranges are packed as `start << 32 | end` in a `u64`, so sorting a million of them
/// is one `sort_unstable` over plain integers.
#[derive(Debug, Default, Clone)]
pub(crate) struct Collapser {
    v4: Vec<u64>,
    v6: Vec<(u128, u128)>,
}

impl Collapser {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    #[inline]
    pub(crate) fn push(&mut self, fam: Fam, bits: u128, prefix: u8) {
        let end = bits | fam.hostmask(prefix);
        match fam {
            Fam::V4 => self.v4.push((bits as u64) << 32 | end as u64),
            Fam::V6 => self.v6.push((bits, end)),
        }
    }

    /// Emits `(family, network, prefix)` of the collapsed set, IPv4 first, in order.
    pub(crate) fn finish(mut self, mut emit: impl FnMut(Fam, u128, u8)) {
        self.v4.sort_unstable();
        let mut ranges = self
            .v4
            .iter()
            .map(|&r| (u128::from((r >> 32) as u32), u128::from(r as u32)));
        merge(Fam::V4, &mut ranges, &mut emit);
        self.v6.sort_unstable();
        merge(Fam::V6, &mut self.v6.iter().copied(), &mut emit);
    }
}

/// Merges sorted `(start, end)` ranges and emits the blocks of each merged range.
fn merge(
    fam: Fam,
    sorted: &mut dyn Iterator<Item = (u128, u128)>,
    emit: &mut dyn FnMut(Fam, u128, u8),
) {
    let Some((mut start, mut end)) = sorted.next() else {
        return;
    };
    for (s, e) in sorted {
        // Adjacent (s == end + 1) merges too; end == MAX covers everything after it.
        if end == u128::MAX || s <= end + 1 {
            end = end.max(e);
        } else {
            blocks(fam, start, end, emit);
            (start, end) = (s, e);
        }
    }
    blocks(fam, start, end, emit);
}

fn blocks(fam: Fam, mut first: u128, last: u128, emit: &mut dyn FnMut(Fam, u128, u8)) {
    loop {
        let (prefix, bits) = largest_block(fam, first, last);
        emit(fam, first, prefix);
        let block_end = if bits >= 128 {
            u128::MAX
        } else {
            first | ((1u128 << bits) - 1)
        };
        if block_end >= last {
            return;
        }
        first = block_end + 1;
    }
}

/// Python's `collapse_addresses(networks)`: the fewest networks covering exactly the
/// union of the input, sorted. All networks must be of one IP version.
///
/// ```
/// use netkit::cidr::{collapse_addresses, IpNetwork};
/// let nets: Vec<IpNetwork> = ["192.0.2.0/25", "192.0.2.128/25", "192.0.2.64/26"]
///     .iter().map(|s| s.parse()).collect::<Result<_, _>>()?;
/// let out: Vec<String> = collapse_addresses(nets)?.iter().map(|n| n.to_string()).collect();
/// assert_eq!(out, ["192.0.2.0/24"]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn collapse_addresses<I>(networks: I) -> Result<Vec<IpNetwork>, CidrError>
where
    I: IntoIterator<Item = IpNetwork>,
{
    let mut c = Collapser::new();
    let mut first: Option<IpNetwork> = None;
    for n in networks {
        match &first {
            None => first = Some(n.clone()),
            Some(f) if f.fam != n.fam => {
                return Err(CidrError::VersionMismatch(n.to_string(), f.to_string()))
            }
            Some(_) => {}
        }
        c.push(n.fam, n.bits, n.prefix);
    }
    let mut out = Vec::new();
    c.finish(|fam, bits, prefix| out.push(IpNetwork::from_raw(fam, bits, prefix)));
    Ok(out)
}
