//! Temporary entry point of the `cidr` branch: the lead merges the `Cidr` variant into the
//! real main.rs.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "netkit",
    version,
    about = "The Python Cookbook's network recipes, production-grade"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Networks and addresses, answered like Python's ipaddress.
    Cidr(netkit::cidr::cli::CidrArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Cidr(args) => netkit::cidr::cli::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("netkit: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
