//! The host simulator answering ISO 8583 as a client sees it: echo tests over real loopback
//! sockets in the ascii, binary and cup dialects, with the scenario's field 39 (00, 91, the
//! 90 cutover window), silence, and malformed requests closing the connection. Every read is
//! bounded by a timeout; nothing sleeps for readiness.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::path::Path;
use std::time::Duration;

use posdiag_core::iso8583::{Dialect, FrameReader, Message, NetworkRequest, is_response_to};
use posdiag_sim::host::{self, Answer, Fault, HostSimConfig, RunningHost};
use posdiag_sim::iso8583::{HostState, IsoHost, IsoScenario, Window};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Bound on reads that are expected to succeed.
const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Bound on a read that is expected to time out (a silent host).
const SILENT_TIMEOUT: Duration = Duration::from_millis(300);

async fn start(dialect: Dialect, scenario: IsoScenario) -> (RunningHost, IsoHost) {
    start_with_fault(dialect, scenario, Fault::Healthy).await
}

async fn start_with_fault(
    dialect: Dialect,
    scenario: IsoScenario,
    fault: Fault,
) -> (RunningHost, IsoHost) {
    let iso = IsoHost::new(dialect, scenario).unwrap();
    let running = host::start(HostSimConfig {
        answer: Answer::Iso8583(iso.clone()),
        fault,
        ..HostSimConfig::default()
    })
    .await
    .unwrap();
    (running, iso)
}

/// Sends `request` and reads one framed answer; `None` if nothing came within `timeout`.
async fn exchange(
    stream: &mut TcpStream,
    dialect: &Dialect,
    request: &Message,
    timeout: Duration,
) -> Option<Message> {
    stream
        .write_all(&dialect.encode_framed(request).unwrap())
        .await
        .unwrap();
    let mut reader = FrameReader::new(dialect.length_prefix(), 8192);
    let mut buf = [0_u8; 1024];
    let read = async {
        loop {
            if let Some(frame) = reader.next_frame().unwrap() {
                return dialect.decode(&frame).unwrap();
            }
            let n = stream.read(&mut buf).await.unwrap();
            assert!(n > 0, "the host closed the connection");
            reader.push(&buf[..n]);
        }
    };
    tokio::time::timeout(timeout, read).await.ok()
}

async fn echo(running: &RunningHost, dialect: &Dialect, stan: u32) -> Option<Message> {
    let mut stream = TcpStream::connect(running.addr()).await.unwrap();
    let request = NetworkRequest::echo(stan, "1122083015")
        .build(dialect)
        .unwrap();
    let response = exchange(&mut stream, dialect, &request, READ_TIMEOUT).await?;
    assert!(
        is_response_to(&request, &response),
        "{response} does not answer {request}"
    );
    Some(response)
}

#[tokio::test]
async fn every_dialect_answers_the_echo_test_with_00() {
    for dialect in [Dialect::ascii(), Dialect::binary(), Dialect::cup()] {
        let (running, iso) = start(dialect.clone(), IsoScenario::default()).await;
        let response = echo(&running, &dialect, 123).await.unwrap();
        assert_eq!(response.response_code(), Some("00"), "{}", dialect.name());
        let expected_mti = if dialect.name() == "cup" {
            "0830"
        } else {
            "0810"
        };
        assert_eq!(response.mti().as_str(), expected_mti);
        if dialect.name() == "cup" {
            // The TPDU comes back with source and destination swapped.
            let tpdu = response.cup().unwrap().tpdu;
            assert_eq!((tpdu.destination, tpdu.source), (0x0000, 0x0003));
        } else {
            assert_eq!(response.text(7), Some("1122083015"));
        }
        assert_eq!(iso.answered(), 1);
        running.shutdown().await;
    }
}

#[tokio::test]
async fn several_requests_on_one_connection_are_answered_in_order() {
    let dialect = Dialect::binary();
    let (running, _iso) = start(dialect.clone(), IsoScenario::default()).await;
    let mut stream = TcpStream::connect(running.addr()).await.unwrap();
    for stan in 1..=3 {
        let request = NetworkRequest::echo(stan, "1122083015")
            .build(&dialect)
            .unwrap();
        let response = exchange(&mut stream, &dialect, &request, READ_TIMEOUT)
            .await
            .unwrap();
        assert!(is_response_to(&request, &response));
    }
    let sign_on = NetworkRequest::sign_on(4, "1122083015")
        .build(&dialect)
        .unwrap();
    let response = exchange(&mut stream, &dialect, &sign_on, READ_TIMEOUT)
        .await
        .unwrap();
    assert_eq!(
        (response.response_code(), response.text(70)),
        (Some("00"), Some("001"))
    );
    running.shutdown().await;
}

#[tokio::test]
async fn issuer_down_answers_91_and_the_state_changes_while_running() {
    for dialect in [Dialect::ascii(), Dialect::binary(), Dialect::cup()] {
        let scenario = IsoScenario {
            state: HostState::IssuerDown,
            ..IsoScenario::default()
        };
        let (running, iso) = start(dialect.clone(), scenario).await;
        let response = echo(&running, &dialect, 7).await.unwrap();
        assert_eq!(response.response_code(), Some("91"), "{}", dialect.name());
        iso.set_state(HostState::Normal);
        let response = echo(&running, &dialect, 8).await.unwrap();
        assert_eq!(response.response_code(), Some("00"), "{}", dialect.name());
        iso.set_field39("96").unwrap();
        let response = echo(&running, &dialect, 9).await.unwrap();
        assert_eq!(response.response_code(), Some("96"), "{}", dialect.name());
        running.shutdown().await;
    }
}

#[tokio::test]
async fn cutover_window_answers_90() {
    for dialect in [Dialect::ascii(), Dialect::binary(), Dialect::cup()] {
        // A window covering the whole test, so no timing is involved.
        let scenario = IsoScenario {
            windows: vec![Window {
                state: HostState::Cutover,
                start: Duration::ZERO,
                duration: Duration::from_secs(3600),
            }],
            ..IsoScenario::default()
        };
        let (running, iso) = start(dialect.clone(), scenario).await;
        assert_eq!(iso.current_state(), HostState::Cutover);
        let response = echo(&running, &dialect, 1).await.unwrap();
        assert_eq!(response.response_code(), Some("90"), "{}", dialect.name());
        running.shutdown().await;
    }
}

#[tokio::test]
async fn silent_host_leaves_the_client_to_its_read_timeout() {
    for dialect in [Dialect::ascii(), Dialect::binary(), Dialect::cup()] {
        let scenario = IsoScenario {
            state: HostState::Silent,
            ..IsoScenario::default()
        };
        let (running, iso) = start(dialect.clone(), scenario).await;
        let mut stream = TcpStream::connect(running.addr()).await.unwrap();
        let request = NetworkRequest::echo(1, "1122083015")
            .build(&dialect)
            .unwrap();
        let got = exchange(&mut stream, &dialect, &request, SILENT_TIMEOUT).await;
        assert!(got.is_none(), "{}: {got:?}", dialect.name());
        assert_eq!(iso.answered(), 0);
        running.shutdown().await;
    }
}

#[tokio::test]
async fn per_mti_codes_and_the_1993_dialect() {
    let scenario = IsoScenario::from_toml("[field39_by_mti]\n\"0200\" = \"05\"\n").unwrap();
    let dialect = Dialect::ascii();
    let (running, _iso) = start(dialect.clone(), scenario).await;
    let mut stream = TcpStream::connect(running.addr()).await.unwrap();
    let purchase = Message::new(posdiag_core::iso8583::Mti::new("0200").unwrap())
        .with(11, "000010")
        .unwrap();
    let response = exchange(&mut stream, &dialect, &purchase, READ_TIMEOUT)
        .await
        .unwrap();
    assert_eq!(response.response_code(), Some("05"));
    let auth = Message::new(posdiag_core::iso8583::Mti::new("0100").unwrap())
        .with(11, "000011")
        .unwrap();
    let response = exchange(&mut stream, &dialect, &auth, READ_TIMEOUT)
        .await
        .unwrap();
    assert_eq!(
        response.response_code(),
        Some("12"),
        "not network management"
    );
    running.shutdown().await;

    let dialect = Dialect::ascii_1993();
    let (running, _iso) = start(dialect.clone(), IsoScenario::default()).await;
    let response = echo(&running, &dialect, 5).await.unwrap();
    assert_eq!(response.mti().as_str(), "1814");
    assert_eq!(response.response_code(), Some("800"));
    running.shutdown().await;
}

/// Reads until the host closes; fails if it answers anything or stays open too long.
async fn expect_closed(stream: &mut TcpStream) {
    let mut rest = Vec::new();
    let read = tokio::time::timeout(READ_TIMEOUT, stream.read_to_end(&mut rest)).await;
    let read = read.expect("the host kept the connection open");
    // A reset is as good as a close here.
    if read.is_ok() {
        assert!(rest.is_empty(), "got an answer: {rest:?}");
    }
}

#[tokio::test]
async fn malformed_requests_close_the_connection_without_an_answer() {
    let dialect = Dialect::ascii();
    let (running, iso) = start(dialect.clone(), IsoScenario::default()).await;
    let framed = |body: &[u8]| posdiag_core::iso8583::frame(dialect.length_prefix(), body).unwrap();
    let cases: [Vec<u8>; 4] = [
        // Bitmap that is not hex.
        framed(b"0800ZZ20000000000000000001"),
        // Field 11 with a letter.
        framed(b"08000020000000000000000x01"),
        // A response sent to the host.
        framed(b"08100020000000000000000123"),
        // A length prefix over the limit.
        b"\xff\xff0800".to_vec(),
    ];
    for bytes in cases {
        let mut stream = TcpStream::connect(running.addr()).await.unwrap();
        stream.write_all(&bytes).await.unwrap();
        expect_closed(&mut stream).await;
    }
    assert_eq!(iso.answered(), 0);
    // The host still serves well-formed requests.
    assert!(echo(&running, &dialect, 1).await.is_some());
    running.shutdown().await;
}

#[tokio::test]
async fn host_faults_still_apply_in_iso_mode() {
    let dialect = Dialect::ascii();
    let (running, iso) =
        start_with_fault(dialect.clone(), IsoScenario::default(), Fault::Reset).await;
    let mut stream = TcpStream::connect(running.addr()).await.unwrap();
    let request = NetworkRequest::echo(1, "1122083015")
        .build(&dialect)
        .unwrap();
    // The write may already fail on the reset socket; either way no answer arrives.
    let _ = stream
        .write_all(&dialect.encode_framed(&request).unwrap())
        .await;
    expect_closed(&mut stream).await;
    assert_eq!(iso.answered(), 0);
    running.shutdown().await;
}

#[test]
fn example_scenarios_load() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut loaded = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("host-") && name.ends_with(".toml") {
            let scenario = IsoScenario::load(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
            let dialect = Dialect::by_name(scenario.dialect.as_deref().unwrap_or("ascii")).unwrap();
            IsoHost::new(dialect, scenario).unwrap_or_else(|e| panic!("{name}: {e}"));
            loaded += 1;
        }
    }
    assert!(loaded >= 4);
}
