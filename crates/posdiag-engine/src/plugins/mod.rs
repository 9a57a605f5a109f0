//! Vendor plugin checks: which plugin serves a terminal (from manifests
//! alone, most specific match first, or the terminal's `plugin` setting),
//! running one of its checks with the terminal's link proxied through the
//! daemon (deadlines enforced here, the port closed here even if the plugin
//! dies), and turning its answer — or the way it failed — into findings.
//!
//! By job: `select` chooses the plugin, `pool` keeps the per-device
//! processes, `proxy` opens the link and serves the plugin's reads and
//! writes with a masked transcript, `findings` turns results and faults into
//! findings (the plugin-message mapping in one place); this module runs one
//! check (phases, the terminal's turn, cancellation).

mod findings;
pub mod pool;
mod proxy;
pub(crate) mod select;

use std::sync::Arc;
use std::time::{Duration, Instant};

use posdiag_core::{Finding, Reason, Verdict};
use posdiag_plugin_api::pb;
use posdiag_plugin_host::bundle::Bundle;
use posdiag_plugin_supervisor::PluginHandle;
use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;

use crate::Progress;
use crate::link::ports::LinkState;
use crate::model::{LinkSpec, TerminalSpec};

pub(crate) use findings::{not_offered, skipped};
pub use pool::{ProcessFactory, ProcessPool};
pub(crate) use select::plugin_for;

/// A loaded plugin: its bundle (manifest) and the handle to its process.
#[derive(Debug, Clone)]
pub struct PluginEntry {
    /// The bundle the policy accepted.
    pub bundle: Bundle,
    /// The supervised process for the plugin as a whole (descriptor,
    /// status, ad-hoc probes, and every check of a plugin whose manifest
    /// does not ask for serialised access).
    pub plugin: PluginHandle,
    /// The check ids it offers (manifest).
    pub checks: Vec<String>,
    /// Processes per device, for a plugin whose manifest says
    /// `concurrency = "serialize"`: each device gets its own process, so a
    /// plugin wedged on one terminal does not hold up the others.
    pub devices: ProcessPool,
}

/// The plugins of the engine, in directory order.
pub type Plugins = Arc<Vec<PluginEntry>>;

/// Everything one plugin check needs.
pub(crate) struct PluginRun<'a> {
    pub spec: &'a TerminalSpec,
    pub entry: &'a PluginEntry,
    pub check: &'a str,
    /// The link the check talks over: the terminal's, or an acquirer host's
    /// (`host.echo`).
    pub link: &'a LinkSpec,
    /// Check arguments.
    pub args: &'a std::collections::BTreeMap<String, String>,
    /// What the findings are about.
    pub subject: String,
    pub state: &'a LinkState,
    pub gate: &'a Semaphore,
    pub cancel: &'a CancellationToken,
    pub progress: &'a mpsc::Sender<Progress>,
}

impl std::fmt::Debug for PluginRun<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginRun")
            .field("terminal", &self.spec.id)
            .field("plugin", &self.entry.bundle.manifest.id)
            .field("check", &self.check)
            .finish()
    }
}

/// Runs one plugin check; returns its findings (at least one).
pub(crate) async fn run(run: &PluginRun<'_>) -> Vec<Finding> {
    let manifest = &run.entry.bundle.manifest;
    let subject = run.subject.clone();
    let _ = run
        .progress
        .send(Progress::PhaseStarted {
            phase: run.check.to_owned(),
            subject: subject.clone(),
        })
        .await;
    let started = Instant::now();
    // The terminal's plugin_timeout_ms, else the check's own default (its
    // descriptor), else the manifest's.
    let info = check_info(run.entry, run.check);
    let own = info
        .as_ref()
        .map(|i| i.default_timeout_ms)
        .filter(|ms| *ms > 0)
        .unwrap_or(manifest.default_timeout_ms);
    let timeout = run
        .spec
        .plugin_timeout
        .unwrap_or_else(|| Duration::from_millis(u64::from(own)));
    let needs_link = info.is_none_or(|i| i.needs_link);
    let findings = tokio::select! {
        biased;
        _ = run.cancel.cancelled() => vec![findings::fault_finding(run, &subject, Reason::CheckCancelled, Verdict::Unknown,
            crate::error::cancelled_by_shutdown())],
        f = async {
            let _turn = run.gate.acquire().await;
            proxy::execute(run, &subject, timeout, needs_link).await
        } => f,
    };
    let duration = started.elapsed();
    let worst = Verdict::worst(findings.iter().map(|f| f.verdict)).unwrap_or(Verdict::Unknown);
    let _ = run
        .progress
        .send(Progress::PhaseFinished {
            phase: run.check.to_owned(),
            subject,
            verdict: worst,
            duration,
        })
        .await;
    let mut out = Vec::with_capacity(findings.len());
    for mut f in findings {
        f.duration = duration;
        let _ = run.progress.send(Progress::Finding(f.clone())).await;
        out.push(f);
    }
    out
}

/// What the plugin's descriptor says about `check` (whether it needs the
/// terminal's link, its own default deadline); `None` before its process
/// first started or when the descriptor does not list it.
fn check_info(entry: &PluginEntry, check: &str) -> Option<pb::CheckInfo> {
    let ready = entry.plugin.status().ready?;
    ready.descriptor.checks.into_iter().find(|c| c.id == check)
}

/// Runs one check of a plugin for a terminal outside the engine's registry
/// (`posdiag plugin verify` against the simulators): the same path as a
/// configured terminal's plugin check, link proxying and fault handling
/// included.
pub async fn run_adhoc(
    entry: &PluginEntry,
    spec: &TerminalSpec,
    state: &LinkState,
    check: &str,
) -> Vec<Finding> {
    let gate = Semaphore::new(1);
    let cancel = CancellationToken::new();
    let (progress, mut sink) = mpsc::channel(64);
    // Nobody watches this run's progress; keep the channel drained.
    let drain = tokio::spawn(async move { while sink.recv().await.is_some() {} });
    let run = PluginRun {
        spec,
        entry,
        check,
        link: &spec.link,
        args: &spec.plugin_args,
        subject: format!("{} ({})", spec.id, entry.bundle.manifest.id),
        state,
        gate: &gate,
        cancel: &cancel,
        progress: &progress,
    };
    let found = self::run(&run).await;
    drop(progress);
    let _ = drain.await;
    found
}
