//! The ZVT terminal simulator driven from the ECR side with posdiag's own codec: a small
//! blocking client runs the core [`CommandSession`] over TCP (raw APDUs) or over a pty (the
//! core [`SerialLink`] in the ECR role). Every read is bounded by a timeout, so a failing test
//! cannot hang; no test sleeps for readiness or asserts timings.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::collections::VecDeque;
use std::io::{self, Read as _, Write as _};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use posdiag_core::zvt::apdu::{Apdu, ApduReader};
use posdiag_core::zvt::bmp::{bytes_to_hex, hex_to_bytes};
use posdiag_core::zvt::link::{LinkAction, LinkConfig, LinkInput, LinkStats, Role, SerialLink};
use posdiag_core::zvt::packets::Packet;
use posdiag_core::zvt::session::{
    CommandEnd, CommandOutcome, CommandSession, SessionAction, SessionConfig, SessionInput,
};
use posdiag_sim::zvt::{self, Card, RunningZvt, ZvtSimConfig, ZvtState, ZvtTransport};
use serialport::TTYPort;

/// Upper bound for any one exchange; far above what the simulator needs.
const EXCHANGE_LIMIT: Duration = Duration::from_secs(20);

/// The ECR side of a link, blocking with timeouts.
trait EcrLink {
    fn send(&mut self, apdu: &Apdu) -> io::Result<()>;
    /// APDUs that arrived within `wait`; an error when the link broke.
    fn poll(&mut self, wait: Duration) -> io::Result<Vec<Apdu>>;
}

struct TcpClient {
    stream: TcpStream,
    reader: ApduReader,
}

impl TcpClient {
    fn connect(sim: &RunningZvt) -> Self {
        TcpClient {
            stream: TcpStream::connect(sim.local_addr().unwrap()).unwrap(),
            reader: ApduReader::default(),
        }
    }
}

impl EcrLink for TcpClient {
    fn send(&mut self, apdu: &Apdu) -> io::Result<()> {
        self.stream.write_all(&apdu.encode())
    }

    fn poll(&mut self, wait: Duration) -> io::Result<Vec<Apdu>> {
        self.stream.set_read_timeout(Some(wait))?;
        let mut buf = [0u8; 1024];
        match self.stream.read(&mut buf) {
            Ok(0) => return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "hang-up")),
            Ok(n) => self.reader.feed(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(e) => return Err(e),
        }
        let mut out = Vec::new();
        while let Some(apdu) = self.reader.next_apdu().map_err(io::Error::other)? {
            out.push(apdu);
        }
        Ok(out)
    }
}

struct SerialClient {
    port: TTYPort,
    link: SerialLink,
    inbox: VecDeque<Apdu>,
}

impl SerialClient {
    fn open(path: &Path) -> Self {
        let port = serialport::new(path.to_string_lossy(), 9600)
            .timeout(Duration::from_millis(50))
            .open_native()
            .unwrap_or_else(|e| panic!("opening {}: {e}", path.display()));
        SerialClient {
            port,
            link: SerialLink::new(LinkConfig::new(Role::Ecr)),
            inbox: VecDeque::new(),
        }
    }

    fn perform(&mut self, actions: Vec<LinkAction>) -> io::Result<()> {
        for action in actions {
            match action {
                LinkAction::Write(bytes) => self.port.write_all(&bytes)?,
                LinkAction::Deliver(apdu) => self.inbox.push_back(apdu),
                LinkAction::Failed(failure) => return Err(io::Error::other(failure.to_string())),
                LinkAction::Sent(_) | LinkAction::LineError(_) => {}
            }
        }
        Ok(())
    }

    fn stats(&self) -> LinkStats {
        self.link.stats()
    }
}

impl EcrLink for SerialClient {
    fn send(&mut self, apdu: &Apdu) -> io::Result<()> {
        let actions = self.link.step(LinkInput::Send(apdu), Instant::now());
        self.perform(actions)
    }

    fn poll(&mut self, wait: Duration) -> io::Result<Vec<Apdu>> {
        serialport::SerialPort::set_timeout(&mut self.port, wait).map_err(io::Error::from)?;
        let mut buf = [0u8; 1024];
        let actions = match self.port.read(&mut buf) {
            Ok(0) => return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "hang-up")),
            Ok(n) => self
                .link
                .step(LinkInput::Received(&buf[..n]), Instant::now()),
            Err(e) if e.kind() == io::ErrorKind::TimedOut => {
                self.link.step(LinkInput::Tick, Instant::now())
            }
            Err(e) => return Err(e),
        };
        self.perform(actions)?;
        Ok(self.inbox.drain(..).collect())
    }
}

/// Runs one command with the core ECR session; `on_packet` may send extra APDUs (an abort).
fn exchange_with(
    link: &mut dyn EcrLink,
    command: &str,
    mut on_packet: impl FnMut(&Packet) -> Option<Apdu>,
) -> io::Result<CommandOutcome> {
    let config = SessionConfig {
        ack_timeout: Duration::from_secs(5),
        command_timeout: Duration::from_secs(15),
    };
    let command = Apdu::decode(&hex_to_bytes(command).unwrap()).unwrap();
    let mut session = CommandSession::new(command, config);
    let limit = Instant::now() + EXCHANGE_LIMIT;
    let mut actions = session.step(SessionInput::Start, Instant::now());
    loop {
        for action in actions.drain(..) {
            match action {
                SessionAction::Send(apdu) => link.send(&apdu)?,
                SessionAction::Done(outcome) => return Ok(outcome),
            }
        }
        assert!(Instant::now() < limit, "exchange did not end");
        for apdu in link.poll(Duration::from_millis(50))? {
            if let Ok(packet) = Packet::decode(&apdu)
                && let Some(extra) = on_packet(&packet)
            {
                actions.extend(session.step(SessionInput::Received(&apdu), Instant::now()));
                for action in actions.drain(..) {
                    match action {
                        SessionAction::Send(apdu) => link.send(&apdu)?,
                        SessionAction::Done(outcome) => return Ok(outcome),
                    }
                }
                link.send(&extra)?;
                continue;
            }
            actions.extend(session.step(SessionInput::Received(&apdu), Instant::now()));
        }
        actions.extend(session.step(SessionInput::Tick, Instant::now()));
    }
}

fn exchange(link: &mut dyn EcrLink, command: &str) -> CommandOutcome {
    exchange_with(link, command, |_| None).unwrap()
}

const STATUS_ENQUIRY: &str = "050103123456";
const DIAGNOSIS: &str = "06700506031b0101";
/// The captured read card: timeout 15 s, card type 0x10, dialog control 2, TLV.
const READ_CARD: &str = "06c00f0f1910fc0206081f1501d01f600107";

fn start(transport: ZvtTransport, state: ZvtState) -> RunningZvt {
    zvt::start(ZvtSimConfig { transport, state }).unwrap()
}

fn tcp_sim(state: ZvtState) -> RunningZvt {
    start(
        ZvtTransport::Tcp {
            bind: "127.0.0.1:0".parse().unwrap(),
        },
        state,
    )
}

fn pty_sim(link: Option<&Path>) -> RunningZvt {
    start(
        ZvtTransport::Pty {
            link: link.map(Path::to_path_buf),
        },
        ZvtState::default(),
    )
}

fn completion(outcome: &CommandOutcome) -> posdiag_core::zvt::packets::Completion {
    assert_eq!(outcome.end, CommandEnd::Completed, "{outcome:?}");
    outcome
        .packets()
        .find_map(|p| match p {
            Packet::Completion(c) => Some(c.clone()),
            _ => None,
        })
        .unwrap()
}

fn assert_status_enquiry_completion(outcome: &CommandOutcome) {
    assert_eq!(outcome.packets().next(), Some(&Packet::Ack));
    let c = completion(outcome);
    assert_eq!(
        c.software_version_text().unwrap(),
        "GER-APP-v2.0.9;cS02.01.01-10.10-2-2;CC26"
    );
    assert_eq!(c.terminal_status, Some(0x00));
    assert_eq!(c.terminal_id().unwrap(), "52523535");
    let info = c.device_info().unwrap();
    assert_eq!(info.name.as_deref(), Some("cVEND plug"));
    assert_eq!(info.serial.as_deref(), Some("17fd1e3c"));
}

#[test]
fn tcp_status_enquiry_reports_identity_and_maintenance() {
    let sim = tcp_sim(ZvtState::default());
    let mut ecr = TcpClient::connect(&sim);
    assert_status_enquiry_completion(&exchange(&mut ecr, STATUS_ENQUIRY));

    sim.update(|s| s.maintenance.active = true);
    let c = completion(&exchange(&mut ecr, STATUS_ENQUIRY));
    assert_eq!(c.terminal_status, Some(0xE0));
    let outcome = exchange(&mut ecr, DIAGNOSIS);
    assert_eq!(outcome.end, CommandEnd::Aborted { result_code: 0x9C });

    // Unknown commands are refused; log-off is acknowledged only.
    assert_eq!(
        exchange(&mut ecr, "065003123456").end,
        CommandEnd::Refused { code: 0x83 }
    );
    assert_eq!(exchange(&mut ecr, "060200").end, CommandEnd::Completed);
    assert_eq!(sim.stats().commands, 5);
}

#[test]
fn tcp_diagnosis_with_host_reachable_and_unreachable() {
    let sim = tcp_sim(ZvtState::default());
    let mut ecr = TcpClient::connect(&sim);
    let outcome = exchange(&mut ecr, DIAGNOSIS);
    assert_eq!(outcome.end, CommandEnd::Completed);
    let statuses: Vec<u8> = outcome
        .packets()
        .filter_map(|p| match p {
            Packet::IntermediateStatus(s) => Some(s.status),
            _ => None,
        })
        .collect();
    assert_eq!(statuses, [0xD2, 0xD3]);

    sim.update(|s| {
        s.host.reachable = false;
        s.host.failure_result = 0x9B;
    });
    let outcome = exchange(&mut ecr, DIAGNOSIS);
    assert_eq!(outcome.end, CommandEnd::Aborted { result_code: 0x9B });

    sim.update(|s| s.results.diagnosis = Some(0xA1));
    assert_eq!(
        exchange(&mut ecr, DIAGNOSIS).end,
        CommandEnd::Aborted { result_code: 0xA1 }
    );
}

#[test]
fn tcp_read_card_outcomes() {
    let sim = tcp_sim(ZvtState::default());
    let mut ecr = TcpClient::connect(&sim);

    sim.update(|s| s.reader.card = Card::Contactless);
    let outcome = exchange(&mut ecr, READ_CARD);
    assert_eq!(outcome.end, CommandEnd::Completed);
    let info = outcome
        .packets()
        .find_map(|p| match p {
            Packet::StatusInformation(s) => Some(s.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(bytes_to_hex(info.uid().unwrap()), "000000000000081ca72f");
    assert_eq!(bytes_to_hex(info.ats().unwrap()), "0578807002");
    assert_eq!(bytes_to_hex(info.atqa().unwrap()), "0400");
    assert_eq!(info.sak(), Some(0x20));
    assert_eq!(bytes_to_hex(&info.aid().unwrap()), "a0000000041010");

    sim.update(|s| s.reader.card = Card::MagstripeOk);
    let outcome = exchange(&mut ecr, READ_CARD);
    let pan = outcome
        .packets()
        .find_map(|p| match p {
            Packet::StatusInformation(s) => s.pan(),
            _ => None,
        })
        .unwrap();
    assert_eq!(pan.to_string(), "411111******1111");
    assert!(!format!("{outcome:?}").contains("4111111111111111"));

    let failures = [
        (Card::StripeUnreadable, 0x64),
        (Card::DataMissing, 0x65),
        (Card::ChipError, 0x72),
        (Card::Expired, 0x78),
        (Card::Unknown, 0x7A),
        (Card::FallbackNotAllowed, 0x7B),
        (Card::MethodNotSupported, 0xC5),
        (Card::Defective, 0xE2),
    ];
    for (card, code) in failures {
        sim.update(|s| s.reader.card = card);
        let outcome = exchange(&mut ecr, READ_CARD);
        assert_eq!(
            outcome.end,
            CommandEnd::Aborted { result_code: code },
            "{card:?}"
        );
    }

    // No card: the terminal waits for one; an abort 06 B0 ends the read with 6C.
    sim.update(|s| s.reader.card = Card::NoCard);
    let outcome = exchange_with(&mut ecr, READ_CARD, |packet| match packet {
        Packet::IntermediateStatus(s) if s.status == 0x0A => Some(Apdu::empty(0x06, 0xB0)),
        _ => None,
    })
    .unwrap();
    assert_eq!(outcome.end, CommandEnd::Aborted { result_code: 0x6C });
}

#[test]
fn pty_status_enquiry_survives_a_corrupted_crc() {
    let sim = pty_sim(None);
    let mut ecr = SerialClient::open(&sim.device_path().unwrap());
    assert_status_enquiry_completion(&exchange(&mut ecr, STATUS_ENQUIRY));
    assert_eq!(ecr.stats().crc_errors, 0);

    // The next frame the terminal sends has a broken CRC: the ECR answers NAK and the
    // terminal's link session sends it again.
    sim.update(|s| s.faults.corrupt_crc_next = 1);
    assert_status_enquiry_completion(&exchange(&mut ecr, STATUS_ENQUIRY));
    assert_eq!(ecr.stats().crc_errors, 1);
    let stats = sim.stats();
    assert_eq!(stats.link.naks_received, 1);
    assert_eq!(stats.link.retransmissions, 1);
    assert_eq!(stats.faults_applied, 1);
}

#[test]
fn pty_nak_every_nth_frame_is_retransmitted() {
    let sim = pty_sim(None);
    sim.update(|s| {
        s.faults.nak_every = 2;
        s.faults.garbage_bytes = 3;
    });
    let mut ecr = SerialClient::open(&sim.device_path().unwrap());
    assert_status_enquiry_completion(&exchange(&mut ecr, STATUS_ENQUIRY));
    let outcome = exchange(&mut ecr, DIAGNOSIS);
    assert_eq!(outcome.end, CommandEnd::Completed);
    let stats = ecr.stats();
    assert!(stats.naks_received >= 2, "{stats:?}");
    assert_eq!(stats.retransmissions, stats.naks_received);
    assert!(stats.garbage_bytes >= 3, "{stats:?}");
    assert_eq!(stats.failures, 0);
}

#[test]
fn pty_cable_pull_mid_exchange_and_replug_under_the_link() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("zvt0");
    let sim = pty_sim(Some(&link));
    let first = sim.device_path().unwrap();
    assert_eq!(std::fs::read_link(&link).unwrap(), first);

    let mut ecr = SerialClient::open(&link);
    // A read card without a card keeps the exchange open; pull the cable in the middle.
    let result = exchange_with(&mut ecr, READ_CARD, |packet| {
        if matches!(packet, Packet::IntermediateStatus(s) if s.status == 0x0A) {
            sim.unplug().unwrap();
        }
        None
    });
    let error = result.unwrap_err();
    assert!(
        matches!(
            error.kind(),
            io::ErrorKind::BrokenPipe | io::ErrorKind::UnexpectedEof | io::ErrorKind::Other
        ) || error.raw_os_error() == Some(5),
        "{error:?}"
    );
    assert!(!link.exists(), "the link must go with the device");
    assert_eq!(sim.device_path(), None);

    let second = sim.replug().unwrap().unwrap();
    assert_eq!(std::fs::read_link(&link).unwrap(), second);
    drop(ecr);
    let mut ecr = SerialClient::open(&link);
    assert_status_enquiry_completion(&exchange(&mut ecr, STATUS_ENQUIRY));
}

#[test]
fn tcp_cable_pull_closes_the_connection() {
    let sim = tcp_sim(ZvtState::default());
    let mut ecr = TcpClient::connect(&sim);
    assert_eq!(exchange(&mut ecr, "060200").end, CommandEnd::Completed);
    sim.unplug().unwrap();
    let limit = Instant::now() + EXCHANGE_LIMIT;
    let error = loop {
        match ecr.poll(Duration::from_millis(50)) {
            Err(e) => break e,
            Ok(_) => assert!(Instant::now() < limit, "no hang-up"),
        }
    };
    assert!(
        matches!(
            error.kind(),
            io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset
        ),
        "{error:?}"
    );
    sim.replug().unwrap();
    let mut ecr = TcpClient::connect(&sim);
    assert_status_enquiry_completion(&exchange(&mut ecr, STATUS_ENQUIRY));
    sim.shutdown();
}

/// Sends a signal to a child with the `kill` utility (no `unsafe` for `libc::kill`).
fn signal(child: &std::process::Child, name: &str) {
    let status = std::process::Command::new("kill")
        .args([format!("-{name}"), child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn binary_serves_a_pty_and_reloads_the_scenario_on_sighup() {
    use std::io::BufRead as _;

    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("zvt0");
    let scenario = dir.path().join("zvt.toml");
    std::fs::write(&scenario, "[terminal]\nstatus = 0x00\n").unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_posdiag-sim"))
        .arg("zvt")
        .arg("--pty")
        .arg("--pty-link")
        .arg(&link)
        .arg("--scenario")
        .arg(&scenario)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let device = line
        .trim()
        .strip_prefix("pty ")
        .unwrap_or_else(|| panic!("{line:?}"))
        .to_owned();
    line.clear();
    stdout.read_line(&mut line).unwrap();
    assert!(
        line.starts_with(&format!("listening on {device} (zvt over pty")),
        "{line:?}"
    );
    assert_eq!(std::fs::read_link(&link).unwrap(), Path::new(&device));

    let mut ecr = SerialClient::open(&link);
    assert_eq!(
        completion(&exchange(&mut ecr, STATUS_ENQUIRY)).terminal_status,
        Some(0x00)
    );

    std::fs::write(&scenario, "[terminal]\nstatus = 0x51\n").unwrap();
    signal(&child, "HUP");
    // The reload happens asynchronously; ask until it shows (bounded).
    let limit = Instant::now() + EXCHANGE_LIMIT;
    while completion(&exchange(&mut ecr, STATUS_ENQUIRY)).terminal_status != Some(0x51) {
        assert!(Instant::now() < limit, "scenario not reloaded");
    }

    signal(&child, "TERM");
    let limit = Instant::now() + EXCHANGE_LIMIT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < limit, "did not stop");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status:?}");
    assert!(!link.exists(), "the link is removed on exit");
}
