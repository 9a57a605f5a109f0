//! Prometheus metrics: `/metrics` on its own listener (`[metrics] listen`)
//! and the same text in a file for node_exporter's textfile collector
//! (`[metrics] textfile`, written to a temporary file and renamed).
//!
//! Everything about terminals, checks, hosts, plugins and the history is
//! read from the engine and the daemon's state *when scraped*
//! (`render.rs`), so a terminal a reload removed has no series left; only
//! the gRPC request counters (`grpc.rs`, a tower layer on every listener)
//! live between scrapes, and each terminal's rendered series until its
//! terminal records a run (`cache.rs`). Labels come from the configuration (terminal ids,
//! host names, vendor and model), plugin manifests, or closed sets
//! (verdicts, reasons, phases, gRPC methods and codes): never an address, a
//! card number, a customer ID or free text. The text is the classic
//! Prometheus format 0.0.4, which `promtool check metrics` and the textfile
//! collector read.

mod cache;
mod grpc;
mod render;
mod server;

use std::sync::Arc;

use bytes::Bytes;
use posdiag_engine::Engine;

use crate::daemon_state::{DaemonState, Store};

pub use grpc::{Counted, GrpcCounters, GrpcMetricsLayer};
pub use render::{DaemonSeries, HistoryState, Scrape, render};
pub use server::{serve, write_textfile_every};

/// Where a scrape reads from; cheap to clone.
#[derive(Debug, Clone)]
pub struct Sources {
    engine: Engine,
    daemon: DaemonState,
    grpc: Arc<GrpcCounters>,
    terminals: Arc<cache::TerminalCache>,
}

impl Sources {
    pub(crate) fn new(engine: Engine, daemon: DaemonState, grpc: Arc<GrpcCounters>) -> Sources {
        Sources {
            engine,
            daemon,
            grpc,
            terminals: Arc::default(),
        }
    }

    /// The daemon's own state now.
    fn daemon_series(&self) -> DaemonSeries {
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
        DaemonSeries {
            plugins,
            history,
            grpc: self.grpc.snapshot(),
            otlp: crate::otlp::snapshot(),
        }
    }

    /// The metrics text now, in the pieces it is assembled from (the
    /// terminals' part shared with the cache, not copied).
    pub async fn pieces(&self) -> [Bytes; 3] {
        let terminals = self.terminals.text(&self.engine).await;
        [
            Bytes::from(render::head()),
            terminals,
            Bytes::from(render::daemon(self.daemon_series())),
        ]
    }

    /// The metrics text now.
    pub async fn text(&self) -> String {
        let pieces = self.pieces().await;
        let mut out = String::with_capacity(pieces.iter().map(Bytes::len).sum());
        for p in &pieces {
            // Each piece is whole lines of text.
            out.push_str(&String::from_utf8_lossy(p));
        }
        out
    }
}
