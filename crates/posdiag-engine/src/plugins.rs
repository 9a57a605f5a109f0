//! Vendor plugin checks: which plugin serves a terminal (from manifests
//! alone, most specific match first, or the terminal's `plugin` setting),
//! running one of its checks with the terminal's link proxied through the
//! daemon (deadlines enforced here, the port closed here even if the plugin
//! dies), and turning its answer — or the way it failed — into findings.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use posdiag_core::{
    Actor, Evidence, EvidenceValue, Finding, Producer, Reason, Remedy, Text, Unit, Verdict,
    mask_card_numbers,
};
use posdiag_plugin_api::pb;
use posdiag_plugin_api::prost::Message as _;
use posdiag_plugin_host::bundle::{Bundle, DeviceFacts, matching};
use posdiag_plugin_host::{Plugin, PluginFault, TransportError, TransportRequest};
use posdiag_transport::{Direction, Link, LinkErrorKind, Mask, Transcript, TranscriptConfig};
use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;

use crate::Progress;
use crate::link::ports::LinkState;
use crate::model::{LinkSpec, TerminalSpec};

/// A loaded plugin: its bundle (manifest) and the handle to its host process.
#[derive(Debug, Clone)]
pub struct PluginEntry {
    /// The bundle the policy accepted.
    pub bundle: Bundle,
    /// The supervised host process for the plugin as a whole (descriptor,
    /// status, ad-hoc probes, and every check of a plugin whose manifest
    /// does not ask for serialised access).
    pub plugin: Plugin,
    /// The check ids it offers (manifest).
    pub checks: Vec<String>,
    /// Hosts per device, for a plugin whose manifest says
    /// `concurrency = "serialize"`: each device gets its own process, so a
    /// plugin wedged on one terminal does not hold up the others.
    pub devices: DeviceHosts,
}

/// Starts another host process of the same plugin.
pub type HostFactory = Arc<dyn Fn() -> Plugin + Send + Sync>;

/// The per-device host processes of a plugin, started on first use.
#[derive(Clone)]
pub struct DeviceHosts {
    factory: Option<HostFactory>,
    hosts: Arc<std::sync::Mutex<std::collections::BTreeMap<String, Plugin>>>,
}

impl std::fmt::Debug for DeviceHosts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceHosts")
            .field("per_device", &self.factory.is_some())
            .field("hosts", &self.all().len())
            .finish()
    }
}

impl DeviceHosts {
    /// One process per device, each started by `factory`.
    pub fn per_device(factory: HostFactory) -> DeviceHosts {
        DeviceHosts {
            factory: Some(factory),
            hosts: Default::default(),
        }
    }

    /// No per-device processes: every call goes to the plugin's own host.
    pub fn shared() -> DeviceHosts {
        DeviceHosts {
            factory: None,
            hosts: Default::default(),
        }
    }

    /// The host for `device`, started now if it has none yet; `None` when
    /// the plugin shares one host.
    fn for_device(&self, device: &str) -> Option<Plugin> {
        let factory = self.factory.as_ref()?;
        let mut hosts = self.hosts.lock().unwrap_or_else(|p| p.into_inner());
        Some(
            hosts
                .entry(device.to_owned())
                .or_insert_with(|| factory())
                .clone(),
        )
    }

    /// Every per-device host started so far.
    pub fn all(&self) -> Vec<Plugin> {
        self.hosts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect()
    }
}

impl PluginEntry {
    /// The host that serves `device`.
    pub fn host_for(&self, device: &str) -> Plugin {
        self.devices
            .for_device(device)
            .unwrap_or_else(|| self.plugin.clone())
    }
}

/// The plugins of the engine, in directory order.
pub type Plugins = Arc<Vec<PluginEntry>>;

/// What the engine knows about a terminal's device when choosing a plugin.
pub(crate) fn facts(spec: &TerminalSpec, usb: Option<(u16, u16)>) -> DeviceFacts {
    let tcp_port = match &spec.link {
        LinkSpec::Tcp(a) => a.rsplit_once(':').and_then(|(_, p)| p.parse().ok()),
        _ => None,
    };
    DeviceFacts {
        usb,
        tcp_port,
        model: spec.model.clone(),
    }
}

/// The plugin that serves a terminal: the configured one, else the most
/// specific manifest match.
pub(crate) fn plugin_for<'a>(
    spec: &TerminalSpec,
    plugins: &'a [PluginEntry],
    usb: Option<(u16, u16)>,
) -> Option<&'a PluginEntry> {
    if let Some(id) = &spec.plugin {
        return plugins.iter().find(|p| &p.bundle.manifest.id == id);
    }
    let bundles: Vec<Bundle> = plugins.iter().map(|p| p.bundle.clone()).collect();
    let best = matching(&bundles, &facts(spec, usb))
        .first()
        .map(|b| b.manifest.id.clone())?;
    plugins.iter().find(|p| p.bundle.manifest.id == best)
}

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
        _ = run.cancel.cancelled() => vec![fault_finding(run, &subject, Reason::CheckCancelled, Verdict::Unknown,
            crate::error::cancelled_by_shutdown())],
        f = async {
            let _turn = run.gate.acquire().await;
            execute(run, &subject, timeout, needs_link).await
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
/// terminal's link, its own default deadline); `None` before its host first
/// started or when the descriptor does not list it.
fn check_info(entry: &PluginEntry, check: &str) -> Option<pb::CheckInfo> {
    let ready = entry.plugin.status().ready?;
    pb::Descriptor::decode(ready.descriptor.as_slice())
        .ok()?
        .checks
        .into_iter()
        .find(|c| c.id == check)
}

async fn execute(
    run: &PluginRun<'_>,
    subject: &str,
    timeout: Duration,
    needs_link: bool,
) -> Vec<Finding> {
    let spec = run.spec;
    // The link, opened for this check only (the plugin reads and writes
    // through the daemon); not at all for a check that does not use it, so
    // a busy or absent terminal cannot fail it.
    let open_deadline = tokio::time::Instant::now() + spec.link_probe.open_timeout;
    let opened = match run.link {
        _ if !needs_link => Ok(None),
        LinkSpec::None => Ok(None),
        LinkSpec::Tcp(addr) => Link::connect_tcp(addr, open_deadline).await.map(Some),
        LinkSpec::Serial { settings, .. } => match &run.state.path {
            Some(path) => Link::open_serial(path, settings, open_deadline)
                .await
                .map(Some),
            None => Ok(None),
        },
    };
    // A link that does not open is the finding: busy, missing, refused...
    let mut link = match opened {
        // Bytes the terminal sent while the port was closed belong to no
        // exchange of the plugin's.
        Ok(Some(mut l)) if l.serial_path().is_some() => {
            let _ = l.discard_input(open_deadline).await;
            Some(l)
        }
        Ok(l) => l,
        Err(e) => {
            return vec![crate::link::link_failure_finding(
                spec, run.check, subject, &e,
            )];
        }
    };
    let request = pb::CheckRequest {
        check: run.check.to_owned(),
        terminal_id: spec.id.to_string(),
        vendor: spec.vendor.clone(),
        model: spec.model.clone(),
        link_kind: if needs_link { run.link.kind() } else { "none" }.to_owned(),
        link_address: match run.link {
            _ if !needs_link => String::new(),
            LinkSpec::Serial { .. } => run
                .state
                .path
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| run.link.address()),
            other => other.address(),
        },
        timeout_ms: u32::try_from(timeout.as_millis()).unwrap_or(u32::MAX),
        lang: "en".into(),
        args: run.args.clone().into_iter().collect(),
    };
    let mut transcript = link
        .as_ref()
        .map(|_| ProxyTranscript::new(link_mask(spec, run.link)));
    let (tx, mut rx) = mpsc::channel::<TransportRequest>(4);
    let (ev_tx, mut ev_rx) = mpsc::channel::<Vec<u8>>(16);
    let deadline = tokio::time::Instant::now() + timeout;
    // The device: the terminal and the link the check talks over.
    let host = run
        .entry
        .host_for(&format!("{} {}", spec.id, run.link.address()));
    let call = host.run_check(request.encode_to_vec(), Some(tx), ev_tx, deadline);
    tokio::pin!(call);
    let result = loop {
        tokio::select! {
            r = &mut call => break r,
            Some(req) = rx.recv() => serve(&mut link, transcript.as_mut(), req, deadline).await,
            Some(ev) = ev_rx.recv() => forward_event(run, &ev),
        }
    };
    if let Some(l) = link.take() {
        let _ = l
            .close(tokio::time::Instant::now() + Duration::from_secs(1))
            .await;
    }
    let transcript = transcript.and_then(ProxyTranscript::finish);
    let findings = match result {
        Ok(bytes) => match pb::CheckResult::decode(bytes.as_slice()) {
            Ok(r) if !r.findings.is_empty() => r
                .findings
                .into_iter()
                .map(|f| convert(run, subject, f))
                .collect(),
            Ok(_) => vec![fault_finding(
                run,
                subject,
                Reason::PluginProtocol,
                Verdict::Error,
                Text::new(
                    "the vendor plugin returned no finding",
                    "厂商插件没有返回任何结果",
                ),
            )],
            Err(e) => vec![fault_finding(
                run,
                subject,
                Reason::PluginProtocol,
                Verdict::Error,
                Text::new(
                    format!("the vendor plugin's answer is not a valid CheckResult: {e}"),
                    format!("厂商插件的应答不是有效的 CheckResult：{e}"),
                ),
            )],
        },
        Err(fault) => vec![fault_to_finding(run, subject, &fault)],
    };
    with_transcript(findings, transcript)
}

/// The link transcript goes with the worst finding when something is wrong:
/// what a vendor needs to see, once, and nothing when all is well.
fn with_transcript(mut findings: Vec<Finding>, transcript: Option<String>) -> Vec<Finding> {
    let Some(transcript) = transcript else {
        return findings;
    };
    let worst = Verdict::worst(findings.iter().map(|f| f.verdict));
    if let Some(f) = findings
        .iter_mut()
        .find(|f| Some(f.verdict) == worst && f.verdict != Verdict::Ok)
    {
        f.evidence
            .push(Evidence::text("link_transcript", transcript));
    }
    findings
}

/// How bytes on a plugin's link are masked before they are kept: ZVT frames
/// and APDUs by their fields on a ZVT terminal's own link, anything else
/// (an acquirer's link for the echo, nexo, a vendor protocol) by the generic
/// rules.
fn link_mask(spec: &TerminalSpec, link: &LinkSpec) -> Mask {
    let serial = matches!(link, LinkSpec::Serial { .. });
    match spec.protocol {
        Some(crate::model::LinkProtocol::Zvt) if *link == spec.link => {
            Arc::new(move |_, bytes: &[u8]| posdiag_core::zvt::redact_link_bytes(bytes, serial))
        }
        _ => Arc::new(|_, bytes: &[u8]| posdiag_core::mask_card_bytes(bytes)),
    }
}

/// The bytes a plugin exchanged with its device through the daemon, for
/// findings. Consecutive chunks in one direction are joined into one entry
/// before they are masked, so a frame read in pieces is masked whole (a card
/// number split across two reads is still recognised); the joined chunk is
/// held only until the direction changes (or [`MAX_BURST`] bytes), as the
/// link's own buffer would.
struct ProxyTranscript {
    started: tokio::time::Instant,
    pending: Option<(Direction, Duration, Vec<u8>)>,
    transcript: Transcript,
}

/// Most bytes joined into one entry.
const MAX_BURST: usize = 4096;

impl ProxyTranscript {
    fn new(mask: Mask) -> Self {
        ProxyTranscript {
            started: tokio::time::Instant::now(),
            pending: None,
            transcript: Transcript::new(TranscriptConfig {
                max_entries: 128,
                max_bytes: 8 * 1024,
                mask: Some(mask),
            }),
        }
    }

    fn push(&mut self, direction: Direction, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        match &mut self.pending {
            Some((d, _, held)) if *d == direction && held.len() + bytes.len() <= MAX_BURST => {
                held.extend_from_slice(bytes);
            }
            _ => {
                self.flush();
                self.pending = Some((direction, self.started.elapsed(), bytes.to_vec()));
            }
        }
    }

    fn flush(&mut self) {
        if let Some((direction, at, bytes)) = self.pending.take() {
            self.transcript.record(direction, at, &bytes);
        }
    }

    /// The rendered transcript, or `None` when nothing crossed the link.
    fn finish(mut self) -> Option<String> {
        self.flush();
        (self.transcript.entries().len() > 0).then(|| mask_card_numbers(&self.transcript.render()))
    }
}

impl std::fmt::Debug for ProxyTranscript {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxyTranscript")
            .field("transcript", &self.transcript)
            .finish_non_exhaustive()
    }
}

/// Carries out one transport request of the plugin on the link.
async fn serve(
    link: &mut Option<Link>,
    transcript: Option<&mut ProxyTranscript>,
    req: TransportRequest,
    deadline: tokio::time::Instant,
) {
    // The plugin's own timeout, never past the check's deadline.
    let until = |t: Duration| (tokio::time::Instant::now() + t).min(deadline);
    match req {
        TransportRequest::Write {
            bytes,
            timeout,
            reply,
        } => {
            let r = match link.as_mut() {
                None => Err(TransportError::NoLink),
                Some(l) => {
                    // Recorded as offered: what reached the wire before a
                    // failure is part of the story too.
                    if let Some(t) = transcript {
                        t.push(Direction::Tx, &bytes);
                    }
                    l.write_all(&bytes, until(timeout))
                        .await
                        .map_err(transport_error)
                }
            };
            let _ = reply.send(r);
        }
        TransportRequest::Read {
            max,
            timeout,
            reply,
        } => {
            let r = match link.as_mut() {
                None => Err(TransportError::NoLink),
                Some(l) => {
                    let mut buf = vec![0u8; max.clamp(1, 64 * 1024)];
                    let r = l
                        .read(&mut buf, until(timeout))
                        .await
                        .map(|n| {
                            buf.truncate(n);
                            buf
                        })
                        .map_err(transport_error);
                    if let (Ok(got), Some(t)) = (&r, transcript) {
                        t.push(Direction::Rx, got);
                    }
                    r
                }
            };
            let _ = reply.send(r);
        }
    }
}

fn transport_error(e: posdiag_transport::LinkError) -> TransportError {
    match e.kind() {
        LinkErrorKind::Timeout => TransportError::Timeout,
        LinkErrorKind::Lost | LinkErrorKind::Closed | LinkErrorKind::Reset => TransportError::Lost,
        _ => TransportError::Failed(e.to_string()),
    }
}

/// Passes a plugin's progress event on; dropped rather than waited for when
/// the watcher is slow, so the plugin call keeps being served.
fn forward_event(run: &PluginRun<'_>, bytes: &[u8]) {
    let Ok(ev) = pb::Event::decode(bytes) else {
        return;
    };
    if let Some(pb::event::Event::PhaseStarted(p)) = ev.event {
        let _ = run.progress.try_send(Progress::PhaseStarted {
            phase: mask_card_numbers(&p.phase),
            subject: mask_card_numbers(&p.subject),
        });
    }
}

fn verdict(v: i32) -> Verdict {
    match pb::Verdict::try_from(v).unwrap_or(pb::Verdict::Unspecified) {
        pb::Verdict::Ok => Verdict::Ok,
        pb::Verdict::Warning => Verdict::Warning,
        pb::Verdict::Critical => Verdict::Critical,
        pb::Verdict::Error => Verdict::Error,
        pb::Verdict::Unknown | pb::Verdict::Unspecified => Verdict::Unknown,
    }
}

fn actor(a: i32) -> Actor {
    match pb::Actor::try_from(a).unwrap_or(pb::Actor::Unspecified) {
        pb::Actor::Cardholder => Actor::Cardholder,
        pb::Actor::Acquirer => Actor::Acquirer,
        pb::Actor::Issuer => Actor::Issuer,
        pb::Actor::Vendor => Actor::Vendor,
        pb::Actor::Merchant | pb::Actor::Unspecified => Actor::Merchant,
    }
}

/// A plugin's finding as posdiag's, every text masked: plugin output is
/// untrusted, and card numbers never leave posdiag unmasked.
fn convert(run: &PluginRun<'_>, subject: &str, f: pb::Finding) -> Finding {
    let m = |s: &str| mask_card_numbers(s);
    let mut evidence: Vec<Evidence> = Vec::new();
    let reason = match f.reason.parse::<Reason>() {
        Ok(r) => r,
        Err(_) => {
            evidence.push(Evidence::text("vendor_reason", m(&f.reason)));
            Reason::VendorSpecific
        }
    };
    for e in f.evidence {
        let unit = match e.unit.as_str() {
            "ms" => Unit::Ms,
            "ratio" => Unit::Ratio,
            "days" => Unit::Days,
            "bytes" => Unit::Bytes,
            "count" | "percent" => Unit::Count,
            _ => Unit::None,
        };
        let value = match e.value {
            Some(pb::evidence::Value::Number(n)) => EvidenceValue::Number(n),
            Some(pb::evidence::Value::Flag(b)) => EvidenceValue::Flag(b),
            Some(pb::evidence::Value::Text(t)) => EvidenceValue::Text(m(&t)),
            None => continue,
        };
        evidence.push(Evidence {
            name: m(&e.name),
            value,
            unit,
        });
    }
    let zh_or_en = |zh: &str, en: &str| if zh.is_empty() { m(en) } else { m(zh) };
    Finding {
        check: if f.check.is_empty() {
            run.check.to_owned()
        } else {
            m(&f.check)
        },
        verdict: verdict(f.verdict),
        reason,
        summary: Text::new(m(&f.summary_en), zh_or_en(&f.summary_zh, &f.summary_en)),
        evidence,
        remedies: f
            .remedies
            .iter()
            .map(|r| {
                Remedy::new(
                    actor(r.actor),
                    m(&r.text_en),
                    zh_or_en(&r.text_zh, &r.text_en),
                )
            })
            .collect(),
        duration: Duration::ZERO,
        observed_at: SystemTime::now(),
        terminal: Some(run.spec.id.clone()),
        subject: if f.subject.is_empty() {
            subject.to_owned()
        } else {
            m(&f.subject)
        },
        producer: producer(run),
    }
}

fn producer(run: &PluginRun<'_>) -> Producer {
    let status = run.entry.plugin.status();
    Producer {
        id: run.entry.bundle.manifest.id.clone(),
        version: status
            .ready
            .map(|r| mask_card_numbers(&r.plugin_version))
            .unwrap_or_else(|| run.entry.bundle.manifest.version.clone()),
    }
}

fn fault_finding(
    run: &PluginRun<'_>,
    subject: &str,
    reason: Reason,
    verdict: Verdict,
    summary: Text,
) -> Finding {
    let remedies = if verdict == Verdict::Unknown {
        Vec::new()
    } else {
        vec![Remedy::new(
            Actor::Vendor,
            format!(
                "Send this finding and posdiagd's log to the vendor of plugin {} (version {})",
                run.entry.bundle.manifest.id, run.entry.bundle.manifest.version
            ),
            format!(
                "将本结果和 posdiagd 日志发送给插件 {}（版本 {}）的厂商",
                run.entry.bundle.manifest.id, run.entry.bundle.manifest.version
            ),
        )]
    };
    Finding {
        check: run.check.to_owned(),
        verdict,
        reason,
        summary,
        evidence: vec![Evidence::text(
            "plugin",
            run.entry.bundle.manifest.id.clone(),
        )],
        remedies,
        duration: Duration::ZERO,
        observed_at: SystemTime::now(),
        terminal: Some(run.spec.id.clone()),
        subject: subject.to_owned(),
        producer: producer(run),
    }
}

/// The way a plugin failed, as a finding with its own reason.
fn fault_to_finding(run: &PluginRun<'_>, subject: &str, fault: &PluginFault) -> Finding {
    let detail = mask_card_numbers(&fault.to_string());
    let (reason, en, zh) = match fault {
        PluginFault::Crashed { .. } => (
            Reason::PluginCrashed,
            "the vendor plugin crashed during the check",
            "厂商插件在检查过程中崩溃",
        ),
        PluginFault::Timeout { .. } => (
            Reason::PluginTimeout,
            "the vendor plugin did not finish in time and was stopped",
            "厂商插件未在时限内完成，已被终止",
        ),
        PluginFault::Incompatible { .. } => (
            Reason::PluginIncompatible,
            "the vendor plugin cannot be loaded by this posdiag",
            "此 posdiag 无法加载该厂商插件",
        ),
        PluginFault::Quarantined { .. } => (
            Reason::PluginQuarantined,
            "the vendor plugin kept crashing and was quarantined",
            "厂商插件反复崩溃，已被隔离",
        ),
        PluginFault::CheckFailed { .. } | PluginFault::Stopped => (
            Reason::PluginFailed,
            "the vendor plugin could not run the check",
            "厂商插件无法执行该检查",
        ),
        _ => (
            Reason::PluginProtocol,
            "the vendor plugin returned an invalid answer",
            "厂商插件返回了无效的应答",
        ),
    };
    fault_finding(
        run,
        subject,
        reason,
        Verdict::Error,
        Text::new(format!("{en}: {detail}"), format!("{zh}：{detail}")),
    )
}

/// A requested check no plugin serving the terminal offers.
pub(crate) fn not_offered(spec: &TerminalSpec, check: &str) -> Finding {
    Finding {
        check: check.to_owned(),
        verdict: Verdict::Unknown,
        reason: Reason::CheckSkipped,
        summary: Text::new(
            format!("not run: no plugin serving {} offers {check}", spec.id),
            format!("未执行：为 {} 服务的插件都不提供 {check}", spec.id),
        ),
        evidence: Vec::new(),
        remedies: Vec::new(),
        duration: Duration::ZERO,
        observed_at: SystemTime::now(),
        terminal: Some(spec.id.clone()),
        subject: spec.id.to_string(),
        producer: Producer::builtin(),
    }
}

/// A plugin check not run because the terminal's link failed first.
pub(crate) fn skipped(spec: &TerminalSpec, entry: &PluginEntry, check: &str) -> Finding {
    Finding {
        check: check.to_owned(),
        verdict: Verdict::Unknown,
        reason: Reason::CheckSkipped,
        summary: Text::new(
            "not run: terminal.link failed first",
            "未执行：terminal.link 已先失败",
        ),
        evidence: Vec::new(),
        remedies: Vec::new(),
        duration: Duration::ZERO,
        observed_at: SystemTime::now(),
        terminal: Some(spec.id.clone()),
        subject: format!("{} ({})", spec.id, entry.bundle.manifest.id),
        producer: Producer::builtin(),
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use posdiag_core::Reason;

    fn zvt_serial_mask() -> Mask {
        Arc::new(|_, bytes: &[u8]| posdiag_core::zvt::redact_link_bytes(bytes, true))
    }

    #[test]
    fn a_card_number_read_in_pieces_is_masked_whole() {
        // Status information with BMP 22 = 4111111111111111, as a serial
        // frame the plugin reads in two pieces that split the PAN.
        let apdu = [
            0x04, 0x0F, 0x0D, 0x27, 0x00, 0x22, 0xF0, 0xF8, 0x41, 0x11, 0x11, 0x11, 0x11, 0x11,
            0x11, 0x11,
        ];
        let frame = posdiag_core::zvt::serial::encode_frame(&apdu);
        let mut t = ProxyTranscript::new(zvt_serial_mask());
        t.push(Direction::Tx, &[0x10, 0x02, 0x05, 0x01]);
        t.push(Direction::Tx, &[0x03, 0x00, 0x00, 0x00]);
        t.push(Direction::Rx, &frame[..12]);
        t.push(Direction::Rx, &frame[12..]);
        t.push(Direction::Tx, &[0x06]);
        let text = t.finish().unwrap_or_default();
        // Three entries: the joined command, the joined frame, the ACK.
        assert_eq!(text.matches(" TX ").count(), 2, "{text}");
        assert_eq!(text.matches(" RX ").count(), 1, "{text}");
        assert!(text.contains("05 01 03 00 00 00"), "{text}");
        assert!(text.contains("41 11 11 ee ee ee"), "{text}");
        assert!(text.contains("0010  11 11 10 03"), "{text}");
        assert!(!text.contains("11 11 11"), "{text}");
    }

    #[test]
    fn the_transcript_goes_with_the_worst_finding_and_only_when_something_is_wrong() {
        let finding = |verdict| Finding {
            check: "reader.status".into(),
            verdict,
            reason: Reason::VendorSpecific,
            summary: Text::new("x", "x"),
            evidence: Vec::new(),
            remedies: Vec::new(),
            duration: Duration::ZERO,
            observed_at: SystemTime::now(),
            terminal: None,
            subject: "T1".into(),
            producer: Producer {
                id: "p".into(),
                version: "1".into(),
            },
        };
        let has = |f: &Finding| f.evidence("link_transcript").is_some();
        let out = with_transcript(
            vec![
                finding(Verdict::Ok),
                finding(Verdict::Warning),
                finding(Verdict::Critical),
            ],
            Some("+0.000s TX 1 bytes".into()),
        );
        assert_eq!(
            out.iter().map(has).collect::<Vec<_>>(),
            [false, false, true]
        );
        let out = with_transcript(vec![finding(Verdict::Ok)], Some("x".into()));
        assert!(!has(&out[0]));
        assert!(ProxyTranscript::new(zvt_serial_mask()).finish().is_none());
    }

    #[test]
    fn zvt_masking_is_for_the_terminals_own_link_only() {
        let spec = TerminalSpec {
            id: posdiag_core::TerminalId::new("T1").unwrap_or_else(|e| panic!("{e}")),
            name: "T1".into(),
            vendor: String::new(),
            model: String::new(),
            link: LinkSpec::Tcp("127.0.0.1:20007".into()),
            protocol: Some(crate::model::LinkProtocol::Zvt),
            link_probe: crate::model::LinkProbeSpec::default(),
            plugin: None,
            plugin_args: Default::default(),
            plugin_timeout: None,
            hosts: Vec::new(),
            check_interval: None,
        };
        // An ASCII ISO 8583 echo to the acquirer holds bytes that would start
        // sensitive ZVT BMPs (0x22 '"', 0x2D '-'): on the acquirer's link it
        // is not ZVT and stays as sent.
        let echo = b"0800\"-\"#$0011223301";
        let acquirer = LinkSpec::Tcp("127.0.0.1:5000".into());
        assert_eq!(
            link_mask(&spec, &acquirer)(Direction::Tx, echo),
            echo.to_vec()
        );
        // On the terminal's own link ZVT rules apply: a PAN in BMP 22 is masked.
        let apdu = [
            0x04, 0x0F, 0x0D, 0x27, 0x00, 0x22, 0xF0, 0xF8, 0x41, 0x11, 0x11, 0x11, 0x11, 0x11,
            0x11, 0x11,
        ];
        let out = link_mask(&spec, &spec.link)(Direction::Rx, &apdu);
        assert_eq!(&out[11..13], &[0xEE, 0xEE], "{out:02X?}");
    }
}
