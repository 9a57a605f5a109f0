//! A simulated ZVT payment terminal (the PT side) over TCP (raw APDUs), a pseudo-terminal
//! or a real serial port (DLE/STX framing with CRC, ACK/NAK), with a scenario that sets what
//! the terminal reports and which faults it injects, changeable while it runs.
//!
//! It runs the same sans-I/O code as posdiag's ECR side ([`posdiag_core::zvt`]: packets,
//! framing, the serial link session in the PT role), with the command logic in
//! `terminal.rs` and the threads doing I/O in `wire.rs`. [`start`] returns once the socket
//! is bound or the pty exists; [`RunningZvt::unplug`] and [`RunningZvt::replug`] pull and
//! plug the "cable" (a pty disappears, its link with it, and comes back under a new name);
//! dropping the handle stops everything within a few tens of milliseconds.

mod scenario;
mod terminal;
mod wire;

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use posdiag_core::zvt::link::LinkStats;

pub use scenario::{
    Card, Faults, Host, Identity, Maintenance, Reader, Receipt, Results, Silence, ZvtState,
};

use crate::SimError;
use wire::PortSpec;

/// The usual ZVT TCP port (tests bind port 0 instead).
pub const DEFAULT_TCP_PORT: u16 = 20007;
/// Baud rate of `--serial` unless given (ecrterm: 9600 8N2).
pub const DEFAULT_BAUD: u32 = 9600;
/// How long `unplug`/`replug` wait for the link threads to act.
const CABLE_TIMEOUT: Duration = Duration::from_secs(5);

/// Where the simulated terminal listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ZvtTransport {
    /// TCP, raw APDUs back to back.
    Tcp {
        /// Address to bind (port 0 picks a free one).
        bind: SocketAddr,
    },
    /// A new pseudo-terminal with DLE/STX framing; clients open its slave like a serial port.
    Pty {
        /// A symlink kept pointing at the current slave (like socat's `link=`).
        link: Option<PathBuf>,
    },
    /// A real serial port (8N2) with DLE/STX framing.
    Serial {
        /// The device, e.g. `/dev/ttyUSB0`.
        path: PathBuf,
        /// Baud rate.
        baud: u32,
    },
}

impl Default for ZvtTransport {
    fn default() -> Self {
        ZvtTransport::Tcp {
            bind: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
        }
    }
}

impl std::fmt::Display for ZvtTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ZvtTransport::Tcp { bind } => write!(f, "tcp {bind}"),
            ZvtTransport::Pty { link: None } => f.write_str("pty"),
            ZvtTransport::Pty { link: Some(l) } => write!(f, "pty (link {})", l.display()),
            ZvtTransport::Serial { path, baud } => {
                write!(f, "serial {} at {baud} baud", path.display())
            }
        }
    }
}

/// What to start.
#[derive(Debug, Clone, Default)]
pub struct ZvtSimConfig {
    /// Where to listen.
    pub transport: ZvtTransport,
    /// What the terminal is and does.
    pub state: ZvtState,
}

/// Counters of a running simulator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ZvtStats {
    /// TCP connections accepted.
    pub connections: u64,
    /// Commands received (all links).
    pub commands: u64,
    /// Faults applied (NAKs, corrupted CRCs, dropped bytes, stalls).
    pub faults_applied: u64,
    /// The serial link session's counters of the current (or last) link.
    pub link: LinkStats,
}

/// Whether the port side of the cable is there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LinkStatus {
    /// Serving this device (the pty slave or serial port); TCP is always "up" at its address.
    Up(PathBuf),
    /// Unplugged.
    Down,
}

/// State shared by the handle and the threads.
#[derive(Debug)]
pub(crate) struct Shared {
    state: Mutex<ZvtState>,
    stop: AtomicBool,
    pub(crate) plugged: AtomicBool,
    link: Mutex<(LinkStatus, usize)>,
    link_changed: Condvar,
    stats: Mutex<ZvtStats>,
    commands_seen: AtomicU64,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking thread must not take the simulator down with it.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    pub(crate) fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
    pub(crate) fn state(&self) -> ZvtState {
        lock(&self.state).clone()
    }
    pub(crate) fn with_state<R>(&self, f: impl FnOnce(&ZvtState) -> R) -> R {
        f(&lock(&self.state))
    }
    pub(crate) fn update(&self, f: impl FnOnce(&mut ZvtState)) {
        f(&mut lock(&self.state));
    }
    pub(crate) fn add_commands(&self, n: u64) {
        self.commands_seen.fetch_add(n, Ordering::SeqCst);
    }
    pub(crate) fn bump_faults(&self) {
        lock(&self.stats).faults_applied += 1;
    }
    pub(crate) fn set_link_stats(&self, stats: LinkStats) {
        lock(&self.stats).link = stats;
    }
    pub(crate) fn set_link(&self, status: LinkStatus) {
        lock(&self.link).0 = status;
        self.link_changed.notify_all();
    }
    pub(crate) fn connection_opened(&self) {
        lock(&self.link).1 += 1;
        lock(&self.stats).connections += 1;
        self.link_changed.notify_all();
    }
    pub(crate) fn connection_closed(&self) {
        let mut link = lock(&self.link);
        link.1 = link.1.saturating_sub(1);
        drop(link);
        self.link_changed.notify_all();
    }
    pub(crate) fn track(&self, handle: JoinHandle<()>) {
        let mut threads = lock(&self.threads);
        threads.retain(|h| !h.is_finished());
        threads.push(handle);
    }

    /// Waits until `done` holds for (link status, open TCP connections), or the timeout.
    fn wait_link(&self, done: impl Fn(&LinkStatus, usize) -> bool) -> bool {
        let deadline = Instant::now() + CABLE_TIMEOUT;
        let mut link = lock(&self.link);
        loop {
            if done(&link.0, link.1) {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            link = self
                .link_changed
                .wait_timeout(link, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

/// A running simulated terminal. Dropping it stops it.
#[derive(Debug)]
pub struct RunningZvt {
    shared: Arc<Shared>,
    transport: ZvtTransport,
    local_addr: Option<SocketAddr>,
}

impl RunningZvt {
    /// The bound TCP address (TCP transport only).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.local_addr
    }

    /// The device clients open now: the pty slave (e.g. `/dev/pts/7`) or the serial port;
    /// `None` while unplugged or for TCP.
    pub fn device_path(&self) -> Option<PathBuf> {
        match &lock(&self.shared.link).0 {
            LinkStatus::Up(path) if !path.as_os_str().is_empty() => Some(path.clone()),
            _ => None,
        }
    }

    /// The `--pty-link` symlink, if one is maintained.
    pub fn link_path(&self) -> Option<&Path> {
        match &self.transport {
            ZvtTransport::Pty { link } => link.as_deref(),
            _ => None,
        }
    }

    /// The transport it was started with.
    pub fn transport(&self) -> &ZvtTransport {
        &self.transport
    }

    /// A copy of the current state.
    pub fn state(&self) -> ZvtState {
        self.shared.state()
    }

    /// Changes the state; the next command (and the next frame, for faults) sees it.
    pub fn update(&self, f: impl FnOnce(&mut ZvtState)) {
        self.shared.update(f);
    }

    /// Counters so far.
    pub fn stats(&self) -> ZvtStats {
        ZvtStats {
            commands: self.shared.commands_seen.load(Ordering::SeqCst),
            ..*lock(&self.shared.stats)
        }
    }

    /// Whether the cable is plugged in.
    pub fn is_plugged(&self) -> bool {
        self.shared.plugged.load(Ordering::SeqCst)
    }

    /// Pulls the cable: a pty's master is closed (clients see a hang-up) and its link removed;
    /// TCP connections are closed and new ones closed at once. Returns when that is done.
    pub fn unplug(&self) -> Result<(), SimError> {
        self.shared.plugged.store(false, Ordering::SeqCst);
        let tcp = matches!(self.transport, ZvtTransport::Tcp { .. });
        let done = self.shared.wait_link(|status, connections| {
            if tcp {
                connections == 0
            } else {
                *status == LinkStatus::Down
            }
        });
        if done {
            Ok(())
        } else {
            Err(SimError::InvalidConfig(
                "the simulator did not release the link in time".to_owned(),
            ))
        }
    }

    /// Plugs the cable back in: a new pty (usually under a new name, the link re-pointed) or
    /// the serial port reopened. Returns the device path once clients can open it.
    pub fn replug(&self) -> Result<Option<PathBuf>, SimError> {
        self.shared.plugged.store(true, Ordering::SeqCst);
        if matches!(self.transport, ZvtTransport::Tcp { .. }) {
            return Ok(None);
        }
        if self
            .shared
            .wait_link(|status, _| matches!(status, LinkStatus::Up(_)))
        {
            Ok(self.device_path())
        } else {
            Err(SimError::InvalidConfig(
                "the simulator could not open the port again in time".to_owned(),
            ))
        }
    }

    fn stop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        let threads = std::mem::take(&mut *lock(&self.shared.threads));
        for handle in threads {
            let _ = handle.join();
        }
        // Connection threads started while joining.
        let threads = std::mem::take(&mut *lock(&self.shared.threads));
        for handle in threads {
            let _ = handle.join();
        }
    }

    /// Stops the simulator and waits for its threads (at most a few tens of milliseconds).
    pub fn shutdown(mut self) {
        self.stop();
    }
}

impl Drop for RunningZvt {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Starts a simulated terminal; returns once clients can connect or open the device.
pub fn start(config: ZvtSimConfig) -> Result<RunningZvt, SimError> {
    let shared = Arc::new(Shared {
        state: Mutex::new(config.state),
        stop: AtomicBool::new(false),
        plugged: AtomicBool::new(true),
        link: Mutex::new((LinkStatus::Down, 0)),
        link_changed: Condvar::new(),
        stats: Mutex::new(ZvtStats::default()),
        commands_seen: AtomicU64::new(0),
        threads: Mutex::new(Vec::new()),
    });
    let spawn_error = |source| SimError::Io {
        context: "starting a simulator thread",
        source,
    };
    let mut local_addr = None;
    let handle = match &config.transport {
        ZvtTransport::Tcp { bind } => {
            let listener = TcpListener::bind(bind).map_err(|source| SimError::Bind {
                proto: "tcp",
                addr: *bind,
                source,
            })?;
            let io = |context| move |source| SimError::Io { context, source };
            local_addr = Some(
                listener
                    .local_addr()
                    .map_err(io("reading the bound address"))?,
            );
            listener
                .set_nonblocking(true)
                .map_err(io("making the listener non-blocking"))?;
            shared.set_link(LinkStatus::Up(PathBuf::new()));
            let shared2 = Arc::clone(&shared);
            std::thread::Builder::new()
                .name("zvt-sim-accept".to_owned())
                .spawn(move || wire::tcp_accept_loop(shared2, listener))
                .map_err(spawn_error)?
        }
        ZvtTransport::Pty { link } => {
            let spec = PortSpec::Pty { link: link.clone() };
            spawn_port(&shared, spec)?
        }
        ZvtTransport::Serial { path, baud } => {
            let spec = PortSpec::Serial {
                path: path.clone(),
                baud: *baud,
            };
            spawn_port(&shared, spec)?
        }
    };
    shared.track(handle);
    Ok(RunningZvt {
        shared,
        transport: config.transport,
        local_addr,
    })
}

/// Opens the port here, so `start` fails (and returns) only once it exists, then serves it
/// on a thread.
fn spawn_port(shared: &Arc<Shared>, spec: PortSpec) -> Result<JoinHandle<()>, SimError> {
    let port = spec.open()?;
    shared.set_link(LinkStatus::Up(port.path.clone()));
    let shared2 = Arc::clone(shared);
    std::thread::Builder::new()
        .name("zvt-sim-port".to_owned())
        .spawn(move || wire::port_loop(shared2, spec, port))
        .map_err(|source| SimError::Io {
            context: "starting a simulator thread",
            source,
        })
}
