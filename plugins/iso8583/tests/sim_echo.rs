//! `host.echo` run in-process through `Host::from_backend`, over a real loopback TCP
//! connection to posdiag-sim's acquirer host in ISO 8583 mode, in the ascii, binary,
//! ascii-1993 and cup dialects: healthy, issuer down, cutover, silent, partial loss, stray
//! answers, and the host's transport faults (stall, reset, flaky, refusing, slow).
//!
//! The backend stands in for the daemon: it connects once before the check (a failed
//! connect leaves no link, as in the daemon) and bounds every read and write by the timeout
//! the plugin passes. Partial loss is made deterministic by switching the simulator to
//! silent from the backend just before a given echo is forwarded. Nothing sleeps for
//! readiness (the simulator's `start` returns once it listens) and no assertion is about
//! how long something took.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use posdiag_codes::{KnowledgeBase, Scheme};
use posdiag_core::iso8583::Dialect;
use posdiag_plugin_api::pb;
use posdiag_plugin_api::sdk::{Host, HostBackend, LogLevel, PluginError, TransportError};
use posdiag_plugin_iso8583::run_echo;
use posdiag_sim::host::{self, Answer, Fault, HostSimConfig, RunningHost};
use posdiag_sim::iso8583::{HostState, IsoHost, IsoScenario};

/// A simulator on a runtime of its own; the check runs blocking on the test thread.
struct Sim {
    running: RunningHost,
    iso: IsoHost,
    _rt: tokio::runtime::Runtime,
}

fn sim(dialect: &str, state: HostState, fault: Fault) -> Sim {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let scenario = IsoScenario {
        state,
        ..IsoScenario::default()
    };
    let iso = IsoHost::new(Dialect::by_name(dialect).unwrap(), scenario).unwrap();
    let running = rt
        .block_on(host::start(HostSimConfig {
            answer: Answer::Iso8583(iso.clone()),
            fault,
            seed: Some(7),
            ..HostSimConfig::default()
        }))
        .unwrap();
    Sim {
        running,
        iso,
        _rt: rt,
    }
}

/// What the backend does to the traffic, on top of relaying it.
#[derive(Default)]
struct Tamper {
    /// Before forwarding the echo with this index (0-based), switch the host to silent.
    silence_from: Option<(u32, IsoHost)>,
    /// Rewrite the STAN of every request, so that the host's answers match no echo.
    restan: Option<Dialect>,
    /// Bytes handed to the plugin before anything the host sends.
    inject: Vec<u8>,
}

/// The daemon's side of the link: one TCP connection, every call bounded by its timeout.
struct TcpBackend {
    stream: Option<TcpStream>,
    tamper: Tamper,
    writes: Cell<u32>,
    injected: RefCell<VecDeque<u8>>,
}

impl TcpBackend {
    fn connect(addr: SocketAddr, tamper: Tamper) -> TcpBackend {
        // As in the daemon: a failed connect means the check runs without a link.
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).ok();
        let injected = RefCell::new(tamper.inject.iter().copied().collect());
        TcpBackend {
            stream,
            tamper,
            writes: Cell::new(0),
            injected,
        }
    }
}

fn io_error(e: &std::io::Error) -> TransportError {
    match e.kind() {
        ErrorKind::WouldBlock | ErrorKind::TimedOut => TransportError::Timeout,
        // Reset, aborted, broken pipe, EOF: the daemon reports all of them as a lost link.
        _ => TransportError::LinkLost,
    }
}

impl HostBackend for TcpBackend {
    fn log(&self, _level: LogLevel, _message: &str) {}
    fn event(&self, _event: &pb::Event) {}

    fn write(&self, bytes: &[u8], timeout: Duration) -> Result<(), TransportError> {
        let mut stream = self.stream.as_ref().ok_or(TransportError::NoLink)?;
        let index = self.writes.get();
        self.writes.set(index + 1);
        if let Some((from, iso)) = &self.tamper.silence_from
            && index == *from
        {
            iso.set_state(HostState::Silent);
        }
        let mut bytes = bytes.to_vec();
        if let Some(d) = &self.tamper.restan {
            let width = d.length_prefix().width();
            let mut m = d.decode(&bytes[width..]).unwrap();
            let stan: u32 = m.stan().unwrap().parse().unwrap();
            m.set(11, format!("{:06}", (stan + 500_000) % 1_000_000))
                .unwrap();
            bytes = d.encode_framed(&m).unwrap();
        }
        stream
            .set_write_timeout(Some(timeout.max(Duration::from_millis(1))))
            .unwrap();
        stream.write_all(&bytes).map_err(|e| io_error(&e))
    }

    fn read(&self, buf: &mut [u8], timeout: Duration) -> Result<usize, TransportError> {
        let mut stream = self.stream.as_ref().ok_or(TransportError::NoLink)?;
        {
            let mut injected = self.injected.borrow_mut();
            if !injected.is_empty() {
                let n = buf.len().min(injected.len());
                for (slot, b) in buf.iter_mut().zip(injected.drain(..n)) {
                    *slot = b;
                }
                return Ok(n);
            }
        }
        stream
            .set_read_timeout(Some(timeout.max(Duration::from_millis(1))))
            .unwrap();
        match stream.read(buf) {
            Ok(0) => Err(TransportError::LinkLost),
            Ok(n) => Ok(n),
            Err(e) => Err(io_error(&e)),
        }
    }
}

fn request(addr: SocketAddr, args: &[(&str, &str)], timeout_ms: u32) -> pb::CheckRequest {
    pb::CheckRequest {
        check: "host.echo".into(),
        terminal_id: "T1".into(),
        link_kind: "tcp".into(),
        link_address: addr.to_string(),
        timeout_ms,
        args: args
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        ..Default::default()
    }
}

fn check_with(
    addr: SocketAddr,
    tamper: Tamper,
    args: &[(&str, &str)],
    timeout_ms: u32,
) -> Vec<pb::Finding> {
    let host = Host::from_backend(TcpBackend::connect(addr, tamper));
    let result = run_echo(&host, &request(addr, args, timeout_ms)).unwrap();
    assert!(!result.findings.is_empty());
    for f in &result.findings {
        assert_eq!(f.check, "host.echo");
        assert!(
            !f.summary_en.is_empty() && !f.summary_zh.is_empty(),
            "{f:?}"
        );
        assert_eq!(f.subject, format!("acquirer host {addr}"));
    }
    result.findings
}

fn check(sim: &Sim, args: &[(&str, &str)], timeout_ms: u32) -> Vec<pb::Finding> {
    check_with(sim.running.addr(), Tamper::default(), args, timeout_ms)
}

fn value<'a>(f: &'a pb::Finding, name: &str) -> &'a pb::evidence::Value {
    f.evidence
        .iter()
        .find(|e| e.name == name)
        .and_then(|e| e.value.as_ref())
        .unwrap_or_else(|| panic!("no evidence {name} in {f:?}"))
}

fn num(f: &pb::Finding, name: &str) -> f64 {
    match value(f, name) {
        pb::evidence::Value::Number(n) => *n,
        other => panic!("{name} is {other:?}"),
    }
}

fn text<'a>(f: &'a pb::Finding, name: &str) -> &'a str {
    match value(f, name) {
        pb::evidence::Value::Text(t) => t,
        other => panic!("{name} is {other:?}"),
    }
}

fn headline(findings: &[pb::Finding]) -> (pb::Verdict, &str) {
    (findings[0].verdict(), findings[0].reason.as_str())
}

/// The dialects, the arguments each needs, its scheme and its codes for approved, cutover
/// and issuer down (the simulator maps 1987 codes to 1993 action codes).
struct Case {
    dialect: &'static str,
    args: Vec<(&'static str, &'static str)>,
    scheme: Scheme,
    approved: &'static str,
    cutover: &'static str,
    issuer_down: &'static str,
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            dialect: "ascii",
            args: vec![("dialect", "ascii")],
            scheme: Scheme::Iso8583_1987,
            approved: "00",
            cutover: "90",
            issuer_down: "91",
        },
        Case {
            dialect: "binary",
            args: vec![("dialect", "binary")],
            scheme: Scheme::Iso8583_1987,
            approved: "00",
            cutover: "90",
            issuer_down: "91",
        },
        Case {
            dialect: "ascii-1993",
            args: vec![("dialect", "ascii-1993")],
            scheme: Scheme::Iso8583_1993,
            approved: "800",
            cutover: "906",
            issuer_down: "907",
        },
        Case {
            dialect: "cup",
            args: vec![
                ("dialect", "cup"),
                ("tpdu", "6000030000"),
                ("terminal_id", "12345678"),
                ("merchant_id", "123456789012345"),
            ],
            scheme: Scheme::Cup,
            approved: "00",
            cutover: "90",
            issuer_down: "91",
        },
    ]
}

fn with<'a>(base: &[(&'a str, &'a str)], more: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    base.iter().chain(more).copied().collect()
}

#[test]
fn a_healthy_host_is_ok_in_every_dialect() {
    for case in cases() {
        let sim = sim(case.dialect, HostState::Normal, Fault::Healthy);
        let args = with(&case.args, &[("count", "3"), ("interval_ms", "0")]);
        let findings = check(&sim, &args, 10_000);
        assert_eq!(findings.len(), 1, "{}: {findings:?}", case.dialect);
        let f = &findings[0];
        assert_eq!(
            headline(&findings),
            (pb::Verdict::Ok, "ok"),
            "{}",
            case.dialect
        );
        assert_eq!(text(f, "dialect"), case.dialect);
        assert_eq!(num(f, "sent"), 3.0);
        assert_eq!(num(f, "answered"), 3.0);
        assert_eq!(num(f, "loss_ratio"), 0.0);
        assert_eq!(num(f, "mismatched"), 0.0);
        assert_eq!(text(f, "response_code"), case.approved);
        assert_eq!(text(f, "response_code_scheme"), case.scheme.name());
        assert_eq!(text(f, "response_codes"), format!("{}×3", case.approved));
        assert!(num(f, "rtt_min") <= num(f, "rtt_p50"));
        assert!(num(f, "rtt_p95") <= num(f, "rtt_max"));
        assert!(num(f, "jitter") >= 0.0);
        assert!(f.summary_en.contains(case.approved), "{}", f.summary_en);
        assert!(f.remedies.is_empty());
        assert_eq!(sim.iso.answered(), 3, "{}", case.dialect);
    }
}

#[test]
fn issuer_down_is_critical_with_the_code_explained_in_both_languages() {
    let kb = KnowledgeBase::builtin();
    for case in cases() {
        let sim = sim(case.dialect, HostState::IssuerDown, Fault::Healthy);
        let args = with(&case.args, &[("count", "2"), ("interval_ms", "0")]);
        let findings = check(&sim, &args, 10_000);
        let f = &findings[0];
        assert_eq!(
            headline(&findings),
            (pb::Verdict::Critical, "echo.response_code"),
            "{}",
            case.dialect
        );
        let entry = kb.get(&case.scheme, case.issuer_down).unwrap();
        assert_eq!(text(f, "response_code"), case.issuer_down);
        assert_eq!(text(f, "response_code_meaning_en"), entry.meaning.en);
        assert_eq!(text(f, "response_code_meaning_zh"), entry.meaning.zh);
        assert!(f.summary_en.contains(case.issuer_down), "{}", f.summary_en);
        assert!(f.summary_en.contains(&entry.meaning.en), "{}", f.summary_en);
        assert!(f.summary_zh.contains(&entry.meaning.zh), "{}", f.summary_zh);
        assert!(!text(f, "response_code_causes_en").is_empty());
        assert!(!text(f, "response_code_causes_zh").is_empty());
        // The knowledge base's remedies, with their actors.
        assert_eq!(f.remedies.len(), entry.remedies.len());
        assert!(
            f.remedies
                .iter()
                .all(|r| r.actor() != pb::Actor::Unspecified)
        );
    }
    // Spelled out once, so a changed table is noticed here too.
    let sim = sim("ascii", HostState::IssuerDown, Fault::Healthy);
    let f = &check(&sim, &[("count", "1")], 10_000)[0];
    assert!(f.summary_en.contains("91 (issuer or switch inoperative)"));
    assert!(f.summary_zh.contains("91（发卡行或交换中心不可用）"));
}

#[test]
fn the_cutover_window_is_a_warning_to_wait_for() {
    for case in cases() {
        let sim = sim(case.dialect, HostState::Cutover, Fault::Healthy);
        let args = with(&case.args, &[("count", "2"), ("interval_ms", "0")]);
        let findings = check(&sim, &args, 10_000);
        let f = &findings[0];
        assert_eq!(
            headline(&findings),
            (pb::Verdict::Warning, "echo.cutover"),
            "{}",
            case.dialect
        );
        assert_eq!(text(f, "response_code"), case.cutover);
        assert!(
            f.summary_en.contains("end-of-day window"),
            "{}",
            f.summary_en
        );
        assert!(f.remedies[0].text_en.contains("end-of-day window"));
        assert_eq!(f.remedies[0].actor(), pb::Actor::Merchant);
    }
    let sim = sim("cup", HostState::Cutover, Fault::Healthy);
    let f = &check(&sim, &[("dialect", "cup"), ("count", "1")], 10_000)[0];
    assert!(f.summary_zh.contains("系统日切"), "{}", f.summary_zh);
}

#[test]
fn a_silent_host_times_out_within_the_budget() {
    for (dialect, extra) in [("ascii", vec![]), ("cup", vec![("tpdu", "6000030000")])] {
        let sim = sim(dialect, HostState::Silent, Fault::Healthy);
        let args = with(&[("dialect", dialect)], &extra);
        // Default reply timeout (5 s) is longer than the budget: the budget wins.
        let findings = check(&sim, &args, 1500);
        let f = &findings[0];
        assert_eq!(
            headline(&findings),
            (pb::Verdict::Critical, "echo.timeout"),
            "{dialect}"
        );
        assert_eq!(num(f, "answered"), 0.0);
        assert_eq!(num(f, "loss_ratio"), 1.0);
        assert!(num(f, "sent") >= 1.0);
        assert!(num(f, "not_sent") >= 1.0);
        assert!(!f.remedies.is_empty());
    }
}

#[test]
fn a_stalled_host_times_out() {
    let sim = sim("binary", HostState::Normal, Fault::Stall);
    let findings = check(
        &sim,
        &[
            ("dialect", "binary"),
            ("count", "2"),
            ("reply_timeout_ms", "200"),
        ],
        10_000,
    );
    assert_eq!(headline(&findings), (pb::Verdict::Critical, "echo.timeout"));
    assert_eq!(num(&findings[0], "sent"), 2.0);
}

#[test]
fn partial_loss_is_a_warning_and_half_lost_is_critical() {
    for (answered_before_silence, verdict) in
        [(3, pb::Verdict::Warning), (2, pb::Verdict::Critical)]
    {
        let sim = sim("ascii", HostState::Normal, Fault::Healthy);
        let tamper = Tamper {
            silence_from: Some((answered_before_silence, sim.iso.clone())),
            ..Tamper::default()
        };
        let findings = check_with(
            sim.running.addr(),
            tamper,
            &[
                ("count", "5"),
                ("interval_ms", "0"),
                ("reply_timeout_ms", "300"),
            ],
            10_000,
        );
        let f = &findings[0];
        assert_eq!(headline(&findings), (verdict, "echo.loss"));
        assert_eq!(num(f, "answered"), f64::from(answered_before_silence));
        let lost = 5 - answered_before_silence;
        assert_eq!(num(f, "lost"), f64::from(lost));
        assert_eq!(num(f, "loss_ratio"), f64::from(lost) / 5.0);
        // The answers that did come were approved: the loss is the only problem.
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert_eq!(text(f, "response_code"), "00");
    }
}

#[test]
fn answers_to_other_stans_are_a_mismatch() {
    let sim = sim("ascii", HostState::Normal, Fault::Healthy);
    let tamper = Tamper {
        restan: Some(Dialect::ascii()),
        ..Tamper::default()
    };
    let findings = check_with(
        sim.running.addr(),
        tamper,
        &[
            ("count", "2"),
            ("interval_ms", "0"),
            ("reply_timeout_ms", "300"),
        ],
        10_000,
    );
    let f = &findings[0];
    assert_eq!(
        headline(&findings),
        (pb::Verdict::Critical, "echo.mismatch")
    );
    assert_eq!(num(f, "answered"), 0.0);
    assert_eq!(num(f, "mismatched"), 2.0);
    assert_eq!(sim.iso.answered(), 2);
}

#[test]
fn a_garbage_frame_is_counted_and_skipped() {
    let sim = sim("ascii", HostState::Normal, Fault::Healthy);
    let tamper = Tamper {
        // A well-framed message of three bytes that is no ISO 8583.
        inject: vec![0x00, 0x03, b'x', b'y', b'z'],
        ..Tamper::default()
    };
    let findings = check_with(sim.running.addr(), tamper, &[("count", "2")], 10_000);
    let f = &findings[0];
    assert_eq!(headline(&findings), (pb::Verdict::Ok, "ok"));
    assert_eq!(num(f, "answered"), 2.0);
    assert_eq!(num(f, "mismatched"), 1.0);
}

#[test]
fn a_bad_length_prefix_is_a_protocol_error() {
    let sim = sim("ascii", HostState::Normal, Fault::Healthy);
    let tamper = Tamper {
        // A binary2 prefix announcing 65535 bytes, far over any echo answer: the stream
        // cannot be split into messages any more.
        inject: vec![0xFF, 0xFF],
        ..Tamper::default()
    };
    let findings = check_with(sim.running.addr(), tamper, &[("count", "2")], 10_000);
    assert_eq!(
        headline(&findings),
        (pb::Verdict::Critical, "link.protocol")
    );
    assert!(text(&findings[0], "detail").contains("length prefix"));
}

#[test]
fn a_reset_or_flaky_connection_is_a_lost_link() {
    for fault in [Fault::Reset, Fault::Flaky { drop_ratio: 1.0 }] {
        let sim = sim("ascii", HostState::Normal, fault.clone());
        let findings = check(&sim, &[("count", "2")], 10_000);
        assert_eq!(
            headline(&findings),
            (pb::Verdict::Critical, "link.lost"),
            "{fault}"
        );
        assert!(!findings[0].remedies.is_empty());
    }
}

#[test]
fn the_wrong_dialect_makes_the_host_hang_up() {
    // The simulator cannot decode a binary-bitmap request as ascii and closes the connection.
    let sim = sim("ascii", HostState::Normal, Fault::Healthy);
    let findings = check(&sim, &[("dialect", "binary"), ("count", "1")], 10_000);
    assert_eq!(headline(&findings), (pb::Verdict::Critical, "link.lost"));
    assert!(findings[0].remedies[0].text_en.contains("dialect (binary"));
}

#[test]
fn a_refusing_host_leaves_no_link() {
    let sim = sim("ascii", HostState::Normal, Fault::Refusing);
    let findings = check(&sim, &[("count", "2")], 10_000);
    assert_eq!(headline(&findings), (pb::Verdict::Critical, "tcp.error"));
    assert_eq!(num(&findings[0], "sent"), 0.0);
}

#[test]
fn a_slow_host_is_a_latency_warning() {
    // Every answer is delayed by 300 ms, so every round trip exceeds the 100 ms threshold
    // however fast the machine is.
    let sim = sim(
        "ascii",
        HostState::Normal,
        Fault::Slow {
            delay: Duration::from_millis(300),
        },
    );
    let findings = check(
        &sim,
        &[
            ("count", "2"),
            ("interval_ms", "0"),
            ("rtt_warning_ms", "100"),
        ],
        10_000,
    );
    let f = &findings[0];
    assert_eq!(headline(&findings), (pb::Verdict::Warning, "echo.latency"));
    assert!(num(f, "rtt_p95") > 100.0);
    assert_eq!(num(f, "rtt_warning"), 100.0);
    assert_eq!(text(f, "response_code"), "00");
}

#[test]
fn bad_arguments_and_links_are_errors_not_findings() {
    let addr: SocketAddr = "127.0.0.1:9".parse().unwrap();
    let bad = [
        vec![("dialect", "ebcdic")],
        vec![("count", "0")],
        vec![("count", "101")],
        vec![("loss_warning", "2")],
        vec![("tpdu", "6000030000")],
        vec![("dialect", "cup"), ("tpdu", "60000300")],
        vec![("dialect", "cup"), ("terminal_id", "123")],
        vec![("length_prefix", "bcd")],
        vec![("cuont", "5")],
    ];
    for args in bad {
        let host = Host::from_backend(TcpBackend::connect(addr, Tamper::default()));
        let result = run_echo(&host, &request(addr, &args, 1000));
        assert!(
            matches!(result, Err(PluginError::Invalid(_))),
            "{args:?}: {result:?}"
        );
    }
    let host = Host::from_backend(TcpBackend::connect(addr, Tamper::default()));
    let mut req = request(addr, &[], 1000);
    req.link_kind = "serial".into();
    assert_eq!(
        run_echo(&host, &req),
        Err(PluginError::Transport(TransportError::NoLink))
    );
}

#[test]
fn answers_after_the_reply_timeout_count_as_late_not_as_mismatches() {
    // Answers come 300 ms after each request, echoes give up after 100 ms: every answer
    // that arrives while the run still reads belongs to an echo already given up.
    let sim = sim(
        "ascii",
        HostState::Normal,
        Fault::Slow {
            delay: Duration::from_millis(300),
        },
    );
    let findings = check(
        &sim,
        &[
            ("count", "3"),
            ("interval_ms", "400"),
            ("reply_timeout_ms", "100"),
        ],
        10_000,
    );
    let f = &findings[0];
    assert_eq!(headline(&findings), (pb::Verdict::Critical, "echo.timeout"));
    assert!(num(f, "late_answers") >= 1.0);
    assert_eq!(num(f, "mismatched"), 0.0);
    assert!(f.summary_en.contains("too late"), "{}", f.summary_en);
}
