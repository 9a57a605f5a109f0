//! End-to-end: symptoms in people's own words through the real daemon —
//! `SymptomService.MatchSymptom` (a terminal's dialect first, bad requests
//! refused), the doctor taking free text (only the matched symptom's checks
//! run, advice-only questions run none and name who to contact, text that
//! fits nothing gets the full check-up, said so), and `posdiag symptom`,
//! whose `--local` answer is the daemon's.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use pb::check_service_client::CheckServiceClient;
use pb::symptom_service_client::SymptomServiceClient;
use posdiag_proto::v1 as pb;
use posdiag_sim::host::{self, Fault, HostSimConfig};
use posdiag_sim::zvt::{self, ZvtSimConfig};
use posdiag_tests::{Daemon, bin};

async fn doctor(
    daemon: &Daemon,
    symptom: &str,
    lang: &str,
) -> (pb::SymptomExplained, Vec<pb::Finding>, pb::Diagnosis) {
    let mut client = CheckServiceClient::new(daemon.channel().await);
    let stream = client
        .run_doctor(pb::RunDoctorRequest {
            terminal_id: "T1".into(),
            symptom: symptom.into(),
            id_value: String::new(),
            lang: lang.into(),
            emv: None,
        })
        .await
        .unwrap()
        .into_inner();
    let run = posdiag_tests::read_doctor(stream).await;
    (
        run.symptom.expect("free text is explained first"),
        run.findings,
        run.diagnosis,
    )
}

#[tokio::test]
async fn free_text_through_match_symptom_and_the_doctor() {
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
         [[terminals]]\nid = \"T1\"\nlink = \"tcp:{term}\"\nhosts = [\"acq\"]\ndialect = \"zvt-result\"\n",
        down.addr().port()
    ));

    // MatchSymptom: ranked, with checks; a code in the terminal's dialect.
    let mut symptoms = SymptomServiceClient::new(daemon.channel().await);
    let ask = |text: &str, terminal: &str, lang: &str| pb::MatchSymptomRequest {
        text: text.into(),
        terminal_id: terminal.into(),
        lang: lang.into(),
    };
    let r = symptoms
        .match_symptom(ask("ＰＯＳ机收不了款", "", "zh-CN"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.matches[0].symptom, "payments-failing", "{r:#?}");
    assert!(r.matches[0].title.contains("收不了款"), "{r:#?}");
    assert!(r.matches[0].checks.contains(&"host.tcp".to_owned()));
    let plain = symptoms
        .match_symptom(ask("显示代码103", "", "en"))
        .await
        .unwrap()
        .into_inner();
    let dialect = symptoms
        .match_symptom(ask("显示代码103", "T1", "en"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(plain.matches[0].symptom, "code:103");
    assert_eq!(dialect.matches[0].symptom, "code:103");
    assert_ne!(
        plain.matches[0].title, dialect.matches[0].title,
        "T1 speaks ZVT: 103 is read there first"
    );
    let none = symptoms
        .match_symptom(ask("今天天气不错", "", "en"))
        .await
        .unwrap()
        .into_inner();
    assert!(none.matches.is_empty());
    assert!(none.note.contains("full check-up"), "{}", none.note);
    for (req, field) in [
        (ask("  ", "", ""), "text"),
        (ask(&"慢".repeat(2000), "", ""), "text"),
        (ask("收不了款", "T9", ""), "terminal_id"),
        (ask("收不了款", "", "fr"), "lang"),
    ] {
        let err = symptoms.match_symptom(req).await.unwrap_err();
        assert_eq!(err.code(), tonic::Code::InvalidArgument, "{field}: {err:?}");
        assert!(err.message().contains(field), "{err:?}");
    }

    // The doctor reads free text: an unstable network runs the network
    // checks, and the refusing host is the cause.
    let (explained, findings, d) = doctor(&daemon, "pos机网络老是不稳定", "en").await;
    let matched = explained.matched.unwrap();
    assert_eq!(matched.symptom, "no-connection");
    assert!(
        explained.note.contains("read as no-connection"),
        "{}",
        explained.note
    );
    assert!(
        findings.iter().any(|f| f.check == "host.tcp"),
        "{findings:#?}"
    );
    assert_eq!(d.causes[0].reason, "tcp.refused", "{d:#?}");

    // A card number in the text never comes back.
    let (explained, _, _) = doctor(&daemon, "4761739001010119 刷不了卡", "en").await;
    assert!(!format!("{explained:?}").contains("4761739001010119"));
    assert_eq!(explained.matched.unwrap().symptom, "card-unreadable");

    // Advice only: nothing is checked, and the acquirer is who to ask.
    let (explained, findings, d) = doctor(&daemon, "钱没到账", "zh-CN").await;
    assert!(
        explained.checks.is_empty() && findings.is_empty(),
        "{findings:#?}"
    );
    assert_eq!(d.causes[0].reason, "symptom.money-not-arrived", "{d:#?}");
    assert!(
        d.causes[0]
            .remedies
            .iter()
            .any(|r| r.actor == pb::Actor::Acquirer as i32)
    );
    assert!(d.summary.contains("终端检查无法回答"), "{}", d.summary);

    // Text that fits nothing: said plainly, and the full check-up runs.
    let (explained, findings, _) = doctor(&daemon, "今天天气不错", "en").await;
    assert!(explained.matched.is_none());
    assert!(explained.note.contains("fits none"), "{}", explained.note);
    assert!(findings.iter().any(|f| f.check == "terminal.link"));
    assert!(findings.iter().any(|f| f.check == "host.tcp"));

    // The CLI: the doctor from free text, and `posdiag symptom` through the
    // daemon printing what --local prints.
    let endpoint = format!("unix:{}", daemon.socket.display());
    let run = |args: &[&str]| {
        let out = std::process::Command::new(bin("posdiag"))
            .args(["--endpoint", &endpoint])
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (code, text) = run(&["--lang", "zh-CN", "doctor", "T1", "--symptom", "收不了款"]);
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("理解为 payments-failing"), "{text}");
    assert!(text.contains("最可能的原因"), "{text}");
    let (code, remote) = run(&["--json", "symptom", "card", "declnied"]);
    assert_eq!(code, Some(0), "{remote}");
    let (_, local) = run(&["--json", "symptom", "--local", "card declnied"]);
    assert_eq!(remote, local);
    let v: serde_json::Value = serde_json::from_str(&remote).unwrap();
    assert_eq!(v["matches"][0]["symptom"], "card-declined", "{v}");
    let (code, text) = run(&["symptom", "今天天气不错"]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("full check-up"), "{text}");
}
