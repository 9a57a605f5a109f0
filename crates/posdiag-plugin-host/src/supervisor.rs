//! The daemon's side: [`Plugin`] supervises one `posdiag-plugin-host`
//! process and turns everything a vendor plugin can do wrong into a
//! [`PluginFault`] before the caller's deadline (plus a small grace).
//!
//! # How the daemon uses it
//! ```text
//! let config = SupervisorConfig::new(locate_host_binary()?);
//! let plugin = Plugin::start(PluginSpec { id, library, init_request }, config);
//! let ready = plugin.ready().await?;                 // descriptor, version, ABI
//! let result = plugin.run_check(request, Some(link_tx), events_tx, deadline).await;
//! match result { Ok(bytes) => …, Err(fault) => finding with fault.reason_code() }
//! ```
//!
//! # Processes
//! One task per [`Plugin`] owns the host process and its socket; handles send
//! it commands on a bounded channel and wait on oneshot replies, so no lock
//! guards the connection. The host is spawned with:
//! - one end of a `socketpair` as fd 3 (`--fd 3`): `UnixStream::pair()` makes
//!   both ends close-on-exec, and the child's end is `dup2`ed onto fd 3
//!   between fork and exec (which clears close-on-exec on the copy only), so
//!   concurrent spawns from other tasks never see it;
//! - its own process group, so a timeout kills the host and anything the
//!   vendor library forked with one `kill(-pgid, SIGKILL)`; the group is
//!   always killed before the host is reaped, so the pgid cannot have been
//!   reused;
//! - `PR_SET_PDEATHSIG(SIGKILL)`, so hosts die with the daemon. Linux sends
//!   it when the *thread* that forked exits: spawn from a runtime worker
//!   thread (any task does), not from `spawn_blocking`, whose threads retire
//!   when idle;
//! - stdin and stdout on /dev/null, stderr inherited (the journal).
//!
//! # Faults
//! A host that exits, is killed by a signal, sends a bad frame or overruns a
//! deadline is killed (group) and reaped; the in-flight call fails with
//! `Crashed`, `Protocol` or `Timeout`; the host is restarted after an
//! exponential back-off, and after `quarantine_after` such deaths within
//! `quarantine_window` the plugin is quarantined: every call fails at once
//! with `Quarantined` and [`PluginStatus`] says why. A wrong ABI, a missing
//! symbol or an unloadable library is permanent (`Failed`, `Incompatible`):
//! restarting cannot fix it. A result that is not a valid `CheckResult`, or
//! too large for a frame, fails that call with `Protocol` but keeps the host.

use std::collections::VecDeque;
use std::io;
use std::os::fd::AsRawFd as _;
use std::os::unix::process::ExitStatusExt as _;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::time::Duration;

use posdiag_plugin_api::abi::{
    POSDIAG_E_FAILED, POSDIAG_E_LINK_LOST, POSDIAG_E_NO_LINK, POSDIAG_E_TIMEOUT, POSDIAG_OK,
};
use posdiag_plugin_api::pb;
use prost::Message as _;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::{Instant, sleep_until, timeout, timeout_at};
use tracing::{debug, error, info, warn};

use crate::frame::{self, DEFAULT_MAX_FRAME_BYTES, ENVELOPE_SLACK, FrameDecoder};
use crate::host::exit;
use crate::proto::{self, FailureKind, Outcome, daemon_message, host_message};

/// The fd number the host finds its socket on.
const HOST_FD: i32 = 3;

/// How long after the deadline a caller waits for the supervisor's own
/// verdict (it kills at the deadline) before giving up on its own.
const REPLY_GRACE: Duration = Duration::from_millis(250);

/// How long a host gets to exit after `Shutdown` before it is killed.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(1);

/// The name of the host binary, looked up next to the daemon's executable.
pub const HOST_BINARY_NAME: &str = "posdiag-plugin-host";

/// How plugins are supervised. All durations are wall-clock.
#[derive(Debug, Clone)]
pub struct SupervisorConfig {
    /// The `posdiag-plugin-host` executable (see [`locate_host_binary`]).
    pub host_binary: PathBuf,
    /// Address-space limit of the host (RLIMIT_AS), in MiB; 0: unlimited.
    pub max_memory_mb: u64,
    /// CPU-time limit of the host (RLIMIT_CPU), in seconds, over its whole life.
    pub max_cpu_s: Option<u64>,
    /// From spawn to `Ready` (load, describe, init), and for a `Pong`.
    pub handshake_timeout: Duration,
    /// How often an idle host is pinged; `None`: never.
    pub ping_interval: Option<Duration>,
    /// Restart back-off: the first delay, doubled per consecutive death up to the second.
    pub restart_backoff: (Duration, Duration),
    /// Deaths within [`SupervisorConfig::quarantine_window`] that quarantine the plugin.
    pub quarantine_after: u32,
    /// See [`SupervisorConfig::quarantine_after`].
    pub quarantine_window: Duration,
    /// The largest frame either side accepts, in bytes (at most u32::MAX).
    pub max_frame_bytes: usize,
    /// Calls that may wait for the plugin while one runs.
    pub queue_depth: usize,
}

impl SupervisorConfig {
    /// Defaults: 256 MiB, 5 s handshake, ping every 30 s, back-off 0.5 s..30 s,
    /// quarantine after 5 deaths in 10 minutes, 16 MiB frames, queue of 64.
    pub fn new(host_binary: PathBuf) -> SupervisorConfig {
        SupervisorConfig {
            host_binary,
            max_memory_mb: 256,
            max_cpu_s: None,
            handshake_timeout: Duration::from_secs(5),
            ping_interval: Some(Duration::from_secs(30)),
            restart_backoff: (Duration::from_millis(500), Duration::from_secs(30)),
            quarantine_after: 5,
            quarantine_window: Duration::from_secs(600),
            max_frame_bytes: DEFAULT_MAX_FRAME_BYTES,
            queue_depth: 64,
        }
    }
}

/// Finds `posdiag-plugin-host` next to the running executable (the packaged
/// layout: both in the same `bin` directory). The daemon's configuration may
/// name another path instead; this is the default.
pub fn locate_host_binary() -> io::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let dir = exe
        .parent()
        .ok_or_else(|| io::Error::other("executable has no directory"))?;
    let path = dir.join(HOST_BINARY_NAME);
    if path.is_file() {
        Ok(path)
    } else {
        Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!(
                "{} not found; install it next to {} or configure its path",
                path.display(),
                exe.display()
            ),
        ))
    }
}

/// One plugin to run, from its bundle.
#[derive(Debug, Clone)]
pub struct PluginSpec {
    /// The manifest's plugin id; the library must report the same one.
    pub id: String,
    /// The plugin's shared library.
    pub library: PathBuf,
    /// An encoded `posdiag.plugin.v1.InitRequest` for the plugin's `init()`.
    pub init_request: Vec<u8>,
}

/// A host that has loaded its plugin and is serving checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ready {
    /// The id the library reports.
    pub plugin_id: String,
    /// The version the library reports.
    pub plugin_version: String,
    /// The ABI the library was built against.
    pub abi_major: u32,
    /// See [`Ready::abi_major`].
    pub abi_minor: u32,
    /// The plugin's encoded `posdiag.plugin.v1.Descriptor` (already validated).
    pub descriptor: Vec<u8>,
    /// The host's process id.
    pub pid: u32,
    /// The host's resident memory before it loaded the library, in KiB (0: unknown).
    pub host_rss_kib: u64,
}

/// Where a plugin is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PluginState {
    /// The first host is being spawned.
    Starting,
    /// Serving checks.
    Ready,
    /// A host died; the next one starts after the back-off.
    Restarting,
    /// Too many deaths: calls fail at once, see [`PluginStatus::last_error`].
    Quarantined,
    /// The library cannot be used (ABI, symbol, load): calls fail at once.
    Failed,
    /// Shut down.
    Stopped,
}

/// A snapshot of a plugin's supervision, for `ListPlugins` and health.
#[derive(Debug, Clone)]
pub struct PluginStatus {
    /// The spec's plugin id.
    pub id: String,
    /// See [`PluginState`].
    pub state: PluginState,
    /// Host deaths (crash, kill after a deadline, protocol fault) since start.
    pub crashes: u32,
    /// Host deaths within the quarantine window.
    pub recent_crashes: u32,
    /// The most recent fault, and for `Quarantined`/`Failed` the reason.
    pub last_error: Option<PluginFault>,
    /// Version, ABI and descriptor of the current (or last) ready host.
    pub ready: Option<Ready>,
    /// The current host's process id.
    pub pid: Option<u32>,
}

/// Which step of loading failed, for [`PluginFault::Incompatible`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadFailure {
    /// ABI major or table size mismatch, or a wrong plugin id.
    Abi,
    /// No `posdiag_plugin_entry_v1`, or a table function is NULL.
    MissingSymbol,
    /// The dynamic loader refused the file.
    NotLoadable,
    /// The host speaks another protocol major, or broke the handshake.
    Protocol,
}

/// Why a call into a plugin failed. [`PluginFault::reason_code`] gives the
/// stable reason for findings.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum PluginFault {
    /// The host died (signal, exit, EOF) during the call, or is restarting after that.
    #[error("plugin host crashed: {detail}")]
    Crashed {
        /// What happened, e.g. "killed by signal 11 (SIGSEGV)".
        detail: String,
    },
    /// The deadline passed; the host was killed.
    #[error("plugin did not finish within {after:?}")]
    Timeout {
        /// Time from the call to the verdict.
        after: Duration,
    },
    /// The plugin or host sent something invalid (bad frame, invalid or oversized result).
    #[error("plugin broke the protocol: {detail}")]
    Protocol {
        /// What was wrong.
        detail: String,
    },
    /// The library cannot be used; restarting will not help.
    #[error("plugin cannot be loaded: {detail}")]
    Incompatible {
        /// Which step failed.
        kind: LoadFailure,
        /// What the host reported, naming the library and the fix.
        detail: String,
    },
    /// The plugin failed too often and is no longer started.
    #[error("plugin is quarantined: {detail}")]
    Quarantined {
        /// How many deaths in what window, and the last one.
        detail: String,
    },
    /// `run_check` returned an error code; the host is fine.
    #[error("plugin check failed: {detail}")]
    CheckFailed {
        /// The `POSDIAG_E_*` code.
        code: i32,
        /// The code's name.
        detail: String,
    },
    /// The plugin was shut down.
    #[error("plugin is stopped")]
    Stopped,
}

impl PluginFault {
    /// The stable reason code for a finding about this fault.
    pub fn reason_code(&self) -> &'static str {
        match self {
            PluginFault::Crashed { .. } => "plugin.crashed",
            PluginFault::Timeout { .. } => "plugin.timeout",
            PluginFault::Protocol { .. } => "plugin.protocol",
            PluginFault::Incompatible { .. } => "plugin.incompatible",
            PluginFault::Quarantined { .. } => "plugin.quarantined",
            PluginFault::CheckFailed { .. } => "plugin.failed",
            PluginFault::Stopped => "plugin.stopped",
        }
    }
}

/// A device-link operation the plugin asked for; the engine, which owns the
/// link, performs it within `timeout` and answers on `reply`.
#[derive(Debug)]
pub enum TransportRequest {
    /// Write all of `bytes`.
    Write {
        /// The bytes.
        bytes: Vec<u8>,
        /// The plugin's timeout for this write.
        timeout: Duration,
        /// The outcome.
        reply: oneshot::Sender<Result<(), TransportError>>,
    },
    /// Read 1..=`max` bytes.
    Read {
        /// The most bytes to return (longer answers are cut).
        max: usize,
        /// The plugin's timeout for this read.
        timeout: Duration,
        /// The bytes read.
        reply: oneshot::Sender<Result<Vec<u8>, TransportError>>,
    },
}

/// Why a transport operation failed; mapped to the header's return codes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// `POSDIAG_E_TIMEOUT`.
    #[error("timed out")]
    Timeout,
    /// `POSDIAG_E_LINK_LOST`: the device vanished.
    #[error("link lost")]
    Lost,
    /// `POSDIAG_E_NO_LINK`: the check has no device link.
    #[error("no link")]
    NoLink,
    /// `POSDIAG_E_FAILED`.
    #[error("transport failed: {0}")]
    Failed(String),
}

impl TransportError {
    /// The `POSDIAG_E_*` code the plugin sees.
    pub fn code(&self) -> i32 {
        match self {
            TransportError::Timeout => POSDIAG_E_TIMEOUT,
            TransportError::Lost => POSDIAG_E_LINK_LOST,
            TransportError::NoLink => POSDIAG_E_NO_LINK,
            TransportError::Failed(_) => POSDIAG_E_FAILED,
        }
    }
}

enum Command {
    Run(RunCall),
    Shutdown(oneshot::Sender<()>),
}

struct RunCall {
    request: Vec<u8>,
    transport: Option<mpsc::Sender<TransportRequest>>,
    events: mpsc::Sender<Vec<u8>>,
    deadline: Instant,
    reply: oneshot::Sender<Result<Vec<u8>, PluginFault>>,
}

/// A handle on one supervised plugin; cheap to clone. The host process is
/// shut down when the last handle is dropped (or on [`Plugin::shutdown`]).
#[derive(Debug, Clone)]
pub struct Plugin {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    commands: mpsc::Sender<Command>,
    status: watch::Receiver<PluginStatus>,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Command::Run(_) => "Run",
            Command::Shutdown(_) => "Shutdown",
        })
    }
}

impl Plugin {
    /// Starts supervising: spawns the host and handshakes in the background.
    /// Must be called inside a tokio runtime (it spawns a task).
    pub fn start(spec: PluginSpec, config: SupervisorConfig) -> Plugin {
        let (commands, rx) = mpsc::channel(config.queue_depth.max(1));
        let (status_tx, status) = watch::channel(PluginStatus {
            id: spec.id.clone(),
            state: PluginState::Starting,
            crashes: 0,
            recent_crashes: 0,
            last_error: None,
            ready: None,
            pid: None,
        });
        let sup = Supervisor {
            spec,
            config,
            commands: rx,
            status: status_tx,
            deaths: VecDeque::new(),
            consecutive: 0,
            next_call: 0,
            next_nonce: 0,
        };
        tokio::spawn(sup.run());
        Plugin {
            inner: Arc::new(Inner { commands, status }),
        }
    }

    /// Waits until the plugin is ready (through restarts), or fails for good.
    pub async fn ready(&self) -> Result<Ready, PluginFault> {
        let mut rx = self.inner.status.clone();
        loop {
            {
                let s = rx.borrow_and_update();
                match (s.state, &s.ready) {
                    (PluginState::Ready, Some(r)) => return Ok(r.clone()),
                    (PluginState::Quarantined | PluginState::Failed, _) => {
                        return Err(s.last_error.clone().unwrap_or(PluginFault::Stopped));
                    }
                    (PluginState::Stopped, _) => return Err(PluginFault::Stopped),
                    _ => {}
                }
            }
            if rx.changed().await.is_err() {
                return Err(PluginFault::Stopped);
            }
        }
    }

    /// Runs one check: `request` is an encoded `posdiag.plugin.v1.CheckRequest`;
    /// the answer is an encoded, validated `CheckResult`. The plugin's link
    /// I/O arrives on `transport` (`None`: the plugin sees `NO_LINK`); its
    /// progress events (encoded `Event`s) on `events`, dropped if that channel
    /// is full. Fails by `deadline` plus a small grace, whatever the plugin does.
    pub async fn run_check(
        &self,
        request: Vec<u8>,
        transport: Option<mpsc::Sender<TransportRequest>>,
        events: mpsc::Sender<Vec<u8>>,
        deadline: Instant,
    ) -> Result<Vec<u8>, PluginFault> {
        {
            let s = self.inner.status.borrow();
            match s.state {
                PluginState::Quarantined | PluginState::Failed => {
                    return Err(s.last_error.clone().unwrap_or(PluginFault::Stopped));
                }
                PluginState::Stopped => return Err(PluginFault::Stopped),
                _ => {}
            }
        }
        let started = Instant::now();
        let (reply, rx) = oneshot::channel();
        let cmd = Command::Run(RunCall {
            request,
            transport,
            events,
            deadline,
            reply,
        });
        match timeout_at(deadline, self.inner.commands.send(cmd)).await {
            Err(_) => {
                return Err(PluginFault::Timeout {
                    after: started.elapsed(),
                });
            }
            Ok(Err(_)) => return Err(PluginFault::Stopped),
            Ok(Ok(())) => {}
        }
        match timeout_at(deadline + REPLY_GRACE, rx).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(PluginFault::Stopped),
            Err(_) => Err(PluginFault::Timeout {
                after: started.elapsed(),
            }),
        }
    }

    /// A snapshot of the plugin's supervision.
    pub fn status(&self) -> PluginStatus {
        self.inner.status.borrow().clone()
    }

    /// Asks the host to call the plugin's `shutdown()` and exit (killed after
    /// a grace period), and stops supervising. Later calls fail with `Stopped`.
    pub async fn shutdown(&self) {
        let (done, rx) = oneshot::channel();
        if self
            .inner
            .commands
            .send(Command::Shutdown(done))
            .await
            .is_ok()
        {
            let _ = rx.await;
        }
    }
}

/// Restart delay after `consecutive` deaths in a row (1 = the first).
fn backoff_delay((initial, max): (Duration, Duration), consecutive: u32) -> Duration {
    let exp = consecutive.saturating_sub(1).min(30);
    initial.saturating_mul(1u32 << exp).min(max)
}

/// Why a host could not be started.
enum StartError {
    /// Restarting will not help.
    Permanent(PluginFault),
    /// Counts as a death; restart after the back-off.
    Died(PluginFault),
}

/// How serving a host ended.
enum Exit {
    Stop(Option<oneshot::Sender<()>>),
    Died(PluginFault),
}

struct Supervisor {
    spec: PluginSpec,
    config: SupervisorConfig,
    commands: mpsc::Receiver<Command>,
    status: watch::Sender<PluginStatus>,
    /// When recent deaths happened, oldest first, within the quarantine window.
    deaths: VecDeque<Instant>,
    /// Deaths since the last host that served a check.
    consecutive: u32,
    next_call: u64,
    next_nonce: u64,
}

impl Supervisor {
    async fn run(mut self) {
        loop {
            let fault = match self.start().await {
                Ok(mut host) => match self.serve(&mut host).await {
                    Exit::Stop(done) => {
                        host.stop().await;
                        self.status.send_modify(|s| {
                            s.state = PluginState::Stopped;
                            s.pid = None;
                        });
                        if let Some(done) = done {
                            let _ = done.send(());
                        }
                        return;
                    }
                    Exit::Died(fault) => fault,
                },
                Err(StartError::Permanent(fault)) => {
                    error!(plugin = %self.spec.id, reason = fault.reason_code(), "{fault}");
                    self.status.send_modify(|s| {
                        s.state = PluginState::Failed;
                        s.last_error = Some(fault.clone());
                        s.pid = None;
                    });
                    return self.refuse_all(fault).await;
                }
                Err(StartError::Died(fault)) => fault,
            };
            warn!(plugin = %self.spec.id, reason = fault.reason_code(), "plugin host died: {fault}");
            if let Some(quarantine) = self.record_death(fault.clone()) {
                error!(plugin = %self.spec.id, reason = "plugin.quarantined", "{quarantine}");
                return self.refuse_all(quarantine).await;
            }
            let delay = backoff_delay(self.config.restart_backoff, self.consecutive);
            if !self.back_off(delay, &fault).await {
                return;
            }
        }
    }

    /// Counts a death; returns the quarantine fault when there were too many.
    fn record_death(&mut self, fault: PluginFault) -> Option<PluginFault> {
        let now = Instant::now();
        self.deaths.push_back(now);
        while self
            .deaths
            .front()
            .is_some_and(|t| now.duration_since(*t) > self.config.quarantine_window)
        {
            self.deaths.pop_front();
        }
        self.consecutive = self.consecutive.saturating_add(1);
        let recent = u32::try_from(self.deaths.len()).unwrap_or(u32::MAX);
        let quarantine =
            (recent >= self.config.quarantine_after.max(1)).then(|| PluginFault::Quarantined {
                detail: format!(
                    "{recent} host deaths within {:?} (limit {}); last: {fault}",
                    self.config.quarantine_window, self.config.quarantine_after
                ),
            });
        self.status.send_modify(|s| {
            s.crashes = s.crashes.saturating_add(1);
            s.recent_crashes = recent;
            s.pid = None;
            match &quarantine {
                Some(q) => {
                    s.state = PluginState::Quarantined;
                    s.last_error = Some(q.clone());
                }
                None => {
                    s.state = PluginState::Restarting;
                    s.last_error = Some(fault);
                }
            }
        });
        quarantine
    }

    /// Waits out the restart delay; calls arriving meanwhile fail at once
    /// with the fault that killed the last host. False: stop supervising.
    async fn back_off(&mut self, delay: Duration, fault: &PluginFault) -> bool {
        let until = Instant::now() + delay;
        let refusal = PluginFault::Crashed {
            detail: format!("restarting after: {fault}"),
        };
        loop {
            tokio::select! {
                _ = sleep_until(until) => return true,
                cmd = self.commands.recv() => match cmd {
                    None => {
                        self.status.send_modify(|s| s.state = PluginState::Stopped);
                        return false;
                    }
                    Some(Command::Shutdown(done)) => {
                        self.status.send_modify(|s| s.state = PluginState::Stopped);
                        let _ = done.send(());
                        return false;
                    }
                    Some(Command::Run(call)) => {
                        let _ = call.reply.send(Err(refusal.clone()));
                    }
                },
            }
        }
    }

    /// Answers every call with `fault` until shut down (quarantined or failed).
    async fn refuse_all(mut self, fault: PluginFault) {
        while let Some(cmd) = self.commands.recv().await {
            match cmd {
                Command::Run(call) => {
                    let _ = call.reply.send(Err(fault.clone()));
                }
                Command::Shutdown(done) => {
                    let _ = done.send(());
                    return;
                }
            }
        }
    }

    async fn start(&mut self) -> Result<Host, StartError> {
        let bin = self.config.host_binary.display().to_string();
        let mut host = Host::spawn(&self.spec, &self.config).map_err(|e| {
            StartError::Died(PluginFault::Crashed {
                detail: format!(
                    "cannot start plugin host {bin}: {e}; check SupervisorConfig::host_binary"
                ),
            })
        })?;
        self.status.send_modify(|s| s.pid = Some(host.pid));
        let hello = daemon_message::Msg::Hello(proto::Hello {
            protocol_major: proto::PROTOCOL_MAJOR,
            protocol_minor: proto::PROTOCOL_MINOR,
            features: proto::FEATURES.iter().map(|f| (*f).to_owned()).collect(),
            rss_kib: 0,
            pid: 0,
        });
        let configure = daemon_message::Msg::Configure(proto::Configure {
            init_request: self.spec.init_request.clone(),
            max_frame_bytes: host.max_frame as u64,
        });
        // Sent without waiting for the host's Hello: it finds them buffered.
        if let Err(e) = host.send_all(&[hello, configure]).await {
            return Err(StartError::Died(PluginFault::Crashed {
                detail: host.death(Gone::Io(e)).await,
            }));
        }
        let deadline = Instant::now() + self.config.handshake_timeout;
        let mut peer_hello: Option<proto::Hello> = None;
        loop {
            let msg = match timeout_at(deadline, host.next()).await {
                Err(_) => {
                    host.kill();
                    let phase = if peer_hello.is_some() {
                        "Ready"
                    } else {
                        "Hello"
                    };
                    warn!(plugin = %self.spec.id, "no {phase} from the plugin host within {:?}", self.config.handshake_timeout);
                    return Err(StartError::Died(PluginFault::Timeout {
                        after: self.config.handshake_timeout,
                    }));
                }
                Ok(Err(gone)) => {
                    let protocol = matches!(gone, Gone::Protocol(_));
                    let detail = host.death(gone).await;
                    return Err(StartError::Died(if protocol {
                        PluginFault::Protocol { detail }
                    } else {
                        PluginFault::Crashed {
                            detail: format!("{detail} while loading the plugin"),
                        }
                    }));
                }
                Ok(Ok(msg)) => msg,
            };
            match (msg, &peer_hello) {
                (host_message::Msg::Log(l), _) => self.log(&l),
                (host_message::Msg::Hello(h), None) => {
                    if h.protocol_major != proto::PROTOCOL_MAJOR {
                        return Err(StartError::Permanent(PluginFault::Incompatible {
                            kind: LoadFailure::Protocol,
                            detail: format!(
                                "{bin} speaks host protocol {}.{}, posdiagd speaks {}.{}; install matching versions",
                                h.protocol_major,
                                h.protocol_minor,
                                proto::PROTOCOL_MAJOR,
                                proto::PROTOCOL_MINOR
                            ),
                        }));
                    }
                    peer_hello = Some(h);
                }
                (host_message::Msg::Failed(f), _) => {
                    let kind = match f.kind() {
                        FailureKind::MissingSymbol => LoadFailure::MissingSymbol,
                        FailureKind::LoadFailed => LoadFailure::NotLoadable,
                        FailureKind::Incompatible => LoadFailure::Abi,
                        FailureKind::InitFailed | FailureKind::Unspecified => {
                            // init() may depend on things that come back (a
                            // device, a file): retry with back-off.
                            host.kill();
                            return Err(StartError::Died(PluginFault::Crashed {
                                detail: format!("plugin failed to start: {}", f.message),
                            }));
                        }
                    };
                    return Err(StartError::Permanent(PluginFault::Incompatible {
                        kind,
                        detail: f.message,
                    }));
                }
                (host_message::Msg::Ready(r), Some(h)) => {
                    if let Err(e) = pb::Descriptor::decode(r.descriptor.as_slice()) {
                        return Err(StartError::Permanent(PluginFault::Incompatible {
                            kind: LoadFailure::Protocol,
                            detail: format!(
                                "{}: describe() returned an invalid Descriptor: {e}",
                                self.spec.library.display()
                            ),
                        }));
                    }
                    let ready = Ready {
                        plugin_id: r.plugin_id,
                        plugin_version: r.plugin_version,
                        abi_major: r.abi_major,
                        abi_minor: r.abi_minor,
                        descriptor: r.descriptor,
                        pid: host.pid,
                        host_rss_kib: h.rss_kib,
                    };
                    info!(plugin = %self.spec.id, version = %ready.plugin_version, pid = host.pid, "plugin ready");
                    self.status.send_modify(|s| {
                        s.state = PluginState::Ready;
                        s.ready = Some(ready);
                    });
                    return Ok(host);
                }
                (other, _) => {
                    host.kill();
                    return Err(StartError::Died(PluginFault::Protocol {
                        detail: format!("unexpected {} during the handshake", msg_name(&other)),
                    }));
                }
            }
        }
    }

    async fn serve(&mut self, host: &mut Host) -> Exit {
        let mut ping = self
            .config
            .ping_interval
            .map(|p| tokio::time::interval_at(Instant::now() + p, p));
        let mut awaiting_pong: Option<(u64, Instant)> = None;
        loop {
            let pong_deadline = awaiting_pong.map(|(_, d)| d);
            tokio::select! {
                cmd = self.commands.recv() => match cmd {
                    None => return Exit::Stop(None),
                    Some(Command::Shutdown(done)) => return Exit::Stop(Some(done)),
                    Some(Command::Run(call)) => {
                        // A finished check proves liveness as well as a Pong.
                        awaiting_pong = None;
                        if let Some(fault) = self.run_one(host, call).await {
                            return Exit::Died(fault);
                        }
                    }
                },
                msg = host.next() => match msg {
                    Ok(host_message::Msg::Log(l)) => self.log(&l),
                    Ok(host_message::Msg::Pong(p)) => {
                        if awaiting_pong.is_some_and(|(n, _)| n == p.nonce) {
                            awaiting_pong = None;
                        }
                    }
                    // Events or transport requests outside a check: a plugin
                    // thread gone astray, or a confused host. Either way the
                    // stream cannot be trusted.
                    Ok(other) => {
                        host.kill();
                        return Exit::Died(PluginFault::Protocol {
                            detail: format!("unexpected {} while no check runs", msg_name(&other)),
                        });
                    }
                    Err(gone) => {
                        let protocol = matches!(gone, Gone::Protocol(_));
                        let detail = host.death(gone).await;
                        return Exit::Died(if protocol {
                            PluginFault::Protocol { detail }
                        } else {
                            PluginFault::Crashed { detail: format!("{detail} while idle") }
                        });
                    }
                },
                _ = tick(&mut ping), if awaiting_pong.is_none() => {
                    self.next_nonce += 1;
                    let nonce = self.next_nonce;
                    if let Err(e) = host.send(daemon_message::Msg::Ping(proto::Ping { nonce })).await {
                        return Exit::Died(PluginFault::Crashed { detail: host.death(Gone::Io(e)).await });
                    }
                    awaiting_pong = Some((nonce, Instant::now() + self.config.handshake_timeout));
                },
                _ = sleep_until(pong_deadline.unwrap_or_else(Instant::now)), if pong_deadline.is_some() => {
                    host.kill();
                    return Exit::Died(PluginFault::Timeout { after: self.config.handshake_timeout });
                }
            }
        }
    }

    /// Runs one check on a ready host. Returns the fault if the host had to
    /// die (the caller has been answered either way).
    async fn run_one(&mut self, host: &mut Host, call: RunCall) -> Option<PluginFault> {
        let RunCall {
            request,
            transport,
            events,
            deadline,
            reply,
        } = call;
        let started = Instant::now();
        if deadline <= started {
            let _ = reply.send(Err(PluginFault::Timeout {
                after: Duration::ZERO,
            }));
            return None;
        }
        // The host would refuse the frame and die; the caller's bug is not the plugin's.
        let max_payload = host.max_frame.saturating_sub(ENVELOPE_SLACK);
        if request.len() > max_payload {
            let detail = format!(
                "request of {} bytes exceeds the {max_payload}-byte frame limit",
                request.len()
            );
            let _ = reply.send(Err(PluginFault::Protocol { detail }));
            return None;
        }
        self.next_call += 1;
        let call_id = self.next_call;
        let (result, death) = self
            .drive(host, call_id, request, transport, events, deadline)
            .await;
        let result = result.map_err(|f| match f {
            // The deadline is the caller's, so report the time since its call.
            PluginFault::Timeout { .. } => PluginFault::Timeout {
                after: started.elapsed(),
            },
            other => other,
        });
        if death.is_none() {
            self.consecutive = 0;
        }
        let _ = reply.send(result);
        death
    }

    /// The exchange of one check. Returns the caller's result and, if the
    /// host was killed or died, the fault to record.
    async fn drive(
        &mut self,
        host: &mut Host,
        call_id: u64,
        request: Vec<u8>,
        transport: Option<mpsc::Sender<TransportRequest>>,
        events: mpsc::Sender<Vec<u8>>,
        deadline: Instant,
    ) -> (Result<Vec<u8>, PluginFault>, Option<PluginFault>) {
        let timed_out = |host: &mut Host| {
            host.kill();
            let f = PluginFault::Timeout {
                after: Duration::ZERO,
            };
            (Err(f.clone()), Some(f))
        };
        let run = daemon_message::Msg::RunCheck(proto::RunCheck { call_id, request });
        match timeout_at(deadline, host.send(run)).await {
            Err(_) => return timed_out(host),
            Ok(Err(e)) => return died(host.death(Gone::Io(e)).await),
            Ok(Ok(())) => {}
        }
        let max_payload = host.max_frame.saturating_sub(ENVELOPE_SLACK);
        let mut pending: Option<Pending> = None;
        // The plugin's last error line of this call: why it returned an error
        // code (the SDK logs a PluginError's message), for the finding.
        let mut last_error: Option<String> = None;
        loop {
            tokio::select! {
                msg = host.next() => {
                    let msg = match msg {
                        Ok(m) => m,
                        Err(Gone::Protocol(e)) => {
                            let f = PluginFault::Protocol { detail: host.death(Gone::Protocol(e)).await };
                            return (Err(f.clone()), Some(f));
                        }
                        Err(gone) => return died(host.death(gone).await),
                    };
                    match msg {
                        host_message::Msg::Log(l) => {
                            if l.level == 1 && l.call_id == call_id {
                                last_error = Some(first_chars(&l.text, 300));
                            }
                            self.log(&l);
                        }
                        host_message::Msg::Pong(_) => {}
                        host_message::Msg::Event(e) if e.call_id == call_id => {
                            if events.try_send(e.event).is_err() {
                                debug!(plugin = %self.spec.id, "progress event dropped: receiver full or gone");
                            }
                        }
                        host_message::Msg::TransportWrite(w) if w.call_id == call_id && pending.is_none() => {
                            let timeout = Duration::from_millis(u64::from(w.timeout_ms));
                            let (tx, rx) = oneshot::channel();
                            let req = TransportRequest::Write { bytes: w.data, timeout, reply: tx };
                            match forward(transport.as_ref(), req, deadline).await {
                                Forward::Sent => pending = Some(Pending::Write(rx)),
                                Forward::Refused(code) => {
                                    if let Err(e) = host.send(transport_reply(call_id, code, Vec::new())).await {
                                        return died(host.death(Gone::Io(e)).await);
                                    }
                                }
                                Forward::Deadline => return timed_out(host),
                            }
                        }
                        host_message::Msg::TransportRead(r) if r.call_id == call_id && pending.is_none() => {
                            let timeout = Duration::from_millis(u64::from(r.timeout_ms));
                            let max = (r.max as usize).min(max_payload);
                            let (tx, rx) = oneshot::channel();
                            let req = TransportRequest::Read { max, timeout, reply: tx };
                            match forward(transport.as_ref(), req, deadline).await {
                                Forward::Sent => pending = Some(Pending::Read(max, rx)),
                                Forward::Refused(code) => {
                                    if let Err(e) = host.send(transport_reply(call_id, code, Vec::new())).await {
                                        return died(host.death(Gone::Io(e)).await);
                                    }
                                }
                                Forward::Deadline => return timed_out(host),
                            }
                        }
                        host_message::Msg::CheckDone(d) if d.call_id == call_id => {
                            return (self.judge(d, host.max_frame, last_error), None);
                        }
                        other => {
                            host.kill();
                            let f = PluginFault::Protocol {
                                detail: format!("unexpected {} during check {call_id}", msg_name(&other)),
                            };
                            return (Err(f.clone()), Some(f));
                        }
                    }
                }
                (code, data) = wait_pending(&mut pending), if pending.is_some() => {
                    pending = None;
                    match timeout_at(deadline, host.send(transport_reply(call_id, code, data))).await {
                        Err(_) => return timed_out(host),
                        Ok(Err(e)) => return died(host.death(Gone::Io(e)).await),
                        Ok(Ok(())) => {}
                    }
                }
                _ = sleep_until(deadline) => return timed_out(host),
            }
        }
    }

    /// Turns the host's CheckDone into the caller's result.
    fn judge(
        &self,
        d: proto::CheckDone,
        max_frame: usize,
        last_error: Option<String>,
    ) -> Result<Vec<u8>, PluginFault> {
        match d.outcome() {
            Outcome::Ok => match pb::CheckResult::decode(d.result.as_slice()) {
                Ok(_) => Ok(d.result),
                Err(e) => Err(PluginFault::Protocol {
                    detail: format!(
                        "run_check returned {} bytes that are not a CheckResult: {e}",
                        d.result.len()
                    ),
                }),
            },
            Outcome::PluginError => {
                let code = posdiag_plugin_api::abi::return_code_name(d.code)
                    .map_or_else(|| d.code.to_string(), str::to_owned);
                Err(PluginFault::CheckFailed {
                    code: d.code,
                    detail: match last_error {
                        Some(why) => format!("run_check returned {code}: {why}"),
                        None => format!("run_check returned {code}"),
                    },
                })
            }
            Outcome::ResultTooLarge => Err(PluginFault::Protocol {
                detail: format!(
                    "run_check returned {} bytes, over the {max_frame}-byte frame limit",
                    d.result_len
                ),
            }),
            Outcome::Unspecified => Err(PluginFault::Protocol {
                detail: "CheckDone without an outcome".into(),
            }),
        }
    }

    fn log(&self, l: &proto::Log) {
        let id = &self.spec.id;
        match l.level {
            1 => error!(plugin = %id, call = l.call_id, "{}", l.text),
            2 => warn!(plugin = %id, call = l.call_id, "{}", l.text),
            3 => info!(plugin = %id, call = l.call_id, "{}", l.text),
            _ => debug!(plugin = %id, call = l.call_id, "{}", l.text),
        }
    }
}

/// At most `n` characters of `s`, with "…" when cut.
fn first_chars(s: &str, n: usize) -> String {
    match s.char_indices().nth(n) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

fn died(detail: String) -> (Result<Vec<u8>, PluginFault>, Option<PluginFault>) {
    let f = PluginFault::Crashed { detail };
    (Err(f.clone()), Some(f))
}

fn transport_reply(call_id: u64, code: i32, data: Vec<u8>) -> daemon_message::Msg {
    daemon_message::Msg::TransportReply(proto::TransportReply {
        call_id,
        code,
        data,
    })
}

enum Pending {
    Write(oneshot::Receiver<Result<(), TransportError>>),
    Read(usize, oneshot::Receiver<Result<Vec<u8>, TransportError>>),
}

/// The engine's answer to the pending transport request, as a header code.
async fn wait_pending(pending: &mut Option<Pending>) -> (i32, Vec<u8>) {
    match pending {
        Some(Pending::Write(rx)) => match rx.await {
            Ok(Ok(())) => (POSDIAG_OK, Vec::new()),
            Ok(Err(e)) => (e.code(), Vec::new()),
            Err(_) => (POSDIAG_E_FAILED, Vec::new()),
        },
        Some(Pending::Read(max, rx)) => match rx.await {
            Ok(Ok(mut data)) => {
                data.truncate(*max);
                (POSDIAG_OK, data)
            }
            Ok(Err(e)) => (e.code(), Vec::new()),
            Err(_) => (POSDIAG_E_FAILED, Vec::new()),
        },
        None => std::future::pending().await,
    }
}

enum Forward {
    Sent,
    Refused(i32),
    Deadline,
}

async fn forward(
    transport: Option<&mpsc::Sender<TransportRequest>>,
    req: TransportRequest,
    deadline: Instant,
) -> Forward {
    let Some(tx) = transport else {
        return Forward::Refused(POSDIAG_E_NO_LINK);
    };
    match timeout_at(deadline, tx.send(req)).await {
        Ok(Ok(())) => Forward::Sent,
        // The engine dropped its end: the link is gone.
        Ok(Err(_)) => Forward::Refused(POSDIAG_E_NO_LINK),
        Err(_) => Forward::Deadline,
    }
}

async fn tick(interval: &mut Option<tokio::time::Interval>) {
    match interval {
        Some(i) => {
            i.tick().await;
        }
        None => std::future::pending().await,
    }
}

fn msg_name(m: &host_message::Msg) -> &'static str {
    match m {
        host_message::Msg::Hello(_) => "Hello",
        host_message::Msg::Ready(_) => "Ready",
        host_message::Msg::Failed(_) => "Failed",
        host_message::Msg::Log(_) => "Log",
        host_message::Msg::Event(_) => "Event",
        host_message::Msg::TransportWrite(_) => "TransportWrite",
        host_message::Msg::TransportRead(_) => "TransportRead",
        host_message::Msg::CheckDone(_) => "CheckDone",
        host_message::Msg::Pong(_) => "Pong",
    }
}

/// Why the host's stream ended.
enum Gone {
    Eof,
    Io(io::Error),
    Protocol(String),
}

/// One running host process and its socket.
struct Host {
    child: tokio::process::Child,
    pid: u32,
    stream: tokio::net::UnixStream,
    decoder: FrameDecoder,
    max_frame: usize,
    reaped: bool,
}

impl Host {
    fn spawn(spec: &PluginSpec, config: &SupervisorConfig) -> io::Result<Host> {
        let (ours, theirs) = std::os::unix::net::UnixStream::pair()?;
        let child_fd = theirs.as_raw_fd();
        // std::process::id() is the daemon's pid, what getppid() returns in the child.
        let parent = libc::pid_t::try_from(std::process::id()).unwrap_or(0);
        let mut cmd = tokio::process::Command::new(&config.host_binary);
        cmd.arg("--library")
            .arg(&spec.library)
            .arg("--fd")
            .arg(HOST_FD.to_string())
            .arg("--plugin-id")
            .arg(&spec.id)
            .arg("--max-memory-mb")
            .arg(config.max_memory_mb.to_string());
        if let Some(s) = config.max_cpu_s {
            cmd.arg("--max-cpu-s").arg(s.to_string());
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .process_group(0)
            .kill_on_drop(true);
        // SAFETY: the closure runs in the forked child before exec and only
        // makes async-signal-safe calls (fcntl, dup2, prctl, getppid, _exit)
        // on an fd number captured by value; it allocates nothing.
        unsafe {
            cmd.pre_exec(move || {
                if child_fd == HOST_FD {
                    let flags = libc::fcntl(child_fd, libc::F_GETFD);
                    if flags < 0
                        || libc::fcntl(child_fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC) < 0
                    {
                        return Err(io::Error::last_os_error());
                    }
                } else if libc::dup2(child_fd, HOST_FD) < 0 {
                    // dup2 leaves close-on-exec clear on the new descriptor.
                    return Err(io::Error::last_os_error());
                }
                libc::prctl(
                    libc::PR_SET_PDEATHSIG,
                    libc::SIGKILL as libc::c_ulong,
                    0,
                    0,
                    0,
                );
                // The daemon died between fork and prctl: nobody would kill us.
                if libc::getppid() != parent {
                    libc::_exit(i32::from(exit::SETUP));
                }
                Ok(())
            })
        };
        let child = cmd.spawn()?;
        drop(theirs);
        let pid = child
            .id()
            .ok_or_else(|| io::Error::other("host exited before it could be watched"))?;
        ours.set_nonblocking(true)?;
        let stream = tokio::net::UnixStream::from_std(ours)?;
        let max_frame = config.max_frame_bytes.clamp(1024, u32::MAX as usize);
        debug!(plugin = %spec.id, pid, "plugin host spawned");
        Ok(Host {
            child,
            pid,
            stream,
            decoder: FrameDecoder::new(max_frame),
            max_frame,
            reaped: false,
        })
    }

    async fn send(&mut self, msg: daemon_message::Msg) -> io::Result<()> {
        self.stream
            .write_all(&frame::encode(&proto::DaemonMessage { msg: Some(msg) }))
            .await
    }

    async fn send_all(&mut self, msgs: &[daemon_message::Msg]) -> io::Result<()> {
        let mut bytes = Vec::new();
        for m in msgs {
            bytes.extend(frame::encode(&proto::DaemonMessage {
                msg: Some(m.clone()),
            }));
        }
        self.stream.write_all(&bytes).await
    }

    /// The next message from the host. Cancel-safe: bytes read are kept in
    /// the decoder, so it can be a `select!` branch.
    async fn next(&mut self) -> Result<host_message::Msg, Gone> {
        loop {
            match self.decoder.next_message::<proto::HostMessage>() {
                Ok(Some(proto::HostMessage { msg: Some(msg) })) => return Ok(msg),
                // A message from a newer minor version: skip it.
                Ok(Some(proto::HostMessage { msg: None })) => continue,
                Ok(None) => {}
                Err(e) => return Err(Gone::Protocol(e.to_string())),
            }
            let buf = self.decoder.read_buf();
            buf.reserve(64 * 1024);
            match self.stream.read_buf(buf).await {
                Ok(0) => return Err(Gone::Eof),
                Ok(_) => {}
                Err(e) => return Err(Gone::Io(e)),
            }
        }
    }

    /// Kills the host's whole process group. Safe to repeat; never after reaping.
    fn kill(&mut self) {
        if self.reaped {
            return;
        }
        if let Ok(pgid) = libc::pid_t::try_from(self.pid) {
            // SAFETY: a plain syscall. The group leader is our unreaped child
            // (at worst a zombie), so its pid, the pgid, cannot be reused yet.
            unsafe { libc::kill(-pgid, libc::SIGKILL) };
        }
    }

    /// Kills the group, reaps the host and describes how it ended.
    async fn death(&mut self, why: Gone) -> String {
        // Kill first: the host may have closed its socket but still be running,
        // and children it forked must not outlive it. SIGKILL does not change
        // the status of a process that is already exiting.
        self.kill();
        let status = self.reap().await;
        match why {
            Gone::Eof => format!("plugin host (pid {}) {status}", self.pid),
            Gone::Io(e) => format!(
                "plugin host (pid {}) socket failed ({e}); {status}",
                self.pid
            ),
            Gone::Protocol(e) => format!(
                "plugin host (pid {}) sent a bad frame ({e}); killed",
                self.pid
            ),
        }
    }

    async fn reap(&mut self) -> String {
        let status = timeout(Duration::from_secs(2), self.child.wait()).await;
        match status {
            Ok(Ok(st)) => {
                self.reaped = true;
                describe_status(st)
            }
            Ok(Err(e)) => format!("could not be reaped ({e})"),
            Err(_) => "did not exit after SIGKILL".to_owned(),
        }
    }

    /// Graceful stop: Shutdown, then a grace period, then SIGKILL.
    async fn stop(&mut self) {
        if self
            .send(daemon_message::Msg::Shutdown(proto::Shutdown {}))
            .await
            .is_ok()
            && let Ok(Ok(_)) = timeout(SHUTDOWN_GRACE, self.child.wait()).await
        {
            // Exited on its own; stray children of the group still go.
            self.kill();
            self.reaped = true;
            return;
        }
        self.kill();
        let _ = self.reap().await;
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        // kill_on_drop covers the host itself; this covers its process group.
        self.kill();
    }
}

fn describe_status(st: ExitStatus) -> String {
    if let Some(sig) = st.signal() {
        let name = match sig {
            libc::SIGSEGV => "SIGSEGV",
            libc::SIGABRT => "SIGABRT",
            libc::SIGKILL => "SIGKILL",
            libc::SIGBUS => "SIGBUS",
            libc::SIGILL => "SIGILL",
            libc::SIGFPE => "SIGFPE",
            libc::SIGXCPU => "SIGXCPU (CPU limit)",
            libc::SIGTERM => "SIGTERM",
            _ => "signal",
        };
        format!("was killed by signal {sig} ({name})")
    } else {
        let code = st.code().unwrap_or(-1);
        format!("exited with code {code} ({})", exit::describe(code))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_the_initial_delay_up_to_the_cap() {
        let b = (Duration::from_millis(100), Duration::from_secs(1));
        let got: Vec<u128> = (1..=6).map(|n| backoff_delay(b, n).as_millis()).collect();
        assert_eq!(got, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(backoff_delay(b, u32::MAX), Duration::from_secs(1));
    }

    #[test]
    fn every_fault_has_a_plugin_reason_code() {
        let faults = [
            PluginFault::Crashed {
                detail: String::new(),
            },
            PluginFault::Timeout {
                after: Duration::ZERO,
            },
            PluginFault::Protocol {
                detail: String::new(),
            },
            PluginFault::Incompatible {
                kind: LoadFailure::Abi,
                detail: String::new(),
            },
            PluginFault::Quarantined {
                detail: String::new(),
            },
            PluginFault::CheckFailed {
                code: -1,
                detail: String::new(),
            },
            PluginFault::Stopped,
        ];
        let codes: Vec<&str> = faults.iter().map(PluginFault::reason_code).collect();
        assert_eq!(
            codes,
            [
                "plugin.crashed",
                "plugin.timeout",
                "plugin.protocol",
                "plugin.incompatible",
                "plugin.quarantined",
                "plugin.failed",
                "plugin.stopped"
            ]
        );
    }

    #[test]
    fn transport_errors_map_to_header_codes() {
        assert_eq!(TransportError::Timeout.code(), -2);
        assert_eq!(TransportError::Lost.code(), -3);
        assert_eq!(TransportError::NoLink.code(), -4);
        assert_eq!(TransportError::Failed("x".into()).code(), -1);
    }

    #[test]
    fn exit_statuses_name_the_signal_or_code() {
        assert_eq!(
            describe_status(ExitStatus::from_raw(11)),
            "was killed by signal 11 (SIGSEGV)"
        );
        assert_eq!(
            describe_status(ExitStatus::from_raw(70 << 8)),
            "exited with code 70 (incompatible plugin ABI)"
        );
    }
}
