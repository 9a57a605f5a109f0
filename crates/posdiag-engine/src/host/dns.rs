//! `host.dns`: resolve the host name, timing it and naming why it failed
//! (NXDOMAIN, no records, SERVFAIL, refused, timeout).

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use hickory_resolver::config::{NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::{Resolver, TokioResolver};
use posdiag_core::Reason;

use crate::model::DnsSpec;

/// The answer of one resolution.
#[derive(Debug)]
pub(crate) struct Resolved {
    pub addrs: Vec<IpAddr>,
    pub elapsed: Duration,
}

/// Why a resolution failed, with what the resolver said.
#[derive(Debug)]
pub(crate) struct DnsFailure {
    pub reason: Reason,
    pub detail: String,
    pub elapsed: Duration,
}

fn build_resolver(spec: &DnsSpec) -> Result<TokioResolver, NetError> {
    let mut builder = if spec.servers.is_empty() {
        Resolver::builder_tokio()?
    } else {
        let servers = spec
            .servers
            .iter()
            .map(|s| {
                let mut ns = NameServerConfig::udp_and_tcp(s.ip());
                for c in &mut ns.connections {
                    c.port = s.port();
                }
                ns
            })
            .collect();
        Resolver::builder_with_config(
            ResolverConfig::from_name_servers(servers),
            TokioRuntimeProvider::default(),
        )
    };
    let opts = builder.options_mut();
    // A diagnosis must see the network as it is now, not a cached answer.
    opts.cache_size = 0;
    opts.timeout = spec.timeout;
    opts.attempts = 1;
    builder.build()
}

/// Resolves `host` within `spec.timeout` (plus a little slack for the
/// resolver's own retries: the outer deadline is what always holds).
pub(crate) async fn resolve(host: &str, spec: &DnsSpec) -> Result<Resolved, DnsFailure> {
    let started = Instant::now();
    let fail = |reason, detail: String| DnsFailure {
        reason,
        detail,
        elapsed: started.elapsed(),
    };
    let resolver = build_resolver(spec).map_err(|e| {
        fail(
            Reason::DnsError,
            format!("no usable resolver configuration: {e}"),
        )
    })?;
    // A trailing dot stops search-domain expansion: the configured name is
    // what the terminal asks for.
    let fqdn = if host.ends_with('.') {
        host.to_owned()
    } else {
        format!("{host}.")
    };
    let lookup = tokio::time::timeout(spec.timeout, resolver.lookup_ip(fqdn.as_str())).await;
    match lookup {
        Err(_) => Err(fail(
            Reason::DnsTimeout,
            format!("no answer within {} ms", spec.timeout.as_millis()),
        )),
        Ok(Err(e)) => {
            let (reason, detail) = classify(&e);
            Err(fail(reason, detail))
        }
        Ok(Ok(answer)) => {
            let addrs: Vec<IpAddr> = answer.iter().collect();
            if addrs.is_empty() {
                Err(fail(
                    Reason::DnsNoData,
                    "the name has no A or AAAA records".into(),
                ))
            } else {
                Ok(Resolved {
                    addrs,
                    elapsed: started.elapsed(),
                })
            }
        }
    }
}

fn classify(e: &NetError) -> (Reason, String) {
    match e {
        NetError::Dns(DnsError::NoRecordsFound(nr))
            if nr.response_code == ResponseCode::NXDomain =>
        {
            (
                Reason::DnsNxdomain,
                "the name server answered NXDOMAIN".into(),
            )
        }
        NetError::Dns(DnsError::NoRecordsFound(_)) => (
            Reason::DnsNoData,
            "the name exists but has no A or AAAA records".into(),
        ),
        NetError::Dns(DnsError::ResponseCode(ResponseCode::ServFail)) => (
            Reason::DnsServfail,
            "the name server answered SERVFAIL".into(),
        ),
        NetError::Dns(DnsError::ResponseCode(ResponseCode::Refused)) => (
            Reason::DnsRefused,
            "the name server answered REFUSED".into(),
        ),
        NetError::Dns(DnsError::ResponseCode(code)) => {
            (Reason::DnsError, format!("the name server answered {code}"))
        }
        NetError::Timeout => (
            Reason::DnsTimeout,
            "the name server did not answer in time".into(),
        ),
        other => (Reason::DnsError, other.to_string()),
    }
}

/// The address to connect to: an IP literal as is, otherwise the first
/// resolved address.
pub(crate) fn literal(host: &str) -> Option<IpAddr> {
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()
}

/// Most addresses tried per connection attempt.
const MAX_ADDRESSES: usize = 3;

/// The addresses to try, IPv4 first (acquirer networks are overwhelmingly
/// IPv4, and many hosts publish AAAA records they do not serve), at most
/// [`MAX_ADDRESSES`], never empty when `ips` is not.
pub(crate) fn connect_order(ips: &[IpAddr], port: u16) -> Vec<SocketAddr> {
    let mut v: Vec<SocketAddr> = ips.iter().map(|ip| SocketAddr::new(*ip, port)).collect();
    v.sort_by_key(|a| a.is_ipv6());
    v.truncate(MAX_ADDRESSES);
    v
}
