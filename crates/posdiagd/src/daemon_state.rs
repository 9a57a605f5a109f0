//! The daemon's own state beside its terminals: the history store (open,
//! disabled, or unusable and why) and the findings about the daemon itself
//! (a damaged history file moved aside, a history it cannot write).

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use posdiag_core::{Finding, Text, Verdict};
use posdiag_history::{History, Record};

use crate::config::HistoryConfig;

/// The daemon's own state; cheap to clone.
#[derive(Debug, Clone)]
pub struct DaemonState {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: Store,
    path: std::path::PathBuf,
    /// Findings about the daemon from its start (they stay until restart).
    findings: Mutex<Vec<Finding>>,
}

/// Where the history stands.
#[derive(Debug)]
pub enum Store {
    /// `[history] enabled = false`.
    Disabled,
    /// It could not be opened; the daemon runs without it.
    Unavailable(Text),
    /// Open.
    Open(History),
}

impl DaemonState {
    /// Opens the history as configured. A file that cannot be used stops
    /// the start only with `required = true`; otherwise the daemon runs
    /// without it and says why.
    pub fn open(cfg: &HistoryConfig) -> anyhow::Result<DaemonState> {
        let path = cfg.options.path.clone();
        let mut findings = Vec::new();
        let store = if !cfg.enabled {
            Store::Disabled
        } else {
            match History::open(cfg.options.clone()) {
                Ok((h, opened)) => {
                    if let Some(aside) = &opened.moved_aside {
                        let f = posdiag_history::moved_aside_finding(&path, aside);
                        h.record(Record::Daemon(vec![f.clone()]));
                        findings.push(f);
                    }
                    tracing::info!(
                        path = %path.display(),
                        schema_was = opened.found_version,
                        "history open"
                    );
                    Store::Open(h)
                }
                Err(e) if cfg.required => {
                    anyhow::bail!("{} ([history] required = true)", e);
                }
                Err(e) => {
                    tracing::error!(path = %path.display(), error = %e, "the history cannot be used; posdiagd runs without it (checks and the live state are not affected)");
                    findings.push(posdiag_history::unavailable_finding(&e));
                    Store::Unavailable(e.text())
                }
            }
        };
        Ok(DaemonState {
            inner: Arc::new(Inner {
                store,
                path,
                findings: Mutex::new(findings),
            }),
        })
    }

    /// The open history, if any.
    pub fn history(&self) -> Option<&History> {
        match &self.inner.store {
            Store::Open(h) => Some(h),
            _ => None,
        }
    }

    /// Where the history stands.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The history file's path.
    pub fn path(&self) -> &std::path::Path {
        &self.inner.path
    }

    /// Findings about the daemon now, worst first: those from its start and
    /// a history that cannot be written at the moment.
    pub fn findings(&self) -> Vec<Finding> {
        let mut out = self
            .inner
            .findings
            .lock()
            .map(|f| f.clone())
            .unwrap_or_default();
        if let Some(h) = self.history() {
            let status = h.status();
            if let Some(why) = status.degraded {
                out.push(Finding {
                    check: posdiag_history::HISTORY_CHECK.into(),
                    verdict: Verdict::Critical,
                    reason: posdiag_core::Reason::HistoryDegraded,
                    summary: Text::new(
                        format!("history degraded: {} ({} records not stored so far)", why.en, status.unwritten),
                        format!("历史记录降级：{}（目前已有 {} 条记录未保存）", why.zh, status.unwritten),
                    ),
                    evidence: vec![posdiag_core::Evidence::number(
                        "unwritten",
                        status.unwritten as f64,
                        posdiag_core::Unit::Count,
                    )],
                    remedies: vec![posdiag_core::Remedy::new(
                        posdiag_core::Actor::Merchant,
                        format!("free space on the disk of {} or fix its permissions; posdiagd resumes storing by itself", self.inner.path.display()),
                        format!("为 {} 所在磁盘腾出空间或修正其权限；posdiagd 会自动恢复保存", self.inner.path.display()),
                    )],
                    duration: Duration::ZERO,
                    observed_at: SystemTime::now(),
                    terminal: None,
                    subject: "posdiagd".into(),
                    producer: posdiag_core::Producer::builtin(),
                });
            }
        }
        out.sort_by_key(|f| std::cmp::Reverse(f.verdict));
        out
    }

    /// Hands a record to the history when there is one.
    pub fn record(&self, r: Record) {
        if let Some(h) = self.history() {
            h.record(r);
        }
    }

    /// Commits what is queued and closes the file.
    pub fn close(&self) {
        if let Some(h) = self.history() {
            h.close();
        }
    }
}
