//! Command-line arguments of the `posdiag-sim` binary (a module of the binary, not the
//! library), in two stages: clap collects raw strings ([`RawArgs`]), then [`Command::try_from`]
//! validates them into simulator configurations with one-line errors that name the flag, the
//! value and the fix.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use posdiag_sim::SimError;
use posdiag_sim::dns::{DnsAnswer, DnsSimConfig};
use posdiag_sim::host::{Answer, HostSimConfig, TlsMode};
use posdiag_sim::iso8583::{IsoHost, IsoScenario};
use posdiag_sim::nexo::{NexoScenario, NexoSimConfig};
use posdiag_sim::zvt::{DEFAULT_BAUD, ZvtSimConfig, ZvtState, ZvtTransport};

/// Simulators with fault injection for posdiag: an acquirer host (TCP/TLS) and a DNS server.
#[derive(Debug, Parser)]
#[command(name = "posdiag-sim", version)]
pub struct RawArgs {
    #[command(subcommand)]
    pub command: RawCommand,
}

#[derive(Debug, Subcommand)]
pub enum RawCommand {
    /// Simulate an acquirer host that echoes what it receives, with an optional fault.
    Host {
        /// Address to listen on (port 0 picks a free one).
        #[arg(long, value_name = "IP:PORT", default_value = "127.0.0.1:0")]
        listen: String,
        /// healthy, refusing, stall, reset, slow:MS, jitter:BASE_MS:SPREAD_MS or flaky:RATIO.
        #[arg(long, value_name = "FAULT", default_value = "healthy")]
        fault: String,
        /// plain, valid, expired or wrong-host (certificates from a CA generated at start).
        #[arg(long, value_name = "MODE", default_value = "plain")]
        tls: String,
        /// Write the CA certificate (PEM) here, for clients to trust.
        #[arg(long, value_name = "FILE")]
        ca_out: Option<PathBuf>,
        /// Seed for flaky and jitter decisions, to make runs reproducible.
        #[arg(long, value_name = "N")]
        seed: Option<String>,
        /// Answer ISO 8583 echo tests and sign-ons in this dialect: ascii, binary, ascii-1993
        /// or cup (instead of echoing bytes back).
        #[arg(long, value_name = "DIALECT")]
        dialect: Option<String>,
        /// ISO 8583 field 39 for echo and sign-on answers (default 00); implies --dialect ascii.
        #[arg(long, value_name = "CODE")]
        field39: Option<String>,
        /// ISO 8583 host scenario (TOML): per-MTI codes, cutover window, issuer down, silence;
        /// implies ISO 8583 answers. See docs/sim-host-nexo.md.
        #[arg(long, value_name = "FILE")]
        scenario: Option<PathBuf>,
    },
    /// Simulate a payment terminal serving the nexo Terminal API (POST /nexo, Diagnosis).
    Nexo {
        /// Address to listen on (port 0 picks a free one).
        #[arg(long, value_name = "IP:PORT", default_value = "127.0.0.1:0")]
        listen: String,
        /// Serve HTTPS with a certificate for localhost from a CA generated at start.
        #[arg(long)]
        tls: bool,
        /// Write the CA certificate (PEM) here, for clients to trust (needs --tls).
        #[arg(long, value_name = "FILE")]
        ca_out: Option<PathBuf>,
        /// Terminal scenario (TOML): status, flags, hosts, battery, faults. See
        /// docs/sim-host-nexo.md.
        #[arg(long, value_name = "FILE")]
        scenario: Option<PathBuf>,
    },
    /// Serve DNS answers on UDP and TCP; names not listed get NXDOMAIN.
    Dns {
        /// Address to listen on (port 0 picks one free for both UDP and TCP).
        #[arg(long, value_name = "IP:PORT", default_value = "127.0.0.1:0")]
        listen: String,
        /// NAME=ADDRESS (IPv4 or IPv6, repeatable per name) or
        /// NAME=nxdomain|nodata|servfail|refused|stall.
        #[arg(long = "record", value_name = "NAME=VALUE")]
        records: Vec<String>,
        /// TTL of the answers, in seconds.
        #[arg(long, value_name = "SECONDS", default_value = "0")]
        ttl_secs: String,
    },
    /// Simulate a ZVT payment terminal over TCP (raw APDUs), a pseudo-terminal or a serial
    /// port (DLE/STX framing), with a scenario of states and faults. See docs/sim-zvt.md.
    Zvt {
        /// Serve raw APDUs on TCP at IP:PORT (ZVT's usual port is 20007; port 0 picks one).
        #[arg(long, value_name = "IP:PORT")]
        tcp: Option<String>,
        /// Create a pseudo-terminal, serve the framed protocol on it and print `pty PATH`.
        #[arg(long)]
        pty: bool,
        /// With --pty: keep this symlink pointing at the current pty (like socat's link=).
        #[arg(long, value_name = "PATH")]
        pty_link: Option<PathBuf>,
        /// Serve the framed protocol on a real serial port (8N2).
        #[arg(long, value_name = "PATH")]
        serial: Option<PathBuf>,
        /// With --serial: the baud rate [default: 9600].
        #[arg(long, value_name = "BAUD")]
        baud: Option<String>,
        /// Terminal scenario (TOML): identity, card reader, host, maintenance, faults.
        /// Reloaded on SIGHUP.
        #[arg(long, value_name = "FILE")]
        scenario: Option<PathBuf>,
    },
}

/// What to run, validated.
#[derive(Debug)]
pub enum Command {
    Host {
        config: HostSimConfig,
        ca_out: Option<PathBuf>,
    },
    Dns(DnsSimConfig),
    Zvt {
        config: ZvtSimConfig,
        /// Reloaded on SIGHUP.
        scenario: Option<PathBuf>,
    },
    Nexo {
        config: NexoSimConfig,
        ca_out: Option<PathBuf>,
    },
}

/// A bad argument, as one line for a person.
#[derive(Debug, PartialEq, Eq)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn invalid(flag: &str, value: &str, reason: &str) -> UsageError {
    UsageError(format!("invalid {flag} \"{value}\": {reason}"))
}

/// Rewords a library spec error so it names the flag rather than the kind of value.
fn spec_error(flag: &str, error: SimError) -> UsageError {
    match error {
        SimError::InvalidSpec { input, reason, .. } => invalid(flag, &input, &reason),
        other => UsageError(format!("invalid {flag}: {other}")),
    }
}

fn listen_addr(value: &str) -> Result<SocketAddr, UsageError> {
    value
        .trim()
        .parse()
        .map_err(|_| invalid("--listen", value, "expected IP:PORT, e.g. 127.0.0.1:0"))
}

impl TryFrom<RawArgs> for Command {
    type Error = UsageError;

    fn try_from(raw: RawArgs) -> Result<Self, Self::Error> {
        match raw.command {
            RawCommand::Zvt {
                tcp,
                pty,
                pty_link,
                serial,
                baud,
                scenario,
            } => zvt_command(tcp, pty, pty_link, serial, baud, scenario),
            RawCommand::Host {
                listen,
                fault,
                tls,
                ca_out,
                seed,
                dialect,
                field39,
                scenario,
            } => {
                let answer = iso_answer(dialect, field39, scenario)?;
                let tls: TlsMode = tls.parse().map_err(|e| spec_error("--tls", e))?;
                if ca_out.is_some() && tls == TlsMode::Plain {
                    return Err(UsageError(
                        "--ca-out needs --tls valid, expired or wrong-host".to_owned(),
                    ));
                }
                let seed = seed
                    .map(|s| {
                        s.trim()
                            .parse::<u64>()
                            .map_err(|_| invalid("--seed", &s, "expected a whole number"))
                    })
                    .transpose()?;
                let config = HostSimConfig {
                    bind: listen_addr(&listen)?,
                    fault: fault.parse().map_err(|e| spec_error("--fault", e))?,
                    tls,
                    seed,
                    answer,
                    ..HostSimConfig::default()
                };
                Ok(Command::Host { config, ca_out })
            }
            RawCommand::Dns {
                listen,
                records,
                ttl_secs,
            } => {
                let records = records
                    .iter()
                    .map(|record| {
                        let (name, value) = record.split_once('=').ok_or_else(|| {
                            invalid(
                                "--record",
                                record,
                                "expected NAME=ADDRESS or NAME=nxdomain|nodata|servfail|refused|stall",
                            )
                        })?;
                        if name.trim().is_empty() {
                            return Err(invalid("--record", record, "the name is empty"));
                        }
                        // Show the whole NAME=VALUE, as typed, rather than only the value.
                        let answer: DnsAnswer = value.parse().map_err(|e| match e {
                            SimError::InvalidSpec { reason, .. } => {
                                invalid("--record", record, &reason)
                            }
                            other => spec_error("--record", other),
                        })?;
                        Ok((name.trim().to_owned(), answer))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let ttl_secs = ttl_secs.trim().parse().map_err(|_| {
                    invalid(
                        "--ttl-secs",
                        &ttl_secs,
                        "expected a whole number of seconds",
                    )
                })?;
                Ok(Command::Dns(DnsSimConfig {
                    bind: listen_addr(&listen)?,
                    records,
                    ttl_secs,
                }))
            }
            RawCommand::Nexo {
                listen,
                tls,
                ca_out,
                scenario,
            } => {
                if ca_out.is_some() && !tls {
                    return Err(UsageError("--ca-out needs --tls".to_owned()));
                }
                let scenario = match scenario {
                    Some(path) => NexoScenario::load(&path).map_err(|e| {
                        UsageError(format!("invalid --scenario \"{}\": {e}", path.display()))
                    })?,
                    None => NexoScenario::default(),
                };
                Ok(Command::Nexo {
                    config: NexoSimConfig {
                        bind: listen_addr(&listen)?,
                        tls,
                        scenario,
                        ..NexoSimConfig::default()
                    },
                    ca_out,
                })
            }
        }
    }
}

/// The host's answer mode: ISO 8583 when a dialect, code or scenario is given, else echo.
/// Dialect precedence: --dialect, then the scenario's `dialect`, then ascii.
fn iso_answer(
    dialect: Option<String>,
    field39: Option<String>,
    scenario: Option<PathBuf>,
) -> Result<Answer, UsageError> {
    if dialect.is_none() && field39.is_none() && scenario.is_none() {
        return Ok(Answer::Echo);
    }
    let mut iso = match &scenario {
        Some(path) => IsoScenario::load(path)
            .map_err(|e| UsageError(format!("invalid --scenario \"{}\": {e}", path.display())))?,
        None => IsoScenario::default(),
    };
    let name = dialect
        .clone()
        .or_else(|| iso.dialect.clone())
        .unwrap_or_else(|| "ascii".to_owned());
    let parsed = posdiag_sim::iso8583::dialect_by_name(&name).map_err(|e| {
        let flag = if dialect.is_some() {
            "--dialect"
        } else {
            "--scenario dialect"
        };
        spec_error(flag, e)
    })?;
    if let Some(code) = field39 {
        iso.field39 = code;
    }
    let host = IsoHost::new(parsed, iso)
        .map_err(|e| UsageError(format!("invalid --field39 or --scenario: {e}")))?;
    Ok(Answer::Iso8583(host))
}

/// Validates `posdiag-sim zvt`: exactly one transport, flags that belong to it, a scenario
/// that loads (before any port is opened).
fn zvt_command(
    tcp: Option<String>,
    pty: bool,
    pty_link: Option<PathBuf>,
    serial: Option<PathBuf>,
    baud: Option<String>,
    scenario: Option<PathBuf>,
) -> Result<Command, UsageError> {
    let chosen = usize::from(tcp.is_some()) + usize::from(pty) + usize::from(serial.is_some());
    if chosen != 1 {
        return Err(UsageError(
            "zvt needs exactly one of --tcp IP:PORT, --pty or --serial PATH".to_owned(),
        ));
    }
    if pty_link.is_some() && !pty {
        return Err(UsageError("--pty-link needs --pty".to_owned()));
    }
    if baud.is_some() && serial.is_none() {
        return Err(UsageError("--baud needs --serial".to_owned()));
    }
    let transport = if let Some(addr) = tcp {
        let bind = addr
            .trim()
            .parse()
            .map_err(|_| invalid("--tcp", &addr, "expected IP:PORT, e.g. 127.0.0.1:20007"))?;
        ZvtTransport::Tcp { bind }
    } else if let Some(path) = serial {
        let baud = match baud {
            Some(b) => b
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|&b| b > 0)
                .ok_or_else(|| {
                    invalid("--baud", &b, "expected a positive whole number, e.g. 9600")
                })?,
            None => DEFAULT_BAUD,
        };
        ZvtTransport::Serial { path, baud }
    } else {
        ZvtTransport::Pty { link: pty_link }
    };
    let state = match &scenario {
        Some(path) => ZvtState::load(path)
            .map_err(|e| UsageError(format!("invalid --scenario \"{}\": {e}", path.display())))?,
        None => ZvtState::default(),
    };
    Ok(Command::Zvt {
        config: ZvtSimConfig { transport, state },
        scenario,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zvt_arguments() {
        let cases: &[(&[&str], &str)] = &[
            (
                &["zvt"],
                "zvt needs exactly one of --tcp IP:PORT, --pty or --serial PATH",
            ),
            (
                &["zvt", "--pty", "--tcp", "127.0.0.1:0"],
                "zvt needs exactly one of --tcp IP:PORT, --pty or --serial PATH",
            ),
            (
                &["zvt", "--tcp", "127.0.0.1:0", "--pty-link", "/tmp/x"],
                "--pty-link needs --pty",
            ),
            (&["zvt", "--pty", "--baud", "9600"], "--baud needs --serial"),
            (
                &["zvt", "--tcp", "localhost"],
                "invalid --tcp \"localhost\": expected IP:PORT, e.g. 127.0.0.1:20007",
            ),
            (
                &["zvt", "--serial", "/dev/ttyS0", "--baud", "fast"],
                "invalid --baud \"fast\": expected a positive whole number, e.g. 9600",
            ),
        ];
        for (args, message) in cases {
            assert_eq!(parse(args).unwrap_err().0, *message, "{args:?}");
        }
        let Command::Zvt { config, scenario } =
            parse(&["zvt", "--pty", "--pty-link", "/tmp/zvt0"]).unwrap()
        else {
            panic!("expected a zvt command");
        };
        assert_eq!(
            config.transport,
            ZvtTransport::Pty {
                link: Some(PathBuf::from("/tmp/zvt0"))
            }
        );
        assert_eq!(scenario, None);
        let Command::Zvt { config, .. } = parse(&["zvt", "--serial", "/dev/ttyUSB0"]).unwrap()
        else {
            panic!("expected a zvt command");
        };
        assert_eq!(
            config.transport,
            ZvtTransport::Serial {
                path: PathBuf::from("/dev/ttyUSB0"),
                baud: 9600
            }
        );
        let missing = parse(&["zvt", "--pty", "--scenario", "/nonexistent/zvt.toml"]).unwrap_err();
        assert!(
            missing
                .0
                .starts_with("invalid --scenario \"/nonexistent/zvt.toml\": "),
            "{}",
            missing.0
        );
    }

    fn parse(args: &[&str]) -> Result<Command, UsageError> {
        let raw =
            RawArgs::try_parse_from(std::iter::once("posdiag-sim").chain(args.iter().copied()))
                .unwrap();
        Command::try_from(raw)
    }

    #[test]
    fn bad_arguments_name_the_flag_and_the_fix() {
        let cases: &[(&[&str], &str)] = &[
            (
                &["host", "--fault", "flaky:2"],
                "invalid --fault \"flaky:2\": the drop ratio must be between 0 and 1",
            ),
            (
                &["host", "--fault", "slow"],
                "invalid --fault \"slow\": expected slow:MS, e.g. slow:1500",
            ),
            (
                &["host", "--tls", "maybe"],
                "invalid --tls \"maybe\": expected one of plain, valid, expired, wrong-host",
            ),
            (
                &["host", "--listen", "localhost"],
                "invalid --listen \"localhost\": expected IP:PORT, e.g. 127.0.0.1:0",
            ),
            (
                &["host", "--seed", "1e3"],
                "invalid --seed \"1e3\": expected a whole number",
            ),
            (
                &["host", "--ca-out", "ca.pem"],
                "--ca-out needs --tls valid, expired or wrong-host",
            ),
            (
                &["host", "--dialect", "ebcdic"],
                "invalid --dialect \"ebcdic\": expected one of ascii, binary, ascii-1993, cup",
            ),
            (
                &["host", "--field39", "800"],
                "invalid --field39 or --scenario: invalid simulator configuration: field 39 code \"800\" \
                 does not fit dialect ascii: it needs 2 characters",
            ),
            (&["nexo", "--ca-out", "ca.pem"], "--ca-out needs --tls"),
            (
                &["dns", "--record", "example.com"],
                "invalid --record \"example.com\": expected NAME=ADDRESS or \
                 NAME=nxdomain|nodata|servfail|refused|stall",
            ),
            (
                &["dns", "--record", "=1.2.3.4"],
                "invalid --record \"=1.2.3.4\": the name is empty",
            ),
            (
                &["dns", "--record", "a.example=1.2.3"],
                "invalid --record \"a.example=1.2.3\": expected an IPv4 or IPv6 address, or one of \
                 nxdomain, nodata, servfail, refused, stall",
            ),
        ];
        for (args, message) in cases {
            assert_eq!(parse(args).unwrap_err().0, *message, "{args:?}");
        }
    }

    #[test]
    fn good_arguments_become_configs() {
        let Command::Host { config, ca_out } = parse(&[
            "host",
            "--listen",
            "127.0.0.1:4433",
            "--fault",
            "jitter:100:50",
            "--tls",
            "wrong-host",
            "--ca-out",
            "ca.pem",
            "--seed",
            "42",
        ])
        .unwrap() else {
            panic!("expected a host command");
        };
        assert_eq!(config.bind.port(), 4433);
        assert_eq!(config.fault.to_string(), "jitter:100:50");
        assert_eq!(config.tls, TlsMode::WrongHost);
        assert_eq!(config.seed, Some(42));
        assert_eq!(ca_out, Some(PathBuf::from("ca.pem")));

        let Command::Dns(dns) = parse(&[
            "dns",
            "--record",
            "api.example=192.0.2.1",
            "--record",
            "api.example=2001:db8::1",
            "--record",
            "down.example=servfail",
        ])
        .unwrap() else {
            panic!("expected a dns command");
        };
        assert_eq!(dns.records.len(), 3);
        assert_eq!(dns.records[2].1, DnsAnswer::ServFail);

        let Command::Host { config, .. } =
            parse(&["host", "--dialect", "cup", "--field39", "96"]).unwrap()
        else {
            panic!("expected a host command");
        };
        let Answer::Iso8583(iso) = config.answer else {
            panic!("expected ISO 8583 answers");
        };
        assert_eq!(iso.dialect().name(), "cup");
        assert_eq!(iso.scenario().field39, "96");

        let Command::Nexo { config, ca_out } = parse(&[
            "nexo",
            "--tls",
            "--ca-out",
            "ca.pem",
            "--listen",
            "127.0.0.1:8443",
        ])
        .unwrap() else {
            panic!("expected a nexo command");
        };
        assert!(config.tls);
        assert_eq!(config.bind.port(), 8443);
        assert_eq!(ca_out, Some(PathBuf::from("ca.pem")));
    }
}
