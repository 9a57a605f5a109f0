//! The one writer: a thread that owns the write connection, takes records
//! from a bounded queue and commits them in batches — everything queued at
//! once, up to a bounded window — and, between batches, prunes by age and
//! size in small steps so no step holds the lock for long.
//!
//! A failed commit (disk full, read-only file, locked file, I/O error) rolls
//! the batch back, counts its rows as unwritten and marks the store degraded;
//! the next batch, or a probe write on the housekeeping tick, tries again and
//! clears the mark when it succeeds.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError};
use std::time::{Duration, Instant, SystemTime};

use posdiag_core::Text;
use rusqlite::{Connection, Transaction, params};

use crate::codec;
use crate::record::{EventKind, StoredFinding, ms};
use crate::rows::{FindingRow, Rows};
use crate::{Options, Shared};

pub(crate) enum Msg {
    /// Boxed: the bounded channel allocates every slot up front, so a slot
    /// is a pointer, not a whole record.
    Record(Box<Rows>),
    /// Commit what came before, then (when `housekeep`) prune and refresh
    /// the statistics, then answer: a barrier for whoever waits.
    Barrier {
        housekeep: bool,
        done: std::sync::mpsc::Sender<()>,
    },
    Stop,
}

/// How often pruning and the statistics run (between batches under load,
/// on a quiet queue otherwise).
const HOUSEKEEPING: Duration = Duration::from_secs(2);
/// How long one round of pruning may hold the writer while records wait;
/// with nothing waiting it may take up to [`PRUNE_IDLE`].
const PRUNE_BUSY: Duration = Duration::from_millis(50);
const PRUNE_IDLE: Duration = Duration::from_secs(1);
/// Rows one pruning step deletes (one short transaction).
const PRUNE_STEP: i64 = 2000;

pub(crate) struct Writer {
    conn: Connection,
    rx: Receiver<Msg>,
    shared: Arc<Shared>,
    opts: Options,
    names: HashMap<String, i64>,
    /// Barriers met while gathering a batch: answered once it is committed.
    pending: Vec<(bool, std::sync::mpsc::Sender<()>)>,
}

impl Writer {
    pub(crate) fn new(
        conn: Connection,
        rx: Receiver<Msg>,
        shared: Arc<Shared>,
        opts: Options,
    ) -> Writer {
        Writer {
            conn,
            rx,
            shared,
            opts,
            names: HashMap::new(),
            pending: Vec::new(),
        }
    }

    pub(crate) fn run(mut self) {
        let mut next_housekeeping = Instant::now() + Duration::from_millis(200);
        loop {
            let wait = next_housekeeping.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(wait) {
                Ok(Msg::Record(first)) => {
                    let first = *first;
                    let (batch, stop) = self.gather(first);
                    self.commit(batch);
                    // A steady load never leaves the queue quiet: prune
                    // between batches too, within a small budget.
                    if Instant::now() >= next_housekeeping {
                        self.housekeeping();
                        next_housekeeping = Instant::now() + HOUSEKEEPING;
                    }
                    if self.pending.iter().any(|(h, _)| *h) {
                        self.housekeeping();
                    }
                    for (_, done) in self.pending.drain(..) {
                        let _ = done.send(());
                    }
                    if stop {
                        break;
                    }
                }
                Ok(Msg::Barrier { housekeep, done }) => {
                    if housekeep {
                        self.housekeeping();
                    }
                    let _ = done.send(());
                }
                Ok(Msg::Stop) | Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => {
                    self.housekeeping();
                    next_housekeeping = Instant::now() + HOUSEKEEPING;
                }
            }
        }
        // Whatever is still queued is committed before the file is closed.
        let mut rest = Vec::new();
        while let Ok(msg) = self.rx.try_recv() {
            match msg {
                Msg::Record(r) => rest.push(*r),
                Msg::Barrier { done, .. } => drop(done),
                Msg::Stop => {}
            }
        }
        if !rest.is_empty() {
            self.commit(rest);
        }
        let _ = self
            .conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
    }

    /// Everything queued now, up to the batch limits; whether a stop came.
    fn gather(&mut self, first: Rows) -> (Vec<Rows>, bool) {
        let started = Instant::now();
        let mut batch = vec![first];
        loop {
            if batch.len() >= self.opts.batch_max || started.elapsed() >= self.opts.batch_window {
                return (batch, false);
            }
            match self.rx.try_recv() {
                Ok(Msg::Record(r)) => batch.push(*r),
                Ok(Msg::Barrier { housekeep, done }) => {
                    // After this batch: answered once it is committed.
                    self.pending.push((housekeep, done));
                    return (batch, false);
                }
                Ok(Msg::Stop) | Err(TryRecvError::Disconnected) => return (batch, true),
                Err(TryRecvError::Empty) => return (batch, false),
            }
        }
    }

    fn commit(&mut self, batch: Vec<Rows>) {
        let n = batch.len() as u64;
        // The audit trail survives a power cut, not only a crash: a batch
        // with an API call is committed with a flush whatever the setting.
        let audit =
            self.opts.synchronous == crate::Synchronous::Normal && batch.iter().any(Rows::is_audit);
        if audit {
            let _ = self.conn.pragma_update(None, "synchronous", "FULL");
        }
        let mut new_names = HashMap::new();
        let mut stored = Vec::new();
        let result = (|| -> rusqlite::Result<()> {
            let tx = self.conn.transaction()?;
            let mut last_run = 0;
            // Decoded copies for watchers only when someone watches.
            let watched = self.shared.findings.receiver_count() > 0;
            for r in &batch {
                let out = if watched { Some(&mut stored) } else { None };
                insert(&tx, r, &self.names, &mut new_names, out)?;
                last_run = last_run.max(r.run_id);
            }
            if last_run > 0 {
                // Run ids stay unique after the runs themselves are pruned.
                tx.prepare_cached(
                    "INSERT INTO meta (key, value) VALUES ('last_run_id', ?1)
                     ON CONFLICT (key) DO UPDATE SET value = max(value, excluded.value)",
                )?
                .execute(params![last_run as i64])?;
            }
            tx.commit()
        })();
        match result {
            Ok(()) => {
                self.names.extend(new_names);
                let findings: u64 = batch.iter().map(|r| r.findings.len() as u64).sum();
                self.shared
                    .stats
                    .findings_written
                    .fetch_add(findings, Ordering::Relaxed);
                self.shared.note_recovered();
                if self.shared.findings.receiver_count() > 0 {
                    for f in stored {
                        let _ = self.shared.findings.send(Arc::new(f));
                    }
                }
            }
            Err(e) => {
                let rows: u64 = batch.iter().map(Rows::count).sum();
                self.shared
                    .stats
                    .unwritten
                    .fetch_add(rows, Ordering::Relaxed);
                self.shared
                    .stats
                    .write_errors
                    .fetch_add(1, Ordering::Relaxed);
                self.shared.note_degraded(&e);
            }
        }
        if audit {
            let _ = self.conn.pragma_update(None, "synchronous", "NORMAL");
        }
        self.shared.processed.send_modify(|p| *p += n);
    }

    fn housekeeping(&mut self) {
        if self.shared.is_degraded() {
            // Nothing else may come to prove the file writable again.
            let probe = self.conn.execute(
                "INSERT INTO meta (key, value) VALUES ('last_probe_ms', ?1)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                params![ms(SystemTime::now())],
            );
            match probe {
                Ok(_) => self.shared.note_recovered(),
                Err(e) => {
                    self.shared.note_degraded(&e);
                    return;
                }
            }
        }
        if let Err(e) = self.prune() {
            tracing::warn!(error = %e, "history pruning failed; it is retried later");
        }
        self.refresh_stats();
    }

    /// Deletes what retention no longer keeps, a small step at a time,
    /// within a time budget (short while records wait): every round makes
    /// progress, and no round holds the writer for long.
    fn prune(&mut self) -> rusqlite::Result<()> {
        let budget = if self.busy() { PRUNE_BUSY } else { PRUNE_IDLE };
        let started = Instant::now();
        let now = SystemTime::now();
        let cutoff = ms(now
            .checked_sub(self.opts.retention)
            .unwrap_or(SystemTime::UNIX_EPOCH));
        let long_cutoff = ms(now
            .checked_sub(self.opts.transitions_retention)
            .unwrap_or(SystemTime::UNIX_EPOCH));
        let audit: Vec<String> = EventKind::ALL
            .iter()
            .filter(|k| k.is_audit())
            .map(|k| k.code().to_string())
            .collect();
        let audit = audit.join(",");
        let steps: [(String, i64); 4] = [
            (
                format!(
                    "DELETE FROM findings WHERE seq IN (SELECT seq FROM findings ORDER BY seq LIMIT {PRUNE_STEP}) AND at_ms < ?1"
                ),
                cutoff,
            ),
            (
                format!(
                    "DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE kind NOT IN ({audit}) ORDER BY seq LIMIT {PRUNE_STEP}) AND at_ms < ?1"
                ),
                cutoff,
            ),
            (
                format!(
                    "DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE kind IN ({audit}) ORDER BY seq LIMIT {PRUNE_STEP}) AND at_ms < ?1"
                ),
                long_cutoff,
            ),
            (
                format!(
                    "DELETE FROM transitions WHERE seq IN (SELECT seq FROM transitions ORDER BY seq LIMIT {PRUNE_STEP}) AND at_ms < ?1"
                ),
                long_cutoff,
            ),
        ];
        let mut deleted = 0usize;
        for (sql, cut) in &steps {
            loop {
                if started.elapsed() >= budget {
                    return self.checkpoint(deleted);
                }
                let n = self.conn.execute(sql, params![cut])?;
                deleted += n;
                if n == 0 {
                    break;
                }
            }
        }
        // The size cap: the oldest findings, and with them the runs and
        // other events older than the oldest finding left (together most
        // of the file); only when no finding is left, the oldest events and
        // then changes. Freed pages are reused, so the file stops growing
        // at about the cap.
        if self.opts.max_bytes > 0 {
            let steps = [
                format!(
                    "DELETE FROM findings WHERE seq IN (SELECT seq FROM findings ORDER BY seq LIMIT {PRUNE_STEP})"
                ),
                format!(
                    "DELETE FROM events WHERE seq IN (SELECT seq FROM events ORDER BY seq LIMIT {PRUNE_STEP})"
                ),
                format!(
                    "DELETE FROM transitions WHERE seq IN (SELECT seq FROM transitions ORDER BY seq LIMIT {PRUNE_STEP})"
                ),
            ];
            // Under the cap, runs and status changes older than the oldest
            // finding kept go with it (changes outlive findings only by
            // age); the audit trail goes last.
            let follow = format!(
                "DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE kind NOT IN ({audit}) AND at_ms < (SELECT at_ms FROM findings ORDER BY seq LIMIT 1) ORDER BY seq LIMIT {PRUNE_STEP});
                 DELETE FROM transitions WHERE seq IN (SELECT seq FROM transitions WHERE at_ms < (SELECT at_ms FROM findings ORDER BY seq LIMIT 1) ORDER BY seq LIMIT {PRUNE_STEP});"
            );
            for (i, sql) in steps.iter().enumerate() {
                while self.used_bytes()? > self.opts.max_bytes {
                    if started.elapsed() >= budget {
                        return self.checkpoint(deleted);
                    }
                    let n = self.conn.execute(sql, [])?;
                    deleted += n;
                    if i == 0 {
                        let before = self.conn.total_changes();
                        self.conn.execute_batch(&follow)?;
                        deleted += (self.conn.total_changes() - before) as usize;
                    }
                    if n == 0 {
                        break;
                    }
                }
            }
        }
        self.checkpoint(deleted)
    }

    fn checkpoint(&self, deleted: usize) -> rusqlite::Result<()> {
        if deleted > 0 {
            tracing::debug!(deleted, "history pruned");
            self.conn
                .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
        }
        Ok(())
    }

    /// Records are waiting: pruning gives way.
    fn busy(&self) -> bool {
        let submitted = self.shared.submitted.load(Ordering::Relaxed);
        submitted > *self.shared.processed.borrow()
    }

    /// Bytes of the file that hold data (pages in use).
    fn used_bytes(&self) -> rusqlite::Result<u64> {
        let pages: i64 = self.conn.query_row("PRAGMA page_count", [], |r| r.get(0))?;
        let free: i64 = self
            .conn
            .query_row("PRAGMA freelist_count", [], |r| r.get(0))?;
        let size: i64 = self.conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
        Ok(((pages - free).max(0) * size) as u64)
    }

    fn refresh_stats(&self) {
        let rows: rusqlite::Result<i64> = self.conn.query_row(
            // Two subqueries, each one B-tree seek: min() and max() in one
            // SELECT would scan the whole table.
            "SELECT coalesce((SELECT max(seq) FROM findings) - (SELECT min(seq) FROM findings) + 1, 0)",
            [],
            |r| r.get(0),
        );
        if let Ok(rows) = rows {
            self.shared
                .stats
                .rows
                .store(rows.max(0) as u64, Ordering::Relaxed);
        }
        self.shared.refresh_size();
    }
}

/// The id of a name, interning it if new (in this transaction: committed
/// names join the cache only when the transaction commits).
fn name_id(
    tx: &Transaction<'_>,
    name: &str,
    cache: &HashMap<String, i64>,
    new: &mut HashMap<String, i64>,
) -> rusqlite::Result<i64> {
    if name.is_empty() {
        return Ok(0);
    }
    if let Some(id) = cache.get(name).or_else(|| new.get(name)) {
        return Ok(*id);
    }
    let id = tx
        .prepare_cached(
            "INSERT INTO names (name) VALUES (?1)
             ON CONFLICT (name) DO UPDATE SET name = name RETURNING id",
        )?
        .query_row(params![name], |r| r.get(0))?;
    new.insert(name.to_owned(), id);
    Ok(id)
}

fn insert(
    tx: &Transaction<'_>,
    rows: &Rows,
    cache: &HashMap<String, i64>,
    new: &mut HashMap<String, i64>,
    mut stored: Option<&mut Vec<StoredFinding>>,
) -> rusqlite::Result<()> {
    for f in &rows.findings {
        insert_finding(tx, f, cache, new, stored.as_deref_mut())?;
    }
    for c in &rows.transitions {
        tx.prepare_cached(
            "INSERT INTO transitions (at_ms, terminal, check_id, subject, from_verdict, to_verdict, reason, run_id, summary)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?
        .execute(params![
            c.at_ms,
            name_id(tx, &c.terminal, cache, new)?,
            name_id(tx, &c.check, cache, new)?,
            name_id(tx, &c.subject, cache, new)?,
            c.from,
            c.to,
            name_id(tx, c.reason, cache, new)?,
            c.run_id as i64,
            &c.summary[..],
        ])?;
    }
    for e in &rows.events {
        tx.prepare_cached(
            "INSERT INTO events (at_ms, kind, terminal, origin, verdict, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?
        .execute(params![
            e.at_ms,
            e.kind.code(),
            name_id(tx, &e.terminal, cache, new)?,
            e.origin,
            e.verdict,
            &e.body[..],
        ])?;
    }
    Ok(())
}

fn insert_finding(
    tx: &Transaction<'_>,
    f: &FindingRow,
    cache: &HashMap<String, i64>,
    new: &mut HashMap<String, i64>,
    stored: Option<&mut Vec<StoredFinding>>,
) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO findings (at_ms, terminal, check_id, subject, verdict, reason, origin, run_id, body)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        f.at_ms,
        name_id(tx, &f.terminal, cache, new)?,
        name_id(tx, &f.check, cache, new)?,
        name_id(tx, &f.subject, cache, new)?,
        f.verdict,
        name_id(tx, f.reason, cache, new)?,
        f.origin.code(),
        f.run_id as i64,
        &f.body[..],
    ])?;
    let seq = tx.last_insert_rowid() as u64;
    let Some(stored) = stored else {
        return Ok(());
    };
    // What watchers get is what the file holds: decoded from the bytes
    // just written, so it is masked exactly as a later read would be.
    if let Ok(finding) = codec::finding_out(
        codec::FindingColumns {
            check: f.check.clone(),
            verdict: f.verdict,
            reason: f.reason.to_owned(),
            subject: f.subject.clone(),
            terminal: (!f.terminal.is_empty()).then(|| f.terminal.clone()),
            at_ms: f.at_ms,
        },
        &f.body,
    ) {
        stored.push(StoredFinding {
            seq,
            run_id: f.run_id,
            origin: f.origin,
            finding,
        });
    }
    Ok(())
}

/// Why a write failed, for a person.
pub(crate) fn degraded_text(e: &rusqlite::Error) -> Text {
    use rusqlite::ErrorCode as C;
    let code = e.sqlite_error_code();
    match code {
        Some(C::DiskFull) => Text::new(
            "the disk is full: findings are not being stored until there is room again",
            "磁盘已满：在腾出空间之前，检查结果不会被保存",
        ),
        Some(C::ReadOnly) | Some(C::PermissionDenied) | Some(C::CannotOpen) => Text::new(
            format!(
                "the history file cannot be written ({e}): check its permissions and the file system"
            ),
            format!("历史记录文件无法写入（{e}）：请检查其权限和文件系统"),
        ),
        Some(C::DatabaseBusy) | Some(C::DatabaseLocked) => Text::new(
            "another program holds a lock on the history file: findings are not being stored until it lets go",
            "另一个程序锁定了历史记录文件：在其释放之前，检查结果不会被保存",
        ),
        Some(C::DatabaseCorrupt) | Some(C::NotADatabase) => Text::new(
            "the history file is damaged: restart posdiagd to move it aside and start a fresh one",
            "历史记录文件已损坏：请重启 posdiagd，它会把文件移到一旁并新建一个",
        ),
        Some(C::SystemIoFailure) => Text::new(
            format!(
                "writing to the disk failed ({e}): the disk may be full, over a size limit or failing; findings are not being stored until a write succeeds"
            ),
            format!(
                "写入磁盘失败（{e}）：磁盘可能已满、超出大小限制或出现故障；在写入成功之前，检查结果不会被保存"
            ),
        ),
        _ => Text::new(
            format!("writing the history failed: {e}"),
            format!("写入历史记录失败：{e}"),
        ),
    }
}
