//! The daemon's memory with a large history (release build):
//!
//! ```text
//! cargo bench -p posdiag-history --bench history      # builds target/bench-history/history.db
//! cargo bench -p posdiag-tests --bench history_rss
//! ```
//!
//! Starts the real posdiagd twice with the same terminal: once with
//! `[history] enabled = false`, once on the store the history benchmark
//! left behind (1 GB or more with its default 10 million findings), and
//! reports VmRSS after start-up and after history queries (the last 100
//! findings of 50 terminals, availability of one check over 30 days for 20),
//! against the target: at most 20 MB above the daemon without history.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "benchmark")]

use std::path::PathBuf;

use pb::history_service_client::HistoryServiceClient;
use posdiag_proto::v1 as pb;
use posdiag_tests::{Daemon, status_kib};

const BASE: &str = "[defaults]\ncheck_interval_s = 0\n[hosts.acq]\naddress = \"127.0.0.1\"\nport = 9\n[[terminals]]\nid = \"T1\"\nhosts = [\"acq\"]\n";

#[tokio::main]
async fn main() {
    let db = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/bench-history/history.db");
    let Ok(meta) = std::fs::metadata(&db) else {
        println!(
            "{} is missing: run `cargo bench -p posdiag-history --bench history` first",
            db.display()
        );
        return;
    };
    println!(
        "store: {} ({:.0} MB)",
        db.display(),
        meta.len() as f64 / 1e6
    );

    let without = Daemon::start(&format!("{BASE}[history]\nenabled = false\n"));
    // Let the daemon's first allocations settle the same way for both.
    let ch = without.channel().await;
    let _ = pb::terminal_service_client::TerminalServiceClient::new(ch)
        .list_terminals(pb::ListTerminalsRequest::default())
        .await;
    let base = status_kib(without.pid(), "VmRSS:");
    println!(
        "\nidle daemon without history: VmRSS {:.1} MB",
        base as f64 / 1024.0
    );
    drop(without);

    // Retention long enough for the store's 60 days: a store at its steady
    // state has nothing to prune when the daemon starts.
    let with = Daemon::start(&format!(
        "{BASE}[history]\npath = \"{}\"\nretention_days = 3650\ntransitions_retention_days = 3650\nmax_bytes = 1099511627776\n",
        db.display()
    ));
    let started = status_kib(with.pid(), "VmRSS:");
    let ch = with.channel().await;
    let mut h = HistoryServiceClient::new(ch);
    for i in 0..50 {
        let page = h
            .list_findings(pb::ListFindingsRequest {
                filter: Some(pb::HistoryFilter {
                    terminal_id: format!("T{:03}", (i * 37) % 100),
                    ..Default::default()
                }),
                page_size: 100,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert!(!page.findings.is_empty());
    }
    for i in 0..20 {
        h.get_availability(pb::GetAvailabilityRequest {
            terminal_id: format!("T{:03}", (i * 13) % 100),
            check: "host.tcp".into(),
            window: Some(prost_types_duration(30 * 86_400)),
            ..Default::default()
        })
        .await
        .unwrap();
    }
    let queried = status_kib(with.pid(), "VmRSS:");
    let peak = status_kib(with.pid(), "VmHWM:");
    println!(
        "daemon with the store: VmRSS {:.1} MB after start, {:.1} MB after 70 queries (peak {:.1} MB)",
        started as f64 / 1024.0,
        queried as f64 / 1024.0,
        peak as f64 / 1024.0
    );
    println!(
        "above the daemon without history: {:.1} MB (target <= 20 MB)",
        queried.saturating_sub(base) as f64 / 1024.0
    );
}

fn prost_types_duration(seconds: i64) -> prost_types::Duration {
    prost_types::Duration { seconds, nanos: 0 }
}
