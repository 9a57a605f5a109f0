//! Command-line arguments of the `posdiag-sim` binary (a module of the binary, not the
//! library), in two stages: clap collects raw strings ([`RawArgs`]), then [`Command::try_from`]
//! validates them into simulator configurations with one-line errors that name the flag, the
//! value and the fix.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use posdiag_sim::SimError;
use posdiag_sim::dns::{DnsAnswer, DnsSimConfig};
use posdiag_sim::host::{HostSimConfig, TlsMode};

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
}

/// What to run, validated.
#[derive(Debug)]
pub enum Command {
    Host {
        config: HostSimConfig,
        ca_out: Option<PathBuf>,
    },
    Dns(DnsSimConfig),
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
            RawCommand::Host {
                listen,
                fault,
                tls,
                ca_out,
                seed,
            } => {
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
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    }
}
