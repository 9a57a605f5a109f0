//! Records turned into rows on the producer's thread: masked, encoded and
//! ready to insert, so the one writer thread does nothing but SQLite (names
//! interned, rows inserted, commits).

use crate::codec::{self, EventBodyV1, m};
use crate::record::{EventKind, Origin, Record, ms, verdict_code};

/// A finding's row; names are interned by the writer.
#[derive(Debug)]
pub(crate) struct FindingRow {
    pub at_ms: i64,
    pub terminal: String,
    pub check: String,
    pub subject: String,
    pub verdict: i64,
    pub reason: &'static str,
    pub origin: Origin,
    pub run_id: u64,
    pub body: Vec<u8>,
}

/// A change's row.
#[derive(Debug)]
pub(crate) struct TransitionRow {
    pub at_ms: i64,
    pub terminal: String,
    pub check: String,
    pub subject: String,
    pub from: i64,
    pub to: i64,
    pub reason: &'static str,
    pub run_id: u64,
    pub summary: Vec<u8>,
}

/// An event's row.
#[derive(Debug)]
pub(crate) struct EventRow {
    pub at_ms: i64,
    pub kind: EventKind,
    pub terminal: String,
    pub origin: i64,
    pub verdict: i64,
    pub body: Vec<u8>,
}

/// What one record becomes.
#[derive(Debug, Default)]
pub(crate) struct Rows {
    pub findings: Vec<FindingRow>,
    pub transitions: Vec<TransitionRow>,
    pub events: Vec<EventRow>,
    /// The run's id, kept in `meta` so ids stay unique after pruning.
    pub run_id: u64,
}

impl Rows {
    /// Rows this record became (for counting what could not be written).
    pub fn count(&self) -> u64 {
        (self.findings.len() + self.transitions.len() + self.events.len()) as u64
    }

    /// An audit row: committed with a flush.
    pub fn is_audit(&self) -> bool {
        self.events.iter().any(|e| e.kind == EventKind::ApiCall)
    }
}

fn finding(f: &posdiag_core::Finding, terminal: &str, origin: Origin, run_id: u64) -> FindingRow {
    let mut body = Vec::new();
    codec::finding_body(f, &mut body);
    FindingRow {
        at_ms: ms(f.observed_at),
        terminal: match (&f.terminal, terminal) {
            (Some(id), "") => id.as_str().to_owned(),
            _ => terminal.to_owned(),
        },
        check: f.check.clone(),
        subject: m(&f.subject),
        verdict: verdict_code(Some(f.verdict)),
        reason: f.reason.code(),
        origin,
        run_id,
        body,
    }
}

fn event(
    at_ms: i64,
    kind: EventKind,
    terminal: &str,
    origin: Origin,
    verdict: i64,
    body: EventBodyV1,
) -> EventRow {
    EventRow {
        at_ms,
        kind,
        terminal: terminal.to_owned(),
        origin: origin.code(),
        verdict,
        body: codec::event_body(body),
    }
}

/// Masks and encodes `r`.
pub(crate) fn prepare(r: &Record) -> Rows {
    let mut rows = Rows::default();
    match r {
        Record::Run(run) => {
            let terminal = run.terminal.as_ref().map(|t| t.as_str()).unwrap_or("");
            rows.run_id = run.run_id;
            rows.findings = run
                .findings
                .iter()
                .map(|f| finding(f, terminal, run.origin, run.run_id))
                .collect();
            rows.transitions = run
                .transitions
                .iter()
                .map(|c| TransitionRow {
                    at_ms: ms(c.at),
                    terminal: terminal.to_owned(),
                    check: c.check.clone(),
                    subject: m(&c.subject),
                    from: verdict_code(c.from),
                    to: verdict_code(Some(c.to)),
                    reason: c.reason.code(),
                    run_id: run.run_id,
                    summary: prost::Message::encode_to_vec(&codec::text_in(&c.summary)),
                })
                .collect();
            let overall = posdiag_core::Verdict::worst(
                run.findings
                    .iter()
                    .filter(|f| f.reason != posdiag_core::Reason::CheckCancelled)
                    .map(|f| f.verdict),
            );
            rows.events.push(event(
                ms(run.started),
                EventKind::Run,
                terminal,
                run.origin,
                verdict_code(overall),
                EventBodyV1::Run(codec::RunV1 {
                    run_id: run.run_id,
                    caller: run.caller.as_ref().map(codec::caller_in),
                    started_ms: ms(run.started),
                    duration_us: u64::try_from(run.duration.as_micros()).unwrap_or(u64::MAX),
                    findings: run.findings.len() as u32,
                    target: m(&run.target),
                }),
            ));
        }
        Record::Daemon(findings) => {
            rows.findings = findings
                .iter()
                .map(|f| finding(f, "", Origin::Daemon, 0))
                .collect();
        }
        Record::Diagnosis(d) => rows.events.push(event(
            ms(d.at),
            EventKind::Diagnosis,
            d.terminal.as_str(),
            Origin::Doctor,
            verdict_code(d.overall),
            codec::diagnosis_in(d),
        )),
        Record::PluginFault(p) => rows.events.push(event(
            ms(p.at),
            EventKind::PluginFault,
            "",
            Origin::Daemon,
            0,
            EventBodyV1::PluginFault(codec::PluginFaultV1 {
                plugin: p.plugin.clone(),
                fault: p.fault.clone(),
                detail: Some(codec::text_in(&p.detail)),
            }),
        )),
        Record::Link(l) => rows.events.push(event(
            ms(l.at),
            EventKind::Link,
            l.terminal.as_str(),
            Origin::Daemon,
            0,
            EventBodyV1::Link(codec::LinkV1 {
                present: l.present,
                path: m(&l.path),
            }),
        )),
        Record::Reload(rl) => rows.events.push(event(
            ms(rl.at),
            EventKind::Reload,
            "",
            Origin::Daemon,
            0,
            EventBodyV1::Reload(codec::ReloadV1 {
                applied: rl.applied,
                detail: Some(codec::text_in(&rl.detail)),
            }),
        )),
        Record::ApiCall(a) => rows.events.push(event(
            ms(a.at),
            EventKind::ApiCall,
            a.terminal.as_ref().map(|t| t.as_str()).unwrap_or(""),
            Origin::OnDemand,
            0,
            EventBodyV1::ApiCall(codec::ApiCallV1 {
                method: a.method.clone(),
                caller: Some(codec::caller_in(&a.caller)),
                target: m(&a.target),
                run_id: a.run_id,
                decision: a.decision.clone(),
                tier: a.tier.clone(),
                code: a.code,
                duration_us: u64::try_from(a.duration.as_micros()).unwrap_or(u64::MAX),
                detail: m(&a.detail),
            }),
        )),
    }
    rows
}
