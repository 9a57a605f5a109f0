//! Overhead benchmark of the real `posdiagd` (release binary under `cargo bench`), against the
//! targets of the performance issue:
//!
//! 1. **Probe vs. health round trip**: `CheckService/Probe` (target = a loopback host simulator,
//!    `count = 1`, no TLS, no exchange, i.e. one TCP connect; the stream drained to its end)
//!    against `grpc.health.v1.Health/Check` on the same daemon and the same channel. 100 warm-up
//!    calls of each, then N = 2000 sequential calls of each (interleaved, so load drift from other
//!    work on the machine hits both alike). Prints p50/p99 in µs and the p50 and p99 ratios
//!    probe/health. Target: ratio ≤ 2. For interpretation it also measures a raw in-process TCP
//!    connect to the same simulator (the work the probe must do that health does not) and the
//!    run time the daemon itself reports in the `Completed` event.
//! 2. **Idle resident memory**: VmRSS of a daemon with 3 terminals (one host each, scheduling
//!    off) right after READY=1. Target: ≤ 15 MB.
//! 3. **Start-up time**: from spawning the process until READY=1 arrived on the notify socket and
//!    a first unix-socket connect succeeded; 20 runs, median and max. Target: ≤ 100 ms.
//!
//! Run: `cargo bench -p posdiag-tests --bench overhead`. Without `--bench` (as under
//! `cargo test --benches`) it runs a small smoke version that checks the harness works and
//! judges nothing.

#![forbid(unsafe_code)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "benchmark harness: a failure is a failed run"
)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use posdiag_proto::v1::check_event::Event;
use posdiag_proto::v1::check_service_client::CheckServiceClient;
use posdiag_proto::v1::{ProbeRequest, Verdict};
use posdiag_sim::host::{self, HostSimConfig};
use posdiag_tests::Daemon;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

/// How much work one run does.
struct Plan {
    warmup: usize,
    calls: usize,
    startups: usize,
    judge: bool,
}

const TERMINALS: usize = 3;

fn main() {
    let plan = if std::env::args().any(|a| a == "--bench") {
        Plan {
            warmup: 100,
            calls: 2000,
            startups: 20,
            judge: true,
        }
    } else {
        Plan {
            warmup: 5,
            calls: 20,
            startups: 2,
            judge: false,
        }
    };
    // Builds posdiagd (same profile as this executable) before anything is timed.
    let bin = posdiag_tests::bin("posdiagd");
    println!("posdiagd under test: {}", bin.display());
    println!(
        "cores: {}, load average at start: {}",
        std::thread::available_parallelism().map_or(0, usize::from),
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );

    // One single-threaded client runtime: the fewest thread hops on the client side, the same
    // for every kind of call. The simulator's accept loop runs here too (the kernel completes
    // the TCP handshake before accept, so that does not delay a connect).
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let sim = rt
        .block_on(host::start(HostSimConfig::default()))
        .expect("starting the host simulator");
    let target = sim.addr();

    // In this order: the round trips first, while the machine is least disturbed by spawning.
    let verdicts = [
        round_trips(&rt, &plan, target),
        idle_memory(target),
        startup(&plan, target),
    ];
    drop(sim);

    if plan.judge {
        println!("\n== summary");
        for (name, ok) in &verdicts {
            println!(
                "  {:<44} {}",
                name,
                if *ok { "meets target" } else { "MISSES target" }
            );
        }
    } else {
        println!("\n(smoke run without --bench: numbers are not meaningful and not judged)");
    }
}

/// A config with `TERMINALS` terminals, each with one host at `sim`, and no scheduled checks.
fn config(sim: SocketAddr) -> String {
    let mut c = format!(
        "[defaults]\ncheck_interval_s = 0\n\n[hosts.sim]\naddress = \"{}\"\nport = {}\n",
        sim.ip(),
        sim.port()
    );
    for i in 1..=TERMINALS {
        c.push_str(&format!(
            "\n[[terminals]]\nid = \"T{i}\"\nhosts = [\"sim\"]\n"
        ));
    }
    c
}

// ---------------------------------------------------------------- 1. round trips

fn round_trips(rt: &tokio::runtime::Runtime, plan: &Plan, target: SocketAddr) -> (String, bool) {
    println!("\n== 1. Probe (count=1, one TCP connect) vs Health/Check round trip");
    let daemon = Daemon::start(&config(target));
    let (health, probes, connect) = rt.block_on(async {
        let channel = daemon.channel().await;
        let mut h = HealthClient::new(channel.clone());
        let mut p = CheckServiceClient::new(channel);
        for _ in 0..plan.warmup {
            health_call(&mut h).await;
            probe_call(&mut p, target).await;
            tcp_connect(target).await;
        }
        let mut health = Vec::with_capacity(plan.calls);
        let mut probe = Vec::with_capacity(plan.calls);
        let mut connect = Vec::with_capacity(plan.calls);
        for i in 0..plan.calls {
            // Alternate the order so neither kind always follows the other.
            if i % 2 == 0 {
                health.push(health_call(&mut h).await);
                probe.push(probe_call(&mut p, target).await);
            } else {
                probe.push(probe_call(&mut p, target).await);
                health.push(health_call(&mut h).await);
            }
            connect.push(tcp_connect(target).await);
        }
        (health, probe, connect)
    });
    let rss_after = rss_kib(daemon.pid());
    drop(daemon);

    let health = Summary::of(health);
    let probe = Summary::of(probes.iter().map(|p| p.total).collect());
    let connect = Summary::of(connect);
    let inside = Summary::of(probes.iter().map(|p| p.run).collect());
    println!(
        "  N = {} sequential calls of each after {} warm-up calls, same daemon, same channel",
        plan.calls, plan.warmup
    );
    println!("  {:<46} {:>10} {:>10}", "", "p50 µs", "p99 µs");
    health.row("Health/Check round trip");
    probe.row("Probe round trip (stream drained)");
    connect.row("raw TCP connect to the sim (in-process)");
    inside.row("Probe run time reported by daemon (Completed)");
    let r50 = probe.p50_us() / health.p50_us();
    let r99 = probe.p99_us() / health.p99_us();
    println!("  ratio probe/health:  p50 {r50:.2}x   p99 {r99:.2}x   (target <= 2x)");
    println!(
        "  probe p50 - raw connect p50 = {:.1} µs  (that minus health p50 = {:.1} µs)",
        probe.p50_us() - connect.p50_us(),
        probe.p50_us() - connect.p50_us() - health.p50_us()
    );
    println!(
        "  probe p50 - daemon-reported run p50 = {:.1} µs (gRPC + stream of 4 events around the run)",
        probe.p50_us() - inside.p50_us()
    );
    println!("  where a probe's round trip goes (p50 of each step, µs):");
    type Step = fn(&ProbeTiming) -> Duration;
    let steps: [(&str, Step); 4] = [
        ("call -> response headers", |p| p.headers),
        ("headers -> first event", |p| p.first - p.headers),
        ("first event -> Completed event", |p| p.completed - p.first),
        ("Completed event -> end of stream", |p| {
            p.total - p.completed
        }),
    ];
    for (name, step) in steps {
        println!(
            "    {:<44} {:>10.1}",
            name,
            Summary::of(probes.iter().map(step).collect()).p50_us()
        );
    }
    if let Some(kib) = rss_after {
        println!(
            "  (daemon VmRSS after these {} calls: {:.1} MiB)",
            2 * (plan.warmup + plan.calls),
            kib as f64 / 1024.0
        );
    }
    ("1. probe/health p50 ratio <= 2".into(), r50 <= 2.0)
}

/// One Health/Check call.
async fn health_call(client: &mut HealthClient<Channel>) -> Duration {
    let t = Instant::now();
    let resp = client
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .expect("Health/Check");
    let elapsed = t.elapsed();
    assert_eq!(resp.into_inner().status, 1, "daemon not SERVING");
    elapsed
}

/// Client-side time points of one Probe call, each measured from the call's start.
struct ProbeTiming {
    /// The response headers arrived (`probe().await` returned).
    headers: Duration,
    /// The first event (PhaseStarted host.tcp) arrived.
    first: Duration,
    /// The Completed event arrived.
    completed: Duration,
    /// The stream ended (trailers): the round trip.
    total: Duration,
    /// The run time the daemon reports in Completed.
    run: Duration,
}

/// One Probe call, stream drained.
async fn probe_call(client: &mut CheckServiceClient<Channel>, target: SocketAddr) -> ProbeTiming {
    let req = ProbeRequest {
        target: target.to_string(),
        count: 1,
        timeout_ms: 3000,
        ..Default::default()
    };
    let t = Instant::now();
    let mut stream = client.probe(req).await.expect("Probe").into_inner();
    let headers = t.elapsed();
    let (mut first, mut at_completed) = (None, None);
    let mut completed = None;
    let mut events = 0;
    while let Some(ev) = stream.message().await.expect("Probe stream") {
        first.get_or_insert_with(|| t.elapsed());
        events += 1;
        if let Some(Event::Completed(c)) = ev.event {
            at_completed = Some(t.elapsed());
            completed = Some(c);
        }
    }
    let total = t.elapsed();
    let c = completed.expect("the Probe stream ended without a Completed event");
    assert_eq!(
        c.overall,
        Verdict::Ok as i32,
        "probe of the healthy sim was not OK ({events} events)"
    );
    assert_eq!(
        events, 4,
        "expected PhaseStarted, PhaseFinished, Finding, Completed"
    );
    let d = c.duration.unwrap_or_default();
    ProbeTiming {
        headers,
        first: first.unwrap_or(total),
        completed: at_completed.unwrap_or(total),
        total,
        run: Duration::new(d.seconds as u64, d.nanos as u32),
    }
}

/// A plain TCP connect (and close) to the simulator from this process.
async fn tcp_connect(target: SocketAddr) -> Duration {
    let t = Instant::now();
    let s = tokio::net::TcpStream::connect(target)
        .await
        .expect("connect to the sim");
    let elapsed = t.elapsed();
    drop(s);
    elapsed
}

// ---------------------------------------------------------------- 2. memory

fn idle_memory(target: SocketAddr) -> (String, bool) {
    println!(
        "\n== 2. Idle resident memory ({TERMINALS} terminals, one host each, check_interval_s = 0)"
    );
    let daemon = Daemon::start(&config(target));
    let at_ready = status_fields(daemon.pid());
    std::thread::sleep(Duration::from_millis(300));
    let later = status_fields(daemon.pid());
    drop(daemon);
    println!("  right after READY=1: {at_ready}");
    println!("  300 ms later:        {later}");
    let rss = at_ready.rss_kib.max(later.rss_kib);
    let mib = rss as f64 / 1024.0;
    println!("  VmRSS {mib:.1} MiB ({rss} KiB)   (target <= 15 MB)");
    // "15 MB" read as 15 MiB; 15 * 10^6 bytes would be 14.3 MiB.
    ("2. idle VmRSS <= 15 MB".into(), rss <= 15 * 1024)
}

#[derive(Debug, Clone, Copy, Default)]
struct MemStatus {
    rss_kib: u64,
    anon_kib: u64,
    file_kib: u64,
    hwm_kib: u64,
    threads: u64,
}

impl std::fmt::Display for MemStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "VmRSS {} KiB (RssAnon {} + RssFile {}), VmHWM {} KiB, threads {}",
            self.rss_kib, self.anon_kib, self.file_kib, self.hwm_kib, self.threads
        )
    }
}

fn status_fields(pid: u32) -> MemStatus {
    let text =
        std::fs::read_to_string(format!("/proc/{pid}/status")).expect("reading /proc/<pid>/status");
    let mut m = MemStatus::default();
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let n = value
            .split_whitespace()
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        match key {
            "VmRSS" => m.rss_kib = n,
            "RssAnon" => m.anon_kib = n,
            "RssFile" => m.file_kib = n,
            "VmHWM" => m.hwm_kib = n,
            "Threads" => m.threads = n,
            _ => {}
        }
    }
    m
}

fn rss_kib(pid: u32) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .map(|_| status_fields(pid).rss_kib)
}

// ---------------------------------------------------------------- 3. start-up

fn startup(plan: &Plan, target: SocketAddr) -> (String, bool) {
    println!("\n== 3. Start-up: spawn -> READY=1 on NOTIFY_SOCKET -> first unix-socket connect");
    let cfg = config(target);
    let mut ready = Vec::with_capacity(plan.startups);
    let mut accepting = Vec::with_capacity(plan.startups);
    let mut retries = 0u32;
    for _ in 0..plan.startups {
        let t = Instant::now();
        let daemon = Daemon::start(&cfg);
        ready.push(t.elapsed());
        loop {
            match std::os::unix::net::UnixStream::connect(&daemon.socket) {
                Ok(_) => break,
                Err(_) if t.elapsed() < Duration::from_secs(10) => retries += 1,
                Err(e) => panic!("no connect 10 s after spawn: {e}"),
            }
        }
        accepting.push(t.elapsed());
        drop(daemon);
    }
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let first = ms(accepting[0]);
    let ready = Summary::of(ready);
    let accepting = Summary::of(accepting);
    println!(
        "  {} runs (each includes the harness's temp dir, config write and spawn)",
        plan.startups
    );
    println!(
        "  {:<28} {:>10} {:>10} {:>10}",
        "", "median ms", "max ms", "min ms"
    );
    for (name, s) in [
        ("READY=1 received", &ready),
        ("READY=1 + connect succeeded", &accepting),
    ] {
        println!(
            "  {:<28} {:>10.2} {:>10.2} {:>10.2}",
            name,
            ms(s.p50()),
            ms(s.max()),
            ms(s.min())
        );
    }
    println!(
        "  first run {first:.2} ms; connect attempts refused after READY: {retries}   (target <= 100 ms)"
    );
    (
        "3. start-up to accepting, median <= 100 ms".into(),
        accepting.p50() <= Duration::from_millis(100),
    )
}

// ---------------------------------------------------------------- statistics

/// Sorted samples.
struct Summary(Vec<Duration>);

impl Summary {
    fn of(mut v: Vec<Duration>) -> Self {
        assert!(!v.is_empty());
        v.sort_unstable();
        Summary(v)
    }

    /// Nearest-rank percentile.
    fn pct(&self, p: f64) -> Duration {
        let rank = (p / 100.0 * self.0.len() as f64).ceil() as usize;
        self.0[rank.clamp(1, self.0.len()) - 1]
    }

    fn p50(&self) -> Duration {
        self.pct(50.0)
    }

    fn p50_us(&self) -> f64 {
        self.p50().as_secs_f64() * 1e6
    }

    fn p99_us(&self) -> f64 {
        self.pct(99.0).as_secs_f64() * 1e6
    }

    fn max(&self) -> Duration {
        self.0[self.0.len() - 1]
    }

    fn min(&self) -> Duration {
        self.0[0]
    }

    fn row(&self, name: &str) {
        println!(
            "  {:<46} {:>10.1} {:>10.1}",
            name,
            self.p50_us(),
            self.p99_us()
        );
    }
}
