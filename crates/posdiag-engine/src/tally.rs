//! Counts of what the terminals' runs found since the daemon started: runs
//! per check, target and verdict, failures per check, target and reason.
//! The daemon's `/metrics` renders them as counters. A target is the name
//! of the configured host a finding is about (`acquirer-a`), or empty for
//! the terminal's own checks, so the keys stay within the configuration
//! and the closed verdict and reason sets.
//!
//! Each terminal's counts carry a generation that grows whenever one of its
//! runs is counted, which is when its task records the run: `/metrics`
//! renders again only the terminals whose generation moved.

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
    terminals: HashMap<TerminalId, TerminalCounts>,
    /// The last generation handed out: generations are never reused, so a
    /// terminal removed and added again does not match an old one.
    generation: u64,
}

/// One terminal's counts, keyed by check and target.
#[derive(Debug, Default)]
struct TerminalCounts {
    generation: u64,
    runs: HashMap<(String, String), HashMap<Verdict, u64>>,
    failures: HashMap<(String, String), HashMap<Reason, u64>>,
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
        c.generation += 1;
        let generation = c.generation;
        let t = c.terminals.entry(spec.id.clone()).or_default();
        t.generation = generation;
        for f in findings {
            let key = (f.check.clone(), target_of(spec, f));
            if matches!(
                f.verdict,
                Verdict::Warning | Verdict::Error | Verdict::Critical
            ) {
                *t.failures
                    .entry(key.clone())
                    .or_default()
                    .entry(f.reason)
                    .or_default() += 1;
            }
            *t.runs.entry(key).or_default().entry(f.verdict).or_default() += 1;
        }
    }

    /// Forgets a terminal a reload removed, so its series vanish.
    pub fn forget(&self, terminal: &TerminalId) {
        if let Ok(mut c) = self.counts.lock() {
            c.terminals.remove(terminal);
        }
    }

    /// The generation of `terminal`'s counts: it changes (and only grows)
    /// each time one of its runs is counted; 0 before the first.
    pub fn generation(&self, terminal: &TerminalId) -> u64 {
        self.counts
            .lock()
            .ok()
            .and_then(|c| c.terminals.get(terminal).map(|t| t.generation))
            .unwrap_or(0)
    }

    /// The counts now, sorted by key.
    pub fn snapshot(&self) -> TallySnapshot {
        let Ok(c) = self.counts.lock() else {
            return TallySnapshot::default();
        };
        let mut out = TallySnapshot::default();
        for (id, t) in &c.terminals {
            t.add_to(id, &mut out);
        }
        out.sort();
        out
    }

    /// `terminal`'s counts now, sorted by key.
    pub fn snapshot_of(&self, terminal: &TerminalId) -> TallySnapshot {
        let mut out = TallySnapshot::default();
        if let Ok(c) = self.counts.lock()
            && let Some(t) = c.terminals.get(terminal)
        {
            t.add_to(terminal, &mut out);
        }
        out.sort();
        out
    }
}

impl TerminalCounts {
    fn add_to(&self, terminal: &TerminalId, out: &mut TallySnapshot) {
        let key = |(check, target): &(String, String)| Key {
            terminal: terminal.clone(),
            check: check.clone(),
            target: target.clone(),
        };
        for (k, by) in &self.runs {
            out.runs.extend(by.iter().map(|(v, n)| (key(k), *v, *n)));
        }
        for (k, by) in &self.failures {
            out.failures
                .extend(by.iter().map(|(r, n)| (key(k), *r, *n)));
        }
    }
}

impl TallySnapshot {
    fn sort(&mut self) {
        self.runs.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
        self.failures
            .sort_by(|a, b| (&a.0, a.1.code()).cmp(&(&b.0, b.1.code())));
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use posdiag_core::Text;

    use super::*;
    use crate::model::{LinkProbeSpec, LinkSpec};

    fn spec(id: &str) -> TerminalSpec {
        TerminalSpec {
            id: TerminalId::new(id).unwrap(),
            name: String::new(),
            vendor: String::new(),
            model: String::new(),
            link: LinkSpec::None,
            protocol: None,
            link_probe: LinkProbeSpec::default(),
            plugin: None,
            plugin_args: Default::default(),
            plugin_timeout: None,
            hosts: Vec::new(),
            check_interval: None,
        }
    }

    fn ok() -> Finding {
        Finding {
            check: "terminal.link".into(),
            verdict: Verdict::Ok,
            reason: Reason::Ok,
            summary: Text::new("s", "s"),
            evidence: Vec::new(),
            remedies: Vec::new(),
            duration: Duration::ZERO,
            observed_at: SystemTime::now(),
            terminal: None,
            subject: "T1".into(),
            producer: posdiag_core::Producer::builtin(),
        }
    }

    #[test]
    fn a_terminals_generation_moves_with_each_counted_run_and_is_never_reused() {
        let tally = Tally::default();
        let (t1, t2) = (spec("T1"), spec("T2"));
        assert_eq!(tally.generation(&t1.id), 0);
        tally.count(&t1, &[ok()]);
        let first = tally.generation(&t1.id);
        assert!(first > 0);
        tally.count(&t2, &[ok()]);
        assert_eq!(tally.generation(&t1.id), first, "another terminal's run");
        tally.count(&t1, &[ok()]);
        let second = tally.generation(&t1.id);
        assert!(second > first);
        let mine = tally.snapshot_of(&t1.id);
        assert_eq!(mine.runs.len(), 1);
        assert_eq!((mine.runs[0].1, mine.runs[0].2), (Verdict::Ok, 2));
        assert_eq!(tally.snapshot().runs.len(), 2);
        tally.forget(&t1.id);
        assert_eq!(tally.generation(&t1.id), 0);
        assert!(tally.snapshot_of(&t1.id).runs.is_empty());
        tally.count(&t1, &[ok()]);
        assert!(
            tally.generation(&t1.id) > second,
            "a terminal added again starts from a new generation"
        );
    }
}
