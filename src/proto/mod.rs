//! Sans-IO codecs: bytes in, values out. No sockets, no tokio.

pub mod challenge;
pub mod pickle;
pub mod sntp;
