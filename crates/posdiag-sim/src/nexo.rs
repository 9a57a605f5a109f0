//! A simulated payment terminal serving the nexo Sale-to-POI Terminal API (`POST /nexo`) over
//! HTTP or HTTPS, as Adyen terminals do on port 8443. It answers DiagnosisRequest from a
//! [`NexoScenario`] (global status, component flags, printer, acquirer host reachability,
//! battery/firmware/batch data in AdditionalResponse) and can misbehave: answer slowly, not at
//! all, with HTTP 500 or with a garbage body, be in a maintenance window, and reject a reused
//! SaleID + ServiceID like Adyen does. A TransactionStatusRequest gets the last transaction's
//! receipt repeated (`NexoScenario::last_receipt`), or Failure, NotFound when there is none.
//!
//! [`NexoTerminal`] is the handle to change the scenario while the simulator runs.
//!
//! Answers to what is not a Diagnosis:
//! - bytes that are not a Sale-to-POI request with a readable MessageHeader: HTTP 400 with a
//!   plain-text reason (there is no header to echo in a nexo response);
//! - a request of another kind (`PaymentRequest`, ...; not TransactionStatusRequest):
//!   `<X>Response` with Result Failure,
//!   ErrorCondition NotAllowed;
//! - a DiagnosisRequest that does not parse: DiagnosisResponse with Failure, MessageFormat;
//! - a reused SaleID + ServiceID: Failure, NotAllowed, `message=Duplicate SaleID and ServiceID`.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use posdiag_core::nexo::http::{self, HttpLimits, HttpMessage, HttpParser, NEXO_PATH};
use posdiag_core::nexo::{
    AdditionalResponse, DiagnosisResponse, ErrorCondition, GlobalStatus, HostStatus, MessageHeader,
    NexoError, POIStatus, PrinterStatus, RequestBody, Response, ResponseBody, SaleToPOIRequest,
    SaleToPOIResponse,
};
use serde::Deserialize;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, warn};

use crate::SimError;
use crate::pki::{LeafKind, Pki};

/// Read buffer per connection.
const READ_BUF_BYTES: usize = 16 * 1024;
/// Wait after a failed `accept` so a persistent error does not spin a core.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// How the terminal misbehaves on every request to `/nexo`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum NexoFault {
    /// Answers at once.
    #[default]
    None,
    /// Answers after `delay`.
    Slow {
        /// Added before each answer.
        delay: Duration,
    },
    /// Reads the request and never answers (the connection stays open until shutdown).
    NoAnswer,
    /// Answers HTTP 500.
    Http500,
    /// Answers 200 with a body that is not JSON.
    Garbage,
}

impl fmt::Display for NexoFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NexoFault::None => f.write_str("none"),
            NexoFault::Slow { delay } => write!(f, "slow:{}", delay.as_millis()),
            NexoFault::NoAnswer => f.write_str("no-answer"),
            NexoFault::Http500 => f.write_str("http-500"),
            NexoFault::Garbage => f.write_str("garbage"),
        }
    }
}

impl FromStr for NexoFault {
    type Err = SimError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |reason: &str| SimError::InvalidSpec {
            kind: "nexo fault",
            input: s.to_owned(),
            reason: reason.to_owned(),
        };
        let text = s.trim().to_ascii_lowercase();
        match text.split_once(':') {
            None => match text.as_str() {
                "none" | "healthy" => Ok(NexoFault::None),
                "no-answer" | "silent" => Ok(NexoFault::NoAnswer),
                "http-500" | "500" => Ok(NexoFault::Http500),
                "garbage" => Ok(NexoFault::Garbage),
                _ => Err(err(
                    "expected one of none, slow:MS, no-answer, http-500, garbage",
                )),
            },
            Some(("slow", ms)) => ms
                .trim()
                .parse()
                .map(|ms| NexoFault::Slow {
                    delay: Duration::from_millis(ms),
                })
                .map_err(|_| err("expected slow:MS, e.g. slow:1500")),
            Some(_) => Err(err(
                "expected one of none, slow:MS, no-answer, http-500, garbage",
            )),
        }
    }
}

/// One acquirer host the terminal knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimHost {
    /// `AcquirerID`.
    pub acquirer_id: String,
    /// What `IsReachableFlag` says when the host diagnosis is asked for.
    pub reachable: bool,
}

/// What the terminal reports and how it behaves. `Default` is a healthy terminal: everything
/// OK, one reachable acquirer "0", battery 100 %.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NexoScenario {
    /// `GlobalStatus` outside maintenance.
    pub global_status: GlobalStatus,
    /// A maintenance window: GlobalStatus becomes Maintenance.
    pub maintenance: bool,
    /// `SecurityOKFlag` (`None`: not reported).
    pub security_ok: Option<bool>,
    /// `PEDOKFlag`.
    pub ped_ok: Option<bool>,
    /// `CardReaderOKFlag`.
    pub card_reader_ok: Option<bool>,
    /// `CommunicationOKFlag`.
    pub communication_ok: Option<bool>,
    /// `FraudPreventionFlag`.
    pub fraud_prevention: Option<bool>,
    /// `PrinterStatus`.
    pub printer_status: Option<PrinterStatus>,
    /// Acquirer hosts, reported when the request sets HostDiagnosisFlag.
    pub hosts: Vec<SimHost>,
    /// `batteryLevel` in AdditionalResponse, percent.
    pub battery_level: Option<u8>,
    /// `firmwareVersion`.
    pub firmware_version: Option<String>,
    /// `unconfirmedBatchCount`.
    pub unconfirmed_batch_count: Option<u32>,
    /// Further AdditionalResponse pairs (terminalId, merchantAccount, ...).
    pub additional: BTreeMap<String, String>,
    /// Reject a SaleID + ServiceID pair seen before.
    pub reject_duplicates: bool,
    /// Misbehaviour.
    pub fault: NexoFault,
    /// The last transaction's cashier receipt, one line each, repeated in answer to a
    /// TransactionStatusRequest (as Adyen writes it: `key=…&name=…&value=…` per line, a
    /// `NAME: VALUE` line split there); none: Failure, NotFound.
    pub last_receipt: Vec<String>,
}

impl Default for NexoScenario {
    fn default() -> Self {
        Self {
            global_status: GlobalStatus::Ok,
            maintenance: false,
            security_ok: Some(true),
            ped_ok: Some(true),
            card_reader_ok: Some(true),
            communication_ok: Some(true),
            fraud_prevention: None,
            printer_status: Some(PrinterStatus::Ok),
            hosts: vec![SimHost {
                acquirer_id: "0".to_owned(),
                reachable: true,
            }],
            battery_level: Some(100),
            firmware_version: Some("posdiag-sim".to_owned()),
            unconfirmed_batch_count: Some(0),
            additional: BTreeMap::new(),
            reject_duplicates: true,
            fault: NexoFault::None,
            last_receipt: Vec::new(),
        }
    }
}

/// The scenario file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    global_status: Option<String>,
    maintenance: Option<bool>,
    security_ok: Option<bool>,
    ped_ok: Option<bool>,
    card_reader_ok: Option<bool>,
    communication_ok: Option<bool>,
    fraud_prevention: Option<bool>,
    printer_status: Option<String>,
    #[serde(rename = "host")]
    hosts: Option<Vec<RawHost>>,
    battery_level: Option<u8>,
    firmware_version: Option<String>,
    unconfirmed_batch_count: Option<u32>,
    #[serde(default)]
    additional: BTreeMap<String, String>,
    reject_duplicates: Option<bool>,
    fault: Option<String>,
    #[serde(default)]
    last_receipt: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHost {
    acquirer_id: String,
    #[serde(default = "yes")]
    reachable: bool,
}

fn yes() -> bool {
    true
}

impl NexoScenario {
    /// Reads a scenario from TOML; keys left out keep the healthy defaults, except the
    /// component flags, which are absent ("no such component") unless the file or the
    /// default sets them.
    pub fn from_toml(text: &str) -> Result<Self, SimError> {
        let raw: RawScenario = toml::from_str(text)
            .map_err(|e| SimError::InvalidConfig(format!("nexo scenario: {}", e.message())))?;
        let d = Self::default();
        if let Some(level) = raw.battery_level
            && level > 100
        {
            return Err(SimError::InvalidConfig(format!(
                "nexo scenario: battery_level {level} is over 100"
            )));
        }
        Ok(Self {
            global_status: raw
                .global_status
                .as_deref()
                .map_or(d.global_status, GlobalStatus::parse),
            maintenance: raw.maintenance.unwrap_or(d.maintenance),
            security_ok: raw.security_ok.or(d.security_ok),
            ped_ok: raw.ped_ok.or(d.ped_ok),
            card_reader_ok: raw.card_reader_ok.or(d.card_reader_ok),
            communication_ok: raw.communication_ok.or(d.communication_ok),
            fraud_prevention: raw.fraud_prevention.or(d.fraud_prevention),
            printer_status: raw
                .printer_status
                .as_deref()
                .map(PrinterStatus::parse)
                .or(d.printer_status),
            hosts: raw.hosts.map_or(d.hosts, |hosts| {
                hosts
                    .into_iter()
                    .map(|h| SimHost {
                        acquirer_id: h.acquirer_id,
                        reachable: h.reachable,
                    })
                    .collect()
            }),
            battery_level: raw.battery_level.or(d.battery_level),
            firmware_version: raw.firmware_version.or(d.firmware_version),
            unconfirmed_batch_count: raw.unconfirmed_batch_count.or(d.unconfirmed_batch_count),
            additional: raw.additional,
            reject_duplicates: raw.reject_duplicates.unwrap_or(d.reject_duplicates),
            fault: raw
                .fault
                .as_deref()
                .map(str::parse)
                .transpose()?
                .unwrap_or_default(),
            last_receipt: raw.last_receipt,
        })
    }

    /// Reads a scenario file.
    pub fn load(path: &Path) -> Result<Self, SimError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            SimError::InvalidConfig(format!("cannot read nexo scenario {}: {e}", path.display()))
        })?;
        Self::from_toml(&text).map_err(|e| match e {
            SimError::InvalidConfig(m) => {
                SimError::InvalidConfig(format!("{}: {m}", path.display()))
            }
            other => other,
        })
    }

    fn additional_response(&self) -> Option<String> {
        let mut a = AdditionalResponse::default();
        if let Some(level) = self.battery_level {
            a.push("batteryLevel", format!("{level}%"));
        }
        if let Some(v) = &self.firmware_version {
            a.push("firmwareVersion", v.as_str());
        }
        if let Some(n) = self.unconfirmed_batch_count {
            a.push("unconfirmedBatchCount", n.to_string());
        }
        for (k, v) in &self.additional {
            a.push(k.as_str(), v.as_str());
        }
        (!a.pairs().is_empty()).then(|| a.encode())
    }
}

struct Inner {
    scenario: NexoScenario,
    /// SaleID + ServiceID pairs answered so far.
    seen: HashSet<(String, String)>,
}

/// The terminal's state; clone it to change the scenario while the simulator runs.
#[derive(Clone)]
pub struct NexoTerminal {
    inner: Arc<Mutex<Inner>>,
    requests: Arc<AtomicU64>,
}

impl fmt::Debug for NexoTerminal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NexoTerminal")
            .field("scenario", &self.lock().scenario)
            .finish_non_exhaustive()
    }
}

/// What to do with one HTTP request.
enum Reply {
    Send(Vec<u8>),
    /// Send, then close the connection.
    SendAndClose(Vec<u8>),
    /// Never answer.
    Hold,
}

impl NexoTerminal {
    /// A terminal in `scenario`.
    pub fn new(scenario: NexoScenario) -> Self {
        Self {
            inner: Arc::new(Mutex::new(Inner {
                scenario,
                seen: HashSet::new(),
            })),
            requests: Arc::new(AtomicU64::new(0)),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Plain data, valid even if a holder panicked.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A copy of the scenario.
    pub fn scenario(&self) -> NexoScenario {
        self.lock().scenario.clone()
    }

    /// Replaces the scenario.
    pub fn set_scenario(&self, scenario: NexoScenario) {
        self.lock().scenario = scenario;
    }

    /// Changes the scenario in place.
    pub fn update(&self, change: impl FnOnce(&mut NexoScenario)) {
        change(&mut self.lock().scenario);
    }

    /// Forgets the SaleID + ServiceID pairs seen, so they may be reused.
    pub fn forget_service_ids(&self) {
        self.lock().seen.clear();
    }

    /// HTTP requests received so far.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Decides the reply to one HTTP request (the delay of `Slow` is applied by the caller).
    fn reply(&self, request: &HttpMessage) -> (Reply, Option<Duration>) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let text = |status: u16, reason: &str, body: &str| {
            Reply::Send(http::response(
                status,
                reason,
                "text/plain",
                body.as_bytes(),
            ))
        };
        match request.request_line() {
            Some(("POST", path)) if path == NEXO_PATH => {}
            Some((_, path)) if path == NEXO_PATH => {
                return (text(405, "Method Not Allowed", "use POST\n"), None);
            }
            _ => {
                return (
                    text(404, "Not Found", "the Terminal API is at POST /nexo\n"),
                    None,
                );
            }
        }
        let fault = self.lock().scenario.fault.clone();
        let delay = match fault {
            NexoFault::None => None,
            NexoFault::Slow { delay } => Some(delay),
            NexoFault::NoAnswer => return (Reply::Hold, None),
            NexoFault::Http500 => {
                return (
                    text(500, "Internal Server Error", "simulated failure\n"),
                    None,
                );
            }
            NexoFault::Garbage => {
                let body = b"\x00\xff{\"SaleToPOIResponse\": garbage";
                return (
                    Reply::Send(http::response(200, "OK", "application/json", body)),
                    None,
                );
            }
        };
        let json = |response: SaleToPOIResponse| {
            Reply::Send(http::response(
                200,
                "OK",
                "application/json",
                &response.encode(),
            ))
        };
        let value: serde_json::Value = match serde_json::from_slice(&request.body) {
            Ok(value) => value,
            Err(error) => {
                let reason = NexoError::from(error).to_string();
                return (
                    Reply::SendAndClose(http::response(
                        400,
                        "Bad Request",
                        "text/plain",
                        reason.as_bytes(),
                    )),
                    delay,
                );
            }
        };
        let header = match SaleToPOIRequest::header_of(&value) {
            Ok(header) => header,
            Err(error) => {
                return (
                    Reply::SendAndClose(http::response(
                        400,
                        "Bad Request",
                        "text/plain",
                        error.to_string().as_bytes(),
                    )),
                    delay,
                );
            }
        };
        let parsed = SaleToPOIRequest::from_json(&value);
        let mut inner = self.lock();
        let pair = (header.sale_id.clone(), header.service_id.clone());
        if inner.scenario.reject_duplicates && inner.seen.contains(&pair) {
            let name = parsed
                .as_ref()
                .map_or("DiagnosisRequest", |r| r.body.name());
            return (
                json(SaleToPOIResponse::failure(
                    &header,
                    name,
                    ErrorCondition::NotAllowed,
                    Some("Duplicate SaleID and ServiceID"),
                )),
                delay,
            );
        }
        inner.seen.insert(pair);
        let request = match parsed {
            Ok(request) => request,
            Err(error) => {
                return (
                    json(SaleToPOIResponse::failure(
                        &header,
                        "DiagnosisRequest",
                        ErrorCondition::MessageFormat,
                        Some(&error.to_string()),
                    )),
                    delay,
                );
            }
        };
        let diagnosis = match &request.body {
            RequestBody::Diagnosis(d) => d,
            RequestBody::Other { name, .. } if name == "TransactionStatusRequest" => {
                return (json(transaction_status(&header, &inner.scenario)), delay);
            }
            RequestBody::Other { name, .. } => {
                return (
                    json(SaleToPOIResponse::failure(
                        &header,
                        name,
                        ErrorCondition::NotAllowed,
                        Some("the simulator serves DiagnosisRequest only"),
                    )),
                    delay,
                );
            }
        };
        let s = &inner.scenario;
        let host_status = if diagnosis.host_diagnosis {
            s.hosts
                .iter()
                .filter(|h| {
                    diagnosis.acquirer_ids.is_empty()
                        || diagnosis.acquirer_ids.contains(&h.acquirer_id)
                })
                .map(|h| HostStatus {
                    acquirer_id: h.acquirer_id.clone(),
                    is_reachable: h.reachable,
                })
                .collect()
        } else {
            Vec::new()
        };
        let response = SaleToPOIResponse {
            header: header.to_response(),
            body: ResponseBody::Diagnosis(DiagnosisResponse {
                response: Response {
                    additional_response: s.additional_response(),
                    ..Response::success()
                },
                logged_sale_ids: Vec::new(),
                poi_status: Some(POIStatus {
                    global_status: if s.maintenance {
                        GlobalStatus::Maintenance
                    } else {
                        s.global_status.clone()
                    },
                    security_ok: s.security_ok,
                    ped_ok: s.ped_ok,
                    card_reader_ok: s.card_reader_ok,
                    communication_ok: s.communication_ok,
                    fraud_prevention: s.fraud_prevention,
                    printer_status: s.printer_status.clone(),
                }),
                host_status,
            }),
        };
        (json(response), delay)
    }
}

/// The answer to a TransactionStatusRequest: the last PaymentResponse repeated with its
/// cashier receipt, or NotFound when the scenario has none.
fn transaction_status(header: &MessageHeader, s: &NexoScenario) -> SaleToPOIResponse {
    if s.last_receipt.is_empty() {
        return SaleToPOIResponse::failure(
            header,
            "TransactionStatusRequest",
            ErrorCondition::NotFound,
            Some("no last transaction"),
        );
    }
    let text: Vec<serde_json::Value> = s
        .last_receipt
        .iter()
        .map(|line| {
            let (name, value) = line.split_once(": ").unwrap_or(("", line.as_str()));
            let key = name.to_ascii_lowercase().replace(' ', "_");
            let pairs = AdditionalResponse::from_pairs([
                ("key", key.as_str()),
                ("name", name),
                ("value", value),
            ]);
            serde_json::json!({"Text": pairs.encode(), "EndOfLineFlag": true})
        })
        .collect();
    SaleToPOIResponse {
        header: header.to_response(),
        body: ResponseBody::Other {
            name: "TransactionStatusResponse".to_owned(),
            body: serde_json::json!({
                "Response": {"Result": "Success"},
                "RepeatedMessageResponse": {
                    "MessageHeader": {"MessageCategory": "Payment"},
                    "RepeatedResponseMessageBody": {"PaymentResponse": {
                        "Response": {"Result": "Success"},
                        "PaymentReceipt": [{
                            "DocumentQualifier": "CashierReceipt",
                            "OutputContent": {"OutputFormat": "Text", "OutputText": text},
                        }],
                    }},
                },
            }),
        },
    }
}

/// Everything [`start`] needs. `Default`: plain HTTP on `127.0.0.1:0`, healthy scenario.
#[derive(Debug, Clone)]
pub struct NexoSimConfig {
    /// Where to listen; port 0 picks a free one.
    pub bind: SocketAddr,
    /// Serve HTTPS with the PKI's valid `localhost` certificate.
    pub tls: bool,
    /// The PKI for HTTPS; `None` generates one.
    pub pki: Option<Arc<Pki>>,
    /// What the terminal reports.
    pub scenario: NexoScenario,
    /// HTTP size limits for requests.
    pub limits: HttpLimits,
}

impl Default for NexoSimConfig {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            tls: false,
            pki: None,
            scenario: NexoScenario::default(),
            limits: HttpLimits::default(),
        }
    }
}

/// A started terminal simulator. Dropping it stops it too, without waiting.
#[derive(Debug)]
pub struct RunningNexo {
    addr: SocketAddr,
    terminal: NexoTerminal,
    pki: Option<Arc<Pki>>,
    token: CancellationToken,
    task: Option<JoinHandle<()>>,
}

impl RunningNexo {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The handle to change the scenario.
    pub fn terminal(&self) -> &NexoTerminal {
        &self.terminal
    }

    /// The PKI in use, with HTTPS.
    pub fn pki(&self) -> Option<&Arc<Pki>> {
        self.pki.as_ref()
    }

    /// PEM of the CA that signed the server certificate, with HTTPS.
    pub fn ca_pem(&self) -> Option<&str> {
        self.pki.as_deref().map(Pki::ca_pem)
    }

    /// `http(s)://localhost:PORT/nexo`.
    pub fn url(&self) -> String {
        let scheme = if self.pki.is_some() { "https" } else { "http" };
        format!("{scheme}://localhost:{}{NEXO_PATH}", self.addr.port())
    }

    /// Stops accepting, closes every connection and waits for that.
    pub async fn shutdown(mut self) {
        self.token.cancel();
        if let Some(task) = self.task.take()
            && let Err(error) = task.await
        {
            warn!(addr = %self.addr, %error, "nexo simulator task failed");
        }
    }
}

impl Drop for RunningNexo {
    fn drop(&mut self) {
        self.token.cancel();
    }
}

/// Starts the terminal simulator; returns once it listens.
pub async fn start(cfg: NexoSimConfig) -> Result<RunningNexo, SimError> {
    let (pki, acceptor) = if cfg.tls {
        let pki = match cfg.pki {
            Some(pki) => pki,
            None => Arc::new(Pki::generate()?),
        };
        let acceptor = TlsAcceptor::from(Arc::new(pki.server_config(LeafKind::Valid)?));
        (Some(pki), Some(acceptor))
    } else {
        (None, None)
    };
    let listener = TcpListener::bind(cfg.bind)
        .await
        .map_err(|source| SimError::Bind {
            proto: "tcp",
            addr: cfg.bind,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| SimError::Io {
        context: "reading the bound tcp address",
        source,
    })?;
    let terminal = NexoTerminal::new(cfg.scenario);
    let token = CancellationToken::new();
    let task = tokio::spawn(accept_loop(
        listener,
        acceptor,
        terminal.clone(),
        cfg.limits,
        token.clone(),
    ));
    debug!(%addr, tls = cfg.tls, "nexo simulator started");
    Ok(RunningNexo {
        addr,
        terminal,
        pki,
        token,
        task: Some(task),
    })
}

async fn accept_loop(
    listener: TcpListener,
    acceptor: Option<TlsAcceptor>,
    terminal: NexoTerminal,
    limits: HttpLimits,
    token: CancellationToken,
) {
    let tracker = TaskTracker::new();
    loop {
        let accepted = tokio::select! {
            () = token.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                warn!(%error, "nexo simulator accept failed");
                tokio::select! {
                    () = token.cancelled() => break,
                    () = tokio::time::sleep(ACCEPT_BACKOFF) => continue,
                }
            }
        };
        let _ = stream.set_nodelay(true);
        debug!(%peer, "nexo simulator accepted");
        let conn = handle(stream, acceptor.clone(), terminal.clone(), limits);
        let token = token.clone();
        tracker.spawn(async move {
            tokio::select! {
                () = token.cancelled() => {}
                () = conn => {}
            }
        });
    }
    drop(listener);
    tracker.close();
    tracker.wait().await;
}

async fn handle(
    stream: TcpStream,
    acceptor: Option<TlsAcceptor>,
    terminal: NexoTerminal,
    limits: HttpLimits,
) {
    let result = match acceptor {
        None => serve(stream, &terminal, limits).await,
        Some(acceptor) => match acceptor.accept(stream).await {
            Ok(tls) => serve(tls, &terminal, limits).await,
            Err(error) => Err(error),
        },
    };
    if let Err(error) = result {
        debug!(%error, "nexo simulator connection ended with an error");
    }
}

async fn serve<S>(mut io: S, terminal: &NexoTerminal, limits: HttpLimits) -> std::io::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut parser = HttpParser::request(limits);
    let mut buf = vec![0_u8; READ_BUF_BYTES];
    loop {
        let n = io.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        parser.push(&buf[..n]);
        loop {
            let request = match parser.next_message() {
                Ok(Some(request)) => request,
                Ok(None) => break,
                Err(error) => {
                    warn!(%error, reason = "nexo.http", "nexo simulator got a malformed request; closing");
                    let body = format!("{error}\n");
                    io.write_all(&http::response(
                        400,
                        "Bad Request",
                        "text/plain",
                        body.as_bytes(),
                    ))
                    .await?;
                    return io.shutdown().await;
                }
            };
            let (reply, delay) = terminal.reply(&request);
            if let Some(delay) = delay {
                tokio::time::sleep(delay).await;
            }
            match reply {
                Reply::Send(bytes) => io.write_all(&bytes).await?,
                Reply::SendAndClose(bytes) => {
                    io.write_all(&bytes).await?;
                    return io.shutdown().await;
                }
                Reply::Hold => std::future::pending::<()>().await,
            }
            io.flush().await?;
            if request.wants_close() {
                return io.shutdown().await;
            }
        }
    }
    io.shutdown().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_round_trip() {
        for text in ["none", "slow:250", "no-answer", "http-500", "garbage"] {
            assert_eq!(text.parse::<NexoFault>().unwrap().to_string(), text);
        }
        assert!("slow".parse::<NexoFault>().is_err());
        assert!("tired".parse::<NexoFault>().is_err());
    }

    #[test]
    fn scenario_defaults_and_errors() {
        let s = NexoScenario::from_toml(
            "card_reader_ok = false\nprinter_status = \"NoPaper\"\n[[host]]\nacquirer_id = \"A\"\nreachable = false\n",
        )
        .unwrap();
        assert_eq!(s.card_reader_ok, Some(false));
        assert_eq!(s.printer_status, Some(PrinterStatus::NoPaper));
        assert_eq!(s.hosts.len(), 1);
        assert_eq!(s.battery_level, Some(100));
        let err = NexoScenario::from_toml("batery_level = 5")
            .unwrap_err()
            .to_string();
        assert!(err.contains("batery_level"), "{err}");
        assert!(NexoScenario::from_toml("battery_level = 101").is_err());
        assert!(NexoScenario::from_toml("fault = \"tired\"").is_err());
    }
}
