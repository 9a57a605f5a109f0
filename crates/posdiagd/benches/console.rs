//! The web console against the issue's targets (release build under
//! `cargo bench -p posdiagd --bench console`):
//!
//! 1. **Overview render**: the overview page of 1,000 terminals (two hosts
//!    each, a finding per host) rendered in process, 300 times; p50 and p99.
//!    Target: p50 ≤ 20 ms.
//! 2. **First load**: the overview of a 20-terminal store with its script and
//!    style, as a browser fetches them from the real `posdiagd`; bytes.
//!    Target: ≤ 100 KB.
//! 3. **200 open pages**: 200 event streams on the real daemon; its VmRSS
//!    before and after they connect, then the time from asking for a check
//!    that turns a terminal critical until every stream carried its new row.
//!    Targets: ≤ 10 MB more memory, every page within 1 s.
//!
//! Without `--bench` (as under `cargo test --benches`) it runs a small smoke
//! version that judges nothing.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "benchmark harness")]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use posdiag_proto::v1 as pb;
use posdiagd::console::{Entry, render_overview};

fn entries(n: usize) -> Vec<Entry> {
    (0..n)
        .map(|i| {
            let hosts: Vec<pb::Host> = ["acquirer-a", "acquirer-b"]
                .iter()
                .map(|h| pb::Host {
                    name: (*h).into(),
                    address: "host.example".into(),
                    port: 5000,
                    tls: true,
                })
                .collect();
            let findings = hosts
                .iter()
                .map(|h| pb::Finding {
                    check: "host.tcp".into(),
                    verdict: if i % 7 == 0 { 3 } else { 1 },
                    reason: "tcp.refused".into(),
                    summary: format!(
                        "{}: all 5 connection attempts failed: the host refused the connection",
                        h.name
                    ),
                    subject: format!("{} (host.example:5000)", h.name),
                    observed_at: Some(prost_types::Timestamp {
                        seconds: 1_796_000_000,
                        nanos: 0,
                    }),
                    ..Default::default()
                })
                .collect();
            let t = pb::Terminal {
                id: format!("T{i}"),
                name: format!("Checkout {i}"),
                status: if i % 7 == 0 { 3 } else { 1 },
                hosts,
                latest_findings: findings,
                last_checked: Some(prost_types::Timestamp {
                    seconds: 1_796_000_000,
                    nanos: 0,
                }),
                ..Default::default()
            };
            Entry {
                en: t.clone(),
                zh: t,
                since: Some(SystemTime::now()),
                today: Some(0.99),
                week: Some(0.97),
            }
        })
        .collect()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

fn get(addr: SocketAddr, path: &str, cookie: &str) -> (String, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    let c = if cookie.is_empty() {
        String::new()
    } else {
        format!("Cookie: {cookie}\r\n")
    };
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{c}\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let (h, b) = raw.split_once("\r\n\r\n").unwrap();
    (h.to_owned(), b.to_owned())
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let (n, runs, pages) = if full { (1000, 300, 200) } else { (50, 5, 5) };

    // 1. Render.
    let board = entries(n);
    let mut times = Vec::with_capacity(runs);
    let mut bytes = 0;
    for _ in 0..runs {
        let t = Instant::now();
        bytes = render_overview(&board).len();
        times.push(t.elapsed());
    }
    times.sort();
    println!(
        "overview of {n} terminals: p50 {:.2} ms, p99 {:.2} ms ({} KB of HTML; target p50 <= 20 ms)",
        percentile(&times, 0.5).as_secs_f64() * 1e3,
        percentile(&times, 0.99).as_secs_f64() * 1e3,
        bytes / 1024
    );

    // The real daemon: 20 terminals on one host that answers.
    let dir = tempfile::tempdir().unwrap();
    let up = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut config = format!(
        "[daemon]\nlisten = [\"unix:{}/d.sock\"]\n[history]\npath = \"{}/h.db\"\n[defaults]\ncount = 1\ntimeout_ms = 500\ncheck_interval_s = 0\n[hosts.acquirer]\naddress = \"127.0.0.1\"\nport = {}\n[console]\nlisten = \"127.0.0.1:0\"\n",
        dir.path().display(),
        dir.path().display(),
        up.local_addr().unwrap().port()
    );
    for i in 0..20 {
        config.push_str(&format!(
            "[[terminals]]\nid = \"T{i}\"\nname = \"Checkout {i}\"\nhosts = [\"acquirer\"]\n"
        ));
    }
    std::fs::write(dir.path().join("c.toml"), config).unwrap();
    let log = dir.path().join("d.log");
    let mut daemon = Command::new(env!("CARGO_BIN_EXE_posdiagd"))
        .arg("--config")
        .arg(dir.path().join("c.toml"))
        .env("POSDIAG_LOG", "info")
        .stdin(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let addr: SocketAddr = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if let Some(u) = text
            .lines()
            .find(|l| l.contains("web console listening"))
            .and_then(|l| l.split("url=http://").nth(1))
        {
            break u.split('/').next().unwrap().parse().unwrap();
        }
        assert!(Instant::now() < deadline, "no console: {text}");
        std::thread::sleep(Duration::from_millis(20));
    };

    // 2. First load.
    let (h, page) = get(addr, "/", "");
    let cookie = h
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: "))
        .and_then(|c| c.split(';').next())
        .unwrap()
        .to_owned();
    let css = get(addr, "/assets/console.css", "").1;
    let js = get(addr, "/assets/console.js", "").1;
    let total = page.len() + css.len() + js.len();
    println!(
        "first load (20 terminals): page {} B + style {} B + script {} B = {:.1} KB (target <= 100 KB)",
        page.len(),
        css.len(),
        js.len(),
        total as f64 / 1024.0
    );

    // 3. Open pages.
    std::thread::sleep(Duration::from_millis(500));
    let before = rss_kib(daemon.id());
    let mut streams: Vec<(TcpStream, String)> = (0..pages)
        .map(|_| {
            let mut s = TcpStream::connect(addr).unwrap();
            write!(s, "GET /events HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
            s.set_nonblocking(true).unwrap();
            (s, String::new())
        })
        .collect();
    let read_all = |streams: &mut Vec<(TcpStream, String)>, needle: &str, limit: Duration| {
        let deadline = Instant::now() + limit;
        let mut buf = [0u8; 16384];
        loop {
            let mut done = 0;
            for (s, seen) in streams.iter_mut() {
                if seen.contains(needle) {
                    done += 1;
                    continue;
                }
                if let Ok(n) = s.read(&mut buf) {
                    seen.push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            }
            if done == streams.len() {
                return true;
            }
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    };
    assert!(read_all(&mut streams, ": hello", Duration::from_secs(30)));
    std::thread::sleep(Duration::from_millis(500));
    let after = rss_kib(daemon.id());
    println!(
        "{pages} open event streams: daemon VmRSS {:.1} MB -> {:.1} MB, {:+.1} MB (target <= 10 MB more)",
        before as f64 / 1024.0,
        after as f64 / 1024.0,
        (after as f64 - before as f64) / 1024.0
    );
    // T0 turns critical: its host goes away and a check is asked for.
    drop(up);
    let (_, t0) = get(addr, "/t/T0", &cookie);
    let csrf = t0
        .split(r#"name="csrf" value=""#)
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap()
        .to_owned();
    let body = format!("csrf={csrf}&check=host.tcp");
    let started = Instant::now();
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "POST /t/T0/run HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nCookie: {cookie}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let ok = read_all(
        &mut streams,
        r#"data-terminal="T0" data-verdict="critical""#,
        Duration::from_secs(30),
    );
    let took = started.elapsed();
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    assert!(ok, "not every page got the change");
    println!(
        "a status change reached all {pages} pages {:.0} ms after the check was asked for (target <= 1 s)",
        took.as_secs_f64() * 1e3
    );
    let _ = daemon.kill();
    let _ = daemon.wait();
}
