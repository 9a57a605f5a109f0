//! What the engine hands to the durable history: each run with who asked
//! for it, its findings and the verdict changes they caused (per check and
//! subject, and of the terminal as a whole), and port events. The terminal's
//! task owns the previous verdicts, so it is the one that can tell a change;
//! on start they are read back from the history, so a restart is not a
//! change.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use posdiag_core::{Finding, Reason, TerminalId, Text, Verdict};
use posdiag_history::{Caller, Filter, History, LinkEvent, Origin, Record, Run, Transition};

/// Who asked for a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunBy {
    /// Where it came from.
    pub origin: Origin,
    /// The API caller, for on-demand, doctor and probe runs.
    pub caller: Option<Caller>,
}

impl RunBy {
    /// An API caller's run (RunCheck).
    pub fn on_demand(caller: Option<Caller>) -> RunBy {
        RunBy {
            origin: Origin::OnDemand,
            caller,
        }
    }

    /// The schedule's run.
    pub(crate) fn schedule() -> RunBy {
        RunBy {
            origin: Origin::Schedule,
            caller: None,
        }
    }

    /// The daemon's own run (a port that came back).
    pub(crate) fn daemon() -> RunBy {
        RunBy {
            origin: Origin::Daemon,
            caller: None,
        }
    }
}

/// A run's identity and timing, carried from its start to its recording.
#[derive(Debug, Clone)]
pub(crate) struct RunMeta {
    pub run_id: u64,
    pub by: RunBy,
    pub started: SystemTime,
    pub duration: Duration,
}

/// The engine's side of the history; cheap to clone. Without a history it
/// still hands out run ids.
#[derive(Debug, Clone, Default)]
pub(crate) struct Recorder {
    history: Option<History>,
    local: Arc<AtomicU64>,
    /// Runs and failures counted for `/metrics`, with or without a history.
    tally: Arc<crate::tally::Tally>,
}

/// Previous verdicts of one terminal: per (check, subject), and overall.
#[derive(Debug, Default)]
pub(crate) struct Verdicts {
    by_check: HashMap<(String, String), Verdict>,
}

impl Recorder {
    pub fn new(history: Option<History>) -> Recorder {
        Recorder {
            history,
            local: Arc::new(AtomicU64::new(1)),
            tally: Arc::default(),
        }
    }

    pub fn tally(&self) -> &Arc<crate::tally::Tally> {
        &self.tally
    }

    pub fn next_run_id(&self) -> u64 {
        match &self.history {
            Some(h) => h.next_run_id(),
            None => self.local.fetch_add(1, Ordering::Relaxed),
        }
    }

    pub fn enabled(&self) -> bool {
        self.history.is_some()
    }

    /// The verdicts last stored for `terminal` (its latest change per check
    /// and subject, and overall), so the first run after a restart is not
    /// taken for a change. Blocking.
    pub fn stored_verdicts(&self, terminal: &TerminalId) -> (Verdicts, Option<Verdict>) {
        let mut v = Verdicts::default();
        let mut overall = None;
        let Some(h) = &self.history else {
            return (v, overall);
        };
        let filter = Filter {
            terminal: Some(terminal.as_str().to_owned()),
            ..Filter::default()
        };
        let mut token: Option<String> = None;
        // Newest first: the first change seen of each key is its latest.
        // Bounded: a terminal has a handful of checks; 10 pages are plenty.
        for _ in 0..10 {
            let page = match h.reader().transitions(&filter, 1000, token.as_deref()) {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!(terminal = %terminal, error = %e, "cannot read the stored verdicts; the first run counts as a change");
                    break;
                }
            };
            for t in page.items {
                let t = t.transition;
                if t.check.is_empty() {
                    overall.get_or_insert(t.to);
                } else {
                    v.by_check.entry((t.check, t.subject)).or_insert(t.to);
                }
            }
            match page.next {
                Some(next) => token = Some(next),
                None => break,
            }
        }
        (v, overall)
    }

    /// Records a run of `terminal` (or a probe) and the changes it caused.
    #[allow(clippy::too_many_arguments, reason = "a run's parts")]
    pub fn run(
        &self,
        terminal: Option<&TerminalId>,
        meta: RunMeta,
        target: String,
        findings: &[Finding],
        verdicts: Option<&mut Verdicts>,
        overall: Option<(Option<Verdict>, Option<Verdict>)>,
    ) {
        let Some(h) = &self.history else {
            return;
        };
        let mut transitions = match verdicts {
            Some(v) => v.changes(findings),
            None => Vec::new(),
        };
        if let Some((from, Some(to))) = overall
            && from != Some(to)
        {
            {
                // The finding that set the new status: the first with it.
                let cause = findings.iter().find(|f| f.verdict == to);
                transitions.push(Transition {
                    check: String::new(),
                    subject: String::new(),
                    from,
                    to,
                    reason: cause.map(|f| f.reason).unwrap_or(Reason::Ok),
                    summary: cause
                        .map(|f| f.summary.clone())
                        .unwrap_or_else(|| Text::new("", "")),
                    at: findings
                        .iter()
                        .map(|f| f.observed_at)
                        .max()
                        .unwrap_or_else(SystemTime::now),
                });
            }
        }
        // A plugin that crashed, hung or broke the protocol during this run
        // is a plugin fault as well as a finding: recorded with the run, so
        // it is in the history as soon as the run is.
        for f in findings {
            let fault = match f.reason {
                Reason::PluginCrashed => "crashed",
                Reason::PluginTimeout => "hung",
                Reason::PluginProtocol => "protocol",
                _ => continue,
            };
            h.record(Record::PluginFault(posdiag_history::PluginFault {
                plugin: f.producer.id.clone(),
                fault: fault.into(),
                detail: f.summary.clone(),
                at: f.observed_at,
            }));
        }
        h.record(Record::Run(Run {
            run_id: meta.run_id,
            terminal: terminal.cloned(),
            origin: meta.by.origin,
            caller: meta.by.caller,
            started: meta.started,
            duration: meta.duration,
            target,
            findings: findings.to_vec(),
            transitions,
        }));
    }

    /// Records that a terminal's port disappeared or came back.
    pub fn link(&self, terminal: &TerminalId, present: bool, path: String) {
        if let Some(h) = &self.history {
            h.record(Record::Link(LinkEvent {
                terminal: terminal.clone(),
                present,
                path,
                at: SystemTime::now(),
            }));
        }
    }
}

impl Verdicts {
    /// The changes `findings` make, updating the previous verdicts.
    /// Cancelled checks say nothing about the terminal and change nothing.
    fn changes(&mut self, findings: &[Finding]) -> Vec<Transition> {
        let mut out = Vec::new();
        for f in findings {
            if f.reason == Reason::CheckCancelled {
                continue;
            }
            let key = (f.check.clone(), f.subject.clone());
            let from = self.by_check.insert(key, f.verdict);
            if from != Some(f.verdict) {
                out.push(Transition {
                    check: f.check.clone(),
                    subject: f.subject.clone(),
                    from,
                    to: f.verdict,
                    reason: f.reason,
                    summary: f.summary.clone(),
                    at: f.observed_at,
                });
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(check: &str, verdict: Verdict, reason: Reason) -> Finding {
        Finding {
            check: check.into(),
            verdict,
            reason,
            summary: Text::new("s", "s"),
            evidence: Vec::new(),
            remedies: Vec::new(),
            duration: Duration::ZERO,
            observed_at: SystemTime::now(),
            terminal: None,
            subject: "acquirer-a".into(),
            producer: posdiag_core::Producer::builtin(),
        }
    }

    #[test]
    fn only_changes_are_transitions_and_cancellations_change_nothing() {
        let mut v = Verdicts::default();
        let first = v.changes(&[f("host.tcp", Verdict::Ok, Reason::Ok)]);
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].from, None);
        assert!(
            v.changes(&[f("host.tcp", Verdict::Ok, Reason::Ok)])
                .is_empty()
        );
        assert!(
            v.changes(&[f("host.tcp", Verdict::Unknown, Reason::CheckCancelled)])
                .is_empty()
        );
        let down = v.changes(&[f("host.tcp", Verdict::Critical, Reason::TcpRefused)]);
        assert_eq!(down.len(), 1);
        assert_eq!(
            (down[0].from, down[0].to, down[0].reason),
            (Some(Verdict::Ok), Verdict::Critical, Reason::TcpRefused)
        );
    }
}
