//! ZVT status enquiry round trip over a pseudo-terminal against the simulated terminal, through
//! the real `posdiagd` (release binary under `cargo bench`).
//!
//! Each iteration asks `CheckService/RunCheck` for `terminal.link` on a terminal whose link is
//! the simulator's pty (`serial:` with DLE/STX framing, CRC, ACK bytes). It reports two numbers:
//! - `round_trip`, the daemon's own measurement from writing the status-enquiry frame to
//!   decoding the completion (every frame and ACK byte of the exchange, the simulator's
//!   answer time included: an upper bound on posdiag's time). Target: p50 ≤ 1 ms.
//! - the whole check as a client sees it (open the port with its settings, the exchange, close,
//!   the gRPC stream), for context.
//!
//! Run: `cargo bench -p posdiag-tests --bench zvt_pty`. Without `--bench` (as under
//! `cargo test --benches`) it runs a few iterations to check the harness and judges nothing.

#![forbid(unsafe_code)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "benchmark harness: a failure is a failed run"
)]

use std::time::{Duration, Instant};

use posdiag_proto::v1 as pb;
use posdiag_proto::v1::check_service_client::CheckServiceClient;
use posdiag_sim::zvt::{self, ZvtSimConfig, ZvtTransport};
use posdiag_tests::{Daemon, percentile};
use tokio_stream::StreamExt;

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let (warmup, calls) = if full { (50, 1000) } else { (2, 5) };
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("zvt0");
    let _sim = zvt::start(ZvtSimConfig {
        transport: ZvtTransport::Pty {
            link: Some(link.clone()),
        },
        ..ZvtSimConfig::default()
    })
    .unwrap();
    let daemon = Daemon::start(&format!(
        "[defaults]\ncheck_interval_s = 0\n[[terminals]]\nid = \"T1\"\nlink = \"serial:{}\"\n",
        link.display()
    ));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut checks = CheckServiceClient::new(daemon.channel().await);
        let mut exchange = Vec::with_capacity(calls);
        let mut whole = Vec::with_capacity(calls);
        for i in 0..warmup + calls {
            let started = Instant::now();
            let mut stream = checks
                .run_check(pb::RunCheckRequest {
                    terminal_id: "T1".into(),
                    checks: vec!["terminal.link".into()],
                    lang: String::new(),
                })
                .await
                .unwrap()
                .into_inner();
            let mut round_trip = None;
            while let Some(ev) = stream.next().await {
                if let Some(pb::check_event::Event::Finding(f)) = ev.unwrap().event {
                    assert_eq!(f.reason, "ok", "{f:#?}");
                    round_trip = f.evidence.iter().find_map(|e| match (&*e.name, &e.value) {
                        ("round_trip", Some(pb::evidence::Value::Number(ms))) => Some(*ms),
                        _ => None,
                    });
                }
            }
            if i >= warmup {
                whole.push(started.elapsed());
                exchange.push(Duration::from_secs_f64(round_trip.unwrap() / 1e3));
            }
        }
        exchange.sort();
        whole.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        println!(
            "zvt status enquiry over a pty, {calls} calls: round_trip p50 {:.3} ms p95 {:.3} ms p99 {:.3} ms (target p50 <= 1 ms)",
            ms(percentile(&exchange, 50.0)),
            ms(percentile(&exchange, 95.0)),
            ms(percentile(&exchange, 99.0)),
        );
        println!(
            "whole terminal.link check via gRPC (open 9600-8N2, exchange, close): p50 {:.3} ms p95 {:.3} ms",
            ms(percentile(&whole, 50.0)),
            ms(percentile(&whole, 95.0)),
        );
        if full && percentile(&exchange, 50.0) > Duration::from_millis(1) {
            println!("ABOVE TARGET");
        }
    });
}
