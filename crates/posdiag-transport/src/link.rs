//! [`Link`]: one closed type for an open connection to a terminal or host
//! (serial, TCP or in-memory), with absolute deadlines on every operation
//! and an optional bounded, masked transcript.
//!
//! An enum rather than a trait object: the engine's per-terminal task owns
//! exactly one link, the set of kinds is ours, and matching keeps each kind's
//! failure classification visible in one place.

use std::io;
use std::net::SocketAddr;
use std::path::Path;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::error::{LinkError, LinkErrorKind};
use crate::memory::MemoryLink;
use crate::serial::SerialLink;
use crate::settings::{AppliedSettings, SerialSettings};
use crate::tcp::{self, ConnectError};
use crate::transcript::{Direction, Transcript, TranscriptConfig};

/// Which kind of link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LinkKind {
    /// A serial port (RS-232, USB-serial, pseudo-terminal).
    Serial,
    /// A TCP connection.
    Tcp,
    /// An in-memory pair (tests and simulators).
    Memory,
}

/// An open connection to a terminal or host.
///
/// Every operation takes an absolute deadline and never waits past it;
/// [`Link::read`] returns at least one byte or an error. Dropping a link
/// never blocks, even on a serial port whose driver hangs.
#[derive(Debug)]
pub struct Link {
    inner: Inner,
    transcript: Option<Transcript>,
    opened_at: Instant,
}

#[derive(Debug)]
enum Inner {
    Serial(SerialLink),
    Tcp(TcpLink),
    Memory(MemoryLink),
}

#[derive(Debug)]
struct TcpLink {
    stream: TcpStream,
    /// What the caller asked for (a host name or an address).
    target: String,
    peer: SocketAddr,
}

impl TcpLink {
    fn name(&self) -> String {
        self.peer.to_string()
    }

    fn io_error(&self, e: io::Error, op: &'static str) -> LinkError {
        match e.kind() {
            io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe => LinkError::Reset { link: self.name() },
            io::ErrorKind::UnexpectedEof => LinkError::Closed { link: self.name() },
            _ => LinkError::Io {
                link: self.name(),
                op,
                source: e,
            },
        }
    }
}

impl Link {
    fn new(inner: Inner) -> Link {
        Link {
            inner,
            transcript: None,
            opened_at: Instant::now(),
        }
    }

    pub(crate) fn from_memory(m: MemoryLink) -> Link {
        Link::new(Inner::Memory(m))
    }

    /// Opens a serial port and applies `settings`, giving up at `deadline`
    /// (the open itself runs on the port's own thread, since a driver can
    /// hang in `open` too).
    pub async fn open_serial(
        path: impl AsRef<Path>,
        settings: &SerialSettings,
        deadline: Instant,
    ) -> Result<Link, LinkError> {
        let serial = SerialLink::open(path.as_ref(), settings, deadline).await?;
        Ok(Link::new(Inner::Serial(serial)))
    }

    /// Connects over TCP to `target` ("10.0.0.5:20007" or "host:port"),
    /// trying each resolved address in turn until `deadline`. Failures keep
    /// [`crate::ConnectFailure`]'s classification.
    pub async fn connect_tcp(target: &str, deadline: Instant) -> Result<Link, LinkError> {
        let start = Instant::now();
        let addrs: Vec<SocketAddr> = match target.parse::<SocketAddr>() {
            Ok(a) => vec![a],
            Err(_) => {
                match tokio::time::timeout_at(deadline, tokio::net::lookup_host(target)).await {
                    Err(_) => {
                        return Err(LinkError::Timeout {
                            link: target.to_owned(),
                            op: "resolving",
                        });
                    }
                    Ok(Err(source)) => {
                        return Err(LinkError::Resolve {
                            host: target.to_owned(),
                            source,
                        });
                    }
                    Ok(Ok(addrs)) => addrs.collect(),
                }
            }
        };
        let Some(&first_addr) = addrs.first() else {
            return Err(LinkError::Resolve {
                host: target.to_owned(),
                source: io::Error::new(io::ErrorKind::NotFound, "no addresses"),
            });
        };
        let mut first_error = None;
        for addr in addrs {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            match tcp::connect(addr, left).await {
                Ok(stream) => return Ok(Link::tcp(stream, target.to_owned(), addr)),
                Err(e) => {
                    tracing::debug!(%addr, error = %e, "tcp connect attempt failed");
                    first_error.get_or_insert(e);
                }
            }
        }
        Err(LinkError::Connect(first_error.unwrap_or(
            ConnectError::Timeout {
                addr: first_addr,
                deadline: deadline.saturating_duration_since(start),
            },
        )))
    }

    /// Wraps a connected stream (e.g. from [`crate::connect`]).
    pub fn from_tcp_stream(stream: TcpStream) -> Result<Link, LinkError> {
        let peer = stream.peer_addr().map_err(|source| LinkError::Io {
            link: "tcp stream".into(),
            op: "reading the peer address of",
            source,
        })?;
        Ok(Link::tcp(stream, peer.to_string(), peer))
    }

    fn tcp(stream: TcpStream, target: String, peer: SocketAddr) -> Link {
        Link::new(Inner::Tcp(TcpLink {
            stream,
            target,
            peer,
        }))
    }

    /// Which kind of link this is.
    pub fn kind(&self) -> LinkKind {
        match self.inner {
            Inner::Serial(_) => LinkKind::Serial,
            Inner::Tcp(_) => LinkKind::Tcp,
            Inner::Memory(_) => LinkKind::Memory,
        }
    }

    /// For people: "serial /dev/ttyUSB0 9600 8N2", "tcp 10.0.0.5:20007",
    /// "memory sim".
    pub fn describe(&self) -> String {
        match &self.inner {
            Inner::Serial(s) => {
                format!("serial {} {}", s.path().display(), s.settings().describe())
            }
            Inner::Tcp(t) if t.target == t.peer.to_string() => format!("tcp {}", t.peer),
            Inner::Tcp(t) => format!("tcp {} ({})", t.target, t.peer),
            Inner::Memory(m) => format!("memory {}", m.name()),
        }
    }

    /// The port's path, for a serial link.
    pub fn serial_path(&self) -> Option<&Path> {
        match &self.inner {
            Inner::Serial(s) => Some(s.path()),
            _ => None,
        }
    }

    /// The settings the port was opened with, for a serial link.
    pub fn serial_settings(&self) -> Option<&SerialSettings> {
        match &self.inner {
            Inner::Serial(s) => Some(s.settings()),
            _ => None,
        }
    }

    /// Starts recording a transcript (replacing any earlier one).
    pub fn record_transcript(&mut self, config: TranscriptConfig) {
        self.transcript = Some(Transcript::new(config));
    }

    /// The transcript so far, if recording.
    pub fn transcript(&self) -> Option<&Transcript> {
        self.transcript.as_ref()
    }

    /// Takes the transcript out (recording stops).
    pub fn take_transcript(&mut self) -> Option<Transcript> {
        self.transcript.take()
    }

    fn record(&mut self, direction: Direction, bytes: &[u8]) {
        if let Some(t) = &mut self.transcript {
            t.record(direction, self.opened_at.elapsed(), bytes);
        }
    }

    /// Writes all of `bytes` before `deadline`. On `Timeout` some of them may
    /// have gone out.
    pub async fn write_all(&mut self, bytes: &[u8], deadline: Instant) -> Result<(), LinkError> {
        self.record(Direction::Tx, bytes);
        match &mut self.inner {
            Inner::Serial(s) => s.write_all(bytes, deadline).await,
            Inner::Memory(m) => m.write_all(bytes, deadline).await,
            Inner::Tcp(t) => {
                match tokio::time::timeout_at(deadline, t.stream.write_all(bytes)).await {
                    Err(_) => Err(LinkError::Timeout {
                        link: t.name(),
                        op: "writing to",
                    }),
                    Ok(Err(e)) => Err(t.io_error(e, "writing to")),
                    Ok(Ok(())) => Ok(()),
                }
            }
        }
    }

    /// Reads at least one byte (at most `buf.len()`) before `deadline`.
    /// An empty `buf` returns 0 at once.
    pub async fn read(&mut self, buf: &mut [u8], deadline: Instant) -> Result<usize, LinkError> {
        if buf.is_empty() {
            return Ok(0);
        }
        let n = match &mut self.inner {
            Inner::Serial(s) => copy_into(buf, s.read(buf.len(), deadline).await?),
            Inner::Memory(m) => copy_into(buf, m.read(buf.len(), deadline).await?),
            Inner::Tcp(t) => match tokio::time::timeout_at(deadline, t.stream.read(buf)).await {
                Err(_) => {
                    return Err(LinkError::Timeout {
                        link: t.name(),
                        op: "reading from",
                    });
                }
                Ok(Err(e)) => return Err(t.io_error(e, "reading from")),
                Ok(Ok(0)) => return Err(LinkError::Closed { link: t.name() }),
                Ok(Ok(n)) => n,
            },
        };
        self.record(Direction::Rx, &buf[..n]);
        Ok(n)
    }

    /// Drops input received but not read yet (stale bytes from an earlier
    /// exchange), waiting no longer than `deadline`.
    pub async fn discard_input(&mut self, deadline: Instant) -> Result<(), LinkError> {
        match &mut self.inner {
            Inner::Serial(s) => s.discard_input(deadline).await,
            Inner::Memory(m) => m.discard_input(),
            Inner::Tcp(t) => {
                // Only what already arrived: never waits.
                let mut scratch = [0u8; 1024];
                loop {
                    match t.stream.try_read(&mut scratch) {
                        Ok(0) => return Ok(()),
                        Ok(_) => {}
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                        Err(e) => return Err(t.io_error(e, "discarding input of")),
                    }
                }
            }
        }
    }

    /// The line settings the serial port really runs at, read back from the
    /// driver; `None` for other kinds of link.
    pub async fn applied_settings(
        &mut self,
        deadline: Instant,
    ) -> Result<Option<AppliedSettings>, LinkError> {
        match &mut self.inner {
            Inner::Serial(s) => s.applied(deadline).await.map(Some),
            Inner::Tcp(_) | Inner::Memory(_) => Ok(None),
        }
    }

    /// Closes the link, waiting until `deadline` at most for the OS to
    /// confirm (a serial port is released by then, so it can be reopened).
    pub async fn close(self, deadline: Instant) -> Result<(), LinkError> {
        match self.inner {
            Inner::Serial(s) => s.close(deadline).await,
            Inner::Memory(m) => {
                drop(m);
                Ok(())
            }
            Inner::Tcp(mut t) => {
                match tokio::time::timeout_at(deadline, t.stream.shutdown()).await {
                    Err(_) => Err(LinkError::Timeout {
                        link: t.name(),
                        op: "closing",
                    }),
                    // A peer that already went away is closed enough.
                    Ok(Err(_)) | Ok(Ok(())) => Ok(()),
                }
            }
        }
    }

    /// Reopens a serial link after it was lost: on `path` if given (the
    /// daemon passes what discovery resolved the port's selector to now),
    /// else on the same path, with the same settings. The old port is
    /// released first (a stuck one is abandoned); the transcript and its time
    /// base carry over. On failure the link stays unusable (later calls fail
    /// with `Lost`) and the error is classified as for [`Link::open_serial`].
    pub async fn reopen(
        &mut self,
        path: Option<&Path>,
        deadline: Instant,
    ) -> Result<(), LinkError> {
        let describe = self.describe();
        let Inner::Serial(old) = &mut self.inner else {
            return Err(LinkError::InvalidSettings {
                link: describe,
                detail: "only serial links can be reopened; connect again instead".into(),
            });
        };
        let path = path.unwrap_or(old.path()).to_path_buf();
        let settings = old.settings().clone();
        match old.shutdown(deadline).await {
            Ok(()) => {}
            // A port that is gone or stuck cannot hold its own lock against us.
            Err(e) if e.kind() != LinkErrorKind::Timeout => {
                tracing::debug!(link = %describe, error = %e, "old port not closed cleanly");
            }
            Err(e) => return Err(e),
        }
        let fresh = SerialLink::open(&path, &settings, deadline).await?;
        self.inner = Inner::Serial(fresh);
        Ok(())
    }
}

fn copy_into(buf: &mut [u8], bytes: Vec<u8>) -> usize {
    let n = bytes.len().min(buf.len());
    buf[..n].copy_from_slice(&bytes[..n]);
    n
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const BOUND: Duration = Duration::from_secs(10);

    #[tokio::test]
    async fn tcp_links_carry_bytes_and_report_a_peer_close() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 4];
            s.read_exact(&mut buf).await.unwrap();
            s.write_all(b"pong").await.unwrap();
            // Dropping the stream closes it.
        });
        let deadline = Instant::now() + BOUND;
        let mut link = Link::connect_tcp(&addr.to_string(), deadline)
            .await
            .unwrap();
        assert_eq!(link.kind(), LinkKind::Tcp);
        assert_eq!(link.describe(), format!("tcp {addr}"));
        link.write_all(b"ping", deadline).await.unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 16];
        while got.len() < 4 {
            let n = link.read(&mut buf, deadline).await.unwrap();
            got.extend_from_slice(&buf[..n]);
        }
        assert_eq!(got, b"pong");
        server.await.unwrap();
        let err = link.read(&mut buf, deadline).await.unwrap_err();
        assert_eq!(err.kind(), LinkErrorKind::Closed, "{err}");
    }

    #[tokio::test]
    async fn a_refused_tcp_connect_keeps_its_classification() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let err = Link::connect_tcp(&addr.to_string(), Instant::now() + BOUND)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), LinkErrorKind::Refused, "{err}");
        assert!(err.to_string().contains(&addr.to_string()));
    }

    #[tokio::test]
    async fn a_silent_tcp_peer_times_out() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut link = Link::connect_tcp(&addr.to_string(), Instant::now() + BOUND)
            .await
            .unwrap();
        let (_held, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 4];
        let err = link
            .read(&mut buf, Instant::now() + Duration::from_millis(20))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), LinkErrorKind::Timeout);
    }
}
