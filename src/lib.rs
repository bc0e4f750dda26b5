//! netkit: the Python Cookbook's "Network and Web Programming" recipes as wire-compatible,
//! production-grade Rust services and clients. DESIGN.md holds the contract; the README
//! shows each recipe's command.

pub mod auth;
pub mod bench;
pub mod bulk;
pub mod cidr;
pub mod client;
pub mod config;
pub mod handoff;
pub mod kv;
pub mod metrics;
pub mod mpconn;
pub mod proto;
pub mod serve;
pub mod service;
pub mod systemd;
pub mod tls;
