//! posdiag's lab bench, as a library and the `posdiag-lab` binary: what needs
//! a daemon, simulators or a plugin host in one process, kept out of the
//! `posdiag` client (which talks only gRPC). `posdiag demo` and `posdiag
//! plugin verify` exec this binary with their arguments.
//!
//! - [`store`]: the simulated store, its daemon configuration, simulators and
//!   plugin bundles, written once and used by the demo, the end-to-end tests
//!   and the benchmarks;
//! - [`demo`]: the store in an in-process posdiagd, checked and diagnosed
//!   through the real gRPC API and rendered by the CLI's own code;
//! - [`verify`]: a vendor's conformance check of a plugin bundle.

#![forbid(unsafe_code)]

pub mod demo;
pub mod store;
pub mod verify;

use posdiag_cli::cli::{Cli, Command};
use posdiag_cli::{CliError, Tty};

/// Runs a parsed `posdiag` command line that is `demo` or `plugin ...`;
/// returns the exit code. `no_color` is the value of `NO_COLOR`.
pub async fn run(cli: Cli, term: Tty, no_color: Option<&str>) -> anyhow::Result<u8> {
    let ctx = posdiag_cli::context(&cli, term, no_color)?;
    match cli.command {
        Command::Demo(args) => demo::run(args, &ctx).await,
        Command::Plugin(cmd) => Ok(verify::run(cmd, ctx.out.lang).await?),
        _ => Err(CliError::Internal(
            "posdiag-lab runs only `demo` and `plugin verify`; use posdiag for the other commands"
                .into(),
        )
        .into()),
    }
}
