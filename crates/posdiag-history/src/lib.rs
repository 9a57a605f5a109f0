//! posdiagd's durable history: every finding, run, verdict change and event
//! in one embedded SQLite file (the library's bundled SQLite: nothing to
//! install), so "since when has T3 been failing, how often did the acquirer
//! drop last week, what did the engineer run yesterday" has an answer after
//! restarts, upgrades and crashes.
//!
//! - One writer thread owns the write connection ([`writer`]); producers hand
//!   it [`Record`]s through a bounded queue and never wait for the disk. It
//!   commits everything queued at once (a batch is bounded by
//!   [`Options::batch_window`] and [`Options::batch_max`]), in WAL mode, so a
//!   `kill -9` loses at most the batch being gathered and never corrupts.
//! - Reads ([`Reader`]) use their own read-only connections: a long query
//!   never blocks a write.
//! - The schema version is in the file; older files are migrated forward,
//!   a newer file is left untouched ([`OpenError::Newer`]) and a damaged
//!   one is moved aside and replaced ([`Opened::moved_aside`]).
//! - Everything stored passes the card-number mask first.
//!
//! The crate does its I/O on its own threads and blocking calls; it needs
//! no async runtime (watchers receive from a `tokio::sync::broadcast`).

#![forbid(unsafe_code)]

mod availability;
mod codec;
mod read;
mod record;
mod rows;
mod schema;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use posdiag_core::{Finding, Producer, Reason, Text, Verdict};
use tokio::sync::{broadcast, watch};

pub use availability::{Availability, CheckAvailability, Sample, compute as compute_availability};
pub use read::{Filter, Page, PageError, Reader};
pub use record::{
    ApiCall, Caller, Diagnosis, Event, EventKind, LinkEvent, Origin, PluginFault, Record, Reload,
    Run, RunSummary, StoredEvent, StoredFinding, StoredTransition, Transition,
};
pub use schema::SCHEMA_VERSION;

/// The check id of the daemon's findings about its history.
pub const HISTORY_CHECK: &str = "daemon.history";

/// How hard a commit waits for the disk (`PRAGMA synchronous`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Synchronous {
    /// Survives a crash of posdiagd; the last commits may roll back after a
    /// power loss (never corrupts).
    Normal,
    /// Every commit reaches the disk before it counts (survives power loss
    /// when the storage honours flushes); slower.
    Full,
}

impl Synchronous {
    fn pragma(self) -> &'static str {
        match self {
            Synchronous::Normal => "NORMAL",
            Synchronous::Full => "FULL",
        }
    }
}

/// Where and how much the history keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// The file.
    pub path: PathBuf,
    /// Findings, runs and diagnoses older than this are deleted.
    pub retention: Duration,
    /// Transitions and audit rows (API calls, reloads) older than this are
    /// deleted.
    pub transitions_retention: Duration,
    /// A soft cap on the data in the file, in bytes (0: none): beyond it the
    /// oldest findings go first.
    pub max_bytes: u64,
    /// How hard a commit waits for the disk.
    pub synchronous: Synchronous,
    /// The longest a batch gathers before it is committed.
    pub batch_window: Duration,
    /// The most records in one batch.
    pub batch_max: usize,
    /// Records that may wait for the writer; more are dropped and counted.
    pub queue: usize,
    /// How long a write waits for another program's lock on the file
    /// before the batch counts as unwritten.
    pub busy_timeout: Duration,
}

impl Options {
    /// The defaults for a file at `path`.
    pub fn new(path: impl Into<PathBuf>) -> Options {
        Options {
            path: path.into(),
            retention: Duration::from_secs(30 * 86_400),
            transitions_retention: Duration::from_secs(365 * 86_400),
            max_bytes: 256 * 1024 * 1024,
            synchronous: Synchronous::Normal,
            batch_window: Duration::from_millis(1000),
            batch_max: 1024,
            queue: 16_384,
            busy_timeout: Duration::from_secs(5),
        }
    }
}

/// Why the history could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// The file's schema is newer than this build knows.
    #[error(
        "the history file has schema version {found}, newer than this posdiag knows ({supported}): it was written by a newer posdiag and is left untouched"
    )]
    Newer {
        /// The file's version.
        found: i64,
        /// The newest this build knows.
        supported: i64,
    },
    /// The file or its directory cannot be created or opened.
    #[error("cannot open the history file {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// SQLite refused.
    #[error("{0}")]
    Sqlite(#[source] rusqlite::Error),
}

impl OpenError {
    fn sqlite(e: rusqlite::Error) -> OpenError {
        OpenError::Sqlite(e)
    }

    fn is_corrupt(&self) -> bool {
        matches!(self, OpenError::Sqlite(e) if matches!(
            e.sqlite_error_code(),
            Some(rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase)
        ))
    }

    /// The message in every language.
    pub fn text(&self) -> Text {
        match self {
            OpenError::Newer { found, supported } => Text::new(
                self.to_string(),
                format!(
                    "历史记录文件的结构版本为 {found}，比本版本 posdiag 支持的（{supported}）更新：它由更新版本的 posdiag 写入，未作任何改动"
                ),
            ),
            OpenError::Io { path, source } => Text::new(
                self.to_string(),
                format!("无法打开历史记录文件 {}：{source}", path.display()),
            ),
            OpenError::Sqlite(e) => Text::new(
                format!("cannot open the history file: {e}"),
                format!("无法打开历史记录文件：{e}"),
            ),
        }
    }
}

/// What opening found.
#[derive(Debug, Clone)]
pub struct Opened {
    /// The schema version the file had (0 for a new file).
    pub found_version: i64,
    /// Where a damaged file was moved, when it was.
    pub moved_aside: Option<PathBuf>,
}

/// Counters of what the writer did.
#[derive(Debug, Default)]
pub struct Stats {
    /// Findings stored since start.
    pub findings_written: AtomicU64,
    /// Rows that could not be stored (write errors and overload).
    pub unwritten: AtomicU64,
    /// Records dropped because the writer fell behind.
    pub dropped: AtomicU64,
    /// Failed commits.
    pub write_errors: AtomicU64,
    /// Findings in the file (approximately: the span of sequence numbers).
    pub rows: AtomicU64,
    /// Size of the file and its write-ahead log.
    pub size_bytes: AtomicU64,
}

#[derive(Debug)]
pub(crate) struct Shared {
    path: PathBuf,
    submitted: AtomicU64,
    processed: watch::Sender<u64>,
    stats: Stats,
    degraded: Mutex<Option<Text>>,
    findings: broadcast::Sender<Arc<StoredFinding>>,
    next_run_id: AtomicU64,
}

impl Shared {
    fn is_degraded(&self) -> bool {
        self.degraded.lock().map(|d| d.is_some()).unwrap_or(false)
    }

    fn note_degraded(&self, e: &rusqlite::Error) {
        let text = writer::degraded_text(e);
        if matches!(
            e.sqlite_error_code(),
            Some(rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase)
        ) {
            // Damage found while running: the next start moves the file
            // aside even if opening it alone would not notice.
            let _ = std::fs::write(damage_marker(&self.path), e.to_string());
        }
        if let Ok(mut d) = self.degraded.lock() {
            if d.as_ref() != Some(&text) {
                tracing::error!(error = %e, path = %self.path.display(), "history degraded: {}", text.en);
            }
            *d = Some(text);
        }
    }

    fn note_recovered(&self) {
        if let Ok(mut d) = self.degraded.lock()
            && d.take().is_some()
        {
            tracing::info!(
                path = %self.path.display(),
                unwritten = self.stats.unwritten.load(Ordering::Relaxed),
                "history recovered: findings are stored again"
            );
        }
    }

    fn refresh_size(&self) {
        let mut size = 0;
        for suffix in ["", "-wal"] {
            let mut p = self.path.clone().into_os_string();
            p.push(suffix);
            size += std::fs::metadata(&p).map(|m| m.len()).unwrap_or(0);
        }
        self.stats.size_bytes.store(size, Ordering::Relaxed);
    }
}

/// How the store is doing, for `posdiag terminals` and the health service.
#[derive(Debug, Clone)]
pub struct Status {
    /// The file.
    pub path: PathBuf,
    /// Why it is degraded; `None` when writes succeed.
    pub degraded: Option<Text>,
    /// Rows that could not be stored since start.
    pub unwritten: u64,
    /// Records dropped because the writer fell behind.
    pub dropped: u64,
    /// Failed commits since start.
    pub write_errors: u64,
    /// Findings in the file.
    pub rows: u64,
    /// Size of the file and its log.
    pub size_bytes: u64,
}

/// The handle to the history; cheap to clone. Dropping the last handle
/// does not stop the writer: call [`History::close`].
#[derive(Debug, Clone)]
pub struct History {
    shared: Arc<Shared>,
    tx: SyncSender<writer::Msg>,
    reader: Reader,
    writer: Arc<Mutex<Option<std::thread::JoinHandle<()>>>>,
}

impl History {
    /// Opens (creating, migrating or replacing a damaged file) and starts
    /// the writer thread.
    pub fn open(opts: Options) -> Result<(History, Opened), OpenError> {
        if let Some(dir) = opts.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| OpenError::Io {
                path: opts.path.clone(),
                source,
            })?;
        }
        let marked = damage_marker(&opts.path);
        let opened = if marked.exists() {
            let why = std::fs::read_to_string(&marked).unwrap_or_default();
            Err(OpenError::Sqlite(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CORRUPT),
                Some(format!("found damaged while running: {why}")),
            )))
        } else {
            open_and_migrate(&opts)
        };
        let (mut conn, found, moved_aside) = match opened {
            Ok((conn, found)) => (conn, found, None),
            Err(e) if e.is_corrupt() => {
                let _ = std::fs::remove_file(&marked);
                let aside = move_aside(&opts.path)?;
                tracing::error!(
                    path = %opts.path.display(),
                    moved_to = %aside.display(),
                    error = %e,
                    "the history file is damaged: it was moved aside (kept for the vendor) and a fresh one started"
                );
                let (conn, found) = open_and_migrate(&opts)?;
                (conn, found, Some(aside))
            }
            Err(e) => return Err(e),
        };
        // Kept in `meta` by every batch with a run (no scan of the file:
        // opening a large history stays instant and reads almost nothing).
        let last_run: i64 = conn
            .query_row(
                "SELECT coalesce((SELECT value FROM meta WHERE key = 'last_run_id'), 0)",
                [],
                |r| r.get(0),
            )
            .map_err(OpenError::sqlite)?;
        // Run ids are unique across restarts even when the runs were pruned.
        let tx = conn.transaction().map_err(OpenError::sqlite)?;
        tx.execute(
            "INSERT INTO meta (key, value) VALUES ('opened_ms', ?1)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [record::ms(SystemTime::now())],
        )
        .map_err(OpenError::sqlite)?;
        tx.commit().map_err(OpenError::sqlite)?;
        let (processed, _) = watch::channel(0);
        let (findings, _) = broadcast::channel(4096);
        let shared = Arc::new(Shared {
            path: opts.path.clone(),
            submitted: AtomicU64::new(0),
            processed,
            stats: Stats::default(),
            degraded: Mutex::new(None),
            findings,
            next_run_id: AtomicU64::new(last_run.max(0) as u64 + 1),
        });
        shared.refresh_size();
        let (tx, rx) = std::sync::mpsc::sync_channel(opts.queue.max(1));
        let w = writer::Writer::new(conn, rx, shared.clone(), opts.clone());
        let handle = std::thread::Builder::new()
            .name("history-writer".into())
            .spawn(move || w.run())
            .map_err(|source| OpenError::Io {
                path: opts.path.clone(),
                source,
            })?;
        let reader = Reader::new(opts.path.clone());
        Ok((
            History {
                shared,
                tx,
                reader,
                writer: Arc::new(Mutex::new(Some(handle))),
            },
            Opened {
                found_version: found,
                moved_aside,
            },
        ))
    }

    /// Hands a record to the writer without waiting. When the writer has
    /// fallen this far behind, the record is dropped and counted.
    pub fn record(&self, r: Record) {
        if let Record::Run(run) = &r {
            // Keep the counter past ids allocated elsewhere.
            self.shared
                .next_run_id
                .fetch_max(run.run_id + 1, Ordering::Relaxed);
        }
        // Masked and encoded here, on the producer's thread: the writer
        // only inserts.
        let prepared = rows::prepare(&r);
        let rows = prepared.count();
        self.shared.submitted.fetch_add(1, Ordering::Relaxed);
        match self.tx.try_send(writer::Msg::Record(Box::new(prepared))) {
            Ok(()) => {}
            Err(e) => {
                if matches!(e, TrySendError::Disconnected(_))
                    && let Ok(mut d) = self.shared.degraded.lock()
                    && d.is_none()
                {
                    tracing::error!(
                        "the history writer has stopped: nothing more is stored until posdiagd restarts"
                    );
                    *d = Some(Text::new(
                        "the history writer has stopped: nothing more is stored until posdiagd restarts",
                        "历史记录写入线程已停止：在 posdiagd 重启之前不会再保存任何内容",
                    ));
                }
                self.shared.processed.send_modify(|p| *p += 1);
                let dropped = self.shared.stats.dropped.fetch_add(1, Ordering::Relaxed);
                self.shared
                    .stats
                    .unwritten
                    .fetch_add(rows, Ordering::Relaxed);
                if dropped.is_power_of_two() || dropped == 0 {
                    tracing::warn!(
                        dropped = dropped + 1,
                        "the history writer is behind: records are dropped and counted"
                    );
                }
            }
        }
    }

    /// A run id not used before in this file.
    pub fn next_run_id(&self) -> u64 {
        self.shared.next_run_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Waits (at most `limit`) until every record handed over before this
    /// call has been committed or given up on, so a read that follows sees
    /// what was recorded before it. Returns whether it caught up.
    pub async fn caught_up(&self, limit: Duration) -> bool {
        let target = self.shared.submitted.load(Ordering::Relaxed);
        let mut rx = self.shared.processed.subscribe();
        tokio::time::timeout(limit, rx.wait_for(|p| *p >= target))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// Blocking form of [`History::caught_up`], for threads without a
    /// runtime (benchmarks, tests): waits until everything handed over
    /// before this call is committed or given up on.
    pub fn wait_caught_up(&self) {
        self.barrier(false);
    }

    /// Queues a barrier behind what was handed over so far and waits until
    /// the writer reaches it.
    fn barrier(&self, housekeep: bool) {
        let (done, wait) = std::sync::mpsc::channel();
        if self
            .tx
            .send(writer::Msg::Barrier { housekeep, done })
            .is_ok()
        {
            let _ = wait.recv();
        }
    }

    /// Findings as they are committed (masked, with their sequence numbers).
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<StoredFinding>> {
        self.shared.findings.subscribe()
    }

    /// The read side.
    pub fn reader(&self) -> &Reader {
        &self.reader
    }

    /// How the store is doing now.
    pub fn status(&self) -> Status {
        let s = &self.shared.stats;
        Status {
            path: self.shared.path.clone(),
            degraded: self.shared.degraded.lock().ok().and_then(|d| d.clone()),
            unwritten: s.unwritten.load(Ordering::Relaxed),
            dropped: s.dropped.load(Ordering::Relaxed),
            write_errors: s.write_errors.load(Ordering::Relaxed),
            rows: s.rows.load(Ordering::Relaxed),
            size_bytes: s.size_bytes.load(Ordering::Relaxed),
        }
    }

    /// The writer's counters.
    pub fn stats(&self) -> &Stats {
        &self.shared.stats
    }

    /// Prunes by age and size and refreshes the statistics now, after what
    /// is queued (the writer also does it every few seconds); waits for it.
    pub fn housekeep(&self) {
        self.barrier(true);
    }

    /// Commits what is queued and stops the writer (waits for it).
    pub fn close(&self) {
        let _ = self.tx.send(writer::Msg::Stop);
        let handle = self.writer.lock().ok().and_then(|mut h| h.take());
        if let Some(h) = handle {
            let _ = h.join();
        }
    }
}

fn open_and_migrate(opts: &Options) -> Result<(rusqlite::Connection, i64), OpenError> {
    let mut conn = schema::open_writer(&opts.path, opts.busy_timeout).map_err(OpenError::sqlite)?;
    let found = schema::migrate(&mut conn, opts.synchronous, opts.max_bytes)?;
    Ok((conn, found))
}

/// The file that says the history was found damaged while running.
fn damage_marker(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".damaged");
    PathBuf::from(p)
}

/// Renames a damaged file (and its log) out of the way, keeping it.
fn move_aside(path: &Path) -> Result<PathBuf, OpenError> {
    let stamp = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let mut aside = path.as_os_str().to_owned();
    aside.push(format!(".corrupt-{stamp}"));
    let aside = PathBuf::from(aside);
    std::fs::rename(path, &aside).map_err(|source| OpenError::Io {
        path: path.to_owned(),
        source,
    })?;
    for suffix in ["-wal", "-shm"] {
        let mut from = path.as_os_str().to_owned();
        from.push(suffix);
        let mut to = aside.as_os_str().to_owned();
        to.push(suffix);
        let _ = std::fs::rename(&from, &to);
    }
    Ok(aside)
}

/// The daemon's finding about a damaged file it moved aside.
pub fn moved_aside_finding(path: &Path, aside: &Path) -> Finding {
    daemon_finding(
        Verdict::Critical,
        Reason::HistoryCorrupt,
        Text::new(
            format!(
                "the history file {} was damaged: it was moved to {} (kept for the vendor) and a fresh history started; what it held is not in the new one",
                path.display(),
                aside.display()
            ),
            format!(
                "历史记录文件 {} 已损坏：已移至 {}（留给厂商分析），并新建了历史记录；旧文件中的内容不在新历史中",
                path.display(),
                aside.display()
            ),
        ),
        vec![posdiag_core::Remedy::new(
            posdiag_core::Actor::Merchant,
            "check the disk (SMART, file system) and keep the moved file for the vendor",
            "检查磁盘（SMART、文件系统），并把移走的文件留给厂商",
        )],
    )
}

/// The daemon's finding about a history it cannot use at all.
pub fn unavailable_finding(e: &OpenError) -> Finding {
    let (reason, remedy) = match e {
        OpenError::Newer { .. } => (
            Reason::HistoryNewer,
            posdiag_core::Remedy::new(
                posdiag_core::Actor::Merchant,
                "install the newer posdiag again, or point [history] path at another file",
                "重新安装较新版本的 posdiag，或将 [history] path 指向另一个文件",
            ),
        ),
        _ => (
            Reason::HistoryDegraded,
            posdiag_core::Remedy::new(
                posdiag_core::Actor::Merchant,
                "check that the directory of [history] path exists and belongs to the posdiag user",
                "检查 [history] path 所在目录是否存在并属于 posdiag 用户",
            ),
        ),
    };
    daemon_finding(Verdict::Critical, reason, e.text(), vec![remedy])
}

fn daemon_finding(
    verdict: Verdict,
    reason: Reason,
    summary: Text,
    remedies: Vec<posdiag_core::Remedy>,
) -> Finding {
    Finding {
        check: HISTORY_CHECK.into(),
        verdict,
        reason,
        summary,
        evidence: Vec::new(),
        remedies,
        duration: Duration::ZERO,
        observed_at: SystemTime::now(),
        terminal: None,
        subject: "posdiagd".into(),
        producer: Producer::builtin(),
    }
}
