//! The five checks driven in-process (`Host::from_backend`) against the real ZVT simulator
//! (`posdiag_sim::zvt`): over TCP with raw APDUs for most scenarios, and once over a pty with
//! DLE/STX framing. Every read is bounded by the check's own budget (`timeout_ms`) and by the
//! socket's or port's read timeout; readiness is `start` returning, never a sleep.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::cell::RefCell;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::rc::Rc;
use std::time::Duration;

use posdiag_plugin_api::pb;
use posdiag_plugin_api::sdk::{Host, HostBackend, LogLevel, TransportError};
use posdiag_plugin_zvt::ZvtPlugin;
use posdiag_sim::zvt::{Card, RunningZvt, Silence, ZvtSimConfig, ZvtState, ZvtTransport};

/// What a backend saw, for assertions after the check.
#[derive(Default)]
struct Seen {
    events: Vec<pb::Event>,
    logs: Vec<String>,
}

fn io_error(e: &std::io::Error) -> TransportError {
    match e.kind() {
        ErrorKind::WouldBlock | ErrorKind::TimedOut => TransportError::Timeout,
        _ => TransportError::LinkLost,
    }
}

/// A read or write timeout a socket accepts (zero means "block forever" there).
fn bounded(timeout: Duration) -> Option<Duration> {
    Some(timeout.max(Duration::from_millis(1)))
}

/// The host's link as a TCP connection to the simulator.
struct TcpBackend {
    stream: RefCell<TcpStream>,
    seen: Rc<RefCell<Seen>>,
}

impl HostBackend for TcpBackend {
    fn log(&self, _level: LogLevel, message: &str) {
        self.seen.borrow_mut().logs.push(message.to_owned());
    }
    fn event(&self, event: &pb::Event) {
        self.seen.borrow_mut().events.push(event.clone());
    }
    fn write(&self, bytes: &[u8], timeout: Duration) -> Result<(), TransportError> {
        let mut s = self.stream.borrow_mut();
        s.set_write_timeout(bounded(timeout))
            .map_err(|e| io_error(&e))?;
        s.write_all(bytes).map_err(|e| io_error(&e))
    }
    fn read(&self, buf: &mut [u8], timeout: Duration) -> Result<usize, TransportError> {
        let mut s = self.stream.borrow_mut();
        s.set_read_timeout(bounded(timeout))
            .map_err(|e| io_error(&e))?;
        match s.read(buf) {
            Ok(0) => Err(TransportError::LinkLost),
            Ok(n) => Ok(n),
            Err(e) => Err(io_error(&e)),
        }
    }
}

/// The host's link as the simulator's pty, opened like a serial port.
struct PtyBackend {
    port: RefCell<serialport::TTYPort>,
    seen: Rc<RefCell<Seen>>,
}

impl HostBackend for PtyBackend {
    fn log(&self, _level: LogLevel, message: &str) {
        self.seen.borrow_mut().logs.push(message.to_owned());
    }
    fn event(&self, event: &pb::Event) {
        self.seen.borrow_mut().events.push(event.clone());
    }
    fn write(&self, bytes: &[u8], timeout: Duration) -> Result<(), TransportError> {
        let mut p = self.port.borrow_mut();
        serialport::SerialPort::set_timeout(&mut *p, timeout.max(Duration::from_millis(1)))
            .map_err(|_| TransportError::LinkLost)?;
        p.write_all(bytes).map_err(|e| io_error(&e))
    }
    fn read(&self, buf: &mut [u8], timeout: Duration) -> Result<usize, TransportError> {
        let mut p = self.port.borrow_mut();
        serialport::SerialPort::set_timeout(&mut *p, timeout.max(Duration::from_millis(1)))
            .map_err(|_| TransportError::LinkLost)?;
        match p.read(buf) {
            Ok(0) => Err(TransportError::LinkLost),
            Ok(n) => Ok(n),
            Err(e) => Err(io_error(&e)),
        }
    }
}

fn sim(state: ZvtState) -> RunningZvt {
    posdiag_sim::zvt::start(ZvtSimConfig {
        transport: ZvtTransport::default(),
        state,
    })
    .expect("starting the zvt simulator")
}

fn request(check: &str, link: &str, timeout_ms: u32, args: &[(&str, &str)]) -> pb::CheckRequest {
    pb::CheckRequest {
        check: check.into(),
        terminal_id: "T1".into(),
        link_kind: link.into(),
        timeout_ms,
        args: args
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        ..Default::default()
    }
}

/// A host whose link is a new TCP connection to `sim`, and what it will see.
fn tcp_host(sim: &RunningZvt) -> (Host, Rc<RefCell<Seen>>) {
    let stream = TcpStream::connect(sim.local_addr().unwrap()).unwrap();
    let seen = Rc::new(RefCell::new(Seen::default()));
    let host = Host::from_backend(TcpBackend {
        stream: RefCell::new(stream),
        seen: Rc::clone(&seen),
    });
    (host, seen)
}

/// Runs one check through `host`; its only finding, checked for sanity.
fn check_on(
    host: &Host,
    link: &str,
    check: &str,
    timeout_ms: u32,
    args: &[(&str, &str)],
) -> pb::Finding {
    let result = ZvtPlugin::new([0; 3])
        .check(host, &request(check, link, timeout_ms, args))
        .unwrap();
    assert_eq!(result.findings.len(), 1);
    let f = result.findings.into_iter().next().unwrap();
    assert_sane(&f, check);
    f
}

/// Runs one check over a new TCP connection to `sim`; the finding and what the host saw.
fn run_tcp(
    sim: &RunningZvt,
    check: &str,
    timeout_ms: u32,
    args: &[(&str, &str)],
) -> (pb::Finding, Seen) {
    let (host, seen) = tcp_host(sim);
    let f = check_on(&host, "tcp", check, timeout_ms, args);
    drop(host);
    let seen = Rc::try_unwrap(seen).ok().unwrap().into_inner();
    (f, seen)
}

/// What every finding must have: the check, the subject, both languages, remedies with
/// both texts and an actor, a transcript.
fn assert_sane(f: &pb::Finding, check: &str) {
    assert_eq!(f.check, check);
    assert_eq!(f.subject, "terminal T1");
    assert!(
        !f.summary_en.is_empty() && !f.summary_zh.is_empty(),
        "{f:?}"
    );
    assert!(!f.reason.is_empty());
    for r in &f.remedies {
        assert!(!r.text_en.is_empty() && !r.text_zh.is_empty(), "{r:?}");
        assert_ne!(r.actor(), pb::Actor::Unspecified);
    }
    if f.verdict() != pb::Verdict::Ok {
        assert!(!f.remedies.is_empty(), "{f:?}");
    }
    assert!(text(f, "transcript").is_some(), "{f:?}");
}

fn text<'a>(f: &'a pb::Finding, name: &str) -> Option<&'a str> {
    match f.evidence.iter().find(|e| e.name == name)?.value.as_ref()? {
        pb::evidence::Value::Text(t) => Some(t),
        _ => None,
    }
}

fn verdict(f: &pb::Finding) -> (pb::Verdict, &str) {
    (f.verdict(), f.reason.as_str())
}

fn phases(seen: &Seen) -> Vec<String> {
    seen.events
        .iter()
        .filter_map(|e| match &e.event {
            Some(pb::event::Event::PhaseStarted(p)) => Some(p.phase.clone()),
            _ => None,
        })
        .collect()
}

fn with_status(status: u8) -> ZvtState {
    let mut state = ZvtState::default();
    state.identity.status = status;
    state
}

#[test]
fn healthy_terminal_status_is_ok_with_identity() {
    let sim = sim(ZvtState::default());
    let (f, seen) = run_tcp(&sim, "terminal.status", 5000, &[]);
    assert_eq!(verdict(&f), (pb::Verdict::Ok, "ok"));
    assert_eq!(text(&f, "terminal_status"), Some("00"));
    assert_eq!(text(&f, "terminal_status_meaning"), Some("PT ready"));
    assert_eq!(text(&f, "terminal_status_meaning_zh"), Some("支付终端就绪"));
    assert_eq!(
        text(&f, "software_version"),
        Some("GER-APP-v2.0.9;cS02.01.01-10.10-2-2;CC26")
    );
    assert_eq!(text(&f, "terminal_id"), Some("52523535"));
    assert_eq!(text(&f, "device_name"), Some("cVEND plug"));
    assert_eq!(text(&f, "device_serial"), Some("17fd1e3c"));
    // The enquiry, the terminal's ACK and completion, our ACK.
    let transcript = text(&f, "transcript").unwrap();
    assert!(transcript.contains("-> 05 01 03 00 00 00"), "{transcript}");
    assert!(transcript.contains("<- 06 0F"), "{transcript}");
    assert_eq!(phases(&seen), ["status_enquiry"]);
}

#[test]
fn each_class_of_terminal_status_is_judged() {
    let sim = sim(ZvtState::default());
    let cases = [
        (
            0x51,
            pb::Verdict::Critical,
            "terminal.not_ready",
            "initialisation",
        ),
        (
            0xE4,
            pb::Verdict::Critical,
            "terminal.not_ready",
            "activation",
        ),
        (0xDF, pb::Verdict::Critical, "terminal.not_ready", "Restart"),
        (0x62, pb::Verdict::Critical, "terminal.not_ready", "time"),
        (
            0xC2,
            pb::Verdict::Critical,
            "terminal.not_ready",
            "diagnosis",
        ),
        (
            0xB1,
            pb::Verdict::Warning,
            "terminal.attention",
            "end of day",
        ),
        (0xCC, pb::Verdict::Warning, "terminal.attention", "paper"),
        (
            0xF0,
            pb::Verdict::Warning,
            "terminal.attention",
            "end of day",
        ),
        (0xE1, pb::Verdict::Warning, "terminal.attention", "card"),
        (0xDC, pb::Verdict::Warning, "terminal.attention", "card"),
        (0x9C, pb::Verdict::Warning, "terminal.busy", "Wait"),
        (0xE0, pb::Verdict::Warning, "terminal.busy", "maintenance"),
        (0x42, pb::Verdict::Warning, "terminal.attention", "display"),
    ];
    for (status, v, reason, step) in cases {
        sim.update(|s| s.identity.status = status);
        let (f, _) = run_tcp(&sim, "terminal.status", 5000, &[]);
        assert_eq!(verdict(&f), (v, reason), "{status:02X}");
        let hex = format!("{status:02X}");
        assert_eq!(text(&f, "terminal_status"), Some(hex.as_str()));
        assert!(f.summary_en.contains(&hex) && f.summary_zh.contains(&hex));
        assert!(
            f.remedies.iter().any(|r| r.text_en.contains(step)),
            "{status:02X}: {:?}",
            f.remedies
        );
    }
    // 51: the merchant initialises, the acquirer's hotline helps if that fails.
    sim.update(|s| s.identity.status = 0x51);
    let (f, _) = run_tcp(&sim, "terminal.status", 5000, &[]);
    let actors: Vec<pb::Actor> = f.remedies.iter().map(pb::Remedy::actor).collect();
    assert_eq!(actors, [pb::Actor::Merchant, pb::Actor::Acquirer]);
    assert_eq!(
        text(&f, "terminal_status_meaning"),
        Some("initialisation required")
    );
}

#[test]
fn software_below_the_minimum() {
    let sim = sim(ZvtState::default());
    let (f, _) = run_tcp(
        &sim,
        "terminal.software",
        5000,
        &[("min_version", "2.0.10")],
    );
    assert_eq!(
        verdict(&f),
        (pb::Verdict::Warning, "terminal.software_outdated")
    );
    assert_eq!(text(&f, "min_version"), Some("2.0.10"));
    assert!(f.remedies.iter().any(|r| r.actor() == pb::Actor::Vendor));
    assert!(f.remedies.iter().any(|r| r.actor() == pb::Actor::Merchant));
}

#[test]
fn software_at_or_above_the_minimum() {
    let sim = sim(ZvtState::default());
    let (f, _) = run_tcp(&sim, "terminal.software", 5000, &[("min_version", "2.0.9")]);
    assert_eq!(verdict(&f), (pb::Verdict::Ok, "ok"));
    let (f, _) = run_tcp(&sim, "terminal.software", 5000, &[("min_version", "v1.12")]);
    assert_eq!(verdict(&f), (pb::Verdict::Ok, "ok"));

    let (f, _) = run_tcp(&sim, "terminal.software", 5000, &[]);
    assert_eq!(verdict(&f), (pb::Verdict::Ok, "ok"));
    assert_eq!(
        text(&f, "software_version"),
        Some("GER-APP-v2.0.9;cS02.01.01-10.10-2-2;CC26")
    );

    sim.update(|s| s.identity.software_version = "GER-APP-v3.1.0".into());
    let (f, _) = run_tcp(
        &sim,
        "terminal.software",
        5000,
        &[("min_version", "2.0.10")],
    );
    assert_eq!(verdict(&f), (pb::Verdict::Ok, "ok"));
}

#[test]
fn a_min_version_without_digits_is_an_invalid_request() {
    let sim = sim(ZvtState::default());
    let (host, _) = tcp_host(&sim);
    let req = request(
        "terminal.software",
        "tcp",
        5000,
        &[("min_version", "latest")],
    );
    let err = ZvtPlugin::new([0; 3]).check(&host, &req).unwrap_err();
    assert!(matches!(
        err,
        posdiag_plugin_api::sdk::PluginError::Invalid(_)
    ));
}

#[test]
fn diagnosis_host_reachable() {
    let sim = sim(ZvtState::default());
    let (f, seen) = run_tcp(&sim, "host.terminal_diagnosis", 5000, &[]);
    assert_eq!(verdict(&f), (pb::Verdict::Ok, "ok"));
    // The intermediate statuses "connecting" (D2) and "connected" (D3) became events.
    let phases = phases(&seen);
    assert_eq!(phases[0], "host_diagnosis");
    assert!(
        phases.iter().any(|p| p.starts_with("terminal status D2")),
        "{phases:?}"
    );
    assert!(
        phases.iter().any(|p| p.starts_with("terminal status D3")),
        "{phases:?}"
    );
    assert!(text(&f, "intermediate_statuses").unwrap().contains("D2"));
    assert!(text(&f, "transcript").unwrap().contains("-> 06 70"));
}

#[test]
fn diagnosis_host_unreachable() {
    let sim = sim(ZvtState::default());
    for code in [0x9B, 0xA1] {
        sim.update(|s| {
            s.host.reachable = false;
            s.host.failure_result = code;
        });
        let (f, _) = run_tcp(&sim, "host.terminal_diagnosis", 5000, &[]);
        assert_eq!(
            verdict(&f),
            (pb::Verdict::Critical, "host.unreachable"),
            "{code:02X}"
        );
        let hex = format!("{code:02X}");
        assert_eq!(text(&f, "result_code"), Some(hex.as_str()));
        assert!(!text(&f, "result_meaning").unwrap().is_empty());
        assert!(!text(&f, "result_meaning_zh").unwrap().is_empty());
    }
    assert_eq!(
        text(
            &run_tcp(&sim, "host.terminal_diagnosis", 5000, &[]).0,
            "result_meaning"
        ),
        Some("remote station does not respond")
    );
    // Any other result is the host (or the terminal's registration) failing, not the line.
    sim.update(|s| {
        s.host.reachable = true;
        s.results.diagnosis = Some(0x6B);
    });
    let (f, _) = run_tcp(&sim, "host.terminal_diagnosis", 5000, &[]);
    assert_eq!(verdict(&f), (pb::Verdict::Critical, "host.error"));
    assert_eq!(text(&f, "result_code"), Some("6B"));
}

#[test]
fn reader_status_judges_reader_faults_only() {
    let cases = [
        (0x00, pb::Verdict::Ok, "ok"),
        (0xF0, pb::Verdict::Ok, "ok"),
        (0xE2, pb::Verdict::Critical, "reader.defective"),
        (0xC0, pb::Verdict::Critical, "reader.defective"),
        (0xE3, pb::Verdict::Warning, "terminal.attention"),
        (0xE1, pb::Verdict::Warning, "terminal.attention"),
        (0xDC, pb::Verdict::Warning, "terminal.attention"),
    ];
    let sim = sim(ZvtState::default());
    for (status, v, reason) in cases {
        sim.update(|s| s.identity.status = status);
        let (f, _) = run_tcp(&sim, "reader.status", 5000, &[]);
        assert_eq!(verdict(&f), (v, reason), "{status:02X}");
        if v == pb::Verdict::Ok {
            assert!(f.summary_en.contains("no reader fault reported"));
        }
    }
}

#[test]
fn read_card_contactless_reports_masked_data() {
    let mut state = ZvtState::default();
    state.reader.card = Card::Contactless;
    let sim = sim(state);
    let (f, seen) = run_tcp(&sim, "reader.read_card", 20_000, &[]);
    assert_eq!(verdict(&f), (pb::Verdict::Ok, "ok"));
    assert_eq!(text(&f, "card_kind"), Some("contactless"));
    assert_eq!(text(&f, "uid"), Some("000000000000081CA72F"));
    assert_eq!(text(&f, "ats"), Some("0578807002"));
    assert_eq!(text(&f, "atqa"), Some("0400"));
    assert_eq!(text(&f, "sak"), Some("20"));
    assert_eq!(text(&f, "aid"), Some("A0000000041010"));
    assert_eq!(text(&f, "reader_card_type"), Some("01"));
    // The UID is evidence, never part of a sentence.
    assert!(!f.summary_en.contains("081CA72F") && !f.summary_zh.contains("081CA72F"));
    let phases = phases(&seen);
    assert!(phases.iter().any(|p| p == "present a card"), "{phases:?}");
    assert!(
        phases.iter().any(|p| p.starts_with("terminal status 0A")),
        "{phases:?}"
    );
    assert!(text(&f, "transcript").unwrap().contains("-> 06 C0 01 0F"));
}

#[test]
fn read_card_chip_reports_only_the_masked_pan() {
    let mut state = ZvtState::default();
    state.reader.card = Card::ChipOk;
    let sim = sim(state);
    let (f, seen) = run_tcp(&sim, "reader.read_card", 20_000, &[]);
    assert_eq!(verdict(&f), (pb::Verdict::Ok, "ok"));
    assert_eq!(text(&f, "pan_masked"), Some("411111******1111"));
    assert_eq!(text(&f, "card_kind"), Some("chip"));
    // Nowhere in full: not in the finding (transcript included), the events or the logs.
    let everything = format!("{f:?} {:?} {:?}", seen.events, seen.logs);
    assert!(!everything.contains("4111111111111111"), "{everything}");
    assert!(
        !everything.contains("41 11 11 11 11 11 11 11"),
        "{everything}"
    );
    // Nor the expiry date.
    assert!(!f.evidence.iter().any(|e| e.name.contains("expir")));
}

/// A read card with this card presented: the finding, checked for the result code.
fn read_failing(card: Card, code: &str) -> pb::Finding {
    let mut state = ZvtState::default();
    state.reader.card = card;
    let sim = sim(state);
    let (f, _) = run_tcp(&sim, "reader.read_card", 20_000, &[]);
    assert_eq!(text(&f, "result_code"), Some(code), "{card:?}");
    assert!(f.summary_en.contains(code) && f.summary_zh.contains(code));
    assert!(!text(&f, "result_meaning").unwrap().is_empty());
    assert!(!text(&f, "result_meaning_zh").unwrap().is_empty());
    f
}

#[test]
fn read_card_stripe_unreadable() {
    let f = read_failing(Card::StripeUnreadable, "64");
    assert_eq!(
        verdict(&f),
        (pb::Verdict::Critical, "reader.stripe_unreadable")
    );
}

#[test]
fn read_card_chip_error() {
    let f = read_failing(Card::ChipError, "72");
    assert_eq!(verdict(&f), (pb::Verdict::Critical, "reader.chip_error"));
}

#[test]
fn read_card_fallback_not_allowed() {
    let f = read_failing(Card::FallbackNotAllowed, "7B");
    assert_eq!(
        verdict(&f),
        (pb::Verdict::Critical, "reader.fallback_not_allowed")
    );
}

#[test]
fn read_card_reader_defective() {
    let f = read_failing(Card::Defective, "E2");
    assert_eq!(verdict(&f), (pb::Verdict::Critical, "reader.defective"));
    assert!(f.remedies.iter().any(|r| r.actor() == pb::Actor::Vendor));
}

#[test]
fn read_card_other_failures() {
    let f = read_failing(Card::DataMissing, "65");
    assert_eq!(verdict(&f), (pb::Verdict::Critical, "reader.no_card_data"));
    // An expired card is the card's problem, not the terminal's.
    let f = read_failing(Card::Expired, "78");
    assert_eq!(verdict(&f), (pb::Verdict::Warning, "reader.card_rejected"));
    let f = read_failing(Card::MethodNotSupported, "C5");
    assert_eq!(
        verdict(&f),
        (pb::Verdict::Critical, "reader.method_not_supported")
    );
}

#[test]
fn read_card_without_a_card_is_aborted_cleanly() {
    // The terminal would wait 30 s; the check's budget ends first, so posdiag aborts.
    let sim = sim(ZvtState::default());
    let (host, _) = tcp_host(&sim);
    let f = check_on(
        &host,
        "tcp",
        "reader.read_card",
        2500,
        &[("timeout_s", "30")],
    );
    assert_eq!(verdict(&f), (pb::Verdict::Warning, "reader.no_card"));
    assert!(
        f.summary_en.starts_with("no card presented within"),
        "{}",
        f.summary_en
    );
    assert_eq!(text(&f, "aborted_by"), Some("posdiag"));
    assert_eq!(text(&f, "result_code"), Some("6C"));
    let transcript = text(&f, "transcript").unwrap();
    assert!(transcript.contains("-> 06 B0 00"), "{transcript}");
    assert!(transcript.contains("<- 06 1E 01 6C"), "{transcript}");
    // The link is left clean: the next check on the same connection reads no leftovers.
    let f = check_on(&host, "tcp", "terminal.status", 5000, &[]);
    assert_eq!(verdict(&f), (pb::Verdict::Ok, "ok"));
}

#[test]
fn silence_is_no_answer_and_a_pulled_cable_is_lost() {
    let mut state = ZvtState::default();
    state.faults.silence = Silence::All;
    let sim = sim(state);
    for check in [
        "terminal.status",
        "host.terminal_diagnosis",
        "reader.read_card",
    ] {
        let (f, _) = run_tcp(&sim, check, 300, &[]);
        assert_eq!(
            verdict(&f),
            (pb::Verdict::Critical, "link.no_answer"),
            "{check}"
        );
    }

    let sim = self::sim(ZvtState::default());
    let (host, _) = tcp_host(&sim);
    sim.unplug().unwrap();
    let f = check_on(&host, "tcp", "terminal.status", 5000, &[]);
    assert_eq!(verdict(&f), (pb::Verdict::Critical, "link.lost"));
}

#[test]
fn pty_status_enquiry_with_serial_framing() {
    let sim = posdiag_sim::zvt::start(ZvtSimConfig {
        transport: ZvtTransport::Pty { link: None },
        state: with_status(0xCC),
    })
    .unwrap();
    let path = sim.device_path().unwrap();
    let port = serialport::new(path.to_string_lossy(), 9600)
        .timeout(Duration::from_millis(50))
        .open_native()
        .unwrap();
    let host = Host::from_backend(PtyBackend {
        port: RefCell::new(port),
        seen: Rc::default(),
    });
    let f = check_on(&host, "serial", "terminal.status", 10_000, &[]);
    assert_eq!(verdict(&f), (pb::Verdict::Warning, "terminal.attention"));
    assert_eq!(
        text(&f, "terminal_status_meaning"),
        Some("printer not ready")
    );
    assert_eq!(
        text(&f, "software_version"),
        Some("GER-APP-v2.0.9;cS02.01.01-10.10-2-2;CC26")
    );
    // Serial-only evidence: the link's counters.
    assert!(f.evidence.iter().any(|e| e.name == "retransmissions"));
    assert!(
        text(&f, "transcript")
            .unwrap()
            .contains("-> 05 01 03 00 00 00")
    );
    // Our last ACK frame was acknowledged: a second check on the same port works too.
    let f = check_on(&host, "serial", "reader.status", 10_000, &[]);
    assert_eq!(verdict(&f), (pb::Verdict::Ok, "ok"));
}

#[test]
fn diagnosis_printout_with_emv_data_is_explained_as_lines_or_a_text_block() {
    let sim = sim(ZvtState::default());
    for text_block in [false, true] {
        sim.update(|s| {
            s.host.reachable = false;
            s.host.failure_result = 0xA1;
            s.receipt = posdiag_sim::zvt::Receipt {
                lines: [
                    "KARTENZAHLUNG",
                    "Karte 4111111111111111",
                    "AID A0000000031010",
                    "TVR 0000008000",
                    "TSI E800",
                    "ARC Z3",
                ]
                .map(String::from)
                .to_vec(),
                text_block,
            };
        });
        let (f, _) = run_tcp(&sim, "host.terminal_diagnosis", 5000, &[]);
        assert_eq!(verdict(&f), (pb::Verdict::Critical, "host.unreachable"));
        assert_eq!(
            text(&f, "emv_receipt"),
            Some(
                "line 3 aid A000000***1010; line 4 tvr 0000008000; line 5 tsi E800; line 6 arc Z3"
            ),
            "text block: {text_block}"
        );
        assert!(text(&f, "emv_causes").unwrap().starts_with("arc.z3"));
        assert!(
            f.summary_en.contains("printout has EMV data"),
            "{}",
            f.summary_en
        );
        assert!(f.summary_zh.contains("EMV 数据"), "{}", f.summary_zh);
        assert!(!format!("{f:?}").contains("4111111111111111"));
    }
}
