//! `posdiag`, the command-line client of posdiagd: parse the arguments, run
//! the command, print errors in the chosen language and exit with the
//! monitoring-plugin code (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN, 64 usage).

#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;
use posdiag_cli::cli::Cli;
use posdiag_cli::{Launch, Tty, term};

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
    // `demo` and `plugin verify` exec the sibling posdiag-lab with these;
    // cargo sets CARGO and CARGO_MANIFEST_DIR under `cargo run`.
    let launch = Launch {
        args: std::env::args_os().collect(),
        exe: std::env::current_exe().ok(),
        cargo: std::env::var_os("CARGO"),
        manifest_dir: std::env::var_os("CARGO_MANIFEST_DIR").map(Into::into),
    };
    match posdiag_cli::run(cli, term, no_color.as_deref(), &launch).await {
        Ok(code) => ExitCode::from(code),
        Err(err) => ExitCode::from(posdiag_cli::report_error(&err, lang)),
    }
}
