//! `Engine::apply`: which terminals a reload adds, removes and changes, and
//! what an unchanged terminal keeps (its findings, its status, the check it
//! is running). Hosts are loopback listeners the test answers by hand, so a
//! run is held open for exactly as long as a test needs, without sleeping.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;

use super::*;
use crate::model::{ExchangeSpec, LinkProbeSpec, ProbeSpec, Thresholds};

/// A loopback host: answers `PING` with `PONG` once `open` is true (at
/// once when it starts open); other connections (the TCP check's) are
/// accepted and closed by the client.
struct Host {
    port: u16,
    open: watch::Sender<bool>,
}

async fn host(open: bool) -> Host {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = watch::channel(open);
    tokio::spawn(async move {
        loop {
            let Ok((mut conn, _)) = listener.accept().await else {
                return;
            };
            let mut rx = rx.clone();
            tokio::spawn(async move {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let mut buf = [0u8; 16];
                if matches!(conn.read(&mut buf).await, Ok(n) if n > 0) {
                    let _ = rx.wait_for(|open| *open).await;
                    let _ = conn.write_all(b"PONG\n").await;
                }
            });
        }
    });
    Host { port, open: tx }
}

fn terminal(id: &str, port: u16) -> TerminalSpec {
    TerminalSpec {
        id: TerminalId::new(id).unwrap(),
        name: format!("Lane {id}"),
        vendor: String::new(),
        model: String::new(),
        link: LinkSpec::None,
        protocol: None,
        link_probe: LinkProbeSpec::default(),
        plugin: None,
        plugin_args: Default::default(),
        plugin_timeout: None,
        hosts: vec![Arc::new(HostSpec {
            name: "acquirer".into(),
            host: "127.0.0.1".into(),
            port,
            tls: None,
            exchange: Some(ExchangeSpec {
                send: b"PING\n".to_vec(),
                expect: b"PONG".to_vec(),
            }),
            echo: None,
            probe: ProbeSpec {
                count: 1,
                interval: Duration::ZERO,
                timeout: Duration::from_secs(60),
            },
            thresholds: Thresholds::default(),
        })],
        check_interval: None,
    }
}

fn engine(terminals: Vec<TerminalSpec>, roots: &std::path::Path) -> Engine {
    Engine::start(EngineConfig {
        terminals,
        dns: DnsSpec::default(),
        history_per_terminal: 50,
        max_concurrent_probes: 1,
        ports: PortsSpec {
            roots: posdiag_transport::DiscoveryRoots::under(roots),
            scan_interval: Duration::from_secs(3600),
        },
        plugins: Default::default(),
        history: None,
    })
}

fn ids(list: &[TerminalId]) -> Vec<&str> {
    list.iter().map(TerminalId::as_str).collect()
}

/// The findings of a run, once it has completed.
async fn findings(mut rx: mpsc::Receiver<Progress>) -> Vec<Finding> {
    let mut out = Vec::new();
    while let Some(p) = rx.recv().await {
        match p {
            Progress::Finding(f) => out.push(f),
            Progress::Completed { .. } => return out,
            _ => {}
        }
    }
    panic!("the run ended without Completed: {out:?}");
}

/// Waits until the run's exchange has begun (its answer is held back).
async fn until_exchange(rx: &mut mpsc::Receiver<Progress>) {
    while let Some(p) = rx.recv().await {
        if matches!(&p, Progress::PhaseStarted { phase, .. } if phase == "host.exchange") {
            return;
        }
    }
    panic!("the run ended before its exchange began");
}

#[tokio::test]
async fn apply_adds_removes_and_restarts_changed_terminals_and_leaves_the_others_alone() {
    let roots = tempfile::tempdir().unwrap();
    let h = host(true).await;
    let e = engine(
        vec![
            terminal("T1", h.port),
            terminal("T2", h.port),
            terminal("T3", h.port),
        ],
        roots.path(),
    );
    for id in ["T1", "T3"] {
        let found = findings(
            e.run_checks(id, CheckSet::all(), RunBy::on_demand(None))
                .await
                .unwrap(),
        )
        .await;
        assert!(found.iter().all(|f| f.verdict == Verdict::Ok), "{found:?}");
    }
    let before = e.snapshot("T1").await.unwrap();
    assert!(before.last_checked.is_some());

    // Not its schedule: a scheduled terminal checks at once when it starts.
    let mut t3 = terminal("T3", h.port);
    t3.hosts = vec![Arc::new(HostSpec {
        port: h.port,
        name: "acquirer-b".into(),
        ..(*t3.hosts[0]).clone()
    })];
    let applied = e.apply(
        vec![terminal("T4", h.port), terminal("T1", h.port), t3.clone()],
        DnsSpec::default(),
    );
    assert_eq!(ids(&applied.added), ["T4"]);
    assert_eq!(ids(&applied.removed), ["T2"]);
    assert_eq!(ids(&applied.changed), ["T3"]);

    let order: Vec<String> = e.terminals().iter().map(|t| t.id.to_string()).collect();
    assert_eq!(order, ["T4", "T1", "T3"], "the new file's order");
    let snaps = e.snapshots().await.unwrap();
    assert_eq!(snaps.len(), 3);
    // Unchanged: the same state as before the reload.
    let after = e.snapshot("T1").await.unwrap();
    assert_eq!(after.last_checked, before.last_checked);
    assert_eq!(after.status, Some(Verdict::Ok));
    assert_eq!(after.latest, before.latest);
    assert_eq!(
        e.history("T1", None, None).await.unwrap().len(),
        before.latest.len()
    );
    // Changed: the new spec, and a fresh start.
    let t3_now = e.snapshot("T3").await.unwrap();
    assert_eq!(t3_now.spec.hosts[0].name, "acquirer-b");
    assert_eq!((t3_now.status, t3_now.last_checked), (None, None));
    // Removed: gone for every caller.
    assert!(matches!(
        e.snapshot("T2").await,
        Err(EngineError::NotFound { known, .. }) if known == ["T4", "T1", "T3"]
    ));
    // Added: a working task.
    let found = findings(
        e.run_checks("T4", CheckSet::all(), RunBy::on_demand(None))
            .await
            .unwrap(),
    )
    .await;
    assert!(!found.is_empty());
    assert!(e.snapshot("T4").await.unwrap().last_checked.is_some());

    // The same set again changes nothing.
    let again = e.apply(
        vec![terminal("T4", h.port), terminal("T1", h.port), t3],
        DnsSpec::default(),
    );
    assert!(again.is_empty(), "{again:?}");
    assert_eq!(
        e.snapshot("T1").await.unwrap().last_checked,
        before.last_checked
    );
    e.shutdown().await;
}

#[tokio::test]
async fn a_check_running_through_a_reload_finishes_and_is_recorded() {
    let roots = tempfile::tempdir().unwrap();
    let held = host(false).await;
    let e = engine(vec![terminal("T1", held.port)], roots.path());
    let mut run = e
        .run_checks("T1", CheckSet::all(), RunBy::on_demand(None))
        .await
        .unwrap();
    until_exchange(&mut run).await;

    let other = host(true).await;
    let applied = e.apply(
        vec![terminal("T1", held.port), terminal("T2", other.port)],
        DnsSpec::default(),
    );
    assert_eq!(ids(&applied.added), ["T2"]);
    assert!(applied.changed.is_empty() && applied.removed.is_empty());

    held.open.send_replace(true);
    let found = findings(run).await;
    let exchange = found
        .iter()
        .find(|f| f.check == "host.exchange")
        .expect("the exchange finished");
    assert_eq!(exchange.verdict, Verdict::Ok, "{exchange:?}");
    let snap = e.snapshot("T1").await.unwrap();
    assert!(
        snap.latest
            .iter()
            .any(|f| f.check == "host.exchange" && f.verdict == Verdict::Ok)
    );
    assert_eq!(snap.status, Some(Verdict::Ok));
    e.shutdown().await;
}

#[tokio::test]
async fn removing_or_changing_a_terminal_cancels_its_running_check() {
    let roots = tempfile::tempdir().unwrap();
    let held = host(false).await;
    let e = engine(
        vec![terminal("T1", held.port), terminal("T2", held.port)],
        roots.path(),
    );
    let mut removed = e
        .run_checks("T1", CheckSet::all(), RunBy::on_demand(None))
        .await
        .unwrap();
    let mut changed = e
        .run_checks("T2", CheckSet::all(), RunBy::on_demand(None))
        .await
        .unwrap();
    until_exchange(&mut removed).await;
    until_exchange(&mut changed).await;

    let mut t2 = terminal("T2", held.port);
    t2.name = "Lane 2, moved".into();
    let applied = e.apply(vec![t2], DnsSpec::default());
    assert_eq!(ids(&applied.removed), ["T1"]);
    assert_eq!(ids(&applied.changed), ["T2"]);
    for run in [removed, changed] {
        let found = findings(run).await;
        assert_eq!(
            found.last().map(|f| f.reason),
            Some(posdiag_core::Reason::CheckCancelled),
            "{found:?}"
        );
    }
    // The new T2 starts fresh and does not inherit the cancelled run.
    let t2 = e.snapshot("T2").await.unwrap();
    assert_eq!(t2.spec.name, "Lane 2, moved");
    assert!(t2.latest.is_empty());
    e.shutdown().await;
}

#[tokio::test]
async fn the_port_monitor_follows_the_terminals_a_reload_leaves() {
    let roots = tempfile::tempdir().unwrap();
    let dev = roots.path().join("ttyFAKE0");
    std::fs::write(&dev, b"").unwrap();
    let serial = |id: &str| {
        let mut t = terminal(id, 9);
        t.link = LinkSpec::Serial {
            port: posdiag_transport::PortSelector::Path(dev.clone()),
            settings: Default::default(),
        };
        t
    };
    let e = engine(vec![serial("T1")], roots.path());
    let on_port = |e: &Engine| -> Vec<String> {
        let states = e.inner.ports.states.borrow().clone();
        states.iter().map(|(id, _)| id.to_string()).collect()
    };
    assert_eq!(on_port(&e), ["T1"]);
    let mut states = e.inner.ports.states.clone();
    e.apply(vec![serial("T2")], DnsSpec::default());
    states
        .wait_for(|s| s.iter().map(|(id, _)| id.as_str()).eq(["T2"]))
        .await
        .unwrap();
    assert_eq!(on_port(&e), ["T2"]);
    e.shutdown().await;
}
