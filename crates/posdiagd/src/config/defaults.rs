//! `[defaults]`: probe settings and verdict thresholds every host inherits
//! (and ad-hoc probes use), plus the terminals' default check interval. The
//! same keys, less `check_interval_s`, override them in `[hosts.NAME.probe]`.

use std::time::Duration;

use posdiag_engine::model::{ProbeSpec, Thresholds};
use serde::Deserialize;
use toml::Spanned;

use super::{ConfigError, Validator};

/// Probe settings and thresholds as written; in `[defaults]` and in each
/// host's `probe` table.
#[derive(Debug, Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub(super) struct RawProbe {
    count: Option<Spanned<u32>>,
    interval_ms: Option<Spanned<u64>>,
    timeout_ms: Option<Spanned<u64>>,
    pub(super) check_interval_s: Option<Spanned<u64>>,
    loss_warning_ratio: Option<Spanned<f64>>,
    loss_critical_ratio: Option<Spanned<f64>>,
    rtt_warning_ms: Option<Spanned<u64>>,
    rtt_critical_ms: Option<Spanned<u64>>,
    jitter_warning_ms: Option<Spanned<u64>>,
    cert_expiry_warning_days: Option<Spanned<u32>>,
}

/// `[defaults]`, validated.
#[derive(Debug, Clone, Copy)]
pub(super) struct Defaults {
    pub(super) probe: ProbeSpec,
    pub(super) thresholds: Thresholds,
    /// Seconds between a terminal's scheduled checks; 0 turns them off.
    pub(super) check_interval_s: u64,
}

/// Validates `[defaults]`, over the built-in values.
pub(super) fn validate(v: &Validator, raw: &RawProbe) -> Result<Defaults, ConfigError> {
    let (probe, thresholds) = probe(
        v,
        raw,
        "defaults",
        (ProbeSpec::default(), Thresholds::default()),
    )?;
    let check_interval_s = v.range_u64(
        &raw.check_interval_s,
        "defaults.check_interval_s",
        0,
        86_400,
        60,
    )?;
    Ok(Defaults {
        probe,
        thresholds,
        check_interval_s,
    })
}

/// The probe settings and thresholds of `table`, each falling back to
/// `inherited`'s.
pub(super) fn probe(
    v: &Validator,
    p: &RawProbe,
    table: &str,
    inherited: (ProbeSpec, Thresholds),
) -> Result<(ProbeSpec, Thresholds), ConfigError> {
    let (pd, td) = inherited;
    let k = |n: &str| format!("{table}.{n}");
    let ms = |d: Duration| d.as_millis() as u64;
    let probe = ProbeSpec {
        count: v.range_u32(&p.count, &k("count"), 1, 100, pd.count)?,
        interval: Duration::from_millis(v.range_u64(
            &p.interval_ms,
            &k("interval_ms"),
            0,
            60_000,
            ms(pd.interval),
        )?),
        timeout: Duration::from_millis(v.range_u64(
            &p.timeout_ms,
            &k("timeout_ms"),
            10,
            60_000,
            ms(pd.timeout),
        )?),
    };
    let t = Thresholds {
        loss_warning: v.ratio(
            &p.loss_warning_ratio,
            &k("loss_warning_ratio"),
            td.loss_warning,
        )?,
        loss_critical: v.ratio(
            &p.loss_critical_ratio,
            &k("loss_critical_ratio"),
            td.loss_critical,
        )?,
        rtt_warning: Duration::from_millis(v.range_u64(
            &p.rtt_warning_ms,
            &k("rtt_warning_ms"),
            1,
            600_000,
            ms(td.rtt_warning),
        )?),
        rtt_critical: Duration::from_millis(v.range_u64(
            &p.rtt_critical_ms,
            &k("rtt_critical_ms"),
            1,
            600_000,
            ms(td.rtt_critical),
        )?),
        jitter_warning: Duration::from_millis(v.range_u64(
            &p.jitter_warning_ms,
            &k("jitter_warning_ms"),
            1,
            600_000,
            ms(td.jitter_warning),
        )?),
        cert_expiry_warning_days: v.range_u32(
            &p.cert_expiry_warning_days,
            &k("cert_expiry_warning_days"),
            0,
            3650,
            td.cert_expiry_warning_days,
        )?,
    };
    if t.loss_warning > t.loss_critical {
        let span = p
            .loss_warning_ratio
            .as_ref()
            .or(p.loss_critical_ratio.as_ref())
            .map(|s| s.span());
        return Err(v.err(span, &k("loss_warning_ratio"), format!("{} is above loss_critical_ratio {}; the warning threshold must not exceed the critical one", t.loss_warning, t.loss_critical)));
    }
    if t.rtt_warning > t.rtt_critical {
        let span = p
            .rtt_warning_ms
            .as_ref()
            .or(p.rtt_critical_ms.as_ref())
            .map(|s| s.span());
        return Err(v.err(span, &k("rtt_warning_ms"), format!("{} ms is above rtt_critical_ms {} ms; the warning threshold must not exceed the critical one", t.rtt_warning.as_millis(), t.rtt_critical.as_millis())));
    }
    Ok((probe, t))
}
