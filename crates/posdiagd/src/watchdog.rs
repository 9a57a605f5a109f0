//! The systemd watchdog (`WatchdogSec=` in the unit): when systemd asks for
//! it (`WATCHDOG_USEC`, and `WATCHDOG_PID` naming this process if set),
//! `WATCHDOG=1` is sent every half interval, but only after an internal
//! liveness probe answered within that half interval: every terminal task
//! of the engine answers a snapshot request, and the gRPC server answers a
//! health check on one of its own listeners (a TLS-only daemon: a TCP
//! connect). A wedged engine or server therefore stops the pings, and
//! systemd restarts the daemon (`Restart=`). Never a free-running timer.
//!
//! Test hook: when `POSDIAG_TEST_WEDGE_FILE` names a file that exists, the
//! engine's first terminal task is wedged on purpose
//! ([`posdiag_engine::Engine::wedge_for_test`]), so a test can see the
//! pings stop. Nothing else reads that variable.

use std::path::PathBuf;
use std::time::Duration;

use posdiag_engine::Engine;
use tokio_util::sync::CancellationToken;

/// What systemd asked for, read once from the environment.
#[derive(Debug, Clone)]
pub(crate) struct Watchdog {
    /// Half of `WATCHDOG_USEC`: how often to ping.
    pub every: Duration,
    /// `POSDIAG_TEST_WEDGE_FILE`.
    pub wedge_file: Option<PathBuf>,
}

impl Watchdog {
    /// `Some` when systemd enabled the watchdog for this process
    /// (`sd_watchdog_enabled(3)`'s rules).
    pub fn from_env() -> Option<Watchdog> {
        let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.trim().parse().ok()?;
        if usec == 0 {
            return None;
        }
        if let Ok(pid) = std::env::var("WATCHDOG_PID")
            && pid.trim().parse::<u32>().ok() != Some(std::process::id())
        {
            return None;
        }
        Some(Watchdog {
            every: Duration::from_micros(usec / 2).max(Duration::from_millis(10)),
            wedge_file: std::env::var_os("POSDIAG_TEST_WEDGE_FILE").map(PathBuf::from),
        })
    }
}

/// How the probe reaches the gRPC server.
#[derive(Debug, Clone)]
pub(crate) enum Target {
    /// A unix socket: a health check (the daemon's own uid may call it).
    Unix(PathBuf),
    /// A loopback TCP listener: a health check.
    Tcp(std::net::SocketAddr),
    /// A mutual-TLS listener: the probe has no client certificate, so a
    /// TCP connect shows that the accept loop runs.
    Connect(std::net::SocketAddr),
}

/// Pings systemd while the probe answers, until `stop`.
pub(crate) async fn run(
    w: Watchdog,
    engine: Engine,
    target: Option<Target>,
    stop: CancellationToken,
) {
    let channel = target.as_ref().and_then(channel_to);
    let mut tick = tokio::time::interval(w.every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut wedged = false;
    let mut failing = false;
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        if !wedged && w.wedge_file.as_ref().is_some_and(|f| f.exists()) {
            wedged = true;
            engine.wedge_for_test().await;
        }
        // Each half of the probe within the ping interval.
        let verdict = match tokio::time::timeout(w.every, engine.alive()).await {
            Ok(true) => {
                match tokio::time::timeout(w.every, grpc_alive(target.as_ref(), channel.clone()))
                    .await
                {
                    Ok(r) => r,
                    Err(_) => Err("the gRPC server does not answer"),
                }
            }
            Ok(false) | Err(_) => Err("the engine does not answer"),
        };
        match verdict {
            Ok(()) => {
                if failing {
                    failing = false;
                    tracing::info!("watchdog: the liveness probe answers again");
                    crate::app::notify_systemd("WATCHDOG=1\nSTATUS=running");
                } else {
                    crate::app::notify_systemd("WATCHDOG=1");
                }
            }
            Err(why) => {
                if !failing {
                    failing = true;
                    tracing::error!(
                        "watchdog: {why}; not pinging systemd, which restarts posdiagd when WatchdogSec passes"
                    );
                    crate::app::notify_systemd(&format!("STATUS=watchdog: {why}"));
                }
            }
        }
    }
}

fn channel_to(t: &Target) -> Option<tonic::transport::Channel> {
    let endpoint = tonic::transport::Endpoint::from_static("http://localhost");
    match t {
        Target::Unix(path) => {
            let path = path.clone();
            Some(endpoint.connect_with_connector_lazy(tower::service_fn(
                move |_: tonic::transport::Uri| {
                    let path = path.clone();
                    async move {
                        Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(
                            tokio::net::UnixStream::connect(path).await?,
                        ))
                    }
                },
            )))
        }
        Target::Tcp(addr) => tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
            .ok()
            .map(|e| e.connect_lazy()),
        Target::Connect(_) => None,
    }
}

async fn grpc_alive(
    target: Option<&Target>,
    channel: Option<tonic::transport::Channel>,
) -> Result<(), &'static str> {
    match (target, channel) {
        (None, _) => Ok(()),
        (Some(Target::Connect(addr)), _) => tokio::net::TcpStream::connect(addr)
            .await
            .map(drop)
            .map_err(|_| "the gRPC listener does not accept connections"),
        (Some(_), Some(ch)) => {
            let mut client = tonic_health::pb::health_client::HealthClient::new(ch);
            client
                .check(tonic_health::pb::HealthCheckRequest {
                    service: String::new(),
                })
                .await
                .map(drop)
                .map_err(|_| "the gRPC server does not answer a health check")
        }
        (Some(_), None) => Err("the gRPC listener cannot be reached"),
    }
}
