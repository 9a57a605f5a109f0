//! `posdiagd`: parse arguments, load the configuration, run the daemon,
//! map failures to exit codes (64 for configuration and usage errors).

use std::process::ExitCode;

use clap::Parser as _;
use posdiagd::args::Args;
use posdiagd::{App, Listen, ReloadSource, config, logging};

const EX_CONFIG: u8 = 64;

fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(a) => a,
        Err(e) if e.use_stderr() => {
            let _ = e.print();
            return ExitCode::from(EX_CONFIG);
        }
        Err(e) => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
    };
    let path = args.check_config.as_ref().unwrap_or(&args.config);
    let mut config = match config::load(path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("posdiagd: invalid configuration: {e}");
            return ExitCode::from(EX_CONFIG);
        }
    };
    if let Some(dir) = &args.plugin_dir {
        if !dir.is_dir() {
            eprintln!(
                "posdiagd: --plugin-dir {}: not a directory; expected the directory holding plugin bundles",
                dir.display()
            );
            return ExitCode::from(EX_CONFIG);
        }
        config.plugins.dir = Some(dir.clone());
    }
    // Refused here, before anything is bound, as a usage error (64); the
    // socket path's length is checked when the argument is parsed.
    for l in &args.listen {
        if let Err(m) = config::check_listen(l, &config) {
            eprintln!("posdiagd: --listen {l}: {m}");
            return ExitCode::from(EX_CONFIG);
        }
    }
    if args.check_config.is_some() {
        // A running daemon logs these through tracing instead.
        for warning in &config.warnings {
            eprintln!("posdiagd: warning: {warning}");
        }
        let hosts: usize = config.terminals.iter().map(|t| t.spec.hosts.len()).sum();
        println!(
            "{}: valid ({} terminals, {hosts} host checks)",
            path.display(),
            config.terminals.len()
        );
        return ExitCode::SUCCESS;
    }
    logging::init(config.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("posdiagd: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let source = ReloadSource {
        path: args.config,
        plugin_dir: args.plugin_dir,
    };
    match runtime.block_on(run(config, args.listen, source)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("posdiagd: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(
    config: config::Config,
    listen: Vec<Listen>,
    source: ReloadSource,
) -> anyhow::Result<()> {
    // The handlers are installed before READY=1: a stop that arrives right
    // after start-up is a clean shutdown, not the signal's default (death),
    // and a SIGHUP a reload once the daemon is ready.
    let shutdown = shutdown_signal();
    let hangups = reload_requests();
    ignore_file_size_limit();
    let app = App::bind(config, listen).await?.reload_on(source, hangups);
    for e in app.endpoints() {
        tracing::info!(endpoint = %e, "listening");
    }
    if let Some(m) = app.metrics_endpoint() {
        tracing::info!(endpoint = %m, "serving Prometheus metrics");
    }
    app.run(shutdown).await
}

/// SIGTERM (systemd stop) or SIGINT (Ctrl-C). The handlers are installed
/// when this is called, not when the future is first polled.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{SignalKind, signal};
    let term = signal(SignalKind::terminate());
    let int = signal(SignalKind::interrupt());
    async move {
        match (term, int) {
            (Ok(mut t), Ok(mut i)) => {
                tokio::select! {
                    _ = t.recv() => {}
                    _ = i.recv() => {}
                }
            }
            (Ok(mut t), Err(_)) => {
                t.recv().await;
            }
            (Err(_), Ok(mut i)) => {
                i.recv().await;
            }
            (Err(_), Err(_)) => std::future::pending().await,
        }
    }
}

/// SIGXFSZ (a write past the process's file-size limit, RLIMIT_FSIZE) would
/// kill the daemon by default; handled, the write fails with EFBIG instead,
/// and the history counts it, says "history degraded" and recovers when the
/// limit allows again, like on a full disk.
fn ignore_file_size_limit() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::from_raw(libc::SIGXFSZ)) {
        Ok(mut xfsz) => {
            tokio::spawn(async move {
                while xfsz.recv().await.is_some() {
                    tracing::debug!(
                        signal = "SIGXFSZ",
                        "a write went past the file-size limit; it failed and is counted"
                    );
                }
            });
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot handle SIGXFSZ; a write past the file-size limit will stop posdiagd")
        }
    }
}

/// SIGHUP (`systemctl reload`, `kill -HUP`) asks for a reload of the
/// configuration file. Requests coalesce: while one reload runs, any number
/// of further SIGHUPs make one more. Without a handler a SIGHUP would kill
/// the daemon (and systemd counts that as a clean exit).
fn reload_requests() -> tokio::sync::mpsc::Receiver<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    match signal(SignalKind::hangup()) {
        Ok(mut hup) => {
            tokio::spawn(async move {
                while hup.recv().await.is_some() {
                    tracing::info!(signal = "SIGHUP", "reloading the configuration");
                    // Full: a reload is already pending, which will read the file anew.
                    let _ = tx.try_send(());
                }
            });
        }
        Err(e) => tracing::warn!(error = %e, "cannot handle SIGHUP; a SIGHUP will stop posdiagd"),
    }
    rx
}
