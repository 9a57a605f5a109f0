//! The durable history, end to end against the real `posdiagd`: findings,
//! changes, events and availability survive a restart; a watch resumes from
//! its cursor across one with no gap and no duplicate; `kill -9` in the
//! middle of a write burst loses nothing that was committed and leaves an
//! intact file; a damaged file is moved aside with a CRITICAL finding, a
//! newer one left untouched; a file that cannot be written (the process's
//! file-size limit, as on a full disk) degrades the history while checks go
//! on, and it recovers by itself; card numbers never reach the file.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::collections::BTreeSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use pb::check_service_client::CheckServiceClient;
use pb::history_service_client::HistoryServiceClient;
use pb::terminal_service_client::TerminalServiceClient;
use posdiag_proto::v1 as pb;
use posdiag_tests::Daemon;
use tokio::net::TcpListener;
use tokio_stream::StreamExt;
use tonic::Code;
use tonic::transport::Channel;

const PAN: &str = "4111111111111111";

/// A config with T1 checking one host (`port`, on loopback), no schedule,
/// its history in `db`.
fn config(port: u16, db: &Path) -> String {
    format!(
        "[defaults]\ncount = 1\ncheck_interval_s = 0\n\
         [hosts.acq]\naddress = \"127.0.0.1\"\nport = {port}\n\
         [[terminals]]\nid = \"T1\"\nhosts = [\"acq\"]\n\
         [history]\npath = \"{}\"\n",
        db.display()
    )
}

/// A host that accepts (and closes) connections while it lives.
struct Host(tokio::task::JoinHandle<()>);

impl Drop for Host {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn accepting() -> (Host, u16) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        while let Ok((conn, _)) = l.accept().await {
            drop(conn);
        }
    });
    (Host(task), port)
}

async fn run_check(ch: &Channel, checks: &[&str]) -> Vec<pb::Finding> {
    let mut stream = CheckServiceClient::new(ch.clone())
        .run_check(pb::RunCheckRequest {
            terminal_id: "T1".into(),
            checks: checks.iter().map(|c| c.to_string()).collect(),
            lang: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let mut out = Vec::new();
    while let Some(ev) = stream.next().await {
        if let Some(pb::check_event::Event::Finding(f)) = ev.unwrap().event {
            out.push(f);
        }
    }
    out
}

/// Every stored finding matching `filter`, paging through.
async fn all_findings(ch: &Channel, filter: pb::HistoryFilter) -> Vec<pb::StoredFinding> {
    let mut client = HistoryServiceClient::new(ch.clone());
    let mut out = Vec::new();
    let mut token = String::new();
    loop {
        let page = client
            .list_findings(pb::ListFindingsRequest {
                filter: Some(filter.clone()),
                page_size: 1000,
                page_token: token.clone(),
                lang: String::new(),
            })
            .await
            .unwrap()
            .into_inner();
        out.extend(page.findings);
        if page.next_page_token.is_empty() {
            return out;
        }
        token = page.next_page_token;
    }
}

async fn daemon_state(ch: &Channel) -> pb::DaemonState {
    TerminalServiceClient::new(ch.clone())
        .list_terminals(pb::ListTerminalsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .daemon
        .unwrap()
}

fn condition(d: &pb::DaemonState) -> pb::history_state::Condition {
    pb::history_state::Condition::try_from(d.history.as_ref().unwrap().condition).unwrap()
}

fn file_bytes(db: &Path) -> Vec<u8> {
    let mut all = Vec::new();
    for suffix in ["", "-wal"] {
        let mut p = db.as_os_str().to_owned();
        p.push(suffix);
        all.extend(std::fs::read(PathBuf::from(p)).unwrap_or_default());
    }
    all
}

#[tokio::test]
async fn findings_changes_and_who_asked_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("history.db");
    let (host, port) = accepting().await;
    {
        let daemon = Daemon::start(&config(port, &db));
        let ch = daemon.channel().await;
        let ok = run_check(&ch, &["host.tcp"]).await;
        assert!(
            ok.iter()
                .any(|f| f.check == "host.tcp" && f.verdict == pb::Verdict::Ok as i32)
        );
        drop(host); // the acquirer goes away
        tokio::task::yield_now().await;
        let down = run_check(&ch, &["host.tcp"]).await;
        assert!(down.iter().any(|f| f.reason == "tcp.refused"), "{down:?}");
        // A clean stop (systemctl restart): what is queued is committed.
        let mut daemon = daemon;
        assert!(daemon.terminate().success());
    }
    // A new daemon on the same file remembers.
    let daemon = Daemon::start(&config(port, &db));
    let ch = daemon.channel().await;
    let t1 = pb::HistoryFilter {
        terminal_id: "T1".into(),
        ..Default::default()
    };
    let found = all_findings(&ch, t1.clone()).await;
    let tcp: Vec<&pb::StoredFinding> = found
        .iter()
        .filter(|f| f.finding.as_ref().unwrap().check == "host.tcp")
        .collect();
    assert_eq!(tcp.len(), 2, "{found:?}");
    assert_eq!(
        tcp[0].finding.as_ref().unwrap().reason,
        "tcp.refused",
        "newest first"
    );
    assert_eq!(tcp[0].origin, pb::Origin::OnDemand as i32);

    let mut history = HistoryServiceClient::new(ch.clone());
    let changes = history
        .list_transitions(pb::ListTransitionsRequest {
            filter: Some(pb::HistoryFilter {
                checks: vec!["host.tcp".into()],
                ..t1.clone()
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .transitions;
    assert_eq!(changes.len(), 2, "{changes:?}");
    assert_eq!(
        (changes[0].from, changes[0].to, changes[0].reason.as_str()),
        (
            pb::Verdict::Ok as i32,
            pb::Verdict::Critical as i32,
            "tcp.refused"
        )
    );

    // Who asked: this process, over the unix socket.
    let calls = history
        .list_events(pb::ListEventsRequest {
            kinds: vec![pb::EventKind::ApiCall as i32],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .events;
    assert_eq!(calls.len(), 2);
    let Some(pb::history_event::Event::ApiCall(call)) = &calls[0].event else {
        panic!("{calls:?}")
    };
    assert_eq!(call.method, "/posdiag.v1.CheckService/RunCheck");
    let caller = call.caller.as_ref().unwrap();
    assert_eq!(caller.pid, Some(std::process::id()));
    assert_eq!(
        caller.uid,
        Some(std::fs::metadata("/proc/self").unwrap().uid())
    );

    // Availability: two runs of host.tcp, one OK, one outage still open.
    let a = history
        .get_availability(pb::GetAvailabilityRequest {
            terminal_id: "T1".into(),
            check: "host.tcp".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(a.checks.len(), 1);
    let c = &a.checks[0];
    assert_eq!((c.runs, c.ok_runs, c.outages), (2, 1, 1));
    assert_eq!(c.current, pb::Verdict::Critical as i32);
    assert_eq!(a.bucket.unwrap().seconds, 86_400, "days for a 7-day window");

    // A bad page token is the caller's mistake, said as such.
    let err = history
        .list_findings(pb::ListFindingsRequest {
            page_token: "garbage".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("page_token"), "{}", err.message());
    // GetHistory is served from the same store: it survived the restart too.
    let old = CheckServiceClient::new(ch.clone())
        .get_history(pb::GetHistoryRequest {
            terminal_id: "T1".into(),
            check: "host.tcp".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .findings;
    assert_eq!(old.len(), 2);
}

#[tokio::test]
async fn a_watch_resumes_from_its_cursor_across_a_restart_without_gap_or_duplicate() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("history.db");
    let (_host, port) = accepting().await;
    let cursor;
    {
        let daemon = Daemon::start(&config(port, &db));
        let ch = daemon.channel().await;
        let mut watch = HistoryServiceClient::new(ch.clone())
            .watch_findings(pb::WatchFindingsRequest::default())
            .await
            .unwrap()
            .into_inner();
        let ran = run_check(&ch, &["host.tcp"]).await;
        let mut seen = Vec::new();
        while seen.len() < ran.len() {
            seen.push(watch.next().await.unwrap().unwrap());
        }
        cursor = seen.last().unwrap().finding.as_ref().unwrap().seq;
        // Findings the watcher never saw: stored while nobody watched.
        run_check(&ch, &["host.tcp"]).await;
        run_check(&ch, &["host.tcp"]).await;
        let mut daemon = daemon;
        assert!(daemon.terminate().success());
    }
    let daemon = Daemon::start(&config(port, &db));
    let ch = daemon.channel().await;
    let missed = all_findings(&ch, pb::HistoryFilter::default())
        .await
        .into_iter()
        .filter(|f| f.seq > cursor)
        .count();
    assert!(missed >= 2, "two runs happened after the cursor");
    let mut watch = HistoryServiceClient::new(ch.clone())
        .watch_findings(pb::WatchFindingsRequest {
            after: Some(cursor),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let mut seqs = Vec::new();
    for _ in 0..missed {
        let m = watch.next().await.unwrap().unwrap();
        assert!(!m.gap);
        seqs.push(m.finding.unwrap().seq);
    }
    // Live from here: a new run arrives after the replay.
    let live = run_check(&ch, &["host.tcp"]).await;
    for _ in 0..live.len() {
        seqs.push(watch.next().await.unwrap().unwrap().finding.unwrap().seq);
    }
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "in order, no duplicate: {seqs:?}"
    );
    assert!(seqs[0] > cursor);
    let stored: BTreeSet<u64> = all_findings(&ch, pb::HistoryFilter::default())
        .await
        .iter()
        .map(|f| f.seq)
        .filter(|s| *s > cursor)
        .collect();
    assert_eq!(stored, seqs.iter().copied().collect(), "no gap");
}

#[tokio::test]
async fn kill_9_during_a_write_burst_keeps_everything_committed_and_the_file_intact() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("history.db");
    let (_host, port) = accepting().await;
    let committed: Vec<u64>;
    {
        let daemon = Daemon::start(&config(port, &db));
        let ch = daemon.channel().await;
        // The watch sees a finding only once it is committed.
        let mut watch = HistoryServiceClient::new(ch.clone())
            .watch_findings(pb::WatchFindingsRequest::default())
            .await
            .unwrap()
            .into_inner();
        let mut load = tokio::task::JoinSet::new();
        for _ in 0..8 {
            // Clients of their own, each reading its runs to the end.
            let ch = daemon.channel().await;
            load.spawn(async move {
                loop {
                    run_check(&ch, &["host.tcp"]).await;
                }
            });
        }
        let mut seen = Vec::new();
        while seen.len() < 3000 {
            seen.push(watch.next().await.unwrap().unwrap().finding.unwrap().seq);
        }
        committed = seen;
        // kill -9 in the middle of the burst.
        drop(daemon);
        load.abort_all();
    }
    {
        let c =
            rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
                .unwrap();
        let check: String = c
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(check, "ok");
    }
    let daemon = Daemon::start(&config(port, &db));
    let ch = daemon.channel().await;
    let stored: BTreeSet<u64> = all_findings(&ch, pb::HistoryFilter::default())
        .await
        .iter()
        .map(|f| f.seq)
        .collect();
    let lost: Vec<&u64> = committed.iter().filter(|s| !stored.contains(s)).collect();
    assert!(lost.is_empty(), "{} committed findings lost", lost.len());
    assert_eq!(
        condition(&daemon_state(&ch).await),
        pb::history_state::Condition::Ok
    );
}

#[tokio::test]
async fn a_damaged_file_is_moved_aside_and_said_with_a_critical_finding() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("history.db");
    let junk = b"not a database: the disk returned garbage here ".repeat(200);
    std::fs::write(&db, &junk).unwrap();
    let (_host, port) = accepting().await;
    let daemon = Daemon::start(&config(port, &db));
    let ch = daemon.channel().await;
    let state = daemon_state(&ch).await;
    assert_eq!(condition(&state), pb::history_state::Condition::Ok);
    let f = state
        .findings
        .iter()
        .find(|f| f.reason == "history.corrupt")
        .expect("a finding about the damaged file");
    assert_eq!(f.verdict, pb::Verdict::Critical as i32);
    let aside: Vec<PathBuf> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains(".corrupt-"))
        .collect();
    assert_eq!(aside.len(), 1, "{aside:?}");
    assert_eq!(std::fs::read(&aside[0]).unwrap(), junk);
    assert!(
        f.summary.contains(&*aside[0].to_string_lossy()),
        "{}",
        f.summary
    );
    // The fresh history works, and keeps the daemon's finding too.
    run_check(&ch, &["host.tcp"]).await;
    let daemon_findings = all_findings(
        &ch,
        pb::HistoryFilter {
            origins: vec![pb::Origin::Daemon as i32],
            ..Default::default()
        },
    )
    .await;
    assert!(
        daemon_findings
            .iter()
            .any(|f| f.finding.as_ref().unwrap().reason == "history.corrupt")
    );
}

#[tokio::test]
async fn a_file_from_a_newer_posdiag_is_left_untouched_and_checks_go_on() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("history.db");
    {
        let c = rusqlite::Connection::open(&db).unwrap();
        c.execute_batch("CREATE TABLE from_the_future (x); PRAGMA user_version = 99;")
            .unwrap();
    }
    let before = std::fs::read(&db).unwrap();
    let (_host, port) = accepting().await;
    let daemon = Daemon::start(&config(port, &db));
    let ch = daemon.channel().await;
    let state = daemon_state(&ch).await;
    assert_eq!(condition(&state), pb::history_state::Condition::Degraded);
    assert!(
        state.history.as_ref().unwrap().detail.contains("newer"),
        "{state:?}"
    );
    assert!(state.findings.iter().any(|f| f.reason == "history.newer"));
    let err = HistoryServiceClient::new(ch.clone())
        .list_findings(pb::ListFindingsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unavailable);
    assert!(
        !run_check(&ch, &["host.tcp"]).await.is_empty(),
        "checks still run"
    );
    drop(daemon);
    assert!(std::fs::read(&db).unwrap() == before, "not a byte changed");
}

#[tokio::test]
async fn a_file_that_cannot_grow_degrades_the_history_and_it_recovers_by_itself() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("history.db");
    let (_host, port) = accepting().await;
    let daemon = Daemon::start(&config(port, &db));
    let ch = daemon.channel().await;
    run_check(&ch, &["host.tcp"]).await;
    let stored = all_findings(&ch, pb::HistoryFilter::default()).await.len();
    // No write may go past 4 KiB any more, as on a full disk: the process's
    // file-size limit (SIGXFSZ is handled; the write fails with EFBIG).
    let limit = |soft: &str| {
        let ok = Command::new("prlimit")
            .arg("--pid")
            .arg(daemon.pid().to_string())
            .arg(format!("--fsize={soft}:unlimited"))
            .status()
            .unwrap();
        assert!(ok.success());
    };
    limit("4096");
    let found = run_check(&ch, &["host.tcp"]).await;
    assert!(found.iter().any(|f| f.check == "host.tcp"), "checks go on");
    // Listing waits for the writer: by then the batch has failed.
    assert_eq!(
        all_findings(&ch, pb::HistoryFilter::default()).await.len(),
        stored
    );
    let state = daemon_state(&ch).await;
    assert_eq!(condition(&state), pb::history_state::Condition::Degraded);
    let h = state.history.as_ref().unwrap();
    assert!(h.unwritten > 0);
    assert!(
        state
            .findings
            .iter()
            .any(|f| f.reason == "history.degraded")
    );
    // The live state is served all the while.
    let t = TerminalServiceClient::new(ch.clone())
        .get_terminal(pb::GetTerminalRequest {
            id: "T1".into(),
            lang: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!t.latest_findings.is_empty());

    limit("unlimited");
    run_check(&ch, &["host.tcp"]).await;
    let after = all_findings(&ch, pb::HistoryFilter::default()).await.len();
    assert!(after > stored, "stored again");
    assert_eq!(
        condition(&daemon_state(&ch).await),
        pb::history_state::Condition::Ok
    );
}

#[tokio::test]
async fn card_numbers_never_reach_the_history_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("history.db");
    let (_host, port) = accepting().await;
    // Probes may reach names under .invalid ([auth.probe]), so the probe runs.
    let daemon = Daemon::start(&format!(
        "{}[auth.probe]\nnames = [\"*.invalid\"]\n",
        config(port, &db)
    ));
    let ch = daemon.channel().await;
    let mut checks = CheckServiceClient::new(ch.clone());
    // A probe of a name that carries a card number, and a doctor told one.
    let mut s = checks
        .probe(pb::ProbeRequest {
            target: format!("{PAN}.invalid:9"),
            count: 1,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    while s.next().await.is_some() {}
    let mut d = checks
        .run_doctor(pb::RunDoctorRequest {
            terminal_id: "T1".into(),
            symptom: PAN.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    while d.next().await.is_some() {}
    let probes = all_findings(
        &ch,
        pb::HistoryFilter {
            origins: vec![pb::Origin::Probe as i32],
            ..Default::default()
        },
    )
    .await;
    assert!(!probes.is_empty(), "the probe is in the history");
    assert!(
        probes
            .iter()
            .all(|f| f.finding.as_ref().unwrap().terminal_id.is_empty())
    );
    let diagnoses = HistoryServiceClient::new(ch.clone())
        .list_events(pb::ListEventsRequest {
            kinds: vec![pb::EventKind::Diagnosis as i32],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .events;
    assert_eq!(diagnoses.len(), 1);
    let bytes = file_bytes(&db);
    assert!(bytes.len() > 4096);
    assert!(
        !bytes.windows(PAN.len()).any(|w| w == PAN.as_bytes()),
        "a card number is in the history file"
    );
}

#[tokio::test]
async fn with_the_history_disabled_the_in_memory_history_still_answers() {
    let (_host, port) = accepting().await;
    let config = format!(
        "[defaults]\ncount = 1\ncheck_interval_s = 0\n[hosts.acq]\naddress = \"127.0.0.1\"\nport = {port}\n[[terminals]]\nid = \"T1\"\nhosts = [\"acq\"]\n[history]\nenabled = false\n"
    );
    let daemon = Daemon::start(&config);
    let ch = daemon.channel().await;
    run_check(&ch, &["host.tcp"]).await;
    let err = HistoryServiceClient::new(ch.clone())
        .list_findings(pb::ListFindingsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(
        err.message().contains("enabled = false"),
        "{}",
        err.message()
    );
    assert_eq!(
        condition(&daemon_state(&ch).await),
        pb::history_state::Condition::Disabled
    );
    let kept = CheckServiceClient::new(ch.clone())
        .get_history(pb::GetHistoryRequest {
            terminal_id: "T1".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .findings;
    assert!(!kept.is_empty());
    assert!(!daemon.dir().join("history.db").exists(), "nothing on disk");
}
