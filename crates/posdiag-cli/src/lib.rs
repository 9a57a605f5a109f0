//! The `posdiag` command-line client as a library: argument definitions,
//! connecting to posdiagd, and rendering its answers, so `posdiag-lab` (the
//! demo) and tests can reuse every piece. The binary (`main.rs`) only reads
//! its surroundings, calls [`run`] and maps errors to exit codes.
//!
//! The CLI talks to nothing but posdiagd's gRPC API, except `posdiag id
//! --local`, `posdiag id audit` and `posdiag explain --local`, which
//! validate with `posdiag-ids` and read `posdiag-codes` in process. `demo`
//! and `plugin verify` run in the sibling `posdiag-lab` binary ([`lab`]).
//! `history` and `availability` read the daemon's HistoryService
//! ([`history`], [`availability`]); times are shown in local time ([`when`]).

#![forbid(unsafe_code)]

pub mod audit;
pub mod availability;
pub mod bundle;
pub mod cli;
pub mod commands;
pub mod doctor;
pub mod emv;
pub mod emv_receipt;
pub mod endpoint;
pub mod error;
pub mod explain;
pub mod history;
pub mod i18n;
pub mod id;
pub mod json;
pub mod lab;
pub mod output;
pub mod plugins;
pub mod ports;
pub mod probe;
pub mod render;
pub mod symptom;
pub mod term;
pub mod tls;
pub mod when;

use std::ffi::OsString;
use std::io::Write as _;

pub use commands::{Context, list_terminals};
pub use endpoint::{Endpoint, connect};
pub use error::{CliError, EXIT_UNKNOWN, EXIT_USAGE};
pub use lab::Launch;
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

/// The context a parsed command line runs in; `no_color` is the value of
/// `NO_COLOR`.
pub fn context(cli: &cli::Cli, term: Tty, no_color: Option<&str>) -> Result<Context, CliError> {
    let endpoint: Endpoint = cli.endpoint.parse().map_err(CliError::Usage)?;
    let out = Output {
        lang: cli.lang,
        json: cli.json,
        color: !cli.json && output::use_color(cli.color, term.stdout_tty, no_color),
        progress: term.stderr_tty,
    };
    let creds = tls::Credentials {
        ca: cli.tls_ca.clone(),
        cert: cli.tls_cert.clone(),
        key: cli.tls_key.clone(),
        token: cli.token_file.as_deref().map(tls::read_token).transpose()?,
    };
    Ok(Context {
        endpoint,
        out,
        creds,
    })
}

/// Runs a parsed command line; returns the exit code. `no_color` is the
/// value of `NO_COLOR`; `launch` says how to reach `posdiag-lab`.
pub async fn run(
    cli: cli::Cli,
    term: Tty,
    no_color: Option<&str>,
    launch: &Launch,
) -> anyhow::Result<u8> {
    let ctx = context(&cli, term, no_color)?;
    match cli.command {
        cli::Command::Demo(_) | cli::Command::Plugin(_) => Ok(lab::exec(launch, ctx.out.lang)?),
        other => match commands::dispatch(other, &ctx).await {
            // A transport failure over TLS: ask the TLS layer why.
            Err(e) if e.is_transport_failure() => {
                match endpoint::tls_diagnosis(&ctx.endpoint, &ctx.creds).await {
                    Some(why) => Err(why.into()),
                    None => Err(e.into()),
                }
            }
            r => Ok(r?),
        },
    }
}

/// Prints a command line clap rejected (or its `--help`/`--version`)
/// through the masked channels and returns the exit code: 0 for help and
/// version, 64 for a usage error, 2 under `posdiag id`. `args` is the
/// command line including the program name.
pub fn clap_exit(e: &clap::Error, args: impl IntoIterator<Item = OsString>) -> u8 {
    // Help and --version go to stdout and succeed; usage errors exit
    // 64, or 2 for `posdiag id` (its validator convention).
    let code = if e.use_stderr() {
        id::usage_exit_code(args)
    } else {
        0
    };
    // Through the masked channels like every other line: clap
    // echoes what was typed ("unexpected argument '4111…'").
    let tty = if e.use_stderr() {
        term::stderr_is_tty()
    } else {
        term::stdout_is_tty()
    };
    let text = e.render();
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
    code
}

/// Prints an error that reached `main` in `lang` and returns its exit code
/// (a closed pipe, as in `posdiag watch | head`, is not worth a message).
pub fn report_error(err: &anyhow::Error, lang: posdiag_core::Lang) -> u8 {
    if let Some(CliError::Output(io)) = err.downcast_ref::<CliError>()
        && io.kind() == std::io::ErrorKind::BrokenPipe
    {
        return EXIT_UNKNOWN;
    }
    let (message, code) = error::report(err, lang);
    errln!("posdiag: {message}");
    code
}
