//! The metrics text, encoded with `prometheus-client` in the classic text
//! format, in three parts: the build info, the terminals' families, and the
//! daemon's own (plugins, history, gRPC, OTLP). The terminals' part is
//! rendered one terminal at a time ([`Fragment`]): each terminal's series of
//! each family, so `/metrics` keeps them between scrapes and renders again
//! only the terminals whose state changed (`cache.rs`), then writes each
//! family's header followed by every terminal's series of it.
//!
//! Families (every label from the configuration, a plugin manifest or a
//! closed set):
//! - `posdiag_build_info{version}`
//! - `posdiag_terminal_info{terminal,protocol,link,vendor,model,software_version}`,
//!   `posdiag_terminal_status{terminal,verdict}` (a state set)
//! - per terminal, check and target (the configured host's name, empty for
//!   the terminal's own checks): `posdiag_check_success`,
//!   `posdiag_check_verdict{verdict}` (a state set: all five present, one
//!   is 1), `posdiag_check_failure_info{reason}` (while failing),
//!   `posdiag_check_last_run_timestamp_seconds`, `posdiag_check_duration_seconds`,
//!   `posdiag_check_runs_total{verdict}`, `posdiag_check_failures_total{reason}`
//! - per terminal and host: `posdiag_host_phase_duration_seconds{phase}`,
//!   `posdiag_host_rtt_seconds{check,stat}`, `posdiag_host_loss_ratio{check}`,
//!   `posdiag_host_jitter_seconds{check}`, `posdiag_tls_cert_not_after_timestamp_seconds`
//! - `posdiag_plugin_up`, `posdiag_plugin_restarts_total`, `posdiag_plugin_quarantined`
//! - `posdiag_history_*`: enabled, degraded, rows, size, write errors, dropped, unwritten
//! - `posdiag_grpc_requests_total{method,code}`
//! - with `[export.otlp]` on: `posdiag_otlp_exported_total{signal}`,
//!   `posdiag_otlp_dropped_total{signal}` (`signal`: `logs`, `metrics`)
//!
//! Within a family the series come terminal by terminal, in configuration
//! order.

use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use posdiag_core::{EvidenceValue, Finding, TerminalId, Verdict, checks};
use posdiag_engine::TerminalSnapshot;
use posdiag_engine::tally::TallySnapshot;
use posdiag_plugin_supervisor::{PluginState, PluginStatus};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

/// Everything one scrape renders, read at once.
#[derive(Debug, Clone)]
pub struct Scrape {
    /// Every configured terminal's state.
    pub terminals: Vec<TerminalSnapshot>,
    /// Runs and failures since start.
    pub tally: TallySnapshot,
    /// The daemon's own series.
    pub daemon: DaemonSeries,
}

/// What every scrape reads afresh: the daemon's own state.
#[derive(Debug, Clone)]
pub struct DaemonSeries {
    /// Each loaded plugin's supervision.
    pub plugins: Vec<PluginStatus>,
    /// The durable history.
    pub history: HistoryState,
    /// gRPC requests: (method, code, count).
    pub grpc: Vec<(&'static str, &'static str, u64)>,
    /// The OTLP export's counts, when `[export.otlp]` is on.
    pub otlp: Option<crate::otlp::Snapshot>,
}

/// Where the durable history stands.
#[derive(Debug, Clone)]
pub enum HistoryState {
    /// `[history] enabled = false`.
    Disabled,
    /// It could not be opened.
    Unavailable,
    /// Open, with its counters.
    Open(posdiag_history::Status),
}

/// The classic Prometheus text (format 0.0.4) of `scrape`, every terminal
/// rendered afresh: what `/metrics` serves from its cache, built without one.
pub fn render(scrape: Scrape) -> String {
    let mut tallies: HashMap<TerminalId, TallySnapshot> = HashMap::new();
    for (k, v, n) in scrape.tally.runs {
        let t = tallies.entry(k.terminal.clone()).or_default();
        t.runs.push((k, v, n));
    }
    for (k, r, n) in scrape.tally.failures {
        let t = tallies.entry(k.terminal.clone()).or_default();
        t.failures.push((k, r, n));
    }
    let fragments: Vec<Fragment> = scrape
        .terminals
        .into_iter()
        .map(|t| {
            let tally = tallies.remove(&t.spec.id).unwrap_or_default();
            Fragment::of(t, tally)
        })
        .collect();
    let mut out = head();
    out.push_str(&assemble(fragments.iter()));
    out.push_str(&daemon(scrape.daemon));
    out
}

/// `collector`'s families as text.
fn encode(collector: impl Collector) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(collector));
    let mut out = String::new();
    // Writing to a String does not fail.
    let _ = prometheus_client::encoding::prometheus_text::encode(&mut out, &registry);
    out
}

/// The text before the terminals' families: the build info.
pub(crate) fn head() -> String {
    encode(Head)
}

/// The text after the terminals' families: the daemon's own series.
pub(crate) fn daemon(series: DaemonSeries) -> String {
    encode(Daemon(series))
}

/// One family's part of an encoded text.
struct Family<'a> {
    /// Its `# HELP` and `# TYPE` lines.
    header: &'a str,
    /// Its series.
    series: &'a str,
}

/// Each family's text, split where the next family's `# HELP` line starts.
fn families(text: &str) -> Vec<Family<'_>> {
    let mut out = Vec::new();
    let mut at = 0;
    let mut family_start = 0;
    let mut body_start = None;
    let part = |start: usize, body: Option<usize>, end: usize| {
        let body = body.unwrap_or(end);
        Family {
            header: &text[start..body],
            series: &text[body..end],
        }
    };
    for line in text.split_inclusive('\n') {
        if line.starts_with("# HELP ") && at > 0 {
            out.push(part(family_start, body_start, at));
            family_start = at;
            body_start = None;
        }
        if !line.starts_with('#') && body_start.is_none() {
            body_start = Some(at);
        }
        at += line.len();
    }
    if at > 0 {
        out.push(part(family_start, body_start, at));
    }
    out
}

/// The headers (`# HELP`, `# TYPE`) of the terminals' families, in order.
fn terminal_headers() -> &'static [String] {
    static HEADERS: OnceLock<Vec<String>> = OnceLock::new();
    HEADERS.get_or_init(|| {
        let text = encode(TerminalFamilies {
            terminal: None,
            tally: TallySnapshot::default(),
        });
        families(&text)
            .into_iter()
            .map(|f| f.header.to_owned())
            .collect()
    })
}

/// One terminal's series of each of the terminals' families.
#[derive(Debug, Clone)]
pub(crate) struct Fragment {
    text: String,
    /// Where each family's series end in `text`.
    ends: Vec<usize>,
}

impl Fragment {
    /// The series of `terminal`, with `tally` its runs and failures.
    pub(crate) fn of(terminal: TerminalSnapshot, tally: TallySnapshot) -> Fragment {
        let text = encode(TerminalFamilies {
            terminal: Some(terminal),
            tally,
        });
        let mut out = Fragment {
            text: String::with_capacity(text.len()),
            ends: Vec::new(),
        };
        for f in families(&text) {
            out.text.push_str(f.series);
            out.ends.push(out.text.len());
        }
        out
    }

    /// Its series of the `i`th family.
    fn family(&self, i: usize) -> &str {
        let start = match i {
            0 => 0,
            _ => self.ends.get(i - 1).copied().unwrap_or(self.text.len()),
        };
        let end = self.ends.get(i).copied().unwrap_or(self.text.len());
        self.text.get(start..end).unwrap_or_default()
    }

    fn len(&self) -> usize {
        self.text.len()
    }
}

/// The terminals' families: each family's header, then the series of each
/// of `fragments` in turn.
pub(crate) fn assemble<'a>(fragments: impl Iterator<Item = &'a Fragment> + Clone) -> String {
    let headers = terminal_headers();
    let size = headers.iter().map(String::len).sum::<usize>()
        + fragments.clone().map(Fragment::len).sum::<usize>();
    let mut out = String::with_capacity(size);
    for (i, header) in headers.iter().enumerate() {
        out.push_str(header);
        for f in fragments.clone() {
            out.push_str(f.family(i));
        }
    }
    out
}

/// The verdict as a label value.
fn verdict_label(v: Verdict) -> &'static str {
    match v {
        Verdict::Ok => "ok",
        Verdict::Unknown => "unknown",
        Verdict::Warning => "warning",
        Verdict::Error => "error",
        Verdict::Critical => "critical",
    }
}

const VERDICTS: [Verdict; 5] = [
    Verdict::Ok,
    Verdict::Warning,
    Verdict::Critical,
    Verdict::Unknown,
    Verdict::Error,
];

/// A check id as a label: plugin check ids come from manifests, but a
/// plugin's output is untrusted, so anything outside `[A-Za-z0-9_.:-]`
/// (or longer than 64) becomes `invalid`.
fn check_label(check: &str) -> &str {
    let ok = !check.is_empty()
        && check.len() <= 64
        && check
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'-'));
    if ok { check } else { "invalid" }
}

/// A version string the terminal reported, bounded to a label's worth of
/// printable ASCII (it is already masked).
fn version_label(v: &str) -> String {
    v.chars()
        .take(64)
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn unix_seconds(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// The certificate's expiry in Unix seconds: the exact `not_after` a TLS
/// finding carries, else (a finding stored before it carried one) the whole
/// days left counted from the day it was observed.
fn not_after(f: &Finding) -> Option<f64> {
    if let Some(EvidenceValue::Text(at)) = f.evidence("not_after")
        && let Ok(at) = at.parse::<jiff::Timestamp>()
    {
        return Some(at.as_second() as f64);
    }
    number(f, "days_to_expiry")
        .map(|days| (unix_seconds(f.observed_at) / 86_400.0).floor() * 86_400.0 + days * 86_400.0)
}

fn number(f: &Finding, name: &str) -> Option<f64> {
    match f.evidence(name) {
        Some(EvidenceValue::Number(n)) if n.is_finite() => Some(*n),
        _ => None,
    }
}

/// One check on one target of one terminal, as its series name it.
struct CheckRow<'a> {
    terminal: &'a str,
    check: &'a str,
    target: String,
    finding: &'a Finding,
}

/// Terminal, check and target.
fn base<'r>(r: &'r CheckRow<'_>) -> Labels<'r> {
    vec![
        ("terminal", r.terminal),
        ("check", r.check),
        ("target", r.target.as_str()),
    ]
}

/// Terminal and target.
fn host<'r>(r: &'r CheckRow<'_>) -> Labels<'r> {
    vec![("terminal", r.terminal), ("target", r.target.as_str())]
}

/// A plugin's series.
fn plugin(p: &PluginStatus, v: f64) -> (Labels<'_>, f64) {
    (vec![("plugin", p.id.as_str())], v)
}

/// The build info.
#[derive(Debug)]
struct Head;

/// The terminals' families, of one terminal (none: only their headers).
#[derive(Debug)]
struct TerminalFamilies {
    terminal: Option<TerminalSnapshot>,
    /// Its runs and failures.
    tally: TallySnapshot,
}

/// The daemon's own families.
#[derive(Debug)]
struct Daemon(DaemonSeries);

type Labels<'a> = Vec<(&'a str, &'a str)>;

impl TerminalFamilies {
    /// The latest finding of each (terminal, check, target); the first
    /// wins where a plugin reports one check on several subjects.
    fn rows(&self) -> Vec<CheckRow<'_>> {
        let mut out = Vec::new();
        for t in self.terminal.as_slice() {
            let mut seen = std::collections::HashSet::new();
            // How findings name each host, once per terminal.
            let subjects: Vec<(String, &str)> = t
                .spec
                .hosts
                .iter()
                .map(|h| (h.subject(), h.name.as_str()))
                .collect();
            for f in &t.latest {
                let target = subjects
                    .iter()
                    .find(|(s, _)| *s == f.subject)
                    .map(|(_, n)| (*n).to_owned())
                    .unwrap_or_default();
                let check = check_label(&f.check);
                if seen.insert((check, target.clone())) {
                    out.push(CheckRow {
                        terminal: t.spec.id.as_str(),
                        check,
                        target,
                        finding: f,
                    });
                }
            }
        }
        out
    }
}

/// Encodes one family of gauges or counters from `(labels, value)` rows.
fn family<'a>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    kind: MetricType,
    rows: impl IntoIterator<Item = (Labels<'a>, f64)>,
) -> Result<(), std::fmt::Error> {
    let mut metric = encoder.encode_descriptor(name, help, None, kind)?;
    for (labels, value) in rows {
        let e = metric.encode_family(&labels)?;
        match kind {
            MetricType::Counter => ConstCounter::new(value).encode(e)?,
            _ => ConstGauge::new(value).encode(e)?,
        }
    }
    Ok(())
}

impl Collector for Head {
    fn encode(&self, mut enc: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        family(
            &mut enc,
            "posdiag_build_info",
            "The running posdiagd's version.",
            MetricType::Gauge,
            [(vec![("version", env!("CARGO_PKG_VERSION"))], 1.0)],
        )
    }
}

impl Collector for TerminalFamilies {
    fn encode(&self, mut enc: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let terminals = self.terminal.as_slice();
        let tally = &self.tally;
        let gauge = MetricType::Gauge;
        let counter = MetricType::Counter;

        // Terminals.
        let versions: Vec<String> = terminals
            .iter()
            .map(|t| {
                t.latest
                    .iter()
                    .find(|f| f.check == checks::TERMINAL_LINK)
                    .and_then(|f| match f.evidence("software_version") {
                        Some(EvidenceValue::Text(v)) => Some(version_label(v)),
                        _ => None,
                    })
                    .unwrap_or_default()
            })
            .collect();
        family(
            &mut enc,
            "posdiag_terminal_info",
            "A configured terminal: its protocol, link kind, vendor and model (configuration) and the software version it last reported.",
            gauge,
            terminals.iter().zip(&versions).map(|(t, v)| {
                (
                    vec![
                        ("terminal", t.spec.id.as_str()),
                        ("protocol", t.spec.protocol.map_or("none", |p| p.name())),
                        ("link", t.spec.link.kind()),
                        ("vendor", t.spec.vendor.as_str()),
                        ("model", t.spec.model.as_str()),
                        ("software_version", v.as_str()),
                    ],
                    1.0,
                )
            }),
        )?;
        family(
            &mut enc,
            "posdiag_terminal_status",
            "The terminal's status, the worst verdict of its latest findings, as a state set (no series before its first check).",
            gauge,
            terminals
                .iter()
                .filter_map(|t| t.status.map(|st| (t, st)))
                .flat_map(|(t, st)| {
                    VERDICTS.iter().map(move |v| {
                        (
                            vec![
                                ("terminal", t.spec.id.as_str()),
                                ("verdict", verdict_label(*v)),
                            ],
                            f64::from(u8::from(*v == st)),
                        )
                    })
                }),
        )?;

        // Checks.
        let rows = self.rows();
        family(
            &mut enc,
            "posdiag_check_success",
            "1 when the check's latest verdict is OK or WARNING (it works), 0 otherwise.",
            gauge,
            rows.iter().map(|r| {
                let ok = matches!(r.finding.verdict, Verdict::Ok | Verdict::Warning);
                (base(r), f64::from(u8::from(ok)))
            }),
        )?;
        family(
            &mut enc,
            "posdiag_check_verdict",
            "The check's latest verdict as a state set: one series per verdict, the current one is 1.",
            gauge,
            rows.iter().flat_map(|r| {
                VERDICTS.iter().map(move |v| {
                    let mut l = base(r);
                    l.push(("verdict", verdict_label(*v)));
                    (l, f64::from(u8::from(*v == r.finding.verdict)))
                })
            }),
        )?;
        family(
            &mut enc,
            "posdiag_check_failure_info",
            "Present (1) while the check fails (WARNING, ERROR or CRITICAL), with the reason code (posdiag explain REASON).",
            gauge,
            rows.iter()
                .filter(|r| {
                    matches!(
                        r.finding.verdict,
                        Verdict::Warning | Verdict::Error | Verdict::Critical
                    )
                })
                .map(|r| {
                    let mut l = base(r);
                    l.push(("reason", r.finding.reason.code()));
                    (l, 1.0)
                }),
        )?;
        family(
            &mut enc,
            "posdiag_check_last_run_timestamp_seconds",
            "When the check last finished (Unix time).",
            gauge,
            rows.iter()
                .map(|r| (base(r), unix_seconds(r.finding.observed_at))),
        )?;
        family(
            &mut enc,
            "posdiag_check_duration_seconds",
            "How long the check's latest run took.",
            gauge,
            rows.iter()
                .map(|r| (base(r), r.finding.duration.as_secs_f64())),
        )?;
        let live: std::collections::HashSet<&str> =
            terminals.iter().map(|t| t.spec.id.as_str()).collect();
        family(
            &mut enc,
            "posdiag_check_runs",
            "Check runs since the daemon started, by verdict.",
            counter,
            tally
                .runs
                .iter()
                .filter(|(k, _, _)| live.contains(k.terminal.as_str()))
                .map(|(k, v, n)| {
                    (
                        vec![
                            ("terminal", k.terminal.as_str()),
                            ("check", check_label(&k.check)),
                            ("target", k.target.as_str()),
                            ("verdict", verdict_label(*v)),
                        ],
                        *n as f64,
                    )
                }),
        )?;
        family(
            &mut enc,
            "posdiag_check_failures",
            "Failed check runs (WARNING, ERROR, CRITICAL) since the daemon started, by reason.",
            counter,
            tally
                .failures
                .iter()
                .filter(|(k, _, _)| live.contains(k.terminal.as_str()))
                .map(|(k, r, n)| {
                    (
                        vec![
                            ("terminal", k.terminal.as_str()),
                            ("check", check_label(&k.check)),
                            ("target", k.target.as_str()),
                            ("reason", r.code()),
                        ],
                        *n as f64,
                    )
                }),
        )?;

        // Hosts.
        let host_rows: Vec<&CheckRow<'_>> = rows.iter().filter(|r| !r.target.is_empty()).collect();
        let of = |check: &'static str| host_rows.iter().filter(move |r| r.check == check);
        let ms = |f: &Finding, name: &str| number(f, name).map(|v| v / 1000.0);
        let phases = [
            (checks::HOST_DNS, "resolve", "resolve_time"),
            (checks::HOST_TCP, "connect", "rtt_p50"),
            (checks::HOST_TLS, "tls", "handshake_time"),
            (checks::HOST_EXCHANGE, "exchange", "rtt_p50"),
        ];
        family(
            &mut enc,
            "posdiag_host_phase_duration_seconds",
            "Each phase of the latest probe of a host: resolve, connect (median of the attempts), tls (handshake), exchange (median session).",
            gauge,
            phases.iter().flat_map(|(check, phase, ev)| {
                of(check).filter_map(move |r| {
                    ms(r.finding, ev).map(|v| {
                        let mut l = host(r);
                        l.push(("phase", phase));
                        (l, v)
                    })
                })
            }),
        )?;
        let repeated = [checks::HOST_TCP, checks::HOST_EXCHANGE];
        family(
            &mut enc,
            "posdiag_host_rtt_seconds",
            "Round trips of the latest probe's attempts (connects or exchanges): p50, p95, max.",
            gauge,
            repeated.iter().flat_map(|check| {
                of(check).flat_map(move |r| {
                    [("p50", "rtt_p50"), ("p95", "rtt_p95"), ("max", "rtt_max")]
                        .into_iter()
                        .filter_map(move |(stat, ev)| {
                            ms(r.finding, ev).map(|v| {
                                let mut l = host(r);
                                l.push(("check", r.check));
                                l.push(("stat", stat));
                                (l, v)
                            })
                        })
                })
            }),
        )?;
        // One value of the latest probe per repeated check, labelled with it.
        let per_check = |value: fn(&Finding) -> Option<f64>| {
            repeated.iter().flat_map(move |check| {
                of(check).filter_map(move |r| {
                    value(r.finding).map(|v| {
                        let mut l = host(r);
                        l.push(("check", r.check));
                        (l, v)
                    })
                })
            })
        };
        family(
            &mut enc,
            "posdiag_host_loss_ratio",
            "Share of the latest probe's attempts that failed (0 to 1).",
            gauge,
            per_check(|f| number(f, "loss_ratio")),
        )?;
        family(
            &mut enc,
            "posdiag_host_jitter_seconds",
            "Mean change between consecutive round trips of the latest probe.",
            gauge,
            per_check(|f| number(f, "jitter").map(|v| v / 1000.0)),
        )?;
        family(
            &mut enc,
            "posdiag_tls_cert_not_after_timestamp_seconds",
            "When the host's certificate expires (Unix time, from the certificate seen at the latest handshake).",
            gauge,
            of(checks::HOST_TLS).filter_map(|r| not_after(r.finding).map(|at| (host(r), at))),
        )?;

        Ok(())
    }
}

impl Collector for Daemon {
    fn encode(&self, mut enc: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let s = &self.0;
        let gauge = MetricType::Gauge;
        let counter = MetricType::Counter;

        // Plugins.
        family(
            &mut enc,
            "posdiag_plugin_up",
            "1 while the plugin's host process serves checks.",
            gauge,
            s.plugins
                .iter()
                .map(|p| plugin(p, f64::from(u8::from(p.state == PluginState::Ready)))),
        )?;
        family(
            &mut enc,
            "posdiag_plugin_restarts",
            "Deaths of the plugin's host process (crash, hang, protocol fault) since the daemon started.",
            counter,
            s.plugins.iter().map(|p| plugin(p, f64::from(p.crashes))),
        )?;
        family(
            &mut enc,
            "posdiag_plugin_quarantined",
            "1 while the plugin is quarantined after repeated deaths (or cannot be loaded at all).",
            gauge,
            s.plugins.iter().map(|p| {
                let q = matches!(p.state, PluginState::Quarantined | PluginState::Failed);
                plugin(p, f64::from(u8::from(q)))
            }),
        )?;

        // The durable history.
        let (enabled, st) = match &s.history {
            HistoryState::Disabled => (0.0, None),
            HistoryState::Unavailable => (1.0, None),
            HistoryState::Open(st) => (1.0, Some(st)),
        };
        let none: Labels<'_> = Vec::new();
        family(
            &mut enc,
            "posdiag_history_enabled",
            "1 when the durable history is configured ([history] enabled).",
            gauge,
            [(none.clone(), enabled)],
        )?;
        let degraded = match &s.history {
            HistoryState::Unavailable => 1.0,
            HistoryState::Open(st) if st.degraded.is_some() => 1.0,
            _ => 0.0,
        };
        family(
            &mut enc,
            "posdiag_history_degraded",
            "1 while the history cannot be written (disk full, read-only, could not be opened); checks go on.",
            gauge,
            [(none.clone(), degraded)],
        )?;
        if let Some(st) = st {
            let one = |v: u64| [(none.clone(), v as f64)];
            family(
                &mut enc,
                "posdiag_history_rows",
                "Findings stored in the history file.",
                gauge,
                one(st.rows),
            )?;
            family(
                &mut enc,
                "posdiag_history_size_bytes",
                "Size of the history file and its write-ahead log.",
                gauge,
                one(st.size_bytes),
            )?;
            family(
                &mut enc,
                "posdiag_history_write_errors",
                "Failed commits to the history since the daemon started.",
                counter,
                one(st.write_errors),
            )?;
            family(
                &mut enc,
                "posdiag_history_dropped",
                "Records dropped because the history's writer fell behind.",
                counter,
                one(st.dropped),
            )?;
            family(
                &mut enc,
                "posdiag_history_unwritten",
                "Records that could not be stored (the file could not be written).",
                counter,
                one(st.unwritten),
            )?;
        }

        // gRPC.
        family(
            &mut enc,
            "posdiag_grpc_requests",
            "gRPC calls since the daemon started, by method and status code (refused calls included).",
            counter,
            s.grpc
                .iter()
                .map(|(m, c, n)| (vec![("method", *m), ("code", *c)], *n as f64)),
        )?;

        // The OTLP export (`[export.otlp]`), when on.
        if let Some(o) = &s.otlp {
            let by_signal = |logs: u64, metrics: u64| {
                [
                    (vec![("signal", "logs")], logs as f64),
                    (vec![("signal", "metrics")], metrics as f64),
                ]
            };
            family(
                &mut enc,
                "posdiag_otlp_exported",
                "What the OTLP collector accepted: findings (logs) and metric exports (one per interval).",
                counter,
                by_signal(o.logs_exported, o.metrics_exported),
            )?;
            family(
                &mut enc,
                "posdiag_otlp_dropped",
                "What never reached the OTLP collector: findings dropped from the full queue or a failed export (logs), failed metric exports (metrics).",
                counter,
                by_signal(o.logs_dropped, o.metrics_dropped),
            )?;
        }
        Ok(())
    }
}
