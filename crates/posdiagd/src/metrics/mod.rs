//! Prometheus metrics: `/metrics` on its own listener (`[metrics] listen`)
//! and the same text in a file for node_exporter's textfile collector
//! (`[metrics] textfile`, written to a temporary file and renamed).
//!
//! Everything about terminals, checks, hosts, plugins and the history is
//! read from the engine and the daemon's state *when scraped*
//! (`render.rs`), so a terminal a reload removed has no series left; only
//! the gRPC request counters (`grpc.rs`, a tower layer on every listener)
//! live between scrapes. Labels come from the configuration (terminal ids,
//! host names, vendor and model), plugin manifests, or closed sets
//! (verdicts, reasons, phases, gRPC methods and codes): never an address, a
//! card number, a customer ID or free text. The text is the classic
//! Prometheus format 0.0.4, which `promtool check metrics` and the textfile
//! collector read.

mod grpc;
mod render;
mod server;

use std::sync::Arc;

use posdiag_engine::Engine;

use crate::daemon_state::{DaemonState, Store};

pub use grpc::{Counted, GrpcCounters, GrpcMetricsLayer};
pub use render::{HistoryState, Scrape, render};
pub use server::{serve, write_textfile_every};

/// Where a scrape reads from; cheap to clone.
#[derive(Debug, Clone)]
pub struct Sources {
    engine: Engine,
    daemon: DaemonState,
    grpc: Arc<GrpcCounters>,
}

impl Sources {
    pub(crate) fn new(engine: Engine, daemon: DaemonState, grpc: Arc<GrpcCounters>) -> Sources {
        Sources {
            engine,
            daemon,
            grpc,
        }
    }

    /// The state now, gathered for one rendering.
    pub async fn gather(&self) -> Scrape {
        let terminals = self.engine.snapshots().await.unwrap_or_default();
        let plugins = self
            .engine
            .plugins()
            .iter()
            .map(|p| p.plugin.status())
            .collect();
        let history = match self.daemon.store() {
            Store::Disabled => HistoryState::Disabled,
            Store::Unavailable(_) => HistoryState::Unavailable,
            Store::Open(h) => HistoryState::Open(h.status()),
        };
        Scrape {
            terminals,
            tally: self.engine.tally().snapshot(),
            plugins,
            history,
            grpc: self.grpc.snapshot(),
            otlp: crate::otlp::snapshot(),
            now: std::time::SystemTime::now(),
        }
    }

    /// The metrics text now.
    pub async fn text(&self) -> String {
        render(self.gather().await)
    }
}
