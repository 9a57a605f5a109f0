//! The nexo terminal simulator as a sale system sees it: Diagnosis over real HTTP and HTTPS
//! on loopback, with tokio sockets and posdiag-core's HTTP helper as the client, for a healthy
//! terminal, a card reader fault, an unreachable acquirer, a maintenance window, HTTP 500 and
//! the other faults. Every read is bounded by a timeout; nothing sleeps for readiness.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use posdiag_core::nexo::http::{HttpLimits, HttpMessage, HttpParser, post_request};
use posdiag_core::nexo::{
    DiagnosisRequest, DiagnosisResponse, ErrorCondition, GlobalStatus, HostStatus, MessageHeader,
    MessageType, NexoError, PrinterStatus, ResponseBody, ResultCode, SaleToPOIRequest,
    SaleToPOIResponse,
};
use posdiag_sim::nexo::{self, NexoFault, NexoScenario, NexoSimConfig, RunningNexo, SimHost};
use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

const READ_TIMEOUT: Duration = Duration::from_secs(10);
const SILENT_TIMEOUT: Duration = Duration::from_millis(300);

async fn start(scenario: NexoScenario, tls: bool) -> RunningNexo {
    nexo::start(NexoSimConfig {
        scenario,
        tls,
        ..NexoSimConfig::default()
    })
    .await
    .unwrap()
}

fn diagnosis_request(service_id: &str, host_diagnosis: bool, acquirers: &[&str]) -> Vec<u8> {
    let header =
        MessageHeader::diagnosis_request("POSSystemID12345", service_id, "V400m-324688179");
    SaleToPOIRequest::diagnosis(
        header,
        DiagnosisRequest {
            poi_id: None,
            host_diagnosis,
            acquirer_ids: acquirers.iter().map(|a| (*a).to_owned()).collect(),
        },
    )
    .encode()
}

/// POSTs `body` to /nexo and reads one response; `None` if none came within `timeout`.
async fn post<S: AsyncRead + AsyncWrite + Unpin>(
    io: &mut S,
    body: &[u8],
    timeout: Duration,
) -> Option<HttpMessage> {
    io.write_all(&post_request("localhost:8443", "/nexo", &[], body))
        .await
        .unwrap();
    let mut parser = HttpParser::response(HttpLimits::default());
    let mut buf = [0_u8; 4096];
    let read = async {
        loop {
            if let Some(message) = parser.next_message().unwrap() {
                return message;
            }
            let n = io.read(&mut buf).await.unwrap();
            if n == 0 {
                return parser.finish().unwrap().expect("closed before a response");
            }
            parser.push(&buf[..n]);
        }
    };
    tokio::time::timeout(timeout, read).await.ok()
}

async fn post_plain(running: &RunningNexo, body: &[u8]) -> HttpMessage {
    let mut stream = TcpStream::connect(running.addr()).await.unwrap();
    post(&mut stream, body, READ_TIMEOUT)
        .await
        .expect("no answer")
}

fn diagnosis(http: &HttpMessage) -> (SaleToPOIResponse, DiagnosisResponse) {
    assert_eq!(http.status(), Some(200));
    assert_eq!(http.header("content-type"), Some("application/json"));
    let response = SaleToPOIResponse::parse(&http.body).unwrap();
    let ResponseBody::Diagnosis(d) = response.body.clone() else {
        panic!("not a diagnosis: {response:?}");
    };
    (response, d)
}

fn assert_healthy(response: &SaleToPOIResponse, d: &DiagnosisResponse, service_id: &str) {
    assert_eq!(response.header.message_type, MessageType::Response);
    assert_eq!(response.header.service_id, service_id);
    assert_eq!(response.header.sale_id, "POSSystemID12345");
    assert_eq!(d.response.result, ResultCode::Success);
    let poi = d.poi_status.as_ref().unwrap();
    assert_eq!(poi.global_status, GlobalStatus::Ok);
    assert_eq!(poi.card_reader_ok, Some(true));
    assert_eq!(poi.ped_ok, Some(true));
    assert_eq!(poi.communication_ok, Some(true));
    assert_eq!(poi.printer_status, Some(PrinterStatus::Ok));
    assert_eq!(
        d.host_status,
        [HostStatus {
            acquirer_id: "0".to_owned(),
            is_reachable: true
        }]
    );
    let extra = d.response.additional();
    assert_eq!(extra.battery_level(), Some(100));
    assert_eq!(extra.unconfirmed_batch_count(), Some(0));
}

#[tokio::test]
async fn healthy_terminal_over_http() {
    let running = start(NexoScenario::default(), false).await;
    let http = post_plain(&running, &diagnosis_request("1", true, &[])).await;
    let (response, d) = diagnosis(&http);
    assert_healthy(&response, &d, "1");
    assert!(running.url().starts_with("http://localhost:"));
    running.shutdown().await;
}

#[tokio::test]
async fn healthy_terminal_over_https_trusting_the_ca_pem() {
    let running = start(NexoScenario::default(), true).await;
    // Trust the CA the way a client given --ca-out would: from the PEM text.
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(running.ca_pem().unwrap().as_bytes()).unwrap())
        .unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = TlsConnector::from(Arc::new(config));
    let tcp = TcpStream::connect(running.addr()).await.unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let mut tls = tokio::time::timeout(READ_TIMEOUT, connector.connect(name, tcp))
        .await
        .unwrap()
        .unwrap();
    // Two requests on one kept-alive connection.
    for id in ["10", "11"] {
        let http = post(&mut tls, &diagnosis_request(id, true, &[]), READ_TIMEOUT)
            .await
            .unwrap();
        let (response, d) = diagnosis(&http);
        assert_healthy(&response, &d, id);
    }
    assert!(running.url().starts_with("https://localhost:"));
    running.shutdown().await;
}

#[tokio::test]
async fn card_reader_fault_set_while_running() {
    let running = start(NexoScenario::default(), false).await;
    running.terminal().update(|s| {
        s.card_reader_ok = Some(false);
        s.printer_status = Some(PrinterStatus::PaperLow);
        s.battery_level = Some(5);
    });
    let (_, d) = diagnosis(&post_plain(&running, &diagnosis_request("2", false, &[])).await);
    let poi = d.poi_status.unwrap();
    assert_eq!(poi.card_reader_ok, Some(false));
    assert_eq!(poi.printer_status, Some(PrinterStatus::PaperLow));
    assert_eq!(d.response.additional().battery_level(), Some(5));
    assert!(d.host_status.is_empty(), "no host diagnosis was asked for");
    running.shutdown().await;
}

#[tokio::test]
async fn unreachable_acquirer_shows_in_host_status() {
    let scenario = NexoScenario {
        hosts: vec![
            SimHost {
                acquirer_id: "0".to_owned(),
                reachable: true,
            },
            SimHost {
                acquirer_id: "acquirer-b".to_owned(),
                reachable: false,
            },
        ],
        ..NexoScenario::default()
    };
    let running = start(scenario, false).await;
    let (_, d) = diagnosis(&post_plain(&running, &diagnosis_request("3", true, &[])).await);
    assert_eq!(d.host_status.len(), 2);
    assert!(!d.host_status[1].is_reachable);
    // AcquirerID limits the diagnosis.
    let (_, d) =
        diagnosis(&post_plain(&running, &diagnosis_request("4", true, &["acquirer-b"])).await);
    assert_eq!(
        d.host_status,
        [HostStatus {
            acquirer_id: "acquirer-b".to_owned(),
            is_reachable: false
        }]
    );
    running.shutdown().await;
}

#[tokio::test]
async fn maintenance_window() {
    let running = start(
        NexoScenario {
            maintenance: true,
            ..NexoScenario::default()
        },
        false,
    )
    .await;
    let (_, d) = diagnosis(&post_plain(&running, &diagnosis_request("5", false, &[])).await);
    assert_eq!(
        d.poi_status.unwrap().global_status,
        GlobalStatus::Maintenance
    );
    running.terminal().update(|s| s.maintenance = false);
    let (_, d) = diagnosis(&post_plain(&running, &diagnosis_request("6", false, &[])).await);
    assert_eq!(d.poi_status.unwrap().global_status, GlobalStatus::Ok);
    running.shutdown().await;
}

#[tokio::test]
async fn http_500_and_garbage_bodies() {
    let running = start(
        NexoScenario {
            fault: NexoFault::Http500,
            ..NexoScenario::default()
        },
        false,
    )
    .await;
    let http = post_plain(&running, &diagnosis_request("7", false, &[])).await;
    assert_eq!(http.status(), Some(500));
    running.terminal().update(|s| s.fault = NexoFault::Garbage);
    let http = post_plain(&running, &diagnosis_request("8", false, &[])).await;
    assert_eq!(http.status(), Some(200));
    assert!(matches!(
        SaleToPOIResponse::parse(&http.body),
        Err(NexoError::Json(_))
    ));
    running.shutdown().await;
}

#[tokio::test]
async fn no_answer_leaves_the_client_to_its_read_timeout() {
    let running = start(
        NexoScenario {
            fault: NexoFault::NoAnswer,
            ..NexoScenario::default()
        },
        false,
    )
    .await;
    let mut stream = TcpStream::connect(running.addr()).await.unwrap();
    let got = post(
        &mut stream,
        &diagnosis_request("9", false, &[]),
        SILENT_TIMEOUT,
    )
    .await;
    assert!(got.is_none(), "{got:?}");
    assert_eq!(running.terminal().requests(), 1);
    running.shutdown().await;
}

#[tokio::test]
async fn duplicates_unknown_requests_and_bad_json_get_errors() {
    let running = start(NexoScenario::default(), false).await;
    let first = post_plain(&running, &diagnosis_request("42", false, &[])).await;
    assert_eq!(diagnosis(&first).1.response.result, ResultCode::Success);
    // The same SaleID + ServiceID again.
    let again = post_plain(&running, &diagnosis_request("42", false, &[])).await;
    let response = SaleToPOIResponse::parse(&again.body).unwrap();
    let r = response.response().unwrap();
    assert_eq!(r.result, ResultCode::Failure);
    assert_eq!(r.error_condition, Some(ErrorCondition::NotAllowed));
    assert_eq!(
        r.additional().get("message"),
        Some("Duplicate SaleID and ServiceID")
    );

    let payment = String::from_utf8(diagnosis_request("43", false, &[]))
        .unwrap()
        .replace("DiagnosisRequest", "PaymentRequest");
    let http = post_plain(&running, payment.as_bytes()).await;
    let response = SaleToPOIResponse::parse(&http.body).unwrap();
    assert_eq!(response.body.name(), "PaymentResponse");
    assert_eq!(
        response.response().unwrap().error_condition,
        Some(ErrorCondition::NotAllowed)
    );

    let broken = String::from_utf8(diagnosis_request("44", false, &[]))
        .unwrap()
        .replace("\"HostDiagnosisFlag\":false", "\"HostDiagnosisFlag\":7");
    let http = post_plain(&running, broken.as_bytes()).await;
    let r = SaleToPOIResponse::parse(&http.body)
        .unwrap()
        .response()
        .unwrap();
    assert_eq!(r.error_condition, Some(ErrorCondition::MessageFormat));

    let http = post_plain(&running, b"{not json").await;
    assert_eq!(http.status(), Some(400));
    running.shutdown().await;
}

#[test]
fn example_scenarios_load() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut loaded = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("nexo-") && name.ends_with(".toml") {
            NexoScenario::load(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
            loaded += 1;
        }
    }
    assert!(loaded >= 5);
}
