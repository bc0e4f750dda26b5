//! `netkit completions SHELL`: a completion script generated from the clap definitions, so
//! it never drifts from the flags.

use super::{Cli, Failure};
use clap::{Args, CommandFactory};

pub const AFTER_HELP: &str = "Examples:
  netkit completions bash > ~/.local/share/bash-completion/completions/netkit
  netkit completions zsh > \"${fpath[1]}/_netkit\"
  netkit completions fish > ~/.config/fish/completions/netkit.fish";

#[derive(Args, Debug)]
pub struct CompletionsArgs {
    /// The shell to complete for
    #[arg(value_enum)]
    shell: clap_complete::Shell,
}

pub fn run(args: CompletionsArgs) -> Result<(), Failure> {
    use std::io::Write;
    // Into memory first: clap_complete panics on a write error, e.g. a closed pipe.
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "netkit", &mut script);
    match std::io::stdout().write_all(&script) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}
