//! End-to-end: the real `posdiag` against the real `posdiagd` with a history
//! file. Findings come from a terminal whose hosts are closed loopback ports
//! (every run refused at once, so a thousand findings cost a few runs); the
//! test waits for them to be stored on WatchFindings, not on a clock.
//! `history` shows them newest first and pages past the API's 1000-row page,
//! the exports hold exactly what is stored, `availability` draws its table
//! and timeline in English and Chinese, and a locked history file shows as
//! "history degraded" above `posdiag terminals`.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use pb::history_service_client::HistoryServiceClient;
use posdiag_proto::v1 as pb;
use posdiag_tests::{Daemon, bin};
use tokio_stream::StreamExt;

/// Upper bound on any one command; a hang fails the test instead of the run.
const TIMEOUT_S: &str = "60";

/// Closed loopback hosts per terminal: each run stores a few findings per host.
const HOSTS: usize = 25;

/// Ports nothing listens on: bound, read, released.
fn closed_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<std::net::TcpListener> = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect()
}

/// T1 with [`HOSTS`] refusing hosts, no schedule (runs only when asked),
/// and a history file in `dir`.
fn config(dir: &std::path::Path) -> String {
    let mut c = format!(
        "[history]\npath = \"{}\"\n\
         [defaults]\ncount = 1\ninterval_ms = 0\ntimeout_ms = 500\ncheck_interval_s = 0\n",
        dir.join("history.db").display()
    );
    let ports = closed_ports(HOSTS);
    let mut names = Vec::new();
    for (i, port) in ports.iter().enumerate() {
        let name = format!("closed-{i}");
        c += &format!("[hosts.{name}]\naddress = \"127.0.0.1\"\nport = {port}\n");
        names.push(format!("\"{name}\""));
    }
    c += &format!(
        "[[terminals]]\nid = \"T1\"\nname = \"收银台 1\"\nhosts = [{}]\n",
        names.join(", ")
    );
    c
}

/// Runs `posdiag --endpoint <daemon> ARGS` under `timeout`, local time UTC.
fn posdiag(d: &Daemon, args: &[&str]) -> Output {
    Command::new("timeout")
        .arg(TIMEOUT_S)
        .arg(bin("posdiag"))
        .arg("--endpoint")
        .arg(format!("unix:{}", d.socket.display()))
        .args(args)
        .env("TZ", "UTC")
        .env_remove("POSDIAG_LANG")
        .env_remove("NO_COLOR")
        .stdin(Stdio::null())
        .output()
        .expect("running posdiag")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `posdiag check T1 --json` `runs` times; the number of findings they
/// reported.
fn run_checks(d: &Daemon, runs: usize) -> u64 {
    let mut findings = 0;
    for _ in 0..runs {
        let out = posdiag(d, &["--json", "check", "T1"]);
        assert_eq!(out.status.code(), Some(2), "CRITICAL: {}", stderr(&out));
        findings += stdout(&out)
            .lines()
            .filter(|l| l.starts_with("{\"finding\""))
            .count() as u64;
    }
    findings
}

/// Waits until the history holds `n` findings of T1: WatchFindings replays
/// what is stored and then streams each new one as it is committed.
async fn stored(d: &Daemon, n: u64) {
    let mut watch = HistoryServiceClient::new(d.channel().await)
        .watch_findings(pb::WatchFindingsRequest {
            after: Some(0),
            terminal_id: "T1".into(),
            lang: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let mut seen = 0;
    while seen < n {
        let msg = watch.next().await.expect("the watch stays open").unwrap();
        assert!(msg.finding.is_some());
        seen += 1;
    }
}

#[tokio::test]
async fn history_pages_exports_and_availability_through_the_real_daemon() {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start_logging(&config(dir.path()), "error");

    // One run first: history shows its findings.
    let first = run_checks(&d, 1);
    assert!(
        first >= HOSTS as u64,
        "a finding per host at least: {first}"
    );
    stored(&d, first).await;
    let out = posdiag(&d, &["history", "T1"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.starts_with("TIME "), "{text}");
    assert!(text.contains("host.tcp"), "{text}");
    assert!(text.contains("CRITICAL  tcp.refused"), "{text}");

    // Past 1000 rows: two pages of the API.
    let runs = (1100 / first + 1) as usize;
    let total = first + run_checks(&d, runs);
    assert!(total > 1100, "{total}");
    stored(&d, total).await;
    let out = posdiag(&d, &["history", "T1", "--limit", "1100"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out).lines().count(), 1 + 1100);
    assert!(
        stderr(&out).contains("--limit"),
        "there is more: {}",
        stderr(&out)
    );
    let out = posdiag(
        &d,
        &[
            "history",
            "T1",
            "--verdict",
            "critical",
            "--check",
            "host.tcp",
            "--limit",
            "5000",
        ],
    );
    let rows = stdout(&out).lines().count() - 1;
    assert_eq!(
        rows as u64,
        HOSTS as u64 * (runs as u64 + 1),
        "one refused connect per host and run"
    );

    // Exports: every stored finding, one per line / record.
    let out = posdiag(&d, &["history", "T1", "--export", "jsonl"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let lines: Vec<&str> = std::str::from_utf8(&out.stdout).unwrap().lines().collect();
    assert_eq!(lines.len() as u64, total);
    let newest: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(newest["finding"]["terminalId"], "T1");
    let csv_path = dir.path().join("t1.csv");
    let out = posdiag(
        &d,
        &[
            "history",
            "T1",
            "--since",
            "1d",
            "--export",
            "csv",
            "-o",
            csv_path.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let csv = std::fs::read_to_string(&csv_path).unwrap();
    assert!(csv.starts_with("seq,observed_at,terminal_id,check,subject,verdict,reason,origin,run_id,duration_ms,summary\r\n"));
    // Summaries here have no line breaks: a record per line.
    assert_eq!(csv.lines().count() as u64, 1 + total);
    assert!(
        csv.contains(",CRITICAL,tcp.refused,on_demand,"),
        "{csv:.600}"
    );

    // Status changes: T1 went from nothing to CRITICAL.
    let out = posdiag(&d, &["history", "T1", "--transitions"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("not checked → CRITICAL"),
        "{}",
        stdout(&out)
    );

    // Events: the runs with who asked, and the audit rows of the calls.
    // (Every terminal: the daemon files an API call under no terminal.)
    let out = posdiag(&d, &["history", "--events", "--limit", "4"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains(&format!("on demand: CRITICAL, {HOSTS} findings")),
        "{text}"
    );
    assert!(text.contains("asked by unix:root (uid 0 pid "), "{text}");
    assert!(text.contains("/posdiag.v1.CheckService/RunCheck"), "{text}");

    // Availability, in both languages.
    let out = posdiag(&d, &["availability", "T1"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.starts_with("T1, "), "{text}");
    assert!(text.contains("(one character per day)"), "{text}");
    assert!(text.contains("\noverall "), "{text}");
    assert!(text.contains("host.tcp"), "{text}");
    assert!(text.contains("█"), "today's bucket is CRITICAL: {text}");
    assert!(text.ends_with("· no run\n"), "{text}");
    let out = posdiag(
        &d,
        &["--lang", "zh-CN", "availability", "T1", "--window", "24h"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("（每个字符代表一小时）"), "{text}");
    assert!(text.contains("运行次数"), "{text}");
    assert!(text.contains("\n总体 "), "{text}");
    assert!(text.ends_with("· 未运行\n"), "{text}");
}

#[tokio::test]
async fn a_locked_history_file_shows_as_degraded_above_the_terminals() {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start_logging(&config(dir.path()), "error");
    let out = posdiag(&d, &["terminals"]);
    assert!(
        stdout(&out).starts_with("ID "),
        "all is well: no header\n{}",
        stdout(&out)
    );

    // Another process holds the write lock: the daemon cannot store.
    let other = rusqlite::Connection::open(dir.path().join("history.db")).unwrap();
    other.execute_batch("BEGIN EXCLUSIVE").unwrap();
    run_checks(&d, 1);
    // The writer gives up on the lock after its busy timeout; the state is
    // read until it says so (a state change, not a readiness wait).
    let deadline = Instant::now() + Duration::from_secs(60);
    let text = loop {
        let out = posdiag(&d, &["terminals"]);
        let text = stdout(&out);
        if text.starts_with("history degraded") || Instant::now() > deadline {
            break text;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let header = text.lines().next().unwrap();
    assert!(header.starts_with("history degraded"), "{text}");
    assert!(header.contains("records not stored since start"), "{text}");
    assert!(text.lines().nth(1).unwrap().starts_with("ID "), "{text}");
    let out = posdiag(&d, &["--lang", "zh-CN", "terminals"]);
    assert!(
        stdout(&out).starts_with("历史记录已降级"),
        "{}",
        stdout(&out)
    );
    let out = posdiag(&d, &["--json", "terminals"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["daemon"]["history"]["condition"], "CONDITION_DEGRADED");
    other.execute_batch("COMMIT").unwrap();
}

#[test]
fn without_a_history_file_history_shows_what_the_daemon_holds_in_memory() {
    let dir = tempfile::tempdir().unwrap();
    let text = config(dir.path()).replace("[history]\n", "[history]\nenabled = false\n");
    let d = Daemon::start_logging(&text, "error");
    run_checks(&d, 1);
    let out = posdiag(&d, &["history", "T1"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("CRITICAL  tcp.refused"),
        "{}",
        stdout(&out)
    );
    assert!(
        stderr(&out).contains("[history] enabled = false"),
        "{}",
        stderr(&out)
    );
    // A history turned off is a choice: no line above the terminals.
    let out = posdiag(&d, &["terminals"]);
    assert!(stdout(&out).starts_with("ID "), "{}", stdout(&out));
    // What only the file can answer is the daemon's refusal, exit 3.
    let out = posdiag(&d, &["availability", "T1"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(!stderr(&out).is_empty());
}
