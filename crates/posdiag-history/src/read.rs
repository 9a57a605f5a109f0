//! The read side: read-only connections of their own (a long query never
//! blocks the writer), filtered lists newest first with opaque page tokens
//! (AIP-158: a token is bound to the filter it was issued for), the replay
//! of a watch, and availability. Blocking: call from a blocking thread.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use posdiag_core::{Reason, TerminalId, Text, Verdict};
use prost::Message;
use rusqlite::types::Value;
use rusqlite::{Connection, params_from_iter};

use crate::availability::{self, Availability, Sample};
use crate::codec::{self, EventColumns, FindingColumns, TextV1};
use crate::record::{
    EventKind, Origin, StoredEvent, StoredFinding, StoredTransition, Transition, ms, verdict_code,
    verdict_from,
};
use crate::schema;

/// What to list. Empty lists and `None` mean "any".
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Filter {
    /// Only this terminal.
    pub terminal: Option<String>,
    /// Only these checks.
    pub checks: Vec<String>,
    /// Only these verdicts.
    pub verdicts: Vec<Verdict>,
    /// Only these reason codes.
    pub reasons: Vec<String>,
    /// Only at or after this time.
    pub since: Option<SystemTime>,
    /// Only before this time.
    pub until: Option<SystemTime>,
    /// Only these origins.
    pub origins: Vec<Origin>,
    /// Only these event kinds (ListEvents).
    pub kinds: Vec<EventKind>,
}

impl Filter {
    /// A stable fingerprint of the filter and the list it is used for.
    fn fingerprint(&self, list: &str) -> u64 {
        let mut norm = self.clone();
        norm.checks.sort();
        norm.checks.dedup();
        norm.reasons.sort();
        norm.reasons.dedup();
        norm.verdicts.sort();
        norm.verdicts.dedup();
        let text = format!(
            "{list}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}",
            norm.terminal,
            norm.checks,
            norm.verdicts,
            norm.reasons,
            norm.since.map(ms),
            norm.until.map(ms),
            norm.origins.iter().map(|o| o.code()).collect::<Vec<_>>(),
            norm.kinds.iter().map(|k| k.code()).collect::<Vec<_>>(),
        );
        // FNV-1a: stable across builds, unlike the std hasher.
        text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        })
    }
}

/// One page of a list.
#[derive(Debug, Clone)]
pub struct Page<T> {
    /// The items, newest first.
    pub items: Vec<T>,
    /// The token of the next page; `None` on the last.
    pub next: Option<String>,
}

/// Why a read failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PageError {
    /// The page token is malformed or was issued for another filter.
    #[error("the page token is not valid for this request: start again without it")]
    BadToken,
    /// The file cannot be read now.
    #[error("reading the history failed: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A row could not be decoded.
    #[error("a stored row is damaged: {0}")]
    Damaged(String),
}

impl PageError {
    /// The message in every language.
    pub fn text(&self) -> Text {
        match self {
            PageError::BadToken => {
                Text::new(self.to_string(), "分页令牌对此请求无效：请不带令牌重新开始")
            }
            PageError::Sqlite(e) => Text::new(self.to_string(), format!("读取历史记录失败：{e}")),
            PageError::Damaged(e) => {
                Text::new(self.to_string(), format!("一条已保存的记录已损坏：{e}"))
            }
        }
    }
}

impl From<prost::DecodeError> for PageError {
    fn from(e: prost::DecodeError) -> PageError {
        PageError::Damaged(e.to_string())
    }
}

fn token(before: u64, fp: u64) -> String {
    format!("{before:x}.{fp:016x}")
}

/// The sequence number a token continues before.
fn parse_token(t: &str, fp: u64) -> Result<u64, PageError> {
    let (seq, f) = t.split_once('.').ok_or(PageError::BadToken)?;
    let seq = u64::from_str_radix(seq, 16).map_err(|_| PageError::BadToken)?;
    let f = u64::from_str_radix(f, 16).map_err(|_| PageError::BadToken)?;
    if f != fp {
        return Err(PageError::BadToken);
    }
    Ok(seq)
}

/// The read side of the history; cheap to clone.
#[derive(Debug, Clone)]
pub struct Reader {
    path: PathBuf,
    pool: Arc<Mutex<Vec<Connection>>>,
}

/// A stored finding's columns, with its names (read by [`finding_row`]).
const FINDINGS: &str =
    "SELECT f.seq, f.at_ms, t.name, c.name, s.name, f.verdict, r.name, f.origin, f.run_id, f.body
     FROM findings f
     LEFT JOIN names t ON t.id = f.terminal
     LEFT JOIN names c ON c.id = f.check_id
     LEFT JOIN names s ON s.id = f.subject
     LEFT JOIN names r ON r.id = f.reason";

/// Idle read connections kept open.
const POOL: usize = 2;

impl Reader {
    pub(crate) fn new(path: PathBuf) -> Reader {
        Reader {
            path,
            pool: Arc::default(),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&Connection) -> Result<T, PageError>) -> Result<T, PageError> {
        let conn = self.pool.lock().ok().and_then(|mut p| p.pop());
        let conn = match conn {
            Some(c) => c,
            None => schema::open_reader(&self.path)?,
        };
        let out = f(&conn);
        // A connection that failed is not reused: the file may have changed
        // under it.
        if out.is_ok()
            && let Ok(mut p) = self.pool.lock()
            && p.len() < POOL
        {
            p.push(conn);
        }
        out
    }

    /// Findings matching `filter`, newest first.
    pub fn findings(
        &self,
        filter: &Filter,
        page_size: usize,
        page_token: Option<&str>,
    ) -> Result<Page<StoredFinding>, PageError> {
        let fp = filter.fingerprint("findings");
        let before = page_token.map(|t| parse_token(t, fp)).transpose()?;
        self.with(|conn| {
            let mut q = Query::new(conn);
            let mut sql = format!("{FINDINGS} WHERE 1");
            if !q.common(&mut sql, "f", filter, before, true)? {
                return Ok(Page {
                    items: Vec::new(),
                    next: None,
                });
            }
            sql.push_str(" ORDER BY f.seq DESC LIMIT ");
            sql.push_str(&(page_size + 1).to_string());
            let mut stmt = conn.prepare_cached(&sql)?;
            let mut rows = stmt.query(params_from_iter(q.params.iter()))?;
            let mut items = Vec::new();
            while let Some(r) = rows.next()? {
                items.push(finding_row(r)?);
            }
            Ok(paged(items, page_size, |f| f.seq, fp))
        })
    }

    /// Findings after `after` (oldest first), at most `limit`: a watch's
    /// replay.
    pub fn findings_after(
        &self,
        after: u64,
        terminal: Option<&str>,
        limit: usize,
    ) -> Result<Vec<StoredFinding>, PageError> {
        self.with(|conn| {
            let mut q = Query::new(conn);
            let mut sql = format!("{FINDINGS} WHERE f.seq > ?");
            q.params.push(Value::Integer(after as i64));
            if let Some(t) = terminal {
                match q.id(t)? {
                    Some(id) => {
                        sql.push_str(" AND f.terminal = ?");
                        q.params.push(Value::Integer(id));
                    }
                    None => return Ok(Vec::new()),
                }
            }
            sql.push_str(" ORDER BY f.seq LIMIT ");
            sql.push_str(&limit.to_string());
            let mut stmt = conn.prepare_cached(&sql)?;
            let mut rows = stmt.query(params_from_iter(q.params.iter()))?;
            let mut items = Vec::new();
            while let Some(r) = rows.next()? {
                items.push(finding_row(r)?);
            }
            Ok(items)
        })
    }

    /// The oldest stored finding's sequence number (`None` when empty).
    pub fn oldest_seq(&self) -> Result<Option<u64>, PageError> {
        self.with(|conn| {
            Ok(conn
                .query_row("SELECT min(seq) FROM findings", [], |r| {
                    r.get::<_, Option<i64>>(0)
                })?
                .map(|s| s as u64))
        })
    }

    /// Verdict changes matching `filter` (verdicts and reasons apply to the
    /// verdict after), newest first.
    pub fn transitions(
        &self,
        filter: &Filter,
        page_size: usize,
        page_token: Option<&str>,
    ) -> Result<Page<StoredTransition>, PageError> {
        let fp = filter.fingerprint("transitions");
        let before = page_token.map(|t| parse_token(t, fp)).transpose()?;
        self.with(|conn| {
            let mut q = Query::new(conn);
            let mut sql = String::from(
                "SELECT x.seq, x.at_ms, t.name, c.name, s.name, x.from_verdict, x.to_verdict, r.name, x.run_id, x.summary
                 FROM transitions x
                 LEFT JOIN names t ON t.id = x.terminal
                 LEFT JOIN names c ON c.id = x.check_id
                 LEFT JOIN names s ON s.id = x.subject
                 LEFT JOIN names r ON r.id = x.reason
                 WHERE 1",
            );
            let mut f = filter.clone();
            f.origins.clear();
            if !q.common(&mut sql, "x", &f, before, false)? {
                return Ok(Page { items: Vec::new(), next: None });
            }
            if !filter.verdicts.is_empty() {
                sql.push_str(" AND x.to_verdict IN (");
                sql.push_str(&q.list(filter.verdicts.iter().map(|v| Value::Integer(verdict_code(Some(*v))))));
                sql.push(')');
            }
            sql.push_str(" ORDER BY x.seq DESC LIMIT ");
            sql.push_str(&(page_size + 1).to_string());
            let mut stmt = conn.prepare_cached(&sql)?;
            let mut rows = stmt.query(params_from_iter(q.params.iter()))?;
            let mut items = Vec::new();
            while let Some(r) = rows.next()? {
                let summary = TextV1::decode(r.get_ref(9)?.as_blob().unwrap_or_default())?;
                let terminal: Option<String> = r.get(2)?;
                items.push(StoredTransition {
                    seq: r.get::<_, i64>(0)? as u64,
                    terminal: terminal.and_then(|t| TerminalId::new(&t).ok()),
                    run_id: r.get::<_, i64>(8)? as u64,
                    transition: Transition {
                        check: r.get::<_, Option<String>>(3)?.unwrap_or_default(),
                        subject: r.get::<_, Option<String>>(4)?.unwrap_or_default(),
                        from: verdict_from(r.get(5)?),
                        to: verdict_from(r.get(6)?).unwrap_or(Verdict::Unknown),
                        reason: r
                            .get::<_, Option<String>>(7)?
                            .and_then(|c| c.parse().ok())
                            .unwrap_or(Reason::InternalError),
                        summary: Text::new(summary.en, summary.zh),
                        at: crate::record::time(r.get(1)?),
                    },
                });
            }
            Ok(paged(items, page_size, |t| t.seq, fp))
        })
    }

    /// Events other than findings matching `filter` (terminal, time,
    /// origins, kinds), newest first.
    pub fn events(
        &self,
        filter: &Filter,
        page_size: usize,
        page_token: Option<&str>,
    ) -> Result<Page<StoredEvent>, PageError> {
        let fp = filter.fingerprint("events");
        let before = page_token.map(|t| parse_token(t, fp)).transpose()?;
        self.with(|conn| {
            let mut q = Query::new(conn);
            let mut sql = String::from(
                "SELECT e.seq, e.at_ms, t.name, e.origin, e.verdict, e.body
                 FROM events e LEFT JOIN names t ON t.id = e.terminal WHERE 1",
            );
            let f = Filter {
                checks: Vec::new(),
                reasons: Vec::new(),
                verdicts: Vec::new(),
                ..filter.clone()
            };
            if !q.common(&mut sql, "e", &f, before, true)? {
                return Ok(Page {
                    items: Vec::new(),
                    next: None,
                });
            }
            if !filter.kinds.is_empty() {
                sql.push_str(" AND e.kind IN (");
                sql.push_str(&q.list(filter.kinds.iter().map(|k| Value::Integer(k.code()))));
                sql.push(')');
            }
            sql.push_str(" ORDER BY e.seq DESC LIMIT ");
            sql.push_str(&(page_size + 1).to_string());
            let mut stmt = conn.prepare_cached(&sql)?;
            let mut rows = stmt.query(params_from_iter(q.params.iter()))?;
            let mut items = Vec::new();
            while let Some(r) = rows.next()? {
                let at_ms: i64 = r.get(1)?;
                let event = codec::event_out(
                    EventColumns {
                        terminal: r.get(2)?,
                        origin: r.get(3)?,
                        verdict: r.get(4)?,
                        at_ms,
                    },
                    r.get_ref(5)?.as_blob().unwrap_or_default(),
                )?;
                items.push(StoredEvent {
                    seq: r.get::<_, i64>(0)? as u64,
                    at: crate::record::time(at_ms),
                    event,
                });
            }
            Ok(paged(items, page_size, |e| e.seq, fp))
        })
    }

    /// Whether the history knows `terminal` at all.
    pub fn knows_terminal(&self, terminal: &str) -> Result<bool, PageError> {
        self.with(|conn| Ok(Query::new(conn).id(terminal)?.is_some()))
    }

    /// Availability of `terminal` over `[from, to)` in buckets of `bucket`;
    /// one check only when `check` is given.
    pub fn availability(
        &self,
        terminal: &str,
        check: Option<&str>,
        from: SystemTime,
        to: SystemTime,
        bucket: Duration,
    ) -> Result<Availability, PageError> {
        let (from_ms, to_ms) = (ms(from), ms(to));
        let bucket_ms = i64::try_from(bucket.as_millis()).unwrap_or(i64::MAX).max(1);
        self.with(|conn| {
            let q = Query::new(conn);
            let empty = Availability {
                from,
                to,
                bucket,
                overall: None,
                checks: Vec::new(),
            };
            let Some(t) = q.id(terminal)? else {
                return Ok(empty);
            };
            let check_id = match check {
                Some(c) => match q.id(c)? {
                    Some(id) => Some(id),
                    None => return Ok(empty),
                },
                None => None,
            };
            // Every (check, subject) with a finding in the window, its
            // samples in time order (the covering index serves this).
            let mut series: BTreeMap<(i64, i64), Vec<Sample>> = BTreeMap::new();
            {
                let cancelled = q.id(Reason::CheckCancelled.code())?.unwrap_or(-1);
                let mut stmt = conn.prepare_cached(
                    "SELECT check_id, subject, at_ms, verdict FROM findings INDEXED BY findings_by_check
                     WHERE terminal = ?1 AND (?2 IS NULL OR check_id = ?2) AND at_ms >= ?3 AND at_ms < ?4 AND reason != ?5
                     ORDER BY check_id, at_ms",
                )?;
                let mut rows = stmt.query(rusqlite::params![t, check_id, from_ms, to_ms, cancelled])?;
                while let Some(r) = rows.next()? {
                    let Some(verdict) = verdict_from(r.get(3)?) else {
                        continue;
                    };
                    series.entry((r.get(0)?, r.get(1)?)).or_default().push(Sample {
                        at_ms: r.get(2)?,
                        verdict,
                    });
                }
            }
            // Checks that changed before the window and did not run in it
            // still have a state.
            {
                let mut stmt = conn.prepare_cached(
                    "SELECT DISTINCT check_id, subject FROM transitions
                     WHERE terminal = ?1 AND check_id != 0 AND (?2 IS NULL OR check_id = ?2)",
                )?;
                let mut rows = stmt.query(rusqlite::params![t, check_id])?;
                while let Some(r) = rows.next()? {
                    series.entry((r.get(0)?, r.get(1)?)).or_default();
                }
            }
            let mut checks = Vec::new();
            for ((c, s), samples) in &series {
                let (before, last) = q.state(t, *c, *s, from_ms)?;
                let mut a = availability::compute(samples, before, from_ms, to_ms, bucket_ms, last);
                a.check = q.name(*c)?;
                a.subject = q.name(*s)?;
                checks.push(a);
            }
            checks.sort_by(|a, b| (&a.check, &a.subject).cmp(&(&b.check, &b.subject)));
            let overall = if check.is_none() {
                let mut stmt = conn.prepare_cached(
                    "SELECT at_ms, verdict FROM events
                     WHERE terminal = ?1 AND kind = ?2 AND at_ms >= ?3 AND at_ms < ?4 AND verdict != 0
                     ORDER BY at_ms",
                )?;
                let mut rows =
                    stmt.query(rusqlite::params![t, EventKind::Run.code(), from_ms, to_ms])?;
                let mut samples = Vec::new();
                while let Some(r) = rows.next()? {
                    if let Some(verdict) = verdict_from(r.get(1)?) {
                        samples.push(Sample {
                            at_ms: r.get(0)?,
                            verdict,
                        });
                    }
                }
                let (before, last) = q.state(t, 0, 0, from_ms)?;
                Some(availability::compute(&samples, before, from_ms, to_ms, bucket_ms, last))
            } else {
                None
            };
            Ok(Availability {
                from,
                to,
                bucket,
                overall,
                checks,
            })
        })
    }
}

fn paged<T>(mut items: Vec<T>, page_size: usize, seq: impl Fn(&T) -> u64, fp: u64) -> Page<T> {
    let next = if items.len() > page_size {
        items.truncate(page_size);
        items.last().map(|last| token(seq(last), fp))
    } else {
        None
    };
    Page { items, next }
}

fn finding_row(r: &rusqlite::Row<'_>) -> Result<StoredFinding, PageError> {
    let cols = FindingColumns {
        check: r.get::<_, Option<String>>(3)?.unwrap_or_default(),
        verdict: r.get(5)?,
        reason: r.get::<_, Option<String>>(6)?.unwrap_or_default(),
        subject: r.get::<_, Option<String>>(4)?.unwrap_or_default(),
        terminal: r.get(2)?,
        at_ms: r.get(1)?,
    };
    let finding = codec::finding_out(cols, r.get_ref(9)?.as_blob().unwrap_or_default())?;
    Ok(StoredFinding {
        seq: r.get::<_, i64>(0)? as u64,
        run_id: r.get::<_, i64>(8)? as u64,
        origin: Origin::from_code(r.get(7)?).unwrap_or(Origin::Daemon),
        finding,
    })
}

/// Builds the WHERE clause of a list and its parameters.
struct Query<'c> {
    conn: &'c Connection,
    params: Vec<Value>,
}

impl<'c> Query<'c> {
    fn new(conn: &'c Connection) -> Query<'c> {
        Query {
            conn,
            params: Vec::new(),
        }
    }

    /// The interned id of a name, if it was ever stored.
    fn id(&self, name: &str) -> Result<Option<i64>, PageError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id FROM names WHERE name = ?1")?;
        let mut rows = stmt.query([name])?;
        Ok(match rows.next()? {
            Some(r) => Some(r.get(0)?),
            None => None,
        })
    }

    fn name(&self, id: i64) -> Result<String, PageError> {
        if id == 0 {
            return Ok(String::new());
        }
        let mut stmt = self
            .conn
            .prepare_cached("SELECT name FROM names WHERE id = ?1")?;
        let mut rows = stmt.query([id])?;
        Ok(match rows.next()? {
            Some(r) => r.get(0)?,
            None => String::new(),
        })
    }

    /// The verdict before `from_ms` and since when, and the time of the
    /// last change, from the transitions.
    #[allow(
        clippy::type_complexity,
        reason = "two small optional answers of one query pair"
    )]
    fn state(
        &self,
        terminal: i64,
        check: i64,
        subject: i64,
        from_ms: i64,
    ) -> Result<(Option<(Verdict, i64)>, Option<i64>), PageError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT to_verdict, at_ms FROM transitions
             WHERE terminal = ?1 AND check_id = ?2 AND subject = ?3 AND at_ms < ?4
             ORDER BY seq DESC LIMIT 1",
        )?;
        let mut rows = stmt.query(rusqlite::params![terminal, check, subject, from_ms])?;
        let before = match rows.next()? {
            Some(r) => verdict_from(r.get(0)?).map(|v| (v, r.get::<_, i64>(1).unwrap_or(from_ms))),
            None => None,
        };
        drop(rows);
        let mut stmt = self.conn.prepare_cached(
            "SELECT at_ms FROM transitions
             WHERE terminal = ?1 AND check_id = ?2 AND subject = ?3
             ORDER BY seq DESC LIMIT 1",
        )?;
        let mut rows = stmt.query(rusqlite::params![terminal, check, subject])?;
        let last = match rows.next()? {
            Some(r) => Some(r.get(0)?),
            None => None,
        };
        Ok((before, last))
    }

    /// `?, ?, ?` for `values`, which join the parameters.
    fn list(&mut self, values: impl Iterator<Item = Value>) -> String {
        let mut marks = Vec::new();
        for v in values {
            self.params.push(v);
            marks.push("?");
        }
        marks.join(", ")
    }

    /// Appends the filter's conditions on table alias `a`; false when the
    /// filter names something never stored (nothing can match).
    fn common(
        &mut self,
        sql: &mut String,
        a: &str,
        f: &Filter,
        before: Option<u64>,
        with_verdicts: bool,
    ) -> Result<bool, PageError> {
        if let Some(b) = before {
            sql.push_str(&format!(" AND {a}.seq < ?"));
            self.params.push(Value::Integer(b as i64));
        }
        if let Some(t) = &f.terminal {
            match self.id(t)? {
                Some(id) => {
                    sql.push_str(&format!(" AND {a}.terminal = ?"));
                    self.params.push(Value::Integer(id));
                }
                None => return Ok(false),
            }
        }
        for (names, column) in [(&f.checks, "check_id"), (&f.reasons, "reason")] {
            if names.is_empty() {
                continue;
            }
            let mut ids = Vec::new();
            for n in names {
                if let Some(id) = self.id(n)? {
                    ids.push(Value::Integer(id));
                }
            }
            if ids.is_empty() {
                return Ok(false);
            }
            let marks = self.list(ids.into_iter());
            sql.push_str(&format!(" AND {a}.{column} IN ({marks})"));
        }
        if with_verdicts && !f.verdicts.is_empty() {
            let marks = self.list(
                f.verdicts
                    .iter()
                    .map(|v| Value::Integer(verdict_code(Some(*v)))),
            );
            sql.push_str(&format!(" AND {a}.verdict IN ({marks})"));
        }
        if let Some(s) = f.since {
            sql.push_str(&format!(" AND {a}.at_ms >= ?"));
            self.params.push(Value::Integer(ms(s)));
        }
        if let Some(u) = f.until {
            sql.push_str(&format!(" AND {a}.at_ms < ?"));
            self.params.push(Value::Integer(ms(u)));
        }
        if !f.origins.is_empty() {
            let marks = self.list(f.origins.iter().map(|o| Value::Integer(o.code())));
            sql.push_str(&format!(" AND {a}.origin IN ({marks})"));
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_bound_to_its_filter() {
        let a = Filter {
            terminal: Some("T1".into()),
            ..Filter::default()
        };
        let b = Filter {
            terminal: Some("T2".into()),
            ..Filter::default()
        };
        let t = token(42, a.fingerprint("findings"));
        assert_eq!(parse_token(&t, a.fingerprint("findings")).ok(), Some(42));
        assert!(parse_token(&t, b.fingerprint("findings")).is_err());
        assert!(parse_token(&t, a.fingerprint("events")).is_err());
        for bad in ["", "zz", "1.", ".1", "1.2.3", "\u{0}"] {
            assert!(
                parse_token(bad, a.fingerprint("findings")).is_err(),
                "{bad:?}"
            );
        }
    }
}
