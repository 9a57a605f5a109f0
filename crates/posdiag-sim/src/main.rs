//! `posdiag-sim`: runs one simulator (acquirer host or DNS server) until Ctrl-C or SIGTERM.
//! Arguments are validated before any port opens; bad ones exit with code 64.
#![forbid(unsafe_code)]

mod cli;
mod run;

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser as _;
use posdiag_sim::SimError;

use crate::cli::{Command, RawArgs};

/// sysexits.h EX_USAGE: the command was used incorrectly.
const EXIT_USAGE: u8 = 64;

fn main() -> ExitCode {
    let command = match RawArgs::try_parse() {
        Ok(raw) => Command::try_from(raw).map_err(|e| e.0),
        Err(e) if !e.use_stderr() => {
            // --help and --version
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => Err(e.to_string().lines().next().unwrap_or_default().to_owned()),
    };
    let command = match command {
        Ok(command) => command,
        Err(message) => {
            let message = message.trim_start_matches("error: ");
            eprintln!("posdiag-sim: {message} (see posdiag-sim --help)");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    init_tracing();
    let result = tokio::runtime::Runtime::new()
        .context("starting the tokio runtime")
        .and_then(|runtime| runtime.block_on(run::run(command)));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("posdiag-sim: {error:#}");
            // A configuration the library rejects is a usage error too.
            match error.downcast_ref::<SimError>() {
                Some(SimError::InvalidConfig(_) | SimError::InvalidSpec { .. }) => {
                    ExitCode::from(EXIT_USAGE)
                }
                _ => ExitCode::FAILURE,
            }
        }
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("POSDIAG_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}
