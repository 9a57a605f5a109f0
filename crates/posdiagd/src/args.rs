//! posdiagd's command line, in the library so that its man page and shell
//! completions (`posdiag-dist`, for the Debian package) are generated from the
//! same definition the binary parses.

use std::path::PathBuf;

use clap::Parser;

use crate::Listen;

/// The posdiag diagnostic daemon.
#[derive(Debug, Parser)]
#[command(
    name = "posdiagd",
    version,
    about = "The posdiag diagnostic daemon",
    long_about = "The posdiag diagnostic daemon: checks payment terminals and the acquirer hosts \
                  they depend on, keeps the findings, and answers over a gRPC API (the posdiag \
                  command). Runs as a systemd service (posdiagd.service, Type=notify); SIGHUP \
                  re-reads the configuration, SIGTERM stops it. Exit status 64: an invalid \
                  configuration or command line."
)]
pub struct Args {
    /// Configuration file.
    #[arg(
        long,
        value_name = "FILE",
        default_value = "/etc/posdiag/posdiagd.toml"
    )]
    pub config: PathBuf,
    /// Where to listen, replacing the configuration's list: unix:PATH,
    /// tcp:ADDR:PORT (loopback) or tls:ADDR:PORT (mutual TLS, [auth.tls]).
    /// May be repeated.
    #[arg(long, value_name = "ADDR", value_parser = Listen::parse)]
    pub listen: Vec<Listen>,
    /// Load vendor plugin bundles from DIR instead of the configuration's
    /// `plugins.dir`.
    #[arg(long, value_name = "DIR")]
    pub plugin_dir: Option<PathBuf>,
    /// Validate FILE, print what it configures and exit (0 valid, 64 invalid).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["listen"])]
    pub check_config: Option<PathBuf>,
}
