//! The crate's one error type.

use std::net::SocketAddr;

/// Why a simulator could not be configured or started.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    /// A textual spec (`slow:1500`, `flaky:0.3`, `nxdomain`, ...) could not be parsed.
    #[error("invalid {kind} \"{input}\": {reason}")]
    InvalidSpec {
        /// What was being parsed: "fault", "tls mode", "dns answer", ...
        kind: &'static str,
        /// The text as given.
        input: String,
        /// What is wrong and what would be accepted.
        reason: String,
    },
    /// The configuration is inconsistent (a share out of range, a name listed twice, ...).
    #[error("invalid simulator configuration: {0}")]
    InvalidConfig(String),
    /// A socket could not be bound.
    #[error("cannot bind {proto} {addr}")]
    Bind {
        /// "tcp" or "udp".
        proto: &'static str,
        /// The address asked for.
        addr: SocketAddr,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },
    /// Another socket operation failed while starting.
    #[error("{context}")]
    Io {
        /// What was being done.
        context: &'static str,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },
    /// Generating the test CA or a leaf certificate failed.
    #[error("generating test certificates")]
    Certificate(#[from] rcgen::Error),
    /// rustls rejected the generated certificates or the protocol settings.
    #[error("building the tls configuration")]
    Tls(#[from] rustls::Error),
}
