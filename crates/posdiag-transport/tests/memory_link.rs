//! In-memory links: the peer's stall, vanish and close map to the same
//! error kinds as real devices, and transcripts stay bounded and masked.
//! Paused time: deadlines pass without real waiting.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::sync::Arc;
use std::time::Duration;

use posdiag_transport::{Direction, LinkErrorKind, LinkKind, Mask, TranscriptConfig, memory};
use tokio::time::{Instant, timeout};

const BOUND: Duration = Duration::from_secs(60);

fn soon() -> Instant {
    Instant::now() + Duration::from_secs(5)
}

#[tokio::test(start_paused = true)]
async fn bytes_flow_both_ways() {
    let (mut link, peer) = memory::pair_named("sim");
    assert_eq!(link.kind(), LinkKind::Memory);
    assert_eq!(link.describe(), "memory sim");
    link.write_all(b"req", soon()).await.unwrap();
    assert_eq!(peer.read_exact(3, soon()).await.unwrap(), b"req");
    peer.write(b"resp").unwrap();
    let mut buf = [0u8; 2];
    let n = link.read(&mut buf, soon()).await.unwrap();
    assert_eq!(&buf[..n], b"re");
    let n = link.read(&mut buf, soon()).await.unwrap();
    assert_eq!(&buf[..n], b"sp");
}

#[tokio::test(start_paused = true)]
async fn a_vanished_device_is_lost() {
    let (mut link, peer) = memory::pair();
    peer.write(b"half a fra").unwrap();
    let mut buf = [0u8; 64];
    // A read already waiting when the device goes sees it too.
    let (waiting, ()) = tokio::join!(
        async {
            let mut big = [0u8; 64];
            link.discard_input(soon()).await.unwrap();
            link.read(&mut big, soon()).await
        },
        async { peer.vanish() },
    );
    assert_eq!(waiting.unwrap_err().kind(), LinkErrorKind::Lost);
    let err = link.write_all(b"x", soon()).await.unwrap_err();
    assert_eq!(err.kind(), LinkErrorKind::Lost);
    assert!(err.kind().calls_for_reopen());
    let err = link.read(&mut buf, soon()).await.unwrap_err();
    assert_eq!(err.kind(), LinkErrorKind::Lost);
}

#[tokio::test(start_paused = true)]
async fn a_stalled_device_times_out_and_recovers() {
    let (mut link, peer) = memory::pair();
    peer.stall();
    peer.write(b"held").unwrap();
    let mut buf = [0u8; 8];
    let err = timeout(BOUND, link.read(&mut buf, soon()))
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(err.kind(), LinkErrorKind::Timeout);
    let err = timeout(BOUND, link.write_all(b"x", soon()))
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(err.kind(), LinkErrorKind::Timeout);

    peer.resume();
    let n = timeout(BOUND, link.read(&mut buf, soon()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&buf[..n], b"held");
}

#[tokio::test(start_paused = true)]
async fn a_peer_that_goes_away_closes_the_link() {
    let (mut link, peer) = memory::pair();
    peer.write(b"bye").unwrap();
    drop(peer);
    let mut buf = [0u8; 8];
    let n = link.read(&mut buf, soon()).await.unwrap();
    assert_eq!(&buf[..n], b"bye");
    let err = link.read(&mut buf, soon()).await.unwrap_err();
    assert_eq!(err.kind(), LinkErrorKind::Closed);
}

#[tokio::test(start_paused = true)]
async fn discard_input_drops_stale_bytes() {
    let (mut link, peer) = memory::pair();
    peer.write(b"stale").unwrap();
    link.discard_input(soon()).await.unwrap();
    peer.write(b"fresh").unwrap();
    let mut buf = [0u8; 16];
    let n = link.read(&mut buf, soon()).await.unwrap();
    assert_eq!(&buf[..n], b"fresh");
}

#[tokio::test(start_paused = true)]
async fn the_transcript_is_masked_before_it_is_stored() {
    let (mut link, peer) = memory::pair();
    let mask: Mask = Arc::new(|_, bytes: &[u8]| {
        bytes
            .iter()
            .map(|b| if b.is_ascii_digit() { b'#' } else { *b })
            .collect()
    });
    link.record_transcript(TranscriptConfig {
        mask: Some(mask),
        ..TranscriptConfig::default()
    });
    link.write_all(b"PAN 4111111111111111", soon())
        .await
        .unwrap();
    tokio::time::advance(Duration::from_millis(250)).await;
    peer.write(b";4111111111111111=2512?").unwrap();
    let mut buf = [0u8; 64];
    let n = link.read(&mut buf, soon()).await.unwrap();
    assert_eq!(
        &buf[..n],
        b";4111111111111111=2512?",
        "the caller sees the real bytes"
    );

    let t = link.transcript().unwrap();
    let entries: Vec<_> = t.entries().collect();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0].direction, Direction::Tx);
    assert_eq!(entries[1].direction, Direction::Rx);
    assert!(entries[1].at >= Duration::from_millis(250));
    for e in &entries {
        assert!(!e.bytes.windows(4).any(|w| w == b"4111"), "{:?}", e.bytes);
        assert!(!e.bytes.iter().any(u8::is_ascii_digit));
    }
    assert!(!t.render().contains("4111"));
}

#[tokio::test(start_paused = true)]
async fn the_transcript_stays_within_its_bounds() {
    let (mut link, peer) = memory::pair();
    link.record_transcript(TranscriptConfig {
        max_entries: 4,
        max_bytes: 10,
        mask: None,
    });
    for _ in 0..10 {
        link.write_all(b"abc", soon()).await.unwrap();
    }
    peer.read_exact(30, soon()).await.unwrap();
    let t = link.take_transcript().unwrap();
    assert!(t.entries().len() <= 4);
    assert!(t.bytes() <= 10);
    assert_eq!(t.entries().len(), 3, "three 3-byte entries fit in 10 bytes");
    assert_eq!(t.dropped_entries(), 7);
    assert_eq!(t.dropped_bytes(), 21);
    assert!(link.transcript().is_none());
}
