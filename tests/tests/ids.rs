//! End-to-end: customer-ID validation through the real daemon's IdService
//! and through the `posdiag id` command.

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
