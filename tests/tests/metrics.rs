//! Prometheus metrics of the real daemon over a simulated store (the
//! refusing, healthy and expired-certificate acquirers, and the lab's
//! store with the reference plugins): `promtool check metrics` passes on
//! the live `/metrics` and on the textfile, the refusing host's terminal
//! fails with reason `tcp.refused`, verdicts form a state set, no address
//! leaks into a label, a removed terminal's series vanish; and the shipped
//! alert rules and dashboard: `promtool check rules` and `promtool test
//! rules` pass, and every metric they use is one posdiagd exports. A
//! RunCheck is recorded by the time its stream says it completed: the
//! terminal's state, the history and `/metrics` show it at once.

#![allow(clippy::unwrap_used, reason = "test code: a failure is a test failure")]

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::Duration;

use posdiag_proto::v1 as pb;
use posdiag_tests::obs::{self, SimStore};
use posdiag_tests::{Daemon, assemble_bundles, workspace};

const REFUSED: &str = r#"posdiag_check_failure_info{terminal="T2",check="host.tcp",target="acquirer-down",reason="tcp.refused"} 1"#;

fn config(store: &str, port: u16, textfile: &std::path::Path) -> String {
    format!(
        "[defaults]\ncount = 2\ninterval_ms = 10\ntimeout_ms = 1000\ncheck_interval_s = 3600\n[metrics]\nlisten = \"tcp:127.0.0.1:{port}\"\ntextfile = \"{}\"\ntextfile_interval_ms = 1000\n{store}",
        textfile.display()
    )
}

fn promtool_check_metrics(text: &str) -> (bool, String) {
    let mut child = Command::new(obs::promtool())
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// The label sets of `name`'s samples, each with its value.
fn samples(text: &str, name: &str) -> Vec<(BTreeMap<String, String>, f64)> {
    let mut out = Vec::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix(name) else {
            continue;
        };
        let (labels, value) = match rest.strip_prefix('{') {
            Some(r) => match r.split_once("} ") {
                Some(x) => x,
                None => continue,
            },
            None => match rest.strip_prefix(' ') {
                Some(v) => ("", v),
                None => continue,
            },
        };
        let mut map = BTreeMap::new();
        for pair in labels.split("\",").filter(|p| !p.is_empty()) {
            if let Some((k, v)) = pair.split_once("=\"") {
                map.insert(k.to_owned(), v.trim_end_matches('"').to_owned());
            }
        }
        out.push((map, value.trim().parse().unwrap_or(f64::NAN)));
    }
    out
}

/// Every `posdiag_*` name an expression mentions (PromQL or a Grafana query).
fn names_in(expr: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let bytes = expr.as_bytes();
    let mut i = 0;
    while let Some(at) = expr[i..].find("posdiag_") {
        let start = i + at;
        let boundary = start == 0 || {
            let b = bytes[start - 1];
            !(b.is_ascii_alphanumeric() || b == b'_')
        };
        let mut end = start;
        while end < bytes.len() && (bytes[end].is_ascii_alphanumeric() || bytes[end] == b'_') {
            end += 1;
        }
        if boundary {
            names.insert(expr[start..end].to_owned());
        }
        i = end;
    }
    names
}

/// Every `expr` of the dashboard's panels (rows' nested panels included).
fn dashboard_exprs(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, v) in m {
                if (k == "expr" || k == "query" || k == "definition")
                    && let Some(s) = v.as_str()
                {
                    out.push(s.to_owned());
                } else {
                    dashboard_exprs(v, out);
                }
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|v| dashboard_exprs(v, out)),
        _ => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_simulated_stores_metrics_pass_promtool_and_name_the_refusing_hosts_reason() {
    let bundles = tempfile::tempdir().unwrap();
    assemble_bundles(bundles.path(), false);
    let unix_now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64()
    };
    // The simulated acquirers' certificates are made as the store starts.
    let store_started = unix_now().floor();
    let store = SimStore::start(Some(bundles.path())).await;
    let certs_made = unix_now().ceil();
    let out = tempfile::tempdir().unwrap();
    let textfile = out.path().join("posdiag.prom");
    let port = obs::free_port();
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let text = config(&store.config, port, &textfile);
    let daemon = tokio::task::block_in_place(|| Daemon::start(&text));

    // The first scheduled run of every terminal ends; the refusing host's
    // terminal fails with its reason, the healthy one's exchange is OK.
    let body = tokio::task::block_in_place(|| {
        obs::poll(
            "the first runs in /metrics",
            Duration::from_secs(120),
            || {
                let (status, body) = obs::http_get(addr, "/metrics").ok()?;
                assert_eq!(status, 200, "{body}");
                let done = body.contains(REFUSED)
                && body.contains(r#"posdiag_check_success{terminal="T1",check="host.exchange",target="acquirer-ok"} 1"#)
                && body.contains(r#"posdiag_check_failure_info{terminal="T5",check="host.tls",target="acquirer-expired",reason="tls.cert_expired"} 1"#)
                && body.contains(r#"terminal="T8",check="terminal.link""#);
                done.then_some(body)
            },
        )
    });
    let (ok, said) = promtool_check_metrics(&body);
    assert!(ok, "promtool check metrics failed: {said}\n{body}");
    // For the README's fleet sizing (`--nocapture` shows it).
    let terminals = samples(&body, "posdiag_terminal_info").len();
    let series = body.lines().filter(|l| !l.starts_with('#')).count();
    eprintln!(
        "series: {series} for {terminals} terminals, {} bytes",
        body.len()
    );

    // Every check's verdict is a state set: five series, exactly one is 1.
    let mut sets: BTreeMap<Vec<String>, Vec<(String, f64)>> = BTreeMap::new();
    for (labels, value) in samples(&body, "posdiag_check_verdict") {
        let key = ["terminal", "check", "target"]
            .iter()
            .map(|k| labels.get(*k).cloned().unwrap_or_default())
            .collect();
        sets.entry(key)
            .or_default()
            .push((labels["verdict"].clone(), value));
    }
    assert!(sets.len() >= 10, "{sets:?}");
    for (key, set) in &sets {
        let verdicts: BTreeSet<&str> = set.iter().map(|(v, _)| v.as_str()).collect();
        assert_eq!(
            verdicts,
            BTreeSet::from(["critical", "error", "ok", "unknown", "warning"]),
            "{key:?}"
        );
        assert_eq!(
            set.iter().filter(|(_, v)| *v == 1.0).count(),
            1,
            "{key:?}: {set:?}"
        );
    }
    // Hosts: phases, round trips, loss; the expired certificate's date is past.
    for needle in [
        r#"posdiag_host_phase_duration_seconds{terminal="T1",target="acquirer-ok",phase="tls"}"#,
        r#"posdiag_host_rtt_seconds{terminal="T1",target="acquirer-ok",check="host.tcp",stat="p95"}"#,
        r#"posdiag_host_loss_ratio{terminal="T2",target="acquirer-down",check="host.tcp"} 1"#,
        r#"posdiag_terminal_info{terminal="T8",protocol="zvt",link="serial",vendor="Simulated""#,
        r#"posdiag_check_failures_total{terminal="T2",check="host.tcp",target="acquirer-down",reason="tcp.refused"} 1"#,
        r#"posdiag_history_enabled 1"#,
    ] {
        assert!(body.contains(needle), "missing {needle}\n{body}");
    }
    let now = unix_now();
    let expiry = |target: &str| {
        samples(&body, "posdiag_tls_cert_not_after_timestamp_seconds")
            .into_iter()
            .find(|(l, _)| l["target"] == target)
            .map(|(_, v)| v)
            .unwrap()
    };
    assert!(expiry("acquirer-expired") < now);
    // To the second: the healthy acquirer's certificate runs 365 days from
    // the moment the store made it.
    let year = 365.0 * 86_400.0;
    let ok_until = expiry("acquirer-ok");
    assert!(
        (store_started + year..=certs_made + year).contains(&ok_until),
        "not_after {ok_until} not within [{}, {}]",
        store_started + year,
        certs_made + year
    );
    // The reference plugins are up.
    let up = samples(&body, "posdiag_plugin_up");
    assert!(
        !up.is_empty() && up.iter().all(|(_, v)| *v == 1.0),
        "{up:?}"
    );
    // No label carries an address, and nothing a terminal reported unmasked.
    for line in body.lines().filter(|l| !l.starts_with('#')) {
        assert!(
            !line.contains("127.0.0.1") && !line.contains("localhost"),
            "an address in a label: {line}"
        );
    }

    // gRPC calls are counted by method and code, refused ones too.
    let channel = daemon.channel().await;
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
    health
        .check(tonic_health::pb::HealthCheckRequest::default())
        .await
        .unwrap();
    let body = tokio::task::block_in_place(|| obs::http_get(addr, "/metrics").unwrap().1);
    assert!(
        body.contains(
            r#"posdiag_grpc_requests_total{method="/grpc.health.v1.Health/Check",code="OK"} "#
        ),
        "{body}"
    );

    // The textfile is the same format, replaced whole.
    let file = tokio::task::block_in_place(|| {
        obs::poll("the textfile", Duration::from_secs(60), || {
            std::fs::read_to_string(&textfile)
                .ok()
                .filter(|t| t.contains(REFUSED))
        })
    });
    let (ok, said) = promtool_check_metrics(&file);
    assert!(ok, "promtool check metrics on the textfile: {said}");
    // Anything but /metrics is 404.
    let (status, _) = tokio::task::block_in_place(|| obs::http_get(addr, "/nope").unwrap());
    assert_eq!(status, 404);

    // Every metric the alert rules and the dashboard use is exported.
    let exported = obs::metric_names(&body);
    let mut used = BTreeSet::new();
    for file in [
        "deploy/prometheus/posdiag-alerts.yml",
        "deploy/fleet/posdiag-fleet-alerts.yml",
    ] {
        let rules = std::fs::read_to_string(workspace().join(file)).unwrap();
        used.extend(names_in(&rules));
    }
    let dashboard: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(workspace().join("deploy/grafana/posdiag-overview.json")).unwrap(),
    )
    .unwrap();
    let mut exprs = Vec::new();
    dashboard_exprs(&dashboard, &mut exprs);
    assert!(exprs.len() >= 20, "{exprs:?}");
    for e in &exprs {
        used.extend(names_in(e));
    }
    let unknown: Vec<_> = used.difference(&exported).collect();
    assert!(
        unknown.is_empty(),
        "used but not exported: {unknown:?}\nexported: {exported:?}"
    );

    // A reload that removes T2: its series vanish.
    let without_t2 = text.replace("id = \"T2\"", "id = \"T2-gone\"");
    let replaced = store.config.contains("id = \"T2\"");
    assert!(replaced, "the store names T2");
    let status = tokio::task::block_in_place(|| daemon.reload(&without_t2));
    assert!(status.contains("removed T2"), "{status}");
    let body = tokio::task::block_in_place(|| obs::http_get(addr, "/metrics").unwrap().1);
    assert!(!body.contains("terminal=\"T2\""), "{body}");
    drop(daemon);
    store.shutdown().await;
}

#[test]
fn the_alert_rules_pass_promtool_check_and_their_unit_tests() {
    let promtool = obs::promtool();
    for (dir, rules, tests) in [
        (
            "deploy/prometheus",
            "posdiag-alerts.yml",
            "posdiag-alerts.test.yml",
        ),
        (
            "deploy/fleet",
            "posdiag-fleet-alerts.yml",
            "posdiag-fleet-alerts.test.yml",
        ),
    ] {
        let dir = workspace().join(dir);
        for args in [["check", "rules", rules], ["test", "rules", tests]] {
            let out = Command::new(&promtool)
                .args(args)
                .current_dir(&dir)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "promtool {args:?} in {}:\n{}{}",
                dir.display(),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

/// The run's findings once its stream says `Completed` (read no further).
async fn until_completed(mut s: tonic::Streaming<pb::CheckEvent>) -> Vec<pb::Finding> {
    use pb::check_event::Event;
    let mut findings = Vec::new();
    while let Some(ev) = s.message().await.unwrap() {
        match ev.event.unwrap() {
            Event::Finding(f) => findings.push(f),
            Event::Completed(_) => return findings,
            _ => {}
        }
    }
    panic!("the run ended without Completed: {findings:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_check_is_in_the_terminals_state_the_history_and_the_metrics_as_soon_as_it_completes()
{
    use pb::check_service_client::CheckServiceClient;
    use pb::history_service_client::HistoryServiceClient;
    use pb::terminal_service_client::TerminalServiceClient;
    use posdiag_sim::host::{self, Answer, HostSimConfig};

    let acquirer = host::start(HostSimConfig {
        answer: Answer::Reply {
            expect_prefix: b"PING".to_vec(),
            reply: b"PONG\n".to_vec(),
        },
        ..HostSimConfig::default()
    })
    .await
    .unwrap();
    let port = obs::free_port();
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let config = format!(
        "[defaults]\ncount = 1\ninterval_ms = 0\ntimeout_ms = 30000\ncheck_interval_s = 0\n\
         [metrics]\nlisten = \"tcp:127.0.0.1:{port}\"\n\
         [hosts.acq]\naddress = \"127.0.0.1\"\nport = {}\n\
         [hosts.acq.exchange]\nsend = \"PING\\n\"\nexpect = \"PONG\"\n\
         [[terminals]]\nid = \"T1\"\nhosts = [\"acq\"]\n",
        acquirer.addr().port()
    );
    let daemon = tokio::task::block_in_place(|| Daemon::start(&config));
    let channel = daemon.channel().await;
    // Several runs, each read only up to its `Completed` and then looked
    // at at once: no wait, no retry.
    for run in 1..=5u64 {
        let stream = CheckServiceClient::new(channel.clone())
            .run_check(pb::RunCheckRequest {
                terminal_id: "T1".into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        let found = until_completed(stream).await;
        let exchange = found
            .iter()
            .find(|f| f.check == "host.exchange")
            .expect("the run had an exchange");
        assert_eq!(exchange.verdict, pb::Verdict::Ok as i32, "{exchange:?}");

        let t1 = TerminalServiceClient::new(channel.clone())
            .get_terminal(pb::GetTerminalRequest {
                id: "T1".into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert!(t1.last_checked.is_some(), "run {run}: {t1:?}");
        let latest = t1
            .latest_findings
            .iter()
            .find(|f| f.check == "host.exchange")
            .expect("the exchange is among the latest findings");
        assert_eq!(
            latest.observed_at, exchange.observed_at,
            "run {run}: GetTerminal shows an earlier run's exchange"
        );

        let stored = HistoryServiceClient::new(channel.clone())
            .list_findings(pb::ListFindingsRequest {
                filter: Some(pb::HistoryFilter {
                    terminal_id: "T1".into(),
                    checks: vec!["host.exchange".into()],
                    ..Default::default()
                }),
                page_size: 100,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .findings;
        assert_eq!(stored.len() as u64, run, "run {run}: {stored:?}");
        assert_eq!(
            stored[0].finding.as_ref().unwrap().observed_at,
            exchange.observed_at,
            "run {run}: the newest stored exchange is this run's"
        );

        let body = tokio::task::block_in_place(|| obs::http_get(addr, "/metrics").unwrap().1);
        let runs = samples(&body, "posdiag_check_runs_total")
            .into_iter()
            .find(|(l, _)| l["check"] == "host.exchange" && l["verdict"] == "ok")
            .map(|(_, v)| v);
        assert_eq!(runs, Some(run as f64), "run {run}:\n{body}");
    }
    drop(daemon);
}
