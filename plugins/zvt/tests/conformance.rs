//! The conformance vector: the status-enquiry completion captured from a real terminal (Feig
//! cVEND plug, `crates/posdiag-core/tests/fixtures/zvt/apdus.tsv`) fed through a fake host
//! backend must give the software version, "PT ready" and the device serial number. Also:
//! bytes that are not ZVT are a protocol finding, and a link that is not serial, usb or tcp
//! is the check failing to run.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::cell::RefCell;
use std::collections::VecDeque;
use std::time::Duration;

use posdiag_core::zvt::bmp::hex_to_bytes;
use posdiag_plugin_api::pb;
use posdiag_plugin_api::sdk::{Host, HostBackend, LogLevel, PluginError, TransportError};
use posdiag_plugin_zvt::ZvtPlugin;

const FIXTURE: &str = include_str!("../../../crates/posdiag-core/tests/fixtures/zvt/apdus.tsv");

/// The captured status-enquiry completion (the fixture line whose meaning says so).
fn captured_completion() -> Vec<u8> {
    let line = FIXTURE
        .lines()
        .find(|l| l.contains("Completion of a Status Enquiry"))
        .expect("the fixture has the status enquiry completion");
    let hex = line.split('\t').nth(1).unwrap();
    hex_to_bytes(hex).unwrap()
}

/// A terminal that answers any command with fixed bytes (over TCP: raw APDUs).
struct Fake {
    answer: Vec<u8>,
    inbox: RefCell<VecDeque<u8>>,
}

impl HostBackend for Fake {
    fn log(&self, _level: LogLevel, _message: &str) {}
    fn event(&self, _event: &pb::Event) {}
    fn write(&self, bytes: &[u8], _timeout: Duration) -> Result<(), TransportError> {
        // Our acknowledgements get no answer; a command gets the canned one.
        if bytes != [0x80, 0x00, 0x00] {
            self.inbox.borrow_mut().extend(self.answer.iter().copied());
        }
        Ok(())
    }
    fn read(&self, buf: &mut [u8], _timeout: Duration) -> Result<usize, TransportError> {
        let mut inbox = self.inbox.borrow_mut();
        if inbox.is_empty() {
            // Stands in for a read that waits out its timeout, without waiting.
            return Err(TransportError::Timeout);
        }
        // A few bytes at a time, as a network delivers them.
        let n = buf.len().min(inbox.len()).min(7);
        for (slot, byte) in buf.iter_mut().zip(inbox.drain(..n)) {
            *slot = byte;
        }
        Ok(n)
    }
}

fn run(answer: Vec<u8>, check: &str, link: &str) -> Result<pb::CheckResult, PluginError> {
    let host = Host::from_backend(Fake {
        answer,
        inbox: RefCell::new(VecDeque::new()),
    });
    let req = pb::CheckRequest {
        check: check.into(),
        terminal_id: "T1".into(),
        link_kind: link.into(),
        timeout_ms: 300,
        ..Default::default()
    };
    ZvtPlugin::new([0; 3]).check(&host, &req)
}

fn text<'a>(f: &'a pb::Finding, name: &str) -> Option<&'a str> {
    match f.evidence.iter().find(|e| e.name == name)?.value.as_ref()? {
        pb::evidence::Value::Text(t) => Some(t),
        _ => None,
    }
}

#[test]
fn the_captured_status_enquiry_completion_is_understood() {
    let mut answer = vec![0x80, 0x00, 0x00];
    answer.extend(captured_completion());
    let result = run(answer, "terminal.status", "tcp").unwrap();
    let f = &result.findings[0];
    assert_eq!((f.verdict(), f.reason.as_str()), (pb::Verdict::Ok, "ok"));
    assert_eq!(
        text(f, "software_version"),
        Some("GER-APP-v2.0.9;cS02.01.01-10.10-2-2;CC26")
    );
    assert_eq!(text(f, "terminal_status"), Some("00"));
    assert_eq!(text(f, "terminal_status_meaning"), Some("PT ready"));
    assert_eq!(text(f, "device_serial"), Some("17fd1e3c"));
    assert_eq!(text(f, "device_name"), Some("cVEND plug"));
    assert_eq!(text(f, "terminal_id"), Some("52523535"));
    assert!(f.summary_en.contains("PT ready"));
}

#[test]
fn bytes_that_are_not_zvt_are_a_protocol_finding() {
    // An APDU header announcing 65535 data bytes: no diagnostic answer is that long.
    let result = run(vec![0xFF; 8], "terminal.status", "tcp").unwrap();
    let f = &result.findings[0];
    assert_eq!(
        (f.verdict(), f.reason.as_str()),
        (pb::Verdict::Critical, "link.protocol")
    );
    assert!(!f.summary_zh.is_empty());
}

#[test]
fn a_link_without_zvt_is_an_error_not_a_finding() {
    let err = run(Vec::new(), "terminal.status", "none").unwrap_err();
    assert_eq!(err, PluginError::Transport(TransportError::NoLink));
    let err = run(Vec::new(), "acme.nope", "tcp").unwrap_err();
    assert!(matches!(err, PluginError::UnsupportedCheck(_)));
}

#[test]
fn an_abort_reports_its_extended_error_and_masked_text() {
    use posdiag_core::zvt::Packet;
    use posdiag_core::zvt::bmp::{Bmp, BmpList};
    use posdiag_core::zvt::packets::AbortFromPt;
    use posdiag_core::zvt::tlv::{Tlv, TlvList};

    let abort = Packet::AbortFromPt(AbortFromPt {
        result_code: 0xA3,
        bmps: BmpList(vec![Bmp::tlv(TlvList(vec![
            Tlv::primitive(0x1F16, vec![0x12, 0x34]),
            Tlv::primitive(0x1F17, b"no route for 4111111111111111".to_vec()),
        ]))]),
    });
    let mut answer = vec![0x80, 0x00, 0x00];
    answer.extend(abort.encode().unwrap());
    let result = run(answer, "host.terminal_diagnosis", "tcp").unwrap();
    let f = &result.findings[0];
    assert_eq!(
        (f.verdict(), f.reason.as_str()),
        (pb::Verdict::Critical, "host.unreachable")
    );
    assert_eq!(text(f, "result_code"), Some("A3"));
    assert_eq!(text(f, "result_meaning"), Some("no connection"));
    assert_eq!(text(f, "extended_error"), Some("1234"));
    assert_eq!(text(f, "error_text"), Some("no route for 411111******1111"));
}

#[test]
fn the_manifest_matches_the_descriptor() {
    let manifest: toml::Table = include_str!("../manifest.toml").parse().unwrap();
    let strings = |key: &str| -> Vec<String> {
        manifest[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(manifest["id"].as_str(), Some(posdiag_plugin_zvt::PLUGIN_ID));
    assert_eq!(
        manifest["version"].as_str(),
        Some(env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(manifest["abi"].as_str(), Some("posdiag-c-v1"));
    assert_eq!(
        manifest["library"].as_str(),
        Some("libposdiag_plugin_zvt.so")
    );
    assert_eq!(strings("checks"), posdiag_plugin_zvt::CHECKS);
    assert_eq!(strings("on_demand"), ["reader.read_card"]);
}
