//! The crate's one error type, [`LinkError`], and its small [`LinkErrorKind`]
//! that the daemon maps to reason codes in one place.
//!
//! Every message names the port or address, so a person reading a finding
//! knows which cable to check without cross-referencing logs.

use std::fmt;
use std::io;
use std::path::PathBuf;

use crate::tcp::{ConnectError, ConnectFailure};

/// Why an operation on a link, a port setting or a port selector failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LinkError {
    /// The deadline passed before the operation finished.
    #[error("timed out {op} {link}: the deadline passed")]
    Timeout {
        /// The port or address.
        link: String,
        /// What was going on ("reading from", "writing to", "opening", …).
        op: &'static str,
    },
    /// The device vanished mid-exchange (unplugged, hung up, its node removed).
    #[error(
        "{link} was lost ({detail}); the device was removed or hung up, reopen it once it is back"
    )]
    Lost {
        /// The port.
        link: String,
        /// What the OS said.
        detail: String,
    },
    /// The peer closed the connection in an orderly way.
    #[error("{link}: the peer closed the connection")]
    Closed {
        /// The address.
        link: String,
    },
    /// The peer reset the connection.
    #[error("{link}: the connection was reset by the peer")]
    Reset {
        /// The address.
        link: String,
    },
    /// Another process holds the port.
    #[error("{link} is busy: another process holds it open{}; stop that process or use another port", holder_suffix(.holders))]
    Busy {
        /// The port.
        link: String,
        /// The processes found holding it, as "pid (comm)", when /proc told us.
        holders: Vec<String>,
    },
    /// No such port.
    #[error("no such port {link}; check the cable and list ports with `posdiag ports`")]
    NotFound {
        /// The port path.
        link: String,
    },
    /// The OS refused access to the port.
    #[error(
        "permission denied opening {link}; add the daemon's user to the `{group}` group, which usually grants access to serial ports"
    )]
    PermissionDenied {
        /// The port.
        link: String,
        /// The group owning the device node (or `dialout` when unknown).
        group: String,
    },
    /// The port refused the settings (or they do not make sense).
    #[error("{link} rejected the settings: {detail}")]
    InvalidSettings {
        /// The port.
        link: String,
        /// What was wrong.
        detail: String,
    },
    /// A serial settings string did not parse.
    #[error(
        "invalid serial settings {}: {part} {problem} (expected e.g. \"9600-8N2\" or \"115200-8N1-rtscts\")",
        cut(input)
    )]
    BadSettings {
        /// The whole string.
        input: String,
        /// The part that is wrong, e.g. "data bits `9`".
        part: String,
        /// Why it is wrong.
        problem: String,
    },
    /// A port selector did not parse.
    #[error(
        "invalid port selector {}: {problem} (expected a path like /dev/ttyUSB0 or usb:VID:PID[:SERIAL[:INTERFACE]] with hex VID/PID)",
        cut(input)
    )]
    BadSelector {
        /// The whole string.
        input: String,
        /// What was wrong.
        problem: String,
    },
    /// No present port matches a selector.
    #[error("no port matches {selector}; is the device plugged in?")]
    NoMatchingPort {
        /// The selector, in its string form.
        selector: String,
    },
    /// More than one present port matches a selector.
    #[error("{selector} matches {} ports ({}); add the serial number or interface to the selector", candidates.len(), join_paths(.candidates))]
    AmbiguousPort {
        /// The selector, in its string form.
        selector: String,
        /// The matching ports.
        candidates: Vec<PathBuf>,
    },
    /// The port's driver stopped answering: an earlier operation is still
    /// stuck in the kernel, so this link is unusable until reopened.
    #[error(
        "{link} is stuck: its driver stopped answering, so the link was abandoned; reopen the port"
    )]
    Stuck {
        /// The port.
        link: String,
    },
    /// Connecting over TCP failed.
    #[error(transparent)]
    Connect(#[from] ConnectError),
    /// A host name did not resolve.
    #[error("resolving {host}: {source}")]
    Resolve {
        /// The host (and port) given.
        host: String,
        /// The resolver's error.
        #[source]
        source: io::Error,
    },
    /// Any other OS error.
    #[error("{op} {link}: {source}")]
    Io {
        /// The port or address.
        link: String,
        /// What was going on.
        op: &'static str,
        /// The OS error.
        #[source]
        source: io::Error,
    },
}

fn holder_suffix(holders: &[String]) -> String {
    if holders.is_empty() {
        String::new()
    } else {
        format!(" ({})", holders.join(", "))
    }
}

fn join_paths(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The class of a [`LinkError`], small and `Copy`, for mapping to reason codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LinkErrorKind {
    /// A deadline passed.
    Timeout,
    /// The device vanished.
    Lost,
    /// The peer closed the connection.
    Closed,
    /// The peer reset the connection.
    Reset,
    /// Another process holds the port.
    Busy,
    /// No such port, or no port matches a selector.
    NotFound,
    /// Access denied.
    PermissionDenied,
    /// Bad settings or selector.
    InvalidSettings,
    /// A selector matched several ports.
    Ambiguous,
    /// A TCP connection was refused.
    Refused,
    /// No route to the host.
    Unreachable,
    /// A host name did not resolve.
    Resolve,
    /// The driver stopped answering.
    Stuck,
    /// Anything else.
    Io,
}

impl LinkErrorKind {
    /// The stable reason code, e.g. `link.lost`.
    pub fn reason_code(self) -> &'static str {
        match self {
            LinkErrorKind::Timeout => "link.timeout",
            LinkErrorKind::Lost => "link.lost",
            LinkErrorKind::Closed => "link.closed",
            LinkErrorKind::Reset => "link.reset",
            LinkErrorKind::Busy => "link.busy",
            LinkErrorKind::NotFound => "link.not_found",
            LinkErrorKind::PermissionDenied => "link.permission",
            LinkErrorKind::InvalidSettings => "link.invalid_settings",
            LinkErrorKind::Ambiguous => "link.ambiguous",
            LinkErrorKind::Refused => "link.refused",
            LinkErrorKind::Unreachable => "link.unreachable",
            LinkErrorKind::Resolve => "link.dns",
            LinkErrorKind::Stuck => "link.stuck",
            LinkErrorKind::Io => "link.io",
        }
    }

    /// Whether the link is gone and the daemon should rediscover and reopen
    /// the port rather than retry on the same link.
    pub fn calls_for_reopen(self) -> bool {
        matches!(
            self,
            LinkErrorKind::Lost
                | LinkErrorKind::Stuck
                | LinkErrorKind::Closed
                | LinkErrorKind::Reset
        )
    }
}

impl fmt::Display for LinkErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.reason_code())
    }
}

impl LinkError {
    /// The class of the error.
    pub fn kind(&self) -> LinkErrorKind {
        match self {
            LinkError::Timeout { .. } => LinkErrorKind::Timeout,
            LinkError::Lost { .. } => LinkErrorKind::Lost,
            LinkError::Closed { .. } => LinkErrorKind::Closed,
            LinkError::Reset { .. } => LinkErrorKind::Reset,
            LinkError::Busy { .. } => LinkErrorKind::Busy,
            LinkError::NotFound { .. } | LinkError::NoMatchingPort { .. } => {
                LinkErrorKind::NotFound
            }
            LinkError::PermissionDenied { .. } => LinkErrorKind::PermissionDenied,
            LinkError::InvalidSettings { .. }
            | LinkError::BadSettings { .. }
            | LinkError::BadSelector { .. } => LinkErrorKind::InvalidSettings,
            LinkError::AmbiguousPort { .. } => LinkErrorKind::Ambiguous,
            LinkError::Stuck { .. } => LinkErrorKind::Stuck,
            LinkError::Connect(e) => match e.failure() {
                ConnectFailure::Refused => LinkErrorKind::Refused,
                ConnectFailure::Timeout => LinkErrorKind::Timeout,
                ConnectFailure::Unreachable => LinkErrorKind::Unreachable,
                ConnectFailure::Reset => LinkErrorKind::Reset,
                ConnectFailure::Other => LinkErrorKind::Io,
            },
            LinkError::Resolve { .. } => LinkErrorKind::Resolve,
            LinkError::Io { .. } => LinkErrorKind::Io,
        }
    }
}

/// A value from outside quoted in an error: escaped, and cut after 64
/// characters with its length said, so a hostile string cannot make a
/// message huge. (Card numbers are masked where messages leave the daemon.)
fn cut(value: &str) -> String {
    const MAX_CHARS: usize = 64;
    if value.chars().count() > MAX_CHARS {
        let head: String = value.chars().take(MAX_CHARS).collect();
        format!("{head:?}… ({} bytes)", value.len())
    } else {
        format!("{value:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_port_and_are_lowercase() {
        let errors = [
            LinkError::Timeout {
                link: "/dev/ttyUSB0".into(),
                op: "reading from",
            },
            LinkError::Busy {
                link: "/dev/ttyUSB0".into(),
                holders: vec!["1234 (minicom)".into()],
            },
            LinkError::PermissionDenied {
                link: "/dev/ttyUSB0".into(),
                group: "dialout".into(),
            },
            LinkError::Lost {
                link: "/dev/ttyUSB0".into(),
                detail: "hang-up".into(),
            },
        ];
        for e in &errors {
            let msg = e.to_string();
            assert!(msg.contains("/dev/ttyUSB0"), "{msg}");
            assert!(!msg.ends_with('.'), "{msg}");
        }
        assert!(errors[1].to_string().contains("1234 (minicom)"));
        assert!(errors[2].to_string().contains("dialout"));
    }

    #[test]
    fn kinds_map_to_reason_codes() {
        let lost = LinkError::Lost {
            link: "x".into(),
            detail: "y".into(),
        };
        assert_eq!(lost.kind().reason_code(), "link.lost");
        assert!(lost.kind().calls_for_reopen());
        let timeout = LinkError::Timeout {
            link: "x".into(),
            op: "reading from",
        };
        assert_eq!(timeout.kind(), LinkErrorKind::Timeout);
        assert!(!timeout.kind().calls_for_reopen());
        let refused = LinkError::Connect(ConnectError::Io {
            addr: "127.0.0.1:1".parse().unwrap(),
            source: io::ErrorKind::ConnectionRefused.into(),
        });
        assert_eq!(refused.kind().to_string(), "link.refused");
    }
}
