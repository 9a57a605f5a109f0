//! End to end with a real Prometheus (Debian's `prometheus`, installed on
//! first use): it scrapes the real posdiagd watching a simulated store
//! (healthy, refusing and expired-certificate acquirers) on loopback, and
//! a query through Prometheus' HTTP API finds the refusing host's terminal
//! failing with reason `tcp.refused`. The shipped alert rules load in it,
//! and every query of the shipped dashboard is valid PromQL there.
//!
//! One command: `cargo test -p posdiag-tests --test prometheus_e2e`.

#![allow(clippy::unwrap_used, reason = "test code: a failure is a test failure")]

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use posdiag_tests::obs::{self, SimStore};
use posdiag_tests::{Daemon, workspace};

/// The Prometheus server, stopped when dropped.
struct Prometheus(Child);

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn encode(q: &str) -> String {
    q.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `/api/v1/query?query=q` as JSON.
fn query(prom: SocketAddr, q: &str) -> Option<serde_json::Value> {
    let (status, body) = obs::http_get(prom, &format!("/api/v1/query?query={}", encode(q))).ok()?;
    let v: serde_json::Value = serde_json::from_str(&body).ok()?;
    assert!(
        status == 200 && v["status"] == "success",
        "query {q} failed: {status} {body}"
    );
    Some(v)
}

fn dashboard_exprs(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, v) in m {
                match (k.as_str(), v.as_str()) {
                    ("expr", Some(s)) => out.push(s.to_owned()),
                    _ => dashboard_exprs(v, out),
                }
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|v| dashboard_exprs(v, out)),
        _ => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_scrapes_posdiagd_and_finds_the_refusing_hosts_terminal_failing_with_its_reason()
{
    let prometheus_bin = obs::debian_tool("prometheus", "prometheus");
    let store = SimStore::start(None).await;
    let port = obs::free_port();
    let daemon = tokio::task::block_in_place(|| {
        Daemon::start(&format!(
            "[defaults]\ncount = 2\ninterval_ms = 10\ntimeout_ms = 1000\ncheck_interval_s = 5\n[metrics]\nlisten = \"tcp:127.0.0.1:{port}\"\n{}",
            store.config
        ))
    });

    let dir = tempfile::tempdir().unwrap();
    let rules = workspace().join("deploy/prometheus/posdiag-alerts.yml");
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n  - {}\nscrape_configs:\n  - job_name: posdiag\n    static_configs:\n      - targets: [\"127.0.0.1:{port}\"]\n",
            rules.display()
        ),
    )
    .unwrap();
    let web = obs::free_port();
    let prom_addr: SocketAddr = ([127, 0, 0, 1], web).into();
    let log = std::fs::File::create(dir.path().join("prometheus.log")).unwrap();
    let _prometheus = Prometheus(
        Command::new(&prometheus_bin)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{web}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    let prom_log =
        || std::fs::read_to_string(dir.path().join("prometheus.log")).unwrap_or_default();

    // The refusing acquirer's terminal, as Prometheus stored it.
    let found = tokio::task::block_in_place(|| {
        obs::poll(
            "Prometheus to find T2 failing with tcp.refused",
            Duration::from_secs(120),
            || {
                let v = query(
                    prom_addr,
                    r#"posdiag_check_failure_info{terminal="T2",check="host.tcp"} == 1"#,
                )?;
                let result = v["data"]["result"].as_array()?.first()?.clone();
                Some(result)
            },
        )
    });
    assert_eq!(found["metric"]["reason"], "tcp.refused", "{found}");
    assert_eq!(found["metric"]["target"], "acquirer-down", "{found}");
    assert_eq!(found["metric"]["job"], "posdiag", "{found}");
    // The healthy terminal's exchange succeeds; the scrape itself is up.
    tokio::task::block_in_place(|| {
        obs::poll(
            "T1's exchange OK in Prometheus",
            Duration::from_secs(60),
            || {
                let v = query(
                    prom_addr,
                    r#"posdiag_check_success{terminal="T1",check="host.exchange"} == 1"#,
                )?;
                (!v["data"]["result"].as_array()?.is_empty()).then_some(())
            },
        )
    });
    let up = tokio::task::block_in_place(|| query(prom_addr, r#"up{job="posdiag"}"#).unwrap());
    assert_eq!(up["data"]["result"][0]["value"][1], "1", "{up}");

    // The shipped alert rules load and evaluate without errors.
    let (status, body) =
        tokio::task::block_in_place(|| obs::http_get(prom_addr, "/api/v1/rules").unwrap());
    assert_eq!(status, 200, "{body}");
    let rules: serde_json::Value = serde_json::from_str(&body).unwrap();
    let groups = rules["data"]["groups"].as_array().unwrap();
    assert!(
        !groups.is_empty(),
        "no rule group loaded: {body}\n{}",
        prom_log()
    );
    for r in groups.iter().flat_map(|g| g["rules"].as_array().unwrap()) {
        assert_ne!(r["health"], "err", "rule {} failed: {r}", r["name"]);
    }

    // Every dashboard query is valid PromQL (with the variables filled in).
    let dashboard: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(workspace().join("deploy/grafana/posdiag-overview.json")).unwrap(),
    )
    .unwrap();
    let mut exprs = Vec::new();
    dashboard_exprs(&dashboard, &mut exprs);
    for e in exprs {
        let q = e
            .replace("$terminal", ".*")
            .replace("$__rate_interval", "1m");
        tokio::task::block_in_place(|| query(prom_addr, &q))
            .unwrap_or_else(|| panic!("no answer to {q}"));
    }
    drop(daemon);
    store.shutdown().await;
}
