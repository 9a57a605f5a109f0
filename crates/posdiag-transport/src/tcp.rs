//! TCP connect with a deadline, and a classification of why it failed that
//! a person can act on (refused, timed out, unreachable, reset).

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpStream;

/// Why a connection attempt failed, in the terms a diagnosis needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConnectFailure {
    /// The host answered the SYN with a reset: nothing listens on the port.
    Refused,
    /// No answer within the deadline (SYN dropped by a firewall, host down).
    Timeout,
    /// No route to the host or its network.
    Unreachable,
    /// The connection was reset during the handshake.
    Reset,
    /// Any other failure (the OS error is kept in [`ConnectError`]).
    Other,
}

/// A failed connection attempt.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// No connection within the deadline.
    #[error("no connection to {addr} within {} ms", deadline.as_millis())]
    Timeout {
        /// The address tried.
        addr: SocketAddr,
        /// The deadline that passed.
        deadline: Duration,
    },
    /// The OS reported an error.
    #[error("connecting to {addr}: {source}")]
    Io {
        /// The address tried.
        addr: SocketAddr,
        /// The OS error.
        #[source]
        source: io::Error,
    },
}

impl ConnectError {
    /// The class of the failure.
    pub fn failure(&self) -> ConnectFailure {
        match self {
            ConnectError::Timeout { .. } => ConnectFailure::Timeout,
            ConnectError::Io { source, .. } => classify(source),
        }
    }
}

/// Classifies an I/O error from connect or from the first read/write.
pub fn classify(err: &io::Error) -> ConnectFailure {
    use io::ErrorKind::*;
    match err.kind() {
        ConnectionRefused => ConnectFailure::Refused,
        TimedOut => ConnectFailure::Timeout,
        HostUnreachable | NetworkUnreachable | AddrNotAvailable => ConnectFailure::Unreachable,
        ConnectionReset | ConnectionAborted => ConnectFailure::Reset,
        _ => match err.raw_os_error() {
            // EHOSTUNREACH, ENETUNREACH, EHOSTDOWN, ENETDOWN on Linux.
            Some(113 | 101 | 112 | 100) => ConnectFailure::Unreachable,
            _ => ConnectFailure::Other,
        },
    }
}

/// Connects to `addr`, giving up after `deadline`. Nagle is turned off,
/// since everything posdiag sends is a small request waiting for an answer.
pub async fn connect(addr: SocketAddr, deadline: Duration) -> Result<TcpStream, ConnectError> {
    match tokio::time::timeout(deadline, TcpStream::connect(addr)).await {
        Err(_) => Err(ConnectError::Timeout { addr, deadline }),
        Ok(Err(source)) => Err(ConnectError::Io { addr, source }),
        Ok(Ok(stream)) => {
            // Failing to set TCP_NODELAY only costs latency; never fail the probe for it.
            let _ = stream.set_nodelay(true);
            Ok(stream)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_closed_port_is_refused() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let err = connect(addr, Duration::from_secs(5)).await.unwrap_err();
        assert_eq!(err.failure(), ConnectFailure::Refused);
        assert!(err.to_string().contains(&addr.to_string()), "{err}");
    }

    #[tokio::test]
    async fn a_listening_port_connects() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stream = connect(addr, Duration::from_secs(5)).await.unwrap();
        assert_eq!(stream.peer_addr().unwrap(), addr);
    }

    #[test]
    fn os_errors_are_classified() {
        let e = |k| io::Error::from(k);
        assert_eq!(
            classify(&e(io::ErrorKind::ConnectionReset)),
            ConnectFailure::Reset
        );
        assert_eq!(
            classify(&io::Error::from_raw_os_error(113)),
            ConnectFailure::Unreachable
        );
        assert_eq!(
            classify(&e(io::ErrorKind::PermissionDenied)),
            ConnectFailure::Other
        );
    }
}
