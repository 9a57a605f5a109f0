//! The file's schema, its version and the forward migrations; opening a
//! connection with the pragmas the store relies on.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use crate::{OpenError, Synchronous};

/// The schema version this build writes (`PRAGMA user_version`).
pub const SCHEMA_VERSION: i64 = 1;

/// Migration `i` takes a file from version `i` to `i + 1`. Append only: a
/// released migration is never edited.
const MIGRATIONS: &[&str] = &[
    // 0 → 1: the first schema. Names (terminal ids, check ids, subjects,
    // reason codes) are interned in `names` so rows and indexes stay small;
    // 0 stands for "none". Sequence numbers are AUTOINCREMENT: they only
    // grow, across restarts, pruning and clock jumps.
    "
    CREATE TABLE meta (key TEXT PRIMARY KEY, value ANY) WITHOUT ROWID;
    CREATE TABLE names (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
    CREATE TABLE findings (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        at_ms INTEGER NOT NULL,
        terminal INTEGER NOT NULL,
        check_id INTEGER NOT NULL,
        subject INTEGER NOT NULL,
        verdict INTEGER NOT NULL,
        reason INTEGER NOT NULL,
        origin INTEGER NOT NULL,
        run_id INTEGER NOT NULL,
        body BLOB NOT NULL
    );
    CREATE INDEX findings_by_terminal ON findings (terminal, seq);
    CREATE INDEX findings_by_check ON findings (terminal, check_id, at_ms, subject, verdict, reason);
    CREATE TABLE transitions (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        at_ms INTEGER NOT NULL,
        terminal INTEGER NOT NULL,
        check_id INTEGER NOT NULL,
        subject INTEGER NOT NULL,
        from_verdict INTEGER NOT NULL,
        to_verdict INTEGER NOT NULL,
        reason INTEGER NOT NULL,
        run_id INTEGER NOT NULL,
        summary BLOB NOT NULL
    );
    CREATE INDEX transitions_by_terminal ON transitions (terminal, check_id, subject, seq);
    CREATE TABLE events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        at_ms INTEGER NOT NULL,
        kind INTEGER NOT NULL,
        terminal INTEGER NOT NULL,
        origin INTEGER NOT NULL,
        verdict INTEGER NOT NULL,
        body BLOB NOT NULL
    );
    CREATE INDEX events_by_terminal ON events (terminal, kind, at_ms);
    ",
];

/// Opens the file for writing, with the store's pragmas.
pub(crate) fn open_writer(path: &Path, busy: Duration) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(busy)?;
    conn.set_prepared_statement_cache_capacity(32);
    Ok(conn)
}

/// The store's pragmas on the write connection: only once the file is known
/// to be ours (switching to WAL rewrites the header of a file we must leave
/// untouched).
fn configure(conn: &Connection, sync: Synchronous, max_bytes: u64) -> rusqlite::Result<()> {
    // WAL: readers never block the writer and a crash never corrupts.
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        tracing::warn!(mode, "the history file could not switch to WAL");
    }
    conn.pragma_update(None, "synchronous", sync.pragma())?;
    // The log is truncated back to this after a checkpoint: a quarter of
    // the cap, at most 64 MiB.
    let limit = if max_bytes == 0 {
        64 << 20
    } else {
        (max_bytes / 4).clamp(1 << 20, 64 << 20)
    };
    conn.pragma_update(None, "journal_size_limit", limit as i64)?;
    // Checkpoints every 10,000 pages (40 MB: fewer flushes of the file in a
    // burst), or every quarter of a smaller cap.
    let pages = if max_bytes == 0 {
        10_000
    } else {
        (max_bytes / 4 / 4096).clamp(256, 10_000)
    };
    conn.pragma_update(None, "wal_autocheckpoint", pages as i64)?;
    // Room for a batch's dirty pages and the indexes' hot pages, so a
    // large batch does not spill to the log mid-transaction and re-read.
    conn.pragma_update(None, "cache_size", -8192)?;
    Ok(())
}

/// Opens the file for reading only.
pub(crate) fn open_reader(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(Duration::from_secs(5))?;
    // A read touches few pages (an index range); keep its cache small.
    conn.pragma_update(None, "cache_size", -1024)?;
    conn.set_prepared_statement_cache_capacity(32);
    Ok(conn)
}

/// Brings the schema up to [`SCHEMA_VERSION`]; refuses a newer one. Returns
/// the version the file had.
pub(crate) fn migrate(
    conn: &mut Connection,
    sync: Synchronous,
    max_bytes: u64,
) -> Result<i64, OpenError> {
    let found: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(OpenError::sqlite)?;
    if found > SCHEMA_VERSION {
        return Err(OpenError::Newer {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    // Reading the schema touches every page header of sqlite_schema: a file
    // that is not a database, or whose schema is damaged, fails here.
    conn.query_row("SELECT count(*) FROM sqlite_schema", [], |r| {
        r.get::<_, i64>(0)
    })
    .map_err(OpenError::sqlite)?;
    configure(conn, sync, max_bytes).map_err(OpenError::sqlite)?;
    for (from, sql) in MIGRATIONS.iter().enumerate().skip(found.max(0) as usize) {
        let tx = conn.transaction().map_err(OpenError::sqlite)?;
        tx.execute_batch(sql).map_err(OpenError::sqlite)?;
        tx.pragma_update(None, "user_version", from as i64 + 1)
            .map_err(OpenError::sqlite)?;
        tx.commit().map_err(OpenError::sqlite)?;
        tracing::info!(from, to = from + 1, "history schema migrated");
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_migration_leads_to_the_current_version() {
        assert_eq!(MIGRATIONS.len() as i64, SCHEMA_VERSION);
        let dir = tempfile::tempdir().expect("tempdir");
        let mut conn = open_writer(&dir.path().join("h.db"), Duration::from_secs(1)).expect("open");
        assert_eq!(
            migrate(&mut conn, Synchronous::Normal, 0).expect("migrates"),
            0
        );
        assert_eq!(
            migrate(&mut conn, Synchronous::Normal, 0).expect("idempotent"),
            SCHEMA_VERSION
        );
    }
}
