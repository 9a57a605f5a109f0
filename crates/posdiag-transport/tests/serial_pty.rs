//! Serial links over real pseudo-terminals: the master side plays the
//! terminal, the link opens the slave path as it would /dev/ttyUSB0.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::io::{Read as _, Write as _};
use std::time::Duration;

use posdiag_transport::{
    DataBits, Link, LinkErrorKind, LinkKind, Parity, SerialSettings, StopBits,
};
use serialport::{SerialPort as _, TTYPort};
use tokio::time::{Instant, timeout};

/// Bounds every await so a bug fails the test instead of hanging it.
const BOUND: Duration = Duration::from_secs(20);

fn far() -> Instant {
    Instant::now() + Duration::from_secs(10)
}

/// A pty pair; the slave path is what the link opens. The pair's own slave
/// handle is dropped: the link's open is the one that counts.
fn pty() -> (TTYPort, String) {
    let (mut master, slave) = TTYPort::pair().expect("pseudo-terminal pair");
    master.set_timeout(Duration::from_secs(10)).unwrap();
    let path = slave.name().expect("slave path");
    drop(slave);
    (master, path)
}

fn master_read(master: &mut TTYPort, n: usize) -> Vec<u8> {
    let mut got = vec![0u8; n];
    master.read_exact(&mut got).unwrap();
    got
}

async fn link_read(link: &mut Link, n: usize) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 64];
    while got.len() < n {
        let k = timeout(BOUND, link.read(&mut buf, far()))
            .await
            .unwrap()
            .unwrap();
        assert!(k >= 1);
        got.extend_from_slice(&buf[..k]);
    }
    got
}

async fn open(path: &str, settings: &SerialSettings) -> Link {
    timeout(BOUND, Link::open_serial(path, settings, far()))
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test]
async fn bytes_flow_both_ways() {
    let (mut master, path) = pty();
    let mut link = open(&path, &SerialSettings::default()).await;
    assert_eq!(link.kind(), LinkKind::Serial);
    assert_eq!(link.describe(), format!("serial {path} 9600 8N2"));

    timeout(BOUND, link.write_all(b"\x10\x02hello\x10\x03", far()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(master_read(&mut master, 9), b"\x10\x02hello\x10\x03");

    master.write_all(b"\x06answer").unwrap();
    assert_eq!(link_read(&mut link, 7).await, b"\x06answer");

    timeout(BOUND, link.close(far())).await.unwrap().unwrap();
}

#[tokio::test]
async fn a_silent_port_times_out_at_the_deadline() {
    let (_master, path) = pty();
    let mut link = open(&path, &SerialSettings::default()).await;
    let mut buf = [0u8; 8];
    let deadline = Instant::now() + Duration::from_millis(150);
    let err = timeout(BOUND, link.read(&mut buf, deadline))
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(err.kind(), LinkErrorKind::Timeout, "{err}");
    assert!(err.to_string().contains(&path), "{err}");
}

#[tokio::test]
async fn the_far_side_closing_mid_exchange_is_lost_not_a_timeout() {
    let (mut master, path) = pty();
    let mut link = open(&path, &SerialSettings::default()).await;
    timeout(BOUND, link.write_all(b"ping", far()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(master_read(&mut master, 4), b"ping");
    drop(master);

    let mut buf = [0u8; 8];
    let err = timeout(BOUND, link.read(&mut buf, far()))
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(err.kind(), LinkErrorKind::Lost, "{err}");
    assert!(err.kind().calls_for_reopen());
}

#[tokio::test]
async fn a_lost_port_can_be_reopened_where_it_came_back() {
    let (master, path) = pty();
    let mut link = open(&path, &SerialSettings::default()).await;
    drop(master);
    let mut buf = [0u8; 8];
    let err = timeout(BOUND, link.read(&mut buf, far()))
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(err.kind(), LinkErrorKind::Lost);

    // The device "comes back" under another name.
    let (mut master2, path2) = pty();
    timeout(BOUND, link.reopen(Some(path2.as_ref()), far()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(link.serial_path().unwrap().to_str(), Some(path2.as_str()));
    master2.write_all(b"back").unwrap();
    assert_eq!(link_read(&mut link, 4).await, b"back");
}

#[tokio::test]
async fn a_second_exclusive_open_is_busy() {
    let (_master, path) = pty();
    let _first = open(&path, &SerialSettings::default()).await;
    let err = timeout(
        BOUND,
        Link::open_serial(&path, &SerialSettings::default(), far()),
    )
    .await
    .unwrap()
    .unwrap_err();
    assert_eq!(err.kind(), LinkErrorKind::Busy, "{err}");
    assert!(err.to_string().contains(&path), "{err}");
}

#[tokio::test]
async fn a_missing_port_is_not_found() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ttyUSB7");
    let err = timeout(
        BOUND,
        Link::open_serial(&path, &SerialSettings::default(), far()),
    )
    .await
    .unwrap()
    .unwrap_err();
    assert_eq!(err.kind(), LinkErrorKind::NotFound, "{err}");
    assert!(err.to_string().contains("ttyUSB7"), "{err}");
}

#[tokio::test]
async fn settings_are_applied_to_the_port() {
    let (master, path) = pty();
    // The pty driver forces 8 data bits without parity whatever is asked
    // (which is why the link reads settings back rather than trusting them);
    // baud rate and stop bits are kept, so those are what this checks.
    let settings: SerialSettings = "19200-8N1".parse().unwrap();
    let mut link = open(&path, &settings).await;
    let applied = timeout(BOUND, link.applied_settings(far()))
        .await
        .unwrap()
        .unwrap()
        .expect("a serial link reports its settings");
    assert_eq!(applied.baud_rate, 19200);
    assert_eq!(applied.data_bits, DataBits::Eight);
    assert_eq!(applied.parity, Parity::None);
    assert_eq!(applied.stop_bits, StopBits::One);
    assert_eq!(applied.to_string(), "19200 8N1");
    // The master of a pty reads the slave's termios: an independent check.
    assert_eq!(master.baud_rate().unwrap(), 19200);
    assert_eq!(master.stop_bits().unwrap(), serialport::StopBits::One);
}

#[tokio::test]
async fn the_default_line_is_9600_8n2() {
    let (master, path) = pty();
    let mut link = open(&path, &SerialSettings::default()).await;
    let applied = timeout(BOUND, link.applied_settings(far()))
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(applied.to_string(), "9600 8N2");
    assert_eq!(master.stop_bits().unwrap(), serialport::StopBits::Two);
}
