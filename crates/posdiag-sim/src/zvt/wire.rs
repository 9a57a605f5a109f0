//! The simulated terminal's I/O: one thread per link runs the sans-I/O core (the
//! [`SerialLink`] in the PT role for pty and serial ports, the [`ApduReader`] for TCP) and
//! the [`Terminal`] command logic, and applies line faults on the way out. Reads use short
//! timeouts so every loop sees shutdown and cable pulls within [`TICK`].

use std::io::{self, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use nix::fcntl::{FcntlArg, FdFlag, fcntl};
use std::time::{Duration, Instant};

use posdiag_core::zvt::apdu::{Apdu, ApduReader};
use posdiag_core::zvt::link::{LinkAction, LinkConfig, LinkInput, Role, SerialLink};
use posdiag_core::zvt::redact_apdu;
use posdiag_core::zvt::serial::{ACK, NAK};
use serialport::{SerialPort as _, TTYPort};
use tracing::{debug, info, warn};

use super::terminal::Terminal;
use super::{LinkStatus, Shared};
use crate::SimError;

/// Longest a loop blocks before looking at shutdown and cable state again.
pub(crate) const TICK: Duration = Duration::from_millis(20);
/// How long a write to the line may block (a client that stopped reading).
const WRITE_TIMEOUT: Duration = Duration::from_secs(2);
/// Noise written by the garbage fault: no DLE, ACK or NAK, so it never looks like protocol.
const GARBAGE: [u8; 5] = [0xA5, 0x5A, 0xFF, 0x00, 0x7E];

/// A byte stream with read timeouts.
pub(crate) trait Wire {
    /// `Ok(None)` when nothing arrived within `timeout`, `Ok(Some(0))` at end of stream.
    fn read_timeout(&mut self, buf: &mut [u8], timeout: Duration) -> io::Result<Option<usize>>;
    /// Writes everything.
    fn write_bytes(&mut self, bytes: &[u8]) -> io::Result<()>;
}

impl Wire for TcpStream {
    fn read_timeout(&mut self, buf: &mut [u8], timeout: Duration) -> io::Result<Option<usize>> {
        self.set_read_timeout(Some(timeout.max(Duration::from_millis(1))))?;
        match self.read(buf) {
            Ok(n) => Ok(Some(n)),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                Ok(None)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn write_bytes(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.write_all(bytes)
    }
}

impl Wire for TTYPort {
    fn read_timeout(&mut self, buf: &mut [u8], timeout: Duration) -> io::Result<Option<usize>> {
        self.set_timeout(timeout.max(Duration::from_millis(1)))?;
        match self.read(buf) {
            // A serial line has no end of stream: zero bytes is just nothing yet.
            Ok(0) => Ok(None),
            Ok(n) => Ok(Some(n)),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
                ) =>
            {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    fn write_bytes(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.set_timeout(WRITE_TIMEOUT)?;
        self.write_all(bytes)?;
        self.flush()
    }
}

/// Why a link loop ended.
#[derive(Debug)]
pub(crate) enum End {
    Shutdown,
    Unplugged,
    Closed,
    Failed(io::Error),
}

enum Framing {
    Raw(ApduReader),
    Serial(Box<SerialLink>),
}

impl Framing {
    fn deadline(&self) -> Option<Instant> {
        match self {
            Framing::Raw(_) => None,
            Framing::Serial(link) => link.deadline(),
        }
    }
}

/// Per-link counters for the "every Nth" faults.
#[derive(Default)]
struct Counters {
    frames_in: u64,
    frames_out: u64,
    disconnect_done: bool,
}

/// One link's loop state.
struct Conn<'a> {
    shared: &'a Arc<Shared>,
    framing: Framing,
    terminal: Terminal,
    counters: Counters,
}

/// Sleeps up to `total`, in slices, returning early on shutdown or a pulled cable.
fn pause(shared: &Shared, total: Duration) {
    let until = Instant::now() + total;
    loop {
        let now = Instant::now();
        if now >= until || shared.stopping() || !shared.plugged.load(Ordering::SeqCst) {
            return;
        }
        std::thread::sleep((until - now).min(TICK));
    }
}

/// Whether an "every Nth / next N" fault applies to event number `count`; counts `next` down.
fn fault_hits(
    shared: &Shared,
    count: u64,
    every: impl Fn(&super::ZvtState) -> u32,
    next: fn(&mut super::ZvtState) -> &mut u32,
) -> bool {
    let mut hit = false;
    shared.update(|state| {
        let n = next(state);
        if *n > 0 {
            *n -= 1;
            hit = true;
        } else {
            let every = u64::from(every(state));
            hit = every > 0 && count.is_multiple_of(every);
        }
    });
    hit
}

impl Conn<'_> {
    fn run(&mut self, wire: &mut dyn Wire) -> End {
        let mut buf = [0u8; 4096];
        loop {
            if self.shared.stopping() {
                return End::Shutdown;
            }
            if !self.shared.plugged.load(Ordering::SeqCst) {
                return End::Unplugged;
            }
            let now = Instant::now();
            let deadline = [self.framing.deadline(), self.terminal.deadline()]
                .into_iter()
                .flatten()
                .min();
            let timeout = deadline.map_or(TICK, |d| d.saturating_duration_since(now).min(TICK));
            let read = wire.read_timeout(&mut buf, timeout);
            let result = match read {
                Ok(Some(0)) => return End::Closed,
                Ok(Some(n)) => self.on_bytes(wire, &buf[..n]),
                Ok(None) => Ok(()),
                Err(e) => return End::Failed(e),
            };
            if let Err(e) = result.and_then(|()| self.on_tick(wire)) {
                return End::Failed(e);
            }
            if self.check_disconnect() {
                return End::Unplugged;
            }
        }
    }

    /// Pulls the cable after the configured number of commands (once per link).
    fn check_disconnect(&mut self) -> bool {
        let (after, reconnect_ms) = self.shared.with_state(|s| {
            (
                s.faults.disconnect_after_commands,
                s.faults.reconnect_after_ms,
            )
        });
        if after == 0 || self.counters.disconnect_done || self.terminal.commands < u64::from(after)
        {
            return false;
        }
        self.counters.disconnect_done = true;
        info!(
            commands = self.terminal.commands,
            "fault: pulling the cable"
        );
        self.shared.plugged.store(false, Ordering::SeqCst);
        if reconnect_ms > 0 {
            let shared = Arc::clone(self.shared);
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(reconnect_ms));
                if !shared.stopping() {
                    info!("fault: plugging the cable back in");
                    shared.plugged.store(true, Ordering::SeqCst);
                }
            });
        }
        true
    }

    fn on_tick(&mut self, wire: &mut dyn Wire) -> io::Result<()> {
        let now = Instant::now();
        let state = self.shared.state();
        let out = self.terminal.on_tick(&state, now);
        for apdu in out {
            self.send(wire, &apdu)?;
        }
        if let Framing::Serial(link) = &mut self.framing {
            let actions = link.step(LinkInput::Tick, now);
            self.perform(wire, actions)?;
        }
        Ok(())
    }

    fn on_bytes(&mut self, wire: &mut dyn Wire, bytes: &[u8]) -> io::Result<()> {
        let now = Instant::now();
        match &mut self.framing {
            Framing::Raw(reader) => reader.feed(bytes),
            Framing::Serial(link) => {
                let actions = link.step(LinkInput::Received(bytes), now);
                return self.perform(wire, actions);
            }
        }
        self.drain_raw(wire)
    }

    /// Delivers the remaining complete APDUs of the TCP reader.
    fn drain_raw(&mut self, wire: &mut dyn Wire) -> io::Result<()> {
        loop {
            let Framing::Raw(reader) = &mut self.framing else {
                return Ok(());
            };
            match reader.next_apdu() {
                Ok(Some(apdu)) => self.deliver(wire, &apdu)?,
                Ok(None) => return Ok(()),
                Err(error) => {
                    warn!(%error, "undecodable apdu stream");
                    return Err(io::Error::new(io::ErrorKind::InvalidData, error));
                }
            }
        }
    }

    fn deliver(&mut self, wire: &mut dyn Wire, apdu: &Apdu) -> io::Result<()> {
        debug!(apdu = %hex(&redact_apdu(&apdu.encode())), "ecr -> pt");
        let state = self.shared.state();
        let before = self.terminal.commands;
        let out = self.terminal.on_apdu(apdu, &state, Instant::now());
        self.shared.add_commands(self.terminal.commands - before);
        for apdu in out {
            self.send(wire, &apdu)?;
        }
        Ok(())
    }

    fn send(&mut self, wire: &mut dyn Wire, apdu: &Apdu) -> io::Result<()> {
        debug!(apdu = %hex(&redact_apdu(&apdu.encode())), "pt -> ecr");
        match &mut self.framing {
            Framing::Raw(_) => {
                let delay = self.shared.with_state(|s| s.faults.byte_delay_ms);
                if delay > 0 {
                    pause(self.shared, Duration::from_millis(delay));
                }
                wire.write_bytes(&apdu.encode())
            }
            Framing::Serial(link) => {
                let actions = link.step(LinkInput::Send(apdu), Instant::now());
                self.perform(wire, actions)
            }
        }
    }

    /// Performs serial link actions, applying receive-side and line faults.
    fn perform(&mut self, wire: &mut dyn Wire, actions: Vec<LinkAction>) -> io::Result<()> {
        let mut actions = std::collections::VecDeque::from(actions);
        while let Some(action) = actions.pop_front() {
            match action {
                LinkAction::Write(bytes) if bytes == [ACK] => {
                    // A good frame: the NAK fault answers it with NAK and drops it, so the
                    // peer retransmits.
                    if matches!(actions.front(), Some(LinkAction::Deliver(_))) {
                        self.counters.frames_in += 1;
                        let nak = fault_hits(
                            self.shared,
                            self.counters.frames_in,
                            |s| s.faults.nak_every,
                            |s| &mut s.faults.nak_next,
                        );
                        if nak {
                            info!(
                                frame = self.counters.frames_in,
                                "fault: nak for a good frame"
                            );
                            self.shared.bump_faults();
                            actions.pop_front();
                            wire.write_bytes(&[NAK])?;
                            continue;
                        }
                    }
                    wire.write_bytes(&bytes)?;
                }
                LinkAction::Write(bytes) if bytes.len() > 1 => self.write_frame(wire, bytes)?,
                LinkAction::Write(bytes) => wire.write_bytes(&bytes)?,
                LinkAction::Deliver(apdu) => {
                    let state = self.shared.state();
                    debug!(apdu = %hex(&redact_apdu(&apdu.encode())), "ecr -> pt");
                    let before = self.terminal.commands;
                    let out = self.terminal.on_apdu(&apdu, &state, Instant::now());
                    self.shared.add_commands(self.terminal.commands - before);
                    if let Framing::Serial(link) = &mut self.framing {
                        for reply in out {
                            debug!(apdu = %hex(&redact_apdu(&reply.encode())), "pt -> ecr");
                            actions.extend(link.step(LinkInput::Send(&reply), Instant::now()));
                        }
                    }
                }
                LinkAction::Sent(_) => {}
                LinkAction::LineError(error) => debug!(%error, "line error"),
                LinkAction::Failed(failure) => warn!(%failure, "send failed"),
            }
        }
        if let Framing::Serial(link) = &self.framing {
            self.shared.set_link_stats(link.stats());
        }
        Ok(())
    }

    /// Writes a frame with the configured line faults.
    fn write_frame(&mut self, wire: &mut dyn Wire, mut frame: Vec<u8>) -> io::Result<()> {
        self.counters.frames_out += 1;
        let n = self.counters.frames_out;
        let corrupt = fault_hits(
            self.shared,
            n,
            |s| s.faults.corrupt_crc_every,
            |s| &mut s.faults.corrupt_crc_next,
        );
        let faults = self.shared.with_state(|s| s.faults.clone());
        if corrupt {
            info!(frame = n, "fault: corrupting the crc");
            self.shared.bump_faults();
            if let Some(last) = frame.last_mut() {
                *last ^= 0xFF;
            }
        }
        if faults.drop_byte_every > 0 && n.is_multiple_of(u64::from(faults.drop_byte_every)) {
            info!(frame = n, "fault: dropping a byte");
            self.shared.bump_faults();
            frame.remove(frame.len() / 2);
        }
        if faults.garbage_bytes > 0 {
            let noise: Vec<u8> = GARBAGE
                .iter()
                .copied()
                .cycle()
                .take(faults.garbage_bytes)
                .collect();
            wire.write_bytes(&noise)?;
        }
        let stall = faults.stall_every > 0 && n.is_multiple_of(u64::from(faults.stall_every));
        if stall {
            info!(
                frame = n,
                stall_ms = faults.stall_ms,
                "fault: stalling mid-frame"
            );
            self.shared.bump_faults();
            let (head, tail) = frame.split_at(frame.len() / 2);
            wire.write_bytes(head)?;
            pause(self.shared, Duration::from_millis(faults.stall_ms));
            return wire.write_bytes(tail);
        }
        if faults.byte_delay_ms > 0 {
            for b in frame {
                wire.write_bytes(&[b])?;
                pause(self.shared, Duration::from_millis(faults.byte_delay_ms));
            }
            return Ok(());
        }
        wire.write_bytes(&frame)
    }
}

fn hex(bytes: &[u8]) -> String {
    posdiag_core::zvt::bmp::bytes_to_hex(bytes)
}

/// Runs one link until it ends.
pub(crate) fn run_link(shared: &Arc<Shared>, wire: &mut dyn Wire, serial: bool) -> End {
    let framing = if serial {
        Framing::Serial(Box::new(SerialLink::new(LinkConfig::new(Role::Pt))))
    } else {
        Framing::Raw(ApduReader::default())
    };
    let mut conn = Conn {
        shared,
        framing,
        terminal: Terminal::new(),
        counters: Counters::default(),
    };
    conn.run(wire)
}

/// The TCP accept loop; each connection runs on its own thread.
pub(crate) fn tcp_accept_loop(shared: Arc<Shared>, listener: TcpListener) {
    while !shared.stopping() {
        match listener.accept() {
            Ok((stream, peer)) => {
                if !shared.plugged.load(Ordering::SeqCst) {
                    // Cable pulled: the connection is closed at once.
                    drop(stream);
                    continue;
                }
                info!(%peer, "ecr connected");
                let shared2 = Arc::clone(&shared);
                let handle = std::thread::Builder::new()
                    .name("zvt-sim-conn".to_owned())
                    .spawn(move || tcp_connection(&shared2, stream));
                match handle {
                    Ok(handle) => shared.track(handle),
                    Err(error) => warn!(%error, "cannot start a connection thread"),
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => std::thread::sleep(TICK),
            Err(error) => {
                warn!(%error, "accept failed");
                std::thread::sleep(TICK);
            }
        }
    }
}

fn tcp_connection(shared: &Arc<Shared>, mut stream: TcpStream) {
    shared.connection_opened();
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_nodelay(true);
    let end = run_link(shared, &mut stream, false);
    debug!(?end, "tcp connection ends");
    let _ = stream.shutdown(std::net::Shutdown::Both);
    drop(stream);
    shared.connection_closed();
}

/// A serial device the simulator serves: a pty it created, or a real port.
#[derive(Debug, Clone)]
pub(crate) enum PortSpec {
    Pty { link: Option<PathBuf> },
    Serial { path: PathBuf, baud: u32 },
}

/// An open port: the end the simulator uses, and for a pty the slave it keeps open so the
/// master does not see hang-ups while no client has the device open.
pub(crate) struct OpenPort {
    pub(crate) port: TTYPort,
    _slave: Option<TTYPort>,
    pub(crate) path: PathBuf,
}

impl PortSpec {
    pub(crate) fn open(&self) -> Result<OpenPort, SimError> {
        match self {
            PortSpec::Pty { link } => {
                let (master, slave) = TTYPort::pair().map_err(|e| SimError::Io {
                    context: "creating a pseudo-terminal",
                    source: e.into(),
                })?;
                // Not inherited by processes spawned later (a test's daemon): a
                // copy of the master in a child would keep the pty alive after
                // the "cable" is pulled.
                for fd in [master.as_raw_fd(), slave.as_raw_fd()] {
                    let _ = fcntl(fd, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC));
                }
                let path = PathBuf::from(slave.name().unwrap_or_default());
                if let Some(link) = link {
                    point_link(link, &path)?;
                }
                Ok(OpenPort {
                    port: master,
                    _slave: Some(slave),
                    path,
                })
            }
            PortSpec::Serial { path, baud } => {
                let port = serialport::new(path.to_string_lossy(), *baud)
                    .data_bits(serialport::DataBits::Eight)
                    .parity(serialport::Parity::None)
                    .stop_bits(serialport::StopBits::Two)
                    .flow_control(serialport::FlowControl::None)
                    .timeout(TICK)
                    .open_native()
                    .map_err(|e| SimError::Io {
                        context: "opening the serial port",
                        source: e.into(),
                    })?;
                Ok(OpenPort {
                    port,
                    _slave: None,
                    path: path.clone(),
                })
            }
        }
    }

    fn link(&self) -> Option<&Path> {
        match self {
            PortSpec::Pty { link } => link.as_deref(),
            PortSpec::Serial { .. } => None,
        }
    }
}

/// Points the symlink `link` at `target`, replacing an older link atomically.
pub(crate) fn point_link(link: &Path, target: &Path) -> Result<(), SimError> {
    if let Ok(meta) = std::fs::symlink_metadata(link)
        && !meta.file_type().is_symlink()
    {
        return Err(SimError::InvalidConfig(format!(
            "--pty-link {} exists and is not a symlink; remove it or choose another path",
            link.display()
        )));
    }
    let mut tmp = link.as_os_str().to_owned();
    tmp.push(format!(".tmp-{}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    let _ = std::fs::remove_file(&tmp);
    let io = |context| move |source| SimError::Io { context, source };
    std::os::unix::fs::symlink(target, &tmp).map_err(io("creating the pty link"))?;
    std::fs::rename(&tmp, link).map_err(io("moving the pty link into place"))
}

/// The pty or serial loop: serves the port while plugged; on a pull closes it (and removes
/// the link), on a replug opens a new one (and re-points the link).
pub(crate) fn port_loop(shared: Arc<Shared>, spec: PortSpec, first: OpenPort) {
    let mut open = Some(first);
    while !shared.stopping() {
        let Some(port) = open.as_mut() else {
            if !shared.plugged.load(Ordering::SeqCst) {
                std::thread::sleep(TICK);
                continue;
            }
            match spec.open() {
                Ok(port) => {
                    info!(path = %port.path.display(), "cable plugged in");
                    shared.set_link(LinkStatus::Up(port.path.clone()));
                    open = Some(port);
                }
                Err(error) => {
                    warn!(%error, "cannot open the port again; retrying");
                    std::thread::sleep(Duration::from_millis(200));
                }
            }
            continue;
        };
        match run_link(&shared, &mut port.port, true) {
            End::Shutdown => break,
            End::Unplugged => {
                info!(path = %port.path.display(), "cable pulled");
                open = None;
                if let Some(link) = spec.link() {
                    let _ = std::fs::remove_file(link);
                }
                shared.set_link(LinkStatus::Down);
            }
            End::Closed => {}
            End::Failed(error) => {
                // A real port that vanished: close it and open it again once it is back.
                warn!(%error, "port error");
                if matches!(spec, PortSpec::Serial { .. }) {
                    open = None;
                    shared.set_link(LinkStatus::Down);
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
    drop(open);
    if let Some(link) = spec.link() {
        let _ = std::fs::remove_file(link);
    }
    shared.set_link(LinkStatus::Down);
}
