//! The simulated terminal's command logic, sans-I/O: fed the APDUs the ECR sends and the
//! current instant, it returns the APDUs to send, following the ZVT command flow (`80 00 00`
//! first, then intermediate statuses and status information each acknowledged by the ECR,
//! then `06 0F` or `06 1E`). The transports in [`super::wire`] run one per connection.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use posdiag_core::zvt::apdu::Apdu;
use posdiag_core::zvt::bmp::{Bmp, BmpList, u64_to_bcd};
use posdiag_core::zvt::packets::{
    AbortFromPt, Completion, IntermediateStatus, Packet, PrintLine, StatusInformation,
};
use posdiag_core::zvt::tlv::{Tlv, TlvList};
use tracing::{debug, warn};

use super::scenario::{Card, Silence, ZvtState};

/// T3: how long the terminal waits for the ECR to acknowledge a message before giving up.
const ECR_ACK_TIMEOUT: Duration = Duration::from_secs(5);
/// Read-card timeout when the command gives none.
const DEFAULT_CARD_TIMEOUT: Duration = Duration::from_secs(30);

/// Intermediate status codes used (ecrterm `INTERMEDIATE_STATUS_CODES`).
const STATUS_INSERT_CARD: u8 = 0x0A;
const STATUS_CARD_NOT_READABLE: u8 = 0x0C;
const STATUS_CONNECTING: u8 = 0xD2;
const STATUS_CONNECTED: u8 = 0xD3;
/// Result code "abort via timeout or abort key".
const RESULT_ABORTED: u8 = 0x6C;
/// NAK codes: function not possible (unknown command), protocol error, please wait (busy).
const NAK_NOT_POSSIBLE: u8 = 0x83;
const NAK_PROTOCOL_ERROR: u8 = 0x9A;
const NAK_BUSY: u8 = 0x9C;

#[derive(Debug, Clone)]
struct Step {
    apdu: Apdu,
    /// Whether the ECR must acknowledge it before the next step.
    needs_ack: bool,
    /// Wait this long after the previous step (answer delay, card timeout).
    delay: Duration,
}

/// One connection's command state.
#[derive(Debug)]
pub(crate) struct Terminal {
    steps: VecDeque<Step>,
    /// Earliest time the next step may go.
    next_at: Option<Instant>,
    /// Waiting for the ECR's `80 00 00` until this instant.
    awaiting_ack: Option<Instant>,
    /// Whether a command is running (between its acknowledgement and its end).
    running: bool,
    next_unsolicited: Option<Instant>,
    /// Commands received on this connection.
    pub(crate) commands: u64,
}

fn step(apdu: Apdu, needs_ack: bool, delay: Duration) -> Step {
    Step {
        apdu,
        needs_ack,
        delay,
    }
}

fn packet_apdu(packet: &Packet) -> Option<Apdu> {
    match packet.to_apdu() {
        Ok(apdu) => Some(apdu),
        Err(error) => {
            // Only a scenario value too long for its field gets here.
            warn!(%error, packet = packet.name(), "cannot encode the simulated answer");
            None
        }
    }
}

impl Terminal {
    pub(crate) fn new() -> Self {
        Terminal {
            steps: VecDeque::new(),
            next_at: None,
            awaiting_ack: None,
            running: false,
            next_unsolicited: None,
            commands: 0,
        }
    }

    /// Whether no command is running.
    pub(crate) fn is_idle(&self) -> bool {
        !self.running && self.steps.is_empty() && self.awaiting_ack.is_none()
    }

    /// When [`Terminal::on_tick`] has something to do.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        [self.awaiting_ack, self.next_at, self.next_unsolicited]
            .into_iter()
            .flatten()
            .min()
    }

    /// Handles an APDU from the ECR.
    pub(crate) fn on_apdu(&mut self, apdu: &Apdu, state: &ZvtState, now: Instant) -> Vec<Apdu> {
        let packet = Packet::decode(apdu);
        match &packet {
            Ok(Packet::Ack | Packet::Nak(_)) => {
                if self.awaiting_ack.take().is_some() {
                    self.schedule_next(now);
                }
                return self.pump(now);
            }
            Ok(Packet::Abort) => {
                self.commands += 1;
                let mut out = vec![Apdu::ack()];
                if !self.is_idle() {
                    // Cancel the running command (a read card waiting for a card).
                    self.steps.clear();
                    self.awaiting_ack = None;
                    self.next_at = None;
                    if let Some(abort) =
                        packet_apdu(&Packet::AbortFromPt(AbortFromPt::new(RESULT_ABORTED)))
                    {
                        self.steps.push_back(step(abort, true, Duration::ZERO));
                        self.next_at = Some(now);
                    }
                }
                out.extend(self.pump(now));
                return out;
            }
            _ => {}
        }
        self.commands += 1;
        if !self.is_idle() {
            debug!(
                command = format_args!("{:04x}", apdu.command()),
                "busy: nak"
            );
            return vec![Apdu::nak(NAK_BUSY)];
        }
        let faults = &state.faults;
        if faults.silence == Silence::All {
            return Vec::new();
        }
        let delay = Duration::from_millis(faults.answer_delay_ms);
        let script = match packet {
            Ok(packet) => script(&packet, state),
            Err(error) => {
                debug!(%error, "malformed command");
                Some(vec![step(
                    Apdu::nak(NAK_PROTOCOL_ERROR),
                    false,
                    Duration::ZERO,
                )])
            }
        };
        let Some(mut script) = script else {
            return vec![Apdu::nak(NAK_NOT_POSSIBLE)];
        };
        if faults.silence == Silence::AfterAck {
            script.truncate(1);
        }
        for s in &mut script {
            s.delay += delay;
        }
        self.running = script.len() > 1;
        self.steps = script.into();
        self.schedule_next(now);
        self.pump(now)
    }

    /// Handles the passing of time.
    pub(crate) fn on_tick(&mut self, state: &ZvtState, now: Instant) -> Vec<Apdu> {
        if self.awaiting_ack.is_some_and(|t| now >= t) {
            warn!("the ecr did not acknowledge in time: command dropped");
            self.steps.clear();
            self.awaiting_ack = None;
            self.next_at = None;
            self.running = false;
        }
        let every = state.faults.unsolicited_status_ms;
        if every == 0 {
            self.next_unsolicited = None;
        } else if self.is_idle() {
            match self.next_unsolicited {
                None => self.next_unsolicited = Some(now + Duration::from_millis(every)),
                Some(t) if now >= t => {
                    self.next_unsolicited = Some(now + Duration::from_millis(every));
                    let status = IntermediateStatus::new(state.faults.unsolicited_status);
                    if let Some(apdu) = packet_apdu(&Packet::IntermediateStatus(status)) {
                        self.steps.push_back(step(apdu, true, Duration::ZERO));
                        self.next_at = Some(now);
                    }
                }
                Some(_) => {}
            }
        }
        self.pump(now)
    }

    fn schedule_next(&mut self, now: Instant) {
        self.next_at = self.steps.front().map(|s| now + s.delay);
        if self.steps.is_empty() {
            self.running = false;
        }
    }

    /// Sends the steps that are due.
    fn pump(&mut self, now: Instant) -> Vec<Apdu> {
        let mut out = Vec::new();
        while self.awaiting_ack.is_none() && self.next_at.is_some_and(|t| now >= t) {
            let Some(s) = self.steps.pop_front() else {
                self.next_at = None;
                break;
            };
            out.push(s.apdu);
            if s.needs_ack {
                self.awaiting_ack = Some(now + ECR_ACK_TIMEOUT);
                self.next_at = None;
            } else {
                self.schedule_next(now);
            }
        }
        if self.steps.is_empty() && self.awaiting_ack.is_none() {
            self.running = false;
        }
        out
    }
}

/// The answer to a command, `None` for commands the terminal does not know.
fn script(packet: &Packet, state: &ZvtState) -> Option<Vec<Step>> {
    let ack = step(Apdu::ack(), false, Duration::ZERO);
    let msg = |packet: Packet| packet_apdu(&packet).map(|apdu| step(apdu, true, Duration::ZERO));
    let abort = |code: u8| msg(Packet::AbortFromPt(AbortFromPt::new(code)));
    let status = |code: u8| msg(Packet::IntermediateStatus(IntermediateStatus::new(code)));
    let failed = |code: Option<u8>| code.filter(|&c| c != 0);
    let maintenance = state
        .maintenance
        .active
        .then_some(state.maintenance.result_code);
    let mut steps = vec![ack];
    match packet {
        Packet::Registration(_) => match failed(state.results.registration).or(maintenance) {
            Some(code) => steps.extend(abort(code)),
            None => steps.extend(msg(Packet::Completion(Completion {
                software_version: None,
                terminal_status: None,
                bmps: BmpList(vec![
                    Bmp::bytes(0x19, vec![terminal_status(state)]),
                    Bmp::bytes(0x29, tid_bcd(state)),
                    Bmp::bytes(0x49, u64_to_bcd(u64::from(state.identity.currency), 2)),
                ]),
            }))),
        },
        Packet::StatusEnquiry(_) => match failed(state.results.status_enquiry) {
            Some(code) => steps.extend(abort(code)),
            None => steps.extend(msg(Packet::Completion(status_completion(state)))),
        },
        Packet::Diagnosis(_) => {
            steps.extend(status(STATUS_CONNECTING));
            let code = failed(state.results.diagnosis)
                .or(maintenance)
                .or_else(|| (!state.host.reachable).then_some(state.host.failure_result));
            for packet in printout(state) {
                steps.extend(msg(packet));
            }
            match code {
                Some(code) => steps.extend(abort(code)),
                None => {
                    steps.extend(status(STATUS_CONNECTED));
                    steps.extend(msg(Packet::Completion(Completion {
                        software_version: None,
                        terminal_status: None,
                        bmps: BmpList(vec![Bmp::bytes(0x29, tid_bcd(state))]),
                    })));
                }
            }
        }
        Packet::ReadCard(read) => {
            if let Some(code) = failed(state.results.read_card).or(maintenance) {
                steps.extend(abort(code));
                return Some(steps);
            }
            steps.extend(status(STATUS_INSERT_CARD));
            let card = state.reader.card;
            match card {
                Card::NoCard => {
                    let wait = read
                        .timeout_secs
                        .filter(|&t| t > 0)
                        .map_or(DEFAULT_CARD_TIMEOUT, |t| Duration::from_secs(u64::from(t)));
                    if let Some(mut s) = abort(RESULT_ABORTED) {
                        s.delay = wait;
                        steps.push(s);
                    }
                }
                Card::MagstripeOk | Card::ChipOk | Card::Contactless => {
                    steps.extend(msg(Packet::StatusInformation(card_data(state))));
                    steps.extend(msg(Packet::Completion(Completion::empty())));
                }
                failure => {
                    if failure == Card::StripeUnreadable {
                        steps.extend(status(STATUS_CARD_NOT_READABLE));
                    }
                    steps.extend(abort(failure.failure().unwrap_or(0x66)));
                }
            }
        }
        Packet::LogOff => {}
        _ => return None,
    }
    Some(steps)
}

/// The receipt the ECR is to print: a `06 D1` per line (attribute `FF` on the last, `00`
/// before), or one `06 D3` text block (TLV `25` holding a `07` per line).
fn printout(state: &ZvtState) -> Vec<Packet> {
    let lines = &state.receipt.lines;
    if lines.is_empty() {
        return Vec::new();
    }
    if state.receipt.text_block {
        let text = lines
            .iter()
            .map(|l| Tlv::primitive(0x07, l.as_bytes()))
            .collect();
        return vec![Packet::PrintTextBlock(BmpList(vec![Bmp::tlv(TlvList(
            vec![Tlv::constructed(0x25, text)],
        ))]))];
    }
    lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            Packet::PrintLine(PrintLine {
                attribute: if i + 1 == lines.len() { 0xFF } else { 0x00 },
                text: l.as_bytes().to_vec(),
            })
        })
        .collect()
}

fn terminal_status(state: &ZvtState) -> u8 {
    if state.maintenance.active {
        state.maintenance.terminal_status
    } else {
        state.identity.status
    }
}

fn tid_bcd(state: &ZvtState) -> Vec<u8> {
    u64_to_bcd(state.identity.terminal_id.parse().unwrap_or(0), 4)
}

/// The status-enquiry completion: software version, terminal status, TLV device info.
fn status_completion(state: &ZvtState) -> Completion {
    let id = &state.identity;
    let tlv = TlvList(vec![
        Tlv::primitive(0x1F44, tid_bcd(state)),
        Tlv::constructed(
            0xE4,
            vec![
                Tlv::primitive(0x1F40, id.device_name.as_bytes()),
                Tlv::primitive(0x1F41, id.software_version.as_bytes()),
                Tlv::primitive(0x1F42, id.device_serial.clone()),
                Tlv::primitive(0x1F43, vec![id.device_state]),
            ],
        ),
    ]);
    Completion {
        software_version: Some(id.software_version.as_bytes().to_vec()),
        terminal_status: Some(terminal_status(state)),
        bmps: BmpList(vec![Bmp::tlv(tlv)]),
    }
}

/// PAN digits as F-padded BCD.
fn pan_bcd(digits: &str) -> Vec<u8> {
    let mut nibbles: Vec<u8> = digits
        .bytes()
        .map(|b| b.wrapping_sub(b'0') & 0x0F)
        .collect();
    if nibbles.len() % 2 == 1 {
        nibbles.push(0x0F);
    }
    nibbles.chunks(2).map(|p| (p[0] << 4) | p[1]).collect()
}

/// The status information of a successful read.
fn card_data(state: &ZvtState) -> StatusInformation {
    let r = &state.reader;
    let mut bmps = vec![Bmp::bytes(0x27, vec![0x00])];
    match r.card {
        Card::Contactless => {
            bmps.push(Bmp::tlv(TlvList(vec![
                Tlv::primitive(0x4C, r.uid.clone()),
                Tlv::primitive(0x1F45, r.ats.clone()),
                Tlv::primitive(0x1F4C, vec![0x01]),
                Tlv::primitive(0x1F4F, r.atqa.clone()),
                Tlv::primitive(0x1F50, vec![r.sak]),
                Tlv::constructed(0x60, vec![Tlv::primitive(0x43, r.aid.clone())]),
            ])));
        }
        card => {
            bmps.push(Bmp::bytes(0x22, pan_bcd(&r.pan)));
            bmps.push(Bmp::bytes(
                0x0E,
                u64_to_bcd(r.expiry.parse().unwrap_or(0), 2),
            ));
            // Card type 8A: 05 girocard/chip, 06 magstripe (an illustrative choice).
            bmps.push(Bmp::bytes(
                0x8A,
                vec![if card == Card::ChipOk { 0x05 } else { 0x06 }],
            ));
            if card == Card::ChipOk {
                bmps.push(Bmp::tlv(TlvList(vec![Tlv::constructed(
                    0x60,
                    vec![Tlv::primitive(0x43, r.aid.clone())],
                )])));
            }
        }
    }
    StatusInformation {
        bmps: BmpList(bmps),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(apdus: &[Apdu]) -> Vec<Packet> {
        apdus.iter().map(|a| Packet::decode(a).unwrap()).collect()
    }

    #[test]
    fn status_enquiry_acks_then_completes_with_device_info() {
        let now = Instant::now();
        let state = ZvtState::default();
        let mut t = Terminal::new();
        let cmd = Apdu::new(0x05, 0x01, vec![0x12, 0x34, 0x56]).unwrap();
        let out = decode(&t.on_apdu(&cmd, &state, now));
        assert_eq!(out[0], Packet::Ack);
        let Packet::Completion(c) = &out[1] else {
            panic!("{out:?}")
        };
        assert_eq!(c.device_info().unwrap().serial.as_deref(), Some("17fd1e3c"));
        assert!(!t.is_idle());
        assert!(t.on_apdu(&Apdu::ack(), &state, now).is_empty());
        assert!(t.is_idle());
    }

    #[test]
    fn read_card_without_card_waits_and_abort_cancels() {
        let now = Instant::now();
        let state = ZvtState::default();
        let mut t = Terminal::new();
        let cmd = Apdu::new(0x06, 0xC0, vec![0x0F]).unwrap();
        let out = decode(&t.on_apdu(&cmd, &state, now));
        assert!(matches!(out[1], Packet::IntermediateStatus(ref s) if s.status == 0x0A));
        assert!(t.on_apdu(&Apdu::ack(), &state, now).is_empty());
        assert_eq!(t.deadline(), Some(now + Duration::from_secs(15)));
        let out = decode(&t.on_apdu(&Apdu::empty(0x06, 0xB0), &state, now));
        assert_eq!(out[0], Packet::Ack);
        assert!(matches!(out[1], Packet::AbortFromPt(ref a) if a.result_code == 0x6C));
    }

    #[test]
    fn unknown_commands_get_a_nak() {
        let mut t = Terminal::new();
        let out = t.on_apdu(
            &Apdu::new(0x06, 0x50, vec![1, 2, 3]).unwrap(),
            &ZvtState::default(),
            Instant::now(),
        );
        assert_eq!(out, vec![Apdu::nak(0x83)]);
    }
}
