//! The one error type of the decoder. Every variant carries the byte offset of the opcode
//! (or argument) that failed, so a log line points into the offending frame.

use thiserror::Error;

/// Why [`loads`](super::loads) refused a pickle.
///
/// `offset` is the position in the input of the opcode being executed when the problem was
/// found (for a truncated argument, the opcode that needed it).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum PickleError {
    /// The input ended in the middle of an opcode or before `STOP`.
    #[error(
        "pickle truncated at byte {offset}: {what} needs {needed} more bytes, {available} left"
    )]
    Truncated {
        offset: usize,
        what: &'static str,
        needed: u64,
        available: usize,
    },
    /// A byte that is not an opcode of protocols 0–5.
    #[error("unknown opcode 0x{opcode:02x} at byte {offset}")]
    UnknownOpcode { offset: usize, opcode: u8 },
    /// `PROTO` announced a protocol above 5.
    #[error("unsupported pickle protocol {protocol} at byte {offset}")]
    UnsupportedProtocol { offset: usize, protocol: u8 },
    /// An opcode needed more values on the stack (above the last MARK) than there were.
    #[error("{opcode} at byte {offset}: stack underflow")]
    StackUnderflow { offset: usize, opcode: &'static str },
    /// An opcode that needs a MARK found none.
    #[error("{opcode} at byte {offset}: no MARK on the stack")]
    MarkNotFound { offset: usize, opcode: &'static str },
    /// GET of a memo slot that was never PUT.
    #[error("memo key {index} read at byte {offset} was never stored")]
    MemoMissing { offset: usize, index: u64 },
    /// GLOBAL/STACK_GLOBAL/INST/OBJ named something outside the whitelist. Never resolved.
    #[error("global {module}.{name} at byte {offset} is not allowed")]
    ForbiddenGlobal {
        offset: usize,
        module: String,
        name: String,
    },
    /// PERSID/BINPERSID: there is no persistent-id resolver.
    #[error("persistent id at byte {offset} is not supported")]
    PersistentId { offset: usize },
    /// EXT1/EXT2/EXT4: the copyreg extension registry is not consulted.
    #[error("extension code {code} at byte {offset} is not supported")]
    Extension { offset: usize, code: u32 },
    /// NEXT_BUFFER/READONLY_BUFFER: out-of-band buffers never travel in-band.
    #[error("{opcode} at byte {offset}: out-of-band buffers are not supported")]
    OutOfBandBuffer { offset: usize, opcode: &'static str },
    /// A whitelisted callable was called (REDUCE, NEWOBJ…) with arguments it does not accept,
    /// or a value was used where a callable or class was expected.
    #[error("{opcode} at byte {offset}: {reason}")]
    BadCall {
        offset: usize,
        opcode: &'static str,
        reason: String,
    },
    /// An opcode met a value of the wrong type (APPEND to a dict, a non-tuple args…).
    #[error("{opcode} at byte {offset}: expected {expected}, found {found}")]
    WrongType {
        offset: usize,
        opcode: &'static str,
        expected: &'static str,
        found: &'static str,
    },
    /// A dict key or set element that Python could not hash either (list, dict, set…).
    #[error("unhashable {type_name} used as a dict key or set element at byte {offset}")]
    Unhashable {
        offset: usize,
        type_name: &'static str,
    },
    /// A text argument (INT, LONG, FLOAT, GET…, UNICODE, GLOBAL) that does not parse.
    #[error("bad {what} at byte {offset}")]
    BadLiteral { offset: usize, what: &'static str },
    /// String data that is not UTF-8 (surrogates allowed, as Python's `surrogatepass`).
    #[error("invalid UTF-8 in string at byte {offset}")]
    InvalidUtf8 { offset: usize },
    /// The value nests deeper than `Limits::max_depth`.
    #[error("nesting deeper than {limit} at byte {offset}")]
    TooDeep { offset: usize, limit: usize },
    /// More memo entries than `Limits::max_memo`.
    #[error("more than {limit} memo entries at byte {offset}")]
    MemoLimit { offset: usize, limit: usize },
    /// The decoder would allocate more than `Limits::max_alloc` bytes in total.
    #[error("decoding needs more than {limit} bytes of memory at byte {offset}")]
    AllocLimit { offset: usize, limit: usize },
    /// An integer longer than `Limits::max_int_bytes` (or 4300 decimal digits, Python's own
    /// `int_max_str_digits`, for the text forms).
    #[error("integer of {size} bytes/digits at byte {offset} is over the limit")]
    IntTooLarge { offset: usize, size: u64 },
}

impl PickleError {
    /// The byte offset the error refers to.
    pub fn offset(&self) -> usize {
        match self {
            PickleError::Truncated { offset, .. }
            | PickleError::UnknownOpcode { offset, .. }
            | PickleError::UnsupportedProtocol { offset, .. }
            | PickleError::StackUnderflow { offset, .. }
            | PickleError::MarkNotFound { offset, .. }
            | PickleError::MemoMissing { offset, .. }
            | PickleError::ForbiddenGlobal { offset, .. }
            | PickleError::PersistentId { offset }
            | PickleError::Extension { offset, .. }
            | PickleError::OutOfBandBuffer { offset, .. }
            | PickleError::BadCall { offset, .. }
            | PickleError::WrongType { offset, .. }
            | PickleError::Unhashable { offset, .. }
            | PickleError::BadLiteral { offset, .. }
            | PickleError::InvalidUtf8 { offset }
            | PickleError::TooDeep { offset, .. }
            | PickleError::MemoLimit { offset, .. }
            | PickleError::AllocLimit { offset, .. }
            | PickleError::IntTooLarge { offset, .. } => *offset,
        }
    }
}
