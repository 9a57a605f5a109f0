//! What the history stores (records handed to the writer) and what it gives
//! back (stored rows with their sequence numbers).

use std::time::{Duration, SystemTime};

use posdiag_core::{Finding, Reason, TerminalId, Text, Verdict};

/// Where a run came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Origin {
    /// The terminal's schedule.
    Schedule,
    /// An API caller asked (RunCheck).
    OnDemand,
    /// The doctor ran it.
    Doctor,
    /// An ad-hoc probe of a target that is not configured.
    Probe,
    /// The daemon itself (a port that came back, the history store).
    Daemon,
}

impl Origin {
    /// Every origin.
    pub const ALL: [Origin; 5] = [
        Origin::Schedule,
        Origin::OnDemand,
        Origin::Doctor,
        Origin::Probe,
        Origin::Daemon,
    ];

    pub(crate) fn code(self) -> i64 {
        match self {
            Origin::Schedule => 1,
            Origin::OnDemand => 2,
            Origin::Doctor => 3,
            Origin::Probe => 4,
            Origin::Daemon => 5,
        }
    }

    pub(crate) fn from_code(code: i64) -> Option<Origin> {
        Origin::ALL.into_iter().find(|o| o.code() == code)
    }
}

/// Who asked for something over the API.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Caller {
    /// The peer's user id (unix socket).
    pub uid: Option<u32>,
    /// The peer's process id (unix socket).
    pub pid: Option<u32>,
    /// The peer's address over TCP, or `unix`.
    pub peer: String,
    /// The authenticated principal, when there is one.
    pub principal: String,
    /// The peer's group (its effective gid) over the unix socket.
    pub gid: Option<u32>,
    /// How the caller was identified (`uds_peercred`, `mtls`, `token`,
    /// `anonymous`); empty in rows written before authentication existed.
    pub authn: String,
    /// The client certificate's subject and serial over mutual TLS.
    pub certificate: String,
}

/// A change of a verdict, computed by whoever owns the previous state (the
/// terminal's task).
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    /// The check; empty for the terminal's overall status.
    pub check: String,
    /// What the check concerns; empty for the overall status.
    pub subject: String,
    /// The verdict before; `None` when nothing was known.
    pub from: Option<Verdict>,
    /// The verdict after.
    pub to: Verdict,
    /// The reason of the finding that changed it.
    pub reason: Reason,
    /// That finding's summary.
    pub summary: Text,
    /// When it changed.
    pub at: SystemTime,
}

/// One check run with what it found.
#[derive(Debug, Clone)]
pub struct Run {
    /// The run's id ([`crate::History::next_run_id`]).
    pub run_id: u64,
    /// The terminal; `None` for probes.
    pub terminal: Option<TerminalId>,
    /// Where it came from.
    pub origin: Origin,
    /// Who asked.
    pub caller: Option<Caller>,
    /// When it started.
    pub started: SystemTime,
    /// How long it took.
    pub duration: Duration,
    /// The probe's target; empty for terminal runs.
    pub target: String,
    /// Its findings.
    pub findings: Vec<Finding>,
    /// The verdict changes it caused.
    pub transitions: Vec<Transition>,
}

/// A doctor's conclusion.
#[derive(Debug, Clone)]
pub struct Diagnosis {
    /// The doctor's run.
    pub run_id: u64,
    /// The terminal.
    pub terminal: TerminalId,
    /// The symptom as given; empty for a check-up.
    pub symptom: String,
    /// Worst verdict of the checks it ran.
    pub overall: Option<Verdict>,
    /// The sentence for the person at the counter.
    pub summary: Text,
    /// The causes, most likely first: reason code and title.
    pub causes: Vec<(String, Text)>,
    /// Who asked.
    pub caller: Option<Caller>,
    /// When it concluded.
    pub at: SystemTime,
}

/// Something that happened to a plugin.
#[derive(Debug, Clone)]
pub struct PluginFault {
    /// The plugin id.
    pub plugin: String,
    /// `crashed`, `hung`, `quarantined`, `restarted`, `released`.
    pub fault: String,
    /// What the supervisor saw.
    pub detail: Text,
    /// When.
    pub at: SystemTime,
}

/// A terminal's port disappeared, came back or moved.
#[derive(Debug, Clone)]
pub struct LinkEvent {
    /// The terminal.
    pub terminal: TerminalId,
    /// Whether the port is present after the event.
    pub present: bool,
    /// The device path after the event; empty when gone.
    pub path: String,
    /// When.
    pub at: SystemTime,
}

/// A configuration reload.
#[derive(Debug, Clone)]
pub struct Reload {
    /// Whether the new file was applied.
    pub applied: bool,
    /// What changed, or why it was refused.
    pub detail: Text,
    /// When.
    pub at: SystemTime,
}

/// An API call that ran checks or changed the daemon (an audit row).
#[derive(Debug, Clone)]
pub struct ApiCall {
    /// The gRPC method path.
    pub method: String,
    /// Who called.
    pub caller: Caller,
    /// The terminal or target it concerned.
    pub target: String,
    /// The configured terminal it concerned, so the terminal's history
    /// lists it; `None` for probes.
    pub terminal: Option<TerminalId>,
    /// The run it started.
    pub run_id: Option<u64>,
    /// When.
    pub at: SystemTime,
    /// What was decided: `allowed`, `denied`, `would-deny` (audit mode),
    /// `limited` (over a per-principal limit); empty in older rows.
    pub decision: String,
    /// The tier the method needs.
    pub tier: String,
    /// The gRPC status code the call ended with.
    pub code: Option<i32>,
    /// How long the call took, to the end of its answer.
    pub duration: Duration,
    /// Why it was denied or limited (English).
    pub detail: String,
}

/// What the writer stores.
#[derive(Debug, Clone)]
pub enum Record {
    /// A check run, its findings and the changes they caused.
    Run(Run),
    /// Findings that belong to no run (the daemon's own), stored alone.
    Daemon(Vec<Finding>),
    /// A doctor's conclusion.
    Diagnosis(Diagnosis),
    /// A plugin fault.
    PluginFault(PluginFault),
    /// A port event.
    Link(LinkEvent),
    /// A configuration reload.
    Reload(Reload),
    /// An API call (audit; committed at once).
    ApiCall(ApiCall),
}

/// A finding as stored.
#[derive(Debug, Clone)]
pub struct StoredFinding {
    /// Its place in the history (the watch cursor).
    pub seq: u64,
    /// The run that produced it (0 for the daemon's own findings).
    pub run_id: u64,
    /// Where the run came from.
    pub origin: Origin,
    /// The finding (masked when it was stored).
    pub finding: Finding,
}

/// A stored change of verdict.
#[derive(Debug, Clone)]
pub struct StoredTransition {
    /// Its place among the changes.
    pub seq: u64,
    /// The terminal; `None` for a probe target.
    pub terminal: Option<TerminalId>,
    /// The run that caused it.
    pub run_id: u64,
    /// The change.
    pub transition: Transition,
}

/// A run as listed (without its findings).
#[derive(Debug, Clone)]
pub struct RunSummary {
    /// The run's id.
    pub run_id: u64,
    /// The terminal; `None` for probes.
    pub terminal: Option<TerminalId>,
    /// Where it came from.
    pub origin: Origin,
    /// Who asked.
    pub caller: Option<Caller>,
    /// When it started.
    pub started: SystemTime,
    /// How long it took.
    pub duration: Duration,
    /// Worst verdict of its findings.
    pub overall: Option<Verdict>,
    /// Number of findings.
    pub findings: u32,
    /// The probe's target.
    pub target: String,
}

/// A stored event other than a finding.
#[derive(Debug, Clone)]
pub enum Event {
    /// A check run.
    Run(RunSummary),
    /// A doctor's conclusion.
    Diagnosis(Diagnosis),
    /// A plugin fault.
    PluginFault(PluginFault),
    /// A port event.
    Link(LinkEvent),
    /// A configuration reload.
    Reload(Reload),
    /// An API call.
    ApiCall(ApiCall),
}

/// The kinds of [`Event`], for filtering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// Check runs.
    Run,
    /// Doctor diagnoses.
    Diagnosis,
    /// Plugin faults.
    PluginFault,
    /// Port events.
    Link,
    /// Configuration reloads.
    Reload,
    /// API calls.
    ApiCall,
}

impl EventKind {
    /// Every kind.
    pub const ALL: [EventKind; 6] = [
        EventKind::Run,
        EventKind::Diagnosis,
        EventKind::PluginFault,
        EventKind::Link,
        EventKind::Reload,
        EventKind::ApiCall,
    ];

    pub(crate) fn code(self) -> i64 {
        match self {
            EventKind::Run => 1,
            EventKind::Diagnosis => 2,
            EventKind::PluginFault => 3,
            EventKind::Link => 4,
            EventKind::Reload => 5,
            EventKind::ApiCall => 6,
        }
    }

    /// Audit rows (API calls, reloads) are kept as long as transitions.
    pub(crate) fn is_audit(self) -> bool {
        matches!(self, EventKind::ApiCall | EventKind::Reload)
    }
}

/// A stored event with its place and time.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    /// Its place among the events.
    pub seq: u64,
    /// When it happened.
    pub at: SystemTime,
    /// The event.
    pub event: Event,
}

pub(crate) fn verdict_code(v: Option<Verdict>) -> i64 {
    match v {
        None => 0,
        Some(Verdict::Ok) => 1,
        Some(Verdict::Warning) => 2,
        Some(Verdict::Critical) => 3,
        Some(Verdict::Unknown) => 4,
        Some(Verdict::Error) => 5,
    }
}

pub(crate) fn verdict_from(code: i64) -> Option<Verdict> {
    match code {
        1 => Some(Verdict::Ok),
        2 => Some(Verdict::Warning),
        3 => Some(Verdict::Critical),
        4 => Some(Verdict::Unknown),
        5 => Some(Verdict::Error),
        _ => None,
    }
}

/// Milliseconds since the Unix epoch (negative before it).
pub(crate) fn ms(t: SystemTime) -> i64 {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_millis()).unwrap_or(i64::MAX),
    }
}

pub(crate) fn time(ms: i64) -> SystemTime {
    if ms >= 0 {
        SystemTime::UNIX_EPOCH + Duration::from_millis(ms as u64)
    } else {
        SystemTime::UNIX_EPOCH - Duration::from_millis(ms.unsigned_abs())
    }
}
