//! Serial links: a dedicated std thread owns each port, the async side talks
//! to it through channels and waits no longer than its deadline.
//!
//! Why a thread: serialport's I/O is blocking, and some drivers block in
//! `read`/`write`/`close` well past any timeout (a known serialport issue with
//! wedged USB adapters). If that happens inside the runtime it stalls every
//! terminal; here it stalls one thread. When the thread does not answer
//! within [`STUCK_GRACE`] after an operation's deadline, the link is marked
//! stuck and every later call fails fast; dropping it never waits for the
//! thread.

use std::io::{self, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::mpsc as std_mpsc;
use std::time::Duration;

use serialport::{ClearBuffer, SerialPort as _, TTYPort};
use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::discovery::{Occupancy, occupancy_in};
use crate::error::LinkError;
use crate::settings::{AppliedSettings, FlowControl, SerialSettings};

/// How long past an operation's deadline the worker may take to report back
/// before the link is declared stuck. Generous: a healthy worker answers
/// within one [`SLICE`] of the deadline.
pub(crate) const STUCK_GRACE: Duration = Duration::from_secs(2);

/// The worker never blocks in the driver longer than this at a time, so it
/// notices promptly when the link was dropped and releases the port.
const SLICE: Duration = Duration::from_millis(100);

/// What the worker thread needs from a port; a trait so tests can stand in a
/// port that wedges.
pub(crate) trait PortIo: Send + 'static {
    fn read_timeout(&mut self, buf: &mut [u8], timeout: Duration) -> io::Result<usize>;
    fn write_timeout(&mut self, buf: &[u8], timeout: Duration) -> io::Result<usize>;
    fn clear_input(&mut self) -> io::Result<()>;
    fn applied(&mut self) -> io::Result<AppliedSettings>;
}

impl PortIo for TTYPort {
    fn read_timeout(&mut self, buf: &mut [u8], timeout: Duration) -> io::Result<usize> {
        self.set_timeout(timeout)?;
        self.read(buf)
    }

    fn write_timeout(&mut self, buf: &[u8], timeout: Duration) -> io::Result<usize> {
        self.set_timeout(timeout)?;
        self.write(buf)
    }

    fn clear_input(&mut self) -> io::Result<()> {
        Ok(self.clear(ClearBuffer::Input)?)
    }

    fn applied(&mut self) -> io::Result<AppliedSettings> {
        Ok(AppliedSettings {
            baud_rate: self.baud_rate()?,
            data_bits: self.data_bits()?.into(),
            parity: self.parity()?.into(),
            stop_bits: self.stop_bits()?.into(),
            flow_control: self.flow_control()?.into(),
        })
    }
}

/// An I/O failure as the worker reports it; the async side turns it into a
/// [`LinkError`] naming the port.
#[derive(Debug)]
pub(crate) enum PortFailure {
    Timeout,
    Lost(String),
    Io(io::Error),
}

type Reply<T> = oneshot::Sender<Result<T, PortFailure>>;
type Answer<T> = oneshot::Receiver<Result<T, PortFailure>>;

enum Command {
    Read {
        max: usize,
        timeout: Duration,
        reply: Reply<Vec<u8>>,
    },
    Write {
        bytes: Vec<u8>,
        timeout: Duration,
        reply: Reply<()>,
    },
    DiscardInput {
        reply: Reply<()>,
    },
    Applied {
        reply: Reply<AppliedSettings>,
    },
    Close {
        reply: oneshot::Sender<()>,
    },
}

/// The answer to a command that is still on its way.
enum Pending {
    Read(Answer<Vec<u8>>),
    Write(Answer<()>),
    Unit(Answer<()>),
    Applied(Answer<AppliedSettings>),
}

struct InFlight {
    pending: Pending,
    /// The deadline the worker was given; past it plus [`STUCK_GRACE`]
    /// without an answer, the worker is wedged.
    deadline: Instant,
}

/// The async half of a serial link.
pub(crate) struct SerialLink {
    path: PathBuf,
    settings: SerialSettings,
    commands: Option<std_mpsc::Sender<Command>>,
    in_flight: Option<InFlight>,
    /// Bytes the worker read after their caller had given up; the next read
    /// returns them first, so a late answer is never lost.
    early: Vec<u8>,
    stuck: bool,
    grace: Duration,
}

impl std::fmt::Debug for SerialLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SerialLink")
            .field("path", &self.path)
            .field("settings", &self.settings)
            .field("stuck", &self.stuck)
            .finish_non_exhaustive()
    }
}

/// What a completed in-flight command left behind for the next one.
enum Settled {
    Nothing,
    Received(Vec<u8>),
}

impl SerialLink {
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn settings(&self) -> &SerialSettings {
        &self.settings
    }

    fn name(&self) -> String {
        self.path.display().to_string()
    }

    /// Opens `path` on a fresh worker thread.
    pub(crate) async fn open(
        path: &Path,
        settings: &SerialSettings,
        deadline: Instant,
    ) -> Result<SerialLink, LinkError> {
        let name = path.display().to_string();
        if settings.baud_rate == 0 {
            return Err(LinkError::InvalidSettings {
                link: name,
                detail: "baud rate 0".into(),
            });
        }
        let (opened_tx, opened_rx) = oneshot::channel();
        let (commands, inbox) = std_mpsc::channel();
        let thread_path = path.to_path_buf();
        let thread_settings = settings.clone();
        std::thread::Builder::new()
            .name(format!("serial {name}"))
            .spawn(move || {
                let port = match open_port(&thread_path, &thread_settings) {
                    Ok(port) => port,
                    Err(e) => {
                        // Classified here: it reads /proc and /etc/group,
                        // which is blocking work the runtime should not do.
                        let _ = opened_tx.send(Err(open_error(&thread_path, e)));
                        return;
                    }
                };
                // If the opener gave up meanwhile, dropping the port here
                // releases it (and its exclusive lock) at once.
                if opened_tx.send(Ok(())).is_ok() {
                    worker(port, inbox);
                }
            })
            .map_err(|source| LinkError::Io {
                link: name.clone(),
                op: "starting the thread for",
                source,
            })?;
        match tokio::time::timeout_at(deadline, opened_rx).await {
            Err(_) => Err(LinkError::Timeout {
                link: name,
                op: "opening",
            }),
            Ok(Err(_)) => Err(LinkError::Io {
                link: name,
                op: "opening",
                source: io::Error::other("the port's thread ended without answering"),
            }),
            Ok(Ok(Err(e))) => Err(e),
            Ok(Ok(Ok(()))) => Ok(SerialLink {
                path: path.to_path_buf(),
                settings: settings.clone(),
                commands: Some(commands),
                in_flight: None,
                early: Vec::new(),
                stuck: false,
                grace: STUCK_GRACE,
            }),
        }
    }

    /// A link over a stand-in port, for tests of the stuck-driver handling.
    #[cfg(test)]
    pub(crate) fn with_port<P: PortIo>(port: P, grace: Duration) -> SerialLink {
        let (commands, inbox) = std_mpsc::channel();
        std::thread::spawn(move || worker(port, inbox));
        SerialLink {
            path: PathBuf::from("/dev/ttyFAKE0"),
            settings: SerialSettings::default(),
            commands: Some(commands),
            in_flight: None,
            early: Vec::new(),
            stuck: false,
            grace,
        }
    }

    fn stuck_error(&self) -> LinkError {
        LinkError::Stuck { link: self.name() }
    }

    fn failure(&self, f: PortFailure, op: &'static str) -> LinkError {
        match f {
            PortFailure::Timeout => LinkError::Timeout {
                link: self.name(),
                op,
            },
            PortFailure::Lost(detail) => LinkError::Lost {
                link: self.name(),
                detail,
            },
            PortFailure::Io(source) => {
                // An unclassified error on a port whose node is gone is a removal.
                if !self.path.exists() {
                    LinkError::Lost {
                        link: self.name(),
                        detail: format!("{source}; the device node is gone"),
                    }
                } else {
                    LinkError::Io {
                        link: self.name(),
                        op,
                        source,
                    }
                }
            }
        }
    }

    fn send(&mut self, command: Command) -> Result<(), LinkError> {
        let gone = || LinkError::Lost {
            link: self.path.display().to_string(),
            detail: "the port's thread has ended".into(),
        };
        match &self.commands {
            Some(tx) => tx.send(command).map_err(|_| gone()),
            None => Err(gone()),
        }
    }

    /// Waits (until `deadline` at most) for the answer to an earlier command
    /// whose caller gave up, so commands and answers stay paired. Marks the
    /// link stuck if the worker is overdue.
    async fn settle(&mut self, deadline: Instant, op: &'static str) -> Result<Settled, LinkError> {
        if self.stuck {
            return Err(self.stuck_error());
        }
        let Some(in_flight) = self.in_flight.as_mut() else {
            return Ok(Settled::Nothing);
        };
        let overdue_at = in_flight.deadline + self.grace;
        let wait_until = deadline.min(overdue_at);
        let answer = tokio::time::timeout_at(wait_until, async {
            match &mut in_flight.pending {
                Pending::Read(rx) => rx.await.map(|r| r.map(Settled::Received)),
                Pending::Write(rx) | Pending::Unit(rx) => {
                    rx.await.map(|r| r.map(|()| Settled::Nothing))
                }
                Pending::Applied(rx) => rx.await.map(|r| r.map(|_| Settled::Nothing)),
            }
        })
        .await;
        match answer {
            Err(_) if Instant::now() >= overdue_at => {
                tracing::warn!(port = %self.name(), reason = "link.stuck", "serial driver stopped answering; abandoning the port's thread");
                self.stuck = true;
                self.in_flight = None;
                // Dropping the sender lets the thread end whenever the driver
                // lets go of it; nobody waits for that.
                self.commands = None;
                Err(self.stuck_error())
            }
            Err(_) => Err(LinkError::Timeout {
                link: self.name(),
                op,
            }),
            Ok(Err(_)) => {
                self.in_flight = None;
                self.commands = None;
                Err(LinkError::Lost {
                    link: self.name(),
                    detail: "the port's thread has ended".into(),
                })
            }
            Ok(Ok(result)) => {
                self.in_flight = None;
                // A late failure (e.g. a timed-out write) was already reported
                // as a timeout to its caller; only data matters now.
                Ok(result.unwrap_or(Settled::Nothing))
            }
        }
    }

    /// Sends a command and waits for its answer until `deadline`; on timeout
    /// the answer stays in flight for [`Self::settle`].
    async fn call<T>(
        &mut self,
        deadline: Instant,
        op: &'static str,
        make: impl FnOnce(Reply<T>) -> Command,
        pending: fn(Answer<T>) -> Pending,
        take: fn(&mut Pending) -> Option<&mut Answer<T>>,
    ) -> Result<T, LinkError> {
        let (tx, rx) = oneshot::channel();
        self.send(make(tx))?;
        // Kept in `self` before awaiting, so a cancelled caller leaves the
        // answer for the next call instead of losing it.
        self.in_flight = Some(InFlight {
            pending: pending(rx),
            deadline,
        });
        let answer = {
            let Some(rx) = self.in_flight.as_mut().and_then(|f| take(&mut f.pending)) else {
                return Err(self.stuck_error());
            };
            tokio::time::timeout_at(deadline, rx).await
        };
        match answer {
            Err(_) => Err(LinkError::Timeout {
                link: self.name(),
                op,
            }),
            Ok(Err(_)) => {
                self.in_flight = None;
                self.commands = None;
                Err(LinkError::Lost {
                    link: self.name(),
                    detail: "the port's thread has ended".into(),
                })
            }
            Ok(Ok(result)) => {
                self.in_flight = None;
                result.map_err(|f| self.failure(f, op))
            }
        }
    }

    /// Reads at least one byte. Bytes are returned as received; the link
    /// level records them in the transcript.
    pub(crate) async fn read(
        &mut self,
        max: usize,
        deadline: Instant,
    ) -> Result<Vec<u8>, LinkError> {
        if let Settled::Received(bytes) = self.settle(deadline, "reading from").await? {
            self.early.extend(bytes);
        }
        if !self.early.is_empty() {
            let n = max.min(self.early.len());
            return Ok(self.early.drain(..n).collect());
        }
        let timeout = remaining(deadline);
        self.call(
            deadline,
            "reading from",
            |reply| Command::Read {
                max,
                timeout,
                reply,
            },
            Pending::Read,
            |p| match p {
                Pending::Read(rx) => Some(rx),
                _ => None,
            },
        )
        .await
    }

    pub(crate) async fn write_all(
        &mut self,
        bytes: &[u8],
        deadline: Instant,
    ) -> Result<(), LinkError> {
        if let Settled::Received(bytes) = self.settle(deadline, "writing to").await? {
            self.early.extend(bytes);
        }
        let timeout = remaining(deadline);
        let bytes = bytes.to_vec();
        self.call(
            deadline,
            "writing to",
            |reply| Command::Write {
                bytes,
                timeout,
                reply,
            },
            Pending::Write,
            |p| match p {
                Pending::Write(rx) => Some(rx),
                _ => None,
            },
        )
        .await
    }

    /// Drops what the port has received but nobody read yet.
    pub(crate) async fn discard_input(&mut self, deadline: Instant) -> Result<(), LinkError> {
        self.settle(deadline, "discarding input of").await?;
        self.early.clear();
        self.call(
            deadline,
            "discarding input of",
            |reply| Command::DiscardInput { reply },
            Pending::Unit,
            |p| match p {
                Pending::Unit(rx) => Some(rx),
                _ => None,
            },
        )
        .await
    }

    pub(crate) async fn applied(
        &mut self,
        deadline: Instant,
    ) -> Result<AppliedSettings, LinkError> {
        if let Settled::Received(bytes) = self.settle(deadline, "reading the settings of").await? {
            self.early.extend(bytes);
        }
        self.call(
            deadline,
            "reading the settings of",
            |reply| Command::Applied { reply },
            Pending::Applied,
            |p| match p {
                Pending::Applied(rx) => Some(rx),
                _ => None,
            },
        )
        .await
    }

    /// Closes the port and waits (until `deadline`) for the thread to confirm
    /// it let go, so reopening the same path does not find our own lock.
    pub(crate) async fn close(mut self, deadline: Instant) -> Result<(), LinkError> {
        self.shutdown(deadline).await
    }

    /// Like [`Self::close`], but leaves a husk behind whose later calls fail
    /// with `Lost` (used by reopen, which must release the old port before
    /// opening the new one in case it is the same device).
    pub(crate) async fn shutdown(&mut self, deadline: Instant) -> Result<(), LinkError> {
        // Dropping the answer of an abandoned command tells the worker to
        // stop waiting on the driver for it.
        self.in_flight = None;
        self.early.clear();
        if self.stuck {
            return Err(self.stuck_error());
        }
        let Some(commands) = self.commands.take() else {
            // The thread is already gone, and the port with it.
            return Ok(());
        };
        let (tx, rx) = oneshot::channel();
        if commands.send(Command::Close { reply: tx }).is_err() {
            return Ok(());
        }
        drop(commands);
        match tokio::time::timeout_at(deadline, rx).await {
            Err(_) => Err(LinkError::Timeout {
                link: self.name(),
                op: "closing",
            }),
            // The thread ended without confirming: it already dropped the port.
            Ok(_) => Ok(()),
        }
    }
}

fn remaining(deadline: Instant) -> Duration {
    deadline.saturating_duration_since(Instant::now())
}

fn open_port(path: &Path, settings: &SerialSettings) -> Result<TTYPort, serialport::Error> {
    let path_text = path.to_string_lossy();
    let mut port = serialport::new(path_text, settings.baud_rate)
        .data_bits(settings.data_bits.into())
        .parity(settings.parity.into())
        .stop_bits(settings.stop_bits.into())
        .flow_control(settings.flow_control.into())
        .exclusive(settings.exclusive)
        .dtr_on_open(settings.dtr)
        .timeout(SLICE)
        .open_native()?;
    // Modem lines are best effort: pseudo-terminals and some adapters have
    // none, and a terminal that needs them will show it by staying silent.
    if let Err(e) = port.write_data_terminal_ready(settings.dtr) {
        tracing::debug!(port = %path.display(), error = %e, "could not set DTR");
    }
    if settings.flow_control != FlowControl::Hardware
        && let Err(e) = port.write_request_to_send(settings.rts)
    {
        tracing::debug!(port = %path.display(), error = %e, "could not set RTS");
    }
    Ok(port)
}

/// The thread's loop: one command at a time, until the link lets go.
fn worker<P: PortIo>(mut port: P, inbox: std_mpsc::Receiver<Command>) {
    let mut buf = Vec::new();
    for command in inbox.iter() {
        match command {
            Command::Read {
                max,
                timeout,
                reply,
            } => {
                buf.resize(max.max(1), 0);
                let result = read_once(&mut port, &mut buf, timeout, || reply.is_closed());
                let _ = reply.send(result);
            }
            Command::Write {
                bytes,
                timeout,
                reply,
            } => {
                let result = write_all(&mut port, &bytes, timeout, || reply.is_closed());
                let _ = reply.send(result);
            }
            Command::DiscardInput { reply } => {
                let _ = reply.send(port.clear_input().map_err(classify));
            }
            Command::Applied { reply } => {
                let _ = reply.send(port.applied().map_err(classify));
            }
            Command::Close { reply } => {
                drop(port);
                let _ = reply.send(());
                return;
            }
        }
    }
}

/// Waits for at least one byte, in slices so an abandoned read ends soon.
fn read_once<P: PortIo>(
    port: &mut P,
    buf: &mut [u8],
    timeout: Duration,
    abandoned: impl Fn() -> bool,
) -> Result<Vec<u8>, PortFailure> {
    let until = std::time::Instant::now() + timeout;
    loop {
        let left = until.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() || abandoned() {
            return Err(PortFailure::Timeout);
        }
        match port.read_timeout(buf, left.min(SLICE)) {
            // Raw mode with VMIN=1 returns 0 bytes only on hang-up.
            Ok(0) => return Err(PortFailure::Lost("hang-up (end of file)".into())),
            Ok(n) => return Ok(buf[..n].to_vec()),
            Err(e) if retryable(&e) => {}
            Err(e) => return Err(classify(e)),
        }
    }
}

fn write_all<P: PortIo>(
    port: &mut P,
    mut bytes: &[u8],
    timeout: Duration,
    abandoned: impl Fn() -> bool,
) -> Result<(), PortFailure> {
    let until = std::time::Instant::now() + timeout;
    while !bytes.is_empty() {
        let left = until.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() || abandoned() {
            return Err(PortFailure::Timeout);
        }
        match port.write_timeout(bytes, left.min(SLICE)) {
            Ok(0) => return Err(PortFailure::Lost("the port accepts no more bytes".into())),
            Ok(n) => bytes = &bytes[n..],
            Err(e) if retryable(&e) => {}
            Err(e) => return Err(classify(e)),
        }
    }
    Ok(())
}

fn retryable(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::TimedOut | io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock
    )
}

/// serialport turns most errnos into text (its errors carry no OS code), so
/// the device-gone cases are recognised by kind and by nix's descriptions.
fn classify(e: io::Error) -> PortFailure {
    const GONE: [&str; 3] = ["I/O error", "No such device or address", "No such device"];
    match e.kind() {
        io::ErrorKind::TimedOut => PortFailure::Timeout,
        // serialport reports POLLHUP/POLLNVAL as a broken pipe.
        io::ErrorKind::BrokenPipe => PortFailure::Lost("hang-up".into()),
        _ => {
            let text = e.to_string();
            if GONE.iter().any(|g| text == *g) || matches!(e.raw_os_error(), Some(5 | 6 | 19)) {
                PortFailure::Lost(text.to_lowercase())
            } else {
                PortFailure::Io(e)
            }
        }
    }
}

/// Turns a failed open into the error a person can act on.
fn open_error(path: &Path, e: serialport::Error) -> LinkError {
    let link = path.display().to_string();
    match e.kind() {
        serialport::ErrorKind::Io(io::ErrorKind::NotFound) => LinkError::NotFound { link },
        serialport::ErrorKind::Io(io::ErrorKind::PermissionDenied) => LinkError::PermissionDenied {
            group: owning_group(path).unwrap_or_else(|| "dialout".into()),
            link,
        },
        // EBUSY from TIOCEXCL, or the exclusive flock held elsewhere.
        serialport::ErrorKind::NoDevice => LinkError::Busy {
            holders: holders_of(path),
            link,
        },
        serialport::ErrorKind::InvalidInput => LinkError::InvalidSettings {
            link,
            detail: e.description,
        },
        _ if e.description.contains("Settings did not apply") => LinkError::InvalidSettings {
            link,
            detail: e.description.to_lowercase(),
        },
        // A device node without a device behind it (e.g. a ttyS with no UART).
        _ if e.description == "No such device or address" || e.description == "No such device" => {
            LinkError::NotFound { link }
        }
        _ if e.description == "Operation not permitted" => LinkError::PermissionDenied {
            group: owning_group(path).unwrap_or_else(|| "dialout".into()),
            link,
        },
        _ => LinkError::Io {
            link,
            op: "opening",
            source: io::Error::other(e.description),
        },
    }
}

/// "pid (comm)" of each process found holding `path`, best effort.
fn holders_of(path: &Path) -> Vec<String> {
    match occupancy_in(Path::new("/proc"), path) {
        Occupancy::HeldBy(holders) => holders
            .iter()
            .filter(|h| h.pid != std::process::id())
            .map(|h| h.to_string())
            .collect(),
        Occupancy::Free | Occupancy::Unknown { .. } => Vec::new(),
    }
}

/// The name of the group owning the device node, from /etc/group.
fn owning_group(path: &Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt as _;
    let gid = std::fs::metadata(path).ok()?.gid();
    let groups = std::fs::read_to_string("/etc/group").ok()?;
    groups.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        let _password = fields.next()?;
        let id: u32 = fields.next()?.parse().ok()?;
        (id == gid && gid != 0).then(|| name.to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A port whose reads block in the "driver" until the test lets go.
    struct WedgedPort {
        release: std_mpsc::Receiver<()>,
    }

    impl PortIo for WedgedPort {
        fn read_timeout(&mut self, _: &mut [u8], _: Duration) -> io::Result<usize> {
            // Ignores the timeout, as a wedged driver does.
            let _ = self.release.recv();
            Err(io::ErrorKind::BrokenPipe.into())
        }
        fn write_timeout(&mut self, buf: &[u8], _: Duration) -> io::Result<usize> {
            Ok(buf.len())
        }
        fn clear_input(&mut self) -> io::Result<()> {
            Ok(())
        }
        fn applied(&mut self) -> io::Result<AppliedSettings> {
            Err(io::ErrorKind::Unsupported.into())
        }
    }

    #[tokio::test]
    async fn a_wedged_driver_makes_the_link_stuck_and_later_calls_fail_fast() {
        let (release, wedge) = std_mpsc::channel();
        let mut link = SerialLink::with_port(WedgedPort { release: wedge }, Duration::ZERO);
        let bound = Duration::from_secs(10);
        let deadline = Instant::now() + Duration::from_millis(20);
        let first = tokio::time::timeout(bound, link.read(16, deadline))
            .await
            .unwrap();
        assert!(matches!(first, Err(LinkError::Timeout { .. })), "{first:?}");
        // The worker is still inside the driver: the link gives up on it.
        let far = Instant::now() + Duration::from_secs(3600);
        let second = tokio::time::timeout(bound, link.write_all(b"x", far))
            .await
            .unwrap();
        assert!(matches!(second, Err(LinkError::Stuck { .. })), "{second:?}");
        let third = tokio::time::timeout(bound, link.read(16, far))
            .await
            .unwrap();
        assert_eq!(third.unwrap_err().kind(), crate::LinkErrorKind::Stuck);
        // Dropping the link does not wait for the wedged thread.
        drop(link);
        drop(release);
    }

    /// A port whose read answers only when the test hands it bytes.
    struct SlowPort {
        feed: std_mpsc::Receiver<Vec<u8>>,
    }

    impl PortIo for SlowPort {
        fn read_timeout(&mut self, buf: &mut [u8], _: Duration) -> io::Result<usize> {
            let bytes = self.feed.recv().map_err(|_| io::ErrorKind::BrokenPipe)?;
            buf[..bytes.len()].copy_from_slice(&bytes);
            Ok(bytes.len())
        }
        fn write_timeout(&mut self, buf: &[u8], _: Duration) -> io::Result<usize> {
            Ok(buf.len())
        }
        fn clear_input(&mut self) -> io::Result<()> {
            Ok(())
        }
        fn applied(&mut self) -> io::Result<AppliedSettings> {
            Err(io::ErrorKind::Unsupported.into())
        }
    }

    #[tokio::test]
    async fn bytes_that_arrive_after_a_timeout_go_to_the_next_read() {
        let (feed, rx) = std_mpsc::channel();
        let mut link = SerialLink::with_port(SlowPort { feed: rx }, Duration::from_secs(3600));
        let bound = Duration::from_secs(10);
        let soon = Instant::now() + Duration::from_millis(20);
        let first = tokio::time::timeout(bound, link.read(16, soon))
            .await
            .unwrap();
        assert!(matches!(first, Err(LinkError::Timeout { .. })), "{first:?}");
        feed.send(b"late".to_vec()).unwrap();
        let far = Instant::now() + Duration::from_secs(3600);
        let second = tokio::time::timeout(bound, link.read(16, far))
            .await
            .unwrap();
        assert_eq!(second.unwrap(), b"late");
    }

    #[test]
    fn os_errors_for_a_vanished_device_are_lost() {
        for e in [
            io::Error::from(io::ErrorKind::BrokenPipe),
            io::Error::other("I/O error"),
            io::Error::other("No such device or address"),
            io::Error::from_raw_os_error(19),
        ] {
            assert!(matches!(classify(e), PortFailure::Lost(_)));
        }
        assert!(matches!(
            classify(io::Error::other("Invalid argument")),
            PortFailure::Io(_)
        ));
    }

    #[test]
    fn open_errors_are_classified() {
        let p = Path::new("/dev/ttyNOPE");
        let e = |kind, text: &str| open_error(p, serialport::Error::new(kind, text));
        assert!(matches!(
            e(
                serialport::ErrorKind::Io(io::ErrorKind::NotFound),
                "No such file"
            ),
            LinkError::NotFound { .. }
        ));
        assert!(matches!(
            e(serialport::ErrorKind::NoDevice, "Device or resource busy"),
            LinkError::Busy { .. }
        ));
        let denied = e(
            serialport::ErrorKind::Io(io::ErrorKind::PermissionDenied),
            "Permission denied",
        );
        assert!(denied.to_string().contains("dialout"), "{denied}");
    }
}
