//! The ZVT driver against a terminal played in the test by the same
//! sans-I/O link session in the PT role, over an in-memory link (serial
//! framing): a clean status enquiry, a corrupted frame repaired by NAK and
//! retransmission, a terminal that never answers, and a line that vanishes.

use std::time::Duration;

use posdiag_core::zvt::packets::StatusEnquiry;
use posdiag_core::zvt::{
    Apdu, CommandEnd, LinkAction, LinkConfig, LinkInput, Packet, Role, SerialLink, SessionConfig,
};
use posdiag_core::{Reason, Verdict};
use posdiag_transport::{MemoryPeer, memory};
use tokio::time::Instant;

use super::zvt::{DriveError, run_command};
use super::{judge, link_failure};

/// The status enquiry completion captured from a cVEND plug (EVerest/zvt data).
const COMPLETION: &str = "060f89f0f4f04745522d4150502d76322e302e393b635330322e30312e30312d31302e31302d322d323b4343323600065b1f440452523535e4431f400a6356454e4420706c75671f41284745522d4150502d76322e302e393b635330322e30312e30312d31302e31302d322d323b434332361f420417fd1e3c1f430100340d1f0e04202304051f0f03225655";

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// Plays a terminal: acknowledges the command, answers with the captured
/// completion; corrupts the CRC of its first `corrupt` frames.
async fn terminal(peer: MemoryPeer, mut corrupt: usize) {
    let mut link = SerialLink::new(LinkConfig::new(Role::Pt));
    let completion = Apdu::decode(&hex(COMPLETION)).unwrap();
    loop {
        let Ok(bytes) = peer.read(Instant::now() + Duration::from_secs(5)).await else {
            return;
        };
        let mut pending = link.step(LinkInput::Received(&bytes), std::time::Instant::now());
        while !pending.is_empty() {
            let mut next = Vec::new();
            for action in pending {
                match action {
                    LinkAction::Write(mut b) => {
                        if b.len() > 1 && corrupt > 0 {
                            corrupt -= 1;
                            let last = b.len() - 1;
                            b[last] ^= 0xFF;
                        }
                        if peer.write(&b).is_err() {
                            return;
                        }
                    }
                    LinkAction::Deliver(apdu) if apdu.command() == 0x0501 => {
                        let now = std::time::Instant::now();
                        next.extend(link.step(LinkInput::Send(&Apdu::ack()), now));
                        next.extend(link.step(LinkInput::Send(&completion), now));
                    }
                    _ => {}
                }
            }
            pending = next;
        }
    }
}

fn enquiry() -> Apdu {
    Packet::StatusEnquiry(StatusEnquiry::new([0, 0, 0]))
        .to_apdu()
        .unwrap()
}

fn session() -> SessionConfig {
    SessionConfig {
        // T3 as ecrterm has it: longer than the four frame attempts of 1 s.
        ack_timeout: Duration::from_secs(5),
        command_timeout: Duration::from_secs(10),
    }
}

#[tokio::test]
async fn a_clean_status_enquiry_reads_the_terminal_and_passes() {
    let (mut link, peer) = memory::pair();
    tokio::spawn(terminal(peer, 0));
    let ex = run_command(&mut link, enquiry(), session(), Duration::from_secs(1)).await;
    let outcome = ex.result.as_ref().unwrap();
    assert_eq!(outcome.end, CommandEnd::Completed);
    let d = judge(&ex, Duration::from_secs(10));
    assert_eq!((d.verdict, d.reason), (Verdict::Ok, Reason::Ok));
    let text = |n: &str| {
        d.evidence
            .iter()
            .find(|e| e.name == n)
            .map(|e| e.value.to_string())
    };
    assert_eq!(
        text("software_version").as_deref(),
        Some("GER-APP-v2.0.9;cS02.01.01-10.10-2-2;CC26")
    );
    assert_eq!(text("terminal_status").as_deref(), Some("0x00"));
    assert_eq!(text("device_serial").as_deref(), Some("17fd1e3c"));
    assert!(text("transcript").unwrap().contains("-> 05 01 03 00 00 00"));
}

#[tokio::test]
async fn a_corrupted_frame_is_repeated_and_reported_as_a_warning() {
    let (mut link, peer) = memory::pair();
    tokio::spawn(terminal(peer, 1));
    let ex = run_command(&mut link, enquiry(), session(), Duration::from_secs(1)).await;
    assert_eq!(ex.result.as_ref().unwrap().end, CommandEnd::Completed);
    let stats = ex.stats.unwrap();
    assert_eq!(stats.crc_errors, 1);
    let d = judge(&ex, Duration::from_secs(10));
    assert_eq!(
        (d.verdict, d.reason),
        (Verdict::Warning, Reason::LinkCrcErrors)
    );
}

#[tokio::test(start_paused = true)]
async fn a_silent_terminal_is_no_answer_after_the_retransmissions() {
    let (mut link, peer) = memory::pair();
    let ex = run_command(&mut link, enquiry(), session(), Duration::from_secs(1)).await;
    drop(peer);
    assert!(
        matches!(ex.result, Err(DriveError::Frame(_))),
        "{:?}",
        ex.result
    );
    let d = judge(&ex, Duration::from_secs(10));
    assert_eq!(
        (d.verdict, d.reason),
        (Verdict::Critical, Reason::LinkNoAnswer)
    );
    assert_eq!(ex.stats.unwrap().retransmissions, 3);
}

#[tokio::test]
async fn a_line_that_vanishes_is_link_lost_not_a_timeout() {
    let (mut link, peer) = memory::pair();
    tokio::spawn(async move {
        // Read the command, then the device disappears.
        let _ = peer.read(Instant::now() + Duration::from_secs(5)).await;
        peer.vanish();
    });
    let ex = run_command(&mut link, enquiry(), session(), Duration::from_secs(1)).await;
    let d = judge(&ex, Duration::from_secs(10));
    assert_eq!((d.verdict, d.reason), (Verdict::Critical, Reason::LinkLost));
}

#[test]
fn a_busy_port_names_its_holder_in_the_remedy() {
    let e = posdiag_transport::LinkError::Busy {
        link: "/dev/ttyUSB0".into(),
        holders: vec!["4242 (kasse)".into()],
    };
    let d = link_failure(&e, "opening");
    assert_eq!((d.verdict, d.reason), (Verdict::Error, Reason::LinkBusy));
    let remedies = super::advice::remedies(d.reason, "serial /dev/ttyUSB0", d.holder.as_deref());
    assert!(
        remedies[0].text.en.contains("4242 (kasse)"),
        "{:?}",
        remedies[0]
    );
}
