//! Shared test helpers: a host backend over a real TCP connection (as the daemon relays it),
//! a scripted fake terminal, the nexo simulator on a small runtime, and finding look-ups.

#![allow(dead_code, reason = "each test file uses a part")]

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::{ErrorKind, Read as _, Write as _};
use std::net::TcpStream;
use std::rc::Rc;
use std::time::Duration;

use posdiag_core::nexo::http::{HttpLimits, HttpMessage, HttpParser};
use posdiag_plugin_api::pb;
use posdiag_plugin_api::sdk::{Host, HostBackend, LogLevel, TransportError};
use posdiag_plugin_nexo::diagnosis;
use posdiag_sim::nexo::{NexoScenario, NexoSimConfig, RunningNexo};

/// Shortest socket timeout: std refuses a zero one.
const MIN_WAIT: Duration = Duration::from_millis(1);

fn transport_error(e: &std::io::Error) -> TransportError {
    match e.kind() {
        ErrorKind::WouldBlock | ErrorKind::TimedOut => TransportError::Timeout,
        _ => TransportError::LinkLost,
    }
}

/// The daemon's side of a TCP link: bounded reads and writes on a real socket; a closed
/// connection is a lost link, as the daemon reports it.
pub struct TcpBackend {
    stream: TcpStream,
}

impl TcpBackend {
    pub fn new(stream: TcpStream) -> TcpBackend {
        TcpBackend { stream }
    }
}

impl HostBackend for TcpBackend {
    fn log(&self, _level: LogLevel, _message: &str) {}
    fn event(&self, _event: &pb::Event) {}

    fn write(&self, bytes: &[u8], timeout: Duration) -> Result<(), TransportError> {
        self.stream
            .set_write_timeout(Some(timeout.max(MIN_WAIT)))
            .map_err(|e| transport_error(&e))?;
        (&self.stream)
            .write_all(bytes)
            .map_err(|e| transport_error(&e))
    }

    fn read(&self, buf: &mut [u8], timeout: Duration) -> Result<usize, TransportError> {
        self.stream
            .set_read_timeout(Some(timeout.max(MIN_WAIT)))
            .map_err(|e| transport_error(&e))?;
        match (&self.stream).read(buf) {
            Ok(0) => Err(TransportError::LinkLost),
            Ok(n) => Ok(n),
            Err(e) => Err(transport_error(&e)),
        }
    }
}

/// How a fake terminal answers one request: the bytes it sends back.
type Responder = Box<dyn Fn(&HttpMessage) -> Vec<u8>>;

/// A fake terminal behind the host: reads the HTTP request the plugin writes and, once it is
/// complete, queues the answer `respond` makes from it.
pub struct FakeTerminal {
    parser: RefCell<HttpParser>,
    respond: Responder,
    inbox: RefCell<VecDeque<u8>>,
    pub requests: Rc<RefCell<Vec<HttpMessage>>>,
}

impl FakeTerminal {
    pub fn new(respond: impl Fn(&HttpMessage) -> Vec<u8> + 'static) -> FakeTerminal {
        FakeTerminal {
            parser: RefCell::new(HttpParser::request(HttpLimits::default())),
            respond: Box::new(respond),
            inbox: RefCell::new(VecDeque::new()),
            requests: Rc::new(RefCell::new(Vec::new())),
        }
    }
}

impl HostBackend for FakeTerminal {
    fn log(&self, _level: LogLevel, _message: &str) {}
    fn event(&self, _event: &pb::Event) {}

    fn write(&self, bytes: &[u8], _timeout: Duration) -> Result<(), TransportError> {
        let mut parser = self.parser.borrow_mut();
        parser.push(bytes);
        while let Some(request) = parser.next_message().expect("the plugin writes valid HTTP") {
            self.inbox.borrow_mut().extend((self.respond)(&request));
            self.requests.borrow_mut().push(request);
        }
        Ok(())
    }

    fn read(&self, buf: &mut [u8], _timeout: Duration) -> Result<usize, TransportError> {
        let mut inbox = self.inbox.borrow_mut();
        if inbox.is_empty() {
            // Nothing more will come: the answer (if any) is all queued.
            return Err(TransportError::Timeout);
        }
        // A few hundred bytes at a time, as a network delivers them.
        let n = buf.len().min(inbox.len()).min(300);
        for (slot, byte) in buf.iter_mut().zip(inbox.drain(..n)) {
            *slot = byte;
        }
        Ok(n)
    }
}

/// The nexo simulator on its own one-thread runtime (the check itself runs blocking).
pub struct Sim {
    // Dropped before the runtime, which then ends its tasks.
    pub sim: RunningNexo,
    pub rt: tokio::runtime::Runtime,
}

impl Sim {
    pub fn start(scenario: NexoScenario, tls: bool) -> Sim {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let sim = rt
            .block_on(posdiag_sim::nexo::start(NexoSimConfig {
                tls,
                scenario,
                ..Default::default()
            }))
            .unwrap();
        Sim { sim, rt }
    }

    /// Runs `poi.diagnosis` against the simulator over a fresh TCP connection, with `args`
    /// plus the TLS arguments the simulator needs.
    pub fn check(
        &self,
        args: &[(&str, &str)],
    ) -> Result<pb::CheckResult, posdiag_plugin_api::sdk::PluginError> {
        let mut all: Vec<(String, String)> = match self.sim.ca_pem() {
            Some(pem) => vec![("tls".into(), "true".into()), ("ca_pem".into(), pem.into())],
            None => vec![("tls".into(), "false".into())],
        };
        all.extend(args.iter().map(|(k, v)| ((*k).into(), (*v).into())));
        let stream = TcpStream::connect(self.sim.addr()).unwrap();
        let host = Host::from_backend(TcpBackend { stream });
        diagnosis::run(&host, &request(&format!("tcp:{}", self.sim.addr()), all))
    }
}

/// A check request for terminal T1 at `address` with a bounded deadline.
pub fn request(address: &str, args: Vec<(String, String)>) -> pb::CheckRequest {
    pb::CheckRequest {
        check: diagnosis::CHECK_ID.into(),
        terminal_id: "T1".into(),
        link_kind: "tcp".into(),
        link_address: address.into(),
        timeout_ms: 10_000,
        args: args.into_iter().collect(),
        ..Default::default()
    }
}

/// The finding about `subject`.
pub fn about<'a>(findings: &'a [pb::Finding], subject: &str) -> &'a pb::Finding {
    findings
        .iter()
        .find(|f| f.subject == subject)
        .unwrap_or_else(|| panic!("no finding about {subject:?} in {findings:#?}"))
}

/// Verdict and reason.
pub fn verdict(f: &pb::Finding) -> (pb::Verdict, &str) {
    (f.verdict(), f.reason.as_str())
}

/// An evidence value.
pub fn evidence<'a>(f: &'a pb::Finding, name: &str) -> Option<&'a pb::evidence::Value> {
    f.evidence.iter().find(|e| e.name == name)?.value.as_ref()
}

/// A text evidence value.
pub fn text_of<'a>(f: &'a pb::Finding, name: &str) -> Option<&'a str> {
    match evidence(f, name)? {
        pb::evidence::Value::Text(t) => Some(t),
        _ => None,
    }
}

/// A number evidence value.
pub fn number_of(f: &pb::Finding, name: &str) -> Option<f64> {
    match evidence(f, name)? {
        pb::evidence::Value::Number(n) => Some(*n),
        _ => None,
    }
}

/// Every finding names the check and its subject and has both summaries.
pub fn assert_well_formed(findings: &[pb::Finding]) {
    assert!(!findings.is_empty());
    for f in findings {
        assert_eq!(f.check, diagnosis::CHECK_ID);
        assert!(
            !f.summary_en.is_empty() && !f.summary_zh.is_empty(),
            "{f:?}"
        );
        assert!(!f.subject.is_empty(), "{f:?}");
    }
}
