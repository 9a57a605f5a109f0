//! Benchmarks of the terminal checks through the real `posdiagd` (release
//! binaries under `cargo bench`) with the reference plugin bundles assembled
//! by `plugins/assemble.sh --release`:
//!
//! 1. **Doctor on a healthy ZVT terminal over a pseudo-terminal**: wall time of
//!    `CheckService/RunDoctor` (terminal.link, terminal.status, reader.status,
//!    host.terminal_diagnosis, terminal.software through posdiag.zvt), median
//!    and p95 of N runs. Target: ≤ 200 ms.
//! 2. **1,000 ISO 8583 echoes to 100 simulated acquirers at once**: 100
//!    concurrent `CheckService/ProbeLink` calls (posdiag.iso8583, 10 echoes each,
//!    no pause between echoes) against 100 simulated hosts, wall time until the
//!    last stream ends, and the daemon's VmRSS / VmHWM after. Targets: ≤ 1 s,
//!    ≤ 64 MB.
//!
//! Run: `cargo bench -p posdiag-tests --bench doctor`. Without `--bench` (as
//! under `cargo test --benches`) it runs a small smoke version.

#![forbid(unsafe_code)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "benchmark harness: a failure is a failed run"
)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use posdiag_proto::v1 as pb;
use posdiag_proto::v1::check_service_client::CheckServiceClient;
use posdiag_sim::host::{self, Answer, HostSimConfig};
use posdiag_sim::iso8583::{IsoHost, IsoScenario};
use posdiag_sim::zvt::{self, ZvtSimConfig, ZvtTransport};
use posdiag_tests::{Daemon, percentile, status_kib};
use tokio_stream::StreamExt;

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let (runs, hosts, echoes) = if full { (30, 100, 10) } else { (2, 4, 2) };
    // The bench binary runs from target/release under `cargo bench`.
    let release = std::env::current_exe()
        .unwrap()
        .components()
        .any(|c| c.as_os_str() == "release");
    let dir = tempfile::tempdir().unwrap();
    let plugins: PathBuf = dir.path().join("plugins");
    posdiag_tests::assemble_bundles(&plugins, release);

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        // 1. The doctor on a healthy ZVT terminal over a pty.
        let link = dir.path().join("zvt0");
        let _sim = zvt::start(ZvtSimConfig {
            transport: ZvtTransport::Pty {
                link: Some(link.clone()),
            },
            ..ZvtSimConfig::default()
        })
        .unwrap();
        let mut acquirers = Vec::new();
        for _ in 0..hosts {
            let iso = IsoHost::named("ascii", IsoScenario::default()).unwrap();
            acquirers.push(
                host::start(HostSimConfig {
                    answer: Answer::Iso8583(iso),
                    ..HostSimConfig::default()
                })
                .await
                .unwrap(),
            );
        }
        let daemon = Daemon::start(&format!(
            "max_concurrent_probes = {}\n[defaults]\ncheck_interval_s = 0\n[plugins]\ndir = \"{}\"\n\
             [[terminals]]\nid = \"T1\"\nmodel = \"Move/5000\"\nlink = \"serial:{}\"\n",
            hosts.max(16),
            plugins.display(),
            link.display()
        ));
        let channel = daemon.channel().await;
        let doctor = |channel: tonic::transport::Channel| async move {
            let mut c = CheckServiceClient::new(channel);
            let mut s = c
                .run_doctor(pb::RunDoctorRequest {
                    terminal_id: "T1".into(),
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_inner();
            let mut overall = 0;
            while let Some(ev) = s.next().await {
                if let Some(pb::doctor_event::Event::Diagnosis(d)) = ev.unwrap().event {
                    overall = d.overall;
                }
            }
            overall
        };
        // Warm-up: the plugin host starts and loads the library.
        assert_eq!(doctor(channel.clone()).await, pb::Verdict::Ok as i32);
        let mut times = Vec::new();
        for _ in 0..runs {
            let t = Instant::now();
            let overall = doctor(channel.clone()).await;
            times.push(t.elapsed());
            assert_eq!(overall, pb::Verdict::Ok as i32);
        }
        times.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        println!(
            "1. doctor on a healthy ZVT terminal over a pty, {runs} runs: median {:.1} ms, p95 {:.1} ms, max {:.1} ms (target <= 200 ms)",
            ms(percentile(&times, 50.0)),
            ms(percentile(&times, 95.0)),
            ms(times[times.len() - 1]),
        );

        // 2. 100 concurrent echo probes of 10 echoes each.
        let started = Instant::now();
        let mut tasks = Vec::new();
        for a in &acquirers {
            let channel = channel.clone();
            let link = format!("tcp:{}", a.addr());
            tasks.push(tokio::spawn(async move {
                let mut c = CheckServiceClient::new(channel);
                let mut s = c
                    .probe_link(pb::ProbeLinkRequest {
                        protocol: "iso8583".into(),
                        link,
                        args: [
                            ("dialect".to_owned(), "ascii".to_owned()),
                            ("count".to_owned(), echoes.to_string()),
                            ("interval_ms".to_owned(), "0".to_owned()),
                        ]
                        .into_iter()
                        .collect(),
                        ..Default::default()
                    })
                    .await
                    .unwrap()
                    .into_inner();
                let mut ok = false;
                while let Some(ev) = s.next().await {
                    if let Some(pb::check_event::Event::Finding(f)) = ev.unwrap().event {
                        ok = f.reason == "ok";
                    }
                }
                ok
            }));
        }
        let mut all_ok = true;
        for t in tasks {
            all_ok &= t.await.unwrap();
        }
        let wall = started.elapsed();
        let pid = daemon.pid();
        println!(
            "2. {} ISO 8583 echoes to {hosts} simulated acquirers, {hosts} concurrent probes: wall {:.0} ms (target <= 1000 ms), all OK: {all_ok}; daemon VmRSS {:.1} MiB, VmHWM {:.1} MiB (target <= 64 MB)",
            hosts * echoes,
            ms(wall),
            status_kib(pid, "VmRSS:") as f64 / 1024.0,
            status_kib(pid, "VmHWM:") as f64 / 1024.0,
        );
    });
}
