//! The gRPC services. Handlers are thin: validate, ask the engine, convert.

use std::pin::Pin;

use pb::check_service_server::CheckService;
use pb::terminal_service_server::TerminalService;
use std::sync::Arc;

use posdiag_engine::{CheckSet, Engine};
use posdiag_proto::v1 as pb;
use tokio::sync::{broadcast, mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::{Stream, StreamExt as _};
use tonic::{Request, Response, Status};

use crate::caller::{audit, caller};
use crate::convert;
use crate::daemon_state::DaemonState;
use crate::live::LiveConfig;
use crate::reload::ReloadOutcome;
use crate::status::{self, ApiError, OrStatus as _};

type EventStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

/// Both services, sharing the engine.
#[derive(Debug, Clone)]
pub struct Api {
    engine: Engine,
    /// Ad-hoc probe defaults, as of each request (they follow reloads).
    live: LiveConfig,
    doctor: Option<crate::doctor::Doctor>,
    daemon: DaemonState,
    /// The outcome of the last reload, `None` before the first.
    reloads: watch::Receiver<Option<Arc<ReloadOutcome>>>,
}

impl Api {
    /// Services backed by `engine`; ad-hoc probes use the configured
    /// defaults; ListTerminals reports the daemon's state and the last
    /// reload from `reloads`.
    pub(crate) fn new(
        engine: Engine,
        live: LiveConfig,
        daemon: DaemonState,
        reloads: watch::Receiver<Option<Arc<ReloadOutcome>>>,
    ) -> Api {
        Api {
            engine,
            live,
            doctor: None,
            daemon,
            reloads,
        }
    }

    /// Serves RunDoctor with this doctor.
    pub fn with_doctor(mut self, doctor: crate::doctor::Doctor) -> Api {
        self.doctor = Some(doctor);
        self
    }
}

fn required<'a>(field: &'static str, value: &'a str) -> Result<&'a str, ApiError> {
    if value.is_empty() {
        Err(ApiError::invalid(field, "is required", "必填"))
    } else {
        Ok(value)
    }
}

/// Serves a watch RPC (WatchTerminals, WatchPorts): first `snapshots`, each produced only once
/// the client has taken the one before (the channel holds `capacity` events, so a client that
/// never reads holds that many and no more; a `None` ends the watch, e.g. a terminal snapshot
/// the engine can no longer give because it is shutting down), then every change from
/// `changes` that `event` turns into an event, until the daemon shuts down, the client goes
/// away or the broadcast closes. A client too slow for the broadcast loses changes (`lost`,
/// e.g. "status changes"), and the daemon logs it.
///
/// Subscribe `changes` before making `snapshots`, so that no change falls in between.
fn watch_stream<T, C>(
    engine: Engine,
    rpc: &'static str,
    lost: &'static str,
    capacity: usize,
    snapshots: impl Stream<Item = Option<T>> + Send + 'static,
    mut changes: broadcast::Receiver<C>,
    mut event: impl FnMut(C) -> Option<T> + Send + 'static,
) -> EventStream<T>
where
    T: Send + 'static,
    C: Clone + Send + 'static,
{
    let (tx, rx) = mpsc::channel(capacity);
    tokio::spawn(async move {
        let mut snapshots = std::pin::pin!(snapshots);
        while let Some(snapshot) = snapshots.next().await {
            let Some(snapshot) = snapshot else { return };
            if tx.send(Ok(snapshot)).await.is_err() {
                return;
            }
        }
        loop {
            tokio::select! {
                _ = engine.shutting_down() => return,
                _ = tx.closed() => return,
                change = changes.recv() => match change {
                    Ok(c) => {
                        let Some(e) = event(c) else { continue };
                        if tx.send(Ok(e)).await.is_err() {
                            return;
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        tracing::warn!(skipped = n, "a {rpc} client is too slow; {lost} were dropped for it");
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                },
            }
        }
    });
    Box::pin(ReceiverStream::new(rx))
}

fn progress_stream(
    rx: mpsc::Receiver<posdiag_engine::Progress>,
    lang: posdiag_core::Lang,
) -> EventStream<pb::CheckEvent> {
    Box::pin(ReceiverStream::new(rx).map(move |p| Ok(convert::progress(&p, lang))))
}

#[tonic::async_trait]
impl TerminalService for Api {
    async fn list_terminals(
        &self,
        req: Request<pb::ListTerminalsRequest>,
    ) -> Result<Response<pb::ListTerminalsResponse>, Status> {
        let lang = status::request_lang(&req, &req.get_ref().lang)?;
        let snaps = self.engine.snapshots().await.or_status(lang)?;
        let terminals = snaps
            .iter()
            .map(|s| convert::terminal(s, lang, false))
            .collect();
        let mut daemon = convert::history::daemon_state(&self.daemon, lang);
        daemon.reload = self
            .reloads
            .borrow()
            .as_ref()
            .map(|r| convert::reload_state(r, lang));
        Ok(Response::new(pb::ListTerminalsResponse {
            terminals,
            daemon: Some(daemon),
        }))
    }

    async fn get_terminal(
        &self,
        req: Request<pb::GetTerminalRequest>,
    ) -> Result<Response<pb::Terminal>, Status> {
        let r = req.get_ref();
        let lang = status::request_lang(&req, &r.lang)?;
        let id = required("id", &r.id).or_status(lang)?;
        let snap = self.engine.snapshot(id).await.or_status(lang)?;
        Ok(Response::new(convert::terminal(&snap, lang, true)))
    }

    type WatchTerminalsStream = EventStream<pb::TerminalEvent>;

    async fn watch_terminals(
        &self,
        req: Request<pb::WatchTerminalsRequest>,
    ) -> Result<Response<Self::WatchTerminalsStream>, Status> {
        let lang = status::request_lang(&req, &req.get_ref().lang)?;
        let r = req.into_inner();
        let ids = convert::list("ids", &r.ids).or_status(lang)?;
        // Unknown ids are refused before the stream starts.
        for id in &ids {
            if !self.engine.terminals().iter().any(|t| t.id.as_str() == id) {
                self.engine.snapshot(id).await.or_status(lang)?;
            }
        }
        // Subscribe before taking snapshots, so no change falls in between.
        let changes = self.engine.subscribe();
        let wanted: Vec<String> = if ids.is_empty() {
            self.engine
                .terminals()
                .iter()
                .map(|t| t.id.to_string())
                .collect()
        } else {
            ids.clone()
        };
        // Snapshots are taken one at a time as the client reads them.
        let engine = self.engine.clone();
        let snapshots = tokio_stream::iter(wanted).then(move |id| {
            let engine = engine.clone();
            async move {
                let s = engine.snapshot(&id).await.ok()?;
                Some(pb::TerminalEvent {
                    kind: pb::terminal_event::Kind::Snapshot as i32,
                    terminal: Some(convert::terminal(&s, lang, true)),
                    previous_status: pb::Verdict::Unspecified as i32,
                    at: Some(convert::timestamp(std::time::SystemTime::now())),
                })
            }
        });
        let event = move |c: posdiag_engine::TerminalChange| {
            (ids.is_empty() || ids.iter().any(|i| i == c.snapshot.spec.id.as_str()))
                .then(|| convert::terminal_change(&c, lang))
        };
        Ok(Response::new(watch_stream(
            self.engine.clone(),
            "WatchTerminals",
            "status changes",
            16,
            snapshots,
            changes,
            event,
        )))
    }
}

/// Whether an ad-hoc probe may reach `host` (`[auth.probe]`).
fn in_scope_host(live: &crate::live::Live, host: &str) -> Result<(), ApiError> {
    let configured = live
        .terminals
        .iter()
        .flat_map(|t| t.spec.hosts.iter().map(|h| h.host.as_str()));
    crate::auth::scope::host(&live.auth.probe, configured, host)
        .map_err(|e| ApiError::Forbidden(e.0))
}

/// Whether an ad-hoc link probe may open `link` (`[auth.probe]`).
fn in_scope_link(
    live: &LiveConfig,
    link: &posdiag_engine::model::LinkSpec,
) -> Result<(), ApiError> {
    use posdiag_engine::model::LinkSpec;
    let live = live.now();
    match link {
        LinkSpec::Tcp(addr) => {
            let host = addr.rsplit_once(':').map(|(h, _)| h).unwrap_or(addr);
            in_scope_host(&live, host)
        }
        LinkSpec::Serial {
            port: posdiag_engine::model::PortSelector::Path(path),
            ..
        } => {
            crate::auth::scope::serial(&live.auth.probe, path).map_err(|e| ApiError::Forbidden(e.0))
        }
        _ => Ok(()),
    }
}

#[tonic::async_trait]
impl CheckService for Api {
    type RunCheckStream = EventStream<pb::CheckEvent>;

    type ProbeLinkStream = EventStream<pb::CheckEvent>;

    async fn probe_link(
        &self,
        req: Request<pb::ProbeLinkRequest>,
    ) -> Result<Response<Self::ProbeLinkStream>, Status> {
        let r = req.get_ref();
        let lang = status::request_lang(&req, &r.lang)?;
        let spec = convert::probe_link_spec(r).or_status(lang)?;
        audit(&req, &spec.link.address(), false);
        in_scope_link(&self.live, &spec.link).or_status(lang)?;
        self.engine.check_link(&spec).or_status(lang)?;
        let id = spec.plugin.clone().unwrap_or_default();
        if !self
            .engine
            .plugins()
            .iter()
            .any(|p| p.bundle.manifest.id == id)
        {
            return Err(ApiError::PluginNotLoaded { id }.into_status(lang));
        }
        let who = caller(&req);
        let rx = self
            .engine
            .probe_link(spec, None, Some(who))
            .or_status(lang)?;
        Ok(Response::new(progress_stream(rx, lang)))
    }

    type RunDoctorStream = EventStream<pb::DoctorEvent>;

    async fn run_doctor(
        &self,
        req: Request<pb::RunDoctorRequest>,
    ) -> Result<Response<Self::RunDoctorStream>, Status> {
        // The doctor refuses a bad `lang` itself, in its own words.
        let lang = status::answer_lang(&req, &req.get_ref().lang);
        let Some(doctor) = &self.doctor else {
            return Err(ApiError::NotServed("RunDoctor").into_status(lang));
        };
        let who = caller(&req);
        let rx = doctor
            .start(req.get_ref(), who.clone())
            .await
            .or_status(lang)?;
        audit(&req, &req.get_ref().terminal_id, true);
        Ok(Response::new(Box::pin(ReceiverStream::new(rx).map(Ok))))
    }

    async fn run_check(
        &self,
        req: Request<pb::RunCheckRequest>,
    ) -> Result<Response<Self::RunCheckStream>, Status> {
        let r = req.get_ref();
        let lang = status::request_lang(&req, &r.lang)?;
        let id = required("terminal_id", &r.terminal_id).or_status(lang)?;
        let checks = convert::list("checks", &r.checks).or_status(lang)?;
        let who = caller(&req);
        let rx = self
            .engine
            .run_named(
                id,
                &checks,
                posdiag_engine::RunBy::on_demand(Some(who.clone())),
            )
            .await
            .or_status(lang)?;
        audit(&req, id, true);
        Ok(Response::new(progress_stream(rx, lang)))
    }

    async fn get_history(
        &self,
        req: Request<pb::GetHistoryRequest>,
    ) -> Result<Response<pb::GetHistoryResponse>, Status> {
        let r = req.get_ref();
        let lang = status::request_lang(&req, &r.lang)?;
        let id = required("terminal_id", &r.terminal_id).or_status(lang)?;
        let limit = (r.limit > 0).then_some(r.limit as usize);
        let check = (!r.check.is_empty()).then(|| r.check.clone());
        if let Some(h) = self.daemon.history() {
            // Served from the durable history: it outlives restarts.
            self.engine.snapshot(id).await.or_status(lang)?;
            h.caught_up(std::time::Duration::from_secs(1)).await;
            let filter = posdiag_history::Filter {
                terminal: Some(id.to_owned()),
                checks: check.into_iter().collect(),
                ..Default::default()
            };
            let want = limit.unwrap_or(usize::MAX).min(100_000);
            let h = h.clone();
            let found = tokio::task::spawn_blocking(move || {
                let mut out = Vec::new();
                let mut token: Option<String> = None;
                while out.len() < want {
                    let page = h.reader().findings(
                        &filter,
                        (want - out.len()).min(1000),
                        token.as_deref(),
                    )?;
                    out.extend(page.items.into_iter().map(|f| f.finding));
                    match page.next {
                        Some(t) => token = Some(t),
                        None => break,
                    }
                }
                Ok::<_, posdiag_history::PageError>(out)
            })
            .await
            .map_err(|e| Status::internal(e.to_string()))?
            .or_status(lang)?;
            return Ok(Response::new(pb::GetHistoryResponse {
                findings: found.iter().map(|f| convert::finding(f, lang)).collect(),
            }));
        }
        let found = self
            .engine
            .history(id, limit, check)
            .await
            .or_status(lang)?;
        Ok(Response::new(pb::GetHistoryResponse {
            findings: found.iter().map(|f| convert::finding(f, lang)).collect(),
        }))
    }

    type ProbeStream = EventStream<pb::CheckEvent>;

    async fn probe(
        &self,
        req: Request<pb::ProbeRequest>,
    ) -> Result<Response<Self::ProbeStream>, Status> {
        audit(&req, &req.get_ref().target, false);
        let lang = status::request_lang(&req, &req.get_ref().lang)?;
        let live = self.live.now();
        let host = convert::probe_request(req.get_ref(), live.probe_defaults, live.thresholds)
            .or_status(lang)?;
        in_scope_host(&live, &host.host).or_status(lang)?;
        let who = caller(&req);
        let rx = self
            .engine
            .probe(host, CheckSet::all(), Some(who))
            .or_status(lang)?;
        Ok(Response::new(progress_stream(rx, lang)))
    }
}

#[tonic::async_trait]
impl pb::port_service_server::PortService for Api {
    async fn list_ports(
        &self,
        _req: Request<pb::ListPortsRequest>,
    ) -> Result<Response<pb::ListPortsResponse>, Status> {
        let view = self.engine.ports().await;
        Ok(Response::new(pb::ListPortsResponse {
            ports: view.ports.iter().map(convert::port).collect(),
            notes: view.notes,
        }))
    }

    type WatchPortsStream = EventStream<pb::PortEvent>;

    async fn watch_ports(
        &self,
        _req: Request<pb::WatchPortsRequest>,
    ) -> Result<Response<Self::WatchPortsStream>, Status> {
        // Subscribe before the snapshot, so no change falls in between.
        let changes = self.engine.subscribe_ports();
        let now = convert::timestamp(std::time::SystemTime::now());
        let snapshots = tokio_stream::iter(self.engine.known_ports()).map(move |p| {
            Some(pb::PortEvent {
                kind: pb::port_event::Kind::Snapshot as i32,
                port: Some(convert::port(&p)),
                at: Some(now),
            })
        });
        Ok(Response::new(watch_stream(
            self.engine.clone(),
            "WatchPorts",
            "port changes",
            64,
            snapshots,
            changes,
            |c| Some(convert::port_change(&c)),
        )))
    }
}
