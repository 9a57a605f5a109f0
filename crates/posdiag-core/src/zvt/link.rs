//! The sans-I/O serial link session on top of [`FrameDecoder`]: it sends APDUs as frames and
//! waits for the one-byte ACK, retransmitting on NAK or a missing ACK up to three times before
//! failing; it answers every good frame with ACK (and delivers its APDU) and every bad one with
//! NAK; and it counts what a link-quality check reports (NAKs received, CRC errors,
//! retransmissions, garbage bytes). The link layer is symmetric, so the ECR (posdiag) and the
//! PT (the simulator) run the same code; [`Role`] only labels which side this is.
//!
//! Drive it with [`SerialLink::step`]: feed received bytes, APDUs to send, or a tick when the
//! deadline from [`SerialLink::deadline`] has passed, each with the current instant; perform
//! the returned [`LinkAction`]s in order.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::ZvtError;
use super::apdu::Apdu;
use super::serial::{ACK, DecoderConfig, FrameDecoder, NAK, SerialEvent, encode_frame};

/// Which side of the link this session is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The electronic cash register (posdiag's side).
    Ecr,
    /// The payment terminal (the simulator's side).
    Pt,
}

/// Settings of a [`SerialLink`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkConfig {
    /// Which side this is.
    pub role: Role,
    /// Framing settings (T1, maximal frame size).
    pub decoder: DecoderConfig,
    /// How long to wait for the ACK byte after sending a frame. Some Ingenico terminals answer
    /// late, so ecrterm waits up to a second.
    pub ack_timeout: Duration,
    /// Retransmissions after a NAK or a missing ACK before the send fails (ecrterm: 3).
    pub max_retransmissions: u32,
}

impl LinkConfig {
    /// Defaults for `role`: T1 200 ms, ACK within 1 s, 3 retransmissions.
    pub fn new(role: Role) -> Self {
        LinkConfig {
            role,
            decoder: DecoderConfig::default(),
            ack_timeout: Duration::from_secs(1),
            max_retransmissions: 3,
        }
    }
}

/// Input to [`SerialLink::step`].
#[derive(Debug, Clone, Copy)]
pub enum LinkInput<'a> {
    /// Bytes read from the line.
    Received(&'a [u8]),
    /// An APDU to send; queued behind one waiting for its ACK.
    Send(&'a Apdu),
    /// Time passed (a deadline from [`SerialLink::deadline`] may have expired).
    Tick,
}

/// Why sending an APDU failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkFailure {
    /// The peer answered NAK to the first send and to every retransmission.
    TooManyNaks {
        /// Control field of the APDU given up on.
        command: u16,
    },
    /// No ACK arrived for the first send nor any retransmission.
    NoAck {
        /// Control field of the APDU given up on.
        command: u16,
    },
}

impl std::fmt::Display for LinkFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LinkFailure::TooManyNaks { command } => {
                write!(
                    f,
                    "apdu {command:04x} refused with nak after every retransmission"
                )
            }
            LinkFailure::NoAck { command } => {
                write!(
                    f,
                    "no ack for apdu {command:04x} after every retransmission"
                )
            }
        }
    }
}

/// Something the caller must do, in order.
#[derive(Clone, PartialEq, Eq)]
pub enum LinkAction {
    /// Write these bytes to the line.
    Write(Vec<u8>),
    /// A received APDU (its frame was acknowledged).
    Deliver(Apdu),
    /// The peer acknowledged the APDU with this control field.
    Sent(u16),
    /// A received frame or byte sequence was broken (answered with NAK where that applies).
    LineError(ZvtError),
    /// Sending an APDU failed; it is dropped and the next queued one is sent.
    Failed(LinkFailure),
}

// Written frames may carry card data: Debug shows their size, delivered APDUs are redacted.
impl std::fmt::Debug for LinkAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LinkAction::Write(bytes) if bytes.len() == 1 => write!(f, "Write({:02x})", bytes[0]),
            LinkAction::Write(bytes) => write!(f, "Write({} bytes)", bytes.len()),
            LinkAction::Deliver(apdu) => f.debug_tuple("Deliver").field(apdu).finish(),
            LinkAction::Sent(command) => write!(f, "Sent({command:04x})"),
            LinkAction::LineError(e) => f.debug_tuple("LineError").field(e).finish(),
            LinkAction::Failed(e) => f.debug_tuple("Failed").field(e).finish(),
        }
    }
}

/// Link-quality counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LinkStats {
    /// Frames sent for the first time.
    pub frames_sent: u64,
    /// Frames received with a good CRC.
    pub frames_received: u64,
    /// NAK bytes received from the peer.
    pub naks_received: u64,
    /// Frames received with a bad CRC (each answered with NAK).
    pub crc_errors: u64,
    /// Frames sent again after a NAK or a missing ACK.
    pub retransmissions: u64,
    /// Sends given up after the last retransmission.
    pub failures: u64,
    /// Bytes skipped between frames.
    pub garbage_bytes: u64,
    /// Frames abandoned mid-way (inter-byte timeout, bad escape, oversized).
    pub broken_frames: u64,
    /// Frames received that were not a valid APDU (acknowledged, not delivered).
    pub invalid_apdus: u64,
}

#[derive(Clone)]
struct InFlight {
    frame: Vec<u8>,
    command: u16,
    retransmissions: u32,
    deadline: Instant,
}

impl std::fmt::Debug for InFlight {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InFlight")
            .field("frame_bytes", &self.frame.len())
            .field("command", &format_args!("{:04x}", self.command))
            .field("retransmissions", &self.retransmissions)
            .field("deadline", &self.deadline)
            .finish()
    }
}

/// The serial link session (see the module documentation).
#[derive(Debug, Clone)]
pub struct SerialLink {
    config: LinkConfig,
    decoder: FrameDecoder,
    in_flight: Option<InFlight>,
    queue: VecDeque<Apdu>,
    stats: LinkStats,
}

impl SerialLink {
    /// A session with these settings.
    pub fn new(config: LinkConfig) -> Self {
        SerialLink {
            config,
            decoder: FrameDecoder::new(config.decoder),
            in_flight: None,
            queue: VecDeque::new(),
            stats: LinkStats::default(),
        }
    }

    /// The settings.
    pub fn config(&self) -> &LinkConfig {
        &self.config
    }

    /// The counters so far.
    pub fn stats(&self) -> LinkStats {
        LinkStats {
            garbage_bytes: self.decoder.garbage_bytes(),
            ..self.stats
        }
    }

    /// Whether an APDU is waiting for its ACK or queued.
    pub fn is_busy(&self) -> bool {
        self.in_flight.is_some() || !self.queue.is_empty()
    }

    /// The earliest instant at which [`LinkInput::Tick`] has something to do.
    pub fn deadline(&self) -> Option<Instant> {
        let ack = self.in_flight.as_ref().map(|f| f.deadline);
        match (ack, self.decoder.deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Advances the session with one input at `now`.
    pub fn step(&mut self, input: LinkInput<'_>, now: Instant) -> Vec<LinkAction> {
        let mut actions = Vec::new();
        match input {
            LinkInput::Received(bytes) => {
                let mut events = Vec::new();
                self.decoder.feed_into(bytes, now, &mut events);
                for event in events {
                    self.on_event(event, now, &mut actions);
                }
            }
            LinkInput::Send(apdu) => {
                self.queue.push_back(apdu.clone());
                self.send_next(now, &mut actions);
            }
            LinkInput::Tick => {}
        }
        if let Some(event) = self.decoder.poll_timeout(now) {
            self.on_event(event, now, &mut actions);
        }
        self.check_ack_timeout(now, &mut actions);
        actions
    }

    fn send_next(&mut self, now: Instant, actions: &mut Vec<LinkAction>) {
        if self.in_flight.is_some() {
            return;
        }
        if let Some(apdu) = self.queue.pop_front() {
            let frame = encode_frame(&apdu.encode());
            self.stats.frames_sent += 1;
            actions.push(LinkAction::Write(frame.clone()));
            self.in_flight = Some(InFlight {
                frame,
                command: apdu.command(),
                retransmissions: 0,
                deadline: now + self.config.ack_timeout,
            });
        }
    }

    /// Sends the frame in flight again, or gives up on it.
    fn retransmit(&mut self, now: Instant, nak: bool, actions: &mut Vec<LinkAction>) {
        let Some(flight) = self.in_flight.as_mut() else {
            return;
        };
        if flight.retransmissions >= self.config.max_retransmissions {
            let command = flight.command;
            self.in_flight = None;
            self.stats.failures += 1;
            actions.push(LinkAction::Failed(if nak {
                LinkFailure::TooManyNaks { command }
            } else {
                LinkFailure::NoAck { command }
            }));
            self.send_next(now, actions);
            return;
        }
        flight.retransmissions += 1;
        flight.deadline = now + self.config.ack_timeout;
        self.stats.retransmissions += 1;
        actions.push(LinkAction::Write(flight.frame.clone()));
    }

    fn check_ack_timeout(&mut self, now: Instant, actions: &mut Vec<LinkAction>) {
        if self.in_flight.as_ref().is_some_and(|f| now >= f.deadline) {
            self.retransmit(now, false, actions);
        }
    }

    fn on_event(&mut self, event: SerialEvent, now: Instant, actions: &mut Vec<LinkAction>) {
        match event {
            SerialEvent::Frame(body) => {
                self.stats.frames_received += 1;
                actions.push(LinkAction::Write(vec![ACK]));
                match Apdu::decode(&body) {
                    Ok(apdu) => actions.push(LinkAction::Deliver(apdu)),
                    Err(error) => {
                        self.stats.invalid_apdus += 1;
                        actions.push(LinkAction::LineError(error));
                    }
                }
            }
            SerialEvent::Ack => {
                if let Some(flight) = self.in_flight.take() {
                    actions.push(LinkAction::Sent(flight.command));
                    self.send_next(now, actions);
                }
            }
            SerialEvent::Nak => {
                self.stats.naks_received += 1;
                self.retransmit(now, true, actions);
            }
            SerialEvent::Error(error) => {
                if matches!(error, ZvtError::BadCrc { .. }) {
                    self.stats.crc_errors += 1;
                    actions.push(LinkAction::Write(vec![NAK]));
                } else {
                    // No NAK for a frame that never ended: the sender's ACK timeout covers it.
                    self.stats.broken_frames += 1;
                }
                actions.push(LinkAction::LineError(error));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn writes(actions: &[LinkAction]) -> Vec<Vec<u8>> {
        actions
            .iter()
            .filter_map(|a| match a {
                LinkAction::Write(b) => Some(b.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn nak_then_ack_retransmits_once() {
        let t0 = Instant::now();
        let mut link = SerialLink::new(LinkConfig::new(Role::Ecr));
        let apdu = Apdu::ack();
        let a = link.step(LinkInput::Send(&apdu), t0);
        assert_eq!(writes(&a), vec![encode_frame(&[0x80, 0, 0])]);
        let a = link.step(LinkInput::Received(&[NAK]), t0);
        assert_eq!(writes(&a), vec![encode_frame(&[0x80, 0, 0])]);
        let a = link.step(LinkInput::Received(&[ACK]), t0);
        assert_eq!(a, vec![LinkAction::Sent(0x8000)]);
        let s = link.stats();
        assert_eq!((s.naks_received, s.retransmissions), (1, 1));
        assert!(!link.is_busy());
    }

    #[test]
    fn missing_ack_fails_after_three_retransmissions() {
        let mut now = Instant::now();
        let mut link = SerialLink::new(LinkConfig::new(Role::Pt));
        link.step(LinkInput::Send(&Apdu::ack()), now);
        let mut failed = None;
        for _ in 0..4 {
            now = link.deadline().unwrap();
            for action in link.step(LinkInput::Tick, now) {
                if let LinkAction::Failed(f) = action {
                    failed = Some(f);
                }
            }
        }
        assert_eq!(failed, Some(LinkFailure::NoAck { command: 0x8000 }));
        assert_eq!(link.stats().retransmissions, 3);
        assert_eq!(link.deadline(), None);
    }

    #[test]
    fn bad_crc_answers_nak_good_frame_answers_ack() {
        let now = Instant::now();
        let mut link = SerialLink::new(LinkConfig::new(Role::Pt));
        let mut frame = encode_frame(&[0x05, 0x01, 0x03, 0x12, 0x34, 0x56]);
        let last = frame.len() - 1;
        frame[last] ^= 0xFF;
        let a = link.step(LinkInput::Received(&frame), now);
        assert_eq!(writes(&a), vec![vec![NAK]]);
        frame[last] ^= 0xFF;
        let a = link.step(LinkInput::Received(&frame), now);
        assert_eq!(writes(&a), vec![vec![ACK]]);
        assert!(matches!(a.last(), Some(LinkAction::Deliver(apdu)) if apdu.command() == 0x0501));
        assert_eq!(link.stats().crc_errors, 1);
    }
}
