//! End-to-end: EMV data through the real daemon's EmvService and through
//! `posdiag emv decode` (which prints the same with and without the daemon),
//! and `posdiag explain Z3` finding the EMV response code.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use pb::emv_service_client::EmvServiceClient;
use posdiag_proto::v1 as pb;
use posdiag_tests::{Daemon, bin};

/// Field 55 of a declined authorisation: PAN in the clear, TVR "expired
/// application", ARC Z3.
const FIELD_55: &str = "5A0841111111111111119F2701009505004000800095050040008000";

#[tokio::test]
async fn decode_and_explain_over_grpc_mask_card_data_and_rank_the_host_first() {
    let daemon = Daemon::start("");
    let mut emv = EmvServiceClient::new(daemon.channel().await);
    let input = pb::EmvInput {
        tlv_hex: "5A084111111111111111 9F270100 95050040008000".into(),
        arc: "Z3".into(),
        ..Default::default()
    };
    let r = emv
        .decode(pb::DecodeEmvRequest {
            input: Some(input.clone()),
            lang: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let dump = format!("{r:?}");
    assert!(!dump.contains("4111111111111111"), "{dump}");
    assert_eq!(r.elements[0].value, "411111******1111");
    assert_eq!(r.elements[0].name, "Application PAN");
    assert_eq!(r.causes[0].id, "arc.z3");
    assert_eq!(r.causes[0].checks, "host");
    assert!(r.causes.iter().any(|c| c.id == "tvr.expired_application"));

    let x = emv
        .explain(pb::ExplainEmvRequest {
            input: Some(input),
            lang: "zh-CN".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(x.problems);
    assert!(x.causes[0].cause.contains("无法联机"), "{:?}", x.causes[0]);

    // Bad input: INVALID_ARGUMENT naming the field and the byte, in the caller's language.
    let err = emv
        .decode(pb::DecodeEmvRequest {
            input: Some(pb::EmvInput {
                tlv_hex: "9F2701".into(),
                ..Default::default()
            }),
            lang: "zh-CN".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert!(
        err.message().contains("input.tlv_hex") && err.message().contains("第 0 字节"),
        "{}",
        err.message()
    );
    let err = emv
        .explain(pb::ExplainEmvRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
}

#[test]
fn the_cli_prints_the_same_with_the_daemon_and_locally() {
    let daemon = Daemon::start("");
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
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let receipt = [
        "emv",
        "decode",
        "--tvr",
        "8000048000",
        "--tsi",
        "E800",
        "--arc",
        "Z3",
        "--entry-mode",
        "801",
        "--service-code",
        "201",
    ];
    let (code, remote, _) = run(&receipt);
    assert_eq!(code, Some(1), "{remote}");
    assert!(
        remote.contains("1. The terminal could not reach the host (Z3"),
        "{remote}"
    );
    assert!(
        remote.contains("Fallback: the chip could not be read"),
        "{remote}"
    );
    let mut local_args = receipt.to_vec();
    local_args.push("--local");
    let (code, local, _) = run(&local_args);
    assert_eq!(code, Some(1));
    assert_eq!(remote, local);

    let (code, text, _) = run(&["--lang", "zh-CN", "emv", "decode", FIELD_55]);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("411111******1111") && !text.contains("4111111111111111"),
        "{text}"
    );
    assert!(text.contains("应用已过期"), "{text}");

    let (code, _, err) = run(&["emv", "decode", "--tvr", "80"]);
    assert_eq!(code, Some(64), "{err}");
    assert!(err.contains("input.tvr"), "{err}");

    let (code, text, _) = run(&[
        "emv",
        "decode",
        "--tvr",
        "0000000000",
        "--arc",
        "00",
        "--json",
    ]);
    assert_eq!(code, Some(0), "{text}");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["elements"][1]["items"][0]["key"], "arc.approved", "{v}");

    let (code, text, _) = run(&["explain", "Z3"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("emv-arc Z3 — unable to go online, declined offline"),
        "{text}"
    );
}

async fn doctor(
    daemon: &Daemon,
    symptom: &str,
    emv: pb::EmvInput,
) -> (pb::SymptomExplained, Vec<pb::Finding>, pb::Diagnosis) {
    let mut client = pb::check_service_client::CheckServiceClient::new(daemon.channel().await);
    let stream = client
        .run_doctor(pb::RunDoctorRequest {
            terminal_id: "T1".into(),
            symptom: symptom.into(),
            emv: Some(emv),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let run = posdiag_tests::read_doctor(stream).await;
    (
        run.symptom.expect("the EMV data is explained first"),
        run.findings,
        run.diagnosis,
    )
}

#[tokio::test]
async fn the_doctor_explains_the_emv_data_first_and_runs_only_the_checks_that_tell_its_causes_apart()
 {
    use posdiag_sim::host::{self, Fault, HostSimConfig};
    use posdiag_sim::zvt::{self, ZvtSimConfig};
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
         [[terminals]]\nid = \"T1\"\nlink = \"tcp:{term}\"\nhosts = [\"acq\"]\n",
        down.addr().port()
    ));

    // Declined with Z3: the host checks run (not the reader's), the refused
    // host ranks first and the EMV cause next, confirmed by it.
    let (s, findings, d) = doctor(
        &daemon,
        "card-declined",
        pb::EmvInput {
            tvr: "0000008000".into(),
            arc: "Z3".into(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(s.emv_causes[0].id, "arc.z3", "{s:#?}");
    assert!(s.checks.iter().any(|c| c == "host.tcp"), "{s:#?}");
    assert!(findings.iter().all(|f| !f.check.starts_with("reader")));
    assert_eq!(d.causes[0].reason, "tcp.refused", "{d:#?}");
    let z3 = d.causes.iter().find(|c| c.reason == "emv.arc.z3").unwrap();
    assert_eq!(z3.check, "emv");
    assert!(z3.why.contains("host checks fail too"), "{z3:#?}");

    // A chip card that fell back to the stripe: no host check runs.
    let (s, findings, d) = doctor(
        &daemon,
        "card-unreadable",
        pb::EmvInput {
            entry_mode: "801".into(),
            service_code: "201".into(),
            ..Default::default()
        },
    )
    .await;
    assert!(s.checks.iter().all(|c| !c.starts_with("host.")), "{s:#?}");
    assert!(
        findings.iter().all(|f| !f.check.starts_with("host.")),
        "{findings:#?}"
    );
    assert_eq!(d.causes[0].reason, "emv.entry.fallback", "{d:#?}");

    // An expired card: the data says it all; nothing needs to run, and the
    // answer is still a failure.
    let (s, findings, d) = doctor(
        &daemon,
        "card-declined",
        pb::EmvInput {
            tvr: "0040000000".into(),
            ..Default::default()
        },
    )
    .await;
    assert!(s.checks.is_empty() && findings.is_empty(), "{s:#?}");
    assert_eq!(d.causes[0].reason, "emv.tvr.expired_application");
    assert_eq!(d.overall(), pb::Verdict::Critical);
    // The third "expired" at the same terminal within a week: its clock is
    // the likelier cause, ranked first, with the card's own cause next.
    let expired = || pb::EmvInput {
        tvr: "0040000000".into(),
        ..Default::default()
    };
    let (_, _, d) = doctor(&daemon, "card-declined", expired()).await;
    assert_eq!(d.causes[0].reason, "emv.tvr.expired_application", "{d:#?}");
    let (s, _, d) = doctor(&daemon, "card-declined", expired()).await;
    assert_eq!(s.emv_causes[0].id, "terminal.clock", "{s:#?}");
    assert_eq!(d.causes[0].reason, "emv.terminal.clock", "{d:#?}");
    assert!(d.causes[0].title.contains("2 earlier declines"), "{d:#?}");
    assert_eq!(d.causes[1].reason, "emv.tvr.expired_application");

    // Bad EMV data is refused before anything runs.
    let mut client = pb::check_service_client::CheckServiceClient::new(daemon.channel().await);
    let err = client
        .run_doctor(pb::RunDoctorRequest {
            terminal_id: "T1".into(),
            symptom: "card-declined".into(),
            emv: Some(pb::EmvInput {
                tvr: "12".into(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);

    // The CLI: the receipt's values, in Chinese; exit 2 (CRITICAL).
    let endpoint = format!("unix:{}", daemon.socket.display());
    let out = posdiag_tests::run(
        "posdiag",
        &[
            "--endpoint",
            &endpoint,
            "--lang",
            "zh-CN",
            "doctor",
            "T1",
            "--symptom",
            "card-declined",
            "--tvr",
            "0000008000",
            "--arc",
            "Z3",
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains("终端无法连接主机"), "{text}");
}

/// The masking test of the ID work, extended to EMV: a card number in each
/// card-data tag (5A, 57, 56, 9F6B, 9F1F, 5F20), in a tag posdiag does not
/// know, in a text tag, and typed into every receipt field, never comes
/// back unmasked from Decode, Explain, RunDoctor or the CLI.
#[tokio::test]
async fn card_numbers_in_emv_data_never_come_back_unmasked() {
    const PANS: [&str; 2] = ["4111111111111111", "5500000000000004"];
    let leaks = |text: &str| {
        PANS.iter()
            .any(|p| text.contains(p) || text.contains(&p.replace("0000", "0000 ")))
    };
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02X}")).collect::<String>();
    let daemon = Daemon::start("[defaults]\ncheck_interval_s = 0\n[[terminals]]\nid = \"T1\"\n");
    let mut emv = EmvServiceClient::new(daemon.channel().await);
    let mut checks = pb::check_service_client::CheckServiceClient::new(daemon.channel().await);
    let mut inputs = Vec::new();
    for pan in PANS {
        let track1 = format!("%B{pan}^DOE/JOHN^2512201000?");
        for (tag, value) in [
            ("5A", pan.to_owned()),
            ("57", format!("{pan}D25122011234567F")),
            ("9F6B", format!("{pan}D2512201123456")),
            ("56", hex(track1.as_bytes())),
            ("9F1F", hex(pan.as_bytes())),
            ("5F20", hex(format!("{pan} DOE").as_bytes())),
            ("50", hex(pan.as_bytes())),
            ("DF8101", pan.to_owned()),
            ("70", format!("5A08{pan}")),
        ] {
            let len = value.len() / 2;
            inputs.push(pb::EmvInput {
                tlv_hex: format!("{tag}{len:02X}{value}"),
                ..Default::default()
            });
        }
        for f in 0..7 {
            let mut i = pb::EmvInput::default();
            let v = pan.to_owned();
            match f {
                0 => i.tvr = v,
                1 => i.tsi = v,
                2 => i.cvm_results = v,
                3 => i.arc = v,
                4 => i.entry_mode = v,
                5 => i.service_code = v,
                _ => i.tlv_hex = format!("卡号 {v}"),
            }
            inputs.push(i);
        }
    }
    for input in &inputs {
        for lang in ["en", "zh-CN"] {
            let d = emv
                .decode(pb::DecodeEmvRequest {
                    input: Some(input.clone()),
                    lang: lang.into(),
                })
                .await;
            let shown = match &d {
                Ok(r) => format!("{:?}", r.get_ref()),
                Err(s) => s.message().to_owned(),
            };
            assert!(!leaks(&shown), "{input:?}: {shown}");
            let x = emv
                .explain(pb::ExplainEmvRequest {
                    input: Some(input.clone()),
                    lang: lang.into(),
                })
                .await;
            let shown = match &x {
                Ok(r) => format!("{:?}", r.get_ref()),
                Err(s) => s.message().to_owned(),
            };
            assert!(!leaks(&shown), "{input:?}: {shown}");
        }
        let r = checks
            .run_doctor(pb::RunDoctorRequest {
                terminal_id: "T1".into(),
                symptom: "card-declined".into(),
                emv: Some(input.clone()),
                ..Default::default()
            })
            .await;
        match r {
            Ok(stream) => {
                use tokio_stream::StreamExt;
                let mut stream = stream.into_inner();
                while let Some(ev) = stream.next().await {
                    let shown = format!("{ev:?}");
                    assert!(!leaks(&shown), "{input:?}: {shown}");
                }
            }
            Err(s) => assert!(!leaks(s.message()), "{input:?}: {}", s.message()),
        }
    }
    // The CLI, locally and through the daemon, with --json too.
    let endpoint = format!("unix:{}", daemon.socket.display());
    for input in inputs.iter().filter(|i| !i.tlv_hex.is_empty()).take(9) {
        for extra in [&[][..], &["--local"][..], &["--json"][..]] {
            let out = std::process::Command::new(bin("posdiag"))
                .args(["--endpoint", &endpoint, "emv", "decode", &input.tlv_hex])
                .args(extra)
                .output()
                .unwrap();
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(!leaks(&text), "{input:?} {extra:?}: {text}");
        }
    }
}
