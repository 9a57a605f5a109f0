//! Live reload, end to end: the real `posdiagd` binary, its configuration
//! file rewritten and SIGHUP sent, the reload awaited the way systemd awaits
//! it (RELOADING=1, then READY=1 on the notify socket), and what a user then
//! sees over gRPC: the new set of terminals, the unchanged ones with their
//! state and running checks, the outcome in `daemon.reload` in either
//! language, the services reading the new rule sets, and a refused file
//! that changes nothing.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use pb::check_service_client::CheckServiceClient;
use pb::terminal_service_client::TerminalServiceClient;
use posdiag_proto::v1 as pb;
use posdiag_sim::host::{self, Answer, HostSimConfig, RunningHost};
use posdiag_tests::{CONFIG_PREAMBLE_LINES, Daemon};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_stream::StreamExt;
use tonic::Code;
use tonic::transport::Channel;

/// A simulated acquirer that answers `PING` with `PONG` at once.
async fn healthy() -> RunningHost {
    host::start(HostSimConfig {
        answer: Answer::Reply {
            expect_prefix: b"PING".to_vec(),
            reply: b"PONG\n".to_vec(),
        },
        ..HostSimConfig::default()
    })
    .await
    .unwrap()
}

/// An acquirer that holds its `PONG` until the test releases it, so a check
/// stays in flight for exactly as long as the test needs (no timing).
struct HeldHost {
    port: u16,
    release: watch::Sender<bool>,
}

async fn held() -> HeldHost {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (release, rx) = watch::channel(false);
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let mut rx = rx.clone();
            tokio::spawn(async move {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let mut buf = [0u8; 64];
                // The TCP check's connections send nothing and close.
                if matches!(conn.read(&mut buf).await, Ok(n) if n > 0) {
                    let _ = rx.wait_for(|go| *go).await;
                    let _ = conn.write_all(b"PONG\n").await;
                }
            });
        }
    });
    HeldHost { port, release }
}

/// Probe settings and one host, `acq`, on `port`; no schedule unless a
/// terminal sets one.
fn hosts(port: u16) -> String {
    format!(
        "[defaults]\ncount = 1\ninterval_ms = 0\ntimeout_ms = 30000\ncheck_interval_s = 0\n\
         [hosts.acq]\naddress = \"127.0.0.1\"\nport = {port}\n\
         [hosts.acq.exchange]\nsend = \"PING\\n\"\nexpect = \"PONG\"\n"
    )
}

fn terminal(id: &str, extra: &str) -> String {
    format!("[[terminals]]\nid = \"{id}\"\nname = \"Lane {id}\"\nhosts = [\"acq\"]\n{extra}")
}

async fn list(channel: &Channel, lang: &str) -> pb::ListTerminalsResponse {
    TerminalServiceClient::new(channel.clone())
        .list_terminals(pb::ListTerminalsRequest { lang: lang.into() })
        .await
        .unwrap()
        .into_inner()
}

fn ids(resp: &pb::ListTerminalsResponse) -> Vec<&str> {
    resp.terminals.iter().map(|t| t.id.as_str()).collect()
}

fn reload_state(resp: &pb::ListTerminalsResponse) -> &pb::ReloadState {
    resp.daemon
        .as_ref()
        .and_then(|d| d.reload.as_ref())
        .expect("daemon.reload is set after a reload")
}

/// Runs every check of `id` and returns the findings once the run completed.
async fn run_all(channel: &Channel, id: &str) -> Vec<pb::Finding> {
    let stream = CheckServiceClient::new(channel.clone())
        .run_check(pb::RunCheckRequest {
            terminal_id: id.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    drain(stream).await
}

async fn drain(mut s: tonic::Streaming<pb::CheckEvent>) -> Vec<pb::Finding> {
    use pb::check_event::Event;
    let mut findings = Vec::new();
    while let Some(ev) = s.next().await {
        match ev.unwrap().event.unwrap() {
            Event::Finding(f) => findings.push(f),
            Event::Completed(_) => return findings,
            _ => {}
        }
    }
    panic!("the run ended without Completed: {findings:?}");
}

/// What a user compares of a terminal's latest findings.
fn latest(t: &pb::Terminal) -> Vec<(String, i32, String)> {
    t.latest_findings
        .iter()
        .map(|f| (f.check.clone(), f.verdict, f.summary.clone()))
        .collect()
}

/// A terminal with its latest findings (ListTerminals leaves them out).
async fn get(channel: &Channel, id: &str) -> pb::Terminal {
    TerminalServiceClient::new(channel.clone())
        .get_terminal(pb::GetTerminalRequest {
            id: id.into(),
            lang: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
}

fn find<'a>(resp: &'a pb::ListTerminalsResponse, id: &str) -> &'a pb::Terminal {
    resp.terminals
        .iter()
        .find(|t| t.id == id)
        .unwrap_or_else(|| panic!("{id} is listed"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_valid_file_adds_removes_and_changes_terminals_and_the_others_keep_their_state() {
    let h = healthy().await;
    let base = hosts(h.addr().port());
    let before = format!(
        "{base}{}{}{}",
        terminal("T1", ""),
        terminal("T2", ""),
        terminal("T3", "")
    );
    let daemon = Daemon::start_logging(&before, "info");
    let channel = daemon.channel().await;
    assert!(
        list(&channel, "")
            .await
            .daemon
            .is_none_or(|d| d.reload.is_none()),
        "no reload yet"
    );
    for id in ["T1", "T3"] {
        let found = run_all(&channel, id).await;
        assert!(
            found.iter().all(|f| f.verdict == pb::Verdict::Ok as i32),
            "{found:?}"
        );
    }
    let t1_before = get(&channel, "T1").await;
    assert!(t1_before.last_checked.is_some());
    assert!(!t1_before.latest_findings.is_empty());

    // T2 removed, T3 renamed, T4 added with a schedule, T1 as it was.
    let after = format!(
        "{base}{}{}{}",
        terminal("T1", ""),
        terminal("T3", "").replace("Lane T3", "Lane T3 (moved to the back)"),
        terminal("T4", "check_interval_s = 1\n"),
    );
    let watch_changes = TerminalServiceClient::new(channel.clone())
        .watch_terminals(pb::WatchTerminalsRequest {
            ids: vec![],
            lang: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let status = tokio::task::block_in_place(|| daemon.reload(&after));
    assert_eq!(
        status,
        "configuration reloaded: added T4; removed T2; changed T3"
    );

    let new = list(&channel, "").await;
    assert_eq!(ids(&new), ["T1", "T3", "T4"]);
    let reload = reload_state(&new);
    assert!(reload.applied);
    assert!(reload.at.is_some());
    assert_eq!(reload.detail, "added T4; removed T2; changed T3");
    let zh = list(&channel, "zh-CN").await;
    assert_eq!(reload_state(&zh).detail, "新增 T4；移除 T2；修改 T3");

    // The unchanged terminal: the same last check and findings as before.
    let t1 = get(&channel, "T1").await;
    assert_eq!(t1.last_checked, t1_before.last_checked);
    assert_eq!(latest(&t1), latest(&t1_before));
    assert_eq!(t1.status, t1_before.status);
    // The changed one starts afresh under its new name.
    let t3 = find(&new, "T3");
    assert_eq!(t3.name, "Lane T3 (moved to the back)");
    assert!(t3.last_checked.is_none());
    // The removed one is gone for every RPC.
    let gone = TerminalServiceClient::new(channel.clone())
        .get_terminal(pb::GetTerminalRequest {
            id: "T2".into(),
            lang: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(gone.code(), Code::NotFound, "{gone:?}");
    let run = CheckServiceClient::new(channel.clone())
        .run_check(pb::RunCheckRequest {
            terminal_id: "T2".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(run.code(), Code::NotFound, "{run:?}");
    // A new watch begins with exactly the new set.
    let mut watch = TerminalServiceClient::new(channel.clone())
        .watch_terminals(pb::WatchTerminalsRequest::default())
        .await
        .unwrap()
        .into_inner();
    let mut snapshots = Vec::new();
    for _ in 0..3 {
        let ev = watch.next().await.unwrap().unwrap();
        assert_eq!(ev.kind, pb::terminal_event::Kind::Snapshot as i32);
        snapshots.push(ev.terminal.unwrap().id);
    }
    assert_eq!(snapshots, ["T1", "T3", "T4"]);
    // The added terminal runs on its schedule without being asked; a watch
    // opened before the reload sees it.
    let mut watch_changes = watch_changes;
    loop {
        let ev = watch_changes.next().await.unwrap().unwrap();
        let t = ev.terminal.unwrap();
        if ev.kind == pb::terminal_event::Kind::Changed as i32 && t.id == "T4" {
            assert_eq!(t.status, pb::Verdict::Ok as i32);
            break;
        }
    }
    let log = daemon.log();
    assert!(
        log.contains("configuration reloaded") && log.contains("INFO"),
        "{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_check_running_on_an_unchanged_terminal_during_a_reload_finishes_and_is_recorded() {
    let slow = held().await;
    let other = healthy().await;
    let base = format!(
        "{}[hosts.other]\naddress = \"127.0.0.1\"\nport = {}\n",
        hosts(slow.port),
        other.addr().port()
    );
    let daemon = Daemon::start(&format!("{base}{}", terminal("T1", "")));
    let channel = daemon.channel().await;
    let mut run = CheckServiceClient::new(channel.clone())
        .run_check(pb::RunCheckRequest {
            terminal_id: "T1".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    // The exchange has begun; its answer is held back.
    loop {
        let ev = run.next().await.unwrap().unwrap().event.unwrap();
        if matches!(&ev, pb::check_event::Event::PhaseStarted(p) if p.phase == "host.exchange") {
            break;
        }
    }
    let added = "[[terminals]]\nid = \"T2\"\nhosts = [\"other\"]\n";
    let status = tokio::task::block_in_place(|| {
        daemon.reload(&format!("{base}{}{added}", terminal("T1", "")))
    });
    assert_eq!(status, "configuration reloaded: added T2");
    let during = list(&channel, "").await;
    assert_eq!(ids(&during), ["T1", "T2"]);
    assert!(find(&during, "T1").last_checked.is_none(), "still running");

    slow.release.send_replace(true);
    let found = drain(run).await;
    let exchange = found
        .iter()
        .find(|f| f.check == "host.exchange")
        .expect("the exchange finished");
    assert_eq!(exchange.verdict, pb::Verdict::Ok as i32, "{exchange:?}");
    // The stream ends only after the terminal's task recorded the run.
    let t1 = get(&channel, "T1").await;
    assert!(t1.last_checked.is_some(), "the run was never recorded");
    assert!(
        t1.latest_findings
            .iter()
            .any(|f| f.check == "host.exchange" && f.verdict == pb::Verdict::Ok as i32),
        "{:?}",
        t1.latest_findings
    );
}

/// `FILE:LINE:COLUMN` in `text`, as numbers, after the config's path.
fn location(text: &str, path: &str) -> (usize, usize) {
    let at = text
        .find(&format!("{path}:"))
        .unwrap_or_else(|| panic!("{text:?} names {path}"));
    let mut rest = text[at + path.len() + 1..].split(':');
    let line = rest.next().and_then(|l| l.parse().ok());
    let column = rest.next().and_then(|c| c.parse().ok());
    match (line, column) {
        (Some(l), Some(c)) => (l, c),
        _ => panic!("{text:?} has no line and column after {path}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_file_changes_nothing_and_says_where_it_is_wrong() {
    let h = healthy().await;
    let base = hosts(h.addr().port());
    let good = format!("{base}{}{}", terminal("T1", ""), terminal("T2", ""));
    let mut daemon = Daemon::start_logging(&good, "info");
    let channel = daemon.channel().await;
    run_all(&channel, "T1").await;
    let t1_before = get(&channel, "T1").await;
    assert!(!t1_before.latest_findings.is_empty());
    let path = daemon.config_path().display().to_string();
    let base_lines = base.lines().count();

    // A TOML syntax error: an unterminated array.
    let syntax = format!(
        "{base}{}[[terminals]]\nid = \"T9\"\nhosts = [\"acq\"\n",
        terminal("T1", "")
    );
    let status = tokio::task::block_in_place(|| daemon.reload(&syntax));
    assert!(
        status.starts_with("configuration reload refused"),
        "{status}"
    );
    let resp = list(&channel, "").await;
    assert_eq!(ids(&resp), ["T1", "T2"], "the old terminals stay");
    let reload = reload_state(&resp);
    assert!(!reload.applied);
    let (line, _) = location(&reload.detail, &path);
    assert!(
        line > CONFIG_PREAMBLE_LINES + base_lines + 4,
        "the error is in the last terminal: {}",
        reload.detail
    );

    // A validation error: a key no terminal has, on a known line and column.
    let unknown = format!("{base}[[terminals]]\nid = \"T1\"\ncolour = \"red\"\n");
    tokio::task::block_in_place(|| daemon.reload(&unknown));
    let resp = list(&channel, "").await;
    assert_eq!(ids(&resp), ["T1", "T2"]);
    let reload = reload_state(&resp);
    assert!(!reload.applied);
    assert_eq!(
        location(&reload.detail, &path),
        (CONFIG_PREAMBLE_LINES + base_lines + 3, 1),
        "{}",
        reload.detail
    );
    assert!(reload.detail.contains("colour"), "{}", reload.detail);
    let zh = list(&channel, "zh-CN").await;
    assert!(
        reload_state(&zh)
            .detail
            .starts_with("已拒绝，继续使用当前配置："),
        "{}",
        reload_state(&zh).detail
    );
    // `posdiag terminals` says so above the table, in the reader's language.
    let endpoint = format!("unix:{}", daemon.socket.display());
    let cli = tokio::task::block_in_place(|| {
        posdiag_tests::run("posdiag", &["--endpoint", &endpoint, "terminals"])
    });
    let stdout = String::from_utf8_lossy(&cli.stdout);
    let first = stdout.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("last configuration reload (") && first.contains(&format!("{path}:")),
        "{stdout}"
    );
    assert!(
        stdout.lines().nth(1).is_some_and(|l| l.starts_with("ID ")),
        "{stdout}"
    );
    let cli = tokio::task::block_in_place(|| {
        posdiag_tests::run(
            "posdiag",
            &["--endpoint", &endpoint, "--lang", "zh-CN", "terminals"],
        )
    });
    let stdout = String::from_utf8_lossy(&cli.stdout);
    assert!(
        stdout.starts_with("上次配置重新加载 (") && stdout.contains("已拒绝，继续使用当前配置："),
        "{stdout}"
    );
    // The terminals kept their state, and the daemon its service.
    let t1 = get(&channel, "T1").await;
    assert_eq!(t1.last_checked, t1_before.last_checked);
    assert_eq!(latest(&t1), latest(&t1_before));
    assert!(
        run_all(&channel, "T2")
            .await
            .iter()
            .all(|f| f.verdict == pb::Verdict::Ok as i32)
    );
    let log = daemon.log();
    assert!(
        log.contains("ERROR")
            && log.contains("configuration reload refused")
            && log.contains(&format!("{path}:")),
        "{log}"
    );

    // The next valid file is applied.
    let fixed = format!("{good}{}", terminal("T3", ""));
    let status = tokio::task::block_in_place(|| daemon.reload(&fixed));
    assert_eq!(status, "configuration reloaded: added T3");
    let resp = list(&channel, "").await;
    assert_eq!(ids(&resp), ["T1", "T2", "T3"]);
    assert!(reload_state(&resp).applied);
    let cli = tokio::task::block_in_place(|| {
        posdiag_tests::run("posdiag", &["--endpoint", &endpoint, "terminals"])
    });
    // The header now tells the applied reload, and the table follows.
    let stdout = String::from_utf8_lossy(&cli.stdout);
    assert!(
        stdout.starts_with("last configuration reload (")
            && stdout
                .lines()
                .next()
                .is_some_and(|l| l.ends_with("applied: added T3")),
        "{stdout}"
    );
    assert!(
        stdout.lines().nth(1).is_some_and(|l| l.starts_with("ID ")),
        "{stdout}"
    );
    // Every reload is in the history, newest first, refused ones with where.
    let events = pb::history_service_client::HistoryServiceClient::new(channel.clone())
        .list_events(pb::ListEventsRequest {
            kinds: vec![pb::EventKind::Reload as i32],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .events;
    let reloads: Vec<(bool, String)> = events
        .iter()
        .map(|e| match &e.event {
            Some(pb::history_event::Event::Reload(r)) => (r.applied, r.detail.clone()),
            other => panic!("not a reload: {other:?}"),
        })
        .collect();
    assert_eq!(reloads.len(), 3, "{reloads:?}");
    assert_eq!(reloads[0], (true, "added T3".to_owned()));
    for (applied, detail) in &reloads[1..] {
        assert!(!applied && detail.contains(&format!("{path}:")), "{detail}");
    }
    assert!(daemon.running());
    assert!(daemon.terminate().success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_bound_at_start_are_kept_and_the_reload_says_they_need_a_restart() {
    let h = healthy().await;
    let config = format!("{}{}", hosts(h.addr().port()), terminal("T1", ""));
    let daemon = Daemon::start(&config);
    let channel = daemon.channel().await;
    let moved = config.replace(
        "[defaults]\n",
        "[ports]\nscan_interval_ms = 60000\n[defaults]\n",
    );
    let status = tokio::task::block_in_place(|| daemon.reload(&moved));
    assert_eq!(
        status,
        "configuration reloaded: no terminal added, removed or changed; ports changed: needs a restart to take effect"
    );
    let resp = list(&channel, "zh-CN").await;
    assert_eq!(
        reload_state(&resp).detail,
        "没有新增、移除或修改终端；ports 已修改：需重启后生效"
    );
    // Still listening where it was.
    assert_eq!(ids(&list(&channel, "").await), ["T1"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rule_sets_and_a_terminals_id_rules_follow_a_reload() {
    use pb::id_service_client::IdServiceClient;
    let h = healthy().await;
    let base = hosts(h.addr().port());
    let daemon = Daemon::start(&format!("{base}{}", terminal("T1", "")));
    let channel = daemon.channel().await;
    let mut ids_api = IdServiceClient::new(channel.clone());
    let sets = ids_api
        .list_rule_sets(pb::ListRuleSetsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(sets.rule_sets.is_empty());
    let by_terminal = pb::ValidateIdRequest {
        value: b"12345678".to_vec(),
        terminal_id: "T1".into(),
        ..Default::default()
    };
    let before = ids_api.validate_id(by_terminal.clone()).await.unwrap_err();
    assert_eq!(
        before.code(),
        Code::InvalidArgument,
        "T1 has no id_rules yet"
    );

    let rules = "[rules.eight-digits]\ndescription = \"Store cards\"\nmin_length = 8\nmax_length = 8\ncharset = \"digits\"\n";
    let status = tokio::task::block_in_place(|| {
        daemon.reload(&format!(
            "{base}{rules}{}",
            terminal("T1", "id_rules = \"eight-digits\"\n")
        ))
    });
    // A new id_rules changes the terminal.
    assert_eq!(status, "configuration reloaded: changed T1");
    let sets = ids_api
        .list_rule_sets(pb::ListRuleSetsRequest::default())
        .await
        .unwrap()
        .into_inner();
    let names: Vec<(&str, &[String])> = sets
        .rule_sets
        .iter()
        .map(|r| (r.name.as_str(), r.terminals.as_slice()))
        .collect();
    assert_eq!(names, [("eight-digits", &["T1".to_owned()][..])]);
    let valid = ids_api.validate_id(by_terminal).await.unwrap().into_inner();
    assert!(valid.valid, "{valid:?}");
}
