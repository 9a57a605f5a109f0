//! The ZVT ECR driver for plugins: runs one ECR command through the host's transport
//! callbacks ([`Host`]). posdiag-core's [`CommandSession`] decides what to send and when the
//! command is over; over a serial or USB link its [`SerialLink`] (role ECR) adds the DLE/STX
//! framing and the ACK bytes, over TCP the APDUs travel raw. The driver only moves bytes and
//! time between them and the host, keeps a margin of the check's budget for writing the
//! findings, records a bounded transcript with card data masked ([`redact_apdu`]) and, on
//! request, sends an abort `06 B0` when the caller's own deadline passes (the read card check).
//!
//! The one exchange loop of the ZVT plugins: `plugins/zvt` runs every check on it and
//! `plugins/example-rust` shows a vendor how to call it. It is not in posdiag-core because it
//! does I/O and reads the clock, and not in the SDK because the SDK depends on no posdiag
//! crate.
//!
//! ```no_run
//! # use std::time::Duration;
//! # use posdiag_core::zvt::{Packet, packets::StatusEnquiry};
//! # use posdiag_plugin_api::sdk::Host;
//! # use posdiag_zvt_driver::{CommandOptions, EcrDriver};
//! # fn status(host: &Host) -> Option<()> {
//! let mut driver = EcrDriver::new(host, "tcp", Duration::from_secs(5))?;
//! let command = Packet::StatusEnquiry(StatusEnquiry::new([0; 3])).to_apdu().ok()?;
//! let options = CommandOptions { session: driver.session_config(), abort_at: None };
//! match driver.run(&command, options, &mut |_| {}) {
//!     Ok(outcome) => { /* judge outcome.end and outcome.packets() */ }
//!     Err(broken) => { /* no answer, link lost, not ZVT: a finding, not an error */ }
//! }
//! # Some(())
//! # }
//! ```

#![forbid(unsafe_code)]

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use posdiag_core::zvt::{
    Apdu, ApduReader, CommandOutcome, CommandSession, LinkAction, LinkConfig, LinkFailure,
    LinkInput, LinkStats, Packet, Role, SerialLink, SessionAction, SessionConfig, SessionInput,
    redact_apdu,
};
use posdiag_plugin_api::pb;
use posdiag_plugin_api::sdk::{Host, TransportError, evidence_number, evidence_text, ms};

/// Transcript lines kept per check, like the daemon's `terminal.link` check: enough for any
/// diagnostic command, bounded so a chatty terminal cannot grow the finding.
pub const MAX_TRANSCRIPT: usize = 32;

/// Largest APDU accepted from the terminal over TCP. Diagnostic answers are small; a bigger
/// length is more likely garbage than data, and this bounds the memory a bad peer can claim.
const MAX_APDU_BYTES: usize = 16 * 1024;

/// Time kept back from the check's budget (at most a tenth of it) to write the findings, so
/// that the daemon, which stops a plugin host that overruns, gets them.
const MARGIN: Duration = Duration::from_millis(250);

/// After the command, how long to wait for the link-level ACK of our last frame, so that no
/// byte of this exchange is left for the next check.
const DRAIN_TIMEOUT: Duration = Duration::from_millis(500);

/// Why an exchange ended without an outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Broken {
    /// The check's budget ran out while waiting for bytes.
    Deadline,
    /// The serial link gave up on a frame.
    Link(LinkFailure),
    /// The terminal sent bytes that are not ZVT.
    Garbage(String),
    /// A transport callback failed.
    Transport(TransportError),
}

impl std::fmt::Display for Broken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Broken::Deadline => f.write_str("the check's deadline passed"),
            Broken::Link(e) => write!(f, "{e}"),
            Broken::Garbage(e) => write!(f, "not ZVT: {e}"),
            Broken::Transport(e) => write!(f, "{e}"),
        }
    }
}

/// How APDUs travel on this link.
enum Framing {
    /// TCP: APDUs back to back.
    Raw(ApduReader),
    /// Serial or USB: DLE/STX frames acknowledged with ACK/NAK bytes.
    Serial(Box<SerialLink>),
}

/// Options of one command.
#[derive(Debug, Clone, Copy)]
pub struct CommandOptions {
    /// The session's timeouts (T3 and the command's own).
    pub session: SessionConfig,
    /// Send an abort `06 B0` at this instant if the command is still running.
    pub abort_at: Option<Instant>,
}

/// One received APDU as the watcher of [`EcrDriver::run`] sees it.
pub type Watcher<'w> = &'w mut dyn FnMut(&Packet);

/// One line of the transcript.
#[derive(Debug, Clone)]
struct Line {
    at: Duration,
    sent: bool,
    redacted: Vec<u8>,
}

/// The ECR side of the host's link for one check.
pub struct EcrDriver<'h> {
    host: &'h Host,
    framing: Framing,
    /// The whole check's deadline.
    deadline: Instant,
    started: Instant,
    /// APDUs received and not yet given to the session.
    received: VecDeque<Apdu>,
    /// When the terminal's first byte arrived, for the round trip.
    first_answer: Option<Instant>,
    transcript: Vec<Line>,
    /// Lines that did not fit into the transcript.
    dropped_lines: usize,
    /// Whether we sent an abort `06 B0` because the caller's deadline passed.
    aborted: bool,
}

impl std::fmt::Debug for EcrDriver<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EcrDriver")
            .field("serial", &matches!(self.framing, Framing::Serial(_)))
            .field("deadline", &self.deadline)
            .field("transcript_lines", &self.transcript.len())
            .finish_non_exhaustive()
    }
}

impl<'h> EcrDriver<'h> {
    /// A driver for a request's link kind (`serial` and `usb`: framed, `tcp`: raw), with the
    /// check's whole budget `timeout` (less a margin for the answer); `None` for links ZVT
    /// does not run over.
    pub fn new(host: &'h Host, link_kind: &str, timeout: Duration) -> Option<EcrDriver<'h>> {
        let framing = match link_kind {
            "tcp" => Framing::Raw(ApduReader::new(MAX_APDU_BYTES)),
            "serial" | "usb" => {
                Framing::Serial(Box::new(SerialLink::new(LinkConfig::new(Role::Ecr))))
            }
            _ => return None,
        };
        let started = Instant::now();
        Some(EcrDriver {
            host,
            framing,
            // Time kept back to write the findings: the daemon stops a plugin that overruns,
            // and a silent terminal must read as "no answer", not as a hung plugin.
            deadline: started + timeout.saturating_sub(MARGIN.min(timeout / 10)),
            started,
            received: VecDeque::new(),
            first_answer: None,
            transcript: Vec::new(),
            dropped_lines: 0,
            aborted: false,
        })
    }

    /// What is left of the check's budget.
    pub fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    /// The check's deadline.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// When the check started.
    pub fn started(&self) -> Instant {
        self.started
    }

    /// Whether [`EcrDriver::run`] sent an abort `06 B0`.
    pub fn sent_abort(&self) -> bool {
        self.aborted
    }

    /// Session timeouts that fit into the rest of the budget.
    pub fn session_config(&self) -> SessionConfig {
        let left = self.remaining();
        SessionConfig {
            ack_timeout: left.min(posdiag_core::zvt::session::DEFAULT_ACK_TIMEOUT),
            command_timeout: left,
        }
    }

    fn note(&mut self, sent: bool, apdu: &Apdu) {
        if self.transcript.len() < MAX_TRANSCRIPT {
            self.transcript.push(Line {
                at: self.started.elapsed(),
                sent,
                redacted: redact_apdu(&apdu.encode()),
            });
        } else {
            self.dropped_lines += 1;
        }
    }

    /// Writes bytes within what is left of the deadline.
    fn write(&self, bytes: &[u8]) -> Result<(), Broken> {
        self.host
            .write(bytes, self.remaining())
            .map_err(Broken::Transport)
    }

    /// Performs the serial link's actions.
    fn on_link(&mut self, actions: Vec<LinkAction>) -> Result<(), Broken> {
        for action in actions {
            match action {
                LinkAction::Write(bytes) => self.write(&bytes)?,
                LinkAction::Deliver(apdu) => {
                    self.note(false, &apdu);
                    self.received.push_back(apdu);
                }
                LinkAction::Sent(_) => {}
                // The link NAKs and retransmits on its own; the counters end up as evidence.
                LinkAction::LineError(e) => self.host.debug(&format!("zvt line error: {e}")),
                LinkAction::Failed(failure) => return Err(Broken::Link(failure)),
            }
        }
        Ok(())
    }

    fn send(&mut self, apdu: &Apdu) -> Result<(), Broken> {
        self.note(true, apdu);
        match &mut self.framing {
            Framing::Raw(_) => self.write(&apdu.encode()),
            Framing::Serial(link) => {
                let actions = link.step(LinkInput::Send(apdu), Instant::now());
                self.on_link(actions)
            }
        }
    }

    /// The earliest instant something must happen without input.
    fn wake_at(&self, others: &[Option<Instant>]) -> Instant {
        let link = match &self.framing {
            Framing::Serial(link) => link.deadline(),
            Framing::Raw(_) => None,
        };
        others
            .iter()
            .copied()
            .chain([link])
            .flatten()
            .fold(self.deadline, Instant::min)
    }

    /// Reads once (until `wake` at most) and feeds the bytes to the framing; a read timeout
    /// ticks the serial link instead.
    fn pump(&mut self, wake: Instant) -> Result<(), Broken> {
        let wait = wake
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1));
        let mut buf = [0u8; 512];
        let got = match self.host.read(&mut buf, wait) {
            Ok(n) => &buf[..n],
            Err(TransportError::Timeout) => &[],
            Err(e) => return Err(Broken::Transport(e)),
        };
        let now = Instant::now();
        if !got.is_empty() && self.first_answer.is_none() {
            self.first_answer = Some(now);
        }
        match &mut self.framing {
            Framing::Raw(reader) => {
                reader.feed(got);
                let mut apdus = Vec::new();
                while let Some(apdu) = reader
                    .next_apdu()
                    .map_err(|e| Broken::Garbage(e.to_string()))?
                {
                    apdus.push(apdu);
                }
                for apdu in apdus {
                    self.note(false, &apdu);
                    self.received.push_back(apdu);
                }
                Ok(())
            }
            Framing::Serial(link) => {
                let input = if got.is_empty() {
                    LinkInput::Tick
                } else {
                    LinkInput::Received(got)
                };
                let actions = link.step(input, now);
                self.on_link(actions)
            }
        }
    }

    /// Runs `command` to its end. `watch` sees every decodable APDU the terminal sends, as it
    /// arrives (for progress events); the outcome lists them all again.
    pub fn run(
        &mut self,
        command: &Apdu,
        options: CommandOptions,
        watch: Watcher<'_>,
    ) -> Result<CommandOutcome, Broken> {
        let mut session = CommandSession::new(command.clone(), options.session);
        let mut abort_at = options.abort_at;
        let mut actions = session.step(SessionInput::Start, Instant::now());
        loop {
            for action in std::mem::take(&mut actions) {
                match action {
                    SessionAction::Send(apdu) => self.send(&apdu)?,
                    SessionAction::Done(outcome) => {
                        self.drain();
                        return Ok(outcome);
                    }
                }
            }
            if let Some(apdu) = self.received.pop_front() {
                if let Ok(packet) = Packet::decode(&apdu) {
                    watch(&packet);
                }
                actions = session.step(SessionInput::Received(&apdu), Instant::now());
                continue;
            }
            let now = Instant::now();
            if now >= self.deadline {
                return Err(Broken::Deadline);
            }
            if abort_at.is_some_and(|at| now >= at) {
                // The caller's own deadline (e.g. no card presented): cancel the command
                // cleanly; the terminal acknowledges and ends it with 06 1E, which the
                // session still waits for.
                abort_at = None;
                self.aborted = true;
                self.send(&Apdu::empty(0x06, 0xB0))?;
                continue;
            }
            self.pump(self.wake_at(&[session.deadline(), abort_at]))?;
            actions = session.step(SessionInput::Tick, Instant::now());
        }
    }

    /// On a serial link, waits briefly for the ACK byte of our last frame, so it is not left
    /// in the line for the next check. Best effort.
    fn drain(&mut self) {
        let until = Instant::now() + DRAIN_TIMEOUT;
        while matches!(&self.framing, Framing::Serial(link) if link.is_busy())
            && Instant::now() < until
        {
            if self.pump(self.wake_at(&[Some(until)])).is_err() {
                break;
            }
        }
    }

    fn serial_stats(&self) -> Option<LinkStats> {
        match &self.framing {
            Framing::Serial(link) => Some(link.stats()),
            Framing::Raw(_) => None,
        }
    }

    /// The transcript, one line per APDU: `+12.345 ms -> 05 01 03 00 00 00`.
    pub fn transcript(&self) -> String {
        let mut lines: Vec<String> = self
            .transcript
            .iter()
            .map(|l| {
                let hex: Vec<String> = l.redacted.iter().map(|b| format!("{b:02X}")).collect();
                format!(
                    "+{:.3} ms {} {}",
                    l.at.as_secs_f64() * 1e3,
                    if l.sent { "->" } else { "<-" },
                    hex.join(" ")
                )
            })
            .collect();
        if self.dropped_lines > 0 {
            lines.push(format!("… {} more APDUs not shown", self.dropped_lines));
        }
        lines.join("\n")
    }

    /// Adds what every finding carries: the round trip and serial counters
    /// ([`EcrDriver::add_link_evidence`]) and the transcript.
    pub fn decorate(&self, finding: &mut pb::Finding) {
        self.add_link_evidence(finding);
        if !self.transcript.is_empty() {
            finding
                .evidence
                .push(evidence_text("transcript", &self.transcript()));
        }
    }

    /// Adds the round trip (when the terminal answered; also sent as a metric) and, on a
    /// serial link, its counters: retransmissions, NAKs received, CRC errors.
    pub fn add_link_evidence(&self, finding: &mut pb::Finding) {
        if let Some(first) = self.first_answer {
            let rtt = ms(first.saturating_duration_since(self.started));
            self.host.metric("round_trip", rtt, "ms");
            finding
                .evidence
                .push(evidence_number("round_trip", rtt, "ms"));
        }
        if let Some(stats) = self.serial_stats() {
            for (name, value) in [
                ("retransmissions", stats.retransmissions),
                ("naks_received", stats.naks_received),
                ("crc_errors", stats.crc_errors),
            ] {
                // Counts stay far below 2^53, so the conversion is exact.
                #[allow(clippy::cast_precision_loss, reason = "small counts")]
                finding
                    .evidence
                    .push(evidence_number(name, value as f64, "count"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use posdiag_plugin_api::sdk::{HostBackend, LogLevel};

    use super::*;

    /// A terminal that never answers.
    struct Silent;

    impl HostBackend for Silent {
        fn log(&self, _level: LogLevel, _message: &str) {}
        fn event(&self, _event: &pb::Event) {}
        fn write(&self, _bytes: &[u8], _timeout: Duration) -> Result<(), TransportError> {
            Ok(())
        }
        fn read(&self, _buf: &mut [u8], timeout: Duration) -> Result<usize, TransportError> {
            // Stands in for a read that waits out its timeout; tests keep deadlines short.
            std::thread::sleep(timeout.min(Duration::from_millis(5)));
            Err(TransportError::Timeout)
        }
    }

    fn budget(driver: &EcrDriver<'_>) -> Duration {
        driver.deadline().duration_since(driver.started())
    }

    #[test]
    fn the_budget_keeps_a_margin_for_the_findings() {
        let host = Host::from_backend(Silent);
        let long = EcrDriver::new(&host, "tcp", Duration::from_secs(20)).unwrap();
        assert_eq!(budget(&long), Duration::from_millis(19_750));
        // At most a tenth of a short budget.
        let short = EcrDriver::new(&host, "serial", Duration::from_secs(1)).unwrap();
        assert_eq!(budget(&short), Duration::from_millis(900));
    }

    #[test]
    fn only_serial_usb_and_tcp_links_carry_zvt() {
        let host = Host::from_backend(Silent);
        for kind in ["tcp", "serial", "usb"] {
            assert!(
                EcrDriver::new(&host, kind, Duration::from_secs(1)).is_some(),
                "{kind}"
            );
        }
        for kind in ["", "none", "http"] {
            assert!(
                EcrDriver::new(&host, kind, Duration::from_secs(1)).is_none(),
                "{kind}"
            );
        }
    }

    #[test]
    fn a_silent_terminal_ends_the_command_within_the_budget() {
        let host = Host::from_backend(Silent);
        let mut driver = EcrDriver::new(&host, "tcp", Duration::from_millis(100)).unwrap();
        let options = CommandOptions {
            session: driver.session_config(),
            abort_at: None,
        };
        let command = Apdu::empty(0x05, 0x01);
        let end = driver.run(&command, options, &mut |_| {});
        assert!(Instant::now() < driver.started() + Duration::from_millis(100));
        // The session's own timeout or the budget, whichever the clock reached first.
        match end {
            Ok(outcome) => assert!(matches!(
                outcome.end,
                posdiag_core::zvt::CommandEnd::NoAck | posdiag_core::zvt::CommandEnd::TimedOut
            )),
            Err(broken) => assert_eq!(broken, Broken::Deadline),
        }
        assert!(!driver.sent_abort());
        assert!(driver.transcript().starts_with("+0."));
    }
}
