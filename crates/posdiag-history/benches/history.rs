//! The history's numbers (release build; plain std timing, no framework):
//!
//! ```text
//! cargo bench -p posdiag-history --bench history
//! POSDIAG_BENCH_HISTORY=findings,terminals cargo bench -p posdiag-history --bench history
//! ```
//!
//! 1. Insert throughput through the writer thread (runs of 4 findings, 10%
//!    failing with remedies, as a store's checks produce them).
//! 2. A store of `findings` (default 10 million) spread over 60 days and
//!    `terminals` (default 100): bytes per finding; "the last 100 findings
//!    of one terminal" and "availability of one check over 30 days", p50/p95,
//!    and the same queries through the `sqlite3` command-line tool on the same
//!    file (when installed), as a ratio.
//! 3. A soak: a steady load into a store capped at 16 MiB, the file's size
//!    sampled as it goes: it levels off at the cap.
//!
//! The store is kept in `target/bench-history/history.db` for the daemon's
//! memory benchmark (`cargo bench -p posdiag-tests --bench history_rss`).

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "benchmark")]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use posdiag_core::{
    Actor, Evidence, Finding, Producer, Reason, Remedy, TerminalId, Text, Unit, Verdict,
};
use posdiag_history::{Filter, History, Options, Origin, Record, Run, Transition};

const CHECKS: [&str; 5] = [
    "terminal.link",
    "host.dns",
    "host.tcp",
    "host.tls",
    "host.exchange",
];

fn finding(terminal: &TerminalId, check: &str, failing: bool, at: SystemTime) -> Finding {
    let (verdict, reason) = if failing {
        (Verdict::Critical, Reason::TcpRefused)
    } else {
        (Verdict::Ok, Reason::Ok)
    };
    Finding {
        check: check.into(),
        verdict,
        reason,
        summary: if failing {
            Text::new(
                "acquirer-a refused the connection: nothing listens on 10.20.30.40:5000",
                "acquirer-a 拒绝了连接：10.20.30.40:5000 上没有服务在监听",
            )
        } else {
            Text::new("connected in 3.2 ms", "3.2 毫秒内连接成功")
        },
        evidence: vec![
            Evidence::number("rtt_p95", 3.2, Unit::Ms),
            Evidence::text("resolved_address", "10.20.30.40"),
        ],
        remedies: if failing {
            vec![
                Remedy::new(
                    Actor::Acquirer,
                    "ask the acquirer whether the host is in maintenance",
                    "询问收单机构主机是否在维护",
                ),
                Remedy::new(
                    Actor::Merchant,
                    "check the store's firewall for outgoing port 5000",
                    "检查门店防火墙是否放行出站端口 5000",
                ),
            ]
        } else {
            Vec::new()
        },
        duration: Duration::from_micros(3200),
        observed_at: at,
        terminal: Some(terminal.clone()),
        subject: format!("acquirer-a (host{}.example:5000)", terminal.as_str().len()),
        producer: Producer::builtin(),
    }
}

fn params() -> (u64, u64) {
    let v = std::env::var("POSDIAG_BENCH_HISTORY").unwrap_or_default();
    let mut it = v.split(',').map(|s| s.trim().parse::<u64>().ok());
    let findings = it.next().flatten().unwrap_or(10_000_000);
    let terminals = it.next().flatten().unwrap_or(100).max(1);
    (findings, terminals)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

fn size_of(db: &Path) -> u64 {
    ["", "-wal"]
        .iter()
        .map(|s| {
            let mut p = db.as_os_str().to_owned();
            p.push(s);
            std::fs::metadata(PathBuf::from(p))
                .map(|m| m.len())
                .unwrap_or(0)
        })
        .sum()
}

/// Hands `total` findings (runs of 4) over `span` of time ending now to the
/// writer, as fast as it takes them; returns the elapsed time until all are
/// committed.
fn fill(h: &History, total: u64, terminals: u64, span: Duration) -> Duration {
    let ids: Vec<TerminalId> = (0..terminals)
        .map(|i| TerminalId::new(&format!("T{i:03}")).unwrap())
        .collect();
    let end = SystemTime::now();
    let runs = total / 4;
    let step = span.as_nanos() / u128::from(runs.max(1));
    let started = Instant::now();
    let mut previous: Vec<bool> = vec![false; ids.len()];
    for r in 0..runs {
        let t = &ids[(r % terminals) as usize];
        let at = end - span + Duration::from_nanos((step * u128::from(r)) as u64);
        // Outages come and go: about one run in ten fails.
        let failing = (r / terminals) % 10 == 3;
        let findings: Vec<Finding> = CHECKS[1..]
            .iter()
            .map(|c| finding(t, c, failing && *c == "host.tcp", at))
            .collect();
        let ti = (r % terminals) as usize;
        let transitions = if previous[ti] != failing {
            previous[ti] = failing;
            vec![Transition {
                check: "host.tcp".into(),
                subject: findings[1].subject.clone(),
                from: Some(if failing {
                    Verdict::Ok
                } else {
                    Verdict::Critical
                }),
                to: findings[1].verdict,
                reason: findings[1].reason,
                summary: findings[1].summary.clone(),
                at,
            }]
        } else {
            Vec::new()
        };
        let run = Run {
            run_id: h.next_run_id(),
            terminal: Some(t.clone()),
            origin: Origin::Schedule,
            caller: None,
            started: at,
            duration: Duration::from_millis(15),
            target: String::new(),
            findings,
            transitions,
        };
        h.record(Record::Run(run));
        if r % 4096 == 0 {
            // Keep the queue from overflowing: the producer is faster.
            while h
                .stats()
                .findings_written
                .load(std::sync::atomic::Ordering::Relaxed)
                + 200_000
                < r * 4
            {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    }
    h.wait_caught_up();
    // The benchmark measures the writer, not the overload path.
    assert_eq!(
        h.stats().dropped.load(std::sync::atomic::Ordering::Relaxed),
        0,
        "the writer dropped records"
    );
    started.elapsed()
}

fn sqlite3_ms(db: &Path, sql: &str, repeat: usize) -> Option<f64> {
    let mut script = String::new();
    for _ in 0..repeat {
        script.push_str(sql);
        script.push('\n');
    }
    // Startup of the tool itself, measured with a trivial query.
    let run = |script: &str| -> Option<Duration> {
        let started = Instant::now();
        let mut child = std::process::Command::new("sqlite3")
            .arg("-readonly")
            .arg(db)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
            .ok()?;
        use std::io::Write;
        child.stdin.take()?.write_all(script.as_bytes()).ok()?;
        child.wait().ok()?.success().then(|| started.elapsed())
    };
    let base = run("SELECT 1;")?;
    let total = run(&script)?;
    Some(total.saturating_sub(base).as_secs_f64() * 1000.0 / repeat as f64)
}

fn main() {
    let (total, terminals) = params();
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/bench-history");
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("history.db");
    for s in ["", "-wal", "-shm"] {
        let mut p = db.as_os_str().to_owned();
        p.push(s);
        let _ = std::fs::remove_file(PathBuf::from(p));
    }
    println!(
        "cores: {}, findings: {total}, terminals: {terminals}",
        std::thread::available_parallelism().map_or(0, usize::from)
    );

    // 1 and 2: fill the store (the insert throughput is measured on it).
    let mut opts = Options::new(&db);
    opts.max_bytes = 0;
    opts.retention = Duration::from_secs(3650 * 86_400);
    opts.queue = 1 << 20;
    let (h, _) = History::open(opts).unwrap();
    let cpu_before = writer_cpu();
    let took = fill(&h, total, terminals, Duration::from_secs(60 * 86_400));
    let cpu = writer_cpu() - cpu_before;
    let stored = total / 4 * 4;
    println!(
        "\n== 1. insert through the writer thread\n{stored} findings in {:.2} s: {:.0} findings/s (target >= 100000)",
        took.as_secs_f64(),
        stored as f64 / took.as_secs_f64()
    );
    println!(
        "the writer thread's CPU time: {cpu:.2} s, {:.0} findings per CPU second (the rest of the wall time it waits for the disk)",
        stored as f64 / cpu.max(1e-9)
    );
    h.close();
    let (h, _) = History::open(Options::new(&db)).unwrap();
    let bytes = size_of(&db);
    println!(
        "\n== 2. a store of {stored} findings\nfile: {:.1} MB, {:.0} bytes per finding (with runs, changes and indexes)",
        bytes as f64 / 1e6,
        bytes as f64 / stored as f64
    );

    let r = h.reader();
    let mut last100 = Vec::new();
    for i in 0..200u64 {
        let f = Filter {
            terminal: Some(format!("T{:03}", (i * 37) % terminals)),
            ..Filter::default()
        };
        let started = Instant::now();
        let page = r.findings(&f, 100, None).unwrap();
        last100.push(started.elapsed());
        assert!(!page.items.is_empty());
    }
    last100.sort();
    let now = SystemTime::now();
    let mut avail = Vec::new();
    for i in 0..50u64 {
        let t = format!("T{:03}", (i * 13) % terminals);
        let started = Instant::now();
        let a = r
            .availability(
                &t,
                Some("host.tcp"),
                now - Duration::from_secs(30 * 86_400),
                now,
                Duration::from_secs(86_400),
            )
            .unwrap();
        avail.push(started.elapsed());
        assert!(!a.checks.is_empty());
    }
    avail.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "last 100 findings of one terminal: p50 {:.3} ms, p95 {:.3} ms (target p50 <= 2 ms)",
        ms(percentile(&last100, 0.5)),
        ms(percentile(&last100, 0.95))
    );
    println!(
        "availability of one check over 30 days: p50 {:.3} ms, p95 {:.3} ms (target <= 20 ms)",
        ms(percentile(&avail, 0.5)),
        ms(percentile(&avail, 0.95))
    );
    let t = format!("T{:03}", 7 % terminals);
    let cut = posdiag_history_ms(now - Duration::from_secs(30 * 86_400));
    let q_last = format!(
        "SELECT f.seq, f.at_ms, c.name, s.name, f.verdict, r.name, f.body FROM findings f JOIN names c ON c.id = f.check_id JOIN names s ON s.id = f.subject JOIN names r ON r.id = f.reason WHERE f.terminal = (SELECT id FROM names WHERE name = '{t}') ORDER BY f.seq DESC LIMIT 100;"
    );
    let q_avail = format!(
        "SELECT subject, at_ms, verdict FROM findings WHERE terminal = (SELECT id FROM names WHERE name = '{t}') AND check_id = (SELECT id FROM names WHERE name = 'host.tcp') AND at_ms >= {cut} ORDER BY check_id, at_ms;"
    );
    match (sqlite3_ms(&db, &q_last, 200), sqlite3_ms(&db, &q_avail, 50)) {
        (Some(a), Some(b)) => {
            println!(
                "sqlite3 (the command-line tool, same file, same rows): last 100 {a:.3} ms, 30-day rows of one check {b:.3} ms"
            );
            println!(
                "ratio posdiag / sqlite3: last 100 {:.2}, availability {:.2} (posdiag also decodes rows and computes outages)",
                ms(percentile(&last100, 0.5)) / a.max(1e-6),
                ms(percentile(&avail, 0.5)) / b.max(1e-6)
            );
        }
        _ => println!("sqlite3 is not installed: no comparison (apt install sqlite3)"),
    }
    h.close();

    // 3: the soak.
    let soak = dir.join("soak.db");
    for s in ["", "-wal", "-shm"] {
        let mut p = soak.as_os_str().to_owned();
        p.push(s);
        let _ = std::fs::remove_file(PathBuf::from(p));
    }
    let mut opts = Options::new(&soak);
    opts.max_bytes = 16 * 1024 * 1024;
    opts.queue = 1 << 20;
    let (h, _) = History::open(opts).unwrap();
    println!("\n== 3. soak: a steady load into a store capped at 16 MiB");
    let mut sizes = Vec::new();
    for round in 0..12 {
        fill(&h, 100_000, 20, Duration::from_secs(3600));
        h.housekeep();
        let size = std::fs::metadata(&soak).map(|m| m.len()).unwrap_or(0);
        sizes.push(size);
        println!(
            "after {:>9} findings: file {:6.1} MB, with its log {:6.1} MB, {} findings kept",
            (round + 1) * 100_000,
            size as f64 / 1e6,
            size_of(&soak) as f64 / 1e6,
            h.status().rows
        );
    }
    let last = &sizes[sizes.len() - 4..];
    let (lo, hi) = (last.iter().min().unwrap(), last.iter().max().unwrap());
    println!(
        "the last four samples differ by {:.1} % (levelled off when small)",
        (*hi - *lo) as f64 * 100.0 / *hi as f64
    );
    h.close();
}

fn posdiag_history_ms(t: SystemTime) -> i64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// CPU seconds (user and system) the history's writer thread has used.
fn writer_cpu() -> f64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0.0;
    };
    for t in tasks.flatten() {
        let comm = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
        if comm.trim() != "history-writer" {
            continue;
        }
        let stat = std::fs::read_to_string(t.path().join("stat")).unwrap_or_default();
        // Fields after the parenthesised name: utime and stime are the 12th
        // and 13th, in clock ticks (100 per second on Linux).
        let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
        let f: Vec<&str> = rest.split_whitespace().collect();
        let ticks: f64 = [11, 12]
            .iter()
            .filter_map(|&i| f.get(i)?.parse::<f64>().ok())
            .sum();
        return ticks / 100.0;
    }
    0.0
}
