//! The export tasks: findings from the bounded queue in batches, and the
//! `/metrics` values every interval, each call to the collector bounded by
//! `timeout_ms`. A failed call drops what it carried (counted) and the task
//! backs off (1 s doubling to 30 s); while it waits, the queue fills to its
//! bound and the layer drops and counts the rest. Nothing here is awaited
//! by a check.

use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_client::MetricsServiceClient;
use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::{ResourceMetrics, ScopeMetrics};
use opentelemetry_proto::tonic::resource::v1::Resource;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tonic::transport::{Channel, Endpoint};

use super::{attribute, connect, counters, disconnect, unix_nanos};
use crate::config::OtlpConfig;
use crate::metrics::Sources;

/// Findings sent in one call at most.
const BATCH_RECORDS: usize = 512;

/// How long the daemon's stop waits for the last findings to be sent.
const FINAL_FLUSH: Duration = Duration::from_secs(2);

/// The findings queue, open (and filling) from before the engine starts,
/// so the first runs' findings are exported too.
#[derive(Debug)]
pub struct Queue(mpsc::Receiver<LogRecord>);

impl Queue {
    /// Opens the queue of `config.queue_records` and lets the layer fill it.
    pub fn open(config: &OtlpConfig) -> Queue {
        let (tx, rx) = mpsc::channel(config.queue_records);
        connect(tx);
        Queue(rx)
    }
}

/// The running export of findings, to finish when the daemon stops.
#[derive(Debug)]
pub struct Exporting {
    finish: CancellationToken,
    logs: tokio::task::JoinHandle<()>,
}

impl Exporting {
    /// Sends what is still queued (the findings of the checks the stop
    /// cancelled included), within [`FINAL_FLUSH`], and stops.
    pub async fn finish(self) {
        self.finish.cancel();
        let _ = tokio::time::timeout(FINAL_FLUSH + Duration::from_millis(100), self.logs).await;
    }
}

/// Exports what `queue` receives, and the metrics every interval until
/// `stop`, to the configured collector. Must run inside the daemon's
/// runtime.
pub fn start(
    config: &OtlpConfig,
    queue: Queue,
    sources: Sources,
    stop: CancellationToken,
) -> Option<Exporting> {
    let endpoint = match Endpoint::from_shared(config.endpoint.clone()) {
        Ok(e) => e.connect_timeout(config.timeout).timeout(config.timeout),
        Err(e) => {
            // The configuration checked the address; this is only a guard.
            tracing::warn!(endpoint = %config.endpoint, error = %e, "OTLP export off: bad endpoint");
            disconnect();
            return None;
        }
    };
    let channel = endpoint.connect_lazy();
    let resource = resource(config.store_id.as_deref());
    tracing::info!(endpoint = %config.endpoint, "exporting findings and metrics over OTLP");
    let finish = CancellationToken::new();
    let logs = tokio::spawn(logs(
        channel.clone(),
        resource.clone(),
        queue.0,
        config.timeout,
        finish.clone(),
    ));
    tokio::spawn(metrics(
        channel,
        resource,
        sources,
        config.metrics_interval,
        config.timeout,
        stop,
    ));
    Some(Exporting { finish, logs })
}

/// The resource every export names: this daemon on this host.
fn resource(store_id: Option<&str>) -> Resource {
    let host = nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_default();
    let mut attributes = vec![
        attribute("service.name", "posdiagd"),
        attribute("service.version", env!("CARGO_PKG_VERSION")),
        attribute("host.name", &host),
    ];
    if let Some(id) = store_id {
        attributes.push(attribute("store.id", id));
    }
    Resource {
        attributes,
        ..Default::default()
    }
}

fn scope() -> InstrumentationScope {
    InstrumentationScope {
        name: "posdiagd".to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        ..Default::default()
    }
}

/// Waits after a failure, longer each time in a row.
struct Backoff(Duration);

impl Backoff {
    fn new() -> Backoff {
        Backoff(Duration::ZERO)
    }

    fn succeeded(&mut self) {
        self.0 = Duration::ZERO;
    }

    /// The wait after one more failure.
    fn failed(&mut self) -> Duration {
        self.0 = (self.0 * 2).clamp(Duration::from_secs(1), Duration::from_secs(30));
        self.0
    }
}

async fn logs(
    channel: Channel,
    resource: Resource,
    mut rx: mpsc::Receiver<LogRecord>,
    timeout: Duration,
    finish: CancellationToken,
) {
    let mut client = LogsServiceClient::new(channel);
    let mut backoff = Backoff::new();
    loop {
        let first = tokio::select! {
            biased;
            _ = finish.cancelled() => {
                // The last findings, in one call, bounded.
                disconnect();
                let mut last = Vec::new();
                let mut beyond = 0;
                while let Ok(r) = rx.try_recv() {
                    if last.len() < BATCH_RECORDS {
                        last.push(r);
                    } else {
                        beyond += 1;
                    }
                }
                counters().logs_dropped.fetch_add(beyond, Ordering::Relaxed);
                if !last.is_empty() {
                    let n = last.len() as u64;
                    let sent = tokio::time::timeout(
                        timeout.min(FINAL_FLUSH),
                        client.export(request(&resource, last)),
                    )
                    .await;
                    let counter = if matches!(sent, Ok(Ok(_))) {
                        &counters().logs_exported
                    } else {
                        &counters().logs_dropped
                    };
                    counter.fetch_add(n, Ordering::Relaxed);
                }
                return;
            }
            r = rx.recv() => match r {
                Some(r) => r,
                None => break,
            },
        };
        let mut batch = vec![first];
        while batch.len() < BATCH_RECORDS {
            match rx.try_recv() {
                Ok(r) => batch.push(r),
                Err(_) => break,
            }
        }
        let n = batch.len() as u64;
        // A stalled call ends at its timeout even while the daemon stops.
        let sent = tokio::time::timeout(timeout, client.export(request(&resource, batch))).await;
        match sent {
            Ok(Ok(_)) => {
                counters().logs_exported.fetch_add(n, Ordering::Relaxed);
                backoff.succeeded();
            }
            failed => {
                counters().logs_dropped.fetch_add(n, Ordering::Relaxed);
                let why = match failed {
                    Ok(Err(status)) => status.message().to_owned(),
                    _ => "timed out".to_owned(),
                };
                let wait = backoff.failed();
                tracing::debug!(records = n, error = %why, "OTLP log export failed; records dropped");
                tokio::select! {
                    _ = finish.cancelled() => {}
                    _ = tokio::time::sleep(wait) => {}
                }
            }
        }
    }
    disconnect();
}

/// One export call's worth of findings.
fn request(resource: &Resource, records: Vec<LogRecord>) -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(resource.clone()),
            scope_logs: vec![ScopeLogs {
                scope: Some(scope()),
                log_records: records,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

async fn metrics(
    channel: Channel,
    resource: Resource,
    sources: Sources,
    every: Duration,
    timeout: Duration,
    stop: CancellationToken,
) {
    let mut client = MetricsServiceClient::new(channel);
    let start = unix_nanos(SystemTime::now());
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = ticks.tick() => {}
        }
        let text = sources.text().await;
        let now = unix_nanos(SystemTime::now());
        let request = ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                resource: Some(resource.clone()),
                scope_metrics: vec![ScopeMetrics {
                    scope: Some(scope()),
                    metrics: super::prom::metrics(&text, start, now),
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        let sent = tokio::select! {
            _ = stop.cancelled() => return,
            r = tokio::time::timeout(timeout, client.export(request)) => r,
        };
        if matches!(sent, Ok(Ok(_))) {
            counters().metrics_exported.fetch_add(1, Ordering::Relaxed);
        } else {
            counters().metrics_dropped.fetch_add(1, Ordering::Relaxed);
            tracing::debug!("OTLP metrics export failed; this interval's values dropped");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceResponse;
    use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{
        LogsService, LogsServiceServer,
    };

    use super::*;

    #[derive(Clone, Default)]
    struct Collector(Arc<Mutex<Vec<ExportLogsServiceRequest>>>);

    #[tonic::async_trait]
    impl LogsService for Collector {
        async fn export(
            &self,
            request: tonic::Request<ExportLogsServiceRequest>,
        ) -> Result<tonic::Response<ExportLogsServiceResponse>, tonic::Status> {
            self.0.lock().unwrap().push(request.into_inner());
            Ok(tonic::Response::new(ExportLogsServiceResponse::default()))
        }
    }

    #[tokio::test]
    async fn the_last_findings_are_sent_when_the_daemon_stops() {
        let _one = super::super::tests::ONE_QUEUE.lock();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let collector = Collector::default();
        let server = collector.clone();
        tokio::spawn(async move {
            tonic::transport::Server::builder()
                .add_service(LogsServiceServer::new(server))
                .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
                .await
        });
        let channel = Endpoint::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect_lazy();
        let (tx, rx) = mpsc::channel(8);
        let finish = CancellationToken::new();
        // Queued before the task runs; the stop comes before it reads them.
        for reason in ["check.cancelled", "check.cancelled"] {
            tx.try_send(LogRecord {
                attributes: vec![attribute("posdiag.reason", reason)],
                ..Default::default()
            })
            .unwrap();
        }
        finish.cancel();
        logs(
            channel,
            resource(Some("store-1")),
            rx,
            Duration::from_secs(5),
            finish,
        )
        .await;
        let got = collector.0.lock().unwrap();
        assert_eq!(got.len(), 1, "one final call");
        let rl = &got[0].resource_logs[0];
        assert_eq!(rl.scope_logs[0].log_records.len(), 2);
        let resource = format!("{:?}", rl.resource);
        assert!(resource.contains("store-1"), "{resource}");
    }
}
