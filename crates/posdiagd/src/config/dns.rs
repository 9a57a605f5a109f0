//! `[dns]`: the resolvers the host checks ask, and how long they wait.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use posdiag_engine::model::DnsSpec;
use serde::Deserialize;
use toml::Spanned;

use super::{ConfigError, Validator};

/// `[dns]` as written.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDns {
    servers: Option<Vec<Spanned<String>>>,
    timeout_ms: Option<Spanned<u64>>,
}

/// Validates `[dns]`: servers are IP addresses, port 53 unless given.
pub(super) fn validate(v: &Validator, raw: &RawDns) -> Result<DnsSpec, ConfigError> {
    let servers = match &raw.servers {
        None => Vec::new(),
        Some(list) => list
            .iter()
            .map(|s| {
                let text = s.get_ref();
                text.parse::<SocketAddr>()
                    .or_else(|_| text.parse::<IpAddr>().map(|ip| SocketAddr::new(ip, 53)))
                    .map_err(|_| v.at(s, "dns.servers", format!("{text:?} is not an IP address (with an optional port), for example \"192.0.2.53\" or \"127.0.0.1:5353\"")))
            })
            .collect::<Result<_, _>>()?,
    };
    Ok(DnsSpec {
        servers,
        timeout: Duration::from_millis(v.range_u64(
            &raw.timeout_ms,
            "dns.timeout_ms",
            10,
            60_000,
            3000,
        )?),
    })
}
