//! The `posdiag` command-line client as a library: argument definitions,
//! connecting to posdiagd, and rendering its answers, so the `demo` command
//! and tests can reuse every piece. The binary (`main.rs`) only parses,
//! calls [`run`] and maps errors to exit codes.
//!
//! The CLI talks to nothing but posdiagd's gRPC API, except `posdiag id
//! --local` and `posdiag id audit`, which validate with `posdiag-ids` in
//! process.

#![forbid(unsafe_code)]

pub mod cli;
pub mod commands;
pub mod demo;
pub mod doctor;
pub mod endpoint;
pub mod error;
pub mod explain;
pub mod i18n;
pub mod id;
pub mod json;
pub mod output;
pub mod plugin_verify;
pub mod plugins;
pub mod ports;
pub mod probe;
pub mod render;
pub mod term;

pub use commands::{Context, list_terminals};
pub use endpoint::{Endpoint, connect};
pub use error::{CliError, EXIT_UNKNOWN, EXIT_USAGE};
pub use output::Output;
pub use render::{print_terminals, render_check_stream};

/// Facts about the process's surroundings that decide presentation, read
/// once by `main` (never from here, so tests need not mutate the environment).
#[derive(Debug, Clone, Copy, Default)]
pub struct Tty {
    /// stdout is a terminal.
    pub stdout_tty: bool,
    /// stderr is a terminal (progress is shown there).
    pub stderr_tty: bool,
}

/// Runs a parsed command line; returns the exit code. `no_color` is the
/// value of `NO_COLOR`.
pub async fn run(cli: cli::Cli, term: Tty, no_color: Option<&str>) -> anyhow::Result<u8> {
    let endpoint: Endpoint = cli.endpoint.parse().map_err(CliError::Usage)?;
    let out = Output {
        lang: cli.lang,
        json: cli.json,
        color: !cli.json && output::use_color(cli.color, term.stdout_tty, no_color),
        progress: term.stderr_tty,
    };
    let ctx = Context { endpoint, out };
    match cli.command {
        cli::Command::Demo(args) => demo::run(args, &ctx).await,
        cli::Command::Plugin(cmd) => Ok(plugin_verify::run(cmd).await?),
        other => Ok(commands::dispatch(other, &ctx).await?),
    }
}
