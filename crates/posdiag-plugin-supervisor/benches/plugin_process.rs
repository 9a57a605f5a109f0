//! Benchmarks of a plugin process (`cargo bench -p posdiag-plugin-supervisor --bench plugin_process`):
//! a no-op check's round trip through the host (p50/p99 over 2000 calls),
//! spawn-to-Ready (median of 20) and the host's resident memory before the
//! vendor library is loaded (as reported in its Hello). Prints numbers and
//! the targets; judges nothing.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "benchmark")]

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use tokio::sync::mpsc;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn vm_rss_kib(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

async fn round_trip() {
    let plugin = common::start("ok");
    plugin.ready().await.unwrap();
    let (events, _rx) = mpsc::channel(8);
    let call = || {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        plugin.run_check(Default::default(), None, events.clone(), deadline)
    };
    for _ in 0..200 {
        call().await.unwrap();
    }
    let mut times = Vec::with_capacity(2000);
    for _ in 0..2000 {
        let t = Instant::now();
        call().await.unwrap();
        times.push(t.elapsed());
    }
    times.sort();
    println!(
        "no-op check round trip (2000 calls): p50 {:?}  p99 {:?}  max {:?}   (target p50 <= 200µs)",
        percentile(&times, 0.50),
        percentile(&times, 0.99),
        times[times.len() - 1]
    );
    plugin.shutdown().await;
}

async fn start_to_ready() {
    let mut times = Vec::new();
    let mut rss_before = Vec::new();
    let mut rss_after = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        let plugin = common::start("ok");
        let ready = plugin.ready().await.unwrap();
        times.push(t.elapsed());
        rss_before.push(ready.host_rss_kib);
        rss_after.push(vm_rss_kib(ready.pid).unwrap_or(0));
        plugin.shutdown().await;
    }
    times.sort();
    rss_before.sort_unstable();
    rss_after.sort_unstable();
    println!(
        "host spawn -> Ready (20 starts): median {:?}  max {:?}   (target <= 50ms)",
        percentile(&times, 0.5),
        times[times.len() - 1]
    );
    println!(
        "host RSS before loading the library (Hello): median {} KiB   (target <= 5120 KiB); after loading a C plugin: {} KiB",
        rss_before[rss_before.len() / 2],
        rss_after[rss_after.len() / 2]
    );
}

fn main() {
    // `cargo bench` passes `--bench`; a bare `cargo test --benches` passes
    // nothing: run either way, it takes about a second.
    common::plugin_dir();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        round_trip().await;
        start_to_ready().await;
    });
}
