//! End-to-end: code explanations through the real daemon's CodeService and
//! through `posdiag explain`, with a vendor table loaded from `[codes] dir`
//! and a terminal whose dialect puts ZVT first.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use pb::code_service_client::CodeServiceClient;
use posdiag_proto::v1 as pb;
use posdiag_tests::{Daemon, bin};

const GOOD: &str = "# Acme terminal error codes (vendor documentation)\n@scheme vendor:acme\nE17\treader\tyes\tcontactless antenna fault\t非接天线故障\tdamaged antenna\t天线损坏\tvendor:Replace the contactless module|更换非接模块\tAcme manual 4.2\n";
const BAD: &str = "@scheme vendor:broken\nE1\tnot-a-category\tyes\tx\tx\t-\t-\tvendor:a|b\tsrc\n";

fn daemon() -> (Daemon, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("acme.tsv"), GOOD).unwrap();
    std::fs::write(dir.path().join("broken.tsv"), BAD).unwrap();
    let config = format!(
        "[codes]\ndir = \"{}\"\n[[terminals]]\nid = \"T1\"\ndialect = \"zvt-result\"\n[[terminals]]\nid = \"T2\"\n",
        dir.path().display()
    );
    (Daemon::start(&config), dir)
}

#[tokio::test]
async fn codes_are_explained_with_the_terminals_dialect_first() {
    let (daemon, _dir) = daemon();
    let mut codes = CodeServiceClient::new(daemon.channel().await);
    let ask = |terminal: &str, lang: &str| pb::ExplainCodeRequest {
        code: "103".into(),
        scheme: String::new(),
        terminal_id: terminal.into(),
        lang: lang.into(),
    };
    let plain = codes.explain_code(ask("", "")).await.unwrap().into_inner();
    let first = |r: &pb::ExplainCodeResponse| {
        format!(
            "{} {}",
            r.interpretations[0].scheme, r.interpretations[0].code
        )
    };
    assert_eq!(first(&plain), "iso8583-1993 103");
    assert_eq!(plain.interpretations.len(), 3);

    let zvt = codes
        .explain_code(ask("T1", "zh-CN"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first(&zvt), "zvt-result 67");
    assert!(
        zvt.interpretations[0].meaning.contains("Maestro"),
        "{}",
        zvt.interpretations[0].meaning
    );

    // The vendor table loaded; the broken one was rejected and nothing else suffered.
    let schemes = codes
        .list_schemes(pb::ListSchemesRequest {})
        .await
        .unwrap()
        .into_inner();
    let names: Vec<&str> = schemes.schemes.iter().map(|s| s.name.as_str()).collect();
    assert!(
        names.contains(&"vendor:acme") && !names.contains(&"vendor:broken"),
        "{names:?}"
    );
    let acme = codes
        .explain_code(pb::ExplainCodeRequest {
            code: "e17".into(),
            scheme: "vendor:acme".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(acme.interpretations[0].category, "reader");

    let found = codes
        .search_codes(pb::SearchCodesRequest {
            text: "冻结".into(),
            lang: "zh-CN".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!found.entries.is_empty());

    let err = codes
        .explain_code(pb::ExplainCodeRequest {
            code: "05".into(),
            terminal_id: "T9".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
}

#[test]
fn the_cli_explains_through_the_daemon_in_both_languages() {
    let (daemon, _dir) = daemon();
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
    let (code, text) = run(&["explain", "103", "--terminal", "T1"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.starts_with("103 has 3 interpretations"), "{text}");
    assert!(
        text.find("zvt-result 67").unwrap() < text.find("iso8583-1993 103").unwrap(),
        "{text}"
    );

    let (code, text) = run(&["--lang", "zh-CN", "explain", "A0", "--scheme", "cup"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("MAC") && text.contains("处理步骤"), "{text}");

    let (code, text) = run(&["explain", "ZZ9"]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("is not a known code"), "{text}");
}
