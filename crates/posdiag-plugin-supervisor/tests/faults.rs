//! End-to-end fault tests: real host processes, real C plugins. Each fault
//! must come back as the right `PluginFault` within the caller's deadline,
//! while a healthy plugin in the same process keeps answering.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod common;

use std::time::Duration;

use posdiag_plugin_api::pb;
use posdiag_plugin_supervisor::{
    LoadFailure, PluginFault, PluginHandle, PluginState, TransportError, TransportRequest,
};
use tokio::sync::mpsc;
use tokio::time::Instant;

use common::{config, start, start_with};

/// Runs a check with no link and a deadline `ms` from now.
async fn check(p: &PluginHandle, ms: u64) -> Result<pb::CheckResult, PluginFault> {
    let (events, _rx) = mpsc::channel(8);
    let request = pb::CheckRequest {
        check: "test".into(),
        ..Default::default()
    };
    p.run_check(
        request,
        None,
        events,
        Instant::now() + Duration::from_millis(ms),
    )
    .await
}

/// The healthy plugin still answers, with its one finding.
async fn assert_healthy(ok: &PluginHandle) {
    let result = check(ok, 5_000)
        .await
        .expect("the healthy plugin must keep serving");
    assert_eq!(result.findings[0].check, "ok");
}

#[tokio::test]
async fn healthy_plugin_reports_its_descriptor_and_answers() {
    let ok = start("ok");
    let ready = ok.ready().await.unwrap();
    assert_eq!(
        (ready.plugin_id.as_str(), ready.plugin_version.as_str()),
        ("test.plugin", "0.1.0")
    );
    assert_eq!((ready.abi_major, ready.abi_minor), (1, 0));
    assert_eq!(ready.descriptor.id, "test.plugin");
    assert!(ready.host_rss_kib > 0, "the host reports its RSS in Hello");
    for _ in 0..3 {
        assert_healthy(&ok).await;
    }
    let status = ok.status();
    assert_eq!(status.state, PluginState::Ready);
    assert_eq!((status.crashes, status.pid), (0, Some(ready.pid)));
}

/// A plugin whose check kills its host: the call fails as `Crashed` naming
/// the signal, the host is restarted and serves again.
async fn assert_crash_then_restart(name: &str, signal: &str) {
    let ok = start("ok");
    let bad = start(name);
    let first = bad.ready().await.unwrap();
    let err = check(&bad, 2_000).await.unwrap_err();
    match &err {
        PluginFault::Crashed { detail } => assert!(detail.contains(signal), "{detail}"),
        other => panic!("expected Crashed, got {other:?}"),
    }
    assert_eq!(err.reason_code(), "plugin.crashed");
    assert_healthy(&ok).await;
    let again = bad.ready().await.unwrap();
    assert_ne!(again.pid, first.pid, "a new host was started");
    assert_eq!(bad.status().crashes, 1);
}

#[tokio::test]
async fn abort_is_crashed_and_the_host_restarts() {
    assert_crash_then_restart("abort", "SIGABRT").await;
}

#[tokio::test]
async fn segfault_is_crashed_and_the_host_restarts() {
    assert_crash_then_restart("segv", "SIGSEGV").await;
}

#[tokio::test]
async fn unbounded_allocation_hits_the_memory_limit_and_crashes() {
    let ok = start("ok");
    let mut c = config();
    c.max_memory_mb = 64;
    let bad = start_with("oom", c);
    bad.ready().await.unwrap();
    let err = check(&bad, 5_000).await.unwrap_err();
    assert!(matches!(err, PluginFault::Crashed { .. }), "{err:?}");
    assert_healthy(&ok).await;
}

async fn assert_times_out(name: &str) {
    let ok = start("ok");
    let bad = start(name);
    bad.ready().await.unwrap();
    let err = check(&bad, 300).await.unwrap_err();
    assert!(matches!(err, PluginFault::Timeout { .. }), "{err:?}");
    assert_eq!(err.reason_code(), "plugin.timeout");
    assert_healthy(&ok).await;
    // The hung host was killed and replaced.
    bad.ready().await.unwrap();
    assert_eq!(bad.status().crashes, 1);
}

#[tokio::test]
async fn infinite_loop_times_out_and_is_killed() {
    assert_times_out("loop").await;
}

#[tokio::test]
async fn sleeping_past_the_deadline_times_out() {
    assert_times_out("sleep").await;
}

/// Bad output fails the call but the host is fine: no restart.
async fn assert_protocol_fault_keeps_host(name: &str, needle: &str) {
    let ok = start("ok");
    let bad = start(name);
    let ready = bad.ready().await.unwrap();
    for _ in 0..2 {
        match check(&bad, 5_000).await.unwrap_err() {
            PluginFault::Protocol { detail } => assert!(detail.contains(needle), "{detail}"),
            other => panic!("expected Protocol, got {other:?}"),
        }
    }
    let status = bad.status();
    assert_eq!(
        (status.state, status.crashes, status.pid),
        (PluginState::Ready, 0, Some(ready.pid))
    );
    assert_healthy(&ok).await;
}

#[tokio::test]
async fn invalid_protobuf_result_is_a_protocol_fault() {
    assert_protocol_fault_keeps_host("badpb", "not a CheckResult").await;
}

#[tokio::test]
async fn oversized_result_is_a_protocol_fault() {
    assert_protocol_fault_keeps_host("huge", "67108864 bytes").await;
}

/// Libraries that cannot be used fail for good, at once, without restarts.
async fn assert_incompatible(name: &str, kind: LoadFailure, needle: &str) {
    let ok = start("ok");
    let bad = start(name);
    match bad.ready().await.unwrap_err() {
        PluginFault::Incompatible { kind: k, detail } => {
            assert_eq!(k, kind);
            assert!(detail.contains(needle), "{detail}");
        }
        other => panic!("expected Incompatible, got {other:?}"),
    }
    let err = check(&bad, 5_000).await.unwrap_err();
    assert_eq!(err.reason_code(), "plugin.incompatible");
    let status = bad.status();
    assert_eq!((status.state, status.crashes), (PluginState::Failed, 0));
    assert_healthy(&ok).await;
}

#[tokio::test]
async fn wrong_abi_major_is_incompatible() {
    assert_incompatible("badabi", LoadFailure::Abi, "ABI 2").await;
}

#[tokio::test]
async fn missing_entry_symbol_is_incompatible() {
    assert_incompatible(
        "nosym",
        LoadFailure::MissingSymbol,
        "posdiag_plugin_entry_v1",
    )
    .await;
}

#[tokio::test]
async fn text_file_named_so_is_not_loadable() {
    assert_incompatible("notalib", LoadFailure::NotLoadable, "notalib.so").await;
}

#[tokio::test]
async fn plugin_that_always_crashes_is_quarantined() {
    let ok = start("ok");
    let bad = start("crashinit");
    let err = bad.ready().await.unwrap_err();
    match &err {
        PluginFault::Quarantined { detail } => {
            assert!(detail.contains("3 host deaths"), "{detail}")
        }
        other => panic!("expected Quarantined, got {other:?}"),
    }
    let status = bad.status();
    assert_eq!(
        (status.state, status.crashes, status.recent_crashes),
        (PluginState::Quarantined, 3, 3)
    );
    assert_eq!(status.last_error.as_ref(), Some(&err));
    assert_eq!(
        check(&bad, 5_000).await.unwrap_err().reason_code(),
        "plugin.quarantined"
    );
    assert_healthy(&ok).await;
}

#[tokio::test]
async fn missing_host_binary_is_reported_and_quarantined() {
    let mut c = config();
    c.host_binary = "/nonexistent/posdiag-plugin-host".into();
    let bad = start_with("ok", c);
    match bad.ready().await.unwrap_err() {
        PluginFault::Quarantined { detail } => assert!(
            detail.contains("/nonexistent/posdiag-plugin-host"),
            "{detail}"
        ),
        other => panic!("expected Quarantined, got {other:?}"),
    }
}

#[tokio::test]
async fn transport_is_proxied_through_the_callers_channel() {
    let echo = start("echo");
    echo.ready().await.unwrap();
    let (link, mut requests) = mpsc::channel(4);
    // The "engine": records what the plugin wrote, answers reads with "pong".
    let device = tokio::spawn(async move {
        let mut written = Vec::new();
        while let Some(req) = requests.recv().await {
            match req {
                TransportRequest::Write {
                    bytes,
                    timeout,
                    reply,
                } => {
                    assert_eq!(timeout, Duration::from_millis(100));
                    written.extend(bytes);
                    reply.send(Ok(())).unwrap();
                }
                TransportRequest::Read { max, reply, .. } => {
                    assert_eq!(max, 32);
                    reply.send(Ok(b"pong".to_vec())).unwrap();
                }
            }
        }
        written
    });
    let (events, mut events_rx) = mpsc::channel(8);
    let deadline = Instant::now() + Duration::from_secs(5);
    let result = echo
        .run_check(Default::default(), Some(link), events, deadline)
        .await
        .unwrap();
    assert_eq!(result.findings[0].check, "pong");
    assert_eq!(device.await.unwrap(), b"ping");
    let event = events_rx.recv().await.unwrap();
    assert!(matches!(event.event, Some(pb::event::Event::Metric(m)) if m.name == "m"));
}

#[tokio::test]
async fn transport_errors_and_missing_link_reach_the_plugin() {
    let echo = start("echo");
    echo.ready().await.unwrap();
    // No link at all: transport_write returns NO_LINK, which the plugin returns.
    match check(&echo, 5_000).await.unwrap_err() {
        PluginFault::CheckFailed { code, .. } => assert_eq!(code, -4),
        other => panic!("expected CheckFailed, got {other:?}"),
    }
    // A link whose read times out.
    let (link, mut requests) = mpsc::channel(4);
    tokio::spawn(async move {
        while let Some(req) = requests.recv().await {
            match req {
                TransportRequest::Write { reply, .. } => reply.send(Ok(())).unwrap(),
                TransportRequest::Read { reply, .. } => {
                    reply.send(Err(TransportError::Timeout)).unwrap()
                }
            }
        }
    });
    let (events, _rx) = mpsc::channel(8);
    let deadline = Instant::now() + Duration::from_secs(5);
    match echo
        .run_check(Default::default(), Some(link), events, deadline)
        .await
        .unwrap_err()
    {
        PluginFault::CheckFailed { code, detail } => {
            assert_eq!(code, -2);
            assert!(detail.contains("POSDIAG_E_TIMEOUT"), "{detail}");
        }
        other => panic!("expected CheckFailed, got {other:?}"),
    }
    // The host survived both.
    assert_eq!(echo.status().crashes, 0);
}

#[tokio::test]
async fn shutdown_stops_the_host_and_later_calls_fail() {
    let ok = start("ok");
    let pid = ok.ready().await.unwrap().pid;
    ok.shutdown().await;
    assert_eq!(ok.status().state, PluginState::Stopped);
    assert_eq!(check(&ok, 1_000).await.unwrap_err(), PluginFault::Stopped);
    // The host was reaped, not left running or as a zombie.
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "host {pid} still exists"
    );
}
