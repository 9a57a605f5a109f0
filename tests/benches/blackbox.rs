//! The same 1,000 TCP+TLS probes of 100 loopback hosts (simulated TLS acquirers) through
//! the real `posdiagd` (`CheckService/Probe`, `tls = true`, `count = 1`: one connect, then
//! one handshake) and through Debian's `prometheus-blackbox-exporter` (`/probe` with a
//! `tcp` module with `tls: true`, what Prometheus sends it), each driven by 10 concurrent
//! clients. Side by side: wall time, CPU seconds of the prober's process (utime + stime from
//! `/proc`), its peak RSS (VmHWM), and the ratios. Target: posdiag ahead on all three.
//! posdiag does more per probe (a separate connect before the handshake, the certificate
//! recorded and judged, findings built in two languages).
//!
//! Run: `cargo bench -p posdiag-tests --bench blackbox` (installs the exporter on first use).
//! Without `--bench` a smoke version (10 hosts, 20 probes) judges nothing.

#![forbid(unsafe_code)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "benchmark harness: a failure is a failed run"
)]

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use posdiag_proto::v1::ProbeRequest;
use posdiag_proto::v1::check_service_client::CheckServiceClient;
use posdiag_sim::host::{self, HostSimConfig, TlsMode};
use posdiag_tests::obs;
use posdiag_tests::{Daemon, status_kib};

const CLIENTS: usize = 10;

/// CPU seconds (user + system) of a process so far.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) in parentheses.
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of stat(5); here 11 and 12 after ")".
    (ticks(11) + ticks(12)) / 100.0
}

struct Run {
    wall: Duration,
    cpu: f64,
    peak_kib: u64,
}

fn main() {
    let judge = std::env::args().any(|a| a == "--bench");
    let (hosts, probes) = if judge { (100, 1000) } else { (10, 20) };
    let exporter = obs::debian_tool(
        "prometheus-blackbox-exporter",
        "prometheus-blackbox-exporter",
    );
    let _ = posdiag_tests::bin("posdiagd");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let pki = Arc::new(posdiag_sim::pki::Pki::generate().unwrap());
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, pki.ca_pem()).unwrap();
    let sims: Vec<_> = (0..hosts)
        .map(|_| {
            rt.block_on(host::start(HostSimConfig {
                tls: TlsMode::Valid,
                pki: Some(pki.clone()),
                ..HostSimConfig::default()
            }))
            .unwrap()
        })
        .collect();
    let targets: Vec<SocketAddr> = sims.iter().map(|s| s.addr()).collect();
    println!("{probes} TCP+TLS probes of {hosts} loopback hosts, {CLIENTS} concurrent clients");

    // posdiagd: Probe over its unix socket.
    // Keys before any table go into the harness's [daemon] section.
    let daemon = Daemon::start("max_concurrent_probes = 16\n");
    let pid = daemon.pid();
    let cpu0 = cpu_seconds(pid);
    let next = Arc::new(AtomicUsize::new(0));
    let t = Instant::now();
    rt.block_on(async {
        let channel = daemon.channel().await;
        let mut tasks = Vec::new();
        for _ in 0..CLIENTS {
            let mut client = CheckServiceClient::new(channel.clone());
            let next = next.clone();
            let targets = targets.clone();
            tasks.push(tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= probes {
                        break;
                    }
                    let mut stream = client
                        .probe(ProbeRequest {
                            target: targets[i % targets.len()].to_string(),
                            tls: true,
                            server_name: "localhost".into(),
                            count: 1,
                            timeout_ms: 5000,
                            ..Default::default()
                        })
                        .await
                        .expect("Probe")
                        .into_inner();
                    while stream.message().await.expect("Probe stream").is_some() {}
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
    });
    let posdiag = Run {
        wall: t.elapsed(),
        cpu: cpu_seconds(pid) - cpu0,
        peak_kib: status_kib(pid, "VmHWM:"),
    };
    // Where the resident memory is at the end: the heap and stacks
    // (anonymous) and the pages of the binary and libraries (file).
    println!(
        "posdiagd after the run: RSS {:.1} MB = anonymous {:.1} MB + file {:.1} MB, {} threads",
        status_kib(pid, "VmRSS:") as f64 / 1024.0,
        status_kib(pid, "RssAnon:") as f64 / 1024.0,
        status_kib(pid, "RssFile:") as f64 / 1024.0,
        status_kib(pid, "Threads:")
    );
    drop(daemon);

    // blackbox_exporter: /probe as Prometheus calls it.
    let config = dir.path().join("blackbox.yml");
    std::fs::write(
        &config,
        format!(
            "modules:\n  tls_connect:\n    prober: tcp\n    timeout: 5s\n    tcp:\n      tls: true\n      tls_config:\n        ca_file: {}\n        server_name: localhost\n",
            ca.display()
        ),
    )
    .unwrap();
    let port = obs::free_port();
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let mut child = Command::new(&exporter)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    obs::poll(
        "blackbox_exporter to listen",
        Duration::from_secs(30),
        || obs::http_get(addr, "/metrics").ok(),
    );
    let bpid = child.id();
    let cpu0 = cpu_seconds(bpid);
    let next = Arc::new(AtomicUsize::new(0));
    let t = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..CLIENTS {
            let next = next.clone();
            let targets = &targets;
            s.spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= probes {
                        break;
                    }
                    let (status, body) = obs::http_get(
                        addr,
                        &format!(
                            "/probe?module=tls_connect&target={}",
                            targets[i % targets.len()]
                        ),
                    )
                    .unwrap();
                    assert!(
                        status == 200 && body.contains("probe_success 1"),
                        "{status} {body}"
                    );
                }
            });
        }
    });
    let blackbox = Run {
        wall: t.elapsed(),
        cpu: cpu_seconds(bpid) - cpu0,
        peak_kib: status_kib(bpid, "VmHWM:"),
    };
    let _ = child.kill();
    let _ = child.wait();
    drop(sims);

    println!(
        "\n{:<28} {:>10} {:>10} {:>12}",
        "", "wall s", "CPU s", "peak RSS MB"
    );
    for (name, r) in [("posdiagd", &posdiag), ("blackbox_exporter", &blackbox)] {
        println!(
            "{name:<28} {:>10.2} {:>10.2} {:>12.1}",
            r.wall.as_secs_f64(),
            r.cpu,
            r.peak_kib as f64 / 1024.0
        );
    }
    let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { f64::NAN };
    println!(
        "{:<28} {:>10.2} {:>10.2} {:>12.2}",
        "ratio posdiag/blackbox",
        ratio(posdiag.wall.as_secs_f64(), blackbox.wall.as_secs_f64()),
        ratio(posdiag.cpu, blackbox.cpu),
        ratio(posdiag.peak_kib as f64, blackbox.peak_kib as f64)
    );
    if judge {
        let ahead = posdiag.wall <= blackbox.wall
            && posdiag.cpu <= blackbox.cpu
            && posdiag.peak_kib <= blackbox.peak_kib;
        println!(
            "\n== summary\n  posdiag ahead on wall, CPU and RSS: {}",
            if ahead {
                "meets target"
            } else {
                "MISSES target"
            }
        );
    } else {
        println!("\n(smoke run without --bench: numbers are not meaningful and not judged)");
    }
}
