//! The `netkit` binary: parse → logging → dispatch → exit code. The only place that prints
//! errors for people and picks exit codes (2: bad usage, config or startup; 1: failure at
//! run time). Each subcommand lives in its own module under `cli/`.

mod cli;

use clap::Parser;
use cli::{Cli, Command, Failure, LogFormat};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let log_format = cli.log_format;
    // For `netkit http`, -v is httpie's (print the request too); its logs need RUST_LOG.
    let log_level = match cli.command {
        Command::Http(_) => 0,
        _ => cli.verbose,
    };
    init_logging(log_level, log_format);
    finish(cli.command.run(cli.verbose), log_format)
}

fn init_logging(verbose: u8, format: LogFormat) {
    let default = match verbose {
        0 => "netkit=warn",
        1 => "netkit=info",
        2 => "netkit=debug",
        _ => "netkit=trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    // Colours only for a person: a pipe, a file or journald gets plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs.json().init(),
    }
}

fn finish(outcome: Result<ExitCode, Failure>, log_format: LogFormat) -> ExitCode {
    match outcome {
        Ok(code) => code,
        Err(failure) => {
            let line = format!("netkit: {}", one_line(&failure.error));
            match log_format {
                LogFormat::Text => eprintln!("{line}"),
                // Still one line, in the shape of the log lines around it.
                LogFormat::Json => eprintln!(
                    "{}",
                    serde_json::json!({
                        "timestamp": jiff::Timestamp::now().to_string(),
                        "level": "ERROR",
                        "target": "netkit",
                        "fields": {"message": line},
                    })
                ),
            }
            ExitCode::from(failure.code)
        }
    }
}

/// The error and those of its causes that its message does not already tell, on one line.
fn one_line(error: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if !line.contains(&text) {
            if !line.is_empty() {
                line.push_str(": ");
            }
            line.push_str(&text);
        }
    }
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}
