//! The host simulator as a client sees it: real tokio sockets on loopback, one test per fault
//! mode and TLS certificate.
#![allow(
    clippy::unwrap_used,
    reason = "helpers outside #[test] fns; a panic is the test failing"
)]

use std::io::ErrorKind;
use std::sync::Arc;
use std::time::Duration;

use posdiag_sim::host::{self, Answer, Fault, HostSimConfig, RunningHost, TlsMode};
use posdiag_sim::pki::Pki;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{CertificateError, ClientConfig, RootCertStore};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

async fn start(fault: Fault) -> RunningHost {
    host::start(HostSimConfig {
        fault,
        ..HostSimConfig::default()
    })
    .await
    .unwrap()
}

/// Writes `request` and reads until `expected_len` bytes arrived or the peer closed.
async fn round_trip(stream: &mut TcpStream, request: &[u8], expected_len: usize) -> Vec<u8> {
    stream.write_all(request).await.unwrap();
    let mut got = vec![0; expected_len];
    stream.read_exact(&mut got).await.unwrap();
    got
}

#[tokio::test]
async fn healthy_host_echoes() {
    let host = start(Fault::Healthy).await;
    let mut stream = TcpStream::connect(host.addr()).await.unwrap();
    assert_eq!(round_trip(&mut stream, b"ping", 4).await, b"ping");
    assert_eq!(round_trip(&mut stream, b"pong!", 5).await, b"pong!");
    assert_eq!(host.connections(), 1);
    host.shutdown().await;
}

#[tokio::test]
async fn reply_mode_answers_matching_requests_and_closes_on_others() {
    let host = host::start(HostSimConfig {
        answer: Answer::Reply {
            expect_prefix: b"\x02PING".to_vec(),
            reply: b"\x06".to_vec(),
        },
        ..HostSimConfig::default()
    })
    .await
    .unwrap();

    let mut good = TcpStream::connect(host.addr()).await.unwrap();
    // The prefix split over two writes still counts as one request.
    good.write_all(b"\x02PI").await.unwrap();
    good.flush().await.unwrap();
    assert_eq!(round_trip(&mut good, b"NG\x03", 1).await, b"\x06");

    let mut bad = TcpStream::connect(host.addr()).await.unwrap();
    bad.write_all(b"HELLO").await.unwrap();
    let mut rest = Vec::new();
    bad.read_to_end(&mut rest).await.unwrap();
    assert!(rest.is_empty(), "got {rest:?}");
    host.shutdown().await;
}

#[tokio::test]
async fn refusing_host_refuses() {
    let host = start(Fault::Refusing).await;
    let err = TcpStream::connect(host.addr()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
    host.shutdown().await;
}

#[tokio::test]
async fn resetting_host_resets() {
    let host = start(Fault::Reset).await;
    let mut stream = TcpStream::connect(host.addr()).await.unwrap();
    let mut buf = [0; 16];
    let err = stream.read(&mut buf).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionReset);
    host.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn stalling_host_accepts_but_never_answers() {
    let host = start(Fault::Stall).await;
    let mut stream = TcpStream::connect(host.addr()).await.unwrap();
    stream.write_all(b"ping").await.unwrap();
    let mut buf = [0; 16];
    let read = tokio::time::timeout(Duration::from_secs(30), stream.read(&mut buf)).await;
    assert!(read.is_err(), "expected no answer, got {read:?}");
    // Shutdown releases the stalled connection: the client now sees it closed.
    host.shutdown().await;
    let after = stream.read(&mut buf).await;
    assert!(
        matches!(after, Ok(0)) || after.is_err(),
        "expected the stalled connection closed, got {after:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn slow_host_answers_only_after_its_delay() {
    let host = start(Fault::Slow {
        delay: Duration::from_secs(5),
    })
    .await;
    let mut stream = TcpStream::connect(host.addr()).await.unwrap();
    stream.write_all(b"ping").await.unwrap();
    let mut buf = [0; 4];
    let early = tokio::time::timeout(Duration::from_secs(2), stream.read_exact(&mut buf)).await;
    assert!(early.is_err(), "answered before the delay: {early:?}");
    // No timeout here: paused time jumps to the host's own timer once everything is idle.
    stream.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"ping");
    host.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn jittery_host_answers_within_base_plus_spread() {
    let host = host::start(HostSimConfig {
        fault: Fault::Jitter {
            base: Duration::from_secs(1),
            spread: Duration::from_secs(2),
        },
        seed: Some(3),
        ..HostSimConfig::default()
    })
    .await
    .unwrap();
    let mut stream = TcpStream::connect(host.addr()).await.unwrap();
    for _ in 0..3 {
        stream.write_all(b"ping").await.unwrap();
        let mut buf = [0; 4];
        let early =
            tokio::time::timeout(Duration::from_millis(500), stream.read_exact(&mut buf)).await;
        assert!(early.is_err(), "answered before the base delay");
        stream.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"ping");
    }
    host.shutdown().await;
}

#[tokio::test]
async fn flaky_host_drops_about_the_requested_share() {
    let host = host::start(HostSimConfig {
        fault: Fault::Flaky { drop_ratio: 0.4 },
        seed: Some(7),
        ..HostSimConfig::default()
    })
    .await
    .unwrap();
    let mut dropped = 0;
    for _ in 0..50 {
        let mut stream = TcpStream::connect(host.addr()).await.unwrap();
        let mut buf = [0; 4];
        let answered = match stream.write_all(b"ping").await {
            Ok(()) => stream.read_exact(&mut buf).await.is_ok() && &buf == b"ping",
            Err(_) => false,
        };
        if !answered {
            dropped += 1;
        }
    }
    assert!((8..=32).contains(&dropped), "dropped {dropped} of 50");
    assert_eq!(host.connections(), 50);
    host.shutdown().await;
}

fn client_trusting(ca_pem: &str) -> TlsConnector {
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(ca_pem.as_bytes()).unwrap())
        .unwrap();
    let config =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
    TlsConnector::from(Arc::new(config))
}

async fn tls_handshake(
    host: &RunningHost,
    name: &'static str,
) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let connector = client_trusting(host.ca_pem().unwrap());
    let tcp = TcpStream::connect(host.addr()).await?;
    connector
        .connect(ServerName::try_from(name).unwrap(), tcp)
        .await
}

fn certificate_error(err: &std::io::Error) -> CertificateError {
    match err
        .get_ref()
        .and_then(|e| e.downcast_ref::<rustls::Error>())
    {
        Some(rustls::Error::InvalidCertificate(cert)) => cert.clone(),
        other => panic!("expected a certificate error, got {other:?} ({err})"),
    }
}

async fn start_tls(tls: TlsMode, pki: &Arc<Pki>) -> RunningHost {
    host::start(HostSimConfig {
        tls,
        pki: Some(pki.clone()),
        ..HostSimConfig::default()
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn tls_valid_handshake_succeeds_and_echoes() {
    let host = host::start(HostSimConfig {
        tls: TlsMode::Valid,
        ..HostSimConfig::default()
    })
    .await
    .unwrap();
    assert_eq!(host.server_name(), "localhost");
    let mut tls = tls_handshake(&host, "localhost").await.unwrap();
    tls.write_all(b"ping").await.unwrap();
    tls.flush().await.unwrap();
    let mut buf = [0; 4];
    tls.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"ping");
    host.shutdown().await;
}

#[tokio::test]
async fn tls_certificates_are_checked_for_expiry_and_name() {
    // One PKI for several hosts: a client trusting its CA reaches all of them.
    let pki = Arc::new(Pki::generate().unwrap());
    let valid = start_tls(TlsMode::Valid, &pki).await;
    let expired = start_tls(TlsMode::Expired, &pki).await;
    let wrong_host = start_tls(TlsMode::WrongHost, &pki).await;
    assert_eq!(valid.ca_pem(), expired.ca_pem());

    tls_handshake(&valid, "127.0.0.1").await.unwrap();

    let err = tls_handshake(&expired, "localhost").await.unwrap_err();
    let cert = certificate_error(&err);
    assert!(
        matches!(
            cert,
            CertificateError::Expired | CertificateError::ExpiredContext { .. }
        ),
        "{cert:?}"
    );

    let err = tls_handshake(&wrong_host, "localhost").await.unwrap_err();
    let cert = certificate_error(&err);
    assert!(
        matches!(
            cert,
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. }
        ),
        "{cert:?}"
    );
    // The name the host reports is the one its certificate is valid for.
    assert_eq!(wrong_host.server_name(), "wrong.example");
    tls_handshake(&wrong_host, "wrong.example").await.unwrap();

    for host in [valid, expired, wrong_host] {
        host.shutdown().await;
    }
}

#[tokio::test(start_paused = true)]
async fn tls_stall_never_starts_the_handshake() {
    let host = host::start(HostSimConfig {
        fault: Fault::Stall,
        tls: TlsMode::Valid,
        ..HostSimConfig::default()
    })
    .await
    .unwrap();
    let handshake =
        tokio::time::timeout(Duration::from_secs(30), tls_handshake(&host, "localhost")).await;
    assert!(handshake.is_err(), "expected a stalled handshake");
    host.shutdown().await;
}
