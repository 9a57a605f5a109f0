//! A simulated acquirer host on TCP (optionally TLS) with fault modes: healthy, refusing,
//! stalling, resetting, slow, jittery and flaky. It answers by echoing or with a canned reply.
//!
//! The accept loop owns the random generator, so with a seed the sequence of per-connection
//! decisions (which flaky connections drop, how much each one jitters) is reproducible for
//! connections accepted in the same order.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, warn};

use crate::SimError;
use crate::pki::{LeafKind, Pki, VALID_NAMES, WRONG_HOST_NAME};

/// How long the accept loop waits after a failed `accept` (e.g. out of file descriptors) so a
/// persistent error does not spin a core.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);
/// Read buffer per connection; also the largest chunk echoed in one write.
const READ_BUF_BYTES: usize = 16 * 1024;

/// What the host does to each connection.
///
/// The textual form (`FromStr`/`Display`) is the one the `posdiag-sim host --fault` flag takes:
/// `healthy`, `refusing`, `stall`, `reset`, `slow:MS`, `jitter:BASE_MS:SPREAD_MS`, `flaky:RATIO`.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Fault {
    /// Accept and answer at once.
    #[default]
    Healthy,
    /// Nothing listens: `start` binds a port only to learn a free number, then closes it, so
    /// connects are refused. The port could in theory be taken by another program meanwhile.
    Refusing,
    /// Accept the TCP connection (no TLS handshake), then never read or write; the socket stays
    /// open until shutdown.
    Stall,
    /// Accept, then reset at once (RST).
    Reset,
    /// Answer every request (and start the TLS handshake) only after `delay`.
    Slow {
        /// Added before each answer and before the TLS handshake.
        delay: Duration,
    },
    /// Like `Slow`, with a delay drawn uniformly from `[base, base + spread)` each time.
    Jitter {
        /// The smallest delay.
        base: Duration,
        /// The width of the random part.
        spread: Duration,
    },
    /// Reset this share (0..=1) of accepted connections at once; the others are healthy.
    Flaky {
        /// The share of connections reset, between 0 and 1.
        drop_ratio: f64,
    },
}

impl Fault {
    /// Checks parameters a struct literal could get wrong (a drop ratio outside 0..=1).
    pub fn validate(&self) -> Result<(), SimError> {
        match self {
            Fault::Flaky { drop_ratio } if !(0.0..=1.0).contains(drop_ratio) => {
                Err(SimError::InvalidConfig(format!(
                    "flaky drop_ratio {drop_ratio} is not between 0 and 1"
                )))
            }
            _ => Ok(()),
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::Healthy => f.write_str("healthy"),
            Fault::Refusing => f.write_str("refusing"),
            Fault::Stall => f.write_str("stall"),
            Fault::Reset => f.write_str("reset"),
            Fault::Slow { delay } => write!(f, "slow:{}", delay.as_millis()),
            Fault::Jitter { base, spread } => {
                write!(f, "jitter:{}:{}", base.as_millis(), spread.as_millis())
            }
            Fault::Flaky { drop_ratio } => write!(f, "flaky:{drop_ratio}"),
        }
    }
}

impl FromStr for Fault {
    type Err = SimError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |reason: &str| SimError::InvalidSpec {
            kind: "fault",
            input: s.to_owned(),
            reason: reason.to_owned(),
        };
        let ms = |text: &str, what: &str| {
            text.trim()
                .parse::<u64>()
                .map(Duration::from_millis)
                .map_err(|_| {
                    err(&format!(
                        "the {what} must be a whole number of milliseconds, not \"{text}\""
                    ))
                })
        };
        let mut parts = s.split(':');
        let name = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
        let args: Vec<&str> = parts.collect();
        match (name.as_str(), args.as_slice()) {
            ("healthy", []) => Ok(Fault::Healthy),
            ("refusing", []) => Ok(Fault::Refusing),
            ("stall", []) => Ok(Fault::Stall),
            ("reset", []) => Ok(Fault::Reset),
            ("healthy" | "refusing" | "stall" | "reset", _) => {
                Err(err(&format!("\"{name}\" takes no parameters")))
            }
            ("slow", [delay]) => Ok(Fault::Slow {
                delay: ms(delay, "delay")?,
            }),
            ("slow", _) => Err(err("expected slow:MS, e.g. slow:1500")),
            ("jitter", [base, spread]) => Ok(Fault::Jitter {
                base: ms(base, "base delay")?,
                spread: ms(spread, "spread")?,
            }),
            ("jitter", _) => Err(err(
                "expected jitter:BASE_MS:SPREAD_MS, e.g. jitter:100:400",
            )),
            ("flaky", [ratio]) => {
                let drop_ratio: f64 = ratio.trim().parse().map_err(|_| {
                    err("the drop ratio must be a number between 0 and 1, e.g. flaky:0.3")
                })?;
                if !(0.0..=1.0).contains(&drop_ratio) {
                    return Err(err("the drop ratio must be between 0 and 1"));
                }
                Ok(Fault::Flaky { drop_ratio })
            }
            ("flaky", _) => Err(err("expected flaky:RATIO, e.g. flaky:0.3")),
            _ => Err(err(
                "expected one of healthy, refusing, stall, reset, slow:MS, \
                 jitter:BASE_MS:SPREAD_MS, flaky:RATIO",
            )),
        }
    }
}

/// Whether the host speaks TLS, and with which certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TlsMode {
    /// Plain TCP.
    #[default]
    Plain,
    /// A certificate for `localhost`/`127.0.0.1`, currently valid.
    Valid,
    /// A certificate for `localhost`/`127.0.0.1` that expired in 2021.
    Expired,
    /// A currently valid certificate for `wrong.example` only.
    WrongHost,
}

impl TlsMode {
    fn leaf(self) -> Option<LeafKind> {
        match self {
            TlsMode::Plain => None,
            TlsMode::Valid => Some(LeafKind::Valid),
            TlsMode::Expired => Some(LeafKind::Expired),
            TlsMode::WrongHost => Some(LeafKind::WrongHost),
        }
    }
}

impl fmt::Display for TlsMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TlsMode::Plain => "plain",
            TlsMode::Valid => "valid",
            TlsMode::Expired => "expired",
            TlsMode::WrongHost => "wrong-host",
        })
    }
}

impl FromStr for TlsMode {
    type Err = SimError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "plain" | "none" | "off" => Ok(TlsMode::Plain),
            "valid" => Ok(TlsMode::Valid),
            "expired" => Ok(TlsMode::Expired),
            "wrong-host" | "wrong_host" | "wronghost" => Ok(TlsMode::WrongHost),
            _ => Err(SimError::InvalidSpec {
                kind: "tls mode",
                input: s.to_owned(),
                reason: "expected one of plain, valid, expired, wrong-host".to_owned(),
            }),
        }
    }
}

/// How a served connection answers.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Answer {
    /// Write back every chunk read (RFC 862 style).
    #[default]
    Echo,
    /// Once the bytes received since the last reply start with `expect_prefix`, send `reply`
    /// (the rest of that chunk counts as part of the same request). As soon as the bytes can no
    /// longer become `expect_prefix`, close the connection.
    Reply {
        /// What a request must start with.
        expect_prefix: Vec<u8>,
        /// What is sent back for each such request.
        reply: Vec<u8>,
    },
    /// Decode length-prefixed ISO 8583 requests and answer echo tests and sign-ons as the
    /// [`crate::iso8583::IsoHost`] scenario says; close the connection on malformed input.
    Iso8583(crate::iso8583::IsoHost),
}

/// Everything `start` needs. `Default` is a healthy plain-TCP echo host on `127.0.0.1:0`.
#[derive(Debug, Clone)]
pub struct HostSimConfig {
    /// Where to listen; port 0 picks a free one (see [`RunningHost::addr`]).
    pub bind: SocketAddr,
    /// What happens to each connection.
    pub fault: Fault,
    /// Plain TCP or TLS with one of the test certificates.
    pub tls: TlsMode,
    /// How served connections answer.
    pub answer: Answer,
    /// Seed for flaky and jitter decisions; `None` seeds from the operating system.
    pub seed: Option<u64>,
    /// The PKI to take certificates from; `None` generates a fresh one when TLS is used.
    pub pki: Option<Arc<Pki>>,
}

impl Default for HostSimConfig {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            fault: Fault::Healthy,
            tls: TlsMode::Plain,
            answer: Answer::Echo,
            seed: None,
            pki: None,
        }
    }
}

/// A started host. Dropping it stops it too, without waiting.
#[derive(Debug)]
pub struct RunningHost {
    addr: SocketAddr,
    pki: Option<Arc<Pki>>,
    server_name: &'static str,
    connections: Arc<AtomicU64>,
    token: CancellationToken,
    task: Option<JoinHandle<()>>,
}

impl RunningHost {
    /// The bound address (for `Refusing`, the port that was free and is now closed).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// PEM of the CA that signed the server certificate, in TLS modes.
    pub fn ca_pem(&self) -> Option<&str> {
        self.pki.as_deref().map(Pki::ca_pem)
    }

    /// The PKI in use, in TLS modes (e.g. for [`Pki::client_config`]).
    pub fn pki(&self) -> Option<&Arc<Pki>> {
        self.pki.as_ref()
    }

    /// The name the certificate is valid for: `wrong.example` in `WrongHost` mode, otherwise
    /// `localhost` (also in plain mode, as the name to reach the host by).
    pub fn server_name(&self) -> &str {
        self.server_name
    }

    /// How many connections were accepted so far, including ones then stalled or reset.
    pub fn connections(&self) -> u64 {
        self.connections.load(Ordering::Relaxed)
    }

    /// Stops accepting, closes every connection (stalled ones included) and waits for that.
    pub async fn shutdown(mut self) {
        self.token.cancel();
        if let Some(task) = self.task.take()
            && let Err(error) = task.await
        {
            warn!(addr = %self.addr, %error, "host simulator task failed");
        }
    }
}

impl Drop for RunningHost {
    fn drop(&mut self) {
        self.token.cancel();
    }
}

/// Starts a host; returns once it listens (or, for `Refusing`, once the port is closed again).
pub async fn start(cfg: HostSimConfig) -> Result<RunningHost, SimError> {
    cfg.fault.validate()?;
    let (pki, acceptor) = match cfg.tls.leaf() {
        None => (None, None),
        Some(kind) => {
            let pki = match cfg.pki {
                Some(pki) => pki,
                None => Arc::new(Pki::generate()?),
            };
            let acceptor = TlsAcceptor::from(Arc::new(pki.server_config(kind)?));
            (Some(pki), Some(acceptor))
        }
    };
    let server_name = match cfg.tls {
        TlsMode::WrongHost => WRONG_HOST_NAME,
        _ => VALID_NAMES[0],
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
    let connections = Arc::new(AtomicU64::new(0));
    let token = CancellationToken::new();

    let task = if matches!(cfg.fault, Fault::Refusing) {
        drop(listener);
        None
    } else {
        let rng = match cfg.seed {
            Some(seed) => StdRng::seed_from_u64(seed),
            None => StdRng::from_os_rng(),
        };
        let shared = Arc::new(Shared {
            fault: cfg.fault.clone(),
            answer: cfg.answer,
            acceptor,
        });
        Some(tokio::spawn(accept_loop(
            listener,
            shared,
            rng,
            token.clone(),
            connections.clone(),
        )))
    };
    debug!(%addr, fault = %cfg.fault, tls = %cfg.tls, "host simulator started");

    Ok(RunningHost {
        addr,
        pki,
        server_name,
        connections,
        token,
        task,
    })
}

/// What every connection task needs to know.
struct Shared {
    fault: Fault,
    answer: Answer,
    acceptor: Option<TlsAcceptor>,
}

/// The fate of one accepted connection, decided by the accept loop.
#[derive(Debug, Clone, Copy)]
enum Plan {
    Stall,
    Reset,
    Serve,
}

fn plan_for(fault: &Fault, rng: &mut StdRng) -> Plan {
    match fault {
        Fault::Stall => Plan::Stall,
        Fault::Reset => Plan::Reset,
        Fault::Flaky { drop_ratio } if rng.random_bool(*drop_ratio) => Plan::Reset,
        _ => Plan::Serve,
    }
}

async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut rng: StdRng,
    token: CancellationToken,
    connections: Arc<AtomicU64>,
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
                warn!(%error, "host simulator accept failed");
                tokio::select! {
                    () = token.cancelled() => break,
                    () = tokio::time::sleep(ACCEPT_BACKOFF) => continue,
                }
            }
        };
        // Answers are small and must not wait for a delayed ACK (Nagle).
        let _ = stream.set_nodelay(true);
        let number = connections.fetch_add(1, Ordering::Relaxed) + 1;
        let plan = plan_for(&shared.fault, &mut rng);
        debug!(%peer, connection = number, ?plan, "host simulator accepted");
        let pacer = Pacer {
            fault: shared.fault.clone(),
            rng: StdRng::seed_from_u64(rng.random()),
        };
        let conn = handle(stream, plan, shared.clone(), pacer);
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

async fn handle(stream: TcpStream, plan: Plan, shared: Arc<Shared>, mut pacer: Pacer) {
    match plan {
        // Holding `stream` in this future keeps the socket open until shutdown drops it.
        Plan::Stall => {
            let _held = stream;
            std::future::pending::<()>().await;
        }
        Plan::Reset => {
            if let Err(error) = stream.set_zero_linger() {
                warn!(%error, "cannot set SO_LINGER 0; the peer will see FIN instead of RST");
            }
        }
        Plan::Serve => {
            let result = match &shared.acceptor {
                None => serve(stream, &shared.answer, &mut pacer).await,
                Some(acceptor) => {
                    pacer.pause().await;
                    match acceptor.accept(stream).await {
                        Ok(tls) => serve(tls, &shared.answer, &mut pacer).await,
                        Err(error) => Err(error),
                    }
                }
            };
            if let Err(error) = result {
                debug!(%error, "host simulator connection ended with an error");
            }
        }
    }
}

async fn serve<S>(mut io: S, answer: &Answer, pacer: &mut Pacer) -> std::io::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut buf = vec![0_u8; READ_BUF_BYTES];
    let mut pending = Vec::new();
    let mut iso_session = None;
    'read: loop {
        let n = io.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        let chunk = &buf[..n];
        match answer {
            Answer::Echo => {
                pacer.pause().await;
                io.write_all(chunk).await?;
                io.flush().await?;
            }
            Answer::Reply {
                expect_prefix,
                reply,
            } => {
                pending.extend_from_slice(chunk);
                if pending.starts_with(expect_prefix) {
                    pacer.pause().await;
                    io.write_all(reply).await?;
                    io.flush().await?;
                    pending.clear();
                } else if !expect_prefix.starts_with(&pending) {
                    debug!("host simulator got an unexpected request; closing");
                    break;
                }
            }
            Answer::Iso8583(host) => {
                let session = iso_session.get_or_insert_with(|| host.session());
                for action in session.on_bytes(chunk) {
                    match action {
                        crate::iso8583::IsoAction::Send(bytes) => {
                            pacer.pause().await;
                            io.write_all(&bytes).await?;
                            io.flush().await?;
                        }
                        crate::iso8583::IsoAction::Close => break 'read,
                    }
                }
            }
        }
    }
    io.shutdown().await
}

/// Applies the `Slow`/`Jitter` delay; a no-op for other faults.
struct Pacer {
    fault: Fault,
    rng: StdRng,
}

impl Pacer {
    async fn pause(&mut self) {
        let delay = match &self.fault {
            Fault::Slow { delay } => *delay,
            Fault::Jitter { base, spread } => {
                base.saturating_add(spread.mul_f64(self.rng.random::<f64>()))
            }
            _ => return,
        };
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_specs_round_trip() {
        let cases = [
            ("healthy", Fault::Healthy),
            ("refusing", Fault::Refusing),
            ("stall", Fault::Stall),
            ("reset", Fault::Reset),
            (
                "slow:1500",
                Fault::Slow {
                    delay: Duration::from_millis(1500),
                },
            ),
            (
                "jitter:100:400",
                Fault::Jitter {
                    base: Duration::from_millis(100),
                    spread: Duration::from_millis(400),
                },
            ),
            ("flaky:0.3", Fault::Flaky { drop_ratio: 0.3 }),
        ];
        for (text, fault) in cases {
            assert_eq!(text.parse::<Fault>().unwrap(), fault, "{text}");
            assert_eq!(fault.to_string(), text);
        }
    }

    #[test]
    fn bad_fault_specs_say_what_to_fix() {
        let cases = [
            (
                "flaky:2",
                "invalid fault \"flaky:2\": the drop ratio must be between 0 and 1",
            ),
            (
                "flaky:NaN",
                "invalid fault \"flaky:NaN\": the drop ratio must be between 0 and 1",
            ),
            (
                "slow:abc",
                "invalid fault \"slow:abc\": the delay must be a whole number of milliseconds, not \"abc\"",
            ),
            (
                "slow",
                "invalid fault \"slow\": expected slow:MS, e.g. slow:1500",
            ),
            (
                "reset:3",
                "invalid fault \"reset:3\": \"reset\" takes no parameters",
            ),
            (
                "down",
                "invalid fault \"down\": expected one of healthy, refusing, stall, reset, slow:MS, \
                 jitter:BASE_MS:SPREAD_MS, flaky:RATIO",
            ),
        ];
        for (text, message) in cases {
            assert_eq!(text.parse::<Fault>().unwrap_err().to_string(), message);
        }
    }

    #[test]
    fn tls_modes_round_trip() {
        for mode in [
            TlsMode::Plain,
            TlsMode::Valid,
            TlsMode::Expired,
            TlsMode::WrongHost,
        ] {
            assert_eq!(mode.to_string().parse::<TlsMode>().unwrap(), mode);
        }
        assert!("bogus".parse::<TlsMode>().is_err());
    }

    #[tokio::test]
    async fn flaky_ratio_out_of_range_is_rejected_by_start() {
        let cfg = HostSimConfig {
            fault: Fault::Flaky { drop_ratio: 1.5 },
            ..HostSimConfig::default()
        };
        assert!(matches!(start(cfg).await, Err(SimError::InvalidConfig(_))));
    }
}
