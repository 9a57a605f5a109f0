//! The command line as typed (stage one: clap parses it). Values that need
//! more than a type check are validated afterwards, in the language the user
//! chose, by [`crate::probe`] and [`crate::endpoint`].
//!
//! `demo` and `plugin verify` are defined here too, so `posdiag --help` and
//! their usage errors stay as they are, but run in the sibling `posdiag-lab`
//! binary ([`crate::lab`]), which parses this same definition.

use clap::{Args, Parser, Subcommand};
use posdiag_core::Lang;

use crate::endpoint::DEFAULT_ENDPOINT;
use crate::output::ColorChoice;

const AFTER_HELP: &str = "\
Exit codes (monitoring-plugin convention, so Nagios/Icinga can run `check` and `probe`):
  0  OK        1  WARNING        2  CRITICAL
  3  UNKNOWN or ERROR, or posdiagd could not be reached or refused the request
  64 invalid command-line arguments
  (`posdiag id` differs: 0 all valid, 1 any invalid, 2 usage error, 3 no daemon)

Environment:
  POSDIAG_ENDPOINT  default for --endpoint
  POSDIAG_TLS_CA, POSDIAG_TLS_CERT, POSDIAG_TLS_KEY, POSDIAG_TOKEN_FILE
                    defaults for --tls-ca, --tls-cert, --tls-key, --token-file
  POSDIAG_LANG      default for --lang
  NO_COLOR          set (non-empty) to turn colour off with --color auto
  TZ                time zone of the times shown and of --since/--until dates (default /etc/localtime)";

/// posdiag: ask posdiagd what is wrong with a payment terminal, and what to do.
#[derive(Debug, Parser)]
#[command(name = "posdiag", version, about, after_help = AFTER_HELP)]
pub struct Cli {
    /// Where posdiagd listens: unix:PATH, http://HOST:PORT (loopback) or
    /// https://HOST:PORT (mutual TLS, with --tls-ca, --tls-cert, --tls-key).
    #[arg(
        long,
        global = true,
        env = "POSDIAG_ENDPOINT",
        default_value = DEFAULT_ENDPOINT,
        value_name = "ENDPOINT"
    )]
    pub endpoint: String,

    /// For https:// endpoints: the CA certificate (PEM) that signed
    /// posdiagd's server certificate.
    #[arg(long, global = true, env = "POSDIAG_TLS_CA", value_name = "FILE")]
    pub tls_ca: Option<std::path::PathBuf>,

    /// For https:// endpoints: this client's certificate (PEM), issued by
    /// the CA the daemon trusts ([auth.tls] client_ca).
    #[arg(long, global = true, env = "POSDIAG_TLS_CERT", value_name = "FILE")]
    pub tls_cert: Option<std::path::PathBuf>,

    /// For https:// endpoints: this client's private key (PEM).
    #[arg(long, global = true, env = "POSDIAG_TLS_KEY", value_name = "FILE")]
    pub tls_key: Option<std::path::PathBuf>,

    /// A file holding a bearer token ([[auth.token]] of the daemon) for a
    /// loopback http:// endpoint; read from the file so it never shows in
    /// the process list.
    #[arg(long, global = true, env = "POSDIAG_TOKEN_FILE", value_name = "FILE")]
    pub token_file: Option<std::path::PathBuf>,

    /// Print the proto3 JSON mapping instead of tables (check, probe and
    /// watch: one JSON object per line, NDJSON).
    #[arg(long, global = true)]
    pub json: bool,

    /// Language of messages, summaries and remedies: en or zh-CN.
    #[arg(
        long,
        global = true,
        env = "POSDIAG_LANG",
        default_value = "en",
        value_name = "LANG"
    )]
    pub lang: Lang,

    /// Colour: auto (only when stdout is a terminal and NO_COLOR is unset), always or never.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the configured terminals with their current status.
    Terminals,
    /// Run checks of a terminal now and explain the findings.
    ///
    /// Exit code: the worst verdict (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN/ERROR).
    /// With --json, prints every CheckEvent (phaseStarted, phaseFinished,
    /// finding, completed) as one JSON object per line as it arrives.
    Check(CheckArgs),
    /// What the daemon remembers: findings, newest first (--transitions:
    /// status changes; --events: runs, diagnoses, plugin faults, port events,
    /// reloads, API calls); --export writes a whole window as JSON lines or CSV.
    History(HistoryArgs),
    /// Make posdiagd read its configuration file again and apply it, as
    /// `systemctl reload posdiagd` does (needs the admin tier). Exit 0 when
    /// applied, 1 when the file was refused (the running configuration is
    /// kept; the message says where the file is wrong).
    Reload,
    /// Who did what: the audit trail of calls at the diagnose and admin
    /// tiers and of every refused call, newest first (needs the admin tier).
    Audit(AuditArgs),
    /// Availability of a terminal over a window: per check, the share of OK
    /// runs, outages, the longest, the mean time to recover, and a timeline.
    Availability(AvailabilityArgs),
    /// Print a line each time a terminal's status changes, until Ctrl-C.
    Watch(WatchArgs),
    /// Probe something that is not in the configuration.
    #[command(subcommand)]
    Probe(ProbeCommand),
    /// Start simulated terminals and hosts with a daemon, and show posdiag at work.
    Demo(DemoArgs),
    /// Validate customer IDs and card numbers, and say why one is rejected.
    ///
    /// Exit codes differ from the other commands: 0 all valid, 1 any invalid,
    /// 2 usage error, 3 posdiagd unreachable.
    #[command(subcommand)]
    Id(crate::id::IdCommand),
    /// Explain a response or error code ("103", "0x6C", "A0") in every scheme it exists in.
    ///
    /// Asks posdiagd (which also knows vendor tables and each terminal's
    /// dialect); --local reads the built-in tables (ISO 8583:1987 and :1993,
    /// China UnionPay, ZVT, nexo) in this process. Exit 0 when the code is
    /// known, 1 when not.
    Explain(crate::explain::ExplainArgs),
    /// What a symptom in your own words is ("收不了款", "POS机提示05", "card
    /// declined"): the symptoms it may be, best first, with the checks the
    /// doctor runs for each or who to contact where no check applies.
    ///
    /// Asks posdiagd; --local matches in this process (no daemon). Exit 0
    /// when something matched, 1 when nothing did.
    Symptom(crate::symptom::SymptomArgs),
    /// EMV data decoded and explained: a TLV blob (field 55, a terminal's
    /// log) or what a receipt prints (--tvr, --tsi, --cvm, --arc,
    /// --entry-mode, --service-code, --9F33...).
    #[command(subcommand)]
    Emv(crate::emv::EmvCommand),
    /// List the serial ports of the daemon's machine: kind (USB with VID:PID,
    /// UART, pseudo-terminal), the process holding each, and which terminal uses it.
    Ports(crate::ports::PortsArgs),
    /// List the vendor plugins: state, crashes, last error, checks; refused
    /// bundles with the reason. Exit 1 when one is quarantined, failed or refused.
    Plugins,
    /// Diagnose a terminal in the order people troubleshoot by hand and rank
    /// the causes; --symptom starts from what was seen: a code it showed,
    /// a symptom id, or your own words ("收不了款").
    ///
    /// Exit code: the worst verdict (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN/ERROR).
    Doctor(crate::doctor::DoctorArgs),
    /// Write one archive (tar.gz) for the vendor or help desk: versions, the
    /// configuration without secrets (--config), terminals and latest
    /// findings, recent history, diagnoses, plugins, ports, log lines, and a
    /// summary in English and Chinese; card numbers masked throughout.
    ///
    /// Exit 0 written; 1 written without the daemon's data (not reachable).
    Bundle(crate::bundle::BundleArgs),
    /// Work with a plugin bundle locally (no daemon needed).
    #[command(subcommand)]
    Plugin(PluginCommand),
}

/// Options of `posdiag demo`.
#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// Keep the simulators and the daemon running after the demo, until Ctrl-C.
    #[arg(long)]
    pub keep_running: bool,
    /// Plugin bundles to use (default: assemble the reference plugins with
    /// plugins/assemble.sh when run from the source tree).
    #[arg(long, value_name = "DIR")]
    pub plugin_dir: Option<std::path::PathBuf>,
}

/// `posdiag plugin ...`.
#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// Check a plugin bundle: manifest, ABI, descriptor, and a run of every
    /// declared check against the simulators. Exit 0 all pass, 1 any fails.
    Verify(VerifyArgs),
}

/// `posdiag plugin verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The bundle directory (holding manifest.toml and the library).
    pub bundle: std::path::PathBuf,
    /// The posdiag-plugin-host binary; default: next to posdiag.
    #[arg(long, value_name = "PATH")]
    pub host: Option<std::path::PathBuf>,
}

/// `posdiag check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The terminal id, for example T1 (see `posdiag terminals`).
    pub terminal: String,
    /// Only this check (host.dns, host.tcp, host.tls, host.exchange); repeatable.
    #[arg(long = "check", value_name = "ID")]
    pub checks: Vec<String>,
}

/// `posdiag audit`.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// From when: 15m, 2h, 7d, a date (2026-03-01) or a time (2026-03-01T08:00).
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,
    /// Up to when (same forms as --since). Default: now.
    #[arg(long, value_name = "WHEN")]
    pub until: Option<String>,
    /// Only calls of this principal ("unix:alice", a certificate's
    /// principal, a token's); repeatable.
    #[arg(long, value_name = "PRINCIPAL")]
    pub principal: Vec<String>,
    /// Only refused or limited calls.
    #[arg(long)]
    pub denied: bool,
    /// Most rows shown (default 50).
    #[arg(long, value_name = "N")]
    pub limit: Option<u32>,
}

/// `posdiag history`.
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// The terminal id; none means every terminal and the probes.
    pub terminal: Option<String>,
    /// From when: a span back from now (30m, 24h, 7d, 2w), a date
    /// (2026-12-01, from midnight local time), a local date and time
    /// (2026-12-01T08:00) or a time with its offset (2026-12-01T08:00:00Z).
    /// Default: the oldest the daemon keeps.
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,
    /// Up to when (same forms as --since). Default: now.
    #[arg(long, value_name = "WHEN")]
    pub until: Option<String>,
    /// Only this check id (host.tcp, terminal.link, ...); repeatable.
    #[arg(long = "check", value_name = "ID")]
    pub checks: Vec<String>,
    /// Only this verdict (ok, warning, critical, unknown, error); repeatable.
    #[arg(
        long = "verdict",
        value_name = "VERDICT",
        value_enum,
        ignore_case = true
    )]
    pub verdicts: Vec<VerdictArg>,
    /// Only this reason code (tcp.refused, ...); repeatable.
    #[arg(long = "reason", value_name = "CODE")]
    pub reasons: Vec<String>,
    /// Only what came from this origin (schedule, on-demand, doctor, probe,
    /// daemon); repeatable.
    #[arg(long = "origin", value_name = "ORIGIN", value_enum, ignore_case = true)]
    pub origins: Vec<OriginArg>,
    /// List status changes (OK → CRITICAL and back) instead of findings.
    #[arg(long, conflicts_with_all = ["events", "export"])]
    pub transitions: bool,
    /// List events instead of findings: runs and who asked, diagnoses,
    /// plugin faults, port events, reloads, API calls.
    #[arg(long, conflicts_with = "export")]
    pub events: bool,
    /// Show at most N rows, newest first (default 50).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub limit: Option<u32>,
    /// Write every finding of the window (not just --limit) as JSON lines
    /// (one StoredFinding per line) or CSV with a header row.
    #[arg(long, value_enum, value_name = "FORMAT", conflicts_with = "limit")]
    pub export: Option<ExportFormat>,
    /// With --export: write to FILE instead of stdout.
    #[arg(short = 'o', long = "output", value_name = "FILE", requires = "export")]
    pub output: Option<std::path::PathBuf>,
}

/// `--verdict`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum VerdictArg {
    /// OK.
    Ok,
    /// WARNING.
    Warning,
    /// CRITICAL.
    Critical,
    /// UNKNOWN.
    Unknown,
    /// ERROR.
    Error,
}

impl VerdictArg {
    /// The proto verdict.
    pub fn to_proto(self) -> posdiag_proto::v1::Verdict {
        use posdiag_proto::v1::Verdict;
        match self {
            VerdictArg::Ok => Verdict::Ok,
            VerdictArg::Warning => Verdict::Warning,
            VerdictArg::Critical => Verdict::Critical,
            VerdictArg::Unknown => Verdict::Unknown,
            VerdictArg::Error => Verdict::Error,
        }
    }
}

/// `--origin`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OriginArg {
    /// The terminal's schedule.
    Schedule,
    /// An API caller asked (`posdiag check`).
    OnDemand,
    /// The doctor ran it.
    Doctor,
    /// An ad-hoc probe of something not configured.
    Probe,
    /// The daemon itself (a port that came back, a reload).
    Daemon,
}

impl OriginArg {
    /// The proto origin.
    pub fn to_proto(self) -> posdiag_proto::v1::Origin {
        use posdiag_proto::v1::Origin;
        match self {
            OriginArg::Schedule => Origin::Schedule,
            OriginArg::OnDemand => Origin::OnDemand,
            OriginArg::Doctor => Origin::Doctor,
            OriginArg::Probe => Origin::Probe,
            OriginArg::Daemon => Origin::Daemon,
        }
    }
}

/// `--export`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// One proto3-JSON StoredFinding per line.
    Jsonl,
    /// RFC 4180 CSV: seq, observed_at (RFC 3339 UTC), terminal_id, check,
    /// subject, verdict, reason, origin, run_id, duration_ms, summary.
    Csv,
}

/// `posdiag availability`.
#[derive(Debug, Args)]
pub struct AvailabilityArgs {
    /// The terminal id.
    pub terminal: String,
    /// How far back from now: 24h, 7d, 30d... at most 400d (default 7d).
    #[arg(long, value_name = "SPAN")]
    pub window: Option<String>,
    /// Only this check id.
    #[arg(long, value_name = "ID")]
    pub check: Option<String>,
}

/// `posdiag watch`.
#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Terminal ids to watch; none means all.
    pub terminals: Vec<String>,
}

/// `posdiag probe ...`.
#[derive(Debug, Subcommand)]
pub enum ProbeCommand {
    /// Probe HOST:PORT: DNS, TCP (loss, latency, jitter), optionally TLS and an exchange.
    ///
    /// Same output and exit codes as `check`.
    Host(ProbeHostArgs),
    /// Probe a ZVT terminal that is not configured: the link (status
    /// enquiry), then the posdiag.zvt checks. Same output and exit codes as `check`.
    Zvt(ProbeZvtArgs),
    /// Probe a nexo terminal: its Diagnosis (POI status, reader, printer,
    /// hosts, battery) through posdiag.nexo.
    Nexo(ProbeNexoArgs),
    /// Probe an ISO 8583 acquirer: the network-management echo in a dialect,
    /// repeated, with loss, round trips and field 39 explained.
    Iso8583(ProbeIsoArgs),
}

/// `posdiag probe zvt`.
#[derive(Debug, Args)]
#[group(required = true, multiple = false, id = "zvt_link")]
pub struct ProbeZvtArgs {
    /// The terminal's ZVT TCP address, e.g. 192.168.1.50:20007.
    #[arg(long, value_name = "HOST:PORT", group = "zvt_link")]
    pub tcp: Option<String>,
    /// The serial port, e.g. /dev/ttyUSB0.
    #[arg(long, value_name = "PATH", group = "zvt_link")]
    pub serial: Option<String>,
    /// Baud rate of the serial port (8N2, no flow control, as ZVT uses).
    #[arg(long, value_name = "B", requires = "serial")]
    pub baud: Option<u32>,
}

/// `posdiag probe nexo`.
#[derive(Debug, Args)]
pub struct ProbeNexoArgs {
    /// The terminal's nexo URL, e.g. https://192.168.1.60:8443/nexo.
    #[arg(long, value_name = "URL")]
    pub url: String,
    /// PEM file of the CA that signed the terminal's certificate (https).
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<String>,
    /// The terminal's POIID (default: "probe").
    #[arg(long, value_name = "ID")]
    pub poi_id: Option<String>,
}

/// `posdiag probe iso8583`.
#[derive(Debug, Args)]
pub struct ProbeIsoArgs {
    /// The acquirer's HOST:PORT.
    pub target: String,
    /// ascii, binary, ascii-1993 or cup.
    #[arg(long, value_name = "DIALECT", default_value = "ascii")]
    pub dialect: String,
    /// Echoes to send, 1..=100.
    #[arg(long, value_name = "N")]
    pub count: Option<u32>,
    /// China UnionPay TPDU, 10 hex digits (cup).
    #[arg(long, value_name = "HEX")]
    pub tpdu: Option<String>,
}

/// `posdiag probe host`.
#[derive(Debug, Args)]
pub struct ProbeHostArgs {
    /// HOST:PORT; IPv6 addresses in brackets, e.g. [2001:db8::1]:5000.
    pub target: String,
    /// Perform a TLS handshake and check the certificate.
    #[arg(long)]
    pub tls: bool,
    /// Name to verify the certificate against (default: the host of TARGET).
    #[arg(long, value_name = "NAME", requires = "tls")]
    pub server_name: Option<String>,
    /// Number of connection attempts, 1..=100 (default: the daemon's, 5).
    #[arg(long, value_name = "N")]
    pub count: Option<u32>,
    /// Pause between attempts in milliseconds (default: the daemon's).
    #[arg(long, value_name = "MS")]
    pub interval_ms: Option<u32>,
    /// Deadline of each step in milliseconds, 1..=60000 (default: the daemon's).
    #[arg(long, value_name = "MS")]
    pub timeout_ms: Option<u32>,
    /// Text to send after connecting.
    #[arg(long, value_name = "STR", conflicts_with = "send_hex")]
    pub send: Option<String>,
    /// Bytes to send after connecting, in hex ("0800 2020" or "08:00").
    #[arg(long, value_name = "HEX")]
    pub send_hex: Option<String>,
    /// Text the answer must start with.
    #[arg(long, value_name = "STR", conflicts_with = "expect_hex")]
    pub expect: Option<String>,
    /// Bytes the answer must start with, in hex.
    #[arg(long, value_name = "HEX")]
    pub expect_hex: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_options_work_after_the_subcommand() {
        let cli = Cli::try_parse_from([
            "posdiag", "check", "T1", "--check", "host.dns", "--check", "host.tcp", "--lang",
            "zh-CN", "--json",
        ])
        .expect("parses");
        assert_eq!(cli.lang, Lang::ZhCn);
        assert!(cli.json);
        match cli.command {
            Command::Check(a) => assert_eq!(a.checks, ["host.dns", "host.tcp"]),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn conflicting_probe_options_are_usage_errors() {
        let err = Cli::try_parse_from([
            "posdiag",
            "probe",
            "host",
            "h:1",
            "--send",
            "a",
            "--send-hex",
            "61",
        ])
        .expect_err("conflict");
        assert!(err.use_stderr());
        let err = Cli::try_parse_from(["posdiag", "--lang", "fr", "terminals"]).expect_err("fr");
        assert!(
            err.to_string().contains("expected \"en\" or \"zh-CN\""),
            "{err}"
        );
    }
}
