//! Sans-IO codecs: bytes in, values out. No sockets, no tokio.

pub mod pickle;
pub mod xmlrpc;
