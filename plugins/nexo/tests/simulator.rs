//! `poi.diagnosis` in-process against the real nexo simulator, over a real TCP connection
//! (plain HTTP, and HTTPS trusting the simulator's generated CA): one test per scenario.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod common;

use common::{Sim, about, assert_well_formed, number_of, text_of, verdict};
use posdiag_core::nexo::{GlobalStatus, PrinterStatus};
use posdiag_plugin_api::pb::Verdict;
use posdiag_sim::nexo::{NexoFault, NexoScenario, SimHost};

fn findings(sim: &Sim, args: &[(&str, &str)]) -> Vec<posdiag_plugin_api::pb::Finding> {
    let findings = sim.check(args).unwrap().findings;
    assert_well_formed(&findings);
    findings
}

#[test]
fn healthy_terminal_over_https() {
    let sim = Sim::start(NexoScenario::default(), true);
    let f = findings(&sim, &[]);
    for finding in &f {
        assert_eq!(verdict(finding), (Verdict::Ok, "ok"), "{finding:?}");
    }
    let t = about(&f, "terminal T1");
    assert_eq!(number_of(t, "battery_level"), Some(100.0));
    assert_eq!(text_of(t, "firmware_version"), Some("posdiag-sim"));
    assert_eq!(number_of(t, "unconfirmed_batch_count"), Some(0.0));
    assert_eq!(text_of(t, "global_status"), Some("OK"));
    assert!(number_of(t, "round_trip").is_some());
    assert!(matches!(
        common::evidence(t, "tls"),
        Some(posdiag_plugin_api::pb::evidence::Value::Flag(true))
    ));
    for subject in [
        "terminal T1 card reader",
        "terminal T1 PIN pad",
        "terminal T1 security",
        "terminal T1 communication",
        "terminal T1 printer",
        "acquirer 0",
    ] {
        about(&f, subject);
    }
    // A second check on a new connection gets a fresh ServiceID (the simulator refuses reuse).
    let again = findings(&sim, &[]);
    assert_eq!(verdict(about(&again, "terminal T1")), (Verdict::Ok, "ok"));
}

#[test]
fn healthy_terminal_over_plain_http_without_host_diagnosis() {
    let sim = Sim::start(NexoScenario::default(), false);
    let f = findings(&sim, &[("host_diagnosis", "false")]);
    assert_eq!(verdict(about(&f, "terminal T1")), (Verdict::Ok, "ok"));
    assert!(
        f.iter().all(|x| !x.subject.starts_with("acquirer")),
        "{f:#?}"
    );
}

#[test]
fn card_reader_not_ok() {
    let sim = Sim::start(
        NexoScenario {
            card_reader_ok: Some(false),
            ..Default::default()
        },
        true,
    );
    let f = findings(&sim, &[]);
    let reader = about(&f, "terminal T1 card reader");
    assert_eq!(verdict(reader), (Verdict::Critical, "poi.component"));
    assert!(reader.summary_en.contains("card reader") && reader.summary_zh.contains("读卡器"));
    assert_eq!(reader.remedies.len(), 1);
    assert_eq!(
        verdict(about(&f, "terminal T1 PIN pad")),
        (Verdict::Ok, "ok")
    );
}

#[test]
fn acquirer_host_unreachable() {
    let sim = Sim::start(
        NexoScenario {
            hosts: vec![
                SimHost {
                    acquirer_id: "0".into(),
                    reachable: true,
                },
                SimHost {
                    acquirer_id: "ACQ-7".into(),
                    reachable: false,
                },
            ],
            ..Default::default()
        },
        true,
    );
    let f = findings(&sim, &[]);
    assert_eq!(verdict(about(&f, "acquirer 0")), (Verdict::Ok, "ok"));
    let down = about(&f, "acquirer ACQ-7");
    assert_eq!(verdict(down), (Verdict::Critical, "host.unreachable"));
    assert!(down.summary_en.contains("ACQ-7"));
    assert_eq!(text_of(down, "acquirer_id"), Some("ACQ-7"));
}

#[test]
fn maintenance_is_busy() {
    let sim = Sim::start(
        NexoScenario {
            maintenance: true,
            ..Default::default()
        },
        true,
    );
    let f = findings(&sim, &[]);
    let t = about(&f, "terminal T1");
    assert_eq!(verdict(t), (Verdict::Warning, "terminal.busy"));
    assert_eq!(text_of(t, "global_status"), Some("Maintenance"));
}

#[test]
fn unreachable_global_status_is_critical() {
    let sim = Sim::start(
        NexoScenario {
            global_status: GlobalStatus::Unreachable,
            ..Default::default()
        },
        false,
    );
    let f = findings(&sim, &[]);
    assert_eq!(
        verdict(about(&f, "terminal T1")),
        (Verdict::Critical, "poi.status")
    );
}

#[test]
fn printer_without_paper_and_low_battery_and_batches() {
    let sim = Sim::start(
        NexoScenario {
            printer_status: Some(PrinterStatus::NoPaper),
            battery_level: Some(12),
            unconfirmed_batch_count: Some(11),
            ..Default::default()
        },
        true,
    );
    let f = findings(&sim, &[]);
    let printer = about(&f, "terminal T1 printer");
    assert_eq!(verdict(printer), (Verdict::Critical, "printer.fault"));
    assert_eq!(text_of(printer, "printer_status"), Some("NoPaper"));
    let battery = about(&f, "terminal T1 battery");
    assert_eq!(verdict(battery), (Verdict::Warning, "terminal.attention"));
    assert_eq!(number_of(battery, "battery_level"), Some(12.0));
    let batch = about(&f, "terminal T1 batch");
    assert_eq!(verdict(batch), (Verdict::Warning, "terminal.attention"));
    // Under a higher threshold the batches are evidence only.
    let f = findings(&sim, &[("max_unconfirmed", "20")]);
    assert!(f.iter().all(|x| x.subject != "terminal T1 batch"));
    assert_eq!(
        number_of(about(&f, "terminal T1"), "unconfirmed_batch_count"),
        Some(11.0)
    );
}

#[test]
fn http_500_is_a_protocol_error() {
    let sim = Sim::start(
        NexoScenario {
            fault: NexoFault::Http500,
            ..Default::default()
        },
        true,
    );
    let f = findings(&sim, &[]);
    assert_eq!(f.len(), 1);
    assert_eq!(verdict(&f[0]), (Verdict::Critical, "link.protocol"));
    assert_eq!(number_of(&f[0], "http_status"), Some(500.0));
    assert!(f[0].summary_en.contains("500"));
}

#[test]
fn garbage_is_a_protocol_error() {
    let sim = Sim::start(
        NexoScenario {
            fault: NexoFault::Garbage,
            ..Default::default()
        },
        false,
    );
    let f = findings(&sim, &[]);
    assert_eq!(f.len(), 1);
    assert_eq!(verdict(&f[0]), (Verdict::Critical, "link.protocol"));
    assert!(text_of(&f[0], "detail").is_some());
}

#[test]
fn silence_is_no_answer() {
    let sim = Sim::start(
        NexoScenario {
            fault: NexoFault::NoAnswer,
            ..Default::default()
        },
        false,
    );
    let req_args = vec![("tls".to_owned(), "false".to_owned())];
    let stream = std::net::TcpStream::connect(sim.sim.addr()).unwrap();
    let host = posdiag_plugin_api::sdk::Host::from_backend(common::TcpBackend::new(stream));
    let mut req = common::request(&format!("tcp:{}", sim.sim.addr()), req_args);
    req.timeout_ms = 300;
    let f = posdiag_plugin_nexo::diagnosis::run(&host, &req)
        .unwrap()
        .findings;
    assert_eq!(verdict(&f[0]), (Verdict::Critical, "link.no_answer"));
    assert_eq!(text_of(&f[0], "phase"), Some("answer"));
}

#[test]
fn an_unknown_ca_is_untrusted() {
    let sim = Sim::start(NexoScenario::default(), true);
    let stream = std::net::TcpStream::connect(sim.sim.addr()).unwrap();
    let host = posdiag_plugin_api::sdk::Host::from_backend(common::TcpBackend::new(stream));
    // No ca_pem: the public webpki roots do not know the simulator's CA.
    let req = common::request(
        &format!("tcp:{}", sim.sim.addr()),
        vec![("tls".into(), "true".into())],
    );
    let f = posdiag_plugin_nexo::diagnosis::run(&host, &req)
        .unwrap()
        .findings;
    assert_eq!(verdict(&f[0]), (Verdict::Critical, "tls.untrusted"));
    assert_eq!(text_of(&f[0], "tls_roots"), Some("webpki"));
    assert_eq!(text_of(&f[0], "server_name"), Some("127.0.0.1"));
}

#[test]
fn tls_to_a_plain_http_terminal_times_out_in_the_handshake() {
    // The plain-HTTP simulator waits for a request line that the ClientHello never gives.
    let sim = Sim::start(NexoScenario::default(), false);
    let stream = std::net::TcpStream::connect(sim.sim.addr()).unwrap();
    let host = posdiag_plugin_api::sdk::Host::from_backend(common::TcpBackend::new(stream));
    let mut req = common::request(
        &format!("tcp:{}", sim.sim.addr()),
        vec![("tls".into(), "true".into())],
    );
    req.timeout_ms = 300;
    let f = posdiag_plugin_nexo::diagnosis::run(&host, &req)
        .unwrap()
        .findings;
    assert_eq!(verdict(&f[0]), (Verdict::Critical, "tls.timeout"));
    assert_eq!(text_of(&f[0], "phase"), Some("tls_handshake"));
}
