//! The engine's errors: requests it cannot serve. A failing host is not an
//! error; it is a finding, and so is a run that shutdown cancelled
//! ([`cancelled_by_shutdown`]).

use posdiag_core::{IdError, Text};

/// The summary of the `check.cancelled` finding a run ends with when posdiagd shuts down
/// under it (host, link and plugin checks alike).
pub(crate) fn cancelled_by_shutdown() -> Text {
    Text::new(
        "cancelled: posdiagd is shutting down",
        "已取消：posdiagd 正在关闭",
    )
}

/// A request the engine cannot serve.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// The terminal id is malformed.
    #[error("invalid terminal id {}: {source}", posdiag_core::quote(id))]
    InvalidId {
        /// The id given.
        id: String,
        /// What is wrong with it.
        #[source]
        source: IdError,
    },
    /// No terminal has that id.
    #[error("unknown terminal {}; configured terminals: {}", posdiag_core::quote(id), if known.is_empty() { "none".to_owned() } else { known.join(", ") })]
    NotFound {
        /// The id given.
        id: String,
        /// The configured ids.
        known: Vec<String>,
    },
    /// No check has that id.
    #[error("unknown check {}; known checks: {}", posdiag_core::quote(id), known.join(", "))]
    UnknownCheck {
        /// The id given.
        id: String,
        /// The known check ids.
        known: Vec<String>,
    },
    /// Too many ad-hoc probes are running.
    #[error("too many probes in flight (at most {limit}); retry when one has finished")]
    Busy {
        /// The limit.
        limit: usize,
    },
    /// An ad-hoc serial probe named something that is not a serial port.
    #[error("{0}")]
    NotSerial(#[from] posdiag_transport::NotSerial),
    /// The engine is shutting down.
    #[error("posdiagd is shutting down")]
    ShuttingDown,
}
