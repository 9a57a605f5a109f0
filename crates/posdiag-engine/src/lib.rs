//! The engine: one task per configured terminal that owns the terminal's
//! state, runs its checks on demand and on a schedule, and keeps its latest
//! findings and a bounded history; plus ad-hoc probes of hosts that are not
//! configured.
//!
//! The engine never sees protobuf types, environment variables, files or
//! command-line arguments: the daemon translates between those and the
//! types in [`model`] and `posdiag_core`.

#![forbid(unsafe_code)]

mod checkset;
mod engine;
mod error;
mod host;
mod link;
pub mod model;
pub mod plugins;
mod recorder;
pub mod stats;
pub mod tally;
mod terminal;

use std::time::{Duration, SystemTime};

pub use checkset::CheckSet;
pub use engine::{Applied, ChangeKind, Engine, EngineConfig, TerminalChange, TerminalSnapshot};
pub use error::EngineError;
pub use link::ports::{LinkState, PortChange, PortChangeKind, PortView, PortsSpec, PortsView};
use posdiag_core::{Finding, Verdict};
pub use recorder::RunBy;

/// What a running check reports as it goes.
#[derive(Debug, Clone)]
pub enum Progress {
    /// A phase (one check on one subject) started.
    PhaseStarted {
        /// The check id.
        phase: String,
        /// What it works on.
        subject: String,
    },
    /// A phase ended.
    PhaseFinished {
        /// The check id.
        phase: String,
        /// What it worked on.
        subject: String,
        /// The verdict it reached.
        verdict: Verdict,
        /// How long it took.
        duration: Duration,
    },
    /// A finding is known.
    Finding(Finding),
    /// The run ended; always the last event.
    Completed {
        /// Worst verdict, `None` when the run produced no findings.
        overall: Option<Verdict>,
        /// Number of findings.
        findings: u32,
        /// Wall time of the run.
        duration: Duration,
        /// When the run ended.
        at: SystemTime,
    },
}
