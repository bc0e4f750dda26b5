//! `netkit tls gen-cert`: a local CA and certificates signed by it (recipe 10).

use super::Failure;
use clap::Subcommand;
use std::path::PathBuf;

#[derive(Subcommand, Debug)]
pub enum TlsCommand {
    /// Write a local CA and server and client certificates signed by it
    #[command(
        after_help = "Writes ca.pem, server.pem, server.key, client.pem, client.key.\n\nExamples:\n  netkit tls gen-cert --out certs\n  netkit tls gen-cert --out certs --name myhost.example --name 10.1.2.3"
    )]
    GenCert {
        /// Directory to write into (created if missing)
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// DNS name or IP address the server certificate is for; repeatable
        /// [default: localhost, 127.0.0.1 and ::1]
        #[arg(long = "name", value_name = "HOST")]
        names: Vec<String>,
    },
}

pub fn run(command: TlsCommand) -> Result<(), Failure> {
    let TlsCommand::GenCert { out, names } = command;
    let names = if names.is_empty() {
        netkit::tls::default_names()
    } else {
        names
    };
    let written = netkit::tls::gen_cert(&out, &names)?;
    for path in [
        &written.ca,
        &written.server_cert,
        &written.server_key,
        &written.client_cert,
        &written.client_key,
    ] {
        println!("{}", path.display());
    }
    Ok(())
}
