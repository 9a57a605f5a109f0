//! End-to-end: customer-ID validation through the real daemon's IdService
//! and through the `posdiag id` command, which prints the same through the
//! daemon as with `--local`, and validates offline whatever the rest of the
//! daemon's configuration says.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use pb::id_service_client::IdServiceClient;
use posdiag_proto::v1 as pb;
use posdiag_tests::{Daemon, bin};
use tokio_stream::StreamExt;
use tonic::Code;

const CONFIG: &str = r#"
[rules.acq-a]
description = "Acquirer A customer numbers"
min_length = 12
max_length = 12
charset = "digits"

[rules.resident]
kinds = ["cn-ric"]

[[terminals]]
id = "T1"
id_rules = "acq-a"

[[terminals]]
id = "T2"
"#;

fn req(value: &str) -> pb::ValidateIdRequest {
    pb::ValidateIdRequest {
        value: value.as_bytes().to_vec(),
        ..Default::default()
    }
}

#[tokio::test]
async fn a_mobile_number_typed_as_a_customer_id_is_explained() {
    let daemon = Daemon::start(CONFIG);
    let mut ids = IdServiceClient::new(daemon.channel().await);

    let r = ids
        .validate_id(pb::ValidateIdRequest {
            terminal_id: "T1".into(),
            ..req("13812345678")
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!r.valid);
    assert_eq!(r.reason, "length");
    assert!(r.looks_like.iter().any(|c| c.kind == "phone"), "{r:?}");
    assert!(r.message.contains("mobile"), "{}", r.message);
    assert!(r.expected.contains("12"), "{}", r.expected);

    let zh = ids
        .validate_id(pb::ValidateIdRequest {
            terminal_id: "T1".into(),
            lang: "zh-CN".into(),
            ..req("13812345678")
        })
        .await
        .unwrap()
        .into_inner();
    assert!(zh.message.contains("手机"), "{}", zh.message);

    // A valid resident ID passes the resident rules; a card number does not.
    let ok = ids
        .validate_id(pb::ValidateIdRequest {
            rules: "resident".into(),
            ..req("11010519491231002X")
        })
        .await
        .unwrap()
        .into_inner();
    assert!(ok.valid, "{ok:?}");
    let card = ids
        .validate_id(pb::ValidateIdRequest {
            rules: "resident".into(),
            ..req("4111111111111111")
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((card.valid, card.reason.as_str()), (false, "unsupported"));
    assert!(
        !card.display.contains("4111111111111111"),
        "card numbers are masked: {}",
        card.display
    );
}

#[tokio::test]
async fn unknown_rules_and_terminals_are_invalid_arguments() {
    let daemon = Daemon::start(CONFIG);
    let mut ids = IdServiceClient::new(daemon.channel().await);
    let e = ids
        .validate_id(pb::ValidateIdRequest {
            rules: "nope".into(),
            ..req("1")
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().contains("acq-a, resident"), "{}", e.message());
    let e = ids
        .validate_id(pb::ValidateIdRequest {
            terminal_id: "T2".into(),
            ..req("1")
        })
        .await
        .unwrap_err();
    assert!(e.message().contains("no id_rules"), "{}", e.message());
    let e = ids
        .validate_id(pb::ValidateIdRequest {
            kind: "passport".into(),
            ..req("1")
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);

    let kinds = ids
        .list_kinds(pb::ListKindsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(kinds.kinds.iter().any(|k| k.name == "cn-ric"));
    let sets = ids
        .list_rule_sets(pb::ListRuleSetsRequest {})
        .await
        .unwrap()
        .into_inner();
    let acq = sets.rule_sets.iter().find(|r| r.name == "acq-a").unwrap();
    assert_eq!(
        (acq.min_length, acq.max_length, acq.terminals.clone()),
        (12, 12, vec!["T1".to_owned()])
    );
}

#[tokio::test]
async fn a_stream_of_values_comes_back_in_order_with_a_summary() {
    let daemon = Daemon::start(CONFIG);
    let mut ids = IdServiceClient::new(daemon.channel().await);
    let values = [
        "123456789012",
        "12345678901",
        "1234567890123",
        "12345678901a",
        "123456789013",
    ];
    let first = pb::ValidateIdRequest {
        terminal_id: "T1".into(),
        ..req(values[0])
    };
    let rest: Vec<pb::ValidateIdRequest> = values[1..].iter().map(|v| req(v)).collect();
    let input = tokio_stream::iter(std::iter::once(first).chain(rest));
    let mut out = ids.validate_ids(input).await.unwrap().into_inner();
    let mut results = Vec::new();
    let mut summary = None;
    while let Some(m) = out.next().await {
        match m.unwrap().item.unwrap() {
            pb::validate_ids_response::Item::Result(r) => results.push(r),
            pb::validate_ids_response::Item::Summary(s) => summary = Some(s),
        }
    }
    let idx: Vec<u64> = results.iter().map(|r| r.index).collect();
    assert_eq!(idx, [0, 1, 2, 3, 4]);
    let verdicts: Vec<bool> = results.iter().map(|r| r.valid).collect();
    assert_eq!(verdicts, [true, false, false, false, true]);
    let s = summary.unwrap();
    assert_eq!((s.total, s.valid), (5, 2));
    assert_eq!(s.by_reason.get("length"), Some(&2));
}

#[test]
fn the_cli_validates_through_the_daemon() {
    let daemon = Daemon::start(CONFIG);
    let endpoint = format!("unix:{}", daemon.socket.display());
    let out = std::process::Command::new(bin("posdiag"))
        .args([
            "--endpoint",
            &endpoint,
            "id",
            "validate",
            "--terminal",
            "T1",
            "123456789012",
            "13812345678",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // 12 digits could be a card number, so even a valid customer ID is shown masked.
    assert!(
        stdout.contains("123456**9012") && stdout.contains("mobile"),
        "{stdout}"
    );
    assert!(!stdout.contains("123456789012"), "{stdout}");
}

/// The rule set of [`CONFIG`] for `--local` (T1's, 12 digits).
const RULES: &str = "[rules.acquirer-a-customer]\n\
     description = \"Acquirer A customer numbers: 12 digits\"\n\
     min_length = 12\n\
     max_length = 12\n\
     charset = \"digits\"\n\
     \n\
     [[terminals]]\n\
     id = \"T1\"\n\
     id_rules = \"acquirer-a-customer\"\n\
     \n\
     [[terminals]]\n\
     id = \"T2\"\n";

/// A full card number that must never be printed (Luhn-valid Visa test number).
const PAN: &str = "4111111111111111";

/// `posdiag --endpoint ENDPOINT ARGS` with `stdin`, fed from a thread so
/// large inputs cannot deadlock against full pipes.
fn posdiag_at(endpoint: &str, stdin: &[u8], args: &[&str]) -> std::process::Output {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(bin("posdiag"))
        .arg("--endpoint")
        .arg(endpoint)
        .args(args)
        .env_remove("POSDIAG_ENDPOINT")
        .env_remove("POSDIAG_LANG")
        .env_remove("NO_COLOR")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut pipe = child.stdin.take().unwrap();
    let input = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = pipe.write_all(&input);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    out
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn json_lines(out: &std::process::Output) -> Vec<serde_json::Value> {
    text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// The daemon path: the same values through a real posdiagd print exactly
/// what `--local` prints.
#[test]
fn validate_through_the_daemon_matches_local() {
    let daemon = Daemon::start(RULES);
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("posdiagd.toml");
    std::fs::write(&cfg, RULES).unwrap();
    let endpoint = format!("unix:{}", daemon.socket.display());
    let cfg_s = cfg.to_str().unwrap();
    let input = format!("13800138000\n123456789012\n{PAN}\n\u{ff11}23\n");
    let run = |args: &[&str]| posdiag_at(&endpoint, input.as_bytes(), args);
    let daemon_out = run(&["id", "validate", "--json", "--rules", "acquirer-a-customer"]);
    let local_out = run(&[
        "id",
        "validate",
        "--json",
        "--local",
        "--config",
        cfg_s,
        "--rules",
        "acquirer-a-customer",
    ]);
    assert_eq!(
        daemon_out.status.code(),
        Some(1),
        "{}",
        text(&daemon_out.stderr)
    );
    assert_eq!(json_lines(&daemon_out).len(), 4);
    assert_eq!(json_lines(&daemon_out), json_lines(&local_out));
    assert!(
        !text(&daemon_out.stdout).contains(PAN),
        "{}",
        text(&daemon_out.stdout)
    );

    let summary = run(&["id", "validate", "--summary", "--terminal", "T1"]);
    assert!(
        text(&summary.stdout).starts_with("total: 4  valid: 1  invalid: 3"),
        "{}",
        text(&summary.stdout)
    );
    // Many values: the request and answer streams run concurrently (the
    // queues are bounded), and every value is answered once.
    let many: String = (0..20_000u32).map(|i| format!("{i:012}\n")).collect();
    let big = posdiag_at(
        &endpoint,
        many.as_bytes(),
        &["--json", "id", "validate", "--summary", "--kind", "luhn"],
    );
    let s = &json_lines(&big)[0];
    assert_eq!(s["total"], "20000", "{}", text(&big.stderr));
    assert_eq!(s["valid"], "2000", "{s}");

    let unknown = run(&["id", "validate", "--rules", "nope", "1"]);
    assert_eq!(unknown.status.code(), Some(2), "{}", text(&unknown.stderr));
    assert!(text(&unknown.stderr).contains("acquirer-a-customer"));
}

/// `--local` reads only the rule sets and the terminals' `id_rules`: a
/// configuration the daemon refuses for another reason (here a `ca_file`
/// that does not exist on this machine) still validates IDs offline, while
/// `--check-config` reports the missing file.
#[test]
fn a_config_with_a_missing_ca_file_still_validates_ids_offline() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("posdiagd.toml");
    let config = format!(
        "[hosts.acquirer-a]\naddress = \"127.0.0.1\"\nport = 5000\n\
         [hosts.acquirer-a.tls]\nca_file = \"/nonexistent/acquirer-ca.pem\"\n\n\
         {RULES}hosts = [\"acquirer-a\"]\n"
    );
    std::fs::write(&cfg, &config).unwrap();
    let cfg_s = cfg.to_str().unwrap();
    let check = posdiag_tests::run("posdiagd", &["--check-config", cfg_s]);
    assert_eq!(check.status.code(), Some(64), "the daemon refuses it");
    assert!(
        text(&check.stderr).contains("ca_file") || text(&check.stdout).contains("ca_file"),
        "{}{}",
        text(&check.stdout),
        text(&check.stderr)
    );

    let none = "unix:/nonexistent/posdiagd.sock";
    for args in [
        &[
            "id",
            "validate",
            "--local",
            "--config",
            cfg_s,
            "--terminal",
            "T1",
            "123456789012",
        ][..],
        &[
            "id",
            "validate",
            "--local",
            "--config",
            cfg_s,
            "--rules",
            "acquirer-a-customer",
            "123456789012",
        ][..],
    ] {
        let out = posdiag_at(none, b"", args);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        assert!(
            text(&out.stdout).starts_with("VALID"),
            "{}",
            text(&out.stdout)
        );
    }
    let out = posdiag_at(
        none,
        b"",
        &[
            "id",
            "validate",
            "--local",
            "--config",
            cfg_s,
            "--terminal",
            "T1",
            "13812345678",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("mobile"),
        "{}",
        text(&out.stdout)
    );

    // What it does read is still checked, with file:line:column.
    std::fs::write(&cfg, config.replace("min_length = 12", "min_length = 0")).unwrap();
    let out = posdiag_at(
        none,
        b"",
        &[
            "id",
            "validate",
            "--local",
            "--config",
            cfg_s,
            "--terminal",
            "T1",
            "1",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains(&format!(
            "{cfg_s}:9:14: rules.acquirer-a-customer.min_length: 0 is out of range"
        )),
        "{}",
        text(&out.stderr)
    );
}
