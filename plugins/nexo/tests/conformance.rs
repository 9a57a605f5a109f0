//! Conformance: the DiagnosisResponse published in Adyen's documentation, served by a fake
//! terminal as an HTTP 200 answer, yields the documented health data; and the request the
//! plugin sends is a well-formed nexo DiagnosisRequest.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod common;

use common::{FakeTerminal, about, assert_well_formed, number_of, text_of, verdict};
use posdiag_core::nexo::http;
use posdiag_core::nexo::{RequestBody, SaleToPOIRequest};
use posdiag_plugin_api::pb::Verdict;
use posdiag_plugin_api::sdk::Host;
use posdiag_plugin_nexo::diagnosis;

const ADYEN_DOCS_RESPONSE: &[u8] = include_bytes!(
    "../../../crates/posdiag-core/tests/fixtures/nexo/diagnosis-response-adyen-docs.json"
);

#[test]
fn adyen_docs_response_yields_battery_and_firmware() {
    let terminal =
        FakeTerminal::new(|_| http::response(200, "OK", "application/json", ADYEN_DOCS_RESPONSE));
    let requests = terminal.requests.clone();
    let host = Host::from_backend(terminal);
    let args = vec![
        ("tls".to_owned(), "false".to_owned()),
        ("poi_id".to_owned(), "V400m-346403161".to_owned()),
    ];
    let f = diagnosis::run(&host, &common::request("tcp:192.0.2.10:8443", args))
        .unwrap()
        .findings;
    assert_well_formed(&f);

    let t = about(&f, "terminal T1");
    assert_eq!(verdict(t), (Verdict::Ok, "ok"));
    assert_eq!(number_of(t, "battery_level"), Some(100.0));
    assert_eq!(
        t.evidence
            .iter()
            .find(|e| e.name == "battery_level")
            .unwrap()
            .unit,
        "percent"
    );
    assert_eq!(text_of(t, "firmware_version"), Some("adyen_v1_49p5"));
    assert_eq!(number_of(t, "unconfirmed_batch_count"), Some(0.0));
    assert_eq!(text_of(t, "terminal_id"), Some("V400m-346403161"));
    assert_eq!(text_of(t, "network_interfaces"), Some("wlan0 192.168.2.2"));
    assert_eq!(text_of(t, "network_addresses"), Some("192.168.2.2"));
    assert_eq!(
        verdict(about(&f, "terminal T1 communication")),
        (Verdict::Ok, "ok")
    );
    assert_eq!(
        verdict(about(&f, "terminal T1 printer")),
        (Verdict::Ok, "ok")
    );
    assert_eq!(verdict(about(&f, "acquirer 0")), (Verdict::Ok, "ok"));
    // Only the flags the terminal reported become findings.
    assert!(f.iter().all(|x| x.subject != "terminal T1 card reader"));

    let sent = &requests.borrow()[0];
    assert_eq!(sent.request_line(), Some(("POST", "/nexo")));
    assert_eq!(sent.header("host"), Some("192.0.2.10:8443"));
    let request = SaleToPOIRequest::parse(&sent.body).unwrap();
    assert_eq!(request.header.sale_id, "posdiag");
    assert_eq!(request.header.poi_id, "V400m-346403161");
    assert_eq!(request.header.service_id.len(), 10);
    let RequestBody::Diagnosis(d) = &request.body else {
        panic!("not a DiagnosisRequest: {request:?}");
    };
    assert!(d.host_diagnosis);
}

#[test]
fn a_failure_answer_is_explained() {
    let terminal = FakeTerminal::new(|request| {
        let request = SaleToPOIRequest::parse(&request.body).unwrap();
        let answer = posdiag_core::nexo::SaleToPOIResponse::failure(
            &request.header,
            "DiagnosisRequest",
            posdiag_core::nexo::ErrorCondition::UnreachableHost,
            Some("no route"),
        );
        http::response(200, "OK", "application/json", &answer.encode())
    });
    let host = Host::from_backend(terminal);
    let args = vec![("tls".to_owned(), "false".to_owned())];
    let f = diagnosis::run(&host, &common::request("tcp:192.0.2.10:80", args))
        .unwrap()
        .findings;
    let t = about(&f, "terminal T1");
    assert_eq!(verdict(t), (Verdict::Critical, "host.unreachable"));
    assert_eq!(text_of(t, "error_condition"), Some("UnreachableHost"));
    assert_eq!(text_of(t, "message"), Some("no route"));
    assert!(
        t.summary_en.contains("acquirer host is unreachable"),
        "{t:?}"
    );
    assert!(t.remedies.len() >= 2);
}

#[test]
fn a_link_that_is_not_tcp_is_refused() {
    let host = Host::from_backend(FakeTerminal::new(|_| Vec::new()));
    let mut req = common::request("/dev/ttyUSB0", Vec::new());
    req.link_kind = "serial".into();
    assert!(diagnosis::run(&host, &req).is_err());
}
