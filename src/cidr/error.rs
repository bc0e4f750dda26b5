//! The one error type of the `cidr` module.

/// Everything that can go wrong in [`crate::cidr`]. The messages follow Python's
/// `ipaddress` wording and add what Python leaves out (why a string is not an address,
/// which network a host-bits error should have been).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CidrError {
    /// The text is not an IPv4 or IPv6 address (`ip_address()` would raise `ValueError`).
    #[error("{input:?} does not appear to be an IPv4 or IPv6 address ({reason})")]
    InvalidAddress {
        /// The text as given (lossily decoded if it was not UTF-8).
        input: String,
        /// What is wrong with it, e.g. `Octet 256 (> 255) not permitted`.
        reason: String,
    },
    /// The text is not an IPv4 or IPv6 network or interface.
    #[error("{input:?} does not appear to be an IPv4 or IPv6 network ({reason})")]
    InvalidNetwork {
        /// The text as given.
        input: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Strict parsing of a network whose address has bits set below the prefix.
    #[error("{input} has host bits set; the network is {network}")]
    HostBitsSet {
        /// Python's form of the input: `address/prefixlen`, e.g. `123.45.67.73/27`.
        input: String,
        /// The network the input lies in, e.g. `123.45.67.64/27`.
        network: String,
    },
    /// Two values of different IP versions where one version is required.
    #[error("{0} and {1} are not of the same version")]
    VersionMismatch(String, String),
    /// `address_exclude` of a network that is not inside the other.
    #[error("{inner} not contained in {outer}")]
    NotContained {
        /// The network that was to be removed.
        inner: String,
        /// The network it was to be removed from.
        outer: String,
    },
    /// A prefix length outside `0..=32` (IPv4) or `0..=128` (IPv6).
    #[error("prefix length {prefix} is invalid for IPv{version} (at most {max})")]
    InvalidPrefixLen {
        /// The prefix length asked for.
        prefix: u32,
        /// 4 or 6.
        version: u8,
        /// 32 or 128.
        max: u8,
    },
    /// `subnets(new_prefix)` with a prefix shorter than the network's.
    #[error("new prefix /{new_prefix} must be longer than the prefix of {network}")]
    NewPrefixMustBeLonger {
        /// The network being split.
        network: String,
        /// The requested prefix length.
        new_prefix: u32,
    },
    /// `supernet(new_prefix)` with a prefix longer than the network's.
    #[error("new prefix /{new_prefix} must be shorter than the prefix of {network}")]
    NewPrefixMustBeShorter {
        /// The network being widened.
        network: String,
        /// The requested prefix length.
        new_prefix: u32,
    },
    /// `subnets` to a prefix longer than the address (Python: "prefix length diff … is invalid").
    #[error("prefix length diff {new_prefixlen} is invalid for netblock {network}")]
    PrefixLenDiffInvalid {
        /// The network being split.
        network: String,
        /// The prefix length the split would produce.
        new_prefixlen: u32,
    },
    /// `supernet` by more bits than the prefix has.
    #[error("current prefixlen is {prefixlen}, cannot have a prefixlen_diff of {diff}")]
    SupernetDiffInvalid {
        /// The network's prefix length.
        prefixlen: u8,
        /// The requested difference.
        diff: u32,
    },
    /// `summarize_address_range` with `last < first`.
    #[error("last IP address must be greater than first ({first} > {last})")]
    RangeReversed {
        /// The first address.
        first: String,
        /// The last address.
        last: String,
    },
    /// Indexing a network past its end (or before its start, counting from the end).
    #[error("address out of range: index {index} in {network}")]
    IndexOutOfRange {
        /// The network indexed.
        network: String,
        /// The index as given.
        index: String,
    },
}
