//! `[export.otlp]` of the real daemon against an in-process OTLP collector
//! (the tonic servers `opentelemetry-proto` generates from the
//! OpenTelemetry protocol's own .proto files): findings arrive as log
//! records and the `/metrics` values as metrics, both with the resource
//! attributes (service.name, service.version, host.name, store.id); a
//! collector that accepts connections and never answers delays no check,
//! and what it cannot take is dropped and counted in `/metrics` (which
//! `promtool check metrics` still accepts).

#![allow(clippy::unwrap_used, reason = "test code: a failure is a test failure")]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{
    LogsService, LogsServiceServer,
};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{metric, number_data_point};
use opentelemetry_proto::tonic::resource::v1::Resource;
use posdiag_proto::v1 as pb;
use posdiag_tests::Daemon;
use posdiag_tests::obs::{free_port, http_get, poll};
use tokio_stream::StreamExt;

/// What the collector received.
#[derive(Default, Clone)]
struct Collector {
    logs: Arc<Mutex<Vec<ExportLogsServiceRequest>>>,
    metrics: Arc<Mutex<Vec<ExportMetricsServiceRequest>>>,
}

#[tonic::async_trait]
impl LogsService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportLogsServiceRequest>,
    ) -> Result<tonic::Response<ExportLogsServiceResponse>, tonic::Status> {
        self.logs.lock().unwrap().push(request.into_inner());
        Ok(tonic::Response::new(ExportLogsServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl MetricsService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
        self.metrics.lock().unwrap().push(request.into_inner());
        Ok(tonic::Response::new(ExportMetricsServiceResponse::default()))
    }
}

fn text(kv: &[KeyValue], key: &str) -> Option<String> {
    kv.iter()
        .find(|a| a.key == key)
        .and_then(|a| a.value.clone()?.value)
        .map(|v| match v {
            any_value::Value::StringValue(s) => s,
            other => format!("{other:?}"),
        })
}

fn assert_resource(r: &Option<Resource>) {
    let attrs = &r.as_ref().expect("a resource").attributes;
    assert_eq!(text(attrs, "service.name").as_deref(), Some("posdiagd"));
    assert_eq!(
        text(attrs, "service.version").as_deref(),
        Some(env!("CARGO_PKG_VERSION"))
    );
    assert!(
        !text(attrs, "host.name").unwrap_or_default().is_empty(),
        "{attrs:?}"
    );
    assert_eq!(text(attrs, "store.id").as_deref(), Some("store-0042"));
}

const STORE: &str = "[defaults]\ncount = 1\ntimeout_ms = 300\ncheck_interval_s = 3600\n\
     [hosts.acquirer-down]\naddress = \"localhost\"\nport = 1\n\
     [[terminals]]\nid = \"T2\"\nhosts = [\"acquirer-down\"]\n";

#[test]
fn findings_and_metrics_reach_the_collector_with_the_resource_attributes() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let collector = Collector::default();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let server = collector.clone();
    rt.spawn(async move {
        tonic::transport::Server::builder()
            .add_service(LogsServiceServer::new(server.clone()))
            .add_service(MetricsServiceServer::new(server))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
            .await
    });
    let _daemon = Daemon::start(&format!(
        "{STORE}[export.otlp]\nendpoint = \"http://{addr}\"\nstore_id = \"store-0042\"\nmetrics_interval_ms = 1000\n"
    ));

    let refused = poll(
        "the refused connect as a log record",
        Duration::from_secs(60),
        || {
            let logs = collector.logs.lock().unwrap();
            logs.iter().find_map(|req| {
                req.resource_logs.iter().find_map(|rl| {
                    rl.scope_logs
                        .iter()
                        .flat_map(|s| &s.log_records)
                        .find(|r| {
                            text(&r.attributes, "posdiag.check").as_deref() == Some("host.tcp")
                        })
                        .map(|r| (rl.resource.clone(), r.clone()))
                })
            })
        },
    );
    assert_resource(&refused.0);
    let record = refused.1;
    assert_eq!(
        text(&record.attributes, "posdiag.terminal").as_deref(),
        Some("T2")
    );
    assert_eq!(
        text(&record.attributes, "posdiag.verdict").as_deref(),
        Some("CRITICAL")
    );
    assert_eq!(
        text(&record.attributes, "posdiag.reason").as_deref(),
        Some("tcp.refused")
    );
    assert_eq!(record.severity_text, "WARN");
    let body = format!("{:?}", record.body);
    assert!(body.contains("refused"), "{body}");

    // The same values /metrics renders: T2's host.tcp fails.
    let (resource, success) = poll(
        "posdiag_check_success as an OTLP gauge",
        Duration::from_secs(60),
        || {
            let metrics = collector.metrics.lock().unwrap();
            metrics.iter().rev().find_map(|req| {
                let rm = req.resource_metrics.first()?;
                let m = rm
                    .scope_metrics
                    .iter()
                    .flat_map(|s| &s.metrics)
                    .find(|m| m.name == "posdiag_check_success")?;
                let Some(metric::Data::Gauge(g)) = &m.data else {
                    return None;
                };
                let p = g.data_points.iter().find(|p| {
                    text(&p.attributes, "terminal").as_deref() == Some("T2")
                        && text(&p.attributes, "check").as_deref() == Some("host.tcp")
                })?;
                Some((rm.resource.clone(), p.value))
            })
        },
    );
    assert_resource(&resource);
    assert_eq!(success, Some(number_data_point::Value::AsDouble(0.0)));
    // Counters are monotonic sums without a doubled `_total`.
    let metrics = collector.metrics.lock().unwrap();
    let names: Vec<&str> = metrics
        .iter()
        .flat_map(|r| &r.resource_metrics)
        .flat_map(|r| &r.scope_metrics)
        .flat_map(|s| &s.metrics)
        .map(|m| m.name.as_str())
        .collect();
    assert!(names.contains(&"posdiag_check_runs"), "{names:?}");
    assert!(!names.iter().any(|n| n.ends_with("_total")), "{names:?}");
}

#[test]
fn a_collector_that_never_answers_delays_no_check_and_drops_are_counted() {
    // Accepts connections and never answers a byte.
    let black_hole = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr: SocketAddr = black_hole.local_addr().unwrap();
    let held = Arc::new(Mutex::new(Vec::new()));
    {
        let held = held.clone();
        std::thread::spawn(move || {
            for s in black_hole.incoming().flatten() {
                held.lock().unwrap().push(s);
            }
        });
    }
    let port = free_port();
    let daemon = Daemon::start(&format!(
        "{STORE}[metrics]\nlisten = \"tcp:127.0.0.1:{port}\"\n\
         [export.otlp]\nendpoint = \"http://{addr}\"\nstore_id = \"store-0042\"\n\
         timeout_ms = 60000\nqueue_records = 2\n"
    ));
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let mut checks = pb::check_service_client::CheckServiceClient::new(daemon.channel().await);
        // Each run's findings go to a queue of two that the stalled export
        // never empties; every run still ends with its findings.
        for _ in 0..6 {
            let mut stream = checks
                .run_check(pb::RunCheckRequest {
                    terminal_id: "T2".into(),
                    checks: vec![],
                    lang: String::new(),
                })
                .await
                .unwrap()
                .into_inner();
            let mut findings = 0;
            while let Some(ev) = stream.next().await {
                if matches!(ev.unwrap().event, Some(pb::check_event::Event::Finding(_))) {
                    findings += 1;
                }
            }
            assert!(findings >= 2, "a run ended without its findings");
        }
    });
    let metrics: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let dropped = poll("drops counted in /metrics", Duration::from_secs(30), || {
        let (_, body) = http_get(metrics, "/metrics").ok()?;
        body.lines()
            .find_map(|l| l.strip_prefix("posdiag_otlp_dropped_total{signal=\"logs\"} "))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|v| *v > 0.0)
    });
    assert!(dropped >= 1.0, "{dropped}");
    // The export's own series follow the Prometheus conventions too.
    let (_, body) = http_get(metrics, "/metrics").unwrap();
    assert!(
        body.contains("posdiag_otlp_exported_total{signal=\"logs\"}"),
        "{body}"
    );
    let promtool = std::process::Command::new(posdiag_tests::obs::promtool())
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .output_with_stdin(body.as_bytes());
    assert!(
        promtool.status.success(),
        "{}",
        String::from_utf8_lossy(&promtool.stderr)
    );
}

/// `Command::output` with bytes on its stdin.
trait OutputWithStdin {
    fn output_with_stdin(&mut self, input: &[u8]) -> std::process::Output;
}

impl OutputWithStdin for std::process::Command {
    fn output_with_stdin(&mut self, input: &[u8]) -> std::process::Output {
        use std::io::Write;
        let mut child = self
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input).unwrap();
        child.wait_with_output().unwrap()
    }
}
