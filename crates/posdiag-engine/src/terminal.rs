//! One task per terminal: it owns the terminal's latest findings, history
//! and status, starts check runs (on command and on schedule) and records
//! what they find. Nothing else touches that state, so it needs no lock.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use posdiag_core::{Finding, Verdict};
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio::task::JoinSet;
use tokio::time::{Interval, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use crate::engine::{ChangeKind, TerminalChange, TerminalSnapshot, completed, until_abandoned};
use crate::link::ports::LinkState;
use crate::model::{DnsSpec, TerminalSpec};
use crate::plugins::{self, PluginRun, Plugins};
use crate::recorder::{Recorder, RunBy, RunMeta, Verdicts};
use crate::{CheckSet, Progress, host, link};

/// What a terminal task can be asked.
#[derive(Debug)]
pub(crate) enum Command {
    Run {
        checks: CheckSet,
        plugin_checks: PluginSel,
        /// Plugin arguments for this run, over the configured ones.
        args: std::collections::BTreeMap<String, String>,
        progress: mpsc::Sender<Progress>,
        /// Who asked (kept with the run in the history).
        by: RunBy,
    },
    Snapshot {
        reply: oneshot::Sender<TerminalSnapshot>,
    },
    History {
        limit: Option<usize>,
        check: Option<String>,
        reply: oneshot::Sender<Vec<Finding>>,
    },
    /// The port monitor saw the terminal's port disappear, come back or move.
    LinkChanged { state: LinkState },
    /// Test hook ([`crate::Engine::wedge_for_test`]): stop answering until
    /// the task is stopped.
    Wedge,
}

#[derive(Debug)]
pub(crate) struct TerminalTask {
    spec: Arc<TerminalSpec>,
    /// Daemon-wide, so a reload changes it for every terminal without
    /// restarting their tasks; each run takes the value of its start.
    dns: watch::Receiver<DnsSpec>,
    history_cap: usize,
    changes: broadcast::Sender<TerminalChange>,
    latest: Vec<Finding>,
    history: VecDeque<Finding>,
    status: Option<Verdict>,
    last_checked: Option<SystemTime>,
    link_state: LinkState,
    link_gate: Arc<tokio::sync::Semaphore>,
    last_exchange: Arc<link::LastExchange>,
    plugins: Plugins,
    recorder: Recorder,
    /// The verdicts last recorded, per check and subject: what a new
    /// finding is a change from.
    verdicts: Verdicts,
    /// The overall status last recorded (survives restarts through the
    /// history, unlike `status`).
    recorded_status: Option<Verdict>,
}

/// What a finished run hands back to the task: whether it was the
/// schedule's, its findings, its progress sender, its identity and its
/// closing event (none when its client left), which the task sends once the
/// findings are recorded.
type RunDone = (
    bool,
    Vec<Finding>,
    mpsc::Sender<Progress>,
    RunMeta,
    Option<Progress>,
);

impl TerminalTask {
    pub fn new(
        spec: Arc<TerminalSpec>,
        dns: watch::Receiver<DnsSpec>,
        history_cap: usize,
        changes: broadcast::Sender<TerminalChange>,
        link_state: LinkState,
        plugins: Plugins,
        recorder: Recorder,
    ) -> TerminalTask {
        TerminalTask {
            spec,
            dns,
            history_cap,
            changes,
            latest: Vec::new(),
            history: VecDeque::new(),
            status: None,
            last_checked: None,
            link_state,
            link_gate: Arc::new(tokio::sync::Semaphore::new(1)),
            last_exchange: Arc::default(),
            plugins,
            recorder,
            verdicts: Verdicts::default(),
            recorded_status: None,
        }
    }

    pub async fn run(mut self, mut commands: mpsc::Receiver<Command>, cancel: CancellationToken) {
        // A run's closing event (`Completed`) is sent, and its progress
        // sender dropped (which ends the caller's stream), only once its
        // findings are recorded (latest, status, history, counts), so whoever
        // asks for the terminal's state right after either sees them.
        let mut runs: JoinSet<RunDone> = JoinSet::new();
        if self.recorder.enabled() {
            let (recorder, id) = (self.recorder.clone(), self.spec.id.clone());
            if let Ok((verdicts, overall)) =
                tokio::task::spawn_blocking(move || recorder.stored_verdicts(&id)).await
            {
                self.verdicts = verdicts;
                self.recorded_status = overall;
            }
        }
        let mut schedule: Option<Interval> = self.spec.check_interval.map(|every| {
            let mut i = tokio::time::interval(every);
            i.set_missed_tick_behavior(MissedTickBehavior::Delay);
            i
        });
        let mut scheduled_in_flight = false;
        loop {
            tokio::select! {
                _ = cancel.cancelled() => break,
                cmd = commands.recv() => match cmd {
                    None => break,
                    Some(Command::Run { checks, plugin_checks, args, progress, by }) => {
                        let spec = if args.is_empty() {
                            self.spec.clone()
                        } else {
                            let mut spec = (*self.spec).clone();
                            spec.plugin_args.extend(args);
                            Arc::new(spec)
                        };
                        // A client's run: cancelled when the client leaves.
                        runs.spawn(self.check_run_of(spec, checks, plugin_checks, progress, cancel.child_token(), Origin::Client, by));
                    }
                    Some(Command::Snapshot { reply }) => {
                        let _ = reply.send(self.snapshot());
                    }
                    Some(Command::Wedge) => {
                        tracing::warn!(terminal = %self.spec.id, "test hook: this terminal's task stops answering (POSDIAG_TEST_WEDGE_FILE)");
                        cancel.cancelled().await;
                        break;
                    }
                    Some(Command::History { limit, check, reply }) => {
                        let found = self
                            .history
                            .iter()
                            .filter(|f| check.as_deref().is_none_or(|c| f.check == c))
                            .take(limit.unwrap_or(usize::MAX))
                            .cloned()
                            .collect();
                        let _ = reply.send(found);
                    }
                    Some(Command::LinkChanged { state }) => {
                        let present = state.present();
                        let path = state.path.as_ref().map(|p| p.display().to_string()).unwrap_or_default();
                        self.recorder.link(&self.spec.id, present, path);
                        self.link_state = state;
                        let _ = self.changes.send(TerminalChange {
                            snapshot: self.snapshot(),
                            previous: self.status,
                            at: SystemTime::now(),
                            kind: ChangeKind::Link,
                        });
                        if present {
                            // The port is back (maybe under another name): find out
                            // at once whether the terminal answers on it.
                            let (tx, _) = mpsc::channel(1);
                            runs.spawn(self.check_run(CheckSet::link_only(), PluginSel::none(), tx, cancel.child_token(), Origin::Daemon));
                        } else {
                            let gone = link::port_gone(&self.spec, &self.link_state);
                            let meta = RunMeta {
                                run_id: self.recorder.next_run_id(),
                                by: RunBy::daemon(),
                                started: SystemTime::now(),
                                duration: std::time::Duration::ZERO,
                            };
                            self.record(vec![gone], meta);
                        }
                    }
                },
                _ = tick(&mut schedule), if !scheduled_in_flight => {
                    scheduled_in_flight = true;
                    // Nobody listens to a scheduled run's progress.
                    let (tx, _) = mpsc::channel(1);
                    runs.spawn(self.check_run(CheckSet::all(), PluginSel::All, tx, cancel.child_token(), Origin::Schedule));
                }
                Some(done) = runs.join_next() => {
                    if let Ok((scheduled, findings, progress, meta, closing)) = done {
                        scheduled_in_flight &= !scheduled;
                        self.record(findings, meta);
                        close(progress, closing);
                    } else {
                        scheduled_in_flight = false;
                    }
                }
            }
        }
        // Cancelled runs end promptly; keep what they found.
        while let Some(done) = runs.join_next().await {
            if let Ok((_, findings, progress, meta, closing)) = done {
                self.record(findings, meta);
                close(progress, closing);
            }
        }
    }

    fn check_run(
        &self,
        checks: CheckSet,
        plugin_checks: PluginSel,
        progress: mpsc::Sender<Progress>,
        cancel: CancellationToken,
        origin: Origin,
    ) -> impl Future<Output = RunDone> + Send + 'static {
        let by = match origin {
            Origin::Schedule => RunBy::schedule(),
            _ => RunBy::daemon(),
        };
        self.check_run_of(
            self.spec.clone(),
            checks,
            plugin_checks,
            progress,
            cancel,
            origin,
            by,
        )
    }

    /// A run of the checks with `spec` (the terminal's, or a copy with this
    /// run's plugin arguments).
    #[allow(clippy::too_many_arguments, reason = "a run's parts")]
    fn check_run_of(
        &self,
        spec: Arc<TerminalSpec>,
        checks: CheckSet,
        plugin_checks: PluginSel,
        progress: mpsc::Sender<Progress>,
        cancel: CancellationToken,
        origin: Origin,
        by: RunBy,
    ) -> impl Future<Output = RunDone> + Send + 'static {
        let run_id = self.recorder.next_run_id();
        let dns = self.dns.borrow().clone();
        let link_state = self.link_state.clone();
        let gate = self.link_gate.clone();
        let last_exchange = self.last_exchange.clone();
        let plugins = self.plugins.clone();
        async move {
            let started = Instant::now();
            let started_at = SystemTime::now();
            let terminal = spec.id.clone();
            let progress_ref = &progress;
            let cancel_ref = &cancel;
            let work = async move {
                let progress = progress_ref;
                let cancel = cancel_ref;
                let mut all = Vec::new();
                if checks.contains(posdiag_core::checks::TERMINAL_LINK) {
                    let run = link::LinkRun {
                        spec: &spec,
                        state: link_state.clone(),
                        gate: &gate,
                        last: &last_exchange,
                        cancel,
                        progress,
                    };
                    all.extend(link::run(&run).await);
                }
                let link_failed = all.iter().any(|f| {
                    f.check == posdiag_core::checks::TERMINAL_LINK
                        && matches!(f.verdict, Verdict::Critical | Verdict::Error)
                });
                all.extend(
                    run_plugin_checks(
                        &spec,
                        &plugins,
                        &plugin_checks,
                        &link_state,
                        link_failed,
                        &gate,
                        cancel,
                        progress,
                    )
                    .await,
                );
                let hosts = if checks.any_host() {
                    &spec.hosts[..]
                } else {
                    &[]
                };
                for h in hosts {
                    if cancel.is_cancelled() {
                        break;
                    }
                    let run = host::HostRun {
                        host: h,
                        dns: &dns,
                        terminal: Some(&spec.id),
                        checks,
                        cancel,
                        progress,
                    };
                    all.extend(host::run(&run).await);
                }
                // The acquirer echo comes after the network checks it builds on.
                all.extend(run_echoes(&spec, &plugins, &plugin_checks, cancel, progress).await);
                all
            };
            let (all, abandoned) = if origin == Origin::Client {
                until_abandoned(&progress, &cancel, work).await
            } else {
                (work.await, false)
            };
            if abandoned {
                // Nobody reads this run and it was cut short: its partial
                // findings would only overwrite the terminal's real state.
                tracing::info!(
                    terminal = %terminal,
                    after_ms = started.elapsed().as_millis() as u64,
                    "its client left before the run ended: the run was stopped and records nothing"
                );
            }
            let meta = RunMeta {
                run_id,
                by,
                started: started_at,
                duration: started.elapsed(),
            };
            if abandoned {
                return (false, Vec::new(), progress, meta, None);
            }
            let closing = completed(&all, started);
            (
                origin == Origin::Schedule,
                all,
                progress,
                meta,
                Some(closing),
            )
        }
    }

    fn snapshot(&self) -> TerminalSnapshot {
        TerminalSnapshot {
            spec: self.spec.clone(),
            status: self.status,
            last_checked: self.last_checked,
            latest: self.latest.clone(),
            link: self.link_state.clone(),
        }
    }

    fn record(&mut self, findings: Vec<Finding>, meta: RunMeta) {
        if findings.is_empty() {
            return;
        }
        let new_status = Verdict::worst(
            self.latest
                .iter()
                .filter(|l| {
                    !findings
                        .iter()
                        .any(|f| f.check == l.check && f.subject == l.subject)
                })
                .chain(findings.iter())
                .filter(|f| f.reason != posdiag_core::Reason::CheckCancelled)
                .map(|f| f.verdict),
        );
        let overall = new_status.map(|to| (self.recorded_status, Some(to)));
        if let Some(to) = new_status {
            self.recorded_status = Some(to);
        }
        self.recorder.tally().count(&self.spec, &findings);
        let run_id = meta.run_id;
        self.recorder.run(
            Some(&self.spec.id),
            meta,
            String::new(),
            &findings,
            Some(&mut self.verdicts),
            overall,
        );
        for f in findings {
            // One event per finding (target `posdiag::finding`): failures
            // at WARN as before, the rest at DEBUG; under systemd the daemon
            // sends every one to the journal as a structured record.
            macro_rules! finding_event {
                ($lvl:ident) => {
                    tracing::$lvl!(
                        target: "posdiag::finding",
                        terminal = %self.spec.id,
                        check = %f.check,
                        subject = %f.subject,
                        verdict = f.verdict.as_str(),
                        reason = f.reason.code(),
                        run_id,
                        "{}",
                        f.summary.en
                    )
                };
            }
            if matches!(
                f.verdict,
                Verdict::Warning | Verdict::Critical | Verdict::Error
            ) {
                finding_event!(warn);
            } else {
                finding_event!(debug);
            }
            match self
                .latest
                .iter_mut()
                .find(|l| l.check == f.check && l.subject == f.subject)
            {
                Some(slot) => *slot = f.clone(),
                None => self.latest.push(f.clone()),
            }
            self.history.push_front(f);
        }
        self.history.truncate(self.history_cap);
        let now = SystemTime::now();
        self.last_checked = Some(now);
        let previous = self.status;
        // Cancellation says nothing about the terminal, so it does not set the status.
        self.status = Verdict::worst(
            self.latest
                .iter()
                .filter(|f| f.reason != posdiag_core::Reason::CheckCancelled)
                .map(|f| f.verdict),
        )
        .or(previous);
        if self.status != previous {
            tracing::info!(
                terminal = %self.spec.id,
                from = previous.map(|v| v.as_str()).unwrap_or("none"),
                to = self.status.map(|v| v.as_str()).unwrap_or("none"),
                "terminal status changed"
            );
            let _ = self.changes.send(TerminalChange {
                snapshot: self.snapshot(),
                previous,
                at: now,
                kind: ChangeKind::Status,
            });
        }
    }
}

/// Ends a recorded run's stream: its closing event, then the sender
/// dropped. The task does not wait for a slow reader: with the stream's
/// buffer full, a task of its own delivers the event (or gives up when the
/// reader leaves).
fn close(progress: mpsc::Sender<Progress>, closing: Option<Progress>) {
    let Some(closing) = closing else {
        return;
    };
    if let Err(mpsc::error::TrySendError::Full(closing)) = progress.try_send(closing) {
        tokio::spawn(async move {
            let _ = progress.send(closing).await;
        });
    }
}

async fn tick(schedule: &mut Option<Interval>) {
    match schedule {
        Some(i) => {
            i.tick().await;
        }
        None => std::future::pending().await,
    }
}

/// Which plugin checks a run includes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PluginSel {
    /// Every check of the plugin that serves the terminal.
    All,
    /// These check ids only (possibly none).
    Only(Vec<String>),
}

impl PluginSel {
    /// No plugin check.
    pub fn none() -> PluginSel {
        PluginSel::Only(Vec::new())
    }
}

/// Runs the selected checks of the plugin that serves the terminal.
#[allow(clippy::too_many_arguments, reason = "one call site; the run's parts")]
async fn run_plugin_checks(
    spec: &TerminalSpec,
    plugins: &Plugins,
    sel: &PluginSel,
    state: &LinkState,
    link_failed: bool,
    gate: &tokio::sync::Semaphore,
    cancel: &CancellationToken,
    progress: &mpsc::Sender<Progress>,
) -> Vec<Finding> {
    if matches!(sel, PluginSel::Only(v) if v.is_empty()) {
        return Vec::new();
    }
    let Some(entry) = plugins::plugin_for(spec, plugins, state.usb) else {
        return match sel {
            PluginSel::All => Vec::new(),
            PluginSel::Only(ids) => ids.iter().map(|c| plugins::not_offered(spec, c)).collect(),
        };
    };
    let wanted: Vec<String> = match sel {
        PluginSel::All => entry
            .checks
            .iter()
            .filter(|c| !entry.bundle.manifest.on_demand.contains(c))
            .cloned()
            .collect(),
        PluginSel::Only(ids) => ids.clone(),
    };
    // `host.echo` talks to the acquirer hosts, not over the terminal's link:
    // run_echoes runs it.
    let wanted: Vec<String> = wanted.into_iter().filter(|c| c != "host.echo").collect();
    let mut out = Vec::new();
    for check in &wanted {
        if cancel.is_cancelled() {
            break;
        }
        if !entry.checks.contains(check) {
            out.push(plugins::not_offered(spec, check));
            continue;
        }
        if link_failed && spec.link != crate::model::LinkSpec::None {
            out.push(plugins::skipped(spec, entry, check));
            continue;
        }
        let run = PluginRun {
            spec,
            entry,
            check,
            link: &spec.link,
            args: &spec.plugin_args,
            subject: format!("{} ({})", spec.id, entry.bundle.manifest.id),
            state,
            gate,
            cancel,
            progress,
        };
        out.extend(plugins::run(&run).await);
    }
    out
}

/// Runs `host.echo` against each of the terminal's hosts that has an echo
/// configured, with the plugin that offers it, over its own TCP link to the
/// host (the terminal's port is not involved).
async fn run_echoes(
    spec: &TerminalSpec,
    plugins: &Plugins,
    sel: &PluginSel,
    cancel: &CancellationToken,
    progress: &mpsc::Sender<Progress>,
) -> Vec<Finding> {
    const ECHO: &str = "host.echo";
    let wanted = match sel {
        PluginSel::All => true,
        PluginSel::Only(ids) => ids.iter().any(|c| c == ECHO),
    };
    if !wanted {
        return Vec::new();
    }
    let Some(entry) = plugins.iter().find(|p| p.checks.iter().any(|c| c == ECHO)) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let gate = tokio::sync::Semaphore::new(1);
    for h in &spec.hosts {
        let Some(echo) = &h.echo else {
            continue;
        };
        if cancel.is_cancelled() {
            break;
        }
        let link = crate::model::LinkSpec::Tcp(if h.host.contains(':') {
            format!("[{}]:{}", h.host, h.port)
        } else {
            format!("{}:{}", h.host, h.port)
        });
        let state = LinkState::default();
        let run = PluginRun {
            spec,
            entry,
            check: ECHO,
            link: &link,
            args: &echo.args,
            subject: h.subject(),
            state: &state,
            gate: &gate,
            cancel,
            progress,
        };
        out.extend(plugins::run(&run).await);
    }
    out
}

/// Who asked for a run: what happens when nobody reads its progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    /// A client (RunCheck, the doctor): cancelled when the client leaves.
    Client,
    /// The terminal's schedule: runs to its end, unread.
    Schedule,
    /// The daemon itself (a port that came back): runs to its end, unread.
    Daemon,
}
