//! End-to-end: the real `posdiagd` binary on a temporary unix socket, real
//! gRPC clients (posdiag's own, the standard health and reflection clients),
//! and simulated acquirer hosts on loopback.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::sync::Arc;

use pb::check_service_client::CheckServiceClient;
use pb::terminal_service_client::TerminalServiceClient;
use posdiag_proto::v1 as pb;
use posdiag_sim::host::{self, Answer, Fault, HostSimConfig, RunningHost, TlsMode};
use posdiag_sim::pki::Pki;
use posdiag_tests::{Daemon, run};
use tokio_stream::StreamExt;
use tonic::Code;

/// Simulated hosts: healthy (TLS), refusing, stalling, expired certificate.
struct Hosts {
    /// Holds the CA file the daemon's config points at.
    dir: tempfile::TempDir,
    pki: Arc<Pki>,
    healthy: RunningHost,
    refusing: RunningHost,
    stalled: RunningHost,
    expired: RunningHost,
}

async fn sim(fault: Fault, tls: TlsMode, pki: &Arc<Pki>) -> RunningHost {
    host::start(HostSimConfig {
        fault,
        tls,
        answer: Answer::Reply {
            expect_prefix: b"PING".to_vec(),
            reply: b"PONG\n".to_vec(),
        },
        pki: Some(pki.clone()),
        ..HostSimConfig::default()
    })
    .await
    .unwrap()
}

async fn hosts() -> Hosts {
    let pki = Arc::new(Pki::generate().unwrap());
    Hosts {
        dir: tempfile::tempdir().unwrap(),
        healthy: sim(Fault::Healthy, TlsMode::Valid, &pki).await,
        refusing: sim(Fault::Refusing, TlsMode::Plain, &pki).await,
        stalled: sim(Fault::Stall, TlsMode::Plain, &pki).await,
        expired: sim(Fault::Healthy, TlsMode::Expired, &pki).await,
        pki,
    }
}

/// A config with one terminal per simulated host; short deadlines so the
/// stalled host is judged quickly.
fn config(h: &Hosts, dir: &std::path::Path) -> String {
    std::fs::write(dir.join("ca.pem"), h.pki.ca_pem()).unwrap();
    let ca = dir.join("ca.pem");
    let host = |name: &str, port: u16, tls: bool| {
        let mut s = format!("[hosts.{name}]\naddress = \"127.0.0.1\"\nport = {port}\n");
        if tls {
            s.push_str(&format!(
                "[hosts.{name}.tls]\nserver_name = \"localhost\"\nca_file = \"{}\"\n",
                ca.display()
            ));
        }
        s.push_str(&format!(
            "[hosts.{name}.exchange]\nsend = \"PING\\n\"\nexpect = \"PONG\"\n"
        ));
        s
    };
    let mut c = String::from(
        "[defaults]\ncount = 3\ninterval_ms = 0\ntimeout_ms = 300\ncheck_interval_s = 0\n",
    );
    c += &host("healthy", h.healthy.addr().port(), true);
    c += &host("refusing", h.refusing.addr().port(), false);
    c += &host("stalled", h.stalled.addr().port(), false);
    c += &host("expired", h.expired.addr().port(), true);
    for (id, host) in [
        ("T1", "healthy"),
        ("T2", "refusing"),
        ("T3", "stalled"),
        ("T4", "expired"),
    ] {
        c += &format!("[[terminals]]\nid = \"{id}\"\nname = \"Lane {id}\"\nhosts = [\"{host}\"]\n");
    }
    c
}

async fn start() -> (Daemon, Hosts) {
    let h = hosts().await;
    let text = config(&h, h.dir.path());
    (Daemon::start(&text), h)
}

/// Drains a RunCheck/Probe stream: the findings, and the Completed event.
async fn drain(
    mut s: tonic::Streaming<pb::CheckEvent>,
) -> (Vec<pb::Finding>, Vec<String>, pb::Completed) {
    use pb::check_event::Event;
    let mut findings = Vec::new();
    let mut phases = Vec::new();
    let mut completed = None;
    while let Some(ev) = s.next().await {
        match ev.unwrap().event.unwrap() {
            Event::PhaseStarted(p) => phases.push(format!("start {}", p.phase)),
            Event::PhaseFinished(p) => {
                assert!(p.duration.is_some());
                phases.push(format!("end {}", p.phase));
            }
            Event::Finding(f) => findings.push(f),
            Event::Completed(c) => completed = Some(c),
        }
    }
    (
        findings,
        phases,
        completed.expect("the stream ends with Completed"),
    )
}

fn find<'a>(fs: &'a [pb::Finding], check: &str) -> &'a pb::Finding {
    fs.iter()
        .find(|f| f.check == check)
        .unwrap_or_else(|| panic!("no {check} finding in {fs:#?}"))
}

fn verdict(f: &pb::Finding) -> pb::Verdict {
    pb::Verdict::try_from(f.verdict).unwrap()
}

#[tokio::test]
async fn health_is_serving_and_reflection_lists_the_services() {
    let (daemon, _h) = start().await;
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&daemon.socket)
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o660, "the socket is for the service's group only");
    let channel = daemon.channel().await;

    let mut health = tonic_health::pb::health_client::HealthClient::new(channel.clone());
    for service in ["", "posdiag.v1.CheckService", "posdiag.v1.TerminalService"] {
        let r = health
            .check(tonic_health::pb::HealthCheckRequest {
                service: service.into(),
            })
            .await
            .unwrap();
        assert_eq!(
            r.into_inner().status(),
            tonic_health::pb::health_check_response::ServingStatus::Serving,
            "{service:?}"
        );
    }

    use tonic_reflection::pb::v1 as r1;
    let mut v1 = r1::server_reflection_client::ServerReflectionClient::new(channel.clone());
    let req = r1::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(r1::server_reflection_request::MessageRequest::ListServices(
            String::new(),
        )),
    };
    let mut stream = v1
        .server_reflection_info(tokio_stream::iter([req]))
        .await
        .unwrap()
        .into_inner();
    let resp = stream.next().await.unwrap().unwrap();
    let Some(r1::server_reflection_response::MessageResponse::ListServicesResponse(list)) =
        resp.message_response
    else {
        panic!("unexpected reflection answer {resp:?}")
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    for want in [
        "posdiag.v1.CheckService",
        "posdiag.v1.TerminalService",
        "grpc.health.v1.Health",
    ] {
        assert!(
            names.iter().any(|n| n == want),
            "{want} missing from {names:?}"
        );
    }

    use tonic_reflection::pb::v1alpha as ra;
    let mut alpha = ra::server_reflection_client::ServerReflectionClient::new(channel);
    let req = ra::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(
            ra::server_reflection_request::MessageRequest::FileContainingSymbol(
                "posdiag.v1.CheckService".into(),
            ),
        ),
    };
    let mut stream = alpha
        .server_reflection_info(tokio_stream::iter([req]))
        .await
        .unwrap()
        .into_inner();
    let resp = stream.next().await.unwrap().unwrap();
    assert!(
        matches!(resp.message_response, Some(ra::server_reflection_response::MessageResponse::FileDescriptorResponse(ref f)) if !f.file_descriptor_proto.is_empty()),
        "v1alpha reflection did not describe CheckService: {resp:?}"
    );
}

#[tokio::test]
async fn run_check_names_what_is_wrong_with_each_host() {
    let (daemon, _h) = start().await;
    let mut checks = CheckServiceClient::new(daemon.channel().await);
    let run_check = |id: &str| pb::RunCheckRequest {
        terminal_id: id.into(),
        checks: vec![],
        lang: String::new(),
    };

    let (fs, phases, done) = drain(
        checks
            .run_check(run_check("T1"))
            .await
            .unwrap()
            .into_inner(),
    )
    .await;
    assert_eq!(done.overall(), pb::Verdict::Ok, "{fs:#?}");
    assert_eq!(
        phases,
        [
            "start host.tcp",
            "end host.tcp",
            "start host.tls",
            "end host.tls",
            "start host.exchange",
            "end host.exchange"
        ]
    );
    assert_eq!(
        find(&fs, "host.tls")
            .evidence
            .iter()
            .find(|e| e.name == "tls_version")
            .map(|e| e.value.clone()),
        Some(Some(pb::evidence::Value::Text("TLS 1.3".into())))
    );

    let (fs, _, done) = drain(
        checks
            .run_check(run_check("T2"))
            .await
            .unwrap()
            .into_inner(),
    )
    .await;
    assert_eq!(done.overall(), pb::Verdict::Critical);
    let tcp = find(&fs, "host.tcp");
    assert_eq!(
        (verdict(tcp), tcp.reason.as_str()),
        (pb::Verdict::Critical, "tcp.refused")
    );
    assert!(!tcp.remedies.is_empty());

    let (fs, _, _) = drain(
        checks
            .run_check(run_check("T3"))
            .await
            .unwrap()
            .into_inner(),
    )
    .await;
    let ex = find(&fs, "host.exchange");
    assert_eq!(
        (verdict(ex), ex.reason.as_str()),
        (pb::Verdict::Critical, "exchange.timeout")
    );
    assert_eq!(
        verdict(find(&fs, "host.tcp")),
        pb::Verdict::Ok,
        "the stalled host accepts connections"
    );

    let (fs, _, _) = drain(
        checks
            .run_check(run_check("T4"))
            .await
            .unwrap()
            .into_inner(),
    )
    .await;
    let tls = find(&fs, "host.tls");
    assert_eq!(
        (verdict(tls), tls.reason.as_str()),
        (pb::Verdict::Critical, "tls.cert_expired")
    );
    assert!(tls.summary.contains("expired"), "{}", tls.summary);

    // History keeps what the runs found, newest first.
    let hist = checks
        .get_history(pb::GetHistoryRequest {
            terminal_id: "T2".into(),
            limit: 0,
            check: "host.tcp".into(),
            lang: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(hist.findings.len(), 1);
    assert_eq!(hist.findings[0].reason, "tcp.refused");

    // The terminal's status reflects its latest findings.
    let mut terminals = TerminalServiceClient::new(daemon.channel().await);
    let t = terminals
        .get_terminal(pb::GetTerminalRequest {
            id: "T4".into(),
            lang: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(t.status(), pb::Verdict::Critical);
    assert!(t.last_checked.is_some());
}

#[tokio::test]
async fn summaries_and_remedies_come_in_simplified_chinese() {
    let (daemon, _h) = start().await;
    let mut checks = CheckServiceClient::new(daemon.channel().await);
    let req = pb::RunCheckRequest {
        terminal_id: "T2".into(),
        checks: vec!["host.tcp".into()],
        lang: "zh-CN".into(),
    };
    let (fs, _, _) = drain(checks.run_check(req).await.unwrap().into_inner()).await;
    let tcp = find(&fs, "host.tcp");
    assert!(
        tcp.summary.contains("次连接尝试全部失败"),
        "{}",
        tcp.summary
    );
    assert!(
        tcp.remedies.iter().all(|r| r
            .text
            .chars()
            .any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))),
        "{:?}",
        tcp.remedies
    );
}

#[tokio::test]
async fn probe_checks_hosts_that_are_not_configured() {
    let (daemon, h) = start().await;
    let mut checks = CheckServiceClient::new(daemon.channel().await);
    let probe = |addr: std::net::SocketAddr, tls: bool| pb::ProbeRequest {
        target: addr.to_string(),
        tls,
        server_name: if tls {
            "localhost".into()
        } else {
            String::new()
        },
        count: 2,
        timeout_ms: 300,
        send: b"PING\n".to_vec(),
        expect: b"PONG".to_vec(),
        ..Default::default()
    };
    let (fs, _, done) = drain(
        checks
            .probe(probe(h.refusing.addr(), false))
            .await
            .unwrap()
            .into_inner(),
    )
    .await;
    assert_eq!(
        (done.overall(), find(&fs, "host.tcp").reason.as_str()),
        (pb::Verdict::Critical, "tcp.refused")
    );

    let (fs, _, _) = drain(
        checks
            .probe(probe(h.stalled.addr(), false))
            .await
            .unwrap()
            .into_inner(),
    )
    .await;
    assert_eq!(find(&fs, "host.exchange").reason, "exchange.timeout");

    // A host that accepts TCP but never completes the handshake: a TLS timeout.
    let (fs, _, _) = drain(
        checks
            .probe(probe(h.stalled.addr(), true))
            .await
            .unwrap()
            .into_inner(),
    )
    .await;
    assert_eq!(find(&fs, "host.tls").reason, "tls.timeout");

    // Probes trust the built-in public roots only, so the simulator's own CA
    // is untrusted: a probe says so rather than failing quietly.
    let (fs, _, _) = drain(
        checks
            .probe(probe(h.expired.addr(), true))
            .await
            .unwrap()
            .into_inner(),
    )
    .await;
    let tls = find(&fs, "host.tls");
    assert_eq!(verdict(tls), pb::Verdict::Critical);
    assert!(
        ["tls.cert_expired", "tls.untrusted"].contains(&tls.reason.as_str()),
        "{}",
        tls.reason
    );

    let (fs, _, done) = drain(
        checks
            .probe(pb::ProbeRequest {
                tls: false,
                server_name: String::new(),
                ..probe(h.healthy.addr(), false)
            })
            .await
            .unwrap()
            .into_inner(),
    )
    .await;
    assert_eq!(verdict(find(&fs, "host.tcp")), pb::Verdict::Ok);
    assert!(fs.iter().all(|f| f.terminal_id.is_empty()));
    let _ = done;
}

#[tokio::test]
async fn bad_requests_get_not_found_and_invalid_argument() {
    let (daemon, _h) = start().await;
    let channel = daemon.channel().await;
    let mut checks = CheckServiceClient::new(channel.clone());
    let mut terminals = TerminalServiceClient::new(channel);

    let err = checks
        .run_check(pb::RunCheckRequest {
            terminal_id: "T9".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    assert_eq!(
        err.message(),
        "unknown terminal \"T9\"; configured terminals: T1, T2, T3, T4"
    );

    let err = checks
        .run_check(pb::RunCheckRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(
        err.message().starts_with("terminal_id"),
        "{}",
        err.message()
    );

    let err = terminals
        .get_terminal(pb::GetTerminalRequest::default())
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), err.message()),
        (Code::InvalidArgument, "id: is required")
    );

    let err = checks
        .run_check(pb::RunCheckRequest {
            terminal_id: "T1".into(),
            checks: vec!["host.ping".into()],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);

    let err = checks
        .probe(pb::ProbeRequest {
            target: "no-port".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().starts_with("target:"), "{}", err.message());
}

#[tokio::test]
async fn watch_sends_a_snapshot_then_status_changes() {
    let (daemon, _h) = start().await;
    let channel = daemon.channel().await;
    let mut terminals = TerminalServiceClient::new(channel.clone());
    let mut watch = terminals
        .watch_terminals(pb::WatchTerminalsRequest {
            ids: vec!["T2".into()],
            lang: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let first = watch.next().await.unwrap().unwrap();
    assert_eq!(first.kind(), pb::terminal_event::Kind::Snapshot);
    assert_eq!(
        first.terminal.as_ref().unwrap().status(),
        pb::Verdict::Unspecified
    );

    let mut checks = CheckServiceClient::new(channel);
    let run = checks
        .run_check(pb::RunCheckRequest {
            terminal_id: "T2".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    drain(run).await;
    let change = watch.next().await.unwrap().unwrap();
    assert_eq!(change.kind(), pb::terminal_event::Kind::Changed);
    assert_eq!(change.terminal.unwrap().status(), pb::Verdict::Critical);
}

#[tokio::test]
async fn sigterm_stops_the_daemon_cleanly_and_removes_the_socket() {
    let (mut daemon, _h) = start().await;
    let status = daemon.terminate();
    assert!(status.success(), "{status:?}");
    assert!(!daemon.socket.exists());
}

#[test]
fn a_malformed_config_exits_64_naming_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, "[hosts.acq]\naddress = \"10.0.0.1\"\nport = 70000\n").unwrap();
    for flag in ["--config", "--check-config"] {
        let out = run("posdiagd", &[flag, path.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(64), "{flag}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&format!("{}:3:8: hosts.acq.port:", path.display())),
            "{flag}: {err}"
        );
    }
}

#[test]
fn the_example_config_checks_clean() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/posdiagd.toml");
    let out = run("posdiagd", &["--check-config", example]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("valid (2 terminals"));
}

#[test]
fn a_public_tcp_listener_is_refused_before_anything_is_bound() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ok.toml");
    std::fs::write(&path, "").unwrap();
    let out = run(
        "posdiagd",
        &[
            "--config",
            path.to_str().unwrap(),
            "--listen",
            "tcp:0.0.0.0:0",
        ],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a loopback address"));
}

#[test]
fn the_cli_demo_runs_and_exits_zero() {
    let out = run("posdiag", &["demo"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for reason in [
        "tcp.refused",
        "exchange.timeout",
        "tls.cert_expired",
        "exchange.loss",
        // The ZVT terminal on a noisy serial line.
        "link.crc_errors",
        // The store, each situation diagnosed by the doctor: a dead card
        // reader, the bank's end-of-day window, an unreadable stripe (the
        // terminal is fine: the code's own causes remain), and a phone number
        // typed as a customer ID.
        "(reader.defective)",
        "(echo.cutover)",
        "(zvt-result:64)",
        "id.validate 13812345678 (length)",
    ] {
        assert!(
            stdout.contains(reason),
            "demo output lacks {reason}:\n{stdout}"
        );
    }
}

#[tokio::test]
async fn dns_failures_are_named() {
    use posdiag_sim::dns::{self, DnsAnswer, DnsSimConfig};
    let up = sim(
        Fault::Healthy,
        TlsMode::Plain,
        &Arc::new(Pki::generate().unwrap()),
    )
    .await;
    let server = dns::start(DnsSimConfig {
        records: vec![
            (
                "acq.test".into(),
                DnsAnswer::A(vec![std::net::Ipv4Addr::LOCALHOST]),
            ),
            ("broken.test".into(), DnsAnswer::ServFail),
            ("silent.test".into(), DnsAnswer::Stall),
            ("nodata.test".into(), DnsAnswer::NoData),
        ],
        ..DnsSimConfig::default()
    })
    .await
    .unwrap();
    let mut config = format!(
        "[dns]\nservers = [\"{}\"]\ntimeout_ms = 500\n[defaults]\ncount = 1\ncheck_interval_s = 0\n",
        server.addr()
    );
    let names = [
        ("T1", "acq.test"),
        ("T2", "gone.test"),
        ("T3", "broken.test"),
        ("T4", "silent.test"),
        ("T5", "nodata.test"),
    ];
    for (id, name) in names {
        config += &format!(
            "[hosts.{id}-host]\naddress = \"{name}\"\nport = {}\n",
            up.addr().port()
        );
        config += &format!("[[terminals]]\nid = \"{id}\"\nhosts = [\"{id}-host\"]\n");
    }
    let daemon = Daemon::start(&config);
    let mut checks = CheckServiceClient::new(daemon.channel().await);
    let mut got = Vec::new();
    for (id, _) in names {
        let req = pb::RunCheckRequest {
            terminal_id: id.into(),
            checks: vec!["host.tcp".into()],
            lang: String::new(),
        };
        let (fs, _, _) = drain(checks.run_check(req).await.unwrap().into_inner()).await;
        let dns = find(&fs, "host.dns");
        got.push((id, dns.reason.clone()));
    }
    assert_eq!(
        got,
        [
            ("T1", "ok"),
            ("T2", "dns.nxdomain"),
            ("T3", "dns.servfail"),
            ("T4", "dns.timeout"),
            ("T5", "dns.no_data")
        ]
        .map(|(i, r)| (i, r.to_owned()))
    );
}

#[tokio::test]
async fn a_certificate_for_another_name_is_a_hostname_mismatch() {
    let pki = Arc::new(Pki::generate().unwrap());
    let wrong = sim(Fault::Healthy, TlsMode::WrongHost, &pki).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ca.pem"), pki.ca_pem()).unwrap();
    let config = format!(
        "[defaults]\ncount = 1\ncheck_interval_s = 0\n[hosts.acq]\naddress = \"127.0.0.1\"\nport = {}\n[hosts.acq.tls]\nserver_name = \"localhost\"\nca_file = \"{}\"\n[[terminals]]\nid = \"T1\"\nhosts = [\"acq\"]\n",
        wrong.addr().port(),
        dir.path().join("ca.pem").display()
    );
    let daemon = Daemon::start(&config);
    let mut checks = CheckServiceClient::new(daemon.channel().await);
    let (fs, _, _) = drain(
        checks
            .run_check(pb::RunCheckRequest {
                terminal_id: "T1".into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner(),
    )
    .await;
    let tls = find(&fs, "host.tls");
    assert_eq!(
        (verdict(tls), tls.reason.as_str()),
        (pb::Verdict::Critical, "tls.hostname_mismatch")
    );
}

#[tokio::test]
async fn scheduled_checks_run_without_being_asked() {
    let h = hosts().await;
    let config = format!(
        "[defaults]\ncount = 1\ncheck_interval_s = 1\n[hosts.down]\naddress = \"127.0.0.1\"\nport = {}\n[[terminals]]\nid = \"T1\"\nhosts = [\"down\"]\n",
        h.refusing.addr().port()
    );
    let daemon = Daemon::start(&config);
    let channel = daemon.channel().await;
    let mut terminals = TerminalServiceClient::new(channel.clone());
    let mut watch = terminals
        .watch_terminals(pb::WatchTerminalsRequest::default())
        .await
        .unwrap()
        .into_inner();
    // Either the first scheduled run already finished (snapshot shows it)
    // or a CHANGED event brings it.
    let mut status = pb::Verdict::Unspecified;
    while status == pb::Verdict::Unspecified {
        let ev = watch.next().await.unwrap().unwrap();
        status = ev.terminal.unwrap().status();
    }
    assert_eq!(status, pb::Verdict::Critical);
    let hist = CheckServiceClient::new(channel)
        .get_history(pb::GetHistoryRequest {
            terminal_id: "T1".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(hist.findings.iter().any(|f| f.reason == "tcp.refused"));
}

#[tokio::test]
async fn sigterm_cancels_a_running_check_and_the_client_is_told() {
    let h = hosts().await;
    let config = format!(
        "[defaults]\ncount = 1\ntimeout_ms = 60000\ncheck_interval_s = 0\n[hosts.stalled]\naddress = \"127.0.0.1\"\nport = {}\n[hosts.stalled.exchange]\nsend = \"PING\"\nexpect = \"PONG\"\n[[terminals]]\nid = \"T1\"\nhosts = [\"stalled\"]\n",
        h.stalled.addr().port()
    );
    let mut daemon = Daemon::start(&config);
    let mut checks = CheckServiceClient::new(daemon.channel().await);
    let mut stream = checks
        .run_check(pb::RunCheckRequest {
            terminal_id: "T1".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    // Wait until the exchange (which would stall for 60 s) has begun.
    loop {
        let ev = stream.next().await.unwrap().unwrap().event.unwrap();
        if matches!(&ev, pb::check_event::Event::PhaseStarted(p) if p.phase == "host.exchange") {
            break;
        }
    }
    let pid_status = std::thread::spawn(move || daemon.terminate());
    let (findings, _, done) = drain(stream).await;
    let last = findings.last().unwrap();
    assert_eq!(
        (verdict(last), last.reason.as_str()),
        (pb::Verdict::Unknown, "check.cancelled")
    );
    // host.tcp (before the exchange began) and the cancellation; no DNS for an IP literal.
    assert_eq!(done.findings, 2);
    assert!(pid_status.join().unwrap().success());
}

#[tokio::test]
async fn statuses_speak_the_callers_language_from_the_lang_field_or_the_header() {
    let (daemon, _h) = start().await;
    let channel = daemon.channel().await;
    let mut checks = CheckServiceClient::new(channel.clone());
    let mut terminals = TerminalServiceClient::new(channel);
    fn zh_header<T>(message: T) -> tonic::Request<T> {
        let mut req = tonic::Request::new(message);
        req.metadata_mut()
            .insert("posdiag-lang", "zh-CN".parse().unwrap());
        req
    }
    let unknown = |lang: &str| pb::RunCheckRequest {
        terminal_id: "T9".into(),
        lang: lang.into(),
        ..Default::default()
    };
    let bad_target = |lang: &str| pb::ProbeRequest {
        target: "no-port".into(),
        lang: lang.into(),
        ..Default::default()
    };
    let not_found_en = "unknown terminal \"T9\"; configured terminals: T1, T2, T3, T4";
    let not_found_zh = "未知终端 \"T9\"；已配置的终端：T1, T2, T3, T4";
    let target_en = "target: \"no-port\" has no port; expected HOST:PORT";
    let target_zh = "target：\"no-port\" 没有端口；应为 HOST:PORT";

    // Neither: English.
    let err = checks.run_check(unknown("")).await.unwrap_err();
    assert_eq!((err.code(), err.message()), (Code::NotFound, not_found_en));
    let err = checks.probe(bad_target("")).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().starts_with(target_en), "{}", err.message());

    // The request's lang field.
    let err = checks.run_check(unknown("zh-CN")).await.unwrap_err();
    assert_eq!((err.code(), err.message()), (Code::NotFound, not_found_zh));
    let err = checks.probe(bad_target("zh-CN")).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().starts_with(target_zh), "{}", err.message());

    // The posdiag-lang header.
    let err = checks.run_check(zh_header(unknown(""))).await.unwrap_err();
    assert_eq!((err.code(), err.message()), (Code::NotFound, not_found_zh));
    let err = checks.probe(zh_header(bad_target(""))).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().starts_with(target_zh), "{}", err.message());
    let err = terminals
        .get_terminal(zh_header(pb::GetTerminalRequest::default()))
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), err.message()),
        (Code::InvalidArgument, "id：必填")
    );

    // The field wins over the header.
    let err = checks
        .run_check(zh_header(unknown("en")))
        .await
        .unwrap_err();
    assert_eq!((err.code(), err.message()), (Code::NotFound, not_found_en));
}
