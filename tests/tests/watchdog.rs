//! The systemd watchdog, with the test standing in for systemd: it binds
//! the notify socket and sets `WATCHDOG_USEC` for the real daemon. posdiagd
//! pings `WATCHDOG=1` while its engine and gRPC server answer; plugin host
//! processes do not inherit the notify variables; and once the engine is
//! wedged on purpose (the test hook `POSDIAG_TEST_WEDGE_FILE`), the pings
//! stop and `STATUS=` says why, so systemd would restart it.

#![allow(clippy::unwrap_used, reason = "test code: a failure is a test failure")]

use std::time::Duration;

use posdiag_lab::store;
use posdiag_tests::{Daemon, assemble_bundles};

/// Child processes of `pid` (every thread's `children` list).
fn children(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap() {
        let list =
            std::fs::read_to_string(task.unwrap().path().join("children")).unwrap_or_default();
        out.extend(
            list.split_whitespace()
                .filter_map(|p| p.parse::<u32>().ok()),
        );
    }
    out
}

#[test]
fn pings_stop_when_the_engine_is_wedged_and_plugins_do_not_inherit_the_notify_socket() {
    let bundles = tempfile::tempdir().unwrap();
    assemble_bundles(bundles.path(), false);
    let dir = tempfile::tempdir().unwrap();
    let wedge = dir.path().join("wedge");
    let config = format!(
        "[defaults]\ncount = 1\ntimeout_ms = 200\ncheck_interval_s = 3600\n{}\n[hosts.acq]\naddress = \"127.0.0.1\"\nport = 1\n[[terminals]]\nid = \"T1\"\nhosts = [\"acq\"]\n",
        store::plugins(bundles.path())
    );
    // 400 ms: a ping every 200 ms.
    let mut daemon = Daemon::start_with_env(
        &config,
        &[
            ("WATCHDOG_USEC", "400000"),
            ("POSDIAG_TEST_WEDGE_FILE", wedge.to_str().unwrap()),
        ],
        "info",
    );
    let wait = Duration::from_secs(20);
    for _ in 0..3 {
        let n = daemon.next_notification(wait).expect("no watchdog ping");
        assert_eq!(n, vec!["WATCHDOG=1"], "{}", daemon.log());
    }

    // The plugin hosts run, without systemd's variables.
    let kids = children(daemon.pid());
    assert!(!kids.is_empty(), "no plugin host process");
    for kid in kids {
        let Ok(env) = std::fs::read(format!("/proc/{kid}/environ")) else {
            continue;
        };
        let env = String::from_utf8_lossy(&env);
        for var in ["NOTIFY_SOCKET=", "WATCHDOG_USEC=", "WATCHDOG_PID="] {
            assert!(
                !env.split('\0').any(|e| e.starts_with(var)),
                "plugin host {kid} inherited {var}"
            );
        }
    }

    // Wedge the engine: the probe fails, STATUS says so, the pings stop.
    std::fs::write(&wedge, "").unwrap();
    let mut status = None;
    for _ in 0..200 {
        let n = daemon
            .next_notification(wait)
            .expect("neither a ping nor a status");
        if let Some(s) = n.iter().find_map(|l| l.strip_prefix("STATUS=")) {
            status = Some(s.to_owned());
            break;
        }
        assert_eq!(n, vec!["WATCHDOG=1"]);
    }
    let status = status.expect("no STATUS= after the wedge");
    assert!(status.contains("the engine does not answer"), "{status}");
    // Five ping intervals and more without a ping: systemd would now restart it.
    let mut quiet = Vec::new();
    while let Some(n) = daemon.next_notification(Duration::from_millis(1500)) {
        quiet.push(n);
        assert!(quiet.len() < 20, "the daemon keeps notifying: {quiet:?}");
    }
    assert!(
        !quiet.iter().flatten().any(|l| l == "WATCHDOG=1"),
        "pinged while wedged: {quiet:?}"
    );
    assert!(
        daemon
            .log()
            .contains("watchdog: the engine does not answer")
    );
    // A wedged engine still stops on SIGTERM.
    assert!(daemon.terminate().success());
}
