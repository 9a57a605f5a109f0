//! The daemon's configuration, in two stages: [`RawConfig`] is what serde
//! reads from TOML (unknown keys rejected), [`Config`] is what the daemon
//! runs on, built by validating every value. A bad file is reported as
//! `FILE:LINE:COLUMN: KEY: what is wrong and what is expected`, and nothing is
//! opened or bound before the whole file has passed.
//!
//! This file holds the load pipeline and the error plumbing ([`Validator`]:
//! locations, keys, ranges, warnings). Each section is validated in its own
//! file, by one function that returns its validated type: `daemon`, `dns`,
//! `defaults`, `hosts`, `rules`, `codes`, `ports`, `terminals`, `plugins`,
//! `history`, `metrics`, `console`, `export`.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use posdiag_api::rules::is_plain_name;
use posdiag_engine::PortsSpec;
use posdiag_engine::model::{DnsSpec, ProbeSpec, Thresholds};
use serde::Deserialize;
use toml::Spanned;

pub use auth::{AuthConfig, AuthMode, Limits, ProbeScope, TlsAuth, TokenAuth, UnixAuth};
pub use console::{ConsoleConfig, ConsoleUser};
pub use daemon::{DEFAULT_SOCKET, Listen, LogFormat, MAX_SOCKET_PATH_BYTES, check_listen};
pub use export::{ExportConfig, OtlpConfig};
pub use history::{DEFAULT_HISTORY_PATH, HistoryConfig};
pub use metrics::MetricsConfig;
pub use plugins::PluginsConfig;
pub use terminals::TerminalConfig;

mod auth;
mod codes;
mod console;
mod daemon;
mod defaults;
mod dns;
mod export;
mod history;
mod hosts;
mod metrics;
mod plugins;
mod ports;
mod rules;
mod terminals;

#[cfg(test)]
mod tests;

// ---------------------------------------------------------------- stage 1

/// The file as written.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    #[serde(default)]
    daemon: daemon::RawDaemon,
    #[serde(default)]
    dns: dns::RawDns,
    #[serde(default)]
    defaults: defaults::RawProbe,
    #[serde(default)]
    hosts: BTreeMap<String, hosts::RawHost>,
    #[serde(default)]
    terminals: Vec<terminals::RawTerminal>,
    #[serde(default)]
    rules: BTreeMap<Spanned<String>, posdiag_api::rules::RawRules>,
    #[serde(default)]
    codes: codes::RawCodes,
    #[serde(default)]
    ports: ports::RawPorts,
    #[serde(default)]
    plugins: plugins::RawPlugins,
    #[serde(default)]
    history: history::RawHistory,
    #[serde(default)]
    auth: auth::RawAuth,
    #[serde(default)]
    limits: auth::RawLimits,
    #[serde(default)]
    metrics: metrics::RawMetrics,
    #[serde(default)]
    console: console::RawConsole,
    #[serde(default)]
    export: export::RawExport,
}

// ---------------------------------------------------------------- stage 2

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it came from (for messages).
    pub origin: String,
    /// Where to listen.
    pub listen: Vec<Listen>,
    /// Permission bits of unix sockets.
    pub socket_mode: u32,
    /// Whether TCP may listen on non-loopback addresses.
    pub allow_non_loopback_tcp: bool,
    /// Bound on graceful shutdown.
    pub shutdown_timeout: Duration,
    /// Log line format.
    pub log_format: LogFormat,
    /// Findings kept per terminal (oldest dropped first).
    pub history_per_terminal: usize,
    /// Ad-hoc probes allowed to run at once.
    pub max_concurrent_probes: usize,
    /// Where names are resolved.
    pub dns: DnsSpec,
    /// Serial port discovery.
    pub ports: PortsSpec,
    /// The configured terminals, in configuration order, each with all the
    /// daemon knows about it.
    pub terminals: Vec<TerminalConfig>,
    /// Defaults applied to ad-hoc probes.
    pub probe_defaults: ProbeSpec,
    /// Thresholds applied to ad-hoc probes.
    pub threshold_defaults: Thresholds,
    /// Customer-ID rule sets by name (`[rules.NAME]`).
    pub rule_sets: BTreeMap<String, Arc<posdiag_ids::RuleSet>>,
    /// The code knowledge base: built-in tables plus vendor tables from `[codes] dir`.
    pub codes: Arc<posdiag_codes::KnowledgeBase>,
    /// What is allowed but probably a mistake (a socket mode that lets
    /// every user in, a vendor code table that was rejected), each
    /// `FILE:LINE:COLUMN: KEY: problem`. `--check-config` prints them; a
    /// running daemon logs them and runs on.
    pub warnings: Vec<String>,
    /// Vendor plugins (`[plugins]`).
    pub plugins: PluginsConfig,
    /// The durable history (`[history]`).
    pub history: HistoryConfig,
    /// Who may call what, and the limits (`[auth]`, `[limits]`).
    pub auth: AuthConfig,
    /// The Prometheus endpoint and textfile (`[metrics]`).
    pub metrics: MetricsConfig,
    /// The store's web page (`[console]`).
    pub console: ConsoleConfig,
    /// The optional OTLP export (`[export.otlp]`).
    pub export: ExportConfig,
}

impl Config {
    /// What the engine runs: the terminals' specs and the daemon-wide
    /// settings. Plugins are filled in by the daemon once it has scanned
    /// the plugin directory.
    pub fn engine_config(&self) -> posdiag_engine::EngineConfig {
        posdiag_engine::EngineConfig {
            terminals: self.terminals.iter().map(|t| t.spec.clone()).collect(),
            dns: self.dns.clone(),
            history_per_terminal: self.history_per_terminal,
            max_concurrent_probes: self.max_concurrent_probes,
            ports: self.ports.clone(),
            plugins: Default::default(),
            history: None,
        }
    }

    /// The configured terminal with id `id`.
    pub fn terminal(&self, id: &str) -> Option<&TerminalConfig> {
        TerminalConfig::find(&self.terminals, id)
    }
}

/// A configuration that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}{}: {key}: {message}", location(*line, *column))]
pub struct ConfigError {
    /// The file.
    pub file: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// 1-based column, when known.
    pub column: Option<usize>,
    /// The key at fault, dotted (`hosts.acquirer-a.port`).
    pub key: String,
    /// What is wrong and what is expected.
    pub message: String,
}

fn location(line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!(":{l}:{c}"),
        (Some(l), None) => format!(":{l}"),
        _ => String::new(),
    }
}

/// Reads and validates `path`.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let file = path.display().to_string();
    let text =
        posdiag_fs::read_to_string_bounded(path, posdiag_fs::CONFIG).map_err(|e| ConfigError {
            file: file.clone(),
            line: None,
            column: None,
            key: "(file)".into(),
            message: format!("the configuration {e}"),
        })?;
    parse(&text, &file, path.parent().unwrap_or(Path::new(".")))
}

/// Validates `text`; `file` names it in messages, relative paths in it
/// (`ca_file`) are taken from `base`.
pub fn parse(text: &str, file: &str, base: &Path) -> Result<Config, ConfigError> {
    let v = Validator {
        text,
        file,
        warnings: std::cell::RefCell::new(Vec::new()),
    };
    let raw: RawConfig = toml::from_str(text).map_err(|e| {
        let span = e.span();
        let key = span.as_ref().map(|s| v.key_at(s.start)).unwrap_or_default();
        v.err(span, &key, e.message().trim_end().to_owned())
    })?;
    validate(&v, &raw, base)
}

/// Stage two: each section in turn, in the order later sections need them
/// (terminals name hosts, rule sets and code schemes).
fn validate(v: &Validator, raw: &RawConfig, base: &Path) -> Result<Config, ConfigError> {
    let auth = auth::validate(v, &raw.auth, &raw.limits, base)?;
    let daemon = daemon::validate(v, &raw.daemon, auth.tls.is_some())?;
    let dns = dns::validate(v, &raw.dns)?;
    let defaults = defaults::validate(v, &raw.defaults)?;
    let hosts = hosts::validate(v, &raw.hosts, &defaults, base)?;
    let rule_sets = rules::validate(v, &raw.rules)?;
    let codes = codes::validate(v, &raw.codes, base)?;
    let ports = ports::validate(v, &raw.ports, base)?;
    let terminals = terminals::validate(
        v,
        &raw.terminals,
        &terminals::Known {
            hosts: &hosts,
            rule_sets: &rule_sets,
            codes: &codes,
            check_interval_s: defaults.check_interval_s,
        },
    )?;
    let plugins = plugins::validate(v, &raw.plugins, base)?;
    let history = history::validate(v, &raw.history, base)?;
    let metrics = metrics::validate(v, &raw.metrics, base, daemon.allow_non_loopback_tcp)?;
    let console = console::validate(
        v,
        &raw.console,
        daemon.allow_non_loopback_tcp,
        auth.tls.is_some(),
        auth.tokens.len(),
    )?;
    let export = export::validate(v, &raw.export)?;
    Ok(Config {
        origin: v.file.to_owned(),
        listen: daemon.listen,
        socket_mode: daemon.socket_mode,
        allow_non_loopback_tcp: daemon.allow_non_loopback_tcp,
        shutdown_timeout: daemon.shutdown_timeout,
        log_format: daemon.log_format,
        history_per_terminal: daemon.history_per_terminal,
        max_concurrent_probes: daemon.max_concurrent_probes,
        dns,
        ports,
        terminals,
        probe_defaults: defaults.probe,
        threshold_defaults: defaults.thresholds,
        rule_sets,
        codes: Arc::new(codes),
        warnings: v.warnings.take(),
        plugins,
        history,
        auth,
        metrics,
        console,
        export,
    })
}

/// What every section's validation shares: the text (for line and column,
/// and the key at an offset), the file's name, and the warnings so far.
struct Validator<'a> {
    text: &'a str,
    file: &'a str,
    /// Collected as validation goes; moved into [`Config::warnings`].
    warnings: std::cell::RefCell<Vec<String>>,
}

impl Validator<'_> {
    /// Records a warning, formatted like an error.
    fn warn(&self, span: Option<Range<usize>>, key: &str, message: impl Into<String>) {
        let e = self.err(span, key, message);
        self.warnings.borrow_mut().push(e.to_string());
    }

    fn err(
        &self,
        span: Option<Range<usize>>,
        key: &str,
        message: impl Into<String>,
    ) -> ConfigError {
        let (line, column) = match span {
            Some(s) => {
                let (l, c) = self.line_col(s.start);
                (Some(l), Some(c))
            }
            None => (None, None),
        };
        ConfigError {
            file: self.file.to_owned(),
            line,
            column,
            key: key.to_owned(),
            message: message.into(),
        }
    }

    fn at<T>(&self, v: &Spanned<T>, key: &str, message: impl Into<String>) -> ConfigError {
        self.err(Some(v.span()), key, message)
    }

    fn line_col(&self, offset: usize) -> (usize, usize) {
        posdiag_api::rules::line_col(self.text, offset)
    }

    /// The dotted key at `offset` (serde errors do not say which key failed).
    fn key_at(&self, offset: usize) -> String {
        posdiag_api::rules::key_at(self.text, offset)
    }

    fn range_u64(
        &self,
        v: &Option<Spanned<u64>>,
        key: &str,
        min: u64,
        max: u64,
        default: u64,
    ) -> Result<u64, ConfigError> {
        match v {
            None => Ok(default),
            Some(s) if (min..=max).contains(s.get_ref()) => Ok(*s.get_ref()),
            Some(s) => Err(self.at(
                s,
                key,
                format!("{} is out of range; expected {min} to {max}", s.get_ref()),
            )),
        }
    }

    fn range_u32(
        &self,
        v: &Option<Spanned<u32>>,
        key: &str,
        min: u32,
        max: u32,
        default: u32,
    ) -> Result<u32, ConfigError> {
        let widened = v
            .as_ref()
            .map(|s| Spanned::new(s.span(), u64::from(*s.get_ref())));
        self.range_u64(
            &widened,
            key,
            u64::from(min),
            u64::from(max),
            u64::from(default),
        )
        .map(|n| n as u32)
    }

    fn ratio(&self, v: &Option<Spanned<f64>>, key: &str, default: f64) -> Result<f64, ConfigError> {
        match v {
            None => Ok(default),
            Some(s) if (0.0..=1.0).contains(s.get_ref()) => Ok(*s.get_ref()),
            Some(s) => Err(self.at(
                s,
                key,
                format!(
                    "{} is not a ratio; expected a number from 0 to 1 (0.05 = 5%)",
                    s.get_ref()
                ),
            )),
        }
    }
}
