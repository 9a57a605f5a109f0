//! Drives a ZVT command over a [`Link`]: the sans-I/O command session from
//! `posdiag_core::zvt`, on top of the serial link session (DLE/STX framing,
//! CRC, ACK/NAK, retransmission) for serial ports or of raw APDUs for TCP.
//! This is the only place that turns those state machines' actions into
//! reads and writes, so the deadlines live here.

use std::time::Duration;

use posdiag_core::zvt::{
    Apdu, ApduReader, CommandOutcome, CommandSession, LinkAction, LinkConfig, LinkFailure,
    LinkInput, LinkStats, Role, SerialLink, SessionAction, SessionConfig, SessionInput, ZvtError,
};
use posdiag_transport::{Link, LinkError, LinkKind};
use tokio::time::Instant;

/// How APDUs travel on the link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    /// DLE STX … DLE ETX CRC, with a one-byte ACK/NAK per frame (RS-232, USB serial).
    Serial,
    /// APDUs back to back (TCP).
    Raw,
}

impl Framing {
    pub fn for_link(link: &Link) -> Framing {
        match link.kind() {
            LinkKind::Tcp => Framing::Raw,
            _ => Framing::Serial,
        }
    }
}

/// Why a command could not be carried out.
#[derive(Debug)]
pub(crate) enum DriveError {
    /// The link failed (lost, closed, stuck…).
    Link(LinkError),
    /// A frame was refused or not acknowledged after every retransmission.
    Frame(LinkFailure),
    /// The terminal sent bytes that are not ZVT.
    Protocol(ZvtError),
}

/// What a command exchange gave.
#[derive(Debug)]
pub(crate) struct Exchange {
    /// How the command ended, and what the terminal sent.
    pub result: Result<CommandOutcome, DriveError>,
    /// When the terminal's acknowledgement (80 00 00) arrived, after the command was sent.
    pub acked_after: Option<Duration>,
    /// From sending the command to its end.
    pub elapsed: Duration,
    /// Link-layer counters (serial framing only).
    pub stats: Option<LinkStats>,
    /// Line errors seen (broken frames, CRC errors), as text.
    pub line_errors: Vec<String>,
    /// The APDUs exchanged, card data masked, at most [`MAX_TRANSCRIPT`].
    pub transcript: Vec<TranscriptLine>,
}

/// One APDU of an exchange, for a finding's transcript.
#[derive(Debug, Clone)]
pub(crate) struct TranscriptLine {
    /// Since the command was sent.
    pub at: Duration,
    /// Sent by posdiag (true) or by the terminal.
    pub sent: bool,
    /// The APDU with card numbers and track data masked.
    pub redacted: Vec<u8>,
}

impl TranscriptLine {
    /// `+12.345 ms -> 05 01 03 00 00 00`.
    pub fn render(&self) -> String {
        let hex: Vec<String> = self.redacted.iter().map(|b| format!("{b:02X}")).collect();
        format!(
            "+{:.3} ms {} {}",
            self.at.as_secs_f64() * 1e3,
            if self.sent { "->" } else { "<-" },
            hex.join(" ")
        )
    }
}

/// Transcript lines kept per exchange.
pub(crate) const MAX_TRANSCRIPT: usize = 32;

const MAX_APDU_BYTES: usize = 64 * 1024;

/// Sends `command` and runs its exchange to the end.
pub(crate) async fn run_command(
    link: &mut Link,
    command: Apdu,
    session: SessionConfig,
    frame_ack_timeout: Duration,
) -> Exchange {
    let framing = Framing::for_link(link);
    let mut driver = Driver {
        framing,
        serial: SerialLink::new(LinkConfig {
            ack_timeout: frame_ack_timeout,
            ..LinkConfig::new(Role::Ecr)
        }),
        reader: ApduReader::new(MAX_APDU_BYTES),
        session: CommandSession::new(command, session),
        started: Instant::now(),
        acked_after: None,
        line_errors: Vec::new(),
        transcript: Vec::new(),
    };
    let result = driver.run(link).await;
    Exchange {
        result,
        acked_after: driver.acked_after,
        elapsed: driver.started.elapsed(),
        stats: (framing == Framing::Serial).then(|| driver.serial.stats()),
        line_errors: driver.line_errors,
        transcript: driver.transcript,
    }
}

struct Driver {
    framing: Framing,
    serial: SerialLink,
    reader: ApduReader,
    session: CommandSession,
    started: Instant,
    acked_after: Option<Duration>,
    line_errors: Vec<String>,
    transcript: Vec<TranscriptLine>,
}

impl Driver {
    fn note(&mut self, sent: bool, apdu: &Apdu) {
        if self.transcript.len() < MAX_TRANSCRIPT {
            self.transcript.push(TranscriptLine {
                at: self.started.elapsed(),
                sent,
                redacted: posdiag_core::zvt::redact_apdu(&apdu.encode()),
            });
        }
    }

    async fn run(&mut self, link: &mut Link) -> Result<CommandOutcome, DriveError> {
        self.started = Instant::now();
        let actions = self.session.step(SessionInput::Start, std_now());
        if let Some(done) = self.perform(link, actions).await? {
            return Ok(done);
        }
        let mut buf = vec![0u8; 4096];
        loop {
            let deadline = self.deadline();
            match link.read(&mut buf, deadline).await {
                Ok(n) => {
                    if let Some(done) = self.received(link, &buf[..n]).await? {
                        return Ok(done);
                    }
                    // A line that keeps sending (garbage, broken frames) must
                    // not keep the deadlines from expiring.
                    if Instant::now() >= self.deadline()
                        && let Some(done) = self.tick(link).await?
                    {
                        return Ok(done);
                    }
                }
                Err(e) if e.kind() == posdiag_transport::LinkErrorKind::Timeout => {
                    if let Some(done) = self.tick(link).await? {
                        return Ok(done);
                    }
                }
                Err(e) => return Err(DriveError::Link(e)),
            }
        }
    }

    /// The earliest deadline of the two state machines (both always have
    /// one while the command runs).
    fn deadline(&self) -> Instant {
        let s = self.session.deadline();
        let l = match self.framing {
            Framing::Serial => self.serial.deadline(),
            Framing::Raw => None,
        };
        let next = match (s, l) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => a
                .or(b)
                .unwrap_or_else(|| std::time::Instant::now() + Duration::from_secs(1)),
        };
        Instant::from_std(next)
    }

    async fn tick(&mut self, link: &mut Link) -> Result<Option<CommandOutcome>, DriveError> {
        let now = std_now();
        if self.framing == Framing::Serial {
            let actions = self.serial.step(LinkInput::Tick, now);
            if let Some(done) = self.link_actions(link, actions).await? {
                return Ok(Some(done));
            }
        }
        let actions = self.session.step(SessionInput::Tick, now);
        self.perform(link, actions).await
    }

    async fn received(
        &mut self,
        link: &mut Link,
        bytes: &[u8],
    ) -> Result<Option<CommandOutcome>, DriveError> {
        let now = std_now();
        match self.framing {
            Framing::Serial => {
                let actions = self.serial.step(LinkInput::Received(bytes), now);
                self.link_actions(link, actions).await
            }
            Framing::Raw => {
                self.reader.feed(bytes);
                loop {
                    match self.reader.next_apdu() {
                        Ok(Some(apdu)) => {
                            if let Some(done) = self.deliver(link, &apdu).await? {
                                return Ok(Some(done));
                            }
                        }
                        Ok(None) => return Ok(None),
                        Err(e) => return Err(DriveError::Protocol(e)),
                    }
                }
            }
        }
    }

    async fn deliver(
        &mut self,
        link: &mut Link,
        apdu: &Apdu,
    ) -> Result<Option<CommandOutcome>, DriveError> {
        self.note(false, apdu);
        if self.acked_after.is_none() && apdu.is_ack() {
            self.acked_after = Some(self.started.elapsed());
        }
        let actions = self.session.step(SessionInput::Received(apdu), std_now());
        self.perform(link, actions).await
    }

    /// Carries out the serial link session's actions.
    async fn link_actions(
        &mut self,
        link: &mut Link,
        actions: Vec<LinkAction>,
    ) -> Result<Option<CommandOutcome>, DriveError> {
        let mut done = None;
        for action in actions {
            match action {
                LinkAction::Write(bytes) => write(link, &bytes).await?,
                LinkAction::Deliver(apdu) => {
                    // Box the recursion: delivering may send (an ACK APDU), which
                    // runs the link session again.
                    if let Some(d) = Box::pin(self.deliver(link, &apdu)).await? {
                        done = Some(d);
                    }
                }
                LinkAction::Sent(_) => {}
                LinkAction::LineError(e) => self.line_errors.push(e.to_string()),
                LinkAction::Failed(f) => return Err(DriveError::Frame(f)),
            }
        }
        Ok(done)
    }

    /// Carries out the command session's actions.
    async fn perform(
        &mut self,
        link: &mut Link,
        actions: Vec<SessionAction>,
    ) -> Result<Option<CommandOutcome>, DriveError> {
        for action in actions {
            match action {
                SessionAction::Send(apdu) => {
                    self.note(true, &apdu);
                    match self.framing {
                        Framing::Raw => write(link, &apdu.encode()).await?,
                        Framing::Serial => {
                            let actions = self.serial.step(LinkInput::Send(&apdu), std_now());
                            if let Some(done) = Box::pin(self.link_actions(link, actions)).await? {
                                return Ok(Some(done));
                            }
                        }
                    }
                }
                SessionAction::Done(outcome) => return Ok(Some(outcome)),
            }
        }
        Ok(None)
    }
}

async fn write(link: &mut Link, bytes: &[u8]) -> Result<(), DriveError> {
    // A write that cannot go out within a second is a stuck line, not a slow terminal.
    link.write_all(bytes, Instant::now() + Duration::from_secs(1))
        .await
        .map_err(DriveError::Link)
}

fn std_now() -> std::time::Instant {
    Instant::now().into_std()
}
