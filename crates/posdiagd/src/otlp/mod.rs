//! The optional OTLP export (`[export.otlp]`, off by default): every
//! finding as one OTLP log record and the values `/metrics` renders as OTLP
//! metrics, sent over OTLP/gRPC to a collector (the store's OpenTelemetry
//! Collector or Grafana Alloy, or a central one), with the messages and the
//! tonic client of the `opentelemetry-proto` crate.
//!
//! - Findings come from the same tap as the journal records (`journal.rs`):
//!   the engine's `posdiag::finding` tracing events, one per finding.
//!   [`FindingLayer`] turns each into a log record (every value masked and
//!   bounded) and hands it to a bounded queue without waiting: a full queue
//!   (a slow or unreachable collector) drops the record and counts it.
//! - Metrics are not a second model: every `metrics_interval_ms` the text
//!   `/metrics` would serve is rendered and read back into OTLP gauges and
//!   monotonic sums (`prom.rs`).
//! - `send.rs` exports in the background, each call bounded by
//!   `timeout_ms`; a failed call drops its batch (counted) and backs off.
//!   So an unreachable collector never slows a check and memory stays
//!   bounded by the queue. The counts are `posdiag_otlp_exported_total` and
//!   `posdiag_otlp_dropped_total{signal="logs|metrics"}` in `/metrics`.
//!
//! Every record and data point carries the resource attributes
//! `service.name` = `posdiagd`, `service.version`, `host.name` and, when
//! configured, `store.id`.
//!
//! The queue and the counters are the process's (the tracing subscriber is
//! too): one export per process, which a daemon is.

mod prom;
mod send;

use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, SeverityNumber};
use tokio::sync::mpsc;
use tracing::field::{Field, Visit};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;

pub use send::{Exporting, Queue, start};

/// Longest attribute or body value sent, in bytes; the rest is cut.
const MAX_VALUE_BYTES: usize = 4096;

/// Where the layer hands records while an export runs (`None`: no export).
static QUEUE: RwLock<Option<mpsc::Sender<LogRecord>>> = RwLock::new(None);

/// What was exported and dropped since start, per signal.
#[derive(Debug, Default)]
pub struct Counters {
    logs_exported: AtomicU64,
    logs_dropped: AtomicU64,
    metrics_exported: AtomicU64,
    metrics_dropped: AtomicU64,
}

static COUNTERS: Counters = Counters {
    logs_exported: AtomicU64::new(0),
    logs_dropped: AtomicU64::new(0),
    metrics_exported: AtomicU64::new(0),
    metrics_dropped: AtomicU64::new(0),
};

/// The counters now, for `/metrics`: `None` while no export is configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Snapshot {
    /// Log records (findings) the collector accepted.
    pub logs_exported: u64,
    /// Log records dropped: the queue was full or the export failed.
    pub logs_dropped: u64,
    /// Metric exports (one per interval) the collector accepted.
    pub metrics_exported: u64,
    /// Metric exports that failed.
    pub metrics_dropped: u64,
}

/// The counters, when an export runs in this process.
pub fn snapshot() -> Option<Snapshot> {
    let on = QUEUE.read().map(|q| q.is_some()).unwrap_or(false);
    on.then(|| Snapshot {
        logs_exported: COUNTERS.logs_exported.load(Ordering::Relaxed),
        logs_dropped: COUNTERS.logs_dropped.load(Ordering::Relaxed),
        metrics_exported: COUNTERS.metrics_exported.load(Ordering::Relaxed),
        metrics_dropped: COUNTERS.metrics_dropped.load(Ordering::Relaxed),
    })
}

fn counters() -> &'static Counters {
    &COUNTERS
}

/// Puts the layer's records into `tx` from now on.
fn connect(tx: mpsc::Sender<LogRecord>) {
    if let Ok(mut q) = QUEUE.write() {
        *q = Some(tx);
    }
}

/// Stops queueing (the export ended).
fn disconnect() {
    if let Ok(mut q) = QUEUE.write() {
        *q = None;
    }
}

/// The tracing layer that turns finding events into queued log records;
/// installed by `logging::init` for the `posdiag::finding` target only. It
/// does nothing until an export runs.
#[derive(Debug, Default, Clone, Copy)]
pub struct FindingLayer;

impl<S: tracing::Subscriber> Layer<S> for FindingLayer {
    fn on_event(&self, event: &tracing::Event<'_>, _ctx: Context<'_, S>) {
        if event.metadata().target() != crate::journal::TARGET {
            return;
        }
        let Ok(queue) = QUEUE.read() else { return };
        let Some(tx) = queue.as_ref() else { return };
        let record = record_of(event);
        if tx.try_send(record).is_err() {
            counters().logs_dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// One finding event as a log record.
fn record_of(event: &tracing::Event<'_>) -> LogRecord {
    let (number, text) = match *event.metadata().level() {
        tracing::Level::ERROR => (SeverityNumber::Error, "ERROR"),
        tracing::Level::WARN => (SeverityNumber::Warn, "WARN"),
        // OK findings are logged at DEBUG only to keep stderr quiet; to a
        // collector they are ordinary information.
        _ => (SeverityNumber::Info, "INFO"),
    };
    let mut fields = Fields::default();
    event.record(&mut fields);
    let now = unix_nanos(SystemTime::now());
    LogRecord {
        time_unix_nano: now,
        observed_time_unix_nano: now,
        severity_number: number as i32,
        severity_text: text.to_owned(),
        body: fields.message.map(string_value),
        attributes: fields.attributes,
        event_name: "posdiag.finding".to_owned(),
        ..Default::default()
    }
}

/// The fields of one finding event: `message` becomes the body, the rest
/// `posdiag.*` attributes.
#[derive(Default)]
struct Fields {
    message: Option<String>,
    attributes: Vec<KeyValue>,
}

impl Fields {
    fn push(&mut self, field: &Field, value: AnyValue) {
        self.attributes.push(KeyValue {
            key: format!("posdiag.{}", field.name()),
            value: Some(value),
            ..Default::default()
        });
    }

    fn push_text(&mut self, field: &Field, text: String) {
        if field.name() == "message" {
            self.message = Some(text);
        } else {
            self.push(field, string_value(text));
        }
    }
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.push_text(field, format!("{value:?}"));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.push_text(field, value.to_owned());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.push(field, int_value(i64::try_from(value).unwrap_or(i64::MAX)));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.push(field, int_value(value));
    }
}

/// A string value, masked (card numbers) and bounded.
fn string_value(text: String) -> AnyValue {
    let mut text = posdiag_core::mask_card_numbers(&text);
    if text.len() > MAX_VALUE_BYTES {
        let mut cut = MAX_VALUE_BYTES;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
    }
    AnyValue {
        value: Some(any_value::Value::StringValue(text)),
    }
}

fn int_value(v: i64) -> AnyValue {
    AnyValue {
        value: Some(any_value::Value::IntValue(v)),
    }
}

/// A string attribute (resource and data point attributes).
fn attribute(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(string_value(value.to_owned())),
        ..Default::default()
    }
}

fn unix_nanos(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
pub(super) mod tests {
    use tracing_subscriber::layer::SubscriberExt;

    use super::*;

    /// The queue is the process's: tests that connect or disconnect it
    /// take turns.
    pub(crate) static ONE_QUEUE: std::sync::Mutex<()> = std::sync::Mutex::new(());

    #[test]
    fn a_finding_event_is_a_masked_log_record_and_a_full_queue_counts_drops() {
        let _one = ONE_QUEUE.lock();
        let (tx, mut rx) = mpsc::channel(1);
        connect(tx);
        let subscriber = tracing_subscriber::registry().with(FindingLayer);
        tracing::subscriber::with_default(subscriber, || {
            for _ in 0..3 {
                tracing::warn!(
                    target: "posdiag::finding",
                    terminal = "T1",
                    check = "host.tcp",
                    verdict = "CRITICAL",
                    reason = "tcp.refused",
                    run_id = 7u64,
                    "card 4111111111111111 refused"
                );
            }
            tracing::warn!(target: "posdiag::other", "not a finding");
        });
        let before = snapshot().unwrap();
        disconnect();
        let record = rx.try_recv().unwrap();
        assert!(rx.try_recv().is_err(), "one fits in a queue of one");
        assert!(before.logs_dropped >= 2, "{before:?}");
        assert_eq!(record.severity_text, "WARN");
        assert_eq!(record.event_name, "posdiag.finding");
        let body = format!("{:?}", record.body);
        assert!(body.contains("411111******1111 refused"), "{body}");
        let attr = |k: &str| {
            record
                .attributes
                .iter()
                .find(|a| a.key == k)
                .and_then(|a| a.value.clone())
                .and_then(|v| v.value)
        };
        assert_eq!(
            attr("posdiag.reason"),
            Some(any_value::Value::StringValue("tcp.refused".into()))
        );
        assert_eq!(attr("posdiag.run_id"), Some(any_value::Value::IntValue(7)));
        assert!(snapshot().is_none(), "no export, no counters in /metrics");
    }
}
