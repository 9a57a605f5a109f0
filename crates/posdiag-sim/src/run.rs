//! Runs the simulator a validated [`Command`] describes until Ctrl-C or SIGTERM (a module of
//! the binary, not the library). Prints one `listening on ADDR (...)` line to stdout once the
//! simulator is ready, so scripts can wait for it.

use std::sync::Arc;

use anyhow::Context as _;
use posdiag_sim::pki::Pki;
use posdiag_sim::{dns, host};

use crate::cli::Command;

/// Starts the simulator, reports where it listens, and stops it on Ctrl-C or SIGTERM.
pub async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Host { mut config, ca_out } => {
            let mut ca_note = String::new();
            if config.tls != host::TlsMode::Plain {
                // Generated here so the CA file exists before the listening line is printed.
                let pki = Arc::new(Pki::generate()?);
                if let Some(path) = &ca_out {
                    std::fs::write(path, pki.ca_pem()).with_context(|| {
                        format!("writing the CA certificate to {}", path.display())
                    })?;
                    ca_note = format!(", CA certificate in {}", path.display());
                }
                config.pki = Some(pki);
            }
            let (fault, tls) = (config.fault.to_string(), config.tls);
            let running = host::start(config).await?;
            println!(
                "listening on {} (fault {fault}, tls {tls}, server name {}{ca_note})",
                running.addr(),
                running.server_name()
            );
            wait_for_stop().await?;
            running.shutdown().await;
        }
        Command::Dns(config) => {
            let names = config.records.len();
            let running = dns::start(config).await?;
            let transports = if running.serves_tcp() {
                "udp and tcp"
            } else {
                "udp only"
            };
            println!(
                "listening on {} ({transports}, {names} records)",
                running.addr()
            );
            wait_for_stop().await?;
            running.shutdown().await;
        }
    }
    Ok(())
}

async fn wait_for_stop() -> anyhow::Result<()> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("installing the SIGTERM handler")?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result.context("waiting for Ctrl-C")?,
        _ = term.recv() => {}
    }
    tracing::info!("stopping");
    Ok(())
}
