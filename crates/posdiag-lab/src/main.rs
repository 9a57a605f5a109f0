//! `posdiag-lab`: runs `posdiag demo` and `posdiag plugin verify`, which the
//! `posdiag` client execs with the same arguments. Parses the client's own
//! command line, so usage, output and exit codes are the same.

#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;
use posdiag_cli::cli::Cli;
use posdiag_cli::{Tty, term};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return ExitCode::from(posdiag_cli::clap_exit(&e, std::env::args_os())),
    };
    let lang = cli.lang;
    let term = Tty {
        stdout_tty: term::stdout_is_tty(),
        stderr_tty: term::stderr_is_tty(),
    };
    let no_color = std::env::var("NO_COLOR").ok();
    match posdiag_lab::run(cli, term, no_color.as_deref()).await {
        Ok(code) => ExitCode::from(code),
        Err(err) => ExitCode::from(posdiag_cli::report_error(&err, lang)),
    }
}
