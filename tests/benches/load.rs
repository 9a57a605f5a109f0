//! Many clients at once against the real `posdiagd` (release binary under `cargo bench`), the
//! load of the hardening issue: 200 clients, each on its own connection to the unix socket,
//! each running 50 `CheckService/RunCheck` calls one after another with a 30 s gRPC deadline,
//! spread over 4 terminals (ZVT over TCP against the simulated terminal, one healthy simulated
//! acquirer host each): 10,000 runs, 50 clients per terminal.
//!
//! It prints the latency distribution a client sees (p50, p95, p99, max), how many runs missed
//! the deadline, the daemon's VmRSS/VmHWM after, and the throughput. A terminal has one link, so
//! its exchanges take turns; runs that queue while an exchange is under way share the next one
//! (`link::LastExchange`), so a run waits about two turns whatever the number of clients, instead
//! of (runs ahead of it) × (one turn).
//!
//! Run: `cargo bench -p posdiag-tests --bench load` (`POSDIAG_BENCH_LOAD=200,5,1` for 200 clients
//! × 5 runs on one terminal). Without `--bench` (as under
//! `cargo test --benches`) it runs a small smoke version that checks the harness and judges
//! nothing.

#![forbid(unsafe_code)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "benchmark harness: a failure is a failed run"
)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use posdiag_proto::v1 as pb;
use posdiag_proto::v1::check_service_client::CheckServiceClient;
use posdiag_sim::host::{self, HostSimConfig};
use posdiag_sim::zvt::{self, ZvtSimConfig, ZvtTransport};
use posdiag_tests::{Daemon, percentile, status_kib};
use tokio_stream::StreamExt;

const DEADLINE: Duration = Duration::from_secs(30);

/// One client's outcome per run: its latency, or None when the deadline passed.
async fn client(daemon: &Daemon, terminal: String, runs: usize) -> Vec<Option<Duration>> {
    let mut checks = CheckServiceClient::new(daemon.channel().await);
    let mut out = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        let mut req = tonic::Request::new(pb::RunCheckRequest {
            terminal_id: terminal.clone(),
            ..Default::default()
        });
        req.set_timeout(DEADLINE);
        let outcome = match checks.run_check(req).await {
            Ok(stream) => {
                let mut stream = stream.into_inner();
                let mut ok = true;
                while let Some(ev) = stream.next().await {
                    if let Err(status) = ev {
                        assert_eq!(status.code(), tonic::Code::DeadlineExceeded, "{status:?}");
                        ok = false;
                    }
                }
                ok
            }
            Err(status) => {
                assert_eq!(status.code(), tonic::Code::DeadlineExceeded, "{status:?}");
                false
            }
        };
        out.push(outcome.then(|| started.elapsed()));
    }
    out
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    // POSDIAG_BENCH_LOAD=CLIENTS,RUNS,TERMINALS changes the load, e.g. "200,5,1"
    // puts every client on one terminal.
    let (clients, runs, terminals) = match std::env::var("POSDIAG_BENCH_LOAD") {
        Ok(v) => {
            let n: Vec<usize> = v.split(',').map(|x| x.trim().parse().unwrap()).collect();
            (n[0], n[1], n[2])
        }
        Err(_) if full => (200, 50, 4),
        Err(_) => (8, 3, 2),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut sims = Vec::new();
    let mut hosts = Vec::new();
    let mut config = String::from(
        "[defaults]\ncount = 1\ninterval_ms = 0\ntimeout_ms = 2000\ncheck_interval_s = 0\n",
    );
    for i in 0..terminals {
        let sim = zvt::start(ZvtSimConfig {
            transport: ZvtTransport::Tcp {
                bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            },
            ..ZvtSimConfig::default()
        })
        .unwrap();
        let host = rt.block_on(host::start(HostSimConfig::default())).unwrap();
        config.push_str(&format!(
            "[hosts.acq{i}]\naddress = \"127.0.0.1\"\nport = {}\n\
             [[terminals]]\nid = \"T{i}\"\nlink = \"tcp:{}\"\nhosts = [\"acq{i}\"]\n",
            host.addr().port(),
            sim.local_addr().unwrap(),
        ));
        sims.push(sim);
        hosts.push(host);
    }
    let daemon = Arc::new(Daemon::start(&config));
    let started = Instant::now();
    let results: Vec<Vec<Option<Duration>>> = rt.block_on(async {
        let mut set = tokio::task::JoinSet::new();
        for c in 0..clients {
            let daemon = daemon.clone();
            let terminal = format!("T{}", c % terminals);
            set.spawn(async move { client(&daemon, terminal, runs).await });
        }
        let mut all = Vec::new();
        while let Some(r) = set.join_next().await {
            all.push(r.unwrap());
        }
        all
    });
    let wall = started.elapsed();
    let mut done: Vec<Duration> = results.iter().flatten().flatten().copied().collect();
    let missed = results.iter().flatten().filter(|r| r.is_none()).count();
    done.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let pid = daemon.pid();
    println!(
        "{clients} clients x {runs} RunChecks over {terminals} terminals in {:.1} s: \
         p50 {:.1} ms p95 {:.1} ms p99 {:.1} ms max {:.1} ms; {missed} of {} missed the {} s deadline; \
         daemon VmRSS {} KiB VmHWM {} KiB",
        wall.as_secs_f64(),
        ms(percentile(&done, 50.0)),
        ms(percentile(&done, 95.0)),
        ms(percentile(&done, 99.0)),
        ms(*done.last().unwrap()),
        clients * runs,
        DEADLINE.as_secs(),
        status_kib(pid, "VmRSS:"),
        status_kib(pid, "VmHWM:"),
    );
    println!(
        "per terminal: {} clients in turn at one link; throughput {:.0} runs/s",
        clients / terminals,
        done.len() as f64 / wall.as_secs_f64()
    );
    if full && missed > 0 {
        println!("DEADLINES MISSED");
    }
}
