//! `posdiag`, the command-line client of posdiagd: parse the arguments, run
//! the command, print errors in the chosen language and exit with the
//! monitoring-plugin code (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN, 64 usage).

#![forbid(unsafe_code)]

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use posdiag_cli::cli::Cli;
use posdiag_cli::{CliError, Tty, term};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // Help and --version go to stdout and succeed; usage errors exit
            // 64, or 2 for `posdiag id` (its validator convention).
            let code = if e.use_stderr() {
                posdiag_cli::id::usage_exit_code(std::env::args_os())
            } else {
                0
            };
            // Through the masked channels like every other line: clap
            // echoes what was typed ("unexpected argument '4111…'").
            let (text, tty) = if e.use_stderr() {
                (e.render(), term::stderr_is_tty())
            } else {
                (e.render(), term::stdout_is_tty())
            };
            let text = if tty {
                text.ansi().to_string()
            } else {
                text.to_string()
            };
            let _ = if e.use_stderr() {
                term::stderr().write_all(text.as_bytes())
            } else {
                term::stdout().write_all(text.as_bytes())
            };
            return ExitCode::from(code);
        }
    };
    let lang = cli.lang;
    let term = Tty {
        stdout_tty: term::stdout_is_tty(),
        stderr_tty: term::stderr_is_tty(),
    };
    let no_color = std::env::var("NO_COLOR").ok();
    match posdiag_cli::run(cli, term, no_color.as_deref()).await {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            // A closed pipe (`posdiag watch | head`) is not worth a message.
            if let Some(CliError::Output(io)) = err.downcast_ref::<CliError>()
                && io.kind() == std::io::ErrorKind::BrokenPipe
            {
                return ExitCode::from(posdiag_cli::EXIT_UNKNOWN);
            }
            let (message, code) = posdiag_cli::error::report(&err, lang);
            let _ = writeln!(term::stderr(), "posdiag: {message}");
            ExitCode::from(code)
        }
    }
}
