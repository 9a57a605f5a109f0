//! `[hosts.NAME]`: the acquirer hosts the terminals use — address and port,
//! TLS (server name, `ca_file`), an application-level exchange, the ISO 8583
//! echo, and probe settings over `[defaults]`.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use posdiag_engine::model::{EchoSpec, ExchangeSpec, HostSpec, TlsSpec};
use serde::Deserialize;
use toml::Spanned;

use super::defaults::{self, Defaults, RawProbe};
use super::{ConfigError, Validator};

/// A host as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHost {
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

/// Validates every `[hosts.NAME]`, by name; relative `ca_file`s are taken
/// from `base`.
pub(super) fn validate(
    v: &Validator,
    raw: &BTreeMap<String, RawHost>,
    defaults: &Defaults,
    base: &Path,
) -> Result<BTreeMap<String, Arc<HostSpec>>, ConfigError> {
    let mut hosts = BTreeMap::new();
    for (name, h) in raw {
        hosts.insert(name.clone(), Arc::new(host(v, name, h, defaults, base)?));
    }
    Ok(hosts)
}

fn host(
    v: &Validator,
    name: &str,
    h: &RawHost,
    defaults: &Defaults,
    base: &Path,
) -> Result<HostSpec, ConfigError> {
    let key = |k: &str| format!("hosts.{name}.{k}");
    if !super::is_plain_name(name) {
        return Err(v.at(
            &h.address,
            &format!("hosts.{name}"),
            "host names may use only letters, digits, '.', '_' and '-'",
        ));
    }
    let address = h.address.get_ref().trim();
    if address.is_empty() || address.contains(char::is_whitespace) || address.contains('/') {
        return Err(v.at(
            &h.address,
            &key("address"),
            format!("{address:?} is not a host name or IP address"),
        ));
    }
    if *h.port.get_ref() == 0 {
        return Err(v.at(&h.port, &key("port"), "must be between 1 and 65535"));
    }
    if let Some(s) = &h.probe.check_interval_s {
        return Err(v.err(
            Some(s.span()),
            &key("probe.check_interval_s"),
            "is set per terminal (or in [defaults]), not per host",
        ));
    }
    let (probe, thresholds) = defaults::probe(
        v,
        &h.probe,
        &key("probe"),
        (defaults.probe, defaults.thresholds),
    )?;
    let tls = match &h.tls {
        None => None,
        Some(t) => Some(tls(v, t, &key("tls"), base)?),
    };
    let exchange = match &h.exchange {
        None => None,
        Some(x) => Some(exchange(v, x, &key("exchange"))?),
    };
    let echo = match &h.iso8583 {
        None => None,
        Some(e) => Some(echo(v, e, &key("iso8583"))?),
    };
    Ok(HostSpec {
        name: name.to_owned(),
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
    })
}

fn echo(v: &Validator, e: &RawEcho, table: &str) -> Result<EchoSpec, ConfigError> {
    const DIALECTS: [&str; 4] = ["ascii", "binary", "ascii-1993", "cup"];
    if !DIALECTS.contains(&e.dialect.get_ref().as_str()) {
        return Err(v.at(
            &e.dialect,
            &format!("{table}.dialect"),
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
        let n = v.range_u32(&Some(c.clone()), &format!("{table}.count"), 1, 100, 5)?;
        args.insert("count".to_owned(), n.to_string());
    }
    for (k, value) in [
        ("tpdu", &e.tpdu),
        ("terminal_id", &e.terminal_id),
        ("merchant_id", &e.merchant_id),
    ] {
        if let Some(value) = value {
            args.insert(k.to_owned(), value.clone());
        }
    }
    Ok(EchoSpec { args })
}

fn tls(v: &Validator, t: &RawTls, table: &str, base: &Path) -> Result<TlsSpec, ConfigError> {
    let mut spec = TlsSpec {
        server_name: t.server_name.as_ref().map(|s| s.get_ref().clone()),
        ca_certs: Vec::new(),
    };
    if let Some(f) = &t.ca_file {
        let path = base.join(f.get_ref());
        let key = format!("{table}.ca_file");
        let pem = posdiag_fs::read_bounded(&path, posdiag_fs::CERTIFICATES).map_err(|e| {
            v.at(
                f,
                &key,
                format!("{} {e}", posdiag_core::quote(&path.display().to_string())),
            )
        })?;
        spec.ca_certs = pem_certificates(&pem).map_err(|problem| {
            v.at(
                f,
                &key,
                format!(
                    "{} holds a malformed PEM certificate: {problem}",
                    path.display()
                ),
            )
        })?;
        if spec.ca_certs.is_empty() {
            return Err(v.at(
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

/// The DER certificates in a PEM file (other sections, such as keys, are
/// passed over), or what is wrong with a malformed one.
pub(super) fn pem_certificates(pem: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::{Error, PemObject};
    CertificateDer::pem_slice_iter(pem)
        .map(|c| c.map(|c| c.to_vec()))
        .collect::<Result<_, _>>()
        .map_err(|e| match e {
            Error::MissingSectionEnd { .. } => {
                "a -----BEGIN line has no matching -----END line".to_owned()
            }
            Error::IllegalSectionStart { .. } => "a -----BEGIN line is malformed".to_owned(),
            Error::Base64Decode(_) => {
                "a section is not valid base64; expected the certificate as exported (openssl x509 -outform PEM)".to_owned()
            }
            other => other.to_string(),
        })
}

fn exchange(
    v: &Validator,
    spanned: &Spanned<RawExchange>,
    table: &str,
) -> Result<ExchangeSpec, ConfigError> {
    let x = spanned.get_ref();
    let bytes = |text: &Option<Spanned<String>>,
                 hex: &Option<Spanned<String>>,
                 name: &str|
     -> Result<Option<Vec<u8>>, ConfigError> {
        match (text, hex) {
            (Some(t), Some(_)) => Err(v.at(
                t,
                &format!("{table}.{name}"),
                format!("set either {name} or {name}_hex, not both"),
            )),
            (Some(t), None) => Ok(Some(t.get_ref().as_bytes().to_vec())),
            (None, Some(h)) => decode_hex(h.get_ref())
                .map(Some)
                .map_err(|m| v.at(h, &format!("{table}.{name}_hex"), m)),
            (None, None) => Ok(None),
        }
    };
    let send = bytes(&x.send, &x.send_hex, "send")?;
    let expect = bytes(&x.expect, &x.expect_hex, "expect")?;
    match (send, expect) {
        (Some(send), Some(expect)) if !send.is_empty() && !expect.is_empty() => {
            Ok(ExchangeSpec { send, expect })
        }
        _ => Err(v.at(
            spanned,
            table,
            "needs both a non-empty send (or send_hex) and a non-empty expect (or expect_hex)",
        )),
    }
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
