//! `netkit man`: roff manual pages generated from the clap definitions (one per
//! subcommand: netkit.1, netkit-serve.1, netkit-bulk-send.1, …), so they never drift.

use super::{Cli, Failure};
use anyhow::Context;
use clap::{Args, CommandFactory};
use std::path::{Path, PathBuf};

pub const AFTER_HELP: &str = "Examples:
  netkit man | man -l -                 # read netkit(1) now
  netkit man --out /usr/local/share/man/man1 && mandb
  netkit man --out man && man -l man/netkit-serve.1";

#[derive(Args, Debug)]
pub struct ManArgs {
    /// Write every page into DIR (created if missing) and print their paths; without it,
    /// print netkit.1 on stdout
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

pub fn run(args: ManArgs) -> Result<(), Failure> {
    let command = Cli::command();
    match args.out {
        None => clap_mangen::Man::new(command)
            .render(&mut std::io::stdout())
            .context("cannot write the manual page")?,
        Some(dir) => {
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            for path in write_pages(command, "netkit", &dir)? {
                println!("{}", path.display());
            }
        }
    }
    Ok(())
}

/// Writes `name.1` for `command` and, below it, one page per subcommand, named as git
/// names its pages (`netkit-bulk-send.1`).
fn write_pages(command: clap::Command, name: &str, dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let command = command
        .name(name.to_string())
        .bin_name(name.replace('-', " "));
    let path = dir.join(format!("{name}.1"));
    let mut page = Vec::new();
    clap_mangen::Man::new(command.clone()).render(&mut page)?;
    std::fs::write(&path, page).with_context(|| format!("cannot write {}", path.display()))?;
    let mut written = vec![path];
    for sub in command.get_subcommands().filter(|s| s.get_name() != "help") {
        let sub_name = format!("{name}-{}", sub.get_name());
        written.extend(write_pages(sub.clone(), &sub_name, dir)?);
    }
    Ok(written)
}
