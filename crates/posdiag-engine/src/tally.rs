//! Counts of what the terminals' runs found since the daemon started: runs
//! per check, target and verdict, failures per check, target and reason.
//! The daemon's `/metrics` renders them as counters. A target is the name
//! of the configured host a finding is about (`acquirer-a`), or empty for
//! the terminal's own checks, so the keys stay within the configuration
//! and the closed verdict and reason sets.

use std::collections::HashMap;
use std::sync::Mutex;

use posdiag_core::{Finding, Reason, TerminalId, Verdict};

use crate::model::TerminalSpec;

/// The counts; one per engine, shared by every terminal task.
#[derive(Debug, Default)]
pub struct Tally {
    counts: Mutex<Counts>,
}

#[derive(Debug, Default)]
struct Counts {
    runs: HashMap<Key, HashMap<Verdict, u64>>,
    failures: HashMap<Key, HashMap<Reason, u64>>,
}

/// Terminal, check and target of a count.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    /// The terminal.
    pub terminal: TerminalId,
    /// The check id.
    pub check: String,
    /// The configured host's name, empty for the terminal's own checks.
    pub target: String,
}

/// The counts at one moment.
#[derive(Debug, Clone, Default)]
pub struct TallySnapshot {
    /// Runs per key and verdict.
    pub runs: Vec<(Key, Verdict, u64)>,
    /// Failures (WARNING, ERROR, CRITICAL) per key and reason.
    pub failures: Vec<(Key, Reason, u64)>,
}

/// The configured host a finding is about: the one whose subject it names.
pub fn target_of(spec: &TerminalSpec, finding: &Finding) -> String {
    spec.hosts
        .iter()
        .find(|h| h.subject() == finding.subject)
        .map(|h| h.name.clone())
        .unwrap_or_default()
}

impl Tally {
    /// Counts the findings of one run of `spec`'s terminal.
    pub fn count(&self, spec: &TerminalSpec, findings: &[Finding]) {
        let Ok(mut c) = self.counts.lock() else {
            return;
        };
        for f in findings {
            let key = Key {
                terminal: spec.id.clone(),
                check: f.check.clone(),
                target: target_of(spec, f),
            };
            if matches!(
                f.verdict,
                Verdict::Warning | Verdict::Error | Verdict::Critical
            ) {
                *c.failures
                    .entry(key.clone())
                    .or_default()
                    .entry(f.reason)
                    .or_default() += 1;
            }
            *c.runs.entry(key).or_default().entry(f.verdict).or_default() += 1;
        }
    }

    /// Forgets a terminal a reload removed, so its series vanish.
    pub fn forget(&self, terminal: &TerminalId) {
        if let Ok(mut c) = self.counts.lock() {
            c.runs.retain(|k, _| &k.terminal != terminal);
            c.failures.retain(|k, _| &k.terminal != terminal);
        }
    }

    /// The counts now, sorted by key.
    pub fn snapshot(&self) -> TallySnapshot {
        let Ok(c) = self.counts.lock() else {
            return TallySnapshot::default();
        };
        let mut runs: Vec<_> = c
            .runs
            .iter()
            .flat_map(|(k, by)| by.iter().map(|(v, n)| (k.clone(), *v, *n)))
            .collect();
        runs.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
        let mut failures: Vec<_> = c
            .failures
            .iter()
            .flat_map(|(k, by)| by.iter().map(|(r, n)| (k.clone(), *r, *n)))
            .collect();
        failures.sort_by(|a, b| (&a.0, a.1.code()).cmp(&(&b.0, b.1.code())));
        TallySnapshot { runs, failures }
    }
}
