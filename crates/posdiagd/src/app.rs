//! The daemon assembled: bound listeners, the engine, the gRPC services
//! (with health and reflection), readiness notification, configuration
//! reloads (`reload.rs`, announced to systemd as RELOADING=1 … READY=1) and
//! graceful shutdown. The demo runs this same `App` in process.

use std::future::Future;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use posdiag_engine::Engine;
use posdiag_proto::v1::check_service_server::CheckServiceServer;
use posdiag_proto::v1::code_service_server::CodeServiceServer;
use posdiag_proto::v1::emv_service_server::EmvServiceServer;
use posdiag_proto::v1::history_service_server::HistoryServiceServer;
use posdiag_proto::v1::id_service_server::IdServiceServer;
use posdiag_proto::v1::plugin_service_server::PluginServiceServer;
use posdiag_proto::v1::port_service_server::PortServiceServer;
use posdiag_proto::v1::terminal_service_server::TerminalServiceServer;
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::{mpsc, watch};
use tokio_stream::StreamExt;
use tokio_stream::wrappers::{TcpListenerStream, UnixListenerStream};
use tokio_util::sync::CancellationToken;
use tonic::transport::Server;
use tonic::transport::server::Router;
use tonic_health::server::HealthReporter;

use crate::config::{Config, Listen, check_listen};
use crate::live::LiveConfig;
use crate::reload::{ReloadOutcome, ReloadSource, Reloader};
use crate::service::Api;

/// The layers around every listener's services: request counting, then
/// the auth decision, then the status egress.
type Layers = tower::layer::util::Stack<
    crate::status::EgressLayer,
    tower::layer::util::Stack<
        crate::auth::layer::AuthLayer,
        tower::layer::util::Stack<crate::metrics::GrpcMetricsLayer, tower::layer::util::Identity>,
    >,
>;

#[derive(Debug)]
enum Bound {
    Unix(UnixListener, PathBuf),
    /// Plain HTTP/2 on a loopback address.
    Tcp(TcpListener),
    /// Mutual TLS.
    Tls(TcpListener),
}

/// A daemon whose sockets are bound and whose engine runs.
#[derive(Debug)]
pub struct App {
    config: Config,
    bound: Vec<Bound>,
    engine: Engine,
    plugins: crate::plugin_service::Loaded,
    daemon: crate::daemon_state::DaemonState,
    /// `--listen`: replaces the file's addresses, now and on reloads.
    cli_listen: Vec<Listen>,
    /// Where reloads read from, and the requests to reload.
    reload: Option<(ReloadSource, mpsc::Receiver<()>)>,
    outcomes: watch::Sender<Option<Arc<ReloadOutcome>>>,
    /// `[metrics] listen`, bound.
    metrics: Option<TcpListener>,
    /// The web console's listener (`[console] listen`), when it is on.
    console: Option<crate::console::Bound>,
    /// `[export.otlp]`: findings queue from before the engine starts.
    otlp: Option<crate::otlp::Queue>,
}

impl App {
    /// Binds every listen address (`listen` replaces the config's when not
    /// empty) and starts the engine. Nothing is bound if any address is bad.
    pub async fn bind(config: Config, listen: Vec<Listen>) -> anyhow::Result<App> {
        let cli_listen = listen.clone();
        let addrs = if listen.is_empty() {
            config.listen.clone()
        } else {
            listen
        };
        for l in &addrs {
            check_listen(l, &config).map_err(|m| anyhow::anyhow!("--listen {l}: {m}"))?;
        }
        let mut bound = Vec::new();
        for l in &addrs {
            bound.push(bind_one(l, config.socket_mode).await?);
        }
        let metrics = match config.metrics.listen {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("binding the metrics listener on tcp:{addr}"))?,
            ),
            None => None,
        };
        let console = crate::console::Bound::bind(&config).await?;
        let daemon = crate::daemon_state::DaemonState::open(&config.history)?;
        let plugins = crate::plugin_service::load(&config.plugins);
        for t in config.terminals.iter().map(|t| &t.spec) {
            if let Some(id) = &t.plugin
                && !plugins.entries.iter().any(|e| &e.bundle.manifest.id == id)
            {
                tracing::warn!(terminal = %t.id, plugin = %id, "the terminal's plugin is not loaded; its plugin checks will not run (see `posdiag plugins`)");
            }
        }
        let mut engine_config = config.engine_config();
        engine_config.plugins = std::sync::Arc::new(plugins.entries.clone());
        engine_config.history = daemon.history().cloned();
        let otlp = config.export.otlp.as_ref().map(crate::otlp::Queue::open);
        let engine = Engine::start(engine_config);
        Ok(App {
            config,
            bound,
            engine,
            plugins,
            daemon,
            cli_listen,
            reload: None,
            outcomes: watch::Sender::new(None),
            metrics,
            console,
            otlp,
        })
    }

    /// The web console's address (`http://127.0.0.1:8631/`), when it is on.
    pub fn console_url(&self) -> Option<String> {
        self.console.as_ref().map(crate::console::Bound::url)
    }

    /// Reloads the configuration from `source` on each message of
    /// `requests` once the daemon is ready (SIGHUP, in `posdiagd`), one
    /// reload at a time; the sender coalesces requests by keeping one
    /// message at most (a channel of capacity 1, `try_send`).
    pub fn reload_on(mut self, source: ReloadSource, requests: mpsc::Receiver<()>) -> App {
        self.reload = Some((source, requests));
        self
    }

    /// The outcome of the last reload, `None` before the first; changes
    /// with each reload (e.g. to record it).
    pub fn reloads(&self) -> watch::Receiver<Option<Arc<ReloadOutcome>>> {
        self.outcomes.subscribe()
    }

    /// Where clients reach the daemon: `unix:PATH` or `http://ADDR`.
    pub fn endpoints(&self) -> Vec<String> {
        self.bound
            .iter()
            .map(|b| match b {
                Bound::Unix(_, p) => format!("unix:{}", p.display()),
                Bound::Tcp(l) => l
                    .local_addr()
                    .map(|a| format!("http://{a}"))
                    .unwrap_or_else(|_| "http://?".into()),
                Bound::Tls(l) => l
                    .local_addr()
                    .map(|a| format!("https://{a}"))
                    .unwrap_or_else(|_| "https://?".into()),
            })
            .collect()
    }

    /// Where Prometheus scrapes: `http://ADDR/metrics`, when configured.
    pub fn metrics_endpoint(&self) -> Option<String> {
        let addr = self.metrics.as_ref()?.local_addr().ok()?;
        Some(format!("http://{addr}/metrics"))
    }

    /// Serves until `shutdown` resolves, then stops within the configured
    /// bound: in-flight checks are cancelled (their streams end with a
    /// `check.cancelled` finding), open watches end, sockets are removed.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
        let App {
            config,
            bound,
            engine,
            plugins,
            daemon,
            cli_listen,
            reload,
            outcomes,
            metrics,
            console,
            otlp,
        } = self;
        let plugin_api = crate::plugin_service::Plugins::new(
            engine.clone(),
            plugins.dir.clone(),
            plugins.refused.clone(),
        );
        let (health, health_service) = tonic_health::server::health_reporter();
        set_health(&health, true).await;
        // Per-plugin health names follow each plugin's state, and so does
        // the history's; plugin faults go to the history as they are seen.
        {
            let health = health.clone();
            let engine = engine.clone();
            let daemon = daemon.clone();
            tokio::spawn(async move {
                let mut every = tokio::time::interval(std::time::Duration::from_secs(1));
                let mut faults = crate::plugin_service::FaultWatch::default();
                loop {
                    tokio::select! {
                        _ = engine.shutting_down() => return,
                        _ = every.tick() => {}
                    }
                    let history_ok = match daemon.store() {
                        crate::daemon_state::Store::Open(h) => h.status().degraded.is_none(),
                        _ => false,
                    };
                    health
                        .set_service_status(
                            "posdiag.v1.HistoryService",
                            if history_ok {
                                tonic_health::ServingStatus::Serving
                            } else {
                                tonic_health::ServingStatus::NotServing
                            },
                        )
                        .await;
                    for fault in faults.changes(engine.plugins()) {
                        daemon.record(posdiag_history::Record::PluginFault(fault));
                    }
                    for p in engine.plugins().iter() {
                        let ready = p.plugin.status().state
                            == posdiag_plugin_supervisor::PluginState::Ready;
                        let status = if ready {
                            tonic_health::ServingStatus::Serving
                        } else {
                            tonic_health::ServingStatus::NotServing
                        };
                        health
                            .set_service_status(
                                crate::plugin_service::health_name(&p.bundle.manifest.id),
                                status,
                            )
                            .await;
                    }
                }
            });
        }
        let reflection = || {
            tonic_reflection::server::Builder::configure()
                .register_encoded_file_descriptor_set(posdiag_proto::FILE_DESCRIPTOR_SET)
                .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        };
        let reflection_v1 = reflection()
            .build_v1()
            .context("building the reflection service")?;
        let reflection_v1alpha = reflection()
            .build_v1alpha()
            .context("building the v1alpha reflection service")?;
        // What the services read per request; a reload publishes anew.
        let (live_tx, live) = LiveConfig::channel(&config);
        let api = Api::new(
            engine.clone(),
            live.clone(),
            daemon.clone(),
            outcomes.subscribe(),
        )
        .with_doctor(crate::doctor::Doctor::new(
            engine.clone(),
            live.clone(),
            daemon.clone(),
        ));
        let history_api = crate::history_service::HistoryApi::new(engine.clone(), daemon.clone());
        let ids = crate::id_service::Ids::new(live.clone());
        let codes = crate::code_service::Codes::new(live.clone());
        let symptoms = crate::symptom_service::Symptoms::new(live.clone());
        for warning in &config.warnings {
            tracing::warn!("{warning}");
        }
        // Reloads asked for over the API (AdminService) join SIGHUP's loop.
        let (admin_tx, admin_rx) = mpsc::channel::<crate::admin_service::ReloadAsk>(4);
        let admin = crate::admin_service::Admin::new(reload.is_some().then_some(admin_tx));
        // Who may do what: decided per call before any handler, per listener.
        let auth_state = crate::auth::layer::AuthState::new(live.clone(), daemon.clone());
        let max_message = config.auth.limits.max_message_bytes;
        let grpc_counters = Arc::new(crate::metrics::GrpcCounters::default());
        // Every service once; each listener (and the console's in-process
        // client) serves these routes behind its own auth layer.
        let routes = tonic::service::Routes::new(health_service.clone())
            .add_service(reflection_v1.clone())
            .add_service(reflection_v1alpha.clone())
            .add_service(
                TerminalServiceServer::new(api.clone()).max_decoding_message_size(max_message),
            )
            .add_service(
                CheckServiceServer::new(api.clone()).max_decoding_message_size(max_message),
            )
            .add_service(IdServiceServer::new(ids.clone()).max_decoding_message_size(max_message))
            .add_service(
                CodeServiceServer::new(codes.clone()).max_decoding_message_size(max_message),
            )
            .add_service(
                EmvServiceServer::new(crate::emv_service::Emv)
                    .max_decoding_message_size(max_message),
            )
            .add_service(
                posdiag_proto::v1::symptom_service_server::SymptomServiceServer::new(
                    symptoms.clone(),
                )
                .max_decoding_message_size(max_message),
            )
            .add_service(PortServiceServer::new(api.clone()).max_decoding_message_size(max_message))
            .add_service(
                PluginServiceServer::new(plugin_api.clone()).max_decoding_message_size(max_message),
            )
            .add_service(
                HistoryServiceServer::new(history_api.clone())
                    .max_decoding_message_size(max_message),
            )
            .add_service(
                posdiag_proto::v1::admin_service_server::AdminServiceServer::new(admin.clone())
                    .max_decoding_message_size(max_message),
            );
        let router = |listener: crate::auth::layer::Listener| -> Router<Layers> {
            Server::builder()
                // A dead peer's connection is closed, not kept forever.
                .http2_keepalive_interval(Some(std::time::Duration::from_secs(60)))
                .http2_keepalive_timeout(Some(std::time::Duration::from_secs(20)))
                .tcp_keepalive(Some(std::time::Duration::from_secs(60)))
                // Outside the auth layer: refused calls are counted too.
                .layer(crate::metrics::GrpcMetricsLayer::new(grpc_counters.clone()))
                .layer(crate::auth::layer::AuthLayer::new(
                    auth_state.clone(),
                    listener,
                ))
                // Every status passes the mask and the length bound on its way out.
                .layer(crate::status::EgressLayer)
                .add_routes(routes.clone())
        };

        let stop = CancellationToken::new();
        let watchdog_target = watchdog_target(&bound);
        let mut servers = tokio::task::JoinSet::new();
        let mut sockets = Vec::new();
        for b in bound {
            let token = stop.clone();
            match b {
                Bound::Unix(l, path) => {
                    use std::os::unix::fs::MetadataExt;
                    let socket_gid = std::fs::metadata(&path).ok().map(|m| m.gid());
                    sockets.push(OwnSocket::of(path));
                    let r = router(crate::auth::layer::Listener::Unix { socket_gid });
                    servers.spawn(async move {
                        // Path-like `:authority` values of C-core, Java and Swift clients.
                        let incoming = UnixListenerStream::new(l)
                            .map(|c| c.map(crate::uds_authority::UdsStream::new));
                        r.serve_with_incoming_shutdown(incoming, token.cancelled_owned())
                            .await
                    });
                }
                Bound::Tcp(l) => {
                    let r = router(crate::auth::layer::Listener::Loopback);
                    servers.spawn(async move {
                        // Small gRPC messages must not wait for delayed ACKs (Nagle).
                        let incoming = TcpListenerStream::new(l).map(|c| {
                            c.inspect(|s| {
                                let _ = s.set_nodelay(true);
                            })
                        });
                        r.serve_with_incoming_shutdown(incoming, token.cancelled_owned())
                            .await
                    });
                }
                Bound::Tls(l) => {
                    let r = router(crate::auth::layer::Listener::Tls);
                    let (refused_tx, refused_rx) = mpsc::unbounded_channel();
                    tokio::spawn(record_refused(refused_rx, daemon.clone()));
                    let incoming = crate::auth::tls::incoming(
                        l,
                        live.clone(),
                        config.auth.limits.max_connections as usize,
                        token.clone(),
                        refused_tx,
                    );
                    servers.spawn(async move {
                        r.serve_with_incoming_shutdown(incoming, token.cancelled_owned())
                            .await
                    });
                }
            }
        }
        let sources =
            crate::metrics::Sources::new(engine.clone(), daemon.clone(), grpc_counters.clone());
        if let Some(l) = metrics {
            tokio::spawn(crate::metrics::serve(l, sources.clone(), stop.clone()));
        }
        if let Some(path) = config.metrics.textfile.clone() {
            tokio::spawn(crate::metrics::write_textfile_every(
                path,
                config.metrics.textfile_interval,
                sources.clone(),
                stop.clone(),
            ));
        }
        let otlp = match (&config.export.otlp, otlp) {
            (Some(c), Some(queue)) => crate::otlp::start(c, queue, sources.clone(), stop.clone()),
            _ => None,
        };
        let console_stop = CancellationToken::new();
        if let Some(bound) = console {
            tracing::info!(url = %bound.url(), "web console listening");
            crate::console::serve(
                bound,
                routes.clone(),
                auth_state.clone(),
                grpc_counters.clone(),
                live.clone(),
                console_stop.clone(),
            );
        }
        tracing::info!(terminals = config.terminals.len(), config = %config.origin, "posdiagd ready");
        notify_systemd("READY=1");
        if let Some(w) = crate::watchdog::Watchdog::from_env() {
            tracing::info!(
                every_ms = w.every.as_millis() as u64,
                "systemd watchdog: pinging while the engine and the gRPC server answer"
            );
            tokio::spawn(crate::watchdog::run(
                w,
                engine.clone(),
                watchdog_target,
                stop.clone(),
            ));
        }
        // Reloads start after READY=1, so systemd never sees RELOADING=1 first.
        let reloads = reload.map(|(source, mut requests)| {
            let mut reloader = Reloader {
                source,
                cli_listen,
                current: config.clone(),
                engine: engine.clone(),
                live: live_tx,
                outcomes,
            };
            let daemon = daemon.clone();
            let mut asks = admin_rx;
            tokio::spawn(async move {
                loop {
                    let reply = tokio::select! {
                        r = requests.recv() => match r {
                            Some(()) => None,
                            None => break,
                        },
                        Some(ask) = asks.recv() => Some(ask),
                    };
                    notify_systemd(&format!(
                        "RELOADING=1\nMONOTONIC_USEC={}\nSTATUS=reloading the configuration",
                        monotonic_usec()
                    ));
                    let outcome = reloader.reload().await;
                    daemon.record(posdiag_history::Record::Reload(posdiag_history::Reload {
                        applied: outcome.applied,
                        detail: outcome.detail.clone(),
                        at: outcome.at,
                    }));
                    // systemd shows STATUS in `systemctl status`; one line.
                    let detail = outcome.detail.en.replace('\n', " ");
                    let status = if outcome.applied {
                        format!("configuration reloaded: {detail}")
                    } else {
                        format!("configuration reload {detail}")
                    };
                    notify_systemd(&format!("READY=1\nSTATUS={status}"));
                    if let Some(reply) = reply {
                        let _ = reply.send(outcome);
                    }
                }
            })
        });

        tokio::select! {
            _ = shutdown => tracing::info!("shutting down"),
            Some(res) = servers.join_next() => {
                // A server ended on its own: that is a failure.
                engine.shutdown().await;
                close_history(daemon).await;
                remove_sockets(&sockets);
                match res {
                    Ok(Err(e)) => bail!("gRPC server failed: {e}"),
                    Err(e) => bail!("gRPC server task failed: {e}"),
                    Ok(Ok(())) => bail!("gRPC server stopped unexpectedly"),
                }
            }
        }
        if let Some(r) = &reloads {
            r.abort();
        }
        notify_systemd("STOPPING=1");
        console_stop.cancel();
        set_health(&health, false).await;
        let shutdown_timeout = live.now().shutdown_timeout;
        let graceful = async {
            stop.cancel();
            engine.shutdown().await;
            while servers.join_next().await.is_some() {}
        };
        if tokio::time::timeout(shutdown_timeout, graceful)
            .await
            .is_err()
        {
            tracing::warn!(
                timeout_ms = shutdown_timeout.as_millis() as u64,
                "clients did not close in time; closing their connections"
            );
            servers.abort_all();
        }
        // The last findings (cancelled checks') to the OTLP collector, bounded.
        if let Some(o) = otlp {
            o.finish().await;
        }
        // Whatever the writer still holds is committed before the exit.
        close_history(daemon).await;
        remove_sockets(&sockets);
        tracing::info!("stopped");
        Ok(())
    }
}

/// Which listener the watchdog's probe calls: a unix socket first, then
/// loopback TCP, else a TLS listener (connect only).
fn watchdog_target(bound: &[Bound]) -> Option<crate::watchdog::Target> {
    use crate::watchdog::Target;
    let unix = bound.iter().find_map(|b| match b {
        Bound::Unix(_, p) => Some(Target::Unix(p.clone())),
        _ => None,
    });
    let tcp = || {
        bound.iter().find_map(|b| match b {
            Bound::Tcp(l) => l.local_addr().ok().map(Target::Tcp),
            _ => None,
        })
    };
    let tls = || {
        bound.iter().find_map(|b| match b {
            Bound::Tls(l) => l.local_addr().ok().map(Target::Connect),
            _ => None,
        })
    };
    unix.or_else(tcp).or_else(tls)
}

/// Audit rows of TLS connections refused during the handshake (unknown
/// CA, expired certificate, no certificate at all).
async fn record_refused(
    mut refused: mpsc::UnboundedReceiver<crate::auth::tls::Refused>,
    daemon: crate::daemon_state::DaemonState,
) {
    while let Some(r) = refused.recv().await {
        tracing::warn!(target: "posdiag::audit", peer = %r.remote, authn = "mtls", decision = "denied", detail = %r.why, "TLS connection refused");
        daemon.record(posdiag_history::Record::ApiCall(posdiag_history::ApiCall {
            method: String::new(),
            caller: posdiag_history::Caller {
                peer: r.remote.to_string(),
                principal: r.principal,
                authn: "mtls".into(),
                ..posdiag_history::Caller::default()
            },
            target: String::new(),
            terminal: None,
            run_id: None,
            at: std::time::SystemTime::now(),
            decision: "denied".into(),
            tier: String::new(),
            code: Some(tonic::Code::Unauthenticated as i32),
            duration: std::time::Duration::ZERO,
            detail: r.why,
        }));
    }
}

async fn close_history(daemon: crate::daemon_state::DaemonState) {
    let _ = tokio::task::spawn_blocking(move || daemon.close()).await;
}

async fn set_health(h: &HealthReporter, serving: bool) {
    let status = if serving {
        tonic_health::ServingStatus::Serving
    } else {
        tonic_health::ServingStatus::NotServing
    };
    for name in [
        "",
        "posdiag.v1.TerminalService",
        "posdiag.v1.CheckService",
        "posdiag.v1.IdService",
        "posdiag.v1.CodeService",
        "posdiag.v1.EmvService",
        "posdiag.v1.SymptomService",
        "posdiag.v1.PortService",
        "posdiag.v1.PluginService",
        "posdiag.v1.HistoryService",
        "posdiag.v1.AdminService",
    ] {
        h.set_service_status(name, status).await;
    }
}

async fn bind_one(l: &Listen, mode: u32) -> anyhow::Result<Bound> {
    match l {
        Listen::Tcp(addr) | Listen::Tls(addr) => {
            let listener = TcpListener::bind(addr)
                .await
                .with_context(|| format!("binding gRPC listener on {l}"))?;
            Ok(if l.is_tls() {
                Bound::Tls(listener)
            } else {
                Bound::Tcp(listener)
            })
        }
        Listen::Unix(path) => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating the socket directory {}", dir.display()))?;
            }
            if path.exists() {
                // A socket that answers belongs to a running daemon; one
                // that does not is left over from a crash.
                if tokio::net::UnixStream::connect(path).await.is_ok() {
                    bail!(
                        "{} is in use: another posdiagd is running there (stop it, or pass another --listen unix:PATH)",
                        path.display()
                    );
                }
                std::fs::remove_file(path)
                    .with_context(|| format!("removing the stale socket {}", path.display()))?;
            }
            let listener = UnixListener::bind(path)
                .with_context(|| format!("binding gRPC listener on unix:{}", path.display()))?;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
                .with_context(|| format!("setting mode {mode:o} on {}", path.display()))?;
            Ok(Bound::Unix(listener, path.clone()))
        }
    }
}

/// A socket this daemon bound: its path and the file it made there.
#[derive(Debug)]
struct OwnSocket {
    path: PathBuf,
    /// Device and inode of the socket file right after bind.
    file: Option<(u64, u64)>,
}

impl OwnSocket {
    fn of(path: PathBuf) -> OwnSocket {
        use std::os::unix::fs::MetadataExt;
        let file = std::fs::symlink_metadata(&path)
            .ok()
            .map(|m| (m.dev(), m.ino()));
        OwnSocket { path, file }
    }
}

/// Removes the sockets this daemon made, but only where the file at the
/// path is still the one it bound: another daemon started on the same path
/// since (after removing ours as stale) keeps its live socket.
fn remove_sockets(sockets: &[OwnSocket]) {
    use std::os::unix::fs::MetadataExt;
    for s in sockets {
        let now = std::fs::symlink_metadata(&s.path)
            .ok()
            .map(|m| (m.dev(), m.ino()));
        if now.is_some() && now == s.file {
            let _ = std::fs::remove_file(&s.path);
        } else if now.is_some() {
            tracing::info!(path = %s.path.display(), "the socket path now holds another process's socket; leaving it");
        }
    }
}

/// CLOCK_MONOTONIC in microseconds, as systemd wants it with RELOADING=1
/// (`sd_notify(3)`: `MONOTONIC_USEC`).
fn monotonic_usec() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    (t.tv_sec as u64) * 1_000_000 + (t.tv_nsec as u64) / 1_000
}

/// Sends `state` to systemd's notification socket when `NOTIFY_SOCKET` is
/// set (`sd_notify(3)`); a no-op otherwise.
pub(crate) fn notify_systemd(state: &str) {
    let Some(target) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let sent = (|| -> std::io::Result<()> {
        use std::os::unix::net::{SocketAddr, UnixDatagram};
        let sock = UnixDatagram::unbound()?;
        let bytes = target.as_encoded_bytes();
        if let Some(name) = bytes.strip_prefix(b"@") {
            use std::os::linux::net::SocketAddrExt;
            let addr = SocketAddr::from_abstract_name(name)?;
            sock.send_to_addr(state.as_bytes(), &addr)?;
        } else {
            sock.send_to(state.as_bytes(), PathBuf::from(&target))?;
        }
        Ok(())
    })();
    if let Err(e) = sent {
        tracing::warn!(error = %e, "could not notify systemd");
    }
}
