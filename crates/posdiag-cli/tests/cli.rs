//! Runs the built `posdiag` binary: against a socket nobody listens on (the
//! error a field engineer meets first), with invalid arguments, and against a
//! small in-test gRPC server that implements both services with canned
//! answers, to check what the commands print and the exit codes they return.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::{Command, Output, Stdio};

use posdiag_proto::v1;
use posdiag_proto::v1::check_service_server::{CheckService, CheckServiceServer};
use posdiag_proto::v1::history_service_server::{HistoryService, HistoryServiceServer};
use posdiag_proto::v1::terminal_service_server::{TerminalService, TerminalServiceServer};
use tokio_stream::Stream;
use tonic::{Request, Response, Status};

fn posdiag(endpoint: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_posdiag"))
        .arg("--endpoint")
        .arg(endpoint)
        .args(args)
        .env_remove("POSDIAG_ENDPOINT")
        .env_remove("POSDIAG_LANG")
        .env_remove("NO_COLOR")
        // Local times in tables are UTC here, whatever the machine's zone.
        .env("TZ", "UTC")
        .stdin(Stdio::null())
        .output()
        .expect("run posdiag")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn absent_socket() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let ep = format!("unix:{}", dir.path().join("posdiagd.sock").display());
    (dir, ep)
}

#[test]
fn a_missing_daemon_is_named_with_its_socket_and_the_fix() {
    let (_dir, ep) = absent_socket();
    let out = posdiag(&ep, &["terminals"]);
    assert_eq!(out.status.code(), Some(3));
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!(
            "cannot reach posdiagd at {ep} (No such file or directory): is the daemon running?"
        )),
        "{err}"
    );
    assert!(err.contains("systemctl start posdiagd"), "{err}");
    assert!(out.stdout.is_empty());
}

#[test]
fn the_missing_daemon_sentence_is_translated() {
    let (_dir, ep) = absent_socket();
    let out = posdiag(&ep, &["--lang", "zh-CN", "check", "T1"]);
    assert_eq!(out.status.code(), Some(3));
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!(
            "无法连接 {ep} 上的 posdiagd（没有那个文件或目录）"
        )),
        "{err}"
    );
}

#[test]
fn invalid_arguments_exit_64_before_connecting() {
    let (_dir, ep) = absent_socket();
    let out = posdiag(&ep, &["probe", "host", "acquirer.example"]);
    assert_eq!(out.status.code(), Some(64));
    assert!(
        text(&out.stderr).contains("invalid target \"acquirer.example\": expected HOST:PORT"),
        "{}",
        text(&out.stderr)
    );
    let out = posdiag(&ep, &["probe", "host", "h:1", "--count", "0"]);
    assert_eq!(out.status.code(), Some(64));
    assert!(text(&out.stderr).contains("--count must be between 1 and 100, got 0"));
    let out = posdiag(&ep, &["check"]);
    assert_eq!(out.status.code(), Some(64), "clap usage errors exit 64 too");
    let out = posdiag("tcp://x:1", &["terminals"]);
    assert_eq!(out.status.code(), Some(64));
    assert!(text(&out.stderr).contains("invalid endpoint \"tcp://x:1\""));
}

#[test]
fn help_documents_exit_codes_and_exits_0() {
    let out = posdiag("unix:/nonexistent", &["--help"]);
    assert_eq!(out.status.code(), Some(0));
    let help = text(&out.stdout);
    assert!(help.contains("64 invalid command-line arguments"), "{help}");
    let out = posdiag("unix:/nonexistent", &["check", "--help"]);
    assert!(text(&out.stdout).contains("one JSON object per line"));
}

// ---- a canned daemon --------------------------------------------------------

type EventStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

fn finding(check: &str, verdict: v1::Verdict, reason: &str, summary: &str) -> v1::Finding {
    v1::Finding {
        check: check.into(),
        verdict: verdict as i32,
        reason: reason.into(),
        summary: summary.into(),
        subject: "acquirer-a (127.0.0.1:5000)".into(),
        terminal_id: "T1".into(),
        observed_at: Some(prost_types::Timestamp {
            seconds: 1_700_000_000,
            nanos: 0,
        }),
        ..Default::default()
    }
}

fn critical_tcp(lang: &str) -> v1::Finding {
    let summary = if lang == "zh-CN" {
        "主机拒绝连接"
    } else {
        "the host refused the connection"
    };
    let mut f = finding("host.tcp", v1::Verdict::Critical, "tcp.refused", summary);
    f.evidence = vec![v1::Evidence {
        name: "rtt_p95".into(),
        unit: "ms".into(),
        value: Some(v1::evidence::Value::Number(12.3)),
    }];
    f.remedies = vec![v1::Remedy {
        actor: v1::Actor::Merchant as i32,
        text: "Check the network cable.".into(),
    }];
    f
}

fn terminal() -> v1::Terminal {
    v1::Terminal {
        id: "T1".into(),
        name: "收银台 1".into(),
        vendor: "ACME".into(),
        model: "P400".into(),
        link: Some(v1::Link {
            kind: "tcp".into(),
            address: "127.0.0.1:20007".into(),
            present: true,
            protocol: "zvt".into(),
            ..Default::default()
        }),
        hosts: vec![v1::Host {
            name: "acquirer-a".into(),
            address: "127.0.0.1".into(),
            port: 5000,
            tls: false,
        }],
        status: v1::Verdict::Critical as i32,
        last_checked: Some(prost_types::Timestamp {
            seconds: 1_700_000_000,
            nanos: 0,
        }),
        latest_findings: vec![critical_tcp("en")],
        check_interval_s: 60,
    }
}

#[derive(Debug)]
struct Canned;

fn not_found(id: &str) -> Status {
    Status::not_found(format!("no terminal {id:?}; known terminals: T1"))
}

#[tonic::async_trait]
impl TerminalService for Canned {
    async fn list_terminals(
        &self,
        _: Request<v1::ListTerminalsRequest>,
    ) -> Result<Response<v1::ListTerminalsResponse>, Status> {
        let mut t = terminal();
        t.latest_findings.clear();
        Ok(Response::new(v1::ListTerminalsResponse {
            terminals: vec![t],
            daemon: None,
        }))
    }

    async fn get_terminal(
        &self,
        req: Request<v1::GetTerminalRequest>,
    ) -> Result<Response<v1::Terminal>, Status> {
        match req.into_inner().id.as_str() {
            "T1" => Ok(Response::new(terminal())),
            other => Err(not_found(other)),
        }
    }

    type WatchTerminalsStream = EventStream<v1::TerminalEvent>;

    async fn watch_terminals(
        &self,
        _: Request<v1::WatchTerminalsRequest>,
    ) -> Result<Response<Self::WatchTerminalsStream>, Status> {
        let ev = v1::TerminalEvent {
            kind: v1::terminal_event::Kind::Snapshot as i32,
            terminal: Some(terminal()),
            previous_status: 0,
            at: Some(prost_types::Timestamp {
                seconds: 1_700_000_000,
                nanos: 0,
            }),
        };
        // One snapshot, then open until the client cancels.
        let stream =
            tokio_stream::StreamExt::chain(tokio_stream::iter([Ok(ev)]), tokio_stream::pending());
        Ok(Response::new(Box::pin(stream)))
    }
}

fn check_events(findings: Vec<v1::Finding>) -> Vec<Result<v1::CheckEvent, Status>> {
    use v1::check_event::Event;
    let overall = findings.iter().map(|f| f.verdict).max().unwrap_or(0);
    let mut events = vec![Event::PhaseStarted(v1::PhaseStarted {
        phase: "host.tcp".into(),
        subject: "acquirer-a".into(),
    })];
    let n = findings.len() as u32;
    events.extend(findings.into_iter().map(Event::Finding));
    events.push(Event::Completed(v1::Completed {
        overall,
        findings: n,
        duration: Some(prost_types::Duration {
            seconds: 0,
            nanos: 250_000_000,
        }),
    }));
    events
        .into_iter()
        .map(|e| Ok(v1::CheckEvent { event: Some(e) }))
        .collect()
}

#[tonic::async_trait]
impl CheckService for Canned {
    type RunCheckStream = EventStream<v1::CheckEvent>;

    async fn run_check(
        &self,
        req: Request<v1::RunCheckRequest>,
    ) -> Result<Response<Self::RunCheckStream>, Status> {
        let req = req.into_inner();
        if req.terminal_id != "T1" {
            return Err(not_found(&req.terminal_id));
        }
        let findings = vec![
            finding("host.dns", v1::Verdict::Ok, "ok", "resolved"),
            critical_tcp(&req.lang),
        ];
        Ok(Response::new(Box::pin(tokio_stream::iter(check_events(
            findings,
        )))))
    }

    async fn get_history(
        &self,
        req: Request<v1::GetHistoryRequest>,
    ) -> Result<Response<v1::GetHistoryResponse>, Status> {
        let req = req.into_inner();
        // T2's daemon keeps no history file: only this in-memory history.
        if req.terminal_id != "T1" && req.terminal_id != "T2" {
            return Err(not_found(&req.terminal_id));
        }
        let mut findings = vec![
            critical_tcp(&req.lang),
            finding("host.dns", v1::Verdict::Ok, "ok", "resolved"),
        ];
        if req.limit > 0 {
            findings.truncate(req.limit as usize);
        }
        Ok(Response::new(v1::GetHistoryResponse { findings }))
    }

    type ProbeLinkStream = EventStream<v1::CheckEvent>;

    async fn probe_link(
        &self,
        _req: Request<v1::ProbeLinkRequest>,
    ) -> Result<Response<Self::ProbeLinkStream>, Status> {
        Err(Status::failed_precondition(
            "plugin \"posdiag.zvt\" is not loaded",
        ))
    }

    type RunDoctorStream = EventStream<v1::DoctorEvent>;

    async fn run_doctor(
        &self,
        req: Request<v1::RunDoctorRequest>,
    ) -> Result<Response<Self::RunDoctorStream>, Status> {
        Err(not_found(&req.into_inner().terminal_id))
    }

    type ProbeStream = EventStream<v1::CheckEvent>;

    async fn probe(
        &self,
        req: Request<v1::ProbeRequest>,
    ) -> Result<Response<Self::ProbeStream>, Status> {
        let req = req.into_inner();
        // Echo the request so the test sees what the CLI sent.
        let summary = format!(
            "target={} count={} tls={} send={:02x?} expect={:02x?} lang={}",
            req.target, req.count, req.tls, req.send, req.expect, req.lang
        );
        let f = finding("host.tcp", v1::Verdict::Warning, "tcp.latency", &summary);
        Ok(Response::new(Box::pin(tokio_stream::iter(check_events(
            vec![f],
        )))))
    }
}

/// Findings the canned history holds: `STORED` of them, newest first, one a
/// minute back from 2023-11-14T22:13:20Z, every tenth CRITICAL with a
/// summary that needs CSV quoting.
const STORED: u64 = 2500;

fn stored(seq: u64, lang: &str) -> v1::StoredFinding {
    let mut f = if seq.is_multiple_of(10) {
        let mut f = critical_tcp(lang);
        f.summary = format!("refused, \"again\"\nseq {seq}");
        f
    } else {
        finding("host.dns", v1::Verdict::Ok, "ok", "resolved")
    };
    f.observed_at = Some(prost_types::Timestamp {
        seconds: 1_700_000_000 - 60 * (STORED - seq) as i64,
        nanos: 0,
    });
    v1::StoredFinding {
        seq,
        run_id: seq,
        origin: v1::Origin::Schedule as i32,
        finding: Some(f),
    }
}

/// One page of a canned listing of `total` rows, newest first: the token is
/// the offset, checked like a real daemon checks its tokens.
fn page(total: u64, size: u32, token: &str) -> Result<(std::ops::Range<u64>, String), Status> {
    assert!(
        size <= 1000,
        "the API serves at most 1000 per page, asked {size}"
    );
    let size = if size == 0 { 100 } else { u64::from(size) };
    let offset: u64 = if token.is_empty() {
        0
    } else {
        token
            .parse()
            .map_err(|_| Status::invalid_argument("page_token: malformed"))?
    };
    let end = (offset + size).min(total);
    let next = if end < total {
        end.to_string()
    } else {
        String::new()
    };
    Ok((offset..end, next))
}

#[tonic::async_trait]
impl HistoryService for Canned {
    async fn list_findings(
        &self,
        req: Request<v1::ListFindingsRequest>,
    ) -> Result<Response<v1::ListFindingsResponse>, Status> {
        let req = req.into_inner();
        let filter = req.filter.unwrap_or_default();
        if filter.terminal_id == "T2" {
            return Err(Status::failed_precondition(
                "history is disabled ([history] enabled = false)",
            ));
        }
        let (range, next_page_token) = page(STORED, req.page_size, &req.page_token)?;
        let findings = range.map(|i| stored(STORED - i, &req.lang)).collect();
        Ok(Response::new(v1::ListFindingsResponse {
            findings,
            next_page_token,
        }))
    }

    async fn list_transitions(
        &self,
        req: Request<v1::ListTransitionsRequest>,
    ) -> Result<Response<v1::ListTransitionsResponse>, Status> {
        let req = req.into_inner();
        let at = |s| {
            Some(prost_types::Timestamp {
                seconds: s,
                nanos: 0,
            })
        };
        let transitions = vec![
            v1::Transition {
                seq: 2,
                terminal_id: "T1".into(),
                check: "host.tcp".into(),
                subject: "acquirer-a (127.0.0.1:5000)".into(),
                from: v1::Verdict::Ok as i32,
                to: v1::Verdict::Critical as i32,
                reason: "tcp.refused".into(),
                summary: critical_tcp(&req.lang).summary,
                at: at(1_700_000_000),
                run_id: 7,
            },
            v1::Transition {
                seq: 1,
                terminal_id: "T1".into(),
                from: v1::Verdict::Unspecified as i32,
                to: v1::Verdict::Ok as i32,
                reason: "ok".into(),
                at: at(1_699_990_000),
                run_id: 1,
                ..Default::default()
            },
        ];
        Ok(Response::new(v1::ListTransitionsResponse {
            transitions,
            next_page_token: String::new(),
        }))
    }

    async fn list_events(
        &self,
        _req: Request<v1::ListEventsRequest>,
    ) -> Result<Response<v1::ListEventsResponse>, Status> {
        use v1::history_event::Event;
        let at = Some(prost_types::Timestamp {
            seconds: 1_700_000_000,
            nanos: 0,
        });
        let events = vec![
            v1::HistoryEvent {
                seq: 3,
                at,
                event: Some(Event::Reload(v1::ReloadRecord {
                    applied: false,
                    detail: "posdiagd.toml:4:1: unknown key \"colour\"".into(),
                })),
            },
            v1::HistoryEvent {
                seq: 2,
                at,
                event: Some(Event::Run(v1::RunRecord {
                    run_id: 7,
                    terminal_id: "T1".into(),
                    origin: v1::Origin::OnDemand as i32,
                    caller: Some(v1::Caller {
                        uid: Some(1000),
                        pid: Some(4242),
                        peer: "unix".into(),
                        ..Default::default()
                    }),
                    overall: v1::Verdict::Critical as i32,
                    findings: 2,
                    ..Default::default()
                })),
            },
            v1::HistoryEvent {
                seq: 1,
                at,
                event: Some(Event::Link(v1::LinkEventRecord {
                    terminal_id: "T1".into(),
                    present: false,
                    path: String::new(),
                })),
            },
        ];
        Ok(Response::new(v1::ListEventsResponse {
            events,
            next_page_token: String::new(),
        }))
    }

    async fn get_availability(
        &self,
        req: Request<v1::GetAvailabilityRequest>,
    ) -> Result<Response<v1::Availability>, Status> {
        let req = req.into_inner();
        if req.terminal_id != "T1" {
            return Err(not_found(&req.terminal_id));
        }
        let window = req.window.map_or(7 * 86_400, |w| w.seconds);
        let ts = |s| {
            Some(prost_types::Timestamp {
                seconds: s,
                nanos: 0,
            })
        };
        let timeline: Vec<i32> = (0..window / 86_400)
            .map(|d| match d % 4 {
                0 => v1::Verdict::Ok as i32,
                1 => v1::Verdict::Critical as i32,
                2 => v1::Verdict::Warning as i32,
                _ => v1::Verdict::Unspecified as i32,
            })
            .collect();
        let row = |check: &str, subject: &str| v1::CheckAvailability {
            check: check.into(),
            subject: subject.into(),
            runs: 100,
            ok_runs: 75,
            ok_ratio: 0.75,
            outages: 2,
            current: v1::Verdict::Ok as i32,
            timeline: timeline.clone(),
            ..Default::default()
        };
        Ok(Response::new(v1::Availability {
            terminal_id: req.terminal_id,
            from: ts(1_700_000_000 - window),
            to: ts(1_700_000_000),
            bucket: Some(prost_types::Duration {
                seconds: 86_400,
                nanos: 0,
            }),
            overall: Some(row("", "")),
            checks: vec![row("host.tcp", "acquirer-a (127.0.0.1:5000)")],
        }))
    }

    type WatchFindingsStream = EventStream<v1::WatchFindingsResponse>;

    async fn watch_findings(
        &self,
        _req: Request<v1::WatchFindingsRequest>,
    ) -> Result<Response<Self::WatchFindingsStream>, Status> {
        Err(Status::unimplemented("not canned"))
    }
}

/// A canned daemon on a unix socket in a temporary directory. The socket is
/// bound before `start` returns, so clients can connect at once.
struct FakeDaemon {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl FakeDaemon {
    fn start() -> FakeDaemon {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("posdiagd.sock");
        let std_listener = std::os::unix::net::UnixListener::bind(&path).expect("bind");
        std_listener.set_nonblocking(true).expect("nonblocking");
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let listener = tokio::net::UnixListener::from_std(std_listener).expect("listener");
                tonic::transport::Server::builder()
                    .add_service(TerminalServiceServer::new(Canned))
                    .add_service(CheckServiceServer::new(Canned))
                    .add_service(HistoryServiceServer::new(Canned))
                    .serve_with_incoming(tokio_stream::wrappers::UnixListenerStream::new(listener))
                    .await
                    .expect("serve");
            });
        });
        FakeDaemon { _dir: dir, path }
    }

    fn endpoint(&self) -> String {
        endpoint_of(&self.path)
    }
}

fn endpoint_of(p: &Path) -> String {
    format!("unix:{}", p.display())
}

#[test]
fn check_prints_table_evidence_remedies_and_exits_with_the_worst_verdict() {
    let d = FakeDaemon::start();
    let out = posdiag(&d.endpoint(), &["check", "T1"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "CRITICAL exits 2: {stdout}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines[0].starts_with("VERDICT   CHECK     SUBJECT"),
        "{stdout}"
    );
    assert!(
        lines[1].starts_with("OK        host.dns  acquirer-a (127.0.0.1:5000)  ok "),
        "{stdout}"
    );
    assert!(stdout.contains("CRITICAL host.tcp acquirer-a (127.0.0.1:5000): tcp.refused\n"));
    assert!(stdout.contains("    rtt_p95 12.3 ms\n"), "{stdout}");
    assert!(
        stdout.contains("    1. [merchant] Check the network cable.\n"),
        "{stdout}"
    );
    assert!(
        stdout.ends_with("overall: CRITICAL (2 findings: 1 OK, 1 CRITICAL) 250 ms\n"),
        "{stdout}"
    );
    assert!(!stdout.contains('\x1b'), "no colour into a pipe");
    assert!(
        out.stderr.is_empty(),
        "no progress when stderr is not a terminal"
    );
}

#[test]
fn check_in_chinese_sends_the_language_and_translates_labels() {
    let d = FakeDaemon::start();
    let out = posdiag(&d.endpoint(), &["--lang", "zh-CN", "check", "T1"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(2));
    assert!(stdout.starts_with("结论"), "{stdout}");
    assert!(
        stdout.contains("主机拒绝连接"),
        "the daemon got lang=zh-CN: {stdout}"
    );
    assert!(stdout.contains("1. [商户] "), "{stdout}");
}

#[test]
fn check_json_is_one_proto3_json_object_per_event() {
    let d = FakeDaemon::start();
    let out = posdiag(&d.endpoint(), &["check", "T1", "--json"]);
    assert_eq!(out.status.code(), Some(2));
    let events: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert_eq!(events.len(), 4);
    assert_eq!(events[0]["phaseStarted"]["phase"], "host.tcp");
    assert_eq!(events[2]["finding"]["verdict"], "VERDICT_CRITICAL");
    assert_eq!(events[2]["finding"]["observedAt"], "2023-11-14T22:13:20Z");
    assert_eq!(events[3]["completed"]["overall"], "VERDICT_CRITICAL");
}

#[test]
fn an_unknown_terminal_shows_the_daemons_message() {
    let d = FakeDaemon::start();
    let out = posdiag(&d.endpoint(), &["check", "T9"]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(
        text(&out.stderr),
        "posdiag: no terminal \"T9\"; known terminals: T1\n"
    );
}

#[test]
fn terminals_and_history_are_tables() {
    let d = FakeDaemon::start();
    let out = posdiag(&d.endpoint(), &["terminals"]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = text(&out.stdout);
    assert_eq!(
        stdout,
        "ID  NAME      VENDOR/MODEL  LINK                 HOSTS       STATUS    LAST CHECKED\n\
         T1  收银台 1  ACME/P400     tcp 127.0.0.1:20007  acquirer-a  CRITICAL  2023-11-14T22:13:20Z\n"
    );
    let out = posdiag(&d.endpoint(), &["history", "T1", "--limit", "1"]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = text(&out.stdout);
    assert_eq!(stdout.lines().count(), 2, "{stdout}");
    assert!(
        stdout.starts_with("TIME                 CHECK     SUBJECT"),
        "{stdout}"
    );
    assert!(stdout.contains(
        "2023-11-14 22:13:20  host.tcp  acquirer-a (127.0.0.1:5000)  CRITICAL  tcp.refused"
    ));
    let out = posdiag(&d.endpoint(), &["--json", "terminals"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["terminals"][0]["checkIntervalS"], 60);
}

#[test]
fn probe_sends_the_validated_request() {
    let d = FakeDaemon::start();
    let out = posdiag(
        &d.endpoint(),
        &[
            "--lang",
            "zh-CN",
            "probe",
            "host",
            "[::1]:5000",
            "--count",
            "3",
            "--tls",
            "--send-hex",
            "08 00",
            "--expect",
            "OK",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "WARNING exits 1");
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains(
            "target=[::1]:5000 count=3 tls=true send=[08, 00] expect=[4f, 4b] lang=zh-CN"
        ),
        "{stdout}"
    );
}

#[test]
fn watch_prints_events_and_exits_0_on_ctrl_c() {
    let d = FakeDaemon::start();
    let mut child = Command::new(env!("CARGO_BIN_EXE_posdiag"))
        .args(["--endpoint", &d.endpoint(), "watch"])
        .env_remove("POSDIAG_LANG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut line = String::new();
    let stdout = child.stdout.take().expect("stdout");
    BufReader::new(stdout).read_line(&mut line).expect("read");
    assert_eq!(
        line,
        "2023-11-14T22:13:20Z snapshot T1 (收银台 1): CRITICAL host.tcp acquirer-a (127.0.0.1:5000) tcp.refused: the host refused the connection\n"
    );
    // The first line is printed after the Ctrl-C handler is installed.
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(0));
}

// ---- history and availability ----------------------------------------------

#[test]
fn history_pages_through_the_api_until_the_limit() {
    let d = FakeDaemon::start();
    let out = posdiag(&d.endpoint(), &["history", "T1", "--limit", "1500"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1 + 1500, "header and 1500 rows over two pages");
    // Newest first; a summary's newline does not break its row.
    assert!(
        lines[1].starts_with("2023-11-14 22:13:20  host.tcp"),
        "{}",
        lines[1]
    );
    assert!(
        lines[1].ends_with("refused, \"again\" seq 2500"),
        "{}",
        lines[1]
    );
    assert!(
        lines[1500].starts_with("2023-11-13 21:14:20  host.dns"),
        "{}",
        lines[1500]
    );
    assert!(
        text(&out.stderr).contains("the history holds more: raise --limit"),
        "{}",
        text(&out.stderr)
    );

    // Past the end: everything, and no hint that there is more.
    let out = posdiag(&d.endpoint(), &["history", "--limit", "5000"]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = text(&out.stdout);
    assert_eq!(stdout.lines().count(), 1 + 2500);
    assert!(
        stdout.starts_with("TIME                 TERMINAL  CHECK"),
        "every terminal: a TERMINAL column: {stdout:.200}"
    );
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));

    // Default limit, JSON.
    let out = posdiag(&d.endpoint(), &["--json", "history", "T1"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["findings"].as_array().map(Vec::len), Some(50));
    assert_eq!(v["findings"][0]["seq"], "2500");
    assert_eq!(v["findings"][0]["origin"], "ORIGIN_SCHEDULE");
}

#[test]
fn export_streams_every_finding_as_jsonl_or_csv() {
    let d = FakeDaemon::start();
    let out = posdiag(&d.endpoint(), &["history", "T1", "--export", "jsonl"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let seqs: Vec<u64> = stdout
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("a JSON object per line");
            v["seq"].as_str().expect("seq").parse().expect("number")
        })
        .collect();
    assert_eq!(seqs.len() as u64, STORED);
    assert_eq!((seqs[0], seqs[seqs.len() - 1]), (STORED, 1), "newest first");

    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("t1.csv");
    let file_arg = file.display().to_string();
    let out = posdiag(
        &d.endpoint(),
        &["history", "T1", "--export", "csv", "-o", &file_arg],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        format!("2500 findings written to {file_arg}\n")
    );
    let bytes = std::fs::read(&file).expect("the export file");
    assert!(bytes.starts_with(
        b"seq,observed_at,terminal_id,check,subject,verdict,reason,origin,run_id,duration_ms,summary\r\n"
    ));
    let mut reader = csv::Reader::from_reader(bytes.as_slice());
    let records: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("RFC 4180")).collect();
    assert_eq!(records.len() as u64, STORED);
    let first = &records[0];
    assert_eq!(&first[0], "2500");
    assert_eq!(&first[1], "2023-11-14T22:13:20Z");
    assert_eq!(&first[5], "CRITICAL");
    assert_eq!(&first[7], "schedule");
    assert_eq!(
        &first[10], "refused, \"again\"\nseq 2500",
        "quoted and read back"
    );

    let out = posdiag(
        &d.endpoint(),
        &[
            "history",
            "T1",
            "--export",
            "csv",
            "-o",
            "/nonexistent/dir/t1.csv",
        ],
    );
    assert_eq!(out.status.code(), Some(3));
    assert!(
        text(&out.stderr).contains(
            "cannot write the export to /nonexistent/dir/t1.csv (No such file or directory)"
        ),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn bad_history_options_exit_64_naming_the_accepted_forms() {
    let (_dir, ep) = absent_socket();
    let out = posdiag(&ep, &["history", "T1", "--since", "yesterday"]);
    assert_eq!(out.status.code(), Some(64));
    let err = text(&out.stderr);
    assert!(err.contains("--since \"yesterday\" is not a time"), "{err}");
    assert!(
        err.contains("24h") && err.contains("2026-12-01T08:00"),
        "{err}"
    );
    let out = posdiag(&ep, &["--lang", "zh-CN", "history", "--until", "7x"]);
    assert_eq!(out.status.code(), Some(64));
    assert!(
        text(&out.stderr).contains("不是有效的时间"),
        "{}",
        text(&out.stderr)
    );
    let out = posdiag(&ep, &["history", "--since", "1d", "--until", "2d"]);
    assert_eq!(out.status.code(), Some(64));
    assert!(text(&out.stderr).contains("--since must be before --until"));
    let out = posdiag(&ep, &["history", "--verdict", "bad"]);
    assert_eq!(out.status.code(), Some(64));
    let out = posdiag(&ep, &["history", "--limit", "0"]);
    assert_eq!(out.status.code(), Some(64));
    let out = posdiag(&ep, &["availability", "T1", "--window", "500d"]);
    assert_eq!(out.status.code(), Some(64));
    assert!(
        text(&out.stderr).contains("--window \"500d\""),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn without_a_history_file_history_shows_the_in_memory_findings() {
    let d = FakeDaemon::start();
    let out = posdiag(&d.endpoint(), &["history", "T2"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("CRITICAL  tcp.refused"));
    assert!(
        text(&out.stderr).contains("[history] enabled = false"),
        "{}",
        text(&out.stderr)
    );
    // What only the history file can answer is the daemon's error.
    let out = posdiag(&d.endpoint(), &["history", "T2", "--since", "1d"]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(
        text(&out.stderr),
        "posdiag: history is disabled ([history] enabled = false)\n"
    );
}

#[test]
fn transitions_and_events_are_tables() {
    let d = FakeDaemon::start();
    let out = posdiag(&d.endpoint(), &["history", "T1", "--transitions"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        text(&out.stdout),
        "TIME                 CHECK     SUBJECT                      CHANGE            REASON       SUMMARY\n\
         2023-11-14 22:13:20  host.tcp  acquirer-a (127.0.0.1:5000)  OK → CRITICAL     tcp.refused  the host refused the connection\n\
         2023-11-14 19:26:40  terminal                               not checked → OK  ok\n"
    );
    let out = posdiag(
        &d.endpoint(),
        &["--lang", "zh-CN", "history", "T1", "--events"],
    );
    assert_eq!(out.status.code(), Some(0));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines[0].starts_with("时间                 事件"),
        "{stdout}"
    );
    assert!(
        lines[1].contains("重新加载  -     被拒绝: posdiagd.toml:4:1"),
        "{stdout}"
    );
    assert!(
        lines[2].contains("检查运行  T1    #7 按需: CRITICAL, 2 项结果, 请求方 uid 1000 pid 4242"),
        "{stdout}"
    );
    assert!(lines[3].contains("端口      T1    端口已消失"), "{stdout}");
}

#[test]
fn availability_is_a_table_and_a_timeline_in_both_languages() {
    let d = FakeDaemon::start();
    let out = posdiag(&d.endpoint(), &["availability", "T1"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with("T1, 2023-11-07 22:13 to 2023-11-14 22:13 (one character per day)\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("\noverall                                100   75%   2 "),
        "{stdout}"
    );
    assert!(
        stdout.contains("\nhost.tcp acquirer-a (127.0.0.1:5000)  ▁█▄·▁█▄\n"),
        "{stdout}"
    );
    assert!(
        stdout.ends_with("▁ OK  ▄ WARNING  █ CRITICAL/ERROR  ? UNKNOWN  · no run\n"),
        "{stdout}"
    );
    assert!(!stdout.contains('\x1b'));

    let out = posdiag(
        &d.endpoint(),
        &[
            "--lang",
            "zh-CN",
            "--color",
            "always",
            "availability",
            "T1",
            "--window",
            "14d",
        ],
    );
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with("T1，2023-10-31 22:13 至 2023-11-14 22:13（每个字符代表一天）"),
        "{stdout}"
    );
    assert!(
        stdout.contains("\x1b[31m█\x1b[0m"),
        "coloured blocks: {stdout}"
    );
    assert!(stdout.contains("未运行"), "{stdout}");

    let out = posdiag(&d.endpoint(), &["--json", "availability", "T1"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["checks"][0]["timeline"][1], "VERDICT_CRITICAL");
    assert_eq!(v["bucket"], "86400s");

    let out = posdiag(&d.endpoint(), &["availability", "T9"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(text(&out.stderr).contains("no terminal \"T9\""));
}
