//! Sans-IO codecs: bytes in, values out. No sockets, no tokio.

pub mod challenge;
pub mod http;
pub mod mpconn;
pub mod pickle;
pub mod sntp;
pub mod xmlrpc;
