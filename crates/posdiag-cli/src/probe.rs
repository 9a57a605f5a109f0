//! Stage two of `posdiag probe host`: checks the arguments locally (target
//! shape, ranges, hex) and builds the `ProbeRequest`, so a typo is reported
//! precisely before anything is sent.

use std::net::Ipv6Addr;

use posdiag_core::Lang;
use posdiag_proto::v1::{self, ProbeRequest};

use crate::cli::ProbeHostArgs;
use crate::error::{CliError, UsageError};

/// Largest `--count` the daemon accepts.
pub const MAX_COUNT: u32 = 100;
/// Largest `--timeout-ms` the daemon accepts.
pub const MAX_TIMEOUT_MS: u32 = 60_000;
/// Largest `--interval-ms` this client sends (a minute between attempts).
pub const MAX_INTERVAL_MS: u32 = 60_000;

/// Checks that `target` is `HOST:PORT` (IPv6 in brackets), port 1..=65535.
pub fn validate_target(target: &str) -> Result<(), UsageError> {
    let bad = || UsageError::Target(target.to_owned());
    let (host, port) = if let Some(rest) = target.strip_prefix('[') {
        let (host, port) = rest.split_once("]:").ok_or_else(bad)?;
        host.parse::<Ipv6Addr>().map_err(|_| bad())?;
        (host, port)
    } else {
        let (host, port) = target.rsplit_once(':').ok_or_else(bad)?;
        // An unbracketed IPv6 address would be ambiguous.
        if host.contains(':') {
            return Err(bad());
        }
        (host, port)
    };
    let host_ok = !host.is_empty()
        && !host
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '/' | '@' | '[' | ']'));
    let port_ok =
        port.bytes().all(|b| b.is_ascii_digit()) && port.parse::<u16>().is_ok_and(|p| p != 0);
    if host_ok && port_ok {
        Ok(())
    } else {
        Err(bad())
    }
}

/// Bytes from hex digits, optionally separated by spaces or colons and with
/// an optional `0x` prefix.
pub fn parse_hex(flag: &'static str, input: &str) -> Result<Vec<u8>, UsageError> {
    let lead = input.len() - input.trim_start().len();
    let rest = &input[lead..];
    let skip = if rest.starts_with("0x") || rest.starts_with("0X") {
        lead + 2
    } else {
        lead
    };
    let mut digits = Vec::new();
    for (pos, (at, c)) in input.char_indices().enumerate() {
        if at < skip || c == ':' || c.is_whitespace() {
            continue;
        }
        match c.to_digit(16) {
            Some(d) => digits.push(d as u8),
            None => {
                return Err(UsageError::HexDigit {
                    flag,
                    input: input.to_owned(),
                    pos: pos + 1,
                });
            }
        }
    }
    if digits.is_empty() {
        return Err(UsageError::HexEmpty { flag });
    }
    if digits.len() % 2 != 0 {
        return Err(UsageError::HexOdd {
            flag,
            input: input.to_owned(),
        });
    }
    Ok(digits.chunks(2).map(|p| (p[0] << 4) | p[1]).collect())
}

fn range(flag: &'static str, got: u32, min: u32, max: u32) -> Result<u32, UsageError> {
    if (min..=max).contains(&got) {
        Ok(got)
    } else {
        Err(UsageError::Range {
            flag,
            min: min.into(),
            max: max.into(),
            got: got.into(),
        })
    }
}

/// The request for validated arguments; unset numbers are 0 ("daemon default").
pub fn probe_request(args: &ProbeHostArgs, lang: Lang) -> Result<ProbeRequest, UsageError> {
    validate_target(&args.target)?;
    let count = args
        .count
        .map(|n| range("--count", n, 1, MAX_COUNT))
        .transpose()?;
    let interval_ms = args
        .interval_ms
        .map(|n| range("--interval-ms", n, 0, MAX_INTERVAL_MS))
        .transpose()?;
    let timeout_ms = args
        .timeout_ms
        .map(|n| range("--timeout-ms", n, 1, MAX_TIMEOUT_MS))
        .transpose()?;
    let send = match (&args.send, &args.send_hex) {
        (Some(s), _) if s.is_empty() => return Err(UsageError::HexEmpty { flag: "--send" }),
        (Some(s), _) => s.as_bytes().to_vec(),
        (None, Some(h)) => parse_hex("--send-hex", h)?,
        (None, None) => Vec::new(),
    };
    let expect = match (&args.expect, &args.expect_hex) {
        (Some(s), _) if s.is_empty() => return Err(UsageError::HexEmpty { flag: "--expect" }),
        (Some(s), _) => s.as_bytes().to_vec(),
        (None, Some(h)) => parse_hex("--expect-hex", h)?,
        (None, None) => Vec::new(),
    };
    if !send.is_empty() && expect.is_empty() {
        return Err(UsageError::SendWithoutExpect);
    }
    Ok(ProbeRequest {
        target: args.target.clone(),
        tls: args.tls,
        server_name: args.server_name.clone().unwrap_or_default(),
        count: count.unwrap_or(0),
        interval_ms: interval_ms.unwrap_or(0),
        timeout_ms: timeout_ms.unwrap_or(0),
        send,
        expect,
        lang: lang.tag().to_owned(),
    })
}

/// The ProbeLink request of `posdiag probe zvt|nexo|iso8583`.
pub fn probe_link_request(
    cmd: crate::cli::ProbeCommand,
    lang: posdiag_core::Lang,
) -> Result<v1::ProbeLinkRequest, CliError> {
    use crate::cli::ProbeCommand;
    let mut args = std::collections::HashMap::new();
    let (protocol, link, serial) = match cmd {
        ProbeCommand::Zvt(a) => match (a.tcp, a.serial) {
            (Some(t), _) => ("zvt", format!("tcp:{t}"), String::new()),
            (None, Some(p)) => (
                "zvt",
                format!("serial:{p}"),
                format!("{}-8N2", a.baud.unwrap_or(9600)),
            ),
            (None, None) => {
                return Err(CliError::Internal("clap requires --tcp or --serial".into()));
            }
        },
        ProbeCommand::Nexo(a) => {
            let bad = || CliError::Usage(UsageError::Url(a.url.clone()));
            let (scheme, rest) = a.url.split_once("://").ok_or_else(bad)?;
            let tls = match scheme {
                "https" => true,
                "http" => false,
                _ => return Err(bad()),
            };
            if rest.is_empty() || rest.starts_with('/') {
                return Err(bad());
            }
            let authority = rest.split('/').next().unwrap_or_default();
            let hostport = if authority
                .rsplit_once(':')
                .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
            {
                authority.to_owned()
            } else {
                format!("{authority}:{}", if tls { 443 } else { 80 })
            };
            args.insert("tls".to_owned(), tls.to_string());
            if let Some(f) = a.ca_file {
                args.insert("ca_file".to_owned(), f);
            }
            if let Some(p) = a.poi_id {
                args.insert("poi_id".to_owned(), p);
            }
            ("nexo", format!("tcp:{hostport}"), String::new())
        }
        ProbeCommand::Iso8583(a) => {
            validate_target(&a.target).map_err(CliError::Usage)?;
            args.insert("dialect".to_owned(), a.dialect);
            if let Some(c) = a.count {
                args.insert("count".to_owned(), c.to_string());
            }
            if let Some(t) = a.tpdu {
                args.insert("tpdu".to_owned(), t);
            }
            ("iso8583", format!("tcp:{}", a.target), String::new())
        }
        ProbeCommand::Host(_) => {
            return Err(CliError::Internal("probe host is not a link probe".into()));
        }
    };
    Ok(v1::ProbeLinkRequest {
        protocol: protocol.to_owned(),
        link,
        serial,
        args,
        lang: lang.tag().to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_must_be_host_and_port() {
        for ok in [
            "acquirer.example:5000",
            "10.0.0.5:1",
            "[::1]:5000",
            "[2001:db8::1]:65535",
            "localhost:443",
        ] {
            assert_eq!(validate_target(ok), Ok(()), "{ok}");
        }
        for bad in [
            "acquirer.example",
            ":5000",
            "host:",
            "host:0",
            "host:65536",
            "host:+80",
            "host:http",
            "::1:5000",
            "[::1]5000",
            "[nothost]:5000",
            "ho st:80",
            "http://host:80",
        ] {
            assert_eq!(
                validate_target(bad),
                Err(UsageError::Target(bad.into())),
                "{bad}"
            );
        }
    }

    #[test]
    fn hex_accepts_separators_and_names_the_bad_position() {
        assert_eq!(
            parse_hex("--send-hex", "0800 20:2f"),
            Ok(vec![0x08, 0x00, 0x20, 0x2f])
        );
        assert_eq!(parse_hex("--send-hex", "0xABcd"), Ok(vec![0xab, 0xcd]));
        assert_eq!(
            parse_hex("--send-hex", "08g0"),
            Err(UsageError::HexDigit {
                flag: "--send-hex",
                input: "08g0".into(),
                pos: 3
            })
        );
        assert_eq!(
            parse_hex("--expect-hex", "0x0g"),
            Err(UsageError::HexDigit {
                flag: "--expect-hex",
                input: "0x0g".into(),
                pos: 4
            })
        );
        assert_eq!(
            parse_hex("--send-hex", "abc"),
            Err(UsageError::HexOdd {
                flag: "--send-hex",
                input: "abc".into()
            })
        );
        assert_eq!(
            parse_hex("--send-hex", " "),
            Err(UsageError::HexEmpty { flag: "--send-hex" })
        );
    }

    fn args(target: &str) -> ProbeHostArgs {
        ProbeHostArgs {
            target: target.into(),
            tls: false,
            server_name: None,
            count: None,
            interval_ms: None,
            timeout_ms: None,
            send: None,
            send_hex: None,
            expect: None,
            expect_hex: None,
        }
    }

    #[test]
    fn counts_and_timeouts_are_range_checked() {
        let mut a = args("h:1");
        a.count = Some(0);
        assert_eq!(
            probe_request(&a, Lang::En),
            Err(UsageError::Range {
                flag: "--count",
                min: 1,
                max: 100,
                got: 0
            })
        );
        a.count = Some(101);
        assert!(probe_request(&a, Lang::En).is_err());
        a.count = Some(100);
        a.timeout_ms = Some(60_001);
        assert!(matches!(
            probe_request(&a, Lang::En),
            Err(UsageError::Range {
                flag: "--timeout-ms",
                ..
            })
        ));
    }

    #[test]
    fn a_valid_probe_becomes_a_request_in_the_chosen_language() {
        let mut a = args("[::1]:5000");
        a.tls = true;
        a.count = Some(3);
        a.send_hex = Some("0800".into());
        a.expect = Some("\u{8}".into());
        let req = probe_request(&a, Lang::ZhCn).expect("valid");
        assert_eq!(req.target, "[::1]:5000");
        assert_eq!((req.count, req.interval_ms, req.timeout_ms), (3, 0, 0));
        assert_eq!(req.send, [0x08, 0x00]);
        assert_eq!(req.expect, [0x08]);
        assert_eq!(req.lang, "zh-CN");
        assert!(req.tls);
    }

    #[test]
    fn send_needs_expect() {
        let mut a = args("h:1");
        a.send = Some("PING".into());
        assert_eq!(
            probe_request(&a, Lang::En),
            Err(UsageError::SendWithoutExpect)
        );
    }
}
