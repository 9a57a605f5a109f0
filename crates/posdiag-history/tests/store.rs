//! The store against a real SQLite file in a temporary directory: what goes
//! in comes out, paged and filtered; it survives a reopen; a newer file is
//! left alone, a damaged one moved aside; card numbers never reach the file;
//! a locked file degrades the store and it recovers by itself.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::time::{Duration, SystemTime};

use posdiag_core::{Actor, Evidence, Finding, Producer, Reason, Remedy, TerminalId, Text, Verdict};
use posdiag_history::{
    ApiCall, Caller, Diagnosis, Event, EventKind, Filter, History, OpenError, Options, Origin,
    Record, Run, Transition,
};

const PAN: &str = "4111111111111111";

fn finding(terminal: &str, check: &str, verdict: Verdict, at: SystemTime) -> Finding {
    Finding {
        check: check.into(),
        verdict,
        reason: if verdict == Verdict::Ok {
            Reason::Ok
        } else {
            Reason::InternalError
        },
        summary: Text::new(
            format!("{check} is {verdict}"),
            format!("{check} 为 {verdict}"),
        ),
        evidence: vec![Evidence::number("rtt", 1.0, posdiag_core::Unit::Ms)],
        remedies: Vec::new(),
        duration: Duration::from_millis(3),
        observed_at: at,
        terminal: TerminalId::new(terminal).ok(),
        subject: format!("{terminal} subject"),
        producer: Producer::builtin(),
    }
}

fn run(
    h: &History,
    terminal: &str,
    origin: Origin,
    findings: Vec<Finding>,
    transitions: Vec<Transition>,
) -> u64 {
    let run_id = h.next_run_id();
    h.record(Record::Run(Run {
        run_id,
        terminal: TerminalId::new(terminal).ok(),
        origin,
        caller: None,
        started: findings
            .first()
            .map(|f| f.observed_at)
            .unwrap_or_else(SystemTime::now),
        duration: Duration::from_millis(5),
        target: String::new(),
        findings,
        transitions,
    }));
    run_id
}

fn opts(dir: &tempfile::TempDir) -> Options {
    Options::new(dir.path().join("history.db"))
}

#[test]
fn findings_come_back_newest_first_paged_and_filtered_and_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let (h, opened) = History::open(opts(&dir)).unwrap();
    assert_eq!(opened.found_version, 0);
    assert!(opened.moved_aside.is_none());
    let t0 = SystemTime::now() - Duration::from_secs(3600);
    for i in 0..250u64 {
        let at = t0 + Duration::from_secs(i);
        let verdict = if i % 10 == 0 {
            Verdict::Critical
        } else {
            Verdict::Ok
        };
        run(
            &h,
            if i % 2 == 0 { "T1" } else { "T2" },
            Origin::Schedule,
            vec![finding(
                if i % 2 == 0 { "T1" } else { "T2" },
                "host.tcp",
                verdict,
                at,
            )],
            Vec::new(),
        );
    }
    h.wait_caught_up();
    assert_eq!(
        h.stats()
            .findings_written
            .load(std::sync::atomic::Ordering::Relaxed),
        250
    );
    let r = h.reader();
    let t1 = Filter {
        terminal: Some("T1".into()),
        ..Filter::default()
    };
    // 125 findings of T1 in pages of 50: 50, 50, 25, newest first, no
    // duplicates, no gaps.
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = r.findings(&t1, 50, token.as_deref()).unwrap();
        seen.extend(page.items.iter().map(|f| f.seq));
        assert!(
            page.items
                .iter()
                .all(|f| f.finding.terminal.as_ref().unwrap().as_str() == "T1")
        );
        match page.next {
            Some(t) => token = Some(t),
            None => break,
        }
    }
    assert_eq!(seen.len(), 125);
    assert!(
        seen.windows(2).all(|w| w[0] > w[1]),
        "newest first, strictly"
    );
    // A token is only good for the filter it came with.
    let first = r.findings(&t1, 10, None).unwrap();
    let other = Filter {
        terminal: Some("T2".into()),
        ..Filter::default()
    };
    assert!(r.findings(&other, 10, first.next.as_deref()).is_err());
    assert!(r.findings(&t1, 10, Some("not-a-token")).is_err());
    // Verdict filter: T1 has i = 0, 10, 20, ... 240 critical (25 of them).
    let critical = Filter {
        verdicts: vec![Verdict::Critical],
        ..t1.clone()
    };
    assert_eq!(r.findings(&critical, 1000, None).unwrap().items.len(), 25);
    // A check never stored matches nothing rather than everything.
    let none = Filter {
        checks: vec!["no.such".into()],
        ..Filter::default()
    };
    assert!(r.findings(&none, 10, None).unwrap().items.is_empty());
    let newest = r.findings(&Filter::default(), 1, None).unwrap().items[0].seq;
    let last_run = h
        .reader()
        .findings(&Filter::default(), 1, None)
        .unwrap()
        .items[0]
        .run_id;
    h.close();

    // Reopened: the same rows, and new rows and runs continue after them.
    let (h, opened) = History::open(opts(&dir)).unwrap();
    assert_eq!(opened.found_version, posdiag_history::SCHEMA_VERSION);
    assert!(h.next_run_id() > last_run);
    run(
        &h,
        "T1",
        Origin::OnDemand,
        vec![finding("T1", "host.dns", Verdict::Ok, SystemTime::now())],
        Vec::new(),
    );
    h.wait_caught_up();
    let page = h.reader().findings(&t1, 1000, None).unwrap();
    assert_eq!(page.items.len(), 126);
    assert!(page.items[0].seq > newest);
    assert_eq!(page.items[0].origin, Origin::OnDemand);
    assert_eq!(page.items[0].finding.summary.zh, "host.dns 为 OK");
    h.close();
}

#[test]
fn transitions_events_and_availability_tell_when_it_failed_and_for_how_long() {
    let dir = tempfile::tempdir().unwrap();
    let (h, _) = History::open(opts(&dir)).unwrap();
    // Whole milliseconds: transitions keep their time to the millisecond.
    let now_ms = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    let now = SystemTime::UNIX_EPOCH + Duration::from_millis(now_ms as u64);
    let t = |mins: u64| now - Duration::from_secs(6 * 3600) + Duration::from_secs(mins * 60);
    // OK for an hour, CRITICAL for 30 minutes, then OK again.
    let mut previous: Option<Verdict> = None;
    for m in (0..180).step_by(10) {
        let v = if (60..90).contains(&m) {
            Verdict::Critical
        } else {
            Verdict::Ok
        };
        let f = finding("T3", "host.tcp", v, t(m));
        let transitions = if previous != Some(v) {
            vec![Transition {
                check: "host.tcp".into(),
                subject: f.subject.clone(),
                from: previous,
                to: v,
                reason: f.reason,
                summary: f.summary.clone(),
                at: f.observed_at,
            }]
        } else {
            Vec::new()
        };
        previous = Some(v);
        run(&h, "T3", Origin::Schedule, vec![f], transitions);
    }
    h.record(Record::ApiCall(ApiCall {
        method: "/posdiag.v1.CheckService/RunCheck".into(),
        caller: Caller {
            uid: Some(1000),
            pid: Some(4242),
            peer: "unix".into(),
            principal: "unix:alice".into(),
            gid: Some(1000),
            authn: "uds_peercred".into(),
            certificate: String::new(),
        },
        target: "T3".into(),
        terminal: TerminalId::new("T3").ok(),
        run_id: Some(7),
        at: now,
        decision: "allowed".into(),
        tier: "diagnose".into(),
        code: Some(0),
        duration: std::time::Duration::from_millis(12),
        detail: String::new(),
    }));
    h.record(Record::Diagnosis(Diagnosis {
        run_id: 8,
        terminal: TerminalId::new("T3").unwrap(),
        symptom: "103".into(),
        overall: Some(Verdict::Critical),
        summary: Text::new("the host refused", "主机拒绝"),
        causes: vec![("tcp.refused".into(), Text::new("refused", "拒绝"))],
        caller: None,
        at: now,
    }));
    h.wait_caught_up();
    let r = h.reader();
    let filter = Filter {
        terminal: Some("T3".into()),
        ..Filter::default()
    };
    let changes = r.transitions(&filter, 100, None).unwrap().items;
    let tos: Vec<Verdict> = changes.iter().map(|c| c.transition.to).collect();
    assert_eq!(
        tos,
        vec![Verdict::Ok, Verdict::Critical, Verdict::Ok],
        "newest first"
    );
    assert_eq!(changes[1].transition.from, Some(Verdict::Ok));
    assert_eq!(changes[1].transition.at, t(60));

    let audit = Filter {
        kinds: vec![EventKind::ApiCall],
        ..Filter::default()
    };
    let calls = r.events(&audit, 10, None).unwrap().items;
    assert_eq!(calls.len(), 1);
    match &calls[0].event {
        Event::ApiCall(c) => {
            assert_eq!(c.caller.uid, Some(1000));
            assert_eq!(c.caller.pid, Some(4242));
            assert_eq!(c.caller.principal, "unix:alice");
            assert_eq!(c.caller.authn, "uds_peercred");
            assert_eq!(c.decision, "allowed");
            assert_eq!(c.code, Some(0));
            assert_eq!(c.duration, std::time::Duration::from_millis(12));
        }
        other => panic!("expected an API call, got {other:?}"),
    }
    let runs = r
        .events(
            &Filter {
                kinds: vec![EventKind::Run],
                ..filter.clone()
            },
            1000,
            None,
        )
        .unwrap()
        .items;
    assert_eq!(runs.len(), 18);

    let a = r
        .availability(
            "T3",
            None,
            now - Duration::from_secs(6 * 3600),
            now,
            Duration::from_secs(3600),
        )
        .unwrap();
    assert_eq!(a.checks.len(), 1);
    let c = &a.checks[0];
    assert_eq!((c.runs, c.ok_runs, c.outages), (18, 15, 1));
    assert_eq!(c.longest_outage, Duration::from_secs(30 * 60));
    assert_eq!(c.mean_time_to_recover, Some(Duration::from_secs(30 * 60)));
    assert_eq!(c.current, Some(Verdict::Ok));
    assert_eq!(c.last_change, Some(t(90)));
    assert_eq!(c.timeline.len(), 6);
    assert_eq!(c.timeline[1], Some(Verdict::Critical));
    assert_eq!(c.timeline[5], None, "nothing ran in the last hour");
    let overall = a.overall.as_ref().unwrap();
    assert_eq!(overall.runs, 18);
    h.close();
}

#[test]
fn a_file_from_a_newer_posdiag_is_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.db");
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch("CREATE TABLE future (x); PRAGMA user_version = 99;")
            .unwrap();
    }
    let before = std::fs::read(&path).unwrap();
    match History::open(Options::new(&path)) {
        Err(e @ OpenError::Newer { found: 99, .. }) => {
            assert!(e.to_string().contains("newer"), "{e}");
            assert!(e.text().zh.contains("更新"));
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(
        std::fs::read(&path).unwrap() == before,
        "not a byte changed"
    );
}

#[test]
fn a_damaged_file_is_moved_aside_and_a_fresh_one_started() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.db");
    let junk = b"this is not a database, it was overwritten by something else".repeat(100);
    std::fs::write(&path, &junk).unwrap();
    let (h, opened) = History::open(Options::new(&path)).unwrap();
    let aside = opened.moved_aside.expect("moved aside");
    assert_eq!(
        std::fs::read(&aside).unwrap(),
        junk,
        "kept as it was, for the vendor"
    );
    run(
        &h,
        "T1",
        Origin::Schedule,
        vec![finding("T1", "host.tcp", Verdict::Ok, SystemTime::now())],
        Vec::new(),
    );
    h.wait_caught_up();
    assert_eq!(
        h.reader()
            .findings(&Filter::default(), 10, None)
            .unwrap()
            .items
            .len(),
        1
    );
    let f = posdiag_history::moved_aside_finding(&path, &aside);
    assert_eq!(
        (f.verdict, f.reason),
        (Verdict::Critical, Reason::HistoryCorrupt)
    );
    h.close();
}

#[test]
fn card_numbers_never_reach_the_file_or_its_log() {
    let dir = tempfile::tempdir().unwrap();
    let o = opts(&dir);
    let path = o.path.clone();
    let (h, _) = History::open(o).unwrap();
    let mut f = finding(
        "T1",
        "reader.read_card",
        Verdict::Critical,
        SystemTime::now(),
    );
    f.summary = Text::new(format!("card {PAN} declined"), format!("卡 {PAN} 被拒"));
    f.evidence.push(Evidence::text("pan", PAN));
    f.remedies.push(Remedy::new(
        Actor::Issuer,
        format!("call about {PAN}"),
        format!("致电 {PAN}"),
    ));
    f.subject = format!("card {PAN}");
    let transition = Transition {
        check: f.check.clone(),
        subject: f.subject.clone(),
        from: None,
        to: Verdict::Critical,
        reason: f.reason,
        summary: f.summary.clone(),
        at: f.observed_at,
    };
    let mut watch = h.subscribe();
    let run_id = h.next_run_id();
    h.record(Record::Run(Run {
        run_id,
        terminal: None,
        origin: Origin::Probe,
        caller: Some(Caller {
            principal: format!("cn={PAN}"),
            ..Caller::default()
        }),
        started: SystemTime::now(),
        duration: Duration::from_millis(1),
        target: format!("{PAN}.example:5000"),
        findings: vec![f],
        transitions: vec![transition],
    }));
    h.record(Record::Diagnosis(Diagnosis {
        run_id,
        terminal: TerminalId::new("T1").unwrap(),
        symptom: PAN.into(),
        overall: None,
        summary: Text::new(PAN, PAN),
        causes: vec![(PAN.into(), Text::new(PAN, PAN))],
        caller: None,
        at: SystemTime::now(),
    }));
    h.wait_caught_up();
    let live = watch
        .try_recv()
        .expect("the watcher got the stored finding");
    assert!(!format!("{:?}", live.finding).contains(PAN));
    for suffix in ["", "-wal"] {
        let mut p = path.clone().into_os_string();
        p.push(suffix);
        let bytes = std::fs::read(&p).unwrap_or_default();
        assert!(
            !bytes.windows(PAN.len()).any(|w| w == PAN.as_bytes()),
            "the card number is in {}",
            std::path::Path::new(&p).display()
        );
    }
    h.close();
}

#[test]
fn a_locked_file_degrades_the_store_and_it_recovers_by_itself() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = opts(&dir);
    o.busy_timeout = Duration::from_millis(100);
    let path = o.path.clone();
    let (h, _) = History::open(o).unwrap();
    let other = rusqlite::Connection::open(&path).unwrap();
    other.execute_batch("BEGIN EXCLUSIVE").unwrap();
    run(
        &h,
        "T1",
        Origin::Schedule,
        vec![finding("T1", "host.tcp", Verdict::Ok, SystemTime::now())],
        Vec::new(),
    );
    h.wait_caught_up();
    let s = h.status();
    let why = s.degraded.expect("degraded while the file is locked");
    assert!(why.en.contains("lock"), "{}", why.en);
    assert_eq!(s.unwritten, 2, "the finding and its run");
    other.execute_batch("COMMIT").unwrap();
    // The housekeeping probe finds the file writable again.
    h.housekeep();
    assert!(h.status().degraded.is_none());
    run(
        &h,
        "T1",
        Origin::Schedule,
        vec![finding("T1", "host.tcp", Verdict::Ok, SystemTime::now())],
        Vec::new(),
    );
    h.wait_caught_up();
    assert_eq!(
        h.reader()
            .findings(&Filter::default(), 10, None)
            .unwrap()
            .items
            .len(),
        1
    );
    h.close();
}

#[test]
fn retention_deletes_old_findings_and_keeps_transitions_and_audit_longer() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = opts(&dir);
    o.retention = Duration::from_secs(86_400);
    o.transitions_retention = Duration::from_secs(10 * 86_400);
    let (h, _) = History::open(o).unwrap();
    let old = SystemTime::now() - Duration::from_secs(3 * 86_400);
    let f = finding("T1", "host.tcp", Verdict::Critical, old);
    let transition = Transition {
        check: f.check.clone(),
        subject: f.subject.clone(),
        from: Some(Verdict::Ok),
        to: Verdict::Critical,
        reason: f.reason,
        summary: f.summary.clone(),
        at: old,
    };
    for _ in 0..5000 {
        run(&h, "T1", Origin::Schedule, vec![f.clone()], Vec::new());
    }
    run(
        &h,
        "T1",
        Origin::Schedule,
        vec![f.clone()],
        vec![transition],
    );
    h.record(Record::ApiCall(ApiCall {
        method: "/posdiag.v1.CheckService/RunCheck".into(),
        caller: Caller::default(),
        target: "T1".into(),
        terminal: None,
        run_id: None,
        at: old,
        decision: "denied".into(),
        tier: "diagnose".into(),
        code: Some(7),
        duration: std::time::Duration::ZERO,
        detail: "read tier".into(),
    }));
    run(
        &h,
        "T1",
        Origin::Schedule,
        vec![finding("T1", "host.tcp", Verdict::Ok, SystemTime::now())],
        Vec::new(),
    );
    h.housekeep();
    let r = h.reader();
    let all = Filter::default();
    assert_eq!(
        r.findings(&all, 1000, None).unwrap().items.len(),
        1,
        "only the recent finding"
    );
    assert_eq!(r.transitions(&all, 10, None).unwrap().items.len(), 1);
    let audit = Filter {
        kinds: vec![EventKind::ApiCall],
        ..Filter::default()
    };
    assert_eq!(r.events(&audit, 10, None).unwrap().items.len(), 1);
    h.close();
}

#[test]
fn the_size_cap_keeps_the_newest_findings() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = opts(&dir);
    o.max_bytes = 2 * 1024 * 1024;
    // Faster than any writer: room for the whole burst, nothing dropped.
    o.queue = 1 << 16;
    let (h, _) = History::open(o).unwrap();
    let now = SystemTime::now();
    for i in 0..20_000u64 {
        run(
            &h,
            "T1",
            Origin::Schedule,
            vec![finding(
                "T1",
                "host.tcp",
                Verdict::Ok,
                now + Duration::from_millis(i),
            )],
            Vec::new(),
        );
    }
    h.housekeep();
    let s = h.status();
    let newest = h
        .reader()
        .findings(&Filter::default(), 1, None)
        .unwrap()
        .items[0]
        .seq;
    let oldest = h.reader().oldest_seq().unwrap().unwrap();
    assert!(oldest > 1, "the oldest were deleted");
    assert!(newest >= 20_000, "the newest were kept");
    assert!(s.rows < 20_000);
    // Round after round the runs go with their findings: the share of
    // findings kept does not shrink towards nothing.
    let mut kept = Vec::new();
    for round in 1..7u64 {
        for i in 0..20_000u64 {
            let at = now + Duration::from_secs(round * 100) + Duration::from_millis(i);
            run(
                &h,
                "T1",
                Origin::Schedule,
                vec![finding("T1", "host.tcp", Verdict::Ok, at)],
                Vec::new(),
            );
        }
        h.housekeep();
        kept.push(h.status().rows);
    }
    let (before, last) = (kept[kept.len() - 2], kept[kept.len() - 1]);
    assert!(
        last * 2 > s.rows && last * 10 > before * 9,
        "findings kept round after round: {kept:?}, {} after the first",
        s.rows
    );
    h.close();
}

#[test]
fn damage_found_while_running_moves_the_file_aside_at_the_next_start() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.db");
    let (h, _) = History::open(Options::new(&path)).unwrap();
    run(
        &h,
        "T1",
        Origin::Schedule,
        vec![finding("T1", "host.tcp", Verdict::Ok, SystemTime::now())],
        Vec::new(),
    );
    h.close();
    // Garbage over the first table page: the header and schema still read,
    // so opening alone would not notice; the next write does.
    {
        use std::io::{Seek, SeekFrom, Write};
        let c = rusqlite::Connection::open(&path).unwrap();
        let root: i64 = c
            .query_row(
                "SELECT rootpage FROM sqlite_schema WHERE name = 'findings'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        c.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)").unwrap();
        drop(c);
        let mut f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        f.seek(SeekFrom::Start((root as u64 - 1) * 4096)).unwrap();
        f.write_all(&[0xA5; 4096]).unwrap();
    }
    let (h, opened) = History::open(Options::new(&path)).unwrap();
    assert!(
        opened.moved_aside.is_none(),
        "the damage is not visible at open"
    );
    run(
        &h,
        "T1",
        Origin::Schedule,
        vec![finding("T1", "host.tcp", Verdict::Ok, SystemTime::now())],
        Vec::new(),
    );
    h.wait_caught_up();
    let why = h.status().degraded.expect("the write met the damage");
    assert!(why.en.contains("damaged"), "{}", why.en);
    h.close();
    let (h, opened) = History::open(Options::new(&path)).unwrap();
    assert!(
        opened.moved_aside.is_some(),
        "moved aside at the next start"
    );
    run(
        &h,
        "T1",
        Origin::Schedule,
        vec![finding("T1", "host.tcp", Verdict::Ok, SystemTime::now())],
        Vec::new(),
    );
    h.wait_caught_up();
    assert!(h.status().degraded.is_none());
    h.close();
}

#[test]
fn a_clock_that_jumps_back_reorders_nothing_and_time_queries_still_work() {
    let dir = tempfile::tempdir().unwrap();
    let (h, _) = History::open(opts(&dir)).unwrap();
    let now = SystemTime::now();
    // NTP at boot: the first run is stamped an hour ahead, the next at the
    // right time, so wall time goes backwards between them.
    run(
        &h,
        "T1",
        Origin::Schedule,
        vec![finding(
            "T1",
            "host.dns",
            Verdict::Ok,
            now + Duration::from_secs(3600),
        )],
        Vec::new(),
    );
    run(
        &h,
        "T1",
        Origin::Schedule,
        vec![finding("T1", "host.tcp", Verdict::Critical, now)],
        Vec::new(),
    );
    h.wait_caught_up();
    let r = h.reader();
    let all = r.findings(&Filter::default(), 10, None).unwrap().items;
    let checks: Vec<&str> = all.iter().map(|f| f.finding.check.as_str()).collect();
    assert_eq!(
        checks,
        ["host.tcp", "host.dns"],
        "newest first means last stored first"
    );
    assert!(all[0].seq > all[1].seq);
    let replayed = r.findings_after(0, None, 10).unwrap();
    let replay: Vec<&str> = replayed.iter().map(|f| f.finding.check.as_str()).collect();
    assert_eq!(
        replay,
        ["host.dns", "host.tcp"],
        "a watch replays in the order stored"
    );
    let later = Filter {
        since: Some(now + Duration::from_secs(60)),
        ..Filter::default()
    };
    let found = r.findings(&later, 10, None).unwrap().items;
    assert_eq!(found.len(), 1);
    assert_eq!(
        found[0].finding.check, "host.dns",
        "a time window still selects by the stamped time"
    );
    h.close();
}
