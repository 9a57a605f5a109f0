//! Tests of the host checks: verdict thresholds as pure functions, and whole
//! runs against listeners on loopback.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;
use crate::model::{ExchangeSpec, ProbeSpec};

fn ms_list(v: &[u64]) -> Vec<Duration> {
    v.iter().map(|&m| Duration::from_millis(m)).collect()
}

fn addr() -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, 5000))
}

fn judge(attempts: u32, rtts: &[u64], fail: Option<Reason>) -> Draft {
    let s = Series {
        attempts,
        failures: attempts - rtts.len() as u32,
        rtts: ms_list(rtts),
    };
    let mut f = Failures::default();
    for _ in 0..s.failures {
        f.add(
            fail.unwrap_or(Reason::TcpTimeout),
            "no connection within 3000 ms".into(),
        );
    }
    judge_series("acq", addr(), &s, &f, &Thresholds::default(), Kind::Tcp)
}

#[test]
fn verdicts_follow_the_thresholds() {
    // Default thresholds: loss 1% warning / 50% critical, p95 500/2000 ms, jitter 200 ms.
    let cases: &[(u32, &[u64], Verdict, Reason)] = &[
        (5, &[10, 12, 11, 10, 13], Verdict::Ok, Reason::Ok),
        (5, &[10, 12, 11, 10], Verdict::Warning, Reason::TcpLoss),
        (4, &[10, 12], Verdict::Critical, Reason::TcpLoss),
        (
            5,
            &[10, 12, 11, 10, 600],
            Verdict::Warning,
            Reason::TcpLatency,
        ),
        (
            5,
            &[2500, 2400, 2600, 2500, 2450],
            Verdict::Critical,
            Reason::TcpLatency,
        ),
        (
            5,
            &[10, 300, 10, 300, 10],
            Verdict::Warning,
            Reason::TcpJitter,
        ),
        (5, &[], Verdict::Critical, Reason::TcpTimeout),
    ];
    for (attempts, rtts, verdict, reason) in cases {
        let d = judge(*attempts, rtts, None);
        assert_eq!(
            (d.verdict, d.reason),
            (*verdict, *reason),
            "{rtts:?} of {attempts}: {}",
            d.summary.en
        );
    }
}

#[test]
fn a_lossy_series_says_how_many_failed_and_why_in_both_languages() {
    let d = judge(5, &[10, 12, 11, 10], Some(Reason::TcpReset));
    assert_eq!(
        d.summary.en,
        "acq: 1 of 5 connection attempts failed (20% loss; mostly: the host reset the connection) — the connection is unstable"
    );
    assert_eq!(
        d.summary.zh,
        "acq：5 次连接尝试中 1 次失败（失败率 20%；主要原因：主机重置了连接）——连接不稳定"
    );
    let loss = d.evidence.iter().find(|e| e.name == "loss_ratio").unwrap();
    assert_eq!(loss.value, posdiag_core::EvidenceValue::Number(0.2));
}

#[test]
fn all_failed_names_the_commonest_failure() {
    let s = Series {
        attempts: 3,
        failures: 3,
        rtts: vec![],
    };
    let mut f = Failures::default();
    f.add(Reason::TcpTimeout, "timeout".into());
    f.add(Reason::TcpRefused, "refused a".into());
    f.add(Reason::TcpRefused, "refused b".into());
    let d = judge_series("acq", addr(), &s, &f, &Thresholds::default(), Kind::Tcp);
    assert_eq!(d.reason, Reason::TcpRefused);
    assert!(
        d.summary.en.contains("all 3 connection attempts failed"),
        "{}",
        d.summary.en
    );
}

fn tls_report(days: i64, problem: Option<Reason>) -> tls::TlsReport {
    let now = SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    tls::TlsReport {
        handshake: Duration::from_millis(4),
        version: "TLS 1.3".into(),
        cipher: "TLS13_AES_128_GCM_SHA256".into(),
        cert_problem: problem.map(|r| (r, "invalid peer certificate".into())),
        cert: Some(tls::CertInfo {
            subject: "CN=localhost".into(),
            issuer: "CN=ca".into(),
            not_after_unix: now + days * 86_400 + 3600,
        }),
    }
}

#[test]
fn certificate_verdicts_follow_expiry_and_validity() {
    let t = Thresholds::default();
    assert_eq!(
        judge_tls("acq", &tls_report(200, None), &t).verdict,
        Verdict::Ok
    );
    let soon = judge_tls("acq", &tls_report(10, None), &t);
    assert_eq!(
        (soon.verdict, soon.reason),
        (Verdict::Warning, Reason::TlsCertExpiring)
    );
    assert_eq!(
        soon.summary.en,
        "acq: the certificate expires in 10 days (warning below 30 days)"
    );
    let expired = judge_tls("acq", &tls_report(-12, Some(Reason::TlsCertExpired)), &t);
    assert_eq!(
        (expired.verdict, expired.reason),
        (Verdict::Critical, Reason::TlsCertExpired)
    );
    assert!(
        expired.summary.en.contains("expired 12 days ago"),
        "{}",
        expired.summary.en
    );
}

fn host(port: u16, exchange: Option<ExchangeSpec>, timeout_ms: u64) -> HostSpec {
    HostSpec {
        name: "acq".into(),
        host: "127.0.0.1".into(),
        port,
        tls: None,
        exchange,
        echo: None,
        probe: ProbeSpec {
            count: 3,
            interval: Duration::ZERO,
            timeout: Duration::from_millis(timeout_ms),
        },
        thresholds: Thresholds::default(),
    }
}

async fn run_host(h: &HostSpec) -> (Vec<Finding>, Vec<Progress>) {
    let (tx, mut rx) = mpsc::channel(256);
    let cancel = CancellationToken::new();
    let dns = DnsSpec::default();
    let run = HostRun {
        host: h,
        dns: &dns,
        terminal: None,
        checks: CheckSet::all(),
        cancel: &cancel,
        progress: &tx,
    };
    let findings = super::run(&run).await;
    drop(tx);
    let mut events = Vec::new();
    while let Some(e) = rx.recv().await {
        events.push(e);
    }
    (findings, events)
}

fn verdicts(findings: &[Finding]) -> Vec<(&str, Verdict, Reason)> {
    findings
        .iter()
        .map(|f| (f.check.as_str(), f.verdict, f.reason))
        .collect()
}

#[tokio::test]
async fn a_closed_port_is_refused_and_later_steps_are_skipped() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let (findings, events) = run_host(&host(
        port,
        Some(ExchangeSpec {
            send: b"PING".to_vec(),
            expect: b"PONG".to_vec(),
        }),
        2000,
    ))
    .await;
    assert_eq!(
        verdicts(&findings),
        [
            ("host.tcp", Verdict::Critical, Reason::TcpRefused),
            ("host.exchange", Verdict::Unknown, Reason::CheckSkipped)
        ]
    );
    assert!(
        findings[0]
            .remedies
            .iter()
            .any(|r| r.actor == posdiag_core::Actor::Acquirer)
    );
    let phases: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            Progress::PhaseStarted { phase, .. } => Some(format!("start {phase}")),
            Progress::PhaseFinished { phase, .. } => Some(format!("end {phase}")),
            _ => None,
        })
        .collect();
    assert_eq!(
        phases,
        ["start host.tcp", "end host.tcp", "end host.exchange"]
    );
}

async fn serve(behaviour: &'static str) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = l.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut buf = [0u8; 64];
                match behaviour {
                    "pong" => {
                        if let Ok(1..) = s.read(&mut buf).await {
                            let _ = s.write_all(b"PONG\n").await;
                        }
                    }
                    "garbage" => {
                        let _ = s.read(&mut buf).await;
                        let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\n").await;
                    }
                    _ => {
                        // Stall: hold the connection without a word.
                        let _ = s.read(&mut buf).await;
                        std::future::pending::<()>().await;
                    }
                }
            });
        }
    });
    port
}

#[tokio::test]
async fn a_healthy_host_passes_every_step() {
    let port = serve("pong").await;
    let (findings, events) = run_host(&host(
        port,
        Some(ExchangeSpec {
            send: b"PING\n".to_vec(),
            expect: b"PONG".to_vec(),
        }),
        2000,
    ))
    .await;
    assert_eq!(
        verdicts(&findings),
        [
            ("host.tcp", Verdict::Ok, Reason::Ok),
            ("host.exchange", Verdict::Ok, Reason::Ok)
        ]
    );
    assert!(findings[1].evidence("rtt_p95").is_some());
    assert!(findings.iter().all(|f| f.remedies.is_empty()));
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(e, Progress::Finding(_)))
            .count(),
        2
    );
}

#[tokio::test]
async fn a_host_that_accepts_then_stalls_times_out_within_the_deadline() {
    let port = serve("stall").await;
    let (findings, _) = run_host(&host(
        port,
        Some(ExchangeSpec {
            send: b"PING\n".to_vec(),
            expect: b"PONG".to_vec(),
        }),
        200,
    ))
    .await;
    assert_eq!(
        verdicts(&findings),
        [
            ("host.tcp", Verdict::Ok, Reason::Ok),
            ("host.exchange", Verdict::Critical, Reason::ExchangeTimeout)
        ]
    );
    assert!(
        findings[1].summary.en.contains("did not answer in time"),
        "{}",
        findings[1].summary.en
    );
}

#[tokio::test]
async fn another_service_on_the_port_is_a_mismatch() {
    let port = serve("garbage").await;
    let (findings, _) = run_host(&host(
        port,
        Some(ExchangeSpec {
            send: b"PING\n".to_vec(),
            expect: b"PONG".to_vec(),
        }),
        2000,
    ))
    .await;
    assert_eq!(findings[1].reason, Reason::ExchangeMismatch);
    assert_eq!(
        findings[1].evidence("error"),
        Some(&posdiag_core::EvidenceValue::Text(
            r#"expected "PONG" but got "HTTP/1.1 400 Bad Request\r\n""#.into()
        ))
    );
}

#[tokio::test]
async fn cancelling_stops_a_stalled_run_and_says_so() {
    let port = serve("stall").await;
    let h = host(
        port,
        Some(ExchangeSpec {
            send: b"PING\n".to_vec(),
            expect: b"PONG".to_vec(),
        }),
        60_000,
    );
    let (tx, _rx) = mpsc::channel(256);
    let cancel = CancellationToken::new();
    let dns = DnsSpec::default();
    let run = HostRun {
        host: &h,
        dns: &dns,
        terminal: None,
        checks: CheckSet::all(),
        cancel: &cancel,
        progress: &tx,
    };
    let canceller = cancel.clone();
    // Cancel as soon as the exchange phase has begun (the TCP phase finished).
    let mut progress_rx = _rx;
    let watcher = tokio::spawn(async move {
        while let Some(p) = progress_rx.recv().await {
            if matches!(&p, Progress::PhaseStarted { phase, .. } if phase == "host.exchange") {
                canceller.cancel();
            }
        }
    });
    let findings = super::run(&run).await;
    drop(tx);
    watcher.await.unwrap();
    let last = findings.last().unwrap();
    assert_eq!(
        (last.verdict, last.reason),
        (Verdict::Unknown, Reason::CheckCancelled)
    );
}
