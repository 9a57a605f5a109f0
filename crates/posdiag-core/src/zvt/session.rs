//! The sans-I/O ECR command session, the same over TCP and serial: send a command APDU,
//! expect `80 00 00` (or a `84 xx` NAK) within T3, then acknowledge every `04 FF`, `04 0F`,
//! `06 D1`, `06 D3` and other message with `80 00 00` until `06 0F` (completion), `06 1E`
//! (abort) or the command timeout; the outcome lists every message received, in order.
//!
//! Drive it with [`CommandSession::step`]: [`SessionInput::Start`] once, then each received
//! APDU and a [`SessionInput::Tick`] when [`CommandSession::deadline`] passes; perform the
//! returned [`SessionAction`]s (send the APDUs) until [`SessionAction::Done`].

use std::time::{Duration, Instant};

use super::apdu::Apdu;
use super::packets::{Packet, cmd};

/// ecrterm's T3: how long the PT may take to acknowledge a command.
pub const DEFAULT_ACK_TIMEOUT: Duration = Duration::from_secs(5);
/// ecrterm's T4 default: how long a command may take to complete.
pub const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_secs(180);

/// Settings of a [`CommandSession`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionConfig {
    /// T3: from sending the command to its `80 00 00`.
    pub ack_timeout: Duration,
    /// From the acknowledgement to the completion or abort.
    pub command_timeout: Duration,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            ack_timeout: DEFAULT_ACK_TIMEOUT,
            command_timeout: DEFAULT_COMMAND_TIMEOUT,
        }
    }
}

/// Input to [`CommandSession::step`].
#[derive(Debug, Clone, Copy)]
pub enum SessionInput<'a> {
    /// Send the command now.
    Start,
    /// An APDU from the terminal.
    Received(&'a Apdu),
    /// Time passed.
    Tick,
}

/// How the command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandEnd {
    /// `06 0F`; for commands that only get an acknowledgement (log-off, abort), the `80 00 00`.
    Completed,
    /// `06 1E` with this result code.
    Aborted {
        /// The result code.
        result_code: u8,
    },
    /// The terminal refused the command with `84 xx`.
    Refused {
        /// The NAK code.
        code: u8,
    },
    /// No `80 00 00` within T3.
    NoAck,
    /// Acknowledged, but no completion or abort within the command timeout.
    TimedOut,
}

/// The result of a command: how it ended and everything the terminal sent, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandOutcome {
    /// How it ended.
    pub end: CommandEnd,
    /// Every APDU received, in order, decoded where possible (acknowledgements included).
    pub messages: Vec<Received>,
}

/// One received APDU: decoded, or raw with the reason it did not decode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    /// A decoded packet.
    Packet(Packet),
    /// An APDU that did not decode as the packet its control field names.
    Malformed {
        /// The APDU as received.
        apdu: Apdu,
        /// Why it did not decode.
        error: super::ZvtError,
    },
}

impl CommandOutcome {
    /// The decoded packets, skipping malformed ones.
    pub fn packets(&self) -> impl Iterator<Item = &Packet> {
        self.messages.iter().filter_map(|m| match m {
            Received::Packet(p) => Some(p),
            Received::Malformed { .. } => None,
        })
    }
}

/// Something the caller must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionAction {
    /// Send this APDU to the terminal.
    Send(Apdu),
    /// The command is over.
    Done(CommandOutcome),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    NotStarted,
    AwaitingAck { deadline: Instant },
    Running { deadline: Instant },
    Done,
}

/// One command's exchange, ECR side (see the module documentation).
#[derive(Debug, Clone)]
pub struct CommandSession {
    command: Apdu,
    config: SessionConfig,
    phase: Phase,
    messages: Vec<Received>,
    /// Log-off and abort end with the acknowledgement; everything else with 06 0F / 06 1E.
    ack_only: bool,
}

impl CommandSession {
    /// A session for `command`.
    pub fn new(command: Apdu, config: SessionConfig) -> Self {
        let control = (command.class, command.instr);
        CommandSession {
            ack_only: control == cmd::LOG_OFF || control == cmd::ABORT,
            command,
            config,
            phase: Phase::NotStarted,
            messages: Vec::new(),
        }
    }

    /// Whether the outcome has been returned.
    pub fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }

    /// When to send [`SessionInput::Tick`] next.
    pub fn deadline(&self) -> Option<Instant> {
        match self.phase {
            Phase::AwaitingAck { deadline } | Phase::Running { deadline } => Some(deadline),
            Phase::NotStarted | Phase::Done => None,
        }
    }

    fn finish(&mut self, end: CommandEnd, actions: &mut Vec<SessionAction>) {
        self.phase = Phase::Done;
        actions.push(SessionAction::Done(CommandOutcome {
            end,
            messages: std::mem::take(&mut self.messages),
        }));
    }

    fn record(&mut self, apdu: &Apdu) -> Option<Packet> {
        match Packet::decode(apdu) {
            Ok(packet) => {
                self.messages.push(Received::Packet(packet.clone()));
                Some(packet)
            }
            Err(error) => {
                self.messages.push(Received::Malformed {
                    apdu: apdu.clone(),
                    error,
                });
                None
            }
        }
    }

    /// Advances the session with one input at `now`.
    pub fn step(&mut self, input: SessionInput<'_>, now: Instant) -> Vec<SessionAction> {
        let mut actions = Vec::new();
        match (input, self.phase) {
            (SessionInput::Start, Phase::NotStarted) => {
                self.phase = Phase::AwaitingAck {
                    deadline: now + self.config.ack_timeout,
                };
                actions.push(SessionAction::Send(self.command.clone()));
            }
            (SessionInput::Received(apdu), Phase::AwaitingAck { .. }) => {
                let packet = self.record(apdu);
                match packet {
                    Some(Packet::Ack) if self.ack_only => {
                        self.finish(CommandEnd::Completed, &mut actions);
                    }
                    Some(Packet::Ack) => {
                        self.phase = Phase::Running {
                            deadline: now + self.config.command_timeout,
                        };
                    }
                    Some(Packet::Nak(code)) => {
                        self.finish(CommandEnd::Refused { code }, &mut actions);
                    }
                    _ if (apdu.class, apdu.instr) == cmd::INTERMEDIATE_STATUS => {
                        // A status the terminal sends on its own (or one left over from an
                        // earlier command) says nothing about ours: acknowledge it and keep
                        // waiting, so a refusal (84 9C) that follows is still heard.
                        actions.push(SessionAction::Send(Apdu::ack()));
                    }
                    _ => {
                        // Some terminals skip the acknowledgement and answer at once: take the
                        // answer as the acknowledgement and handle it as a message.
                        self.phase = Phase::Running {
                            deadline: now + self.config.command_timeout,
                        };
                        self.on_message(apdu, packet, &mut actions);
                    }
                }
            }
            (SessionInput::Received(apdu), Phase::Running { .. }) => {
                let packet = self.record(apdu);
                self.on_message(apdu, packet, &mut actions);
            }
            (SessionInput::Tick, Phase::AwaitingAck { deadline }) if now >= deadline => {
                self.finish(CommandEnd::NoAck, &mut actions);
            }
            (SessionInput::Tick, Phase::Running { deadline }) if now >= deadline => {
                self.finish(CommandEnd::TimedOut, &mut actions);
            }
            _ => {}
        }
        actions
    }

    fn on_message(
        &mut self,
        apdu: &Apdu,
        packet: Option<Packet>,
        actions: &mut Vec<SessionAction>,
    ) {
        // Acknowledgements need no answer; everything else does, including unknown APDUs.
        if matches!(packet, Some(Packet::Ack | Packet::Nak(_))) {
            return;
        }
        actions.push(SessionAction::Send(Apdu::ack()));
        match (apdu.class, apdu.instr) {
            cmd::COMPLETION => self.finish(CommandEnd::Completed, actions),
            cmd::ABORT_FROM_PT => {
                let result_code = apdu.data().first().copied().unwrap_or(0xFF);
                self.finish(CommandEnd::Aborted { result_code }, actions);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_enquiry_flow() {
        let t0 = Instant::now();
        let command = Apdu::new(0x05, 0x01, vec![0x12, 0x34, 0x56]).unwrap();
        let mut s = CommandSession::new(command.clone(), SessionConfig::default());
        assert_eq!(
            s.step(SessionInput::Start, t0),
            vec![SessionAction::Send(command)]
        );
        assert!(s.step(SessionInput::Received(&Apdu::ack()), t0).is_empty());
        let status = Apdu::new(0x04, 0xFF, vec![0x17]).unwrap();
        assert_eq!(
            s.step(SessionInput::Received(&status), t0),
            vec![SessionAction::Send(Apdu::ack())]
        );
        let done = s.step(
            SessionInput::Received(&Apdu::new(0x06, 0x0F, vec![]).unwrap()),
            t0,
        );
        assert_eq!(done[0], SessionAction::Send(Apdu::ack()));
        let SessionAction::Done(outcome) = &done[1] else {
            panic!("expected done");
        };
        assert_eq!(outcome.end, CommandEnd::Completed);
        assert_eq!(outcome.messages.len(), 3);
        assert!(s.is_done());
    }

    #[test]
    fn nak_and_timeouts() {
        let t0 = Instant::now();
        let mut s = CommandSession::new(Apdu::empty(0x06, 0x70), SessionConfig::default());
        s.step(SessionInput::Start, t0);
        let a = s.step(SessionInput::Received(&Apdu::nak(0x83)), t0);
        assert!(
            matches!(&a[0], SessionAction::Done(o) if o.end == CommandEnd::Refused { code: 0x83 })
        );

        let mut s = CommandSession::new(Apdu::empty(0x06, 0x70), SessionConfig::default());
        s.step(SessionInput::Start, t0);
        assert!(
            s.step(SessionInput::Tick, t0 + Duration::from_secs(4))
                .is_empty()
        );
        let a = s.step(SessionInput::Tick, t0 + Duration::from_secs(5));
        assert!(matches!(&a[0], SessionAction::Done(o) if o.end == CommandEnd::NoAck));

        let mut s = CommandSession::new(Apdu::empty(0x06, 0x02), SessionConfig::default());
        s.step(SessionInput::Start, t0);
        let a = s.step(SessionInput::Received(&Apdu::ack()), t0);
        assert!(matches!(&a[0], SessionAction::Done(o) if o.end == CommandEnd::Completed));
    }

    #[test]
    fn a_status_before_the_ack_is_acknowledged_and_a_refusal_after_it_still_counts() {
        let t0 = Instant::now();
        let mut s = CommandSession::new(Apdu::empty(0x05, 0x01), SessionConfig::default());
        s.step(SessionInput::Start, t0);
        let unsolicited = Apdu::new(0x04, 0xFF, vec![0x17]).unwrap();
        assert_eq!(
            s.step(SessionInput::Received(&unsolicited), t0),
            vec![SessionAction::Send(Apdu::ack())]
        );
        let a = s.step(SessionInput::Received(&Apdu::nak(0x9C)), t0);
        assert!(
            matches!(&a[0], SessionAction::Done(o) if o.end == CommandEnd::Refused { code: 0x9C }),
            "{a:?}"
        );
        // A terminal that skips the ack and completes at once is still understood.
        let mut s = CommandSession::new(Apdu::empty(0x05, 0x01), SessionConfig::default());
        s.step(SessionInput::Start, t0);
        s.step(SessionInput::Received(&unsolicited), t0);
        let a = s.step(SessionInput::Received(&Apdu::empty(0x06, 0x0F)), t0);
        assert!(matches!(&a[1], SessionAction::Done(o) if o.end == CommandEnd::Completed));
    }
}
