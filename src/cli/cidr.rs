//! `netkit cidr …`: the subcommand lives with its library, in `netkit::cidr::cli`, whose
//! answers the differential tests check against Python's ipaddress.

use super::Failure;
pub use netkit::cidr::cli::CidrArgs;
use std::process::ExitCode;

pub fn run(args: CidrArgs) -> Result<ExitCode, Failure> {
    Ok(netkit::cidr::cli::run(args)?)
}
