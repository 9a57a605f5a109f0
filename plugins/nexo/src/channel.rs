//! The byte stream to the terminal: the host's transport callbacks, plain or wrapped in TLS.
//!
//! The daemon owns the TCP connection and only relays bytes, so HTTPS is a rustls
//! [`ClientConnection`] driven by hand: its records go out through [`Host::write`] and what
//! [`Host::read`] returns is fed to it. Every call is bounded by the check's deadline.

use std::io::{self, Read as _, Write as _};
use std::sync::Arc;
use std::time::{Duration, Instant};

use posdiag_plugin_api::sdk::{Host, TransportError};
use rustls::ClientConnection;
use rustls::pki_types::ServerName;

/// Bytes asked for per read.
const READ_CHUNK: usize = 16 * 1024;

/// Where in the exchange something failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// The TLS handshake.
    Handshake,
    /// Sending the request.
    Request,
    /// Waiting for or reading the answer.
    Answer,
}

impl Phase {
    /// Stable text for evidence.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Handshake => "tls_handshake",
            Phase::Request => "request",
            Phase::Answer => "answer",
        }
    }
}

/// Why the stream failed.
#[derive(Debug)]
pub enum ChannelError {
    /// The deadline passed.
    Timeout(Phase),
    /// The connection went away (the host's `LinkLost`, or the peer closed it).
    Lost(Phase),
    /// The daemon has no link for this check (it could not connect).
    NoLink,
    /// Any other transport failure.
    Transport(Phase, TransportError),
    /// TLS refused the peer or the exchange.
    Tls(rustls::Error),
}

/// A stream over the host's link.
pub struct Channel<'h> {
    host: &'h Host,
    deadline: Instant,
    tls: Option<Box<ClientConnection>>,
    /// Raw bytes read from the link that rustls has not taken yet.
    pending: Vec<u8>,
    /// Bytes the peer sent so far (TLS records included).
    received: usize,
}

impl std::fmt::Debug for Channel<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Channel")
            .field("tls", &self.tls.is_some())
            .field("received", &self.received)
            .finish_non_exhaustive()
    }
}

impl<'h> Channel<'h> {
    /// A plain stream.
    pub fn plain(host: &'h Host, deadline: Instant) -> Channel<'h> {
        Channel {
            host,
            deadline,
            tls: None,
            pending: Vec::new(),
            received: 0,
        }
    }

    /// A TLS stream; call [`Channel::handshake`] next.
    pub fn tls(
        host: &'h Host,
        deadline: Instant,
        config: Arc<rustls::ClientConfig>,
        server_name: ServerName<'static>,
    ) -> Result<Channel<'h>, ChannelError> {
        let conn = ClientConnection::new(config, server_name).map_err(ChannelError::Tls)?;
        Ok(Channel {
            tls: Some(Box::new(conn)),
            ..Channel::plain(host, deadline)
        })
    }

    /// Bytes received from the peer so far.
    pub fn received(&self) -> usize {
        self.received
    }

    fn left(&self, phase: Phase) -> Result<Duration, ChannelError> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(ChannelError::Timeout(phase));
        }
        Ok(left)
    }

    fn transport(phase: Phase, e: TransportError) -> ChannelError {
        match e {
            TransportError::Timeout => ChannelError::Timeout(phase),
            TransportError::LinkLost => ChannelError::Lost(phase),
            TransportError::NoLink => ChannelError::NoLink,
            other => ChannelError::Transport(phase, other),
        }
    }

    fn raw_write(&self, bytes: &[u8], phase: Phase) -> Result<(), ChannelError> {
        if bytes.is_empty() {
            return Ok(());
        }
        let left = self.left(phase)?;
        self.host
            .write(bytes, left)
            .map_err(|e| Self::transport(phase, e))
    }

    /// Reads raw bytes from the link; `Ok(0)` when the link is gone (the host reports a
    /// closed TCP connection as a lost link, which for HTTP can be the end of a message).
    fn raw_read(&mut self, buf: &mut [u8], phase: Phase) -> Result<usize, ChannelError> {
        let left = self.left(phase)?;
        match self.host.read(buf, left) {
            Ok(n) => {
                self.received += n;
                Ok(n)
            }
            Err(TransportError::LinkLost) => Ok(0),
            Err(e) => Err(Self::transport(phase, e)),
        }
    }

    /// Sends whatever TLS records rustls has queued.
    fn flush_tls(&mut self, phase: Phase) -> Result<(), ChannelError> {
        let Some(conn) = self.tls.as_mut() else {
            return Ok(());
        };
        let mut out = Vec::new();
        while conn.wants_write() {
            // Writing into a Vec cannot fail.
            if conn.write_tls(&mut out).is_err() {
                break;
            }
        }
        self.raw_write(&out, phase)
    }

    /// Feeds raw bytes to rustls (reading more from the link when none are pending);
    /// `Ok(false)` at the end of the link.
    fn pump_tls(&mut self, phase: Phase) -> Result<bool, ChannelError> {
        if self.pending.is_empty() {
            let mut buf = vec![0u8; READ_CHUNK];
            let n = self.raw_read(&mut buf, phase)?;
            if n == 0 {
                return Ok(false);
            }
            self.pending.extend_from_slice(&buf[..n]);
        }
        let Some(conn) = self.tls.as_mut() else {
            return Ok(true);
        };
        let mut slice = self.pending.as_slice();
        // An error means rustls' buffer is full: it takes nothing now and processes what it
        // holds first.
        let taken = conn.read_tls(&mut slice).unwrap_or_default();
        self.pending.drain(..taken);
        let processed = conn.process_new_packets();
        if let Err(e) = processed {
            // Tell the peer why (an alert is queued); best effort, the error is what counts.
            let _ = self.flush_tls(phase);
            return Err(ChannelError::Tls(e));
        }
        Ok(true)
    }

    /// Runs the TLS handshake to its end (nothing to do on a plain stream).
    pub fn handshake(&mut self) -> Result<(), ChannelError> {
        loop {
            let Some(conn) = self.tls.as_ref() else {
                return Ok(());
            };
            if !conn.is_handshaking() {
                return self.flush_tls(Phase::Handshake);
            }
            self.flush_tls(Phase::Handshake)?;
            if !self.pump_tls(Phase::Handshake)? {
                return Err(ChannelError::Lost(Phase::Handshake));
            }
        }
    }

    /// Sends all of `bytes`.
    pub fn send(&mut self, bytes: &[u8]) -> Result<(), ChannelError> {
        match self.tls.as_mut() {
            None => self.raw_write(bytes, Phase::Request),
            Some(conn) => {
                conn.writer()
                    .write_all(bytes)
                    .map_err(|e| ChannelError::Tls(rustls::Error::General(e.to_string())))?;
                self.flush_tls(Phase::Request)
            }
        }
    }

    /// Receives 1.. bytes into `buf`; `Ok(0)` at the end of the stream (the peer closed the
    /// connection, or sent a TLS close_notify).
    pub fn recv(&mut self, buf: &mut [u8]) -> Result<usize, ChannelError> {
        if self.tls.is_none() {
            return self.raw_read(buf, Phase::Answer);
        }
        loop {
            let Some(conn) = self.tls.as_mut() else {
                return Ok(0);
            };
            match conn.reader().read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                // The TCP connection ended without close_notify: for HTTP framing the same
                // as an end of stream, which the parser judges.
                Err(_) => return Ok(0),
            }
            if !self.pump_tls(Phase::Answer)? {
                // Let rustls see the end so its reader reports it on the next round.
                if let Some(conn) = self.tls.as_mut() {
                    let _ = conn.read_tls(&mut io::empty());
                    let _ = conn.process_new_packets();
                    match conn.reader().read(buf) {
                        Ok(n) => return Ok(n),
                        Err(_) => return Ok(0),
                    }
                }
                return Ok(0);
            }
        }
    }

    /// Ends a TLS session politely (best effort, briefly).
    pub fn close(&mut self) {
        if let Some(conn) = self.tls.as_mut() {
            conn.send_close_notify();
            let _ = self.flush_tls(Phase::Answer);
        }
    }
}
