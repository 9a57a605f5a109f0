//! `[export.otlp]`: the optional OTLP/gRPC export of findings (as log
//! records) and of the `/metrics` values (as OTLP metrics) to a collector,
//! for stores without an agent that scrapes. Off unless the section is
//! written; needs a restart to change.

use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::{ConfigError, Validator};

/// `[export]` as written.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawExport {
    otlp: Option<RawOtlp>,
}

/// `[export.otlp]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOtlp {
    endpoint: Spanned<String>,
    store_id: Option<Spanned<String>>,
    metrics_interval_ms: Option<Spanned<u64>>,
    timeout_ms: Option<Spanned<u64>>,
    queue_records: Option<Spanned<u64>>,
}

/// The validated `[export]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExportConfig {
    /// The OTLP/gRPC export, `None` when off (the default).
    pub otlp: Option<OtlpConfig>,
}

/// The validated `[export.otlp]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtlpConfig {
    /// The collector, `http://HOST:PORT` (OTLP/gRPC, usually port 4317).
    pub endpoint: String,
    /// Sent as the resource attribute `store.id` when set.
    pub store_id: Option<String>,
    /// How often the `/metrics` values are exported.
    pub metrics_interval: Duration,
    /// Bound on connecting to the collector and on each export call.
    pub timeout: Duration,
    /// Findings waiting to be exported at most; beyond it they are dropped
    /// and counted (`posdiag_otlp_dropped_total`).
    pub queue_records: usize,
}

/// Validates `[export]`.
pub(super) fn validate(v: &Validator, raw: &RawExport) -> Result<ExportConfig, ConfigError> {
    let Some(raw) = &raw.otlp else {
        return Ok(ExportConfig::default());
    };
    let text = raw.endpoint.get_ref().trim();
    let endpoint_ok = text
        .strip_prefix("http://")
        .is_some_and(|rest| !rest.is_empty() && text.parse::<http::Uri>().is_ok());
    if !endpoint_ok {
        return Err(v.at(
            &raw.endpoint,
            "export.otlp.endpoint",
            format!(
                "{} is not an http://HOST:PORT address; expected for example \"http://127.0.0.1:4317\" (OTLP over gRPC; for TLS to a remote collector, export to the store's local OpenTelemetry Collector or Alloy, which forwards it)",
                posdiag_core::quote(text)
            ),
        ));
    }
    let store_id = match &raw.store_id {
        None => None,
        Some(s) => {
            let id = s.get_ref();
            let ok = !id.is_empty()
                && id.len() <= 64
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'-'));
            if !ok {
                return Err(v.at(
                    s,
                    "export.otlp.store_id",
                    format!(
                        "{} is not a store id; expected 1 to 64 letters, digits, '_', '.', ':' or '-', e.g. \"store-0042\"",
                        posdiag_core::quote(id)
                    ),
                ));
            }
            Some(id.clone())
        }
    };
    let metrics_interval = v.range_u64(
        &raw.metrics_interval_ms,
        "export.otlp.metrics_interval_ms",
        1_000,
        3_600_000,
        60_000,
    )?;
    let timeout = v.range_u64(
        &raw.timeout_ms,
        "export.otlp.timeout_ms",
        100,
        60_000,
        5_000,
    )?;
    let queue = v.range_u64(
        &raw.queue_records,
        "export.otlp.queue_records",
        1,
        100_000,
        4_096,
    )?;
    Ok(ExportConfig {
        otlp: Some(OtlpConfig {
            endpoint: text.trim_end_matches('/').to_owned(),
            store_id,
            metrics_interval: Duration::from_millis(metrics_interval),
            timeout: Duration::from_millis(timeout),
            queue_records: queue as usize,
        }),
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    fn check(text: &str) -> Result<super::ExportConfig, String> {
        super::super::parse(text, "posdiagd.toml", Path::new("/etc/posdiag"))
            .map(|c| c.export)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn otlp_export_is_off_unless_configured() {
        assert_eq!(check("").unwrap().otlp, None);
        let on = check(
            "[export.otlp]\nendpoint = \"http://127.0.0.1:4317/\"\nstore_id = \"store-0042\"\n",
        )
        .unwrap()
        .otlp
        .unwrap();
        assert_eq!(on.endpoint, "http://127.0.0.1:4317");
        assert_eq!(on.store_id.as_deref(), Some("store-0042"));
        assert_eq!(on.metrics_interval.as_millis(), 60_000);
        assert_eq!(on.queue_records, 4_096);
    }

    #[test]
    fn bad_otlp_keys_are_located_and_explained() {
        let e = check("[export.otlp]\nendpoint = \"127.0.0.1:4317\"\n").unwrap_err();
        assert!(e.contains("posdiagd.toml:2:12"), "{e}");
        assert!(e.contains("export.otlp.endpoint"), "{e}");
        assert!(e.contains("http://127.0.0.1:4317"), "{e}");
        let e = check("[export.otlp]\nendpoint = \"https://c.example:4317\"\n").unwrap_err();
        assert!(e.contains("local OpenTelemetry Collector"), "{e}");
        let e =
            check("[export.otlp]\nendpoint = \"http://c:4317\"\nstore_id = \"a b\"\n").unwrap_err();
        assert!(e.contains("export.otlp.store_id"), "{e}");
        let e =
            check("[export.otlp]\nendpoint = \"http://c:4317\"\nqueue_records = 0\n").unwrap_err();
        assert!(e.contains("export.otlp.queue_records"), "{e}");
        let e = check("[export.otlp]\nendpont = \"http://c:4317\"\n").unwrap_err();
        assert!(e.contains("endpont"), "{e}");
    }
}
