//! The daemon's side: [`PluginHandle`] supervises one `posdiag-plugin-host`
//! process and turns everything a vendor plugin can do wrong into a
//! [`PluginFault`] before the caller's deadline (plus a small grace).
//!
//! # How the daemon uses it
//! ```text
//! let config = SupervisorConfig::new(locate_host_binary()?);
//! let plugin = PluginHandle::start(PluginSpec { id, library, init_request }, config);
//! let ready = plugin.ready().await?;                 // descriptor (decoded), version, ABI
//! let result = plugin.run_check(request, Some(link_tx), events_tx, deadline).await;
//! match result { Ok(check_result) => …, Err(fault) => finding with fault.reason_code() }
//! ```
//!
//! # Processes
//! One task per [`PluginHandle`] owns the host process and its socket;
//! handles send it commands on a bounded channel and wait on oneshot replies,
//! so no lock guards the connection. The host is spawned with:
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
//!
//! # Modules, by job
//! - this one: the public types and [`PluginHandle`], the callers' side;
//! - `lifecycle`: the task that owns the process: restart with back-off,
//!   quarantine, pings while idle;
//! - `handshake`: Hello, Configure, Ready (the descriptor decoded once);
//! - `call`: one check, the per-call multiplexer (log, events, link I/O);
//! - `process`: spawn, kill and reap (the crate's only `unsafe`).

mod call;
#[cfg(test)]
mod fake;
mod handshake;
mod lifecycle;
mod process;

use std::collections::VecDeque;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use posdiag_plugin_api::abi::{
    POSDIAG_E_FAILED, POSDIAG_E_LINK_LOST, POSDIAG_E_NO_LINK, POSDIAG_E_TIMEOUT,
};
use posdiag_plugin_api::pb;
use posdiag_plugin_host::frame::DEFAULT_MAX_FRAME_BYTES;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::{Instant, timeout_at};

use lifecycle::Supervisor;

/// How long after the deadline a caller waits for the supervisor's own
/// verdict (it kills at the deadline) before giving up on its own.
const REPLY_GRACE: Duration = Duration::from_millis(250);

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

/// Finds `posdiag-plugin-host` for the running executable: next to it (a
/// build tree, `cargo install`), else in `../libexec/posdiag/` (the Debian
/// package: `/usr/bin/posdiagd` and `/usr/libexec/posdiag/posdiag-plugin-host`).
/// The daemon's configuration may name another path instead; this is the
/// default.
pub fn locate_host_binary() -> io::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let dir = exe
        .parent()
        .ok_or_else(|| io::Error::other("executable has no directory"))?;
    let candidates = host_binary_candidates(dir);
    if let Some(found) = candidates.iter().find(|p| p.is_file()) {
        return Ok(found.clone());
    }
    Err(io::Error::new(
        io::ErrorKind::NotFound,
        format!(
            "{} not found (nor {}); install it next to {} or configure its path",
            candidates[0].display(),
            candidates[1].display(),
            exe.display()
        ),
    ))
}

/// Where [`locate_host_binary`] looks, in order, for an executable in `bin_dir`.
pub fn host_binary_candidates(bin_dir: &Path) -> [PathBuf; 2] {
    let prefix = bin_dir.parent().unwrap_or(bin_dir);
    [
        bin_dir.join(HOST_BINARY_NAME),
        prefix.join("libexec/posdiag").join(HOST_BINARY_NAME),
    ]
}

/// The plugin bundles installed with the running executable, if that
/// directory exists: `../lib/posdiag/plugins` from the executable's directory
/// (`/usr/lib/posdiag/plugins` for `/usr/bin/posdiagd`, the Debian package's
/// reference plugins). The daemon loads them when `[plugins] dir` is not set.
pub fn installed_bundle_dir() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let dir = exe.parent()?.parent()?.join("lib/posdiag/plugins");
    dir.is_dir().then_some(dir)
}
/// One plugin to run, from its bundle.
#[derive(Debug, Clone)]
pub struct PluginSpec {
    /// The manifest's plugin id; the library must report the same one.
    pub id: String,
    /// The plugin's shared library.
    pub library: PathBuf,
    /// What the plugin's `init()` gets.
    pub init_request: pb::InitRequest,
}

/// A host that has loaded its plugin and is serving checks.
#[derive(Debug, Clone, PartialEq)]
pub struct Ready {
    /// The id the library reports.
    pub plugin_id: String,
    /// The version the library reports.
    pub plugin_version: String,
    /// The ABI the library was built against.
    pub abi_major: u32,
    /// See [`Ready::abi_major`].
    pub abi_minor: u32,
    /// The plugin's descriptor, decoded once at the handshake.
    pub descriptor: pb::Descriptor,
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

/// What a [`PluginHandle`] asks of the supervising task.
enum Command {
    Run(Box<RunCall>),
    Shutdown(oneshot::Sender<()>),
}

struct RunCall {
    request: pb::CheckRequest,
    transport: Option<mpsc::Sender<TransportRequest>>,
    events: mpsc::Sender<pb::Event>,
    deadline: Instant,
    reply: oneshot::Sender<Result<pb::CheckResult, PluginFault>>,
}

/// A handle on one supervised plugin; cheap to clone. The host process is
/// shut down when the last handle is dropped (or on [`PluginHandle::shutdown`]).
#[derive(Debug, Clone)]
pub struct PluginHandle {
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

impl PluginHandle {
    /// Starts supervising: spawns the host and handshakes in the background.
    /// Must be called inside a tokio runtime (it spawns a task).
    pub fn start(spec: PluginSpec, config: SupervisorConfig) -> PluginHandle {
        PluginHandle::start_with(spec, config, Box::new(process::PluginProcess::spawn))
    }

    /// [`PluginHandle::start`] with another way to start a process.
    fn start_with(
        spec: PluginSpec,
        config: SupervisorConfig,
        spawn: process::Spawn,
    ) -> PluginHandle {
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
            spawn,
            commands: rx,
            status: status_tx,
            deaths: VecDeque::new(),
            consecutive: 0,
            next_call: 0,
            next_nonce: 0,
        };
        tokio::spawn(sup.run());
        PluginHandle {
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

    /// Runs one check. The answer is the plugin's `CheckResult`, decoded
    /// (so validated) by the supervisor. The plugin's link I/O arrives on
    /// `transport` (`None`: the plugin sees `NO_LINK`); its progress events on
    /// `events`, dropped if that channel is full (or if they do not decode).
    /// Fails by `deadline` plus a small grace, whatever the plugin does.
    pub async fn run_check(
        &self,
        request: pb::CheckRequest,
        transport: Option<mpsc::Sender<TransportRequest>>,
        events: mpsc::Sender<pb::Event>,
        deadline: Instant,
    ) -> Result<pb::CheckResult, PluginFault> {
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
        let cmd = Command::Run(Box::new(RunCall {
            request,
            transport,
            events,
            deadline,
            reply,
        }));
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
