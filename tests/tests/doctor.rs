//! End-to-end: `CheckService.RunDoctor` and `posdiag doctor` through the real
//! daemon against simulators — the failing layer ranked first with its
//! remedies, what an earlier failure makes moot skipped, a symptom code
//! explained in the terminal's dialect with only the relevant checks run,
//! and an "unsupported customer ID" that is a phone number.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use pb::check_service_client::CheckServiceClient;
use posdiag_proto::v1 as pb;
use posdiag_sim::host::{self, Fault, HostSimConfig};
use posdiag_sim::zvt::{self, ZvtSimConfig};
use posdiag_tests::Daemon;

async fn doctor(
    daemon: &Daemon,
    terminal: &str,
    symptom: &str,
    id: &str,
) -> (
    Option<pb::SymptomExplained>,
    Vec<pb::Finding>,
    pb::Diagnosis,
) {
    let mut client = CheckServiceClient::new(daemon.channel().await);
    let stream = client
        .run_doctor(pb::RunDoctorRequest {
            terminal_id: terminal.into(),
            symptom: symptom.into(),
            id_value: id.into(),
            lang: String::new(),
            emv: None,
        })
        .await
        .unwrap()
        .into_inner();
    let run = posdiag_tests::read_doctor(stream).await;
    (run.symptom, run.findings, run.diagnosis)
}

#[tokio::test]
async fn the_doctor_ranks_the_failing_layer_first_and_explains_a_symptom() {
    let zvt_sim = zvt::start(ZvtSimConfig::default()).unwrap();
    let term = zvt_sim.local_addr().unwrap();
    let down = host::start(HostSimConfig {
        fault: Fault::Refusing,
        ..HostSimConfig::default()
    })
    .await
    .unwrap();
    let daemon = Daemon::start(&format!(
        "[defaults]\ncheck_interval_s = 0\ncount = 2\ninterval_ms = 0\n\
         [hosts.acq]\naddress = \"127.0.0.1\"\nport = {}\n\
         [rules.customer]\nmin_length = 12\nmax_length = 12\ncharset = \"digits\"\n\
         [[terminals]]\nid = \"T1\"\nlink = \"tcp:{term}\"\nhosts = [\"acq\"]\nid_rules = \"customer\"\ndialect = \"iso8583-1987\"\n\
         [[terminals]]\nid = \"T2\"\nlink = \"tcp:127.0.0.1:1\"\nhosts = [\"acq\"]\n",
        down.addr().port()
    ));

    // T1: the terminal answers, the acquirer host refuses: that is the cause.
    let (_, findings, d) = doctor(&daemon, "T1", "", "").await;
    assert!(
        findings
            .iter()
            .any(|f| f.check == "terminal.link" && f.verdict() == pb::Verdict::Ok),
        "{findings:#?}"
    );
    let first = &d.causes[0];
    assert_eq!(
        (first.rank, first.reason.as_str()),
        (1, "tcp.refused"),
        "{d:#?}"
    );
    assert!(!first.remedies.is_empty());
    assert!(d.summary.starts_with("most likely cause"), "{}", d.summary);
    assert!(
        d.ruled_out.iter().any(|r| r.starts_with("terminal.link")),
        "{d:#?}"
    );

    // T2: the terminal link itself is down; it ranks first.
    let (_, _, d) = doctor(&daemon, "T2", "", "").await;
    assert_eq!(d.causes[0].reason, "tcp.refused");
    assert_eq!(d.causes[0].check, "terminal.link", "{d:#?}");

    // A symptom: 91 in the terminal's dialect (ISO 8583:1987), then the
    // network checks only; the refused host explains it.
    let (symptom, findings, d) = doctor(&daemon, "T1", "91", "").await;
    let s = symptom.unwrap();
    assert_eq!(s.interpretations[0].scheme, "iso8583-1987", "{s:#?}");
    assert!(s.checks.contains(&"host.tcp".to_owned()), "{s:#?}");
    assert!(findings.iter().all(|f| !f.check.starts_with("reader")));
    assert_eq!(d.causes[0].reason, "tcp.refused", "{d:#?}");

    // "Unsupported customer ID": a phone number typed instead of the 12-digit ID.
    let (symptom, _, d) = doctor(&daemon, "T1", "unsupported-id", "13812345678").await;
    let id = symptom.unwrap().id.unwrap();
    assert!(!id.valid, "{id:#?}");
    assert!(id.looks_like.iter().any(|c| c.kind == "phone"), "{id:#?}");
    assert_eq!(d.causes[0].check, "id.validate", "{d:#?}");

    // The CLI: the same diagnosis, exit code 2 (CRITICAL), in Chinese too.
    let endpoint = format!("unix:{}", daemon.socket.display());
    let out = posdiag_tests::run(
        "posdiag",
        &["--endpoint", &endpoint, "--lang", "zh-CN", "doctor", "T1"],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        text.contains("诊断") && text.contains("最可能的原因"),
        "{text}"
    );
}
