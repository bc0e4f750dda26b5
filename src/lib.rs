//! netkit: the Python Cookbook's "Network and Web Programming" recipes as wire-compatible,
//! production-grade Rust services and clients. See DESIGN.md for the contract.

pub mod cidr;
pub mod proto;
