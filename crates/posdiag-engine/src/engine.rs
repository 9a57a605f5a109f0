//! The engine's handle: finds a terminal's task and talks to it through its
//! command channel; changes the set of terminals on a reload
//! ([`Engine::apply`]); runs ad-hoc probes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Instant, SystemTime};

use posdiag_core::{Finding, TerminalId, Verdict};
use tokio::sync::{Semaphore, broadcast, mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::link::ports::{
    self, Followed, LinkState, PortChange, PortView, PortsHandle, PortsSpec, PortsView,
};
use crate::model::{DnsSpec, HostSpec, LinkSpec, TerminalSpec};
use crate::plugins::Plugins;
use crate::recorder::{Recorder, RunBy, RunMeta};
use crate::terminal::{Command, PluginSel, TerminalTask};
use crate::{CheckSet, EngineError, Progress, host};

/// What the engine watches and how much it keeps.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// The configured terminals, in configuration order.
    pub terminals: Vec<TerminalSpec>,
    /// Where names are resolved.
    pub dns: DnsSpec,
    /// Findings kept per terminal (oldest dropped first).
    pub history_per_terminal: usize,
    /// Ad-hoc probes allowed to run at once.
    pub max_concurrent_probes: usize,
    /// Serial port discovery.
    pub ports: PortsSpec,
    /// Loaded vendor plugins.
    pub plugins: Plugins,
    /// The durable history every run, change and port event goes to;
    /// `None` keeps only the in-memory history.
    pub history: Option<posdiag_history::History>,
}

/// A terminal's state at one moment.
#[derive(Debug, Clone)]
pub struct TerminalSnapshot {
    /// The configured terminal.
    pub spec: Arc<TerminalSpec>,
    /// Worst verdict of the latest findings; `None` before the first check.
    pub status: Option<Verdict>,
    /// When the latest check finished.
    pub last_checked: Option<SystemTime>,
    /// Latest finding of each check and subject.
    pub latest: Vec<Finding>,
    /// Where the terminal's port is now (serial links).
    pub link: LinkState,
}

/// A terminal's status changed.
#[derive(Debug, Clone)]
pub struct TerminalChange {
    /// The state after the change.
    pub snapshot: TerminalSnapshot,
    /// The status before.
    pub previous: Option<Verdict>,
    /// When it changed.
    pub at: SystemTime,
    /// What changed.
    pub kind: ChangeKind,
}

/// What a [`TerminalChange`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// The status (worst latest verdict) changed.
    Status,
    /// The port disappeared, came back or moved to another device path.
    Link,
}

/// Handle to the running engine; cheap to clone.
#[derive(Debug, Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

/// What a reload changed in the engine's terminals, each list in
/// configuration order (removed ones in the old order).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applied {
    /// Terminals that were not configured before: a task was started.
    pub added: Vec<TerminalId>,
    /// Terminals no longer configured: their task was stopped and its
    /// in-flight checks cancelled.
    pub removed: Vec<TerminalId>,
    /// Terminals whose spec changed: their task was restarted with the new
    /// spec, so they start with no findings.
    pub changed: Vec<TerminalId>,
}

impl Applied {
    /// Whether no terminal was added, removed or changed.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }
}

#[derive(Debug)]
struct Inner {
    /// The terminals and the senders to their tasks. The lock guards only
    /// this registry, never terminal state, and is never held across an
    /// `.await`: it is read to find a task's sender and written by a reload.
    registry: RwLock<Registry>,
    /// Daemon-wide, read by each run when it starts; a reload replaces it.
    dns: watch::Sender<DnsSpec>,
    history_per_terminal: usize,
    /// The terminals the port monitor follows; a reload replaces it.
    followed: watch::Sender<Arc<Vec<Followed>>>,
    changes: broadcast::Sender<TerminalChange>,
    cancel: CancellationToken,
    probes: Arc<Semaphore>,
    probe_limit: usize,
    handles: Mutex<Vec<JoinHandle<()>>>,
    ports: PortsHandle,
    plugins: Plugins,
    recorder: Recorder,
}

/// The configured terminals and their tasks.
#[derive(Debug, Default)]
struct Registry {
    /// In configuration order; handed out whole, so a reader keeps a
    /// consistent list while a reload replaces it.
    order: Arc<[Arc<TerminalSpec>]>,
    tasks: HashMap<TerminalId, Slot>,
}

/// A running terminal task, as the registry knows it.
#[derive(Debug, Clone)]
struct Slot {
    spec: Arc<TerminalSpec>,
    commands: mpsc::Sender<Command>,
    /// Stops this task alone (a reload removed or changed its terminal);
    /// a child of the engine's token, so shutdown stops it too.
    stop: CancellationToken,
}

/// A task to spawn: built under no lock, spawned by the caller.
struct Started {
    slot: Slot,
    followed: Option<Followed>,
    task: TerminalTask,
    commands: mpsc::Receiver<Command>,
}

impl Engine {
    /// Starts one task per terminal. Must be called within a tokio runtime.
    pub fn start(config: EngineConfig) -> Engine {
        let cancel = CancellationToken::new();
        let (changes, _) = broadcast::channel(256);
        let (dns, _) = watch::channel(config.dns);
        let mut registry = Registry::default();
        let mut handles = Vec::new();
        let mut order = Vec::new();
        let (watcher, found) = ports::first_scan(&config.ports);
        let mut followed = Vec::new();
        let recorder = Recorder::new(config.history.clone());
        for spec in config.terminals {
            let spec = Arc::new(spec);
            let started = new_task(
                spec.clone(),
                &dns,
                config.history_per_terminal,
                &changes,
                &found,
                &config.plugins,
                &recorder,
                &cancel,
            );
            handles.push(tokio::spawn(
                started
                    .task
                    .run(started.commands, started.slot.stop.clone()),
            ));
            followed.extend(started.followed);
            registry.tasks.insert(spec.id.clone(), started.slot);
            order.push(spec);
        }
        registry.order = order.into();
        let (followed, followed_rx) = watch::channel(Arc::new(followed));
        let (ports, monitor) =
            ports::start(config.ports, watcher, found, followed_rx, cancel.clone());
        handles.push(monitor);
        let limit = config.max_concurrent_probes.max(1);
        Engine {
            inner: Arc::new(Inner {
                registry: RwLock::new(registry),
                dns,
                history_per_terminal: config.history_per_terminal,
                followed,
                changes,
                cancel,
                probes: Arc::new(Semaphore::new(limit)),
                probe_limit: limit,
                handles: Mutex::new(handles),
                ports,
                plugins: config.plugins,
                recorder,
            }),
        }
    }

    /// The serial ports found now (a fresh discovery, with who holds each)
    /// and the terminals using each.
    pub async fn ports(&self) -> PortsView {
        let roots = self.inner.ports.spec.roots.clone();
        let found = tokio::task::spawn_blocking(move || {
            let notes = ports::notes(&roots);
            (posdiag_transport::discover_in(&roots), notes)
        })
        .await;
        let (found, notes) = match found {
            Ok(x) => x,
            Err(e) => (Vec::new(), vec![format!("port discovery failed: {e}")]),
        };
        let states = self.inner.ports.states.borrow().clone();
        PortsView {
            ports: found
                .into_iter()
                .map(|info| {
                    let terminals = ports::terminals_on(&info.path, &states);
                    PortView { info, terminals }
                })
                .collect(),
            notes,
        }
    }

    /// The ports as of the monitor's last scan, with their terminals.
    pub fn known_ports(&self) -> Vec<PortView> {
        let states = self.inner.ports.states.borrow().clone();
        self.inner
            .ports
            .latest
            .borrow()
            .iter()
            .map(|info| PortView {
                info: info.clone(),
                terminals: ports::terminals_on(&info.path, &states),
            })
            .collect()
    }

    /// Hot-plug changes from now on.
    pub fn subscribe_ports(&self) -> broadcast::Receiver<PortChange> {
        self.inner.ports.changes.subscribe()
    }

    /// The configured terminals, in configuration order, as of now (a
    /// reload may change them).
    pub fn terminals(&self) -> Arc<[Arc<TerminalSpec>]> {
        self.registry().order.clone()
    }

    fn registry(&self) -> std::sync::RwLockReadGuard<'_, Registry> {
        // A panic while the registry was written leaves a consistent map
        // (each write is one insert or remove), so a poisoned lock is used.
        self.inner
            .registry
            .read()
            .unwrap_or_else(|p| p.into_inner())
    }

    fn task(&self, id: &str) -> Result<mpsc::Sender<Command>, EngineError> {
        let tid = TerminalId::new(id).map_err(|source| EngineError::InvalidId {
            id: id.to_owned(),
            source,
        })?;
        let registry = self.registry();
        registry
            .tasks
            .get(&tid)
            .map(|slot| slot.commands.clone())
            .ok_or_else(|| EngineError::NotFound {
                id: id.to_owned(),
                known: registry.order.iter().map(|t| t.id.to_string()).collect(),
            })
    }

    /// Makes `terminals` the configured terminals and `dns` the resolver
    /// settings, as a reload does. A terminal whose spec is unchanged keeps
    /// its task and with it its latest findings, history, status and the
    /// checks running now; a new one gets a task; a removed one's task is
    /// stopped (its in-flight checks end with `check.cancelled`); a changed
    /// one's task is stopped and a new one started with the new spec. The
    /// port monitor follows the new set. Runs started from now on use `dns`.
    pub fn apply(&self, terminals: Vec<TerminalSpec>, dns: DnsSpec) -> Applied {
        self.inner.dns.send_replace(dns);
        let known = self.inner.ports.latest.borrow().clone();
        let mut applied = Applied::default();
        let mut spawn = Vec::new();
        let mut stopped = Vec::new();
        {
            let mut registry = self
                .inner
                .registry
                .write()
                .unwrap_or_else(|p| p.into_inner());
            let mut order = Vec::with_capacity(terminals.len());
            let mut keep = std::collections::HashSet::new();
            for spec in terminals {
                keep.insert(spec.id.clone());
                match registry.tasks.get(&spec.id) {
                    Some(slot) if *slot.spec == spec => {
                        order.push(slot.spec.clone());
                        continue;
                    }
                    Some(_) => applied.changed.push(spec.id.clone()),
                    None => applied.added.push(spec.id.clone()),
                }
                let spec = Arc::new(spec);
                let started = new_task(
                    spec.clone(),
                    &self.inner.dns,
                    self.inner.history_per_terminal,
                    &self.inner.changes,
                    &known,
                    &self.inner.plugins,
                    &self.inner.recorder,
                    &self.inner.cancel,
                );
                if let Some(old) = registry.tasks.insert(spec.id.clone(), started.slot.clone()) {
                    stopped.push(old.stop);
                }
                spawn.push(started);
                order.push(spec);
            }
            let before = registry.order.clone();
            for old in before.iter() {
                if !keep.contains(&old.id) {
                    applied.removed.push(old.id.clone());
                    self.inner.recorder.tally().forget(&old.id);
                    if let Some(slot) = registry.tasks.remove(&old.id) {
                        stopped.push(slot.stop);
                    }
                }
            }
            registry.order = order.into();
            // The monitor's set, from the registry's senders (under the
            // lock, so two applies cannot publish out of order).
            let followed: Vec<Followed> = registry
                .order
                .iter()
                .filter_map(|spec| match &spec.link {
                    LinkSpec::Serial { port, .. } => {
                        registry.tasks.get(&spec.id).map(|slot| Followed {
                            id: spec.id.clone(),
                            selector: port.clone(),
                            task: slot.commands.clone(),
                        })
                    }
                    _ => None,
                })
                .collect();
            self.inner.followed.send_replace(Arc::new(followed));
        }
        for stop in stopped {
            stop.cancel();
        }
        let mut handles = self.inner.handles.lock().unwrap_or_else(|p| p.into_inner());
        handles.retain(|h| !h.is_finished());
        for started in spawn {
            handles.push(tokio::spawn(
                started.task.run(started.commands, started.slot.stop),
            ));
        }
        drop(handles);
        applied
    }

    async fn ask<T>(
        &self,
        id: &str,
        make: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, EngineError> {
        let task = self.task(id)?;
        let (tx, rx) = oneshot::channel();
        task.send(make(tx))
            .await
            .map_err(|_| EngineError::ShuttingDown)?;
        rx.await.map_err(|_| EngineError::ShuttingDown)
    }

    /// The current state of terminal `id`.
    pub async fn snapshot(&self, id: &str) -> Result<TerminalSnapshot, EngineError> {
        self.ask(id, |reply| Command::Snapshot { reply }).await
    }

    /// The current state of every terminal, in configuration order. A
    /// terminal a reload removed meanwhile is left out.
    pub async fn snapshots(&self) -> Result<Vec<TerminalSnapshot>, EngineError> {
        let order = self.terminals();
        let mut out = Vec::with_capacity(order.len());
        for t in order.iter() {
            match self.snapshot(t.id.as_str()).await {
                Ok(s) => out.push(s),
                Err(EngineError::NotFound { .. }) => {}
                // Its task stopped between the lookup and the answer: a
                // reload removed or replaced it, unless the engine stops.
                Err(EngineError::ShuttingDown) if !self.inner.cancel.is_cancelled() => {
                    if let Ok(s) = self.snapshot(t.id.as_str()).await {
                        out.push(s);
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// Recent findings of terminal `id`, newest first; at most `limit`
    /// (all kept when `None`), only of `check` when given.
    pub async fn history(
        &self,
        id: &str,
        limit: Option<usize>,
        check: Option<String>,
    ) -> Result<Vec<Finding>, EngineError> {
        self.ask(id, |reply| Command::History {
            limit,
            check,
            reply,
        })
        .await
    }

    /// Runs `checks` on terminal `id` now. Progress arrives on the returned
    /// channel, ending with [`Progress::Completed`].
    pub async fn run_checks(
        &self,
        id: &str,
        checks: CheckSet,
        by: RunBy,
    ) -> Result<mpsc::Receiver<Progress>, EngineError> {
        let task = self.task(id)?;
        if self.inner.cancel.is_cancelled() {
            return Err(EngineError::ShuttingDown);
        }
        let (tx, rx) = mpsc::channel(64);
        task.send(Command::Run {
            checks,
            plugin_checks: PluginSel::All,
            args: Default::default(),
            progress: tx,
            by,
        })
        .await
        .map_err(|_| EngineError::ShuttingDown)?;
        Ok(rx)
    }

    /// Runs the checks named `ids` on terminal `id` now: built-in ids with
    /// the ones they build on, the others from the plugin serving it; every
    /// check when `ids` is empty.
    pub async fn run_named(
        &self,
        id: &str,
        ids: &[String],
        by: RunBy,
    ) -> Result<mpsc::Receiver<Progress>, EngineError> {
        self.run_named_with(id, ids, Default::default(), by).await
    }

    /// [`Engine::run_named`] with arguments for this run's plugin checks,
    /// over the terminal's configured `plugin_args` (e.g. the customer ID a
    /// `customer.status` check looks up).
    pub async fn run_named_with(
        &self,
        id: &str,
        ids: &[String],
        args: std::collections::BTreeMap<String, String>,
        by: RunBy,
    ) -> Result<mpsc::Receiver<Progress>, EngineError> {
        let task = self.task(id)?;
        if self.inner.cancel.is_cancelled() {
            return Err(EngineError::ShuttingDown);
        }
        let (checks, plugin_checks) = if ids.is_empty() {
            (CheckSet::all(), PluginSel::All)
        } else {
            let builtin = CheckSet::known();
            let plugin_known: Vec<String> = self
                .inner
                .plugins
                .iter()
                .flat_map(|p| p.checks.iter().cloned())
                .collect();
            let (ours, theirs): (Vec<String>, Vec<String>) =
                ids.iter().cloned().partition(|c| builtin.contains(c));
            if let Some(unknown) = theirs.iter().find(|c| !plugin_known.contains(c)) {
                let mut known = builtin;
                known.extend(plugin_known);
                known.dedup();
                return Err(EngineError::UnknownCheck {
                    id: unknown.clone(),
                    known,
                });
            }
            let checks = if ours.is_empty() {
                CheckSet::none()
            } else {
                CheckSet::from_ids(&ours)?
            };
            (checks, PluginSel::Only(theirs))
        };
        let (tx, rx) = mpsc::channel(64);
        task.send(Command::Run {
            checks,
            plugin_checks,
            args,
            progress: tx,
            by,
        })
        .await
        .map_err(|_| EngineError::ShuttingDown)?;
        Ok(rx)
    }

    /// Plugin id → the terminals it serves now (by configuration or by the
    /// most specific manifest match for each terminal's current device).
    pub async fn plugin_terminals(&self) -> std::collections::BTreeMap<String, Vec<String>> {
        let mut out: std::collections::BTreeMap<String, Vec<String>> = Default::default();
        for t in self.terminals().iter() {
            let usb = match self.snapshot(t.id.as_str()).await {
                Ok(s) => s.link.usb,
                Err(_) => None,
            };
            if let Some(p) = crate::plugins::plugin_for(t, &self.inner.plugins, usb) {
                out.entry(p.bundle.manifest.id.clone())
                    .or_default()
                    .push(t.id.to_string());
            }
        }
        out
    }

    /// The checks the plugin serving terminal `id` runs only when asked for
    /// by name (its manifest's `on_demand`: a read-card test, a customer
    /// lookup that needs an ID).
    pub async fn on_demand_checks(&self, id: &str) -> Result<Vec<String>, EngineError> {
        let snap = self.snapshot(id).await?;
        Ok(
            crate::plugins::plugin_for(&snap.spec, &self.inner.plugins, snap.link.usb)
                .map(|p| {
                    p.checks
                        .iter()
                        .filter(|c| p.bundle.manifest.on_demand.contains(c))
                        .cloned()
                        .collect()
                })
                .unwrap_or_default(),
        )
    }

    /// The checks that apply to terminal `id` now: `terminal.link` when it
    /// has a link, the host checks when it has hosts, the checks of the plugin
    /// serving it (without its on-demand ones), and `host.echo` when a host
    /// has an echo configured and a plugin offers it.
    pub async fn offered_checks(&self, id: &str) -> Result<Vec<String>, EngineError> {
        let snap = self.snapshot(id).await?;
        let spec = &snap.spec;
        let mut out = Vec::new();
        if spec.link != crate::model::LinkSpec::None && spec.protocol.is_some() {
            out.push(posdiag_core::checks::TERMINAL_LINK.to_owned());
        }
        if let Some(p) = crate::plugins::plugin_for(spec, &self.inner.plugins, snap.link.usb) {
            out.extend(
                p.checks
                    .iter()
                    .filter(|c| !p.bundle.manifest.on_demand.contains(c))
                    .cloned(),
            );
        }
        if !spec.hosts.is_empty() {
            out.extend(
                posdiag_core::checks::HOST_ALL
                    .iter()
                    .map(|c| (*c).to_owned()),
            );
        }
        if spec.hosts.iter().any(|h| h.echo.is_some())
            && self
                .inner
                .plugins
                .iter()
                .any(|p| p.checks.iter().any(|c| c == "host.echo"))
        {
            out.push("host.echo".to_owned());
        }
        Ok(out)
    }

    /// The loaded vendor plugins.
    pub fn plugins(&self) -> &Plugins {
        &self.inner.plugins
    }

    /// Probes a host that is not configured; recorded in the history as a
    /// probe (no terminal) when the client stays to its end.
    pub fn probe(
        &self,
        host: HostSpec,
        checks: CheckSet,
        caller: Option<posdiag_history::Caller>,
    ) -> Result<mpsc::Receiver<Progress>, EngineError> {
        if self.inner.cancel.is_cancelled() {
            return Err(EngineError::ShuttingDown);
        }
        let permit =
            self.inner
                .probes
                .clone()
                .try_acquire_owned()
                .map_err(|_| EngineError::Busy {
                    limit: self.inner.probe_limit,
                })?;
        let (tx, rx) = mpsc::channel(64);
        let dns = self.inner.dns.borrow().clone();
        let cancel = self.inner.cancel.child_token();
        let recorder = self.inner.recorder.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            let started_at = SystemTime::now();
            let run = host::HostRun {
                host: &host,
                dns: &dns,
                terminal: None,
                checks,
                cancel: &cancel,
                progress: &tx,
            };
            let (findings, abandoned) = until_abandoned(&tx, &cancel, host::run(&run)).await;
            if !abandoned {
                record_probe(
                    &recorder,
                    caller,
                    started_at,
                    started,
                    host.subject(),
                    &findings,
                );
            }
            let _ = tx.send(completed(&findings, started)).await;
            drop(permit);
        });
        Ok(rx)
    }

    /// Refuses an ad-hoc link the daemon must not open: only serial ports
    /// are opened for a probe, so a client cannot make the daemon open
    /// /etc/shadow or arm a watchdog device. Checked without opening it.
    pub fn check_link(&self, spec: &TerminalSpec) -> Result<(), EngineError> {
        if let LinkSpec::Serial {
            port: posdiag_transport::PortSelector::Path(path),
            ..
        } = &spec.link
        {
            posdiag_transport::check_serial_device(path, &self.inner.ports.spec.roots.sys)?;
        }
        Ok(())
    }

    /// Probes a terminal or acquirer that is not configured: `spec` names
    /// the link and the plugin; `terminal.link` runs when the spec has a link
    /// protocol, then the plugin's checks (all but its on-demand ones, or
    /// `only`). Recorded in the history as a probe (no terminal) when the
    /// client stays to its end.
    pub fn probe_link(
        &self,
        spec: TerminalSpec,
        only: Option<Vec<String>>,
        caller: Option<posdiag_history::Caller>,
    ) -> Result<mpsc::Receiver<Progress>, EngineError> {
        if self.inner.cancel.is_cancelled() {
            return Err(EngineError::ShuttingDown);
        }
        self.check_link(&spec)?;
        let permit =
            self.inner
                .probes
                .clone()
                .try_acquire_owned()
                .map_err(|_| EngineError::Busy {
                    limit: self.inner.probe_limit,
                })?;
        let (tx, rx) = mpsc::channel(64);
        let plugins = self.inner.plugins.clone();
        let cancel = self.inner.cancel.child_token();
        // Ports as of the monitor's last scan, so usb:VID:PID selectors resolve.
        let known: Vec<posdiag_transport::PortInfo> =
            self.inner.ports.latest.borrow().as_ref().clone();
        let recorder = self.inner.recorder.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            let started_at = SystemTime::now();
            let target = spec.link.address();
            let gate = Semaphore::new(1);
            let tx = &tx;
            let cancel = &cancel;
            let work = async {
                let state = match &spec.link {
                    LinkSpec::Serial { port, .. } => ports::locate(port, &known),
                    _ => LinkState::default(),
                };
                let mut all = Vec::new();
                if spec.protocol.is_some() {
                    let run = crate::link::LinkRun {
                        spec: &spec,
                        state: state.clone(),
                        gate: &gate,
                        last: &crate::link::LastExchange::default(),
                        cancel,
                        progress: tx,
                    };
                    all.extend(crate::link::run(&run).await);
                }
                let link_failed = all
                    .iter()
                    .any(|f| matches!(f.verdict, Verdict::Critical | Verdict::Error));
                if let Some(entry) = crate::plugins::plugin_for(&spec, &plugins, None) {
                    let checks: Vec<String> = match &only {
                        Some(c) => c.clone(),
                        None => entry
                            .checks
                            .iter()
                            .filter(|c| !entry.bundle.manifest.on_demand.contains(c))
                            .cloned()
                            .collect(),
                    };
                    for check in &checks {
                        if cancel.is_cancelled() {
                            break;
                        }
                        if link_failed {
                            all.push(crate::plugins::skipped(&spec, entry, check));
                            continue;
                        }
                        let run = crate::plugins::PluginRun {
                            spec: &spec,
                            entry,
                            check,
                            link: &spec.link,
                            args: &spec.plugin_args,
                            subject: spec.link.address(),
                            state: &state,
                            gate: &gate,
                            cancel,
                            progress: tx,
                        };
                        all.extend(crate::plugins::run(&run).await);
                    }
                }
                all
            };
            let (all, abandoned) = until_abandoned(tx, cancel, work).await;
            if !abandoned {
                record_probe(&recorder, caller, started_at, started, target, &all);
            }
            let _ = tx.send(completed(&all, started)).await;
            drop(permit);
        });
        Ok(rx)
    }

    /// Status changes of every terminal, from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<TerminalChange> {
        self.inner.changes.subscribe()
    }

    /// Runs and failures counted since start (for `/metrics`).
    pub fn tally(&self) -> &crate::tally::Tally {
        self.inner.recorder.tally()
    }

    /// Answers once every terminal task has answered a snapshot request:
    /// the liveness probe behind the systemd watchdog. A task that does
    /// not answer (wedged) keeps this pending; the caller bounds it.
    pub async fn alive(&self) -> bool {
        self.snapshots().await.is_ok()
    }

    /// Test hook, not an API: makes the first terminal's task stop
    /// answering commands until shutdown, as a wedged task would, so a
    /// test can see the watchdog's liveness probe fail. `posdiagd` calls it
    /// only when `POSDIAG_TEST_WEDGE_FILE` names a file that exists.
    #[doc(hidden)]
    pub async fn wedge_for_test(&self) {
        let first = self.terminals().first().map(|t| t.id.clone());
        if let Some(id) = first
            && let Ok(task) = self.task(id.as_str())
        {
            let _ = task.send(Command::Wedge).await;
        }
    }

    /// Resolves when the engine is shutting down.
    pub async fn shutting_down(&self) {
        self.inner.cancel.cancelled().await
    }

    /// Cancels in-flight checks and waits for every terminal task to end.
    pub async fn shutdown(&self) {
        self.inner.cancel.cancel();
        let handles =
            std::mem::take(&mut *self.inner.handles.lock().unwrap_or_else(|p| p.into_inner()));
        for h in handles {
            let _ = h.await;
        }
        for p in self.inner.plugins.iter() {
            p.plugin.shutdown().await;
            for h in p.devices.all() {
                h.shutdown().await;
            }
        }
    }
}

/// A terminal's task, built but not spawned: `spec` with its port located
/// in `ports`, stopped by a child of `cancel`.
#[allow(
    clippy::too_many_arguments,
    reason = "two call sites (start, apply); what every task shares"
)]
fn new_task(
    spec: Arc<TerminalSpec>,
    dns: &watch::Sender<DnsSpec>,
    history_per_terminal: usize,
    changes: &broadcast::Sender<TerminalChange>,
    ports: &[posdiag_transport::PortInfo],
    plugins: &Plugins,
    recorder: &Recorder,
    cancel: &CancellationToken,
) -> Started {
    let (tx, rx) = mpsc::channel(32);
    let (state, followed) = match &spec.link {
        LinkSpec::Serial { port, .. } => (
            ports::locate(port, ports),
            Some(Followed {
                id: spec.id.clone(),
                selector: port.clone(),
                task: tx.clone(),
            }),
        ),
        _ => (LinkState::default(), None),
    };
    let task = TerminalTask::new(
        spec.clone(),
        dns.subscribe(),
        history_per_terminal,
        changes.clone(),
        state,
        plugins.clone(),
        recorder.clone(),
    );
    Started {
        slot: Slot {
            spec,
            commands: tx,
            stop: cancel.child_token(),
        },
        followed,
        task,
        commands: rx,
    }
}

/// Drives `work` to its end. When the receiver of `progress` goes away
/// first (the client that asked cancelled, hit its deadline or
/// disconnected), `cancel` is cancelled, so the run ends at once on its
/// cancellation path and frees its probe slot or link. Returns the output and
/// whether the run was abandoned.
pub(crate) async fn until_abandoned<F: Future>(
    progress: &mpsc::Sender<Progress>,
    cancel: &CancellationToken,
    work: F,
) -> (F::Output, bool) {
    let mut work = std::pin::pin!(work);
    tokio::select! {
        biased;
        out = &mut work => (out, false),
        _ = progress.closed() => {
            tracing::debug!("the client left; cancelling its run");
            cancel.cancel();
            (work.await, true)
        }
    }
}

/// Hands a finished probe to the history.
fn record_probe(
    recorder: &Recorder,
    caller: Option<posdiag_history::Caller>,
    started_at: SystemTime,
    started: Instant,
    target: String,
    findings: &[Finding],
) {
    let meta = RunMeta {
        run_id: recorder.next_run_id(),
        by: RunBy {
            origin: posdiag_history::Origin::Probe,
            caller,
        },
        started: started_at,
        duration: started.elapsed(),
    };
    recorder.run(None, meta, target, findings, None, None);
}

/// The closing event of a run.
pub(crate) fn completed(findings: &[Finding], started: Instant) -> Progress {
    Progress::Completed {
        overall: Verdict::worst(findings.iter().map(|f| f.verdict)),
        findings: findings.len() as u32,
        duration: started.elapsed(),
        at: SystemTime::now(),
    }
}

#[cfg(test)]
mod tests;
