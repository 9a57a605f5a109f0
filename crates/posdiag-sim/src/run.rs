//! Runs the simulator a validated [`Command`] describes until Ctrl-C or SIGTERM (a module of
//! the binary, not the library). Prints one `listening on ADDR (...)` line to stdout once the
//! simulator is ready, so scripts can wait for it.

use std::sync::Arc;

use anyhow::Context as _;
use posdiag_sim::pki::Pki;
use posdiag_sim::zvt;
use posdiag_sim::{dns, host, nexo};

use crate::cli::Command;

/// Starts the simulator, reports where it listens, and stops it on Ctrl-C or SIGTERM.
pub async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Zvt { config, scenario } => run_zvt(config, scenario).await?,
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
            let iso_note = match &config.answer {
                host::Answer::Iso8583(iso) => format!(", iso8583 dialect {}", iso.dialect().name()),
                _ => String::new(),
            };
            let running = host::start(config).await?;
            let stop = stop_signal()?;
            println!(
                "listening on {} (fault {fault}, tls {tls}, server name {}{iso_note}{ca_note})",
                running.addr(),
                running.server_name()
            );
            stop.await?;
            running.shutdown().await;
        }
        Command::Nexo { mut config, ca_out } => {
            let mut ca_note = String::new();
            if config.tls {
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
            let fault = config.scenario.fault.to_string();
            let running = nexo::start(config).await?;
            let stop = stop_signal()?;
            println!(
                "listening on {} (nexo terminal, {}, fault {fault}{ca_note})",
                running.addr(),
                running.url()
            );
            stop.await?;
            running.shutdown().await;
        }
        Command::Dns(config) => {
            let names = config.records.len();
            let running = dns::start(config).await?;
            let stop = stop_signal()?;
            let transports = if running.serves_tcp() {
                "udp and tcp"
            } else {
                "udp only"
            };
            println!(
                "listening on {} ({transports}, {names} records)",
                running.addr()
            );
            stop.await?;
            running.shutdown().await;
        }
    }
    Ok(())
}

/// Ctrl-C or SIGTERM. The SIGTERM handler is installed when this is called,
/// before the `listening on` line a script waits for, so a stop sent right
/// after it is a clean stop, not the signal's default.
fn stop_signal() -> anyhow::Result<impl std::future::Future<Output = anyhow::Result<()>>> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("installing the SIGTERM handler")?;
    let mut int = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
        .context("installing the SIGINT handler")?;
    Ok(async move {
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
        tracing::info!("stopping");
        Ok(())
    })
}

/// Runs the ZVT terminal simulator: prints `pty PATH` (pty only) and the `listening on` line,
/// reloads the scenario file on SIGHUP, stops on Ctrl-C or SIGTERM.
async fn run_zvt(
    config: zvt::ZvtSimConfig,
    scenario: Option<std::path::PathBuf>,
) -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};

    let transport = config.transport.to_string();
    let running = zvt::start(config)?;
    // Installed before the lines a script waits for: a stop or reload sent
    // right after them is handled, not the signal's default (death).
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut hup = signal(SignalKind::hangup()).context("installing the SIGHUP handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    let place = match (running.local_addr(), running.device_path()) {
        (Some(addr), _) => addr.to_string(),
        (None, Some(path)) => path.display().to_string(),
        (None, None) => "nothing".to_owned(),
    };
    if matches!(running.transport(), zvt::ZvtTransport::Pty { .. }) {
        println!("pty {place}");
    }
    let source = scenario.as_ref().map_or_else(
        || "built-in scenario".to_owned(),
        |p| format!("scenario {}", p.display()),
    );
    println!("listening on {place} (zvt over {transport}, {source})");
    loop {
        tokio::select! {
            _ = int.recv() => break,
            _ = term.recv() => break,
            _ = hup.recv() => {
                let Some(path) = &scenario else {
                    tracing::info!("SIGHUP without --scenario: nothing to reload");
                    continue;
                };
                // A bad edit keeps the running scenario: the simulator must not die mid-test.
                match zvt::ZvtState::load(path) {
                    Ok(state) => {
                        running.update(|s| *s = state);
                        tracing::info!(scenario = %path.display(), "scenario reloaded");
                    }
                    Err(error) => tracing::warn!(%error, "scenario not reloaded"),
                }
            }
        }
    }
    tracing::info!("stopping");
    // Joining the simulator threads blocks for at most a tick or two.
    tokio::task::spawn_blocking(move || running.shutdown())
        .await
        .context("stopping the zvt simulator")?;
    Ok(())
}
