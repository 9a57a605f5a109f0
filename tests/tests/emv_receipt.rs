//! End-to-end: a receipt's text through the real daemon — EmvService reads
//! its EMV values (each with its line, card numbers never echoed), `posdiag
//! emv decode --receipt FILE|-` prints the same with and without the daemon,
//! `posdiag doctor --receipt FILE` ranks the host first for a Z3 receipt, the
//! ZVT plugin explains the EMV data on what the simulated terminal prints
//! during a diagnosis, and the nexo plugin the last receipt it repeats.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::io::Write;
use std::process::{Command, Stdio};

use pb::emv_service_client::EmvServiceClient;
use posdiag_proto::v1 as pb;
use posdiag_tests::{Daemon, bin};
use tokio_stream::StreamExt;

/// A Chinese UnionPay sales slip (constructed, see the receipts' README):
/// card number on line 8, TVR, TSI, AID, ARC Z3 with full-width colons.
const SLIP: &str =
    include_str!("../../crates/posdiag-emv/tests/receipts/unionpay-zh-declined-z3.txt");
const PAN: &str = "6222021234567890128";
/// A bilingual receipt whose card's PIN is blocked (constructed, see the README).
const PIN_BLOCKED: &str =
    include_str!("../../crates/posdiag-emv/tests/receipts/bilingual-pin-blocked.txt");

#[tokio::test]
async fn emv_service_reads_a_receipt_line_by_line_in_the_callers_language() {
    let daemon = Daemon::start("");
    let mut emv = EmvServiceClient::new(daemon.channel().await);
    let decode = |lang: &str, text: &str| pb::DecodeEmvRequest {
        input: Some(pb::EmvInput {
            receipt_text: text.into(),
            ..Default::default()
        }),
        lang: lang.into(),
    };
    let r = emv.decode(decode("", SLIP)).await.unwrap().into_inner();
    assert!(!format!("{r:?}").contains(PAN));
    assert_eq!(r.causes[0].id, "arc.z3", "{:?}", r.causes);
    let tvr = r.receipt_lines.iter().find(|l| l.field == "tvr").unwrap();
    assert_eq!((tvr.line, tvr.value.as_str()), (17, "0000048000"));
    assert_eq!(tvr.text, "TVR：0000048000");
    let card = r.receipt_lines.iter().find(|l| l.line == 8).unwrap();
    assert!(
        card.field.is_empty() && !card.not_used.is_empty(),
        "{card:?}"
    );
    assert!(r.elements.iter().any(|e| e.tag == "95" && !e.from_tlv));
    assert!(
        r.elements
            .iter()
            .any(|e| e.tag == "50" && e.value == "PBOC DEBIT")
    );

    let zh = emv
        .decode(decode("zh-CN", "TVR: 00000080\nARC: Z3"))
        .await
        .unwrap()
        .into_inner();
    assert!(
        zh.receipt_lines[0].not_used.contains("应为 5 字节"),
        "{zh:?}"
    );
    assert!(zh.causes[0].cause.contains("无法联机"));

    let err = emv
        .decode(decode("zh-CN", "谢谢惠顾\nTHANK YOU"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert!(
        err.message().contains("input.receipt_text") && err.message().contains("没有找到 EMV 数据"),
        "{}",
        err.message()
    );
}

fn posdiag(endpoint: &str, args: &[&str], stdin: Option<&str>) -> (Option<i32>, String, String) {
    let mut child = Command::new(bin("posdiag"))
        .args(["--endpoint", endpoint])
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_cli_reads_a_receipt_file_or_stdin_and_prints_the_same_with_the_daemon_and_locally() {
    let daemon = Daemon::start("");
    let endpoint = format!("unix:{}", daemon.socket.display());
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("slip.txt");
    std::fs::write(&file, SLIP).unwrap();
    let path = file.display().to_string();

    let (code, remote, err) = posdiag(&endpoint, &["emv", "decode", "--receipt", &path], None);
    assert_eq!(code, Some(1), "{remote}{err}");
    assert!(remote.starts_with("Read from the receipt"), "{remote}");
    assert!(
        remote.contains("  17  tvr 0000048000  « TVR：0000048000 »"),
        "{remote}"
    );
    assert!(
        remote.contains("1. The terminal could not reach the host (Z3"),
        "{remote}"
    );
    assert!(!remote.contains(PAN), "{remote}");
    let (code, local, _) = posdiag(
        &endpoint,
        &["emv", "decode", "--local", "--receipt", &path],
        None,
    );
    assert_eq!(code, Some(1));
    assert_eq!(remote, local);
    let (_, piped, _) = posdiag(&endpoint, &["emv", "decode", "--receipt", "-"], Some(SLIP));
    assert_eq!(remote, piped);

    // Chinese, and a field given as an option wins over the receipt's.
    let (code, zh, _) = posdiag(
        &endpoint,
        &[
            "--lang",
            "zh-CN",
            "emv",
            "decode",
            "--receipt",
            &path,
            "--arc",
            "00",
            "--json",
        ],
        None,
    );
    assert_eq!(code, Some(0), "{zh}");
    let v: serde_json::Value = serde_json::from_str(&zh).unwrap();
    assert!(v["receiptLines"].as_array().unwrap().len() > 10, "{v}");
    let arc = v["elements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["tag"] == "8A")
        .unwrap();
    assert_eq!(arc["value"], "00", "{v}");

    // A receipt with no EMV value, and a FIFO-like path, are usage errors (64).
    std::fs::write(&file, "THANK YOU\n").unwrap();
    let (code, _, err) = posdiag(&endpoint, &["emv", "decode", "--receipt", &path], None);
    assert_eq!(code, Some(64), "{err}");
    assert!(err.contains("no EMV values found"), "{err}");
    let (code, _, err) = posdiag(
        &endpoint,
        &["emv", "decode", "--receipt", "/dev/zero"],
        None,
    );
    assert_eq!(code, Some(64), "{err}");
    assert!(err.contains("not a regular file"), "{err}");
}

// Multi-threaded: the simulators keep answering while the test blocks on the CLI.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_doctor_reads_a_receipt_and_the_plugins_explain_what_the_terminals_print() {
    use posdiag_sim::host::{self, Fault, HostSimConfig};
    use posdiag_sim::zvt::{self, Receipt, ZvtSimConfig};

    let dir = tempfile::tempdir().unwrap();
    let plugins = dir.path().join("plugins");
    posdiag_tests::assemble_bundles(&plugins, false);
    // A terminal that cannot reach its host and prints the last receipt
    // (with its card number) through the ECR during the diagnosis.
    let zvt_sim = zvt::start(ZvtSimConfig::default()).unwrap();
    zvt_sim.update(|s| {
        s.host.reachable = false;
        s.host.failure_result = 0xA1;
        s.receipt = Receipt {
            lines: SLIP.lines().map(String::from).collect(),
            text_block: true,
        };
    });
    let down = host::start(HostSimConfig {
        fault: Fault::Refusing,
        ..HostSimConfig::default()
    })
    .await
    .unwrap();
    // A nexo terminal whose last receipt says the card's PIN is blocked.
    let nexo = posdiag_sim::nexo::start(posdiag_sim::nexo::NexoSimConfig {
        scenario: posdiag_sim::nexo::NexoScenario {
            last_receipt: PIN_BLOCKED.lines().map(String::from).collect(),
            ..Default::default()
        },
        ..Default::default()
    })
    .await
    .unwrap();
    let daemon = Daemon::start(&format!(
        "[defaults]\ncheck_interval_s = 0\ncount = 2\ninterval_ms = 0\n[plugins]\ndir = \"{}\"\n\
         [hosts.acq]\naddress = \"127.0.0.1\"\nport = {}\n\
         [[terminals]]\nid = \"T1\"\nmodel = \"Move/5000\"\nlink = \"tcp:{}\"\nhosts = [\"acq\"]\n\
         [[terminals]]\nid = \"T2\"\nprotocol = \"nexo\"\nplugin = \"posdiag.nexo\"\nlink = \"tcp:{}\"\n",
        plugins.display(),
        down.addr().port(),
        zvt_sim.local_addr().unwrap(),
        nexo.addr()
    ));

    // The plugin's diagnosis: host unreachable, and the printout's EMV data
    // explained in the finding, masked.
    let mut checks = pb::check_service_client::CheckServiceClient::new(daemon.channel().await);
    let mut stream = checks
        .run_check(pb::RunCheckRequest {
            terminal_id: "T1".into(),
            checks: vec!["host.terminal_diagnosis".into()],
            lang: "zh-CN".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let mut findings = Vec::new();
    while let Some(ev) = stream.next().await {
        if let Some(pb::check_event::Event::Finding(f)) = ev.unwrap().event {
            findings.push(f);
        }
    }
    let f = findings
        .iter()
        .find(|f| f.check == "host.terminal_diagnosis")
        .unwrap_or_else(|| panic!("{findings:#?}"));
    assert!(!format!("{findings:?}").contains(PAN));
    assert!(f.summary.contains("终端打印的单据含 EMV 数据"), "{f:#?}");
    assert!(f.summary.contains("无法联机"), "{f:#?}");
    let text = |name: &str| {
        f.evidence
            .iter()
            .find(|e| e.name == name)
            .and_then(|e| match &e.value {
                Some(pb::evidence::Value::Text(t)) => Some(t.clone()),
                _ => None,
            })
    };
    assert!(
        text("emv_receipt")
            .unwrap()
            .contains("line 17 tvr 0000048000"),
        "{f:#?}"
    );
    assert!(text("emv_causes").unwrap().starts_with("arc.z3"), "{f:#?}");

    // The nexo plugin's last receipt: TransactionStatusRequest, Adyen-style lines
    // (Chinese labels URL-encoded), the blocked PIN named.
    let mut stream = checks
        .run_check(pb::RunCheckRequest {
            terminal_id: "T2".into(),
            checks: vec!["poi.last_receipt".into()],
            lang: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let mut last = Vec::new();
    while let Some(ev) = stream.next().await {
        if let Some(pb::check_event::Event::Finding(f)) = ev.unwrap().event {
            last.push(f);
        }
    }
    let f = last
        .iter()
        .find(|f| f.check == "poi.last_receipt")
        .unwrap_or_else(|| panic!("{last:#?}"));
    assert_eq!(f.verdict(), pb::Verdict::Warning, "{f:#?}");
    assert!(f.summary.contains("PIN is blocked"), "{f:#?}");

    // The doctor with the receipt file: Z3 runs the host checks, the refused
    // host ranks first; exit 2 (CRITICAL).
    let receipt = dir.path().join("slip.txt");
    std::fs::write(&receipt, SLIP).unwrap();
    let endpoint = format!("unix:{}", daemon.socket.display());
    let (code, out, err) = tokio::task::spawn_blocking(move || {
        posdiag(
            &endpoint,
            &[
                "doctor",
                "T1",
                "--symptom",
                "card-declined",
                "--receipt",
                &receipt.display().to_string(),
            ],
            None,
        )
    })
    .await
    .unwrap();
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(
        out.contains("tcp.refused") || out.contains("refused"),
        "{out}"
    );
    assert!(
        out.contains("The terminal could not reach the host (Z3"),
        "{out}"
    );
    assert!(!out.contains(PAN), "{out}");
}
