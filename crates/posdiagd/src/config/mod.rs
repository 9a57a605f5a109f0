//! The daemon's configuration, in two stages: [`RawConfig`] is what serde
//! reads from TOML (unknown keys rejected), [`Config`] is what the daemon
//! runs on, built by validating every value. A bad file is reported as
//! `FILE:LINE:COLUMN: KEY: what is wrong and what is expected`, and nothing is
//! opened or bound before the whole file has passed.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use posdiag_core::TerminalId;
use posdiag_engine::model::{
    DnsSpec, ExchangeSpec, HostSpec, LinkProbeSpec, LinkProtocol, LinkSpec, ProbeSpec,
    TerminalSpec, Thresholds, TlsSpec,
};
use posdiag_engine::model::{PortSelector, SerialSettings};
use serde::Deserialize;
use toml::Spanned;

/// Where the daemon listens when neither the config nor `--listen` says.
pub const DEFAULT_SOCKET: &str = "/run/posdiag/posdiagd.sock";

/// The longest unix socket path bind(2) accepts: `sun_path` holds 108
/// bytes on Linux, including the terminating NUL.
pub const MAX_SOCKET_PATH_BYTES: usize = 107;

/// A listening address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listen {
    /// A unix domain socket (created with mode 0660).
    Unix(PathBuf),
    /// A TCP address.
    Tcp(SocketAddr),
}

impl fmt::Display for Listen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Listen::Unix(p) => write!(f, "unix:{}", p.display()),
            Listen::Tcp(a) => write!(f, "tcp:{a}"),
        }
    }
}

impl Listen {
    /// Parses `unix:PATH` or `tcp:ADDR:PORT`.
    pub fn parse(s: &str) -> Result<Listen, String> {
        if let Some(path) = s.strip_prefix("unix:") {
            if path.is_empty() {
                return Err(
                    "unix: needs a socket path, for example unix:/run/posdiag/posdiagd.sock".into(),
                );
            }
            if path.len() > MAX_SOCKET_PATH_BYTES {
                return Err(format!(
                    "the socket path {} is too long for a unix socket ({} bytes; the kernel takes at most {MAX_SOCKET_PATH_BYTES}, the size of sun_path less its NUL); choose a shorter path, for example unix:/run/posdiag/posdiagd.sock",
                    posdiag_core::quote(path),
                    path.len()
                ));
            }
            if path.contains('\0') {
                return Err(format!(
                    "the socket path {} contains a NUL byte; expected a file path",
                    posdiag_core::quote(path)
                ));
            }
            Ok(Listen::Unix(PathBuf::from(path)))
        } else if let Some(addr) = s.strip_prefix("tcp:") {
            addr.parse()
                .map(Listen::Tcp)
                .map_err(|_| format!("{addr:?} is not an IP address and port; expected for example tcp:127.0.0.1:7070 or tcp:[::1]:7070"))
        } else {
            Err(format!("{s:?} is neither unix:PATH nor tcp:ADDR:PORT"))
        }
    }
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Plain,
    /// One JSON object per line.
    Json,
}

// ---------------------------------------------------------------- stage 1

/// The file as written.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    #[serde(default)]
    daemon: RawDaemon,
    #[serde(default)]
    dns: RawDns,
    #[serde(default)]
    defaults: RawProbe,
    #[serde(default)]
    hosts: BTreeMap<String, RawHost>,
    #[serde(default)]
    terminals: Vec<RawTerminal>,
    #[serde(default)]
    rules: BTreeMap<Spanned<String>, rules::RawRules>,
    #[serde(default)]
    codes: RawCodes,
    #[serde(default)]
    ports: RawPorts,
    #[serde(default)]
    plugins: RawPlugins,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawPlugins {
    dir: Option<Spanned<String>>,
    host: Option<Spanned<String>>,
    require_pins: Option<bool>,
    max_memory_mb: Option<Spanned<u64>>,
    #[serde(default)]
    pins: BTreeMap<String, Spanned<String>>,
    #[serde(default)]
    settings: BTreeMap<String, BTreeMap<String, String>>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawPorts {
    root: Option<Spanned<String>>,
    scan_interval_ms: Option<Spanned<u64>>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawCodes {
    dir: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawDaemon {
    listen: Option<Spanned<Vec<Spanned<String>>>>,
    socket_mode: Option<Spanned<String>>,
    allow_non_loopback_tcp: Option<bool>,
    history_per_terminal: Option<Spanned<u32>>,
    max_concurrent_probes: Option<Spanned<u32>>,
    shutdown_timeout_ms: Option<Spanned<u64>>,
    log_format: Option<LogFormat>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawDns {
    servers: Option<Vec<Spanned<String>>>,
    timeout_ms: Option<Spanned<u64>>,
}

/// Probe settings and thresholds; in `[defaults]` and inline in each host.
#[derive(Debug, Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
struct RawProbe {
    count: Option<Spanned<u32>>,
    interval_ms: Option<Spanned<u64>>,
    timeout_ms: Option<Spanned<u64>>,
    check_interval_s: Option<Spanned<u64>>,
    loss_warning_ratio: Option<Spanned<f64>>,
    loss_critical_ratio: Option<Spanned<f64>>,
    rtt_warning_ms: Option<Spanned<u64>>,
    rtt_critical_ms: Option<Spanned<u64>>,
    jitter_warning_ms: Option<Spanned<u64>>,
    cert_expiry_warning_days: Option<Spanned<u32>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHost {
    address: Spanned<String>,
    port: Spanned<u16>,
    tls: Option<RawTls>,
    exchange: Option<Spanned<RawExchange>>,
    /// The acquirer echo (host.echo, run by the plugin that offers it).
    iso8583: Option<RawEcho>,
    #[serde(default)]
    probe: RawProbe,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEcho {
    dialect: Spanned<String>,
    count: Option<Spanned<u32>>,
    tpdu: Option<String>,
    terminal_id: Option<String>,
    merchant_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    server_name: Option<Spanned<String>>,
    ca_file: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExchange {
    send: Option<Spanned<String>>,
    send_hex: Option<Spanned<String>>,
    expect: Option<Spanned<String>>,
    expect_hex: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTerminal {
    id: Spanned<String>,
    name: Option<String>,
    #[serde(default)]
    vendor: String,
    #[serde(default)]
    model: String,
    link: Option<Spanned<String>>,
    /// Serial line settings, for example "9600-8N2" (serial and usb links).
    serial: Option<Spanned<String>>,
    /// What posdiagd speaks on the link: "zvt".
    protocol: Option<Spanned<String>>,
    /// Password sent with ZVT commands, 6 digits.
    zvt_password: Option<Spanned<String>>,
    /// The vendor plugin serving the terminal, by id (default: manifest match).
    plugin: Option<Spanned<String>>,
    /// Arguments for the terminal's plugin checks, e.g. min_version.
    #[serde(default)]
    plugin_args: BTreeMap<String, String>,
    /// Deadline of each plugin check, overriding the manifest's.
    plugin_timeout_ms: Option<Spanned<u64>>,
    #[serde(default)]
    hosts: Vec<Spanned<String>>,
    check_interval_s: Option<Spanned<u64>>,
    id_rules: Option<Spanned<String>>,
    dialect: Option<Spanned<String>>,
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
    /// What the engine runs.
    pub engine: posdiag_engine::EngineConfig,
    /// Defaults applied to ad-hoc probes.
    pub probe_defaults: ProbeSpec,
    /// Thresholds applied to ad-hoc probes.
    pub threshold_defaults: Thresholds,
    /// Customer-ID rule sets by name (`[rules.NAME]`).
    pub rule_sets: BTreeMap<String, Arc<posdiag_ids::RuleSet>>,
    /// Terminal id → the name of the rule set it uses (`id_rules`).
    pub terminal_rules: BTreeMap<String, String>,
    /// The code knowledge base: built-in tables plus vendor tables from `[codes] dir`.
    pub codes: Arc<posdiag_codes::KnowledgeBase>,
    /// What is allowed but probably a mistake (a socket mode that lets
    /// every user in, a vendor code table that was rejected), each
    /// `FILE:LINE:COLUMN: KEY: problem`. `--check-config` prints them; a
    /// running daemon logs them and runs on.
    pub warnings: Vec<String>,
    /// Terminal id → the code scheme its messages use (`dialect`).
    pub terminal_dialects: BTreeMap<String, posdiag_codes::Scheme>,
    /// Vendor plugins (`[plugins]`).
    pub plugins: PluginsConfig,
}

/// Where vendor plugin bundles come from and how they run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PluginsConfig {
    /// The bundle directory; `None` loads no plugins.
    pub dir: Option<PathBuf>,
    /// The `posdiag-plugin-host` binary; `None` means next to `posdiagd`.
    pub host: Option<PathBuf>,
    /// Refuse bundles without a pinned SHA-256.
    pub require_pins: bool,
    /// Plugin id → the SHA-256 its library must have (lowercase hex).
    pub pins: BTreeMap<String, String>,
    /// Address-space limit of each plugin host, in MiB.
    pub max_memory_mb: u64,
    /// Plugin id → settings passed to its init.
    pub settings: BTreeMap<String, BTreeMap<String, String>>,
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
    let cx = Cx {
        text,
        file,
        warnings: std::cell::RefCell::new(Vec::new()),
    };
    let raw: RawConfig = toml::from_str(text).map_err(|e| {
        let span = e.span();
        let key = span
            .as_ref()
            .map(|s| cx.key_at(s.start))
            .unwrap_or_default();
        cx.err(span, &key, e.message().trim_end().to_owned())
    })?;
    cx.validate(raw, base)
}

struct Cx<'a> {
    text: &'a str,
    file: &'a str,
    /// Collected as validation goes; moved into [`Config::warnings`].
    warnings: std::cell::RefCell<Vec<String>>,
}

impl Cx<'_> {
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
        let before = &self.text[..offset.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let col = before
            .rsplit('\n')
            .next()
            .map(|l| l.chars().count())
            .unwrap_or(0)
            + 1;
        (line, col)
    }

    /// The dotted key at `offset`, from the nearest table header above it and
    /// the `key =` on its line (serde errors do not say which key failed).
    fn key_at(&self, offset: usize) -> String {
        let offset = offset.min(self.text.len());
        let line_start = self.text[..offset].rfind('\n').map(|i| i + 1).unwrap_or(0);
        let line_end = self.text[offset..]
            .find('\n')
            .map(|i| offset + i)
            .unwrap_or(self.text.len());
        let line = &self.text[line_start..line_end];
        let table = self.text[..line_start]
            .lines()
            .rev()
            .map(str::trim)
            .find(|l| l.starts_with('['))
            .map(|l| l.trim_matches(|c| c == '[' || c == ']').trim().to_owned())
            .unwrap_or_default();
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            return trimmed
                .trim_matches(|c| c == '[' || c == ']')
                .trim()
                .to_owned();
        }
        match line.split_once('=') {
            Some((k, _)) if line_start + k.len() <= offset || offset == line_start => {
                let k = k.trim();
                if table.is_empty() {
                    k.to_owned()
                } else {
                    format!("{table}.{k}")
                }
            }
            _ => table,
        }
    }

    fn validate(&self, raw: RawConfig, base: &Path) -> Result<Config, ConfigError> {
        let d = &raw.daemon;
        let allow_non_loopback_tcp = d.allow_non_loopback_tcp.unwrap_or(false);
        let listen = match &d.listen {
            None => vec![Listen::Unix(PathBuf::from(DEFAULT_SOCKET))],
            Some(list) if list.get_ref().is_empty() => {
                return Err(self.at(list, "daemon.listen", "is empty; give at least one address, for example [\"unix:/run/posdiag/posdiagd.sock\"]"));
            }
            Some(list) => {
                let mut out = Vec::new();
                for item in list.get_ref() {
                    let l = Listen::parse(item.get_ref())
                        .map_err(|m| self.at(item, "daemon.listen", m))?;
                    check_loopback(&l, allow_non_loopback_tcp)
                        .map_err(|m| self.at(item, "daemon.listen", m))?;
                    out.push(l);
                }
                out
            }
        };
        let socket_mode = match &d.socket_mode {
            None => 0o660,
            Some(m) => u32::from_str_radix(m.get_ref().trim_start_matches("0o"), 8)
                .ok()
                .filter(|v| *v <= 0o777)
                .ok_or_else(|| {
                    self.at(
                        m,
                        "daemon.socket_mode",
                        format!(
                            "{:?} is not an octal mode; expected for example \"0660\"",
                            m.get_ref()
                        ),
                    )
                })?,
        };
        if let Some(m) = &d.socket_mode
            && socket_mode & 0o007 != 0
        {
            self.warn(
                Some(m.span()),
                "daemon.socket_mode",
                format!(
                    "{} gives every local user, not only the socket's group, the whole API, which has no authentication; expected for example \"0660\" with clients in the socket's group",
                    posdiag_core::quote(m.get_ref()),
                ),
            );
        }
        let history = self.range_u32(
            &d.history_per_terminal,
            "daemon.history_per_terminal",
            1,
            100_000,
            500,
        )?;
        let probes = self.range_u32(
            &d.max_concurrent_probes,
            "daemon.max_concurrent_probes",
            1,
            1024,
            16,
        )?;
        let shutdown_ms = self.range_u64(
            &d.shutdown_timeout_ms,
            "daemon.shutdown_timeout_ms",
            100,
            600_000,
            5000,
        )?;

        let dns_servers = match &raw.dns.servers {
            None => Vec::new(),
            Some(list) => list
                .iter()
                .map(|s| {
                    let text = s.get_ref();
                    text.parse::<SocketAddr>()
                        .or_else(|_| text.parse::<std::net::IpAddr>().map(|ip| SocketAddr::new(ip, 53)))
                        .map_err(|_| self.at(s, "dns.servers", format!("{text:?} is not an IP address (with an optional port), for example \"192.0.2.53\" or \"127.0.0.1:5353\"")))
                })
                .collect::<Result<_, _>>()?,
        };
        let dns = DnsSpec {
            servers: dns_servers,
            timeout: Duration::from_millis(self.range_u64(
                &raw.dns.timeout_ms,
                "dns.timeout_ms",
                10,
                60_000,
                3000,
            )?),
        };

        let (probe_defaults, threshold_defaults, default_interval) =
            self.probe(&raw.defaults, "defaults", None)?;

        let mut hosts: BTreeMap<String, Arc<HostSpec>> = BTreeMap::new();
        for (name, h) in &raw.hosts {
            let key = |k: &str| format!("hosts.{name}.{k}");
            if !is_plain_name(name) {
                return Err(self.at(
                    &h.address,
                    &format!("hosts.{name}"),
                    "host names may use only letters, digits, '.', '_' and '-'",
                ));
            }
            let address = h.address.get_ref().trim();
            if address.is_empty() || address.contains(char::is_whitespace) || address.contains('/')
            {
                return Err(self.at(
                    &h.address,
                    &key("address"),
                    format!("{address:?} is not a host name or IP address"),
                ));
            }
            if *h.port.get_ref() == 0 {
                return Err(self.at(&h.port, &key("port"), "must be between 1 and 65535"));
            }
            if h.probe.check_interval_s.is_some() {
                let s = h.probe.check_interval_s.as_ref().map(|s| s.span());
                return Err(self.err(
                    s,
                    &key("probe.check_interval_s"),
                    "is set per terminal (or in [defaults]), not per host",
                ));
            }
            let (probe, thresholds, _) = self.probe(
                &h.probe,
                &format!("hosts.{name}.probe"),
                Some((&raw.defaults, probe_defaults, threshold_defaults)),
            )?;
            let tls = match &h.tls {
                None => None,
                Some(t) => Some(self.tls(t, &format!("hosts.{name}.tls"), base)?),
            };
            let exchange = match &h.exchange {
                None => None,
                Some(x) => Some(self.exchange(x, &format!("hosts.{name}.exchange"))?),
            };
            let echo = match &h.iso8583 {
                None => None,
                Some(e) => {
                    const DIALECTS: [&str; 4] = ["ascii", "binary", "ascii-1993", "cup"];
                    if !DIALECTS.contains(&e.dialect.get_ref().as_str()) {
                        return Err(self.at(
                            &e.dialect,
                            &format!("hosts.{name}.iso8583.dialect"),
                            format!(
                                "{:?} is not an ISO 8583 dialect; expected one of {}",
                                e.dialect.get_ref(),
                                DIALECTS.join(", ")
                            ),
                        ));
                    }
                    let mut args = BTreeMap::new();
                    args.insert("dialect".to_owned(), e.dialect.get_ref().clone());
                    if let Some(c) = &e.count {
                        let n = self.range_u64(
                            &Some(Spanned::new(c.span(), u64::from(*c.get_ref()))),
                            &format!("hosts.{name}.iso8583.count"),
                            1,
                            100,
                            5,
                        )?;
                        args.insert("count".to_owned(), n.to_string());
                    }
                    for (k, v) in [
                        ("tpdu", &e.tpdu),
                        ("terminal_id", &e.terminal_id),
                        ("merchant_id", &e.merchant_id),
                    ] {
                        if let Some(v) = v {
                            args.insert(k.to_owned(), v.clone());
                        }
                    }
                    Some(posdiag_engine::model::EchoSpec { args })
                }
            };
            let spec = HostSpec {
                name: name.clone(),
                echo,
                host: address
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .to_owned(),
                port: *h.port.get_ref(),
                tls,
                exchange,
                probe,
                thresholds,
            };
            hosts.insert(name.clone(), Arc::new(spec));
        }

        let mut rule_sets = BTreeMap::new();
        for (name, r) in &raw.rules {
            rule_sets.insert(name.get_ref().clone(), Arc::new(self.rule_set(name, r)?));
        }
        let mut terminal_rules = BTreeMap::new();
        let mut terminal_dialects = BTreeMap::new();
        let codes = match &raw.codes.dir {
            None => posdiag_codes::KnowledgeBase::builtin(),
            Some(d) => {
                let dir = base.join(d.get_ref());
                if !dir.is_dir() {
                    return Err(self.at(
                        d,
                        "codes.dir",
                        format!("{} is not a directory", dir.display()),
                    ));
                }
                let (codes, rejected) = codes::load_dir(&dir);
                for r in rejected {
                    self.warn(
                        Some(d.span()),
                        "codes.dir",
                        format!("vendor code table rejected: {r}"),
                    );
                }
                codes
            }
        };

        let ports = {
            let root = match &raw.ports.root {
                None => PathBuf::from("/"),
                Some(r) => {
                    let root = base.join(r.get_ref());
                    if !root.is_dir() {
                        return Err(self.at(
                            r,
                            "ports.root",
                            format!(
                                "{} is not a directory; expected the directory holding sys, dev and proc (\"/\" unless the host's are mounted elsewhere)",
                                root.display()
                            ),
                        ));
                    }
                    root
                }
            };
            let interval = self.range_u64(
                &raw.ports.scan_interval_ms,
                "ports.scan_interval_ms",
                100,
                600_000,
                2_000,
            )?;
            posdiag_engine::PortsSpec {
                roots: posdiag_engine::model::DiscoveryRoots::under(&root),
                scan_interval: Duration::from_millis(interval),
            }
        };

        let mut terminals = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for (i, t) in raw.terminals.iter().enumerate() {
            let key = |k: &str| format!("terminals[{i}].{k}");
            let id = TerminalId::new(t.id.get_ref())
                .map_err(|e| self.at(&t.id, &key("id"), format!("{e}")))?;
            if !seen.insert(id.clone()) {
                return Err(self.at(
                    &t.id,
                    &key("id"),
                    format!(
                        "terminal id {id:?} is used twice; ids must be unique",
                        id = id.as_str()
                    ),
                ));
            }
            let link = match &t.link {
                None => LinkSpec::None,
                Some(l) => parse_link(l.get_ref()).map_err(|m| self.at(l, &key("link"), m))?,
            };
            let link = match (link, &t.serial) {
                (LinkSpec::Serial { port, .. }, Some(s)) => LinkSpec::Serial {
                    port,
                    settings: s.get_ref().parse().map_err(|e| {
                        self.at(
                            s,
                            &key("serial"),
                            format!(
                                "{e}; expected for example \"9600-8N2\" or \"115200-8N1-rtscts\""
                            ),
                        )
                    })?,
                },
                (_, Some(s)) => {
                    return Err(self.at(
                        s,
                        &key("serial"),
                        "serial settings need a serial link; set link = \"serial:/dev/PATH\" or \"usb:VID:PID[:SERIAL]\"",
                    ));
                }
                (link, None) => link,
            };
            let protocol = match (&link, &t.protocol) {
                (LinkSpec::None, Some(p)) => {
                    return Err(self.at(
                        p,
                        &key("protocol"),
                        "a protocol needs a link; set link = \"tcp:HOST:PORT\", \"serial:/dev/PATH\" or \"usb:VID:PID[:SERIAL]\"",
                    ));
                }
                (LinkSpec::None, None) => None,
                (_, None) => Some(LinkProtocol::Zvt),
                (_, Some(p)) => match p.get_ref().as_str() {
                    "zvt" => Some(LinkProtocol::Zvt),
                    "nexo" => Some(LinkProtocol::Nexo),
                    other => {
                        return Err(self.at(
                            p,
                            &key("protocol"),
                            format!("{other:?} is not a link protocol posdiagd speaks; expected \"zvt\" or \"nexo\""),
                        ));
                    }
                },
            };
            let mut link_probe = LinkProbeSpec::default();
            if let Some(pw) = &t.zvt_password {
                link_probe.zvt_password = parse_zvt_password(pw.get_ref())
                    .map_err(|m| self.at(pw, &key("zvt_password"), m))?;
            }
            let mut th = Vec::new();
            for h in &t.hosts {
                let spec = hosts.get(h.get_ref()).ok_or_else(|| {
                    let known: Vec<&str> = hosts.keys().map(String::as_str).collect();
                    self.at(
                        h,
                        &key("hosts"),
                        format!(
                            "no host called {:?} is defined; defined hosts: {}",
                            h.get_ref(),
                            if known.is_empty() {
                                "none (add a [hosts.NAME] table)".to_owned()
                            } else {
                                known.join(", ")
                            }
                        ),
                    )
                })?;
                th.push(spec.clone());
            }
            let interval_s = match &t.check_interval_s {
                Some(v) => Some(self.range_u64(
                    &Some(v.clone()),
                    &key("check_interval_s"),
                    0,
                    86_400,
                    0,
                )?),
                None => default_interval,
            };
            if let Some(d) = &t.dialect {
                let scheme: posdiag_codes::Scheme = d
                    .get_ref()
                    .parse()
                    .ok()
                    .filter(|s| codes.entries(s).is_some())
                    .ok_or_else(|| {
                        let known: Vec<&str> = codes.schemes().iter().map(|s| s.name()).collect();
                        self.at(
                            d,
                            &key("dialect"),
                            format!(
                                "{:?} is not a code scheme; known schemes: {}",
                                d.get_ref(),
                                known.join(", ")
                            ),
                        )
                    })?;
                terminal_dialects.insert(id.to_string(), scheme);
            }
            if let Some(r) = &t.id_rules {
                if !rule_sets.contains_key(r.get_ref()) {
                    let known: Vec<&str> = rule_sets.keys().map(String::as_str).collect();
                    return Err(self.at(
                        r,
                        &key("id_rules"),
                        format!(
                            "no rule set called {:?} is defined; defined rule sets: {}",
                            r.get_ref(),
                            if known.is_empty() {
                                "none (add a [rules.NAME] table)".to_owned()
                            } else {
                                known.join(", ")
                            }
                        ),
                    ));
                }
                terminal_rules.insert(id.to_string(), r.get_ref().clone());
            }
            terminals.push(TerminalSpec {
                name: t.name.clone().unwrap_or_else(|| id.to_string()),
                id,
                vendor: t.vendor.clone(),
                model: t.model.clone(),
                link,
                protocol,
                link_probe,
                plugin: t.plugin.as_ref().map(|p| p.get_ref().clone()),
                plugin_args: t.plugin_args.clone(),
                plugin_timeout: match &t.plugin_timeout_ms {
                    None => None,
                    Some(_) => Some(Duration::from_millis(self.range_u64(
                        &t.plugin_timeout_ms,
                        &key("plugin_timeout_ms"),
                        100,
                        600_000,
                        0,
                    )?)),
                },
                hosts: th,
                check_interval: interval_s.filter(|s| *s > 0).map(Duration::from_secs),
            });
        }

        let plugins = {
            let dir = match &raw.plugins.dir {
                None => None,
                Some(d) => {
                    let dir = base.join(d.get_ref());
                    if !dir.is_dir() {
                        return Err(self.at(
                            d,
                            "plugins.dir",
                            format!("{} is not a directory; expected the directory holding plugin bundles", dir.display()),
                        ));
                    }
                    Some(dir)
                }
            };
            let host = match &raw.plugins.host {
                None => None,
                Some(h) => {
                    let host = base.join(h.get_ref());
                    if !host.is_file() {
                        return Err(self.at(
                            h,
                            "plugins.host",
                            format!(
                                "{} is not a file; expected the posdiag-plugin-host binary",
                                host.display()
                            ),
                        ));
                    }
                    Some(host)
                }
            };
            let mut pins = BTreeMap::new();
            for (id, pin) in &raw.plugins.pins {
                let hex = pin.get_ref().to_ascii_lowercase();
                if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(self.at(
                        pin,
                        &format!("plugins.pins.{id}"),
                        format!(
                            "{:?} is not a SHA-256; expected 64 hex digits (sha256sum LIBRARY)",
                            pin.get_ref()
                        ),
                    ));
                }
                pins.insert(id.clone(), hex);
            }
            PluginsConfig {
                dir,
                host,
                require_pins: raw.plugins.require_pins.unwrap_or(false),
                pins,
                max_memory_mb: self.range_u64(
                    &raw.plugins.max_memory_mb,
                    "plugins.max_memory_mb",
                    16,
                    65_536,
                    256,
                )?,
                settings: raw.plugins.settings.clone(),
            }
        };

        Ok(Config {
            origin: self.file.to_owned(),
            listen,
            socket_mode,
            allow_non_loopback_tcp,
            shutdown_timeout: Duration::from_millis(shutdown_ms),
            log_format: d.log_format.unwrap_or_default(),
            engine: posdiag_engine::EngineConfig {
                terminals,
                dns,
                history_per_terminal: history as usize,
                max_concurrent_probes: probes as usize,
                ports,
                // Filled by the daemon once it has scanned the plugin directory.
                plugins: Default::default(),
            },
            probe_defaults,
            threshold_defaults,
            rule_sets,
            terminal_rules,
            codes: Arc::new(codes),
            warnings: self.warnings.take(),
            terminal_dialects,
            plugins,
        })
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

    /// Probe settings of `table`, falling back to `parent` (the defaults).
    fn probe(
        &self,
        p: &RawProbe,
        table: &str,
        parent: Option<(&RawProbe, ProbeSpec, Thresholds)>,
    ) -> Result<(ProbeSpec, Thresholds, Option<u64>), ConfigError> {
        let (pd, td) = match parent {
            Some((_, pd, td)) => (pd, td),
            None => (ProbeSpec::default(), Thresholds::default()),
        };
        let k = |n: &str| format!("{table}.{n}");
        let ms = |d: Duration| d.as_millis() as u64;
        let probe = ProbeSpec {
            count: self.range_u32(&p.count, &k("count"), 1, 100, pd.count)?,
            interval: Duration::from_millis(self.range_u64(
                &p.interval_ms,
                &k("interval_ms"),
                0,
                60_000,
                ms(pd.interval),
            )?),
            timeout: Duration::from_millis(self.range_u64(
                &p.timeout_ms,
                &k("timeout_ms"),
                10,
                60_000,
                ms(pd.timeout),
            )?),
        };
        let t = Thresholds {
            loss_warning: self.ratio(
                &p.loss_warning_ratio,
                &k("loss_warning_ratio"),
                td.loss_warning,
            )?,
            loss_critical: self.ratio(
                &p.loss_critical_ratio,
                &k("loss_critical_ratio"),
                td.loss_critical,
            )?,
            rtt_warning: Duration::from_millis(self.range_u64(
                &p.rtt_warning_ms,
                &k("rtt_warning_ms"),
                1,
                600_000,
                ms(td.rtt_warning),
            )?),
            rtt_critical: Duration::from_millis(self.range_u64(
                &p.rtt_critical_ms,
                &k("rtt_critical_ms"),
                1,
                600_000,
                ms(td.rtt_critical),
            )?),
            jitter_warning: Duration::from_millis(self.range_u64(
                &p.jitter_warning_ms,
                &k("jitter_warning_ms"),
                1,
                600_000,
                ms(td.jitter_warning),
            )?),
            cert_expiry_warning_days: self.range_u32(
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
            return Err(self.err(span, &k("loss_warning_ratio"), format!("{} is above loss_critical_ratio {}; the warning threshold must not exceed the critical one", t.loss_warning, t.loss_critical)));
        }
        if t.rtt_warning > t.rtt_critical {
            let span = p
                .rtt_warning_ms
                .as_ref()
                .or(p.rtt_critical_ms.as_ref())
                .map(|s| s.span());
            return Err(self.err(span, &k("rtt_warning_ms"), format!("{} ms is above rtt_critical_ms {} ms; the warning threshold must not exceed the critical one", t.rtt_warning.as_millis(), t.rtt_critical.as_millis())));
        }
        let interval = match parent {
            Some(_) => None,
            None => {
                Some(self.range_u64(&p.check_interval_s, &k("check_interval_s"), 0, 86_400, 60)?)
            }
        };
        Ok((probe, t, interval))
    }

    fn tls(&self, t: &RawTls, table: &str, base: &Path) -> Result<TlsSpec, ConfigError> {
        let mut spec = TlsSpec {
            server_name: t.server_name.as_ref().map(|s| s.get_ref().clone()),
            ca_certs: Vec::new(),
        };
        if let Some(f) = &t.ca_file {
            let path = base.join(f.get_ref());
            let key = format!("{table}.ca_file");
            let pem = posdiag_fs::read_bounded(&path, posdiag_fs::CERTIFICATES).map_err(|e| {
                self.at(
                    f,
                    &key,
                    format!("{} {e}", posdiag_core::quote(&path.display().to_string())),
                )
            })?;
            spec.ca_certs = pem_certificates(&pem);
            if spec.ca_certs.is_empty() {
                return Err(self.at(
                    f,
                    &key,
                    format!(
                        "{} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
                        path.display()
                    ),
                ));
            }
        }
        Ok(spec)
    }

    fn exchange(
        &self,
        spanned: &Spanned<RawExchange>,
        table: &str,
    ) -> Result<ExchangeSpec, ConfigError> {
        let x = spanned.get_ref();
        let bytes = |text: &Option<Spanned<String>>,
                     hex: &Option<Spanned<String>>,
                     name: &str|
         -> Result<Option<Vec<u8>>, ConfigError> {
            match (text, hex) {
                (Some(t), Some(_)) => Err(self.at(
                    t,
                    &format!("{table}.{name}"),
                    format!("set either {name} or {name}_hex, not both"),
                )),
                (Some(t), None) => Ok(Some(t.get_ref().as_bytes().to_vec())),
                (None, Some(h)) => decode_hex(h.get_ref())
                    .map(Some)
                    .map_err(|m| self.at(h, &format!("{table}.{name}_hex"), m)),
                (None, None) => Ok(None),
            }
        };
        let send = bytes(&x.send, &x.send_hex, "send")?;
        let expect = bytes(&x.expect, &x.expect_hex, "expect")?;
        match (send, expect) {
            (Some(send), Some(expect)) if !send.is_empty() && !expect.is_empty() => {
                Ok(ExchangeSpec { send, expect })
            }
            _ => Err(self.at(
                spanned,
                table,
                "needs both a non-empty send (or send_hex) and a non-empty expect (or expect_hex)",
            )),
        }
    }
}

/// Table names (hosts, rule sets) that are safe in ids, logs and metric labels.
fn is_plain_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

fn check_loopback(l: &Listen, allowed: bool) -> Result<(), String> {
    match l {
        Listen::Tcp(a) if !a.ip().is_loopback() && !allowed => Err(format!(
            "{a} is not a loopback address, and the API has no authentication yet; listen on 127.0.0.1 or ::1, or set daemon.allow_non_loopback_tcp = true if the network is trusted"
        )),
        _ => Ok(()),
    }
}

/// Checks command-line listen addresses against the loopback rule.
pub fn check_listen(l: &Listen, config: &Config) -> Result<(), String> {
    check_loopback(l, config.allow_non_loopback_tcp)
}

fn parse_link(s: &str) -> Result<LinkSpec, String> {
    const EXPECTED: &str =
        "expected \"none\", \"tcp:HOST:PORT\", \"serial:/dev/PATH\" or \"usb:VID:PID[:SERIAL]\"";
    if s == "none" {
        Ok(LinkSpec::None)
    } else if let Some(a) = s.strip_prefix("tcp:") {
        match a.rsplit_once(':') {
            Some((h, p)) if !h.is_empty() && p.parse::<u16>().is_ok_and(|p| p > 0) => {
                Ok(LinkSpec::Tcp(a.to_owned()))
            }
            _ => Err(format!(
                "{a:?} is not HOST:PORT; expected for example \"tcp:192.168.1.50:20007\""
            )),
        }
    } else if let Some(p) = s.strip_prefix("serial:") {
        if p.starts_with('/') {
            let port = p.parse::<PortSelector>().map_err(|e| e.to_string())?;
            Ok(LinkSpec::Serial {
                port,
                settings: SerialSettings::default(),
            })
        } else {
            Err(format!(
                "{p:?} is not an absolute device path; expected for example \"serial:/dev/ttyUSB0\""
            ))
        }
    } else if s.starts_with("usb:") {
        let port = s
            .parse::<PortSelector>()
            .map_err(|e| format!("{e}; expected for example \"usb:0403:6001:A12345\""))?;
        Ok(LinkSpec::Serial {
            port,
            settings: SerialSettings::default(),
        })
    } else {
        Err(format!("{s:?} is not a link; {EXPECTED}"))
    }
}

fn parse_zvt_password(s: &str) -> Result<[u8; 3], String> {
    posdiag_core::zvt::Password::from_digits(s)
        .map(posdiag_core::zvt::Password::bcd)
        .ok_or_else(|| {
            format!("{s:?} is not a ZVT password; expected 6 digits, for example \"000000\"")
        })
}

fn decode_hex(s: &str) -> Result<Vec<u8>, String> {
    let clean: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    if !clean.len().is_multiple_of(2) {
        return Err(format!(
            "{s:?} has an odd number of hex digits; expected pairs such as \"0800\""
        ));
    }
    (0..clean.len())
        .step_by(2)
        .map(|i| {
            u8::from_str_radix(&clean[i..i + 2], 16).map_err(|_| {
                format!(
                    "{:?} is not hex; expected digits 0-9 and a-f",
                    &clean[i..i + 2]
                )
            })
        })
        .collect()
}

/// The DER certificates in a PEM file.
fn pem_certificates(pem: &[u8]) -> Vec<Vec<u8>> {
    let text = String::from_utf8_lossy(pem);
    let mut out = Vec::new();
    let mut rest = text.as_ref();
    while let Some(start) = rest.find("-----BEGIN CERTIFICATE-----") {
        let body_start = start + "-----BEGIN CERTIFICATE-----".len();
        let Some(end) = rest[body_start..].find("-----END CERTIFICATE-----") else {
            break;
        };
        let b64: String = rest[body_start..body_start + end]
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        if let Some(der) = base64_decode(&b64) {
            out.push(der);
        }
        rest = &rest[body_start + end..];
    }
    out
}

fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let bytes = s.trim_end_matches('=').as_bytes();
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let mut acc = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            acc |= val(c)? << (18 - 6 * i);
        }
        let n = chunk.len();
        if n < 2 {
            return None;
        }
        out.push((acc >> 16) as u8);
        if n > 2 {
            out.push((acc >> 8) as u8);
        }
        if n > 3 {
            out.push(acc as u8);
        }
    }
    Some(out)
}

mod codes;
mod rules;

#[cfg(test)]
mod tests;
